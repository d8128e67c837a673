/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session-topic.c - a topic of the session: opening it (newest
 * page, pinned head check), verifying and delivering its messages in chain
 * order (spec 4, 5, 15.6, 15.8).
 * See session.h for the guarantees, session-private.h for the
 * lifetime rules. */
#include "config.h"
#include "session-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include "error.h"
#include "id.h"
#include "display.h"

/* ---- delivery ---- */

const guint8 *
rdt_topic_key (RdtSession *s, Topic *t)
{
  if (t->key == NULL)
    {
      t->key = rdt_secret_alloc (RDT_KEY_LENGTH);
      rdt_space_keys_topic_key (s->keys, t->id, t->key);
    }
  return t->key;
}

GBytes *
rdt_topic_decrypt (RdtSession *s, Topic *t, RdtMessage *m)
{
  GError *error = NULL;
  GBytes *plain = rdt_payload_decrypt (rdt_topic_key (s, t), m->data, &error);
  gchar *who, *text;

  if (plain != NULL)
    return plain;
  who = rdt_id_short (m->sender);
  text = g_strdup_printf (_("A message from %s could not be decrypted (%s) "
                            "and is not shown."), who, error->message);
  rdt_session_emit_warning (s, t->id, RDT_WARNING_DECRYPT_FAILED, text);
  g_free (text);
  g_free (who);
  g_error_free (error);
  return NULL;
}

void
rdt_topic_deliver_ready (RdtSession *s, Topic *t, gboolean backlog)
{
  GPtrArray *ready;

  if (TOPIC_GONE (s, t))
    return;
  ready = rdt_chain_take_ready (t->chain);
  rdt_topic_deliver (s, t, ready, backlog);
  g_ptr_array_unref (ready);
}

void
rdt_topic_deliver (RdtSession *s, Topic *t, GPtrArray *ready,
                   gboolean backlog)
{
  RdtMessage *head;
  const gchar *topic_id = t->id;

  if (TOPIC_GONE (s, t))
    return;
  rdt_session_ref (s);
  rdt_topic_ref (t);
  for (guint i = 0; i < ready->len; i++)
    {
      RdtMessage *m = g_ptr_array_index (ready, i);
      GBytes *plain;

      if (TOPIC_GONE (s, t))
        break;  /* closed or freed from inside a callback */
      plain = rdt_topic_decrypt (s, t, m);
      if (plain == NULL)
        continue;
      {
        RdtSessionMessage msg = { 0 };
        gchar *text = rdt_display_text (m->type, plain);
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
        /* An attachment descriptor holds its file's key in clear text
         * (attachment.h): wipe our copy. */
        if (g_strcmp0 (m->type, "file.upload") == 0
            || g_strcmp0 (m->type, "chat.image") == 0)
          rdt_secret_bytes_unref (plain);
        else
          g_bytes_unref (plain);
      }
    }

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
  rdt_topic_unref (t);
  rdt_session_unref (s);
}

void
rdt_topic_warn_rejection (RdtSession *s, Topic *t, RdtMessage *m, const GError *error)
{
  gchar *who = rdt_id_short (m && m->sender ? m->sender : "?");
  gchar *text = g_strdup_printf (_("A message from %s failed verification "
                                   "(%s) and is not shown."), who,
                                 error ? error->message : _("unknown reason"));
  rdt_session_emit_warning (s, t->id, RDT_WARNING_VERIFY_FAILED, text);
  g_free (text);
  g_free (who);
}

static gboolean
gap_poll_cb (gpointer data)
{
  TopicOp *op = data;
  Topic *t = rdt_topic_op_topic (op);
  if (t)
    {
      t->gap_source = 0;
      rdt_topic_poll (op->s, t);
    }
  return G_SOURCE_REMOVE;
}

void
rdt_topic_schedule_gap_poll (RdtSession *s, Topic *t)
{
  if (t->gap_source || TOPIC_GONE (s, t))
    return;
  t->gap_source = g_timeout_add_full (G_PRIORITY_DEFAULT, 50, gap_poll_cb,
                                      rdt_topic_op_new (s, t),
                                      (GDestroyNotify) rdt_topic_op_free);
}

