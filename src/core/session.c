/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session.c - one member in one space: login lifecycle, topics, polling,
 * sending (spec 15). See session.h for the guarantees.
 *
 * Lifetime: every async operation holds a ref on the session and on its
 * topic; the public rdt_session_free() marks it freed, cancels everything,
 * removes timers and drops the caller's ref. Closing a topic marks it
 * closed. Callbacks may close topics or free the session, so code that
 * emits one holds refs and checks TOPIC_GONE / `freed` afterwards, and
 * never walks s->topics while emitting (it walks a snapshot of refs).
 */
#include "config.h"
#include "session.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "api.h"
#include "chain.h"
#include "error.h"
#include "id.h"
#include "message.h"
#include "stream.h"

#define RDT_SEND_MAX_ATTEMPTS 6
#define RDT_PIN_MAX_PAGES 10
#define RDT_NEWEST_TS G_GINT64_CONSTANT (9999999999999)

typedef struct {
  guint64  id;
  gchar   *topic_id;
  gchar   *type;
  guint8  *plain;      /* plaintext copy for rdt_session_retry_send() */
  gsize    plain_len;
  gchar   *data;       /* encrypted once, reused across retries */
  guint    attempts;   /* posts made */
  guint    stuck;      /* 409s in a row where the server head did not move */
  gchar   *prev;       /* server's head to chain on after a 409 */
  gboolean have_prev;  /* prev is set (NULL prev = empty topic) */
  gchar   *used_prev;  /* prev_hash of the last post made */
  GPtrArray *maybe_posted; /* hashes of posts whose answer was lost */
  gboolean   yielded;      /* took its random gap in a busy topic */
  gint64   queued_us;  /* monotonic */
} Send;

typedef struct {
  gint      ref_count;    /* the table's ref + one per pending operation */
  gboolean  closed;       /* removed from the table: no more callbacks */
  gchar    *id;
  RdtChain *chain;
  guint8   *key;          /* secret memory */
  guint     backlog;
  gboolean  opened;       /* history delivered, topic_opened sent */
  gboolean  opening;      /* first page in flight */
  gboolean  polling;
  gboolean  poll_again;
  GQueue    sends;        /* Send*, head is the one in flight */
  gboolean  in_flight;
  gint64    last_post_us;
  gint64    post_rtt_us;      /* how long our last post took to answer */
  gint64    last_foreign_us;  /* when another member's message last arrived */
  gchar    *pin_hash;
  gint64    pin_ts;
  guint     pin_pages;
  guint     gap_source;
  guint     gap_polls;    /* polls since a gap appeared without filling it */
  gboolean  gap_warned;
  gchar    *last_head;
} Topic;

struct _RdtSession {
  gint                 ref_count;
  gboolean             freed;
  gchar               *url;
  gchar               *space_id;
  gchar               *member_id;
  guint8              *root;    /* secret memory */
  RdtSpaceKeys        *keys;
  RdtApi              *api;
  RdtStream           *stream;
  GCancellable        *cancel;
  RdtSessionCallbacks  cb;
  gpointer             cb_data;
  RdtSessionState      state;
  gboolean             want_connected;
  gboolean             logging_in;
  gboolean             use_stream;
  gboolean             stream_connecting;
  guint                poll_live_ms, poll_down_ms;
  guint                backoff_initial, backoff_max;
  guint                backoff_cur, stream_backoff_cur;
  guint                login_source, relogin_source, poll_source, stream_source;
  guint                poll_source_ms;
  GHashTable          *topics;       /* id -> Topic */
  GHashTable          *pins;         /* id -> "hash\nts" before opening */
  GHashTable          *seen;         /* topic ids reported by topic_seen */
  GHashTable          *failed;       /* send id -> Send (for retry) */
  guint64              next_send_id;
  guint                send_timeout_ms;
  /* stats for tests */
  guint                n_conflicts, n_logins;
};

static void session_login (RdtSession *s);
static void session_unref (RdtSession *s);
static void session_fail_all_sends (RdtSession *s, const GError *error);
static void session_poll_topic (RdtSession *s, Topic *t);
static void topic_fetch_first (RdtSession *s, Topic *t);
static void topic_kick_send (RdtSession *s, Topic *t);
static void session_stream_connect (RdtSession *s);
static void session_reschedule_poll (RdtSession *s);

static RdtSession *
session_ref (RdtSession *s)
{
  s->ref_count++;
  return s;
}

static void
send_free (Send *send)
{
  if (send == NULL)
    return;
  g_free (send->topic_id);
  g_free (send->type);
  if (send->plain)
    rdt_wipe (send->plain, send->plain_len);
  g_free (send->plain);
  g_free (send->data);
  g_free (send->prev);
  g_free (send->used_prev);
  if (send->maybe_posted)
    g_ptr_array_unref (send->maybe_posted);
  g_free (send);
}

static Topic *
topic_ref (Topic *t)
{
  t->ref_count++;
  return t;
}

static void
topic_unref (Topic *t)
{
  Send *send;
  if (--t->ref_count > 0)
    return;
  g_clear_pointer (&t->chain, rdt_chain_free);
  if (t->key)
    rdt_secret_free (t->key);
  while ((send = g_queue_pop_head (&t->sends)))
    send_free (send);
  g_free (t->pin_hash);
  g_free (t->last_head);
  g_free (t->id);
  g_free (t);
}

/* Destroy notify of s->topics: the topic is gone for good, but pending
 * operations may still hold refs; they check `closed`. */
static void
topic_close (Topic *t)
{
  t->closed = TRUE;
  g_clear_handle_id (&t->gap_source, g_source_remove);
  topic_unref (t);
}

/* Whether t may still be used after a callback ran (callbacks may close
 * the topic or free the session; callers hold refs on both). */
#define TOPIC_GONE(s, t) ((s)->freed || (t)->closed)

static void
session_unref (RdtSession *s)
{
  if (--s->ref_count > 0)
    return;
  g_hash_table_destroy (s->topics);
  g_hash_table_destroy (s->pins);
  g_hash_table_destroy (s->seen);
  g_hash_table_destroy (s->failed);
  g_clear_object (&s->cancel);
  g_clear_object (&s->api);
  if (s->keys)
    rdt_space_keys_free (s->keys);
  if (s->root)
    rdt_secret_free (s->root);
  g_free (s->url);
  g_free (s->space_id);
  g_free (s->member_id);
  g_free (s);
}

typedef struct {
  RdtSession *s;        /* ref */
  Topic      *t;        /* ref; check TOPIC_GONE before use */
  guint64     send_id;  /* the send a sending step belongs to, or 0 */
} TopicOp;

static TopicOp *
topic_op_new (RdtSession *s, Topic *t)
{
  TopicOp *op = g_new0 (TopicOp, 1);
  op->s = session_ref (s);
  op->t = topic_ref (t);
  return op;
}

/* Returns the topic if the op is still relevant. */
static Topic *
topic_op_topic (TopicOp *op)
{
  return TOPIC_GONE (op->s, op->t) ? NULL : op->t;
}

static void
topic_op_free (TopicOp *op)
{
  topic_unref (op->t);
  session_unref (op->s);
  g_free (op);
}

/* A step of the send at the head of t's queue. */
static TopicOp *
send_op_new (RdtSession *s, Topic *t)
{
  TopicOp *op = topic_op_new (s, t);
  Send *send = g_queue_peek_head (&t->sends);
  op->send_id = send ? send->id : 0;
  return op;
}

/* The send of a sending step if it is still the one in flight (it may
 * have been ended meanwhile by a disconnect, a fatal login, a timeout). */
static Send *
send_op_send (TopicOp *op)
{
  Topic *t = topic_op_topic (op);
  Send *send = t ? g_queue_peek_head (&t->sends) : NULL;
  return send && send->id == op->send_id ? send : NULL;
}

/* ---- callbacks ---- */

static void
emit_state (RdtSession *s, RdtSessionState state, const GError *error,
            gboolean fatal)
{
  if (s->state == state && error == NULL)
    return;
  s->state = state;
  g_debug ("session %s: state %d%s%s", s->space_id, state,
           error ? ": " : "", error ? error->message : "");
  if (s->cb.state_changed)
    s->cb.state_changed (s, state, error, fatal, s->cb_data);
}

