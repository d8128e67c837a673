/* SPDX-License-Identifier: GPL-2.0-or-later */
/* crypto.h - Ed25519, SHA-256, HKDF-SHA256 and AES-256-GCM for reeeductio
 * (spec sections 1.3, 2, 3), on libsodium with a nettle fallback for AES-GCM.
 *
 * Secrets (seeds, roots, derived keys) live in sodium_malloc'd memory and
 * are wiped when freed.
 */
#pragma once

#include <glib.h>
#include "id.h"

G_BEGIN_DECLS

#define RDT_KEY_LENGTH        32
#define RDT_SEED_LENGTH       32
#define RDT_PUBLIC_KEY_LENGTH 32
#define RDT_SIGNATURE_LENGTH  64
#define RDT_SHA256_LENGTH     32
#define RDT_GCM_NONCE_LENGTH  12
#define RDT_GCM_TAG_LENGTH    16
#define RDT_GCM_MIN_LENGTH    (RDT_GCM_NONCE_LENGTH + RDT_GCM_TAG_LENGTH)

/* sodium_init(); idempotent, thread-safe. FALSE only if libsodium failed. */
gboolean rdt_crypto_init (void);

/* Guarded secret memory: sodium_malloc / sodium_free (wipes). Aborts on OOM. */
gpointer rdt_secret_alloc (gsize len);
void     rdt_secret_free (gpointer secret);
/* Wipe a plain buffer (sodium_memzero). */
void     rdt_wipe (gpointer buf, gsize len);
/* g_free() for a string that held a secret (key text, invitation):
 * wiped first. NULL is fine; usable as a GDestroyNotify. */
void     rdt_secret_string_free (gpointer str);
/* g_bytes_unref() for bytes that held a secret (an attachment descriptor
 * with its file key): the last reference wipes them (no copy is made when
 * nobody else holds one). NULL is fine. */
void     rdt_secret_bytes_unref (GBytes *bytes);

/* Parse 32 bytes of key material as the CLI accepts it: 64 hex chars, or
 * 43/44 chars of standard or URL-safe base64, padded or not. Surrounding
 * whitespace is ignored. */
gboolean rdt_parse_key32 (const gchar *text, guint8 out[32], GError **error);

/* Random bytes (randombytes_buf). */
void rdt_random_bytes (guint8 *buf, gsize len);

void rdt_sha256 (const guint8 *data, gsize len, guint8 out[RDT_SHA256_LENGTH]);

/* ---- Ed25519 ---- */

typedef struct _RdtSigningKey RdtSigningKey;

RdtSigningKey *rdt_signing_key_new_from_seed (const guint8 seed[RDT_SEED_LENGTH]);
RdtSigningKey *rdt_signing_key_generate (void);
void           rdt_signing_key_free (RdtSigningKey *key);
const guint8  *rdt_signing_key_get_public_key (const RdtSigningKey *key);
/* Copies the 32-byte seed out (caller wipes). */
void           rdt_signing_key_copy_seed (const RdtSigningKey *key,
                                          guint8 seed_out[RDT_SEED_LENGTH]);
/* The S, U or T id of this key; g_free() it. */
gchar         *rdt_signing_key_get_id (const RdtSigningKey *key, RdtIdType type);
void           rdt_signing_key_sign (const RdtSigningKey *key,
                                     const guint8 *msg, gsize len,
                                     guint8 sig_out[RDT_SIGNATURE_LENGTH]);

gboolean rdt_ed25519_verify (const guint8 sig[RDT_SIGNATURE_LENGTH],
                             const guint8 *msg, gsize len,
                             const guint8 pk[RDT_PUBLIC_KEY_LENGTH]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtSigningKey, rdt_signing_key_free)

/* ---- HKDF-SHA256 (RFC 5869, salt = none i.e. 32 zero bytes) ---- */

/* out_len <= 255 * 32. Built on crypto_auth_hmacsha256 (libsodium 1.0.18
 * has no HKDF). */
void rdt_hkdf_sha256 (const guint8 *ikm, gsize ikm_len,
                      const guint8 *info, gsize info_len,
                      guint8 *out, gsize out_len);

/* The keys of one space, derived from its symmetric root (spec section 2).
 * Allocated in secret memory. */
typedef struct {
  guint8 message_key[RDT_KEY_LENGTH];
  guint8 data_key[RDT_KEY_LENGTH];
  guint8 state_key[RDT_KEY_LENGTH];   /* == topic key of topic "state" */
} RdtSpaceKeys;

RdtSpaceKeys *rdt_space_keys_new (const guint8 root[RDT_KEY_LENGTH],
                                  const gchar *space_id);
void          rdt_space_keys_free (RdtSpaceKeys *keys);
/* topic_key(t) = HKDF(message_key, "topic key | " + t) */
void          rdt_space_keys_topic_key (const RdtSpaceKeys *keys,
                                        const gchar *topic_id,
                                        guint8 out[RDT_KEY_LENGTH]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtSpaceKeys, rdt_space_keys_free)

/* ---- AES-256-GCM, wire layout nonce(12) || ciphertext || tag(16), no AAD ---- */

typedef enum {
  RDT_AES_BACKEND_AUTO,    /* libsodium when the CPU supports it, else nettle */
  RDT_AES_BACKEND_SODIUM,
  RDT_AES_BACKEND_NETTLE
} RdtAesBackend;

/* Force a backend (tests). Also settable with the environment variable
 * RDT_AES_BACKEND=nettle|sodium, read by rdt_crypto_init(). Requesting
 * SODIUM on a CPU without AES-NI falls back to nettle. */
void          rdt_aes_set_backend (RdtAesBackend backend);
/* The backend actually in use (never AUTO). */
RdtAesBackend rdt_aes_get_backend (void);

/* nonce may be NULL for a random one (always, outside tests). */
GBytes *rdt_aes_gcm_encrypt (const guint8 key[RDT_KEY_LENGTH],
                             const guint8 *plaintext, gsize len,
                             const guint8 *nonce);
/* NULL + RDT_ERROR_DECRYPT if shorter than 28 bytes or the tag fails. */
GBytes *rdt_aes_gcm_decrypt (const guint8 key[RDT_KEY_LENGTH],
                             const guint8 *blob, gsize len, GError **error);

G_END_DECLS
