/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state.c - the verified state log replayed into the space's state. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "chain.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "message.h"
#include "state.h"

#define STATE_TOPIC "state"
/* State paths are short in practice; a longer one is not ours to read. */
#define MAX_PATH_LENGTH 512

typedef struct {
  RdtStateEntry pub;
  gchar *path, *data, *sender, *hash;
} Entry;

struct _RdtState {
  gchar *space_id;
  guint8 owner_pk[32];
  guint8 *state_key;        /* secret memory */
  RdtChain *chain;
  GHashTable *entries;      /* path -> Entry */
  GHashTable *tool_uses;    /* T id -> GUINT: its state writes so far */
  gint64 newest_ts;
  guint serial;
};

static void
entry_free (gpointer p)
{
  Entry *e = p;

  g_free (e->path);
  g_free (e->data);
  g_free (e->sender);
  g_free (e->hash);
  g_free (e);
}

RdtState *
rdt_state_new (const gchar *space_id, const guint8 state_key[RDT_KEY_LENGTH])
{
  RdtState *state;

  g_return_val_if_fail (state_key != NULL, NULL);
  g_return_val_if_fail (rdt_id_is_valid (space_id, RDT_ID_SPACE), NULL);

  state = g_new0 (RdtState, 1);
  state->space_id = g_strdup (space_id);
  rdt_id_get_public_key (space_id, state->owner_pk, NULL);
  state->state_key = rdt_secret_alloc (RDT_KEY_LENGTH);
  memcpy (state->state_key, state_key, RDT_KEY_LENGTH);
  state->chain = rdt_chain_new (space_id, STATE_TOPIC);
  state->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          entry_free);
  state->tool_uses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            NULL);
  state->newest_ts = -1;
  return state;
}

void
rdt_state_free (RdtState *state)
{
  if (state == NULL)
    return;
  rdt_secret_free (state->state_key);
  rdt_chain_free (state->chain);
  g_hash_table_destroy (state->entries);
  g_hash_table_destroy (state->tool_uses);
  g_free (state->space_id);
  g_free (state);
}

gboolean
rdt_state_is_owner (RdtState *state, const gchar *id)
{
  guint8 pk[32];

  /* The owner signs as the U (or S) id of the space key (spec 6.2). */
  return id != NULL && rdt_id_get_public_key (id, pk, NULL) &&
         memcmp (pk, state->owner_pk, sizeof pk) == 0;
}

/* g_ptr_array_sort() passes pointers to the elements. */
static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* ---- applying entries ---- */

/* Splits "a/b/c" into exactly n segments, or NULL. */
static gchar **
split_path (const gchar *path, guint n)
{
  gchar **parts = g_strsplit (path, "/", -1);

  if (g_strv_length (parts) != n)
    {
      g_strfreev (parts);
      return NULL;
    }
  return parts;
}

static gboolean
entry_exists (RdtState *state, const gchar *prefix, const gchar *id)
{
  g_autofree gchar *path = g_strconcat (prefix, id, NULL);

  return g_hash_table_contains (state->entries, path);
}

JsonObject *
rdt_state_value_object (const gchar *data)
{
  g_autofree guint8 *raw = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;
  gsize len = 0;

  if (data == NULL || data[0] == '\0')
    return NULL;
  raw = rdt_base64_decode (data, -1, &len, NULL);
  if (raw == NULL || !rdt_json_check_text ((const gchar *) raw, len, NULL))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const gchar *) raw, (gssize) len,
                                   NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

/* Is the tool's auth/tools/{T} entry a live definition? As the server's
 * tool check (spec 4.3 step 6): it must exist, not be blanked and decode as
 * a JSON object; *use_limit is its integer "use_limit", or -1 if none. */
static gboolean
tool_definition (RdtState *state, const gchar *tool_id, gint64 *use_limit)
{
  g_autofree gchar *path = g_strconcat ("auth/tools/", tool_id, NULL);
  Entry *e = g_hash_table_lookup (state->entries, path);
  g_autoptr (JsonObject) o = e ? rdt_state_value_object (e->data) : NULL;
  JsonNode *lim;

  *use_limit = -1;
  if (o == NULL)
    return FALSE;
  lim = json_object_get_member (o, "use_limit");
  if (lim != NULL && JSON_NODE_HOLDS_VALUE (lim) &&
      json_node_get_value_type (lim) == G_TYPE_INT64)
    *use_limit = json_node_get_int (lim);
  return TRUE;
}

