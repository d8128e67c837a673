/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-attach.c - attachments end to end against rdt-test-server (spec 10).
 *
 * Through the core, with two sessions of one member (two devices): encrypt
 * with a fresh DEK, PUT the blob, post a "file.upload" descriptor; the
 * other session gets the message, parses it, GETs the blob, verifies and
 * decrypts it. A blob altered on the server's disk must be rejected, never
 * returned.
 *
 * With libpurple (RDT_HAVE_PURPLE): the plugin offers a file another
 * member sends as an incoming transfer (/attach/xfer/...): accepted, it is
 * saved byte for byte; a tampered, missing or undecryptable blob ends the
 * transfer with an error and writes nothing; declining writes nothing. */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "api.h"
#include "attachment.h"
#include "crypto.h"
#include "error.h"
#include "id.h"
#include "session.h"
#include "testserver.h"
#ifdef RDT_HAVE_PURPLE
#include "harness.h"
#include "membership.h"
#include "message.h"
#endif

#define SERVER_MAX_BLOB 262144   /* --max-blob-size of test_too_large's server */

static RdtTestServer *srv;

typedef struct {
  guint n_connected, n_opened, n_send_done;
  GError *send_error;
  GPtrArray *attachments;   /* GBytes* descriptor payloads received */
  /* async results */
  gboolean done;
  GBytes *bytes;
  RdtAttachment *att;
  GError *error;
} Fx;

static void
on_state (RdtSession *s, RdtSessionState st, const GError *e, gboolean fatal,
          gpointer d)
{
  Fx *fx = d;

  if (st == RDT_SESSION_CONNECTED)
    fx->n_connected++;
}

static void
on_opened (RdtSession *s, const gchar *t, const GError *e, gpointer d)
{
  Fx *fx = d;

  g_assert_no_error ((GError *) e);
  fx->n_opened++;
}

static void
on_message (RdtSession *s, const RdtSessionMessage *m, gpointer d)
{
  Fx *fx = d;

  if (rdt_attachment_type_is_attachment (m->type))
    {
      g_assert_nonnull (m->payload);
      g_ptr_array_add (fx->attachments, g_bytes_ref (m->payload));
    }
}

static void
on_send_done (RdtSession *s, const gchar *t, guint64 id, const GError *e,
              gpointer d)
{
  Fx *fx = d;

  fx->n_send_done++;
  if (e != NULL)
    fx->send_error = g_error_copy (e);
}

static const RdtSessionCallbacks callbacks = {
  .state_changed = on_state,
  .topic_opened = on_opened,
  .message = on_message,
  .send_done = on_send_done,
};

static gboolean
on_timeout (gpointer what)
{
  g_error ("timed out waiting for %s", (const gchar *) what);
  return G_SOURCE_REMOVE;
}

/* Iterate the main loop until *flag >= want; fail after 30 s. */
static void
wait_for (guint *counter, guint want, const gchar *what)
{
  guint t = g_timeout_add_seconds (30, on_timeout, (gpointer) what);

  while (*counter < want)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (t);
}

static void
wait_done (Fx *fx, const gchar *what)
{
  guint t = g_timeout_add_seconds (30, on_timeout, (gpointer) what);

  while (!fx->done)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (t);
  fx->done = FALSE;
}