/* After a page or a stream message: warn about rejections, deliver. */
void
rdt_topic_ingest_page (RdtSession *s, Topic *t, GPtrArray *msgs, gboolean backlog)
{
  GPtrArray *rejected = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_chain_rejection_free);
  rdt_chain_ingest_page (t->chain, msgs, rejected);
  rdt_session_ref (s);
  rdt_topic_ref (t);
  for (guint i = 0; i < rejected->len && !TOPIC_GONE (s, t); i++)
    {
      RdtChainRejection *r = g_ptr_array_index (rejected, i);
      rdt_topic_warn_rejection (s, t, r->msg, r->error);
    }
  g_ptr_array_unref (rejected);
  rdt_topic_deliver_ready (s, t, backlog);   /* returns at once if t is gone */
  rdt_topic_unref (t);
  rdt_session_unref (s);
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
  rdt_session_emit_warning (s, t->id, RDT_WARNING_HISTORY_REWRITTEN, text);
  g_free (text);
  g_free (h);
  g_free (date);
}


/* The read marker is not in the chain yet, but may be just below what
 * was fetched: page back while fewer than max_unread + 1 messages are
 * known and the oldest is not older than the marker. */
/* The oldest message loaded names the marker as its parent (its signed
 * prev_hash): everything loaded is unread, no older page is needed. */
static gboolean
marker_is_below (Topic *t)
{
  return t->marker_hash != NULL
         && g_strcmp0 (rdt_chain_get_anchor (t->chain), t->marker_hash) == 0;
}

static gboolean
marker_wants_older (Topic *t)
{
  return t->marker_hash != NULL
         && !rdt_chain_contains (t->chain, t->marker_hash)
         && !marker_is_below (t)
         && rdt_chain_get_anchor (t->chain) != NULL
         && t->marker_pages < RDT_MARKER_MAX_PAGES
         && rdt_chain_get_length (t->chain) < t->max_unread + 1
         && rdt_chain_get_oldest_timestamp (t->chain) >= t->marker_ts;
}

static void
older_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res, NULL,
                                                 &error);
  Topic *t = rdt_topic_op_topic (op);
  gboolean nothing = TRUE;

  if (t == NULL)
    goto out;
  if (msgs)
    {
      GPtrArray *older;

      g_info ("session: topic %s: fetched an older page of %u messages "
              "looking for the %s", t->id, msgs->len,
              t->marker_pages ? "read marker" : "pinned head");
      older = rdt_chain_ingest_older (t->chain, msgs, NULL);
      nothing = older == NULL || older->len == 0;
      if (older)
        {
          /* Not shown now, but /history must not skip them: the chain's
           * anchor is below them already. */
          if (t->unshown)
            g_ptr_array_extend_and_steal (older, g_steal_pointer (&t->unshown));
          t->unshown = older;
        }
    }
  if (nothing)
    {
      /* Reached the start, or broken: stop both searches. */
      t->pin_pages = RDT_PIN_MAX_PAGES;
      t->marker_pages = RDT_MARKER_MAX_PAGES;
    }
  rdt_topic_finish_open (op->s, t);
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  rdt_topic_op_free (op);
}

/* Split what the opening loaded (t->unshown, then the chain's ready
 * messages: chain order) at the read marker: the messages to show are
 * returned, the ones before them go to t->unshown for /history. */
static GPtrArray *
marker_split (Topic *t, RdtSessionUnread *u)
{
  GPtrArray *all = t->unshown ? g_steal_pointer (&t->unshown)
    : g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
  GPtrArray *ready = rdt_chain_take_ready (t->chain);
  GPtrArray *shown;
  guint idx = G_MAXUINT, keep;

  if (t->gap_older)
    g_ptr_array_extend_and_steal (all, g_steal_pointer (&t->gap_older));
  g_ptr_array_extend_and_steal (all, ready);
  for (guint i = all->len; i > 0; i--)
    if (g_strcmp0 (((RdtMessage *) all->pdata[i - 1])->message_hash,
                   t->marker_hash) == 0)
      {
        idx = i - 1;
        break;
      }
  if (idx != G_MAXUINT || marker_is_below (t))
    {
      keep = idx != G_MAXUINT ? all->len - idx - 1 : all->len;
      u->found = keep > t->max_unread ? RDT_MARKER_BEYOND : RDT_MARKER_FOUND;
    }
  else if (rdt_chain_get_anchor (t->chain) != NULL
           && rdt_chain_get_length (t->chain) >= t->max_unread + 1
           && rdt_chain_get_oldest_timestamp (t->chain) >= t->marker_ts)
    {
      /* Paging stopped with more than max_unread messages after the
       * marker's time: it is further back. */
      keep = all->len;
      u->found = RDT_MARKER_BEYOND;
    }
  else
    {
      keep = MIN (t->backlog, all->len);
      u->found = RDT_MARKER_NOT_FOUND;
    }
  if (u->found == RDT_MARKER_BEYOND)
    {
      keep = MIN (keep, t->max_unread);
      u->more = TRUE;
    }
  u->n_shown = keep;
  shown = g_ptr_array_new_full (keep, (GDestroyNotify) rdt_message_unref);
  for (guint i = all->len - keep; i < all->len; i++)
    g_ptr_array_add (shown, g_steal_pointer (&all->pdata[i]));
  g_ptr_array_set_size (all, all->len - keep);
  if (all->len > 0)
    t->unshown = all;
  else
    g_ptr_array_unref (all);
  return shown;
}

