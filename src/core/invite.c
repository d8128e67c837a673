/* SPDX-License-Identifier: GPL-2.0-or-later */
/* invite.c - the pasteable invitation string, see invite.h. */
#include "config.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "invite.h"

#define MAX_URL_LENGTH 512

static gboolean
check_server_url (const gchar *url, GError **error)
{
  g_autoptr(GUri) uri = NULL;
  const gchar *scheme;

  if (strlen (url) > MAX_URL_LENGTH)
    goto bad;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL)
    goto bad;
  scheme = g_uri_get_scheme (uri);
  if (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)
    goto bad;
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0'
      || g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL
      || g_uri_get_fragment (uri) != NULL)
    goto bad;
  return TRUE;

bad:
  g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
               _("The invitation's server address is not a plain "
                 "http(s) URL"));
  return FALSE;
}

gchar *
rdt_invite_encode (const gchar *server_url, const gchar *space_id,
                   const guint8 root[32], const guint8 tool_seed[32],
                   GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  gchar *root_b64, *tool_b64, *json, *payload, *out;

  g_return_val_if_fail (server_url && space_id && root && tool_seed, NULL);
  if (!check_server_url (server_url, error))
    return NULL;
  if (!rdt_id_is_valid (space_id, RDT_ID_SPACE))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("Not a valid space id"));
      return NULL;
    }

  root_b64 = rdt_base64url_encode (root, 32);
  tool_b64 = rdt_base64url_encode (tool_seed, 32);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "server");
  json_builder_add_string_value (b, server_url);
  json_builder_set_member_name (b, "space");
  json_builder_add_string_value (b, space_id);
  json_builder_set_member_name (b, "root");
  json_builder_add_string_value (b, root_b64);
  json_builder_set_member_name (b, "tool");
  json_builder_add_string_value (b, tool_b64);
  json_builder_end_object (b);
  rdt_wipe (root_b64, strlen (root_b64));
  rdt_wipe (tool_b64, strlen (tool_b64));
  g_free (root_b64);
  g_free (tool_b64);

  node = json_builder_get_root (b);
  json = json_to_string (node, FALSE);
  payload = rdt_base64url_encode ((const guint8 *) json, strlen (json));
  rdt_secret_string_free (json);
  out = g_strconcat (RDT_INVITE_PREFIX, payload, NULL);
  rdt_secret_string_free (payload);
  /* json-glib's node still holds the encoded keys: wipe them too. */
  {
    JsonObject *o = json_node_get_object (node);
    gchar *s;
    s = (gchar *) json_object_get_string_member (o, "root");
    rdt_wipe (s, strlen (s));
    s = (gchar *) json_object_get_string_member (o, "tool");
    rdt_wipe (s, strlen (s));
  }
  if (strlen (out) > RDT_INVITE_MAX_LENGTH)
    {
      rdt_secret_string_free (out);
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("The invitation would be too long"));
      return NULL;
    }
  return out;
}

static const gchar *
get_string (JsonObject *o, const gchar *name, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The invitation has no valid \"%s\" field"), name);
      return NULL;
    }
  return json_node_get_string (n);
}

static guint8 *
get_key (JsonObject *o, const gchar *name, GError **error)
{
  const gchar *text = get_string (o, name, error);
  guint8 *raw, *secret;
  gsize len = 0;

  if (text == NULL)
    return NULL;
  raw = rdt_base64url_decode (text, 32, &len, NULL);
  if (raw == NULL || len != 32)
    {
      if (raw != NULL)
        rdt_wipe (raw, len);   /* the wrong length may still be key bytes */
      g_free (raw);
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_KEY,
                   _("The invitation's \"%s\" key is not 32 bytes of "
                     "base64url"),
                   name);
      return NULL;
    }
  secret = rdt_secret_alloc (32);
  memcpy (secret, raw, 32);
  rdt_wipe (raw, 32);
  g_free (raw);
  return secret;
}

/* json-glib keeps its own copy of every string value: wipe the base64 of
 * the two keys before the parser frees them, on every path. (Its scanner
 * also frees a token copy of each string while parsing, which no json-glib
 * API lets us wipe; only a parser of our own would avoid that.) */
static void
wipe_parsed_keys (JsonParser *parser)
{
  static const gchar *const keys[] = { "root", "tool" };
  JsonNode *root = parser ? json_parser_get_root (parser) : NULL;
  JsonObject *o;

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  o = json_node_get_object (root);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      JsonNode *n = json_object_get_member (o, keys[i]);
      gchar *k;

      if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) ||
          json_node_get_value_type (n) != G_TYPE_STRING)
        continue;
      k = (gchar *) json_node_get_string (n);
      rdt_wipe (k, strlen (k));
    }
}

RdtInvite *
rdt_invite_parse (const gchar *text, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(RdtInvite) inv = NULL;
  gchar *copy = NULL, *body;
  guint8 *json = NULL;
  gsize json_len = 0;
  JsonNode *root;
  JsonObject *o;
  const gchar *s;
  gboolean ok;

  g_return_val_if_fail (text != NULL, NULL);
  if (strnlen (text, RDT_INVITE_MAX_LENGTH + 256) > RDT_INVITE_MAX_LENGTH + 255)
    goto too_long;
  copy = g_strstrip (g_strdup (text));
  if (strlen (copy) > RDT_INVITE_MAX_LENGTH)
    goto too_long;
  if (!g_str_has_prefix (copy, RDT_INVITE_PREFIX))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("This is not a reeeductio invitation (it should start "
                     "with \"%s\")"),
                   RDT_INVITE_PREFIX);
      goto out;
    }
  body = copy + strlen (RDT_INVITE_PREFIX);
  json = rdt_base64url_decode (body, -1, &json_len, NULL);
  if (json == NULL || json_len == 0 || memchr (json, '\0', json_len) != NULL)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The invitation is damaged (bad encoding); copy it "
                     "again in full"));
      goto out;
    }

  parser = json_parser_new ();
  ok = json_parser_load_from_data (parser, (const gchar *) json, json_len, NULL);
  root = ok ? json_parser_get_root (parser) : NULL;
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The invitation is damaged (not a JSON object)"));
      goto out;
    }
  o = json_node_get_object (root);
  if (json_object_get_size (o) != 4)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The invitation has unexpected fields"));
      goto out;
    }

  inv = g_new0 (RdtInvite, 1);
  if ((s = get_string (o, "server", error)) == NULL
      || !check_server_url (s, error))
    goto out;
  inv->server_url = g_strdup (s);
  if ((s = get_string (o, "space", error)) == NULL)
    goto out;
  if (!rdt_id_is_valid (s, RDT_ID_SPACE))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("The invitation's space id is not valid"));
      goto out;
    }
  inv->space_id = g_strdup (s);
  if ((inv->root = get_key (o, "root", error)) == NULL
      || (inv->tool_seed = get_key (o, "tool", error)) == NULL)
    goto out;

  wipe_parsed_keys (parser);
  rdt_wipe (json, json_len);
  g_free (json);
  rdt_secret_string_free (copy);
  return g_steal_pointer (&inv);

too_long:
  g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
               _("The invitation is too long"));
out:
  wipe_parsed_keys (parser);
  if (json)
    rdt_wipe (json, json_len);
  g_free (json);
  rdt_secret_string_free (copy);
  return NULL;
}

void
rdt_invite_free (RdtInvite *invite)
{
  if (invite == NULL)
    return;
  g_free (invite->server_url);
  g_free (invite->space_id);
  rdt_secret_free (invite->root);
  rdt_secret_free (invite->tool_seed);
  g_free (invite);
}
