/* SPDX-License-Identifier: GPL-2.0-or-later */
/* transcript.c - chat entries in chain order (see transcript.h).
 *
 * Each chat with a held entry has a FIFO of entries; the head is written
 * as soon as it is ready. Only a held head has a timer: its deadline is
 * counted from when it was held, so a page of history with several images
 * waits RDT_TRANSCRIPT_WAIT_MS at most in all, not per image. */
#include "config.h"

#include <glib.h>

#include <conversation.h>
#include <core.h>
#include <imgstore.h>
#include <util.h>

#include "members.h"
#include "transcript.h"

typedef struct {
  gchar *topic_id;
  gchar *who;
  gchar *sender;          /* a member id whose nick is who, or NULL */
  gboolean own;
  gchar *about;           /* html is a text about this member, or NULL */
  gchar *actor;           /* mention: RDT_TRANSCRIPT_ACTOR's member */
  gboolean mention;       /* html is plain text with nick markers */
  gchar *html;            /* NULL while held */
  gchar *placeholder;
  gint img_id;            /* a reference of ours until written, or 0 */
  PurpleMessageFlags flags;
  time_t mtime;
  guint64 ticket;         /* 0: not held */
  gint64 deadline_us;     /* monotonic */
} Entry;

typedef struct {
  GQueue entries;         /* Entry*, oldest first */
  guint timer;
} Pending;

typedef struct {
  RdtConn *rc;
  GHashTable *chats;      /* topic id -> Pending* */
  GHashTable *held;       /* ticket -> Entry* (owned by its queue) */
  GHashTable *late;       /* ticket -> Entry* whose placeholder went out */
  guint64 next_ticket;
} Display;

typedef struct {
  Display *d;
  gchar *topic_id;
} TimerData;

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->topic_id);
  g_free (e->who);
  g_free (e->sender);
  g_free (e->about);
  g_free (e->actor);
  g_free (e->html);
  g_free (e->placeholder);
  if (e->img_id != 0)
    purple_imgstore_unref_by_id (e->img_id);
  g_free (e);
}

static void
pending_free (gpointer data)
{
  Pending *p = data;

  if (p->timer != 0)
    g_source_remove (p->timer);
  g_queue_clear_full (&p->entries, entry_free);
  g_free (p);
}

static Display *
display_of (RdtConn *rc)
{
  Display *d = rc->transcript;

  if (d == NULL)
    {
      d = g_new0 (Display, 1);
      d->rc = rc;
      d->chats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        pending_free);
      d->held = g_hash_table_new (g_int64_hash, g_int64_equal);
      d->late = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                       entry_free);
      d->next_ticket = 1;
      rc->transcript = d;
    }
  return d;
}

/* A mention's text with its markers replaced by the nicks now, escaped,
 * its newlines as line breaks. */
static gchar *
mention_html (RdtConn *rc, const gchar *text, const gchar *actor,
              const gchar *subject)
{
  g_autofree gchar *a = actor ? rdt_members_nick_for (rc, actor) : NULL;
  g_autofree gchar *s = subject ? rdt_members_nick_for (rc, subject) : NULL;
  g_autofree gchar *t1 = purple_strreplace (text, RDT_TRANSCRIPT_ACTOR,
                                            a ? a : "");
  g_autofree gchar *t2 = purple_strreplace (t1, RDT_TRANSCRIPT_SUBJECT,
                                            s ? s : "");
  g_autofree gchar *esc = purple_markup_escape_text (t2, -1);

  return purple_strreplace (esc, "\n", "<br>");
}

static void
write_now (RdtConn *rc, const gchar *topic_id, const gchar *who,
           const gchar *sender, gboolean own, const gchar *about,
           const gchar *actor, gboolean mention,
           const gchar *html, PurpleMessageFlags flags, time_t mtime)
{
  PurpleConvChat *chat = rdt_chat_for_topic (rc, topic_id);
  g_autofree gchar *nick = NULL, *line = NULL, *escaped = NULL;

  if (chat == NULL)
    return;
  if (mention)
    html = escaped = mention_html (rc, html, actor, about);
  else if (about != NULL)    /* its nick now too */
    {
      g_autofree gchar *subject = rdt_members_nick_for (rc, about);

      line = purple_strreplace (html, "%s", subject);
      html = escaped = purple_markup_escape_text (line, -1);
    }
  if (sender != NULL)   /* its nick now, not when it came */
    who = nick = rdt_members_line_nick (rc, chat, sender, own);
  if (who == NULL)    /* an entry of no one's (a member joined...) */
    purple_conversation_write (purple_conv_chat_get_conversation (chat), NULL,
                               html, flags, mtime);
  else
    purple_conv_chat_write (chat, who, html, flags, mtime);
}

static void flush (Display *d, const gchar *topic_id);

