/* SPDX-License-Identifier: GPL-2.0-or-later */
/* actions.c - account actions for onboarding (issue #5): show the member
 * id to hand to a space admin, export what is needed to set the account up
 * elsewhere, and create a new space owned by a fresh key. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <connection.h>
#include <core.h>
#include <eventloop.h>
#include <notify.h>
#include <request.h>
#include <util.h>

#include "actions.h"
#include "keys.h"
#include "crypto.h"
#include "encoding.h"
#include "events.h"
#include "id.h"
#include "invite.h"
#include "members.h"
#include "rdt-purple.h"
#include "spacename.h"

static PurpleConnection *
action_gc (PurplePluginAction *action)
{
  PurpleConnection *gc = action->context;

  if (gc == NULL || !PURPLE_CONNECTION_IS_VALID (gc))
    return NULL;
  return gc;
}

/* ---- reconnect now ---- */

static void
reconnect_now (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);
  RdtConn *rc = gc ? rdt_conn_of (gc) : NULL;

  if (rc == NULL)
    return;
  rdt_write_all_chats (rc, rdt_session_reconnect_now (rc->session)
                               ? _("Reconnecting now...")
                               : _("Connected: nothing to reconnect."),
                       PURPLE_MESSAGE_SYSTEM);
}

/* ---- windows that show an id or a token whole ---- */

/* Ids and tokens go into read-only fields of a request window, not into
 * notify text: notify windows break a long word with a hyphen that is not
 * part of it (Finch) and cannot be selected whole. */
static void
add_readonly_field (PurpleRequestFieldGroup *group, const gchar *id,
                    const gchar *label, const gchar *value, gboolean multiline)
{
  PurpleRequestField *field = purple_request_field_string_new (id, label,
                                                               value,
                                                               multiline);

  purple_request_field_string_set_editable (field, FALSE);
  purple_request_field_group_add_field (group, field);
}

/* Finch's request windows neither wrap their text nor draw a window wider
 * than the terminal, and show only 20 characters of a field; Pidgin wraps
 * the text and its fields show ids whole. */
static gboolean
ui_wraps_text (void)
{
  return g_strcmp0 (purple_core_get_ui (), "gtk-gaim") == 0;
}

#define TEXT_COLUMNS 72

/* Appends text broken into lines of at most TEXT_COLUMNS characters at
 * spaces; a longer word (an id, a path) gets a line of its own, unbroken. */
static void
append_wrapped (GString *out, const gchar *text)
{
  gchar **paras = g_strsplit (text, "\n", -1);

  for (guint p = 0; paras[p] != NULL; p++)
    {
      gchar **words = g_strsplit (paras[p], " ", -1);
      glong col = 0;

      if (p > 0)
        g_string_append_c (out, '\n');
      for (guint w = 0; words[w] != NULL; w++)
        {
          glong len = g_utf8_strlen (words[w], -1);

          if (len == 0)
            continue;
          if (col > 0 && col + 1 + len > TEXT_COLUMNS)
            {
              g_string_append_c (out, '\n');
              col = 0;
            }
          else if (col > 0)
            {
              g_string_append_c (out, ' ');
              col++;
            }
          g_string_append (out, words[w]);
          col += len;
        }
      g_strfreev (words);
    }
  g_strfreev (paras);
}

/* text, and where the UI does not wrap: wrapped, then each "label:" and
 * value pair of the NULL-terminated list as lines of their own. */
static gchar *
window_text (const gchar *text, ...)
{
  GString *out = g_string_new (NULL);
  const gchar *label;
  va_list ap;

  if (ui_wraps_text ())
    return g_strdup (text);
  append_wrapped (out, text);
  va_start (ap, text);
  while ((label = va_arg (ap, const gchar *)) != NULL)
    {
      g_string_append (out, "\n\n");
      append_wrapped (out, label);
      g_string_append_c (out, '\n');
      g_string_append (out, va_arg (ap, const gchar *));
    }
  va_end (ap);
  return g_string_free (out, FALSE);
}

static void
fields_closed (gpointer user_data, PurpleRequestFields *fields)
{
}

