/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer-fetch.c - download, check, save: /fetch and accepted transfers; only
 * verified plaintext is written. */
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

/* ---- download, check, save ---- */

static void
fetch_saved (Op *op)
{
  g_autofree gchar *line = NULL;
  PurpleXfer *xfer = rdt_xfer_op_take_xfer (op);
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
  rdt_xfer_op_say (op, PURPLE_MESSAGE_SYSTEM, line);
  rdt_xfer_op_free (op);
}

static void
save_failed (Op *op, const GError *error)
{
  g_autofree gchar *line = g_strdup_printf (_("Could not save “%s”: %s"),
                                            op->filename, error->message);
  rdt_xfer_op_fail (op, line);
}

static void
fetch_replaced (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;

  g_file_replace_contents_finish (G_FILE (src), res, NULL, &error);
  if (rdt_xfer_op_dead (op, error))
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
      if (!rdt_xfer_op_dead (op, error))
        save_failed (op, error);
      return;
    }
  if (rdt_xfer_op_dead (op, NULL))
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
      if (!rdt_xfer_op_dead (op, error))
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
      rdt_xfer_op_free (op);
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
  if (rdt_xfer_op_dead (op, error))
    return;
  if (plain == NULL)
    {
      if (op->job != NULL)
        {
          rdt_xfer_image_job_fail (op, IMAGE_NOT_VERIFIED, error->message);
          return;
        }
      line = g_strdup_printf (_("Attachment “%s” from %s failed verification "
                                "and was not shown or saved: %s"),
                              op->filename, op->sender, error->message);
      rdt_xfer_op_fail (op, line);
      return;
    }
  if (op->job != NULL)
    rdt_xfer_image_job_show (op, g_steal_pointer (&plain));
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
  if (rdt_xfer_op_dead (op, error))
    return;
  if (blob == NULL)
    {
      if (op->job != NULL)
        {
          rdt_xfer_image_job_fail (op, IMAGE_NOT_DOWNLOADED, error->message);
          return;
        }
      line = g_strdup_printf (_("Could not download “%s”: %s"), op->filename,
                              error->message);
      rdt_xfer_op_fail (op, line);
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
gchar *
rdt_xfer_over_limit_line (RdtConn *rc, const RdtAttachment *att)
{
  guint64 limit = rdt_xfer_local_limit (rc);
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
void
rdt_xfer_start_download (Op *op, guint64 limit)
{
  guint64 want = op->att->size != 0 ? MIN (op->att->size, limit) : limit;

  rdt_api_get_blob_async (rdt_session_get_api (op->rc->session),
                          op->att->blob_id, want + 28, op->cancel,
                          fetch_downloaded, op);
}


PurpleCmdRet
rdt_xfer_cmd_fetch (PurpleConversation *conv, const gchar *cmd, gchar **args,
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
  st = rdt_xfer_state (rc);
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
  over = rdt_xfer_over_limit_line (rc, r->att);
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

  op = rdt_xfer_op_new (rc, r->topic_id);
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
  rdt_xfer_start_download (op, rdt_xfer_local_limit (rc));
  return PURPLE_CMD_RET_OK;
}
