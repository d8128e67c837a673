/* SPDX-License-Identifier: GPL-2.0-or-later */
/* unread.c - read markers of the chats (see unread.h). */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <debug.h>
#include <signals.h>

#include "api.h"
#include "id.h"
#include "readstate.h"

#include "events.h"
#include "transcript.h"
#include "unread.h"

/* The account setting of a topic's marker on this device:
 * "<space id> <message hash> <server time>". */
#define LOCAL_PREFIX "read:"

typedef struct _Unread Unread;

typedef struct {
  Unread *u;
  gchar *topic;
  gchar *shown_hash;        /* newest message shown in the chat */
  gint64 shown_ts;
  RdtReadMarker *read;      /* newest known read position, any device */
  RdtReadMarker *stored;    /* what the data store holds, as far as we know */
  gint64 written_us;        /* monotonic time of our last store */
  guint timer;
  gboolean writing, again;
  GCancellable *cancel;     /* its load and stores; not the final store */
} Topic;

struct _Unread {
  RdtConn *rc;
  RdtReadState *store;
  GHashTable *topics;       /* topic -> Topic */
  gboolean refused;         /* the member may not write markers (403) */
  gboolean told;            /* ... and the chats were told so */
};

static Unread *
unread_of (RdtConn *rc)
{
  return rc ? rc->unread : NULL;
}

static void
topic_free (gpointer data)
{
  Topic *t = data;

  g_clear_handle_id (&t->timer, g_source_remove);
  g_cancellable_cancel (t->cancel);
  g_object_unref (t->cancel);
  g_free (t->topic);
  g_free (t->shown_hash);
  g_clear_pointer (&t->read, rdt_read_marker_free);
  g_clear_pointer (&t->stored, rdt_read_marker_free);
  g_free (t);
}

static Topic *
topic_get (Unread *u, const gchar *topic)
{
  Topic *t = g_hash_table_lookup (u->topics, topic);

  if (t == NULL)
    {
      t = g_new0 (Topic, 1);
      t->u = u;
      t->topic = g_strdup (topic);
      t->cancel = g_cancellable_new ();
      g_hash_table_insert (u->topics, t->topic, t);
    }
  return t;
}

/* ---- this device's copy ---- */

static RdtReadMarker *
local_load (Unread *u, const gchar *topic)
{
  PurpleAccount *account = purple_connection_get_account (u->rc->gc);
  g_autofree gchar *key = g_strconcat (LOCAL_PREFIX, topic, NULL);
  const gchar *value = purple_account_get_string (account, key, NULL);
  g_auto (GStrv) parts = value ? g_strsplit (value, " ", 3) : NULL;
  gint64 ts;

  if (parts == NULL || g_strv_length (parts) != 3 ||
      g_strcmp0 (parts[0], rdt_session_get_space_id (u->rc->session)) != 0)
    return NULL;             /* none, or of the space the account had before */
  ts = g_ascii_strtoll (parts[2], NULL, 10);
  if (ts <= 0 || !rdt_id_decode_typed (parts[1], RDT_ID_MESSAGE, NULL, NULL))
    return NULL;
  return rdt_read_marker_new (topic, parts[1], ts);
}

static void
local_save (Unread *u, const RdtReadMarker *m)
{
  PurpleAccount *account = purple_connection_get_account (u->rc->gc);
  g_autofree gchar *key = g_strconcat (LOCAL_PREFIX, m->topic_id, NULL);
  g_autofree gchar *value = g_strdup_printf (
      "%s %s %" G_GINT64_FORMAT, rdt_session_get_space_id (u->rc->session),
      m->message_hash, m->timestamp);

  purple_account_set_string (account, key, value);
}

/* Keeps m as the topic's read position if it is newer. */
static gboolean
adopt (Topic *t, const RdtReadMarker *m)
{
  if (m == NULL || !rdt_read_marker_is_newer (m, t->read))
    return FALSE;
  g_clear_pointer (&t->read, rdt_read_marker_free);
  t->read = rdt_read_marker_copy (m);
  local_save (t->u, m);
  return TRUE;
}

/* ---- writing to the data store ---- */

