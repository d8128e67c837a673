/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api.c - asynchronous client for the reeeductio HTTP API (libsoup 3).
 *
 * Layers, bottom up:
 * - a request (RdtApiCall): one HTTP exchange, body read into memory with a
 *   hard size bound, non-2xx answers turned into RDT_API_ERROR GErrors with
 *   the server's `detail`. Requests that need a token make sure one is
 *   fresh first, and re-authenticate once and retry when the server says the
 *   token is bad (401 mentioning the token, or 500 from a blob endpoint,
 *   spec 6.3);
 * - authentication (spec 6.1/6.2, 15.2): challenge, sign the challenge
 *   *string*, verify. Only one runs at a time: the server keeps a single
 *   outstanding challenge per key, so a second challenge would invalidate
 *   the first. Everyone who needs a token waits for the one in flight;
 * - the endpoints, which parse every answer strictly.
 *
 * The token lives in sodium secret memory and is wiped when replaced; it is
 * never logged (neither is the stream URL that carries it).
 */
#include "config.h"
#include "api.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

#define DEFAULT_TIMEOUT_S   30
#define MAX_ERROR_BODY      (64 * 1024)
#define MAX_DETAIL_CHARS    400
#define MAX_TOKEN_LENGTH    8192
#define MAX_CHALLENGE_CHARS 1024
#define READ_CHUNK          (64 * 1024)
/* Re-authenticate this long before the token expires (or at half its
 * lifetime for short-lived tokens, so a 2 s test token is still used). */
#define REFRESH_MARGIN_MS   G_GINT64_CONSTANT (60000)

G_DEFINE_QUARK (rdt-api-error-quark, rdt_api_error)

typedef void (*AuthDoneFunc) (GTask *waiter, const GError *error);

typedef struct {
  GTask       *task;
  AuthDoneFunc done;
} AuthWaiter;

struct _RdtApi {
  GObject        parent_instance;

  SoupSession   *session;
  gchar         *base_url;     /* no trailing '/' */
  gchar         *space_id;
  gchar         *member_id;
  RdtSigningKey *key;
  guint          timeout_s;

  gchar         *token;        /* rdt_secret_alloc'd, NUL-terminated */
  gint64         token_expiry; /* ms, server clock */
  gint64         token_refresh_at; /* ms, local clock */
  guint          token_serial; /* bumped whenever the token changes */

  gboolean       auth_in_flight;
  guint          auth_attempt;
  GQueue         auth_waiters; /* of AuthWaiter* */
};

G_DEFINE_FINAL_TYPE (RdtApi, rdt_api, G_TYPE_OBJECT)

/* ------------------------------------------------------------------ */
/* Token storage */

static void
token_set (RdtApi *api, const gchar *token, gint64 expires_at)
{
  gsize len = strlen (token);
  gint64 now = g_get_real_time () / 1000;
  gint64 lifetime = expires_at - now;
  gint64 margin;

  if (api->token != NULL)
    rdt_secret_free (api->token);
  api->token = rdt_secret_alloc (len + 1);
  memcpy (api->token, token, len + 1);
  api->token_expiry = expires_at;
  margin = MIN (REFRESH_MARGIN_MS, MAX (lifetime, 0) / 2);
  api->token_refresh_at = expires_at - margin;
  api->token_serial++;
}

void
rdt_api_clear_token (RdtApi *api)
{
  g_return_if_fail (RDT_IS_API (api));

  if (api->token != NULL)
    {
      rdt_secret_free (api->token);
      api->token = NULL;
      api->token_serial++;
    }
  api->token_expiry = 0;
  api->token_refresh_at = 0;
}

gboolean
rdt_api_has_token (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), FALSE);
  return api->token != NULL;
}

gint64
rdt_api_get_token_expiry (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), 0);
  return api->token != NULL ? api->token_expiry : 0;
}

static gboolean
token_is_fresh (RdtApi *api)
{
  return api->token != NULL
         && g_get_real_time () / 1000 < api->token_refresh_at;
}

/* JWTs are three base64url segments; anything else would end up in a
 * header and a URL, so refuse it. */
