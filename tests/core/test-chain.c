/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-chain.c - per-topic chain state: linking, parking, forks, pages,
 * back-fill and pinned heads, with messages signed by the Appendix A
 * member key. */
#include <string.h>

#include "chain.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "message.h"

#define SPACE   "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define MEMBER  "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define OWNER_U "UIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define MEMBER_SEED "0202020202020202020202020202020202020202020202020202020202020202"
#define MSG1_DATA "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA=="
#define MSG1_HASH "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe"
#define MSG1_SIG  "l3YZStUjYhQukP+/hhDjzkzApHODq+mVFNK3+DhSAmplFVFDN4XEPsTCFQzBlqIAwmevS3B2w8qd7a82ODboAQ=="
#define MSG2_HASH "MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt"
#define MSG2_SIG  "huduiuS7xhSNP74+y56rX6tclid103bKstgGbwsPaSCwxvRsrnR5ZKBLV0v4vQhfdsdujVd/STdr/fuylSymAw=="

static RdtSigningKey *member_key;

static RdtMessage *
make (const gchar *topic, const gchar *prev, const gchar *text, gint64 ts)
{
  g_autofree gchar *data = rdt_base64_encode ((const guint8 *) text,
                                              strlen (text));
  RdtMessage *m = rdt_message_new_signed (SPACE, topic, "chat.text", prev,
                                          data, MEMBER, member_key);

  m->server_timestamp = ts;
  return m;
}

/* A linear chain m[0..n-1] in topic "general"; m[0] is the topic's first
 * message; timestamps 1000 + 10 * i unless ts_step is 0 (all equal). */
static GPtrArray *
make_chain (guint n, gint64 ts_step, const gchar *salt)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  guint i;

  for (i = 0; i < n; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("%s message %u", salt, i);
      const gchar *prev = i ? ((RdtMessage *) a->pdata[i - 1])->message_hash
                            : NULL;

      g_ptr_array_add (a, make ("general", prev, text, 1000 + ts_step * i));
    }
  return a;
}

#define M(a, i) ((RdtMessage *) (a)->pdata[i])

/* A new array holding a[from..to] (inclusive), in reverse when reversed. */
static GPtrArray *
slice (GPtrArray *a, guint from, guint to, gboolean reversed)
{
  GPtrArray *s = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  guint i;

  for (i = from; i <= to; i++)
    g_ptr_array_add (s, rdt_message_ref (M (a, reversed ? to - (i - from) : i)));
  return s;
}

/* take_ready must return exactly a[from..to] in order. */
static void
assert_ready (RdtChain *chain, GPtrArray *a, guint from, guint to)
{
  g_autoptr(GPtrArray) ready = rdt_chain_take_ready (chain);
  guint i;

  g_assert_cmpuint (ready->len, ==, to - from + 1);
  for (i = from; i <= to; i++)
    g_assert_cmpstr (M (ready, i - from)->message_hash, ==,
                     M (a, i)->message_hash);
}

static void
assert_ready_empty (RdtChain *chain)
{
  g_autoptr(GPtrArray) ready = rdt_chain_take_ready (chain);

  g_assert_cmpuint (ready->len, ==, 0);
}

static RdtChainResult
ingest (RdtChain *chain, RdtMessage *m)
{
  g_autoptr(GError) error = NULL;
  RdtChainResult r = rdt_chain_ingest (chain, m, &error);

  if (r == RDT_CHAIN_REJECTED)
    g_assert_nonnull (error);
  else
    g_assert_no_error (error);
  return r;
}

/* ---- single ingest ---- */

static void
test_vectors_in_order (void)
{
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtMessage) m1 = rdt_message_new ();
  g_autoptr(RdtMessage) m2 = NULL;
  g_autoptr(GPtrArray) ready = NULL;

  m1->message_hash = g_strdup (MSG1_HASH);
  m1->topic_id = g_strdup ("general");
  m1->type = g_strdup ("chat.text");
  m1->data = g_strdup (MSG1_DATA);
  m1->sender = g_strdup (MEMBER);
  m1->signature = g_strdup (MSG1_SIG);
  m1->server_timestamp = 10;
  m2 = rdt_message_copy (m1);
  g_free (m2->message_hash);
  m2->message_hash = g_strdup (MSG2_HASH);
  m2->prev_hash = g_strdup (MSG1_HASH);
  g_free (m2->data);
  m2->data = g_strdup ("c2Vjb25k");
  g_free (m2->signature);
  m2->signature = g_strdup (MSG2_SIG);
  m2->server_timestamp = 20;

  g_assert_cmpstr (rdt_chain_get_topic_id (chain), ==, "general");
  g_assert_null (rdt_chain_get_head (chain));
  g_assert_cmpint (rdt_chain_get_oldest_timestamp (chain), ==, -1);
  g_assert_cmpint (ingest (chain, m1), ==, RDT_CHAIN_APPENDED);
  g_assert_cmpint (ingest (chain, m2), ==, RDT_CHAIN_APPENDED);
  g_assert_cmpstr (rdt_chain_get_head (chain)->message_hash, ==, MSG2_HASH);
  g_assert_null (rdt_chain_get_anchor (chain));
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 2);
  g_assert_true (rdt_chain_contains (chain, MSG1_HASH));
  g_assert_true (rdt_chain_lookup (chain, MSG2_HASH) == m2);
  g_assert_null (rdt_chain_lookup (chain, MSG1_HASH "x"));
  g_assert_cmpint (rdt_chain_get_oldest_timestamp (chain), ==, 10);
  g_assert_cmpint (rdt_chain_get_newest_timestamp (chain), ==, 20);
  ready = rdt_chain_take_ready (chain);
  g_assert_cmpuint (ready->len, ==, 2);
  g_assert_true (ready->pdata[0] == m1);
  g_assert_true (ready->pdata[1] == m2);
}

