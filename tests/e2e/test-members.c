/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-members.c - onboarding and membership from inside the client
 * (issue #5), end to end: libpurple's core with the plugin, two or three
 * accounts of different members of one space in the same instance, against
 * the test server.
 *
 * Covered: an invitation created with /invite and pasted as the password
 * of a new account; display names set through libpurple's public alias and
 * /nick, shown live in the other member's chat (user list and messages);
 * the topic name (/topic) as chat topic and in the room list; /members and
 * /whois; a spent invitation; a new key from an empty password, added by
 * id with /add-member. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "harness.h"
#include "world.h"
#include "prompts.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "membership.h"
#include "statesync.h"
#include "testserver.h"

#define TOPIC "general"

static RdtTestServer *server;

/* ---- windows (the harness records every notify) ---- */

/* Windows before this index are ignored (set it to harness_notifies ()->len
 * before an action whose window must be new). */
static guint notify_mark;

/* The newest window since notify_mark showing needle (title, primary or
 * body), as "primary\nbody". */
static const gchar *
shown_find (const gchar *needle)
{
  GPtrArray *n = harness_notifies ();
  HarnessNotify *found = harness_find_notify (needle);

  for (guint i = notify_mark; found && i < n->len; i++)
    if (n->pdata[i] == found)
      return found->text && strstr (found->text, needle) ? found->text
                                                           : found->primary;
  return NULL;
}

static gboolean
shown_has (gpointer needle)
{
  return shown_find (needle) != NULL;
}

/* ---- helpers ---- */

/* The sender of the newest line containing text, for this account. */
static const gchar *
who_said (PurpleAccount *a, const gchar *text)
{
  GPtrArray *lines = harness_lines ();

  for (guint i = lines->len; i > 0; i--)
    {
      HarnessLine *l = lines->pdata[i - 1];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          strstr (l->text, text) && !(l->flags & PURPLE_MESSAGE_SYSTEM))
        return l->who;
    }
  return NULL;
}

typedef struct {
  PurpleConvChat *chat;
  const gchar *topic;
} TopicWait;

static gboolean
topic_is (gpointer data)
{
  TopicWait *t = data;
  const gchar *line = purple_conv_chat_get_topic (t->chat);
  gsize n = strlen (t->topic);

  /* "<topic name> — <space name or id>" */
  return line != NULL && strncmp (line, t->topic, n) == 0 &&
         g_str_has_prefix (line + n, " \xe2\x80\x94 ");
}

static gboolean
alias_done (gpointer data)
{
  return *(gint *) data != 0;
}

static gint alias_result;

static void
alias_ok (PurpleAccount *account, const char *alias)
{
  alias_result = 1;
}

static void
alias_failed (PurpleAccount *account, const char *error)
{
  alias_result = -1;
}

static gboolean
roomlist_done (gpointer data)
{
  return !purple_roomlist_get_in_progress (data);
}


/* ---- tests ---- */

