/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-api.c - RdtApi (src/core/api.c).
 *
 * Two halves:
 * - /api/fake/...: against a small SoupServer inside this process that
 *   answers from a script. It checks what we send (signature over the
 *   challenge string, Authorization header, query parameters) and serves
 *   deterministic garbage, oversize and error answers;
 * - /api/server/...: against the real rdt-test-server (tests/lib fixture),
 *   including its fault injection.
 *
 * Nothing sleeps: every wait runs the main loop until the expected event,
 * with a timeout that fails the test.
 */
#include <string.h>

#include <libsoup/soup.h>

#include "api.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "message.h"
#ifdef RDT_HAVE_TESTSERVER
#include "testserver.h"
#endif

#define WAIT_TIMEOUT_S 20

static const gchar *SPACE = "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c";
static const gchar *MEMBER = "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU";
static const gchar *MSG1_HASH = "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe";
static const gchar *MSG1_JSON =
  "{\"message_hash\":\"MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe\","
  "\"topic_id\":\"general\",\"type\":\"chat.text\",\"prev_hash\":null,"
  "\"data\":\"AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==\","
  "\"sender\":\"UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU\","
  "\"signature\":\"l3YZStUjYhQukP+/hhDjzkzApHODq+mVFNK3+DhSAmplFVFDN4XEPsTCFQzBlqIAwmevS3B2w8qd7a82ODboAQ==\","
  "\"server_timestamp\":1700000000000}";
static const gchar *BLOB_HEX =
  "000102030405060708090a0b1796932bf332261cc245922ee1246bd292babf355075f5e372ec345c";
static const gchar *BLOB_ID = "BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4";

/* ------------------------------------------------------------------ */
/* Waiting on the main loop */

static gboolean
timeout_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (WAIT_TIMEOUT_S, timeout_cb, &timed_out);

  while (*slot == NULL && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  g_assert_false (timed_out);
  return *slot;
}

/* Run the main loop until the real clock passes ms (epoch). */
static void
wait_until_ms (gint64 ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (WAIT_TIMEOUT_S, timeout_cb, &timed_out);

  while (g_get_real_time () / 1000 <= ms && !timed_out)
    {
      gboolean tick = FALSE;
      guint t = g_timeout_add (50, timeout_cb, &tick);
      while (!tick && !timed_out)
        g_main_context_iteration (NULL, TRUE);
      if (!tick)
        g_source_remove (t);
    }
  if (!timed_out)
    g_source_remove (id);
  g_assert_false (timed_out);
}

/* ------------------------------------------------------------------ */
/* Synchronous wrappers (test only) */

static gboolean
do_auth (RdtApi *api, GError **error)
{
  GAsyncResult *res = NULL;
  gboolean ok;

  rdt_api_authenticate_async (api, NULL, store_result, &res);
  ok = rdt_api_authenticate_finish (api, wait_result (&res), error);
  g_object_unref (res);
  return ok;
}

static GPtrArray *
do_get_messages (RdtApi *api, const gchar *topic, gint64 from, gint64 to,
                 guint limit, gboolean *has_more, GError **error)
{
  GAsyncResult *res = NULL;
  GPtrArray *list;

  rdt_api_get_messages_async (api, topic, from, to, limit, NULL,
                              store_result, &res);
  list = rdt_api_get_messages_finish (api, wait_result (&res), has_more,
                                      error);
  g_object_unref (res);
  return list;
}

static RdtMessage *
do_get_message (RdtApi *api, const gchar *topic, const gchar *hash,
                GError **error)
{
  GAsyncResult *res = NULL;
  RdtMessage *msg;

  rdt_api_get_message_async (api, topic, hash, NULL, store_result, &res);
  msg = rdt_api_get_message_finish (api, wait_result (&res), error);
  g_object_unref (res);
  return msg;
}

static gint64
do_post (RdtApi *api, const RdtMessage *msg, GError **error)
{
  GAsyncResult *res = NULL;
  gint64 ts;

  rdt_api_post_message_async (api, msg, NULL, store_result, &res);
  ts = rdt_api_post_message_finish (api, wait_result (&res), error);
  g_object_unref (res);
  return ts;
}

static gboolean
do_put_blob (RdtApi *api, const gchar *id, GBytes *bytes, GError **error)
{
  GAsyncResult *res = NULL;
  gboolean ok;

  rdt_api_put_blob_async (api, id, bytes, NULL, store_result, &res);
  ok = rdt_api_put_blob_finish (api, wait_result (&res), error);
  g_object_unref (res);
  return ok;
}

static GBytes *
do_get_blob (RdtApi *api, const gchar *id, gsize max, GError **error)
{
  GAsyncResult *res = NULL;
  GBytes *b;

  rdt_api_get_blob_async (api, id, max, NULL, store_result, &res);
  b = rdt_api_get_blob_finish (api, wait_result (&res), error);
  g_object_unref (res);
  return b;
}

static gint64
do_health (RdtApi *api, GError **error)
{
  GAsyncResult *res = NULL;
  gint64 ts;

  rdt_api_health_async (api, NULL, store_result, &res);
  ts = rdt_api_health_finish (api, wait_result (&res), error);
  g_object_unref (res);
  return ts;
}

static RdtSigningKey *
key_from_byte (guint8 b)
{
  guint8 seed[32];

  memset (seed, b, sizeof seed);
  return rdt_signing_key_new_from_seed (seed);
}

static GBytes *
blob_bytes (void)
{
  guint8 raw[40];

  g_assert_true (rdt_hex_decode (BLOB_HEX, raw, sizeof raw, NULL));
  return g_bytes_new (raw, sizeof raw);
}

/* ------------------------------------------------------------------ */
/* The in-process fake server */

typedef struct {
  guint    status;
  gchar   *ctype;
  GBytes  *body;
  guint    delay_ms;
  gboolean chunked;
  gboolean drop;        /* close the connection without an answer */
} Canned;

typedef struct {
  SoupServer *server;
  gchar      *url;
  GHashTable *routes;     /* "METHOD /path" -> GQueue of Canned */
  GPtrArray  *log;        /* "METHOD /path?query" */
  gchar      *last_auth;  /* Authorization of the last request */
  guint       n_challenge;
  guint       n_verify;
  gint64      token_ttl_ms;
  guint       token_counter;
  gchar      *challenge;
  RdtSigningKey *member;
} Fake;

static void
canned_free (Canned *c)
{
  g_free (c->ctype);
  if (c->body)
    g_bytes_unref (c->body);
  g_free (c);
}

static void
queue_free (GQueue *q)
{
  g_queue_free_full (q, (GDestroyNotify) canned_free);
}

/* Queue an answer for a route; the last one queued repeats forever. */
static void
fake_add (Fake *f, const gchar *method, const gchar *path, guint status,
          const gchar *ctype, const gchar *body)
{
  g_autofree gchar *key = g_strdup_printf ("%s %s", method, path);
  GQueue *q = g_hash_table_lookup (f->routes, key);
  Canned *c = g_new0 (Canned, 1);

  c->status = status;
  c->ctype = g_strdup (ctype ? ctype : "application/json");
  c->body = g_bytes_new (body ? body : "", body ? strlen (body) : 0);
  if (q == NULL)
    {
      q = g_queue_new ();
      g_hash_table_insert (f->routes, g_steal_pointer (&key), q);
    }
  g_queue_push_tail (q, c);
}

static Canned *
fake_last (Fake *f, const gchar *method, const gchar *path)
{
  g_autofree gchar *key = g_strdup_printf ("%s %s", method, path);
  GQueue *q = g_hash_table_lookup (f->routes, key);

  g_assert_nonnull (q);
  return g_queue_peek_tail (q);
}

