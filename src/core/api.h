/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api.h - asynchronous client for the reeeductio HTTP API (libsoup 3).
 *
 * One RdtApi talks to one space as one member (user or tool). It owns the
 * bearer token: authentication is challenge/verify (spec 6.1-6.2; never
 * /auth/refresh, which is broken), and every request re-authenticates once
 * and retries when the server says the token is expired or invalid (and on
 * a 500 from a blob endpoint, spec 6.3).
 *
 * All answers are size-bounded and parsed strictly; failures are GErrors in
 * RDT_API_ERROR whose message is fit for the user (it includes the server's
 * `detail` where there is one). Cancelled operations fail with
 * G_IO_ERROR_CANCELLED.
 *
 * Logins are serialised: one challenge/verify at a time, every request that
 * needs a token waits for it (the server keeps one challenge per key). A
 * request re-authenticates first when the token is within 60 s of expiry
 * (half its lifetime for very short tokens). A request cancelled while it
 * waits for a login completes when that login ends (bounded by the
 * timeout).
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>
#include "message.h"

G_BEGIN_DECLS

#define RDT_API_ERROR (rdt_api_error_quark ())
GQuark rdt_api_error_quark (void);

typedef enum {
  RDT_API_ERROR_NETWORK,       /* no answer: DNS, refused, reset, timeout */
  RDT_API_ERROR_BAD_RESPONSE,  /* answer not parsable or over the size bound */
  RDT_API_ERROR_UNAUTHORIZED,  /* 401 after one re-authentication; bad key */
  RDT_API_ERROR_NOT_MEMBER,    /* 403 "Not a member of this space" at verify */
  RDT_API_ERROR_FORBIDDEN,     /* 403: lacking a capability */
  RDT_API_ERROR_NOT_FOUND,     /* 404 (unknown space, message, blob) */
  RDT_API_ERROR_CONFLICT,      /* 409 chain conflict */
  RDT_API_ERROR_TOO_LARGE,     /* 413, or 422 for oversize data */
  RDT_API_ERROR_INVALID,       /* other 400/422: the request was refused */
  RDT_API_ERROR_SERVER         /* 5xx */
} RdtApiErrorCode;

/* Largest JSON answer accepted (a 1000-message page fits comfortably). */
#define RDT_API_MAX_JSON_RESPONSE (16 * 1024 * 1024)

#define RDT_TYPE_API (rdt_api_get_type ())
G_DECLARE_FINAL_TYPE (RdtApi, rdt_api, RDT, API, GObject)

/* base_url like "http://127.0.0.1:8080" (trailing '/' tolerated); key is
 * copied into secret memory; as_type is RDT_ID_USER or RDT_ID_TOOL. */
RdtApi      *rdt_api_new (const gchar *base_url, const gchar *space_id,
                          const RdtSigningKey *key, RdtIdType as_type,
                          GError **error);
const gchar *rdt_api_get_base_url (RdtApi *api);
const gchar *rdt_api_get_space_id (RdtApi *api);
/* The id we authenticate as (U or T id); it is the `sender` of our posts. */
const gchar *rdt_api_get_member_id (RdtApi *api);
/* Signs with our key (for building messages). */
const RdtSigningKey *rdt_api_get_signing_key (RdtApi *api);
SoupSession *rdt_api_get_soup_session (RdtApi *api);
/* I/O timeout of every request, in seconds (default 30; 0 = none). A
 * timed-out request fails with RDT_API_ERROR_NETWORK. */
void         rdt_api_set_timeout (RdtApi *api, guint seconds);
guint        rdt_api_get_timeout (RdtApi *api);

