/* SPDX-License-Identifier: GPL-2.0-or-later */
/* authz.c - the test server's state model and authorization rules
 * (spec 6.2, 8.1-8.5, 4.3). See authz.h. Every state value is hostile:
 * anything that does not decode as base64 JSON of the expected shape is
 * skipped (load time) or refused (write time), never trusted. */
#include "authz.h"

#include <string.h>
#include <json-glib/json-glib.h>
#include "encoding.h"
#include "id.h"

/* Chains of trust longer than this are treated as invalid (cycle guard). */
#define MAX_CHAIN_DEPTH 64
/* Largest decoded state value we parse as JSON. */
#define MAX_JSON_BYTES (128 * 1024)

struct _RdtSrvState {
  gchar      *space_id;
  guint8      owner_pk[32];
  gboolean    have_owner;
  GHashTable *entries;   /* path -> RdtMessage* (latest) */
  GHashTable *creators;  /* path -> sender of the first message there */
};

typedef struct {
  gchar   *op;
  gchar   *path;
  gboolean must_be_owner;
} Cap;

static void
cap_free (gpointer p)
{
  Cap *c = p;
  g_free (c->op);
  g_free (c->path);
  g_free (c);
}

RdtSrvState *
rdt_srv_state_new (const gchar *space_id)
{
  RdtSrvState *s = g_new0 (RdtSrvState, 1);
  s->space_id = g_strdup (space_id);
  if (space_id && rdt_id_decode_typed (space_id, RDT_ID_SPACE, s->owner_pk, NULL))
    s->have_owner = TRUE;
  s->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) rdt_message_unref);
  s->creators = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return s;
}

void
rdt_srv_state_free (RdtSrvState *state)
{
  if (!state)
    return;
  g_hash_table_unref (state->entries);
  g_hash_table_unref (state->creators);
  g_free (state->space_id);
  g_free (state);
}

void
rdt_srv_state_apply (RdtSrvState *state, const RdtMessage *msg)
{
  if (!state || !msg || !msg->type)
    return;
  /* the creator of an entry is the sender of its first message */
  if (!g_hash_table_contains (state->creators, msg->type))
    g_hash_table_insert (state->creators, g_strdup (msg->type),
                         g_strdup (msg->sender ? msg->sender : ""));
  g_hash_table_insert (state->entries, g_strdup (msg->type),
                       rdt_message_ref ((RdtMessage *) msg));
}

const RdtMessage *
rdt_srv_state_lookup (RdtSrvState *state, const gchar *path)
{
  if (!state || !path)
    return NULL;
  return g_hash_table_lookup (state->entries, path);
}

gboolean
rdt_srv_state_is_owner (RdtSrvState *state, const gchar *id)
{
  RdtIdType type;
  guint8 raw[RDT_ID_RAW_LENGTH];

  if (!state || !id || !state->have_owner)
    return FALSE;
  if (!rdt_id_decode (id, &type, raw, NULL))
    return FALSE;
  if (type != RDT_ID_SPACE && type != RDT_ID_USER)
    return FALSE;
  return memcmp (raw + 1, state->owner_pk, 32) == 0;
}

/* auth/users/{U} or auth/tools/{T} for a U or T id, else NULL. */
static gchar *
member_path (const gchar *id)
{
  RdtIdType type;
  if (!id || !rdt_id_decode (id, &type, NULL, NULL))
    return NULL;
  if (type == RDT_ID_USER)
    return g_strconcat ("auth/users/", id, NULL);
  if (type == RDT_ID_TOOL)
    return g_strconcat ("auth/tools/", id, NULL);
  return NULL;
}

static gboolean
has_chain (RdtSrvState *state, const gchar *id, guint depth)
{
  g_autofree gchar *path = NULL;
  const gchar *creator;

  if (rdt_srv_state_is_owner (state, id))
    return TRUE;
  if (depth >= MAX_CHAIN_DEPTH)
    return FALSE;
  path = member_path (id);
  if (!path || !g_hash_table_contains (state->entries, path))
    return FALSE;
  creator = g_hash_table_lookup (state->creators, path);
  if (!creator || g_strcmp0 (creator, id) == 0)
    return FALSE;   /* self-signed */
  return has_chain (state, creator, depth + 1);
}