static void
test_invitation_names_topics (void)
{
  World s;
  PurpleAccount *owner, *bob, *eve;
  PurpleConvChat *ochat, *bchat;
  g_autofree gchar *invitation = NULL, *bob_user = NULL, *bob_uid = NULL;
  const gchar *password;
  guint8 seed[32];
  PurpleRoomlist *list;
  gboolean found = FALSE;

  world_new (&s, server);
  owner = world_owner_account (&s, TRUE);
  ochat = harness_join (owner, TOPIC);

  /* the owner creates an invitation: shown once, in a window */
  world_command (ochat, "invite");
  harness_wait (shown_has, "Invitation created", 30, "the invitation window");
  invitation = harness_take_invitation ();
  g_assert_cmpuint (harness_count_lines (owner, "rdt-invite", PURPLE_MESSAGE_SYSTEM), ==, 0);

  /* Bob pastes it as the password of a new account, any user name */
  bob = harness_account_new ("bob", invitation, NULL, "");
  harness_account_connect (bob);
  harness_wait (harness_account_connected, bob, 30, "bob to join with the invitation");
  bob_user = g_strconcat ("bob@", s.space, NULL);
  g_assert_cmpstr (purple_account_get_username (bob), ==, bob_user);
  password = purple_account_get_password (bob);
  g_assert_true (rdt_hex_decode (password, seed, 32, NULL));
  g_assert_cmpstr (purple_account_get_string (bob, "symmetric_root", ""), ==, s.root_hex);
  g_assert_cmpstr (purple_account_get_string (bob, "server", ""), ==,
                   rdt_test_server_get_url (server));
  g_assert_null (purple_account_get_string (bob, "pending_invitation", NULL));
  {
    g_autoptr (RdtSigningKey) k = rdt_signing_key_new_from_seed (seed);
    bob_uid = rdt_signing_key_get_id (k, RDT_ID_USER);
  }
  rdt_wipe (seed, 32);

  /* Bob's display name (libpurple's public alias) reaches the owner live:
   * user list first, then his message under that name */
  purple_account_set_public_alias (bob, "Bob Builder", alias_ok, alias_failed);
  harness_wait (alias_done, &alias_result, 30, "the alias to be written");
  g_assert_cmpint (alias_result, ==, 1);
  harness_wait_chat_user (ochat, "Bob Builder", "Bob's name in the owner's chat");
  bchat = harness_join (bob, TOPIC);
  purple_conv_chat_send (bchat, "hello from bob");
  harness_wait_line (owner, "hello from bob", PURPLE_MESSAGE_RECV);
  g_assert_cmpstr (who_said (owner, "hello from bob"), ==, "Bob Builder");

  /* /nick renames the owner everywhere; Bob's chat follows */
  world_command (ochat, "nick Olivia");
  harness_wait_chat_user (bchat, "Olivia", "the owner's new name in Bob's chat");
  harness_wait_chat_user (ochat, "Olivia", "the owner's own nick");
  g_assert_cmpstr (purple_conv_chat_get_nick (ochat), ==, "Olivia");
  /* what libpurple UIs show for our own messages */
  g_assert_cmpstr (purple_connection_get_display_name (
                       purple_account_get_connection (owner)), ==, "Olivia");
  purple_conv_chat_send (ochat, "welcome bob");
  harness_wait_line (bob, "welcome bob", PURPLE_MESSAGE_RECV);
  g_assert_cmpstr (who_said (bob, "welcome bob"), ==, "Olivia");

  /* Bob is a member, not an admin: his /invite is refused, and says so */
  world_command (bchat, "invite");
  harness_wait_line (bob, "Could not create an invitation", PURPLE_MESSAGE_ERROR);
  g_assert_cmpuint (harness_count_lines (bob, "permission", PURPLE_MESSAGE_ERROR), >, 0);

  /* /members and /whois */
  world_command (bchat, "members");
  harness_wait_line (bob, "2 members:", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_lines (bob, bob_uid, PURPLE_MESSAGE_SYSTEM), >, 0);
  g_assert_cmpuint (harness_count_lines (bob, "Olivia", PURPLE_MESSAGE_SYSTEM), >, 0);
  world_command (ochat, "whois Bob Builder");
  harness_wait_line (owner, "Role: member", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_lines (owner, "write topics/{any}/messages",
                                         PURPLE_MESSAGE_SYSTEM), >, 0);

  /* /topic names the topic for everyone: chat topic and room list */
  world_command (ochat, "topic Everything and nothing");
  {
    TopicWait t = { bchat, "Everything and nothing" };
    harness_wait (topic_is, &t, 30, "the topic name in Bob's chat");
  }
  list = purple_roomlist_get_list (purple_account_get_connection (bob));
  g_assert_nonnull (list);
  harness_wait (roomlist_done, list, 30, "the room list");
  for (GList *l = list->rooms; l; l = l->next)
    {
      PurpleRoomlistRoom *room = l->data;

      if (g_strcmp0 (room->name, "Everything and nothing") == 0)
        {
          g_assert_cmpstr (room->fields->data, ==, TOPIC);
          found = TRUE;
        }
    }
  g_assert_true (found);
  purple_roomlist_unref (list);

  /* the invitation was for one person: a second use fails clearly */
  eve = harness_account_new ("eve", invitation, NULL, "");
  harness_account_connect (eve);
  harness_wait (shown_has, "Could not use the invitation", 30,
                "the spent invitation to be refused");
  harness_wait (harness_account_disconnected, eve, 30, "eve's login to fail");
  g_assert_nonnull (shown_find ("use limit"));

  purple_account_set_enabled (eve, "rdt-e2e", FALSE);
  purple_account_set_enabled (bob, "rdt-e2e", FALSE);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&s);
}

static gboolean
has_error_for (gpointer data)
{
  GPtrArray *errors = harness_errors ();

  for (guint i = 0; i < errors->len; i++)
    {
      HarnessError *e = errors->pdata[i];

      if (g_strcmp0 (e->account, data) == 0)
        return TRUE;
    }
  return FALSE;
}

static const gchar *
error_text_for (const gchar *user)
{
  GPtrArray *errors = harness_errors ();

  for (guint i = errors->len; i > 0; i--)
    {
      HarnessError *e = errors->pdata[i - 1];

      if (g_strcmp0 (e->account, user) == 0)
        return e->text;
    }
  return NULL;
}

