/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relations-ui.c - replies, reactions, edits and deletes in a chat (see
 * relations-ui.h). The core's RdtRelations decides what counts (only the
 * author edits, the author or the owner deletes, reactions are sets);
 * this file says it in lines, through the transcript so that they are
 * entries in chain order and logged, and sends what the commands ask. */
#include "config.h"

#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <cmds.h>
#include <conversation.h>
#include <util.h>

#include "crypto.h"
#include "id.h"
#include "members.h"
#include "relations.h"
#include "relations-ui.h"
#include "transcript.h"

/* Characters of the target's text quoted in a line. */
#define QUOTE_CHARS 40

typedef struct {
  GHashTable *topics;        /* topic id -> RdtRelations */
  GHashTable *released;      /* topic id -> GPtrArray of results to show */
  GHashTable *bursts;        /* topic id -> GPtrArray of held messages */
  RdtRelationsUiShow show;
  guint idle;                /* shows the bursts */
} RelationsUi;

/* A held message of a burst: RdtSessionMessage with owned members. */
static RdtSessionMessage *
msg_copy (const RdtSessionMessage *m)
{
  RdtSessionMessage *c = g_new0 (RdtSessionMessage, 1);

  c->topic_id = g_strdup (m->topic_id);
  c->message_hash = g_strdup (m->message_hash);
  c->sender = g_strdup (m->sender);
  c->type = g_strdup (m->type);
  c->text = g_strdup (m->text);
  c->payload = m->payload ? g_bytes_ref (m->payload) : NULL;
  c->timestamp = m->timestamp;
  c->backlog = m->backlog;
  c->own = m->own;
  return c;
}

static void
msg_free (gpointer data)
{
  RdtSessionMessage *c = data;

  g_free ((gchar *) c->topic_id);
  g_free ((gchar *) c->message_hash);
  g_free ((gchar *) c->sender);
  g_free ((gchar *) c->type);
  g_free ((gchar *) c->text);
  /* attachments hold their file's key: wiped like the session's copy */
  rdt_secret_bytes_unref (c->payload);
  g_free (c);
}

static RelationsUi *
ui_of (RdtConn *rc)
{
  RelationsUi *ui = rc->relations;

  if (ui == NULL)
    {
      ui = g_new0 (RelationsUi, 1);
      ui->topics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) rdt_relations_free);
      ui->released = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_ptr_array_unref);
      ui->bursts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) g_ptr_array_unref);
      rc->relations = ui;
    }
  return ui;
}

static RdtRelations *
relations_of (RdtConn *rc, const gchar *topic_id, gboolean create)
{
  RelationsUi *ui = ui_of (rc);
  RdtRelations *rels = g_hash_table_lookup (ui->topics, topic_id);

  if (rels == NULL && create)
    {
      rels = rdt_relations_new ();
      g_hash_table_insert (ui->topics, g_strdup (topic_id), rels);
    }
  return rels;
}

/* The same signer: the same key under either letter (the owner signs as
 * S or U, spec 6.2). */
static gboolean
same_key (const gchar *a, const gchar *b)
{
  guint8 ka[32], kb[32];

  if (a == NULL || b == NULL)
    return FALSE;
  return strcmp (a, b) == 0
         || (rdt_id_get_public_key (a, ka, NULL)
             && rdt_id_get_public_key (b, kb, NULL)
             && memcmp (ka, kb, sizeof ka) == 0);
}

/* The space id is the owner's key: known before the state is read, so a
 * backlog folded at once counts the owner's deletes. */
static gboolean
is_owner (RdtConn *rc, const gchar *id)
{
  return same_key (id, rdt_session_get_space_id (rc->session));
}

/* ---- lines ---- */

/* Text from a message, put into a mention: without the nick markers. */
static gchar *
clean (const gchar *text)
{
  return g_strdelimit (g_strdup (text ? text : ""),
                       RDT_TRANSCRIPT_SUBJECT RDT_TRANSCRIPT_ACTOR, ' ');
}

/* The time the chat shows in front of a line, which /reply and the other
 * commands accept back. */
static gchar *
clock_of (gint64 ms)
{
  g_autoptr (GDateTime) dt = ms >= 0 ? g_date_time_new_from_unix_local (ms / 1000)
                                     : NULL;

  return dt ? g_date_time_format (dt, "%H:%M:%S") : g_strdup ("?");
}

