/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chat.c - chats are topics: joining opens the topic in the session,
 * verified messages become chat lines, warnings become error lines (never
 * normal text), and the last verified head is persisted per account. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <conversation.h>
#include <imgstore.h>
#include <notify.h>
#include <server.h>
#include <util.h>

#include "id.h"

#include "transcript.h"
#include "events.h"
#include "members.h"
#include "rdt-purple.h"
#include "relations-ui.h"
#include "unread.h"
#include "xfer.h"

/* ---- session callbacks ---- */

void
rdt_chat_on_topic_opened (RdtSession *session, const gchar *topic_id,
                 const GError *error, gpointer user_data)
{
  RdtConn *rc = user_data;
  gchar *text;

  /* the backlog it opened with, folded, first */
  rdt_relations_ui_flush_burst (rc, topic_id);
  rdt_events_on_topic_opened (rc, topic_id, error);
  if (error == NULL)
    return;
  text = g_strdup_printf (_("Could not open topic %s: %s"), topic_id,
                          error->message);
  rdt_write_system (rdt_chat_for_topic (rc, topic_id), text, PURPLE_MESSAGE_ERROR);
  g_free (text);
}

/* A message as a chat entry; text: instead of its own (folded: already
 * fed to relations-ui.c), or NULL. */
static void
show_message (RdtConn *rc, const RdtSessionMessage *msg, const gchar *text,
              gboolean folded)
{
  PurpleConvChat *chat = rdt_chat_for_topic (rc, msg->topic_id);
  PurpleMessageFlags flags;
  gchar *who, *escaped;

  if (chat == NULL)
    return;
  /* the display name when the state gives one (members.c) */
  who = rdt_members_line_nick (rc, chat, msg->sender, msg->own);
  /* A sender the list lacks (not a member any more, or one the state does
   * not show yet): listed, as an arrival when live. Before the list is
   * filled, members.c lists the members in one go. */
  if (!msg->own && rdt_members_chat_filled (rc, msg->topic_id) &&
      !purple_conv_chat_find_user (chat, who))
    purple_conv_chat_add_user (chat, who, NULL, PURPLE_CBFLAGS_NONE,
                               !msg->backlog);
  /* replies, reactions, edits, deletes: said by relations-ui.c */
  if ((!folded && rdt_relations_ui_on_message (rc, msg))
      || rdt_events_handle_message (rc, chat, msg))
    {
      g_free (who);
      return;
    }

  flags = msg->own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV;
  if (msg->backlog)
    flags |= PURPLE_MESSAGE_DELAYED;
  /* Attachments are entries from their sender too (xfer.c). */
  if (rdt_xfer_handle_message (rc, chat, msg, who, flags))
    {
      g_free (who);
      return;
    }
  escaped = purple_markup_escape_text (text ? text : msg->text, -1);
  /* in chain order: after the images held before it, under the sender's
   * name when it is written (transcript.c) */
  rdt_transcript_write_from (rc, msg->topic_id, msg->sender, msg->own,
                             escaped, flags,
                             (time_t) (msg->timestamp / 1000));
  g_free (escaped);
  g_free (who);
}

static void
show_folded (RdtConn *rc, const RdtSessionMessage *msg, const gchar *text)
{
  show_message (rc, msg, text, TRUE);
}

void
rdt_chat_on_message (RdtSession *session, const RdtSessionMessage *msg,
            gpointer user_data)
{
  RdtConn *rc = user_data;
  PurpleConvChat *chat = rdt_chat_for_topic (rc, msg->topic_id);

  if (chat == NULL)
    return;
  rdt_unread_on_shown (rc, msg);
  if (msg->own)
    rdt_events_note_been_here (rc);   /* another device's, maybe */
  /* the backlog comes in a burst: shown folded (relations-ui.c) */
  if (rdt_relations_ui_hold (rc, msg, show_folded))
    return;
  rdt_relations_ui_flush_burst (rc, msg->topic_id);
  show_message (rc, msg, NULL, FALSE);
  /* relations it let apply, after its line */
  rdt_relations_ui_flush (rc, msg->topic_id);
}

void
rdt_chat_on_topic_unread (RdtSession *session, const gchar *topic_id,
                          const RdtSessionUnread *unread, gpointer user_data)
{
  /* the unread messages before the line that counts them */
  rdt_relations_ui_flush_burst (user_data, topic_id);
  rdt_unread_on_topic_unread (session, topic_id, unread, user_data);
}

