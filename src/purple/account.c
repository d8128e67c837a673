/* account.c - one PurpleAccount is one member of one space: the username
 * "<local name>@<space id>", the password is the member's private key seed,
 * the option "symmetric_root" the space's root. Login maps the account onto
 * an RdtSession; connection state follows the session's. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <connection.h>
#include <debug.h>

#include "api.h"
#include "crypto.h"
#include "error.h"
#include "id.h"

#include "rdt-purple.h"
#include "xfer.h"

static void
on_state_changed (RdtSession *session, RdtSessionState state,
                  const GError *error, gboolean fatal, gpointer user_data)
{
  RdtConn *rc = user_data;
  PurpleConnection *gc = rc->gc;

  switch (state)
    {
    case RDT_SESSION_CONNECTED:
      if (rc->was_connected)
        rdt_write_all_chats (rc, _("Reconnected."), PURPLE_MESSAGE_SYSTEM);
      rc->was_connected = TRUE;
      purple_connection_set_state (gc, PURPLE_CONNECTED);
      break;
    case RDT_SESSION_CONNECTING:
      if (rc->was_connected)
        {
          gchar *text;

          /* The session retries on its own (backoff): show it, but do not
           * raise a connection error that would make libpurple reconnect
           * on top of it. */
          if (purple_connection_get_state (gc) != PURPLE_CONNECTING)
            {
              text = g_strdup_printf (_("Connection lost (%s); reconnecting..."),
                                      error ? error->message : _("unknown error"));
              rdt_write_all_chats (rc, text, PURPLE_MESSAGE_SYSTEM);
              g_free (text);
            }
          purple_connection_set_state (gc, PURPLE_CONNECTING);
        }
      purple_connection_update_progress (gc, _("Connecting"), 1, 2);
      break;
    case RDT_SESSION_DISCONNECTED:
      if (fatal || error != NULL)
        {
          PurpleConnectionError reason = PURPLE_CONNECTION_ERROR_NETWORK_ERROR;

          if (error && error->domain == RDT_ERROR &&
              (error->code == RDT_ERROR_INVALID_ID ||
               error->code == RDT_ERROR_INVALID_KEY))
            reason = PURPLE_CONNECTION_ERROR_INVALID_SETTINGS;
          else if (fatal)
            reason = PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED;
          if (g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NOT_MEMBER))
            {
              /* The one thing the user can do about it: have an admin add
               * this key. The member id is public, not a secret. */
              gchar *text = g_strdup_printf (
                  _("This key is not a member of the space. Ask an admin "
                    "of the space to add the member id %s."),
                  rdt_session_get_member_id (session));

              purple_connection_error_reason (gc, reason, text);
              g_free (text);
              break;
            }
          purple_connection_error_reason (gc, reason,
                                          error ? error->message
                                                : _("Disconnected"));
        }
      break;
    }
}

static const RdtSessionCallbacks rdt_callbacks = {
  .state_changed = on_state_changed,
  .topic_opened = rdt_chat_on_topic_opened,
  .message = rdt_chat_on_message,
  .warning = rdt_chat_on_warning,
  .send_done = rdt_chat_on_send_done,
  .head_changed = rdt_chat_on_head_changed,
};

/* ---- account ---- */

/* Splits "<local>@<space id>" at the last '@'. */
static gboolean
split_username (const gchar *username, gchar **space_out)
{
  const gchar *at = username ? strrchr (username, '@') : NULL;

  if (at == NULL || at == username)
    return FALSE;
  *space_out = g_strdup (at + 1);
  return TRUE;
}

void
rdt_login (PurpleAccount *account)
{
  PurpleConnection *gc = purple_account_get_connection (account);
  guint8 seed[32], root[32];
  gchar *space = NULL;
  const gchar *server, *root_text, *password;
  GError *error = NULL;
  RdtConn *rc;
  RdtSession *session;

  if (!split_username (purple_account_get_username (account), &space) ||
      !rdt_id_is_valid (space, RDT_ID_SPACE))
    {
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS,
          _("The username must be <name>@<space id>, with a valid space id (S...)."));
      g_free (space);
      return;
    }
  password = purple_account_get_password (account);
  if (!rdt_parse_key32 (password ? password : "", seed, &error))
    {
      gchar *m = g_strdup_printf (_("Invalid private key (password): %s"),
                                  error->message);
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS, m);
      g_free (m);
      g_clear_error (&error);
      g_free (space);
      return;
    }
  root_text = purple_account_get_string (account, "symmetric_root", "");
  if (!rdt_parse_key32 (root_text ? root_text : "", root, &error))
    {
      gchar *m = g_strdup_printf (_("Invalid symmetric root: %s"),
                                  error->message);
      rdt_wipe (seed, sizeof seed);
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS, m);
      g_free (m);
      g_clear_error (&error);
      g_free (space);
      return;
    }
  server = purple_account_get_string (account, "server", RDT_DEFAULT_SERVER);
  session = rdt_session_new (server, space, seed, root, &error);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);
  g_free (space);
  if (session == NULL)
    {
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS,
                                      error->message);
      g_clear_error (&error);
      return;
    }

  rc = g_new0 (RdtConn, 1);
  rc->gc = gc;
  rc->session = session;
  rc->topic_to_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rc->id_to_topic = g_hash_table_new (g_direct_hash, g_direct_equal);
  rc->pending_text = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                            g_free, g_free);
  rc->last_failed = g_hash_table_new_full (g_str_hash, g_str_equal,
                                           g_free, g_free);
  rc->next_chat_id = 1;
  rc->nick = rdt_id_short (rdt_session_get_member_id (session));
  purple_connection_set_protocol_data (gc, rc);

  rdt_session_set_callbacks (session, &rdt_callbacks, rc);
  purple_connection_set_state (gc, PURPLE_CONNECTING);
  purple_connection_update_progress (gc, _("Connecting"), 0, 2);
  rdt_session_connect (session);
}

void
rdt_close (PurpleConnection *gc)
{
  RdtConn *rc = rdt_conn_of (gc);

  if (rc == NULL)
    return;
  purple_connection_set_protocol_data (gc, NULL);
  rdt_xfer_conn_free (rc);           /* cancels transfers first */
  rdt_session_free (rc->session);   /* no callback runs after this */
  g_hash_table_destroy (rc->topic_to_id);
  g_hash_table_destroy (rc->id_to_topic);
  g_hash_table_destroy (rc->pending_text);
  g_hash_table_destroy (rc->last_failed);
  g_free (rc->nick);
  g_free (rc);
}
