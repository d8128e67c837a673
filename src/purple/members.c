/* SPDX-License-Identifier: GPL-2.0-or-later */
/* members.c - members, display names and topic names (issue #5) on top of
 * the verified state (src/core/state.c).
 *
 * The state is synced when the account connects and again whenever the
 * stream says the state topic moved (the hint is not trusted: the sync
 * re-reads and verifies the log). After each sync that changed members,
 * profiles or topic metadata, the open chats are brought up to date: new
 * members added, renamed members renamed (libpurple prints "X is now known
 * as Y"), removed members removed, topic names set. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <debug.h>
#include <notify.h>
#include <roomlist.h>
#include <util.h>

#include "api.h"
#include "crypto.h"
#include "id.h"
#include "membership.h"
#include "nicks.h"
#include "statesync.h"

#include "members.h"
#include "roles.h"
#include "rooms.h"
#include "spacename.h"
#include "transcript.h"

/* After a failed sync, try again this much later (while connected). */
#define SYNC_RETRY_S 15
/* How long chats wait for the first state read before their user lists
 * and lines go out with short ids. */
#define NAMES_WAIT_MS 3000

/* m->filled: how a chat's user list was filled */
enum { FILLED_EARLY = 1, FILLED_SYNCED = 2 };

typedef struct {
  RdtConn *rc;
  RdtState *state;
  GCancellable *cancel;      /* every async call; cancelled at logout */
  gboolean syncing, again, synced;
  gboolean names_ready;      /* first read done or NAMES_WAIT_MS passed */
  guint names_timer;
  GHashTable *filled;        /* topic -> GINT FILLED_*: user list filled */
  guint retry_timer;
  guint shown_serial;        /* serial the chats reflect */
  guint warned_rejected;
  gchar *state_warning;      /* last one, repeated in chats joined later */
  GHashTable *nicks;         /* uid -> nick */
  GHashTable *by_nick;       /* g_utf8_collate_key (nick) -> uid */
  RdtNicks *nicker;          /* unique nicks, what they claim */
  GHashTable *seen_topics;   /* topic ids seen on the stream (set) */
  GHashTable *meta_tried;    /* topics whose metadata we tried to create */
  GSList *roomlists;         /* waiting for the first sync (refs) */
} Members;

/* Nicks are told apart as libpurple does (nicks.h). */
static const gchar *
normalize_nick (const gchar *text, gpointer user_data)
{
  RdtConn *rc = user_data;

  return purple_normalize (purple_connection_get_account (rc->gc), text);
}

static Members *
members_of (RdtConn *rc)
{
  return rc ? rc->members : NULL;
}

void
rdt_members_init (RdtConn *rc, const guint8 root[32])
{
  Members *m = g_new0 (Members, 1);
  RdtSpaceKeys *keys;

  keys = rdt_space_keys_new (root, rdt_session_get_space_id (rc->session));
  m->rc = rc;
  m->state = rdt_state_new (rdt_session_get_space_id (rc->session),
                            keys->state_key);
  rdt_space_keys_free (keys);
  m->cancel = g_cancellable_new ();
  m->shown_serial = G_MAXUINT;
  m->nicks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m->by_nick = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m->nicker = rdt_nicks_new (normalize_nick, rc);
  m->seen_topics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  m->meta_tried = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  m->filled = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rc->members = m;
}

static void finish_roomlists (Members *m);
static void fail_roomlists (Members *m, const GError *error);

void
rdt_members_free (RdtConn *rc)
{
  Members *m = members_of (rc);

  if (m == NULL)
    return;
  /* Pending callbacks see G_IO_ERROR_CANCELLED and touch nothing. */
  g_cancellable_cancel (m->cancel);
  g_object_unref (m->cancel);
  if (m->retry_timer)
    g_source_remove (m->retry_timer);
  if (m->names_timer)
    g_source_remove (m->names_timer);
  for (GSList *l = m->roomlists; l; l = l->next)
    {
      purple_roomlist_set_in_progress (l->data, FALSE);
      purple_roomlist_unref (l->data);
    }
  g_slist_free (m->roomlists);
  rdt_state_free (m->state);
  g_free (m->state_warning);
  g_hash_table_destroy (m->nicks);
  g_hash_table_destroy (m->by_nick);
  rdt_nicks_free (m->nicker);
  g_hash_table_destroy (m->seen_topics);
  g_hash_table_destroy (m->meta_tried);
  g_hash_table_destroy (m->filled);
  g_free (m);
  rc->members = NULL;
}

RdtState *
rdt_members_get_state (RdtConn *rc)
{
  Members *m = members_of (rc);

  return m && m->synced ? m->state : NULL;
}

/* ---- nicks ---- */

