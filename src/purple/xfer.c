/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer.c - attachments in chats: /send-file, /fetch and inline images;
 * here the state per connection, operations, received descriptors and
 * the commands. xfer-send.c sends, xfer-fetch.c downloads, checks and
 * saves, xfer-image.c shows images inline, xfer-offer.c offers files as
 * libpurple transfers; xfer-private.h is what they share.
 *
 * Sending: stat the file (async) and check the size limit before reading
 * anything, read it with GIO async, encrypt it in a worker thread
 * (attachment.c: AES-GCM over a whole file would stall the UI), upload the
 * blob, then post the descriptor as an encrypted "file.upload" or
 * "chat.image" message. The blob is one GCM message (spec 10), so the
 * whole file is in memory once as plaintext and once as ciphertext; the
 * plaintext is dropped as soon as it is encrypted.
 *
 * Receiving: every attachment is an entry from its sender at its server
 * time, in chain order (transcript.c), with its number for "/fetch N <path>".
 * Nothing from the server is trusted: the blob must hash to its id (the
 * api checks, in a worker thread), then pass the GCM tag (worker thread),
 * before anything is shown or written; a warning says when it does not.
 *
 * Images are downloaded and shown inline by themselves, so what a member
 * can make us download is bounded: only images up to INLINE_MAX_BYTES
 * (bigger ones are treated like files), at most INLINE_RUNNING_MAX
 * downloads at once, the rest queued (the newest INLINE_QUEUED_MAX: a long
 * history or a flood only gets its latest images shown), one download per
 * blob however many descriptors name it, and the last few shown images
 * kept for repeats. The decrypted bytes must be the image format the
 * sender declared (magic bytes) with sane dimensions before the UI's image
 * loader sees them.
 *
 * Other files that another member sends live (not our own, not history)
 * are also offered as a libpurple incoming transfer, at most
 * OFFERS_OPEN_MAX questions at a time (beyond, the line says so); accepting
 * it runs the very steps /fetch runs. The "/fetch N" line stays, for
 * clients without a transfer UI.
 *
 * Operations in flight hold the connection's GCancellable, cancelled by
 * rdt_xfer_conn_free(), so a callback never touches a freed RdtConn. An
 * offered transfer has its own GCancellable instead (the user may cancel
 * it alone); rdt_xfer_conn_free() cancels every offer, which cancels it. */
#include "config.h"

#include <stdarg.h>
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

static GSList *xfer_cmd_ids;

static void
received_free (gpointer data)
{
  Received *r = data;

  rdt_attachment_free (r->att);
  g_free (r->topic_id);
  g_free (r->sender);
  g_free (r);
}

void
rdt_xfer_image_target_free (gpointer data)
{
  ImageTarget *t = data;

  g_free (t->topic_id);
  g_free (t->sender);
  g_free (t->filename);
  g_free (t->text_entry);
  g_free (t);
}

void
rdt_xfer_image_job_free (gpointer data)
{
  ImageJob *job = data;

  if (job == NULL)
    return;
  rdt_attachment_free (job->att);
  g_ptr_array_unref (job->targets);
  g_free (job);
}

void
rdt_xfer_cached_image_free (gpointer data)
{
  CachedImage *c = data;

  purple_imgstore_unref_by_id (c->img_id);
  rdt_attachment_free (c->att);
  g_free (c);
}


XferState *
rdt_xfer_state (RdtConn *rc)
{
  XferState *st = rc->transfers;

  if (st == NULL)
    {
      st = g_new0 (XferState, 1);
      st->cancel = g_cancellable_new ();
      st->received = g_ptr_array_new_with_free_func (received_free);
      st->first_index = 1;
      g_queue_init (&st->image_queue);
      g_queue_init (&st->image_cache);
      g_queue_init (&st->offline);
      st->image_jobs = g_hash_table_new (g_str_hash, g_str_equal);
      st->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) rdt_xfer_op_free);
      rc->transfers = st;
    }
  return st;
}


void
rdt_xfer_conn_free (RdtConn *rc)
{
  XferState *st = rc->transfers;

  if (st == NULL)
    return;
  while (st->offers != NULL)
    {
      PurpleXfer *xfer = st->offers->data;
      Op *op = xfer->data;
      gboolean asking = op->asking;

      /* Detaches its op (and takes xfer off st->offers): no callback
       * reaches rc any more. */
      rdt_xfer_recv_cancel (xfer);
      rdt_xfer_end_offer (xfer, asking);
    }
  if (st->pump_id != 0)
    g_source_remove (st->pump_id);
  /* Running image jobs belong to their ops, which see the cancellable. */
  g_queue_clear_full (&st->image_queue, rdt_xfer_image_job_free);
  g_hash_table_destroy (st->image_jobs);
  g_queue_clear_full (&st->image_cache, rdt_xfer_cached_image_free);
  g_hash_table_destroy (st->failed);
  g_queue_clear_full (&st->offline, (GDestroyNotify) rdt_xfer_op_free);
  g_cancellable_cancel (st->cancel);
  g_object_unref (st->cancel);
  g_ptr_array_unref (st->received);
  g_free (st);
  rc->transfers = NULL;
}

