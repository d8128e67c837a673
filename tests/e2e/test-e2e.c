/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-e2e.c - the plugin inside libpurple's own core (suite e2e).
 *
 * Offline tests (plugin loading, settings validation) always run; the tests
 * against the test server are built when tests/lib provides the fixture.
 *
 * Every server test makes its own space: the plugin's account logs in as
 * the space's owner, and the "second client" is a real member in the same
 * process (the core's RdtSession, or RdtApi directly), added and granted
 * {"op":"write","path":"topics/{any}/messages"} through state writes signed
 * by the owner (spec 8.2, 8.5): the server's authorization is strict.
 *
 * External server: with RDT_TEST_SERVER_URL=http://host:port set, no server
 * is spawned and every test runs against that one, except the tests that
 * restart the server or edit its persisted data (reconnect, tampered
 * history, rewritten history), which are reported as skipped.
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "harness.h"
#include "attachment.h"
#include "crypto.h"
#include "id.h"
#ifdef RDT_HAVE_TESTSERVER
#include <json-glib/json-glib.h>
#include "api.h"
#include "message.h"
#include "session.h"
#include "membership.h"
#include "state.h"
#include "statesync.h"
#include "testserver.h"
#endif

#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"

typedef struct {
  gchar *space_id;
  gchar *seed_hex;
  RdtSigningKey *key;
  gchar *uid;          /* the owner as a user (U id of the space key) */
} Owner;

static Owner *
owner_new (void)
{
  Owner *o = g_new0 (Owner, 1);

  o->key = rdt_signing_key_generate ();
  o->space_id = rdt_signing_key_get_id (o->key, RDT_ID_SPACE);
  o->uid = rdt_signing_key_get_id (o->key, RDT_ID_USER);
  o->seed_hex = harness_seed_hex (o->key);
  return o;
}

static void
owner_free (Owner *o)
{
  g_free (o->space_id);
  g_free (o->seed_hex);
  g_free (o->uid);
  rdt_signing_key_free (o->key);
  g_free (o);
}

static gboolean
account_gone (gpointer data)
{
  return purple_account_get_connection (data) == NULL;
}

static HarnessError *
last_error_for (PurpleAccount *a)
{
  GPtrArray *errs = harness_errors ();

  for (guint i = errs->len; i > 0; i--)
    {
      HarnessError *e = errs->pdata[i - 1];
      if (g_strcmp0 (e->account, purple_account_get_username (a)) == 0)
        return e;
    }
  return NULL;
}

static guint
errors_for (PurpleAccount *a)
{
  GPtrArray *errs = harness_errors ();
  guint n = 0;

  for (guint i = 0; i < errs->len; i++)
    if (g_strcmp0 (((HarnessError *) errs->pdata[i])->account,
                   purple_account_get_username (a)) == 0)
      n++;
  return n;
}

static void
test_plugin_loaded (void)
{
  PurplePlugin *p = purple_find_prpl ("prpl-reeeductio");
  gchar *dir;

  g_assert_nonnull (p);
  g_assert_true (purple_plugin_is_loaded (p));
  dir = g_path_get_dirname (p->path);
  g_assert_cmpstr (dir, ==, g_getenv ("RDT_PLUGIN_DIR"));
  g_free (dir);
  g_assert_cmpstr (purple_plugin_get_name (p), ==, "reeeductio");
  g_assert_nonnull (PURPLE_PLUGIN_PROTOCOL_INFO (p)->user_splits);
}

static void
expect_invalid_settings (const gchar *username, const gchar *password,
                         const gchar *root, const gchar *fragment)
{
  PurpleAccount *a = harness_account_new (username, password,
                                          "http://127.0.0.1:9", root);
  HarnessError *e;
  guint before = errors_for (a);

  harness_account_connect (a);
  harness_wait (account_gone, a, 10, "account to disconnect");
  e = last_error_for (a);
  g_assert_nonnull (e);
  g_assert_cmpint (e->reason, ==, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS);
  g_assert_nonnull (strstr (e->text, fragment));
  g_assert_cmpuint (errors_for (a), ==, before + 1);
  purple_accounts_delete (a);
}

static void
test_invalid_settings (void)
{
  Owner *o = owner_new ();
  gchar *user = g_strconcat ("alice@", o->space_id, NULL);

  expect_invalid_settings ("alice@not-a-space", o->seed_hex, ZERO_KEY,
                           "space id");
  expect_invalid_settings (user, "not a key", ZERO_KEY, "private key");
  expect_invalid_settings (user, o->seed_hex, "abc", "symmetric root");
  g_free (user);
  owner_free (o);
}

#ifdef RDT_HAVE_TESTSERVER
static RdtTestServer *server;

#define TOPIC "general"

/* ---- waiting ---- */

/* The server is gone: the chats say so, and libpurple's connection stays
 * up (the session reconnects by itself; the chats stay usable). */
static void
wait_offline (PurpleAccount *a)
{
  harness_wait_line (a, "Connection lost", PURPLE_MESSAGE_SYSTEM);
  g_assert_true (purple_account_is_connected (a));
}

static HarnessLine *
find_exact (PurpleAccount *a, const gchar *text)
{
  GPtrArray *ls = harness_lines ();

  for (guint i = 0; i < ls->len; i++)
    {
      HarnessLine *l = ls->pdata[i];
      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          !(l->flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) &&
          g_strcmp0 (l->text, text) == 0)
        return l;
    }
  return NULL;
}

/* ---- space set-up: the owner writes state ---- */

typedef struct {
  RdtSigningKey *key;
  gchar *uid;
  gchar *seed_hex;
} Member;

/* A new member of o's space holding the chat capability of spec 8.2,
 * added as every client does it (src/core/membership.c). */
static Member *
member_new (Owner *o)
{
  Member *m = g_new0 (Member, 1);
  HarnessAsync w = { NULL };
  GError *error = NULL;
  RdtApi *api;

  m->key = rdt_signing_key_generate ();
  m->uid = rdt_signing_key_get_id (m->key, RDT_ID_USER);
  m->seed_hex = harness_seed_hex (m->key);
  api = rdt_api_new (rdt_test_server_get_url (server), o->space_id, o->key,
                     RDT_ID_USER, &error);
  g_assert_no_error (error);
  rdt_membership_add_member_async (api, m->uid, NULL, harness_async_cb, &w);
  harness_wait (harness_async_done, &w, 30, "the member to be added");
  if (!rdt_membership_add_member_finish (api, w.result, &error))
    g_error ("adding member %s refused: %s", m->uid, error->message);
  g_object_unref (w.result);
  g_object_unref (api);
  return m;
}

static void
member_free (Member *m)
{
  rdt_signing_key_free (m->key);
  g_free (m->uid);
  g_free (m->seed_hex);
  g_free (m);
}

/* ---- the second client: the core's RdtSession as a member ---- */

typedef struct {
  gchar *text;
  gchar *hash;
  gint64 timestamp;
  gboolean own;
} PeerMsg;

typedef struct {
  RdtSession *session;
  GPtrArray *msgs;        /* of PeerMsg */
  guint n_queued, n_sent, n_failed, n_warnings;
  gboolean opened;
} Peer;

static void
peer_msg_free (gpointer p)
{
  PeerMsg *m = p;
  g_free (m->text);
  g_free (m->hash);
  g_free (m);
}

static void
peer_on_opened (RdtSession *s, const gchar *topic, const GError *error,
                gpointer data)
{
  g_assert_no_error ((GError *) error);
  ((Peer *) data)->opened = TRUE;
}

static void
peer_on_message (RdtSession *s, const RdtSessionMessage *msg, gpointer data)
{
  Peer *p = data;
  PeerMsg *m = g_new0 (PeerMsg, 1);

  m->text = g_strdup (msg->text);
  m->hash = g_strdup (msg->message_hash);
  m->timestamp = msg->timestamp;
  m->own = msg->own;
  g_ptr_array_add (p->msgs, m);
}

static void
peer_on_warning (RdtSession *s, const gchar *topic, RdtWarningKind kind,
                 const gchar *text, gpointer data)
{
  g_test_message ("peer warning %d: %s", kind, text);
  ((Peer *) data)->n_warnings++;
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
  else
    p->n_sent++;
}

static const RdtSessionCallbacks peer_callbacks = {
  .topic_opened = peer_on_opened,
  .message = peer_on_message,
  .warning = peer_on_warning,
  .send_done = peer_on_send_done,
};

static gboolean
peer_is_opened (gpointer data)
{
  Peer *p = data;
  return p->opened && rdt_session_get_state (p->session) == RDT_SESSION_CONNECTED;
}

static Peer *
peer_new (Owner *o, Member *m, const gchar *topic)
{
  Peer *p = g_new0 (Peer, 1);
  guint8 root[RDT_KEY_LENGTH] = { 0 };
  GError *error = NULL;

  p->session = rdt_session_new_for_key (rdt_test_server_get_url (server),
                                        o->space_id, m->key, root, &error);
  g_assert_no_error (error);
  p->msgs = g_ptr_array_new_with_free_func (peer_msg_free);
  rdt_session_set_callbacks (p->session, &peer_callbacks, p);
  rdt_session_set_backoff (p->session, 100, 1000);
  rdt_session_connect (p->session);
  rdt_session_open_topic (p->session, topic, 50);
  harness_wait (peer_is_opened, p, 30, "second client to open the topic");
  return p;
}

