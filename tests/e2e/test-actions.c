/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-actions.c - the account actions of issue #5 (onboarding) driven
 * through the plugin's PurplePluginInfo.actions, inside libpurple, against
 * the test server (suite e2e).
 *
 * The harness records every window; prompts.c leaves each
 * purple_request_action prompt open, so a test decides which choice to
 * take, and can check what was shown before it did. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "harness.h"
#include "world.h"
#include "prompts.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "testserver.h"

#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"
#define TOPIC "general"

static RdtTestServer *server;

/* How many windows so far show `needle` in their primary text or body. */
static guint
shown_count (const gchar *needle)
{
  GPtrArray *shown = harness_notifies ();
  guint n = 0;

  for (guint i = 0; i < harness_notifies ()->len; i++)
    {
      HarnessNotify *s = shown->pdata[i];

      if ((s->text && strstr (s->text, needle)) ||
          (s->primary && strstr (s->primary, needle)))
        n++;
    }
  return n;
}

/* The body of the newest window. */
static const gchar *
last_shown (void)
{
  GPtrArray *shown = harness_notifies ();

  g_assert_cmpuint (harness_notifies ()->len, >, 0);
  return ((HarnessNotify *) shown->pdata[shown->len - 1])->text;
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

/* ---- tests ---- */

static void
test_list (void)
{
  PurplePlugin *plugin = purple_find_prpl ("prpl-reeeductio");
  GList *actions;

  g_assert_nonnull (plugin);
  g_assert_nonnull (plugin->info->actions);
  actions = plugin->info->actions (plugin, NULL);
  /* member id, reconnect now, export, display name, name this space,
   * invite, add member, join, replace the space key, new space, leave this
   * space (the membership ones are exercised in test-members.c, leaving in
   * test-events.c, the space's name in test-space-name.c, the space key in
   * test-keys.c) */
  g_assert_cmpuint (g_list_length (actions), ==, 11);
  g_list_free_full (actions, (GDestroyNotify) purple_plugin_action_free);
}

static void
test_show_member_id (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice", ZERO_KEY);
  guint before = harness_notifies ()->len;
  const gchar *text;
  gchar *field, **lines;

  harness_run_action (a, "member ID");
  g_assert_cmpuint (harness_notifies ()->len, ==, before + 1);
  text = last_shown ();
  g_test_message ("shown: %s", text);
  /* the owner logs in with the space key: its U id is that key's; each id
   * whole on a line of its own (Finch: no field shows 44 characters), and
   * no line wider than a terminal (Finch draws no wider window) */
  field = g_strdup_printf ("\nYour member ID:\n%s\n", o->uid);
  g_assert_nonnull (strstr (text, field));
  g_free (field);
  field = g_strdup_printf ("\nSpace ID:\n%s", o->space_id);
  g_assert_true (g_str_has_suffix (text, field));
  g_free (field);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    g_assert_cmpuint (g_utf8_strlen (lines[i], -1), <=, 72);
  g_strfreev (lines);
  /* the owner is not sent to an admin: told how to add members */
  g_assert_null (strstr (text, "admin"));
  g_assert_nonnull (strstr (text, "You own this space"));
  /* public ids only, never the seed */
  g_assert_null (strstr (text, o->seed_hex));
  g_assert_null (harness_prompt ());
  harness_account_done (a);
  owner_free (o);
}

static gboolean
notified_since (gpointer before)
{
  return harness_notifies ()->len > *(guint *) before;
}

/* The invitation cannot be saved (a file where its directory goes): the
 * window says why and names no file. */
static void
test_invitation_not_saved (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice", ZERO_KEY);
  g_autofree gchar *dir = g_build_filename (purple_user_dir (), "reeeductio",
                                            NULL);
  guint before = harness_notifies ()->len;
  HarnessNotify *n;

  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_set_contents (dir, "not a directory", -1, NULL));
  harness_run_action (a, "Invite someone");
  harness_wait (notified_since, &before, 30, "the invitation window");
  n = harness_notifies ()->pdata[before];
  g_test_message ("shown: %s", n->text);
  g_assert_cmpstr (n->primary, ==, "Invitation created");
  g_assert_nonnull (strstr (n->text, "Could not save the invitation in"));
  g_assert_null (strstr (n->text, "File:"));
  g_assert_cmpint (g_unlink (dir), ==, 0);
  harness_account_done (a);
  owner_free (o);
}