/* A window showing text and, in Pidgin, the read-only fields (fields,
 * taken). Both buttons only close: Pidgin and Finch always show two.
 * user_data is the connection, so libpurple closes the window when it
 * goes. A UI without request windows (BitlBee) gets fallback as a notice:
 * it then has every value. */
static void
show_fields (PurpleConnection *gc, const gchar *title, const gchar *primary,
             const gchar *secondary, PurpleRequestFields *fields,
             const gchar *fallback)
{
  if (purple_request_fields (gc, title, primary, secondary, fields,
                             _("OK"), G_CALLBACK (fields_closed),
                             _("Close"), G_CALLBACK (fields_closed),
                             purple_connection_get_account (gc), NULL, NULL,
                             gc) != NULL)
    return;
  purple_request_fields_destroy (fields);
  purple_notify_info (gc, title, primary, fallback);
}

/* ---- show my member id ---- */

static void
show_member_id (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);
  RdtConn *rc = gc ? rdt_conn_of (gc) : NULL;
  PurpleRequestFields *fields;
  PurpleRequestFieldGroup *group;
  const gchar *uid, *space, *explain;
  gchar *owner_uid, *text;
  gboolean owner;

  if (rc == NULL)
    return;
  uid = rdt_session_get_member_id (rc->session);
  space = rdt_session_get_space_id (rc->session);
  /* The owner logs in with the space's own key (create_space): its member
   * id is the space key's id as a user id. */
  owner_uid = rdt_id_convert (space, RDT_ID_USER);
  owner = owner_uid != NULL && g_strcmp0 (uid, owner_uid) == 0;
  g_free (owner_uid);
  explain = owner
      ? _("You own this space. Add members with the account actions "
          "\"Invite someone...\" or \"Add a member by ID...\". The IDs are "
          "public: they are not secrets.")
      : _("To join the space, send your member ID to an admin of the space "
          "and ask them to add it as a member. The member ID is public: it "
          "is not a secret.");

  fields = purple_request_fields_new ();
  group = purple_request_field_group_new (NULL);
  purple_request_fields_add_group (fields, group);
  if (ui_wraps_text ())
    {
      add_readonly_field (group, "member_id", _("Your member ID"), uid, FALSE);
      add_readonly_field (group, "space_id", _("Space ID"), space, FALSE);
    }
  text = window_text (explain, _("Your member ID:"), uid, _("Space ID:"),
                      space, NULL);
  show_fields (gc, _("Member ID"), _("Your member ID"), text, fields, text);
  g_free (text);
}

/* ---- show an invitation ---- */

/* Saves the invitation in a new file of mode 0600 in the purple dir, for
 * a UI that cannot show it whole or copy it (Finch). NULL if it failed. */
static gchar *
save_invitation (const gchar *invitation, GError **error)
{
  gchar *dir = g_build_filename (purple_user_dir (), "reeeductio", NULL);
  gchar *path = g_build_filename (dir, "invitation-XXXXXX.txt", NULL);
  gchar *line = g_strconcat (invitation, "\n", NULL);
  gsize len = strlen (line);
  gint fd = -1, saved = 0;

  if (g_mkdir_with_parents (dir, 0700) != 0
      || (fd = g_mkstemp_full (path, O_WRONLY, 0600)) < 0)
    saved = errno;
  else
    {
      gssize n = write (fd, line, len);

      if (n != (gssize) len)
        saved = n < 0 ? errno : ENOSPC;     /* a short write: disk full */
      if (!g_close (fd, NULL) && saved == 0)
        saved = errno;
      if (saved != 0)
        g_unlink (path);
    }
  if (saved != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   _("Could not save the invitation in %s: %s"), dir,
                   g_strerror (saved));
      g_clear_pointer (&path, g_free);
    }
  rdt_secret_string_free (line);
  g_free (dir);
  return path;
}

