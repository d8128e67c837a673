/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain.c - per-topic hash-chain state (spec sections 4.5, 4.6, 5.2, 15.8).
 *
 * Model. Every message is verified (hash with OUR space and topic, Ed25519
 * signature of its sender) before the chain looks at its links. Verified
 * messages are then either
 *   - accepted ("known"): their prev_hash is a known message, or the TOFU
 *     anchor (the prev_hash of the oldest known message), or - for the very
 *     first message(s) of an empty chain - whatever the chain starts from;
 *   - parked ("unlinked"): verified, but their parent is not known yet.
 *     They are indexed by prev_hash and released as soon as the parent is
 *     accepted, by a worklist loop (never recursion).
 *
 * Order. Accepted messages are emitted in a topological order of the
 * prev_hash links; among messages that are ready at the same time (siblings
 * of a fork, or independent runs) the smaller server_timestamp goes first,
 * then the smaller hash, so the order is deterministic. Timestamps never
 * override links: a child is never emitted before its parent, whatever the
 * timestamps or the order the server sent.
 *
 * Head. Every accepted message (APPENDED or FORK) becomes the head, as in
 * spec 15.8: after a page the head is the last message in the order above,
 * i.e. the newest tip. Back-filled older messages never move the head.
 *
 * Memory (issue #8). An accepted message is kept as a compact Node only:
 * its raw 32-byte hash, a pointer to its parent node, its timestamp (48
 * bytes plus a hash-table slot), which is all that linking, dedupe and
 * ancestry walks need. Whole RdtMessages are kept only where still needed:
 * the head, parked messages and the ready queue until it is taken. A node
 * whose parent was not known when it was accepted (the oldest message and
 * its siblings at the anchor) keeps its prev_hash string in a side table.
 * Parked messages are capped at RDT_CHAIN_MAX_UNLINKED; beyond that the
 * longest-parked one is dropped (it will come back with the resync that
 * the caller schedules on UNLINKED). All lookups are hash tables; a page is
 * ordered in O(n log n).
 */
#include "config.h"
#include "chain.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "error.h"
#include "id.h"

/* An accepted message, compact. Nodes live in slabs so their addresses
 * are stable: the known set and parent links point at them. */
typedef struct _Node Node;
struct _Node {
  guint8  hash[32];  /* decoded M id (data part); first: the set's key */
  Node   *parent;    /* NULL: first message, or parent unknown (see roots) */
  gint64  ts;        /* server_timestamp */
};

#define NODE_SLAB 1024

typedef struct {
  RdtMessage *msg;   /* owned ref */
  GList      *qlink; /* our link in chain->parked_order */
} Parked;

struct _RdtChain {
  gchar *space_id;
  gchar *topic_id;

  GHashTable *known;        /* set of Node* keyed by Node.hash */
  GPtrArray  *slabs;        /* Node[NODE_SLAB] blocks (owned) */
  guint       slab_used;    /* nodes used in the last slab */
  GHashTable *roots;        /* Node* -> prev_hash (owned) for nodes whose
                             * parent was unknown when accepted */
  RdtMessage *head;         /* owned ref */
  gboolean    anchored;     /* TRUE once the first message was accepted */
  gchar      *anchor;       /* prev_hash of the oldest known; NULL = root */
  gint64      oldest_ts;
  gint64      newest_ts;

  GHashTable *parked;       /* hash (owned) -> Parked (owned) */
  GHashTable *waiting;      /* prev_hash (owned) -> GPtrArray of Parked */
  GQueue      parked_order; /* Parked*, oldest first (for eviction) */

  GPtrArray  *ready;        /* accepted since the last take, chain order */

  gchar           *pin_hash;
  gint64           pin_ts;
  RdtChainPinState pin_state;
};

static void
parked_free (gpointer p)
{
  Parked *parked = p;

  rdt_message_unref (parked->msg);
  g_free (parked);
}

/* Digests are SHA-256 outputs, but a poster can grind messages whose
 * first bytes collide; a per-process random salt mixed in before the
 * multiply keeps table buckets unpredictable to it. */
static guint64 node_salt;
static gsize   node_salt_set;

static guint
node_hash (gconstpointer key)
{
  const Node *n = key;
  guint64 h;

  memcpy (&h, n->hash, sizeof h);
  h = (h ^ node_salt) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  return (guint) (h >> 32);
}

static gboolean
node_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (((const Node *) a)->hash, ((const Node *) b)->hash, 32) == 0;
}

/* Binary hash of an M id; FALSE if it is not one (then it is not known). */
static gboolean
decode_hash (const gchar *message_hash, guint8 out[32])
{
  return message_hash != NULL &&
         rdt_id_decode_typed (message_hash, RDT_ID_MESSAGE, out, NULL);
}