gboolean
rdt_srv_state_is_member (RdtSrvState *state, const gchar *id)
{
  if (!state || !id)
    return FALSE;
  return has_chain (state, id, 0);
}

/* ---- capabilities ---- */

static gboolean
op_valid (const gchar *op)
{
  return g_strcmp0 (op, "read") == 0 || g_strcmp0 (op, "create") == 0 ||
         g_strcmp0 (op, "modify") == 0 || g_strcmp0 (op, "delete") == 0 ||
         g_strcmp0 (op, "write") == 0;
}

/* Decode a base64 JSON object; NULL on anything else. */
static JsonObject *
decode_object (const gchar *data, JsonParser **parser_out)
{
  g_autofree guint8 *bytes = NULL;
  gsize len = 0;
  JsonParser *parser;
  JsonNode *root;

  *parser_out = NULL;
  if (!data || !*data || strlen (data) > RDT_MAX_DATA_CHARS)
    return NULL;
  /* json.loads(b64decode(data)) on the real server: lenient base64 */
  bytes = rdt_base64_decode_lenient (data, -1, &len, NULL);
  if (!bytes || len == 0 || len > MAX_JSON_BYTES)
    return NULL;
  if (!rdt_json_check_text ((const gchar *) bytes, len, NULL))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const gchar *) bytes, len, NULL))
    {
      g_object_unref (parser);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_object_unref (parser);
      return NULL;
    }
  *parser_out = parser;
  return json_node_get_object (root);
}

