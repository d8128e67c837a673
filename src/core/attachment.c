/* SPDX-License-Identifier: GPL-2.0-or-later */
/* attachment.c - see attachment.h */
#include "config.h"
#include "attachment.h"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

/* Bounds on what another member may claim about an image. */
#define MAX_DIMENSION 65535
#define MAX_CONTENT_TYPE 127

RdtAttachment *
rdt_attachment_new (void)
{
  return g_new0 (RdtAttachment, 1);
}

void
rdt_attachment_free (RdtAttachment *att)
{
  if (att == NULL)
    return;
  g_free (att->blob_id);
  if (att->dek != NULL)
    rdt_secret_free (att->dek);
  g_free (att->filename);
  g_free (att->content_type);
  g_free (att);
}

RdtAttachment *
rdt_attachment_copy (const RdtAttachment *att)
{
  RdtAttachment *c = rdt_attachment_new ();

  c->blob_id = g_strdup (att->blob_id);
  if (att->dek != NULL)
    {
      c->dek = rdt_secret_alloc (RDT_KEY_LENGTH);
      memcpy (c->dek, att->dek, RDT_KEY_LENGTH);
    }
  c->filename = g_strdup (att->filename);
  c->content_type = g_strdup (att->content_type);
  c->size = att->size;
  c->width = att->width;
  c->height = att->height;
  return c;
}

gboolean
rdt_attachment_type_is_attachment (const gchar *type)
{
  return g_strcmp0 (type, RDT_ATTACHMENT_TYPE_FILE) == 0
      || g_strcmp0 (type, RDT_ATTACHMENT_TYPE_IMAGE) == 0;
}

gboolean
rdt_attachment_is_image (const RdtAttachment *att)
{
  static const gchar *const inline_types[] = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", NULL
  };

  if (att == NULL || att->content_type == NULL)
    return FALSE;
  return g_strv_contains (inline_types, att->content_type);
}

/* Characters a name must not carry even where they are valid text: bidi
 * overrides and isolates (U+202A..U+202E, U+2066..U+2069: "evil" U+202E
 * "gpj.exe" shows as "evilexe.jpg"), zero-width and other format
 * characters (Cf), line and paragraph separators, and the controls. */
static gboolean
unsafe_in_name (gunichar c)
{
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
    case G_UNICODE_SURROGATE:
      return TRUE;
    default:
      return c == ':' || c == '*' || c == '?' || c == '"' || c == '<'
             || c == '>' || c == '|';
    }
}