static void
fx_init (Fx *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
fx_clear (Fx *fx)
{
  g_ptr_array_unref (fx->attachments);
  g_clear_error (&fx->send_error);
  g_clear_error (&fx->error);
  g_clear_pointer (&fx->bytes, g_bytes_unref);
  g_clear_pointer (&fx->att, rdt_attachment_free);
}

static RdtSession *
session_for (RdtSigningKey *owner, const guint8 root[RDT_KEY_LENGTH], Fx *fx)
{
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  GError *error = NULL;
  RdtSession *s;

  s = rdt_session_new_for_key (rdt_test_server_get_url (srv), space, owner,
                               root, &error);
  g_assert_no_error (error);
  rdt_session_set_callbacks (s, &callbacks, fx);
  rdt_session_set_poll_intervals (s, 200, 100);
  return s;
}

static void
encrypted_cb (GObject *src, GAsyncResult *res, gpointer d)
{
  Fx *fx = d;

  fx->bytes = rdt_attachment_encrypt_finish (res, &fx->att, &fx->error);
  fx->done = TRUE;
}

static void
put_cb (GObject *src, GAsyncResult *res, gpointer d)
{
  Fx *fx = d;

  rdt_api_put_blob_finish (RDT_API (src), res, &fx->error);
  fx->done = TRUE;
}

static void
get_cb (GObject *src, GAsyncResult *res, gpointer d)
{
  Fx *fx = d;

  g_clear_pointer (&fx->bytes, g_bytes_unref);
  fx->bytes = rdt_api_get_blob_finish (RDT_API (src), res, &fx->error);
  fx->done = TRUE;
}

static void
decrypted_cb (GObject *src, GAsyncResult *res, gpointer d)
{
  Fx *fx = d;

  g_clear_pointer (&fx->bytes, g_bytes_unref);
  fx->bytes = rdt_attachment_decrypt_finish (res, &fx->error);
  fx->done = TRUE;
}

static void
test_send_receive_tamper (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  Fx a, b;
  RdtSession *sa, *sb;
  const gsize n = 200 * 1024;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (RdtAttachment) got = NULL;
  g_autofree gchar *json = NULL;
  GError *error = NULL;
  gsize jlen;
  guint8 *buf;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  fx_init (&b);
  sa = session_for (owner, root, &a);
  sb = session_for (owner, root, &b);
  rdt_session_connect (sa);
  rdt_session_connect (sb);
  wait_for (&a.n_connected, 1, "a connected");
  wait_for (&b.n_connected, 1, "b connected");
  rdt_session_open_topic (sa, "general", 50);
  rdt_session_open_topic (sb, "general", 50);
  wait_for (&a.n_opened, 1, "a opened");
  wait_for (&b.n_opened, 1, "b opened");

  /* Send: encrypt off the main loop, upload, announce. */
  buf = g_malloc (n);
  rdt_random_bytes (buf, n);
  plain = g_bytes_new_take (buf, n);
  rdt_attachment_encrypt_async (plain, 0, NULL, encrypted_cb, &a);
  wait_done (&a, "encryption");
  g_assert_no_error (a.error);
  a.att->filename = g_strdup ("data.bin");
  a.att->content_type = g_strdup ("application/octet-stream");
  rdt_api_put_blob_async (rdt_session_get_api (sa), a.att->blob_id, a.bytes,
                          NULL, put_cb, &a);
  wait_done (&a, "upload");
  g_assert_no_error (a.error);
  json = rdt_attachment_to_json (a.att, &jlen);
  g_assert_cmpuint (rdt_session_send_payload (sa, "general",
                                              RDT_ATTACHMENT_TYPE_FILE,
                                              (const guint8 *) json, jlen,
                                              &error), >, 0);
  g_assert_no_error (error);
  wait_for (&a.n_send_done, 1, "send done");
  g_assert_no_error (a.send_error);

  /* Receive on the other device. */
  wait_for (&b.attachments->len, 1, "attachment message");
  got = rdt_attachment_parse (g_bytes_get_data (b.attachments->pdata[0], NULL),
                              g_bytes_get_size (b.attachments->pdata[0]),
                              &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->blob_id, ==, a.att->blob_id);
  g_assert_cmpstr (got->filename, ==, "data.bin");
  g_assert_cmpuint (got->size, ==, n);
  rdt_api_get_blob_async (rdt_session_get_api (sb), got->blob_id,
                          got->size + 28, NULL, get_cb, &b);
  wait_done (&b, "download");
  g_assert_no_error (b.error);
  rdt_attachment_decrypt_async (got, b.bytes, NULL, decrypted_cb, &b);
  wait_done (&b, "decryption");
  g_assert_no_error (b.error);
  g_assert_true (g_bytes_equal (b.bytes, plain));

  /* A wrong key in the descriptor: the GCM tag refuses. */
  {
    g_autoptr (RdtAttachment) wrong = rdt_attachment_copy (got);
    g_autoptr (GBytes) blob = NULL;

    rdt_api_get_blob_async (rdt_session_get_api (sb), got->blob_id,
                            got->size + 28, NULL, get_cb, &b);
    wait_done (&b, "download 2");
    g_assert_no_error (b.error);
    blob = g_bytes_ref (b.bytes);
    wrong->dek[0] ^= 0x80;
    rdt_attachment_decrypt_async (wrong, blob, NULL, decrypted_cb, &b);
    wait_done (&b, "decryption 2");
    g_assert_null (b.bytes);
    g_assert_error (b.error, RDT_ERROR, RDT_ERROR_DECRYPT);
    g_clear_error (&b.error);
  }

  /* Tamper with the stored blob: the download is rejected. */
  if (rdt_test_server_require_local (srv, "editing the stored blob in its data dir "
                                     "(the transfer part passed)"))
    {
      g_autofree gchar *path = g_build_filename (
          rdt_test_server_get_data_dir (srv), "blobs", got->blob_id, NULL);
      g_autofree gchar *contents = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      g_assert_cmpuint (len, ==, n + 28);
      contents[len / 2] ^= 1;
      g_assert_true (g_file_set_contents (path, contents, len, NULL));

      rdt_api_get_blob_async (rdt_session_get_api (sb), got->blob_id,
                              got->size + 28, NULL, get_cb, &b);
      wait_done (&b, "tampered download");
      g_assert_null (b.bytes);
      g_assert_nonnull (b.error);
      g_test_message ("tampered blob rejected: %s", b.error->message);
      g_clear_error (&b.error);

      /* The id is checked once, by the download above. Should some path
       * skip it, the GCM tag refuses the same bytes all the same. */
      {
        g_autoptr (GBytes) bad = g_bytes_new (contents, len);
        g_autoptr (GBytes) out = rdt_attachment_decrypt (got, bad, &error);
        g_assert_null (out);
        g_assert_error (error, RDT_ERROR, RDT_ERROR_DECRYPT);
        g_clear_error (&error);
      }
    }

  rdt_wipe (json, jlen);
  rdt_session_free (sa);
  rdt_session_free (sb);
  fx_clear (&a);
  fx_clear (&b);
}

/* Over the server's blob limit: a clear 413 error, nothing stored. */
static void
test_too_large (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  Fx a;
  RdtSession *sa;
  guint8 *buf;
  g_autoptr (GBytes) plain = NULL;
  const gsize n = SERVER_MAX_BLOB + 1;
  const gchar *args[] = { "--max-blob-size", G_STRINGIFY (SERVER_MAX_BLOB),
                          NULL };
  g_autoptr (RdtTestServer) small = NULL;
  RdtTestServer *saved = srv;

  /* the real limit (100 MB) is too big to go over in a test */
  small = rdt_test_server_start_local (args, "a 256 KiB blob limit (--max-blob-size)");
  if (small == NULL)
    return;
  srv = small;
  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  sa = session_for (owner, root, &a);
  rdt_session_connect (sa);
  wait_for (&a.n_connected, 1, "connected");

  buf = g_malloc0 (n);
  plain = g_bytes_new_take (buf, n);
  rdt_attachment_encrypt_async (plain, 0, NULL, encrypted_cb, &a);
  wait_done (&a, "encryption");
  g_assert_no_error (a.error);
  rdt_api_put_blob_async (rdt_session_get_api (sa), a.att->blob_id, a.bytes,
                          NULL, put_cb, &a);
  wait_done (&a, "upload");
  g_assert_nonnull (a.error);
  g_test_message ("over the limit: %s", a.error->message);
  g_assert_error (a.error, RDT_API_ERROR, RDT_API_ERROR_TOO_LARGE);

  rdt_session_free (sa);
  fx_clear (&a);
  srv = saved;
}

#ifdef RDT_HAVE_PURPLE
/* ---- incoming file transfers through the plugin (libpurple) ----
 *
 * The plugin's account (the space owner) sits in a chat; another member,
 * driven through the core in this process, sends a non-image file. The
 * plugin must offer it as an incoming PurpleXfer; the test plays the UI:
 * it answers libpurple's own question (request ops) and file chooser the
 * way Pidgin does, so libpurple's reference counting runs for real. */

#define TOPIC "general"
#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"

/* What the UI saw of the (latest) transfer of a test. */
typedef struct {
  PurpleXfer *xfer;            /* NULL once destroyed */
  guint n_new, n_destroyed, n_cancel_local, n_progress, n_closed;
  guint n_asked;               /* questions asked, one per offer */
  PurpleXferStatusType final_status;
  gdouble last_progress;
  gchar *who, *filename;
  gsize size;
  /* libpurple's question ("X wants to send you F"): Accept / Cancel */
  gpointer ask_data, ask_handle;
  PurpleRequestActionCb accept_cb, decline_cb;
  /* the file chooser that follows Accept */
  gpointer file_data, file_handle;
  PurpleRequestFileCb file_ok_cb, file_cancel_cb;
  /* requests closed while the chooser's own callback ran: Pidgin frees
   * the chooser's data on close, so this is a use after free there */
  gboolean in_chooser_cb;
  guint closed_in_chooser_cb;
} Seen;

static Seen seen;

static void
seen_reset (void)
{
  g_free (seen.who);
  g_free (seen.filename);
  memset (&seen, 0, sizeof seen);
}

static void
ui_new_xfer (PurpleXfer *xfer)
{
  seen.n_new++;
  seen.xfer = xfer;
}

static void
ui_destroy (PurpleXfer *xfer)
{
  if (xfer != seen.xfer)
    return;
  seen.final_status = purple_xfer_get_status (xfer);
  seen.n_destroyed++;
  seen.xfer = NULL;
}

static void
ui_update_progress (PurpleXfer *xfer, double percent)
{
  seen.n_progress++;
  seen.last_progress = percent;
}

static void
ui_cancel_local (PurpleXfer *xfer)
{
  seen.n_cancel_local++;
}

static PurpleXferUiOps xfer_ui_ops = {
  .new_xfer = ui_new_xfer,
  .destroy = ui_destroy,
  .update_progress = ui_update_progress,
  .cancel_local = ui_cancel_local,
};

static void *
ui_request_action (const char *title, const char *primary,
                   const char *secondary, int default_action,
                   PurpleAccount *account, const char *who,
                   PurpleConversation *conv, void *user_data,
                   size_t action_count, va_list actions)
{
  PurpleXfer *xfer = user_data;

  g_test_message ("request_action: %s", primary);
  g_assert_true (xfer == seen.xfer);
  g_assert_cmpuint (action_count, ==, 2);
  (void) va_arg (actions, const char *);
  seen.accept_cb = va_arg (actions, PurpleRequestActionCb);
  (void) va_arg (actions, const char *);
  seen.decline_cb = va_arg (actions, PurpleRequestActionCb);
  seen.ask_data = user_data;
  seen.n_asked++;
  /* the offer as the UI shows it */
  g_free (seen.who);
  g_free (seen.filename);
  seen.who = g_strdup (purple_xfer_get_remote_user (xfer));
  seen.filename = g_strdup (purple_xfer_get_filename (xfer));
  seen.size = purple_xfer_get_size (xfer);
  /* one handle per dialog, freed when it closes (as a UI's window) */
  seen.ask_handle = g_new0 (gchar, 1);
  return seen.ask_handle;
}

static void *
ui_request_file (const char *title, const char *filename, gboolean savedialog,
                 GCallback ok_cb, GCallback cancel_cb, PurpleAccount *account,
                 const char *who, PurpleConversation *conv, void *user_data)
{
  g_assert_true (savedialog);
  seen.file_ok_cb = (PurpleRequestFileCb) ok_cb;
  seen.file_cancel_cb = (PurpleRequestFileCb) cancel_cb;
  seen.file_data = user_data;
  seen.file_handle = g_new0 (gchar, 1);
  return seen.file_handle;
}

static void
ui_close_request (PurpleRequestType type, void *ui_handle)
{
  seen.n_closed++;
  if (seen.in_chooser_cb)
    seen.closed_in_chooser_cb++;
  g_free (ui_handle);
}

static PurpleRequestUiOps request_ui_ops = {
  .request_action = ui_request_action,
  .request_file = ui_request_file,
  .close_request = ui_close_request,
};

/* Answer the latest question as Pidgin does: the button's callback, then
 * the dialog is closed. */
static void
answer_question (gboolean accept)
{
  gpointer handle = seen.ask_handle;
  PurpleRequestActionCb cb = accept ? seen.accept_cb : seen.decline_cb;

  g_assert_nonnull (cb);
  cb (seen.ask_data, accept ? 0 : 1);
  purple_request_close (PURPLE_REQUEST_ACTION, handle);
}

/* Answer the open file chooser (path NULL: Cancel) as Pidgin does. Its OK
 * callback must not close it: Pidgin closes it afterwards, with data it
 * would have freed. */
static void
answer_chooser (const gchar *path)
{
  gpointer handle = seen.file_handle;
  gpointer data = seen.file_data;
  PurpleRequestFileCb ok = seen.file_ok_cb, cancel = seen.file_cancel_cb;

  g_assert_nonnull (ok);
  seen.file_ok_cb = seen.file_cancel_cb = NULL;
  seen.file_handle = NULL;
  if (path != NULL)
    {
      seen.in_chooser_cb = TRUE;
      ok (data, path);
      seen.in_chooser_cb = FALSE;
      g_assert_cmpuint (seen.closed_in_chooser_cb, ==, 0);
    }
  else
    cancel (data, NULL);   /* (libpurple itself closes it on Cancel) */
  purple_request_close (PURPLE_REQUEST_FILE, handle);
}

/* -- a space with its owner (the plugin's account) and a member (peer) -- */

typedef struct {
  RdtSigningKey *owner;
  gchar *space_id, *owner_uid, *owner_hex;
  RdtSigningKey *member;
  gchar *member_uid;
  RdtSession *peer;
  gboolean peer_opened;
  guint peer_queued, peer_sent, peer_failed;
  PurpleAccount *account;
  gchar *dir;                  /* where the test saves files */
  gint64 peer_image_ms;        /* server time of the peer's last image */
} Space;

static void
peer_opened (RdtSession *s, const gchar *t, const GError *e, gpointer d)
{
  g_assert_no_error ((GError *) e);
  ((Space *) d)->peer_opened = TRUE;
}

static void
peer_send_done (RdtSession *s, const gchar *t, guint64 id, const GError *e,
                gpointer d)
{
  Space *sp = d;

  if (e != NULL)
    {
      g_test_message ("peer send failed: %s", e->message);
      sp->peer_failed++;
    }
  else
    sp->peer_sent++;
}

/* The peer's own messages come back with their server time. */
static void
peer_message (RdtSession *s, const RdtSessionMessage *m, gpointer d)
{
  if (m->own && g_strcmp0 (m->type, RDT_ATTACHMENT_TYPE_IMAGE) == 0)
    ((Space *) d)->peer_image_ms = m->timestamp;
}

static const RdtSessionCallbacks peer_callbacks = {
  .topic_opened = peer_opened,
  .message = peer_message,
  .send_done = peer_send_done,
};

static gboolean
peer_ready (gpointer d)
{
  Space *sp = d;

  return sp->peer_opened
         && rdt_session_get_state (sp->peer) == RDT_SESSION_CONNECTED;
}

static gboolean
peer_all_sent (gpointer d)
{
  Space *sp = d;

  return sp->peer_sent + sp->peer_failed >= sp->peer_queued;
}

static Space *
space_new (void)
{
  Space *sp = g_new0 (Space, 1);
  GError *error = NULL;
  g_autofree gchar *user = NULL;
  RdtApi *api;

  seen_reset ();
  sp->owner = rdt_signing_key_generate ();
  sp->space_id = rdt_signing_key_get_id (sp->owner, RDT_ID_SPACE);
  sp->owner_uid = rdt_signing_key_get_id (sp->owner, RDT_ID_USER);
  sp->owner_hex = harness_seed_hex (sp->owner);
  sp->member = rdt_signing_key_generate ();
  sp->member_uid = rdt_signing_key_get_id (sp->member, RDT_ID_USER);
  sp->dir = g_dir_make_tmp ("rdt-xfer-XXXXXX", NULL);
  g_assert_nonnull (sp->dir);

  /* the member, with the chat capability of spec 8.2 */
  api = rdt_api_new (rdt_test_server_get_url (srv), sp->space_id, sp->owner,
                     RDT_ID_USER, &error);
  g_assert_no_error (error);
  {
    /* as every client does it (src/core/membership.c) */
    HarnessAsync w = { NULL };

    rdt_membership_add_member_async (api, sp->member_uid, NULL,
                                     harness_async_cb, &w);
    harness_wait (harness_async_done, &w, 30, "the member to be added");
    g_assert_true (rdt_membership_add_member_finish (api, w.result, &error));
    g_assert_no_error (error);
    g_object_unref (w.result);
  }
  g_object_unref (api);

  /* the plugin's account, in the chat */
  user = g_strconcat ("alice@", sp->space_id, NULL);
  sp->account = harness_account_new (user, sp->owner_hex,
                                     rdt_test_server_get_url (srv), ZERO_KEY);
  harness_account_connect (sp->account);
  harness_wait (harness_account_connected, sp->account, 30, "account to connect");
  return sp;
}

static void
space_join (Space *sp)
{
  GHashTable *c = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (c, "topic", (gpointer) TOPIC);
  serv_join_chat (purple_account_get_connection (sp->account), c);
  g_hash_table_destroy (c);
  g_assert_nonnull (purple_find_conversation_with_account (
      PURPLE_CONV_TYPE_CHAT, TOPIC, sp->account));
}

static void
space_peer_start (Space *sp)
{
  guint8 root[RDT_KEY_LENGTH] = { 0 };
  GError *error = NULL;

  sp->peer = rdt_session_new_for_key (rdt_test_server_get_url (srv),
                                      sp->space_id, sp->member, root, &error);
  g_assert_no_error (error);
  rdt_session_set_callbacks (sp->peer, &peer_callbacks, sp);
  rdt_session_set_poll_intervals (sp->peer, 200, 100);
  rdt_session_connect (sp->peer);
  rdt_session_open_topic (sp->peer, TOPIC, 50);
  harness_wait (peer_ready, sp, 30, "peer to open the topic");
}

/* The peer says `text` and the account shows it: the topic is live. */
static void
space_drain (Space *sp, const gchar *text)
{
  GError *error = NULL;

  g_assert_cmpuint (rdt_session_send_text (sp->peer, TOPIC, text, &error),
                    >, 0);
  g_assert_no_error (error);
  sp->peer_queued++;
  harness_wait_line (sp->account, text, 0);
  harness_wait (peer_all_sent, sp, 30, "peer's sends");
  g_assert_cmpuint (sp->peer_failed, ==, 0);
}

/* Encrypt and upload data as the peer; the descriptor is returned, not
 * yet announced (so the blob can be altered first). */
static RdtAttachment *
peer_upload_typed (Space *sp, const gchar *name, const gchar *content_type,
                   const guint8 *data, gsize len)
{
  RdtAttachment *att = NULL;
  GError *error = NULL;
  GBytes *blob = rdt_attachment_encrypt (data, len, 0, &att, &error);
  HarnessAsync put = { NULL };

  g_assert_no_error (error);
  att->filename = g_strdup (name);
  att->content_type = g_strdup (content_type);
  rdt_api_put_blob_async (rdt_session_get_api (sp->peer), att->blob_id, blob,
                          NULL, harness_async_cb, &put);
  harness_wait (harness_async_done, &put, 30, "peer upload");
  g_assert_true (rdt_api_put_blob_finish (rdt_session_get_api (sp->peer),
                                          put.result, &error));
  g_clear_object (&put.result);
  g_bytes_unref (blob);
  return att;
}

static RdtAttachment *
peer_upload (Space *sp, const gchar *name, const guint8 *data, gsize len)
{
  return peer_upload_typed (sp, name, "application/octet-stream", data, len);
}

static void
peer_announce_as (Space *sp, const RdtAttachment *att, const gchar *type)
{
  GError *error = NULL;
  gsize jlen;
  gchar *json = rdt_attachment_to_json (att, &jlen);

  g_assert_cmpuint (rdt_session_send_payload (sp->peer, TOPIC, type,
                                              (const guint8 *) json, jlen,
                                              &error), >, 0);
  g_assert_no_error (error);
  sp->peer_queued++;
  rdt_wipe (json, jlen);
  g_free (json);
  harness_wait (peer_all_sent, sp, 30, "peer's file message");
  g_assert_cmpuint (sp->peer_failed, ==, 0);
}

static void
peer_announce (Space *sp, const RdtAttachment *att)
{
  peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_FILE);
}

