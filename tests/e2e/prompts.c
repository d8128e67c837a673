/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prompts.c - see prompts.h. */
#include "config.h"

#include <string.h>

#include "harness.h"
#include "prompts.h"

typedef struct {
  HarnessPrompt pub;
  GPtrArray *cbs;           /* action: PurpleRequestActionCb per label */
  GCallback ok_cb;          /* input, fields */
  GCallback cancel_cb;      /* fields */
  gpointer user_data;
} Prompt;

static Prompt *open_prompt;

static Prompt *
prompt_new (PurpleRequestType type, const char *title, const char *primary,
            const char *secondary, void *user_data)
{
  Prompt *p = g_new0 (Prompt, 1);

  g_assert_null (open_prompt);   /* one prompt at a time in these tests */
  p->pub.type = type;
  p->pub.title = g_strdup (title);
  p->pub.primary = g_strdup (primary);
  p->pub.secondary = g_strdup (secondary);
  p->pub.labels = g_ptr_array_new_with_free_func (g_free);
  p->cbs = g_ptr_array_new ();
  p->user_data = user_data;
  open_prompt = p;
  return p;
}

/* Finch's request windows show a mnemonic's underscore as it is
 * ("_Cancel"): button labels must have none. */
static void
assert_no_mnemonic (const char *label)
{
  if (label != NULL && strchr (label, '_') != NULL)
    g_error ("button label with an underscore: \"%s\"", label);
}

static void *
request_input (const char *title, const char *primary, const char *secondary,
               const char *default_value, gboolean multiline, gboolean masked,
               gchar *hint, const char *ok_text, GCallback ok_cb,
               const char *cancel_text, GCallback cancel_cb,
               PurpleAccount *account, const char *who,
               PurpleConversation *conv, void *user_data)
{
  Prompt *p = prompt_new (PURPLE_REQUEST_INPUT, title, primary, secondary,
                          user_data);

  assert_no_mnemonic (ok_text);
  assert_no_mnemonic (cancel_text);
  p->pub.masked = masked;
  p->ok_cb = ok_cb;
  return p;
}

static void *
request_action (const char *title, const char *primary, const char *secondary,
                int default_action, PurpleAccount *account, const char *who,
                PurpleConversation *conv, void *user_data, size_t action_count,
                va_list actions)
{
  Prompt *p = prompt_new (PURPLE_REQUEST_ACTION, title, primary, secondary,
                          user_data);

  p->pub.default_action = default_action;
  for (size_t i = 0; i < action_count; i++)
    {
      const char *label = va_arg (actions, const char *);

      assert_no_mnemonic (label);
      g_ptr_array_add (p->pub.labels, g_strdup (label));
      g_ptr_array_add (p->cbs, va_arg (actions, gpointer));
    }
  return p;
}

/* Whether any field of the window can be filled in (else it only shows
 * things: ids, an invitation). */
static gboolean
fields_editable (PurpleRequestFields *fields)
{
  for (GList *g = purple_request_fields_get_groups (fields); g; g = g->next)
    for (GList *f = purple_request_field_group_get_fields (g->data); f;
         f = f->next)
      switch (purple_request_field_get_type (f->data))
        {
        case PURPLE_REQUEST_FIELD_STRING:
          if (purple_request_field_string_is_editable (f->data))
            return TRUE;
          break;
        case PURPLE_REQUEST_FIELD_LABEL:
          break;
        default:
          return TRUE;
        }
  return FALSE;
}

/* Fields windows that only show things (closed by libpurple only). */
static GHashTable *shown_fields;

/* A fields window that can be filled in is a prompt the test answers;
 * one that only shows things (ids, an invitation) is recorded as a
 * notify whose text is the secondary text and a line "label: value" per
 * string field, " (read-only)" after a value that cannot be edited. */
static void *
request_fields (const char *title, const char *primary, const char *secondary,
                PurpleRequestFields *fields, const char *ok_text,
                GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
                PurpleAccount *account, const char *who,
                PurpleConversation *conv, void *user_data)
{
  HarnessNotify *n;
  GString *text;
  Prompt *p;

  assert_no_mnemonic (ok_text);
  assert_no_mnemonic (cancel_text);
  if (fields_editable (fields))
    {
      p = prompt_new (PURPLE_REQUEST_FIELDS, title, primary, secondary,
                      user_data);
      p->pub.fields = fields;   /* the UI's to free, as in Pidgin */
      p->ok_cb = ok_cb;
      p->cancel_cb = cancel_cb;
      return p;
    }
  n = g_new0 (HarnessNotify, 1);
  text = g_string_new (secondary);
  for (GList *g = purple_request_fields_get_groups (fields); g; g = g->next)
    for (GList *f = purple_request_field_group_get_fields (g->data); f;
         f = f->next)
      if (purple_request_field_get_type (f->data) == PURPLE_REQUEST_FIELD_STRING)
        g_string_append_printf (text, "\n%s: %s%s",
                                purple_request_field_get_label (f->data),
                                purple_request_field_string_get_value (f->data),
                                purple_request_field_string_is_editable (f->data)
                                    ? "" : " (read-only)");
  n->type = PURPLE_NOTIFY_MSG_INFO;
  n->title = g_strdup (title);
  n->primary = g_strdup (primary);
  n->text = g_string_free (text, FALSE);
  g_test_message ("fields: %s: %s", title, primary);
  g_ptr_array_add (harness_notifies (), n);
  if (shown_fields == NULL)
    shown_fields = g_hash_table_new (NULL, NULL);
  g_hash_table_add (shown_fields, fields);
  return fields;
}

