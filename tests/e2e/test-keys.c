/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-keys.c - keys at rest (issue #19), end to end: libpurple's core with
 * the plugin, against the test server and a real Secret Service
 * (gnome-keyring-daemon on a private session bus: tests/keystore/run.sh,
 * which says which case in RDT_KEYSTORE_TEST_MODE):
 *   unlocked    an account with its keys in accounts.xml logs in, its keys
 *               move into the keyring (accounts.xml then holds neither, in
 *               hex or base64) with one line saying so, and the next login
 *               reads them from the keyring;
 *   no-service  no keyring: the keys stay, and the chat says why, once;
 *   locked      a locked keyring nobody can unlock: moving fails with one
 *               line, the login goes on; keys that are only in the keyring
 *               give one clear, fatal connection error.
 * The harness reaches the bus only with RDT_TEST_KEYRING=1 (set by meson). */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "prompts.h"
#include "world.h"
#include "crypto.h"
#include "encoding.h"
#include "keystore.h"
#include "testserver.h"

#define TOPIC "general"

static RdtTestServer *server;

static gchar *
accounts_xml (void)
{
  g_autofree gchar *path = g_build_filename (purple_user_dir (),
                                             "accounts.xml", NULL);
  gchar *text = NULL;

  /* libpurple writes it a few seconds after a change */
  purple_accounts_get_all ();
  g_file_get_contents (path, &text, NULL, NULL);
  return text ? text : g_strdup ("");
}

/* The file, as libpurple saved it, has the marker and none of the keys in
 * any spelling a person could paste. */
typedef struct {
  const gchar *needles[6];
  const gchar *want;
} FileCheck;

static gboolean
file_ok (gpointer data)
{
  FileCheck *c = data;
  g_autofree gchar *xml = accounts_xml ();

  if (strstr (xml, c->want) == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (c->needles); i++)
    if (c->needles[i] && strstr (xml, c->needles[i]) != NULL)
      return FALSE;
  return TRUE;
}

typedef struct {
  PurpleAccount *a;
  guint attempts;
} LoginWait;

static gboolean
logged_in_again (gpointer data)
{
  LoginWait *w = data;

  return harness_connect_attempts (w->a) > w->attempts &&
         purple_account_is_connected (w->a);
}

static gboolean
moved_twice (gpointer data)
{
  return harness_count_lines (data, "were moved from accounts.xml",
                              PURPLE_MESSAGE_SYSTEM) == 2;
}

static gboolean
was_told (gpointer data)
{
  return harness_count_lines (data, "system keyring",
                              PURPLE_MESSAGE_SYSTEM) > 0;
}

static void
test_move (void)
{
  World w;
  PurpleAccount *a;
  PurpleConvChat *chat;
  g_autofree gchar *seed_b64 = NULL, *root_b64 = NULL;
  g_autofree gchar *seed_url = NULL, *root_url = NULL;
  guint8 seed[32];
  FileCheck c = { { NULL } };

  world_new (&w, server);
  rdt_signing_key_copy_seed (w.key, seed);
  seed_b64 = g_base64_encode (seed, sizeof seed);
  root_b64 = g_base64_encode (w.root, sizeof w.root);
  seed_url = rdt_base64url_encode (seed, sizeof seed);
  root_url = rdt_base64url_encode (w.root, sizeof w.root);
  rdt_wipe (seed, sizeof seed);

  a = world_account_new (&w, "owner", w.seed_hex, TRUE);
  purple_account_set_bool (a, "plain_keys", FALSE);
  world_account_connect (a);
  chat = harness_join (a, TOPIC);
  harness_wait_line (a, "were moved from accounts.xml into the system keyring",
                     PURPLE_MESSAGE_SYSTEM);
  g_assert_null (purple_account_get_password (a));
  g_assert_null (purple_account_get_string (a, "symmetric_root", NULL));
  g_assert_cmpstr (purple_account_get_string (a, "key_storage", NULL), ==,
                   "secret-service");
  c.needles[0] = w.seed_hex;
  c.needles[1] = w.root_hex;
  c.needles[2] = seed_b64;
  c.needles[3] = root_b64;
  c.needles[4] = seed_url;
  c.needles[5] = root_url;
  c.want = "secret-service";
  harness_wait (file_ok, &c, 30,
                "accounts.xml with the marker and without either key");

  /* the next login reads them from the keyring */
  purple_conversation_destroy (purple_conv_chat_get_conversation (chat));
  purple_account_set_enabled (a, "rdt-e2e", FALSE);
  harness_wait (harness_account_disconnected, a, 30, "the logout");
  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "a login from the keyring");
  chat = harness_join (a, TOPIC);
  purple_conv_chat_send (chat, "sent with keys from the keyring");
  harness_wait_line (a, "sent with keys from the keyring", PURPLE_MESSAGE_SEND);
  /* said once, when they moved */
  g_assert_cmpuint (harness_count_lines (a, "system keyring",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  /* the space key replaced (typed in base64 this time): in the keyring
   * again, not in accounts.xml, and the login goes on with it */
  harness_run_action (a, "Replace the space key");
  harness_answer_input ("not a key");
  g_assert_nonnull (harness_find_notify ("That is not a space key"));
  {
    LoginWait lw = { a, harness_connect_attempts (a) };

    harness_run_action (a, "Replace the space key");
    harness_answer_input (root_b64);
    harness_wait (logged_in_again, &lw, 30, "the login with the new key");
  }
  /* the line goes to the first chat joined */
  chat = harness_join (a, TOPIC);
  harness_wait (moved_twice, a, 30, "the replaced key moved into the keyring");
  harness_wait (file_ok, &c, 30, "accounts.xml without either key again");
  purple_conv_chat_send (chat, "sent after the space key was replaced");
  harness_wait_line (a, "sent after the space key was replaced",
                     PURPLE_MESSAGE_SEND);

  /* and never in libpurple's debug log, in any spelling */
  for (guint i = 0; i < G_N_ELEMENTS (c.needles); i++)
    g_assert_null (strstr (harness_debug_log (), c.needles[i]));

  harness_account_done (a);
  world_clear (&w);
}

static void
test_no_service (void)
{
  World w;
  PurpleAccount *a;
  PurpleConvChat *chat;

  world_new (&w, server);
  a = world_account_new (&w, "owner", w.seed_hex, TRUE);
  purple_account_set_bool (a, "plain_keys", FALSE);
  world_account_connect (a);
  chat = harness_join (a, TOPIC);
  harness_wait (was_told, a, 30, "the line saying why the keys stay");
  g_assert_cmpuint (harness_count_lines (a, "no system keyring (Secret "
                                         "Service) was found",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  g_assert_cmpstr (purple_account_get_password (a), ==, w.seed_hex);
  g_assert_cmpstr (purple_account_get_string (a, "symmetric_root", NULL), ==,
                   w.root_hex);
  /* once per account: not again at the next login */
  purple_conversation_destroy (purple_conv_chat_get_conversation (chat));
  purple_account_set_enabled (a, "rdt-e2e", FALSE);
  harness_wait (harness_account_disconnected, a, 30, "the logout");
  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "the next login");
  chat = harness_join (a, TOPIC);
  purple_conv_chat_send (chat, "still plain");
  harness_wait_line (a, "still plain", PURPLE_MESSAGE_SEND);
  g_assert_cmpuint (harness_count_lines (a, "system keyring",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  harness_account_done (a);
  world_clear (&w);
}

/* Both keys in the password (what BitlBee users type): logs in. */
static void
test_pair (void)
{
  World w;
  PurpleAccount *a;
  PurpleConvChat *chat;
  g_autofree gchar *pair = NULL;

  world_new (&w, server);
  pair = g_strconcat (w.seed_hex, ":", w.root_hex, NULL);
  a = world_account_new (&w, "owner", pair, TRUE);
  purple_account_remove_setting (a, "symmetric_root");
  world_account_connect (a);
  chat = harness_join (a, TOPIC);
  purple_conv_chat_send (chat, "two keys in one field");
  harness_wait_line (a, "two keys in one field", PURPLE_MESSAGE_SEND);
  harness_account_done (a);
  world_clear (&w);
}

static gboolean
has_error (gpointer data)
{
  return harness_errors ()->len > 0;
}

static void
test_locked (void)
{
  World w;
  PurpleAccount *a, *b;
  HarnessError *e;

  world_new (&w, server);
  /* keys in accounts.xml: they cannot move, the login goes on */
  a = world_account_new (&w, "owner", w.seed_hex, TRUE);
  purple_account_set_bool (a, "plain_keys", FALSE);
  world_account_connect (a);
  harness_join (a, TOPIC);
  harness_wait_line (a, "Your keys stay in accounts.xml: moving them into "
                        "the system keyring failed", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpstr (purple_account_get_password (a), ==, w.seed_hex);
  harness_account_done (a);

  /* keys only in the keyring, which will not open: one clear error, and
   * libpurple is told not to retry (fatal) */
  b = world_account_new (&w, "second", "", TRUE);
  purple_account_set_password (b, NULL);
  purple_account_remove_setting (b, "symmetric_root");
  purple_account_set_bool (b, "plain_keys", FALSE);
  purple_account_set_string (b, "key_storage", "secret-service");
  harness_account_connect (b);
  harness_wait (has_error, NULL, 30, "the login to fail");
  e = harness_errors ()->pdata[0];
  g_test_message ("error: %s", e->text);
  g_assert_true (strstr (e->text, "keyring") != NULL);
  g_assert_true (purple_connection_error_is_fatal (e->reason));
  g_assert_cmpuint (harness_errors ()->len, ==, 1);
  g_assert_cmpuint (harness_connect_attempts (b), ==, 1);
  purple_account_set_enabled (b, "rdt-e2e", FALSE);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  const gchar *mode = g_getenv ("RDT_KEYSTORE_TEST_MODE");

  if (g_strcmp0 (mode, "seed") == 0)
    {
      /* run.sh's first pass for "locked": the keyring exists on disk */
      return 0;
    }
  server = world_init (&argc, &argv);
  harness_prompts_install ();
  if (g_strcmp0 (mode, "unlocked") == 0)
    g_test_add_func ("/keys/move", test_move);
  else if (g_strcmp0 (mode, "no-service") == 0)
    {
      g_test_add_func ("/keys/no-service", test_no_service);
      g_test_add_func ("/keys/pair", test_pair);
    }
  else if (g_strcmp0 (mode, "locked") == 0)
    g_test_add_func ("/keys/locked", test_locked);
  return world_run (server);
}
