/* SPDX-License-Identifier: GPL-2.0-or-later */
/* membership.c - member and invitation writes (spec 8.2-8.4). */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "membership.h"
#include "message.h"
#include "state.h"
#include "statesync.h"

#define N_MEMBER_WRITES 6

/* The capabilities of a chat member (docs/conventions.md, "Members"). */
static const struct {
  const gchar *id, *op, *path;
} member_rights[N_MEMBER_WRITES - 1] = {
  { "chat", "write", "topics/{any}/messages" },
  { "profile", "write", "state/profiles/{self}" },
  { "topics", "write", "state/topics/{any}/metadata" },
  /* The member's own read markers (docs/conventions.md, "Read state"):
   * spec 11 checks writes on the raw key, reads on data/ + key. */
  { "own_data", "write", "data/user/{self}/{...}" },
  { "own_data_read", "read", "data/data/user/{self}/{...}" },
};

/* The writes that make user_id a chat member: entry, then capabilities. */
static void
member_writes (const gchar *user_id, gchar *paths[N_MEMBER_WRITES],
               gchar *datas[N_MEMBER_WRITES])
{
  paths[0] = g_strconcat ("auth/users/", user_id, NULL);
  datas[0] = rdt_state_encode_user_entry (user_id);
  for (guint i = 1; i < N_MEMBER_WRITES; i++)
    {
      paths[i] = g_strconcat (paths[0], "/rights/", member_rights[i - 1].id,
                              NULL);
      datas[i] = rdt_state_encode_capability (member_rights[i - 1].op,
                                              member_rights[i - 1].path);
    }
}

