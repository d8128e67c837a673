/* SPDX-License-Identifier: GPL-2.0-or-later */
/* main.c - rdt-test-server: a small reeeductio-compatible server for tests.
 *
 * One process, one main loop, spaces held in memory and appended to
 * DATA_DIR/<space>.jsonl (one Message JSON per line) so a restart keeps
 * messages. Challenges and the JWT secret are per process (as upstream
 * without a configured jwt_secret). auto_create_spaces is on.
 * See STATUS.md for what is and is not implemented.
 */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "message.h"
#include "authz.h"
#include "blobs.h"
#include "data.h"
#include "faults.h"
#include "jwt.h"

#define MAX_DATA_CHARS 102400

typedef struct {
  gchar  *challenge;
  gint64  expires_ms;
} Challenge;

typedef struct {
  gchar       *id;
  RdtSrvState *state;
  RdtSrvData  *data;        /* the KV store, spec 11 */
  GHashTable  *topics;      /* topic -> GPtrArray of RdtMessage (chain order) */
  GHashTable  *by_hash;     /* hash -> RdtMessage */
  GHashTable  *challenges;  /* public_key -> Challenge */
  GHashTable  *tool_uses;   /* T id -> GUINT */
  GList       *sockets;     /* SoupWebsocketConnection */
  gint64       last_ts;
} Space;

static SoupServer *the_server;
static void ws_handler (SoupServer *server, SoupServerMessage *msg,
                        const char *path, SoupWebsocketConnection *ws,
                        gpointer user_data);
static void early_handler (SoupServer *server, SoupServerMessage *msg,
                           const char *path, GHashTable *query,
                           gpointer user_data);
static gchar *opt_data_dir;
static gint opt_port = 0;
static gchar *opt_bind = NULL;
static gint opt_token_ttl = 86400;
static gint64 opt_max_blob_size = 104857600;
static gint opt_ws_idle_ping = 30;
static gint opt_challenge_ttl = 300;
static gboolean opt_no_auto_create;
static gchar **opt_spaces;
static GHashTable *spaces;

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static void
challenge_free (gpointer p)
{
  Challenge *c = p;
  g_free (c->challenge);
  g_free (c);
}

static gchar *
space_file (const gchar *id)
{
  g_autofree gchar *name = g_strconcat (id, ".jsonl", NULL);
  return g_build_filename (opt_data_dir, name, NULL);
}

static void
space_insert (Space *sp, RdtMessage *msg)
{
  GPtrArray *arr = g_hash_table_lookup (sp->topics, msg->topic_id);
  if (!arr)
    {
      arr = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
      g_hash_table_insert (sp->topics, g_strdup (msg->topic_id), arr);
    }
  g_ptr_array_add (arr, rdt_message_ref (msg));
  g_hash_table_replace (sp->by_hash, g_strdup (msg->message_hash),
                        rdt_message_ref (msg));
  if (msg->server_timestamp > sp->last_ts)
    sp->last_ts = msg->server_timestamp;
  if (g_strcmp0 (msg->topic_id, "state") == 0)
    rdt_srv_state_apply (sp->state, msg);
}

static void
space_load (Space *sp)
{
  g_autofree gchar *path = space_file (sp->id);
  g_autofree gchar *contents = NULL;
  gchar **lines;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return;
  lines = g_strsplit (contents, "\n", -1);
  for (gchar **l = lines; *l; l++)
    {
      g_autoptr(GError) error = NULL;
      RdtMessage *msg;
      if (!**l)
        continue;
      msg = rdt_message_parse (*l, -1, &error);
      if (!msg)
        {
          g_printerr ("rdt-test-server: skipping bad line in %s: %s\n", path,
                      error->message);
          continue;
        }
      space_insert (sp, msg);
      rdt_message_unref (msg);
    }
  g_strfreev (lines);
}

static void
space_persist (Space *sp, const RdtMessage *msg)
{
  g_autofree gchar *path = space_file (sp->id);
  g_autofree gchar *line = rdt_message_to_json_string (msg);
  FILE *f = fopen (path, "a");
  if (!f)
    {
      g_printerr ("rdt-test-server: cannot write %s: %s\n", path,
                  g_strerror (errno));
      return;
    }
  fprintf (f, "%s\n", line);
  fflush (f);
  fsync (fileno (f));
  fclose (f);
}

/* NULL when the id is not a valid S id (then: 404). */
static Space *
space_get (const gchar *id)
{
  Space *sp = g_hash_table_lookup (spaces, id);
  if (sp)
    return sp;
  if (!rdt_id_is_valid (id, RDT_ID_SPACE))
    return NULL;
  /* auto_create_spaces; without it only --space ids and spaces that
   * already have data exist (404 for the rest, spec 6.1). */
  if (opt_no_auto_create &&
      !(opt_spaces && g_strv_contains ((const gchar * const *) opt_spaces, id)))
    {
      g_autofree gchar *file = space_file (id);
      if (!g_file_test (file, G_FILE_TEST_EXISTS))
        return NULL;
    }
  sp = g_new0 (Space, 1);
  sp->id = g_strdup (id);
  sp->state = rdt_srv_state_new (id);
  sp->data = rdt_srv_data_new (opt_data_dir, id);
  sp->topics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_ptr_array_unref);
  sp->by_hash = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) rdt_message_unref);
  sp->challenges = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          challenge_free);
  sp->tool_uses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (spaces, sp->id, sp);
  space_load (sp);
  /* A WebSocket handler per space: a handler on the "/spaces" prefix would
   * swallow every REST request of the space. */
  {
    g_autofree gchar *wpath = g_strdup_printf ("/spaces/%s/stream", id);
    soup_server_add_websocket_handler (the_server, wpath, NULL, NULL,
                                       ws_handler, NULL, NULL);
    /* Handlers are looked up per path: the token check must be on it too. */
    soup_server_add_early_handler (the_server, wpath, early_handler, NULL, NULL);
  }
  return sp;
}