static void
test_new_key_add_member (void)
{
  World s;
  PurpleAccount *owner, *carol;
  PurpleConvChat *ochat;
  g_autofree gchar *user = NULL, *uid = NULL, *line = NULL, *shortid = NULL;
  guint8 seed[32];

  world_new (&s, server);
  owner = world_owner_account (&s, TRUE);
  ochat = harness_join (owner, TOPIC);

  /* empty password: the plugin makes a key and says which id to hand over */
  user = g_strconcat ("carol@", s.space, NULL);
  carol = harness_account_new (user, "", rdt_test_server_get_url (server),
                               s.root_hex);
  harness_account_connect (carol);
  harness_wait (has_error_for, user, 30, "carol's login to be refused");
  g_assert_true (rdt_hex_decode (purple_account_get_password (carol), seed, 32, NULL));
  {
    g_autoptr (RdtSigningKey) k = rdt_signing_key_new_from_seed (seed);
    uid = rdt_signing_key_get_id (k, RDT_ID_USER);
  }
  rdt_wipe (seed, 32);
  g_assert_nonnull (strstr (error_text_for (user), uid));

  /* a non-id is refused locally, with help */
  {
    gchar *error = NULL;

    g_assert_cmpint (purple_cmd_do_command (purple_conv_chat_get_conversation (ochat),
                                            "add-member Ubogus", "add-member Ubogus",
                                            &error), ==, PURPLE_CMD_STATUS_FAILED);
    g_assert_nonnull (strstr (error, "not a member ID"));
    g_free (error);
  }
  line = g_strconcat ("add-member ", uid, NULL);
  world_command (ochat, line);
  harness_wait_line (owner, "done", PURPLE_MESSAGE_SYSTEM);
  /* the new member shows up in the owner's chat, then can log in */
  shortid = rdt_id_short (uid);
  harness_wait_chat_user (ochat, shortid, "the new member in the user list");
  harness_wait (harness_account_disconnected, carol, 30, "carol's first login to end");
  harness_account_connect (carol);
  harness_wait (harness_account_connected, carol, 30, "carol to log in as a member");

  purple_account_set_enabled (carol, "rdt-e2e", FALSE);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&s);
}

/* The same flows through the account actions (Pidgin's Accounts menu). */
static void
test_actions (void)
{
  World s;
  PurpleAccount *owner, *dan, *joined;
  PurpleConvChat *ochat;
  g_autofree gchar *invitation = NULL, *user = NULL, *dan_uid = NULL;
  g_autofree gchar *joined_user = NULL, *shortid = NULL;
  guint8 seed[32];
  guint before;

  world_new (&s, server);
  owner = world_owner_account (&s, TRUE);
  ochat = harness_join (owner, TOPIC);

  /* Set display name... */
  harness_run_action (owner, "Set display name");
  g_assert_nonnull (harness_prompt ());
  harness_answer_input ("Orla");
  harness_wait_chat_user (ochat, "Orla", "the owner's name from the action");

  /* Add a member by ID...: a bad id is refused with help, a good one works */
  before = harness_notifies ()->len;
  harness_run_action (owner, "Add a member by ID");
  harness_answer_input ("not-an-id");
  g_assert_cmpuint (harness_notifies ()->len, ==, before + 1);
  g_assert_nonnull (strstr (((HarnessNotify *) harness_notifies ()->pdata[before])->primary,
                            "not a member ID"));
  user = g_strconcat ("dan@", s.space, NULL);
  dan = harness_account_new (user, "", rdt_test_server_get_url (server), s.root_hex);
  harness_account_connect (dan);
  harness_wait (harness_account_disconnected, dan, 30, "dan's first login to be refused");
  g_assert_true (rdt_hex_decode (purple_account_get_password (dan), seed, 32, NULL));
  {
    g_autoptr (RdtSigningKey) k = rdt_signing_key_new_from_seed (seed);
    dan_uid = rdt_signing_key_get_id (k, RDT_ID_USER);
  }
  rdt_wipe (seed, 32);
  harness_run_action (owner, "Add a member by ID");
  harness_answer_input (dan_uid);
  harness_wait (shown_has, "Done.", 30, "the member to be added");
  shortid = rdt_id_short (dan_uid);
  harness_wait_chat_user (ochat, shortid, "dan in the user list");
  harness_account_connect (dan);
  harness_wait (harness_account_connected, dan, 30, "dan to log in");
  /* Show my member ID: a member, not the owner, is told to ask an admin;
   * the id whole on a line of its own */
  before = harness_notifies ()->len;
  harness_run_action (dan, "member ID");
  g_assert_cmpuint (harness_notifies ()->len, ==, before + 1);
  {
    HarnessNotify *n = harness_notifies ()->pdata[before];
    g_autofree gchar *field = g_strdup_printf ("\nYour member ID:\n%s\n",
                                               dan_uid);

    g_assert_nonnull (strstr (n->text, field));
    g_assert_nonnull (strstr (n->text, "admin"));
  }

  /* Dan takes the owner's name: neither may pass for the other, both
   * get their short id added */
  {
    g_autofree gchar *owner_uid = rdt_signing_key_get_id (s.key, RDT_ID_USER);
    g_autofree gchar *owner_short = rdt_id_short (owner_uid);
    g_autofree gchar *dan_nick = g_strdup_printf ("Orla (%s)", shortid);
    g_autofree gchar *owner_nick = g_strdup_printf ("Orla (%s)", owner_short);

    alias_result = 0;
    purple_account_set_public_alias (dan, "Orla", alias_ok, alias_failed);
    harness_wait (alias_done, &alias_result, 30, "dan's alias to be written");
    harness_wait_chat_user (ochat, dan_nick, "dan as Orla with his short id");
    harness_wait_chat_user (ochat, owner_nick, "the owner as Orla with hers");
    g_assert_false (purple_conv_chat_find_user (ochat, "Orla"));
    g_assert_cmpstr (purple_conv_chat_get_nick (ochat), ==, owner_nick);
  }

  /* Invite someone... then, from dan's account, Join another space with an
   * invitation...: a new account for the space (here: the same space, so
   * dan's local name gets another one) */
  notify_mark = harness_notifies ()->len;   /* only windows from here on */
  harness_run_action (owner, "Invite someone");
  harness_wait (shown_has, "Invitation created", 30, "the invitation window");
  invitation = harness_take_invitation ();
  harness_run_action (dan, "Join another space");
  g_assert_nonnull (harness_prompt ());
  g_assert_true (harness_prompt ()->masked);            /* it is a secret */
  harness_answer_input (invitation);
  /* same space, same local name: refused, nothing made */
  harness_wait (shown_has, "already have an account", 5, "the duplicate refusal");
  purple_account_set_username (dan, "dan2@elsewhere");
  harness_run_action (dan, "Join another space");
  harness_answer_input (invitation);
  joined_user = g_strconcat ("dan2@", s.space, NULL);
  joined = purple_accounts_find (joined_user, "prpl-reeeductio");
  g_assert_nonnull (joined);
  harness_wait (harness_account_connected, joined, 30, "the joined account to connect");
  g_assert_null (purple_account_get_string (joined, "pending_invitation", NULL));

  purple_account_set_enabled (joined, "rdt-e2e", FALSE);
  purple_account_set_enabled (dan, "rdt-e2e", FALSE);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&s);
}