static Node *
known_find (RdtChain *chain, const gchar *message_hash)
{
  Node probe;

  if (!decode_hash (message_hash, probe.hash))
    return NULL;
  return g_hash_table_lookup (chain->known, &probe);
}

static gboolean
known_has (RdtChain *chain, const gchar *message_hash)
{
  return known_find (chain, message_hash) != NULL;
}

static Node *
node_alloc (RdtChain *chain)
{
  Node *slab;

  if (chain->slabs->len == 0 || chain->slab_used == NODE_SLAB)
    {
      g_ptr_array_add (chain->slabs, g_new0 (Node, NODE_SLAB));
      chain->slab_used = 0;
    }
  slab = chain->slabs->pdata[chain->slabs->len - 1];
  return &slab[chain->slab_used++];
}

RdtChain *
rdt_chain_new (const gchar *space_id, const gchar *topic_id)
{
  RdtChain *chain;

  g_return_val_if_fail (space_id != NULL && topic_id != NULL, NULL);

  chain = g_new0 (RdtChain, 1);
  chain->space_id = g_strdup (space_id);
  chain->topic_id = g_strdup (topic_id);
  if (g_once_init_enter (&node_salt_set))
    {
      node_salt = (guint64) g_random_int () << 32 | g_random_int ();
      g_once_init_leave (&node_salt_set, 1);
    }
  chain->known = g_hash_table_new (node_hash, node_equal);
  chain->slabs = g_ptr_array_new_with_free_func (g_free);
  chain->roots = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                        g_free);
  chain->parked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         parked_free);
  chain->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) g_ptr_array_unref);
  g_queue_init (&chain->parked_order);
  chain->ready = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  chain->oldest_ts = -1;
  chain->newest_ts = -1;
  chain->pin_state = RDT_CHAIN_PIN_NONE;
  chain->pin_ts = -1;
  return chain;
}

void
rdt_chain_free (RdtChain *chain)
{
  if (chain == NULL)
    return;
  g_queue_clear (&chain->parked_order);
  g_hash_table_destroy (chain->waiting);
  g_hash_table_destroy (chain->parked);
  g_hash_table_destroy (chain->known);
  g_hash_table_destroy (chain->roots);
  g_ptr_array_unref (chain->slabs);
  g_clear_pointer (&chain->head, rdt_message_unref);
  g_ptr_array_unref (chain->ready);
  g_free (chain->anchor);
  g_free (chain->pin_hash);
  g_free (chain->space_id);
  g_free (chain->topic_id);
  g_free (chain);
}

const gchar *
rdt_chain_get_topic_id (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, NULL);
  return chain->topic_id;
}

void
rdt_chain_rejection_free (RdtChainRejection *rejection)
{
  if (rejection == NULL)
    return;
  rdt_message_unref (rejection->msg);
  g_clear_error (&rejection->error);
  g_free (rejection);
}

/* ------------------------------------------------------------------ */
/* Parking */

static void
unpark_index (RdtChain *chain, Parked *p)
{
  GPtrArray *siblings;

  if (p->msg->prev_hash == NULL)
    return;
  siblings = g_hash_table_lookup (chain->waiting, p->msg->prev_hash);
  if (siblings == NULL)
    return;
  g_ptr_array_remove_fast (siblings, p);
  if (siblings->len == 0)
    g_hash_table_remove (chain->waiting, p->msg->prev_hash);
}

/* Remove a parked message; returns a ref to it. */
static RdtMessage *
unpark (RdtChain *chain, Parked *p, gboolean update_index)
{
  RdtMessage *msg = rdt_message_ref (p->msg);

  if (update_index)
    unpark_index (chain, p);
  g_queue_delete_link (&chain->parked_order, p->qlink);
  g_hash_table_remove (chain->parked, msg->message_hash); /* frees p */
  return msg;
}

static void
park (RdtChain *chain, RdtMessage *msg)
{
  Parked *p;

  if (g_hash_table_contains (chain->parked, msg->message_hash))
    return;

  while (g_queue_get_length (&chain->parked_order) >= RDT_CHAIN_MAX_UNLINKED)
    {
      RdtMessage *old = unpark (chain, g_queue_peek_head (&chain->parked_order),
                                TRUE);
      rdt_message_unref (old);
    }

  p = g_new0 (Parked, 1);
  p->msg = rdt_message_ref (msg);
  g_queue_push_tail (&chain->parked_order, p);
  p->qlink = g_queue_peek_tail_link (&chain->parked_order);
  g_hash_table_insert (chain->parked, g_strdup (msg->message_hash), p);

  /* A message with no parent (a second "first message") can never be
   * released; it stays parked until evicted. */
  if (msg->prev_hash != NULL)
    {
      GPtrArray *siblings = g_hash_table_lookup (chain->waiting,
                                                 msg->prev_hash);
      if (siblings == NULL)
        {
          siblings = g_ptr_array_new ();
          g_hash_table_insert (chain->waiting, g_strdup (msg->prev_hash),
                               siblings);
        }
      g_ptr_array_add (siblings, p);
    }
}

