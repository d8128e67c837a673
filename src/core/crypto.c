/* SPDX-License-Identifier: GPL-2.0-or-later */
/* crypto.c - Ed25519, SHA-256, HKDF-SHA256 and AES-256-GCM (spec sections
 * 1.3, 2, 3).
 *
 * libsodium does everything except AES-GCM on CPUs without AES-NI /
 * ARMv8-CE, where crypto_aead_aes256gcm_* does not exist; nettle's GCM
 * covers that case with the same wire layout nonce || ct || tag.
 */
#include "config.h"
#include "crypto.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include <nettle/gcm.h>
#include <sodium.h>

#include "encoding.h"
#include "error.h"

/* ---- initialisation and backend selection ---- */

static gint aes_backend = RDT_AES_BACKEND_AUTO;   /* atomic */

static gpointer
crypto_init_once (gpointer data)
{
  const gchar *env;

  if (sodium_init () < 0)
    return GINT_TO_POINTER (FALSE);

  env = g_getenv ("RDT_AES_BACKEND");
  if (env != NULL && *env != '\0')
    {
      if (g_ascii_strcasecmp (env, "nettle") == 0)
        g_atomic_int_set (&aes_backend, RDT_AES_BACKEND_NETTLE);
      else if (g_ascii_strcasecmp (env, "sodium") == 0)
        g_atomic_int_set (&aes_backend, RDT_AES_BACKEND_SODIUM);
      else if (g_ascii_strcasecmp (env, "auto") == 0)
        g_atomic_int_set (&aes_backend, RDT_AES_BACKEND_AUTO);
      else
        g_warning ("RDT_AES_BACKEND=%s is not one of nettle, sodium, auto; "
                   "using auto", env);
    }
  return GINT_TO_POINTER (TRUE);
}

gboolean
rdt_crypto_init (void)
{
  static GOnce once = G_ONCE_INIT;

  return GPOINTER_TO_INT (g_once (&once, crypto_init_once, NULL));
}

/* Every entry point that needs libsodium initialised goes through here. */
static void
ensure_init (void)
{
  if (!rdt_crypto_init ())
    g_error ("libsodium failed to initialise");
}

void
rdt_aes_set_backend (RdtAesBackend backend)
{
  ensure_init ();
  g_return_if_fail (backend == RDT_AES_BACKEND_AUTO
                    || backend == RDT_AES_BACKEND_SODIUM
                    || backend == RDT_AES_BACKEND_NETTLE);
  g_atomic_int_set (&aes_backend, backend);
}

RdtAesBackend
rdt_aes_get_backend (void)
{
  ensure_init ();
  if (g_atomic_int_get (&aes_backend) == RDT_AES_BACKEND_NETTLE)
    return RDT_AES_BACKEND_NETTLE;
  /* AUTO and SODIUM: libsodium only where the CPU supports it. */
  return crypto_aead_aes256gcm_is_available () ? RDT_AES_BACKEND_SODIUM
                                               : RDT_AES_BACKEND_NETTLE;
}

/* ---- memory ---- */

gpointer
rdt_secret_alloc (gsize len)
{
  gpointer p;

  ensure_init ();
  p = sodium_malloc (len);
  if (p == NULL)
    g_error ("out of secure memory allocating %" G_GSIZE_FORMAT " bytes",
             len);
  sodium_memzero (p, len);
  return p;
}

void
rdt_secret_free (gpointer secret)
{
  if (secret != NULL)
    sodium_free (secret);
}

void
rdt_wipe (gpointer buf, gsize len)
{
  if (buf != NULL && len > 0)
    sodium_memzero (buf, len);
}

void
rdt_secret_string_free (gpointer str)
{
  if (str == NULL)
    return;
  rdt_wipe (str, strlen (str));
  g_free (str);
}

void
rdt_secret_bytes_unref (GBytes *bytes)
{
  gsize len;
  guint8 *data;

  if (bytes == NULL)
    return;
  data = g_bytes_unref_to_data (bytes, &len);
  rdt_wipe (data, len);
  g_free (data);
}

void
rdt_random_bytes (guint8 *buf, gsize len)
{
  g_return_if_fail (buf != NULL || len == 0);
  if (len == 0)
    return;
  ensure_init ();
  randombytes_buf (buf, len);
}

void
rdt_sha256 (const guint8 *data, gsize len, guint8 out[RDT_SHA256_LENGTH])
{
  static const guint8 empty = 0;

  g_return_if_fail (out != NULL);
  g_return_if_fail (data != NULL || len == 0);
  crypto_hash_sha256 (out, data ? data : &empty, len);
}

