/* SPDX-License-Identifier: GPL-2.0-or-later */
/* data.c - see data.h. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "data.h"

/* |server now - signed_at| allowed, spec 11. */
#define CLOCK_WINDOW_MS 60000

typedef struct {
  gchar *data;
  gchar *signature;
  gchar *signed_by;
  gint64 signed_at;
} Entry;

struct _RdtSrvData {
  gchar      *file;
  GHashTable *entries;   /* path -> Entry */
};

static void
entry_free (gpointer p)
{
  Entry *e = p;

  g_free (e->data);
  g_free (e->signature);
  g_free (e->signed_by);
  g_free (e);
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static void
reply_json (SoupServerMessage *msg, guint status, JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree gchar *body = json_to_string (root, FALSE);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    body, strlen (body));
}

static void
reply_detail (SoupServerMessage *msg, guint status, const gchar *detail)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "detail");
  json_builder_add_string_value (b, detail);
  json_builder_end_object (b);
  reply_json (msg, status, b);
}

/* One change as a line: an entry, or {"path", "deleted": true}. */
static void
persist (RdtSrvData *store, const gchar *path, const Entry *e)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *line = NULL;
  FILE *f;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, path);
  if (e)
    {
      json_builder_set_member_name (b, "data");
      json_builder_add_string_value (b, e->data);
      json_builder_set_member_name (b, "signature");
      json_builder_add_string_value (b, e->signature);
      json_builder_set_member_name (b, "signed_by");
      json_builder_add_string_value (b, e->signed_by);
      json_builder_set_member_name (b, "signed_at");
      json_builder_add_int_value (b, e->signed_at);
    }
  else
    {
      json_builder_set_member_name (b, "deleted");
      json_builder_add_boolean_value (b, TRUE);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  line = json_to_string (root, FALSE);
  f = fopen (store->file, "a");
  if (!f)
    {
      g_printerr ("rdt-test-server: cannot write %s: %s\n", store->file,
                  g_strerror (errno));
      return;
    }
  fprintf (f, "%s\n", line);
  fflush (f);
  fsync (fileno (f));
  fclose (f);
}

static void
load_line (RdtSrvData *store, const gchar *line)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;
  const gchar *path;
  Entry *e;

  if (!json_parser_load_from_data (parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto bad;
  o = json_node_get_object (json_parser_get_root (parser));
  path = json_object_get_string_member_with_default (o, "path", NULL);
  if (!path)
    goto bad;
  if (json_object_get_boolean_member_with_default (o, "deleted", FALSE))
    {
      g_hash_table_remove (store->entries, path);
      return;
    }
  if (!rdt_srv_data_body_valid (o))
    goto bad;
  e = g_new0 (Entry, 1);
  e->data = g_strdup (json_object_get_string_member (o, "data"));
  e->signature = g_strdup (json_object_get_string_member (o, "signature"));
  e->signed_by = g_strdup (json_object_get_string_member (o, "signed_by"));
  e->signed_at = json_object_get_int_member (o, "signed_at");
  g_hash_table_replace (store->entries, g_strdup (path), e);
  return;
bad:
  g_printerr ("rdt-test-server: skipping bad line in %s\n", store->file);
}

RdtSrvData *
rdt_srv_data_new (const gchar *data_dir, const gchar *space_id)
{
  RdtSrvData *store = g_new0 (RdtSrvData, 1);
  g_autofree gchar *name = g_strconcat (space_id, ".data.jsonl", NULL);
  g_autofree gchar *contents = NULL;

  store->file = g_build_filename (data_dir, name, NULL);
  store->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          entry_free);
  if (g_file_get_contents (store->file, &contents, NULL, NULL))
    {
      g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);

      for (gchar **l = lines; *l; l++)
        if (**l)
          load_line (store, *l);
    }
  return store;
}

void
rdt_srv_data_free (RdtSrvData *store)
{
  if (!store)
    return;
  g_free (store->file);
  g_hash_table_unref (store->entries);
  g_free (store);
}

static gboolean
is_string (JsonObject *o, const gchar *name)
{
  JsonNode *n = json_object_get_member (o, name);

  return n && JSON_NODE_HOLDS_VALUE (n) &&
         json_node_get_value_type (n) == G_TYPE_STRING;
}

gboolean
rdt_srv_data_body_valid (JsonObject *body)
{
  JsonNode *at;

  if (!body || !is_string (body, "data") || !is_string (body, "signature") ||
      !is_string (body, "signed_by"))
    return FALSE;
  at = json_object_get_member (body, "signed_at");
  return at && JSON_NODE_HOLDS_VALUE (at) &&
         json_node_get_value_type (at) == G_TYPE_INT64;
}

