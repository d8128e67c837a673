/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer.c - attachments in chats: /send-file, /fetch and inline images.
 *
 * Sending: stat the file (async) and check the size limit before reading
 * anything, read it with GIO async, encrypt it in a worker thread
 * (attachment.c: AES-GCM over a whole file would stall the UI), upload the
 * blob, then post the descriptor as an encrypted "file.upload" or
 * "chat.image" message. The blob is one GCM message (spec 10), so the
 * whole file is in memory once as plaintext and once as ciphertext; the
 * plaintext is dropped as soon as it is encrypted.
 *
 * Receiving: every attachment gets a numbered line "/fetch N <path>".
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
#include "display.h"
#include "id.h"
#include "members.h"
#include "xfer.h"

/* Received attachments remembered for /fetch, per connection. */
#define MAX_REMEMBERED 200
/* Automatic image downloads (see the top): an image bigger than this (or
 * than the download limit) is only downloaded when asked for. */
#define INLINE_MAX_BYTES    (5 * 1024 * 1024)
#define INLINE_RUNNING_MAX  2
#define INLINE_QUEUED_MAX   8
#define INLINE_CACHE_MAX    4
/* Open "X wants to send you F" questions, per connection. */
#define OFFERS_OPEN_MAX     3
/* "name (1).ext" .. "name (N).ext" before /fetch gives up. */
#define UNIQUE_NAME_TRIES   100

typedef struct {
  RdtAttachment *att;
  gchar *topic_id;
  gchar *sender;
} Received;

/* One descriptor an automatic image download serves. */
typedef struct {
  gchar *topic_id;
  gchar *sender;          /* chat nick */
  gchar *filename;
  gboolean own;
  gboolean backlog;
  guint number;           /* its /fetch number */
  guint64 ticket;         /* its held entry (display.c), 0 once filled */
  gchar *text_entry;      /* the entry without the image (html) */
} ImageTarget;

/* One automatic download of an image blob, for every descriptor of that
 * blob (same key and size) that comes while it is queued or running. */
typedef struct {
  RdtAttachment *att;
  GPtrArray *targets;     /* ImageTarget* */
  gboolean registered;    /* in XferState.image_jobs under att->blob_id */
} ImageJob;

/* An image shown lately, kept in the image store for repeats. */
typedef struct {
  RdtAttachment *att;
  gint img_id;            /* a reference of ours */
} CachedImage;

typedef struct {
  GCancellable *cancel;
  GPtrArray *received;   /* Received*, index + first_index = /fetch N */
  guint first_index;     /* number of the oldest remembered entry */
  GList *offers;         /* PurpleXfer* offered or running, each with its
                          * Op in xfer->data */
  guint offers_asking;   /* offers whose question is not answered yet */
  GQueue image_queue;    /* ImageJob* waiting, oldest first (owned) */
  GHashTable *image_jobs;   /* blob id -> ImageJob*, queued or running */
  guint images_running;  /* their ops own the running jobs */
  guint pump_id;         /* idle that starts queued jobs */
  GQueue image_cache;    /* CachedImage*, newest first */
  GHashTable *failed;    /* topic id -> Op*: the last upload that failed
                          * there, encrypted and ready for /retry */
} XferState;

/* One operation in flight. */
typedef struct {
  RdtConn *rc;            /* valid while !g_cancellable_is_cancelled */
  GCancellable *cancel;
  gchar *topic_id;
  gchar *path;            /* send: source; fetch: destination */
  gchar *dir;             /* fetch into a directory: where path is made */
  gchar *filename;
  gchar *sender;
  RdtAttachment *att;
  GBytes *blob;
  guint64 max_size;
  ImageJob *job;          /* automatic image download: whom it serves */
  PurpleXfer *xfer;       /* incoming transfer this op serves, or NULL */
  gboolean asking;        /* offered; the question is not answered yet */
  gboolean started;       /* xfer accepted: a download is in flight */
  gchar *fail_line;       /* xfer accepted but refused: said from an idle */
  GOutputStream *out;     /* fetch into a directory: the new file */
  guint attempt;          /* ... and its number, for "name (n).ext" */
  gint64 t_start;
  guint quarters_said;    /* upload progress lines shown (25% steps) */
} Op;

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

static void
image_target_free (gpointer data)
{
  ImageTarget *t = data;

  g_free (t->topic_id);
  g_free (t->sender);
  g_free (t->filename);
  g_free (t->text_entry);
  g_free (t);
}

static void
image_job_free (gpointer data)
{
  ImageJob *job = data;

  if (job == NULL)
    return;
  rdt_attachment_free (job->att);
  g_ptr_array_unref (job->targets);
  g_free (job);
}

static void
cached_image_free (gpointer data)
{
  CachedImage *c = data;

  purple_imgstore_unref_by_id (c->img_id);
  rdt_attachment_free (c->att);
  g_free (c);
}

static void op_free (Op *op);

static XferState *
state_of (RdtConn *rc)
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
      st->image_jobs = g_hash_table_new (g_str_hash, g_str_equal);
      st->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) op_free);
      rc->transfers = st;
    }
  return st;
}

