/* SPDX-License-Identifier: GPL-2.0-or-later */
/* keystore.c - see keystore.h. */
#include "config.h"
#include "keystore.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <libsecret/secret.h>

#include "crypto.h"
#include "encoding.h"

G_DEFINE_QUARK (rdt-keystore-error-quark, rdt_keystore_error)

#define SECRET_SERVICE_NAME "org.freedesktop.secrets"
/* A bus that has no Secret Service may still try to start one (D-Bus
 * activation): the probe gives it this long, then says there is none. */
#define PROBE_TIMEOUT_S 4

static const SecretSchema *
keystore_schema (void)
{
  static const SecretSchema schema = {
    "im.pidgin.purple-reeeductio.Key", SECRET_SCHEMA_NONE,
    {
      { "protocol", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "space", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "kind", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };
  return &schema;
}

static GHashTable *
keystore_attributes (const gchar *protocol, const gchar *account,
                     const gchar *space_id, RdtKeystoreKind kind)
{
  GHashTable *attrs = g_hash_table_new_full (g_str_hash, g_str_equal,
                                             NULL, g_free);

  g_hash_table_insert (attrs, "protocol", g_strdup (protocol));
  g_hash_table_insert (attrs, "account", g_strdup (account));
  g_hash_table_insert (attrs, "space", g_strdup (space_id));
  g_hash_table_insert (attrs, "kind",
                       g_strdup (kind == RDT_KEYSTORE_ROOT ? "root" : "seed"));
  return attrs;
}

/* ------------------------------------------------------------------ */
/* Errors */

static gboolean
remote_error_says (const GError *error, const gchar *word)
{
  g_autofree gchar *name = NULL;

  if (!g_dbus_error_is_remote_error (error))
    return FALSE;
  name = g_dbus_error_get_remote_error (error);
  return name != NULL && strstr (name, word) != NULL;
}

static gboolean
error_is_no_service (const GError *error)
{
  if (error->domain == G_DBUS_ERROR)
    switch (error->code)
      {
      case G_DBUS_ERROR_SERVICE_UNKNOWN:
      case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
      case G_DBUS_ERROR_NO_SERVER:
      case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
      case G_DBUS_ERROR_SPAWN_FORK_FAILED:
      case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
      case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
      case G_DBUS_ERROR_SPAWN_FAILED:
      case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
      case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
      case G_DBUS_ERROR_SPAWN_FILE_INVALID:
        return TRUE;
      default:
        return FALSE;
      }
  /* The bus connection itself went away. */
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* libsecret's and D-Bus's errors as this module's; takes `error`.
 * A cancellation the caller asked for stays G_IO_ERROR_CANCELLED. */
static GError *
keystore_error (GError *error, GCancellable *cancellable)
{
  GError *mapped;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      && g_cancellable_is_cancelled (cancellable))
    return error;

  if (error_is_no_service (error))
    mapped = g_error_new (RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_NO_SERVICE,
                          _("No Secret Service on the session bus "
                            "(nobody provides %s): %s"),
                          SECRET_SERVICE_NAME, error->message);
  /* Cancelled without the caller asking: the unlock prompt was dismissed
   * or could not be shown; gnome-keyring without a prompter says so with
   * its own D-Bus errors. */
  else if (g_error_matches (error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED)
           || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
           || remote_error_says (error, "Prompt")
           || remote_error_says (error, "Denied"))
    mapped = g_error_new (RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_LOCKED,
                          _("The keyring is locked and was not unlocked: %s"),
                          error->message);
  else
    mapped = g_error_new (RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_FAILED,
                          _("The keyring failed: %s"), error->message);
  g_error_free (error);
  return mapped;
}

/* The first step of every call: the bus and the service proxy. A failure
 * here means no (usable) session bus. */
static GError *
keystore_service_error (GError *error, GCancellable *cancellable)
{
  GError *mapped;

  if ((g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
       && g_cancellable_is_cancelled (cancellable))
      || error_is_no_service (error))
    return keystore_error (error, cancellable);
  mapped = g_error_new (RDT_KEYSTORE_ERROR, RDT_KEYSTORE_ERROR_NO_SERVICE,
                        _("No Secret Service: cannot reach the session bus: %s"),
                        error->message);
  g_error_free (error);
  return mapped;
}

/* ------------------------------------------------------------------ */
/* Probe */

typedef struct {
  GCancellable *cancellable;  /* ours: the caller's or the timeout */
  GCancellable *caller;
  gulong        caller_handler;
  guint         timeout_id;
  gboolean      timed_out;
} ProbeData;

static void
probe_data_free (gpointer p)
{
  ProbeData *data = p;

  if (data->timeout_id != 0)
    g_source_remove (data->timeout_id);
  if (data->caller != NULL)
    {
      g_cancellable_disconnect (data->caller, data->caller_handler);
      g_object_unref (data->caller);
    }
  g_object_unref (data->cancellable);
  g_free (data);
}

static gboolean
probe_timeout (gpointer user_data)
{
  ProbeData *data = user_data;

  data->timeout_id = 0;
  data->timed_out = TRUE;
  g_cancellable_cancel (data->cancellable);
  return G_SOURCE_REMOVE;
}

static void
probe_caller_cancelled (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static void
probe_return_error (GTask *task, GError *error, gboolean service_step)
{
  ProbeData *data = g_task_get_task_data (task);

  if (data->timed_out)
    {
      g_error_free (error);
      g_task_return_new_error (task, RDT_KEYSTORE_ERROR,
                               RDT_KEYSTORE_ERROR_NO_SERVICE,
                               _("No Secret Service: nobody answered for %s "
                                 "on the session bus within %d seconds"),
                               SECRET_SERVICE_NAME, PROBE_TIMEOUT_S);
      return;
    }
  error = service_step ? keystore_service_error (error, data->caller)
                       : keystore_error (error, data->caller);
  g_task_return_error (task, error);
}

static void
probe_alias_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(SecretCollection) collection = NULL;
  GError *error = NULL;

  collection = secret_collection_for_alias_finish (result, &error);
  if (error != NULL)
    {
      probe_return_error (task, error, FALSE);
      return;
    }
  /* Answered: with the default collection or none (not created yet). */
  g_task_return_boolean (task, TRUE);
}

static void
probe_service_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  ProbeData *data = g_task_get_task_data (task);
  g_autoptr(SecretService) service = NULL;
  GError *error = NULL;

  service = secret_service_get_finish (result, &error);
  if (service == NULL)
    {
      probe_return_error (task, error, TRUE);
      return;
    }
  /* The proxy exists whether or not anybody owns the name: a real method
   * call shows whether a Secret Service answers. */
  secret_collection_for_alias (service, SECRET_COLLECTION_DEFAULT,
                               SECRET_COLLECTION_NONE, data->cancellable,
                               probe_alias_done, g_steal_pointer (&task));
}

void
rdt_keystore_probe_async (GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  ProbeData *data = g_new0 (ProbeData, 1);

  g_task_set_source_tag (task, rdt_keystore_probe_async);
  /* Our own cancellable, so the timeout does not cancel the caller's. */
  data->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, data, probe_data_free);
  if (cancellable != NULL)
    {
      data->caller = g_object_ref (cancellable);
      data->caller_handler =
        g_cancellable_connect (cancellable, G_CALLBACK (probe_caller_cancelled),
                               g_object_ref (data->cancellable),
                               g_object_unref);
    }
  data->timeout_id = g_timeout_add_seconds (PROBE_TIMEOUT_S, probe_timeout,
                                            data);
  secret_service_get (SECRET_SERVICE_NONE, data->cancellable,
                      probe_service_done, task);
}

