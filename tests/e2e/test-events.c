/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-events.c - event.join and event.leave end to end: libpurple's core
 * with the plugin (the owner's account, sometimes a member's) and the
 * core's RdtSession as a second member in the same process, against the
 * test server.
 *
 * Covered: a member's event.join and event.leave shown as logged system
 * lines at the server's time under the member's name; data naming another
 * member counts only from an admin; an empty chat.text shows nothing; our
 * own join is posted once per space (not for a second topic, not at the
 * next login); "Leave this space" posts event.leave (to the open chat, or
 * to "general") and deletes the account with its keys. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "world.h"
#include "prompts.h"
#include "api.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "membership.h"
#include "session.h"
#include "state.h"
#include "statesync.h"
#include "testserver.h"

#define TOPIC "general"
#define OTHER "random"

static RdtTestServer *server;

/* ---- a member through the core: its own session ---- */

typedef struct {
  gchar *topic, *type, *sender, *text, *hash;
  GBytes *payload;
  gint64 timestamp;
} PeerMsg;

typedef struct {
  RdtSigningKey *key;
  gchar *uid;
  RdtSession *session;
  GPtrArray *msgs;        /* of PeerMsg, every topic */
  guint n_opened, n_queued, n_done, n_failed;
} Peer;

static void
peer_msg_free (gpointer p)
{
  PeerMsg *m = p;

  g_free (m->topic);
  g_free (m->type);
  g_free (m->sender);
  g_free (m->text);
  g_free (m->hash);
  g_bytes_unref (m->payload);
  g_free (m);
}

static void
peer_on_opened (RdtSession *s, const gchar *topic, const GError *error,
                gpointer data)
{
  g_assert_no_error ((GError *) error);
  ((Peer *) data)->n_opened++;
}

static void
peer_on_message (RdtSession *s, const RdtSessionMessage *msg, gpointer data)
{
  Peer *p = data;
  PeerMsg *m = g_new0 (PeerMsg, 1);

  m->topic = g_strdup (msg->topic_id);
  m->type = g_strdup (msg->type);
  m->sender = g_strdup (msg->sender);
  m->text = g_strdup (msg->text);
  m->hash = g_strdup (msg->message_hash);
  m->payload = msg->payload ? g_bytes_ref (msg->payload) : g_bytes_new (NULL, 0);
  m->timestamp = msg->timestamp;
  g_ptr_array_add (p->msgs, m);
}

static void
peer_on_send_done (RdtSession *s, const gchar *topic, guint64 id,
                   const GError *error, gpointer data)
{
  Peer *p = data;

  if (error)
    {
      g_test_message ("peer send failed: %s", error->message);
      p->n_failed++;
    }
  p->n_done++;
}

static const RdtSessionCallbacks peer_callbacks = {
  .topic_opened = peer_on_opened,
  .message = peer_on_message,
  .send_done = peer_on_send_done,
};

typedef struct {
  Peer *p;
  guint n;
} PeerWait;

static gboolean
peer_opened (gpointer data)
{
  PeerWait *w = data;

  return w->p->n_opened >= w->n &&
         rdt_session_get_state (w->p->session) == RDT_SESSION_CONNECTED;
}

/* A session on key (a new member's when NULL, added by the owner) with
 * the topics open. */
static Peer *
peer_new (World *w, const RdtSigningKey *key, const gchar *const *topics)
{
  Peer *p = g_new0 (Peer, 1);
  g_autoptr (GError) error = NULL;
  PeerWait pw = { p, 0 };

  if (key == NULL)
    {
      p->key = rdt_signing_key_generate ();
      p->uid = rdt_signing_key_get_id (p->key, RDT_ID_USER);
      world_add_member (w, p->uid);
    }
  else
    p->uid = rdt_signing_key_get_id (key, RDT_ID_USER);
  p->session = rdt_session_new_for_key (rdt_test_server_get_url (server),
                                        w->space, key ? key : p->key,
                                        w->root, &error);
  g_assert_no_error (error);
  p->msgs = g_ptr_array_new_with_free_func (peer_msg_free);
  rdt_session_set_callbacks (p->session, &peer_callbacks, p);
  rdt_session_set_backoff (p->session, 100, 1000);
  rdt_session_connect (p->session);
  for (; topics[pw.n] != NULL; pw.n++)
    rdt_session_open_topic (p->session, topics[pw.n], 50);
  harness_wait (peer_opened, &pw, 30, "the second client to open its topics");
  return p;
}

