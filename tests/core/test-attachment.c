/* test-attachment.c - attachment descriptors and encrypted blobs (spec 10). */
#include <string.h>

#include "attachment.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

/* Appendix A: the AES blob and its B id. */
#define VEC_BLOB_HEX "000102030405060708090a0b1796932bf332261cc245922ee1246bd292babf355075f5e372ec345c"
#define VEC_BLOB_ID  "BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4"
#define VEC_KEY_HEX  "8048099e1e74c825626ef3920d96bfda20b358227c4f1b009c52df605d40f46d"

static GBytes *
hex_bytes (const gchar *hex)
{
  gsize n = strlen (hex) / 2;
  guint8 *buf = g_malloc (n);

  g_assert_true (rdt_hex_decode (hex, buf, n, NULL));
  return g_bytes_new_take (buf, n);
}

/* The Appendix A blob, described as an attachment with the topic key as
 * its DEK, decrypts to "hello, world" and its id is the vector's. */
static void
test_vector (void)
{
  g_autoptr (GBytes) blob = hex_bytes (VEC_BLOB_HEX);
  g_autoptr (RdtAttachment) att = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *json = NULL;

  json = g_strdup_printf ("{\"blob_id\":\"%s\",\"dek\":\"%s\","
                          "\"filename\":\"hello.txt\","
                          "\"content_type\":\"text/plain\",\"size\":12}",
                          VEC_BLOB_ID, VEC_KEY_HEX);
  att = rdt_attachment_parse ((const guint8 *) json, strlen (json), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (att->filename, ==, "hello.txt");
  g_assert_cmpstr (att->content_type, ==, "text/plain");
  g_assert_cmpuint (att->size, ==, 12);
  g_assert_false (rdt_attachment_is_image (att));

  plain = rdt_attachment_decrypt (att, blob, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain),
                   "hello, world", 12);
}

static void
test_roundtrip (void)
{
  g_autoptr (RdtAttachment) att = NULL;
  g_autoptr (RdtAttachment) back = NULL;
  g_autoptr (GBytes) blob = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *json = NULL;
  guint8 data[5000], digest[32];
  g_autofree gchar *expect_id = NULL;
  gsize jlen;

  rdt_random_bytes (data, sizeof data);
  blob = rdt_attachment_encrypt (data, sizeof data, 0, &att, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (blob), ==, sizeof data + 28);
  rdt_sha256 (g_bytes_get_data (blob, NULL), g_bytes_get_size (blob), digest);
  expect_id = rdt_id_encode (RDT_ID_BLOB, digest);
  g_assert_cmpstr (att->blob_id, ==, expect_id);
  g_assert_cmpuint (att->size, ==, sizeof data);

  att->filename = g_strdup ("photo.png");
  att->content_type = g_strdup ("image/png");
  att->width = 640;
  att->height = 480;
  json = rdt_attachment_to_json (att, &jlen);
  back = rdt_attachment_parse ((const guint8 *) json, jlen, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->blob_id, ==, att->blob_id);
  g_assert_cmpmem (back->dek, 32, att->dek, 32);
  g_assert_cmpstr (back->filename, ==, "photo.png");
  g_assert_cmpuint (back->width, ==, 640);
  g_assert_cmpuint (back->height, ==, 480);
  g_assert_true (rdt_attachment_is_image (back));

  plain = rdt_attachment_decrypt (back, blob, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain),
                   data, sizeof data);
}

/* Two encryptions of the same bytes use different DEKs and so give
 * different blobs. */
static void
test_fresh_dek (void)
{
  g_autoptr (RdtAttachment) a = NULL;
  g_autoptr (RdtAttachment) b = NULL;
  g_autoptr (GBytes) ba = rdt_attachment_encrypt ((const guint8 *) "x", 1, 0,
                                                  &a, NULL);
  g_autoptr (GBytes) bb = rdt_attachment_encrypt ((const guint8 *) "x", 1, 0,
                                                  &b, NULL);

  g_assert_true (memcmp (a->dek, b->dek, 32) != 0);
  g_assert_cmpstr (a->blob_id, !=, b->blob_id);
}

