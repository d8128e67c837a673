/* SPDX-License-Identifier: GPL-2.0-or-later */
/* client.h - a blocking HTTP/WebSocket client for the server suites
 * (test-rules.c, test-conformance.c): requests, login, spaces with their
 * owner, chained posts, state writes, WebSocket frames. Test code only. */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "crypto.h"
#include "id.h"
#include "message.h"
#include "testserver.h"

/* The server the helpers talk to by default, and the HTTP session. */
extern RdtTestServer *srv;
extern SoupSession *http;

typedef struct {
  guint status;
  gchar *body;
  GBytes *raw;
  JsonNode *json;     /* NULL if the body is not JSON */
} Answer;

void answer_free (Answer *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Answer, answer_free)

#define assert_answer(a, st, det) G_STMT_START {                        \
    if ((a)->status != (st) || !g_str_has_prefix (detail_of (a), (det))) \
      g_error ("expected %u \"%s...\", got %u %s", (guint) (st), (det),  \
               (a)->status, (a)->body);                                  \
  } G_STMT_END

/* A space with its owner key, and a logged-in token. */
typedef struct {
  RdtSigningKey *key;
  gchar *space;
  gchar *uid;
  gchar *token;
  gchar *state_head;
} Space;

void space_free (Space *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Space, space_free)

typedef struct {
  SoupWebsocketConnection *ws;
  GError *error;
  gboolean connected, closed;
  GPtrArray *frames;
} Ws;

#define WAIT(cond, what) G_STMT_START {                                 \
    guint t_ = g_timeout_add_seconds (20, deadline_hit, (gpointer) (what)); \
    while (!(cond))                                                     \
      g_main_context_iteration (NULL, TRUE);                            \
    g_source_remove (t_);                                               \
  } G_STMT_END

Answer *request_on (RdtTestServer *server, const gchar *method,
                    const gchar *path, const gchar *token,
                    const gchar *content_type, const void *body, gsize len);
Answer *request (const gchar *method, const gchar *path, const gchar *token,
                 const gchar *json);
const gchar * detail_of (Answer *a);
gchar *login_on (RdtTestServer *server, const gchar *space,
                 RdtSigningKey *key, RdtIdType type, guint *status_out);
Space *space_new (void);
Answer *post_on (RdtTestServer *server, Space *s, const gchar *token,
                 RdtMessage *m);
RdtMessage *new_msg (Space *s, const gchar *topic, const gchar *prev,
                     const gchar *text);
void pace (Answer *posted);
GPtrArray *post_chain (Space *s, const gchar *topic, guint n);
void state_write (Space *s, const gchar *path, const gchar *json);
gchar *list_hashes (Answer *a, gboolean *has_more);
/* hashes[from..to] joined by spaces, inclusive; from > to descends. */
gchar *join (GPtrArray *hashes, gint from, gint to);
void ws_frame (SoupWebsocketConnection *ws, gint type, GBytes *message,
               gpointer data);
void ws_closed (SoupWebsocketConnection *ws, gpointer data);
void ws_connected (GObject *source, GAsyncResult *res, gpointer data);
gboolean deadline_hit (gpointer data);
void ws_open (RdtTestServer *server, Space *s, const gchar *token, Ws *w);
void ws_clear (Ws *w);
gboolean has_frame (Ws *w, const gchar *needle);
