/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-state.c - the state log replayed into members, names and topics
 * (src/core/state.c; spec 8.3, 8.5, 9, 12). Messages are built and signed
 * here exactly as a client would post them. */
#include <string.h>

#include <json-glib/json-glib.h>

#include "chain.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "message.h"
#include "state.h"

typedef struct {
  RdtSigningKey *owner;
  gchar *space;
  guint8 root[32];
  RdtSpaceKeys *keys;
  RdtState *state;
  GPtrArray *log;      /* messages in chain order */
  gint64 ts;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->owner = rdt_signing_key_generate ();
  f->space = rdt_signing_key_get_id (f->owner, RDT_ID_SPACE);
  rdt_random_bytes (f->root, 32);
  f->keys = rdt_space_keys_new (f->root, f->space);
  f->state = rdt_state_new (f->space, f->keys->state_key);
  f->log = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
  f->ts = 1700000000000;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  rdt_state_free (f->state);
  rdt_space_keys_free (f->keys);
  rdt_signing_key_free (f->owner);
  g_free (f->space);
  g_ptr_array_unref (f->log);
}

/* Appends a state write by key (as a U id, or T id if tool) to the log. */
static RdtMessage *
add (Fixture *f, const RdtSigningKey *key, gboolean tool, const gchar *path,
     const gchar *data)
{
  g_autofree gchar *sender = rdt_signing_key_get_id (key, tool ? RDT_ID_TOOL
                                                               : RDT_ID_USER);
  const gchar *prev = f->log->len
      ? ((RdtMessage *) f->log->pdata[f->log->len - 1])->message_hash : NULL;
  RdtMessage *m = rdt_message_new_signed (f->space, "state", path, prev, data,
                                          sender, key);

  m->server_timestamp = (f->ts += 5);
  g_ptr_array_add (f->log, m);
  return m;
}

static gchar *
user_path (const RdtSigningKey *key)
{
  g_autofree gchar *uid = rdt_signing_key_get_id (key, RDT_ID_USER);
  return g_strconcat ("auth/users/", uid, NULL);
}

static void
add_member (Fixture *f, const RdtSigningKey *by, const RdtSigningKey *member)
{
  g_autofree gchar *uid = rdt_signing_key_get_id (member, RDT_ID_USER);
  g_autofree gchar *path = user_path (member);
  g_autofree gchar *data = rdt_state_encode_user_entry (uid);

  add (f, by, FALSE, path, data);
}

static void
set_profile (Fixture *f, const RdtSigningKey *by, const RdtSigningKey *whose,
             const gchar *name)
{
  g_autofree gchar *uid = rdt_signing_key_get_id (whose, RDT_ID_USER);
  g_autofree gchar *path = g_strconcat ("profiles/", uid, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *data = rdt_state_encode_profile (f->state, name, &error);

  g_assert_no_error (error);
  add (f, by, FALSE, path, data);
}

static guint
ingest_all (Fixture *f, GPtrArray *rejected)
{
  return rdt_state_ingest (f->state, f->log, rejected);
}

static void
test_members_names_topics (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) alice = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) bob = rdt_signing_key_generate ();
  g_autofree gchar *a = rdt_signing_key_get_id (alice, RDT_ID_USER);
  g_autofree gchar *b = rdt_signing_key_get_id (bob, RDT_ID_USER);
  g_autofree gchar *o = rdt_signing_key_get_id (f->owner, RDT_ID_USER);
  g_autofree gchar *meta = NULL, *name = NULL, *topic = NULL;
  g_autoptr (GPtrArray) members = NULL, topics = NULL, rejected = NULL;
  g_autoptr (GError) error = NULL;
  guint serial0 = rdt_state_get_serial (f->state);

  add_member (f, f->owner, alice);
  add_member (f, alice, bob);       /* a member may add members (spec 8.3) */
  set_profile (f, alice, alice, "  Alice \u202e\t Smith\n");
  meta = rdt_state_encode_topic_metadata (f->state, "general", "General chat",
                                          &error);
  g_assert_no_error (error);
  add (f, f->owner, FALSE, "topics/general/metadata", meta);

  rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_chain_rejection_free);
  g_assert_cmpuint (ingest_all (f, rejected), ==, 4);
  g_assert_cmpuint (rejected->len, ==, 0);
  g_assert_cmpuint (rdt_state_get_serial (f->state), >, serial0);
  g_assert_cmpstr (rdt_state_get_head (f->state), ==,
                   ((RdtMessage *) f->log->pdata[3])->message_hash);
  g_assert_cmpint (rdt_state_get_newest_timestamp (f->state), ==, f->ts);

  members = rdt_state_list_members (f->state);
  g_assert_cmpuint (members->len, ==, 3);
  g_assert_cmpstr (members->pdata[0], ==, o);     /* owner first */
  g_assert_true (rdt_state_is_member (f->state, a));
  g_assert_true (rdt_state_is_member (f->state, b));
  g_assert_true (rdt_state_is_owner (f->state, o));
  g_assert_false (rdt_state_is_owner (f->state, a));

  /* cleaned: trimmed, whitespace collapsed, bidi override dropped */
  name = rdt_state_get_display_name (f->state, a);
  g_assert_cmpstr (name, ==, "Alice Smith");
  g_assert_null (rdt_state_get_display_name (f->state, b));

  topics = rdt_state_list_topics (f->state);
  g_assert_cmpuint (topics->len, ==, 1);
  g_assert_cmpstr (topics->pdata[0], ==, "general");
  topic = rdt_state_get_topic_name (f->state, "general");
  g_assert_cmpstr (topic, ==, "General chat");
}

