/* SPDX-License-Identifier: GPL-2.0-or-later */
/* authz.h - the test server's model of a space's state and its
 * authorization rules (spec sections 6.2, 8.1-8.5).
 *
 * The state of a space is the replay of its `state` topic: for each path
 * (the message type) the latest message in chain order wins, data "" means
 * deleted (but the entry still exists, spec 8.3). This module answers the
 * questions the request handlers ask: is this id a member, does it hold a
 * capability, is this state write allowed, may this tool still write.
 */
#pragma once

#include <glib.h>
#include "message.h"

G_BEGIN_DECLS

typedef struct _RdtSrvState RdtSrvState;

RdtSrvState *rdt_srv_state_new (const gchar *space_id);
void         rdt_srv_state_free (RdtSrvState *state);

/* Record an accepted state write (topic "state", type = path). Called in
 * chain order, also when replaying persisted history at start-up. */
void rdt_srv_state_apply (RdtSrvState *state, const RdtMessage *msg);

/* Latest message stored at path (data may be ""), or NULL. */
const RdtMessage *rdt_srv_state_lookup (RdtSrvState *state, const gchar *path);

/* Owner (key == space key, as S or U id) or an existing auth/users/{U}
 * or auth/tools/{T} entry (even blanked), spec 6.2 and 8.3. */
gboolean rdt_srv_state_is_member (RdtSrvState *state, const gchar *id);
gboolean rdt_srv_state_is_owner (RdtSrvState *state, const gchar *id);

/* Capability check of spec 8.1: op is "read", "create", "modify",
 * "delete" or "write"; path like "topics/general/messages" or
 * "state/profiles/U...". `owner_of_target` is the sender/uploader of the
 * target entry for must_be_owner checks (NULL if none / not applicable). */
gboolean rdt_srv_state_check_permission (RdtSrvState *state,
                                         const gchar *caller_id,
                                         const gchar *op,
                                         const gchar *path,
                                         const gchar *owner_of_target);

/* Validate a state write of `data` at `path` by `sender`, after the hash
 * and signature checks and before compare-and-swap (spec 8.5 steps 1-5).
 * On refusal returns FALSE and sets *detail_out to the server's detail
 * text; the caller maps it to an HTTP status with the POST mapping of
 * spec 4.3 (see rdt_srv_status_for_detail). */
gboolean rdt_srv_state_validate_write (RdtSrvState *state,
                                       const gchar *sender,
                                       const gchar *path,
                                       const gchar *data,
                                       gchar **detail_out);

/* Tools (spec 4.3 step 6 and 8.4): the tool exists, its definition parses
 * and it is under use_limit. `uses` is how many successful writes (message
 * and state posts, blob uploads) the tool has made so far. */
gboolean rdt_srv_state_check_tool (RdtSrvState *state, const gchar *tool_id,
                                   guint uses, gchar **detail_out);

/* The POST-messages error mapping of spec 4.3: "permission" -> 403,
 * "conflict" -> 409, "mismatch"/"signature"/"must have" -> 400, else 401. */
guint rdt_srv_status_for_detail (const gchar *detail);

G_END_DECLS
