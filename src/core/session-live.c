/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session-live.c - staying live: the safety polls (spec 15.7)
 * and the WebSocket stream (spec 7, 15.10).
 * See session.h for the guarantees, session-private.h for the
 * lifetime rules. */
#include "config.h"
#include "session-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include "error.h"
#include "id.h"

/* ---- polling (spec 15.7) ---- */

static void
poll_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  gboolean has_more = FALSE;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res,
                                                 &has_more, &error);
  Topic *t = rdt_topic_op_topic (op);
  RdtSession *s = op->s;

  if (t == NULL)
    goto out;
  t->polling = FALSE;
  if (msgs == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_info ("session: topic %s: poll failed: %s", t->id, error->message);
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_UNAUTHORIZED)
          || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER))
        {
          /* Token refused even after the api's own re-login: log in
           * again from scratch (a removed member ends there, fatal);
           * the reconnect catches this topic up. */
          rdt_api_clear_token (s->api);
          rdt_session_go_connecting (s, error);
        }
      else if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
               || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_SERVER))
        rdt_session_go_connecting (s, error);
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        rdt_session_emit_warning (s, t->id, RDT_WARNING_CONNECTION, error->message);
      goto out;
    }
  if (msgs->len > 0)
    g_info ("session: topic %s: fetched %u new messages%s", t->id, msgs->len,
            has_more ? " (more to come)" : "");
  {
    gint64 before = rdt_chain_get_newest_timestamp (t->chain);
    rdt_topic_ingest_page (s, t, msgs, FALSE);
    if (rdt_topic_op_topic (op) != t)
      goto out;
    if (has_more && rdt_chain_get_newest_timestamp (t->chain) > before)
      t->poll_again = TRUE;
    if (rdt_chain_get_n_unlinked (t->chain) > 0)
      {
        /* The list did not bring the parents: ask for them by hash. */
        if (!t->gap_warned)
          rdt_topic_walk_gap (s, t);
      }
    else
      t->gap_warned = FALSE;
  }
  if (t->poll_again)
    {
      t->poll_again = FALSE;
      rdt_topic_poll (s, t);
    }
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  rdt_topic_op_free (op);
}

void
rdt_topic_poll (RdtSession *s, Topic *t)
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
                              s->cancel, poll_page_done, rdt_topic_op_new (s, t));
}

gboolean
rdt_session_poll_all (gpointer data)
{
  RdtSession *s = data;
  GPtrArray *all = rdt_session_topics_snapshot (s);

  for (guint i = 0; i < all->len; i++)
    {
      Topic *t = g_ptr_array_index (all, i);
      if (!TOPIC_GONE (s, t))
        rdt_topic_poll (s, t);
    }
  g_ptr_array_unref (all);
  return G_SOURCE_CONTINUE;
}

void
rdt_session_reschedule_poll (RdtSession *s)
{
  guint ms = (s->stream && rdt_stream_is_open (s->stream))
             ? s->poll_live_ms : s->poll_down_ms;
  if (s->poll_source && s->poll_source_ms == ms)
    return;
  g_clear_handle_id (&s->poll_source, g_source_remove);
  if (s->state != RDT_SESSION_CONNECTED)
    return;
  s->poll_source_ms = ms;
  s->poll_source = g_timeout_add (ms, rdt_session_poll_all, s);
}

/* ---- gaps: walking back by hash (spec 4.5, 4.7) ---- */

static void gap_fetch_done (GObject *src, GAsyncResult *res, gpointer data);

static void
gap_done (RdtSession *s, Topic *t)
{
  t->gap_walking = FALSE;
  if (!TOPIC_GONE (s, t) && !t->opened)
    rdt_topic_finish_open (s, t);
}

/* The walk failed: say why, once, and leave the gap parked. */
static void
gap_fail (RdtSession *s, Topic *t, const gchar *why)
{
  gchar *text = g_strdup_printf (_("Some messages of this topic do not link "
                                   "to the verified history and are not "
                                   "shown: %s."), why);
  g_info ("session: topic %s: gap not filled: %s", t->id, why);
  t->gap_warned = TRUE;
  rdt_session_ref (s);
  rdt_topic_ref (t);
  rdt_session_emit_warning (s, t->id, RDT_WARNING_CHAIN_BROKEN, text);
  gap_done (s, t);
  rdt_topic_unref (t);
  rdt_session_unref (s);
  g_free (text);
}

