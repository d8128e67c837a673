/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-post - post one chat.text message to a reeeductio topic (the try-it
 * demo, the Finch, Pidgin and BitlBee tests). Keys come from the
 * environment, never the command line, so they do not show up in `ps`:
 *
 *   RDT_SEED=<hex|base64> RDT_ROOT=<hex|base64> \
 *     rdt-post [--as-new-member] SERVER_URL SPACE_ID TOPIC TEXT
 *
 * Plain: posts as the key RDT_SEED. With --as-new-member, RDT_SEED is the
 * space owner's: it adds a fresh member holding the chat capability of
 * spec 8.2 (state writes, spec 8.5), posts as that member, and prints
 * the member's short id (its nick in the plugin's chats). Exits 0 once the
 * server has confirmed the post.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "crypto.h"
#include "id.h"
#include "membership.h"
#include "message.h"
#include "session.h"


typedef struct {
  GMainLoop *loop;
  GAsyncResult *result;
  const gchar *topic;
  const gchar *text;
  int status;
  gboolean sent;
} Post;

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

/* As the owner: a new member with the chat capability (spec 8.2), written
 * the way the plugin does it (src/core/membership.c: chained on the state
 * head, retried on 409, since the plugin may be writing state too).
 * Returns its key. */
static RdtSigningKey *
add_member (Post *p, const gchar *url, const gchar *space, const guint8 seed[32])
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_new_from_seed (seed);
  RdtSigningKey *member = rdt_signing_key_generate ();
  g_autofree gchar *muid = rdt_signing_key_get_id (member, RDT_ID_USER);
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtApi) api = rdt_api_new (url, space, owner, RDT_ID_USER, &error);
  gboolean ok;

  if (api == NULL)
    {
      g_printerr ("rdt-post: %s\n", error->message);
      rdt_signing_key_free (member);
      return NULL;
    }
  p->result = NULL;
  rdt_membership_add_member_async (api, muid, NULL, got_result, p);
  g_main_loop_run (p->loop);
  ok = rdt_membership_add_member_finish (api, p->result, &error);
  g_clear_object (&p->result);
  if (!ok)
    {
      g_printerr ("rdt-post: adding the member: %s\n", error->message);
      rdt_signing_key_free (member);
      return NULL;
    }
  return member;
}

static void
on_state (RdtSession *s, RdtSessionState state, const GError *error,
          gboolean fatal, gpointer data)
{
  if (state == RDT_SESSION_DISCONNECTED && fatal)
    finish (data, 1, error ? error->message : "disconnected");
}

static void
on_opened (RdtSession *s, const gchar *topic, const GError *error,
           gpointer data)
{
  Post *p = data;
  g_autoptr (GError) err = NULL;

  if (error)
    {
      finish (p, 1, error->message);
      return;
    }
  if (p->sent)
    return;
  p->sent = TRUE;
  if (rdt_session_send_text (s, p->topic, p->text, &err) == 0)
    finish (p, 1, err->message);
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

int
main (int argc, char **argv)
{
  static const RdtSessionCallbacks cb = {
    .state_changed = on_state,
    .topic_opened = on_opened,
    .send_done = on_send_done,
  };
  guint8 seed[32], root[32];
  GError *error = NULL;
  RdtSession *session;
  Post p = { 0 };
  gboolean new_member = argc > 1 && strcmp (argv[1], "--as-new-member") == 0;
  gchar *member_nick = NULL;

  if (new_member)
    {
      argv++;
      argc--;
    }
  if (argc != 5)
    {
      g_printerr ("usage: RDT_SEED=... RDT_ROOT=... %s [--as-new-member] "
                  "SERVER_URL SPACE_ID TOPIC TEXT\n", argv[0]);
      return 2;
    }
  if (!rdt_crypto_init ()
      || !rdt_parse_key32 (g_getenv ("RDT_SEED") ? g_getenv ("RDT_SEED") : "",
                           seed, &error)
      || !rdt_parse_key32 (g_getenv ("RDT_ROOT") ? g_getenv ("RDT_ROOT") : "",
                           root, &error))
    {
      g_printerr ("rdt-post: RDT_SEED/RDT_ROOT: %s\n",
                  error ? error->message : "crypto init failed");
      rdt_wipe (seed, sizeof seed);
      return 2;
    }
  p.loop = g_main_loop_new (NULL, FALSE);
  p.topic = argv[3];
  p.text = argv[4];
  g_timeout_add_seconds (60, on_timeout, &p);
  if (new_member)
    {
      RdtSigningKey *member = add_member (&p, argv[1], argv[2], seed);
      g_autofree gchar *muid = NULL;

      rdt_wipe (seed, sizeof seed);
      if (member == NULL)
        {
          rdt_wipe (root, sizeof root);
          return 1;
        }
      muid = rdt_signing_key_get_id (member, RDT_ID_USER);
      member_nick = rdt_id_short (muid);
      rdt_signing_key_copy_seed (member, seed);
      rdt_signing_key_free (member);
    }
  session = rdt_session_new (argv[1], argv[2], seed, root, &error);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);
  if (session == NULL)
    {
      g_printerr ("rdt-post: %s\n", error->message);
      return 2;
    }
  rdt_session_set_callbacks (session, &cb, &p);
  rdt_session_open_topic (session, p.topic, 0);
  rdt_session_connect (session);
  g_main_loop_run (p.loop);
  rdt_session_free (session);
  g_main_loop_unref (p.loop);
  if (p.status == 0 && member_nick)
    printf ("%s\n", member_nick);
  g_free (member_nick);
  return p.status;
}
