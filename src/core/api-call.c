/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api-call.c - one HTTP request of the API client (send, bounded read,
 * status mapping, one re-authentication), the login beside it, and the
 * health probe. See api.c for the layers.
 */
#include "config.h"
#include "api-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

#define MAX_ERROR_BODY      (64 * 1024)

#define MAX_TOKEN_LENGTH    8192
#define MAX_CHALLENGE_CHARS 1024
#define READ_CHUNK          (64 * 1024)

typedef void (*AuthDoneFunc) (GTask *waiter, const GError *error);

typedef struct {
  GTask       *task;
  AuthDoneFunc done;
} AuthWaiter;

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
/* Requests */

void
rdt_api_call_free (RdtApiCall *c)
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
call_abort_body (RdtApiCall *c)
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

void
rdt_api_call_start (RdtApi *api, RdtApiCall *c, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (api, cancellable, callback, user_data);

  g_task_set_source_tag (task, rdt_api_call_start);
  g_task_set_task_data (task, c, (GDestroyNotify) rdt_api_call_free);
  c->cancel = g_cancellable_new ();
  if (cancellable != NULL)
    {
      c->user_cancel = g_object_ref (cancellable);
      c->user_cancel_id = g_cancellable_connect (cancellable,
                                                 G_CALLBACK (on_user_cancel),
                                                 g_object_ref (c->cancel),
                                                 g_object_unref);
    }
  if (c->needs_auth && !rdt_api_token_is_fresh (api))
    auth_wait (api, g_steal_pointer (&task), call_after_auth);
  else
    call_send (g_steal_pointer (&task));
}

GBytes *
rdt_api_call_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* rdt_api_call_finish() then rdt_api_parse_object(): the JSON object of a
 * successful answer, or NULL with the error of whichever step failed. */
JsonObject *
rdt_api_call_finish_object (RdtApi *api, GAsyncResult *result,
                            JsonParser **parser_out, GError **error)
{
  g_autoptr (GBytes) body = rdt_api_call_finish (api, result, error);

  if (body == NULL)
    return NULL;
  return rdt_api_parse_object (body, parser_out, error);
}

RdtApiCall *
rdt_api_call_new (RdtApiCallKind kind, const gchar *method, gchar *path_take)
{
  RdtApiCall *c = g_new0 (RdtApiCall, 1);

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
  RdtApiCall *c = g_task_get_task_data (task);
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
  RdtApiCall *c = g_task_get_task_data (task);
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
  RdtApiCall *c = g_task_get_task_data (task);
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
  RdtApiCall *c = data;
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
  RdtApiCall *c = g_task_get_task_data (task);
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
                                c->kind == RDT_API_CALL_BLOB
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
call_status_error (RdtApiCall *c, GBytes *body)
{
  gboolean too_long = FALSE;
  g_autofree gchar *detail = rdt_api_error_detail (body, &too_long);
  const gchar *reason = soup_message_get_reason_phrase (c->msg);
  g_autofree gchar *reason_clean = NULL;
  g_autofree gchar *said = NULL;
  guint s = c->status;
  RdtApiErrorCode code;

  if (detail == NULL)
    {
      reason_clean = rdt_api_sanitize_text (reason ? reason : "", -1);
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
    code = (c->kind == RDT_API_CALL_VERIFY && detail != NULL
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
  if (c->kind == RDT_API_CALL_CHALLENGE || c->kind == RDT_API_CALL_VERIFY)
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
  RdtApiCall *c = g_task_get_task_data (task);
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
          g_autofree gchar *detail = rdt_api_error_detail (body, &dummy);
          token_problem = rdt_api_detail_mentions_token (detail);
        }
      else if (c->status == 500 && c->kind == RDT_API_CALL_BLOB)
        token_problem = TRUE;
    }
  if (token_problem)
    {
      c->retried = TRUE;
      g_info ("api: %s %s: token refused, re-authenticating", c->method,
              c->path);
      /* Someone else may have re-authenticated while we were out. */
      if (c->token_serial == api->token_serial)
        rdt_api_clear_token (api);
      if (rdt_api_token_is_fresh (api))
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

  body = rdt_api_call_finish (api, result, &error);
  if (body == NULL)
    {
      if (is_challenge_race (error) && api->auth_attempt == 0)
        {
          g_info ("api: challenge lost (%s), retrying login once",
                  error->message);
          api->auth_attempt++;
          auth_challenge (api);
          return;
        }
      auth_finish_and_unref (api, error);
      return;
    }
  obj = rdt_api_parse_object (body, &parser, &error);
  if (obj == NULL
      || (token = rdt_api_parse_string (obj, "token", &error)) == NULL
      || !rdt_api_parse_int (obj, "expires_at", &expires_at, &error))
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
  rdt_api_token_set (api, token, expires_at);
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
  RdtApiCall *c;

  obj = rdt_api_call_finish_object (api, result, &parser, &error);
  if (obj == NULL
      || (challenge = rdt_api_parse_string (obj, "challenge", &error)) == NULL
      || !rdt_api_parse_int (obj, "expires_at", &expires_at, &error))
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

  c = rdt_api_call_new (RDT_API_CALL_VERIFY, "POST",
                        g_strdup_printf ("/spaces/%s/auth/verify",
                                         api->space_id));
  c->needs_auth = FALSE;
  c->body = rdt_api_json_body (builder);
  c->content_type = "application/json";
  c->max_size = 64 * 1024;
  rdt_api_call_start (api, c, NULL, auth_on_verify, NULL);
}

static void
auth_challenge (RdtApi *api)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  RdtApiCall *c;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "public_key");
  json_builder_add_string_value (builder, api->member_id);
  json_builder_end_object (builder);

  c = rdt_api_call_new (RDT_API_CALL_CHALLENGE, "POST",
                        g_strdup_printf ("/spaces/%s/auth/challenge",
                                         api->space_id));
  c->needs_auth = FALSE;
  c->body = rdt_api_json_body (builder);
  c->content_type = "application/json";
  c->max_size = 64 * 1024;
  /* Not cancellable by any one waiter: others may depend on it; it is
   * bounded by the session timeout. */
  rdt_api_call_start (api, c, NULL, auth_on_challenge, NULL);
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
/* Health */

static void
on_health (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj;
  gint64 ts;

  obj = rdt_api_call_finish_object (RDT_API (source), result, &parser, &error);
  if (obj == NULL || !rdt_api_parse_int (obj, "timestamp", &ts, &error))
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
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_health_async);
  c = rdt_api_call_new (RDT_API_CALL_PLAIN, "GET", g_strdup ("/health"));
  c->needs_auth = FALSE;
  c->max_size = 64 * 1024;
  rdt_api_call_start (api, c, cancellable, on_health, task);
}

gint64
rdt_api_health_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), -1);
  /* -1 with *error set on failure (timestamps are never negative) */
  return g_task_propagate_int (G_TASK (result), error);
}
