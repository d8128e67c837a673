/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-membership.c - state sync and writes, adding members, invitations
 * (src/core/statesync.c, membership.c; spec 8.2-8.5, 12) against the test
 * server. */
#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "api.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "invite.h"
#include "membership.h"
#include "message.h"
#include "state.h"
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

typedef struct {
  GMainLoop *loop;
  GAsyncResult *result;
} Wait;

static void
got (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;

  w->result = g_object_ref (result);
  g_main_loop_quit (w->loop);
}

/* Runs the loop until the answer; a test that would hang fails instead. */
static GAsyncResult *
run (Wait *w)
{
  guint timeout = g_timeout_add_seconds (WAIT_TIMEOUT_S, wait_timed_out, NULL);

  g_main_loop_run (w->loop);
  g_source_remove (timeout);
  return w->result;
}

typedef struct {
  RdtSigningKey *owner_key;
  gchar *space;
  guint8 root[32];
  RdtSpaceKeys *keys;
  RdtApi *owner;
  Wait w;
} Space;

static void
space_init (Space *s)
{
  s->owner_key = rdt_signing_key_generate ();
  s->space = rdt_signing_key_get_id (s->owner_key, RDT_ID_SPACE);
  rdt_random_bytes (s->root, 32);
  s->keys = rdt_space_keys_new (s->root, s->space);
  s->owner = rdt_api_new (rdt_test_server_get_url (server), s->space,
                          s->owner_key, RDT_ID_USER, NULL);
  s->w.loop = g_main_loop_new (NULL, FALSE);
}

static void
space_clear (Space *s)
{
  g_object_unref (s->owner);
  rdt_space_keys_free (s->keys);
  rdt_signing_key_free (s->owner_key);
  g_free (s->space);
  g_main_loop_unref (s->w.loop);
}

static void
take (Wait *w)
{
  g_clear_object (&w->result);
}

static void
add_member (Space *s, RdtApi *as, const gchar *uid)
{
  g_autoptr (GError) error = NULL;

  rdt_membership_add_member_async (as, uid, NULL, got, &s->w);
  g_assert_true (rdt_membership_add_member_finish (as, run (&s->w), &error));
  g_assert_no_error (error);
  take (&s->w);
}

static void
write1 (Space *s, RdtApi *as, const gchar *path, const gchar *data,
        GError **error)
{
  const gchar *paths[] = { path }, *datas[] = { data };

  rdt_state_write_async (as, paths, datas, 1, NULL, got, &s->w);
  rdt_state_write_finish (as, run (&s->w), error);
  take (&s->w);
}

static RdtState *
sync_new (Space *s, RdtApi *as, guint *n_rejected)
{
  RdtState *state = rdt_state_new (s->space, s->keys->state_key);
  g_autoptr (GError) error = NULL;

  rdt_state_sync_async (state, as, NULL, got, &s->w);
  g_assert_true (rdt_state_sync_finish (state, run (&s->w), n_rejected, NULL,
                                        &error));
  g_assert_no_error (error);
  take (&s->w);
  return state;
}

/* Can this key post a chat message? (proves the capabilities work) */
static gboolean
can_post (Space *s, RdtApi *as, GError **error)
{
  RdtMessage *m;
  gint64 ts;
  g_autofree gchar *data = NULL;
  guint8 key[32];

  rdt_space_keys_topic_key (s->keys, "general", key);
  data = rdt_payload_encrypt (key, (const guint8 *) "hi", 2);
  rdt_wipe (key, sizeof key);
  /* the first post of the topic (each test has its own space) */
  m = rdt_message_new_signed (s->space, "general", "chat.text", NULL, data,
                              rdt_api_get_member_id (as),
                              rdt_api_get_signing_key (as));
  rdt_api_post_message_async (as, m, NULL, got, &s->w);
  ts = rdt_api_post_message_finish (as, run (&s->w), error);
  take (&s->w);
  rdt_message_unref (m);
  return ts >= 0;
}