static gboolean
on_deadline (gpointer data)
{
  TimerData *td = data;
  Pending *p = g_hash_table_lookup (td->d->chats, td->topic_id);
  Entry *head;

  if (p == NULL)
    return FALSE;
  p->timer = 0;
  head = g_queue_peek_head (&p->entries);
  if (head != NULL && head->html == NULL
      && head->deadline_us <= g_get_monotonic_time ())
    {
      /* Too late for its place: the placeholder takes it, the content
       * follows as an entry of its own. */
      g_queue_pop_head (&p->entries);
      g_hash_table_remove (td->d->held, &head->ticket);
      write_now (td->d->rc, head->topic_id, head->who, head->sender,
                 head->own, NULL, NULL, FALSE, head->placeholder,
                 head->flags, head->mtime);
      g_hash_table_insert (td->d->late, &head->ticket, head);
    }
  flush (td->d, td->topic_id);
  return FALSE;
}

static void
timer_data_free (gpointer data)
{
  TimerData *td = data;

  g_free (td->topic_id);
  g_free (td);
}

/* Write the ready entries at the head of the chat's queue; a held head
 * gets a timer for its deadline. */
static void
flush (Display *d, const gchar *topic_id)
{
  /* topic_id may be an entry's, freed below (rdt_transcript_fill) */
  g_autofree gchar *topic = g_strdup (topic_id);
  Pending *p;
  Entry *head = NULL;

  if (!rdt_members_names_ready (d->rc))
    return;
  /* looked up again after each write: a UI may leave the chat
   * (rdt_transcript_forget_topic) from inside purple_conv_chat_write */
  while ((p = g_hash_table_lookup (d->chats, topic)) != NULL
         && (head = g_queue_peek_head (&p->entries)) != NULL
         && head->html != NULL)
    {
      g_queue_pop_head (&p->entries);
      write_now (d->rc, head->topic_id, head->who, head->sender, head->own,
                 head->about, head->actor, head->mention, head->html,
                 head->flags, head->mtime);
      entry_free (head);
    }
  if (p == NULL)
    return;
  if (head == NULL)
    {
      g_hash_table_remove (d->chats, topic);   /* and its timer */
      return;
    }
  if (p->timer == 0)
    {
      gint64 left = head->deadline_us - g_get_monotonic_time ();
      TimerData *td = g_new0 (TimerData, 1);

      td->d = d;
      td->topic_id = g_strdup (topic);
      /* A GLib source, as xfer.c's: purple_timeout_add has no destroy
       * notify for the data. */
      p->timer = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                     (guint) MAX (left / 1000, 0),
                                     on_deadline, td, timer_data_free);
    }
}

static Entry *
entry_new (const gchar *topic_id, const gchar *who, PurpleMessageFlags flags,
           time_t mtime)
{
  Entry *e = g_new0 (Entry, 1);

  e->topic_id = g_strdup (topic_id);
  e->who = g_strdup (who);
  e->flags = flags;
  e->mtime = mtime;
  return e;
}

static Pending *
pending_of (Display *d, const gchar *topic_id)
{
  Pending *p = g_hash_table_lookup (d->chats, topic_id);

  if (p == NULL)
    {
      p = g_new0 (Pending, 1);
      g_queue_init (&p->entries);
      g_hash_table_insert (d->chats, g_strdup (topic_id), p);
    }
  return p;
}

static void
write_entry (RdtConn *rc, const gchar *topic_id, const gchar *who,
             const gchar *sender, gboolean own, const gchar *about,
             const gchar *actor, gboolean mention,
             const gchar *html, PurpleMessageFlags flags, time_t mtime,
             gint img_id)
{
  Display *d = rc->transcript;
  Pending *p = d != NULL ? g_hash_table_lookup (d->chats, topic_id) : NULL;
  Entry *e;

  if (p == NULL && rdt_members_names_ready (rc))
    {
      write_now (rc, topic_id, who, sender, own, about, actor, mention, html,
                 flags, mtime);
      return;
    }
  p = pending_of (display_of (rc), topic_id);
  e = entry_new (topic_id, who, flags, mtime);
  e->sender = g_strdup (sender);
  e->own = own;
  e->about = g_strdup (about);
  e->actor = g_strdup (actor);
  e->mention = mention;
  e->html = g_strdup (html);
  /* the image cache may let it go before the entry is written */
  if (img_id != 0 && purple_imgstore_find_by_id (img_id) != NULL)
    {
      purple_imgstore_ref_by_id (img_id);
      e->img_id = img_id;
    }
  g_queue_push_tail (&p->entries, e);
}

void
rdt_transcript_write (RdtConn *rc, const gchar *topic_id, const gchar *who,
                   const gchar *html, PurpleMessageFlags flags, time_t mtime,
                   gint img_id)
{
  write_entry (rc, topic_id, who, NULL, FALSE, NULL, NULL, FALSE, html, flags,
               mtime, img_id);
}

