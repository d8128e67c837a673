/* SPDX-License-Identifier: GPL-2.0-or-later */
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
 *   a send is posted at most once: when the answer to a post is lost the
 *   session looks the message up by hash (spec 4.7) before posting again;
 * - after a 409 the retry chains on the server's newest message (spec
 *   4.6, 15.9), after catching up on (and verifying) what was missed; a
 *   send gives up only after 6 conflicts in a row that did not move the
 *   server's head (or 200 in all), with "Could not send after N attempts:
 *   <reason>";
 * - a token refused even after the api's own re-login (401 on a poll or
 *   a post) makes the session log in again; queued sends and polling go
 *   on afterwards;
 * - a send waits for the connection (queued, in order) while the session
 *   reconnects, up to the send timeout;
 * - after rdt_session_free() no callback runs.
 *
 * Re-entrancy: any callback may call any function here, including
 * rdt_session_close_topic() and rdt_session_free() on this session; the
 * session then stops what it was doing for that topic (or altogether).
 */
#pragma once

#include <glib.h>
#include "crypto.h"

G_BEGIN_DECLS

typedef struct _RdtSession RdtSession;
/* From api.h (not included here: it pulls in libsoup). */
typedef struct _RdtApi RdtApi;

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

typedef enum {
  RDT_MARKER_FOUND,      /* the marker is in the verified chain */
  RDT_MARKER_NOT_FOUND,  /* not in the verified chain: paged back to the
                          * start or past the marker's time; the newest
                          * backlog page was shown as without a marker */
  RDT_MARKER_BEYOND      /* more than max_unread messages after it: the
                          * newest max_unread were shown, more = TRUE */
} RdtReadMarkerFound;

typedef struct {
  guint              n_shown;  /* unread messages delivered (NOT_FOUND:
                                * the backlog page delivered instead) */
  gboolean           more;     /* there were more than max_unread unread:
                                * the older ones were not shown */
  RdtReadMarkerFound found;
} RdtSessionUnread;

typedef struct {
  /* Connection state changed. error is set when it changed because of a
   * failure; fatal means retrying will not help: 403 at login (not a
   * member, which is also what a wrong key gets), 404 (unknown space),
   * 400/422 (the server refuses our login request as malformed). Then the
   * session stays DISCONNECTED until rdt_session_connect() is called
   * again, and queued sends end with that error. Everything else (401 at
   * login = lost or raced challenge, 5xx, timeouts, network) is transient:
   * CONNECTING with the error, retried with backoff. */
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
   * once through `message` with own = TRUE). A failed send's error
   * message is fit for the user ("Could not send after 3 attempts: ...");
   * the same text also comes as a RDT_WARNING_SEND_FAILED warning. */
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
  /* A message of the space's "state" topic was pushed on the stream
   * (spec 7, 8): `path` is its type (the state path). Only a hint, NOT
   * verified here: re-read the path (GET state, via rdt_session_get_api)
   * and verify before trusting anything. May be NULL. */
  void (*state_message) (RdtSession *session, const gchar *path,
                         const gchar *message_hash, const gchar *sender,
                         gint64 timestamp, gpointer user_data);
  /* An opening with a read marker (rdt_session_set_read_marker()) showed
   * its unread messages: called once, after they were delivered through
   * `message` (backlog = TRUE) and before topic_opened. May be NULL. */
  void (*topic_unread)  (RdtSession *session, const gchar *topic_id,
                         const RdtSessionUnread *unread,
                         gpointer user_data);
} RdtSessionCallbacks;

/* Validates the url, the space id and key lengths; copies seed and root
 * into secret memory (the caller wipes its own copies). */
RdtSession *rdt_session_new (const gchar *server_url, const gchar *space_id,
                             const guint8 seed[RDT_SEED_LENGTH],
                             const guint8 root[RDT_KEY_LENGTH],
                             GError **error);
/* The same, for a key the caller already holds (tools, tests). */
RdtSession *rdt_session_new_for_key (const gchar *server_url,
                                     const gchar *space_id,
                                     const RdtSigningKey *key,
                                     const guint8 root[RDT_KEY_LENGTH],
                                     GError **error);
void        rdt_session_free (RdtSession *session);
void        rdt_session_set_callbacks (RdtSession *session,
                                       const RdtSessionCallbacks *callbacks,
                                       gpointer user_data);

const gchar    *rdt_session_get_member_id (RdtSession *session);  /* U id */
/* The session's RdtApi (borrowed, valid until rdt_session_free()), for
 * other modules' extra calls (state, blobs). It shares the session's token
 * and login: while the session is CONNECTED it is logged in; requests made
 * before that log in on their own. Do not clear its token. */
