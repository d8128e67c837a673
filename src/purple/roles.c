/* SPDX-License-Identifier: GPL-2.0-or-later */
/* roles.c - a member described to the user (see roles.h). Info and
 * /whois show the same facts: the rights in words first, the raw
 * capability paths under "Details" for those who need them. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

#define PURPLE_PLUGINS
#include <notify.h>

#include "id.h"

#include "members.h"
#include "roles.h"

RdtRole
rdt_roles_of (RdtState *state, const gchar *user_id)
{
  g_autoptr (GPtrArray) caps = rdt_state_list_capabilities (state, user_id);

  return rdt_rights_role (rdt_state_is_owner (state, user_id),
                          rdt_state_is_member (state, user_id), caps);
}

PurpleConvChatBuddyFlags
rdt_roles_chat_flags (RdtState *state, const gchar *user_id)
{
  switch (state ? rdt_roles_of (state, user_id) : RDT_ROLE_NONE)
    {
    case RDT_ROLE_OWNER:
      return PURPLE_CBFLAGS_FOUNDER;
    case RDT_ROLE_ADMIN:
      return PURPLE_CBFLAGS_OP;
    default:
      return PURPLE_CBFLAGS_NONE;
    }
}

/* ---- finding a member by what was typed ---- */

/* Quotes people put around a name with spaces, ASCII and typographic. */
static const gchar *const quote_pairs[][2] = {
  { "\"", "\"" }, { "'", "'" }, { "\xe2\x80\x9c", "\xe2\x80\x9d" },  /* “ ” */
  { "\xe2\x80\x9e", "\xe2\x80\x9c" },                                /* „ “ */
  { "\xe2\x80\x98", "\xe2\x80\x99" },                                /* ‘ ’ */
  { "\xc2\xab", "\xc2\xbb" }, { "\xc2\xbb", "\xc2\xab" },            /* « » */
};

static gchar *
unquote (const gchar *typed)
{
  gchar *text = g_strstrip (g_strdup (typed));

  for (guint i = 0; i < G_N_ELEMENTS (quote_pairs); i++)
    {
      gsize len = strlen (text), open = strlen (quote_pairs[i][0]),
            close = strlen (quote_pairs[i][1]);

      if (len > open + close && g_str_has_prefix (text, quote_pairs[i][0]) &&
          g_str_has_suffix (text, quote_pairs[i][1]))
        {
          gchar *inner = g_strndup (text + open, len - open - close);

          g_free (text);
          return g_strstrip (inner);
        }
    }
  return text;
}

/* A name as a reader compares it: case, Unicode form and runs of spaces
 * do not matter. */
static gchar *
fold (const gchar *name)
{
  g_autofree gchar *nfkc = g_utf8_normalize (name, -1, G_NORMALIZE_ALL_COMPOSE);
  g_autofree gchar *folded = g_utf8_casefold (nfkc ? nfkc : name, -1);
  g_auto (GStrv) words = g_strsplit_set (folded, " \t\n", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; words[i]; i++)
    if (words[i][0] != '\0')
      g_string_append_printf (out, "%s%s", out->len ? " " : "", words[i]);
  return g_string_free (out, FALSE);
}

gchar *
rdt_roles_find_member (RdtConn *rc, const gchar *typed, gchar **cleaned)
{
  g_autofree gchar *text = unquote (typed), *key = NULL;
  g_autofree gchar *whole = g_strstrip (g_strdup (typed));
  RdtState *state = rdt_members_get_state (rc);
  g_autoptr (GPtrArray) members = NULL;
  const gchar *uid, *found = NULL;

  if (cleaned != NULL)
    *cleaned = g_strdup (text);
  /* a nick that has quotes of its own first, then without the quotes */
  uid = rdt_members_lookup_nick (rc, whole);
  if (uid == NULL)
    uid = rdt_members_lookup_nick (rc, text);
  if (uid != NULL)
    return g_strdup (uid);
  if (rdt_id_is_valid (text, RDT_ID_USER))
    return g_strdup (text);
  if (state == NULL || text[0] == '\0')
    return NULL;
  /* the nick or display name of exactly one member, compared loosely */
  key = fold (text);
  members = rdt_state_list_members (state);
  for (guint i = 0; i < members->len; i++)
    {
      const gchar *id = members->pdata[i];
      g_autofree gchar *nick = rdt_members_nick_for (rc, id);
      g_autofree gchar *name = rdt_state_get_display_name (state, id);
      g_autofree gchar *nick_key = fold (nick);
      g_autofree gchar *name_key = name ? fold (name) : NULL;

      if (g_str_equal (nick_key, key) || g_strcmp0 (name_key, key) == 0)
        {
          if (found != NULL)
            return NULL;        /* two members: say nobody */
          found = id;
        }
    }
  return g_strdup (found);
}

/* ---- describing ---- */

