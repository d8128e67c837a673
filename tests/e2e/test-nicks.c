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
#include "world.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "membership.h"
#include "statesync.h"
#include "testserver.h"

#define TOPIC "general"

static RdtTestServer *server;

/* ---- what the UI got ---- */

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

typedef struct {
  PurpleConvChat *chat;
  const gchar *nick;
} NickWait;

static gboolean
nick_is (gpointer data)
{
  NickWait *u = data;

  return g_strcmp0 (purple_conv_chat_get_nick (u->chat), u->nick) == 0;
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
  NickWait u;

  world_new (&w, server);
  owner = world_owner_account (&w, TRUE);
  /* the history on every join, not just what is unread (our own lines
   * count as read) */
  purple_account_set_int (owner, "max_unread", 0);
  chat = harness_join (owner, TOPIC);
  /* Pidgin refreshes a chat with purple_strreplace (topic, ...): a chat
   * has a topic from the start (two criticals at each join before) */
  g_assert_true (g_str_has_prefix (purple_conv_chat_get_topic (chat), TOPIC));
  world_command (chat, "nick Alice Owner");
  normal = g_strdup (purple_normalize (owner, name));
  u.chat = chat;
  u.nick = normal;
  harness_wait (nick_is, &u, 30, "our name as the chat's nick");
  harness_wait_chat_users (chat, me, "our name in the user list");
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
  harness_wait_chat_users (chat, me,
                           "our name in the user list after rejoining");
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
  harness_wait_chat_users (chat, me,
                           "our name in the user list after a new login");
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
  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  world_set_name (&w, w.owner_uid, "Olga Owner");
  world_set_name (&w, bob->uid, "Bob Builder");
  world_post (&w, bob->api, bob->uid, bob->key, TOPIC, "event.join", "{}");
  world_say (&w, bob, TOPIC, "bob in the backlog");
  world_post (&w, w.owner_api, w.owner_uid, w.key, TOPIC, "chat.text",
              "olga in the backlog");
  /* the first state read answers well after the backlog */
  rdt_test_server_fault (server,
      "{\"action\":\"delay\",\"path\":\"/topics/state/messages\","
      "\"method\":\"GET\",\"delay_ms\":1500,\"count\":1}");
  mark = harness_user_adds ()->len;
  owner = world_owner_account (&w, TRUE);
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
  harness_wait_chat_users (chat, both, "both names in the user list");
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
  carol = world_core_new (&w, TRUE);
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
  world_core_free (bob);
  world_core_free (carol);
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
  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  bob_short = rdt_id_short (bob->uid);
  world_set_name (&w, w.owner_uid, "Olga Owner");
  world_set_name (&w, bob->uid, "Bob Builder");
  world_say (&w, bob, TOPIC, "bob before the names");
  rdt_test_server_fault (server,
      "{\"action\":\"delay\",\"path\":\"/topics/state/messages\","
      "\"method\":\"GET\",\"delay_ms\":8000,\"count\":1}");
  mark = harness_user_adds ()->len;
  owner = world_owner_account (&w, TRUE);
  start = g_get_monotonic_time ();
  chat = harness_join (owner, TOPIC);
  wait_lines (owner, "bob before the names", 1);
  /* held for the names, but not for ever */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2500 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 7000 * 1000);
  assert_from (owner, "bob before the names", bob_short, FALSE, 1);
  harness_wait_chat_users (chat, both, "the names at last");
  {
    g_autoptr (GPtrArray) adds = adds_since (owner, mark);

    for (guint i = 0; i < adds->len; i++)
      g_assert_false (((HarnessUserAdd *) adds->pdata[i])->new_arrivals);
  }
  assert_own_entry (chat, "Olga Owner");

  rdt_test_server_clear_faults (server);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_core_free (bob);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);

  g_test_add_func ("/nicks/own-name", test_own_name);
  g_test_add_func ("/nicks/backlog-names", test_backlog_names);
  g_test_add_func ("/nicks/names-late", test_names_late);
  return world_run (server);
}