static void
free_writes (gchar **paths, gchar **datas, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_free (paths[i]);
      g_free (datas[i]);
    }
}

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (rdt_state_write_finish (RDT_API (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

/* ---- add member ---- */

void
rdt_membership_add_member_async (RdtApi *api, const gchar *user_id,
                                 GCancellable *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  GTask *task = g_task_new (api, cancellable, callback, user_data);
  gchar *paths[N_MEMBER_WRITES], *datas[N_MEMBER_WRITES];
  GError *error = NULL;

  g_task_set_source_tag (task, rdt_membership_add_member_async);
  if (!rdt_id_decode_typed (user_id, RDT_ID_USER, NULL, &error))
    {
      g_prefix_error (&error, _("Not a member ID: "));
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  member_writes (user_id, paths, datas);
  rdt_state_write_async (api, (const gchar *const *) paths,
                         (const gchar *const *) datas, N_MEMBER_WRITES,
                         cancellable, on_written, task);
  free_writes (paths, datas, N_MEMBER_WRITES);
}

gboolean
rdt_membership_add_member_finish (RdtApi *api, GAsyncResult *result,
                                  GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- invitations ---- */

static void
on_invite_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  GError *error = NULL;

  if (!rdt_state_write_finish (RDT_API (source), result, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* the invitation string, kept as task data until now */
  g_task_return_pointer (task, g_strdup (g_task_get_task_data (task)),
                         rdt_secret_string_free);
  g_object_unref (task);
}

void
rdt_membership_invite_async (RdtApi *api, const gchar *server_url,
                             const guint8 root[32], GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (api, cancellable, callback, user_data);
  g_autoptr (RdtSigningKey) tool = rdt_signing_key_generate ();
  g_autofree gchar *tid = rdt_signing_key_get_id (tool, RDT_ID_TOOL);
  guint8 *seed = rdt_secret_alloc (32);
  gchar *paths[3], *datas[3];
  GError *error = NULL;
  gchar *text;

  g_task_set_source_tag (task, rdt_membership_invite_async);
  rdt_signing_key_copy_seed (tool, seed);
  text = rdt_invite_encode (server_url, rdt_api_get_space_id (api), root,
                            seed, &error);
  rdt_secret_free (seed);
  if (text == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_task_set_task_data (task, text, rdt_secret_string_free);

  /* Spec 8.4, working scheme: the tool may create user entries and their
   * rights, a few times only. */
  paths[0] = g_strconcat ("auth/tools/", tid, NULL);
  datas[0] = rdt_state_encode_tool_entry (tid, RDT_INVITE_USE_LIMIT);
  paths[1] = g_strconcat (paths[0], "/rights/create_user", NULL);
  datas[1] = rdt_state_encode_capability ("create", "state/auth/users/{any}");
  paths[2] = g_strconcat (paths[0], "/rights/grant_rights", NULL);
  datas[2] = rdt_state_encode_capability ("create",
                                          "state/auth/users/{any}/rights/{any}");
  rdt_state_write_async (api, (const gchar *const *) paths,
                         (const gchar *const *) datas, 3, cancellable,
                         on_invite_written, task);
  free_writes (paths, datas, 3);
}

gchar *
rdt_membership_invite_finish (RdtApi *api, GAsyncResult *result,
                              GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, api), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- redeeming an invitation ---- */

typedef struct {
  RdtApi *api;            /* as the tool */
  RdtState *state;
  gchar *uid;
  gchar *paths[N_MEMBER_WRITES], *datas[N_MEMBER_WRITES];
} Redeem;

static void
redeem_free (gpointer p)
{
  Redeem *r = p;

  g_clear_object (&r->api);
  rdt_state_free (r->state);
  g_free (r->uid);
  free_writes (r->paths, r->datas, N_MEMBER_WRITES);
  g_free (r);
}

static gboolean
has_string (JsonObject *o, const gchar *member, const gchar *value)
{
  JsonNode *n = json_object_get_member (o, member);

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) &&
         json_node_get_value_type (n) == G_TYPE_STRING &&
         g_strcmp0 (json_node_get_string (n), value) == 0;
}

/* Does an existing entry already say what write i would? By meaning, not
 * bytes: the server ignores extra fields (spec 8.1, 8.3), and another
 * client may have encoded the same value differently. */
static gboolean
entry_holds (Redeem *r, guint i, const gchar *data)
{
  g_autoptr (JsonObject) o = rdt_state_value_object (data);

  if (o == NULL)
    return FALSE;
  if (i == 0)
    return has_string (o, "user_id", r->uid);
  return has_string (o, "op", member_rights[i - 1].op) &&
         has_string (o, "path", member_rights[i - 1].path);
}

static void
on_redeem_synced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;
  Redeem *r = g_task_get_task_data (task);
  const gchar *paths[N_MEMBER_WRITES], *datas[N_MEMBER_WRITES];
  GError *error = NULL;
  guint n = 0;

  if (!rdt_state_sync_finish (r->state, result, NULL, NULL, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_prefix_error (&error, _("Could not read the space's state: "));
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* A previous attempt may have stored some entries before its answer
   * was lost: write only what is missing. The tool may only create, so
   * writing an existing path again would be refused (403), and its
   * use_limit has room for the missing writes only. */
  for (guint i = 0; i < N_MEMBER_WRITES; i++)
    {
      const RdtStateEntry *e = rdt_state_lookup (r->state, r->paths[i]);

      if (e == NULL)
        {
          paths[n] = r->paths[i];
          datas[n] = r->datas[i];
          n++;
        }
      else if (!entry_holds (r, i, e->data))
        {
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS,
                                   e->data[0] == '\0'
                                   ? _("The space has removed %s; this "
                                       "invitation cannot add it again. Ask "
                                       "for a new invitation.")
                                   : _("The space already has another value "
                                       "at %s, which this invitation cannot "
                                       "change. Ask for a new invitation."),
                                   r->paths[i]);
          g_object_unref (task);
          return;
        }
    }
  if (n == 0)
    {
      g_task_return_boolean (task, TRUE);   /* done by an earlier attempt */
      g_object_unref (task);
      return;
    }
  rdt_state_write_async (r->api, paths, datas, n,
                         g_task_get_cancellable (task), on_written, task);
}

void
rdt_membership_redeem_async (const RdtInvite *invite,
                             const RdtSigningKey *user_key,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (RdtSigningKey) tool = rdt_signing_key_new_from_seed (invite->tool_seed);
  g_autoptr (RdtSpaceKeys) keys = NULL;
  Redeem *r = g_new0 (Redeem, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, rdt_membership_redeem_async);
  g_task_set_task_data (task, r, redeem_free);
  r->api = rdt_api_new (invite->server_url, invite->space_id, tool,
                        RDT_ID_TOOL, &error);
  if (r->api == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  keys = rdt_space_keys_new (invite->root, invite->space_id);
  r->state = rdt_state_new (invite->space_id, keys->state_key);
  r->uid = rdt_signing_key_get_id (user_key, RDT_ID_USER);
  member_writes (r->uid, r->paths, r->datas);
  /* The api logs in as the tool on its first request (spec 8.4 step 2);
   * a tool may read the state log like any member (spec 8.4). */
  rdt_state_sync_async (r->state, r->api, cancellable, on_redeem_synced, task);
}

gboolean
rdt_membership_redeem_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
rdt_membership_error_is_temporary (const GError *error)
{
  /* A garbled answer to a write leaves open whether it was stored: as a
   * lost answer, the next (resuming) attempt finds out. */
  return g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_NETWORK) ||
         g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_BAD_RESPONSE) ||
         g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_SERVER) ||
         g_error_matches (error, RDT_API_ERROR, RDT_API_ERROR_CONFLICT);
}
