/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-data.c - the data (KV) store of rdt-test-server against spec 11
 * (suite `server`): the signature over space|path|data|signed_at, the
 * 60 s clock window, the replay rule, permissions on the raw path for
 * writes and on data/{path} for reads, DELETE, persistence across a
 * restart and fault injection. Plumbing as in test-rules.c. */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "testserver.h"
#include "client.h"

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static gchar *
data_url (const gchar *space, const gchar *path)
{
  return g_strdup_printf ("/spaces/%s/data/%s", space, path);
}

/* PUT value (base64 of text, or "" for text NULL) at path, signed by key
 * over sign_path (normally path) at signed_at, claiming signed_by. */
static Answer *
put_full (const gchar *space, const gchar *token, RdtSigningKey *key,
          const gchar *signed_by, const gchar *path, const gchar *sign_path,
          const gchar *text, gint64 signed_at)
{
  g_autofree gchar *data = text ? g_base64_encode ((const guchar *) text,
                                                   strlen (text))
                                : g_strdup ("");
  g_autofree gchar *signed_text = g_strdup_printf (
      "%s|%s|%s|%" G_GINT64_FORMAT, space, sign_path, data, signed_at);
  guint8 sig[RDT_SIGNATURE_LENGTH];
  g_autofree gchar *sig64 = NULL, *body = NULL, *url = data_url (space, path);

  rdt_signing_key_sign (key, (const guint8 *) signed_text, strlen (signed_text), sig);
  sig64 = g_base64_encode (sig, sizeof sig);
  body = g_strdup_printf ("{\"data\":\"%s\",\"signature\":\"%s\","
                          "\"signed_by\":\"%s\",\"signed_at\":%" G_GINT64_FORMAT "}",
                          data, sig64, signed_by, signed_at);
  return request ("PUT", url, token, body);
}

static Answer *
put_as (const gchar *space, const gchar *token, RdtSigningKey *key,
        const gchar *id, const gchar *path, const gchar *text, gint64 at)
{
  return put_full (space, token, key, id, path, path, text, at);
}

static Answer *
put_owner (Space *s, const gchar *path, const gchar *text, gint64 at)
{
  return put_as (s->space, s->token, s->key, s->uid, path, text, at);
}

static Answer *
get_data (Space *s, const gchar *token, const gchar *path)
{
  g_autofree gchar *url = data_url (s->space, path);

  return request ("GET", url, token, NULL);
}

static Answer *
delete_data (Space *s, const gchar *token, const gchar *path)
{
  g_autofree gchar *url = data_url (s->space, path);

  return request ("DELETE", url, token, NULL);
}

/* A member of s with the capabilities given as JSON strings (NULL-ended);
 * returns its token, its key and id in *key_out and *id_out. */
static gchar *
member_new (Space *s, RdtSigningKey **key_out, gchar **id_out, ...)
{
  RdtSigningKey *key = rdt_signing_key_generate ();
  gchar *id = rdt_signing_key_get_id (key, RDT_ID_USER);
  g_autofree gchar *entry = g_strconcat ("auth/users/", id, NULL);
  g_autofree gchar *json = g_strdup_printf ("{\"user_id\":\"%s\"}", id);
  const gchar *cap;
  guint i = 0;
  va_list ap;

  state_write (s, entry, json);
  va_start (ap, id_out);
  while ((cap = va_arg (ap, const gchar *)) != NULL)
    {
      g_autofree gchar *right = g_strdup_printf ("%s/rights/c%u", entry, i++);
      state_write (s, right, cap);
    }
  va_end (ap);
  *key_out = key;
  *id_out = id;
  return login_on (srv, s->space, key, RDT_ID_USER, NULL);
}

static const gchar *
str_of (Answer *a, const gchar *name)
{
  return json_object_get_string_member (json_node_get_object (a->json), name);
}

/* PUT answers 200 {"path","signed_at": server clock}; GET answers exactly
 * data, signature, signed_by and the client's signed_at, no path. */
