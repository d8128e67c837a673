/* commands.c - the plugin's chat /commands. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <cmds.h>
#include <conversation.h>

#include "rdt-purple.h"

static GSList *rdt_cmd_ids;

/* ---- commands ---- */

static PurpleCmdRet
cmd_retry (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = rdt_topic_for_conv (conv);
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
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = rdt_topic_for_conv (conv);
  gchar *desc;

  if (rc == NULL || topic == NULL)
    return PURPLE_CMD_RET_FAILED;
  desc = rdt_session_describe_topic (rc->session, topic);
  rdt_write_system (PURPLE_CONV_CHAT (conv), desc ? desc : _("Unknown topic."),
                PURPLE_MESSAGE_SYSTEM);
  g_free (desc);
  return PURPLE_CMD_RET_OK;
}

void
rdt_commands_register (void)
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

void
rdt_commands_unregister (void)
{
  GSList *l;

  for (l = rdt_cmd_ids; l; l = l->next)
    purple_cmd_unregister (GPOINTER_TO_UINT (l->data));
  g_slist_free (rdt_cmd_ids);
  rdt_cmd_ids = NULL;
}