/* ---- key parsing ---- */

gboolean
rdt_parse_key32 (const gchar *text, guint8 out[32], GError **error)
{
  gsize len, i, n = 0;
  gchar *buf;
  gboolean url = FALSE, std = FALSE;
  guint8 *decoded = NULL;
  gsize decoded_len = 0;
  gboolean ok = FALSE;

  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (text == NULL)
    {
      rdt_wipe (out, 32);
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                           _("Invalid key: missing"));
      return FALSE;
    }

  /* Work on a copy in secret memory: trimmed, and for base64 turned into
   * padded standard base64. Room for up to 2 extra padding chars + NUL. */
  while (g_ascii_isspace (*text))
    text++;
  len = strlen (text);
  while (len > 0 && g_ascii_isspace (text[len - 1]))
    len--;

  buf = rdt_secret_alloc (len + 3);
  memcpy (buf, text, len);
  buf[len] = '\0';

  if (len == 64)
    {
      g_autoptr(GError) local = NULL;

      if (rdt_hex_decode (buf, out, 32, &local))
        ok = TRUE;
      else
        g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                     _("Invalid key: 64 characters but not hex (%s)"),
                     local->message);
      goto out;
    }

  if (len != 43 && len != 44)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                   _("Invalid key: expected 64 hex characters or 43/44 "
                     "characters of base64, got %zu characters"),
                   len);
      goto out;
    }

  for (i = 0; i < len; i++)
    {
      if (buf[i] == '-' || buf[i] == '_')
        {
          url = TRUE;
          buf[i] = buf[i] == '-' ? '+' : '/';
        }
      else if (buf[i] == '+' || buf[i] == '/')
        std = TRUE;
    }
  if (url && std)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                           _("Invalid key: mixes standard and URL-safe "
                             "base64"));
      goto out;
    }
  n = len;
  while (n % 4 != 0)
    buf[n++] = '=';
  buf[n] = '\0';

  {
    g_autoptr(GError) local = NULL;

    decoded = rdt_base64_decode (buf, 32, &decoded_len, &local);
    if (decoded == NULL)
      {
        const gchar *detail = strchr (local->message, ':');

        g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                     _("Invalid key: not valid base64 of 32 bytes (%s)"),
                     detail ? detail + 2 : local->message);
        goto out;
      }
  }
  memcpy (out, decoded, 32);
  ok = TRUE;

out:
  if (decoded != NULL)
    {
      rdt_wipe (decoded, decoded_len);
      g_free (decoded);
    }
  rdt_secret_free (buf);
  if (!ok)
    rdt_wipe (out, 32);
  return ok;
}

/* ---- Ed25519 ---- */

struct _RdtSigningKey {
  guint8 *sk;                               /* 64 bytes, seed || pk, secret memory */
  guint8 pk[RDT_PUBLIC_KEY_LENGTH];
};

RdtSigningKey *
rdt_signing_key_new_from_seed (const guint8 seed[RDT_SEED_LENGTH])
{
  RdtSigningKey *key;

  g_return_val_if_fail (seed != NULL, NULL);
  ensure_init ();

  key = g_new0 (RdtSigningKey, 1);
  key->sk = rdt_secret_alloc (crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair (key->pk, key->sk, seed);
  return key;
}

RdtSigningKey *
rdt_signing_key_generate (void)
{
  RdtSigningKey *key;
  guint8 *seed = rdt_secret_alloc (RDT_SEED_LENGTH);

  rdt_random_bytes (seed, RDT_SEED_LENGTH);
  key = rdt_signing_key_new_from_seed (seed);
  rdt_secret_free (seed);
  return key;
}

void
rdt_signing_key_free (RdtSigningKey *key)
{
  if (key == NULL)
    return;
  rdt_secret_free (key->sk);
  g_free (key);
}

const guint8 *
rdt_signing_key_get_public_key (const RdtSigningKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);
  return key->pk;
}

void
rdt_signing_key_copy_seed (const RdtSigningKey *key,
                           guint8 seed_out[RDT_SEED_LENGTH])
{
  g_return_if_fail (key != NULL && seed_out != NULL);
  crypto_sign_ed25519_sk_to_seed (seed_out, key->sk);
}

gchar *
rdt_signing_key_get_id (const RdtSigningKey *key, RdtIdType type)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (type == RDT_ID_SPACE || type == RDT_ID_USER
                        || type == RDT_ID_TOOL, NULL);
  return rdt_id_encode (type, key->pk);
}