static void
emit_warning (RdtSession *s, const gchar *topic_id, RdtWarningKind kind,
              const gchar *text)
{
  g_debug ("session: warning %d in %s", kind, topic_id);
  if (s->cb.warning)
    s->cb.warning (s, topic_id, kind, text, s->cb_data);
}

static void
emit_send_done (RdtSession *s, Send *send, const GError *error)
{
  if (error)
    {
      /* Translators: must be the start of the translations of "Could not
       * send: %s" and "Could not send after %u attempts: %s". */
      gchar *text = g_str_has_prefix (error->message, _("Could not send"))
                    ? g_strdup (error->message)
                    : g_strdup_printf (_("Could not send: %s"),
                                       error->message);
      emit_warning (s, send->topic_id, RDT_WARNING_SEND_FAILED, text);
      g_free (text);
    }
  if (s->cb.send_done)
    s->cb.send_done (s, send->topic_id, send->id, error, s->cb_data);
}

/* ---- construction ---- */

RdtSession *
rdt_session_new_for_key (const gchar *server_url, const gchar *space_id,
                         const RdtSigningKey *key,
                         const guint8 root[RDT_KEY_LENGTH], GError **error)
{
  guint8 seed[RDT_SEED_LENGTH];
  RdtSession *s;

  g_return_val_if_fail (key != NULL, NULL);
  rdt_signing_key_copy_seed (key, seed);
  s = rdt_session_new (server_url, space_id, seed, root, error);
  rdt_wipe (seed, sizeof seed);
  return s;
}

RdtSession *
rdt_session_new (const gchar *server_url, const gchar *space_id,
                 const guint8 seed[RDT_SEED_LENGTH],
                 const guint8 root[RDT_KEY_LENGTH], GError **error)
{
  RdtSession *s;
  RdtSigningKey *key;
  RdtApi *api;
  guint8 raw[32];

  g_return_val_if_fail (seed != NULL && root != NULL, NULL);
  if (!rdt_crypto_init ())
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("The crypto library could not be initialised"));
      return NULL;
    }
  if (space_id == NULL || !rdt_id_decode_typed (space_id, RDT_ID_SPACE,
                                                raw, error))
    {
      if (error && *error == NULL)
        g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                     _("Missing space id"));
      return NULL;
    }
  key = rdt_signing_key_new_from_seed (seed);
  if (key == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                   _("The signing key is not valid"));
      return NULL;
    }
  api = rdt_api_new (server_url, space_id, key, RDT_ID_USER, error);
  rdt_signing_key_free (key);
  if (api == NULL)
    return NULL;

  s = g_new0 (RdtSession, 1);
  s->ref_count = 1;
  s->api = api;
  s->url = g_strdup (server_url);
  s->space_id = g_strdup (space_id);
  s->member_id = g_strdup (rdt_api_get_member_id (api));
  s->root = rdt_secret_alloc (RDT_KEY_LENGTH);
  memcpy (s->root, root, RDT_KEY_LENGTH);
  s->keys = rdt_space_keys_new (root, space_id);
  s->cancel = g_cancellable_new ();
  s->state = RDT_SESSION_DISCONNECTED;
  s->use_stream = TRUE;
  /* While the stream is live it delivers everything and any gap it shows
   * (an unknown prev_hash) is fetched at once; the safety poll is then
   * only for a message no later one reveals (spec 15.10: broadcasts are
   * per worker), so it can be rare: idle traffic stays near keepalive. */
  s->poll_live_ms = 300000;
  s->poll_down_ms = 5000;
  s->backoff_initial = 1000;
  s->backoff_max = 60000;
  s->send_timeout_ms = 120000;
  s->next_send_id = 1;
  s->topics = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                     (GDestroyNotify) topic_close);
  s->pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->failed = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                     (GDestroyNotify) send_free);
  return s;
}

static void
session_stop (RdtSession *s)
{
  GHashTableIter it;
  Topic *t;

  g_clear_handle_id (&s->login_source, g_source_remove);
  g_clear_handle_id (&s->relogin_source, g_source_remove);
  g_clear_handle_id (&s->poll_source, g_source_remove);
  g_clear_handle_id (&s->stream_source, g_source_remove);
  g_cancellable_cancel (s->cancel);
  g_clear_object (&s->cancel);
  s->cancel = g_cancellable_new ();
  g_clear_pointer (&s->stream, rdt_stream_free);
  s->stream_connecting = FALSE;
  s->logging_in = FALSE;
  g_hash_table_iter_init (&it, s->topics);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &t))
    {
      t->polling = FALSE;
      t->in_flight = FALSE;
      t->opening = FALSE;
      g_clear_handle_id (&t->gap_source, g_source_remove);
    }
}

void
rdt_session_free (RdtSession *s)
{
  if (s == NULL)
    return;
  s->freed = TRUE;
  memset (&s->cb, 0, sizeof s->cb);
  session_stop (s);
  g_cancellable_cancel (s->cancel);
  if (s->keys)
    {
      rdt_space_keys_free (s->keys);
      s->keys = NULL;
    }
  g_hash_table_remove_all (s->topics);
  g_hash_table_remove_all (s->failed);
  session_unref (s);
}

void
rdt_session_set_callbacks (RdtSession *s, const RdtSessionCallbacks *callbacks,
                           gpointer user_data)
{
  if (callbacks)
    s->cb = *callbacks;
  else
    memset (&s->cb, 0, sizeof s->cb);
  s->cb_data = user_data;
}

const gchar *rdt_session_get_member_id (RdtSession *s) { return s->member_id; }
RdtApi *rdt_session_get_api (RdtSession *s) { return s->api; }
const gchar *rdt_session_get_space_id (RdtSession *s) { return s->space_id; }
RdtSessionState rdt_session_get_state (RdtSession *s) { return s->state; }

void
rdt_session_set_poll_intervals (RdtSession *s, guint live_ms, guint down_ms)
{
  s->poll_live_ms = MAX (live_ms, 10);
  s->poll_down_ms = MAX (down_ms, 10);
  if (s->poll_source)
    session_reschedule_poll (s);
}

void
rdt_session_set_backoff (RdtSession *s, guint initial_ms, guint max_ms)
{
  s->backoff_initial = MAX (initial_ms, 1);
  s->backoff_max = MAX (max_ms, s->backoff_initial);
}

void
rdt_session_set_use_stream (RdtSession *s, gboolean use_stream)
{
  s->use_stream = use_stream;
  if (!use_stream)
    {
      g_clear_handle_id (&s->stream_source, g_source_remove);
      g_clear_pointer (&s->stream, rdt_stream_free);
      s->stream_connecting = FALSE;
    }
}

void
rdt_session_set_send_timeout (RdtSession *s, guint ms)
{
  s->send_timeout_ms = ms;
}

void
rdt_session_get_stats (RdtSession *s, guint *n_conflicts, guint *n_logins)
{
  if (n_conflicts)
    *n_conflicts = s->n_conflicts;
  if (n_logins)
    *n_logins = s->n_logins;
}

/* Refs to the open topics, so that callbacks emitted while walking them
 * can close topics or free the session (free with topics_unref). */
static GPtrArray *
topics_snapshot (RdtSession *s)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) topic_unref);
  GHashTableIter it;
  Topic *t;

  g_hash_table_iter_init (&it, s->topics);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &t))
    g_ptr_array_add (all, topic_ref (t));
  return all;
}

/* End every queued send of t with error (they can be retried). */
static void
topic_fail_sends (RdtSession *s, Topic *t, const GError *error)
{
  Send *send;
  while (!s->freed && (send = g_queue_pop_head (&t->sends)))
    {
      emit_send_done (s, send, error);
      g_hash_table_replace (s->failed, &send->id, send);
    }
}

/* ---- backoff ---- */

static guint
next_backoff (RdtSession *s, guint *cur)
{
  guint base = *cur ? *cur : s->backoff_initial;
  guint delay = base / 2 + g_random_int_range (0, base / 2 + 1);
  *cur = MIN ((guint64) base * 2, s->backoff_max);
  return MAX (delay, 1);
}

/* ---- login ---- */

/* A login failure that retrying cannot fix (spec 6.1, 6.2):
 * - 403 at verify: "Not a member of this space" (also what a wrong key
 *   gets: its id is no member); any 403 at login means the same;
 * - 404: the space is not registered;
 * - 400/422 (INVALID, TOO_LARGE): our request is refused as malformed
 *   ("Invalid user identifier"), it would be refused again.
 * Everything else is transient and retried with backoff: 401 at login is
 * a lost or raced challenge ("Challenge not found/expired/mismatch",
 * e.g. after a server restart or a second device logging in at the same
 * moment; a valid key never gets "Invalid signature"), 5xx, timeouts,
 * network errors, garbled answers. */
