/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message.h - the reeeductio Message wire model (spec section 4).
 *
 * Parsing is strict: every field the server sends is checked for presence,
 * JSON type, id syntax and base64 flavour before anything else looks at it.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "crypto.h"

G_BEGIN_DECLS

/* Maximum length of the base64 `data` string the server accepts (422 above). */
#define RDT_MAX_DATA_CHARS 102400
/* The server bounds no signature length; a page of 1000 such messages
 * still fits the answer limit. */
#define RDT_MAX_SIGNATURE_CHARS 4096
/* Largest plaintext that still fits once encrypted and base64-encoded. */
#define RDT_MAX_PLAINTEXT  76772
/* Most messages one list answer may hold (the server's own limit is 1000;
 * a longer list is refused with RDT_ERROR_TOO_LARGE). */
#define RDT_MAX_PAGE_MESSAGES 1000

typedef struct {
  /*< private >*/
  gint   ref_count;
  /*< public >*/
  gchar *message_hash;     /* M id */
  gchar *topic_id;
  gchar *type;
  gchar *prev_hash;        /* M id, NULL for the first message of a topic */
  gchar *data;             /* standard base64 string exactly as sent */
  gchar *sender;           /* U or T id (S for the owner quirk of 6.2) */
  gchar *signature;        /* standard base64 of 64 bytes */
  gint64 server_timestamp; /* ms; -1 when not known yet */
  /*< private >*/
  guint64 sig_checked;     /* see message.c: signature_seal() */
} RdtMessage;

RdtMessage *rdt_message_new (void);
RdtMessage *rdt_message_ref (RdtMessage *msg);
void        rdt_message_unref (RdtMessage *msg);
RdtMessage *rdt_message_copy (const RdtMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtMessage, rdt_message_unref)

/* Strict parse of one Message object: all eight fields required with the
 * right JSON types (prev_hash string or null), ids valid and typed,
 * data <= RDT_MAX_DATA_CHARS characters, signature <=
 * RDT_MAX_SIGNATURE_CHARS, server_timestamp a non-negative integer. The
 * contents of data and signature are what a member posted, which the
 * server does not check (data) or decodes leniently (signature): they are
 * checked per message, by rdt_message_verify() and rdt_payload_decrypt(),
 * so one odd message never makes a page unreadable.
 * Errors are RDT_ERROR_MALFORMED / _INVALID_ID / _BAD_BASE64 / _TOO_LARGE
 * with a message naming the field. */
RdtMessage *rdt_message_new_from_json (JsonNode *node, GError **error);
RdtMessage *rdt_message_parse (const gchar *json, gssize len, GError **error);

/* Parse a GET .../messages answer {"messages":[...],"has_more":bool}.
 * Returns a GPtrArray of RdtMessage (free func rdt_message_unref) in the
 * order the server sent; fails as a whole on any bad element. */
GPtrArray *rdt_message_list_parse (const gchar *json, gssize len,
                                   gboolean *has_more_out, GError **error);

/* Cheap check of JSON text before json-glib sees it: valid UTF-8 and
 * nesting at most 32 deep (json-glib 1.6 recurses without a limit, so a
 * hostile "[[[[..." would exhaust the stack). Used for every answer and
 * frame from the server. */
gboolean rdt_json_check_text (const gchar *json, gsize len, GError **error);

/* Full Message object (as the server sends and stores). */
JsonNode *rdt_message_to_json (const RdtMessage *msg);
gchar    *rdt_message_to_json_string (const RdtMessage *msg);
/* POST body: {"type","prev_hash","data","message_hash","signature"}. */
gchar    *rdt_message_to_post_body (const RdtMessage *msg);

/* Raw 33-byte M id of space|topic|type|prev-or-"null"|data|sender
 * (prev_hash NULL or "" hashes as "null"). */
void   rdt_message_compute_id (const gchar *space_id, const gchar *topic_id,
                               const gchar *type, const gchar *prev_hash,
                               const gchar *data, const gchar *sender,
                               guint8 raw_out[RDT_ID_RAW_LENGTH]);
gchar *rdt_message_compute_hash (const gchar *space_id, const gchar *topic_id,
                                 const gchar *type, const gchar *prev_hash,
                                 const gchar *data, const gchar *sender);

/* Build a new message ready to POST: computes message_hash and signs the
 * 33 raw id bytes with key. sender is the key's U or T id.
 * server_timestamp is -1. */
RdtMessage *rdt_message_new_signed (const gchar *space_id,
                                    const gchar *topic_id,
                                    const gchar *type,
                                    const gchar *prev_hash,
                                    const gchar *data,
                                    const gchar *sender,
                                    const RdtSigningKey *key);

/* Recompute the hash with the given space and topic (the topic we asked
 * for, not msg->topic_id) and verify the Ed25519 signature with the key
 * inside msg->sender. RDT_ERROR_HASH_MISMATCH / _BAD_SIGNATURE /
 * _INVALID_ID. Also fails if msg->topic_id differs from topic_id. */
gboolean rdt_message_verify (const RdtMessage *msg, const gchar *space_id,
                             const gchar *topic_id, GError **error);

/* Encrypted payloads: `data` = std base64 of nonce||ct||tag.
 * rdt_payload_encrypt returns NULL if len > RDT_MAX_PLAINTEXT. */
gchar  *rdt_payload_encrypt (const guint8 key[RDT_KEY_LENGTH],
                             const guint8 *plaintext, gsize len);
GBytes *rdt_payload_decrypt (const guint8 key[RDT_KEY_LENGTH],
                             const gchar *data, GError **error);

G_END_DECLS
