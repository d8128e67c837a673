/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-secrets.c - no secret reaches the log (issue #7).
 *
 * Runs a real session against rdt-test-server with every debug message
 * enabled and captured (GLib structured log writer), through login, stream,
 * backlog, sending and a forced re-login; then searches the captured text
 * for every encoding we can think of of each secret: the member's private
 * key seed, the symmetric root, every derived key (message, data, state,
 * topic) and the bearer token. The search itself is checked first: a line
 * we log on purpose with the secret in it must be found.
 *
 * The lifecycle lines the plugin forwards to libpurple's debug log (the
 * core's G_LOG_DOMAIN, info level: server, login, stream up/down, topics,
 * pages, retries, probes) are checked to be there, through a server outage
 * and back, with no secret and no message text among them. */
#include "config.h"

#include <string.h>

#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "session.h"
#include "api.h"
#include "invite.h"
#include "membership.h"
#include "state.h"
#include "statesync.h"
#include "testserver.h"

static RdtTestServer *srv;
static GString *captured;

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      if (fields[i].length < 0)
        g_string_append (captured, fields[i].value);
      else
        g_string_append_len (captured, fields[i].value, fields[i].length);
      g_string_append_c (captured, ' ');
    }
  g_string_append_c (captured, '\n');
  /* Fatal levels still abort the test as usual. */
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return g_log_writer_default (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

/* Libraries that log with plain g_log() (GIO, libsoup) reach the default
 * handler, which g_test_init() replaced: capture those too. */
static void
capture_handler (const gchar *domain, GLogLevelFlags level,
                 const gchar *message, gpointer user_data)
{
  const gchar *name = (level & G_LOG_LEVEL_INFO) ? "INFO"
                      : (level & G_LOG_LEVEL_DEBUG) ? "DEBUG" : "OTHER";

  g_string_append_printf (captured, "%s %s %s\n", name,
                          domain ? domain : "", message);
  /* Failures of the test itself still say why. */
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL
               | G_LOG_LEVEL_WARNING))
    g_log_default_handler (domain, level, message, user_data);
}

/* A line the core logged at info level under its domain (the one the
 * plugin forwards), containing what. */
static void
assert_info_line (const gchar *what)
{
  g_auto (GStrv) lines = g_strsplit (captured->str, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "INFO reeeductio ")
        && strstr (lines[i], what) != NULL)
      return;
  g_error ("no info line with \"%s\" in the log:\n%s", what, captured->str);
}

/* Every text form a 32-byte secret could take in a log line. */
static GPtrArray *
encodings_of (const guint8 *secret, gsize len)
{
  GPtrArray *forms = g_ptr_array_new_with_free_func (g_free);
  gchar *hex = rdt_hex_encode (secret, len);

  g_ptr_array_add (forms, g_ascii_strup (hex, -1));
  g_ptr_array_add (forms, hex);
  g_ptr_array_add (forms, g_base64_encode (secret, len));
  g_ptr_array_add (forms, rdt_base64url_encode (secret, len));
  /* A prefix is enough to leak most of a key: look for 16 hex chars too. */
  g_ptr_array_add (forms, g_strndup (hex, 16));
  return forms;
}

static void
assert_absent (const guint8 *secret, gsize len, const gchar *what)
{
  g_autoptr (GPtrArray) forms = encodings_of (secret, len);

  for (guint i = 0; i < forms->len; i++)
    if (strstr (captured->str, g_ptr_array_index (forms, i)) != NULL)
      g_error ("%s appears in the debug log (form %u)", what, i);
}

typedef struct {
  gboolean connected;
  gboolean went_connecting;
  guint n_connected;
  gboolean opened;
  guint n_messages;
  guint n_sent;
} Fx;

static void
on_state (RdtSession *s, RdtSessionState state, const GError *error,
          gboolean fatal, gpointer d)
{
  Fx *fx = d;

  fx->connected = state == RDT_SESSION_CONNECTED;
  if (state == RDT_SESSION_CONNECTED)
    fx->n_connected++;
  else if (state == RDT_SESSION_CONNECTING && fx->n_connected > 0)
    fx->went_connecting = TRUE;
}

static void
on_opened (RdtSession *s, const gchar *topic, const GError *error, gpointer d)
{
  g_assert_no_error (error);
  ((Fx *) d)->opened = TRUE;
}

static void
on_message (RdtSession *s, const RdtSessionMessage *m, gpointer d)
{
  ((Fx *) d)->n_messages++;
}