static void
delayed_gone (SoupServerMessage *msg, gpointer data)
{
  g_object_set_data (G_OBJECT (msg), "gone", GINT_TO_POINTER (1));
}

/* A delayed answer whose client gave up (timeout test) or whose server was
 * freed meanwhile must not be unpaused. */
static gboolean
unpause_cb (gpointer data)
{
  g_signal_handlers_disconnect_by_func (data, delayed_gone, NULL);
  if (!g_object_get_data (data, "gone"))
    soup_server_message_unpause (data);
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static void
respond (SoupServerMessage *msg, Canned *c)
{
  gsize len;
  const gchar *data = g_bytes_get_data (c->body, &len);

  if (c->drop)
    {
      GIOStream *io = soup_server_message_steal_connection (msg);
      g_io_stream_close (io, NULL, NULL);
      g_object_unref (io);
      return;
    }
  soup_server_message_set_status (msg, c->status, NULL);
  if (c->chunked)
    {
      SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
      SoupMessageBody *b = soup_server_message_get_response_body (msg);
      soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
      soup_message_headers_set_content_type (h, c->ctype, NULL);
      soup_message_body_append (b, SOUP_MEMORY_COPY, data, len);
      soup_message_body_complete (b);
    }
  else
    soup_server_message_set_response (msg, c->ctype, SOUP_MEMORY_COPY, data,
                                      len);
  if (c->delay_ms > 0)
    {
      soup_server_message_pause (msg);
      g_signal_connect (msg, "disconnected", G_CALLBACK (delayed_gone), NULL);
      g_timeout_add (c->delay_ms, unpause_cb, g_object_ref (msg));
    }
}

static void
builtin_auth (Fake *f, SoupServerMessage *msg, gboolean verify)
{
  SoupMessageBody *req = soup_server_message_get_request_body (msg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *answer = NULL;
  JsonObject *obj;
  gint64 now = g_get_real_time () / 1000;

  g_assert_true (json_parser_load_from_data (parser, req->data, req->length,
                                             NULL));
  obj = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (obj, "public_key"), ==,
                   MEMBER);
  g_assert_cmpstr (soup_message_headers_get_content_type (
                       soup_server_message_get_request_headers (msg), NULL),
                   ==, "application/json");
  if (!verify)
    {
      guint8 raw[32];
      f->n_challenge++;
      rdt_random_bytes (raw, sizeof raw);
      g_free (f->challenge);
      f->challenge = rdt_base64_encode (raw, sizeof raw);
      answer = g_strdup_printf ("{\"challenge\":\"%s\",\"expires_at\":%"
                                G_GINT64_FORMAT "}", f->challenge,
                                now + 300000);
    }
  else
    {
      const gchar *sig64 = json_object_get_string_member (obj, "signature");
      const gchar *ch = json_object_get_string_member (obj, "challenge");
      g_autofree guint8 *sig = rdt_base64_decode (sig64, 64, NULL, NULL);

      f->n_verify++;
      g_assert_cmpstr (ch, ==, f->challenge);
      g_assert_nonnull (sig);
      /* Spec 6.2: the signature covers the challenge *string*. */
      g_assert_true (rdt_ed25519_verify (sig, (const guint8 *) ch,
                                         strlen (ch),
                                         rdt_signing_key_get_public_key (
                                             f->member)));
      f->token_counter++;
      answer = g_strdup_printf ("{\"token\":\"eyJ.tok%u.sig\",\"expires_at\":%"
                                G_GINT64_FORMAT "}", f->token_counter,
                                now + f->token_ttl_ms);
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    answer, strlen (answer));
}

static void
fake_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
              GHashTable *query, gpointer user_data)
{
  Fake *f = user_data;
  const gchar *method = soup_server_message_get_method (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  g_autofree gchar *key = g_strdup_printf ("%s %s", method, path);
  GQueue *q = g_hash_table_lookup (f->routes, key);
  const gchar *auth;

  g_ptr_array_add (f->log, g_uri_get_query (uri)
                   ? g_strdup_printf ("%s?%s", key, g_uri_get_query (uri))
                   : g_strdup (key));
  auth = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");
  g_free (f->last_auth);
  f->last_auth = g_strdup (auth);

  if (q != NULL && !g_queue_is_empty (q))
    {
      Canned *c = g_queue_get_length (q) > 1 ? g_queue_pop_head (q)
                                             : g_queue_peek_head (q);
      respond (msg, c);
      if (g_queue_peek_head (q) != c)
        canned_free (c);
      return;
    }
  if (g_str_has_suffix (path, "/auth/challenge"))
    builtin_auth (f, msg, FALSE);
  else if (g_str_has_suffix (path, "/auth/verify"))
    builtin_auth (f, msg, TRUE);
  else
    {
      static const gchar nf[] = "{\"detail\":\"Not Found\"}";
      soup_server_message_set_status (msg, 404, NULL);
      soup_server_message_set_response (msg, "application/json",
                                        SOUP_MEMORY_STATIC, nf,
                                        sizeof nf - 1);
    }
}

static Fake *
fake_new (void)
{
  Fake *f = g_new0 (Fake, 1);
  g_autoptr (GError) error = NULL;
  GSList *uris;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, fake_handler, f, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0,
                                           SOUP_SERVER_LISTEN_IPV4_ONLY,
                                           &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  f->routes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify) queue_free);
  f->log = g_ptr_array_new_with_free_func (g_free);
  f->token_ttl_ms = 3600 * 1000;
  f->member = key_from_byte (2);
  return f;
}

static void
fake_free (Fake *f)
{
  soup_server_disconnect (f->server);
  g_object_unref (f->server);
  g_free (f->url);
  g_hash_table_unref (f->routes);
  g_ptr_array_unref (f->log);
  g_free (f->last_auth);
  g_free (f->challenge);
  rdt_signing_key_free (f->member);
  g_free (f);
}

static RdtApi *
fake_api (Fake *f)
{
  g_autoptr (RdtSigningKey) key = key_from_byte (2);
  g_autoptr (GError) error = NULL;
  RdtApi *api = rdt_api_new (f->url, SPACE, key, RDT_ID_USER, &error);

  g_assert_no_error (error);
  g_assert_nonnull (api);
  return api;
}

static guint
log_count (Fake *f, const gchar *prefix)
{
  guint n = 0;

  for (guint i = 0; i < f->log->len; i++)
    if (g_str_has_prefix (f->log->pdata[i], prefix))
      n++;
  return n;
}

#define MSGS_PATH "/spaces/SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c/topics/general/messages"
#define BLOB_PATH "/spaces/SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c/blobs/BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4"
#define VERIFY_PATH "/spaces/SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c/auth/verify"

/* ------------------------------------------------------------------ */
/* Fake-server tests */

