/* SPDX-License-Identifier: GPL-2.0-or-later */
/* faults.c - see faults.h. */
#include <string.h>
#include <json-glib/json-glib.h>
#include "faults.h"

typedef struct {
  RdtFault fault;
  gchar *path;
  gchar *method;
  gchar *caller;     /* only requests with a token of this id, or NULL */
  gint remaining;    /* < 0: until cleared */
} Rule;

static GPtrArray *rules;
static RdtCloseSocketsFunc close_sockets_cb;

static void
rule_free (gpointer p)
{
  Rule *r = p;

  g_free (r->fault.mode);
  g_free (r->fault.hash);
  g_free (r->path);
  g_free (r->method);
  g_free (r->caller);
  g_free (r);
}

void
rdt_srv_faults_init (RdtCloseSocketsFunc close_sockets)
{
  rules = g_ptr_array_new_with_free_func (rule_free);
  close_sockets_cb = close_sockets;
}

static void
reply_text (SoupServerMessage *msg, guint status, const gchar *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    json, strlen (json));
}

static gboolean
from_loopback (SoupServerMessage *msg)
{
  GSocketAddress *a = soup_server_message_get_remote_address (msg);

  return G_IS_INET_SOCKET_ADDRESS (a) &&
         g_inet_address_get_is_loopback (
             g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (a)));
}

static const struct {
  const gchar *name;
  RdtFaultAction action;
} actions[] = {
  { "status", RDT_FAULT_STATUS }, { "garbage", RDT_FAULT_GARBAGE },
  { "truncate", RDT_FAULT_TRUNCATE }, { "drop", RDT_FAULT_DROP },
  { "delay", RDT_FAULT_DELAY }, { "tamper", RDT_FAULT_TAMPER },
};

static const gchar *tamper_modes[] = { "data", "signature", "sender",
                                       "reorder", "drop", "insert", "omit",
                                       NULL };

