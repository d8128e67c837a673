/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api-private.h - what the files of the API client share (api.c: the
 * object and its token; api-call.c: one request and the login; api-parse.c:
 * strict answer parsing; api-messages.c, api-blobs.c, api-data.c: endpoints).
 * Internal to the core.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "api.h"
#include "crypto.h"

G_BEGIN_DECLS

struct _RdtApi {
  GObject        parent_instance;

  SoupSession   *session;
  gchar         *base_url;     /* no trailing '/' */
  gchar         *space_id;
  gchar         *member_id;
  RdtSigningKey *key;
  guint          timeout_s;

  gchar         *token;        /* rdt_secret_alloc'd, NUL-terminated */
  gint64         token_expiry; /* ms, server clock */
  gint64         token_refresh_at; /* ms, local clock */
  guint          token_serial; /* bumped whenever the token changes */

  gboolean       auth_in_flight;
  guint          auth_attempt;
  GQueue         auth_waiters; /* of AuthWaiter* (api-call.c) */
};

typedef enum {
  RDT_API_CALL_PLAIN,      /* most endpoints */
  RDT_API_CALL_CHALLENGE,
  RDT_API_CALL_VERIFY,
  RDT_API_CALL_BLOB        /* 500 means "bad token" (spec 6.3) */
} RdtApiCallKind;

typedef struct {
  RdtApiCallKind kind;
  gchar        *method;
  gchar        *path;          /* begins with '/' */
  GBytes       *body;          /* NULL for none */
  const gchar  *content_type;
  gboolean      needs_auth;
  gboolean      retried;       /* re-authenticated once already */
  gsize         max_size;
  const gchar  *what;          /* N_("the message"), N_("the request")... */

  guint         token_serial;  /* token the request was sent with */
  GCancellable *cancel;        /* ours: cancelling it drops the connection */
  GCancellable *user_cancel;
  gulong        user_cancel_id;
  SoupMessage  *msg;
  GInputStream *in;
  GByteArray   *buf;
  gsize         limit;
  guint         status;
  gchar        *resp_type;     /* Content-Type of the answer, lowercase */
  RdtApiProgressFunc progress; /* body upload progress, or NULL */
  gpointer      progress_data;
  goffset       sent;          /* body bytes written in this attempt */
  gulong        wrote_id;      /* "wrote-body-data" handler on msg */
  gboolean      too_large;     /* failed: the answer exceeded max_size */
} RdtApiCall;

/* api.c */
void        rdt_api_token_set (RdtApi *api, const gchar *token,
                               gint64 expires_at);
gboolean    rdt_api_token_is_fresh (RdtApi *api);

/* api-call.c */
RdtApiCall *rdt_api_call_new (RdtApiCallKind kind, const gchar *method,
                              gchar *path_take);
void        rdt_api_call_free (RdtApiCall *c);
void        rdt_api_call_start (RdtApi *api, RdtApiCall *c,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
GBytes     *rdt_api_call_finish (RdtApi *api, GAsyncResult *result,
                                 GError **error);
JsonObject *rdt_api_call_finish_object (RdtApi *api, GAsyncResult *result,
                                        JsonParser **parser_out,
                                        GError **error);

/* api-parse.c */
JsonObject  *rdt_api_parse_object (GBytes *bytes, JsonParser **parser_out,
                                   GError **error);
const gchar *rdt_api_parse_string (JsonObject *obj, const gchar *name,
                                   GError **error);
gboolean     rdt_api_parse_int (JsonObject *obj, const gchar *name,
                                gint64 *out, GError **error);
GBytes      *rdt_api_json_body (JsonBuilder *builder);
void         rdt_api_set_bad_response (GError **error, const GError *inner);
gchar       *rdt_api_sanitize_text (const gchar *text, gssize len);
gchar       *rdt_api_error_detail (GBytes *body, gboolean *too_long);
gboolean     rdt_api_detail_mentions_token (const gchar *detail);
gboolean     rdt_api_check_topic (GTask *task, const gchar *topic_id);
gboolean     rdt_api_check_id (GTask *task, const gchar *id, RdtIdType type);
JsonObject  *rdt_api_finish_echoed_object (GTask *task, GObject *source,
                                           GAsyncResult *result,
                                           JsonParser **parser,
                                           const gchar *member,
                                           const gchar *what);

G_END_DECLS