static void
test_add_member_and_profile (void)
{
  Space s = { 0 };
  g_autoptr (RdtSigningKey) bob = rdt_signing_key_generate ();
  g_autofree gchar *b = rdt_signing_key_get_id (bob, RDT_ID_USER);
  g_autofree gchar *path = g_strconcat ("profiles/", b, NULL);
  g_autofree gchar *data = NULL, *name = NULL, *name2 = NULL;
  g_autoptr (RdtApi) bob_api = NULL;
  g_autoptr (RdtState) state = NULL;
  g_autoptr (GPtrArray) members = NULL;
  g_autoptr (GError) error = NULL;
  guint n_rejected = 99, serial;

  space_init (&s);
  add_member (&s, s.owner, b);
  bob_api = rdt_api_new (rdt_test_server_get_url (server), s.space, bob,
                         RDT_ID_USER, NULL);
  g_assert_true (can_post (&s, bob_api, &error));
  g_assert_no_error (error);

  state = sync_new (&s, bob_api, &n_rejected);
  data = rdt_state_encode_profile (state, "Bob", &error);
  g_assert_no_error (error);
  write1 (&s, bob_api, path, data, &error);
  g_assert_no_error (error);

  /* incremental sync picks the profile up */
  serial = rdt_state_get_serial (state);
  rdt_state_sync_async (state, bob_api, NULL, got, &s.w);
  g_assert_true (rdt_state_sync_finish (state, run (&s.w), &n_rejected, NULL,
                                        &error));
  take (&s.w);
  g_assert_no_error (error);
  g_assert_cmpuint (n_rejected, ==, 0);
  g_assert_cmpuint (rdt_state_get_serial (state), >, serial);
  name = rdt_state_get_display_name (state, b);
  g_assert_cmpstr (name, ==, "Bob");
  members = rdt_state_list_members (state);
  g_assert_cmpuint (members->len, ==, 2);
  g_assert_cmpstr (members->pdata[1], ==, b);
  /* 6 member writes + the profile */
  g_assert_cmpuint (rdt_state_get_n_entries (state), ==, 7);

  /* Bob may not write someone else's profile (server: 403) */
  {
    g_autofree gchar *o = rdt_signing_key_get_id (s.owner_key, RDT_ID_USER);
    g_autofree gchar *opath = g_strconcat ("profiles/", o, NULL);

    write1 (&s, bob_api, opath, data, &error);
    g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN);
    g_assert_nonnull (strstr (error->message, opath));
    g_clear_error (&error);
  }
  /* a fresh full sync from another member gives the same */
  {
    g_autoptr (RdtState) again = sync_new (&s, s.owner, NULL);

    name2 = rdt_state_get_display_name (again, b);
    g_assert_cmpstr (name2, ==, "Bob");
    g_assert_cmpstr (rdt_state_get_head (again), ==, rdt_state_get_head (state));
  }
  space_clear (&s);
}

static void
test_invitation (void)
{
  Space s = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;
  g_autoptr (RdtInvite) inv = NULL;
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) dave = rdt_signing_key_generate ();
  g_autofree gchar *c = rdt_signing_key_get_id (carol, RDT_ID_USER);
  g_autofree gchar *d = rdt_signing_key_get_id (dave, RDT_ID_USER);
  g_autoptr (RdtApi) carol_api = NULL, dave_api = NULL;
  g_autoptr (RdtState) state = NULL;

  space_init (&s);
  rdt_membership_invite_async (s.owner, rdt_test_server_get_url (server),
                               s.root, NULL, got, &s.w);
  text = rdt_membership_invite_finish (s.owner, run (&s.w), &error);
  take (&s.w);
  g_assert_no_error (error);
  inv = rdt_invite_parse (text, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (inv->space_id, ==, s.space);
  g_assert_cmpmem (inv->root, 32, s.root, 32);

  /* Carol redeems it and is a member who can chat */
  rdt_membership_redeem_async (inv, carol, NULL, got, &s.w);
  g_assert_true (rdt_membership_redeem_finish (run (&s.w), &error));
  take (&s.w);
  g_assert_no_error (error);
  carol_api = rdt_api_new (inv->server_url, inv->space_id, carol, RDT_ID_USER,
                           NULL);
  g_assert_true (can_post (&s, carol_api, &error));
  g_assert_no_error (error);
  state = sync_new (&s, carol_api, NULL);
  g_assert_true (rdt_state_is_member (state, c));

  /* the tool's use_limit is spent: a second redemption fails, clearly */
  rdt_membership_redeem_async (inv, dave, NULL, got, &s.w);
  g_assert_false (rdt_membership_redeem_finish (run (&s.w), &error));
  take (&s.w);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "auth/users/"));
  g_test_message ("second redemption: %s", error->message);
  g_clear_error (&error);
  {
    g_autoptr (RdtState) after = sync_new (&s, carol_api, NULL);
    g_assert_false (rdt_state_is_member (after, d));
  }
  dave_api = rdt_api_new (inv->server_url, inv->space_id, dave, RDT_ID_USER,
                          NULL);
  g_assert_false (can_post (&s, dave_api, &error));
  g_assert_error (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER);
  space_clear (&s);
}