/* ---- responses ---- */

static void
reply_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree gchar *body = json_to_string (node, FALSE);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    body, strlen (body));
  json_node_unref (node);
}

static void
reply_detail (SoupServerMessage *msg, guint status, const gchar *detail)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "detail");
  json_builder_add_string_value (b, detail);
  json_builder_end_object (b);
  reply_json (msg, status, json_builder_get_root (b));
  g_object_unref (b);
}

static void
reply_422 (SoupServerMessage *msg, const gchar *what)
{
  /* list-form detail, like FastAPI */
  g_autofree gchar *body = g_strdup_printf (
      "{\"detail\":[{\"type\":\"value_error\",\"loc\":[\"body\"],\"msg\":\"%s\"}]}",
      what);
  soup_server_message_set_status (msg, 422, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    body, strlen (body));
}

static const gchar *
bearer_token (SoupServerMessage *msg)
{
  const gchar *auth = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");
  if (!auth || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0 || !auth[7])
    return NULL;
  return auth + 7;
}

static void
reply_not_authenticated (SoupServerMessage *msg)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "WWW-Authenticate", "Bearer");
  reply_detail (msg, 401, "Not authenticated");
}

static JsonObject *
parse_body_object (SoupServerMessage *msg, JsonParser **parser_out)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);
  JsonParser *parser = json_parser_new ();
  if (!data || !json_parser_load_from_data (parser, data, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_object_unref (parser);
      return NULL;
    }
  *parser_out = parser;
  return json_node_get_object (json_parser_get_root (parser));
}

static const gchar *
str_member (JsonObject *o, const gchar *name, gboolean *bad)
{
  JsonNode *n = json_object_get_member (o, name);
  if (!n || JSON_NODE_HOLDS_NULL (n))
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      *bad = TRUE;
      return NULL;
    }
  return json_node_get_string (n);
}

/* ---- auth ---- */

static void
handle_challenge (SoupServerMessage *msg, Space *sp)
{
  JsonParser *parser = NULL;
  JsonObject *o = parse_body_object (msg, &parser);
  gboolean bad = FALSE;
  const gchar *pk;
  guint8 rnd[32];
  Challenge *c;
  JsonBuilder *b;

  if (!o || !(pk = str_member (o, "public_key", &bad)) || bad)
    {
      reply_422 (msg, "public_key required");
      g_clear_object (&parser);
      return;
    }
  rdt_random_bytes (rnd, sizeof rnd);
  c = g_new0 (Challenge, 1);
  c->challenge = rdt_base64_encode (rnd, sizeof rnd);
  c->expires_ms = now_ms () + (gint64) opt_challenge_ttl * 1000;
  g_hash_table_replace (sp->challenges, g_strdup (pk), c);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "challenge");
  json_builder_add_string_value (b, c->challenge);
  json_builder_set_member_name (b, "expires_at");
  json_builder_add_int_value (b, c->expires_ms);
  json_builder_end_object (b);
  reply_json (msg, 200, json_builder_get_root (b));
  g_object_unref (b);
  g_object_unref (parser);
}

static void
handle_verify (SoupServerMessage *msg, Space *sp)
{
  JsonParser *parser = NULL;
  JsonObject *o = parse_body_object (msg, &parser);
  gboolean bad = FALSE;
  const gchar *pk, *sig, *chal;
  Challenge *c;
  guint8 pkbytes[32];
  RdtIdType type;
  guint8 raw[RDT_ID_RAW_LENGTH];
  g_autofree guint8 *sigbytes = NULL;
  g_autofree gchar *token = NULL;
  gint64 exp;
  JsonBuilder *b;

  if (!o)
    {
      reply_422 (msg, "invalid JSON body");
      return;
    }
  pk = str_member (o, "public_key", &bad);
  sig = str_member (o, "signature", &bad);
  chal = str_member (o, "challenge", &bad);
  if (bad || !pk || !sig || !chal)
    {
      reply_422 (msg, "public_key, signature and challenge required");
      goto out;
    }
  c = g_hash_table_lookup (sp->challenges, pk);
  if (!c)
    {
      reply_detail (msg, 401, "Challenge not found");
      goto out;
    }
  if (c->expires_ms < now_ms ())
    {
      reply_detail (msg, 401, "Challenge expired");
      goto out;
    }
  if (strcmp (c->challenge, chal) != 0)
    {
      reply_detail (msg, 401, "Challenge mismatch");
      goto out;
    }
  if (!rdt_id_decode (pk, &type, raw, NULL) ||
      (type != RDT_ID_SPACE && type != RDT_ID_USER && type != RDT_ID_TOOL) ||
      !rdt_id_get_public_key (pk, pkbytes, NULL))
    {
      g_autofree gchar *d = g_strdup_printf ("Invalid user identifier: %s", pk);
      reply_detail (msg, 400, d);
      goto out;
    }
  /* lenient, as Python decodes it */
  sigbytes = rdt_base64_decode_lenient (sig, RDT_SIGNATURE_LENGTH, NULL, NULL);
  if (!sigbytes ||
      !rdt_ed25519_verify (sigbytes, (const guint8 *) chal, strlen (chal), pkbytes))
    {
      reply_detail (msg, 401, "Invalid signature");
      goto out;
    }
  if (!rdt_srv_state_is_member (sp->state, pk))
    {
      reply_detail (msg, 403, "Not a member of this space");
      goto out;
    }
  g_hash_table_remove (sp->challenges, pk);
  token = rdt_srv_jwt_issue (sp->id, pk, &exp);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_set_member_name (b, "expires_at");
  json_builder_add_int_value (b, exp * 1000);
  json_builder_end_object (b);
  reply_json (msg, 200, json_builder_get_root (b));
  g_object_unref (b);
out:
  g_clear_object (&parser);
}