/* The Appendix A state write: topic "state", type = path, owner sender. */
static void
test_state_vector (void)
{
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "state");
  g_autoptr(RdtChain) wrong = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtMessage) m = NULL;
  g_autoptr(GError) error = NULL;

  m = rdt_message_parse (
      "{\"message_hash\":\"MEoLCDUkndB61rUP0xaHHZ0gWTUiWbH9QAedJr8CYb-B\","
      "\"topic_id\":\"state\",\"type\":\"auth/users/" MEMBER "\","
      "\"prev_hash\":null,\"data\":\"eyJ1c2VyX2lkIjogIlVJRTVkdzZvZlJkZlZx"
      "TlVac05NZnN6TGpZcVJ0TzQzb2wzMkQxdVB5Yk9VIn0=\",\"sender\":\"" OWNER_U
      "\",\"signature\":\"sEQD+DS2zdxBescWRXAPwOlLzhbc3sDb+J3VD+out6/v/0urQQ"
      "ycWB1VLanVXxX3lxKbJYKErqHnaDijV9y6CQ==\",\"server_timestamp\":1}",
      -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ingest (chain, m), ==, RDT_CHAIN_APPENDED);
  g_assert_null (rdt_chain_get_anchor (chain));
  g_assert_cmpint (rdt_chain_ingest (wrong, m, &error), ==, RDT_CHAIN_REJECTED);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
  g_assert_cmpuint (rdt_chain_get_length (wrong), ==, 0);
}

static void
test_gap_parked_then_released (void)
{
  g_autoptr(GPtrArray) a = make_chain (6, 10, "gap");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  GPtrArray *missing;

  g_assert_cmpint (ingest (chain, M (a, 0)), ==, RDT_CHAIN_APPENDED);
  assert_ready (chain, a, 0, 0);
  /* 5, 4, 3, 2 arrive before 1 */
  g_assert_cmpint (ingest (chain, M (a, 5)), ==, RDT_CHAIN_UNLINKED);
  g_assert_cmpint (ingest (chain, M (a, 3)), ==, RDT_CHAIN_UNLINKED);
  g_assert_cmpint (ingest (chain, M (a, 4)), ==, RDT_CHAIN_UNLINKED);
  g_assert_cmpint (ingest (chain, M (a, 2)), ==, RDT_CHAIN_UNLINKED);
  g_assert_cmpint (ingest (chain, M (a, 4)), ==, RDT_CHAIN_DUPLICATE);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 4);
  g_assert_false (rdt_chain_contains (chain, M (a, 3)->message_hash));
  assert_ready_empty (chain);
  /* Only 1 is wanted: 2..4 are parked, so not missing. */
  missing = rdt_chain_get_missing_parents (chain);
  g_assert_cmpuint (missing->len, ==, 1);
  g_assert_cmpstr (missing->pdata[0], ==, M (a, 1)->message_hash);
  g_clear_pointer (&missing, g_ptr_array_unref);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 0));

  g_assert_cmpint (ingest (chain, M (a, 1)), ==, RDT_CHAIN_APPENDED);
  assert_ready (chain, a, 1, 5);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 0);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 5));
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 6);
  missing = rdt_chain_get_missing_parents (chain);
  g_assert_cmpuint (missing->len, ==, 0);
  g_ptr_array_unref (missing);
}

/* A WebSocket message arriving before the first page is parked, then
 * released by the page. */
static void
test_parked_before_first_page (void)
{
  g_autoptr(GPtrArray) a = make_chain (6, 10, "early");
  g_autoptr(GPtrArray) page = slice (a, 1, 4, TRUE);
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  g_assert_cmpint (ingest (chain, M (a, 5)), ==, RDT_CHAIN_UNLINKED);
  rdt_chain_ingest_page (chain, page, NULL);
  assert_ready (chain, a, 1, 5);
  g_assert_cmpstr (rdt_chain_get_anchor (chain), ==, M (a, 0)->message_hash);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 5));
}

static void
test_duplicate (void)
{
  g_autoptr(GPtrArray) a = make_chain (2, 10, "dup");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtMessage) copy = rdt_message_copy (M (a, 0));
  g_autoptr(GPtrArray) page = slice (a, 0, 1, FALSE);

  g_assert_cmpint (ingest (chain, M (a, 0)), ==, RDT_CHAIN_APPENDED);
  g_assert_cmpint (ingest (chain, M (a, 0)), ==, RDT_CHAIN_DUPLICATE);
  /* the same message parsed again (another object) */
  g_assert_cmpint (ingest (chain, copy), ==, RDT_CHAIN_DUPLICATE);
  g_assert_cmpint (ingest (chain, M (a, 1)), ==, RDT_CHAIN_APPENDED);
  /* a page of known messages adds nothing */
  g_ptr_array_add (page, rdt_message_ref (M (a, 1)));
  rdt_chain_ingest_page (chain, page, NULL);
  assert_ready (chain, a, 0, 1);
  rdt_chain_ingest_page (chain, page, NULL);
  assert_ready_empty (chain);
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 2);
}

