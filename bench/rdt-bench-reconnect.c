/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-bench-reconnect - how soon an RdtSession is back after the server
 * was down, with the session's defaults (the plugin's): login backoff
 * 1 s doubling to 60 s, a GET /health probe every 2 s while nothing
 * answers. For each outage length the server is stopped, left down, then
 * started again on the same port and data; printed: the time from the
 * server answering again to the session's CONNECTED (what the chats show
 * as "Reconnected."), and what the session sent meanwhile (logins tried,
 * probes). The same outage with the probe off shows the backoff alone.
 * Target: <= 3 s after the server answers. Never a test: timing only. */
#include "config.h"

#include <string.h>
#include <glib.h>

#include "crypto.h"
#include "id.h"
#include "session.h"
#include "testserver.h"

#define TOPIC "general"

typedef struct {
  RdtSessionState state;
  gboolean opened;
} Watch;

static void
on_state (RdtSession *s, RdtSessionState state, const GError *error,
          gboolean fatal, gpointer data)
{
  ((Watch *) data)->state = state;
  if (fatal)
    g_error ("fatal: %s", error ? error->message : "?");
}

static void
on_opened (RdtSession *s, const gchar *topic, const GError *error,
           gpointer data)
{
  if (error)
    g_error ("open: %s", error->message);
  ((Watch *) data)->opened = TRUE;
}

static const RdtSessionCallbacks callbacks = {
  .state_changed = on_state,
  .topic_opened = on_opened,
};

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Run the main loop (the session works meanwhile) until cond or timeout. */
static gboolean
run_until (Watch *w, RdtSessionState want, guint timeout_s)
{
  gboolean late = FALSE;
  guint id = g_timeout_add_seconds (timeout_s, set_flag, &late);

  while (w->state != want && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (id);
  return !late;
}

static void
run_for (guint seconds)
{
  gboolean due = FALSE;

  g_timeout_add_seconds (seconds, set_flag, &due);
  while (!due)
    g_main_context_iteration (NULL, TRUE);
}

static void
outage (RdtTestServer *server, const gchar *space_id, RdtSigningKey *key,
        const guint8 *root, guint down_s, gboolean probe)
{
  g_autoptr (GError) error = NULL;
  Watch w = { RDT_SESSION_DISCONNECTED, FALSE };
  RdtSession *s = rdt_session_new_for_key (rdt_test_server_get_url (server),
                                           space_id, key, root, &error);
  guint tries0, probes0, tries, probes;
  gint64 up_us, back_us;

  if (s == NULL)
    g_error ("session: %s", error->message);
  rdt_session_set_callbacks (s, &callbacks, &w);
  if (!probe)
    rdt_session_set_probe_interval (s, 0);
  rdt_session_connect (s);
  rdt_session_open_topic (s, TOPIC, 10);
  if (!run_until (&w, RDT_SESSION_CONNECTED, 30))
    g_error ("no first login");
  while (!w.opened)
    g_main_context_iteration (NULL, TRUE);
  rdt_session_get_reconnect_stats (s, &tries0, &probes0);

  rdt_test_server_kill (server);
  if (!run_until (&w, RDT_SESSION_CONNECTING, 30))
    g_error ("the session did not notice the outage");
  run_for (down_s);
  /* returns once the server printed its URL: it answers from now on */
  rdt_test_server_resume (server);
  up_us = g_get_monotonic_time ();
  if (!run_until (&w, RDT_SESSION_CONNECTED, 120))
    g_error ("no reconnect within 120 s");
  back_us = g_get_monotonic_time ();
  rdt_session_get_reconnect_stats (s, &tries, &probes);
  g_print ("  down %3u s, %-13s  reconnected %6.2f s after the server was "
           "back   (meanwhile %u logins tried, %u probes)   %s\n",
           down_s, probe ? "probe 2 s" : "backoff only",
           (back_us - up_us) / 1e6, tries - tries0, probes - probes0,
           !probe ? "" : (back_us - up_us) <= 3 * G_USEC_PER_SEC
                         ? "target <= 3 s: MET" : "target <= 3 s: MISSED");
  rdt_session_free (s);
}

int
main (int argc, char **argv)
{
  gchar *downs = NULL;
  gboolean no_compare = FALSE;
  GOptionEntry entries[] = {
    { "down", 'd', 0, G_OPTION_ARG_STRING, &downs,
      "Outage lengths in seconds (10,60)", "S,S" },
    { "no-compare", 0, 0, G_OPTION_ARG_NONE, &no_compare,
      "Skip the runs with the probe off", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) list = NULL;
  guint8 seed[RDT_SEED_LENGTH], root[RDT_KEY_LENGTH];
  RdtSigningKey *key;
  gchar *space_id;
  RdtTestServer *server;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (!rdt_crypto_init ())
    return 2;
#ifdef RDT_BENCH_SERVER_BIN
  g_setenv ("RDT_TEST_SERVER_BIN", RDT_BENCH_SERVER_BIN, FALSE);
#endif
  if (g_getenv ("RDT_TEST_SERVER_URL"))
    {
      g_printerr ("rdt-bench-reconnect stops and starts its own server: "
                  "unset RDT_TEST_SERVER_URL\n");
      return 77;
    }
  server = rdt_test_server_start (NULL);
  /* A fresh space each run: the space key doubles as the owner's. */
  rdt_random_bytes (seed, sizeof seed);
  rdt_random_bytes (root, sizeof root);
  key = rdt_signing_key_new_from_seed (seed);
  rdt_wipe (seed, sizeof seed);
  space_id = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  g_print ("== reconnect: server down, then up: time to CONNECTED ==\n");
  list = g_strsplit (downs ? downs : "10,60", ",", -1);
  for (guint i = 0; list[i]; i++)
    {
      guint d = (guint) g_ascii_strtoull (list[i], NULL, 10);

      outage (server, space_id, key, root, d, TRUE);
      if (!no_compare)
        outage (server, space_id, key, root, d, FALSE);
    }
  rdt_signing_key_free (key);
  rdt_wipe (root, sizeof root);
  g_free (space_id);
  g_free (downs);
  rdt_test_server_stop (server);
  return 0;
}
