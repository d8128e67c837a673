/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-conformance.c - further conformance cases of rdt-test-server against
 * the real server as the protocol reference records it (suite `server`):
 * token expiry and space mismatch, data size limit, limit range, GET by
 * hash, WebSocket rejection and idle ping. Plumbing as in test-rules.c. */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "message.h"
#include "testserver.h"
#include "client.h"


static gboolean
wait_done (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Spec 4.3 step 5: a token of another space gives 400 "Token space mismatch". */
static void
test_token_space_mismatch (void)
{
  g_autoptr (Space) a = space_new ();
  g_autoptr (Space) b = space_new ();
  g_autoptr (RdtMessage) m = new_msg (b, "general", NULL, "hi");
  g_autoptr (Answer) r = post_on (srv, b, a->token, m);

  assert_answer (r, 400, "Token space mismatch");
}

/* Spec 4.3 step 5 / 6.1: an expired token gives 401 "Token expired". */
static void
test_token_expiry (void)
{
  const gchar *args[] = { "--token-ttl", "1", NULL };
  RdtTestServer *short_srv = NULL;
  g_autoptr (RdtSigningKey) key = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  g_autofree gchar *uid = rdt_signing_key_get_id (key, RDT_ID_USER);
  g_autofree gchar *token = NULL;
  g_autofree gchar *data = g_base64_encode ((const guchar *) "x", 1);
  g_autoptr (RdtMessage) m = NULL;
  g_autoptr (Answer) r = NULL;
  Space s = { key, space, uid, NULL, NULL };
  gboolean done = FALSE;

  if (!rdt_test_server_require_local (srv, "a one-second token lifetime (--token-ttl)"))
    return;
  short_srv = rdt_test_server_start (args);
  token = login_on (short_srv, space, key, RDT_ID_USER, NULL);
  s.token = token;
  g_assert_nonnull (token);
  /* JWT exp is in whole seconds: wait past it on the main loop. */
  g_timeout_add (2500, wait_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  m = rdt_message_new_signed (space, "general", "chat.text", NULL, data, uid, key);
  r = post_on (short_srv, &s, token, m);
  assert_answer (r, 401, "Token expired");
  rdt_test_server_stop (short_srv);
}

/* Spec 4.3 step 2: data over 102400 characters gives 422. */
static void
test_data_too_large (void)
{
  g_autoptr (Space) s = space_new ();
  gchar *big = g_malloc (102404 + 1);
  g_autoptr (RdtMessage) m = NULL;
  g_autoptr (Answer) r = NULL;
  g_autoptr (RdtMessage) ok = NULL;
  g_autoptr (Answer) r2 = NULL;

  memset (big, 'A', 102404);
  big[102404] = '\0';
  m = rdt_message_new_signed (s->space, "general", "chat.text", NULL, big,
                              s->uid, s->key);
  r = post_on (srv, s, s->token, m);
  g_assert_cmpuint (r->status, ==, 422);
  /* Exactly 102400 is still accepted. */
  big[102400] = '\0';
  ok = rdt_message_new_signed (s->space, "general", "chat.text", NULL, big,
                               s->uid, s->key);
  r2 = post_on (srv, s, s->token, ok);
  g_assert_cmpuint (r2->status, ==, 201);
  g_free (big);
}

/* Spec 4.1, 4.3 step 9: data is never decoded, the signature is decoded
 * leniently (Python's b64decode) and both are stored as sent. */
static void
test_member_spellings (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (RdtMessage) odd = NULL;
  g_autoptr (RdtMessage) junk = NULL;
  g_autoptr (RdtMessage) padless = NULL;
  g_autoptr (RdtMessage) urlsafe = NULL;
  g_autoptr (Answer) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL, got = NULL;
  g_autofree gchar *path = NULL;
  gchar *sig;

  odd = rdt_message_new_signed (s->space, "general", "chat.text", NULL,
                                "not base64 \u00e9!", s->uid, s->key);
  r1 = post_on (srv, s, s->token, odd);
  g_assert_cmpuint (r1->status, ==, 201);
  pace (r1);

  junk = new_msg (s, "general", odd->message_hash, "second");
  sig = g_strdup_printf ("%.10s \n*%s", junk->signature, junk->signature + 10);
  g_free (junk->signature);
  junk->signature = sig;
  r2 = post_on (srv, s, s->token, junk);
  g_assert_cmpuint (r2->status, ==, 201);
  pace (r2);

  padless = new_msg (s, "general", junk->message_hash, "third");
  padless->signature[strlen (padless->signature) - 2] = '\0';
  r3 = post_on (srv, s, s->token, padless);
  assert_answer (r3, 401, "Incorrect padding");

  urlsafe = new_msg (s, "general", junk->message_hash, "third");
  /* only a signature with '+' or '/' has a URL-safe spelling of its own */
  if (strpbrk (urlsafe->signature, "+/") != NULL)
    {
      g_strdelimit (urlsafe->signature, "+", '-');
      g_strdelimit (urlsafe->signature, "/", '_');
      r4 = post_on (srv, s, s->token, urlsafe);
      /* '-' and '_' dropped: either too few bytes or wrong ones */
      g_assert_true (r4->status == 400 || r4->status == 401);
    }

  path = g_strdup_printf ("/spaces/%s/topics/general/messages", s->space);
  got = request ("GET", path, s->token, NULL);
  g_assert_cmpuint (got->status, ==, 200);
  {
    JsonArray *arr = json_object_get_array_member (
        json_node_get_object (got->json), "messages");

    g_assert_cmpuint (json_array_get_length (arr), ==, 2);
    g_assert_cmpstr (json_object_get_string_member (
        json_array_get_object_element (arr, 0), "data"), ==, odd->data);
    g_assert_cmpstr (json_object_get_string_member (
        json_array_get_object_element (arr, 1), "signature"), ==,
        junk->signature);
  }
}

/* Spec 4.4: limit 1..1000, outside gives 422. */
static void
test_limit_range (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (GPtrArray) h = post_chain (s, "general", 3);
  const gchar *bad[] = { "0", "1001", "-1" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree gchar *p = g_strdup_printf ("/spaces/%s/topics/general/messages?limit=%s",
                                             s->space, bad[i]);
      g_autoptr (Answer) r = request ("GET", p, s->token, NULL);
      if (r->status != 422)
        g_error ("limit=%s: expected 422, got %u %s", bad[i], r->status, r->body);
    }
  {
    g_autofree gchar *p = g_strdup_printf ("/spaces/%s/topics/general/messages?limit=1000",
                                           s->space);
    g_autoptr (Answer) r = request ("GET", p, s->token, NULL);
    gboolean more = TRUE;
    g_autofree gchar *got = NULL;
    g_autofree gchar *want = join (h, 0, 2);

    g_assert_cmpuint (r->status, ==, 200);
    got = list_hashes (r, &more);
    g_assert_false (more);
    g_assert_cmpuint (strlen (got), ==, strlen (want));
  }
}

/* Spec 4.7: GET one message; 404 "Message not found", also for another topic. */
static void
test_get_by_hash (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (GPtrArray) h = post_chain (s, "general", 2);
  g_autoptr (GPtrArray) o = post_chain (s, "other", 1);
  g_autofree gchar *p1 = g_strdup_printf ("/spaces/%s/topics/general/messages/%s",
                                          s->space, (gchar *) h->pdata[1]);
  g_autofree gchar *p2 = g_strdup_printf ("/spaces/%s/topics/general/messages/%s",
                                          s->space, (gchar *) o->pdata[0]);
  g_autoptr (Answer) a = request ("GET", p1, s->token, NULL);
  g_autoptr (Answer) b = request ("GET", p2, s->token, NULL);
  JsonObject *obj;

  g_assert_cmpuint (a->status, ==, 200);
  obj = json_node_get_object (a->json);
  g_assert_cmpstr (json_object_get_string_member (obj, "message_hash"), ==, h->pdata[1]);
  g_assert_cmpstr (json_object_get_string_member (obj, "prev_hash"), ==, h->pdata[0]);
  g_assert_cmpstr (json_object_get_string_member (obj, "sender"), ==, s->uid);
  assert_answer (b, 404, "Message not found");
}

/* Spec 7: a bad token rejects the handshake (HTTP 403). */
static void
test_ws_bad_token (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (Space) other = space_new ();
  const gchar *tokens[] = { "not.a.token", other->token };

  for (guint i = 0; i < G_N_ELEMENTS (tokens); i++)
    {
      Ws w = { 0 };

      ws_open (srv, s, tokens[i], &w);
      g_assert_null (w.ws);
      g_assert_nonnull (w.error);
      ws_clear (&w);
    }
}

/* Spec 7 keepalive: the server pings an idle socket ({"type":"ping"}). */
static void
test_ws_idle_ping (void)
{
  const gchar *args[] = { "--ws-idle-ping", "1", NULL };
  RdtTestServer *ping_srv = NULL;
  g_autoptr (RdtSigningKey) key = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  g_autofree gchar *uid = rdt_signing_key_get_id (key, RDT_ID_USER);
  g_autofree gchar *token = NULL;
  Space s = { key, space, uid, NULL, NULL };
  Ws w = { 0 };

  if (!rdt_test_server_require_local (srv, "a one-second idle ping (--ws-idle-ping)"))
    return;
  ping_srv = rdt_test_server_start (args);
  token = login_on (ping_srv, space, key, RDT_ID_USER, NULL);
  s.token = token;
  ws_open (ping_srv, &s, token, &w);
  g_assert_no_error (w.error);
  WAIT (has_frame (&w, "\"ping\""), "the server's idle ping");
  ws_clear (&w);
  rdt_test_server_stop (ping_srv);
}

/* The message stored under msg's hash in topic, byte for byte. */
static void
assert_stored (const gchar *space, const gchar *token, const gchar *topic,
               RdtMessage *msg)
{
  g_autofree gchar *p = g_strdup_printf ("/spaces/%s/topics/%s/messages/%s",
                                         space, topic, msg->message_hash);
  g_autoptr (Answer) a = request ("GET", p, token, NULL);
  JsonObject *o;

  g_assert_cmpuint (a->status, ==, 200);
  o = json_node_get_object (a->json);
  g_assert_cmpstr (json_object_get_string_member (o, "data"), ==, msg->data);
  g_assert_cmpstr (json_object_get_string_member (o, "signature"), ==, msg->signature);
  g_assert_cmpstr (json_object_get_string_member_with_default (o, "prev_hash", NULL),
                   ==, msg->prev_hash);
}

/* Appendix A: the vectors' state write, msg1 and msg2 are built with the
 * core, come out byte-identical, and the server accepts them with the same
 * hashes (spec: "Server-accepted (verified)"). The vectors' keys are fixed,
 * so an external server may hold them from an earlier run: then they must be
 * stored exactly. */
static void
test_appendix_a (void)
{
  guint8 seed[RDT_SEED_LENGTH];
  g_autoptr (RdtSigningKey) owner = NULL;
  g_autoptr (RdtSigningKey) member = NULL;
  g_autofree gchar *mtoken = NULL;
  g_autoptr (RdtMessage) sw = NULL, m1 = NULL, m2 = NULL;
  g_autoptr (Answer) a = NULL;
  Space s = { 0 };
  const gchar *mid = "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU";

  memset (seed, 1, sizeof seed);
  owner = rdt_signing_key_new_from_seed (seed);
  memset (seed, 2, sizeof seed);
  member = rdt_signing_key_new_from_seed (seed);
  s.key = owner;
  s.space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  s.uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  g_assert_cmpstr (s.space, ==, "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c");
  s.token = login_on (srv, s.space, owner, RDT_ID_USER, NULL);
  g_assert_nonnull (s.token);

  sw = rdt_message_new_signed (s.space, "state", "auth/users/UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU",
      NULL, "eyJ1c2VyX2lkIjogIlVJRTVkdzZvZlJkZlZxTlVac05NZnN6TGpZcVJ0TzQzb2wzMkQxdVB5Yk9VIn0=",
      s.uid, owner);
  g_assert_cmpstr (sw->message_hash, ==, "MEoLCDUkndB61rUP0xaHHZ0gWTUiWbH9QAedJr8CYb-B");
  g_assert_cmpstr (sw->signature, ==, "sEQD+DS2zdxBescWRXAPwOlLzhbc3sDb+J3VD+out6/v/0urQQycWB1VLanVXxX3lxKbJYKErqHnaDijV9y6CQ==");
  a = post_on (srv, &s, s.token, sw);
  if (a->status == 409 && !rdt_test_server_is_local (srv))
    {
      g_autofree gchar *tok = login_on (srv, s.space, member, RDT_ID_USER, NULL);

      assert_stored (s.space, s.token, "state", sw);
      m1 = rdt_message_new_signed (s.space, "general", "chat.text", NULL,
          "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==", mid, member);
      m2 = rdt_message_new_signed (s.space, "general", "chat.text", m1->message_hash,
          "c2Vjb25k", mid, member);
      g_assert_nonnull (tok);
      assert_stored (s.space, tok, "general", m1);
      assert_stored (s.space, tok, "general", m2);
      g_test_message ("the vectors were stored by an earlier run");
      g_clear_pointer (&a, answer_free);
      g_free (s.space);
      g_free (s.uid);
      g_free (s.token);
      return;
    }
  g_assert_cmpuint (a->status, ==, 201);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (a->json), "message_hash"),
                   ==, sw->message_hash);
  g_clear_pointer (&a, answer_free);
  s.state_head = g_strdup (sw->message_hash);
  state_write (&s, "auth/users/UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU/rights/chat",
               "{\"op\":\"write\",\"path\":\"topics/{any}/messages\"}");

  mtoken = login_on (srv, s.space, member, RDT_ID_USER, NULL);
  g_assert_nonnull (mtoken);
  m1 = rdt_message_new_signed (s.space, "general", "chat.text", NULL,
      "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==", mid, member);
  g_assert_cmpstr (m1->message_hash, ==, "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe");
  g_assert_cmpstr (m1->signature, ==, "l3YZStUjYhQukP+/hhDjzkzApHODq+mVFNK3+DhSAmplFVFDN4XEPsTCFQzBlqIAwmevS3B2w8qd7a82ODboAQ==");
  a = post_on (srv, &s, mtoken, m1);
  g_assert_cmpuint (a->status, ==, 201);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (a->json), "message_hash"),
                   ==, m1->message_hash);
  g_clear_pointer (&a, answer_free);
  m2 = rdt_message_new_signed (s.space, "general", "chat.text", m1->message_hash,
      "c2Vjb25k", mid, member);
  g_assert_cmpstr (m2->message_hash, ==, "MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt");
  g_assert_cmpstr (m2->signature, ==, "huduiuS7xhSNP74+y56rX6tclid103bKstgGbwsPaSCwxvRsrnR5ZKBLV0v4vQhfdsdujVd/STdr/fuylSymAw==");
  a = post_on (srv, &s, mtoken, m2);
  g_assert_cmpuint (a->status, ==, 201);
  g_clear_pointer (&a, answer_free);
  {
    g_autofree gchar *p = g_strdup_printf ("/spaces/%s/topics/general/messages/%s",
                                           s.space, m2->message_hash);
    JsonObject *o;

    a = request ("GET", p, mtoken, NULL);
    g_assert_cmpuint (a->status, ==, 200);
    o = json_node_get_object (a->json);
    g_assert_cmpstr (json_object_get_string_member (o, "data"), ==, "c2Vjb25k");
    g_assert_cmpstr (json_object_get_string_member (o, "prev_hash"), ==, m1->message_hash);
    g_assert_cmpstr (json_object_get_string_member (o, "signature"), ==, m2->signature);
  }
  g_free (s.space);
  g_free (s.uid);
  g_free (s.token);
  g_free (s.state_head);
}

