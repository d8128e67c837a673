/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keystore.h - the member's seed and the space's root at rest (issue #19).
 *
 * Keys go to the desktop's Secret Service (GNOME Keyring, KeePassXC,
 * KWallet) through libsecret, under the schema
 * "im.pidgin.purple-reeeductio.Key" with the attributes "protocol",
 * "account", "space" and "kind" ("seed" or "root"). The stored secret is
 * the lowercase hex of the 32 bytes. Only libsecret's asynchronous calls
 * are used: an unlock prompt may take as long as the person needs, and the
 * main loop must keep running meanwhile. Nothing here logs a secret.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RDT_KEYSTORE_ERROR (rdt_keystore_error_quark ())

typedef enum {
  RDT_KEYSTORE_ERROR_NO_SERVICE,  /* no Secret Service on the session bus */
  RDT_KEYSTORE_ERROR_LOCKED,      /* the keyring is locked and unlocking was
                                   * refused or impossible (no prompter) */
  RDT_KEYSTORE_ERROR_NOT_FOUND,
  RDT_KEYSTORE_ERROR_FAILED
} RdtKeystoreError;

typedef enum {
  RDT_KEYSTORE_SEED,  /* the member's Ed25519 seed */
  RDT_KEYSTORE_ROOT   /* the space's symmetric root */
} RdtKeystoreKind;

GQuark   rdt_keystore_error_quark (void);

/* TRUE when a Secret Service answers on the session bus; otherwise
 * RDT_KEYSTORE_ERROR_NO_SERVICE saying why (no session bus, nobody owns
 * org.freedesktop.secrets, no answer within a few seconds). */
void     rdt_keystore_probe_async  (GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
gboolean rdt_keystore_probe_finish (GAsyncResult        *result,
                                    GError             **error);

/* Stores (or replaces) one key; `secret` is copied before this returns. */
void     rdt_keystore_store_async  (const gchar         *protocol,
                                    const gchar         *account,
                                    const gchar         *space_id,
                                    RdtKeystoreKind      kind,
                                    const guint8         secret[32],
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
gboolean rdt_keystore_store_finish (GAsyncResult        *result,
                                    GError             **error);

/* RDT_KEYSTORE_ERROR_NOT_FOUND when nothing is stored for these
 * attributes. `out` is written only on success. */
void     rdt_keystore_lookup_async  (const gchar         *protocol,
                                     const gchar         *account,
                                     const gchar         *space_id,
                                     RdtKeystoreKind      kind,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
gboolean rdt_keystore_lookup_finish (GAsyncResult        *result,
                                     guint8               out[32],
                                     GError             **error);

/* TRUE also when nothing was stored. */
void     rdt_keystore_clear_async  (const gchar         *protocol,
                                    const gchar         *account,
                                    const gchar         *space_id,
                                    RdtKeystoreKind      kind,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
gboolean rdt_keystore_clear_finish (GAsyncResult        *result,
                                    GError             **error);

G_END_DECLS
