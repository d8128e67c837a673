/* SPDX-License-Identifier: GPL-2.0-or-later */
/* readstate.c - see readstate.h. */
#include "config.h"
#include "readstate.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "crypto.h"
#include "error.h"
#include "id.h"
#include "message.h"

#define KEY_INFO "purple-reeeductio read state | "
/* Puts per store before giving up on a device that keeps overwriting. */
#define MAX_PUTS 3

/* ------------------------------------------------------------------ */
/* Markers */

RdtReadMarker *
rdt_read_marker_new (const gchar *topic_id, const gchar *message_hash,
                     gint64 timestamp)
{
  RdtReadMarker *m = g_new0 (RdtReadMarker, 1);

  m->topic_id = g_strdup (topic_id);
  m->message_hash = g_strdup (message_hash);
  m->timestamp = timestamp;
  return m;
}

RdtReadMarker *
rdt_read_marker_copy (const RdtReadMarker *m)
{
  if (m == NULL)
    return NULL;
  return rdt_read_marker_new (m->topic_id, m->message_hash, m->timestamp);
}

void
rdt_read_marker_free (RdtReadMarker *m)
{
  if (m == NULL)
    return;
  g_free (m->topic_id);
  g_free (m->message_hash);
  g_free (m);
}

gboolean
rdt_read_marker_is_newer (const RdtReadMarker *a, const RdtReadMarker *b)
{
  g_return_val_if_fail (a != NULL, FALSE);
  return b == NULL || a->timestamp > b->timestamp;
}

/* ------------------------------------------------------------------ */
/* Codec */

void
rdt_readstate_derive_key (const guint8 seed[32], const gchar *space_id,
                          guint8 out[32])
{
  g_autofree gchar *info = g_strconcat (KEY_INFO, space_id, NULL);

  /* Our own seed, not the space's root: other members must not read how
   * far we have read. */
  rdt_hkdf_sha256 (seed, RDT_SEED_LENGTH, (const guint8 *) info,
                   strlen (info), out, RDT_KEY_LENGTH);
}

gchar *
rdt_readstate_path (const gchar *member_id, const gchar *topic_id)
{
  return g_strdup_printf ("data/user/%s/read/%s", member_id, topic_id);
}

gchar *
rdt_read_marker_encode (const guint8 key[32], const RdtReadMarker *m)
{
  g_autoptr (JsonBuilder) b = NULL;
  g_autoptr (JsonNode) root = NULL;
  gchar *json, *value;
  gsize len;

  g_return_val_if_fail (m != NULL, NULL);
  if (!rdt_topic_id_validate (m->topic_id, NULL)
      || !rdt_id_is_valid (m->message_hash, RDT_ID_MESSAGE)
      || m->timestamp <= 0)
    return NULL;
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "topic");
  json_builder_add_string_value (b, m->topic_id);
  json_builder_set_member_name (b, "hash");
  json_builder_add_string_value (b, m->message_hash);
  json_builder_set_member_name (b, "ts");
  json_builder_add_int_value (b, m->timestamp);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  len = strlen (json);
  value = rdt_payload_encrypt (key, (const guint8 *) json, len);
  rdt_wipe (json, len);
  g_free (json);
  return value;
}

static RdtReadMarker *
decode_json (const gchar *topic_id, const gchar *json, gsize len,
             GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *obj;
  JsonNode *n;
  const gchar *topic, *hash;
  gint64 ts;

  if (!rdt_json_check_text (json, len, NULL)
      || !json_parser_load_from_data (parser, json, (gssize) len, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("not a JSON object"));
      return NULL;
    }
  obj = json_node_get_object (json_parser_get_root (parser));
  n = json_object_get_member (obj, "topic");
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    goto malformed;
  topic = json_node_get_string (n);
  /* A marker copied from another topic's key must not move this one. */
  if (strcmp (topic, topic_id) != 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("it belongs to another topic"));
      return NULL;
    }
  n = json_object_get_member (obj, "hash");
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING
      || !rdt_id_is_valid (json_node_get_string (n), RDT_ID_MESSAGE))
    goto malformed;
  hash = json_node_get_string (n);
  n = json_object_get_member (obj, "ts");
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_INT64
      || (ts = json_node_get_int (n)) <= 0)
    goto malformed;
  return rdt_read_marker_new (topic_id, hash, ts);
malformed:
  g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
               _("a field is missing or has the wrong type"));
  return NULL;
}

