/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session-history.c - paging back through a topic's history on request
 * (spec 4.5): older pages, newest first, verified and linked down to the
 * chain's anchor like every back-fill, then decrypted and handed over
 * oldest first. See session.h for the contract. */
#include "config.h"
#include "session-private.h"

#include <glib/gi18n-lib.h>
#include "error.h"
#include "id.h"
#include "display.h"

typedef struct {
  TopicOp               *op;
  guint                  want;
  guint                  got;
  GPtrArray             *pages;   /* GPtrArray of RdtSessionMessage *, newest page first */
  gboolean               stuck;   /* a page brought nothing new: one wider try */
  RdtSessionHistoryFunc  callback;
  gpointer               user_data;
} HistoryLoad;

static void
history_msg_free (RdtSessionMessage *m)
{
  if (m == NULL)
    return;
  g_free ((gchar *) m->topic_id);
  g_free ((gchar *) m->message_hash);
  g_free ((gchar *) m->sender);
  g_free ((gchar *) m->type);
  g_free ((gchar *) m->text);
  /* An attachment descriptor holds its file's key: wipe our copy. */
  rdt_secret_bytes_unref (m->payload);
  g_free (m);
}

static void
history_load_free (HistoryLoad *h)
{
  h->op->t->history_busy = FALSE;
  rdt_topic_op_free (h->op);
  g_ptr_array_unref (h->pages);
  g_free (h);
}

/* Report and end the load; the topic must not be gone. */
static void
history_finish (HistoryLoad *h, gboolean at_start, const GError *error)
{
  RdtSession *s = h->op->s;
  Topic *t = h->op->t;
  GPtrArray *all = NULL;

  t->history_busy = FALSE;
  if (error == NULL)
    {
      all = g_ptr_array_new_with_free_func (
          (GDestroyNotify) history_msg_free);
      for (guint i = h->pages->len; i > 0; i--)
        {
          GPtrArray *page = g_ptr_array_index (h->pages, i - 1);

          for (guint j = 0; j < page->len; j++)
            g_ptr_array_add (all, g_steal_pointer (&page->pdata[j]));
        }
      g_info ("session: topic %s: loaded %u older messages%s", t->id,
              all->len, at_start ? ", the start of the topic" : "");
    }
  else
    g_info ("session: topic %s: loading older messages failed: %s", t->id,
            error->message);
  h->callback (s, t->id, all, at_start, error, h->user_data);
  if (all)
    g_ptr_array_unref (all);
  history_load_free (h);
}

/* Decrypt the accepted older messages (oldest first) into a page; FALSE if
 * a warning callback closed the topic. */
static gboolean
history_add_page (HistoryLoad *h, GPtrArray *older)
{
  RdtSession *s = h->op->s;
  Topic *t = h->op->t;
  GPtrArray *page = g_ptr_array_new_with_free_func (
      (GDestroyNotify) history_msg_free);

  g_ptr_array_add (h->pages, page);
  for (guint i = 0; i < older->len && !TOPIC_GONE (s, t); i++)
    {
      RdtMessage *m = g_ptr_array_index (older, i);
      RdtSessionMessage *out;
      GBytes *plain = rdt_topic_decrypt (s, t, m);

      if (plain == NULL)
        continue;
      out = g_new0 (RdtSessionMessage, 1);
      out->topic_id = g_strdup (t->id);
      out->message_hash = g_strdup (m->message_hash);
      out->sender = g_strdup (m->sender);
      out->type = g_strdup (m->type);
      out->text = rdt_display_text (m->type, plain);
      out->payload = plain;
      out->timestamp = m->server_timestamp;
      out->backlog = TRUE;
      out->own = g_strcmp0 (m->sender, s->member_id) == 0;
      g_ptr_array_add (page, out);
      h->got++;
    }
  return !TOPIC_GONE (s, t);
}

static void history_fetch (HistoryLoad *h);

/* Go on: first the messages the pin check loaded but did not show, then
 * the server, until there are enough or the start is reached. */