/* ---- a hostile server: tampered state ---- */

/* Bob (a core client, not a libpurple account) writes his profile. */
static void
write_profile (RdtApi *api, RdtState *state, const gchar *name)
{
  g_autofree gchar *path = g_strconcat ("profiles/", rdt_api_get_member_id (api), NULL);
  g_autofree gchar *data = NULL;
  const gchar *paths[] = { path }, *datas[1];
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };

  data = rdt_state_encode_profile (state, name, &error);
  g_assert_no_error (error);
  datas[0] = data;
  rdt_state_write_async (api, paths, datas, 1, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "a profile write");
  g_assert_true (rdt_state_write_finish (api, a.result, &error));
  g_assert_no_error (error);
  g_object_unref (a.result);
}

static void
test_tampered_state (void)
{
  World s;
  PurpleAccount *owner;
  PurpleConvChat *ochat;
  g_autoptr (RdtSigningKey) bob = rdt_signing_key_generate ();
  g_autofree gchar *bob_uid = rdt_signing_key_get_id (bob, RDT_ID_USER);
  g_autofree gchar *bob_short = rdt_id_short (bob_uid);
  g_autoptr (RdtApi) owner_api = NULL, bob_api = NULL;
  g_autoptr (RdtSpaceKeys) keys = NULL;
  g_autoptr (RdtState) state = NULL;
  g_autoptr (GError) error = NULL;
  guint8 root[32];
  HarnessAsync a = { NULL };

  if (!rdt_test_server_require_local (server, "tamper and garbage faults on the state read"))
    return;
  world_new (&s, server);
  g_assert_true (rdt_hex_decode (s.root_hex, root, 32, NULL));
  keys = rdt_space_keys_new (root, s.space);
  rdt_wipe (root, 32);
  state = rdt_state_new (s.space, keys->state_key);
  owner_api = rdt_api_new (rdt_test_server_get_url (server), s.space, s.key,
                           RDT_ID_USER, &error);
  g_assert_no_error (error);
  rdt_membership_add_member_async (owner_api, bob_uid, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "bob to be added");
  g_assert_true (rdt_membership_add_member_finish (owner_api, a.result, &error));
  g_clear_object (&a.result);
  bob_api = rdt_api_new (rdt_test_server_get_url (server), s.space, bob,
                         RDT_ID_USER, &error);
  write_profile (bob_api, state, "Robert");

  /* The owner's first read of the state log comes back with one message
   * altered: it must be reported, and nothing after it trusted. */
  rdt_test_server_fault (server, "{\"action\":\"tamper\",\"mode\":\"data\","
                         "\"method\":\"GET\",\"path\":\"/topics/state/messages\","
                         "\"count\":1}");
  owner = world_owner_account (&s, TRUE);
  ochat = harness_join (owner, TOPIC);
  harness_wait_line (owner, "failed verification", PURPLE_MESSAGE_ERROR);
  g_assert_false (purple_conv_chat_find_user (ochat, "Robert"));

  /* the next change re-reads the log, untampered: the name is the latest */
  write_profile (bob_api, state, "Bobby");
  harness_wait_chat_user (ochat, "Bobby", "bob's name after an honest read");
  g_assert_false (purple_conv_chat_find_user (ochat, "Robert"));
  g_assert_cmpuint (harness_count_lines (owner, "known as Robert", 0), ==, 0);
  (void) bob_short;

  /* a garbled answer is reported as such; the next read recovers. The
   * profile is posted on a head read before the fault is set, so that the
   * owner's read is the first to meet it. */
  {
    g_autofree gchar *path = g_strconcat ("profiles/", bob_uid, NULL);
    g_autofree gchar *data = rdt_state_encode_profile (state, "Bob the Third", NULL);
    RdtMessage *m;
    gint64 posted = -1;

    /* the plugin writes the state too (its default topic name): a post on
     * a head it just moved gets 409; read again and post again */
    for (guint tries = 0; posted < 0 && tries < 5; tries++)
      {
        rdt_test_server_clear_faults (server);
        g_clear_error (&error);
        rdt_state_sync_async (state, bob_api, NULL, harness_async_cb, &a);
        harness_wait (harness_async_done, &a, 30, "bob's read of the state");
        g_assert_true (rdt_state_sync_finish (state, a.result, NULL, NULL, &error));
        g_clear_object (&a.result);
        m = rdt_message_new_signed (s.space, "state", path,
                                    rdt_state_get_head (state), data, bob_uid,
                                    bob);
        /* until cleared: under load another state read (the plugin's own
         * default topic name write, retrying a 409) took a single garbled
         * answer, and the owner's read then went through */
        rdt_test_server_fault (server, "{\"action\":\"garbage\",\"method\":\"GET\","
                               "\"path\":\"/topics/state/messages\"}");
        rdt_api_post_message_async (bob_api, m, NULL, harness_async_cb, &a);
        harness_wait (harness_async_done, &a, 30, "bob's profile post");
        posted = rdt_api_post_message_finish (bob_api, a.result, &error);
        g_clear_object (&a.result);
        rdt_message_unref (m);
        if (posted < 0)
          g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT);
      }
    g_assert_no_error (error);
    g_assert_cmpint (posted, >, 0);
  }
  harness_wait_line (owner, "could not read the space's members", PURPLE_MESSAGE_ERROR);
  rdt_test_server_clear_faults (server);
  write_profile (bob_api, state, "Bob the Fourth");
  harness_wait_chat_user (ochat, "Bob the Fourth", "bob's name after the garbled read");

  /* a topic nobody named, seen on the stream, is in the room list too */
  {
    guint8 key[32];
    g_autofree gchar *payload = NULL;
    RdtMessage *m;
    PurpleRoomlist *list;
    gboolean found = FALSE;

    rdt_space_keys_topic_key (keys, "offtopic", key);
    payload = rdt_payload_encrypt (key, (const guint8 *) "hi", 2);
    rdt_wipe (key, 32);
    m = rdt_message_new_signed (s.space, "offtopic", "chat.text", NULL, payload,
                                rdt_api_get_member_id (bob_api), bob);
    rdt_api_post_message_async (bob_api, m, NULL, harness_async_cb, &a);
    harness_wait (harness_async_done, &a, 30, "a post to another topic");
    g_assert_cmpint (rdt_api_post_message_finish (bob_api, a.result, &error), >, 0);
    g_clear_object (&a.result);
    rdt_message_unref (m);
    for (gint tries = 0; tries < 100 && !found; tries++)
      {
        list = purple_roomlist_get_list (purple_account_get_connection (owner));
        harness_wait (roomlist_done, list, 30, "the room list");
        for (GList *l = list->rooms; l; l = l->next)
          if (g_strcmp0 (((PurpleRoomlistRoom *) l->data)->fields->data, "offtopic") == 0)
            found = TRUE;
        purple_roomlist_unref (list);
      }
    g_assert_true (found);
  }

  rdt_test_server_clear_faults (server);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&s);
}

