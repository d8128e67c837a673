/* rdt-post - post one chat.text message to a reeeductio topic (demos, the
 * Finch test). Keys come from the environment, never the command line, so
 * they do not show up in `ps`:
 *
 *   RDT_SEED=<hex|base64> RDT_ROOT=<hex|base64> \
 *     rdt-post SERVER_URL SPACE_ID TOPIC TEXT
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "session.h"

typedef struct {
  GMainLoop *loop;
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
  GError *err = NULL;

  if (error)
    {
      finish (p, 1, error->message);
      return;
    }
  if (p->sent)
    return;
  p->sent = TRUE;
  if (rdt_session_send_text (s, p->topic, p->text, &err) == 0)
    {
      finish (p, 1, err->message);
      g_error_free (err);
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

  if (argc != 5)
    {
      g_printerr ("usage: RDT_SEED=... RDT_ROOT=... %s SERVER_URL SPACE_ID TOPIC TEXT\n",
                  argv[0]);
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
  session = rdt_session_new (argv[1], argv[2], seed, root, &error);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);
  if (session == NULL)
    {
      g_printerr ("rdt-post: %s\n", error->message);
      return 2;
    }
  p.loop = g_main_loop_new (NULL, FALSE);
  p.topic = argv[3];
  p.text = argv[4];
  rdt_session_set_callbacks (session, &cb, &p);
  rdt_session_open_topic (session, p.topic, 0);
  rdt_session_connect (session);
  g_timeout_add_seconds (30, on_timeout, &p);
  g_main_loop_run (p.loop);
  rdt_session_free (session);
  g_main_loop_unref (p.loop);
  return p.status;
}
