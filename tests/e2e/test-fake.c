/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-fake.c - the purple layer against a scripted fake session (suite
 * e2e): flags, escaping, warnings, failed sends and /retry, pinned heads,
 * connection states, without a server. */
#include "config.h"

#include <string.h>
#include <gmodule.h>

#include "harness.h"
#include "crypto.h"
#include "id.h"
#include "session.h"

#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"
#define SEED "0101010101010101010101010101010101010101010101010101010101010101"

static void (*fake_message) (const gchar *, const gchar *, const gchar *,
                             gint64, gboolean, gboolean);
static void (*fake_warning) (const gchar *, RdtWarningKind, const gchar *);
static void (*fake_state) (RdtSessionState, gboolean, const gchar *);
static void (*fake_head) (const gchar *, const gchar *, gint64);
static const gchar *(*fake_pin) (const gchar *);
static const gchar *(*fake_last_sent) (void);

static PurpleAccount *account;
static PurpleConvChat *chat;
static gchar *space_id, *other_id;

static gboolean
connected (gpointer data)
{
  return purple_account_is_connected (data);
}

static gboolean
gone (gpointer data)
{
  return purple_account_get_connection (data) == NULL;
}

static guint
lines_matching (const gchar *text, PurpleMessageFlags flags, gboolean exact_who,
                const gchar *who)
{
  GPtrArray *ls = harness_lines ();
  guint n = 0;

  for (guint i = 0; i < ls->len; i++)
    {
      HarnessLine *l = ls->pdata[i];
      if (strstr (l->text, text) && (l->flags & flags) == flags &&
          (!exact_who || g_strcmp0 (l->who, who) == 0))
        n++;
    }
  return n;
}

typedef struct {
  const gchar *text;
  PurpleMessageFlags flags;
  guint count;
} Want;

static gboolean
have_lines (gpointer data)
{
  Want *w = data;
  return lines_matching (w->text, w->flags, FALSE, NULL) >= w->count;
}

static void
wait_lines (const gchar *text, PurpleMessageFlags flags, guint count)
{
  Want w = { text, flags, count };
  harness_wait (have_lines, &w, 10, text);
}

static HarnessLine *
last_line (void)
{
  GPtrArray *ls = harness_lines ();
  g_assert_cmpuint (ls->len, >, 0);
  return ls->pdata[ls->len - 1];
}

static void
lookup (const gchar *name, gpointer *out)
{
  PurplePlugin *p = purple_find_prpl ("prpl-reeeductio");
  g_assert_nonnull (p);
  g_assert_true (g_module_symbol (p->handle, name, out));
}

static void
test_connect_join (void)
{
  gchar *user;
  GHashTable *c;
  PurpleConversation *conv;
  gchar *dir;
  PurplePlugin *p = purple_find_prpl ("prpl-reeeductio");

  g_assert_nonnull (p);
  dir = g_path_get_dirname (p->path);
  g_assert_cmpstr (dir, ==, g_getenv ("RDT_PLUGIN_DIR"));
  g_free (dir);
  lookup ("rdt_fake_message", (gpointer *) &fake_message);
  lookup ("rdt_fake_warning", (gpointer *) &fake_warning);
  lookup ("rdt_fake_state", (gpointer *) &fake_state);
  lookup ("rdt_fake_head", (gpointer *) &fake_head);
  lookup ("rdt_fake_pin", (gpointer *) &fake_pin);
  lookup ("rdt_fake_last_sent", (gpointer *) &fake_last_sent);

  user = g_strconcat ("alice@", space_id, NULL);
  account = harness_account_new (user, SEED, NULL, ZERO_KEY);
  purple_account_set_string (account, "head:general", "Mpinned 1234");
  g_free (user);
  harness_account_connect (account);
  harness_wait (connected, account, 10, "connect");

  c = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (c, "topic", "general");
  serv_join_chat (purple_account_get_connection (account), c);
  g_hash_table_insert (c, "topic", "Bad Topic!");
  serv_join_chat (purple_account_get_connection (account), c);
  g_hash_table_destroy (c);
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT,
                                                "general", account);
  g_assert_nonnull (conv);
  chat = PURPLE_CONV_CHAT (conv);
  g_assert_null (purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT,
                                                        "Bad Topic!", account));
  /* the pinned head from the account settings was handed to the session */
  g_assert_cmpstr (fake_pin ("general"), ==, "Mpinned 1234");
}

