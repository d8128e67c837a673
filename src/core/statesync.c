/* SPDX-License-Identifier: GPL-2.0-or-later */
/* statesync.c - state log paging and state writes over RdtApi. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#include "chain.h"
#include "error.h"
#include "message.h"
#include "statesync.h"

#define STATE_TOPIC "state"
#define PAGE_LIMIT 1000
/* One sync reads at most this many state messages (some 25,000 members'
 * worth; pages may be smaller than PAGE_LIMIT when their messages are
 * large, see api.h); a longer log is read on by the next sync, which
 * resumes where this one stopped. Bounds a server that keeps answering
 * has_more. */
#define MAX_SYNC_MESSAGES 100000
/* A sync gives up after this many rejected messages (failed verification
 * or not allowed). An honest log has next to none (an entry the server
 * allows and we do not); a hostile server could otherwise chain pages of
 * self-signed junk onto the log, each moving the head and the paging
 * timestamp, and keep us verifying and storing it. (Duplicates, the
 * inclusive page boundary, cost nothing and do not count.) */
#define MAX_REJECTED (2 * PAGE_LIMIT)
#define MAX_CONFLICTS 8
/* Successive writes at least this far apart (spec 4.6 timestamp ties). */
#define WRITE_PACE_MS 3

/* ---- sync ---- */

typedef struct {
  RdtState *state;     /* borrowed; not touched once cancelled */
  RdtApi *api;
  gint64 from;         /* of the page asked for */
  guint received;      /* messages in all pages */
  guint n_rejected;
  gchar *first_rejection;
} Sync;

static void
sync_free (gpointer p)
{
  Sync *s = p;

  g_object_unref (s->api);
  g_free (s->first_rejection);
  g_free (s);
}

static void sync_next (GTask *task);

static void
on_sync_page (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Sync *s = g_task_get_task_data (task);
  g_autoptr (GPtrArray) page = NULL;
  g_autoptr (GPtrArray) rejected = NULL;
  GError *error = NULL;
  gboolean has_more = FALSE;

  page = rdt_api_get_messages_finish (s->api, result, &has_more, &error);
  if (page == NULL || g_task_return_error_if_cancelled (task))
    {
      if (error != NULL)
        g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_chain_rejection_free);
  rdt_state_ingest (s->state, page, rejected);
  g_info ("state: fetched a page of %u state messages, %u refused%s",
          page->len, rejected->len, has_more ? " (more to come)" : "");
  s->received += page->len;
  s->n_rejected += rejected->len;
  if (rejected->len > 0 && s->first_rejection == NULL)
    {
      RdtChainRejection *r = rejected->pdata[0];

      s->first_rejection = g_strdup (r->error ? r->error->message : "");
    }
  if (!has_more)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  /* Paging by time needs the newest timestamp to move past where this page
   * began; a full page of one millisecond (or of messages that do not
   * link) cannot be paged. Measured against the page's own start, not the
   * state before this answer: another read of the same state (a create's
   * re-read after a 409) may have taken these entries in meanwhile. */
  if (rdt_state_get_newest_timestamp (s->state) <= s->from)
    {
      g_task_return_new_error (task, RDT_ERROR, RDT_ERROR_CHAIN, "%s",
                               _("the state log cannot be paged: the server "
                                 "keeps sending messages that do not link"));
      g_object_unref (task);
      return;
    }
  if (s->n_rejected > MAX_REJECTED)
    {
      g_task_return_new_error (task, RDT_ERROR, RDT_ERROR_CHAIN,
                               _("stopped reading the state log: the server "
                                 "sent %u entries that are not valid or not "
                                 "allowed (%s)"),
                               s->n_rejected, s->first_rejection);
      g_object_unref (task);
      return;
    }
  if (s->received >= MAX_SYNC_MESSAGES)
    {
      g_task_return_new_error (task, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                               _("the state log is longer than %u entries; "
                                 "the rest is read later"),
                               MAX_SYNC_MESSAGES);
      g_object_unref (task);
      return;
    }
  sync_next (task);
}

static void
sync_next (GTask *task)
{
  Sync *s = g_task_get_task_data (task);

  s->from = MAX (rdt_state_get_newest_timestamp (s->state), 0);
  /* Inclusive bound: the boundary entries come again (duplicates). */
  rdt_api_get_messages_async (s->api, STATE_TOPIC, s->from, -1,
                              PAGE_LIMIT, g_task_get_cancellable (task),
                              on_sync_page, task);
}

