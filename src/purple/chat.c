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

#include "display.h"
#include "members.h"
#include "rdt-purple.h"
#include "xfer.h"

RdtConn *
rdt_conn_of (PurpleConnection *gc)
{
  return gc ? purple_connection_get_protocol_data (gc) : NULL;
}

PurpleConvChat *
rdt_chat_for_topic (RdtConn *rc, const gchar *topic_id)
{
  gpointer id;
  PurpleConversation *conv;

  if (!g_hash_table_lookup_extended (rc->topic_to_id, topic_id, NULL, &id))
    return NULL;
  conv = purple_find_chat (rc->gc, GPOINTER_TO_INT (id));
  return conv ? PURPLE_CONV_CHAT (conv) : NULL;
}

const gchar *
rdt_topic_for_conv (PurpleConversation *conv)
{
  PurpleConnection *gc = purple_conversation_get_gc (conv);
  RdtConn *rc = rdt_conn_of (gc);
  PurpleConvChat *chat = PURPLE_CONV_CHAT (conv);

  if (rc == NULL || chat == NULL)
    return NULL;
  return g_hash_table_lookup (rc->id_to_topic,
                              GINT_TO_POINTER (purple_conv_chat_get_id (chat)));
}

/* A line that is not a message: warnings, errors, notices. Never written as
 * a normal message, so nothing unverified can pass for one. */
void
rdt_write_system (PurpleConvChat *chat, const gchar *text, PurpleMessageFlags flags)
{
  gchar *escaped;

  if (chat == NULL)
    return;
  escaped = purple_markup_escape_text (text, -1);
  purple_conversation_write (purple_conv_chat_get_conversation (chat), NULL,
                             escaped, flags | PURPLE_MESSAGE_NO_LOG,
                             time (NULL));
  g_free (escaped);
}

void
rdt_write_all_chats (RdtConn *rc, const gchar *text, PurpleMessageFlags flags)
{
  GHashTableIter iter;
  gpointer topic;

  g_hash_table_iter_init (&iter, rc->topic_to_id);
  while (g_hash_table_iter_next (&iter, &topic, NULL))
    rdt_write_system (rdt_chat_for_topic (rc, topic), text, flags);
}

/* ---- session callbacks ---- */

void
rdt_chat_on_topic_opened (RdtSession *session, const gchar *topic_id,
                 const GError *error, gpointer user_data)
{
  RdtConn *rc = user_data;
  gchar *text;

  if (error == NULL)
    return;
  text = g_strdup_printf (_("Could not open topic %s: %s"), topic_id,
                          error->message);
  rdt_write_system (rdt_chat_for_topic (rc, topic_id), text, PURPLE_MESSAGE_ERROR);
  g_free (text);
}

void
rdt_chat_on_message (RdtSession *session, const RdtSessionMessage *msg,
            gpointer user_data)
{
  RdtConn *rc = user_data;
  PurpleConvChat *chat = rdt_chat_for_topic (rc, msg->topic_id);
  PurpleMessageFlags flags;
  gchar *who, *escaped;

  if (chat == NULL)
    return;
  /* the display name when the state gives one (members.c) */
  who = rdt_members_nick_for (rc, msg->sender);
  /* libpurple flags a line SEND (shown and logged as ours) when its sender
   * normalizes to the chat's nick: someone else's never may. members.c
   * keeps nicks unique; this is the last word on it. */
  if (!msg->own &&
      g_strcmp0 (purple_normalize (purple_connection_get_account (rc->gc), who),
                 purple_conv_chat_get_nick (chat)) == 0)
    {
      g_free (who);
      who = g_strdup (msg->sender);
    }
  if (!msg->own && !purple_conv_chat_find_user (chat, who))
    purple_conv_chat_add_user (chat, who, NULL, PURPLE_CBFLAGS_NONE, FALSE);

  flags = msg->own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV;
  if (msg->backlog)
    flags |= PURPLE_MESSAGE_DELAYED;
  /* Own messages: the chat nick is our short id, so purple keeps them SEND. */
  if (msg->own)
    {
      g_free (who);
      who = g_strdup (rc->nick);
    }
  /* Attachments are entries from their sender too (xfer.c). */
  if (rdt_xfer_handle_message (rc, chat, msg, who, flags))
    {
      g_free (who);
      return;
    }
  escaped = purple_markup_escape_text (msg->text, -1);
  /* in chain order: after the images held before it (display.c) */
  rdt_display_write (rc, msg->topic_id, who, escaped, flags,
                     (time_t) (msg->timestamp / 1000), 0);
  g_free (escaped);
  g_free (who);
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

void
rdt_chat_on_send_done (RdtSession *session, const gchar *topic_id, guint64 send_id,
              const GError *error, gpointer user_data)
{
  RdtConn *rc = user_data;
  const gchar *text = g_hash_table_lookup (rc->pending_text, &send_id);
  gchar *line;
  guint64 *older;

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
  /* /retry resends the last failure of a chat only: forget the text of
   * the one it replaces, or pending_text grows with every failure. */
  older = g_hash_table_lookup (rc->last_failed, topic_id);
  if (older != NULL && *older != send_id)
    g_hash_table_remove (rc->pending_text, older);
  g_hash_table_insert (rc->last_failed, g_strdup (topic_id),
                       g_memdup2 (&send_id, sizeof send_id));
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

  pce->label = _("_Topic:");
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
  purple_conv_chat_add_user (PURPLE_CONV_CHAT (conv), rc->nick, NULL,
                             PURPLE_CBFLAGS_NONE, FALSE);
  rdt_members_chat_joined (rc, PURPLE_CONV_CHAT (conv), topic);

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
  rdt_session_open_topic (rc->session, topic, (guint) MAX (backlog, 0));
}

void
rdt_chat_leave (PurpleConnection *gc, int id)
{
  RdtConn *rc = rdt_conn_of (gc);
  const gchar *topic;
  gchar *copy;
  guint64 *failed;

  if (rc == NULL)
    return;
  topic = g_hash_table_lookup (rc->id_to_topic, GINT_TO_POINTER (id));
  if (topic == NULL)
    return;
  copy = g_strdup (topic);
  failed = g_hash_table_lookup (rc->last_failed, copy);
  if (failed != NULL)
    g_hash_table_remove (rc->pending_text, failed);
  g_hash_table_remove (rc->last_failed, copy);
  pin_flush_topic (rc, copy);
  rdt_display_forget_topic (rc, copy);
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
  /* No local echo: the session delivers our message once with own = TRUE. */
  return 0;
}