static gboolean
token_syntax_ok (const gchar *token)
{
  gsize len = strlen (token);

  if (len == 0 || len > MAX_TOKEN_LENGTH)
    return FALSE;
  for (const gchar *p = token; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* GObject */

static void
rdt_api_finalize (GObject *object)
{
  RdtApi *api = RDT_API (object);

  /* Waiters hold a ref on us (task source), so the queue is empty here. */
  g_warn_if_fail (g_queue_is_empty (&api->auth_waiters));
  if (api->session != NULL)
    soup_session_abort (api->session);
  g_clear_object (&api->session);
  if (api->token != NULL)
    rdt_secret_free (api->token);
  api->token = NULL;
  g_clear_pointer (&api->key, rdt_signing_key_free);
  g_free (api->base_url);
  g_free (api->space_id);
  g_free (api->member_id);

  G_OBJECT_CLASS (rdt_api_parent_class)->finalize (object);
}

static void
rdt_api_class_init (RdtApiClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rdt_api_finalize;
}

static void
rdt_api_init (RdtApi *api)
{
  g_queue_init (&api->auth_waiters);
  api->timeout_s = DEFAULT_TIMEOUT_S;
}

RdtApi *
rdt_api_new (const gchar *base_url, const gchar *space_id,
             const RdtSigningKey *key, RdtIdType as_type, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local = NULL;
  RdtApi *api;
  const gchar *scheme;
  guint8 seed[RDT_SEED_LENGTH];
  gsize len;

  g_return_val_if_fail (base_url != NULL, NULL);
  g_return_val_if_fail (space_id != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (as_type == RDT_ID_USER || as_type == RDT_ID_TOOL,
                        NULL);

  uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, &local);
  if (uri == NULL)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                   _("Invalid server URL: %s"), local->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "http") != 0
       && g_ascii_strcasecmp (scheme, "https") != 0)
      || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0'
      || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL
      || g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                   _("Invalid server URL: expected http:// or https:// and "
                     "a host"));
      return NULL;
    }
  if (!rdt_id_decode_typed (space_id, RDT_ID_SPACE, NULL, &local))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                   _("Invalid space id: %s"), local->message);
      return NULL;
    }

  api = g_object_new (RDT_TYPE_API, NULL);
  api->base_url = g_strdup (base_url);
  len = strlen (api->base_url);
  while (len > 0 && api->base_url[len - 1] == '/')
    api->base_url[--len] = '\0';
  api->space_id = g_strdup (space_id);
  rdt_signing_key_copy_seed (key, seed);
  api->key = rdt_signing_key_new_from_seed (seed);
  rdt_wipe (seed, sizeof seed);
  api->member_id = rdt_signing_key_get_id (api->key, as_type);
  api->session = soup_session_new_with_options (
      "timeout", api->timeout_s,
      "idle-timeout", 60,
      "max-conns-per-host", 6,
      "user-agent", "purple-reeeductio/" PACKAGE_VERSION " ",
      NULL);
  /* Bearer tokens are ours to manage: keep libsoup's HTTP auth out of the
   * way of 401 answers. */
  soup_session_remove_feature_by_type (api->session, SOUP_TYPE_AUTH_MANAGER);
  return api;
}

const gchar *
rdt_api_get_base_url (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->base_url;
}

const gchar *
rdt_api_get_space_id (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->space_id;
}

const gchar *
rdt_api_get_member_id (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->member_id;
}

const RdtSigningKey *
rdt_api_get_signing_key (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->key;
}

SoupSession *
rdt_api_get_soup_session (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->session;
}

void
rdt_api_set_timeout (RdtApi *api, guint seconds)
{
  g_return_if_fail (RDT_IS_API (api));
  api->timeout_s = seconds;
  soup_session_set_timeout (api->session, seconds);
}

guint
rdt_api_get_timeout (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), 0);
  return api->timeout_s;
}

gchar *
rdt_api_build_stream_url (RdtApi *api)
{
  const gchar *rest;
  const gchar *ws;

  g_return_val_if_fail (RDT_IS_API (api), NULL);
  if (api->token == NULL)
    return NULL;
  if (g_ascii_strncasecmp (api->base_url, "https:", 6) == 0)
    {
      ws = "wss:";
      rest = api->base_url + 6;
    }
  else
    {
      ws = "ws:";
      rest = api->base_url + 5;   /* "http:" checked in rdt_api_new */
    }
  /* The token was checked to be base64url + '.', all unreserved. */
  return g_strconcat (ws, rest, "/spaces/", api->space_id, "/stream?token=",
                      api->token, NULL);
}

/* ------------------------------------------------------------------ */
/* JSON helpers */


/* Parse bytes as a JSON object; NULL + error (RDT_API_ERROR_BAD_RESPONSE)
 * otherwise. The returned parser owns the object. */
static JsonObject *
parse_object (GBytes *bytes, JsonParser **parser_out, GError **error)
{
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root;

  if (len == 0 || data == NULL)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: empty body"));
      return NULL;
    }
  if (!rdt_json_check_text (data, len, NULL))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: JSON nested too deeply"));
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: not JSON (%s)"), local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: expected a JSON object"));
      return NULL;
    }
  *parser_out = g_steal_pointer (&parser);
  return json_node_get_object (root);
}

static const gchar *
get_string_member (JsonObject *obj, const gchar *name, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: '%s' missing or not a string"),
                   name);
      return NULL;
    }
  return json_node_get_string (node);
}

/* A non-negative JSON integer (not a float, not a string). */
static gboolean
get_int_member (JsonObject *obj, const gchar *name, gint64 *out,
                GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < 0)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: '%s' missing or not a "
                     "non-negative integer"), name);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

static GBytes *
json_body (JsonBuilder *builder)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  gsize len;
  gchar *text;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  return g_bytes_new_take (text, len);
}

/* Turn an error from the model layer into a BAD_RESPONSE for the user. */
static void
set_bad_response (GError **error, const GError *inner)
{
  g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
               _("Bad answer from server: %s"), inner->message);
}

/* ------------------------------------------------------------------ */
/* Error answers */