static void
test_tampered (void)
{
  g_autoptr (RdtAttachment) att = NULL;
  g_autoptr (GBytes) blob = NULL;
  g_autoptr (GBytes) bad = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (GError) error = NULL;
  guint8 *copy;
  gsize len;

  blob = rdt_attachment_encrypt ((const guint8 *) "secret image", 12, 0,
                                 &att, NULL);
  copy = g_bytes_unref_to_data (g_bytes_ref (blob), &len);
  copy[len - 1] ^= 1;
  bad = g_bytes_new_take (copy, len);

  /* Altered bytes no longer hash to the id. */
  plain = rdt_attachment_decrypt (att, bad, &error);
  g_assert_null (plain);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
  g_clear_error (&error);

  /* A descriptor that names the altered blob's id (an attacker who can
   * change the message) still fails on the GCM tag. */
  {
    guint8 digest[32];
    g_free (att->blob_id);
    rdt_sha256 (g_bytes_get_data (bad, NULL), len, digest);
    att->blob_id = rdt_id_encode (RDT_ID_BLOB, digest);
  }
  plain = rdt_attachment_decrypt (att, bad, &error);
  g_assert_null (plain);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_DECRYPT);
  g_clear_error (&error);

  /* Wrong announced size. */
  {
    g_autoptr (RdtAttachment) a2 = NULL;
    g_autoptr (GBytes) b2 = rdt_attachment_encrypt ((const guint8 *) "abc", 3,
                                                    0, &a2, NULL);
    a2->size = 4;
    plain = rdt_attachment_decrypt (a2, b2, &error);
    g_assert_null (plain);
    g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
  }
}

static void
test_limit (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) blob = NULL;
  guint8 data[101] = { 0 };

  blob = rdt_attachment_encrypt (data, sizeof data, 100, NULL, &error);
  g_assert_null (blob);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  g_clear_error (&error);
  blob = rdt_attachment_encrypt (data, 100, 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (blob), ==, 128);
}

static void
expect_parse_error (const gchar *json, gint code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtAttachment) att = NULL;

  att = rdt_attachment_parse ((const guint8 *) json, strlen (json), &error);
  if (att != NULL)
    g_error ("accepted: %s", json);
  g_assert_error (error, RDT_ERROR, code);
}

static void
test_parse_strict (void)
{
  g_autofree gchar *big = NULL;
  g_autofree gchar *json = NULL;

  expect_parse_error ("", RDT_ERROR_MALFORMED);
  expect_parse_error ("not json", RDT_ERROR_MALFORMED);
  expect_parse_error ("[1,2]", RDT_ERROR_MALFORMED);
  expect_parse_error ("\"" VEC_BLOB_ID "\"", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\"}", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"dek\":\"" VEC_KEY_HEX "\"}", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"blob_id\":42,\"dek\":\"" VEC_KEY_HEX "\"}",
                      RDT_ERROR_MALFORMED);
  /* A U id is not a blob id. */
  expect_parse_error ("{\"blob_id\":\"UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU\","
                      "\"dek\":\"" VEC_KEY_HEX "\"}", RDT_ERROR_INVALID_ID);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"abcd\"}",
                      RDT_ERROR_INVALID_KEY);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"" VEC_KEY_HEX
                      "\",\"size\":-1}", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"" VEC_KEY_HEX
                      "\",\"size\":\"12\"}", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"" VEC_KEY_HEX
                      "\",\"size\":1.5}", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"" VEC_KEY_HEX
                      "\",\"size\":104857600}", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"" VEC_KEY_HEX
                      "\",\"width\":70000}", RDT_ERROR_MALFORMED);
  expect_parse_error ("{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"" VEC_KEY_HEX
                      "\",\"filename\":[]}", RDT_ERROR_MALFORMED);

  big = g_strnfill (RDT_ATTACHMENT_MAX_DESCRIPTOR, ' ');
  json = g_strdup_printf ("{\"blob_id\":\"%s\",\"dek\":\"%s\"}%s",
                          VEC_BLOB_ID, VEC_KEY_HEX, big);
  expect_parse_error (json, RDT_ERROR_MALFORMED);
}

/* Minimal descriptor: filename/content_type/size optional, unknown fields
 * ignored, hostile filename and content type neutralised. */
static void
test_parse_lenient_fields (void)
{
  const gchar *json =
    "{\"blob_id\":\"" VEC_BLOB_ID "\",\"dek\":\"" VEC_KEY_HEX "\","
    "\"filename\":\"../../.bashrc\",\"content_type\":\"text/html; x=<script>\","
    "\"extra\":{\"a\":1}}";
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtAttachment) att =
    rdt_attachment_parse ((const guint8 *) json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_cmpstr (att->filename, ==, "bashrc");
  g_assert_cmpstr (att->content_type, ==, "application/octet-stream");
  g_assert_cmpuint (att->size, ==, 0);
}