/* ---- nicks: every member one nick, never ours (spec 12) ---- */

/* A member id that starts like `like` (the same short id, "ground"), but
 * differs from its 11th character on; nobody has its key. */
static gchar *
ground_id (World *w, const gchar *like)
{
  guint8 pk[32];
  gchar *uid;

  g_assert_true (rdt_id_get_public_key (like, pk, NULL));
  rdt_random_bytes (pk + 8, 24);
  pk[8] ^= 0xff;
  uid = rdt_id_encode (RDT_ID_USER, pk);
  g_assert_cmpint (strncmp (uid, like, 9), ==, 0);
  g_assert_cmpint (strncmp (uid, like, 17), !=, 0);
  world_add_member (w, uid);
  return uid;
}

/* The newest line of a containing text that is not a system line. */
static HarnessLine *
line_of (PurpleAccount *a, const gchar *text)
{
  GPtrArray *lines = harness_lines ();

  for (guint i = lines->len; i > 0; i--)
    {
      HarnessLine *l = lines->pdata[i - 1];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          strstr (l->text, text) &&
          !(l->flags & (PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_ERROR)))
        return l;
    }
  return NULL;
}

/* c says text; the owner sees it from `nick`, not as its own line. */
static void
said_by (World *w, PurpleAccount *owner, Core *c, const gchar *text,
         const gchar *nick)
{
  HarnessLine *l;

  world_say (w, c, TOPIC, text);
  harness_wait_line (owner, text, PURPLE_MESSAGE_RECV);
  l = line_of (owner, text);
  g_assert_nonnull (l);
  g_assert_cmpstr (l->who, ==, nick);
  g_assert_false (l->flags & PURPLE_MESSAGE_SEND);
}

