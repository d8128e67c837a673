/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-bench-net - end-to-end figures of RdtSession against the test server
 * (see bench/README.md). Not a test: it never fails on timing.
 *
 *   rdt-bench-net [join|catchup|live|poll|idle|memory|all] [options]
 *
 * The session and the "other client" (an RdtApi posting signed, encrypted
 * messages) both use the space owner's key; the server is the project's
 * rdt-test-server started through tests/lib (or RDT_TEST_SERVER_URL).
 * Extra server arguments: RDT_BENCH_SERVER_ARGS="--opt value ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

#include "api.h"
#include "session.h"
#include "testserver.h"

#define TOPIC "bench"

static gint n_backlog = 10000, live_n = 200, poll_n = 20, idle_s = 65;
static gint poll_ms = 1000;

typedef struct {
  gchar *url;
  gchar *space_id;
  guint8 seed[RDT_SEED_LENGTH];
  guint8 root[RDT_KEY_LENGTH];
  guint8 topic_key[RDT_KEY_LENGTH];
  RdtSigningKey *key;
  RdtApi *poster;
  gchar *head;            /* last hash posted on TOPIC */
  guint posted;
  gint64 last_post_ms;    /* wall clock when the last POST was answered */
} Bench;

typedef struct {
  RdtSessionState state;
  gboolean opened;
  gchar *open_error;
  guint delivered;
  GHashTable *waiting;    /* hash -> gint64* post start (us) */
  GArray *latencies;      /* gdouble ms */
} Obs;

static gdouble
now_ms (void)
{
  return g_get_monotonic_time () / 1e3;
}

static gboolean
wake (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterate the main loop until done() or timeout; FALSE on timeout. A
 * timeout source wakes the loop so that an idle wait still ends. */
static gboolean
wait_for (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gboolean fired = FALSE, ok;
  guint id = g_timeout_add (timeout_ms, wake, &fired);

  while (!(ok = done (data)) && !fired)
    g_main_context_iteration (NULL, TRUE);
  if (!fired)
    g_source_remove (id);
  return ok;
}

/* ---- posting as the other client ---- */

typedef struct {
  gboolean done;
  GError *error;
} PostWait;

static void
post_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  PostWait *w = data;

  rdt_api_post_message_finish (RDT_API (src), res, &w->error);
  w->done = TRUE;
}

static gboolean
post_done (gpointer data)
{
  return ((PostWait *) data)->done;
}

/* Build the next message of TOPIC; the caller posts it. */
static RdtMessage *
next_message (Bench *b)
{
  g_autofree gchar *text = g_strdup_printf (
      "{\"body\":\"benchmark line %u, a typical short chat message\"}",
      b->posted);
  g_autofree gchar *data = rdt_payload_encrypt (b->topic_key,
                                                (const guint8 *) text,
                                                strlen (text));
  g_autofree gchar *sender = rdt_signing_key_get_id (b->key, RDT_ID_USER);

  return rdt_message_new_signed (b->space_id, TOPIC, "chat.text", b->head,
                                 data, sender, b->key);
}

static gboolean sleep_done (gpointer data);

/* Pace as a client must (spec 4.6): two posts in the same millisecond
 * tie, the server then keeps the older one as head and answers 409. */
static void
pace (Bench *b)
{
  while (g_get_real_time () / 1000 <= b->last_post_ms + 1)
    wait_for (sleep_done, NULL, 1);
}

static void
post_one (Bench *b, RdtMessage *m)
{
  PostWait w = { 0 };

  pace (b);
  rdt_api_post_message_async (b->poster, m, NULL, post_cb, &w);
  if (!wait_for (post_done, &w, 30000) || w.error)
    g_error ("posting message %u: %s", b->posted,
             w.error ? w.error->message : "timeout");
  b->last_post_ms = g_get_real_time () / 1000;
  g_free (b->head);
  b->head = g_strdup (m->message_hash);
  b->posted++;
}

static void
post_many (Bench *b, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RdtMessage) m = next_message (b);
      post_one (b, m);
    }
}

/* ---- the session under test ---- */

static void
on_state (RdtSession *s, RdtSessionState state, const GError *error,
          gboolean fatal, gpointer data)
{
  Obs *o = data;

  o->state = state;
  if (error)
    g_printerr ("  (session state %d: %s%s)\n", state, error->message,
                fatal ? ", fatal" : "");
  if (fatal)
    exit (1);
}

static void
on_opened (RdtSession *s, const gchar *topic, const GError *error,
           gpointer data)
{
  Obs *o = data;

  o->opened = TRUE;
  if (error)
    o->open_error = g_strdup (error->message);
}

