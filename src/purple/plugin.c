/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plugin.c - the libpurple protocol plugin "prpl-reeeductio": plugin and
 * protocol descriptions, account options. The work is done in account.c
 * (login), chat.c (topics as chats) and commands.c, over the core in
 * src/core. */
#include "config.h"

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <accountopt.h>
#include <debug.h>
#include <plugin.h>
#include <prpl.h>
#include <version.h>

#include "actions.h"
#include "crypto.h"
#include "members.h"
#include "rdt-purple.h"
#include "keys.h"
#include "unread.h"
#include "xfer.h"

/* ---- plugin ---- */

static const char *
rdt_list_icon (PurpleAccount *account, PurpleBuddy *buddy)
{
  return "reeeductio";
}

static GList *
rdt_status_types (PurpleAccount *account)
{
  GList *types = NULL;

  types = g_list_append (types, purple_status_type_new (PURPLE_STATUS_AVAILABLE,
                                                        NULL, NULL, TRUE));
  types = g_list_append (types, purple_status_type_new (PURPLE_STATUS_OFFLINE,
                                                        NULL, NULL, TRUE));
  return types;
}

/* The core logs with GLib under G_LOG_DOMAIN "reeeductio" (it has no
 * libpurple); this sends those lines to libpurple's debug log, where
 * `pidgin -d` and the debug window show them beside the plugin's own. */
static guint log_handler_id;

static void
forward_log (const gchar *domain, GLogLevelFlags level, const gchar *message,
             gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    purple_debug_error ("reeeductio", "%s\n", message);
  else if (level & G_LOG_LEVEL_WARNING)
    purple_debug_warning ("reeeductio", "%s\n", message);
  else if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
    purple_debug_info ("reeeductio", "%s\n", message);
  else
    purple_debug_misc ("reeeductio", "%s\n", message);
}

static gboolean
plugin_load (PurplePlugin *plugin)
{
  log_handler_id = g_log_set_handler (G_LOG_DOMAIN,
                                      G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL
                                      | G_LOG_FLAG_RECURSION,
                                      forward_log, NULL);
  rdt_commands_register ();
  rdt_xfer_register_commands ();
  return TRUE;
}

static gboolean
plugin_unload (PurplePlugin *plugin)
{
  rdt_xfer_unregister_commands ();
  rdt_commands_unregister ();
  if (log_handler_id != 0)
    g_log_remove_handler (G_LOG_DOMAIN, log_handler_id);
  log_handler_id = 0;
  return TRUE;
}

static PurplePluginProtocolInfo prpl_info = {
  /* an empty password makes a new key (account.c); images put into a
   * chat message are sent as attachments (chat.c) */
  .options = OPT_PROTO_CHAT_TOPIC | OPT_PROTO_PASSWORD_OPTIONAL |
             OPT_PROTO_IM_IMAGE,
  .icon_spec = NO_BUDDY_ICONS,
  .list_icon = rdt_list_icon,
  .status_types = rdt_status_types,
  .chat_info = rdt_chat_info,
  .chat_info_defaults = rdt_chat_info_defaults,
  .login = rdt_login,
  .close = rdt_close,
  .join_chat = rdt_join_chat,
  .get_chat_name = rdt_get_chat_name,
  .chat_leave = rdt_chat_leave,
  .chat_send = rdt_chat_send,
  .get_cb_real_name = rdt_get_cb_real_name,
  .get_cb_info = rdt_get_cb_info,
  .set_chat_topic = rdt_set_chat_topic,
  .roomlist_get_list = rdt_roomlist_get_list,
  .roomlist_cancel = rdt_roomlist_cancel,
  .set_public_alias = rdt_set_public_alias,
  .get_public_alias = rdt_get_public_alias,
  .struct_size = sizeof (PurplePluginProtocolInfo),
};

static PurplePluginInfo info = {
  .magic = PURPLE_PLUGIN_MAGIC,
  .major_version = PURPLE_MAJOR_VERSION,
  .minor_version = PURPLE_MINOR_VERSION,
  .type = PURPLE_PLUGIN_PROTOCOL,
  .priority = PURPLE_PRIORITY_DEFAULT,
  .id = RDT_PRPL_ID,
  .name = "reeeductio",
  .version = PACKAGE_VERSION,
  .summary = "reeeductio protocol plugin",
  .description = "End-to-end encrypted reeeductio spaces",
  .homepage = "https://github.com/reeeductio",
  .load = plugin_load,
  .unload = plugin_unload,
  .extra_info = &prpl_info,
  .actions = rdt_actions_list,
};

static void
init_plugin (PurplePlugin *plugin)
{
  PurpleAccountUserSplit *split;
  PurpleAccountOption *opt;

  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  rdt_crypto_init ();

  info.summary = (char *) _("reeeductio protocol plugin");
  info.description = (char *) _("End-to-end encrypted chat in reeeductio spaces.");

  /* The server and space key are protocol options, on libpurple 2.x's
   * Advanced tab: a first login without them asks for them (setup.c). */
  split = purple_account_user_split_new (_("Space ID (empty: asked at first "
                                           "login)"), NULL, '@');
  prpl_info.user_splits = g_list_append (prpl_info.user_splits, split);

  opt = purple_account_option_string_new (_("Server URL"), "server",
                                          RDT_DEFAULT_SERVER);
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options, opt);
  /* The space key is no account option: Finch's Modify Account dialog
   * ignores "masked" and would print it. The first-login dialog (setup.c)
   * asks for it; keys.c keeps it in the system keyring. */
  opt = purple_account_option_int_new (_("Messages of history to load"),
                                       "backlog", RDT_DEFAULT_BACKLOG);
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options, opt);
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options,
                                              rdt_xfer_account_option_new ());
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options,
                                              rdt_unread_account_option_new ());
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options,
                                              rdt_keys_account_option_new ());
}

PURPLE_INIT_PLUGIN (reeeductio, init_plugin, info)

