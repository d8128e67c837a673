/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-session.c - RdtSession: argument checks and the offline lifecycle
 * (unreachable server: backoff, no fatal, queued sends time out, free with
 * work in flight), plus end-to-end cases against rdt-test-server when the
 * fixture is built (RDT_HAVE_TESTSERVER). */
#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "session.h"
#include "api.h"
#include "error.h"
#include "id.h"
#include "message.h"
#ifdef RDT_HAVE_TESTSERVER
#include "testserver.h"
#endif

typedef struct {
  GMainLoop *loop;
  guint      n_state, n_connecting_err, n_connected, n_disconnected;
  gboolean   fatal;
  guint      n_opened;
  GError    *open_error;
  guint      n_messages, n_own, n_backlog;
  GPtrArray *texts;
  GPtrArray *hashes;
  GPtrArray *types;
  GPtrArray *payloads;     /* GBytes */
  guint      n_send_done, n_send_err;
  guint      n_warnings;
  RdtWarningKind last_warning;
  gboolean   after_free;
  gboolean   called_after_free;
  gchar     *last_send_error;
  /* Misbehaving callbacks (finding: callbacks may close or free). */
  RdtSession **self;       /* where the test keeps the session */
  gboolean   close_on_message, free_on_message;
  gboolean   close_on_warning, free_on_warning;
  gboolean   free_on_connected;
  gboolean   free_on_send_done, close_on_send_done;
} Fx;

/* Free the session from inside a callback, as a plugin would on
 * "account disabled"; later callbacks are an error. */
static void
fx_free_in_callback (Fx *fx, RdtSession *s)
{
  g_assert_true (fx->self != NULL && *fx->self == s);
  *fx->self = NULL;
  fx->after_free = TRUE;
  rdt_session_free (s);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* Run the loop until cond() holds, failing after 20 s. */
static void
wait_until (Fx *fx, gboolean (*cond) (Fx *))
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!cond (fx))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
on_state (RdtSession *s, RdtSessionState st, const GError *e, gboolean fatal,
          gpointer d)
{
  Fx *fx = d;
  if (fx->after_free)
    fx->called_after_free = TRUE;
  fx->n_state++;
  if (st == RDT_SESSION_CONNECTING && e)
    fx->n_connecting_err++;
  if (st == RDT_SESSION_CONNECTED)
    {
      fx->n_connected++;
      if (fx->free_on_connected)
        fx_free_in_callback (fx, s);
    }
  if (st == RDT_SESSION_DISCONNECTED)
    {
      fx->n_disconnected++;
      fx->fatal = fatal;
    }
}

static void
on_opened (RdtSession *s, const gchar *t, const GError *e, gpointer d)
{
  Fx *fx = d;
  if (fx->after_free)
    fx->called_after_free = TRUE;
  fx->n_opened++;
  g_clear_error (&fx->open_error);
  if (e)
    fx->open_error = g_error_copy (e);
}

static void
on_message (RdtSession *s, const RdtSessionMessage *m, gpointer d)
{
  Fx *fx = d;
  if (fx->after_free)
    fx->called_after_free = TRUE;
  g_assert_true (g_utf8_validate (m->text, -1, NULL));
  fx->n_messages++;
  fx->n_own += m->own;
  fx->n_backlog += m->backlog;
  g_ptr_array_add (fx->texts, g_strdup (m->text));
  g_ptr_array_add (fx->hashes, g_strdup (m->message_hash));
  g_assert_nonnull (m->type);
  g_assert_nonnull (m->payload);
  g_ptr_array_add (fx->types, g_strdup (m->type));
  g_ptr_array_add (fx->payloads, g_bytes_ref (m->payload));
  if (fx->close_on_message)
    rdt_session_close_topic (s, m->topic_id);
  if (fx->free_on_message)
    fx_free_in_callback (fx, s);
}

static void
on_warning (RdtSession *s, const gchar *t, RdtWarningKind k, const gchar *text,
            gpointer d)
{
  Fx *fx = d;
  if (fx->after_free)
    fx->called_after_free = TRUE;
  fx->n_warnings++;
  fx->last_warning = k;
  if (fx->close_on_warning)
    rdt_session_close_topic (s, t);
  if (fx->free_on_warning)
    fx_free_in_callback (fx, s);
}

static void
on_send_done (RdtSession *s, const gchar *t, guint64 id, const GError *e,
              gpointer d)
{
  Fx *fx = d;
  if (fx->after_free)
    fx->called_after_free = TRUE;
  fx->n_send_done++;
  fx->n_send_err += e != NULL;
  if (e)
    {
      g_free (fx->last_send_error);
      fx->last_send_error = g_strdup (e->message);
    }
  if (fx->close_on_send_done)
    rdt_session_close_topic (s, t);
  if (fx->free_on_send_done)
    fx_free_in_callback (fx, s);
}

static const RdtSessionCallbacks callbacks = {
  on_state, on_opened, on_message, on_warning, on_send_done, NULL, NULL
};

