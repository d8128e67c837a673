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
#include <notify.h>
#include <server.h>
#include <util.h>

#include "id.h"

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
  if (!msg->own && !purple_conv_chat_find_user (chat, who))
    purple_conv_chat_add_user (chat, who, NULL, PURPLE_CBFLAGS_NONE, FALSE);
  if (rdt_xfer_handle_message (rc, chat, msg))
    {
      g_free (who);
      return;
    }

  flags = msg->own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV;
  if (msg->backlog)
    flags |= PURPLE_MESSAGE_DELAYED;
  escaped = purple_markup_escape_text (msg->text, -1);
  /* Own messages: the chat nick is our short id, so purple keeps them SEND. */
  purple_conv_chat_write (chat, msg->own ? rc->nick : who, escaped, flags,
                          (time_t) (msg->timestamp / 1000));
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

void
rdt_chat_on_head_changed (RdtSession *session, const gchar *topic_id,
                 const gchar *message_hash, gint64 timestamp,
                 gpointer user_data)
{
  RdtConn *rc = user_data;
  gchar *key = g_strconcat ("head:", topic_id, NULL);
  gchar *value = g_strdup_printf ("%s %" G_GINT64_FORMAT, message_hash,
                                  timestamp);

  purple_account_set_string (purple_connection_get_account (rc->gc), key,
                             value);
  g_free (key);
  g_free (value);
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

  key = g_strconcat ("head:", topic, NULL);
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
  g_hash_table_remove (rc->id_to_topic, GINT_TO_POINTER (id));
  g_hash_table_remove (rc->topic_to_id, copy);
  /* Unmapped first: the sends that close_topic ends now (send_done with
   * an error) find no chat, so no "/retry" hint is written into a chat
   * being left and their text is dropped. */
  rdt_session_close_topic (rc->session, copy);
  g_free (copy);
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
  plain = purple_markup_strip_html (message);
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
