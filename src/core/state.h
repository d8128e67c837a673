/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state.h - the space's state (spec 8.5): the verified state log replayed
 * into "path -> latest value", and what a chat client reads from it:
 * members (auth/users/{U}, spec 8.3), display names (profiles/{U}, spec 12)
 * topic metadata (topics/{id}/metadata, spec 9) and the space's name
 * (space/metadata, written by the owner), in the conventions of
 * docs/conventions.md. No network here: statesync.h loads and writes.
 *
 * Every message is verified (hash, signature) and linked into the state
 * topic's chain before it counts. On top of what the server checks, an
 * entry is applied only if its signer is the owner or was already a member
 * when it was written; a profile only if written by its member or the
 * owner. A tool T (an invitation) counts only while auth/tools/{T} is a
 * non-blank JSON object, for at most its "use_limit" writes, and only to
 * create (never change or blank) auth/users/{U}, auth/users/{U}/rights/{cap}
 * or auth/users/{U}/roles/user. So a hostile server can hide entries but
 * cannot make up members or names, nor let a spent or revoked invitation
 * add members. docs/conventions.md ("Trust in the state") is the reference.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "crypto.h"

G_BEGIN_DECLS

typedef struct _RdtState RdtState;

/* Longest display name or topic name kept, in characters. */
#define RDT_STATE_MAX_NAME 64

/* The state path of the space's own metadata (its human name). */
#define RDT_STATE_SPACE_PATH "space/metadata"

typedef struct {
  const gchar *path;
  const gchar *data;          /* std base64 as sent; "" = deleted */
  const gchar *sender;
  const gchar *message_hash;
  gint64       timestamp;
} RdtStateEntry;

/* state_key is copied into secret memory. */
RdtState *rdt_state_new (const gchar *space_id,
                         const guint8 state_key[RDT_KEY_LENGTH]);
void      rdt_state_free (RdtState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtState, rdt_state_free)

/* Ingest state-log messages (RdtMessage, any order, duplicates are fine).
 * Accepted entries are applied in chain order. Messages that fail
 * verification, and linked entries whose signer is not allowed, are
 * appended to `rejected` (may be NULL; elements RdtChainRejection).
 * Returns the number of entries applied. */
guint        rdt_state_ingest (RdtState *state, GPtrArray *messages,
                               GPtrArray *rejected);
/* Newest server_timestamp ingested (-1 if none): where a sync resumes. */
gint64       rdt_state_get_newest_timestamp (RdtState *state);
/* Hash of the state topic's verified head, NULL if empty. */
const gchar *rdt_state_get_head (RdtState *state);
guint        rdt_state_get_n_entries (RdtState *state);
/* Latest applied entry at path, NULL if never written. */
const RdtStateEntry *rdt_state_lookup (RdtState *state, const gchar *path);
/* Bumped whenever an applied entry changes members, names or topics. */
guint        rdt_state_get_serial (RdtState *state);

gboolean     rdt_state_is_owner (RdtState *state, const gchar *id);
/* A user with a non-empty auth/users/{U} entry, or the owner. (Spec 8.3:
 * a blanked entry does not end server access, but the admin's intent is
 * "removed", so the member list leaves them out.) */
gboolean     rdt_state_is_member (RdtState *state, const gchar *user_id);
/* U ids of the members, owner first, the rest sorted. */
GPtrArray   *rdt_state_list_members (RdtState *state);

/* The capabilities granted directly to a user or tool (spec 8.1,
 * auth/{users|tools}/{id}/rights/...) as "op path" strings, sorted;
 * unreadable or blanked ones are left out. */
GPtrArray   *rdt_state_list_capabilities (RdtState *state, const gchar *id);

/* The member's display name from profiles/{U}, cleaned (valid UTF-8, no
 * control characters, trimmed, at most RDT_STATE_MAX_NAME characters), or
 * NULL when there is none or it cannot be read. */
gchar       *rdt_state_get_display_name (RdtState *state, const gchar *user_id);

/* Topic ids that have metadata, sorted; and a topic's name (NULL if none). */
GPtrArray   *rdt_state_list_topics (RdtState *state);
gchar       *rdt_state_get_topic_name (RdtState *state, const gchar *topic_id);
/* The space's name from space/metadata, written by the owner, cleaned like
 * display names; NULL if none. */
gchar       *rdt_state_get_space_name (RdtState *state);

/* ---- values this plugin writes (the `data` of a state message) ---- */

/* {"display_name": name} encrypted with the state key. */
gchar *rdt_state_encode_profile (RdtState *state, const gchar *display_name,
                                 GError **error);
/* {"name": name, "topic": id} encrypted with the state key. */
gchar *rdt_state_encode_topic_metadata (RdtState *state, const gchar *topic_id,
                                        const gchar *name, GError **error);
/* {"name": name, "space": S} encrypted with the state key. */
gchar *rdt_state_encode_space_metadata (RdtState *state, const gchar *name,
                                        GError **error);
/* Plain std base64 of {"user_id": U} (auth entries cannot be encrypted). */
gchar *rdt_state_encode_user_entry (const gchar *user_id);
/* Plain std base64 of {"op": op, "path": path}. */
gchar *rdt_state_encode_capability (const gchar *op, const gchar *path);
/* Plain std base64 of {"tool_id": T, "use_limit": n}. */
gchar *rdt_state_encode_tool_entry (const gchar *tool_id, guint use_limit);

/* The JSON object of a plain (not encrypted) base64 state value, such as
 * an auth entry, or NULL: blank, not base64, not a JSON object. */
JsonObject *rdt_state_value_object (const gchar *data);

/* Cleans a name as described above; NULL if nothing is left. */
gchar *rdt_state_clean_name (const gchar *name);

G_END_DECLS