/* Printable, valid UTF-8, bounded copy of something the server said. */
static gchar *
sanitize_text (const gchar *text, gssize len)
{
  g_autofree gchar *valid = NULL;
  GString *out;
  const gchar *p;
  glong n = 0;

  if (len < 0)
    len = (gssize) strlen (text);
  if (len > MAX_DETAIL_CHARS * 4)
    len = MAX_DETAIL_CHARS * 4;
  valid = g_utf8_make_valid (text, len);
  out = g_string_new (NULL);
  for (p = valid; *p && n < MAX_DETAIL_CHARS; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      if (c == '\n' || c == '\r' || c == '\t')
        g_string_append_c (out, ' ');
      else if (g_unichar_isprint (c))
        g_string_append_unichar (out, c);
    }
  g_strstrip (out->str);
  g_string_set_size (out, strlen (out->str));
  if (*p != '\0')
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

/* The detail text of an error answer: {"detail": "..."}, the list form of
 * a 422 ({"detail": [{"type","msg",...}]}), or a plain-text body. Sets
 * *too_long when a 422 says a string was too long. NULL if nothing
 * usable. */
static gchar *
error_detail (GBytes *body, gboolean *too_long)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj;
  JsonNode *detail;
  gsize len = 0;
  const gchar *data;

  *too_long = FALSE;
  if (body == NULL)
    return NULL;
  data = g_bytes_get_data (body, &len);
  if (len == 0)
    return NULL;

  obj = parse_object (body, &parser, NULL);
  if (obj == NULL)
    {
      /* Plain text, e.g. "Internal Server Error". */
      g_autofree gchar *text = sanitize_text (data, (gssize) len);
      if (*text == '\0')
        return NULL;
      return g_steal_pointer (&text);
    }

  detail = json_object_get_member (obj, "detail");
  if (detail == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (detail)
      && json_node_get_value_type (detail) == G_TYPE_STRING)
    return sanitize_text (json_node_get_string (detail), -1);
  if (JSON_NODE_HOLDS_ARRAY (detail))
    {
      JsonArray *arr = json_node_get_array (detail);
      GString *msg = g_string_new (NULL);
      guint n = json_array_get_length (arr);

      for (guint i = 0; i < n && i < 8; i++)
        {
          JsonNode *el = json_array_get_element (arr, i);
          JsonObject *eo;
          const gchar *type = NULL, *text = NULL;
          JsonNode *m;

          if (!JSON_NODE_HOLDS_OBJECT (el))
            continue;
          eo = json_node_get_object (el);
          m = json_object_get_member (eo, "type");
          if (m && JSON_NODE_HOLDS_VALUE (m)
              && json_node_get_value_type (m) == G_TYPE_STRING)
            type = json_node_get_string (m);
          m = json_object_get_member (eo, "msg");
          if (m && JSON_NODE_HOLDS_VALUE (m)
              && json_node_get_value_type (m) == G_TYPE_STRING)
            text = json_node_get_string (m);
          if (g_strcmp0 (type, "string_too_long") == 0)
            *too_long = TRUE;
          if (text != NULL)
            {
              g_autofree gchar *clean = sanitize_text (text, -1);
              if (msg->len > 0)
                g_string_append (msg, "; ");
              g_string_append (msg, clean);
            }
        }
      if (msg->len == 0)
        {
          g_string_free (msg, TRUE);
          return NULL;
        }
      return g_string_free (msg, FALSE);
    }
  return NULL;
}

static gboolean
detail_mentions_token (const gchar *detail)
{
  g_autofree gchar *lower = NULL;

  if (detail == NULL)
    return FALSE;
  lower = g_ascii_strdown (detail, -1);
  return strstr (lower, "token") != NULL
         || strstr (lower, "not authenticated") != NULL;
}

/* ------------------------------------------------------------------ */
/* Requests */

typedef enum {
  CALL_PLAIN,      /* most endpoints */
  CALL_CHALLENGE,
  CALL_VERIFY,
  CALL_BLOB        /* 500 means "bad token" (spec 6.3) */
} CallKind;

typedef struct {
  CallKind      kind;
  gchar        *method;
  gchar        *path;          /* begins with '/' */
  GBytes       *body;          /* NULL for none */
  const gchar  *content_type;
  gboolean      needs_auth;
  gboolean      retried;       /* re-authenticated once already */
  gsize         max_size;
  const gchar  *what;          /* N_("the message"), N_("the request")... */

  guint         token_serial;  /* token the request was sent with */
  GCancellable *cancel;        /* ours: cancelling it drops the connection */
  GCancellable *user_cancel;
  gulong        user_cancel_id;
  SoupMessage  *msg;
  GInputStream *in;
  GByteArray   *buf;
  gsize         limit;
  guint         status;
  gchar        *resp_type;     /* Content-Type of the answer, lowercase */
  RdtApiProgressFunc progress; /* body upload progress, or NULL */
  gpointer      progress_data;
  goffset       sent;          /* body bytes written in this attempt */
  gulong        wrote_id;      /* "wrote-body-data" handler on msg */
  gboolean      too_large;     /* failed: the answer exceeded max_size */
} Call;

static void
call_free (Call *c)
{
  if (c->user_cancel_id != 0)
    g_cancellable_disconnect (c->user_cancel, c->user_cancel_id);
  if (c->msg != NULL)
    g_clear_signal_handler (&c->wrote_id, c->msg);
  g_clear_object (&c->user_cancel);
  g_clear_object (&c->cancel);
  g_free (c->method);
  g_free (c->path);
  g_clear_pointer (&c->body, g_bytes_unref);
  g_clear_object (&c->msg);
  g_clear_object (&c->in);
  if (c->buf != NULL)
    g_byte_array_unref (c->buf);
  g_free (c->resp_type);
  g_free (c);
}