static const gchar *
obj_string (JsonObject *o, const gchar *name)
{
  JsonNode *n = json_object_get_member (o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static Cap *
cap_decode (const gchar *data)
{
  JsonParser *parser = NULL;
  JsonObject *o = decode_object (data, &parser);
  const gchar *op, *path;
  JsonNode *mbo;
  Cap *c = NULL;

  if (!o)
    return NULL;
  op = obj_string (o, "op");
  path = obj_string (o, "path");
  if (op_valid (op) && path)
    {
      c = g_new0 (Cap, 1);
      c->op = g_strdup (op);
      c->path = g_strdup (path);
      mbo = json_object_get_member (o, "must_be_owner");
      if (mbo && JSON_NODE_HOLDS_VALUE (mbo) &&
          json_node_get_value_type (mbo) == G_TYPE_BOOLEAN)
        c->must_be_owner = json_node_get_boolean (mbo);
    }
  g_object_unref (parser);
  return c;
}

/* Split after stripping leading/trailing '/'. "" -> empty vector. */
static gchar **
split_path (const gchar *path)
{
  gsize len = strlen (path);
  const gchar *b = path, *e = path + len;
  g_autofree gchar *mid = NULL;
  while (b < e && *b == '/')
    b++;
  while (e > b && e[-1] == '/')
    e--;
  if (b == e)
    return g_new0 (gchar *, 1);
  mid = g_strndup (b, e - b);
  return g_strsplit (mid, "/", -1);
}

static gboolean
pattern_match (const gchar *pattern, const gchar *path, const gchar *caller)
{
  g_auto(GStrv) p = split_path (pattern);
  g_auto(GStrv) s = split_path (path);
  guint np = g_strv_length (p), ns = g_strv_length (s), i;

  for (i = 0; i < np; i++)
    {
      if (i == np - 1 && strcmp (p[i], "{...}") == 0)
        return TRUE;
      if (i >= ns)
        return FALSE;
      if (strcmp (p[i], "{any}") == 0)
        continue;
      if (strcmp (p[i], "{self}") == 0)
        {
          if (g_strcmp0 (s[i], caller) != 0)
            return FALSE;
          continue;
        }
      if (strcmp (p[i], "{other}") == 0)
        {
          if (g_strcmp0 (s[i], caller) == 0)
            return FALSE;
          continue;
        }
      if (strcmp (p[i], s[i]) != 0)
        return FALSE;
    }
  return np == ns;
}

/* Entries exactly one segment below prefix. */
static gboolean
direct_child (const gchar *path, const gchar *prefix, gsize plen)
{
  return strncmp (path, prefix, plen) == 0 && path[plen] != '\0' &&
         strchr (path + plen, '/') == NULL;
}

static void
load_caps_prefix (RdtSrvState *state, const gchar *prefix, GPtrArray *out)
{
  GHashTableIter it;
  gpointer k, v;
  gsize plen = strlen (prefix);

  g_hash_table_iter_init (&it, state->entries);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const RdtMessage *m = v;
      Cap *c;
      if (!direct_child (k, prefix, plen))
        continue;
      c = cap_decode (m->data);   /* "" (revoked) or garbage: skipped */
      if (c)
        g_ptr_array_add (out, c);
    }
}

/* Capabilities of a role: auth/roles/{R}/rights/{cap}. */
static GPtrArray *
role_caps (RdtSrvState *state, const gchar *role)
{
  GPtrArray *caps = g_ptr_array_new_with_free_func (cap_free);
  g_autofree gchar *prefix = g_strconcat ("auth/roles/", role, "/rights/", NULL);
  load_caps_prefix (state, prefix, caps);
  return caps;
}

static gboolean
grant_expired (JsonObject *o)
{
  JsonNode *exp = json_object_get_member (o, "expires_at");
  gdouble now = (gdouble) (g_get_real_time () / 1000);
  GType t;

  if (!exp || !JSON_NODE_HOLDS_VALUE (exp))
    return FALSE;
  t = json_node_get_value_type (exp);
  if (t == G_TYPE_INT64)
    return (gdouble) json_node_get_int (exp) < now;
  if (t == G_TYPE_DOUBLE)
    return json_node_get_double (exp) < now;
  return FALSE;
}

/* All capabilities of a holder with a valid chain of trust. As a user:
 * direct rights + roles with unexpired grants; as a tool: tool rights
 * only. With as_user the id is looked up under auth/users/ whatever its
 * type: that is how the grant checks treat tools (spec 8.4). */
static GPtrArray *
load_caps (RdtSrvState *state, const gchar *id, gboolean as_user)
{
  GPtrArray *caps = g_ptr_array_new_with_free_func (cap_free);
  g_autofree gchar *prefix = NULL;
  g_autofree gchar *rprefix = NULL;
  RdtIdType type;
  GHashTableIter it;
  gpointer k, v;
  gsize rlen;

  if (!id || !rdt_id_decode (id, &type, NULL, NULL) || !has_chain (state, id, 0))
    return caps;
  if (!as_user && type == RDT_ID_TOOL)
    {
      prefix = g_strconcat ("auth/tools/", id, "/rights/", NULL);
      load_caps_prefix (state, prefix, caps);
      return caps;
    }
  prefix = g_strconcat ("auth/users/", id, "/rights/", NULL);
  load_caps_prefix (state, prefix, caps);

  rprefix = g_strconcat ("auth/users/", id, "/roles/", NULL);
  rlen = strlen (rprefix);
  g_hash_table_iter_init (&it, state->entries);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const RdtMessage *m = v;
      JsonParser *parser = NULL;
      JsonObject *o;
      gboolean ok;

      if (!direct_child (k, rprefix, rlen))
        continue;
      o = decode_object (m->data, &parser);
      if (!o)
        continue;
      ok = !grant_expired (o);
      g_object_unref (parser);
      if (ok)
        {
          GPtrArray *rc = role_caps (state, (const gchar *) k + rlen);
          guint i;
          for (i = 0; i < rc->len; i++)
            g_ptr_array_add (caps, rc->pdata[i]);
          g_ptr_array_set_free_func (rc, NULL);
          g_ptr_array_unref (rc);
        }
    }
  return caps;
}

