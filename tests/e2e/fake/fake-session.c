/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fake-session.c - a scriptable stand-in for session.c, linked into a
 * test-only build of the plugin, so the purple layer's mapping (flags,
 * escaping, warnings, send failures, /retry, head persistence, connection
 * states) is tested without a server. The test drives it through the
 * rdt_fake_* functions, looked up in the plugin module. */
#include <string.h>
#include <gmodule.h>

#include "error.h"

#include "crypto.h"
#include "id.h"
#include "session.h"
#include "api.h"

struct _RdtSession {
  RdtSessionCallbacks cb;
  gpointer data;
  gchar *space, *member;
  RdtSessionState state;
  GHashTable *open;        /* topic -> backlog */
  GHashTable *sends;       /* id -> text */
  GHashTable *pins;        /* topic -> "hash ts" */
  guint64 next_id;
  gchar *last_sent;
  GSList *idles;
};

static RdtSession *current;

G_MODULE_EXPORT RdtSession *rdt_fake_current (void) { return current; }

RdtSession *
rdt_session_new (const gchar *url, const gchar *space_id,
                 const guint8 seed[RDT_SEED_LENGTH],
                 const guint8 root[RDT_KEY_LENGTH], GError **error)
{
  RdtSession *s = g_new0 (RdtSession, 1);
  RdtSigningKey *key = rdt_signing_key_new_from_seed (seed);

  s->space = g_strdup (space_id);
  s->member = rdt_signing_key_get_id (key, RDT_ID_USER);
  rdt_signing_key_free (key);
  s->open = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->sends = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  s->pins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->next_id = 1;
  current = s;
  return s;
}

void
rdt_session_free (RdtSession *s)
{
  for (GSList *l = s->idles; l; l = l->next)
    g_source_remove (GPOINTER_TO_UINT (l->data));
  g_slist_free (s->idles);
  g_hash_table_destroy (s->open);
  g_hash_table_destroy (s->sends);
  g_hash_table_destroy (s->pins);
  g_free (s->space);
  g_free (s->member);
  g_free (s->last_sent);
  if (current == s)
    current = NULL;
  g_free (s);
}

void
rdt_session_set_callbacks (RdtSession *s, const RdtSessionCallbacks *cb,
                           gpointer data)
{
  s->cb = *cb;
  s->data = data;
}

const gchar *rdt_session_get_member_id (RdtSession *s) { return s->member; }
const gchar *rdt_session_get_space_id (RdtSession *s) { return s->space; }
RdtSessionState rdt_session_get_state (RdtSession *s) { return s->state; }

G_MODULE_EXPORT void
rdt_fake_state (RdtSessionState state, gboolean fatal, const gchar *msg)
{
  GError *e = msg ? g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED, msg) : NULL;

  current->state = state;
  current->cb.state_changed (current, state, e, fatal, current->data);
  g_clear_error (&e);
}

static gboolean
connect_idle (gpointer data)
{
  RdtSession *s = data;

  s->idles = g_slist_remove (s->idles, GUINT_TO_POINTER (g_source_get_id (g_main_current_source ())));
  rdt_fake_state (RDT_SESSION_CONNECTED, FALSE, NULL);
  return G_SOURCE_REMOVE;
}

void
rdt_session_connect (RdtSession *s)
{
  s->idles = g_slist_prepend (s->idles, GUINT_TO_POINTER (g_idle_add (connect_idle, s)));
}

void rdt_session_disconnect (RdtSession *s) { s->state = RDT_SESSION_DISCONNECTED; }

void
rdt_session_open_topic (RdtSession *s, const gchar *topic, guint backlog)
{
  if (g_strcmp0 (topic, "broken") == 0)
    {
      GError *e = g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED, "no such topic");
      s->cb.topic_opened (s, topic, e, s->data);
      g_error_free (e);
      return;
    }
  g_hash_table_insert (s->open, g_strdup (topic), GUINT_TO_POINTER (backlog));
  s->cb.topic_opened (s, topic, NULL, s->data);
}

void rdt_session_close_topic (RdtSession *s, const gchar *topic) { g_hash_table_remove (s->open, topic); }
gboolean rdt_session_topic_is_open (RdtSession *s, const gchar *topic) { return g_hash_table_contains (s->open, topic); }

void
rdt_session_set_pinned_head (RdtSession *s, const gchar *topic,
                             const gchar *hash, gint64 ts)
{
  g_hash_table_insert (s->pins, g_strdup (topic),
                       g_strdup_printf ("%s %" G_GINT64_FORMAT, hash, ts));
}

G_MODULE_EXPORT const gchar *
rdt_fake_pin (const gchar *topic)
{
  return g_hash_table_lookup (current->pins, topic);
}

G_MODULE_EXPORT const gchar *rdt_fake_last_sent (void) { return current->last_sent; }

G_MODULE_EXPORT void
rdt_fake_message (const gchar *topic, const gchar *sender, const gchar *text,
                  gint64 ts, gboolean backlog, gboolean own)
{
  RdtSessionMessage m = {
    .topic_id = topic, .message_hash = "M-fake", .sender = sender,
    .type = "chat.text", .text = text, .timestamp = ts,
    .backlog = backlog, .own = own,
  };
  current->cb.message (current, &m, current->data);
}

