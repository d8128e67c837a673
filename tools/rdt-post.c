/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-post - post one message to a reeeductio topic (the try-it demo, the
 * Finch, Pidgin and BitlBee tests). Keys come from the environment or a
 * file, never the command line, so they do not show up in `ps`:
 *
 *   RDT_SEED=<hex|base64> RDT_ROOT=<hex|base64> \
 *     rdt-post [OPTION...] SERVER_URL SPACE_ID TOPIC [TEXT]
 *
 * Plain: posts TEXT as chat.text, as the key RDT_SEED. --key FILE posts
 * as the key whose seed is in FILE instead (RDT_SEED is then only needed
 * with --as-new-member), so that one member can post several lines. With
 * --as-new-member, RDT_SEED is the space owner's: it adds a member holding
 * the chat capability of spec 8.2 (state writes, spec 8.5) - a fresh key,
 * or the --key one - posts as that member, and prints the member's short
 * id. --name writes the poster's display name (profiles/{U}, spec 12)
 * before posting (without TEXT, it only does that); --image posts an image
 * file as chat.image (spec 10) instead of TEXT, the way the plugin sends
 * one. Exits 0 once the server
 * has confirmed the post.
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "attachment.h"
#include "crypto.h"
#include "id.h"
#include "membership.h"
#include "message.h"
#include "session.h"
#include "state.h"
#include "statesync.h"

typedef struct {
  GMainLoop *loop;
  GAsyncResult *result;
  RdtSession *session;
  const gchar *topic;
  const gchar *text;
  gchar *profile;          /* encrypted profiles/{U} value, or NULL */
  RdtAttachment *att;      /* the image's descriptor, or NULL */
  GBytes *blob;            /* its encrypted bytes */
  int status;
  gboolean started;
} Post;

static gchar *opt_key_file;
static gchar *opt_name;
static gchar *opt_image;
static gboolean opt_new_member;
static gchar **opt_args;

static const GOptionEntry entries[] = {
  { "as-new-member", 0, 0, G_OPTION_ARG_NONE, &opt_new_member,
    "RDT_SEED is the owner's: add the poster as a member with the chat "
    "capability first, and print its short id", NULL },
  { "key", 'k', 0, G_OPTION_ARG_FILENAME, &opt_key_file,
    "Post as the key whose seed (hex or base64, e.g. the third field of "
    "`rdt-keygen key`) is in FILE instead of RDT_SEED's", "FILE" },
  { "name", 'n', 0, G_OPTION_ARG_STRING, &opt_name,
    "Set the poster's display name to NAME before posting (without TEXT: "
    "only that)", "NAME" },
  { "image", 'i', 0, G_OPTION_ARG_FILENAME, &opt_image,
    "Post the image FILE (png, jpeg, gif, webp, bmp) as chat.image instead "
    "of TEXT", "FILE" },
  /* the positional arguments: this way "--" ends the options */
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_args, NULL,
    NULL },
  { NULL }
};

static void
finish (Post *p, int status, const gchar *why)
{
  if (why)
    g_printerr ("rdt-post: %s\n", why);
  p->status = status;
  g_main_loop_quit (p->loop);
}

static void
got_result (GObject *source, GAsyncResult *result, gpointer data)
{
  Post *p = data;

  p->result = g_object_ref (result);
  g_main_loop_quit (p->loop);
}

/* A 32-byte key from the environment; FALSE (after saying why) if it is
 * missing or malformed. */
static gboolean
env_key (const gchar *name, guint8 out[32])
{
  const gchar *value = g_getenv (name);
  g_autoptr (GError) error = NULL;

  if (value == NULL || *value == '\0')
    {
      g_printerr ("rdt-post: %s is not set\n", name);
      return FALSE;
    }
  if (!rdt_parse_key32 (value, out, &error))
    {
      g_printerr ("rdt-post: %s: %s\n", name, error->message);
      return FALSE;
    }
  return TRUE;
}

/* The key whose seed is in `path` (surrounding blanks ignored). */
static RdtSigningKey *
key_from_file (const gchar *path)
{
  g_autoptr (GError) error = NULL;
  gchar *text = NULL;
  gsize len = 0;
  guint8 seed[32];
  RdtSigningKey *key = NULL;

  if (!g_file_get_contents (path, &text, &len, &error))
    {
      g_printerr ("rdt-post: %s\n", error->message);
      return NULL;
    }
  if (rdt_parse_key32 (g_strstrip (text), seed, &error))
    key = rdt_signing_key_new_from_seed (seed);
  else
    g_printerr ("rdt-post: %s: not a seed: %s\n", path, error->message);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (text, len);
  g_free (text);
  return key;
}

/* As the owner: make `member_id` a member with the chat capability (spec
 * 8.2), written the way the plugin does it (src/core/membership.c:
 * chained on the state head, retried on 409, since the plugin may be
 * writing state too). */
