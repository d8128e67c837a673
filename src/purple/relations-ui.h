/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relations-ui.h - replies, reactions, edits and deletes in a chat (issue
 * #17, core relations.h): one aggregator per open chat, fed every verified
 * message in chain order; the four relation types shown as lines that name
 * their target ("↳ Alice 12:03:10: first words…", "Alice edited
 * (12:03:10): new text"), since libpurple cannot change a line already
 * shown; and the commands /reply, /react, /unreact, /edit, /delete. */
#pragma once

#include <glib.h>

#include "conn.h"

G_BEGIN_DECLS

/* A verified message of an open chat, before it is shown (chat.c): fed to
 * the chat's aggregator. TRUE when it is a relation, shown here; FALSE
 * for an ordinary message, which the caller shows, then calls
 * rdt_relations_ui_flush(). */
gboolean rdt_relations_ui_on_message (RdtConn *rc,
                                      const RdtSessionMessage *msg);
/* Shows the held relations that the last ordinary message let apply (its
 * line is written now). */
void     rdt_relations_ui_flush (RdtConn *rc, const gchar *topic_id);
/* Backlog folding. The backlog a chat opens with comes in one burst:
 * held here (TRUE) instead of shown, then shown folded (edits, deletes and
 * reactions whose target is in the burst applied before display: the
 * final text with "(edited)", deleted messages left out, reactions summed
 * up after their target) when rdt_relations_ui_flush_burst() is called or
 * the main loop is idle. show writes an ordinary message, with text
 * instead of its own when not NULL, without feeding it here again. */
typedef void (*RdtRelationsUiShow) (RdtConn *rc, const RdtSessionMessage *msg,
                                    const gchar *text);
gboolean rdt_relations_ui_hold (RdtConn *rc, const RdtSessionMessage *msg,
                                RdtRelationsUiShow show_fn);
/* Before anything else is written to the chat of topic_id (NULL: every
 * chat): the burst held, folded. */
void     rdt_relations_ui_flush_burst (RdtConn *rc, const gchar *topic_id);
/* A page of older messages (RdtSessionMessage, /history), shown folded
 * the same way through show_fn. */
void     rdt_relations_ui_show_page (RdtConn *rc, const gchar *topic_id,
                                     GPtrArray *msgs,
                                     RdtRelationsUiShow show_fn);
/* The chat is left: its aggregator is dropped. */
void     rdt_relations_ui_forget_topic (RdtConn *rc, const gchar *topic_id);
/* The account closes. */
void     rdt_relations_ui_free (RdtConn *rc);

/* A line sent as text (chat.c) that is one of the commands: a UI without
 * libpurple's commands (BitlBee) passes "/react last 👍" on as text. Runs
 * it, says a failure in the chat, and returns TRUE; FALSE: not one. */
gboolean rdt_relations_ui_typed_command (RdtConn *rc, const gchar *topic_id,
                                         const gchar *line);
/* The commands (commands.c adds their ids to its list). */
void     rdt_relations_ui_register_commands (GSList **cmd_ids);

G_END_DECLS