static void
handle_get (RdtSrvData *store, RdtSrvState *state, SoupServerMessage *msg,
            const gchar *caller, const gchar *path)
{
  Entry *e = g_hash_table_lookup (store->entries, path);
  g_autofree gchar *perm = g_strconcat ("data/", path, NULL);
  g_autoptr (JsonBuilder) b = NULL;

  /* Reads are checked on data/{path}, unlike writes (spec 8.1, 11). */
  if (!rdt_srv_state_check_permission (state, caller, "read", perm,
                                       e ? e->signed_by : NULL))
    {
      reply_detail (msg, 403, "No read permission");
      return;
    }
  if (!e)
    {
      reply_detail (msg, 404, "Data not found");
      return;
    }
  /* The real server drops `path` from the answer. */
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "data");
  json_builder_add_string_value (b, e->data);
  json_builder_set_member_name (b, "signature");
  json_builder_add_string_value (b, e->signature);
  json_builder_set_member_name (b, "signed_by");
  json_builder_add_string_value (b, e->signed_by);
  json_builder_set_member_name (b, "signed_at");
  json_builder_add_int_value (b, e->signed_at);
  json_builder_end_object (b);
  reply_json (msg, 200, b);
}

static gboolean
signature_valid (const gchar *space_id_path_data, const gchar *sig,
                 const gchar *signer)
{
  guint8 pk[32];
  gsize slen = 0;
  g_autofree guint8 *bytes = rdt_base64_decode_lenient (sig, -1, &slen, NULL);

  return bytes && slen == RDT_SIGNATURE_LENGTH &&
         rdt_id_get_public_key (signer, pk, NULL) &&
         rdt_ed25519_verify (bytes, (const guint8 *) space_id_path_data,
                             strlen (space_id_path_data), pk);
}

static void
handle_put (RdtSrvData *store, RdtSrvState *state, SoupServerMessage *msg,
            const gchar *space_id, const gchar *caller, const gchar *path,
            JsonObject *body)
{
  const gchar *data = json_object_get_string_member (body, "data");
  const gchar *sig = json_object_get_string_member (body, "signature");
  const gchar *signed_by = json_object_get_string_member (body, "signed_by");
  gint64 signed_at = json_object_get_int_member (body, "signed_at");
  gint64 now = now_ms ();
  Entry *old = g_hash_table_lookup (store->entries, path);
  const gchar *op;
  g_autofree gchar *signed_text = NULL;
  g_autoptr (JsonBuilder) b = NULL;
  Entry *e;

  /* The real server's order of checks, spec 11. */
  if (strcmp (signed_by, caller) != 0)
    {
      reply_detail (msg, 401, "Signer does not match");
      return;
    }
  if (ABS (now - signed_at) > CLOCK_WINDOW_MS)
    {
      reply_detail (msg, 400, "Signature is too far in the past/future");
      return;
    }
  /* Equal is not older: a client may write twice in one millisecond. */
  if (old && signed_at < old->signed_at)
    {
      reply_detail (msg, 400, "Replay detected: signed_at is older than the stored entry");
      return;
    }
  op = data[0] == '\0' ? "delete" : old ? "modify" : "create";
  /* The raw path, without the data/ prefix reads are checked on. */
  if (!rdt_srv_state_check_permission (state, caller, op, path,
                                       old ? old->signed_by : NULL))
    {
      g_autofree gchar *d = g_strdup_printf (
          "No %s permission for state path: %s", op, path);
      reply_detail (msg, 403, d);
      return;
    }
  signed_text = g_strdup_printf ("%s|%s|%s|%" G_GINT64_FORMAT, space_id, path,
                                 data, signed_at);
  if (!signature_valid (signed_text, sig, signed_by))
    {
      reply_detail (msg, 400, "Invalid signature on data for path");
      return;
    }
  /* data "" is stored as sent: GET then answers it with data "". */
  e = g_new0 (Entry, 1);
  e->data = g_strdup (data);
  e->signature = g_strdup (sig);
  e->signed_by = g_strdup (signed_by);
  e->signed_at = signed_at;
  g_hash_table_replace (store->entries, g_strdup (path), e);
  persist (store, path, e);
  /* signed_at in the answer is the server's clock, as upstream. */
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, path);
  json_builder_set_member_name (b, "signed_at");
  json_builder_add_int_value (b, now);
  json_builder_end_object (b);
  reply_json (msg, 200, b);
}

static void
handle_delete (RdtSrvData *store, RdtSrvState *state, SoupServerMessage *msg,
               const gchar *caller, const gchar *path)
{
  Entry *e = g_hash_table_lookup (store->entries, path);

  if (!rdt_srv_state_check_permission (state, caller, "delete", path,
                                       e ? e->signed_by : NULL))
    {
      g_autofree gchar *d = g_strdup_printf (
          "No delete permission for state path: %s", path);
      reply_detail (msg, 403, d);
      return;
    }
  /* 204 even if absent. */
  if (g_hash_table_remove (store->entries, path))
    persist (store, path, NULL);
  soup_server_message_set_status (msg, 204, NULL);
}

void
rdt_srv_data_handle (RdtSrvData *store, RdtSrvState *state,
                     SoupServerMessage *msg, const gchar *method,
                     const gchar *space_id, const gchar *caller,
                     const gchar *path, JsonObject *body)
{
  if (strcmp (method, "GET") == 0)
    handle_get (store, state, msg, caller, path);
  else if (strcmp (method, "PUT") == 0)
    handle_put (store, state, msg, space_id, caller, path, body);
  else if (strcmp (method, "DELETE") == 0)
    handle_delete (store, state, msg, caller, path);
  else
    reply_detail (msg, 405, "Method Not Allowed");
}
