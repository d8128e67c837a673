/* session.c - one member in one space: login lifecycle, topics, polling,
 * sending (spec 15). See session.h for the guarantees.
 *
 * Lifetime: every async operation holds a ref on the session; the public
 * rdt_session_free() marks it freed, cancels everything, removes timers and
 * drops the caller's ref. Completion handlers check `freed` first and never
 * run a callback afterwards.
 */
#include "config.h"
#include "session.h"

#include <string.h>
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
  gchar   *text;
  gchar   *data;       /* encrypted once, reused across retries */
  guint    attempts;
  gint64   queued_us;  /* monotonic */
} Send;

typedef struct {
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
  if (send->text)
    rdt_wipe (send->text, strlen (send->text));
  g_free (send->text);
  g_free (send->data);
  g_free (send);
}

static void
topic_free (Topic *t)
{
  Send *send;
  g_clear_handle_id (&t->gap_source, g_source_remove);
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
      gchar *text = g_strdup_printf ("A message could not be sent: %s",
                                     error->message);
      emit_warning (s, send->topic_id, RDT_WARNING_SEND_FAILED, text);
      g_free (text);
    }
  if (s->cb.send_done)
    s->cb.send_done (s, send->topic_id, send->id, error, s->cb_data);
}

/* ---- construction ---- */

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
                   "The crypto library could not be initialised");
      return NULL;
    }
  if (space_id == NULL || !rdt_id_decode_typed (space_id, RDT_ID_SPACE,
                                                raw, error))
    {
      if (error && *error == NULL)
        g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                     "Missing space id");
      return NULL;
    }
  key = rdt_signing_key_new_from_seed (seed);
  if (key == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                   "The signing key is not valid");
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
  s->poll_live_ms = 30000;
  s->poll_down_ms = 5000;
  s->backoff_initial = 1000;
  s->backoff_max = 60000;
  s->send_timeout_ms = 120000;
  s->next_send_id = 1;
  s->topics = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                     (GDestroyNotify) topic_free);
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

static gboolean
is_fatal (const GError *error)
{
  return g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN)
      || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
}

static gboolean
login_timeout_cb (gpointer data)
{
  RdtSession *s = data;
  GHashTableIter it;
  Topic *t;
  GList *ids = NULL;

  s->login_source = 0;
  /* Fail sends that waited too long while we were away. */
  g_hash_table_iter_init (&it, s->topics);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &t))
    ids = g_list_prepend (ids, g_strdup (t->id));
  for (GList *l = ids; l && !s->freed; l = l->next)
    if ((t = g_hash_table_lookup (s->topics, l->data)))
      topic_kick_send (s, t);
  g_list_free_full (ids, g_free);
  session_login (s);
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
  GHashTableIter it;
  Topic *t;

  emit_state (s, RDT_SESSION_CONNECTED, NULL, FALSE);
  schedule_relogin (s);
  if (s->use_stream && !s->stream && !s->stream_source)
    session_stream_connect (s);
  session_reschedule_poll (s);
  /* Catch up every topic before relying on the stream; open waiting ones. */
  g_hash_table_iter_init (&it, s->topics);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &t))
    {
      if (!t->opened)
        topic_fetch_first (s, t);
      else
        {
          session_poll_topic (s, t);
          topic_kick_send (s, t);
        }
    }
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
      g_clear_handle_id (&s->poll_source, g_source_remove);
      g_clear_handle_id (&s->relogin_source, g_source_remove);
      g_clear_pointer (&s->stream, rdt_stream_free);
      s->want_connected = FALSE;
      emit_state (s, RDT_SESSION_DISCONNECTED, error, TRUE);
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
  if (s->want_connected)
    return;
  s->want_connected = TRUE;
  s->backoff_cur = 0;
  s->stream_backoff_cur = 0;
  emit_state (s, RDT_SESSION_CONNECTING, NULL, FALSE);
  session_login (s);
}

