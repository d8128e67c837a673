/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chain.h - per-topic hash-chain state (spec sections 4.5, 4.6, 5.2, 15.8).
 *
 * A chain verifies every message (hash and signature, against the topic we
 * asked for), links messages by prev_hash (never by timestamp), keeps the
 * current head, tolerates forks (a second child of a known parent, which
 * the real server can create, spec 4.6) and parks messages whose parent is
 * not known yet until the gap is filled.
 *
 * The oldest message of the first page loaded is a trust-on-first-use
 * anchor; back-filled older pages must link down to it.
 *
 * A pinned head (the last verified head persisted from a previous run)
 * lets the chain notice a history that was rewritten while we were away.
 */
#pragma once

#include <glib.h>
#include "message.h"

G_BEGIN_DECLS

typedef struct _RdtChain RdtChain;

/* At most this many verified-but-unlinked messages are parked per chain;
 * beyond it the longest-parked one is dropped (a resync brings it back). */
#define RDT_CHAIN_MAX_UNLINKED 2000

typedef enum {
  RDT_CHAIN_APPENDED,   /* linked onto the head: the new head */
  RDT_CHAIN_FORK,       /* links to a known message that is not the head */
  RDT_CHAIN_DUPLICATE,  /* already known: ignore */
  RDT_CHAIN_UNLINKED,   /* parent unknown: parked until the gap is filled */
  RDT_CHAIN_REJECTED    /* failed verification: never display as verified */
} RdtChainResult;

typedef enum {
  RDT_CHAIN_PIN_NONE,       /* no pinned head set */
  RDT_CHAIN_PIN_PENDING,    /* pinned head not seen yet (may be older) */
  RDT_CHAIN_PIN_CONFIRMED,  /* pinned head is part of the verified chain */
  RDT_CHAIN_PIN_REWRITTEN   /* history no longer contains the pinned head */
} RdtChainPinState;

RdtChain   *rdt_chain_new (const gchar *space_id, const gchar *topic_id);
void        rdt_chain_free (RdtChain *chain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtChain, rdt_chain_free)

const gchar *rdt_chain_get_topic_id (RdtChain *chain);

/* Ingest one message (from REST or the WebSocket). Verifies it first. On
 * APPENDED/FORK the message becomes the head; parked messages that now link
 * are released too and can be taken with rdt_chain_take_ready().
 * A message already known or already parked is a DUPLICATE; a copy of a
 * known hash that fails verification (forged) is REJECTED. The chain may
 * keep a ref to msg (head, parked, ready): do not modify it afterwards.
 * error is set only for REJECTED. */
RdtChainResult rdt_chain_ingest (RdtChain *chain, RdtMessage *msg,
                                 GError **error);

/* One message that failed verification or linking, and why. */
typedef struct {
  RdtMessage *msg;
  GError     *error;
} RdtChainRejection;
void rdt_chain_rejection_free (RdtChainRejection *rejection);

/* rdt_chain_ingest() of every message in order, with the same outcome,
 * but all of them verified first on several threads (as a page is).
 * No first-use anchor: unlike rdt_chain_ingest_page(), an empty chain
 * takes only a first message (prev_hash null) and parks the rest until it
 * links. REJECTED messages are appended to rejected (may be NULL). */
void rdt_chain_ingest_each (RdtChain *chain, GPtrArray *messages,
                            GPtrArray *rejected);

/* Ingest a page in any order (e.g. newest first). Verifies every message,
 * orders by links. For the first page of an empty chain the oldest message's
 * prev_hash becomes the TOFU anchor (if the page holds several unconnected
 * runs, the run holding the newest message is the one trusted). Messages
 * failing verification are appended to rejected (may be NULL; element free
 * func rdt_chain_rejection_free). Verified messages that link to nothing
 * known are parked, as with rdt_chain_ingest(). Accepted messages are
 * queued for rdt_chain_take_ready(); the head ends on the newest tip.
 * Large pages are verified on several threads; the call returns when all
 * are done and the outcome is the same as a sequential verify. */