/* The same log in reverse and in two overlapping pages gives the same state. */
static void
test_page_order (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) alice = rdt_signing_key_generate ();
  g_autofree gchar *a = rdt_signing_key_get_id (alice, RDT_ID_USER);
  g_autoptr (GPtrArray) rev = g_ptr_array_new ();
  g_autoptr (GPtrArray) tail = g_ptr_array_new ();
  g_autofree gchar *n1 = NULL, *n2 = NULL;

  add_member (f, f->owner, alice);
  set_profile (f, alice, alice, "First");
  set_profile (f, alice, alice, "Second");   /* latest in chain order wins */

  for (guint i = f->log->len; i > 0; i--)
    g_ptr_array_add (rev, f->log->pdata[i - 1]);
  g_assert_cmpuint (rdt_state_ingest (f->state, rev, NULL), ==, 3);
  n1 = rdt_state_get_display_name (f->state, a);
  g_assert_cmpstr (n1, ==, "Second");

  /* the inclusive page boundary again: nothing new is applied */
  g_ptr_array_add (tail, f->log->pdata[2]);
  g_assert_cmpuint (rdt_state_ingest (f->state, tail, NULL), ==, 0);
  n2 = rdt_state_get_display_name (f->state, a);
  g_assert_cmpstr (n2, ==, "Second");
}

/* A log served without its beginning is not trusted from the middle: a
 * server cannot start the state after the entries that made the members. */
static void
test_needs_genesis (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) alice = rdt_signing_key_generate ();
  g_autofree gchar *a = rdt_signing_key_get_id (alice, RDT_ID_USER);
  g_autoptr (GPtrArray) tail = g_ptr_array_new ();
  g_autoptr (GPtrArray) head = g_ptr_array_new ();
  g_autofree gchar *name = NULL;

  add_member (f, f->owner, alice);
  set_profile (f, alice, alice, "Alice");
  set_profile (f, alice, alice, "Alicia");
  g_ptr_array_add (tail, f->log->pdata[1]);
  g_ptr_array_add (tail, f->log->pdata[2]);
  g_assert_cmpuint (rdt_state_ingest (f->state, tail, NULL), ==, 0);
  g_assert_null (rdt_state_get_head (f->state));
  g_assert_false (rdt_state_is_member (f->state, a));
  /* the beginning arrives: everything links and applies, in order */
  g_ptr_array_add (head, f->log->pdata[0]);
  g_assert_cmpuint (rdt_state_ingest (f->state, head, NULL), ==, 3);
  name = rdt_state_get_display_name (f->state, a);
  g_assert_cmpstr (name, ==, "Alicia");
}

