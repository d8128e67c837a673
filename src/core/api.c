/* SPDX-License-Identifier: GPL-2.0-or-later */
/* api.c - asynchronous client for the reeeductio HTTP API (libsoup 3): the
 * RdtApi object, its getters and the token it holds.
 *
 * The client is split in files sharing api-private.h:
 * - api-call.c: one request (RdtApiCall): one HTTP exchange, body read
 *   into memory with a hard size bound, non-2xx answers turned into
 *   RDT_API_ERROR GErrors with the server's `detail`. Requests that need a
 *   token make sure one is fresh first, and re-authenticate once and retry
 *   when the server says the token is bad (401 mentioning the token, or 500
 *   from a blob endpoint, spec 6.3). Beside it the login (spec 6.1/6.2,
 *   15.2): challenge, sign the challenge *string*, verify. Only one runs at
 *   a time: the server keeps a single outstanding challenge per key, so a
 *   second challenge would invalidate the first. Everyone who needs a token
 *   waits for the one in flight;
 * - api-parse.c: strict parsing of answers, error details;
 * - api-messages.c, api-blobs.c: the endpoints.
 *
 * The token lives in sodium secret memory and is wiped when replaced; it is
 * never logged (neither is the stream URL that carries it).
 */
#include "config.h"
#include "api-private.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "encoding.h"
#include "id.h"

#define DEFAULT_TIMEOUT_S   30
/* Re-authenticate this long before the token expires (or at half its
 * lifetime for short-lived tokens, so a 2 s test token is still used). */
#define REFRESH_MARGIN_MS   G_GINT64_CONSTANT (60000)

G_DEFINE_QUARK (rdt-api-error-quark, rdt_api_error)

G_DEFINE_FINAL_TYPE (RdtApi, rdt_api, G_TYPE_OBJECT)

/* ------------------------------------------------------------------ */
/* Token storage */

void
rdt_api_token_set (RdtApi *api, const gchar *token, gint64 expires_at)
{
  gsize len = strlen (token);
  gint64 now = g_get_real_time () / 1000;
  gint64 lifetime = expires_at - now;
  gint64 margin;

  if (api->token != NULL)
    rdt_secret_free (api->token);
  api->token = rdt_secret_alloc (len + 1);
  memcpy (api->token, token, len + 1);
  api->token_expiry = expires_at;
  margin = MIN (REFRESH_MARGIN_MS, MAX (lifetime, 0) / 2);
  api->token_refresh_at = expires_at - margin;
  api->token_serial++;
}

void
rdt_api_clear_token (RdtApi *api)
{
  g_return_if_fail (RDT_IS_API (api));

  if (api->token != NULL)
    {
      rdt_secret_free (api->token);
      api->token = NULL;
      api->token_serial++;
    }
  api->token_expiry = 0;
  api->token_refresh_at = 0;
}

gboolean
rdt_api_has_token (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), FALSE);
  return api->token != NULL;
}

gint64
rdt_api_get_token_expiry (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), 0);
  return api->token != NULL ? api->token_expiry : 0;
}

gboolean
rdt_api_token_is_fresh (RdtApi *api)
{
  return api->token != NULL
         && g_get_real_time () / 1000 < api->token_refresh_at;
}

/* ------------------------------------------------------------------ */
/* GObject */

static void
rdt_api_finalize (GObject *object)
{
  RdtApi *api = RDT_API (object);

  /* Waiters hold a ref on us (task source), so the queue is empty here. */
  g_warn_if_fail (g_queue_is_empty (&api->auth_waiters));
  if (api->session != NULL)
    soup_session_abort (api->session);
  g_clear_object (&api->session);
  if (api->token != NULL)
    rdt_secret_free (api->token);
  api->token = NULL;
  g_clear_pointer (&api->key, rdt_signing_key_free);
  g_free (api->base_url);
  g_free (api->space_id);
  g_free (api->member_id);

  G_OBJECT_CLASS (rdt_api_parent_class)->finalize (object);
}