void        rdt_chain_ingest_page (RdtChain *chain, GPtrArray *messages,
                                   GPtrArray *rejected);

/* Back-fill: an older page whose newest message must link to the current
 * anchor. Returns the accepted older messages oldest->newest (to prepend
 * in the display), or NULL with RDT_ERROR_CHAIN if it does not link.
 * Messages already known (the inclusive page boundary) are skipped; an
 * empty array means nothing new (walk back by hash, spec 15.6). Parked
 * messages that the back-fill links are returned here as well. Messages
 * failing verification are dropped; the anchor message itself failing is
 * an error. The head does not move. */
GPtrArray  *rdt_chain_ingest_older (RdtChain *chain, GPtrArray *messages,
                                    GError **error);

/* Messages accepted since the last call, in chain order (oldest first),
 * ready to display. Caller owns the array (elements are refs). */
GPtrArray  *rdt_chain_take_ready (RdtChain *chain);

RdtMessage *rdt_chain_get_head (RdtChain *chain);        /* NULL if empty */
gboolean    rdt_chain_contains (RdtChain *chain, const gchar *message_hash);
/* The whole message, only while the chain still holds it: the head, a
 * parked message or one not yet taken by rdt_chain_take_ready(). Older
 * accepted messages are kept as compact nodes only (hash, parent,
 * timestamp): NULL for them although rdt_chain_contains() is TRUE. */
RdtMessage *rdt_chain_lookup (RdtChain *chain, const gchar *message_hash);
/* Ancestry without the message itself (use this, not rdt_chain_lookup(),
 * for walking: the chain does not keep whole old messages).
 * TRUE if message_hash is accepted; *parent_hash (may be NULL) is then set
 * to a copy of its prev_hash, NULL for the topic's first message. */
gboolean    rdt_chain_get_parent (RdtChain *chain, const gchar *message_hash,
                                  gchar **parent_hash);
guint       rdt_chain_get_length (RdtChain *chain);
/* What to fetch by hash to fill the gaps (spec 4.5, 4.7): first the
 * anchor if parked messages are older than the oldest accepted one (a page
 * with a hole: ingest it with rdt_chain_ingest_older()), then the hashes
 * parked messages wait for that the chain has neither accepted nor parked
 * (rdt_chain_ingest()). Caller owns the array (element free func g_free);
 * empty if none. */
GPtrArray  *rdt_chain_get_missing_parents (RdtChain *chain);
guint       rdt_chain_get_n_unlinked (RdtChain *chain);
/* prev_hash of the oldest known message (the TOFU anchor), NULL if the
 * chain starts at the topic's first message or is empty. */
const gchar *rdt_chain_get_anchor (RdtChain *chain);
/* Oldest / newest server_timestamp seen (for paging); -1 if empty. */
gint64      rdt_chain_get_oldest_timestamp (RdtChain *chain);
gint64      rdt_chain_get_newest_timestamp (RdtChain *chain);

/* Pinned head from a previous run. The state moves to CONFIRMED once the
 * hash is ingested (even after REWRITTEN), and to REWRITTEN when the chain
 * can prove it is gone: the pinned hash is neither known nor parked while
 * the accepted messages span its timestamp, i.e. newest_ts > pinned_ts and
 * (oldest_ts < pinned_ts or the chain reaches the topic's first message).
 * Both ends are strict because ties at a page boundary may be cut off; if
 * the server's history now ends before pinned_ts the state stays PENDING,
 * and the caller may treat PENDING after a complete catch-up as rewritten. */
void             rdt_chain_set_pinned_head (RdtChain *chain,
                                            const gchar *message_hash,
                                            gint64 server_timestamp);
RdtChainPinState rdt_chain_get_pin_state (RdtChain *chain);

G_END_DECLS
