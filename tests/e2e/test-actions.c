/* test-actions.c - the account actions of issue #5 (onboarding) driven
 * through the plugin's PurplePluginInfo.actions, inside libpurple, against
 * the test server (suite e2e).
 *
 * The harness records only notify_message; this program installs its own
 * notify ops (message + formatted) and request ops that record each
 * purple_request_action prompt and leave it pending, so a test decides
 * which choice to take, and can check what was shown before it did. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "testserver.h"

#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"
#define TOPIC "general"

static RdtTestServer *server;

/* ---- recording UI ops ---- */

typedef struct {
  gchar *title;
  gchar *primary;
  gchar *text;        /* secondary or formatted body */
} Shown;

static GPtrArray *shown;   /* of Shown, every notify */

typedef struct {
  gchar *title;
  gchar *primary;
  gchar *secondary;
  gint default_action;
  gpointer user_data;
  GPtrArray *labels;   /* of gchar* */
  GPtrArray *cbs;      /* of PurpleRequestActionCb */
  gboolean open;
} Prompt;

static Prompt *pending;    /* the last prompt, until answered or closed */

static void
shown_free (gpointer p)
{
  Shown *s = p;

  g_free (s->title);
  g_free (s->primary);
  g_free (s->text);
  g_free (s);
}

static void *
record_notify (const char *title, const char *primary, const char *text)
{
  Shown *s = g_new0 (Shown, 1);

  s->title = g_strdup (title);
  s->primary = g_strdup (primary);
  s->text = g_strdup (text);
  g_ptr_array_add (shown, s);
  return NULL;
}

static void *
notify_message (PurpleNotifyMsgType type, const char *title,
                const char *primary, const char *secondary)
{
  return record_notify (title, primary, secondary);
}

static void *
notify_formatted (const char *title, const char *primary,
                  const char *secondary, const char *text)
{
  return record_notify (title, primary, text);
}

static PurpleNotifyUiOps notify_ops = {
  .notify_message = notify_message,
  .notify_formatted = notify_formatted,
};

static void
prompt_free (Prompt *p)
{
  if (p == NULL)
    return;
  g_free (p->title);
  g_free (p->primary);
  g_free (p->secondary);
  g_ptr_array_free (p->labels, TRUE);
  g_ptr_array_free (p->cbs, TRUE);
  g_free (p);
}

static void *
request_action (const char *title, const char *primary, const char *secondary,
                int default_action, PurpleAccount *account, const char *who,
                PurpleConversation *conv, void *user_data, size_t action_count,
                va_list actions)
{
  Prompt *p = g_new0 (Prompt, 1);

  g_assert_null (pending);   /* one prompt at a time in these tests */
  p->title = g_strdup (title);
  p->primary = g_strdup (primary);
  p->secondary = g_strdup (secondary);
  p->default_action = default_action;
  p->user_data = user_data;
  p->labels = g_ptr_array_new_with_free_func (g_free);
  p->cbs = g_ptr_array_new ();
  p->open = TRUE;
  for (size_t i = 0; i < action_count; i++)
    {
      g_ptr_array_add (p->labels, g_strdup (va_arg (actions, const char *)));
      g_ptr_array_add (p->cbs, va_arg (actions, gpointer));
    }
  pending = p;
  return p;
}

static void
close_request (PurpleRequestType type, void *ui_handle)
{
  Prompt *p = ui_handle;

  /* answered prompts were taken off `pending` before purple closes them */
  if (p == pending)
    pending = NULL;
  prompt_free (p);
}

static PurpleRequestUiOps request_ops = {
  .request_action = request_action,
  .close_request = close_request,
};

/* Answers the pending prompt with the choice whose label contains `label`,
 * as a UI would: callback, then close. */
static void
answer (const gchar *label)
{
  Prompt *p = pending;
  gint choice = -1;

  g_assert_nonnull (p);
  for (guint i = 0; i < p->labels->len; i++)
    {
      /* labels carry mnemonics: "C_reate" */
      gchar **parts = g_strsplit (p->labels->pdata[i], "_", -1);
      gchar *plain = g_strjoinv ("", parts);

      if (strstr (plain, label) != NULL)
        choice = (gint) i;
      g_free (plain);
      g_strfreev (parts);
    }
  g_assert_cmpint (choice, >=, 0);
  pending = NULL;
  ((PurpleRequestActionCb) p->cbs->pdata[choice]) (p->user_data, choice);
  purple_request_close (PURPLE_REQUEST_ACTION, p);
}

static const gchar *
label_of_default (Prompt *p)
{
  g_assert_cmpint (p->default_action, >=, 0);
  g_assert_cmpint (p->default_action, <, (gint) p->labels->len);
  return p->labels->pdata[p->default_action];
}

