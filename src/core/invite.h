/* SPDX-License-Identifier: GPL-2.0-or-later */
/* invite.h - the pasteable invitation string (spec 8.4).
 *
 * The spec defines no hand-over format for an invitation, so this plugin
 * uses its own:  "rdt-invite:1:" + base64url_nopad(JSON), the JSON being
 *   {"server": URL, "space": S-id, "root": b64url(32), "tool": b64url(32)}
 * where "tool" is the seed of the invitation tool key (spec 8.4 working
 * scheme: create on auth/users/{any} and auth/users/{any}/rights/{any},
 * small use_limit). The string carries secrets: treat it like a password.
 * Parsing is strict: bounded length, no unknown fields, exact key sizes.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RDT_INVITE_PREFIX     "rdt-invite:1:"
#define RDT_INVITE_MAX_LENGTH 2048   /* whole string, prefix included */

typedef struct {
  gchar  *server_url;   /* http(s)://host[:port][/path], no query/userinfo */
  gchar  *space_id;     /* validated S-id */
  guint8 *root;         /* 32 bytes, rdt_secret_alloc */
  guint8 *tool_seed;    /* 32 bytes, rdt_secret_alloc */
} RdtInvite;

/* Returns the invitation string (contains secrets: rdt_wipe before g_free). */
gchar     *rdt_invite_encode (const gchar *server_url, const gchar *space_id,
                              const guint8 root[32], const guint8 tool_seed[32],
                              GError **error);
/* Surrounding whitespace is ignored; anything else malformed is an error. */
RdtInvite *rdt_invite_parse  (const gchar *text, GError **error);
void       rdt_invite_free   (RdtInvite *invite);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtInvite, rdt_invite_free)

G_END_DECLS
