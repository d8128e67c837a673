/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rooms.h - the room list: the space's topics, by name, from the state
 * synced for it (members.c) plus the topics seen on the stream or
 * joined. */
#pragma once

#include <glib.h>

#define PURPLE_PLUGINS
#include <connection.h>
#include <roomlist.h>

#include "conn.h"
#include "state.h"

G_BEGIN_DECLS

/* Fills list and ends its progress; seen_topics is a set of topic ids. */
void            rdt_roomlist_fill (RdtConn *rc, PurpleRoomlist *list,
                                   RdtState *state, GHashTable *seen_topics);

/* prpl entry points */
PurpleRoomlist *rdt_roomlist_get_list (PurpleConnection *gc);
void            rdt_roomlist_cancel (PurpleRoomlist *list);

G_END_DECLS
