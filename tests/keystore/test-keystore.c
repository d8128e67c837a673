/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-keystore.c - the keystore against a real Secret Service.
 *
 * Run through run.sh, which gives it a private session bus with its own
 * gnome-keyring-daemon; RDT_KEYSTORE_TEST_MODE says which one:
 *   unlocked    store, look up and clear in an unlocked keyring
 *   seed        (run.sh's preparation of "locked": a key in the keyring)
 *   locked      a locked keyring and no prompter: one clear LOCKED error
 *   no-service  no session bus at all: NO_SERVICE, at once
 */
#include "config.h"

#include <string.h>
#include <glib.h>

#include "keystore.h"

#define PROTOCOL "prpl-reeeductio"
#define SPACE    "Sxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
/* Waits for an answer at most this long; the answer itself is expected
 * much sooner (each test says how soon where that matters). */
#define WAIT_S   30

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} Wait;

static void
got_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->result = g_object_ref (result);
  g_main_loop_quit (wait->loop);
}

static gboolean
wait_timed_out (gpointer user_data)
{
  g_error ("no answer from the keystore within %d s", WAIT_S);
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until the pending call answers; returns its result. */
static GAsyncResult *
wait_result (Wait *wait)
{
  guint id = g_timeout_add_seconds (WAIT_S, wait_timed_out, NULL);

  g_main_loop_run (wait->loop);
  g_source_remove (id);
  g_assert_nonnull (wait->result);
  return g_steal_pointer (&wait->result);
}

static Wait *
wait_new (void)
{
  Wait *wait = g_new0 (Wait, 1);

  wait->loop = g_main_loop_new (NULL, FALSE);
  return wait;
}

static void
wait_free (Wait *wait)
{
  g_main_loop_unref (wait->loop);
  g_free (wait);
}

static gboolean
probe (GError **error)
{
  Wait *wait = wait_new ();
  GAsyncResult *result;
  gboolean ok;

  rdt_keystore_probe_async (NULL, got_result, wait);
  result = wait_result (wait);
  ok = rdt_keystore_probe_finish (result, error);
  g_object_unref (result);
  wait_free (wait);
  return ok;
}

static gboolean
store (const gchar *account, RdtKeystoreKind kind, const guint8 key[32],
       GError **error)
{
  Wait *wait = wait_new ();
  GAsyncResult *result;
  gboolean ok;

  rdt_keystore_store_async (PROTOCOL, account, SPACE, kind, key, NULL,
                            got_result, wait);
  result = wait_result (wait);
  ok = rdt_keystore_store_finish (result, error);
  g_object_unref (result);
  wait_free (wait);
  return ok;
}

static gboolean
lookup (const gchar *account, RdtKeystoreKind kind, guint8 out[32],
        GError **error)
{
  Wait *wait = wait_new ();
  GAsyncResult *result;
  gboolean ok;

  rdt_keystore_lookup_async (PROTOCOL, account, SPACE, kind, NULL,
                             got_result, wait);
  result = wait_result (wait);
  ok = rdt_keystore_lookup_finish (result, out, error);
  g_object_unref (result);
  wait_free (wait);
  return ok;
}

static gboolean
clear (const gchar *account, RdtKeystoreKind kind, GError **error)
{
  Wait *wait = wait_new ();
  GAsyncResult *result;
  gboolean ok;

  rdt_keystore_clear_async (PROTOCOL, account, SPACE, kind, NULL,
                            got_result, wait);
  result = wait_result (wait);
  ok = rdt_keystore_clear_finish (result, error);
  g_object_unref (result);
  wait_free (wait);
  return ok;
}

static void
fill_key (guint8 key[32], guint8 tag)
{
  for (guint i = 0; i < 32; i++)
    key[i] = (guint8) (tag * 37 + i * 11);
}

/* ------------------------------------------------------------------ */
/* An unlocked keyring */

static void
test_probe (void)
{
  GError *error = NULL;

  g_assert_true (probe (&error));
  g_assert_no_error (error);
}

static void
test_roundtrip (void)
{
  const gchar *accounts[] = { "alice@localhost", "bob@localhost" };
  const RdtKeystoreKind kinds[] = { RDT_KEYSTORE_SEED, RDT_KEYSTORE_ROOT };
  guint8 key[32], got[32];
  GError *error = NULL;

  /* Four different keys: two accounts, two kinds each. */
  for (guint a = 0; a < 2; a++)
    for (guint k = 0; k < 2; k++)
      {
        fill_key (key, (guint8) (a * 2 + k + 1));
        g_assert_true (store (accounts[a], kinds[k], key, &error));
        g_assert_no_error (error);
      }
  /* Storing again replaces, it does not add a second item. */
  fill_key (key, 9);
  g_assert_true (store (accounts[0], RDT_KEYSTORE_SEED, key, &error));
  g_assert_no_error (error);
  memset (got, 0, sizeof got);
  g_assert_true (lookup (accounts[0], RDT_KEYSTORE_SEED, got, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got, 32, key, 32);
  fill_key (key, 1);
  g_assert_true (store (accounts[0], RDT_KEYSTORE_SEED, key, &error));
  g_assert_no_error (error);

  /* Each lookup gets its own key, not the other account's or kind's. */
  for (guint a = 0; a < 2; a++)
    for (guint k = 0; k < 2; k++)
      {
        fill_key (key, (guint8) (a * 2 + k + 1));
        memset (got, 0, sizeof got);
        g_assert_true (lookup (accounts[a], kinds[k], got, &error));
        g_assert_no_error (error);
        g_assert_cmpmem (got, 32, key, 32);
      }

  /* Cleared: gone for that account and kind only. */
  g_assert_true (clear (accounts[0], RDT_KEYSTORE_SEED, &error));
  g_assert_no_error (error);
  memset (got, 0xAA, sizeof got);
  g_assert_false (lookup (accounts[0], RDT_KEYSTORE_SEED, got, &error));
  g_assert_error (error, RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  for (guint i = 0; i < 32; i++)
    g_assert_cmpuint (got[i], ==, 0xAA);
  fill_key (key, 2);
  g_assert_true (lookup (accounts[0], RDT_KEYSTORE_ROOT, got, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got, 32, key, 32);
  fill_key (key, 3);
  g_assert_true (lookup (accounts[1], RDT_KEYSTORE_SEED, got, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (got, 32, key, 32);

  for (guint a = 0; a < 2; a++)
    for (guint k = 0; k < 2; k++)
      {
        g_assert_true (clear (accounts[a], kinds[k], &error));
        g_assert_no_error (error);
        g_assert_false (lookup (accounts[a], kinds[k], got, &error));
        g_assert_error (error, RDT_KEYSTORE_ERROR,
                        RDT_KEYSTORE_ERROR_NOT_FOUND);
        g_clear_error (&error);
      }
}

static void
test_clear_nothing (void)
{
  GError *error = NULL;

  g_assert_true (clear ("nobody@localhost", RDT_KEYSTORE_ROOT, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------ */
/* A locked keyring, no way to unlock it */

static void
test_seed (void)
{
  guint8 key[32];
  GError *error = NULL;

  fill_key (key, 7);
  g_assert_true (store ("bob@localhost", RDT_KEYSTORE_ROOT, key, &error));
  g_assert_no_error (error);
}

static void
test_locked (void)
{
  guint8 key[32];
  GError *error = NULL;
  gint64 start;

  /* The service is there ... */
  g_assert_true (probe (&error));
  g_assert_no_error (error);

  /* ... but storing needs an unlock prompt, which cannot be shown. */
  fill_key (key, 5);
  start = g_get_monotonic_time ();
  g_assert_false (store ("alice@localhost", RDT_KEYSTORE_SEED, key, &error));
  g_assert_error (error, RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_LOCKED);
  g_assert_nonnull (strstr (error->message, "locked"));
  g_test_message ("store: %s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);

  /* Not asserted yet: a lookup here answers NOT_FOUND, as gnome-keyring
   * returns no match for the key stored in the locked keyring. */
}

/* ------------------------------------------------------------------ */
/* No session bus */

static void
test_no_service (void)
{
  guint8 key[32];
  GError *error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_false (probe (&error));
  g_assert_error (error, RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_NO_SERVICE);
  g_test_message ("probe: %s", error->message);
  g_clear_error (&error);

  fill_key (key, 6);
  g_assert_false (store ("alice@localhost", RDT_KEYSTORE_SEED, key, &error));
  g_assert_error (error, RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_NO_SERVICE);
  g_test_message ("store: %s", error->message);
  g_clear_error (&error);

  /* No bus means no waiting: well under the probe's own timeout. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
}

int
main (int argc, char **argv)
{
  const gchar *mode = g_getenv ("RDT_KEYSTORE_TEST_MODE");

  g_test_init (&argc, &argv, NULL);
  if (g_strcmp0 (mode, "unlocked") == 0)
    {
      g_test_add_func ("/keystore/probe", test_probe);
      g_test_add_func ("/keystore/roundtrip", test_roundtrip);
      g_test_add_func ("/keystore/clear-nothing", test_clear_nothing);
    }
  else if (g_strcmp0 (mode, "seed") == 0)
    g_test_add_func ("/keystore/seed", test_seed);
  else if (g_strcmp0 (mode, "locked") == 0)
    g_test_add_func ("/keystore/locked", test_locked);
  else if (g_strcmp0 (mode, "no-service") == 0)
    g_test_add_func ("/keystore/no-service", test_no_service);
  else
    {
      g_printerr ("test-keystore: run it through tests/keystore/run.sh "
                  "(RDT_KEYSTORE_TEST_MODE unlocked, locked or no-service)\n");
      return 2;
    }
  return g_test_run ();
}