/* The start of a target's text, on one line. */
static gchar *
quote_of (const gchar *text)
{
  g_autofree gchar *flat = clean (text);
  glong n;

  g_strdelimit (flat, "\n\r\t", ' ');
  g_strstrip (flat);
  n = g_utf8_strlen (flat, -1);
  if (n <= QUOTE_CHARS)
    return g_steal_pointer (&flat);
  *g_utf8_offset_to_pointer (flat, QUOTE_CHARS) = '\0';
  return g_strconcat (flat, "…", NULL);
}

static void
line (RdtConn *rc, const gchar *topic, const RdtRelationResult *res,
      const gchar *text, PurpleMessageFlags flags, time_t mtime)
{
  rdt_transcript_write_mention (rc, topic, NULL, FALSE, res->sender,
                                res->target_sender, text, flags, mtime);
}

/* What a relation's result shows. from_flags: of an entry from the
 * sender (SEND/RECV, DELAYED). */
static void
show (RdtConn *rc, const gchar *topic, const RdtRelationResult *res,
      gboolean own, PurpleMessageFlags from_flags)
{
  const RdtRelation *rel = res->relation;
  PurpleMessageFlags sys = PURPLE_MESSAGE_SYSTEM
                           | (from_flags & PURPLE_MESSAGE_DELAYED);
  time_t mtime = (time_t) (res->server_ts / 1000);
  const gchar *A = RDT_TRANSCRIPT_ACTOR, *S = RDT_TRANSCRIPT_SUBJECT;
  g_autofree gchar *when = clock_of (res->target_ts);
  g_autofree gchar *quote = quote_of (res->target_text);
  g_autofree gchar *text = NULL, *emoji = NULL, *out = NULL;

  if (res->kind == RDT_RELATION_RESULT_DUPLICATE)
    return;
  if (res->kind == RDT_RELATION_RESULT_INVALID || rel == NULL)
    {
      /* Translators: "Alice sent a reaction that cannot be read: why". */
      g_autofree gchar *why = clean (res->error ? res->error->message : "?");

      out = g_strdup_printf (_("%s sent a relation that cannot be read: %s"),
                             A, why);
      line (rc, topic, res, out, PURPLE_MESSAGE_ERROR | sys, mtime);
      return;
    }
  text = clean (rel->text);
  emoji = clean (rel->emoji);
  switch (res->kind)
    {
    case RDT_RELATION_RESULT_UNKNOWN_TARGET:
      out = g_strdup_printf (_("↳ (earlier message)\n%s"), text);
      rdt_transcript_write_mention (rc, topic, res->sender, own, NULL, NULL,
                                    out, from_flags, mtime);
      return;
    case RDT_RELATION_RESULT_PENDING:
      if (rel->kind == RDT_RELATION_EDIT)
        out = g_strdup_printf (_("%s edited (earlier message): %s"), A, text);
      else if (rel->kind == RDT_RELATION_DELETE)
        out = g_strdup_printf (_("%s deleted (earlier message)"), A);
      else if (rel->remove)
        out = g_strdup_printf (_("%s took back %s from (earlier message)"), A,
                               emoji);
      else
        out = g_strdup_printf (_("%s reacted %s to (earlier message)"), A,
                               emoji);
      line (rc, topic, res, out, sys, mtime);
      return;
    case RDT_RELATION_RESULT_REFUSED:
      if (rel->kind == RDT_RELATION_EDIT)
        out = g_strdup_printf (
            _("%s tried to edit a message by %s (%s); not applied."), A, S,
            when);
      else
        out = g_strdup_printf (
            _("%s tried to delete a message by %s (%s); not applied."), A, S,
            when);
      line (rc, topic, res, out, PURPLE_MESSAGE_ERROR | sys, mtime);
      return;
    case RDT_RELATION_RESULT_APPLIED:
      break;
    default:
      return;
    }
  switch (rel->kind)
    {
    case RDT_RELATION_REPLY:
      /* Translators: a reply's quote line, then the reply. */
      out = g_strdup_printf (_("↳ %s %s: “%s”\n%s"), S, when, quote, text);
      rdt_transcript_write_mention (rc, topic, res->sender, own, NULL,
                                    res->target_sender, out, from_flags,
                                    mtime);
      return;
    case RDT_RELATION_REACTION:
      if (!res->changed)
        return;   /* the same reaction again counts once: nothing new */
      out = rel->remove
          ? g_strdup_printf (_("%s took back %s from %s %s “%s”"), A, emoji,
                             S, when, quote)
          : g_strdup_printf (_("%s reacted %s to %s %s “%s”"), A, emoji, S,
                             when, quote);
      break;
    case RDT_RELATION_EDIT:
      out = g_strdup_printf (_("%s edited (%s): %s"), A, when, text);
      break;
    case RDT_RELATION_DELETE:
      if (!res->changed)
        return;
      if (g_strcmp0 (res->sender, res->target_sender) == 0)
        out = g_strdup_printf (_("%s deleted a message (%s)"), A, when);
      else
        out = g_strdup_printf (_("%s deleted a message by %s (%s)"), A, S,
                               when);
      break;
    }
  line (rc, topic, res, out, sys, mtime);
}

