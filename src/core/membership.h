/* membership.h - adding members and invitations (spec 8.2-8.4), as state
 * writes over RdtApi (statesync.h). The conventions (capability ids, the
 * tool's use_limit) are in docs/conventions.md.
 *
 * A member added here gets what a chat member needs and nothing more:
 *   rights/chat     {"op":"write","path":"topics/{any}/messages"}   (8.2)
 *   rights/profile  {"op":"write","path":"state/profiles/{self}"}   (12)
 *   rights/topics   {"op":"write","path":"state/topics/{any}/metadata"} (9)
 * An invitation is a tool key with the working scheme of 8.4 (create user
 * entries and their rights) and use_limit RDT_INVITE_USE_LIMIT: exactly the
 * writes one invitee makes.
 */
#pragma once

#include <gio/gio.h>
#include "api.h"
#include "invite.h"

G_BEGIN_DECLS

/* user entry + the three capabilities above */
#define RDT_INVITE_USE_LIMIT 4

/* As the api's member (owner, or a member allowed to): add user_id. */
void     rdt_membership_add_member_async  (RdtApi *api, const gchar *user_id,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
gboolean rdt_membership_add_member_finish (RdtApi *api, GAsyncResult *result,
                                           GError **error);

/* As the api's member: create an invitation tool and return the
 * invitation string (rdt-invite:1:...) for server_url (what the invitee
 * should connect to) and the space's root. The string holds secrets:
 * rdt_wipe() it before g_free(). */
void     rdt_membership_invite_async  (RdtApi *api, const gchar *server_url,
                                       const guint8 root[32],
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gchar   *rdt_membership_invite_finish (RdtApi *api, GAsyncResult *result,
                                       GError **error);

/* As the invitee: authenticate as the invitation's tool and make
 * user_key's U id a member. The seed in `invite` is not kept. */
void     rdt_membership_redeem_async  (const RdtInvite *invite,
                                       const RdtSigningKey *user_key,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean rdt_membership_redeem_finish (GAsyncResult *result, GError **error);

G_END_DECLS