static void
peer_free (Peer *p)
{
  rdt_session_free (p->session);
  g_ptr_array_unref (p->msgs);
  g_free (p);
}

static void
peer_send (Peer *p, const gchar *text)
{
  GError *error = NULL;

  g_assert_cmpuint (rdt_session_send_text (p->session, TOPIC, text, &error),
                    >, 0);
  g_assert_no_error (error);
  p->n_queued++;
}

static gboolean
peer_sent (gpointer data)
{
  Peer *p = data;
  return p->n_sent + p->n_failed >= p->n_queued;
}

/* Wait until every send of the second client has ended (send_done). */
static void
peer_wait_sent (Peer *p)
{
  harness_wait (peer_sent, p, 60, "second client's sends");
  g_assert_cmpuint (p->n_failed, ==, 0);
}

static PeerMsg *
peer_find (Peer *p, const gchar *text)
{
  for (guint i = 0; i < p->msgs->len; i++)
    if (g_strcmp0 (((PeerMsg *) p->msgs->pdata[i])->text, text) == 0)
      return p->msgs->pdata[i];
  return NULL;
}

static guint
peer_count (Peer *p, const gchar *text)
{
  guint n = 0;

  for (guint i = 0; i < p->msgs->len; i++)
    if (g_strcmp0 (((PeerMsg *) p->msgs->pdata[i])->text, text) == 0)
      n++;
  return n;
}

/* ---- plugin accounts ---- */

static PurpleAccount *
account_new (Owner *o, const gchar *local)
{
  gchar *user = g_strconcat (local, "@", o->space_id, NULL);
  PurpleAccount *a = harness_account_new (user, o->seed_hex,
                                          rdt_test_server_get_url (server),
                                          ZERO_KEY);
  gchar *joined = g_strconcat ("joined_event:", o->space_id, NULL);

  /* joined already: no event.join of ours moves the heads these tests
   * post on themselves (test-events.c covers the join) */
  purple_account_set_string (a, joined, "");
  g_free (joined);
  g_free (user);
  return a;
}

static PurpleAccount *
login (Owner *o, const gchar *local)
{
  PurpleAccount *a = account_new (o, local);

  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "account to connect");
  return a;
}

/* Send a marker and wait for it: anything queued before it has been shown
 * by then (one chain, in order), so counts taken afterwards are final. */
static void
drain (PurpleAccount *a, Peer *p, const gchar *marker)
{
  peer_send (p, marker);
  harness_wait_line (a, marker, 0);
  peer_wait_sent (p);
}

/* ---- tests ---- */

static void
test_login (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = account_new (o, "alice");
  PurpleConnection *gc;

  harness_account_connect (a);
  /* connecting first, then connected */
  g_assert_true (purple_account_is_connecting (a));
  harness_wait (harness_account_connected, a, 30, "account to connect");
  gc = purple_account_get_connection (a);
  g_assert_cmpint (purple_connection_get_state (gc), ==, PURPLE_CONNECTED);
  g_assert_cmpuint (harness_connect_attempts (a), ==, 1);
  g_assert_cmpuint (errors_for (a), ==, 0);
  harness_account_done (a);
  owner_free (o);
}