gchar *
rdt_attachment_sanitize_filename (const gchar *name)
{
  const gchar *base;
  GString *out;
  gchar *valid;
  const gchar *p;

  if (name == NULL)
    return g_strdup ("attachment");

  /* Both separators: the sender may be on Windows, the reader on Unix. */
  base = name;
  for (p = name; *p != '\0'; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;

  valid = g_utf8_make_valid (base, -1);
  out = g_string_new (NULL);
  for (p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      /* No leading dots: no hidden files, no "..". */
      if (out->len == 0 && (c == '.' || g_unichar_isspace (c)))
        continue;
      if (unsafe_in_name (c))
        c = '_';
      if (out->len + g_unichar_to_utf8 (c, NULL) > RDT_ATTACHMENT_MAX_FILENAME)
        break;
      g_string_append_unichar (out, c);
    }
  g_free (valid);

  /* Trailing blanks and dots confuse some file systems. */
  while (out->len > 0 && (out->str[out->len - 1] == ' '
                          || out->str[out->len - 1] == '.'))
    g_string_truncate (out, out->len - 1);

  if (out->len == 0)
    g_string_assign (out, "attachment");
  return g_string_free (out, FALSE);
}

/* "type/subtype" of token characters, lowercased; NULL if not that. */
static gchar *
normalize_content_type (const gchar *ct)
{
  const gchar *p;
  guint slashes = 0;

  if (ct == NULL || *ct == '\0' || strlen (ct) > MAX_CONTENT_TYPE)
    return NULL;
  for (p = ct; *p != '\0'; p++)
    {
      if (*p == '/')
        slashes++;
      else if (!g_ascii_isalnum (*p) && strchr ("!#$&^_.+-", *p) == NULL)
        return NULL;
    }
  if (slashes != 1 || ct[0] == '/' || ct[strlen (ct) - 1] == '/')
    return NULL;
  return g_ascii_strdown (ct, -1);
}

gchar *
rdt_attachment_guess_content_type (const gchar *filename,
                                   const guint8 *data, gsize len)
{
  g_autofree gchar *ct = NULL;
  g_autofree gchar *mime = NULL;
  gboolean uncertain = FALSE;
  gchar *norm;

  ct = g_content_type_guess (filename, data, len, &uncertain);
  mime = ct != NULL ? g_content_type_get_mime_type (ct) : NULL;
  norm = normalize_content_type (mime);
  return norm != NULL ? norm : g_strdup ("application/octet-stream");
}

gchar *
rdt_attachment_to_json (const RdtAttachment *att, gsize *len_out)
{
  static const gchar hexdigits[] = "0123456789abcdef";
  static const gchar dek_member[] = "{\"dek\":\"";
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *rest = NULL;
  gsize rest_len, len, at;
  gchar *json;

  g_return_val_if_fail (att != NULL && att->blob_id != NULL
                        && att->dek != NULL, NULL);

  /* json-glib never sees the DEK: its builder nodes and generator buffers
   * are freed without wiping. Everything else is built by json-glib (it
   * escapes the file name); the DEK is spliced in below, into the one
   * buffer the caller wipes. */
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "blob_id");
  json_builder_add_string_value (b, att->blob_id);
  json_builder_set_member_name (b, "filename");
  json_builder_add_string_value (b, att->filename != NULL
                                    ? att->filename : "attachment");
  json_builder_set_member_name (b, "content_type");
  json_builder_add_string_value (b, att->content_type != NULL
                                    ? att->content_type
                                    : "application/octet-stream");
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) att->size);
  if (att->width > 0 && att->height > 0)
    {
      json_builder_set_member_name (b, "width");
      json_builder_add_int_value (b, att->width);
      json_builder_set_member_name (b, "height");
      json_builder_add_int_value (b, att->height);
    }
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  rest = json_generator_to_data (gen, &rest_len);
  /* "{...}" with at least blob_id in it: drop the '{', keep the rest. */
  g_assert (rest_len > 2 && rest[0] == '{');

  /* {"dek":"<64 hex>",  +  "blob_id":...} */
  len = (sizeof dek_member - 1) + 2 * RDT_KEY_LENGTH + 2 + (rest_len - 1);
  json = g_malloc (len + 1);
  at = sizeof dek_member - 1;
  memcpy (json, dek_member, at);
  for (gsize i = 0; i < RDT_KEY_LENGTH; i++)
    {
      json[at++] = hexdigits[att->dek[i] >> 4];
      json[at++] = hexdigits[att->dek[i] & 0x0f];
    }
  json[at++] = '"';
  json[at++] = ',';
  memcpy (json + at, rest + 1, rest_len - 1);
  at += rest_len - 1;
  json[at] = '\0';
  g_assert (at == len);
  if (len_out != NULL)
    *len_out = len;
  return json;
}

/* Optional non-negative integer member; FALSE on a wrong type or range. */
static gboolean
get_uint_member (JsonObject *obj, const gchar *name, guint64 max,
                 guint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (obj, name);
  gint64 v;

  *out = 0;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_INT64)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("Attachment field \"%s\" is not an integer"), name);
      return FALSE;
    }
  v = json_node_get_int (n);
  if (v < 0 || (guint64) v > max)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("Attachment field \"%s\" is out of range"), name);
      return FALSE;
    }
  *out = (guint64) v;
  return TRUE;
}

/* Optional string member; NULL member -> *out NULL. */
static gboolean
get_string_member (JsonObject *obj, const gchar *name, const gchar **out,
                   GError **error)
{
  JsonNode *n = json_object_get_member (obj, name);

  *out = NULL;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("Attachment field \"%s\" is not a string"), name);
      return FALSE;
    }
  *out = json_node_get_string (n);
  return TRUE;
}

