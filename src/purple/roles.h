/* SPDX-License-Identifier: GPL-2.0-or-later */
/* roles.h - a member described to the user: Info (the prpl's chat user
 * info), /whois and /members, with the role and rights in words
 * (src/core/rights.h) and the role as the chat user's flags (owner =
 * founder, admin = op, as IRC and XMPP rooms show them). */
#pragma once

#include <glib.h>

#define PURPLE_PLUGINS
#include <connection.h>
#include <conversation.h>

#include "conn.h"
#include "rights.h"
#include "state.h"

G_BEGIN_DECLS

RdtRole                  rdt_roles_of (RdtState *state, const gchar *user_id);
PurpleConvChatBuddyFlags rdt_roles_chat_flags (RdtState *state,
                                               const gchar *user_id);
/* The member id a typed name means: a nick, a display name or a member
 * id, with or without quotes around it, spaces included and in any case,
 * as long as it names one member only; NULL otherwise. *cleaned (if not
 * NULL) gets the name as understood, for an error message. */
gchar       *rdt_roles_find_member (RdtConn *rc, const gchar *typed,
                                    gchar **cleaned);
/* Text for /whois and /members. */
gchar       *rdt_roles_describe (RdtConn *rc, const gchar *user_id);
gchar       *rdt_roles_describe_all (RdtConn *rc);

/* prpl entry points */
char        *rdt_get_cb_real_name (PurpleConnection *gc, int id,
                                   const char *who);
void         rdt_get_cb_info (PurpleConnection *gc, int id, const char *who);

G_END_DECLS
