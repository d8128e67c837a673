/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api-parse.c - strict parsing of the server's answers: everything from
 * the server is hostile until checked; error details are sanitized and
 * bounded before they reach a user.
 */
#include "config.h"
#include "api-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"

#define MAX_DETAIL_CHARS    400

/* ------------------------------------------------------------------ */
/* JSON helpers */

/* Parse bytes as a JSON object; NULL + error (RDT_API_ERROR_BAD_RESPONSE)
 * otherwise. The returned parser owns the object. */
JsonObject *
rdt_api_parse_object (GBytes *bytes, JsonParser **parser_out, GError **error)
{
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root;

  if (len == 0 || data == NULL)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: empty body"));
      return NULL;
    }
  if (!rdt_json_check_text (data, len, NULL))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: JSON nested too deeply"));
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: not JSON (%s)"), local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: expected a JSON object"));
      return NULL;
    }
  *parser_out = g_steal_pointer (&parser);
  return json_node_get_object (root);
}

const gchar *
rdt_api_parse_string (JsonObject *obj, const gchar *name, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: '%s' missing or not a string"),
                   name);
      return NULL;
    }
  return json_node_get_string (node);
}

/* A non-negative JSON integer (not a float, not a string). */
gboolean
rdt_api_parse_int (JsonObject *obj, const gchar *name, gint64 *out,
                   GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < 0)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
                   _("Bad answer from server: '%s' missing or not a "
                     "non-negative integer"), name);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

GBytes *
rdt_api_json_body (JsonBuilder *builder)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  gsize len;
  gchar *text;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  return g_bytes_new_take (text, len);
}

/* Turn an error from the model layer into a BAD_RESPONSE for the user. */
void
rdt_api_set_bad_response (GError **error, const GError *inner)
{
  g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE,
               _("Bad answer from server: %s"), inner->message);
}

/* ------------------------------------------------------------------ */
/* Error answers */

/* Printable, valid UTF-8, bounded copy of something the server said. */
gchar *
rdt_api_sanitize_text (const gchar *text, gssize len)
{
  g_autofree gchar *valid = NULL;
  GString *out;
  const gchar *p;
  glong n = 0;

  if (len < 0)
    len = (gssize) strlen (text);
  if (len > MAX_DETAIL_CHARS * 4)
    len = MAX_DETAIL_CHARS * 4;
  valid = g_utf8_make_valid (text, len);
  out = g_string_new (NULL);
  for (p = valid; *p && n < MAX_DETAIL_CHARS; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      if (c == '\n' || c == '\r' || c == '\t')
        g_string_append_c (out, ' ');
      else if (g_unichar_isprint (c))
        g_string_append_unichar (out, c);
    }
  g_strstrip (out->str);
  g_string_set_size (out, strlen (out->str));
  if (*p != '\0')
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

/* The detail text of an error answer: {"detail": "..."}, the list form of
 * a 422 ({"detail": [{"type","msg",...}]}), or a plain-text body. Sets
 * *too_long when a 422 says a string was too long. NULL if nothing
 * usable. */
gchar *
rdt_api_error_detail (GBytes *body, gboolean *too_long)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj;
  JsonNode *detail;
  gsize len = 0;
  const gchar *data;

  *too_long = FALSE;
  if (body == NULL)
    return NULL;
  data = g_bytes_get_data (body, &len);
  if (len == 0)
    return NULL;

  obj = rdt_api_parse_object (body, &parser, NULL);
  if (obj == NULL)
    {
      /* Plain text, e.g. "Internal Server Error". */
      g_autofree gchar *text = rdt_api_sanitize_text (data, (gssize) len);
      if (*text == '\0')
        return NULL;
      return g_steal_pointer (&text);
    }

  detail = json_object_get_member (obj, "detail");
  if (detail == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (detail)
      && json_node_get_value_type (detail) == G_TYPE_STRING)
    return rdt_api_sanitize_text (json_node_get_string (detail), -1);
  if (JSON_NODE_HOLDS_ARRAY (detail))
    {
      JsonArray *arr = json_node_get_array (detail);
      GString *msg = g_string_new (NULL);
      guint n = json_array_get_length (arr);

      for (guint i = 0; i < n && i < 8; i++)
        {
          JsonNode *el = json_array_get_element (arr, i);
          JsonObject *eo;
          const gchar *type = NULL, *text = NULL;
          JsonNode *m;

          if (!JSON_NODE_HOLDS_OBJECT (el))
            continue;
          eo = json_node_get_object (el);
          m = json_object_get_member (eo, "type");
          if (m && JSON_NODE_HOLDS_VALUE (m)
              && json_node_get_value_type (m) == G_TYPE_STRING)
            type = json_node_get_string (m);
          m = json_object_get_member (eo, "msg");
          if (m && JSON_NODE_HOLDS_VALUE (m)
              && json_node_get_value_type (m) == G_TYPE_STRING)
            text = json_node_get_string (m);
          if (g_strcmp0 (type, "string_too_long") == 0)
            *too_long = TRUE;
          if (text != NULL)
            {
              g_autofree gchar *clean = rdt_api_sanitize_text (text, -1);
              if (msg->len > 0)
                g_string_append (msg, "; ");
              g_string_append (msg, clean);
            }
        }
      if (msg->len == 0)
        {
          g_string_free (msg, TRUE);
          return NULL;
        }
      return g_string_free (msg, FALSE);
    }
  return NULL;
}

gboolean
rdt_api_detail_mentions_token (const gchar *detail)
{
  g_autofree gchar *lower = NULL;

  if (detail == NULL)
    return FALSE;
  lower = g_ascii_strdown (detail, -1);
  return strstr (lower, "token") != NULL
         || strstr (lower, "not authenticated") != NULL;
}

/* ------------------------------------------------------------------ */
/* Endpoint plumbing */

gboolean
rdt_api_check_topic (GTask *task, const gchar *topic_id)
{
  g_autoptr (GError) local = NULL;

  if (!rdt_topic_id_validate (topic_id, &local))
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Invalid topic id: %s"), local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
rdt_api_check_id (GTask *task, const gchar *id, RdtIdType type)
{
  g_autoptr (GError) local = NULL;

  if (!rdt_id_decode_typed (id, type, NULL, &local))
    {
      g_task_return_new_error (task, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                               _("Invalid %s id: %s"), rdt_id_type_name (type),
                               local->message);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Writes */

/* The answer object of a write, once its `member` (the id the server
 * says it stored) matches the one we sent (the task data). Otherwise the
 * task has been completed with the error and NULL is returned. */
JsonObject *
rdt_api_finish_echoed_object (GTask *task, GObject *source,
                              GAsyncResult *result, JsonParser **parser,
                              const gchar *member, const gchar *what)
{
  g_autoptr (GError) error = NULL;
  JsonObject *obj = rdt_api_call_finish_object (RDT_API (source), result,
                                                parser, &error);
  const gchar *got;

  if (obj == NULL
      || (got = rdt_api_parse_string (obj, member, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return NULL;
    }
  if (strcmp (got, g_task_get_task_data (task)) != 0)
    {
      g_task_return_new_error (task, RDT_API_ERROR,
                               RDT_API_ERROR_BAD_RESPONSE,
                               _("Bad answer from server: it stored a "
                                 "different %s"), _(what));
      return NULL;
    }
  return obj;
}