/* A state path segment the server accepts (spec 8.5: [A-Za-z0-9._-]+). */
static gboolean
segment_ok (const gchar *s)
{
  if (s == NULL || *s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '.' && *s != '_' && *s != '-')
      return FALSE;
  return TRUE;
}

/* The writes an invitation tool makes (spec 8.4, both schemes):
 * auth/users/{U}, auth/users/{U}/rights/{cap} (the working scheme this
 * plugin uses) and auth/users/{U}/roles/user (the SDK's). */
static gboolean
tool_path_ok (const gchar *path)
{
  g_auto (GStrv) p = g_strsplit (path, "/", -1);
  guint n = g_strv_length (p);

  if (n < 3 || !g_str_equal (p[0], "auth") || !g_str_equal (p[1], "users") ||
      !rdt_id_is_valid (p[2], RDT_ID_USER))
    return FALSE;
  if (n == 3)
    return TRUE;
  return n == 5 && ((g_str_equal (p[3], "rights") && segment_ok (p[4])) ||
                    (g_str_equal (p[3], "roles") && g_str_equal (p[4], "user")));
}

/* Why a linked, verified entry may not count; NULL if it may. Mirrors the
 * server's write-time chain of trust (spec 8.3, 8.5). *tool_use is set when
 * the write is one the server would have counted against the signing
 * tool's use_limit (spec 8.4), whether or not we accept its path. */
static gchar *
check_signer (RdtState *state, const RdtMessage *msg, gboolean *tool_use)
{
  RdtIdType type;
  guint8 raw[RDT_ID_RAW_LENGTH];
  g_auto (GStrv) parts = NULL;

  *tool_use = FALSE;
  if (strlen (msg->type) > MAX_PATH_LENGTH)
    return g_strdup (_("state path too long"));
  if (!rdt_state_is_owner (state, msg->sender))
    {
      if (!rdt_id_decode (msg->sender, &type, raw, NULL) ||
          (type != RDT_ID_USER && type != RDT_ID_TOOL) ||
          (type == RDT_ID_USER && !entry_exists (state, "auth/users/", msg->sender)))
        return g_strdup_printf (_("state entry %s is signed by %s, who is not "
                                  "a member of the space"),
                                msg->type, msg->sender);
      if (type == RDT_ID_TOOL)
        {
          gint64 limit;
          guint uses = GPOINTER_TO_UINT (g_hash_table_lookup (state->tool_uses,
                                                              msg->sender));

          /* A blanked (revoked) tool can still log in, but the server
           * refuses all its posts (spec 8.3). */
          if (!tool_definition (state, msg->sender, &limit))
            return g_strdup_printf (_("state entry %s is signed by the tool "
                                      "%s, which is not (or no longer) "
                                      "defined in the space"),
                                    msg->type, msg->sender);
          if (limit >= 0 && (gint64) uses >= limit)
            /* %lld, not G_GINT64_FORMAT: a macro would split the msgid */
            return g_strdup_printf (_("state entry %s is signed by the tool "
                                      "%s, which has used up its %lld "
                                      "writes"),
                                    msg->type, msg->sender,
                                    (long long) limit);
          *tool_use = TRUE;
          if (!tool_path_ok (msg->type))
            return g_strdup_printf (_("the tool %s may not write %s"),
                                    msg->sender, msg->type);
          /* Invitation tools hold "create" rights only. */
          if (msg->data[0] == '\0' ||
              g_hash_table_contains (state->entries, msg->type))
            return g_strdup_printf (_("the tool %s may only create %s, not "
                                      "change or delete it"),
                                    msg->sender, msg->type);
        }
    }
  /* A profile speaks for its member: only they (or the owner) write it. */
  parts = split_path (msg->type, 2);
  if (parts != NULL && g_str_equal (parts[0], "profiles") &&
      !rdt_state_is_owner (state, msg->sender) &&
      g_strcmp0 (parts[1], msg->sender) != 0)
    return g_strdup_printf (_("profile of %s is signed by %s"), parts[1],
                            msg->sender);
  /* The space's name is the owner's word: a member the server (or a
   * capability) let write it does not rename the space for everyone. */
  if (g_str_equal (msg->type, RDT_STATE_SPACE_PATH) &&
      !rdt_state_is_owner (state, msg->sender))
    return g_strdup_printf (_("space name is signed by %s, not the owner"),
                            msg->sender);
  return NULL;
}