/* How many notifies so far contain `needle` in their body. */
static guint
shown_count (const gchar *needle)
{
  guint n = 0;

  for (guint i = 0; i < shown->len; i++)
    {
      Shown *s = shown->pdata[i];

      if ((s->text && strstr (s->text, needle)) ||
          (s->primary && strstr (s->primary, needle)))
        n++;
    }
  return n;
}

/* ---- accounts ---- */

typedef struct {
  gchar *space_id;
  gchar *seed_hex;
  gchar *uid;
} Owner;

static Owner *
owner_new (void)
{
  RdtSigningKey *key = rdt_signing_key_generate ();
  Owner *o = g_new0 (Owner, 1);

  o->space_id = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  o->uid = rdt_signing_key_get_id (key, RDT_ID_USER);
  o->seed_hex = harness_seed_hex (key);
  rdt_signing_key_free (key);
  return o;
}

static void
owner_free (Owner *o)
{
  g_free (o->space_id);
  g_free (o->seed_hex);
  g_free (o->uid);
  g_free (o);
}

static PurpleAccount *
login (Owner *o, const gchar *local, const gchar *root)
{
  gchar *user = g_strconcat (local, "@", o->space_id, NULL);
  PurpleAccount *a = harness_account_new (user, o->seed_hex,
                                          rdt_test_server_get_url (server),
                                          root);

  g_free (user);
  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "account to connect");
  return a;
}

static void
account_done (PurpleAccount *a)
{
  purple_account_set_enabled (a, "rdt-e2e", FALSE);
  if (!purple_account_is_disconnected (a))
    purple_account_disconnect (a);
}

/* Runs the plugin action whose label contains `label`, as a UI menu would
 * (context = the connection). */
static void
run_action (PurpleAccount *a, const gchar *label)
{
  PurpleConnection *gc = purple_account_get_connection (a);
  PurplePlugin *plugin = purple_find_prpl ("prpl-reeeductio");
  GList *actions, *l;
  gboolean found = FALSE;

  g_assert_nonnull (gc);
  g_assert_nonnull (plugin);
  g_assert_nonnull (plugin->info->actions);
  actions = plugin->info->actions (plugin, gc);
  for (l = actions; l != NULL; l = l->next)
    {
      PurplePluginAction *act = l->data;

      if (!found && strstr (act->label, label) != NULL)
        {
          act->plugin = plugin;
          act->context = gc;
          act->callback (act);
          found = TRUE;
        }
      purple_plugin_action_free (act);
    }
  g_list_free (actions);
  g_assert_true (found);
}

/* ---- tests ---- */

static void
test_list (void)
{
  PurplePlugin *plugin = purple_find_prpl ("prpl-reeeductio");
  GList *actions;

  g_assert_nonnull (plugin);
  g_assert_nonnull (plugin->info->actions);
  actions = plugin->info->actions (plugin, NULL);
  /* member id, export, display name, invite, add member, join, new space
   * (the membership ones are exercised in test-members.c) */
  g_assert_cmpuint (g_list_length (actions), ==, 7);
  g_list_free_full (actions, (GDestroyNotify) purple_plugin_action_free);
}

static void
test_show_member_id (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice", ZERO_KEY);
  guint before = shown->len;
  Shown *s;

  run_action (a, "member ID");
  g_assert_cmpuint (shown->len, ==, before + 1);
  s = shown->pdata[shown->len - 1];
  g_test_message ("shown: %s", s->text);
  /* the owner logs in with the space key: its U id is that key's */
  g_assert_nonnull (strstr (s->text, o->uid));
  g_assert_nonnull (strstr (s->text, o->space_id));
  g_assert_nonnull (strstr (s->text, "admin"));
  /* public ids only, never the seed */
  g_assert_null (strstr (s->text, o->seed_hex));
  g_assert_null (pending);
  account_done (a);
  owner_free (o);
}

static void
test_export (void)
{
  Owner *o = owner_new ();
  const gchar *root = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  PurpleAccount *a = login (o, "alice", root);
  guint before = shown->len;
  Shown *s;

  /* asked first, nothing shown; cancel shows nothing */
  run_action (a, "Export");
  g_assert_nonnull (pending);
  g_assert_nonnull (strstr (pending->secondary, "private key"));
  g_assert_nonnull (strstr (label_of_default (pending), "Cancel"));
  g_assert_cmpuint (shown->len, ==, before);
  answer ("Cancel");
  g_assert_cmpuint (shown->len, ==, before);
  g_assert_cmpuint (shown_count (o->seed_hex), ==, 0);

  /* confirmed: everything needed to set the account up elsewhere */
  run_action (a, "Export");
  g_assert_cmpuint (shown->len, ==, before);
  answer ("Show");
  g_assert_cmpuint (shown->len, ==, before + 1);
  s = shown->pdata[shown->len - 1];
  g_assert_nonnull (strstr (s->text, o->seed_hex));
  g_assert_nonnull (strstr (s->text, root));
  g_assert_nonnull (strstr (s->text, o->space_id));
  g_assert_nonnull (strstr (s->text, rdt_test_server_get_url (server)));
  account_done (a);
  owner_free (o);
}

