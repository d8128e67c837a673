/* SPDX-License-Identifier: GPL-2.0-or-later */
/* display.c - see display.h. */
#include "config.h"
#include "display.h"

#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "message.h"

/* The string member `name` of a JSON object payload, or NULL. */
static gchar *
json_string_member (const gchar *p, gsize len, const gchar *name)
{
  gchar *out = NULL;
  JsonParser *parser;

  if (len == 0 || p[0] != '{' || !rdt_json_check_text (p, len, NULL))
    return NULL;
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, p, len, NULL))
    {
      JsonNode *root = json_parser_get_root (parser);
      if (JSON_NODE_HOLDS_OBJECT (root))
        {
          JsonNode *n = json_object_get_member (json_node_get_object (root),
                                                name);
          if (n && JSON_NODE_HOLDS_VALUE (n)
              && json_node_get_value_type (n) == G_TYPE_STRING)
            out = g_strdup (json_node_get_string (n));
        }
    }
  g_object_unref (parser);
  return out;
}

/* A short one-line label from hostile text: valid UTF-8, control
 * characters replaced, at most max_chars characters. */
static gchar *
clean_label (const gchar *in, glong max_chars)
{
  gchar *valid = g_utf8_make_valid (in ? in : "?", -1);
  GString *out = g_string_new (NULL);
  const gchar *p = valid;
  glong n = 0;

  for (; *p && n < max_chars; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }
  if (*p)
    g_string_append (out, "\xe2\x80\xa6");   /* cut: U+2026 */
  g_free (valid);
  return g_string_free (out, FALSE);
}

/* Display text of a message that is not chat.text: its "text" member if
 * it has one, else a short placeholder naming the type (and the file name
 * of an attachment), so the user sees that something arrived. */
static gchar *
display_other (const gchar *type, GBytes *plain)
{
  gsize len;
  const gchar *p = g_bytes_get_data (plain, &len);
  gchar *t = json_string_member (p, len, "text");
  gchar *safe_type, *name, *out;

  if (t)
    return t;
  safe_type = clean_label (type, 40);
  name = json_string_member (p, len, "filename");
  if (name)
    {
      gchar *safe_name = clean_label (name, 120);
      out = g_strdup_printf ("[%s: %s]", safe_type, safe_name);
      g_free (safe_name);
    }
  else
    /* Translators: placeholder for a message of an unknown type: its type
     * and its size. */
    out = g_strdup_printf (_("[%s, %zu bytes]"), safe_type, len);
  g_free (name);
  g_free (safe_type);
  return out;
}

/* Spec 9: a JSON object with a string "text", else the bytes as UTF-8.
 * Invalid UTF-8 is repaired with U+FFFD and still shown: the message is
 * verified, only its encoding is odd. */
static gchar *
display_text (GBytes *plain)
{
  gsize len;
  const gchar *p = g_bytes_get_data (plain, &len);
  gchar *text = NULL;

  if (len > 0 && p[0] == '{' && rdt_json_check_text (p, len, NULL))
    {
      JsonParser *parser = json_parser_new ();
      if (json_parser_load_from_data (parser, p, len, NULL))
        {
          JsonNode *root = json_parser_get_root (parser);
          if (JSON_NODE_HOLDS_OBJECT (root))
            {
              JsonNode *n = json_object_get_member (json_node_get_object (root),
                                                    "text");
              if (n && JSON_NODE_HOLDS_VALUE (n)
                  && json_node_get_value_type (n) == G_TYPE_STRING)
                text = g_strdup (json_node_get_string (n));
            }
        }
      g_object_unref (parser);
    }
  if (text == NULL)
    text = g_utf8_make_valid (p ? p : "", len);
  return text;
}


gchar *
rdt_display_text (const gchar *type, GBytes *plain)
{
  return g_strcmp0 (type, "chat.text") == 0 ? display_text (plain)
                                            : display_other (type, plain);
}
