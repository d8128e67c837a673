/* SPDX-License-Identifier: GPL-2.0-or-later */
/* setup.c - the first login of an account that lacks what it needs. The
 * password field of a reeeductio account is not a password one chooses
 * (account.c: the member's key seed, an invitation, or empty), and the
 * server and space key sit on libpurple's Advanced tab, where a newcomer
 * does not look: so instead of failing, one request dialog asks how to
 * start, fills the account's settings (the same keys in accounts.xml as
 * ever) and goes on with the login. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <connection.h>
#include <request.h>

#include "crypto.h"
#include "id.h"
#include "invite.h"

#include "actions.h"
#include "rdt-purple.h"
#include "keys.h"
#include "setup.h"

/* The choices, in the order of the dialog's choice field. */
enum {
  CHOICE_INVITATION,
  CHOICE_NEW_SPACE,
  CHOICE_KEYS,
};

static void ask (PurpleConnection *gc, const gchar *why, gint choice);

/* The space id of "<name>@<space id>", or NULL. */
static gchar *
username_space (const gchar *username)
{
  const gchar *at = username ? strrchr (username, '@') : NULL;

  if (at == NULL || at == username || !rdt_id_is_valid (at + 1, RDT_ID_SPACE))
    return NULL;
  return g_strdup (at + 1);
}

/* The name before the '@' (or all of it), never empty. */
static gchar *
username_local (const gchar *username)
{
  const gchar *at = username ? strrchr (username, '@') : NULL;
  gchar *local = at ? g_strndup (username, at - username)
                    : g_strdup (username ? username : "");

  if (*g_strstrip (local) == '\0')
    {
      g_free (local);
      local = g_strdup ("me");
    }
  return local;
}

static gboolean
is_key (const gchar *text)
{
  guint8 key[32];
  gboolean ok = rdt_parse_key32 (text ? text : "", key, NULL);

  rdt_wipe (key, sizeof key);
  return ok;
}

/* "<private key>:<space key>" (keys.c) */
static gboolean
is_key_pair (const gchar *text)
{
  guint8 seed[32], root[32];
  gboolean both = FALSE;

  rdt_keys_parse_password (text, seed, root, &both);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);
  return both;
}

static gboolean
is_invitation (const gchar *text)
{
  while (text != NULL && g_ascii_isspace (*text))
    text++;
  return text != NULL && g_str_has_prefix (text, RDT_INVITE_PREFIX);
}

/* An http(s) URL with a host: what RdtSession can talk to. */
static gboolean
is_server_url (const gchar *text)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);

  return uri != NULL && g_uri_get_host (uri) != NULL &&
         *g_uri_get_host (uri) != '\0' &&
         (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") == 0 ||
          g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0);
}

/* What the password field takes, for the message a normal word gets. */
static const gchar *
password_expects (void)
{
  return _("The password of a reeeductio account is not a password you make "
           "up: it is your private key (64 hex characters or base64), or an "
           "invitation (rdt-invite:1:...) pasted once, or empty to make a "
           "new key.");
}

/* What keeps the account from logging in as it is: FALSE when nothing
 * does. why: what is wrong (NULL when things are merely missing, as on a
 * first login); choice: the dialog's preselected answer. */
static gboolean
needs_setup (PurpleAccount *account, gchar **why, gint *choice)
{
  const gchar *password = purple_account_get_password (account);
  const gchar *pending = purple_account_get_string (account,
                                                    "pending_invitation", NULL);
  const gchar *root = purple_account_get_string (account, "symmetric_root", "");
  const gchar *username = purple_account_get_username (account);
  g_autofree gchar *space = NULL;

  *why = NULL;
  *choice = CHOICE_INVITATION;
  /* an invitation brings everything else with it (account.c) */
  if ((pending != NULL && *pending) || is_invitation (password))
    return FALSE;
  /* both keys in the system keyring (keys.c) */
  if (rdt_keys_in_service (account))
    return FALSE;
  space = username_space (username);
  if (password != NULL && *password && is_key_pair (password))
    return FALSE;       /* both keys in the password field (BitlBee) */
  if (password != NULL && *password && !is_key (password))
    *why = g_strdup (password_expects ());
  else if (space == NULL && username && strchr (username, '@'))
    *why = g_strdup (_("The username must be <name>@<space id>, with a valid "
                       "space id (S...)."));
  else if (root != NULL && *root && !is_key (root))
    *why = g_strdup (_("The space key (symmetric root) is not valid: it is "
                       "32 bytes as 64 hex characters or base64."));
  else if (space != NULL && root != NULL && *root)
    return FALSE;       /* an empty password: account.c makes a new key */
  if (password != NULL && *password && is_key (password))
    *choice = CHOICE_KEYS;
  return TRUE;
}