gboolean
rdt_relations_ui_on_message (RdtConn *rc, const RdtSessionMessage *msg)
{
  RdtRelations *rels = relations_of (rc, msg->topic_id, TRUE);
  RdtRelationsMessage m = { 0 };
  RdtRelationKind kind;
  g_autoptr (RdtRelationResult) res = NULL;
  GPtrArray *released = NULL;
  PurpleMessageFlags flags = msg->own ? PURPLE_MESSAGE_SEND
                                      : PURPLE_MESSAGE_RECV;

  if (msg->backlog)
    flags |= PURPLE_MESSAGE_DELAYED;
  m.hash = msg->message_hash;
  m.sender = msg->sender;
  m.type = msg->type;
  m.server_ts = msg->timestamp;
  m.plain = msg->payload;
  m.text = msg->text;
  m.sender_is_owner = is_owner (rc, msg->sender);
  if (m.hash == NULL || m.sender == NULL)
    return FALSE;
  res = rdt_relations_add (rels, &m, &released);
  if (released != NULL && released->len > 0)
    {
      GPtrArray *old = g_hash_table_lookup (ui_of (rc)->released,
                                            msg->topic_id);

      if (old != NULL)
        {
          for (guint i = 0; i < released->len; i++)
            g_ptr_array_add (old, g_ptr_array_steal_index (released, 0));
          g_ptr_array_unref (released);
        }
      else
        g_hash_table_insert (ui_of (rc)->released, g_strdup (msg->topic_id),
                             released);
      released = NULL;
    }
  g_clear_pointer (&released, g_ptr_array_unref);
  if (!rdt_relation_type_lookup (msg->type, &kind))
    return FALSE;
  show (rc, msg->topic_id, res, msg->own, flags);
  rdt_relations_ui_flush (rc, msg->topic_id);
  return TRUE;
}

void
rdt_relations_ui_flush (RdtConn *rc, const gchar *topic_id)
{
  RelationsUi *ui = rc->relations;
  g_autoptr (GPtrArray) released = NULL;
  g_autofree gchar *key = NULL;
  const gchar *own_id = rdt_session_get_member_id (rc->session);

  if (ui == NULL || !g_hash_table_steal_extended (ui->released, topic_id,
                                                  (gpointer *) &key,
                                                  (gpointer *) &released))
    return;
  for (guint i = 0; i < released->len; i++)
    {
      RdtRelationResult *r = released->pdata[i];
      gboolean own = g_strcmp0 (r->sender, own_id) == 0;

      show (rc, topic_id, r, own,
            (own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV)
            | PURPLE_MESSAGE_DELAYED);
    }
}

void
rdt_relations_ui_forget_topic (RdtConn *rc, const gchar *topic_id)
{
  RelationsUi *ui = rc->relations;

  if (ui == NULL)
    return;
  g_hash_table_remove (ui->topics, topic_id);
  g_hash_table_remove (ui->released, topic_id);
  g_hash_table_remove (ui->bursts, topic_id);
}

void
rdt_relations_ui_free (RdtConn *rc)
{
  RelationsUi *ui = rc->relations;

  if (ui == NULL)
    return;
  if (ui->idle)
    g_source_remove (ui->idle);
  g_hash_table_destroy (ui->bursts);
  g_hash_table_destroy (ui->topics);
  g_hash_table_destroy (ui->released);
  g_free (ui);
  rc->relations = NULL;
}