static gboolean
op_grants (const gchar *cap_op, const gchar *op)
{
  return g_strcmp0 (cap_op, "write") == 0 || g_strcmp0 (cap_op, op) == 0;
}

static gboolean
caps_permit (GPtrArray *caps, const gchar *caller, const gchar *op,
             const gchar *path, const gchar *owner_of_target)
{
  g_auto(GStrv) segs = split_path (path);
  gboolean is_topic = segs[0] && strcmp (segs[0], "topics") == 0;
  guint i;

  for (i = 0; i < caps->len; i++)
    {
      Cap *c = caps->pdata[i];
      if (!op_grants (c->op, op) || !pattern_match (c->path, path, caller))
        continue;
      if (c->must_be_owner)
        {
          if (is_topic)
            continue;   /* never grants anything on topics */
          if (strcmp (op, "create") == 0)
            return TRUE;
          if (owner_of_target && g_strcmp0 (owner_of_target, caller) == 0)
            return TRUE;
          continue;
        }
      return TRUE;
    }
  return FALSE;
}

gboolean
rdt_srv_state_check_permission (RdtSrvState *state, const gchar *caller_id,
                                const gchar *op, const gchar *path,
                                const gchar *owner_of_target)
{
  g_autoptr(GPtrArray) caps = NULL;

  if (!state || !caller_id || !op || !path)
    return FALSE;
  if (rdt_srv_state_is_owner (state, caller_id))
    return TRUE;
  if (!op_valid (op))
    return FALSE;
  caps = load_caps (state, caller_id, FALSE);
  return caps_permit (caps, caller_id, op, path, owner_of_target);
}

/* ---- write validation ---- */

static gboolean
segment_valid (const gchar *s)
{
  if (!*s)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '.' && *s != '_' && *s != '-')
      return FALSE;
  return TRUE;
}

static gboolean
is_wildcard (const gchar *s)
{
  return strcmp (s, "{any}") == 0 || strcmp (s, "{self}") == 0 ||
         strcmp (s, "{other}") == 0 || strcmp (s, "{...}") == 0;
}

static gboolean
cap_pattern_valid (const gchar *pattern)
{
  g_auto(GStrv) p = split_path (pattern);
  guint n = g_strv_length (p), i;

  if (n == 0)
    return FALSE;
  if (n == 1 && (strcmp (p[0], "{any}") == 0 || strcmp (p[0], "{...}") == 0))
    return TRUE;
  if (strcmp (p[0], "state") != 0 && strcmp (p[0], "data") != 0 &&
      strcmp (p[0], "topics") != 0 && strcmp (p[0], "blobs") != 0)
    return FALSE;
  for (i = 1; i < n; i++)
    if (!segment_valid (p[i]) && !is_wildcard (p[i]))
      return FALSE;
  return TRUE;
}

/* Does held segment a cover granted segment b, for granter g? */
static gboolean
seg_covers (const gchar *a, const gchar *b, const gchar *g)
{
  if (strcmp (a, "{any}") == 0)
    return strcmp (b, "{...}") != 0;
  if (strcmp (a, "{self}") == 0)
    return strcmp (b, "{self}") == 0 || g_strcmp0 (b, g) == 0;
  if (strcmp (a, "{other}") == 0)
    return strcmp (b, "{other}") == 0 ||
           (!is_wildcard (b) && g_strcmp0 (b, g) != 0);
  return strcmp (a, b) == 0;
}

static gboolean
pattern_covers (const gchar *held, const gchar *granted, const gchar *g)
{
  g_auto(GStrv) a = split_path (held);
  g_auto(GStrv) b = split_path (granted);
  guint na = g_strv_length (a), nb = g_strv_length (b), i;

  for (i = 0; i < na; i++)
    {
      if (i == na - 1 && strcmp (a[i], "{...}") == 0)
        return TRUE;
      if (i >= nb || !seg_covers (a[i], b[i], g))
        return FALSE;
    }
  return na == nb;
}