/* Two writers at once on the one state chain: both land (409 retry). */
typedef struct {
  Space *s;
  guint done;
  GError *errors[2];
} Race;

static void
race_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Race *r = data;
  GError *error = NULL;

  rdt_membership_add_member_finish (RDT_API (source), result, &error);
  r->errors[r->done++] = error;
  if (r->done == 2)
    g_main_loop_quit (r->s->w.loop);
}

static void
test_concurrent_writers (void)
{
  Space s = { 0 };
  g_autoptr (RdtSigningKey) bob = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) x = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) y = rdt_signing_key_generate ();
  g_autofree gchar *b = rdt_signing_key_get_id (bob, RDT_ID_USER);
  g_autofree gchar *xi = rdt_signing_key_get_id (x, RDT_ID_USER);
  g_autofree gchar *yi = rdt_signing_key_get_id (y, RDT_ID_USER);
  g_autoptr (RdtApi) bob_api = NULL;
  g_autoptr (RdtState) state = NULL;
  Race r = { &s, 0, { NULL, NULL } };

  space_init (&s);
  add_member (&s, s.owner, b);
  /* Bob is a member but holds no right on auth/: give him one */
  {
    g_autofree gchar *p = g_strconcat ("auth/users/", b, "/rights/admin", NULL);
    g_autofree gchar *cap = rdt_state_encode_capability ("write", "state/{...}");
    g_autoptr (GError) error = NULL;

    write1 (&s, s.owner, p, cap, &error);
    g_assert_no_error (error);
  }
  bob_api = rdt_api_new (rdt_test_server_get_url (server), s.space, bob,
                         RDT_ID_USER, NULL);
  rdt_membership_add_member_async (s.owner, xi, NULL, race_done, &r);
  rdt_membership_add_member_async (bob_api, yi, NULL, race_done, &r);
  g_main_loop_run (s.w.loop);
  g_assert_no_error (r.errors[0]);
  g_assert_no_error (r.errors[1]);
  state = sync_new (&s, s.owner, NULL);
  g_assert_true (rdt_state_is_member (state, xi));
  g_assert_true (rdt_state_is_member (state, yi));
  space_clear (&s);
}

/* The invitation from the owner, parsed, and an api acting as its tool. */
static RdtInvite *
invite_new (Space *s, RdtApi **tool_api)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;
  RdtInvite *inv;

  rdt_membership_invite_async (s->owner, rdt_test_server_get_url (server),
                               s->root, NULL, got, &s->w);
  text = rdt_membership_invite_finish (s->owner, run (&s->w), &error);
  take (&s->w);
  g_assert_no_error (error);
  inv = rdt_invite_parse (text, &error);
  g_assert_no_error (error);
  rdt_wipe (text, strlen (text));
  if (tool_api != NULL)
    {
      g_autoptr (RdtSigningKey) tool = rdt_signing_key_new_from_seed (inv->tool_seed);

      *tool_api = rdt_api_new (inv->server_url, inv->space_id, tool,
                               RDT_ID_TOOL, &error);
      g_assert_no_error (error);
    }
  return inv;
}

static gboolean
redeem (Space *s, RdtInvite *inv, RdtSigningKey *key, GError **error)
{
  gboolean ok;

  rdt_membership_redeem_async (inv, key, NULL, got, &s->w);
  ok = rdt_membership_redeem_finish (run (&s->w), error);
  take (&s->w);
  return ok;
}

/* A redemption whose earlier attempt stored some entries (its answer lost,
 * or 409s ran out) finishes with only the missing writes: the tool may
 * only create, and its use_limit has room for exactly the six. */