/* Our own nick as libpurple compares it, for members.c's own checks. */
static gboolean
same_as_own_nick (Members *m, const gchar *nick)
{
  RdtConn *rc = m->rc;
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  g_autofree gchar *own = NULL;

  if (rc->nick == NULL)
    return FALSE;
  if (g_utf8_collate (nick, rc->nick) == 0)
    return TRUE;
  own = g_strdup (purple_normalize (account, rc->nick));
  return g_strcmp0 (purple_normalize (account, nick), own) == 0;
}

gchar *
rdt_members_nick_for (RdtConn *rc, const gchar *user_id)
{
  Members *m = members_of (rc);
  const gchar *nick = m ? g_hash_table_lookup (m->nicks, user_id) : NULL;
  g_autofree gchar *shortid = NULL;

  if (nick != NULL)
    return g_strdup (nick);
  shortid = rdt_id_short (user_id);
  if (shortid[0] == '\0')
    return g_strdup (user_id);
  /* Not (or not yet) a member: the short id, unless a member's nick or
   * short id, or ours, is that to libpurple; then the whole id. */
  if (m != NULL &&
      g_strcmp0 (user_id, rdt_session_get_member_id (rc->session)) != 0 &&
      (rdt_nicks_claimed_by_other (m->nicker, shortid, user_id) ||
       same_as_own_nick (m, shortid)))
    return g_strdup (user_id);
  return g_steal_pointer (&shortid);
}

const gchar *
rdt_members_lookup_nick (RdtConn *rc, const gchar *nick)
{
  Members *m = members_of (rc);
  g_autofree gchar *key = NULL;
  const gchar *uid, *found = NULL;
  GHashTableIter iter;
  gpointer id;

  if (m == NULL || nick == NULL)
    return NULL;
  key = g_utf8_collate_key (nick, -1);
  uid = g_hash_table_lookup (m->by_nick, key);
  if (uid != NULL)
    return uid;
  /* a full id, or the start of exactly one member's id (a short id) */
  g_hash_table_iter_init (&iter, m->nicks);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    {
      if (g_str_equal (id, nick))
        return id;
      if (strlen (nick) >= 9 && g_str_has_prefix (id, nick))
        {
          if (found != NULL)
            return NULL;    /* ground to one short id: say none */
          found = id;
        }
    }
  return found;
}

/* ---- keeping the open chats up to date ---- */

/* "general — Book club": the space's name tells two `general`s apart */
static void
update_chat_topic (Members *m, PurpleConvChat *chat, const gchar *topic_id)
{
  g_autofree gchar *name = rdt_state_get_topic_name (m->state, topic_id);
  g_autofree gchar *line = rdt_space_chat_title (m->rc, name ? name : topic_id);
  PurpleConversation *conv = purple_conv_chat_get_conversation (chat);

  if (g_strcmp0 (purple_conv_chat_get_topic (chat), line) != 0)
    purple_conv_chat_set_topic (chat, NULL, line);
  if (g_strcmp0 (purple_conversation_get_title (conv), line) != 0)
    purple_conversation_set_title (conv, line);
}

static void on_metadata_created (GObject *source, GAsyncResult *result,
                                 gpointer user_data);

/* "Creating a topic writes its metadata": a topic we are in that has no
 * metadata gets its id as name, once per login. Create-only, chained on
 * the head of our verified state: a name another member sets meanwhile
 * wins (the server's compare-and-swap refuses ours, and the re-read finds
 * theirs). Members without the right simply cannot (403, debug log only). */
static void
maybe_create_metadata (Members *m, const gchar *topic_id)
{
  g_autofree gchar *path = g_strconcat ("topics/", topic_id, "/metadata", NULL);
  g_autofree gchar *data = NULL;
  RdtApi *api = rdt_session_get_api (m->rc->session);

  if (!m->synced || api == NULL || rdt_state_lookup (m->state, path) != NULL ||
      g_hash_table_contains (m->meta_tried, topic_id))
    return;
  g_hash_table_add (m->meta_tried, g_strdup (topic_id));
  data = rdt_state_encode_topic_metadata (m->state, topic_id, topic_id, NULL);
  if (data == NULL)
    return;
  rdt_state_create_async (m->state, api, path, data, m->cancel,
                          on_metadata_created, m);
}

static void apply_state (Members *m);

static void
on_metadata_created (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  Members *m = user_data;     /* alive unless cancelled */

  if (rdt_state_create_finish (RDT_API (source), result, &error))
    {
      /* our entry is in the state now: show the name */
      if (rdt_state_get_serial (m->state) != m->shown_serial)
        apply_state (m);
      return;
    }
  /* Nothing to tell the user: the name is a default, and a real one (or
   * its absence) shows in the chat topic either way. */
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    purple_debug_info ("reeeductio", "topic metadata not written: %s\n",
                       error->message);
}

