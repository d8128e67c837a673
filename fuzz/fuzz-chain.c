/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-chain.c - per-topic chain state under fuzzer-chosen delivery.
 *
 * The input is a program over the fixed pool of signed messages of
 * fixture.h: ingest one message, ingest a copy with one byte of one field
 * flipped, ingest a page or an older page made of fuzzer-chosen pool
 * entries (any order, duplicates), take the ready queue, pin a head.
 * Invariants checked after every step:
 *   - no message is handed out for display twice (take_ready and
 *     ingest_older together);
 *   - everything handed out verifies against the chain's space and topic
 *     and is an original pool message (a flipped copy never is, except a
 *     changed server_timestamp, which is not signed);
 *   - the head is NULL or a pool message the chain contains;
 *   - after APPENDED/FORK the head is that message or a descendant (parked
 *     children it released move the head on);
 *   - rdt_chain_ingest sets an error exactly when it returns REJECTED.
 * At the end, after a last take_ready, every message the chain accepted has
 * been handed out exactly once. */
#include <string.h>
#include <glib.h>
#include "chain.h"
#include "fixture.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

typedef struct {
  const guint8 *p;
  size_t        left;
} Reader;

static guint8
next (Reader *r)
{
  if (r->left == 0)
    return 0;
  r->left--;
  return *r->p++;
}

static gboolean
in_pool (Fixture *f, const gchar *hash)
{
  for (int i = 0; i < FIXTURE_N_POOL; i++)
    if (g_strcmp0 (f->pool[i]->message_hash, hash) == 0)
      return TRUE;
  return FALSE;
}

static void
hand_out (Fixture *f, GHashTable *shown, GPtrArray *msgs)
{
  GError *error = NULL;

  for (guint i = 0; i < msgs->len; i++)
    {
      RdtMessage *m = g_ptr_array_index (msgs, i);
      g_assert_nonnull (m);
      if (!g_hash_table_add (shown, g_strdup (m->message_hash)))
        g_error ("message %s handed out twice", m->message_hash);
      if (!rdt_message_verify (m, f->space_id, FIXTURE_TOPIC, &error))
        g_error ("unverifiable message handed out: %s", error->message);
      if (!in_pool (f, m->message_hash))
        g_error ("forged message %s handed out", m->message_hash);
    }
}

static void
check_head (Fixture *f, RdtChain *chain)
{
  RdtMessage *head = rdt_chain_get_head (chain);
  if (head == NULL)
    return;
  if (!in_pool (f, head->message_hash))
    g_error ("head %s is not a pool message", head->message_hash);
  g_assert_true (rdt_chain_contains (chain, head->message_hash));
  g_assert_true (rdt_chain_lookup (chain, head->message_hash) != NULL);
}

/* After APPENDED/FORK, m became the head; parked children released by it
 * may have moved the head further, but only onto m's descendants. */
static void
check_head_descends (RdtChain *chain, RdtMessage *m)
{
  /* Walk by hash: the chain keeps only compact nodes for old messages. */
  gchar *cur = g_strdup (rdt_chain_get_head (chain)->message_hash);
  gboolean found = FALSE;

  g_assert_true (rdt_chain_contains (chain, m->message_hash));
  while (cur != NULL)
    {
      gchar *parent = NULL;

      if (g_strcmp0 (cur, m->message_hash) == 0)
        {
          found = TRUE;
          break;
        }
      if (!rdt_chain_get_parent (chain, cur, &parent))
        g_clear_pointer (&parent, g_free);
      g_free (cur);
      cur = parent;
    }
  g_free (cur);
  if (!found)
    g_error ("after accepting %s the head %s does not descend from it",
             m->message_hash, rdt_chain_get_head (chain)->message_hash);
}

/* A copy of pool[idx] with one byte of one field changed. */
static RdtMessage *
mutate (Fixture *f, Reader *r)
{
  RdtMessage *m = rdt_message_copy (f->pool[next (r) % FIXTURE_N_POOL]);
  guint8 field = next (r) % 8, pos = next (r), x = next (r);
  gchar **s = NULL;

  switch (field)
    {
    case 0: s = &m->message_hash; break;
    case 1: s = &m->topic_id; break;
    case 2: s = &m->type; break;
    case 3: s = &m->prev_hash; break;
    case 4: s = &m->data; break;
    case 5: s = &m->sender; break;
    case 6: s = &m->signature; break;
    case 7: m->server_timestamp = (gint64) x * 1000 + pos; return m;
    }
  if (*s == NULL)
    {
      if (field == 3)   /* give a first message a parent */
        *s = g_strdup (f->pool[x % FIXTURE_N_POOL]->message_hash);
      return m;
    }
  gsize len = strlen (*s);
  if (len > 0)
    {
      guint8 c = (guint8) (*s)[pos % len] ^ (x ? x : 1);
      (*s)[pos % len] = c ? (gchar) c : 'A';
    }
  return m;
}