gboolean
rdt_keystore_probe_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Store, lookup, clear */

typedef enum { OP_STORE, OP_LOOKUP, OP_CLEAR } OpKind;

typedef struct {
  OpKind      op;
  GHashTable *attributes;
  gchar      *label;
  gchar      *hex;  /* OP_STORE: the secret as text; wiped */
  SecretService *service;
  gboolean    unlock_tried;
} OpData;

static void
op_data_free (gpointer p)
{
  OpData *data = p;

  g_hash_table_unref (data->attributes);
  g_free (data->label);
  rdt_secret_string_free (data->hex);
  g_clear_object (&data->service);
  g_free (data);
}

static void op_store (GTask *task);

static void
op_unlocked (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GList *unlocked = NULL;
  GError *error = NULL;
  gint count;

  count = secret_service_unlock_finish (SECRET_SERVICE (source), result,
                                        &unlocked, &error);
  g_list_free_full (unlocked, g_object_unref);
  if (error != NULL)
    {
      g_task_return_error (task,
                           keystore_error (error, g_task_get_cancellable (task)));
      return;
    }
  if (count <= 0)
    {
      g_task_return_new_error (task, RDT_KEYSTORE_ERROR,
                               RDT_KEYSTORE_ERROR_LOCKED,
                               _("The keyring is locked and unlocking it "
                                 "was refused"));
      return;
    }
  op_store (g_steal_pointer (&task));
}

