/* plugin.c - the libpurple protocol plugin "prpl-reeeductio".
 *
 * A thin layer: one PurpleAccount is one member of one space on one server
 * (username "<local name>@<space id>", password = the member's private key
 * seed, option "symmetric_root"). It maps the account onto an RdtSession
 * and chats onto topics; all protocol logic lives in src/core.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <accountopt.h>
#include <cmds.h>
#include <connection.h>
#include <conversation.h>
#include <debug.h>
#include <notify.h>
#include <plugin.h>
#include <prpl.h>
#include <server.h>
#include <util.h>
#include <version.h>

#include "crypto.h"
#include "error.h"
#include "id.h"
#include "session.h"

#define RDT_PRPL_ID "prpl-reeeductio"
#define RDT_DEFAULT_SERVER "http://127.0.0.1:8080"
#define RDT_DEFAULT_BACKLOG 50

typedef struct {
  PurpleConnection *gc;
  RdtSession *session;
  GHashTable *topic_to_id;     /* topic -> GINT chat id */
  GHashTable *id_to_topic;     /* GINT chat id -> topic (owned) */
  GHashTable *pending_text;    /* send id (guint64*) -> text */
  GHashTable *last_failed;     /* topic -> guint64* send id */
  gint next_chat_id;
  gboolean was_connected;
  gchar *nick;                 /* rdt_id_short of our member id */
} RdtConn;

static GSList *rdt_cmd_ids;

static RdtConn *
conn_of (PurpleConnection *gc)
{
  return gc ? purple_connection_get_protocol_data (gc) : NULL;
}

static PurpleConvChat *
chat_for_topic (RdtConn *rc, const gchar *topic_id)
{
  gpointer id;
  PurpleConversation *conv;

  if (!g_hash_table_lookup_extended (rc->topic_to_id, topic_id, NULL, &id))
    return NULL;
  conv = purple_find_chat (rc->gc, GPOINTER_TO_INT (id));
  return conv ? PURPLE_CONV_CHAT (conv) : NULL;
}

static const gchar *
topic_for_conv (PurpleConversation *conv)
{
  PurpleConnection *gc = purple_conversation_get_gc (conv);
  RdtConn *rc = conn_of (gc);
  PurpleConvChat *chat = PURPLE_CONV_CHAT (conv);

  if (rc == NULL || chat == NULL)
    return NULL;
  return g_hash_table_lookup (rc->id_to_topic,
                              GINT_TO_POINTER (purple_conv_chat_get_id (chat)));
}

/* A line that is not a message: warnings, errors, notices. Never written as
 * a normal message, so nothing unverified can pass for one. */
static void
write_system (PurpleConvChat *chat, const gchar *text, PurpleMessageFlags flags)
{
  gchar *escaped;

  if (chat == NULL)
    return;
  escaped = purple_markup_escape_text (text, -1);
  purple_conversation_write (purple_conv_chat_get_conversation (chat), NULL,
                             escaped, flags | PURPLE_MESSAGE_NO_LOG,
                             time (NULL));
  g_free (escaped);
}

static void
write_all_chats (RdtConn *rc, const gchar *text, PurpleMessageFlags flags)
{
  GHashTableIter iter;
  gpointer topic;

  g_hash_table_iter_init (&iter, rc->topic_to_id);
  while (g_hash_table_iter_next (&iter, &topic, NULL))
    write_system (chat_for_topic (rc, topic), text, flags);
}

/* ---- session callbacks ---- */

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
        write_all_chats (rc, _("Reconnected."), PURPLE_MESSAGE_SYSTEM);
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
              write_all_chats (rc, text, PURPLE_MESSAGE_SYSTEM);
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
          purple_connection_error_reason (gc, reason,
                                          error ? error->message
                                                : _("Disconnected"));
        }
      break;
    }
}

static void
on_topic_opened (RdtSession *session, const gchar *topic_id,
                 const GError *error, gpointer user_data)
{
  RdtConn *rc = user_data;
  gchar *text;

  if (error == NULL)
    return;
  text = g_strdup_printf (_("Could not open topic %s: %s"), topic_id,
                          error->message);
  write_system (chat_for_topic (rc, topic_id), text, PURPLE_MESSAGE_ERROR);
  g_free (text);
}

