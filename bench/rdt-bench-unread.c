/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-bench-unread - read state and history through libpurple's own core
 * (issue #16, "Measured"; see bench/README.md). Not a test: it never
 * fails on timing.
 *
 *   rdt-bench-unread [-n 10000] [-u 1000] [-r 3] [-p 5]
 *
 * One member posts n chat.text messages into a topic through the core;
 * another member's read marker is stored at message n - u through
 * RdtReadState. Then, r times with a fresh libpurple account of that
 * member (the e2e harness: the plugin inside libpurple, headless, against
 * rdt-test-server): from harness_account_connect + join to the last unread
 * entry and the divider written to the conversation. Phases come from
 * timestamps taken as they happen: the core's own log lines (forwarded by
 * the plugin to libpurple's debug log) and the harness's line times.
 * Last, with the chat open, p x "/history 1000" and the memory it holds.
 * RDT_BENCH_TRACE=1 prints the debug log lines of the measured opens with
 * their monotonic times (ms).
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "world.h"
#include "api.h"
#include "crypto.h"
#include "id.h"
#include "message.h"
#include "readstate.h"
#include "testserver.h"

#define TOPIC "bench"
#define TARGET_MS 1000.0

static gint n_messages = 10000, n_unread = 1000, n_runs = 3, n_pages = 5;

/* ---- timestamps of the core's log lines ---- */

enum {
  EV_LOGGED_IN,      /* session: logged in as */
  EV_MARKER_GET,     /* api: GET .../data/... (the read marker) */
  EV_OPENING,        /* session: opening topic (the marker is known) */
  EV_FIRST_PAGE,     /* session: ... fetched the first page */
  EV_OLDER_GET,      /* api: GET of an older page (marker not in the first) */
  EV_OLDER_DONE,     /* session: ... fetched an older page ... read marker */
  EV_OPENED,         /* session: topic ... opened (verified, linked) */
  EV_N
};

static gint64 events[EV_N];
static gboolean recording;
static PurpleDebugUiOps bench_debug_ops;
static void (*harness_print) (PurpleDebugLevel, const char *, const char *);

static void
bench_print (PurpleDebugLevel level, const char *category, const char *arg)
{
  gint64 now = g_get_monotonic_time ();
  gint ev = -1;

  if (recording && g_getenv ("RDT_BENCH_TRACE"))
    g_print ("    %.3f %s", now / 1e3, arg);
  if (recording)
    {
      if (strstr (arg, "session: logged in as"))
        ev = EV_LOGGED_IN;
      else if (strstr (arg, "api: GET") && strstr (arg, "/data/"))
        ev = EV_MARKER_GET;
      else if (strstr (arg, "session: opening topic"))
        ev = EV_OPENING;
      else if (strstr (arg, "fetched the first page"))
        ev = EV_FIRST_PAGE;
      else if (events[EV_FIRST_PAGE] && strstr (arg, "api: GET")
               && strstr (arg, "/topics/" TOPIC "/messages?from="))
        ev = EV_OLDER_GET;
      else if (strstr (arg, "fetched an older page")
               && strstr (arg, "read marker"))
        ev = EV_OLDER_DONE;
      else if (strstr (arg, "session: topic") && strstr (arg, " opened: "))
        ev = EV_OPENED;
      if (ev >= 0 && events[ev] == 0)
        events[ev] = now;
    }
  harness_print (level, category, arg);
}

/* ---- the topic, filled through the core ---- */

typedef struct {
  World w;
  Core *poster, *reader;
  gchar *reader_hex;
  guint8 topic_key[RDT_KEY_LENGTH];
  gchar *head;
  gint64 last_post_ms;
  gchar *marker_hash;
  gint64 marker_ts;
  GPtrArray *unread_payloads;   /* the last n_unread, for the decrypt figure */
  gchar *last_text;
} Bench;

static gdouble
ms_since (gint64 from_us, gint64 to_us)
{
  return (to_us - from_us) / 1e3;
}

/* spec 4.6: two posts in the same millisecond tie (409); as rdt-bench-net */
static void
pace (Bench *b)
{
  while (g_get_real_time () / 1000 <= b->last_post_ms + 1)
    harness_pause (1, "the pause between posts");
}

static gint64
post (Bench *b, guint i)
{
  g_autofree gchar *text = g_strdup_printf (
      "benchmark line %u, a typical short chat message", i);
  g_autofree gchar *data = rdt_payload_encrypt (b->topic_key,
                                                (const guint8 *) text,
                                                strlen (text));
  g_autoptr (RdtMessage) m = NULL;
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };
  gint64 ts;

  m = rdt_message_new_signed (b->w.space, TOPIC, "chat.text", b->head, data,
                              b->poster->uid, b->poster->key);
  pace (b);
  rdt_api_post_message_async (b->poster->api, m, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "a post");
  ts = rdt_api_post_message_finish (b->poster->api, a.result, &error);
  g_clear_object (&a.result);
  if (error)
    g_error ("posting message %u: %s", i, error->message);
  b->last_post_ms = g_get_real_time () / 1000;
  g_free (b->head);
  b->head = g_strdup (m->message_hash);
  if (i > (guint) (n_messages - n_unread))
    g_ptr_array_add (b->unread_payloads, g_strdup (data));
  if (i == (guint) n_messages)
    b->last_text = g_strdup (text);
  return ts;
}

