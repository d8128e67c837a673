/* SPDX-License-Identifier: GPL-2.0-or-later */
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
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "invite.h"
#include "membership.h"

#include "events.h"
#include "members.h"
#include "rdt-purple.h"
#include "relations-ui.h"
#include "setup.h"
#include "keys.h"
#include "keystore.h"
#include "transcript.h"
#include "unread.h"
#include "xfer.h"

/* What the chats say while the session reconnects: the error and when the
 * next try is. The first loss is said at once; while it lasts, a "still
 * offline" line each time the outage has doubled in length (from 30 s),
 * so that a long outage does not fill the chats. */
static void
say_offline (RdtConn *rc, RdtSession *session, const GError *error)
{
  gint64 now = g_get_monotonic_time (), next = rdt_session_get_next_try (session);
  const gchar *why = error ? error->message : _("unknown error");
  guint secs = next < 0 ? 0 : (guint) ((next + 999) / 1000);
  gchar *when, *text;

  if (rc->offline_since != 0)
    {
      gint64 out = now - rc->offline_since;

      if (out < 30 * G_USEC_PER_SEC
          || out < 2 * (rc->offline_noted - rc->offline_since))
        return;
    }
  if (next < 0)
    when = g_strdup (_("reconnecting now"));
  else if (rdt_session_is_probing (session))
    when = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
        "next try in %u s, sooner when the server answers again",
        "next try in %u s, sooner when the server answers again", secs), secs);
  else
    when = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
        "next try in %u s", "next try in %u s", secs), secs);
  if (rc->offline_since == 0)
    {
      rc->offline_since = now;
      /* Translators: the error, then when the next try is. */
      text = g_strdup_printf (_("Connection lost (%s); %s. Type /reconnect to "
                                "try now. Messages you type are sent when the "
                                "connection is back."), why, when);
    }
  else
    text = g_strdup_printf (_("Still offline (%s); %s. Type /reconnect to try "
                              "now."), why, when);
  rc->offline_noted = now;
  rdt_write_all_chats (rc, text, PURPLE_MESSAGE_SYSTEM);
  g_free (text);
  g_free (when);
}

/* libpurple's connection stays CONNECTED while the session reconnects by
 * itself (HACKING.md, "Outages"): the chats stay open and usable, and what
 * is typed meanwhile is queued by the session and sent once it is back.
 * Only a lasting failure (fatal: not a member, unknown space, refused
 * key) becomes a libpurple connection error. */