RdtReadMarker *
rdt_read_marker_decode (const guint8 key[32], const gchar *topic_id,
                        const gchar *value, GError **error)
{
  g_autoptr (GBytes) plain = NULL;
  const gchar *json;
  gsize len;

  g_return_val_if_fail (topic_id != NULL && value != NULL, NULL);
  if (strnlen (value, RDT_READ_MARKER_MAX_VALUE + 1)
      > RDT_READ_MARKER_MAX_VALUE)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("it is longer than %d characters"),
                   RDT_READ_MARKER_MAX_VALUE);
      return NULL;
    }
  plain = rdt_payload_decrypt (key, value, error);
  if (plain == NULL)
    return NULL;
  json = g_bytes_get_data (plain, &len);
  return decode_json (topic_id, json ? json : "", len, error);
}

/* ------------------------------------------------------------------ */
/* The object */

struct _RdtReadState {
  GObject  parent_instance;
  RdtApi  *api;
  guint8  *key;          /* rdt_secret_alloc'd */
};

G_DEFINE_FINAL_TYPE (RdtReadState, rdt_read_state, G_TYPE_OBJECT)

static void
rdt_read_state_finalize (GObject *object)
{
  RdtReadState *rs = RDT_READ_STATE (object);

  g_clear_object (&rs->api);
  rdt_secret_free (rs->key);
  G_OBJECT_CLASS (rdt_read_state_parent_class)->finalize (object);
}

static void
rdt_read_state_class_init (RdtReadStateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rdt_read_state_finalize;
}

static void
rdt_read_state_init (RdtReadState *rs)
{
}

RdtReadState *
rdt_readstate_new (RdtApi *api, const guint8 seed[32])
{
  RdtReadState *rs;

  g_return_val_if_fail (RDT_IS_API (api), NULL);
  g_return_val_if_fail (seed != NULL, NULL);
  /* Markers are signed by, and kept under, a user's own id. */
  g_return_val_if_fail (rdt_id_is_valid (rdt_api_get_member_id (api),
                                         RDT_ID_USER), NULL);
  rs = g_object_new (RDT_TYPE_READ_STATE, NULL);
  rs->api = g_object_ref (api);
  rs->key = rdt_secret_alloc (RDT_KEY_LENGTH);
  rdt_readstate_derive_key (seed, rdt_api_get_space_id (api), rs->key);
  return rs;
}

/* The marker of a stored entry: TRUE with NULL for a deleted one; FALSE
 * when it is not ours or does not decode. */
static gboolean
entry_marker (RdtReadState *rs, const gchar *topic_id, const gchar *path,
              const RdtDataEntry *e, RdtReadMarker **out, GError **error)
{
  GError *local = NULL;

  *out = NULL;
  if (*e->data == '\0')
    return TRUE;
  if (!rdt_data_entry_verify (e, rdt_api_get_space_id (rs->api), path,
                              rdt_api_get_member_id (rs->api), &local)
      || (*out = rdt_read_marker_decode (rs->key, topic_id, e->data,
                                         &local)) == NULL)
    {
      g_propagate_prefixed_error (error, local,
                                  _("The read marker stored for this topic "
                                    "is not valid: "));
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  gchar         *topic_id;
  gchar         *path;
  RdtReadMarker *ours;      /* store only */
  guint          puts;
  gboolean       replayed;  /* re-read once after a replay answer */
} Op;

static void
op_free (gpointer p)
{
  Op *op = p;

  g_free (op->topic_id);
  g_free (op->path);
  rdt_read_marker_free (op->ours);
  g_free (op);
}

static GTask *
op_task (RdtReadState *rs, const gchar *topic_id, GCancellable *cancellable,
         GAsyncReadyCallback callback, gpointer user_data, gpointer tag)
{
  GTask *task = g_task_new (rs, cancellable, callback, user_data);
  Op *op = g_new0 (Op, 1);
  g_autoptr (GError) local = NULL;

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, op, op_free);
  if (!rdt_topic_id_validate (topic_id, &local))
    {
      g_task_return_new_error (task, RDT_ERROR, RDT_ERROR_INVALID_ID,
                               _("Invalid topic id: %s"), local->message);
      g_object_unref (task);
      return NULL;
    }
  op->topic_id = g_strdup (topic_id);
  op->path = rdt_readstate_path (rdt_api_get_member_id (rs->api), topic_id);
  return task;
}

/* ---- load ---- */

static void
on_load_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  RdtReadState *rs = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr (RdtDataEntry) e = NULL;
  GError *error = NULL;
  RdtReadMarker *m;

  e = rdt_api_data_get_finish (RDT_API (source), result, &error);
  if (e == NULL)
    {
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND))
        {
          g_error_free (error);
          g_task_return_pointer (task, NULL, NULL);
        }
      else
        g_task_return_error (task, error);
      return;
    }
  if (!entry_marker (rs, op->topic_id, op->path, e, &m, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, m, (GDestroyNotify) rdt_read_marker_free);
}