/* ------------------------------------------------------------------ */
/* Accepting */

/* Ready-queue order: server_timestamp, then hash. */
static gint
order_cmp (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const RdtMessage *ma = a;
  const RdtMessage *mb = b;

  if (ma->server_timestamp != mb->server_timestamp)
    return ma->server_timestamp < mb->server_timestamp ? -1 : 1;
  return strcmp (ma->message_hash, mb->message_hash);
}

static void
update_pin (RdtChain *chain)
{
  gboolean covers_old;

  if (chain->pin_state == RDT_CHAIN_PIN_NONE ||
      chain->pin_state == RDT_CHAIN_PIN_CONFIRMED)
    return;
  if (known_has (chain, chain->pin_hash))
    {
      chain->pin_state = RDT_CHAIN_PIN_CONFIRMED;
      return;
    }
  if (chain->pin_state != RDT_CHAIN_PIN_PENDING)
    return;
  /* Still waiting for its parent: not gone. */
  if (g_hash_table_contains (chain->parked, chain->pin_hash))
    return;

  /* REWRITTEN when the known messages span the pinned timestamp: the
   * server answers time ranges completely, and every accepted message is
   * linked to the rest, so the known set covers [oldest_ts, newest_ts]
   * (or [first message, newest_ts] once the root is known). Both ends are
   * strict because tied timestamps at a page boundary may be cut off. */
  covers_old = (chain->anchored && chain->anchor == NULL) ||
               (chain->oldest_ts >= 0 && chain->oldest_ts < chain->pin_ts);
  if (covers_old && chain->newest_ts > chain->pin_ts)
    chain->pin_state = RDT_CHAIN_PIN_REWRITTEN;
}

static void
accept (RdtChain *chain, RdtMessage *msg, GPtrArray *sink, gboolean move_head)
{
  guint8 hash[32];
  Node *node;

  /* msg is verified, so its hash decodes. */
  if (!decode_hash (msg->message_hash, hash))
    g_return_if_reached ();
  node = node_alloc (chain);
  memcpy (node->hash, hash, sizeof hash);
  node->ts = msg->server_timestamp;
  node->parent = msg->prev_hash != NULL ? known_find (chain, msg->prev_hash)
                                        : NULL;
  if (msg->prev_hash != NULL && node->parent == NULL)
    g_hash_table_insert (chain->roots, node, g_strdup (msg->prev_hash));
  g_hash_table_add (chain->known, node);
  if (msg->server_timestamp >= 0)
    {
      if (chain->oldest_ts < 0 || msg->server_timestamp < chain->oldest_ts)
        chain->oldest_ts = msg->server_timestamp;
      if (msg->server_timestamp > chain->newest_ts)
        chain->newest_ts = msg->server_timestamp;
    }
  if (move_head || chain->head == NULL)
    {
      rdt_message_ref (msg);
      g_clear_pointer (&chain->head, rdt_message_unref);
      chain->head = msg;
    }
  g_ptr_array_add (sink, rdt_message_ref (msg));
}

/* Accept everything in queue (a GSequence of refs sorted by order_cmp) and,
 * transitively, every page child (page_kids: prev_hash -> GPtrArray of
 * messages, may be NULL) and every parked child. The loop is the worklist:
 * a child is only queued once its parent has been accepted. */
static void
drain (RdtChain *chain, GSequence *queue, GHashTable *page_kids,
       GPtrArray *sink, gboolean move_head)
{
  while (g_sequence_get_length (queue) > 0)
    {
      GSequenceIter *first = g_sequence_get_begin_iter (queue);
      RdtMessage *msg = rdt_message_ref (g_sequence_get (first));
      gpointer stolen_key = NULL;
      GPtrArray *kids;

      g_sequence_remove (first);
      if (known_has (chain, msg->message_hash))
        {
          rdt_message_unref (msg);
          continue;
        }
      accept (chain, msg, sink, move_head);

      if (page_kids != NULL &&
          (kids = g_hash_table_lookup (page_kids, msg->message_hash)) != NULL)
        {
          guint i;

          for (i = 0; i < kids->len; i++)
            g_sequence_insert_sorted (queue,
                                      rdt_message_ref (kids->pdata[i]),
                                      order_cmp, NULL);
        }

      kids = NULL;
      if (g_hash_table_steal_extended (chain->waiting, msg->message_hash,
                                       &stolen_key, (gpointer *) &kids))
        {
          guint i;

          g_free (stolen_key);
          for (i = 0; i < kids->len; i++)
            g_sequence_insert_sorted (queue,
                                      unpark (chain, kids->pdata[i], FALSE),
                                      order_cmp, NULL);
          g_ptr_array_unref (kids);
        }
      rdt_message_unref (msg);
    }
}

