/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-nicks.c - names as nicks in chats (issue #15), end to end: libpurple's
 * core with the plugin against the test server, other members played by
 * core clients.
 *
 * Covered: our own display name is our nick (user list, our lines, kept
 * SEND) live, after rejoining and after logging in again; backlog lines
 * come from the names members chose even when the state is slower than the
 * backlog; the user list arrives in one call when the chat opens, later
 * members as arrivals. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "membership.h"
#include "statesync.h"
#include "testserver.h"

#define TOPIC "general"

static RdtTestServer *server;

/* ---- a space the test writes through the core ---- */

typedef struct {
  RdtSigningKey *key;       /* the owner's */
  gchar *space, *seed_hex, *root_hex, *owner_uid;
  RdtApi *owner_api;
  RdtSpaceKeys *keys;
  RdtState *state;          /* encodes profiles */
} World;

typedef struct {
  RdtSigningKey *key;
  gchar *uid;
  RdtApi *api;
} Core;

static void
world_new (World *w)
{
  guint8 root[32];
  g_autoptr (GError) error = NULL;

  memset (w, 0, sizeof *w);
  w->key = rdt_signing_key_generate ();
  w->space = rdt_signing_key_get_id (w->key, RDT_ID_SPACE);
  w->owner_uid = rdt_signing_key_get_id (w->key, RDT_ID_USER);
  rdt_random_bytes (root, 32);
  w->seed_hex = harness_seed_hex (w->key);
  w->root_hex = rdt_hex_encode (root, 32);
  w->keys = rdt_space_keys_new (root, w->space);
  rdt_wipe (root, 32);
  w->state = rdt_state_new (w->space, w->keys->state_key);
  w->owner_api = rdt_api_new (rdt_test_server_get_url (server), w->space,
                              w->key, RDT_ID_USER, &error);
  g_assert_no_error (error);
}

static void
world_clear (World *w)
{
  g_object_unref (w->owner_api);
  rdt_state_free (w->state);
  rdt_space_keys_free (w->keys);
  rdt_signing_key_free (w->key);
  g_free (w->space);
  g_free (w->seed_hex);
  g_free (w->root_hex);
  g_free (w->owner_uid);
}

static PurpleAccount *
owner_account (World *w)
{
  g_autofree gchar *user = g_strconcat ("owner@", w->space, NULL);
  g_autofree gchar *joined = g_strconcat ("joined_event:", w->space, NULL);
  PurpleAccount *a = harness_account_new (user, w->seed_hex,
                                          rdt_test_server_get_url (server),
                                          w->root_hex);

  /* joined already: no event.join line of ours in the chats */
  purple_account_set_string (a, joined, "");
  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "owner to connect");
  return a;
}

static Core *
core_new (World *w, gboolean add)
{
  Core *c = g_new0 (Core, 1);
  g_autoptr (GError) error = NULL;

  c->key = rdt_signing_key_generate ();
  c->uid = rdt_signing_key_get_id (c->key, RDT_ID_USER);
  c->api = rdt_api_new (rdt_test_server_get_url (server), w->space, c->key,
                        RDT_ID_USER, &error);
  g_assert_no_error (error);
  if (add)
    {
      HarnessAsync a = { NULL };

      rdt_membership_add_member_async (w->owner_api, c->uid, NULL,
                                       harness_async_cb, &a);
      harness_wait (harness_async_done, &a, 30, "a member to be added");
      g_assert_true (rdt_membership_add_member_finish (w->owner_api, a.result,
                                                       &error));
      g_assert_no_error (error);
      g_object_unref (a.result);
    }
  return c;
}

static void
core_free (Core *c)
{
  g_clear_object (&c->api);
  rdt_signing_key_free (c->key);
  g_free (c->uid);
  g_free (c);
}

/* The owner names a member (owner-signed profiles count, spec 12). */
static void
set_name (World *w, const gchar *uid, const gchar *name)
{
  g_autofree gchar *path = g_strconcat ("profiles/", uid, NULL);
  g_autofree gchar *data = NULL;
  const gchar *paths[] = { path }, *datas[1];
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };

  data = rdt_state_encode_profile (w->state, name, &error);
  g_assert_no_error (error);
  datas[0] = data;
  rdt_state_write_async (w->owner_api, paths, datas, 1, NULL,
                         harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "a profile write");
  g_assert_true (rdt_state_write_finish (w->owner_api, a.result, &error));
  g_assert_no_error (error);
  g_object_unref (a.result);
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

/* key/uid/api post a message of type with text into TOPIC, chained on
 * the server's head. */