static void
test_fake_new_args (void)
{
  g_autoptr (RdtSigningKey) key = key_from_byte (2);
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autofree gchar *url = NULL;

  api = rdt_api_new ("ftp://x", SPACE, key, RDT_ID_USER, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_assert_null (api);
  g_clear_error (&error);
  api = rdt_api_new ("http://h:1/", MEMBER, key, RDT_ID_USER, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_clear_error (&error);

  api = rdt_api_new ("https://example.org//", SPACE, key, RDT_ID_USER,
                     &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rdt_api_get_base_url (api), ==, "https://example.org");
  g_assert_cmpstr (rdt_api_get_member_id (api), ==, MEMBER);
  g_assert_cmpstr (rdt_api_get_space_id (api), ==, SPACE);
  g_assert_false (rdt_api_has_token (api));
  g_assert_cmpint (rdt_api_get_token_expiry (api), ==, 0);
  g_assert_null (rdt_api_build_stream_url (api));
  g_assert_cmpuint (rdt_api_get_timeout (api), ==, 30);
  g_clear_object (&api);

  api = rdt_api_new ("http://h:1", SPACE, key, RDT_ID_TOOL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (rdt_api_get_member_id (api), "T"));
}

static void
test_fake_auth_ok (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autofree gchar *ws = NULL;
  g_autofree gchar *page = NULL;
  gboolean has_more = TRUE;
  gint64 now = g_get_real_time () / 1000;

  g_assert_true (do_auth (api, &error));
  g_assert_no_error (error);
  g_assert_true (rdt_api_has_token (api));
  g_assert_cmpint (rdt_api_get_token_expiry (api), >=, now + 3500 * 1000);
  g_assert_cmpuint (f->n_challenge, ==, 1);
  g_assert_cmpuint (f->n_verify, ==, 1);

  ws = rdt_api_build_stream_url (api);
  g_assert_true (g_str_has_prefix (ws, "ws://127.0.0.1:"));
  g_assert_true (g_str_has_suffix (ws, "/spaces/SIqI4910CfGV_VLbLTy6XXLKZwm_"
                                       "HZQSG_N0iAG0D29c/stream?token=eyJ."
                                       "tok1.sig"));

  page = g_strdup_printf ("{\"messages\":[%s],\"has_more\":false}",
                          MSG1_JSON);
  fake_add (f, "GET", MSGS_PATH, 200, NULL, page);
  list = do_get_messages (api, "general", 9999999999999, 0, 1, &has_more,
                          &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_false (has_more);
  g_assert_cmpstr (((RdtMessage *) list->pdata[0])->message_hash, ==,
                   MSG1_HASH);
  g_assert_cmpstr (f->last_auth, ==, "Bearer eyJ.tok1.sig");
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==,
                   "GET " MSGS_PATH "?from=9999999999999&to=0&limit=1");
  g_clear_pointer (&list, g_ptr_array_unref);

  /* from only / neither */
  list = do_get_messages (api, "general", 5, -1, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==,
                   "GET " MSGS_PATH "?from=5&limit=1000");
  g_clear_pointer (&list, g_ptr_array_unref);
  list = do_get_messages (api, "general", -1, -1, 100, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==,
                   "GET " MSGS_PATH "?limit=100");
  g_assert_cmpuint (f->n_challenge, ==, 1);   /* token reused */

  /* bad arguments never reach the server */
  g_clear_pointer (&list, g_ptr_array_unref);
  list = do_get_messages (api, "General!", -1, -1, 100, NULL, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_clear_error (&error);
  list = do_get_messages (api, "general", -1, -1, 0, NULL, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_clear_error (&error);
  list = do_get_messages (api, "general", -1, -1, 1001, NULL, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_clear_error (&error);

  rdt_api_clear_token (api);
  g_assert_false (rdt_api_has_token (api));
  fake_free (f);
}

static void
test_fake_auth_lazy (void)
{
  /* A request without a token logs in first, by itself. */
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  fake_add (f, "GET", MSGS_PATH, 200, NULL,
            "{\"messages\":[],\"has_more\":false}");
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_cmpuint (f->n_verify, ==, 1);
  g_assert_true (rdt_api_has_token (api));
  fake_free (f);
}

static void
test_fake_auth_not_member (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  fake_add (f, "POST", VERIFY_PATH, 403, NULL,
            "{\"detail\":\"Not a member of this space\"}");
  g_assert_false (do_auth (api, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER);
  g_assert_false (rdt_api_has_token (api));
  g_clear_error (&error);

  /* A request fails with the login's error and is never sent. */
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_null (list);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER);
  g_assert_cmpuint (log_count (f, "GET"), ==, 0);

  /* Other 403s at verify are not "not a member". */
  g_clear_error (&error);
  fake_last (f, "POST", VERIFY_PATH)->body =
    (g_bytes_unref (fake_last (f, "POST", VERIFY_PATH)->body),
     g_bytes_new_static ("{\"detail\":\"Forbidden\"}", 22));
  g_assert_false (do_auth (api, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN);
  fake_free (f);
}

static void
test_fake_auth_challenge_race (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;

  /* First verify loses the race, second succeeds (builtin). */
  fake_add (f, "POST", VERIFY_PATH, 401, NULL,
            "{\"detail\":\"Challenge mismatch\"}");
  fake_add (f, "POST", VERIFY_PATH, 200, NULL,
            "{\"token\":\"a.b.c\",\"expires_at\":9999999999999}");
  g_assert_true (do_auth (api, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->n_challenge, ==, 2);

  /* Lost twice: give up with UNAUTHORIZED. */
  fake_last (f, "POST", VERIFY_PATH)->status = 401;
  g_bytes_unref (fake_last (f, "POST", VERIFY_PATH)->body);
  fake_last (f, "POST", VERIFY_PATH)->body =
    g_bytes_new_static ("{\"detail\":\"Challenge not found\"}", 32);
  f->n_challenge = 0;
  g_assert_false (do_auth (api, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED);
  g_assert_nonnull (strstr (error->message, "Challenge not found"));
  g_assert_cmpuint (f->n_challenge, ==, 2);

  /* A bad signature is not retried. */
  g_clear_error (&error);
  g_bytes_unref (fake_last (f, "POST", VERIFY_PATH)->body);
  fake_last (f, "POST", VERIFY_PATH)->body =
    g_bytes_new_static ("{\"detail\":\"Invalid signature\"}", 30);
  f->n_challenge = 0;
  g_assert_false (do_auth (api, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED);
  g_assert_cmpuint (f->n_challenge, ==, 1);
  fake_free (f);
}

static void
test_fake_auth_bad_answers (void)
{
  static const gchar *const bad_verify[] = {
    "not json",
    "{\"token\":\"a.b.c\"}",
    "{\"token\":\"a.b.c\",\"expires_at\":\"123\"}",
    "{\"token\":\"a.b.c\",\"expires_at\":1.5}",
    "{\"token\":\"a.b.c\",\"expires_at\":-3}",
    "{\"token\":42,\"expires_at\":1}",
    "{\"token\":\"bad token\\r\\nX: y\",\"expires_at\":1}",
    "{\"token\":\"\",\"expires_at\":1}",
    "[1,2]",
    "{\"token\":\"a.b.c\",\"expires_at\":1",
  };
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);

  for (guint i = 0; i < G_N_ELEMENTS (bad_verify); i++)
    {
      g_autoptr (GError) error = NULL;
      g_hash_table_remove_all (f->routes);
      fake_add (f, "POST", VERIFY_PATH, 200, NULL, bad_verify[i]);
      g_assert_false (do_auth (api, &error));
      g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
      g_assert_false (rdt_api_has_token (api));
    }

  /* A challenge that is not base64 of 32 bytes. */
  {
    g_autoptr (GError) error = NULL;
    g_hash_table_remove_all (f->routes);
    fake_add (f, "POST",
              "/spaces/SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c/auth/challenge",
              200, NULL, "{\"challenge\":\"abc\",\"expires_at\":1}");
    g_assert_false (do_auth (api, &error));
    g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  }
  fake_free (f);
}

static void
test_fake_reauth_on_401 (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  g_assert_true (do_auth (api, NULL));
  fake_add (f, "GET", MSGS_PATH, 401, NULL, "{\"detail\":\"Token expired\"}");
  fake_add (f, "GET", MSGS_PATH, 200, NULL,
            "{\"messages\":[],\"has_more\":true}");
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (list);
  g_assert_cmpuint (f->n_verify, ==, 2);
  g_assert_cmpuint (log_count (f, "GET"), ==, 2);
  g_assert_cmpstr (f->last_auth, ==, "Bearer eyJ.tok2.sig");
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Refused again after the re-login: UNAUTHORIZED, exactly one retry. */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "GET", MSGS_PATH, 401, NULL, "{\"detail\":\"Invalid token\"}");
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED);
  g_assert_cmpuint (f->n_verify, ==, 3);
  g_assert_cmpuint (log_count (f, "GET"), ==, 4);
  g_clear_error (&error);

  /* A 401 that is not about the token is not retried. */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "GET", MSGS_PATH, 401, NULL,
            "{\"detail\":\"Tool T has exceeded use limit (3)\"}");
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED);
  g_assert_cmpuint (f->n_verify, ==, 3);
  fake_free (f);
}

static void
test_fake_reauth_blob_500 (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = blob_bytes ();
  g_autoptr (GBytes) got = NULL;

  g_assert_true (do_auth (api, NULL));
  fake_add (f, "GET", BLOB_PATH, 500, "text/plain", "Internal Server Error");
  fake_add (f, "GET", BLOB_PATH, 200, "application/octet-stream", "");
  g_bytes_unref (fake_last (f, "GET", BLOB_PATH)->body);
  fake_last (f, "GET", BLOB_PATH)->body = g_bytes_ref (bytes);
  got = do_get_blob (api, BLOB_ID, 1000, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, bytes));
  g_assert_cmpuint (f->n_verify, ==, 2);
  g_clear_pointer (&got, g_bytes_unref);

  /* 500 twice: SERVER, with the plain-text body in the message. */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "GET", BLOB_PATH, 500, "text/plain", "Internal Server Error");
  got = do_get_blob (api, BLOB_ID, 1000, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_SERVER);
  g_assert_nonnull (strstr (error->message, "Internal Server Error"));
  g_assert_cmpuint (f->n_verify, ==, 3);
  g_clear_error (&error);

  /* A 500 elsewhere is not a token problem. */
  fake_add (f, "GET", MSGS_PATH, 500, "text/plain", "Internal Server Error");
  g_assert_null (do_get_messages (api, "general", -1, -1, 10, NULL, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_SERVER);
  g_assert_cmpuint (f->n_verify, ==, 3);

  /* Wrong bytes for the id. */
  g_clear_error (&error);
  g_hash_table_remove_all (f->routes);
  fake_add (f, "GET", BLOB_PATH, 200, "application/octet-stream", "evil");
  got = do_get_blob (api, BLOB_ID, 1000, &error);
  g_assert_null (got);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  g_assert_cmpstr (error->message, ==, "blob content does not match its id");
  g_clear_error (&error);

  /* Over max_size, with and without Content-Length. */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "GET", BLOB_PATH, 200, "application/octet-stream", "");
  g_bytes_unref (fake_last (f, "GET", BLOB_PATH)->body);
  fake_last (f, "GET", BLOB_PATH)->body = g_bytes_ref (bytes);
  got = do_get_blob (api, BLOB_ID, 39, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  g_assert_cmpstr (error->message, ==, "server answer too large");
  g_clear_error (&error);
  fake_last (f, "GET", BLOB_PATH)->chunked = TRUE;
  got = do_get_blob (api, BLOB_ID, 39, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  g_assert_cmpstr (error->message, ==, "server answer too large");
  g_clear_error (&error);
  got = do_get_blob (api, BLOB_ID, 40, &error);   /* exactly fits */
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, bytes));
  fake_free (f);
}

static void
test_fake_blob_put (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = blob_bytes ();
  g_autoptr (GBytes) wrong = g_bytes_new_static ("x", 1);

  fake_add (f, "PUT", BLOB_PATH, 201, NULL,
            "{\"blob_id\":\"BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4\","
            "\"size\":40}");
  g_assert_true (do_put_blob (api, BLOB_ID, bytes, &error));
  g_assert_no_error (error);

  /* Content that does not hash to the id is refused locally. */
  g_assert_false (do_put_blob (api, BLOB_ID, wrong, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (do_put_blob (api, MSG1_HASH, bytes, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (log_count (f, "PUT"), ==, 1);

  /* 413 */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "PUT", BLOB_PATH, 413, NULL,
            "{\"detail\":\"Blob too large. Maximum size is 104857600 bytes "
            "(100 MB)\"}");
  g_assert_false (do_put_blob (api, BLOB_ID, bytes, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "Blob too large"));
  g_clear_error (&error);

  /* An answer naming another blob. */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "PUT", BLOB_PATH, 201, NULL,
            "{\"blob_id\":\"BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
  g_assert_false (do_put_blob (api, BLOB_ID, bytes, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  fake_free (f);
}

/* The SHA-256 of a blob against its id runs in a worker thread, not in the
 * caller's main loop: putting 64 MB under a wrong id returns at once, and
 * the refusal comes later. (On the main loop the call itself took as long
 * as the hash.) */
static void
test_fake_blob_hash_off_main_loop (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GBytes) bytes = NULL;
  const gsize n = 64 * 1024 * 1024;
  guint8 *data = g_malloc (n);
  guint8 digest[RDT_SHA256_LENGTH];
  gint64 t0, hash_us, best = G_MAXINT64;

  memset (data, 0x5a, n);
  bytes = g_bytes_new_take (data, n);
  t0 = g_get_monotonic_time ();
  rdt_sha256 (data, n, digest);
  hash_us = g_get_monotonic_time () - t0;

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GError) error = NULL;
      GAsyncResult *res = NULL;
      gint64 call_us;

      t0 = g_get_monotonic_time ();
      rdt_api_put_blob_async (api, BLOB_ID, bytes, NULL, store_result, &res);
      call_us = g_get_monotonic_time () - t0;
      best = MIN (best, call_us);
      g_assert_null (res);
      g_assert_false (rdt_api_put_blob_finish (api, wait_result (&res),
                                               &error));
      g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
      g_object_unref (res);
    }
  g_test_message ("SHA-256 of 64 MB: %" G_GINT64_FORMAT " us; the put call "
                  "took %" G_GINT64_FORMAT " us", hash_us, best);
  g_assert_cmpint (best, <, hash_us / 2);
  g_assert_cmpuint (log_count (f, "PUT"), ==, 0);
  fake_free (f);
}

/* Upload progress as seen by the caller. */
typedef struct {
  GArray *sent;            /* goffset per callback */
  goffset total;
  gboolean finished;       /* the result has arrived */
  guint after_finish;      /* callbacks after that: must stay 0 */
  GCancellable *cancel_at; /* cancel once a third is sent, or NULL */
  gboolean cancelled;
  guint after_cancel;      /* callbacks after cancelling: must stay 0 */
} Progress;

static void
on_progress (goffset sent, goffset total, gpointer data)
{
  Progress *p = data;

  if (p->finished)
    p->after_finish++;
  if (p->cancelled)
    p->after_cancel++;
  g_array_append_val (p->sent, sent);
  p->total = total;
  if (p->cancel_at != NULL && !p->cancelled && sent >= total / 3)
    {
      p->cancelled = TRUE;
      g_cancellable_cancel (p->cancel_at);
    }
}

/* A random blob of n bytes and its id. */
static GBytes *
random_blob (gsize n, gchar **id_out)
{
  guint8 *data = g_malloc (n);
  guint8 hash[RDT_SHA256_LENGTH];

  rdt_random_bytes (data, n);
  rdt_sha256 (data, n, hash);
  *id_out = rdt_id_encode (RDT_ID_BLOB, hash);
  return g_bytes_new_take (data, n);
}

/* A retry after re-authentication (500 from a blob endpoint) sends the
 * body again: progress restarts from 0 and ends at the full size again. */
static void
test_fake_blob_put_progress_retry (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *id = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *answer = NULL;
  const goffset size = 64 * 1024;
  g_autoptr (GBytes) bytes = random_blob ((gsize) size, &id);
  Progress p = { .sent = g_array_new (FALSE, FALSE, sizeof (goffset)) };
  GAsyncResult *res = NULL;
  guint full = 0, drops = 0;

  path = g_strdup_printf ("/spaces/%s/blobs/%s", SPACE, id);
  answer = g_strdup_printf ("{\"blob_id\":\"%s\"}", id);
  g_assert_true (do_auth (api, NULL));
  fake_add (f, "PUT", path, 500, "text/plain", "Internal Server Error");
  fake_add (f, "PUT", path, 201, NULL, answer);
  rdt_api_put_blob_with_progress_async (api, id, bytes, on_progress, &p,
                                        NULL, store_result, &res);
  g_assert_true (rdt_api_put_blob_finish (api, wait_result (&res), &error));
  g_assert_no_error (error);
  g_object_unref (res);
  p.finished = TRUE;
  g_assert_cmpuint (f->n_verify, ==, 2);
  g_assert_cmpuint (log_count (f, "PUT"), ==, 2);

  /* Two rising runs, each ending at the full size. */
  g_test_message ("%u progress callbacks", p.sent->len);
  for (guint i = 0; i < p.sent->len; i++)
    {
      goffset v = g_array_index (p.sent, goffset, i);

      g_assert_cmpint (v, >, 0);
      g_assert_cmpint (v, <=, size);
      full += v == size;
      if (i > 0 && v <= g_array_index (p.sent, goffset, i - 1))
        drops++;
    }
  g_assert_cmpuint (full, ==, 2);
  g_assert_cmpuint (drops, ==, 1);
  g_assert_cmpint (g_array_index (p.sent, goffset, p.sent->len - 1), ==, size);
  g_assert_cmpint (p.total, ==, size);
  g_assert_cmpuint (p.after_finish, ==, 0);
  g_array_unref (p.sent);
  fake_free (f);
}

static void
test_fake_concurrent_reauth (void)
{
  /* Three requests without a token: one challenge, all succeed. */
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  GAsyncResult *res[3] = { NULL, NULL, NULL };
  GAsyncResult *ares = NULL;

  fake_add (f, "GET", MSGS_PATH, 200, NULL,
            "{\"messages\":[],\"has_more\":false}");
  for (guint i = 0; i < 3; i++)
    rdt_api_get_messages_async (api, "general", -1, -1, 10, NULL,
                                store_result, &res[i]);
  /* An explicit login while one is running joins it. */
  rdt_api_authenticate_async (api, NULL, store_result, &ares);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) list =
        rdt_api_get_messages_finish (api, wait_result (&res[i]), NULL,
                                     &error);
      g_assert_no_error (error);
      g_object_unref (res[i]);
    }
  g_assert_true (rdt_api_authenticate_finish (api, wait_result (&ares),
                                              NULL));
  g_object_unref (ares);
  g_assert_cmpuint (f->n_challenge, ==, 1);
  g_assert_cmpuint (f->n_verify, ==, 1);
  g_assert_cmpuint (log_count (f, "GET"), ==, 3);
  fake_free (f);
}

static void
test_fake_proactive_refresh (void)
{
  /* A token near its end is replaced before the request is sent. */
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  gint64 exp1;

  f->token_ttl_ms = 1000;
  g_assert_true (do_auth (api, NULL));
  exp1 = rdt_api_get_token_expiry (api);
  fake_add (f, "GET", MSGS_PATH, 200, NULL,
            "{\"messages\":[],\"has_more\":false}");
  /* Refreshed at half the lifetime for short tokens: wait past expiry. */
  wait_until_ms (exp1);
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->n_verify, ==, 2);
  g_assert_cmpint (rdt_api_get_token_expiry (api), >, exp1);
  g_assert_cmpstr (f->last_auth, ==, "Bearer eyJ.tok2.sig");
  fake_free (f);
}

static void
test_fake_error_mapping (void)
{
  static const struct {
    guint status;
    const gchar *ctype;
    const gchar *body;
    RdtApiErrorCode code;
    const gchar *substr;
  } cases[] = {
    { 400, NULL, "{\"detail\":\"Message hash mismatch\"}",
      RDT_API_ERROR_INVALID, "Server refused the message: Message hash mismatch" },
    { 403, NULL, "{\"detail\":\"No post permission\"}",
      RDT_API_ERROR_FORBIDDEN, "No post permission" },
    { 404, NULL, "{\"detail\":\"Space 'S' is not registered\"}",
      RDT_API_ERROR_NOT_FOUND, "not registered" },
    { 409, NULL, "{\"detail\":\"Chain conflict: Chain conflict in topic 'general'\"}",
      RDT_API_ERROR_CONFLICT, "Chain conflict" },
    { 413, NULL, "{\"detail\":\"too big\"}", RDT_API_ERROR_TOO_LARGE, "too big" },
    { 422, NULL, "{\"detail\":[{\"type\":\"string_too_long\",\"loc\":[\"body\",\"data\"],"
      "\"msg\":\"String should have at most 102400 characters\",\"input\":\"x\"}]}",
      RDT_API_ERROR_TOO_LARGE, "at most 102400" },
    { 422, NULL, "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\",\"data\"],"
      "\"msg\":\"Field required\"}]}", RDT_API_ERROR_INVALID, "Field required" },
    { 500, "text/plain", "Internal Server Error", RDT_API_ERROR_SERVER,
      "Internal Server Error" },
    { 503, NULL, "{\"detail\":\"Message store unavailable\"}",
      RDT_API_ERROR_SERVER, "Message store unavailable" },
    { 502, "text/html", "", RDT_API_ERROR_SERVER, "502" },
    { 418, "text/plain", "\xff\xfe binary \x01 junk", RDT_API_ERROR_INVALID,
      "binary" },
    { 409, NULL, "{\"detail\":{\"nested\":1}}", RDT_API_ERROR_CONFLICT, "409" },
    { 302, NULL, "{}", RDT_API_ERROR_BAD_RESPONSE, "302" },
  };
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (RdtSigningKey) key = key_from_byte (2);
  g_autoptr (RdtMessage) msg =
    rdt_message_new_signed (SPACE, "general", "chat.text", NULL, "aGk=",
                            MEMBER, key);

  g_assert_true (do_auth (api, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_hash_table_remove_all (f->routes);
      fake_add (f, "POST", MSGS_PATH, cases[i].status, cases[i].ctype,
                cases[i].body);
      g_assert_cmpint (do_post (api, msg, &error), ==, -1);
      g_assert_error (error, RDT_API_ERROR, (gint) cases[i].code);
      if (strstr (error->message, cases[i].substr) == NULL)
        g_error ("case %u: '%s' lacks '%s'", i, error->message,
                 cases[i].substr);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  fake_free (f);
}

static void
test_fake_post (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (RdtSigningKey) key = key_from_byte (2);
  g_autoptr (RdtMessage) msg =
    rdt_message_new_signed (SPACE, "general", "chat.text", NULL, "aGk=",
                            MEMBER, key);
  g_autofree gchar *ok = g_strdup_printf (
      "{\"message_hash\":\"%s\",\"server_timestamp\":1234}", msg->message_hash);
  static const gchar *const bad[] = {
    "{\"message_hash\":\"MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe\","
    "\"server_timestamp\":1}",
    "{\"server_timestamp\":1}",
    "garbage",
    "",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]",
  };
  g_autoptr (GError) error = NULL;

  fake_add (f, "POST", MSGS_PATH, 201, NULL, ok);
  g_assert_cmpint (do_post (api, msg, &error), ==, 1234);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_hash_table_remove_all (f->routes);
      fake_add (f, "POST", MSGS_PATH, 201, NULL, bad[i]);
      g_assert_cmpint (do_post (api, msg, &error), ==, -1);
      g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
      g_clear_error (&error);
    }
  fake_free (f);
}

static void
test_fake_get_bad_answers (void)
{
  static const gchar *const bad_lists[] = {
    "not json at all",
    "{\"messages\":[{\"message_hash\":\"x\"}],\"has_more\":false}",
    "{\"messages\":[],\"has_more\":false",
    "{\"messages\":{},\"has_more\":false}",
    "\"just a string\"",
  };
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtMessage) m = NULL;
  g_autofree gchar *mpath = g_strdup_printf ("%s/%s", MSGS_PATH, MSG1_HASH);
  GString *big;

  g_assert_true (do_auth (api, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad_lists); i++)
    {
      g_autoptr (GPtrArray) list = NULL;
      g_hash_table_remove_all (f->routes);
      fake_add (f, "GET", MSGS_PATH, 200, NULL, bad_lists[i]);
      list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
      g_assert_null (list);
      g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
      g_clear_error (&error);
    }

  /* Oversize JSON answer (Content-Length over the bound). */
  g_hash_table_remove_all (f->routes);
  big = g_string_new ("{\"messages\":[],\"has_more\":false}");
  while (big->len <= RDT_API_MAX_JSON_RESPONSE)
    g_string_append_c (big, ' ');
  fake_add (f, "GET", MSGS_PATH, 200, NULL, big->str);
  g_string_free (big, TRUE);
  g_assert_null (do_get_messages (api, "general", -1, -1, 10, NULL, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  g_assert_cmpstr (error->message, ==, "server answer too large");
  g_clear_error (&error);
  /* ... and the same without Content-Length. */
  fake_last (f, "GET", MSGS_PATH)->chunked = TRUE;
  g_assert_null (do_get_messages (api, "general", -1, -1, 10, NULL, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  g_assert_cmpstr (error->message, ==, "server answer too large");
  g_clear_error (&error);

  /* Get by hash: OK, another message, 404. */
  fake_add (f, "GET", mpath, 200, NULL, MSG1_JSON);
  m = do_get_message (api, "general", MSG1_HASH, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->message_hash, ==, MSG1_HASH);
  g_assert_cmpint (m->server_timestamp, ==, 1700000000000);
  g_clear_pointer (&m, rdt_message_unref);
  g_free (mpath);
  mpath = g_strdup_printf ("%s/%s", MSGS_PATH,
                           "MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt");
  fake_add (f, "GET", mpath, 200, NULL, MSG1_JSON);
  m = do_get_message (api, "general",
                      "MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt", &error);
  g_assert_null (m);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  g_clear_error (&error);
  m = do_get_message (api, "general",
                      "MAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND);
  g_clear_error (&error);
  m = do_get_message (api, "general", "not-an-id", &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  fake_free (f);
}

static void
test_fake_network (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtApi) dead = NULL;
  g_autoptr (RdtSigningKey) key = key_from_byte (2);
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autofree gchar *url = NULL;
  guint16 port;
  gint64 t0;

  /* A port nobody listens on: bind one, read its number, close it. */
  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_TCP, NULL);
  addr = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (sock, addr, FALSE, NULL));
  g_clear_object (&addr);
  addr = g_socket_get_local_address (sock, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr));
  g_socket_close (sock, NULL);
  url = g_strdup_printf ("http://127.0.0.1:%u", port);
  dead = rdt_api_new (url, SPACE, key, RDT_ID_USER, NULL);
  g_assert_false (do_auth (dead, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  g_clear_error (&error);
  g_assert_cmpint (do_health (dead, &error), ==, -1);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  g_clear_error (&error);

  /* Health. */
  fake_add (f, "GET", "/health", 200, NULL,
            "{\"status\":\"healthy\",\"timestamp\":1700000000123}");
  g_assert_cmpint (do_health (api, &error), ==, 1700000000123);
  g_assert_no_error (error);

  /* Connection dropped without an answer. */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "GET", "/health", 200, NULL, "{}");
  fake_last (f, "GET", "/health")->drop = TRUE;
  g_assert_cmpint (do_health (api, &error), ==, -1);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  g_clear_error (&error);

  /* An answer slower than the timeout. */
  g_hash_table_remove_all (f->routes);
  fake_add (f, "GET", "/health", 200, NULL,
            "{\"status\":\"healthy\",\"timestamp\":1}");
  fake_last (f, "GET", "/health")->delay_ms = 4000;
  rdt_api_set_timeout (api, 1);
  t0 = g_get_monotonic_time ();
  g_assert_cmpint (do_health (api, &error), ==, -1);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 3500 * 1000);
  fake_free (f);
}

static void
test_fake_cancel (void)
{
  Fake *f = fake_new ();
  g_autoptr (RdtApi) api = fake_api (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) c = g_cancellable_new ();
  GAsyncResult *res = NULL;

  fake_add (f, "GET", "/health", 200, NULL,
            "{\"status\":\"healthy\",\"timestamp\":1}");
  fake_last (f, "GET", "/health")->delay_ms = 3000;
  rdt_api_health_async (api, c, store_result, &res);
  g_cancellable_cancel (c);
  g_assert_cmpint (rdt_api_health_finish (api, wait_result (&res), &error),
                   ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_object_unref (res);
  fake_free (f);
}

#ifdef RDT_HAVE_TESTSERVER
/* ------------------------------------------------------------------ */
/* Real test server (needs tests/lib and rdt-test-server) */

static RdtTestServer *real_server;

static RdtTestServer *
get_server (void)
{
  if (real_server == NULL)
    real_server = rdt_test_server_start (NULL);
  return real_server;
}

static RdtApi *
real_api (RdtTestServer *srv, const gchar *space, const RdtSigningKey *key)
{
  g_autoptr (GError) error = NULL;
  RdtApi *api = rdt_api_new (rdt_test_server_get_url (srv), space, key,
                             RDT_ID_USER, &error);
  g_assert_no_error (error);
  return api;
}

/* A fresh space owned by a fresh key (auto_create_spaces is on). */
static RdtApi *
fresh_space_api (RdtTestServer *srv, RdtSigningKey **key_out)
{
  RdtSigningKey *key = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  RdtApi *api = real_api (srv, space, key);

  if (key_out)
    *key_out = key;
  else
    rdt_signing_key_free (key);
  return api;
}

static void
test_server_auth (void)
{
  RdtTestServer *srv = get_server ();
  /* fresh keys: an external server keeps the fixed keys' spaces (the
   * conformance tests add Appendix A's member to its space) */
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) stranger = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  g_autoptr (RdtApi) api = real_api (srv, space, owner);
  g_autoptr (RdtApi) other = real_api (srv, space, stranger);
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time () / 1000;

  g_assert_true (do_auth (api, &error));
  g_assert_no_error (error);
  g_assert_true (rdt_api_has_token (api));
  g_assert_cmpint (rdt_api_get_token_expiry (api), >, now);
  g_assert_cmpint (do_health (api, &error), >, 0);
  g_assert_no_error (error);

  /* Another key is not a member of the owner's space until the owner
   * adds it. */
  g_assert_false (do_auth (other, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER);
}

/* Members may post 102,400 characters of data per message (spec 4.3), so
 * a page of 1000 can be far over the client's answer limit: the api asks
 * again for fewer and the caller pages on with has_more. 170 such
 * messages make about 17.5 MB, over the 16 MB limit. */
static void
test_server_large_page (void)
{
  RdtTestServer *srv = get_server ();
  RdtSigningKey *key = NULL;
  g_autoptr (RdtApi) api = fresh_space_api (srv, &key);
  g_autoptr (GError) error = NULL;
  const gchar *me = rdt_api_get_member_id (api);
  const gchar *space = rdt_api_get_space_id (api);
  g_autofree gchar *big = g_strnfill (RDT_MAX_DATA_CHARS, 'A');
  g_autofree gchar *prev = NULL;
  guint n = 170, got = 0, pages = 0;
  gint64 ts = 0, from = 0;
  gboolean has_more = TRUE;

  g_assert_cmpuint ((gsize) n * RDT_MAX_DATA_CHARS, >,
                    RDT_API_MAX_JSON_RESPONSE);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (RdtMessage) m = NULL;

      wait_until_ms (ts + 2);
      m = rdt_message_new_signed (space, "big", "chat.text", prev, big, me,
                                  key);
      ts = do_post (api, m, &error);
      g_assert_no_error (error);
      g_free (prev);
      prev = g_strdup (m->message_hash);
    }
  while (has_more)
    {
      g_autoptr (GPtrArray) list = do_get_messages (api, "big", from, -1,
                                                    1000, &has_more, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (list->len, >, 0);
      g_assert_cmpuint (list->len, <, n);   /* never all at once */
      got += list->len;
      pages++;
      from = ((RdtMessage *) list->pdata[list->len - 1])->server_timestamp + 1;
    }
  g_assert_cmpuint (got, ==, n);
  g_assert_cmpuint (pages, >=, 2);
  rdt_signing_key_free (key);
}

static void
test_server_messages (void)
{
  RdtTestServer *srv = get_server ();
  RdtSigningKey *key = NULL;
  g_autoptr (RdtApi) api = fresh_space_api (srv, &key);
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtMessage) m1 = NULL, m2 = NULL, stale = NULL, got = NULL;
  g_autoptr (GPtrArray) list = NULL;
  const gchar *me = rdt_api_get_member_id (api);
  const gchar *space = rdt_api_get_space_id (api);
  gboolean has_more = FALSE;
  gint64 ts1, ts2;

  m1 = rdt_message_new_signed (space, "general", "chat.text", NULL, "b25l",
                               me, key);
  ts1 = do_post (api, m1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ts1, >, 0);

  /* Not before the next millisecond (spec 4.6: no ties in a topic). */
  wait_until_ms (ts1 + 2);
  m2 = rdt_message_new_signed (space, "general", "chat.text", m1->message_hash,
                               "dHdv", me, key);
  ts2 = do_post (api, m2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ts2, >=, ts1);

  /* Same prev again: chain conflict. */
  stale = rdt_message_new_signed (space, "general", "chat.text",
                                  m1->message_hash, "c3RhbGU=", me, key);
  g_assert_cmpint (do_post (api, stale, &error), ==, -1);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT);
  g_clear_error (&error);

  /* Newest page, newest first; has_more with limit 1. */
  list = do_get_messages (api, "general", 9999999999999, 0, 1, &has_more,
                          &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_true (has_more);
  g_assert_cmpstr (((RdtMessage *) list->pdata[0])->message_hash, ==,
                   m2->message_hash);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Default order: oldest first. */
  list = do_get_messages (api, "general", -1, -1, 100, &has_more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_false (has_more);
  g_assert_cmpstr (((RdtMessage *) list->pdata[0])->message_hash, ==,
                   m1->message_hash);
  g_assert_null (((RdtMessage *) list->pdata[0])->prev_hash);
  g_assert_cmpstr (((RdtMessage *) list->pdata[1])->prev_hash, ==,
                   m1->message_hash);
  g_assert_true (rdt_message_verify (list->pdata[1], space, "general", NULL));
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Empty topic. */
  list = do_get_messages (api, "empty-topic", -1, -1, 10, &has_more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);

  /* By hash, and 404. */
  got = do_get_message (api, "general", m1->message_hash, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->data, ==, "b25l");
  g_assert_cmpint (got->server_timestamp, ==, ts1);
  g_clear_pointer (&got, rdt_message_unref);
  got = do_get_message (api, "general", stale->message_hash, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Refused post: hash mismatch. */
  g_free (stale->data);
  stale->data = g_strdup ("dGFtcGVyZWQ=");
  g_free (stale->prev_hash);
  stale->prev_hash = g_strdup (m2->message_hash);
  g_assert_cmpint (do_post (api, stale, &error), ==, -1);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "mismatch"));
  rdt_signing_key_free (key);
}

static void
test_server_blobs (void)
{
  RdtTestServer *srv = get_server ();
  g_autoptr (RdtApi) api = fresh_space_api (srv, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *id = NULL;
  /* fresh bytes: a blob belongs to the space that first stored it, and an
   * external server keeps the blobs of earlier runs */
  g_autoptr (GBytes) bytes = random_blob (40, &id);
  g_autoptr (GBytes) got = NULL;

  g_assert_true (do_put_blob (api, id, bytes, &error));
  g_assert_no_error (error);
  got = do_get_blob (api, id, 1024, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, bytes));
  g_clear_pointer (&got, g_bytes_unref);
  got = do_get_blob (api, id, 10, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE);
  g_clear_error (&error);
  got = do_get_blob (api, "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1024,
                     &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND);
}

/* Let whatever is still queued on the main context run. */
static void
drain_main_context (void)
{
  for (guint i = 0; i < 100 && g_main_context_pending (NULL); i++)
    g_main_context_iteration (NULL, FALSE);
}

static void
test_server_blob_progress (void)
{
  RdtTestServer *srv = get_server ();
  g_autoptr (RdtApi) api = fresh_space_api (srv, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *id = NULL;
  const gsize size = 3 * 1024 * 1024;
  g_autoptr (GBytes) bytes = random_blob (size, &id);
  g_autoptr (GBytes) got = NULL;
  Progress p = { .sent = g_array_new (FALSE, FALSE, sizeof (goffset)) };
  GAsyncResult *res = NULL;
  guint n;

  rdt_api_put_blob_with_progress_async (api, id, bytes, on_progress, &p,
                                        NULL, store_result, &res);
  g_assert_true (rdt_api_put_blob_finish (api, wait_result (&res), &error));
  g_assert_no_error (error);
  g_object_unref (res);
  p.finished = TRUE;
  n = p.sent->len;
  drain_main_context ();
  g_assert_cmpuint (p.after_finish, ==, 0);
  g_assert_cmpuint (p.sent->len, ==, n);

  /* Several steps for 3 MB, rising, ending at the full size. */
  g_test_message ("%u progress callbacks", n);
  g_assert_cmpuint (n, >=, 2);
  g_assert_cmpint (p.total, ==, (goffset) size);
  for (guint i = 1; i < n; i++)
    g_assert_cmpint (g_array_index (p.sent, goffset, i), >,
                     g_array_index (p.sent, goffset, i - 1));
  g_assert_cmpint (g_array_index (p.sent, goffset, 0), >, 0);
  g_assert_cmpint (g_array_index (p.sent, goffset, n - 1), ==, (goffset) size);

  got = do_get_blob (api, id, size, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, bytes));
  g_array_unref (p.sent);
}

static void
test_server_blob_progress_cancel (void)
{
  RdtTestServer *srv = get_server ();
  g_autoptr (RdtApi) api = fresh_space_api (srv, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree gchar *id = NULL;
  const gsize size = 3 * 1024 * 1024;
  g_autoptr (GBytes) bytes = random_blob (size, &id);
  g_autoptr (GBytes) got = NULL;
  Progress p = { .sent = g_array_new (FALSE, FALSE, sizeof (goffset)),
                 .cancel_at = cancel };
  GAsyncResult *res = NULL;

  /* Log in first, so the upload starts at once. */
  g_assert_true (do_auth (api, &error));
  g_assert_no_error (error);
  rdt_api_put_blob_with_progress_async (api, id, bytes, on_progress, &p,
                                        cancel, store_result, &res);
  g_assert_false (rdt_api_put_blob_finish (api, wait_result (&res), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_object_unref (res);
  p.finished = TRUE;
  drain_main_context ();
  g_assert_true (p.cancelled);
  g_test_message ("%u progress callbacks, cancelled at %" G_GINT64_FORMAT,
                  p.sent->len,
                  g_array_index (p.sent, goffset, p.sent->len - 1));
  g_assert_cmpuint (p.after_cancel, ==, 0);
  g_assert_cmpuint (p.after_finish, ==, 0);
  g_assert_cmpint (g_array_index (p.sent, goffset, p.sent->len - 1), <,
                   (goffset) size);

  /* Cancelled before the body was complete: nothing was stored. */
  got = do_get_blob (api, id, size, &error);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND);
  g_array_unref (p.sent);
}

static void
test_server_token_expiry (void)
{
  const gchar *args[] = { "--token-ttl", "2", NULL };
  g_autoptr (RdtTestServer) srv = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autofree gchar *url1 = NULL;
  g_autofree gchar *url2 = NULL;
  gint64 exp1;

  if (!rdt_test_server_require_local (get_server (), "a two-second token lifetime (--token-ttl)"))
    return;
  srv = rdt_test_server_start (args);
  api = fresh_space_api (srv, NULL);
  g_assert_true (do_auth (api, &error));
  exp1 = rdt_api_get_token_expiry (api);
  url1 = rdt_api_build_stream_url (api);
  wait_until_ms (exp1);
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rdt_api_get_token_expiry (api), >, exp1);
  url2 = rdt_api_build_stream_url (api);
  g_assert_cmpstr (url1, !=, url2);
}

static void
test_server_restart_token (void)
{
  /* After a restart the server's JWT secret may change (spec 13): our
   * token is refused with 401 and we log in again transparently. Either
   * way the request must succeed. */
  g_autoptr (RdtTestServer) srv = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  if (!rdt_test_server_require_local (get_server (), "a restart of the server"))
    return;
  srv = rdt_test_server_start (NULL);
  api = fresh_space_api (srv, NULL);
  g_assert_true (do_auth (api, &error));
  rdt_test_server_restart (srv);
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (list);
}

static void
fault_case (RdtTestServer *srv, RdtApi *api, const gchar *fault,
            RdtApiErrorCode code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  rdt_test_server_fault (srv, fault);
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_null (list);
  if (!g_error_matches (error, RDT_API_ERROR, (gint) code))
    g_error ("fault %s: expected code %d, got %s (%d)", fault, code,
             error ? error->message : "success", error ? error->code : -1);
  rdt_test_server_clear_faults (srv);
}

static void
test_server_faults (void)
{
  RdtTestServer *srv = get_server ();
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  if (!rdt_test_server_require_local (srv, "the fault control endpoint"))
    return;
  api = fresh_space_api (srv, NULL);
  g_assert_true (do_auth (api, &error));
  rdt_api_set_timeout (api, 2);

  fault_case (srv, api, "{\"path\":\"messages\",\"action\":\"garbage\"}",
              RDT_API_ERROR_BAD_RESPONSE);
  fault_case (srv, api, "{\"path\":\"messages\",\"action\":\"truncate\"}",
              RDT_API_ERROR_BAD_RESPONSE);
  fault_case (srv, api, "{\"path\":\"messages\",\"action\":\"status\","
              "\"status\":500}", RDT_API_ERROR_SERVER);
  fault_case (srv, api, "{\"path\":\"messages\",\"action\":\"status\","
              "\"status\":503}", RDT_API_ERROR_SERVER);
  fault_case (srv, api, "{\"path\":\"messages\",\"action\":\"drop\"}",
              RDT_API_ERROR_NETWORK);
  fault_case (srv, api, "{\"path\":\"messages\",\"action\":\"delay\","
              "\"delay_ms\":5000}", RDT_API_ERROR_NETWORK);

  /* Healthy again afterwards. */
  list = do_get_messages (api, "general", -1, -1, 10, NULL, &error);
  g_assert_no_error (error);
}

#endif /* RDT_HAVE_TESTSERVER */

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();

  g_test_add_func ("/api/fake/new-args", test_fake_new_args);
  g_test_add_func ("/api/fake/auth-ok", test_fake_auth_ok);
  g_test_add_func ("/api/fake/auth-lazy", test_fake_auth_lazy);
  g_test_add_func ("/api/fake/auth-not-member", test_fake_auth_not_member);
  g_test_add_func ("/api/fake/auth-challenge-race",
                   test_fake_auth_challenge_race);
  g_test_add_func ("/api/fake/auth-bad-answers", test_fake_auth_bad_answers);
  g_test_add_func ("/api/fake/reauth-on-401", test_fake_reauth_on_401);
  g_test_add_func ("/api/fake/reauth-blob-500", test_fake_reauth_blob_500);
  g_test_add_func ("/api/fake/blob-put", test_fake_blob_put);
  g_test_add_func ("/api/fake/blob-hash-off-main-loop",
                   test_fake_blob_hash_off_main_loop);
  g_test_add_func ("/api/fake/blob-put-progress-retry",
                   test_fake_blob_put_progress_retry);
  g_test_add_func ("/api/fake/concurrent-reauth",
                   test_fake_concurrent_reauth);
  g_test_add_func ("/api/fake/proactive-refresh",
                   test_fake_proactive_refresh);
  g_test_add_func ("/api/fake/error-mapping", test_fake_error_mapping);
  g_test_add_func ("/api/fake/post", test_fake_post);
  g_test_add_func ("/api/fake/get-bad-answers", test_fake_get_bad_answers);
  g_test_add_func ("/api/fake/network", test_fake_network);
  g_test_add_func ("/api/fake/cancel", test_fake_cancel);

#ifdef RDT_HAVE_TESTSERVER
  g_test_add_func ("/api/server/auth", test_server_auth);
  g_test_add_func ("/api/server/messages", test_server_messages);
  g_test_add_func ("/api/server/large-page", test_server_large_page);
  g_test_add_func ("/api/server/blobs", test_server_blobs);
  g_test_add_func ("/api/server/blob-progress", test_server_blob_progress);
  g_test_add_func ("/api/server/blob-progress-cancel",
                   test_server_blob_progress_cancel);
  g_test_add_func ("/api/server/token-expiry", test_server_token_expiry);
  g_test_add_func ("/api/server/restart-token", test_server_restart_token);
  g_test_add_func ("/api/server/faults", test_server_faults);
#endif

  ret = g_test_run ();
#ifdef RDT_HAVE_TESTSERVER
  g_clear_pointer (&real_server, rdt_test_server_stop);
#endif
  return ret;
}