static void
on_user_cancel (GCancellable *user, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

/* Stop reading an answer we will not use: cancelling our cancellable makes
 * libsoup drop the connection instead of draining the rest of the body
 * (a plain close would read it to the end). */
static void
call_abort_body (Call *c)
{
  g_cancellable_cancel (c->cancel);
  if (c->in != NULL)
    g_input_stream_close_async (c->in, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
}

static void call_send (GTask *task);
static void auth_wait (RdtApi *api, GTask *task, AuthDoneFunc done);

/* An auth waiter continuation: the queue keeps its own ref on task. */
static void
call_after_auth (GTask *task, const GError *error)
{
  if (error != NULL)
    {
      g_task_return_error (task, g_error_copy (error));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  call_send (g_object_ref (task));
}

static void
call_start (RdtApi *api, Call *c, GCancellable *cancellable,
            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (api, cancellable, callback, user_data);

  g_task_set_source_tag (task, call_start);
  g_task_set_task_data (task, c, (GDestroyNotify) call_free);
  c->cancel = g_cancellable_new ();
  if (cancellable != NULL)
    {
      c->user_cancel = g_object_ref (cancellable);
      c->user_cancel_id = g_cancellable_connect (cancellable,
                                                 G_CALLBACK (on_user_cancel),
                                                 g_object_ref (c->cancel),
                                                 g_object_unref);
    }
  if (c->needs_auth && !token_is_fresh (api))
    auth_wait (api, g_steal_pointer (&task), call_after_auth);
  else
    call_send (g_steal_pointer (&task));
}

static GBytes *
call_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* call_finish() then parse_object(): the JSON object of a successful answer,
 * or NULL with the error of whichever step failed. */
static JsonObject *
call_finish_object (RdtApi *api, GAsyncResult *result,
                    JsonParser **parser_out, GError **error)
{
  g_autoptr (GBytes) body = call_finish (api, result, error);

  if (body == NULL)
    return NULL;
  return parse_object (body, parser_out, error);
}

static Call *
call_new (CallKind kind, const gchar *method, gchar *path_take)
{
  Call *c = g_new0 (Call, 1);

  c->kind = kind;
  c->method = g_strdup (method);
  c->path = path_take;
  c->needs_auth = TRUE;
  c->max_size = RDT_API_MAX_JSON_RESPONSE;
  c->what = N_("the request");
  return c;
}

static void
call_fail_network (GTask *task, GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                           _("Could not reach the server: %s"),
                           error->message);
  g_error_free (error);
}

static void call_read_more (GTask *task);
static void call_done_reading (GTask *task);

static void
call_on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Call *c = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GBytes) chunk = NULL;
  gsize n;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                            &error);
  if (chunk == NULL)
    {
      call_fail_network (task, error);
      return;
    }
  n = g_bytes_get_size (chunk);
  if (n == 0)
    {
      call_done_reading (g_steal_pointer (&task));
      return;
    }
  if (c->buf->len + n > c->limit)
    {
      if (c->status >= 200 && c->status < 300)
        {
          call_abort_body (c);
          c->too_large = TRUE;
          g_task_return_new_error (task, RDT_API_ERROR,
                                   RDT_API_ERROR_BAD_RESPONSE,
                                   _("server answer too large"));
          return;
        }
      /* An error page: its beginning is all we need. */
      g_byte_array_append (c->buf, g_bytes_get_data (chunk, NULL),
                           (guint) (c->limit - c->buf->len));
      call_abort_body (c);
      call_done_reading (g_steal_pointer (&task));
      return;
    }
  g_byte_array_append (c->buf, g_bytes_get_data (chunk, NULL), (guint) n);
  call_read_more (g_steal_pointer (&task));
}

static void
call_read_more (GTask *task)
{
  Call *c = g_task_get_task_data (task);
  /* Always a full chunk (libsoup's chunked decoder trips over reads of a
   * couple of bytes); the bound is checked after each read, so at most
   * one chunk beyond it is ever held. */
  g_input_stream_read_bytes_async (c->in, READ_CHUNK, G_PRIORITY_DEFAULT,
                                   c->cancel, call_on_read, task);
}

static void
call_on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Call *c = g_task_get_task_data (task);
  GError *error = NULL;
  SoupMessageHeaders *headers;
  const gchar *ctype;
  goffset clen;

  /* Headers of the answer (or a failure): the body is written or given
   * up, so no progress is reported from here on. */
  g_clear_signal_handler (&c->wrote_id, c->msg);
  c->in = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (c->in == NULL)
    {
      call_fail_network (task, error);
      return;
    }
  c->status = soup_message_get_status (c->msg);
  headers = soup_message_get_response_headers (c->msg);
  ctype = soup_message_headers_get_content_type (headers, NULL);
  c->resp_type = ctype ? g_ascii_strdown (ctype, -1) : NULL;
  c->limit = (c->status >= 200 && c->status < 300) ? c->max_size
                                                   : MAX_ERROR_BODY;
  if (c->status >= 200 && c->status < 300
      && soup_message_headers_get_encoding (headers)
         == SOUP_ENCODING_CONTENT_LENGTH)
    {
      clen = soup_message_headers_get_content_length (headers);
      if (clen < 0 || (guint64) clen > c->max_size)
        {
          call_abort_body (c);
          c->too_large = clen >= 0;
          g_task_return_new_error (task, RDT_API_ERROR,
                                   RDT_API_ERROR_BAD_RESPONSE,
                                   _("server answer too large"));
          return;
        }
    }
  c->buf = g_byte_array_new ();
  call_read_more (g_steal_pointer (&task));
}

/* The handler is disconnected before c is freed and once the answer's
 * headers are in, so c is alive here and the call still running. */
static void
call_on_wrote_body_data (SoupMessage *msg, guint chunk_size, gpointer data)
{
  Call *c = data;
  goffset total = (goffset) g_bytes_get_size (c->body);

  if (g_cancellable_is_cancelled (c->cancel))
    return;
  c->sent = MIN (c->sent + (goffset) chunk_size, total);
  c->progress (c->sent, total, c->progress_data);
}

