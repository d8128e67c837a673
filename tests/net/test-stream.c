/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-stream.c - RdtStream (src/core/stream.c).
 *
 * /stream/fake/...: against a SoupServer in this process whose WebSocket
 * end the test drives frame by frame (control frames, garbage, binary,
 * oversize, close codes, refused handshake, freeing from callbacks).
 * /stream/server/...: against the real rdt-test-server.
 *
 * No sleeps: every wait runs the main loop until the event, with a timeout
 * that fails the test.
 */
#include <string.h>

#include <libsoup/soup.h>

#include "api.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "message.h"
#include "stream.h"
#ifdef RDT_HAVE_TESTSERVER
#include "testserver.h"
#endif

#define WAIT_TIMEOUT_S 20

static const gchar *SPACE = "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c";
static const gchar *MSG1_HASH = "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe";
static const gchar *MSG1_JSON =
  "{\"message_hash\":\"MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe\","
  "\"topic_id\":\"general\",\"type\":\"chat.text\",\"prev_hash\":null,"
  "\"data\":\"AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==\","
  "\"sender\":\"UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU\","
  "\"signature\":\"l3YZStUjYhQukP+/hhDjzkzApHODq+mVFNK3+DhSAmplFVFDN4XEPsTCFQzBlqIAwmevS3B2w8qd7a82ODboAQ==\","
  "\"server_timestamp\":1700000000000}";

/* ------------------------------------------------------------------ */
/* Waiting */

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

typedef gboolean (*CondFunc) (gpointer data);