static void
fill (Bench *b)
{
  gint64 start = g_get_monotonic_time ();

  for (guint i = 1; i <= (guint) n_messages; i++)
    {
      gint64 ts = post (b, i);

      if (i == (guint) (n_messages - n_unread))
        {
          b->marker_hash = g_strdup (b->head);
          b->marker_ts = ts;
        }
    }
  g_print ("(populated %d messages by sequential POST in %.1f s)\n",
           n_messages, ms_since (start, g_get_monotonic_time ()) / 1e3);
}

static void
store_marker (Bench *b)
{
  g_autoptr (RdtReadMarker) m = rdt_read_marker_new (TOPIC, b->marker_hash,
                                                     b->marker_ts);
  g_autoptr (RdtReadMarker) stored = NULL;
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };
  guint8 seed[RDT_SEED_LENGTH];
  RdtReadState *rs;

  rdt_signing_key_copy_seed (b->reader->key, seed);
  rs = rdt_readstate_new (b->reader->api, seed);
  rdt_wipe (seed, sizeof seed);
  rdt_readstate_store_async (rs, m, NULL, harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "the read marker stored");
  stored = rdt_readstate_store_finish (rs, a.result, &error);
  g_clear_object (&a.result);
  if (error)
    g_error ("storing the read marker: %s", error->message);
  g_assert_cmpstr (stored->message_hash, ==, b->marker_hash);
  g_object_unref (rs);
}

/* ---- one measured open ---- */

/* The harness's recorded lines: dropped once read, so that neither the
 * scans nor the memory figures grow with them. */
static void
drop_lines (void)
{
  GPtrArray *lines = harness_lines ();

  for (guint i = 0; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      g_free (l->conv);
      g_free (l->account);
      g_free (l->who);
      g_free (l->alias);
      g_free (l->text);
      g_free (l);
    }
  g_ptr_array_set_size (lines, 0);
}

typedef struct {
  PurpleAccount *a;
  const gchar *last_text;
  guint scanned;
  guint messages, headers;   /* entries from a sender; history headers */
  gint64 first_us, last_msg_us, divider_us;
  gchar *divider;
} Watch;

static void
watch_scan (Watch *wt)
{
  GPtrArray *lines = harness_lines ();
  const gchar *user = purple_account_get_username (wt->a);

  for (; wt->scanned < lines->len; wt->scanned++)
    {
      HarnessLine *l = lines->pdata[wt->scanned];

      if (g_strcmp0 (l->account, user) != 0 || g_strcmp0 (l->conv, TOPIC))
        continue;
      if (l->flags & PURPLE_MESSAGE_SYSTEM)
        {
          if (strstr (l->text, "since you last read") && !wt->divider)
            {
              wt->divider = g_strdup (l->text);
              wt->divider_us = l->written_us;
            }
          if (strstr (l->text, " earlier messages"))
            wt->headers++;
          continue;
        }
      if (l->who == NULL || (l->flags & PURPLE_MESSAGE_ERROR))
        continue;
      if (wt->messages++ == 0)
        wt->first_us = l->written_us;
      if (g_strcmp0 (l->text, wt->last_text) == 0)
        wt->last_msg_us = l->written_us;
    }
}

static gboolean
open_done (gpointer data)
{
  Watch *wt = data;

  watch_scan (wt);
  return wt->divider_us != 0 && wt->last_msg_us != 0;
}

/* ---- memory ---- */

typedef struct {
  gsize heap, rss;
} Mem;

static void
mem_read (Mem *m)
{
  g_autofree gchar *statm = NULL;
  gulong size = 0, resident = 0;
  struct mallinfo2 mi;

  drop_lines ();
  malloc_trim (0);
  mi = mallinfo2 ();
  m->heap = mi.uordblks;
  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%lu %lu", &size, &resident);
  m->rss = resident * (gsize) sysconf (_SC_PAGESIZE);
}