/* The fields of a descriptor object; NULL with error set. */
static RdtAttachment *
parse_object (JsonObject *obj, GError **error)
{
  g_autoptr (RdtAttachment) att = NULL;
  const gchar *blob_id, *dek, *filename, *ct;
  guint64 size, width, height;

  if (!get_string_member (obj, "blob_id", &blob_id, error)
      || !get_string_member (obj, "dek", &dek, error)
      || !get_string_member (obj, "filename", &filename, error)
      || !get_string_member (obj, "content_type", &ct, error)
      || !get_uint_member (obj, "size", RDT_ATTACHMENT_MAX_PLAINTEXT,
                           &size, error)
      || !get_uint_member (obj, "width", MAX_DIMENSION, &width, error)
      || !get_uint_member (obj, "height", MAX_DIMENSION, &height, error))
    return NULL;

  if (blob_id == NULL || dek == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("Attachment descriptor lacks blob_id or dek"));
      return NULL;
    }
  if (!rdt_id_decode_typed (blob_id, RDT_ID_BLOB, NULL, error))
    return NULL;

  att = rdt_attachment_new ();
  att->blob_id = g_strdup (blob_id);
  att->dek = rdt_secret_alloc (RDT_KEY_LENGTH);
  /* Hex per the spec's file.upload shape; rdt_parse_key32 also takes
   * base64 of 32 bytes, which other clients might send. */
  if (!rdt_parse_key32 (dek, att->dek, NULL))
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                           _("Attachment key (dek) is not 32 bytes of hex"));
      return NULL;
    }
  att->filename = rdt_attachment_sanitize_filename (filename);
  att->content_type = normalize_content_type (ct);
  if (att->content_type == NULL)
    att->content_type = g_strdup ("application/octet-stream");
  att->size = size;
  att->width = (guint) width;
  att->height = (guint) height;
  return g_steal_pointer (&att);
}

/* The parser's copy of the DEK string is freed with the parser, unwiped;
 * wipe it in place first. (json-glib's scanner also had the token in a
 * buffer of its own while parsing: that copy is out of reach.) */
static void
wipe_string_member (JsonObject *obj, const gchar *name)
{
  JsonNode *n = json_object_get_member (obj, name);
  gchar *str;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return;
  str = (gchar *) json_node_get_string (n);
  if (str != NULL)
    rdt_wipe (str, strlen (str));
}

RdtAttachment *
rdt_attachment_parse (const guint8 *payload, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  RdtAttachment *att;
  JsonNode *root;
  JsonObject *obj;

  if (payload == NULL || len == 0 || len > RDT_ATTACHMENT_MAX_DESCRIPTOR)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("Attachment descriptor is empty or too large (%zu "
                     "bytes)"), len);
      return NULL;
    }
  if (!g_utf8_validate ((const gchar *) payload, len, NULL))
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("Attachment descriptor is not UTF-8"));
      return NULL;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const gchar *) payload, len,
                                   &local))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("Attachment descriptor is not JSON: %s"), local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("Attachment descriptor is not a JSON object"));
      return NULL;
    }
  obj = json_node_get_object (root);
  att = parse_object (obj, error);
  wipe_string_member (obj, "dek");
  return att;
}

GBytes *
rdt_attachment_encrypt (const guint8 *plaintext, gsize len,
                        guint64 max_plaintext, RdtAttachment **att_out,
                        GError **error)
{
  g_autoptr (RdtAttachment) att = NULL;
  guint8 digest[RDT_SHA256_LENGTH];
  GBytes *blob;
  gsize blen;
  const guint8 *bdata;

  if (max_plaintext == 0 || max_plaintext > RDT_ATTACHMENT_MAX_PLAINTEXT)
    max_plaintext = RDT_ATTACHMENT_MAX_PLAINTEXT;
  if ((guint64) len > max_plaintext)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("File is too large to send (%zu bytes, limit %"
                     PRIu64 " bytes)"),
                   len, max_plaintext);
      return NULL;
    }

  att = rdt_attachment_new ();
  att->dek = rdt_secret_alloc (RDT_KEY_LENGTH);
  rdt_random_bytes (att->dek, RDT_KEY_LENGTH);
  blob = rdt_aes_gcm_encrypt (att->dek, plaintext, len, NULL);
  bdata = g_bytes_get_data (blob, &blen);
  rdt_sha256 (bdata, blen, digest);
  att->blob_id = rdt_id_encode (RDT_ID_BLOB, digest);
  att->size = len;
  if (att_out != NULL)
    *att_out = g_steal_pointer (&att);
  return blob;
}