/* Spec 8.5 step 1: state paths have no wildcards or empty segments: 401 "Invalid path". */
static void
test_state_path_syntax (void)
{
  g_autoptr (Space) s = space_new ();
  const gchar *bad[] = { "profiles/{any}", "profiles//x", "profiles/a b" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree gchar *data = g_base64_encode ((const guchar *) "{}", 2);
      g_autoptr (RdtMessage) m = rdt_message_new_signed (s->space, "state", bad[i],
          NULL, data, s->uid, s->key);
      g_autoptr (Answer) a = post_on (srv, s, s->token, m);

      if (a->status != 401 || !strstr (detail_of (a), "Invalid path"))
        g_error ("state path \"%s\": expected 401 Invalid path, got %u %s",
                 bad[i], a->status, a->body);
    }
}

/* Spec 8.4 / 4.3 step 6: a tool (T id) with use_limit 2 creates users
 * through its capability; the third post gets 401 "... exceeded use limit". */
static void
test_tool_use_limit (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (RdtSigningKey) tk = rdt_signing_key_generate ();
  g_autofree gchar *tid = rdt_signing_key_get_id (tk, RDT_ID_TOOL);
  g_autofree gchar *tpath = g_strconcat ("auth/tools/", tid, NULL);
  g_autofree gchar *tjson = g_strdup_printf ("{\"tool_id\":\"%s\",\"use_limit\":2}", tid);
  g_autofree gchar *rpath = g_strconcat (tpath, "/rights/can_create_user", NULL);
  g_autofree gchar *ttoken = NULL;
  Space t = { 0 };

  state_write (s, tpath, tjson);
  state_write (s, rpath, "{\"op\":\"create\",\"path\":\"state/auth/users/{any}\"}");
  ttoken = login_on (srv, s->space, tk, RDT_ID_TOOL, NULL);
  g_assert_nonnull (ttoken);
  t.space = s->space;
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (RdtSigningKey) uk = rdt_signing_key_generate ();
      g_autofree gchar *uid = rdt_signing_key_get_id (uk, RDT_ID_USER);
      g_autofree gchar *path = g_strconcat ("auth/users/", uid, NULL);
      g_autofree gchar *json = g_strdup_printf ("{\"user_id\":\"%s\"}", uid);
      g_autofree gchar *data = g_base64_encode ((const guchar *) json, strlen (json));
      g_autoptr (RdtMessage) m = rdt_message_new_signed (s->space, "state", path,
          s->state_head, data, tid, tk);
      g_autoptr (Answer) a = post_on (srv, &t, ttoken, m);

      if (i < 2)
        {
          if (a->status != 201)
            g_error ("tool write %u: %u %s", i, a->status, a->body);
          g_free (s->state_head);
          s->state_head = g_strdup (m->message_hash);
        }
      else
        {
          g_autofree gchar *want = g_strdup_printf ("Tool %s has exceeded use limit", tid);
          if (a->status != 401 || !g_str_has_prefix (detail_of (a), want))
            g_error ("3rd tool write: expected 401 \"%s\", got %u %s", want,
                     a->status, a->body);
        }
    }
}

