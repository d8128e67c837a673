/* test-membership.c - state sync and writes, adding members, invitations
 * (src/core/statesync.c, membership.c; spec 8.2-8.5, 12) against the test
 * server. */
#include "config.h"

#include <string.h>

#include "api.h"
#include "crypto.h"
#include "error.h"
#include "id.h"
#include "invite.h"
#include "membership.h"
#include "message.h"
#include "state.h"
#include "statesync.h"
#include "testserver.h"

static RdtTestServer *server;

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

static GAsyncResult *
run (Wait *w)
{
  g_main_loop_run (w->loop);
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
  /* 4 member writes + the profile */
  g_assert_cmpuint (rdt_state_get_n_entries (state), ==, 5);

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
  rc = g_test_run ();
  rdt_test_server_stop (server);
  return rc;
}