/* Superset test: some held capability covers the granted one. */
static gboolean
caps_cover (GPtrArray *held, const Cap *granted, const gchar *granter)
{
  guint i;
  for (i = 0; i < held->len; i++)
    {
      Cap *h = held->pdata[i];
      if (!op_grants (h->op, granted->op))
        continue;
      if (h->must_be_owner && !granted->must_be_owner)
        continue;
      if (pattern_covers (h->path, granted->path, granter))
        return TRUE;
    }
  return FALSE;
}

static gboolean
path_is_cap (gchar **seg, guint n)
{
  return n == 5 && strcmp (seg[0], "auth") == 0 &&
         (strcmp (seg[1], "users") == 0 || strcmp (seg[1], "roles") == 0 ||
          strcmp (seg[1], "tools") == 0) &&
         strcmp (seg[3], "rights") == 0;
}

static gboolean
path_is_role_grant (gchar **seg, guint n)
{
  return n == 5 && strcmp (seg[0], "auth") == 0 &&
         strcmp (seg[1], "users") == 0 && strcmp (seg[3], "roles") == 0;
}

static gboolean
fail (gchar **detail_out, gchar *detail)
{
  if (detail_out)
    *detail_out = detail;
  else
    g_free (detail);
  return FALSE;
}

static gboolean
check_cap_grant (RdtSrvState *state, const gchar *sender, gboolean owner,
                 const gchar *data)
{
  Cap *c = cap_decode (data);
  gboolean ok = c != NULL && cap_pattern_valid (c->path);
  RdtIdType type;

  if (ok && !owner &&
      !(rdt_id_decode (sender, &type, NULL, NULL) && type == RDT_ID_TOOL))
    {
      /* tools skip this (spec 8.4); users need create on the rights
       * path and a superset */
      g_autoptr(GPtrArray) held = load_caps (state, sender, TRUE);
      ok = caps_permit (held, sender, "create",
                        "state/auth/users/{any}/rights/", NULL) &&
           caps_cover (held, c, sender);
    }
  if (c)
    cap_free (c);
  return ok;
}