/* Does a verified message link to what we have? */
static RdtChainResult
link_kind (RdtChain *chain, const RdtMessage *msg)
{
  if (!chain->anchored)
    return msg->prev_hash == NULL ? RDT_CHAIN_APPENDED : RDT_CHAIN_UNLINKED;
  if (chain->head != NULL && msg->prev_hash != NULL &&
      strcmp (msg->prev_hash, chain->head->message_hash) == 0)
    return RDT_CHAIN_APPENDED;
  if (msg->prev_hash != NULL && known_has (chain, msg->prev_hash))
    return RDT_CHAIN_FORK;
  /* A sibling of our oldest message: it hangs off the trusted anchor. */
  if (g_strcmp0 (msg->prev_hash, chain->anchor) == 0)
    return RDT_CHAIN_FORK;
  return RDT_CHAIN_UNLINKED;
}

/* An exact copy of the head (the one accepted message still kept whole):
 * verifying it again would prove nothing new. Copies of older accepted
 * messages are verified again: a valid one has the same content (the hash
 * commits to everything but the signature) and is a duplicate, an invalid
 * one is forged and rejected. */
static gboolean
is_known_copy (RdtChain *chain, const RdtMessage *msg)
{
  RdtMessage *k = chain->head;

  return k != NULL && msg->message_hash != NULL &&
         g_strcmp0 (k->message_hash, msg->message_hash) == 0 &&
         g_strcmp0 (k->topic_id, msg->topic_id) == 0 &&
         g_strcmp0 (k->type, msg->type) == 0 &&
         g_strcmp0 (k->prev_hash, msg->prev_hash) == 0 &&
         g_strcmp0 (k->data, msg->data) == 0 &&
         g_strcmp0 (k->sender, msg->sender) == 0 &&
         g_strcmp0 (k->signature, msg->signature) == 0;
}

static gboolean
check_message (RdtChain *chain, RdtMessage *msg, GError **error)
{
  if (msg->message_hash == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("message has no hash"));
      return FALSE;
    }
  return rdt_message_verify (msg, chain->space_id, chain->topic_id, error);
}

/* rdt_chain_ingest() with the verification already done: verify_error is
 * the outcome of check_message() for msg (NULL = verified), computed before
 * (it depends on the message and the chain's space and topic only). It is
 * used, or freed, here. */
static RdtChainResult
ingest_checked (RdtChain *chain, RdtMessage *msg, GError *verify_error,
                GError **error)
{
  g_autoptr(GSequence) queue = NULL;
  RdtChainResult result;

  if (msg->message_hash != NULL && is_known_copy (chain, msg))
    {
      g_clear_error (&verify_error);
      return RDT_CHAIN_DUPLICATE;
    }
  if (verify_error != NULL)
    {
      g_propagate_error (error, verify_error);
      return RDT_CHAIN_REJECTED;
    }
  if (known_has (chain, msg->message_hash) ||
      g_hash_table_contains (chain->parked, msg->message_hash))
    return RDT_CHAIN_DUPLICATE;

  result = link_kind (chain, msg);
  if (result == RDT_CHAIN_UNLINKED)
    {
      park (chain, msg);
      update_pin (chain);
      return result;
    }

  if (!chain->anchored)
    {
      chain->anchored = TRUE;
      chain->anchor = NULL;   /* the topic's first message */
    }
  queue = g_sequence_new ((GDestroyNotify) rdt_message_unref);
  g_sequence_append (queue, rdt_message_ref (msg));
  drain (chain, queue, NULL, chain->ready, TRUE);
  update_pin (chain);
  return result;
}

RdtChainResult
rdt_chain_ingest (RdtChain *chain, RdtMessage *msg, GError **error)
{
  GError *verify_error = NULL;

  g_return_val_if_fail (chain != NULL, RDT_CHAIN_REJECTED);
  g_return_val_if_fail (msg != NULL, RDT_CHAIN_REJECTED);
  g_return_val_if_fail (error == NULL || *error == NULL, RDT_CHAIN_REJECTED);

  /* A copy of the head needs no verification. */
  if (msg->message_hash != NULL && is_known_copy (chain, msg))
    return RDT_CHAIN_DUPLICATE;
  check_message (chain, msg, &verify_error);
  return ingest_checked (chain, msg, verify_error, error);
}

/* ------------------------------------------------------------------ */
/* Pages */