static gboolean
is_fatal (const GError *error)
{
  return g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_INVALID)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_TOO_LARGE);
}

static gboolean
login_timeout_cb (gpointer data)
{
  RdtSession *s = data;
  GPtrArray *all;

  s->login_source = 0;
  session_ref (s);
  /* Fail sends that waited too long while we were away. */
  all = topics_snapshot (s);
  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (!TOPIC_GONE (s, t))
        topic_kick_send (s, t);
    }
  g_ptr_array_unref (all);
  if (!s->freed && s->want_connected)
    session_login (s);
  session_unref (s);
  return G_SOURCE_REMOVE;
}

static gboolean
relogin_cb (gpointer data)
{
  RdtSession *s = data;
  s->relogin_source = 0;
  session_login (s);
  return G_SOURCE_REMOVE;
}

static void
schedule_relogin (RdtSession *s)
{
  gint64 expiry = rdt_api_get_token_expiry (s->api);
  gint64 now = g_get_real_time () / 1000;
  gint64 lifetime, delay;

  g_clear_handle_id (&s->relogin_source, g_source_remove);
  if (expiry <= 0)
    return;
  lifetime = MAX (expiry - now, 0);
  delay = MIN (lifetime - 5 * 60 * 1000, lifetime * 8 / 10);
  delay = CLAMP (delay, 500, G_MAXUINT / 2);
  s->relogin_source = g_timeout_add ((guint) delay, relogin_cb, s);
}

static void
go_connecting (RdtSession *s, const GError *error)
{
  /* Transient trouble: drop the stream, retry the login with backoff. */
  if (s->freed || !s->want_connected)
    return;
  if (s->state == RDT_SESSION_CONNECTING && (s->logging_in || s->login_source))
    return;  /* already reconnecting: one report is enough */
  g_clear_handle_id (&s->poll_source, g_source_remove);
  g_clear_handle_id (&s->stream_source, g_source_remove);
  g_clear_handle_id (&s->relogin_source, g_source_remove);
  g_clear_pointer (&s->stream, rdt_stream_free);
  s->stream_connecting = FALSE;
  emit_state (s, RDT_SESSION_CONNECTING, error, FALSE);
  if (!s->logging_in && !s->login_source)
    s->login_source = g_timeout_add (next_backoff (s, &s->backoff_cur),
                                     login_timeout_cb, s);
}

static void
session_went_live (RdtSession *s)
{
  GPtrArray *all;

  emit_state (s, RDT_SESSION_CONNECTED, NULL, FALSE);
  if (s->freed || s->state != RDT_SESSION_CONNECTED)
    return;  /* freed or disconnected from the callback */
  schedule_relogin (s);
  if (s->use_stream && !s->stream && !s->stream_source)
    session_stream_connect (s);
  session_reschedule_poll (s);
  /* Catch up every topic before relying on the stream; open waiting ones. */
  all = topics_snapshot (s);
  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (TOPIC_GONE (s, t) || s->state != RDT_SESSION_CONNECTED)
        continue;
      if (!t->opened)
        topic_fetch_first (s, t);
      else
        {
          session_poll_topic (s, t);
          topic_kick_send (s, t);
        }
    }
  g_ptr_array_unref (all);
}

static void
login_done (GObject *src, GAsyncResult *res, gpointer data)
{
  RdtSession *s = data;
  GError *error = NULL;
  gboolean ok = rdt_api_authenticate_finish (RDT_API (src), res, &error);

  if (s->freed || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    goto out;
  s->logging_in = FALSE;
  if (!s->want_connected)
    goto out;
  if (ok)
    {
      s->n_logins++;
      s->backoff_cur = 0;
      session_went_live (s);
    }
  else if (is_fatal (error))
    {
      /* Stop everything (cancels requests still waiting for a token). */
      session_stop (s);
      s->want_connected = FALSE;
      emit_state (s, RDT_SESSION_DISCONNECTED, error, TRUE);
      /* Nothing queued can be sent until the user reconnects. */
      if (!s->freed && !s->want_connected)
        session_fail_all_sends (s, error);
    }
  else
    go_connecting (s, error);
out:
  g_clear_error (&error);
  session_unref (s);
}

static void
session_login (RdtSession *s)
{
  if (s->logging_in || s->freed)
    return;
  g_clear_handle_id (&s->login_source, g_source_remove);
  s->logging_in = TRUE;
  rdt_api_authenticate_async (s->api, s->cancel, login_done, session_ref (s));
}

void
rdt_session_connect (RdtSession *s)
{
  if (s->want_connected || s->freed)
    return;
  s->want_connected = TRUE;
  s->backoff_cur = 0;
  s->stream_backoff_cur = 0;
  session_ref (s);
  emit_state (s, RDT_SESSION_CONNECTING, NULL, FALSE);
  if (!s->freed && s->want_connected)
    session_login (s);
  session_unref (s);
}

/* Queued sends cannot go anywhere now: end them so nothing is lost
 * silently (they can be retried). */
static void
session_fail_all_sends (RdtSession *s, const GError *error)
{
  GPtrArray *all = topics_snapshot (s);
  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (!TOPIC_GONE (s, t))
        topic_fail_sends (s, t, error);
    }
  g_ptr_array_unref (all);
}

void
rdt_session_disconnect (RdtSession *s)
{
  GError *e;

  if (s->freed)
    return;
  s->want_connected = FALSE;
  session_stop (s);
  session_ref (s);
  e = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                   _("Disconnected before the message was sent"));
  session_fail_all_sends (s, e);
  g_error_free (e);
  if (!s->freed && !s->want_connected)
    emit_state (s, RDT_SESSION_DISCONNECTED, NULL, FALSE);
  session_unref (s);
}

/* ---- delivery ---- */

static const guint8 *
topic_key (RdtSession *s, Topic *t)
{
  if (t->key == NULL)
    {
      t->key = rdt_secret_alloc (RDT_KEY_LENGTH);
      rdt_space_keys_topic_key (s->keys, t->id, t->key);
    }
  return t->key;
}

/* The string member `name` of a JSON object payload, or NULL. */
static gchar *
json_string_member (const gchar *p, gsize len, const gchar *name)
{
  gchar *out = NULL;
  JsonParser *parser;

  if (len == 0 || p[0] != '{' || !rdt_json_check_text (p, len, NULL))
    return NULL;
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, p, len, NULL))
    {
      JsonNode *root = json_parser_get_root (parser);
      if (JSON_NODE_HOLDS_OBJECT (root))
        {
          JsonNode *n = json_object_get_member (json_node_get_object (root),
                                                name);
          if (n && JSON_NODE_HOLDS_VALUE (n)
              && json_node_get_value_type (n) == G_TYPE_STRING)
            out = g_strdup (json_node_get_string (n));
        }
    }
  g_object_unref (parser);
  return out;
}

/* A short one-line label from hostile text: valid UTF-8, control
 * characters replaced, at most max_chars characters. */
