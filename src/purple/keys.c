/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keys.c - an account's private key and space key: in the Secret Service
 * when one is reachable, else in accounts.xml (see keys.h). */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <sodium.h>

#define PURPLE_PLUGINS
#include <debug.h>

#include "crypto.h"
#include "keystore.h"

#include "conn.h"
#include "keys.h"

#define PLAIN_OPTION "plain_keys"
/* set once the account was told why its keys stay in accounts.xml */
#define NOTED_SETTING "key_storage_noted"
#define ROOT_SETTING "symmetric_root"

static gchar *
space_of (PurpleAccount *account)
{
  const gchar *user = purple_account_get_username (account);
  const gchar *at = user ? strrchr (user, '@') : NULL;

  return g_strdup (at ? at + 1 : "");
}

static gboolean
has_plain (PurpleAccount *account)
{
  const gchar *password = purple_account_get_password (account);
  const gchar *root = purple_account_get_string (account, ROOT_SETTING, NULL);

  return (password != NULL && *password) || (root != NULL && *root);
}

gboolean
rdt_keys_in_service (PurpleAccount *account)
{
  return g_strcmp0 (purple_account_get_string (account, RDT_KEYS_STORAGE, NULL),
                    RDT_KEYS_IN_SERVICE) == 0 && !has_plain (account);
}

/* ---- the password field ---- */

gboolean
rdt_keys_parse_password (const gchar *password, guint8 seed[32],
                         guint8 root[32], gboolean *has_root)
{
  g_auto (GStrv) parts = NULL;
  g_autofree gchar *copy = NULL;
  gboolean ok;

  *has_root = FALSE;
  if (password == NULL)
    return FALSE;
  if (rdt_parse_key32 (password, seed, NULL))
    return TRUE;
  /* "<private key>:<space key>" (or a space between): both keys in the
   * one field a client without dialogs (BitlBee) always has */
  copy = g_strstrip (g_strdup (password));
  parts = g_strsplit_set (copy, ": \t", -1);
  rdt_wipe (copy, strlen (copy));
  {
    GPtrArray *words = g_ptr_array_new ();

    for (guint i = 0; parts[i] != NULL; i++)
      if (*parts[i])
        g_ptr_array_add (words, parts[i]);
    ok = words->len == 2 && rdt_parse_key32 (words->pdata[0], seed, NULL)
         && rdt_parse_key32 (words->pdata[1], root, NULL);
    g_ptr_array_unref (words);
  }
  for (guint i = 0; parts[i] != NULL; i++)
    rdt_wipe (parts[i], strlen (parts[i]));
  if (!ok)
    {
      rdt_wipe (seed, 32);
      rdt_wipe (root, 32);
    }
  *has_root = ok;
  return ok;
}

/* ---- loading ---- */

typedef struct {
  PurpleAccount *account;
  gchar *username, *space;
  RdtKeysFunc callback;
  gpointer user_data;
  GCancellable *cancel;
  guint8 *seed, *root;      /* secret memory */
} Load;

static void
load_free (Load *l)
{
  g_free (l->username);
  g_free (l->space);
  g_clear_object (&l->cancel);
  rdt_secret_free (l->seed);
  rdt_secret_free (l->root);
  g_free (l);
}

static void
load_fail (Load *l, GError *error)
{
  GError *told;

  if (g_error_matches (error, RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_NO_SERVICE))
    told = g_error_new (RDT_KEYSTORE_ERROR, error->code,
                        _("The keys of this account are in the system "
                          "keyring (Secret Service), which cannot be reached "
                          "(%s). Start it (e.g. GNOME Keyring or KeePassXC) "
                          "and connect again."), error->message);
  else if (g_error_matches (error, RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_LOCKED))
    told = g_error_new (RDT_KEYSTORE_ERROR, error->code,
                        _("The system keyring that holds the keys of this "
                          "account is locked, and it was not unlocked (%s). "
                          "Unlock it and connect again."), error->message);
  else if (g_error_matches (error, RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_NOT_FOUND))
    told = g_error_new (RDT_KEYSTORE_ERROR, error->code,
                        _("The keys of this account were not found in the "
                          "system keyring: it is locked and was not "
                          "unlocked, or they were removed. Unlock it and "
                          "connect again, or set them again: "
                          "<private key>:<space key> as the password, or a "
                          "new invitation."));
  else
    told = g_error_new (RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_FAILED,
                        _("The keys of this account could not be read from "
                          "the system keyring: %s"), error->message);
  l->callback (l->account, NULL, NULL, told, l->user_data);
  g_error_free (told);
}

/* The account may have gone while the keyring answered. */
static gboolean
load_still_wanted (Load *l, GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  return purple_accounts_find (l->username, RDT_PRPL_ID) == l->account;
}