/* ---- authentication ---- */
void     rdt_api_authenticate_async (RdtApi *api, GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean rdt_api_authenticate_finish (RdtApi *api, GAsyncResult *result,
                                      GError **error);
gboolean rdt_api_has_token (RdtApi *api);
/* Token expiry in ms since the epoch (server's clock), 0 without token. */
gint64   rdt_api_get_token_expiry (RdtApi *api);
/* Forget the token (e.g. after the stream was refused with 403); the next
 * request logs in again. rdt_api_authenticate_async() always fetches a new
 * token (or joins the login already running). */
void     rdt_api_clear_token (RdtApi *api);
/* ws:// or wss:// URL of the space's stream with the current token; NULL
 * without a token. Contains the token: never log it. */
gchar   *rdt_api_build_stream_url (RdtApi *api);

/* ---- messages (spec 4.3-4.7) ---- */
/* from/to: ms or -1 for "not given"; limit 1..1000. Returns a GPtrArray of
 * RdtMessage (free func set) in server order; messages are parsed but NOT
 * verified (that is the chain's job). */
void       rdt_api_get_messages_async (RdtApi *api, const gchar *topic_id,
                                       gint64 from, gint64 to, guint limit,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
GPtrArray *rdt_api_get_messages_finish (RdtApi *api, GAsyncResult *result,
                                        gboolean *has_more, GError **error);

void        rdt_api_get_message_async (RdtApi *api, const gchar *topic_id,
                                       const gchar *message_hash,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
RdtMessage *rdt_api_get_message_finish (RdtApi *api, GAsyncResult *result,
                                        GError **error);

/* POST a message built with rdt_message_new_signed(). On success returns
 * the server timestamp (ms); on 409 RDT_API_ERROR_CONFLICT. */
void     rdt_api_post_message_async (RdtApi *api, const RdtMessage *msg,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
gint64   rdt_api_post_message_finish (RdtApi *api, GAsyncResult *result,
                                      GError **error);

/* ---- blobs (spec 10) ---- */
/* Upload progress: sent of total body bytes written so far. */
typedef void (*RdtApiProgressFunc) (goffset sent, goffset total,
                                    gpointer data);

void     rdt_api_put_blob_async (RdtApi *api, const gchar *blob_id,
                                 GBytes *bytes, GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
/* As rdt_api_put_blob_async(), reporting progress as the body is written
 * (on the main context, never after the answer arrived nor once
 * cancellable is cancelled, so never after callback). sent rises to total
 * within one attempt; a retry after re-authentication starts again from 0.
 * Finish with rdt_api_put_blob_finish(). */
void     rdt_api_put_blob_with_progress_async (RdtApi *api,
                                               const gchar *blob_id,
                                               GBytes *bytes,
                                               RdtApiProgressFunc progress,
                                               gpointer progress_data,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
gboolean rdt_api_put_blob_finish (RdtApi *api, GAsyncResult *result,
                                  GError **error);
/* max_size bounds the download; the SHA-256 of the bytes is checked
 * against blob_id before success is reported. */
void     rdt_api_get_blob_async (RdtApi *api, const gchar *blob_id,
                                 gsize max_size, GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
GBytes  *rdt_api_get_blob_finish (RdtApi *api, GAsyncResult *result,
                                  GError **error);

/* ---- data (KV) store (spec 11) ---- */
/* One stored entry as the server answers it. data is the std base64 value
 * exactly as stored ("" = deleted), signed_at the writer's clock (ms). */
typedef struct {
  gchar *data;
  gchar *signature;
  gchar *signed_by;
  gint64 signed_at;
} RdtDataEntry;

void rdt_data_entry_free (RdtDataEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtDataEntry, rdt_data_entry_free)

/* A path we are willing to send: segments of [A-Za-z0-9._-], none empty,
 * "." or ".."; RDT_API_ERROR_INVALID otherwise. Every data call checks it
 * before sending. */
gboolean      rdt_api_data_path_validate (const gchar *path, GError **error);

/* 404 -> RDT_API_ERROR_NOT_FOUND, 403 -> RDT_API_ERROR_FORBIDDEN. The
 * entry is parsed strictly but NOT verified (rdt_data_entry_verify). */
void          rdt_api_data_get_async (RdtApi *api, const gchar *path,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
RdtDataEntry *rdt_api_data_get_finish (RdtApi *api, GAsyncResult *result,
                                       GError **error);

/* Stores data_b64 ("" deletes) signed by the api's key over
 * "space_id|path|data|signed_at" (spec 11); signed_at must be within 60 s
 * of the server's clock and not older than the stored entry's. Returns the
 * server's clock (ms), -1 + error on failure: RDT_API_ERROR_INVALID with
 * the server's reason for a 400 (replay, clock skew, bad signature),
 * RDT_API_ERROR_FORBIDDEN for a 403. */
void          rdt_api_data_put_async (RdtApi *api, const gchar *path,
                                      const gchar *data_b64, gint64 signed_at,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
gint64        rdt_api_data_put_finish (RdtApi *api, GAsyncResult *result,
                                       GError **error);
/* TRUE for the 400 a put gets when the stored entry is newer. */
gboolean      rdt_api_data_error_is_replay (const GError *error);

/* 204 even if nothing was stored. */
void          rdt_api_data_delete_async (RdtApi *api, const gchar *path,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean      rdt_api_data_delete_finish (RdtApi *api, GAsyncResult *result,
                                          GError **error);

/* The entry at path was signed by expected_signer (a U id), and its
 * Ed25519 signature over "space_id|path|data|signed_at" checks with the
 * key inside that id. RDT_ERROR_BAD_SIGNATURE otherwise. */
gboolean      rdt_data_entry_verify (const RdtDataEntry *e,
                                     const gchar *space_id, const gchar *path,
                                     const gchar *expected_signer,
                                     GError **error);

/* ---- misc ---- */
/* GET /health: the server's clock in ms. */
void     rdt_api_health_async (RdtApi *api, GCancellable *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
gint64   rdt_api_health_finish (RdtApi *api, GAsyncResult *result,
                                GError **error);

G_END_DECLS
