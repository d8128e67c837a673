/* SPDX-License-Identifier: GPL-2.0-or-later */
/* client.c - see client.h. Blocking by design: test code. */
#include "config.h"

#include <string.h>

#include "client.h"
#include "encoding.h"
#include "id.h"

RdtTestServer *srv;
SoupSession *http;

/* ---- plumbing ---- */


void
answer_free (Answer *a)
{
  g_free (a->body);
  g_bytes_unref (a->raw);
  if (a->json)
    json_node_unref (a->json);
  g_free (a);
}

Answer *
request_on (RdtTestServer *server, const gchar *method, const gchar *path,
            const gchar *token, const gchar *content_type, const void *body,
            gsize len)
{
  g_autofree gchar *url = g_strconcat (rdt_test_server_get_url (server), path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  Answer *a = g_new0 (Answer, 1);

  g_assert_nonnull (msg);
  if (token)
    {
      g_autofree gchar *h = g_strconcat ("Bearer ", token, NULL);
      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Authorization", h);
    }
  if (body)
    {
      g_autoptr (GBytes) b = g_bytes_new (body, len);
      soup_message_set_request_body_from_bytes (msg, content_type, b);
    }
  bytes = soup_session_send_and_read (http, msg, NULL, &error);
  g_assert_no_error (error);
  a->status = soup_message_get_status (msg);
  a->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  a->raw = g_bytes_ref (bytes);
  if (a->body == NULL)
    a->body = g_strdup ("");
  if (json_parser_load_from_data (parser, a->body, -1, NULL) &&
      json_parser_get_root (parser))
    a->json = json_node_copy (json_parser_get_root (parser));
  return a;
}

Answer *
request (const gchar *method, const gchar *path, const gchar *token,
         const gchar *json)
{
  return request_on (srv, method, path, token, "application/json", json,
                     json ? strlen (json) : 0);
}

const gchar *
detail_of (Answer *a)
{
  if (!a->json || !JSON_NODE_HOLDS_OBJECT (a->json))
    return "";
  return json_object_get_string_member_with_default (
      json_node_get_object (a->json), "detail", "");
}



gchar *
login_on (RdtTestServer *server, const gchar *space, RdtSigningKey *key,
          RdtIdType type, guint *status_out)
{
  g_autofree gchar *id = rdt_signing_key_get_id (key, type);
  g_autofree gchar *path = g_strdup_printf ("/spaces/%s/auth/challenge", space);
  g_autofree gchar *body = g_strdup_printf ("{\"public_key\":\"%s\"}", id);
  g_autoptr (Answer) ch = request_on (server, "POST", path, NULL,
                                      "application/json", body, strlen (body));
  const gchar *challenge;
  guint8 sig[RDT_SIGNATURE_LENGTH];
  g_autofree gchar *sig64 = NULL, *vbody = NULL, *vpath = NULL;
  g_autoptr (Answer) v = NULL;

  g_assert_cmpuint (ch->status, ==, 200);
  challenge = json_object_get_string_member (json_node_get_object (ch->json),
                                             "challenge");
  rdt_signing_key_sign (key, (const guint8 *) challenge, strlen (challenge), sig);
  sig64 = g_base64_encode (sig, sizeof sig);
  vbody = g_strdup_printf ("{\"public_key\":\"%s\",\"signature\":\"%s\","
                           "\"challenge\":\"%s\"}", id, sig64, challenge);
  vpath = g_strdup_printf ("/spaces/%s/auth/verify", space);
  v = request_on (server, "POST", vpath, NULL, "application/json", vbody,
                  strlen (vbody));
  if (status_out)
    *status_out = v->status;
  if (v->status != 200)
    return NULL;
  return g_strdup (json_object_get_string_member (json_node_get_object (v->json),
                                                  "token"));
}

Space *
space_new (void)
{
  Space *s = g_new0 (Space, 1);

  s->key = rdt_signing_key_generate ();
  s->space = rdt_signing_key_get_id (s->key, RDT_ID_SPACE);
  s->uid = rdt_signing_key_get_id (s->key, RDT_ID_USER);
  s->token = login_on (srv, s->space, s->key, RDT_ID_USER, NULL);
  g_assert_nonnull (s->token);
  return s;
}

void
space_free (Space *s)
{
  rdt_signing_key_free (s->key);
  g_free (s->space);
  g_free (s->uid);
  g_free (s->token);
  g_free (s->state_head);
  g_free (s);
}

Answer *
post_on (RdtTestServer *server, Space *s, const gchar *token, RdtMessage *m)
{
  g_autofree gchar *path = g_strdup_printf ("/spaces/%s/topics/%s/messages",
                                            s->space, m->topic_id);
  g_autofree gchar *body = rdt_message_to_post_body (m);

  return request_on (server, "POST", path, token, "application/json", body,
                     strlen (body));
}

RdtMessage *
new_msg (Space *s, const gchar *topic, const gchar *prev, const gchar *text)
{
  g_autofree gchar *data = g_base64_encode ((const guchar *) text, strlen (text));

  return rdt_message_new_signed (s->space, topic, "chat.text", prev, data,
                                 s->uid, s->key);
}

/* Pace chained posts as spec 4.6 tells clients to: two posts in one
 * millisecond tie, and the real server then keeps the OLDER as head. */
void
pace (Answer *posted)
{
  gint64 ts = json_object_get_int_member (json_node_get_object (posted->json),
                                          "server_timestamp");

  while (g_get_real_time () / 1000 <= ts + 1)
    g_usleep (200);
}

/* Post n messages in a chain; returns their hashes. */
GPtrArray *
post_chain (Space *s, const gchar *topic, guint n)
{
  GPtrArray *hashes = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("m%u", i);
      g_autoptr (RdtMessage) m = new_msg (s, topic,
          i ? g_ptr_array_index (hashes, i - 1) : NULL, text);
      g_autoptr (Answer) a = post_on (srv, s, s->token, m);

      g_assert_cmpuint (a->status, ==, 201);
      g_ptr_array_add (hashes, g_strdup (m->message_hash));
      pace (a);
    }
  return hashes;
}