void
rdt_chat_on_warning (RdtSession *session, const gchar *topic_id, RdtWarningKind kind,
            const gchar *text, gpointer user_data)
{
  RdtConn *rc = user_data;
  gchar *line;

  if (kind == RDT_WARNING_SEND_FAILED)
    return;   /* said in send_done, with the /retry hint */
  line = g_strdup_printf (_("Warning: %s"), text);
  if (topic_id)
    rdt_write_system (rdt_chat_for_topic (rc, topic_id), line, PURPLE_MESSAGE_ERROR);
  else
    rdt_write_all_chats (rc, line, PURPLE_MESSAGE_ERROR);
  g_free (line);
}

/* ---- messages typed while offline ---- */

static guint
offline_waiting (RdtConn *rc, const gchar *topic)
{
  GHashTableIter iter;
  gpointer t;
  guint n = 0;

  g_hash_table_iter_init (&iter, rc->offline_sends);
  while (g_hash_table_iter_next (&iter, NULL, &t))
    n += g_strcmp0 (t, topic) == 0;
  return n;
}

/* A message typed while the session reconnects: the session keeps it in
 * the topic's queue; the chat says so, and later that it went out. */
static void
offline_queued (RdtConn *rc, const gchar *topic, guint64 send_id)
{
  guint n;
  gchar *line;

  g_hash_table_insert (rc->offline_sends, g_memdup2 (&send_id, sizeof send_id),
                       g_strdup (topic));
  n = offline_waiting (rc, topic);
  line = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
      "Offline: %u message will be sent when the connection is back.",
      "Offline: %u messages will be sent when the connection is back.", n), n);
  rdt_write_system (rdt_chat_for_topic (rc, topic), line, PURPLE_MESSAGE_SYSTEM);
  g_free (line);
}

static void
offline_done (RdtConn *rc, const gchar *topic, guint64 send_id, gboolean sent)
{
  guint n_sent;
  gchar *line;

  if (!g_hash_table_remove (rc->offline_sends, &send_id))
    return;
  n_sent = GPOINTER_TO_UINT (g_hash_table_lookup (rc->offline_sent, topic))
           + (sent ? 1 : 0);
  if (offline_waiting (rc, topic) > 0)
    {
      g_hash_table_replace (rc->offline_sent, g_strdup (topic),
                            GUINT_TO_POINTER (n_sent));
      return;
    }
  g_hash_table_remove (rc->offline_sent, topic);
  if (n_sent == 0)
    return;   /* each failure was said with its /retry hint */
  line = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
      "Sent %u message typed while offline.",
      "Sent %u messages typed while offline.", n_sent), n_sent);
  rdt_write_system (rdt_chat_for_topic (rc, topic), line, PURPLE_MESSAGE_SYSTEM);
  g_free (line);
}

/* A failed send, kept for /retry (the newest RDT_MAX_FAILED_PER_CHAT of
 * a chat: the text of an older one is forgotten). */
static void
remember_failed (RdtConn *rc, const gchar *topic, guint64 send_id)
{
  GArray *ids = g_hash_table_lookup (rc->last_failed, topic);

  if (ids == NULL)
    {
      ids = g_array_new (FALSE, FALSE, sizeof (guint64));
      g_hash_table_insert (rc->last_failed, g_strdup (topic), ids);
    }
  g_array_append_val (ids, send_id);
  if (ids->len > RDT_MAX_FAILED_PER_CHAT)
    {
      g_hash_table_remove (rc->pending_text, &g_array_index (ids, guint64, 0));
      g_array_remove_index (ids, 0);
    }
}

/* The chat is left: nobody can /retry its failed sends. */
static void
forget_failed (RdtConn *rc, const gchar *topic)
{
  GArray *ids = g_hash_table_lookup (rc->last_failed, topic);

  for (guint i = 0; ids && i < ids->len; i++)
    g_hash_table_remove (rc->pending_text, &g_array_index (ids, guint64, i));
  g_hash_table_remove (rc->last_failed, topic);
}