void
rdt_state_sync_async (RdtState *state, RdtApi *api, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Sync *s = g_new0 (Sync, 1);

  s->state = state;
  s->api = g_object_ref (api);
  g_task_set_source_tag (task, rdt_state_sync_async);
  g_task_set_task_data (task, s, sync_free);
  sync_next (task);
}

gboolean
rdt_state_sync_finish (RdtState *state, GAsyncResult *result,
                       guint *n_rejected, gchar **first_rejection,
                       GError **error)
{
  GTask *task = G_TASK (result);
  Sync *s = g_task_get_task_data (task);

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  if (n_rejected)
    *n_rejected = s->n_rejected;
  if (first_rejection)
    *first_rejection = g_strdup (s->first_rejection);
  return g_task_propagate_boolean (task, error);
}

/* ---- writes ---- */

typedef struct {
  RdtApi *api;
  GStrv paths, datas;
  guint n, next;
  gchar *head;            /* NULL = read it from the server */
  gboolean head_known;
  guint conflicts;
  RdtMessage *msg;        /* in flight */
  guint timer;
} Write;

static void
write_free (gpointer p)
{
  Write *w = p;

  if (w->timer)
    g_source_remove (w->timer);
  g_object_unref (w->api);
  g_strfreev (w->paths);
  g_strfreev (w->datas);
  g_free (w->head);
  g_clear_pointer (&w->msg, rdt_message_unref);
  g_free (w);
}

static void write_step (GTask *task);

static void
write_fail (GTask *task, GError *error)
{
  Write *w = g_task_get_task_data (task);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, _("Could not write %s: "), w->paths[w->next]);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
on_write_timer (gpointer user_data)
{
  GTask *task = user_data;
  Write *w = g_task_get_task_data (task);

  w->timer = 0;
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }
  write_step (task);
  return G_SOURCE_REMOVE;
}

static void
write_later (GTask *task, guint ms)
{
  Write *w = g_task_get_task_data (task);

  w->timer = g_timeout_add (ms, on_write_timer, task);
}

static void
on_posted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Write *w = g_task_get_task_data (task);
  GError *error = NULL;

  if (rdt_api_post_message_finish (w->api, result, &error) < 0)
    {
      g_clear_pointer (&w->msg, rdt_message_unref);
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT) &&
          ++w->conflicts < MAX_CONFLICTS)
        {
          g_info ("state: write conflict (409, %u); re-reading the head",
                  w->conflicts);
          /* Someone else wrote state meanwhile: re-read the head. */
          g_clear_error (&error);
          w->head_known = FALSE;
          write_later (task, (guint) g_random_int_range (5, 60));
          return;
        }
      write_fail (task, error);
      return;
    }
  g_free (w->head);
  w->head = g_strdup (w->msg->message_hash);
  w->head_known = TRUE;
  g_clear_pointer (&w->msg, rdt_message_unref);
  w->conflicts = 0;
  if (++w->next == w->n)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  write_later (task, WRITE_PACE_MS);
}

static void
post_current (GTask *task)
{
  Write *w = g_task_get_task_data (task);

  w->msg = rdt_message_new_signed (rdt_api_get_space_id (w->api), STATE_TOPIC,
                                   w->paths[w->next], w->head,
                                   w->datas[w->next],
                                   rdt_api_get_member_id (w->api),
                                   rdt_api_get_signing_key (w->api));
  rdt_api_post_message_async (w->api, w->msg, g_task_get_cancellable (task),
                              on_posted, task);
}

static void
on_head (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Write *w = g_task_get_task_data (task);
  g_autoptr (GPtrArray) newest = NULL;
  GError *error = NULL;

  newest = rdt_api_get_messages_finish (w->api, result, NULL, &error);
  if (newest == NULL)
    {
      write_fail (task, error);
      return;
    }
  g_free (w->head);
  w->head = newest->len > 0
      ? g_strdup (((RdtMessage *) newest->pdata[0])->message_hash) : NULL;
  w->head_known = TRUE;
  post_current (task);
}

static void
write_step (GTask *task)
{
  Write *w = g_task_get_task_data (task);

  if (w->head_known)
    {
      post_current (task);
      return;
    }
  /* The newest message of the state topic (spec 4.5, 4.6). */
  rdt_api_get_messages_async (w->api, STATE_TOPIC, 9999999999999, 0, 1,
                              g_task_get_cancellable (task), on_head, task);
}