Op *
rdt_xfer_op_new (RdtConn *rc, const gchar *topic_id)
{
  Op *op = g_new0 (Op, 1);

  op->rc = rc;
  op->cancel = g_object_ref (rdt_xfer_state (rc)->cancel);
  op->topic_id = g_strdup (topic_id);
  op->t_start = g_get_monotonic_time ();
  return op;
}

void
rdt_xfer_op_free (Op *op)
{
  g_object_unref (op->cancel);
  g_free (op->topic_id);
  g_free (op->path);
  g_free (op->dir);
  g_free (op->filename);
  g_free (op->sender);
  g_free (op->fail_line);
  rdt_attachment_free (op->att);
  rdt_xfer_image_job_free (op->job);
  if (op->blob != NULL)
    g_bytes_unref (op->blob);
  g_clear_object (&op->out);
  g_free (op);
}


/* TRUE if the operation was cancelled (the connection is gone, or the
 * user cancelled its transfer): then op is freed. */
gboolean
rdt_xfer_op_dead (Op *op, const GError *error)
{
  if (g_cancellable_is_cancelled (op->cancel))
    {
      rdt_xfer_op_free (op);
      return TRUE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Not by our cancellable, so the connection is alive: an image job
       * still has its place in the queue's bookkeeping. */
      if (op->job != NULL)
        rdt_xfer_image_job_done (op);
      else
        rdt_xfer_op_free (op);
      return TRUE;
    }
  return FALSE;
}

void
rdt_xfer_op_say (Op *op, PurpleMessageFlags flags, const gchar *text)
{
  rdt_write_system (rdt_chat_for_topic (op->rc, op->topic_id), text, flags);
}

/* The local limit in bytes: account option, clamped to the server's. */
guint64
rdt_xfer_local_limit (RdtConn *rc)
{
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  gint mb = purple_account_get_int (account, RDT_XFER_OPTION_MAX_MB,
                                    RDT_XFER_DEFAULT_MAX_MB);
  guint64 bytes;

  if (mb <= 0)
    mb = RDT_XFER_DEFAULT_MAX_MB;
  bytes = (guint64) mb * 1024 * 1024;
  return MIN (bytes, RDT_ATTACHMENT_MAX_PLAINTEXT);
}

/* The biggest image downloaded by itself. */
guint64
rdt_xfer_inline_limit (RdtConn *rc)
{
  return MIN ((guint64) INLINE_MAX_BYTES, rdt_xfer_local_limit (rc));
}

PurpleAccountOption *
rdt_xfer_account_option_new (void)
{
  return purple_account_option_int_new (
      _("Largest attachment to send or download (MB, at most 100)"),
      RDT_XFER_OPTION_MAX_MB, RDT_XFER_DEFAULT_MAX_MB);
}


/* "4×3, 120 B" or "120 B": what the descriptor says of att. */
static gchar *
describe (const RdtAttachment *att)
{
  g_autofree gchar *size = att->size != 0 ? g_format_size (att->size)
                                          : g_strdup (_("unknown size"));

  if (att->width != 0 && att->height != 0)
    /* Translators: an image's width × height, then its size */
    return g_strdup_printf (_("%u×%u, %s"), att->width, att->height, size);
  return g_steal_pointer (&size);
}