static void
test_put_get (void)
{
  g_autoptr (Space) s = space_new ();
  gint64 at = now_ms () - 30000, before = now_ms ();
  g_autoptr (Answer) p = put_owner (s, "presence/alice", "here", at);
  g_autoptr (Answer) g = NULL;
  g_autoptr (GList) keys = NULL;
  g_autofree gchar *want = g_base64_encode ((const guchar *) "here", 4);
  JsonObject *o;

  g_assert_cmpuint (p->status, ==, 200);
  o = json_node_get_object (p->json);
  g_assert_cmpstr (json_object_get_string_member (o, "path"), ==, "presence/alice");
  g_assert_cmpint (json_object_get_int_member (o, "signed_at"), >=, before);

  g = get_data (s, s->token, "presence/alice");
  g_assert_cmpuint (g->status, ==, 200);
  o = json_node_get_object (g->json);
  keys = json_object_get_members (o);
  g_assert_cmpuint (g_list_length (keys), ==, 4);
  g_assert_false (json_object_has_member (o, "path"));
  g_assert_cmpstr (json_object_get_string_member (o, "data"), ==, want);
  g_assert_cmpstr (json_object_get_string_member (o, "signed_by"), ==, s->uid);
  g_assert_cmpint (json_object_get_int_member (o, "signed_at"), ==, at);
  g_assert_nonnull (json_object_get_string_member (o, "signature"));
}

static void
test_not_found (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (Answer) g = get_data (s, s->token, "nothing/here");

  assert_answer (g, 404, "Data not found");
}

/* The routes need a token of this space. */
static void
test_auth (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (Space) t = space_new ();
  g_autoptr (Answer) none = get_data (s, NULL, "k");
  g_autoptr (Answer) other = get_data (s, t->token, "k");
  g_autofree gchar *url = data_url (s->space, "k");
  g_autoptr (Answer) del = request ("DELETE", url, NULL, NULL);

  assert_answer (none, 401, "Not authenticated");
  assert_answer (other, 401, "Token space mismatch");
  assert_answer (del, 401, "Not authenticated");
}

/* signed_by must be the token's id: 401. */
static void
test_signer_mismatch (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (RdtSigningKey) other = rdt_signing_key_generate ();
  g_autofree gchar *oid = rdt_signing_key_get_id (other, RDT_ID_USER);
  g_autoptr (Answer) a = put_as (s->space, s->token, other, oid, "k", "v",
                                 now_ms ());

  assert_answer (a, 401, "Signer does not match");
}

/* |server now - signed_at| <= 60 s, both ways. */
static void
test_clock_window (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (Answer) stale = put_owner (s, "k", "v", now_ms () - 61000);
  g_autoptr (Answer) future = put_owner (s, "k", "v", now_ms () + 61000);
  g_autoptr (Answer) edge = put_owner (s, "k", "v", now_ms () - 55000);
  g_autoptr (Answer) g = get_data (s, s->token, "k");

  assert_answer (stale, 400, "Signature is too far in the past/future");
  assert_answer (future, 400, "Signature is too far in the past/future");
  g_assert_cmpuint (edge->status, ==, 200);
  g_assert_cmpuint (g->status, ==, 200);
}

/* A signed_at older than the stored one is a replay (400); the same one
 * is not older and passes. The stored entry stays the newer. */
static void
test_replay (void)
{
  g_autoptr (Space) s = space_new ();
  gint64 t = now_ms () - 2000;
  g_autoptr (Answer) first = put_owner (s, "k", "new", t);
  g_autoptr (Answer) older = put_owner (s, "k", "old", t - 1000);
  g_autoptr (Answer) same = put_owner (s, "k", "new", t);
  g_autoptr (Answer) g = get_data (s, s->token, "k");
  g_autofree gchar *want = g_base64_encode ((const guchar *) "new", 3);

  g_assert_cmpuint (first->status, ==, 200);
  assert_answer (older, 400, "Replay detected");
  g_assert_cmpuint (same->status, ==, 200);
  g_assert_cmpstr (str_of (g, "data"), ==, want);
}