static void
op_default_collection (GObject *source, GAsyncResult *result,
                       gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(SecretCollection) collection = NULL;
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  GList *objects;

  collection = secret_collection_for_alias_finish (result, &error);
  if (collection == NULL)
    {
      if (error == NULL)
        error = g_error_new (SECRET_ERROR, SECRET_ERROR_IS_LOCKED,
                             _("the keyring has no default collection"));
      g_task_return_error (task, keystore_error (error, cancellable));
      return;
    }
  /* Asks the service to unlock: it prompts the person, if it can. */
  objects = g_list_append (NULL, collection);
  secret_service_unlock (secret_collection_get_service (collection), objects,
                         cancellable, op_unlocked,
                         g_steal_pointer (&task));
  g_list_free (objects);
}

static void
op_stored (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  OpData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (secret_password_store_finish (result, &error))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  /* Storing does not unlock by itself (a lookup does): unlock the default
   * collection once, then store again. */
  if (g_error_matches (error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED)
      && !data->unlock_tried && data->service != NULL)
    {
      GCancellable *cancellable = g_task_get_cancellable (task);

      data->unlock_tried = TRUE;
      g_error_free (error);
      secret_collection_for_alias (data->service, SECRET_COLLECTION_DEFAULT,
                                   SECRET_COLLECTION_NONE, cancellable,
                                   op_default_collection,
                                   g_steal_pointer (&task));
      return;
    }
  g_task_return_error (task,
                       keystore_error (error, g_task_get_cancellable (task)));
}

static void
op_store (GTask *task)
{
  OpData *data = g_task_get_task_data (task);

  secret_password_storev (keystore_schema (), data->attributes,
                          SECRET_COLLECTION_DEFAULT, data->label, data->hex,
                          g_task_get_cancellable (task), op_stored, task);
}

static void
op_looked_up (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GList *items, *l;
  SecretValue *value = NULL;
  gboolean locked = FALSE;
  guint8 *key;

  items = secret_service_search_finish (SECRET_SERVICE (source), result,
                                        &error);
  if (error != NULL)
    {
      g_task_return_error (task,
                           keystore_error (error, g_task_get_cancellable (task)));
      return;
    }
  for (l = items; l != NULL && value == NULL; l = l->next)
    {
      if (secret_item_get_locked (l->data))
        locked = TRUE;
      else
        value = secret_item_get_secret (l->data);
    }
  g_list_free_full (items, g_object_unref);
  /* A match still locked after the search's unlock attempt: the prompt was
   * refused or impossible (libsecret's password lookup says "none"). */
  if (value == NULL)
    {
      if (locked)
        g_task_return_new_error (task, RDT_KEYSTORE_ERROR,
                                 RDT_KEYSTORE_ERROR_LOCKED,
                                 _("The keyring is locked and unlocking it "
                                   "was refused"));
      else
        g_task_return_new_error (task, RDT_KEYSTORE_ERROR,
                                 RDT_KEYSTORE_ERROR_NOT_FOUND,
                                 _("No key stored in the keyring for this "
                                   "account"));
      return;
    }
  key = rdt_secret_alloc (32);
  if (secret_value_get_text (value) == NULL
      || !rdt_hex_decode (secret_value_get_text (value), key, 32, NULL))
    {
      secret_value_unref (value);
      rdt_secret_free (key);
      /* Not the decoder's message: it might quote the text. */
      g_task_return_new_error (task, RDT_KEYSTORE_ERROR,
                               RDT_KEYSTORE_ERROR_FAILED,
                               _("The key stored in the keyring is malformed "
                                 "(not 64 hexadecimal digits)"));
      return;
    }
  /* libsecret keeps the value in memory it wipes when freed. */
  secret_value_unref (value);
  g_task_return_pointer (task, key, rdt_secret_free);
}

