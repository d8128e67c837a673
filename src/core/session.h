/* session.h - one member in one space: the whole client logic, no libpurple.
 *
 * An RdtSession logs in (challenge/verify, re-login before the token
 * expires), keeps the WebSocket stream open with polling as the safety net
 * (spec 15.10), reconnects with backoff, opens topics (newest page of
 * verified history, then live), sends with compare-and-swap retry on 409
 * (spec 15.9), and reports everything through callbacks on the GLib main
 * context it was created on. The purple layer maps those callbacks onto
 * accounts and chats; tests drive it directly.
 *
 * Guarantees to the caller:
 * - a message is delivered through `message` only after its hash and
 *   signature verified and it linked into the topic's chain, at most once,
 *   in chain order;
 * - anything that failed verification or decryption is reported through
 *   `warning`, never through `message`;
 * - every send ends in exactly one `send_done`, with an error if it failed;
 * - after rdt_session_free() no callback runs.
 */
#pragma once

#include <glib.h>
#include "crypto.h"

G_BEGIN_DECLS

typedef struct _RdtSession RdtSession;

typedef enum {
  RDT_SESSION_DISCONNECTED,  /* not connected; see the error for why */
  RDT_SESSION_CONNECTING,    /* logging in, or waiting to retry (backoff) */
  RDT_SESSION_CONNECTED      /* logged in; stream or polling live */
} RdtSessionState;

typedef enum {
  RDT_WARNING_VERIFY_FAILED,   /* bad hash/signature: message hidden */
  RDT_WARNING_DECRYPT_FAILED,  /* verified but undecryptable (wrong root?) */
  RDT_WARNING_MALFORMED,       /* server sent garbage for this topic */
  RDT_WARNING_CHAIN_BROKEN,    /* messages that do not link / a fork */
  RDT_WARNING_HISTORY_REWRITTEN, /* pinned head from last run is gone */
  RDT_WARNING_SEND_FAILED,     /* details in send_done; also said here */
  RDT_WARNING_CONNECTION       /* transient trouble shown in open topics */
} RdtWarningKind;

typedef struct {
  const gchar *topic_id;
  const gchar *message_hash;
  const gchar *sender;        /* U or T id */
  const gchar *type;          /* e.g. "chat.text" */
  const gchar *text;          /* display text, valid UTF-8, never NULL */
  GBytes      *payload;       /* decrypted bytes (attachments etc.) */
  gint64       timestamp;     /* server_timestamp, ms */
  gboolean     backlog;       /* from history: show as delayed */
  gboolean     own;           /* sent by this member (any device) */
} RdtSessionMessage;

typedef struct {
  /* Connection state changed. error is set when it changed because of a
   * failure; fatal means retrying will not help (wrong key, not a member,
   * unknown space): the session stays DISCONNECTED until
   * rdt_session_connect() is called again. */
  void (*state_changed) (RdtSession *session, RdtSessionState state,
                         const GError *error, gboolean fatal,
                         gpointer user_data);
  /* rdt_session_open_topic() finished: history delivered (error NULL) or
   * the topic could not be opened. */
  void (*topic_opened)  (RdtSession *session, const gchar *topic_id,
                         const GError *error, gpointer user_data);
  /* A verified, decrypted message of an open topic. */
  void (*message)       (RdtSession *session, const RdtSessionMessage *msg,
                         gpointer user_data);
  /* Something the user must see in an open topic instead of a message. */
  void (*warning)       (RdtSession *session, const gchar *topic_id,
                         RdtWarningKind kind, const gchar *text,
                         gpointer user_data);
  /* A send finished: error NULL on success (the message itself arrives
   * once through `message` with own = TRUE). */
  void (*send_done)     (RdtSession *session, const gchar *topic_id,
                         guint64 send_id, const GError *error,
                         gpointer user_data);
  /* The verified head of a topic moved: persist it and hand it back with
   * rdt_session_set_pinned_head() next time. */
  void (*head_changed)  (RdtSession *session, const gchar *topic_id,
                         const gchar *message_hash, gint64 timestamp,
                         gpointer user_data);
  /* A topic id seen on the stream that is not open. */
  void (*topic_seen)    (RdtSession *session, const gchar *topic_id,
                         gpointer user_data);
} RdtSessionCallbacks;

/* Validates the url, the space id and key lengths; copies seed and root
 * into secret memory (the caller wipes its own copies). */
RdtSession *rdt_session_new (const gchar *server_url, const gchar *space_id,
                             const guint8 seed[RDT_SEED_LENGTH],
                             const guint8 root[RDT_KEY_LENGTH],
                             GError **error);
void        rdt_session_free (RdtSession *session);
void        rdt_session_set_callbacks (RdtSession *session,
                                       const RdtSessionCallbacks *callbacks,
                                       gpointer user_data);

const gchar    *rdt_session_get_member_id (RdtSession *session);  /* U id */
const gchar    *rdt_session_get_space_id (RdtSession *session);
RdtSessionState rdt_session_get_state (RdtSession *session);

/* Log in and go live. Transient failures retry with exponential backoff
 * (state CONNECTING); fatal ones end in DISCONNECTED with fatal = TRUE. */
void rdt_session_connect (RdtSession *session);
void rdt_session_disconnect (RdtSession *session);

/* Open a topic: validates the id (topic_opened with an error if bad),
 * loads the newest page (up to `backlog` messages, verified, delivered
 * with backlog = TRUE in chain order), then delivers live messages.
 * Can be called before the session is connected; it waits. */
void     rdt_session_open_topic (RdtSession *session, const gchar *topic_id,
                                 guint backlog);
void     rdt_session_close_topic (RdtSession *session, const gchar *topic_id);
gboolean rdt_session_topic_is_open (RdtSession *session, const gchar *topic_id);

/* Last verified head from a previous run (call before opening the topic). */
void rdt_session_set_pinned_head (RdtSession *session, const gchar *topic_id,
                                  const gchar *message_hash, gint64 timestamp);

/* Queue a chat.text message for an open topic. Returns a send id (> 0)
 * reported back by send_done, or 0 with an error (topic not open, text too
 * large). Sends keep their order per topic. */
guint64  rdt_session_send_text (RdtSession *session, const gchar *topic_id,
                                const gchar *text, GError **error);
/* Send again a send that failed (same text, new chain position). Returns a
 * new send id or 0 with an error if send_id is unknown. */
guint64  rdt_session_retry_send (RdtSession *session, guint64 send_id,
                                 GError **error);

/* A short human-readable status of a topic's chain (head, length,
 * unlinked, pin state) for a /chain command. */
gchar   *rdt_session_describe_topic (RdtSession *session,
                                     const gchar *topic_id);

/* Tuning, mainly for tests (defaults in brackets): polling interval while
 * the stream is up [30000 ms] and while it is down [5000 ms]; reconnect
 * backoff start [1000 ms] and cap [60000 ms]; stream keepalive [25 s]. */
void rdt_session_set_poll_intervals (RdtSession *session, guint live_ms,
                                     guint down_ms);
void rdt_session_set_backoff (RdtSession *session, guint initial_ms,
                              guint max_ms);
/* Turn the WebSocket off (polling only), for tests and benchmarks. */
void rdt_session_set_use_stream (RdtSession *session, gboolean use_stream);
/* How long a send may wait for a connection before send_done reports an
 * error [120000 ms]. */
void rdt_session_set_send_timeout (RdtSession *session, guint ms);
/* Counters for tests: 409 conflicts retried, successful logins. */
void rdt_session_get_stats (RdtSession *session, guint *n_conflicts,
                            guint *n_logins);

G_END_DECLS