void
state_write (Space *s, const gchar *path, const gchar *json)
{
  g_autofree gchar *data = g_base64_encode ((const guchar *) json, strlen (json));
  g_autoptr (RdtMessage) m = rdt_message_new_signed (s->space, "state", path,
      s->state_head, data, s->uid, s->key);
  g_autoptr (Answer) a = post_on (srv, s, s->token, m);

  if (a->status != 201)
    g_error ("state write %s: %u %s", path, a->status, a->body);
  pace (a);
  g_free (s->state_head);
  s->state_head = g_strdup (m->message_hash);
}

/* The hashes of a GET answer, in the order the server sent them. */
gchar *
list_hashes (Answer *a, gboolean *has_more)
{
  JsonObject *o = json_node_get_object (a->json);
  JsonArray *arr = json_object_get_array_member (o, "messages");
  GString *out = g_string_new (NULL);

  *has_more = json_object_get_boolean_member (o, "has_more");
  for (guint i = 0; i < json_array_get_length (arr); i++)
    g_string_append_printf (out, "%s%s", i ? " " : "",
        json_object_get_string_member (json_array_get_object_element (arr, i),
                                       "message_hash"));
  return g_string_free (out, FALSE);
}

gchar *
join (GPtrArray *hashes, gint from, gint to)  /* inclusive, may descend */
{
  GString *out = g_string_new (NULL);
  gint step = from <= to ? 1 : -1;

  for (gint i = from;; i += step)
    {
      g_string_append_printf (out, "%s%s", out->len ? " " : "",
                              (gchar *) g_ptr_array_index (hashes, i));
      if (i == to)
        break;
    }
  return g_string_free (out, FALSE);
}

/* ---- WebSocket (spec 7) ---- */


void
ws_frame (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  Ws *w = data;
  g_ptr_array_add (w->frames, g_strndup (g_bytes_get_data (message, NULL),
                                         g_bytes_get_size (message)));
}

void
ws_closed (SoupWebsocketConnection *ws, gpointer data)
{
  ((Ws *) data)->closed = TRUE;
}

void
ws_connected (GObject *source, GAsyncResult *res, gpointer data)
{
  Ws *w = data;

  w->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &w->error);
  w->connected = TRUE;
  if (w->ws)
    {
      g_signal_connect (w->ws, "message", G_CALLBACK (ws_frame), w);
      g_signal_connect (w->ws, "closed", G_CALLBACK (ws_closed), w);
    }
}

gboolean
deadline_hit (gpointer data)
{
  g_error ("timed out waiting for %s", (const gchar *) data);
  return G_SOURCE_REMOVE;
}


void
ws_open (RdtTestServer *server, Space *s, const gchar *token, Ws *w)
{
  g_autofree gchar *url = g_strdup_printf ("%s/spaces/%s/stream?token=%s",
                                           rdt_test_server_get_url (server),
                                           s->space, token);
  g_autoptr (SoupMessage) msg = NULL;

  url[0] = 'w'; url[1] = 's'; memmove (url + 2, url + 4, strlen (url + 4) + 1);
  msg = soup_message_new ("GET", url);
  w->frames = g_ptr_array_new_with_free_func (g_free);
  soup_session_websocket_connect_async (http, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        NULL, ws_connected, w);
  WAIT (w->connected, "the WebSocket handshake");
}

void
ws_clear (Ws *w)
{
  if (w->ws && soup_websocket_connection_get_state (w->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      soup_websocket_connection_close (w->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      WAIT (w->closed, "the close handshake");
    }
  g_clear_object (&w->ws);
  g_clear_error (&w->error);
  g_ptr_array_unref (w->frames);
}

gboolean
has_frame (Ws *w, const gchar *needle)
{
  for (guint i = 0; i < w->frames->len; i++)
    if (strstr (w->frames->pdata[i], needle))
      return TRUE;
  return FALSE;
}
