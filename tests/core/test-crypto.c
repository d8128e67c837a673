/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-crypto.c - Ed25519, SHA-256, HKDF, AES-256-GCM, key parsing
 * (src/core/crypto.c) against Appendix A of the spec and RFC 5869.
 *
 * Run twice by meson: once as is (AUTO backend) and once with
 * RDT_AES_BACKEND=nettle; /crypto/aes/backend checks which one is active.
 */
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

/* ---- Appendix A, copied verbatim from the spec ---- */
#define A_OWNER_SEED  "0101010101010101010101010101010101010101010101010101010101010101"
#define A_OWNER_PK    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define A_OWNER_SK64  "01010101010101010101010101010101010101010101010101010101010101018a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define A_SPACE_ID    "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define A_OWNER_UID   "UIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define A_OWNER_TID   "TIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define A_MEMBER_SEED "0202020202020202020202020202020202020202020202020202020202020202"
#define A_MEMBER_PK   "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
#define A_MEMBER_UID  "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define A_ROOT        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define A_MESSAGE_KEY "93cef888877b6507449ef5ff56f457ce4c783fedef6ba6704f2bab5da022e5b0"
#define A_DATA_KEY    "50d1bfdfc2964388526afff9e9552575a394a73f6c249f1b7d32c930e016f13e"
#define A_STATE_KEY   "b98ebccc71360b8f86d824eae6c552d224e6462fb7f0457b59561b2bfe83c260"
#define A_TOPIC_KEY_GENERAL "8048099e1e74c825626ef3920d96bfda20b358227c4f1b009c52df605d40f46d"
#define A_NONCE       "000102030405060708090a0b"
#define A_PLAINTEXT   "hello, world"
#define A_BLOB        "000102030405060708090a0b1796932bf332261cc245922ee1246bd292babf355075f5e372ec345c"
#define A_MSG1_DATA   "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA=="
#define A_MSG1_INPUT  "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c|general|chat.text|null|AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==|UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define A_MSG1_HASH   "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe"
#define A_MSG1_SIGNED "301c89ca6894cf9bd2e1e85673f47e7564c76653cc3a4d22243b58fc2783e691de"
#define A_MSG1_SIG    "l3YZStUjYhQukP+/hhDjzkzApHODq+mVFNK3+DhSAmplFVFDN4XEPsTCFQzBlqIAwmevS3B2w8qd7a82ODboAQ=="
#define A_MSG2_DATA   "c2Vjb25k"
#define A_MSG2_INPUT  "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c|general|chat.text|MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe|c2Vjb25k|UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define A_MSG2_HASH   "MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt"
#define A_MSG2_SIG    "huduiuS7xhSNP74+y56rX6tclid103bKstgGbwsPaSCwxvRsrnR5ZKBLV0v4vQhfdsdujVd/STdr/fuylSymAw=="
#define A_STATE_PATH  "auth/users/UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define A_STATE_DATA  "eyJ1c2VyX2lkIjogIlVJRTVkdzZvZlJkZlZxTlVac05NZnN6TGpZcVJ0TzQzb2wzMkQxdVB5Yk9VIn0="
#define A_STATE_HASH  "MEoLCDUkndB61rUP0xaHHZ0gWTUiWbH9QAedJr8CYb-B"
#define A_STATE_SIG   "sEQD+DS2zdxBescWRXAPwOlLzhbc3sDb+J3VD+out6/v/0urQQycWB1VLanVXxX3lxKbJYKErqHnaDijV9y6CQ=="
#define A_CHALLENGE   "q1w2e3r4t5y6u7i8o9p0q1w2e3r4t5y6u7i8o9p0abc="
#define A_CHALLENGE_SIG "BtbpFAVCwgWdTyzfCGBhEcPUL9bue0LOmx+8PM8n+ooAxoL9Y08UjmAbhfpHcy3G5JdRjXLSoAgvPQLrd/M6Dg=="
#define A_KV_STRING   "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c|presence/alice|b25saW5l|1700000000000"
#define A_KV_SIG      "otRZn2dBVBCMhGZC+U0nmqKCqRxGfqBj+wAk+OHVmv6IFQSEZZ/YPGaxJQ9x/sv8NAN8TdXVJRB+iOO1bH0SCg=="
#define A_BLOB_ID     "BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4"

/* RFC 5869 A.3: SHA-256, zero-length salt and info, L = 42 (two blocks). */
#define RFC5869_TC3_OKM "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"