void
rdt_actions_show_invitation (RdtConn *rc, const gchar *invitation)
{
  PurpleRequestFields *fields = purple_request_fields_new ();
  PurpleRequestFieldGroup *group = purple_request_field_group_new (NULL);
  GError *error = NULL;
  gchar *path = save_invitation (invitation, &error);
  gchar *explain, *text, *fallback;

  /* Shown once, in a window of its own, never in a chat or its log. */
  purple_request_fields_add_group (fields, group);
  if (ui_wraps_text ())
    {
      add_readonly_field (group, "invitation", _("Invitation"), invitation,
                          TRUE);
      if (path != NULL)
        add_readonly_field (group, "file", _("File"), path, FALSE);
    }
  explain = g_strdup_printf (
      "%s\n\n%s",
      _("Send this invitation to one person over a private channel. In "
        "their reeeductio account they paste it as the password (any user "
        "name), or use the account action \"Join another space with an "
        "invitation\"; it makes them a member of this space. It works once, "
        "and anyone who has it can read the space."),
      path != NULL ? _("It is also saved in a file that only you can read: "
                       "delete the file once you have sent the invitation.")
                   : error->message);
  /* Finch cannot show the whole invitation (a line wider than the
   * terminal): the file has it. */
  text = window_text (explain, path ? _("File:") : NULL, path, NULL);
  fallback = g_strdup_printf ("%s\n\n%s\n%s", text, _("Invitation:"),
                              invitation);
  show_fields (rc->gc, _("Invitation"), _("Invitation created"), text,
               fields, fallback);
  rdt_secret_string_free (fallback);
  g_free (explain);
  g_free (text);
  g_free (path);
  g_clear_error (&error);
}

/* ---- export credentials ---- */

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
  /* the keys as this login read them (keys.c: accounts.xml or the
   * system keyring) */
  seed_hex = rdt_hex_encode (rc->seed, 32);
  root_hex = rdt_hex_encode (rc->root, 32);
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
  rdt_secret_string_free (text);
  rdt_secret_string_free (seed_hex);
  rdt_secret_string_free (root_hex);
  g_free (server);
}

/* Button labels carry no mnemonic underscore: Finch's request windows
 * show it as it is ("_Show"). */
static void
action_cancelled (gpointer user_data, int choice)
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
                         _("Show"), G_CALLBACK (export_confirmed),
                         _("Cancel"), G_CALLBACK (action_cancelled));
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

/* Fills the account in as the owner of a new space: a fresh space key,
 * which is also the owner's login key (the server makes the first login
 * with the space's own key its owner), and a random symmetric root. The
 * login that follows creates the space (auto_create_spaces). */
void
rdt_actions_fill_new_space (PurpleAccount *account)
{
  RdtSigningKey *key;
  const gchar *username, *at;
  gchar *local, *space_id, *new_username, *seed_hex, *root_hex;
  guint8 seed[RDT_SEED_LENGTH], root[RDT_KEY_LENGTH];

  username = purple_account_get_username (account);
  at = strrchr (username, '@');
  local = at && at != username ? g_strndup (username, at - username)
                               : g_strdup (username);

  key = rdt_signing_key_generate ();
  space_id = rdt_signing_key_get_id (key, RDT_ID_SPACE);
  rdt_signing_key_copy_seed (key, seed);
  rdt_signing_key_free (key);
  rdt_random_bytes (root, sizeof root);
  seed_hex = rdt_hex_encode (seed, sizeof seed);
  root_hex = rdt_hex_encode (root, sizeof root);
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);

  /* The heads pinned for the old space's topics are dropped at the next
   * login (chat.c): the new space's topics are other chains. */
  new_username = g_strconcat (local, "@", space_id, NULL);
  /* the old space's keys leave the keyring (they are filed under the old
   * name); the new ones move there at the login that follows (keys.c) */
  rdt_keys_forget (account);
  purple_account_set_username (account, new_username);
  purple_account_set_password (account, seed_hex);
  purple_account_set_remember_password (account, TRUE);
  purple_account_set_string (account, "symmetric_root", root_hex);
  rdt_secret_string_free (seed_hex);
  rdt_secret_string_free (root_hex);
  g_free (new_username);
  g_free (space_id);
  g_free (local);
}

/* The keys are made only once confirmed, so no secret waits in a pending
 * request. user_data is the connection: libpurple closes the request
 * (without calling back) when the connection goes, so it is alive here. */