static void
test_messages (void)
{
  gchar *short_other = rdt_id_short (other_id);
  HarnessLine *l;

  fake_message ("general", other_id, "old one", 1000000, TRUE, FALSE);
  /* backlog comes in a burst, shown folded once it is over (when the
   * topic opens, or the main loop is idle: relations-ui.c) */
  wait_lines ("old one", PURPLE_MESSAGE_DELAYED, 1);
  l = last_line ();
  g_assert_true (l->flags & PURPLE_MESSAGE_DELAYED);
  g_assert_true (l->flags & PURPLE_MESSAGE_RECV);
  g_assert_cmpint (l->mtime, ==, 1000);
  g_assert_cmpstr (l->who, ==, short_other);
  g_assert_true (purple_conv_chat_find_user (chat, short_other));

  fake_message ("general", other_id, "<b>bold</b> & co", 2000000, FALSE, FALSE);
  l = last_line ();
  g_assert_cmpstr (l->text, ==, "&lt;b&gt;bold&lt;/b&gt; &amp; co");
  g_assert_false (l->flags & PURPLE_MESSAGE_DELAYED);
  g_free (short_other);
}

static void
test_send (void)
{
  guint before = lines_matching ("hello there", 0, FALSE, NULL);

  purple_conv_chat_send (chat, "hello <b>there</b>");
  g_assert_cmpstr (fake_last_sent (), ==, "hello there");
  /* no local echo: nothing until the session delivers it */
  g_assert_cmpuint (lines_matching ("hello there", 0, FALSE, NULL), ==, before);
  wait_lines ("hello there", PURPLE_MESSAGE_SEND, before + 1);
  purple_conv_chat_send (chat, "sync marker");
  wait_lines ("sync marker", PURPLE_MESSAGE_SEND, 1);
  g_assert_cmpuint (lines_matching ("hello there", PURPLE_MESSAGE_SEND, FALSE, NULL),
                    ==, before + 1);
  g_assert_cmpuint (lines_matching ("hello there", 0, FALSE, NULL), ==, before + 1);
}

static void
test_send_fail_retry (void)
{
  gchar *err = NULL;
  PurpleCmdStatus st;

  purple_conv_chat_send (chat, "please FAIL");
  wait_lines ("/retry", PURPLE_MESSAGE_ERROR, 1);
  g_assert_cmpuint (lines_matching ("please FAIL", PURPLE_MESSAGE_SEND, FALSE, NULL), ==, 0);
  g_assert_cmpuint (lines_matching ("/retry", PURPLE_MESSAGE_ERROR, FALSE, NULL), ==, 1);
  g_assert_nonnull (strstr (last_line ()->text, "please FAIL"));

  st = purple_cmd_do_command (purple_conv_chat_get_conversation (chat),
                              "retry", "retry", &err);
  g_assert_cmpint (st, ==, PURPLE_CMD_STATUS_OK);
  g_free (err);
  wait_lines ("please FAIL", PURPLE_MESSAGE_SEND, 1);
  g_assert_cmpuint (lines_matching ("please FAIL", PURPLE_MESSAGE_SEND, FALSE, NULL), ==, 1);

  /* nothing left to retry */
  err = NULL;
  st = purple_cmd_do_command (purple_conv_chat_get_conversation (chat),
                              "retry", "retry", &err);
  g_assert_cmpint (st, ==, PURPLE_CMD_STATUS_FAILED);
  g_free (err);

  err = NULL;
  st = purple_cmd_do_command (purple_conv_chat_get_conversation (chat),
                              "chain", "chain", &err);
  g_assert_cmpint (st, ==, PURPLE_CMD_STATUS_OK);
  g_assert_nonnull (strstr (last_line ()->text, "fake chain of general"));
  g_free (err);
}

static void
test_warning (void)
{
  HarnessLine *l;

  fake_warning ("general", RDT_WARNING_VERIFY_FAILED, "bad <sig>");
  l = last_line ();
  g_assert_true (l->flags & PURPLE_MESSAGE_ERROR);
  g_assert_false (l->flags & (PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_SEND));
  g_assert_cmpstr (l->text, ==, "Warning: bad &lt;sig&gt;");
}

static void
test_head_persisted (void)
{
  fake_head ("general", "Mnewhead", 987654321);
  g_assert_cmpstr (purple_account_get_string (account, "head:general", NULL),
                   ==, "Mnewhead 987654321");
}

