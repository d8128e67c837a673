/* SPDX-License-Identifier: GPL-2.0-or-later */
/* session-private.h - what the files of the session share (session.c:
 * life, login, backoff; session-topic.c: open, verify, deliver;
 * session-live.c: polls and the stream; session-send.c: the send queue;
 * session-history.c: paging back on request).
 * Internal to the core.
 *
 * Lifetime: every async operation holds a ref on the session and on its
 * topic; the public rdt_session_free() marks it freed, cancels everything,
 * removes timers and drops the caller's ref. Closing a topic marks it
 * closed. Callbacks may close topics or free the session, so code that
 * emits one holds refs and checks TOPIC_GONE / `freed` afterwards, and
 * never walks s->topics while emitting (it walks a snapshot of refs).
 */
#pragma once

#include <gio/gio.h>

#include "api.h"
#include "chain.h"
#include "crypto.h"
#include "message.h"
#include "session.h"
#include "stream.h"

G_BEGIN_DECLS

#define RDT_SEND_MAX_ATTEMPTS 6
#define RDT_PIN_MAX_PAGES 10
/* Missing parents fetched one by one for one gap before giving up. */
#define RDT_GAP_MAX_FETCHES 200
/* Paging back for a read marker stops after max_unread + 1 messages; the
 * bounds keep a huge max_unread from paging a whole topic. */
#define RDT_MARKER_MAX_UNREAD 10000
#define RDT_MARKER_MAX_PAGES 12
#define RDT_NEWEST_TS G_GINT64_CONSTANT (9999999999999)

typedef struct {
  guint64  id;
  gchar   *topic_id;
  gchar   *type;
  guint8  *plain;      /* plaintext copy for rdt_session_retry_send() */
  gsize    plain_len;
  gchar   *data;       /* encrypted once, reused across retries */
  guint    attempts;   /* posts made */
  guint    stuck;      /* 409s in a row where the server head did not move */
  gchar   *prev;       /* server's head to chain on after a 409 */
  gboolean have_prev;  /* prev is set (NULL prev = empty topic) */
  gchar   *used_prev;  /* prev_hash of the last post made */
  GPtrArray *maybe_posted; /* hashes of posts whose answer was lost */
  gboolean   yielded;      /* took its random gap in a busy topic */
  gint64   queued_us;  /* monotonic */
} Send;

typedef struct {
  gint      ref_count;    /* the table's ref + one per pending operation */
  gboolean  closed;       /* removed from the table: no more callbacks */
  gchar    *id;
  RdtChain *chain;
  guint8   *key;          /* secret memory */
  guint     backlog;
  gboolean  opened;       /* history delivered, topic_opened sent */
  gboolean  opening;      /* first page in flight */
  gboolean  polling;
  gboolean  poll_again;
  GQueue    sends;        /* Send*, head is the one in flight */
  gboolean  in_flight;
  gint64    last_post_us;
  gint64    post_rtt_us;      /* how long our last post took to answer */
  gint64    last_foreign_us;  /* when another member's message last arrived */
  gchar    *pin_hash;
  gint64    pin_ts;
  guint     pin_pages;
  gchar    *marker_hash;  /* read marker for this opening, or NULL */
  gboolean  wait_marker;  /* opened for a marker not given yet */
  gint64    marker_ts;
  guint     max_unread;
  guint     marker_pages;
  guint     gap_source;
  gboolean  gap_walking;  /* fetching a missing parent by hash */
  guint     gap_fetches;  /* fetches for the gap being walked */
  gchar    *gap_want;     /* the hash being fetched */
  gboolean  gap_at_open;  /* the opening walked its page's holes */
  GPtrArray *gap_older;   /* RdtMessage: below the first page's oldest,
                           * fetched to fill its holes: shown with it */
  gboolean  gap_warned;   /* the walk failed: reported, not retried */
  gchar    *last_head;
  gboolean  history_busy; /* a rdt_session_load_history() is running */
  GPtrArray *unshown;     /* RdtMessage: verified older messages the pin
                           * check loaded but did not show, oldest first;
                           * /history shows them before paging the server */
} Topic;

