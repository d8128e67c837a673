/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-purple.h - what the files of the purple layer share: the per-account
 * connection data and the helpers that map topics to chat conversations.
 * Internal to the plugin; the core (src/core) knows nothing of this. */
#pragma once

#include <glib.h>

#include <connection.h>
#include <conversation.h>

#include "session.h"

G_BEGIN_DECLS

#define RDT_PRPL_ID "prpl-reeeductio"
#define RDT_DEFAULT_SERVER "http://127.0.0.1:8080"
#define RDT_DEFAULT_BACKLOG 50
/* How long a message typed during an outage waits for the connection
 * before it is reported as not sent (then /retry). */
#define RDT_OFFLINE_SEND_TIMEOUT_S (15 * 60)
/* Failed messages kept per chat for /retry. */
#define RDT_MAX_FAILED_PER_CHAT 50

typedef struct {
  PurpleConnection *gc;
  RdtSession *session;
  GHashTable *topic_to_id;     /* topic -> GINT chat id */
  GHashTable *id_to_topic;     /* GINT chat id -> topic (owned) */
  GHashTable *pending_text;    /* send id (guint64*) -> text */
  GHashTable *last_failed;     /* topic -> GArray of guint64 send ids */
  GHashTable *offline_sends;   /* send id typed while offline -> topic */
  GHashTable *offline_sent;    /* topic -> GUINT of those sent so far */
  gint next_chat_id;
  gboolean was_connected;
  gint64 offline_since;        /* monotonic; 0 while connected */
  gint64 offline_noted;        /* when the chats were last told */
  gchar *nick;                 /* rdt_id_short of our member id */
  gpointer members;            /* members.c: display names, member list */
  gpointer transfers;          /* xfer.c: attachments in flight */
  gpointer transcript;         /* transcript.c: entries held for images */
  gboolean inline_images;      /* the UI shows images in entries (at login) */
  GHashTable *heads;           /* chat.c: topic -> head pin not written yet */
  gpointer events;             /* events.c: our join and leave posts */
} RdtConn;

/* chat.c: conversations */
RdtConn        *rdt_conn_of (PurpleConnection *gc);
PurpleConvChat *rdt_chat_for_topic (RdtConn *rc, const gchar *topic_id);
const gchar    *rdt_topic_for_conv (PurpleConversation *conv);
void            rdt_write_system (PurpleConvChat *chat, const gchar *text,
                                  PurpleMessageFlags flags);
void            rdt_write_all_chats (RdtConn *rc, const gchar *text,
                                     PurpleMessageFlags flags);
/* The account closes: tell the user which messages were not sent. */
void            rdt_chat_warn_unsent (RdtConn *rc);
/* /retry: send again every failed message of the chat, oldest first.
 * Returns how many were queued; sets error when none could be. */
guint           rdt_chat_retry_failed (RdtConn *rc, const gchar *topic,
                                       GError **error);

/* chat.c: session callbacks about topics */
void rdt_chat_on_topic_opened (RdtSession *session, const gchar *topic_id,
                               const GError *error, gpointer user_data);
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
