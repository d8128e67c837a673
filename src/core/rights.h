/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rights.h - what a member may do, in words: the role (owner, admin,
 * member) and the capabilities of spec 8.1 ("op path" strings as
 * rdt_state_list_capabilities() gives them) said as a person would
 * ("can post in all topics, can add members"). Pure functions, no state. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  RDT_ROLE_NONE,        /* not a member */
  RDT_ROLE_MEMBER,
  RDT_ROLE_ADMIN,       /* a member who can add members */
  RDT_ROLE_OWNER,
} RdtRole;

/* Whether the capability cap ("op pattern") allows op on path. path may
 * hold {any} for "every such segment" and {self} for the caller's own;
 * only a pattern that covers all of them grants it. */
gboolean     rdt_rights_grants (const gchar *cap, const gchar *op,
                                const gchar *path);
/* caps may be NULL (no capabilities). */
RdtRole      rdt_rights_role (gboolean owner, gboolean member, GPtrArray *caps);
/* "owner", "admin", "member", "not a member" (translated). */
const gchar *rdt_rights_role_name (RdtRole role);
/* What these capabilities allow, as one line: "can post in all topics,
 * can rename topics, can add members". */
gchar       *rdt_rights_describe (RdtRole role, GPtrArray *caps);

G_END_DECLS