static void
post (World *w, RdtApi *api, const gchar *uid, RdtSigningKey *key,
      const gchar *type, const gchar *text)
{
  guint8 tkey[32];
  g_autofree gchar *payload = NULL, *prev = NULL;
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };
  gboolean due = FALSE;
  GPtrArray *newest;
  RdtMessage *m;

  rdt_api_get_messages_async (api, TOPIC, G_GINT64_CONSTANT (9999999999999),
                              0, 1, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "the topic's head");
  newest = rdt_api_get_messages_finish (api, a.result, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&a.result);
  if (newest->len > 0)
    prev = g_strdup (((RdtMessage *) newest->pdata[0])->message_hash);
  g_ptr_array_unref (newest);
  rdt_space_keys_topic_key (w->keys, TOPIC, tkey);
  payload = rdt_payload_encrypt (tkey, (const guint8 *) text, strlen (text));
  rdt_wipe (tkey, 32);
  m = rdt_message_new_signed (w->space, TOPIC, type, prev, payload, uid, key);
  rdt_api_post_message_async (api, m, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "a post");
  g_assert_cmpint (rdt_api_post_message_finish (api, a.result, &error), >, 0);
  g_assert_no_error (error);
  g_object_unref (a.result);
  rdt_message_unref (m);
  /* spec 4.6: same-millisecond posts tie */
  g_timeout_add (3, flag_due, &due);
  harness_wait (flag_set, &due, 5, "the pause between posts");
}

static void
say (World *w, RdtApi *api, const gchar *uid, RdtSigningKey *key,
     const gchar *text)
{
  post (w, api, uid, key, "chat.text", text);
}

/* ---- what the UI got ---- */

static void
command (PurpleConvChat *chat, const gchar *line)
{
  gchar *error = NULL;
  PurpleCmdStatus st;

  st = purple_cmd_do_command (purple_conv_chat_get_conversation (chat), line,
                              line, &error);
  if (st != PURPLE_CMD_STATUS_OK)
    g_error ("/%s: status %d, %s", line, st, error ? error : "");
  g_free (error);
}

/* The lines of a (not system or error lines) containing text. */
static GPtrArray *
lines_with (PurpleAccount *a, const gchar *text)
{
  GPtrArray *lines = harness_lines (), *out = g_ptr_array_new ();

  for (guint i = 0; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          strstr (l->text, text) &&
          !(l->flags & (PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_ERROR)))
        g_ptr_array_add (out, l);
    }
  return out;
}

/* Every line of a with text is from who; own ones are SEND. */
static void
assert_from (PurpleAccount *a, const gchar *text, const gchar *who,
             gboolean own, guint n)
{
  g_autoptr (GPtrArray) found = lines_with (a, text);

  g_assert_cmpuint (found->len, ==, n);
  for (guint i = 0; i < found->len; i++)
    {
      HarnessLine *l = found->pdata[i];

      g_assert_cmpstr (l->who, ==, who);
      /* what Pidgin and Finch show: for ours the connection's name */
      g_assert_cmpstr (l->alias, ==, who);
      g_assert_cmpint (!!(l->flags & PURPLE_MESSAGE_SEND), ==, own);
      g_assert_cmpint (!!(l->flags & PURPLE_MESSAGE_RECV), ==, !own);
    }
}

typedef struct {
  PurpleConvChat *chat;
  const gchar * const *nicks;
} UsersWait;

/* The chat lists exactly these nicks. */
static gboolean
users_are (gpointer data)
{
  UsersWait *u = data;
  GList *users = purple_conv_chat_get_users (u->chat);
  guint n = g_strv_length ((gchar **) u->nicks);

  if (g_list_length (users) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!purple_conv_chat_find_user (u->chat, u->nicks[i]))
      return FALSE;
  return TRUE;
}

static void
wait_users (PurpleConvChat *chat, const gchar * const *nicks, const gchar *what)
{
  UsersWait u = { chat, nicks };

  harness_wait (users_are, &u, 30, what);
}

typedef struct {
  PurpleAccount *a;
  const gchar *text;
  guint n;
} LinesWait;

static gboolean
lines_seen (gpointer data)
{
  LinesWait *w = data;
  g_autoptr (GPtrArray) found = lines_with (w->a, w->text);

  return found->len >= w->n;
}

static void
wait_lines (PurpleAccount *a, const gchar *text, guint n)
{
  LinesWait w = { a, text, n };

  harness_wait (lines_seen, &w, 30, text);
}

/* Our entry in the user list: Pidgin shows its alias, the connection's
 * display name when it was added or renamed. */
static void
assert_own_entry (PurpleConvChat *chat, const gchar *name)
{
  PurpleConvChatBuddy *cb = purple_conv_chat_cb_find (chat, name);

  g_assert_nonnull (cb);
  g_assert_cmpstr (cb->alias, ==, name);
}