void
rdt_signing_key_sign (const RdtSigningKey *key, const guint8 *msg, gsize len,
                      guint8 sig_out[RDT_SIGNATURE_LENGTH])
{
  static const guint8 empty = 0;

  g_return_if_fail (key != NULL && sig_out != NULL);
  g_return_if_fail (msg != NULL || len == 0);
  crypto_sign_detached (sig_out, NULL, msg ? msg : &empty, len, key->sk);
}

gboolean
rdt_ed25519_verify (const guint8 sig[RDT_SIGNATURE_LENGTH], const guint8 *msg,
                    gsize len, const guint8 pk[RDT_PUBLIC_KEY_LENGTH])
{
  static const guint8 empty = 0;

  g_return_val_if_fail (sig != NULL && pk != NULL, FALSE);
  g_return_val_if_fail (msg != NULL || len == 0, FALSE);
  ensure_init ();
  return crypto_sign_verify_detached (sig, msg ? msg : &empty, len, pk) == 0;
}

/* ---- HKDF-SHA256 ---- */

void
rdt_hkdf_sha256 (const guint8 *ikm, gsize ikm_len,
                 const guint8 *info, gsize info_len,
                 guint8 *out, gsize out_len)
{
  static const guint8 zero_salt[crypto_auth_hmacsha256_BYTES] = { 0 };
  crypto_auth_hmacsha256_state st;
  guint8 prk[crypto_auth_hmacsha256_BYTES];
  guint8 t[crypto_auth_hmacsha256_BYTES];
  gsize done = 0;
  guint8 counter;

  g_return_if_fail (ikm != NULL || ikm_len == 0);
  g_return_if_fail (info != NULL || info_len == 0);
  g_return_if_fail (out != NULL || out_len == 0);
  g_return_if_fail (out_len <= 255 * crypto_auth_hmacsha256_BYTES);
  ensure_init ();

  /* Extract: PRK = HMAC(salt = 32 zero bytes, IKM). */
  crypto_auth_hmacsha256_init (&st, zero_salt, sizeof zero_salt);
  if (ikm_len > 0)
    crypto_auth_hmacsha256_update (&st, ikm, ikm_len);
  crypto_auth_hmacsha256_final (&st, prk);

  /* Expand: T(i) = HMAC(PRK, T(i-1) || info || i), T(0) = "". */
  for (counter = 1; done < out_len; counter++)
    {
      gsize n;

      crypto_auth_hmacsha256_init (&st, prk, sizeof prk);
      if (counter > 1)
        crypto_auth_hmacsha256_update (&st, t, sizeof t);
      if (info_len > 0)
        crypto_auth_hmacsha256_update (&st, info, info_len);
      crypto_auth_hmacsha256_update (&st, &counter, 1);
      crypto_auth_hmacsha256_final (&st, t);

      n = MIN (sizeof t, out_len - done);
      memcpy (out + done, t, n);
      done += n;
    }

  sodium_memzero (&st, sizeof st);
  sodium_memzero (prk, sizeof prk);
  sodium_memzero (t, sizeof t);
}

static void
hkdf_key_str (const guint8 ikm[RDT_KEY_LENGTH], const gchar *prefix,
              const gchar *suffix, guint8 out[RDT_KEY_LENGTH])
{
  /* Info strings are public (labels and ids), no need for secret memory. */
  gchar *info = g_strconcat (prefix, suffix, NULL);

  rdt_hkdf_sha256 (ikm, RDT_KEY_LENGTH, (const guint8 *) info, strlen (info),
                   out, RDT_KEY_LENGTH);
  g_free (info);
}

RdtSpaceKeys *
rdt_space_keys_new (const guint8 root[RDT_KEY_LENGTH], const gchar *space_id)
{
  RdtSpaceKeys *keys;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (space_id != NULL, NULL);

  keys = rdt_secret_alloc (sizeof *keys);
  hkdf_key_str (root, "message key | ", space_id, keys->message_key);
  hkdf_key_str (root, "data key | ", space_id, keys->data_key);
  hkdf_key_str (keys->message_key, "topic key | ", "state", keys->state_key);
  return keys;
}

void
rdt_space_keys_free (RdtSpaceKeys *keys)
{
  rdt_secret_free (keys);
}

void
rdt_space_keys_topic_key (const RdtSpaceKeys *keys, const gchar *topic_id,
                          guint8 out[RDT_KEY_LENGTH])
{
  g_return_if_fail (keys != NULL && topic_id != NULL && out != NULL);
  hkdf_key_str (keys->message_key, "topic key | ", topic_id, out);
}

