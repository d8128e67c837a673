/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relations.c - the conventions of replies, reactions, edits and deletes:
 * parse and encode. See relations.h; the aggregator is relations-fold.c. */
#include "config.h"
#include "relations.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "error.h"
#include "id.h"
#include "message.h"

static const gchar *const type_names[] = {
  RDT_RELATION_TYPE_REPLY, RDT_RELATION_TYPE_REACTION,
  RDT_RELATION_TYPE_EDIT, RDT_RELATION_TYPE_DELETE,
};

const gchar *
rdt_relation_type_name (RdtRelationKind kind)
{
  g_return_val_if_fail (kind <= RDT_RELATION_DELETE, NULL);
  return type_names[kind];
}

gboolean
rdt_relation_type_lookup (const gchar *type, RdtRelationKind *kind_out)
{
  for (guint i = 0; type && i < G_N_ELEMENTS (type_names); i++)
    if (strcmp (type, type_names[i]) == 0)
      {
        if (kind_out)
          *kind_out = (RdtRelationKind) i;
        return TRUE;
      }
  return FALSE;
}

void
rdt_relation_free (RdtRelation *rel)
{
  if (rel == NULL)
    return;
  g_free (rel->target);
  g_free (rel->text);
  g_free (rel->quote);
  g_free (rel->emoji);
  g_free (rel);
}

RdtRelation *
rdt_relation_copy (const RdtRelation *rel)
{
  RdtRelation *c;

  if (rel == NULL)
    return NULL;
  c = g_new0 (RdtRelation, 1);
  c->kind = rel->kind;
  c->target = g_strdup (rel->target);
  c->text = g_strdup (rel->text);
  c->quote = g_strdup (rel->quote);
  c->emoji = g_strdup (rel->emoji);
  c->remove = rel->remove;
  return c;
}

/* ---- field checks, shared by parse and encode ---- */

static gboolean
check_target (const gchar *target, GError **error)
{
  GError *e = NULL;

  if (target == NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The message names no target"));
      return FALSE;
    }
  if (!rdt_id_decode_typed (target, RDT_ID_MESSAGE, NULL, &e))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("The target is not a message id: %s"), e->message);
      g_error_free (e);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_text (const gchar *text, GError **error)
{
  gsize len = text ? strlen (text) : 0;

  if (len == 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The message has no text"));
      return FALSE;
    }
  if (len > RDT_RELATION_MAX_TEXT)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("The text is too long (%zu bytes, at most %d)"),
                   len, RDT_RELATION_MAX_TEXT);
      return FALSE;
    }
  if (!g_utf8_validate (text, len, NULL))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The text is not valid UTF-8"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_quote (const gchar *quote, GError **error)
{
  /* 4 bytes per character at most: cheap bound before counting. */
  if (strlen (quote) > 4 * RDT_RELATION_MAX_QUOTE_CHARS
      || !g_utf8_validate (quote, -1, NULL)
      || g_utf8_strlen (quote, -1) > RDT_RELATION_MAX_QUOTE_CHARS)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("The quote is longer than %d characters"),
                   RDT_RELATION_MAX_QUOTE_CHARS);
      return FALSE;
    }
  return TRUE;
}

gboolean
rdt_relation_check_emoji (const gchar *emoji, GError **error)
{
  gsize len = emoji ? strlen (emoji) : 0;
  guint chars = 0;

  if (len == 0 || len > RDT_RELATION_MAX_EMOJI_BYTES
      || !g_utf8_validate (emoji, len, NULL))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The reaction must be 1 to %d bytes of text"),
                   RDT_RELATION_MAX_EMOJI_BYTES);
      return FALSE;
    }
  for (const gchar *p = emoji; *p; p = g_utf8_next_char (p), chars++)
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      {
        g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                     _("The reaction contains control characters"));
        return FALSE;
      }
  if (chars > RDT_RELATION_MAX_EMOJI_CHARS)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The reaction is longer than %d characters"),
                   RDT_RELATION_MAX_EMOJI_CHARS);
      return FALSE;
    }
  return TRUE;
}

/* ---- parse ---- */

/* A member that must be a string if present. *out NULL when absent. */
static gboolean
get_string (JsonObject *obj, const gchar *name, const gchar **out,
            GError **error)
{
  JsonNode *n = json_object_get_member (obj, name);

  *out = NULL;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The member \"%s\" is not a string"), name);
      return FALSE;
    }
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
parse_object (RdtRelation *rel, JsonObject *obj, GError **error)
{
  const gchar *target, *text = NULL, *quote = NULL, *emoji = NULL;
  JsonNode *remove;

  if (!get_string (obj, "target", &target, error)
      || !check_target (target, error))
    return FALSE;
  rel->target = g_strdup (target);
  switch (rel->kind)
    {
    case RDT_RELATION_REPLY:
      if (!get_string (obj, "quote", &quote, error)
          || (quote && !check_quote (quote, error)))
        return FALSE;
      rel->quote = g_strdup (quote);
      G_GNUC_FALLTHROUGH;
    case RDT_RELATION_EDIT:
      if (!get_string (obj, "text", &text, error) || !check_text (text, error))
        return FALSE;
      rel->text = g_strdup (text);
      return TRUE;
    case RDT_RELATION_REACTION:
      if (!get_string (obj, "emoji", &emoji, error)
          || !rdt_relation_check_emoji (emoji, error))
        return FALSE;
      rel->emoji = g_strdup (emoji);
      remove = json_object_get_member (obj, "remove");
      if (remove != NULL
          && (!JSON_NODE_HOLDS_VALUE (remove)
              || json_node_get_value_type (remove) != G_TYPE_BOOLEAN))
        {
          g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                       _("The member \"%s\" is not true or false"), "remove");
          return FALSE;
        }
      rel->remove = remove && json_node_get_boolean (remove);
      return TRUE;
    case RDT_RELATION_DELETE:
    default:
      return TRUE;
    }
}