static void recv_cancel (PurpleXfer *xfer);
static void end_offer (PurpleXfer *xfer, gboolean asking);

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
      recv_cancel (xfer);
      end_offer (xfer, asking);
    }
  if (st->pump_id != 0)
    g_source_remove (st->pump_id);
  /* Running image jobs belong to their ops, which see the cancellable. */
  g_queue_clear_full (&st->image_queue, image_job_free);
  g_hash_table_destroy (st->image_jobs);
  g_queue_clear_full (&st->image_cache, cached_image_free);
  g_hash_table_destroy (st->failed);
  g_cancellable_cancel (st->cancel);
  g_object_unref (st->cancel);
  g_ptr_array_unref (st->received);
  g_free (st);
  rc->transfers = NULL;
}

static Op *
op_new (RdtConn *rc, const gchar *topic_id)
{
  Op *op = g_new0 (Op, 1);

  op->rc = rc;
  op->cancel = g_object_ref (state_of (rc)->cancel);
  op->topic_id = g_strdup (topic_id);
  op->t_start = g_get_monotonic_time ();
  return op;
}

static void
op_free (Op *op)
{
  g_object_unref (op->cancel);
  g_free (op->topic_id);
  g_free (op->path);
  g_free (op->dir);
  g_free (op->filename);
  g_free (op->sender);
  g_free (op->fail_line);
  rdt_attachment_free (op->att);
  image_job_free (op->job);
  if (op->blob != NULL)
    g_bytes_unref (op->blob);
  g_clear_object (&op->out);
  g_free (op);
}

static void image_job_done (Op *op);

/* TRUE if the operation was cancelled (the connection is gone, or the
 * user cancelled its transfer): then op is freed. */
static gboolean
op_dead (Op *op, const GError *error)
{
  if (g_cancellable_is_cancelled (op->cancel))
    {
      op_free (op);
      return TRUE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* Not by our cancellable, so the connection is alive: an image job
       * still has its place in the queue's bookkeeping. */
      if (op->job != NULL)
        image_job_done (op);
      else
        op_free (op);
      return TRUE;
    }
  return FALSE;
}

static void
op_say (Op *op, PurpleMessageFlags flags, const gchar *text)
{
  rdt_write_system (rdt_chat_for_topic (op->rc, op->topic_id), text, flags);
}

/* The local limit in bytes: account option, clamped to the server's. */
static guint64
local_limit (RdtConn *rc)
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
static guint64
inline_limit (RdtConn *rc)
{
  return MIN ((guint64) INLINE_MAX_BYTES, local_limit (rc));
}

PurpleAccountOption *
rdt_xfer_account_option_new (void)
{
  return purple_account_option_int_new (
      _("Largest attachment to send or download (MB, at most 100)"),
      RDT_XFER_OPTION_MAX_MB, RDT_XFER_DEFAULT_MAX_MB);
}

/* ---- sending ---- */

static void
send_uploaded (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *json = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *size_str = NULL;
  const gchar *type;
  gsize jlen;
  guint64 send_id;

  rdt_api_put_blob_finish (RDT_API (src), res, &error);
  if (op_dead (op, error))
    return;
  if (error != NULL)
    {
      /* Nothing the user sent is lost: the encrypted blob stays, and
       * /retry uploads it again (the last failure of each chat). */
      line = g_strdup_printf (_("Could not upload “%s”: %s. Type /retry to "
                                "send it again."), op->filename,
                              error->message);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op->quarters_said = 0;
      g_hash_table_replace (state_of (op->rc)->failed, g_strdup (op->topic_id),
                            op);
      return;
    }

  type = rdt_attachment_is_image (op->att) ? RDT_ATTACHMENT_TYPE_IMAGE
                                           : RDT_ATTACHMENT_TYPE_FILE;
  json = rdt_attachment_to_json (op->att, &jlen);
  send_id = rdt_session_send_payload (op->rc->session, op->topic_id, type,
                                      (const guint8 *) json, jlen, &error);
  /* The descriptor holds the DEK in clear text until encrypted. */
  rdt_wipe (json, jlen);
  if (send_id == 0)
    {
      line = g_strdup_printf (_("Uploaded “%s” but could not announce it: %s"),
                              op->filename, error->message);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
    }
  else
    {
      /* If the announcement fails, chat.c's "not sent ... /retry" line
       * names the file (the session keeps the message for /retry). */
      g_hash_table_insert (op->rc->pending_text,
                           g_memdup2 (&send_id, sizeof send_id),
                           g_strdup_printf (_("file %s"), op->filename));
      size_str = g_format_size (op->att->size);
      line = g_strdup_printf (_("Uploaded “%s” (%s) in %.1f s."),
                              op->filename, size_str,
                              (g_get_monotonic_time () - op->t_start) / 1e6);
      op_say (op, PURPLE_MESSAGE_SYSTEM, line);
    }
  op_free (op);
}

/* Progress comes only while the upload runs and op->cancel is not
 * cancelled, so op and op->rc are alive. One line per 25% step (not 100%:
 * the "Uploaded" line says that), and only for big files, so the
 * conversation is not flooded. A retry after re-authentication restarts
 * at 0; steps already shown are not repeated. */
#define PROGRESS_MIN_SIZE (1024 * 1024)

