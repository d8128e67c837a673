/* SPDX-License-Identifier: GPL-2.0-or-later */
/* events.c - event.join and event.leave (the message types the
 * reeeductio guide lists for "user joined / left the space"): shown as
 * system lines under a name members.c resolves, posted once per member
 * and space when a topic is first opened, and by "Leave this space"
 * before the account and its keys are removed. Empty chat.text messages
 * are verified chain entries with nothing to show: they are hidden. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <conversation.h>
#include <eventloop.h>
#include <notify.h>
#include <util.h>

#include "id.h"
#include "state.h"

#include "events.h"
#include "keys.h"
#include "transcript.h"
#include "members.h"

#define TYPE_JOIN "event.join"
#define TYPE_LEAVE "event.leave"
/* "joined_event:<space id>" = our member id, once our join was posted */
#define JOINED_PREFIX "joined_event:"
/* chat.c's pinned heads: present when this account read the space before */
#define PIN_PREFIX "head:"
/* where "left the space" goes when no chat is open */
#define LEAVE_TOPIC "general"
/* an event's data is a small JSON object; more is not an event */
#define MAX_EVENT_DATA 4096

typedef enum {
  SEND_JOIN = 1,
  SEND_LEAVE
} SendKind;

typedef struct {
  GHashTable *sends;        /* send id (guint64*) -> GINT SendKind */
  gboolean join_queued;     /* our join is posted or on its way */
  gboolean leaving;         /* "Leave this space" runs */
  GHashTable *leave_opening; /* topics opened only to post the leave */
  guint leave_pending;      /* leave sends without send_done yet */
  gchar *leave_error;       /* the first failure, if any */
} Events;

static Events *
events_of (RdtConn *rc)
{
  Events *ev = rc->events;

  if (ev == NULL)
    {
      ev = g_new0 (Events, 1);
      ev->sends = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                         g_free, NULL);
      ev->leave_opening = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                 g_free, NULL);
      rc->events = ev;
    }
  return ev;
}

void
rdt_events_free (RdtConn *rc)
{
  Events *ev = rc->events;

  if (ev == NULL)
    return;
  if (ev->leaving)
    /* the session ends before every send_done came: nothing is removed */
    purple_notify_error (NULL, _("Leave this space"),
                         _("The space was not left."),
                         _("The account went offline before \"left the "
                           "space\" was posted. The account and its keys "
                           "were kept."));
  g_hash_table_destroy (ev->sends);
  g_hash_table_destroy (ev->leave_opening);
  g_free (ev->leave_error);
  g_free (ev);
  rc->events = NULL;
}

/* ---- admins ---- */

/* Whether a capability path (spec 8.1 pattern) covers creating
 * state/auth/users/<someone else>: adding members is what admins do. */
static gboolean
path_adds_members (const gchar *pattern)
{
  static const gchar *const target[] = { "state", "auth", "users", NULL };
  g_autofree gchar *trimmed = NULL;
  g_auto (GStrv) segs = NULL;
  gsize n;
  guint i;

  while (*pattern == '/')
    pattern++;
  trimmed = g_strdup (pattern);
  for (n = strlen (trimmed); n > 0 && trimmed[n - 1] == '/'; n--)
    trimmed[n - 1] = '\0';
  segs = g_strsplit (trimmed, "/", -1);
  for (i = 0; segs[i] != NULL; i++)
    {
      gboolean wild = g_str_equal (segs[i], "{any}") ||
                      g_str_equal (segs[i], "{other}");

      if (g_str_equal (segs[i], "{...}") && segs[i + 1] == NULL)
        return TRUE;
      if (i >= G_N_ELEMENTS (target))
        return FALSE;
      /* the last segment is another member's id: only a wildcard */
      if (!wild && (target[i] == NULL || !g_str_equal (segs[i], target[i])))
        return FALSE;
    }
  return i == G_N_ELEMENTS (target);
}

