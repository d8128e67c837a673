/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-history.c - rdt_session_load_history() (src/core/session-history.c,
 * spec 4.5) against rdt-test-server: paging back in steps, in order, no
 * duplicates, up to the start of the topic. */
#include "config.h"

#include <string.h>
#include <glib.h>

#include "session.h"
#include "crypto.h"
#include "id.h"
#include "testserver.h"

static RdtTestServer *srv;

typedef struct {
  guint      n_connected, n_opened, n_send_done, n_send_err;
  GPtrArray *texts;     /* every line, live and loaded, as delivered */
  GPtrArray *hashes;
  GArray    *times;
  /* the last load */
  guint      n_loads;
  GPtrArray *loaded;    /* texts of the last load */
  gboolean   at_start;
  GError    *error;
} Fx;

static void
wait_until (Fx *fx, gboolean (*cond) (Fx *))
{
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

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
  Fx *fx = d;

  fx->n_connected += st == RDT_SESSION_CONNECTED;
}

static void
on_opened (RdtSession *s, const gchar *t, const GError *e, gpointer d)
{
  g_assert_no_error (e);
  ((Fx *) d)->n_opened++;
}

static void
on_message (RdtSession *s, const RdtSessionMessage *m, gpointer d)
{
  Fx *fx = d;

  g_ptr_array_add (fx->texts, g_strdup (m->text));
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

static const RdtSessionCallbacks callbacks = {
  on_state, on_opened, on_message, NULL, on_send_done, NULL, NULL
};

static void
on_history (RdtSession *s, const gchar *topic_id, GPtrArray *messages,
            gboolean at_start, const GError *error, gpointer d)
{
  Fx *fx = d;

  fx->n_loads++;
  g_clear_error (&fx->error);
  g_ptr_array_set_size (fx->loaded, 0);
  fx->at_start = at_start;
  if (error)
    {
      g_assert_null (messages);
      fx->error = g_error_copy (error);
      return;
    }
  g_assert_cmpstr (topic_id, ==, "general");
  for (guint i = 0; i < messages->len; i++)
    {
      const RdtSessionMessage *m = g_ptr_array_index (messages, i);

      g_assert_true (m->backlog);
      g_assert_cmpstr (m->topic_id, ==, "general");
      g_assert_cmpint (m->timestamp, >, 0);
      if (i > 0)
        g_assert_cmpint (m->timestamp, >=,
            ((const RdtSessionMessage *) messages->pdata[i - 1])->timestamp);
      g_ptr_array_add (fx->loaded, g_strdup (m->text));
      g_ptr_array_add (fx->texts, g_strdup (m->text));
      g_ptr_array_add (fx->hashes, g_strdup (m->message_hash));
    }
}

static guint want;
static gboolean connected (Fx *fx) { return fx->n_connected >= 1; }
static gboolean opened (Fx *fx) { return fx->n_opened >= 1; }
static gboolean sent (Fx *fx) { return fx->n_send_done >= want; }
static gboolean loaded (Fx *fx) { return fx->n_loads >= want; }

static void
fx_init (Fx *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->texts = g_ptr_array_new_with_free_func (g_free);
  fx->hashes = g_ptr_array_new_with_free_func (g_free);
  fx->loaded = g_ptr_array_new_with_free_func (g_free);
  fx->times = g_array_new (FALSE, FALSE, sizeof (gint64));
}

static void
fx_clear (Fx *fx)
{
  g_ptr_array_unref (fx->texts);
  g_ptr_array_unref (fx->hashes);
  g_ptr_array_unref (fx->loaded);
  g_array_unref (fx->times);
  g_clear_error (&fx->error);
}

/* pin: a pinned head (as from a previous run) whose time is pin_ts, or
 * NULL. */
static RdtSession *
session_new (RdtSigningKey *key, const guint8 *root, Fx *fx,
             const gchar *pin, gint64 pin_ts)
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
  if (pin)
    rdt_session_set_pinned_head (s, "general", pin, pin_ts);
  rdt_session_open_topic (s, "general", 20);
  wait_until (fx, opened);
  return s;
}