static gboolean
asked (gpointer d)
{
  return seen.accept_cb != NULL;
}

static gboolean
xfer_gone (gpointer d)
{
  return seen.n_destroyed > 0;
}

static gboolean
account_gone (gpointer d)
{
  return purple_account_get_connection (d) == NULL;
}

static void
space_free (Space *sp)
{
  if (sp->peer != NULL)
    rdt_session_free (sp->peer);
  purple_account_set_enabled (sp->account, "rdt-e2e", FALSE);
  if (!purple_account_is_disconnected (sp->account))
    purple_account_disconnect (sp->account);
  harness_wait (account_gone, sp->account, 30, "account to disconnect");
  g_rmdir (sp->dir);
  g_free (sp->dir);
  g_free (sp->space_id);
  g_free (sp->owner_uid);
  g_free (sp->owner_hex);
  g_free (sp->member_uid);
  rdt_signing_key_free (sp->owner);
  rdt_signing_key_free (sp->member);
  g_free (sp);
}

/* The offer as the UI got it: from the member's chat nick, with the
 * sender's file name and size; and the /fetch line is still in the chat. */
static void
check_offer (Space *sp, const gchar *name, gsize len)
{
  g_autofree gchar *nick = rdt_id_short (sp->member_uid);
  /* "sent file “x” (" or "sent image “x” (…), too large to show inline" */
  g_autofree gchar *hint = g_strdup_printf ("“%s” (", name);

  harness_wait (asked, NULL, 30, "the incoming transfer to be offered");
  g_assert_cmpuint (seen.n_new, ==, 1);
  g_assert_nonnull (seen.xfer);
  g_assert_cmpint (purple_xfer_get_type (seen.xfer), ==, PURPLE_XFER_RECEIVE);
  g_assert_cmpstr (seen.who, ==, nick);
  g_assert_cmpstr (seen.filename, ==, name);
  g_assert_cmpuint (seen.size, ==, len);
  /* an entry from the sender, logged */
  g_assert_cmpuint (harness_count_lines (sp->account, hint,
                                         PURPLE_MESSAGE_RECV), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "— /fetch ",
                                         PURPLE_MESSAGE_RECV), >=, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, hint,
                                         PURPLE_MESSAGE_NO_LOG), ==, 0);
}

/* Accept as Pidgin does: "Accept" in the question, then the chooser. */
static void
accept_to (const gchar *dest)
{
  answer_question (TRUE);
  answer_chooser (dest);
}