static void
test_redeem_resumes (void)
{
  Space s = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtInvite) inv = NULL;
  g_autoptr (RdtApi) tool_api = NULL, carol_api = NULL;
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) dave = rdt_signing_key_generate ();
  g_autofree gchar *c = rdt_signing_key_get_id (carol, RDT_ID_USER);
  g_autofree gchar *upath = g_strconcat ("auth/users/", c, NULL);
  g_autofree gchar *udata = rdt_state_encode_user_entry (c);
  g_autofree gchar *cpath = g_strconcat (upath, "/rights/chat", NULL);
  g_autofree gchar *cdata = rdt_state_encode_capability ("write", "topics/{any}/messages");

  space_init (&s);
  inv = invite_new (&s, &tool_api);
  /* the first attempt got two entries stored */
  write1 (&s, tool_api, upath, udata, &error);
  g_assert_no_error (error);
  write1 (&s, tool_api, cpath, cdata, &error);
  g_assert_no_error (error);

  g_assert_true (redeem (&s, inv, carol, &error));
  g_assert_no_error (error);
  carol_api = rdt_api_new (inv->server_url, inv->space_id, carol, RDT_ID_USER,
                           NULL);
  g_assert_true (can_post (&s, carol_api, &error));
  g_assert_no_error (error);
  {
    g_autoptr (RdtState) state = sync_new (&s, carol_api, NULL);
    g_autoptr (GPtrArray) caps = rdt_state_list_capabilities (state, c);

    g_assert_true (rdt_state_is_member (state, c));
    g_assert_cmpuint (caps->len, ==, 5);
  }
  /* all there: redeeming again (the last answer lost) is a success with
   * no write, although the tool is spent */
  g_assert_true (redeem (&s, inv, carol, &error));
  g_assert_no_error (error);
  g_assert_false (redeem (&s, inv, dave, &error));
  g_assert_false (rdt_membership_error_is_temporary (error));
  g_test_message ("spent: %s", error->message);
  space_clear (&s);
}

/* An answer lost half-way (the entry stored, the client told nothing
 * useful): the caller is told to try again, and the retry completes. */
static void
test_redeem_answer_lost (void)
{
  Space s = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtInvite) inv = NULL;
  g_autoptr (RdtApi) carol_api = NULL;
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();

  if (!rdt_test_server_require_local (server, "a truncate fault of the fault control endpoint"))
    return;
  space_init (&s);
  inv = invite_new (&s, NULL);
  /* the server stores the first write but its answer never arrives */
  rdt_test_server_fault (server, "{\"action\":\"truncate\",\"method\":\"POST\","
                                 "\"path\":\"/topics/state/messages\",\"count\":1}");
  g_assert_false (redeem (&s, inv, carol, &error));
  rdt_test_server_clear_faults (server);
  g_test_message ("lost answer: %s", error->message);
  g_assert_true (rdt_membership_error_is_temporary (error));
  g_clear_error (&error);

  g_assert_true (redeem (&s, inv, carol, &error));
  g_assert_no_error (error);
  carol_api = rdt_api_new (inv->server_url, inv->space_id, carol, RDT_ID_USER,
                           NULL);
  g_assert_true (can_post (&s, carol_api, &error));
  g_assert_no_error (error);
  space_clear (&s);
}

/* An entry that holds something else is not ours to fix: a clear, final
 * error, and no write is wasted. */
static void
test_redeem_entry_differs (void)
{
  Space s = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtInvite) inv = NULL;
  g_autoptr (RdtApi) tool_api = NULL;
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();
  g_autofree gchar *c = rdt_signing_key_get_id (carol, RDT_ID_USER);
  g_autofree gchar *ppath = g_strconcat ("auth/users/", c, "/rights/profile", NULL);
  g_autofree gchar *other = rdt_state_encode_capability ("read", "state/profiles/{any}");
  g_autoptr (GError) net = g_error_new_literal (RDT_API_ERROR,
                                                RDT_API_ERROR_NETWORK, "x");
  g_autoptr (GError) conflict = g_error_new_literal (RDT_API_ERROR,
                                                     RDT_API_ERROR_CONFLICT, "x");

  space_init (&s);
  inv = invite_new (&s, &tool_api);
  write1 (&s, tool_api, ppath, other, &error);
  g_assert_no_error (error);
  g_assert_false (redeem (&s, inv, carol, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, ppath));
  g_assert_false (rdt_membership_error_is_temporary (error));
  g_test_message ("differs: %s", error->message);
  {
    g_autoptr (RdtState) state = sync_new (&s, s.owner, NULL);

    g_assert_false (rdt_state_is_member (state, c));
  }
  g_assert_true (rdt_membership_error_is_temporary (net));
  g_assert_true (rdt_membership_error_is_temporary (conflict));
  g_assert_false (rdt_membership_error_is_temporary (NULL));
  space_clear (&s);
}