static gboolean
add_member (Post *p, const gchar *url, const gchar *space,
            const guint8 owner_seed[32], const gchar *member_id)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_new_from_seed (owner_seed);
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtApi) api = rdt_api_new (url, space, owner, RDT_ID_USER, &error);
  gboolean ok;

  if (api == NULL)
    {
      g_printerr ("rdt-post: %s\n", error->message);
      return FALSE;
    }
  p->result = NULL;
  rdt_membership_add_member_async (api, member_id, NULL, got_result, p);
  g_main_loop_run (p->loop);
  ok = rdt_membership_add_member_finish (api, p->result, &error);
  g_clear_object (&p->result);
  if (!ok)
    g_printerr ("rdt-post: adding the member: %s\n", error->message);
  return ok;
}

/* profiles/{U}: {"display_name": name} under the state key, as the
 * plugin's /nick writes it (src/purple/members.c). */
static gchar *
encode_profile (const gchar *space, const guint8 root[32], const gchar *name)
{
  g_autoptr (RdtSpaceKeys) keys = rdt_space_keys_new (root, space);
  g_autoptr (RdtState) state = rdt_state_new (space, keys->state_key);
  g_autoptr (GError) error = NULL;
  gchar *data = rdt_state_encode_profile (state, name, &error);

  if (data == NULL)
    g_printerr ("rdt-post: --name: %s\n", error->message);
  return data;
}

/* The image encrypted under a fresh DEK, with its descriptor filled as the
 * plugin's send path fills it (src/purple/xfer.c): safe base name, the
 * content type guessed from name and bytes, the size. Refuses what the
 * receiving plugin would not show inline. */
static gboolean
load_image (Post *p, const gchar *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *data = NULL;
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *type = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &error))
    {
      g_printerr ("rdt-post: %s\n", error->message);
      return FALSE;
    }
  type = rdt_attachment_guess_content_type (base, (const guint8 *) data,
                                            MIN (len, 4096));
  if (!rdt_attachment_check_image ((const guint8 *) data, len, type, &error))
    {
      g_printerr ("rdt-post: %s: not an image to post: %s\n", path,
                  error->message);
      return FALSE;
    }
  p->blob = rdt_attachment_encrypt ((const guint8 *) data, len, 0, &p->att,
                                    &error);
  if (p->blob == NULL)
    {
      g_printerr ("rdt-post: %s: %s\n", path, error->message);
      return FALSE;
    }
  p->att->filename = rdt_attachment_sanitize_filename (base);
  p->att->content_type = g_steal_pointer (&type);
  return TRUE;
}

static void
send_message (Post *p)
{
  g_autoptr (GError) error = NULL;
  guint64 id;

  if (p->att != NULL)
    {
      gsize jlen;
      gchar *json = rdt_attachment_to_json (p->att, &jlen);

      id = rdt_session_send_payload (p->session, p->topic,
                                     RDT_ATTACHMENT_TYPE_IMAGE,
                                     (const guint8 *) json, jlen, &error);
      /* the descriptor holds the DEK in clear text */
      rdt_wipe (json, jlen);
      g_free (json);
    }
  else
    id = rdt_session_send_text (p->session, p->topic, p->text, &error);
  if (id == 0)
    finish (p, 1, error->message);
}

static void
on_uploaded (GObject *src, GAsyncResult *res, gpointer data)
{
  Post *p = data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *why = NULL;

  if (!rdt_api_put_blob_finish (RDT_API (src), res, &error))
    {
      why = g_strdup_printf ("uploading the image: %s", error->message);
      finish (p, 1, why);
      return;
    }
  send_message (p);
}

static void
upload_then_send (Post *p)
{
  if (p->blob == NULL && p->text == NULL)
    finish (p, 0, NULL);     /* --name alone */
  else if (p->blob == NULL)
    send_message (p);
  else
    rdt_api_put_blob_async (rdt_session_get_api (p->session),
                            p->att->blob_id, p->blob, NULL, on_uploaded, p);
}

static void
on_profile_written (GObject *src, GAsyncResult *res, gpointer data)
{
  Post *p = data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *why = NULL;

  if (!rdt_state_write_finish (RDT_API (src), res, &error))
    {
      why = g_strdup_printf ("setting the display name: %s", error->message);
      finish (p, 1, why);
      return;
    }
  upload_then_send (p);
}

static void
on_state (RdtSession *s, RdtSessionState state, const GError *error,
          gboolean fatal, gpointer data)
{
  if (state == RDT_SESSION_DISCONNECTED && fatal)
    finish (data, 1, error ? error->message : "disconnected");
}

/* The topic is open (so the session is logged in): the name first, so
 * that clients show the message under it, then the blob, then the post. */