G_MODULE_EXPORT void
rdt_fake_warning (const gchar *topic, RdtWarningKind kind, const gchar *text)
{
  current->cb.warning (current, topic, kind, text, current->data);
}

G_MODULE_EXPORT void
rdt_fake_head (const gchar *topic, const gchar *hash, gint64 ts)
{
  current->cb.head_changed (current, topic, hash, ts, current->data);
}

/* Sends: text containing "FAIL" fails once; the rest succeed. The outcome
 * comes later from the main loop, as from the real session. */
typedef struct {
  RdtSession *s;
  guint64 id;
  gchar *topic, *text;
  gboolean fail;
} SendJob;

static gboolean
send_idle (gpointer data)
{
  SendJob *j = data;
  RdtSession *s = j->s;

  s->idles = g_slist_remove (s->idles, GUINT_TO_POINTER (g_source_get_id (g_main_current_source ())));
  if (j->fail)
    {
      GError *e = g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED, "server said no");
      s->cb.send_done (s, j->topic, j->id, e, s->data);
      g_error_free (e);
    }
  else
    {
      rdt_fake_message (j->topic, s->member, j->text,
                        g_get_real_time () / 1000, FALSE, TRUE);
      s->cb.send_done (s, j->topic, j->id, NULL, s->data);
    }
  g_free (j->topic);
  g_free (j->text);
  g_free (j);
  return G_SOURCE_REMOVE;
}

static guint64
do_send (RdtSession *s, const gchar *topic, const gchar *text, gboolean may_fail)
{
  SendJob *j = g_new0 (SendJob, 1);

  j->s = s;
  j->id = s->next_id++;
  j->topic = g_strdup (topic);
  j->text = g_strdup (text);
  j->fail = may_fail && strstr (text, "FAIL") != NULL;
  g_free (s->last_sent);
  s->last_sent = g_strdup (text);
  g_hash_table_insert (s->sends, g_memdup2 (&j->id, sizeof j->id),
                       g_strconcat (topic, "\n", text, NULL));
  s->idles = g_slist_prepend (s->idles, GUINT_TO_POINTER (g_idle_add (send_idle, j)));
  return j->id;
}

guint64
rdt_session_send_text (RdtSession *s, const gchar *topic, const gchar *text,
                       GError **error)
{
  if (!g_hash_table_contains (s->open, topic))
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_FAILED, "topic not open");
      return 0;
    }
  return do_send (s, topic, text, TRUE);
}

/* Attachments (xfer.c) are tested against the real session only. */
guint64
rdt_session_send_payload (RdtSession *s, const gchar *topic, const gchar *type,
                          const guint8 *plaintext, gsize len, GError **error)
{
  g_set_error_literal (error, RDT_ERROR, RDT_ERROR_FAILED,
                       "the fake session sends text only");
  return 0;
}

RdtApi *
rdt_session_get_api (RdtSession *s)
{
  return NULL;
}

void
rdt_session_open_topic_for_marker (RdtSession *s, const gchar *topic,
                                   guint backlog)
{
  rdt_session_open_topic (s, topic, backlog);
}

/* No read markers here: the fake opens every topic with its script. */
void
rdt_session_set_read_marker (RdtSession *s, const gchar *topic,
                             const gchar *hash, gint64 ts, guint max_unread)
{
}

guint64
rdt_session_retry_send (RdtSession *s, guint64 send_id, GError **error)
{
  const gchar *rec = g_hash_table_lookup (s->sends, &send_id);
  gchar **parts;
  guint64 id;

  if (rec == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_FAILED, "unknown send");
      return 0;
    }
  parts = g_strsplit (rec, "\n", 2);
  id = do_send (s, parts[0], parts[1], FALSE);
  g_strfreev (parts);
  return id;
}

gchar *
rdt_session_describe_topic (RdtSession *s, const gchar *topic)
{
  return g_strdup_printf ("fake chain of %s", topic);
}

void rdt_session_set_poll_intervals (RdtSession *s, guint a, guint b) { }
void rdt_session_set_backoff (RdtSession *s, guint a, guint b) { }
void rdt_session_set_use_stream (RdtSession *s, gboolean u) { }
void rdt_session_set_send_timeout (RdtSession *s, guint ms) { }

/* Reconnecting: a fixed next try, and /reconnect recorded. */
guint rdt_fake_n_reconnect_now;
gint64 rdt_session_get_next_try (RdtSession *s)
{
  return s->state == RDT_SESSION_CONNECTING ? 20000 : -1;
}
gboolean rdt_session_is_probing (RdtSession *s) { return FALSE; }
gboolean
rdt_session_reconnect_now (RdtSession *s)
{
  rdt_fake_n_reconnect_now++;
  return s->state == RDT_SESSION_CONNECTING;
}
void rdt_session_network_changed (RdtSession *s, gboolean available) { }

/* No older history in the fake: the start of the topic at once. */
void
rdt_session_load_history (RdtSession *s, const gchar *topic_id, guint n,
                          RdtSessionHistoryFunc callback, gpointer user_data)
{
  g_autoptr (GPtrArray) none = g_ptr_array_new ();

  callback (s, topic_id, none, TRUE, NULL, user_data);
}