/* Spec 6.2: a failed verify leaves the challenge usable; a successful one
 * consumes it (a replay gets 401 "Challenge not found"); a malformed
 * public_key with a valid challenge gets 400 "Invalid user identifier". */
static void
test_challenge_reuse (void)
{
  g_autoptr (Space) s = space_new ();
  g_autofree gchar *cpath = g_strdup_printf ("/spaces/%s/auth/challenge", s->space);
  g_autofree gchar *vpath = g_strdup_printf ("/spaces/%s/auth/verify", s->space);
  g_autofree gchar *body = g_strdup_printf ("{\"public_key\":\"%s\"}", s->uid);
  g_autoptr (Answer) ch = request ("POST", cpath, NULL, body);
  const gchar *challenge;
  guint8 sig[RDT_SIGNATURE_LENGTH];
  g_autofree gchar *sig64 = NULL, *good = NULL, *bad = NULL;

  g_assert_cmpuint (ch->status, ==, 200);
  challenge = json_object_get_string_member (json_node_get_object (ch->json), "challenge");
  rdt_signing_key_sign (s->key, (const guint8 *) challenge, strlen (challenge), sig);
  sig64 = g_base64_encode (sig, sizeof sig);
  good = g_strdup_printf ("{\"public_key\":\"%s\",\"signature\":\"%s\",\"challenge\":\"%s\"}",
                          s->uid, sig64, challenge);
  sig[0] ^= 1;
  g_free (sig64);
  sig64 = g_base64_encode (sig, sizeof sig);
  bad = g_strdup_printf ("{\"public_key\":\"%s\",\"signature\":\"%s\",\"challenge\":\"%s\"}",
                         s->uid, sig64, challenge);
  {
    g_autoptr (Answer) a = request ("POST", vpath, NULL, bad);
    assert_answer (a, 401, "Invalid signature");
  }
  {
    g_autoptr (Answer) a = request ("POST", vpath, NULL, good);
    g_assert_cmpuint (a->status, ==, 200);
    g_assert_true (json_object_has_member (json_node_get_object (a->json), "token"));
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (a->json), "expires_at"),
                     >, g_get_real_time () / 1000);
  }
  {
    g_autoptr (Answer) a = request ("POST", vpath, NULL, good);
    assert_answer (a, 401, "Challenge not found");
  }
  {
    /* Spec 6.1: a new challenge for the same key overwrites the old one. */
    g_autoptr (Answer) c1 = request ("POST", cpath, NULL, body);
    g_autoptr (Answer) c2 = request ("POST", cpath, NULL, body);
    const gchar *old = json_object_get_string_member (json_node_get_object (c1->json),
                                                      "challenge");
    g_autofree gchar *v = NULL;
    g_autoptr (Answer) a = NULL;

    g_assert_cmpuint (c2->status, ==, 200);
    rdt_signing_key_sign (s->key, (const guint8 *) old, strlen (old), sig);
    g_free (sig64);
    sig64 = g_base64_encode (sig, sizeof sig);
    v = g_strdup_printf ("{\"public_key\":\"%s\",\"signature\":\"%s\",\"challenge\":\"%s\"}",
                         s->uid, sig64, old);
    a = request ("POST", vpath, NULL, v);
    assert_answer (a, 401, "Challenge mismatch");
  }
  {
    /* The challenge is keyed by public_key: issue one for a malformed id. */
    const gchar *bogus = "Unot-a-valid-identifier";
    g_autofree gchar *b2 = g_strdup_printf ("{\"public_key\":\"%s\"}", bogus);
    g_autoptr (Answer) c2 = request ("POST", cpath, NULL, b2);

    /* Spec 6.1: nothing is validated when a challenge is issued. */
    g_assert_cmpuint (c2->status, ==, 200);
      {
        const gchar *ch2 = json_object_get_string_member (json_node_get_object (c2->json),
                                                          "challenge");
        g_autofree gchar *v2 = g_strdup_printf (
            "{\"public_key\":\"%s\",\"signature\":\"%s\",\"challenge\":\"%s\"}",
            bogus, sig64, ch2);
        g_autoptr (Answer) a = request ("POST", vpath, NULL, v2);
        assert_answer (a, 400, "Invalid user identifier");
      }
  }
}

