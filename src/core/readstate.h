/* SPDX-License-Identifier: GPL-2.0-or-later */
/* readstate.h - read markers kept in the space's data store (spec 11), so
 * that a member's devices agree on how far each topic has been read.
 *
 * One entry per member and topic at "data/user/<U>/read/<topic_id>" (the
 * leading "data/" is part of the key: non-owners can only write keys that
 * begin with it). It needs the capabilities
 *   {"op":"write","path":"data/user/{self}/{...}"}
 *   {"op":"read","path":"data/data/user/{self}/{...}"}
 * The value is std base64 of AES-256-GCM (nonce||ct||tag) of
 *   {"topic": "<topic id>", "hash": "M...", "ts": <server timestamp ms>}
 * under a key derived from the member's own seed, so only the member's
 * devices can read it, and the entry must be signed by the member.
 */
#pragma once

#include <gio/gio.h>
#include "api.h"

G_BEGIN_DECLS

/* Largest value accepted from the store (base64 characters). */
#define RDT_READ_MARKER_MAX_VALUE 1024

typedef struct {
  gchar *topic_id;
  gchar *message_hash;   /* M id of the last message read */
  gint64 timestamp;      /* its server timestamp, ms */
} RdtReadMarker;

RdtReadMarker *rdt_read_marker_new (const gchar *topic_id,
                                    const gchar *message_hash,
                                    gint64 timestamp);
RdtReadMarker *rdt_read_marker_copy (const RdtReadMarker *m);
void           rdt_read_marker_free (RdtReadMarker *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtReadMarker, rdt_read_marker_free)

/* a is newer than b: a larger timestamp (equal is not newer); anything is
 * newer than b == NULL. */
gboolean rdt_read_marker_is_newer (const RdtReadMarker *a,
                                   const RdtReadMarker *b);

/* key = HKDF-SHA256 (seed, "purple-reeeductio read state | " + space_id). */
void     rdt_readstate_derive_key (const guint8 seed[32], const gchar *space_id,
                                   guint8 out[32]);
/* "data/user/<member_id>/read/<topic_id>" */
gchar   *rdt_readstate_path (const gchar *member_id, const gchar *topic_id);

/* The stored value of m (std base64), or NULL if m's topic or hash is not
 * valid. */
gchar         *rdt_read_marker_encode (const guint8 key[32],
                                       const RdtReadMarker *m);
/* Strict and bounded: at most RDT_READ_MARKER_MAX_VALUE characters, valid
 * base64, decrypts, a JSON object whose "topic" equals topic_id, "hash" an
 * M id, "ts" an integer > 0 (other members ignored). */
RdtReadMarker *rdt_read_marker_decode (const guint8 key[32],
                                       const gchar *topic_id,
                                       const gchar *value, GError **error);

/* The read markers of the api's member (a U id) in the api's space. */
#define RDT_TYPE_READ_STATE (rdt_read_state_get_type ())
G_DECLARE_FINAL_TYPE (RdtReadState, rdt_read_state, RDT, READ_STATE, GObject)

/* api: a user (U id), not a tool. seed: the member's Ed25519 seed (the
 * key of api); only the derived key is kept. */
RdtReadState  *rdt_readstate_new (RdtApi *api, const guint8 seed[32]);

/* The stored marker, NULL without error when there is none (404 or
 * deleted). An entry not signed by us, with a bad signature or a value
 * that does not decode fails with "The read marker stored for this topic
 * is not valid: ..."; network and 403 errors as the api's. */
void           rdt_readstate_load_async  (RdtReadState *rs,
                                          const gchar *topic_id,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
RdtReadMarker *rdt_readstate_load_finish (RdtReadState *rs,
                                          GAsyncResult *result,
                                          GError **error);

/* Stores marker unless the stored one is valid and not older: the marker
 * never moves backwards. Returns the marker stored at the end (ours, or a
 * newer one another device wrote, for the caller to adopt). The store has
 * no compare-and-swap, so after a put the entry is read back and written
 * again if a device racing us put an older one over ours. 403 (no
 * capability) is RDT_API_ERROR_FORBIDDEN: keep markers locally then. */
void           rdt_readstate_store_async  (RdtReadState *rs,
                                           const RdtReadMarker *marker,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
RdtReadMarker *rdt_readstate_store_finish (RdtReadState *rs,
                                           GAsyncResult *result,
                                           GError **error);

G_END_DECLS