static void
on_send_done (RdtSession *s, const gchar *topic, guint64 id, const GError *e,
              gpointer d)
{
  g_assert_no_error (e);
  ((Fx *) d)->n_sent++;
}

static const RdtSessionCallbacks callbacks = {
  .state_changed = on_state,
  .topic_opened = on_opened,
  .message = on_message,
  .send_done = on_send_done,
};

static gboolean
timeout_cb (gpointer data)
{
  g_error ("timed out waiting for %s", (const gchar *) data);
  return G_SOURCE_REMOVE;
}

#define WAIT_FOR(cond) G_STMT_START {                                   \
    guint t_ = g_timeout_add_seconds (30, timeout_cb, (gpointer) #cond); \
    while (!(cond))                                                     \
      g_main_context_iteration (NULL, TRUE);                            \
    g_source_remove (t_);                                               \
  } G_STMT_END

static void
test_search_works (void)
{
  guint8 secret[32];

  /* The detector must see a secret that is logged on purpose, in any
   * form, or a clean result below would mean nothing. */
  rdt_random_bytes (secret, sizeof secret);
  for (guint form = 0; form < 4; form++)
    {
      g_autoptr (GPtrArray) forms = encodings_of (secret, sizeof secret);

      g_string_truncate (captured, 0);
      g_debug ("deliberate leak: %s", (gchar *) g_ptr_array_index (forms, form));
      g_assert_nonnull (strstr (captured->str,
                                g_ptr_array_index (forms, form)));
    }
  g_string_truncate (captured, 0);
}

/* The token as the client sends it: it is in the stream URL. */
static gchar *
current_token (RdtSession *s)
{
  g_autofree gchar *url = rdt_api_build_stream_url (rdt_session_get_api (s));
  const gchar *t = url ? strstr (url, "token=") : NULL;

  g_assert_nonnull (t);
  g_assert_cmpuint (strlen (t + strlen ("token=")), >, 20);
  return g_strdup (t + strlen ("token="));
}

static void
test_session_logs_no_secret (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  guint8 seed[RDT_SEED_LENGTH], root[RDT_KEY_LENGTH], topic_key[RDT_KEY_LENGTH];
  g_autofree gchar *token = NULL;
  g_autofree gchar *token_after = NULL;
  RdtSpaceKeys *keys;
  RdtSession *s;
  GError *error = NULL;
  Fx fx = { 0 };

  rdt_random_bytes (root, sizeof root);
  rdt_signing_key_copy_seed (owner, seed);
  g_string_truncate (captured, 0);

  s = rdt_session_new (rdt_test_server_get_url (srv), space, seed, root,
                       &error);
  g_assert_no_error (error);
  rdt_session_set_callbacks (s, &callbacks, &fx);
  rdt_session_set_poll_intervals (s, 200, 100);
  rdt_session_connect (s);
  WAIT_FOR (fx.connected);
  rdt_session_open_topic (s, "general", 50);
  WAIT_FOR (fx.opened);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (rdt_session_send_text (s, "general", "hello", &error),
                      >, 0);
  g_assert_no_error (error);
  WAIT_FOR (fx.n_sent == 3 && fx.n_messages == 3);

  token = current_token (s);
  /* Force a second login: the new token must not be logged either. */
  rdt_api_clear_token (rdt_session_get_api (s));
  g_assert_cmpuint (rdt_session_send_text (s, "general", "again", &error),
                    >, 0);
  WAIT_FOR (fx.n_sent == 4 && fx.n_messages == 4);
  token_after = current_token (s);
  rdt_session_free (s);

  /* Something was logged at all (else the test proves nothing). */
  g_assert_cmpuint (captured->len, >, 200);
  g_assert_nonnull (strstr (captured->str, "api: "));
  g_assert_nonnull (strstr (captured->str, "GSocketClient"));

  assert_absent (seed, sizeof seed, "the private key seed");
  assert_absent (root, sizeof root, "the symmetric root");
  keys = rdt_space_keys_new (root, space);
  assert_absent (keys->message_key, RDT_KEY_LENGTH, "the message key");
  assert_absent (keys->data_key, RDT_KEY_LENGTH, "the data key");
  assert_absent (keys->state_key, RDT_KEY_LENGTH, "the state key");
  rdt_space_keys_topic_key (keys, "general", topic_key);
  assert_absent (topic_key, sizeof topic_key, "the topic key");
  rdt_space_keys_free (keys);
  if (strstr (captured->str, token) != NULL)
    g_error ("the bearer token appears in the debug log");
  /* A JWT's signature part alone is enough to replay it. */
  g_assert_nonnull (strrchr (token, '.'));
  if (strstr (captured->str, strrchr (token, '.') + 1) != NULL)
    g_error ("the token's signature appears in the debug log");
  if (strstr (captured->str, token_after) != NULL)
    g_error ("the renewed bearer token appears in the debug log");

  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);
  rdt_wipe (topic_key, sizeof topic_key);
}