/* The owner, or a member whose rights in the verified state let it add
 * members. Before the first state sync nobody is. Rights held through
 * roles are not read (the state keeps direct rights only). */
static gboolean
is_admin (RdtConn *rc, const gchar *user_id)
{
  RdtState *state = rdt_members_get_state (rc);
  g_autoptr (GPtrArray) caps = NULL;

  if (state == NULL || user_id == NULL)
    return FALSE;
  if (rdt_state_is_owner (state, user_id))
    return TRUE;
  if (!rdt_state_is_member (state, user_id))
    return FALSE;
  caps = rdt_state_list_capabilities (state, user_id);
  for (guint i = 0; i < caps->len; i++)
    {
      g_auto (GStrv) op_path = g_strsplit (caps->pdata[i], " ", 2);

      if (op_path[0] && op_path[1] &&
          (g_str_equal (op_path[0], "write") ||
           g_str_equal (op_path[0], "create")) &&
          path_adds_members (op_path[1]))
        return TRUE;
    }
  return FALSE;
}

/* ---- showing events ---- */

static gboolean
is_blank (const gchar *text)
{
  for (const gchar *p = text; p && *p; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* The member id an event's data names, or NULL: malformed, or no valid
 * "user_id" (or "member") in it. */
static gchar *
named_member (GBytes *payload)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;
  JsonObject *o;
  gsize len = 0;
  const gchar *data = payload ? g_bytes_get_data (payload, &len) : NULL;
  static const gchar *const keys[] = { "user_id", "member" };

  if (data == NULL || len == 0 || len > MAX_EVENT_DATA)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  o = json_node_get_object (root);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      JsonNode *n = json_object_get_member (o, keys[i]);
      const gchar *id;

      if (n == NULL || json_node_get_value_type (n) != G_TYPE_STRING)
        continue;
      id = json_node_get_string (n);
      if (rdt_id_is_valid (id, RDT_ID_USER))
        return g_strdup (id);
    }
  return NULL;
}

/* Who joined or left: the signed sender, unless an admin's event names
 * someone else (an admin may announce a member it added). The data is
 * only the sender's claim: from anyone else it cannot speak for another. */
static gchar *
event_subject (RdtConn *rc, const RdtSessionMessage *msg)
{
  g_autofree gchar *named = named_member (msg->payload);

  if (named != NULL && g_strcmp0 (named, msg->sender) != 0 &&
      is_admin (rc, msg->sender))
    return g_steal_pointer (&named);
  return g_strdup (msg->sender);
}

gboolean
rdt_events_handle_message (RdtConn *rc, PurpleConvChat *chat,
                           const RdtSessionMessage *msg)
{
  g_autofree gchar *subject = NULL;
  PurpleMessageFlags flags = PURPLE_MESSAGE_SYSTEM;
  gboolean join;

  if (g_strcmp0 (msg->type, "chat.text") == 0)
    return is_blank (msg->text);
  join = g_strcmp0 (msg->type, TYPE_JOIN) == 0;
  if (!join && g_strcmp0 (msg->type, TYPE_LEAVE) != 0)
    return FALSE;

  subject = event_subject (rc, msg);
  if (msg->backlog)
    flags |= PURPLE_MESSAGE_DELAYED;
  /* a verified, signed entry: logged, unlike rdt_write_system's notices,
   * and in chain order (after the images held before it), under the
   * subject's name when it is written */
  rdt_transcript_write_about (rc, msg->topic_id, subject,
                              join ? _("%s joined the space")
                                   : _("%s left the space"),
                              flags, (time_t) (msg->timestamp / 1000));
  return TRUE;
}

/* ---- posting events ---- */

static gchar *
joined_key (RdtConn *rc)
{
  return g_strconcat (JOINED_PREFIX, rdt_session_get_space_id (rc->session),
                      NULL);
}