static void
on_message (RdtSession *s, const RdtSessionMessage *msg, gpointer data)
{
  Obs *o = data;
  gint64 *t0;

  o->delivered++;
  if (o->waiting && (t0 = g_hash_table_lookup (o->waiting, msg->message_hash)))
    {
      gdouble ms = (g_get_monotonic_time () - *t0) / 1e3;
      g_array_append_val (o->latencies, ms);
      g_hash_table_remove (o->waiting, msg->message_hash);
    }
}

static void
on_warning (RdtSession *s, const gchar *topic, RdtWarningKind kind,
            const gchar *text, gpointer data)
{
  g_printerr ("  (warning %d on %s: %s)\n", kind, topic ? topic : "-", text);
}

static const RdtSessionCallbacks callbacks = {
  .state_changed = on_state,
  .topic_opened = on_opened,
  .message = on_message,
  .warning = on_warning,
};

static gboolean
is_connected (gpointer data)
{
  return ((Obs *) data)->state == RDT_SESSION_CONNECTED;
}

static gboolean
is_opened (gpointer data)
{
  return ((Obs *) data)->opened;
}

static RdtSession *
session_new (Bench *b, Obs *o, gboolean stream)
{
  g_autoptr(GError) error = NULL;
  RdtSession *s = rdt_session_new (b->url, b->space_id, b->seed, b->root,
                                   &error);

  if (!s)
    g_error ("rdt_session_new: %s", error->message);
  memset (o, 0, sizeof *o);
  rdt_session_set_callbacks (s, &callbacks, o);
  rdt_session_set_use_stream (s, stream);
  rdt_session_connect (s);
  if (!wait_for (is_connected, o, 30000))
    g_error ("session did not connect");
  return s;
}

static void
open_topic (RdtSession *s, Obs *o, guint backlog)
{
  o->opened = FALSE;
  g_clear_pointer (&o->open_error, g_free);
  rdt_session_open_topic (s, TOPIC, backlog);
  if (!wait_for (is_opened, o, 60000))
    g_error ("topic_opened never came");
  if (o->open_error)
    g_error ("open topic: %s", o->open_error);
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

static gdouble
percentile (GArray *a, gdouble p)
{
  guint i;

  g_array_sort (a, cmp_double);
  i = (guint) (p / 100.0 * (a->len - 1) + 0.5);
  return g_array_index (a, gdouble, MIN (i, a->len - 1));
}

/* ---- the benchmarks ---- */

static void
ensure_backlog (Bench *b)
{
  gdouble t0;

  if (b->posted >= (guint) n_backlog)
    return;
  t0 = now_ms ();
  post_many (b, n_backlog - b->posted);
  g_print ("(populated %u messages by sequential POST in %.1f s = %.0f posts/s)\n",
           b->posted, (now_ms () - t0) / 1e3,
           b->posted / ((now_ms () - t0) / 1e3));
}

static void
bench_join (Bench *b)
{
  static const guint backlogs[] = { 50, 100 };

  ensure_backlog (b);
  g_print ("== join: open a %u-message topic, newest page delivered ==\n",
           b->posted);
  for (guint k = 0; k < G_N_ELEMENTS (backlogs); k++)
    {
      g_autoptr(GArray) t = g_array_new (FALSE, FALSE, sizeof (gdouble));
      Obs o;
      RdtSession *s = session_new (b, &o, TRUE);

      for (guint r = 0; r < 7; r++)
        {
          gdouble t0 = now_ms (), ms;

          o.delivered = 0;
          open_topic (s, &o, backlogs[k]);
          ms = now_ms () - t0;
          g_array_append_val (t, ms);
          if (o.delivered != backlogs[k])
            g_print ("  (delivered %u of %u)\n", o.delivered, backlogs[k]);
          rdt_session_close_topic (s, TOPIC);
        }
      g_print ("  backlog %3u: median %6.1f ms  max %6.1f ms   target <= 150 ms  %s\n",
               backlogs[k], percentile (t, 50), percentile (t, 100),
               percentile (t, 50) <= 150 ? "MET" : "MISSED");
      rdt_session_free (s);
    }
}

static gboolean
delivered_enough (gpointer data)
{
  Obs *o = data;
  return o->delivered >= 1000;
}

static void
bench_catchup (Bench *b)
{
  Obs o;
  RdtSession *s = session_new (b, &o, TRUE);
  gdouble t0, ms;

  g_print ("== catch-up: 1000 messages missed while disconnected ==\n");
  open_topic (s, &o, 50);
  rdt_session_disconnect (s);
  post_many (b, 1000);
  o.delivered = 0;
  t0 = now_ms ();
  rdt_session_connect (s);
  if (!wait_for (delivered_enough, &o, 120000))
    g_print ("  only %u of 1000 delivered after 120 s\n", o.delivered);
  ms = now_ms () - t0;
  g_print ("  reconnect -> 1000 delivered: %7.1f ms (login included)   target <= 1000 ms  %s\n",
           ms, ms <= 1000 ? "MET" : "MISSED");
  rdt_session_free (s);
}

static gboolean
latency_done (gpointer data)
{
  return g_hash_table_size (((Obs *) data)->waiting) == 0;
}

static gboolean
sleep_done (gpointer data)
{
  return FALSE;
}

/* Post n messages one at a time and time POST start -> message callback.
 * spread_ms > 0 waits a random 0..spread_ms before each post so that
 * posts land at random phases of a poll interval. */
static void
latency_run (Bench *b, gboolean stream, guint n, guint spread_ms,
             const gchar *label)
{
  Obs o;
  RdtSession *s = session_new (b, &o, stream);

  if (!stream)
    rdt_session_set_poll_intervals (s, poll_ms, poll_ms);
  open_topic (s, &o, 1);
  o.waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  o.latencies = g_array_new (FALSE, FALSE, sizeof (gdouble));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(RdtMessage) m = next_message (b);
      gint64 *t0 = g_new (gint64, 1);

      if (spread_ms)
        wait_for (sleep_done, NULL, g_random_int_range (0, spread_ms));
      pace (b);   /* not part of the latency */
      *t0 = g_get_monotonic_time ();
      g_hash_table_insert (o.waiting, g_strdup (m->message_hash), t0);
      post_one (b, m);
      if (!wait_for (latency_done, &o, 30000))
        {
          g_print ("  message %u never delivered\n", i);
          break;
        }
    }
  if (o.latencies->len)
    g_print ("  %s (%u msgs): p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms",
             label, o.latencies->len, percentile (o.latencies, 50),
             percentile (o.latencies, 99), percentile (o.latencies, 100));
  if (stream)
    g_print ("   targets p50 <= 20, p99 <= 100  %s\n",
             percentile (o.latencies, 50) <= 20
             && percentile (o.latencies, 99) <= 100 ? "MET" : "MISSED");
  else
    g_print ("   (poll interval %d ms; expect ~interval/2 + fetch)\n", poll_ms);
  g_hash_table_unref (o.waiting);
  g_array_unref (o.latencies);
  rdt_session_free (s);
}