/* The owner as founder, admins as ops (roles.c), as a chat user. */
static PurpleConvChatBuddyFlags
flags_of (Members *m, const gchar *nick)
{
  const gchar *uid = rdt_members_lookup_nick (m->rc, nick);

  return uid ? rdt_roles_chat_flags (m->state, uid) : PURPLE_CBFLAGS_NONE;
}

/* Adds the nicks a chat does not list yet, in one call: one by one is
 * quadratic in Pidgin's user list for a big space. Those listed already
 * get their flags brought up to date (rights change). */
static void
add_missing_users (Members *m, PurpleConvChat *chat, GPtrArray *nicks,
                   gboolean arrivals)
{
  GList *users = NULL, *flags = NULL;

  for (guint i = nicks->len; i > 0; i--)
    {
      const gchar *nick = nicks->pdata[i - 1];
      PurpleConvChatBuddyFlags f = flags_of (m, nick);

      if (!purple_conv_chat_find_user (chat, nick))
        {
          users = g_list_prepend (users, (gpointer) nick);
          flags = g_list_prepend (flags, GINT_TO_POINTER (f));
        }
      else if (purple_conv_chat_user_get_flags (chat, nick) != f)
        purple_conv_chat_user_set_flags (chat, nick, f);
    }
  if (users != NULL)
    purple_conv_chat_add_users (chat, users, NULL, flags, arrivals);
  g_list_free (users);
  g_list_free (flags);
}

/* Nicks of the current members (borrowed from m->nicks). */
static GPtrArray *
member_nicks (Members *m)
{
  g_autoptr (GPtrArray) members = rdt_state_list_members (m->state);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < members->len; i++)
    {
      const gchar *nick = g_hash_table_lookup (m->nicks, members->pdata[i]);

      if (nick != NULL)
        g_ptr_array_add (out, (gpointer) nick);
    }
  return out;
}

/* A nick for a member on its way to its new one: its whole id, which no
 * other member's nick is. */
static gchar *
temporary_nick (PurpleConvChat *chat, const gchar *uid)
{
  gchar *tmp = g_strdup (uid);

  while (purple_conv_chat_find_user (chat, tmp))
    {
      gchar *longer = g_strconcat (tmp, "~", NULL);

      g_free (tmp);
      tmp = longer;
    }
  return tmp;
}

typedef struct {
  const gchar *uid;
  gchar *from;          /* what the chat shows now */
  const gchar *to;
  gboolean blocked;     /* to is still someone's in the chat */
} Rename;

/* The renames and removals of one chat (ours included: libpurple moves
 * the chat's nick). A rename onto a nick that is still in the list would
 * replace that user's entry: two members who swap names in one sync, or a
 * name that only changed its Unicode form. Such renames go through a
 * temporary nick and are done after all the others. */
static void
update_users (PurpleConvChat *chat, GHashTable *old_nicks, GHashTable *nicks)
{
  g_autoptr (GArray) renames = g_array_new (FALSE, FALSE, sizeof (Rename));
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  GHashTableIter n;
  gpointer uid, old;

  g_hash_table_iter_init (&n, old_nicks);
  while (g_hash_table_iter_next (&n, &uid, &old))
    {
      const gchar *now = g_hash_table_lookup (nicks, uid);

      if (!purple_conv_chat_find_user (chat, old))
        continue;
      if (now == NULL)
        g_ptr_array_add (gone, old);
      else if (!g_str_equal (now, old))
        {
          Rename r = { uid, g_strdup (old), now, FALSE };

          g_array_append_val (renames, r);
        }
    }
  for (guint i = 0; i < gone->len; i++)
    purple_conv_chat_remove_user (chat, gone->pdata[i],
                                  _("removed from the space"));
  for (guint i = 0; i < renames->len; i++)
    {
      Rename *r = &g_array_index (renames, Rename, i);

      r->blocked = purple_conv_chat_find_user (chat, r->to);
    }
  for (guint i = 0; i < renames->len; i++)
    {
      Rename *r = &g_array_index (renames, Rename, i);

      if (r->blocked)
        {
          gchar *tmp = temporary_nick (chat, r->uid);

          purple_conv_chat_rename_user (chat, r->from, tmp);
          g_free (r->from);
          r->from = tmp;
        }
    }
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < renames->len; i++)
      {
        Rename *r = &g_array_index (renames, Rename, i);

        if (r->blocked != (pass == 1))
          continue;
        /* nobody holds it any more, unless a stale entry does */
        if (purple_conv_chat_find_user (chat, r->to))
          purple_debug_warning ("reeeductio", "chat nick %s is taken\n", r->to);
        else
          purple_conv_chat_rename_user (chat, r->from, r->to);
      }
  for (guint i = 0; i < renames->len; i++)
    g_free (g_array_index (renames, Rename, i).from);
}