static gchar *
escaped_printf (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

static gchar *
escaped_printf (const gchar *format, ...)
{
  va_list args;
  g_autofree gchar *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  return purple_markup_escape_text (text, -1);
}

gboolean
rdt_xfer_handle_message (RdtConn *rc, PurpleConvChat *chat,
                         const RdtSessionMessage *msg, const gchar *who,
                         PurpleMessageFlags flags)
{
  XferState *st;
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtAttachment) att = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *entry = NULL;
  g_autofree gchar *about = NULL;
  g_autofree gchar *over = NULL;
  time_t mtime = (time_t) (msg->timestamp / 1000);
  Received *r;
  guint number;
  gsize len = 0;
  const guint8 *data;
  gboolean image, show_inline, offer, capped = FALSE;

  if (msg == NULL || !rdt_attachment_type_is_attachment (msg->type))
    return FALSE;

  data = msg->payload != NULL ? g_bytes_get_data (msg->payload, &len) : NULL;
  att = rdt_attachment_parse (data, len, &error);
  if (att == NULL)
    {
      line = g_strdup_printf (_("%s sent an attachment that cannot be used: "
                                "%s"), who, error->message);
      rdt_write_system (chat, line, PURPLE_MESSAGE_ERROR);
      return TRUE;
    }

  st = rdt_xfer_state (rc);
  r = g_new0 (Received, 1);
  r->att = rdt_attachment_copy (att);
  r->topic_id = g_strdup (msg->topic_id);
  r->sender = g_strdup (who);
  g_ptr_array_add (st->received, r);
  if (st->received->len > MAX_REMEMBERED)
    {
      g_ptr_array_remove_index (st->received, 0);
      st->first_index++;
    }
  number = st->first_index + st->received->len - 1;

  /* Images small enough are shown where the UI can; bigger ones are
   * files. Live files from others are offered too; history would flood
   * the UI with old offers: /fetch covers those. */
  image = rdt_attachment_is_image (att) && att->size <= rdt_xfer_inline_limit (rc);
  show_inline = image && rc->inline_images;
  offer = !image && !msg->own && !msg->backlog;
  if (offer)
    {
      over = rdt_xfer_over_limit_line (rc, att);
      capped = over == NULL && st->offers_asking >= OFFERS_OPEN_MAX;
    }

  /* One entry from the sender at the message's time, logged like text. */
  about = describe (att);
  if (image)
    /* Translators: "sent image “dot.png” (4×3, 120 B) — /fetch 2" */
    entry = escaped_printf (_("sent image “%s” (%s) — /fetch %u"),
                            att->filename, about, number);
  else if (rdt_attachment_is_image (att) && rc->inline_images)
    entry = escaped_printf (_("sent image “%s” (%s), too large to show "
                              "inline — /fetch %u"),
                            att->filename, about, number);
  else
    entry = escaped_printf (_("sent file “%s” (%s) — /fetch %u"),
                            att->filename, about, number);
  if (show_inline)
    {
      g_autofree gchar *placeholder = escaped_printf (
          _("sent image “%s” (%s) — loading, it follows"), att->filename,
          about);

      rdt_xfer_request_image (rc, msg, who, flags, g_steal_pointer (&att), number,
                     g_steal_pointer (&entry), placeholder);
      return TRUE;
    }
  rdt_transcript_write (rc, msg->topic_id, who, entry, flags, mtime, 0);

  if (over != NULL)
    rdt_write_system (chat, over, PURPLE_MESSAGE_ERROR);
  else if (capped)
    {
      line = g_strdup_printf (_("“%s” is not offered as a transfer: %u "
                                "offers already wait for an answer. Type "
                                "/fetch %u <path> to save it."),
                              att->filename, st->offers_asking, number);
      rdt_write_system (chat, line, PURPLE_MESSAGE_SYSTEM);
    }
  else if (offer)
    rdt_xfer_offer (rc, msg->topic_id, who, g_steal_pointer (&att));
  return TRUE;
}


/* ---- commands ---- */

void
rdt_xfer_register_commands (void)
{
  PurpleCmdFlag f = PURPLE_CMD_FLAG_CHAT | PURPLE_CMD_FLAG_PRPL_ONLY;

  xfer_cmd_ids = g_slist_prepend (xfer_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("send-file", "s", PURPLE_CMD_P_PRPL, f,
                           RDT_PRPL_ID, rdt_xfer_cmd_send_file,
                           _("send-file &lt;path&gt;: encrypt a file and send "
                             "it to this chat."), NULL)));
  xfer_cmd_ids = g_slist_prepend (xfer_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("fetch", "s", PURPLE_CMD_P_PRPL, f,
                           RDT_PRPL_ID, rdt_xfer_cmd_fetch,
                           _("fetch &lt;number&gt; &lt;path&gt;: download, "
                             "verify and decrypt an attachment and save it. "
                             "A path ending in / is a directory: the file "
                             "gets the sender's name there and never "
                             "replaces a file (“name (1).ext” instead). Any "
                             "other path is yours: an existing file there is "
                             "replaced. ~/ is your home directory."),
                           NULL)));
}

void
rdt_xfer_unregister_commands (void)
{
  for (GSList *l = xfer_cmd_ids; l != NULL; l = l->next)
    purple_cmd_unregister (GPOINTER_TO_UINT (l->data));
  g_slist_free (xfer_cmd_ids);
  xfer_cmd_ids = NULL;
}