gboolean
rdt_setup_check (PurpleAccount *account)
{
  gchar *why;
  gint choice;

  if (!needs_setup (account, &why, &choice))
    return TRUE;
  ask (purple_account_get_connection (account), why, choice);
  g_free (why);
  return FALSE;
}

/* ---- the dialog ---- */

static void
setup_cancelled (gpointer user_data, PurpleRequestFields *fields)
{
  PurpleConnection *gc = user_data;
  gchar *why = NULL;
  gint choice;

  /* the account is as it was when asked: the same reason */
  needs_setup (purple_connection_get_account (gc), &why, &choice);
  purple_connection_error_reason (gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS,
      why ? why
          : _("The account is not set up: paste an invitation as the "
              "password, or set the server URL and the space key on the "
              "Advanced tab."));
  g_free (why);
}

/* A field's text, stripped, or "" (a copy: free it like a secret). */
static gchar *
field_text (PurpleRequestFields *fields, const gchar *id)
{
  const gchar *text = purple_request_fields_get_string (fields, id);

  return g_strstrip (g_strdup (text ? text : ""));
}

/* Fills the account in from the answer; NULL when done, else what is
 * wrong (the dialog asks again with it). */
static gchar *
fill_account (PurpleAccount *account, gint choice, PurpleRequestFields *fields)
{
  g_autofree gchar *server = field_text (fields, "server");
  g_autofree gchar *space = field_text (fields, "space");
  gchar *invitation, *key, *root, *local, *username;
  g_autoptr (GError) error = NULL;
  g_autoptr (RdtInvite) invite = NULL;

  switch (choice)
    {
    case CHOICE_INVITATION:
      invitation = field_text (fields, "invitation");
      invite = rdt_invite_parse (invitation, &error);
      if (invite == NULL)
        {
          rdt_secret_string_free (invitation);
          return g_strdup_printf (_("This is not a valid invitation: %s"),
                                  error->message);
        }
      /* the login adopts it: key, space, server, root (account.c) */
      purple_account_set_password (account, invitation);
      purple_account_set_remember_password (account, TRUE);
      rdt_secret_string_free (invitation);
      return NULL;
    case CHOICE_NEW_SPACE:
      if (!is_server_url (server))
        return g_strdup (_("The server URL must start with https:// or "
                           "http://, e.g. https://reeeductio.example."));
      purple_account_set_string (account, "server", server);
      rdt_actions_fill_new_space (account);
      return NULL;
    case CHOICE_KEYS:
      if (!is_server_url (server))
        return g_strdup (_("The server URL must start with https:// or "
                           "http://, e.g. https://reeeductio.example."));
      if (!rdt_id_is_valid (space, RDT_ID_SPACE))
        return g_strdup (_("The space ID is not valid: it starts with S and "
                           "is 44 characters long."));
      key = field_text (fields, "key");
      root = field_text (fields, "root");
      if ((*key && !is_key (key)) || !is_key (root))
        {
          gchar *m = g_strdup (*key && !is_key (key)
              ? _("Your private key is not valid: 64 hex characters or "
                  "base64, or empty to make a new key.")
              : _("The space key is not valid: 64 hex characters or base64, "
                  "as the space's admin handed it out."));

          rdt_secret_string_free (key);
          rdt_secret_string_free (root);
          return m;
        }
      local = username_local (purple_account_get_username (account));
      username = g_strconcat (local, "@", space, NULL);
      purple_account_set_username (account, username);
      purple_account_set_string (account, "server", server);
      purple_account_set_string (account, "symmetric_root", root);
      /* empty: the login makes a new key and tells its member id */
      purple_account_set_password (account, key);
      purple_account_set_remember_password (account, TRUE);
      rdt_secret_string_free (key);
      rdt_secret_string_free (root);
      g_free (username);
      g_free (local);
      return NULL;
    default:
      return g_strdup (_("Choose how to start."));
    }
}