static void
close_request (PurpleRequestType type, void *ui_handle)
{
  Prompt *p = ui_handle;

  if (type == PURPLE_REQUEST_FIELDS && shown_fields != NULL
      && g_hash_table_remove (shown_fields, ui_handle))
    {
      purple_request_fields_destroy (ui_handle);
      return;
    }

  /* answered prompts were taken off open_prompt before purple closes them */
  if (p == open_prompt)
    open_prompt = NULL;
  g_free (p->pub.title);
  g_free (p->pub.primary);
  g_free (p->pub.secondary);
  g_ptr_array_free (p->pub.labels, TRUE);
  g_ptr_array_free (p->cbs, TRUE);
  if (p->pub.fields != NULL)
    purple_request_fields_destroy (p->pub.fields);
  g_free (p);
}

static PurpleRequestUiOps request_ops = {
  .request_input = request_input,
  .request_action = request_action,
  .request_fields = request_fields,
  .close_request = close_request,
};

void
harness_prompts_install (void)
{
  purple_request_set_ui_ops (&request_ops);
}

HarnessPrompt *
harness_prompt (void)
{
  return open_prompt ? &open_prompt->pub : NULL;
}

/* Takes the open prompt, which must be of type. */
static Prompt *
take (PurpleRequestType type)
{
  Prompt *p = open_prompt;

  g_assert_nonnull (p);
  g_assert_cmpint (p->pub.type, ==, type);
  open_prompt = NULL;
  return p;
}

void
harness_answer_action (const gchar *label)
{
  Prompt *p = take (PURPLE_REQUEST_ACTION);
  gint choice = -1;

  for (guint i = 0; i < p->pub.labels->len; i++)
    if (strstr (p->pub.labels->pdata[i], label) != NULL)
      choice = (gint) i;
  g_assert_cmpint (choice, >=, 0);
  ((PurpleRequestActionCb) p->cbs->pdata[choice]) (p->user_data, choice);
  purple_request_close (PURPLE_REQUEST_ACTION, p);
}

void
harness_answer_input (const gchar *text)
{
  Prompt *p = take (PURPLE_REQUEST_INPUT);

  ((PurpleRequestInputCb) p->ok_cb) (p->user_data, text);
  purple_request_close (PURPLE_REQUEST_INPUT, p);
}

void
harness_answer_fields (gboolean ok)
{
  Prompt *p = take (PURPLE_REQUEST_FIELDS);

  ((PurpleRequestFieldsCb) (ok ? p->ok_cb : p->cancel_cb)) (p->user_data,
                                                           p->pub.fields);
  purple_request_close (PURPLE_REQUEST_FIELDS, p);
}

void
harness_prompt_set_string (const gchar *id, const gchar *value)
{
  HarnessPrompt *p = harness_prompt ();
  PurpleRequestField *f;

  g_assert_nonnull (p);
  g_assert_cmpint (p->type, ==, PURPLE_REQUEST_FIELDS);
  f = purple_request_fields_get_field (p->fields, id);
  g_assert_nonnull (f);
  purple_request_field_string_set_value (f, value);
}

const gchar *
harness_prompt_default_label (void)
{
  HarnessPrompt *p = harness_prompt ();

  g_assert_nonnull (p);
  g_assert_cmpint (p->default_action, >=, 0);
  g_assert_cmpint (p->default_action, <, (gint) p->labels->len);
  return p->labels->pdata[p->default_action];
}

void
harness_run_action (PurpleAccount *a, const gchar *label)
{
  PurpleConnection *gc = purple_account_get_connection (a);
  PurplePlugin *plugin = purple_find_prpl ("prpl-reeeductio");
  GList *actions;
  gboolean found = FALSE;

  g_assert_nonnull (gc);
  g_assert_nonnull (plugin);
  g_assert_nonnull (plugin->info->actions);
  actions = plugin->info->actions (plugin, gc);
  for (GList *l = actions; l != NULL; l = l->next)
    {
      PurplePluginAction *act = l->data;

      if (!found && strstr (act->label, label) != NULL)
        {
          act->plugin = plugin;
          act->context = gc;
          act->callback (act);
          found = TRUE;
        }
    }
  g_list_free_full (actions, (GDestroyNotify) purple_plugin_action_free);
  g_assert_true (found);
}
