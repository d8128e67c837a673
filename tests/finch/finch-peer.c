/* finch-peer.c - the "second client" of the Finch test (tests/finch/run.sh).
 *
 *   finch-peer keygen
 *       prints "<space id> <seed hex> <nick>": a fresh owner key (a test
 *       key) and the short id the plugin uses as its chat nick.
 *   RDT_OWNER_SEED=<hex> finch-peer post SERVER_URL TOPIC TEXT
 *       as the owner, adds a new member with the chat capability of spec
 *       8.2 (state writes, spec 8.5), then posts TEXT to TOPIC as that
 *       member with the core's RdtSession; exits 0 once the post is
 *       confirmed (send_done without error) and prints the member's short
 *       id (its nick in the plugin's chats).
 *
 * The owner seed comes from the environment so it does not show in `ps`.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "crypto.h"
#include "id.h"
#include "message.h"
#include "session.h"

#define CHAT_CAP "{\"op\":\"write\",\"path\":\"topics/{any}/messages\"}"

typedef struct {
  GMainLoop *loop;
  GAsyncResult *result;
  const gchar *topic, *text;
  gboolean sent;
  int status;
} Ctx;

static void
finish (Ctx *c, int status, const gchar *why)
{
  if (why)
    g_printerr ("finch-peer: %s\n", why);
  c->status = status;
  g_main_loop_quit (c->loop);
}

static void
got_result (GObject *src, GAsyncResult *res, gpointer data)
{
  Ctx *c = data;
  c->result = g_object_ref (res);
  g_main_loop_quit (c->loop);
}

static gchar *
hex (const guint8 *b, gsize n)
{
  gchar *s = g_malloc0 (2 * n + 1);
  for (gsize i = 0; i < n; i++)
    g_snprintf (s + 2 * i, 3, "%02x", b[i]);
  return s;
}

/* One state write by the owner, synchronously (a test tool, not src/). */
static gboolean
write_state (Ctx *c, RdtApi *api, const gchar *space, const gchar *owner_uid,
             const RdtSigningKey *key, gchar **head, const gchar *path,
             const gchar *json)
{
  gchar *data = g_base64_encode ((const guchar *) json, strlen (json));
  RdtMessage *m = rdt_message_new_signed (space, "state", path, *head, data,
                                          owner_uid, key);
  GError *error = NULL;
  gboolean ok;

  c->result = NULL;
  rdt_api_post_message_async (api, m, NULL, got_result, c);
  g_main_loop_run (c->loop);
  ok = rdt_api_post_message_finish (api, c->result, &error) >= 0;
  if (ok)
    {
      g_free (*head);
      *head = g_strdup (m->message_hash);
    }
  else
    {
      g_printerr ("finch-peer: state write %s refused: %s\n", path,
                  error->message);
      g_error_free (error);
    }
  g_clear_object (&c->result);
  rdt_message_unref (m);
  g_free (data);
  return ok;
}

static void
on_state (RdtSession *s, RdtSessionState state, const GError *error,
          gboolean fatal, gpointer data)
{
  if (state == RDT_SESSION_DISCONNECTED && fatal)
    finish (data, 1, error ? error->message : "disconnected");
}

static void
on_opened (RdtSession *s, const gchar *topic, const GError *error,
           gpointer data)
{
  Ctx *c = data;
  GError *err = NULL;

  if (error)
    {
      finish (c, 1, error->message);
      return;
    }
  if (c->sent)
    return;
  c->sent = TRUE;
  if (rdt_session_send_text (s, c->topic, c->text, &err) == 0)
    {
      finish (c, 1, err->message);
      g_error_free (err);
    }
}

static void
on_send_done (RdtSession *s, const gchar *topic, guint64 id,
              const GError *error, gpointer data)
{
  finish (data, error ? 1 : 0, error ? error->message : NULL);
}

static gboolean
on_timeout (gpointer data)
{
  finish (data, 2, "timed out");
  return G_SOURCE_REMOVE;
}

