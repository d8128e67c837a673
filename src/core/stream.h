/* stream.h - the space's WebSocket stream (spec 7).
 *
 * The stream carries every message of every topic of the space, unfiltered
 * and not necessarily in chain order; it is a fast path only, never the
 * source of truth (polling is the safety net, spec 15.10). Frames are
 * size-bounded and parsed strictly; server pings ({"type":"ping"}, no
 * message_hash) and "pong" answers are told apart from messages by the
 * presence of message_hash. We send a text "ping" every keepalive interval.
 */
#pragma once

#include "api.h"

G_BEGIN_DECLS

/* Largest frame accepted: a Message with 102400 chars of data fits. */
#define RDT_STREAM_MAX_FRAME (256 * 1024)

typedef struct _RdtStream RdtStream;

/* A parsed (not yet verified) message. The stream keeps its own ref. */
typedef void (*RdtStreamMessageFunc) (RdtStream *stream, RdtMessage *msg,
                                      gpointer user_data);
/* A frame that is neither a message nor a known control frame. */
typedef void (*RdtStreamBadFrameFunc) (RdtStream *stream, const GError *error,
                                       gpointer user_data);
/* The connection closed (error NULL for a clean close by us). After this
 * callback the stream is idle and may be connected again. */
typedef void (*RdtStreamClosedFunc) (RdtStream *stream, const GError *error,
                                     gpointer user_data);

RdtStream *rdt_stream_new (RdtApi *api);
void       rdt_stream_free (RdtStream *stream);
void       rdt_stream_set_callbacks (RdtStream *stream,
                                     RdtStreamMessageFunc on_message,
                                     RdtStreamBadFrameFunc on_bad_frame,
                                     RdtStreamClosedFunc on_closed,
                                     gpointer user_data);
/* Default 25 s. */
void       rdt_stream_set_keepalive_interval (RdtStream *stream, guint seconds);

/* Connect with the api's current token. A refused handshake (HTTP 403 on
 * a bad token) fails with RDT_API_ERROR_UNAUTHORIZED. */
void       rdt_stream_connect_async (RdtStream *stream,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean   rdt_stream_connect_finish (RdtStream *stream, GAsyncResult *result,
                                      GError **error);
gboolean   rdt_stream_is_open (RdtStream *stream);
/* Close; on_closed is called with error NULL. */
void       rdt_stream_close (RdtStream *stream);

G_END_DECLS
