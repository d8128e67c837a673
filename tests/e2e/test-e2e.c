/* test-e2e.c - the plugin inside libpurple's own core (suite e2e).
 *
 * Offline tests (plugin loading, settings validation) always run; the tests
 * against the test server are built when tests/lib provides the fixture. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "crypto.h"
#include "id.h"
#ifdef RDT_HAVE_TESTSERVER
#include "testserver.h"
#endif

#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
  gchar *space_id;
  gchar *seed_hex;
} Owner;

static Owner *
owner_new (void)
{
  Owner *o = g_new0 (Owner, 1);
  RdtSigningKey *key = rdt_signing_key_generate ();
  guint8 seed[RDT_SEED_LENGTH];

  o->space_id = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  rdt_signing_key_copy_seed (key, seed);
  o->seed_hex = g_malloc0 (2 * sizeof seed + 1);
  for (gsize i = 0; i < sizeof seed; i++)
    g_snprintf (o->seed_hex + 2 * i, 3, "%02x", seed[i]);
  rdt_wipe (seed, sizeof seed);
  rdt_signing_key_free (key);
  return o;
}

static void
owner_free (Owner *o)
{
  g_free (o->space_id);
  g_free (o->seed_hex);
  g_free (o);
}

static gboolean
account_gone (gpointer data)
{
  return purple_account_get_connection (data) == NULL;
}

static HarnessError *
last_error_for (PurpleAccount *a)
{
  GPtrArray *errs = harness_errors ();

  for (guint i = errs->len; i > 0; i--)
    {
      HarnessError *e = errs->pdata[i - 1];
      if (g_strcmp0 (e->account, purple_account_get_username (a)) == 0)
        return e;
    }
  return NULL;
}

static guint
errors_for (PurpleAccount *a)
{
  GPtrArray *errs = harness_errors ();
  guint n = 0;

  for (guint i = 0; i < errs->len; i++)
    if (g_strcmp0 (((HarnessError *) errs->pdata[i])->account,
                   purple_account_get_username (a)) == 0)
      n++;
  return n;
}

static void
test_plugin_loaded (void)
{
  PurplePlugin *p = purple_find_prpl ("prpl-reeeductio");
  gchar *dir;

  g_assert_nonnull (p);
  g_assert_true (purple_plugin_is_loaded (p));
  dir = g_path_get_dirname (p->path);
  g_assert_cmpstr (dir, ==, g_getenv ("RDT_PLUGIN_DIR"));
  g_free (dir);
  g_assert_cmpstr (purple_plugin_get_name (p), ==, "reeeductio");
  g_assert_nonnull (PURPLE_PLUGIN_PROTOCOL_INFO (p)->user_splits);
}

static void
expect_invalid_settings (const gchar *username, const gchar *password,
                         const gchar *root, const gchar *fragment)
{
  PurpleAccount *a = harness_account_new (username, password,
                                          "http://127.0.0.1:9", root);
  HarnessError *e;
  guint before = errors_for (a);

  harness_account_connect (a);
  harness_wait (account_gone, a, 10, "account to disconnect");
  e = last_error_for (a);
  g_assert_nonnull (e);
  g_assert_cmpint (e->reason, ==, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS);
  g_assert_nonnull (strstr (e->text, fragment));
  g_assert_cmpuint (errors_for (a), ==, before + 1);
  purple_accounts_delete (a);
}

static void
test_invalid_settings (void)
{
  Owner *o = owner_new ();
  gchar *user = g_strconcat ("alice@", o->space_id, NULL);

  expect_invalid_settings ("alice@not-a-space", o->seed_hex, ZERO_KEY,
                           "space id");
  expect_invalid_settings (user, "not a key", ZERO_KEY, "private key");
  expect_invalid_settings (user, o->seed_hex, "abc", "symmetric root");
  g_free (user);
  owner_free (o);
}

#ifdef RDT_HAVE_TESTSERVER
static RdtTestServer *server;

static gboolean
account_connected (gpointer data)
{
  return purple_account_is_connected (data);
}

static gboolean
account_connecting (gpointer data)
{
  return purple_account_is_connecting (data);
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

static void
wait_line (PurpleAccount *a, const gchar *text, PurpleMessageFlags flags)
{
  LineWait w = { a, text, flags };
  harness_wait (line_seen, &w, 20, text);
}

static PurpleAccount *
login (Owner *o, const gchar *local)
{
  gchar *user = g_strconcat (local, "@", o->space_id, NULL);
  PurpleAccount *a = harness_account_new (user, o->seed_hex,
                                          rdt_test_server_get_url (server),
                                          ZERO_KEY);
  g_free (user);
  harness_account_connect (a);
  harness_wait (account_connected, a, 20, "account to connect");
  return a;
}

static PurpleConvChat *
join (PurpleAccount *a, const gchar *topic)
{
  GHashTable *c = g_hash_table_new (g_str_hash, g_str_equal);
  PurpleConversation *conv;

  g_hash_table_insert (c, "topic", (gpointer) topic);
  serv_join_chat (purple_account_get_connection (a), c);
  g_hash_table_destroy (c);
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, topic, a);
  g_assert_nonnull (conv);
  return PURPLE_CONV_CHAT (conv);
}

static void
test_login_send_receive (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice");
  PurpleAccount *b = login (o, "bob");
  PurpleConvChat *ca = join (a, "general");
  PurpleConvChat *cb = join (b, "general");

  g_assert_cmpint (purple_connection_get_state (purple_account_get_connection (a)),
                   ==, PURPLE_CONNECTED);
  purple_conv_chat_send (ca, "first &amp; <i>one</i>");
  wait_line (a, "first &amp; one", PURPLE_MESSAGE_SEND);
  wait_line (b, "first &amp; one", 0);
  purple_conv_chat_send (cb, "from b");
  wait_line (a, "from b", 0);
  wait_line (b, "from b", PURPLE_MESSAGE_SEND);
  /* drain: anything pending would show a duplicate */
  purple_conv_chat_send (ca, "marker");
  wait_line (b, "marker", 0);
  g_assert_cmpuint (harness_count_lines (a, "first &amp; one", 0), ==, 1);
  g_assert_cmpuint (harness_count_lines (b, "first &amp; one", 0), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "from b", 0), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "first", PURPLE_MESSAGE_SEND), ==, 1);

  /* backlog: a third account joining later sees history, delayed, in order */
  {
    PurpleAccount *c = login (o, "carol");
    GPtrArray *ls = harness_lines ();
    gint first = -1, second = -1;

    join (c, "general");
    wait_line (c, "marker", PURPLE_MESSAGE_DELAYED);
    for (guint i = 0; i < ls->len; i++)
      {
        HarnessLine *l = ls->pdata[i];
        if (g_strcmp0 (l->account, purple_account_get_username (c)) != 0)
          continue;
        if (strstr (l->text, "first")) first = i;
        if (strstr (l->text, "from b")) second = i;
        if (strstr (l->text, "first") || strstr (l->text, "marker"))
          g_assert_true (l->flags & PURPLE_MESSAGE_DELAYED);
      }
    g_assert_cmpint (first, >=, 0);
    g_assert_cmpint (first, <, second);
  }

  /* the verified head is persisted per account and topic */
  {
    const gchar *head = purple_account_get_string (a, "head:general", NULL);
    g_assert_nonnull (head);
    g_assert_true (head[0] == 'M' && strchr (head, ' ') != NULL);
  }

  /* a pinned head that the server no longer has: "rewritten" warning, as
   * after a restart of the plugin against a server that rewrote history */
  {
    PurpleAccount *d;
    guint8 fake[32] = { 1, 2, 3 };
    gchar *fake_id = rdt_id_encode (RDT_ID_MESSAGE, fake);
    gchar *pin = g_strdup_printf ("%s %" G_GINT64_FORMAT, fake_id,
                                  g_get_real_time () / 1000);
    gchar *user = g_strconcat ("dave@", o->space_id, NULL);

    d = harness_account_new (user, o->seed_hex,
                             rdt_test_server_get_url (server), ZERO_KEY);
    purple_account_set_string (d, "head:general", pin);
    harness_account_connect (d);
    harness_wait (account_connected, d, 20, "dave to connect");
    join (d, "general");
    wait_line (d, "Warning:", PURPLE_MESSAGE_ERROR);
    g_free (user);
    g_free (pin);
    g_free (fake_id);
  }

  /* server restart: CONNECTING, then CONNECTED, messages flow again */
  if (!rdt_test_server_skip_unless_local (server))
    {
      rdt_test_server_restart (server);
      harness_wait (account_connecting, a, 30, "CONNECTING after restart");
      harness_wait (account_connected, a, 30, "reconnect of a");
      harness_wait (account_connected, b, 30, "reconnect of b");
      purple_conv_chat_send (cb, "after restart");
      wait_line (a, "after restart", 0);
      purple_conv_chat_send (ca, "marker 2");
      wait_line (b, "marker 2", 0);
      g_assert_cmpuint (harness_count_lines (b, "after restart", 0), ==, 1);
      g_assert_cmpuint (harness_count_lines (a, "from b", 0), ==, 1);
      g_assert_cmpuint (harness_count_lines (a, "after restart", 0), ==, 1);
    }
  owner_free (o);
}