/* The signature covers space|path|data|signed_at. */
static void
test_bad_signature (void)
{
  g_autoptr (Space) s = space_new ();
  gint64 t = now_ms ();
  g_autoptr (Answer) other_path = put_full (s->space, s->token, s->key, s->uid,
                                            "k", "k2", "v", t);
  g_autoptr (Answer) garbled = NULL;
  g_autoptr (Answer) g = NULL;
  g_autofree gchar *url = data_url (s->space, "k");
  g_autofree gchar *body = g_strdup_printf (
      "{\"data\":\"dg==\",\"signature\":\"%s\",\"signed_by\":\"%s\","
      "\"signed_at\":%" G_GINT64_FORMAT "}", "AAAA", s->uid, t);

  assert_answer (other_path, 400, "Invalid signature on data for path");
  garbled = request ("PUT", url, s->token, body);
  assert_answer (garbled, 400, "Invalid signature on data for path");
  g = get_data (s, s->token, "k");
  assert_answer (g, 404, "Data not found");
}

/* Malformed bodies are 422 before anything else. */
static void
test_body_422 (void)
{
  g_autoptr (Space) s = space_new ();
  g_autofree gchar *url = data_url (s->space, "k");
  g_autofree gchar *no_at = g_strdup_printf (
      "{\"data\":\"dg==\",\"signature\":\"AAAA\",\"signed_by\":\"%s\"}", s->uid);
  g_autofree gchar *str_at = g_strdup_printf (
      "{\"data\":\"dg==\",\"signature\":\"AAAA\",\"signed_by\":\"%s\","
      "\"signed_at\":\"1\"}", s->uid);
  g_autoptr (Answer) a = request ("PUT", url, s->token, no_at);
  g_autoptr (Answer) b = request ("PUT", url, s->token, str_at);
  g_autoptr (Answer) c = request ("PUT", url, NULL, "[]");

  g_assert_cmpuint (a->status, ==, 422);
  g_assert_cmpuint (b->status, ==, 422);
  g_assert_cmpuint (c->status, ==, 422);
}

/* Writes are checked on the raw path, reads on data/{path}: a member with
 * write on data/{...} can write only keys starting with data/, reads
 * them back through data/data/..., and can read (not write) any key
 * (spec 11). */
static void
test_raw_path_permission (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (RdtSigningKey) mk = NULL, nk = NULL;
  g_autofree gchar *mid = NULL, *nid = NULL;
  g_autofree gchar *mtok = member_new (s, &mk, &mid,
      "{\"op\":\"write\",\"path\":\"data/{...}\"}", NULL);
  g_autofree gchar *ntok = member_new (s, &nk, &nid, NULL);
  gint64 t = now_ms ();
  g_autoptr (Answer) plain = put_as (s->space, mtok, mk, mid, "x", "v", t);
  g_autoptr (Answer) prefixed = put_as (s->space, mtok, mk, mid, "data/x", "v", t);
  g_autoptr (Answer) read_back = get_data (s, mtok, "data/x");
  g_autoptr (Answer) owner_put = put_owner (s, "x", "v", t);
  g_autoptr (Answer) read_plain = get_data (s, mtok, "x");
  g_autoptr (Answer) none_put = put_as (s->space, ntok, nk, nid, "data/y", "v", t);
  g_autoptr (Answer) none_get = get_data (s, ntok, "data/x");

  assert_answer (plain, 403, "No create permission for state path: x");
  g_assert_cmpuint (prefixed->status, ==, 200);
  g_assert_cmpuint (read_back->status, ==, 200);
  g_assert_cmpstr (str_of (read_back, "signed_by"), ==, mid);
  g_assert_cmpuint (owner_put->status, ==, 200);
  /* read x is checked on data/x, which data/{...} covers: readable,
   * though not writable. */
  g_assert_cmpuint (read_plain->status, ==, 200);
  assert_answer (none_put, 403, "No create permission for state path: data/y");
  assert_answer (none_get, 403, "No read permission");
}

/* The member-private grants of spec 11: a member writes and reads its own
 * data/user/{U}/..., not another member's. */
