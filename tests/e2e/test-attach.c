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

#define SERVER_MAX_BLOB 262144   /* --max-blob-size for this run */

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
  if (!rdt_test_server_skip_unless_local (srv))
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

      /* And if some path skipped the api's check, the attachment layer
       * refuses the same bytes too. */
      {
        g_autoptr (GBytes) bad = g_bytes_new (contents, len);
        g_autoptr (GBytes) out = rdt_attachment_decrypt (got, bad, &error);
        g_assert_null (out);
        g_assert_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
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

/* What the UI saw of the (one) transfer of a test. */
typedef struct {
  PurpleXfer *xfer;            /* NULL once destroyed */
  guint n_new, n_destroyed, n_cancel_local, n_progress, n_closed;
  PurpleXferStatusType final_status;
  gdouble last_progress;
  gchar *who, *filename;
  gsize size;
  /* libpurple's question ("X wants to send you F"): Accept / Cancel */
  gpointer ask_data;
  PurpleRequestActionCb accept_cb, decline_cb;
  /* the file chooser that follows Accept */
  gpointer file_data;
  PurpleRequestFileCb file_ok_cb, file_cancel_cb;
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
  /* the offer as the UI shows it */
  seen.who = g_strdup (purple_xfer_get_remote_user (xfer));
  seen.filename = g_strdup (purple_xfer_get_filename (xfer));
  seen.size = purple_xfer_get_size (xfer);
  return &seen;
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
  return &seen.file_data;
}

static void
ui_close_request (PurpleRequestType type, void *ui_handle)
{
  seen.n_closed++;
}

static PurpleRequestUiOps request_ui_ops = {
  .request_action = ui_request_action,
  .request_file = ui_request_file,
  .close_request = ui_close_request,
};

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

static const RdtSessionCallbacks peer_callbacks = {
  .topic_opened = peer_opened,
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
peer_upload (Space *sp, const gchar *name, const guint8 *data, gsize len)
{
  RdtAttachment *att = NULL;
  GError *error = NULL;
  GBytes *blob = rdt_attachment_encrypt (data, len, 0, &att, &error);
  HarnessAsync put = { NULL };

  g_assert_no_error (error);
  att->filename = g_strdup (name);
  att->content_type = g_strdup ("application/octet-stream");
  rdt_api_put_blob_async (rdt_session_get_api (sp->peer), att->blob_id, blob,
                          NULL, harness_async_cb, &put);
  harness_wait (harness_async_done, &put, 30, "peer upload");
  g_assert_true (rdt_api_put_blob_finish (rdt_session_get_api (sp->peer),
                                          put.result, &error));
  g_clear_object (&put.result);
  g_bytes_unref (blob);
  return att;
}

static void
peer_announce (Space *sp, const RdtAttachment *att)
{
  GError *error = NULL;
  gsize jlen;
  gchar *json = rdt_attachment_to_json (att, &jlen);

  g_assert_cmpuint (rdt_session_send_payload (sp->peer, TOPIC,
                                              RDT_ATTACHMENT_TYPE_FILE,
                                              (const guint8 *) json, jlen,
                                              &error), >, 0);
  g_assert_no_error (error);
  sp->peer_queued++;
  rdt_wipe (json, jlen);
  g_free (json);
  harness_wait (peer_all_sent, sp, 30, "peer's file message");
  g_assert_cmpuint (sp->peer_failed, ==, 0);
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
  g_autofree gchar *hint = g_strdup_printf ("sent “%s”", name);

  harness_wait (asked, NULL, 30, "the incoming transfer to be offered");
  g_assert_cmpuint (seen.n_new, ==, 1);
  g_assert_nonnull (seen.xfer);
  g_assert_cmpint (purple_xfer_get_type (seen.xfer), ==, PURPLE_XFER_RECEIVE);
  g_assert_cmpstr (seen.who, ==, nick);
  g_assert_cmpstr (seen.filename, ==, name);
  g_assert_cmpuint (seen.size, ==, len);
  g_assert_cmpuint (harness_count_lines (sp->account, hint,
                                         PURPLE_MESSAGE_SYSTEM), ==, 1);
  g_assert_cmpuint (harness_count_lines (sp->account, "Type /fetch",
                                         PURPLE_MESSAGE_SYSTEM), >=, 1);
}

/* Accept as Pidgin does: "Accept" in the question, then the chooser. */
static void
accept_to (const gchar *dest)
{
  seen.accept_cb (seen.ask_data, 0);
  g_assert_nonnull (seen.file_ok_cb);
  seen.file_ok_cb (seen.file_data, dest);
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

  if (how != BAD_KEY && rdt_test_server_skip_unless_local (srv))
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

  seen.decline_cb (seen.ask_data, 1);
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
  seen.accept_cb (seen.ask_data, 0);
  g_assert_nonnull (seen.file_cancel_cb);
  seen.file_cancel_cb (seen.file_data, NULL);
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

  if (rdt_test_server_skip_unless_local (srv))
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
  harness_wait_line (sp->account, "sent “old.bin”", PURPLE_MESSAGE_SYSTEM);
  space_drain (sp, "after history");
  g_assert_cmpuint (seen.n_new, ==, 0);
  g_assert_null (seen.accept_cb);
  space_free (sp);
}
#endif

int
main (int argc, char **argv)
{
  const gchar *args[] = { "--max-blob-size", G_STRINGIFY (SERVER_MAX_BLOB),
                          NULL };
  int ret;

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
#endif
  srv = rdt_test_server_start (args);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
#ifdef RDT_HAVE_PURPLE
  seen_reset ();
  purple_core_quit ();
#endif
  return ret;
}
