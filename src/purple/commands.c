/* SPDX-License-Identifier: GPL-2.0-or-later */
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

#include "actions.h"
#include "crypto.h"
#include "id.h"
#include "members.h"
#include "rdt-purple.h"
#include "relations-ui.h"
#include "spacename.h"
#include "transcript.h"
#include "xfer.h"
#include <notify.h>

static GSList *rdt_cmd_ids;

/* ---- commands ---- */

/* /retry: every message of this chat that failed to send (oldest first),
 * and the last attachment whose upload failed (each kept for this). */
static PurpleCmdRet
cmd_retry (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = rdt_topic_for_conv (conv);
  GError *err = NULL;
  gboolean uploading;

  if (rc == NULL || topic == NULL)
    return PURPLE_CMD_RET_FAILED;
  uploading = rdt_xfer_retry (rc, topic);
  if (rdt_chat_retry_failed (rc, topic, &err) == 0)
    {
      gboolean none = g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

      if (!(none && uploading))
        *error = g_strdup (err->message);
      g_clear_error (&err);
      return none && uploading ? PURPLE_CMD_RET_OK : PURPLE_CMD_RET_FAILED;
    }
  return PURPLE_CMD_RET_OK;
}

/* /reconnect: try now instead of waiting for the next try. */
static PurpleCmdRet
cmd_reconnect (PurpleConversation *conv, const gchar *cmd, gchar **args,
               gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  rdt_write_system (PURPLE_CONV_CHAT (conv),
                    rdt_session_reconnect_now (rc->session)
                        ? _("Reconnecting now...")
                        : _("Connected: nothing to reconnect."),
                    PURPLE_MESSAGE_SYSTEM);
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

/* ---- members (issue #5) ---- */

/* Async results land in the chat the command was typed in, if it is still
 * open: remember it by account + chat id, not by pointer. */
typedef struct {
  gint chat_id;
  gchar *what;
} CmdOp;

static CmdOp *
cmd_op_new (PurpleConversation *conv, const gchar *what)
{
  CmdOp *op = g_new0 (CmdOp, 1);

  op->chat_id = purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv));
  op->what = g_strdup (what);
  return op;
}

static PurpleConvChat *
cmd_op_chat (RdtConn *rc, CmdOp *op)
{
  PurpleConversation *conv = purple_find_chat (rc->gc, op->chat_id);

  return conv ? PURPLE_CONV_CHAT (conv) : NULL;
}

static void
cmd_op_free (CmdOp *op)
{
  g_free (op->what);
  g_free (op);
}

