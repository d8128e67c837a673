/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xfer-private.h - what the files of the attachment code share (xfer.c,
 * xfer-send.c, xfer-fetch.c, xfer-image.c, xfer-offer.c): the state per
 * connection, an operation in flight, and the functions between them.
 * Internal to the plugin; see xfer.c for how the parts fit. */
#pragma once

#include <cmds.h>
#include <ft.h>

#include "attachment.h"
#include "xfer.h"

G_BEGIN_DECLS

/* Received attachments remembered for /fetch, per connection. */
#define MAX_REMEMBERED 200
/* Automatic image downloads (see the top): an image bigger than this (or
 * than the download limit) is only downloaded when asked for. */
#define INLINE_MAX_BYTES    (5 * 1024 * 1024)
#define INLINE_RUNNING_MAX  2
#define INLINE_QUEUED_MAX   8
#define INLINE_CACHE_MAX    4
/* Open "X wants to send you F" questions, per connection. */
#define OFFERS_OPEN_MAX     3
/* "name (1).ext" .. "name (N).ext" before /fetch gives up. */
#define UNIQUE_NAME_TRIES   100

typedef struct {
  RdtAttachment *att;
  gchar *topic_id;
  gchar *sender;
} Received;

/* One descriptor an automatic image download serves. */
typedef struct {
  gchar *topic_id;
  gchar *sender;          /* chat nick */
  gchar *filename;
  gboolean own;
  gboolean backlog;
  guint number;           /* its /fetch number */
  guint64 ticket;         /* its held entry (transcript.c), 0 once filled */
  gchar *text_entry;      /* the entry without the image (html) */
} ImageTarget;

/* One automatic download of an image blob, for every descriptor of that
 * blob (same key and size) that comes while it is queued or running. */
typedef struct {
  RdtAttachment *att;
  GPtrArray *targets;     /* ImageTarget* */
  gboolean registered;    /* in XferState.image_jobs under att->blob_id */
} ImageJob;

/* An image shown lately, kept in the image store for repeats. */
typedef struct {
  RdtAttachment *att;
  gint img_id;            /* a reference of ours */
} CachedImage;

typedef struct {
  GCancellable *cancel;
  GPtrArray *received;   /* Received*, index + first_index = /fetch N */
  guint first_index;     /* number of the oldest remembered entry */
  GList *offers;         /* PurpleXfer* offered or running, each with its
                          * Op in xfer->data */
  guint offers_asking;   /* offers whose question is not answered yet */
  GQueue image_queue;    /* ImageJob* waiting, oldest first (owned) */
  GHashTable *image_jobs;   /* blob id -> ImageJob*, queued or running */
  guint images_running;  /* their ops own the running jobs */
  guint pump_id;         /* idle that starts queued jobs */
  GQueue image_cache;    /* CachedImage*, newest first */
  GHashTable *failed;    /* topic id -> Op*: the last upload that failed
                          * there, encrypted and ready for /retry */
  GQueue offline;        /* Op*: encrypted uploads waiting for the
                          * connection, oldest first (owned) */
} XferState;

/* One operation in flight. */
typedef struct {
  RdtConn *rc;            /* valid while !g_cancellable_is_cancelled */
  GCancellable *cancel;
  gchar *topic_id;
  gchar *path;            /* send: source; fetch: destination */
  gchar *dir;             /* fetch into a directory: where path is made */
  gchar *filename;
  gchar *sender;
  RdtAttachment *att;
  GBytes *blob;
  guint64 max_size;
  ImageJob *job;          /* automatic image download: whom it serves */
  PurpleXfer *xfer;       /* incoming transfer this op serves, or NULL */
  gboolean asking;        /* offered; the question is not answered yet */
  gboolean started;       /* xfer accepted: a download is in flight */
  gchar *fail_line;       /* xfer accepted but refused: said from an idle */
  GOutputStream *out;     /* fetch into a directory: the new file */
  guint attempt;          /* ... and its number, for "name (n).ext" */
  gint64 t_start;
  guint quarters_said;    /* upload progress lines shown (25% steps) */
} Op;

typedef enum {
  IMAGE_NOT_DOWNLOADED,
  IMAGE_NOT_VERIFIED,
  IMAGE_NOT_AN_IMAGE,
} ImageFailure;

/* xfer.c: state, operations, limits */
XferState *rdt_xfer_state (RdtConn *rc);
Op        *rdt_xfer_op_new (RdtConn *rc, const gchar *topic_id);
void       rdt_xfer_op_free (Op *op);
/* TRUE if the operation was cancelled (the connection is gone, or the
 * user cancelled its transfer): then op is freed. */
gboolean   rdt_xfer_op_dead (Op *op, const GError *error);
void       rdt_xfer_op_say (Op *op, PurpleMessageFlags flags,
                            const gchar *text);
/* The local limit in bytes: account option, clamped to the server's. */
guint64    rdt_xfer_local_limit (RdtConn *rc);
/* The biggest image downloaded by itself. */
guint64    rdt_xfer_inline_limit (RdtConn *rc);
void       rdt_xfer_image_target_free (gpointer data);
void       rdt_xfer_image_job_free (gpointer data);
void       rdt_xfer_cached_image_free (gpointer data);

/* xfer-send.c */
PurpleCmdRet rdt_xfer_cmd_send_file (PurpleConversation *conv,
                                     const gchar *cmd, gchar **args,
                                     gchar **error, void *data);

/* xfer-fetch.c: download, check, save */
/* The line saying att is over the local download limit, or NULL. */
gchar       *rdt_xfer_over_limit_line (RdtConn *rc, const RdtAttachment *att);
/* Bounded by the announced size when given, else by limit. Never calls
 * back before it returns. */
void         rdt_xfer_start_download (Op *op, guint64 limit);
PurpleCmdRet rdt_xfer_cmd_fetch (PurpleConversation *conv, const gchar *cmd,
                                 gchar **args, gchar **error, void *data);

/* xfer-image.c: inline images */
/* A running job is over (its op is done): the next may start. Frees op. */
void rdt_xfer_image_job_done (Op *op);
/* Every descriptor the job served gets the failure. Frees op. */
void rdt_xfer_image_job_fail (Op *op, ImageFailure how, const gchar *message);
/* Checked and decrypted: shown to every descriptor. Takes plain, frees op. */
void rdt_xfer_image_job_show (Op *op, GBytes *plain);
/* Show an image descriptor inline in its entry from who (held in its
 * place meanwhile). Takes att and text_entry. */
void rdt_xfer_request_image (RdtConn *rc, const RdtSessionMessage *msg,
                             const gchar *who, PurpleMessageFlags flags,
                             RdtAttachment *att, guint number,
                             gchar *text_entry, const gchar *placeholder);

/* xfer-offer.c: libpurple incoming transfers */
/* Unlink op and its transfer; returns the transfer, which the caller
 * finishes. */
PurpleXfer *rdt_xfer_op_take_xfer (Op *op);
/* A receive failed: said in the chat and the transfer UI. Frees op. */
void        rdt_xfer_op_fail (Op *op, const gchar *line);
void        rdt_xfer_recv_cancel (PurpleXfer *xfer);
/* Account closing: end one offer (already detached from its op). */
void        rdt_xfer_end_offer (PurpleXfer *xfer, gboolean asking);
/* Offer att from who as an incoming transfer. Takes att. */
void        rdt_xfer_offer (RdtConn *rc, const gchar *topic_id,
                            const gchar *who, RdtAttachment *att);

G_END_DECLS