typedef struct {
  gdouble total, login, join_gap, marker, page, verify, deliver, to_first;
  gdouble page2, verify2;   /* the older page that holds the marker */
} Run;

/* at_connect: memory read once connected, before the join (not timed). */
static PurpleAccount *
measured_open (Bench *b, guint run, Run *r, Watch *wt, Mem *at_connect)
{
  g_autofree gchar *local = g_strdup_printf ("reader-%u", run);
  PurpleAccount *a = world_account_new (&b->w, local, b->reader_hex, TRUE);
  gint64 t0, joined, end;

  drop_lines ();
  memset (wt, 0, sizeof *wt);
  wt->a = a;
  wt->last_text = b->last_text;
  memset (events, 0, sizeof events);
  recording = TRUE;
  t0 = g_get_monotonic_time ();
  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 60, "the account to connect");
  if (at_connect)
    {
      mem_read (at_connect);   /* drops the lines seen so far */
      wt->scanned = 0;
    }
  joined = g_get_monotonic_time ();
  harness_join (a, TOPIC);
  harness_wait (open_done, wt, 120, "the unread entries and the divider");
  recording = FALSE;
  end = MAX (wt->divider_us, wt->last_msg_us);
  for (guint i = 0; i < EV_N; i++)
    if (events[i] == 0 && i != EV_OLDER_GET && i != EV_OLDER_DONE)
      g_error ("log line %u not seen: the core's log lines changed?", i);
  r->total = ms_since (t0, end);
  r->login = ms_since (t0, events[EV_LOGGED_IN]);
  r->join_gap = ms_since (events[EV_LOGGED_IN], joined);
  r->marker = ms_since (events[EV_MARKER_GET], events[EV_OPENING]);
  r->page = ms_since (events[EV_OPENING], events[EV_FIRST_PAGE]);
  if (events[EV_OLDER_DONE])
    {
      r->verify = ms_since (events[EV_FIRST_PAGE], events[EV_OLDER_GET]);
      r->page2 = ms_since (events[EV_OLDER_GET], events[EV_OLDER_DONE]);
      r->verify2 = ms_since (events[EV_OLDER_DONE], events[EV_OPENED]);
    }
  else
    r->verify = ms_since (events[EV_FIRST_PAGE], events[EV_OPENED]);
  r->to_first = ms_since (events[EV_OPENED], wt->first_us);
  r->deliver = ms_since (wt->first_us, end);
  g_print ("  run %u: %s; %u entries\n", run, wt->divider, wt->messages);
  g_print ("    total %.1f ms: login %.1f, join %.1f, marker GET %.1f, "
           "first page %.1f, verify+link %.1f, older page %.1f, "
           "verify+link %.1f, to first line %.1f, delivery %.1f\n",
           r->total, r->login, ms_since (joined, events[EV_MARKER_GET]),
           r->marker, r->page, r->verify, r->page2, r->verify2, r->to_first,
           r->deliver);
  if (wt->messages != (guint) n_unread)
    g_print ("    WARNING: %u entries written, %d expected\n", wt->messages,
             n_unread);
  return a;
}

static void
leave (PurpleAccount *a)
{
  PurpleConversation *conv = purple_find_conversation_with_account (
      PURPLE_CONV_TYPE_CHAT, TOPIC, a);

  if (conv)
    purple_conversation_destroy (conv);
}

static gint
cmp_double (gconstpointer x, gconstpointer y)
{
  gdouble a = *(const gdouble *) x, b = *(const gdouble *) y;

  return a < b ? -1 : a > b;
}

static gdouble
median (GArray *v)
{
  g_array_sort (v, cmp_double);
  return g_array_index (v, gdouble, v->len / 2);
}

static gdouble
best (GArray *v)
{
  g_array_sort (v, cmp_double);
  return g_array_index (v, gdouble, 0);
}

#define FIELD(r, off) (*(gdouble *) ((guint8 *) (r) + (off)))

static void
summary_line (const Run *runs, guint n, const gchar *what, gsize off,
              const gchar *target)
{
  g_autoptr (GArray) v = g_array_new (FALSE, FALSE, sizeof (gdouble));

  for (guint i = 0; i < n; i++)
    g_array_append_val (v, FIELD (&runs[i], off));
  g_print ("  %-34s best %7.1f  median %7.1f ms%s%s\n", what, best (v),
           median (v), target ? "   " : "", target ? target : "");
}

