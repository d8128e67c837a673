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
 * Receiving: every attachment gets a numbered line "/fetch N <path>";
 * images within the local limit are also downloaded, checked (SHA-256 of
 * the bytes against the blob id, then the GCM tag) and shown inline
 * through the purple image store. Other files that another member sends
 * live (not our own, not history) are also offered as a libpurple incoming
 * transfer; accepting it runs the very steps /fetch runs. The "/fetch N"
 * line stays, for clients without a transfer UI. Anything that fails a
 * check is never shown or saved: a warning says so.
 *
 * Operations in flight hold the connection's GCancellable, cancelled by
 * rdt_xfer_conn_free(), so a callback never touches a freed RdtConn. An
 * offered transfer has its own GCancellable instead (the user may cancel
 * it alone); rdt_xfer_conn_free() cancels every offer, which cancels it. */
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

#include "api.h"
#include "attachment.h"
#include "crypto.h"
#include "id.h"
#include "members.h"
#include "xfer.h"

/* Received attachments remembered for /fetch, per connection. */
#define MAX_REMEMBERED 200

typedef struct {
  RdtAttachment *att;
  gchar *topic_id;
  gchar *sender;
} Received;

typedef struct {
  GCancellable *cancel;
  GPtrArray *received;   /* Received*, index + first_index = /fetch N */
  guint first_index;     /* number of the oldest remembered entry */
  GList *offers;         /* PurpleXfer* offered or running, each with its
                          * Op in xfer->data */
} XferState;

/* One operation in flight. */
typedef struct {
  RdtConn *rc;            /* valid while !g_cancellable_is_cancelled */
  GCancellable *cancel;
  gchar *topic_id;
  gchar *path;            /* send: source; fetch: destination */
  gchar *filename;
  gchar *sender;
  RdtAttachment *att;
  GBytes *blob;
  guint64 max_size;
  gboolean inline_image;
  gboolean own;           /* image sent by us (another device) */
  PurpleXfer *xfer;       /* incoming transfer this op serves, or NULL */
  gboolean started;       /* xfer accepted: a download is in flight */
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
      rc->transfers = st;
    }
  return st;
}

static void recv_cancel (PurpleXfer *xfer);
static void cancel_offer (PurpleXfer *xfer);

void
rdt_xfer_conn_free (RdtConn *rc)
{
  XferState *st = rc->transfers;

  if (st == NULL)
    return;
  while (st->offers != NULL)
    {
      PurpleXfer *xfer = st->offers->data;

      recv_cancel (xfer);   /* detaches its op: no callback reaches rc */
      st->offers = g_list_remove (st->offers, xfer);
      cancel_offer (xfer);
    }
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
  g_free (op->filename);
  g_free (op->sender);
  rdt_attachment_free (op->att);
  if (op->blob != NULL)
    g_bytes_unref (op->blob);
  g_free (op);
}