/* ---- backlog folding ---- */

static gboolean
on_idle (gpointer data)
{
  RdtConn *rc = data;

  ((RelationsUi *) rc->relations)->idle = 0;
  rdt_relations_ui_flush_burst (rc, NULL);
  return G_SOURCE_REMOVE;
}

gboolean
rdt_relations_ui_hold (RdtConn *rc, const RdtSessionMessage *msg,
                       RdtRelationsUiShow show_fn)
{
  RelationsUi *ui = ui_of (rc);
  GPtrArray *burst;

  if (!msg->backlog || msg->message_hash == NULL || msg->sender == NULL)
    return FALSE;
  burst = g_hash_table_lookup (ui->bursts, msg->topic_id);
  if (burst == NULL)
    {
      burst = g_ptr_array_new_with_free_func (msg_free);
      g_hash_table_insert (ui->bursts, g_strdup (msg->topic_id), burst);
    }
  g_ptr_array_add (burst, msg_copy (msg));
  ui->show = show_fn;
  if (ui->idle == 0)
    ui->idle = g_idle_add (on_idle, rc);
  return TRUE;
}

/* "Reactions: 👍 2, 🎉 1" after a message of the burst. */
static void
show_reactions (RdtConn *rc, const RdtSessionMessage *m, GPtrArray *reactions)
{
  GString *s = g_string_new (NULL);
  g_autofree gchar *when = clock_of (m->timestamp);
  g_autofree gchar *list = NULL, *out = NULL;

  for (guint i = 0; i < reactions->len; i++)
    {
      const RdtReaction *r = reactions->pdata[i];
      g_autofree gchar *e = clean (r->emoji);

      g_string_append_printf (s, "%s%s %u", i ? ", " : "", e, r->count);
    }
  list = g_string_free (s, FALSE);
  /* Translators: reactions to a message shown above, e.g. "Reactions to
   * Alice 12:03:10: 👍 2, 🎉 1". */
  out = g_strdup_printf (_("Reactions to %s %s: %s"), RDT_TRANSCRIPT_SUBJECT,
                         when, list);
  rdt_transcript_write_mention (rc, m->topic_id, NULL, FALSE, NULL, m->sender,
                                out, PURPLE_MESSAGE_SYSTEM
                                     | PURPLE_MESSAGE_DELAYED,
                                (time_t) (m->timestamp / 1000));
}

static void
flush_one (RdtConn *rc, const gchar *topic_id, GPtrArray *burst,
           RdtRelationsUiShow show_fn)
{
  RdtRelations *rels = relations_of (rc, topic_id, TRUE);
  g_autofree RdtRelationsMessage *page = g_new0 (RdtRelationsMessage,
                                                 burst->len);
  g_autoptr (GPtrArray) entries = NULL;
  const gchar *own_id = rdt_session_get_member_id (rc->session);

  for (guint i = 0; i < burst->len; i++)
    {
      const RdtSessionMessage *m = burst->pdata[i];

      page[i].hash = m->message_hash;
      page[i].sender = m->sender;
      page[i].type = m->type;
      page[i].server_ts = m->timestamp;
      page[i].plain = m->payload;
      page[i].text = m->text;
      page[i].sender_is_owner = is_owner (rc, m->sender);
    }
  entries = rdt_relations_fold_page (rels, page, burst->len);
  for (guint i = 0; i < entries->len; i++)
    {
      RdtFoldEntry *e = entries->pdata[i];
      const RdtSessionMessage *m = burst->pdata[e->index];
      RdtRelationKind kind;

      if (rdt_relation_type_lookup (m->type, &kind))
        show (rc, topic_id, e->result, m->own,
              (m->own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV)
              | PURPLE_MESSAGE_DELAYED);
      else if (show_fn != NULL)
        {
          /* Translators: the final text of a message edited by its author. */
          g_autofree gchar *edited = e->edited && e->text
              ? g_strdup_printf (_("%s (edited)"), e->text) : NULL;

          show_fn (rc, m, edited);
        }
      if (e->reactions != NULL && e->reactions->len > 0)
        show_reactions (rc, m, e->reactions);
      for (guint j = 0; e->released && j < e->released->len; j++)
        {
          RdtRelationResult *r = e->released->pdata[j];
          gboolean own = g_strcmp0 (r->sender, own_id) == 0;

          show (rc, topic_id, r, own,
                (own ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV)
                | PURPLE_MESSAGE_DELAYED);
        }
    }
}