/* Login, stream, a topic, sends, then the server goes away and comes
 * back: every step leaves an info line, and none carries a secret or what
 * was written. */
static void
test_lifecycle_logged (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  g_autofree gchar *member = rdt_signing_key_get_id (owner, RDT_ID_USER);
  g_autofree gchar *connecting = NULL;
  g_autofree gchar *logged_in = NULL;
  g_autofree gchar *token = NULL;
  g_autofree gchar *token_after = NULL;
  g_autofree gchar *text = NULL;
  guint8 seed[RDT_SEED_LENGTH], root[RDT_KEY_LENGTH];
  guint8 topic_key[RDT_KEY_LENGTH];
  RdtSpaceKeys *keys;
  RdtSession *s;
  GError *error = NULL;
  Fx fx = { 0 };

  if (!rdt_test_server_require_local (srv, "a server outage (kill, resume)"))
    return;
  rdt_random_bytes (root, sizeof root);
  rdt_signing_key_copy_seed (owner, seed);
  text = g_strdup_printf ("words-nobody-logs-%08x", g_random_int ());
  g_string_truncate (captured, 0);

  s = rdt_session_new (rdt_test_server_get_url (srv), space, seed, root,
                       &error);
  g_assert_no_error (error);
  rdt_session_set_callbacks (s, &callbacks, &fx);
  rdt_session_set_poll_intervals (s, 200, 100);
  /* The first login retry waits 2 s: the probe (every ~50 ms) must be
   * what finds the server again. */
  rdt_session_set_backoff (s, 2000, 4000);
  rdt_session_set_probe_interval (s, 50);
  rdt_session_connect (s);
  WAIT_FOR (fx.connected);
  rdt_session_open_topic (s, "general", 50);
  WAIT_FOR (fx.opened);
  WAIT_FOR (strstr (captured->str, "session: stream up") != NULL);
  g_assert_cmpuint (rdt_session_send_text (s, "general", text, &error), >, 0);
  g_assert_no_error (error);
  WAIT_FOR (fx.n_sent == 1 && fx.n_messages == 1);
  token = current_token (s);

  rdt_test_server_kill (srv);
  WAIT_FOR (fx.went_connecting);
  WAIT_FOR (strstr (captured->str, "probe: no answer yet") != NULL);
  rdt_test_server_resume (srv);
  WAIT_FOR (fx.n_connected == 2);
  g_assert_cmpuint (rdt_session_send_text (s, "general", text, &error), >, 0);
  WAIT_FOR (fx.n_sent == 2 && fx.n_messages == 2);
  token_after = current_token (s);
  rdt_session_free (s);

  connecting = g_strdup_printf ("connecting to %s as %s",
                                rdt_test_server_get_url (srv), member);
  logged_in = g_strdup_printf ("session: logged in as %s", member);
  assert_info_line (connecting);
  assert_info_line ("session: logging in to ");
  assert_info_line (logged_in);
  assert_info_line (": connected");
  assert_info_line ("session: stream up");
  assert_info_line ("session: stream down");
  assert_info_line ("session: opening topic general");
  assert_info_line ("session: topic general: fetched the first page, 0 "
                    "messages");
  assert_info_line ("session: topic general opened: 0 verified");
  assert_info_line ("session: topic general: poll failed: Could not reach "
                    "the server");
  assert_info_line ("session: retrying the login in ");
  assert_info_line ("ms (Could not reach the server");
  /* each probe at debug level (one every 2 s while the server is down),
   * the one that finds it back at info level */
  g_assert_nonnull (strstr (captured->str, "session: probing the server (GET /health)"));
  assert_info_line ("session: probe: the server answers again");
  assert_info_line (": connecting: ");

  if (strstr (captured->str, text) != NULL)
    g_error ("a message's text appears in the debug log");
  assert_absent (seed, sizeof seed, "the private key seed");
  assert_absent (root, sizeof root, "the symmetric root");
  keys = rdt_space_keys_new (root, space);
  assert_absent (keys->message_key, RDT_KEY_LENGTH, "the message key");
  assert_absent (keys->data_key, RDT_KEY_LENGTH, "the data key");
  rdt_space_keys_topic_key (keys, "general", topic_key);
  assert_absent (topic_key, sizeof topic_key, "the topic key");
  rdt_space_keys_free (keys);
  if (strstr (captured->str, strrchr (token, '.') + 1) != NULL
      || strstr (captured->str, strrchr (token_after, '.') + 1) != NULL)
    g_error ("a token's signature appears in the debug log");
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);
  rdt_wipe (topic_key, sizeof topic_key);
}