static void
on_state_changed (RdtSession *session, RdtSessionState state,
                  const GError *error, gboolean fatal, gpointer user_data)
{
  RdtConn *rc = user_data;
  PurpleConnection *gc = rc->gc;

  switch (state)
    {
    case RDT_SESSION_CONNECTED:
      if (rc->offline_since != 0)
        rdt_write_all_chats (rc, _("Reconnected."), PURPLE_MESSAGE_SYSTEM);
      rc->offline_since = rc->offline_noted = 0;
      rc->was_connected = TRUE;
      if (purple_connection_get_state (gc) != PURPLE_CONNECTED)
        purple_connection_set_state (gc, PURPLE_CONNECTED);
      rdt_xfer_on_connected (rc);
      rdt_members_on_connected (rc);
      break;
    case RDT_SESSION_CONNECTING:
      if (rc->was_connected)
        say_offline (rc, session, error);
      else
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
  .topic_seen = rdt_members_on_topic_seen,
  .state_message = rdt_members_on_state_message,
  .topic_unread = rdt_chat_on_topic_unread,
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

/* ---- joining with an invitation (spec 8.4, docs/conventions.md) ---- */

/* Account setting that holds an invitation until it is redeemed, so a
 * login interrupted between "key generated" and "member added" can finish
 * the job with the same key. Holds secrets, like the password does. */
#define PENDING_INVITATION "pending_invitation"

typedef struct {
  PurpleConnection *gc;
  GCancellable *cancel;
} Join;

static GHashTable *joins;   /* gc -> Join, while an invitation is redeemed */

static void login_as_member (PurpleAccount *account);

/* The pasted invitation becomes the account's settings: a fresh member
 * key as password, the space, server and root from the invitation. */
static gboolean
adopt_invitation (PurpleAccount *account, const gchar *text, GError **error)
{
  g_autoptr (RdtInvite) invite = rdt_invite_parse (text, error);
  g_autoptr (RdtSigningKey) key = NULL;
  const gchar *username = purple_account_get_username (account), *at;
  g_autofree gchar *local = NULL, *new_username = NULL;
  gchar *seed_hex, *root_hex, *pending;
  guint8 seed[RDT_SEED_LENGTH];

  if (invite == NULL)
    return FALSE;
  at = username ? strrchr (username, '@') : NULL;
  local = at ? g_strndup (username, at - username) : g_strdup (username ? username : "");
  if (*local == '\0')
    {
      g_free (local);
      local = g_strdup ("me");
    }
  key = rdt_signing_key_generate ();
  rdt_signing_key_copy_seed (key, seed);
  seed_hex = rdt_hex_encode (seed, sizeof seed);
  rdt_wipe (seed, sizeof seed);
  root_hex = rdt_hex_encode (invite->root, 32);
  pending = g_strdup (text);   /* before the password it lives in changes */
  new_username = g_strconcat (local, "@", invite->space_id, NULL);
  purple_account_set_username (account, new_username);
  purple_account_set_string (account, "server", invite->server_url);
  purple_account_set_string (account, "symmetric_root", root_hex);
  purple_account_set_string (account, PENDING_INVITATION, g_strstrip (pending));
  purple_account_set_password (account, seed_hex);
  purple_account_set_remember_password (account, TRUE);
  rdt_secret_string_free (pending);
  rdt_secret_string_free (seed_hex);
  rdt_secret_string_free (root_hex);
  return TRUE;
}

static void
on_redeemed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Join *j = user_data;
  g_autoptr (GError) error = NULL;
  PurpleConnection *gc;
  PurpleAccount *account;

  rdt_membership_redeem_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (j->cancel);
      g_free (j);      /* rdt_close already forgot it */
      return;
    }
  gc = j->gc;
  g_hash_table_remove (joins, gc);
  g_object_unref (j->cancel);
  g_free (j);
  account = purple_connection_get_account (gc);
  if (rdt_membership_error_is_temporary (error))
    {
      /* "Try again later" (no answer, a garbled one, 5xx, 409 after
       * retries): kept, and the next login (libpurple reconnects after a
       * network error) resumes it with the same key. */
      gchar *m = g_strdup_printf (
          _("Could not use the invitation yet: %s. It is kept and used "
            "again at the next login."), error->message);

      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_NETWORK_ERROR, m);
      g_free (m);
      return;
    }
  /* Done, or refused for good (spent, revoked, or already redeemed by us
   * when an answer was lost): the login below tells which. */
  purple_account_set_string (account, PENDING_INVITATION, NULL);
  if (error != NULL)
    {
      gchar *m = g_strdup_printf (
          _("The server refused it: %s. It is removed from this account; "
            "ask for a new invitation if this login fails."), error->message);

      purple_notify_error (gc, _("Invitation"),
                           _("Could not use the invitation."), m);
      g_free (m);
    }
  login_as_member (account);
}

static void
redeem_pending (PurpleAccount *account, PurpleConnection *gc,
                const gchar *pending, const guint8 seed[32])
{
  g_autoptr (RdtInvite) invite = NULL;
  g_autoptr (RdtSigningKey) key = NULL;
  GError *error = NULL;
  Join *j;

  invite = rdt_invite_parse (pending, &error);
  if (invite == NULL)
    {
      gchar *m = g_strdup_printf (_("This is not a valid invitation: %s"),
                                  error->message);

      purple_account_set_string (account, PENDING_INVITATION, NULL);
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS, m);
      g_free (m);
      g_error_free (error);
      return;
    }
  key = rdt_signing_key_new_from_seed (seed);
  j = g_new0 (Join, 1);
  j->gc = gc;
  j->cancel = g_cancellable_new ();
  if (joins == NULL)
    joins = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_hash_table_insert (joins, gc, j);
  purple_connection_set_state (gc, PURPLE_CONNECTING);
  purple_connection_update_progress (gc, _("Joining the space"), 0, 3);
  rdt_membership_redeem_async (invite, key, j->cancel, on_redeemed, j);
}

