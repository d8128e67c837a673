/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api-blobs.c - the blob endpoints: upload and download, each checked
 * against the blob's id (SHA-256) off the main loop.
 */
#include "config.h"
#include "api-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

/* ------------------------------------------------------------------ */
/* Blobs */

static void
on_blob_put (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj;

  obj = rdt_api_finish_echoed_object (task, source, result, &parser,
                                      "blob_id", N_("blob id"));
  if (obj == NULL)
    return;
  if (json_object_has_member (obj, "upload_url"))
    {
      /* S3 backend (spec 10): a second upload step we do not implement. */
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_BAD_RESPONSE,
                               _("The server stores files externally, which "
                                 "is not supported"));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/* The one check that blob bytes are what their id says, SHA-256 against
 * the B id (spec 10: neither the server nor the SDKs check it): in a
 * worker thread, since a blob may be 100 MB and the main loop is the UI's.
 * Then check->done runs on the main context. */
typedef struct BlobCheck BlobCheck;
struct BlobCheck {
  GTask *task;           /* the caller's put/get task (a ref) */
  GBytes *bytes;
  guint8 want[RDT_SHA256_LENGTH];
  RdtApiCall *call;      /* put: the upload, started once the bytes match */
  gboolean json_answer;  /* get: the server answered JSON, not bytes */
  void (*done) (BlobCheck *check, gboolean match);
};

static void
blob_check_free (gpointer data)
{
  BlobCheck *check = data;

  g_object_unref (check->task);
  g_bytes_unref (check->bytes);
  if (check->call != NULL)
    rdt_api_call_free (check->call);
  g_free (check);
}

static void
blob_check_thread (GTask *hash_task, gpointer source, gpointer data,
                   GCancellable *cancellable)
{
  BlobCheck *check = data;
  guint8 got[RDT_SHA256_LENGTH];
  gsize len;
  const guint8 *bytes = g_bytes_get_data (check->bytes, &len);

  rdt_sha256 (bytes, len, got);
  g_task_return_boolean (hash_task,
                         memcmp (got, check->want, sizeof got) == 0);
}

static void
blob_check_done (GObject *source, GAsyncResult *result, gpointer data)
{
  BlobCheck *check = g_task_get_task_data (G_TASK (result));

  check->done (check, g_task_propagate_boolean (G_TASK (result), NULL));
}

/* Takes check (its task ref, bytes and call). blob_id is a valid B id. */
static void
blob_check_start (BlobCheck *check, const gchar *blob_id)
{
  /* No cancellable: the thread runs to the end, and done always runs (the
   * caller's task, cancelled meanwhile, then returns G_IO_ERROR_CANCELLED
   * by itself). */
  GTask *hash_task = g_task_new (NULL, NULL, blob_check_done, NULL);

  rdt_id_decode_typed (blob_id, RDT_ID_BLOB, check->want, NULL);
  g_task_set_source_tag (hash_task, blob_check_start);
  g_task_set_task_data (hash_task, check, blob_check_free);
  g_task_run_in_thread (hash_task, blob_check_thread);
  g_object_unref (hash_task);
}

void
rdt_api_put_blob_async (RdtApi *api, const gchar *blob_id, GBytes *bytes,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  rdt_api_put_blob_with_progress_async (api, blob_id, bytes, NULL, NULL,
                                        cancellable, callback, user_data);
}

static void
put_blob_checked (BlobCheck *check, gboolean match)
{
  GTask *task = check->task;
  RdtApiCall *c;

  if (g_task_return_error_if_cancelled (task))
    return;
  if (!match)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("blob content does not match its id"));
      return;
    }
  c = g_steal_pointer (&check->call);
  rdt_api_call_start (RDT_API (g_task_get_source_object (task)), c,
                      g_task_get_cancellable (task), on_blob_put,
                      g_object_ref (task));
}

void
rdt_api_put_blob_with_progress_async (RdtApi *api, const gchar *blob_id,
                                      GBytes *bytes,
                                      RdtApiProgressFunc progress,
                                      gpointer progress_data,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  BlobCheck *check;
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (blob_id != NULL && bytes != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_put_blob_async);
  g_task_set_task_data (task, g_strdup (blob_id), g_free);
  if (!rdt_api_check_id (task, blob_id, RDT_ID_BLOB))
    return;
  c = rdt_api_call_new (RDT_API_CALL_BLOB, "PUT",
                        g_strdup_printf ("/spaces/%s/blobs/%s", api->space_id,
                        blob_id));
  c->body = g_bytes_ref (bytes);
  c->content_type = "application/octet-stream";
  c->what = N_("the file");
  c->max_size = 64 * 1024;
  c->progress = progress;
  c->progress_data = progress_data;
  /* Refused locally when the bytes are not the id's, before any upload. */
  check = g_new0 (BlobCheck, 1);
  check->task = g_steal_pointer (&task);
  check->bytes = g_bytes_ref (bytes);
  check->call = c;
  check->done = put_blob_checked;
  blob_check_start (check, blob_id);
}

gboolean
rdt_api_put_blob_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
get_blob_checked (BlobCheck *check, gboolean match)
{
  GTask *task = check->task;

  if (g_task_return_error_if_cancelled (task))
    return;
  if (match)
    g_task_return_pointer (task, g_bytes_ref (check->bytes),
                           (GDestroyNotify) g_bytes_unref);
  else if (check->json_answer)
    g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                             _("The server stores files externally, which "
                               "is not supported"));
  else
    g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                             _("blob content does not match its id"));
}

static void
on_blob_get (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  GBytes *body;
  const gchar *blob_id = g_task_get_task_data (task);
  RdtApiCall *c = g_task_get_task_data (G_TASK (result));
  BlobCheck *check;

  body = rdt_api_call_finish (RDT_API (source), result, &error);
  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Nothing is returned before the bytes are known to be the id's. */
  check = g_new0 (BlobCheck, 1);
  check->task = g_steal_pointer (&task);
  check->bytes = body;
  check->json_answer = c->resp_type != NULL
                       && g_str_has_prefix (c->resp_type, "application/json");
  check->done = get_blob_checked;
  blob_check_start (check, blob_id);
}

void
rdt_api_get_blob_async (RdtApi *api, const gchar *blob_id, gsize max_size,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (blob_id != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_get_blob_async);
  g_task_set_task_data (task, g_strdup (blob_id), g_free);
  if (!rdt_api_check_id (task, blob_id, RDT_ID_BLOB))
    return;
  c = rdt_api_call_new (RDT_API_CALL_BLOB, "GET",
                        g_strdup_printf ("/spaces/%s/blobs/%s", api->space_id,
                        blob_id));
  c->max_size = max_size;
  c->what = N_("the file download");
  rdt_api_call_start (api, c, cancellable, on_blob_get,
                      g_steal_pointer (&task));
}

GBytes *
rdt_api_get_blob_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
