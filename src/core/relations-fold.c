/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relations-fold.c - RdtRelations, one topic's aggregator of replies,
 * reactions, edits and deletes, and the backlog folding. See relations.h. */
#include "config.h"
#include "relations.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "display.h"
#include "error.h"
#include "id.h"

typedef struct {
  gchar     *hash;
  gchar     *sender;
  gint64     ts;
  gchar     *text;       /* kept start; NULL once deleted */
  gboolean   edited;
  gboolean   deleted;
  gboolean   is_action;  /* reaction, edit, delete, or unreadable relation:
                          * not something a relation may target */
  GHashTable *reactions; /* emoji -> set of member ids; NULL until one */
} Entry;

typedef struct {
  RdtRelation *rel;
  gchar       *hash;
  gchar       *sender;
  gint64       ts;
  gboolean     owner;
} Pending;

struct _RdtRelations {
  GHashTable *by_hash;   /* hash -> Entry (owned by order) */
  GQueue      order;     /* Entry, chain order */
  GQueue      pending;   /* Pending, oldest first */
  guint       max_messages;
  guint       max_pending;
};

static void
entry_free (Entry *e)
{
  g_free (e->hash);
  g_free (e->sender);
  g_free (e->text);
  g_clear_pointer (&e->reactions, g_hash_table_unref);
  g_free (e);
}

static void
pending_free (Pending *p)
{
  rdt_relation_free (p->rel);
  g_free (p->hash);
  g_free (p->sender);
  g_free (p);
}

void
rdt_relation_result_free (RdtRelationResult *res)
{
  if (res == NULL)
    return;
  rdt_relation_free (res->relation);
  g_free (res->hash);
  g_free (res->sender);
  g_free (res->target_sender);
  g_free (res->target_text);
  g_clear_error (&res->error);
  g_free (res);
}

void
rdt_reaction_free (RdtReaction *r)
{
  if (r == NULL)
    return;
  g_free (r->emoji);
  g_strfreev (r->members);
  g_free (r);
}

void
rdt_fold_entry_free (RdtFoldEntry *e)
{
  if (e == NULL)
    return;
  rdt_relation_result_free (e->result);
  g_free (e->text);
  g_clear_pointer (&e->reactions, g_ptr_array_unref);
  g_clear_pointer (&e->released, g_ptr_array_unref);
  g_free (e);
}

RdtRelations *
rdt_relations_new (void)
{
  RdtRelations *rels = g_new0 (RdtRelations, 1);

  rels->by_hash = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&rels->order);
  g_queue_init (&rels->pending);
  rels->max_messages = RDT_RELATIONS_MAX_MESSAGES;
  rels->max_pending = RDT_RELATIONS_MAX_PENDING;
  return rels;
}

void
rdt_relations_free (RdtRelations *rels)
{
  if (rels == NULL)
    return;
  g_hash_table_unref (rels->by_hash);
  g_queue_clear_full (&rels->order, (GDestroyNotify) entry_free);
  g_queue_clear_full (&rels->pending, (GDestroyNotify) pending_free);
  g_free (rels);
}

static void
trim (RdtRelations *rels)
{
  while (rels->order.length > rels->max_messages)
    {
      Entry *old = g_queue_pop_head (&rels->order);
      g_hash_table_remove (rels->by_hash, old->hash);
      entry_free (old);
    }
  while (rels->pending.length > rels->max_pending)
    pending_free (g_queue_pop_head (&rels->pending));
}

void
rdt_relations_set_limits (RdtRelations *rels, guint max_messages,
                          guint max_pending)
{
  if (max_messages)
    rels->max_messages = max_messages;
  if (max_pending)
    rels->max_pending = max_pending;
  trim (rels);
}

/* The same signer: the same id, or the same key under another type letter
 * (the owner signs as S or U, spec 6.2). */
static gboolean
same_signer (const gchar *a, const gchar *b)
{
  guint8 ka[32], kb[32];

  if (a == NULL || b == NULL)
    return FALSE;
  if (strcmp (a, b) == 0)
    return TRUE;
  return rdt_id_get_public_key (a, ka, NULL)
         && rdt_id_get_public_key (b, kb, NULL)
         && memcmp (ka, kb, 32) == 0;
}

/* One member counts once, whichever letter the key came with. */
static gchar *
member_key (const gchar *sender)
{
  gchar *u = rdt_id_convert (sender, RDT_ID_USER);
  return u ? u : g_strdup (sender);
}

static gchar *
kept_text (const gchar *text)
{
  g_autofree gchar *valid = g_utf8_make_valid (text ? text : "", -1);
  return g_utf8_substring (valid, 0,
                           MIN (g_utf8_strlen (valid, -1),
                                RDT_RELATIONS_KEPT_CHARS));
}

