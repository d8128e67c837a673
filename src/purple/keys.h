/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keys.h - where an account's two secrets live: the member's private key
 * (Ed25519 seed) and the space key (symmetric root).
 *
 * In the Secret Service (GNOME Keyring, KeePassXC, KWallet) through
 * keystore.h when one is reachable: accounts.xml then holds neither, only
 * the setting RDT_KEYS_STORAGE = "secret-service". Otherwise, or with the
 * account option "plain_keys", where libpurple keeps them: the password
 * field and the setting "symmetric_root" (what every account had before).
 *
 * Keys found in accounts.xml (an older account, or ones just written by
 * the first-login dialog, an invitation or Create a new space) are moved
 * into the Secret Service at login: stored, read back, compared, and only
 * then removed from accounts.xml, so a move that fails halfway loses
 * nothing. Everything here is asynchronous. */
#pragma once

#include <glib.h>
#include <gio/gio.h>

#define PURPLE_PLUGINS
#include <account.h>
#include <accountopt.h>
#include <connection.h>

G_BEGIN_DECLS

#define RDT_KEYS_STORAGE "key_storage"
#define RDT_KEYS_IN_SERVICE "secret-service"

/* The keys for a login: seed and root (32 bytes each, the caller's copy,
 * in secret memory, wiped and freed by the callback's caller after it
 * returns), or error: a message fit for the connection error; fatal when
 * trying again will not help (a refused unlock, keys missing). */
typedef void (*RdtKeysFunc) (PurpleAccount *account, const guint8 *seed,
                             const guint8 *root, const GError *error,
                             gpointer user_data);

/* Reads the keys: from accounts.xml when they are there (plain), else
 * from the Secret Service. Only when the account's keys are in the
 * service is anything asked of it here. */
void rdt_keys_load (PurpleAccount *account, GCancellable *cancellable,
                    RdtKeysFunc callback, gpointer user_data);
/* After a login with plain keys: moves them into the Secret Service
 * unless the account keeps them plain; says so once in gc (moved, or why
 * not: no service). Does nothing when there is nothing to move. */
void rdt_keys_migrate (PurpleConnection *gc, const guint8 seed[32],
                       const guint8 root[32]);
/* The account goes (Leave this space): its keys in the service too. */
void rdt_keys_forget (PurpleAccount *account);
/* TRUE if the account's keys are in the Secret Service (accounts.xml has
 * neither): the first-login dialog has nothing to ask then. */
gboolean rdt_keys_in_service (PurpleAccount *account);

/* The password field: the private key, or "<private key>:<space key>"
 * (a colon or a space between) for clients that have no other field to
 * put the space key in (BitlBee). FALSE if it is neither; the keys are
 * wiped then. */
gboolean rdt_keys_parse_password (const gchar *password, guint8 seed[32],
                                  guint8 root[32], gboolean *has_root);

PurpleAccountOption *rdt_keys_account_option_new (void);

G_END_DECLS