/* Fetch the next missing parent, one at a time. prev_parent is the
 * parent of the message just fetched (NULL at the start): if it is still
 * missing, the walk goes on down the same gap; anything else is a new gap
 * with its own bound. */
static void
gap_next (RdtSession *s, Topic *t, const gchar *prev_parent)
{
  GPtrArray *missing = rdt_chain_get_missing_parents (t->chain);
  const gchar *want = NULL;

  for (guint i = 0; i < missing->len && prev_parent; i++)
    if (g_strcmp0 (missing->pdata[i], prev_parent) == 0)
      want = missing->pdata[i];
  if (want == NULL)
    {
      t->gap_fetches = 0;
      want = missing->len > 0 ? missing->pdata[0] : NULL;
    }
  if (want == NULL && rdt_chain_get_n_unlinked (t->chain) > 0)
    gap_fail (s, t, _("they do not link to any message of this topic"));
  else if (want == NULL)
    gap_done (s, t);
  else if (t->gap_fetches >= RDT_GAP_MAX_FETCHES)
    {
      gchar *why = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                 "gave up after fetching %u "
                                                 "missing message",
                                                 "gave up after fetching %u "
                                                 "missing messages one by one",
                                                 t->gap_fetches),
                                    t->gap_fetches);
      gap_fail (s, t, why);
      g_free (why);
    }
  else
    {
      t->gap_fetches++;
      g_free (t->gap_want);
      t->gap_want = g_strdup (want);
      g_info ("session: topic %s: fetching a missing message by hash (%u "
              "for this gap)", t->id, t->gap_fetches);
      rdt_api_get_message_async (s->api, t->id, want, s->cancel,
                                 gap_fetch_done, rdt_topic_op_new (s, t));
    }
  g_ptr_array_unref (missing);
}

static void
gap_fetch_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  RdtMessage *msg = rdt_api_get_message_finish (RDT_API (src), res, &error);
  Topic *t = rdt_topic_op_topic (op);
  RdtSession *s = op->s;
  RdtChainResult r;
  gchar *why = NULL;

  if (t == NULL)
    goto out;
  if (msg == NULL)
    {
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND))
        why = g_strdup (_("the server does not have a message they refer "
                          "to"));
      else
        {
          /* Transient: the next poll walks again. */
          g_info ("session: topic %s: fetching a missing message failed: "
                  "%s", t->id, error->message);
          gap_done (s, t);
          goto out;
        }
    }
  else if (g_strcmp0 (msg->message_hash, t->gap_want) != 0)
    why = g_strdup (_("the server answered with another message than the "
                      "one asked for"));
  else if (g_strcmp0 (msg->message_hash, rdt_chain_get_anchor (t->chain))
           == 0)
    {
      /* Below the oldest accepted message: it and the parked messages it
       * links are older than what is shown. While opening they complete
       * the first page; later /history shows them. */
      GPtrArray *one = g_ptr_array_new ();
      GPtrArray *older;
      GPtrArray **into = t->opened ? &t->unshown : &t->gap_older;

      g_ptr_array_add (one, msg);
      older = rdt_chain_ingest_older (t->chain, one, &error);
      g_ptr_array_unref (one);
      if (older == NULL)
        why = g_strdup_printf (_("a message they refer to failed "
                                 "verification (%s)"), error->message);
      else if (*into == NULL)
        *into = older;
      else
        g_ptr_array_extend_and_steal (*into, older);
    }
  else
    {
      r = rdt_chain_ingest (t->chain, msg, &error);
      if (r == RDT_CHAIN_REJECTED)
        why = g_strdup_printf (_("a message they refer to failed "
                                 "verification (%s)"), error->message);
    }
  if (why)
    {
      gap_fail (s, t, why);
      goto out;
    }
  rdt_session_ref (s);
  rdt_topic_ref (t);
  if (t->opened)
    rdt_topic_deliver_ready (s, t, FALSE);
  if (!TOPIC_GONE (s, t))
    gap_next (s, t, msg->prev_hash);
  rdt_topic_unref (t);
  rdt_session_unref (s);