static Entry *
remember (RdtRelations *rels, const RdtRelationsMessage *msg,
          const gchar *text, gboolean is_action)
{
  Entry *e = g_new0 (Entry, 1);

  e->hash = g_strdup (msg->hash);
  e->sender = g_strdup (msg->sender);
  e->ts = msg->server_ts;
  e->text = is_action ? NULL : kept_text (text);
  e->is_action = is_action;
  g_hash_table_insert (rels->by_hash, e->hash, e);
  g_queue_push_tail (&rels->order, e);
  trim (rels);
  return e;
}

static gboolean
apply_reaction (Entry *t, const RdtRelation *rel, const gchar *sender,
                RdtRelationResult *res)
{
  g_autofree gchar *member = member_key (sender);
  GHashTable *set;

  if (t->reactions == NULL)
    t->reactions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) g_hash_table_unref);
  set = g_hash_table_lookup (t->reactions, rel->emoji);
  if (rel->remove)
    {
      res->changed = set && g_hash_table_remove (set, member);
      if (set && g_hash_table_size (set) == 0)
        g_hash_table_remove (t->reactions, rel->emoji);
      return TRUE;
    }
  if (set == NULL)
    {
      /* A member could otherwise pile up endless distinct "emoji". */
      if (g_hash_table_size (t->reactions) >= RDT_RELATIONS_MAX_EMOJIS)
        {
          g_set_error (&res->error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                       _("The message has too many different reactions"));
          return FALSE;
        }
      set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_hash_table_insert (t->reactions, g_strdup (rel->emoji), set);
    }
  res->changed = g_hash_table_add (set, g_steal_pointer (&member));
  return TRUE;
}

/* Apply rel (sent by sender) to its known target t, filling res. */
static void
apply (Entry *t, const RdtRelation *rel, const gchar *sender,
       gboolean owner, RdtRelationResult *res)
{
  res->target_sender = g_strdup (t->sender);
  res->target_ts = t->ts;
  res->target_text = g_strdup (t->text);
  res->changed = FALSE;
  if (t->is_action)
    {
      res->kind = RDT_RELATION_RESULT_INVALID;
      g_set_error (&res->error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("The target is a reaction, edit or delete, not a message"));
      return;
    }
  res->kind = RDT_RELATION_RESULT_APPLIED;
  switch (rel->kind)
    {
    case RDT_RELATION_REPLY:
      res->changed = TRUE;
      break;
    case RDT_RELATION_EDIT:
      if (!same_signer (sender, t->sender))
        res->kind = RDT_RELATION_RESULT_REFUSED;
      else if (!t->deleted)
        {
          /* Chain order: the author's last edit wins. */
          g_free (t->text);
          t->text = kept_text (rel->text);
          t->edited = TRUE;
          res->changed = TRUE;
        }
      break;
    case RDT_RELATION_DELETE:
      if (!same_signer (sender, t->sender) && !owner)
        res->kind = RDT_RELATION_RESULT_REFUSED;
      else if (!t->deleted)
        {
          t->deleted = TRUE;
          g_clear_pointer (&t->text, g_free);
          res->changed = TRUE;
        }
      break;
    case RDT_RELATION_REACTION:
    default:
      if (!apply_reaction (t, rel, sender, res))
        res->kind = RDT_RELATION_RESULT_INVALID;
      break;
    }
}

static RdtRelationResult *
result_new (const gchar *hash, const gchar *sender, gint64 ts)
{
  RdtRelationResult *res = g_new0 (RdtRelationResult, 1);

  res->hash = g_strdup (hash);
  res->sender = g_strdup (sender);
  res->server_ts = ts;
  res->target_ts = -1;
  return res;
}

/* Held relations waiting for t, applied now in the order they came, then
 * remembered like any relation (a second copy is a duplicate). Remembered
 * only after: remembering may forget the oldest messages. */
static void
release (RdtRelations *rels, Entry *t, GPtrArray *released)
{
  g_autoptr (GPtrArray) done = g_ptr_array_new_with_free_func (
    (GDestroyNotify) pending_free);
  GList *l = rels->pending.head;

  while (l)
    {
      GList *next = l->next;
      Pending *p = l->data;

      if (strcmp (p->rel->target, t->hash) == 0)
        {
          RdtRelationResult *res = result_new (p->hash, p->sender, p->ts);

          g_queue_delete_link (&rels->pending, l);
          apply (t, p->rel, p->sender, p->owner, res);
          res->relation = rdt_relation_copy (p->rel);
          g_ptr_array_add (done, p);
          if (released)
            g_ptr_array_add (released, res);
          else
            rdt_relation_result_free (res);
        }
      l = next;
    }
  for (guint i = 0; i < done->len; i++)
    {
      Pending *p = done->pdata[i];
      RdtRelationsMessage m = { 0 };

      m.hash = p->hash;
      m.sender = p->sender;
      m.server_ts = p->ts;
      remember (rels, &m, NULL, TRUE);
    }
}