void
rdt_topic_finish_open (RdtSession *s, Topic *t)
{
  RdtChainPinState pin = rdt_chain_get_pin_state (t->chain);
  gboolean pin_wants = pin == RDT_CHAIN_PIN_PENDING
                       && t->pin_pages < RDT_PIN_MAX_PAGES
                       && rdt_chain_get_anchor (t->chain) != NULL;
  RdtSessionUnread unread = { 0 };
  GPtrArray *shown = NULL;

  if (!t->gap_at_open && rdt_chain_get_n_unlinked (t->chain) > 0)
    {
      /* Holes in the first page: fetch what is missing by hash before
       * showing it (the walk comes back here). */
      t->gap_at_open = TRUE;
      if (rdt_topic_walk_gap (s, t))
        return;
    }
  if (t->gap_walking)
    return;
  if (pin_wants || marker_wants_older (t))
    {
      /* Page back (newest first, ending at the oldest we have) until the
       * pin or the marker is found or proven gone; these messages are not
       * shown. */
      guint limit = 1000;
      if (pin_wants)
        t->pin_pages++;
      else
        {
          t->marker_pages++;
          limit = MIN (1000, t->max_unread + 1);
        }
      rdt_api_get_messages_async (s->api, t->id,
                                  rdt_chain_get_oldest_timestamp (t->chain),
                                  0, limit, s->cancel, older_page_done,
                                  rdt_topic_op_new (s, t));
      return;
    }
  t->opening = FALSE;
  t->opened = TRUE;
  g_info ("session: topic %s opened: %u verified, %u unlinked, pin %s",
          t->id, rdt_chain_get_length (t->chain),
          rdt_chain_get_n_unlinked (t->chain),
          pin == RDT_CHAIN_PIN_REWRITTEN ? "rewritten"
          : pin == RDT_CHAIN_PIN_PENDING && t->pin_hash ? "not found"
          : t->pin_hash ? "found" : "none");
  if (t->marker_hash)
    {
      shown = marker_split (t, &unread);
      g_info ("session: topic %s: read marker %s, %u unread shown%s",
              t->id, unread.found == RDT_MARKER_FOUND ? "found"
              : unread.found == RDT_MARKER_BEYOND ? "beyond the limit"
              : "not found", unread.n_shown, unread.more ? ", more" : "");
    }
  rdt_session_ref (s);
  rdt_topic_ref (t);
  if (pin == RDT_CHAIN_PIN_REWRITTEN)
    warn_pin (s, t, TRUE);
  else if (pin == RDT_CHAIN_PIN_PENDING && t->pin_hash)
    warn_pin (s, t, rdt_chain_get_anchor (t->chain) == NULL);
  if (shown)
    {
      /* Messages that linked meanwhile come after the unread ones. */
      rdt_topic_deliver (s, t, shown, TRUE);
      g_ptr_array_unref (shown);
      g_clear_pointer (&t->marker_hash, g_free);
      if (!TOPIC_GONE (s, t) && s->cb.topic_unread)
        s->cb.topic_unread (s, t->id, &unread, s->cb_data);
    }
  else if (t->gap_older)
    {
      /* The first page's holes, filled from below: they come first. */
      GPtrArray *older = g_steal_pointer (&t->gap_older);
      rdt_topic_deliver (s, t, older, TRUE);
      g_ptr_array_unref (older);
    }
  rdt_topic_deliver_ready (s, t, TRUE);
  if (!TOPIC_GONE (s, t))
    {
      if (rdt_chain_get_n_unlinked (t->chain) > 0)
        rdt_topic_schedule_gap_poll (s, t);
      if (s->cb.topic_opened)
        s->cb.topic_opened (s, t->id, NULL, s->cb_data);
    }
  if (!TOPIC_GONE (s, t))
    rdt_topic_kick_send (s, t);
  if (!TOPIC_GONE (s, t) && t->poll_again)
    {
      t->poll_again = FALSE;
      rdt_topic_poll (s, t);
    }
  rdt_topic_unref (t);
  rdt_session_unref (s);
}