RdtApi         *rdt_session_get_api (RdtSession *session);
const gchar    *rdt_session_get_space_id (RdtSession *session);
RdtSessionState rdt_session_get_state (RdtSession *session);

/* Log in and go live. Transient failures retry with exponential backoff
 * (state CONNECTING); fatal ones end in DISCONNECTED with fatal = TRUE. */
void rdt_session_connect (RdtSession *session);
void rdt_session_disconnect (RdtSession *session);

/* While reconnecting (CONNECTING after a failure): milliseconds until the
 * next login try, or -1 when none is waiting (logging in right now, or
 * not reconnecting). Meanwhile, while the server gives no answer at all,
 * a cheap GET /health every probe interval (is_probing) starts the login
 * as soon as it answers. */
gint64   rdt_session_get_next_try (RdtSession *session);
gboolean rdt_session_is_probing (RdtSession *session);
/* Try now instead of waiting: the login while reconnecting, the stream
 * while it is down. FALSE when there is nothing to try (connected and
 * live, already trying, or disconnected). Also what a change of the
 * network (GNetworkMonitor::network-changed, available) does. */
gboolean rdt_session_reconnect_now (RdtSession *session);
void     rdt_session_network_changed (RdtSession *session, gboolean available);

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

/* Call before rdt_session_open_topic(): the opening shows only the
 * verified messages after this one (hash, server ts), at most max_unread
 * of them (the newest), instead of the newest backlog page; the older ones
 * stay for rdt_session_load_history(). Reported through topic_unread.
 * Has no effect on a topic that is open already. */
void rdt_session_set_read_marker (RdtSession *session, const gchar *topic_id,
                                  const gchar *message_hash,
                                  gint64 timestamp, guint max_unread);
/* rdt_session_open_topic() for a read marker that is still being looked
 * up: the topic is open for sends (they wait in its queue) at once, but
 * its first page waits for rdt_session_set_read_marker() on it, with the
 * marker or with message_hash NULL for none. */
void rdt_session_open_topic_for_marker (RdtSession *session,
                                        const gchar *topic_id, guint backlog);

/* Queue a message of any type (e.g. "chat.text", "file.upload",
 * "chat.image") with arbitrary plaintext bytes (encrypted with the topic
 * key) for an open topic. Returns a send id (> 0) reported back by
 * send_done, or 0 with an error (topic not open, bad type, too large).
 * Sends keep their order per topic; the message comes back through
 * `message` with `type` and `payload` set. */
guint64  rdt_session_send_payload (RdtSession *session, const gchar *topic_id,
                                   const gchar *type,
                                   const guint8 *plaintext, gsize len,
                                   GError **error);
/* rdt_session_send_payload() with type "chat.text" and the UTF-8 text as
 * plaintext. */
guint64  rdt_session_send_text (RdtSession *session, const gchar *topic_id,
                                const gchar *text, GError **error);
/* Send again a send that failed (same text, new chain position). Returns a
 * new send id or 0 with an error if send_id is unknown. */
guint64  rdt_session_retry_send (RdtSession *session, guint64 send_id,
                                 GError **error);

/* Older history of an open topic (spec 4.5): the verified, decrypted
 * messages before the oldest one loaded so far, oldest first (elements are
 * RdtSessionMessage *, backlog = TRUE, owned by the array). At least n
 * (1..1000) unless the start of the topic comes first (at_start); a
 * timestamp tie at a page boundary may add a few more. Each call goes on
 * where the last one ended. Called once, with an error (and messages NULL)
 * if the topic is not open, a load is already running, a page fails or
 * does not link; not called if the topic is closed or the session freed
 * first. */
typedef void (*RdtSessionHistoryFunc) (RdtSession *session,
                                       const gchar *topic_id,
                                       GPtrArray *messages, gboolean at_start,
                                       const GError *error,
                                       gpointer user_data);
void     rdt_session_load_history (RdtSession *session, const gchar *topic_id,
                                   guint n, RdtSessionHistoryFunc callback,
                                   gpointer user_data);

/* A short human-readable status of a topic's chain (head, length,
 * unlinked, pin state) for a /chain command. */
gchar   *rdt_session_describe_topic (RdtSession *session,
                                     const gchar *topic_id);

/* Tuning, mainly for tests (defaults in brackets): polling interval while
 * the stream is up [300000 ms] and while it is down [5000 ms]; reconnect
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
/* Counters for tests and benchmarks: logins tried, /health probes made. */
void rdt_session_get_reconnect_stats (RdtSession *session,
                                      guint *n_login_tries, guint *n_probes);
/* The /health probe's interval while the server gives no answer [2000 ms];
 * 0 turns it off. */
void rdt_session_set_probe_interval (RdtSession *session, guint ms);

G_END_DECLS