static void
on_message (RdtSession *session, const RdtSessionMessage *msg,
            gpointer user_data)
{
  RdtConn *rc = user_data;
  PurpleConvChat *chat = chat_for_topic (rc, msg->topic_id);
  PurpleMessageFlags flags;
  gchar *who, *escaped;

  if (chat == NULL)
    return;
  who = rdt_id_short (msg->sender);
  if (who == NULL)
    who = g_strdup (msg->sender);
  if (!msg->own && !purple_conv_chat_find_user (chat, who))
    purple_conv_chat_add_user (chat, who, NULL, PURPLE_CBFLAGS_NONE, FALSE);

  flags = msg->own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV;
  if (msg->backlog)
    flags |= PURPLE_MESSAGE_DELAYED;
  escaped = purple_markup_escape_text (msg->text, -1);
  /* Own messages: the chat nick is our short id, so purple keeps them SEND. */
  purple_conv_chat_write (chat, msg->own ? rc->nick : who, escaped, flags,
                          (time_t) (msg->timestamp / 1000));
  g_free (escaped);
  g_free (who);
}

static void
on_warning (RdtSession *session, const gchar *topic_id, RdtWarningKind kind,
            const gchar *text, gpointer user_data)
{
  RdtConn *rc = user_data;
  gchar *line;

  if (kind == RDT_WARNING_SEND_FAILED)
    return;   /* said in send_done, with the /retry hint */
  line = g_strdup_printf (_("Warning: %s"), text);
  if (topic_id)
    write_system (chat_for_topic (rc, topic_id), line, PURPLE_MESSAGE_ERROR);
  else
    write_all_chats (rc, line, PURPLE_MESSAGE_ERROR);
  g_free (line);
}

static void
on_send_done (RdtSession *session, const gchar *topic_id, guint64 send_id,
              const GError *error, gpointer user_data)
{
  RdtConn *rc = user_data;
  const gchar *text = g_hash_table_lookup (rc->pending_text, &send_id);
  gchar *line;

  if (error == NULL)
    {
      g_hash_table_remove (rc->pending_text, &send_id);
      return;
    }
  line = g_strdup_printf (_("Message not sent: \"%s\" (%s). Type /retry to send it again."),
                          text ? text : "", error->message);
  write_system (chat_for_topic (rc, topic_id), line, PURPLE_MESSAGE_ERROR);
  g_free (line);
  g_hash_table_insert (rc->last_failed, g_strdup (topic_id),
                       g_memdup2 (&send_id, sizeof send_id));
}

static void
on_head_changed (RdtSession *session, const gchar *topic_id,
                 const gchar *message_hash, gint64 timestamp,
                 gpointer user_data)
{
  RdtConn *rc = user_data;
  gchar *key = g_strconcat ("head:", topic_id, NULL);
  gchar *value = g_strdup_printf ("%s %" G_GINT64_FORMAT, message_hash,
                                  timestamp);

  purple_account_set_string (purple_connection_get_account (rc->gc), key,
                             value);
  g_free (key);
  g_free (value);
}

static const RdtSessionCallbacks rdt_callbacks = {
  .state_changed = on_state_changed,
  .topic_opened = on_topic_opened,
  .message = on_message,
  .warning = on_warning,
  .send_done = on_send_done,
  .head_changed = on_head_changed,
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

static void
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

static void
rdt_close (PurpleConnection *gc)
{
  RdtConn *rc = conn_of (gc);

  if (rc == NULL)
    return;
  purple_connection_set_protocol_data (gc, NULL);
  rdt_session_free (rc->session);   /* no callback runs after this */
  g_hash_table_destroy (rc->topic_to_id);
  g_hash_table_destroy (rc->id_to_topic);
  g_hash_table_destroy (rc->pending_text);
  g_hash_table_destroy (rc->last_failed);
  g_free (rc->nick);
  g_free (rc);
}

/* ---- chats ---- */

static GList *
rdt_chat_info (PurpleConnection *gc)
{
  struct proto_chat_entry *pce = g_new0 (struct proto_chat_entry, 1);

  pce->label = _("_Topic:");
  pce->identifier = "topic";
  pce->required = TRUE;
  return g_list_append (NULL, pce);
}

static GHashTable *
rdt_chat_info_defaults (PurpleConnection *gc, const char *chat_name)
{
  GHashTable *defaults = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                NULL, g_free);

  if (chat_name != NULL)
    g_hash_table_insert (defaults, "topic", g_strdup (chat_name));
  return defaults;
}