static gchar *
clean_label (const gchar *in, glong max_chars)
{
  gchar *valid = g_utf8_make_valid (in ? in : "?", -1);
  GString *out = g_string_new (NULL);
  const gchar *p = valid;
  glong n = 0;

  for (; *p && n < max_chars; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  if (*p)
    g_string_append (out, "\xe2\x80\xa6");   /* cut: U+2026 */
  g_free (valid);
  return g_string_free (out, FALSE);
}

/* Display text of a message that is not chat.text: its "text" member if
 * it has one, else a short placeholder naming the type (and the file name
 * of an attachment), so the user sees that something arrived. */
static gchar *
display_other (const gchar *type, GBytes *plain)
{
  gsize len;
  const gchar *p = g_bytes_get_data (plain, &len);
  gchar *t = json_string_member (p, len, "text");
  gchar *safe_type, *name, *out;

  if (t)
    return t;
  safe_type = clean_label (type, 40);
  name = json_string_member (p, len, "filename");
  if (name)
    {
      gchar *safe_name = clean_label (name, 120);
      out = g_strdup_printf ("[%s: %s]", safe_type, safe_name);
      g_free (safe_name);
    }
  else
    /* Translators: placeholder for a message of an unknown type: its type
     * and its size. */
    out = g_strdup_printf (_("[%s, %zu bytes]"), safe_type, len);
  g_free (name);
  g_free (safe_type);
  return out;
}

/* Spec 9: a JSON object with a string "text", else the bytes as UTF-8.
 * Invalid UTF-8 is repaired with U+FFFD and still shown: the message is
 * verified, only its encoding is odd. */
static gchar *
display_text (GBytes *plain)
{
  gsize len;
  const gchar *p = g_bytes_get_data (plain, &len);
  gchar *text = NULL;

  if (len > 0 && p[0] == '{' && rdt_json_check_text (p, len, NULL))
    {
      JsonParser *parser = json_parser_new ();
      if (json_parser_load_from_data (parser, p, len, NULL))
        {
          JsonNode *root = json_parser_get_root (parser);
          if (JSON_NODE_HOLDS_OBJECT (root))
            {
              JsonNode *n = json_object_get_member (json_node_get_object (root),
                                                    "text");
              if (n && JSON_NODE_HOLDS_VALUE (n)
                  && json_node_get_value_type (n) == G_TYPE_STRING)
                text = g_strdup (json_node_get_string (n));
            }
        }
      g_object_unref (parser);
    }
  if (text == NULL)
    text = g_utf8_make_valid (p ? p : "", len);
  return text;
}

static void
deliver_ready (RdtSession *s, Topic *t, gboolean backlog)
{
  GPtrArray *ready;
  RdtMessage *head;
  const gchar *topic_id = t->id;

  if (TOPIC_GONE (s, t))
    return;
  ready = rdt_chain_take_ready (t->chain);
  session_ref (s);
  topic_ref (t);
  for (guint i = 0; i < ready->len; i++)
    {
      RdtMessage *m = g_ptr_array_index (ready, i);
      GError *error = NULL;
      GBytes *plain;

      if (TOPIC_GONE (s, t))
        break;  /* closed or freed from inside a callback */
      plain = rdt_payload_decrypt (topic_key (s, t), m->data, &error);
      if (plain == NULL)
        {
          gchar *who = rdt_id_short (m->sender);
          gchar *text = g_strdup_printf (_("A message from %s could not be "
                                           "decrypted (%s) and is not "
                                           "shown."),
                                         who, error->message);
          emit_warning (s, topic_id, RDT_WARNING_DECRYPT_FAILED, text);
          g_free (text);
          g_free (who);
          g_clear_error (&error);
          continue;
        }
      {
        RdtSessionMessage msg = { 0 };
        gchar *text = g_strcmp0 (m->type, "chat.text") == 0
                      ? display_text (plain) : display_other (m->type, plain);
        msg.topic_id = topic_id;
        msg.message_hash = m->message_hash;
        msg.sender = m->sender;
        msg.type = m->type;
        msg.text = text;
        msg.payload = plain;
        msg.timestamp = m->server_timestamp;
        msg.backlog = backlog;
        msg.own = g_strcmp0 (m->sender, s->member_id) == 0;
        if (!msg.own)
          t->last_foreign_us = g_get_monotonic_time ();
        if (s->cb.message)
          s->cb.message (s, &msg, s->cb_data);
        g_free (text);
        if (g_strcmp0 (m->type, "file.upload") == 0
            || g_strcmp0 (m->type, "chat.image") == 0)
          {
            /* An attachment descriptor holds its file's key in clear text
             * (attachment.h): wipe our copy (no copy is made when nobody
             * else holds one). */
            gsize plen;
            guint8 *pdata = g_bytes_unref_to_data (plain, &plen);

            rdt_wipe (pdata, plen);
            g_free (pdata);
          }
        else
          g_bytes_unref (plain);
      }
    }
  g_ptr_array_unref (ready);

  if (!TOPIC_GONE (s, t)
      && (head = rdt_chain_get_head (t->chain)) != NULL
      && g_strcmp0 (head->message_hash, t->last_head) != 0)
    {
      g_free (t->last_head);
      t->last_head = g_strdup (head->message_hash);
      rdt_message_ref (head);
      if (s->cb.head_changed)
        s->cb.head_changed (s, topic_id, head->message_hash,
                            head->server_timestamp, s->cb_data);
      rdt_message_unref (head);
    }
  topic_unref (t);
  session_unref (s);
}

static void
warn_rejection (RdtSession *s, Topic *t, RdtMessage *m, const GError *error)
{
  gchar *who = rdt_id_short (m && m->sender ? m->sender : "?");
  gchar *text = g_strdup_printf (_("A message from %s failed verification "
                                   "(%s) and is not shown."), who,
                                 error ? error->message : _("unknown reason"));
  emit_warning (s, t->id, RDT_WARNING_VERIFY_FAILED, text);
  g_free (text);
  g_free (who);
}

static gboolean
gap_poll_cb (gpointer data)
{
  TopicOp *op = data;
  Topic *t = topic_op_topic (op);
  if (t)
    {
      t->gap_source = 0;
      session_poll_topic (op->s, t);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_gap_poll (RdtSession *s, Topic *t)
{
  if (t->gap_source || TOPIC_GONE (s, t))
    return;
  t->gap_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 50, gap_poll_cb,
                                      topic_op_new (s, t),
                                      (GDestroyNotify) topic_op_free);
}

/* After a page or a stream message: warn about rejections, deliver. */
static void
ingest_page (RdtSession *s, Topic *t, GPtrArray *msgs, gboolean backlog)
{
  GPtrArray *rejected = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_chain_rejection_free);
  rdt_chain_ingest_page (t->chain, msgs, rejected);
  session_ref (s);
  topic_ref (t);
  for (guint i = 0; i < rejected->len && !TOPIC_GONE (s, t); i++)
    {
      RdtChainRejection *r = g_ptr_array_index (rejected, i);
      warn_rejection (s, t, r->msg, r->error);
    }
  g_ptr_array_unref (rejected);
  deliver_ready (s, t, backlog);   /* returns at once if t is gone */
  topic_unref (t);
  session_unref (s);
}

/* ---- topics ---- */

static gchar *
format_date (gint64 ms)
{
  GDateTime *dt = g_date_time_new_from_unix_utc (ms / 1000);
  gchar *s = dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M UTC")
                : g_strdup (_("an unknown date"));
  if (dt)
    g_date_time_unref (dt);
  return s;
}

static void
warn_pin (RdtSession *s, Topic *t, gboolean rewritten)
{
  gchar *date = format_date (t->pin_ts);
  gchar *h = rdt_id_short (t->pin_hash);
  gchar *text;
  if (rewritten)
    /* Translators: #%s is the topic, then a date and a short message id. */
    text = g_strdup_printf (_("History of #%s was rewritten: the last "
                              "message verified on %s (%s) is no longer part "
                              "of it. Messages shown below are verified "
                              "against the new history only."),
                            t->id, date, h);
  else
    text = g_strdup_printf (_("The last message of #%s verified on %s (%s) "
                              "could not be found in the recent history; it "
                              "may have been rewritten."), t->id, date, h);
  emit_warning (s, t->id, RDT_WARNING_HISTORY_REWRITTEN, text);
  g_free (text);
  g_free (h);
  g_free (date);
}

static void topic_finish_open (RdtSession *s, Topic *t);

static void
pin_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res, NULL,
                                                 &error);
  Topic *t = topic_op_topic (op);

  if (t == NULL)
    goto out;
  if (msgs)
    {
      GPtrArray *older = rdt_chain_ingest_older (t->chain, msgs, NULL);
      gboolean nothing = older == NULL || older->len == 0;
      if (older)
        g_ptr_array_unref (older);
      if (nothing)
        t->pin_pages = RDT_PIN_MAX_PAGES;  /* reached the start / broken */
    }
  else
    t->pin_pages = RDT_PIN_MAX_PAGES;
  topic_finish_open (op->s, t);
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  topic_op_free (op);
}