guint
rdt_chat_retry_failed (RdtConn *rc, const gchar *topic, GError **error)
{
  GArray *ids = NULL;
  gchar *key = NULL;
  GError *first = NULL;
  guint n = 0;

  if (!g_hash_table_steal_extended (rc->last_failed, topic, (gpointer *) &key,
                                    (gpointer *) &ids))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("There is no failed message to retry in this chat."));
      return 0;
    }
  for (guint i = 0; i < ids->len; i++)
    {
      guint64 old_id = g_array_index (ids, guint64, i), new_id;
      gchar *text = NULL;
      gpointer old_key = NULL;
      GError *e = NULL;

      new_id = rdt_session_retry_send (rc->session, old_id, &e);
      if (new_id == 0)
        {
          if (first == NULL)
            first = e;
          else
            g_error_free (e);
          g_hash_table_remove (rc->pending_text, &old_id);
          continue;
        }
      n++;
      g_hash_table_steal_extended (rc->pending_text, &old_id, &old_key,
                                   (gpointer *) &text);
      g_free (old_key);
      g_hash_table_insert (rc->pending_text, g_memdup2 (&new_id, sizeof new_id),
                           text ? text : g_strdup (""));
      if (rdt_session_get_state (rc->session) != RDT_SESSION_CONNECTED)
        offline_queued (rc, topic, new_id);
    }
  g_array_unref (ids);
  g_free (key);
  if (n == 0 && first != NULL)
    {
      g_propagate_prefixed_error (error, first, _("Retry failed: "));
      return 0;
    }
  g_clear_error (&first);
  return n;
}

void
rdt_chat_on_send_done (RdtSession *session, const gchar *topic_id, guint64 send_id,
              const GError *error, gpointer user_data)
{
  RdtConn *rc = user_data;
  const gchar *text = g_hash_table_lookup (rc->pending_text, &send_id);
  gchar *line;

  offline_done (rc, topic_id, send_id, error == NULL);
  if (rdt_events_on_send_done (rc, topic_id, send_id, error))
    return;
  if (error == NULL)
    {
      g_hash_table_remove (rc->pending_text, &send_id);
      return;
    }
  if (rdt_chat_for_topic (rc, topic_id) == NULL)
    {
      /* The chat is gone (left): nobody can /retry it. */
      g_hash_table_remove (rc->pending_text, &send_id);
      return;
    }
  line = g_strdup_printf (_("Message not sent: \"%s\" (%s). Type /retry to send it again."),
                          text ? text : "", error->message);
  rdt_write_system (rdt_chat_for_topic (rc, topic_id), line, PURPLE_MESSAGE_ERROR);
  g_free (line);
  remember_failed (rc, topic_id, send_id);
}

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

void
rdt_chat_warn_unsent (RdtConn *rc)
{
  GList *ids = g_list_sort (g_hash_table_get_keys (rc->pending_text),
                            compare_ids);
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  GString *body;
  gchar *primary;
  guint n;

  for (GList *l = ids; l; l = l->next)
    g_ptr_array_add (lines, g_strdup (g_hash_table_lookup (rc->pending_text,
                                                           l->data)));
  g_list_free (ids);
  rdt_xfer_list_unsent (rc, lines);
  n = lines->len;
  if (n == 0)
    {
      g_ptr_array_unref (lines);
      return;
    }
  body = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      gchar *e = purple_markup_escape_text (lines->pdata[i], -1);

      g_string_append_printf (body, "%s%s", body->len ? "<br>" : "", e);
      g_free (e);
    }
  primary = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
      "%u message of %s was not sent:", "%u messages of %s were not sent:", n),
      n, purple_account_get_username (purple_connection_get_account (rc->gc)));
  /* Not tied to the connection (handle NULL): it is going away. */
  purple_notify_formatted (NULL, _("Messages not sent"), primary, NULL,
                           body->str, NULL, NULL);
  g_free (primary);
  g_string_free (body, TRUE);
  g_ptr_array_unref (lines);
}

/* ---- pinned heads ---- */

/* The last verified head of each topic is kept in the account settings,
 * "head:<topic>" = "<hash> <ms>", so that the next login can tell when
 * the server rewrote the history. Every setting change rewrites
 * accounts.xml, and a busy topic's head moves every few seconds: a topic's
 * first head is written at once, later ones at most once a minute, and
 * the newest when the chat is left and when the account closes.
 *
 * The pins belong to one space ("head_space"); a login to another space
 * (Create a new space, an invitation pasted into the account, an edited
 * username) drops them: another space's topics are other chains. */