static gboolean
path_counts_for_serial (const gchar *path)
{
  return g_str_has_prefix (path, "auth/users/") ||
         g_str_has_prefix (path, "auth/tools/") ||
         g_str_has_prefix (path, "profiles/") ||
         g_str_has_prefix (path, "topics/") ||
         g_str_equal (path, RDT_STATE_SPACE_PATH);
}

static gboolean
apply (RdtState *state, RdtMessage *msg, GPtrArray *rejected)
{
  gboolean tool_use;
  g_autofree gchar *why = check_signer (state, msg, &tool_use);
  Entry *e;

  if (tool_use)
    g_hash_table_replace (state->tool_uses, g_strdup (msg->sender),
        GUINT_TO_POINTER (GPOINTER_TO_UINT (
            g_hash_table_lookup (state->tool_uses, msg->sender)) + 1));
  if (why != NULL)
    {
      if (rejected != NULL)
        {
          RdtChainRejection *r = g_new0 (RdtChainRejection, 1);

          r->msg = rdt_message_ref (msg);
          r->error = g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED, why);
          g_ptr_array_add (rejected, r);
        }
      return FALSE;
    }
  e = g_new0 (Entry, 1);
  e->path = g_strdup (msg->type);
  e->data = g_strdup (msg->data);
  e->sender = g_strdup (msg->sender);
  e->hash = g_strdup (msg->message_hash);
  e->pub.path = e->path;
  e->pub.data = e->data;
  e->pub.sender = e->sender;
  e->pub.message_hash = e->hash;
  e->pub.timestamp = msg->server_timestamp;
  g_hash_table_replace (state->entries, e->path, e);
  if (path_counts_for_serial (e->path))
    state->serial++;
  return TRUE;
}

guint
rdt_state_ingest (RdtState *state, GPtrArray *messages, GPtrArray *rejected)
{
  g_autoptr (GPtrArray) ready = NULL;
  guint applied = 0;

  g_return_val_if_fail (state != NULL && messages != NULL, 0);

  /* Linked one by one, not rdt_chain_ingest_page(): a page trusts its
   * newest run on first use (TOFU), but the state is only meaningful from
   * its first message, so an un-anchored chain here accepts nothing but the
   * state topic's genesis (prev_hash null) and parks the rest until it
   * links. Verification alone has no trust rule: it runs on all cores. */
  rdt_chain_ingest_each (state->chain, messages, rejected);
  ready = rdt_chain_take_ready (state->chain);
  for (guint i = 0; ready != NULL && i < ready->len; i++)
    {
      RdtMessage *msg = ready->pdata[i];

      state->newest_ts = MAX (state->newest_ts, msg->server_timestamp);
      if (apply (state, msg, rejected))
        applied++;
    }
  return applied;
}

gint64
rdt_state_get_newest_timestamp (RdtState *state)
{
  return state->newest_ts;
}

const gchar *
rdt_state_get_head (RdtState *state)
{
  RdtMessage *head = rdt_chain_get_head (state->chain);

  return head ? head->message_hash : NULL;
}

guint
rdt_state_get_n_entries (RdtState *state)
{
  return g_hash_table_size (state->entries);
}

guint
rdt_state_get_serial (RdtState *state)
{
  return state->serial;
}

const RdtStateEntry *
rdt_state_lookup (RdtState *state, const gchar *path)
{
  Entry *e = path ? g_hash_table_lookup (state->entries, path) : NULL;

  return e ? &e->pub : NULL;
}

/* ---- members ---- */

gboolean
rdt_state_is_member (RdtState *state, const gchar *user_id)
{
  g_autofree gchar *path = NULL;
  const RdtStateEntry *e;

  if (!rdt_id_is_valid (user_id, RDT_ID_USER))
    return FALSE;
  if (rdt_state_is_owner (state, user_id))
    return TRUE;
  path = g_strconcat ("auth/users/", user_id, NULL);
  e = rdt_state_lookup (state, path);
  return e != NULL && e->data[0] != '\0';
}

GPtrArray *
rdt_state_list_members (RdtState *state)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;
  gchar *owner = rdt_id_convert (state->space_id, RDT_ID_USER);

  g_hash_table_iter_init (&iter, state->entries);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_auto (GStrv) parts = split_path (key, 3);

      if (parts && g_str_equal (parts[0], "auth") &&
          g_str_equal (parts[1], "users") &&
          g_strcmp0 (parts[2], owner) != 0 &&
          rdt_state_is_member (state, parts[2]))
        g_ptr_array_add (out, g_strdup (parts[2]));
    }
  g_ptr_array_sort (out, compare_strings);
  g_ptr_array_insert (out, 0, owner);
  return out;
}

