/* SPDX-License-Identifier: GPL-2.0-or-later */
/* world.h - a space for e2e tests against the test server: the owner
 * writes its state and members post through the core, while libpurple's
 * accounts of the same space watch. */
#pragma once

#include <purple.h>

#include "api.h"
#include "crypto.h"
#include "statesync.h"
#include "testserver.h"

typedef struct {
  const gchar *url;         /* the test server's */
  RdtSigningKey *key;       /* the space's key, also the owner's */
  gchar *space, *seed_hex, *root_hex, *owner_uid;
  guint8 root[32];
  RdtApi *owner_api;
  RdtSpaceKeys *keys;
  RdtState *state;          /* encodes profiles */
} World;

/* A member through the core, with an api of its own. */
typedef struct {
  RdtSigningKey *key;       /* NULL: an id whose key nobody holds */
  gchar *uid;
  RdtApi *api;
} Core;

/* main(): the tests, libcrypto, libpurple with the harness and the test
 * server; world_run() runs the tests and stops them again. */
RdtTestServer *world_init (int *argc, char ***argv);
int            world_run (RdtTestServer *server);

void           world_new (World *w, RdtTestServer *server);
void           world_clear (World *w);

void           world_add_member (World *w, const gchar *uid);
gchar         *world_add_new_member (World *w);
void           world_write_state (World *w, const gchar *path,
                                  const gchar *data);
void           world_set_name (World *w, const gchar *uid, const gchar *name);

PurpleAccount *world_account_new (World *w, const gchar *local,
                                  const gchar *seed_hex, gboolean joined);
void           world_account_connect (PurpleAccount *a);
PurpleAccount *world_account (World *w, const gchar *local,
                              const gchar *seed_hex, gboolean joined);
PurpleAccount *world_owner_account (World *w, gboolean joined);

Core          *world_core_new (World *w, gboolean add);
void           world_core_free (Core *c);
void           world_post (World *w, RdtApi *api, const gchar *uid,
                           RdtSigningKey *key, const gchar *topic,
                           const gchar *type, const gchar *text);
void           world_say (World *w, Core *c, const gchar *topic,
                          const gchar *text);

PurpleCmdStatus world_try_command (PurpleConvChat *chat, const gchar *line,
                                  gchar **error);
void           world_command (PurpleConvChat *chat, const gchar *line);