static void
test_join (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice");
  PurpleConvChat *chat = harness_join (a, TOPIC);
  gchar *nick = rdt_id_short (o->uid);
  Member *m = member_new (o);
  Peer *p = peer_new (o, m, TOPIC);

  g_assert_nonnull (nick);
  g_assert_cmpstr (purple_conv_chat_get_nick (chat), ==, nick);
  g_assert_true (purple_conv_chat_find_user (chat, nick));
  g_assert_false (purple_conv_chat_has_left (chat));
  /* joining twice does not open a second conversation or topic */
  g_assert_true (harness_join (a, TOPIC) == chat);
  /* the topic is live: a message posted now arrives */
  drain (a, p, "hello after join");
  g_assert_cmpuint (harness_count_exact (a, "hello after join"), ==, 1);
  /* the core's lifecycle lines reach libpurple's debug log (pidgin -d) at
   * info level, through the plugin's GLib log handler; what was written
   * does not */
  {
    g_autofree gchar *logged_in = g_strdup_printf (
        "INFO reeeductio: session: logged in as %s\n", o->uid);
    g_autofree gchar *opened = g_strdup_printf (
        "INFO reeeductio: session: topic %s opened: ", TOPIC);
    const gchar *log = harness_debug_log ();

    g_assert_nonnull (strstr (log, "INFO reeeductio: session: logging in to "));
    g_assert_nonnull (strstr (log, logged_in));
    g_assert_nonnull (strstr (log, opened));
    g_assert_null (strstr (log, "hello after join"));
  }
  g_free (nick);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

static void
test_backlog (void)
{
  Owner *o = owner_new ();
  Member *m = member_new (o);
  Peer *p = peer_new (o, m, TOPIC);
  PurpleAccount *a = account_new (o, "alice");
  GPtrArray *ls = harness_lines ();
  gint last = -1;
  gchar text[32];

  /* 8 messages, a backlog of 5: the newest page only */
  for (guint i = 0; i < 8; i++)
    {
      g_snprintf (text, sizeof text, "history %u", i);
      peer_send (p, text);
    }
  peer_wait_sent (p);
  purple_account_set_int (a, "backlog", 5);
  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "account to connect");
  harness_join (a, TOPIC);
  harness_wait_line (a, "history 7", PURPLE_MESSAGE_DELAYED);
  drain (a, p, "live after history");
  for (guint i = 0; i < 8; i++)
    {
      PeerMsg *pm;
      HarnessLine *l;

      g_snprintf (text, sizeof text, "history %u", i);
      if (i < 3)
        {
          g_assert_cmpuint (harness_count_exact (a, text), ==, 0);
          continue;
        }
      g_assert_cmpuint (harness_count_exact (a, text), ==, 1);
      l = find_exact (a, text);
      pm = peer_find (p, text);
      g_assert_nonnull (pm);
      /* delayed, received, with the server's original timestamp */
      g_assert_true (l->flags & PURPLE_MESSAGE_DELAYED);
      g_assert_true (l->flags & PURPLE_MESSAGE_RECV);
      g_assert_cmpint ((gint64) l->mtime, ==, pm->timestamp / 1000);
      /* in chain order */
      g_assert_cmpint ((gint) g_ptr_array_find (ls, l, NULL), >=, 0);
      {
        guint idx;
        g_assert_true (g_ptr_array_find (ls, l, &idx));
        g_assert_cmpint ((gint) idx, >, last);
        last = (gint) idx;
      }
    }
  {
    HarnessLine *live = find_exact (a, "live after history");
    g_assert_false (live->flags & PURPLE_MESSAGE_DELAYED);
  }
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

static void
test_send_echo_once (void)
{
  Owner *o = owner_new ();
  Member *m = member_new (o);
  Peer *p = peer_new (o, m, TOPIC);
  PurpleAccount *a = login (o, "alice");
  PurpleConvChat *chat = harness_join (a, TOPIC);
  HarnessLine *l;
  gchar *nick = rdt_id_short (o->uid);

  /* markup from the UI is sent as plain text and shown escaped */
  purple_conv_chat_send (chat, "first &amp; <i>one</i>");
  harness_wait_line (a, "first &amp; one", PURPLE_MESSAGE_SEND);
  purple_conv_chat_send (chat, "second");
  harness_wait_line (a, "second", PURPLE_MESSAGE_SEND);
  drain (a, p, "drain send");
  g_assert_cmpuint (harness_count_exact (a, "first &amp; one"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "second"), ==, 1);
  l = find_exact (a, "second");
  g_assert_cmpstr (l->who, ==, nick);
  g_assert_false (l->flags & PURPLE_MESSAGE_DELAYED);
  g_assert_false (l->flags & PURPLE_MESSAGE_RECV);
  /* the second client got exactly what was typed, once */
  g_assert_cmpuint (peer_count (p, "first & one"), ==, 1);
  g_assert_cmpuint (peer_count (p, "second"), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "not sent", PURPLE_MESSAGE_ERROR),
                    ==, 0);
  g_free (nick);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

static void
test_receive_live (void)
{
  Owner *o = owner_new ();
  Member *m = member_new (o);
  PurpleAccount *a = login (o, "alice");
  PurpleConvChat *chat = harness_join (a, TOPIC);
  Peer *p = peer_new (o, m, TOPIC);
  gchar *who = rdt_id_short (m->uid);
  HarnessLine *l;
  PeerMsg *pm;

  peer_send (p, "live <b>one</b>");
  peer_send (p, "live two");
  harness_wait_line (a, "live two", PURPLE_MESSAGE_RECV);
  drain (a, p, "drain live");
  g_assert_cmpuint (harness_count_exact (a, "live &lt;b&gt;one&lt;/b&gt;"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "live two"), ==, 1);
  l = find_exact (a, "live two");
  pm = peer_find (p, "live two");
  g_assert_nonnull (pm);
  g_assert_true (pm->own);
  /* the sender shows by its short id and is in the user list */
  g_assert_nonnull (who);
  g_assert_cmpstr (l->who, ==, who);
  g_assert_true (purple_conv_chat_find_user (chat, who));
  g_assert_false (l->flags & PURPLE_MESSAGE_DELAYED);
  g_assert_false (l->flags & PURPLE_MESSAGE_SEND);
  g_assert_cmpint ((gint64) l->mtime, ==, pm->timestamp / 1000);
  g_free (who);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

/* The same member on another device (same key): shown as our own, once. */
static void
test_own_other_device (void)
{
  Owner *o = owner_new ();
  Member self = { o->key, o->uid, o->seed_hex };
  PurpleAccount *a = login (o, "alice");
  PurpleConvChat *chat = harness_join (a, TOPIC);
  Peer *p = peer_new (o, &self, TOPIC);
  gchar *nick = rdt_id_short (o->uid);
  HarnessLine *l;

  peer_send (p, "from my phone");
  peer_wait_sent (p);
  harness_wait_line (a, "from my phone", PURPLE_MESSAGE_SEND);
  purple_conv_chat_send (chat, "from the plugin");
  harness_wait_line (a, "from the plugin", PURPLE_MESSAGE_SEND);
  l = find_exact (a, "from my phone");
  g_assert_cmpstr (l->who, ==, nick);
  g_assert_false (l->flags & PURPLE_MESSAGE_RECV);
  g_assert_cmpuint (harness_count_exact (a, "from my phone"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "from the plugin"), ==, 1);
  g_free (nick);
  peer_free (p);
  harness_account_done (a);
  owner_free (o);
}

/* Posting from another thread with its own main context while this thread
 * is blocked: the plugin cannot run in between, so these posts are
 * certainly made while the plugin is down (or behind). */
typedef struct {
  const gchar *space_id;
  const gchar *topic;
  RdtSigningKey *key;
  const gchar *uid;
  gchar *prev;                   /* out: new head (in: the server's) */
  const gchar * const *texts;
  GError *error;
} OffPost;

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gpointer
off_post_thread (gpointer data)
{
  OffPost *op = data;
  GMainContext *ctx = g_main_context_new ();
  guint8 root[RDT_KEY_LENGTH] = { 0 }, key[RDT_KEY_LENGTH];
  RdtSpaceKeys *keys = rdt_space_keys_new (root, op->space_id);
  RdtApi *api;

  g_main_context_push_thread_default (ctx);
  rdt_space_keys_topic_key (keys, op->topic, key);
  api = rdt_api_new (rdt_test_server_get_url (server), op->space_id, op->key,
                     RDT_ID_USER, &op->error);
  if (api && op->prev == NULL)
    {
      /* chain on the server's head (spec 4.6): whatever the plugin posted
       * itself (its event.join) included */
      HarnessAsync w = { NULL };
      GPtrArray *newest;

      rdt_api_get_messages_async (api, op->topic, G_GINT64_CONSTANT (9999999999999),
                                  0, 1, NULL, harness_async_cb, &w);
      while (w.result == NULL)
        g_main_context_iteration (ctx, TRUE);
      newest = rdt_api_get_messages_finish (api, w.result, NULL, &op->error);
      if (newest && newest->len > 0)
        op->prev = g_strdup (((RdtMessage *) newest->pdata[0])->message_hash);
      g_clear_pointer (&newest, g_ptr_array_unref);
      g_object_unref (w.result);
    }
  for (guint i = 0; api && op->texts[i] && op->error == NULL; i++)
    {
      gchar *d = rdt_payload_encrypt (key, (const guint8 *) op->texts[i],
                                      strlen (op->texts[i]));
      RdtMessage *m = rdt_message_new_signed (op->space_id, op->topic,
                                              "chat.text", op->prev, d,
                                              op->uid, op->key);
      HarnessAsync w = { NULL };

      if (i > 0)
        {
          /* Spec 4.6: two posts in one millisecond tie and the server's
           * head goes back to the older one; pace them like clients do. */
          gboolean due = FALSE;
          GSource *pace = g_timeout_source_new (3);

          g_source_set_callback (pace, set_flag, &due, NULL);
          g_source_attach (pace, ctx);
          while (!due)
            g_main_context_iteration (ctx, TRUE);
          g_source_unref (pace);
        }
      rdt_api_post_message_async (api, m, NULL, harness_async_cb, &w);
      while (w.result == NULL)
        g_main_context_iteration (ctx, TRUE);
      if (rdt_api_post_message_finish (api, w.result, &op->error) >= 0)
        {
          g_free (op->prev);
          op->prev = g_strdup (m->message_hash);
        }
      g_object_unref (w.result);
      rdt_message_unref (m);
      g_free (d);
    }
  g_clear_object (&api);
  while (g_main_context_iteration (ctx, FALSE))
    ;
  rdt_wipe (key, sizeof key);
  rdt_space_keys_free (keys);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return NULL;
}

/* The head the plugin persisted for TOPIC ("hash ts"): the hash. */
static gchar *
pinned_hash (PurpleAccount *a, const gchar *topic)
{
  gchar *key = g_strconcat ("head:", topic, NULL);
  const gchar *v = purple_account_get_string (a, key, NULL);
  gchar *hash;

  g_free (key);
  g_assert_nonnull (v);
  hash = g_strndup (v, strcspn (v, " "));
  g_assert_true (rdt_id_is_valid (hash, RDT_ID_MESSAGE));
  return hash;
}

static void
off_post (Member *m, Owner *o, const gchar * const *texts)
{
  OffPost op = { o->space_id, TOPIC, m->key, m->uid, NULL, texts, NULL };
  GThread *t = g_thread_new ("off-post", off_post_thread, &op);

  g_thread_join (t);
  g_assert_no_error (op.error);
  g_free (op.prev);
}

static void
test_reconnect (void)
{
  Owner *o;
  Member *m;
  PurpleAccount *a;
  Peer *p;
  static const gchar * const while_down[] = {
    "posted while down 1", "posted while down 2", "posted while down 3", NULL
  };

  if (!rdt_test_server_require_local (server, "stopping and restarting the server"))
    return;
  o = owner_new ();
  m = member_new (o);
  a = login (o, "alice");
  harness_join (a, TOPIC);
  p = peer_new (o, m, TOPIC);
  drain (a, p, "before restart");
  peer_free (p);

  /* server down: the chats say so, not an error */
  rdt_test_server_kill (server);
  wait_offline (a);
  rdt_test_server_resume (server);
  /* the second client posts before the plugin can run again */
  off_post (m, o, while_down);
  harness_wait (harness_account_connected, a, 60, "reconnect");
  for (guint i = 0; while_down[i]; i++)
    harness_wait_line (a, while_down[i], PURPLE_MESSAGE_RECV);
  /* a live message after the reconnect, from a fresh second client */
  p = peer_new (o, m, TOPIC);
  drain (a, p, "after restart");
  for (guint i = 0; while_down[i]; i++)
    g_assert_cmpuint (harness_count_exact (a, while_down[i]), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "before restart"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "after restart"), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "Reconnected", PURPLE_MESSAGE_SYSTEM),
                    >=, 1);
  g_assert_cmpuint (errors_for (a), ==, 0);
  /* libpurple itself did not log in again: the session reconnected */
  g_assert_cmpuint (harness_connect_attempts (a), ==, 1);

  /* a plain restart (tokens die with the process): the gap may be too
   * short to show as CONNECTING (the session may just reopen its stream
   * and log in again), but messages must flow again, once each */
  rdt_test_server_restart (server);
  harness_wait (harness_account_connected, a, 60, "reconnect after restart");
  harness_wait (peer_is_opened, p, 60, "second client back after restart");
  drain (a, p, "after second restart");
  g_assert_cmpuint (harness_count_exact (a, "after second restart"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "after restart"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, while_down[0]), ==, 1);
  g_assert_cmpuint (errors_for (a), ==, 0);
  g_assert_cmpuint (harness_connect_attempts (a), ==, 1);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

/* The index in the recorded lines of our own line with this exact text. */
static guint
own_line_index (PurpleAccount *a, const gchar *text)
{
  GPtrArray *ls = harness_lines ();
  guint found = G_MAXUINT;

  for (guint i = 0; i < ls->len; i++)
    {
      HarnessLine *l = ls->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0
          && g_strcmp0 (l->text, text) == 0
          && (l->flags & PURPLE_MESSAGE_SEND))
        {
          g_assert_cmpuint (found, ==, G_MAXUINT);   /* shown once */
          found = i;
        }
    }
  g_assert_cmpuint (found, !=, G_MAXUINT);
  return found;
}

static guint
peer_index (Peer *p, const gchar *text)
{
  for (guint i = 0; i < p->msgs->len; i++)
    if (g_strcmp0 (((PeerMsg *) p->msgs->pdata[i])->text, text) == 0)
      return i;
  g_assert_not_reached ();
}

/* Lines typed while the server is down are kept and posted once it is
 * back: each exactly once on the server, in order, shown once. */
