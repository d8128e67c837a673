/* SPDX-License-Identifier: GPL-2.0-or-later */
/* statesync.h - the state over the network (spec 8.5): bring an RdtState
 * up to date from the state log, and write state entries.
 *
 * Writes chain on the head of the whole state topic, so they contend with
 * every other state write in the space: a 409 re-reads the head and tries
 * again (a few times, with a random pause), and successive writes of one
 * call are paced a few milliseconds apart so that they never share a
 * server timestamp (spec 4.6).
 */
#pragma once

#include <gio/gio.h>
#include "api.h"
#include "state.h"

G_BEGIN_DECLS

/* Pages forward from the newest entry `state` has (the whole log the first
 * time), verifying and applying every page. *n_rejected (may be NULL)
 * counts messages that failed verification or were not allowed, and
 * *first_rejection (may be NULL; g_free) says why the first one failed
 * (both are set on failure too). Fails on a network or parse error; with
 * RDT_ERROR_CHAIN if the log cannot be paged or the server keeps sending
 * entries that are rejected (over 2000 in one sync: junk, not a real log);
 * with RDT_ERROR_TOO_LARGE after 100,000 messages in one call (what was
 * read is kept: the next sync goes on from there). */
void     rdt_state_sync_async  (RdtState *state, RdtApi *api,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean rdt_state_sync_finish (RdtState *state, GAsyncResult *result,
                                guint *n_rejected, gchar **first_rejection,
                                GError **error);

/* Writes n entries in order, signed by the api's key as its member id
 * (a U or T id). datas are std base64 `data` values (see state.h
 * encoders). Stops at the first failure; the error names the path. */
void     rdt_state_write_async  (RdtApi *api, const gchar *const *paths,
                                 const gchar *const *datas, guint n,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean rdt_state_write_finish (RdtApi *api, GAsyncResult *result,
                                 GError **error);

/* Creates one entry, signed by the api's key, only if `path` has no entry
 * in `state` (not even a blanked one): for a value that must not replace
 * what someone else may have set meanwhile (a default topic name). The
 * entry is chained on the state's own verified head (rdt_state_get_head),
 * so the server's compare-and-swap makes "absent at that head" exact. On a
 * 409 the state is synced again (rdt_state_sync_async) and checked again
 * before the next try, a few times at most. Sync `state` first, or the
 * first try is wasted.
 *
 * Fails with G_IO_ERROR_EXISTS when the path has an entry (in `state` at
 * the call, or found by a re-sync); with RDT_API_ERROR_CONFLICT when the
 * head kept moving; otherwise as rdt_state_sync_async or a post. On
 * success our entry has been ingested into `state`. `state` must outlive
 * the call unless it is cancelled, as for rdt_state_sync_async. */
void     rdt_state_create_async  (RdtState *state, RdtApi *api,
                                  const gchar *path, const gchar *data,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
gboolean rdt_state_create_finish (RdtApi *api, GAsyncResult *result,
                                  GError **error);

G_END_DECLS