/* NULL and *error set on a bad description. */
static Rule *
rule_parse (GBytes *body, const gchar **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len;
  const gchar *data = g_bytes_get_data (body, &len);
  JsonObject *o;
  const gchar *action;
  Rule *r;
  gboolean found = FALSE;

  if (!data || !json_parser_load_from_data (parser, data, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      *error = "fault: a JSON object expected";
      return NULL;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  action = json_object_get_string_member_with_default (o, "action", "");
  r = g_new0 (Rule, 1);
  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    if (strcmp (action, actions[i].name) == 0)
      {
        r->fault.action = actions[i].action;
        found = TRUE;
      }
  r->path = g_strdup (json_object_get_string_member_with_default (o, "path", ""));
  r->method = g_strdup (json_object_get_string_member_with_default (o, "method", NULL));
  r->caller = g_strdup (json_object_get_string_member_with_default (o, "caller", NULL));
  r->remaining = (gint) json_object_get_int_member_with_default (o, "count", -1);
  r->fault.status = (guint) json_object_get_int_member_with_default (o, "status", 500);
  r->fault.delay_ms = (guint) json_object_get_int_member_with_default (o, "delay_ms", 1000);
  r->fault.mode = g_strdup (json_object_get_string_member_with_default (o, "mode", "data"));
  r->fault.hash = g_strdup (json_object_get_string_member_with_default (o, "hash", NULL));
  if (!found)
    *error = "fault: unknown action";
  else if (r->fault.status < 100 || r->fault.status > 599)
    *error = "fault: bad status";
  else if (!g_strv_contains (tamper_modes, r->fault.mode))
    *error = "fault: unknown tamper mode";
  else if (strcmp (r->fault.mode, "omit") == 0 && r->fault.hash == NULL)
    *error = "fault: omit needs a hash";
  else
    return r;
  rule_free (r);
  return NULL;
}

gboolean
rdt_srv_faults_control (SoupServerMessage *msg, const gchar *path)
{
  const gchar *method = soup_server_message_get_method (msg);

  if (!g_str_has_prefix (path, "/_control/"))
    return FALSE;
  if (!from_loopback (msg))
    reply_text (msg, 403, "{\"detail\":\"control endpoint is loopback only\"}");
  else if (strcmp (path, "/_control/faults") != 0)
    reply_text (msg, 404, "{\"detail\":\"Not Found\"}");
  else if (strcmp (method, "DELETE") == 0)
    {
      g_ptr_array_set_size (rules, 0);
      soup_server_message_set_status (msg, 204, NULL);
    }
  else if (strcmp (method, "POST") == 0)
    {
      g_autoptr (GBytes) body = soup_message_body_flatten (
          soup_server_message_get_request_body (msg));
      g_autoptr (JsonParser) parser = json_parser_new ();
      const gchar *error = NULL;
      gsize len;
      const gchar *data = g_bytes_get_data (body, &len);

      /* close_websockets acts at once; everything else is a rule. */
      if (data && json_parser_load_from_data (parser, data, len, NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)) &&
          g_strcmp0 (json_object_get_string_member_with_default (
              json_node_get_object (json_parser_get_root (parser)), "action",
              ""), "close_websockets") == 0)
        {
          if (close_sockets_cb)
            close_sockets_cb ();
          reply_text (msg, 200, "{\"ok\":true}");
        }
      else
        {
          Rule *r = rule_parse (body, &error);

          if (r == NULL)
            {
              g_autofree gchar *d = g_strdup_printf ("{\"detail\":\"%s\"}", error);
              reply_text (msg, 400, d);
            }
          else
            {
              g_ptr_array_add (rules, r);
              reply_text (msg, 200, "{\"ok\":true}");
            }
        }
    }
  else
    reply_text (msg, 405, "{\"detail\":\"Method Not Allowed\"}");
  return TRUE;
}

RdtFault *
rdt_srv_faults_match (const gchar *method, const gchar *path,
                      const gchar *caller)
{
  for (guint i = 0; i < rules->len; i++)
    {
      Rule *r = g_ptr_array_index (rules, i);
      RdtFault *f;

      if (strstr (path, r->path) == NULL ||
          (r->method && g_ascii_strcasecmp (r->method, method) != 0) ||
          (r->caller && g_strcmp0 (r->caller, caller) != 0))
        continue;
      f = g_new0 (RdtFault, 1);
      *f = r->fault;
      f->mode = g_strdup (r->fault.mode);
      f->hash = g_strdup (r->fault.hash);
      if (r->remaining > 0 && --r->remaining == 0)
        g_ptr_array_remove_index (rules, i);
      return f;
    }
  return NULL;
}

void
rdt_srv_fault_free (RdtFault *fault)
{
  if (fault == NULL)
    return;
  g_free (fault->mode);
  g_free (fault->hash);
  g_free (fault);
}

void
rdt_srv_fault_answer (RdtFault *fault, SoupServerMessage *msg)
{
  switch (fault->action)
    {
    case RDT_FAULT_STATUS:
      {
        g_autofree gchar *d = g_strdup_printf (
            "{\"detail\":\"injected fault: status %u\"}", fault->status);
        reply_text (msg, fault->status, d);
      }
      break;
    case RDT_FAULT_GARBAGE:
      reply_text (msg, 200, "<html>this is not JSON}{");
      break;
    case RDT_FAULT_DROP:
      {
        /* Close without any answer, like a server dying mid-request. */
        GIOStream *s = soup_server_message_steal_connection (msg);

        if (s != NULL)
          {
            g_io_stream_close (s, NULL, NULL);
            g_object_unref (s);
          }
      }
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Member `name` of m with the character at `at` changed to another of the
 * base64 alphabet (an empty or short value gets "AAAA" instead). The result
 * is owned by the object (json_object_set_string_member copies). */
static const gchar *
altered (JsonObject *m, const gchar *name, gsize at)
{
  static gchar buf[256 * 1024];
  const gchar *v = json_object_get_string_member_with_default (m, name, "");
  gsize len = strlen (v);

  if (len <= at || len >= sizeof buf)
    return "AAAA";
  memcpy (buf, v, len + 1);
  buf[at] = buf[at] == 'A' ? 'B' : 'A';
  return buf;
}

/* A message list answer rewritten as the tamper mode says. */
static void
tamper_list (JsonArray *list, const gchar *mode, const gchar *hash)
{
  guint n = json_array_get_length (list);
  JsonObject *m;

  if (strcmp (mode, "omit") == 0)
    {
      /* A gap only a walk by hash can fill. */
      for (guint i = n; i > 0; i--)
        if (g_strcmp0 (json_object_get_string_member_with_default (
                json_array_get_object_element (list, i - 1), "message_hash",
                NULL), hash) == 0)
          json_array_remove_element (list, i - 1);
      return;
    }
  if (n == 0)
    return;
  m = json_array_get_object_element (list, n / 2);
  if (strcmp (mode, "data") == 0)
    {
      /* Another valid base64 string of the same length. */
      json_object_set_string_member (m, "data", altered (m, "data", 0));
    }
  else if (strcmp (mode, "signature") == 0)
    {
      json_object_set_string_member (m, "signature", altered (m, "signature", 2));
    }
  else if (strcmp (mode, "sender") == 0)
    {
      /* Another well-formed id (one base64url digit changed): the
       * signature no longer belongs to the claimed sender. */
      json_object_set_string_member (m, "sender", altered (m, "sender", 10));
    }
  else if (strcmp (mode, "reorder") == 0 && n >= 2)
    {
      /* Swap first and last: the order no longer follows the links. */
      g_autoptr (GPtrArray) nodes =
          g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (nodes, json_node_copy (json_array_get_element (list, i)));
      while (json_array_get_length (list) > 0)
        json_array_remove_element (list, 0);
      for (guint i = 0; i < n; i++)
        {
          guint from = i == 0 ? n - 1 : i == n - 1 ? 0 : i;
          json_array_add_element (list, json_node_copy (g_ptr_array_index (nodes, from)));
        }
    }
  else if (strcmp (mode, "drop") == 0 && n >= 3)
    json_array_remove_element (list, n / 2);
  else if (strcmp (mode, "insert") == 0)
    {
      /* A copy of a real message with other data: same sender, same
       * links, but the hash and signature cannot match. */
      JsonNode *extra = json_node_copy (json_array_get_element (list, n / 2));
      JsonObject *e = json_node_get_object (extra);

      json_object_set_string_member (e, "data", altered (e, "data", 0));
      json_array_add_element (list, extra);
    }
}

void
rdt_srv_fault_rewrite (RdtFault *fault, SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);

  if (fault->action == RDT_FAULT_TRUNCATE)
    {
      soup_message_body_truncate (body);
      soup_message_body_append (body, SOUP_MEMORY_COPY, data, len / 2);
      return;
    }
  if (fault->action == RDT_FAULT_TAMPER &&
      soup_server_message_get_status (msg) == 200 && data != NULL)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (JsonGenerator) gen = NULL;
      JsonNode *root;
      JsonObject *o;
      gchar *out;

      if (!json_parser_load_from_data (parser, data, len, NULL))
        return;
      root = json_parser_get_root (parser);
      if (!JSON_NODE_HOLDS_OBJECT (root))
        return;
      o = json_node_get_object (root);
      if (json_object_has_member (o, "messages"))
        tamper_list (json_object_get_array_member (o, "messages"), fault->mode,
                     fault->hash);
      else if (json_object_has_member (o, "message_hash") &&
               (strcmp (fault->mode, "data") == 0 ||
                strcmp (fault->mode, "signature") == 0 ||
                strcmp (fault->mode, "sender") == 0))
        {
          /* GET by hash: the same change on the one message (list-only
           * modes leave it alone, so a client can walk the real links). */
          JsonArray *one = json_array_new ();
          json_array_add_object_element (one, json_object_ref (o));
          tamper_list (one, fault->mode, NULL);
          json_array_unref (one);
        }
      else if (json_object_has_member (o, "signed_by") &&
               json_object_has_member (o, "signed_at"))
        {
          /* A data store entry (spec 11): sender means signed_by. */
          if (strcmp (fault->mode, "data") == 0)
            json_object_set_string_member (o, "data", altered (o, "data", 0));
          else if (strcmp (fault->mode, "signature") == 0)
            json_object_set_string_member (o, "signature", altered (o, "signature", 2));
          else if (strcmp (fault->mode, "sender") == 0)
            json_object_set_string_member (o, "signed_by", altered (o, "signed_by", 10));
        }
      gen = json_generator_new ();
      json_generator_set_root (gen, root);
      out = json_generator_to_data (gen, &len);
      soup_message_body_truncate (body);
      soup_message_body_append (body, SOUP_MEMORY_TAKE, out, len);
    }
}