static void
peer_free (Peer *p)
{
  rdt_session_free (p->session);
  g_ptr_array_unref (p->msgs);
  g_clear_pointer (&p->key, rdt_signing_key_free);
  g_free (p->uid);
  g_free (p);
}

static gboolean
peer_idle (gpointer data)
{
  Peer *p = data;

  return p->n_done >= p->n_queued;
}

/* Posts type with data into topic and waits for it to be done. */
static void
peer_post (Peer *p, const gchar *topic, const gchar *type, const gchar *data)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (rdt_session_send_payload (p->session, topic, type,
                                              (const guint8 *) data,
                                              strlen (data), &error), >, 0);
  g_assert_no_error (error);
  p->n_queued++;
  harness_wait (peer_idle, p, 60, "the second client's post");
  g_assert_cmpuint (p->n_failed, ==, 0);
}

/* The newest message the peer saw of type from sender in topic. */
static PeerMsg *
peer_find (Peer *p, const gchar *topic, const gchar *type, const gchar *sender)
{
  for (guint i = p->msgs->len; i > 0; i--)
    {
      PeerMsg *m = p->msgs->pdata[i - 1];

      if (g_strcmp0 (m->topic, topic) == 0 && g_strcmp0 (m->type, type) == 0 &&
          (sender == NULL || g_strcmp0 (m->sender, sender) == 0))
        return m;
    }
  return NULL;
}

static guint
peer_count (Peer *p, const gchar *topic, const gchar *type, const gchar *sender)
{
  guint n = 0;

  for (guint i = 0; i < p->msgs->len; i++)
    {
      PeerMsg *m = p->msgs->pdata[i];

      if ((topic == NULL || g_strcmp0 (m->topic, topic) == 0) &&
          g_strcmp0 (m->type, type) == 0 && g_strcmp0 (m->sender, sender) == 0)
        n++;
    }
  return n;
}

typedef struct {
  Peer *p;
  const gchar *topic, *type, *sender, *text;
} PeerSeen;

static gboolean
peer_seen (gpointer data)
{
  PeerSeen *s = data;

  for (guint i = 0; i < s->p->msgs->len; i++)
    {
      PeerMsg *m = s->p->msgs->pdata[i];

      if (g_strcmp0 (m->topic, s->topic) == 0 &&
          g_strcmp0 (m->type, s->type) == 0 &&
          (s->sender == NULL || g_strcmp0 (m->sender, s->sender) == 0) &&
          (s->text == NULL || g_strcmp0 (m->text, s->text) == 0))
        return TRUE;
    }
  return FALSE;
}

static void
peer_wait (Peer *p, const gchar *topic, const gchar *type, const gchar *sender,
           const gchar *text, const gchar *what)
{
  PeerSeen s = { p, topic, type, sender, text };

  harness_wait (peer_seen, &s, 30, what);
}

/* ---- lines ---- */

/* The system lines of account whose text is exactly text. */
static guint
count_system (PurpleAccount *a, const gchar *text, HarnessLine **last)
{
  GPtrArray *lines = harness_lines ();
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          (l->flags & PURPLE_MESSAGE_SYSTEM) && g_strcmp0 (l->text, text) == 0)
        {
          n++;
          if (last)
            *last = l;
        }
    }
  return n;
}

/* Lines of account from who (any text, not system). */
static guint
count_from (PurpleAccount *a, const gchar *who)
{
  GPtrArray *lines = harness_lines ();
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          g_strcmp0 (l->who, who) == 0 &&
          !(l->flags & (PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_ERROR)))
        n++;
    }
  return n;
}