struct _RdtSession {
  gint                 ref_count;
  gboolean             freed;
  gchar               *url;
  gchar               *space_id;
  gchar               *member_id;
  guint8              *root;    /* secret memory */
  RdtSpaceKeys        *keys;
  RdtApi              *api;
  RdtStream           *stream;
  GCancellable        *cancel;
  RdtSessionCallbacks  cb;
  gpointer             cb_data;
  RdtSessionState      state;
  gboolean             want_connected;
  gboolean             logging_in;
  gboolean             use_stream;
  gboolean             stream_connecting;
  guint                poll_live_ms, poll_down_ms;
  guint                backoff_initial, backoff_max;
  guint                backoff_cur, stream_backoff_cur;
  guint                login_source, relogin_source, poll_source, stream_source;
  guint                poll_source_ms;
  GHashTable          *topics;       /* id -> Topic */
  GHashTable          *pins;         /* id -> "hash\nts" before opening */
  GHashTable          *markers;      /* id -> "hash\nts\nmax": read markers */
  GHashTable          *seen;         /* topic ids reported by topic_seen */
  GHashTable          *failed;       /* send id -> Send (for retry) */
  guint64              next_send_id;
  guint                send_timeout_ms;
  guint                probe_ms, probe_source;  /* /health while unreachable */
  gboolean             probing;
  gint64               next_try_us;   /* monotonic: when login_source fires */
  GNetworkMonitor     *netmon;
  gulong               netmon_id;
  /* stats for tests and benchmarks */
  guint                n_conflicts, n_logins, n_login_tries, n_probes;
};

/* Whether t may still be used after a callback ran (callbacks may close
 * the topic or free the session; callers hold refs on both). */
#define TOPIC_GONE(s, t) ((s)->freed || (t)->closed)

typedef struct {
  RdtSession *s;        /* ref */
  Topic      *t;        /* ref; check TOPIC_GONE before use */
  guint64     send_id;  /* the send a sending step belongs to, or 0 */
} TopicOp;


/* session.c */
RdtSession *rdt_session_ref (RdtSession *s);
void        rdt_session_unref (RdtSession *s);
void        rdt_session_stop (RdtSession *s);
void        rdt_session_go_connecting (RdtSession *s, const GError *error);
guint       rdt_session_next_backoff (RdtSession *s, guint *cur);
void        rdt_session_emit_warning (RdtSession *s, const gchar *topic_id,
                                      RdtWarningKind kind, const gchar *text);
void        rdt_session_emit_send_done (RdtSession *s, Send *send,
                                        const GError *error);
GPtrArray  *rdt_session_topics_snapshot (RdtSession *s);
Topic      *rdt_topic_ref (Topic *t);
void        rdt_topic_unref (Topic *t);
TopicOp    *rdt_topic_op_new (RdtSession *s, Topic *t);
Topic      *rdt_topic_op_topic (TopicOp *op);
void        rdt_topic_op_free (TopicOp *op);
TopicOp    *rdt_send_op_new (RdtSession *s, Topic *t);
Send       *rdt_send_op_send (TopicOp *op);
void        rdt_send_free (Send *send);

/* session-topic.c: opening topics, verifying and delivering messages */
const guint8 *rdt_topic_key (RdtSession *s, Topic *t);
void rdt_topic_deliver_ready (RdtSession *s, Topic *t, gboolean backlog);
/* Deliver these messages (chain order), then report a moved head. */
void rdt_topic_deliver (RdtSession *s, Topic *t, GPtrArray *msgs,
                        gboolean backlog);
/* m's payload decrypted with the topic key, or NULL after a warning that
 * says it could not be (a callback runs: check TOPIC_GONE after). */
GBytes *rdt_topic_decrypt (RdtSession *s, Topic *t, RdtMessage *m);
void rdt_topic_ingest_page (RdtSession *s, Topic *t, GPtrArray *msgs,
                            gboolean backlog);
void rdt_topic_warn_rejection (RdtSession *s, Topic *t, RdtMessage *m,
                               const GError *error);
void rdt_topic_schedule_gap_poll (RdtSession *s, Topic *t);
void rdt_topic_fetch_first (RdtSession *s, Topic *t);
/* Go on opening (after paging or a walk by hash): deliver, topic_opened. */
void rdt_topic_finish_open (RdtSession *s, Topic *t);

/* session-live.c: polling and the stream */
void rdt_topic_poll (RdtSession *s, Topic *t);
/* Fill the topic's gaps by fetching missing parents by hash (spec 4.5,
 * 4.7); reports only if that fails. FALSE if no walk was started (one
 * runs already, or not connected). While the topic opens, the opening
 * goes on (rdt_topic_finish_open()) when the walk ends. */
gboolean rdt_topic_walk_gap (RdtSession *s, Topic *t);
gboolean rdt_session_poll_all (gpointer data);
void rdt_session_reschedule_poll (RdtSession *s);
void rdt_session_stream_connect (RdtSession *s);

/* session-send.c: the send queue */
void rdt_topic_kick_send (RdtSession *s, Topic *t);
void rdt_topic_fail_sends (RdtSession *s, Topic *t, const GError *error);

G_END_DECLS