static void
topic_finish_open (RdtSession *s, Topic *t)
{
  RdtChainPinState pin = rdt_chain_get_pin_state (t->chain);

  if (pin == RDT_CHAIN_PIN_PENDING && t->pin_pages < RDT_PIN_MAX_PAGES
      && rdt_chain_get_anchor (t->chain) != NULL)
    {
      /* Page back (newest first, ending at the oldest we have) until the
       * pin is found or proven gone; these messages are not shown. */
      t->pin_pages++;
      rdt_api_get_messages_async (s->api, t->id,
                                  rdt_chain_get_oldest_timestamp (t->chain),
                                  0, 1000, s->cancel, pin_page_done,
                                  topic_op_new (s, t));
      return;
    }
  t->opening = FALSE;
  t->opened = TRUE;
  session_ref (s);
  topic_ref (t);
  if (pin == RDT_CHAIN_PIN_REWRITTEN)
    warn_pin (s, t, TRUE);
  else if (pin == RDT_CHAIN_PIN_PENDING && t->pin_hash)
    warn_pin (s, t, rdt_chain_get_anchor (t->chain) == NULL);
  deliver_ready (s, t, TRUE);
  if (!TOPIC_GONE (s, t))
    {
      if (rdt_chain_get_n_unlinked (t->chain) > 0)
        schedule_gap_poll (s, t);
      if (s->cb.topic_opened)
        s->cb.topic_opened (s, t->id, NULL, s->cb_data);
    }
  if (!TOPIC_GONE (s, t))
    topic_kick_send (s, t);
  if (!TOPIC_GONE (s, t) && t->poll_again)
    {
      t->poll_again = FALSE;
      session_poll_topic (s, t);
    }
  topic_unref (t);
  session_unref (s);
}

static void
first_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res, NULL,
                                                 &error);
  Topic *t = topic_op_topic (op);
  RdtSession *s = op->s;

  if (t == NULL)
    goto out;
  t->opening = FALSE;
  if (msgs == NULL)
    {
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
          || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_SERVER)
          || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE))
        {
          /* Retried after the reconnect (session_went_live). */
          go_connecting (s, error);
        }
      else
        {
          gchar *id = g_strdup (t->id);
          g_hash_table_remove (s->topics, id);
          if (s->cb.topic_opened)
            s->cb.topic_opened (s, id, error, s->cb_data);
          g_free (id);
        }
      goto out;
    }
  {
    /* Hold back delivery until the pin check is done: ingest without
     * delivering, then finish. */
    GPtrArray *rejected = g_ptr_array_new_with_free_func (
        (GDestroyNotify) rdt_chain_rejection_free);
    rdt_chain_ingest_page (t->chain, msgs, rejected);
    for (guint i = 0; i < rejected->len && !TOPIC_GONE (s, t); i++)
      {
        RdtChainRejection *r = g_ptr_array_index (rejected, i);
        warn_rejection (s, t, r->msg, r->error);
      }
    g_ptr_array_unref (rejected);
  }
  if (topic_op_topic (op) == t)
    topic_finish_open (s, t);
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  topic_op_free (op);
}

static void
topic_fetch_first (RdtSession *s, Topic *t)
{
  if (t->opening || t->opened || s->state != RDT_SESSION_CONNECTED)
    return;
  t->opening = TRUE;
  rdt_api_get_messages_async (s->api, t->id, RDT_NEWEST_TS, 0,
                              CLAMP (t->backlog, 1, 1000), s->cancel,
                              first_page_done, topic_op_new (s, t));
}

void
rdt_session_open_topic (RdtSession *s, const gchar *topic_id, guint backlog)
{
  GError *error = NULL;
  Topic *t;
  gchar *pin;

  if (!rdt_topic_id_validate (topic_id, &error))
    {
      if (s->cb.topic_opened)
        s->cb.topic_opened (s, topic_id, error, s->cb_data);
      g_error_free (error);
      return;
    }
  if (g_hash_table_contains (s->topics, topic_id))
    return;
  t = g_new0 (Topic, 1);
  t->ref_count = 1;
  t->id = g_strdup (topic_id);
  t->chain = rdt_chain_new (s->space_id, topic_id);
  t->backlog = backlog ? backlog : 50;
  g_queue_init (&t->sends);
  pin = g_hash_table_lookup (s->pins, topic_id);
  if (pin)
    {
      gchar **parts = g_strsplit (pin, "\n", 2);
      t->pin_hash = g_strdup (parts[0]);
      t->pin_ts = g_ascii_strtoll (parts[1], NULL, 10);
      rdt_chain_set_pinned_head (t->chain, t->pin_hash, t->pin_ts);
      g_strfreev (parts);
    }
  g_hash_table_insert (s->topics, t->id, t);
  topic_fetch_first (s, t);
}

void
rdt_session_close_topic (RdtSession *s, const gchar *topic_id)
{
  Topic *t = topic_id ? g_hash_table_lookup (s->topics, topic_id) : NULL;
  Send *send;

  if (t == NULL || s->freed)
    return;
  /* Out of the table first: callbacks below see it closed. */
  g_hash_table_steal (s->topics, t->id);
  t->closed = TRUE;
  g_clear_handle_id (&t->gap_source, g_source_remove);
  session_ref (s);
  /* End the queued sends so none is lost silently (no warning: the topic
   * is gone). */
  while (!s->freed && (send = g_queue_pop_head (&t->sends)))
    {
      GError *e = g_error_new (RDT_ERROR, RDT_ERROR_FAILED,
                               _("The topic was closed before the message "
                                 "was sent"));
      if (s->cb.send_done)
        s->cb.send_done (s, send->topic_id, send->id, e, s->cb_data);
      g_error_free (e);
      g_hash_table_replace (s->failed, &send->id, send);
    }
  topic_unref (t);
  session_unref (s);
}

gboolean
rdt_session_topic_is_open (RdtSession *s, const gchar *topic_id)
{
  Topic *t = g_hash_table_lookup (s->topics, topic_id);
  return t != NULL && t->opened;
}

void
rdt_session_set_pinned_head (RdtSession *s, const gchar *topic_id,
                             const gchar *message_hash, gint64 timestamp)
{
  if (topic_id == NULL || message_hash == NULL
      || !rdt_id_is_valid (message_hash, RDT_ID_MESSAGE))
    return;
  g_hash_table_replace (s->pins, g_strdup (topic_id),
                        g_strdup_printf ("%s\n%" G_GINT64_FORMAT,
                                         message_hash, timestamp));
}

gchar *
rdt_session_describe_topic (RdtSession *s, const gchar *topic_id)
{
  Topic *t = g_hash_table_lookup (s->topics, topic_id);
  RdtMessage *head;
  /* Translators: states of a topic's pinned head, shown by /chain. */
  static const gchar *pins[] = { N_("none"), N_("pending"), N_("confirmed"),
                                 N_("REWRITTEN") };
  gchar *h;
  gchar *out;

  if (t == NULL)
    return g_strdup_printf (_("#%s is not open."), topic_id);
  head = rdt_chain_get_head (t->chain);
  h = head ? rdt_id_short (head->message_hash) : g_strdup (_("(empty)"));
  out = g_strdup_printf (_("#%s: head %s, %u verified, %u unlinked, pin %s, "
                           "%u queued"), t->id, h,
                         rdt_chain_get_length (t->chain),
                         rdt_chain_get_n_unlinked (t->chain),
                         _(pins[rdt_chain_get_pin_state (t->chain)]),
                         g_queue_get_length (&t->sends));
  g_free (h);
  return out;
}

/* ---- polling (spec 15.7) ---- */

static void
poll_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  gboolean has_more = FALSE;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res,
                                                 &has_more, &error);
  Topic *t = topic_op_topic (op);
  RdtSession *s = op->s;

  if (t == NULL)
    goto out;
  t->polling = FALSE;
  if (msgs == NULL)
    {
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED)
          || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER))
        {
          /* Token refused even after the api's own re-login: log in
           * again from scratch (a removed member ends there, fatal);
           * the reconnect catches this topic up. */
          rdt_api_clear_token (s->api);
          go_connecting (s, error);
        }
      else if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
               || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_SERVER))
        go_connecting (s, error);
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        emit_warning (s, t->id, RDT_WARNING_CONNECTION, error->message);
      goto out;
    }
  {
    gint64 before = rdt_chain_get_newest_timestamp (t->chain);
    guint unlinked_before = rdt_chain_get_n_unlinked (t->chain);
    ingest_page (s, t, msgs, FALSE);
    if (topic_op_topic (op) != t)
      goto out;
    if (has_more && rdt_chain_get_newest_timestamp (t->chain) > before)
      t->poll_again = TRUE;
    if (rdt_chain_get_n_unlinked (t->chain) > 0)
      {
        if (rdt_chain_get_n_unlinked (t->chain) >= unlinked_before
            && ++t->gap_polls >= 3 && !t->gap_warned)
          {
            t->gap_warned = TRUE;
            emit_warning (s, t->id, RDT_WARNING_CHAIN_BROKEN,
                          _("Some messages of this topic do not link to the "
                            "verified history and are not shown."));
            if (topic_op_topic (op) != t)
              goto out;
          }
        else if (!t->gap_warned)
          /* Ask again soon rather than at the next (slow) safety poll: a
           * gap either fills within a few polls or is reported. */
          schedule_gap_poll (s, t);
      }
    else
      {
        t->gap_polls = 0;
        t->gap_warned = FALSE;
      }
  }
  if (t->poll_again)
    {
      t->poll_again = FALSE;
      session_poll_topic (s, t);
    }
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  topic_op_free (op);
}