/* label, value pairs in the order shown; a NULL label is a detail line. */
static GPtrArray *
describe_pairs (RdtConn *rc, RdtState *state, const gchar *user_id)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) caps = rdt_state_list_capabilities (state, user_id);
  g_autofree gchar *name = rdt_state_get_display_name (state, user_id);
  RdtRole role = rdt_roles_of (state, user_id);

#define PAIR(l, v) G_STMT_START { \
    g_ptr_array_add (out, (l) ? g_strdup (l) : NULL); \
    g_ptr_array_add (out, v); } G_STMT_END
  PAIR (_("Member ID"), g_strdup (user_id));
  PAIR (_("Display name"), g_strdup (name ? name : _("(none)")));
  PAIR (_("Role"), g_strdup (rdt_rights_role_name (role)));
  PAIR (_("Rights"), rdt_rights_describe (role, caps));
  for (guint i = 0; i < caps->len; i++)
    PAIR (NULL, g_strdup (caps->pdata[i]));
#undef PAIR
  return out;
}

gchar *
rdt_roles_describe (RdtConn *rc, const gchar *user_id)
{
  RdtState *state = rdt_members_get_state (rc);
  g_autoptr (GPtrArray) pairs = NULL;
  g_autofree gchar *nick = NULL;
  GString *out;
  gboolean details = FALSE;

  if (state == NULL)
    return g_strdup (_("The member list is not loaded yet."));
  pairs = describe_pairs (rc, state, user_id);
  nick = rdt_members_nick_for (rc, user_id);
  out = g_string_new (nick);
  for (guint i = 0; i < pairs->len; i += 2)
    {
      const gchar *label = pairs->pdata[i], *value = pairs->pdata[i + 1];

      if (label != NULL)
        g_string_append_printf (out, "\n%s: %s", label, value);
      else
        {
          if (!details)
            g_string_append_printf (out, "\n%s", _("Details:"));
          details = TRUE;
          g_string_append_printf (out, "\n  %s", value);
        }
    }
  return g_string_free (out, FALSE);
}

gchar *
rdt_roles_describe_all (RdtConn *rc)
{
  RdtState *state = rdt_members_get_state (rc);
  GString *out;
  g_autoptr (GPtrArray) members = NULL;

  if (state == NULL)
    return g_strdup (_("The member list is not loaded yet."));
  members = rdt_state_list_members (state);
  out = g_string_new (NULL);
  g_string_append_printf (out,
      g_dngettext (GETTEXT_PACKAGE, "%u member:", "%u members:", members->len),
      members->len);
  for (guint i = 0; i < members->len; i++)
    {
      const gchar *uid = members->pdata[i];
      g_autofree gchar *nick = rdt_members_nick_for (rc, uid);

      g_string_append_c (out, '\n');
      /* TRANSLATORS: one member in /members: nick, role, member id */
      g_string_append_printf (out, _("%s: %s (%s)"), nick,
                              rdt_rights_role_name (rdt_roles_of (state, uid)),
                              uid);
    }
  return g_string_free (out, FALSE);
}

/* ---- prpl: chat users ---- */

char *
rdt_get_cb_real_name (PurpleConnection *gc, int id, const char *who)
{
  return g_strdup (rdt_members_lookup_nick (rdt_conn_of (gc), who));
}

/* Pidgin (pidgin_retrieve_user_info_in_chat) opens its "Retrieving..."
 * window under get_cb_real_name()'s answer, or the nick without one, and
 * then asks here with the nick: the answer goes under that same name, so
 * that the one window fills in instead of a second one opening. */
void
rdt_get_cb_info (PurpleConnection *gc, int id, const char *who)
{
  RdtConn *rc = rdt_conn_of (gc);
  RdtState *state = rdt_members_get_state (rc);
  g_autofree gchar *shown_as = rdt_get_cb_real_name (gc, id, who);
  const gchar *uid = shown_as;
  PurpleNotifyUserInfo *info = purple_notify_user_info_new ();

  if (uid == NULL || state == NULL)
    {
      g_autofree gchar *text = state == NULL
          ? g_strdup (_("The member list is not loaded yet."))
          : g_strdup_printf (_("No member called \"%s\"."), who);

      purple_notify_user_info_add_pair_plaintext (info, _("Information"), text);
    }
  else
    {
      g_autoptr (GPtrArray) pairs = describe_pairs (rc, state, uid);
      gboolean details = FALSE;

      purple_notify_user_info_add_pair_plaintext (info, _("Nick"), who);
      for (guint i = 0; i < pairs->len; i += 2)
        {
          if (pairs->pdata[i] == NULL && !details)
            {
              purple_notify_user_info_add_section_break (info);
              purple_notify_user_info_add_section_header (info, _("Details"));
              details = TRUE;
            }
          purple_notify_user_info_add_pair_plaintext (info, pairs->pdata[i],
                                                      pairs->pdata[i + 1]);
        }
    }
  purple_notify_userinfo (gc, shown_as ? shown_as : who, info, NULL, NULL);
  purple_notify_user_info_destroy (info);
}