static void
on_opened (RdtSession *s, const gchar *topic, const GError *error,
           gpointer data)
{
  Post *p = data;
  g_autofree gchar *path = NULL;

  if (error)
    {
      finish (p, 1, error->message);
      return;
    }
  if (p->started)
    return;
  p->started = TRUE;
  if (p->profile == NULL)
    {
      upload_then_send (p);
      return;
    }
  path = g_strconcat ("profiles/", rdt_session_get_member_id (s), NULL);
  {
    const gchar *paths[] = { path }, *datas[] = { p->profile };

    rdt_state_write_async (rdt_session_get_api (s), paths, datas, 1, NULL,
                           on_profile_written, p);
  }
}

static void
on_send_done (RdtSession *s, const gchar *topic, guint64 id,
              const GError *error, gpointer data)
{
  finish (data, error ? 1 : 0, error ? error->message : NULL);
}

static gboolean
on_timeout (gpointer data)
{
  finish (data, 2, "timed out");
  return G_SOURCE_REMOVE;
}

static int
usage (GOptionContext *ctx, const gchar *why)
{
  g_autofree gchar *help = g_option_context_get_help (ctx, TRUE, NULL);

  g_printerr ("rdt-post: %s\n\n%s", why, help);
  return 2;
}

int
main (int argc, char **argv)
{
  static const RdtSessionCallbacks cb = {
    .state_changed = on_state,
    .topic_opened = on_opened,
    .send_done = on_send_done,
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("SERVER_URL SPACE_ID TOPIC [TEXT]");
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtSigningKey) key = NULL;
  guint8 seed[32], root[32];
  gboolean need_owner;
  guint n_args;
  const gchar *url, *space;
  gchar *member_nick = NULL;
  Post p = { 0 };

  setlocale (LC_ALL, "");

  g_option_context_set_summary (ctx,
    "Posts TEXT (or an image) to TOPIC of the space and exits once the "
    "server\nhas it. Keys from the environment: RDT_ROOT, the space's "
    "symmetric root;\nRDT_SEED, the key to post as (or, with "
    "--as-new-member, the owner's key).\nBoth as 64 hex characters or "
    "base64.\nA TEXT that starts with '-' goes after \"--\".");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return usage (ctx, error->message);
  n_args = opt_args ? g_strv_length (opt_args) : 0;
  if (opt_image && n_args != 3)
    return usage (ctx, n_args == 4 ? "--image takes the place of TEXT"
                                   : "wrong number of arguments");
  if (!opt_image && n_args != 4 && !(opt_name && n_args == 3))
    return usage (ctx, "wrong number of arguments");
  url = opt_args[0];
  space = opt_args[1];
  p.topic = opt_args[2];
  p.text = n_args == 4 ? opt_args[3] : NULL;

  /* checked here as well as by the session: --name needs it first */
  if (!rdt_id_is_valid (space, RDT_ID_SPACE))
    {
      g_printerr ("rdt-post: “%s” is not a space id\n", space);
      return 2;
    }
  need_owner = opt_new_member || opt_key_file == NULL;
  if (!rdt_crypto_init ())
    {
      g_printerr ("rdt-post: libsodium failed to initialise\n");
      return 2;
    }
  if (!env_key ("RDT_ROOT", root) || (need_owner && !env_key ("RDT_SEED", seed)))
    {
      rdt_wipe (seed, sizeof seed);
      rdt_wipe (root, sizeof root);
      return 2;
    }
  if (opt_key_file)
    key = key_from_file (opt_key_file);
  else if (opt_new_member)
    key = rdt_signing_key_generate ();
  else
    key = rdt_signing_key_new_from_seed (seed);
  if (opt_name && key)
    p.profile = encode_profile (space, root, opt_name);
  if (key == NULL || (opt_name && p.profile == NULL)
      || (opt_image && !load_image (&p, opt_image)))
    {
      rdt_wipe (seed, sizeof seed);
      rdt_wipe (root, sizeof root);
      return 2;
    }

  p.loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add_seconds (60, on_timeout, &p);
  if (opt_new_member)
    {
      g_autofree gchar *muid = rdt_signing_key_get_id (key, RDT_ID_USER);

      if (!add_member (&p, url, space, seed, muid))
        {
          rdt_wipe (seed, sizeof seed);
          rdt_wipe (root, sizeof root);
          return 1;
        }
      member_nick = rdt_id_short (muid);
    }
  rdt_wipe (seed, sizeof seed);
  p.session = rdt_session_new_for_key (url, space, key, root, &error);
  rdt_wipe (root, sizeof root);
  if (p.session == NULL)
    {
      g_printerr ("rdt-post: %s\n", error->message);
      return 2;
    }
  rdt_session_set_callbacks (p.session, &cb, &p);
  rdt_session_open_topic (p.session, p.topic, 0);
  rdt_session_connect (p.session);
  g_main_loop_run (p.loop);
  rdt_session_free (p.session);
  g_main_loop_unref (p.loop);
  if (p.status == 0 && member_nick)
    printf ("%s\n", member_nick);
  g_free (member_nick);
  g_free (p.profile);
  rdt_attachment_free (p.att);
  if (p.blob)
    g_bytes_unref (p.blob);
  return p.status;
}
