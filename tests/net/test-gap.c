/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-gap.c - a message the list endpoint leaves out (test server fault
 * "omit") is fetched by hash and the gap fills (src/core/session-live.c,
 * spec 4.5, 4.7); a walk that fails (404, bad signature) is reported with
 * its reason. */
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
  GPtrArray *texts;
  GPtrArray *hashes;
  GPtrArray *warnings;
} Fx;

static guint want;

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
  ((Fx *) d)->n_connected += st == RDT_SESSION_CONNECTED;
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
}

static void
on_warning (RdtSession *s, const gchar *topic_id, RdtWarningKind kind,
            const gchar *text, gpointer d)
{
  Fx *fx = d;

  g_assert_cmpint (kind, ==, RDT_WARNING_CHAIN_BROKEN);
  g_ptr_array_add (fx->warnings, g_strdup (text));
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
  .state_changed = on_state,
  .topic_opened = on_opened,
  .message = on_message,
  .warning = on_warning,
  .send_done = on_send_done,
};

static gboolean connected (Fx *fx) { return fx->n_connected >= 1; }
static gboolean opened (Fx *fx) { return fx->n_opened >= 1; }
static gboolean sent (Fx *fx) { return fx->n_send_done >= want; }
static gboolean seen (Fx *fx) { return fx->hashes->len >= want; }
static gboolean warned (Fx *fx) { return fx->warnings->len >= 1; }

static void
fx_init (Fx *fx)
{
  memset (fx, 0, sizeof *fx);
  fx->texts = g_ptr_array_new_with_free_func (g_free);
  fx->hashes = g_ptr_array_new_with_free_func (g_free);
  fx->warnings = g_ptr_array_new_with_free_func (g_free);
}

static void
fx_clear (Fx *fx)
{
  g_ptr_array_unref (fx->texts);
  g_ptr_array_unref (fx->hashes);
  g_ptr_array_unref (fx->warnings);
}

static RdtSession *
open_general (RdtSigningKey *key, const guint8 *root, Fx *fx,
              gboolean stream)
{
  g_autofree gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  GError *error = NULL;
  RdtSession *s = rdt_session_new_for_key (rdt_test_server_get_url (srv),
                                           space, key, root, &error);

  g_assert_no_error (error);
  rdt_session_set_callbacks (s, &callbacks, fx);
  rdt_session_set_use_stream (s, stream);
  /* Without the stream only the polls bring news: none until the test
   * asks for one. */
  rdt_session_set_poll_intervals (s, 600000, 600000);
  rdt_session_connect (s);
  wait_until (fx, connected);
  rdt_session_open_topic (s, "general", 20);
  wait_until (fx, opened);
  return s;
}

static void
post (RdtSession *s, Fx *fx, const gchar *text)
{
  GError *error = NULL;

  g_assert_cmpuint (rdt_session_send_text (s, "general", text, &error), >, 0);
  g_assert_no_error (error);
  want = fx->n_send_done + 1;
  wait_until (fx, sent);
  g_assert_cmpuint (fx->n_send_err, ==, 0);
}

/* a posts m1; b shows it; a posts m2..m4; the lists leave m3 out (and
 * by_hash, the JSON fields of a fault for the GET of m3 by hash, may be
 * NULL); b polls. */