void
rdt_events_check_space (PurpleAccount *account, const gchar *space_id)
{
  g_autofree gchar *key = g_strconcat (JOINED_PREFIX, space_id, NULL);
  GHashTableIter iter;
  gpointer name;

  if (purple_account_get_string (account, key, NULL) != NULL)
    return;
  /* no 2.x API lists the settings; the table is public. The pins belong
   * to this space (chat.c dropped another space's before this). */
  g_hash_table_iter_init (&iter, account->settings);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    if (g_str_has_prefix (name, PIN_PREFIX))
      {
        /* "" = joined before events were posted; any member id matches */
        purple_account_set_string (account, key, "");
        return;
      }
}

/* {"user_id": our member id}, the data of our events. */
static gchar *
event_data (RdtConn *rc, gsize *len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonGenerator) gen = json_generator_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user_id");
  json_builder_add_string_value (b, rdt_session_get_member_id (rc->session));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, len);
}

static guint64
post_event (RdtConn *rc, const gchar *topic, SendKind kind, GError **error)
{
  gsize len = 0;
  g_autofree gchar *data = event_data (rc, &len);
  guint64 id;

  id = rdt_session_send_payload (rc->session, topic,
                                 kind == SEND_JOIN ? TYPE_JOIN : TYPE_LEAVE,
                                 (const guint8 *) data, len, error);
  if (id != 0)
    g_hash_table_insert (events_of (rc)->sends, g_memdup2 (&id, sizeof id),
                         GINT_TO_POINTER (kind));
  return id;
}

static gboolean
join_was_posted (RdtConn *rc, PurpleAccount *account)
{
  g_autofree gchar *key = joined_key (rc);
  const gchar *who = purple_account_get_string (account, key, NULL);

  return who != NULL &&
         (*who == '\0' ||
          g_strcmp0 (who, rdt_session_get_member_id (rc->session)) == 0);
}

/* The first topic this member opens in the space gets its join, chained
 * on the head now that the history is in. Remembered in the account at
 * once, so a second topic or the next login posts none. */
static void
maybe_post_join (RdtConn *rc, const gchar *topic)
{
  Events *ev = events_of (rc);
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  g_autofree gchar *key = NULL;
  GError *error = NULL;

  if (ev->join_queued || ev->leaving || rdt_chat_for_topic (rc, topic) == NULL)
    return;
  if (join_was_posted (rc, account))
    {
      ev->join_queued = TRUE;
      return;
    }
  if (post_event (rc, topic, SEND_JOIN, &error) == 0)
    {
      g_debug ("event.join not posted: %s", error->message);
      g_error_free (error);
      return;             /* the next topic opened tries again */
    }
  ev->join_queued = TRUE;
  key = joined_key (rc);
  purple_account_set_string (account, key,
                             rdt_session_get_member_id (rc->session));
}

void
rdt_events_note_been_here (RdtConn *rc)
{
  PurpleAccount *account = purple_connection_get_account (rc->gc);
  g_autofree gchar *key = NULL;

  if (events_of (rc) == NULL || join_was_posted (rc, account))
    return;
  key = joined_key (rc);
  purple_account_set_string (account, key,
                             rdt_session_get_member_id (rc->session));
}

static void leave_post (RdtConn *rc, const gchar *topic);
static void leave_maybe_done (RdtConn *rc);

void
rdt_events_on_topic_opened (RdtConn *rc, const gchar *topic_id,
                            const GError *error)
{
  Events *ev = events_of (rc);

  if (g_hash_table_remove (ev->leave_opening, topic_id))
    {
      if (error != NULL)
        {
          if (ev->leave_error == NULL)
            ev->leave_error = g_strdup (error->message);
        }
      else
        leave_post (rc, topic_id);
      leave_maybe_done (rc);
      return;
    }
  if (error == NULL)
    maybe_post_join (rc, topic_id);
}

