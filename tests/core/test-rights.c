/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-rights.c - roles and capabilities in words (src/core/rights.c,
 * spec 8.1): what a pattern covers, who is an admin, and the sentence
 * Info and /whois show. Untranslated (no locale set). */
#include <glib.h>

#include "rights.h"

/* The three rights every member gets (docs/conventions.md). */
static const gchar *member_caps[] = {
  "write state/profiles/{self}",
  "write state/topics/{any}/metadata",
  "write topics/{any}/messages",
};

static GPtrArray *
caps_of (const gchar * const *caps, gsize n)
{
  GPtrArray *out = g_ptr_array_new ();

  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (out, (gpointer) caps[i]);
  return out;
}

static void
test_grants (void)
{
  /* write implies the other ops, an op only itself */
  g_assert_true (rdt_rights_grants ("write topics/{any}/messages", "create",
                                    "topics/{any}/messages"));
  g_assert_true (rdt_rights_grants ("create topics/{any}/messages", "create",
                                    "topics/{any}/messages"));
  g_assert_false (rdt_rights_grants ("read topics/{any}/messages", "create",
                                     "topics/{any}/messages"));
  /* one topic is not every topic */
  g_assert_false (rdt_rights_grants ("write topics/general/messages", "create",
                                     "topics/{any}/messages"));
  g_assert_true (rdt_rights_grants ("write topics/{any}/messages", "create",
                                    "topics/general/messages"));
  /* depth matters, {...} takes the rest */
  g_assert_false (rdt_rights_grants ("write topics/{any}", "create",
                                     "topics/{any}/messages"));
  g_assert_true (rdt_rights_grants ("write state/{...}", "create",
                                    "state/auth/users/{any}"));
  g_assert_false (rdt_rights_grants ("write state/{...}", "create", "state"));
  /* {self} is the caller's own entry, not everybody's */
  g_assert_true (rdt_rights_grants ("write state/profiles/{any}", "modify",
                                    "state/profiles/{self}"));
  g_assert_false (rdt_rights_grants ("write state/profiles/{self}", "modify",
                                     "state/profiles/{any}"));
  /* malformed */
  g_assert_false (rdt_rights_grants ("write", "write", "write"));
  g_assert_false (rdt_rights_grants (NULL, "create", "topics/{any}/messages"));
}

static void
test_roles (void)
{
  g_autoptr (GPtrArray) member = caps_of (member_caps, G_N_ELEMENTS (member_caps));
  g_autoptr (GPtrArray) admin = caps_of (member_caps, G_N_ELEMENTS (member_caps));

  g_ptr_array_add (admin, (gpointer) "create state/auth/users/{any}");
  g_assert_cmpint (rdt_rights_role (TRUE, TRUE, NULL), ==, RDT_ROLE_OWNER);
  g_assert_cmpint (rdt_rights_role (FALSE, TRUE, member), ==, RDT_ROLE_MEMBER);
  g_assert_cmpint (rdt_rights_role (FALSE, TRUE, admin), ==, RDT_ROLE_ADMIN);
  g_assert_cmpint (rdt_rights_role (FALSE, FALSE, admin), ==, RDT_ROLE_NONE);
  g_assert_cmpstr (rdt_rights_role_name (RDT_ROLE_OWNER), ==, "owner");
  g_assert_cmpstr (rdt_rights_role_name (RDT_ROLE_ADMIN), ==, "admin");
  g_assert_cmpstr (rdt_rights_role_name (RDT_ROLE_MEMBER), ==, "member");
  g_assert_cmpstr (rdt_rights_role_name (RDT_ROLE_NONE), ==, "not a member");
}

static void
test_describe (void)
{
  g_autoptr (GPtrArray) member = caps_of (member_caps, G_N_ELEMENTS (member_caps));
  g_autoptr (GPtrArray) admin = caps_of (member_caps, G_N_ELEMENTS (member_caps));
  g_autoptr (GPtrArray) reader = g_ptr_array_new ();
  g_autoptr (GPtrArray) one_topic = g_ptr_array_new ();
  gchar *text;

  text = rdt_rights_describe (RDT_ROLE_MEMBER, member);
  g_assert_cmpstr (text, ==, "can post in all topics, can rename topics, "
                             "can change their display name");
  g_free (text);

  g_ptr_array_add (admin, (gpointer) "create state/auth/users/{any}");
  g_ptr_array_add (admin, (gpointer) "create state/auth/users/{any}/rights/{any}");
  text = rdt_rights_describe (RDT_ROLE_ADMIN, admin);
  g_assert_cmpstr (text, ==, "can post in all topics, can rename topics, "
                             "can change their display name, can add members, "
                             "can give members rights");
  g_free (text);

  /* read state needs both halves: the write on the key, the read on
   * data/ + key (spec 11) */
  g_ptr_array_add (member, (gpointer) "write data/user/{self}/{...}");
  text = rdt_rights_describe (RDT_ROLE_MEMBER, member);
  g_assert_cmpstr (text, ==, "can post in all topics, can rename topics, "
                             "can change their display name");
  g_free (text);
  g_ptr_array_add (member, (gpointer) "read data/data/user/{self}/{...}");
  text = rdt_rights_describe (RDT_ROLE_MEMBER, member);
  g_assert_cmpstr (text, ==, "can post in all topics, can rename topics, "
                             "can change their display name, can keep their "
                             "read state across devices");
  g_free (text);

  text = rdt_rights_describe (RDT_ROLE_OWNER, NULL);
  g_assert_cmpstr (text, ==, "can do everything in the space");
  g_free (text);

  text = rdt_rights_describe (RDT_ROLE_MEMBER, reader);
  g_assert_cmpstr (text, ==, "can read, but not post");
  g_free (text);

  /* a right to one topic is not said as all topics */
  g_ptr_array_add (one_topic, (gpointer) "write topics/general/messages");
  text = rdt_rights_describe (RDT_ROLE_MEMBER, one_topic);
  g_assert_null (g_strstr_len (text, -1, "all topics"));
  g_free (text);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rights/grants", test_grants);
  g_test_add_func ("/rights/roles", test_roles);
  g_test_add_func ("/rights/describe", test_describe);
  return g_test_run ();
}
