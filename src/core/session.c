/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session.c - one member in one space: object life, login,
 * reconnecting with backoff (spec 6, 15).
 * See session.h for the guarantees, session-private.h for the
 * lifetime rules. */
#include "config.h"
#include "session-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include "error.h"
#include "id.h"

static void session_login (RdtSession *s);
static void on_network_changed (GNetworkMonitor *monitor, gboolean available,
                                gpointer data);
static void session_fail_all_sends (RdtSession *s, const GError *error);

RdtSession *
rdt_session_ref (RdtSession *s)
{
  s->ref_count++;
  return s;
}

void
rdt_send_free (Send *send)
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

Topic *
rdt_topic_ref (Topic *t)
{
  t->ref_count++;
  return t;
}

void
rdt_topic_unref (Topic *t)
{
  Send *send;
  if (--t->ref_count > 0)
    return;
  g_clear_pointer (&t->chain, rdt_chain_free);
  if (t->key)
    rdt_secret_free (t->key);
  while ((send = g_queue_pop_head (&t->sends)))
    rdt_send_free (send);
  g_clear_pointer (&t->unshown, g_ptr_array_unref);
  g_free (t->pin_hash);
  g_free (t->marker_hash);
  g_free (t->gap_want);
  g_clear_pointer (&t->gap_older, g_ptr_array_unref);
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
  rdt_topic_unref (t);
}

void
rdt_session_unref (RdtSession *s)
{
  if (--s->ref_count > 0)
    return;
  g_hash_table_destroy (s->topics);
  g_hash_table_destroy (s->pins);
  g_hash_table_destroy (s->markers);
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

TopicOp *
rdt_topic_op_new (RdtSession *s, Topic *t)
{
  TopicOp *op = g_new0 (TopicOp, 1);
  op->s = rdt_session_ref (s);
  op->t = rdt_topic_ref (t);
  return op;
}

/* Returns the topic if the op is still relevant. */
Topic *
rdt_topic_op_topic (TopicOp *op)
{
  return TOPIC_GONE (op->s, op->t) ? NULL : op->t;
}

void
rdt_topic_op_free (TopicOp *op)
{
  rdt_topic_unref (op->t);
  rdt_session_unref (op->s);
  g_free (op);
}

/* A step of the send at the head of t's queue. */
TopicOp *
rdt_send_op_new (RdtSession *s, Topic *t)
{
  TopicOp *op = rdt_topic_op_new (s, t);
  Send *send = g_queue_peek_head (&t->sends);
  op->send_id = send ? send->id : 0;
  return op;
}

/* The send of a sending step if it is still the one in flight (it may
 * have been ended meanwhile by a disconnect, a fatal login, a timeout). */
Send *
rdt_send_op_send (TopicOp *op)
{
  Topic *t = rdt_topic_op_topic (op);
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
  /* Error texts are the server's sanitized detail or ours: no secrets. */
  g_info ("session %s: %s%s%s%s", s->space_id,
          state == RDT_SESSION_CONNECTED ? "connected"
          : state == RDT_SESSION_CONNECTING ? "connecting"
          : "disconnected",
          fatal ? " for good" : "",
          error ? ": " : "", error ? error->message : "");
  if (s->cb.state_changed)
    s->cb.state_changed (s, state, error, fatal, s->cb_data);
}

void
rdt_session_emit_warning (RdtSession *s, const gchar *topic_id, RdtWarningKind kind,
              const gchar *text)
{
  g_info ("session: warning %d in topic %s", kind, topic_id);
  if (s->cb.warning)
    s->cb.warning (s, topic_id, kind, text, s->cb_data);
}

void
rdt_session_emit_send_done (RdtSession *s, Send *send, const GError *error)
{
  if (error)
    {
      /* Translators: must be the start of the translations of "Could not
       * send: %s" and "Could not send after %u attempts: %s". */
      gchar *text = g_str_has_prefix (error->message, _("Could not send"))
                    ? g_strdup (error->message)
                    : g_strdup_printf (_("Could not send: %s"),
                                       error->message);
      rdt_session_emit_warning (s, send->topic_id, RDT_WARNING_SEND_FAILED, text);
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
  s->probe_ms = 2000;
  /* A network that comes back (or changes) is worth a try at once. */
  s->netmon = g_object_ref (g_network_monitor_get_default ());
  s->netmon_id = g_signal_connect (s->netmon, "network-changed",
                                   G_CALLBACK (on_network_changed), s);
  s->next_send_id = 1;
  s->topics = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                     (GDestroyNotify) topic_close);
  s->pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->markers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      g_free);
  s->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->failed = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                     (GDestroyNotify) rdt_send_free);
  return s;
}

