/* SPDX-License-Identifier: GPL-2.0-or-later */
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

  /* Altered bytes: the GCM tag refuses them, whatever id the descriptor
   * names. (That they no longer hash to the id is the download's check:
   * rdt_api_get_blob_async, tests/net/test-api.c.) */
  plain = rdt_attachment_decrypt (att, bad, &error);
  g_assert_null (plain);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_DECRYPT);
  g_clear_error (&error);
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
    /* U+202E RIGHT-TO-LEFT OVERRIDE: "evil<RLO>gpj.exe" shows as
     * "evilexe.jpg" */
    { "evil" "\xe2\x80\xae" "gpj.exe", "evil_gpj.exe" },
    /* the other bidi controls: LRE RLE PDF LRO, LRI RLI FSI PDI, LRM RLM */
    { "a" "\xe2\x80\xaa" "b" "\xe2\x80\xab" "c" "\xe2\x80\xac" "d"
      "\xe2\x80\xad" "e", "a_b_c_d_e" },
    { "a" "\xe2\x81\xa6" "b" "\xe2\x81\xa7" "c" "\xe2\x81\xa8" "d"
      "\xe2\x81\xa9" "e", "a_b_c_d_e" },
    { "a" "\xe2\x80\x8e" "b" "\xe2\x80\x8f" "c", "a_b_c" },
    /* zero-width space, non-joiner, joiner, BOM, soft hyphen, Arabic
     * letter mark */
    { "in" "\xe2\x80\x8b" "voice.pdf", "in_voice.pdf" },
    { "a" "\xe2\x80\x8c" "b" "\xe2\x80\x8d" "c" "\xef\xbb\xbf" "d"
      "\xc2\xad" "e", "a_b_c_d_e" },
    { "a" "\xd8\x9c" "b", "a_b" },
    /* line and paragraph separators, NEL (a C1 control) */
    { "line" "\xe2\x80\xa8" "two" "\xe2\x80\xa9" "three" "\xc2\x85"
      "four", "line_two_three_four" },
    /* a format character cannot hide a leading dot either */
    { "\xe2\x80\x8b" ".bashrc", "_.bashrc" },
    /* ordinary non-ASCII text stays */
    { "Übersicht – März 日本.pdf", "Übersicht – März 日本.pdf" },
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

/* The descriptor JSON: the DEK spliced in once, as hex, next to what
 * json-glib built (escaped); the whole thing parses back. */
static void
test_json_dek_splice (void)
{
  g_autoptr (RdtAttachment) att = NULL;
  g_autoptr (RdtAttachment) back = NULL;
  g_autoptr (GBytes) blob = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *hex = NULL;
  g_autofree gchar *expect = NULL;
  gchar *json;
  const gchar *p;
  guint n = 0;
  gsize jlen;

  blob = rdt_attachment_encrypt ((const guint8 *) "abc", 3, 0, &att, NULL);
  att->filename = g_strdup ("a \"quoted\" \xc3\xbc name.txt");
  att->content_type = g_strdup ("text/plain");
  json = rdt_attachment_to_json (att, &jlen);
  g_assert_cmpuint (jlen, ==, strlen (json));
  hex = rdt_hex_encode (att->dek, 32);
  expect = g_strdup_printf ("{\"dek\":\"%s\",\"blob_id\":\"%s\",", hex,
                            att->blob_id);
  g_assert_true (g_str_has_prefix (json, expect));
  g_assert_true (g_str_has_suffix (json, "}"));
  for (p = json; (p = strstr (p, hex)) != NULL; p++)
    n++;
  g_assert_cmpuint (n, ==, 1);
  g_assert_nonnull (strstr (json, "\"filename\":\"a \\\"quoted\\\" "));
  back = rdt_attachment_parse ((const guint8 *) json, jlen, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (back->dek, 32, att->dek, 32);
  g_assert_cmpstr (back->blob_id, ==, att->blob_id);
  g_assert_cmpstr (back->filename, ==, "a _quoted_ \xc3\xbc name.txt");
  g_assert_cmpuint (back->size, ==, 3);
  rdt_wipe (json, jlen);
  g_free (json);
}

/* ---- image sniffing ---- */

static GBytes *
png_header (guint32 w, guint32 h)
{
  guint8 b[33] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                   0, 0, 0, 13, 'I', 'H', 'D', 'R' };

  b[16] = w >> 24; b[17] = w >> 16; b[18] = w >> 8; b[19] = w;
  b[20] = h >> 24; b[21] = h >> 16; b[22] = h >> 8; b[23] = h;
  b[24] = 8; b[25] = 6;   /* 8-bit RGBA */
  return g_bytes_new (b, sizeof b);
}

static const guint8 jpeg_640x480[] = {
  0xff, 0xd8,                                     /* SOI */
  0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0,  /* APP0, 16 bytes */
  1, 1, 0, 0, 1, 0, 1, 0, 0,
  0xff, 0xff,                                     /* fill bytes */
  0xff, 0xdb, 0x00, 0x04, 0, 0,                   /* DQT (cut short) */
  0xff, 0xc2, 0x00, 0x11, 8, 0x01, 0xe0, 0x02, 0x80, 3,   /* SOF2 */
  1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
  0xff, 0xda,                                     /* SOS */
};

static const guint8 gif_1x2[] = {
  'G', 'I', 'F', '8', '9', 'a', 1, 0, 2, 0, 0x80, 0, 0
};

static const guint8 webp_vp8[30] = {
  'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' ',
  10, 0, 0, 0, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x20, 0x03, 0x58, 0x02
};   /* 800 x 600 */

