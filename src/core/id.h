/* SPDX-License-Identifier: GPL-2.0-or-later */
/* id.h - reeeductio typed identifiers (spec section 1).
 *
 * A typed id is 33 raw bytes (header || 32 data bytes) encoded as 44 chars of
 * URL-safe unpadded base64; header = type6 << 2 | version2.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RDT_ID_BLOB    = 1,   /* 'B', SHA-256 of blob bytes */
  RDT_ID_MESSAGE = 12,  /* 'M', SHA-256 message digest */
  RDT_ID_SPACE   = 18,  /* 'S', Ed25519 public key */
  RDT_ID_TOOL    = 19,  /* 'T', Ed25519 public key */
  RDT_ID_USER    = 20   /* 'U', Ed25519 public key */
} RdtIdType;

#define RDT_ID_LENGTH     44
#define RDT_ID_RAW_LENGTH 33

/* Canonical (version 0) id string for type+data; g_free() the result. */
gchar   *rdt_id_encode (RdtIdType type, const guint8 data[32]);
void     rdt_id_encode_raw (RdtIdType type, const guint8 data[32],
                            guint8 raw_out[RDT_ID_RAW_LENGTH]);

/* Validate and decode any typed id: length 44, URL-safe alphabet, 33 bytes,
 * known type. raw_out and type_out may be NULL. Any version 0-3 is accepted
 * as the server does. */
gboolean rdt_id_decode (const gchar *id, RdtIdType *type_out,
                        guint8 raw_out[RDT_ID_RAW_LENGTH], GError **error);

/* Decode and require a given type; data_out (32 bytes) may be NULL. */
gboolean rdt_id_decode_typed (const gchar *id, RdtIdType expected,
                              guint8 data_out[32], GError **error);

/* Public key of an S, U or T id (error for M and B). */
gboolean rdt_id_get_public_key (const gchar *id, guint8 pk_out[32],
                                GError **error);

gboolean     rdt_id_is_valid (const gchar *id, RdtIdType expected);
const gchar *rdt_id_type_name (RdtIdType type);   /* "space", "user"... */

/* Short display form of an id until display names exist: the type letter
 * plus the next 8 characters, e.g. "UIE5dw6of". */
gchar   *rdt_id_short (const gchar *id);

/* Same key, other type letter (S <-> U <-> T); NULL if id is not S/U/T. */
gchar   *rdt_id_convert (const gchar *id, RdtIdType to);

/* Topic ids: ^[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]$ (spec section 9). */
gboolean rdt_topic_id_validate (const gchar *topic_id, GError **error);

G_END_DECLS