static void
test_export (void)
{
  Owner *o = owner_new ();
  const gchar *root = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  PurpleAccount *a = login (o, "alice", root);
  guint before = harness_notifies ()->len;
  const gchar *text;

  /* asked first, nothing shown; cancel shows nothing */
  harness_run_action (a, "Export");
  g_assert_nonnull (harness_prompt ());
  g_assert_nonnull (strstr (harness_prompt ()->secondary, "private key"));
  g_assert_nonnull (strstr (harness_prompt_default_label (), "Cancel"));
  g_assert_cmpuint (harness_notifies ()->len, ==, before);
  harness_answer_action ("Cancel");
  g_assert_cmpuint (harness_notifies ()->len, ==, before);
  g_assert_cmpuint (shown_count (o->seed_hex), ==, 0);

  /* confirmed: everything needed to set the account up elsewhere */
  harness_run_action (a, "Export");
  g_assert_cmpuint (harness_notifies ()->len, ==, before);
  harness_answer_action ("Show");
  g_assert_cmpuint (harness_notifies ()->len, ==, before + 1);
  text = last_shown ();
  g_assert_nonnull (strstr (text, o->seed_hex));
  g_assert_nonnull (strstr (text, root));
  g_assert_nonnull (strstr (text, o->space_id));
  g_assert_nonnull (strstr (text, rdt_test_server_get_url (server)));
  harness_account_done (a);
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

  /* a topic of the old space, with a pinned head */
  conv = purple_conv_chat_get_conversation (harness_join (a, TOPIC));
  purple_conv_chat_send (PURPLE_CONV_CHAT (conv), "in the old space");
  harness_wait_line (a, "in the old space", PURPLE_MESSAGE_SEND);
  g_assert_nonnull (purple_account_get_string (a, "head:" TOPIC, NULL));

  /* cancel changes nothing */
  harness_run_action (a, "new space");
  g_assert_nonnull (harness_prompt ());
  g_assert_nonnull (strstr (harness_prompt_default_label (), "Cancel"));
  harness_answer_action ("Cancel");
  g_assert_cmpstr (purple_account_get_username (a), ==, old_user);
  g_assert_cmpstr (purple_account_get_password (a), ==, o->seed_hex);

  harness_run_action (a, "new space");
  g_assert_nonnull (harness_prompt ());
  harness_answer_action ("Create");
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
  before = harness_notifies ()->len;
  harness_run_action (a, "member ID");
  g_assert_cmpuint (harness_notifies ()->len, ==, before + 1);
  g_assert_nonnull (strstr (last_shown (), owner_uid));

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
  /* the old space's pin is not taken for the new space's topic */
  g_assert_cmpuint (harness_count_lines (a, "rewritten", PURPLE_MESSAGE_ERROR),
                    ==, 0);

  g_free (owner_uid);
  g_free (space);
  g_free (old_user);
  harness_account_done (a);
  owner_free (o);
}

/* ---- failures are told ---- */

typedef struct {
  const gchar *needle;
  guint before;
} ShownWait;

static gboolean
shown_more (gpointer data)
{
  ShownWait *w = data;

  return shown_count (w->needle) > w->before;
}