/* ---- messages ---- */

static void
broadcast (Space *sp, const RdtMessage *m)
{
  g_autofree gchar *json = rdt_message_to_json_string (m);
  for (GList *l = sp->sockets; l; l = l->next)
    {
      SoupWebsocketConnection *ws = l->data;
      if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (ws, json);
    }
}

static gchar *
short16 (const gchar *s)
{
  return g_strndup (s, 16);
}

/* A topic as the real (SQLite) store orders it (spec 4.4, 4.6): by
 * server_timestamp; rows that share a millisecond come back older first
 * in descending order and newer first in ascending order, and the head
 * (ORDER BY server_timestamp DESC LIMIT 1) is the OLDER of tied rows. `arr`
 * is in insertion order with non-decreasing timestamps. */
static GPtrArray *
topic_view (GPtrArray *arr, gboolean desc)
{
  GPtrArray *view = g_ptr_array_sized_new (arr->len);
  guint end = arr->len;

  /* Walk groups of equal timestamps from the newest. */
  while (end > 0)
    {
      guint start = end - 1;
      gint64 ts = ((RdtMessage *) arr->pdata[start])->server_timestamp;

      while (start > 0 &&
             ((RdtMessage *) arr->pdata[start - 1])->server_timestamp == ts)
        start--;
      /* Descending: groups newest first, a group in insertion order.
       * Ascending is exactly its reverse (so tied rows newer first). */
      for (guint k = start; k < end; k++)
        g_ptr_array_add (view, arr->pdata[k]);
      end = start;
    }
  if (!desc)
    for (guint a = 0, b = view->len; a + 1 < b; a++, b--)
      {
        gpointer t = view->pdata[a];
        view->pdata[a] = view->pdata[b - 1];
        view->pdata[b - 1] = t;
      }
  return view;
}

static RdtMessage *
topic_head (GPtrArray *arr)
{
  g_autoptr (GPtrArray) view = NULL;

  if (arr == NULL || arr->len == 0)
    return NULL;
  view = topic_view (arr, TRUE);
  return view->pdata[0];
}

