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

#include "api.h"
#include "crypto.h"
#include "id.h"
#include "membership.h"
#include "statesync.h"

#include "members.h"

/* After a failed sync, try again this much later (while connected). */
#define SYNC_RETRY_S 15

typedef struct {
  RdtConn *rc;
  RdtState *state;
  GCancellable *cancel;      /* every async call; cancelled at logout */
  gboolean syncing, again, synced;
  guint retry_timer;
  guint shown_serial;        /* serial the chats reflect */
  guint warned_rejected;
  gchar *state_warning;      /* last one, repeated in chats joined later */
  GHashTable *nicks;         /* uid -> nick */
  GHashTable *by_nick;       /* nick -> uid */
  GHashTable *seen_topics;   /* topic ids seen on the stream (set) */
  GHashTable *meta_tried;    /* topics whose metadata we tried to create */
  GSList *roomlists;         /* waiting for the first sync (refs) */
} Members;

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
  m->seen_topics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  m->meta_tried = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rc->members = m;
}

static void finish_roomlists (Members *m);

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
  g_hash_table_destroy (m->seen_topics);
  g_hash_table_destroy (m->meta_tried);
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

/* A name that could pass for someone's short id is never used alone. */
static gboolean
looks_like_id (const gchar *name)
{
  RdtIdType t;
  guint8 raw[RDT_ID_RAW_LENGTH];

  if (strlen (name) == 9 && (name[0] == 'U' || name[0] == 'T' || name[0] == 'S'))
    return TRUE;
  return rdt_id_decode (name, &t, raw, NULL);
}

/* name: the member's display name or NULL; name_counts: how many
 * members carry each name. */
static gchar *
compute_nick (const gchar *uid, const gchar *name, GHashTable *name_counts)
{
  g_autofree gchar *shortid = rdt_id_short (uid);

  if (name == NULL)
    return g_steal_pointer (&shortid);
  if (looks_like_id (name) ||
      GPOINTER_TO_UINT (g_hash_table_lookup (name_counts, name)) > 1)
    return g_strdup_printf ("%s (%s)", name, shortid);
  return g_strdup (name);
}

gchar *
rdt_members_nick_for (RdtConn *rc, const gchar *user_id)
{
  Members *m = members_of (rc);
  const gchar *nick = m ? g_hash_table_lookup (m->nicks, user_id) : NULL;
  gchar *shortid;

  if (nick != NULL)
    return g_strdup (nick);
  shortid = rdt_id_short (user_id);
  return shortid[0] ? shortid : (g_free (shortid), g_strdup (user_id));
}

const gchar *
rdt_members_lookup_nick (RdtConn *rc, const gchar *nick)
{
  Members *m = members_of (rc);
  const gchar *uid;
  GHashTableIter iter;
  gpointer key;

  if (m == NULL || nick == NULL)
    return NULL;
  uid = g_hash_table_lookup (m->by_nick, nick);
  if (uid != NULL)
    return uid;
  /* a full id, or a short id of a known member */
  g_hash_table_iter_init (&iter, m->nicks);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_equal (key, nick) ||
        (strlen (nick) >= 9 && g_str_has_prefix (key, nick)))
      return key;
  return NULL;
}

/* ---- keeping the open chats up to date ---- */

static void
update_chat_topic (Members *m, PurpleConvChat *chat, const gchar *topic_id)
{
  g_autofree gchar *name = rdt_state_get_topic_name (m->state, topic_id);
  const gchar *shown = purple_conv_chat_get_topic (chat);

  if (name != NULL && g_strcmp0 (shown, name) != 0)
    purple_conv_chat_set_topic (chat, NULL, name);
}

static void on_metadata_created (RdtConn *rc, const GError *error,
                                 gpointer user_data);

/* "Creating a topic writes its metadata": a topic we are in that has no
 * metadata gets its id as name, once per login. Members without the
 * right simply cannot (403, debug log only). */
static void
maybe_create_metadata (Members *m, const gchar *topic_id)
{
  g_autofree gchar *path = g_strconcat ("topics/", topic_id, "/metadata", NULL);

  if (!m->synced || rdt_state_lookup (m->state, path) != NULL ||
      g_hash_table_contains (m->meta_tried, topic_id))
    return;
  g_hash_table_add (m->meta_tried, g_strdup (topic_id));
  rdt_members_set_topic_name (m->rc, topic_id, topic_id, on_metadata_created,
                              NULL);
}

