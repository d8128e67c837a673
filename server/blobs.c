/* SPDX-License-Identifier: GPL-2.0-or-later */
/* blobs.c - see blobs.h. */
#include <string.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include "blobs.h"
#include "crypto.h"
#include "id.h"

static gchar *blob_dir;
static guint64 max_blob_size = 104857600;

void
rdt_srv_blobs_init (const gchar *data_dir, guint64 max_size)
{
  blob_dir = g_build_filename (data_dir, "blobs", NULL);
  if (g_mkdir_with_parents (blob_dir, 0700) != 0)
    g_printerr ("rdt-test-server: cannot create %s: %s\n", blob_dir,
                g_strerror (errno));
  if (max_size > 0)
    max_blob_size = max_size;
}

static void
reply (SoupServerMessage *msg, guint status, const gchar *detail)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gchar *body;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "detail");
  json_builder_add_string_value (b, detail);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, NULL);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    body, strlen (body));
}

gboolean
rdt_srv_blobs_too_large (goffset declared)
{
  return declared > 0 && (guint64) declared > max_blob_size;
}

void
rdt_srv_blobs_reply_too_large (SoupServerMessage *msg)
{
  g_autofree gchar *d = g_strdup_printf (
      "Blob too large. Maximum size is %" G_GUINT64_FORMAT " bytes (%" G_GUINT64_FORMAT " MB)",
      max_blob_size, max_blob_size / (1024 * 1024));
  reply (msg, 413, d);
}

/* The blob ids we store are validated B ids: safe as file names. */
static gchar *
path_of (const gchar *blob_id, const gchar *suffix)
{
  g_autofree gchar *name = g_strconcat (blob_id, suffix, NULL);
  return g_build_filename (blob_dir, name, NULL);
}

/* meta: [0] = space, [1..] = uploaders; NULL if the blob does not exist. */
static gchar **
meta_read (const gchar *blob_id)
{
  g_autofree gchar *path = path_of (blob_id, ".meta");
  g_autofree gchar *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  g_strstrip (text);
  return g_strsplit (text, "\n", -1);
}

static gboolean
meta_write (const gchar *blob_id, gchar **meta)
{
  g_autofree gchar *path = path_of (blob_id, ".meta");
  g_autofree gchar *text = g_strjoinv ("\n", meta);

  return g_file_set_contents (path, text, -1, NULL);
}

static gboolean
valid_blob_id (const gchar *blob_id)
{
  return rdt_id_is_valid (blob_id, RDT_ID_BLOB);
}

void
rdt_srv_blobs_put (SoupServerMessage *msg, const gchar *space_id,
                   const gchar *blob_id, const gchar *caller)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint8 digest[RDT_SHA256_LENGTH];
  g_autofree gchar *expected = NULL;
  g_auto (GStrv) meta = NULL;
  g_autofree gchar *resp = NULL;

  if (!valid_blob_id (blob_id))
    {
      reply (msg, 400, "Invalid blob_id format");
      return;
    }
  if (len > max_blob_size)
    {
      rdt_srv_blobs_reply_too_large (msg);
      return;
    }
  rdt_sha256 (data ? data : (const guint8 *) "", len, digest);
  expected = rdt_id_encode (RDT_ID_BLOB, digest);
  if (strcmp (expected, blob_id) != 0)
    {
      g_autofree gchar *d = g_strdup_printf (
          "blob_id mismatch: provided %s, expected %s", blob_id, expected);
      reply (msg, 400, d);
      return;
    }
  meta = meta_read (blob_id);
  if (meta != NULL && g_strcmp0 (meta[0], space_id) != 0)
    {
      reply (msg, 403, "Blob belongs to a different space");
      return;
    }
  if (meta == NULL)
    {
      g_autofree gchar *path = path_of (blob_id, "");
      gchar *fresh[] = { (gchar *) space_id, (gchar *) caller, NULL };

      if (!g_file_set_contents (path, (const gchar *) data, (gssize) len, NULL)
          || !meta_write (blob_id, fresh))
        {
          reply (msg, 500, "Failed to store blob");
          return;
        }
    }
  else if (!g_strv_contains ((const gchar * const *) meta + 1, caller))
    {
      /* Another member uploading the same bytes adds a reference. */
      guint n = g_strv_length (meta);

      meta = g_renew (gchar *, meta, n + 2);
      meta[n] = g_strdup (caller);
      meta[n + 1] = NULL;
      meta_write (blob_id, meta);
    }
  /* Re-uploads are idempotent: 201 again, never 409 (spec §10). */
  resp = g_strdup_printf ("{\"blob_id\":\"%s\",\"size\":%" G_GSIZE_FORMAT "}",
                          blob_id, len);
  soup_server_message_set_status (msg, 201, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    resp, strlen (resp));
}

void
rdt_srv_blobs_get (SoupServerMessage *msg, const gchar *space_id,
                   const gchar *blob_id)
{
  g_auto (GStrv) meta = valid_blob_id (blob_id) ? meta_read (blob_id) : NULL;
  g_autofree gchar *path = NULL;
  gchar *data = NULL;
  gsize len = 0;

  if (meta == NULL)
    {
      reply (msg, 404, "Blob not found");
      return;
    }
  if (g_strcmp0 (meta[0], space_id) != 0)
    {
      reply (msg, 403, "Blob belongs to a different space");
      return;
    }
  path = path_of (blob_id, "");
  if (!g_file_get_contents (path, &data, &len, NULL))
    {
      reply (msg, 404, "Blob not found");
      return;
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/octet-stream",
                                    SOUP_MEMORY_TAKE, data, len);
}

void
rdt_srv_blobs_delete (SoupServerMessage *msg, const gchar *space_id,
                      const gchar *blob_id, const gchar *caller,
                      gboolean is_admin)
{
  g_auto (GStrv) meta = valid_blob_id (blob_id) ? meta_read (blob_id) : NULL;
  g_autoptr (GPtrArray) kept = NULL;
  gboolean uploader;

  if (meta == NULL || g_strcmp0 (meta[0], space_id) != 0)
    {
      reply (msg, 404, "Blob not found");
      return;
    }
  uploader = g_strv_contains ((const gchar * const *) meta + 1, caller);
  if (!uploader && !is_admin)
    {
      reply (msg, 403, "Only the uploader or space admin can delete this blob");
      return;
    }
  /* Remove the caller's own reference only: an admin deleting someone
   * else's upload does not remove its content (spec §10). */
  kept = g_ptr_array_new ();
  for (gchar **m = meta; *m; m++)
    if (m == meta || strcmp (*m, caller) != 0)
      g_ptr_array_add (kept, *m);
  if (uploader && kept->len == 1)
    {
      g_autofree gchar *path = path_of (blob_id, "");
      g_autofree gchar *mpath = path_of (blob_id, ".meta");

      g_unlink (path);
      g_unlink (mpath);
    }
  else if (uploader)
    {
      g_ptr_array_add (kept, NULL);
      meta_write (blob_id, (gchar **) kept->pdata);
    }
  soup_server_message_set_status (msg, 204, NULL);
}
