/* actions.c - account actions for onboarding (issue #5): show the member
 * id to hand to a space admin, export what is needed to set the account up
 * elsewhere, and create a new space owned by a fresh key. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <connection.h>
#include <eventloop.h>
#include <notify.h>
#include <request.h>

#include "actions.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "rdt-purple.h"

/* g_free() for strings that held secrets. */
static void
free_secret_string (gchar *s)
{
  if (s == NULL)
    return;
  rdt_wipe (s, strlen (s));
  g_free (s);
}

static PurpleConnection *
action_gc (PurplePluginAction *action)
{
  PurpleConnection *gc = action->context;

  if (gc == NULL || !PURPLE_CONNECTION_IS_VALID (gc))
    return NULL;
  return gc;
}

/* ---- show my member id ---- */

static void
show_member_id (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);
  RdtConn *rc = gc ? rdt_conn_of (gc) : NULL;
  const gchar *uid, *space;
  gchar *text;

  if (rc == NULL)
    return;
  uid = rdt_session_get_member_id (rc->session);
  space = rdt_session_get_space_id (rc->session);
  /* ids are base64url: nothing to escape in them */
  text = g_strdup_printf (
      _("Your member ID:<br><b>%s</b><br><br>Space ID:<br>%s<br><br>"
        "To join the space, send your member ID to an admin of the space "
        "and ask them to add it as a member. The member ID is public: it "
        "is not a secret."),
      uid, space);
  purple_notify_formatted (gc, _("Member ID"), _("Your member ID"), NULL,
                           text, NULL, NULL);
  g_free (text);
}

/* ---- export credentials ---- */

/* Re-encodes a key setting as lowercase hex, or NULL if it is not a key. */
static gchar *
key_setting_to_hex (const gchar *text)
{
  guint8 key[32];
  gchar *hex;

  if (!rdt_parse_key32 (text ? text : "", key, NULL))
    return NULL;
  hex = rdt_hex_encode (key, sizeof key);
  rdt_wipe (key, sizeof key);
  return hex;
}

static void
export_confirmed (gpointer user_data, int choice)
{
  PurpleConnection *gc = user_data;
  PurpleAccount *account;
  RdtConn *rc;
  gchar *seed_hex, *root_hex, *server, *text;

  if (!PURPLE_CONNECTION_IS_VALID (gc) || (rc = rdt_conn_of (gc)) == NULL)
    return;
  account = purple_connection_get_account (gc);
  seed_hex = key_setting_to_hex (purple_account_get_password (account));
  root_hex = key_setting_to_hex (purple_account_get_string (account,
                                                            "symmetric_root",
                                                            ""));
  if (seed_hex == NULL || root_hex == NULL)
    {
      purple_notify_error (gc, _("Export credentials"),
                           _("The account's key settings are not valid."),
                           NULL);
      free_secret_string (seed_hex);
      free_secret_string (root_hex);
      return;
    }
  server = g_markup_escape_text (purple_account_get_string (account, "server",
                                                            RDT_DEFAULT_SERVER),
                                 -1);
  text = g_strdup_printf (
      _("Server URL: %s<br>Space ID: %s<br>Private key (password): %s<br>"
        "Symmetric root: %s<br><br>Anyone with these can read the space and "
        "write as you. Keep them secret."),
      server, rdt_session_get_space_id (rc->session), seed_hex, root_hex);
  purple_notify_formatted (gc, _("Export credentials"),
                           _("Account credentials"), NULL, text, NULL, NULL);
  free_secret_string (text);
  free_secret_string (seed_hex);
  free_secret_string (root_hex);
  g_free (server);
}

static void
export_cancelled (gpointer user_data, int choice)
{
}

static void
export_credentials (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);

  if (gc == NULL || rdt_conn_of (gc) == NULL)
    return;
  /* default: cancel */
  purple_request_action (gc, _("Export credentials"),
                         _("Show the private key?"),
                         _("This shows your private key and the space's "
                           "symmetric root in clear text. Anyone who sees "
                           "them can read the space and write as you."),
                         1, purple_connection_get_account (gc), NULL, NULL,
                         gc, 2,
                         _("_Show"), G_CALLBACK (export_confirmed),
                         _("_Cancel"), G_CALLBACK (export_cancelled));
}

/* ---- create a new space ---- */

/* Runs from the main loop, not inside the request callback: disconnecting
 * there would destroy the connection that owns the request. */
static gboolean
reconnect_idle (gpointer data)
{
  gchar *username = data;
  PurpleAccount *account = purple_accounts_find (username, RDT_PRPL_ID);

  if (account != NULL)
    {
      if (!purple_account_is_disconnected (account))
        purple_account_disconnect (account);
      purple_account_connect (account);
    }
  g_free (username);
  return FALSE;
}

/* The keys are made only once confirmed, so no secret waits in a pending
 * request (libpurple closes requests without calling back). */
static void
new_space_confirmed (gpointer user_data, int choice)
{
  PurpleAccount *account = purple_accounts_find (user_data, RDT_PRPL_ID);
  RdtSigningKey *key;
  const gchar *username, *at;
  gchar *local, *space_id, *new_username, *seed_hex, *root_hex;
  guint8 seed[RDT_SEED_LENGTH], root[RDT_KEY_LENGTH];

  g_free (user_data);
  if (account == NULL)
    return;
  username = purple_account_get_username (account);
  at = strrchr (username, '@');
  local = at && at != username ? g_strndup (username, at - username)
                               : g_strdup (username);

  /* The space key is also the owner's login key: the server makes the
   * first login with the space's own key its owner. */
  key = rdt_signing_key_generate ();
  space_id = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  rdt_signing_key_copy_seed (key, seed);
  rdt_signing_key_free (key);
  rdt_random_bytes (root, sizeof root);
  seed_hex = rdt_hex_encode (seed, sizeof seed);
  root_hex = rdt_hex_encode (root, sizeof root);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);

  new_username = g_strconcat (local, "@", space_id, NULL);
  purple_account_set_username (account, new_username);
  purple_account_set_password (account, seed_hex);
  purple_account_set_string (account, "symmetric_root", root_hex);
  purple_timeout_add (0, reconnect_idle, new_username);
  free_secret_string (seed_hex);
  free_secret_string (root_hex);
  g_free (space_id);
  g_free (local);
}

static void
new_space_cancelled (gpointer user_data, int choice)
{
  g_free (user_data);
}

static void
create_space (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);
  PurpleAccount *account;

  if (gc == NULL)
    return;
  account = purple_connection_get_account (gc);
  /* default: cancel */
  purple_request_action (gc, _("Create a new space"),
                         _("Create a new space?"),
                         _("This account will switch to a new space that "
                           "you own, with a new private key and symmetric "
                           "root. The current key and space settings are "
                           "replaced: export them first if you still need "
                           "them."),
                         1, account, NULL, NULL,
                         g_strdup (purple_account_get_username (account)), 2,
                         _("C_reate"), G_CALLBACK (new_space_confirmed),
                         _("_Cancel"), G_CALLBACK (new_space_cancelled));
}

GList *
rdt_actions_list (PurplePlugin *plugin, gpointer context)
{
  GList *l = NULL;

  l = g_list_append (l, purple_plugin_action_new (_("Show my member ID"),
                                                  show_member_id));
  l = g_list_append (l, purple_plugin_action_new (_("Export credentials..."),
                                                  export_credentials));
  l = g_list_append (l, purple_plugin_action_new (_("Create a new space..."),
                                                  create_space));
  return l;
}
