/* SPDX-License-Identifier: GPL-2.0-or-later */
/* unread.h - what the person has read, per chat, shared by every device
 * of the member: the read marker (the newest message seen) is kept in the
 * space's data store, encrypted for this member only (core readstate.h),
 * and in the account as a fallback. Joining a chat shows the messages
 * after the marker, then a divider line, then live.
 *
 * A message counts as read when the person has seen it: Pidgin clears the
 * chat's unseen state (conversation-updated, PURPLE_CONV_UPDATE_UNSEEN with
 * "unseen-count" 0), the chat has the focus when it is shown (Finch), or
 * the person sends in that chat. Writes to the data store are debounced
 * (RDT_UNREAD_WRITE_INTERVAL_S per chat, and one when the chat is left or
 * the account closes) and never move the marker backwards. */
#pragma once

#include <glib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <accountopt.h>
#include <conversation.h>

#include "conn.h"

G_BEGIN_DECLS

#define RDT_UNREAD_WRITE_INTERVAL_S 30
#define RDT_DEFAULT_MAX_UNREAD 1000

/* Around the connection's life (account.c); seed is the member's, only
 * used to derive the marker key here. */
void rdt_unread_init (RdtConn *rc, const guint8 seed[32]);
void rdt_unread_free (RdtConn *rc);

/* Instead of rdt_session_open_topic(): reads the marker first (data store
 * and account), then opens the topic after it. */
void rdt_unread_open_topic (RdtConn *rc, const gchar *topic, guint backlog);
/* The chat is left: its marker written now, its state dropped. */
void rdt_unread_forget_topic (RdtConn *rc, const gchar *topic);

/* chat.c: a message of the topic was shown (in chain order). */
void rdt_unread_on_shown (RdtConn *rc, const RdtSessionMessage *msg);
/* Session callback: the opening after a marker delivered its messages. */
void rdt_unread_on_topic_unread (RdtSession *session, const gchar *topic_id,
                                 const RdtSessionUnread *u,
                                 gpointer user_data);
/* Everything shown in the chat counts as read now (tests, actions). */
void rdt_unread_mark_read (RdtConn *rc, const gchar *topic);

PurpleAccountOption *rdt_unread_account_option_new (void);

G_END_DECLS
