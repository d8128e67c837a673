/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jwt.c - see jwt.h. */
#include <string.h>
#include <json-glib/json-glib.h>
#include "crypto.h"
#include "encoding.h"
#include "jwt.h"

static guint8 jwt_secret[32];
static gint token_ttl = 86400;

void
rdt_srv_jwt_init (gint ttl_s)
{
  rdt_random_bytes (jwt_secret, sizeof jwt_secret);
  token_ttl = ttl_s;
}

static gchar *
b64url (const guint8 *d, gsize n)
{
  return rdt_base64url_encode (d, n);
}

static gchar *
hmac_b64url (const gchar *input)
{
  guint8 digest[32];
  gsize len = sizeof digest;
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, jwt_secret, sizeof jwt_secret);
  g_hmac_update (h, (const guchar *) input, strlen (input));
  g_hmac_get_digest (h, digest, &len);
  g_hmac_unref (h);
  return b64url (digest, len);
}

gchar *
rdt_srv_jwt_issue (const gchar *space_id, const gchar *id, gint64 *exp_out)
{
  const gchar *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  gint64 iat = g_get_real_time () / G_USEC_PER_SEC;
  gint64 exp = iat + token_ttl;
  g_autofree gchar *payload = g_strdup_printf (
      "{\"space_id\":\"%s\",\"id\":\"%s\",\"iat\":%" G_GINT64_FORMAT
      ",\"exp\":%" G_GINT64_FORMAT "}", space_id, id, iat, exp);
  g_autofree gchar *h64 = b64url ((const guint8 *) header, strlen (header));
  g_autofree gchar *p64 = b64url ((const guint8 *) payload, strlen (payload));
  g_autofree gchar *signing = g_strconcat (h64, ".", p64, NULL);
  g_autofree gchar *sig = hmac_b64url (signing);
  *exp_out = exp;
  return g_strconcat (signing, ".", sig, NULL);
}

/* Returns the id in the token, or NULL with *detail set to the upstream
 * detail text ("Invalid token", "Token expired", "Token space mismatch"). */
gchar *
rdt_srv_jwt_check (const gchar *token, const gchar *space_id, const gchar **detail)
{
  gchar **parts;
  g_autofree gchar *signing = NULL, *sig = NULL;
  g_autofree guint8 *payload = NULL;
  gsize plen = 0;
  JsonParser *parser;
  JsonObject *obj;
  gchar *id = NULL;

  *detail = "Invalid token";
  if (!token)
    return NULL;
  parts = g_strsplit (token, ".", -1);
  if (g_strv_length (parts) != 3)
    {
      g_strfreev (parts);
      return NULL;
    }
  signing = g_strconcat (parts[0], ".", parts[1], NULL);
  sig = hmac_b64url (signing);
  if (strcmp (sig, parts[2]) != 0)
    {
      g_strfreev (parts);
      return NULL;
    }
  payload = rdt_base64url_decode (parts[1], -1, &plen, NULL);
  g_strfreev (parts);
  if (!payload)
    return NULL;
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, (const gchar *) payload, plen, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      obj = json_node_get_object (json_parser_get_root (parser));
      gint64 exp = json_object_get_int_member_with_default (obj, "exp", 0);
      const gchar *sid = json_object_get_string_member_with_default (obj, "space_id", "");
      const gchar *tid = json_object_get_string_member_with_default (obj, "id", NULL);
      if (exp <= g_get_real_time () / G_USEC_PER_SEC)
        *detail = "Token expired";
      else if (g_strcmp0 (sid, space_id) != 0)
        *detail = "Token space mismatch";
      else if (tid)
        id = g_strdup (tid);
    }
  g_object_unref (parser);
  return id;
}