#define PIN_INTERVAL_S 60
#define PIN_PREFIX "head:"
#define PIN_SPACE "head_space"

typedef struct {
  RdtConn *rc;
  gchar *topic;
  gchar *value;         /* newest "hash ms" not written yet, or NULL */
  gint64 written_us;    /* monotonic time of the last write, 0: never */
  guint timer;
} Pin;

static void
pin_free (gpointer data)
{
  Pin *pin = data;

  if (pin->timer)
    g_source_remove (pin->timer);
  g_free (pin->topic);
  g_free (pin->value);
  g_free (pin);
}

/* Not once the account was switched to another space while this session
 * still runs (Create a new space: the old session ends after it). */
static gboolean
pins_are_ours (RdtConn *rc, PurpleAccount *account)
{
  const gchar *user = purple_account_get_username (account);
  const gchar *at = user ? strrchr (user, '@') : NULL;

  return at != NULL &&
         g_strcmp0 (at + 1, rdt_session_get_space_id (rc->session)) == 0;
}

static void
pin_write (Pin *pin)
{
  PurpleAccount *account = purple_connection_get_account (pin->rc->gc);

  if (pin->value == NULL)
    return;
  if (pins_are_ours (pin->rc, account))
    {
      gchar *key = g_strconcat (PIN_PREFIX, pin->topic, NULL);

      purple_account_set_string (account, key, pin->value);
      g_free (key);
    }
  g_clear_pointer (&pin->value, g_free);
  pin->written_us = g_get_monotonic_time ();
}

static gboolean
on_pin_timer (gpointer data)
{
  Pin *pin = data;

  pin->timer = 0;
  pin_write (pin);
  return G_SOURCE_REMOVE;
}

void
rdt_chat_on_head_changed (RdtSession *session, const gchar *topic_id,
                 const gchar *message_hash, gint64 timestamp,
                 gpointer user_data)
{
  RdtConn *rc = user_data;
  Pin *pin = g_hash_table_lookup (rc->heads, topic_id);
  gint64 now = g_get_monotonic_time (), due;

  if (pin == NULL)
    {
      pin = g_new0 (Pin, 1);
      pin->rc = rc;
      pin->topic = g_strdup (topic_id);
      g_hash_table_insert (rc->heads, pin->topic, pin);
    }
  g_free (pin->value);
  pin->value = g_strdup_printf ("%s %" G_GINT64_FORMAT, message_hash,
                                timestamp);
  if (pin->timer != 0)
    return;             /* the timer writes the newest */
  due = pin->written_us == 0
      ? now : pin->written_us + PIN_INTERVAL_S * G_USEC_PER_SEC;
  if (due <= now)
    pin_write (pin);
  else
    pin->timer = g_timeout_add_seconds (
        (guint) ((due - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC),
        on_pin_timer, pin);
}

void
rdt_chat_pins_init (RdtConn *rc)
{
  rc->heads = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, pin_free);
}

void
rdt_chat_pins_free (RdtConn *rc)
{
  GHashTableIter iter;
  gpointer pin;

  if (rc->heads == NULL)
    return;
  g_hash_table_iter_init (&iter, rc->heads);
  while (g_hash_table_iter_next (&iter, NULL, &pin))
    pin_write (pin);
  g_clear_pointer (&rc->heads, g_hash_table_destroy);
}

/* The chat is left: its newest head now, and a fresh start if rejoined. */
static void
pin_flush_topic (RdtConn *rc, const gchar *topic)
{
  Pin *pin = g_hash_table_lookup (rc->heads, topic);

  if (pin == NULL)
    return;
  pin_write (pin);
  g_hash_table_remove (rc->heads, topic);
}

