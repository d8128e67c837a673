/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rooms.c - the room list (see rooms.h). A list is always filled from a
 * fresh sync of the state: it is what the user asked for now. */
#include "config.h"

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <account.h>

#include "members.h"
#include "rooms.h"

/* g_ptr_array_sort() passes pointers to the elements. */
static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

void
rdt_roomlist_fill (RdtConn *rc, PurpleRoomlist *list, RdtState *state,
                   GHashTable *seen_topics)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  g_autoptr (GPtrArray) named = rdt_state_list_topics (state);
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; i < named->len; i++)
    g_hash_table_add (ids, named->pdata[i]);
  g_hash_table_iter_init (&iter, seen_topics);
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
      g_autofree gchar *name = rdt_state_get_topic_name (state, id);
      PurpleRoomlistRoom *room =
          purple_roomlist_room_new (PURPLE_ROOMLIST_ROOMTYPE_ROOM,
                                    name ? name : id, NULL);

      /* field "topic" = the chat component rdt_join_chat() reads */
      purple_roomlist_room_add_field (list, room, id);
      purple_roomlist_room_add (list, room);
    }
  purple_roomlist_set_in_progress (list, FALSE);
}


PurpleRoomlist *
rdt_roomlist_get_list (PurpleConnection *gc)
{
  RdtConn *rc = rdt_conn_of (gc);
  PurpleRoomlist *list;
  GList *fields = NULL;

  if (rc == NULL || rc->members == NULL)
    return NULL;
  list = purple_roomlist_new (purple_connection_get_account (gc));
  fields = g_list_append (fields, purple_roomlist_field_new (
      PURPLE_ROOMLIST_FIELD_STRING, _("Topic ID"), "topic", FALSE));
  purple_roomlist_set_fields (list, fields);
  purple_roomlist_set_in_progress (list, TRUE);
  rdt_members_queue_roomlist (rc, list);
  return list;
}

void
rdt_roomlist_cancel (PurpleRoomlist *list)
{
  PurpleAccount *account = list->account;   /* no getter in 2.x */
  PurpleConnection *gc = account ? purple_account_get_connection (account) : NULL;

  purple_roomlist_set_in_progress (list, FALSE);
  rdt_members_unqueue_roomlist (rdt_conn_of (gc), list);
}