/* The member id libpurple gets for a nick (/whois, user info). */
static gchar *
real_name (PurpleConvChat *chat, const gchar *nick)
{
  PurpleConnection *gc = purple_conversation_get_gc (
      purple_conv_chat_get_conversation (chat));
  PurplePluginProtocolInfo *info =
      PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));

  return info->get_cb_real_name (gc, purple_conv_chat_get_id (chat), nick);
}

static gchar *
nick_with (const gchar *name, const gchar *uid, guint shown)
{
  g_autofree gchar *id = g_strndup (uid, shown);

  return name ? g_strdup_printf ("%s (%s)", name, id) : g_steal_pointer (&id);
}

/* Names that are one name to a reader or to libpurple, and a name made
 * to be someone else's nick: each member still gets a nick of its own,
 * and nobody's lines pass for ours. */
static void
test_nick_clashes (void)
{
  World w;
  Core *alice1, *alice2, *mallory, *zed;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  /* "Zoë" composed (ours) and decomposed (zed's) */
  const gchar *zoe_nfc = "Zo\xc3\xab", *zoe_nfd = "Zoe\xcc\x88";
  g_autofree gchar *own = NULL, *zed_nick = NULL, *a1 = NULL, *a2 = NULL;
  g_autofree gchar *forged = NULL, *mal_nick = NULL, *uid = NULL;

  world_new (&w, server);
  alice1 = world_core_new (&w, TRUE);
  alice2 = world_core_new (&w, TRUE);
  mallory = world_core_new (&w, TRUE);
  zed = world_core_new (&w, TRUE);
  world_set_name (&w, w.owner_uid, zoe_nfc);
  world_set_name (&w, zed->uid, zoe_nfd);
  world_set_name (&w, alice1->uid, "Alice");
  world_set_name (&w, alice2->uid, "Alice");
  /* exactly what the first Alice is shown as */
  forged = nick_with ("Alice", alice1->uid, 9);
  world_set_name (&w, mallory->uid, forged);

  own = nick_with (zoe_nfc, w.owner_uid, 9);
  zed_nick = nick_with (zoe_nfd, zed->uid, 9);
  a1 = nick_with ("Alice", alice1->uid, 9);
  a2 = nick_with ("Alice", alice2->uid, 9);
  mal_nick = nick_with (forged, mallory->uid, 9);
  owner = world_owner_account (&w, TRUE);
  chat = harness_join (owner, TOPIC);
  {
    const gchar *all[] = { own, zed_nick, a1, a2, mal_nick, NULL };

    harness_wait_chat_users (chat, all, "one nick per member");
  }
  g_assert_cmpstr (purple_conv_chat_get_nick (chat), ==,
                   purple_normalize (owner, own));
  /* what /whois and user info resolve */
  uid = real_name (chat, a1);
  g_assert_cmpstr (uid, ==, alice1->uid);
  g_free (uid);
  uid = real_name (chat, mal_nick);
  g_assert_cmpstr (uid, ==, mallory->uid);
  g_free (uid);
  uid = real_name (chat, zed_nick);
  g_assert_cmpstr (uid, ==, zed->uid);
  g_free (uid);
  uid = real_name (chat, own);
  g_assert_cmpstr (uid, ==, w.owner_uid);
  {
    g_autofree gchar *line = g_strconcat ("whois ", a1, NULL);

    world_command (chat, line);
    g_assert_cmpuint (harness_count_lines (owner, alice1->uid,
                                           PURPLE_MESSAGE_SYSTEM), ==, 1);
    g_assert_cmpuint (harness_count_lines (owner, mallory->uid,
                                           PURPLE_MESSAGE_SYSTEM), ==, 0);
  }

  /* lines come from whom they are from */
  said_by (&w, owner, zed, "zed speaking", zed_nick);
  said_by (&w, owner, mallory, "mallory speaking", mal_nick);
  said_by (&w, owner, alice1, "alice one speaking", a1);
  said_by (&w, owner, alice2, "alice two speaking", a2);

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_core_free (alice1);
  world_core_free (alice2);
  world_core_free (mallory);
  world_core_free (zed);
  world_clear (&w);
}

