/* SPDX-License-Identifier: GPL-2.0-or-later */
/* data.h - the test server's data (KV) store of one space (spec 11).
 *
 * Entries are signed key/value pairs without a chain. The request
 * handlers here apply the real server's checks in its order (signer,
 * clock window, replay, permission on the raw path, signature) and answer
 * with its status codes and detail texts. Every change is appended to
 * DATA_DIR/<space>.data.jsonl and replayed at start, so a restart keeps
 * the store, as the message log does.
 */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include "authz.h"

G_BEGIN_DECLS

typedef struct _RdtSrvData RdtSrvData;

/* Loads what DATA_DIR/<space_id>.data.jsonl holds. */
RdtSrvData *rdt_srv_data_new (const gchar *data_dir, const gchar *space_id);
void        rdt_srv_data_free (RdtSrvData *data);

/* A PUT body the real server's validation accepts: string data,
 * signature and signed_by, integer signed_at (otherwise 422, before any
 * other check). */
gboolean rdt_srv_data_body_valid (JsonObject *body);

/* GET, PUT or DELETE /spaces/{S}/data/{path} by the authenticated
 * `caller`; `path` is the URL's rest after /data/. `body` is the request
 * object of a PUT, already checked with rdt_srv_data_body_valid(). */
void rdt_srv_data_handle (RdtSrvData *data, RdtSrvState *state,
                          SoupServerMessage *msg, const gchar *method,
                          const gchar *space_id, const gchar *caller,
                          const gchar *path,
                          JsonObject *body);

G_END_DECLS
