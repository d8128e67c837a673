/* SPDX-License-Identifier: GPL-2.0-or-later */
/* prompts.h - request UI ops for e2e tests that play the user: every
 * purple_request_input / purple_request_action prompt stays open until the
 * test answers it, so a test can check what was asked before it decides,
 * and run the plugin's account actions as a menu would. A
 * purple_request_fields window that can be filled in is a prompt too; one
 * that only shows things (read-only fields: ids, an invitation) is
 * recorded as a notify instead (harness_notifies): its text is the
 * secondary text and a line "label: value" per string field, with
 * " (read-only)" after a value that cannot be edited. */
#pragma once

#include <purple.h>

typedef struct {
  PurpleRequestType type;   /* PURPLE_REQUEST_INPUT, _ACTION or _FIELDS */
  gchar *title, *primary, *secondary;
  gboolean masked;          /* input: a secret */
  gint default_action;      /* action: index into labels */
  GPtrArray *labels;        /* action: choice labels (an underscore in a
                             * button label fails the test: Finch shows it) */
  PurpleRequestFields *fields;  /* fields: the test fills them in */
} HarnessPrompt;

/* Installs the request ops (after harness_init). */
void           harness_prompts_install (void);
/* The open prompt, or NULL (one at a time: a second one fails the test). */
HarnessPrompt *harness_prompt (void);
/* Answers the open action prompt with the choice whose label contains
 * label, as a UI would: callback, then close. */
void           harness_answer_action (const gchar *label);
/* Answers the open input prompt with text (OK). */
void           harness_answer_input (const gchar *text);
/* Answers the open fields prompt (as filled in) with OK, or Cancel. */
void           harness_answer_fields (gboolean ok);
/* Sets a string field of the open fields prompt. */
void           harness_prompt_set_string (const gchar *id, const gchar *value);
/* The label of the open action prompt's default choice. */
const gchar   *harness_prompt_default_label (void);
/* Runs the plugin action of a's connection whose label contains label. */
void           harness_run_action (PurpleAccount *a, const gchar *label);