/* Set display name... with no chat open: a failure shows a window. */
static void
test_display_name_failures (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice", ZERO_KEY);
  ShownWait w = { "Could not set your display name", 0 };

  /* nothing left once cleaned (a zero-width space) */
  w.before = shown_count (w.needle);
  harness_run_action (a, "Set display name");
  harness_answer_input (" \xe2\x80\x8b ");
  harness_wait (shown_more, &w, 30, "the empty name to be refused");
  g_assert_cmpuint (shown_count ("empty"), >, 0);

  /* the server refuses the write */
  if (!rdt_test_server_require_local (server, "a 403 fault on the state write "
                                      "(the empty-name part passed)"))
    goto out;
  rdt_test_server_fault (server, "{\"action\":\"status\",\"status\":403,"
                         "\"method\":\"POST\",\"path\":\"/topics/state/messages\","
                         "\"count\":1}");
  w.before = shown_count (w.needle);
  harness_run_action (a, "Set display name");
  harness_answer_input ("Alice");
  harness_wait (shown_more, &w, 30, "the refused write to be told");
  g_assert_cmpuint (shown_count ("rights"), >, 0);
  rdt_test_server_clear_faults (server);
out:
  harness_account_done (a);
  owner_free (o);
}

static gboolean
roomlist_done (gpointer list)
{
  return !purple_roomlist_get_in_progress (list);
}

/* A room list whose state read fails is finished, with what is known,
 * and the user told. */
static void
test_roomlist_failure (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice", ZERO_KEY);
  PurpleRoomlist *list;
  ShownWait w = { "Could not read the space's topics", 0 };
  gboolean found = FALSE;

  harness_join (a, TOPIC);
  if (!rdt_test_server_require_local (server, "a garbage fault on the state read"))
    {
      harness_account_done (a);
      owner_free (o);
      return;
    }
  w.before = shown_count (w.needle);
  rdt_test_server_fault (server, "{\"action\":\"garbage\",\"method\":\"GET\","
                         "\"path\":\"/topics/state/messages\"}");
  list = purple_roomlist_get_list (purple_account_get_connection (a));
  g_assert_nonnull (list);
  harness_wait (roomlist_done, list, 30, "the room list to finish");
  rdt_test_server_clear_faults (server);
  g_assert_cmpuint (shown_count (w.needle), >, w.before);
  for (GList *l = list->rooms; l; l = l->next)
    if (g_strcmp0 (((PurpleRoomlistRoom *) l->data)->fields->data, TOPIC) == 0)
      found = TRUE;
  g_assert_true (found);
  purple_roomlist_unref (list);
  harness_account_done (a);
  owner_free (o);
}

/* A prompt still open when the account disconnects is closed by libpurple
 * without a callback: nothing of it may be left (valgrind and LSan check
 * the leak). */
static void
test_prompt_closed_on_disconnect (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice", ZERO_KEY);

  harness_run_action (a, "Set display name");
  g_assert_nonnull (harness_prompt ());
  purple_account_disconnect (a);
  g_assert_null (harness_prompt ());

  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "account to reconnect");
  harness_run_action (a, "new space");
  g_assert_nonnull (harness_prompt ());
  purple_account_disconnect (a);
  g_assert_null (harness_prompt ());
  /* the account was not switched */
  g_assert_nonnull (strstr (purple_account_get_username (a), o->space_id));
  harness_account_done (a);
  owner_free (o);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  harness_prompts_install ();

  g_test_add_func ("/actions/list", test_list);
  g_test_add_func ("/actions/show-member-id", test_show_member_id);
  g_test_add_func ("/actions/invitation-not-saved", test_invitation_not_saved);
  g_test_add_func ("/actions/export", test_export);
  g_test_add_func ("/actions/create-space", test_create_space);
  g_test_add_func ("/actions/display-name-failures", test_display_name_failures);
  g_test_add_func ("/actions/roomlist-failure", test_roomlist_failure);
  g_test_add_func ("/actions/prompt-closed-on-disconnect",
                   test_prompt_closed_on_disconnect);
  return world_run (server);
}