static void
wait_for (CondFunc cond, gpointer data)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (WAIT_TIMEOUT_S, timeout_cb, &timed_out);

  while (!cond (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  g_assert_false (timed_out);
}

static gboolean
ptr_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* ------------------------------------------------------------------ */
/* What the stream reported */

typedef struct {
  GPtrArray *messages;    /* RdtMessage */
  GPtrArray *bad;         /* gchar* error messages */
  guint      closed;
  GError    *close_error;
  gboolean   free_on_message;
  gboolean   free_on_closed;
  gboolean   reconnect_on_closed;
  GAsyncResult *reconnect_res;
} Events;

static void
events_init (Events *ev)
{
  memset (ev, 0, sizeof *ev);
  ev->messages = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  ev->bad = g_ptr_array_new_with_free_func (g_free);
}

static void
events_clear (Events *ev)
{
  g_ptr_array_unref (ev->messages);
  g_ptr_array_unref (ev->bad);
  g_clear_error (&ev->close_error);
  g_clear_object (&ev->reconnect_res);
}

static void
on_message (RdtStream *stream, RdtMessage *msg, gpointer user_data)
{
  Events *ev = user_data;

  g_ptr_array_add (ev->messages, rdt_message_ref (msg));
  if (ev->free_on_message)
    rdt_stream_free (stream);
}

static void
on_bad_frame (RdtStream *stream, const GError *error, gpointer user_data)
{
  Events *ev = user_data;

  g_assert_nonnull (error);
  g_ptr_array_add (ev->bad, g_strdup (error->message));
}

static void
on_closed (RdtStream *stream, const GError *error, gpointer user_data)
{
  Events *ev = user_data;

  ev->closed++;
  g_clear_error (&ev->close_error);
  if (error != NULL)
    ev->close_error = g_error_copy (error);
  g_assert_false (rdt_stream_is_open (stream));
  if (ev->reconnect_on_closed)
    {
      ev->reconnect_on_closed = FALSE;
      rdt_stream_connect_async (stream, NULL, store_result,
                                &ev->reconnect_res);
    }
  else if (ev->free_on_closed)
    rdt_stream_free (stream);
}

static gboolean
n_messages_reached (gpointer data)
{
  gpointer *pair = data;
  return ((Events *) pair[0])->messages->len >= GPOINTER_TO_UINT (pair[1]);
}

static void
wait_messages (Events *ev, guint n)
{
  gpointer pair[2] = { ev, GUINT_TO_POINTER (n) };
  wait_for (n_messages_reached, pair);
}

static gboolean
n_bad_reached (gpointer data)
{
  gpointer *pair = data;
  return ((Events *) pair[0])->bad->len >= GPOINTER_TO_UINT (pair[1]);
}

static void
wait_bad (Events *ev, guint n)
{
  gpointer pair[2] = { ev, GUINT_TO_POINTER (n) };
  wait_for (n_bad_reached, pair);
}

static gboolean
closed_reached (gpointer data)
{
  return ((Events *) data)->closed > 0;
}

static gboolean
stream_connect (RdtStream *stream, GError **error)
{
  GAsyncResult *res = NULL;
  gboolean ok;

  rdt_stream_connect_async (stream, NULL, store_result, &res);
  wait_for (ptr_set, &res);
  ok = rdt_stream_connect_finish (stream, res, error);
  g_object_unref (res);
  return ok;
}

static gboolean
do_auth (RdtApi *api, GError **error)
{
  GAsyncResult *res = NULL;
  gboolean ok;

  rdt_api_authenticate_async (api, NULL, store_result, &res);
  wait_for (ptr_set, &res);
  ok = rdt_api_authenticate_finish (api, res, error);
  g_object_unref (res);
  return ok;
}

static RdtSigningKey *
key_from_byte (guint8 b)
{
  guint8 seed[32];

  memset (seed, b, sizeof seed);
  return rdt_signing_key_new_from_seed (seed);
}

/* ------------------------------------------------------------------ */
/* Fake server: trivial login + a WebSocket end the test drives */

typedef struct {
  SoupServer *server;
  gchar *url;
  SoupWebsocketConnection *ws;   /* server side of the last connection */
  GPtrArray *received;           /* texts the server got */
  gchar *last_query;
  gboolean answer_pong;
} Fake;

static void
fake_http (SoupServer *server, SoupServerMessage *msg, const char *path,
           GHashTable *query, gpointer user_data)
{
  const gchar *answer;

  if (g_str_has_suffix (path, "/auth/challenge"))
    answer = "{\"challenge\":\"q1w2e3r4t5y6u7i8o9p0q1w2e3r4t5y6u7i8o9p0abc=\","
             "\"expires_at\":9999999999999}";
  else if (g_str_has_suffix (path, "/auth/verify"))
    answer = "{\"token\":\"eyJ.good.sig\",\"expires_at\":9999999999999}";
  else
    {
      /* e.g. a stream for another space: refuse the handshake. */
      soup_server_message_set_status (msg, 403, NULL);
      return;
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json",
                                    SOUP_MEMORY_STATIC, answer,
                                    strlen (answer));
}

static void
fake_ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message,
                 gpointer user_data)
{
  Fake *f = user_data;
  gsize len;
  const gchar *data = g_bytes_get_data (message, &len);

  g_ptr_array_add (f->received, g_strndup (data, len));
  if (f->answer_pong && len == 4 && memcmp (data, "ping", 4) == 0)
    soup_websocket_connection_send_text (ws, "pong");
}

static void
fake_ws (SoupServer *server, SoupServerMessage *msg, const char *path,
         SoupWebsocketConnection *connection, gpointer user_data)
{
  Fake *f = user_data;
  const gchar *q = g_uri_get_query (soup_server_message_get_uri (msg));

  g_free (f->last_query);
  f->last_query = g_strdup (q);
  if (f->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (f->ws, f);
      g_object_unref (f->ws);
    }
  f->ws = g_object_ref (connection);
  g_signal_connect (connection, "message", G_CALLBACK (fake_ws_message), f);
}

static Fake *
fake_new (void)
{
  Fake *f = g_new0 (Fake, 1);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *wspath = g_strdup_printf ("/spaces/%s/stream", SPACE);
  GSList *uris;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, fake_http, f, NULL);
  soup_server_add_websocket_handler (f->server, wspath, NULL, NULL, fake_ws,
                                     f, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0,
                                           SOUP_SERVER_LISTEN_IPV4_ONLY,
                                           &error));
  uris = soup_server_get_uris (f->server);
  f->url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  f->received = g_ptr_array_new_with_free_func (g_free);
  f->answer_pong = TRUE;
  return f;
}

