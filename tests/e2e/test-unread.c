/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-unread.c - read state across devices (issue #16), end to end:
 * libpurple's core with the plugin against the test server. Two accounts
 * with the same key are two devices of one member; what one has read, the
 * other does not show again: it opens after the read marker with a
 * divider line. A person "reads" a chat as Pidgin tells it: the chat's
 * "unseen-count" goes to 0 with PURPLE_CONV_UPDATE_UNSEEN. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "world.h"
#include "api.h"
#include "crypto.h"
#include "id.h"
#include "membership.h"
#include "message.h"
#include "readstate.h"
#include "state.h"
#include "testserver.h"

#define TOPIC "general"

static RdtTestServer *server;

/* What Pidgin does when the person looks at the chat. */
static void
look_at (PurpleConvChat *chat)
{
  PurpleConversation *conv = purple_conv_chat_get_conversation (chat);

  purple_conversation_set_data (conv, "unseen-count", GINT_TO_POINTER (0));
  purple_conversation_update (conv, PURPLE_CONV_UPDATE_UNSEEN);
}

/* The hashes of the topic's messages, oldest first. */
static GPtrArray *
topic_hashes (World *w)
{
  HarnessAsync a = { NULL };
  g_autoptr (GError) error = NULL;
  GPtrArray *hashes = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *msgs;

  rdt_api_get_messages_async (w->owner_api, TOPIC,
                              G_GINT64_CONSTANT (9999999999999), 0, 1000, NULL,
                              harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "the topic's messages");
  msgs = rdt_api_get_messages_finish (w->owner_api, a.result, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&a.result);
  for (guint i = msgs->len; i > 0; i--)
    g_ptr_array_add (hashes, g_strdup (((RdtMessage *) msgs->pdata[i - 1])
                                           ->message_hash));
  g_ptr_array_unref (msgs);
  return hashes;
}

/* The member's marker of TOPIC as the data store holds it, read through
 * the core with the member's key (another device would read it so). */
typedef struct {
  RdtReadState *rs;
  const gchar *want;        /* hash waited for */
  HarnessAsync a;
  gboolean asked, matched;
  gchar *got;
} MarkerWait;

static gboolean
marker_is (gpointer data)
{
  MarkerWait *mw = data;

  if (mw->matched)
    return TRUE;   /* harness_wait asks once more after the loop */
  if (!mw->asked)
    {
      mw->asked = TRUE;
      rdt_readstate_load_async (mw->rs, TOPIC, NULL, harness_async_cb, &mw->a);
      return FALSE;
    }
  if (mw->a.result == NULL)
    return FALSE;
  {
    g_autoptr (GError) error = NULL;
    RdtReadMarker *m = rdt_readstate_load_finish (mw->rs, mw->a.result, &error);

    g_clear_object (&mw->a.result);
    mw->asked = FALSE;
    g_free (mw->got);
    mw->got = m ? g_strdup (m->message_hash) : NULL;
    g_clear_pointer (&m, rdt_read_marker_free);
  }
  mw->matched = g_strcmp0 (mw->got, mw->want) == 0;
  return mw->matched;
}

static void
wait_marker_for (World *w, RdtSigningKey *key, const gchar *want,
                 guint timeout_s, const gchar *what)
{
  g_autoptr (RdtApi) api = rdt_api_new (w->url, w->space, key, RDT_ID_USER,
                                        NULL);
  guint8 seed[32];
  MarkerWait mw = { NULL };

  rdt_signing_key_copy_seed (key, seed);
  mw.rs = rdt_readstate_new (api, seed);
  rdt_wipe (seed, sizeof seed);
  mw.want = want;
  harness_wait (marker_is, &mw, timeout_s, what);
  /* the last load's answer, if one is still in flight, is dropped */
  while (mw.asked && mw.a.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&mw.a.result);
  g_free (mw.got);
  g_object_unref (mw.rs);
}

static void
wait_marker (World *w, RdtSigningKey *key, const gchar *want, const gchar *what)
{
  wait_marker_for (w, key, want, 30, what);
}

static void
say_n (World *w, Core *c, guint from, guint to)
{
  for (guint i = from; i <= to; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("m%u", i);

      world_say (w, c, TOPIC, text);
    }
}

/* Index of the account's line with exactly this text; fails if none. */
static guint
index_of (PurpleAccount *a, const gchar *text)
{
  GPtrArray *lines = harness_lines ();

  for (guint i = 0; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0
          && g_strcmp0 (l->text, text) == 0)
        return i;
    }
  g_error ("no line \"%s\"", text);
  return 0;
}

/* Carol reads m1..m10 on her first device; Bob says m11..m15; her second
 * device opens with m11..m15 only, then the divider; the first device,
 * which did not read m11..m15, does not move the marker back when it
 * leaves. */
