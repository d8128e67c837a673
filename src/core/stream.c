/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stream.c - the space's WebSocket stream (spec 7).
 *
 * A thin layer over SoupWebsocketConnection: connect with the api's token
 * in the URL (never logged), bound frame sizes, tell messages from control
 * frames by the presence of message_hash, send a text "ping" every
 * keepalive interval, and report the end of the connection once.
 *
 * Lifetime: the stream is internally reference counted. Every callback runs
 * with a reference held, so rdt_stream_free() (or rdt_stream_close(), or
 * rdt_stream_connect_async()) may be called from inside any callback. The
 * WebSocket connection itself is released from an idle source, never from
 * inside one of its own signal emissions.
 */
#include "config.h"
#include "stream.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "error.h"

#define DEFAULT_KEEPALIVE_S 25
/* The server answers every "ping" with "pong" (spec 7): after this many
 * pings without any frame in between, the connection is dead (a peer that
 * vanished without a FIN would otherwise keep us "open" for a long time). */
#define MAX_UNANSWERED_PINGS 3

struct _RdtStream {
  gint                     ref_count;
  gboolean                 freed;

  RdtApi                  *api;
  SoupWebsocketConnection *ws;
  GError                  *ws_error;     /* first error the socket reported */
  gboolean                 closing;      /* rdt_stream_close() called */
  guint                    keepalive_s;
  guint                    keepalive_id;
  guint                    unanswered;   /* pings sent since the last frame */

  GCancellable            *connect_cancel; /* non-NULL while connecting */

  RdtStreamMessageFunc     on_message;
  RdtStreamBadFrameFunc    on_bad_frame;
  RdtStreamClosedFunc      on_closed;
  gpointer                 user_data;
};

static RdtStream *
stream_ref (RdtStream *stream)
{
  stream->ref_count++;
  return stream;
}

static gboolean
drop_ws_idle (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

/* Forget the connection: no more signals reach us; the object itself is
 * unreffed later (we may be inside one of its emissions). */
static void
stream_detach_ws (RdtStream *stream)
{
  if (stream->keepalive_id != 0)
    {
      g_source_remove (stream->keepalive_id);
      stream->keepalive_id = 0;
    }
  if (stream->ws != NULL)
    {
      g_signal_handlers_disconnect_by_data (stream->ws, stream);
      g_idle_add (drop_ws_idle, stream->ws);
      stream->ws = NULL;
    }
  g_clear_error (&stream->ws_error);
}

static void
stream_unref (RdtStream *stream)
{
  if (--stream->ref_count > 0)
    return;
  if (stream->ws != NULL
      && soup_websocket_connection_get_state (stream->ws)
         == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (stream->ws,
                                     SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  stream_detach_ws (stream);
  g_clear_object (&stream->connect_cancel);
  g_clear_object (&stream->api);
  g_free (stream);
}

RdtStream *
rdt_stream_new (RdtApi *api)
{
  RdtStream *stream;

  g_return_val_if_fail (RDT_IS_API (api), NULL);
  stream = g_new0 (RdtStream, 1);
  stream->ref_count = 1;
  stream->api = g_object_ref (api);
  stream->keepalive_s = DEFAULT_KEEPALIVE_S;
  return stream;
}

void
rdt_stream_free (RdtStream *stream)
{
  if (stream == NULL)
    return;
  g_return_if_fail (!stream->freed);
  stream->freed = TRUE;
  stream->on_message = NULL;
  stream->on_bad_frame = NULL;
  stream->on_closed = NULL;
  stream->user_data = NULL;
  if (stream->connect_cancel != NULL)
    g_cancellable_cancel (stream->connect_cancel);
  stream_unref (stream);
}

void
rdt_stream_set_callbacks (RdtStream *stream, RdtStreamMessageFunc on_message,
                          RdtStreamBadFrameFunc on_bad_frame,
                          RdtStreamClosedFunc on_closed, gpointer user_data)
{
  g_return_if_fail (stream != NULL && !stream->freed);
  stream->on_message = on_message;
  stream->on_bad_frame = on_bad_frame;
  stream->on_closed = on_closed;
  stream->user_data = user_data;
}

static void
stream_report_closed (RdtStream *stream, GError *error)
{
  stream_ref (stream);
  stream->closing = FALSE;
  stream_detach_ws (stream);
  if (stream->on_closed != NULL)
    stream->on_closed (stream, error, stream->user_data);
  g_clear_error (&error);
  stream_unref (stream);
}

static gboolean
keepalive_tick (gpointer data)
{
  RdtStream *stream = data;

  if (stream->ws == NULL
      || soup_websocket_connection_get_state (stream->ws)
         != SOUP_WEBSOCKET_STATE_OPEN)
    return G_SOURCE_CONTINUE;
  if (stream->unanswered >= MAX_UNANSWERED_PINGS)
    {
      g_debug ("stream: no answer to %u pings, giving up", stream->unanswered);
      stream->keepalive_id = 0;   /* this source ends with G_SOURCE_REMOVE */
      soup_websocket_connection_close (stream->ws,
                                       SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      stream_report_closed (stream,
                            g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                                         _("The stream stopped answering")));
      return G_SOURCE_REMOVE;
    }
  soup_websocket_connection_send_text (stream->ws, "ping");
  stream->unanswered++;
  return G_SOURCE_CONTINUE;
}

static void
keepalive_restart (RdtStream *stream)
{
  if (stream->keepalive_id != 0)
    {
      g_source_remove (stream->keepalive_id);
      stream->keepalive_id = 0;
    }
  if (stream->ws != NULL && stream->keepalive_s > 0)
    stream->keepalive_id = g_timeout_add_seconds (stream->keepalive_s,
                                                  keepalive_tick, stream);
}

void
rdt_stream_set_keepalive_interval (RdtStream *stream, guint seconds)
{
  g_return_if_fail (stream != NULL && !stream->freed);
  stream->keepalive_s = seconds;
  keepalive_restart (stream);
}

gboolean
rdt_stream_is_open (RdtStream *stream)
{
  g_return_val_if_fail (stream != NULL, FALSE);
  return stream->ws != NULL
         && soup_websocket_connection_get_state (stream->ws)
            == SOUP_WEBSOCKET_STATE_OPEN;
}

/* ------------------------------------------------------------------ */
/* Incoming frames */

static void
emit_bad_frame (RdtStream *stream, GError *error)
{
  g_debug ("stream: bad frame: %s", error->message);
  if (stream->on_bad_frame != NULL)
    stream->on_bad_frame (stream, error, stream->user_data);
  g_error_free (error);
}

RdtMessage *
rdt_stream_parse_frame (const gchar *data, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root;

  /* The server's answer to our keepalive (not JSON, spec 7). */
  if (len == 4 && memcmp (data, "pong", 4) == 0)
    return NULL;
  if (len > RDT_STREAM_MAX_FRAME)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("stream frame too large"));
      return NULL;
    }
  if (!rdt_json_check_text (data, len, NULL))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("stream frame: JSON nested too deeply"));
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("stream frame is not JSON: %s"), local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("stream frame is not a JSON object"));
      return NULL;
    }
  /* Control frames ({"type":"ping"} and any future ones) carry no
   * message_hash; a message may well have type "ping" (spec 7). */
  if (!json_object_has_member (json_node_get_object (root), "message_hash"))
    return NULL;
  return rdt_message_new_from_json (root, error);
}