static void
history_next (HistoryLoad *h)
{
  Topic *t = h->op->t;

  while (h->got < h->want && t->unshown != NULL && t->unshown->len > 0)
    {
      guint k = MIN (h->want - h->got, t->unshown->len);
      guint from = t->unshown->len - k;
      GPtrArray *take = g_ptr_array_new_with_free_func (
          (GDestroyNotify) rdt_message_unref);

      for (guint i = from; i < t->unshown->len; i++)
        g_ptr_array_add (take, rdt_message_ref (t->unshown->pdata[i]));
      g_ptr_array_remove_range (t->unshown, from, k);
      if (!history_add_page (h, take))
        {
          g_ptr_array_unref (take);
          history_load_free (h);
          return;
        }
      g_ptr_array_unref (take);
    }
  if (rdt_chain_get_anchor (t->chain) == NULL
      && (t->unshown == NULL || t->unshown->len == 0))
    history_finish (h, TRUE, NULL);
  else if (h->got >= h->want)
    history_finish (h, FALSE, NULL);
  else
    history_fetch (h);
}

static void
history_page_done (GObject *src, GAsyncResult *res, gpointer data)
{
  HistoryLoad *h = data;
  GError *error = NULL;
  gboolean has_more = FALSE;
  GPtrArray *msgs = rdt_api_get_messages_finish (RDT_API (src), res,
                                                 &has_more, &error);
  GPtrArray *older = NULL;
  Topic *t = rdt_topic_op_topic (h->op);

  if (t == NULL)
    {
      history_load_free (h);
      goto out;
    }
  if (msgs == NULL)
    {
      history_finish (h, FALSE, error);
      goto out;
    }
  older = rdt_chain_ingest_older (t->chain, msgs, &error);
  if (older == NULL)
    {
      history_finish (h, FALSE, error);
      goto out;
    }
  if (!history_add_page (h, older))
    {
      history_load_free (h);
      goto out;
    }
  if (older->len > 0 || rdt_chain_get_anchor (t->chain) == NULL)
    {
      h->stuck = FALSE;
      history_next (h);
    }
  else if (has_more && !h->stuck)
    {
      /* A page of timestamp ties that are all known already: once more
       * with the widest page. */
      h->stuck = TRUE;
      history_fetch (h);
    }
  else
    {
      g_set_error_literal (&error, RDT_ERROR, RDT_ERROR_CHAIN,
                           _("the server gave no older messages, but the "
                             "oldest one loaded is not the topic's first"));
      history_finish (h, FALSE, error);
    }
out:
  g_clear_error (&error);
  if (older)
    g_ptr_array_unref (older);
  if (msgs)
    g_ptr_array_unref (msgs);
}

static void
history_fetch (HistoryLoad *h)
{
  RdtSession *s = h->op->s;
  Topic *t = h->op->t;
  /* The boundary message comes back (inclusive bounds): one more. */
  guint limit = h->stuck ? 1000 : MIN (h->want - h->got + 1, 1000);

  rdt_api_get_messages_async (s->api, t->id,
                              rdt_chain_get_oldest_timestamp (t->chain), 0,
                              limit, s->cancel, history_page_done, h);
}

void
rdt_session_load_history (RdtSession *s, const gchar *topic_id, guint n,
                          RdtSessionHistoryFunc callback, gpointer user_data)
{
  Topic *t;
  HistoryLoad *h;
  GError *error = NULL;

  g_return_if_fail (s != NULL && callback != NULL);
  t = topic_id ? g_hash_table_lookup (s->topics, topic_id) : NULL;
  if (t == NULL || !t->opened)
    error = g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED,
                                 _("The topic is not open yet."));
  else if (t->history_busy)
    error = g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED,
                                 _("Older messages are being loaded "
                                   "already."));
  if (error)
    {
      callback (s, topic_id, NULL, FALSE, error, user_data);
      g_error_free (error);
      return;
    }
  h = g_new0 (HistoryLoad, 1);
  h->op = rdt_topic_op_new (s, t);
  h->want = CLAMP (n, 1, 1000);
  h->pages = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_ptr_array_unref);
  h->callback = callback;
  h->user_data = user_data;
  t->history_busy = TRUE;
  g_info ("session: topic %s: loading %u older messages", t->id, h->want);
  history_next (h);
}