static void
send_progress (goffset sent, goffset total, gpointer data)
{
  Op *op = data;
  g_autofree gchar *line = NULL;
  guint quarters;

  if (total <= PROGRESS_MIN_SIZE)
    return;
  quarters = (guint) (sent * 4 / total);
  if (quarters >= 4 || quarters <= op->quarters_said)
    return;
  op->quarters_said = quarters;
  line = g_strdup_printf (_("Uploading “%s”: %u%%"), op->filename,
                          quarters * 25);
  op_say (op, PURPLE_MESSAGE_SYSTEM, line);
}

static void
upload (Op *op)
{
  op->t_start = g_get_monotonic_time ();
  rdt_api_put_blob_with_progress_async (rdt_session_get_api (op->rc->session),
                                        op->att->blob_id, op->blob,
                                        send_progress, op, op->cancel,
                                        send_uploaded, op);
}

gboolean
rdt_xfer_retry (RdtConn *rc, const gchar *topic_id)
{
  XferState *st = rc->transfers;
  gpointer key, value;
  g_autofree gchar *line = NULL;
  Op *op;

  if (st == NULL ||
      !g_hash_table_steal_extended (st->failed, topic_id, &key, &value))
    return FALSE;
  g_free (key);
  op = value;
  line = g_strdup_printf (_("Uploading “%s” again…"), op->filename);
  op_say (op, PURPLE_MESSAGE_SYSTEM, line);
  upload (op);
  return TRUE;
}

static void
send_encrypted (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  RdtAttachment *att = NULL;
  GBytes *blob;
  g_autofree gchar *line = NULL;
  g_autofree gchar *size_str = NULL;

  blob = rdt_attachment_encrypt_finish (res, &att, &error);
  if (op_dead (op, error))
    {
      if (blob != NULL)
        g_bytes_unref (blob);
      rdt_attachment_free (att);
      return;
    }
  if (blob == NULL)
    {
      line = g_strdup_printf (_("Could not send “%s”: %s"), op->filename,
                              error->message);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op_free (op);
      return;
    }
  att->filename = g_strdup (op->filename);
  att->content_type = g_strdup (op->att->content_type);
  rdt_attachment_free (op->att);
  op->att = att;

  size_str = g_format_size (g_bytes_get_size (blob));
  line = g_strdup_printf (_("Uploading “%s” (%s)…"), op->filename, size_str);
  op_say (op, PURPLE_MESSAGE_SYSTEM, line);
  op->blob = blob;    /* kept for /retry */
  upload (op);
}

/* The bytes of a file to send (read from disk, or an image the user put
 * into the message): checked against the limit, then encrypted off the
 * main loop. Takes op. */
static void
send_data (Op *op, GBytes *data)
{
  gsize len = g_bytes_get_size (data);

  /* a file may have grown since it was stat'ed */
  if (len > op->max_size)
    {
      g_autofree gchar *lim = g_format_size (op->max_size);
      g_autofree gchar *line = g_strdup_printf (
          _("“%s” is too large to send (the limit is %s)."), op->filename,
          lim);

      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op_free (op);
      return;
    }
  op->att = rdt_attachment_new ();
  op->att->content_type =
    rdt_attachment_guess_content_type (op->filename,
                                       g_bytes_get_data (data, NULL),
                                       MIN (len, 4096));
  rdt_attachment_encrypt_async (data, op->max_size, op->cancel,
                                send_encrypted, op);
}

void
rdt_xfer_send_bytes (RdtConn *rc, const gchar *topic_id,
                     const gchar *filename, GBytes *data)
{
  Op *op = op_new (rc, topic_id);

  op->filename = rdt_attachment_sanitize_filename (filename);
  op->max_size = local_limit (rc);
  send_data (op, data);
}

static void
send_loaded (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) data = NULL;
  gchar *contents = NULL;
  gsize len = 0;
  g_autofree gchar *line = NULL;

  g_file_load_contents_finish (G_FILE (src), res, &contents, &len, NULL,
                               &error);
  if (op_dead (op, error))
    {
      g_free (contents);
      return;
    }
  if (error != NULL)
    {
      line = g_strdup_printf (_("Could not read “%s”: %s"), op->path,
                              error->message);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op_free (op);
      return;
    }
  data = g_bytes_new_take (contents, len);
  send_data (op, data);
}

static void
send_stat_done (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GFileInfo) info = NULL;
  g_autofree gchar *line = NULL;
  guint64 size;

  info = g_file_query_info_finish (G_FILE (src), res, &error);
  if (op_dead (op, error))
    return;
  if (info == NULL)
    {
      line = g_strdup_printf (_("Could not read “%s”: %s"), op->path,
                              error->message);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op_free (op);
      return;
    }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      line = g_strdup_printf (_("“%s” is not a regular file."), op->path);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op_free (op);
      return;
    }
  size = (guint64) g_file_info_get_size (info);
  if (size > op->max_size)
    {
      g_autofree gchar *have = g_format_size (size);
      g_autofree gchar *lim = g_format_size (op->max_size);
      line = g_strdup_printf (_("“%s” is too large to send: %s, the limit is "
                                "%s (account option, server maximum 100 MB)."),
                              op->filename, have, lim);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op_free (op);
      return;
    }
  g_file_load_contents_async (G_FILE (src), op->cancel, send_loaded, op);
}