/* What a hostile server (or member) could try: entries signed by someone
 * who is not a member, someone else's profile, forged signatures. */
static void
test_not_allowed (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) alice = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) bob = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) mallory = rdt_signing_key_generate ();
  g_autofree gchar *a = rdt_signing_key_get_id (alice, RDT_ID_USER);
  g_autofree gchar *m = rdt_signing_key_get_id (mallory, RDT_ID_USER);
  g_autofree gchar *name = NULL;
  g_autoptr (GPtrArray) rejected = NULL;
  RdtMessage *forged;
  gchar *old;

  add_member (f, f->owner, alice);
  add_member (f, f->owner, bob);
  set_profile (f, alice, alice, "Alice");
  add_member (f, mallory, mallory);          /* self-signed: not a member */
  set_profile (f, bob, alice, "Not Alice");  /* Bob renames Alice */
  forged = add (f, f->owner, FALSE, "profiles/x", "");
  old = forged->data;                        /* data changed after signing */
  forged->data = g_strdup ("AAAA");
  g_free (old);

  rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_chain_rejection_free);
  g_assert_cmpuint (ingest_all (f, rejected), ==, 3);
  g_assert_cmpuint (rejected->len, ==, 3);
  g_assert_false (rdt_state_is_member (f->state, m));
  name = rdt_state_get_display_name (f->state, a);
  g_assert_cmpstr (name, ==, "Alice");
  for (guint i = 0; i < rejected->len; i++)
    {
      RdtChainRejection *r = rejected->pdata[i];
      g_assert_nonnull (r->error);
      g_assert_cmpstr (r->error->message, !=, "");
    }
}

/* Spec 8.3: a blanked auth/users entry is "removed" for the member list;
 * the tool that wrote an entry counts as a signer while its entry exists. */
static void
test_removed_and_tools (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) alice = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) tool = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();
  g_autofree gchar *a = rdt_signing_key_get_id (alice, RDT_ID_USER);
  g_autofree gchar *c = rdt_signing_key_get_id (carol, RDT_ID_USER);
  g_autofree gchar *t = rdt_signing_key_get_id (tool, RDT_ID_TOOL);
  g_autofree gchar *tpath = g_strconcat ("auth/tools/", t, NULL);
  g_autofree gchar *tdata = rdt_state_encode_tool_entry (t, 3);
  g_autofree gchar *apath = user_path (alice);
  g_autofree gchar *cpath = user_path (carol);
  g_autofree gchar *cdata = rdt_state_encode_user_entry (c);
  g_autoptr (GPtrArray) members = NULL;

  add_member (f, f->owner, alice);
  add (f, f->owner, FALSE, tpath, tdata);
  add (f, tool, TRUE, cpath, cdata);         /* invitation redeemed */
  add (f, f->owner, FALSE, apath, "");       /* alice removed */
  g_assert_cmpuint (ingest_all (f, NULL), ==, 4);
  g_assert_false (rdt_state_is_member (f->state, a));
  g_assert_true (rdt_state_is_member (f->state, c));
  members = rdt_state_list_members (f->state);
  g_assert_cmpuint (members->len, ==, 2);
  g_assert_cmpstr (members->pdata[1], ==, c);
}

/* A tool's writes as the server allows them (spec 8.3, 8.4): revoked (blank)
 * or unreadable definitions count for nothing. */
