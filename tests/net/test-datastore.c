/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-datastore.c - the data (KV) store client (src/core/api-data.c,
 * spec 11) against the test server: signed puts, strict gets, checking
 * who signed an entry, local path checks, the server's refusals, delete. */
#include "config.h"

#include "datastore-fixture.h"

static void
test_put_get (void)
{
  Space s = { 0 };
  g_autoptr (RdtDataEntry) e = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *value = g_base64_encode ((const guchar *) "here", 4);
  gint64 before = now_ms (), signed_at = before - 1000, at;

  space_init (&s);
  at = put (&s, s.owner, "presence/alice", value, signed_at, &error);
  g_assert_no_error (error);
  /* the server's clock, not ours */
  g_assert_cmpint (at, >=, before);
  e = get (&s, s.owner, "presence/alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (e->data, ==, value);
  g_assert_cmpstr (e->signed_by, ==, s.owner_id);
  g_assert_cmpint (e->signed_at, ==, signed_at);
  g_assert_true (rdt_data_entry_verify (e, s.space, "presence/alice",
                                        s.owner_id, &error));
  g_assert_no_error (error);
  space_clear (&s);
}

static void
test_verify_refuses (void)
{
  Space s = { 0 };
  g_autoptr (RdtDataEntry) e = NULL;
  g_autoptr (RdtSigningKey) other = rdt_signing_key_generate ();
  g_autofree gchar *other_id = rdt_signing_key_get_id (other, RDT_ID_USER);
  g_autofree gchar *value = g_base64_encode ((const guchar *) "v", 1);
  g_autofree gchar *forged = NULL, *orig_sig = NULL;
  g_autofree guint8 *sig = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;

  space_init (&s);
  put (&s, s.owner, "k/one", value, now_ms (), &error);
  g_assert_no_error (error);
  e = get (&s, s.owner, "k/one", &error);
  g_assert_no_error (error);

  /* another signer is expected */
  g_assert_false (rdt_data_entry_verify (e, s.space, "k/one", other_id,
                                         &error));
  expect_error (&error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE);
  /* same entry read as if from another path or space */
  g_assert_false (rdt_data_entry_verify (e, s.space, "k/two", s.owner_id,
                                         &error));
  expect_error (&error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE);

  /* a forged signature: one bit flipped */
  orig_sig = g_strdup (e->signature);
  sig = rdt_base64_decode (e->signature, RDT_SIGNATURE_LENGTH, &len, NULL);
  sig[5] ^= 1;
  forged = rdt_base64_encode (sig, len);
  g_free (e->signature);
  e->signature = g_strdup (forged);
  g_assert_false (rdt_data_entry_verify (e, s.space, "k/one", s.owner_id,
                                         &error));
  expect_error (&error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE);
  /* a changed signed_at with the original signature */
  g_free (e->signature);
  e->signature = g_strdup (orig_sig);
  e->signed_at++;
  g_assert_false (rdt_data_entry_verify (e, s.space, "k/one", s.owner_id,
                                         &error));
  expect_error (&error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE);
  e->signed_at--;
  g_assert_true (rdt_data_entry_verify (e, s.space, "k/one", s.owner_id,
                                        &error));
  g_assert_no_error (error);
  space_clear (&s);
}

static void
test_not_found_and_paths (void)
{
  Space s = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtDataEntry) e = NULL;
  const gchar *bad[] = { "", "a//b", "/a", "a/", "../x", "a/../b", "a/./b",
                         "a b", "a%2fb", "a?b", "a#b", "\xc3\xa9" };

  space_init (&s);
  e = get (&s, s.owner, "never/written", &error);
  g_assert_null (e);
  expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (RdtDataEntry) none = get (&s, s.owner, bad[i], &error);

      g_assert_null (none);
      expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
      g_assert_cmpint (put (&s, s.owner, bad[i], "", now_ms (), &error), ==, -1);
      expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
    }
  /* data must be base64 before it is signed */
  g_assert_cmpint (put (&s, s.owner, "k", "not base64", now_ms (), &error),
                   ==, -1);
  expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  space_clear (&s);
}

static void
test_put_refused (void)
{
  Space s = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *value = g_base64_encode ((const guchar *) "v", 1);
  gint64 t = now_ms ();

  space_init (&s);
  put (&s, s.owner, "k", value, t, &error);
  g_assert_no_error (error);
  /* replay: older than the stored entry; the server's reason is kept */
  g_assert_cmpint (put (&s, s.owner, "k", value, t - 10, &error), ==, -1);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_assert_true (rdt_api_data_error_is_replay (error));
  g_clear_error (&error);
  /* clock skew */
  g_assert_cmpint (put (&s, s.owner, "k", value, t + 3600 * 1000, &error),
                   ==, -1);
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID);
  g_assert_false (rdt_api_data_error_is_replay (error));
  g_assert_nonnull (strstr (error->message, "too far"));
  g_clear_error (&error);
  space_clear (&s);
}

static void
test_delete (void)
{
  Space s = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtDataEntry) e = NULL;
  g_autofree gchar *value = g_base64_encode ((const guchar *) "v", 1);

  space_init (&s);
  put (&s, s.owner, "k/del", value, now_ms (), &error);
  g_assert_no_error (error);
  rdt_api_data_delete_async (s.owner, "k/del", NULL, got, &s.w);
  g_assert_true (rdt_api_data_delete_finish (s.owner, run (&s.w), &error));
  g_assert_no_error (error);
  take (&s.w);
  e = get (&s, s.owner, "k/del", &error);
  g_assert_null (e);
  expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_NOT_FOUND);
  /* absent: still fine */
  rdt_api_data_delete_async (s.owner, "k/del", NULL, got, &s.w);
  g_assert_true (rdt_api_data_delete_finish (s.owner, run (&s.w), &error));
  g_assert_no_error (error);
  take (&s.w);
  space_clear (&s);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  server = rdt_test_server_start (NULL);
  g_test_add_func ("/datastore/put-get", test_put_get);
  g_test_add_func ("/datastore/verify-refuses", test_verify_refuses);
  g_test_add_func ("/datastore/not-found-and-paths", test_not_found_and_paths);
  g_test_add_func ("/datastore/put-refused", test_put_refused);
  g_test_add_func ("/datastore/delete", test_delete);
  rc = g_test_run ();
  rdt_test_server_stop (server);
  return rc;
}