void
rdt_relations_ui_flush_burst (RdtConn *rc, const gchar *topic_id)
{
  RelationsUi *ui = rc->relations;
  GList *topics;

  if (ui == NULL)
    return;
  topics = topic_id ? g_list_prepend (NULL, g_strdup (topic_id))
                    : g_hash_table_get_keys (ui->bursts);
  if (topic_id == NULL)
    for (GList *l = topics; l; l = l->next)
      l->data = g_strdup (l->data);
  for (GList *l = topics; l; l = l->next)
    {
      g_autoptr (GPtrArray) burst = NULL;
      g_autofree gchar *key = NULL;

      /* stolen first: showing may end up here again */
      if (g_hash_table_steal_extended (ui->bursts, l->data, (gpointer *) &key,
                                       (gpointer *) &burst))
        flush_one (rc, l->data, burst, ui->show);
      if (rc->relations == NULL)
        break;
    }
  g_list_free_full (topics, g_free);
}

void
rdt_relations_ui_show_page (RdtConn *rc, const gchar *topic_id,
                            GPtrArray *msgs, RdtRelationsUiShow show_fn)
{
  rdt_relations_ui_flush_burst (rc, topic_id);
  flush_one (rc, topic_id, msgs, show_fn);
}

/* ---- commands ---- */

/* A command's text argument as the person typed it (Pidgin passes markup). */
static gchar *
arg_text (const gchar *arg)
{
  gchar *plain = purple_markup_strip_html (arg ? arg : "");

  return g_strstrip (plain);
}

/* The message a <ref> names in the chat, or NULL and *error set. */
static gchar *
resolve (RdtConn *rc, const gchar *topic, const gchar *ref, gchar **error)
{
  RdtRelations *rels;
  g_autofree gchar *r = arg_text (ref);
  g_autoptr (GPtrArray) candidates = NULL;
  GError *err = NULL;
  gchar *hash;

  rdt_relations_ui_flush_burst (rc, topic);   /* what the chat shows */
  rels = relations_of (rc, topic, FALSE);

  if (rels == NULL)
    {
      *error = g_strdup (_("There is no message in this chat to refer to yet."));
      return NULL;
    }
  hash = rdt_relations_resolve_ref (rels, r, rdt_session_get_member_id (
                                      rc->session), NULL, &candidates, &err);
  if (hash != NULL)
    return hash;
  if (candidates != NULL && candidates->len > 0)
    {
      /* the candidates as the chat names them: time, nick, first words */
      GString *list = g_string_new (NULL);

      for (guint i = 0; i < candidates->len; i++)
        {
          const gchar *h = candidates->pdata[i];
          g_autofree gchar *when = clock_of (rdt_relations_get_ts (rels, h));
          g_autofree gchar *nick = rdt_members_nick_for (
              rc, rdt_relations_get_sender (rels, h));
          g_autofree gchar *quote = quote_of (rdt_relations_get_text (rels, h));

          g_string_append_printf (list, "%s%s %s “%s”", i ? "; " : "", when,
                                  nick, quote);
        }
      /* Translators: "2 messages at 12:03: 12:03:10 Bob “alpha”; ..." */
      *error = g_strdup_printf (_("%u messages at %s: %s. Say which with hh:mm:ss, last or last-mine."),
                                candidates->len, r, list->str);
      g_string_free (list, TRUE);
    }
  else
    *error = g_strdup (err->message);
  g_clear_error (&err);
  return NULL;
}

/* Sends a relation's plaintext (owned) with its kind's type; what: the
 * text a failure names (then /retry). */
static PurpleCmdRet
send_relation (RdtConn *rc, const gchar *topic, RdtRelationKind kind,
               gchar *plain, GError *encode_error, const gchar *what,
               gchar **error)
{
  GError *err = encode_error;
  guint64 id = 0;

  if (plain != NULL)
    id = rdt_session_send_payload (rc->session, topic,
                                   rdt_relation_type_name (kind),
                                   (const guint8 *) plain, strlen (plain),
                                   &err);
  g_free (plain);
  if (id == 0)
    {
      *error = g_strdup_printf (_("Not sent: %s"),
                                err ? err->message : "?");
      g_clear_error (&err);
      return PURPLE_CMD_RET_FAILED;
    }
  /* as a typed line: named if it fails, then /retry (chat.c) */
  g_hash_table_insert (rc->pending_text, g_memdup2 (&id, sizeof id),
                       g_strdup (what));
  return PURPLE_CMD_RET_OK;
}

