/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-tools.c - tools/rdt-post against the test server: --key lets one
 * member post several lines, --name writes its display name (alone, or
 * before a post), --image posts a chat.image the plugin can show. Checked
 * with the core: the state gives the name, the topic's messages are the
 * member's, verified, and the image descriptor leads to a blob that
 * decrypts to the very bytes posted. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "api.h"
#include "attachment.h"
#include "crypto.h"
#include "id.h"
#include "message.h"
#include "state.h"
#include "statesync.h"
#include "testserver.h"

static RdtTestServer *server;

#define WAIT_TIMEOUT_S 60

/* A 2x2 PNG (ImageMagick: convert -size 2x2 xc:'#3a7bd5' -strip). */
static const guint8 tiny_png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,
  0x01, 0x03, 0x00, 0x00, 0x00, 0x48, 0x78, 0x9f, 0x67, 0x00, 0x00, 0x00,
  0x03, 0x50, 0x4c, 0x54, 0x45, 0x3a, 0x7b, 0xd5, 0xb4, 0xf4, 0xdb, 0xfa,
  0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0x60,
  0x60, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x27, 0x34, 0x27, 0x0a,
  0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82
};

static gboolean
wait_timed_out (gpointer data)
{
  g_error ("timed out after %d s waiting for an answer", WAIT_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static void
got (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* Iterates the main context until the answer; a hang fails the test. */
static GAsyncResult *
run (GAsyncResult **result)
{
  guint timeout = g_timeout_add_seconds (WAIT_TIMEOUT_S, wait_timed_out, NULL);

  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  return *result;
}

static gchar *
hex (const guint8 *b, gsize n)
{
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < n; i++)
    g_string_append_printf (s, "%02x", b[i]);
  return g_string_free (s, FALSE);
}

/* Runs rdt-post with `args` (after the options: url, space, topic
 * appended by the caller) and the given key environment; returns its exit
 * status, its stdout in *out (may be NULL). */
static gint
rdt_post (const gchar *const *args, const gchar *seed_hex,
          const gchar *root_hex, gchar **out)
{
  const gchar *bin = g_getenv ("RDT_POST_BIN");
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (GStrv) envp = g_get_environ ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *err = NULL;
  gint status = -1;

  g_assert_nonnull (bin);
  g_ptr_array_add (argv, (gpointer) bin);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  envp = g_environ_unsetenv (envp, "RDT_SEED");
  if (seed_hex)
    envp = g_environ_setenv (envp, "RDT_SEED", seed_hex, TRUE);
  envp = g_environ_setenv (envp, "RDT_ROOT", root_hex, TRUE);
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv->pdata, envp,
                               G_SPAWN_DEFAULT, NULL, NULL, out, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (err && *err)
    g_test_message ("rdt-post said: %s", err);
  return g_spawn_check_wait_status (status, NULL) ? 0
         : WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_post_name_image (void)
{
  const gchar *url = rdt_test_server_get_url (server);
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) bob = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  g_autofree gchar *bob_id = rdt_signing_key_get_id (bob, RDT_ID_USER);
  g_autofree gchar *bob_short = rdt_id_short (bob_id);
  g_autofree gchar *dir = g_dir_make_tmp ("rdt-post-XXXXXX", NULL);
  g_autofree gchar *key_file = g_build_filename (dir, "bob.seed", NULL);
  g_autofree gchar *image = g_build_filename (dir, "dot.png", NULL);
  g_autofree gchar *owner_hex = NULL, *bob_hex = NULL, *root_hex = NULL;
  g_autofree gchar *out = NULL, *name = NULL, *bob_line = NULL;
  g_autoptr (RdtSpaceKeys) keys = NULL;
  g_autoptr (RdtState) state = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (GPtrArray) msgs = NULL;
  g_autoptr (RdtAttachment) att = NULL;
  g_autoptr (GBytes) payload = NULL, blob = NULL, plain = NULL;
  g_autoptr (GError) error = NULL;
  GAsyncResult *res = NULL;
  const gchar *texts[] = { "Hi, Bob here.", "And again." };
  guint8 seed[32], root[32], topic_key[32];
  gboolean more;

  g_assert_nonnull (dir);
  rdt_random_bytes (root, sizeof root);
  root_hex = hex (root, sizeof root);
  rdt_signing_key_copy_seed (owner, seed);
  owner_hex = hex (seed, sizeof seed);
  rdt_signing_key_copy_seed (bob, seed);
  bob_hex = hex (seed, sizeof seed);
  bob_line = g_strconcat (bob_hex, "\n", NULL);
  g_assert_true (g_file_set_contents (key_file, bob_line, -1, NULL));
  g_assert_true (g_file_set_contents (image, (const gchar *) tiny_png,
                                      sizeof tiny_png, NULL));

  /* Bob added by the owner and named, without a post; then renamed with
   * his first line, and one more, without the owner's key. */
  {
    const gchar *args[] = { "--as-new-member", "--key", key_file,
                            "--name", "Bobby", url, space, "general", NULL };
    g_assert_cmpint (rdt_post (args, owner_hex, root_hex, &out), ==, 0);
    g_assert_cmpstr (g_strstrip (out), ==, bob_short);
  }
  {
    const gchar *args[] = { "--key", key_file, "--name", "Bob", url, space,
                            "general", texts[0], NULL };
    g_assert_cmpint (rdt_post (args, NULL, root_hex, NULL), ==, 0);
  }
  {
    const gchar *args[] = { "--key", key_file, url, space, "general",
                            texts[1], NULL };
    g_assert_cmpint (rdt_post (args, NULL, root_hex, NULL), ==, 0);
  }
  {
    const gchar *args[] = { "--key", key_file, "--image", image, url, space,
                            "general", NULL };
    g_assert_cmpint (rdt_post (args, NULL, root_hex, NULL), ==, 0);
  }
  /* Not an image: refused before anything is sent. */
  {
    const gchar *args[] = { "--key", key_file, "--image", key_file, url,
                            space, "general", NULL };
    g_assert_cmpint (rdt_post (args, NULL, root_hex, NULL), ==, 2);
  }

  /* The display name, as any member's client reads it. */
  keys = rdt_space_keys_new (root, space);
  api = rdt_api_new (url, space, owner, RDT_ID_USER, &error);
  g_assert_no_error (error);
  state = rdt_state_new (space, keys->state_key);
  rdt_state_sync_async (state, api, NULL, got, &res);
  g_assert_true (rdt_state_sync_finish (state, run (&res), NULL, NULL,
                                        &error));
  g_assert_no_error (error);
  g_clear_object (&res);
  g_assert_true (rdt_state_is_member (state, bob_id));
  name = rdt_state_get_display_name (state, bob_id);
  g_assert_cmpstr (name, ==, "Bob");

  /* Three messages from Bob, in order, verified and decrypting. */
  rdt_api_get_messages_async (api, "general", -1, -1, 100, NULL, got, &res);
  msgs = rdt_api_get_messages_finish (api, run (&res), &more, &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  g_assert_cmpuint (msgs->len, ==, 3);
  rdt_space_keys_topic_key (keys, "general", topic_key);
  for (guint i = 0; i < msgs->len; i++)
    {
      RdtMessage *m = msgs->pdata[i];
      g_autoptr (GBytes) p = NULL;

      g_assert_true (rdt_message_verify (m, space, "general", &error));
      g_assert_no_error (error);
      g_assert_cmpstr (m->sender, ==, bob_id);
      p = rdt_payload_decrypt (topic_key, m->data, &error);
      g_assert_no_error (error);
      if (i < 2)
        {
          g_assert_cmpstr (m->type, ==, "chat.text");
          g_assert_cmpmem (g_bytes_get_data (p, NULL), g_bytes_get_size (p),
                           texts[i], strlen (texts[i]));
        }
      else
        {
          g_assert_cmpstr (m->type, ==, RDT_ATTACHMENT_TYPE_IMAGE);
          payload = g_bytes_ref (p);
        }
    }

  /* The descriptor names the blob, which decrypts to the image. */
  att = rdt_attachment_parse (g_bytes_get_data (payload, NULL),
                              g_bytes_get_size (payload), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (att->filename, ==, "dot.png");
  g_assert_cmpstr (att->content_type, ==, "image/png");
  g_assert_cmpuint (att->size, ==, sizeof tiny_png);
  rdt_api_get_blob_async (api, att->blob_id, 1 << 20, NULL, got, &res);
  blob = rdt_api_get_blob_finish (api, run (&res), &error);
  g_assert_no_error (error);
  g_clear_object (&res);
  plain = rdt_attachment_decrypt (att, blob, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain),
                   tiny_png, sizeof tiny_png);

  rdt_wipe (seed, sizeof seed);
  g_unlink (key_file);
  g_unlink (image);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  server = rdt_test_server_start (NULL);
  g_test_add_func ("/tools/rdt-post-key-name-image", test_post_name_image);
  rc = g_test_run ();
  rdt_test_server_stop (server);
  return rc;
}