static void
test_open_error_and_leave (void)
{
  RdtSession *(*cur) (void);
  gboolean (*is_open) (RdtSession *, const gchar *);
  GHashTable *c = g_hash_table_new (g_str_hash, g_str_equal);
  PurpleConversation *conv;

  lookup ("rdt_fake_current", (gpointer *) &cur);
  lookup ("rdt_session_topic_is_open", (gpointer *) &is_open);
  g_hash_table_insert (c, "topic", "broken");
  serv_join_chat (purple_account_get_connection (account), c);
  g_assert_cmpuint (lines_matching ("Could not open topic broken", PURPLE_MESSAGE_ERROR,
                                    FALSE, NULL), ==, 1);
  g_hash_table_insert (c, "topic", "side");
  serv_join_chat (purple_account_get_connection (account), c);
  g_hash_table_destroy (c);
  g_assert_true (is_open (cur (), "side"));
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, "side", account);
  g_assert_nonnull (conv);
  purple_conversation_destroy (conv);
  g_assert_false (is_open (cur (), "side"));
  g_assert_true (is_open (cur (), "general"));
  /* the failed topic's conversation stays, showing the error, until closed */
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, "broken", account);
  g_assert_nonnull (conv);
  purple_conversation_destroy (conv);
}

static void
test_states (void)
{
  PurpleConnection *gc = purple_account_get_connection (account);

  guint *n_now;
  PurpleConversation *conv = purple_find_conversation_with_account (
      PURPLE_CONV_TYPE_CHAT, "general", account);

  lookup ("rdt_fake_n_reconnect_now", (gpointer *) &n_now);
  /* A transient loss: libpurple's connection stays CONNECTED (the chats
   * stay usable); the chats say why and when the next try is, once. */
  fake_state (RDT_SESSION_CONNECTING, FALSE, "server gone");
  g_assert_cmpint (purple_connection_get_state (gc), ==, PURPLE_CONNECTED);
  g_assert_cmpuint (lines_matching ("Connection lost (server gone); next try in 20 s. Type /reconnect",
                                    PURPLE_MESSAGE_SYSTEM, FALSE, NULL), ==, 1);
  fake_state (RDT_SESSION_CONNECTING, FALSE, "still gone");
  g_assert_cmpuint (lines_matching ("still gone", PURPLE_MESSAGE_SYSTEM, FALSE, NULL), ==, 0);
  g_assert_cmpint (purple_connection_get_state (gc), ==, PURPLE_CONNECTED);
  /* /reconnect asks the session to try now */
  g_assert_nonnull (conv);
  {
    gchar *err = NULL;

    g_assert_cmpint (purple_cmd_do_command (conv, "reconnect", "reconnect", &err),
                     ==, PURPLE_CMD_STATUS_OK);
    g_free (err);
  }
  g_assert_cmpuint (*n_now, ==, 1);
  g_assert_cmpuint (lines_matching ("Reconnecting now", PURPLE_MESSAGE_SYSTEM, FALSE, NULL), ==, 1);
  fake_state (RDT_SESSION_CONNECTED, FALSE, NULL);
  g_assert_cmpint (purple_connection_get_state (gc), ==, PURPLE_CONNECTED);
  g_assert_cmpuint (lines_matching ("Reconnected.", PURPLE_MESSAGE_SYSTEM, FALSE, NULL), ==, 1);
  g_assert_cmpuint (harness_errors ()->len, ==, 0);

  fake_state (RDT_SESSION_DISCONNECTED, TRUE, "not a member");
  harness_wait (gone, account, 10, "disconnect after fatal error");
  g_assert_cmpuint (harness_errors ()->len, ==, 1);
  g_assert_cmpint (((HarnessError *) harness_errors ()->pdata[0])->reason, ==,
                   PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED);
}

int
main (int argc, char **argv)
{
  RdtSigningKey *k;
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  k = rdt_signing_key_generate ();
  space_id = rdt_signing_key_get_id (k, RDT_ID_SPACE);
  rdt_signing_key_free (k);
  k = rdt_signing_key_generate ();
  other_id = rdt_signing_key_get_id (k, RDT_ID_USER);
  rdt_signing_key_free (k);
  harness_init ();
  g_test_add_func ("/fake/connect-join", test_connect_join);
  g_test_add_func ("/fake/messages", test_messages);
  g_test_add_func ("/fake/send", test_send);
  g_test_add_func ("/fake/send-fail-retry", test_send_fail_retry);
  g_test_add_func ("/fake/warning", test_warning);
  g_test_add_func ("/fake/head-persisted", test_head_persisted);
  g_test_add_func ("/fake/open-error-and-leave", test_open_error_and_leave);
  g_test_add_func ("/fake/states", test_states);
  ret = g_test_run ();
  purple_core_quit ();
  g_free (space_id);
  g_free (other_id);
  return ret;
}
