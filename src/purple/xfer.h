/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer.h - attachments in chats (spec 10): /send-file, /fetch, inline
 * images. Files are encrypted with a fresh key, uploaded as blobs and
 * announced by a "file.upload" / "chat.image" message (see attachment.h). */
#pragma once

#include <accountopt.h>

#include "conn.h"

G_BEGIN_DECLS

/* Account option (int, MB): the local size limit for sending and for
 * downloading; clamped to the server's 100 MB. */
#define RDT_XFER_OPTION_MAX_MB   "max-attachment-mb"
#define RDT_XFER_DEFAULT_MAX_MB  25

/* plugin_load / plugin_unload: /send-file and /fetch. */
void rdt_xfer_register_commands (void);
void rdt_xfer_unregister_commands (void);

/* The account option above, for plugin.c's protocol_options. */
PurpleAccountOption *rdt_xfer_account_option_new (void);

/* Call from the chat message callback before normal display: TRUE if msg
 * was an attachment (shown here as an entry from who with flags, as
 * chat.c writes text, or rejected with a warning). */
gboolean rdt_xfer_handle_message (RdtConn *rc, PurpleConvChat *chat,
                                  const RdtSessionMessage *msg,
                                  const gchar *who, PurpleMessageFlags flags);

/* Send a local file to a topic (what /send-file does). */
void rdt_xfer_send_file (RdtConn *rc, const gchar *topic_id,
                         const gchar *path);
/* Send bytes as a file named filename (an image put into a message). */
void rdt_xfer_send_bytes (RdtConn *rc, const gchar *topic_id,
                          const gchar *filename, GBytes *data);
/* /retry: upload again the last attachment of the topic whose upload
 * failed; FALSE if there is none. */
gboolean rdt_xfer_retry (RdtConn *rc, const gchar *topic_id);
/* The connection is (back) up: uploads that waited for it start, in the
 * order they were sent. */
void     rdt_xfer_on_connected (RdtConn *rc);
/* Adds a line ("file NAME") per upload not done: waiting for the
 * connection or failed (the account closes). */
void     rdt_xfer_list_unsent (RdtConn *rc, GPtrArray *names);

/* Call from rdt_close() before the session is freed: cancels transfers in
 * flight and frees rc->transfers. */
void rdt_xfer_conn_free (RdtConn *rc);

G_END_DECLS