static const guint8 webp_vp8l[25] = {
  'R', 'I', 'F', 'F', 17, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L',
  5, 0, 0, 0, 0x2f, 0x63, 0x40, 0x1e, 0x00
};   /* (0x63 + 1) x ((0x1e40 >> 6 & 0x3fff) + 1) = 100 x 122 */

static const guint8 webp_vp8x[30] = {
  'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X',
  10, 0, 0, 0, 0x10, 0, 0, 0, 0xff, 0x0f, 0x00, 0x37, 0x00, 0x00
};   /* 4096 x 56 */

static const guint8 bmp_topdown[26] = {
  'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0,
  0x20, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff
};   /* 32 x -16 */

static void
expect_sniff (const guint8 *data, gsize len, const gchar *type,
              guint32 w, guint32 h)
{
  guint32 gw = 0, gh = 0;

  g_assert_cmpstr (rdt_attachment_sniff_image (data, len, &gw, &gh), ==,
                   type);
  if (type != NULL)
    {
      g_assert_cmpuint (gw, ==, w);
      g_assert_cmpuint (gh, ==, h);
    }
}

static void
test_sniff (void)
{
  g_autoptr (GBytes) png = png_header (640, 480);
  gsize plen;
  const guint8 *p = g_bytes_get_data (png, &plen);
  guint8 jpeg_bad[sizeof jpeg_640x480];

  expect_sniff (p, plen, "image/png", 640, 480);
  expect_sniff (jpeg_640x480, sizeof jpeg_640x480, "image/jpeg", 640, 480);
  expect_sniff (gif_1x2, sizeof gif_1x2, "image/gif", 1, 2);
  expect_sniff (webp_vp8, sizeof webp_vp8, "image/webp", 800, 600);
  expect_sniff (webp_vp8l, sizeof webp_vp8l, "image/webp", 100, 122);
  expect_sniff (webp_vp8x, sizeof webp_vp8x, "image/webp", 4096, 56);
  expect_sniff (bmp_topdown, sizeof bmp_topdown, "image/bmp", 32, 16);

  /* Cut short, not an image, or a broken header: nothing. */
  expect_sniff (p, 23, NULL, 0, 0);
  expect_sniff (NULL, 0, NULL, 0, 0);
  expect_sniff ((const guint8 *) "hello, world", 12, NULL, 0, 0);
  expect_sniff ((const guint8 *) "<svg xmlns='http://www.w3.org/2000/svg'/>",
                41, NULL, 0, 0);
  expect_sniff (jpeg_640x480, 30, NULL, 0, 0);        /* ends before SOF */
  memcpy (jpeg_bad, jpeg_640x480, sizeof jpeg_bad);
  jpeg_bad[5] = 0xff;                                 /* APP0 runs past end */
  expect_sniff (jpeg_bad, sizeof jpeg_bad, NULL, 0, 0);
  memcpy (jpeg_bad, jpeg_640x480, sizeof jpeg_bad);
  jpeg_bad[29] = 0xda;                                /* scan before SOF */
  expect_sniff (jpeg_bad, sizeof jpeg_bad, NULL, 0, 0);
  expect_sniff (webp_vp8, 29, NULL, 0, 0);
  {
    guint8 bmp[26];

    memcpy (bmp, bmp_topdown, sizeof bmp);
    bmp[22] = 0; bmp[23] = 0; bmp[24] = 0; bmp[25] = 0x80;   /* INT32_MIN */
    expect_sniff (bmp, sizeof bmp, NULL, 0, 0);
  }
}

static void
expect_image (GBytes *data, const gchar *type, gboolean ok)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);

  g_assert_cmpint (rdt_attachment_check_image (p, len, type, &error), ==, ok);
  if (ok)
    g_assert_no_error (error);
  else
    {
      g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
      g_test_message ("refused as %s: %s", type, error->message);
    }
}

static void
test_check_image (void)
{
  g_autoptr (GBytes) png = png_header (640, 480);
  g_autoptr (GBytes) jpeg = g_bytes_new_static (jpeg_640x480,
                                                sizeof jpeg_640x480);
  g_autoptr (GBytes) gif = g_bytes_new_static (gif_1x2, sizeof gif_1x2);
  g_autoptr (GBytes) text = g_bytes_new_static ("not an image at all, "
                                                "just text", 30);

  expect_image (png, "image/png", TRUE);
  expect_image (jpeg, "image/jpeg", TRUE);
  expect_image (gif, "image/gif", TRUE);
  /* the magic bytes must be the declared type's */
  expect_image (png, "image/jpeg", FALSE);
  expect_image (jpeg, "image/png", FALSE);
  expect_image (gif, "image/webp", FALSE);
  expect_image (png, NULL, FALSE);
  expect_image (text, "image/png", FALSE);
  /* absurd dimensions: 0, over 65535 a side, over 50 megapixels */
  {
    const struct { guint32 w, h; gboolean ok; } dims[] = {
      { 1, 1, TRUE }, { 7071, 7071, TRUE }, { 65535, 700, TRUE },
      { 7072, 7072, FALSE }, { 0, 10, FALSE }, { 10, 0, FALSE },
      { 65536, 1, FALSE }, { 1, 1000000, FALSE },
      { 0xffffffff, 0xffffffff, FALSE },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (dims); i++)
      {
        g_autoptr (GBytes) b = png_header (dims[i].w, dims[i].h);
        expect_image (b, "image/png", dims[i].ok);
      }
  }
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
  g_test_message ("decrypt 10 MB: %.1f ms", (t1 - t0) / 1000.0);
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
  g_test_add_func ("/attachment/json-dek-splice", test_json_dek_splice);
  g_test_add_func ("/attachment/sniff", test_sniff);
  g_test_add_func ("/attachment/check-image", test_check_image);
  g_test_add_func ("/attachment/async-10mb", test_async_10mb);
  return g_test_run ();
}
