/* SPDX-License-Identifier: GPL-2.0-or-later */
/* harness.h - a headless libpurple client for the e2e suite.
 *
 * Runs libpurple's own core on the GLib main loop (nullclient style) with a
 * fresh user dir, loads the plugin from the build dir (RDT_PLUGIN_DIR) and
 * records what the UI would show: chat lines and connection errors.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <purple.h>

#include "crypto.h"

typedef struct {
  gchar *conv;          /* conversation name (topic) */
  gchar *account;       /* account username */
  gchar *who;           /* sender, NULL for system lines */
  gchar *alias;         /* what the UI shows as the sender */
  gchar *text;
  PurpleMessageFlags flags;
  time_t mtime;
  gint64 written_us;    /* g_get_monotonic_time () when written (benches) */
} HarnessLine;

typedef struct {
  gchar *account;
  PurpleConnectionError reason;
  gchar *text;
} HarnessError;

/* A purple_notify_* window: message (e.g. "Invalid topic"), formatted
 * (type PURPLE_NOTIFY_MSG_INFO) or user info (title "userinfo"). */
typedef struct {
  PurpleNotifyMsgType type;
  gchar *title;
  gchar *primary;
  gchar *text;          /* secondary text, formatted body or user info */
} HarnessNotify;

/* One purple_conv_chat_add_users call as the UI sees it (Finch prints
 * "List of N users:" for one with new_arrivals FALSE). */
typedef struct {
  gchar *conv;
  gchar *account;
  gchar **users;        /* the nicks added */
  gboolean new_arrivals;
} HarnessUserAdd;

void       harness_init (void);
GPtrArray *harness_user_adds (void); /* of HarnessUserAdd */
GPtrArray *harness_notifies (void);  /* of HarnessNotify */
/* How many times libpurple started connecting this account (one per
 * rdt_login: counts login attempts made by libpurple, not the session's
 * own retries). */
guint      harness_connect_attempts (PurpleAccount *account);
GPtrArray *harness_lines (void);     /* of HarnessLine */
GPtrArray *harness_errors (void);    /* of HarnessError */
/* Everything written to libpurple's debug log so far, a line per entry:
 * "INFO reeeductio: session: ...". */
const gchar *harness_debug_log (void);
guint      harness_count_lines (PurpleAccount *account, const gchar *text,
                                    PurpleMessageFlags must_have);
/* The key's seed as 64 hex characters: an account password. g_free. */
gchar     *harness_seed_hex (const RdtSigningKey *key);
/* Normal (not system/error) lines of account whose text is exactly text. */
guint      harness_count_exact (PurpleAccount *account, const gchar *text);
/* Iterate the main loop until cond(data) holds; fails the test after
 * timeout_s seconds. */
void       harness_wait (gboolean (*cond) (gpointer), gpointer data,
                         guint timeout_s, const gchar *what);
/* Runs the main loop for ms milliseconds (at most 5 s): a pause between
 * posts that must not share a millisecond, or between polls. */
void       harness_pause (guint ms, const gchar *what);
PurpleAccount *harness_account_new (const gchar *username,
                                    const gchar *password,
                                    const gchar *server,
                                    const gchar *root);
void       harness_account_connect (PurpleAccount *account);
/* Disables the account and drops its connection (the end of a test). */
void       harness_account_done (PurpleAccount *account);

/* Conditions for harness_wait(); data is the PurpleAccount. */
gboolean   harness_account_connected (gpointer account);
gboolean   harness_account_disconnected (gpointer account);
/* Waits (30 s) for a line of account containing text, with flags. */
void       harness_wait_line (PurpleAccount *account, const gchar *text,
                              PurpleMessageFlags flags);
/* Waits (30 s) until chat lists the user nick; what names it on failure. */
void       harness_wait_chat_user (PurpleConvChat *chat, const gchar *nick,
                                   const gchar *what);
/* Waits (30 s) until chat lists exactly nicks (NULL-terminated), each
 * once. */
void       harness_wait_chat_users (PurpleConvChat *chat,
                                    const gchar * const *nicks,
                                    const gchar *what);
/* Joins topic (chat component "topic"); the chat exists on return. */
PurpleConvChat *harness_join (PurpleAccount *account, const gchar *topic);
/* One GAsyncResult, collected: pass harness_async_cb and a HarnessAsync
 * as callback and data, then harness_wait (harness_async_done, ...). */
typedef struct {
  GAsyncResult *result;   /* a ref, once done */
} HarnessAsync;
void       harness_async_cb (GObject *source, GAsyncResult *result,
                             gpointer data);
gboolean   harness_async_done (gpointer data);

/* The newest notify whose title, primary or text contains needle. */
HarnessNotify  *harness_find_notify (const gchar *needle);

/* The invitation of the newest "Invitation created" window: outside
 * Pidgin it is only in the 0600 file the window names (checked: mode,
 * lines at most 72 columns, the token not in the window). */
gchar     *harness_take_invitation (void);