static void
fx_init (Fx *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->texts = g_ptr_array_new_with_free_func (g_free);
  fx->hashes = g_ptr_array_new_with_free_func (g_free);
  fx->types = g_ptr_array_new_with_free_func (g_free);
  fx->payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
fx_clear (Fx *fx)
{
  g_clear_error (&fx->open_error);
  g_free (fx->last_send_error);
  g_ptr_array_unref (fx->texts);
  g_ptr_array_unref (fx->hashes);
  g_ptr_array_unref (fx->types);
  g_ptr_array_unref (fx->payloads);
}

/* A space id and key material for tests that need no server. */
static RdtSession *
new_session (const gchar *url, RdtSigningKey *space_key, GError **error)
{
  guint8 root[RDT_KEY_LENGTH];
  g_autofree gchar *space = rdt_signing_key_get_id (space_key, RDT_ID_SPACE);

  memset (root, 7, sizeof root);
  /* the owner is a member */
  return rdt_session_new_for_key (url, space, space_key, root, error);
}

/* A port that refuses connections: bind, read the port, close. */
static gchar *
refused_url (void)
{
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound;
  guint port;

  g_assert_true (g_socket_bind (sock, addr, TRUE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, NULL);
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_object_unref (sock);
  return g_strdup_printf ("http://127.0.0.1:%u", port);
}

static void
test_new_invalid (void)
{
  guint8 seed[RDT_SEED_LENGTH] = { 1 }, root[RDT_KEY_LENGTH] = { 2 };
  g_autoptr (RdtSigningKey) k = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (k, RDT_ID_SPACE);
  g_autofree gchar *user = rdt_signing_key_get_id (k, RDT_ID_USER);
  GError *error = NULL;
  RdtSession *s;

  s = rdt_session_new ("http://127.0.0.1:1", user, seed, root, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_clear_error (&error);

  s = rdt_session_new ("http://127.0.0.1:1", "Snot-an-id", seed, root, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_clear_error (&error);

  s = rdt_session_new ("not a url", space, seed, root, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_clear_error (&error);

  s = rdt_session_new ("http://127.0.0.1:1", space, seed, root, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  g_assert_cmpstr (rdt_session_get_space_id (s), ==, space);
  g_assert_true (rdt_id_is_valid (rdt_session_get_member_id (s), RDT_ID_USER));
  g_assert_cmpint (rdt_session_get_state (s), ==, RDT_SESSION_DISCONNECTED);
  rdt_session_free (s);
}

static void
test_topic_checks (void)
{
  Fx fx;
  g_autoptr (RdtSigningKey) k = rdt_signing_key_generate ();
  g_autofree gchar *url = refused_url ();
  GError *error = NULL;
  RdtSession *s = new_session (url, k, &error);
  gchar *big, *desc;

  g_assert_no_error (error);
  fx_init (&fx);
  rdt_session_set_callbacks (s, &callbacks, &fx);

  rdt_session_open_topic (s, "bad topic/../", 10);
  g_assert_cmpuint (fx.n_opened, ==, 1);
  g_assert_nonnull (fx.open_error);
  g_assert_false (rdt_session_topic_is_open (s, "bad topic/../"));

  g_assert_cmpuint (rdt_session_send_text (s, "general", "hi", &error), ==, 0);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpuint (rdt_session_retry_send (s, 4242, &error), ==, 0);
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* Opening while disconnected waits (no callback yet). */
  rdt_session_open_topic (s, "general", 10);
  g_assert_cmpuint (fx.n_opened, ==, 1);
  g_assert_false (rdt_session_topic_is_open (s, "general"));

  big = g_malloc (RDT_MAX_PLAINTEXT + 2);
  memset (big, 'a', RDT_MAX_PLAINTEXT + 1);
  big[RDT_MAX_PLAINTEXT + 1] = '\0';
  g_assert_cmpuint (rdt_session_send_text (s, "general", big, &error), ==, 0);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  g_clear_error (&error);
  big[RDT_MAX_PLAINTEXT] = '\0';   /* exactly the limit fits */
  g_assert_cmpuint (rdt_session_send_text (s, "general", big, &error), >, 0);
  g_assert_no_error (error);
  g_free (big);

  desc = rdt_session_describe_topic (s, "general");
  g_assert_cmpstr (desc, ==, "#general: Still being loaded and checked. "
                   "1 message waiting to be sent.");
  g_free (desc);

  /* Closing the topic ends the queued send with an error, retryable. */
  rdt_session_close_topic (s, "general");
  g_assert_cmpuint (fx.n_send_done, ==, 1);
  g_assert_cmpuint (fx.n_send_err, ==, 1);

  rdt_session_free (s);
  fx_clear (&fx);
}

static gboolean three_failures (Fx *fx) { return fx->n_connecting_err >= 3; }
static gboolean send_ended (Fx *fx) { return fx->n_send_done >= 1; }
/* Turn the main loop for ms: lets stale timers of a freed session fire
 * (they must do nothing); not used to wait for results. */
static gboolean
set_flag_cb (gpointer d)
{
  *(gboolean *) d = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_for_ms (guint ms)
{
  gboolean done = FALSE;
  g_timeout_add (ms, set_flag_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
test_unreachable_backoff (void)
{
  Fx fx;
  g_autoptr (RdtSigningKey) k = rdt_signing_key_generate ();
  g_autofree gchar *url = refused_url ();
  GError *error = NULL;
  RdtSession *s = new_session (url, k, &error);
  guint64 id, id2;
  guint conflicts = 99, logins = 99;

  g_assert_no_error (error);
  fx_init (&fx);
  rdt_session_set_callbacks (s, &callbacks, &fx);
  rdt_session_set_backoff (s, 10, 40);
  rdt_session_set_send_timeout (s, 100);
  rdt_session_open_topic (s, "general", 10);
  id = rdt_session_send_text (s, "general", "queued while offline", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (id, >, 0);

  rdt_session_connect (s);
  g_assert_cmpint (rdt_session_get_state (s), ==, RDT_SESSION_CONNECTING);
  wait_until (&fx, three_failures);
  /* Transient: never fatal, never disconnected, never connected. */
  g_assert_cmpuint (fx.n_disconnected, ==, 0);
  g_assert_cmpuint (fx.n_connected, ==, 0);
  g_assert_cmpint (rdt_session_get_state (s), ==, RDT_SESSION_CONNECTING);

  /* The queued send is failed after the send timeout, so the user learns. */
  wait_until (&fx, send_ended);
  g_assert_cmpuint (fx.n_send_err, ==, 1);
  g_assert_cmpuint (fx.last_warning, ==, RDT_WARNING_SEND_FAILED);
  id2 = rdt_session_retry_send (s, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (id2, >, id);
  /* A send id can be retried once. */
  g_assert_cmpuint (rdt_session_retry_send (s, id, &error), ==, 0);
  g_clear_error (&error);

  rdt_session_get_stats (s, &conflicts, &logins);
  g_assert_cmpuint (conflicts, ==, 0);
  g_assert_cmpuint (logins, ==, 0);

  rdt_session_disconnect (s);
  g_assert_cmpint (rdt_session_get_state (s), ==, RDT_SESSION_DISCONNECTED);
  g_assert_false (fx.fatal);
  g_assert_cmpuint (fx.n_send_done, ==, 2);   /* the retry ended too */

  rdt_session_free (s);
  fx_clear (&fx);
}

/* Queued sends in two topics time out while the server is unreachable;
 * the first send_done closes its topic, then frees the session (from the
 * reconnect timer, which walks all topics). */
static void
test_free_in_send_done (void)
{
  Fx fx;
  g_autoptr (RdtSigningKey) k = rdt_signing_key_generate ();
  g_autofree gchar *url = refused_url ();
  GError *error = NULL;
  RdtSession *s = new_session (url, k, &error);

  g_assert_no_error (error);
  for (guint round = 0; round < 2; round++)
    {
      if (round == 1)
        s = new_session (url, k, &error);
      fx_init (&fx);
      fx.self = &s;
      if (round == 0)
        fx.close_on_send_done = TRUE;
      else
        fx.free_on_send_done = TRUE;
      rdt_session_set_callbacks (s, &callbacks, &fx);
      rdt_session_set_backoff (s, 10, 40);
      rdt_session_set_send_timeout (s, 50);
      rdt_session_open_topic (s, "one", 10);
      rdt_session_open_topic (s, "two", 10);
      rdt_session_send_text (s, "one", "a", NULL);
      rdt_session_send_text (s, "one", "b", NULL);
      rdt_session_send_text (s, "two", "c", NULL);
      rdt_session_connect (s);
      wait_until (&fx, send_ended);
      if (round == 0)
        {
          /* Each topic closed at its first failure: all three ended. */
          g_assert_cmpuint (fx.n_send_done, ==, 3);
          g_assert_cmpuint (fx.n_send_err, ==, 3);
          rdt_session_free (s);
        }
      else
        {
          g_assert_null (s);
          g_assert_cmpuint (fx.n_send_done, ==, 1);
          /* A later reconnect attempt must not touch the freed session. */
          run_for_ms (200);
        }
      g_assert_false (fx.called_after_free);
      fx_clear (&fx);
    }
}

static void
test_free_in_flight (void)
{
  Fx fx;
  g_autoptr (RdtSigningKey) k = rdt_signing_key_generate ();
  g_autofree gchar *url = refused_url ();
  GError *error = NULL;
  RdtSession *s = new_session (url, k, &error);
  GMainLoop *loop = g_main_loop_new (NULL, FALSE);

  g_assert_no_error (error);
  fx_init (&fx);
  rdt_session_set_callbacks (s, &callbacks, &fx);
  rdt_session_set_backoff (s, 5, 10);
  rdt_session_open_topic (s, "general", 10);
  rdt_session_send_text (s, "general", "x", &error);
  g_assert_no_error (error);
  rdt_session_connect (s);     /* login in flight */
  fx.after_free = TRUE;
  rdt_session_free (s);
  /* Let the cancelled login complete; nothing may call back. */
  g_timeout_add (200, quit_cb, loop);
  g_main_loop_run (loop);
  g_assert_false (fx.called_after_free);
  g_main_loop_unref (loop);
  fx_clear (&fx);
}


/* ---- a minimal in-process server: auth, list and post (no stream) ---- */

typedef struct {
  SoupServer *server;
  gchar      *url;
  gchar      *member;       /* the only U id allowed to log in */
  GPtrArray  *msgs;         /* RdtMessage, in post order */
  gint64      last_ts;
  guint       n_conflicts, n_logins, n_posts;
  gboolean    down;         /* answer 503 to everything */
  guint       verify_401;   /* answer this many verifies 401 mismatch */
  gboolean    no_space;     /* 404 unknown space to everything */
  guint       post_401;     /* answer this many posts 401 Token expired */
  guint       get_401;      /* same for message lists */
  guint       hang_posts;   /* store this many posts, never answer */
  gboolean    always_409;   /* refuse every post with a chain conflict */
  gboolean    tamper_posts; /* store posts with damaged data */
  guint       n_hash_gets;
  gboolean    same_ms;      /* every post gets one timestamp (spec 4.6) */
} Fake;

static void
fake_reply (SoupServerMessage *msg, guint status, const gchar *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    body, strlen (body));
}

static gint64
q_int (GHashTable *q, const gchar *name, gint64 dflt)
{
  const gchar *v = q ? g_hash_table_lookup (q, name) : NULL;
  return v ? g_ascii_strtoll (v, NULL, 10) : dflt;
}

static gint
cmp_ts_asc (gconstpointer a, gconstpointer b)
{
  const RdtMessage *x = *(RdtMessage **) a, *y = *(RdtMessage **) b;
  return (x->server_timestamp > y->server_timestamp)
         - (x->server_timestamp < y->server_timestamp);
}

/* Newest first, ties in insertion order (the older one first), as the
 * SQL store was seen to answer (spec 4.4, 4.6). g_ptr_array_sort is
 * stable. */
static gint
cmp_ts_desc (gconstpointer a, gconstpointer b)
{
  const RdtMessage *x = *(RdtMessage **) a, *y = *(RdtMessage **) b;
  return (x->server_timestamp < y->server_timestamp)
         - (x->server_timestamp > y->server_timestamp);
}

static void
fake_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
              GHashTable *query, gpointer user_data)
{
  Fake *f = user_data;
  const gchar *method = soup_server_message_get_method (msg);
  SoupMessageBody *req = soup_server_message_get_request_body (msg);
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *obj = NULL;

  if (f->down)
    {
      fake_reply (msg, 503, "{\"detail\":\"down\"}");
      return;
    }
  if (f->no_space)
    {
      fake_reply (msg, 404, "{\"detail\":\"Space 'x' is not registered in "
                  "the admin space\"}");
      return;
    }
  if (req->length > 0 && json_parser_load_from_data (parser, req->data,
                                                     req->length, NULL))
    obj = json_node_get_object (json_parser_get_root (parser));

  if (g_str_has_suffix (path, "/auth/challenge"))
    {
      fake_reply (msg, 200, "{\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
                  "\"expires_at\":9999999999999}");
      return;
    }
  if (g_str_has_suffix (path, "/auth/verify"))
    {
      const gchar *pk = json_object_get_string_member (obj, "public_key");
      g_autofree gchar *tok = NULL;
      if (f->verify_401 > 0)
        {
          f->verify_401--;
          fake_reply (msg, 401, "{\"detail\":\"Challenge mismatch\"}");
          return;
        }
      if (g_strcmp0 (pk, f->member) != 0)
        {
          fake_reply (msg, 403, "{\"detail\":\"Not a member of this space\"}");
          return;
        }
      f->n_logins++;
      tok = g_strdup_printf ("{\"token\":\"tok\",\"expires_at\":%" G_GINT64_FORMAT "}",
                             g_get_real_time () / 1000 + 3600000);
      fake_reply (msg, 200, tok);
      return;
    }
  /* /spaces/S/topics/T/messages/H (spec 4.7) */
  if (g_strv_length (parts) == 7 && strcmp (parts[3], "topics") == 0
      && strcmp (parts[5], "messages") == 0 && strcmp (method, "GET") == 0)
    {
      f->n_hash_gets++;
      for (guint i = 0; i < f->msgs->len; i++)
        {
          RdtMessage *m = g_ptr_array_index (f->msgs, i);
          if (strcmp (m->topic_id, parts[4]) == 0
              && strcmp (m->message_hash, parts[6]) == 0)
            {
              g_autofree gchar *j = rdt_message_to_json_string (m);
              fake_reply (msg, 200, j);
              return;
            }
        }
      fake_reply (msg, 404, "{\"detail\":\"Message not found\"}");
      return;
    }
  /* /spaces/S/topics/T/messages */
  if (g_strv_length (parts) == 6 && strcmp (parts[3], "topics") == 0
      && strcmp (parts[5], "messages") == 0)
    {
      const gchar *topic = parts[4];
      RdtMessage *head = NULL;
      /* Like the SQL store: the head is the first row found with the
       * highest timestamp, i.e. the OLDER one of a same-ms tie. */
      for (guint i = 0; i < f->msgs->len; i++)
        {
          RdtMessage *m = g_ptr_array_index (f->msgs, i);
          if (strcmp (m->topic_id, topic) == 0
              && (head == NULL
                  || m->server_timestamp > head->server_timestamp))
            head = m;
        }
      if (strcmp (method, "POST") == 0 && f->post_401 > 0)
        {
          f->post_401--;
          fake_reply (msg, 401, "{\"detail\":\"Token expired\"}");
          return;
        }
      if (strcmp (method, "GET") == 0 && f->get_401 > 0)
        {
          f->get_401--;
          fake_reply (msg, 401, "{\"detail\":\"Token expired\"}");
          return;
        }
      if (strcmp (method, "POST") == 0 && f->always_409)
        {
          f->n_conflicts++;
          fake_reply (msg, 409, "{\"detail\":\"Chain conflict\"}");
          return;
        }
      if (strcmp (method, "POST") == 0)
        {
          RdtMessage *m = rdt_message_new ();
          g_autofree gchar *ans = NULL;
          JsonNode *prev = json_object_get_member (obj, "prev_hash");
          m->topic_id = g_strdup (topic);
          m->type = g_strdup (json_object_get_string_member (obj, "type"));
          m->prev_hash = JSON_NODE_HOLDS_NULL (prev) ? NULL
                         : g_strdup (json_node_get_string (prev));
          m->data = g_strdup (json_object_get_string_member (obj, "data"));
          m->message_hash = g_strdup (json_object_get_string_member (obj, "message_hash"));
          m->signature = g_strdup (json_object_get_string_member (obj, "signature"));
          m->sender = g_strdup (f->member);
          if (g_strcmp0 (m->prev_hash, head ? head->message_hash : NULL) != 0)
            {
              f->n_conflicts++;
              rdt_message_unref (m);
              fake_reply (msg, 409, "{\"detail\":\"Chain conflict\"}");
              return;
            }
          if (!f->same_ms || f->last_ts == 0)
            f->last_ts = MAX (g_get_real_time () / 1000, f->last_ts + 1);
          m->server_timestamp = f->last_ts;
          if (f->tamper_posts)
            m->data[0] = m->data[0] == 'A' ? 'B' : 'A';
          g_ptr_array_add (f->msgs, m);
          f->n_posts++;
          if (f->hang_posts > 0)
            {
              /* Stored, but the answer never comes (lost connection). */
              f->hang_posts--;
              soup_server_message_pause (msg);
              return;
            }
          ans = g_strdup_printf ("{\"message_hash\":\"%s\",\"server_timestamp\":%"
                                 G_GINT64_FORMAT "}", m->message_hash,
                                 m->server_timestamp);
          fake_reply (msg, 201, ans);
          return;
        }
      else
        {
          gint64 from = q_int (query, "from", -1), to = q_int (query, "to", -1);
          gint64 lim = q_int (query, "limit", 100);
          gint64 lo = from < 0 ? 0 : from, hi = G_MAXINT64;
          gboolean desc = from >= 0 && to >= 0 && from > to;
          g_autoptr (GPtrArray) sel = g_ptr_array_new ();
          GString *out = g_string_new ("{\"messages\":[");
          guint n;

          if (from >= 0 && to >= 0)
            {
              lo = MIN (from, to);
              hi = MAX (from, to);
            }
          else if (to >= 0)
            hi = to;
          for (guint i = 0; i < f->msgs->len; i++)
            {
              RdtMessage *m = g_ptr_array_index (f->msgs, i);
              if (strcmp (m->topic_id, topic) == 0
                  && m->server_timestamp >= lo && m->server_timestamp <= hi)
                g_ptr_array_add (sel, m);
            }
          g_ptr_array_sort (sel, desc ? cmp_ts_desc : cmp_ts_asc);
          n = MIN ((guint) lim, sel->len);
          for (guint i = 0; i < n; i++)
            {
              RdtMessage *m = g_ptr_array_index (sel, i);
              g_autofree gchar *j = rdt_message_to_json_string (m);
              g_string_append_printf (out, "%s%s", i ? "," : "", j);
            }
          g_string_append_printf (out, "],\"has_more\":%s}",
                                  sel->len > n ? "true" : "false");
          fake_reply (msg, 200, out->str);
          g_string_free (out, TRUE);
          return;
        }
    }
  fake_reply (msg, 404, "{\"detail\":\"Not Found\"}");
}

static Fake *
fake_new (const gchar *member)
{
  Fake *f = g_new0 (Fake, 1);
  GError *error = NULL;
  GSList *uris;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, fake_handler, f, NULL);
  g_assert_true (soup_server_listen_local (f->server, 0,
                                           SOUP_SERVER_LISTEN_IPV4_ONLY,
                                           &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  f->url = g_uri_to_string (uris->data);
  if (g_str_has_suffix (f->url, "/"))
    f->url[strlen (f->url) - 1] = '\0';
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  f->member = g_strdup (member);
  f->msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
  return f;
}

static void
fake_free (Fake *f)
{
  soup_server_disconnect (f->server);
  g_object_unref (f->server);
  g_free (f->url);
  g_free (f->member);
  g_ptr_array_unref (f->msgs);
  g_free (f);
}

static RdtSession *
fake_session (Fake *f, RdtSigningKey *space_key, RdtSigningKey *member,
              Fx *fx)
{
  guint8 root[RDT_KEY_LENGTH];
  g_autofree gchar *space = rdt_signing_key_get_id (space_key, RDT_ID_SPACE);
  GError *error = NULL;
  RdtSession *s;

  memset (root, 3, sizeof root);
  s = rdt_session_new_for_key (f->url, space, member, root, &error);
  g_assert_no_error (error);
  rdt_session_set_callbacks (s, &callbacks, fx);
  rdt_session_set_use_stream (s, FALSE);
  rdt_session_set_poll_intervals (s, 30, 30);
  rdt_session_set_backoff (s, 10, 50);
  return s;
}

static gboolean f_connected (Fx *fx) { return fx->n_connected >= 1; }
static gboolean f_opened (Fx *fx) { return fx->n_opened >= 1; }
static gboolean f_disconnected (Fx *fx) { return fx->n_disconnected >= 1; }
static guint want_msgs;
static gboolean f_msgs (Fx *fx) { return fx->n_messages >= want_msgs; }
static gboolean f_sends (Fx *fx) { return fx->n_send_done >= want_msgs; }

static void
test_fake_flow (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a, b;
  RdtSession *sa, *sb;
  GError *error = NULL;
  guint conflicts = 0;

  fx_init (&a);
  fx_init (&b);
  sa = fake_session (f, owner, owner, &a);
  rdt_session_connect (sa);
  wait_until (&a, f_connected);
  rdt_session_open_topic (sa, "general", 50);
  wait_until (&a, f_opened);
  g_assert_no_error (a.open_error);
  g_assert_true (rdt_session_topic_is_open (sa, "general"));

  /* Three sends: in order, each delivered once with own = TRUE. */
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "one", &error), >, 0);
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "{\"text\":\"two\"}", &error), >, 0);
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "three", &error), >, 0);
  g_assert_no_error (error);
  want_msgs = 3;
  wait_until (&a, f_sends);
  wait_until (&a, f_msgs);
  g_assert_cmpuint (a.n_send_err, ==, 0);
  g_assert_cmpuint (a.n_own, ==, 3);
  g_assert_cmpuint (a.n_backlog, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (a.texts, 0), ==, "one");
  g_assert_cmpstr (g_ptr_array_index (a.texts, 1), ==, "two");
  g_assert_cmpstr (g_ptr_array_index (a.texts, 2), ==, "three");

  /* A second session gets the backlog in order, then live posts from A
   * by polling, and sends concurrently (409 retries). */
  sb = fake_session (f, owner, owner, &b);
  rdt_session_connect (sb);
  rdt_session_open_topic (sb, "general", 50);
  wait_until (&b, f_opened);
  g_assert_cmpuint (b.n_messages, ==, 3);
  g_assert_cmpuint (b.n_backlog, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (b.texts, 2), ==, "three");

  for (guint i = 0; i < 5; i++)
    {
      g_autofree gchar *ta = g_strdup_printf ("a%u", i);
      g_autofree gchar *tb = g_strdup_printf ("b%u", i);
      g_assert_cmpuint (rdt_session_send_text (sa, "general", ta, NULL), >, 0);
      g_assert_cmpuint (rdt_session_send_text (sb, "general", tb, NULL), >, 0);
    }
  want_msgs = 13;
  wait_until (&a, f_msgs);
  wait_until (&b, f_msgs);
  want_msgs = 8;
  wait_until (&a, f_sends);
  want_msgs = 5;
  wait_until (&b, f_sends);
  g_assert_cmpuint (a.n_send_err + b.n_send_err, ==, 0);
  g_assert_cmpuint (f->n_posts, ==, 13);
  g_assert_cmpuint (a.n_messages, ==, 13);
  g_assert_cmpuint (b.n_messages, ==, 13);
  /* Same order on both sides (chain order), nothing duplicated. */
  for (guint i = 0; i < 13; i++)
    g_assert_cmpstr (g_ptr_array_index (a.hashes, i), ==,
                     g_ptr_array_index (b.hashes, i));
  rdt_session_get_stats (sa, &conflicts, NULL);
  g_test_message ("conflicts: server %u, session a %u", f->n_conflicts,
                  conflicts);

  rdt_session_free (sa);
  rdt_session_free (sb);
  fake_free (f);
  fx_clear (&a);
  fx_clear (&b);
}

/* rdt_session_send_payload: other types and binary bytes come back with
 * type and payload intact and a readable text; bad types are refused. */
static void
test_fake_payload (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a, b;
  RdtSession *sa, *sb;
  GError *error = NULL;
  static const gchar file_json[] =
    "{\"blob_id\":\"Bxx\",\"dek\":\"00\",\"filename\":\"cat.png\","
    "\"content_type\":\"image/png\"}";
  static const guint8 binary[] = { 0, 0xff, 0xfe, 1, 2, 0x80, '|', 0 };

  fx_init (&a);
  sa = fake_session (f, owner, owner, &a);
  rdt_session_connect (sa);
  rdt_session_open_topic (sa, "general", 50);
  wait_until (&a, f_opened);

  g_assert_cmpuint (rdt_session_send_payload (sa, "general", "bad|type",
                                              binary, 3, &error), ==, 0);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpuint (rdt_session_send_payload (sa, "general", "",
                                              binary, 3, &error), ==, 0);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpuint (rdt_session_send_payload (sa, "nope", "chat.text",
                                              binary, 3, &error), ==, 0);
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_assert_cmpuint (rdt_session_send_payload (sa, "general", "file.upload",
                                              (const guint8 *) file_json,
                                              strlen (file_json), &error),
                    >, 0);
  g_assert_cmpuint (rdt_session_send_payload (sa, "general", "chat.image",
                                              binary, sizeof binary, &error),
                    >, 0);
  g_assert_cmpuint (rdt_session_send_payload (sa, "general", "x.note",
                                              (const guint8 *) "{\"text\":\"hi\"}",
                                              13, &error), >, 0);
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "plain", &error),
                    >, 0);
  g_assert_no_error (error);
  want_msgs = 4;
  wait_until (&a, f_sends);
  wait_until (&a, f_msgs);
  g_assert_cmpuint (a.n_send_err, ==, 0);

  /* The type is what the server stored (part of the hash). */
  g_assert_cmpstr (((RdtMessage *) g_ptr_array_index (f->msgs, 0))->type, ==,
                   "file.upload");
  g_assert_cmpstr (((RdtMessage *) g_ptr_array_index (f->msgs, 1))->type, ==,
                   "chat.image");

  /* A second member reads them from history. */
  fx_init (&b);
  sb = fake_session (f, owner, owner, &b);
  rdt_session_connect (sb);
  rdt_session_open_topic (sb, "general", 50);
  wait_until (&b, f_opened);
  g_assert_cmpuint (b.n_messages, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_cmpstr (g_ptr_array_index (a.types, i), ==,
                       g_ptr_array_index (b.types, i));
      g_assert_true (g_bytes_equal (g_ptr_array_index (a.payloads, i),
                                    g_ptr_array_index (b.payloads, i)));
    }
  g_assert_cmpstr (g_ptr_array_index (b.types, 0), ==, "file.upload");
  {
    gsize len;
    const guint8 *p = g_bytes_get_data (g_ptr_array_index (b.payloads, 0),
                                        &len);
    g_assert_cmpmem (p, len, file_json, strlen (file_json));
    p = g_bytes_get_data (g_ptr_array_index (b.payloads, 1), &len);
    g_assert_cmpmem (p, len, binary, sizeof binary);
  }
  /* Readable text: the file name, the type, the "text" member. */
  g_assert_nonnull (strstr (g_ptr_array_index (b.texts, 0), "cat.png"));
  g_assert_nonnull (strstr (g_ptr_array_index (b.texts, 1), "chat.image"));
  g_assert_cmpstr (g_ptr_array_index (b.texts, 2), ==, "hi");
  g_assert_cmpstr (g_ptr_array_index (b.types, 3), ==, "chat.text");
  g_assert_cmpstr (g_ptr_array_index (b.texts, 3), ==, "plain");

  rdt_session_free (sa);
  rdt_session_free (sb);
  fake_free (f);
  fx_clear (&a);
  fx_clear (&b);
}

static void
test_fake_not_member (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) stranger = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx fx;
  RdtSession *s;
  guint logins = 9;

  fx_init (&fx);
  s = fake_session (f, owner, stranger, &fx);
  rdt_session_connect (s);
  wait_until (&fx, f_disconnected);
  g_assert_true (fx.fatal);
  g_assert_cmpuint (fx.n_connecting_err, ==, 0);   /* not retried */
  g_assert_cmpint (rdt_session_get_state (s), ==, RDT_SESSION_DISCONNECTED);
  rdt_session_get_stats (s, NULL, &logins);
  g_assert_cmpuint (logins, ==, 0);
  rdt_session_free (s);
  fake_free (f);
  fx_clear (&fx);
}

static gboolean f_reconnecting (Fx *fx) { return fx->n_connecting_err >= 1; }
static gboolean f_connected2 (Fx *fx) { return fx->n_connected >= 2; }

static void
test_fake_outage (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx fx;
  RdtSession *s;

  fx_init (&fx);
  s = fake_session (f, owner, owner, &fx);
  rdt_session_connect (s);
  rdt_session_open_topic (s, "general", 50);
  wait_until (&fx, f_opened);
  /* The server fails: polls fail, the session says so and reconnects. */
  f->down = TRUE;
  g_assert_cmpuint (rdt_session_send_text (s, "general", "during", NULL), >, 0);
  wait_until (&fx, f_reconnecting);
  g_assert_cmpint (rdt_session_get_state (s), ==, RDT_SESSION_CONNECTING);
  g_assert_false (fx.fatal);
  f->down = FALSE;
  wait_until (&fx, f_connected2);
  want_msgs = 1;
  wait_until (&fx, f_msgs);
  wait_until (&fx, f_sends);
  g_assert_cmpuint (fx.n_send_err, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (fx.texts, 0), ==, "during");
  g_assert_cmpuint (f->n_posts, ==, 1);
  rdt_session_free (s);
  fake_free (f);
  fx_clear (&fx);
}

/* Nothing listens on the fake's port (no answer at all, like a server
 * that is down), then the same port listens again. */
static guint
fake_port (Fake *f)
{
  const gchar *colon = strrchr (f->url, ':');

  return (guint) g_ascii_strtoull (colon + 1, NULL, 10);
}

static void
fake_relisten (Fake *f, guint port)
{
  GError *error = NULL;

  g_assert_true (soup_server_listen_local (f->server, port,
                                           SOUP_SERVER_LISTEN_IPV4_ONLY,
                                           &error));
  g_assert_no_error (error);
}

static guint probes_of (RdtSession *s)
{
  guint n = 0;

  rdt_session_get_reconnect_stats (s, NULL, &n);
  return n;
}

static guint tries_of (RdtSession *s)
{
  guint n = 0;

  rdt_session_get_reconnect_stats (s, &n, NULL);
  return n;
}

/* Reconnecting promptly without hammering: the backoff alone would wait
 * ten minutes; while nothing answers, /health probes notice the server
 * is back and the login runs then, and nothing else is tried meanwhile.
 * A server that answers (503) gets no probes, only the backoff. */
static void
test_fake_probe (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  guint port = fake_port (f);
  gint64 end;
  Fx fx;
  RdtSession *s;

  fx_init (&fx);
  s = fake_session (f, owner, owner, &fx);
  rdt_session_set_backoff (s, 600000, 600000);
  rdt_session_set_probe_interval (s, 40);
  rdt_session_connect (s);
  rdt_session_open_topic (s, "general", 50);
  wait_until (&fx, f_opened);
  g_assert_cmpuint (tries_of (s), ==, 1);
  g_assert_cmpint (rdt_session_get_next_try (s), ==, -1);

  soup_server_disconnect (f->server);
  g_assert_cmpuint (rdt_session_send_text (s, "general", "while down", NULL),
                    >, 0);
  wait_until (&fx, f_reconnecting);
  g_assert_cmpint (rdt_session_get_next_try (s), >, 60000);
  g_assert_true (rdt_session_is_probing (s));
  end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (probes_of (s) < 3)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
    }
  /* probes only: no login was tried while nothing answered */
  g_assert_cmpuint (tries_of (s), ==, 1);
  fake_relisten (f, port);
  wait_until (&fx, f_connected2);
  g_assert_cmpuint (tries_of (s), ==, 2);
  want_msgs = 1;
  wait_until (&fx, f_sends);
  g_assert_cmpuint (fx.n_send_err, ==, 0);
  g_assert_cmpuint (f->n_posts, ==, 1);

  /* The server answers, with errors: the backoff's tries only. */
  f->down = TRUE;
  fx.n_connecting_err = 0;
  wait_until (&fx, f_reconnecting);
  g_assert_false (rdt_session_is_probing (s));
  g_assert_cmpint (rdt_session_get_next_try (s), >, 60000);
  rdt_session_free (s);
  fake_free (f);
  fx_clear (&fx);
}

