/* SPDX-License-Identifier: GPL-2.0-or-later */
/* harness.c - see harness.h */
#include "harness.h"
#include "encoding.h"

#include <glib/gstdio.h>
#include <string.h>

#define UI_ID "rdt-e2e"

static GPtrArray *lines;
static GPtrArray *errors;
static GPtrArray *notifies;
static GPtrArray *user_adds;
static GHashTable *attempts;   /* username -> GUINT count */
static GString *debug_log;     /* libpurple's debug log, one entry a line */

/* ---- event loop on GLib ---- */

typedef struct {
  PurpleInputFunction func;
  gpointer data;
} InputClosure;

static gboolean
input_cb (GIOChannel *source, GIOCondition cond, gpointer data)
{
  InputClosure *c = data;
  int fd = g_io_channel_unix_get_fd (source);
  PurpleInputCondition pc = 0;

  if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    pc |= PURPLE_INPUT_READ;
  if (cond & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
    pc |= PURPLE_INPUT_WRITE;
  c->func (c->data, fd, pc);
  return TRUE;
}

static guint
input_add (gint fd, PurpleInputCondition cond, PurpleInputFunction func,
           gpointer data)
{
  InputClosure *c = g_new0 (InputClosure, 1);
  GIOChannel *ch = g_io_channel_unix_new (fd);
  GIOCondition gc = 0;
  guint id;

  c->func = func;
  c->data = data;
  if (cond & PURPLE_INPUT_READ)
    gc |= G_IO_IN | G_IO_HUP | G_IO_ERR;
  if (cond & PURPLE_INPUT_WRITE)
    gc |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
  id = g_io_add_watch_full (ch, G_PRIORITY_DEFAULT, gc, input_cb, c, g_free);
  g_io_channel_unref (ch);
  return id;
}

static PurpleEventLoopUiOps eventloop_ops = {
  .timeout_add = g_timeout_add,
  .timeout_remove = g_source_remove,
  .input_add = input_add,
  .input_remove = g_source_remove,
  .timeout_add_seconds = g_timeout_add_seconds,
};

/* ---- conversation and connection capture ---- */

static void
record (PurpleConversation *conv, const char *who, const char *alias,
        const char *message, PurpleMessageFlags flags, time_t mtime)
{
  HarnessLine *l = g_new0 (HarnessLine, 1);

  l->conv = g_strdup (purple_conversation_get_name (conv));
  l->account = g_strdup (purple_account_get_username (
      purple_conversation_get_account (conv)));
  l->who = g_strdup (who);
  l->alias = g_strdup (alias);
  l->text = g_strdup (message);
  l->flags = flags;
  l->mtime = mtime;
  l->written_us = g_get_monotonic_time ();
  g_test_message ("[%s/%s] <%s|%s> %s (flags 0x%x)", l->account, l->conv,
                  who ? who : "*", alias ? alias : "*", message, flags);
  g_ptr_array_add (lines, l);
}

/* As Pidgin and Finch do: a chat line goes through libpurple's common
 * path, which picks the alias shown (ours: the connection's display
 * name) and logs it. */
static void
write_chat (PurpleConversation *conv, const char *who, const char *message,
            PurpleMessageFlags flags, time_t mtime)
{
  purple_conversation_write (conv, who, message, flags, mtime);
}

static void
write_conv (PurpleConversation *conv, const char *name, const char *alias,
            const char *message, PurpleMessageFlags flags, time_t mtime)
{
  record (conv, name, alias, message, flags, mtime);
}

static void
chat_add_users (PurpleConversation *conv, GList *cbuddies,
                gboolean new_arrivals)
{
  HarnessUserAdd *a = g_new0 (HarnessUserAdd, 1);
  GStrvBuilder *b = g_strv_builder_new ();
  g_autofree gchar *joined = NULL;

  for (GList *l = cbuddies; l; l = l->next)
    g_strv_builder_add (b, purple_conv_chat_cb_get_name (l->data));
  a->conv = g_strdup (purple_conversation_get_name (conv));
  a->account = g_strdup (purple_account_get_username (
      purple_conversation_get_account (conv)));
  a->users = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  a->new_arrivals = new_arrivals;
  joined = g_strjoinv (", ", a->users);
  g_test_message ("[%s/%s] users added%s: %s", a->account, a->conv,
                  new_arrivals ? " (arrivals)" : "", joined);
  g_ptr_array_add (user_adds, a);
}

static PurpleConversationUiOps conv_ops = {
  .write_chat = write_chat,
  .write_conv = write_conv,
  .chat_add_users = chat_add_users,
};

static void
report_disconnect_reason (PurpleConnection *gc, PurpleConnectionError reason,
                          const char *text)
{
  HarnessError *e = g_new0 (HarnessError, 1);

  e->account = g_strdup (purple_account_get_username (
      purple_connection_get_account (gc)));
  e->reason = reason;
  e->text = g_strdup (text);
  g_test_message ("connection error for %s: %d %s", e->account, reason, text);
  g_ptr_array_add (errors, e);
}

static PurpleConnectionUiOps connection_ops = {
  .report_disconnect_reason = report_disconnect_reason,
};

static void *
notify_message (PurpleNotifyMsgType type, const char *title,
                const char *primary, const char *secondary)
{
  HarnessNotify *n = g_new0 (HarnessNotify, 1);

  n->type = type;
  n->title = g_strdup (title);
  n->primary = g_strdup (primary);
  n->text = g_strdup (secondary);
  g_test_message ("notify %d: %s: %s", type, title, primary);
  g_ptr_array_add (notifies, n);
  return NULL;
}

static void *
notify_formatted (const char *title, const char *primary,
                  const char *secondary, const char *text)
{
  return notify_message (PURPLE_NOTIFY_MSG_INFO, title, primary, text);
}

static void *
notify_userinfo (PurpleConnection *gc, const char *who,
                 PurpleNotifyUserInfo *info)
{
  gchar *text = purple_notify_user_info_get_text_with_newline (info, "\n");
  void *r = notify_message (PURPLE_NOTIFY_MSG_INFO, "userinfo", who, text);

  g_free (text);
  return r;
}

static PurpleNotifyUiOps notify_ops = {
  .notify_message = notify_message,
  .notify_formatted = notify_formatted,
  .notify_userinfo = notify_userinfo,
};

HarnessNotify *
harness_find_notify (const gchar *needle)
{
  for (guint i = notifies->len; i > 0; i--)
    {
      HarnessNotify *n = notifies->pdata[i - 1];

      if ((n->title && strstr (n->title, needle)) ||
          (n->primary && strstr (n->primary, needle)) ||
          (n->text && strstr (n->text, needle)))
        return n;
    }
  return NULL;
}

static void
account_connecting (PurpleAccount *account, gpointer data)
{
  const gchar *user = purple_account_get_username (account);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (attempts, user));

  g_hash_table_replace (attempts, g_strdup (user), GUINT_TO_POINTER (n + 1));
}