static void
test_two_devices (void)
{
  World w;
  Core *bob, *carol;
  g_autofree gchar *carol_hex = NULL;
  g_autoptr (GPtrArray) hashes = NULL;
  PurpleAccount *one, *two;
  PurpleConvChat *chat_one, *chat_two;
  guint divider;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  carol = world_core_new (&w, TRUE);
  world_set_name (&w, bob->uid, "Bob");
  carol_hex = harness_seed_hex (carol->key);
  say_n (&w, bob, 1, 10);

  one = world_account (&w, "carol-one", carol_hex, TRUE);
  chat_one = harness_join (one, TOPIC);
  harness_wait_line (one, "m10", PURPLE_MESSAGE_DELAYED);
  /* no marker yet: the newest page, no divider */
  g_assert_cmpuint (harness_count_lines (one, "since you last read",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  look_at (chat_one);
  hashes = topic_hashes (&w);
  wait_marker (&w, carol->key, hashes->pdata[9], "m10 marked read");

  say_n (&w, bob, 11, 15);
  harness_wait_line (one, "m15", 0);

  /* a new device knows nothing of the join posted before (joined FALSE):
   * the read marker tells it this member has been here */
  two = world_account (&w, "carol-two", carol_hex, FALSE);
  chat_two = harness_join (two, TOPIC);
  harness_wait_line (two, "— 5 new messages since you last read —",
                     PURPLE_MESSAGE_SYSTEM);
  for (guint i = 1; i <= 15; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("m%u", i);

      g_assert_cmpuint (harness_count_exact (two, text), ==, i > 10 ? 1 : 0);
    }
  /* in chain order, the divider after them */
  divider = index_of (two, "— 5 new messages since you last read —");
  for (guint i = 11; i <= 15; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("m%u", i);

      g_assert_cmpuint (index_of (two, text), <, divider);
      if (i > 11)
        {
          g_autofree gchar *prev = g_strdup_printf ("m%u", i - 1);

          g_assert_cmpuint (index_of (two, prev), <, index_of (two, text));
        }
    }

  /* the second device reads them; the first leaves without having read
   * m11..m15: the stored marker stays at m15 */
  g_ptr_array_unref (hashes);
  hashes = topic_hashes (&w);
  look_at (chat_two);
  wait_marker (&w, carol->key, hashes->pdata[14], "m15 marked read");
  /* by now a join it posted at the opening would have come back */
  g_assert_cmpuint (harness_count_lines (two, "joined the space",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  purple_conversation_destroy (purple_conv_chat_get_conversation (chat_one));
  harness_account_done (one);
  wait_marker (&w, carol->key, hashes->pdata[14], "m15 still the marker");

  world_core_free (bob);
  world_core_free (carol);
  harness_account_done (two);
  world_clear (&w);
}

/* Sending in a chat counts as having read it: another device opens after
 * the sent message with "no new messages". */
static void
test_sending_reads (void)
{
  World w;
  Core *bob, *carol;
  g_autofree gchar *carol_hex = NULL;
  g_autoptr (GPtrArray) hashes = NULL;
  PurpleAccount *one, *two;
  PurpleConvChat *chat;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  carol = world_core_new (&w, TRUE);
  carol_hex = harness_seed_hex (carol->key);
  say_n (&w, bob, 1, 3);

  one = world_account (&w, "carol-one", carol_hex, TRUE);
  chat = harness_join (one, TOPIC);
  harness_wait_line (one, "m3", PURPLE_MESSAGE_DELAYED);
  purple_conv_chat_send (chat, "hello from one");
  harness_wait_line (one, "hello from one", PURPLE_MESSAGE_SEND);
  hashes = topic_hashes (&w);
  wait_marker (&w, carol->key, hashes->pdata[3], "the sent line marked read");

  two = world_account (&w, "carol-two", carol_hex, TRUE);
  harness_join (two, TOPIC);
  harness_wait_line (two, "— No new messages since you last read",
                     PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_exact (two, "m3"), ==, 0);
  g_assert_cmpuint (harness_count_exact (two, "hello from one"), ==, 0);

  world_core_free (bob);
  world_core_free (carol);
  harness_account_done (one);
  harness_account_done (two);
  world_clear (&w);
}

/* A marker that names a message the topic does not have (another topic's,
 * or one the server dropped): said, and the newest page shown. */
static void
test_marker_not_in_chain (void)
{
  World w;
  Core *bob, *carol;
  g_autofree gchar *carol_hex = NULL;
  g_autoptr (RdtReadMarker) m = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (GError) error = NULL;
  PurpleAccount *a;
  HarnessAsync as = { NULL };
  RdtReadState *rs;
  guint8 seed[32], fake[32];
  g_autofree gchar *fake_id = NULL;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  carol = world_core_new (&w, TRUE);
  carol_hex = harness_seed_hex (carol->key);
  say_n (&w, bob, 1, 4);

  memset (fake, 7, sizeof fake);
  fake_id = rdt_id_encode (RDT_ID_MESSAGE, fake);
  m = rdt_read_marker_new (TOPIC, fake_id, 1);
  api = rdt_api_new (w.url, w.space, carol->key, RDT_ID_USER, NULL);
  rdt_signing_key_copy_seed (carol->key, seed);
  rs = rdt_readstate_new (api, seed);
  rdt_wipe (seed, sizeof seed);
  rdt_readstate_store_async (rs, m, NULL, harness_async_cb, &as);
  harness_wait (harness_async_done, &as, 30, "the marker stored");
  g_clear_pointer (&m, rdt_read_marker_free);
  m = rdt_readstate_store_finish (rs, as.result, &error);
  g_assert_no_error (error);
  g_clear_object (&as.result);

  a = world_account (&w, "carol", carol_hex, TRUE);
  harness_join (a, TOPIC);
  harness_wait_line (a, "— Where you last read is not in this topic's "
                        "verified history", PURPLE_MESSAGE_SYSTEM);
  for (guint i = 1; i <= 4; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("m%u", i);

      g_assert_cmpuint (harness_count_exact (a, text), ==, 1);
    }

  g_object_unref (rs);
  world_core_free (bob);
  world_core_free (carol);
  harness_account_done (a);
  world_clear (&w);
}

/* A member added before read markers existed (only the first four member
 * writes): the chats say once what the owner can do, and the marker is
 * kept on this device, so a rejoin still opens after it. */
static void
test_refused (void)
{
  World w;
  Core *bob;
  g_autoptr (RdtSigningKey) key = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (key, RDT_ID_USER);
  g_autofree gchar *hex = harness_seed_hex (key);
  g_autofree gchar *upath = g_strconcat ("auth/users/", uid, NULL);
  g_autofree gchar *udata = rdt_state_encode_user_entry (uid);
  g_autofree gchar *cpath = g_strconcat (upath, "/rights/chat", NULL);
  g_autofree gchar *cdata = rdt_state_encode_capability (
      "write", "topics/{any}/messages");
  PurpleAccount *a;
  PurpleConvChat *chat;
  PurpleConversation *conv;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  world_write_state (&w, upath, udata);
  world_write_state (&w, cpath, cdata);
  say_n (&w, bob, 1, 3);

  a = world_account (&w, "old", hex, TRUE);
  chat = harness_join (a, TOPIC);
  harness_wait_line (a, "m3", PURPLE_MESSAGE_DELAYED);
  look_at (chat);
  harness_wait_line (a, "remembered on this device only",
                     PURPLE_MESSAGE_SYSTEM);
  /* with what to type */
  {
    g_autofree gchar *hint = g_strconcat ("/add-member ", uid, NULL);

    g_assert_cmpuint (harness_count_lines (a, hint, PURPLE_MESSAGE_SYSTEM),
                      ==, 1);
  }
  conv = purple_conv_chat_get_conversation (chat);
  purple_conversation_destroy (conv);
  say_n (&w, bob, 4, 5);
  harness_join (a, TOPIC);
  harness_wait_line (a, "— 2 new messages since you last read —",
                     PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_exact (a, "m3"), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "remembered on this device only",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);

  world_core_free (bob);
  harness_account_done (a);
  world_clear (&w);
}

/* Stores are at most one per chat every RDT_UNREAD_WRITE_INTERVAL_S (30 s),
 * but leaving the chat stores what was read at once: the second read,
 * seconds after the first, is in the space well before the interval. */
static void
test_leave_stores (void)
{
  World w;
  Core *bob, *carol;
  g_autofree gchar *carol_hex = NULL;
  g_autoptr (GPtrArray) hashes = NULL;
  PurpleAccount *a;
  PurpleConvChat *chat;

  world_new (&w, server);
  bob = world_core_new (&w, TRUE);
  carol = world_core_new (&w, TRUE);
  carol_hex = harness_seed_hex (carol->key);
  say_n (&w, bob, 1, 3);

  a = world_account (&w, "carol", carol_hex, TRUE);
  chat = harness_join (a, TOPIC);
  harness_wait_line (a, "m3", PURPLE_MESSAGE_DELAYED);
  look_at (chat);
  hashes = topic_hashes (&w);
  wait_marker (&w, carol->key, hashes->pdata[2], "m3 marked read");

  say_n (&w, bob, 4, 4);
  harness_wait_line (a, "m4", 0);
  look_at (chat);
  purple_conversation_destroy (purple_conv_chat_get_conversation (chat));
  g_ptr_array_unref (hashes);
  hashes = topic_hashes (&w);
  wait_marker_for (&w, carol->key, hashes->pdata[3], 10,
                   "m4 stored when the chat was left");

  world_core_free (bob);
  world_core_free (carol);
  harness_account_done (a);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  g_test_add_func ("/unread/two-devices", test_two_devices);
  g_test_add_func ("/unread/sending-reads", test_sending_reads);
  g_test_add_func ("/unread/marker-not-in-chain", test_marker_not_in_chain);
  g_test_add_func ("/unread/refused", test_refused);
  g_test_add_func ("/unread/leave-stores", test_leave_stores);
  return world_run (server);
}