static gboolean f_connected3 (Fx *fx) { return fx->n_connected >= 3; }

/* Probes off, the backoff at ten minutes: /reconnect
 * (rdt_session_reconnect_now) and a network that comes back try at once. */
static void
test_fake_reconnect_now (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  guint port = fake_port (f);
  Fx fx;
  RdtSession *s;

  fx_init (&fx);
  s = fake_session (f, owner, owner, &fx);
  rdt_session_set_backoff (s, 600000, 600000);
  rdt_session_set_probe_interval (s, 0);
  rdt_session_connect (s);
  rdt_session_open_topic (s, "general", 50);
  wait_until (&fx, f_opened);
  g_assert_false (rdt_session_reconnect_now (s));   /* live: nothing to do */

  soup_server_disconnect (f->server);
  wait_until (&fx, f_reconnecting);
  g_assert_false (rdt_session_is_probing (s));
  fake_relisten (f, port);
  g_assert_true (rdt_session_reconnect_now (s));
  wait_until (&fx, f_connected2);
  g_assert_cmpuint (tries_of (s), ==, 2);

  soup_server_disconnect (f->server);
  fx.n_connecting_err = 0;
  wait_until (&fx, f_reconnecting);
  fake_relisten (f, port);
  rdt_session_network_changed (s, FALSE);           /* gone: nothing */
  g_assert_cmpuint (tries_of (s), ==, 2);
  rdt_session_network_changed (s, TRUE);
  wait_until (&fx, f_connected3);
  g_assert_cmpuint (tries_of (s), ==, 3);
  rdt_session_free (s);
  fake_free (f);
  fx_clear (&fx);
}