static gboolean
nick_is (gpointer data)
{
  UsersWait *u = data;

  return g_strcmp0 (purple_conv_chat_get_nick (u->chat), u->nicks[0]) == 0;
}

/* ---- tests ---- */

/* /nick: our name is the chat's nick, the user list shows it and our
 * lines come from it (SEND), live, after rejoining and after a new login. */
static void
test_own_name (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  const gchar *name = "Alice Owner";
  const gchar *me[] = { name, NULL };
  g_autofree gchar *normal = NULL;
  UsersWait u;

  world_new (&w);
  owner = owner_account (&w);
  chat = harness_join (owner, TOPIC);
  /* Pidgin refreshes a chat with purple_strreplace (topic, ...): a chat
   * has a topic from the start (two criticals at each join before) */
  g_assert_true (g_str_has_prefix (purple_conv_chat_get_topic (chat), TOPIC));
  command (chat, "nick Alice Owner");
  normal = g_strdup (purple_normalize (owner, name));
  u.chat = chat;
  u.nicks = (const gchar * const []) { normal, NULL };
  harness_wait (nick_is, &u, 30, "our name as the chat's nick");
  wait_users (chat, me, "our name in the user list");
  assert_own_entry (chat, name);
  g_assert_cmpstr (purple_connection_get_display_name (
      purple_account_get_connection (owner)), ==, name);
  purple_conv_chat_send (chat, "first own line");
  wait_lines (owner, "first own line", 1);
  assert_from (owner, "first own line", name, TRUE, 1);

  /* left and joined again */
  purple_conversation_destroy (purple_conv_chat_get_conversation (chat));
  chat = harness_join (owner, TOPIC);
  wait_lines (owner, "first own line", 2);
  wait_users (chat, me, "our name in the user list after rejoining");
  assert_own_entry (chat, name);
  g_assert_cmpstr (purple_conv_chat_get_nick (chat), ==, normal);
  assert_from (owner, "first own line", name, TRUE, 2);
  purple_conv_chat_send (chat, "second own line");
  wait_lines (owner, "second own line", 1);
  assert_from (owner, "second own line", name, TRUE, 1);

  /* logged out and in again */
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  harness_wait (harness_account_disconnected, owner, 30, "the logout");
  harness_account_connect (owner);
  harness_wait (harness_account_connected, owner, 30, "the new login");
  chat = harness_join (owner, TOPIC);
  wait_lines (owner, "second own line", 2);
  wait_users (chat, me, "our name in the user list after a new login");
  assert_own_entry (chat, name);
  g_assert_cmpstr (purple_conv_chat_get_nick (chat), ==, normal);
  assert_from (owner, "first own line", name, TRUE, 3);
  assert_from (owner, "second own line", name, TRUE, 2);
  g_assert_cmpstr (purple_connection_get_display_name (
      purple_account_get_connection (owner)), ==, name);
  purple_conv_chat_send (chat, "third own line");
  wait_lines (owner, "third own line", 1);
  assert_from (owner, "third own line", name, TRUE, 1);

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

/* The add_users calls of a's chat TOPIC since mark. */
static GPtrArray *
adds_since (PurpleAccount *a, guint mark)
{
  GPtrArray *all = harness_user_adds (), *out = g_ptr_array_new ();

  for (guint i = mark; i < all->len; i++)
    {
      HarnessUserAdd *u = all->pdata[i];

      if (g_strcmp0 (u->account, purple_account_get_username (a)) == 0 &&
          g_strcmp0 (u->conv, TOPIC) == 0)
        g_ptr_array_add (out, u);
    }
  return out;
}

typedef struct {
  PurpleAccount *a;
  guint mark;
} AddsWait;

static gboolean
arrival_seen (gpointer data)
{
  AddsWait *w = data;
  g_autoptr (GPtrArray) adds = adds_since (w->a, w->mark);

  for (guint i = 0; i < adds->len; i++)
    if (((HarnessUserAdd *) adds->pdata[i])->new_arrivals)
      return TRUE;
  return FALSE;
}

/* Members with names posted before we join, and the state is slower than
 * the backlog: the backlog lines still come from the names, ours too, the
 * user list comes in one call and a member added later is an arrival. */
static void
test_backlog_names (void)
{
  World w;
  Core *bob, *carol;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  g_autofree gchar *carol_short = NULL;
  const gchar *both[] = { "Olga Owner", "Bob Builder", NULL };
  guint mark;

  if (!rdt_test_server_require_local (server, "a delayed state read"))
    return;
  world_new (&w);
  bob = core_new (&w, TRUE);
  set_name (&w, w.owner_uid, "Olga Owner");
  set_name (&w, bob->uid, "Bob Builder");
  post (&w, bob->api, bob->uid, bob->key, "event.join", "{}");
  say (&w, bob->api, bob->uid, bob->key, "bob in the backlog");
  say (&w, w.owner_api, w.owner_uid, w.key, "olga in the backlog");
  /* the first state read answers well after the backlog */
  rdt_test_server_fault (server,
      "{\"action\":\"delay\",\"path\":\"/topics/state/messages\","
      "\"method\":\"GET\",\"delay_ms\":1500,\"count\":1}");
  mark = harness_user_adds ()->len;
  owner = owner_account (&w);
  chat = harness_join (owner, TOPIC);
  wait_lines (owner, "olga in the backlog", 1);
  assert_from (owner, "bob in the backlog", "Bob Builder", FALSE, 1);
  /* an event line names its member when it is written, too */
  g_assert_cmpuint (harness_count_lines (owner, "Bob Builder joined the space",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  assert_from (owner, "olga in the backlog", "Olga Owner", TRUE, 1);
  /* the name was ours before the first line: no rename */
  g_assert_cmpuint (harness_count_lines (owner, "You are now known as",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  wait_users (chat, both, "both names in the user list");
  assert_own_entry (chat, "Olga Owner");
  {
    g_autoptr (GPtrArray) adds = adds_since (owner, mark);
    HarnessUserAdd *u;

    g_assert_cmpuint (adds->len, ==, 1);
    u = adds->pdata[0];
    g_assert_false (u->new_arrivals);
    g_assert_cmpuint (g_strv_length (u->users), ==, 2);
  }

  /* a member added now arrives */
  mark = harness_user_adds ()->len;
  carol = core_new (&w, TRUE);
  carol_short = rdt_id_short (carol->uid);
  {
    AddsWait aw = { owner, mark };
    g_autoptr (GPtrArray) adds = NULL;
    HarnessUserAdd *u;

    harness_wait (arrival_seen, &aw, 30, "carol to arrive");
    adds = adds_since (owner, mark);
    g_assert_cmpuint (adds->len, ==, 1);
    u = adds->pdata[0];
    g_assert_true (u->new_arrivals);
    g_assert_cmpuint (g_strv_length (u->users), ==, 1);
    g_assert_cmpstr (u->users[0], ==, carol_short);
  }

  rdt_test_server_clear_faults (server);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  core_free (bob);
  core_free (carol);
  world_clear (&w);
}

/* The state read takes longer than the wait for it: the backlog goes out
 * under short ids after the bound, then the names replace them in the
 * list (renames, not arrivals). */
static void
test_names_late (void)
{
  World w;
  Core *bob;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  g_autofree gchar *bob_short = NULL;
  const gchar *both[] = { "Olga Owner", "Bob Builder", NULL };
  guint mark;
  gint64 start;

  if (!rdt_test_server_require_local (server, "a delayed state read"))
    return;
  world_new (&w);
  bob = core_new (&w, TRUE);
  bob_short = rdt_id_short (bob->uid);
  set_name (&w, w.owner_uid, "Olga Owner");
  set_name (&w, bob->uid, "Bob Builder");
  say (&w, bob->api, bob->uid, bob->key, "bob before the names");
  rdt_test_server_fault (server,
      "{\"action\":\"delay\",\"path\":\"/topics/state/messages\","
      "\"method\":\"GET\",\"delay_ms\":8000,\"count\":1}");
  mark = harness_user_adds ()->len;
  owner = owner_account (&w);
  start = g_get_monotonic_time ();
  chat = harness_join (owner, TOPIC);
  wait_lines (owner, "bob before the names", 1);
  /* held for the names, but not for ever */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2500 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 7000 * 1000);
  assert_from (owner, "bob before the names", bob_short, FALSE, 1);
  wait_users (chat, both, "the names at last");
  {
    g_autoptr (GPtrArray) adds = adds_since (owner, mark);

    for (guint i = 0; i < adds->len; i++)
      g_assert_false (((HarnessUserAdd *) adds->pdata[i])->new_arrivals);
  }
  assert_own_entry (chat, "Olga Owner");

  rdt_test_server_clear_faults (server);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  core_free (bob);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  harness_init ();
  server = rdt_test_server_start (NULL);

  g_test_add_func ("/nicks/own-name", test_own_name);
  g_test_add_func ("/nicks/backlog-names", test_backlog_names);
  g_test_add_func ("/nicks/names-late", test_names_late);
  ret = g_test_run ();
  rdt_test_server_stop (server);
  purple_core_quit ();
  return ret;
}