static void
refresh_chats (Members *m, GHashTable *old_nicks)
{
  RdtConn *rc = m->rc;
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  GHashTableIter iter;
  gpointer topic;
  g_autofree gchar *own = NULL;
  g_autoptr (GPtrArray) nicks = member_nicks (m);

  /* Our own nick first: chat.c writes our messages under it. The
   * connection's display name before any rename: libpurple takes our
   * entry's alias (Pidgin's user list) and our lines' sender from it. */
  own = rdt_members_nick_for (rc, rdt_session_get_member_id (rc->session));
  purple_connection_set_display_name (rc->gc, own);
  g_free (rc->nick);
  rc->nick = g_strdup (own);
  rdt_space_update_alias (rc);
  g_hash_table_iter_init (&iter, rc->topic_to_id);
  while (g_hash_table_iter_next (&iter, &topic, NULL))
    {
      PurpleConvChat *chat = rdt_chat_for_topic (rc, topic);

      gint filled = GPOINTER_TO_INT (g_hash_table_lookup (m->filled, topic));

      if (chat == NULL)
        continue;
      update_chat_topic (m, chat, topic);
      maybe_create_metadata (m, topic);
      if (filled == 0)
        {
          /* not listed yet: filled in one go when the names are ready */
          purple_conv_chat_set_nick (chat, own);
          continue;
        }
      update_users (chat, old_nicks, m->nicks);
      /* libpurple keeps the chat's nick normalized */
      if (g_strcmp0 (purple_conv_chat_get_nick (chat),
                     purple_normalize (account, own)) != 0)
        {
          g_autofree gchar *cur = g_strdup (purple_conv_chat_get_nick (chat));

          if (cur != NULL && purple_conv_chat_find_user (chat, cur) &&
              !purple_conv_chat_find_user (chat, own))
            purple_conv_chat_rename_user (chat, cur, own);
          purple_conv_chat_set_nick (chat, own);
        }
      /* members who joined the space since: arrivals, unless the list
       * was filled before the first read (then these were there) */
      add_missing_users (m, chat, nicks, filled == FILLED_SYNCED);
      g_hash_table_insert (m->filled, g_strdup (topic),
                           GINT_TO_POINTER (FILLED_SYNCED));
    }
}

/* Recomputes every member's nick (nicks.c) and applies the changes. */
static void
apply_state (Members *m)
{
  g_autoptr (GPtrArray) members = rdt_state_list_members (m->state);
  /* each profile decrypted once: names[i] is members[i]'s, or NULL */
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GHashTable *old = m->nicks;
  const gchar *self = rdt_session_get_member_id (m->rc->session);
  gboolean self_listed = FALSE;

  for (guint i = 0; i < members->len; i++)
    {
      self_listed |= g_str_equal (members->pdata[i], self);
      g_ptr_array_add (names, rdt_state_get_display_name (m->state,
                                                          members->pdata[i]));
    }
  /* We are always someone, even before an admin's entry is visible. */
  if (!self_listed)
    {
      g_ptr_array_add (members, g_strdup (self));
      g_ptr_array_add (names, NULL);
    }
  m->nicks = rdt_nicks_compute (m->nicker,
                                (const gchar *const *) members->pdata,
                                (const gchar *const *) names->pdata,
                                members->len);
  g_hash_table_remove_all (m->by_nick);
  for (guint i = 0; i < members->len; i++)
    g_hash_table_insert (m->by_nick,
                         g_utf8_collate_key (g_hash_table_lookup (
                             m->nicks, members->pdata[i]), -1),
                         g_strdup (members->pdata[i]));
  /* chats that still show short ids for members seen before the sync */
  {
    GHashTableIter iter;
    gpointer uid;

    g_hash_table_iter_init (&iter, m->nicks);
    while (g_hash_table_iter_next (&iter, &uid, NULL))
      if (!g_hash_table_contains (old, uid))
        g_hash_table_insert (old, g_strdup (uid), rdt_id_short (uid));
  }
  refresh_chats (m, old);
  g_hash_table_destroy (old);
  m->shown_serial = rdt_state_get_serial (m->state);
}

/* ---- sync ---- */

static void sync_start (Members *m);
static void names_now_ready (Members *m);
static void names_wait_start (Members *m);

static gboolean
on_retry_timer (gpointer data)
{
  Members *m = data;

  m->retry_timer = 0;
  sync_start (m);
  return G_SOURCE_REMOVE;
}