static char *
rdt_get_chat_name (GHashTable *components)
{
  return g_strdup (g_hash_table_lookup (components, "topic"));
}

static void
rdt_join_chat (PurpleConnection *gc, GHashTable *components)
{
  RdtConn *rc = conn_of (gc);
  PurpleAccount *account = purple_connection_get_account (gc);
  const gchar *topic = g_hash_table_lookup (components, "topic");
  GError *error = NULL;
  gchar *key;
  const gchar *pinned;
  gint id;
  PurpleConversation *conv;
  gint backlog;

  if (rc == NULL)
    return;
  if (!rdt_topic_id_validate (topic, &error))
    {
      gchar *m = g_strdup_printf (_("Cannot join topic \"%s\": %s"),
                                  topic ? topic : "", error->message);
      purple_notify_error (gc, _("Invalid topic"), m, NULL);
      purple_serv_got_join_chat_failed (gc, components);
      g_free (m);
      g_clear_error (&error);
      return;
    }
  if (g_hash_table_contains (rc->topic_to_id, topic))
    return;

  id = rc->next_chat_id++;
  {
    gchar *owned = g_strdup (topic);

    /* id_to_topic points at the key owned by topic_to_id */
    g_hash_table_insert (rc->topic_to_id, owned, GINT_TO_POINTER (id));
    g_hash_table_insert (rc->id_to_topic, GINT_TO_POINTER (id), owned);
  }

  conv = serv_got_joined_chat (gc, id, topic);
  purple_conv_chat_set_nick (PURPLE_CONV_CHAT (conv), rc->nick);
  purple_conv_chat_add_user (PURPLE_CONV_CHAT (conv), rc->nick, NULL,
                             PURPLE_CBFLAGS_NONE, FALSE);

  key = g_strconcat ("head:", topic, NULL);
  pinned = purple_account_get_string (account, key, NULL);
  if (pinned != NULL && *pinned)
    {
      gchar **parts = g_strsplit (pinned, " ", 2);

      if (parts[0] && parts[1])
        rdt_session_set_pinned_head (rc->session, topic, parts[0],
                                     g_ascii_strtoll (parts[1], NULL, 10));
      g_strfreev (parts);
    }
  g_free (key);

  backlog = purple_account_get_int (account, "backlog", RDT_DEFAULT_BACKLOG);
  rdt_session_open_topic (rc->session, topic, (guint) MAX (backlog, 0));
}

static void
rdt_chat_leave (PurpleConnection *gc, int id)
{
  RdtConn *rc = conn_of (gc);
  const gchar *topic;
  gchar *copy;

  if (rc == NULL)
    return;
  topic = g_hash_table_lookup (rc->id_to_topic, GINT_TO_POINTER (id));
  if (topic == NULL)
    return;
  copy = g_strdup (topic);
  rdt_session_close_topic (rc->session, copy);
  g_hash_table_remove (rc->id_to_topic, GINT_TO_POINTER (id));
  g_hash_table_remove (rc->last_failed, copy);
  g_hash_table_remove (rc->topic_to_id, copy);
  g_free (copy);
}

static int
rdt_chat_send (PurpleConnection *gc, int id, const char *message,
               PurpleMessageFlags flags)
{
  RdtConn *rc = conn_of (gc);
  const gchar *topic;
  gchar *plain;
  guint64 send_id;
  GError *error = NULL;

  if (rc == NULL)
    return -ENOTCONN;
  topic = g_hash_table_lookup (rc->id_to_topic, GINT_TO_POINTER (id));
  if (topic == NULL)
    return -EINVAL;
  plain = purple_markup_strip_html (message);
  send_id = rdt_session_send_text (rc->session, topic, plain, &error);
  if (send_id == 0)
    {
      gchar *m = g_strdup_printf (_("Message not sent: \"%s\" (%s)."), plain,
                                  error->message);
      write_system (chat_for_topic (rc, topic), m, PURPLE_MESSAGE_ERROR);
      g_free (m);
      g_free (plain);
      g_clear_error (&error);
      return -EINVAL;
    }
  g_hash_table_insert (rc->pending_text, g_memdup2 (&send_id, sizeof send_id),
                       plain);
  /* No local echo: the session delivers our message once with own = TRUE. */
  return 0;
}

