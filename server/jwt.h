/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jwt.h - the test server's bearer tokens: HS256 JWTs with a secret drawn
 * at each start (as upstream without a configured jwt_secret), so a
 * restart invalidates every token. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A new random secret; tokens live ttl_s seconds. */
void   rdt_srv_jwt_init (gint ttl_s);
/* A token for id in space_id; *exp_out its expiry in seconds. */
gchar *rdt_srv_jwt_issue (const gchar *space_id, const gchar *id,
                          gint64 *exp_out);
/* The id in the token, or NULL with *detail set to the upstream detail
 * text ("Invalid token", "Token expired", "Token space mismatch"). */
gchar *rdt_srv_jwt_check (const gchar *token, const gchar *space_id,
                          const gchar **detail);

G_END_DECLS
