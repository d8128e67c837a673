/* SPDX-License-Identifier: GPL-2.0-or-later */
/* testserver.h - start, restart, fault and stop the reeeductio test server
 * from a test program.
 *
 * rdt_test_server_start() spawns the rdt-test-server binary built by meson
 * (path from the environment variable RDT_TEST_SERVER_BIN, which the test()
 * definitions set) on 127.0.0.1 with port 0 and a fresh temporary data
 * directory, and waits until it prints its URL. When RDT_TEST_SERVER_URL is
 * set, no process is spawned and the handle points at that external server
 * (then options, restart, faults and the data dir are unavailable: tests
 * that need them call rdt_test_server_require_local() first).
 *
 * Blocking is fine here: this is test set-up, not product code.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RdtTestServer RdtTestServer;

/* extra_args: NULL-terminated extra command-line options for the server
 * (e.g. "--token-ttl", "5"), or NULL. Fails the test on error; with an
 * external server, extra_args must be NULL (check with
 * rdt_test_server_require_local() before). */
RdtTestServer *rdt_test_server_start (const gchar * const *extra_args);
/* Base URL without trailing slash, e.g. "http://127.0.0.1:41234". */
const gchar   *rdt_test_server_get_url (RdtTestServer *server);
gboolean       rdt_test_server_is_local (RdtTestServer *server);
/* TRUE for a local server. For an external one, g_test_skip() with the
 * uniform reason "needs a local rdt-test-server: <why>" and FALSE; why says
 * which option, fault or restart the test needs. */
gboolean       rdt_test_server_require_local (RdtTestServer *server,
                                              const gchar   *why);
/* rdt_test_server_start (extra_args) for a test that needs those options;
 * with an external server: the skip of rdt_test_server_require_local() and
 * NULL. */
RdtTestServer *rdt_test_server_start_local (const gchar * const *extra_args,
                                            const gchar         *why);
/* Stop (SIGTERM, wait) and start again on the same port and data dir. */
void           rdt_test_server_restart (RdtTestServer *server);
/* Stop the process but keep the handle (to test "server down"). */
void           rdt_test_server_kill (RdtTestServer *server);
/* Start again after rdt_test_server_kill (same port and data dir). */
void           rdt_test_server_resume (RdtTestServer *server);
/* POST a JSON fault description to the server's loopback control
 * endpoint (see server/README.md for the format); fails the test on error. */
void           rdt_test_server_fault (RdtTestServer *server, const gchar *json);
/* Clear all faults. */
void           rdt_test_server_clear_faults (RdtTestServer *server);
/* The server's data directory (messages as <space>.jsonl, the data store
 * as <space>.data.jsonl, blobs/), for tests that tamper with what is
 * stored; NULL for an external server. */
const gchar   *rdt_test_server_get_data_dir (RdtTestServer *server);
/* Stop the server and delete its data directory. */
void           rdt_test_server_stop (RdtTestServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtTestServer, rdt_test_server_stop)

G_END_DECLS