static gboolean
is_known (RdtRelations *rels, const gchar *hash)
{
  if (g_hash_table_contains (rels->by_hash, hash))
    return TRUE;
  for (GList *l = rels->pending.head; l; l = l->next)
    if (strcmp (((Pending *) l->data)->hash, hash) == 0)
      return TRUE;
  return FALSE;
}

RdtRelationResult *
rdt_relations_add (RdtRelations *rels, const RdtRelationsMessage *msg,
                   GPtrArray **released)
{
  RdtRelationResult *res;
  RdtRelation *rel;
  GError *error = NULL;
  Entry *target, *self;
  g_autofree gchar *text = NULL;

  g_return_val_if_fail (rels && msg && msg->hash && msg->sender, NULL);
  if (released)
    *released = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_relation_result_free);
  res = result_new (msg->hash, msg->sender, msg->server_ts);
  if (is_known (rels, msg->hash))
    {
      res->kind = RDT_RELATION_RESULT_DUPLICATE;
      return res;
    }
  rel = rdt_relation_parse (msg->type, msg->plain, &error);
  if (error)
    {
      res->kind = RDT_RELATION_RESULT_INVALID;
      res->error = error;
      remember (rels, msg, NULL, TRUE);
      return res;
    }
  if (rel == NULL)
    {
      res->kind = RDT_RELATION_RESULT_MESSAGE;
      text = msg->text ? g_strdup (msg->text)
                       : rdt_display_text (msg->type, msg->plain);
      self = remember (rels, msg, text, FALSE);
      release (rels, self, released ? *released : NULL);
      return res;
    }
  res->relation = rel;
  target = g_hash_table_lookup (rels->by_hash, rel->target);
  if (target)
    apply (target, rel, msg->sender, msg->sender_is_owner, res);
  else if (rel->kind == RDT_RELATION_REPLY)
    res->kind = RDT_RELATION_RESULT_UNKNOWN_TARGET;
  else
    {
      Pending *p = g_new0 (Pending, 1);

      p->rel = rdt_relation_copy (rel);
      p->hash = g_strdup (msg->hash);
      p->sender = g_strdup (msg->sender);
      p->ts = msg->server_ts;
      p->owner = msg->sender_is_owner;
      g_queue_push_tail (&rels->pending, p);
      trim (rels);
      res->kind = RDT_RELATION_RESULT_PENDING;
      return res;
    }
  /* A reply is a message others can react to, edit, delete. */
  self = remember (rels, msg, rel->text, rel->kind != RDT_RELATION_REPLY);
  if (!self->is_action)
    release (rels, self, released ? *released : NULL);
  return res;
}

static Entry *
lookup (RdtRelations *rels, const gchar *hash)
{
  return hash ? g_hash_table_lookup (rels->by_hash, hash) : NULL;
}

gboolean
rdt_relations_knows (RdtRelations *rels, const gchar *hash)
{
  return lookup (rels, hash) != NULL;
}

const gchar *
rdt_relations_get_sender (RdtRelations *rels, const gchar *hash)
{
  Entry *e = lookup (rels, hash);
  return e ? e->sender : NULL;
}

gint64
rdt_relations_get_ts (RdtRelations *rels, const gchar *hash)
{
  Entry *e = lookup (rels, hash);
  return e ? e->ts : -1;
}

const gchar *
rdt_relations_get_text (RdtRelations *rels, const gchar *hash)
{
  Entry *e = lookup (rels, hash);
  return e ? e->text : NULL;
}

gboolean
rdt_relations_is_edited (RdtRelations *rels, const gchar *hash)
{
  Entry *e = lookup (rels, hash);
  return e && e->edited;
}

gboolean
rdt_relations_is_deleted (RdtRelations *rels, const gchar *hash)
{
  Entry *e = lookup (rels, hash);
  return e && e->deleted;
}

guint
rdt_relations_count_pending (RdtRelations *rels)
{
  return rels->pending.length;
}

static gint
reaction_cmp (gconstpointer a, gconstpointer b)
{
  const RdtReaction *ra = *(RdtReaction *const *) a;
  const RdtReaction *rb = *(RdtReaction *const *) b;

  if (ra->count != rb->count)
    return ra->count > rb->count ? -1 : 1;
  return strcmp (ra->emoji, rb->emoji);
}