static gboolean
create1 (Space *s, RdtState *state, RdtApi *as, const gchar *path,
         const gchar *data, GError **error)
{
  gboolean ok;

  rdt_state_create_async (state, as, path, data, NULL, got, &s->w);
  ok = rdt_state_create_finish (as, run (&s->w), error);
  take (&s->w);
  return ok;
}

/* A create-only write never replaces what another member set meanwhile
 * (the default topic name when joining a topic). */
static void
test_create_only (void)
{
  Space s = { 0 };
  g_autoptr (RdtSigningKey) bob = rdt_signing_key_generate ();
  g_autofree gchar *b = rdt_signing_key_get_id (bob, RDT_ID_USER);
  g_autoptr (RdtApi) bob_api = NULL;
  g_autoptr (RdtState) state = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *real = NULL, *dflt = NULL, *name = NULL, *name2 = NULL;
  g_autofree gchar *first = NULL, *name3 = NULL;
  const gchar *path = "topics/general/metadata";

  space_init (&s);
  add_member (&s, s.owner, b);
  bob_api = rdt_api_new (rdt_test_server_get_url (server), s.space, bob,
                         RDT_ID_USER, NULL);
  state = sync_new (&s, s.owner, NULL);

  /* absent: written, and the state has it at once */
  first = rdt_state_encode_topic_metadata (state, "random", "random", &error);
  g_assert_no_error (error);
  g_assert_true (create1 (&s, state, s.owner, "topics/random/metadata", first,
                          &error));
  g_assert_no_error (error);
  name3 = rdt_state_get_topic_name (state, "random");
  g_assert_cmpstr (name3, ==, "random");
  g_assert_false (create1 (&s, state, s.owner, "topics/random/metadata", first,
                           &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  /* Bob names the topic after our state was read: our create, chained on
   * the head we know, gets 409, re-reads and finds his name */
  real = rdt_state_encode_topic_metadata (state, "general", "Real name", &error);
  dflt = rdt_state_encode_topic_metadata (state, "general", "general", &error);
  g_assert_no_error (error);
  write1 (&s, bob_api, path, real, &error);
  g_assert_no_error (error);
  g_assert_null (rdt_state_lookup (state, path));
  g_assert_false (create1 (&s, state, s.owner, path, dflt, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_test_message ("create: %s", error->message);
  g_clear_error (&error);
  name = rdt_state_get_topic_name (state, "general");
  g_assert_cmpstr (name, ==, "Real name");
  {
    g_autoptr (RdtState) again = sync_new (&s, bob_api, NULL);

    name2 = rdt_state_get_topic_name (again, "general");
    g_assert_cmpstr (name2, ==, "Real name");
  }
  space_clear (&s);
}

/* ---- a hostile server that pages junk forever (fake, in process) ---- */

typedef struct {
  SoupServer *server;
  gchar *url;
  gchar *space;
  RdtSigningKey *stranger;
  gchar *stranger_id;
  gchar *prev;
  gint64 ts;
  guint pages;
} Junk;

static void
junk_reply (SoupServerMessage *msg, const gchar *body)
{
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    body, strlen (body));
}

static void
junk_handler (SoupServer *srv, SoupServerMessage *msg, const char *path,
              GHashTable *query, gpointer user_data)
{
  Junk *j = user_data;
  gint64 now = g_get_real_time () / 1000;

  if (g_str_has_suffix (path, "/auth/challenge"))
    {
      guint8 raw[32];
      g_autofree gchar *ch = NULL, *body = NULL;

      rdt_random_bytes (raw, sizeof raw);
      ch = rdt_base64_encode (raw, sizeof raw);
      body = g_strdup_printf ("{\"challenge\":\"%s\",\"expires_at\":%"
                              G_GINT64_FORMAT "}", ch, now + 300000);

      junk_reply (msg, body);
    }
  else if (g_str_has_suffix (path, "/auth/verify"))
    {
      g_autofree gchar *body = g_strdup_printf (
          "{\"token\":\"eyJ.tok.sig\",\"expires_at\":%" G_GINT64_FORMAT "}",
          now + 3600000);

      junk_reply (msg, body);
    }
  else if (g_str_has_suffix (path, "/topics/state/messages"))
    {
      /* a full page of well-signed entries by a stranger, chained on the
       * last one, each a millisecond later: they link and move the
       * paging timestamp, but none counts */
      GString *out = g_string_new ("{\"messages\":[");
      g_autofree gchar *data = rdt_base64_encode ((const guint8 *) "{}", 2);

      j->pages++;
      for (guint i = 0; i < 1000; i++)
        {
          g_autofree gchar *p = g_strdup_printf ("profiles/x%u", i);
          RdtMessage *m = rdt_message_new_signed (j->space, "state", p, j->prev,
                                                  data, j->stranger_id,
                                                  j->stranger);
          g_autofree gchar *json = NULL;

          m->server_timestamp = ++j->ts;
          json = rdt_message_to_json_string (m);
          g_string_append (out, i ? "," : "");
          g_string_append (out, json);
          g_free (j->prev);
          j->prev = g_strdup (m->message_hash);
          rdt_message_unref (m);
        }
      g_string_append (out, "],\"has_more\":true}");
      junk_reply (msg, out->str);
      g_string_free (out, TRUE);
    }
  else
    {
      soup_server_message_set_status (msg, 404, NULL);
      soup_server_message_set_response (msg, "application/json",
                                        SOUP_MEMORY_STATIC, "{}", 2);
    }
}

static void
test_sync_junk_bounded (void)
{
  Junk j = { 0 };
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) member = rdt_signing_key_generate ();
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (RdtState) state = NULL;
  g_autofree gchar *why = NULL;
  guint8 key[32] = { 0 };
  guint n_rejected = 0;
  GSList *uris;
  Wait w = { g_main_loop_new (NULL, FALSE), NULL };

  j.space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  j.stranger = rdt_signing_key_generate ();
  j.stranger_id = rdt_signing_key_get_id (j.stranger, RDT_ID_USER);
  j.ts = 1700000000000;
  j.server = soup_server_new (NULL, NULL);
  soup_server_add_handler (j.server, NULL, junk_handler, &j, NULL);
  g_assert_true (soup_server_listen_local (j.server, 0,
                                           SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (j.server);
  j.url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  api = rdt_api_new (j.url, j.space, member, RDT_ID_USER, &error);
  g_assert_no_error (error);
  state = rdt_state_new (j.space, key);
  rdt_state_sync_async (state, api, NULL, got, &w);
  g_assert_false (rdt_state_sync_finish (state, run (&w), &n_rejected, &why,
                                         &error));
  g_clear_object (&w.result);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_CHAIN);
  g_test_message ("junk: %s after %u pages", error->message, j.pages);
  /* stopped after a few pages, not thousands */
  g_assert_cmpuint (j.pages, <=, 3);
  g_assert_cmpuint (n_rejected, >=, 2000);
  g_assert_nonnull (why);
  g_assert_cmpuint (rdt_state_get_n_entries (state), ==, 0);

  soup_server_disconnect (j.server);
  g_object_unref (j.server);
  g_free (j.url);
  g_free (j.space);
  g_free (j.prev);
  g_free (j.stranger_id);
  rdt_signing_key_free (j.stranger);
  g_main_loop_unref (w.loop);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  server = rdt_test_server_start (NULL);
  g_test_add_func ("/membership/add-member-and-profile", test_add_member_and_profile);
  g_test_add_func ("/membership/invitation", test_invitation);
  g_test_add_func ("/membership/concurrent-writers", test_concurrent_writers);
  g_test_add_func ("/membership/redeem-resumes", test_redeem_resumes);
  g_test_add_func ("/membership/redeem-answer-lost", test_redeem_answer_lost);
  g_test_add_func ("/membership/redeem-entry-differs", test_redeem_entry_differs);
  g_test_add_func ("/membership/create-only", test_create_only);
  g_test_add_func ("/membership/sync-junk-bounded", test_sync_junk_bounded);
  rc = g_test_run ();
  rdt_test_server_stop (server);
  return rc;
}
