/* SPDX-License-Identifier: GPL-2.0-or-later */
/* actions.h - account actions (Accounts > reeeductio menu): onboarding
 * helpers of issue #5 (show member id, export credentials, new space). */
#pragma once

#include <glib.h>
#include <plugin.h>

G_BEGIN_DECLS

/* PurplePluginInfo.actions: context is the PurpleConnection. */
GList *rdt_actions_list (PurplePlugin *plugin, gpointer context);

G_END_DECLS