static void
first_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  TopicOp *op = data;
  GError *error = NULL;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res, NULL,
                                                 &error);
  Topic *t = rdt_topic_op_topic (op);
  RdtSession *s = op->s;

  if (t == NULL)
    goto out;
  t->opening = FALSE;
  if (msgs == NULL)
    {
      g_info ("session: topic %s: first page failed: %s", t->id,
              error->message);
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
          || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_SERVER)
          || g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE))
        {
          /* Retried after the reconnect (session_went_live). */
          rdt_session_go_connecting (s, error);
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
  g_info ("session: topic %s: fetched the first page, %u messages", t->id,
          msgs->len);
  {
    /* Hold back delivery until the pin check is done: ingest without
     * delivering, then finish. */
    GPtrArray *rejected = g_ptr_array_new_with_free_func (
        (GDestroyNotify) rdt_chain_rejection_free);
    rdt_chain_ingest_page (t->chain, msgs, rejected);
    for (guint i = 0; i < rejected->len && !TOPIC_GONE (s, t); i++)
      {
        RdtChainRejection *r = g_ptr_array_index (rejected, i);
        rdt_topic_warn_rejection (s, t, r->msg, r->error);
      }
    g_ptr_array_unref (rejected);
  }
  if (rdt_topic_op_topic (op) == t)
    rdt_topic_finish_open (s, t);
out:
  g_clear_error (&error);
  if (msgs)
    g_ptr_array_unref (msgs);
  rdt_topic_op_free (op);
}

void
rdt_topic_fetch_first (RdtSession *s, Topic *t)
{
  /* After a read marker: one more than max_unread tells whether there
   * are more unread than shown. */
  guint limit = t->marker_hash ? MIN (1000, t->max_unread + 1)
                               : CLAMP (t->backlog, 1, 1000);

  if (t->opening || t->opened || t->wait_marker
      || s->state != RDT_SESSION_CONNECTED)
    return;
  t->opening = TRUE;
  g_info ("session: opening topic %s (up to %u messages of history)", t->id,
          limit);
  rdt_api_get_messages_async (s->api, t->id, RDT_NEWEST_TS, 0,
                              limit, s->cancel,
                              first_page_done, rdt_topic_op_new (s, t));
}

static void
open_topic (RdtSession *s, const gchar *topic_id, guint backlog,
            gboolean wait_marker)
{
  GError *error = NULL;
  Topic *t;
  gchar *pin, *marker;

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
  marker = g_hash_table_lookup (s->markers, topic_id);
  if (marker)
    {
      gchar **parts = g_strsplit (marker, "\n", 3);
      t->marker_hash = g_strdup (parts[0]);
      t->marker_ts = g_ascii_strtoll (parts[1], NULL, 10);
      t->max_unread = (guint) g_ascii_strtoull (parts[2], NULL, 10);
      g_strfreev (parts);
      g_hash_table_remove (s->markers, topic_id);
    }
  t->wait_marker = wait_marker && t->marker_hash == NULL;
  g_hash_table_insert (s->topics, t->id, t);
  rdt_topic_fetch_first (s, t);
}

void
rdt_session_open_topic (RdtSession *s, const gchar *topic_id, guint backlog)
{
  open_topic (s, topic_id, backlog, FALSE);
}

void
rdt_session_open_topic_for_marker (RdtSession *s, const gchar *topic_id,
                                   guint backlog)
{
  open_topic (s, topic_id, backlog, TRUE);
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
  rdt_session_ref (s);
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
  rdt_topic_unref (t);
  rdt_session_unref (s);
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

void
rdt_session_set_read_marker (RdtSession *s, const gchar *topic_id,
                             const gchar *message_hash, gint64 timestamp,
                             guint max_unread)
{
  Topic *t = topic_id ? g_hash_table_lookup (s->topics, topic_id) : NULL;

  if (t != NULL && t->wait_marker)
    {
      /* opened with rdt_session_open_topic_for_marker(): the marker (or
       * none) lets the first page go */
      t->wait_marker = FALSE;
      if (message_hash != NULL && rdt_id_is_valid (message_hash, RDT_ID_MESSAGE))
        {
          t->marker_hash = g_strdup (message_hash);
          t->marker_ts = timestamp;
          t->max_unread = CLAMP (max_unread, 1, RDT_MARKER_MAX_UNREAD);
        }
      rdt_topic_fetch_first (s, t);
      return;
    }
  if (topic_id == NULL || message_hash == NULL
      || !rdt_id_is_valid (message_hash, RDT_ID_MESSAGE))
    return;
  g_hash_table_replace (s->markers, g_strdup (topic_id),
                        g_strdup_printf ("%s\n%" G_GINT64_FORMAT "\n%u",
                                         message_hash, timestamp,
                                         CLAMP (max_unread, 1,
                                                RDT_MARKER_MAX_UNREAD)));
}

/* When a message was posted, as a person reads it: the local time, with
 * the date unless it is today. */
static gchar *
format_when (gint64 ms)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (ms / 1000);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();

  if (dt == NULL)
    return g_strdup (_("an unknown date"));
  if (g_date_time_get_year (dt) == g_date_time_get_year (now)
      && g_date_time_get_day_of_year (dt)
         == g_date_time_get_day_of_year (now))
    return g_date_time_format (dt, "%H:%M");
  return g_date_time_format (dt, "%Y-%m-%d %H:%M");
}

