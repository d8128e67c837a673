/* SPDX-License-Identifier: GPL-2.0-or-later */
/* world.c - a space for e2e tests: see world.h. */
#include "config.h"

#include <string.h>

#include "world.h"
#include "harness.h"
#include "encoding.h"
#include "id.h"
#include "membership.h"

RdtTestServer *
world_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, NULL);
  rdt_crypto_init ();
  harness_init ();
  return rdt_test_server_start (NULL);
}

int
world_run (RdtTestServer *server)
{
  int ret = g_test_run ();

  rdt_test_server_stop (server);
  purple_core_quit ();
  return ret;
}

void
world_new (World *w, RdtTestServer *server)
{
  g_autoptr (GError) error = NULL;

  memset (w, 0, sizeof *w);
  w->url = rdt_test_server_get_url (server);
  w->key = rdt_signing_key_generate ();
  w->space = rdt_signing_key_get_id (w->key, RDT_ID_SPACE);
  w->owner_uid = rdt_signing_key_get_id (w->key, RDT_ID_USER);
  rdt_random_bytes (w->root, 32);
  w->seed_hex = harness_seed_hex (w->key);
  w->root_hex = rdt_hex_encode (w->root, 32);
  w->keys = rdt_space_keys_new (w->root, w->space);
  w->state = rdt_state_new (w->space, w->keys->state_key);
  w->owner_api = rdt_api_new (w->url, w->space, w->key, RDT_ID_USER, &error);
  g_assert_no_error (error);
}

void
world_clear (World *w)
{
  g_object_unref (w->owner_api);
  rdt_state_free (w->state);
  rdt_space_keys_free (w->keys);
  rdt_signing_key_free (w->key);
  rdt_wipe (w->root, 32);
  g_free (w->space);
  g_free (w->seed_hex);
  g_free (w->root_hex);
  g_free (w->owner_uid);
}

void
world_add_member (World *w, const gchar *uid)
{
  HarnessAsync a = { NULL };
  g_autoptr (GError) error = NULL;

  rdt_membership_add_member_async (w->owner_api, uid, NULL, harness_async_cb,
                                   &a);
  harness_wait (harness_async_done, &a, 30, "a member to be added");
  g_assert_true (rdt_membership_add_member_finish (w->owner_api, a.result,
                                                   &error));
  g_assert_no_error (error);
  g_object_unref (a.result);
}

/* A new member whose key is thrown away, added by the owner as every
 * client adds one. */
gchar *
world_add_new_member (World *w)
{
  RdtSigningKey *key = rdt_signing_key_generate ();
  gchar *uid = rdt_signing_key_get_id (key, RDT_ID_USER);

  rdt_signing_key_free (key);
  world_add_member (w, uid);
  return uid;
}

void
world_write_state (World *w, const gchar *path, const gchar *data)
{
  const gchar *paths[] = { path }, *datas[] = { data };
  g_autoptr (GError) error = NULL;
  HarnessAsync a = { NULL };

  rdt_state_write_async (w->owner_api, paths, datas, 1, NULL,
                         harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "a state write");
  g_assert_true (rdt_state_write_finish (w->owner_api, a.result, &error));
  g_assert_no_error (error);
  g_object_unref (a.result);
}

/* The owner names a member (owner-signed profiles count, spec 12). */
void
world_set_name (World *w, const gchar *uid, const gchar *name)
{
  g_autofree gchar *path = g_strconcat ("profiles/", uid, NULL);
  g_autofree gchar *data = NULL;
  g_autoptr (GError) error = NULL;

  data = rdt_state_encode_profile (w->state, name, &error);
  g_assert_no_error (error);
  world_write_state (w, path, data);
}

/* A libpurple account local@space with seed_hex, not connected yet (the
 * test may set it up first); joined: its event.join counts as posted, so
 * no line of ours moves the heads that world_post chains on and no join
 * line shows in the chats. */
PurpleAccount *
world_account_new (World *w, const gchar *local, const gchar *seed_hex,
                   gboolean joined)
{
  g_autofree gchar *user = g_strconcat (local, "@", w->space, NULL);
  PurpleAccount *a = harness_account_new (user, seed_hex, w->url, w->root_hex);

  if (joined)
    {
      g_autofree gchar *key = g_strconcat ("joined_event:", w->space, NULL);

      purple_account_set_string (a, key, "");
    }
  return a;
}