static glong
rss_kb (void)
{
  g_autofree gchar *status = NULL;
  const gchar *p;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  p = strstr (status, "VmRSS:");
  return p ? strtol (p + 6, NULL, 10) : -1;
}

static gboolean
delivered_mem (gpointer data)
{
  return ((Obs *) data)->delivered >= 10000;
}

/* RSS growth of the whole process (session + the poster, whose per-message
 * state is one string) while the session sees 10k live messages. */
static void
bench_memory (Bench *b)
{
  Obs o;
  RdtSession *s = session_new (b, &o, TRUE);
  glong before, after;
  gdouble t0;

  g_print ("== memory: session RSS growth over 10000 live messages ==\n");
  open_topic (s, &o, 100);
  malloc_trim (0);
  before = rss_kb ();
  o.delivered = 0;
  t0 = now_ms ();
  post_many (b, 10000);
  if (!wait_for (delivered_mem, &o, 60000))
    g_print ("  only %u of 10000 delivered\n", o.delivered);
  malloc_trim (0);
  after = rss_kb ();
  g_print ("  VmRSS growth %.2f MB per 10k   target <= 2 MB  %s   (%.1f s)\n",
           (after - before) / 1024.0,
           (after - before) / 1024.0 <= 2.0 ? "MET" : "MISSED",
           (now_ms () - t0) / 1e3);
  rdt_session_free (s);
}

static gboolean
count_request (GSignalInvocationHint *hint, guint n, const GValue *params,
               gpointer data)
{
  (*(guint *) data)++;
  return TRUE;
}

static void
bench_idle (Bench *b)
{
  Obs o;
  RdtSession *s;
  guint requests = 0, sig;
  gulong hook;
  gdouble t0, minutes;

  g_print ("== idle: HTTP requests while the WebSocket is live, %d s, default intervals ==\n",
           idle_s);
  /* Every SoupSession in the process (the session's own RdtApi is private):
   * an emission hook on "request-queued" counts them all. The poster is
   * idle during the window. */
  g_type_class_unref (g_type_class_ref (SOUP_TYPE_SESSION));
  sig = g_signal_lookup ("request-queued", SOUP_TYPE_SESSION);
  s = session_new (b, &o, TRUE);
  open_topic (s, &o, 1);
  /* Let the stream come up and the open settle before counting. */
  wait_for (sleep_done, NULL, 2000);
  hook = g_signal_add_emission_hook (sig, 0, count_request, &requests, NULL);
  t0 = now_ms ();
  wait_for (sleep_done, NULL, idle_s * 1000);
  minutes = (now_ms () - t0) / 60000.0;
  g_signal_remove_emission_hook (sig, hook);
  g_print ("  %u HTTP requests in %.2f min = %.1f req/min   target: keepalive only (0 HTTP, WS pings)  %s\n",
           requests, minutes, requests / minutes, requests == 0 ? "MET" : "see README");
  g_print ("  default live poll 300000 ms implies %.1f req/min of polling alone\n",
           60000.0 / 300000.0);
  rdt_session_free (s);
}