out:
  g_free (why);
  g_clear_error (&error);
  if (msg)
    rdt_message_unref (msg);
  rdt_topic_op_free (op);
}

gboolean
rdt_topic_walk_gap (RdtSession *s, Topic *t)
{
  if (t->gap_walking || TOPIC_GONE (s, t)
      || s->state != RDT_SESSION_CONNECTED)
    return FALSE;
  t->gap_walking = TRUE;
  gap_next (s, t, NULL);
  return TRUE;
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
  rdt_session_ref (s);
  rdt_message_ref (msg);
  on_stream_message_ref (s, msg);
  rdt_message_unref (msg);
  rdt_session_unref (s);
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
    {
      /* The first page may have been asked before it was posted: a
       * catch-up poll once the topic is open brings it (else it would wait
       * for the slow safety poll). */
      t->poll_again = TRUE;
      return;
    }
  {
    GError *error = NULL;
    RdtChainResult r = rdt_chain_ingest (t->chain, msg, &error);
    rdt_topic_ref (t);
    if (r == RDT_CHAIN_REJECTED)
      rdt_topic_warn_rejection (s, t, msg, error);
    else if (r == RDT_CHAIN_UNLINKED)
      rdt_topic_schedule_gap_poll (s, t);
    else if (r == RDT_CHAIN_FORK)
      rdt_session_emit_warning (s, t->id, RDT_WARNING_CHAIN_BROKEN,
                    _("This topic's history forked (two messages claim the "
                      "same parent); both are shown."));
    g_clear_error (&error);
    rdt_topic_deliver_ready (s, t, FALSE);   /* no-op if t is gone */
    rdt_topic_unref (t);
  }
}

static void
on_stream_bad_frame (RdtStream *stream, const GError *error, gpointer data)
{
  g_info ("session: bad stream frame ignored: %s", error->message);
}

static gboolean
stream_retry_cb (gpointer data)
{
  RdtSession *s = data;
  s->stream_source = 0;
  rdt_session_stream_connect (s);
  return G_SOURCE_REMOVE;
}

static void
stream_schedule_retry (RdtSession *s)
{
  guint delay;

  if (s->stream_source || !s->use_stream || s->freed)
    return;
  delay = rdt_session_next_backoff (s, &s->stream_backoff_cur);
  g_info ("session: stream: next try in %u ms, polling meanwhile", delay);
  s->stream_source = g_timeout_add (delay, stream_retry_cb, s);
}

static void
on_stream_closed (RdtStream *stream, const GError *error, gpointer data)
{
  RdtSession *s = data;
  if (s->freed)
    return;
  g_info ("session: stream down%s%s", error ? ": " : "",
          error ? error->message : "");
  rdt_session_reschedule_poll (s);
  if (s->state == RDT_SESSION_CONNECTED)
    {
      rdt_session_poll_all (s);
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

  /* A connect of a stream freed since (rdt_session_go_connecting) is stale. */
  if (!s->freed && s->stream && s->stream == op->stream)
    ok = rdt_stream_connect_finish (s->stream, res, &error);
  else
    goto out;
  s->stream_connecting = FALSE;
  if (ok)
    {
      g_info ("session: stream up");
      s->stream_backoff_cur = 0;
      rdt_session_reschedule_poll (s);
      rdt_session_poll_all (s);   /* catch up before relying on the stream */
    }
  else if (g_error_matches (error, RDT_API_ERROR,
                            RDT_API_ERROR_UNAUTHORIZED))
    {
      g_info ("session: stream: token refused, logging in again");
      /* Token refused: log in again, then the stream follows. */
      rdt_api_clear_token (s->api);
      g_clear_pointer (&s->stream, rdt_stream_free);
      s->logging_in = FALSE;
      rdt_session_go_connecting (s, NULL);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_info ("session: stream: could not connect: %s", error->message);
      rdt_session_reschedule_poll (s);
      stream_schedule_retry (s);
    }
out:
  g_clear_error (&error);
  rdt_session_unref (s);
  g_free (op);
}

void
rdt_session_stream_connect (RdtSession *s)
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
    op->s = rdt_session_ref (s);
    op->stream = s->stream;
    rdt_stream_connect_async (s->stream, s->cancel, stream_connect_done, op);
  }
}