static void
test_tool_revoked (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) tool = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) junk = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) dave = rdt_signing_key_generate ();
  g_autofree gchar *c = rdt_signing_key_get_id (carol, RDT_ID_USER);
  g_autofree gchar *d = rdt_signing_key_get_id (dave, RDT_ID_USER);
  g_autofree gchar *t = rdt_signing_key_get_id (tool, RDT_ID_TOOL);
  g_autofree gchar *j = rdt_signing_key_get_id (junk, RDT_ID_TOOL);
  g_autofree gchar *tpath = g_strconcat ("auth/tools/", t, NULL);
  g_autofree gchar *jpath = g_strconcat ("auth/tools/", j, NULL);
  g_autofree gchar *tdata = rdt_state_encode_tool_entry (t, 4);
  g_autofree gchar *cpath = user_path (carol);
  g_autofree gchar *cdata = rdt_state_encode_user_entry (c);
  g_autofree gchar *dpath = user_path (dave);
  g_autofree gchar *ddata = rdt_state_encode_user_entry (d);
  g_autofree gchar *notjson = rdt_base64_encode ((const guint8 *) "tool", 4);
  g_autoptr (GPtrArray) rejected = NULL;

  add (f, f->owner, FALSE, tpath, tdata);
  add (f, f->owner, FALSE, tpath, "");           /* invitation revoked */
  add (f, tool, TRUE, cpath, cdata);
  add (f, f->owner, FALSE, jpath, notjson);      /* not a definition */
  add (f, junk, TRUE, dpath, ddata);
  rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_chain_rejection_free);
  g_assert_cmpuint (ingest_all (f, rejected), ==, 3);
  g_assert_cmpuint (rejected->len, ==, 2);
  g_assert_false (rdt_state_is_member (f->state, c));
  g_assert_false (rdt_state_is_member (f->state, d));
  g_assert_null (rdt_state_lookup (f->state, cpath));
  g_assert_null (rdt_state_lookup (f->state, dpath));
  g_assert_nonnull (strstr (((RdtChainRejection *) rejected->pdata[0])->error->message, t));
}

/* An invitation tool only creates a member's entries: its own path set,
 * nothing else, and never changes or blanks what exists. */
static void
test_tool_paths (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) alice = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) tool = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();
  g_autofree gchar *a = rdt_signing_key_get_id (alice, RDT_ID_USER);
  g_autofree gchar *c = rdt_signing_key_get_id (carol, RDT_ID_USER);
  g_autofree gchar *t = rdt_signing_key_get_id (tool, RDT_ID_TOOL);
  g_autofree gchar *tpath = g_strconcat ("auth/tools/", t, NULL);
  /* no use_limit: the SDK's invitation (spec 8.4) */
  g_autofree gchar *tdata = NULL;
  g_autofree gchar *apath = user_path (alice);
  g_autofree gchar *cpath = user_path (carol);
  g_autofree gchar *cdata = rdt_state_encode_user_entry (c);
  g_autofree gchar *chat = rdt_state_encode_capability ("write", "topics/{any}/messages");
  g_autofree gchar *admin = rdt_state_encode_capability ("write", "state/{...}");
  g_autofree gchar *cchat = g_strconcat (cpath, "/rights/chat", NULL);
  g_autofree gchar *crole = g_strconcat (cpath, "/roles/user", NULL);
  g_autofree gchar *cadmin_role = g_strconcat (cpath, "/roles/admin", NULL);
  g_autofree gchar *tright = g_strconcat (tpath, "/rights/more", NULL);
  g_autofree gchar *roledata = NULL;
  g_autofree gchar *pname = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *meta = rdt_state_encode_topic_metadata (f->state, "general",
                                                            "Tool's name", &error);
  g_autofree gchar *profile_path = g_strconcat ("profiles/", c, NULL);
  g_autofree gchar *profile = rdt_state_encode_profile (f->state, "Carol", &error);
  g_autoptr (GPtrArray) rejected = NULL, caps = NULL;
  g_autofree gchar *other = NULL;

  {
    g_autofree gchar *json = g_strdup_printf ("{\"tool_id\":\"%s\"}", t);
    g_autofree gchar *role = g_strdup_printf ("{\"user_id\":\"%s\",\"role_id\":\"user\"}", c);

    tdata = rdt_base64_encode ((const guint8 *) json, strlen (json));
    roledata = rdt_base64_encode ((const guint8 *) role, strlen (role));
  }
  g_assert_no_error (error);
  add_member (f, f->owner, alice);
  add (f, f->owner, FALSE, tpath, tdata);
  /* accepted: the member entries of both invitation schemes */
  add (f, tool, TRUE, cpath, cdata);
  add (f, tool, TRUE, cchat, chat);
  add (f, tool, TRUE, crole, roledata);
  /* refused: anything else */
  add (f, tool, TRUE, cpath, cdata);                 /* modify */
  add (f, tool, TRUE, cchat, admin);                 /* modify a right */
  add (f, tool, TRUE, apath, "");                    /* remove alice */
  add (f, tool, TRUE, cadmin_role, roledata);        /* another role */
  add (f, tool, TRUE, tright, admin);                /* its own rights */
  add (f, tool, TRUE, "topics/general/metadata", meta);
  add (f, tool, TRUE, profile_path, profile);
  add (f, tool, TRUE, "auth/users/not-an-id", cdata);
  add (f, tool, TRUE, "auth/users/not-an-id/rights/chat", chat);
  add (f, tool, TRUE, "auth/roles/user/rights/chat", chat);
  other = g_strconcat (cpath, "/rights/bad!", NULL);
  add (f, tool, TRUE, other, chat);

  rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_chain_rejection_free);
  g_assert_cmpuint (ingest_all (f, rejected), ==, 5);
  g_assert_cmpuint (rejected->len, ==, f->log->len - 5);
  g_assert_true (rdt_state_is_member (f->state, a));
  g_assert_true (rdt_state_is_member (f->state, c));
  caps = rdt_state_list_capabilities (f->state, c);
  g_assert_cmpuint (caps->len, ==, 1);
  g_assert_cmpstr (caps->pdata[0], ==, "write topics/{any}/messages");
  g_assert_null (rdt_state_get_topic_name (f->state, "general"));
  pname = rdt_state_get_display_name (f->state, c);
  g_assert_null (pname);
  g_assert_null (rdt_state_lookup (f->state, cadmin_role));
  g_assert_null (rdt_state_lookup (f->state, tright));
}