static void
test_fork (void)
{
  g_autoptr(GPtrArray) a = make_chain (3, 10, "fork");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtMessage) b1 = make ("general", M (a, 1)->message_hash,
                                   "second child of 1", 1025);
  g_autoptr(RdtMessage) c = make ("general", M (a, 2)->message_hash,
                                  "child of the old branch", 1030);
  g_autoptr(GPtrArray) ready = NULL;

  g_assert_cmpint (ingest (chain, M (a, 0)), ==, RDT_CHAIN_APPENDED);
  g_assert_cmpint (ingest (chain, M (a, 1)), ==, RDT_CHAIN_APPENDED);
  g_assert_cmpint (ingest (chain, M (a, 2)), ==, RDT_CHAIN_APPENDED);
  /* a second child of 1: the server's stuck-head edge case (spec 4.6) */
  g_assert_cmpint (ingest (chain, b1), ==, RDT_CHAIN_FORK);
  g_assert_true (rdt_chain_get_head (chain) == b1);
  /* a child of a known non-head message is a fork too */
  g_assert_cmpint (ingest (chain, c), ==, RDT_CHAIN_FORK);
  g_assert_true (rdt_chain_get_head (chain) == c);
  ready = rdt_chain_take_ready (chain);
  g_assert_cmpuint (ready->len, ==, 5);
  g_assert_true (ready->pdata[3] == b1);
  g_assert_true (ready->pdata[4] == c);
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 5);
}

static void
test_rejected (void)
{
  g_autoptr(GPtrArray) a = make_chain (3, 10, "forged");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtMessage) forged = rdt_message_copy (M (a, 1));
  g_autoptr(RdtMessage) forged_known = rdt_message_copy (M (a, 0));
  g_autoptr(RdtMessage) other_topic = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_chain_rejection_free);
  g_autoptr(GPtrArray) page = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  RdtChainRejection *r;

  g_free (forged->data);
  forged->data = g_strdup ("ZXZpbA==");
  g_free (forged_known->data);
  forged_known->data = g_strdup ("ZXZpbA==");

  g_assert_cmpint (rdt_chain_ingest (chain, forged, &error), ==,
                   RDT_CHAIN_REJECTED);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
  g_clear_error (&error);
  g_assert_cmpint (ingest (chain, M (a, 0)), ==, RDT_CHAIN_APPENDED);
  /* a forged copy of a known message is not a harmless duplicate */
  g_assert_cmpint (rdt_chain_ingest (chain, forged_known, &error), ==,
                   RDT_CHAIN_REJECTED);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
  g_clear_error (&error);
  /* a message of another topic, even a well-signed one */
  other_topic = make ("random", M (a, 0)->message_hash, "elsewhere", 1010);
  g_assert_cmpint (rdt_chain_ingest (chain, other_topic, &error), ==,
                   RDT_CHAIN_REJECTED);
  g_assert_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
  g_clear_error (&error);

  /* in a page: the forged message is reported, its genuine child is
   * parked (its parent is unknown), nothing forged is ever ready */
  page = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
  g_ptr_array_add (page, rdt_message_ref (M (a, 2)));
  g_ptr_array_add (page, rdt_message_ref (forged));
  rdt_chain_ingest_page (chain, page, rejected);
  g_assert_cmpuint (rejected->len, ==, 1);
  r = rejected->pdata[0];
  g_assert_true (r->msg == forged);
  g_assert_error (r->error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
  ready = rdt_chain_take_ready (chain);
  g_assert_cmpuint (ready->len, ==, 1);
  g_assert_true (ready->pdata[0] == M (a, 0));
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 1);
  g_assert_false (rdt_chain_contains (chain, forged->message_hash));

  /* the genuine message then releases the parked child */
  g_assert_cmpint (ingest (chain, M (a, 1)), ==, RDT_CHAIN_APPENDED);
  assert_ready (chain, a, 1, 2);
}

/* ---- pages ---- */

static void
test_page_newest_first (void)
{
  g_autoptr(GPtrArray) a = make_chain (10, 10, "page");
  g_autoptr(GPtrArray) page = slice (a, 3, 9, TRUE);
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_chain_rejection_free);

  rdt_chain_ingest_page (chain, page, rejected);
  g_assert_cmpuint (rejected->len, ==, 0);
  assert_ready (chain, a, 3, 9);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 9));
  /* TOFU anchor: the prev_hash of the oldest message of the first page */
  g_assert_cmpstr (rdt_chain_get_anchor (chain), ==, M (a, 2)->message_hash);
  g_assert_cmpint (rdt_chain_get_oldest_timestamp (chain), ==, 1030);
  g_assert_cmpint (rdt_chain_get_newest_timestamp (chain), ==, 1090);

  /* a sibling of the oldest message hangs off the anchor: a fork */
  {
    g_autoptr(RdtMessage) sib = make ("general", M (a, 2)->message_hash,
                                      "sibling at the anchor", 1031);
    g_assert_cmpint (ingest (chain, sib), ==, RDT_CHAIN_FORK);
  }
}