/* ---- login ---- */

void
rdt_login (PurpleAccount *account)
{
  PurpleConnection *gc = purple_account_get_connection (account);
  const gchar *password = purple_account_get_password (account);
  const gchar *pending, *p = password;
  GError *error = NULL;

  /* a first login without a key, space or space key, or a word typed as
   * the password: the dialog asks and calls us again (setup.c) */
  if (!rdt_setup_check (account))
    return;
  /* the keys are in the system keyring: nothing to interpret here */
  if (rdt_keys_in_service (account))
    {
      login_as_member (account);
      return;
    }
  while (p != NULL && g_ascii_isspace (*p))
    p++;
  if (p != NULL && g_str_has_prefix (p, RDT_INVITE_PREFIX))
    {
      /* An invitation pasted as the password (account creation). */
      gchar *text = g_strdup (password);

      if (!adopt_invitation (account, text, &error))
        {
          gchar *m = g_strdup_printf (_("This is not a valid invitation: %s"),
                                      error->message);

          purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS, m);
          g_free (m);
          g_clear_error (&error);
          rdt_secret_string_free (text);
          return;
        }
      rdt_secret_string_free (text);
    }
  else if (password == NULL || *password == '\0')
    {
      /* A new identity: generate the member key; the login then says
       * which member id to hand to an admin (issue #5). */
      g_autoptr (RdtSigningKey) key = rdt_signing_key_generate ();
      guint8 seed[RDT_SEED_LENGTH];
      gchar *hex;

      rdt_signing_key_copy_seed (key, seed);
      hex = rdt_hex_encode (seed, sizeof seed);
      rdt_wipe (seed, sizeof seed);
      purple_account_set_password (account, hex);
      purple_account_set_remember_password (account, TRUE);
      rdt_secret_string_free (hex);
    }

  pending = purple_account_get_string (account, PENDING_INVITATION, NULL);
  if (pending != NULL && *pending)
    {
      guint8 seed[32];

      if (!rdt_parse_key32 (purple_account_get_password (account), seed, NULL))
        {
          purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS,
                                          _("Invalid private key (password)."));
          return;
        }
      redeem_pending (account, gc, pending, seed);
      rdt_wipe (seed, sizeof seed);
      return;
    }
  login_as_member (account);
}

/* Keys being read for a login (keys.c), by connection: cancelled when it
 * closes first. */
static GHashTable *key_loads;

static void
login_with_keys (PurpleAccount *account, const guint8 *seed_in,
                 const guint8 *root_in, const GError *key_error,
                 gpointer user_data)
{
  PurpleConnection *gc = purple_account_get_connection (account);
  guint8 seed[32], root[32];
  gchar *space = NULL;
  const gchar *server;
  GError *error = NULL;
  RdtConn *rc;
  RdtSession *session;

  if (gc == NULL || rdt_conn_of (gc) != NULL)
    return;
  if (key_loads)
    g_hash_table_remove (key_loads, gc);
  if (key_error != NULL)
    {
      /* a keyring that is locked or gone: trying again by itself would
       * only ask again (fatal: no automatic reconnect) */
      purple_connection_error_reason (gc,
          g_error_matches (key_error, RDT_KEYSTORE_ERROR,
                           RDT_KEYSTORE_ERROR_FAILED)
            && !rdt_keys_in_service (account)
          ? PURPLE_CONNECTION_ERROR_INVALID_SETTINGS
          : PURPLE_CONNECTION_ERROR_OTHER_ERROR,
          key_error->message);
      return;
    }
  split_username (purple_account_get_username (account), &space);
  memcpy (seed, seed_in, sizeof seed);
  memcpy (root, root_in, sizeof root);
  rdt_chat_pins_check_space (account, space);
  rdt_events_check_space (account, space);
  server = purple_account_get_string (account, "server", RDT_DEFAULT_SERVER);
  session = rdt_session_new (server, space, seed, root, &error);
  g_free (space);
  if (session == NULL)
    {
      rdt_wipe (seed, sizeof seed);
      rdt_wipe (root, sizeof root);
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
                                           g_free,
                                           (GDestroyNotify) g_array_unref);
  rc->offline_sends = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                             g_free, g_free);
  rc->offline_sent = g_hash_table_new_full (g_str_hash, g_str_equal,
                                            g_free, NULL);
  rc->next_chat_id = 1;
  rc->inline_images = rdt_transcript_ui_shows_images ();
  rdt_chat_pins_init (rc);
  rc->nick = rdt_id_short (rdt_session_get_member_id (session));
  /* own messages show this, not the account name; members.c puts the
   * display name here once the state is read */
  purple_connection_set_display_name (gc, rc->nick);
  rdt_members_init (rc, root);
  rdt_unread_init (rc, seed);
  /* kept for Export credentials and invitations (secret memory) */
  rc->seed = rdt_secret_alloc (32);
  rc->root = rdt_secret_alloc (32);
  memcpy (rc->seed, seed, 32);
  memcpy (rc->root, root, 32);
  /* keys still in accounts.xml go into the system keyring now */
  rdt_keys_migrate (gc, seed, root);
  rdt_wipe (root, sizeof root);
  rdt_wipe (seed, sizeof seed);
  purple_connection_set_protocol_data (gc, rc);

  rdt_session_set_callbacks (session, &rdt_callbacks, rc);
  /* What is typed during an outage waits this long for the connection. */
  rdt_session_set_send_timeout (session, RDT_OFFLINE_SEND_TIMEOUT_S * 1000);
  purple_connection_set_state (gc, PURPLE_CONNECTING);
  purple_connection_update_progress (gc, _("Connecting"), 0, 2);
  rdt_session_connect (session);
}