void
rdt_chat_pins_check_space (PurpleAccount *account, const gchar *space_id)
{
  const gchar *owner = purple_account_get_string (account, PIN_SPACE, NULL);

  /* No owner: pins of an older version, written for this space. */
  if (owner != NULL && g_strcmp0 (owner, space_id) != 0)
    {
      GSList *stale = NULL;
      GHashTableIter iter;
      gpointer name;

      /* no 2.x API lists the settings; the table is public */
      g_hash_table_iter_init (&iter, account->settings);
      while (g_hash_table_iter_next (&iter, &name, NULL))
        if (g_str_has_prefix (name, PIN_PREFIX))
          stale = g_slist_prepend (stale, g_strdup (name));
      for (GSList *l = stale; l; l = l->next)
        purple_account_remove_setting (account, l->data);
      g_slist_free_full (stale, g_free);
    }
  if (g_strcmp0 (owner, space_id) != 0)
    purple_account_set_string (account, PIN_SPACE, space_id);
}

/* ---- chats ---- */

GList *
rdt_chat_info (PurpleConnection *gc)
{
  struct proto_chat_entry *pce = g_new0 (struct proto_chat_entry, 1);

  pce->label = _("Topic:");
  pce->identifier = "topic";
  pce->required = TRUE;
  return g_list_append (NULL, pce);
}

GHashTable *
rdt_chat_info_defaults (PurpleConnection *gc, const char *chat_name)
{
  GHashTable *defaults = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                NULL, g_free);

  if (chat_name != NULL)
    g_hash_table_insert (defaults, "topic", g_strdup (chat_name));
  return defaults;
}

char *
rdt_get_chat_name (GHashTable *components)
{
  return g_strdup (g_hash_table_lookup (components, "topic"));
}

void
rdt_join_chat (PurpleConnection *gc, GHashTable *components)
{
  RdtConn *rc = rdt_conn_of (gc);
  PurpleAccount *account = purple_connection_get_account (gc);
  const gchar *topic = g_hash_table_lookup (components, "topic");
  GError *error = NULL;
  gchar *key;
  const gchar *pinned;
  gint id;
  PurpleConversation *conv;
  gint backlog;

  if (rc == NULL)
    return;
  if (!rdt_topic_id_validate (topic, &error))
    {
      gchar *m = g_strdup_printf (_("Cannot join topic \"%s\": %s"),
                                  topic ? topic : "", error->message);
      purple_notify_error (gc, _("Invalid topic"), m, NULL);
      purple_serv_got_join_chat_failed (gc, components);
      g_free (m);
      g_clear_error (&error);
      return;
    }
  if (g_hash_table_contains (rc->topic_to_id, topic))
    return;

  id = rc->next_chat_id++;
  {
    gchar *owned = g_strdup (topic);

    /* id_to_topic points at the key owned by topic_to_id */
    g_hash_table_insert (rc->topic_to_id, owned, GINT_TO_POINTER (id));
    g_hash_table_insert (rc->id_to_topic, GINT_TO_POINTER (id), owned);
  }

  conv = serv_got_joined_chat (gc, id, topic);
  purple_conv_chat_set_nick (PURPLE_CONV_CHAT (conv), rc->nick);
  /* Pidgin passes the topic to purple_strreplace whenever it refreshes
   * the chat (a critical each time it is NULL): the topic id until the
   * topic's name is known (members.c). */
  if (purple_conv_chat_get_topic (PURPLE_CONV_CHAT (conv)) == NULL)
    purple_conv_chat_set_topic (PURPLE_CONV_CHAT (conv), NULL, topic);
  /* the user list, ours included, once the names are read */
  rdt_members_chat_joined (rc, PURPLE_CONV_CHAT (conv), topic);
  /* what the account has to say about itself (where its keys are) */
  rdt_conn_flush_notices (rc, PURPLE_CONV_CHAT (conv));

  key = g_strconcat (PIN_PREFIX, topic, NULL);
  pinned = purple_account_get_string (account, key, NULL);
  if (pinned != NULL && *pinned)
    {
      gchar **parts = g_strsplit (pinned, " ", 2);

      if (parts[0] && parts[1])
        rdt_session_set_pinned_head (rc->session, topic, parts[0],
                                     g_ascii_strtoll (parts[1], NULL, 10));
      g_strfreev (parts);
    }
  g_free (key);

  backlog = purple_account_get_int (account, "backlog", RDT_DEFAULT_BACKLOG);
  /* after the read marker, if there is one (unread.c) */
  rdt_unread_open_topic (rc, topic, (guint) MAX (backlog, 0));
}