/* Equal timestamps, any order: the links decide. */
static void
test_page_equal_timestamps (void)
{
  g_autoptr(GPtrArray) a = make_chain (12, 0, "tie");
  g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  static const guint order[] = { 5, 0, 11, 3, 7, 1, 10, 2, 9, 4, 8, 6 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (order); i++)
    g_ptr_array_add (page, rdt_message_ref (M (a, order[i])));
  rdt_chain_ingest_page (chain, page, NULL);
  assert_ready (chain, a, 0, 11);
  g_assert_null (rdt_chain_get_anchor (chain));
  g_assert_true (rdt_chain_get_head (chain) == M (a, 11));
}

/* Timestamps running backwards along the chain: still link order. */
static void
test_page_misordered_timestamps (void)
{
  g_autoptr(GPtrArray) a = make_chain (8, -10, "backwards");
  g_autoptr(GPtrArray) page = slice (a, 0, 7, FALSE);
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  rdt_chain_ingest_page (chain, page, NULL);
  assert_ready (chain, a, 0, 7);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 7));
}

/* A page with a hole: the run holding the newest message is the history,
 * the older run is parked until back-fill links it. */
static void
test_page_two_runs (void)
{
  g_autoptr(GPtrArray) a = make_chain (10, 10, "runs");
  g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  g_autoptr(GPtrArray) older = slice (a, 5, 6, TRUE);
  g_autoptr(GPtrArray) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  GPtrArray *missing;

  g_ptr_array_add (page, rdt_message_ref (M (a, 9)));
  g_ptr_array_add (page, rdt_message_ref (M (a, 4)));
  g_ptr_array_add (page, rdt_message_ref (M (a, 8)));
  g_ptr_array_add (page, rdt_message_ref (M (a, 3)));
  g_ptr_array_add (page, rdt_message_ref (M (a, 7)));
  rdt_chain_ingest_page (chain, page, NULL);
  assert_ready (chain, a, 7, 9);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 2);
  g_assert_cmpstr (rdt_chain_get_anchor (chain), ==, M (a, 6)->message_hash);
  /* Wanted: first the anchor (3..4 are older than 7), then 2 below 3. */
  missing = rdt_chain_get_missing_parents (chain);
  g_assert_cmpuint (missing->len, ==, 2);
  g_assert_cmpstr (missing->pdata[0], ==, M (a, 6)->message_hash);
  g_assert_cmpstr (missing->pdata[1], ==, M (a, 2)->message_hash);
  g_ptr_array_unref (missing);

  /* back-fill 5..6; the parked 3..4 link below it and come along */
  got = rdt_chain_ingest_older (chain, older, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 4);
  g_assert_true (got->pdata[0] == M (a, 3));
  g_assert_true (got->pdata[3] == M (a, 6));
  g_assert_cmpstr (rdt_chain_get_anchor (chain), ==, M (a, 2)->message_hash);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 0);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 9));
  assert_ready_empty (chain);
}

/* A forward page after a gap does not link: parked, then released. */
static void
test_page_forward_gap (void)
{
  g_autoptr(GPtrArray) a = make_chain (8, 10, "fwd");
  g_autoptr(GPtrArray) first = slice (a, 0, 2, TRUE);
  g_autoptr(GPtrArray) late = slice (a, 5, 7, FALSE);
  g_autoptr(GPtrArray) fill = slice (a, 3, 4, FALSE);
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  rdt_chain_ingest_page (chain, first, NULL);
  assert_ready (chain, a, 0, 2);
  rdt_chain_ingest_page (chain, late, NULL);
  assert_ready_empty (chain);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 3);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 2));
  rdt_chain_ingest_page (chain, fill, NULL);
  assert_ready (chain, a, 3, 7);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 7));
}

/* A page with a fork: parent first, then both branches by time. */
static void
test_page_fork (void)
{
  g_autoptr(GPtrArray) a = make_chain (3, 10, "pfork");
  g_autoptr(RdtMessage) b = make ("general", M (a, 1)->message_hash, "b", 1021);
  g_autoptr(RdtMessage) b2 = make ("general", b->message_hash, "b2", 1040);
  g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  g_ptr_array_add (page, rdt_message_ref (b2));
  g_ptr_array_add (page, rdt_message_ref (M (a, 2)));
  g_ptr_array_add (page, rdt_message_ref (b));
  g_ptr_array_add (page, rdt_message_ref (M (a, 1)));
  g_ptr_array_add (page, rdt_message_ref (M (a, 0)));
  rdt_chain_ingest_page (chain, page, NULL);
  ready = rdt_chain_take_ready (chain);
  g_assert_cmpuint (ready->len, ==, 5);
  g_assert_true (ready->pdata[0] == M (a, 0));
  g_assert_true (ready->pdata[1] == M (a, 1));
  g_assert_true (ready->pdata[2] == M (a, 2)); /* ts 1020 */
  g_assert_true (ready->pdata[3] == b);        /* ts 1021 */
  g_assert_true (ready->pdata[4] == b2);
  g_assert_true (rdt_chain_get_head (chain) == b2);
}

