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
 * *first_rejection (may be NULL; g_free) says why the first one failed.
 * Fails on a network or parse error, or if the log cannot be paged. */
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

G_END_DECLS