void
rdt_chat_leave (PurpleConnection *gc, int id)
{
  RdtConn *rc = rdt_conn_of (gc);
  const gchar *topic;
  gchar *copy;

  if (rc == NULL)
    return;
  topic = g_hash_table_lookup (rc->id_to_topic, GINT_TO_POINTER (id));
  if (topic == NULL)
    return;
  copy = g_strdup (topic);
  forget_failed (rc, copy);
  pin_flush_topic (rc, copy);
  rdt_unread_forget_topic (rc, copy);
  rdt_transcript_forget_topic (rc, copy);
  rdt_relations_ui_forget_topic (rc, copy);
  g_hash_table_remove (rc->id_to_topic, GINT_TO_POINTER (id));
  g_hash_table_remove (rc->topic_to_id, copy);
  /* Unmapped first: the sends that close_topic ends now (send_done with
   * an error) find no chat, so no "/retry" hint is written into a chat
   * being left and their text is dropped. */
  rdt_session_close_topic (rc->session, copy);
  g_free (copy);
}

/* Images put into the message (Pidgin's Insert Image, or a picture pasted
 * or dropped into the entry: <IMG ID="n"> of the image store, as
 * OPT_PROTO_IM_IMAGE allows) go as attachments (chat.image, xfer.c). The
 * image store is read now: the entry gives its images up once sent.
 * Returns the message without them. */
static gchar *
send_images (RdtConn *rc, const gchar *topic, const gchar *message,
             guint *n_images)
{
  GString *rest = g_string_new (NULL);
  const gchar *p = message, *start, *end;
  GData *attrs = NULL;

  while (purple_markup_find_tag ("img", p, &start, &end, &attrs))
    {
      const gchar *id = g_datalist_get_data (&attrs, "id");
      PurpleStoredImage *img =
          id ? purple_imgstore_find_by_id ((int) g_ascii_strtoll (id, NULL, 10))
             : NULL;

      g_string_append_len (rest, p, start - p);
      if (img != NULL)
        {
          g_autoptr (GBytes) data = g_bytes_new (
              purple_imgstore_get_data (img), purple_imgstore_get_size (img));
          const gchar *name = purple_imgstore_get_filename (img);

          rdt_xfer_send_bytes (rc, topic, name && *name ? name : "image",
                               data);
          (*n_images)++;
        }
      g_datalist_clear (&attrs);
      p = end + 1;
    }
  g_string_append (rest, p);
  return g_string_free (rest, FALSE);
}

int
rdt_chat_send (PurpleConnection *gc, int id, const char *message,
               PurpleMessageFlags flags)
{
  RdtConn *rc = rdt_conn_of (gc);
  const gchar *topic;
  gchar *plain;
  guint64 send_id;
  GError *error = NULL;

  if (rc == NULL)
    return -ENOTCONN;
  topic = g_hash_table_lookup (rc->id_to_topic, GINT_TO_POINTER (id));
  if (topic == NULL)
    return -EINVAL;
  {
    guint n_images = 0;
    g_autofree gchar *rest = send_images (rc, topic, message, &n_images);

    g_autofree gchar *trimmed = NULL;

    plain = purple_markup_strip_html (rest);
    trimmed = g_strstrip (g_strdup (plain));
    if (n_images > 0 && *trimmed == '\0')
      {
        /* only images (and the space around them): on their way */
        g_free (plain);
        return 0;
      }
  }
  /* BitlBee passes our commands on as text */
  if (rdt_relations_ui_typed_command (rc, topic, plain))
    {
      g_free (plain);
      return 0;
    }
  send_id = rdt_session_send_text (rc->session, topic, plain, &error);
  if (send_id == 0)
    {
      gchar *m = g_strdup_printf (_("Message not sent: \"%s\" (%s)."), plain,
                                  error->message);
      rdt_write_system (rdt_chat_for_topic (rc, topic), m, PURPLE_MESSAGE_ERROR);
      g_free (m);
      g_free (plain);
      g_clear_error (&error);
      return -EINVAL;
    }
  g_hash_table_insert (rc->pending_text, g_memdup2 (&send_id, sizeof send_id),
                       plain);
  if (rdt_session_get_state (rc->session) != RDT_SESSION_CONNECTED)
    offline_queued (rc, topic, send_id);
  /* No local echo: the session delivers our message once with own = TRUE. */
  return 0;
}
