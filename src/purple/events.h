/* SPDX-License-Identifier: GPL-2.0-or-later */
/* events.h - the message types event.join and event.leave: shown as
 * system lines ("Alice joined the space"), posted once when this member
 * first opens a topic of a space, and by the "Leave this space" action
 * before the account is deleted. Empty chat.text messages are hidden. */
#pragma once

#include <glib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <conversation.h>

#include "conn.h"

G_BEGIN_DECLS

/* Around the connection's life (account.c). check_space runs before a
 * login: an account of an older version that already has pinned heads in
 * this space was a member before events existed, and posts no join. */
void     rdt_events_check_space (PurpleAccount *account, const gchar *space_id);
void     rdt_events_free (RdtConn *rc);

/* chat.c hooks. handle_message returns TRUE when the message was shown
 * (or hidden) here; send_done returns TRUE for a send made here. */
gboolean rdt_events_handle_message (RdtConn *rc, PurpleConvChat *chat,
                                    const RdtSessionMessage *msg);
void     rdt_events_on_topic_opened (RdtConn *rc, const gchar *topic_id,
                                     const GError *error);
gboolean rdt_events_on_send_done (RdtConn *rc, const gchar *topic_id,
                                  guint64 send_id, const GError *error);

/* This member has been in the space before, on another device: a message
 * of its own in a topic's history, or a read marker of its own in the
 * space. No join is posted then (the first device posted it). */
void     rdt_events_note_been_here (RdtConn *rc);

/* The "Leave this space" action, once confirmed: posts event.leave to the
 * open topics (or "general"), then removes the keys and the account. */
void     rdt_events_leave_space (RdtConn *rc);

G_END_DECLS