static void
handle_post_message (SoupServerMessage *msg, const gchar *space_id,
                     const gchar *topic)
{
  JsonParser *parser = NULL;
  JsonObject *o;
  gboolean bad = FALSE;
  const gchar *type, *prev, *data, *hash, *sig, *token, *detail;
  g_autofree gchar *caller = NULL, *computed = NULL;
  g_autofree guint8 *sigbytes = NULL;
  guint8 raw[RDT_ID_RAW_LENGTH], pk[32];
  Space *sp;
  GPtrArray *arr;
  RdtMessage *head, *m;
  JsonBuilder *b;
  gint64 ts;

  /* 2 comes before 1 for syntactically invalid bodies */
  o = parse_body_object (msg, &parser);
  if (!o)
    {
      reply_422 (msg, "invalid JSON body");
      return;
    }
  token = bearer_token (msg);
  if (!token)
    {
      reply_not_authenticated (msg);
      goto out;
    }
  type = str_member (o, "type", &bad);
  prev = str_member (o, "prev_hash", &bad);
  data = str_member (o, "data", &bad);
  hash = str_member (o, "message_hash", &bad);
  sig = str_member (o, "signature", &bad);
  if (bad || !data || !hash || !sig || g_utf8_strlen (data, -1) > MAX_DATA_CHARS)
    {
      reply_422 (msg, "data, message_hash and signature required; data <= 102400 chars");
      goto out;
    }
  if (!type)
    type = "chat.text";
  /* 3 */
  if (!rdt_topic_id_validate (topic, NULL))
    {
      reply_detail (msg, 400, "Invalid topic_id format. Must be 2-64 characters, "
                    "lowercase alphanumeric with hyphens or underscores, "
                    "starting and ending with alphanumeric");
      goto out;
    }
  /* 4 */
  sp = space_get (space_id);
  if (!sp)
    {
      g_autofree gchar *d = g_strdup_printf (
          "Space '%s' is not registered in the admin space", space_id);
      reply_detail (msg, 404, d);
      goto out;
    }
  /* 5 */
  caller = rdt_srv_jwt_check (token, space_id, &detail);
  if (!caller)
    {
      reply_detail (msg, rdt_srv_status_for_detail (detail), detail);
      goto out;
    }
  /* 6 */
  if (g_str_has_prefix (caller, "T"))
    {
      g_autofree gchar *d = NULL;
      guint uses = GPOINTER_TO_UINT (g_hash_table_lookup (sp->tool_uses, caller));
      if (!rdt_srv_state_check_tool (sp->state, caller, uses, &d))
        {
          reply_detail (msg, rdt_srv_status_for_detail (d), d);
          goto out;
        }
    }
  /* 7 */
  if (strcmp (topic, "state") != 0)
    {
      g_autofree gchar *path = g_strdup_printf ("topics/%s/messages", topic);
      if (!rdt_srv_state_check_permission (sp->state, caller, "create", path, NULL))
        {
          reply_detail (msg, 403, "No post permission");
          goto out;
        }
    }
  /* 8 */
  computed = rdt_message_compute_hash (space_id, topic, type, prev, data, caller);
  if (g_strcmp0 (computed, hash) != 0)
    {
      reply_detail (msg, 400, "Message hash mismatch");
      goto out;
    }
  /* 9 */
  {
    gsize slen = 0;
    RdtIdType t;
    g_autoptr(GError) e = NULL;
    /* Python's lenient b64decode, as the real server: junk characters are
     * dropped and the signature is stored as sent (spec 4.3 step 9). */
    sigbytes = rdt_base64_decode_lenient (sig, -1, &slen, &e);
    if (!sigbytes)
      {
        reply_detail (msg, 401, "Incorrect padding");
        goto out;
      }
    if (slen != RDT_SIGNATURE_LENGTH ||
        !rdt_id_decode (hash, &t, raw, NULL) ||
        !rdt_id_get_public_key (caller, pk, NULL) ||
        !rdt_ed25519_verify (sigbytes, raw, RDT_ID_RAW_LENGTH, pk))
      {
        reply_detail (msg, 400, "Invalid message signature");
        goto out;
      }
  }
  /* 10 */
  if (strcmp (topic, "state") == 0)
    {
      g_autofree gchar *d = NULL;
      if (!rdt_srv_state_validate_write (sp->state, caller, type, data, &d))
        {
          reply_detail (msg, rdt_srv_status_for_detail (d), d);
          goto out;
        }
    }
  /* 11 */
  arr = g_hash_table_lookup (sp->topics, topic);
  head = topic_head (arr);
  if (g_strcmp0 (head ? head->message_hash : NULL, prev) != 0)
    {
      g_autofree gchar *exp = head ? short16 (head->message_hash) : NULL;
      g_autofree gchar *got = prev ? short16 (prev) : NULL;
      g_autofree gchar *expected = exp ? g_strdup_printf ("%s...", exp)
                                       : g_strdup ("None (first message)");
      g_autofree gchar *d = g_strdup_printf (
          "Chain conflict: Chain conflict in topic '%s': expected prev_hash=%s, "
          "got %s. Another message was added concurrently.. Please get current "
          "chain head and retry.", topic, expected, got ? got : "None");
      reply_detail (msg, 409, d);
      goto out;
    }
  /* 12: the wall clock, as the real server: two posts in one millisecond
   * share a timestamp (the tie case of spec 4.6, kept on purpose). */
  ts = MAX (now_ms (), sp->last_ts);
  m = rdt_message_new ();
  m->message_hash = g_strdup (hash);
  m->topic_id = g_strdup (topic);
  m->type = g_strdup (type);
  m->prev_hash = g_strdup (prev);
  m->data = g_strdup (data);
  m->sender = g_strdup (caller);
  m->signature = g_strdup (sig);
  m->server_timestamp = ts;
  space_insert (sp, m);
  space_persist (sp, m);
  if (g_str_has_prefix (caller, "T"))
    g_hash_table_replace (sp->tool_uses, g_strdup (caller),
        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (sp->tool_uses, caller)) + 1));
  broadcast (sp, m);
  rdt_message_unref (m);
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "message_hash");
  json_builder_add_string_value (b, hash);
  json_builder_set_member_name (b, "server_timestamp");
  json_builder_add_int_value (b, ts);
  json_builder_end_object (b);
  reply_json (msg, 201, json_builder_get_root (b));
  g_object_unref (b);
out:
  g_clear_object (&parser);
}

/* Common GET prologue: token, topic, space. Returns caller or NULL (replied). */
static gchar *
get_prologue (SoupServerMessage *msg, const gchar *space_id, const gchar *topic,
              gboolean check_topic, Space **sp_out)
{
  const gchar *token = bearer_token (msg), *detail;
  gchar *caller;
  if (!token)
    {
      reply_not_authenticated (msg);
      return NULL;
    }
  if (check_topic && !rdt_topic_id_validate (topic, NULL))
    {
      reply_detail (msg, 400, "Invalid topic_id format. Must be 2-64 characters, "
                    "lowercase alphanumeric with hyphens or underscores, "
                    "starting and ending with alphanumeric");
      return NULL;
    }
  *sp_out = space_get (space_id);
  if (!*sp_out)
    {
      g_autofree gchar *d = g_strdup_printf (
          "Space '%s' is not registered in the admin space", space_id);
      reply_detail (msg, 404, d);
      return NULL;
    }
  caller = rdt_srv_jwt_check (token, space_id, &detail);
  if (!caller)
    reply_detail (msg, 401, detail);
  return caller;
}

static gboolean
parse_int_param (GHashTable *q, const gchar *name, gint64 *out, gboolean *present)
{
  const gchar *v = q ? g_hash_table_lookup (q, name) : NULL;
  gchar *end;
  *present = FALSE;
  if (!v)
    return TRUE;
  errno = 0;
  *out = g_ascii_strtoll (v, &end, 10);
  if (!*v || *end || errno)
    return FALSE;
  *present = TRUE;
  return TRUE;
}

