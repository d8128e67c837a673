/* SPDX-License-Identifier: GPL-2.0-or-later */
/* actions.h - account actions (Accounts > reeeductio menu): onboarding
 * helpers of issue #5 (show member id, export credentials, new space). */
#pragma once

#include <glib.h>
#include <account.h>
#include <plugin.h>

#include "conn.h"

G_BEGIN_DECLS

/* PurplePluginInfo.actions: context is the PurpleConnection. */
GList *rdt_actions_list (PurplePlugin *plugin, gpointer context);
/* Fills the account in as the owner of a new space (new space key, which
 * is the login key, and a new symmetric root); the next login creates it.
 * Used by "Create a new space..." and the first-login dialog (setup.c). */
void   rdt_actions_fill_new_space (PurpleAccount *account);

/* Shows a new invitation whole in a window of its own (a read-only field
 * to select and copy) and saves it in a file of mode 0600 in the purple
 * dir, whose path the window shows: Finch cannot copy from a window. */
void rdt_actions_show_invitation (RdtConn *rc, const gchar *invitation);

G_END_DECLS