static void
new_space_confirmed (gpointer user_data, int choice)
{
  PurpleAccount *account = purple_connection_get_account (user_data);

  rdt_actions_fill_new_space (account);
  purple_timeout_add (0, reconnect_idle,
                      g_strdup (purple_account_get_username (account)));
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
                         1, account, NULL, NULL, gc, 2,
                         _("Create"), G_CALLBACK (new_space_confirmed),
                         _("Cancel"), G_CALLBACK (action_cancelled));
}

/* ---- membership (issue #5): name, invite, add, join ---- */

/* Results of the actions below arrive after the request window is gone:
 * they are told with notify windows on the connection, if it still
 * exists (rc is only used while the account is connected; members.c
 * never calls back after logout). */
static void
on_action_done (RdtConn *rc, const GError *error, gpointer user_data)
{
  gchar *what = user_data;

  if (rc == NULL)
    ;                   /* logged out meanwhile */
  else if (error != NULL)
    purple_notify_error (rc->gc, what, what, error->message);
  else
    purple_notify_info (rc->gc, what, what, _("Done."));
  g_free (what);
}

static void
display_name_failed (PurpleAccount *account, const char *error)
{
  PurpleConnection *gc = purple_account_get_connection (account);

  /* an action's result: a window, whether or not a chat is open */
  if (gc != NULL)
    purple_notify_error (gc, _("Display name"), error, NULL);
}

/* The prompts below are requests on the connection (user_data = gc):
 * libpurple closes them, without calling back, when the connection goes,
 * so a callback that runs has a live connection and nothing to free. */
static void
display_name_entered (gpointer user_data, const char *name)
{
  PurpleAccount *account = purple_connection_get_account (user_data);

  if (purple_account_is_connected (account))
    /* through libpurple, so the UI's own alias state stays in step */
    purple_account_set_public_alias (account, name, NULL,
                                     display_name_failed);
}

static void
input_cancelled (gpointer user_data, const char *unused)
{
}

/* A one-line text prompt for an action; the callback gets the connection. */
static void
ask_text (PurpleConnection *gc, const gchar *title, const gchar *primary,
          const gchar *secondary, const gchar *current, gboolean masked,
          const gchar *ok_label, PurpleRequestInputCb ok_cb)
{
  PurpleAccount *account = purple_connection_get_account (gc);

  purple_request_input (gc, title, primary, secondary, current, FALSE, masked,
                        NULL, ok_label, G_CALLBACK (ok_cb),
                        _("Cancel"), G_CALLBACK (input_cancelled),
                        account, NULL, NULL, gc);
}

static void
set_display_name (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);
  RdtConn *rc = gc ? rdt_conn_of (gc) : NULL;
  RdtState *state = rdt_members_get_state (rc);
  gchar *current = NULL;

  if (rc == NULL)
    return;
  if (state != NULL)
    current = rdt_state_get_display_name (state,
                                          rdt_session_get_member_id (rc->session));
  ask_text (gc, _("Display name"), _("Set your display name"),
            _("Every member of the space sees this name instead of your "
              "member ID."),
            current, FALSE, _("Set"), display_name_entered);
  g_free (current);
}

static void
on_action_invitation (RdtConn *rc, const gchar *invitation, const GError *error,
                      gpointer user_data)
{
  if (rc == NULL)
    return;             /* logged out meanwhile */
  if (error != NULL)
    purple_notify_error (rc->gc, _("Invitation"),
                         _("Could not create an invitation."), error->message);
  else
    rdt_actions_show_invitation (rc, invitation);
}

static void
invite_someone (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);
  RdtConn *rc = gc ? rdt_conn_of (gc) : NULL;

  if (rc != NULL)
    rdt_members_create_invitation (rc, on_action_invitation, NULL);
}

static void
member_id_entered (gpointer user_data, const char *text)
{
  PurpleConnection *gc = user_data;
  RdtConn *rc = rdt_conn_of (gc);
  gchar *uid = g_strstrip (g_strdup (text ? text : ""));

  if (rc == NULL)
    {
      g_free (uid);
      return;
    }
  if (!rdt_id_is_valid (uid, RDT_ID_USER))
    purple_notify_error (gc, _("Add a member"), _("That is not a member ID."),
                         _("A member ID starts with U and is 44 characters "
                           "long; the new member finds it under \"Show my "
                           "member ID\"."));
  else
    rdt_members_add_member (rc, uid, on_action_done,
                            g_strdup (_("Add a member")));
  g_free (uid);
}