static void
handle_get_messages (SoupServerMessage *msg, GHashTable *query,
                     const gchar *space_id, const gchar *topic)
{
  Space *sp = NULL;
  g_autofree gchar *caller = get_prologue (msg, space_id, topic, TRUE, &sp);
  gint64 from = 0, to = 0, limit = 100, lo, hi;
  gboolean has_from, has_to, has_limit, desc;
  GPtrArray *arr, *sel;
  JsonBuilder *b;
  guint i;

  if (!caller)
    return;
  if (!parse_int_param (query, "from", &from, &has_from) ||
      !parse_int_param (query, "to", &to, &has_to) ||
      !parse_int_param (query, "limit", &limit, &has_limit) ||
      limit < 1 || limit > 1000)
    {
      reply_422 (msg, "invalid from/to/limit");
      return;
    }
  if (strcmp (topic, "state") != 0)
    {
      g_autofree gchar *path = g_strdup_printf ("topics/%s/messages", topic);
      if (!rdt_srv_state_check_permission (sp->state, caller, "read", path, NULL))
        {
          reply_detail (msg, 403, "No read permission for topic");
          return;
        }
    }
  lo = G_MININT64; hi = G_MAXINT64;
  if (has_from && has_to)
    {
      lo = MIN (from, to);
      hi = MAX (from, to);
    }
  else if (has_from)
    lo = from;
  else if (has_to)
    hi = to;
  desc = has_from && has_to && from > to;
  arr = g_hash_table_lookup (sp->topics, topic);
  sel = g_ptr_array_new ();
  if (arr)
    {
      g_autoptr (GPtrArray) view = topic_view (arr, desc);

      for (i = 0; i < view->len; i++)
        {
          RdtMessage *m = g_ptr_array_index (view, i);
          if (m->server_timestamp >= lo && m->server_timestamp <= hi)
            g_ptr_array_add (sel, m);
        }
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (i = 0; i < sel->len && i < limit; i++)
    json_builder_add_value (b, rdt_message_to_json (g_ptr_array_index (sel, i)));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "has_more");
  json_builder_add_boolean_value (b, sel->len > limit);
  json_builder_end_object (b);
  reply_json (msg, 200, json_builder_get_root (b));
  g_object_unref (b);
  g_ptr_array_unref (sel);
}

static void
handle_get_message (SoupServerMessage *msg, const gchar *space_id,
                    const gchar *topic, const gchar *hash)
{
  Space *sp = NULL;
  g_autofree gchar *caller = get_prologue (msg, space_id, topic, FALSE, &sp);
  g_autofree gchar *path = NULL;
  RdtMessage *m;

  if (!caller)
    return;
  path = g_strdup_printf ("topics/%s/messages", topic);
  if (!rdt_srv_state_check_permission (sp->state, caller, "read", path, NULL))
    {
      reply_detail (msg, 403, "No read permission");
      return;
    }
  m = g_hash_table_lookup (sp->by_hash, hash);
  if (!m || g_strcmp0 (m->topic_id, topic) != 0)
    {
      reply_detail (msg, 404, "Message not found");
      return;
    }
  reply_json (msg, 200, rdt_message_to_json (m));
}

/* GET /spaces/{S}/state/{path}: the latest write at path (spec §8.5). */
static void
handle_get_state_path (SoupServerMessage *msg, const gchar *space_id,
                       const gchar *state_path)
{
  Space *sp = NULL;
  g_autofree gchar *caller = get_prologue (msg, space_id, "state", FALSE, &sp);
  g_autofree gchar *perm = NULL;
  const RdtMessage *m;

  if (!caller)
    return;
  perm = g_strconcat ("state/", state_path, NULL);
  if (!rdt_srv_state_check_permission (sp->state, caller, "read", perm, NULL))
    {
      reply_detail (msg, 403, "No read permission");
      return;
    }
  m = rdt_srv_state_lookup (sp->state, state_path);
  if (!m)
    {
      reply_detail (msg, 404, "State not found");
      return;
    }
  reply_json (msg, 200, rdt_message_to_json (m));
}

/* POST /spaces/{S}/auth/refresh: the real server crashes on a valid token
 * (500) and answers 401 to a bad one (spec §6.4). Clients must not use it. */
static void
handle_refresh (SoupServerMessage *msg, const gchar *space_id)
{
  const gchar *detail;
  g_autofree gchar *caller = NULL;

  if (!bearer_token (msg))
    {
      reply_not_authenticated (msg);
      return;
    }
  caller = rdt_srv_jwt_check (bearer_token (msg), space_id, &detail);
  if (!caller)
    {
      reply_detail (msg, 401, detail);
      return;
    }
  soup_server_message_set_status (msg, 500, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC,
                                    "Internal Server Error", 21);
}

/* ---- blobs (spec §10; the store is blobs.c) ---- */

static void
handle_blob (SoupServerMessage *msg, const gchar *method,
             const gchar *space_id, const gchar *blob_id)
{
  const gchar *token = bearer_token (msg), *detail;
  g_autofree gchar *caller = NULL;
  Space *sp;

  if (!token)
    {
      reply_not_authenticated (msg);
      return;
    }
  sp = space_get (space_id);
  if (!sp)
    {
      g_autofree gchar *d = g_strdup_printf (
          "Space '%s' is not registered in the admin space", space_id);
      reply_detail (msg, 404, d);
      return;
    }
  caller = rdt_srv_jwt_check (token, space_id, &detail);
  if (!caller)
    {
      /* The real server's blob routes answer token problems with a bare
       * 500 (spec §6.3, §10): clients must not rely on a 401 here. */
      soup_server_message_set_status (msg, 500, NULL);
      soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC,
                                        "Internal Server Error", 21);
      return;
    }
  if (strcmp (method, "PUT") == 0)
    {
      guint uses;
      g_autofree gchar *d = NULL;

      if (!rdt_srv_state_is_member (sp->state, caller))
        {
          reply_detail (msg, 400, "Not a member of this space");
          return;
        }
      uses = GPOINTER_TO_UINT (g_hash_table_lookup (sp->tool_uses, caller));
      if (g_str_has_prefix (caller, "T") &&
          !rdt_srv_state_check_tool (sp->state, caller, uses, &d))
        {
          reply_detail (msg, 400, d);
          return;
        }
      rdt_srv_blobs_put (msg, space_id, blob_id, caller);
      if (soup_server_message_get_status (msg) == 201 && g_str_has_prefix (caller, "T"))
        g_hash_table_replace (sp->tool_uses, g_strdup (caller),
                              GUINT_TO_POINTER (uses + 1));
    }
  else if (!rdt_srv_state_is_member (sp->state, caller))
    reply_detail (msg, 403, "Not a member of this space");
  else if (strcmp (method, "GET") == 0)
    rdt_srv_blobs_get (msg, space_id, blob_id);
  else if (strcmp (method, "DELETE") == 0)
    rdt_srv_blobs_delete (msg, space_id, blob_id, caller,
                          rdt_srv_state_is_owner (sp->state, caller));
  else
    reply_detail (msg, 405, "Method Not Allowed");
}