void
rdt_session_disconnect (RdtSession *s)
{
  GHashTableIter it;
  Topic *t;

  s->want_connected = FALSE;
  session_stop (s);
  /* Queued sends cannot go anywhere now: end them so nothing is lost
   * silently (they can be retried). */
  g_hash_table_iter_init (&it, s->topics);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &t))
    {
      Send *send;
      while ((send = g_queue_pop_head (&t->sends)))
        {
          GError *e = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                                   "Disconnected before the message was sent");
          emit_send_done (s, send, e);
          g_error_free (e);
          g_hash_table_replace (s->failed, &send->id, send);
          if (s->freed)
            return;
        }
    }
  emit_state (s, RDT_SESSION_DISCONNECTED, NULL, FALSE);
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
  GPtrArray *ready = rdt_chain_take_ready (t->chain);
  RdtMessage *head;
  gchar *topic_id = g_strdup (t->id);

  session_ref (s);
  for (guint i = 0; i < ready->len && !s->freed; i++)
    {
      RdtMessage *m = g_ptr_array_index (ready, i);
      GError *error = NULL;
      GBytes *plain;

      if (g_hash_table_lookup (s->topics, topic_id) != t)
        break;  /* closed from inside a callback */
      plain = rdt_payload_decrypt (topic_key (s, t), m->data, &error);
      if (plain == NULL)
        {
          gchar *who = rdt_id_short (m->sender);
          gchar *text = g_strdup_printf ("A message from %s could not be "
                                         "decrypted (%s) and is not shown.",
                                         who, error->message);
          emit_warning (s, topic_id, RDT_WARNING_DECRYPT_FAILED, text);
          g_free (text);
          g_free (who);
          g_clear_error (&error);
          continue;
        }
      {
        RdtSessionMessage msg = { 0 };
        gchar *text = display_text (plain);
        msg.topic_id = topic_id;
        msg.message_hash = m->message_hash;
        msg.sender = m->sender;
        msg.type = m->type;
        msg.text = text;
        msg.payload = plain;
        msg.timestamp = m->server_timestamp;
        msg.backlog = backlog;
        msg.own = g_strcmp0 (m->sender, s->member_id) == 0;
        if (s->cb.message)
          s->cb.message (s, &msg, s->cb_data);
        g_free (text);
        g_bytes_unref (plain);
      }
    }
  g_ptr_array_unref (ready);

  if (!s->freed && g_hash_table_lookup (s->topics, topic_id) == t
      && (head = rdt_chain_get_head (t->chain)) != NULL
      && g_strcmp0 (head->message_hash, t->last_head) != 0)
    {
      g_free (t->last_head);
      t->last_head = g_strdup (head->message_hash);
      if (s->cb.head_changed)
        s->cb.head_changed (s, topic_id, head->message_hash,
                            head->server_timestamp, s->cb_data);
    }
  g_free (topic_id);
  session_unref (s);
}

static void
warn_rejection (RdtSession *s, Topic *t, RdtMessage *m, const GError *error)
{
  gchar *who = rdt_id_short (m && m->sender ? m->sender : "?");
  gchar *text = g_strdup_printf ("A message from %s failed verification "
                                 "(%s) and is not shown.", who,
                                 error ? error->message : "unknown reason");
  emit_warning (s, t->id, RDT_WARNING_VERIFY_FAILED, text);
  g_free (text);
  g_free (who);
}

typedef struct {
  RdtSession *s;
  gchar      *topic_id;
} GapData;

static gboolean
gap_poll_cb (gpointer data)
{
  GapData *g = data;
  Topic *t = g_hash_table_lookup (g->s->topics, g->topic_id);
  if (t)
    {
      t->gap_source = 0;
      session_poll_topic (g->s, t);
    }
  return G_SOURCE_REMOVE;
}

static void
gap_data_free (gpointer data)
{
  GapData *g = data;
  g_free (g->topic_id);
  g_free (g);
}

static void
schedule_gap_poll (RdtSession *s, Topic *t)
{
  GapData *g;
  if (t->gap_source)
    return;
  g = g_new0 (GapData, 1);
  g->s = s;   /* the source is removed before the session goes away */
  g->topic_id = g_strdup (t->id);
  t->gap_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 50, gap_poll_cb, g,
                                      gap_data_free);
}

/* After a page or a stream message: warn about rejections, deliver. */
static void
ingest_page (RdtSession *s, Topic *t, GPtrArray *msgs, gboolean backlog)
{
  GPtrArray *rejected = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_chain_rejection_free);
  rdt_chain_ingest_page (t->chain, msgs, rejected);
  for (guint i = 0; i < rejected->len; i++)
    {
      RdtChainRejection *r = g_ptr_array_index (rejected, i);
      warn_rejection (s, t, r->msg, r->error);
    }
  g_ptr_array_unref (rejected);
  deliver_ready (s, t, backlog);
}

