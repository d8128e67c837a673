/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session-send.c - the per-topic send queue: post, catch up and
 * chain on the server's head after a 409, never post twice when an answer
 * is lost (spec 4.6, 4.7, 15.9).
 * See session.h for the guarantees, session-private.h for the
 * lifetime rules. */
#include "config.h"
#include "session-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include "error.h"
#include "id.h"

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
  if (rdt_send_op_send (op))
    topic_post (op->s, op->t);
  return G_SOURCE_REMOVE;
}

static void
send_retry_later (RdtSession *s, Topic *t, guint delay_ms)
{
  g_timeout_add_full (G_PRIORITY_DEFAULT, delay_ms, send_retry_cb,
                      rdt_send_op_new (s, t), (GDestroyNotify) rdt_topic_op_free);
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
      g_info ("session: topic %s: send %" G_GUINT64_FORMAT " failed after "
              "%u posts: %s", t->id, send->id, send->attempts,
              error->message);
    }
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
      rdt_session_emit_send_done (s, send, e);
      g_error_free (e);
    }
  else
    rdt_session_emit_send_done (s, send, error);
  if (error)
    {
      /* A retry is a new send: fresh chain position and counters. */
      send->attempts = send->stuck = 0;
      send->have_prev = FALSE;
      g_clear_pointer (&send->prev, g_free);
      g_hash_table_replace (s->failed, &send->id, send);
    }
  else
    rdt_send_free (send);
}

/* The send succeeded; go on with the next one. */
static void
send_succeeded (RdtSession *s, Topic *t)
{
  rdt_session_ref (s);
  rdt_topic_ref (t);
  send_finish_head (s, t, NULL);
  if (!TOPIC_GONE (s, t))
    rdt_topic_kick_send (s, t);
  rdt_topic_unref (t);
  rdt_session_unref (s);
}

static void
send_failed (RdtSession *s, Topic *t, const GError *error)
{
  rdt_session_ref (s);
  rdt_topic_ref (t);
  send_finish_head (s, t, error);
  if (!TOPIC_GONE (s, t))
    rdt_topic_kick_send (s, t);
  rdt_topic_unref (t);
  rdt_session_unref (s);
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
  rdt_session_go_connecting (s, error);
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
  Send *send = rdt_send_op_send (op);

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
        rdt_topic_ingest_page (s, t, one, FALSE);
        g_ptr_array_unref (one);
        if (rdt_send_op_send (op) != send)
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
  {
    guint delay = g_random_int_range (5, 51) * (send->stuck + 1);

    g_info ("session: topic %s: posting again on the server's newest "
            "message in %u ms", t->id, delay);
    send_retry_later (s, t, delay);
  }
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  rdt_topic_op_free (op);
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

  if (rdt_send_op_send (op) == NULL)
    goto out;
  if (msgs)
    {
      rdt_topic_ingest_page (s, t, msgs, FALSE);
      if (rdt_send_op_send (op) == NULL)
        goto out;
      if (has_more)
        rdt_topic_poll (s, t);   /* the rest follows */
    }
  rdt_api_get_messages_async (s->api, t->id, RDT_NEWEST_TS, 0, 1, s->cancel,
                              newest_fetch_done, rdt_send_op_new (s, t));
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  rdt_topic_op_free (op);
}

static void
post_done (GObject *src, GAsyncResult *res, gpointer data)
{
  PostOp *p = data;
  GError *error = NULL;
  gint64 ts = rdt_api_post_message_finish (RDT_API (src), res, &error);
  Topic *t = p->op->t;
  RdtSession *s = p->op->s;
  Send *send = rdt_send_op_send (p->op);

  if (send == NULL)
    goto out;
  if (error == NULL || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT))
    t->post_rtt_us = g_get_monotonic_time () - t->last_post_us;
  if (error == NULL)
    {
      /* Ingest our own message now; the stream echo is a duplicate. */
      p->msg->server_timestamp = ts;
      rdt_chain_ingest (t->chain, p->msg, NULL);
      rdt_topic_deliver_ready (s, t, FALSE);
      if (rdt_send_op_send (p->op) != send)
        goto out;
      send_succeeded (s, t);
    }
  else if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT))
    {
      gint64 from = rdt_chain_get_newest_timestamp (t->chain);
      s->n_conflicts++;
      g_info ("session: topic %s: send conflict (409, post %u): someone "
              "posted first; catching up", t->id, send->attempts);
      /* Someone else got there first: catch up, then chain on the
       * server's newest message. */
      rdt_api_get_messages_async (s->api, t->id, from < 0 ? 0 : from, -1,
                                  1000, s->cancel, conflict_page_done,
                                  rdt_send_op_new (s, t));
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    ;
  else if (is_transient (error))
    {
      /* No answer or a server error: it may have been stored anyway.
       * Check by hash before posting again (spec 4.7). A 401 is refused
       * before storing, so it needs no check. */
      g_info ("session: topic %s: post got no answer (%s); kept for "
              "after the reconnect", t->id, error->message);
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
  rdt_topic_op_free (p->op);
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
  Send *send = rdt_send_op_send (op);

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
        rdt_topic_ingest_page (s, t, one, FALSE);
      g_ptr_array_unref (one);
      if (rdt_send_op_send (op) != send)
        goto out;
      if (same && (rdt_chain_contains (t->chain, want)
                   || rdt_chain_get_n_unlinked (t->chain) > 0))
        {
          if (!rdt_chain_contains (t->chain, want))
            rdt_topic_schedule_gap_poll (s, t);
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
  rdt_topic_op_free (op);
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
                                 rdt_send_op_new (s, t));
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
  p->op = rdt_send_op_new (s, t);
  p->msg = msg;
  rdt_api_post_message_async (s->api, msg, s->cancel, post_done, p);
}

void
rdt_topic_kick_send (RdtSession *s, Topic *t)
{
  if (TOPIC_GONE (s, t))
    return;
  if (t->in_flight || !t->opened || g_queue_is_empty (&t->sends)
      || s->state != RDT_SESSION_CONNECTED)
    {
      /* While not connected, fail sends that waited too long. */
      Send *send;
      rdt_session_ref (s);
      rdt_topic_ref (t);
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
      rdt_topic_unref (t);
      rdt_session_unref (s);
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
  data = rdt_payload_encrypt (rdt_topic_key (s, t), plain, len);
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
  rdt_session_ref (s);
  rdt_topic_kick_send (s, t);
  rdt_session_unref (s);
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
  rdt_session_ref (s);
  id = queue_send (s, t, old->type, old->plain, old->plain_len, error);
  if (id && !s->freed)
    g_hash_table_remove (s->failed, &key);
  rdt_session_unref (s);
  return id;
}