static void
call_send (GTask *task)
{
  RdtApi *api = g_task_get_source_object (task);
  Call *c = g_task_get_task_data (task);
  g_autofree gchar *url = g_strconcat (api->base_url, c->path, NULL);
  SoupMessageHeaders *headers;

  if (c->msg != NULL)
    g_clear_signal_handler (&c->wrote_id, c->msg);
  g_clear_object (&c->msg);
  g_clear_object (&c->in);
  g_clear_pointer (&c->buf, g_byte_array_unref);
  g_clear_pointer (&c->resp_type, g_free);

  c->msg = soup_message_new (c->method, url);
  if (c->msg == NULL)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Invalid request URL"));
      g_object_unref (task);
      return;
    }
  /* The server never redirects; following one could carry the token to
   * another host. A 3xx is an unexpected answer. */
  soup_message_add_flags (c->msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (c->msg);
  soup_message_headers_replace (headers, "Accept",
                                c->kind == CALL_BLOB
                                  && strcmp (c->method, "GET") == 0
                                ? "application/octet-stream"
                                : "application/json");
  if (c->needs_auth)
    {
      gchar *bearer;

      if (api->token == NULL)
        {
          g_task_return_new_error (task, RDT_API_ERROR,
                                   RDT_API_ERROR_UNAUTHORIZED,
                                   _("Not logged in"));
          g_object_unref (task);
          return;
        }
      bearer = g_strconcat ("Bearer ", api->token, NULL);
      soup_message_headers_replace (headers, "Authorization", bearer);
      rdt_secret_string_free (bearer);
      c->token_serial = api->token_serial;
    }
  if (c->body != NULL)
    soup_message_set_request_body_from_bytes (c->msg, c->content_type,
                                              c->body);
  if (c->progress != NULL && c->body != NULL)
    {
      /* A retry after re-authentication sends the body again from 0. */
      c->sent = 0;
      c->wrote_id = g_signal_connect (c->msg, "wrote-body-data",
                                      G_CALLBACK (call_on_wrote_body_data),
                                      c);
    }
  g_debug ("api: %s %s", c->method, c->path);
  soup_session_send_async (api->session, c->msg, G_PRIORITY_DEFAULT,
                           c->cancel, call_on_sent, task);
}

/* The request failed with an HTTP status: turn it into a GError. */
static GError *
call_status_error (Call *c, GBytes *body)
{
  gboolean too_long = FALSE;
  g_autofree gchar *detail = error_detail (body, &too_long);
  const gchar *reason = soup_message_get_reason_phrase (c->msg);
  g_autofree gchar *reason_clean = NULL;
  g_autofree gchar *said = NULL;
  guint s = c->status;
  RdtApiErrorCode code;

  if (detail == NULL)
    {
      reason_clean = sanitize_text (reason ? reason : "", -1);
      if (*reason_clean != '\0')
        said = g_strdup_printf ("HTTP %u %s", s, reason_clean);
      else
        said = g_strdup_printf ("HTTP %u", s);
    }
  else
    said = g_strdup (detail);

  if (s >= 500)
    return g_error_new (RDT_API_ERROR, RDT_API_ERROR_SERVER,
                        _("Server error (HTTP %u): %s"), s,
                        detail ? detail : said);

  if (s == 401)
    code = RDT_API_ERROR_UNAUTHORIZED;
  else if (s == 403)
    code = (c->kind == CALL_VERIFY && detail != NULL
            && strstr (detail, "Not a member") != NULL)
           ? RDT_API_ERROR_NOT_MEMBER : RDT_API_ERROR_FORBIDDEN;
  else if (s == 404)
    code = RDT_API_ERROR_NOT_FOUND;
  else if (s == 409)
    code = RDT_API_ERROR_CONFLICT;
  else if (s == 413 || (s == 422 && too_long))
    code = RDT_API_ERROR_TOO_LARGE;
  else if (s >= 400)
    code = RDT_API_ERROR_INVALID;
  else
    return g_error_new (RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                        _("Unexpected answer from server: %s"), said);

  /* The server's detail already says "Not a member ..." (we matched it
   * above): repeat it once, not behind a prefix saying the same. */
  if (code == RDT_API_ERROR_NOT_MEMBER)
    return g_error_new (RDT_API_ERROR, code, "%s", said);
  if (c->kind == CALL_CHALLENGE || c->kind == CALL_VERIFY)
    return g_error_new (RDT_API_ERROR, code,
                        _("Server refused the login: %s"), said);
  /* Translators: the first %s is what was refused ("the message", "the
   * file"...), the second the server's reason. */
  return g_error_new (RDT_API_ERROR, code, _("Server refused %s: %s"),
                      _(c->what), said);
}