static void
session_poll_topic (RdtSession *s, Topic *t)
{
  gint64 from;
  if (s->state != RDT_SESSION_CONNECTED)
    return;
  if (!t->opened)
    {
      /* The history is still loading. A catch-up asked for now (the
       * stream opened meanwhile) runs once it is in: a message posted
       * between the history answer and the stream going live would
       * otherwise wait for the next safety poll. */
      if (t->opening)
        t->poll_again = TRUE;
      return;
    }
  if (t->polling)
    {
      t->poll_again = TRUE;
      return;
    }
  t->polling = TRUE;
  from = rdt_chain_get_newest_timestamp (t->chain);
  rdt_api_get_messages_async (s->api, t->id, from < 0 ? 0 : from, -1, 1000,
                              s->cancel, poll_page_done, topic_op_new (s, t));
}

static gboolean
poll_cb (gpointer data)
{
  RdtSession *s = data;
  GPtrArray *all = topics_snapshot (s);

  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (!TOPIC_GONE (s, t))
        session_poll_topic (s, t);
    }
  g_ptr_array_unref (all);
  return G_SOURCE_CONTINUE;
}

static void
session_reschedule_poll (RdtSession *s)
{
  guint ms = (s->stream && rdt_stream_is_open (s->stream))
             ? s->poll_live_ms : s->poll_down_ms;
  if (s->poll_source && s->poll_source_ms == ms)
    return;
  g_clear_handle_id (&s->poll_source, g_source_remove);
  if (s->state != RDT_SESSION_CONNECTED)
    return;
  s->poll_source_ms = ms;
  s->poll_source = g_timeout_add (ms, poll_cb, s);
}

/* ---- stream (spec 7, 15.10) ---- */

static void on_stream_message_ref (RdtSession *s, RdtMessage *msg);

static void
on_stream_message (RdtStream *stream, RdtMessage *msg, gpointer data)
{
  RdtSession *s = data;

  if (s->freed || msg->topic_id == NULL)
    return;
  /* A callback may free the session (and with it the stream). */
  session_ref (s);
  rdt_message_ref (msg);
  on_stream_message_ref (s, msg);
  rdt_message_unref (msg);
  session_unref (s);
}

static void
on_stream_message_ref (RdtSession *s, RdtMessage *msg)
{
  Topic *t;

  if (strcmp (msg->topic_id, "state") == 0)
    {
      if (s->cb.state_message)
        s->cb.state_message (s, msg->type, msg->message_hash, msg->sender,
                             msg->server_timestamp, s->cb_data);
      return;
    }
  t = g_hash_table_lookup (s->topics, msg->topic_id);
  if (t == NULL)
    {
      if (!g_hash_table_contains (s->seen, msg->topic_id)
          && rdt_topic_id_validate (msg->topic_id, NULL))
        {
          g_hash_table_add (s->seen, g_strdup (msg->topic_id));
          if (s->cb.topic_seen)
            s->cb.topic_seen (s, msg->topic_id, s->cb_data);
        }
      return;
    }
  if (!t->opened)
    return;  /* the first page and the catch-up poll bring it */
  {
    GError *error = NULL;
    RdtChainResult r = rdt_chain_ingest (t->chain, msg, &error);
    topic_ref (t);
    if (r == RDT_CHAIN_REJECTED)
      warn_rejection (s, t, msg, error);
    else if (r == RDT_CHAIN_UNLINKED)
      schedule_gap_poll (s, t);
    else if (r == RDT_CHAIN_FORK)
      emit_warning (s, t->id, RDT_WARNING_CHAIN_BROKEN,
                    _("This topic's history forked (two messages claim the "
                      "same parent); both are shown."));
    g_clear_error (&error);
    deliver_ready (s, t, FALSE);   /* no-op if t is gone */
    topic_unref (t);
  }
}

static void
on_stream_bad_frame (RdtStream *stream, const GError *error, gpointer data)
{
  g_debug ("session: bad stream frame: %s", error->message);
}

static gboolean
stream_retry_cb (gpointer data)
{
  RdtSession *s = data;
  s->stream_source = 0;
  session_stream_connect (s);
  return G_SOURCE_REMOVE;
}

static void
stream_schedule_retry (RdtSession *s)
{
  if (s->stream_source || !s->use_stream || s->freed)
    return;
  s->stream_source = g_timeout_add (next_backoff (s, &s->stream_backoff_cur),
                                    stream_retry_cb, s);
}

static void
on_stream_closed (RdtStream *stream, const GError *error, gpointer data)
{
  RdtSession *s = data;
  if (s->freed)
    return;
  g_debug ("session: stream closed%s%s", error ? ": " : "",
           error ? error->message : "");
  session_reschedule_poll (s);
  if (s->state == RDT_SESSION_CONNECTED)
    {
      poll_cb (s);
      stream_schedule_retry (s);
    }
}

typedef struct {
  RdtSession *s;
  RdtStream  *stream;   /* compared only: may be freed already */
} StreamOp;

static void
stream_connect_done (GObject *src, GAsyncResult *res, gpointer data)
{
  StreamOp *op = data;
  RdtSession *s = op->s;
  GError *error = NULL;
  gboolean ok = FALSE;

  /* A connect of a stream freed since (go_connecting) is stale. */
  if (!s->freed && s->stream && s->stream == op->stream)
    ok = rdt_stream_connect_finish (s->stream, res, &error);
  else
    goto out;
  s->stream_connecting = FALSE;
  if (ok)
    {
      s->stream_backoff_cur = 0;
      session_reschedule_poll (s);
      poll_cb (s);   /* catch up before relying on the stream */
    }
  else if (g_error_matches (error, RDT_API_ERROR,
                            RDT_API_ERROR_UNAUTHORIZED))
    {
      /* Token refused: log in again, then the stream follows. */
      rdt_api_clear_token (s->api);
      g_clear_pointer (&s->stream, rdt_stream_free);
      s->logging_in = FALSE;
      go_connecting (s, NULL);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      session_reschedule_poll (s);
      stream_schedule_retry (s);
    }
out:
  g_clear_error (&error);
  session_unref (s);
  g_free (op);
}

static void
session_stream_connect (RdtSession *s)
{
  if (!s->use_stream || s->freed || s->state != RDT_SESSION_CONNECTED
      || s->stream_connecting)
    return;
  if (s->stream == NULL)
    {
      s->stream = rdt_stream_new (s->api);
      rdt_stream_set_callbacks (s->stream, on_stream_message,
                                on_stream_bad_frame, on_stream_closed, s);
    }
  if (rdt_stream_is_open (s->stream))
    return;
  s->stream_connecting = TRUE;
  {
    StreamOp *op = g_new0 (StreamOp, 1);
    op->s = session_ref (s);
    op->stream = s->stream;
    rdt_stream_connect_async (s->stream, s->cancel, stream_connect_done, op);
  }
}

/* ---- sending (spec 15.9) ---- */

/* A send gives up after this many 409s in a row that did not move the
 * server's head (a head that moves means others make progress, so those
 * conflicts only count towards RDT_SEND_MAX_CONFLICTS). */
#define RDT_SEND_MAX_STUCK     RDT_SEND_MAX_ATTEMPTS
#define RDT_SEND_MAX_CONFLICTS 200

typedef struct {
  TopicOp    *op;
  RdtMessage *msg;
} PostOp;

static void topic_post (RdtSession *s, Topic *t);

static gboolean
send_retry_cb (gpointer data)
{
  TopicOp *op = data;
  if (send_op_send (op))
    topic_post (op->s, op->t);
  return G_SOURCE_REMOVE;
}