static void
test_fake_verify_and_pins (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a, b, c, d, e;
  RdtSession *sa, *sb, *sc, *sd, *se;
  RdtMessage *m;
  gchar saved;
  guint8 raw[32];
  g_autofree gchar *bogus = NULL;

  fx_init (&a);
  sa = fake_session (f, owner, owner, &a);
  rdt_session_connect (sa);
  rdt_session_open_topic (sa, "general", 50);
  wait_until (&a, f_opened);
  rdt_session_send_text (sa, "general", "m1", NULL);
  rdt_session_send_text (sa, "general", "m2", NULL);
  rdt_session_send_text (sa, "general", "m3", NULL);
  want_msgs = 3;
  wait_until (&a, f_msgs);

  /* Pin on m2 from a "previous run": confirmed, no warning. */
  m = g_ptr_array_index (f->msgs, 1);
  fx_init (&b);
  sb = fake_session (f, owner, owner, &b);
  rdt_session_set_pinned_head (sb, "general", m->message_hash,
                               m->server_timestamp);
  rdt_session_connect (sb);
  rdt_session_open_topic (sb, "general", 50);
  wait_until (&b, f_opened);
  g_assert_cmpuint (b.n_warnings, ==, 0);
  g_assert_cmpuint (b.n_messages, ==, 3);
  /* /chain says it in words: all verified, the newest by its short id,
   * the pin found, nothing queued. */
  {
    g_autofree gchar *desc = rdt_session_describe_topic (sb, "general");
    g_autofree gchar *newest = rdt_id_short (
        ((RdtMessage *) g_ptr_array_index (f->msgs, 2))->message_hash);
    g_autofree gchar *pinned = rdt_id_short (m->message_hash);
    g_autofree gchar *want = g_strdup_printf (
        "#general: All 3 messages shown here are verified (signatures and "
        "hash chain); the newest is %s from ", newest);
    g_autofree gchar *pin_ok = g_strdup_printf (
        ". The history still contains the newest message you saw last time "
        "(%s). 0 messages waiting to be sent.", pinned);

    g_assert_true (g_str_has_prefix (desc, want));
    g_assert_true (g_str_has_suffix (desc, pin_ok));
    g_assert_null (strstr (desc, "Problem"));
  }

  /* Pin on a hash the history never had, inside its time span. */
  rdt_random_bytes (raw, sizeof raw);
  bogus = rdt_id_encode (RDT_ID_MESSAGE, raw);
  fx_init (&c);
  sc = fake_session (f, owner, owner, &c);
  rdt_session_set_pinned_head (sc, "general", bogus, m->server_timestamp);
  rdt_session_connect (sc);
  rdt_session_open_topic (sc, "general", 50);
  wait_until (&c, f_opened);
  g_assert_cmpuint (c.n_warnings, ==, 1);
  g_assert_cmpuint (c.last_warning, ==, RDT_WARNING_HISTORY_REWRITTEN);
  g_assert_cmpuint (c.n_messages, ==, 3);   /* new history, verified */
  {
    g_autofree gchar *desc = rdt_session_describe_topic (sc, "general");
    g_autofree gchar *gone = rdt_id_short (bogus);
    g_autofree gchar *want = g_strdup_printf (
        " Problem: the history was rewritten: the newest message you saw "
        "last time (%s) is no longer part of it. ", gone);

    g_assert_nonnull (strstr (desc, "All 3 messages shown here are verified"));
    g_assert_nonnull (strstr (desc, want));
  }

  /* Tamper with the newest message on the server: hidden, warned. */
  m = g_ptr_array_index (f->msgs, 2);
  saved = m->data[0];
  m->data[0] = m->data[0] == 'A' ? 'B' : 'A';
  fx_init (&d);
  sd = fake_session (f, owner, owner, &d);
  rdt_session_connect (sd);
  rdt_session_open_topic (sd, "general", 50);
  wait_until (&d, f_opened);
  g_assert_cmpuint (d.n_warnings, >=, 1);
  g_assert_cmpuint (d.last_warning, ==, RDT_WARNING_VERIFY_FAILED);
  g_assert_cmpuint (d.n_messages, ==, 2);
  for (guint i = 0; i < d.texts->len; i++)
    g_assert_cmpstr (g_ptr_array_index (d.texts, i), !=, "m3");

  /* m3 intact again, m2 gone from the server: m3 does not link, and
   * /chain names it as a problem. */
  m->data[0] = saved;
  g_ptr_array_remove_index (f->msgs, 1);
  fx_init (&e);
  se = fake_session (f, owner, owner, &e);
  rdt_session_connect (se);
  rdt_session_open_topic (se, "general", 50);
  wait_until (&e, f_opened);
  {
    g_autofree gchar *desc = rdt_session_describe_topic (se, "general");

    g_assert_nonnull (strstr (desc, "#general: The 1 message shown here is "
                                    "verified (signature and hash chain); "
                                    "it is "));
    g_assert_nonnull (strstr (desc, " Problem: 1 more message does not link "
                                    "to the verified history (a gap, or a "
                                    "change on the server) and is not "
                                    "shown. 0 messages waiting to be "
                                    "sent."));
  }

  rdt_session_free (sa);
  rdt_session_free (sb);
  rdt_session_free (sc);
  rdt_session_free (sd);
  rdt_session_free (se);
  fake_free (f);
  fx_clear (&a);
  fx_clear (&b);
  fx_clear (&c);
  fx_clear (&d);
  fx_clear (&e);
}