static void
fake_free (Fake *f)
{
  if (f->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (f->ws, f);
      g_object_unref (f->ws);
    }
  soup_server_disconnect (f->server);
  g_object_unref (f->server);
  g_ptr_array_unref (f->received);
  g_free (f->last_query);
  g_free (f->url);
  g_free (f);
}

static RdtApi *
fake_api (Fake *f, const gchar *space)
{
  g_autoptr (RdtSigningKey) key = key_from_byte (2);
  RdtApi *api = rdt_api_new (f->url, space, key, RDT_ID_USER, NULL);

  g_assert_nonnull (api);
  g_assert_true (do_auth (api, NULL));
  return api;
}

/* Connected stream + server end. */
static RdtStream *
fake_connect (Fake *f, RdtApi *api, Events *ev)
{
  RdtStream *stream = rdt_stream_new (api);
  g_autoptr (GError) error = NULL;

  rdt_stream_set_callbacks (stream, on_message, on_bad_frame, on_closed, ev);
  g_clear_object (&f->ws);
  g_assert_true (stream_connect (stream, &error));
  g_assert_no_error (error);
  g_assert_true (rdt_stream_is_open (stream));
  wait_for (ptr_set, &f->ws);
  return stream;
}

static gboolean
received_ping (gpointer data)
{
  Fake *f = data;
  for (guint i = 0; i < f->received->len; i++)
    if (strcmp (f->received->pdata[i], "ping") == 0)
      return TRUE;
  return FALSE;
}

static gboolean
server_ws_closed (gpointer data)
{
  Fake *f = data;
  return soup_websocket_connection_get_state (f->ws)
         == SOUP_WEBSOCKET_STATE_CLOSED;
}

/* ------------------------------------------------------------------ */
/* Fake-server tests */

static void
test_fake_frames (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f, SPACE);
  g_autoptr (RdtSigningKey) key = key_from_byte (2);
  g_autoptr (RdtMessage) pingmsg = NULL;
  g_autofree gchar *pingjson = NULL;
  g_autofree gchar *me = rdt_signing_key_get_id (key, RDT_ID_USER);
  Events ev;
  RdtStream *stream;

  events_init (&ev);
  stream = fake_connect (f, api, &ev);
  g_assert_cmpstr (f->last_query, ==, "token=eyJ.good.sig");

  /* Control frames are ignored; messages pass; order kept. */
  soup_websocket_connection_send_text (f->ws, "{\"type\": \"ping\"}");
  soup_websocket_connection_send_text (f->ws, "pong");
  soup_websocket_connection_send_text (f->ws, "{\"type\":\"future\",\"x\":[1]}");
  soup_websocket_connection_send_text (f->ws, MSG1_JSON);
  /* A chat message of type "ping" is a message (it has message_hash). */
  pingmsg = rdt_message_new_signed (SPACE, "general", "ping", NULL, "", me,
                                    key);
  pingmsg->server_timestamp = 5;
  pingjson = rdt_message_to_json_string (pingmsg);
  soup_websocket_connection_send_text (f->ws, pingjson);
  wait_messages (&ev, 2);
  g_assert_cmpuint (ev.messages->len, ==, 2);
  g_assert_cmpstr (((RdtMessage *) ev.messages->pdata[0])->message_hash, ==,
                   MSG1_HASH);
  g_assert_cmpstr (((RdtMessage *) ev.messages->pdata[1])->type, ==, "ping");
  g_assert_cmpuint (ev.bad->len, ==, 0);

  /* Bad frames: not JSON, not an object, a broken message, binary. */
  soup_websocket_connection_send_text (f->ws, "hello there");
  soup_websocket_connection_send_text (f->ws, "[1,2,3]");
  soup_websocket_connection_send_text (f->ws,
                                       "{\"message_hash\":\"Mxx\",\"type\":1}");
  soup_websocket_connection_send_binary (f->ws, "\x01\x02", 2);
  soup_websocket_connection_send_text (f->ws, "{\"message_hash\":");
  wait_bad (&ev, 5);
  g_assert_cmpuint (ev.bad->len, ==, 5);
  g_assert_nonnull (strstr (ev.bad->pdata[3], "binary"));
  /* Still open and still delivering. */
  g_assert_true (rdt_stream_is_open (stream));
  soup_websocket_connection_send_text (f->ws, MSG1_JSON);
  wait_messages (&ev, 3);
  g_assert_cmpuint (ev.closed, ==, 0);

  /* Our close: on_closed with no error, exactly once. */
  rdt_stream_close (stream);
  wait_for (closed_reached, &ev);
  g_assert_no_error (ev.close_error);
  g_assert_cmpuint (ev.closed, ==, 1);
  g_assert_false (rdt_stream_is_open (stream));
  rdt_stream_free (stream);
  events_clear (&ev);
  fake_free (f);
}