static void
assert_loaded (Fx *fx, guint first, guint last)
{
  g_assert_no_error (fx->error);
  g_assert_cmpuint (fx->loaded->len, ==, last - first + 1);
  for (guint i = first; i <= last; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%03u", i);

      g_assert_cmpstr (g_ptr_array_index (fx->loaded, i - first), ==, t);
    }
}

/* The next load of n older messages in "general": m<first>..m<last>, and
 * whether the start of the topic was reached. */
static void
load_expect (RdtSession *s, Fx *fx, guint n, guint first, guint last,
             gboolean at_start)
{
  want = fx->n_loads + 1;
  rdt_session_load_history (s, "general", n, on_history, fx);
  wait_until (fx, loaded);
  assert_loaded (fx, first, last);
  g_assert_true (fx->at_start == at_start);
}

/* A topic of 120 messages m001..m120 posted by a's session. */
static RdtSession *
post_120 (RdtSigningKey *owner, const guint8 *root, Fx *a)
{
  RdtSession *sa = session_new (owner, root, a, NULL, 0);

  for (guint i = 1; i <= 120; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%03u", i);
      GError *error = NULL;

      g_assert_cmpuint (rdt_session_send_text (sa, "general", t, &error), >,
                        0);
      g_assert_no_error (error);
    }
  want = 120;
  wait_until (a, sent);
  g_assert_cmpuint (a->n_send_err, ==, 0);
  return sa;
}

static gboolean all_seen (Fx *fx) { return fx->hashes->len >= 120; }

/* 120 messages; open with a backlog of 20, then 50 older twice (the
 * second reaches the first message), then nothing more. */
static void
test_history_pages (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  GHashTable *seen;
  RdtSession *sa, *sb;
  Fx a, b;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  fx_init (&b);
  sa = post_120 (owner, root, &a);
  sb = session_new (owner, root, &b, NULL, 0);
  g_assert_cmpuint (b.texts->len, ==, 20);
  g_assert_cmpstr (g_ptr_array_index (b.texts, 0), ==, "m101");

  load_expect (sb, &b, 50, 51, 100, FALSE);

  load_expect (sb, &b, 50, 1, 50, TRUE);

  load_expect (sb, &b, 50, 1, 0, TRUE);

  /* Each of the 120 exactly once, live or loaded. */
  g_assert_cmpuint (b.hashes->len, ==, 120);
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < b.hashes->len; i++)
    g_assert_true (g_hash_table_add (seen, b.hashes->pdata[i]));
  g_hash_table_unref (seen);

  /* A topic that is not open: an error, at once. */
  want = 4;
  rdt_session_load_history (sb, "other", 10, on_history, &b);
  g_assert_cmpuint (b.n_loads, ==, 4);
  g_assert_nonnull (b.error);

  rdt_session_free (sb);
  rdt_session_free (sa);
  fx_clear (&a);
  fx_clear (&b);
}

/* The pinned head of a previous run is older than the backlog: the pin
 * check pages back to it without showing those messages; /history still
 * shows them, the newest first, and reaches the start afterwards. */
static void
test_history_after_pin (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  RdtSession *sa, *sb;
  Fx a, b;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  fx_init (&b);
  sa = post_120 (owner, root, &a);
  wait_until (&a, all_seen);
  sb = session_new (owner, root, &b, g_ptr_array_index (a.hashes, 9),
                    g_array_index (a.times, gint64, 9));
  g_assert_cmpuint (b.texts->len, ==, 20);
  g_assert_cmpstr (g_ptr_array_index (b.texts, 0), ==, "m101");

  load_expect (sb, &b, 50, 51, 100, FALSE);

  load_expect (sb, &b, 60, 1, 50, TRUE);

  rdt_session_free (sb);
  rdt_session_free (sa);
  fx_clear (&a);
  fx_clear (&b);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  srv = rdt_test_server_start (NULL);
  g_test_add_func ("/history/pages", test_history_pages);
  g_test_add_func ("/history/after-pin", test_history_after_pin);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
  return ret;
}
