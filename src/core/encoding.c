/* SPDX-License-Identifier: GPL-2.0-or-later */
/* encoding.c - strict base64 / base64url / hex on top of GLib.
 *
 * g_base64_decode() skips characters outside the alphabet and accepts
 * padding anywhere, so every input is fully validated here first; only a
 * string that is canonical base64 of the requested flavour reaches GLib.
 * Error messages never quote the input: it may be key material.
 */
#include "config.h"
#include "encoding.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include <sodium.h>

#include "error.h"

/* Value of a standard-alphabet base64 character, or -1. A table: this
 * runs over every signature and payload of every page. */
static const gint8 b64_values[256] = {
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
  -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
  -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
  41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static inline int
b64_value (gchar c)
{
  return b64_values[(guchar) c];
}

/* Validate padded standard base64 of length len (not NUL-terminated
 * necessarily) and return the decoded size through *decoded_len. */
static gboolean
validate_std (const gchar *text, gsize len, gsize *decoded_len,
              const gchar *what, GError **error)
{
  gsize pad = 0;
  gsize data_chars;
  gsize i;
  int last;

  if (len % 4 != 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                   _("Invalid %s: length %zu is not a multiple of 4"),
                   what, len);
      return FALSE;
    }
  if (len == 0)
    {
      *decoded_len = 0;
      return TRUE;
    }

  if (text[len - 1] == '=')
    pad++;
  if (len >= 2 && text[len - 2] == '=')
    {
      if (pad == 0)
        {
          g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                       _("Invalid %s: padding '=' is only allowed at the end"),
                       what);
          return FALSE;
        }
      pad++;
    }

  data_chars = len - pad;
  for (i = 0; i < data_chars; i++)
    {
      if (text[i] == '=')
        {
          g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                       _("Invalid %s: padding '=' is only allowed at the end"),
                       what);
          return FALSE;
        }
      if (b64_value (text[i]) < 0)
        {
          g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                       _("Invalid %s: character at position %zu is not in "
                         "the base64 alphabet"), what, i);
          return FALSE;
        }
    }

  /* Canonical form: the bits below the last full byte must be zero, so
   * that decoding and re-encoding gives back the same string (the string
   * is what gets hashed and signed). */
  last = pad > 0 ? b64_value (text[data_chars - 1]) : 0;
  if ((pad == 1 && (last & 0x03) != 0) || (pad == 2 && (last & 0x0f) != 0))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                   _("Invalid %s: non-canonical encoding (unused bits "
                     "before the padding are not zero)"), what);
      return FALSE;
    }

  *decoded_len = (len / 4) * 3 - pad;
  return TRUE;
}

/* Decode already validated standard base64 and check the length. */
static guint8 *
decode_validated (const gchar *std_text, gsize decoded_len,
                  gssize expected_len, gsize *out_len, const gchar *what,
                  GError **error)
{
  guint8 *out;
  gsize got = 0;

  if (expected_len >= 0 && decoded_len != (gsize) expected_len)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                   _("Invalid %s: decodes to %zu bytes, expected %zd"),
                   what, decoded_len, expected_len);
      return NULL;
    }

  if (decoded_len == 0)
    {
      /* A valid empty result is not NULL (NULL means error). */
      if (out_len)
        *out_len = 0;
      return g_malloc0 (1);
    }

  out = g_base64_decode (std_text, &got);
  /* Cannot happen after validation, but never trust that blindly. */
  if (out == NULL || got != decoded_len)
    {
      g_free (out);
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                   _("Invalid %s: decoding failed"), what);
      return NULL;
    }
  if (out_len)
    *out_len = got;
  return out;
}

gchar *
rdt_base64_encode (const guint8 *data, gsize len)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  if (len == 0)
    return g_strdup ("");
  return g_base64_encode (data, len);
}

guint8 *
rdt_base64_decode (const gchar *text, gssize expected_len, gsize *out_len,
                   GError **error)
{
  gsize decoded_len = 0;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (out_len)
    *out_len = 0;
  if (text == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                           _("Invalid base64: missing value"));
      return NULL;
    }
  if (!validate_std (text, strlen (text), &decoded_len, "base64", error))
    return NULL;
  return decode_validated (text, decoded_len, expected_len, out_len,
                           "base64", error);
}

guint8 *
rdt_base64_decode_lenient (const gchar *text, gssize expected_len,
                           gsize *out_len, GError **error)
{
  g_autoptr (GString) clean = NULL;
  guint quad = 0, pads = 0;
  gboolean padded = FALSE;
  const gchar *p;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (out_len)
    *out_len = 0;
  if (text == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                           _("Invalid base64: missing value"));
      return NULL;
    }
  /* Python's b64decode(validate=False), which the server runs: only the
   * characters of the alphabet count, and a padding that completes a
   * quantum ends the input. What is left is canonical-length base64 for
   * GLib; its unused low bits are ignored, as Python ignores them. */
  clean = g_string_sized_new (strlen (text) + 3);
  for (p = text; *p && !padded; p++)
    {
      if ((guchar) *p >= 0x80)
        {
          /* Python refuses a str with non-ASCII characters outright. */
          g_set_error_literal (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                               _("Invalid base64: non-ASCII character"));
          return NULL;
        }
      if (*p == '=')
        {
          if (quad >= 2 && quad + ++pads >= 4)
            padded = TRUE;
          continue;
        }
      if (b64_value (*p) < 0)
        continue;
      pads = 0;
      g_string_append_c (clean, *p);
      quad = (quad + 1) % 4;
    }
  if (quad == 1 || (quad != 0 && !padded))
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                           _("Invalid base64: incorrect padding"));
      return NULL;
    }
  while (clean->len % 4 != 0)
    g_string_append_c (clean, '=');
  return decode_validated (clean->str, clean->len / 4 * 3 - (4 - quad) % 4,
                           expected_len, out_len, "base64", error);
}