static void
on_synced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *why = NULL;
  guint n_rejected = 0;
  Members *m;
  gboolean ok;

  ok = rdt_state_sync_finish (NULL, result, &n_rejected, &why, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;    /* logged out: m is gone */
  m = user_data;
  m->syncing = FALSE;
  if (!ok)
    {
      purple_debug_warning ("reeeductio", "state sync failed: %s\n",
                            error->message);
      /* A lost connection is said by the session already; anything else
       * (a malformed or unpageable answer) is news for the user, once. */
      if (!g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK))
        {
          g_autofree gchar *text = g_strdup_printf (
              _("Warning: could not read the space's members and names: %s"),
              error->message);

          if (g_strcmp0 (text, m->state_warning) != 0)
            {
              rdt_write_all_chats (m->rc, text, PURPLE_MESSAGE_ERROR);
              g_free (m->state_warning);
              m->state_warning = g_steal_pointer (&text);
            }
        }
      if (m->roomlists != NULL)
        fail_roomlists (m, error);
      names_now_ready (m);
      if (rdt_session_get_state (m->rc->session) == RDT_SESSION_CONNECTED &&
          m->retry_timer == 0)
        m->retry_timer = g_timeout_add_seconds (SYNC_RETRY_S, on_retry_timer, m);
      return;
    }
  if (n_rejected > 0)
    {
      g_autofree gchar *text = g_strdup_printf (
          g_dngettext (GETTEXT_PACKAGE,
                       "Warning: %u entry of the space's state failed "
                       "verification and is ignored (%s).",
                       "Warning: %u entries of the space's state failed "
                       "verification and are ignored (%s).", n_rejected),
          n_rejected, why ? why : "");

      m->warned_rejected += n_rejected;
      rdt_write_all_chats (m->rc, text, PURPLE_MESSAGE_ERROR);
      g_free (m->state_warning);
      m->state_warning = g_steal_pointer (&text);
    }
  m->synced = TRUE;
  if (rdt_state_get_serial (m->state) != m->shown_serial)
    apply_state (m);
  names_now_ready (m);
  finish_roomlists (m);
  if (m->again)
    {
      m->again = FALSE;
      sync_start (m);
    }
}

static void
sync_start (Members *m)
{
  RdtApi *api = rdt_session_get_api (m->rc->session);

  if (api == NULL)
    return;             /* a session without network (the test double) */
  if (m->syncing)
    {
      m->again = TRUE;    /* one more pass when this one ends */
      return;
    }
  m->syncing = TRUE;
  rdt_state_sync_async (m->state, api, m->cancel, on_synced, m);
}

void
rdt_members_on_connected (RdtConn *rc)
{
  Members *m = members_of (rc);

  if (m == NULL)
    return;
  sync_start (m);
  names_wait_start (m);
}

void
rdt_members_on_state_message (RdtSession *session, const gchar *path,
                              const gchar *message_hash, const gchar *sender,
                              gint64 timestamp, gpointer user_data)
{
  Members *m = members_of (user_data);

  if (m != NULL)
    sync_start (m);
}

void
rdt_members_on_topic_seen (RdtSession *session, const gchar *topic_id,
                           gpointer user_data)
{
  Members *m = members_of (user_data);

  if (m != NULL && rdt_topic_id_validate (topic_id, NULL) &&
      g_hash_table_size (m->seen_topics) < 10000)
    g_hash_table_add (m->seen_topics, g_strdup (topic_id));
}

/* A chat's user list in one call (Finch prints one "List of N users"):
 * the members, ourselves included, under their nicks. */
static void
fill_chat (Members *m, PurpleConvChat *chat, const gchar *topic_id)
{
  RdtConn *rc = m->rc;
  g_autoptr (GPtrArray) nicks = member_nicks (m);
  gboolean own_listed = FALSE;

  purple_conv_chat_set_nick (chat, rc->nick);
  for (guint i = 0; i < nicks->len; i++)
    own_listed |= g_strcmp0 (nicks->pdata[i], rc->nick) == 0;
  if (!own_listed)
    g_ptr_array_insert (nicks, 0, rc->nick);
  add_missing_users (m, chat, nicks, FALSE);
  g_hash_table_insert (m->filled, g_strdup (topic_id),
                       GINT_TO_POINTER (m->synced ? FILLED_SYNCED
                                                  : FILLED_EARLY));
}

/* The first read is done, or took too long: the chats get their user
 * lists and the lines held for the names (transcript.c). */