/* Login errors: a lost/raced challenge (401) is retried; an unknown space
 * (404) is fatal at once. */
static void
test_fake_login_errors (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx fx;
  RdtSession *s;

  /* The api retries a lost challenge once itself: 3 in a row reach the
   * session, which must back off and retry, not give up. */
  f->verify_401 = 3;
  fx_init (&fx);
  s = fake_session (f, owner, owner, &fx);
  rdt_session_connect (s);
  wait_until (&fx, f_connected);
  g_assert_cmpuint (fx.n_disconnected, ==, 0);
  g_assert_false (fx.fatal);
  g_assert_cmpuint (fx.n_connecting_err, >=, 1);
  g_assert_cmpuint (f->verify_401, ==, 0);
  rdt_session_free (s);
  fx_clear (&fx);

  f->no_space = TRUE;
  fx_init (&fx);
  s = fake_session (f, owner, owner, &fx);
  rdt_session_connect (s);
  wait_until (&fx, f_disconnected);
  g_assert_true (fx.fatal);
  g_assert_cmpuint (fx.n_connecting_err, ==, 0);
  rdt_session_free (s);
  fx_clear (&fx);
  fake_free (f);
}

/* A 401 that survives the api's own re-login (token revoked) on a post
 * or a poll: the session logs in again and goes on, nothing dropped. */
