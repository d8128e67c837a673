/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spacename.h - the space's human name (state space/metadata, see
 * docs/conventions.md): the label that tells two spaces apart in a chat's
 * title and topic line ("general — Book club"), the account's default
 * alias, and naming the space (the owner's /space-name and account
 * action). Without a name, the short space id stands in. */
#pragma once

#include <glib.h>

#include "conn.h"
#include "members.h"

G_BEGIN_DECLS

/* The space's name, or its short id (S + 8 characters). */
gchar *rdt_space_label (RdtConn *rc);
/* What a chat's title and topic line show: "<topic name> — <label>". */
gchar *rdt_space_chat_title (RdtConn *rc, const gchar *topic_name);
/* The topic name in a topic line the user edited: the " — <label>" the
 * chat showed is not part of the name. Newly allocated. */
gchar *rdt_space_strip_label (RdtConn *rc, const gchar *line);
/* The account alias follows the space's name, unless the user set one. */
void   rdt_space_update_alias (RdtConn *rc);
/* Whether we own the space (only the owner names it). */
gboolean rdt_space_is_owner (RdtConn *rc);
/* Writes the space's name; done as in rdt_members_set_display_name. */
void   rdt_space_set_name (RdtConn *rc, const gchar *name,
                           RdtMembersDone done, gpointer user_data);

G_END_DECLS