static void
call_done_reading (GTask *task)
{
  RdtApi *api = g_task_get_source_object (task);
  Call *c = g_task_get_task_data (task);
  g_autoptr (GBytes) body = NULL;
  gboolean token_problem = FALSE;
  guint8 *data;
  gsize len;

  /* Done with the connection's body stream: close without blocking. */
  if (!g_input_stream_is_closed (c->in) && !g_input_stream_has_pending (c->in))
    g_input_stream_close_async (c->in, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  len = c->buf->len;
  data = g_byte_array_free (c->buf, FALSE);
  c->buf = NULL;
  body = g_bytes_new_take (data, len);

  if (c->status >= 200 && c->status < 300)
    {
      g_task_return_pointer (task, g_steal_pointer (&body),
                             (GDestroyNotify) g_bytes_unref);
      g_object_unref (task);
      return;
    }

  if (c->needs_auth && !c->retried)
    {
      if (c->status == 401)
        {
          gboolean dummy;
          g_autofree gchar *detail = error_detail (body, &dummy);
          token_problem = detail_mentions_token (detail);
        }
      else if (c->status == 500 && c->kind == CALL_BLOB)
        token_problem = TRUE;
    }
  if (token_problem)
    {
      c->retried = TRUE;
      g_debug ("api: %s %s: token refused, re-authenticating", c->method,
               c->path);
      /* Someone else may have re-authenticated while we were out. */
      if (c->token_serial == api->token_serial)
        rdt_api_clear_token (api);
      if (token_is_fresh (api))
        call_send (task);
      else
        auth_wait (api, task, call_after_auth);
      return;
    }

  g_task_return_error (task, call_status_error (c, body));
  g_object_unref (task);
}

/* ------------------------------------------------------------------ */
/* Authentication */

static void auth_challenge (RdtApi *api);

static void
auth_complete (RdtApi *api, const GError *error)
{
  GQueue waiters = G_QUEUE_INIT;
  AuthWaiter *w;

  api->auth_in_flight = FALSE;
  /* Steal the queue first: a waiter's continuation may queue again. */
  waiters = api->auth_waiters;
  g_queue_init (&api->auth_waiters);
  while ((w = g_queue_pop_head (&waiters)) != NULL)
    {
      w->done (w->task, error);
      g_object_unref (w->task);
      g_free (w);
    }
}

/* Queue task (ownership taken) until a fresh token exists. */
static void
auth_wait (RdtApi *api, GTask *task, AuthDoneFunc done)
{
  AuthWaiter *w = g_new0 (AuthWaiter, 1);

  w->task = task;
  w->done = done;
  g_queue_push_tail (&api->auth_waiters, w);
  if (!api->auth_in_flight)
    {
      api->auth_in_flight = TRUE;
      api->auth_attempt = 0;
      /* Keep ourselves alive until the login is over. */
      g_object_ref (api);
      auth_challenge (api);
    }
}

static void
auth_finish_and_unref (RdtApi *api, const GError *error)
{
  auth_complete (api, error);
  g_object_unref (api);
}

static gboolean
is_challenge_race (const GError *error)
{
  return g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED)
         && (strstr (error->message, "Challenge mismatch") != NULL
             || strstr (error->message, "Challenge not found") != NULL);
}

static void
auth_on_verify (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RdtApi *api = RDT_API (source);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj;
  const gchar *token;
  gint64 expires_at;

  body = call_finish (api, result, &error);
  if (body == NULL)
    {
      if (is_challenge_race (error) && api->auth_attempt == 0)
        {
          g_debug ("api: challenge lost (%s), retrying login once",
                   error->message);
          api->auth_attempt++;
          auth_challenge (api);
          return;
        }
      auth_finish_and_unref (api, error);
      return;
    }
  obj = parse_object (body, &parser, &error);
  if (obj == NULL
      || (token = get_string_member (obj, "token", &error)) == NULL
      || !get_int_member (obj, "expires_at", &expires_at, &error))
    {
      auth_finish_and_unref (api, error);
      return;
    }
  if (!token_syntax_ok (token))
    {
      g_set_error (&error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: malformed token"));
      auth_finish_and_unref (api, error);
      return;
    }
  token_set (api, token, expires_at);
  /* Wipe the parser's copy: json-glib's strings are ours to clear. */
  rdt_wipe ((gchar *) token, strlen (token));
  {
    gsize blen;
    gpointer bdata = (gpointer) g_bytes_get_data (body, &blen);
    rdt_wipe (bdata, blen);   /* our own buffer (call_done_reading) */
  }
  g_debug ("api: logged in as %s, token expires at %" G_GINT64_FORMAT,
           api->member_id, expires_at);
  auth_finish_and_unref (api, NULL);
}

static void
auth_on_challenge (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RdtApi *api = RDT_API (source);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autofree gchar *sig_b64 = NULL;
  g_autofree guint8 *raw = NULL;
  JsonObject *obj;
  const gchar *challenge;
  gint64 expires_at;
  guint8 sig[RDT_SIGNATURE_LENGTH];
  Call *c;

  obj = call_finish_object (api, result, &parser, &error);
  if (obj == NULL
      || (challenge = get_string_member (obj, "challenge", &error)) == NULL
      || !get_int_member (obj, "expires_at", &expires_at, &error))
    {
      auth_finish_and_unref (api, error);
      return;
    }
  /* Spec 6.1: std base64 of 32 random bytes. We sign the string itself,
   * but a challenge of any other shape is not from a reeeductio server. */
  if (strlen (challenge) > MAX_CHALLENGE_CHARS
      || (raw = rdt_base64_decode (challenge, 32, NULL, NULL)) == NULL)
    {
      g_set_error (&error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: malformed challenge"));
      auth_finish_and_unref (api, error);
      return;
    }

  /* Spec 6.2: sign the UTF-8 bytes of the challenge string. */
  rdt_signing_key_sign (api->key, (const guint8 *) challenge,
                        strlen (challenge), sig);
  sig_b64 = rdt_base64_encode (sig, sizeof sig);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "public_key");
  json_builder_add_string_value (builder, api->member_id);
  json_builder_set_member_name (builder, "signature");
  json_builder_add_string_value (builder, sig_b64);
  json_builder_set_member_name (builder, "challenge");
  json_builder_add_string_value (builder, challenge);
  json_builder_end_object (builder);

  c = call_new (CALL_VERIFY, "POST",
                g_strdup_printf ("/spaces/%s/auth/verify", api->space_id));
  c->needs_auth = FALSE;
  c->body = json_body (builder);
  c->content_type = "application/json";
  c->max_size = 64 * 1024;
  call_start (api, c, NULL, auth_on_verify, NULL);
}

static void
auth_challenge (RdtApi *api)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  Call *c;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "public_key");
  json_builder_add_string_value (builder, api->member_id);
  json_builder_end_object (builder);

  c = call_new (CALL_CHALLENGE, "POST",
                g_strdup_printf ("/spaces/%s/auth/challenge", api->space_id));
  c->needs_auth = FALSE;
  c->body = json_body (builder);
  c->content_type = "application/json";
  c->max_size = 64 * 1024;
  /* Not cancellable by any one waiter: others may depend on it; it is
   * bounded by the session timeout. */
  call_start (api, c, NULL, auth_on_challenge, NULL);
}