/* ---- commands ---- */

static PurpleCmdRet
cmd_retry (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc = conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = topic_for_conv (conv);
  guint64 *failed, old_id, new_id;
  gchar *text;
  GError *err = NULL;

  if (rc == NULL || topic == NULL)
    return PURPLE_CMD_RET_FAILED;
  failed = g_hash_table_lookup (rc->last_failed, topic);
  if (failed == NULL)
    {
      *error = g_strdup (_("There is no failed message to retry in this chat."));
      return PURPLE_CMD_RET_FAILED;
    }
  old_id = *failed;
  new_id = rdt_session_retry_send (rc->session, old_id, &err);
  if (new_id == 0)
    {
      *error = g_strdup_printf (_("Retry failed: %s"), err->message);
      g_clear_error (&err);
      return PURPLE_CMD_RET_FAILED;
    }
  g_hash_table_remove (rc->last_failed, topic);
  text = g_hash_table_lookup (rc->pending_text, &old_id);
  text = g_strdup (text ? text : "");
  g_hash_table_remove (rc->pending_text, &old_id);
  g_hash_table_insert (rc->pending_text, g_memdup2 (&new_id, sizeof new_id),
                       text);
  return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_chain (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc = conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = topic_for_conv (conv);
  gchar *desc;

  if (rc == NULL || topic == NULL)
    return PURPLE_CMD_RET_FAILED;
  desc = rdt_session_describe_topic (rc->session, topic);
  write_system (PURPLE_CONV_CHAT (conv), desc ? desc : _("Unknown topic."),
                PURPLE_MESSAGE_SYSTEM);
  g_free (desc);
  return PURPLE_CMD_RET_OK;
}

static void
register_commands (void)
{
  PurpleCmdFlag f = PURPLE_CMD_FLAG_CHAT | PURPLE_CMD_FLAG_PRPL_ONLY;

  rdt_cmd_ids = g_slist_prepend (rdt_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("retry", "", PURPLE_CMD_P_PRPL, f, RDT_PRPL_ID,
                           cmd_retry,
                           _("retry: send again the last message of this chat that failed to send."),
                           NULL)));
  rdt_cmd_ids = g_slist_prepend (rdt_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("chain", "", PURPLE_CMD_P_PRPL, f, RDT_PRPL_ID,
                           cmd_chain,
                           _("chain: show the state of this topic's verified hash chain."),
                           NULL)));
}

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

static gboolean
plugin_load (PurplePlugin *plugin)
{
  register_commands ();
  return TRUE;
}

static gboolean
plugin_unload (PurplePlugin *plugin)
{
  GSList *l;

  for (l = rdt_cmd_ids; l; l = l->next)
    purple_cmd_unregister (GPOINTER_TO_UINT (l->data));
  g_slist_free (rdt_cmd_ids);
  rdt_cmd_ids = NULL;
  return TRUE;
}

static PurplePluginProtocolInfo prpl_info = {
  .options = OPT_PROTO_CHAT_TOPIC,
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

  split = purple_account_user_split_new (_("Space ID"), NULL, '@');
  prpl_info.user_splits = g_list_append (prpl_info.user_splits, split);

  opt = purple_account_option_string_new (_("Server URL"), "server",
                                          RDT_DEFAULT_SERVER);
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options, opt);
  opt = purple_account_option_string_new (_("Symmetric root (hex or base64)"),
                                          "symmetric_root", "");
  purple_account_option_set_masked (opt, TRUE);
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options, opt);
  opt = purple_account_option_int_new (_("Messages of history to load"),
                                       "backlog", RDT_DEFAULT_BACKLOG);
  prpl_info.protocol_options = g_list_append (prpl_info.protocol_options, opt);
}

PURPLE_INIT_PLUGIN (reeeductio, init_plugin, info)