static void
test_member_private (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (RdtSigningKey) mk = NULL, ok = NULL;
  g_autofree gchar *mid = NULL, *oid = NULL;
  g_autofree gchar *mtok = member_new (s, &mk, &mid,
      "{\"op\":\"write\",\"path\":\"data/user/{self}/{...}\"}",
      "{\"op\":\"read\",\"path\":\"data/data/user/{self}/{...}\"}", NULL);
  g_autofree gchar *otok = member_new (s, &ok, &oid, NULL);
  g_autofree gchar *mine = g_strdup_printf ("data/user/%s/read/general", mid);
  g_autofree gchar *theirs = g_strdup_printf ("data/user/%s/read/general", oid);
  g_autofree gchar *refused = g_strdup_printf (
      "No create permission for state path: %s", theirs);
  gint64 t = now_ms ();
  g_autoptr (Answer) a = put_as (s->space, mtok, mk, mid, mine, "m", t);
  g_autoptr (Answer) b = get_data (s, mtok, mine);
  g_autoptr (Answer) c = put_as (s->space, mtok, mk, mid, theirs, "m", t);
  g_autoptr (Answer) d = put_owner (s, theirs, "o", t);
  g_autoptr (Answer) e = get_data (s, mtok, theirs);

  g_assert_cmpuint (a->status, ==, 200);
  g_assert_cmpuint (b->status, ==, 200);
  assert_answer (c, 403, refused);
  g_assert_cmpuint (d->status, ==, 200);
  assert_answer (e, 403, "No read permission");
}

/* The operation is create, modify (an entry exists) or delete (data ""):
 * each needs its own capability. */
static void
test_operations (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (RdtSigningKey) mk = NULL;
  g_autofree gchar *mid = NULL;
  g_autofree gchar *mtok = member_new (s, &mk, &mid,
      "{\"op\":\"create\",\"path\":\"data/{...}\"}",
      "{\"op\":\"read\",\"path\":\"data/{...}\"}", NULL);
  gint64 t = now_ms ();
  g_autoptr (Answer) create = put_as (s->space, mtok, mk, mid, "data/a", "1", t);
  g_autoptr (Answer) modify = put_as (s->space, mtok, mk, mid, "data/a", "2", t);
  g_autoptr (Answer) blank = put_as (s->space, mtok, mk, mid, "data/b", NULL, t);
  g_autoptr (Answer) del = delete_data (s, mtok, "data/a");
  g_autoptr (Answer) still = get_data (s, mtok, "data/a");

  g_assert_cmpuint (create->status, ==, 200);
  assert_answer (modify, 403, "No modify permission for state path: data/a");
  assert_answer (blank, 403, "No delete permission for state path: data/b");
  assert_answer (del, 403, "No delete permission for state path: data/a");
  g_assert_cmpuint (still->status, ==, 200);
}

/* DELETE: 204, also when absent; the entry is gone. PUT with data "" is
 * kept and read back with data "". */
static void
test_delete (void)
{
  g_autoptr (Space) s = space_new ();
  gint64 t = now_ms ();
  g_autoptr (Answer) p = put_owner (s, "k", "v", t);
  g_autoptr (Answer) d = delete_data (s, s->token, "k");
  g_autoptr (Answer) g = get_data (s, s->token, "k");
  g_autoptr (Answer) again = delete_data (s, s->token, "k");
  g_autoptr (Answer) blank = put_owner (s, "e", NULL, t);
  g_autoptr (Answer) gb = get_data (s, s->token, "e");

  g_assert_cmpuint (p->status, ==, 200);
  g_assert_cmpuint (d->status, ==, 204);
  assert_answer (g, 404, "Data not found");
  g_assert_cmpuint (again->status, ==, 204);
  g_assert_cmpuint (blank->status, ==, 200);
  g_assert_cmpuint (gb->status, ==, 200);
  g_assert_cmpstr (str_of (gb, "data"), ==, "");
}