/* ---- topics ---- */

static gchar *
format_date (gint64 ms)
{
  GDateTime *dt = g_date_time_new_from_unix_utc (ms / 1000);
  gchar *s = dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M UTC")
                : g_strdup ("an unknown date");
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
    text = g_strdup_printf ("History of #%s was rewritten: the last message "
                            "verified on %s (%s) is no longer part of it. "
                            "Messages shown below are verified against the "
                            "new history only.", t->id, date, h);
  else
    text = g_strdup_printf ("The last message of #%s verified on %s (%s) "
                            "could not be found in the recent history; it "
                            "may have been rewritten.", t->id, date, h);
  emit_warning (s, t->id, RDT_WARNING_HISTORY_REWRITTEN, text);
  g_free (text);
  g_free (h);
  g_free (date);
}

typedef struct {
  RdtSession *s;
  gchar      *topic_id;
  Topic      *t;        /* valid only if still in the table */
} TopicOp;

static TopicOp *
topic_op_new (RdtSession *s, Topic *t)
{
  TopicOp *op = g_new0 (TopicOp, 1);
  op->s = session_ref (s);
  op->topic_id = g_strdup (t->id);
  op->t = t;
  return op;
}

/* Returns the topic if the op is still relevant. */
static Topic *
topic_op_topic (TopicOp *op)
{
  Topic *t;
  if (op->s->freed)
    return NULL;
  t = g_hash_table_lookup (op->s->topics, op->topic_id);
  return t == op->t ? t : NULL;
}

static void
topic_op_free (TopicOp *op)
{
  session_unref (op->s);
  g_free (op->topic_id);
  g_free (op);
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
  if (pin == RDT_CHAIN_PIN_REWRITTEN)
    warn_pin (s, t, TRUE);
  else if (pin == RDT_CHAIN_PIN_PENDING && t->pin_hash)
    warn_pin (s, t, rdt_chain_get_anchor (t->chain) == NULL);
  if (s->freed)
    return;
  deliver_ready (s, t, TRUE);
  if (s->freed || g_hash_table_lookup (s->topics, t->id) != t)
    return;
  if (rdt_chain_get_n_unlinked (t->chain) > 0)
    schedule_gap_poll (s, t);
  if (s->cb.topic_opened)
    s->cb.topic_opened (s, t->id, NULL, s->cb_data);
  if (!s->freed && g_hash_table_lookup (s->topics, t->id) == t)
    topic_kick_send (s, t);
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
    for (guint i = 0; i < rejected->len && !s->freed; i++)
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
  Topic *t = g_hash_table_lookup (s->topics, topic_id);
  Send *send;

  if (t == NULL)
    return;
  g_hash_table_steal (s->topics, topic_id);
  /* End the queued sends so none is lost silently. */
  while ((send = g_queue_pop_head (&t->sends)))
    {
      GError *e = g_error_new (RDT_ERROR, RDT_ERROR_FAILED,
                               "The topic was closed before the message "
                               "was sent");
      if (s->cb.send_done)
        s->cb.send_done (s, send->topic_id, send->id, e, s->cb_data);
      g_error_free (e);
      g_hash_table_replace (s->failed, &send->id, send);
    }
  topic_free (t);
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
  static const gchar *pins[] = { "none", "pending", "confirmed", "REWRITTEN" };
  gchar *h;
  gchar *out;

  if (t == NULL)
    return g_strdup_printf ("#%s is not open.", topic_id);
  head = rdt_chain_get_head (t->chain);
  h = head ? rdt_id_short (head->message_hash) : g_strdup ("(empty)");
  out = g_strdup_printf ("#%s: head %s, %u verified, %u unlinked, pin %s, "
                         "%u queued", t->id, h,
                         rdt_chain_get_length (t->chain),
                         rdt_chain_get_n_unlinked (t->chain),
                         pins[rdt_chain_get_pin_state (t->chain)],
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
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
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
                          "Some messages of this topic do not link to the "
                          "verified history and are not shown.");
          }
      }
    else
      {
        t->gap_polls = 0;
        t->gap_warned = FALSE;
      }
  }
  if (t->poll_again && !s->freed)
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
  if (!t->opened || s->state != RDT_SESSION_CONNECTED)
    return;
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
  GHashTableIter it;
  Topic *t;
  GList *ids = NULL;

  g_hash_table_iter_init (&it, s->topics);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &t))
    ids = g_list_prepend (ids, g_strdup (t->id));
  for (GList *l = ids; l; l = l->next)
    if ((t = g_hash_table_lookup (s->topics, l->data)))
      session_poll_topic (s, t);
  g_list_free_full (ids, g_free);
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