static void
test_xfer_receive (void)
{
  Space *sp = space_new ();
  const gsize n = 100 * 1024 + 7;
  g_autofree guint8 *data = g_malloc (n);
  g_autofree gchar *dest = g_build_filename (sp->dir, "saved.bin", NULL);
  g_autofree gchar *saved = NULL;
  g_autoptr (RdtAttachment) att = NULL;
  gsize saved_len = 0;

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the file");
  rdt_random_bytes (data, n);
  att = peer_upload (sp, "report.bin", data, n);
  peer_announce (sp, att);
  check_offer (sp, "report.bin", n);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));

  accept_to (dest);
  harness_wait (xfer_gone, NULL, 60, "the transfer to finish");
  g_assert_cmpint (seen.final_status, ==, PURPLE_XFER_STATUS_DONE);
  g_assert_cmpuint (seen.n_cancel_local, ==, 0);
  /* at the start, after the download, at the end */
  g_assert_cmpuint (seen.n_progress, >=, 2);
  g_assert_cmpfloat (seen.last_progress, ==, 1.0);
  g_assert_true (g_file_get_contents (dest, &saved, &saved_len, NULL));
  g_assert_cmpmem (saved, saved_len, data, n);
  harness_wait_line (sp->account, "Saved “report.bin”", PURPLE_MESSAGE_SYSTEM);
  g_assert_cmpuint (harness_count_lines (sp->account, "report.bin",
                                         PURPLE_MESSAGE_ERROR), ==, 0);

  g_unlink (dest);
  space_free (sp);
}

typedef enum {
  BAD_TAMPERED,    /* blob altered on the server's disk */
  BAD_MISSING,     /* GET of the blob answers 404 */
  BAD_KEY,         /* the descriptor's key does not open the blob */
} BadBlob;