static void
authenticate_done (GTask *task, const GError *error)
{
  if (error != NULL)
    g_task_return_error (task, g_error_copy (error));
  else if (!g_task_return_error_if_cancelled (task))
    g_task_return_boolean (task, TRUE);
}

void
rdt_api_authenticate_async (RdtApi *api, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (RDT_IS_API (api));
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_authenticate_async);
  /* An explicit login always gets a new token (or joins the one running). */
  if (!api->auth_in_flight)
    rdt_api_clear_token (api);
  auth_wait (api, task, authenticate_done);
}

gboolean
rdt_api_authenticate_finish (RdtApi *api, GAsyncResult *result,
                             GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Endpoint plumbing */

static gboolean
check_topic (GTask *task, const gchar *topic_id)
{
  g_autoptr (GError) local = NULL;

  if (!rdt_topic_id_validate (topic_id, &local))
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Invalid topic id: %s"), local->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_id (GTask *task, const gchar *id, RdtIdType type)
{
  g_autoptr (GError) local = NULL;

  if (!rdt_id_decode_typed (id, type, NULL, &local))
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Invalid %s id: %s"), rdt_id_type_name (type),
                               local->message);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* GET messages */

/* A page of 1000 messages can be far over the answer limit: members may
 * post up to 102,400 characters of data each (spec 4.3), about 100 MB a
 * page. An answer over the limit is asked for again with a tenth of the
 * limit, down to one message; the caller pages on with has_more, as it
 * would anyway, so a topic of large messages stays readable. */
#define MESSAGES_SHRINK 10

typedef struct {
  gchar   *topic_id;
  gint64   from, to;
  guint    limit;
  gboolean has_more;
} ListResult;

static void
list_result_free (gpointer p)
{
  ListResult *lr = p;

  g_free (lr->topic_id);
  g_free (lr);
}

static void messages_start (GTask *task);

static void
on_messages (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  ListResult *lr = g_task_get_task_data (task);
  Call *c = g_task_get_task_data (G_TASK (result));
  GPtrArray *list;
  gboolean has_more = FALSE;
  gsize len;
  const gchar *data;

  body = call_finish (RDT_API (source), result, &error);
  if (body == NULL && c->too_large && lr->limit > 1)
    {
      lr->limit = MAX (lr->limit / MESSAGES_SHRINK, 1);
      g_debug ("GET %s: answer over the limit, asking for %u messages",
               lr->topic_id, lr->limit);
      messages_start (g_steal_pointer (&task));
      return;
    }
  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data = g_bytes_get_data (body, &len);
  list = rdt_message_list_parse (data ? data : "", (gssize) len, &has_more,
                                 &error);
  if (list == NULL)
    {
      GError *out = NULL;
      set_bad_response (&out, error);
      g_task_return_error (task, out);
      return;
    }
  lr->has_more = has_more;
  g_task_return_pointer (task, list, (GDestroyNotify) g_ptr_array_unref);
}

static void
messages_start (GTask *task)
{
  RdtApi *api = g_task_get_source_object (task);
  ListResult *lr = g_task_get_task_data (task);
  GString *path = g_string_new (NULL);
  gchar sep = '?';
  Call *c;

  g_string_printf (path, "/spaces/%s/topics/%s/messages", api->space_id,
                   lr->topic_id);
  if (lr->from >= 0)
    {
      g_string_append_printf (path, "%cfrom=%" G_GINT64_FORMAT, sep,
                              lr->from);
      sep = '&';
    }
  if (lr->to >= 0)
    {
      g_string_append_printf (path, "%cto=%" G_GINT64_FORMAT, sep, lr->to);
      sep = '&';
    }
  g_string_append_printf (path, "%climit=%u", sep, lr->limit);
  c = call_new (CALL_PLAIN, "GET", g_string_free (path, FALSE));
  call_start (api, c, g_task_get_cancellable (task), on_messages, task);
}

void
rdt_api_get_messages_async (RdtApi *api, const gchar *topic_id, gint64 from,
                            gint64 to, guint limit, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  ListResult *lr;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (topic_id != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_get_messages_async);
  lr = g_new0 (ListResult, 1);
  g_task_set_task_data (task, lr, list_result_free);
  if (!check_topic (task, topic_id))
    return;
  if (limit < 1 || limit > 1000)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("limit must be 1..1000"));
      return;
    }
  lr->topic_id = g_strdup (topic_id);
  lr->from = from;
  lr->to = to;
  lr->limit = limit;
  messages_start (g_steal_pointer (&task));
}

GPtrArray *
rdt_api_get_messages_finish (RdtApi *api, GAsyncResult *result,
                             gboolean *has_more, GError **error)
{
  GPtrArray *list;

  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  list = g_task_propagate_pointer (G_TASK (result), error);
  if (has_more != NULL)
    *has_more = list != NULL
                && ((ListResult *) g_task_get_task_data (G_TASK (result)))
                       ->has_more;
  return list;
}

/* ------------------------------------------------------------------ */
/* GET one message */

static void
on_message (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (RdtMessage) msg = NULL;
  const gchar *want = g_task_get_task_data (task);
  const gchar *data;
  gsize len;

  body = call_finish (RDT_API (source), result, &error);
  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data = g_bytes_get_data (body, &len);
  if (len == 0 || !rdt_json_check_text (data, len, NULL))
    {
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_BAD_RESPONSE,
                               _("Bad answer from server: not a message"));
      return;
    }
  msg = rdt_message_parse (data, (gssize) len, &error);
  if (msg == NULL)
    {
      GError *out = NULL;
      set_bad_response (&out, error);
      g_task_return_error (task, out);
      return;
    }
  if (strcmp (msg->message_hash, want) != 0)
    {
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_BAD_RESPONSE,
                               _("Bad answer from server: asked for one "
                                 "message, got another"));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&msg),
                         (GDestroyNotify) rdt_message_unref);
}

