/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-readstate.c - the read-marker codec (src/core/readstate.c): the
 * key derived from the member's seed, the encrypted value and everything
 * its strict decoder must refuse. No network. */
#include "config.h"

#include <string.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "message.h"
#include "readstate.h"

#define SPACE_A "SxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxA"
#define SPACE_B "SxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxB"

static gchar *
some_hash (guint8 fill)
{
  guint8 d[32];

  memset (d, fill, sizeof d);
  return rdt_id_encode (RDT_ID_MESSAGE, d);
}

static void
test_derive_key (void)
{
  guint8 seed1[32], seed2[32], k1[32], k1b[32], k2[32], k3[32], want[32];
  const gchar *info = "purple-reeeductio read state | " SPACE_A;

  memset (seed1, 1, sizeof seed1);
  memset (seed2, 2, sizeof seed2);
  rdt_readstate_derive_key (seed1, SPACE_A, k1);
  rdt_readstate_derive_key (seed1, SPACE_A, k1b);
  rdt_readstate_derive_key (seed1, SPACE_B, k2);
  rdt_readstate_derive_key (seed2, SPACE_A, k3);
  g_assert_cmpmem (k1, 32, k1b, 32);
  g_assert_true (memcmp (k1, k2, 32) != 0);
  g_assert_true (memcmp (k1, k3, 32) != 0);
  /* exactly the documented HKDF: the seed is the IKM, no salt */
  rdt_hkdf_sha256 (seed1, 32, (const guint8 *) info, strlen (info), want, 32);
  g_assert_cmpmem (k1, 32, want, 32);
  g_assert_true (memcmp (k1, seed1, 32) != 0);
}

static void
test_path (void)
{
  g_autofree gchar *p = rdt_readstate_path ("Uabc", "general");

  g_assert_cmpstr (p, ==, "data/user/Uabc/read/general");
}

static void
test_round_trip (void)
{
  guint8 key[32];
  g_autofree gchar *hash = some_hash (7);
  g_autoptr (RdtReadMarker) m = rdt_read_marker_new ("general", hash,
                                                     1700000000123);
  g_autoptr (RdtReadMarker) back = NULL, copy = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *value = NULL, *value2 = NULL;

  rdt_random_bytes (key, sizeof key);
  value = rdt_read_marker_encode (key, m);
  g_assert_nonnull (value);
  g_assert_cmpuint (strlen (value), <=, RDT_READ_MARKER_MAX_VALUE);
  /* encrypted: the hash is not in the clear */
  g_assert_null (strstr (value, hash));
  back = rdt_read_marker_decode (key, "general", value, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->topic_id, ==, "general");
  g_assert_cmpstr (back->message_hash, ==, hash);
  g_assert_cmpint (back->timestamp, ==, 1700000000123);
  /* a fresh nonce each time */
  value2 = rdt_read_marker_encode (key, m);
  g_assert_cmpstr (value, !=, value2);

  copy = rdt_read_marker_copy (m);
  g_assert_cmpstr (copy->message_hash, ==, hash);
  g_assert_true (copy->message_hash != m->message_hash);

  /* nothing invalid is encoded */
  g_clear_pointer (&m->message_hash, g_free);
  m->message_hash = g_strdup ("Mnope");
  g_assert_null (rdt_read_marker_encode (key, m));
}

/* value of an arbitrary plaintext under key */
static gchar *
seal (const guint8 key[32], const gchar *json)
{
  return rdt_payload_encrypt (key, (const guint8 *) json, strlen (json));
}

static void
expect_refused (const guint8 key[32], const gchar *topic, const gchar *value,
                gint code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtReadMarker) m = rdt_read_marker_decode (key, topic, value,
                                                        &error);

  g_assert_null (m);
  g_assert_error (error, RDT_ERROR, code);
  g_assert_nonnull (error->message);
}