static void
unhex (const gchar *hex, guint8 *out, gsize len)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (rdt_hex_decode (hex, out, len, &error));
  g_assert_no_error (error);
}

static void
assert_hex (const guint8 *data, gsize len, const gchar *expect)
{
  g_autofree gchar *hex = rdt_hex_encode (data, len);

  g_assert_cmpstr (hex, ==, expect);
}

static RdtSigningKey *
key_from_hex (const gchar *seed_hex)
{
  guint8 seed[32];
  RdtSigningKey *key;

  unhex (seed_hex, seed, 32);
  key = rdt_signing_key_new_from_seed (seed);
  rdt_wipe (seed, sizeof seed);
  return key;
}

/* ---- backend selection ---- */

/* The backend chosen by rdt_crypto_init() from the environment. */
static RdtAesBackend initial_backend;

static void
test_backend (void)
{
  const gchar *env = g_getenv ("RDT_AES_BACKEND");
  RdtAesBackend b = rdt_aes_get_backend ();

  g_test_message ("RDT_AES_BACKEND=%s, active backend: %s",
                  env ? env : "(unset)",
                  b == RDT_AES_BACKEND_SODIUM ? "sodium" : "nettle");
  g_assert_cmpint (b, ==, initial_backend);
  if (g_strcmp0 (env, "nettle") == 0)
    g_assert_cmpint (b, ==, RDT_AES_BACKEND_NETTLE);
  else if (crypto_aead_aes256gcm_is_available ())
    g_assert_cmpint (b, ==, RDT_AES_BACKEND_SODIUM);
  else
    g_assert_cmpint (b, ==, RDT_AES_BACKEND_NETTLE);

  /* Forcing works both ways and AUTO never leaks out. */
  rdt_aes_set_backend (RDT_AES_BACKEND_NETTLE);
  g_assert_cmpint (rdt_aes_get_backend (), ==, RDT_AES_BACKEND_NETTLE);
  rdt_aes_set_backend (RDT_AES_BACKEND_AUTO);
  g_assert_cmpint (rdt_aes_get_backend (), !=, RDT_AES_BACKEND_AUTO);
  rdt_aes_set_backend (RDT_AES_BACKEND_SODIUM);
  g_assert_cmpint (rdt_aes_get_backend (), ==,
                   crypto_aead_aes256gcm_is_available ()
                   ? RDT_AES_BACKEND_SODIUM : RDT_AES_BACKEND_NETTLE);
  rdt_aes_set_backend (initial_backend);
  g_assert_true (rdt_crypto_init ());   /* idempotent, does not reset */
  g_assert_cmpint (rdt_aes_get_backend (), ==, initial_backend);
}

/* ---- Ed25519 keys and ids ---- */

static void
test_keys_from_seed (void)
{
  g_autoptr(RdtSigningKey) owner = key_from_hex (A_OWNER_SEED);
  g_autoptr(RdtSigningKey) member = key_from_hex (A_MEMBER_SEED);
  g_autofree gchar *s = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  g_autofree gchar *u = rdt_signing_key_get_id (owner, RDT_ID_USER);
  g_autofree gchar *t = rdt_signing_key_get_id (owner, RDT_ID_TOOL);
  g_autofree gchar *mu = rdt_signing_key_get_id (member, RDT_ID_USER);
  guint8 seed[32], sk64[64];

  assert_hex (rdt_signing_key_get_public_key (owner), 32, A_OWNER_PK);
  assert_hex (rdt_signing_key_get_public_key (member), 32, A_MEMBER_PK);
  g_assert_cmpstr (s, ==, A_SPACE_ID);
  g_assert_cmpstr (u, ==, A_OWNER_UID);
  g_assert_cmpstr (t, ==, A_OWNER_TID);
  g_assert_cmpstr (mu, ==, A_MEMBER_UID);

  /* sk64 = seed || pk, as libsodium lays it out */
  rdt_signing_key_copy_seed (owner, seed);
  assert_hex (seed, 32, A_OWNER_SEED);
  memcpy (sk64, seed, 32);
  memcpy (sk64 + 32, rdt_signing_key_get_public_key (owner), 32);
  assert_hex (sk64, 64, A_OWNER_SK64);
  rdt_signing_key_copy_seed (member, seed);
  assert_hex (seed, 32, A_MEMBER_SEED);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (sk64, sizeof sk64);
  for (gsize i = 0; i < sizeof seed; i++)
    g_assert_cmpuint (seed[i], ==, 0);
}