static void
handle_text (RdtStream *stream, const gchar *data, gsize len)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (RdtMessage) msg = rdt_stream_parse_frame (data, len, &local);

  if (local != NULL)
    emit_bad_frame (stream, g_steal_pointer (&local));
  else if (msg != NULL && stream->on_message != NULL)
    stream->on_message (stream, msg, stream->user_data);
}

static void
on_ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message,
               gpointer user_data)
{
  RdtStream *stream = user_data;
  gsize len;
  const gchar *data = g_bytes_get_data (message, &len);

  stream->unanswered = 0;
  stream_ref (stream);
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    emit_bad_frame (stream, g_error_new (RDT_ERROR, RDT_ERROR_MALFORMED,
                                         _("unexpected binary stream frame")));
  else
    handle_text (stream, data ? data : "", len);
  stream_unref (stream);
}

static void
on_ws_error (SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  RdtStream *stream = user_data;

  g_debug ("stream: socket error: %s", error->message);
  if (stream->ws_error == NULL)
    stream->ws_error = g_error_copy (error);
}

static void
on_ws_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  RdtStream *stream = user_data;
  GError *error = NULL;
  gushort code = soup_websocket_connection_get_close_code (ws);
  const gchar *reason = soup_websocket_connection_get_close_data (ws);
  gboolean by_us = stream->closing;

  stream_ref (stream);
  if (!by_us)
    {
      g_autofree gchar *clean = NULL;

      if (reason != NULL && *reason != '\0')
        clean = g_utf8_make_valid (reason, MIN (strlen (reason), 123));
      if (stream->ws_error != NULL)
        error = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                             _("The stream connection was lost: %s%s%s"),
                             stream->ws_error->message,
                             clean ? ": " : "", clean ? clean : "");
      else if (code == 0 || code == SOUP_WEBSOCKET_CLOSE_NO_STATUS
               || code == SOUP_WEBSOCKET_CLOSE_ABNORMAL)
        error = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                             _("The stream connection was lost"));
      else
        error = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                             _("The server closed the stream (code %u%s%s)"),
                             code, clean ? ": " : "", clean ? clean : "");
      g_debug ("stream: closed: %s", error->message);
    }
  stream_report_closed (stream, error);
  stream_unref (stream);
}