/* Ids that share a short id (46 bits can be ground): the nicks show more
 * of those ids, ours included, and a short id that is not unique names
 * nobody. */
static void
test_ground_ids (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  Core *base;
  g_autofree gchar *twin = NULL, *gus = NULL, *gus_twin = NULL;
  g_autofree gchar *own = NULL, *twin_nick = NULL, *gus_twin_nick = NULL;
  g_autofree gchar *owner_short = NULL, *line = NULL, *uid = NULL;
  gchar *error = NULL;

  world_new (&w, server);
  twin = ground_id (&w, w.owner_uid);           /* nameless, like us */
  base = world_core_new (&w, TRUE);
  gus = ground_id (&w, base->uid);              /* named */
  gus_twin = ground_id (&w, base->uid);         /* nameless */
  world_set_name (&w, gus, "Gus");
  world_set_name (&w, base->uid, "Base");

  own = nick_with (NULL, w.owner_uid, 17);
  twin_nick = nick_with (NULL, twin, 17);
  gus_twin_nick = nick_with (NULL, gus_twin, 17);
  owner = world_owner_account (&w, TRUE);
  chat = harness_join (owner, TOPIC);
  {
    const gchar *all[] = { own, twin_nick, "Gus", "Base", gus_twin_nick, NULL };

    harness_wait_chat_users (chat, all,
                             "one nick per member, ground ids included");
  }
  g_assert_cmpstr (purple_conv_chat_get_nick (chat), ==, own);
  uid = real_name (chat, twin_nick);
  g_assert_cmpstr (uid, ==, twin);
  g_free (uid);
  uid = real_name (chat, gus_twin_nick);
  g_assert_cmpstr (uid, ==, gus_twin);
  g_free (uid);
  uid = real_name (chat, own);
  g_assert_cmpstr (uid, ==, w.owner_uid);
  /* the short id we and the twin share is nobody's */
  owner_short = rdt_id_short (w.owner_uid);
  line = g_strconcat ("whois ", owner_short, NULL);
  g_assert_cmpint (purple_cmd_do_command (purple_conv_chat_get_conversation (chat),
                                          line, line, &error),
                   ==, PURPLE_CMD_STATUS_FAILED);
  g_assert_nonnull (strstr (error, "No member called"));
  g_free (error);
  said_by (&w, owner, base, "base speaking", "Base");

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_core_free (base);
  world_clear (&w);
}

/* The owner posts a state entry directly, chained on *head. */
static void
post_state (World *w, gchar **head, const gchar *path, const gchar *data)
{
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };
  RdtMessage *m;

  m = rdt_message_new_signed (w->space, "state", path, *head, data,
                              w->owner_uid, w->key);
  rdt_api_post_message_async (w->owner_api, m, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "a state post");
  g_assert_cmpint (rdt_api_post_message_finish (w->owner_api, a.result, &error), >, 0);
  g_assert_no_error (error);
  g_object_unref (a.result);
  g_free (*head);
  *head = g_strdup (m->message_hash);
  rdt_message_unref (m);
}

typedef struct {
  PurpleConvChat *chat;
  const gchar *nick, *uid;
} NickIs;

static gboolean
nick_is (gpointer data)
{
  NickIs *n = data;
  g_autofree gchar *uid = real_name (n->chat, n->nick);

  return g_strcmp0 (uid, n->uid) == 0;
}

/* Two members swap names, and the owner reads both changes in one sync:
 * the user list ends right, each line under its sender's new name. */