gboolean
rdt_base64_decode_exact (const gchar *text, guint8 *out, gsize out_len)
{
  guint8 buf[96];
  gsize decoded_len = 0, len, got;
  gint state = 0;
  guint save = 0;

  g_return_val_if_fail (out != NULL && out_len <= 64, FALSE);
  if (text == NULL)
    return FALSE;
  len = strlen (text);
  if (len != (out_len + 2) / 3 * 4 ||
      !validate_std (text, len, &decoded_len, "base64", NULL) ||
      decoded_len != out_len)
    return FALSE;
  got = g_base64_decode_step (text, len, buf, &state, &save);
  if (got != out_len)
    return FALSE;
  memcpy (out, buf, out_len);
  return TRUE;
}

gsize
rdt_base64url_encode_to (const guint8 *data, gsize len, gchar *out)
{
  gint state = 0, save = 0;
  gsize n, i;

  g_return_val_if_fail (out != NULL && (data != NULL || len == 0), 0);
  n = g_base64_encode_step (data, len, FALSE, out, &state, &save);
  n += g_base64_encode_close (FALSE, out + n, &state, &save);
  while (n > 0 && out[n - 1] == '=')
    n--;
  out[n] = '\0';
  for (i = 0; i < n; i++)
    {
      if (out[i] == '+')
        out[i] = '-';
      else if (out[i] == '/')
        out[i] = '_';
    }
  return n;
}

gchar *
rdt_base64url_encode (const guint8 *data, gsize len)
{
  gchar *s;
  gchar *p;
  gsize n;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  if (len == 0)
    return g_strdup ("");

  s = g_base64_encode (data, len);
  n = strlen (s);
  while (n > 0 && s[n - 1] == '=')
    s[--n] = '\0';
  for (p = s; *p; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
    }
  return s;
}

guint8 *
rdt_base64url_decode (const gchar *text, gssize expected_len, gsize *out_len,
                      GError **error)
{
  gsize len, std_len, i, decoded_len = 0;
  gchar *std;
  guint8 *out = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (out_len)
    *out_len = 0;
  if (text == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                           _("Invalid base64url: missing value"));
      return NULL;
    }

  len = strlen (text);
  if (len % 4 == 1)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                   _("Invalid base64url: impossible length %zu"),
                   len);
      return NULL;
    }

  /* Map to the standard alphabet; anything already in the standard-only
   * part ('+', '/', '=') is an error here, not something to tolerate. */
  std_len = len + (4 - len % 4) % 4;
  std = g_malloc (std_len + 1);
  for (i = 0; i < len; i++)
    {
      gchar c = text[i];

      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!g_ascii_isalnum (c))
        {
          if (c == '=')
            g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                         _("Invalid base64url: padding '=' is not allowed "
                           "(position %zu)"), i);
          else
            g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                         _("Invalid base64url: character at position %zu is "
                           "not in the URL-safe alphabet"), i);
          goto out;
        }
      std[i] = c;
    }
  for (; i < std_len; i++)
    std[i] = '=';
  std[std_len] = '\0';

  if (!validate_std (std, std_len, &decoded_len, "base64url", error))
    goto out;
  out = decode_validated (std, decoded_len, expected_len, out_len,
                          "base64url", error);

out:
  /* The text may be key material; sodium_memzero is not optimised away
   * like a memset before free can be. */
  sodium_memzero (std, std_len + 1);
  g_free (std);
  return out;
}

gchar *
rdt_hex_encode (const guint8 *data, gsize len)
{
  static const gchar digits[] = "0123456789abcdef";
  gchar *s;
  gsize i;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  s = g_malloc (len * 2 + 1);
  for (i = 0; i < len; i++)
    {
      s[2 * i] = digits[data[i] >> 4];
      s[2 * i + 1] = digits[data[i] & 0x0f];
    }
  s[len * 2] = '\0';
  return s;
}

gboolean
rdt_hex_decode (const gchar *text, guint8 *out, gsize out_len, GError **error)
{
  gsize len, i;

  g_return_val_if_fail (out != NULL || out_len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (text == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                           _("Invalid hex: missing value"));
      return FALSE;
    }
  len = strlen (text);
  if (len != out_len * 2)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                   _("Invalid hex: expected %zu characters, got %zu"),
                   out_len * 2, len);
      return FALSE;
    }
  for (i = 0; i < out_len; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]);
      int lo = g_ascii_xdigit_value (text[2 * i + 1]);

      if (hi < 0 || lo < 0)
        {
          memset (out, 0, out_len);
          g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64,
                       _("Invalid hex: character at position %zu is not a "
                         "hex digit"), hi < 0 ? 2 * i : 2 * i + 1);
          return FALSE;
        }
      out[i] = (guint8) ((hi << 4) | lo);
    }
  return TRUE;
}