static void
test_fake_token_refused (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a, b;
  RdtSession *sa, *sb;
  guint logins_before, logins_after;

  fx_init (&a);
  fx_init (&b);
  sa = fake_session (f, owner, owner, &a);
  sb = fake_session (f, owner, owner, &b);
  rdt_session_connect (sa);
  rdt_session_connect (sb);
  rdt_session_open_topic (sa, "general", 50);
  rdt_session_open_topic (sb, "general", 50);
  wait_until (&a, f_opened);
  wait_until (&b, f_opened);
  rdt_session_get_stats (sa, NULL, &logins_before);

  f->post_401 = 2;
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "after 401", NULL),
                    >, 0);
  want_msgs = 1;
  wait_until (&a, f_sends);
  g_assert_cmpuint (a.n_send_err, ==, 0);
  g_assert_cmpuint (f->post_401, ==, 0);
  wait_until (&a, f_msgs);
  g_assert_cmpstr (g_ptr_array_index (a.texts, 0), ==, "after 401");
  rdt_session_get_stats (sa, NULL, &logins_after);
  g_assert_cmpuint (logins_after, >, logins_before);

  /* Polls refused twice (once after the api's re-login): b logs in
   * again and still gets the next message, without a warning. */
  wait_until (&b, f_msgs);
  f->get_401 = 2;
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "second", NULL),
                    >, 0);
  want_msgs = 2;
  wait_until (&b, f_msgs);
  g_assert_cmpuint (f->get_401, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (b.texts, 1), ==, "second");
  g_assert_cmpuint (b.n_warnings, ==, 0);
  g_assert_cmpuint (b.n_messages, ==, 2);

  rdt_session_free (sa);
  rdt_session_free (sb);
  fake_free (f);
  fx_clear (&a);
  fx_clear (&b);
}

/* The answer to a post is lost (the server stored it): the send must end
 * once, successfully, without a second copy on the server. */
static void
test_fake_lost_answer (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a;
  RdtSession *sa;

  fx_init (&a);
  sa = fake_session (f, owner, owner, &a);
  /* Polls would find the stored copy on their own; make the session
   * rely on the check by hash. */
  rdt_session_set_poll_intervals (sa, 600000, 600000);
  rdt_api_set_timeout (rdt_session_get_api (sa), 1);
  rdt_session_connect (sa);
  rdt_session_open_topic (sa, "general", 50);
  wait_until (&a, f_opened);

  f->hang_posts = 1;
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "once", NULL),
                    >, 0);
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "then", NULL),
                    >, 0);
  want_msgs = 2;
  wait_until (&a, f_sends);
  wait_until (&a, f_msgs);
  g_assert_cmpuint (a.n_send_err, ==, 0);
  g_assert_cmpuint (f->n_posts, ==, 2);
  g_assert_cmpuint (a.n_messages, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (a.texts, 0), ==, "once");
  g_assert_cmpstr (g_ptr_array_index (a.texts, 1), ==, "then");
  g_test_message ("GETs by hash: %u", f->n_hash_gets);

  rdt_session_free (sa);
  fake_free (f);
  fx_clear (&a);
}