void
rdt_xfer_send_file (RdtConn *rc, const gchar *topic_id, const gchar *path)
{
  g_autoptr (GFile) file = NULL;
  g_autofree gchar *base = NULL;
  Op *op = op_new (rc, topic_id);

  op->path = g_strdup (path);
  file = g_file_new_for_commandline_arg (path);
  base = g_file_get_basename (file);
  op->filename = rdt_attachment_sanitize_filename (base);
  op->max_size = local_limit (rc);
  g_file_query_info_async (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                           G_FILE_ATTRIBUTE_STANDARD_TYPE,
                           G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT,
                           op->cancel, send_stat_done, op);
}

/* ---- receiving ---- */

/* Unlink op and its transfer (if any) so that neither reaches the other
 * any more; returns the transfer, which the caller finishes. */
static PurpleXfer *
op_take_xfer (Op *op)
{
  PurpleXfer *xfer = op->xfer;
  XferState *st;

  if (xfer == NULL)
    return NULL;
  /* An attached op's connection is alive: rdt_xfer_conn_free() detaches
   * every offer before the state goes. */
  st = op->rc->transfers;
  st->offers = g_list_remove (st->offers, xfer);
  if (op->asking)
    {
      op->asking = FALSE;
      st->offers_asking--;
    }
  xfer->data = NULL;
  op->xfer = NULL;
  return xfer;
}

/* A receive failed: say so in the chat and, for a transfer, in the
 * transfer UI too, then end it. Frees op. Never from inside a callback of
 * libpurple's transfer dialogs: purple_xfer_cancel_local() closes them. */
static void
op_fail (Op *op, const gchar *line)
{
  PurpleXfer *xfer = op_take_xfer (op);

  op_say (op, PURPLE_MESSAGE_ERROR, line);
  if (xfer != NULL)
    {
      purple_xfer_error (PURPLE_XFER_RECEIVE, purple_xfer_get_account (xfer),
                         purple_xfer_get_remote_user (xfer), line);
      purple_xfer_cancel_local (xfer);
    }
  op_free (op);
}

/* ---- automatic image downloads ---- */

static void start_download (Op *op, guint64 limit);

/* The entry of an image shown inline: its name, then the image. */
static gchar *
image_entry_html (const gchar *filename, gint img_id)
{
  g_autofree gchar *text = g_strdup_printf (_("sent image “%s”"), filename);
  g_autofree gchar *escaped = purple_markup_escape_text (text, -1);

  return g_strdup_printf ("%s<br><img id=\"%d\">", escaped, img_id);
}

/* The image in its held entry (display.c). */
static void
show_image_to (RdtConn *rc, ImageTarget *t, gint img_id)
{
  g_autofree gchar *html = image_entry_html (t->filename, img_id);

  rdt_display_fill (rc, t->ticket, html, PURPLE_MESSAGE_IMAGES, img_id);
  t->ticket = 0;
}

/* No image comes for t: its entry says how to get it instead. */
static void
give_up_image (RdtConn *rc, ImageTarget *t)
{
  if (t->ticket == 0)
    return;
  rdt_display_fill (rc, t->ticket, t->text_entry, 0, 0);
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
static void
image_job_done (Op *op)
{
  XferState *st = op->rc->transfers;

  for (guint i = 0; i < op->job->targets->len; i++)
    give_up_image (op->rc, op->job->targets->pdata[i]);
  image_job_unregister (st, op->job);
  st->images_running--;
  pump_later (op->rc);
  op_free (op);
}

typedef enum {
  IMAGE_NOT_DOWNLOADED,
  IMAGE_NOT_VERIFIED,
  IMAGE_NOT_AN_IMAGE,
} ImageFailure;

/* A download or check of an image failed: every descriptor it served
 * gets the line, with its own name. Frees op. */
static void
image_job_fail (Op *op, ImageFailure how, const gchar *message)
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
  image_job_done (op);
}

/* Checked and decrypted: shown to every descriptor, if the bytes are the
 * image they claim to be. Takes plain. Frees op. */
static void
image_job_show (Op *op, GBytes *plain)
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
      image_job_fail (op, IMAGE_NOT_AN_IMAGE, error->message);
      return;
    }
  /* Usually no copy: the plaintext has no other owner by now. */
  data = g_bytes_unref_to_data (plain, &len);
  img_id = purple_imgstore_add_with_id (data, len, op->filename);
  if (img_id == 0)
    {
      image_job_done (op);
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
    cached_image_free (g_queue_pop_tail (&st->image_cache));
  image_job_done (op);
}

static void
start_image_job (RdtConn *rc, ImageJob *job)
{
  ImageTarget *first = job->targets->pdata[0];
  Op *op = op_new (rc, first->topic_id);

  op->filename = g_strdup (first->filename);
  op->sender = g_strdup (first->sender);
  op->att = rdt_attachment_copy (job->att);
  op->job = job;
  state_of (rc)->images_running++;
  start_download (op, inline_limit (rc));
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
  image_job_free (job);
}

/* Show an image descriptor inline, in its entry from who: from the cache,
 * by joining the download of the same attachment, or by queueing a new
 * one (the entry held meanwhile). Takes text_entry, the entry if no image
 * comes, and placeholder, the entry if it comes late. */
