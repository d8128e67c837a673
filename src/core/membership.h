/* SPDX-License-Identifier: GPL-2.0-or-later */
/* membership.h - adding members and invitations (spec 8.2-8.4), as state
 * writes over RdtApi (statesync.h). The conventions (capability ids, the
 * tool's use_limit) are in docs/conventions.md.
 *
 * A member added here gets what a chat member needs and nothing more:
 *   rights/chat     {"op":"write","path":"topics/{any}/messages"}   (8.2)
 *   rights/profile  {"op":"write","path":"state/profiles/{self}"}   (12)
 *   rights/topics   {"op":"write","path":"state/topics/{any}/metadata"} (9)
 *   rights/own_data {"op":"write","path":"data/user/{self}/{...}"}  (11)
 *   rights/own_data_read {"op":"read","path":"data/data/user/{self}/{...}"}
 * (the last two: the member's own read markers, under data/user/<U>/).
 * An invitation is a tool key with the working scheme of 8.4 (create user
 * entries and their rights) and use_limit RDT_INVITE_USE_LIMIT: exactly the
 * writes one invitee makes.
 */
#pragma once

#include <gio/gio.h>
#include "api.h"
#include "invite.h"

G_BEGIN_DECLS

/* user entry + the five capabilities above */
#define RDT_INVITE_USE_LIMIT 6

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
 * user_key's U id a member. The seed in `invite` is not kept.
 *
 * Resumable: it first reads the state log as the tool and writes only the
 * four entries that are missing, so a retry after a lost answer or a
 * failure half-way finishes the job within the tool's use_limit (and
 * succeeds at once if everything is there).
 *
 * Errors, for the caller to decide whether to keep the invitation:
 * - try again later (rdt_membership_error_is_temporary() is TRUE):
 *   RDT_API_ERROR_NETWORK (no answer), RDT_API_ERROR_BAD_RESPONSE (an
 *   answer cut off or garbled: the write may have landed),
 *   RDT_API_ERROR_SERVER (5xx), RDT_API_ERROR_CONFLICT (other state
 *   writes kept winning the race); a later redemption picks up where this
 *   one stopped;
 * - G_IO_ERROR_CANCELLED;
 * - anything else is final for this invitation: among others
 *   G_IO_ERROR_EXISTS (one of the member's entries exists with another
 *   value, or was blanked, and the tool may not change it),
 *   RDT_API_ERROR_UNAUTHORIZED (the tool is spent: use limit, or revoked),
 *   RDT_API_ERROR_FORBIDDEN, RDT_API_ERROR_NOT_MEMBER (the tool is
 *   unknown), RDT_ERROR_* (the server's state log is not valid). */
void     rdt_membership_redeem_async  (const RdtInvite *invite,
                                       const RdtSigningKey *user_key,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
gboolean rdt_membership_redeem_finish (GAsyncResult *result, GError **error);

/* TRUE for the "try again later" errors of the calls above (see
 * rdt_membership_redeem_async); FALSE for NULL, cancellation and final
 * refusals. */
gboolean rdt_membership_error_is_temporary (const GError *error);

G_END_DECLS
