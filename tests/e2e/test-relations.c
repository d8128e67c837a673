/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-relations.c - replies, reactions, edits and deletes in a chat
 * (issue #17, src/purple/relations-ui.c), end to end: the owner's account
 * in libpurple types the commands while Bob and Carol post through the
 * core, forged edits and deletes included; a relation whose target is
 * older than the chat's backlog is said again, resolved, once /history
 * brings the target; the backlog a chat opens with comes folded. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "world.h"
#include "api.h"
#include "message.h"
#include "relations.h"
#include "testserver.h"

#define TOPIC "general"

static RdtTestServer *server;

/* The newest message of the topic: its hash and server time. */
static gchar *
newest (World *w, gint64 *ts)
{
  HarnessAsync a = { NULL };
  g_autoptr (GError) error = NULL;
  GPtrArray *msgs;
  gchar *hash;

  rdt_api_get_messages_async (w->owner_api, TOPIC,
                              G_GINT64_CONSTANT (9999999999999), 0, 1, NULL,
                              harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "the topic's head");
  msgs = rdt_api_get_messages_finish (w->owner_api, a.result, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&a.result);
  g_assert_cmpuint (msgs->len, ==, 1);
  hash = g_strdup (((RdtMessage *) msgs->pdata[0])->message_hash);
  if (ts)
    *ts = ((RdtMessage *) msgs->pdata[0])->server_timestamp;
  g_ptr_array_unref (msgs);
  return hash;
}

static gchar *
clock_of (gint64 ms, const gchar *format)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (ms / 1000);

  return g_date_time_format (dt, format);
}

/* Waits for a line of the owner containing text (a printf format). */
static void G_GNUC_PRINTF (3, 4)
wait_for (PurpleAccount *a, PurpleMessageFlags flags, const gchar *format, ...)
{
  va_list ap;
  g_autofree gchar *text = NULL;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  harness_wait_line (a, text, flags);
}

static gchar *
command_error (PurpleConvChat *chat, const gchar *line)
{
  gchar *error = NULL;

  g_assert_cmpint (world_try_command (chat, line, &error), ==,
                   PURPLE_CMD_STATUS_FAILED);
  g_assert_nonnull (error);
  return error;
}

/* Reactions, replies, edits and deletes typed by the owner; Bob's and
 * Carol's through the core; forged ones flagged and not applied. */