/* ---- back-fill ---- */

static void
test_ingest_older (void)
{
  g_autoptr(GPtrArray) a = make_chain (10, 10, "older");
  g_autoptr(GPtrArray) other = make_chain (3, 10, "unrelated");
  g_autoptr(GPtrArray) newest = slice (a, 6, 9, TRUE);
  g_autoptr(GPtrArray) p1 = slice (a, 2, 6, TRUE);   /* 6 is the boundary */
  g_autoptr(GPtrArray) p2 = slice (a, 0, 2, TRUE);
  g_autoptr(GPtrArray) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  /* nothing to back-fill before the first page */
  g_assert_null (rdt_chain_ingest_older (chain, p1, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_CHAIN);
  g_clear_error (&error);

  rdt_chain_ingest_page (chain, newest, NULL);
  assert_ready (chain, a, 6, 9);
  g_assert_cmpstr (rdt_chain_get_anchor (chain), ==, M (a, 5)->message_hash);

  /* a page that does not link down to the anchor is refused */
  g_assert_null (rdt_chain_ingest_older (chain, other, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_CHAIN);
  g_clear_error (&error);
  g_assert_cmpstr (rdt_chain_get_anchor (chain), ==, M (a, 5)->message_hash);

  got = rdt_chain_ingest_older (chain, p1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 4);
  g_assert_true (got->pdata[0] == M (a, 2));
  g_assert_true (got->pdata[3] == M (a, 5));
  g_assert_cmpstr (rdt_chain_get_anchor (chain), ==, M (a, 1)->message_hash);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 9));
  g_assert_cmpint (rdt_chain_get_oldest_timestamp (chain), ==, 1020);
  assert_ready_empty (chain);
  g_clear_pointer (&got, g_ptr_array_unref);

  /* the same page again: only boundary duplicates, nothing new */
  got = rdt_chain_ingest_older (chain, p1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 0);
  g_clear_pointer (&got, g_ptr_array_unref);

  got = rdt_chain_ingest_older (chain, p2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 2);
  g_assert_true (got->pdata[0] == M (a, 0));
  g_assert_null (rdt_chain_get_anchor (chain));
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 10);
  g_clear_pointer (&got, g_ptr_array_unref);

  /* nothing can be older than the topic's first message */
  g_assert_null (rdt_chain_ingest_older (chain, other, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_CHAIN);
  g_clear_error (&error);
}

static void
test_ingest_older_forged_anchor (void)
{
  g_autoptr(GPtrArray) a = make_chain (6, 10, "forgedold");
  g_autoptr(GPtrArray) newest = slice (a, 3, 5, TRUE);
  g_autoptr(GPtrArray) older = slice (a, 0, 2, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  RdtMessage *anchor_msg;

  rdt_chain_ingest_page (chain, newest, NULL);
  /* the server tampers with the message the anchor names */
  anchor_msg = rdt_message_copy (M (older, 0));
  g_free (anchor_msg->data);
  anchor_msg->data = g_strdup ("ZXZpbA==");
  rdt_message_unref (M (older, 0));
  g_ptr_array_index (older, 0) = anchor_msg;

  g_assert_null (rdt_chain_ingest_older (chain, older, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_CHAIN);
  g_assert_nonnull (strstr (error->message, "hash"));
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 3);
}

/* Older messages handed to ingest_page() (a forward page from too far
 * back) are parked; back-fill then links them even from a page that holds
 * only the boundary message. */
static void
test_page_then_older (void)
{
  g_autoptr(GPtrArray) a = make_chain (8, 10, "fromzero");
  g_autoptr(GPtrArray) newest = slice (a, 4, 7, TRUE);
  g_autoptr(GPtrArray) all = slice (a, 0, 7, FALSE);
  g_autoptr(GPtrArray) boundary = slice (a, 4, 4, FALSE);
  g_autoptr(GPtrArray) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  rdt_chain_ingest_page (chain, newest, NULL);
  assert_ready (chain, a, 4, 7);
  rdt_chain_ingest_page (chain, all, NULL);
  assert_ready_empty (chain);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 4);
  got = rdt_chain_ingest_older (chain, boundary, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 4);
  g_assert_true (got->pdata[0] == M (a, 0));
  g_assert_true (got->pdata[3] == M (a, 3));
  g_assert_null (rdt_chain_get_anchor (chain));
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 0);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 7));
}

/* ---- pinned head ---- */

static void
test_pin_confirmed (void)
{
  g_autoptr(GPtrArray) a = make_chain (10, 10, "pin");
  g_autoptr(GPtrArray) page = slice (a, 4, 9, TRUE);
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==, RDT_CHAIN_PIN_NONE);
  rdt_chain_set_pinned_head (chain, M (a, 6)->message_hash, 1060);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==, RDT_CHAIN_PIN_PENDING);
  rdt_chain_ingest_page (chain, page, NULL);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==,
                   RDT_CHAIN_PIN_CONFIRMED);
  /* setting a pin on an already-known message confirms at once */
  rdt_chain_set_pinned_head (chain, M (a, 9)->message_hash, 1090);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==,
                   RDT_CHAIN_PIN_CONFIRMED);
  rdt_chain_set_pinned_head (chain, NULL, -1);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==, RDT_CHAIN_PIN_NONE);
}