/* A declared Content-Length over the limit gets its 413 before the body is
 * read (spec §10). Other requests pass through untouched. */
static void
blob_early_handler (SoupServer *server, SoupServerMessage *msg,
                    const char *path, GHashTable *query, gpointer user_data)
{
  g_auto (GStrv) seg = g_strsplit (path + (path[0] == '/'), "/", -1);

  if (g_strv_length (seg) == 4 && strcmp (seg[2], "blobs") == 0 &&
      strcmp (soup_server_message_get_method (msg), "PUT") == 0 &&
      rdt_srv_blobs_too_large (soup_message_headers_get_content_length (
          soup_server_message_get_request_headers (msg))))
    rdt_srv_blobs_reply_too_large (msg);
}

/* ---- data (KV) store (spec 11; the store is data.c) ---- */

static void
handle_data (SoupServerMessage *msg, const gchar *method,
             const gchar *space_id, gchar **path_seg)
{
  JsonParser *parser = NULL;
  JsonObject *body = NULL;
  Space *sp = NULL;
  g_autofree gchar *joined = g_strjoinv ("/", path_seg);
  g_autofree gchar *path = g_uri_unescape_string (joined, NULL);
  g_autofree gchar *caller = NULL;

  if (!path || !*path)
    {
      reply_detail (msg, 404, "Not Found");
      return;
    }
  /* Body validation comes first, as for POST messages. */
  if (strcmp (method, "PUT") == 0)
    {
      body = parse_body_object (msg, &parser);
      if (!rdt_srv_data_body_valid (body))
        {
          reply_422 (msg, "data, signature, signed_by (strings) and signed_at "
                     "(integer) required");
          g_clear_object (&parser);
          return;
        }
    }
  caller = get_prologue (msg, space_id, "data", FALSE, &sp);
  if (caller)
    rdt_srv_data_handle (sp->data, sp->state, msg, method, space_id, caller,
                         path, body);
  g_clear_object (&parser);
}

/* ---- routing ---- */

static void
dispatch (SoupServerMessage *msg, const char *path, GHashTable *query)
{
  const gchar *method = soup_server_message_get_method (msg);
  gchar **seg = g_strsplit (path + (path[0] == '/'), "/", -1);
  guint n = g_strv_length (seg);
  Space *sp;

  if (n == 1 && strcmp (seg[0], "health") == 0 && strcmp (method, "GET") == 0)
    {
      g_autofree gchar *body = g_strdup_printf (
          "{\"status\":\"healthy\",\"timestamp\":%" G_GINT64_FORMAT "}", now_ms ());
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json",
                                        SOUP_MEMORY_COPY, body, strlen (body));
    }
  else if (n == 4 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "auth") == 0 && strcmp (method, "POST") == 0 &&
           (strcmp (seg[3], "challenge") == 0 || strcmp (seg[3], "verify") == 0))
    {
      sp = space_get (seg[1]);
      if (!sp)
        {
          g_autofree gchar *d = g_strdup_printf (
              "Space '%s' is not registered in the admin space", seg[1]);
          reply_detail (msg, 404, d);
        }
      else if (seg[3][0] == 'c')
        handle_challenge (msg, sp);
      else
        handle_verify (msg, sp);
    }
  else if (n == 5 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "topics") == 0 && strcmp (seg[4], "messages") == 0)
    {
      if (strcmp (method, "POST") == 0)
        handle_post_message (msg, seg[1], seg[3]);
      else if (strcmp (method, "GET") == 0)
        handle_get_messages (msg, query, seg[1], seg[3]);
      else
        reply_detail (msg, 405, "Method Not Allowed");
    }
  else if (n == 6 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "topics") == 0 && strcmp (seg[4], "messages") == 0 &&
           strcmp (method, "GET") == 0)
    handle_get_message (msg, seg[1], seg[3], seg[5]);
  else if (n == 4 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "auth") == 0 && strcmp (seg[3], "refresh") == 0 &&
           strcmp (method, "POST") == 0)
    handle_refresh (msg, seg[1]);
  else if (n == 3 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "state") == 0 && strcmp (method, "GET") == 0)
    handle_get_messages (msg, query, seg[1], "state");
  else if (n >= 4 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "state") == 0 && strcmp (method, "GET") == 0)
    {
      g_autofree gchar *state_path = g_strjoinv ("/", seg + 3);
      handle_get_state_path (msg, seg[1], state_path);
    }
  else if (n >= 4 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "data") == 0)
    handle_data (msg, method, seg[1], seg + 3);
  else if (n == 4 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "blobs") == 0)
    handle_blob (msg, method, seg[1], seg[3]);
  else if (n == 3 && strcmp (seg[0], "spaces") == 0 &&
           strcmp (seg[2], "stream") == 0)
    {
      /* Only reached when this is not a valid upgrade the early handler
       * let through. */
      reply_detail (msg, 400, "WebSocket upgrade expected");
    }
  else
    reply_detail (msg, 404, "Not Found");
  g_strfreev (seg);
}