typedef struct {
  GHashTable *by_hash;   /* hash -> msg (borrowed from cands) */
  GHashTable *kids;      /* prev_hash -> GPtrArray of msg (borrowed) */
  GPtrArray  *cands;     /* verified new messages (refs), page order */
} Page;

static void
page_clear (Page *page)
{
  g_clear_pointer (&page->by_hash, g_hash_table_destroy);
  g_clear_pointer (&page->kids, g_hash_table_destroy);
  g_clear_pointer (&page->cands, g_ptr_array_unref);
}

/* Add a verified message to the page (takes the ref). The kids index is
 * keyed by prev_hash whether or not the parent is in the page: drain()
 * only looks up the kids of messages it accepts. */
static void
page_add (Page *page, RdtMessage *msg)
{
  GPtrArray *kids;

  g_ptr_array_add (page->cands, msg);
  g_hash_table_insert (page->by_hash, msg->message_hash, msg);
  if (msg->prev_hash == NULL)
    return;
  kids = g_hash_table_lookup (page->kids, msg->prev_hash);
  if (kids == NULL)
    {
      kids = g_ptr_array_new ();
      g_hash_table_insert (page->kids, msg->prev_hash, kids);
    }
  g_ptr_array_add (kids, msg);
}

/* Page verification on several cores. Ed25519 is about 3/4 of the cost of
 * taking in a page and messages verify independently of each other, so a
 * page is split across worker threads plus the calling thread, which waits
 * for them: the result is exactly what a sequential verify gives, only the
 * wall time of the page shrinks. Workers read the messages (immutable once
 * parsed) and chain->space_id/topic_id only. */
#define VERIFY_MIN_PER_THREAD 32
#define VERIFY_MAX_THREADS    8

typedef struct {
  RdtChain    *chain;
  GPtrArray   *messages;
  gboolean    *skip;     /* per message: not to be verified */
  GError     **errors;   /* per message: NULL = verified */
  guint        start;
  guint        stride;
} VerifySlice;

static gpointer
verify_slice (gpointer data)
{
  VerifySlice *v = data;
  guint i;

  for (i = v->start; i < v->messages->len; i += v->stride)
    if (!v->skip[i])
      {
        GError *err = NULL;

        if (!check_message (v->chain, v->messages->pdata[i], &err))
          v->errors[i] = err;
      }
  return NULL;
}

static void
verify_all (RdtChain *chain, GPtrArray *messages, gboolean *skip,
            GError **errors)
{
  VerifySlice slices[VERIFY_MAX_THREADS];
  GThread *threads[VERIFY_MAX_THREADS] = { NULL };
  guint n_threads, t;

  n_threads = MIN ((guint) g_get_num_processors (), VERIFY_MAX_THREADS);
  n_threads = MIN (n_threads, MAX (1u, messages->len / VERIFY_MIN_PER_THREAD));
  n_threads = MAX (n_threads, 1u);
  for (t = 0; t < n_threads; t++)
    {
      slices[t] = (VerifySlice) { chain, messages, skip, errors, t, n_threads };
      if (t > 0)
        {
          /* If a thread cannot be created its slice runs here. */
          threads[t] = g_thread_try_new ("rdt-verify", verify_slice,
                                         &slices[t], NULL);
        }
    }
  verify_slice (&slices[0]);
  for (t = 1; t < n_threads; t++)
    {
      if (threads[t] != NULL)
        g_thread_join (threads[t]);
      else
        verify_slice (&slices[t]);
    }
}

void
rdt_chain_ingest_each (RdtChain *chain, GPtrArray *messages,
                       GPtrArray *rejected)
{
  g_autofree gboolean *skip = NULL;
  g_autofree GError **errors = NULL;
  guint i;

  g_return_if_fail (chain != NULL && messages != NULL);
  if (messages->len == 0)
    return;
  /* Verification does not depend on the chain's state, so all of it is
   * done first, on all cores; linking then goes one message at a time,
   * in order, exactly as rdt_chain_ingest() links. */
  skip = g_new0 (gboolean, messages->len);
  errors = g_new0 (GError *, messages->len);
  for (i = 0; i < messages->len; i++)
    skip[i] = messages->pdata[i] == NULL;
  verify_all (chain, messages, skip, errors);
  for (i = 0; i < messages->len; i++)
    {
      RdtMessage *msg = messages->pdata[i];
      GError *error = NULL;

      if (msg == NULL)
        continue;
      if (ingest_checked (chain, msg, g_steal_pointer (&errors[i]), &error)
          != RDT_CHAIN_REJECTED)
        continue;
      if (rejected != NULL)
        {
          RdtChainRejection *r = g_new0 (RdtChainRejection, 1);

          r->msg = rdt_message_ref (msg);
          r->error = error;
          g_ptr_array_add (rejected, r);
        }
      else
        g_clear_error (&error);
    }
}

