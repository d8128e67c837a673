/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-history.c - /history [N] (issue #16), end to end: libpurple's core
 * with the plugin against the test server. The older messages come as a
 * block after a header line, each from its sender at its server time,
 * flagged delayed, and the start of the topic is said. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "world.h"
#include "api.h"
#include "crypto.h"
#include "id.h"
#include "message.h"
#include "testserver.h"

#define TOPIC "general"
#define N_POSTS 8

static RdtTestServer *server;

/* The server times of the topic's messages, oldest first. */
static GArray *
server_times (World *w)
{
  HarnessAsync a = { NULL };
  g_autoptr (GError) error = NULL;
  GArray *times = g_array_new (FALSE, FALSE, sizeof (gint64));
  GPtrArray *msgs;

  rdt_api_get_messages_async (w->owner_api, TOPIC,
                              G_GINT64_CONSTANT (9999999999999), 0, 100, NULL,
                              harness_async_cb, &a);
  harness_wait (harness_async_done, &a, 30, "the topic's messages");
  msgs = rdt_api_get_messages_finish (w->owner_api, a.result, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&a.result);
  for (guint i = msgs->len; i > 0; i--)
    g_array_append_val (times,
                        ((RdtMessage *) msgs->pdata[i - 1])->server_timestamp);
  g_ptr_array_unref (msgs);
  return times;
}

/* Index in the harness's lines of the owner's first line from start on
 * whose text begins with prefix; fails the test if there is none. */
static guint
line_index (PurpleAccount *a, const gchar *prefix, guint start)
{
  GPtrArray *lines = harness_lines ();

  for (guint i = start; i < lines->len; i++)
    {
      HarnessLine *l = lines->pdata[i];

      if (g_strcmp0 (l->account, purple_account_get_username (a)) == 0
          && g_str_has_prefix (l->text, prefix))
        return i;
    }
  g_error ("no line \"%s...\"", prefix);
  return 0;
}

static gboolean
start_said_twice (gpointer a)
{
  return harness_count_lines (a, "— this is the start of the topic —",
                              PURPLE_MESSAGE_SYSTEM) == 2;
}

static gchar *
clock_of (gint64 ms)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (ms / 1000);

  return g_date_time_format (dt, "%H:%M");
}

/* The header at index i: count and the first and last line's clock times;
 * then the lines h<first>..h<last>, each from its sender at its server time,
 * delayed. Returns the index after the block. */
static guint
assert_block (PurpleAccount *a, guint i, const gchar *header_prefix,
              gboolean at_start, guint first, guint last, GArray *times)
{
  GPtrArray *lines = harness_lines ();
  HarnessLine *h = lines->pdata[i];
  g_autofree gchar *from = clock_of (g_array_index (times, gint64, first - 1));
  g_autofree gchar *to = clock_of (g_array_index (times, gint64, last - 1));

  g_assert_true (g_str_has_prefix (h->text, header_prefix));
  g_assert_nonnull (strstr (h->text, from));
  g_assert_nonnull (strstr (h->text, to));
  g_assert_true (h->flags & PURPLE_MESSAGE_SYSTEM);
  g_assert_false (h->flags & PURPLE_MESSAGE_NO_LOG);
  i++;
  if (at_start)
    {
      h = lines->pdata[i++];
      g_assert_cmpstr (h->text, ==, "— this is the start of the topic —");
    }
  for (guint n = first; n <= last; n++, i++)
    {
      g_autofree gchar *text = g_strdup_printf ("h%u", n);
      HarnessLine *l;

      g_assert_cmpuint (i, <, lines->len);
      l = lines->pdata[i];
      g_assert_cmpstr (l->text, ==, text);
      g_assert_true (l->flags & PURPLE_MESSAGE_DELAYED);
      g_assert_cmpint ((gint64) l->mtime, ==,
                       g_array_index (times, gint64, n - 1) / 1000);
      if (n % 2)
        {
          g_assert_cmpstr (l->who, ==, "Bob");
          g_assert_true (l->flags & PURPLE_MESSAGE_RECV);
        }
      else
        {
          g_assert_cmpstr (l->who, !=, "Bob");
          g_assert_true (l->flags & PURPLE_MESSAGE_SEND);
        }
    }
  return i;
}

/* Eight messages, from Bob (odd) and the owner (even); the owner's chat
 * opens with the newest three; /history 3 shows h3..h5, /history 10 the
 * remaining two and the start of the topic. */
static void
test_block (void)
{
  World w;
  Core *b;
  PurpleAccount *owner;
  PurpleConvChat *chat;
  g_autoptr (GArray) times = NULL;
  gchar *error = NULL;
  guint i;

  world_new (&w, server);
  b = world_core_new (&w, TRUE);
  world_set_name (&w, b->uid, "Bob");
  for (i = 1; i <= N_POSTS; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("h%u", i);

      if (i % 2)
        world_say (&w, b, TOPIC, text);
      else
        world_post (&w, w.owner_api, w.owner_uid, w.key, TOPIC, "chat.text",
                    text);
    }
  times = server_times (&w);
  g_assert_cmpuint (times->len, ==, N_POSTS);

  owner = world_account_new (&w, "owner", w.seed_hex, TRUE);
  purple_account_set_int (owner, "backlog", 3);
  world_account_connect (owner);
  chat = harness_join (owner, TOPIC);
  harness_wait_line (owner, "h8", 0);
  g_assert_cmpuint (harness_count_exact (owner, "h5"), ==, 0);

  g_assert_cmpint (world_try_command (chat, "history 0", &error), ==,
                   PURPLE_CMD_STATUS_FAILED);
  g_assert_nonnull (strstr (error, "/history [N]"));
  g_clear_pointer (&error, g_free);

  world_command (chat, "history 3");
  harness_wait_line (owner, "h5", PURPLE_MESSAGE_DELAYED);
  i = line_index (owner, "h8", 0);
  i = line_index (owner, "— 3 earlier messages, ", i);
  i = assert_block (owner, i, "— 3 earlier messages, ", FALSE, 3, 5, times);

  world_command (chat, "history 10");
  harness_wait_line (owner, "h2", PURPLE_MESSAGE_DELAYED);
  i = line_index (owner, "— 2 earlier messages, ", i);
  assert_block (owner, i, "— 2 earlier messages, ", TRUE, 1, 2, times);

  /* nothing older: only the start is said again */
  world_command (chat, "history");
  harness_wait (start_said_twice, owner, 30, "the start said again");

  world_core_free (b);
  purple_account_set_enabled (owner, "rdt-e2e", FALSE);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  server = world_init (&argc, &argv);
  g_test_add_func ("/history/block", test_block);
  return world_run (server);
}