static void
send_retry_later (RdtSession *s, Topic *t, guint delay_ms)
{
  g_timeout_add_full (G_PRIORITY_DEFAULT, delay_ms, send_retry_cb,
                      send_op_new (s, t), (GDestroyNotify) topic_op_free);
}

/* End the send in flight; error is wrapped into a user-readable
 * "could not send after N attempts" when posts were made. Callbacks run:
 * the caller checks TOPIC_GONE afterwards. */
static void
send_finish_head (RdtSession *s, Topic *t, const GError *error)
{
  Send *send = g_queue_pop_head (&t->sends);
  t->in_flight = FALSE;
  if (send == NULL)
    return;
  if (error)
    {
      GError *e = send->attempts > 0
        ? g_error_new (error->domain, error->code,
                       g_dngettext (GETTEXT_PACKAGE,
                                    "Could not send after %u attempt: %s",
                                    "Could not send after %u attempts: %s",
                                    send->attempts),
                       send->attempts, error->message)
        : g_error_new (error->domain, error->code, _("Could not send: %s"),
                       error->message);
      emit_send_done (s, send, e);
      g_error_free (e);
    }
  else
    emit_send_done (s, send, error);
  if (error)
    {
      /* A retry is a new send: fresh chain position and counters. */
      send->attempts = send->stuck = 0;
      send->have_prev = FALSE;
      g_clear_pointer (&send->prev, g_free);
      g_hash_table_replace (s->failed, &send->id, send);
    }
  else
    send_free (send);
}

/* The send succeeded; go on with the next one. */
static void
send_succeeded (RdtSession *s, Topic *t)
{
  session_ref (s);
  topic_ref (t);
  send_finish_head (s, t, NULL);
  if (!TOPIC_GONE (s, t))
    topic_kick_send (s, t);
  topic_unref (t);
  session_unref (s);
}

static void
send_failed (RdtSession *s, Topic *t, const GError *error)
{
  session_ref (s);
  topic_ref (t);
  send_finish_head (s, t, error);
  if (!TOPIC_GONE (s, t))
    topic_kick_send (s, t);
  topic_unref (t);
  session_unref (s);
}

/* Whether a post of this send whose answer was lost is in the chain. */
static gboolean
send_already_in_chain (Topic *t, Send *send)
{
  for (guint i = 0; send->maybe_posted && i < send->maybe_posted->len; i++)
    if (rdt_chain_contains (t->chain, g_ptr_array_index (send->maybe_posted,
                                                         i)))
      return TRUE;
  return FALSE;
}

/* Transient trouble while sending: keep the send queued (the reconnect
 * kicks it again) unless it waited too long. */
static void
send_keep_for_reconnect (RdtSession *s, Topic *t, Send *send,
                         const GError *error)
{
  if ((g_get_monotonic_time () - send->queued_us) / 1000
      >= s->send_timeout_ms)
    {
      send_failed (s, t, error);
      return;
    }
  t->in_flight = FALSE;
  if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED))
    rdt_api_clear_token (s->api);   /* refused even after a re-login */
  go_connecting (s, error);
}

static gboolean
is_transient (const GError *error)
{
  return g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_SERVER)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER);
}

/* 409, step 2: the server's newest message is the head to chain on
 * (spec 4.6, 15.9); on a same-millisecond tie it is the one the server
 * expects, even if our chain already has a successor of it. */
static void
newest_fetch_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res, NULL,
                                                 &error);
  Topic *t = op->t;
  RdtSession *s = op->s;
  Send *send = send_op_send (op);

  if (send == NULL)
    goto out;
  if (msgs == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (is_transient (error))
            send_keep_for_reconnect (s, t, send, error);
          else
            send_failed (s, t, error);
        }
      goto out;
    }
  {
    RdtMessage *newest = msgs->len > 0 ? g_ptr_array_index (msgs, 0) : NULL;
    gboolean usable = newest == NULL;

    if (newest && rdt_chain_contains (t->chain, newest->message_hash))
      usable = TRUE;
    else if (newest)
      {
        /* Not seen yet: verify it like any other message. */
        GPtrArray *one = g_ptr_array_new ();
        g_ptr_array_add (one, newest);
        ingest_page (s, t, one, FALSE);
        g_ptr_array_unref (one);
        if (send_op_send (op) != send)
          goto out;
        usable = rdt_chain_contains (t->chain, newest->message_hash)
                 || rdt_chain_get_n_unlinked (t->chain) > 0;
      }
    if (send_already_in_chain (t, send))
      {
        send_succeeded (s, t);   /* a lost answer: it was stored after all */
        goto out;
      }
    if (usable)
      {
        const gchar *h = newest ? newest->message_hash : NULL;
        if (g_strcmp0 (send->used_prev, h) == 0)
          send->stuck++;   /* refused although on the server's head */
        else
          send->stuck = 0;
        g_free (send->prev);
        send->prev = g_strdup (h);
        send->have_prev = TRUE;
      }
    else
      send->stuck++;   /* unverifiable head: keep the local one */
  }
  if (send->stuck >= RDT_SEND_MAX_STUCK
      || send->attempts >= RDT_SEND_MAX_CONFLICTS)
    {
      GError *e = g_error_new (RDT_API_ERROR, RDT_API_ERROR_CONFLICT,
                               _("the topic's history kept changing (chain "
                                 "conflicts)"));
      send_failed (s, t, e);
      g_error_free (e);
      goto out;
    }
  /* Jitter, growing while stuck: avoids same-millisecond ties (spec 4.6). */
  send_retry_later (s, t, g_random_int_range (5, 51) * (send->stuck + 1));
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  topic_op_free (op);
}

/* 409, step 1: page forward to show (verified) what we missed. */
static void
conflict_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  gboolean has_more = FALSE;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res,
                                                 &has_more, &error);
  Topic *t = op->t;
  RdtSession *s = op->s;

  if (send_op_send (op) == NULL)
    goto out;
  if (msgs)
    {
      ingest_page (s, t, msgs, FALSE);
      if (send_op_send (op) == NULL)
        goto out;
      if (has_more)
        session_poll_topic (s, t);   /* the rest follows */
    }
  rdt_api_get_messages_async (s->api, t->id, RDT_NEWEST_TS, 0, 1, s->cancel,
                              newest_fetch_done, send_op_new (s, t));
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  topic_op_free (op);
}

static void
post_done (GObject *src, GAsyncResult *res, gpointer data)
{
  PostOp *p = data;
  GError *error = NULL;
  gint64 ts = rdt_api_post_message_finish (RDT_API (src), res, &error);
  Topic *t = p->op->t;
  RdtSession *s = p->op->s;
  Send *send = send_op_send (p->op);

  if (send == NULL)
    goto out;
  if (error == NULL || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT))
    t->post_rtt_us = g_get_monotonic_time () - t->last_post_us;
  if (error == NULL)
    {
      /* Ingest our own message now; the stream echo is a duplicate. */
      p->msg->server_timestamp = ts;
      rdt_chain_ingest (t->chain, p->msg, NULL);
      deliver_ready (s, t, FALSE);
      if (send_op_send (p->op) != send)
        goto out;
      send_succeeded (s, t);
    }
  else if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT))
    {
      gint64 from = rdt_chain_get_newest_timestamp (t->chain);
      s->n_conflicts++;
      /* Someone else got there first: catch up, then chain on the
       * server's newest message. */
      rdt_api_get_messages_async (s->api, t->id, from < 0 ? 0 : from, -1,
                                  1000, s->cancel, conflict_page_done,
                                  send_op_new (s, t));
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ;
  else if (is_transient (error))
    {
      /* No answer or a server error: it may have been stored anyway.
       * Check by hash before posting again (spec 4.7). A 401 is refused
       * before storing, so it needs no check. */
      if (!g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED)
          && !g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER))
        {
          if (send->maybe_posted == NULL)
            send->maybe_posted = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (send->maybe_posted,
                           g_strdup (p->msg->message_hash));
        }
      send_keep_for_reconnect (s, t, send, error);
    }
  else
    send_failed (s, t, error);
out:
  g_clear_error (&error);
  rdt_message_unref (p->msg);
  topic_op_free (p->op);
  g_free (p);
}