/* Dedupe and verify a page. Verification failures go to rejected (if not
 * NULL). If fail_on is not NULL and the message with that hash fails,
 * its error is returned through *fail_error. Messages currently parked
 * are taken back out of the parking lot and handled with the page. */
static void
page_collect (RdtChain *chain, GPtrArray *messages, Page *page,
              GPtrArray *rejected, const gchar *fail_on, GError **fail_error)
{
  g_autofree gboolean *skip = NULL;
  g_autofree GError **errors = NULL;
  guint i, n;

  n = messages != NULL ? messages->len : 0;
  skip = g_new0 (gboolean, MAX (n, 1));
  errors = g_new0 (GError *, MAX (n, 1));
  /* Known copies need no verification (as below); verify the rest at once.
   * A copy repeated inside the page is verified twice: harmless and rare. */
  for (i = 0; i < n; i++)
    {
      RdtMessage *msg = messages->pdata[i];

      skip[i] = msg == NULL ||
                (msg->message_hash != NULL && is_known_copy (chain, msg));
    }
  if (n > 0)
    verify_all (chain, messages, skip, errors);

  page->by_hash = g_hash_table_new (g_str_hash, g_str_equal);
  page->kids = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                      (GDestroyNotify) g_ptr_array_unref);
  page->cands = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);

  for (i = 0; i < n; i++)
    {
      RdtMessage *msg = messages->pdata[i];
      GError *err = g_steal_pointer (&errors[i]);
      Parked *p;

      if (skip[i] ||
          (msg->message_hash != NULL &&
           g_hash_table_contains (page->by_hash, msg->message_hash)))
        {
          g_clear_error (&err);
          continue;
        }
      if (err != NULL)
        {
          if (fail_on != NULL && fail_error != NULL && *fail_error == NULL &&
              g_strcmp0 (msg->message_hash, fail_on) == 0)
            *fail_error = g_error_copy (err);
          if (rejected != NULL)
            {
              RdtChainRejection *r = g_new0 (RdtChainRejection, 1);

              r->msg = rdt_message_ref (msg);
              r->error = err;
              g_ptr_array_add (rejected, r);
            }
          else
            g_error_free (err);
          continue;
        }
      if (known_has (chain, msg->message_hash))
        continue;

      p = g_hash_table_lookup (chain->parked, msg->message_hash);
      page_add (page, p != NULL ? unpark (chain, p, TRUE)
                                : rdt_message_ref (msg));
    }
}

static gboolean
page_is_root (Page *page, const RdtMessage *msg)
{
  return msg->prev_hash == NULL ||
         !g_hash_table_contains (page->by_hash, msg->prev_hash);
}

/* Newest timestamp and size of the page subtree under root (iterative). */
static void
subtree_stats (Page *page, RdtMessage *root, gint64 *newest, guint *size)
{
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();

  *newest = -1;
  *size = 0;
  g_ptr_array_add (stack, root);
  while (stack->len > 0)
    {
      RdtMessage *m = g_ptr_array_steal_index (stack, stack->len - 1);
      GPtrArray *kids = g_hash_table_lookup (page->kids, m->message_hash);

      (*size)++;
      if (m->server_timestamp > *newest)
        *newest = m->server_timestamp;
      if (kids != NULL)
        g_ptr_array_extend (stack, kids, NULL, NULL);
    }
}

/* Park every page message that was not accepted. */
static void
page_park_rest (RdtChain *chain, Page *page)
{
  guint i;

  for (i = 0; i < page->cands->len; i++)
    {
      RdtMessage *msg = page->cands->pdata[i];

      if (!known_has (chain, msg->message_hash))
        park (chain, msg);
    }
}

/* Linking rule for a page (spec 15.6), in words:
 *
 * The page's messages are grouped into runs by their prev_hash links; a
 * run's root is a message whose parent is not in the page.
 *  - On an empty chain, the run holding the page's newest message is taken
 *    as the history (it ends at the server's current head); its root's
 *    prev_hash becomes the TOFU anchor (NULL when the root is the topic's
 *    first message).
 *  - Then every run whose root links to a known message, or hangs off the
 *    anchor (a fork at the anchor), is accepted, in link order.
 *  - Runs that link to nothing known are parked, not rejected: they are
 *    verified, and a later page or back-fill may bring their parent.
 * Only verification failures are rejected. */
