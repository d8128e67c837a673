/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer-image.c - images shown inline by themselves, bounded (see xfer.c):
 * one download per blob, a small queue and cache, the entry held in its
 * place meanwhile (transcript.c). */
#include "config.h"

#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <gio/gio.h>

#include <cmds.h>
#include <conversation.h>
#include <ft.h>
#include <imgstore.h>
#include <request.h>
#include <util.h>

#include "api.h"
#include "attachment.h"
#include "crypto.h"
#include "transcript.h"
#include "id.h"
#include "members.h"
#include "xfer-private.h"

/* ---- automatic image downloads ---- */


/* The entry of an image shown inline: its name, then the image. */
static gchar *
image_entry_html (const gchar *filename, gint img_id)
{
  g_autofree gchar *text = g_strdup_printf (_("sent image “%s”"), filename);
  g_autofree gchar *escaped = purple_markup_escape_text (text, -1);

  return g_strdup_printf ("%s<br><img id=\"%d\">", escaped, img_id);
}

/* The image in its held entry (transcript.c). */
static void
show_image_to (RdtConn *rc, ImageTarget *t, gint img_id)
{
  g_autofree gchar *html = image_entry_html (t->filename, img_id);

  rdt_transcript_fill (rc, t->ticket, html, PURPLE_MESSAGE_IMAGES, img_id);
  t->ticket = 0;
}

/* No image comes for t: its entry says how to get it instead. */
static void
give_up_image (RdtConn *rc, ImageTarget *t)
{
  if (t->ticket == 0)
    return;
  rdt_transcript_fill (rc, t->ticket, t->text_entry, 0, 0);
  t->ticket = 0;
}

static void
say_to (RdtConn *rc, const ImageTarget *t, PurpleMessageFlags flags,
        const gchar *line)
{
  rdt_write_system (rdt_chat_for_topic (rc, t->topic_id), line, flags);
}

/* One download serves a descriptor only if it names the very same
 * attachment: a descriptor with another key (or size) for a known blob
 * is checked on its own. */
static gboolean
same_attachment (const RdtAttachment *a, const RdtAttachment *b)
{
  return g_strcmp0 (a->blob_id, b->blob_id) == 0 && a->size == b->size
         && memcmp (a->dek, b->dek, RDT_KEY_LENGTH) == 0;
}

static gboolean pump_images (gpointer data);

static void
pump_later (RdtConn *rc)
{
  XferState *st = rc->transfers;

  if (st->pump_id == 0)
    st->pump_id = g_idle_add (pump_images, rc);
}

static void
image_job_unregister (XferState *st, ImageJob *job)
{
  if (job->registered)
    g_hash_table_remove (st->image_jobs, job->att->blob_id);
  job->registered = FALSE;
}

/* A running job is over (its op is done): the next may start. Entries
 * still held get their text. */
void
rdt_xfer_image_job_done (Op *op)
{
  XferState *st = op->rc->transfers;

  for (guint i = 0; i < op->job->targets->len; i++)
    give_up_image (op->rc, op->job->targets->pdata[i]);
  image_job_unregister (st, op->job);
  st->images_running--;
  pump_later (op->rc);
  rdt_xfer_op_free (op);
}


/* A download or check of an image failed: every descriptor it served
 * gets the line, with its own name. Frees op. */
void
rdt_xfer_image_job_fail (Op *op, ImageFailure how, const gchar *message)
{
  for (guint i = 0; i < op->job->targets->len; i++)
    {
      ImageTarget *t = op->job->targets->pdata[i];
      g_autofree gchar *line = NULL;

      switch (how)
        {
        case IMAGE_NOT_DOWNLOADED:
          line = g_strdup_printf (_("Could not download “%s”: %s"),
                                  t->filename, message);
          break;
        case IMAGE_NOT_VERIFIED:
          line = g_strdup_printf (_("Attachment “%s” from %s failed "
                                    "verification and was not shown or "
                                    "saved: %s"),
                                  t->filename, t->sender, message);
          break;
        case IMAGE_NOT_AN_IMAGE:
        default:
          /* Translators: "“photo.png” from Alice is not shown: it was
           * announced as image/png but is image/gif. Type /fetch 3 <path>
           * to save it." */
          line = g_strdup_printf (_("“%s” from %s is not shown: %s. Type "
                                    "/fetch %u <path> to save it."),
                                  t->filename, t->sender, message, t->number);
          break;
        }
      give_up_image (op->rc, t);
      say_to (op->rc, t, PURPLE_MESSAGE_ERROR, line);
    }
  rdt_xfer_image_job_done (op);
}

/* Checked and decrypted: shown to every descriptor, if the bytes are the
 * image they claim to be. Takes plain. Frees op. */