static void
run_gap (const gchar *by_hash, Fx *b)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  g_autofree gchar *omit = NULL;
  RdtSession *sa, *sb;
  Fx a;

  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  sa = open_general (owner, root, &a, TRUE);
  post (sa, &a, "m1");
  want = 1;
  wait_until (&a, seen);
  sb = open_general (owner, root, b, FALSE);
  g_assert_cmpuint (b->texts->len, ==, 1);
  post (sa, &a, "m2");
  post (sa, &a, "m3");
  post (sa, &a, "m4");
  want = 4;
  wait_until (&a, seen);

  if (by_hash)
    {
      g_autofree gchar *f = g_strdup_printf ("{\"path\": \"%s\", %s}",
                                             (gchar *) a.hashes->pdata[2],
                                             by_hash);
      rdt_test_server_fault (srv, f);
    }
  omit = g_strdup_printf ("{\"action\": \"tamper\", \"mode\": \"omit\", "
                          "\"hash\": \"%s\", \"path\": \"/messages\", "
                          "\"method\": \"GET\"}",
                          (gchar *) a.hashes->pdata[2]);
  rdt_test_server_fault (srv, omit);
  rdt_session_set_poll_intervals (sb, 100, 100);
  if (by_hash)
    wait_until (b, warned);
  else
    {
      want = 4;
      wait_until (b, seen);
    }
  rdt_session_set_poll_intervals (sb, 600000, 600000);
  rdt_test_server_clear_faults (srv);
  rdt_session_free (sb);
  rdt_session_free (sa);
  fx_clear (&a);
}

static void
test_gap_filled (void)
{
  Fx b;

  if (!rdt_test_server_require_local (srv, "the omit fault"))
    return;
  fx_init (&b);
  run_gap (NULL, &b);
  g_assert_cmpuint (b.texts->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%u", i + 1);

      g_assert_cmpstr (b.texts->pdata[i], ==, t);
    }
  g_assert_cmpuint (b.warnings->len, ==, 0);
  fx_clear (&b);
}

/* The walk fails: the warning says why; m3 and m4 stay hidden. */
static void
test_gap_not_found (void)
{
  Fx b;

  if (!rdt_test_server_require_local (srv, "the omit and status faults"))
    return;
  fx_init (&b);
  run_gap ("\"action\": \"status\", \"status\": 404", &b);
  g_assert_cmpuint (b.texts->len, ==, 2);
  g_assert_cmpuint (b.warnings->len, ==, 1);
  g_assert_nonnull (strstr (b.warnings->pdata[0], "does not have"));
  fx_clear (&b);
}

static void
test_gap_forged (void)
{
  Fx b;

  if (!rdt_test_server_require_local (srv, "the omit and tamper faults"))
    return;
  fx_init (&b);
  run_gap ("\"action\": \"tamper\", \"mode\": \"signature\"", &b);
  g_assert_cmpuint (b.texts->len, ==, 2);
  g_assert_cmpuint (b.warnings->len, ==, 1);
  g_assert_nonnull (strstr (b.warnings->pdata[0], "failed verification"));
  fx_clear (&b);
}

/* The hole is in the first page b loads: filled (from below the oldest
 * message it could link) before anything is shown, so all in order. */
static void
test_gap_first_page (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  guint8 root[RDT_KEY_LENGTH];
  g_autofree gchar *omit = NULL;
  RdtSession *sa, *sb;
  Fx a, b;

  if (!rdt_test_server_require_local (srv, "the omit fault"))
    return;
  rdt_random_bytes (root, sizeof root);
  fx_init (&a);
  fx_init (&b);
  sa = open_general (owner, root, &a, TRUE);
  for (guint i = 1; i <= 5; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%u", i);
      post (sa, &a, t);
    }
  want = 5;
  wait_until (&a, seen);
  omit = g_strdup_printf ("{\"action\": \"tamper\", \"mode\": \"omit\", "
                          "\"hash\": \"%s\", \"path\": \"/messages\", "
                          "\"method\": \"GET\"}",
                          (gchar *) a.hashes->pdata[2]);
  rdt_test_server_fault (srv, omit);
  sb = open_general (owner, root, &b, FALSE);
  g_assert_cmpuint (b.texts->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree gchar *t = g_strdup_printf ("m%u", i + 1);

      g_assert_cmpstr (b.texts->pdata[i], ==, t);
    }
  g_assert_cmpuint (b.warnings->len, ==, 0);
  rdt_test_server_clear_faults (srv);
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
  g_test_add_func ("/gap/filled", test_gap_filled);
  g_test_add_func ("/gap/not-found", test_gap_not_found);
  g_test_add_func ("/gap/forged", test_gap_forged);
  g_test_add_func ("/gap/first-page", test_gap_first_page);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
  return ret;
}