static void
add_member_by_id (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);

  if (gc == NULL || rdt_conn_of (gc) == NULL)
    return;
  ask_text (gc, _("Add a member"), _("Add a member by ID"),
            _("The member ID (U...) of the person to add. They can then "
              "read and write every topic."),
            NULL, FALSE, _("Add"), member_id_entered);
}

/* One account is one member of one space: joining another space is a new
 * account, whose first login redeems the invitation (account.c). */
static void
invitation_entered (gpointer user_data, const char *text)
{
  PurpleConnection *gc = user_data;
  const gchar *from = purple_account_get_username (purple_connection_get_account (gc));
  g_autoptr (RdtInvite) invite = NULL;
  GError *error = NULL;
  PurpleAccount *account;
  const gchar *at;
  gchar *local, *username;

  invite = rdt_invite_parse (text ? text : "", &error);
  if (invite == NULL)
    {
      purple_notify_error (gc, _("Join a space"),
                           _("This is not a valid invitation."),
                           error->message);
      g_error_free (error);
      return;
    }
  at = strrchr (from, '@');
  local = at ? g_strndup (from, at - from) : g_strdup (from);
  username = g_strconcat (local, "@", invite->space_id, NULL);
  if (purple_accounts_find (username, RDT_PRPL_ID) != NULL)
    {
      purple_notify_error (gc, _("Join a space"), _("You already have an account "
                                                    "in that space."), username);
      g_free (local);
      g_free (username);
      return;
    }
  account = purple_account_new (username, RDT_PRPL_ID);
  purple_account_set_remember_password (account, TRUE);
  purple_account_set_password (account, text);
  purple_accounts_add (account);
  purple_account_set_enabled (account, purple_core_get_ui (), TRUE);
  g_free (local);
  g_free (username);
}

static void
join_with_invitation (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);

  if (gc == NULL)
    return;
  /* masked: the invitation is a secret */
  ask_text (gc, _("Join a space"), _("Join another space with an invitation"),
            _("Paste the invitation (rdt-invite:1:...). A new account is "
              "made for that space, with a new key."),
            NULL, TRUE, _("Join"), invitation_entered);
}

/* ---- leave this space ---- */

/* user_data is the connection: libpurple closes the request, without
 * calling back, when the connection goes. events.c waits for the posts
 * and deletes the account from the main loop. */
static void
leave_confirmed (gpointer user_data, int choice)
{
  RdtConn *rc = rdt_conn_of (user_data);

  if (rc == NULL)
    purple_notify_error (user_data, _("Leave this space"),
                         _("The space was not left."),
                         _("The account is not connected."));
  else
    rdt_events_leave_space (rc);
}

static void
leave_space (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);

  if (gc == NULL || rdt_conn_of (gc) == NULL)
    return;
  /* default: cancel */
  purple_request_action (gc, _("Leave this space"),
                         _("Leave this space?"),
                         _("This posts \"left the space\" to the open "
                           "topics (or to \"general\" if none is open), "
                           "then removes this account with its private key "
                           "and the space's symmetric root from this "
                           "computer. An admin can still remove you from "
                           "the member list. Export the credentials first "
                           "if you want to come back with the same key."),
                         1, purple_connection_get_account (gc), NULL, NULL,
                         gc, 2,
                         _("Leave"), G_CALLBACK (leave_confirmed),
                         _("Cancel"), G_CALLBACK (action_cancelled));
}

static void
space_name_entered (gpointer user_data, const char *name)
{
  RdtConn *rc = rdt_conn_of (user_data);

  if (rc != NULL)
    rdt_space_set_name (rc, name, on_action_done, g_strdup (_("Space name")));
}