gboolean
rdt_srv_state_validate_write (RdtSrvState *state, const gchar *sender,
                              const gchar *path, const gchar *data,
                              gchar **detail_out)
{
  g_auto(GStrv) seg = NULL;
  g_autofree gchar *full = NULL;
  guint n, i;
  gboolean owner, member_creation;
  const gchar *op;
  const RdtMessage *existing;

  if (detail_out)
    *detail_out = NULL;
  if (!state || !sender || !path || !data)
    return fail (detail_out, g_strdup ("Invalid path: missing path or data"));

  /* 1. path syntax */
  seg = split_path (path);
  n = g_strv_length (seg);
  if (n == 0)
    return fail (detail_out, g_strdup ("Invalid path: Path cannot be empty"));
  for (i = 0; i < n; i++)
    if (!segment_valid (seg[i]))
      return fail (detail_out,
                   g_strdup_printf ("Invalid path: Invalid path segment '%s'", seg[i]));

  owner = rdt_srv_state_is_owner (state, sender);
  member_creation = n == 3 && strcmp (seg[0], "auth") == 0 &&
                    (strcmp (seg[1], "users") == 0 || strcmp (seg[1], "tools") == 0);

  /* 2. chain of trust */
  if (member_creation)
    {
      /* self-signed entries never count */
      if (!owner && (g_strcmp0 (sender, seg[2]) == 0 || !has_chain (state, sender, 0)))
        return fail (detail_out,
                     g_strdup_printf ("Creator %s has invalid chain of trust - "
                                      "cannot create new members", sender));
    }
  else if (!has_chain (state, sender, 0))
    return fail (detail_out,
                 g_strdup_printf ("Signer %s has invalid chain of trust", sender));

  /* 3. capability entries ("" = revocation: nothing to decode) */
  if (path_is_cap (seg, n) && *data && !check_cap_grant (state, sender, owner, data))
    return fail (detail_out,
                 g_strdup ("Invalid capability grant or privilege escalation"));

  /* 4. role grants */
  if (path_is_role_grant (seg, n) && *data)
    {
      JsonParser *parser = NULL;
      JsonObject *o = decode_object (data, &parser);
      const gchar *uid, *rid;
      gchar *d = NULL;

      if (!o)
        return fail (detail_out,
                     g_strdup ("Role grants must be base64-encoded JSON objects"));
      uid = obj_string (o, "user_id");
      rid = obj_string (o, "role_id");
      if (g_strcmp0 (uid, seg[2]) != 0)
        d = g_strdup_printf ("Role grant user_id mismatch: path has '%s' but "
                             "data has '%s'", seg[2], uid ? uid : "None");
      else if (g_strcmp0 (rid, seg[4]) != 0)
        d = g_strdup_printf ("Role grant role_id mismatch: path has '%s' but "
                             "data has '%s'", seg[4], rid ? rid : "None");
      g_object_unref (parser);
      if (d)
        return fail (detail_out, d);
      if (!owner)
        {
          g_autoptr(GPtrArray) rc = role_caps (state, seg[4]);
          gboolean ok = TRUE;
          if (rc->len > 0)
            {
              /* the granter's caps are loaded as a user's, which a tool
               * never has: the 8.4 limitation */
              g_autoptr(GPtrArray) held = load_caps (state, sender, TRUE);
              ok = caps_permit (held, sender, "create",
                                "state/auth/users/{any}/roles/", NULL);
              for (i = 0; ok && i < rc->len; i++)
                ok = caps_cover (held, rc->pdata[i], sender);
            }
          if (!ok)
            return fail (detail_out,
                         g_strdup ("Invalid role grant or privilege escalation"));
        }
    }

  /* 5. operation and permission */
  existing = g_hash_table_lookup (state->entries, path);
  if (!*data)
    op = "delete";
  else if (existing)
    op = "modify";
  else
    op = "create";
  full = g_strconcat ("state/", path, NULL);
  if (!rdt_srv_state_check_permission (state, sender, op, full,
                                       existing ? existing->sender : NULL))
    return fail (detail_out,
                 g_strdup_printf ("No %s permission for state path: %s", op, path));
  return TRUE;
}

gboolean
rdt_srv_state_check_tool (RdtSrvState *state, const gchar *tool_id,
                          guint uses, gchar **detail_out)
{
  g_autofree gchar *path = NULL;
  const RdtMessage *m;
  JsonParser *parser = NULL;
  JsonObject *o;
  JsonNode *lim;
  gchar *d = NULL;

  if (detail_out)
    *detail_out = NULL;
  if (!state || !tool_id || !rdt_id_is_valid (tool_id, RDT_ID_TOOL))
    return fail (detail_out, g_strdup_printf ("Invalid tool definition for %s",
                                              tool_id ? tool_id : "(null)"));
  path = g_strconcat ("auth/tools/", tool_id, NULL);
  m = g_hash_table_lookup (state->entries, path);
  if (!m)
    return fail (detail_out, g_strdup_printf ("Tool %s not found", tool_id));
  o = decode_object (m->data, &parser);
  if (!o)
    return fail (detail_out, g_strdup_printf ("Invalid tool definition for %s", tool_id));
  lim = json_object_get_member (o, "use_limit");
  if (lim && JSON_NODE_HOLDS_VALUE (lim) &&
      json_node_get_value_type (lim) == G_TYPE_INT64 &&
      (gint64) uses >= json_node_get_int (lim))
    d = g_strdup_printf ("Tool %s has exceeded use limit (%" G_GINT64_FORMAT ")",
                         tool_id, json_node_get_int (lim));
  g_object_unref (parser);
  if (d)
    return fail (detail_out, d);
  return TRUE;
}

guint
rdt_srv_status_for_detail (const gchar *detail)
{
  if (!detail)
    return 401;
  if (strstr (detail, "permission"))
    return 403;
  if (strstr (detail, "conflict"))
    return 409;
  if (strstr (detail, "mismatch") || strstr (detail, "signature") ||
      strstr (detail, "must have"))
    return 400;
  return 401;
}