static void
xfer_bad (BadBlob how, const gchar *name, const gchar *chat_error)
{
  Space *sp;
  const gsize n = 20000;
  g_autofree guint8 *data = NULL;
  g_autofree gchar *dest = NULL;
  g_autoptr (RdtAttachment) att = NULL;
  GPtrArray *notes;
  guint notes_before;
  gboolean notified = FALSE;

  if (how == BAD_TAMPERED
      && !rdt_test_server_require_local (srv, "editing the stored blob in its data dir"))
    return;
  if (how == BAD_MISSING
      && !rdt_test_server_require_local (srv, "a GET /blobs/ 404 fault"))
    return;
  sp = space_new ();
  data = g_malloc (n);
  dest = g_build_filename (sp->dir, name, NULL);
  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the bad file");
  rdt_random_bytes (data, n);
  att = peer_upload (sp, name, data, n);
  if (how == BAD_TAMPERED)
    {
      g_autofree gchar *path = g_build_filename (
          rdt_test_server_get_data_dir (srv), "blobs", att->blob_id, NULL);
      g_autofree gchar *contents = NULL;
      gsize len;

      g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
      g_assert_cmpuint (len, ==, n + 28);
      contents[len / 2] ^= 0x01;
      g_assert_true (g_file_set_contents (path, contents, len, NULL));
    }
  else if (how == BAD_MISSING)
    rdt_test_server_fault (srv, "{\"action\":\"status\",\"status\":404,"
                                "\"path\":\"/blobs/\",\"method\":\"GET\"}");
  else
    att->dek[5] ^= 0x40;
  peer_announce (sp, att);
  check_offer (sp, name, n);

  notes = harness_notifies ();
  notes_before = notes->len;
  accept_to (dest);
  harness_wait (xfer_gone, NULL, 60, "the transfer to fail");
  if (how == BAD_MISSING)
    rdt_test_server_clear_faults (srv);
  g_assert_cmpint (seen.final_status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_cmpuint (seen.n_cancel_local, ==, 1);
  /* the transfer UI's error (purple_xfer_error) and the chat's line */
  for (guint i = notes_before; i < notes->len; i++)
    {
      HarnessNotify *no = notes->pdata[i];

      if (no->type == PURPLE_NOTIFY_MSG_ERROR
          && strstr (no->primary, "File transfer from") != NULL)
        notified = TRUE;
    }
  g_assert_true (notified);
  g_assert_cmpuint (harness_count_lines (sp->account, chat_error,
                                         PURPLE_MESSAGE_ERROR), ==, 1);
  /* nothing unverified, nothing at all, was written */
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (harness_count_lines (sp->account, "Saved “",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);

  space_free (sp);
}

static void
test_xfer_tampered (void)
{
  xfer_bad (BAD_TAMPERED, "tampered.bin", "Could not download “tampered.bin”");
}

static void
test_xfer_missing (void)
{
  xfer_bad (BAD_MISSING, "missing.bin", "Could not download “missing.bin”");
}

static void
test_xfer_wrong_key (void)
{
  xfer_bad (BAD_KEY, "badkey.bin",
            "Attachment “badkey.bin” from");
}

/* Declining writes nothing and frees the transfer; an offer nobody
 * answered ends when the account closes. */
static void
test_xfer_decline (void)
{
  Space *sp = space_new ();
  const gsize n = 5000;
  g_autofree guint8 *data = g_malloc (n);
  g_autoptr (RdtAttachment) att = NULL;
  g_autoptr (RdtAttachment) att2 = NULL;
  g_autoptr (GDir) dir = NULL;

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before declining");
  rdt_random_bytes (data, n);
  att = peer_upload (sp, "unwanted.bin", data, n);
  peer_announce (sp, att);
  check_offer (sp, "unwanted.bin", n);

  answer_question (FALSE);
  /* libpurple gives back both references at once: gone now */
  g_assert_cmpuint (seen.n_destroyed, ==, 1);
  g_assert_null (seen.file_ok_cb);
  /* the chat still works, and nothing more came of the offer */
  space_drain (sp, "after declining");
  g_assert_cmpuint (harness_count_lines (sp->account, "unwanted.bin",
                                         PURPLE_MESSAGE_ERROR), ==, 0);
  dir = g_dir_open (sp->dir, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_null (g_dir_read_name (dir));
  g_dir_rewind (dir);

  /* accepted, but the file chooser cancelled: also gone, nothing written */
  seen_reset ();
  att2 = peer_upload (sp, "unchosen.bin", data, n);
  peer_announce (sp, att2);
  check_offer (sp, "unchosen.bin", n);
  answer_question (TRUE);
  g_assert_nonnull (seen.file_cancel_cb);
  answer_chooser (NULL);
  g_assert_cmpuint (seen.n_destroyed, ==, 1);
  space_drain (sp, "after the chooser");
  g_dir_rewind (dir);
  g_assert_null (g_dir_read_name (dir));
  g_clear_pointer (&att2, rdt_attachment_free);

  /* an offer left unanswered: closing the account ends it */
  seen_reset ();
  att2 = peer_upload (sp, "ignored.bin", data, n);
  peer_announce (sp, att2);
  check_offer (sp, "ignored.bin", n);
  rdt_session_free (sp->peer);
  sp->peer = NULL;
  space_free (sp);
  g_assert_cmpuint (seen.n_destroyed, ==, 1);
  g_assert_cmpuint (seen.n_closed, >=, 1);
}

/* Cancelled while the download is in flight (the server holds the blob
 * back): the transfer ends at once, the late answer is ignored, nothing is
 * written, another transfer still completes; closing the account during a
 * download ends that one too. */
static void
test_xfer_cancel_running (void)
{
  Space *sp;
  const gsize n = 8000;
  g_autofree guint8 *data = NULL;
  g_autofree gchar *dest1 = NULL;
  g_autofree gchar *dest2 = NULL;
  g_autofree gchar *dest3 = NULL;
  g_autofree gchar *saved = NULL;
  g_autoptr (RdtAttachment) a1 = NULL;
  g_autoptr (RdtAttachment) a2 = NULL;
  g_autoptr (RdtAttachment) a3 = NULL;
  gsize saved_len = 0;

  if (!rdt_test_server_require_local (srv, "a GET /blobs/ delay fault to cancel during"))
    return;
  sp = space_new ();
  data = g_malloc (n);
  dest1 = g_build_filename (sp->dir, "first.bin", NULL);
  dest2 = g_build_filename (sp->dir, "second.bin", NULL);
  dest3 = g_build_filename (sp->dir, "third.bin", NULL);
  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before cancelling");
  rdt_random_bytes (data, n);
  rdt_test_server_fault (srv, "{\"action\":\"delay\",\"delay_ms\":1500,"
                              "\"path\":\"/blobs/\",\"method\":\"GET\"}");

  /* the user cancels a running transfer */
  a1 = peer_upload (sp, "first.bin", data, n);
  peer_announce (sp, a1);
  check_offer (sp, "first.bin", n);
  accept_to (dest1);
  g_assert_nonnull (seen.xfer);
  g_assert_cmpuint (seen.n_destroyed, ==, 0);
  purple_xfer_cancel_local (seen.xfer);
  g_assert_cmpuint (seen.n_destroyed, ==, 1);
  g_assert_cmpint (seen.final_status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);

  /* a second one, started later, completes after the first one's answer
   * would have come: that answer changed nothing */
  seen_reset ();
  a2 = peer_upload (sp, "second.bin", data, n);
  peer_announce (sp, a2);
  check_offer (sp, "second.bin", n);
  accept_to (dest2);
  harness_wait (xfer_gone, NULL, 60, "the second transfer to finish");
  g_assert_cmpint (seen.final_status, ==, PURPLE_XFER_STATUS_DONE);
  g_assert_true (g_file_get_contents (dest2, &saved, &saved_len, NULL));
  g_assert_cmpmem (saved, saved_len, data, n);
  g_assert_false (g_file_test (dest1, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (harness_count_lines (sp->account, "Saved “first.bin”",
                                         PURPLE_MESSAGE_SYSTEM), ==, 0);
  g_assert_cmpuint (harness_count_lines (sp->account, "first.bin",
                                         PURPLE_MESSAGE_ERROR), ==, 0);

  /* the account closes during a download */
  seen_reset ();
  a3 = peer_upload (sp, "third.bin", data, n);
  peer_announce (sp, a3);
  check_offer (sp, "third.bin", n);
  accept_to (dest3);
  g_assert_cmpuint (seen.n_destroyed, ==, 0);
  rdt_session_free (sp->peer);
  sp->peer = NULL;
  g_unlink (dest2);
  space_free (sp);
  g_assert_cmpuint (seen.n_destroyed, ==, 1);
  g_assert_cmpint (seen.final_status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_false (g_file_test (dest3, G_FILE_TEST_EXISTS));
  rdt_test_server_clear_faults (srv);
}

/* Files from history get the /fetch line only. */
static void
test_xfer_history_not_offered (void)
{
  Space *sp = space_new ();
  const gsize n = 3000;
  g_autofree guint8 *data = g_malloc (n);
  g_autoptr (RdtAttachment) att = NULL;

  /* sent before the account opens the topic: it comes as history */
  space_peer_start (sp);
  rdt_random_bytes (data, n);
  att = peer_upload (sp, "old.bin", data, n);
  peer_announce (sp, att);
  space_join (sp);
  harness_wait_line (sp->account, "sent file “old.bin”",
                     PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_DELAYED);
  space_drain (sp, "after history");
  g_assert_cmpuint (seen.n_new, ==, 0);
  g_assert_null (seen.accept_cb);
  space_free (sp);
}

/* ---- review fixes: refusals, offers, /fetch names, inline images ---- */

typedef struct {
  PurpleAccount *account;
  const gchar *text;
  PurpleMessageFlags flags;
  guint want;
} Count;

static gboolean
count_reached (gpointer d)
{
  Count *c = d;

  return harness_count_lines (c->account, c->text, c->flags) >= c->want;
}

/* Wait (30 s) for want lines of account containing text with flags. */
static void
wait_count (PurpleAccount *account, const gchar *text, PurpleMessageFlags flags,
            guint want)
{
  Count c = { account, text, flags, want };
  g_autofree gchar *what = g_strdup_printf ("%u lines with \"%s\"", want,
                                            text);

  harness_wait (count_reached, &c, 30, what);
}

static PurpleConversation *
space_conv (Space *sp)
{
  PurpleConversation *conv = purple_find_conversation_with_account (
      PURPLE_CONV_TYPE_CHAT, TOPIC, sp->account);

  g_assert_nonnull (conv);
  return conv;
}

/* Run "/cmd" in the space's chat; it must be accepted. */
static void
space_command (Space *sp, const gchar *cmd)
{
  gchar *err = NULL;

  g_test_message ("/%s", cmd);
  g_assert_cmpint (purple_cmd_do_command (space_conv (sp), cmd, cmd, &err),
                   ==, PURPLE_CMD_STATUS_OK);
  g_assert_null (err);
}

/* The file names of the images the chat showed, as the image store has
 * them at that moment (the chat's write_chat, wrapped). */
static GPtrArray *shown_images;
static PurpleConversationUiOps *harness_conv_ops;

static void
recording_write_chat (PurpleConversation *conv, const char *who,
                      const char *message, PurpleMessageFlags flags,
                      time_t mtime)
{
  const gchar *p;

  if ((flags & PURPLE_MESSAGE_IMAGES) && shown_images != NULL
      && (p = strstr (message, "<img id=\"")) != NULL)
    {
      PurpleStoredImage *img =
        purple_imgstore_find_by_id (atoi (p + strlen ("<img id=\"")));

      g_assert_nonnull (img);
      g_ptr_array_add (shown_images,
                       g_strdup (purple_imgstore_get_filename (img)));
    }
  harness_conv_ops->write_chat (conv, who, message, flags, mtime);
}

/* A PNG header for w x h, then n random bytes: enough for the plugin's
 * check (nothing here decodes it). */
static guint8 *
png_bytes (guint32 w, guint32 h, gsize n, gsize *len_out)
{
  static const guint8 head[16] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
                                   '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R' };
  gsize len = 33 + n;
  guint8 *b = g_malloc0 (len);

  memcpy (b, head, sizeof head);
  b[16] = w >> 24; b[17] = w >> 16; b[18] = w >> 8; b[19] = w;
  b[20] = h >> 24; b[21] = h >> 16; b[22] = h >> 8; b[23] = h;
  b[24] = 8;
  b[25] = 6;
  rdt_random_bytes (b + 33, n);
  *len_out = len;
  return b;
}

/* Review item 1: a transfer refused when accepted (here: the limit was
 * lowered since the offer) ends after the file chooser's callback, never
 * inside it (Pidgin frees the chooser's data when it is closed). */
static void
test_xfer_refused_at_accept (void)
{
  Space *sp = space_new ();
  const gsize n = 20000;
  const gsize claimed = 2 * 1024 * 1024;
  g_autofree guint8 *data = g_malloc (n);
  g_autofree gchar *dest = g_build_filename (sp->dir, "late.bin", NULL);
  g_autoptr (RdtAttachment) att = NULL;
  GPtrArray *notes;
  guint notes_before;
  gboolean notified = FALSE;

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the late refusal");
  rdt_random_bytes (data, n);
  att = peer_upload (sp, "late.bin", data, n);
  att->size = claimed;
  peer_announce (sp, att);
  check_offer (sp, "late.bin", claimed);

  purple_account_set_int (sp->account, "max-attachment-mb", 1);
  notes = harness_notifies ();
  notes_before = notes->len;
  accept_to (dest);   /* asserts nothing closed the chooser meanwhile */
  g_assert_cmpuint (seen.n_destroyed, ==, 0);
  harness_wait (xfer_gone, NULL, 30, "the refused transfer to end");
  g_assert_cmpint (seen.final_status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_cmpuint (seen.n_cancel_local, ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account,
                                         "over the download limit",
                                         PURPLE_MESSAGE_ERROR), ==, 1);
  for (guint i = notes_before; i < notes->len; i++)
    {
      HarnessNotify *no = notes->pdata[i];

      if (no->type == PURPLE_NOTIFY_MSG_ERROR
          && strstr (no->primary, "File transfer from") != NULL)
        notified = TRUE;
    }
  g_assert_true (notified);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  space_free (sp);
}

/* A libpurple notice that stays open until the test closes it (the
 * harness's notices close at once), for "Directory is not writable." */
static PurpleNotifyUiOps *harness_notify_ops;
static gpointer open_notice;

static void *
keep_notice_message (PurpleNotifyMsgType type, const char *title,
                     const char *primary, const char *secondary)
{
  if (g_strcmp0 (primary, "Directory is not writable.") != 0)
    return harness_notify_ops->notify_message (type, title, primary,
                                               secondary);
  g_test_message ("notice kept open: %s", primary);
  g_assert_null (open_notice);
  open_notice = g_new0 (gchar, 1);
  return open_notice;
}

static void
keep_notice_close (PurpleNotifyType type, void *ui_handle)
{
  g_assert_true (ui_handle == open_notice);
  g_free (open_notice);
  open_notice = NULL;
}

/* Review item 2: the file chooser answered with a directory libpurple
 * finds not writable: its notice holds the question's reference and opens
 * the chooser again when closed. The account closing meanwhile must leave
 * that reference alone (before: given back, the transfer freed, and the
 * notice then used it). */
static void
test_xfer_notice_outlives_account (void)
{
  Space *sp = space_new ();
  const gsize n = 3000;
  g_autofree guint8 *data = g_malloc (n);
  g_autoptr (RdtAttachment) att = NULL;
  PurpleNotifyUiOps keep;
  PurpleXfer *xfer;

  harness_notify_ops = purple_notify_get_ui_ops ();
  keep = *harness_notify_ops;
  keep.notify_message = keep_notice_message;
  keep.close_notify = keep_notice_close;
  purple_notify_set_ui_ops (&keep);

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the unwritable directory");
  rdt_random_bytes (data, n);
  att = peer_upload (sp, "nowhere.bin", data, n);
  peer_announce (sp, att);
  check_offer (sp, "nowhere.bin", n);
  xfer = seen.xfer;
  answer_question (TRUE);
  answer_chooser ("/nonexistent-rdt-dir/nowhere.bin");
  g_assert_nonnull (open_notice);
  g_assert_null (seen.file_ok_cb);

  /* the account closes while the notice is open: the transfer lives on */
  rdt_session_free (sp->peer);
  sp->peer = NULL;
  space_free (sp);
  g_assert_cmpuint (seen.n_destroyed, ==, 0);
  g_assert_true (seen.xfer == xfer);

  /* closing the notice asks again; Cancel ends it, each reference given
   * back once */
  purple_notify_close (PURPLE_NOTIFY_MESSAGE, open_notice);
  g_assert_null (open_notice);
  g_assert_nonnull (seen.file_cancel_cb);
  answer_chooser (NULL);
  g_assert_cmpuint (seen.n_destroyed, ==, 1);
  purple_notify_set_ui_ops (harness_notify_ops);
}

/* The same, answered with a usable file after the account closed: the
 * transfer ends (it has nobody to download for), nothing is written. */
static void
test_xfer_notice_then_accept (void)
{
  Space *sp = space_new ();
  const gsize n = 3000;
  g_autofree guint8 *data = g_malloc (n);
  g_autofree gchar *dest = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("rdt-xfer-late-XXXXXX", NULL);
  g_autoptr (RdtAttachment) att = NULL;
  PurpleNotifyUiOps keep;

  harness_notify_ops = purple_notify_get_ui_ops ();
  keep = *harness_notify_ops;
  keep.notify_message = keep_notice_message;
  keep.close_notify = keep_notice_close;
  purple_notify_set_ui_ops (&keep);
  dest = g_build_filename (dir, "late.bin", NULL);

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the second unwritable directory");
  rdt_random_bytes (data, n);
  att = peer_upload (sp, "nowhere2.bin", data, n);
  peer_announce (sp, att);
  check_offer (sp, "nowhere2.bin", n);
  answer_question (TRUE);
  answer_chooser ("/nonexistent-rdt-dir/nowhere2.bin");
  rdt_session_free (sp->peer);
  sp->peer = NULL;
  space_free (sp);
  g_assert_cmpuint (seen.n_destroyed, ==, 0);

  purple_notify_close (PURPLE_NOTIFY_MESSAGE, open_notice);
  answer_chooser (dest);
  harness_wait (xfer_gone, NULL, 30, "the orphaned transfer to end");
  g_assert_cmpint (seen.final_status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  purple_notify_set_ui_ops (harness_notify_ops);
  g_rmdir (dir);
}

/* Review item 4: at most 3 questions open; beyond, the /fetch line only,
 * saying so; an answer makes room again. */
static void
test_xfer_offer_cap (void)
{
  Space *sp = space_new ();
  const gsize n = 1000;
  g_autofree guint8 *data = g_malloc (n);

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the flood of files");
  rdt_random_bytes (data, n);
  for (guint i = 1; i <= 5; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("flood-%u.bin", i);
      g_autofree gchar *hint = g_strdup_printf ("sent file “%s”", name);
      g_autoptr (RdtAttachment) att = peer_upload (sp, name, data, n);

      peer_announce (sp, att);
      harness_wait_line (sp->account, hint, PURPLE_MESSAGE_RECV);
    }
  g_assert_cmpuint (seen.n_asked, ==, 3);
  g_assert_cmpuint (seen.n_new, ==, 3);
  g_assert_cmpstr (seen.filename, ==, "flood-3.bin");
  g_assert_cmpuint (harness_count_lines (sp->account,
                                         "is not offered as a transfer",
                                         PURPLE_MESSAGE_SYSTEM), ==, 2);
  g_assert_cmpuint (harness_count_lines (sp->account,
                                         "sent file “flood-5.bin”",
                                         PURPLE_MESSAGE_RECV), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "/fetch 5",
                                         PURPLE_MESSAGE_RECV), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "Type /fetch 5 ",
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);

  /* declined: room for the next one */
  answer_question (FALSE);
  {
    g_autoptr (RdtAttachment) att = peer_upload (sp, "flood-6.bin", data, n);

    peer_announce (sp, att);
    harness_wait_line (sp->account, "sent file “flood-6.bin”",
                       PURPLE_MESSAGE_RECV);
  }
  g_assert_cmpuint (seen.n_asked, ==, 4);
  g_assert_cmpstr (seen.filename, ==, "flood-6.bin");
  g_assert_cmpuint (harness_count_lines (sp->account,
                                         "is not offered as a transfer",
                                         PURPLE_MESSAGE_SYSTEM), ==, 2);
  space_free (sp);
}

static gchar *
read_file (const gchar *path)
{
  gchar *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

/* Review items 6 and 7: "/fetch N dir/" names the file after the sender
 * but never replaces one ("same (1).txt"...); "~/dir/" is in the home
 * directory; a full path the user gives is replaced. */
static void
test_fetch_names (void)
{
  Space *sp = space_new ();
  const gchar *text = "the attachment's contents\n";
  g_autoptr (RdtAttachment) att = NULL;
  g_autofree gchar *cmd = NULL;
  g_autofree gchar *p0 = g_build_filename (sp->dir, "same.txt", NULL);
  g_autofree gchar *p1 = g_build_filename (sp->dir, "same (1).txt", NULL);
  g_autofree gchar *p2 = g_build_filename (sp->dir, "same (2).txt", NULL);
  g_autofree gchar *p3 = g_build_filename (sp->dir, "same (3).txt", NULL);
  g_autofree gchar *mine = g_build_filename (sp->dir, "mine.txt", NULL);
  g_autofree gchar *home_dir = g_build_filename (g_get_home_dir (),
                                                 "rdt-fetch", NULL);
  g_autofree gchar *home_file = g_build_filename (home_dir, "same.txt",
                                                  NULL);
  g_autofree gchar *home_named = g_build_filename (g_get_home_dir (),
                                                   "named.txt", NULL);
  g_autofree gchar *c = NULL;

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before fetching by name");
  att = peer_upload (sp, "same.txt", (const guint8 *) text, strlen (text));
  peer_announce (sp, att);
  check_offer (sp, "same.txt", strlen (text));

  /* into a directory: the sender's name, then numbered, never over a
   * file that is there */
  g_assert_true (g_file_set_contents (p2, "keep me", -1, NULL));
  cmd = g_strdup_printf ("fetch 1 %s/", sp->dir);
  for (guint i = 1; i <= 3; i++)
    {
      space_command (sp, cmd);
      wait_count (sp->account, "Saved “same.txt”", PURPLE_MESSAGE_SYSTEM, i);
    }
  c = read_file (p0);
  g_assert_cmpstr (c, ==, text);
  g_clear_pointer (&c, g_free);
  c = read_file (p1);
  g_assert_cmpstr (c, ==, text);
  g_clear_pointer (&c, g_free);
  c = read_file (p2);
  g_assert_cmpstr (c, ==, "keep me");
  g_clear_pointer (&c, g_free);
  c = read_file (p3);
  g_assert_cmpstr (c, ==, text);
  g_clear_pointer (&c, g_free);
  g_assert_cmpuint (harness_count_lines (sp->account, p3,
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);

  /* a path of the user's own: replaced (the help text says so) */
  g_assert_true (g_file_set_contents (mine, "old contents", -1, NULL));
  g_free (cmd);
  cmd = g_strdup_printf ("fetch 1 %s", mine);
  space_command (sp, cmd);
  wait_count (sp->account, "Saved “same.txt”", PURPLE_MESSAGE_SYSTEM, 4);
  c = read_file (mine);
  g_assert_cmpstr (c, ==, text);
  g_clear_pointer (&c, g_free);

  /* "~/dir/" and "~/file" (HOME is a fresh directory in this program) */
  g_assert_cmpint (g_mkdir (home_dir, 0700), ==, 0);
  space_command (sp, "fetch 1 ~/rdt-fetch/");
  wait_count (sp->account, "Saved “same.txt”", PURPLE_MESSAGE_SYSTEM, 5);
  c = read_file (home_file);
  g_assert_cmpstr (c, ==, text);
  g_clear_pointer (&c, g_free);
  space_command (sp, "fetch 1 ~/named.txt");
  wait_count (sp->account, "Saved “same.txt”", PURPLE_MESSAGE_SYSTEM, 6);
  c = read_file (home_named);
  g_assert_cmpstr (c, ==, text);
  g_clear_pointer (&c, g_free);
  g_assert_cmpuint (harness_count_lines (sp->account, "same.txt",
                                         PURPLE_MESSAGE_ERROR), ==, 0);

  g_unlink (p0);
  g_unlink (p1);
  g_unlink (p2);
  g_unlink (p3);
  g_unlink (mine);
  g_unlink (home_file);
  g_unlink (home_named);
  g_rmdir (home_dir);
  space_free (sp);
}

/* Review item 3: many descriptors of one image blob (here, history): one
 * download serves them all. The proof: the server fails the first GET of
 * that blob only, and every descriptor reports that one failure. */
static void
test_images_one_download (void)
{
  Space *sp;
  const guint k = 6;
  gsize len;
  g_autofree guint8 *png = png_bytes (64, 48, 500, &len);
  g_autoptr (RdtAttachment) att = NULL;
  g_autofree gchar *fault = NULL;

  if (!rdt_test_server_require_local (srv, "a GET /blobs/ fault on the first download"))
    return;
  sp = space_new ();
  space_peer_start (sp);
  att = peer_upload_typed (sp, "same.png", "image/png", png, len);
  for (guint i = 0; i < k; i++)
    peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_IMAGE);
  fault = g_strdup_printf ("{\"action\":\"status\",\"status\":404,"
                           "\"path\":\"/blobs/%s\",\"method\":\"GET\","
                           "\"count\":1}", att->blob_id);
  rdt_test_server_fault (srv, fault);
  space_join (sp);
  wait_count (sp->account, "Could not download “same.png”",
              PURPLE_MESSAGE_ERROR, k);
  space_drain (sp, "after the shared image failed");
  g_assert_cmpuint (harness_count_lines (sp->account,
                                         "Could not download “same.png”",
                                         PURPLE_MESSAGE_ERROR), ==, k);
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=",
                                         PURPLE_MESSAGE_IMAGES), ==, 0);
  rdt_test_server_clear_faults (srv);

  /* live now, the blob available: shown, for every descriptor */
  peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_IMAGE);
  peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_IMAGE);
  wait_count (sp->account, "<img id=", PURPLE_MESSAGE_IMAGES, 2);
  space_drain (sp, "after the shared image");
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=",
                                         PURPLE_MESSAGE_IMAGES), ==, 2);
  space_free (sp);
}