static void
rdt_api_class_init (RdtApiClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rdt_api_finalize;
}

static void
rdt_api_init (RdtApi *api)
{
  g_queue_init (&api->auth_waiters);
  api->timeout_s = DEFAULT_TIMEOUT_S;
}

RdtApi *
rdt_api_new (const gchar *base_url, const gchar *space_id,
             const RdtSigningKey *key, RdtIdType as_type, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local = NULL;
  RdtApi *api;
  const gchar *scheme;
  guint8 seed[RDT_SEED_LENGTH];
  gsize len;

  g_return_val_if_fail (base_url != NULL, NULL);
  g_return_val_if_fail (space_id != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (as_type == RDT_ID_USER || as_type == RDT_ID_TOOL,
                        NULL);

  uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, &local);
  if (uri == NULL)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                   _("Invalid server URL: %s"), local->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if ((g_ascii_strcasecmp (scheme, "http") != 0
       && g_ascii_strcasecmp (scheme, "https") != 0)
      || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0'
      || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL
      || g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                   _("Invalid server URL: expected http:// or https:// and "
                     "a host"));
      return NULL;
    }
  if (!rdt_id_decode_typed (space_id, RDT_ID_SPACE, NULL, &local))
    {
      g_set_error (error, RDT_API_ERROR, RDT_API_ERROR_INVALID,
                   _("Invalid space id: %s"), local->message);
      return NULL;
    }

  api = g_object_new (RDT_TYPE_API, NULL);
  api->base_url = g_strdup (base_url);
  len = strlen (api->base_url);
  while (len > 0 && api->base_url[len - 1] == '/')
    api->base_url[--len] = '\0';
  api->space_id = g_strdup (space_id);
  rdt_signing_key_copy_seed (key, seed);
  api->key = rdt_signing_key_new_from_seed (seed);
  rdt_wipe (seed, sizeof seed);
  api->member_id = rdt_signing_key_get_id (api->key, as_type);
  api->session = soup_session_new_with_options (
      "timeout", api->timeout_s,
      "idle-timeout", 60,
      "max-conns-per-host", 6,
      "user-agent", "purple-reeeductio/" PACKAGE_VERSION " ",
      NULL);
  /* Bearer tokens are ours to manage: keep libsoup's HTTP auth out of the
   * way of 401 answers. */
  soup_session_remove_feature_by_type (api->session, SOUP_TYPE_AUTH_MANAGER);
  return api;
}

const gchar *
rdt_api_get_base_url (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->base_url;
}

const gchar *
rdt_api_get_space_id (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->space_id;
}

const gchar *
rdt_api_get_member_id (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->member_id;
}

const RdtSigningKey *
rdt_api_get_signing_key (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->key;
}

SoupSession *
rdt_api_get_soup_session (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), NULL);
  return api->session;
}

void
rdt_api_set_timeout (RdtApi *api, guint seconds)
{
  g_return_if_fail (RDT_IS_API (api));
  api->timeout_s = seconds;
  soup_session_set_timeout (api->session, seconds);
}

guint
rdt_api_get_timeout (RdtApi *api)
{
  g_return_val_if_fail (RDT_IS_API (api), 0);
  return api->timeout_s;
}

gchar *
rdt_api_build_stream_url (RdtApi *api)
{
  const gchar *rest;
  const gchar *ws;

  g_return_val_if_fail (RDT_IS_API (api), NULL);
  if (api->token == NULL)
    return NULL;
  if (g_ascii_strncasecmp (api->base_url, "https:", 6) == 0)
    {
      ws = "wss:";
      rest = api->base_url + 6;
    }
  else
    {
      ws = "ws:";
      rest = api->base_url + 5;   /* "http:" checked in rdt_api_new */
    }
  /* The token was checked to be base64url + '.', all unreserved. */
  return g_strconcat (ws, rest, "/spaces/", api->space_id, "/stream?token=",
                      api->token, NULL);
}