static void
test_key_generate (void)
{
  g_autoptr(RdtSigningKey) a = rdt_signing_key_generate ();
  g_autoptr(RdtSigningKey) b = rdt_signing_key_generate ();
  g_autoptr(RdtSigningKey) a2 = NULL;
  guint8 seed[32], sig[64];
  static const guint8 msg[] = "x";

  g_assert_cmpint (memcmp (rdt_signing_key_get_public_key (a),
                           rdt_signing_key_get_public_key (b), 32), !=, 0);
  /* the seed round-trips to the same key pair */
  rdt_signing_key_copy_seed (a, seed);
  a2 = rdt_signing_key_new_from_seed (seed);
  rdt_wipe (seed, sizeof seed);
  g_assert_cmpmem (rdt_signing_key_get_public_key (a), 32,
                   rdt_signing_key_get_public_key (a2), 32);
  rdt_signing_key_sign (a, msg, 1, sig);
  g_assert_true (rdt_ed25519_verify (sig, msg, 1,
                                     rdt_signing_key_get_public_key (a2)));
  g_assert_false (rdt_ed25519_verify (sig, msg, 1,
                                      rdt_signing_key_get_public_key (b)));
}

/* ---- message hashing and signing, Appendix A ---- */

/* hash input -> SHA-256 -> 0x30 || digest (the M id raw bytes) */
static void
check_message (const gchar *input, const gchar *expect_hash,
               const gchar *expect_signed_hex, const gchar *seed_hex,
               const gchar *expect_sig_b64)
{
  g_autoptr(RdtSigningKey) key = key_from_hex (seed_hex);
  g_autoptr(GError) error = NULL;
  guint8 digest[32], raw[RDT_ID_RAW_LENGTH], sig[64];
  g_autofree gchar *m = NULL;
  g_autofree gchar *sig_b64 = NULL;
  g_autofree guint8 *sig_dec = NULL;
  gsize sig_len = 0;

  rdt_sha256 ((const guint8 *) input, strlen (input), digest);
  m = rdt_id_encode (RDT_ID_MESSAGE, digest);
  g_assert_cmpstr (m, ==, expect_hash);
  rdt_id_encode_raw (RDT_ID_MESSAGE, digest, raw);
  if (expect_signed_hex)
    assert_hex (raw, sizeof raw, expect_signed_hex);

  rdt_signing_key_sign (key, raw, sizeof raw, sig);
  sig_b64 = rdt_base64_encode (sig, sizeof sig);
  g_assert_cmpstr (sig_b64, ==, expect_sig_b64);
  g_assert_cmpuint (strlen (sig_b64), ==, 88);

  /* and the published signature verifies against the key in the id */
  sig_dec = rdt_base64_decode (expect_sig_b64, RDT_SIGNATURE_LENGTH,
                               &sig_len, &error);
  g_assert_no_error (error);
  g_assert_true (rdt_ed25519_verify (sig_dec, raw, sizeof raw,
                                     rdt_signing_key_get_public_key (key)));
  /* not over the bare digest, nor over the id string */
  g_assert_false (rdt_ed25519_verify (sig_dec, digest, sizeof digest,
                                      rdt_signing_key_get_public_key (key)));
  g_assert_false (rdt_ed25519_verify (sig_dec, (const guint8 *) m, strlen (m),
                                      rdt_signing_key_get_public_key (key)));
}

static void
test_msg1 (void)
{
  check_message (A_MSG1_INPUT, A_MSG1_HASH, A_MSG1_SIGNED, A_MEMBER_SEED,
                 A_MSG1_SIG);
}

static void
test_msg2 (void)
{
  g_autofree gchar *input =
    g_strjoin ("|", A_SPACE_ID, "general", "chat.text", A_MSG1_HASH,
               A_MSG2_DATA, A_MEMBER_UID, NULL);

  g_assert_cmpstr (input, ==, A_MSG2_INPUT);
  check_message (A_MSG2_INPUT, A_MSG2_HASH, NULL, A_MEMBER_SEED, A_MSG2_SIG);
}

static void
test_state_write (void)
{
  g_autofree gchar *input =
    g_strjoin ("|", A_SPACE_ID, "state", A_STATE_PATH, "null", A_STATE_DATA,
               A_OWNER_UID, NULL);

  check_message (input, A_STATE_HASH, NULL, A_OWNER_SEED, A_STATE_SIG);
}