static void
on_metadata_created (RdtConn *rc, const GError *error, gpointer user_data)
{
  if (rc != NULL && error != NULL)
    purple_debug_info ("reeeductio", "topic metadata not written: %s\n",
                       error->message);
}

/* Adds the nicks a chat does not list yet, in one call: one by one is
 * quadratic in Pidgin's user list for a big space. */
static void
add_missing_users (PurpleConvChat *chat, GPtrArray *nicks)
{
  GList *users = NULL, *flags = NULL;

  for (guint i = nicks->len; i > 0; i--)
    if (!purple_conv_chat_find_user (chat, nicks->pdata[i - 1]))
      {
        users = g_list_prepend (users, nicks->pdata[i - 1]);
        flags = g_list_prepend (flags, GINT_TO_POINTER (PURPLE_CBFLAGS_NONE));
      }
  if (users != NULL)
    purple_conv_chat_add_users (chat, users, NULL, flags, FALSE);
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

static void
refresh_chats (Members *m, GHashTable *old_nicks)
{
  RdtConn *rc = m->rc;
  GHashTableIter iter;
  gpointer topic;
  g_autofree gchar *own = NULL;
  g_autoptr (GPtrArray) nicks = member_nicks (m);

  /* Our own nick first: chat.c writes our messages under it. */
  own = rdt_members_nick_for (rc, rdt_session_get_member_id (rc->session));
  g_hash_table_iter_init (&iter, rc->topic_to_id);
  while (g_hash_table_iter_next (&iter, &topic, NULL))
    {
      PurpleConvChat *chat = rdt_chat_for_topic (rc, topic);
      GHashTableIter n;
      gpointer uid, old;

      if (chat == NULL)
        continue;
      /* renames, including our own (libpurple moves the chat's nick) */
      g_hash_table_iter_init (&n, old_nicks);
      while (g_hash_table_iter_next (&n, &uid, &old))
        {
          const gchar *now = g_hash_table_lookup (m->nicks, uid);

          if (now != NULL && !g_str_equal (now, old) &&
              purple_conv_chat_find_user (chat, old))
            purple_conv_chat_rename_user (chat, old, now);
          else if (now == NULL && purple_conv_chat_find_user (chat, old))
            purple_conv_chat_remove_user (chat, old, _("removed from the space"));
        }
      if (g_strcmp0 (purple_conv_chat_get_nick (chat), own) != 0)
        {
          if (purple_conv_chat_find_user (chat, purple_conv_chat_get_nick (chat)))
            purple_conv_chat_rename_user (chat, purple_conv_chat_get_nick (chat), own);
          purple_conv_chat_set_nick (chat, own);
        }
      /* members who joined the space since */
      add_missing_users (chat, nicks);
      update_chat_topic (m, chat, topic);
      maybe_create_metadata (m, topic);
    }
  /* What libpurple shows for our own messages (not the account name). */
  purple_connection_set_display_name (rc->gc, own);
  g_free (rc->nick);
  rc->nick = g_steal_pointer (&own);
}

/* Recomputes every member's nick and applies the changes. */
static void
apply_state (Members *m)
{
  g_autoptr (GPtrArray) members = rdt_state_list_members (m->state);
  /* each profile decrypted once: names[i] is members[i]'s, or NULL */
  g_autoptr (GPtrArray) names = g_ptr_array_new_full (members->len, g_free);
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTable *old = m->nicks;
  const gchar *self = rdt_session_get_member_id (m->rc->session);

  for (guint i = 0; i < members->len; i++)
    {
      gchar *name = rdt_state_get_display_name (m->state, members->pdata[i]);

      g_ptr_array_add (names, name);
      if (name != NULL)
        g_hash_table_insert (counts, name, GUINT_TO_POINTER (
            GPOINTER_TO_UINT (g_hash_table_lookup (counts, name)) + 1));
    }
  m->nicks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_remove_all (m->by_nick);
  for (guint i = 0; i < members->len; i++)
    {
      gchar *nick = compute_nick (members->pdata[i], names->pdata[i], counts);

      g_hash_table_insert (m->nicks, g_strdup (members->pdata[i]), nick);
      g_hash_table_insert (m->by_nick, g_strdup (nick),
                           g_strdup (members->pdata[i]));
    }
  /* We are always someone, even before an admin's entry is visible. */
  if (!g_hash_table_contains (m->nicks, self))
    {
      gchar *nick = rdt_id_short (self);

      g_hash_table_insert (m->nicks, g_strdup (self), nick);
      g_hash_table_insert (m->by_nick, g_strdup (nick), g_strdup (self));
    }
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

  if (m != NULL)
    sync_start (m);
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

void
rdt_members_chat_joined (RdtConn *rc, PurpleConvChat *chat,
                         const gchar *topic_id)
{
  Members *m = members_of (rc);

  if (m == NULL)
    return;
  g_hash_table_add (m->seen_topics, g_strdup (topic_id));
  if (m->state_warning != NULL)
    rdt_write_system (chat, m->state_warning, PURPLE_MESSAGE_ERROR);
  if (!m->synced)
    return;    /* the first sync fills it */
  {
    g_autoptr (GPtrArray) nicks = member_nicks (m);

    add_missing_users (chat, nicks);
  }
  update_chat_topic (m, chat, topic_id);
  maybe_create_metadata (m, topic_id);
}

/* ---- describing members ---- */

gchar *
rdt_members_describe (RdtConn *rc, const gchar *user_id)
{
  Members *m = members_of (rc);
  GString *out = g_string_new (NULL);
  g_autofree gchar *name = NULL, *nick = NULL;
  g_autoptr (GPtrArray) caps = NULL;

  if (m == NULL)
    return g_string_free (out, FALSE);
  name = rdt_state_get_display_name (m->state, user_id);
  nick = rdt_members_nick_for (rc, user_id);
  g_string_append_printf (out, _("%s\nMember ID: %s\nDisplay name: %s\n"),
                          nick, user_id, name ? name : _("(none)"));
  if (rdt_state_is_owner (m->state, user_id))
    g_string_append (out, _("Role: owner of the space\n"));
  else if (rdt_state_is_member (m->state, user_id))
    g_string_append (out, _("Role: member\n"));
  else
    g_string_append (out, _("Role: not a member\n"));
  caps = rdt_state_list_capabilities (m->state, user_id);
  for (guint i = 0; i < caps->len; i++)
    g_string_append_printf (out, _("Right: %s\n"), (gchar *) caps->pdata[i]);
  return g_string_free (out, FALSE);
}

gchar *
rdt_members_describe_all (RdtConn *rc)
{
  Members *m = members_of (rc);
  GString *out;
  g_autoptr (GPtrArray) members = NULL;

  if (m == NULL || !m->synced)
    return g_strdup (_("The member list is not loaded yet."));
  members = rdt_state_list_members (m->state);
  out = g_string_new (NULL);
  g_string_append_printf (out,
      g_dngettext (GETTEXT_PACKAGE, "%u member:", "%u members:", members->len),
      members->len);
  for (guint i = 0; i < members->len; i++)
    {
      g_autofree gchar *nick = rdt_members_nick_for (rc, members->pdata[i]);

      g_string_append_printf (out, "\n%s  %s%s", nick,
                              (gchar *) members->pdata[i],
                              i == 0 ? _(" (owner)") : "");
    }
  return g_string_free (out, FALSE);
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
  guint8 *root = rdt_secret_alloc (32);
  GError *error = NULL;
  Op *op;

  g_return_if_fail (m != NULL);
  /* The root is read from the settings now and wiped right after. */
  if (!rdt_parse_key32 (purple_account_get_string (account, "symmetric_root", ""),
                        root, &error))
    {
      rdt_secret_free (root);
      done (rc, NULL, error, user_data);
      g_error_free (error);
      return;
    }
  op = g_new0 (Op, 1);
  op->m = m;
  op->invite_done = done;
  op->user_data = user_data;
  rdt_membership_invite_async (rdt_session_get_api (rc->session), server, root,
                               m->cancel, on_invited, op);
  rdt_secret_free (root);
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
    return;
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

/* ---- prpl: chat users ---- */

char *
rdt_get_cb_real_name (PurpleConnection *gc, int id, const char *who)
{
  return g_strdup (rdt_members_lookup_nick (rdt_conn_of (gc), who));
}

void
rdt_get_cb_info (PurpleConnection *gc, int id, const char *who)
{
  RdtConn *rc = rdt_conn_of (gc);
  const gchar *uid = rdt_members_lookup_nick (rc, who);
  PurpleNotifyUserInfo *info;
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (uid == NULL)
    return;
  text = rdt_members_describe (rc, uid);
  lines = g_strsplit (text, "\n", -1);
  info = purple_notify_user_info_new ();
  for (guint i = 1; lines[i] && lines[i][0]; i++)
    {
      gchar *colon = strstr (lines[i], ": ");

      if (colon != NULL)
        {
          *colon = '\0';
          purple_notify_user_info_add_pair_plaintext (info, lines[i], colon + 2);
        }
    }
  purple_notify_userinfo (gc, who, info, NULL, NULL);
  purple_notify_user_info_destroy (info);
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
  rdt_members_set_topic_name (rc, topic_id, topic, on_topic_written, t);
}

/* ---- prpl: room list ---- */

/* g_ptr_array_sort() passes pointers to the elements. */
static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}


static void
fill_roomlist (Members *m, PurpleRoomlist *list)
{
  RdtConn *rc = m->rc;
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  g_autoptr (GPtrArray) named = rdt_state_list_topics (m->state);
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; i < named->len; i++)
    g_hash_table_add (ids, named->pdata[i]);
  g_hash_table_iter_init (&iter, m->seen_topics);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_hash_table_add (ids, key);
  g_hash_table_iter_init (&iter, rc->topic_to_id);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_hash_table_add (ids, key);
  g_hash_table_iter_init (&iter, ids);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (sorted, key);
  g_ptr_array_sort (sorted, compare_strings);
  for (guint i = 0; i < sorted->len; i++)
    {
      const gchar *id = sorted->pdata[i];
      g_autofree gchar *name = rdt_state_get_topic_name (m->state, id);
      PurpleRoomlistRoom *room =
          purple_roomlist_room_new (PURPLE_ROOMLIST_ROOMTYPE_ROOM,
                                    name ? name : id, NULL);

      /* field "topic" = the chat component rdt_join_chat() reads */
      purple_roomlist_room_add_field (list, room, id);
      purple_roomlist_room_add (list, room);
    }
  purple_roomlist_set_in_progress (list, FALSE);
}

static void
finish_roomlists (Members *m)
{
  GSList *lists = m->roomlists;

  m->roomlists = NULL;
  for (GSList *l = lists; l; l = l->next)
    {
      fill_roomlist (m, l->data);
      purple_roomlist_unref (l->data);
    }
  g_slist_free (lists);
}

PurpleRoomlist *
rdt_roomlist_get_list (PurpleConnection *gc)
{
  RdtConn *rc = rdt_conn_of (gc);
  Members *m = members_of (rc);
  PurpleRoomlist *list;
  GList *fields = NULL;

  if (m == NULL)
    return NULL;
  list = purple_roomlist_new (purple_connection_get_account (gc));
  fields = g_list_append (fields, purple_roomlist_field_new (
      PURPLE_ROOMLIST_FIELD_STRING, _("Topic ID"), "topic", FALSE));
  purple_roomlist_set_fields (list, fields);
  purple_roomlist_set_in_progress (list, TRUE);
  /* Always from a fresh sync: the list is what the user asked for now. */
  purple_roomlist_ref (list);
  m->roomlists = g_slist_prepend (m->roomlists, list);
  sync_start (m);
  return list;
}

void
rdt_roomlist_cancel (PurpleRoomlist *list)
{
  PurpleAccount *account = list->account;   /* no getter in 2.x */
  PurpleConnection *gc = account ? purple_account_get_connection (account) : NULL;
  Members *m = members_of (rdt_conn_of (gc));

  purple_roomlist_set_in_progress (list, FALSE);
  if (m != NULL && g_slist_find (m->roomlists, list))
    {
      m->roomlists = g_slist_remove (m->roomlists, list);
      purple_roomlist_unref (list);
    }
}