void
world_account_connect (PurpleAccount *a)
{
  harness_account_connect (a);
  harness_wait (harness_account_connected, a, 30, "the account to connect");
}

/* world_account_new(), connected. */
PurpleAccount *
world_account (World *w, const gchar *local, const gchar *seed_hex,
               gboolean joined)
{
  PurpleAccount *a = world_account_new (w, local, seed_hex, joined);

  world_account_connect (a);
  return a;
}

PurpleAccount *
world_owner_account (World *w, gboolean joined)
{
  return world_account (w, "owner", w->seed_hex, joined);
}

/* A member with a key of its own; add: added by the owner. */
Core *
world_core_new (World *w, gboolean add)
{
  Core *c = g_new0 (Core, 1);
  g_autoptr (GError) error = NULL;

  c->key = rdt_signing_key_generate ();
  c->uid = rdt_signing_key_get_id (c->key, RDT_ID_USER);
  c->api = rdt_api_new (w->url, w->space, c->key, RDT_ID_USER, &error);
  g_assert_no_error (error);
  if (add)
    world_add_member (w, c->uid);
  return c;
}

void
world_core_free (Core *c)
{
  g_clear_object (&c->api);
  g_clear_pointer (&c->key, rdt_signing_key_free);
  g_free (c->uid);
  g_free (c);
}

/* key/uid/api post a message of type with text into topic, chained on
 * the server's head (the plugin's accounts post too: their event.join
 * when they first join the space). */
void
world_post (World *w, RdtApi *api, const gchar *uid, RdtSigningKey *key,
            const gchar *topic, const gchar *type, const gchar *text)
{
  guint8 tkey[32];
  g_autofree gchar *payload = NULL;
  g_autoptr (GError) error = NULL;

  rdt_space_keys_topic_key (w->keys, topic, tkey);
  payload = rdt_payload_encrypt (tkey, (const guint8 *) text, strlen (text));
  rdt_wipe (tkey, 32);
  /* another client may post between our read of the head and our post
   * (409, spec 4.3): read the head again, as every client does */
  for (guint attempt = 0;; attempt++)
    {
      HarnessAsync a = { NULL };
      g_autofree gchar *prev = NULL;
      GPtrArray *newest;
      RdtMessage *m;
      gint64 at;

      rdt_api_get_messages_async (api, topic, G_GINT64_CONSTANT (9999999999999),
                                  0, 1, NULL, harness_async_cb, &a);
      harness_wait (harness_async_done, &a, 30, "the topic's head");
      newest = rdt_api_get_messages_finish (api, a.result, NULL, &error);
      g_assert_no_error (error);
      g_clear_object (&a.result);
      if (newest->len > 0)
        prev = g_strdup (((RdtMessage *) newest->pdata[0])->message_hash);
      g_ptr_array_unref (newest);
      m = rdt_message_new_signed (w->space, topic, type, prev, payload, uid,
                                  key);
      rdt_api_post_message_async (api, m, NULL, harness_async_cb, &a);
      harness_wait (harness_async_done, &a, 30, "a post");
      at = rdt_api_post_message_finish (api, a.result, &error);
      g_object_unref (a.result);
      rdt_message_unref (m);
      if (at <= 0 && attempt < 5
          && g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT))
        {
          g_clear_error (&error);
          harness_pause (3, "the pause before posting again");
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (at, >, 0);
      break;
    }
  /* spec 4.6: same-millisecond posts tie */
  harness_pause (3, "the pause between posts");
}

void
world_say (World *w, Core *c, const gchar *topic, const gchar *text)
{
  world_post (w, c->api, c->uid, c->key, topic, "chat.text", text);
}

/* A command typed into chat: its status, and in *error what it says
 * when it fails (g_free). */
PurpleCmdStatus
world_try_command (PurpleConvChat *chat, const gchar *line, gchar **error)
{
  return purple_cmd_do_command (purple_conv_chat_get_conversation (chat), line,
                                line, error);
}

/* A command typed into chat, which must succeed. */
void
world_command (PurpleConvChat *chat, const gchar *line)
{
  gchar *error = NULL;
  PurpleCmdStatus st;

  st = world_try_command (chat, line, &error);
  if (st != PURPLE_CMD_STATUS_OK)
    g_error ("/%s: status %d, %s", line, st, error ? error : "");
  g_free (error);
}
