/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-datastore.c - the data (KV) store client (src/core/api-data.c,
 * spec 11) and the read markers kept in it (src/core/readstate.c) against
 * the test server: signed puts, strict gets, verification, permissions,
 * and markers that never move backwards, also with two devices racing. */
#include "config.h"

#include <string.h>

#include "api.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "membership.h"
#include "readstate.h"
#include "statesync.h"
#include "testserver.h"

static RdtTestServer *server;

#define WAIT_TIMEOUT_S 60

static gboolean
wait_timed_out (gpointer data)
{
  g_error ("timed out after %d s waiting for an answer", WAIT_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/* Up to two answers in flight at once (two devices racing). */
typedef struct {
  GMainLoop *loop;
  GAsyncResult *result[2];
  guint want;
} Wait;

static void
got (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;
  guint i = w->result[0] == NULL ? 0 : 1;

  w->result[i] = g_object_ref (result);
  if (--w->want == 0)
    g_main_loop_quit (w->loop);
}

/* Runs the loop until n answers are in; a test that would hang fails. */
static void
run_n (Wait *w, guint n)
{
  guint timeout = g_timeout_add_seconds (WAIT_TIMEOUT_S, wait_timed_out, NULL);

  w->want = n;
  g_main_loop_run (w->loop);
  g_source_remove (timeout);
}

static GAsyncResult *
run (Wait *w)
{
  run_n (w, 1);
  return w->result[0];
}

static void
take (Wait *w)
{
  g_clear_object (&w->result[0]);
  g_clear_object (&w->result[1]);
}

typedef struct {
  RdtSigningKey *owner_key;
  gchar *space;
  gchar *owner_id;
  RdtApi *owner;
  Wait w;
} Space;

static void
space_init (Space *s)
{
  s->owner_key = rdt_signing_key_generate ();
  s->space = rdt_signing_key_get_id (s->owner_key, RDT_ID_SPACE);
  s->owner_id = rdt_signing_key_get_id (s->owner_key, RDT_ID_USER);
  s->owner = rdt_api_new (rdt_test_server_get_url (server), s->space,
                          s->owner_key, RDT_ID_USER, NULL);
  s->w.loop = g_main_loop_new (NULL, FALSE);
}

static void
space_clear (Space *s)
{
  take (&s->w);
  g_object_unref (s->owner);
  rdt_signing_key_free (s->owner_key);
  g_free (s->space);
  g_free (s->owner_id);
  g_main_loop_unref (s->w.loop);
}

/* A member of s; with_caps: the two capabilities read markers need,
 * granted by the owner as state writes (spec 11, 8.2). */
typedef struct {
  RdtSigningKey *key;
  gchar *id;
  guint8 seed[32];
} Member;

static void
member_add (Space *s, Member *m, gboolean with_caps)
{
  g_autoptr (GError) error = NULL;

  m->key = rdt_signing_key_generate ();
  m->id = rdt_signing_key_get_id (m->key, RDT_ID_USER);
  rdt_signing_key_copy_seed (m->key, m->seed);
  rdt_membership_add_member_async (s->owner, m->id, NULL, got, &s->w);
  g_assert_true (rdt_membership_add_member_finish (s->owner, run (&s->w),
                                                   &error));
  g_assert_no_error (error);
  take (&s->w);
  if (with_caps)
    {
      const gchar *w = "{\"op\":\"write\",\"path\":\"data/user/{self}/{...}\"}";
      const gchar *r = "{\"op\":\"read\",\"path\":\"data/data/user/{self}/{...}\"}";
      g_autofree gchar *pw = g_strdup_printf ("auth/users/%s/rights/readstate-w",
                                              m->id);
      g_autofree gchar *pr = g_strdup_printf ("auth/users/%s/rights/readstate-r",
                                              m->id);
      g_autofree gchar *dw = g_base64_encode ((const guchar *) w, strlen (w));
      g_autofree gchar *dr = g_base64_encode ((const guchar *) r, strlen (r));
      const gchar *paths[] = { pw, pr }, *datas[] = { dw, dr };

      rdt_state_write_async (s->owner, paths, datas, 2, NULL, got, &s->w);
      g_assert_true (rdt_state_write_finish (s->owner, run (&s->w), &error));
      g_assert_no_error (error);
      take (&s->w);
    }
}

static void
member_clear (Member *m)
{
  rdt_signing_key_free (m->key);
  g_free (m->id);
  rdt_wipe (m->seed, sizeof m->seed);
}

/* One device of member m: its own RdtApi (own login) and RdtReadState. */
static RdtReadState *
device_new (Space *s, Member *m)
{
  g_autoptr (RdtApi) api = rdt_api_new (rdt_test_server_get_url (server),
                                        s->space, m->key, RDT_ID_USER, NULL);

  return rdt_readstate_new (api, m->seed);
}

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static gint64
put (Space *s, RdtApi *api, const gchar *path, const gchar *data,
     gint64 signed_at, GError **error)
{
  gint64 at;

  rdt_api_data_put_async (api, path, data, signed_at, NULL, got, &s->w);
  at = rdt_api_data_put_finish (api, run (&s->w), error);
  take (&s->w);
  return at;
}

static RdtDataEntry *
get (Space *s, RdtApi *api, const gchar *path, GError **error)
{
  RdtDataEntry *e;

  rdt_api_data_get_async (api, path, NULL, got, &s->w);
  e = rdt_api_data_get_finish (api, run (&s->w), error);
  take (&s->w);
  return e;
}

static RdtReadMarker *
load (Space *s, RdtReadState *rs, const gchar *topic, GError **error)
{
  RdtReadMarker *m;

  rdt_readstate_load_async (rs, topic, NULL, got, &s->w);
  m = rdt_readstate_load_finish (rs, run (&s->w), error);
  take (&s->w);
  return m;
}

static RdtReadMarker *
store (Space *s, RdtReadState *rs, const RdtReadMarker *marker,
       GError **error)
{
  RdtReadMarker *m;

  rdt_readstate_store_async (rs, marker, NULL, got, &s->w);
  m = rdt_readstate_store_finish (rs, run (&s->w), error);
  take (&s->w);
  return m;
}

static RdtReadMarker *
marker (const gchar *topic, guint8 fill, gint64 ts)
{
  guint8 d[32];
  g_autofree gchar *hash = NULL;

  memset (d, fill, sizeof d);
  hash = rdt_id_encode (RDT_ID_MESSAGE, d);
  return rdt_read_marker_new (topic, hash, ts);
}

static void
expect_error (GError **error, GQuark domain, gint code)
{
  g_assert_error (*error, domain, code);
  g_clear_error (error);
}

static void
assert_marker (const RdtReadMarker *got_m, const RdtReadMarker *want)
{
  g_assert_nonnull (got_m);
  g_assert_cmpstr (got_m->topic_id, ==, want->topic_id);
  g_assert_cmpstr (got_m->message_hash, ==, want->message_hash);
  g_assert_cmpint (got_m->timestamp, ==, want->timestamp);
}

/* ------------------------------------------------------------------ */
/* api-data.c */

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

/* ------------------------------------------------------------------ */
/* readstate.c */

static void
test_store_load (void)
{
  Space s = { 0 };
  Member m = { 0 };
  g_autoptr (RdtReadState) rs = NULL, rs2 = NULL;
  g_autoptr (RdtReadMarker) mk = marker ("general", 1, 1000);
  g_autoptr (RdtReadMarker) stored = NULL, loaded = NULL, other = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtDataEntry) e = NULL;
  g_autofree gchar *path = NULL;

  space_init (&s);
  member_add (&s, &m, TRUE);
  rs = device_new (&s, &m);
  /* nothing stored yet: no marker, no error */
  stored = load (&s, rs, "general", &error);
  g_assert_no_error (error);
  g_assert_null (stored);
  stored = store (&s, rs, mk, &error);
  g_assert_no_error (error);
  assert_marker (stored, mk);
  /* another device of the same member reads it */
  rs2 = device_new (&s, &m);
  loaded = load (&s, rs2, "general", &error);
  g_assert_no_error (error);
  assert_marker (loaded, mk);
  /* per topic */
  other = load (&s, rs2, "random", &error);
  g_assert_no_error (error);
  g_assert_null (other);
  /* stored where the convention says, signed by the member, opaque */
  path = rdt_readstate_path (m.id, "general");
  g_assert_true (g_str_has_prefix (path, "data/user/"));
  e = get (&s, s.owner, path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (e->signed_by, ==, m.id);
  g_assert_null (strstr (e->data, mk->message_hash));
  member_clear (&m);
  space_clear (&s);
}

static void
test_store_never_backwards (void)
{
  Space s = { 0 };
  Member m = { 0 };
  g_autoptr (RdtReadState) rs = NULL;
  g_autoptr (RdtReadMarker) newer = marker ("general", 2, 2000);
  g_autoptr (RdtReadMarker) older = marker ("general", 1, 1000);
  g_autoptr (RdtReadMarker) same_ts = marker ("general", 3, 2000);
  g_autoptr (RdtReadMarker) r1 = NULL, r2 = NULL, r3 = NULL, loaded = NULL;
  g_autoptr (GError) error = NULL;

  space_init (&s);
  member_add (&s, &m, TRUE);
  rs = device_new (&s, &m);
  r1 = store (&s, rs, newer, &error);
  g_assert_no_error (error);
  assert_marker (r1, newer);
  /* the older one is not stored; the finish says what is */
  r2 = store (&s, rs, older, &error);
  g_assert_no_error (error);
  assert_marker (r2, newer);
  /* equal time is not newer either */
  r3 = store (&s, rs, same_ts, &error);
  g_assert_no_error (error);
  assert_marker (r3, newer);
  loaded = load (&s, rs, "general", &error);
  g_assert_no_error (error);
  assert_marker (loaded, newer);
  member_clear (&m);
  space_clear (&s);
}

/* Two devices of one member store at once, in both orders and over a few
 * rounds: the newer marker ends up stored every time. */
static void
test_two_devices_race (void)
{
  Space s = { 0 };
  Member m = { 0 };
  g_autoptr (RdtReadState) a = NULL, b = NULL;
  g_autoptr (GError) error = NULL;

  space_init (&s);
  member_add (&s, &m, TRUE);
  a = device_new (&s, &m);
  b = device_new (&s, &m);
  for (guint round = 0; round < 6; round++)
    {
      gint64 base = 1000 * (round + 1);
      g_autoptr (RdtReadMarker) hi = marker ("general", 10 + round, base + 500);
      g_autoptr (RdtReadMarker) lo = marker ("general", 50 + round, base + 100);
      g_autoptr (RdtReadMarker) ra = NULL, rb = NULL, loaded = NULL;
      GAsyncResult *res_hi, *res_lo;

      /* a stores the newer marker, b the older; who starts alternates */
      if (round % 2 == 0)
        {
          rdt_readstate_store_async (a, hi, NULL, got, &s.w);
          rdt_readstate_store_async (b, lo, NULL, got, &s.w);
        }
      else
        {
          rdt_readstate_store_async (b, lo, NULL, got, &s.w);
          rdt_readstate_store_async (a, hi, NULL, got, &s.w);
        }
      run_n (&s.w, 2);
      res_hi = g_task_get_source_object (G_TASK (s.w.result[0])) == (gpointer) a
               ? s.w.result[0] : s.w.result[1];
      res_lo = res_hi == s.w.result[0] ? s.w.result[1] : s.w.result[0];
      ra = rdt_readstate_store_finish (a, res_hi, &error);
      g_assert_no_error (error);
      rb = rdt_readstate_store_finish (b, res_lo, &error);
      g_assert_no_error (error);
      take (&s.w);
      assert_marker (ra, hi);
      /* b's own, or a's newer one if b saw it first */
      g_assert_nonnull (rb);
      g_assert_true (rb->timestamp == lo->timestamp
                     || rb->timestamp == hi->timestamp);
      loaded = load (&s, b, "general", &error);
      g_assert_no_error (error);
      assert_marker (loaded, hi);
    }
  member_clear (&m);
  space_clear (&s);
}

static void
test_forbidden (void)
{
  Space s = { 0 };
  Member m = { 0 }, other = { 0 };
  g_autoptr (RdtReadState) rs = NULL;
  g_autoptr (RdtReadMarker) mk = marker ("general", 1, 1000);
  g_autoptr (RdtReadMarker) r = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autofree gchar *theirs = NULL;
  g_autofree gchar *value = g_base64_encode ((const guchar *) "v", 1);

  space_init (&s);
  member_add (&s, &m, FALSE);
  rs = device_new (&s, &m);
  r = store (&s, rs, mk, &error);
  g_assert_null (r);
  expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN);
  r = load (&s, rs, "general", &error);
  g_assert_null (r);
  expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN);

  /* with the capabilities, still not under another member's key */
  member_add (&s, &other, TRUE);
  api = rdt_api_new (rdt_test_server_get_url (server), s.space, other.key,
                     RDT_ID_USER, NULL);
  theirs = rdt_readstate_path (m.id, "general");
  g_assert_cmpint (put (&s, api, theirs, value, now_ms (), &error), ==, -1);
  expect_error (&error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN);
  member_clear (&other);
  member_clear (&m);
  space_clear (&s);
}