RdtRelation *
rdt_relation_parse (const gchar *type, GBytes *plain, GError **error)
{
  RdtRelationKind kind;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (RdtRelation) rel = NULL;
  GError *e = NULL;
  const gchar *p;
  gsize len;
  JsonNode *root;

  if (!rdt_relation_type_lookup (type, &kind))
    return NULL;
  p = plain ? g_bytes_get_data (plain, &len) : NULL;
  if (p == NULL)
    len = 0;
  if (len > RDT_MAX_PLAINTEXT)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("The %s message is too large"), type);
      return NULL;
    }
  if (len == 0 || !rdt_json_check_text (p, len, &e))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The %s message is not JSON text: %s"), type,
                   e ? e->message : _("empty"));
      g_clear_error (&e);
      return NULL;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, p, len, &e))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The %s message is not JSON: %s"), type, e->message);
      g_error_free (e);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The %s message is not a JSON object"), type);
      return NULL;
    }
  rel = g_new0 (RdtRelation, 1);
  rel->kind = kind;
  if (!parse_object (rel, json_node_get_object (root), &e))
    {
      g_set_error (error, e->domain, e->code, _("Bad %s message: %s"), type,
                   e->message);
      g_error_free (e);
      return NULL;
    }
  return g_steal_pointer (&rel);
}

/* ---- encode ---- */

static gchar *
finish (JsonBuilder *b, GError **error)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gchar *out;
  gsize len;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  g_object_unref (b);
  json_generator_set_root (gen, root);
  out = json_generator_to_data (gen, &len);
  /* Escaped control characters can make the JSON several times the text. */
  if (len > RDT_MAX_PLAINTEXT)
    {
      g_free (out);
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("The message is too long"));
      return NULL;
    }
  return out;
}

static JsonBuilder *
start (const gchar *target, GError **error)
{
  JsonBuilder *b;

  if (!check_target (target, error))
    return NULL;
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "target");
  json_builder_add_string_value (b, target);
  return b;
}

/* The first RDT_RELATION_MAX_QUOTE_CHARS characters of text, control
 * characters as spaces, "…" as the last one when cut. */
static gchar *
make_quote (const gchar *text)
{
  g_autofree gchar *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_new (NULL);
  const gchar *p = valid;
  guint n = 0;

  for (; *p && n < RDT_RELATION_MAX_QUOTE_CHARS; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (n == RDT_RELATION_MAX_QUOTE_CHARS - 1 && *g_utf8_next_char (p))
        c = 0x2026;
      else if (g_unichar_iscntrl (c))
        c = ' ';
      g_string_append_unichar (out, c);
      n++;
    }
  return g_string_free (out, FALSE);
}

gchar *
rdt_relation_encode_reply (const gchar *target, const gchar *text,
                           const gchar *target_text, GError **error)
{
  JsonBuilder *b;

  if (!check_text (text, error) || !(b = start (target, error)))
    return NULL;
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  if (target_text && *target_text)
    {
      g_autofree gchar *quote = make_quote (target_text);
      json_builder_set_member_name (b, "quote");
      json_builder_add_string_value (b, quote);
    }
  return finish (b, error);
}

gchar *
rdt_relation_encode_reaction (const gchar *target, const gchar *emoji,
                              gboolean remove, GError **error)
{
  JsonBuilder *b;

  if (!rdt_relation_check_emoji (emoji, error) || !(b = start (target, error)))
    return NULL;
  json_builder_set_member_name (b, "emoji");
  json_builder_add_string_value (b, emoji);
  if (remove)
    {
      json_builder_set_member_name (b, "remove");
      json_builder_add_boolean_value (b, TRUE);
    }
  return finish (b, error);
}

gchar *
rdt_relation_encode_edit (const gchar *target, const gchar *text,
                          GError **error)
{
  JsonBuilder *b;

  if (!check_text (text, error) || !(b = start (target, error)))
    return NULL;
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  return finish (b, error);
}

gchar *
rdt_relation_encode_delete (const gchar *target, GError **error)
{
  JsonBuilder *b = start (target, error);

  return b ? finish (b, error) : NULL;
}