static void
test_fake_keepalive (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f, SPACE);
  Events ev;
  RdtStream *stream;

  events_init (&ev);
  stream = fake_connect (f, api, &ev);
  rdt_stream_set_keepalive_interval (stream, 1);
  wait_for (received_ping, f);
  /* The "pong" answer is not a bad frame; a message still arrives. */
  soup_websocket_connection_send_text (f->ws, MSG1_JSON);
  wait_messages (&ev, 1);
  g_assert_cmpuint (ev.bad->len, ==, 0);
  g_assert_cmpuint (ev.closed, ==, 0);
  rdt_stream_free (stream);   /* while open: no callback afterwards */
  g_assert_cmpuint (ev.closed, ==, 0);
  events_clear (&ev);

  /* A peer that stops answering our pings is declared dead. */
  events_init (&ev);
  f->answer_pong = FALSE;
  stream = fake_connect (f, api, &ev);
  rdt_stream_set_keepalive_interval (stream, 1);
  wait_for (closed_reached, &ev);
  g_assert_error (ev.close_error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  g_assert_nonnull (strstr (ev.close_error->message, "stopped answering"));
  g_assert_false (rdt_stream_is_open (stream));
  rdt_stream_free (stream);
  events_clear (&ev);
  fake_free (f);
}

static void
test_fake_server_close (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f, SPACE);
  Events ev;
  RdtStream *stream;

  events_init (&ev);
  stream = fake_connect (f, api, &ev);
  soup_websocket_connection_close (f->ws, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                                   "going down");
  wait_for (closed_reached, &ev);
  g_assert_error (ev.close_error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  g_assert_nonnull (strstr (ev.close_error->message, "1011"));
  g_assert_nonnull (strstr (ev.close_error->message, "going down"));

  /* Idle again: it can reconnect. */
  g_clear_object (&f->ws);
  g_clear_error (&ev.close_error);
  ev.closed = 0;
  {
    g_autoptr (GError) error = NULL;
    g_assert_true (stream_connect (stream, &error));
    g_assert_no_error (error);
  }
  wait_for (ptr_set, &f->ws);
  soup_websocket_connection_send_text (f->ws, MSG1_JSON);
  wait_messages (&ev, 1);

  /* Connection dropped without a close frame. */
  g_io_stream_close (soup_websocket_connection_get_io_stream (f->ws), NULL,
                     NULL);
  wait_for (closed_reached, &ev);
  g_assert_error (ev.close_error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  rdt_stream_free (stream);
  events_clear (&ev);
  fake_free (f);
}

static void
test_fake_oversize_frame (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f, SPACE);
  gchar *big = g_malloc (RDT_STREAM_MAX_FRAME + 2);
  Events ev;
  RdtStream *stream;

  events_init (&ev);
  stream = fake_connect (f, api, &ev);
  memset (big, ' ', RDT_STREAM_MAX_FRAME + 1);
  big[0] = '{';
  big[RDT_STREAM_MAX_FRAME] = '}';
  big[RDT_STREAM_MAX_FRAME + 1] = '\0';
  soup_websocket_connection_send_text (f->ws, big);
  g_free (big);
  wait_for (closed_reached, &ev);
  g_assert_error (ev.close_error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  g_assert_cmpuint (ev.messages->len, ==, 0);
  rdt_stream_free (stream);
  events_clear (&ev);
  fake_free (f);
}

static void
test_fake_refused (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtSigningKey) other = key_from_byte (3);
  g_autofree gchar *space2 = rdt_signing_key_get_id (other, RDT_ID_SPACE);
  g_autoptr (RdtApi) api = fake_api (f, space2);
  g_autoptr (GError) error = NULL;
  RdtStream *stream = rdt_stream_new (api);

  /* HTTP 403 on the upgrade: a bad token. */
  g_assert_false (stream_connect (stream, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED);
  g_assert_false (rdt_stream_is_open (stream));
  g_clear_error (&error);

  /* No token at all. */
  rdt_api_clear_token (api);
  g_assert_false (stream_connect (stream, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED);
  rdt_stream_free (stream);
  fake_free (f);
}

static void
test_fake_callbacks_free (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f, SPACE);
  Events ev;
  RdtStream *stream;

  /* Freed from inside on_message: no further callbacks, no crash. */
  events_init (&ev);
  ev.free_on_message = TRUE;
  stream = fake_connect (f, api, &ev);
  soup_websocket_connection_send_text (f->ws, MSG1_JSON);
  soup_websocket_connection_send_text (f->ws, MSG1_JSON);
  wait_messages (&ev, 1);
  /* Wait until the server sees our close; nothing more is reported. */
  wait_for (server_ws_closed, f);
  g_assert_cmpuint (ev.messages->len, ==, 1);
  g_assert_cmpuint (ev.closed, ==, 0);
  events_clear (&ev);

  /* Freed from inside on_closed. */
  events_init (&ev);
  ev.free_on_closed = TRUE;
  stream = fake_connect (f, api, &ev);
  soup_websocket_connection_close (f->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  wait_for (closed_reached, &ev);
  events_clear (&ev);

  /* Reconnect from inside on_closed. */
  events_init (&ev);
  ev.reconnect_on_closed = TRUE;
  stream = fake_connect (f, api, &ev);
  {
    SoupWebsocketConnection *old = g_object_ref (f->ws);
    g_autoptr (GError) error = NULL;

    g_clear_object (&f->ws);
    soup_websocket_connection_close (old, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    g_object_unref (old);
    wait_for (closed_reached, &ev);
    wait_for (ptr_set, &ev.reconnect_res);
    g_assert_true (rdt_stream_connect_finish (stream, ev.reconnect_res,
                                              &error));
    g_assert_no_error (error);
  }
  wait_for (ptr_set, &f->ws);
  soup_websocket_connection_send_text (f->ws, MSG1_JSON);
  wait_messages (&ev, 1);
  rdt_stream_free (stream);
  events_clear (&ev);
  fake_free (f);
}

#ifdef RDT_HAVE_TESTSERVER
/* ------------------------------------------------------------------ */
/* Real test server (needs tests/lib and rdt-test-server) */

static RdtApi *
server_api (RdtTestServer *srv, RdtSigningKey **key_out)
{
  RdtSigningKey *key = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  g_autoptr (GError) error = NULL;
  RdtApi *api = rdt_api_new (rdt_test_server_get_url (srv), space, key,
                             RDT_ID_USER, &error);

  g_assert_no_error (error);
  g_assert_true (do_auth (api, &error));
  g_assert_no_error (error);
  if (key_out)
    *key_out = key;
  else
    rdt_signing_key_free (key);
  return api;
}

static void
test_server_live (void)
{
  g_autoptr (RdtTestServer) srv = rdt_test_server_start (NULL);
  RdtSigningKey *key = NULL;
  g_autoptr (RdtApi) api = server_api (srv, &key);
  g_autoptr (RdtMessage) m = NULL;
  g_autoptr (GError) error = NULL;
  GAsyncResult *res = NULL;
  RdtStream *stream = rdt_stream_new (api);
  Events ev;

  events_init (&ev);
  rdt_stream_set_callbacks (stream, on_message, on_bad_frame, on_closed, &ev);
  rdt_stream_set_keepalive_interval (stream, 1);
  g_assert_true (stream_connect (stream, &error));
  g_assert_no_error (error);

  m = rdt_message_new_signed (rdt_api_get_space_id (api), "general",
                              "chat.text", NULL, "aGk=",
                              rdt_api_get_member_id (api), key);
  rdt_api_post_message_async (api, m, NULL, store_result, &res);
  wait_for (ptr_set, &res);
  g_assert_cmpint (rdt_api_post_message_finish (api, res, &error), >, 0);
  g_assert_no_error (error);
  g_object_unref (res);
  wait_messages (&ev, 1);
  g_assert_cmpstr (((RdtMessage *) ev.messages->pdata[0])->message_hash, ==,
                   m->message_hash);
  g_assert_true (rdt_message_verify (ev.messages->pdata[0],
                                     rdt_api_get_space_id (api), "general",
                                     NULL));

  /* Keepalive pings for a couple of intervals: pongs are not bad frames. */
  {
    gboolean done = FALSE;
    g_timeout_add (2500, timeout_cb, &done);
    while (!done)
      g_main_context_iteration (NULL, TRUE);
  }
  g_assert_cmpuint (ev.bad->len, ==, 0);
  g_assert_true (rdt_stream_is_open (stream));

  /* Server restart: on_closed with an error (only a local server can be
   * restarted; the rest is plain protocol and runs anywhere). */
  if (rdt_test_server_is_local (srv))
    {
      rdt_test_server_restart (srv);
      wait_for (closed_reached, &ev);
      g_assert_nonnull (ev.close_error);
      g_assert_false (rdt_stream_is_open (stream));
    }
  rdt_stream_free (stream);
  rdt_signing_key_free (key);
  events_clear (&ev);
}

static void
test_server_bad_token (void)
{
  const gchar *args[] = { "--token-ttl", "1", NULL };
  g_autoptr (RdtTestServer) srv = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (GError) error = NULL;
  RdtStream *stream;
  gint64 exp;

  srv = rdt_test_server_start_local (args, "a one-second token lifetime (--token-ttl)");
  if (srv == NULL)
    return;
  api = server_api (srv, NULL);
  stream = rdt_stream_new (api);
  exp = rdt_api_get_token_expiry (api);

  /* Run the loop until the token is past its expiry. */
  while (g_get_real_time () / 1000 <= exp + 1000)
    {
      gboolean tick = FALSE;
      g_timeout_add (100, timeout_cb, &tick);
      while (!tick)
        g_main_context_iteration (NULL, TRUE);
    }
  g_assert_false (stream_connect (stream, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED);
  rdt_stream_free (stream);
}

#endif /* RDT_HAVE_TESTSERVER */

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();

  g_test_add_func ("/stream/fake/frames", test_fake_frames);
  g_test_add_func ("/stream/fake/keepalive", test_fake_keepalive);
  g_test_add_func ("/stream/fake/server-close", test_fake_server_close);
  g_test_add_func ("/stream/fake/oversize-frame", test_fake_oversize_frame);
  g_test_add_func ("/stream/fake/refused", test_fake_refused);
  g_test_add_func ("/stream/fake/callbacks-free", test_fake_callbacks_free);
#ifdef RDT_HAVE_TESTSERVER
  g_test_add_func ("/stream/server/live", test_server_live);
  g_test_add_func ("/stream/server/bad-token", test_server_bad_token);
#endif
  return g_test_run ();
}