/* Review item 3: a long history of images: only the newest few are
 * downloaded by themselves; the others keep their /fetch line. */
static void
test_images_history_newest (void)
{
  Space *sp = space_new ();
  const guint total = 12, shown = 8;   /* INLINE_QUEUED_MAX in xfer.c */

  shown_images = g_ptr_array_new_with_free_func (g_free);
  space_peer_start (sp);
  for (guint i = 0; i < total; i++)
    {
      gsize len;
      g_autofree guint8 *png = png_bytes (10 + i, 10, 200, &len);
      g_autofree gchar *name = g_strdup_printf ("old-%02u.png", i);
      g_autoptr (RdtAttachment) att =
        peer_upload_typed (sp, name, "image/png", png, len);

      peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_IMAGE);
    }
  space_join (sp);
  {
    static PurpleConversationUiOps recording;
    PurpleConversation *conv = space_conv (sp);

    harness_conv_ops = purple_conversation_get_ui_ops (conv);
    g_assert_nonnull (harness_conv_ops->write_chat);
    recording = *harness_conv_ops;
    recording.write_chat = recording_write_chat;
    purple_conversation_set_ui_ops (conv, &recording);
  }
  wait_count (sp->account, "<img id=", PURPLE_MESSAGE_IMAGES, shown);
  space_drain (sp, "after the images of the history");
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=",
                                         PURPLE_MESSAGE_IMAGES), ==, shown);
  /* the others: their entry with /fetch, from the sender */
  g_assert_cmpuint (harness_count_lines (sp->account, "sent image “old-",
                                         PURPLE_MESSAGE_RECV
                                         | PURPLE_MESSAGE_DELAYED), ==, total);
  g_assert_cmpuint (harness_count_lines (sp->account, "— /fetch ",
                                         PURPLE_MESSAGE_RECV), ==,
                    total - shown);
  g_assert_cmpuint (shown_images->len, ==, shown);
  for (guint i = total - shown; i < total; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("old-%02u.png", i);
      gboolean found = FALSE;

      for (guint j = 0; j < shown_images->len; j++)
        found |= g_strcmp0 (shown_images->pdata[j], name) == 0;
      g_assert_true (found);
    }
  g_assert_cmpuint (harness_count_lines (sp->account, "old-",
                                         PURPLE_MESSAGE_ERROR), ==, 0);
  g_clear_pointer (&shown_images, g_ptr_array_unref);
  space_free (sp);
}

