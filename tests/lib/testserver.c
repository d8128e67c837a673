/* SPDX-License-Identifier: GPL-2.0-or-later */
/* testserver.c - see testserver.h. Blocking by design (test set-up). */
#include "testserver.h"
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>

struct _RdtTestServer {
  gchar   *url;
  gchar   *data_dir;
  gchar  **extra_args;
  GPid     pid;
  gint     port;
  gboolean local;
};

/* A test that aborts must not leave its server running (meson would wait
 * on the inherited pipe until its timeout). */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
spawn (RdtTestServer *s)
{
  const gchar *bin = g_getenv ("RDT_TEST_SERVER_BIN");
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  gint out_fd = -1;
  GIOChannel *ch;
  gchar *line = NULL;
  const gchar *prefix = "rdt-test-server listening on ";

  g_assert_nonnull (bin);
  g_ptr_array_add (argv, g_strdup (bin));
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup_printf ("%d", s->port));
  g_ptr_array_add (argv, g_strdup ("--bind"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_strdup (s->data_dir));
  for (gchar **a = s->extra_args; a && *a; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv->pdata, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL,
                                 &s->pid, NULL, &out_fd, NULL, &error))
    g_error ("cannot start %s: %s", bin, error->message);
  g_ptr_array_unref (argv);
  ch = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (ch, TRUE);
  if (g_io_channel_read_line (ch, &line, NULL, NULL, &error) != G_IO_STATUS_NORMAL ||
      !line || !g_str_has_prefix (line, prefix))
    g_error ("rdt-test-server did not start: %s",
             error ? error->message : (line ? line : "no output"));
  g_strstrip (line);
  g_free (s->url);
  s->url = g_strdup (line + strlen (prefix));
  g_free (line);
  /* Keep the pipe open via the channel leak-free: drain in no way; the server
   * prints nothing else to stdout. */
  g_io_channel_unref (ch);
  if (s->port == 0)
    {
      const gchar *colon = strrchr (s->url, ':');
      s->port = colon ? atoi (colon + 1) : 0;
    }
}

/* A knob of a local server used on an external one: a test bug, named. */
static void
assert_local (RdtTestServer *s, const gchar *what)
{
  if (!s->local)
    g_error ("%s needs a local rdt-test-server; call "
             "rdt_test_server_require_local() first", what);
}

static gboolean
external (void)
{
  const gchar *ext = g_getenv ("RDT_TEST_SERVER_URL");
  return ext != NULL && *ext != '\0';
}

RdtTestServer *
rdt_test_server_start (const gchar * const *extra_args)
{
  RdtTestServer *s = g_new0 (RdtTestServer, 1);
  const gchar *ext = g_getenv ("RDT_TEST_SERVER_URL");
  signal (SIGPIPE, SIG_IGN);
  if (external ())
    {
      /* Options cannot reach a running server: a test relying on them
       * would pass or hang for the wrong reason. */
      if (extra_args != NULL && extra_args[0] != NULL)
        g_error ("server options (%s ...) need a local rdt-test-server; "
                 "call rdt_test_server_require_local() first", extra_args[0]);
      s->url = g_strdup (ext);
      if (g_str_has_suffix (s->url, "/"))
        s->url[strlen (s->url) - 1] = '\0';
      return s;
    }
  s->local = TRUE;
  s->extra_args = g_strdupv ((gchar **) extra_args);
  s->data_dir = g_dir_make_tmp ("rdt-test-server-XXXXXX", NULL);
  g_assert_nonnull (s->data_dir);
  spawn (s);
  return s;
}

const gchar *
rdt_test_server_get_url (RdtTestServer *s)
{
  return s->url;
}

gboolean
rdt_test_server_is_local (RdtTestServer *s)
{
  return s->local;
}

gboolean
rdt_test_server_require_local (RdtTestServer *s, const gchar *why)
{
  g_autofree gchar *msg = NULL;

  if (s != NULL && s->local)
    return TRUE;
  msg = g_strdup_printf ("needs a local rdt-test-server: %s", why);
  g_test_skip (msg);
  return FALSE;
}

RdtTestServer *
rdt_test_server_start_local (const gchar * const *extra_args, const gchar *why)
{
  if (external ())
    {
      rdt_test_server_require_local (NULL, why);
      return NULL;
    }
  return rdt_test_server_start (extra_args);
}

void
rdt_test_server_kill (RdtTestServer *s)
{
  int status;
  if (!s->local || s->pid <= 0)
    return;
  kill (s->pid, SIGTERM);
  waitpid (s->pid, &status, 0);
  g_spawn_close_pid (s->pid);
  s->pid = 0;
}

void
rdt_test_server_resume (RdtTestServer *s)
{
  assert_local (s, "a restart");
  if (s->pid <= 0)
    spawn (s);
}

void
rdt_test_server_restart (RdtTestServer *s)
{
  assert_local (s, "a restart");
  rdt_test_server_kill (s);
  spawn (s);
}

/* One blocking request to the control endpoint (test set-up only). */
static void
control (RdtTestServer *s, const gchar *method, const gchar *json)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *url = g_strconcat (s->url, "/_control/faults", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GError) error = NULL;

  assert_local (s, "the fault control endpoint");
  if (json != NULL)
    {
      g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
      soup_message_set_request_body_from_bytes (msg, "application/json", body);
    }
  answer = soup_session_send_and_read (session, msg, NULL, &error);
  if (answer == NULL)
    g_error ("fault control: %s", error->message);
  if (soup_message_get_status (msg) >= 300)
    g_error ("fault control refused %s: %u %.*s", json ? json : method,
             soup_message_get_status (msg), (int) g_bytes_get_size (answer),
             (const gchar *) g_bytes_get_data (answer, NULL));
}

void
rdt_test_server_fault (RdtTestServer *s, const gchar *json)
{
  control (s, "POST", json);
}

void
rdt_test_server_clear_faults (RdtTestServer *s)
{
  control (s, "DELETE", NULL);
}

const gchar *
rdt_test_server_get_data_dir (RdtTestServer *s)
{
  return s->local ? s->data_dir : NULL;
}

static void
rm_rf (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  if (!d)
    return;
  while ((name = g_dir_read_name (d)))
    {
      g_autofree gchar *p = g_build_filename (dir, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR))
        rm_rf (p);
      else
        g_unlink (p);
    }
  g_dir_close (d);
  g_rmdir (dir);
}

void
rdt_test_server_stop (RdtTestServer *s)
{
  if (!s)
    return;
  rdt_test_server_kill (s);
  if (s->data_dir)
    rm_rf (s->data_dir);
  g_free (s->data_dir);
  g_free (s->url);
  g_strfreev (s->extra_args);
  g_free (s);
}
