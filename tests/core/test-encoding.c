/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-encoding.c - strict base64 / base64url / hex (src/core/encoding.c). */
#include <string.h>

#include "encoding.h"
#include "error.h"

/* RFC 4648 section 10 vectors. */
static const struct {
  const gchar *plain;
  const gchar *b64;
  const gchar *b64url;
} rfc4648[] = {
  { "", "", "" },
  { "f", "Zg==", "Zg" },
  { "fo", "Zm8=", "Zm8" },
  { "foo", "Zm9v", "Zm9v" },
  { "foob", "Zm9vYg==", "Zm9vYg" },
  { "fooba", "Zm9vYmE=", "Zm9vYmE" },
  { "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

/* Appendix A: msg1 data is the standard base64 of the AES blob. */
#define A_BLOB_HEX "000102030405060708090a0b1796932bf332261cc245922ee1246bd292babf355075f5e372ec345c"
#define A_MSG1_DATA "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA=="
#define A_STATE_DATA "eyJ1c2VyX2lkIjogIlVJRTVkdzZvZlJkZlZxTlVac05NZnN6TGpZcVJ0TzQzb2wzMkQxdVB5Yk9VIn0="
#define A_STATE_JSON "{\"user_id\": \"UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU\"}"

static void
test_rfc4648 (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (rfc4648); i++)
    {
      const guint8 *p = (const guint8 *) rfc4648[i].plain;
      gsize plen = strlen (rfc4648[i].plain);
      g_autofree gchar *e1 = rdt_base64_encode (p, plen);
      g_autofree gchar *e2 = rdt_base64url_encode (p, plen);
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *d1 = NULL;
      g_autofree guint8 *d2 = NULL;
      gsize len = 99;

      g_assert_cmpstr (e1, ==, rfc4648[i].b64);
      g_assert_cmpstr (e2, ==, rfc4648[i].b64url);

      d1 = rdt_base64_decode (rfc4648[i].b64, -1, &len, &error);
      g_assert_no_error (error);
      g_assert_nonnull (d1);   /* even for empty input: NULL means error */
      g_assert_cmpmem (d1, len, p, plen);

      len = 99;
      d2 = rdt_base64url_decode (rfc4648[i].b64url, (gssize) plen, &len,
                                 &error);
      g_assert_no_error (error);
      g_assert_nonnull (d2);
      g_assert_cmpmem (d2, len, p, plen);
    }
}

static void
test_alphabets (void)
{
  static const guint8 bytes[] = { 0xfb, 0xff, 0xbf };
  g_autofree gchar *std = rdt_base64_encode (bytes, 2);
  g_autofree gchar *url = rdt_base64url_encode (bytes, 2);
  g_autofree gchar *std3 = rdt_base64_encode (bytes, 3);
  g_autofree gchar *url3 = rdt_base64url_encode (bytes, 3);
  g_autofree guint8 *d = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;

  g_assert_cmpstr (std, ==, "+/8=");
  g_assert_cmpstr (url, ==, "-_8");
  g_assert_cmpstr (std3, ==, "+/+/");
  g_assert_cmpstr (url3, ==, "-_-_");

  d = rdt_base64url_decode ("-_-_", 3, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (d, len, bytes, 3);
}

static void
test_appendix_a (void)
{
  g_autoptr(GError) error = NULL;
  guint8 blob[40];
  g_autofree guint8 *d = NULL;
  g_autofree guint8 *s = NULL;
  g_autofree gchar *e = NULL;
  g_autofree gchar *hex = NULL;
  gsize len = 0;

  g_assert_true (rdt_hex_decode (A_BLOB_HEX, blob, sizeof blob, &error));
  g_assert_no_error (error);
  hex = rdt_hex_encode (blob, sizeof blob);
  g_assert_cmpstr (hex, ==, A_BLOB_HEX);

  e = rdt_base64_encode (blob, sizeof blob);
  g_assert_cmpstr (e, ==, A_MSG1_DATA);
  d = rdt_base64_decode (A_MSG1_DATA, 40, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (d, len, blob, sizeof blob);

  s = rdt_base64_decode (A_STATE_DATA, -1, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (s, len, A_STATE_JSON, strlen (A_STATE_JSON));
}

static void
assert_b64_fails (const gchar *text, gssize expected_len, const gchar *part)
{
  g_autoptr(GError) error = NULL;
  gsize len = 1234;
  guint8 *d = rdt_base64_decode (text, expected_len, &len, &error);

  g_assert_null (d);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_assert_cmpuint (len, ==, 0);
  if (part)
    g_assert_nonnull (strstr (error->message, part));
  g_test_message ("%s -> %s", text ? text : "(null)", error->message);
}

static void
assert_b64url_fails (const gchar *text, gssize expected_len, const gchar *part)
{
  g_autoptr(GError) error = NULL;
  guint8 *d = rdt_base64url_decode (text, expected_len, NULL, &error);

  g_assert_null (d);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  if (part)
    g_assert_nonnull (strstr (error->message, part));
  g_test_message ("%s -> %s", text ? text : "(null)", error->message);
}

static void
test_base64_bad (void)
{
  assert_b64_fails (NULL, -1, "missing");
  /* length */
  assert_b64_fails ("Zg=", -1, "multiple of 4");
  assert_b64_fails ("Zm9vY", -1, "multiple of 4");
  assert_b64_fails ("Zg", -1, "multiple of 4");   /* unpadded is not std */
  /* padding */
  assert_b64_fails ("Zg=a", -1, "padding");
  assert_b64_fails ("Z===", -1, "padding");
  assert_b64_fails ("====", -1, "padding");
  assert_b64_fails ("=Zg=", -1, "padding");
  assert_b64_fails ("Zg==Zg==", -1, "padding");
  /* non-canonical trailing bits */
  assert_b64_fails ("Zh==", -1, "non-canonical");
  assert_b64_fails ("Zm9=", -1, "non-canonical");
  /* alphabet: URL-safe characters, whitespace, junk, NUL-free high bytes */
  assert_b64_fails ("-_8=", -1, "alphabet");
  assert_b64_fails ("Zm9v\nYmFy", -1, NULL);
  assert_b64_fails ("Zm9v YmF", -1, "position 4");
  assert_b64_fails ("Zm9v!A==", -1, "alphabet");
  assert_b64_fails ("Zm9v\xc3\xa9YQ==", -1, NULL);
  /* wrong decoded length */
  assert_b64_fails ("Zm9v", 4, "expected 4");
  assert_b64_fails ("Zm9vYg==", 3, "decodes to 4");
  assert_b64_fails (A_MSG1_DATA, 32, "decodes to 40");
}

static void
test_base64url_bad (void)
{
  assert_b64url_fails (NULL, -1, "missing");
  assert_b64url_fails ("Zg==", -1, "padding");
  assert_b64url_fails ("Zm8=", -1, "padding");
  assert_b64url_fails ("+/8", -1, "URL-safe alphabet");
  assert_b64url_fails ("ab/c", -1, "URL-safe alphabet");
  assert_b64url_fails ("Z", -1, "length");
  assert_b64url_fails ("Zm9vY", -1, "length");
  assert_b64url_fails ("Zh", -1, "non-canonical");
  assert_b64url_fails ("ab c", -1, "URL-safe alphabet");
  assert_b64url_fails ("Zm9v", 2, "expected 2");
}

static void
test_roundtrip (void)
{
  guint8 buf[300];
  gsize n, i;

  for (i = 0; i < sizeof buf; i++)
    buf[i] = (guint8) g_test_rand_int_range (0, 256);

  for (n = 0; n <= sizeof buf; n += (n < 40 ? 1 : 37))
    {
      g_autofree gchar *a = rdt_base64_encode (buf, n);
      g_autofree gchar *b = rdt_base64url_encode (buf, n);
      g_autofree guint8 *da = NULL;
      g_autofree guint8 *db = NULL;
      g_autoptr(GError) error = NULL;
      gsize la = 0, lb = 0;

      da = rdt_base64_decode (a, (gssize) n, &la, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (da, la, buf, n);
      db = rdt_base64url_decode (b, (gssize) n, &lb, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (db, lb, buf, n);
      g_assert_null (strchr (b, '='));
      g_assert_null (strchr (b, '+'));
      g_assert_null (strchr (b, '/'));
    }
}

static void
test_hex (void)
{
  static const guint8 bytes[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff };
  g_autofree gchar *s = rdt_hex_encode (bytes, sizeof bytes);
  g_autofree gchar *empty = rdt_hex_encode (NULL, 0);
  g_autoptr(GError) error = NULL;
  guint8 out[6];

  g_assert_cmpstr (s, ==, "0001abcdefff");
  g_assert_cmpstr (empty, ==, "");

  g_assert_true (rdt_hex_decode ("0001abcdefff", out, sizeof out, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out, sizeof out, bytes, sizeof bytes);
  memset (out, 0x55, sizeof out);
  g_assert_true (rdt_hex_decode ("0001ABCDEFFF", out, sizeof out, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out, sizeof out, bytes, sizeof bytes);
  g_assert_true (rdt_hex_decode ("", out, 0, &error));
  g_assert_no_error (error);

  /* wrong lengths */
  g_assert_false (rdt_hex_decode ("0001abcdeff", out, sizeof out, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_assert_nonnull (strstr (error->message, "expected 12"));
  g_clear_error (&error);
  g_assert_false (rdt_hex_decode ("0001abcdefff00", out, sizeof out, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_clear_error (&error);
  g_assert_false (rdt_hex_decode (NULL, out, sizeof out, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_clear_error (&error);

  /* non-hex characters; the output is wiped, not half-written */
  memset (out, 0x55, sizeof out);
  g_assert_false (rdt_hex_decode ("0001abcdefgf", out, sizeof out, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_assert_nonnull (strstr (error->message, "position 10"));
  g_clear_error (&error);
  for (gsize i = 0; i < sizeof out; i++)
    g_assert_cmpuint (out[i], ==, 0);
  g_assert_false (rdt_hex_decode ("0x01abcdefff", out, sizeof out, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_clear_error (&error);
  g_assert_false (rdt_hex_decode ("0001abcd ff ", out, sizeof out, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_clear_error (&error);
}

/* The server's lenient decoding (Python's base64.b64decode, as the real
 * server calls it for signatures). Expected values were produced by
 * CPython 3.11 itself; NULL = Python raised binascii.Error. */
static void
test_base64_lenient (void)
{
  static const struct { const gchar *in, *hex; } cases[] = {
    { "QUJD", "414243" },
    { "QUI=", "4142" },
    { "QQ==", "41" },
    { "QR==", "41" },                 /* unused bits ignored */
    { "QUJD\nREVG", "414243444546" }, /* junk dropped */
    { "QU JD", "414243" },
    { "QU-_JD", "414243" },           /* URL-safe characters are junk */
    { "=QUJD", "414243" },            /* a pad that completes nothing */
    { "QUJD=", "414243" },
    { "QUI=QUJD", "4142" },           /* a completing pad ends the input */
    { "QUJDQQ==x!", "41424341" },
    { "QQ=Q=", "4104" },
    { "QUJ=D", "4142" },
    { "YW Jj ZA = =", "61626364" },
    { "", "" },
    { "====", "" },
    { "QUJ", NULL },                  /* "Incorrect padding" */
    { "QQ", NULL },
    { "Q", NULL },                    /* one more than a multiple of 4 */
    { "Q===", NULL },
    { "QQ=Q", NULL },
    { "Q=Q=", NULL },
    { "QUJD\u00e9", NULL },           /* Python refuses non-ASCII str */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *out = NULL;
      g_autofree gchar *hex = NULL;
      gsize len = 99;

      out = rdt_base64_decode_lenient (cases[i].in, -1, &len, &error);
      if (cases[i].hex == NULL)
        {
          g_assert_null (out);
          g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
          continue;
        }
      g_assert_no_error (error);
      g_assert_nonnull (out);
      hex = rdt_hex_encode (out, len);
      g_assert_cmpstr (hex, ==, cases[i].hex);
    }

  /* expected_len is enforced */
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (rdt_base64_decode_lenient ("QU JD", 2, NULL, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  }
}

/* The allocation-free decoder takes canonical base64 of the exact size
 * only; everything else is left to the decoders that explain. */
static void
test_decode_exact (void)
{
  guint8 out[4], want[4] = { 'f', 'o', 'o', 'b' };
  g_autofree gchar *url = NULL;
  gchar buf[16];

  memset (out, 0xaa, sizeof out);
  g_assert_true (rdt_base64_decode_exact ("Zm9vYg==", out, 4));
  g_assert_cmpmem (out, 4, want, 4);
  memset (out, 0xaa, sizeof out);
  g_assert_false (rdt_base64_decode_exact ("Zm9vYh==", out, 4));  /* bits */
  g_assert_false (rdt_base64_decode_exact ("Zm9vYg=", out, 4));
  g_assert_false (rdt_base64_decode_exact ("Zm9v", out, 4));     /* 3 bytes */
  g_assert_false (rdt_base64_decode_exact ("Zm9v Yg==", out, 4));
  g_assert_false (rdt_base64_decode_exact ("Zm9vYg-_", out, 4));
  g_assert_false (rdt_base64_decode_exact (NULL, out, 4));
  g_assert_cmpuint (out[0], ==, 0xaa);
  url = rdt_base64url_encode ((const guint8 *) "\xfb\xff\xfe", 3);
  g_assert_cmpuint (rdt_base64url_encode_to ((const guint8 *) "\xfb\xff\xfe",
                                             3, buf), ==, 4);
  g_assert_cmpstr (buf, ==, url);
  g_assert_cmpstr (buf, ==, "-__-");
  g_assert_cmpuint (rdt_base64url_encode_to (want, 4, buf), ==, 6);
  g_assert_cmpstr (buf, ==, "Zm9vYg");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/encoding/base64/rfc4648", test_rfc4648);
  g_test_add_func ("/encoding/base64/decode-exact", test_decode_exact);
  g_test_add_func ("/encoding/base64/alphabets", test_alphabets);
  g_test_add_func ("/encoding/base64/appendix-a", test_appendix_a);
  g_test_add_func ("/encoding/base64/bad", test_base64_bad);
  g_test_add_func ("/encoding/base64/lenient", test_base64_lenient);
  g_test_add_func ("/encoding/base64url/bad", test_base64url_bad);
  g_test_add_func ("/encoding/base64/roundtrip", test_roundtrip);
  g_test_add_func ("/encoding/hex", test_hex);

  return g_test_run ();
}