void
rdt_xfer_image_job_show (Op *op, GBytes *plain)
{
  XferState *st = op->rc->transfers;
  g_autoptr (GError) error = NULL;
  CachedImage *cached;
  gpointer data;
  gsize len;
  gint img_id;

  if (!rdt_attachment_check_image (g_bytes_get_data (plain, NULL),
                                   g_bytes_get_size (plain),
                                   op->att->content_type, &error))
    {
      g_bytes_unref (plain);
      /* Translators: "“photo.png” from Alice is not shown: it was announced
       * as image/png but is image/gif. Type /fetch 3 <path> to save it." */
      rdt_xfer_image_job_fail (op, IMAGE_NOT_AN_IMAGE, error->message);
      return;
    }
  /* Usually no copy: the plaintext has no other owner by now. */
  data = g_bytes_unref_to_data (plain, &len);
  img_id = purple_imgstore_add_with_id (data, len, op->filename);
  if (img_id == 0)
    {
      rdt_xfer_image_job_done (op);
      return;
    }
  for (guint i = 0; i < op->job->targets->len; i++)
    show_image_to (op->rc, op->job->targets->pdata[i], img_id);
  /* Our reference now belongs to the cache. */
  cached = g_new0 (CachedImage, 1);
  cached->att = rdt_attachment_copy (op->att);
  cached->img_id = img_id;
  g_queue_push_head (&st->image_cache, cached);
  while (g_queue_get_length (&st->image_cache) > INLINE_CACHE_MAX)
    rdt_xfer_cached_image_free (g_queue_pop_tail (&st->image_cache));
  rdt_xfer_image_job_done (op);
}

static void
start_image_job (RdtConn *rc, ImageJob *job)
{
  ImageTarget *first = job->targets->pdata[0];
  Op *op = rdt_xfer_op_new (rc, first->topic_id);

  op->filename = g_strdup (first->filename);
  op->sender = g_strdup (first->sender);
  op->att = rdt_attachment_copy (job->att);
  op->job = job;
  rdt_xfer_state (rc)->images_running++;
  rdt_xfer_start_download (op, rdt_xfer_inline_limit (rc));
}

static gboolean
pump_images (gpointer data)
{
  RdtConn *rc = data;
  XferState *st = rc->transfers;

  st->pump_id = 0;
  while (st->images_running < INLINE_RUNNING_MAX
         && !g_queue_is_empty (&st->image_queue))
    start_image_job (rc, g_queue_pop_head (&st->image_queue));
  return G_SOURCE_REMOVE;
}

/* The queue is full: the oldest waiting job goes. Its descriptors keep
 * their /fetch line; live ones are told why no image comes. */
static void
drop_oldest_queued (RdtConn *rc)
{
  XferState *st = rc->transfers;
  ImageJob *job = g_queue_pop_head (&st->image_queue);

  image_job_unregister (st, job);
  for (guint i = 0; i < job->targets->len; i++)
    {
      ImageTarget *t = job->targets->pdata[i];
      g_autofree gchar *line = NULL;

      give_up_image (rc, t);
      if (t->backlog)
        continue;   /* history: only its newest images are shown */
      line = g_strdup_printf (_("“%s” is not shown: too many images came at "
                                "once. Type /fetch %u <path> to save it."),
                              t->filename, t->number);
      say_to (rc, t, PURPLE_MESSAGE_SYSTEM, line);
    }
  rdt_xfer_image_job_free (job);
}

/* Show an image descriptor inline, in its entry from who: from the cache,
 * by joining the download of the same attachment, or by queueing a new
 * one (the entry held meanwhile). Takes text_entry, the entry if no image
 * comes, and placeholder, the entry if it comes late. */
void
rdt_xfer_request_image (RdtConn *rc, const RdtSessionMessage *msg, const gchar *who,
               PurpleMessageFlags flags, RdtAttachment *att, guint number,
               gchar *text_entry, const gchar *placeholder)
{
  XferState *st = rdt_xfer_state (rc);
  ImageTarget *t = g_new0 (ImageTarget, 1);
  time_t mtime = (time_t) (msg->timestamp / 1000);
  ImageJob *job;

  t->topic_id = g_strdup (msg->topic_id);
  t->sender = g_strdup (who);
  t->filename = g_strdup (att->filename);
  t->own = msg->own;
  t->backlog = msg->backlog;
  t->number = number;
  t->text_entry = text_entry;

  for (GList *l = st->image_cache.head; l != NULL; l = l->next)
    {
      CachedImage *c = l->data;

      if (same_attachment (c->att, att))
        {
          g_autofree gchar *html = image_entry_html (t->filename, c->img_id);

          rdt_transcript_write (rc, t->topic_id, who, html,
                             flags | PURPLE_MESSAGE_IMAGES, mtime, c->img_id);
          g_queue_unlink (&st->image_cache, l);
          g_queue_push_head_link (&st->image_cache, l);
          rdt_xfer_image_target_free (t);
          rdt_attachment_free (att);
          return;
        }
    }

  t->ticket = rdt_transcript_hold (rc, t->topic_id, who, flags, mtime,
                                placeholder);
  job = g_hash_table_lookup (st->image_jobs, att->blob_id);
  if (job != NULL && same_attachment (job->att, att))
    {
      g_ptr_array_add (job->targets, t);
      rdt_attachment_free (att);
      return;
    }

  job = g_new0 (ImageJob, 1);
  job->att = att;
  job->targets = g_ptr_array_new_with_free_func (rdt_xfer_image_target_free);
  g_ptr_array_add (job->targets, t);
  if (!g_hash_table_contains (st->image_jobs, att->blob_id))
    {
      g_hash_table_insert (st->image_jobs, att->blob_id, job);
      job->registered = TRUE;
    }
  if (g_queue_get_length (&st->image_queue) >= INLINE_QUEUED_MAX)
    drop_oldest_queued (rc);
  g_queue_push_tail (&st->image_queue, job);
  /* Not at once: a history page comes in one go, and only its newest
   * images should be fetched. */
  pump_later (rc);
}