GBytes *
rdt_attachment_decrypt (const RdtAttachment *att, GBytes *blob,
                        GError **error)
{
  const guint8 *data;
  gsize len;
  GBytes *plain;

  g_return_val_if_fail (att != NULL && att->dek != NULL && blob != NULL,
                        NULL);

  /* That the bytes hash to att->blob_id was checked once, by the download
   * (rdt_api_get_blob_async, in a worker thread): hashing up to 100 MB
   * again here would only double the time. The GCM tag below still
   * refuses any byte changed since the sender encrypted it. */
  data = g_bytes_get_data (blob, &len);
  plain = rdt_aes_gcm_decrypt (att->dek, data, len, error);
  if (plain == NULL)
    return NULL;
  if (att->size != 0 && g_bytes_get_size (plain) != att->size)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The file is %zu bytes, but the sender announced %"
                     PRIu64),
                   g_bytes_get_size (plain), att->size);
      g_bytes_unref (plain);
      return NULL;
    }
  return plain;
}

/* ---- image sniffing ---- */

static guint32
be16 (const guint8 *p)
{
  return ((guint32) p[0] << 8) | p[1];
}

static guint32
be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16)
         | ((guint32) p[2] << 8) | p[3];
}

static guint32
le16 (const guint8 *p)
{
  return ((guint32) p[1] << 8) | p[0];
}

static guint32
le24 (const guint8 *p)
{
  return ((guint32) p[2] << 16) | ((guint32) p[1] << 8) | p[0];
}

static guint32
le32 (const guint8 *p)
{
  return ((guint32) p[3] << 24) | ((guint32) p[2] << 16)
         | ((guint32) p[1] << 8) | p[0];
}

/* JPEG: walk the marker segments up to the first start-of-frame, which
 * holds the dimensions. FALSE if the stream ends (or the scan starts)
 * before one. */
static gboolean
jpeg_size (const guint8 *d, gsize len, guint32 *w, guint32 *h)
{
  gsize i = 2;

  while (i + 1 < len)
    {
      guint8 m;
      guint32 seg;

      if (d[i] != 0xff)
        return FALSE;
      while (i < len && d[i] == 0xff)   /* fill bytes */
        i++;
      if (i >= len)
        return FALSE;
      m = d[i++];
      if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
        continue;                       /* no length */
      if (m == 0xd8 || m == 0xd9 || m == 0xda)
        return FALSE;                   /* SOI again, EOI, scan: no SOF */
      if (i + 2 > len)
        return FALSE;
      seg = be16 (d + i);
      if (seg < 2 || i + seg > len)
        return FALSE;
      /* SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc) */
      if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc)
        {
          if (seg < 7)
            return FALSE;
          *h = be16 (d + i + 3);
          *w = be16 (d + i + 5);
          return TRUE;
        }
      i += seg;
    }
  return FALSE;
}

const gchar *
rdt_attachment_sniff_image (const guint8 *d, gsize len,
                            guint32 *width, guint32 *height)
{
  static const guint8 png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n',
                                     0x1a, '\n' };
  guint32 w = 0, h = 0;
  const gchar *type = NULL;

  if (d == NULL)
    len = 0;
  if (len >= 24 && memcmp (d, png_sig, 8) == 0
      && memcmp (d + 12, "IHDR", 4) == 0)
    {
      type = "image/png";
      w = be32 (d + 16);
      h = be32 (d + 20);
    }
  else if (len >= 4 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
    {
      if (jpeg_size (d, len, &w, &h))
        type = "image/jpeg";
    }
  else if (len >= 10 && (memcmp (d, "GIF87a", 6) == 0
                         || memcmp (d, "GIF89a", 6) == 0))
    {
      type = "image/gif";
      w = le16 (d + 6);
      h = le16 (d + 8);
    }
  else if (len >= 16 && memcmp (d, "RIFF", 4) == 0
           && memcmp (d + 8, "WEBP", 4) == 0)
    {
      if (len >= 30 && memcmp (d + 12, "VP8 ", 4) == 0
          && d[23] == 0x9d && d[24] == 0x01 && d[25] == 0x2a)
        {
          type = "image/webp";
          w = le16 (d + 26) & 0x3fff;
          h = le16 (d + 28) & 0x3fff;
        }
      else if (len >= 25 && memcmp (d + 12, "VP8L", 4) == 0
               && d[20] == 0x2f)
        {
          guint32 bits = le32 (d + 21);

          type = "image/webp";
          w = (bits & 0x3fff) + 1;
          h = ((bits >> 14) & 0x3fff) + 1;
        }
      else if (len >= 30 && memcmp (d + 12, "VP8X", 4) == 0)
        {
          type = "image/webp";
          w = le24 (d + 24) + 1;
          h = le24 (d + 27) + 1;
        }
    }
  else if (len >= 26 && d[0] == 'B' && d[1] == 'M')
    {
      guint32 dib = le32 (d + 14);

      if (dib == 12)
        {
          type = "image/bmp";
          w = le16 (d + 18);
          h = le16 (d + 20);
        }
      else if (dib >= 40)
        {
          gint32 sw = (gint32) le32 (d + 18);
          gint32 sh = (gint32) le32 (d + 22);

          /* a negative height is a top-down bitmap */
          if (sw > 0 && sh != 0 && sh != G_MININT32)
            {
              type = "image/bmp";
              w = (guint32) sw;
              h = (guint32) ABS (sh);
            }
        }
    }

  if (type == NULL)
    return NULL;
  if (width != NULL)
    *width = w;
  if (height != NULL)
    *height = h;
  return type;
}