/* TRUE if the connection is gone (then op is freed). */
static gboolean
op_dead (Op *op, const GError *error)
{
  if (g_cancellable_is_cancelled (op->cancel)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
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
      line = g_strdup_printf (_("Could not upload “%s”: %s"), op->filename,
                              error->message);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      op_free (op);
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
  rdt_api_put_blob_with_progress_async (rdt_session_get_api (op->rc->session),
                                        att->blob_id, blob, send_progress,
                                        op, op->cancel, send_uploaded, op);
  g_bytes_unref (blob);
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
  /* The file may have grown since it was stat'ed. */
  if (len > op->max_size)
    {
      g_autofree gchar *lim = g_format_size (op->max_size);
      line = g_strdup_printf (_("“%s” is too large to send (the limit is %s)."),
                              op->filename, lim);
      op_say (op, PURPLE_MESSAGE_ERROR, line);
      g_free (contents);
      op_free (op);
      return;
    }
  data = g_bytes_new_take (contents, len);
  op->att = rdt_attachment_new ();
  op->att->content_type =
    rdt_attachment_guess_content_type (op->filename,
                                       g_bytes_get_data (data, NULL),
                                       MIN (len, 4096));
  rdt_attachment_encrypt_async (data, op->max_size, op->cancel,
                                send_encrypted, op);
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
  xfer->data = NULL;
  op->xfer = NULL;
  return xfer;
}

/* A receive failed: say so in the chat and, for a transfer, in the
 * transfer UI too, then end it. Frees op. */
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

static void
show_image (Op *op, GBytes *plain)
{
  PurpleConvChat *chat = rdt_chat_for_topic (op->rc, op->topic_id);
  gsize len;
  const guint8 *data = g_bytes_get_data (plain, &len);
  g_autofree gchar *html = NULL;
  gint img_id;

  if (chat == NULL)
    return;
  /* The image store takes ownership of its copy. */
  img_id = purple_imgstore_add_with_id (g_memdup2 (data, len), len,
                                        op->filename);
  if (img_id == 0)
    return;
  html = g_strdup_printf ("<img id=\"%d\">", img_id);
  /* Own images under our nick with SEND, as chat.c does for text. */
  purple_conv_chat_write (chat, op->own ? op->rc->nick : op->sender, html,
                          (op->own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV)
                          | PURPLE_MESSAGE_IMAGES | PURPLE_MESSAGE_NO_LOG,
                          time (NULL));
  purple_imgstore_unref_by_id (img_id);
}

static void
fetch_written (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *line = NULL;
  PurpleXfer *xfer;
  gsize len;

  g_file_replace_contents_finish (G_FILE (src), res, NULL, &error);
  if (op_dead (op, error))
    return;
  if (error != NULL)
    {
      line = g_strdup_printf (_("Could not save “%s”: %s"), op->filename,
                              error->message);
      op_fail (op, line);
      return;
    }
  xfer = op_take_xfer (op);
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
      line = g_strdup_printf (_("Attachment “%s” from %s failed verification "
                                "and was not shown or saved: %s"),
                              op->filename, op->sender, error->message);
      op_fail (op, line);
      return;
    }
  if (op->inline_image)
    {
      show_image (op, plain);
      op_free (op);
      return;
    }
  {
    g_autoptr (GFile) file = g_file_new_for_path (op->path);
    gsize len;
    const gchar *data = g_bytes_get_data (plain, &len);

    /* The op keeps plain alive until the write is done. Only verified
     * plaintext ever reaches the destination. */
    op->blob = g_bytes_ref (plain);
    g_file_replace_contents_async (file, data, len, NULL, FALSE,
                                   G_FILE_CREATE_PRIVATE, op->cancel,
                                   fetch_written, op);
  }
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

static void
start_download (Op *op)
{
  /* Bound the download: the announced size when given, else the limit. */
  guint64 limit = local_limit (op->rc);
  guint64 want = op->att->size != 0 ? MIN (op->att->size, limit) : limit;
  g_autofree gchar *line = over_limit_line (op->rc, op->att);

  if (line != NULL)
    {
      op_fail (op, line);
      return;
    }
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
 * The Op lives in xfer->data until op_take_xfer(). */

/* The UI accepted and chose where to save: the /fetch steps. */
static void
recv_init (PurpleXfer *xfer)
{
  Op *op = xfer->data;
  const gchar *dest = purple_xfer_get_local_filename (xfer);

  if (op == NULL)
    return;
  if (dest == NULL || *dest == '\0')
    {
      /* Accepted without a file (purple_xfer_request_accepted(x, NULL)):
       * nothing to write to. */
      op_fail (op, _("No file was chosen to save the attachment to."));
      return;
    }
  g_free (op->path);
  op->path = g_strdup (dest);
  op->started = TRUE;
  xfer->start_time = time (NULL);
  purple_xfer_set_bytes_sent (xfer, 0);
  purple_xfer_update_progress (xfer);
  start_download (op);
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

/* Cancelled (by the user, a plugin, or cancel_offer). A download in
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

/* Account closing: end one offer (already detached from its op),
 * whatever its state. */
static void
cancel_offer (PurpleXfer *xfer)
{
  PurpleXferStatusType status = purple_xfer_get_status (xfer);
  /* Still asking: the question's reference is only given back by the
   * answer, which closing the request below rules out, so give it back
   * here. */
  gboolean asking = (status == PURPLE_XFER_STATUS_UNKNOWN
                     || status == PURPLE_XFER_STATUS_NOT_STARTED)
                    && xfer->ref >= 2;

  purple_xfer_ref (xfer);
  purple_request_close_with_handle (xfer);
  purple_xfer_cancel_local (xfer);
  if (asking)
    purple_xfer_unref (xfer);
  purple_xfer_unref (xfer);
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

gboolean
rdt_xfer_handle_message (RdtConn *rc, PurpleConvChat *chat,
                         const RdtSessionMessage *msg)
{
  XferState *st;
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtAttachment) att = NULL;
  g_autofree gchar *who = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *size_str = NULL;
  Received *r;
  guint number;
  gsize len = 0;
  const guint8 *data;

  if (msg == NULL || !rdt_attachment_type_is_attachment (msg->type))
    return FALSE;

  who = rdt_members_nick_for (rc, msg->sender);   /* as chat.c names them */
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

  size_str = att->size != 0 ? g_format_size (att->size)
                            : g_strdup (_("unknown size"));
  line = g_strdup_printf (_("%s sent “%s” (%s, %s). Type /fetch %u <path> "
                            "to save it."),
                          msg->own ? _("You") : who, att->filename,
                          att->content_type, size_str, number);
  rdt_write_system (chat, line, PURPLE_MESSAGE_SYSTEM);

  if (rdt_attachment_is_image (att))
    {
      Op *op = op_new (rc, msg->topic_id);

      op->filename = g_strdup (att->filename);
      op->sender = g_strdup (who);
      op->att = g_steal_pointer (&att);
      op->inline_image = TRUE;
      op->own = msg->own;
      start_download (op);
    }
  else if (!msg->own && !msg->backlog)
    {
      /* Live files from others become an incoming transfer too; history
       * would flood the UI with old offers: /fetch covers those. */
      g_autofree gchar *over = over_limit_line (rc, att);

      if (over != NULL)
        rdt_write_system (chat, over, PURPLE_MESSAGE_ERROR);
      else
        offer_xfer (rc, msg->topic_id, who, g_steal_pointer (&att));
    }
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
  guint64 n = 0;
  Op *op;
  const gchar *dest;

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

  op = op_new (rc, r->topic_id);
  op->att = rdt_attachment_copy (r->att);
  op->filename = g_strdup (r->att->filename);
  op->sender = g_strdup (r->sender);
  dest = parts[1];
  /* A directory (trailing slash) gets the sender's (sanitised) name. */
  if (g_str_has_suffix (dest, "/"))
    op->path = g_build_filename (dest, op->filename, NULL);
  else if (g_str_has_prefix (dest, "~/"))
    op->path = g_build_filename (g_get_home_dir (), dest + 2, NULL);
  else
    op->path = g_strdup (dest);
  start_download (op);
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
                             "verify and decrypt an attachment and save it."),
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