static void
names_now_ready (Members *m)
{
  RdtConn *rc = m->rc;
  GHashTableIter iter;
  gpointer topic;

  if (m->names_ready)
    return;
  m->names_ready = TRUE;
  g_clear_handle_id (&m->names_timer, g_source_remove);
  g_hash_table_iter_init (&iter, rc->topic_to_id);
  while (g_hash_table_iter_next (&iter, &topic, NULL))
    {
      PurpleConvChat *chat = rdt_chat_for_topic (rc, topic);

      if (chat != NULL && !g_hash_table_contains (m->filled, topic))
        fill_chat (m, chat, topic);
    }
  rdt_transcript_names_ready (rc);
}

static gboolean
on_names_timer (gpointer data)
{
  Members *m = data;

  m->names_timer = 0;
  purple_debug_info ("reeeductio", "no member list after %d ms: short ids\n",
                     NAMES_WAIT_MS);
  names_now_ready (m);
  return G_SOURCE_REMOVE;
}

static void
names_wait_start (Members *m)
{
  if (rdt_session_get_api (m->rc->session) == NULL)
    names_now_ready (m);    /* nothing to read (the test double) */
  else if (!m->names_ready && m->names_timer == 0)
    m->names_timer = g_timeout_add (NAMES_WAIT_MS, on_names_timer, m);
}

gboolean
rdt_members_names_ready (RdtConn *rc)
{
  Members *m = members_of (rc);

  return m == NULL || m->names_ready;
}

gboolean
rdt_members_chat_filled (RdtConn *rc, const gchar *topic_id)
{
  Members *m = members_of (rc);

  return m == NULL || g_hash_table_contains (m->filled, topic_id);
}

gchar *
rdt_members_line_nick (RdtConn *rc, PurpleConvChat *chat, const gchar *sender,
                       gboolean own)
{
  gchar *who;

  /* libpurple keeps a line SEND when its sender is the chat's nick */
  if (own)
    return g_strdup (rc->nick);
  who = rdt_members_nick_for (rc, sender);
  /* ...and flags a line SEND (shown and logged as ours) when its sender
   * normalizes to the chat's nick: someone else's never may. The nicks
   * are unique; this is the last word on it. */
  if (g_strcmp0 (purple_normalize (purple_connection_get_account (rc->gc),
                                   who),
                 purple_conv_chat_get_nick (chat)) == 0)
    {
      g_free (who);
      who = g_strdup (sender);
    }
  return who;
}

void
rdt_members_chat_joined (RdtConn *rc, PurpleConvChat *chat,
                         const gchar *topic_id)
{
  Members *m = members_of (rc);

  if (m == NULL)
    {
      purple_conv_chat_add_user (chat, rc->nick, NULL, PURPLE_CBFLAGS_NONE,
                                 FALSE);
      return;
    }
  g_hash_table_add (m->seen_topics, g_strdup (topic_id));
  g_hash_table_remove (m->filled, topic_id);    /* joined again */
  if (m->state_warning != NULL)
    rdt_write_system (chat, m->state_warning, PURPLE_MESSAGE_ERROR);
  if (m->names_ready)
    fill_chat (m, chat, topic_id);
  else
    names_wait_start (m);
  if (!m->synced)
    return;
  update_chat_topic (m, chat, topic_id);
  maybe_create_metadata (m, topic_id);
}

/* ---- writes ---- */

/* A 403 on a state write means "not an admin": say that first, the
 * server's detail after it. */
static void
explain_forbidden (GError **error)
{
  if (g_error_matches (*error, RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN))
    {
      GError *e = g_error_new (RDT_API_ERROR, RDT_API_ERROR_FORBIDDEN,
                               _("this needs rights in the space that you do "
                                 "not have (%s)"), (*error)->message);

      g_error_free (*error);
      *error = e;
    }
}

typedef struct {
  Members *m;
  RdtMembersDone done;
  RdtMembersInviteDone invite_done;
  gpointer user_data;
} Op;

static void
on_op_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;

  if (g_task_get_source_tag (G_TASK (result)) == rdt_membership_add_member_async)
    rdt_membership_add_member_finish (RDT_API (source), result, &error);
  else
    rdt_state_write_finish (RDT_API (source), result, &error);
  explain_forbidden (&error);
  /* cancelled = logged out: op->m is gone, say so with rc == NULL */
  if (op->done)
    op->done (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                  ? NULL : op->m->rc,
              error, op->user_data);
  g_free (op);
}

static void
write_one (Members *m, const gchar *path, const gchar *data,
           RdtMembersDone done, gpointer user_data)
{
  Op *op = g_new0 (Op, 1);
  const gchar *paths[] = { path }, *datas[] = { data };

  op->m = m;
  op->done = done;
  op->user_data = user_data;
  rdt_state_write_async (rdt_session_get_api (m->rc->session), paths, datas, 1,
                         m->cancel, on_op_written, op);
}

static gboolean
fail_now (RdtConn *rc, RdtMembersDone done, gpointer user_data, GError *error)
{
  if (done)
    done (rc, error, user_data);
  g_error_free (error);
  return FALSE;
}