static void
on_stream_message (RdtStream *stream, RdtMessage *msg, gpointer data)
{
  RdtSession *s = data;
  Topic *t;

  if (s->freed || msg->topic_id == NULL)
    return;
  t = g_hash_table_lookup (s->topics, msg->topic_id);
  if (t == NULL)
    {
      if (strcmp (msg->topic_id, "state") != 0
          && !g_hash_table_contains (s->seen, msg->topic_id)
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
    if (r == RDT_CHAIN_REJECTED)
      warn_rejection (s, t, msg, error);
    else if (r == RDT_CHAIN_UNLINKED)
      schedule_gap_poll (s, t);
    else if (r == RDT_CHAIN_FORK)
      emit_warning (s, t->id, RDT_WARNING_CHAIN_BROKEN,
                    "This topic's history forked (two messages claim the "
                    "same parent); both are shown.");
    g_clear_error (&error);
    if (!s->freed && g_hash_table_lookup (s->topics, msg->topic_id) == t)
      deliver_ready (s, t, FALSE);
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

typedef struct {
  TopicOp    *op;
  RdtMessage *msg;
} PostOp;

static void topic_post (RdtSession *s, Topic *t);

static gboolean
send_retry_cb (gpointer data)
{
  TopicOp *op = data;
  Topic *t = topic_op_topic (op);
  if (t)
    topic_post (op->s, t);
  return G_SOURCE_REMOVE;
}

static void
send_finish_head (RdtSession *s, Topic *t, const GError *error)
{
  Send *send = g_queue_pop_head (&t->sends);
  t->in_flight = FALSE;
  if (send == NULL)
    return;
  emit_send_done (s, send, error);
  if (error)
    g_hash_table_replace (s->failed, &send->id, send);
  else
    send_free (send);
}

static void
head_fetch_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res, NULL,
                                                 &error);
  Topic *t = topic_op_topic (op);

  if (t)
    {
      Send *send = g_queue_peek_head (&t->sends);
      if (msgs)
        ingest_page (op->s, t, msgs, FALSE);
      if (!op->s->freed && topic_op_topic (op) == t && send)
        {
          guint delay = g_random_int_range (5, 51) * send->attempts;
          g_timeout_add_full (G_PRIORITY_DEFAULT, delay, send_retry_cb,
                              topic_op_new (op->s, t),
                              (GDestroyNotify) topic_op_free);
        }
    }
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
  Topic *t = topic_op_topic (p->op);
  RdtSession *s = p->op->s;
  Send *send;

  if (t == NULL || (send = g_queue_peek_head (&t->sends)) == NULL)
    goto out;
  if (error == NULL)
    {
      /* Ingest our own message now; the stream echo is a duplicate. */
      p->msg->server_timestamp = ts;
      rdt_chain_ingest (t->chain, p->msg, NULL);
      deliver_ready (s, t, FALSE);
      if (s->freed || topic_op_topic (p->op) != t)
        goto out;
      send_finish_head (s, t, NULL);
      if (!s->freed && topic_op_topic (p->op) == t)
        topic_kick_send (s, t);
    }
  else if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT)
           && send->attempts < RDT_SEND_MAX_ATTEMPTS)
    {
      s->n_conflicts++;
      /* Someone else got there first: page forward to the server's head. */
      gint64 from = rdt_chain_get_newest_timestamp (t->chain);
      rdt_api_get_messages_async (s->api, t->id, from < 0 ? 0 : from, -1,
                                  1000, s->cancel, head_fetch_done,
                                  topic_op_new (s, t));
    }
  else if ((g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
            || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_SERVER))
           && (g_get_monotonic_time () - send->queued_us) / 1000
              < s->send_timeout_ms)
    {
      /* Keep it queued; the reconnect kicks it again. */
      t->in_flight = FALSE;
      send->attempts = 0;
      go_connecting (s, error);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      send_finish_head (s, t, error);
      if (!s->freed && topic_op_topic (p->op) == t)
        topic_kick_send (s, t);
    }
