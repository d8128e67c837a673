/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-unread.c - opening a topic after a read marker
 * (rdt_session_set_read_marker(), src/core/session-topic.c) against
 * rdt-test-server: only the unread messages are shown, in order, then
 * topic_unread, then topic_opened; /history goes on just before them. */
#include "config.h"

#include <string.h>
#include <glib.h>

#include "session.h"
#include "crypto.h"
#include "id.h"
#include "testserver.h"

static RdtTestServer *srv;

typedef struct {
  guint      n_connected, n_opened, n_send_done, n_send_err, n_unread;
  guint      n_warnings;
  GPtrArray *log;       /* "m001", "unread 10 0 0", "opened" in order */
  GPtrArray *hashes;    /* of every message delivered */
  GArray    *times;
  GPtrArray *loaded;    /* texts of the last /history load */
  guint      n_loads;
} Fx;

static guint want;

static void
wait_until (Fx *fx, gboolean (*cond) (Fx *))
{
  gint64 end = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  while (!cond (fx))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
on_state (RdtSession *s, RdtSessionState st, const GError *e, gboolean fatal,
          gpointer d)
{
  ((Fx *) d)->n_connected += st == RDT_SESSION_CONNECTED;
}

static void
on_opened (RdtSession *s, const gchar *t, const GError *e, gpointer d)
{
  Fx *fx = d;

  g_assert_no_error (e);
  fx->n_opened++;
  g_ptr_array_add (fx->log, g_strdup ("opened"));
}

static void
on_message (RdtSession *s, const RdtSessionMessage *m, gpointer d)
{
  Fx *fx = d;

  if (g_strcmp0 (m->topic_id, "general") != 0)
    return;
  g_ptr_array_add (fx->log, g_strdup (m->text));
  g_ptr_array_add (fx->hashes, g_strdup (m->message_hash));
  g_array_append_val (fx->times, m->timestamp);
}

static void
on_send_done (RdtSession *s, const gchar *t, guint64 id, const GError *e,
              gpointer d)
{
  Fx *fx = d;

  fx->n_send_done++;
  fx->n_send_err += e != NULL;
}

static void
on_warning (RdtSession *s, const gchar *topic_id, RdtWarningKind kind,
            const gchar *text, gpointer d)
{
  g_test_message ("warning: %s", text);
  ((Fx *) d)->n_warnings++;
}

static void
on_unread (RdtSession *s, const gchar *topic_id, const RdtSessionUnread *u,
           gpointer d)
{
  Fx *fx = d;

  g_assert_cmpstr (topic_id, ==, "general");
  fx->n_unread++;
  g_ptr_array_add (fx->log, g_strdup_printf ("unread %u %d %d", u->n_shown,
                                             u->more, u->found));
}

static const RdtSessionCallbacks callbacks = {
  .state_changed = on_state,
  .topic_opened = on_opened,
  .message = on_message,
  .warning = on_warning,
  .send_done = on_send_done,
  .topic_unread = on_unread,
};

static void
on_history (RdtSession *s, const gchar *topic_id, GPtrArray *messages,
            gboolean at_start, const GError *error, gpointer d)
{
  Fx *fx = d;

  g_assert_no_error (error);
  fx->n_loads++;
  g_ptr_array_set_size (fx->loaded, 0);
  for (guint i = 0; i < messages->len; i++)
    {
      const RdtSessionMessage *m = g_ptr_array_index (messages, i);

      g_ptr_array_add (fx->loaded, g_strdup (m->text));
      g_ptr_array_add (fx->hashes, g_strdup (m->message_hash));
    }
}

static gboolean connected (Fx *fx) { return fx->n_connected >= 1; }
static gboolean opened (Fx *fx) { return fx->n_opened >= 1; }
static gboolean sent (Fx *fx) { return fx->n_send_done >= want; }
static gboolean seen (Fx *fx) { return fx->hashes->len >= want; }
static gboolean loaded (Fx *fx) { return fx->n_loads >= 1; }

static void
fx_init (Fx *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->log = g_ptr_array_new_with_free_func (g_free);
  fx->hashes = g_ptr_array_new_with_free_func (g_free);
  fx->loaded = g_ptr_array_new_with_free_func (g_free);
  fx->times = g_array_new (FALSE, FALSE, sizeof (gint64));
}

static void
fx_clear (Fx *fx)
{
  g_ptr_array_unref (fx->log);
  g_ptr_array_unref (fx->hashes);
  g_ptr_array_unref (fx->loaded);
  g_array_unref (fx->times);
}

static RdtSession *
connect_new (RdtSigningKey *key, const guint8 *root, Fx *fx)
{
  g_autofree gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  GError *error = NULL;
  RdtSession *s = rdt_session_new_for_key (rdt_test_server_get_url (srv),
                                           space, key, root, &error);

  g_assert_no_error (error);
  rdt_session_set_callbacks (s, &callbacks, fx);
  rdt_session_set_poll_intervals (s, 200, 100);
  rdt_session_connect (s);
  wait_until (fx, connected);
  return s;
}

/* A session showing "general" after the marker (NULL: none), backlog 20. */
static RdtSession *
open_after (RdtSigningKey *key, const guint8 *root, Fx *fx,
            const gchar *marker, gint64 marker_ts, guint max_unread)
{
  RdtSession *s = connect_new (key, root, fx);

  if (marker)
    rdt_session_set_read_marker (s, "general", marker, marker_ts, max_unread);
  rdt_session_open_topic (s, "general", 20);
  wait_until (fx, opened);
  return s;
}

/* n messages m0001.. in "general", posted by a's session (which sees them
 * all: a->hashes and a->times are indexed by message number - 1). */
static RdtSession *
post_n (RdtSigningKey *owner, const guint8 *root, Fx *a, guint n)
{
  RdtSession *sa = connect_new (owner, root, a);

  rdt_session_open_topic (sa, "general", 20);
  wait_until (a, opened);
  for (guint i = 1; i <= n; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%04u", i);
      GError *error = NULL;

      g_assert_cmpuint (rdt_session_send_text (sa, "general", t, &error), >,
                        0);
      g_assert_no_error (error);
    }
  want = n;
  wait_until (a, sent);
  g_assert_cmpuint (a->n_send_err, ==, 0);
  wait_until (a, seen);
  return sa;
}

/* The log: messages m<first>..m<last> (none if last < first), then the
 * given unread line (or none), then "opened". */
static void
assert_log (Fx *fx, guint first, guint last, const gchar *unread)
{
  guint n = last >= first ? last - first + 1 : 0;
  guint i;

  g_assert_cmpuint (fx->log->len, ==, n + (unread ? 1 : 0) + 1);
  for (i = 0; i < n; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%04u", first + i);

      g_assert_cmpstr (g_ptr_array_index (fx->log, i), ==, t);
    }
  if (unread)
    g_assert_cmpstr (g_ptr_array_index (fx->log, i++), ==, unread);
  g_assert_cmpstr (g_ptr_array_index (fx->log, i), ==, "opened");
  g_assert_cmpuint (fx->n_unread, ==, unread ? 1 : 0);
}

/* /history n must give m<first>..m<last>, and no hash twice so far. */
static void
assert_history (RdtSession *s, Fx *fx, guint n, guint first, guint last)
{
  GHashTable *dup = g_hash_table_new (g_str_hash, g_str_equal);

  rdt_session_load_history (s, "general", n, on_history, fx);
  wait_until (fx, loaded);
  g_assert_cmpuint (fx->loaded->len, ==, last - first + 1);
  for (guint i = first; i <= last; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%04u", i);

      g_assert_cmpstr (g_ptr_array_index (fx->loaded, i - first), ==, t);
    }
  for (guint i = 0; i < fx->hashes->len; i++)
    g_assert_true (g_hash_table_add (dup, fx->hashes->pdata[i]));
  g_hash_table_unref (dup);
}

#define HASH(fx, n) ((const gchar *) g_ptr_array_index ((fx)->hashes, (n) - 1))
#define TIME(fx, n) (g_array_index ((fx)->times, gint64, (n) - 1))

/* 30 messages: a marker in the middle, at the head, unknown, none. */
static void
test_unread_small (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  g_autofree gchar *foreign = NULL;
  RdtSession *sa, *sb;
  Fx a, b;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  sa = post_n (owner, root, &a, 30);

  /* After m0020: exactly m0021..m0030, then /history goes on below. */
  fx_init (&b);
  sb = open_after (owner, root, &b, HASH (&a, 20), TIME (&a, 20), 50);
  assert_log (&b, 21, 30, "unread 10 0 0");
  assert_history (sb, &b, 5, 16, 20);
  rdt_session_free (sb);
  fx_clear (&b);

  /* At the head: nothing new. */
  fx_init (&b);
  sb = open_after (owner, root, &b, HASH (&a, 30), TIME (&a, 30), 50);
  assert_log (&b, 1, 0, "unread 0 0 0");
  assert_history (sb, &b, 3, 28, 30);
  rdt_session_free (sb);
  fx_clear (&b);

  /* A hash that is not in this topic: the newest backlog page. */
  foreign = g_strdup (HASH (&a, 1));
  foreign[10] = foreign[10] == 'A' ? 'B' : 'A';
  fx_init (&b);
  sb = open_after (owner, root, &b, foreign, TIME (&a, 10), 50);
  assert_log (&b, 11, 30, "unread 20 0 1");
  rdt_session_free (sb);
  fx_clear (&b);

  /* No marker: no topic_unread. */
  fx_init (&b);
  sb = open_after (owner, root, &b, NULL, 0, 0);
  assert_log (&b, 11, 30, NULL);
  rdt_session_free (sb);
  fx_clear (&b);

  rdt_session_free (sa);
  fx_clear (&a);
}

/* With a pinned head older than the unread ones: the pin check pages
 * back and finds it (no warning), the marker still decides what is shown,
 * and /history goes on right below it. */
static void
test_unread_with_pin (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  RdtSession *sa, *sb;
  Fx a, b;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  sa = post_n (owner, root, &a, 30);
  fx_init (&b);
  sb = connect_new (owner, root, &b);
  rdt_session_set_pinned_head (sb, "general", HASH (&a, 5), TIME (&a, 5));
  rdt_session_set_read_marker (sb, "general", HASH (&a, 20), TIME (&a, 20),
                               10);
  rdt_session_open_topic (sb, "general", 20);
  wait_until (&b, opened);
  assert_log (&b, 21, 30, "unread 10 0 0");
  g_assert_cmpuint (b.n_warnings, ==, 0);
  assert_history (sb, &b, 5, 16, 20);
  rdt_session_free (sb);
  fx_clear (&b);
  rdt_session_free (sa);
  fx_clear (&a);
}

/* 1600 messages, the marker at m0100: 1500 unread, at most 1000 shown
 * (the newest), found on the second page. */
static void
test_unread_beyond (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  RdtSession *sa, *sb;
  Fx a, b;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  sa = post_n (owner, root, &a, 1600);
  fx_init (&b);
  sb = open_after (owner, root, &b, HASH (&a, 100), TIME (&a, 100), 1000);
  assert_log (&b, 601, 1600, "unread 1000 1 2");
  assert_history (sb, &b, 10, 591, 600);
  rdt_session_free (sb);
  fx_clear (&b);
  rdt_session_free (sa);
  fx_clear (&a);
}

/* Opened for a marker still being looked up: sends queue at once, no
 * history comes until the marker (here: none, then one) is given, and a
 * message posted meanwhile (on the stream before the opening) is shown
 * once the topic is open. */
static gboolean sent_one (Fx *fx) { return fx->n_send_done >= 1; }

static void
test_waiting_for_marker (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  RdtSession *sa, *sb;
  GError *error = NULL;
  Fx a, b;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  sa = post_n (owner, root, &a, 5);

  /* marker after m0003; a send typed before it is known waits */
  fx_init (&b);
  sb = connect_new (owner, root, &b);
  rdt_session_open_topic_for_marker (sb, "general", 20);
  g_assert_cmpuint (rdt_session_send_text (sb, "general", "m0006", &error), >,
                    0);
  g_assert_no_error (error);
  /* posted by the other session while b waits: b's stream sees it first */
  g_assert_cmpuint (rdt_session_send_text (sa, "general", "m0007", &error), >,
                    0);
  g_assert_no_error (error);
  want = 6;   /* m0001..m0005 and m0007: b's m0006 waits */
  wait_until (&a, seen);
  g_assert_cmpuint (b.log->len, ==, 0);
  g_assert_cmpuint (b.n_send_done, ==, 0);
  rdt_session_set_read_marker (sb, "general", HASH (&a, 3), TIME (&a, 3), 50);
  wait_until (&b, opened);
  wait_until (&b, sent_one);
  g_assert_cmpuint (b.n_send_err, ==, 0);
  want = 4;   /* m0004, m0005, m0007 and its own m0006 after them */
  wait_until (&b, seen);
  g_assert_cmpstr (g_ptr_array_index (b.log, 0), ==, "m0004");
  g_assert_cmpstr (g_ptr_array_index (b.log, 1), ==, "m0005");
  g_assert_cmpstr (g_ptr_array_index (b.log, 2), ==, "m0007");
  rdt_session_free (sb);
  fx_clear (&b);

  /* none: the newest page, as without a marker */
  fx_init (&b);
  sb = connect_new (owner, root, &b);
  rdt_session_open_topic_for_marker (sb, "general", 20);
  rdt_session_set_read_marker (sb, "general", NULL, 0, 0);
  wait_until (&b, opened);
  g_assert_cmpuint (b.n_unread, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (b.log, 0), ==, "m0001");
  rdt_session_free (sb);
  fx_clear (&b);

  rdt_session_free (sa);
  fx_clear (&a);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  srv = rdt_test_server_start (NULL);
  g_test_add_func ("/unread/small", test_unread_small);
  g_test_add_func ("/unread/with-pin", test_unread_with_pin);
  g_test_add_func ("/unread/beyond", test_unread_beyond);
  g_test_add_func ("/unread/waiting-for-marker", test_waiting_for_marker);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
  return ret;
}