/* ------------------------------------------------------------------ */
/* Connect / close */

typedef struct {
  RdtStream    *stream;   /* a ref */
  SoupMessage  *msg;
  GCancellable *user_cancel;
  gulong        user_cancel_id;
} ConnectData;

static void
on_user_cancel (GCancellable *user, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

static void
connect_data_free (ConnectData *cd)
{
  if (cd->user_cancel_id != 0)
    g_cancellable_disconnect (cd->user_cancel, cd->user_cancel_id);
  g_clear_object (&cd->user_cancel);
  stream_unref (cd->stream);
  g_clear_object (&cd->msg);
  g_free (cd);
}

static void
on_ws_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  ConnectData *cd = g_task_get_task_data (task);
  RdtStream *stream = cd->stream;
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws;
  guint status;

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
                                              &error);
  g_clear_object (&stream->connect_cancel);
  if (ws == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          || stream->freed)
        {
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   _("Operation was cancelled"));
          return;
        }
      status = soup_message_get_status (cd->msg);
      if (status == SOUP_STATUS_FORBIDDEN || status == SOUP_STATUS_UNAUTHORIZED)
        g_task_return_new_error (task, RDT_API_ERROR,
                                 RDT_API_ERROR_UNAUTHORIZED,
                                 _("The server refused the stream (HTTP "
                                   "%u): the login token is not valid"),
                                 status);
      else if (status == SOUP_STATUS_NOT_FOUND)
        g_task_return_new_error (task, RDT_API_ERROR,
                                 RDT_API_ERROR_NOT_FOUND,
                                 _("The server refused the stream (HTTP "
                                   "404): unknown space"));
      else if (status >= 500 && status < 600)
        g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_SERVER,
                                 _("The server refused the stream (HTTP %u)"),
                                 status);
      else
        g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                                 _("Could not open the stream: %s"),
                                 error->message);
      return;
    }
  if (stream->freed || g_task_return_error_if_cancelled (task))
    {
      if (stream->freed)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                 _("Operation was cancelled"));
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                       NULL);
      g_object_unref (ws);
      return;
    }

  stream->ws = ws;
  stream->closing = FALSE;
  stream->unanswered = 0;
  soup_websocket_connection_set_max_incoming_payload_size (
      ws, RDT_STREAM_MAX_FRAME);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), stream);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), stream);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), stream);
  keepalive_restart (stream);
  g_debug ("stream: open");
  g_task_return_boolean (task, TRUE);
}

void
rdt_stream_connect_async (RdtStream *stream, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autofree gchar *url = NULL;
  ConnectData *cd;

  g_return_if_fail (stream != NULL && !stream->freed);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_stream_connect_async);

  if (stream->ws != NULL || stream->connect_cancel != NULL)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("The stream is already open or opening"));
      return;
    }
  url = rdt_api_build_stream_url (stream->api);
  if (url == NULL)
    {
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_UNAUTHORIZED,
                               _("Cannot open the stream without logging in"));
      return;
    }
  cd = g_new0 (ConnectData, 1);
  cd->stream = stream_ref (stream);
  cd->msg = soup_message_new ("GET", url);
  rdt_wipe (url, strlen (url));
  g_task_set_task_data (task, cd, (GDestroyNotify) connect_data_free);
  if (cd->msg == NULL)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Invalid stream URL"));
      return;
    }
  /* Our own cancellable, so that rdt_stream_free/close can stop the
   * handshake without touching the caller's. */
  stream->connect_cancel = g_cancellable_new ();
  if (cancellable != NULL)
    {
      cd->user_cancel = g_object_ref (cancellable);
      cd->user_cancel_id = g_cancellable_connect (
          cancellable, G_CALLBACK (on_user_cancel),
          g_object_ref (stream->connect_cancel), g_object_unref);
    }
  g_debug ("stream: connecting to space %s",
           rdt_api_get_space_id (stream->api));
  soup_session_websocket_connect_async (
      rdt_api_get_soup_session (stream->api), cd->msg, NULL, NULL,
      G_PRIORITY_DEFAULT, stream->connect_cancel, on_ws_connected,
      g_steal_pointer (&task));
}

gboolean
rdt_stream_connect_finish (RdtStream *stream, GAsyncResult *result,
                           GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
rdt_stream_close (RdtStream *stream)
{
  g_return_if_fail (stream != NULL && !stream->freed);

  if (stream->connect_cancel != NULL)
    g_cancellable_cancel (stream->connect_cancel);
  if (stream->ws == NULL)
    return;
  if (soup_websocket_connection_get_state (stream->ws)
      == SOUP_WEBSOCKET_STATE_OPEN)
    {
      stream->closing = TRUE;
      soup_websocket_connection_close (stream->ws,
                                       SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      /* on_ws_closed reports the end once the handshake is over. */
    }
}