/* Spec 8.5 step 3: a member without create on state/auth/users/{any}/rights/
 * cannot grant capabilities: 401 "Invalid capability grant or privilege escalation". */
static void
test_capability_escalation (void)
{
  g_autoptr (Space) s = space_new ();
  g_autoptr (RdtSigningKey) mk = rdt_signing_key_generate ();
  g_autofree gchar *mid = rdt_signing_key_get_id (mk, RDT_ID_USER);
  g_autofree gchar *entry = g_strconcat ("auth/users/", mid, NULL);
  g_autofree gchar *json = g_strdup_printf ("{\"user_id\":\"%s\"}", mid);
  g_autofree gchar *rights = g_strconcat (entry, "/rights/all", NULL);
  const gchar *cap = "{\"op\":\"write\",\"path\":\"{...}\"}";
  g_autofree gchar *data = g_base64_encode ((const guchar *) cap, strlen (cap));
  g_autofree gchar *mtoken = NULL;
  g_autoptr (RdtMessage) m = NULL;
  g_autoptr (Answer) a = NULL;
  Space ms = { 0 };

  state_write (s, entry, json);
  mtoken = login_on (srv, s->space, mk, RDT_ID_USER, NULL);
  g_assert_nonnull (mtoken);
  ms.space = s->space;
  m = rdt_message_new_signed (s->space, "state", rights, s->state_head, data, mid, mk);
  a = post_on (srv, &ms, mtoken, m);
  if (a->status != 401 ||
      !strstr (detail_of (a), "Invalid capability grant or privilege escalation"))
    g_error ("escalation: expected 401, got %u %s", a->status, a->body);
}