static void
test_typed_offline (void)
{
  Owner *o;
  Member *m;
  PurpleAccount *a;
  PurpleConvChat *chat;
  Peer *p;
  static const gchar * const typed[] = {
    "typed offline 1", "typed offline 2", "typed offline 3", NULL
  };

  if (!rdt_test_server_require_local (server, "stopping and restarting the server"))
    return;
  o = owner_new ();
  m = member_new (o);
  a = login (o, "alice");
  chat = harness_join (a, TOPIC);
  p = peer_new (o, m, TOPIC);
  drain (a, p, "before the outage");
  peer_free (p);

  rdt_test_server_kill (server);
  wait_offline (a);
  g_assert_cmpuint (harness_count_lines (a, "next try in", PURPLE_MESSAGE_SYSTEM),
                    ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "/reconnect", PURPLE_MESSAGE_SYSTEM),
                    ==, 1);
  for (guint i = 0; typed[i]; i++)
    purple_conv_chat_send (chat, typed[i]);
  g_assert_cmpuint (harness_count_lines (a, "Offline: 3 messages will be sent "
                                         "when the connection is back.",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "not sent", PURPLE_MESSAGE_ERROR),
                    ==, 0);
  g_assert_cmpuint (harness_count_lines (a, "typed offline", PURPLE_MESSAGE_SEND),
                    ==, 0);   /* not shown before it is on the server */

  rdt_test_server_resume (server);
  harness_wait_line (a, "Sent 3 messages typed while offline.",
                     PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_lines (a, "Reconnected.", PURPLE_MESSAGE_SYSTEM),
                    ==, 1);
  /* shown once each, ours, in the order typed */
  g_assert_cmpuint (own_line_index (a, typed[0]), <, own_line_index (a, typed[1]));
  g_assert_cmpuint (own_line_index (a, typed[1]), <, own_line_index (a, typed[2]));
  /* on the server once each, in order, as another member reads it */
  p = peer_new (o, m, TOPIC);
  drain (a, p, "after the outage");
  for (guint i = 0; typed[i]; i++)
    g_assert_cmpuint (peer_count (p, typed[i]), ==, 1);
  g_assert_cmpuint (peer_index (p, typed[0]), <, peer_index (p, typed[1]));
  g_assert_cmpuint (peer_index (p, typed[1]), <, peer_index (p, typed[2]));
  g_assert_cmpuint (harness_count_lines (a, "not sent", PURPLE_MESSAGE_ERROR),
                    ==, 0);
  g_assert_cmpuint (errors_for (a), ==, 0);
  g_assert_cmpuint (harness_connect_attempts (a), ==, 1);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

/* Closing the account with lines still waiting for the connection says
 * which were not sent, and they are never posted later. */
static void
test_close_with_queued (void)
{
  Owner *o;
  Member *m;
  PurpleAccount *a;
  PurpleConvChat *chat;
  Peer *p;
  GPtrArray *ns;
  guint before, found = 0;

  if (!rdt_test_server_require_local (server, "stopping and restarting the server"))
    return;
  o = owner_new ();
  m = member_new (o);
  a = login (o, "alice");
  chat = harness_join (a, TOPIC);
  rdt_test_server_kill (server);
  wait_offline (a);
  purple_conv_chat_send (chat, "never sent one");
  purple_conv_chat_send (chat, "never sent two &amp; more");
  before = harness_notifies ()->len;
  harness_account_done (a);
  ns = harness_notifies ();
  for (guint i = before; i < ns->len; i++)
    {
      HarnessNotify *n = ns->pdata[i];

      if (g_strcmp0 (n->title, "Messages not sent") != 0)
        continue;
      found++;
      g_assert_nonnull (strstr (n->primary, "2 messages"));
      g_assert_nonnull (strstr (n->text, "never sent one"));
      g_assert_nonnull (strstr (n->text, "never sent two &amp; more"));
      g_assert_true (strstr (n->text, "never sent one")
                     < strstr (n->text, "never sent two &amp; more"));
    }
  g_assert_cmpuint (found, ==, 1);
  rdt_test_server_resume (server);
  p = peer_new (o, m, TOPIC);
  peer_send (p, "after close");
  peer_wait_sent (p);
  g_assert_cmpuint (peer_count (p, "never sent one"), ==, 0);
  g_assert_cmpuint (peer_count (p, "after close"), ==, 1);
  peer_free (p);
  member_free (m);
  owner_free (o);
}

static void
test_conflict_retry (void)
{
  Owner *o = owner_new ();
  Member *m = member_new (o);
  PurpleAccount *a = login (o, "alice");
  PurpleConvChat *chat = harness_join (a, TOPIC);
  Peer *p = peer_new (o, m, TOPIC);
  static const gchar * const sneak[] = { "sneaked in", NULL };
  gchar text[32];

  drain (a, p, "start");
  /* A post lands that neither client has seen yet, then both post on
   * their stale head at once: a certain 409 for each (spec 4.3, 15.9). */
  off_post (m, o, sneak);
  purple_conv_chat_send (chat, "plugin stale 0");
  peer_send (p, "peer stale 0");
  /* and both clients post concurrently */
  for (guint i = 1; i <= 5; i++)
    {
      g_snprintf (text, sizeof text, "plugin %u", i);
      purple_conv_chat_send (chat, text);
      g_snprintf (text, sizeof text, "peer %u", i);
      peer_send (p, text);
    }
  peer_wait_sent (p);
  harness_wait_line (a, "plugin 5", PURPLE_MESSAGE_SEND);
  drain (a, p, "end");
  g_assert_cmpuint (harness_count_exact (a, "sneaked in"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "plugin stale 0"), ==, 1);
  g_assert_cmpuint (peer_count (p, "plugin stale 0"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "peer stale 0"), ==, 1);
  g_assert_cmpuint (peer_count (p, "peer stale 0"), ==, 1);
  for (guint i = 1; i <= 5; i++)
    {
      g_snprintf (text, sizeof text, "plugin %u", i);
      g_assert_cmpuint (harness_count_exact (a, text), ==, 1);
      g_assert_cmpuint (peer_count (p, text), ==, 1);
      g_snprintf (text, sizeof text, "peer %u", i);
      g_assert_cmpuint (harness_count_exact (a, text), ==, 1);
      g_assert_cmpuint (peer_count (p, text), ==, 1);
    }
  g_assert_cmpuint (harness_count_lines (a, "not sent", PURPLE_MESSAGE_ERROR),
                    ==, 0);
  g_assert_cmpuint (p->n_warnings, ==, 0);
  {
    guint conflicts = 0;
    rdt_session_get_stats (p->session, &conflicts, NULL);
    g_test_message ("second client retried %u conflicts", conflicts);
    g_assert_cmpuint (conflicts, >=, 1);
  }
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

/* ---- persisted data of the local server ---- */

static gchar *
space_file (Owner *o)
{
  gchar *name = g_strconcat (o->space_id, ".jsonl", NULL);
  gchar *path = g_build_filename (rdt_test_server_get_data_dir (server), name, NULL);

  g_free (name);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  return path;
}

/* Rewrite the persisted space: edit (json != NULL) or drop the line of
 * message `hash`, and drop every line after it when `truncate`. */
static void
edit_space_file (Owner *o, const gchar *hash, const gchar *field,
                 const gchar *value, gboolean truncate)
{
  gchar *path = space_file (o), *contents = NULL;
  GString *out = g_string_new (NULL);
  gchar **lines;
  gboolean found = FALSE, after = FALSE;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (gchar **l = lines; *l; l++)
    {
      JsonParser *parser;
      JsonObject *obj;

      if (**l == '\0')
        continue;
      if (after && truncate)
        continue;
      parser = json_parser_new ();
      g_assert_true (json_parser_load_from_data (parser, *l, -1, NULL));
      obj = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member (obj, "message_hash"), hash) == 0)
        {
          found = after = TRUE;
          if (field)
            {
              gchar *line;
              json_object_set_string_member (obj, field, value);
              line = json_to_string (json_parser_get_root (parser), FALSE);
              g_string_append_printf (out, "%s\n", line);
              g_free (line);
            }
        }
      else
        g_string_append_printf (out, "%s\n", *l);
      g_object_unref (parser);
    }
  g_assert_true (found);
  g_assert_true (g_file_set_contents (path, out->str, -1, NULL));
  g_strfreev (lines);
  g_string_free (out, TRUE);
  g_free (contents);
  g_free (path);
}