static void
ui_init (void)
{
  static int handle;

  purple_conversations_set_ui_ops (&conv_ops);
  purple_connections_set_ui_ops (&connection_ops);
  purple_notify_set_ui_ops (&notify_ops);
  purple_signal_connect (purple_accounts_get_handle (), "account-connecting",
                         &handle, PURPLE_CALLBACK (account_connecting), NULL);
}

/* libpurple's debug log as a UI sees it ("LEVEL category: text"), so tests
 * can check what the plugin writes there. */
static void
debug_print (PurpleDebugLevel level, const char *category, const char *arg_s)
{
  static const gchar *names[] = { "ALL", "MISC", "INFO", "WARNING", "ERROR",
                                  "FATAL" };

  g_string_append_printf (debug_log, "%s %s: %s",
                          level < G_N_ELEMENTS (names) ? names[level] : "?",
                          category ? category : "", arg_s);
  if (debug_log->len > 0 && debug_log->str[debug_log->len - 1] != '\n')
    g_string_append_c (debug_log, '\n');
  if (g_getenv ("RDT_HARNESS_DEBUG"))
    g_printerr ("%s %s: %s%s", level < G_N_ELEMENTS (names) ? names[level] : "?",
                category ? category : "", arg_s,
                g_str_has_suffix (arg_s, "\n") ? "" : "\n");
}

static gboolean
debug_is_enabled (PurpleDebugLevel level, const char *category)
{
  return TRUE;
}

static PurpleDebugUiOps debug_ops = {
  .print = debug_print,
  .is_enabled = debug_is_enabled,
};

const gchar *harness_debug_log (void) { return debug_log->str; }

static PurpleCoreUiOps core_ops = {
  .ui_init = ui_init,
};