void
rdt_chain_ingest_page (RdtChain *chain, GPtrArray *messages,
                       GPtrArray *rejected)
{
  g_autoptr(GSequence) queue = NULL;
  Page page = { 0 };
  guint i;

  g_return_if_fail (chain != NULL);

  page_collect (chain, messages, &page, rejected, NULL, NULL);
  if (page.cands->len == 0)
    {
      page_clear (&page);
      update_pin (chain);
      return;
    }

  if (!chain->anchored)
    {
      RdtMessage *best = NULL;
      gint64 best_newest = -2;
      guint best_size = 0;

      for (i = 0; i < page.cands->len; i++)
        {
          RdtMessage *m = page.cands->pdata[i];
          gint64 newest;
          guint size;

          if (!page_is_root (&page, m))
            continue;
          subtree_stats (&page, m, &newest, &size);
          if (newest > best_newest ||
              (newest == best_newest && size > best_size))
            {
              best = m;
              best_newest = newest;
              best_size = size;
            }
        }
      /* A page whose every message has its parent inside the page would
       * need a hash cycle; with verified hashes that cannot happen. */
      if (best == NULL)
        {
          page_park_rest (chain, &page);
          page_clear (&page);
          return;
        }
      chain->anchored = TRUE;
      chain->anchor = g_strdup (best->prev_hash);
    }

  queue = g_sequence_new ((GDestroyNotify) rdt_message_unref);
  for (i = 0; i < page.cands->len; i++)
    {
      RdtMessage *m = page.cands->pdata[i];

      if (page_is_root (&page, m) && link_kind (chain, m) != RDT_CHAIN_UNLINKED)
        g_sequence_insert_sorted (queue, rdt_message_ref (m), order_cmp, NULL);
    }
  drain (chain, queue, page.kids, chain->ready, TRUE);
  page_park_rest (chain, &page);
  page_clear (&page);
  update_pin (chain);
}

GPtrArray *
rdt_chain_ingest_older (RdtChain *chain, GPtrArray *messages, GError **error)
{
  g_autoptr(GSequence) queue = NULL;
  g_autoptr(GPtrArray) out = NULL;
  GError *anchor_error = NULL;
  RdtMessage *cur;
  Page page = { 0 };
  guint i;

  g_return_val_if_fail (chain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!chain->anchored)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_CHAIN,
                           _("cannot load older messages before the newest "
                             "ones"));
      return NULL;
    }

  out = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
  page_collect (chain, messages, &page, NULL, chain->anchor, &anchor_error);
  cur = chain->anchor ? g_hash_table_lookup (page.by_hash, chain->anchor)
                      : NULL;
  if (cur == NULL && chain->anchor != NULL)
    {
      /* An earlier ingest_page() may have parked older messages (they link
       * below the anchor, not above it): they link here. */
      Parked *p = g_hash_table_lookup (chain->parked, chain->anchor);

      if (p != NULL)
        {
          cur = unpark (chain, p, TRUE);
          page_add (&page, cur);
        }
    }
  if (cur == NULL && anchor_error != NULL)
    {
      /* The message we were looking for is there, but forged. */
      g_set_error (error, RDT_ERROR, RDT_ERROR_CHAIN,
                   _("older messages do not link to the known history: %s"),
                   anchor_error->message);
      g_error_free (anchor_error);
      page_park_rest (chain, &page);
      page_clear (&page);
      return NULL;
    }
  g_clear_error (&anchor_error);
  if (page.cands->len == 0)
    {
      page_clear (&page);
      return g_steal_pointer (&out);
    }

  if (cur == NULL)
    {
      if (chain->anchor == NULL)
        g_set_error_literal (error, RDT_ERROR, RDT_ERROR_CHAIN,
                             _("the history already starts at the topic's "
                               "first message; nothing older can link to it"));
      else
        g_set_error (error, RDT_ERROR, RDT_ERROR_CHAIN,
                     _("older messages do not link to the known history (%s "
                       "is not among them)"), chain->anchor);
      /* Verified but unlinked: keep them parked, a later page may link. */
      page_park_rest (chain, &page);
      page_clear (&page);
      return NULL;
    }

  /* Walk the links down from the old anchor to the oldest message of this
   * page: its prev_hash is the new anchor. */
  while (cur->prev_hash != NULL)
    {
      RdtMessage *parent = g_hash_table_lookup (page.by_hash, cur->prev_hash);
      Parked *p;

      /* Messages parked earlier (e.g. from a page that did not link) can
       * be what links further down: pull them into this back-fill. */
      if (parent == NULL &&
          (p = g_hash_table_lookup (chain->parked, cur->prev_hash)) != NULL)
        {
          parent = unpark (chain, p, TRUE);
          page_add (&page, parent);
        }
      if (parent == NULL)
        break;
      cur = parent;
    }
  g_free (chain->anchor);
  chain->anchor = g_strdup (cur->prev_hash);

  queue = g_sequence_new ((GDestroyNotify) rdt_message_unref);
  for (i = 0; i < page.cands->len; i++)
    {
      RdtMessage *m = page.cands->pdata[i];

      if (page_is_root (&page, m) && link_kind (chain, m) != RDT_CHAIN_UNLINKED)
        g_sequence_insert_sorted (queue, rdt_message_ref (m), order_cmp, NULL);
    }
  drain (chain, queue, page.kids, out, FALSE);
  page_park_rest (chain, &page);
  page_clear (&page);
  update_pin (chain);
  return g_steal_pointer (&out);
}

