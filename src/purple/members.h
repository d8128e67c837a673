/* SPDX-License-Identifier: GPL-2.0-or-later */
/* members.h - the space's members in the purple layer: the state is kept
 * in sync (src/core/state.h), members become chat users under their
 * display names, renamed live; our own display name is libpurple's public
 * alias; topic names come from topic metadata. Commands and the room list
 * use what is here. */
#pragma once

#include <glib.h>

#define PURPLE_PLUGINS
#include <connection.h>
#include <conversation.h>
#include <roomlist.h>

#include "conn.h"
#include "roles.h"      /* Info, /whois, /members; get_cb_info */
#include "rooms.h"
#include "state.h"

G_BEGIN_DECLS

/* Called by account.c around the session's life; root is only read. */
void rdt_members_init (RdtConn *rc, const guint8 root[32]);
void rdt_members_free (RdtConn *rc);
void rdt_members_on_connected (RdtConn *rc);

/* session callbacks */
void rdt_members_on_state_message (RdtSession *session, const gchar *path,
                                   const gchar *message_hash,
                                   const gchar *sender, gint64 timestamp,
                                   gpointer user_data);
void rdt_members_on_topic_seen (RdtSession *session, const gchar *topic_id,
                                gpointer user_data);

/* The chat nick of a member id: the display name ("Alice"), with the short
 * id added when it is not unique ("Alice (UAbCdEfGh)"), else the short id. */
gchar       *rdt_members_nick_for (RdtConn *rc, const gchar *user_id);
/* The member id behind a chat nick, or NULL. Also accepts an id. */
const gchar *rdt_members_lookup_nick (RdtConn *rc, const gchar *nick);
/* The nick a chat line from sender is written under: ours (own) the
 * chat's nick, anyone else's never that. */
gchar       *rdt_members_line_nick (RdtConn *rc, PurpleConvChat *chat,
                                    const gchar *sender, gboolean own);
/* Whether the first read of the names is done, or took too long (3 s):
 * until then chats hold their lines (transcript.c) and user lists. */
gboolean     rdt_members_names_ready (RdtConn *rc);
/* Whether the chat's user list was filled (then a sender not listed is
 * added). */
gboolean     rdt_members_chat_filled (RdtConn *rc, const gchar *topic_id);
/* The synced state, NULL before the first sync. */
RdtState    *rdt_members_get_state (RdtConn *rc);
/* A chat was joined: fill its user list and topic name. */
void         rdt_members_chat_joined (RdtConn *rc, PurpleConvChat *chat,
                                      const gchar *topic_id);

/* Writes our profile. done() always runs once: with rc == NULL (and a
 * cancelled error) when the account logged out meanwhile, so that it can
 * free user_data without touching anything else. */
typedef void (*RdtMembersDone) (RdtConn *rc, const GError *error,
                                gpointer user_data);
void rdt_members_set_display_name (RdtConn *rc, const gchar *name,
                                   RdtMembersDone done, gpointer user_data);
void rdt_members_set_topic_name (RdtConn *rc, const gchar *topic_id,
                                 const gchar *name, RdtMembersDone done,
                                 gpointer user_data);
/* One state write (path, data as encoded by state.h), done as above. */
void rdt_members_write_state (RdtConn *rc, const gchar *path,
                              const gchar *data, RdtMembersDone done,
                              gpointer user_data);
void rdt_members_add_member (RdtConn *rc, const gchar *user_id,
                             RdtMembersDone done, gpointer user_data);
/* The invitation string (a secret: shown once, never logged). */
typedef void (*RdtMembersInviteDone) (RdtConn *rc, const gchar *invitation,
                                      const GError *error, gpointer user_data);
void rdt_members_create_invitation (RdtConn *rc, RdtMembersInviteDone done,
                                    gpointer user_data);

/* A room list waits for the next sync (ref taken), or stops waiting;
 * FALSE when not connected. rooms.c fills it. */
gboolean rdt_members_queue_roomlist (RdtConn *rc, PurpleRoomlist *list);
void     rdt_members_unqueue_roomlist (RdtConn *rc, PurpleRoomlist *list);

/* The invitation window (what /invite and the account action show). */
void rdt_members_show_invitation (RdtConn *rc, const gchar *invitation);

/* prpl entry points */
void            rdt_set_public_alias (PurpleConnection *gc, const char *alias,
                                      PurpleSetPublicAliasSuccessCallback ok,
                                      PurpleSetPublicAliasFailureCallback fail);
void            rdt_get_public_alias (PurpleConnection *gc,
                                      PurpleGetPublicAliasSuccessCallback ok,
                                      PurpleGetPublicAliasFailureCallback fail);
void            rdt_set_chat_topic (PurpleConnection *gc, int id,
                                    const char *topic);

G_END_DECLS