void
harness_init (void)
{
  const gchar *plugin_dir = g_getenv ("RDT_PLUGIN_DIR");
  gchar *home;

  /* Never the keyring of the user running the tests: only a test that
   * starts a private one (RDT_TEST_KEYRING=1, tests/keystore/run.sh) may
   * reach a Secret Service. */
  if (g_strcmp0 (g_getenv ("RDT_TEST_KEYRING"), "1") != 0)
    g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
  lines = g_ptr_array_new ();
  errors = g_ptr_array_new ();
  notifies = g_ptr_array_new ();
  user_adds = g_ptr_array_new ();
  attempts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_assert_nonnull (plugin_dir);
  home = g_dir_make_tmp ("rdt-e2e-XXXXXX", NULL);
  g_assert_nonnull (home);
  purple_util_set_user_dir (home);
  purple_debug_set_enabled (g_getenv ("RDT_E2E_DEBUG") != NULL);
  debug_log = g_string_new (NULL);
  purple_debug_set_ui_ops (&debug_ops);
  purple_core_set_ui_ops (&core_ops);
  purple_eventloop_set_ui_ops (&eventloop_ops);
  purple_plugins_add_search_path (plugin_dir);
  g_assert_true (purple_core_init (UI_ID));
  purple_set_blist (purple_blist_new ());
  purple_blist_load ();
  purple_prefs_load ();
  /* the temp home is left for inspection only if a test fails; it holds
   * test keys only */
  g_free (home);
}

GPtrArray *harness_lines (void) { return lines; }
GPtrArray *harness_errors (void) { return errors; }
GPtrArray *harness_notifies (void) { return notifies; }
GPtrArray *harness_user_adds (void) { return user_adds; }

guint
harness_connect_attempts (PurpleAccount *account)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (attempts,
      purple_account_get_username (account)));
}

guint
harness_count_lines (PurpleAccount *account, const gchar *text,
                     PurpleMessageFlags must_have)
{
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (account && g_strcmp0 (l->account,
                                purple_account_get_username (account)) != 0)
        continue;
      /* error/system lines only count when asked for: "message not sent:
       * <text>" must never pass for the message itself */
      if ((l->flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) &&
          !(must_have & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)))
        continue;
      if (strstr (l->text, text) && (l->flags & must_have) == must_have)
        n++;
    }
  return n;
}

gchar *
harness_seed_hex (const RdtSigningKey *key)
{
  guint8 seed[RDT_SEED_LENGTH];
  gchar *hex;

  rdt_signing_key_copy_seed (key, seed);
  hex = rdt_hex_encode (seed, sizeof seed);
  rdt_wipe (seed, sizeof seed);
  return hex;
}

guint
harness_count_exact (PurpleAccount *account, const gchar *text)
{
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (account)) == 0 &&
          !(l->flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) &&
          g_strcmp0 (l->text, text) == 0)
        n++;
    }
  return n;
}

static gboolean
timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
harness_wait (gboolean (*cond) (gpointer), gpointer data, guint timeout_s,
              const gchar *what)
{
  gboolean expired = FALSE;
  /* Under valgrind everything is ~20x slower: tests/valgrind/run.sh sets
   * RDT_TEST_TIMEOUT_SCALE so the deadlines stay deadlines, not races. */
  const gchar *scale_env = g_getenv ("RDT_TEST_TIMEOUT_SCALE");
  guint scale = scale_env ? (guint) CLAMP (g_ascii_strtoull (scale_env, NULL, 10), 1, 100) : 1;
  guint id;

  timeout_s *= scale;
  id = g_timeout_add_seconds (timeout_s, timed_out, &expired);

  while (!cond (data) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  if (!cond (data))
    g_error ("timed out after %u s waiting for %s", timeout_s, what);
}

PurpleAccount *
harness_account_new (const gchar *username, const gchar *password,
                     const gchar *server, const gchar *root)
{
  PurpleAccount *a = purple_account_new (username, "prpl-reeeductio");

  /* without this, disconnecting forgets the password and the next
   * connect would ask for it */
  purple_account_set_remember_password (a, TRUE);
  purple_account_set_password (a, password);
  if (server)
    purple_account_set_string (a, "server", server);
  purple_account_set_string (a, "symmetric_root", root);
  /* keys stay in accounts.xml, as the tests wrote them (test-keys.c
   * turns this off to test the keyring) */
  purple_account_set_bool (a, "plain_keys", TRUE);
  purple_accounts_add (a);
  return a;
}

void
harness_async_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  ((HarnessAsync *) data)->result = g_object_ref (result);
}

gboolean
harness_async_done (gpointer data)
{
  return ((HarnessAsync *) data)->result != NULL;
}

gboolean
harness_account_connected (gpointer account)
{
  return purple_account_is_connected (account);
}

gboolean
harness_account_disconnected (gpointer account)
{
  return purple_account_is_disconnected (account) &&
         purple_account_get_connection (account) == NULL;
}