static void
op_cleared (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  /* FALSE without an error: there was nothing to delete, which is fine. */
  secret_password_clear_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task,
                         keystore_error (error, g_task_get_cancellable (task)));
  else
    g_task_return_boolean (task, TRUE);
}

static void
op_service_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  OpData *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  SecretService *service;
  GError *error = NULL;

  /* libsecret's password calls below use this same shared service. */
  service = secret_service_get_finish (result, &error);
  data->service = service;
  if (service == NULL)
    {
      g_task_return_error (task, keystore_service_error (error, cancellable));
      g_object_unref (task);
      return;
    }
  switch (data->op)
    {
    case OP_STORE:
      /* libsecret copies the text into its own wiped memory; ours is
       * kept (for a second try after unlocking) and wiped at the end. */
      op_store (task);
      break;
    case OP_LOOKUP:
      /* A search rather than secret_password_lookup: that one answers
       * "nothing" for an item it could not unlock. */
      secret_service_search (service, keystore_schema (), data->attributes,
                             SECRET_SEARCH_ALL | SECRET_SEARCH_UNLOCK
                             | SECRET_SEARCH_LOAD_SECRETS,
                             cancellable, op_looked_up, task);
      break;
    case OP_CLEAR:
      secret_password_clearv (keystore_schema (), data->attributes,
                              cancellable, op_cleared, task);
      break;
    }
}

static GTask *
op_start (OpKind op, gpointer source_tag, const gchar *protocol,
          const gchar *account, const gchar *space_id, RdtKeystoreKind kind,
          GCancellable *cancellable, GAsyncReadyCallback callback,
          gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  OpData *data = g_new0 (OpData, 1);

  g_task_set_source_tag (task, source_tag);
  data->op = op;
  data->attributes = keystore_attributes (protocol, account, space_id, kind);
  g_task_set_task_data (task, data, op_data_free);
  return task;
}

static void
op_run (GTask *task)
{
  secret_service_get (SECRET_SERVICE_NONE, g_task_get_cancellable (task),
                      op_service_done, task);
}

void
rdt_keystore_store_async (const gchar *protocol, const gchar *account,
                          const gchar *space_id, RdtKeystoreKind kind,
                          const guint8 secret[32], GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  OpData *data;

  g_return_if_fail (protocol != NULL && account != NULL && space_id != NULL);
  g_return_if_fail (secret != NULL);
  task = op_start (OP_STORE, rdt_keystore_store_async, protocol, account,
                   space_id, kind, cancellable, callback, user_data);
  data = g_task_get_task_data (task);
  data->hex = rdt_hex_encode (secret, 32);
  /* The label is what a keyring manager lists. */
  data->label = kind == RDT_KEYSTORE_ROOT
    ? g_strdup_printf (_("reeeductio space key for %s"), account)
    : g_strdup_printf (_("reeeductio private key for %s"), account);
  op_run (task);
}

gboolean
rdt_keystore_store_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
rdt_keystore_lookup_async (const gchar *protocol, const gchar *account,
                           const gchar *space_id, RdtKeystoreKind kind,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (protocol != NULL && account != NULL && space_id != NULL);
  op_run (op_start (OP_LOOKUP, rdt_keystore_lookup_async, protocol, account,
                    space_id, kind, cancellable, callback, user_data));
}

gboolean
rdt_keystore_lookup_finish (GAsyncResult *result, guint8 out[32],
                            GError **error)
{
  guint8 *key;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  key = g_task_propagate_pointer (G_TASK (result), error);
  if (key == NULL)
    return FALSE;
  memcpy (out, key, 32);
  rdt_secret_free (key);
  return TRUE;
}

void
rdt_keystore_clear_async (const gchar *protocol, const gchar *account,
                          const gchar *space_id, RdtKeystoreKind kind,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (protocol != NULL && account != NULL && space_id != NULL);
  op_run (op_start (OP_CLEAR, rdt_keystore_clear_async, protocol, account,
                    space_id, kind, cancellable, callback, user_data));
}

gboolean
rdt_keystore_clear_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