/* GET by hash of a post whose answer was lost. */
static void
lost_check_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  RdtMessage *msg = rdt_api_get_message_finish (RDT_API (src), res, &error);
  Topic *t = op->t;
  RdtSession *s = op->s;
  Send *send = send_op_send (op);

  if (send == NULL || send->maybe_posted == NULL
      || send->maybe_posted->len == 0)
    goto out;
  if (msg)
    {
      /* Verify it and take it into the chain (it may link later). */
      GPtrArray *one = g_ptr_array_new ();
      const gchar *want = g_ptr_array_index (send->maybe_posted,
                                             send->maybe_posted->len - 1);
      gboolean same = g_strcmp0 (msg->message_hash, want) == 0;
      g_ptr_array_add (one, msg);
      if (same)
        ingest_page (s, t, one, FALSE);
      g_ptr_array_unref (one);
      if (send_op_send (op) != send)
        goto out;
      if (same && (rdt_chain_contains (t->chain, want)
                   || rdt_chain_get_n_unlinked (t->chain) > 0))
        {
          if (!rdt_chain_contains (t->chain, want))
            schedule_gap_poll (s, t);
          send_succeeded (s, t);
          goto out;
        }
      /* A different or unverifiable answer: treat as not stored. */
      g_ptr_array_remove_index (send->maybe_posted,
                                send->maybe_posted->len - 1);
      topic_post (s, t);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ;
  else if (is_transient (error))
    send_keep_for_reconnect (s, t, send, error);
  else
    {
      /* 404: that post was never stored; check the next or post again. */
      g_ptr_array_remove_index (send->maybe_posted,
                                send->maybe_posted->len - 1);
      topic_post (s, t);
    }
out:
  g_clear_error (&error);
  if (msg)
    rdt_message_unref (msg);
  topic_op_free (op);
}

static void
topic_post (RdtSession *s, Topic *t)
{
  Send *send = g_queue_peek_head (&t->sends);
  RdtMessage *head, *msg;
  const gchar *prev;
  PostOp *p;
  gint64 now = g_get_monotonic_time ();

  if (send == NULL || s->state != RDT_SESSION_CONNECTED)
    {
      t->in_flight = FALSE;
      return;
    }
  if (send->maybe_posted && send->maybe_posted->len > 0)
    {
      /* An earlier post may have been stored: never post twice. */
      if (send_already_in_chain (t, send))
        {
          send_succeeded (s, t);
          return;
        }
      rdt_api_get_message_async (s->api, t->id,
                                 g_ptr_array_index (send->maybe_posted,
                                                    send->maybe_posted->len - 1),
                                 s->cancel, lost_check_done,
                                 send_op_new (s, t));
      return;
    }
  if (now - t->last_post_us < 2000)
    {
      /* Spec 4.6: never two posts to one topic within ~2 ms. */
      send_retry_later (s, t, 3);
      return;
    }
  /* A burst into a topic others are posting to as well: leave a random
   * gap between our own posts, or whoever needs no catch-up (the last
   * winner) wins every round and the others starve on 409s. A loser needs
   * about three round trips (409, catch-up, head) before it can post
   * again, so the gap scales with our round trip: on a slow link a fixed
   * few milliseconds would never let it in. */
  if (send->attempts == 0 && t->last_post_us > 0 &&
      now - t->last_foreign_us < 2 * G_USEC_PER_SEC &&
      now - t->last_post_us < 20000 + 4 * t->post_rtt_us && !send->yielded)
    {
      gint rtt_ms = (gint) MIN (t->post_rtt_us / 1000, 300);

      send->yielded = TRUE;
      send_retry_later (s, t, g_random_int_range (5, 40) +
                              g_random_int_range (0, 3 * rtt_ms + 1));
      return;
    }
  t->last_post_us = now;
  send->attempts++;
  if (send->have_prev)
    prev = send->prev;   /* the server's head after a 409 */
  else
    {
      head = rdt_chain_get_head (t->chain);
      prev = head ? head->message_hash : NULL;
    }
  g_free (send->used_prev);
  send->used_prev = g_strdup (prev);
  msg = rdt_message_new_signed (s->space_id, t->id, send->type, prev,
                                send->data, s->member_id,
                                rdt_api_get_signing_key (s->api));
  p = g_new0 (PostOp, 1);
  p->op = send_op_new (s, t);
  p->msg = msg;
  rdt_api_post_message_async (s->api, msg, s->cancel, post_done, p);
}

static void
topic_kick_send (RdtSession *s, Topic *t)
{
  if (TOPIC_GONE (s, t))
    return;
  if (t->in_flight || !t->opened || g_queue_is_empty (&t->sends)
      || s->state != RDT_SESSION_CONNECTED)
    {
      /* While not connected, fail sends that waited too long. */
      Send *send;
      session_ref (s);
      topic_ref (t);
      while (!TOPIC_GONE (s, t) && s->state != RDT_SESSION_CONNECTED
             && !t->in_flight
             && (send = g_queue_peek_head (&t->sends)) != NULL
             && (g_get_monotonic_time () - send->queued_us) / 1000
                >= s->send_timeout_ms)
        {
          GError *e = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                                   _("not connected to the server"));
          send_finish_head (s, t, e);
          g_error_free (e);
        }
      topic_unref (t);
      session_unref (s);
      return;
    }
  t->in_flight = TRUE;
  topic_post (s, t);
}

static guint64
queue_send (RdtSession *s, Topic *t, const gchar *type, const guint8 *plain,
            gsize len, GError **error)
{
  Send *send;
  gchar *data;
  guint64 id;

  if (len > RDT_MAX_PLAINTEXT)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("The message is too long (%zu bytes, at most %d)"),
                   len, RDT_MAX_PLAINTEXT);
      return 0;
    }
  data = rdt_payload_encrypt (topic_key (s, t), plain, len);
  if (data == NULL || strlen (data) > RDT_MAX_DATA_CHARS)
    {
      g_free (data);
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("The message is too long"));
      return 0;
    }
  send = g_new0 (Send, 1);
  send->id = s->next_send_id++;
  send->topic_id = g_strdup (t->id);
  send->type = g_strdup (type);
  send->plain = g_memdup2 (plain, len ? len : 1);
  send->plain_len = len;
  send->data = data;
  send->queued_us = g_get_monotonic_time ();
  g_queue_push_tail (&t->sends, send);
  id = send->id;   /* send may be gone after callbacks below */
  session_ref (s);
  topic_kick_send (s, t);
  session_unref (s);
  return id;
}

/* Our own bound on a message type: the server has none (spec 4.4), but
 * '|' would make the hash input ambiguous and control characters have no
 * business there. */
#define RDT_MAX_TYPE_LENGTH 128

static gboolean
type_is_valid (const gchar *type)
{
  gsize len;
  if (type == NULL || (len = strlen (type)) == 0 || len > RDT_MAX_TYPE_LENGTH
      || !g_utf8_validate (type, len, NULL))
    return FALSE;
  for (const gchar *p = type; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f || *p == '|')
      return FALSE;
  return TRUE;
}

guint64
rdt_session_send_payload (RdtSession *s, const gchar *topic_id,
                          const gchar *type, const guint8 *plaintext,
                          gsize len, GError **error)
{
  Topic *t = topic_id ? g_hash_table_lookup (s->topics, topic_id) : NULL;

  if (t == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("The topic is not open"));
      return 0;
    }
  if (!type_is_valid (type))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("The message type is not valid"));
      return 0;
    }
  if (plaintext == NULL && len > 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("The message has no content"));
      return 0;
    }
  return queue_send (s, t, type, plaintext, len, error);
}

guint64
rdt_session_send_text (RdtSession *s, const gchar *topic_id,
                       const gchar *text, GError **error)
{
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("The message is not valid text"));
      return 0;
    }
  return rdt_session_send_payload (s, topic_id, "chat.text",
                                   (const guint8 *) text, strlen (text),
                                   error);
}

guint64
rdt_session_retry_send (RdtSession *s, guint64 send_id, GError **error)
{
  gint64 key = (gint64) send_id;
  Send *old = g_hash_table_lookup (s->failed, &key);
  Topic *t;
  guint64 id;

  if (old == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("There is no failed message with this id"));
      return 0;
    }
  t = g_hash_table_lookup (s->topics, old->topic_id);
  if (t == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("The topic is not open"));
      return 0;
    }
  session_ref (s);
  id = queue_send (s, t, old->type, old->plain, old->plain_len, error);
  if (id && !s->freed)
    g_hash_table_remove (s->failed, &key);
  session_unref (s);
  return id;
}
