/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer-send.c - sending attachments: /send-file, images put into a message,
 * /retry (see xfer.c). */
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

/* ---- sending ---- */

static void wait_for_connection (Op *op);

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
  if (rdt_xfer_op_dead (op, error))
    return;
  if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK)
      && rdt_session_get_state (op->rc->session) != RDT_SESSION_CONNECTED)
    {
      /* The connection went away under it: it goes again once back. */
      wait_for_connection (op);
      return;
    }
  if (error != NULL)
    {
      /* Nothing the user sent is lost: the encrypted blob stays, and
       * /retry uploads it again (the last failure of each chat). */
      line = g_strdup_printf (_("Could not upload “%s”: %s. Type /retry to "
                                "send it again."), op->filename,
                              error->message);
      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
      op->quarters_said = 0;
      g_hash_table_replace (rdt_xfer_state (op->rc)->failed, g_strdup (op->topic_id),
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
      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
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
      rdt_xfer_op_say (op, PURPLE_MESSAGE_SYSTEM, line);
    }
  rdt_xfer_op_free (op);
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
  rdt_xfer_op_say (op, PURPLE_MESSAGE_SYSTEM, line);
}

/* Offline: the encrypted file waits in order for the connection
 * (rdt_xfer_on_connected), so that nothing sent is lost to an outage. */
static void
wait_for_connection (Op *op)
{
  g_autofree gchar *line = g_strdup_printf (
      _("Offline: “%s” will be uploaded when the connection is back."),
      op->filename);

  rdt_xfer_op_say (op, PURPLE_MESSAGE_SYSTEM, line);
  op->quarters_said = 0;
  g_queue_push_tail (&rdt_xfer_state (op->rc)->offline, op);
}

static void
upload (Op *op)
{
  if (rdt_session_get_state (op->rc->session) != RDT_SESSION_CONNECTED)
    {
      wait_for_connection (op);
      return;
    }
  op->t_start = g_get_monotonic_time ();
  rdt_api_put_blob_with_progress_async (rdt_session_get_api (op->rc->session),
                                        op->att->blob_id, op->blob,
                                        send_progress, op, op->cancel,
                                        send_uploaded, op);
}

void
rdt_xfer_on_connected (RdtConn *rc)
{
  XferState *st = rc->transfers;
  GQueue waiting = G_QUEUE_INIT;
  Op *op;

  if (st == NULL)
    return;
  /* moved out first: an upload that fails at once may queue itself again */
  while ((op = g_queue_pop_head (&st->offline)))
    g_queue_push_tail (&waiting, op);
  while ((op = g_queue_pop_head (&waiting)))
    upload (op);
}

void
rdt_xfer_list_unsent (RdtConn *rc, GPtrArray *names)
{
  XferState *st = rc->transfers;
  GHashTableIter iter;
  gpointer op;

  if (st == NULL)
    return;
  for (GList *l = st->offline.head; l; l = l->next)
    g_ptr_array_add (names, g_strdup_printf (_("file %s"),
                                             ((Op *) l->data)->filename));
  g_hash_table_iter_init (&iter, st->failed);
  while (g_hash_table_iter_next (&iter, NULL, &op))
    g_ptr_array_add (names, g_strdup_printf (_("file %s"),
                                             ((Op *) op)->filename));
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
  rdt_xfer_op_say (op, PURPLE_MESSAGE_SYSTEM, line);
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
  if (rdt_xfer_op_dead (op, error))
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
      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
      rdt_xfer_op_free (op);
      return;
    }
  att->filename = g_strdup (op->filename);
  att->content_type = g_strdup (op->att->content_type);
  rdt_attachment_free (op->att);
  op->att = att;

  size_str = g_format_size (g_bytes_get_size (blob));
  line = g_strdup_printf (_("Uploading “%s” (%s)…"), op->filename, size_str);
  rdt_xfer_op_say (op, PURPLE_MESSAGE_SYSTEM, line);
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

      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
      rdt_xfer_op_free (op);
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
  Op *op = rdt_xfer_op_new (rc, topic_id);

  op->filename = rdt_attachment_sanitize_filename (filename);
  op->max_size = rdt_xfer_local_limit (rc);
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
  if (rdt_xfer_op_dead (op, error))
    {
      g_free (contents);
      return;
    }
  if (error != NULL)
    {
      line = g_strdup_printf (_("Could not read “%s”: %s"), op->path,
                              error->message);
      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
      rdt_xfer_op_free (op);
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
  if (rdt_xfer_op_dead (op, error))
    return;
  if (info == NULL)
    {
      line = g_strdup_printf (_("Could not read “%s”: %s"), op->path,
                              error->message);
      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
      rdt_xfer_op_free (op);
      return;
    }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      line = g_strdup_printf (_("“%s” is not a regular file."), op->path);
      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
      rdt_xfer_op_free (op);
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
      rdt_xfer_op_say (op, PURPLE_MESSAGE_ERROR, line);
      rdt_xfer_op_free (op);
      return;
    }
  g_file_load_contents_async (G_FILE (src), op->cancel, send_loaded, op);
}

void
rdt_xfer_send_file (RdtConn *rc, const gchar *topic_id, const gchar *path)
{
  g_autoptr (GFile) file = NULL;
  g_autofree gchar *base = NULL;
  Op *op = rdt_xfer_op_new (rc, topic_id);

  op->path = g_strdup (path);
  file = g_file_new_for_commandline_arg (path);
  base = g_file_get_basename (file);
  op->filename = rdt_attachment_sanitize_filename (base);
  op->max_size = rdt_xfer_local_limit (rc);
  g_file_query_info_async (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                           G_FILE_ATTRIBUTE_STANDARD_TYPE,
                           G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT,
                           op->cancel, send_stat_done, op);
}


PurpleCmdRet
rdt_xfer_cmd_send_file (PurpleConversation *conv, const gchar *cmd, gchar **args,
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