/* Spec 7: stream frames carry exactly the Message keys in the real order,
 * for state writes too (every topic, every sender). */
static void
test_ws_frame_keys (void)
{
  g_autoptr (Space) s = space_new ();
  Ws w = { 0 };
  g_autoptr (JsonParser) p = json_parser_new ();
  const gchar *keys[] = { "message_hash", "topic_id", "type", "prev_hash", "data",
                          "sender", "signature", "server_timestamp" };
  g_autoptr (GList) members = NULL;
  guint i = 0;

  ws_open (srv, s, s->token, &w);
  g_assert_no_error (w.error);
  state_write (s, "profiles/x", "{\"name\":\"x\"}");
  WAIT (has_frame (&w, s->state_head), "the state write on the stream");
  for (guint f = 0; f < w.frames->len; f++)
    if (strstr (w.frames->pdata[f], s->state_head))
      g_assert_true (json_parser_load_from_data (p, w.frames->pdata[f], -1, NULL));
  members = json_object_get_members (json_node_get_object (json_parser_get_root (p)));
  g_assert_cmpuint (g_list_length (members), ==, G_N_ELEMENTS (keys));
  for (GList *l = members; l; l = l->next, i++)
    g_assert_cmpstr (l->data, ==, keys[i]);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (p)),
                                                  "topic_id"), ==, "state");
  ws_clear (&w);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  http = soup_session_new ();
  srv = rdt_test_server_start (NULL);
  g_test_add_func ("/conformance/token-space-mismatch", test_token_space_mismatch);
  g_test_add_func ("/conformance/token-expiry", test_token_expiry);
  g_test_add_func ("/conformance/data-too-large", test_data_too_large);
  g_test_add_func ("/conformance/member-spellings", test_member_spellings);
  g_test_add_func ("/conformance/limit-range", test_limit_range);
  g_test_add_func ("/conformance/get-by-hash", test_get_by_hash);
  g_test_add_func ("/conformance/ws-bad-token", test_ws_bad_token);
  g_test_add_func ("/conformance/ws-idle-ping", test_ws_idle_ping);
  g_test_add_func ("/conformance/appendix-a", test_appendix_a);
  g_test_add_func ("/conformance/state-path-syntax", test_state_path_syntax);
  g_test_add_func ("/conformance/tool-use-limit", test_tool_use_limit);
  g_test_add_func ("/conformance/challenge-reuse", test_challenge_reuse);
  g_test_add_func ("/conformance/capability-escalation", test_capability_escalation);
  g_test_add_func ("/conformance/ws-frame-keys", test_ws_frame_keys);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
  g_object_unref (http);
  return ret;
}