/* Membership (issue #5): creating and redeeming an invitation and reading
 * the state move the tool seed, the invitation string and the new member's
 * key around; none of them may reach the log either. */
static void
got_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
test_membership_logs_no_secret (void)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autoptr (RdtSigningKey) invitee = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  g_autofree gchar *invitee_uid = rdt_signing_key_get_id (invitee, RDT_ID_USER);
  guint8 root[RDT_KEY_LENGTH], seed[RDT_SEED_LENGTH];
  g_autoptr (RdtApi) api = NULL;
  g_autoptr (RdtInvite) invite = NULL;
  g_autoptr (RdtSpaceKeys) keys = NULL;
  g_autoptr (RdtState) state = NULL;
  g_autofree gchar *text = NULL;
  GAsyncResult *result = NULL;
  GError *error = NULL;

  rdt_random_bytes (root, sizeof root);
  keys = rdt_space_keys_new (root, space);
  g_string_truncate (captured, 0);
  api = rdt_api_new (rdt_test_server_get_url (srv), space, owner, RDT_ID_USER,
                     &error);
  g_assert_no_error (error);

  rdt_membership_invite_async (api, rdt_test_server_get_url (srv), root, NULL,
                               got_result, &result);
  WAIT_FOR (result != NULL);
  text = rdt_membership_invite_finish (api, result, &error);
  g_clear_object (&result);
  g_assert_no_error (error);
  invite = rdt_invite_parse (text, &error);
  g_assert_no_error (error);
  rdt_membership_redeem_async (invite, invitee, NULL, got_result, &result);
  WAIT_FOR (result != NULL);
  g_assert_true (rdt_membership_redeem_finish (result, &error));
  g_clear_object (&result);
  g_assert_no_error (error);
  state = rdt_state_new (space, keys->state_key);
  rdt_state_sync_async (state, api, NULL, got_result, &result);
  WAIT_FOR (result != NULL);
  g_assert_true (rdt_state_sync_finish (state, result, NULL, NULL, &error));
  g_clear_object (&result);
  g_assert_true (rdt_state_is_member (state, invitee_uid));

  g_assert_cmpuint (captured->len, >, 200);
  g_assert_nonnull (strstr (captured->str, "api: "));
  if (strstr (captured->str, text) != NULL ||
      strstr (captured->str, text + strlen (RDT_INVITE_PREFIX)) != NULL)
    g_error ("the invitation string appears in the debug log");
  assert_absent (invite->tool_seed, RDT_SEED_LENGTH, "the invitation's tool seed");
  rdt_signing_key_copy_seed (invitee, seed);
  assert_absent (seed, sizeof seed, "the invitee's seed");
  rdt_signing_key_copy_seed (owner, seed);
  assert_absent (seed, sizeof seed, "the owner's seed");
  assert_absent (root, sizeof root, "the symmetric root");
  assert_absent (keys->state_key, RDT_KEY_LENGTH, "the state key");
  rdt_wipe (seed, sizeof seed);
  rdt_wipe (root, sizeof root);
  rdt_wipe (text, strlen (text));
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  captured = g_string_new (NULL);
  g_log_set_debug_enabled (TRUE);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_log_set_default_handler (capture_handler, NULL);
  srv = rdt_test_server_start (NULL);
  g_test_add_func ("/secrets/search-works", test_search_works);
  g_test_add_func ("/secrets/session", test_session_logs_no_secret);
  g_test_add_func ("/secrets/membership", test_membership_logs_no_secret);
  g_test_add_func ("/secrets/lifecycle", test_lifecycle_logged);
  ret = g_test_run ();
  rdt_test_server_stop (srv);
  g_string_free (captured, TRUE);
  return ret;
}