/* rdt_payload_decrypt alone over the unread payloads: its share of the
 * delivery. */
static gdouble
decrypt_ms (Bench *b)
{
  gint64 t = g_get_monotonic_time ();

  for (guint i = 0; i < b->unread_payloads->len; i++)
    {
      g_autoptr (GError) error = NULL;
      GBytes *plain = rdt_payload_decrypt (b->topic_key,
                                           b->unread_payloads->pdata[i],
                                           &error);
      g_assert_no_error (error);
      g_bytes_unref (plain);
    }
  return ms_since (t, g_get_monotonic_time ());
}

static void
mem_print (const gchar *what, const Mem *m, const Mem *base)
{
  g_print ("  %-44s heap %7.2f MB (%+6.2f)  RSS %7.2f MB (%+6.2f)\n", what,
           m->heap / 1048576.0, ((gdouble) m->heap - base->heap) / 1048576.0,
           m->rss / 1048576.0, ((gdouble) m->rss - base->rss) / 1048576.0);
}

static gboolean
history_done (gpointer data)
{
  Watch *wt = data;

  watch_scan (wt);
  return wt->headers >= 1 && wt->messages >= 1000;
}

static void
bench_memory (Bench *b)
{
  Mem base, open, paged, left, gone;
  Watch wt;
  Run r;
  PurpleAccount *a;
  PurpleConversation *conv;
  guint total = 0;

  g_print ("== memory: one open topic, %d x /history 1000 ==\n", n_pages);
  a = measured_open (b, n_runs + 1, &r, &wt, &base);
  g_free (wt.divider);
  mem_read (&open);
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, TOPIC,
                                                a);
  for (gint p = 0; p < n_pages; p++)
    {
      gint64 t = g_get_monotonic_time ();

      drop_lines ();
      memset (&wt, 0, sizeof wt);
      wt.a = a;
      world_command (PURPLE_CONV_CHAT (conv), "history 1000");
      harness_wait (history_done, &wt, 60, "a block of 1000 earlier messages");
      total += wt.messages;
      g_print ("  /history 1000 #%d: %u entries in %.1f ms\n", p + 1,
               wt.messages, ms_since (t, g_get_monotonic_time ()));
    }
  mem_read (&paged);
  {
    GList *h = purple_conversation_get_message_history (conv);
    gsize bytes = 0;

    /* a rough count: each allocation with malloc's 16-byte header */
    for (GList *l = h; l; l = l->next)
      {
        PurpleConvMessage *m = l->data;

        bytes += sizeof (GList) + sizeof *m + 3 * 16 + 16;
        bytes += (m->who ? strlen (m->who) + 1 : 0)
                 + (m->what ? strlen (m->what) + 1 : 0)
                 + (m->alias ? strlen (m->alias) + 1 : 0);
      }
    g_print ("  libpurple's own history of the chat "
             "(purple_conversation_get_message_history): %u entries, "
             "~%.2f MB\n", g_list_length (h), bytes / 1048576.0);
  }
  leave (a);
  harness_pause (500, "the chat to close");
  mem_read (&left);
  harness_account_done (a);
  harness_wait (harness_account_disconnected, a, 30, "the account to close");
  harness_pause (500, "the connection to go");
  mem_read (&gone);
  g_print ("  (%u entries paged back; the harness's own copies of lines are "
           "freed before each reading)\n", total);
  mem_print ("account connected before, no chat (base)", &base, &base);
  {
    g_autofree gchar *what = g_strdup_printf ("chat open, %d unread shown",
                                              n_unread);

    mem_print (what, &open, &base);
  }
  mem_print ("after paging back (per open topic: +)", &paged, &base);
  mem_print ("after leaving the chat", &left, &base);
  mem_print ("after the account is disabled", &gone, &base);
}

/* The harness narrates every line with g_test_message, which prints
 * "# ..." outside a test run too: 1000s of lines of terminal output would
 * be part of what is timed. Only the bench's own output is printed. */
