/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stream.h - the space's WebSocket stream (spec 7).
 *
 * The stream carries every message of every topic of the space, unfiltered
 * and not necessarily in chain order; it is a fast path only, never the
 * source of truth (polling is the safety net, spec 15.10). Frames are
 * size-bounded and parsed strictly; server pings ({"type":"ping"}, no
 * message_hash) and "pong" answers are told apart from messages by the
 * presence of message_hash. We send a text "ping" every keepalive interval;
 * after 3 pings without any frame in between the connection is declared
 * dead (on_closed with RDT_API_ERROR_NETWORK "The stream stopped answering").
 *
 * Lifetime: callbacks run on the thread-default main context. Any of
 * rdt_stream_free(), rdt_stream_close() and rdt_stream_connect_async() may
 * be called from inside any callback (on_closed is the natural place to
 * schedule a reconnect). After rdt_stream_free() no callback runs; a
 * connect still pending completes with G_IO_ERROR_CANCELLED (its finish
 * function does not touch the freed stream). Errors from the stream are
 * RDT_API_ERROR (on_closed, connect) or RDT_ERROR (on_bad_frame).
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

/* Parses one text frame strictly. Returns the (unverified) message, or NULL:
 * with *error set for a bad frame, without for a control frame ("pong",
 * {"type":"ping"}, any object without message_hash). Exposed for tests and
 * fuzzing. */
RdtMessage *rdt_stream_parse_frame (const gchar *data, gsize len,
                                    GError **error);

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
 * a bad token) fails with RDT_API_ERROR_UNAUTHORIZED; no token at all also
 * gives UNAUTHORIZED; 404 NOT_FOUND; 5xx SERVER; anything else NETWORK.
 * Fails with RDT_API_ERROR_INVALID while already open or opening (wait for
 * on_closed first). */
void       rdt_stream_connect_async (RdtStream *stream,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean   rdt_stream_connect_finish (RdtStream *stream, GAsyncResult *result,
                                      GError **error);
gboolean   rdt_stream_is_open (RdtStream *stream);
/* Close; on_closed is called with error NULL once the close handshake is
 * over (asynchronously). Also cancels a pending connect. */
void       rdt_stream_close (RdtStream *stream);

G_END_DECLS