static gint
str_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

GPtrArray *
rdt_relations_get_reactions (RdtRelations *rels, const gchar *hash)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (
    (GDestroyNotify) rdt_reaction_free);
  Entry *e = lookup (rels, hash);
  GHashTableIter it;
  gpointer key, value;

  if (e == NULL || e->reactions == NULL)
    return out;
  g_hash_table_iter_init (&it, e->reactions);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      RdtReaction *r = g_new0 (RdtReaction, 1);
      guint n;

      r->emoji = g_strdup (key);
      r->members = (GStrv) g_hash_table_get_keys_as_array (value, &n);
      /* The array holds the set's keys: copy them. */
      for (guint i = 0; i < n; i++)
        r->members[i] = g_strdup (r->members[i]);
      qsort (r->members, n, sizeof (gchar *), str_cmp);
      r->count = n;
      g_ptr_array_add (out, r);
    }
  g_ptr_array_sort (out, reaction_cmp);
  return out;
}

/* ---- references a person types ---- */

static gboolean
parse_clock (const gchar *ref, gint *h, gint *m, gint *s)
{
  guint n = strlen (ref);

  if ((n != 5 && n != 8) || !g_ascii_isdigit (ref[0])
      || !g_ascii_isdigit (ref[1]) || ref[2] != ':'
      || !g_ascii_isdigit (ref[3]) || !g_ascii_isdigit (ref[4]))
    return FALSE;
  if (n == 8 && (ref[5] != ':' || !g_ascii_isdigit (ref[6])
                 || !g_ascii_isdigit (ref[7])))
    return FALSE;
  *h = (ref[0] - '0') * 10 + ref[1] - '0';
  *m = (ref[3] - '0') * 10 + ref[4] - '0';
  *s = n == 8 ? (ref[6] - '0') * 10 + ref[7] - '0' : -1;
  return *h < 24 && *m < 60 && *s < 60;
}

static GDateTime *
local_time (gint64 ts_ms, GTimeZone *tz)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (ts_ms / 1000);
  return utc ? g_date_time_to_timezone (utc, tz) : NULL;
}

/* "12:03:05 UIE5dw6of: first words…" for the ambiguity error. */
static void
describe (GString *out, Entry *e, GTimeZone *tz)
{
  g_autoptr (GDateTime) t = local_time (e->ts, tz);
  g_autofree gchar *when = t ? g_date_time_format (t, "%H:%M:%S") : NULL;
  g_autofree gchar *who = rdt_id_short (e->sender);
  g_autofree gchar *words = g_utf8_substring (e->text, 0,
                                              MIN (g_utf8_strlen (e->text, -1),
                                                   30));

  if (out->len)
    g_string_append (out, "; ");
  g_string_append_printf (out, "%s %s: %s%s", when ? when : "?",
                          who ? who : e->sender, words,
                          g_utf8_strlen (e->text, -1) > 30 ? "\xe2\x80\xa6"
                                                           : "");
}

gchar *
rdt_relations_resolve_ref (RdtRelations *rels, const gchar *ref,
                           const gchar *own_id, GTimeZone *tz,
                           GPtrArray **candidates, GError **error)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new ();
  gboolean last, mine;
  gint h = 0, m = 0, s = 0;
  g_autofree gchar *r = g_strstrip (g_strdup (ref ? ref : ""));
  g_autoptr (GTimeZone) local = tz ? NULL : g_time_zone_new_local ();

  if (candidates)
    *candidates = NULL;
  if (local)
    tz = local;
  last = strcmp (r, "last") == 0;
  mine = strcmp (r, "last-mine") == 0;
  if (!last && !mine && !parse_clock (r, &h, &m, &s))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("Say which message: last, last-mine or the time shown "
                     "in front of it (hh:mm:ss or hh:mm)"));
      return NULL;
    }
  for (GList *l = rels->order.tail; l; l = l->prev)
    {
      Entry *e = l->data;
      g_autoptr (GDateTime) t = NULL;

      if (e->is_action || e->deleted)
        continue;
      if (last || mine)
        {
          if (last || same_signer (e->sender, own_id))
            return g_strdup (e->hash);
          continue;
        }
      if (e->ts < 0 || !(t = local_time (e->ts, tz)))
        continue;
      if (g_date_time_get_hour (t) == h && g_date_time_get_minute (t) == m
          && (s < 0 || g_date_time_get_second (t) == s))
        g_ptr_array_insert (found, 0, e);   /* chain order */
    }
  if (last || mine)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   mine ? _("You have no message here to refer to")
                        : _("There is no message here to refer to"));
      return NULL;
    }
  if (found->len == 1)
    return g_strdup (((Entry *) found->pdata[0])->hash);
  if (found->len == 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                   _("No message at %s"), r);
      return NULL;
    }
  {
    g_autoptr (GString) list = g_string_new (NULL);

    if (candidates)
      *candidates = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < found->len; i++)
      {
        describe (list, found->pdata[i], tz);
        if (candidates)
          g_ptr_array_add (*candidates,
                           g_strdup (((Entry *) found->pdata[i])->hash));
      }
    g_set_error (error, RDT_ERROR, RDT_ERROR_FAILED,
                 _("%u messages at %s, say which with hh:mm:ss: %s"),
                 found->len, r, list->str);
  }
  return NULL;
}