typedef struct {
  SoupServerMessage *msg;
  gchar *path;
  GHashTable *query;
  RdtFault *fault;
  gboolean gone;    /* the client hung up while we waited */
} Delayed;

static void
delayed_gone (SoupServerMessage *msg, gpointer data)
{
  ((Delayed *) data)->gone = TRUE;
}

static gboolean
delayed_dispatch (gpointer data)
{
  Delayed *d = data;

  g_signal_handlers_disconnect_by_func (d->msg, delayed_gone, d);
  if (!d->gone)
    {
      dispatch (d->msg, d->path, d->query);
      soup_server_message_unpause (d->msg);
    }
  g_object_unref (d->msg);
  g_free (d->path);
  g_clear_pointer (&d->query, g_hash_table_unref);
  rdt_srv_fault_free (d->fault);
  g_free (d);
  return G_SOURCE_REMOVE;
}

/* Every request: the control endpoint, then injected faults, then the
 * real handlers (dispatch). */
static void
handle_request (SoupServer *server, SoupServerMessage *msg, const char *path,
                GHashTable *query, gpointer user_data)
{
  RdtFault *fault;

  if (rdt_srv_faults_control (msg, path))
    return;
  {
    /* a fault may be for one client only: the id in its token */
    g_autofree gchar *space = NULL, *caller = NULL;
    const gchar *detail, *token = bearer_token (msg);

    if (token && g_str_has_prefix (path, "/spaces/"))
      {
        const gchar *end = strchr (path + 8, '/');

        space = end ? g_strndup (path + 8, end - (path + 8))
                    : g_strdup (path + 8);
        caller = rdt_srv_jwt_check (token, space, &detail);
      }
    fault = rdt_srv_faults_match (soup_server_message_get_method (msg), path,
                                  caller);
  }
  if (fault == NULL)
    {
      dispatch (msg, path, query);
      return;
    }
  switch (fault->action)
    {
    case RDT_FAULT_DELAY:
      {
        Delayed *d = g_new0 (Delayed, 1);

        d->msg = g_object_ref (msg);
        d->path = g_strdup (path);
        d->query = query ? g_hash_table_ref (query) : NULL;
        d->fault = fault;
        g_signal_connect (msg, "disconnected", G_CALLBACK (delayed_gone), d);
        soup_server_message_pause (msg);
        g_timeout_add (fault->delay_ms, delayed_dispatch, d);
      }
      return;
    case RDT_FAULT_TRUNCATE:
    case RDT_FAULT_TAMPER:
      dispatch (msg, path, query);
      rdt_srv_fault_rewrite (fault, msg);
      break;
    default:
      rdt_srv_fault_answer (fault, msg);
      break;
    }
  rdt_srv_fault_free (fault);
}

/* Early handler: refuse the stream handshake with 403 on a bad token
 * before the WebSocket handler accepts it (as uvicorn does, spec 7). */
static void
early_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
               GHashTable *query, gpointer user_data)
{
  gchar **seg = g_strsplit (path + (path[0] == '/'), "/", -1);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);

  /* libsoup 3.2's server never closes a kept-alive connection that the
   * client closes while idle (fixed in 3.3): one fd lost per connection
   * until a long-running server hits its file limit. Closing our side
   * after each answer avoids that; the stream's upgrade stays open. */
  if (!soup_message_headers_header_contains (req, "Upgrade", "websocket"))
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Connection", "close");
  blob_early_handler (server, msg, path, query, user_data);
  if (g_strv_length (seg) == 3 && strcmp (seg[0], "spaces") == 0 &&
      strcmp (seg[2], "stream") == 0)
    {
      const gchar *token = query ? g_hash_table_lookup (query, "token") : NULL;
      const gchar *detail;
      g_autofree gchar *caller = NULL;
      if (!space_get (seg[1]))
        reply_detail (msg, 404, "Space not found");
      else if (!(caller = rdt_srv_jwt_check (token, seg[1], &detail)))
        reply_detail (msg, 403, detail);
    }
  g_strfreev (seg);
}

static void
ws_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  Space *sp = user_data;
  sp->sockets = g_list_remove (sp->sockets, ws);
  g_object_unref (ws);
}

static void
ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message,
            gpointer user_data)
{
  gsize len;
  const gchar *d = g_bytes_get_data (message, &len);
  /* Any client frame restarts the server's 30 s wait (spec §7). */
  g_object_set_data (G_OBJECT (ws), "rdt-last-frame",
                     GSIZE_TO_POINTER ((gsize) (g_get_monotonic_time () / 1000)));
  if (type == SOUP_WEBSOCKET_DATA_TEXT && len == 4 && memcmp (d, "ping", 4) == 0)
    soup_websocket_connection_send_text (ws, "pong");
}

/* After --ws-idle-ping seconds without a client frame, the server sends
 * {"type": "ping"} and keeps waiting (spec §7). */
static gboolean
idle_ping_tick (gpointer data)
{
  GHashTableIter it;
  gpointer value;
  gsize now = (gsize) (g_get_monotonic_time () / 1000);

  g_hash_table_iter_init (&it, spaces);
  while (g_hash_table_iter_next (&it, NULL, &value))
    for (GList *l = ((Space *) value)->sockets; l; l = l->next)
      {
        gsize last = GPOINTER_TO_SIZE (g_object_get_data (l->data, "rdt-last-frame"));

        if (soup_websocket_connection_get_state (l->data) == SOUP_WEBSOCKET_STATE_OPEN &&
            now - last >= (gsize) opt_ws_idle_ping * 1000)
          {
            soup_websocket_connection_send_text (l->data, "{\"type\": \"ping\"}");
            g_object_set_data (l->data, "rdt-last-frame", GSIZE_TO_POINTER (now));
          }
      }
  return G_SOURCE_CONTINUE;
}