void
rdt_session_stop (RdtSession *s)
{
  GHashTableIter it;
  Topic *t;

  g_clear_handle_id (&s->login_source, g_source_remove);
  g_clear_handle_id (&s->relogin_source, g_source_remove);
  g_clear_handle_id (&s->poll_source, g_source_remove);
  g_clear_handle_id (&s->stream_source, g_source_remove);
  g_clear_handle_id (&s->probe_source, g_source_remove);
  s->probing = FALSE;
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
  g_clear_signal_handler (&s->netmon_id, s->netmon);
  g_clear_object (&s->netmon);
  rdt_session_stop (s);
  g_cancellable_cancel (s->cancel);
  if (s->keys)
    {
      rdt_space_keys_free (s->keys);
      s->keys = NULL;
    }
  g_hash_table_remove_all (s->topics);
  g_hash_table_remove_all (s->failed);
  rdt_session_unref (s);
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
    rdt_session_reschedule_poll (s);
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

void
rdt_session_get_reconnect_stats (RdtSession *s, guint *n_login_tries,
                                 guint *n_probes)
{
  if (n_login_tries)
    *n_login_tries = s->n_login_tries;
  if (n_probes)
    *n_probes = s->n_probes;
}

/* Refs to the open topics, so that callbacks emitted while walking them
 * can close topics or free the session (free with topics_unref). */
GPtrArray *
rdt_session_topics_snapshot (RdtSession *s)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_topic_unref);
  GHashTableIter it;
  Topic *t;

  g_hash_table_iter_init (&it, s->topics);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &t))
    g_ptr_array_add (all, rdt_topic_ref (t));
  return all;
}

/* End every queued send of t with error (they can be retried). */
void
rdt_topic_fail_sends (RdtSession *s, Topic *t, const GError *error)
{
  Send *send;
  while (!s->freed && (send = g_queue_pop_head (&t->sends)))
    {
      rdt_session_emit_send_done (s, send, error);
      g_hash_table_replace (s->failed, &send->id, send);
    }
}

/* ---- backoff ---- */

guint
rdt_session_next_backoff (RdtSession *s, guint *cur)
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
  rdt_session_ref (s);
  /* Fail sends that waited too long while we were away. */
  all = rdt_session_topics_snapshot (s);
  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (!TOPIC_GONE (s, t))
        rdt_topic_kick_send (s, t);
    }
  g_ptr_array_unref (all);
  if (!s->freed && s->want_connected)
    session_login (s);
  rdt_session_unref (s);
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
  g_debug ("session: token renewal in %" G_GINT64_FORMAT " s", delay / 1000);
  s->relogin_source = g_timeout_add ((guint) delay, relogin_cb, s);
}

/* ---- reconnecting ---- */

/* While the server gives no answer at all (refused, unreachable, timed
 * out), the next login waits out its backoff, but a GET /health every
 * probe_ms (no auth, a few bytes; spec 13) notices at once that the server
 * is back, and the login runs then. A server that answers, even with an
 * error, only gets the backoff's logins: nothing hammers it. */