GPtrArray *
rdt_state_list_capabilities (RdtState *state, const gchar *id)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *prefix = g_strconcat (id && id[0] == 'T' ? "auth/tools/"
                                                             : "auth/users/",
                                          id, "/rights/", NULL);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, state->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Entry *e = value;
      g_autoptr (JsonObject) o = NULL;

      if (!g_str_has_prefix (key, prefix) ||
          (o = rdt_state_value_object (e->data)) == NULL)
        continue;
      if (!json_object_has_member (o, "op") || !json_object_has_member (o, "path") ||
          json_node_get_value_type (json_object_get_member (o, "op")) != G_TYPE_STRING ||
          json_node_get_value_type (json_object_get_member (o, "path")) != G_TYPE_STRING)
        continue;
      {
        g_autofree gchar *op = rdt_state_clean_name (json_object_get_string_member (o, "op"));
        g_autofree gchar *path = rdt_state_clean_name (json_object_get_string_member (o, "path"));

        if (op && path)
          g_ptr_array_add (out, g_strdup_printf ("%s %s", op, path));
      }
    }
  g_ptr_array_sort (out, compare_strings);
  return out;
}

/* ---- encrypted JSON values ---- */

gchar *
rdt_state_clean_name (const gchar *name)
{
  g_autofree gchar *valid = NULL;
  GString *out;
  const gchar *p;
  glong n = 0;
  gboolean space = FALSE;

  if (name == NULL)
    return NULL;
  valid = g_utf8_make_valid (name, -1);
  out = g_string_new (NULL);
  for (p = valid; *p && n < RDT_STATE_MAX_NAME; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      GUnicodeType t = g_unichar_type (c);

      /* Control and format characters (bidi overrides, zero-width) could
       * make one name look like another: drop them. */
      if (t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT ||
          t == G_UNICODE_UNASSIGNED || t == G_UNICODE_SURROGATE ||
          t == G_UNICODE_PRIVATE_USE)
        continue;
      if (g_unichar_isspace (c) || t == G_UNICODE_LINE_SEPARATOR ||
          t == G_UNICODE_PARAGRAPH_SEPARATOR)
        {
          space = out->len > 0;
          continue;
        }
      if (space)
        {
          g_string_append_c (out, ' ');
          n++;
          space = FALSE;
          if (n >= RDT_STATE_MAX_NAME)
            break;
        }
      g_string_append_unichar (out, c);
      n++;
    }
  if (out->len == 0)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* Decrypts an entry written with encode_json_encrypted() and returns its
 * JSON object (a new ref), or NULL. */
static JsonObject *
decrypt_object (RdtState *state, const RdtStateEntry *e)
{
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (JsonParser) parser = NULL;
  const gchar *bytes;
  gsize len;
  JsonNode *root;

  if (e == NULL || e->data[0] == '\0')
    return NULL;
  plain = rdt_payload_decrypt (state->state_key, e->data, NULL);
  if (plain == NULL)
    return NULL;
  bytes = g_bytes_get_data (plain, &len);
  if (!rdt_json_check_text (bytes, len, NULL))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, bytes, (gssize) len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

static gchar *
object_name (JsonObject *obj, const gchar *member)
{
  JsonNode *n = obj ? json_object_get_member (obj, member) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return rdt_state_clean_name (json_node_get_string (n));
}

gchar *
rdt_state_get_display_name (RdtState *state, const gchar *user_id)
{
  g_autofree gchar *path = g_strconcat ("profiles/", user_id, NULL);
  g_autoptr (JsonObject) obj = decrypt_object (state, rdt_state_lookup (state, path));

  return object_name (obj, "display_name");
}

GPtrArray *
rdt_state_list_topics (RdtState *state)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, state->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_auto (GStrv) parts = split_path (key, 3);
      Entry *e = value;

      if (parts && g_str_equal (parts[0], "topics") &&
          g_str_equal (parts[2], "metadata") && e->data[0] != '\0' &&
          !g_str_equal (parts[1], STATE_TOPIC) &&
          rdt_topic_id_validate (parts[1], NULL))
        g_ptr_array_add (out, g_strdup (parts[1]));
    }
  g_ptr_array_sort (out, compare_strings);
  return out;
}

