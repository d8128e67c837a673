/* SPDX-License-Identifier: GPL-2.0-or-later */
/* attachment.h - files and images sent through encrypted blobs (spec 10).
 *
 * A file is encrypted with a fresh random 32-byte DEK (AES-256-GCM, wire
 * layout nonce||ct||tag), uploaded as a blob whose id is the B id of
 * SHA-256(those bytes), and referenced by a "file.upload" (or "chat.image")
 * topic message whose (encrypted) payload is the JSON descriptor
 *   {"blob_id","dek":"<hex>","filename","content_type","size"}
 * (+ optional "width"/"height" for images), the only workable shape the
 * spec's table lists. The DEK is not derived from the space keys: it only
 * travels inside the encrypted message.
 *
 * Everything parsed here comes from other members and is hostile: fields are
 * type-checked, sizes bounded, file names reduced to a safe base name, an
 * image's bytes are sniffed before it is shown. A downloaded blob must hash
 * to its id (checked once, by the download: rdt_api_get_blob_async) and then
 * pass the GCM tag.
 *
 * The DEK in clear text: in RdtAttachment it lives in rdt_secret_alloc()
 * memory; the descriptor JSON holding it is built in one buffer the caller
 * wipes, and parsing wipes the parser's copy. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RDT_ATTACHMENT_TYPE_FILE   "file.upload"
#define RDT_ATTACHMENT_TYPE_IMAGE  "chat.image"

/* The server's default server.max_blob_size (spec 10): 100 MB of blob,
 * so the plaintext may be 28 bytes (nonce + tag) less. */
#define RDT_ATTACHMENT_SERVER_MAX_BLOB   G_GUINT64_CONSTANT (104857600)
#define RDT_ATTACHMENT_MAX_PLAINTEXT \
  (RDT_ATTACHMENT_SERVER_MAX_BLOB - 28)
/* Descriptors are small; anything bigger is not one of ours. */
#define RDT_ATTACHMENT_MAX_DESCRIPTOR    8192
#define RDT_ATTACHMENT_MAX_FILENAME      255
/* An image bigger than this is never shown inline, whatever its size in
 * bytes: decoded, 50 megapixels are already 200 MB of RGBA. */
#define RDT_ATTACHMENT_MAX_IMAGE_PIXELS  G_GUINT64_CONSTANT (50000000)

typedef struct {
  gchar   *blob_id;       /* B id of SHA-256(nonce||ct||tag) */
  guint8  *dek;           /* 32 bytes in rdt_secret_alloc() memory */
  gchar   *filename;      /* safe base name, never a path */
  gchar   *content_type;  /* "type/subtype", lowercase */
  guint64  size;          /* plaintext bytes; 0 = not given by the sender */
  guint    width, height; /* images only; 0 = unknown */
} RdtAttachment;

RdtAttachment *rdt_attachment_new (void);
void           rdt_attachment_free (RdtAttachment *att);

/* TRUE for the message types that carry a descriptor. */
gboolean rdt_attachment_type_is_attachment (const gchar *type);
/* TRUE if content_type is an image format worth showing inline
 * (png, jpeg, gif, webp, bmp). */
gboolean rdt_attachment_is_image (const RdtAttachment *att);

/* Reduce any sender-supplied name to a safe base name: the part after the
 * last '/' or '\\'; control characters, format characters (bidi overrides
 * and isolates, zero-width characters, soft hyphen...), line and paragraph
 * separators and :*?"<>| replaced by '_'; no leading dots or blanks; valid
 * UTF-8, at most RDT_ATTACHMENT_MAX_FILENAME bytes; "attachment" if nothing
 * is left. g_free() the result. */
gchar *rdt_attachment_sanitize_filename (const gchar *name);

/* A guess from the file name (g_content_type_guess), "application/
 * octet-stream" when unknown. g_free() the result. */
gchar *rdt_attachment_guess_content_type (const gchar *filename,
                                          const guint8 *data, gsize len);

/* The descriptor JSON (UTF-8, not NUL-counted in *len_out). It holds the
 * DEK in clear text: rdt_wipe() it, then g_free(). No other copy of the DEK
 * is left behind. */
gchar *rdt_attachment_to_json (const RdtAttachment *att, gsize *len_out);

/* Strict parse of a decrypted descriptor payload. blob_id must be a valid B
 * id, dek 64 hex chars (32-byte base64 also accepted for other clients),
 * filename a string (sanitized), content_type optional, size/width/height
 * optional non-negative integers within bounds. Unknown fields ignored.
 * The payload itself is the caller's to wipe. */
RdtAttachment *rdt_attachment_parse (const guint8 *payload, gsize len,
                                     GError **error);

/* Encrypt plaintext under a fresh random DEK. Returns the blob bytes and
 * fills *att_out with blob_id, dek and size (the caller sets filename and
 * content_type). RDT_ERROR_TOO_LARGE above max_plaintext (0 = the server
 * limit). Runs AES-GCM and the SHA-256 that gives blob_id over the whole
 * buffer: see the _async variant for big files. */
GBytes *rdt_attachment_encrypt (const guint8 *plaintext, gsize len,
                                guint64 max_plaintext,
                                RdtAttachment **att_out, GError **error);

/* Decrypt a downloaded blob: the GCM tag must verify under att->dek
 * (RDT_ERROR_DECRYPT), and the plaintext length must equal att->size when
 * the sender gave one (RDT_ERROR_MALFORMED). That SHA-256(blob) gives
 * att->blob_id is not checked again here: rdt_api_get_blob_async() did,
 * before it returned the bytes (one check, off the main loop). */
GBytes *rdt_attachment_decrypt (const RdtAttachment *att, GBytes *blob,
                                GError **error);

/* The same two operations in a GTask worker thread, so that AES-GCM over
 * tens of MB never stalls the main loop. plaintext/blob are referenced,
 * not copied; att is copied for the duration. */
void    rdt_attachment_encrypt_async (GBytes *plaintext, guint64 max_plaintext,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
GBytes *rdt_attachment_encrypt_finish (GAsyncResult *result,
                                       RdtAttachment **att_out,
                                       GError **error);
void    rdt_attachment_decrypt_async (const RdtAttachment *att, GBytes *blob,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
GBytes *rdt_attachment_decrypt_finish (GAsyncResult *result, GError **error);

RdtAttachment *rdt_attachment_copy (const RdtAttachment *att);

/* The image format the bytes start with, from the magic bytes alone:
 * "image/png", "image/jpeg", "image/gif", "image/webp" or "image/bmp",
 * with the dimensions its header gives (either may be NULL); NULL if none
 * of those or the header is cut short. Reads headers only: cheap. */
const gchar *rdt_attachment_sniff_image (const guint8 *data, gsize len,
                                         guint32 *width, guint32 *height);

/* Whether data may be handed to the UI as an inline image: a format of the
 * list above, the very one content_type (the sender's claim) names, with
 * both sides 1..65535 and at most RDT_ATTACHMENT_MAX_IMAGE_PIXELS pixels.
 * Otherwise RDT_ERROR_MALFORMED with a message ("it is not ...") meant to
 * follow a colon. */
gboolean     rdt_attachment_check_image (const guint8 *data, gsize len,
                                         const gchar *content_type,
                                         GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtAttachment, rdt_attachment_free)

G_END_DECLS
