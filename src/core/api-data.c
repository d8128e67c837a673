/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api-data.c - the data (KV) store endpoints (spec 11): get, put (signed
 * over space|path|data|signed_at), delete, and checking who signed an
 * entry.
 */
#include "config.h"
#include "api-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

/* Longest path we send; the server has no limit of its own (spec 11). */
#define MAX_DATA_PATH 512
/* Largest GET answer: a value of the spec's 102,400 base64 characters and
 * the rest of the entry fit well. */
#define MAX_DATA_ANSWER (256 * 1024)

void
rdt_data_entry_free (RdtDataEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->data);
  g_free (e->signature);
  g_free (e->signed_by);
  g_free (e);
}

/* The server does no path syntax validation (spec 11), so we do: segments
 * of [A-Za-z0-9._-], none empty, none "." or "..": nothing that needs
 * percent-encoding or that a proxy could normalise into another key. */
gboolean
rdt_api_data_path_validate (const gchar *path, GError **error)
{
  g_auto (GStrv) segs = NULL;

  if (path == NULL || *path == '\0' || strlen (path) > MAX_DATA_PATH)
    goto bad;
  for (const gchar *p = path; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-'
        && *p != '/')
      goto bad;
  segs = g_strsplit (path, "/", -1);
  for (gchar **s = segs; *s; s++)
    if (**s == '\0' || strcmp (*s, ".") == 0 || strcmp (*s, "..") == 0)
      goto bad;
  return TRUE;
bad:
  g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID,
               _("Invalid data path"));
  return FALSE;
}

static gboolean
check_path (GTask *task, const gchar *path)
{
  GError *error = NULL;

  if (rdt_api_data_path_validate (path, &error))
    return TRUE;
  g_task_return_error (task, error);
  return FALSE;
}

static gchar *
signed_text (const gchar *space_id, const gchar *path, const gchar *data,
             gint64 signed_at)
{
  return g_strdup_printf ("%s|%s|%s|%" G_GINT64_FORMAT, space_id, path, data,
                          signed_at);
}

/* ------------------------------------------------------------------ */
/* GET */

static RdtDataEntry *
entry_parse (JsonObject *obj, GError **error)
{
  g_autoptr (RdtDataEntry) e = g_new0 (RdtDataEntry, 1);
  const gchar *data, *sig, *by;
  RdtIdType type;

  if ((data = rdt_api_parse_string (obj, "data", error)) == NULL
      || (sig = rdt_api_parse_string (obj, "signature", error)) == NULL
      || (by = rdt_api_parse_string (obj, "signed_by", error)) == NULL
      || !rdt_api_parse_int (obj, "signed_at", &e->signed_at, error))
    return NULL;
  /* data is hashed as the string it is: it must be proper base64 (or the
   * "" of a deleted entry) before anyone decodes it. */
  if (*data != '\0')
    {
      g_autoptr (GError) local = NULL;
      gsize len;
      g_autofree guint8 *raw = rdt_base64_decode (data, -1, &len, &local);

      if (raw == NULL)
        {
          g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                       _("Bad answer from server: stored data: %s"),
                       local->message);
          return NULL;
        }
    }
  if (!rdt_id_decode (by, &type, NULL, NULL)
      || (type != RDT_ID_USER && type != RDT_ID_TOOL))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: '%s' is not a member id"),
                   "signed_by");
      return NULL;
    }
  e->data = g_strdup (data);
  e->signature = g_strdup (sig);
  e->signed_by = g_strdup (by);
  return g_steal_pointer (&e);
}

static void
on_data_get (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (JsonParser) parser = NULL;
  GError *error = NULL;
  JsonObject *obj;
  RdtDataEntry *e;

  obj = rdt_api_call_finish_object (RDT_API (source), result, &parser,
                                    &error);
  if (obj == NULL || (e = entry_parse (obj, &error)) == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, e, (GDestroyNotify) rdt_data_entry_free);
}

static gchar *
data_url_path (RdtApi *api, const gchar *path)
{
  /* The path's characters need no escaping (rdt_api_data_path_validate). */
  return g_strdup_printf ("/spaces/%s/data/%s", api->space_id, path);
}

void
rdt_api_data_get_async (RdtApi *api, const gchar *path,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_data_get_async);
  if (!check_path (task, path))
    return;
  c = rdt_api_call_new (RDT_API_CALL_PLAIN, "GET", data_url_path (api, path));
  c->max_size = MAX_DATA_ANSWER;
  c->what = N_("the stored data");
  rdt_api_call_start (api, c, cancellable, on_data_get,
                      g_steal_pointer (&task));
}