void
rdt_readstate_load_async (RdtReadState *rs, const gchar *topic_id,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (RDT_IS_READ_STATE (rs));
  task = op_task (rs, topic_id, cancellable, callback, user_data,
                  rdt_readstate_load_async);
  if (task == NULL)
    return;
  rdt_api_data_get_async (rs->api, ((Op *) g_task_get_task_data (task))->path,
                          cancellable, on_load_got, task);
}

RdtReadMarker *
rdt_readstate_load_finish (RdtReadState *rs, GAsyncResult *result,
                           GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, rs), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- store ---- */

static void store_read (GTask *task);

static void
on_store_put (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Op *op = g_task_get_task_data (task);
  GError *error = NULL;

  if (rdt_api_data_put_finish (RDT_API (source), result, &error) < 0)
    {
      /* Another device stored a later entry between our read and put:
       * read again and decide again, once. */
      if (rdt_api_data_error_is_replay (error) && !op->replayed)
        {
          g_info ("readstate: %s: replay refused, reading again",
                  op->topic_id);
          g_error_free (error);
          op->replayed = TRUE;
          store_read (g_steal_pointer (&task));
          return;
        }
      g_task_return_error (task, error);
      return;
    }
  op->puts++;
  /* Read back: a device that read before our put may have put its older
   * marker over ours (the store has no compare-and-swap). */
  store_read (g_steal_pointer (&task));
}

static void
on_store_got (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  RdtReadState *rs = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);
  g_autoptr (RdtDataEntry) e = NULL;
  g_autoptr (RdtReadMarker) stored = NULL;
  g_autoptr (GError) bad = NULL;
  g_autofree gchar *value = NULL;
  GCancellable *cancellable;
  GError *error = NULL;
  gint64 stored_at = -1, signed_at;

  e = rdt_api_data_get_finish (RDT_API (source), result, &error);
  if (e == NULL
      && !g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND))
    {
      g_task_return_error (task, error);
      return;
    }
  g_clear_error (&error);
  if (e != NULL)
    {
      stored_at = e->signed_at;
      /* An invalid entry is overwritten, not obeyed. */
      if (!entry_marker (rs, op->topic_id, op->path, e, &stored, &bad))
        g_info ("readstate: %s: replacing the stored marker: %s",
                op->topic_id, bad->message);
    }
  if (stored != NULL && !rdt_read_marker_is_newer (op->ours, stored))
    {
      g_task_return_pointer (task, g_steal_pointer (&stored),
                             (GDestroyNotify) rdt_read_marker_free);
      return;
    }
  if (op->puts >= MAX_PUTS)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_CONFLICT,
                               _("The read marker kept being replaced by an "
                                 "older one"));
      return;
    }
  /* The server refuses a signed_at older than the stored one (spec 11). */
  signed_at = MAX (g_get_real_time () / 1000, stored_at + 1);
  value = rdt_read_marker_encode (rs->key, op->ours);
  cancellable = g_task_get_cancellable (task);
  rdt_api_data_put_async (rs->api, op->path, value, signed_at, cancellable,
                          on_store_put, g_steal_pointer (&task));
}

static void
store_read (GTask *task)
{
  RdtReadState *rs = g_task_get_source_object (task);
  Op *op = g_task_get_task_data (task);

  rdt_api_data_get_async (rs->api, op->path, g_task_get_cancellable (task),
                          on_store_got, task);
}

void
rdt_readstate_store_async (RdtReadState *rs, const RdtReadMarker *marker,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Op *op;

  g_return_if_fail (RDT_IS_READ_STATE (rs));
  g_return_if_fail (marker != NULL);
  task = op_task (rs, marker->topic_id, cancellable, callback, user_data,
                  rdt_readstate_store_async);
  if (task == NULL)
    return;
  op = g_task_get_task_data (task);
  if (!rdt_id_is_valid (marker->message_hash, RDT_ID_MESSAGE)
      || marker->timestamp <= 0)
    {
      g_task_return_new_error (task, RDT_ERROR, RDT_ERROR_MALFORMED,
                               _("Invalid read marker"));
      g_object_unref (task);
      return;
    }
  op->ours = rdt_read_marker_copy (marker);
  store_read (task);
}

RdtReadMarker *
rdt_readstate_store_finish (RdtReadState *rs, GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, rs), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