/* Whether libpurple's chat log of topic holds text. */
static gboolean
logged (PurpleAccount *a, const gchar *topic, const gchar *text)
{
  GList *logs = purple_log_get_logs (PURPLE_LOG_CHAT, topic, a);
  gboolean found = FALSE;

  for (GList *l = logs; l; l = l->next)
    {
      PurpleLogReadFlags flags = 0;
      gchar *body = purple_log_read (l->data, &flags);

      found = found || (body && strstr (body, text));
      g_free (body);
      purple_log_free (l->data);
    }
  g_list_free (logs);
  return found;
}

/* ---- tests ---- */

/* A member's join and leave: system lines at the server's time, under the
 * name from the state, logged; never the "[event.join, n bytes]" line. */
static void
test_shown (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  const gchar *topics[] = { TOPIC, NULL };
  g_autofree gchar *data = NULL;
  HarnessLine *l = NULL;
  PeerMsg *m;
  Peer *bob;

  world_new (&w, server);
  bob = peer_new (&w, NULL, topics);
  world_set_name (&w, bob->uid, "Alice");
  purple_prefs_set_bool ("/purple/logging/log_chats", TRUE);
  owner = world_owner_account (&w, FALSE);
  chat = harness_join (owner, TOPIC);
  harness_wait_chat_user (chat, "Alice", "Alice in the owner's chat");

  data = g_strdup_printf ("{\"user_id\":\"%s\"}", bob->uid);
  peer_post (bob, TOPIC, "event.join", data);
  harness_wait_line (owner, "Alice joined the space", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (count_system (owner, "Alice joined the space", &l), ==, 1);
  m = peer_find (bob, TOPIC, "event.join", bob->uid);
  g_assert_nonnull (m);
  g_assert_cmpint ((gint64) l->mtime, ==, m->timestamp / 1000);
  g_assert_cmpuint (l->flags & PURPLE_MESSAGE_NO_LOG, ==, 0);
  g_assert_cmpstr (l->who, !=, "Alice");

  /* an empty payload names the sender */
  peer_post (bob, TOPIC, "event.leave", "");
  harness_wait_line (owner, "Alice left the space", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (count_system (owner, "Alice left the space", &l), ==, 1);
  m = peer_find (bob, TOPIC, "event.leave", bob->uid);
  g_assert_cmpint ((gint64) l->mtime, ==, m->timestamp / 1000);
  g_assert_cmpuint (harness_count_lines (owner, "[event.", 0), ==, 0);
  g_assert_cmpuint (count_from (owner, "Alice"), ==, 0);

  /* unknown types are shown as before */
  peer_post (bob, TOPIC, "event.other", "x");
  harness_wait_line (owner, "[event.other", 0);

  g_assert_true (logged (owner, TOPIC, "Alice joined the space"));
  g_assert_true (logged (owner, TOPIC, "Alice left the space"));

  purple_prefs_set_bool ("/purple/logging/log_chats", FALSE);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  peer_free (bob);
  world_clear (&w);
}

/* Data naming another member: only the signed sender counts, unless the
 * sender is an admin (the owner here, from another device). Malformed
 * data falls back to the sender. */
static void
test_data_not_trusted (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  const gchar *topics[] = { TOPIC, NULL };
  g_autofree gchar *by_bob = NULL, *by_owner = NULL;
  Peer *bob, *carol, *owner_device;

  world_new (&w, server);
  bob = peer_new (&w, NULL, topics);
  carol = peer_new (&w, NULL, topics);
  world_set_name (&w, bob->uid, "Bob");
  world_set_name (&w, carol->uid, "Carol");
  world_set_name (&w, w.owner_uid, "Olga");
  owner = world_owner_account (&w, FALSE);
  chat = harness_join (owner, TOPIC);
  harness_wait_chat_user (chat, "Carol", "Carol in the owner's chat");
  harness_wait_chat_user (chat, "Bob", "Bob in the owner's chat");

  by_bob = g_strdup_printf ("{\"member\":\"%s\"}", carol->uid);
  peer_post (bob, TOPIC, "event.join", by_bob);
  harness_wait_line (owner, "Bob joined the space", PURPLE_MESSAGE_SYSTEM);
  peer_post (bob, TOPIC, "event.leave", "{\"user_id\": 42");
  harness_wait_line (owner, "Bob left the space", PURPLE_MESSAGE_SYSTEM);

  owner_device = peer_new (&w, w.key, topics);
  by_owner = g_strdup_printf ("{\"user_id\":\"%s\"}", carol->uid);
  peer_post (owner_device, TOPIC, "event.join", by_owner);
  harness_wait_line (owner, "Carol joined the space", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (count_system (owner, "Carol joined the space", NULL), ==, 1);
  g_assert_cmpuint (count_system (owner, "Bob joined the space", NULL), ==, 1);

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  peer_free (owner_device);
  peer_free (carol);
  peer_free (bob);
  world_clear (&w);
}

/* An empty (or blank) chat.text is no line; the next message is. */
static void
test_empty_text (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  const gchar *topics[] = { TOPIC, NULL };
  Peer *bob;

  world_new (&w, server);
  bob = peer_new (&w, NULL, topics);
  world_set_name (&w, bob->uid, "Bob");
  owner = world_owner_account (&w, FALSE);
  chat = harness_join (owner, TOPIC);
  harness_wait_chat_user (chat, "Bob", "Bob in the owner's chat");

  peer_post (bob, TOPIC, "chat.text", "");
  peer_post (bob, TOPIC, "chat.text", " \n\t ");
  peer_post (bob, TOPIC, "chat.text", "after the empty ones");
  harness_wait_line (owner, "after the empty ones", PURPLE_MESSAGE_RECV);
  g_assert_cmpuint (count_from (owner, "Bob"), ==, 1);

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  peer_free (bob);
  world_clear (&w);
}

/* Waits until the owner's chat of topic shows text: its history is in,
 * so its topic_opened (and any join post) has run. */
static PurpleConvChat *
join_and_wait (PurpleAccount *a, const gchar *topic, const gchar *text,
               PurpleMessageFlags flags)
{
  PurpleConvChat *chat = harness_join (a, topic);

  harness_wait_line (a, text, flags);
  return chat;
}


/* Our own join: posted once, at the first topic opened; neither a second
 * topic nor the next login posts another. */
static void
test_own_join_once (void)
{
  World w;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  const gchar *topics[] = { TOPIC, OTHER, NULL };
  g_autofree gchar *key = NULL;
  PeerMsg *m;
  Peer *bob;

  world_new (&w, server);
  bob = peer_new (&w, NULL, topics);
  peer_post (bob, TOPIC, "chat.text", "before anyone joined");
  peer_post (bob, OTHER, "chat.text", "other topic");
  owner = world_owner_account (&w, FALSE);
  chat = join_and_wait (owner, TOPIC, "before anyone joined", 0);
  peer_wait (bob, TOPIC, "event.join", w.owner_uid, NULL, "the owner's join");
  m = peer_find (bob, TOPIC, "event.join", w.owner_uid);
  {
    g_autofree gchar *expect = g_strdup_printf ("{\"user_id\":\"%s\"}",
                                                w.owner_uid);
    gsize len;
    const gchar *data = g_bytes_get_data (m->payload, &len);

    g_assert_cmpmem (data, len, expect, strlen (expect));
  }
  key = g_strconcat ("joined_event:", w.space, NULL);
  g_assert_cmpstr (purple_account_get_string (owner, key, NULL), ==, w.owner_uid);

  /* a second topic: nothing (a message sent after it opened arrives
   * after anything posted when it opened) */
  chat = join_and_wait (owner, OTHER, "other topic", 0);
  purple_conv_chat_send (chat, "marker one");
  peer_wait (bob, OTHER, "chat.text", w.owner_uid, "marker one", "marker one");

  /* the next login: nothing */
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  harness_wait (harness_account_disconnected, owner, 30, "the owner to log out");
  harness_account_connect (owner);
  harness_wait (harness_account_connected, owner, 30, "the owner to log in again");
  /* the topic opens after the read marker: our own join was the last
   * message, read when it was posted */
  chat = harness_join (owner, TOPIC);
  harness_wait_line (owner, "— No new messages since you last read",
                     PURPLE_MESSAGE_SYSTEM);
  purple_conv_chat_send (chat, "marker two");
  peer_wait (bob, TOPIC, "chat.text", w.owner_uid, "marker two", "marker two");
  g_assert_cmpuint (peer_count (bob, NULL, "event.join", w.owner_uid), ==, 1);
  /* and shown to the owner as a system line too */
  g_assert_cmpuint (harness_count_lines (owner, "joined the space",
                                         PURPLE_MESSAGE_SYSTEM), >, 0);

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  peer_free (bob);
  world_clear (&w);
}

/* A member added by id posts its join at its first topic; an account of
 * an older version (heads pinned in this space, no join recorded) was a
 * member before and posts none. */
static void
test_member_join (void)
{
  World w;
  PurpleAccount *erin, *old;
  PurpleConvChat *chat;
  const gchar *topics[] = { TOPIC, NULL };
  RdtSigningKey *erin_key, *old_key;
  g_autofree gchar *erin_uid = NULL, *erin_seed = NULL, *old_uid = NULL;
  g_autofree gchar *old_seed = NULL, *old_user = NULL;
  Peer *bob;

  world_new (&w, server);
  bob = peer_new (&w, NULL, topics);
  peer_post (bob, TOPIC, "chat.text", "history");

  erin_key = rdt_signing_key_generate ();
  erin_uid = rdt_signing_key_get_id (erin_key, RDT_ID_USER);
  erin_seed = harness_seed_hex (erin_key);
  world_add_member (&w, erin_uid);
  erin = world_account (&w, "erin", erin_seed, FALSE);
  join_and_wait (erin, TOPIC, "history", 0);
  peer_wait (bob, TOPIC, "event.join", erin_uid, NULL, "erin's join");

  old_key = rdt_signing_key_generate ();
  old_uid = rdt_signing_key_get_id (old_key, RDT_ID_USER);
  old_seed = harness_seed_hex (old_key);
  world_add_member (&w, old_uid);
  old_user = g_strconcat ("old@", w.space, NULL);
  old = harness_account_new (old_user, old_seed,
                             rdt_test_server_get_url (server), w.root_hex);
  /* what an older version left: a pinned head, no head_space */
  purple_account_set_string (old, "head:" OTHER, "x 0");
  harness_account_connect (old);
  harness_wait (harness_account_connected, old, 30, "the old account to connect");
  chat = join_and_wait (old, TOPIC, "history", 0);
  purple_conv_chat_send (chat, "old marker");
  peer_wait (bob, TOPIC, "chat.text", old_uid, "old marker", "old marker");
  g_assert_cmpuint (peer_count (bob, NULL, "event.join", old_uid), ==, 0);
  g_assert_cmpuint (peer_count (bob, NULL, "event.join", erin_uid), ==, 1);

  purple_account_set_enabled (old, "rdt-e2e", FALSE);
  purple_account_set_enabled (erin, "rdt-e2e", FALSE);
  rdt_signing_key_free (old_key);
  rdt_signing_key_free (erin_key);
  peer_free (bob);
  world_clear (&w);
}

static gboolean
account_gone (gpointer username)
{
  return purple_accounts_find (username, "prpl-reeeductio") == NULL;
}

/* Runs "Leave this space" on a and checks what it asked. */
static void
leave (PurpleAccount *a)
{
  HarnessPrompt *p;

  harness_run_action (a, "Leave this space");
  p = harness_prompt ();
  g_assert_nonnull (p);
  g_assert_nonnull (strstr (p->secondary, "left the space"));
  g_assert_cmpstr (harness_prompt_default_label (), ==, "Cancel");
  harness_answer_action ("Leave");
}

/* Leave this space: event.leave to the open chat, or to "general" when
 * none is open; then the account (with its keys) is gone. */
static void
test_leave (void)
{
  World w;
  PurpleAccount *owner, *dan;
  const gchar *topics[] = { TOPIC, OTHER, NULL };
  g_autofree gchar *owner_user = NULL, *dan_user = NULL, *dan_seed = NULL;
  RdtSigningKey *dan_key;
  gchar *dan_uid;
  Peer *bob;

  world_new (&w, server);
  bob = peer_new (&w, NULL, topics);

  /* a member without an open chat: "general" */
  dan_key = rdt_signing_key_generate ();
  dan_uid = rdt_signing_key_get_id (dan_key, RDT_ID_USER);
  dan_seed = harness_seed_hex (dan_key);
  world_add_member (&w, dan_uid);
  dan = world_account (&w, "dan", dan_seed, FALSE);
  dan_user = g_strdup (purple_account_get_username (dan));
  leave (dan);
  peer_wait (bob, TOPIC, "event.leave", dan_uid, NULL, "dan's leave in general");
  harness_wait (account_gone, dan_user, 30, "dan's account to be deleted");
  g_assert_cmpuint (peer_count (bob, NULL, "event.join", dan_uid), ==, 0);

  /* the owner, with a chat open */
  owner = world_owner_account (&w, FALSE);
  owner_user = g_strdup (purple_account_get_username (owner));
  join_and_wait (owner, OTHER, "joined the space", PURPLE_MESSAGE_SYSTEM);
  leave (owner);
  peer_wait (bob, OTHER, "event.leave", w.owner_uid, NULL, "the owner's leave");
  harness_wait (account_gone, owner_user, 30, "the owner's account to be deleted");
  g_assert_cmpuint (peer_count (bob, TOPIC, "event.leave", w.owner_uid), ==, 0);

  peer_free (bob);
  rdt_signing_key_free (dan_key);
  g_free (dan_uid);
  world_clear (&w);
}

static gboolean
notified (gpointer needle)
{
  return harness_find_notify (needle) != NULL;
}

/* The leave cannot be posted: said in a window, and the account and its
 * key stay. */
static void
test_leave_fails (void)
{
  World w;
  PurpleAccount *owner;
  g_autofree gchar *user = NULL;

  if (g_getenv ("RDT_TEST_SERVER_URL") != NULL)
    {
      g_test_skip ("needs the local test server's faults");
      return;
    }
  world_new (&w, server);
  owner = world_owner_account (&w, FALSE);
  user = g_strdup (purple_account_get_username (owner));
  join_and_wait (owner, TOPIC, "joined the space", PURPLE_MESSAGE_SYSTEM);
  rdt_test_server_fault (server, "{\"action\":\"status\",\"status\":400,"
                         "\"method\":\"POST\",\"path\":\"/messages\"}");
  leave (owner);
  harness_wait (notified, "could not be posted", 60, "the leave to fail");
  rdt_test_server_clear_faults (server);
  g_assert_true (purple_accounts_find (user, "prpl-reeeductio") == owner);
  g_assert_cmpstr (purple_account_get_password (owner), ==, w.seed_hex);
  g_assert_cmpstr (purple_account_get_string (owner, "symmetric_root", NULL), ==,
                   w.root_hex);

  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  harness_prompts_install ();

  g_test_add_func ("/events/shown", test_shown);
  g_test_add_func ("/events/data-not-trusted", test_data_not_trusted);
  g_test_add_func ("/events/empty-text", test_empty_text);
  g_test_add_func ("/events/own-join-once", test_own_join_once);
  g_test_add_func ("/events/member-join", test_member_join);
  g_test_add_func ("/events/leave", test_leave);
  g_test_add_func ("/events/leave-fails", test_leave_fails);
  return world_run (server);
}