static void write_soon (Topic *t);

static void
tell_refused (Unread *u)
{
  g_autofree gchar *text = NULL;

  if (u->told)
    return;
  u->told = TRUE;
  text = g_strdup_printf (
      _("What you read is remembered on this device only: this member may "
        "not store it in the space, so your other devices do not know it. "
        "The space's owner can allow it with: /add-member %s"),
      rdt_session_get_member_id (u->rc->session));
  rdt_write_all_chats (u->rc, text, PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG);
}

static void
on_stored (GObject *src, GAsyncResult *res, gpointer data)
{
  Topic *t = data;
  GError *error = NULL;
  RdtReadMarker *now = rdt_readstate_store_finish (RDT_READ_STATE (src), res,
                                                   &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (error);
      return;                /* the topic may be gone */
    }
  t->writing = FALSE;
  if (now != NULL)
    {
      /* the stored one: ours, or a newer one of another device */
      g_clear_pointer (&t->stored, rdt_read_marker_free);
      t->stored = rdt_read_marker_copy (now);
      adopt (t, now);
      rdt_read_marker_free (now);
    }
  else if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN))
    {
      t->u->refused = TRUE;
      tell_refused (t->u);
    }
  else
    purple_debug_warning ("reeeductio", "read marker of %s not stored: %s\n",
                          t->topic, error ? error->message : "?");
  g_clear_error (&error);
  if (t->again)
    {
      t->again = FALSE;
      write_soon (t);
    }
}

static void
write_now (Topic *t)
{
  Unread *u = t->u;

  if (u->refused || t->read == NULL ||
      !rdt_read_marker_is_newer (t->read, t->stored))
    return;
  if (rdt_session_get_state (u->rc->session) != RDT_SESSION_CONNECTED)
    return;                  /* the next read after the outage writes it */
  t->writing = TRUE;
  t->written_us = g_get_monotonic_time ();
  rdt_readstate_store_async (u->store, t->read, t->cancel, on_stored, t);
}

static gboolean
on_write_timer (gpointer data)
{
  Topic *t = data;

  t->timer = 0;
  write_now (t);
  return G_SOURCE_REMOVE;
}

