/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api-messages.c - the message endpoints: list a topic, get one message,
 * post one.
 */
#include "config.h"
#include "api-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

/* ------------------------------------------------------------------ */
/* GET messages */

/* A page of 1000 messages can be far over the answer limit: members may
 * post up to 102,400 characters of data each (spec 4.3), about 100 MB a
 * page. An answer over the limit is asked for again with a tenth of the
 * limit, down to one message; the caller pages on with has_more, as it
 * would anyway, so a topic of large messages stays readable. */
#define MESSAGES_SHRINK 10

typedef struct {
  gchar   *topic_id;
  gint64   from, to;
  guint    limit;
  gboolean has_more;
} ListResult;

static void
list_result_free (gpointer p)
{
  ListResult *lr = p;

  g_free (lr->topic_id);
  g_free (lr);
}

static void messages_start (GTask *task);

static void
on_messages (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  ListResult *lr = g_task_get_task_data (task);
  RdtApiCall *c = g_task_get_task_data (G_TASK (result));
  GPtrArray *list;
  gboolean has_more = FALSE;
  gsize len;
  const gchar *data;

  body = rdt_api_call_finish (RDT_API (source), result, &error);
  if (body == NULL && c->too_large && lr->limit > 1)
    {
      lr->limit = MAX (lr->limit / MESSAGES_SHRINK, 1);
      g_info ("api: GET %s: answer over the limit, asking for %u "
              "messages", lr->topic_id, lr->limit);
      messages_start (g_steal_pointer (&task));
      return;
    }
  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data = g_bytes_get_data (body, &len);
  list = rdt_message_list_parse (data ? data : "", (gssize) len, &has_more,
                                 &error);
  if (list == NULL)
    {
      GError *out = NULL;
      rdt_api_set_bad_response (&out, error);
      g_task_return_error (task, out);
      return;
    }
  lr->has_more = has_more;
  g_task_return_pointer (task, list, (GDestroyNotify) g_ptr_array_unref);
}

static void
messages_start (GTask *task)
{
  RdtApi *api = g_task_get_source_object (task);
  ListResult *lr = g_task_get_task_data (task);
  GString *path = g_string_new (NULL);
  gchar sep = '?';
  RdtApiCall *c;

  g_string_printf (path, "/spaces/%s/topics/%s/messages", api->space_id,
                   lr->topic_id);
  if (lr->from >= 0)
    {
      g_string_append_printf (path, "%cfrom=%" G_GINT64_FORMAT, sep,
                              lr->from);
      sep = '&';
    }
  if (lr->to >= 0)
    {
      g_string_append_printf (path, "%cto=%" G_GINT64_FORMAT, sep, lr->to);
      sep = '&';
    }
  g_string_append_printf (path, "%climit=%u", sep, lr->limit);
  c = rdt_api_call_new (RDT_API_CALL_PLAIN, "GET",
                        g_string_free (path, FALSE));
  rdt_api_call_start (api, c, g_task_get_cancellable (task), on_messages,
                      task);
}

void
rdt_api_get_messages_async (RdtApi *api, const gchar *topic_id, gint64 from,
                            gint64 to, guint limit, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  ListResult *lr;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (topic_id != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_get_messages_async);
  lr = g_new0 (ListResult, 1);
  g_task_set_task_data (task, lr, list_result_free);
  if (!rdt_api_check_topic (task, topic_id))
    return;
  if (limit < 1 || limit > 1000)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("limit must be 1..1000"));
      return;
    }
  lr->topic_id = g_strdup (topic_id);
  lr->from = from;
  lr->to = to;
  lr->limit = limit;
  messages_start (g_steal_pointer (&task));
}

GPtrArray *
rdt_api_get_messages_finish (RdtApi *api, GAsyncResult *result,
                             gboolean *has_more, GError **error)
{
  GPtrArray *list;

  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  list = g_task_propagate_pointer (G_TASK (result), error);
  if (has_more != NULL)
    *has_more = list != NULL
                && ((ListResult *) g_task_get_task_data (G_TASK (result)))
                       ->has_more;
  return list;
}

/* ------------------------------------------------------------------ */
/* GET one message */

static void
on_message (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (RdtMessage) msg = NULL;
  const gchar *want = g_task_get_task_data (task);
  const gchar *data;
  gsize len;

  body = rdt_api_call_finish (RDT_API (source), result, &error);
  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  data = g_bytes_get_data (body, &len);
  if (len == 0 || !rdt_json_check_text (data, len, NULL))
    {
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_BAD_RESPONSE,
                               _("Bad answer from server: not a message"));
      return;
    }
  msg = rdt_message_parse (data, (gssize) len, &error);
  if (msg == NULL)
    {
      GError *out = NULL;
      rdt_api_set_bad_response (&out, error);
      g_task_return_error (task, out);
      return;
    }
  if (strcmp (msg->message_hash, want) != 0)
    {
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_BAD_RESPONSE,
                               _("Bad answer from server: asked for one "
                                 "message, got another"));
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&msg),
                         (GDestroyNotify) rdt_message_unref);
}

void
rdt_api_get_message_async (RdtApi *api, const gchar *topic_id,
                           const gchar *message_hash,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (topic_id != NULL && message_hash != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_get_message_async);
  g_task_set_task_data (task, g_strdup (message_hash), g_free);
  if (!rdt_api_check_topic (task, topic_id)
      || !rdt_api_check_id (task, message_hash, RDT_ID_MESSAGE))
    return;
  c = rdt_api_call_new (RDT_API_CALL_PLAIN, "GET",
                        g_strdup_printf ("/spaces/%s/topics/%s/messages/%s",
                        api->space_id, topic_id, message_hash));
  c->max_size = 1024 * 1024;
  rdt_api_call_start (api, c, cancellable, on_message,
                      g_steal_pointer (&task));
}

RdtMessage *
rdt_api_get_message_finish (RdtApi *api, GAsyncResult *result,
                            GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* POST a message */

static void
on_posted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj;
  gint64 ts;

  obj = rdt_api_finish_echoed_object (task, source, result, &parser,
                                      "message_hash", N_("message hash"));
  if (obj == NULL)
    return;
  if (!rdt_api_parse_int (obj, "server_timestamp", &ts, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_int (task, ts);
}

void
rdt_api_post_message_async (RdtApi *api, const RdtMessage *msg,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  gchar *body;
  RdtApiCall *c;

  g_return_if_fail (RDT_IS_API (api));
  g_return_if_fail (msg != NULL);
  task = g_task_new (api, cancellable, callback, user_data);
  g_task_set_source_tag (task, rdt_api_post_message_async);
  if (msg->message_hash == NULL || msg->topic_id == NULL)
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Message is not complete"));
      return;
    }
  g_task_set_task_data (task, g_strdup (msg->message_hash), g_free);
  if (!rdt_api_check_topic (task, msg->topic_id))
    return;
  body = rdt_message_to_post_body (msg);
  c = rdt_api_call_new (RDT_API_CALL_PLAIN, "POST",
                        g_strdup_printf ("/spaces/%s/topics/%s/messages",
                        api->space_id, msg->topic_id));
  c->body = g_bytes_new_take (body, strlen (body));
  c->content_type = "application/json";
  c->what = N_("the message");
  c->max_size = 64 * 1024;
  rdt_api_call_start (api, c, cancellable, on_posted, g_steal_pointer (&task));
}

gint64
rdt_api_post_message_finish (RdtApi *api, GAsyncResult *result,
                             GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), -1);
  /* -1 with *error set on failure (timestamps are never negative) */
  return g_task_propagate_int (G_TASK (result), error);
}