static void
test_decode_refuses (void)
{
  guint8 key[32], other[32];
  g_autofree gchar *hash = some_hash (9);
  g_autoptr (RdtReadMarker) m = rdt_read_marker_new ("general", hash, 42);
  g_autofree gchar *good = NULL, *truncated = NULL, *big = NULL;
  g_autofree gchar *json = NULL, *v = NULL, *padded = NULL;
  g_autoptr (RdtReadMarker) ok = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree guint8 *raw = NULL;

  rdt_random_bytes (key, sizeof key);
  rdt_random_bytes (other, sizeof other);
  good = rdt_read_marker_encode (key, m);

  /* another device's seed, another topic's path */
  expect_refused (other, "general", good, RDT_ERROR_DECRYPT);
  expect_refused (key, "random", good, RDT_ERROR_MALFORMED);
  /* not base64, and short of the nonce and tag */
  expect_refused (key, "general", "not base64!", RDT_ERROR_BAD_BASE64);
  expect_refused (key, "general", "", RDT_ERROR_DECRYPT);
  raw = rdt_base64_decode (good, -1, &len, NULL);
  truncated = rdt_base64_encode (raw, len - 1);
  expect_refused (key, "general", truncated, RDT_ERROR_DECRYPT);
  g_clear_pointer (&truncated, g_free);
  truncated = rdt_base64_encode (raw, RDT_GCM_MIN_LENGTH - 1);
  expect_refused (key, "general", truncated, RDT_ERROR_DECRYPT);

  /* decrypts, but is not what a marker is */
#define REFUSE_JSON(text) \
  G_STMT_START { \
    g_autofree gchar *sealed = seal (key, (text)); \
    expect_refused (key, "general", sealed, RDT_ERROR_MALFORMED); \
  } G_STMT_END
  REFUSE_JSON ("[1,2]");
  REFUSE_JSON ("\"general\"");
  REFUSE_JSON ("not json");
  REFUSE_JSON ("{}");
  json = g_strdup_printf ("{\"hash\":\"%s\",\"ts\":42}", hash);
  REFUSE_JSON (json);                         /* no topic */
  g_free (json);
  REFUSE_JSON ("{\"topic\":\"general\",\"ts\":42}");  /* no hash */
  json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\"}", hash);
  REFUSE_JSON (json);                         /* no ts */
  g_free (json);
  json = g_strdup_printf ("{\"topic\":7,\"hash\":\"%s\",\"ts\":42}", hash);
  REFUSE_JSON (json);
  g_free (json);
  REFUSE_JSON ("{\"topic\":\"general\",\"hash\":\"Mshort\",\"ts\":42}");
  {
    g_autofree gchar *user = NULL;
    guint8 d[32] = { 0 };

    user = rdt_id_encode (RDT_ID_USER, d);   /* a U id is not an M id */
    json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\",\"ts\":42}",
                            user);
    REFUSE_JSON (json);
    g_free (json);
  }
  json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\",\"ts\":\"42\"}",
                          hash);
  REFUSE_JSON (json);
  g_free (json);
  json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\",\"ts\":4.2}",
                          hash);
  REFUSE_JSON (json);
  g_free (json);
  json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\",\"ts\":0}",
                          hash);
  REFUSE_JSON (json);
  g_free (json);
  json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\",\"ts\":-5}",
                          hash);
  REFUSE_JSON (json);
  g_free (json);

  /* unknown members are ignored */
  json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\",\"ts\":5,"
                          "\"device\":\"phone\"}", hash);
  v = seal (key, json);
  ok = rdt_read_marker_decode (key, "general", v, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ok->timestamp, ==, 5);
  g_free (json);

  /* oversize: refused before any decoding, even when it would decrypt */
  padded = g_strnfill (2000, 'x');
  json = g_strdup_printf ("{\"topic\":\"general\",\"hash\":\"%s\",\"ts\":5,"
                          "\"pad\":\"%s\"}", hash, padded);
  big = seal (key, json);
  g_assert_cmpuint (strlen (big), >, RDT_READ_MARKER_MAX_VALUE);
  expect_refused (key, "general", big, RDT_ERROR_TOO_LARGE);
#undef REFUSE_JSON
}

static void
test_is_newer (void)
{
  g_autofree gchar *h1 = some_hash (1), *h2 = some_hash (2);
  g_autoptr (RdtReadMarker) a = rdt_read_marker_new ("general", h1, 100);
  g_autoptr (RdtReadMarker) b = rdt_read_marker_new ("general", h2, 200);
  g_autoptr (RdtReadMarker) c = rdt_read_marker_new ("general", h2, 100);

  g_assert_true (rdt_read_marker_is_newer (b, a));
  g_assert_false (rdt_read_marker_is_newer (a, b));
  /* equal timestamps: neither is newer (the stored one stays) */
  g_assert_false (rdt_read_marker_is_newer (a, c));
  g_assert_false (rdt_read_marker_is_newer (c, a));
  g_assert_true (rdt_read_marker_is_newer (a, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (rdt_crypto_init ());
  g_test_add_func ("/readstate/derive-key", test_derive_key);
  g_test_add_func ("/readstate/path", test_path);
  g_test_add_func ("/readstate/round-trip", test_round_trip);
  g_test_add_func ("/readstate/decode-refuses", test_decode_refuses);
  g_test_add_func ("/readstate/is-newer", test_is_newer);
  return g_test_run ();
}