/* Plain signatures over UTF-8 strings: the challenge and the KV record. */
static void
check_text_signature (const gchar *text, const gchar *seed_hex,
                      const gchar *expect_sig_b64)
{
  g_autoptr(RdtSigningKey) key = key_from_hex (seed_hex);
  guint8 sig[64];
  g_autofree gchar *b64 = NULL;

  rdt_signing_key_sign (key, (const guint8 *) text, strlen (text), sig);
  b64 = rdt_base64_encode (sig, sizeof sig);
  g_assert_cmpstr (b64, ==, expect_sig_b64);
  g_assert_true (rdt_ed25519_verify (sig, (const guint8 *) text,
                                     strlen (text),
                                     rdt_signing_key_get_public_key (key)));
}

static void
test_challenge_signature (void)
{
  check_text_signature (A_CHALLENGE, A_MEMBER_SEED, A_CHALLENGE_SIG);
}

static void
test_kv_signature (void)
{
  g_autofree gchar *text =
    g_strdup_printf ("%s|%s|%s|%" G_GINT64_FORMAT, A_SPACE_ID,
                     "presence/alice", "b25saW5l", (gint64) 1700000000000);

  g_assert_cmpstr (text, ==, A_KV_STRING);
  check_text_signature (A_KV_STRING, A_MEMBER_SEED, A_KV_SIG);
}

static void
test_signature_negative (void)
{
  g_autoptr(RdtSigningKey) member = key_from_hex (A_MEMBER_SEED);
  g_autoptr(RdtSigningKey) owner = key_from_hex (A_OWNER_SEED);
  guint8 raw[33], sig[64], pk[32];
  gsize i;

  unhex (A_MSG1_SIGNED, raw, sizeof raw);
  rdt_signing_key_sign (member, raw, sizeof raw, sig);
  memcpy (pk, rdt_signing_key_get_public_key (member), 32);
  g_assert_true (rdt_ed25519_verify (sig, raw, sizeof raw, pk));

  /* every single flipped signature bit fails */
  for (i = 0; i < sizeof sig * 8; i++)
    {
      sig[i / 8] ^= (guint8) (1u << (i % 8));
      g_assert_false (rdt_ed25519_verify (sig, raw, sizeof raw, pk));
      sig[i / 8] ^= (guint8) (1u << (i % 8));
    }
  /* wrong public key (the owner's) */
  g_assert_false (rdt_ed25519_verify (sig, raw, sizeof raw,
                                      rdt_signing_key_get_public_key (owner)));
  /* flipped public key byte */
  pk[5] ^= 0x01;
  g_assert_false (rdt_ed25519_verify (sig, raw, sizeof raw, pk));
  pk[5] ^= 0x01;
  /* changed message, shorter message */
  raw[32] ^= 0x80;
  g_assert_false (rdt_ed25519_verify (sig, raw, sizeof raw, pk));
  raw[32] ^= 0x80;
  g_assert_false (rdt_ed25519_verify (sig, raw, sizeof raw - 1, pk));
  g_assert_false (rdt_ed25519_verify (sig, NULL, 0, pk));
  /* all-zero public key / signature */
  memset (pk, 0, sizeof pk);
  g_assert_false (rdt_ed25519_verify (sig, raw, sizeof raw, pk));
  memset (sig, 0, sizeof sig);
  g_assert_false (rdt_ed25519_verify (sig, raw, sizeof raw,
                                      rdt_signing_key_get_public_key (member)));
}

/* ---- SHA-256 ---- */

