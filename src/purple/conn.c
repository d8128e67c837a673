/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conn.c - see conn.h. */
#include "config.h"

#include <time.h>

#include <glib.h>

#define PURPLE_PLUGINS
#include <conversation.h>
#include <util.h>

#include "conn.h"

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

void
rdt_conn_tell_once (RdtConn *rc, const gchar *text)
{
  if (g_hash_table_size (rc->topic_to_id) > 0)
    {
      rdt_write_all_chats (rc, text, PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG);
      return;
    }
  rc->notices = g_slist_append (rc->notices, g_strdup (text));
}

void
rdt_conn_flush_notices (RdtConn *rc, PurpleConvChat *chat)
{
  for (GSList *l = rc->notices; l != NULL; l = l->next)
    rdt_write_system (chat, l->data, PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG);
  g_slist_free_full (g_steal_pointer (&rc->notices), g_free);
}