gboolean
rdt_events_on_send_done (RdtConn *rc, const gchar *topic_id, guint64 send_id,
                         const GError *error)
{
  Events *ev = events_of (rc);
  gpointer kind;

  if (!g_hash_table_lookup_extended (ev->sends, &send_id, NULL, &kind))
    return FALSE;
  g_hash_table_remove (ev->sends, &send_id);
  if (GPOINTER_TO_INT (kind) == SEND_JOIN)
    {
      if (error != NULL)
        {
          PurpleAccount *account = purple_connection_get_account (rc->gc);
          g_autofree gchar *key = joined_key (rc);
          g_autofree gchar *line = g_strdup_printf (
              _("Could not post that you joined the space: %s"),
              error->message);

          /* not posted after all: the next topic or login tries again
           * ("-": neither "" nor a member id, and kept so that
           * rdt_events_check_space does not take the pins for a join) */
          purple_account_set_string (account, key, "-");
          ev->join_queued = FALSE;
          rdt_write_system (rdt_chat_for_topic (rc, topic_id), line,
                            PURPLE_MESSAGE_ERROR);
        }
      return TRUE;
    }
  ev->leave_pending--;
  if (error != NULL && ev->leave_error == NULL)
    ev->leave_error = g_strdup (error->message);
  leave_maybe_done (rc);
  return TRUE;
}

/* ---- leaving ---- */

static void
leave_post (RdtConn *rc, const gchar *topic)
{
  Events *ev = events_of (rc);
  GError *error = NULL;

  if (post_event (rc, topic, SEND_LEAVE, &error) != 0)
    ev->leave_pending++;
  else
    {
      if (ev->leave_error == NULL)
        ev->leave_error = g_strdup (error->message);
      g_error_free (error);
    }
}

/* From the main loop, not inside a session callback: deleting the
 * account closes the connection and frees the session. The account is
 * found again by name, in case it went meanwhile. */
static gboolean
delete_idle (gpointer data)
{
  gchar *username = data;
  PurpleAccount *account = purple_accounts_find (username, RDT_PRPL_ID);

  if (account != NULL)
    {
      /* the keys go first, should anything keep the account object */
      rdt_keys_forget (account);
      purple_account_set_password (account, NULL);
      purple_account_remove_setting (account, "symmetric_root");
      purple_account_remove_setting (account, "pending_invitation");
      purple_accounts_delete (account);
    }
  g_free (username);
  return FALSE;
}

static void
leave_maybe_done (RdtConn *rc)
{
  Events *ev = events_of (rc);
  PurpleAccount *account = purple_connection_get_account (rc->gc);

  if (!ev->leaving || ev->leave_pending > 0 ||
      g_hash_table_size (ev->leave_opening) > 0)
    return;
  ev->leaving = FALSE;
  if (ev->leave_error != NULL)
    {
      g_autofree gchar *text = g_strdup_printf (
          _("\"Left the space\" could not be posted: %s. The account and "
            "its keys were kept; try again later."), ev->leave_error);

      g_clear_pointer (&ev->leave_error, g_free);
      purple_notify_error (rc->gc, _("Leave this space"),
                           _("The space was not left."), text);
      return;
    }
  purple_timeout_add (0, delete_idle,
                      g_strdup (purple_account_get_username (account)));
}

void
rdt_events_leave_space (RdtConn *rc)
{
  Events *ev = events_of (rc);
  GHashTableIter iter;
  gpointer topic;

  if (ev->leaving)
    return;
  ev->leaving = TRUE;
  g_hash_table_iter_init (&iter, rc->topic_to_id);
  while (g_hash_table_iter_next (&iter, &topic, NULL))
    leave_post (rc, topic);
  if (g_hash_table_size (rc->topic_to_id) == 0 &&
      rdt_session_topic_is_open (rc->session, LEAVE_TOPIC))
    leave_post (rc, LEAVE_TOPIC);
  else if (g_hash_table_size (rc->topic_to_id) == 0)
    {
      /* opened for this only, no chat: topic_opened posts it */
      g_hash_table_add (ev->leave_opening, g_strdup (LEAVE_TOPIC));
      rdt_session_open_topic (rc->session, LEAVE_TOPIC, 1);
    }
  leave_maybe_done (rc);
}