static gboolean probe_cb (gpointer data);

static void
schedule_probe (RdtSession *s)
{
  guint ms;

  g_clear_handle_id (&s->probe_source, g_source_remove);
  if (s->probe_ms == 0 || s->login_source == 0)
    return;
  /* jitter (3/4 to 5/4): many clients of one server do not probe in step */
  ms = s->probe_ms * 3 / 4 + g_random_int_range (0, s->probe_ms / 2 + 1);
  if (g_get_monotonic_time () + (gint64) ms * 1000 >= s->next_try_us)
    return;   /* the login itself comes first */
  s->probe_source = g_timeout_add (MAX (ms, 1), probe_cb, s);
}

static void
probe_done (GObject *src, GAsyncResult *res, gpointer data)
{
  RdtSession *s = data;
  GError *error = NULL;
  gint64 ts = rdt_api_health_finish (RDT_API (src), res, &error);

  if (s->freed || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    goto out;
  s->probing = FALSE;
  if (s->login_source == 0 || s->logging_in || !s->want_connected)
    goto out;   /* a login started meanwhile */
  if (ts >= 0 || !g_error_matches (error, RDT_API_ERROR,
                                   RDT_API_ERROR_NETWORK))
    {
      g_info ("session: probe: the server answers again; logging in now");
      session_login (s);
    }
  else
    {
      g_debug ("session: probe: no answer yet (%s)", error->message);
      schedule_probe (s);
    }
out:
  g_clear_error (&error);
  rdt_session_unref (s);
}

static gboolean
probe_cb (gpointer data)
{
  RdtSession *s = data;

  s->probe_source = 0;
  if (s->probing || s->logging_in || s->login_source == 0)
    return G_SOURCE_REMOVE;
  s->probing = TRUE;
  s->n_probes++;
  g_debug ("session: probing the server (GET /health)");
  rdt_api_health_async (s->api, s->cancel, probe_done, rdt_session_ref (s));
  return G_SOURCE_REMOVE;
}

void
rdt_session_go_connecting (RdtSession *s, const GError *error)
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
  if (!s->logging_in && !s->login_source)
    {
      /* Scheduled before the report, so that it can say when. */
      guint delay = rdt_session_next_backoff (s, &s->backoff_cur);

      s->next_try_us = g_get_monotonic_time () + (gint64) delay * 1000;
      s->login_source = g_timeout_add (delay, login_timeout_cb, s);
      g_info ("session: retrying the login in %u ms (%s)", delay,
              error ? error->message : "the server refused the token");
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK))
        schedule_probe (s);
    }
  emit_state (s, RDT_SESSION_CONNECTING, error, FALSE);
}

gint64
rdt_session_get_next_try (RdtSession *s)
{
  gint64 left;

  if (s->freed || s->login_source == 0)
    return -1;
  left = (s->next_try_us - g_get_monotonic_time ()) / 1000;
  return MAX (left, 0);
}

gboolean
rdt_session_is_probing (RdtSession *s)
{
  return !s->freed && s->login_source != 0
         && (s->probe_source != 0 || s->probing);
}

gboolean
rdt_session_reconnect_now (RdtSession *s)
{
  if (s->freed || !s->want_connected)
    return FALSE;
  g_info ("session: reconnecting now, as asked");
  if (s->state == RDT_SESSION_CONNECTING)
    {
      if (s->logging_in)
        return FALSE;   /* trying already */
      session_login (s);
      return TRUE;
    }
  if (s->state == RDT_SESSION_CONNECTED && s->use_stream
      && !s->stream_connecting && !(s->stream && rdt_stream_is_open (s->stream)))
    {
      /* Logged in, but the stream is down: try it now, and catch up. */
      g_clear_handle_id (&s->stream_source, g_source_remove);
      s->stream_backoff_cur = 0;
      rdt_session_stream_connect (s);
      rdt_session_poll_all (s);
      return TRUE;
    }
  return FALSE;
}