static void
request_image (RdtConn *rc, const RdtSessionMessage *msg, const gchar *who,
               PurpleMessageFlags flags, RdtAttachment *att, guint number,
               gchar *text_entry, const gchar *placeholder)
{
  XferState *st = state_of (rc);
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

          rdt_display_write (rc, t->topic_id, who, html,
                             flags | PURPLE_MESSAGE_IMAGES, mtime, c->img_id);
          g_queue_unlink (&st->image_cache, l);
          g_queue_push_head_link (&st->image_cache, l);
          image_target_free (t);
          rdt_attachment_free (att);
          return;
        }
    }

  t->ticket = rdt_display_hold (rc, t->topic_id, who, flags, mtime,
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
  job->targets = g_ptr_array_new_with_free_func (image_target_free);
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

/* ---- download, check, save ---- */

static void
fetch_saved (Op *op)
{
  g_autofree gchar *line = NULL;
  PurpleXfer *xfer = op_take_xfer (op);
  gsize len;

  if (xfer != NULL)
    {
      g_bytes_get_data (op->blob, &len);
      purple_xfer_set_size (xfer, len);
      purple_xfer_set_bytes_sent (xfer, len);
      purple_xfer_set_completed (xfer, TRUE);
      purple_xfer_end (xfer);
    }
  line = g_strdup_printf (_("Saved “%s” to %s."), op->filename, op->path);
  op_say (op, PURPLE_MESSAGE_SYSTEM, line);
  op_free (op);
}

static void
save_failed (Op *op, const GError *error)
{
  g_autofree gchar *line = g_strdup_printf (_("Could not save “%s”: %s"),
                                            op->filename, error->message);
  op_fail (op, line);
}

static void
fetch_replaced (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;

  g_file_replace_contents_finish (G_FILE (src), res, NULL, &error);
  if (op_dead (op, error))
    return;
  if (error != NULL)
    save_failed (op, error);
  else
    fetch_saved (op);
}

/* A file we created but could not fill: closed, then removed, so that no
 * partial attachment is left behind. */
static void
discard_deleted (GObject *src, GAsyncResult *res, gpointer user_data)
{
  g_file_delete_finish (G_FILE (src), res, NULL);
}

static void
discard_closed (GObject *src, GAsyncResult *res, gpointer user_data)
{
  GFile *file = user_data;

  g_output_stream_close_finish (G_OUTPUT_STREAM (src), res, NULL);
  g_file_delete_async (file, G_PRIORITY_DEFAULT, NULL, discard_deleted, NULL);
  g_object_unref (file);
}

static void
discard_partial (Op *op)
{
  GOutputStream *out = g_steal_pointer (&op->out);

  g_output_stream_close_async (out, G_PRIORITY_DEFAULT, NULL, discard_closed,
                               g_file_new_for_path (op->path));
  g_object_unref (out);
}

static void
fetch_closed (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;

  g_output_stream_close_finish (G_OUTPUT_STREAM (src), res, &error);
  g_clear_object (&op->out);
  if (error != NULL)
    {
      /* closed anyway (GIO closes on error): remove what is there */
      g_autoptr (GFile) file = g_file_new_for_path (op->path);

      g_file_delete_async (file, G_PRIORITY_DEFAULT, NULL, discard_deleted,
                           NULL);
      if (!op_dead (op, error))
        save_failed (op, error);
      return;
    }
  if (op_dead (op, NULL))
    return;
  fetch_saved (op);
}

static void
fetch_stream_written (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, &error);
  if (error != NULL || g_cancellable_is_cancelled (op->cancel))
    {
      discard_partial (op);
      if (!op_dead (op, error))
        save_failed (op, error);
      return;
    }
  g_output_stream_close_async (op->out, G_PRIORITY_DEFAULT, op->cancel,
                               fetch_closed, op);
}

static void create_next (Op *op);

static void
fetch_created (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  GFileOutputStream *out = g_file_create_finish (G_FILE (src), res, &error);
  gsize len;
  const guint8 *data;

  if (g_cancellable_is_cancelled (op->cancel)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (out != NULL)
        {
          op->out = G_OUTPUT_STREAM (out);
          discard_partial (op);
        }
      op_free (op);
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_EXISTS)
      && op->attempt < UNIQUE_NAME_TRIES)
    {
      /* Never over a file that is there: the next free number. */
      op->attempt++;
      create_next (op);
      return;
    }
  if (error != NULL)
    {
      save_failed (op, error);
      return;
    }
  op->out = G_OUTPUT_STREAM (out);
  data = g_bytes_get_data (op->blob, &len);
  g_output_stream_write_all_async (op->out, data, len, G_PRIORITY_DEFAULT,
                                   op->cancel, fetch_stream_written, op);
}

/* "name.ext", then "name (1).ext", "name (2).ext"... within the length a
 * file name may have. */
static gchar *
numbered_name (const gchar *name, guint n)
{
  const gchar *dot = strrchr (name, '.');
  g_autofree gchar *suffix = NULL;
  gsize stem, room;

  if (n == 0)
    return g_strdup (name);
  if (dot == NULL || dot == name)
    dot = name + strlen (name);
  suffix = g_strdup_printf (" (%u)%s", n, dot);
  stem = dot - name;
  room = RDT_ATTACHMENT_MAX_FILENAME > strlen (suffix)
         ? RDT_ATTACHMENT_MAX_FILENAME - strlen (suffix) : 0;
  while (stem > room)
    stem = g_utf8_find_prev_char (name, name + stem) - name;
  return g_strdup_printf ("%.*s%s", (int) stem, name, suffix);
}