/* ------------------------------------------------------------------ */
/* Accessors */

GPtrArray *
rdt_chain_take_ready (RdtChain *chain)
{
  GPtrArray *out;

  g_return_val_if_fail (chain != NULL, NULL);
  out = chain->ready;
  chain->ready = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  return out;
}

RdtMessage *
rdt_chain_get_head (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, NULL);
  return chain->head;
}

gboolean
rdt_chain_contains (RdtChain *chain, const gchar *message_hash)
{
  g_return_val_if_fail (chain != NULL, FALSE);
  return known_has (chain, message_hash);
}

RdtMessage *
rdt_chain_lookup (RdtChain *chain, const gchar *message_hash)
{
  Parked *p;
  guint i;

  g_return_val_if_fail (chain != NULL, NULL);
  if (message_hash == NULL)
    return NULL;
  if (chain->head != NULL &&
      strcmp (chain->head->message_hash, message_hash) == 0)
    return chain->head;
  if ((p = g_hash_table_lookup (chain->parked, message_hash)) != NULL)
    return p->msg;
  for (i = 0; i < chain->ready->len; i++)
    {
      RdtMessage *m = chain->ready->pdata[i];

      if (strcmp (m->message_hash, message_hash) == 0)
        return m;
    }
  return NULL;
}

gboolean
rdt_chain_get_parent (RdtChain *chain, const gchar *message_hash,
                      gchar **parent_hash)
{
  Node *n;

  g_return_val_if_fail (chain != NULL, FALSE);
  if (parent_hash != NULL)
    *parent_hash = NULL;
  if ((n = known_find (chain, message_hash)) == NULL)
    return FALSE;
  if (parent_hash == NULL)
    return TRUE;
  if (n->parent != NULL)
    *parent_hash = rdt_id_encode (RDT_ID_MESSAGE, n->parent->hash);
  else
    *parent_hash = g_strdup (g_hash_table_lookup (chain->roots, n));
  return TRUE;
}

guint
rdt_chain_get_length (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, 0);
  return g_hash_table_size (chain->known);
}

GPtrArray *
rdt_chain_get_missing_parents (RdtChain *chain)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key;

  gpointer value;

  g_return_val_if_fail (chain != NULL, out);
  /* A parked run older than what was accepted (a page with a hole) links
   * once the anchor, the message below the oldest accepted, is in. */
  g_hash_table_iter_init (&it, chain->parked);
  while (chain->anchor != NULL && g_hash_table_iter_next (&it, NULL, &value))
    if (((Parked *) value)->msg->server_timestamp < chain->oldest_ts)
      {
        g_ptr_array_add (out, g_strdup (chain->anchor));
        break;
      }
  g_hash_table_iter_init (&it, chain->waiting);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_hash_table_contains (chain->parked, key)
        && !known_has (chain, key) && g_strcmp0 (key, chain->anchor) != 0)
      g_ptr_array_add (out, g_strdup (key));
  return out;
}

guint
rdt_chain_get_n_unlinked (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, 0);
  return g_hash_table_size (chain->parked);
}

const gchar *
rdt_chain_get_anchor (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, NULL);
  return chain->anchor;
}

gint64
rdt_chain_get_oldest_timestamp (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, -1);
  return chain->oldest_ts;
}

gint64
rdt_chain_get_newest_timestamp (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, -1);
  return chain->newest_ts;
}

void
rdt_chain_set_pinned_head (RdtChain *chain, const gchar *message_hash,
                           gint64 server_timestamp)
{
  g_return_if_fail (chain != NULL);

  g_clear_pointer (&chain->pin_hash, g_free);
  chain->pin_ts = -1;
  if (message_hash == NULL)
    {
      chain->pin_state = RDT_CHAIN_PIN_NONE;
      return;
    }
  chain->pin_hash = g_strdup (message_hash);
  chain->pin_ts = server_timestamp;
  chain->pin_state = RDT_CHAIN_PIN_PENDING;
  update_pin (chain);
}

RdtChainPinState
rdt_chain_get_pin_state (RdtChain *chain)
{
  g_return_val_if_fail (chain != NULL, RDT_CHAIN_PIN_NONE);
  return chain->pin_state;
}