/* At most one store per topic in RDT_UNREAD_WRITE_INTERVAL_S. */
static void
write_soon (Topic *t)
{
  gint64 now = g_get_monotonic_time (), due;

  if (t->u->refused || t->timer != 0)
    return;
  if (t->writing)
    {
      t->again = TRUE;
      return;
    }
  due = t->written_us == 0
      ? now : t->written_us + RDT_UNREAD_WRITE_INTERVAL_S * G_USEC_PER_SEC;
  if (due <= now)
    write_now (t);
  else
    t->timer = g_timeout_add_seconds (
        (guint) ((due - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC),
        on_write_timer, t);
}

static void
on_final_stored (GObject *src, GAsyncResult *res, gpointer data)
{
  GError *error = NULL;
  RdtReadMarker *m = rdt_readstate_store_finish (RDT_READ_STATE (src), res,
                                                 &error);

  if (m == NULL)
    purple_debug_info ("reeeductio", "last read marker not stored: %s\n",
                       error->message);
  g_clear_pointer (&m, rdt_read_marker_free);
  g_clear_error (&error);
}

/* The chat goes: what it has not stored yet, now. Not cancelled with the
 * connection: the request keeps the store alive until it is answered. */
static void
write_final (Topic *t)
{
  Unread *u = t->u;

  g_clear_handle_id (&t->timer, g_source_remove);
  if (u->refused || t->read == NULL ||
      !rdt_read_marker_is_newer (t->read, t->stored) ||
      rdt_session_get_state (u->rc->session) != RDT_SESSION_CONNECTED)
    return;
  rdt_readstate_store_async (u->store, t->read, NULL, on_final_stored, NULL);
}

/* ---- reading ---- */

void
rdt_unread_mark_read (RdtConn *rc, const gchar *topic)
{
  Unread *u = unread_of (rc);
  Topic *t = u ? g_hash_table_lookup (u->topics, topic) : NULL;
  g_autoptr (RdtReadMarker) m = NULL;

  if (t == NULL || t->shown_hash == NULL)
    return;
  m = rdt_read_marker_new (topic, t->shown_hash, t->shown_ts);
  if (adopt (t, m))
    write_soon (t);
}

static void
on_conversation_updated (PurpleConversation *conv, PurpleConvUpdateType type,
                         gpointer data)
{
  Unread *u = data;
  const gchar *topic;

  if (type != PURPLE_CONV_UPDATE_UNSEEN ||
      purple_conversation_get_gc (conv) != u->rc->gc ||
      purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return;
  /* Pidgin: the person looked at the chat */
  if (GPOINTER_TO_INT (purple_conversation_get_data (conv, "unseen-count")) != 0)
    return;
  topic = rdt_topic_for_conv (conv);
  if (topic)
    rdt_unread_mark_read (u->rc, topic);
}

void
rdt_unread_on_shown (RdtConn *rc, const RdtSessionMessage *msg)
{
  Unread *u = unread_of (rc);
  PurpleConvChat *chat;
  Topic *t;

  if (u == NULL || msg->topic_id == NULL)
    return;
  t = topic_get (u, msg->topic_id);
  /* delivery is in chain order: each one is the newest shown */
  g_free (t->shown_hash);
  t->shown_hash = g_strdup (msg->message_hash);
  t->shown_ts = msg->timestamp;
  chat = rdt_chat_for_topic (rc, msg->topic_id);
  /* sending means having read the chat; a chat in focus is being read */
  if ((msg->own && !msg->backlog) ||
      (chat && purple_conversation_has_focus (
                   purple_conv_chat_get_conversation (chat))))
    rdt_unread_mark_read (rc, msg->topic_id);
}

void
rdt_unread_on_topic_unread (RdtSession *session, const gchar *topic_id,
                            const RdtSessionUnread *un, gpointer user_data)
{
  RdtConn *rc = user_data;
  g_autofree gchar *text = NULL, *html = NULL;

  switch (un->found)
    {
    case RDT_MARKER_FOUND:
      text = un->n_shown == 0
          ? g_strdup (_("— No new messages since you last read (/history "
                        "shows earlier ones) —"))
          : g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                          "— %u new message since you last "
                                          "read —",
                                          "— %u new messages since you last "
                                          "read —", un->n_shown),
                             un->n_shown);
      break;
    case RDT_MARKER_BEYOND:
      text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "— %u new message since you last "
                                           "read; more before it (/history) —",
                                           "— the newest %u new messages since "
                                           "you last read; more before them "
                                           "(/history) —", un->n_shown),
                              un->n_shown);
      break;
    case RDT_MARKER_NOT_FOUND:
    default:
      text = g_strdup (_("— Where you last read is not in this topic's "
                         "verified history; these are the newest messages —"));
      break;
    }
  html = purple_markup_escape_text (text, -1);
  /* after the entries held before it (transcript.c) */
  rdt_transcript_write (rc, topic_id, NULL, html, PURPLE_MESSAGE_SYSTEM,
                        time (NULL), 0);
}

/* ---- joining ---- */

typedef struct {
  Unread *u;
  gchar *topic;
} Load;

/* The topic waits for this (rdt_session_open_topic_for_marker). */
static void
give_marker (Unread *u, const gchar *topic)
{
  PurpleAccount *account = purple_connection_get_account (u->rc->gc);
  gint max = purple_account_get_int (account, "max_unread",
                                     RDT_DEFAULT_MAX_UNREAD);
  Topic *t = topic_get (u, topic);

  if (t->read != NULL && max > 0)
    rdt_session_set_read_marker (u->rc->session, topic, t->read->message_hash,
                                 t->read->timestamp, (guint) MIN (max, 100000));
  else
    rdt_session_set_read_marker (u->rc->session, topic, NULL, 0, 0);
}

