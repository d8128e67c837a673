/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-setup.c - the first-login dialog (src/purple/setup.c) inside
 * libpurple, against the test server (suite e2e): an account without a
 * key, space or space key is asked how to start, each answer fills the
 * account's settings and logs in; a word typed as the password is told
 * what the field takes. prompts.c leaves the dialog open for the test to
 * fill in, as a person would. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "world.h"
#include "prompts.h"
#include "crypto.h"
#include "id.h"
#include "testserver.h"

#define ROOT "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

enum { CHOICE_INVITATION, CHOICE_NEW_SPACE, CHOICE_KEYS };

static RdtTestServer *server;

typedef struct {
  gchar *space_id;
  gchar *seed_hex;
} Owner;

static Owner *
owner_new (void)
{
  RdtSigningKey *key = rdt_signing_key_generate ();
  Owner *o = g_new0 (Owner, 1);

  o->space_id = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  o->seed_hex = harness_seed_hex (key);
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
prompt_open (gpointer unused)
{
  return harness_prompt () != NULL;
}

/* Connects a and waits for the setup dialog; returns its choice field. */
static PurpleRequestField *
connect_to_dialog (PurpleAccount *a)
{
  HarnessPrompt *p;

  harness_account_connect (a);
  harness_wait (prompt_open, NULL, 10, "the setup dialog");
  p = harness_prompt ();
  g_assert_cmpint (p->type, ==, PURPLE_REQUEST_FIELDS);
  g_test_message ("asked: %s / %s", p->primary, p->secondary);
  g_assert_nonnull (strstr (p->title, "Set up"));
  return purple_request_fields_get_field (p->fields, "how");
}

static gboolean
shown_has (gpointer needle)
{
  return harness_find_notify (needle) != NULL;
}

/* The owner's invitation, from the window "Invite someone..." opens. */
static gchar *
make_invitation (PurpleAccount *owner)
{
  harness_run_action (owner, "Invite someone");
  harness_wait (shown_has, "Invitation created", 30, "the invitation window");
  return harness_take_invitation ();
}

static void
assert_key (const gchar *text)
{
  guint8 k[32];

  g_assert_true (rdt_parse_key32 (text ? text : "", k, NULL));
  rdt_wipe (k, sizeof k);
}

/* ---- tests ---- */

static void
test_invitation (void)
{
  Owner *o = owner_new ();
  gchar *user = g_strconcat ("owner@", o->space_id, NULL);
  PurpleAccount *owner = harness_account_new (user, o->seed_hex,
                                              rdt_test_server_get_url (server),
                                              ROOT);
  g_autofree gchar *invitation = NULL, *bob_user = NULL;
  PurpleAccount *bob;
  PurpleRequestField *how;

  harness_account_connect (owner);
  harness_wait (harness_account_connected, owner, 30, "owner to connect");
  invitation = make_invitation (owner);

  /* no key, no space, no space key: asked, the invitation preselected */
  bob = harness_account_new ("bob", "", NULL, "");
  how = connect_to_dialog (bob);
  g_assert_cmpint (purple_request_field_choice_get_value (how), ==,
                   CHOICE_INVITATION);
  harness_prompt_set_string ("invitation", invitation);
  harness_answer_fields (TRUE);
  harness_wait (harness_account_connected, bob, 30, "bob to join");

  bob_user = g_strconcat ("bob@", o->space_id, NULL);
  g_assert_cmpstr (purple_account_get_username (bob), ==, bob_user);
  g_assert_cmpstr (purple_account_get_string (bob, "server", NULL), ==,
                   rdt_test_server_get_url (server));
  g_assert_cmpstr (purple_account_get_string (bob, "symmetric_root", NULL), ==,
                   ROOT);
  /* a new key of bob's own, not the invitation */
  assert_key (purple_account_get_password (bob));
  g_assert_cmpstr (purple_account_get_password (bob), !=, o->seed_hex);
  g_assert_null (purple_account_get_string (bob, "pending_invitation", NULL));
  g_assert_null (harness_prompt ());

  harness_account_done (bob);
  harness_account_done (owner);
  g_free (user);
  owner_free (o);
}

static void
test_new_space (void)
{
  PurpleAccount *carol = harness_account_new ("carol", "", NULL, "");
  PurpleRequestField *how = connect_to_dialog (carol);
  const gchar *user;

  /* a wrong server URL is asked again, saying why, nothing stored */
  purple_request_field_choice_set_value (how, CHOICE_NEW_SPACE);
  harness_prompt_set_string ("server", "reeeductio.example");
  harness_answer_fields (TRUE);
  g_assert_nonnull (harness_prompt ());
  g_assert_nonnull (strstr (harness_prompt ()->secondary, "https://"));
  g_assert_cmpstr (purple_account_get_username (carol), ==, "carol");
  how = purple_request_fields_get_field (harness_prompt ()->fields, "how");
  g_assert_cmpint (purple_request_field_choice_get_value (how), ==,
                   CHOICE_NEW_SPACE);

  harness_prompt_set_string ("server", rdt_test_server_get_url (server));
  harness_answer_fields (TRUE);
  harness_wait (harness_account_connected, carol, 30,
                "carol to log in as the owner of a new space");
  user = purple_account_get_username (carol);
  g_assert_true (g_str_has_prefix (user, "carol@"));
  g_assert_true (rdt_id_is_valid (user + strlen ("carol@"), RDT_ID_SPACE));
  g_assert_cmpstr (purple_account_get_string (carol, "server", NULL), ==,
                   rdt_test_server_get_url (server));
  assert_key (purple_account_get_password (carol));
  assert_key (purple_account_get_string (carol, "symmetric_root", NULL));
  /* she owns it: the space key is her login key */
  {
    guint8 seed[32];
    RdtSigningKey *key;
    gchar *space;

    g_assert_true (rdt_parse_key32 (purple_account_get_password (carol), seed,
                                    NULL));
    key = rdt_signing_key_new_from_seed (seed);
    rdt_wipe (seed, sizeof seed);
    space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
    g_assert_cmpstr (user + strlen ("carol@"), ==, space);
    g_free (space);
    rdt_signing_key_free (key);
  }
  harness_account_done (carol);
}

static void
test_keys (void)
{
  Owner *o = owner_new ();
  g_autofree gchar *user = g_strconcat ("dave@", o->space_id, NULL);
  /* a key but no space key: asked, "I have my key" preselected and the
   * key offered again */
  PurpleAccount *dave = harness_account_new ("dave", o->seed_hex, NULL, "");
  PurpleRequestField *how = connect_to_dialog (dave);
  PurpleRequestField *key;

  g_assert_cmpint (purple_request_field_choice_get_value (how), ==, CHOICE_KEYS);
  key = purple_request_fields_get_field (harness_prompt ()->fields, "key");
  g_assert_cmpstr (purple_request_field_string_get_value (key), ==, o->seed_hex);
  harness_prompt_set_string ("server", rdt_test_server_get_url (server));
  harness_prompt_set_string ("space", o->space_id);
  harness_prompt_set_string ("root", ROOT);
  harness_answer_fields (TRUE);
  harness_wait (harness_account_connected, dave, 30, "dave to log in");

  g_assert_cmpstr (purple_account_get_username (dave), ==, user);
  g_assert_cmpstr (purple_account_get_password (dave), ==, o->seed_hex);
  g_assert_cmpstr (purple_account_get_string (dave, "symmetric_root", NULL), ==,
                   ROOT);
  g_assert_cmpstr (purple_account_get_string (dave, "server", NULL), ==,
                   rdt_test_server_get_url (server));
  g_assert_null (harness_prompt ());
  harness_account_done (dave);
  owner_free (o);
}

static guint
errors_of (PurpleAccount *a)
{
  GPtrArray *errors = harness_errors ();
  guint n = 0;

  for (guint i = 0; i < errors->len; i++)
    if (g_strcmp0 (((HarnessError *) errors->pdata[i])->account,
                   purple_account_get_username (a)) == 0)
      n++;
  return n;
}

static HarnessError *
last_error (void)
{
  GPtrArray *errors = harness_errors ();

  g_assert_cmpuint (errors->len, >, 0);
  return errors->pdata[errors->len - 1];
}

/* The message a word typed as the password gets. */
static void
assert_says_what_password_takes (const gchar *text)
{
  g_assert_nonnull (strstr (text, "not a password you make up"));
  g_assert_nonnull (strstr (text, "64 hex"));
  g_assert_nonnull (strstr (text, "rdt-invite:1:"));
}

static void
test_word_as_password (void)
{
  Owner *o = owner_new ();
  g_autofree gchar *user = g_strconcat ("erin@", o->space_id, NULL);
  PurpleAccount *erin = harness_account_new (user, "hunter2",
                                             rdt_test_server_get_url (server),
                                             ROOT);
  PurpleRequestField *key;
  HarnessError *e;
  guint before = errors_of (erin);

  /* the dialog says what the field takes; the word is not offered back */
  connect_to_dialog (erin);
  assert_says_what_password_takes (harness_prompt ()->secondary);
  key = purple_request_fields_get_field (harness_prompt ()->fields, "key");
  g_assert_null (purple_request_field_string_get_value (key));
  /* cancelled: the connection error says it again */
  harness_answer_fields (FALSE);
  harness_wait (harness_account_disconnected, erin, 10, "erin to be refused");
  g_assert_cmpuint (errors_of (erin), ==, before + 1);
  e = last_error ();
  g_assert_cmpint (e->reason, ==, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS);
  assert_says_what_password_takes (e->text);

  /* a client without request dialogs (BitlBee) gets the message at once */
  purple_request_set_ui_ops (NULL);
  harness_account_connect (erin);
  harness_wait (harness_account_disconnected, erin, 10, "erin to be refused");
  harness_prompts_install ();
  g_assert_cmpuint (errors_of (erin), ==, before + 2);
  assert_says_what_password_takes (last_error ()->text);
  g_assert_cmpstr (purple_account_get_password (erin), ==, "hunter2");

  harness_account_done (erin);
  owner_free (o);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  harness_prompts_install ();

  g_test_add_func ("/setup/invitation", test_invitation);
  g_test_add_func ("/setup/new-space", test_new_space);
  g_test_add_func ("/setup/keys", test_keys);
  g_test_add_func ("/setup/word-as-password", test_word_as_password);
  return world_run (server);
}