static void
login_as_member (PurpleAccount *account)
{
  PurpleConnection *gc = purple_account_get_connection (account);
  gchar *space = NULL;
  GCancellable *cancel;

  if (!split_username (purple_account_get_username (account), &space) ||
      !rdt_id_is_valid (space, RDT_ID_SPACE))
    {
      purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS,
          _("The username must be <name>@<space id>, with a valid space id (S...)."));
      g_free (space);
      return;
    }
  g_free (space);
  if (key_loads == NULL)
    key_loads = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                       g_object_unref);
  cancel = g_cancellable_new ();
  g_hash_table_replace (key_loads, gc, cancel);
  rdt_keys_load (account, cancel, login_with_keys, NULL);
}

void
rdt_close (PurpleConnection *gc)
{
  RdtConn *rc = rdt_conn_of (gc);
  Join *j = joins ? g_hash_table_lookup (joins, gc) : NULL;

  if (j != NULL)
    {
      /* on_redeemed sees the cancellation and frees j */
      g_hash_table_remove (joins, gc);
      g_cancellable_cancel (j->cancel);
    }
  if (key_loads != NULL)
    {
      GCancellable *cancel = g_hash_table_lookup (key_loads, gc);

      if (cancel != NULL)
        g_cancellable_cancel (cancel);
      g_hash_table_remove (key_loads, gc);
    }
  if (rc == NULL)
    return;
  purple_connection_set_protocol_data (gc, NULL);
  rdt_chat_warn_unsent (rc);
  rdt_xfer_conn_free (rc);           /* cancels transfers first */
  rdt_members_free (rc);             /* cancels state syncs and writes */
  rdt_chat_pins_free (rc);           /* the newest heads, written now */
  rdt_unread_free (rc);              /* the newest read markers, stored now */
  rdt_session_free (rc->session);   /* no callback runs after this */
  rdt_events_free (rc);
  rdt_transcript_free (rc);
  rdt_relations_ui_free (rc);             /* entries held for images: dropped */
  g_hash_table_destroy (rc->topic_to_id);
  g_hash_table_destroy (rc->id_to_topic);
  g_hash_table_destroy (rc->pending_text);
  g_hash_table_destroy (rc->last_failed);
  g_hash_table_destroy (rc->offline_sends);
  g_hash_table_destroy (rc->offline_sent);
  g_free (rc->nick);
  rdt_secret_free (rc->seed);
  rdt_secret_free (rc->root);
  g_slist_free_full (rc->notices, g_free);
  g_free (rc);
}