gboolean
rdt_attachment_check_image (const guint8 *data, gsize len,
                            const gchar *content_type, GError **error)
{
  guint32 w = 0, h = 0;
  const gchar *found = rdt_attachment_sniff_image (data, len, &w, &h);

  if (found == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("it is not a PNG, JPEG, GIF, WebP or BMP "
                             "image"));
      return FALSE;
    }
  if (g_strcmp0 (found, content_type) != 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("it was announced as %s but is %s"),
                   content_type != NULL ? content_type : "?", found);
      return FALSE;
    }
  if (w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION
      || (guint64) w * h > RDT_ATTACHMENT_MAX_IMAGE_PIXELS)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("its size of %u × %u pixels is not plausible"),
                   (guint) w, (guint) h);
      return FALSE;
    }
  return TRUE;
}

/* ---- worker-thread variants ---- */

typedef struct {
  GBytes        *input;
  guint64        max_plaintext;
  RdtAttachment *att;   /* decrypt: copy of the caller's; encrypt: result */
} CryptJob;

static void
crypt_job_free (gpointer data)
{
  CryptJob *job = data;

  g_bytes_unref (job->input);
  rdt_attachment_free (job->att);
  g_free (job);
}

static void
encrypt_thread (GTask *task, gpointer source, gpointer task_data,
                GCancellable *cancellable)
{
  CryptJob *job = task_data;
  GError *error = NULL;
  GBytes *blob;
  gsize len;
  const guint8 *data = g_bytes_get_data (job->input, &len);

  blob = rdt_attachment_encrypt (data, len, job->max_plaintext, &job->att,
                                 &error);
  if (blob == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, blob, (GDestroyNotify) g_bytes_unref);
}

void
rdt_attachment_encrypt_async (GBytes *plaintext, guint64 max_plaintext,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  CryptJob *job = g_new0 (CryptJob, 1);

  g_task_set_source_tag (task, rdt_attachment_encrypt_async);
  job->input = g_bytes_ref (plaintext);
  job->max_plaintext = max_plaintext;
  g_task_set_task_data (task, job, crypt_job_free);
  g_task_run_in_thread (task, encrypt_thread);
  g_object_unref (task);
}

GBytes *
rdt_attachment_encrypt_finish (GAsyncResult *result, RdtAttachment **att_out,
                               GError **error)
{
  GTask *task = G_TASK (result);
  GBytes *blob = g_task_propagate_pointer (task, error);

  if (blob != NULL && att_out != NULL)
    {
      CryptJob *job = g_task_get_task_data (task);
      *att_out = g_steal_pointer (&job->att);
    }
  return blob;
}

static void
decrypt_thread (GTask *task, gpointer source, gpointer task_data,
                GCancellable *cancellable)
{
  CryptJob *job = task_data;
  GError *error = NULL;
  GBytes *plain = rdt_attachment_decrypt (job->att, job->input, &error);

  if (plain == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, plain, (GDestroyNotify) g_bytes_unref);
}

void
rdt_attachment_decrypt_async (const RdtAttachment *att, GBytes *blob,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  CryptJob *job = g_new0 (CryptJob, 1);

  g_task_set_source_tag (task, rdt_attachment_decrypt_async);
  job->input = g_bytes_ref (blob);
  job->att = rdt_attachment_copy (att);
  g_task_set_task_data (task, job, crypt_job_free);
  g_task_run_in_thread (task, decrypt_thread);
  g_object_unref (task);
}

GBytes *
rdt_attachment_decrypt_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
