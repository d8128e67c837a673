/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rights.c - capabilities and roles in words (see rights.h). Only what a
 * capability certainly allows is said: a pattern must cover the whole
 * path asked about, so a right to one topic is not "all topics". */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#include "rights.h"

/* Does one pattern segment cover one segment of the asked path? A
 * placeholder in the asked path is covered only by the same placeholder
 * or by {any} ({self} is one segment too). */
static gboolean
segment_covers (const gchar *pattern, const gchar *segment)
{
  if (g_str_equal (pattern, "{any}"))
    return TRUE;
  if (g_str_equal (segment, "{any}"))
    return FALSE;
  return g_str_equal (pattern, segment);
}

static gboolean
pattern_covers (const gchar *pattern, const gchar *path)
{
  g_auto (GStrv) p = g_strsplit (pattern, "/", -1);
  g_auto (GStrv) s = g_strsplit (path, "/", -1);
  guint i;

  for (i = 0; p[i] != NULL; i++)
    {
      if (g_str_equal (p[i], "{...}"))
        return s[i] != NULL;        /* the rest, at least one segment */
      if (s[i] == NULL || !segment_covers (p[i], s[i]))
        return FALSE;
    }
  return s[i] == NULL;              /* depth must match otherwise */
}

gboolean
rdt_rights_grants (const gchar *cap, const gchar *op, const gchar *path)
{
  const gchar *space;
  g_autofree gchar *cap_op = NULL;

  if (cap == NULL || (space = strchr (cap, ' ')) == NULL)
    return FALSE;
  cap_op = g_strndup (cap, space - cap);
  /* spec 8.1: write implies the rest */
  if (!g_str_equal (cap_op, "write") && !g_str_equal (cap_op, op))
    return FALSE;
  return pattern_covers (space + 1, path);
}

static gboolean
any_grants (GPtrArray *caps, const gchar *op, const gchar *path)
{
  for (guint i = 0; caps && i < caps->len; i++)
    if (rdt_rights_grants (caps->pdata[i], op, path))
      return TRUE;
  return FALSE;
}

RdtRole
rdt_rights_role (gboolean owner, gboolean member, GPtrArray *caps)
{
  if (owner)
    return RDT_ROLE_OWNER;
  if (!member)
    return RDT_ROLE_NONE;
  if (any_grants (caps, "create", "state/auth/users/{any}"))
    return RDT_ROLE_ADMIN;
  return RDT_ROLE_MEMBER;
}

const gchar *
rdt_rights_role_name (RdtRole role)
{
  switch (role)
    {
    case RDT_ROLE_OWNER:
      return _("owner");
    case RDT_ROLE_ADMIN:
      return _("admin");
    case RDT_ROLE_MEMBER:
      return _("member");
    case RDT_ROLE_NONE:
    default:
      return _("not a member");
    }
}

gchar *
rdt_rights_describe (RdtRole role, GPtrArray *caps)
{
  /* in the order a reader cares about: chatting, then running the space */
  static const struct {
    const gchar *op, *path, *words;
    const gchar *read_too;  /* a path that must also be readable, or NULL */
  } known[] = {
    { "create", "topics/{any}/messages", N_("can post in all topics") },
    { "modify", "state/topics/{any}/metadata", N_("can rename topics") },
    { "modify", "state/profiles/{self}", N_("can change their display name") },
    { "create", "state/auth/users/{any}", N_("can add members") },
    { "create", "state/auth/users/{any}/rights/{any}",
      N_("can give members rights") },
    { "delete", "state/auth/users/{any}", N_("can remove members") },
    /* spec 11: a data key is written as itself, read as data/ + key */
    { "write", "data/user/{self}/read/{any}",
      N_("can keep their read state across devices"),
      "data/data/user/{self}/read/{any}" },
  };
  g_autoptr (GPtrArray) said = g_ptr_array_new ();

  if (role == RDT_ROLE_OWNER)
    return g_strdup (_("can do everything in the space"));
  if (role == RDT_ROLE_NONE)
    return g_strdup (_("cannot read or post"));
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (any_grants (caps, known[i].op, known[i].path)
        && (known[i].read_too == NULL
            || any_grants (caps, "read", known[i].read_too)))
      g_ptr_array_add (said, (gpointer) _(known[i].words));
  if (said->len == 0)
    return g_strdup (_("can read, but not post"));
  g_ptr_array_add (said, NULL);
  return g_strjoinv (", ", (gchar **) said->pdata);
}