static void
on_root_read (GObject *src, GAsyncResult *res, gpointer data)
{
  Load *l = data;
  GError *error = NULL;

  if (!rdt_keystore_lookup_finish (res, l->root, &error))
    {
      if (load_still_wanted (l, error))
        load_fail (l, error);
    }
  else if (load_still_wanted (l, NULL))
    l->callback (l->account, l->seed, l->root, NULL, l->user_data);
  g_clear_error (&error);
  load_free (l);
}

static void
on_seed_read (GObject *src, GAsyncResult *res, gpointer data)
{
  Load *l = data;
  GError *error = NULL;

  if (!rdt_keystore_lookup_finish (res, l->seed, &error))
    {
      if (load_still_wanted (l, error))
        load_fail (l, error);
      g_error_free (error);
      load_free (l);
      return;
    }
  rdt_keystore_lookup_async (RDT_PRPL_ID, l->username, l->space,
                             RDT_KEYSTORE_ROOT, l->cancel, on_root_read, l);
}

void
rdt_keys_load (PurpleAccount *account, GCancellable *cancellable,
               RdtKeysFunc callback, gpointer user_data)
{
  Load *l = g_new0 (Load, 1);

  l->account = account;
  l->username = g_strdup (purple_account_get_username (account));
  l->space = space_of (account);
  l->callback = callback;
  l->user_data = user_data;
  l->cancel = cancellable ? g_object_ref (cancellable) : NULL;
  l->seed = rdt_secret_alloc (32);
  l->root = rdt_secret_alloc (32);
  if (!rdt_keys_in_service (account))
    {
      /* where libpurple keeps them */
      const gchar *password = purple_account_get_password (account);
      const gchar *root = purple_account_get_string (account, ROOT_SETTING, "");
      GError *error = NULL, *told = NULL;
      gboolean both = FALSE;

      if (!rdt_keys_parse_password (password, l->seed, l->root, &both)
          && !rdt_parse_key32 (password ? password : "", l->seed, &error))
        told = g_error_new (RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_FAILED,
                            _("Invalid private key (password): %s"),
                            error->message);
      else if (!both && !rdt_parse_key32 (root ? root : "", l->root, &error))
        told = g_error_new (RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_FAILED,
                            _("Invalid symmetric root: %s"), error->message);
      if (told != NULL)
        callback (account, NULL, NULL, told, user_data);
      else
        callback (account, l->seed, l->root, NULL, user_data);
      g_clear_error (&error);
      g_clear_error (&told);
      load_free (l);
      return;
    }
  rdt_keystore_lookup_async (RDT_PRPL_ID, l->username, l->space,
                             RDT_KEYSTORE_SEED, l->cancel, on_seed_read, l);
}

/* ---- moving plain keys into the service ---- */

typedef struct {
  gchar *username, *space;
  guint8 *seed, *root;      /* what was loaded from accounts.xml */
  guint8 *check;            /* read back */
  guint step;
} Move;

static void
move_free (Move *m)
{
  g_free (m->username);
  g_free (m->space);
  rdt_secret_free (m->seed);
  rdt_secret_free (m->root);
  rdt_secret_free (m->check);
  g_free (m);
}

/* A line for the account's chats, once (conn.c keeps it until a chat is
 * open): not a window, which would come up over everything. */
static void
tell (Move *m, const gchar *text)
{
  PurpleAccount *account = purple_accounts_find (m->username, RDT_PRPL_ID);
  PurpleConnection *gc = account ? purple_account_get_connection (account)
                                 : NULL;
  RdtConn *rc = gc ? rdt_conn_of (gc) : NULL;

  if (rc != NULL)
    rdt_conn_tell_once (rc, text);
}

static void move_next (Move *m);

static void
on_moved_step (GObject *src, GAsyncResult *res, gpointer data)
{
  Move *m = data;
  GError *error = NULL;
  gboolean ok;

  switch (m->step)
    {
    case 1: case 2:
      ok = rdt_keystore_store_finish (res, &error);
      break;
    default:
      ok = rdt_keystore_lookup_finish (res, m->check, &error);
      if (ok)
        ok = sodium_memcmp (m->check, m->step == 3 ? m->seed : m->root,
                             32) == 0;
      break;
    }
  if (!ok)
    {
      g_autofree gchar *text = NULL;

      purple_debug_warning ("reeeductio", "keys stay in accounts.xml: %s\n",
                            error ? error->message : "read back differs");
      if (error && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          text = g_strdup_printf (_("Your keys stay in accounts.xml: moving "
                                    "them into the system keyring failed "
                                    "(%s)."), error->message);
          tell (m, text);
        }
      g_clear_error (&error);
      move_free (m);
      return;
    }
  move_next (m);
}