void
rdt_transcript_write_from (RdtConn *rc, const gchar *topic_id,
                           const gchar *sender, gboolean own,
                           const gchar *html, PurpleMessageFlags flags,
                           time_t mtime)
{
  write_entry (rc, topic_id, NULL, sender, own, NULL, NULL, FALSE, html,
               flags, mtime, 0);
}

void
rdt_transcript_write_about (RdtConn *rc, const gchar *topic_id,
                            const gchar *subject, const gchar *text,
                            PurpleMessageFlags flags, time_t mtime)
{
  write_entry (rc, topic_id, NULL, NULL, FALSE, subject, NULL, FALSE, text,
               flags, mtime, 0);
}

void
rdt_transcript_write_mention (RdtConn *rc, const gchar *topic_id,
                              const gchar *sender, gboolean own,
                              const gchar *actor, const gchar *subject,
                              const gchar *text, PurpleMessageFlags flags,
                              time_t mtime)
{
  write_entry (rc, topic_id, NULL, sender, own, subject, actor, TRUE, text,
               flags, mtime, 0);
}

void
rdt_transcript_names_ready (RdtConn *rc)
{
  Display *d = rc->transcript;
  GList *topics;

  if (d == NULL)
    return;
  /* flush drops a chat's queue once it is empty */
  topics = g_hash_table_get_keys (d->chats);
  for (GList *l = topics; l; l = l->next)
    l->data = g_strdup (l->data);
  for (GList *l = topics; l; l = l->next)
    flush (d, l->data);
  g_list_free_full (topics, g_free);
}

guint64
rdt_transcript_hold (RdtConn *rc, const gchar *topic_id, const gchar *who,
                  PurpleMessageFlags flags, time_t mtime,
                  const gchar *placeholder)
{
  Display *d = display_of (rc);
  Pending *p = pending_of (d, topic_id);
  Entry *e = entry_new (topic_id, who, flags, mtime);

  e->placeholder = g_strdup (placeholder);
  e->ticket = d->next_ticket++;
  e->deadline_us = g_get_monotonic_time ()
                   + (gint64) RDT_TRANSCRIPT_WAIT_MS * 1000;
  g_queue_push_tail (&p->entries, e);
  g_hash_table_insert (d->held, &e->ticket, e);
  flush (d, topic_id);
  return e->ticket;
}

void
rdt_transcript_fill (RdtConn *rc, guint64 ticket, const gchar *html,
                  PurpleMessageFlags extra_flags, gint img_id)
{
  Display *d = rc->transcript;
  Entry *e;

  if (d == NULL || ticket == 0)
    return;
  e = g_hash_table_lookup (d->held, &ticket);
  if (e != NULL)
    {
      g_hash_table_remove (d->held, &ticket);
      e->html = g_strdup (html);
      e->flags |= extra_flags;
      if (img_id != 0 && purple_imgstore_find_by_id (img_id) != NULL)
        {
          purple_imgstore_ref_by_id (img_id);
          e->img_id = img_id;
        }
      flush (d, e->topic_id);
      return;
    }
  e = g_hash_table_lookup (d->late, &ticket);
  if (e != NULL)
    {
      rdt_transcript_write (rc, e->topic_id, e->who, html,
                         e->flags | extra_flags, e->mtime, img_id);
      g_hash_table_remove (d->late, &ticket);
    }
}

void
rdt_transcript_forget_topic (RdtConn *rc, const gchar *topic_id)
{
  Display *d = rc->transcript;
  Pending *p;
  GHashTableIter iter;
  gpointer value;

  if (d == NULL)
    return;
  p = g_hash_table_lookup (d->chats, topic_id);
  if (p != NULL)
    for (GList *l = p->entries.head; l != NULL; l = l->next)
      {
        Entry *e = l->data;

        if (e->ticket != 0)
          g_hash_table_remove (d->held, &e->ticket);
      }
  g_hash_table_remove (d->chats, topic_id);
  g_hash_table_iter_init (&iter, d->late);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((Entry *) value)->topic_id, topic_id) == 0)
      g_hash_table_iter_remove (&iter);
}

gboolean
rdt_transcript_ui_shows_images (void)
{
  const gchar *env = g_getenv ("RDT_INLINE_IMAGES");

  if (env != NULL && *env != '\0')
    return g_strcmp0 (env, "0") != 0;
  /* Pidgin; Finch and BitlBee show text only */
  return g_strcmp0 (purple_core_get_ui (), "gtk-gaim") == 0;
}

void
rdt_transcript_free (RdtConn *rc)
{
  Display *d = rc->transcript;

  if (d == NULL)
    return;
  g_hash_table_destroy (d->chats);
  g_hash_table_destroy (d->held);
  g_hash_table_destroy (d->late);
  g_free (d);
  rc->transcript = NULL;
}
