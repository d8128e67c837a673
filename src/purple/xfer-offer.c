/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer-offer.c - files from other members offered as libpurple incoming
 * transfers. */
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

/* ---- receiving ---- */

/* Unlink op and its transfer (if any) so that neither reaches the other
 * any more; returns the transfer, which the caller finishes. */
PurpleXfer *
rdt_xfer_op_take_xfer (Op *op)
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
void
rdt_xfer_op_fail (Op *op, const gchar *line)
{
  PurpleXfer *xfer = rdt_xfer_op_take_xfer (op);

  rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
  if (xfer != NULL)
    {
      purple_xfer_error (PURPLE_XFER_RECEIVE, purple_xfer_get_account (xfer),
                         purple_xfer_get_remote_user (xfer), line);
      purple_xfer_cancel_local (xfer);
    }
  rdt_xfer_op_free (op);
}


/* ---- receiving as a libpurple transfer ----
 *
 * References, libpurple 2.x: purple_xfer_new() gives ours, and
 * purple_xfer_request() takes one for the question it asks; the UI's
 * answer gives that one back (accept: after the file is chosen; decline:
 * both). purple_xfer_end() and purple_xfer_cancel_local() give ours back.
 * The Op lives in xfer->data until rdt_xfer_op_take_xfer(); op->asking says the
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
          rdt_xfer_op_fail (op, line);
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
       * that outlived it, see rdt_xfer_end_offer): end it. */
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
    op->fail_line = rdt_xfer_over_limit_line (op->rc, op->att);
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
  rdt_xfer_start_download (op, rdt_xfer_local_limit (op->rc));
}

/* Declined before anything started. */
static void
recv_denied (PurpleXfer *xfer)
{
  Op *op = xfer->data;

  if (op == NULL)
    return;
  rdt_xfer_op_take_xfer (op);
  rdt_xfer_op_free (op);
}

/* Cancelled (by the user, a plugin, or the account closing). A download in
 * flight ends in its next callback, which sees the cancellable. */
void
rdt_xfer_recv_cancel (PurpleXfer *xfer)
{
  Op *op = xfer->data;

  if (op == NULL)
    return;
  rdt_xfer_op_take_xfer (op);
  if (op->started)
    g_cancellable_cancel (op->cancel);
  else
    rdt_xfer_op_free (op);
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
void
rdt_xfer_end_offer (PurpleXfer *xfer, gboolean asking)
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

void
rdt_xfer_offer (RdtConn *rc, const gchar *topic_id, const gchar *who,
            RdtAttachment *att)
{
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  XferState *st = rdt_xfer_state (rc);
  PurpleXfer *xfer;
  Op *op;

  xfer = purple_xfer_new (account, PURPLE_XFER_RECEIVE, who);
  if (xfer == NULL)
    {
      rdt_attachment_free (att);
      return;
    }
  op = rdt_xfer_op_new (rc, topic_id);
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
  purple_xfer_set_cancel_recv_fnc (xfer, rdt_xfer_recv_cancel);
  /* May call back at once (a plugin cancels, a UI auto-accepts): op is
   * not touched after this. */
  purple_xfer_request (xfer);
}