/* Entries and deletions survive a restart, and so does the replay rule. */
static void
test_persistence (void)
{
  g_autoptr (Space) s = NULL;
  gint64 t = now_ms () - 2000;
  g_autoptr (Answer) a = NULL, b = NULL, d = NULL, ga = NULL, gb = NULL;
  g_autoptr (Answer) replay = NULL;
  g_autofree gchar *want = g_base64_encode ((const guchar *) "kept", 4);

  if (!rdt_test_server_require_local (srv, "a server restart"))
    return;
  s = space_new ();
  a = put_owner (s, "read/general", "kept", t);
  b = put_owner (s, "gone", "x", t);
  d = delete_data (s, s->token, "gone");
  g_assert_cmpuint (a->status, ==, 200);
  g_assert_cmpuint (b->status, ==, 200);
  g_assert_cmpuint (d->status, ==, 204);

  rdt_test_server_restart (srv);
  /* Tokens are per process. */
  g_free (s->token);
  s->token = login_on (srv, s->space, s->key, RDT_ID_USER, NULL);
  g_assert_nonnull (s->token);

  ga = get_data (s, s->token, "read/general");
  g_assert_cmpuint (ga->status, ==, 200);
  g_assert_cmpstr (str_of (ga, "data"), ==, want);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (ga->json),
                                               "signed_at"), ==, t);
  gb = get_data (s, s->token, "gone");
  assert_answer (gb, 404, "Data not found");
  replay = put_owner (s, "read/general", "older", t - 1);
  assert_answer (replay, 400, "Replay detected");
}

/* The fault hooks of the message routes apply to the data routes: a
 * status answer instead of the handler, and tampering of a served entry
 * (never of what is stored). */
static void
test_faults (void)
{
  g_autoptr (Space) s = NULL;
  g_autoptr (Answer) p = NULL, faulted = NULL, tampered = NULL, real = NULL;
  g_autoptr (Answer) after = NULL;

  if (!rdt_test_server_require_local (srv, "fault injection"))
    return;
  s = space_new ();
  p = put_owner (s, "k", "v", now_ms ());
  g_assert_cmpuint (p->status, ==, 200);

  rdt_test_server_fault (srv, "{\"action\":\"status\",\"status\":503,"
                              "\"path\":\"/data/\",\"method\":\"PUT\",\"count\":1}");
  faulted = put_owner (s, "k", "w", now_ms ());
  g_assert_cmpuint (faulted->status, ==, 503);
  after = get_data (s, s->token, "k");
  g_assert_cmpstr (str_of (after, "data"), ==, "dg==");

  rdt_test_server_fault (srv, "{\"action\":\"tamper\",\"mode\":\"signature\","
                              "\"path\":\"/data/\",\"count\":1}");
  tampered = get_data (s, s->token, "k");
  real = get_data (s, s->token, "k");
  g_assert_cmpuint (tampered->status, ==, 200);
  g_assert_cmpstr (str_of (tampered, "signature"), !=, str_of (real, "signature"));
  g_assert_cmpstr (str_of (tampered, "data"), ==, str_of (real, "data"));
  rdt_test_server_clear_faults (srv);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  http = soup_session_new ();
  srv = rdt_test_server_start (NULL);
  g_test_add_func ("/data/put-get", test_put_get);
  g_test_add_func ("/data/not-found", test_not_found);
  g_test_add_func ("/data/auth", test_auth);
  g_test_add_func ("/data/signer-mismatch", test_signer_mismatch);
  g_test_add_func ("/data/clock-window", test_clock_window);
  g_test_add_func ("/data/replay", test_replay);
  g_test_add_func ("/data/bad-signature", test_bad_signature);
  g_test_add_func ("/data/body-422", test_body_422);
  g_test_add_func ("/data/raw-path-permission", test_raw_path_permission);
  g_test_add_func ("/data/member-private", test_member_private);
  g_test_add_func ("/data/operations", test_operations);
  g_test_add_func ("/data/delete", test_delete);
  g_test_add_func ("/data/persistence", test_persistence);
  g_test_add_func ("/data/faults", test_faults);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
  g_object_unref (http);
  return ret;
}