void
rdt_api_get_message_async (RdtApi *api, const gchar *topic_id,
                           const gchar *message_hash,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  Call *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (topic_id != NULL && message_hash != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_get_message_async);
  g_task_set_task_data (task, g_strdup (message_hash), g_free);
  if (!check_topic (task, topic_id)
      || !check_id (task, message_hash, RDT_ID_MESSAGE))
    return;
  c = call_new (CALL_PLAIN, "GET",
                g_strdup_printf ("/spaces/%s/topics/%s/messages/%s",
                                 api->space_id, topic_id, message_hash));
  c->max_size = 1024 * 1024;
  call_start (api, c, cancellable, on_message, g_steal_pointer (&task));
}

RdtMessage *
rdt_api_get_message_finish (RdtApi *api, GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* POST a message */

/* The answer object of a write, once its `member` (the id the server
 * says it stored) matches the one we sent (the task data). Otherwise the
 * task has been completed with the error and NULL is returned. */
static JsonObject *
finish_echoed_object (GTask *task, GObject *source, GAsyncResult *result,
                      JsonParser **parser, const gchar *member,
                      const gchar *what)
{
  g_autoptr (GError) error = NULL;
  JsonObject *obj = call_finish_object (RDT_API (source), result, parser,
                                        &error);
  const gchar *got;

  if (obj == NULL || (got = get_string_member (obj, member, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return NULL;
    }
  if (strcmp (got, g_task_get_task_data (task)) != 0)
    {
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_BAD_RESPONSE,
                               _("Bad answer from server: it stored a "
                                 "different %s"), _(what));
      return NULL;
    }
  return obj;
}

static void
on_posted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj = finish_echoed_object (task, source, result, &parser,
                                          "message_hash", N_("message hash"));
  gint64 ts;

  if (obj == NULL)
    return;
  if (!get_int_member (obj, "server_timestamp", &ts, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_int (task, ts);
}

void
rdt_api_post_message_async (RdtApi *api, const RdtMessage *msg,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  gchar *body;
  Call *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (msg != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_post_message_async);
  if (msg->message_hash == NULL || msg->topic_id == NULL)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Message is not complete"));
      return;
    }
  g_task_set_task_data (task, g_strdup (msg->message_hash), g_free);
  if (!check_topic (task, msg->topic_id))
    return;
  body = rdt_message_to_post_body (msg);
  c = call_new (CALL_PLAIN, "POST",
                g_strdup_printf ("/spaces/%s/topics/%s/messages",
                                 api->space_id, msg->topic_id));
  c->body = g_bytes_new_take (body, strlen (body));
  c->content_type = "application/json";
  c->what = N_("the message");
  c->max_size = 64 * 1024;
  call_start (api, c, cancellable, on_posted, g_steal_pointer (&task));
}

gint64
rdt_api_post_message_finish (RdtApi *api, GAsyncResult *result,
                             GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), -1);
  /* -1 with *error set on failure (timestamps are never negative) */
  return g_task_propagate_int (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Blobs */

static void
on_blob_put (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj = finish_echoed_object (task, source, result, &parser,
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
  Call *call;            /* put: the upload, started once the bytes match */
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
    call_free (check->call);
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
  Call *c;

  if (g_task_return_error_if_cancelled (task))
    return;
  if (!match)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("blob content does not match its id"));
      return;
    }
  c = g_steal_pointer (&check->call);
  call_start (RDT_API (g_task_get_source_object (task)), c,
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
  Call *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (blob_id != NULL && bytes != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_put_blob_async);
  g_task_set_task_data (task, g_strdup (blob_id), g_free);
  if (!check_id (task, blob_id, RDT_ID_BLOB))
    return;
  c = call_new (CALL_BLOB, "PUT",
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
  Call *c = g_task_get_task_data (G_TASK (result));
  BlobCheck *check;

  body = call_finish (RDT_API (source), result, &error);
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
  Call *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (blob_id != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_get_blob_async);
  g_task_set_task_data (task, g_strdup (blob_id), g_free);
  if (!check_id (task, blob_id, RDT_ID_BLOB))
    return;
  c = call_new (CALL_BLOB, "GET",
                g_strdup_printf ("/spaces/%s/blobs/%s", api->space_id,
                                 blob_id));
  c->max_size = max_size;
  c->what = N_("the file download");
  call_start (api, c, cancellable, on_blob_get, g_steal_pointer (&task));
}

GBytes *
rdt_api_get_blob_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Health */

static void
on_health (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj;
  gint64 ts;

  obj = call_finish_object (RDT_API (source), result, &parser, &error);
  if (obj == NULL || !get_int_member (obj, "timestamp", &ts, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_int (task, ts);
}

void
rdt_api_health_async (RdtApi *api, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  Call *c;

  g_return_if_fail (RDT_IS_API (api));
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_health_async);
  c = call_new (CALL_PLAIN, "GET", g_strdup ("/health"));
  c->needs_auth = FALSE;
  c->max_size = 64 * 1024;
  call_start (api, c, cancellable, on_health, task);
}

gint64
rdt_api_health_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), -1);
  /* -1 with *error set on failure (timestamps are never negative) */
  return g_task_propagate_int (G_TASK (result), error);
}