static void
tampered (const gchar *field)
{
  Owner *o;
  Member *m;
  Peer *p;
  PurpleAccount *a;
  gchar *victim, *value;

  if (!rdt_test_server_require_local (server, "editing the stored messages in its data dir"))
    return;
  o = owner_new ();
  m = member_new (o);
  p = peer_new (o, m, TOPIC);
  peer_send (p, "honest before");
  peer_send (p, "the victim");
  peer_send (p, "honest after");
  peer_wait_sent (p);
  g_assert_nonnull (peer_find (p, "the victim"));
  victim = g_strdup (peer_find (p, "the victim")->hash);
  if (g_strcmp0 (field, "data") == 0)
    {
      /* well-formed, decryptable, but not what was signed */
      guint8 root[RDT_KEY_LENGTH] = { 0 }, key[RDT_KEY_LENGTH];
      RdtSpaceKeys *keys = rdt_space_keys_new (root, o->space_id);

      rdt_space_keys_topic_key (keys, TOPIC, key);
      value = rdt_payload_encrypt (key, (const guint8 *) "TAMPERED TEXT", 13);
      rdt_space_keys_free (keys);
      rdt_wipe (key, sizeof key);
    }
  else
    {
      guint8 sig[64];
      memset (sig, 0x5a, sizeof sig);
      value = g_base64_encode (sig, sizeof sig);
    }
  peer_free (p);

  rdt_test_server_kill (server);
  edit_space_file (o, victim, field, value, FALSE);
  rdt_test_server_resume (server);

  a = login (o, "alice");
  harness_join (a, TOPIC);
  /* a warning line that names the message, never its text */
  {
    gchar *sid = rdt_id_short (victim);
    harness_wait_line (a, sid, PURPLE_MESSAGE_ERROR);
    g_free (sid);
  }
  p = peer_new (o, m, TOPIC);
  g_assert_cmpuint (p->n_warnings, >, 0);
  /* the plugin has finished the history once a live message shows */
  drain (a, p, "live after tamper");
  g_assert_cmpuint (harness_count_exact (a, "TAMPERED TEXT"), ==, 0);
  g_assert_cmpuint (harness_count_exact (a, "the victim"), ==, 0);
  g_assert_cmpuint (harness_count_lines (a, "TAMPERED", 0), ==, 0);
  g_assert_true (purple_account_is_connected (a));
  g_free (value);
  g_free (victim);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

static void
test_tampered_data (void)
{
  tampered ("data");
}

static void
test_tampered_signature (void)
{
  tampered ("signature");
}

static void
test_history_rewritten (void)
{
  Owner *o;
  Member *m;
  Peer *p;
  PurpleAccount *a;
  gchar *cut, *pin_before;
  gint64 started;

  if (!rdt_test_server_require_local (server, "cutting the stored history in its data dir"))
    return;
  o = owner_new ();
  m = member_new (o);
  p = peer_new (o, m, TOPIC);
  a = login (o, "alice");
  harness_join (a, TOPIC);
  started = g_get_monotonic_time ();
  drain (a, p, "kept 1");
  drain (a, p, "dropped 1");
  drain (a, p, "dropped 2");
  g_assert_nonnull (peer_find (p, "dropped 1"));
  cut = g_strdup (peer_find (p, "dropped 1")->hash);
  /* The pin is written at most once a minute while connected (the first
   * head at once), and the newest when the account closes: that one must
   * be the last message. */
  pin_before = g_strdup (peer_find (p, "dropped 2")->hash);
  if (g_get_monotonic_time () - started < 50 * G_USEC_PER_SEC)
    {
      gchar *early = pinned_hash (a, TOPIC);

      g_assert_cmpstr (early, !=, pin_before);
      g_free (early);
    }
  peer_free (p);
  harness_account_done (a);
  harness_wait (account_gone, a, 10, "account to go offline");
  {
    gchar *at_close = pinned_hash (a, TOPIC);

    g_assert_cmpstr (at_close, ==, pin_before);
    g_free (at_close);
  }

  /* the server loses the last two messages: the pinned head is gone */
  rdt_test_server_kill (server);
  edit_space_file (o, cut, NULL, NULL, TRUE);
  rdt_test_server_resume (server);

  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "reconnect after rewrite");
  harness_join (a, TOPIC);
  /* the warning names the head that is gone */
  {
    gchar *lost = rdt_id_short (pin_before);
    harness_wait_line (a, lost, PURPLE_MESSAGE_ERROR);
    g_free (lost);
  }
  g_assert_true (purple_account_is_connected (a));
  /* what is still there shows, what is gone does not reappear */
  g_assert_cmpuint (harness_count_exact (a, "kept 1"), >=, 1);
  g_free (pin_before);
  g_free (cut);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

/* Leaving a chat while a send waits for the connection: the send ends (it
 * is never posted later), and no "/retry" hint goes into the closed chat. */
static void
test_leave_with_queued_send (void)
{
  Owner *o;
  Member *m;
  PurpleAccount *a;
  PurpleConvChat *chat;
  Peer *p;

  if (!rdt_test_server_require_local (server, "stopping the server while a send waits"))
    return;
  o = owner_new ();
  m = member_new (o);
  a = login (o, "alice");
  chat = harness_join (a, TOPIC);
  rdt_test_server_kill (server);
  wait_offline (a);
  purple_conv_chat_send (chat, "queued then abandoned");
  purple_conversation_destroy (purple_conv_chat_get_conversation (chat));
  g_assert_cmpuint (harness_count_lines (a, "/retry", PURPLE_MESSAGE_ERROR),
                    ==, 0);
  rdt_test_server_resume (server);
  harness_wait (harness_account_connected, a, 60, "reconnect");
  /* history as a member sees it: the abandoned text never got posted */
  p = peer_new (o, m, TOPIC);
  peer_send (p, "after leave");
  peer_wait_sent (p);
  g_assert_cmpuint (peer_count (p, "queued then abandoned"), ==, 0);
  g_assert_cmpuint (peer_count (p, "after leave"), ==, 1);
  g_assert_true (purple_account_is_connected (a));
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* Run the main loop for a fixed time: only to check that nothing happens. */
static void
run_for (guint seconds)
{
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);

  g_timeout_add_seconds (seconds, quit_loop, loop);
  g_main_loop_run (loop);
  g_main_loop_unref (loop);
}

static void
test_bad_credentials (void)
{
  Owner *o = owner_new ();
  Owner *other = owner_new ();
  Member *m;
  /* other's key on o's space: a valid key that is not a member */
  gchar *user = g_strconcat ("mallory@", o->space_id, NULL);
  PurpleAccount *a;
  HarnessError *e;

  m = member_new (o);   /* the space exists */
  a = harness_account_new (user, other->seed_hex,
                           rdt_test_server_get_url (server), ZERO_KEY);
  harness_account_connect (a);
  harness_wait (account_gone, a, 30, "auth failure");
  e = last_error_for (a);
  g_assert_nonnull (e);
  g_assert_cmpint (e->reason, ==, PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED);
  g_test_message ("shown to the user: %s", e->text);
  /* says what to do: have this member id added */
  {
    gchar *uid = rdt_signing_key_get_id (other->key, RDT_ID_USER);
    g_assert_nonnull (strstr (e->text, uid));
    g_assert_nonnull (strstr (e->text, "not a member"));
    g_free (uid);
  }
  g_assert_cmpuint (errors_for (a), ==, 1);
  g_assert_cmpuint (harness_connect_attempts (a), ==, 1);
  /* still one attempt a while later: no retry storm (nothing may happen,
   * so this waits for the absence of events for a bounded time) */
  run_for (3);
  g_assert_cmpuint (errors_for (a), ==, 1);
  g_assert_cmpuint (harness_connect_attempts (a), ==, 1);
  g_assert_null (purple_account_get_connection (a));
  g_free (user);
  member_free (m);
  owner_free (o);
  owner_free (other);
}

static void
test_invalid_topic (void)
{
  Owner *o = owner_new ();
  PurpleAccount *a = login (o, "alice");
  GHashTable *c = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *n = harness_notifies ();
  guint before = n->len;
  HarnessNotify *note;

  g_hash_table_insert (c, "topic", "Not A Topic!");
  serv_join_chat (purple_account_get_connection (a), c);
  g_hash_table_destroy (c);
  g_assert_null (purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT,
                                                        "Not A Topic!", a));
  /* the user is told, with the topic named */
  g_assert_cmpuint (n->len, ==, before + 1);
  note = n->pdata[n->len - 1];
  g_assert_cmpint (note->type, ==, PURPLE_NOTIFY_MSG_ERROR);
  g_assert_nonnull (strstr (note->primary, "Not A Topic!"));
  g_assert_true (purple_account_is_connected (a));
  harness_account_done (a);
  owner_free (o);
}

/* ---- attachments through the plugin (issue #6) ---- */

/* /send-file of an image: uploaded, announced, shown inline; /fetch saves
 * the same bytes; a member's image under a wrong key is refused with a
 * warning and never shown; the local size limit is said, not hit. */