static void
test_pin_pending_then_confirmed (void)
{
  g_autoptr(GPtrArray) a = make_chain (10, 10, "pinold");
  g_autoptr(GPtrArray) page = slice (a, 5, 9, TRUE);
  g_autoptr(GPtrArray) older = slice (a, 0, 5, TRUE);
  g_autoptr(GPtrArray) got = NULL;
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");

  /* the pinned head is older than the first page: not seen yet */
  rdt_chain_set_pinned_head (chain, M (a, 2)->message_hash, 1020);
  rdt_chain_ingest_page (chain, page, NULL);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==, RDT_CHAIN_PIN_PENDING);
  got = rdt_chain_ingest_older (chain, older, NULL);
  g_assert_nonnull (got);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==,
                   RDT_CHAIN_PIN_CONFIRMED);
}

/* Catching up oldest first one message at a time must not cry wolf
 * before the pinned timestamp is passed. */
static void
test_pin_forward_catch_up (void)
{
  g_autoptr(GPtrArray) a = make_chain (8, 10, "pinfwd");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  guint i;

  rdt_chain_set_pinned_head (chain, M (a, 5)->message_hash, 1050);
  for (i = 0; i < 5; i++)
    {
      g_assert_cmpint (ingest (chain, M (a, i)), ==, RDT_CHAIN_APPENDED);
      g_assert_cmpint (rdt_chain_get_pin_state (chain), ==,
                       RDT_CHAIN_PIN_PENDING);
    }
  g_assert_cmpint (ingest (chain, M (a, 5)), ==, RDT_CHAIN_APPENDED);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==,
                   RDT_CHAIN_PIN_CONFIRMED);
}

static void
test_pin_rewritten (void)
{
  g_autoptr(GPtrArray) a = make_chain (10, 10, "real");
  g_autoptr(GPtrArray) gone = make_chain (6, 10, "rewritten away");
  g_autoptr(GPtrArray) page = slice (a, 3, 9, TRUE);
  g_autoptr(GPtrArray) all = slice (a, 0, 9, TRUE);
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtChain) rooted = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtChain) tie = rdt_chain_new (SPACE, "general");

  /* the pinned head had ts 1051; the server's history covers 1030..1090
   * without it */
  rdt_chain_set_pinned_head (chain, M (gone, 5)->message_hash, 1051);
  rdt_chain_ingest_page (chain, page, NULL);
  g_assert_cmpint (rdt_chain_get_pin_state (chain), ==,
                   RDT_CHAIN_PIN_REWRITTEN);

  /* older than anything the server has, but the chain reaches the topic's
   * first message */
  rdt_chain_set_pinned_head (rooted, M (gone, 5)->message_hash, 5);
  rdt_chain_ingest_page (rooted, all, NULL);
  g_assert_cmpint (rdt_chain_get_pin_state (rooted), ==,
                   RDT_CHAIN_PIN_REWRITTEN);

  /* at the page boundary timestamp: ties may be cut off, stay pending */
  rdt_chain_set_pinned_head (tie, M (gone, 5)->message_hash, 1030);
  rdt_chain_ingest_page (tie, page, NULL);
  g_assert_cmpint (rdt_chain_get_pin_state (tie), ==, RDT_CHAIN_PIN_PENDING);
}

/* ---- bounds and scale ---- */

static void
test_unlinked_bound (void)
{
  g_autoptr(GPtrArray) a = make_chain (RDT_CHAIN_MAX_UNLINKED + 6, 1, "many");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  guint i;

  /* without message 0 nothing links: everything is parked, the oldest
   * parked are dropped beyond the bound */
  for (i = 1; i < a->len; i++)
    g_assert_cmpint (ingest (chain, M (a, i)), ==, RDT_CHAIN_UNLINKED);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==,
                    RDT_CHAIN_MAX_UNLINKED);
  g_assert_cmpint (ingest (chain, M (a, 0)), ==, RDT_CHAIN_APPENDED);
  /* 1..5 were dropped, so nothing is released */
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 1);
  /* feeding the dropped ones back releases the whole parked run */
  for (i = 1; i <= 5; i++)
    g_assert_cmpint (ingest (chain, M (a, i)), ==, RDT_CHAIN_APPENDED);
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, a->len);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 0);
  assert_ready (chain, a, 0, a->len - 1);
}

/* Ten pages of 1000 (server limit), newest first, back-filled. */
static void
test_large_topic (void)
{
  g_autoptr(GPtrArray) a = make_chain (10000, 1, "big");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(GPtrArray) first = slice (a, 9000, 9999, TRUE);
  gint from;

  rdt_chain_ingest_page (chain, first, NULL);
  assert_ready (chain, a, 9000, 9999);
  for (from = 8000; from >= 0; from -= 1000)
    {
      g_autoptr(GPtrArray) page = slice (a, from, from + 1000, TRUE);
      g_autoptr(GPtrArray) got = rdt_chain_ingest_older (chain, page, NULL);

      g_assert_nonnull (got);
      g_assert_cmpuint (got->len, ==, 1000);
      g_assert_true (got->pdata[0] == M (a, from));
    }
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, 10000);
  g_assert_null (rdt_chain_get_anchor (chain));
  g_assert_true (rdt_chain_get_head (chain) == M (a, 9999));
}