static PurpleCmdRet
cmd_members (PurpleConversation *conv, const gchar *cmd, gchar **args,
             gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  gchar *text;

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  text = rdt_roles_describe_all (rc);
  rdt_write_system (PURPLE_CONV_CHAT (conv), text, PURPLE_MESSAGE_SYSTEM);
  g_free (text);
  return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_whois (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  g_autofree gchar *uid = NULL, *name = NULL;
  gchar *text;

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  /* "s": the whole rest of the line, a nick with spaces, maybe quoted */
  uid = rdt_roles_find_member (rc, args[0], &name);
  if (uid == NULL)
    {
      *error = g_strdup_printf (_("No member called \"%s\"."), name);
      return PURPLE_CMD_RET_FAILED;
    }
  text = rdt_roles_describe (rc, uid);
  rdt_write_system (PURPLE_CONV_CHAT (conv), text, PURPLE_MESSAGE_SYSTEM);
  g_free (text);
  return PURPLE_CMD_RET_OK;
}

static void
on_cmd_written (RdtConn *rc, const GError *err, gpointer user_data)
{
  CmdOp *op = user_data;
  PurpleConvChat *chat = rc ? cmd_op_chat (rc, op) : NULL;
  gchar *text;

  if (rc == NULL)
    {
      cmd_op_free (op);   /* logged out meanwhile */
      return;
    }
  if (err != NULL)
    text = g_strdup_printf (_("%s failed: %s"), op->what, err->message);
  else
    text = g_strdup_printf (_("%s: done."), op->what);
  rdt_write_system (chat, text, err ? PURPLE_MESSAGE_ERROR : PURPLE_MESSAGE_SYSTEM);
  g_free (text);
  cmd_op_free (op);
}

static PurpleCmdRet
cmd_add_member (PurpleConversation *conv, const gchar *cmd, gchar **args,
                gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  gchar *uid, *what;

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  uid = g_strstrip (g_strdup (args[0]));
  if (!rdt_id_is_valid (uid, RDT_ID_USER))
    {
      *error = g_strdup_printf (_("\"%s\" is not a member ID (U...)."), uid);
      g_free (uid);
      return PURPLE_CMD_RET_FAILED;
    }
  what = g_strdup_printf (_("Adding member %s"), uid);
  rdt_members_add_member (rc, uid, on_cmd_written, cmd_op_new (conv, what));
  g_free (what);
  g_free (uid);
  return PURPLE_CMD_RET_OK;
}

/* /space-name [name]: show the space's name, or (the owner) set it. */
static PurpleCmdRet
cmd_space_name (PurpleConversation *conv, const gchar *cmd, gchar **args,
                gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  RdtState *state = rc ? rdt_members_get_state (rc) : NULL;
  g_autofree gchar *name = NULL, *text = NULL;

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  if (args[0] == NULL || *g_strstrip (args[0]) == '\0')
    {
      name = state ? rdt_state_get_space_name (state) : NULL;
      if (name != NULL)
        text = g_strdup_printf (_("Space name: %s"), name);
      else
        {
          g_autofree gchar *label = rdt_space_label (rc);

          text = g_strdup_printf (_("This space has no name yet; it is shown "
                                    "as %s."), label);
        }
      rdt_write_system (PURPLE_CONV_CHAT (conv), text, PURPLE_MESSAGE_SYSTEM);
      return PURPLE_CMD_RET_OK;
    }
  /* said at once, not after a refused write */
  if (state != NULL && !rdt_space_is_owner (rc))
    {
      *error = g_strdup (_("Only the space's owner can name the space."));
      return PURPLE_CMD_RET_FAILED;
    }
  rdt_space_set_name (rc, args[0], on_cmd_written,
                      cmd_op_new (conv, _("Naming the space")));
  return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_nick (PurpleConversation *conv, const gchar *cmd, gchar **args,
          gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  rdt_members_set_display_name (rc, args[0], on_cmd_written,
                                cmd_op_new (conv, _("Setting your display name")));
  return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_topic (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = rdt_topic_for_conv (conv);

  if (rc == NULL || topic == NULL)
    return PURPLE_CMD_RET_FAILED;
  if (args[0] == NULL || *args[0] == '\0')
    {
      /* the topic line, without the space's name it shows */
      g_autofree gchar *name = rdt_space_strip_label (rc,
          purple_conv_chat_get_topic (PURPLE_CONV_CHAT (conv)));
      gchar *text = g_strdup_printf (_("Topic %s: %s"), topic,
                                     name ? name : _("(no name)"));

      rdt_write_system (PURPLE_CONV_CHAT (conv), text, PURPLE_MESSAGE_SYSTEM);
      g_free (text);
      return PURPLE_CMD_RET_OK;
    }
  rdt_members_set_topic_name (rc, topic, args[0], on_cmd_written,
                              cmd_op_new (conv, _("Renaming the topic")));
  return PURPLE_CMD_RET_OK;
}

static void
on_invitation (RdtConn *rc, const gchar *invitation, const GError *err,
               gpointer user_data)
{
  CmdOp *op = user_data;
  PurpleConvChat *chat = rc ? cmd_op_chat (rc, op) : NULL;

  if (rc == NULL)
    ;                   /* logged out meanwhile */
  else if (err != NULL)
    {
      gchar *text = g_strdup_printf (_("Could not create an invitation: %s"),
                                     err->message);

      rdt_write_system (chat, text, PURPLE_MESSAGE_ERROR);
      g_free (text);
    }
  else
    {
      rdt_actions_show_invitation (rc, invitation);
      rdt_write_system (chat, _("Invitation created: it is shown in a "
                                "separate window."), PURPLE_MESSAGE_SYSTEM);
    }
  cmd_op_free (op);
}

static PurpleCmdRet
cmd_invite (PurpleConversation *conv, const gchar *cmd, gchar **args,
            gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));

  if (rc == NULL)
    return PURPLE_CMD_RET_FAILED;
  rdt_members_create_invitation (rc, on_invitation, cmd_op_new (conv, NULL));
  return PURPLE_CMD_RET_OK;
}

/* ---- /history (issue #16) ---- */

#define RDT_HISTORY_DEFAULT 50
#define RDT_HISTORY_MAX 1000

/* A time of the header: the clock time, with the date when not today. */
static gchar *
history_time (gint64 ms)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (ms / 1000);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();

  if (dt == NULL)
    return g_strdup ("?");
  if (g_date_time_get_year (dt) == g_date_time_get_year (now)
      && g_date_time_get_day_of_year (dt) == g_date_time_get_day_of_year (now))
    return g_date_time_format (dt, "%H:%M");
  return g_date_time_format (dt, "%Y-%m-%d %H:%M");
}