static void
test_sha256 (void)
{
  guint8 d[32];

  rdt_sha256 (NULL, 0, d);
  assert_hex (d, 32,
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  rdt_sha256 ((const guint8 *) "abc", 3, d);
  assert_hex (d, 32,
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- HKDF ---- */

static void
test_hkdf_rfc5869_tc3 (void)
{
  guint8 ikm[22], okm[42];

  memset (ikm, 0x0b, sizeof ikm);
  rdt_hkdf_sha256 (ikm, sizeof ikm, NULL, 0, okm, sizeof okm);
  assert_hex (okm, sizeof okm, RFC5869_TC3_OKM);
}

static void
test_hkdf_lengths (void)
{
  static const guint8 ikm[32] = { 1, 2, 3 };
  static const guint8 info[] = "info";
  g_autofree guint8 *big = g_malloc (255 * 32);
  guint8 small[32], mid[33];
  gsize i;
  gboolean all_zero = TRUE;

  /* output of any length is a prefix of the longest output */
  rdt_hkdf_sha256 (ikm, sizeof ikm, info, 4, big, 255 * 32);
  rdt_hkdf_sha256 (ikm, sizeof ikm, info, 4, small, sizeof small);
  rdt_hkdf_sha256 (ikm, sizeof ikm, info, 4, mid, sizeof mid);
  g_assert_cmpmem (small, sizeof small, big, sizeof small);
  g_assert_cmpmem (mid, sizeof mid, big, sizeof mid);
  /* the last block is really computed */
  for (i = 254 * 32; i < 255 * 32; i++)
    if (big[i] != 0)
      all_zero = FALSE;
  g_assert_false (all_zero);
  g_assert_cmpint (memcmp (big + 253 * 32, big + 254 * 32, 32), !=, 0);
  /* info matters */
  rdt_hkdf_sha256 (ikm, sizeof ikm, info, 3, small, sizeof small);
  g_assert_cmpint (memcmp (small, big, 32), !=, 0);
}

static void
test_space_keys (void)
{
  guint8 root[32], topic[32];
  g_autoptr(RdtSpaceKeys) keys = NULL;
  const gchar *info = "message key | " A_SPACE_ID;
  guint8 mk[32];

  unhex (A_ROOT, root, 32);
  keys = rdt_space_keys_new (root, A_SPACE_ID);
  assert_hex (keys->message_key, 32, A_MESSAGE_KEY);
  assert_hex (keys->data_key, 32, A_DATA_KEY);
  assert_hex (keys->state_key, 32, A_STATE_KEY);
  rdt_space_keys_topic_key (keys, "general", topic);
  assert_hex (topic, 32, A_TOPIC_KEY_GENERAL);
  rdt_space_keys_topic_key (keys, "state", topic);
  assert_hex (topic, 32, A_STATE_KEY);

  /* the raw HKDF call with the exact info string of the spec */
  rdt_hkdf_sha256 (root, 32, (const guint8 *) info, strlen (info), mk, 32);
  assert_hex (mk, 32, A_MESSAGE_KEY);

  /* another space id gives other keys */
  {
    g_autoptr(RdtSpaceKeys) other = rdt_space_keys_new (root, A_OWNER_UID);

    g_assert_cmpint (memcmp (other->message_key, keys->message_key, 32), !=,
                     0);
  }
  rdt_wipe (root, sizeof root);
  rdt_wipe (topic, sizeof topic);
  rdt_wipe (mk, sizeof mk);
}

/* ---- AES-256-GCM ---- */

static void
general_key (guint8 key[32])
{
  unhex (A_TOPIC_KEY_GENERAL, key, 32);
}

static void
test_aes_appendix_a (void)
{
  guint8 key[32], nonce[12], blob[40], digest[32];
  g_autoptr(GBytes) enc = NULL;
  g_autoptr(GBytes) dec = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *b64 = NULL;
  g_autofree gchar *blob_id = NULL;
  gsize len;
  const guint8 *p;

  general_key (key);
  unhex (A_NONCE, nonce, 12);
  unhex (A_BLOB, blob, sizeof blob);

  enc = rdt_aes_gcm_encrypt (key, (const guint8 *) A_PLAINTEXT,
                             strlen (A_PLAINTEXT), nonce);
  p = g_bytes_get_data (enc, &len);
  assert_hex (p, len, A_BLOB);
  b64 = rdt_base64_encode (p, len);
  g_assert_cmpstr (b64, ==, A_MSG1_DATA);

  dec = rdt_aes_gcm_decrypt (key, blob, sizeof blob, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (dec, &len);
  g_assert_cmpmem (p, len, A_PLAINTEXT, strlen (A_PLAINTEXT));

  /* blob_id = B id of SHA-256 of the blob bytes */
  rdt_sha256 (blob, sizeof blob, digest);
  blob_id = rdt_id_encode (RDT_ID_BLOB, digest);
  g_assert_cmpstr (blob_id, ==, A_BLOB_ID);
}

static void
assert_decrypt_fails (const guint8 *key, const guint8 *blob, gsize len,
                      const gchar *expect_msg)
{
  g_autoptr(GError) error = NULL;
  GBytes *out = rdt_aes_gcm_decrypt (key, blob, len, &error);

  g_assert_null (out);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_DECRYPT);
  g_assert_cmpstr (error->message, ==, expect_msg);
}

#define AUTH_FAILED "authentication failed: wrong key or tampered ciphertext"

static void
test_aes_negative (void)
{
  guint8 key[32], blob[40], tmp[40], zero28[28];
  gsize i;

  general_key (key);
  unhex (A_BLOB, blob, sizeof blob);

  /* every flipped byte: nonce, ciphertext, tag */
  for (i = 0; i < sizeof blob; i++)
    {
      memcpy (tmp, blob, sizeof blob);
      tmp[i] ^= 0x01;
      assert_decrypt_fails (key, tmp, sizeof tmp, AUTH_FAILED);
    }
  /* wrong key */
  memcpy (tmp, key, 32);
  tmp[31] ^= 0x40;
  assert_decrypt_fails (tmp, blob, sizeof blob, AUTH_FAILED);
  unhex (A_STATE_KEY, tmp, 32);
  assert_decrypt_fails (tmp, blob, sizeof blob, AUTH_FAILED);
  /* truncated: the tag is cut, or shorter than nonce + tag */
  assert_decrypt_fails (key, blob, sizeof blob - 1, AUTH_FAILED);
  assert_decrypt_fails (key, blob, 27,
                        "message is truncated (27 bytes, at least 28 needed)");
  assert_decrypt_fails (key, blob, 0,
                        "message is truncated (0 bytes, at least 28 needed)");
  assert_decrypt_fails (key, NULL, 0,
                        "message is truncated (0 bytes, at least 28 needed)");
  assert_decrypt_fails (key, blob, 12,
                        "message is truncated (12 bytes, at least 28 needed)");
  /* exactly 28 bytes (empty plaintext) with a bad tag */
  memset (zero28, 0, sizeof zero28);
  assert_decrypt_fails (key, zero28, sizeof zero28, AUTH_FAILED);
  memcpy (zero28, blob, 28);
  assert_decrypt_fails (key, zero28, sizeof zero28, AUTH_FAILED);
  /* appended byte */
  {
    guint8 longer[41];

    memcpy (longer, blob, 40);
    longer[40] = 0;
    assert_decrypt_fails (key, longer, sizeof longer, AUTH_FAILED);
  }
}

static void
test_aes_roundtrip (void)
{
  guint8 key[32];
  static const gsize sizes[] = { 0, 1, 15, 16, 17, 31, 32, 33, 1000, 76772 };
  gsize i;

  rdt_random_bytes (key, sizeof key);
  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree guint8 *plain = g_malloc (sizes[i] + 1);
      g_autoptr(GBytes) enc = NULL;
      g_autoptr(GBytes) enc2 = NULL;
      g_autoptr(GBytes) dec = NULL;
      g_autoptr(GError) error = NULL;
      gsize len;
      const guint8 *p;

      rdt_random_bytes (plain, sizes[i]);
      enc = rdt_aes_gcm_encrypt (key, sizes[i] ? plain : NULL, sizes[i],
                                 NULL);
      g_assert_cmpuint (g_bytes_get_size (enc), ==, sizes[i] + 28);
      /* random nonces: same plaintext, different blobs */
      enc2 = rdt_aes_gcm_encrypt (key, plain, sizes[i], NULL);
      g_assert_false (g_bytes_equal (enc, enc2));

      p = g_bytes_get_data (enc, &len);
      dec = rdt_aes_gcm_decrypt (key, p, len, &error);
      g_assert_no_error (error);
      g_assert_nonnull (dec);
      p = g_bytes_get_data (dec, &len);
      g_assert_cmpmem (p, len, plain, sizes[i]);
    }
}

/* Both backends in one run: same bytes out, each decrypts the other. */
static void
test_aes_cross_backend (void)
{
  static const gsize sizes[] = { 0, 1, 12, 16, 17, 100, 4097 };
  guint8 key[32], nonce[12];
  gsize i;

  if (!crypto_aead_aes256gcm_is_available ())
    {
      g_test_skip ("no AES-NI/ARMv8-CE: libsodium's AES-GCM is unavailable");
      return;
    }

  rdt_random_bytes (key, sizeof key);
  rdt_random_bytes (nonce, sizeof nonce);
  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree guint8 *plain = g_malloc (sizes[i] + 1);
      g_autoptr(GBytes) by_sodium = NULL;
      g_autoptr(GBytes) by_nettle = NULL;
      g_autoptr(GBytes) d1 = NULL;
      g_autoptr(GBytes) d2 = NULL;
      g_autoptr(GError) error = NULL;
      const guint8 *p;
      gsize len;

      rdt_random_bytes (plain, sizes[i]);

      rdt_aes_set_backend (RDT_AES_BACKEND_SODIUM);
      g_assert_cmpint (rdt_aes_get_backend (), ==, RDT_AES_BACKEND_SODIUM);
      by_sodium = rdt_aes_gcm_encrypt (key, plain, sizes[i], nonce);

      rdt_aes_set_backend (RDT_AES_BACKEND_NETTLE);
      g_assert_cmpint (rdt_aes_get_backend (), ==, RDT_AES_BACKEND_NETTLE);
      by_nettle = rdt_aes_gcm_encrypt (key, plain, sizes[i], nonce);
      g_assert_true (g_bytes_equal (by_sodium, by_nettle));

      /* nettle decrypts sodium's output ... */
      p = g_bytes_get_data (by_sodium, &len);
      d1 = rdt_aes_gcm_decrypt (key, p, len, &error);
      g_assert_no_error (error);
      p = g_bytes_get_data (d1, &len);
      g_assert_cmpmem (p, len, plain, sizes[i]);

      /* ... and sodium nettle's */
      rdt_aes_set_backend (RDT_AES_BACKEND_SODIUM);
      p = g_bytes_get_data (by_nettle, &len);
      d2 = rdt_aes_gcm_decrypt (key, p, len, &error);
      g_assert_no_error (error);
      p = g_bytes_get_data (d2, &len);
      g_assert_cmpmem (p, len, plain, sizes[i]);
    }

  /* the Appendix A blob under each backend explicitly */
  {
    RdtAesBackend both[] = { RDT_AES_BACKEND_SODIUM, RDT_AES_BACKEND_NETTLE };

    for (i = 0; i < G_N_ELEMENTS (both); i++)
      {
        guint8 blob[40];
        g_autoptr(GBytes) enc = NULL;

        rdt_aes_set_backend (both[i]);
        general_key (key);
        unhex (A_NONCE, nonce, 12);
        unhex (A_BLOB, blob, sizeof blob);
        enc = rdt_aes_gcm_encrypt (key, (const guint8 *) A_PLAINTEXT,
                                   strlen (A_PLAINTEXT), nonce);
        g_assert_cmpmem (g_bytes_get_data (enc, NULL), g_bytes_get_size (enc),
                         blob, sizeof blob);
        blob[39] ^= 1;
        assert_decrypt_fails (key, blob, sizeof blob, AUTH_FAILED);
      }
  }

  rdt_aes_set_backend (initial_backend);
}

/* ---- key parsing (spec 1.3) ---- */

static void
assert_key_parses (const gchar *text, const gchar *expect_hex)
{
  g_autoptr(GError) error = NULL;
  guint8 out[32];

  g_assert_true (rdt_parse_key32 (text, out, &error));
  g_assert_no_error (error);
  assert_hex (out, 32, expect_hex);
}

static void
assert_key_fails (const gchar *text, const gchar *part)
{
  g_autoptr(GError) error = NULL;
  guint8 out[32];
  gsize i;

  memset (out, 0x77, sizeof out);
  g_assert_false (rdt_parse_key32 (text, out, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_KEY);
  if (part)
    g_assert_nonnull (strstr (error->message, part));
  g_test_message ("%s", error->message);
  for (i = 0; i < sizeof out; i++)
    g_assert_cmpuint (out[i], ==, 0);
}

static void
test_parse_key (void)
{
  /* the member public key bytes contain '+' / '/' in standard base64 */
  static const gchar *pk_hex = A_MEMBER_PK;
  guint8 pk[32];
  g_autofree gchar *std = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *std_nopad = NULL;
  g_autofree gchar *url_pad = NULL;
  g_autofree gchar *upper = g_ascii_strup (A_OWNER_PK, -1);
  g_autofree gchar *ws = g_strdup_printf ("  \t%s\r\n", A_OWNER_SEED);

  unhex (pk_hex, pk, 32);
  std = rdt_base64_encode (pk, 32);
  url = rdt_base64url_encode (pk, 32);
  std_nopad = g_strndup (std, 43);
  url_pad = g_strconcat (url, "=", NULL);
  g_assert_cmpuint (strlen (std), ==, 44);
  g_assert_cmpuint (strlen (url), ==, 43);

  assert_key_parses (A_OWNER_SEED, A_OWNER_SEED);
  assert_key_parses (upper, A_OWNER_PK);
  assert_key_parses (ws, A_OWNER_SEED);
  assert_key_parses (std, pk_hex);
  assert_key_parses (std_nopad, pk_hex);
  assert_key_parses (url, pk_hex);
  assert_key_parses (url_pad, pk_hex);
  /* server config style: standard base64 of the seed */
  assert_key_parses ("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", A_OWNER_SEED);

  /* negatives */
  assert_key_fails (NULL, "missing");
  assert_key_fails ("", "got 0 characters");
  {
    g_autofree gchar *h63 = g_strndup (A_OWNER_SEED, 63);
    g_autofree gchar *h65 = g_strconcat (A_OWNER_SEED, "0", NULL);
    g_autofree gchar *nonhex = g_strdup (A_OWNER_SEED);
    g_autofree gchar *mixed = g_strdup (std);

    assert_key_fails (h63, "got 63 characters");
    assert_key_fails (h65, "got 65 characters");
    nonhex[17] = 'z';
    assert_key_fails (nonhex, "not hex");
    /* 44 chars of base64 without padding decode to 33 bytes */
    assert_key_fails ("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB", NULL);
    /* decoding to 31 bytes: 40 + "AQ==" style is 44 chars with two '=' */
    assert_key_fails ("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==", NULL);
    assert_key_fails ("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=", NULL);
    /* junk characters */
    assert_key_fails ("AQEBAQEBAQEBAQEBAQEBAQEB!QEBAQEBAQEBAQEBAQE=", NULL);
    assert_key_fails ("AQEBAQEBAQEBAQEBAQEBAQEB AQEBAQEBAQEBAQEBAQE", NULL);
    /* both alphabets at once */
    g_assert_nonnull (strpbrk (mixed, "+/"));
    mixed[0] = '-';
    assert_key_fails (mixed, "mixes");
  }
}

/* ---- memory ---- */

static void
test_secret_memory (void)
{
  guint8 *s = rdt_secret_alloc (100);
  guint8 buf[16];
  gsize i;

  for (i = 0; i < 100; i++)
    g_assert_cmpuint (s[i], ==, 0);
  memset (s, 0xaa, 100);
  rdt_wipe (s, 100);
  for (i = 0; i < 100; i++)
    g_assert_cmpuint (s[i], ==, 0);
  rdt_secret_free (s);
  rdt_secret_free (NULL);

  memset (buf, 0xff, sizeof buf);
  rdt_wipe (buf, sizeof buf);
  for (i = 0; i < sizeof buf; i++)
    g_assert_cmpuint (buf[i], ==, 0);
  rdt_wipe (NULL, 0);
}

static void
test_random (void)
{
  guint8 a[32], b[32];

  rdt_random_bytes (a, sizeof a);
  rdt_random_bytes (b, sizeof b);
  g_assert_cmpint (memcmp (a, b, 32), !=, 0);
  rdt_random_bytes (NULL, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_assert_true (rdt_crypto_init ());
  initial_backend = rdt_aes_get_backend ();

  g_test_add_func ("/crypto/aes/backend", test_backend);
  g_test_add_func ("/crypto/ed25519/keys-from-seed", test_keys_from_seed);
  g_test_add_func ("/crypto/ed25519/generate", test_key_generate);
  g_test_add_func ("/crypto/ed25519/msg1", test_msg1);
  g_test_add_func ("/crypto/ed25519/msg2", test_msg2);
  g_test_add_func ("/crypto/ed25519/state-write", test_state_write);
  g_test_add_func ("/crypto/ed25519/challenge", test_challenge_signature);
  g_test_add_func ("/crypto/ed25519/kv", test_kv_signature);
  g_test_add_func ("/crypto/ed25519/negative", test_signature_negative);
  g_test_add_func ("/crypto/sha256", test_sha256);
  g_test_add_func ("/crypto/hkdf/rfc5869-tc3", test_hkdf_rfc5869_tc3);
  g_test_add_func ("/crypto/hkdf/lengths", test_hkdf_lengths);
  g_test_add_func ("/crypto/hkdf/space-keys", test_space_keys);
  g_test_add_func ("/crypto/aes/appendix-a", test_aes_appendix_a);
  g_test_add_func ("/crypto/aes/negative", test_aes_negative);
  g_test_add_func ("/crypto/aes/roundtrip", test_aes_roundtrip);
  g_test_add_func ("/crypto/aes/cross-backend", test_aes_cross_backend);
  g_test_add_func ("/crypto/parse-key32", test_parse_key);
  g_test_add_func ("/crypto/secret-memory", test_secret_memory);
  g_test_add_func ("/crypto/random", test_random);

  return g_test_run ();
}