gchar *
rdt_state_get_topic_name (RdtState *state, const gchar *topic_id)
{
  g_autofree gchar *path = g_strconcat ("topics/", topic_id, "/metadata", NULL);
  g_autoptr (JsonObject) obj = decrypt_object (state, rdt_state_lookup (state, path));
  JsonNode *topic;

  /* The metadata names the topic it is about: a copy pasted under another
   * path does not rename that topic. */
  topic = obj ? json_object_get_member (obj, "topic") : NULL;
  if (topic == NULL || !JSON_NODE_HOLDS_VALUE (topic) ||
      json_node_get_value_type (topic) != G_TYPE_STRING ||
      g_strcmp0 (json_node_get_string (topic), topic_id) != 0)
    return NULL;
  return object_name (obj, "name");
}

gchar *
rdt_state_get_space_name (RdtState *state)
{
  g_autoptr (JsonObject) obj = decrypt_object (state,
      rdt_state_lookup (state, RDT_STATE_SPACE_PATH));
  JsonNode *space;

  /* bound to this space, like topic metadata to its topic */
  space = obj ? json_object_get_member (obj, "space") : NULL;
  if (space == NULL || !JSON_NODE_HOLDS_VALUE (space) ||
      json_node_get_value_type (space) != G_TYPE_STRING ||
      g_strcmp0 (json_node_get_string (space), state->space_id) != 0)
    return NULL;
  return object_name (obj, "name");
}

/* ---- encoders ---- */

static gchar *
builder_to_string (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);

  return json_to_string (root, FALSE);
}

static gchar *
encode_encrypted (RdtState *state, JsonBuilder *b, GError **error)
{
  g_autofree gchar *json = builder_to_string (b);
  gchar *data = rdt_payload_encrypt (state->state_key, (const guint8 *) json,
                                     strlen (json));

  if (data == NULL)
    g_set_error_literal (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                         _("state value too large"));
  return data;
}

gchar *
rdt_state_encode_profile (RdtState *state, const gchar *display_name,
                          GError **error)
{
  g_autofree gchar *clean = rdt_state_clean_name (display_name);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (clean == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_FAILED,
                           _("the display name is empty"));
      return NULL;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "display_name");
  json_builder_add_string_value (b, clean);
  json_builder_end_object (b);
  return encode_encrypted (state, b, error);
}

gchar *
rdt_state_encode_topic_metadata (RdtState *state, const gchar *topic_id,
                                 const gchar *name, GError **error)
{
  g_autofree gchar *clean = rdt_state_clean_name (name);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (!rdt_topic_id_validate (topic_id, error))
    return NULL;
  if (clean == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_FAILED,
                           _("the topic name is empty"));
      return NULL;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, clean);
  json_builder_set_member_name (b, "topic");
  json_builder_add_string_value (b, topic_id);
  json_builder_end_object (b);
  return encode_encrypted (state, b, error);
}

gchar *
rdt_state_encode_space_metadata (RdtState *state, const gchar *name,
                                 GError **error)
{
  g_autofree gchar *clean = rdt_state_clean_name (name);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (clean == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_FAILED,
                           _("the space name is empty"));
      return NULL;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, clean);
  json_builder_set_member_name (b, "space");
  json_builder_add_string_value (b, state->space_id);
  json_builder_end_object (b);
  return encode_encrypted (state, b, error);
}

static gchar *
encode_plain (JsonBuilder *b)
{
  g_autofree gchar *json = builder_to_string (b);

  return rdt_base64_encode ((const guint8 *) json, strlen (json));
}

gchar *
rdt_state_encode_user_entry (const gchar *user_id)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user_id");
  json_builder_add_string_value (b, user_id);
  json_builder_end_object (b);
  return encode_plain (b);
}

gchar *
rdt_state_encode_capability (const gchar *op, const gchar *path)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "op");
  json_builder_add_string_value (b, op);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, path);
  json_builder_end_object (b);
  return encode_plain (b);
}

gchar *
rdt_state_encode_tool_entry (const gchar *tool_id, guint use_limit)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "tool_id");
  json_builder_add_string_value (b, tool_id);
  json_builder_set_member_name (b, "use_limit");
  json_builder_add_int_value (b, use_limit);
  json_builder_end_object (b);
  return encode_plain (b);
}