static void
create_next (Op *op)
{
  g_autofree gchar *name = numbered_name (op->filename, op->attempt);
  g_autoptr (GFile) file = NULL;

  g_free (op->path);
  op->path = g_build_filename (op->dir, name, NULL);
  file = g_file_new_for_path (op->path);
  g_file_create_async (file, G_FILE_CREATE_PRIVATE, G_PRIORITY_DEFAULT,
                       op->cancel, fetch_created, op);
}

/* Only verified plaintext ever reaches the destination. The op keeps it
 * alive until the write is done. */
static void
save_plain (Op *op, GBytes *plain)
{
  op->blob = g_bytes_ref (plain);
  if (op->dir != NULL)
    {
      /* The name is the sender's: create, never replace. */
      create_next (op);
    }
  else
    {
      /* A path the user gave (or chose in the transfer UI, which asks
       * before overwriting): replaced if it exists. */
      g_autoptr (GFile) file = g_file_new_for_path (op->path);
      gsize len;
      const gchar *data = g_bytes_get_data (plain, &len);

      g_file_replace_contents_async (file, data, len, NULL, FALSE,
                                     G_FILE_CREATE_PRIVATE, op->cancel,
                                     fetch_replaced, op);
    }
}

static void
fetch_decrypted (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autofree gchar *line = NULL;

  plain = rdt_attachment_decrypt_finish (res, &error);
  if (op_dead (op, error))
    return;
  if (plain == NULL)
    {
      if (op->job != NULL)
        {
          image_job_fail (op, IMAGE_NOT_VERIFIED, error->message);
          return;
        }
      line = g_strdup_printf (_("Attachment “%s” from %s failed verification "
                                "and was not shown or saved: %s"),
                              op->filename, op->sender, error->message);
      op_fail (op, line);
      return;
    }
  if (op->job != NULL)
    image_job_show (op, g_steal_pointer (&plain));
  else
    save_plain (op, plain);
}

static void
fetch_downloaded (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) blob = NULL;
  g_autofree gchar *line = NULL;

  blob = rdt_api_get_blob_finish (RDT_API (src), res, &error);
  if (op_dead (op, error))
    return;
  if (blob == NULL)
    {
      if (op->job != NULL)
        {
          image_job_fail (op, IMAGE_NOT_DOWNLOADED, error->message);
          return;
        }
      line = g_strdup_printf (_("Could not download “%s”: %s"), op->filename,
                              error->message);
      op_fail (op, line);
      return;
    }
  if (op->xfer != NULL)
    {
      /* Everything is received; what is left is local work. The api has
       * no download progress, so this is the one step in between. */
      gsize got = g_bytes_get_size (blob);
      gsize size = purple_xfer_get_size (op->xfer);

      got = got > 28 ? got - 28 : 0;
      purple_xfer_set_bytes_sent (op->xfer, size != 0 ? MIN (got, size) : 0);
      purple_xfer_update_progress (op->xfer);
    }
  rdt_attachment_decrypt_async (op->att, blob, op->cancel, fetch_decrypted,
                                op);
}

/* The line saying att is over the local download limit, or NULL. */
static gchar *
over_limit_line (RdtConn *rc, const RdtAttachment *att)
{
  guint64 limit = local_limit (rc);
  g_autofree gchar *have = NULL;
  g_autofree gchar *lim = NULL;

  if (att->size <= limit)
    return NULL;
  have = g_format_size (att->size);
  lim = g_format_size (limit);
  return g_strdup_printf (_("“%s” is %s, over the download limit of %s "
                            "(account option)."), att->filename, have, lim);
}

/* Bounded by the announced size when given, else by limit. Never calls
 * back before it returns: callers check the limit first. */
static void
start_download (Op *op, guint64 limit)
{
  guint64 want = op->att->size != 0 ? MIN (op->att->size, limit) : limit;

  rdt_api_get_blob_async (rdt_session_get_api (op->rc->session),
                          op->att->blob_id, want + 28, op->cancel,
                          fetch_downloaded, op);
}

/* ---- receiving as a libpurple transfer ----
 *
 * References, libpurple 2.x: purple_xfer_new() gives ours, and
 * purple_xfer_request() takes one for the question it asks; the UI's
 * answer gives that one back (accept: after the file is chosen; decline:
 * both). purple_xfer_end() and purple_xfer_cancel_local() give ours back.
 * The Op lives in xfer->data until op_take_xfer(); op->asking says the
 * question (or the file chooser after it) is not answered yet.
 *
 * libpurple calls recv_init() from inside the UI's file chooser callback:
 * nothing there may end the transfer (purple_xfer_cancel_local() closes
 * that very chooser while Pidgin still uses it), so a refusal is said from
 * an idle. */

/* The idle that ends a transfer refused in recv_init() (op->fail_line), or
 * one accepted after its op was gone. */
