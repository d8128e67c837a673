/* SPDX-License-Identifier: GPL-2.0-or-later */
/* datastore-fixture.h - what test-datastore.c and test-readmarkers.c
 * share: a space with its owner, members with the read-marker
 * capabilities, devices, and one call at a time (two for races) run on the
 * main loop with a timeout that fails the test. Included once per test
 * program. */
#pragma once

#include <string.h>

#include "api.h"
#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "membership.h"
#include "readstate.h"
#include "statesync.h"
#include "testserver.h"

/* Set by each test program's main(). */
static RdtTestServer *server;

#define WAIT_TIMEOUT_S 60

static G_GNUC_UNUSED gboolean
wait_timed_out (gpointer data)
{
  g_error ("timed out after %d s waiting for an answer", WAIT_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/* Up to two answers in flight at once (two devices racing). */
typedef struct {
  GMainLoop *loop;
  GAsyncResult *result[2];
  guint want;
} Wait;

static G_GNUC_UNUSED void
got (GObject *source, GAsyncResult *result, gpointer data)
{
  Wait *w = data;
  guint i = w->result[0] == NULL ? 0 : 1;

  w->result[i] = g_object_ref (result);
  if (--w->want == 0)
    g_main_loop_quit (w->loop);
}

/* Runs the loop until n answers are in; a test that would hang fails. */
static G_GNUC_UNUSED void
run_n (Wait *w, guint n)
{
  guint timeout = g_timeout_add_seconds (WAIT_TIMEOUT_S, wait_timed_out, NULL);

  w->want = n;
  g_main_loop_run (w->loop);
  g_source_remove (timeout);
}

static G_GNUC_UNUSED GAsyncResult *
run (Wait *w)
{
  run_n (w, 1);
  return w->result[0];
}

static G_GNUC_UNUSED void
take (Wait *w)
{
  g_clear_object (&w->result[0]);
  g_clear_object (&w->result[1]);
}

typedef struct {
  RdtSigningKey *owner_key;
  gchar *space;
  gchar *owner_id;
  RdtApi *owner;
  Wait w;
} Space;

static G_GNUC_UNUSED void
space_init (Space *s)
{
  s->owner_key = rdt_signing_key_generate ();
  s->space = rdt_signing_key_get_id (s->owner_key, RDT_ID_SPACE);
  s->owner_id = rdt_signing_key_get_id (s->owner_key, RDT_ID_USER);
  s->owner = rdt_api_new (rdt_test_server_get_url (server), s->space,
                          s->owner_key, RDT_ID_USER, NULL);
  s->w.loop = g_main_loop_new (NULL, FALSE);
}

static G_GNUC_UNUSED void
space_clear (Space *s)
{
  take (&s->w);
  g_object_unref (s->owner);
  rdt_signing_key_free (s->owner_key);
  g_free (s->space);
  g_free (s->owner_id);
  g_main_loop_unref (s->w.loop);
}

/* A member of s; with_caps: the two capabilities read markers need,
 * granted by the owner as state writes (spec 11, 8.2). */
typedef struct {
  RdtSigningKey *key;
  gchar *id;
  guint8 seed[32];
} Member;

static G_GNUC_UNUSED void
member_add (Space *s, Member *m, gboolean with_caps)
{
  g_autoptr (GError) error = NULL;

  m->key = rdt_signing_key_generate ();
  m->id = rdt_signing_key_get_id (m->key, RDT_ID_USER);
  rdt_signing_key_copy_seed (m->key, m->seed);
  rdt_membership_add_member_async (s->owner, m->id, NULL, got, &s->w);
  g_assert_true (rdt_membership_add_member_finish (s->owner, run (&s->w),
                                                   &error));
  g_assert_no_error (error);
  take (&s->w);
  /* rdt_membership_add_member grants the two data-store rights of read
   * markers; a member of an older version lacks them: blanked here (an
   * empty entry revokes, spec 8.1) */
  if (!with_caps)
    {
      g_autofree gchar *pw = g_strdup_printf ("auth/users/%s/rights/own_data",
                                              m->id);
      g_autofree gchar *pr = g_strdup_printf (
          "auth/users/%s/rights/own_data_read", m->id);
      const gchar *paths[] = { pw, pr }, *datas[] = { "", "" };

      rdt_state_write_async (s->owner, paths, datas, 2, NULL, got, &s->w);
      g_assert_true (rdt_state_write_finish (s->owner, run (&s->w), &error));
      g_assert_no_error (error);
      take (&s->w);
    }
}

static G_GNUC_UNUSED void
member_clear (Member *m)
{
  rdt_signing_key_free (m->key);
  g_free (m->id);
  rdt_wipe (m->seed, sizeof m->seed);
}

/* One device of member m: its own RdtApi (own login) and RdtReadState. */
static G_GNUC_UNUSED RdtReadState *
device_new (Space *s, Member *m)
{
  g_autoptr (RdtApi) api = rdt_api_new (rdt_test_server_get_url (server),
                                        s->space, m->key, RDT_ID_USER, NULL);

  return rdt_readstate_new (api, m->seed);
}

static G_GNUC_UNUSED gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

static G_GNUC_UNUSED gint64
put (Space *s, RdtApi *api, const gchar *path, const gchar *data,
     gint64 signed_at, GError **error)
{
  gint64 at;

  rdt_api_data_put_async (api, path, data, signed_at, NULL, got, &s->w);
  at = rdt_api_data_put_finish (api, run (&s->w), error);
  take (&s->w);
  return at;
}

static G_GNUC_UNUSED RdtDataEntry *
get (Space *s, RdtApi *api, const gchar *path, GError **error)
{
  RdtDataEntry *e;

  rdt_api_data_get_async (api, path, NULL, got, &s->w);
  e = rdt_api_data_get_finish (api, run (&s->w), error);
  take (&s->w);
  return e;
}

static G_GNUC_UNUSED RdtReadMarker *
load (Space *s, RdtReadState *rs, const gchar *topic, GError **error)
{
  RdtReadMarker *m;

  rdt_readstate_load_async (rs, topic, NULL, got, &s->w);
  m = rdt_readstate_load_finish (rs, run (&s->w), error);
  take (&s->w);
  return m;
}

static G_GNUC_UNUSED RdtReadMarker *
store (Space *s, RdtReadState *rs, const RdtReadMarker *marker,
       GError **error)
{
  RdtReadMarker *m;

  rdt_readstate_store_async (rs, marker, NULL, got, &s->w);
  m = rdt_readstate_store_finish (rs, run (&s->w), error);
  take (&s->w);
  return m;
}

static G_GNUC_UNUSED RdtReadMarker *
marker (const gchar *topic, guint8 fill, gint64 ts)
{
  guint8 d[32];
  g_autofree gchar *hash = NULL;

  memset (d, fill, sizeof d);
  hash = rdt_id_encode (RDT_ID_MESSAGE, d);
  return rdt_read_marker_new (topic, hash, ts);
}

static G_GNUC_UNUSED void
expect_error (GError **error, GQuark domain, gint code)
{
  g_assert_error (*error, domain, code);
  g_clear_error (error);
}

static G_GNUC_UNUSED void
assert_marker (const RdtReadMarker *got_m, const RdtReadMarker *want)
{
  g_assert_nonnull (got_m);
  g_assert_cmpstr (got_m->topic_id, ==, want->topic_id);
  g_assert_cmpstr (got_m->message_hash, ==, want->message_hash);
  g_assert_cmpint (got_m->timestamp, ==, want->timestamp);
}