static void
on_loaded (GObject *src, GAsyncResult *res, gpointer data)
{
  Load *l = data;
  GError *error = NULL;
  RdtReadMarker *m = rdt_readstate_load_finish (RDT_READ_STATE (src), res,
                                                &error);
  Unread *u = l->u;
  Topic *t;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    goto out;
  /* left meanwhile? */
  if (!g_hash_table_contains (u->rc->topic_to_id, l->topic))
    goto out;
  t = topic_get (u, l->topic);
  if (m != NULL)
    {
      rdt_events_note_been_here (u->rc);  /* a device of ours read here */
      g_clear_pointer (&t->stored, rdt_read_marker_free);
      t->stored = rdt_read_marker_copy (m);
      adopt (t, m);
    }
  /* This device read further than the space says (a store of ours was
   * lost in a race with another device's older one: the data store has
   * no compare-and-swap): store ours again. */
  if (!u->refused && t->read != NULL
      && rdt_read_marker_is_newer (t->read, t->stored))
    write_soon (t);
  else if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN))
    {
      u->refused = TRUE;
      tell_refused (u);
    }
  else if (error != NULL)
    {
      g_autofree gchar *text = g_strdup_printf (
          _("The read position stored in the space could not be used (%s); "
            "this device's is used."), error->message);
      rdt_write_system (rdt_chat_for_topic (u->rc, l->topic), text,
                        PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG);
    }
  give_marker (u, l->topic);
out:
  g_clear_pointer (&m, rdt_read_marker_free);
  g_clear_error (&error);
  g_free (l->topic);
  g_free (l);
}

void
rdt_unread_open_topic (RdtConn *rc, const gchar *topic, guint backlog)
{
  Unread *u = unread_of (rc);
  Topic *t;
  Load *l;

  if (u == NULL)
    {
      rdt_session_open_topic (rc->session, topic, backlog);
      return;
    }
  /* open for sends at once; the history waits for the marker */
  rdt_session_open_topic_for_marker (rc->session, topic, backlog);
  t = topic_get (u, topic);
  {
    RdtReadMarker *local = local_load (u, topic);
    adopt (t, local);
    g_clear_pointer (&local, rdt_read_marker_free);
  }
  if (u->refused ||
      rdt_session_get_state (rc->session) != RDT_SESSION_CONNECTED)
    {
      /* offline: this device's marker, rather than waiting on a request */
      give_marker (u, topic);
      return;
    }
  l = g_new0 (Load, 1);
  l->u = u;
  l->topic = g_strdup (topic);
  rdt_readstate_load_async (u->store, topic, t->cancel, on_loaded, l);
}

void
rdt_unread_forget_topic (RdtConn *rc, const gchar *topic)
{
  Unread *u = unread_of (rc);
  Topic *t = u ? g_hash_table_lookup (u->topics, topic) : NULL;

  if (t == NULL)
    return;
  write_final (t);
  g_hash_table_remove (u->topics, topic);   /* cancels its requests */
}

/* ---- life ---- */

void
rdt_unread_init (RdtConn *rc, const guint8 seed[32])
{
  Unread *u = g_new0 (Unread, 1);

  u->rc = rc;
  {
    RdtApi *api = rdt_session_get_api (rc->session);

    /* without an api (a test's scripted session), markers stay local */
    if (api != NULL)
      u->store = rdt_readstate_new (api, seed);
    else
      u->refused = u->told = TRUE;
  }
  u->topics = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                     topic_free);
  rc->unread = u;
  purple_signal_connect (purple_conversations_get_handle (),
                         "conversation-updated", u,
                         PURPLE_CALLBACK (on_conversation_updated), u);
}

void
rdt_unread_free (RdtConn *rc)
{
  Unread *u = unread_of (rc);
  GHashTableIter iter;
  gpointer t;

  if (u == NULL)
    return;
  purple_signals_disconnect_by_handle (u);
  g_hash_table_iter_init (&iter, u->topics);
  while (g_hash_table_iter_next (&iter, NULL, &t))
    write_final (t);
  g_hash_table_destroy (u->topics);        /* cancels their requests */
  g_clear_object (&u->store);
  g_free (u);
  rc->unread = NULL;
}

PurpleAccountOption *
rdt_unread_account_option_new (void)
{
  return purple_account_option_int_new (
      _("Unread messages shown on joining a topic (at most)"), "max_unread",
      RDT_DEFAULT_MAX_UNREAD);
}