void
rdt_state_write_async (RdtApi *api, const gchar *const *paths,
                       const gchar *const *datas, guint n,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (api, cancellable, callback, user_data);
  Write *w = g_new0 (Write, 1);

  g_return_if_fail (n > 0);
  w->api = g_object_ref (api);
  w->paths = g_new0 (gchar *, n + 1);
  w->datas = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      w->paths[i] = g_strdup (paths[i]);
      w->datas[i] = g_strdup (datas[i]);
    }
  w->n = n;
  g_task_set_source_tag (task, rdt_state_write_async);
  g_task_set_task_data (task, w, write_free);
  write_step (task);
}

gboolean
rdt_state_write_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- create-only write ---- */

typedef struct {
  RdtState *state;        /* borrowed; not touched once cancelled */
  RdtApi *api;
  gchar *path, *data;
  guint conflicts;
  RdtMessage *msg;        /* in flight */
  guint timer;
} Create;

static void
create_free (gpointer p)
{
  Create *c = p;

  if (c->timer)
    g_source_remove (c->timer);
  g_object_unref (c->api);
  g_free (c->path);
  g_free (c->data);
  g_clear_pointer (&c->msg, rdt_message_unref);
  g_free (c);
}

static void
create_fail (GTask *task, GError *error)
{
  Create *c = g_task_get_task_data (task);

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    g_prefix_error (&error, _("Could not write %s: "), c->path);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
on_created (GObject *source, GAsyncResult *result, gpointer user_data);

/* Posts the entry chained on the state's verified head, unless the state
 * has the path: then the server's compare-and-swap on that head makes
 * "absent" exact (nobody wrote it in between, or we get 409). */
static void
create_post (GTask *task)
{
  Create *c = g_task_get_task_data (task);

  if (rdt_state_lookup (c->state, c->path) != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                               _("%s has been written already"), c->path);
      g_object_unref (task);
      return;
    }
  c->msg = rdt_message_new_signed (rdt_api_get_space_id (c->api), STATE_TOPIC,
                                   c->path, rdt_state_get_head (c->state),
                                   c->data, rdt_api_get_member_id (c->api),
                                   rdt_api_get_signing_key (c->api));
  rdt_api_post_message_async (c->api, c->msg, g_task_get_cancellable (task),
                              on_created, task);
}

static void
on_create_synced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  /* state is not touched by the finish function */
  if (!rdt_state_sync_finish (NULL, result, NULL, NULL, &error))
    {
      create_fail (task, error);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  create_post (task);
}

static gboolean
on_create_timer (gpointer user_data)
{
  GTask *task = user_data;
  Create *c = g_task_get_task_data (task);

  c->timer = 0;
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }
  /* Someone wrote state meanwhile: read what, then decide again. */
  rdt_state_sync_async (c->state, c->api, g_task_get_cancellable (task),
                        on_create_synced, task);
  return G_SOURCE_REMOVE;
}

static void
on_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Create *c = g_task_get_task_data (task);
  GError *error = NULL;
  gint64 ts = rdt_api_post_message_finish (c->api, result, &error);

  if (ts < 0)
    {
      g_clear_pointer (&c->msg, rdt_message_unref);
      if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT) &&
          ++c->conflicts < MAX_CONFLICTS)
        {
          g_info ("state: create conflict (409, %u); trying again",
                  c->conflicts);
          g_clear_error (&error);
          c->timer = g_timeout_add ((guint) g_random_int_range (5, 60),
                                    on_create_timer, task);
          return;
        }
      create_fail (task, error);
      return;
    }
  if (!g_task_return_error_if_cancelled (task))
    {
      g_autoptr (GPtrArray) mine = g_ptr_array_new ();

      /* Our own entry, as the server stored it: the state moves on to it
       * (the head for the next write) without another read. */
      c->msg->server_timestamp = ts;
      g_ptr_array_add (mine, c->msg);
      rdt_state_ingest (c->state, mine, NULL);
      g_task_return_boolean (task, TRUE);
    }
  g_object_unref (task);
}

void
rdt_state_create_async (RdtState *state, RdtApi *api, const gchar *path,
                        const gchar *data, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (api, cancellable, callback, user_data);
  Create *c = g_new0 (Create, 1);

  g_return_if_fail (state != NULL && path != NULL && data != NULL);
  c->state = state;
  c->api = g_object_ref (api);
  c->path = g_strdup (path);
  c->data = g_strdup (data);
  g_task_set_source_tag (task, rdt_state_create_async);
  g_task_set_task_data (task, c, create_free);
  create_post (task);
}

gboolean
rdt_state_create_finish (RdtApi *api, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