static void
move_next (Move *m)
{
  PurpleAccount *account;

  m->step++;
  switch (m->step)
    {
    case 1:
      rdt_keystore_store_async (RDT_PRPL_ID, m->username, m->space,
                                RDT_KEYSTORE_SEED, m->seed, NULL,
                                on_moved_step, m);
      return;
    case 2:
      rdt_keystore_store_async (RDT_PRPL_ID, m->username, m->space,
                                RDT_KEYSTORE_ROOT, m->root, NULL,
                                on_moved_step, m);
      return;
    case 3:
      rdt_keystore_lookup_async (RDT_PRPL_ID, m->username, m->space,
                                 RDT_KEYSTORE_SEED, NULL, on_moved_step, m);
      return;
    case 4:
      rdt_keystore_lookup_async (RDT_PRPL_ID, m->username, m->space,
                                 RDT_KEYSTORE_ROOT, NULL, on_moved_step, m);
      return;
    default:
      break;
    }
  /* Both read back identical: only now out of accounts.xml. */
  account = purple_accounts_find (m->username, RDT_PRPL_ID);
  if (account != NULL)
    {
      purple_account_set_string (account, RDT_KEYS_STORAGE, RDT_KEYS_IN_SERVICE);
      purple_account_set_password (account, NULL);
      purple_account_remove_setting (account, ROOT_SETTING);
      purple_account_remove_setting (account, NOTED_SETTING);
      tell (m, _("Your private key and the space key were moved from "
                 "accounts.xml into the system keyring (Secret Service)."));
    }
  move_free (m);
}

static void
on_probed (GObject *src, GAsyncResult *res, gpointer data)
{
  Move *m = data;
  GError *error = NULL;

  if (rdt_keystore_probe_finish (res, &error))
    {
      move_next (m);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      PurpleAccount *account = purple_accounts_find (m->username, RDT_PRPL_ID);

      /* once per account: why, and how to change it */
      if (account != NULL &&
          purple_account_get_string (account, NOTED_SETTING, NULL) == NULL)
        {
          g_autofree gchar *text = g_strdup_printf (
              _("Your private key and the space key are kept in accounts.xml, "
                "readable by anyone who can read your files: no system "
                "keyring (Secret Service) was found (%s). Install and start "
                "one (GNOME Keyring, KeePassXC or KWallet) and log in again "
                "to move them there."), error->message);

          purple_account_set_string (account, NOTED_SETTING, "1");
          tell (m, text);
        }
    }
  g_error_free (error);
  move_free (m);
}

void
rdt_keys_migrate (PurpleConnection *gc, const guint8 seed[32],
                  const guint8 root[32])
{
  PurpleAccount *account = purple_connection_get_account (gc);
  Move *m;

  if (!has_plain (account) ||
      purple_account_get_bool (account, PLAIN_OPTION, FALSE))
    return;
  m = g_new0 (Move, 1);
  m->username = g_strdup (purple_account_get_username (account));
  m->space = space_of (account);
  m->seed = rdt_secret_alloc (32);
  m->root = rdt_secret_alloc (32);
  m->check = rdt_secret_alloc (32);
  memcpy (m->seed, seed, 32);
  memcpy (m->root, root, 32);
  rdt_keystore_probe_async (NULL, on_probed, m);
}

/* ---- forgetting ---- */

static void
on_cleared (GObject *src, GAsyncResult *res, gpointer data)
{
  GError *error = NULL;

  if (!rdt_keystore_clear_finish (res, &error))
    {
      purple_debug_warning ("reeeductio", "keys not removed from the "
                            "keyring: %s\n", error->message);
      g_error_free (error);
    }
}

void
rdt_keys_forget (PurpleAccount *account)
{
  g_autofree gchar *space = space_of (account);
  const gchar *user = purple_account_get_username (account);

  if (g_strcmp0 (purple_account_get_string (account, RDT_KEYS_STORAGE, NULL),
                 RDT_KEYS_IN_SERVICE) != 0)
    return;
  rdt_keystore_clear_async (RDT_PRPL_ID, user, space, RDT_KEYSTORE_SEED, NULL,
                            on_cleared, NULL);
  rdt_keystore_clear_async (RDT_PRPL_ID, user, space, RDT_KEYSTORE_ROOT, NULL,
                            on_cleared, NULL);
}

PurpleAccountOption *
rdt_keys_account_option_new (void)
{
  return purple_account_option_bool_new (
      _("Keep the keys in accounts.xml (no system keyring)"), PLAIN_OPTION,
      FALSE);
}