/* A marker under our key written by someone else (the owner may write
 * anywhere) is refused by load and replaced by store. */
static void
test_other_signer (void)
{
  Space s = { 0 };
  Member m = { 0 };
  g_autoptr (RdtReadState) rs = NULL;
  g_autoptr (RdtReadMarker) fake = marker ("general", 7, 9999);
  g_autoptr (RdtReadMarker) mine = marker ("general", 1, 1000);
  g_autoptr (RdtReadMarker) r = NULL, loaded = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = NULL, *value = NULL, *moved = NULL;
  guint8 key[32];

  space_init (&s);
  member_add (&s, &m, TRUE);
  rs = device_new (&s, &m);
  path = rdt_readstate_path (m.id, "general");
  /* even encrypted with the member's own key */
  rdt_readstate_derive_key (m.seed, s.space, key);
  value = rdt_read_marker_encode (key, fake);
  rdt_wipe (key, sizeof key);
  /* signed ahead of our clock: our put must sign later still (spec 11
   * refuses an older signed_at as a replay) */
  put (&s, s.owner, path, value, now_ms () + 30000, &error);
  g_assert_no_error (error);
  r = load (&s, rs, "general", &error);
  g_assert_null (r);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE);
  g_assert_nonnull (strstr (error->message, "is not valid"));
  g_clear_error (&error);

  /* an older marker of ours replaces it: the forged one counts for nothing */
  r = store (&s, rs, mine, &error);
  g_assert_no_error (error);
  assert_marker (r, mine);
  loaded = load (&s, rs, "general", &error);
  g_assert_no_error (error);
  assert_marker (loaded, mine);
  g_clear_pointer (&loaded, rdt_read_marker_free);

  /* our own marker copied under another topic's key is refused there */
  {
    g_autoptr (RdtDataEntry) e = get (&s, s.owner, path, &error);
    g_autofree gchar *random_path = rdt_readstate_path (m.id, "random");
    g_autoptr (RdtApi) mapi = rdt_api_new (rdt_test_server_get_url (server),
                                           s.space, m.key, RDT_ID_USER, NULL);

    g_assert_no_error (error);
    put (&s, mapi, random_path, e->data, now_ms (), &error);
    g_assert_no_error (error);
    loaded = load (&s, rs, "random", &error);
    g_assert_null (loaded);
    expect_error (&error, RDT_ERROR, RDT_ERROR_MALFORMED);
  }
  member_clear (&m);
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
  g_test_add_func ("/readstate/store-load", test_store_load);
  g_test_add_func ("/readstate/never-backwards", test_store_never_backwards);
  g_test_add_func ("/readstate/two-devices-race", test_two_devices_race);
  g_test_add_func ("/readstate/forbidden", test_forbidden);
  g_test_add_func ("/readstate/other-signer", test_other_signer);
  rc = g_test_run ();
  rdt_test_server_stop (server);
  return rc;
}