static void
test_attachments (void)
{
  Owner *o = owner_new ();
  Member *m = member_new (o);
  Peer *p = peer_new (o, m, TOPIC);
  PurpleAccount *a = login (o, "alice");
  PurpleConvChat *chat = harness_join (a, TOPIC);
  PurpleConversation *conv = purple_conv_chat_get_conversation (chat);
  g_autofree gchar *dir = g_dir_make_tmp ("rdt-attach-XXXXXX", NULL);
  g_autofree gchar *pic = g_build_filename (dir, "pic.png", NULL);
  g_autofree gchar *out = g_build_filename (dir, "out.png", NULL);
  g_autofree gchar *big = g_build_filename (dir, "big.bin", NULL);
  g_autofree gchar *cmd = NULL;
  g_autofree gchar *saved = NULL;
  gchar *err = NULL;
  guint8 data[3000];
  gsize saved_len;

  rdt_random_bytes (data, sizeof data);
  /* a PNG header (64 x 48): inline images are checked against their type */
  memcpy (data, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x40\0\0\0\x30", 24);
  g_assert_true (g_file_set_contents (pic, (gchar *) data, sizeof data, NULL));
  cmd = g_strconcat ("send-file ", pic, NULL);
  g_assert_cmpint (purple_cmd_do_command (conv, cmd, cmd, &err), ==,
                   PURPLE_CMD_STATUS_OK);
  harness_wait_line (a, "Uploaded “pic.png”", PURPLE_MESSAGE_SYSTEM);
  harness_wait_line (a, "sent image “pic.png”", PURPLE_MESSAGE_SEND);
  harness_wait_line (a, "<img id=", PURPLE_MESSAGE_IMAGES);
  g_free (cmd);
  cmd = g_strconcat ("fetch 1 ", out, NULL);
  g_assert_cmpint (purple_cmd_do_command (conv, cmd, cmd, &err), ==,
                   PURPLE_CMD_STATUS_OK);
  harness_wait_line (a, "Saved “pic.png”", PURPLE_MESSAGE_SYSTEM);
  g_assert_true (g_file_get_contents (out, &saved, &saved_len, NULL));
  g_assert_cmpmem (saved, saved_len, data, sizeof data);

  /* a member announces an image with a wrong key */
  {
    RdtAttachment *att = NULL;
    GBytes *blob = rdt_attachment_encrypt (data, 100, 0, &att, NULL);
    GError *error = NULL;
    gchar *json;
    gsize jlen;

    HarnessAsync put = { NULL };

    rdt_api_put_blob_async (rdt_session_get_api (p->session), att->blob_id,
                            blob, NULL, harness_async_cb, &put);
    harness_wait (harness_async_done, &put, 30, "peer upload");
    g_assert_true (rdt_api_put_blob_finish (rdt_session_get_api (p->session),
                                            put.result, &error));
    g_clear_object (&put.result);
    att->dek[3] ^= 1;
    att->filename = g_strdup ("evil.png");
    att->content_type = g_strdup ("image/png");
    json = rdt_attachment_to_json (att, &jlen);
    g_assert_cmpuint (rdt_session_send_payload (p->session, TOPIC, "chat.image",
                                                (guint8 *) json, jlen, &error),
                      >, 0);
    g_assert_no_error (error);
    harness_wait_line (a, "“evil.png” from", PURPLE_MESSAGE_ERROR);
    g_assert_cmpuint (harness_count_lines (a, "<img id=", PURPLE_MESSAGE_IMAGES),
                      ==, 1);
    g_free (json);
    g_bytes_unref (blob);
    rdt_attachment_free (att);
  }

  /* a big file: progress lines at 25% steps, before the final line; none
   * for the small one */
  {
    gsize n = 3 * 1024 * 1024;
    guint8 *rnd = g_malloc (n);
    GPtrArray *ls;
    gint last_progress = -1, uploaded = -1;

    rdt_random_bytes (rnd, n);
    g_assert_true (g_file_set_contents (big, (gchar *) rnd, (gssize) n, NULL));
    g_free (rnd);
    g_free (cmd);
    cmd = g_strconcat ("send-file ", big, NULL);
    g_assert_cmpint (purple_cmd_do_command (conv, cmd, cmd, &err), ==,
                     PURPLE_CMD_STATUS_OK);
    harness_wait_line (a, "Uploaded “big.bin”", PURPLE_MESSAGE_SYSTEM);
    g_assert_cmpuint (harness_count_lines (a, "Uploading “big.bin”: 25%",
                                           PURPLE_MESSAGE_SYSTEM), ==, 1);
    g_assert_cmpuint (harness_count_lines (a, "Uploading “big.bin”: 50%",
                                           PURPLE_MESSAGE_SYSTEM), ==, 1);
    g_assert_cmpuint (harness_count_lines (a, "Uploading “big.bin”: 75%",
                                           PURPLE_MESSAGE_SYSTEM), ==, 1);
    g_assert_cmpuint (harness_count_lines (a, "Uploading “big.bin”:",
                                           PURPLE_MESSAGE_SYSTEM), ==, 3);
    g_assert_cmpuint (harness_count_lines (a, "Uploading “pic.png”:",
                                           PURPLE_MESSAGE_SYSTEM), ==, 0);
    ls = harness_lines ();
    for (guint i = 0; i < ls->len; i++)
      {
        HarnessLine *l = ls->pdata[i];

        if (g_strcmp0 (l->account, purple_account_get_username (a)) != 0)
          continue;
        if (strstr (l->text, "Uploading “big.bin”:") != NULL)
          last_progress = (gint) i;
        else if (strstr (l->text, "Uploaded “big.bin”") != NULL)
          uploaded = (gint) i;
      }
    g_assert_cmpint (last_progress, >=, 0);
    g_assert_cmpint (last_progress, <, uploaded);
  }

  /* over the local limit: said before anything is read or sent */
  purple_account_set_int (a, "max-attachment-mb", 1);
  {
    gchar *zeros = g_malloc0 (2 * 1024 * 1024);
    g_assert_true (g_file_set_contents (big, zeros, 2 * 1024 * 1024, NULL));
    g_free (zeros);
  }
  g_free (cmd);
  cmd = g_strconcat ("send-file ", big, NULL);
  purple_cmd_do_command (conv, cmd, cmd, &err);
  g_free (err);
  harness_wait_line (a, "“big.bin” is too large to send", PURPLE_MESSAGE_ERROR);

  g_unlink (pic);
  g_unlink (out);
  g_unlink (big);
  g_rmdir (dir);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

/* ---- history tampered on the way (server fault injection) ---- */

#define WARNING_MARK "Warning"

/* Index in the display of account a's normal line `text`, or -1. */
static gint
line_index (PurpleAccount *a, const gchar *text)
{
  GPtrArray *ls = harness_lines ();

  for (guint i = 0; i < ls->len; i++)
    {
      HarnessLine *l = ls->pdata[i];
      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          !(l->flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) &&
          g_strcmp0 (l->text, text) == 0)
        return (gint) i;
    }
  return -1;
}

/* Normal lines of account a that are none of `allowed`: what a forged or
 * altered message would look like if it got through. */
static guint
count_unexpected (PurpleAccount *a, const gchar * const *allowed)
{
  GPtrArray *ls = harness_lines ();
  guint n = 0;

  for (guint i = 0; i < ls->len; i++)
    {
      HarnessLine *l = ls->pdata[i];
      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0 &&
          !(l->flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) &&
          !g_strv_contains (allowed, l->text))
        {
          g_test_message ("unexpected line: %s", l->text);
          n++;
        }
    }
  return n;
}

static void
served_tampered (const gchar *mode, gboolean expect_warning)
{
  static const gchar * const texts[] = { "s1", "s2", "s3", "s4", "s5",
                                         "after", NULL };
  Owner *o;
  Member *m;
  Peer *p;
  PurpleAccount *a;
  gchar *fault;
  gint prev = -1;

  if (!rdt_test_server_require_local (server, "the tamper fault of the fault control endpoint"))
    return;
  o = owner_new ();
  m = member_new (o);
  p = peer_new (o, m, TOPIC);
  for (guint i = 0; i < 5; i++)
    peer_send (p, texts[i]);
  peer_wait_sent (p);

  /* Only the plugin's reads are tampered with: GET lists (and, for data
   * and signature, GET by hash), never what is stored. */
  /* Warned modes stay on until the warning shows; the others apply to
   * the first read only (the newest page), which is then all the plugin
   * has until it asks again. */
  /* only the plugin's (the owner's) reads: the peer must see the truth
   * whenever it reads */
  fault = g_strdup_printf ("{\"path\":\"/topics/" TOPIC "/messages\","
                           "\"method\":\"GET\",\"action\":\"tamper\","
                           "\"caller\":\"%s\","
                           "\"mode\":\"%s\"%s}", o->uid, mode,
                           expect_warning ? "" : ",\"count\":1");
  rdt_test_server_fault (server, fault);
  a = login (o, "alice");
  harness_join (a, TOPIC);
  if (expect_warning)
    {
      harness_wait_line (a, WARNING_MARK, PURPLE_MESSAGE_ERROR);
      rdt_test_server_clear_faults (server);
    }
  else
    for (guint i = 0; i < 5; i++)
      harness_wait_line (a, texts[i], PURPLE_MESSAGE_RECV);
  drain (a, p, "after");

  /* Nothing altered or forged shown as a message; what is shown is shown
   * once and in chain order (links, not the order served). */
  g_assert_cmpuint (count_unexpected (a, texts), ==, 0);
  for (guint i = 0; i < 6; i++)
    {
      gint at = line_index (a, texts[i]);
      g_assert_cmpuint (harness_count_exact (a, texts[i]), <=, 1);
      if (at >= 0)
        {
          g_assert_cmpint (at, >, prev);
          prev = at;
        }
    }
  /* Nothing is silently missing: a message not shown was warned about. */
  for (guint i = 0; i < 5; i++)
    if (harness_count_exact (a, texts[i]) == 0)
      g_assert_cmpuint (harness_count_lines (a, WARNING_MARK,
                                             PURPLE_MESSAGE_ERROR), >, 0);
  if (!expect_warning)   /* reorder: the real chain is recovered */
    for (guint i = 0; i < 5; i++)
      g_assert_cmpuint (harness_count_exact (a, texts[i]), ==, 1);
  g_assert_true (purple_account_is_connected (a));
  g_free (fault);
  peer_free (p);
  member_free (m);
  harness_account_done (a);
  owner_free (o);
}

static void
test_served_data (void)
{
  served_tampered ("data", TRUE);
}

static void
test_served_signature (void)
{
  served_tampered ("signature", TRUE);
}

static void
test_served_sender (void)
{
  served_tampered ("sender", TRUE);
}

static void
test_served_insert (void)
{
  served_tampered ("insert", TRUE);
}

/* The newest page misses a message: what follows the gap is shown, what
 * precedes it cannot be linked and is reported, never shown unverified. */
static void
test_served_drop (void)
{
  /* The message left out of the list is fetched by hash (spec 4.7): the
   * real chain, nothing to warn about. */
  served_tampered ("drop", FALSE);
}

static void
test_served_reorder (void)
{
  served_tampered ("reorder", FALSE);
}


/* ---- the fault soak of issue #7 ---- */

#define SOAK_POSTERS 5
#define SOAK_EACH 200

typedef struct {
  PurpleAccount *a;
  guint want;
} SoakProgress;

static gboolean
soak_seen (gpointer data)
{
  SoakProgress *sp = data;
  GPtrArray *ls = harness_lines ();
  guint n = 0;

  for (guint i = 0; i < ls->len; i++)
    {
      HarnessLine *l = ls->pdata[i];
      if (g_strcmp0 (l->account, purple_account_get_username (sp->a)) == 0 &&
          !(l->flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) &&
          l->text[0] == 'p' && strlen (l->text) == 6)
        n++;
    }
  return n >= sp->want;
}

