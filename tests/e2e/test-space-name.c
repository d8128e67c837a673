/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-space-name.c - a space's human name (issue #15), end to end:
 * libpurple's core with the plugin against the test server, the owner and
 * a member each with an account of one space.
 *
 * Covered: the owner names the space with /space-name; the member's chat
 * title and topic line say "general — Book club" (the short space id
 * before), the member's account alias becomes the name, while an alias
 * the user chose stays; /space-name without a name shows it; a member's
 * /space-name is refused with a clear message, and the test server
 * refuses the member's write as the spec's permission check does; the
 * account action "Name this space...", for the owner only. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "world.h"
#include "prompts.h"
#include "api.h"
#include "crypto.h"
#include "id.h"
#include "statesync.h"
#include "testserver.h"

#define TOPIC "general"
#define DASH " \xe2\x80\x94 "

static RdtTestServer *server;

typedef struct {
  PurpleConvChat *chat;
  const gchar *line;
} TitleWait;

/* The topic line and the window's title both show it. */
static gboolean
title_is (gpointer data)
{
  TitleWait *t = data;

  return g_strcmp0 (purple_conv_chat_get_topic (t->chat), t->line) == 0 &&
         g_strcmp0 (purple_conversation_get_title (
             purple_conv_chat_get_conversation (t->chat)), t->line) == 0;
}

static void
wait_title (PurpleConvChat *chat, const gchar *line, const gchar *what)
{
  TitleWait t = { chat, line };

  harness_wait (title_is, &t, 30, what);
}

typedef struct {
  PurpleAccount *account;
  const gchar *alias;
} AliasWait;

static gboolean
alias_is (gpointer data)
{
  AliasWait *a = data;

  return g_strcmp0 (purple_account_get_alias (a->account), a->alias) == 0;
}

/* The owner names the space; Bob sees it in his chat and as his account's
 * name; the owner's own alias, chosen by the user, stays. */
static void
test_shown (void)
{
  World w;
  Core *b;
  PurpleAccount *owner, *bob;
  PurpleConvChat *ochat, *bchat;
  g_autofree gchar *shortid = NULL, *before = NULL, *bob_seed = NULL;
  gchar *error = NULL;

  world_new (&w, server);
  b = world_core_new (&w, TRUE);
  bob_seed = harness_seed_hex (b->key);
  shortid = rdt_id_short (w.space);
  before = g_strconcat (TOPIC, DASH, shortid, NULL);
  owner = world_account_new (&w, "owner", w.seed_hex, FALSE);
  purple_account_set_alias (owner, "My own name for it");
  world_account_connect (owner);
  bob = world_account (&w, "bob", bob_seed, FALSE);
  ochat = harness_join (owner, TOPIC);
  bchat = harness_join (bob, TOPIC);
  /* no name yet: the short space id tells the space apart */
  wait_title (bchat, before, "the short space id in Bob's chat");
  g_assert_null (purple_account_get_alias (bob));
  g_assert_cmpint (world_try_command (bchat, "space-name", &error), ==,
                   PURPLE_CMD_STATUS_OK);
  g_assert_null (error);
  harness_wait_line (bob, "This space has no name yet", PURPLE_MESSAGE_SYSTEM);

  g_assert_cmpint (world_try_command (ochat, "space-name  Book club ", &error),
                   ==, PURPLE_CMD_STATUS_OK);
  g_assert_null (error);
  harness_wait_line (owner, "Naming the space: done.", PURPLE_MESSAGE_SYSTEM);
  wait_title (bchat, TOPIC DASH "Book club", "the space's name in Bob's chat");
  wait_title (ochat, TOPIC DASH "Book club", "the space's name in the owner's chat");
  {
    AliasWait a = { bob, "Book club" };

    harness_wait (alias_is, &a, 30, "the space's name as Bob's alias");
  }
  g_assert_cmpstr (purple_account_get_alias (owner), ==, "My own name for it");
  world_command (bchat, "space-name");
  harness_wait_line (bob, "Space name: Book club",
                     PURPLE_MESSAGE_SYSTEM);

  /* renamed: the alias we set follows, the topic name stays apart */
  world_command (ochat, "space-name Reading circle");
  wait_title (bchat, TOPIC DASH "Reading circle", "the new name in Bob's chat");
  wait_title (ochat, TOPIC DASH "Reading circle", "the new name in the owner's chat");
  {
    AliasWait a = { bob, "Reading circle" };

    harness_wait (alias_is, &a, 30, "the new name as Bob's alias");
  }
  world_command (bchat, "topic");
  harness_wait_line (bob, "Topic general: general", PURPLE_MESSAGE_SYSTEM);

  /* the topic line edited in the client comes back with the space's name
   * after it: that part is not the topic's new name */
  {
    PurpleConnection *gc = purple_account_get_connection (owner);
    PurplePluginProtocolInfo *prpl =
        PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));

    prpl->set_chat_topic (gc, purple_conv_chat_get_id (ochat),
                          "Book talk" DASH "Reading circle");
    wait_title (bchat, "Book talk" DASH "Reading circle",
                "the new topic name in Bob's chat");
  }

  purple_account_set_enabled (bob, "rdt-e2e", FALSE);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_core_free (b);
  world_clear (&w);
}