/* Review item 3: an image over the inline limit (5 MB) is not downloaded
 * by itself: the /fetch line says why, and it is offered like a file. */
static void
test_images_over_inline_limit (void)
{
  Space *sp = space_new ();
  gsize len;
  g_autofree guint8 *png = png_bytes (100, 100, 1000, &len);
  g_autoptr (RdtAttachment) att = NULL;

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the big image");
  att = peer_upload_typed (sp, "huge.png", "image/png", png, len);
  /* as announced: 6 MB (the blob is small, which a download would find) */
  att->size = 6 * 1024 * 1024;
  peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_IMAGE);
  harness_wait_line (sp->account, "too large to show inline — /fetch",
                     PURPLE_MESSAGE_RECV);
  check_offer (sp, "huge.png", 6 * 1024 * 1024);
  space_drain (sp, "after the big image");
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=",
                                         PURPLE_MESSAGE_IMAGES), ==, 0);
  g_assert_cmpuint (harness_count_lines (sp->account, "huge.png",
                                         PURPLE_MESSAGE_ERROR), ==, 0);
  space_free (sp);
}

/* Review item 9: what is shown inline must be the image type announced
 * (magic bytes) with plausible dimensions; otherwise a warning. */
static void
test_images_type_checked (void)
{
  Space *sp = space_new ();
  gsize len;
  g_autofree guint8 *png = png_bytes (320, 200, 300, &len);
  g_autofree guint8 *huge = NULL;
  g_autoptr (RdtAttachment) a1 = NULL;
  g_autoptr (RdtAttachment) a2 = NULL;
  g_autoptr (RdtAttachment) a3 = NULL;
  g_autoptr (RdtAttachment) a4 = NULL;
  gsize hlen;

  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the disguised images");
  /* a PNG announced as a JPEG */
  a1 = peer_upload_typed (sp, "fake.jpg", "image/jpeg", png, len);
  peer_announce_as (sp, a1, RDT_ATTACHMENT_TYPE_IMAGE);
  /* 60000 x 60000 pixels */
  huge = png_bytes (60000, 60000, 300, &hlen);
  a2 = peer_upload_typed (sp, "bomb.png", "image/png", huge, hlen);
  peer_announce_as (sp, a2, RDT_ATTACHMENT_TYPE_IMAGE);
  /* not an image at all */
  a3 = peer_upload_typed (sp, "text.gif", "image/gif",
                          (const guint8 *) "GIF? no, just text", 18);
  peer_announce_as (sp, a3, RDT_ATTACHMENT_TYPE_IMAGE);
  /* and a real one */
  a4 = peer_upload_typed (sp, "fine.png", "image/png", png, len);
  peer_announce_as (sp, a4, RDT_ATTACHMENT_TYPE_IMAGE);

  harness_wait_line (sp->account, "“fake.jpg” from", PURPLE_MESSAGE_ERROR);
  harness_wait_line (sp->account, "“bomb.png” from", PURPLE_MESSAGE_ERROR);
  harness_wait_line (sp->account, "“text.gif” from", PURPLE_MESSAGE_ERROR);
  wait_count (sp->account, "<img id=", PURPLE_MESSAGE_IMAGES, 1);
  space_drain (sp, "after the disguised images");
  g_assert_cmpuint (harness_count_lines (sp->account,
                                         "announced as image/jpeg but is "
                                         "image/png",
                                         PURPLE_MESSAGE_ERROR), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "60000 × 60000",
                                         PURPLE_MESSAGE_ERROR), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "is not a PNG, JPEG",
                                         PURPLE_MESSAGE_ERROR), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=",
                                         PURPLE_MESSAGE_IMAGES), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "fine.png",
                                         PURPLE_MESSAGE_ERROR), ==, 0);
  space_free (sp);
}
/* ---- attachments as entries from their sender, in chain order ---- */

/* The index of the first line of account containing text (any flags),
 * or -1. */
static gint
line_index (PurpleAccount *account, const gchar *text)
{
  GPtrArray *ls = harness_lines ();

  for (guint i = 0; i < ls->len; i++)
    {
      HarnessLine *l = ls->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (account)) == 0
          && strstr (l->text, text) != NULL)
        return (gint) i;
    }
  return -1;
}

static gboolean
peer_image_echoed (gpointer d)
{
  return ((Space *) d)->peer_image_ms != 0;
}

/* The peer posts "<tag> before", an image, "<tag> after"; the image blob
 * is served delay_ms late (so its download ends after the last text came
 * in). Returns the descriptor. */
static RdtAttachment *
peer_text_image_text (Space *sp, const gchar *tag, guint delay_ms)
{
  GError *error = NULL;
  gsize len;
  g_autofree guint8 *png = png_bytes (4, 3, 200, &len);
  g_autofree gchar *before = g_strdup_printf ("%s before", tag);
  g_autofree gchar *after = g_strdup_printf ("%s after", tag);
  g_autofree gchar *fault = NULL;
  RdtAttachment *att = peer_upload_typed (sp, "dot.png", "image/png", png,
                                          len);

  att->width = 4;
  att->height = 3;
  fault = g_strdup_printf ("{\"action\":\"delay\",\"delay_ms\":%u,"
                           "\"path\":\"/blobs/%s\",\"method\":\"GET\"}",
                           delay_ms, att->blob_id);
  rdt_test_server_fault (srv, fault);
  g_assert_cmpuint (rdt_session_send_text (sp->peer, TOPIC, before, &error),
                    >, 0);
  g_assert_no_error (error);
  sp->peer_queued++;
  harness_wait (peer_all_sent, sp, 30, "peer's first text");
  sp->peer_image_ms = 0;
  peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_IMAGE);
  harness_wait (peer_image_echoed, sp, 30, "the image's server time");
  g_assert_cmpuint (rdt_session_send_text (sp->peer, TOPIC, after, &error),
                    >, 0);
  g_assert_no_error (error);
  sp->peer_queued++;
  harness_wait (peer_all_sent, sp, 30, "peer's last text");
  g_assert_cmpuint (sp->peer_failed, ==, 0);
  return att;
}

/* The image is one entry from its sender (not a system line), at the
 * message's server time, logged, between the texts around it. */