static gboolean
recv_end_idle (gpointer data)
{
  PurpleXfer *xfer = data;
  Op *op = xfer->data;

  /* Cancelled meanwhile (by the user, or the account closing, which
   * detached op): nothing left to do. */
  if (!purple_xfer_is_canceled (xfer) && !purple_xfer_is_completed (xfer))
    {
      if (op != NULL && op->fail_line != NULL)
        {
          g_autofree gchar *line = g_steal_pointer (&op->fail_line);
          op_fail (op, line);
        }
      else if (op == NULL)
        purple_xfer_cancel_local (xfer);
    }
  purple_xfer_unref (xfer);
  return G_SOURCE_REMOVE;
}

static void
recv_end_later (PurpleXfer *xfer)
{
  purple_xfer_ref (xfer);
  g_idle_add (recv_end_idle, xfer);
}

/* The UI accepted and chose where to save: the /fetch steps. */
static void
recv_init (PurpleXfer *xfer)
{
  Op *op = xfer->data;
  const gchar *dest = purple_xfer_get_local_filename (xfer);
  XferState *st;

  if (op == NULL)
    {
      /* Accepted after the account closed (through a libpurple notice
       * that outlived it, see end_offer): end it. */
      recv_end_later (xfer);
      return;
    }
  st = op->rc->transfers;
  if (op->asking)
    {
      op->asking = FALSE;
      st->offers_asking--;
    }
  if (dest == NULL || *dest == '\0')
    /* Accepted without a file (purple_xfer_request_accepted(x, NULL)):
     * nothing to write to. */
    op->fail_line = g_strdup (_("No file was chosen to save the attachment "
                                "to."));
  else
    /* The limit may have changed since the offer. */
    op->fail_line = over_limit_line (op->rc, op->att);
  if (op->fail_line != NULL)
    {
      recv_end_later (xfer);
      return;
    }
  g_free (op->path);
  op->path = g_strdup (dest);
  op->started = TRUE;
  xfer->start_time = time (NULL);
  purple_xfer_set_bytes_sent (xfer, 0);
  purple_xfer_update_progress (xfer);
  start_download (op, local_limit (op->rc));
}

/* Declined before anything started. */
static void
recv_denied (PurpleXfer *xfer)
{
  Op *op = xfer->data;

  if (op == NULL)
    return;
  op_take_xfer (op);
  op_free (op);
}

/* Cancelled (by the user, a plugin, or the account closing). A download in
 * flight ends in its next callback, which sees the cancellable. */
static void
recv_cancel (PurpleXfer *xfer)
{
  Op *op = xfer->data;

  if (op == NULL)
    return;
  op_take_xfer (op);
  if (op->started)
    g_cancellable_cancel (op->cancel);
  else
    op_free (op);
}

/* libpurple 2 cannot say whether a request is open; its UI ops can: close
 * the requests of xfer through a copy of them that counts. */
static guint requests_closed;
static PurpleRequestUiOps *requests_ui;

static void
count_close_request (PurpleRequestType type, void *ui_handle)
{
  requests_closed++;
  if (requests_ui->close_request != NULL)
    requests_ui->close_request (type, ui_handle);
}

/* Close the question or file chooser libpurple shows for xfer; TRUE if
 * one was open (or the UI has none: then none was ever shown). */
static gboolean
close_question (PurpleXfer *xfer)
{
  PurpleRequestUiOps *ui = purple_request_get_ui_ops ();
  PurpleRequestUiOps counting;

  if (ui == NULL)
    return TRUE;
  counting = *ui;
  counting.close_request = count_close_request;
  requests_ui = ui;
  requests_closed = 0;
  purple_request_set_ui_ops (&counting);
  purple_request_close_with_handle (xfer);
  purple_request_set_ui_ops (ui);
  requests_ui = NULL;
  return requests_closed > 0;
}

/* Account closing: end one offer (already detached from its op). asking:
 * its question was not answered. */
static void
end_offer (PurpleXfer *xfer, gboolean asking)
{
  if (!asking)
    {
      /* accepted: the question's reference went back with the answer */
      purple_xfer_cancel_local (xfer);
      return;
    }
  if (close_question (xfer))
    {
      /* The question's reference comes back only with an answer, which
       * closing the question rules out: give it back here. */
      purple_xfer_ref (xfer);
      purple_xfer_cancel_local (xfer);
      purple_xfer_unref (xfer);
      purple_xfer_unref (xfer);
      return;
    }
  /* No dialog open, yet not answered: the file chooser was answered with
   * a directory libpurple found not writable, and its notice holds the
   * question's reference; closing the notice opens the chooser again.
   * That notice cannot be closed from here, so the transfer stays as it
   * is, detached: its answer reaches recv_init() or recv_denied() without
   * an op, and libpurple gives both references back then. */
}