static gboolean
cmd_context (PurpleConversation *conv, RdtConn **rc, const gchar **topic)
{
  *rc = rdt_conn_of (purple_conversation_get_gc (conv));
  *topic = rdt_topic_for_conv (conv);
  return *rc != NULL && *topic != NULL;
}

/* /reply <ref> <text> */
static PurpleCmdRet
cmd_reply (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  RdtConn *rc;
  const gchar *topic;
  g_autofree gchar *target = NULL, *text = NULL;
  GError *err = NULL;
  gchar *plain;

  if (!cmd_context (conv, &rc, &topic))
    return PURPLE_CMD_RET_FAILED;
  text = arg_text (args[1]);
  if (*text == '\0')
    {
      *error = g_strdup (_("Usage: /reply <message> <text>"));
      return PURPLE_CMD_RET_FAILED;
    }
  if ((target = resolve (rc, topic, args[0], error)) == NULL)
    return PURPLE_CMD_RET_FAILED;
  plain = rdt_relation_encode_reply (
      target, text, rdt_relations_get_text (relations_of (rc, topic, FALSE),
                                            target), &err);
  return send_relation (rc, topic, RDT_RELATION_REPLY, plain, err, text,
                        error);
}

static PurpleCmdRet
react (PurpleConversation *conv, gchar **args, gboolean remove,
       gchar **error)
{
  RdtConn *rc;
  const gchar *topic;
  g_autofree gchar *target = NULL, *emoji = NULL, *what = NULL;
  GError *err = NULL;
  gchar *plain;

  if (!cmd_context (conv, &rc, &topic))
    return PURPLE_CMD_RET_FAILED;
  emoji = arg_text (args[1]);
  if (!rdt_relation_check_emoji (emoji, &err))
    {
      *error = g_strdup (err->message);
      g_clear_error (&err);
      return PURPLE_CMD_RET_FAILED;
    }
  if ((target = resolve (rc, topic, args[0], error)) == NULL)
    return PURPLE_CMD_RET_FAILED;
  plain = rdt_relation_encode_reaction (target, emoji, remove, &err);
  what = g_strdup_printf ("/%s %s %s", remove ? "unreact" : "react", args[0],
                          emoji);
  return send_relation (rc, topic, RDT_RELATION_REACTION, plain, err, what,
                        error);
}

/* /react <ref> <emoji> */
static PurpleCmdRet
cmd_react (PurpleConversation *conv, const gchar *cmd, gchar **args,
           gchar **error, void *data)
{
  return react (conv, args, FALSE, error);
}

/* /unreact <ref> <emoji> */
static PurpleCmdRet
cmd_unreact (PurpleConversation *conv, const gchar *cmd, gchar **args,
             gchar **error, void *data)
{
  return react (conv, args, TRUE, error);
}

/* /edit <ref> <text>: only one's own messages (others would refuse it). */
static PurpleCmdRet
cmd_edit (PurpleConversation *conv, const gchar *cmd, gchar **args,
          gchar **error, void *data)
{
  RdtConn *rc;
  const gchar *topic;
  g_autofree gchar *target = NULL, *text = NULL;
  GError *err = NULL;
  gchar *plain;

  if (!cmd_context (conv, &rc, &topic))
    return PURPLE_CMD_RET_FAILED;
  text = arg_text (args[1]);
  if (*text == '\0')
    {
      *error = g_strdup (_("Usage: /edit <message> <new text>"));
      return PURPLE_CMD_RET_FAILED;
    }
  if ((target = resolve (rc, topic, args[0], error)) == NULL)
    return PURPLE_CMD_RET_FAILED;
  if (!same_key (rdt_relations_get_sender (relations_of (rc, topic, FALSE),
                                           target),
                 rdt_session_get_member_id (rc->session)))
    {
      *error = g_strdup (_("You can only edit your own messages."));
      return PURPLE_CMD_RET_FAILED;
    }
  plain = rdt_relation_encode_edit (target, text, &err);
  return send_relation (rc, topic, RDT_RELATION_EDIT, plain, err, text, error);
}