void
rdt_members_write_state (RdtConn *rc, const gchar *path, const gchar *data,
                         RdtMembersDone done, gpointer user_data)
{
  g_return_if_fail (members_of (rc) != NULL);
  write_one (members_of (rc), path, data, done, user_data);
}

void
rdt_members_set_display_name (RdtConn *rc, const gchar *name,
                              RdtMembersDone done, gpointer user_data)
{
  Members *m = members_of (rc);
  g_autofree gchar *path = NULL, *data = NULL;
  GError *error = NULL;

  g_return_if_fail (m != NULL);
  data = rdt_state_encode_profile (m->state, name, &error);
  if (data == NULL)
    {
      fail_now (rc, done, user_data, error);
      return;
    }
  path = g_strconcat ("profiles/", rdt_session_get_member_id (rc->session), NULL);
  write_one (m, path, data, done, user_data);
}

void
rdt_members_set_topic_name (RdtConn *rc, const gchar *topic_id,
                            const gchar *name, RdtMembersDone done,
                            gpointer user_data)
{
  Members *m = members_of (rc);
  g_autofree gchar *path = NULL, *data = NULL;
  GError *error = NULL;

  g_return_if_fail (m != NULL);
  data = rdt_state_encode_topic_metadata (m->state, topic_id, name, &error);
  if (data == NULL)
    {
      fail_now (rc, done, user_data, error);
      return;
    }
  path = g_strconcat ("topics/", topic_id, "/metadata", NULL);
  write_one (m, path, data, done, user_data);
}

void
rdt_members_add_member (RdtConn *rc, const gchar *user_id,
                        RdtMembersDone done, gpointer user_data)
{
  Members *m = members_of (rc);
  Op *op = g_new0 (Op, 1);

  g_return_if_fail (m != NULL);
  op->m = m;
  op->done = done;
  op->user_data = user_data;
  rdt_membership_add_member_async (rdt_session_get_api (rc->session), user_id,
                                   m->cancel, on_op_written, op);
}

static void
on_invited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Op *op = user_data;
  g_autoptr (GError) error = NULL;
  gchar *text = rdt_membership_invite_finish (RDT_API (source), result, &error);

  explain_forbidden (&error);
  op->invite_done (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                       ? NULL : op->m->rc,
                   text, error, op->user_data);
  rdt_secret_string_free (text);
  g_free (op);
}

void
rdt_members_create_invitation (RdtConn *rc, RdtMembersInviteDone done,
                               gpointer user_data)
{
  Members *m = members_of (rc);
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  const gchar *server = purple_account_get_string (account, "server",
                                                   RDT_DEFAULT_SERVER);
  Op *op;

  g_return_if_fail (m != NULL);
  op = g_new0 (Op, 1);
  op->m = m;
  op->invite_done = done;
  op->user_data = user_data;
  /* the space key as this login read it (keys.c): accounts.xml may not
   * hold it */
  rdt_membership_invite_async (rdt_session_get_api (rc->session), server,
                               rc->root, m->cancel, on_invited, op);
}

void
rdt_members_show_invitation (RdtConn *rc, const gchar *invitation)
{
  /* Shown once, in a window of its own, never in a chat or its log. */
  gchar *body = g_strdup_printf (
      _("Send this invitation to one person over a private channel. In "
        "their reeeductio account they paste it as the password (any user "
        "name), or use the account action \"Join another space with an "
        "invitation\"; it makes them a member of this space. It works once, "
        "and anyone who has it can read the space.<br><br><tt>%s</tt>"),
      invitation);

  purple_notify_formatted (rc->gc, _("Invitation"), _("Invitation created"),
                           NULL, body, NULL, NULL);
  rdt_secret_string_free (body);
}

/* ---- prpl: public alias = our display name ---- */

typedef struct {
  PurpleSetPublicAliasSuccessCallback ok;
  PurpleSetPublicAliasFailureCallback fail;
  gchar *alias;
} AliasOp;

static void
on_alias_written (RdtConn *rc, const GError *error, gpointer user_data)
{
  AliasOp *a = user_data;
  PurpleAccount *account = rc ? purple_connection_get_account (rc->gc) : NULL;

  if (rc == NULL)
    ;                   /* logged out meanwhile */
  else if (error != NULL)
    {
      gchar *text = g_strdup_printf (_("Could not set your display name: %s"),
                                     error->message);

      if (a->fail)
        a->fail (account, text);
      rdt_write_all_chats (rc, text, PURPLE_MESSAGE_ERROR);
      /* with no chat open and no failure callback, nobody would know */
      if (a->fail == NULL && g_hash_table_size (rc->topic_to_id) == 0)
        purple_notify_error (rc->gc, _("Display name"), text, NULL);
      g_free (text);
    }
  else if (a->ok)
    a->ok (account, a->alias);
  g_free (a->alias);
  g_free (a);
}

