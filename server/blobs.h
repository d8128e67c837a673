/* SPDX-License-Identifier: GPL-2.0-or-later */
/* blobs.h - the test server's blob store (spec §10).
 *
 * Blobs live in DATA_DIR/blobs/<B id> (the bytes) and <B id>.meta (line 1:
 * the space, then one line per uploader holding a reference), so they
 * survive a restart. Authorization is membership only, as on the real
 * server; the caller (main.c) has checked the token and the space. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

void rdt_srv_blobs_init (const gchar *data_dir, guint64 max_size);

/* PUT: `caller` is a member (or tool under its use_limit), already
 * checked. Answers 201 {"blob_id","size"}, 400 on a bad/mismatching id,
 * 413 over the size limit, 403 if the id belongs to another space. */
void rdt_srv_blobs_put (SoupServerMessage *msg, const gchar *space_id,
                        const gchar *blob_id, const gchar *caller);
/* GET: 200 octet-stream, 404 "Blob not found", 403 other space. */
void rdt_srv_blobs_get (SoupServerMessage *msg, const gchar *space_id,
                        const gchar *blob_id);
/* DELETE: removes the caller's reference (the content goes with the last
 * one); 204, 404, 403 unless the caller uploaded it or is_admin. */
void rdt_srv_blobs_delete (SoupServerMessage *msg, const gchar *space_id,
                           const gchar *blob_id, const gchar *caller,
                           gboolean is_admin);

/* Declared length over the limit: 413 before reading the body. */
gboolean rdt_srv_blobs_too_large (goffset declared);
void     rdt_srv_blobs_reply_too_large (SoupServerMessage *msg);

G_END_DECLS