/* /chain: what the verification says about this topic, in sentences. */
gchar *
rdt_session_describe_topic (RdtSession *s, const gchar *topic_id)
{
  Topic *t = g_hash_table_lookup (s->topics, topic_id);
  RdtMessage *head;
  GString *out;
  guint n, unlinked, queued;
  g_autofree gchar *pin = NULL;

  if (t == NULL)
    return g_strdup_printf (_("#%s is not open."), topic_id);
  out = g_string_new (NULL);
  g_string_append_printf (out, "#%s: ", t->id);
  n = rdt_chain_get_length (t->chain);
  head = rdt_chain_get_head (t->chain);
  if (!t->opened)
    g_string_append (out, _("Still being loaded and checked."));
  else if (n == 0 || head == NULL)
    g_string_append (out, _("No verified messages yet."));
  else
    {
      g_autofree gchar *h = rdt_id_short (head->message_hash);
      g_autofree gchar *when = format_when (head->server_timestamp);

      /* Translators: %u messages; then a short message id and a time
       * ("14:02") or date and time. */
      g_string_append_printf (out,
                              g_dngettext (GETTEXT_PACKAGE,
                                           "The %u message shown here is "
                                           "verified (signature and hash "
                                           "chain); it is %s from %s.",
                                           "All %u messages shown here are "
                                           "verified (signatures and hash "
                                           "chain); the newest is %s from "
                                           "%s.", n),
                              n, h, when);
    }
  unlinked = t->opened ? rdt_chain_get_n_unlinked (t->chain) : 0;
  if (unlinked > 0)
    {
      g_string_append_c (out, ' ');
      g_string_append_printf (out,
                              g_dngettext (GETTEXT_PACKAGE,
                                           "Problem: %u more message does "
                                           "not link to the verified "
                                           "history (a gap, or a change on "
                                           "the server) and is not shown.",
                                           "Problem: %u more messages do "
                                           "not link to the verified "
                                           "history (a gap, or a change on "
                                           "the server) and are not shown.",
                                           unlinked),
                              unlinked);
    }
  pin = t->pin_hash && t->opened ? rdt_id_short (t->pin_hash) : NULL;
  switch (pin ? rdt_chain_get_pin_state (t->chain) : RDT_CHAIN_PIN_NONE)
    {
    case RDT_CHAIN_PIN_REWRITTEN:
      g_string_append_c (out, ' ');
      g_string_append_printf (out, _("Problem: the history was rewritten: "
                                     "the newest message you saw last time "
                                     "(%s) is no longer part of it."), pin);
      break;
    case RDT_CHAIN_PIN_PENDING:
      g_string_append_c (out, ' ');
      g_string_append_printf (out, _("The newest message you saw last time "
                                     "(%s) was not found in this history; "
                                     "it may have been rewritten."), pin);
      break;
    case RDT_CHAIN_PIN_CONFIRMED:
      g_string_append_c (out, ' ');
      g_string_append_printf (out, _("The history still contains the newest "
                                     "message you saw last time (%s)."),
                              pin);
      break;
    case RDT_CHAIN_PIN_NONE:
    default:
      break;
    }
  queued = g_queue_get_length (&t->sends);
  g_string_append_c (out, ' ');
  g_string_append_printf (out,
                          g_dngettext (GETTEXT_PACKAGE,
                                       "%u message waiting to be sent.",
                                       "%u messages waiting to be sent.",
                                       queued),
                          queued);
  return g_string_free (out, FALSE);
}