static int
do_post (const gchar *url, const gchar *topic, const gchar *text)
{
  static const RdtSessionCallbacks cb = {
    .state_changed = on_state,
    .topic_opened = on_opened,
    .send_done = on_send_done,
  };
  guint8 seed[RDT_SEED_LENGTH], root[RDT_KEY_LENGTH] = { 0 };
  GError *error = NULL;
  RdtSigningKey *owner, *member;
  gchar *space, *owner_uid, *member_uid, *path, *json, *head = NULL;
  RdtApi *api;
  RdtSession *session;
  Ctx c = { 0 };
  gboolean ok;

  if (!rdt_parse_key32 (g_getenv ("RDT_OWNER_SEED") ? g_getenv ("RDT_OWNER_SEED") : "",
                        seed, &error))
    {
      g_printerr ("finch-peer: RDT_OWNER_SEED: %s\n", error->message);
      return 2;
    }
  owner = rdt_signing_key_new_from_seed (seed);
  rdt_wipe (seed, sizeof seed);
  space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  owner_uid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  member = rdt_signing_key_generate ();
  member_uid = rdt_signing_key_get_id (member, RDT_ID_USER);
  c.loop = g_main_loop_new (NULL, FALSE);
  c.topic = topic;
  c.text = text;
  g_timeout_add_seconds (60, on_timeout, &c);

  api = rdt_api_new (url, space, owner, RDT_ID_USER, &error);
  if (api == NULL)
    {
      g_printerr ("finch-peer: %s\n", error->message);
      return 2;
    }
  path = g_strconcat ("auth/users/", member_uid, NULL);
  json = g_strdup_printf ("{\"user_id\":\"%s\"}", member_uid);
  ok = write_state (&c, api, space, owner_uid, owner, &head, path, json);
  g_free (path);
  g_free (json);
  path = g_strconcat ("auth/users/", member_uid, "/rights/chat", NULL);
  ok = ok && write_state (&c, api, space, owner_uid, owner, &head, path,
                          CHAT_CAP);
  g_free (path);
  g_object_unref (api);
  if (!ok)
    return 1;

  rdt_signing_key_copy_seed (member, seed);
  session = rdt_session_new (url, space, seed, root, &error);
  rdt_wipe (seed, sizeof seed);
  if (session == NULL)
    {
      g_printerr ("finch-peer: %s\n", error->message);
      return 2;
    }
  rdt_session_set_callbacks (session, &cb, &c);
  rdt_session_open_topic (session, topic, 1);
  rdt_session_connect (session);
  g_main_loop_run (c.loop);
  rdt_session_free (session);
  g_main_loop_unref (c.loop);
  if (c.status == 0)
    {
      gchar *nick = rdt_id_short (member_uid);
      printf ("%s\n", nick);
      g_free (nick);
    }
  rdt_signing_key_free (owner);
  rdt_signing_key_free (member);
  g_free (space);
  g_free (owner_uid);
  g_free (member_uid);
  g_free (head);
  return c.status;
}

int
main (int argc, char **argv)
{
  if (!rdt_crypto_init ())
    return 2;
  if (argc == 2 && strcmp (argv[1], "keygen") == 0)
    {
      RdtSigningKey *key = rdt_signing_key_generate ();
      guint8 seed[RDT_SEED_LENGTH];
      gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE), *h;

      rdt_signing_key_copy_seed (key, seed);
      h = hex (seed, sizeof seed);
      rdt_wipe (seed, sizeof seed);
      {
        gchar *uid = rdt_signing_key_get_id (key, RDT_ID_USER);
        gchar *nick = rdt_id_short (uid);
        /* the nick is what the plugin shows for this member in chats */
        printf ("%s %s %s\n", space, h, nick);
        g_free (uid);
        g_free (nick);
      }
      rdt_wipe (h, strlen (h));
      g_free (h);
      g_free (space);
      rdt_signing_key_free (key);
      return 0;
    }
  if (argc == 5 && strcmp (argv[1], "post") == 0)
    return do_post (argv[2], argv[3], argv[4]);
  g_printerr ("usage: %s keygen\n"
              "       RDT_OWNER_SEED=<hex> %s post SERVER_URL TOPIC TEXT\n",
              argv[0], argv[0]);
  return 2;
}
