/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conn.h - the per-account connection data (RdtConn) and the lookups and
 * notices every file of the purple layer uses: the topic of a chat, the
 * chat of a topic, a notice line in one chat or all. chat.c, members.c,
 * xfer*.c, events.c and transcript.c depend on this, not on each other.
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
  gpointer unread;             /* unread.c: read markers */
  GSList *notices;             /* said in the first chat joined (conn.c) */
  guint8 *seed, *root;         /* the account's keys, secret memory (keys.c
                                * reads them once per login) */
  gpointer relations;          /* relations-ui.c: replies, reactions... */
} RdtConn;

/* the chats of a connection */
RdtConn        *rdt_conn_of (PurpleConnection *gc);
PurpleConvChat *rdt_chat_for_topic (RdtConn *rc, const gchar *topic_id);
const gchar    *rdt_topic_for_conv (PurpleConversation *conv);
void            rdt_write_system (PurpleConvChat *chat, const gchar *text,
                                  PurpleMessageFlags flags);
void            rdt_write_all_chats (RdtConn *rc, const gchar *text,
                                     PurpleMessageFlags flags);

/* A notice about the account (where its keys are): written to its open
 * chats, or kept until the first chat is joined (flush_notices). */
void            rdt_conn_tell_once (RdtConn *rc, const gchar *text);
void            rdt_conn_flush_notices (RdtConn *rc, PurpleConvChat *chat);

G_END_DECLS