static void
check_image_entry (Space *sp, const gchar *tag, PurpleMessageFlags more)
{
  g_autofree gchar *nick = rdt_id_short (sp->member_uid);
  g_autofree gchar *before = g_strdup_printf ("%s before", tag);
  g_autofree gchar *after = g_strdup_printf ("%s after", tag);
  gint i_before = line_index (sp->account, before);
  gint i_image = line_index (sp->account, "<img id=");
  gint i_after = line_index (sp->account, after);
  HarnessLine *l;

  g_assert_cmpint (i_before, >=, 0);
  g_assert_cmpint (i_image, >, i_before);
  g_assert_cmpint (i_after, >, i_image);
  l = harness_lines ()->pdata[i_image];
  g_assert_cmpstr (l->who, ==, nick);
  g_assert_nonnull (strstr (l->text, "sent image “dot.png”"));
  g_assert_cmpuint (l->flags & (PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_IMAGES
                                | more), ==,
                    PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_IMAGES | more);
  g_assert_cmpuint (l->flags & (PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_ERROR
                                | PURPLE_MESSAGE_NO_LOG | PURPLE_MESSAGE_SEND),
                    ==, 0);
  g_assert_cmpint (l->mtime, ==, (time_t) (sp->peer_image_ms / 1000));
  /* Pidgin never says /fetch for an image it shows */
  g_assert_null (strstr (l->text, "/fetch"));
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=",
                                         PURPLE_MESSAGE_IMAGES), ==, 1);
}

static void
test_images_entry_live (void)
{
  Space *sp;
  g_autoptr (RdtAttachment) att = NULL;

  if (!rdt_test_server_require_local (srv, "a fault that delays the image download"))
    return;
  sp = space_new ();
  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the live image");
  att = peer_text_image_text (sp, "live", 1500);
  harness_wait_line (sp->account, "<img id=", PURPLE_MESSAGE_IMAGES);
  harness_wait_line (sp->account, "live after", 0);
  check_image_entry (sp, "live", 0);
  rdt_test_server_clear_faults (srv);
  space_free (sp);
}

static void
test_images_entry_backlog (void)
{
  Space *sp;
  g_autoptr (RdtAttachment) att = NULL;

  if (!rdt_test_server_require_local (srv, "a fault that delays the image download"))
    return;
  sp = space_new ();
  space_peer_start (sp);
  att = peer_text_image_text (sp, "old", 1500);
  space_join (sp);
  harness_wait_line (sp->account, "old after", PURPLE_MESSAGE_DELAYED);
  check_image_entry (sp, "old", PURPLE_MESSAGE_DELAYED);
  rdt_test_server_clear_faults (srv);
  space_free (sp);
}

/* An image later than the bounded wait: a placeholder from the sender
 * takes its place, the text after it is not held longer, and the image
 * follows as an entry from the same sender at the same time. */
static void
test_images_entry_late (void)
{
  Space *sp;
  g_autoptr (RdtAttachment) att = NULL;
  g_autofree gchar *nick = NULL;
  gint i_hold, i_after, i_image;
  HarnessLine *hold, *image;

  if (!rdt_test_server_require_local (srv, "a fault that delays the image download"))
    return;
  sp = space_new ();
  nick = rdt_id_short (sp->member_uid);
  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the late image");
  att = peer_text_image_text (sp, "late", 7000);
  harness_wait_line (sp->account, "late after", 0);
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=",
                                         PURPLE_MESSAGE_IMAGES), ==, 0);
  harness_wait_line (sp->account, "<img id=", PURPLE_MESSAGE_IMAGES);
  i_hold = line_index (sp->account, "loading, it follows");
  i_after = line_index (sp->account, "late after");
  i_image = line_index (sp->account, "<img id=");
  g_assert_cmpint (i_hold, >, line_index (sp->account, "late before"));
  g_assert_cmpint (i_after, >, i_hold);
  g_assert_cmpint (i_image, >, i_after);
  hold = harness_lines ()->pdata[i_hold];
  image = harness_lines ()->pdata[i_image];
  g_assert_nonnull (strstr (hold->text, "sent image “dot.png” (4×3, "));
  g_assert_cmpstr (hold->who, ==, nick);
  g_assert_cmpstr (image->who, ==, nick);
  g_assert_cmpuint (hold->flags & (PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_SYSTEM
                                   | PURPLE_MESSAGE_NO_LOG), ==,
                    PURPLE_MESSAGE_RECV);
  g_assert_cmpint (hold->mtime, ==, (time_t) (sp->peer_image_ms / 1000));
  g_assert_cmpint (image->mtime, ==, hold->mtime);
  rdt_test_server_clear_faults (srv);
  space_free (sp);
}

/* A UI without inline images (Finch, BitlBee): the image is a text entry
 * from its sender with its size and /fetch number, and nothing is
 * downloaded by itself. */
static void
test_images_text_entry (void)
{
  Space *sp;
  gsize len;
  g_autofree guint8 *png = png_bytes (4, 3, 200, &len);
  g_autoptr (RdtAttachment) att = NULL;
  g_autofree gchar *nick = NULL;
  g_autofree gchar *want = NULL;
  g_autofree gchar *size = g_format_size (len);
  HarnessLine *l;
  gint i;

  g_setenv ("RDT_INLINE_IMAGES", "0", TRUE);
  sp = space_new ();
  g_setenv ("RDT_INLINE_IMAGES", "1", TRUE);
  nick = rdt_id_short (sp->member_uid);
  space_join (sp);
  space_peer_start (sp);
  space_drain (sp, "before the image as text");
  att = peer_upload_typed (sp, "dot.png", "image/png", png, len);
  att->width = 4;
  att->height = 3;
  sp->peer_image_ms = 0;
  peer_announce_as (sp, att, RDT_ATTACHMENT_TYPE_IMAGE);
  harness_wait (peer_image_echoed, sp, 30, "the image's server time");
  space_drain (sp, "after the image as text");
  want = g_strdup_printf ("sent image “dot.png” (4×3, %s) — /fetch 1", size);
  i = line_index (sp->account, "sent image");
  g_assert_cmpint (i, >, line_index (sp->account, "before the image as"));
  g_assert_cmpint (i, <, line_index (sp->account, "after the image as"));
  l = harness_lines ()->pdata[i];
  g_assert_cmpstr (l->text, ==, want);
  g_assert_cmpstr (l->who, ==, nick);
  g_assert_cmpuint (l->flags & (PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_SYSTEM
                                | PURPLE_MESSAGE_NO_LOG
                                | PURPLE_MESSAGE_IMAGES), ==,
                    PURPLE_MESSAGE_RECV);
  g_assert_cmpint (l->mtime, ==, (time_t) (sp->peer_image_ms / 1000));
  g_assert_cmpuint (harness_count_lines (sp->account, "<img id=", 0), ==, 0);
  g_assert_cmpuint (harness_count_lines (sp->account, "dot.png",
                                         PURPLE_MESSAGE_ERROR), ==, 0);
  space_free (sp);
}
#endif

int
main (int argc, char **argv)
{
  int ret;
#ifdef RDT_HAVE_PURPLE
  /* /fetch ~/... goes here: a fresh home of this program's own (before
   * anything asks GLib for the home directory, which it keeps). */
  g_autofree gchar *home = g_dir_make_tmp ("rdt-attach-home-XXXXXX", NULL);

  g_assert_nonnull (home);
  g_setenv ("HOME", home, TRUE);
  /* the harness is no Pidgin: images inline as Pidgin shows them, unless
   * a test says otherwise (read when an account connects) */
  g_setenv ("RDT_INLINE_IMAGES", "1", TRUE);
#endif

  g_test_init (&argc, &argv, NULL);
  g_assert_true (rdt_crypto_init ());
  g_test_add_func ("/attach/send-receive-tamper", test_send_receive_tamper);
  g_test_add_func ("/attach/too-large", test_too_large);
#ifdef RDT_HAVE_PURPLE
  harness_init ();
  purple_xfers_set_ui_ops (&xfer_ui_ops);
  purple_request_set_ui_ops (&request_ui_ops);
  g_test_add_func ("/attach/xfer/receive", test_xfer_receive);
  g_test_add_func ("/attach/xfer/tampered", test_xfer_tampered);
  g_test_add_func ("/attach/xfer/missing", test_xfer_missing);
  g_test_add_func ("/attach/xfer/wrong-key", test_xfer_wrong_key);
  g_test_add_func ("/attach/xfer/decline", test_xfer_decline);
  g_test_add_func ("/attach/xfer/cancel-running", test_xfer_cancel_running);
  g_test_add_func ("/attach/xfer/history-not-offered",
                   test_xfer_history_not_offered);
  g_test_add_func ("/attach/xfer/refused-at-accept",
                   test_xfer_refused_at_accept);
  g_test_add_func ("/attach/xfer/notice-outlives-account",
                   test_xfer_notice_outlives_account);
  g_test_add_func ("/attach/xfer/notice-then-accept",
                   test_xfer_notice_then_accept);
  g_test_add_func ("/attach/xfer/offer-cap", test_xfer_offer_cap);
  g_test_add_func ("/attach/fetch/names", test_fetch_names);
  g_test_add_func ("/attach/images/one-download", test_images_one_download);
  g_test_add_func ("/attach/images/history-newest",
                   test_images_history_newest);
  g_test_add_func ("/attach/images/over-inline-limit",
                   test_images_over_inline_limit);
  g_test_add_func ("/attach/images/type-checked", test_images_type_checked);
  g_test_add_func ("/attach/images/entry-live", test_images_entry_live);
  g_test_add_func ("/attach/images/entry-backlog", test_images_entry_backlog);
  g_test_add_func ("/attach/images/entry-late", test_images_entry_late);
  g_test_add_func ("/attach/images/text-entry", test_images_text_entry);
#endif
  srv = rdt_test_server_start (NULL);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
#ifdef RDT_HAVE_PURPLE
  seen_reset ();
  purple_core_quit ();
  g_rmdir (home);
#endif
  return ret;
}