/* Five members post 200 messages each at once while the server drops,
 * delays, fails and garbles answers, closes the stream and restarts. The
 * plugin must show all 1000 once each, every poster's messages in order,
 * and say what happened without crashing or hanging. */
static void
test_fault_soak (void)
{
  static const gchar *faults[] = {
    "{\"path\":\"/messages\",\"method\":\"POST\",\"action\":\"drop\",\"count\":3}",
    "{\"path\":\"/messages\",\"action\":\"status\",\"status\":503,\"count\":6}",
    "{\"path\":\"/messages\",\"action\":\"delay\",\"delay_ms\":1500,\"count\":3}",
    "{\"path\":\"/messages\",\"method\":\"GET\",\"action\":\"garbage\",\"count\":2}",
    "{\"action\":\"close_websockets\"}",
    "restart",
    "{\"path\":\"/messages\",\"method\":\"GET\",\"action\":\"truncate\",\"count\":2}",
    "{\"path\":\"/messages\",\"action\":\"status\",\"status\":500,\"count\":6}",
  };
  Owner *o;
  Member *m[SOAK_POSTERS];
  Peer *p[SOAK_POSTERS];
  PurpleAccount *a;
  gchar text[32];
  SoakProgress sp;

  if (!rdt_test_server_require_local (server, "restarts and the fault control endpoint"))
    return;
  o = owner_new ();
  a = login (o, "alice");
  harness_join (a, TOPIC);
  for (guint i = 0; i < SOAK_POSTERS; i++)
    {
      m[i] = member_new (o);
      p[i] = peer_new (o, m[i], TOPIC);
    }
  for (guint n = 0; n < SOAK_EACH; n++)
    for (guint i = 0; i < SOAK_POSTERS; i++)
      {
        g_snprintf (text, sizeof text, "p%u-%03u", i, n);
        peer_send (p[i], text);
      }
  sp.a = a;
  for (guint f = 0; f < G_N_ELEMENTS (faults); f++)
    {
      sp.want = (f + 1) * SOAK_POSTERS * SOAK_EACH / (G_N_ELEMENTS (faults) + 2);
      harness_wait (soak_seen, &sp, 120, "soak progress");
      g_test_message ("soak: %u shown, injecting %s", sp.want, faults[f]);
      if (strcmp (faults[f], "restart") == 0)
        rdt_test_server_restart (server);
      else
        rdt_test_server_fault (server, faults[f]);
    }
  for (guint i = 0; i < SOAK_POSTERS; i++)
    {
      harness_wait (peer_sent, p[i], 300, "the posters' sends");
      g_assert_cmpuint (p[i]->n_failed, ==, 0);
    }
  rdt_test_server_clear_faults (server);
  drain (a, p[0], "soak end");

  for (guint i = 0; i < SOAK_POSTERS; i++)
    {
      gint prev = -1;

      for (guint n = 0; n < SOAK_EACH; n++)
        {
          gint at;

          g_snprintf (text, sizeof text, "p%u-%03u", i, n);
          g_assert_cmpuint (harness_count_exact (a, text), ==, 1);
          at = line_index (a, text);
          g_assert_cmpint (at, >, prev);
          prev = at;
        }
    }
  g_assert_true (purple_account_is_connected (a));
  g_assert_cmpuint (harness_count_lines (a, "not sent", PURPLE_MESSAGE_ERROR),
                    ==, 0);
  for (guint i = 0; i < SOAK_POSTERS; i++)
    {
      peer_free (p[i]);
      member_free (m[i]);
    }
  harness_account_done (a);
  owner_free (o);
}

/* ---- attachments from Pidgin's entry, and /retry of an upload ---- */

typedef struct {
  Peer *p;
  const gchar *prefix;
} PeerPrefix;

static gboolean
peer_has_prefix (gpointer data)
{
  PeerPrefix *w = data;

  for (guint i = 0; i < w->p->msgs->len; i++)
    if (g_str_has_prefix (((PeerMsg *) w->p->msgs->pdata[i])->text,
                          w->prefix))
      return TRUE;
  return FALSE;
}

/* An image put into the message (Pidgin's Insert Image, a pasted or
 * dropped picture: <IMG ID="n"> of the image store) goes as a chat.image
 * attachment, the text around it as a message; a failed upload says so
 * and /retry uploads the same file again. */