typedef struct {
  PurpleAccount *a;
  const gchar *old_user;
} Switched;

static gboolean
switched_and_connected (gpointer data)
{
  Switched *w = data;

  return g_strcmp0 (purple_account_get_username (w->a), w->old_user) != 0 &&
         harness_connect_attempts (w->a) >= 1 &&
         purple_account_is_connected (w->a);
}

static void
test_create_space (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice", ZERO_KEY);
  gchar *old_user = g_strdup (purple_account_get_username (a));
  Switched w = { a, old_user };
  const gchar *user, *at;
  gchar *space, *owner_uid;
  guint before;
  GHashTable *c;
  PurpleConversation *conv;

  /* cancel changes nothing */
  run_action (a, "new space");
  g_assert_nonnull (pending);
  g_assert_nonnull (strstr (label_of_default (pending), "Cancel"));
  answer ("Cancel");
  g_assert_cmpstr (purple_account_get_username (a), ==, old_user);
  g_assert_cmpstr (purple_account_get_password (a), ==, o->seed_hex);

  run_action (a, "new space");
  g_assert_nonnull (pending);
  answer ("Create");
  harness_wait (switched_and_connected, &w, 30,
                "reconnect as owner of the new space");

  user = purple_account_get_username (a);
  at = strrchr (user, '@');
  g_assert_nonnull (at);
  g_assert_cmpint (at - user, ==, 5);
  g_assert_true (strncmp (user, "alice@", 6) == 0);
  space = g_strdup (at + 1);
  g_assert_true (rdt_id_is_valid (space, RDT_ID_SPACE));
  g_assert_cmpstr (space, !=, o->space_id);
  /* new key and root, both valid 32-byte keys */
  {
    guint8 k[32];
    g_assert_true (rdt_parse_key32 (purple_account_get_password (a), k, NULL));
    g_assert_true (rdt_parse_key32 (purple_account_get_string (a, "symmetric_root", ""),
                                    k, NULL));
    rdt_wipe (k, sizeof k);
  }
  g_assert_cmpstr (purple_account_get_password (a), !=, o->seed_hex);
  g_assert_cmpstr (purple_account_get_string (a, "symmetric_root", ""), !=, ZERO_KEY);
  g_assert_cmpuint (harness_connect_attempts (a), ==, 1);

  /* we are the space key's user: the owner */
  owner_uid = rdt_id_convert (space, RDT_ID_USER);
  before = shown->len;
  run_action (a, "member ID");
  g_assert_cmpuint (shown->len, ==, before + 1);
  g_assert_nonnull (strstr (((Shown *) shown->pdata[before])->text, owner_uid));

  /* and can write in a topic of the new space: echoed once */
  c = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (c, "topic", TOPIC);
  serv_join_chat (purple_account_get_connection (a), c);
  g_hash_table_destroy (c);
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, TOPIC, a);
  g_assert_nonnull (conv);
  purple_conv_chat_send (PURPLE_CONV_CHAT (conv), "hello new space");
  harness_wait_line (a, "hello new space", PURPLE_MESSAGE_SEND);
  /* a second message after it: the first's echo has come by then (one
   * chain, in order) */
  purple_conv_chat_send (PURPLE_CONV_CHAT (conv), "second");
  harness_wait_line (a, "second", PURPLE_MESSAGE_SEND);
  g_assert_cmpuint (harness_count_exact (a, "hello new space"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "second"), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "not sent", PURPLE_MESSAGE_ERROR),
                    ==, 0);

  g_free (owner_uid);
  g_free (space);
  g_free (old_user);
  account_done (a);
  owner_free (o);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  harness_init ();
  /* after harness_init: ours replace the harness's notify ops */
  shown = g_ptr_array_new_with_free_func (shown_free);
  purple_notify_set_ui_ops (&notify_ops);
  purple_request_set_ui_ops (&request_ops);
  server = rdt_test_server_start (NULL);

  g_test_add_func ("/actions/list", test_list);
  g_test_add_func ("/actions/show-member-id", test_show_member_id);
  g_test_add_func ("/actions/export", test_export);
  g_test_add_func ("/actions/create-space", test_create_space);
  ret = g_test_run ();
  rdt_test_server_stop (server);
  purple_core_quit ();
  g_ptr_array_free (shown, TRUE);
  return ret;
}