/* ---- AES-256-GCM ---- */

GBytes *
rdt_aes_gcm_encrypt (const guint8 key[RDT_KEY_LENGTH],
                     const guint8 *plaintext, gsize len, const guint8 *nonce)
{
  static const guint8 empty = 0;
  guint8 *blob;
  gsize blob_len;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL || len == 0, NULL);
  g_return_val_if_fail (len <= G_MAXSIZE - RDT_GCM_MIN_LENGTH, NULL);
  ensure_init ();

  if (plaintext == NULL)
    plaintext = &empty;

  blob_len = len + RDT_GCM_MIN_LENGTH;
  blob = g_malloc (blob_len);
  if (nonce != NULL)
    memcpy (blob, nonce, RDT_GCM_NONCE_LENGTH);
  else
    randombytes_buf (blob, RDT_GCM_NONCE_LENGTH);

  if (rdt_aes_get_backend () == RDT_AES_BACKEND_SODIUM)
    {
      unsigned long long clen = 0;

      crypto_aead_aes256gcm_encrypt (blob + RDT_GCM_NONCE_LENGTH, &clen,
                                     plaintext, len, NULL, 0, NULL,
                                     blob, key);
      g_assert (clen == len + RDT_GCM_TAG_LENGTH);
    }
  else
    {
      struct gcm_aes256_ctx ctx;

      gcm_aes256_set_key (&ctx, key);
      gcm_aes256_set_iv (&ctx, RDT_GCM_NONCE_LENGTH, blob);
      gcm_aes256_encrypt (&ctx, len, blob + RDT_GCM_NONCE_LENGTH, plaintext);
      gcm_aes256_digest (&ctx, RDT_GCM_TAG_LENGTH,
                         blob + RDT_GCM_NONCE_LENGTH + len);
      sodium_memzero (&ctx, sizeof ctx);
    }

  return g_bytes_new_take (blob, blob_len);
}

static void
set_auth_failed (GError **error)
{
  g_set_error_literal (error, RDT_ERROR, RDT_ERROR_DECRYPT,
                       _("authentication failed: wrong key or tampered "
                         "ciphertext"));
}

GBytes *
rdt_aes_gcm_decrypt (const guint8 key[RDT_KEY_LENGTH], const guint8 *blob,
                     gsize len, GError **error)
{
  const guint8 *nonce, *ct, *tag;
  gsize ct_len;
  guint8 *plain;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (blob != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  ensure_init ();

  if (len < RDT_GCM_MIN_LENGTH)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_DECRYPT,
                   _("message is truncated (%zu bytes, at least %d needed)"),
                   len, RDT_GCM_MIN_LENGTH);
      return NULL;
    }

  nonce = blob;
  ct = blob + RDT_GCM_NONCE_LENGTH;
  ct_len = len - RDT_GCM_MIN_LENGTH;
  tag = ct + ct_len;
  /* +1 so that an empty plaintext still has a real buffer. */
  plain = g_malloc (ct_len + 1);

  if (rdt_aes_get_backend () == RDT_AES_BACKEND_SODIUM)
    {
      unsigned long long mlen = 0;

      if (crypto_aead_aes256gcm_decrypt (plain, &mlen, NULL, ct,
                                         ct_len + RDT_GCM_TAG_LENGTH,
                                         NULL, 0, nonce, key) != 0)
        {
          sodium_memzero (plain, ct_len);
          g_free (plain);
          set_auth_failed (error);
          return NULL;
        }
      g_assert (mlen == ct_len);
    }
  else
    {
      struct gcm_aes256_ctx ctx;
      guint8 computed[RDT_GCM_TAG_LENGTH];
      gboolean tag_ok;

      gcm_aes256_set_key (&ctx, key);
      gcm_aes256_set_iv (&ctx, RDT_GCM_NONCE_LENGTH, nonce);
      gcm_aes256_decrypt (&ctx, ct_len, plain, ct);
      gcm_aes256_digest (&ctx, RDT_GCM_TAG_LENGTH, computed);
      tag_ok = sodium_memcmp (computed, tag, RDT_GCM_TAG_LENGTH) == 0;
      sodium_memzero (&ctx, sizeof ctx);
      sodium_memzero (computed, sizeof computed);
      if (!tag_ok)
        {
          /* Never hand out unauthenticated plaintext, not even in freed
           * memory. */
          sodium_memzero (plain, ct_len);
          g_free (plain);
          set_auth_failed (error);
          return NULL;
        }
    }

  return g_bytes_new_take (plain, ct_len);
}