/* A page large enough to be verified on several threads: every forged
 * message must be rejected as itself (results stay with their message),
 * in page order, and every genuine one accepted in chain order. Forged
 * copies come before the genuine message of the same hash so that page
 * dedupe cannot hide them. */
static void
test_page_parallel_verify (void)
{
  g_autoptr(GPtrArray) a = make_chain (300, 10, "parallel");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(GPtrArray) page = slice (a, 0, 299, TRUE);
  g_autoptr(GPtrArray) forged = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_chain_rejection_free);
  const guint at[] = { 0, 1, 2, 33, 64, 150, 151, 298 };
  guint i;

  /* Insert from the back so earlier positions stay valid; the forged copy
   * of page[k] goes right before it. */
  for (i = G_N_ELEMENTS (at); i-- > 0;)
    {
      RdtMessage *f = rdt_message_copy (M (page, at[i]));

      if (i % 2 == 0)
        {
          g_free (f->signature);   /* a real signature, of another message */
          f->signature = g_strdup (M (page, (at[i] + 1) % 300)->signature);
        }
      else
        {
          g_free (f->data);
          f->data = g_strdup ("ZXZpbA==");
        }
      g_ptr_array_insert (page, at[i], rdt_message_ref (f));
      g_ptr_array_insert (forged, 0, f);
    }

  rdt_chain_ingest_page (chain, page, rejected);
  g_assert_cmpuint (rejected->len, ==, G_N_ELEMENTS (at));
  for (i = 0; i < rejected->len; i++)
    {
      RdtChainRejection *r = rejected->pdata[i];
      gint code = i % 2 == 0 ? RDT_ERROR_BAD_SIGNATURE
                             : RDT_ERROR_HASH_MISMATCH;

      g_assert_true (r->msg == forged->pdata[i]);
      g_assert_error (r->error, RDT_ERROR, code);
    }
  assert_ready (chain, a, 0, 299);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 299));
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 0);
}

/* rdt_chain_ingest_each: verified on all cores, linked as one by one:
 * no first-use anchor (a batch without the first message is only parked),
 * forgeries rejected in order, a copy of the head a duplicate. */
static void
test_ingest_each (void)
{
  g_autoptr(GPtrArray) a = make_chain (200, 10, "each");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(GPtrArray) tail = slice (a, 1, 199, FALSE);
  g_autoptr(GPtrArray) batch = slice (a, 0, 0, FALSE);
  g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_chain_rejection_free);
  RdtMessage *forged = rdt_message_copy (M (a, 120));
  RdtChainRejection *r;

  /* Without its first message nothing is trusted, unlike a page. */
  rdt_chain_ingest_each (chain, tail, rejected);
  g_assert_cmpuint (rejected->len, ==, 0);
  g_assert_null (rdt_chain_get_head (chain));
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 199);
  assert_ready_empty (chain);

  g_free (forged->data);
  forged->data = g_strdup ("ZXZpbA==");
  g_ptr_array_add (batch, forged);
  g_ptr_array_add (batch, rdt_message_ref (M (a, 0)));  /* known by then */
  rdt_chain_ingest_each (chain, batch, rejected);
  g_assert_cmpuint (rejected->len, ==, 1);
  r = rejected->pdata[0];
  g_assert_true (r->msg == forged);
  g_assert_error (r->error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH);
  assert_ready (chain, a, 0, 199);
  g_assert_true (rdt_chain_get_head (chain) == M (a, 199));
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 0);
}

/* Walking ancestry by hash: head back to the topic's first message. */
static void
test_get_parent (void)
{
  g_autoptr(GPtrArray) a = make_chain (5, 10, "parent");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(GPtrArray) page = slice (a, 0, 4, TRUE);
  g_autofree gchar *cur = NULL;
  gchar *parent = (gchar *) "untouched";
  gint i;

  g_assert_false (rdt_chain_get_parent (chain, M (a, 4)->message_hash,
                                        &parent));
  g_assert_null (parent);
  rdt_chain_ingest_page (chain, page, NULL);
  cur = g_strdup (rdt_chain_get_head (chain)->message_hash);
  for (i = 4; i >= 0; i--)
    {
      g_assert_cmpstr (cur, ==, M (a, i)->message_hash);
      g_assert_true (rdt_chain_get_parent (chain, cur, &parent));
      g_free (cur);
      cur = parent;
    }
  g_assert_null (cur);   /* the first message has no parent */
  g_assert_false (rdt_chain_get_parent (chain, "Mnot-a-known-hash", NULL));
  g_assert_true (rdt_chain_get_parent (chain, M (a, 2)->message_hash, NULL));
}

/* Issue #8: once delivered, old messages are not held whole by the chain
 * (only compact nodes): the caller's ref is the last one, while linking,
 * dedupe and ancestry still work for all of them. */