static void
history_line (RdtConn *rc, const gchar *topic_id, const gchar *text)
{
  g_autofree gchar *html = purple_markup_escape_text (text, -1);

  /* through the transcript, so that it stays in order and is logged */
  rdt_transcript_write (rc, topic_id, NULL, html, PURPLE_MESSAGE_SYSTEM,
                        time (NULL), 0);
}

static void
history_message (RdtConn *rc, const RdtSessionMessage *m, const gchar *text)
{
  g_autofree gchar *html = purple_markup_escape_text (text ? text : m->text,
                                                      -1);
  PurpleMessageFlags flags = (m->own ? PURPLE_MESSAGE_SEND
                                     : PURPLE_MESSAGE_RECV)
                             | PURPLE_MESSAGE_DELAYED;

  rdt_transcript_write_from (rc, m->topic_id, m->sender, m->own, html, flags,
                             (time_t) (m->timestamp / 1000));
}

/* libpurple cannot prepend: the older messages come as a block, a header
 * line first, each line from its sender at its server time. */
static void
on_history (RdtSession *session, const gchar *topic_id, GPtrArray *messages,
            gboolean at_start, const GError *error, gpointer user_data)
{
  RdtConn *rc = user_data;
  PurpleConvChat *chat = rdt_chat_for_topic (rc, topic_id);

  if (chat == NULL)
    return;
  rdt_relations_ui_flush_burst (rc, topic_id);   /* what came before */
  if (error != NULL)
    {
      g_autofree gchar *text = g_strdup_printf (
          _("Could not load older messages: %s"), error->message);

      rdt_write_system (chat, text, PURPLE_MESSAGE_ERROR);
      return;
    }
  if (messages->len > 0)
    {
      const RdtSessionMessage *first = g_ptr_array_index (messages, 0);
      const RdtSessionMessage *last =
          g_ptr_array_index (messages, messages->len - 1);
      g_autofree gchar *from = history_time (first->timestamp);
      g_autofree gchar *to = history_time (last->timestamp);
      /* Translators: a header above a block of older messages, e.g.
       * "— 50 earlier messages, 12:01 to 12:44 —". */
      g_autofree gchar *header = g_strdup_printf (
          g_dngettext (GETTEXT_PACKAGE, "— %u earlier message, %s to %s —",
                       "— %u earlier messages, %s to %s —", messages->len),
          messages->len, from, to);

      history_line (rc, topic_id, header);
    }
  if (at_start)
    history_line (rc, topic_id, _("— this is the start of the topic —"));
  /* folded like the backlog a chat opens with; relations shown before
   * whose target is in the block follow it (relations-ui.c) */
  rdt_relations_ui_show_page (rc, topic_id, messages, history_message);
}