static GPtrArray *
make_page (Fixture *f, Reader *r)
{
  GPtrArray *page = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  guint n = next (r) % 16;

  for (guint i = 0; i < n && r->left > 0; i++)
    {
      guint8 b = next (r);
      if (b & 0x80)
        g_ptr_array_add (page, mutate (f, r));
      else
        g_ptr_array_add (page, rdt_message_ref (f->pool[b % FIXTURE_N_POOL]));
    }
  return page;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static gboolean init;
  if (!init)
    {
      g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
      init = TRUE;
    }
  Fixture *f = fixture_get ();
  Reader r = { data, size };
  RdtChain *chain = rdt_chain_new (f->space_id, FIXTURE_TOPIC);
  GHashTable *shown = g_hash_table_new_full (g_str_hash, g_str_equal,
                                             g_free, NULL);
  GError *error = NULL;
  guint steps = 0;

  while (r.left > 0 && steps++ < 256)
    {
      guint8 op = next (&r) % 6;
      switch (op)
        {
        case 0:
        case 1: {
          RdtMessage *m = op == 0
              ? rdt_message_ref (f->pool[next (&r) % FIXTURE_N_POOL])
              : mutate (f, &r);
          RdtChainResult res = rdt_chain_ingest (chain, m, &error);
          if (res == RDT_CHAIN_REJECTED)
            {
              g_assert_nonnull (error);
              g_clear_error (&error);
            }
          else
            g_assert_no_error (error);
          if (res == RDT_CHAIN_APPENDED || res == RDT_CHAIN_FORK)
            check_head_descends (chain, m);
          rdt_message_unref (m);
          break;
        }
        case 2: {
          GPtrArray *page = make_page (f, &r);
          GPtrArray *rejected = g_ptr_array_new_with_free_func (
              (GDestroyNotify) rdt_chain_rejection_free);
          rdt_chain_ingest_page (chain, page, rejected);
          for (guint i = 0; i < rejected->len; i++)
            {
              RdtChainRejection *rej = g_ptr_array_index (rejected, i);
              g_assert_nonnull (rej->msg);
              g_assert_nonnull (rej->error);
            }
          g_ptr_array_unref (rejected);
          g_ptr_array_unref (page);
          break;
        }
        case 3: {
          GPtrArray *page = make_page (f, &r);
          GPtrArray *older = rdt_chain_ingest_older (chain, page, &error);
          if (older != NULL)
            {
              g_assert_no_error (error);
              hand_out (f, shown, older);
              g_ptr_array_unref (older);
            }
          else
            {
              g_assert_nonnull (error);
              g_clear_error (&error);
            }
          g_ptr_array_unref (page);
          break;
        }
        case 4: {
          GPtrArray *ready = rdt_chain_take_ready (chain);
          hand_out (f, shown, ready);
          g_ptr_array_unref (ready);
          break;
        }
        case 5: {
          guint8 b = next (&r);
          RdtMessage *m = f->pool[b % FIXTURE_N_POOL];
          rdt_chain_set_pinned_head (chain, m->message_hash,
                                     m->server_timestamp + (b & 0x80 ? 1 : 0));
          (void) rdt_chain_get_pin_state (chain);
          break;
        }
        }
      check_head (f, chain);
      g_assert_cmpuint (rdt_chain_get_n_unlinked (chain), <=,
                        RDT_CHAIN_MAX_UNLINKED);
      (void) rdt_chain_get_anchor (chain);
      (void) rdt_chain_get_oldest_timestamp (chain);
      (void) rdt_chain_get_newest_timestamp (chain);
    }

  GPtrArray *ready = rdt_chain_take_ready (chain);
  hand_out (f, shown, ready);
  g_ptr_array_unref (ready);
  if (g_hash_table_size (shown) != rdt_chain_get_length (chain))
    g_error ("chain holds %u messages but %u were handed out",
             rdt_chain_get_length (chain), g_hash_table_size (shown));

  g_hash_table_unref (shown);
  rdt_chain_free (chain);
  return 0;
}
