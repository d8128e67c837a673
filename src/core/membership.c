/* membership.c - member and invitation writes (spec 8.2-8.4). */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#include "crypto.h"
#include "error.h"
#include "id.h"
#include "membership.h"
#include "state.h"
#include "statesync.h"

#define N_MEMBER_WRITES 4

/* The writes that make user_id a chat member: entry, then capabilities. */
static void
member_writes (const gchar *user_id, gchar *paths[N_MEMBER_WRITES],
               gchar *datas[N_MEMBER_WRITES])
{
  paths[0] = g_strconcat ("auth/users/", user_id, NULL);
  datas[0] = rdt_state_encode_user_entry (user_id);
  paths[1] = g_strconcat (paths[0], "/rights/chat", NULL);
  datas[1] = rdt_state_encode_capability ("write", "topics/{any}/messages");
  paths[2] = g_strconcat (paths[0], "/rights/profile", NULL);
  datas[2] = rdt_state_encode_capability ("write", "state/profiles/{self}");
  paths[3] = g_strconcat (paths[0], "/rights/topics", NULL);
  datas[3] = rdt_state_encode_capability ("write", "state/topics/{any}/metadata");
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

void
rdt_membership_redeem_async (const RdtInvite *invite,
                             const RdtSigningKey *user_key,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (RdtSigningKey) tool = rdt_signing_key_new_from_seed (invite->tool_seed);
  g_autofree gchar *uid = rdt_signing_key_get_id (user_key, RDT_ID_USER);
  g_autoptr (RdtApi) api = NULL;
  gchar *paths[N_MEMBER_WRITES], *datas[N_MEMBER_WRITES];
  GError *error = NULL;

  g_task_set_source_tag (task, rdt_membership_redeem_async);
  api = rdt_api_new (invite->server_url, invite->space_id, tool, RDT_ID_TOOL,
                     &error);
  if (api == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  /* The api logs in as the tool on its first request (spec 8.4 step 2). */
  member_writes (uid, paths, datas);
  rdt_state_write_async (api, (const gchar *const *) paths,
                         (const gchar *const *) datas, N_MEMBER_WRITES,
                         cancellable, on_written, task);
  free_writes (paths, datas, N_MEMBER_WRITES);
}

gboolean
rdt_membership_redeem_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
