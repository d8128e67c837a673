/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-roles.c - a member described to the user (issue #15), end to end:
 * libpurple's core with the plugin against the test server, the owner's
 * account watching a space whose state the test writes with the owner's
 * key through the core.
 *
 * Covered: the owner as founder and admins as ops in the chat's user
 * list, updated when rights change; Get Info answered under the name
 * Pidgin opened its window with (one window, not two); /whois with a nick
 * with spaces, quoted or not; rights and roles in words in Info, /whois
 * and /members, the raw capabilities under "Details". */
#include "config.h"

#include <string.h>

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

/* The right that makes an admin: adding members. */
static void
make_admin (World *w, const gchar *uid)
{
  g_autofree gchar *path = g_strconcat ("auth/users/", uid, "/rights/admin", NULL);
  g_autofree gchar *data = rdt_state_encode_capability ("create",
                                                        "state/auth/users/{any}");

  world_write_state (w, path, data);
}

typedef struct {
  PurpleConvChat *chat;
  const gchar *nick;
  PurpleConvChatBuddyFlags flags;
} FlagsWait;

static gboolean
flags_are (gpointer data)
{
  FlagsWait *f = data;

  return purple_conv_chat_find_user (f->chat, f->nick) &&
         purple_conv_chat_user_get_flags (f->chat, f->nick) == f->flags;
}

static void
wait_flags (PurpleConvChat *chat, const gchar *nick,
            PurpleConvChatBuddyFlags flags, const gchar *what)
{
  FlagsWait f = { chat, nick, flags };

  harness_wait (flags_are, &f, 30, what);
}

static PurpleCmdStatus
command (PurpleConvChat *chat, const gchar *line, gchar **error)
{
  return purple_cmd_do_command (purple_conv_chat_get_conversation (chat), line,
                                line, error);
}

/* The chat user list: founder and ops as IRC and XMPP rooms show them. */
static void
test_flags (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  g_autofree gchar *ada = NULL, *sam = NULL, *own = NULL;

  world_new (&w, server);
  ada = world_add_new_member (&w);
  sam = world_add_new_member (&w);
  world_set_name (&w, ada, "Ada Admin");
  world_set_name (&w, sam, "Samuel Smith");
  world_set_name (&w, w.owner_uid, "Olivia");
  make_admin (&w, ada);
  owner = world_owner_account (&w, FALSE);
  chat = harness_join (owner, TOPIC);
  wait_flags (chat, "Olivia", PURPLE_CBFLAGS_FOUNDER, "the owner as founder");
  wait_flags (chat, "Ada Admin", PURPLE_CBFLAGS_OP, "the admin as op");
  wait_flags (chat, "Samuel Smith", PURPLE_CBFLAGS_NONE, "a member without flags");

  /* rights change live: Sam becomes an admin */
  make_admin (&w, sam);
  wait_flags (chat, "Samuel Smith", PURPLE_CBFLAGS_OP, "the new admin as op");
  g_assert_cmpint (purple_conv_chat_user_get_flags (chat, "Olivia"), ==,
                   PURPLE_CBFLAGS_FOUNDER);

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

static gboolean
userinfo_since (gpointer data)
{
  guint *mark = data;

  return harness_notifies ()->len > *mark;
}

/* Get Info as Pidgin asks for it (pidgin_retrieve_user_info_in_chat in
 * 2.14): its "Retrieving..." window goes up under get_cb_real_name()'s
 * answer, then get_cb_info() is called with the nick. The answer must
 * come under that same name, or Pidgin opens a second window. */
static void
test_info (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  PurpleConnection *gc;
  PurplePluginProtocolInfo *prpl;
  g_autofree gchar *sam = NULL, *real = NULL;
  GPtrArray *notes = harness_notifies ();
  HarnessNotify *n;
  guint mark;

  world_new (&w, server);
  sam = world_add_new_member (&w);
  world_set_name (&w, sam, "Samuel Smith");
  owner = world_owner_account (&w, FALSE);
  chat = harness_join (owner, TOPIC);
  harness_wait_chat_user (chat, "Samuel Smith", "Sam's name in the chat");
  gc = purple_account_get_connection (owner);
  prpl = PURPLE_PLUGIN_PROTOCOL_INFO (purple_connection_get_prpl (gc));

  real = prpl->get_cb_real_name (gc, purple_conv_chat_get_id (chat), "Samuel Smith");
  g_assert_cmpstr (real, ==, sam);
  mark = notes->len;
  prpl->get_cb_info (gc, purple_conv_chat_get_id (chat), "Samuel Smith");
  harness_wait (userinfo_since, &mark, 30, "the user info");
  g_assert_cmpuint (notes->len, ==, mark + 1);
  n = notes->pdata[mark];
  g_assert_cmpstr (n->title, ==, "userinfo");
  g_assert_cmpstr (n->primary, ==, real);           /* the one window */
  g_test_message ("info: %s", n->text);
  g_assert_nonnull (strstr (n->text, "Samuel Smith"));
  g_assert_nonnull (strstr (n->text, sam));
  g_assert_nonnull (strstr (n->text, "member"));
  g_assert_nonnull (strstr (n->text, "can post in all topics, can rename topics"));
  g_assert_null (strstr (n->text, "can add members"));
  /* the paths stay, under Details */
  g_assert_nonnull (strstr (n->text, "Details"));
  g_assert_true (strstr (n->text, "write topics/{any}/messages") >
                 strstr (n->text, "Details"));

  /* the owner's own entry says so in words */
  mark = notes->len;
  g_free (real);
  real = prpl->get_cb_real_name (gc, purple_conv_chat_get_id (chat),
                                 purple_conv_chat_get_nick (chat));
  g_assert_cmpstr (real, ==, w.owner_uid);
  prpl->get_cb_info (gc, purple_conv_chat_get_id (chat),
                     purple_conv_chat_get_nick (chat));
  harness_wait (userinfo_since, &mark, 30, "the owner's user info");
  n = notes->pdata[mark];
  g_assert_cmpstr (n->primary, ==, w.owner_uid);
  g_assert_nonnull (strstr (n->text, "owner"));
  g_assert_nonnull (strstr (n->text, "can do everything in the space"));

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

/* /whois takes a nick with spaces, quoted or not, and /members says each
 * member's role. */
static void
test_whois_members (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  g_autofree gchar *ada = NULL, *sam = NULL, *zed = NULL, *id_line = NULL;
  const gchar *typed[] = { "whois Some Name", "whois \"Some Name\"",
                           "whois   'some name'  ",
                           "whois \xe2\x80\x9cSome Name\xe2\x80\x9d" };
  gchar *error = NULL;

  world_new (&w, server);
  ada = world_add_new_member (&w);
  sam = world_add_new_member (&w);
  world_set_name (&w, ada, "Ada Admin");
  zed = world_add_new_member (&w);
  world_set_name (&w, sam, "Some Name");
  world_set_name (&w, zed, "'Zed Zebra'");
  make_admin (&w, ada);
  owner = world_owner_account (&w, FALSE);
  chat = harness_join (owner, TOPIC);
  /* 9 characters starting with S could pass for a short space id: the
   * nick shows the short id too, and /whois still finds the name alone */
  {
    g_autofree gchar *shortid = rdt_id_short (sam);
    g_autofree gchar *nick = g_strdup_printf ("Some Name (%s)", shortid);

    harness_wait_chat_user (chat, nick, "Sam's name in the chat");
  }

  id_line = g_strconcat ("Member ID: ", sam, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (typed); i++)
    {
      g_test_message ("/%s", typed[i]);
      g_assert_cmpint (command (chat, typed[i], &error), ==, PURPLE_CMD_STATUS_OK);
      g_assert_null (error);
      g_assert_cmpuint (harness_count_lines (owner, id_line,
                                             PURPLE_MESSAGE_SYSTEM), ==, i + 1);
    }
  harness_wait_line (owner, "Rights: can post in all topics", PURPLE_MESSAGE_SYSTEM);
  harness_wait_line (owner, "Details:", PURPLE_MESSAGE_SYSTEM);

  /* nobody by that name: the name once in quotes, not twice */
  g_assert_cmpint (command (chat, "whois \"No Body\"", &error), ==,
                   PURPLE_CMD_STATUS_FAILED);
  g_assert_cmpstr (error, ==, "No member called \"No Body\".");
  g_clear_pointer (&error, g_free);

  /* quotes that are part of the nick stay */
  g_clear_pointer (&id_line, g_free);
  id_line = g_strconcat ("Member ID: ", zed, NULL);
  g_assert_cmpint (command (chat, "whois 'Zed Zebra'", &error), ==,
                   PURPLE_CMD_STATUS_OK);
  g_assert_cmpuint (harness_count_lines (owner, id_line, PURPLE_MESSAGE_SYSTEM),
                    ==, 1);

  g_assert_cmpint (command (chat, "whois Ada Admin", &error), ==,
                   PURPLE_CMD_STATUS_OK);
  harness_wait_line (owner, "Role: admin", PURPLE_MESSAGE_SYSTEM);
  harness_wait_line (owner, "can add members", PURPLE_MESSAGE_SYSTEM);

  g_assert_cmpint (command (chat, "members", &error), ==, PURPLE_CMD_STATUS_OK);
  harness_wait_line (owner, "4 members:", PURPLE_MESSAGE_SYSTEM);
  {
    g_autofree gchar *o = g_strdup_printf (": owner (%s)", w.owner_uid);
    g_autofree gchar *a = g_strdup_printf ("Ada Admin: admin (%s)", ada);
    g_autofree gchar *s = g_strdup_printf (": member (%s)", sam);

    g_assert_cmpuint (harness_count_lines (owner, o, PURPLE_MESSAGE_SYSTEM), ==, 1);
    g_assert_cmpuint (harness_count_lines (owner, a, PURPLE_MESSAGE_SYSTEM), ==, 1);
    g_assert_cmpuint (harness_count_lines (owner, s, PURPLE_MESSAGE_SYSTEM), ==, 1);
  }

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  harness_prompts_install ();

  g_test_add_func ("/roles/flags", test_flags);
  g_test_add_func ("/roles/info", test_info);
  g_test_add_func ("/roles/whois-members", test_whois_members);
  return world_run (server);
}