RdtDataEntry *
rdt_api_data_get_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* PUT */

static void
on_data_put (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *obj;
  gint64 at;

  obj = rdt_api_finish_echoed_object (task, source, result, &parser, "path",
                                      N_("data path"));
  if (obj == NULL)
    return;
  if (!rdt_api_parse_int (obj, "signed_at", &at, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_int (task, at);
}

void
rdt_api_data_put_async (RdtApi *api, const gchar *path, const gchar *data_b64,
                        gint64 signed_at, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (JsonBuilder) b = NULL;
  g_autofree gchar *text = NULL, *sig64 = NULL;
  guint8 sig[RDT_SIGNATURE_LENGTH];
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (data_b64 != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_data_put_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  if (!check_path (task, path))
    return;
  if (*data_b64 != '\0')
    {
      g_autoptr (GError) local = NULL;
      gsize len;
      g_autofree guint8 *raw = rdt_base64_decode (data_b64, -1, &len, &local);

      if (raw == NULL)
        {
          g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                                   _("Invalid data: %s"), local->message);
          return;
        }
    }
  if (signed_at < 0)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Invalid signing time"));
      return;
    }
  text = signed_text (api->space_id, path, data_b64, signed_at);
  rdt_signing_key_sign (api->key, (const guint8 *) text, strlen (text), sig);
  sig64 = rdt_base64_encode (sig, sizeof sig);

  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "data");
  json_builder_add_string_value (b, data_b64);
  json_builder_set_member_name (b, "signature");
  json_builder_add_string_value (b, sig64);
  json_builder_set_member_name (b, "signed_by");
  json_builder_add_string_value (b, api->member_id);
  json_builder_set_member_name (b, "signed_at");
  json_builder_add_int_value (b, signed_at);
  json_builder_end_object (b);

  c = rdt_api_call_new (RDT_API_CALL_PLAIN, "PUT", data_url_path (api, path));
  c->body = rdt_api_json_body (b);
  c->content_type = "application/json";
  c->what = N_("the stored data");
  c->max_size = 64 * 1024;
  rdt_api_call_start (api, c, cancellable, on_data_put,
                      g_steal_pointer (&task));
}

gint64
rdt_api_data_put_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), -1);
  /* -1 with *error set on failure (timestamps are never negative) */
  return g_task_propagate_int (G_TASK (result), error);
}

gboolean
rdt_api_data_error_is_replay (const GError *error)
{
  g_autofree gchar *lower = NULL;

  if (!g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_INVALID))
    return FALSE;
  /* The detail is all that tells a replay from the other 400s (spec 11). */
  lower = g_ascii_strdown (error->message, -1);
  return strstr (lower, "replay") != NULL;
}

/* ------------------------------------------------------------------ */
/* DELETE */

static void
on_data_delete (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GBytes) body = NULL;
  GError *error = NULL;

  body = rdt_api_call_finish (RDT_API (source), result, &error);
  if (body == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
rdt_api_data_delete_async (RdtApi *api, const gchar *path,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_data_delete_async);
  if (!check_path (task, path))
    return;
  c = rdt_api_call_new (RDT_API_CALL_PLAIN, "DELETE",
                        data_url_path (api, path));
  c->max_size = 64 * 1024;
  c->what = N_("the stored data");
  rdt_api_call_start (api, c, cancellable, on_data_delete,
                      g_steal_pointer (&task));
}

gboolean
rdt_api_data_delete_finish (RdtApi *api, GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Verification */

gboolean
rdt_data_entry_verify (const RdtDataEntry *e, const gchar *space_id,
                       const gchar *path, const gchar *expected_signer,
                       GError **error)
{
  guint8 pk[RDT_PUBLIC_KEY_LENGTH];
  g_autofree guint8 *sig = NULL;
  g_autofree gchar *text = NULL;
  gsize len;

  g_return_val_if_fail (e != NULL && space_id != NULL && path != NULL, FALSE);
  if (expected_signer == NULL
      || !rdt_id_decode_typed (expected_signer, RDT_ID_USER, pk, NULL))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("Invalid user id"));
      return FALSE;
    }
  if (g_strcmp0 (e->signed_by, expected_signer) != 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE,
                   _("it was written by someone else"));
      return FALSE;
    }
  sig = rdt_base64_decode (e->signature, RDT_SIGNATURE_LENGTH, &len, NULL);
  text = signed_text (space_id, path, e->data, e->signed_at);
  if (sig == NULL
      || !rdt_ed25519_verify (sig, (const guint8 *) text, strlen (text), pk))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE,
                   _("its signature does not verify"));
      return FALSE;
    }
  return TRUE;
}
