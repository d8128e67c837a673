/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-id.c - typed ids, topic ids, key parsing and the strict decoders.
 * Input: first byte selects the decoder, the rest is the text. Properties:
 * no crash, and anything that decodes re-encodes to the same text (the
 * decoders are strict, so there is exactly one accepted spelling; typed
 * ids up to their version bits). */
#include <string.h>
#include <glib.h>
#include "encoding.h"
#include "id.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (size < 1)
    return 0;
  guint8 sel = data[0];
  g_autofree gchar *text = g_strndup ((const gchar *) data + 1, size - 1);
  GError *error = NULL;

  switch (sel % 6)
    {
    case 0: {
      RdtIdType type;
      guint8 raw[RDT_ID_RAW_LENGTH];
      if (rdt_id_decode (text, &type, raw, &error))
        {
          g_autofree gchar *again = rdt_id_encode (type, raw + 1);
          /* Versions 1-3 are accepted (spec 1.2) but only 0 is produced:
           * then just the second character (version bits) differs. */
          if ((raw[0] & 3) == 0)
            g_assert_cmpstr (again, ==, text);
          else
            {
              g_assert_cmpint (again[0], ==, text[0]);
              g_assert_cmpstr (again + 2, ==, text + 2);
            }
          g_assert_true (rdt_id_is_valid (text, type));
          g_autofree gchar *s = rdt_id_short (text);
          g_assert_nonnull (s);
          g_autofree gchar *u = rdt_id_convert (text, RDT_ID_USER);
          if (u != NULL)
            g_assert_true (rdt_id_is_valid (u, RDT_ID_USER));
          guint8 pk[32];
          gboolean is_key = type == RDT_ID_SPACE || type == RDT_ID_USER
                            || type == RDT_ID_TOOL;
          g_assert_true (rdt_id_get_public_key (text, pk, NULL) == is_key);
        }
      else
        {
          g_assert_nonnull (error);
          g_clear_error (&error);
          g_assert_false (rdt_id_is_valid (text, RDT_ID_USER));
        }
      break;
    }
    case 1:
      if (rdt_topic_id_validate (text, &error))
        {
          gsize n = strlen (text);
          g_assert_cmpuint (n, >=, 2);
          g_assert_cmpuint (n, <=, 64);
        }
      else
        g_clear_error (&error);
      break;
    case 2: {
      guint8 key[32];
      if (!rdt_parse_key32 (text, key, &error))
        g_clear_error (&error);
      break;
    }
    case 3: {
      gsize n = 0;
      gssize expected = (size > 1 && (data[1] & 1)) ? 64 : -1;
      g_autofree guint8 *out = rdt_base64_decode (text, expected, &n, &error);
      if (out != NULL)
        {
          g_autofree gchar *again = rdt_base64_encode (out, n);
          g_assert_cmpstr (again, ==, text);
        }
      else
        g_clear_error (&error);
      break;
    }
    case 4: {
      gsize n = 0;
      g_autofree guint8 *out = rdt_base64url_decode (text, -1, &n, &error);
      if (out != NULL)
        {
          g_autofree gchar *again = rdt_base64url_encode (out, n);
          g_assert_cmpstr (again, ==, text);
        }
      else
        g_clear_error (&error);
      break;
    }
    case 5: {
      gsize len = strlen (text) / 2;
      g_autofree guint8 *out = g_malloc (len + 1);
      if (rdt_hex_decode (text, out, len, &error))
        {
          /* Decoding accepts either case; encoding is lowercase. */
          g_autofree gchar *again = rdt_hex_encode (out, len);
          g_assert_cmpint (g_ascii_strcasecmp (again, text), ==, 0);
        }
      else
        g_clear_error (&error);
      break;
    }
    }
  return 0;
}