static void
test_compact_nodes (void)
{
  const guint n = 10000;
  g_autoptr(GPtrArray) a = make_chain (n, 10, "compact");
  g_autoptr(RdtChain) chain = rdt_chain_new (SPACE, "general");
  g_autoptr(RdtMessage) copy = NULL;
  g_autoptr(RdtMessage) forged = NULL;
  g_autoptr(GError) error = NULL;
  gchar *cur;
  guint i, from, walked = 0;

  for (from = 0; from < n; from += RDT_MAX_PAGE_MESSAGES)
    {
      g_autoptr(GPtrArray) page = slice (a, from,
                                         MIN (from + RDT_MAX_PAGE_MESSAGES,
                                              n) - 1, TRUE);
      g_autoptr(GPtrArray) ready = NULL;

      rdt_chain_ingest_page (chain, page, NULL);
      ready = rdt_chain_take_ready (chain);
      g_assert_cmpuint (ready->len, ==, page->len);
    }
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, n);
  g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), ==, 0);
  g_assert_true (rdt_chain_get_head (chain) == M (a, n - 1));

  /* a (the test's array) holds one ref; the chain holds one more for the
   * head only. */
  for (i = 0; i < n - 1; i++)
    g_assert_cmpint (g_atomic_int_get (&M (a, i)->ref_count), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&M (a, n - 1)->ref_count), ==, 2);
  g_assert_null (rdt_chain_lookup (chain, M (a, 5)->message_hash));
  g_assert_true (rdt_chain_lookup (chain, M (a, n - 1)->message_hash) ==
                 M (a, n - 1));

  /* ancestry: head down to the first message, every link right */
  cur = g_strdup (M (a, n - 1)->message_hash);
  while (cur != NULL)
    {
      gchar *parent = NULL;

      g_assert_cmpstr (cur, ==, M (a, n - 1 - walked)->message_hash);
      g_assert_true (rdt_chain_get_parent (chain, cur, &parent));
      g_free (cur);
      cur = parent;
      walked++;
    }
  g_assert_cmpuint (walked, ==, n);

  /* dedupe without the whole message: a valid copy of an old message is
   * a duplicate, a forged one (same hash, other data) is rejected */
  copy = rdt_message_copy (M (a, 42));
  g_assert_cmpint (ingest (chain, copy), ==, RDT_CHAIN_DUPLICATE);
  forged = rdt_message_copy (M (a, 42));
  g_free (forged->data);
  forged->data = g_strdup ("ZXZpbA==");
  g_assert_cmpint (rdt_chain_ingest (chain, forged, &error), ==,
                   RDT_CHAIN_REJECTED);
  g_assert_nonnull (error);
  assert_ready_empty (chain);
  g_assert_cmpuint (rdt_chain_get_length (chain), ==, n);
}

int
main (int argc, char **argv)
{
  guint8 seed[32];
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_assert_true (rdt_crypto_init ());
  g_assert_true (rdt_hex_decode (MEMBER_SEED, seed, sizeof seed, NULL));
  member_key = rdt_signing_key_new_from_seed (seed);

  g_test_add_func ("/chain/ingest/vectors-in-order", test_vectors_in_order);
  g_test_add_func ("/chain/ingest/state-vector", test_state_vector);
  g_test_add_func ("/chain/ingest/gap", test_gap_parked_then_released);
  g_test_add_func ("/chain/ingest/parked-before-page",
                   test_parked_before_first_page);
  g_test_add_func ("/chain/ingest/duplicate", test_duplicate);
  g_test_add_func ("/chain/ingest/fork", test_fork);
  g_test_add_func ("/chain/ingest/rejected", test_rejected);
  g_test_add_func ("/chain/page/newest-first", test_page_newest_first);
  g_test_add_func ("/chain/page/equal-timestamps", test_page_equal_timestamps);
  g_test_add_func ("/chain/page/misordered-timestamps",
                   test_page_misordered_timestamps);
  g_test_add_func ("/chain/page/two-runs", test_page_two_runs);
  g_test_add_func ("/chain/page/forward-gap", test_page_forward_gap);
  g_test_add_func ("/chain/page/fork", test_page_fork);
  g_test_add_func ("/chain/older/link", test_ingest_older);
  g_test_add_func ("/chain/older/parked-by-page", test_page_then_older);
  g_test_add_func ("/chain/older/forged-anchor",
                   test_ingest_older_forged_anchor);
  g_test_add_func ("/chain/pin/confirmed", test_pin_confirmed);
  g_test_add_func ("/chain/pin/pending", test_pin_pending_then_confirmed);
  g_test_add_func ("/chain/pin/forward-catch-up", test_pin_forward_catch_up);
  g_test_add_func ("/chain/pin/rewritten", test_pin_rewritten);
  g_test_add_func ("/chain/bound/unlinked", test_unlinked_bound);
  g_test_add_func ("/chain/scale/10000", test_large_topic);
  g_test_add_func ("/chain/page/parallel-verify", test_page_parallel_verify);
  g_test_add_func ("/chain/ingest/each", test_ingest_each);
  g_test_add_func ("/chain/lookup/parent", test_get_parent);
  g_test_add_func ("/chain/memory/compact-nodes", test_compact_nodes);

  ret = g_test_run ();
  rdt_signing_key_free (member_key);
  return ret;
}