void
rdt_set_public_alias (PurpleConnection *gc, const char *alias,
                      PurpleSetPublicAliasSuccessCallback ok,
                      PurpleSetPublicAliasFailureCallback fail)
{
  RdtConn *rc = rdt_conn_of (gc);
  AliasOp *a;

  if (rc == NULL)
    {
      if (fail)
        fail (purple_connection_get_account (gc), _("Not connected."));
      return;
    }
  a = g_new0 (AliasOp, 1);
  a->ok = ok;
  a->fail = fail;
  a->alias = g_strdup (alias);
  rdt_members_set_display_name (rc, alias, on_alias_written, a);
}

void
rdt_get_public_alias (PurpleConnection *gc,
                      PurpleGetPublicAliasSuccessCallback ok,
                      PurpleGetPublicAliasFailureCallback fail)
{
  RdtConn *rc = rdt_conn_of (gc);
  PurpleAccount *account = purple_connection_get_account (gc);
  RdtState *state = rdt_members_get_state (rc);
  g_autofree gchar *name = state
      ? rdt_state_get_display_name (state, rdt_session_get_member_id (rc->session))
      : NULL;

  if (name != NULL)
    {
      if (ok)
        ok (account, name);
    }
  else if (fail)
    fail (account, state ? _("No display name is set.")
                         : _("The member list is not loaded yet."));
}

/* ---- prpl: topic names ---- */

typedef struct {
  gint chat_id;
} TopicOp;

static void
on_topic_written (RdtConn *rc, const GError *error, gpointer user_data)
{
  TopicOp *t = user_data;
  PurpleConversation *conv = rc ? purple_find_chat (rc->gc, t->chat_id) : NULL;

  if (error != NULL && conv != NULL)
    {
      gchar *text = g_strdup_printf (_("Could not rename the topic: %s"),
                                     error->message);

      rdt_write_system (PURPLE_CONV_CHAT (conv), text, PURPLE_MESSAGE_ERROR);
      g_free (text);
    }
  g_free (t);
}

void
rdt_set_chat_topic (PurpleConnection *gc, int id, const char *topic)
{
  RdtConn *rc = rdt_conn_of (gc);
  const gchar *topic_id;
  TopicOp *t;

  if (rc == NULL || rc->members == NULL)
    return;
  topic_id = g_hash_table_lookup (rc->id_to_topic, GINT_TO_POINTER (id));
  if (topic_id == NULL)
    return;
  t = g_new0 (TopicOp, 1);
  t->chat_id = id;
  /* The chat shows the new name once it comes back through the verified
   * state, like every other member sees it. */
  {
    g_autofree gchar *name = rdt_space_strip_label (rc, topic);

    rdt_members_set_topic_name (rc, topic_id, name, on_topic_written, t);
  }
}

/* ---- prpl: room list ---- */

static void
finish_roomlists (Members *m)
{
  GSList *lists = m->roomlists;

  m->roomlists = NULL;
  for (GSList *l = lists; l; l = l->next)
    {
      rdt_roomlist_fill (m->rc, l->data, m->state, m->seen_topics);
      purple_roomlist_unref (l->data);
    }
  g_slist_free (lists);
}

/* The sync a room list waited for failed: the list is finished with what
 * is known (the last good state, the topics seen and joined), and the user
 * told why it may be incomplete. */
static void
fail_roomlists (Members *m, const GError *error)
{
  g_autofree gchar *text = g_strdup_printf (
      m->synced ? _("The list shows the topics known from the last "
                    "successful read (%s).")
                : _("The list shows only the topics seen so far (%s)."),
      error->message);

  finish_roomlists (m);
  purple_notify_error (m->rc->gc, _("Room list"),
                       _("Could not read the space's topics."), text);
}

/* The room list waits for a fresh sync: what the user asked for now. */
gboolean
rdt_members_queue_roomlist (RdtConn *rc, PurpleRoomlist *list)
{
  Members *m = members_of (rc);

  if (m == NULL)
    return FALSE;
  purple_roomlist_ref (list);
  m->roomlists = g_slist_prepend (m->roomlists, list);
  sync_start (m);
  return TRUE;
}

void
rdt_members_unqueue_roomlist (RdtConn *rc, PurpleRoomlist *list)
{
  Members *m = members_of (rc);

  if (m != NULL && g_slist_find (m->roomlists, list))
    {
      m->roomlists = g_slist_remove (m->roomlists, list);
      purple_roomlist_unref (list);
    }
}