typedef struct {
  PurpleAccount *account;
  const gchar *text;
  PurpleMessageFlags flags;
} LineWait;

static gboolean
line_seen (gpointer data)
{
  LineWait *w = data;

  return harness_count_lines (w->account, w->text, w->flags) > 0;
}

void
harness_wait_line (PurpleAccount *account, const gchar *text,
                   PurpleMessageFlags flags)
{
  LineWait w = { account, text, flags };

  harness_wait (line_seen, &w, 30, text);
}

typedef struct {
  PurpleConvChat *chat;
  const gchar *nick;
} ChatUser;

static gboolean
chat_has_user (gpointer data)
{
  ChatUser *c = data;

  return purple_conv_chat_find_user (c->chat, c->nick);
}

void
harness_wait_chat_user (PurpleConvChat *chat, const gchar *nick,
                        const gchar *what)
{
  ChatUser c = { chat, nick };

  harness_wait (chat_has_user, &c, 30, what);
}

typedef struct {
  PurpleConvChat *chat;
  const gchar * const *nicks;
} ChatUsers;

/* The chat lists exactly these nicks, byte for byte, each once, and
 * libpurple's table agrees with its list. */
static gboolean
chat_users_are (gpointer data)
{
  ChatUsers *u = data;
  GList *users = purple_conv_chat_get_users (u->chat);
  guint n = g_strv_length ((gchar **) u->nicks);

  if (g_list_length (users) != n || g_hash_table_size (u->chat->users) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      guint found = 0;

      for (GList *l = users; l; l = l->next)
        found += g_strcmp0 (purple_conv_chat_cb_get_name (l->data),
                            u->nicks[i]) == 0;
      if (found != 1)
        return FALSE;
    }
  return TRUE;
}

void
harness_wait_chat_users (PurpleConvChat *chat, const gchar * const *nicks,
                         const gchar *what)
{
  ChatUsers u = { chat, nicks };

  for (guint i = 0; nicks[i]; i++)
    g_test_message ("expecting user %s", nicks[i]);
  harness_wait (chat_users_are, &u, 30, what);
}

PurpleConvChat *
harness_join (PurpleAccount *account, const gchar *topic)
{
  GHashTable *c = g_hash_table_new (g_str_hash, g_str_equal);
  PurpleConversation *conv;

  g_hash_table_insert (c, "topic", (gpointer) topic);
  serv_join_chat (purple_account_get_connection (account), c);
  g_hash_table_destroy (c);
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, topic,
                                                account);
  g_assert_nonnull (conv);
  return PURPLE_CONV_CHAT (conv);
}

void
harness_account_connect (PurpleAccount *account)
{
  purple_account_set_enabled (account, UI_ID, TRUE);
  if (purple_account_get_connection (account) == NULL)
    purple_account_connect (account);
}

static gboolean
flag_due (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

void
harness_pause (guint ms, const gchar *what)
{
  gboolean due = FALSE;

  g_timeout_add (ms, flag_due, &due);
  harness_wait (flag_set, &due, 5, what);
}

void
harness_account_done (PurpleAccount *account)
{
  /* disabling disconnects */
  purple_account_set_enabled (account, UI_ID, FALSE);
  if (!purple_account_is_disconnected (account))
    purple_account_disconnect (account);
}

/* See harness.h. */
gchar *
harness_take_invitation (void)
{
  HarnessNotify *window = harness_find_notify ("Invitation created");
  const gchar *text = window ? window->text : NULL;
  g_autofree gchar *dir = g_build_filename (purple_user_dir (), "reeeductio",
                                            NULL);
  g_autofree gchar *path = NULL;
  g_auto (GStrv) wlines = NULL;
  gchar *saved = NULL;
  GStatBuf st;

  g_assert_nonnull (text);
  g_assert_null (strstr (text, "rdt-invite:"));
  wlines = g_strsplit (text, "\n", -1);
  for (guint i = 0; wlines[i] != NULL; i++)
    if (i > 0 && g_str_equal (wlines[i - 1], "File:"))
      path = g_strdup (wlines[i]);
    else
      g_assert_cmpuint (g_utf8_strlen (wlines[i], -1), <=, 72);
  g_assert_nonnull (path);
  g_assert_true (g_str_has_prefix (path, dir));
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &saved, NULL, NULL));
  g_assert_true (g_str_has_prefix (saved, "rdt-invite:1:"));
  g_assert_true (g_str_has_suffix (saved, "\n"));
  saved[strlen (saved) - 1] = '\0';
  return saved;
}