/* Only the owner names the space: others are told so before they type. */
static void
name_space (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);
  RdtConn *rc = gc ? rdt_conn_of (gc) : NULL;
  RdtState *state = rdt_members_get_state (rc);
  g_autofree gchar *current = NULL;

  if (rc == NULL)
    return;
  if (state != NULL && !rdt_space_is_owner (rc))
    {
      purple_notify_error (gc, _("Space name"),
                           _("Only the space's owner can name the space."),
                           NULL);
      return;
    }
  if (state != NULL)
    current = rdt_state_get_space_name (state);
  ask_text (gc, _("Space name"), _("Name this space"),
            _("Every member sees this name in the titles of the space's "
              "chats and as the account's name."),
            current, FALSE, _("Set"), space_name_entered);
}

/* ---- replace the space key ---- */

static gboolean
relogin_idle (gpointer data)
{
  gchar *username = data;
  PurpleAccount *account = purple_accounts_find (username, RDT_PRPL_ID);

  if (account != NULL)
    {
      purple_account_disconnect (account);
      purple_account_connect (account);
    }
  g_free (username);
  return G_SOURCE_REMOVE;
}

/* The new space key goes where a login finds keys to move (keys.c): into
 * the account for the moment of the new login, which stores both in the
 * system keyring when there is one and removes them from accounts.xml. */
static void
space_key_entered (gpointer user_data, const char *text)
{
  PurpleConnection *gc = user_data;
  PurpleAccount *account;
  RdtConn *rc;
  guint8 root[32];
  gchar *seed_hex, *root_hex;
  GError *error = NULL;

  if (!PURPLE_CONNECTION_IS_VALID (gc) || (rc = rdt_conn_of (gc)) == NULL)
    return;
  if (!rdt_parse_key32 (text ? text : "", root, &error))
    {
      purple_notify_error (gc, _("Space key"),
                           _("That is not a space key."), error->message);
      g_error_free (error);
      return;
    }
  account = purple_connection_get_account (gc);
  seed_hex = rdt_hex_encode (rc->seed, 32);
  root_hex = rdt_hex_encode (root, sizeof root);
  rdt_wipe (root, sizeof root);
  purple_account_set_password (account, seed_hex);
  purple_account_set_string (account, "symmetric_root", root_hex);
  rdt_secret_string_free (seed_hex);
  rdt_secret_string_free (root_hex);
  g_idle_add (relogin_idle,
              g_strdup (purple_account_get_username (account)));
}

static void
replace_space_key (PurplePluginAction *action)
{
  PurpleConnection *gc = action_gc (action);

  if (gc == NULL || rdt_conn_of (gc) == NULL)
    return;
  ask_text (gc, _("Space key"), _("Replace the space key"),
            _("The space's key (its symmetric root: 64 hex characters or "
              "base64), as your invitation or Export credentials gave it. The "
              "account logs in again with it."),
            NULL, TRUE, _("Replace"), space_key_entered);
}

GList *
rdt_actions_list (PurplePlugin *plugin, gpointer context)
{
  GList *l = NULL;

  l = g_list_append (l, purple_plugin_action_new (_("Show my member ID"),
                                                  show_member_id));
  l = g_list_append (l, purple_plugin_action_new (_("Reconnect now"),
                                                  reconnect_now));
  l = g_list_append (l, purple_plugin_action_new (_("Export credentials..."),
                                                  export_credentials));
  l = g_list_append (l, purple_plugin_action_new (_("Set display name..."),
                                                  set_display_name));
  l = g_list_append (l, purple_plugin_action_new (_("Name this space..."),
                                                  name_space));
  l = g_list_append (l, purple_plugin_action_new (_("Invite someone..."),
                                                  invite_someone));
  l = g_list_append (l, purple_plugin_action_new (_("Add a member by ID..."),
                                                  add_member_by_id));
  l = g_list_append (l, purple_plugin_action_new (_("Join another space with an invitation..."),
                                                  join_with_invitation));
  l = g_list_append (l, purple_plugin_action_new (_("Replace the space key..."),
                                                  replace_space_key));
  l = g_list_append (l, purple_plugin_action_new (_("Create a new space..."),
                                                  create_space));
  l = g_list_append (l, purple_plugin_action_new (_("Leave this space..."),
                                                  leave_space));
  return l;
}