/* /history [N]: the N messages before the oldest one shown. */
static PurpleCmdRet
cmd_history (PurpleConversation *conv, const gchar *cmd, gchar **args,
             gchar **error, void *data)
{
  RdtConn *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  const gchar *topic = rdt_topic_for_conv (conv);
  guint64 n = RDT_HISTORY_DEFAULT;

  if (rc == NULL || topic == NULL)
    return PURPLE_CMD_RET_FAILED;
  if (args[0] != NULL && *g_strstrip (args[0]) != '\0'
      && !g_ascii_string_to_unsigned (args[0], 10, 1, RDT_HISTORY_MAX, &n,
                                      NULL))
    {
      *error = g_strdup_printf (_("Usage: /history [N], N from 1 to %u."),
                                RDT_HISTORY_MAX);
      return PURPLE_CMD_RET_FAILED;
    }
  rdt_session_load_history (rc->session, topic, (guint) n, on_history, rc);
  return PURPLE_CMD_RET_OK;
}

void
rdt_commands_register (void)
{
  PurpleCmdFlag f = PURPLE_CMD_FLAG_CHAT | PURPLE_CMD_FLAG_PRPL_ONLY;

  rdt_cmd_ids = g_slist_prepend (rdt_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("retry", "", PURPLE_CMD_P_PRPL, f, RDT_PRPL_ID,
                           cmd_retry,
                           _("retry: send again the messages of this chat that failed to send, and the last file whose upload failed."),
                           NULL)));
  rdt_cmd_ids = g_slist_prepend (rdt_cmd_ids, GUINT_TO_POINTER (
      purple_cmd_register ("chain", "", PURPLE_CMD_P_PRPL, f, RDT_PRPL_ID,
                           cmd_chain,
                           _("chain: say whether the messages of this topic are verified (signatures and hash chain), and how many wait to be sent."),
                           NULL)));
#define REG(name, args, fn, help) \
  rdt_cmd_ids = g_slist_prepend (rdt_cmd_ids, GUINT_TO_POINTER ( \
      purple_cmd_register (name, args, PURPLE_CMD_P_PRPL, f, RDT_PRPL_ID, \
                           fn, help, NULL)))
  REG ("reconnect", "", cmd_reconnect,
       _("reconnect: while the connection is lost, try to reconnect now instead of waiting for the next try."));
  REG ("members", "", cmd_members,
       _("members: list the members of the space with their names, roles (owner, admin, member) and IDs."));
  REG ("whois", "s", cmd_whois,
       _("whois &lt;nick or member ID&gt;: show a member's ID, display name, role and what they may do. A nick with spaces needs no quotes."));
  REG ("add-member", "w", cmd_add_member,
       _("add-member &lt;member ID&gt;: make this member ID (U...) a member of the space, able to chat (needs admin rights)."));
  REG ("invite", "", cmd_invite,
       _("invite: create a single-use invitation to this space, to send to one person (needs admin rights)."));
  REG ("nick", "s", cmd_nick,
       _("nick &lt;name&gt;: set your display name, seen by every member."));
  f |= PURPLE_CMD_FLAG_ALLOW_WRONG_ARGS;
  REG ("space-name", "s", cmd_space_name,
       _("space-name [name]: show the space's name, or (the owner only) name the space for every member."));
  REG ("topic", "s", cmd_topic,
       _("topic [name]: show this topic's name, or rename it for every member."));
  REG ("history", "s", cmd_history,
       _("history [N]: show the N messages (default 50, at most 1000) before the oldest one shown, as a block."));
#undef REG
  rdt_relations_ui_register_commands (&rdt_cmd_ids);
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