void
rdt_session_network_changed (RdtSession *s, gboolean available)
{
  if (s->freed || !available)
    return;
  g_info ("session: the network changed");
  rdt_session_reconnect_now (s);
}

static void
on_network_changed (GNetworkMonitor *monitor, gboolean available,
                    gpointer data)
{
  rdt_session_network_changed (data, available);
}

void
rdt_session_set_probe_interval (RdtSession *s, guint ms)
{
  s->probe_ms = ms;
  if (ms == 0)
    g_clear_handle_id (&s->probe_source, g_source_remove);
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
    rdt_session_stream_connect (s);
  rdt_session_reschedule_poll (s);
  /* Catch up every topic before relying on the stream; open waiting ones. */
  all = rdt_session_topics_snapshot (s);
  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (TOPIC_GONE (s, t) || s->state != RDT_SESSION_CONNECTED)
        continue;
      if (!t->opened)
        rdt_topic_fetch_first (s, t);
      else
        {
          rdt_topic_poll (s, t);
          rdt_topic_kick_send (s, t);
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
      g_info ("session: logged in as %s", s->member_id);
      session_went_live (s);
    }
  else if (is_fatal (error))
    {
      g_info ("session: login refused: %s", error->message);
      /* Stop everything (cancels requests still waiting for a token). */
      rdt_session_stop (s);
      s->want_connected = FALSE;
      emit_state (s, RDT_SESSION_DISCONNECTED, error, TRUE);
      /* Nothing queued can be sent until the user reconnects. */
      if (!s->freed && !s->want_connected)
        session_fail_all_sends (s, error);
    }
  else
    {
      g_info ("session: login failed: %s", error->message);
      rdt_session_go_connecting (s, error);
    }
out:
  g_clear_error (&error);
  rdt_session_unref (s);
}

static void
session_login (RdtSession *s)
{
  if (s->logging_in || s->freed)
    return;
  g_clear_handle_id (&s->login_source, g_source_remove);
  g_clear_handle_id (&s->probe_source, g_source_remove);
  s->logging_in = TRUE;
  s->n_login_tries++;
  g_info ("session: logging in to %s (try %u)",
          rdt_api_get_base_url (s->api), s->n_login_tries);
  rdt_api_authenticate_async (s->api, s->cancel, login_done, rdt_session_ref (s));
}

void
rdt_session_connect (RdtSession *s)
{
  if (s->want_connected || s->freed)
    return;
  g_info ("session %s: connecting to %s as %s", s->space_id,
          rdt_api_get_base_url (s->api), s->member_id);
  s->want_connected = TRUE;
  s->backoff_cur = 0;
  s->stream_backoff_cur = 0;
  rdt_session_ref (s);
  emit_state (s, RDT_SESSION_CONNECTING, NULL, FALSE);
  if (!s->freed && s->want_connected)
    session_login (s);
  rdt_session_unref (s);
}

/* Queued sends cannot go anywhere now: end them so nothing is lost
 * silently (they can be retried). */
static void
session_fail_all_sends (RdtSession *s, const GError *error)
{
  GPtrArray *all = rdt_session_topics_snapshot (s);
  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (!TOPIC_GONE (s, t))
        rdt_topic_fail_sends (s, t, error);
    }
  g_ptr_array_unref (all);
}

void
rdt_session_disconnect (RdtSession *s)
{
  GError *e;

  if (s->freed)
    return;
  g_info ("session: disconnecting, as asked");
  s->want_connected = FALSE;
  rdt_session_stop (s);
  rdt_session_ref (s);
  e = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                   _("Disconnected before the message was sent"));
  session_fail_all_sends (s, e);
  g_error_free (e);
  if (!s->freed && !s->want_connected)
    emit_state (s, RDT_SESSION_DISCONNECTED, NULL, FALSE);
  rdt_session_unref (s);
}

