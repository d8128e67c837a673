/* test-attach.c - attachments end to end against rdt-test-server (spec 10).
 *
 * Until xfer.c is linked into the plugin and chat.c calls
 * rdt_xfer_handle_message(), this drives the same steps through the core
 * with two sessions of one member (two devices): encrypt with a fresh DEK,
 * PUT the blob, post a "file.upload" descriptor; the other session gets
 * the message, parses it, GETs the blob, verifies and decrypts it. A blob
 * altered on the server's disk must be rejected, never returned. */
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
  guint8 seed[RDT_SEED_LENGTH];
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  GError *error = NULL;
  RdtSession *s;

  rdt_signing_key_copy_seed (owner, seed);
  s = rdt_session_new (rdt_test_server_get_url (srv), space, seed, root,
                       &error);
  rdt_wipe (seed, sizeof seed);
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
  srv = rdt_test_server_start (args);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
  return ret;
}