/* user_data is the connection: libpurple closes the dialog, without
 * calling back, when the connection goes, so it is alive here. */
static void
setup_answered (gpointer user_data, PurpleRequestFields *fields)
{
  PurpleConnection *gc = user_data;
  PurpleAccount *account = purple_connection_get_account (gc);
  gint choice = purple_request_fields_get_choice (fields, "how");
  gchar *wrong = fill_account (account, choice, fields);

  if (wrong != NULL)
    {
      ask (gc, wrong, choice);
      g_free (wrong);
      return;
    }
  rdt_login (account);
}

static void
ask (PurpleConnection *gc, const gchar *why, gint choice)
{
  PurpleAccount *account = purple_connection_get_account (gc);
  PurpleRequestFields *fields;
  PurpleRequestFieldGroup *group;
  PurpleRequestField *field;
  PurpleRequestUiOps *ops = purple_request_get_ui_ops ();
  g_autofree gchar *space = username_space (purple_account_get_username (account));
  const gchar *password = purple_account_get_password (account);
  gchar *secondary;

  if (ops == NULL || ops->request_fields == NULL)
    {
      /* a client without request dialogs (BitlBee): the error says what
       * is wrong or what to set */
      setup_cancelled (gc, NULL);
      return;
    }
  fields = purple_request_fields_new ();
  group = purple_request_field_group_new (NULL);
  purple_request_fields_add_group (fields, group);
  field = purple_request_field_choice_new ("how", _("Start with"), choice);
  purple_request_field_choice_add (field, _("Join with an invitation"));
  purple_request_field_choice_add (field, _("Create a new space"));
  purple_request_field_choice_add (field, _("I have my key and space key"));
  purple_request_field_group_add_field (group, field);

  group = purple_request_field_group_new (_("Join with an invitation"));
  purple_request_fields_add_group (fields, group);
  field = purple_request_field_string_new ("invitation",
                                           _("Invitation (rdt-invite:1:...)"),
                                           NULL, FALSE);
  purple_request_field_string_set_masked (field, TRUE);
  purple_request_field_group_add_field (group, field);

  group = purple_request_field_group_new (_("Create a new space, or use your "
                                            "own key"));
  purple_request_fields_add_group (fields, group);
  field = purple_request_field_string_new ("server", _("Server URL"),
      purple_account_get_string (account, "server", RDT_DEFAULT_SERVER), FALSE);
  purple_request_field_group_add_field (group, field);

  group = purple_request_field_group_new (_("I have my key and space key"));
  purple_request_fields_add_group (fields, group);
  field = purple_request_field_string_new ("space", _("Space ID (S...)"),
                                           space, FALSE);
  purple_request_field_group_add_field (group, field);
  /* the key already in the account is offered again, never a word typed
   * as the password */
  field = purple_request_field_string_new ("key",
      _("Your private key (empty: make a new one)"),
      is_key (password) ? password : NULL, FALSE);
  purple_request_field_string_set_masked (field, TRUE);
  purple_request_field_group_add_field (group, field);
  field = purple_request_field_string_new ("root",
      _("Space key (from your invitation or the space's admin)"), NULL, FALSE);
  purple_request_field_string_set_masked (field, TRUE);
  purple_request_field_group_add_field (group, field);

  secondary = g_strconcat (why ? why : "", why ? "\n\n" : "",
      _("An invitation brings the server and the space key with it. A new "
        "space needs only the server's URL; you own it. The settings are "
        "stored in the account (Advanced tab: Server URL, Space key)."),
      NULL);
  purple_connection_update_progress (gc, _("Waiting for the account's "
                                           "settings"), 0, 3);
  purple_request_fields (gc, _("Set up your reeeductio account"),
                                  _("How do you want to start?"), secondary,
                                  fields, _("Continue"),
                                  G_CALLBACK (setup_answered), _("Cancel"),
                                  G_CALLBACK (setup_cancelled), account, NULL,
                                  NULL, gc);
  g_free (secondary);
}