/* The tool's use_limit caps its writes: every write the server accepted
 * from it counts, also one we ignore for its path. */
static void
test_tool_use_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) tool = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) carol = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) dave = rdt_signing_key_generate ();
  g_autofree gchar *c = rdt_signing_key_get_id (carol, RDT_ID_USER);
  g_autofree gchar *d = rdt_signing_key_get_id (dave, RDT_ID_USER);
  g_autofree gchar *t = rdt_signing_key_get_id (tool, RDT_ID_TOOL);
  g_autofree gchar *tpath = g_strconcat ("auth/tools/", t, NULL);
  g_autofree gchar *tdata = rdt_state_encode_tool_entry (t, 4);
  g_autofree gchar *cpath = user_path (carol);
  g_autofree gchar *cdata = rdt_state_encode_user_entry (c);
  g_autofree gchar *dpath = user_path (dave);
  g_autofree gchar *ddata = rdt_state_encode_user_entry (d);
  g_autofree gchar *chat = rdt_state_encode_capability ("write", "topics/{any}/messages");
  g_autofree gchar *cchat = g_strconcat (cpath, "/rights/chat", NULL);
  g_autofree gchar *cprof = g_strconcat (cpath, "/rights/profile", NULL);
  g_autofree gchar *dchat = g_strconcat (dpath, "/rights/chat", NULL);
  g_autoptr (GPtrArray) rejected = NULL;

  add (f, f->owner, FALSE, tpath, tdata);
  add (f, tool, TRUE, cpath, cdata);                 /* 1 */
  add (f, tool, TRUE, "profiles/x", chat);           /* 2: counted, ignored */
  add (f, tool, TRUE, cchat, chat);                  /* 3 */
  add (f, tool, TRUE, cprof, chat);                  /* 4 */
  add (f, tool, TRUE, dpath, ddata);                 /* 5: over the limit */
  add (f, tool, TRUE, dchat, chat);
  rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_chain_rejection_free);
  g_assert_cmpuint (ingest_all (f, rejected), ==, 4);
  g_assert_cmpuint (rejected->len, ==, 3);
  g_assert_true (rdt_state_is_member (f->state, c));
  g_assert_false (rdt_state_is_member (f->state, d));
  g_assert_null (rdt_state_lookup (f->state, dchat));
  g_assert_nonnull (strstr (((RdtChainRejection *) rejected->pdata[1])->error->message,
                            "used up"));

  /* the same in two ingests (incremental sync): the count carries over */
  {
    g_autoptr (RdtState) again = rdt_state_new (f->space, f->keys->state_key);
    g_autoptr (GPtrArray) first = g_ptr_array_new ();
    g_autoptr (GPtrArray) rest = g_ptr_array_new ();

    for (guint i = 0; i < f->log->len; i++)
      g_ptr_array_add (i < 3 ? first : rest, f->log->pdata[i]);
    g_assert_cmpuint (rdt_state_ingest (again, first, NULL), ==, 2);
    g_assert_cmpuint (rdt_state_ingest (again, rest, NULL), ==, 2);
    g_assert_false (rdt_state_is_member (again, d));
  }
}