static void
test_sanitize (void)
{
  const struct { const gchar *in, *out; } cases[] = {
    { "a.txt", "a.txt" },
    { "/etc/passwd", "passwd" },
    { "C:\\Users\\x\\evil.exe", "evil.exe" },
    { "..", "attachment" },
    { "", "attachment" },
    { "dir/", "attachment" },
    { "a\nb\tc.txt", "a_b_c.txt" },
    { "  .hidden", "hidden" },
    { "name. . ", "name" },
    { "ü\xff.txt", "ü\xef\xbf\xbd.txt" },
  };
  g_autofree gchar *longname = g_strnfill (1000, 'a');
  g_autofree gchar *s = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *got = rdt_attachment_sanitize_filename (cases[i].in);
      g_assert_cmpstr (got, ==, cases[i].out);
    }
  s = rdt_attachment_sanitize_filename (longname);
  g_assert_cmpuint (strlen (s), ==, RDT_ATTACHMENT_MAX_FILENAME);
}

typedef struct {
  GMainLoop *loop;
  GBytes *result;
  RdtAttachment *att;
  GError *error;
} AsyncData;

static void
on_encrypted (GObject *src, GAsyncResult *res, gpointer user_data)
{
  AsyncData *d = user_data;

  d->result = rdt_attachment_encrypt_finish (res, &d->att, &d->error);
  g_main_loop_quit (d->loop);
}

static void
on_decrypted (GObject *src, GAsyncResult *res, gpointer user_data)
{
  AsyncData *d = user_data;

  d->result = rdt_attachment_decrypt_finish (res, &d->error);
  g_main_loop_quit (d->loop);
}

static gboolean
on_timeout (gpointer user_data)
{
  g_error ("timed out waiting for the worker thread");
  return G_SOURCE_REMOVE;
}

/* 10 MB through the worker-thread variants; prints the time AES-GCM takes
 * off the main loop so the figure is in the test log. */
static void
test_async_10mb (void)
{
  const gsize n = 10 * 1024 * 1024;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (GBytes) blob = NULL;
  AsyncData d = { 0 };
  guint8 *buf = g_malloc (n);
  guint timeout;
  gint64 t0, t1;

  rdt_random_bytes (buf, n);
  plain = g_bytes_new_take (buf, n);
  d.loop = g_main_loop_new (NULL, FALSE);
  timeout = g_timeout_add_seconds (60, on_timeout, NULL);

  t0 = g_get_monotonic_time ();
  rdt_attachment_encrypt_async (plain, 0, NULL, on_encrypted, &d);
  g_main_loop_run (d.loop);
  t1 = g_get_monotonic_time ();
  g_assert_no_error (d.error);
  blob = g_steal_pointer (&d.result);
  g_test_message ("encrypt 10 MB (%s): %.1f ms",
                  rdt_aes_get_backend () == RDT_AES_BACKEND_SODIUM
                  ? "sodium" : "nettle", (t1 - t0) / 1000.0);

  t0 = g_get_monotonic_time ();
  rdt_attachment_decrypt_async (d.att, blob, NULL, on_decrypted, &d);
  g_main_loop_run (d.loop);
  t1 = g_get_monotonic_time ();
  g_assert_no_error (d.error);
  g_test_message ("hash+decrypt 10 MB: %.1f ms", (t1 - t0) / 1000.0);
  g_assert_true (g_bytes_equal (d.result, plain));

  g_source_remove (timeout);
  g_bytes_unref (d.result);
  rdt_attachment_free (d.att);
  g_main_loop_unref (d.loop);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (rdt_crypto_init ());

  g_test_add_func ("/attachment/vector", test_vector);
  g_test_add_func ("/attachment/roundtrip", test_roundtrip);
  g_test_add_func ("/attachment/fresh-dek", test_fresh_dek);
  g_test_add_func ("/attachment/tampered", test_tampered);
  g_test_add_func ("/attachment/limit", test_limit);
  g_test_add_func ("/attachment/parse-strict", test_parse_strict);
  g_test_add_func ("/attachment/parse-lenient-fields",
                   test_parse_lenient_fields);
  g_test_add_func ("/attachment/sanitize", test_sanitize);
  g_test_add_func ("/attachment/async-10mb", test_async_10mb);
  return g_test_run ();
}
