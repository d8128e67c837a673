/* SPDX-License-Identifier: GPL-2.0-or-later */
/* spacename.c - the space's human name in chats and the account alias. */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>

#include "error.h"
#include "id.h"
#include "spacename.h"

/* The alias we set last, so that one the user chose is never replaced. */
#define ALIAS_SETTING "space-name-alias"
#define SEPARATOR " \xe2\x80\x94 "      /* " — " */

gchar *
rdt_space_label (RdtConn *rc)
{
  RdtState *state = rdt_members_get_state (rc);
  gchar *name = state ? rdt_state_get_space_name (state) : NULL;

  return name ? name : rdt_id_short (rdt_session_get_space_id (rc->session));
}

gchar *
rdt_space_chat_title (RdtConn *rc, const gchar *topic_name)
{
  g_autofree gchar *label = rdt_space_label (rc);

  return g_strconcat (topic_name, SEPARATOR, label, NULL);
}

gchar *
rdt_space_strip_label (RdtConn *rc, const gchar *line)
{
  g_autofree gchar *label = rdt_space_label (rc);
  g_autofree gchar *suffix = g_strconcat (SEPARATOR, label, NULL);

  if (line != NULL && g_str_has_suffix (line, suffix) &&
      strlen (line) > strlen (suffix))
    return g_strndup (line, strlen (line) - strlen (suffix));
  return g_strdup (line);
}

void
rdt_space_update_alias (RdtConn *rc)
{
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  RdtState *state = rdt_members_get_state (rc);
  g_autofree gchar *name = state ? rdt_state_get_space_name (state) : NULL;
  const gchar *alias = purple_account_get_alias (account);
  const gchar *ours = purple_account_get_string (account, ALIAS_SETTING, NULL);

  if (name == NULL || g_strcmp0 (alias, name) == 0)
    return;
  /* the user's own alias wins: only an empty one or the one we set moves */
  if (alias != NULL && *alias != '\0' && g_strcmp0 (alias, ours) != 0)
    return;
  purple_account_set_alias (account, name);
  purple_account_set_string (account, ALIAS_SETTING, name);
}

gboolean
rdt_space_is_owner (RdtConn *rc)
{
  RdtState *state = rdt_members_get_state (rc);

  return state != NULL &&
         rdt_state_is_owner (state, rdt_session_get_member_id (rc->session));
}

void
rdt_space_set_name (RdtConn *rc, const gchar *name, RdtMembersDone done,
                    gpointer user_data)
{
  RdtState *state = rdt_members_get_state (rc);
  g_autofree gchar *data = NULL;
  GError *error = NULL;

  if (state == NULL)
    error = g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED,
                                 _("the space's state is not read yet; try "
                                   "again in a moment"));
  else if (!rdt_space_is_owner (rc))
    error = g_error_new_literal (RDT_ERROR, RDT_ERROR_FAILED,
                                 _("only the space's owner can name the "
                                   "space"));
  else
    data = rdt_state_encode_space_metadata (state, name, &error);
  if (data == NULL)
    {
      if (done)
        done (rc, error, user_data);
      g_error_free (error);
      return;
    }
  rdt_members_write_state (rc, RDT_STATE_SPACE_PATH, data, done, user_data);
}
