/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-purple.h - the plugin's entry points that plugin.c wires into the
 * prpl info: login and logout (account.c), chats (chat.c), commands.
 * Internal to the plugin; the core (src/core) knows nothing of this. */
#pragma once

#include <glib.h>

#include <connection.h>
#include <conversation.h>

#include "conn.h"

G_BEGIN_DECLS

/* The account closes: tell the user which messages were not sent. */
void  rdt_chat_warn_unsent (RdtConn *rc);
/* /retry: send again every failed message of the chat, oldest first.
 * Returns how many were queued; sets error when none could be. */
guint rdt_chat_retry_failed (RdtConn *rc, const gchar *topic,
                             GError **error);

/* chat.c: session callbacks about topics */
void rdt_chat_on_topic_opened (RdtSession *session, const gchar *topic_id,
                               const GError *error, gpointer user_data);
/* topic_unread: the burst before it shown, then the unread line. */
void rdt_chat_on_topic_unread (RdtSession *session, const gchar *topic_id,
                               const RdtSessionUnread *unread,
                               gpointer user_data);
void rdt_chat_on_message (RdtSession *session, const RdtSessionMessage *msg,
                          gpointer user_data);
void rdt_chat_on_warning (RdtSession *session, const gchar *topic_id,
                          RdtWarningKind kind, const gchar *text,
                          gpointer user_data);
void rdt_chat_on_send_done (RdtSession *session, const gchar *topic_id,
                            guint64 send_id, const GError *error,
                            gpointer user_data);
void rdt_chat_on_head_changed (RdtSession *session, const gchar *topic_id,
                               const gchar *message_hash, gint64 timestamp,
                               gpointer user_data);

/* chat.c: the last verified head of each topic, in the account settings.
 * check_space (before a login) drops the pins of another space; free
 * writes the newest heads (the account closes). */
void rdt_chat_pins_check_space (PurpleAccount *account, const gchar *space_id);
void rdt_chat_pins_init (RdtConn *rc);
void rdt_chat_pins_free (RdtConn *rc);

/* chat.c: prpl chat entry points */
GList      *rdt_chat_info (PurpleConnection *gc);
GHashTable *rdt_chat_info_defaults (PurpleConnection *gc, const char *chat_name);
char       *rdt_get_chat_name (GHashTable *components);
void        rdt_join_chat (PurpleConnection *gc, GHashTable *components);
void        rdt_chat_leave (PurpleConnection *gc, int id);
int         rdt_chat_send (PurpleConnection *gc, int id, const char *message,
                           PurpleMessageFlags flags);

/* account.c: login and logout */
void rdt_login (PurpleAccount *account);
void rdt_close (PurpleConnection *gc);

/* commands.c: /retry, /chain ... */
void rdt_commands_register (void);
void rdt_commands_unregister (void);

G_END_DECLS