/* Only the owner names the space: Bob's /space-name is refused at once,
 * and the server refuses his write too (no right on state/space/...). */
static void
test_refused (void)
{
  World w;
  Core *b;
  PurpleAccount *bob;
  PurpleConvChat *bchat;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *data = NULL, *bob_seed = NULL;
  const gchar *paths[] = { "space/metadata" }, *datas[1];
  HarnessAsync a = { NULL };
  gchar *error = NULL;

  world_new (&w, server);
  b = world_core_new (&w, TRUE);
  bob_seed = harness_seed_hex (b->key);
  bob = world_account (&w, "bob", bob_seed, FALSE);
  bchat = harness_join (bob, TOPIC);
  {
    g_autofree gchar *shortid = rdt_id_short (w.space);
    g_autofree gchar *line = g_strconcat (TOPIC, DASH, shortid, NULL);

    wait_title (bchat, line, "the state read in Bob's chat");
  }
  g_assert_cmpint (world_try_command (bchat, "space-name Mine now", &error),
                   ==, PURPLE_CMD_STATUS_FAILED);
  g_assert_cmpstr (error, ==, "Only the space's owner can name the space.");
  g_clear_pointer (&error, g_free);

  /* Bob's own api, past the plugin's check */
  data = rdt_state_encode_space_metadata (w.state, "Mine now", &err);
  g_assert_no_error (err);
  datas[0] = data;
  rdt_state_write_async (b->api, paths, datas, 1, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "Bob's write");
  g_assert_false (rdt_state_write_finish (b->api, a.result, &err));
  g_assert_error (err, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN);
  g_object_unref (a.result);

  purple_account_set_enabled (bob, "rdt-e2e", FALSE);
  world_core_free (b);
  world_clear (&w);
}

static gboolean
notified_since (gpointer data)
{
  guint *mark = data;

  return harness_notifies ()->len > *mark;
}

/* The account action: the owner names the space in a prompt; a member is
 * told at once that only the owner can, with no prompt to fill in. */
static void
test_action (void)
{
  World w;
  Core *b;
  PurpleAccount *owner, *bob;
  PurpleConvChat *ochat, *bchat;
  g_autofree gchar *shortid = NULL, *before = NULL, *bob_seed = NULL;
  GPtrArray *notes = harness_notifies ();
  HarnessNotify *n;
  guint mark;

  world_new (&w, server);
  b = world_core_new (&w, TRUE);
  bob_seed = harness_seed_hex (b->key);
  shortid = rdt_id_short (w.space);
  before = g_strconcat (TOPIC, DASH, shortid, NULL);
  owner = world_owner_account (&w, FALSE);
  bob = world_account (&w, "bob", bob_seed, FALSE);
  ochat = harness_join (owner, TOPIC);
  bchat = harness_join (bob, TOPIC);
  wait_title (bchat, before, "the state read in Bob's chat");
  wait_title (ochat, before, "the state read in the owner's chat");

  mark = notes->len;
  harness_run_action (bob, "Name this space");
  g_assert_null (harness_prompt ());
  harness_wait (notified_since, &mark, 30, "the refusal");
  n = notes->pdata[mark];
  g_assert_cmpint (n->type, ==, PURPLE_NOTIFY_MSG_ERROR);
  g_assert_cmpstr (n->primary, ==, "Only the space's owner can name the space.");

  harness_run_action (owner, "Name this space");
  g_assert_nonnull (harness_prompt ());
  g_assert_cmpint (harness_prompt ()->type, ==, PURPLE_REQUEST_INPUT);
  harness_answer_input ("Book club");
  wait_title (bchat, TOPIC DASH "Book club", "the space's name in Bob's chat");
  {
    AliasWait a = { owner, "Book club" };

    harness_wait (alias_is, &a, 30, "the space's name as the owner's alias");
  }

  purple_account_set_enabled (bob, "rdt-e2e", FALSE);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_core_free (b);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  harness_prompts_install ();

  g_test_add_func ("/space-name/shown", test_shown);
  g_test_add_func ("/space-name/refused", test_refused);
  g_test_add_func ("/space-name/action", test_action);
  return world_run (server);
}