static void
test_swap_names (void)
{
  World w;
  Core *bob, *carl;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  g_autofree gchar *own = NULL, *head = NULL;
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };

  if (!rdt_test_server_require_local (server, "a garbage fault on the state read "
                                      "while both rename"))
    return;
  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  carl = world_core_new (&w, TRUE);
  world_set_name (&w, bob->uid, "Xavier");
  world_set_name (&w, carl->uid, "Yvonne");
  owner = world_owner_account (&w, TRUE);
  chat = harness_join (owner, TOPIC);
  own = rdt_id_short (w.owner_uid);
  {
    const gchar *all[] = { own, "Xavier", "Yvonne", NULL };

    harness_wait_chat_users (chat, all, "bob and carl under their names");
  }
  said_by (&w, owner, bob, "bob before", "Xavier");

  /* The plugin names the topic it joined: its state write must be in
   * before the test chains its own on the head. */
  {
    g_autofree gchar *mp = g_strconcat ("topics/", TOPIC, "/metadata", NULL);

    for (guint tries = 0; ; tries++)
      {
        rdt_state_sync_async (w.state, w.owner_api, NULL, harness_async_cb, &a);
        harness_wait (harness_async_done, &a, 30, "the test's read of the state");
        g_assert_true (rdt_state_sync_finish (w.state, a.result, NULL, NULL, &error));
        g_clear_object (&a.result);
        if (rdt_state_lookup (w.state, mp) != NULL)
          break;
        g_assert_cmpuint (tries, <, 300);
        harness_pause (100, "a pause between reads");
      }
  }
  /* both renames land while the owner cannot read the state; the next
   * read has both */
  head = g_strdup (rdt_state_get_head (w.state));
  rdt_test_server_fault (server, "{\"action\":\"garbage\",\"method\":\"GET\","
                         "\"path\":\"/topics/state/messages\"}");
  {
    g_autofree gchar *bp = g_strconcat ("profiles/", bob->uid, NULL);
    g_autofree gchar *cp = g_strconcat ("profiles/", carl->uid, NULL);
    g_autofree gchar *bd = rdt_state_encode_profile (w.state, "Yvonne", NULL);
    g_autofree gchar *cd = rdt_state_encode_profile (w.state, "Xavier", NULL);
    g_autofree gchar *meta = rdt_state_encode_topic_metadata (w.state, TOPIC,
                                                              "After the swap", NULL);
    g_autofree gchar *mp = g_strconcat ("topics/", TOPIC, "/metadata", NULL);

    post_state (&w, &head, bp, bd);
    post_state (&w, &head, cp, cd);
    rdt_test_server_clear_faults (server);
    /* one more change, so that the owner reads again now */
    post_state (&w, &head, mp, meta);
  }
  {
    NickIs n = { chat, "Yvonne", bob->uid };
    TopicWait t = { chat, "After the swap" };

    harness_wait (topic_is, &t, 30, "the read after the swap");
    harness_wait (nick_is, &n, 30, "bob as Yvonne");
  }
  {
    const gchar *all[] = { own, "Xavier", "Yvonne", NULL };

    harness_wait_chat_users (chat, all, "the user list after the swap");
  }
  {
    g_autofree gchar *uid = real_name (chat, "Xavier");

    g_assert_cmpstr (uid, ==, carl->uid);
  }
  said_by (&w, owner, bob, "bob after", "Yvonne");
  said_by (&w, owner, carl, "carl after", "Xavier");

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_core_free (bob);
  world_core_free (carl);
  world_clear (&w);
}

/* ---- invitations: kept while the server says "later" ---- */

static void
test_invitation_kept (void)
{
  World s;
  PurpleAccount *owner, *fred;
  PurpleConvChat *ochat;
  g_autofree gchar *invitation = NULL, *user = NULL;
  const gchar *text;

  if (!rdt_test_server_require_local (server, "a 409 fault on every state write"))
    return;
  world_new (&s, server);
  owner = world_owner_account (&s, TRUE);
  ochat = harness_join (owner, TOPIC);
  notify_mark = harness_notifies ()->len;
  world_command (ochat, "invite");
  harness_wait (shown_has, "Invitation created", 30, "the invitation window");
  invitation = harness_take_invitation ();

  /* every state write loses the race (409): try again later */
  rdt_test_server_fault (server, "{\"action\":\"status\",\"status\":409,"
                         "\"method\":\"POST\",\"path\":\"/topics/state/messages\","
                         "\"count\":200}");
  fred = harness_account_new ("fred", invitation, NULL, "");
  harness_account_connect (fred);
  user = g_strconcat ("fred@", s.space, NULL);
  harness_wait (has_error_for, user, 60, "fred's redemption to fail");
  rdt_test_server_clear_faults (server);
  harness_wait (harness_account_disconnected, fred, 30, "fred's login to end");
  text = error_text_for (user);
  g_assert_nonnull (strstr (text, "kept"));
  g_assert_nonnull (purple_account_get_string (fred, "pending_invitation", NULL));
  g_assert_null (shown_find ("Could not use the invitation"));

  /* the next login uses it */
  harness_account_connect (fred);
  harness_wait (harness_account_connected, fred, 30, "fred to join at the next login");
  g_assert_null (purple_account_get_string (fred, "pending_invitation", NULL));

  purple_account_set_enabled (fred, "rdt-e2e", FALSE);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&s);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  harness_prompts_install ();

  g_test_add_func ("/members/invitation-names-topics", test_invitation_names_topics);
  g_test_add_func ("/members/new-key-add-member", test_new_key_add_member);
  g_test_add_func ("/members/actions", test_actions);
  g_test_add_func ("/members/tampered-state", test_tampered_state);
  g_test_add_func ("/members/nick-clashes", test_nick_clashes);
  g_test_add_func ("/members/ground-ids", test_ground_ids);
  g_test_add_func ("/members/swap-names", test_swap_names);
  g_test_add_func ("/members/invitation-kept", test_invitation_kept);
  return world_run (server);
}