static void
test_inserted_image_and_retry (void)
{
  Owner *o = owner_new ();
  Member *m = member_new (o);
  Peer *p = peer_new (o, m, TOPIC);
  PurpleAccount *a = login (o, "alice");
  PurpleConvChat *chat = harness_join (a, TOPIC);
  PurpleConversation *conv = purple_conv_chat_get_conversation (chat);
  guint8 png[2000];
  gint img_id;
  g_autofree gchar *html = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("rdt-retry-XXXXXX", NULL);
  g_autofree gchar *file = g_build_filename (dir, "notes.txt", NULL);
  g_autofree gchar *cmd = NULL;
  gchar *err = NULL;
  PeerPrefix w = { p, "[chat.image: shot.png" };

  g_assert_true (purple_account_get_connection (a) != NULL);
  /* Pidgin enables Insert Image in chats only with OPT_PROTO_IM_IMAGE */
  g_assert_true (PURPLE_PLUGIN_PROTOCOL_INFO (purple_find_prpl (
      "prpl-reeeductio"))->options & OPT_PROTO_IM_IMAGE);

  rdt_random_bytes (png, sizeof png);
  memcpy (png, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x20\0\0\0\x10", 24);
  img_id = purple_imgstore_add_with_id (g_memdup2 (png, sizeof png),
                                        sizeof png, "shot.png");
  html = g_strdup_printf ("look at this <IMG ID=\"%d\"> one", img_id);
  purple_conv_chat_send (chat, html);
  /* the entry lets go of its images once sent */
  purple_imgstore_unref_by_id (img_id);
  harness_wait_line (a, "look at this  one", PURPLE_MESSAGE_SEND);
  harness_wait_line (a, "Uploaded “shot.png”", PURPLE_MESSAGE_SYSTEM);
  harness_wait_line (a, "<img id=", PURPLE_MESSAGE_IMAGES);
  harness_wait (peer_has_prefix, &w, 30, "the image at the other member");
  g_assert_nonnull (peer_find (p, "look at this  one"));

  /* an image alone sends no empty text */
  img_id = purple_imgstore_add_with_id (g_memdup2 (png, sizeof png),
                                        sizeof png, "only.png");
  g_free (html);
  html = g_strdup_printf (" <img id=\"%d\"> ", img_id);
  purple_conv_chat_send (chat, html);
  purple_imgstore_unref_by_id (img_id);
  harness_wait_line (a, "Uploaded “only.png”", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_lines (a, "Message not sent", 0), ==, 0);

  /* the upload fails: said, with /retry; the same file goes up again */
  if (!rdt_test_server_require_local (server, "a PUT /blobs/ fault for the failed "
                                      "upload (the inserted image part passed)"))
    goto out;
  g_assert_true (g_file_set_contents (file, "meeting notes", -1, NULL));
  rdt_test_server_fault (server, "{\"action\":\"status\",\"status\":400,"
                         "\"method\":\"PUT\",\"path\":\"/blobs/\"}");
  cmd = g_strconcat ("send-file ", file, NULL);
  g_assert_cmpint (purple_cmd_do_command (conv, cmd, cmd, &err), ==,
                   PURPLE_CMD_STATUS_OK);
  harness_wait_line (a, "Could not upload “notes.txt”", PURPLE_MESSAGE_ERROR);
  harness_wait_line (a, "/retry", PURPLE_MESSAGE_ERROR);
  rdt_test_server_clear_faults (server);
  g_assert_cmpint (purple_cmd_do_command (conv, "retry", "retry", &err), ==,
                   PURPLE_CMD_STATUS_OK);
  harness_wait_line (a, "Uploaded “notes.txt”", PURPLE_MESSAGE_SYSTEM);
  w.prefix = "[file.upload: notes.txt";
  harness_wait (peer_has_prefix, &w, 30, "the file at the other member");
  /* nothing left to retry */
  g_assert_cmpint (purple_cmd_do_command (conv, "retry", "retry", &err), !=,
                   PURPLE_CMD_STATUS_OK);
  g_free (err);

out:
  g_unlink (file);
  g_rmdir (dir);
  peer_free (p);
  harness_account_done (a);
  member_free (m);
  owner_free (o);
}

/* An image put into the message while the server is down waits for the
 * connection (encrypted), then goes up and reaches the other member once. */
static void
test_image_offline (void)
{
  Owner *o;
  Member *m;
  Peer *p;
  PurpleAccount *a;
  PurpleConvChat *chat;
  guint8 png[600];
  gint img_id;
  g_autofree gchar *html = NULL;
  PeerPrefix w = { NULL, "[chat.image: offline.png" };

  if (!rdt_test_server_require_local (server, "stopping and restarting the server"))
    return;
  o = owner_new ();
  m = member_new (o);
  a = login (o, "alice");
  chat = harness_join (a, TOPIC);
  rdt_test_server_kill (server);
  wait_offline (a);
  rdt_random_bytes (png, sizeof png);
  memcpy (png, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x08\0\0\0\x08", 24);
  img_id = purple_imgstore_add_with_id (g_memdup2 (png, sizeof png),
                                        sizeof png, "offline.png");
  html = g_strdup_printf ("<IMG ID=\"%d\">", img_id);
  purple_conv_chat_send (chat, html);
  purple_imgstore_unref_by_id (img_id);
  harness_wait_line (a, "Offline: “offline.png” will be uploaded when the "
                     "connection is back.", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_lines (a, "Could not upload", PURPLE_MESSAGE_ERROR),
                    ==, 0);
  rdt_test_server_resume (server);
  harness_wait_line (a, "Uploaded “offline.png”", PURPLE_MESSAGE_SYSTEM);
  p = peer_new (o, m, TOPIC);
  w.p = p;
  harness_wait (peer_has_prefix, &w, 30, "the image at the other member");
  drain (a, p, "after the offline image");
  g_assert_cmpuint (harness_count_lines (a, "Uploaded “offline.png”",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  {
    guint n = 0;

    for (guint i = 0; i < p->msgs->len; i++)
      n += g_str_has_prefix (((PeerMsg *) p->msgs->pdata[i])->text, w.prefix);
    g_assert_cmpuint (n, ==, 1);
  }
  peer_free (p);
  harness_account_done (a);
  member_free (m);
  owner_free (o);
}

/* ---- what members may post: odd data and signature spellings ---- */

/* Posts data as m to TOPIC on prev, its signature spelled with junk the
 * server drops if junk_sig; paces 3 ms after (spec 4.6). */
static void
post_spelled (RdtApi *api, Owner *o, Member *m, gchar **prev,
              const gchar *data, gboolean junk_sig)
{
  g_autoptr (RdtMessage) msg = rdt_message_new_signed (o->space_id, TOPIC,
      "chat.text", *prev, data, m->uid, m->key);
  HarnessAsync w = { NULL };
  GError *error = NULL;

  if (junk_sig)
    {
      gchar *sig = g_strdup_printf ("%.10s \n*%s", msg->signature,
                                    msg->signature + 10);

      g_free (msg->signature);
      msg->signature = sig;
    }
  rdt_api_post_message_async (api, msg, NULL, harness_async_cb, &w);
  harness_wait (harness_async_done, &w, 30, "a post");
  if (rdt_api_post_message_finish (api, w.result, &error) < 0)
    g_error ("post refused: %s", error->message);
  g_object_unref (w.result);
  g_free (*prev);
  *prev = g_strdup (msg->message_hash);
  harness_pause (3, "the pause between posts");
}

static gchar *
encrypt_text (const guint8 key[RDT_KEY_LENGTH], const gchar *text)
{
  return rdt_payload_encrypt (key, (const guint8 *) text, strlen (text));
}

/* The server never decodes data and decodes signatures leniently (spec
 * 4.1, 4.3): a member can post data that is not base64, and a signature
 * with junk in it that the server stores as sent. One such message must
 * not make the topic (or the state) unreadable: the odd data is one
 * "could not be decrypted" warning, the odd signature verifies, and
 * everything around them is shown, in the backlog and live. */
static void
test_member_spellings (void)
{
  static const gchar * const allowed[] = { "before", "junk-sig", "middle",
                                           "live-junk", "live-after", NULL };
  Owner *o = owner_new ();
  Member *m = member_new (o);
  guint8 root[RDT_KEY_LENGTH] = { 0 }, key[RDT_KEY_LENGTH];
  g_autoptr (RdtSpaceKeys) keys = rdt_space_keys_new (root, o->space_id);
  g_autoptr (RdtState) state = NULL;
  GError *error = NULL;
  RdtApi *api;
  gchar *prev = NULL;
  PurpleAccount *a;
  PurpleConvChat *chat;
  g_autofree gchar *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL, *d5 = NULL;

  rdt_space_keys_topic_key (keys, TOPIC, key);
  api = rdt_api_new (rdt_test_server_get_url (server), o->space_id, m->key,
                     RDT_ID_USER, &error);
  g_assert_no_error (error);
  d1 = encrypt_text (key, "before");
  d2 = encrypt_text (key, "junk-sig");
  d3 = encrypt_text (key, "middle");
  post_spelled (api, o, m, &prev, d1, FALSE);
  post_spelled (api, o, m, &prev, "not base64!", FALSE);
  post_spelled (api, o, m, &prev, d2, TRUE);
  post_spelled (api, o, m, &prev, d3, FALSE);

  a = login (o, "owner");
  chat = harness_join (a, TOPIC);
  harness_wait_line (a, "middle", 0);
  g_assert_cmpuint (harness_count_exact (a, "before"), ==, 1);
  g_assert_cmpuint (harness_count_exact (a, "junk-sig"), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "could not be decrypted",
                                         PURPLE_MESSAGE_ERROR), ==, 1);

  /* live, over the stream */
  d4 = encrypt_text (key, "live-junk");
  d5 = encrypt_text (key, "live-after");
  post_spelled (api, o, m, &prev, "\u00e9\u00e9 also not base64", FALSE);
  post_spelled (api, o, m, &prev, d4, TRUE);
  post_spelled (api, o, m, &prev, d5, FALSE);
  harness_wait_line (a, "live-after", 0);
  g_assert_cmpuint (harness_count_exact (a, "live-junk"), ==, 1);
  g_assert_cmpuint (harness_count_lines (a, "could not be decrypted",
                                         PURPLE_MESSAGE_ERROR), ==, 2);

  /* the state: a profile whose data is not base64, then a real one */
  state = rdt_state_new (o->space_id, keys->state_key);
  {
    g_autofree gchar *path = g_strconcat ("profiles/", m->uid, NULL);
    g_autofree gchar *name = rdt_state_encode_profile (state, "Zed", &error);
    const gchar *paths[] = { path, path };
    const gchar *datas[] = { "not base64!", name };
    HarnessAsync w = { NULL };

    g_assert_no_error (error);
    rdt_state_write_async (api, paths, datas, 2, NULL, harness_async_cb, &w);
    harness_wait (harness_async_done, &w, 30, "the profile writes");
    g_assert_true (rdt_state_write_finish (api, w.result, &error));
    g_assert_no_error (error);
    g_object_unref (w.result);
    harness_wait_chat_user (chat, "Zed", "the member's name from the state");
  }

  /* nothing reported as broken, nothing odd shown */
  g_assert_cmpuint (harness_count_lines (a, "do not link", 0), ==, 0);
  g_assert_cmpuint (harness_count_lines (a, "could not read", 0), ==, 0);
  g_assert_cmpuint (harness_count_lines (a, "Bad answer", 0), ==, 0);
  g_assert_cmpuint (count_unexpected (a, allowed), ==, 0);

  rdt_wipe (key, sizeof key);
  g_free (prev);
  g_object_unref (api);
  harness_account_done (a);
  member_free (m);
  owner_free (o);
}

#endif

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  /* the harness is no Pidgin: images inline as Pidgin shows them */
  g_setenv ("RDT_INLINE_IMAGES", "1", TRUE);
  rdt_crypto_init ();
  harness_init ();
  g_test_add_func ("/e2e/plugin-loaded", test_plugin_loaded);
  g_test_add_func ("/e2e/invalid-settings", test_invalid_settings);
#ifdef RDT_HAVE_TESTSERVER
  server = rdt_test_server_start (NULL);
  g_test_add_func ("/e2e/login", test_login);
  g_test_add_func ("/e2e/join", test_join);
  g_test_add_func ("/e2e/backlog", test_backlog);
  g_test_add_func ("/e2e/send-echo-once", test_send_echo_once);
  g_test_add_func ("/e2e/receive-live", test_receive_live);
  g_test_add_func ("/e2e/own-other-device", test_own_other_device);
  g_test_add_func ("/e2e/reconnect", test_reconnect);
  g_test_add_func ("/e2e/typed-offline", test_typed_offline);
  g_test_add_func ("/e2e/close-with-queued", test_close_with_queued);
  g_test_add_func ("/e2e/conflict-retry", test_conflict_retry);
  g_test_add_func ("/e2e/tampered-data", test_tampered_data);
  g_test_add_func ("/e2e/tampered-signature", test_tampered_signature);
  g_test_add_func ("/e2e/history-rewritten", test_history_rewritten);
  g_test_add_func ("/e2e/leave-with-queued-send", test_leave_with_queued_send);
  g_test_add_func ("/e2e/bad-credentials", test_bad_credentials);
  g_test_add_func ("/e2e/invalid-topic", test_invalid_topic);
  g_test_add_func ("/e2e/attachments", test_attachments);
  g_test_add_func ("/e2e/served/data", test_served_data);
  g_test_add_func ("/e2e/served/signature", test_served_signature);
  g_test_add_func ("/e2e/served/sender", test_served_sender);
  g_test_add_func ("/e2e/served/insert", test_served_insert);
  g_test_add_func ("/e2e/served/reorder", test_served_reorder);
  g_test_add_func ("/e2e/served/drop", test_served_drop);
  g_test_add_func ("/e2e/member-spellings", test_member_spellings);
  g_test_add_func ("/e2e/inserted-image-and-retry",
                   test_inserted_image_and_retry);
  g_test_add_func ("/e2e/image-offline", test_image_offline);
  /* long: run by the `faults` test, skipped by `e2e` (see meson.build) */
  g_test_add_func ("/faults/soak", test_fault_soak);
#endif
  ret = g_test_run ();
#ifdef RDT_HAVE_TESTSERVER
  rdt_test_server_stop (server);
#endif
  purple_core_quit ();
  return ret;
}