/* Metadata pasted under another topic's path does not name that topic;
 * undecryptable values (another space's key) give no name, no crash. */
static void
test_metadata_checks (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *meta = rdt_state_encode_topic_metadata (f->state, "general",
                                                            "General", &error);
  guint8 other_root[32];
  g_autoptr (RdtSpaceKeys) other = NULL;
  g_autoptr (RdtState) foreign = NULL;
  g_autofree gchar *foreign_meta = NULL;
  g_autofree gchar *n1 = NULL, *n2 = NULL, *n3 = NULL;

  g_assert_no_error (error);
  rdt_random_bytes (other_root, 32);
  other = rdt_space_keys_new (other_root, f->space);
  foreign = rdt_state_new (f->space, other->state_key);
  foreign_meta = rdt_state_encode_topic_metadata (foreign, "random", "X", &error);
  g_assert_no_error (error);

  add (f, f->owner, FALSE, "topics/general/metadata", meta);
  add (f, f->owner, FALSE, "topics/other/metadata", meta);
  add (f, f->owner, FALSE, "topics/random/metadata", foreign_meta);
  add (f, f->owner, FALSE, "topics/Bad!/metadata", meta);
  g_assert_cmpuint (ingest_all (f, NULL), ==, 4);
  n1 = rdt_state_get_topic_name (f->state, "general");
  n2 = rdt_state_get_topic_name (f->state, "other");
  n3 = rdt_state_get_topic_name (f->state, "random");
  g_assert_cmpstr (n1, ==, "General");
  g_assert_null (n2);
  g_assert_null (n3);
  /* listed (metadata exists) even when it cannot be read; bad ids never */
  {
    g_autoptr (GPtrArray) topics = rdt_state_list_topics (f->state);
    g_assert_cmpuint (topics->len, ==, 3);
  }
  g_assert_null (rdt_state_encode_topic_metadata (f->state, "x", "n", &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
}

static void
test_clean_name (void)
{
  g_autofree gchar *long_in = g_strnfill (200, 'a');
  g_autofree gchar *long_out = rdt_state_clean_name (long_in);
  g_autofree gchar *c1 = rdt_state_clean_name ("a\x01" "b\x7f" "c");
  g_autofree gchar *c2 = rdt_state_clean_name ("bad \xff utf8");
  g_autofree gchar *c3 = rdt_state_clean_name ("Zo\u00eb\u200b \u2028 K");

  g_assert_cmpint (g_utf8_strlen (long_out, -1), ==, RDT_STATE_MAX_NAME);
  g_assert_cmpstr (c1, ==, "abc");
  g_assert_true (g_utf8_validate (c2, -1, NULL));
  g_assert_cmpstr (c3, ==, "Zo\u00eb K");
  g_assert_null (rdt_state_clean_name ("  \t\n "));
  g_assert_null (rdt_state_clean_name ("\u202e"));
  g_assert_null (rdt_state_clean_name (NULL));
}

static void
test_plain_encoders (void)
{
  g_autofree gchar *d = rdt_state_encode_capability ("write", "topics/{any}/messages");
  gsize len = 0;
  g_autofree guint8 *raw = rdt_base64_decode (d, -1, &len, NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *o;

  g_assert_nonnull (raw);
  g_assert_true (json_parser_load_from_data (p, (const gchar *) raw, (gssize) len, NULL));
  o = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpstr (json_object_get_string_member (o, "op"), ==, "write");
  g_assert_cmpstr (json_object_get_string_member (o, "path"), ==,
                   "topics/{any}/messages");
  g_assert_cmpuint (json_object_get_size (o), ==, 2);
}

/* The space's name: encoded bound to this space, counted only from the
 * owner, cleaned like other names; the latest owner's write wins. */
static void
test_space_name (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtSigningKey) alice = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) other = rdt_signing_key_generate ();
  g_autofree gchar *other_space = rdt_signing_key_get_id (other, RDT_ID_SPACE);
  g_autoptr (RdtState) other_state = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rejected = NULL;
  g_autofree gchar *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL;
  g_autofree gchar *n1 = NULL, *n2 = NULL, *n3 = NULL;
  guint serial;

  g_assert_null (rdt_state_encode_space_metadata (f->state, " \t", &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (rdt_state_get_space_name (f->state));

  add_member (f, f->owner, alice);
  d1 = rdt_state_encode_space_metadata (f->state, "  Book\u200b club ", &error);
  g_assert_no_error (error);
  add (f, f->owner, FALSE, RDT_STATE_SPACE_PATH, d1);
  g_assert_cmpuint (ingest_all (f, NULL), ==, 2);
  n1 = rdt_state_get_space_name (f->state);
  g_assert_cmpstr (n1, ==, "Book club");

  /* a member's rename does not count, even if a server took it */
  serial = rdt_state_get_serial (f->state);
  d2 = rdt_state_encode_space_metadata (f->state, "Hijacked", &error);
  g_assert_no_error (error);
  add (f, alice, FALSE, RDT_STATE_SPACE_PATH, d2);
  rejected = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_chain_rejection_free);
  g_assert_cmpuint (ingest_all (f, rejected), ==, 0);
  g_assert_cmpuint (rejected->len, ==, 1);
  n2 = rdt_state_get_space_name (f->state);
  g_assert_cmpstr (n2, ==, "Book club");
  g_assert_cmpuint (rdt_state_get_serial (f->state), ==, serial);

  /* a name copied from another space (same key, other id) is not ours */
  other_state = rdt_state_new (other_space, f->keys->state_key);
  d3 = rdt_state_encode_space_metadata (other_state, "Elsewhere", &error);
  g_assert_no_error (error);
  add (f, f->owner, FALSE, RDT_STATE_SPACE_PATH, d3);
  ingest_all (f, NULL);
  g_assert_null (rdt_state_get_space_name (f->state));

  /* the owner renames it: seen, and the serial moves for the chats */
  serial = rdt_state_get_serial (f->state);
  d4 = rdt_state_encode_space_metadata (f->state, "Reading circle", &error);
  g_assert_no_error (error);
  add (f, f->owner, FALSE, RDT_STATE_SPACE_PATH, d4);
  g_assert_cmpuint (ingest_all (f, NULL), ==, 1);
  n3 = rdt_state_get_space_name (f->state);
  g_assert_cmpstr (n3, ==, "Reading circle");
  g_assert_cmpuint (rdt_state_get_serial (f->state), >, serial);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
#define ADD(name, fn) \
  g_test_add (name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/state/members-names-topics", test_members_names_topics);
  ADD ("/state/page-order", test_page_order);
  ADD ("/state/not-allowed", test_not_allowed);
  ADD ("/state/needs-genesis", test_needs_genesis);
  ADD ("/state/removed-and-tools", test_removed_and_tools);
  ADD ("/state/tool-revoked", test_tool_revoked);
  ADD ("/state/tool-paths", test_tool_paths);
  ADD ("/state/tool-use-limit", test_tool_use_limit);
  ADD ("/state/metadata-checks", test_metadata_checks);
  ADD ("/state/space-name", test_space_name);
  g_test_add_func ("/state/clean-name", test_clean_name);
  g_test_add_func ("/state/plain-encoders", test_plain_encoders);
  return g_test_run ();
}