/* /delete <ref>: one's own messages; the owner's any. */
static PurpleCmdRet
cmd_delete (PurpleConversation *conv, const gchar *cmd, gchar **args,
            gchar **error, void *data)
{
  RdtConn *rc;
  const gchar *topic, *own_id;
  g_autofree gchar *target = NULL, *what = NULL;
  GError *err = NULL;
  gchar *plain;

  if (!cmd_context (conv, &rc, &topic))
    return PURPLE_CMD_RET_FAILED;
  if ((target = resolve (rc, topic, args[0], error)) == NULL)
    return PURPLE_CMD_RET_FAILED;
  own_id = rdt_session_get_member_id (rc->session);
  if (!same_key (rdt_relations_get_sender (relations_of (rc, topic, FALSE),
                                           target), own_id)
      && !is_owner (rc, own_id))
    {
      *error = g_strdup (_("You can only delete your own messages (the space's owner may delete any)."));
      return PURPLE_CMD_RET_FAILED;
    }
  plain = rdt_relation_encode_delete (target, &err);
  what = g_strdup_printf ("/delete %s", args[0]);
  return send_relation (rc, topic, RDT_RELATION_DELETE, plain, err, what,
                        error);
}

gboolean
rdt_relations_ui_typed_command (RdtConn *rc, const gchar *topic_id,
                                const gchar *line)
{
  static const gchar *const names[] = { "reply", "react", "unreact", "edit",
                                        "delete", NULL };
  PurpleConvChat *chat = rdt_chat_for_topic (rc, topic_id);
  PurpleConversation *conv;
  g_autofree gchar *cmd = NULL, *word = NULL, *error = NULL;
  PurpleCmdStatus st;

  if (chat == NULL || line[0] != '/')
    return FALSE;
  cmd = g_strdup (line + 1);
  word = g_strndup (cmd, strcspn (cmd, " \t"));
  if (!g_strv_contains (names, word))
    return FALSE;
  conv = purple_conv_chat_get_conversation (chat);
  st = purple_cmd_do_command (conv, cmd, cmd, &error);
  if (st == PURPLE_CMD_STATUS_OK)
    return TRUE;
  if (error == NULL)
    {
      /* wrong arguments: what the command takes, as /help says it */
      GList *help = purple_cmd_help (conv, word);

      error = help ? purple_markup_strip_html (help->data)
                   : g_strdup_printf (_("Usage: /%s"), word);
      g_list_free (help);
    }
  rdt_write_system (chat, error, PURPLE_MESSAGE_ERROR);
  return TRUE;
}

void
rdt_relations_ui_register_commands (GSList **cmd_ids)
{
  PurpleCmdFlag f = PURPLE_CMD_FLAG_CHAT | PURPLE_CMD_FLAG_PRPL_ONLY;

#define REG(name, args, fn, help) \
  *cmd_ids = g_slist_prepend (*cmd_ids, GUINT_TO_POINTER ( \
      purple_cmd_register (name, args, PURPLE_CMD_P_PRPL, f, RDT_PRPL_ID, \
                           fn, help, NULL)))
  REG ("reply", "ws", cmd_reply,
       _("reply &lt;message&gt; &lt;text&gt;: answer a message, shown with its start quoted. &lt;message&gt; is last, last-mine (your last), or the time shown in front of it (hh:mm or hh:mm:ss)."));
  REG ("react", "ws", cmd_react,
       _("react &lt;message&gt; &lt;emoji&gt;: react to a message (last, last-mine or its time hh:mm[:ss]) with an emoji."));
  REG ("unreact", "ws", cmd_unreact,
       _("unreact &lt;message&gt; &lt;emoji&gt;: take back your reaction to a message (last, last-mine or its time hh:mm[:ss])."));
  REG ("edit", "ws", cmd_edit,
       _("edit &lt;message&gt; &lt;text&gt;: replace the text of one of your messages (last-mine or its time hh:mm[:ss]); everyone sees the new text and can check it is yours."));
  REG ("delete", "w", cmd_delete,
       _("delete &lt;message&gt;: delete one of your messages (last-mine or its time hh:mm[:ss]); the space's owner may delete any."));
#undef REG
}