static void
test_bad_credentials (void)
{
  Owner *o = owner_new ();
  Owner *other = owner_new ();
  /* other's key on o's space: not a member (and o's space may not exist) */
  gchar *user = g_strconcat ("mallory@", o->space_id, NULL);
  PurpleAccount *a;
  HarnessError *e;

  /* create o's space first */
  login (o, "owner");
  a = harness_account_new (user, other->seed_hex,
                           rdt_test_server_get_url (server), ZERO_KEY);
  harness_account_connect (a);
  harness_wait (account_gone, a, 20, "auth failure");
  e = last_error_for (a);
  g_assert_nonnull (e);
  g_assert_cmpint (e->reason, ==, PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED);
  g_assert_cmpuint (errors_for (a), ==, 1);
  g_free (user);
  owner_free (o);
  owner_free (other);
}

static void
test_invalid_topic (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice");
  GHashTable *c = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (c, "topic", "Not A Topic!");
  serv_join_chat (purple_account_get_connection (a), c);
  g_hash_table_destroy (c);
  g_assert_null (purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT,
                                                        "Not A Topic!", a));
  g_assert_true (purple_account_is_connected (a));
  owner_free (o);
}
#endif

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  harness_init ();
  g_test_add_func ("/e2e/plugin-loaded", test_plugin_loaded);
  g_test_add_func ("/e2e/invalid-settings", test_invalid_settings);
#ifdef RDT_HAVE_TESTSERVER
  server = rdt_test_server_start (NULL);
  g_test_add_func ("/e2e/login-send-receive", test_login_send_receive);
  g_test_add_func ("/e2e/bad-credentials", test_bad_credentials);
  g_test_add_func ("/e2e/invalid-topic", test_invalid_topic);
#endif
  ret = g_test_run ();
#ifdef RDT_HAVE_TESTSERVER
  rdt_test_server_stop (server);
#endif
  purple_core_quit ();
  return ret;
}