/* ---- backlog folding ---- */

static gboolean
folds_into_page (const RdtRelationResult *res, GHashTable *in_page)
{
  return res->kind == RDT_RELATION_RESULT_APPLIED && res->relation
         && res->relation->kind != RDT_RELATION_REPLY
         && g_hash_table_contains (in_page, res->relation->target);
}

GPtrArray *
rdt_relations_fold_page (RdtRelations *rels, const RdtRelationsMessage *page,
                         guint n_page)
{
  g_autoptr (RdtRelations) own = rels ? NULL : rdt_relations_new ();
  g_autoptr (GHashTable) in_page = g_hash_table_new (g_str_hash, g_str_equal);
  /* target -> the whole text of the author's last edit (rels keeps a start) */
  g_autoptr (GHashTable) edits = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree gboolean *hidden = g_new0 (gboolean, n_page + 1);
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (
    (GDestroyNotify) rdt_fold_entry_free);
  GPtrArray *out = g_ptr_array_new_with_free_func (
    (GDestroyNotify) rdt_fold_entry_free);

  if (own)
    rels = own;
  for (guint i = 0; i < n_page; i++)
    {
      RdtFoldEntry *e = g_new0 (RdtFoldEntry, 1);
      RdtRelationResult *rs[1];

      g_hash_table_insert (in_page, (gpointer) page[i].hash,
                           GUINT_TO_POINTER (i + 1));
      e->index = i;
      e->result = rdt_relations_add (rels, &page[i], &e->released);
      g_ptr_array_add (all, e);
      rs[0] = e->result;
      for (guint j = 0; j <= e->released->len; j++)
        {
          RdtRelationResult *res = j == 0 ? rs[0] : e->released->pdata[j - 1];
          guint at;

          if (!folds_into_page (res, in_page))
            continue;
          if (res->relation->kind == RDT_RELATION_EDIT && res->changed)
            g_hash_table_insert (edits, res->relation->target,
                                 res->relation->text);
          at = GPOINTER_TO_UINT (g_hash_table_lookup (in_page, res->hash));
          if (at)
            hidden[at - 1] = TRUE;
        }
      if (e->released->len == 0)
        g_clear_pointer (&e->released, g_ptr_array_unref);
    }
  for (guint i = 0; i < n_page; i++)
    {
      RdtFoldEntry *e = all->pdata[i];
      RdtRelation *rel = e->result->relation;
      const gchar *edit;
      gboolean message = e->result->kind == RDT_RELATION_RESULT_MESSAGE
                         || (rel && rel->kind == RDT_RELATION_REPLY);

      if (hidden[i] || e->result->kind == RDT_RELATION_RESULT_DUPLICATE
          || (message && rdt_relations_is_deleted (rels, page[i].hash)))
        continue;
      if (message)
        {
          edit = g_hash_table_lookup (edits, page[i].hash);
          e->edited = rdt_relations_is_edited (rels, page[i].hash);
          if (edit)
            e->text = g_strdup (edit);
          else if (e->edited)
            e->text = g_strdup (rdt_relations_get_text (rels, page[i].hash));
          else if (rel)
            e->text = g_strdup (rel->text);
          else
            e->text = page[i].text ? g_strdup (page[i].text)
                                   : rdt_display_text (page[i].type,
                                                       page[i].plain);
          e->reactions = rdt_relations_get_reactions (rels, page[i].hash);
          if (e->reactions->len == 0)
            g_clear_pointer (&e->reactions, g_ptr_array_unref);
        }
      else if (rel)
        e->text = g_strdup (rel->text);
      g_ptr_array_add (out, g_steal_pointer (&all->pdata[i]));
    }
  /* The edits table points into results: free the rest only now. */
  g_hash_table_remove_all (edits);
  return out;
}