/* Spec 4.6: posts in the same millisecond; the server's head is then the
 * older message and only a post chained on it is accepted (a fork). The
 * retry must chain on the server's view and not run out of attempts. */
static void
test_fake_same_ms (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a, b;
  RdtSession *sa, *sb;

  f->same_ms = TRUE;
  fx_init (&a);
  sa = fake_session (f, owner, owner, &a);
  rdt_session_connect (sa);
  rdt_session_open_topic (sa, "general", 50);
  wait_until (&a, f_opened);
  rdt_session_send_text (sa, "general", "t1", NULL);
  rdt_session_send_text (sa, "general", "t2", NULL);
  rdt_session_send_text (sa, "general", "t3", NULL);
  rdt_session_send_text (sa, "general", "t4", NULL);
  want_msgs = 4;
  wait_until (&a, f_sends);
  g_assert_cmpuint (a.n_send_err, ==, 0);
  g_assert_cmpuint (f->n_posts, ==, 4);
  wait_until (&a, f_msgs);
  g_assert_cmpuint (a.n_messages, ==, 4);

  /* Another member sees all four, each once, despite the fork. */
  fx_init (&b);
  sb = fake_session (f, owner, owner, &b);
  rdt_session_connect (sb);
  rdt_session_open_topic (sb, "general", 50);
  wait_until (&b, f_opened);
  g_assert_cmpuint (b.n_messages, ==, 4);

  rdt_session_free (sa);
  rdt_session_free (sb);
  fake_free (f);
  fx_clear (&a);
  fx_clear (&b);
}

/* A send that never gets through says so clearly. */
static void
test_fake_give_up (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a;
  RdtSession *sa;
  guint conflicts = 0;

  fx_init (&a);
  sa = fake_session (f, owner, owner, &a);
  rdt_session_connect (sa);
  rdt_session_open_topic (sa, "general", 50);
  wait_until (&a, f_opened);
  f->always_409 = TRUE;
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "never", NULL),
                    >, 0);
  wait_until (&a, send_ended);
  g_assert_cmpuint (a.n_send_err, ==, 1);
  g_assert_nonnull (a.last_send_error);
  g_test_message ("error: %s", a.last_send_error);
  g_assert_true (g_str_has_prefix (a.last_send_error,
                                   "Could not send after 6 attempts: "));
  g_assert_nonnull (strstr (a.last_send_error, "conflict"));
  g_assert_cmpuint (a.last_warning, ==, RDT_WARNING_SEND_FAILED);
  rdt_session_get_stats (sa, &conflicts, NULL);
  g_assert_cmpuint (conflicts, ==, 6);
  g_assert_cmpuint (f->n_conflicts, ==, 6);
  rdt_session_free (sa);
  fake_free (f);
  fx_clear (&a);
}

static gboolean f_other_opened (Fx *fx) { return fx->n_opened >= 2; }

/* Callbacks that close the topic or free the session while the session
 * is walking messages, warnings or topics (run under ASan). */
static void
test_fake_reentrant (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  Fake *f = fake_new (uid);
  Fx a, b;
  RdtSession *sa, *sb;

  fx_init (&a);
  sa = fake_session (f, owner, owner, &a);
  rdt_session_connect (sa);
  rdt_session_open_topic (sa, "general", 50);
  wait_until (&a, f_opened);
  for (guint i = 0; i < 3; i++)
    rdt_session_send_text (sa, "general", "m", NULL);
  want_msgs = 3;
  wait_until (&a, f_sends);

  /* 1. close in `message` while the backlog is delivered. */
  fx_init (&b);
  sb = fake_session (f, owner, owner, &b);
  b.self = &sb;
  b.close_on_message = TRUE;
  rdt_session_connect (sb);
  rdt_session_open_topic (sb, "general", 50);
  want_msgs = 1;
  wait_until (&b, f_msgs);
  g_assert_false (rdt_session_topic_is_open (sb, "general"));
  b.close_on_message = FALSE;
  rdt_session_open_topic (sb, "other", 50);
  wait_until (&b, f_opened);
  g_assert_cmpuint (b.n_messages, ==, 1);
  rdt_session_free (sb);
  fx_clear (&b);

  /* 2. free in `message` during the backlog. */
  fx_init (&b);
  sb = fake_session (f, owner, owner, &b);
  b.self = &sb;
  b.free_on_message = TRUE;
  rdt_session_connect (sb);
  rdt_session_open_topic (sb, "general", 50);
  wait_until (&b, f_msgs);
  g_assert_null (sb);
  g_assert_cmpuint (b.n_messages, ==, 1);
  fx_clear (&b);

  /* 3. free in `state_changed` (CONNECTED): nothing may run later. */
  fx_init (&b);
  sb = fake_session (f, owner, owner, &b);
  b.self = &sb;
  b.free_on_connected = TRUE;
  rdt_session_open_topic (sb, "general", 50);
  rdt_session_connect (sb);
  wait_until (&b, f_connected);
  g_assert_null (sb);
  fx_clear (&b);

  /* 4. close / free in `warning` for a bad message arriving by polling,
   * and a live message arriving after it. */
  for (guint round = 0; round < 2; round++)
    {
      guint w0;
      fx_init (&b);
      sb = fake_session (f, owner, owner, &b);
      b.self = &sb;
      rdt_session_connect (sb);
      rdt_session_open_topic (sb, "general", 50);
      rdt_session_open_topic (sb, "other", 50);
      wait_until (&b, f_other_opened);
      /* Round 1 has round 0's bad messages in its history already. */
      w0 = b.n_warnings;
      if (round == 0)
        b.close_on_warning = TRUE;
      else
        b.free_on_warning = TRUE;
      f->tamper_posts = TRUE;
      rdt_session_send_text (sa, "general", "bad1", NULL);
      rdt_session_send_text (sa, "general", "bad2", NULL);
      want_msgs = a.n_send_done + 2;
      wait_until (&a, f_sends);
      f->tamper_posts = FALSE;
      while (b.n_warnings == w0)
        {
          g_assert_false (b.called_after_free);
          g_main_context_iteration (NULL, TRUE);
        }
      if (round == 0)
        {
          g_assert_false (rdt_session_topic_is_open (sb, "general"));
          g_assert_cmpuint (b.n_warnings, ==, 1);
          /* The session still works: another topic, another send. */
          b.close_on_warning = FALSE;
          rdt_session_send_text (sb, "other", "still here", NULL);
          want_msgs = b.n_messages + 1;
          wait_until (&b, f_msgs);
          rdt_session_free (sb);
        }
      else
        g_assert_null (sb);
      g_assert_false (b.called_after_free);
      fx_clear (&b);
    }

  /* Let anything still scheduled run: no callback after free. */
  rdt_session_send_text (sa, "general", "last", NULL);
  want_msgs = a.n_send_done + 1;
  wait_until (&a, f_sends);
  rdt_session_free (sa);
  fake_free (f);
  fx_clear (&a);
}

#ifdef RDT_HAVE_TESTSERVER
static RdtTestServer *srv;

static gboolean connected (Fx *fx) { return fx->n_connected >= 1; }
static gboolean opened (Fx *fx) { return fx->n_opened >= 1; }
static gboolean one_msg (Fx *fx) { return fx->n_messages >= 1; }
static gboolean disconnected (Fx *fx) { return fx->n_disconnected >= 1; }

static RdtSession *
server_session (RdtSigningKey *space_key, RdtSigningKey *member,
                const guint8 root[RDT_KEY_LENGTH], Fx *fx)
{
  g_autofree gchar *space = rdt_signing_key_get_id (space_key, RDT_ID_SPACE);
  GError *error = NULL;
  RdtSession *s;

  s = rdt_session_new_for_key (rdt_test_server_get_url (srv), space, member,
                               root, &error);
  g_assert_no_error (error);
  rdt_session_set_callbacks (s, &callbacks, fx);
  rdt_session_set_poll_intervals (s, 200, 100);
  rdt_session_set_backoff (s, 20, 200);
  return s;
}