static void
print_filter (const gchar *string)
{
  if (!g_str_has_prefix (string, "# "))
    fputs (string, stdout);
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "messages", 'n', 0, G_OPTION_ARG_INT, &n_messages, "Topic size (10000)", "N" },
    { "unread", 'u', 0, G_OPTION_ARG_INT, &n_unread, "Unread after the marker (1000)", "N" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &n_runs, "Measured opens (3)", "N" },
    { "pages", 'p', 0, G_OPTION_ARG_INT, &n_pages, "/history 1000 blocks (5)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("");
  g_autoptr (GError) error = NULL;
  g_autofree Run *runs = NULL;
  RdtTestServer *server;
  Bench b = { 0 };
  gdouble dec;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (n_unread < 1 || n_unread > 1000 || n_messages <= n_unread
      || n_runs < 1 || n_pages < 0 || (n_messages - n_unread) < n_pages * 1000)
    {
      g_printerr ("need 1 <= unread <= 1000 (max_unread), runs >= 1 and "
                  "messages >= unread + 1000 x pages\n");
      return 2;
    }
#ifdef RDT_BENCH_SERVER_BIN
  g_setenv ("RDT_TEST_SERVER_BIN", RDT_BENCH_SERVER_BIN, FALSE);
#endif
#ifdef RDT_BENCH_PLUGIN_DIR
  g_setenv ("RDT_PLUGIN_DIR", RDT_BENCH_PLUGIN_DIR, FALSE);
#endif
  if (!rdt_crypto_init ())
    return 2;
  g_set_print_handler (print_filter);
  harness_init ();
  bench_debug_ops = *purple_debug_get_ui_ops ();
  harness_print = bench_debug_ops.print;
  bench_debug_ops.print = bench_print;
  purple_debug_set_ui_ops (&bench_debug_ops);
  server = rdt_test_server_start (NULL);

  world_new (&b.w, server);
  b.poster = world_core_new (&b.w, TRUE);
  b.reader = world_core_new (&b.w, TRUE);
  b.reader_hex = harness_seed_hex (b.reader->key);
  rdt_space_keys_topic_key (b.w.keys, TOPIC, b.topic_key);
  b.unread_payloads = g_ptr_array_new_with_free_func (g_free);
  g_print ("(server %s, space %s)\n", b.w.url, b.w.space);
  fill (&b);
  store_marker (&b);

  g_print ("== open: %d unread of %d, connect + join -> last unread entry "
           "and divider written ==\n", n_unread, n_messages);
  runs = g_new0 (Run, n_runs);
  for (gint i = 0; i < n_runs; i++)
    {
      Watch wt;
      PurpleAccount *a = measured_open (&b, i + 1, &runs[i], &wt, NULL);

      g_free (wt.divider);
      leave (a);
      harness_account_done (a);
      harness_wait (harness_account_disconnected, a, 30,
                    "the account to close");
    }
  dec = decrypt_ms (&b);
  g_print ("== summary of %d runs ==\n", n_runs);
  summary_line (runs, n_runs, "total", G_STRUCT_OFFSET (Run, total),
                "target <= 1000 ms");
  summary_line (runs, n_runs, "login (connect -> logged in)",
                G_STRUCT_OFFSET (Run, login), NULL);
  summary_line (runs, n_runs, "marker load (GET data)",
                G_STRUCT_OFFSET (Run, marker), NULL);
  summary_line (runs, n_runs, "first page fetch (HTTP + parse)",
                G_STRUCT_OFFSET (Run, page), NULL);
  summary_line (runs, n_runs, "verify + link (chain ingest)",
                G_STRUCT_OFFSET (Run, verify), NULL);
  summary_line (runs, n_runs, "older page fetch, for the marker",
                G_STRUCT_OFFSET (Run, page2), NULL);
  summary_line (runs, n_runs, "its verify + link",
                G_STRUCT_OFFSET (Run, verify2), NULL);
  summary_line (runs, n_runs, "opened -> first line written",
                G_STRUCT_OFFSET (Run, to_first), NULL);
  summary_line (runs, n_runs, "delivery (first -> last line)",
                G_STRUCT_OFFSET (Run, deliver), NULL);
  g_print ("  of the delivery, rdt_payload_decrypt alone: %.1f ms for %u\n",
           dec, b.unread_payloads->len);
  {
    g_autoptr (GArray) v = g_array_new (FALSE, FALSE, sizeof (gdouble));

    for (gint i = 0; i < n_runs; i++)
      g_array_append_val (v, runs[i].total);
    g_print ("  total vs target: %s (median %.0f ms, target 1000 ms)\n",
             median (v) <= TARGET_MS ? "MET" : "MISSED", median (v));
  }

  if (n_pages > 0)
    bench_memory (&b);

  g_ptr_array_unref (b.unread_payloads);
  g_free (b.head);
  g_free (b.marker_hash);
  g_free (b.last_text);
  g_free (b.reader_hex);
  world_core_free (b.poster);
  world_core_free (b.reader);
  world_clear (&b.w);
  rdt_test_server_stop (server);
  purple_core_quit ();
  return 0;
}