static void
test_live (void)
{
  World w;
  Core *bob, *carol;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  g_autofree gchar *first = NULL, *t_first = NULL, *reply = NULL;
  g_autofree gchar *typo = NULL, *t_typo = NULL, *payload = NULL;
  g_autofree gchar *err = NULL, *bob2 = NULL, *t_bob2 = NULL;
  gint64 ts;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  carol = world_core_new (&w, TRUE);
  world_set_name (&w, w.owner_uid, "Olga");
  world_set_name (&w, bob->uid, "Bob");
  world_set_name (&w, carol->uid, "Carol");
  owner = world_account (&w, "owner", w.seed_hex, TRUE);
  chat = harness_join (owner, TOPIC);

  /* nothing to refer to yet */
  err = command_error (chat, "react last 👍");
  g_clear_pointer (&err, g_free);

  world_say (&w, bob, TOPIC, "first words of Bob");
  harness_wait_line (owner, "first words of Bob", 0);
  first = newest (&w, &ts);
  t_first = clock_of (ts, "%H:%M:%S");

  /* a reaction; the same one again counts once; Bob's and Carol's too */
  world_command (chat, "react last 👍");
  wait_for (owner, PURPLE_MESSAGE_SYSTEM,
            "Olga reacted 👍 to Bob %s “first words of Bob”", t_first);
  world_command (chat, "react last 👍");
  payload = rdt_relation_encode_reaction (first, "🎉", FALSE, NULL);
  world_post (&w, carol->api, carol->uid, carol->key, TOPIC,
              RDT_RELATION_TYPE_REACTION, payload);
  wait_for (owner, PURPLE_MESSAGE_SYSTEM, "Carol reacted 🎉 to Bob %s",
            t_first);
  g_assert_cmpuint (harness_count_lines (owner, "Olga reacted 👍",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  world_command (chat, "unreact last 👍");
  wait_for (owner, PURPLE_MESSAGE_SYSTEM,
            "Olga took back 👍 from Bob %s “first words of Bob”", t_first);

  /* a reply: the target quoted, then the text, from the owner */
  world_command (chat, "reply last me too");
  wait_for (owner, PURPLE_MESSAGE_SEND, "↳ Bob %s: “first words of Bob”<br>me too",
            t_first);
  reply = newest (&w, NULL);

  /* edit and delete one's own */
  world_post (&w, w.owner_api, w.owner_uid, w.key, TOPIC, "chat.text",
              "my tpyo");
  harness_wait_line (owner, "my tpyo", 0);
  typo = newest (&w, &ts);
  t_typo = clock_of (ts, "%H:%M:%S");
  world_command (chat, "edit last-mine my typo");
  wait_for (owner, PURPLE_MESSAGE_SYSTEM, "Olga edited (%s): my typo", t_typo);
  world_command (chat, "delete last-mine");
  wait_for (owner, PURPLE_MESSAGE_SYSTEM, "Olga deleted a message (%s)",
            t_typo);

  /* someone else's: no edit; the owner may delete */
  world_say (&w, bob, TOPIC, "bob two");
  harness_wait_line (owner, "bob two", 0);
  bob2 = newest (&w, &ts);
  t_bob2 = clock_of (ts, "%H:%M:%S");
  err = command_error (chat, "edit last nope");
  g_assert_nonnull (strstr (err, "only edit your own"));
  g_clear_pointer (&err, g_free);
  world_command (chat, "delete last");
  wait_for (owner, PURPLE_MESSAGE_SYSTEM, "Olga deleted a message by Bob (%s)",
            t_bob2);

  /* forged: Bob edits and deletes the owner's reply, flagged, not applied */
  g_free (payload);
  payload = rdt_relation_encode_edit (reply, "I was wrong", NULL);
  world_post (&w, bob->api, bob->uid, bob->key, TOPIC, RDT_RELATION_TYPE_EDIT,
              payload);
  harness_wait_line (owner, "Bob tried to edit a message by Olga",
                     PURPLE_MESSAGE_ERROR);
  g_free (payload);
  payload = rdt_relation_encode_delete (reply, NULL);
  world_post (&w, bob->api, bob->uid, bob->key, TOPIC,
              RDT_RELATION_TYPE_DELETE, payload);
  harness_wait_line (owner, "Bob tried to delete a message by Olga",
                     PURPLE_MESSAGE_ERROR);
  g_assert_cmpuint (harness_count_lines (owner, "I was wrong",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  /* still the reply's text: a reply to it quotes "me too" */
  world_command (chat, "reply last-mine still here");
  harness_wait_line (owner, "“me too”<br>still here", PURPLE_MESSAGE_SEND);

  /* typed as text, as BitlBee passes it on: run, not sent as text */
  purple_conv_chat_send (chat, "/react last 🎈");
  harness_wait_line (owner, "Olga reacted 🎈 to Olga", PURPLE_MESSAGE_SYSTEM);
  purple_conv_chat_send (chat, "/edit");
  harness_wait_line (owner, "edit &lt;message&gt; &lt;text&gt;:",
                     PURPLE_MESSAGE_ERROR);
  g_assert_cmpuint (harness_count_lines (owner, "/react", 0), ==, 0);

  world_core_free (bob);
  world_core_free (carol);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

/* <ref> as a time: hh:mm:ss names one message; hh:mm of two is ambiguous
 * (the candidates listed); a time with none is said. */
static void
test_refs (void)
{
  World w;
  Core *bob;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  gint64 ts_a, ts_b;
  g_autofree gchar *a = NULL, *b = NULL, *line = NULL, *err = NULL;
  g_autofree gchar *t_a = NULL, *m_a = NULL, *m_b = NULL, *none = NULL;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  world_set_name (&w, bob->uid, "Bob");
  owner = world_account (&w, "owner", w.seed_hex, TRUE);
  chat = harness_join (owner, TOPIC);

  world_say (&w, bob, TOPIC, "alpha");
  a = newest (&w, &ts_a);
  /* not a race: the two must not share the second the chat shows */
  harness_pause (1100, "a second between the two");
  world_say (&w, bob, TOPIC, "beta");
  b = newest (&w, &ts_b);
  harness_wait_line (owner, "beta", 0);
  harness_wait_line (owner, "alpha", 0);

  t_a = clock_of (ts_a, "%H:%M:%S");
  line = g_strdup_printf ("react %s 🎉", t_a);
  world_command (chat, line);
  wait_for (owner, PURPLE_MESSAGE_SYSTEM, "reacted 🎉 to Bob %s “alpha”", t_a);

  m_a = clock_of (ts_a, "%H:%M");
  m_b = clock_of (ts_b, "%H:%M");
  if (g_strcmp0 (m_a, m_b) == 0)
    {
      g_free (line);
      line = g_strdup_printf ("react %s 🎉", m_a);
      g_autofree gchar *t_b = clock_of (ts_b, "%H:%M:%S");
      g_autofree gchar *a_named = g_strdup_printf ("%s Bob “alpha”", t_a);
      g_autofree gchar *b_named = g_strdup_printf ("%s Bob “beta”", t_b);

      err = command_error (chat, line);
      g_assert_nonnull (strstr (err, a_named));
      g_assert_nonnull (strstr (err, b_named));
      g_clear_pointer (&err, g_free);
    }
  none = clock_of (ts_a - 2 * 3600 * 1000, "%H:%M");
  g_free (line);
  line = g_strdup_printf ("edit %s x", none);
  err = command_error (chat, line);
  g_assert_nonnull (strstr (err, "No message at"));
  g_clear_pointer (&err, g_free);
  err = command_error (chat, "react yesterday 🎉");
  g_clear_pointer (&err, g_free);

  world_core_free (bob);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

/* An edit and a reaction whose target is older than the backlog: said
 * with "(earlier message)", then resolved once /history brings it (the
 * target shown with its final text). */
static void
test_held (void)
{
  World w;
  Core *bob;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  gint64 ts;
  g_autofree gchar *target = NULL, *t = NULL, *payload = NULL;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  world_set_name (&w, bob->uid, "Bob");
  world_set_name (&w, w.owner_uid, "Olga");
  world_say (&w, bob, TOPIC, "old text");
  target = newest (&w, &ts);
  t = clock_of (ts, "%H:%M:%S");
  payload = rdt_relation_encode_edit (target, "new text", NULL);
  world_post (&w, bob->api, bob->uid, bob->key, TOPIC, RDT_RELATION_TYPE_EDIT,
              payload);
  g_free (payload);
  payload = rdt_relation_encode_reaction (target, "👀", FALSE, NULL);
  world_post (&w, w.owner_api, w.owner_uid, w.key, TOPIC,
              RDT_RELATION_TYPE_REACTION, payload);

  owner = world_account_new (&w, "owner", w.seed_hex, TRUE);
  purple_account_set_int (owner, "backlog", 2);
  world_account_connect (owner);
  chat = harness_join (owner, TOPIC);
  harness_wait_line (owner, "Bob edited (earlier message): new text",
                     PURPLE_MESSAGE_SYSTEM);
  harness_wait_line (owner, "Olga reacted 👀 to (earlier message)",
                     PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_exact (owner, "old text"), ==, 0);

  /* the block is folded too: the target with its final text, then the
   * relations said before, now resolved */
  world_command (chat, "history 5");
  harness_wait_line (owner, "new text (edited)", PURPLE_MESSAGE_DELAYED);
  g_assert_cmpuint (harness_count_lines (owner, "old text", 0), ==, 0);
  wait_for (owner, PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_DELAYED,
            "Bob edited (%s): new text", t);
  wait_for (owner, PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_DELAYED,
            "Olga reacted 👀 to Bob %s “new text”", t);

  world_core_free (bob);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

/* Index of the owner's first line containing text from start on, or
 * fails the test. */
static guint
line_index (PurpleAccount *a, const gchar *text, guint start)
{
  GPtrArray *lines = harness_lines ();

  for (guint i = start; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0
          && strstr (l->text, text))
        return i;
    }
  g_error ("no line containing \"%s\"", text);
  return 0;
}

/* The backlog a chat opens with, folded: an edit shows as the final text
 * with "(edited)", a deleted message and the delete are left out, the
 * reactions are summed up after their target, a relation whose target is
 * not in the page is said as live. */
static void
test_fold (void)
{
  World w;
  Core *bob, *carol;
  PurpleAccount *owner;
  gint64 ts;
  guint i;
  g_autofree gchar *typo = NULL, *gone = NULL, *t = NULL, *payload = NULL;
  g_autofree gchar *summary = NULL;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  carol = world_core_new (&w, TRUE);
  world_set_name (&w, w.owner_uid, "Olga");
  world_set_name (&w, bob->uid, "Bob");
  world_set_name (&w, carol->uid, "Carol");
  world_say (&w, bob, TOPIC, "typo txet");
  typo = newest (&w, &ts);
  t = clock_of (ts, "%H:%M:%S");
  world_say (&w, carol, TOPIC, "gone soon");
  gone = newest (&w, NULL);
  payload = rdt_relation_encode_edit (typo, "typo text", NULL);
  world_post (&w, bob->api, bob->uid, bob->key, TOPIC, RDT_RELATION_TYPE_EDIT,
              payload);
  g_free (payload);
  payload = rdt_relation_encode_delete (gone, NULL);
  world_post (&w, carol->api, carol->uid, carol->key, TOPIC,
              RDT_RELATION_TYPE_DELETE, payload);
  g_free (payload);
  payload = rdt_relation_encode_reaction (typo, "👍", FALSE, NULL);
  world_post (&w, carol->api, carol->uid, carol->key, TOPIC,
              RDT_RELATION_TYPE_REACTION, payload);
  world_post (&w, w.owner_api, w.owner_uid, w.key, TOPIC,
              RDT_RELATION_TYPE_REACTION, payload);
  world_post (&w, w.owner_api, w.owner_uid, w.key, TOPIC,
              RDT_RELATION_TYPE_REACTION, payload);
  /* forged: Carol edits Bob's, shown as a warning, not applied */
  g_free (payload);
  payload = rdt_relation_encode_edit (typo, "forged", NULL);
  world_post (&w, carol->api, carol->uid, carol->key, TOPIC,
              RDT_RELATION_TYPE_EDIT, payload);
  /* the owner deletes Bob's */
  world_say (&w, bob, TOPIC, "bob secret");
  g_free (gone);
  gone = newest (&w, NULL);
  g_free (payload);
  payload = rdt_relation_encode_delete (gone, NULL);
  world_post (&w, w.owner_api, w.owner_uid, w.key, TOPIC,
              RDT_RELATION_TYPE_DELETE, payload);
  world_say (&w, bob, TOPIC, "the end");

  owner = world_account (&w, "owner", w.seed_hex, TRUE);
  harness_join (owner, TOPIC);
  harness_wait_line (owner, "the end", PURPLE_MESSAGE_DELAYED);
  i = line_index (owner, "typo text (edited)", 0);
  g_assert_true (((HarnessLine *) harness_lines ()->pdata[i])->flags
                 & PURPLE_MESSAGE_DELAYED);
  g_assert_cmpstr (((HarnessLine *) harness_lines ()->pdata[i])->who, ==,
                   "Bob");
  summary = g_strdup_printf ("Reactions to Bob %s: 👍 2", t);
  g_assert_cmpuint (line_index (owner, summary, i), ==, i + 1);
  line_index (owner, "Carol tried to edit a message by Bob", i);
  g_assert_cmpuint (harness_count_lines (owner, "txet", 0), ==, 0);
  g_assert_cmpuint (harness_count_lines (owner, "gone soon", 0), ==, 0);
  g_assert_cmpuint (harness_count_lines (owner, "bob secret", 0), ==, 0);
  g_assert_cmpuint (harness_count_lines (owner, "tried to delete",
                                         PURPLE_MESSAGE_ERROR), ==, 0);
  g_assert_cmpuint (harness_count_lines (owner, "edited (",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  g_assert_cmpuint (harness_count_lines (owner, "deleted",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  g_assert_cmpuint (harness_count_lines (owner, "reacted",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  g_assert_cmpuint (harness_count_lines (owner, "forged", 0), ==, 0);

  world_core_free (bob);
  world_core_free (carol);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  g_test_add_func ("/relations/live", test_live);
  g_test_add_func ("/relations/refs", test_refs);
  g_test_add_func ("/relations/held", test_held);
  g_test_add_func ("/relations/fold", test_fold);
  return world_run (server);
}