static void
test_server_send_live (void)
{
  Fx a, b;
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  RdtSession *sa, *sb;
  GError *error = NULL;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  fx_init (&b);
  sa = server_session (owner, owner, root, &a);
  sb = server_session (owner, owner, root, &b);
  rdt_session_connect (sa);
  rdt_session_connect (sb);
  wait_until (&a, connected);
  wait_until (&b, connected);
  rdt_session_open_topic (sa, "general", 50);
  rdt_session_open_topic (sb, "general", 50);
  wait_until (&a, opened);
  wait_until (&b, opened);
  g_assert_no_error (a.open_error);
  g_assert_cmpuint (a.n_messages, ==, 0);

  g_assert_cmpuint (rdt_session_send_text (sa, "general", "hello", &error),
                    >, 0);
  g_assert_no_error (error);
  wait_until (&a, send_ended);
  wait_until (&a, one_msg);
  wait_until (&b, one_msg);
  g_assert_cmpuint (a.n_send_err, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (a.texts, 0), ==, "hello");
  g_assert_cmpstr (g_ptr_array_index (b.texts, 0), ==, "hello");
  g_assert_cmpuint (a.n_own, ==, 1);
  g_assert_cmpuint (a.n_backlog, ==, 0);

  /* A third session sees it as backlog. */
  {
    Fx c;
    RdtSession *sc;
    fx_init (&c);
    sc = server_session (owner, owner, root, &c);
    rdt_session_connect (sc);
    rdt_session_open_topic (sc, "general", 50);
    wait_until (&c, opened);
    g_assert_cmpuint (c.n_messages, ==, 1);
    g_assert_cmpuint (c.n_backlog, ==, 1);
    rdt_session_free (sc);
    fx_clear (&c);
  }
  /* Delivered exactly once (poll + stream + own ingest dedupe). */
  g_assert_cmpuint (a.n_messages, ==, 1);
  g_assert_cmpuint (b.n_messages, ==, 1);

  rdt_session_free (sa);
  rdt_session_free (sb);
  fx_clear (&a);
  fx_clear (&b);
}


/* Finding: after a 409 the retry must chain on the server's head and a
 * sender that keeps losing the race to others must not give up. Ten
 * sessions post 20 messages each at once on one topic (with the 6-attempt
 * limit of the old code some sends failed): every send succeeds and every
 * session ends with the same 200 messages, each once, in the same order. */
#define CONC_SESSIONS 10
#define CONC_EACH 20

static gboolean
all_done (Fx *fxs)
{
  for (guint i = 0; i < CONC_SESSIONS; i++)
    if (fxs[i].n_send_done < CONC_EACH
        || fxs[i].n_messages < CONC_SESSIONS * CONC_EACH)
      return FALSE;
  return TRUE;
}

static void
test_server_concurrent (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  Fx fx[CONC_SESSIONS];
  RdtSession *ss[CONC_SESSIONS];
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  guint conflicts = 0;
  gint64 start, end;

  rdt_random_bytes (root, sizeof root);
  for (guint i = 0; i < CONC_SESSIONS; i++)
    {
      fx_init (&fx[i]);
      ss[i] = server_session (owner, owner, root, &fx[i]);
      /* One at a time: logins with one key share the server's challenge. */
      rdt_session_connect (ss[i]);
      wait_until (&fx[i], connected);
      rdt_session_open_topic (ss[i], "busy", 200);
      wait_until (&fx[i], opened);
      g_assert_no_error (fx[i].open_error);
    }
  start = g_get_monotonic_time ();
  for (guint n = 0; n < CONC_EACH; n++)
    for (guint i = 0; i < CONC_SESSIONS; i++)
      {
        g_autofree gchar *text = g_strdup_printf ("s%u-%u", i, n);
        g_assert_cmpuint (rdt_session_send_text (ss[i], "busy", text, NULL),
                          >, 0);
      }
  {
    gint64 limit = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
    while (!all_done (fx))
      {
        for (guint i = 0; i < CONC_SESSIONS; i++)
          g_assert_cmpuint (fx[i].n_send_err, ==, 0);
        g_assert_cmpint (g_get_monotonic_time (), <, limit);
        g_main_context_iteration (NULL, TRUE);
      }
  }
  end = g_get_monotonic_time ();
  for (guint i = 0; i < CONC_SESSIONS; i++)
    {
      guint c = 0;
      g_assert_cmpuint (fx[i].n_send_err, ==, 0);
      g_assert_cmpuint (fx[i].n_send_done, ==, CONC_EACH);
      g_assert_cmpuint (fx[i].n_messages, ==, CONC_SESSIONS * CONC_EACH);
      for (guint k = 0; k < fx[i].hashes->len; k++)
        g_assert_cmpstr (g_ptr_array_index (fx[i].hashes, k), ==,
                         g_ptr_array_index (fx[0].hashes, k));
      rdt_session_get_stats (ss[i], &c, NULL);
      conflicts += c;
    }
  for (guint k = 0; k < fx[0].texts->len; k++)
    {
      const gchar *t = g_ptr_array_index (fx[0].texts, k);
      g_assert_false (g_hash_table_contains (seen, t));   /* each once */
      g_hash_table_add (seen, (gpointer) t);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, CONC_SESSIONS * CONC_EACH);
  g_test_message ("%u messages from %u sessions in %.2f s, %u conflicts "
                  "retried", CONC_SESSIONS * CONC_EACH, CONC_SESSIONS,
                  (end - start) / 1e6, conflicts);
  g_hash_table_unref (seen);
  for (guint i = 0; i < CONC_SESSIONS; i++)
    {
      rdt_session_free (ss[i]);
      fx_clear (&fx[i]);
    }
}

static void
test_server_not_member (void)
{
  Fx fx;
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) stranger = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH] = { 0 };
  RdtSession *s;
  Fx ofx;
  RdtSession *so;

  /* Create the space as its owner first. */
  fx_init (&ofx);
  so = server_session (owner, owner, root, &ofx);
  rdt_session_connect (so);
  wait_until (&ofx, connected);
  rdt_session_free (so);
  fx_clear (&ofx);

  fx_init (&fx);
  s = server_session (owner, stranger, root, &fx);
  rdt_session_connect (s);
  wait_until (&fx, disconnected);
  g_assert_true (fx.fatal);
  g_assert_cmpuint (fx.n_connecting_err, ==, 0);   /* no retry */
  rdt_session_free (s);
  fx_clear (&fx);
}
#endif

int
main (int argc, char **argv)
{
  int ret;
  g_test_init (&argc, &argv, NULL);
  g_assert_true (rdt_crypto_init ());
  g_test_add_func ("/session/new-invalid", test_new_invalid);
  g_test_add_func ("/session/topic-checks", test_topic_checks);
  g_test_add_func ("/session/unreachable-backoff", test_unreachable_backoff);
  g_test_add_func ("/session/free-in-flight", test_free_in_flight);
  g_test_add_func ("/session/free-in-send-done", test_free_in_send_done);
  g_test_add_func ("/session/fake/flow", test_fake_flow);
  g_test_add_func ("/session/fake/payload", test_fake_payload);
  g_test_add_func ("/session/fake/not-member", test_fake_not_member);
  g_test_add_func ("/session/fake/outage", test_fake_outage);
  g_test_add_func ("/session/fake/probe", test_fake_probe);
  g_test_add_func ("/session/fake/reconnect-now", test_fake_reconnect_now);
  g_test_add_func ("/session/fake/verify-and-pins", test_fake_verify_and_pins);
  g_test_add_func ("/session/fake/login-errors", test_fake_login_errors);
  g_test_add_func ("/session/fake/token-refused", test_fake_token_refused);
  g_test_add_func ("/session/fake/lost-answer", test_fake_lost_answer);
  g_test_add_func ("/session/fake/give-up", test_fake_give_up);
  g_test_add_func ("/session/fake/same-ms", test_fake_same_ms);
  g_test_add_func ("/session/fake/reentrant", test_fake_reentrant);
#ifdef RDT_HAVE_TESTSERVER
  srv = rdt_test_server_start (NULL);
  g_test_add_func ("/session/server/send-live", test_server_send_live);
  g_test_add_func ("/session/server/not-member", test_server_not_member);
  g_test_add_func ("/session/server/concurrent", test_server_concurrent);
#endif
  ret = g_test_run ();
#ifdef RDT_HAVE_TESTSERVER
  rdt_test_server_stop (srv);
#endif
  return ret;
}
