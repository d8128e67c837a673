/* SPDX-License-Identifier: GPL-2.0-or-later */
/* id.c - reeeductio typed identifiers (spec section 1) and topic ids
 * (spec section 9).
 *
 * Stricter than the server: only the URL-safe alphabet, no padding, exactly
 * 44 characters. Any version 0-3 is accepted on input as the server does,
 * but only version 0 is ever produced.
 */
#include "config.h"
#include "id.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "encoding.h"
#include "error.h"

static gboolean
type_is_known (guint type6)
{
  switch (type6)
    {
    case RDT_ID_BLOB:
    case RDT_ID_MESSAGE:
    case RDT_ID_SPACE:
    case RDT_ID_TOOL:
    case RDT_ID_USER:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
type_is_key (RdtIdType type)
{
  return type == RDT_ID_SPACE || type == RDT_ID_USER || type == RDT_ID_TOOL;
}

const gchar *
rdt_id_type_name (RdtIdType type)
{
  switch (type)
    {
    case RDT_ID_BLOB:
      return "blob";
    case RDT_ID_MESSAGE:
      return "message";
    case RDT_ID_SPACE:
      return "space";
    case RDT_ID_TOOL:
      return "tool";
    case RDT_ID_USER:
      return "user";
    default:
      return "unknown";
    }
}

void
rdt_id_encode_raw (RdtIdType type, const guint8 data[32],
                   guint8 raw_out[RDT_ID_RAW_LENGTH])
{
  g_return_if_fail (type_is_known (type));
  g_return_if_fail (data != NULL && raw_out != NULL);

  raw_out[0] = (guint8) (type << 2);   /* version 0 */
  memcpy (raw_out + 1, data, 32);
}

gchar *
rdt_id_encode (RdtIdType type, const guint8 data[32])
{
  guint8 raw[RDT_ID_RAW_LENGTH];

  g_return_val_if_fail (type_is_known (type), NULL);
  g_return_val_if_fail (data != NULL, NULL);

  rdt_id_encode_raw (type, data, raw);
  return rdt_base64url_encode (raw, sizeof raw);
}

/* Value of a base64url character, or -1. */
static const gint8 url_values[256] = {
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
  52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
  -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
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

/* 44 characters are 264 bits, exactly 33 bytes: no padding and no unused
 * bits, so any 44 characters of the alphabet are the canonical spelling
 * and decode here without an allocation (ids are decoded several times
 * per message of every page). FALSE sends anything else to the strict
 * decoder, which says what is wrong. */
static gboolean
decode_fast (const gchar *id, guint8 raw[RDT_ID_RAW_LENGTH])
{
  guint i, j;

  for (i = 0, j = 0; i < RDT_ID_LENGTH; i += 4, j += 3)
    {
      gint a = url_values[(guchar) id[i]];
      gint b = url_values[(guchar) id[i + 1]];
      gint c = url_values[(guchar) id[i + 2]];
      gint d = url_values[(guchar) id[i + 3]];

      if ((a | b | c | d) < 0)
        return FALSE;
      raw[j] = (guint8) (a << 2 | b >> 4);
      raw[j + 1] = (guint8) ((b & 0x0f) << 4 | c >> 2);
      raw[j + 2] = (guint8) ((c & 0x03) << 6 | d);
    }
  return TRUE;
}

gboolean
rdt_id_decode (const gchar *id, RdtIdType *type_out,
               guint8 raw_out[RDT_ID_RAW_LENGTH], GError **error)
{
  g_autoptr(GError) local = NULL;
  guint8 fast[RDT_ID_RAW_LENGTH];
  guint8 *raw;
  gsize len;
  guint type6;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (id == NULL || *id == '\0')
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                           _("Invalid identifier: empty"));
      return FALSE;
    }
  len = strlen (id);
  if (len != RDT_ID_LENGTH)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("Invalid identifier: must be %d characters, got %zu"),
                   RDT_ID_LENGTH, len);
      return FALSE;
    }

  if (decode_fast (id, fast))
    raw = fast;
  else
    raw = rdt_base64url_decode (id, RDT_ID_RAW_LENGTH, NULL, &local);
  if (raw == NULL)
    {
      /* "Invalid base64url: ..." -> "Invalid identifier: ..." */
      const gchar *detail = strchr (local->message, ':');

      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("Invalid identifier:%s"),
                   detail ? detail + 1 : local->message);
      return FALSE;
    }

  type6 = raw[0] >> 2;
  if (!type_is_known (type6))
    {
      if (raw != fast)
        g_free (raw);
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("Invalid identifier: unknown identifier type %u"), type6);
      return FALSE;
    }

  if (type_out)
    *type_out = (RdtIdType) type6;
  if (raw_out)
    memcpy (raw_out, raw, RDT_ID_RAW_LENGTH);
  if (raw != fast)
    g_free (raw);
  return TRUE;
}

gboolean
rdt_id_decode_typed (const gchar *id, RdtIdType expected, guint8 data_out[32],
                     GError **error)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  RdtIdType type;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!rdt_id_decode (id, &type, raw, error))
    return FALSE;
  if (type != expected)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("Invalid identifier: expected a %s id, got a %s id"),
                   rdt_id_type_name (expected), rdt_id_type_name (type));
      return FALSE;
    }
  if (data_out)
    memcpy (data_out, raw + 1, 32);
  return TRUE;
}

gboolean
rdt_id_get_public_key (const gchar *id, guint8 pk_out[32], GError **error)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  RdtIdType type;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!rdt_id_decode (id, &type, raw, error))
    return FALSE;
  if (!type_is_key (type))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("Invalid identifier: a %s id does not hold a public key"),
                   rdt_id_type_name (type));
      return FALSE;
    }
  if (pk_out)
    memcpy (pk_out, raw + 1, 32);
  return TRUE;
}

gboolean
rdt_id_is_valid (const gchar *id, RdtIdType expected)
{
  return rdt_id_decode_typed (id, expected, NULL, NULL);
}

gchar *
rdt_id_short (const gchar *id)
{
  if (id == NULL)
    return g_strdup ("");
  /* Display only; bytes beyond the first 9 are simply not shown. */
  return g_strndup (id, 9);
}

gchar *
rdt_id_convert (const gchar *id, RdtIdType to)
{
  guint8 pk[32];

  if (!type_is_key (to))
    return NULL;
  if (!rdt_id_get_public_key (id, pk, NULL))
    return NULL;
  return rdt_id_encode (to, pk);
}

static gboolean
topic_char_is_alnum (gchar c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

gboolean
rdt_topic_id_validate (const gchar *topic_id, GError **error)
{
  gsize len, i;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  len = topic_id ? strlen (topic_id) : 0;
  if (len < 2 || len > 64)
    goto bad;
  if (!topic_char_is_alnum (topic_id[0])
      || !topic_char_is_alnum (topic_id[len - 1]))
    goto bad;
  for (i = 1; i + 1 < len; i++)
    {
      gchar c = topic_id[i];

      if (!topic_char_is_alnum (c) && c != '-' && c != '_')
        goto bad;
    }
  return TRUE;

bad:
  g_set_error_literal (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                       _("Invalid topic_id format. Must be 2-64 characters, "
                         "lowercase letters, digits, '-' or '_', starting "
                         "and ending with a letter or digit"));
  return FALSE;
}