out:
  g_clear_error (&error);
  rdt_message_unref (p->msg);
  topic_op_free (p->op);
  g_free (p);
}

static void
topic_post (RdtSession *s, Topic *t)
{
  Send *send = g_queue_peek_head (&t->sends);
  RdtMessage *head, *msg;
  PostOp *p;
  gint64 now = g_get_monotonic_time ();

  if (send == NULL || s->state != RDT_SESSION_CONNECTED)
    {
      t->in_flight = FALSE;
      return;
    }
  if (now - t->last_post_us < 2000)
    {
      /* Spec 4.6: never two posts to one topic within ~2 ms. */
      g_timeout_add_full (G_PRIORITY_DEFAULT, 3, send_retry_cb,
                          topic_op_new (s, t), (GDestroyNotify) topic_op_free);
      return;
    }
  t->last_post_us = now;
  send->attempts++;
  head = rdt_chain_get_head (t->chain);
  msg = rdt_message_new_signed (s->space_id, t->id, "chat.text",
                                head ? head->message_hash : NULL, send->data,
                                s->member_id, rdt_api_get_signing_key (s->api));
  p = g_new0 (PostOp, 1);
  p->op = topic_op_new (s, t);
  p->msg = msg;
  rdt_api_post_message_async (s->api, msg, s->cancel, post_done, p);
}

static void
topic_kick_send (RdtSession *s, Topic *t)
{
  if (t->in_flight || !t->opened || g_queue_is_empty (&t->sends)
      || s->state != RDT_SESSION_CONNECTED)
    {
      /* While not connected, fail sends that waited too long. */
      Send *send;
      while (s->state != RDT_SESSION_CONNECTED && !t->in_flight
             && (send = g_queue_peek_head (&t->sends)) != NULL
             && (g_get_monotonic_time () - send->queued_us) / 1000
                >= s->send_timeout_ms)
        {
          GError *e = g_error_new (RDT_API_ERROR, RDT_API_ERROR_NETWORK,
                                   "Not connected: the message was not sent");
          send_finish_head (s, t, e);
          g_error_free (e);
          if (s->freed)
            return;
        }
      return;
    }
  t->in_flight = TRUE;
  topic_post (s, t);
}

static guint64
queue_send (RdtSession *s, Topic *t, const gchar *text, GError **error)
{
  Send *send;
  gchar *data;
  gsize len = strlen (text);

  if (len > RDT_MAX_PLAINTEXT)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   "The message is too long (%" G_GSIZE_FORMAT " bytes, at "
                   "most %d)", len, RDT_MAX_PLAINTEXT);
      return 0;
    }
  data = rdt_payload_encrypt (topic_key (s, t), (const guint8 *) text, len);
  if (data == NULL || strlen (data) > RDT_MAX_DATA_CHARS)
    {
      g_free (data);
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   "The message is too long");
      return 0;
    }
  send = g_new0 (Send, 1);
  send->id = s->next_send_id++;
  send->topic_id = g_strdup (t->id);
  send->text = g_strdup (text);
  send->data = data;
  send->queued_us = g_get_monotonic_time ();
  g_queue_push_tail (&t->sends, send);
  topic_kick_send (s, t);
  return send->id;
}

guint64
rdt_session_send_text (RdtSession *s, const gchar *topic_id,
                       const gchar *text, GError **error)
{
  Topic *t = topic_id ? g_hash_table_lookup (s->topics, topic_id) : NULL;

  if (t == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   "The topic is not open");
      return 0;
    }
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   "The message is not valid text");
      return 0;
    }
  return queue_send (s, t, text, error);
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
                   "There is no failed message with this id");
      return 0;
    }
  t = g_hash_table_lookup (s->topics, old->topic_id);
  if (t == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   "The topic is not open");
      return 0;
    }
  id = queue_send (s, t, old->text, error);
  if (id)
    g_hash_table_remove (s->failed, &key);
  return id;
}