static void
offer_xfer (RdtConn *rc, const gchar *topic_id, const gchar *who,
            RdtAttachment *att)
{
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  XferState *st = state_of (rc);
  PurpleXfer *xfer;
  Op *op;

  xfer = purple_xfer_new (account, PURPLE_XFER_RECEIVE, who);
  if (xfer == NULL)
    {
      rdt_attachment_free (att);
      return;
    }
  op = op_new (rc, topic_id);
  /* Its own cancellable: cancelling this transfer leaves the others. */
  g_object_unref (op->cancel);
  op->cancel = g_cancellable_new ();
  op->filename = g_strdup (att->filename);
  op->sender = g_strdup (who);
  op->att = att;
  op->xfer = xfer;
  op->asking = TRUE;
  st->offers_asking++;
  xfer->data = op;
  st->offers = g_list_prepend (st->offers, xfer);

  purple_xfer_set_filename (xfer, att->filename);
  purple_xfer_set_size (xfer, (size_t) att->size);
  purple_xfer_set_init_fnc (xfer, recv_init);
  purple_xfer_set_request_denied_fnc (xfer, recv_denied);
  purple_xfer_set_cancel_recv_fnc (xfer, recv_cancel);
  /* May call back at once (a plugin cancels, a UI auto-accepts): op is
   * not touched after this. */
  purple_xfer_request (xfer);
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

  st = state_of (rc);
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
  image = rdt_attachment_is_image (att) && att->size <= inline_limit (rc);
  show_inline = image && rc->inline_images;
  offer = !image && !msg->own && !msg->backlog;
  if (offer)
    {
      over = over_limit_line (rc, att);
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

      request_image (rc, msg, who, flags, g_steal_pointer (&att), number,
                     g_steal_pointer (&entry), placeholder);
      return TRUE;
    }
  rdt_display_write (rc, msg->topic_id, who, entry, flags, mtime, 0);

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
    offer_xfer (rc, msg->topic_id, who, g_steal_pointer (&att));
  return TRUE;
}

/* ---- commands ---- */

static PurpleCmdRet
cmd_send_file (PurpleConversation *conv, const gchar *cmd, gchar **args,
               gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = rdt_topic_for_conv (conv);
  g_autofree gchar *path = NULL;

  if (rc == NULL || topic == NULL)
    return PURPLE_CMD_RET_FAILED;
  path = g_strstrip (g_strdup (args[0] != NULL ? args[0] : ""));
  if (*path == '\0')
    {
      *error = g_strdup (_("Usage: /send-file <path>"));
      return PURPLE_CMD_RET_FAILED;
    }
  if (g_str_has_prefix (path, "~/"))
    {
      gchar *full = g_build_filename (g_get_home_dir (), path + 2, NULL);
      g_free (path);
      path = full;
    }
  rdt_xfer_send_file (rc, topic, path);
  return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_fetch (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  XferState *st;
  Received *r;
  g_auto (GStrv) parts = NULL;
  g_autofree gchar *dest = NULL;
  g_autofree gchar *over = NULL;
  guint64 n = 0;
  Op *op;

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  st = state_of (rc);
  parts = g_strsplit (g_strstrip (args[0] != NULL ? args[0] : ""), " ", 2);
  if (parts[0] == NULL || parts[1] == NULL
      || !g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXUINT, &n, NULL)
      || *g_strstrip (parts[1]) == '\0')
    {
      *error = g_strdup (_("Usage: /fetch <number> <path>"));
      return PURPLE_CMD_RET_FAILED;
    }
  if (n < st->first_index || n - st->first_index >= st->received->len)
    {
      /* n <= G_MAXUINT (parsed above): a plain %u keeps the msgid whole */
      *error = g_strdup_printf (_("No attachment number %u."), (guint) n);
      return PURPLE_CMD_RET_FAILED;
    }
  r = g_ptr_array_index (st->received, n - st->first_index);
  over = over_limit_line (rc, r->att);
  if (over != NULL)
    {
      rdt_write_system (rdt_chat_for_topic (rc, r->topic_id), over,
                        PURPLE_MESSAGE_ERROR);
      return PURPLE_CMD_RET_OK;
    }

  /* "~" first, so that "~/dir/" is a directory in the home directory. */
  if (strcmp (parts[1], "~") == 0)
    dest = g_strconcat (g_get_home_dir (), G_DIR_SEPARATOR_S, NULL);
  else if (g_str_has_prefix (parts[1], "~/"))
    dest = g_strconcat (g_get_home_dir (), G_DIR_SEPARATOR_S, parts[1] + 2,
                        NULL);
  else
    dest = g_strdup (parts[1]);

  op = op_new (rc, r->topic_id);
  op->att = rdt_attachment_copy (r->att);
  op->filename = g_strdup (r->att->filename);
  op->sender = g_strdup (r->sender);
  if (g_str_has_suffix (dest, "/"))
    {
      /* A directory: the sender's (sanitised) name in it, never over an
       * existing file. */
      op->dir = g_strdup (dest);
      op->path = g_build_filename (dest, op->filename, NULL);
    }
  else
    op->path = g_steal_pointer (&dest);
  start_download (op, local_limit (rc));
  return PURPLE_CMD_RET_OK;
}

void
rdt_xfer_register_commands (void)
{
  PurpleCmdFlag f = PURPLE_CMD_FLAG_CHAT | PURPLE_CMD_FLAG_PRPL_ONLY;

  xfer_cmd_ids = g_slist_prepend (xfer_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("send-file", "s", PURPLE_CMD_P_PRPL, f,
                           RDT_PRPL_ID, cmd_send_file,
                           _("send-file &lt;path&gt;: encrypt a file and send "
                             "it to this chat."), NULL)));
  xfer_cmd_ids = g_slist_prepend (xfer_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("fetch", "s", PURPLE_CMD_P_PRPL, f,
                           RDT_PRPL_ID, cmd_fetch,
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