int
main (int argc, char **argv)
{
  gchar **rest = NULL;
  GOptionEntry entries[] = {
    { "messages", 'n', 0, G_OPTION_ARG_INT, &n_backlog, "Topic size for join (10000)", "N" },
    { "live", 0, 0, G_OPTION_ARG_INT, &live_n, "Messages for live latency (200)", "N" },
    { "poll-messages", 0, 0, G_OPTION_ARG_INT, &poll_n, "Messages for polling latency (20)", "N" },
    { "poll-ms", 0, 0, G_OPTION_ARG_INT, &poll_ms, "Poll interval for the polling run (1000)", "MS" },
    { "idle-seconds", 0, 0, G_OPTION_ARG_INT, &idle_s, "Idle window (65)", "S" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, "" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx =
      g_option_context_new ("[join|catchup|live|poll|idle|memory|all]");
  g_autoptr(GError) error = NULL;
  g_autoptr(RdtSpaceKeys) keys = NULL;
  g_auto(GStrv) server_args = NULL;
  RdtTestServer *server;
  const gchar *what, *env;
  Bench b = { 0 };
  gboolean all;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  what = rest && rest[0] ? rest[0] : "all";
  all = g_str_equal (what, "all");
  if (!all && !g_strv_contains ((const gchar * const[]) { "join", "catchup",
          "live", "poll", "idle", "memory", NULL }, what))
    {
      g_printerr ("unknown benchmark %s\n", what);
      return 2;
    }
  if (!rdt_crypto_init ())
    return 2;
#ifdef RDT_BENCH_SERVER_BIN
  g_setenv ("RDT_TEST_SERVER_BIN", RDT_BENCH_SERVER_BIN, FALSE);
#endif
  env = g_getenv ("RDT_BENCH_SERVER_ARGS");
  if (env && *env && !g_shell_parse_argv (env, NULL, &server_args, &error))
    {
      g_printerr ("RDT_BENCH_SERVER_ARGS: %s\n", error->message);
      return 2;
    }
  if (server_args != NULL && g_getenv ("RDT_TEST_SERVER_URL") != NULL
      && *g_getenv ("RDT_TEST_SERVER_URL") != '\0')
    {
      g_printerr ("RDT_BENCH_SERVER_ARGS needs a local server: unset "
                  "RDT_TEST_SERVER_URL or the options\n");
      return 2;
    }
  server = rdt_test_server_start ((const gchar * const *) server_args);
  b.url = g_strdup (rdt_test_server_get_url (server));

  /* Fresh keys, so a fresh space, every run: a server that outlives the
   * run (RDT_TEST_SERVER_URL) keeps the space and its topic's chain, which
   * a fixed key would meet again with a stale head. The space key doubles
   * as the member's (the owner). */
  rdt_random_bytes (b.seed, sizeof b.seed);
  rdt_random_bytes (b.root, sizeof b.root);
  b.key = rdt_signing_key_new_from_seed (b.seed);
  b.space_id = rdt_signing_key_get_id (b.key, RDT_ID_SPACE);
  keys = rdt_space_keys_new (b.root, b.space_id);
  rdt_space_keys_topic_key (keys, TOPIC, b.topic_key);
  b.poster = rdt_api_new (b.url, b.space_id, b.key, RDT_ID_USER, &error);
  if (!b.poster)
    g_error ("rdt_api_new: %s", error->message);
  g_print ("(server %s, space %s)\n", b.url, b.space_id);

  if (all || g_str_equal (what, "join"))
    bench_join (&b);
  if (all || g_str_equal (what, "catchup"))
    bench_catchup (&b);
  if (all || g_str_equal (what, "live"))
    {
      g_print ("== live latency: other client's POST -> message callback ==\n");
      latency_run (&b, TRUE, live_n, 0, "WebSocket   ");
    }
  if (all || g_str_equal (what, "poll"))
    {
      g_print ("== live latency, polling only ==\n");
      latency_run (&b, FALSE, poll_n, poll_ms, "polling only");
    }
  if (all || g_str_equal (what, "idle"))
    bench_idle (&b);
  if (all || g_str_equal (what, "memory"))
    bench_memory (&b);

  g_object_unref (b.poster);
  rdt_signing_key_free (b.key);
  rdt_test_server_stop (server);
  g_free (b.url);
  g_free (b.space_id);
  g_free (b.head);
  g_strfreev (rest);
  return 0;
}