/* Fault "close_websockets": every socket of every space, now. */
static void
close_all_sockets (void)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, spaces);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      GList *copy = g_list_copy (((Space *) value)->sockets);

      g_list_foreach (copy, (GFunc) (void (*) (void)) g_object_ref, NULL);
      for (GList *l = copy; l; l = l->next)
        if (soup_websocket_connection_get_state (l->data) == SOUP_WEBSOCKET_STATE_OPEN)
          soup_websocket_connection_close (l->data, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                           "injected fault");
      g_list_free_full (copy, g_object_unref);
    }
}

static void
ws_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
            SoupWebsocketConnection *ws, gpointer user_data)
{
  gchar **seg = g_strsplit (path + (path[0] == '/'), "/", -1);
  Space *sp = g_strv_length (seg) == 3 ? space_get (seg[1]) : NULL;
  g_strfreev (seg);
  if (!sp)
    {
      soup_websocket_connection_close (ws, 1008, "unknown space");
      return;
    }
  soup_websocket_connection_set_keepalive_interval (ws, 20);
  g_object_set_data (G_OBJECT (ws), "rdt-last-frame",
                     GSIZE_TO_POINTER ((gsize) (g_get_monotonic_time () / 1000)));
  sp->sockets = g_list_prepend (sp->sockets, g_object_ref (ws));
  g_signal_connect (ws, "message", G_CALLBACK (ws_message), sp);
  g_signal_connect (ws, "closed", G_CALLBACK (ws_closed), sp);
}

static gboolean
on_term (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &opt_port, "Port (0 = any free)", "PORT" },
    { "bind", 0, 0, G_OPTION_ARG_STRING, &opt_bind, "Address (127.0.0.1)", "ADDR" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_data_dir, "Data directory (required)", "DIR" },
    { "token-ttl", 0, 0, G_OPTION_ARG_INT, &opt_token_ttl, "Token lifetime in seconds (86400)", "S" },
    { "challenge-ttl", 0, 0, G_OPTION_ARG_INT, &opt_challenge_ttl, "Challenge lifetime in seconds (300)", "S" },
    { "no-auto-create", 0, 0, G_OPTION_ARG_NONE, &opt_no_auto_create, "Only spaces given with --space (or with data) exist", NULL },
    { "space", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_spaces, "A registered space (with --no-auto-create; repeatable)", "S" },
    { "ws-idle-ping", 0, 0, G_OPTION_ARG_INT, &opt_ws_idle_ping, "Seconds without a client frame before the server's {\"type\": \"ping\"} (30)", "S" },
    { "max-blob-size", 0, 0, G_OPTION_ARG_INT64, &opt_max_blob_size, "Largest blob in bytes (104857600)", "BYTES" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- reeeductio test server");
  g_autoptr(GError) error = NULL;
  SoupServer *server;
  GInetAddress *addr;
  GSocketAddress *saddr;
  GSList *uris;
  GMainLoop *loop;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("rdt-test-server: %s\n", error->message);
      return 2;
    }
  if (!opt_data_dir)
    {
      g_printerr ("rdt-test-server: --data-dir is required\n");
      return 2;
    }
  if (opt_port < 0 || opt_port > 65535 || opt_token_ttl <= 0)
    {
      g_printerr ("rdt-test-server: bad --port or --token-ttl\n");
      return 2;
    }
  if (g_mkdir_with_parents (opt_data_dir, 0700) != 0)
    {
      g_printerr ("rdt-test-server: cannot create %s\n", opt_data_dir);
      return 1;
    }
  if (!rdt_crypto_init ())
    return 1;
  rdt_srv_jwt_init (opt_token_ttl);
  spaces = g_hash_table_new (g_str_hash, g_str_equal);
  rdt_srv_faults_init (close_all_sockets);
  g_timeout_add (250, idle_ping_tick, NULL);
  rdt_srv_blobs_init (opt_data_dir, opt_max_blob_size > 0 ? (guint64) opt_max_blob_size : 0);

  server = soup_server_new ("server-header", "rdt-test-server", NULL);
  soup_server_add_early_handler (server, NULL, early_handler, NULL, NULL);
  the_server = server;
  soup_server_add_handler (server, NULL, handle_request, NULL, NULL);

  addr = g_inet_address_new_from_string (opt_bind ? opt_bind : "127.0.0.1");
  if (!addr)
    {
      g_printerr ("rdt-test-server: bad --bind address\n");
      return 2;
    }
  saddr = g_inet_socket_address_new (addr, opt_port);
  if (!soup_server_listen (server, saddr, 0, &error))
    {
      g_printerr ("rdt-test-server: cannot listen: %s\n", error->message);
      return 1;
    }
  g_object_unref (saddr);
  g_object_unref (addr);
  uris = soup_server_get_uris (server);
  if (uris)
    {
      GUri *u = uris->data;
      printf ("rdt-test-server listening on http://%s:%d\n",
              opt_bind ? opt_bind : "127.0.0.1", g_uri_get_port (u));
      fflush (stdout);
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_term, loop);
  g_unix_signal_add (SIGINT, on_term, loop);
  g_main_loop_run (loop);
  g_object_unref (server);
  return 0;
}
