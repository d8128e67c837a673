/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-nicks.c - every member's unique chat nick (src/core/nicks.c): the
 * name alone when it is one person's, the short id added when the name is
 * shared (in any Unicode form or case) or looks like an id, 16 characters
 * or the whole id while even that is shared, never a nick twice. */
#include <string.h>

#include <glib.h>

#include "id.h"
#include "nicks.h"

/* Like purple_normalize() for a prpl without its own: lower case. Also
 * drops spaces, to see that the caller's equality counts. */
static const gchar *
normalize (const gchar *text, gpointer user_data)
{
  static gchar buf[512];
  g_autofree gchar *down = g_utf8_strdown (text, -1);
  gsize j = 0;

  g_assert_true (user_data == GINT_TO_POINTER (42));
  for (const gchar *p = down; *p && j + 1 < sizeof buf; p++)
    if (*p != ' ')
      buf[j++] = *p;
  buf[j] = '\0';
  return buf;
}

/* A user id whose key starts with prefix (the rest from seed). */
static gchar *
user_id (const gchar *prefix, guint8 seed)
{
  guint8 data[32];

  memset (data, seed, sizeof data);
  memcpy (data, prefix, strlen (prefix));
  return rdt_id_encode (RDT_ID_USER, data);
}

static GHashTable *
compute (RdtNicks *nicks, gchar **uids, const gchar **names, guint n)
{
  return rdt_nicks_compute (nicks, (const gchar *const *) uids, names, n);
}

static gchar *
with_id (const gchar *name, const gchar *uid, guint len)
{
  g_autofree gchar *id = g_strndup (uid, len);

  return g_strdup_printf ("%s (%s)", name, id);
}

static void
test_names (void)
{
  RdtNicks *nicks = rdt_nicks_new (normalize, GINT_TO_POINTER (42));
  gchar *uids[] = { user_id ("a", 1), user_id ("b", 2), user_id ("c", 3),
                    user_id ("d", 4), user_id ("e", 5), user_id ("f", 6) };
  /* Zoë composed and decomposed, in another case: one name, shared */
  const gchar *names[] = { "Alice", "Zo\xc3\xab", "ZOE\xcc\x88", NULL,
                           "UMd-0hPSC", "Bob UAbCdEfGhIj" };
  g_autoptr (GHashTable) out = compute (nicks, uids, names, 6);
  g_autofree gchar *zoe1 = with_id ("Zo\xc3\xab", uids[1], 9);
  g_autofree gchar *zoe2 = with_id ("ZOE\xcc\x88", uids[2], 9);
  g_autofree gchar *short3 = rdt_id_short (uids[3]);
  g_autofree gchar *idlike = with_id ("UMd-0hPSC", uids[4], 9);
  g_autofree gchar *carries = with_id ("Bob UAbCdEfGhIj", uids[5], 9);

  g_assert_cmpuint (g_hash_table_size (out), ==, 6);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[0]), ==, "Alice");
  g_assert_cmpstr (g_hash_table_lookup (out, uids[1]), ==, zoe1);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[2]), ==, zoe2);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[3]), ==, short3);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[4]), ==, idlike);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[5]), ==, carries);
  /* what the last computation claimed */
  g_assert_true (rdt_nicks_claimed_by_other (nicks, "alice", uids[1]));
  g_assert_false (rdt_nicks_claimed_by_other (nicks, "ALICE", uids[0]));
  g_assert_true (rdt_nicks_claimed_by_other (nicks, short3, uids[0]));
  g_assert_false (rdt_nicks_claimed_by_other (nicks, "Carol", uids[0]));
  for (guint i = 0; i < G_N_ELEMENTS (uids); i++)
    g_free (uids[i]);
  rdt_nicks_free (nicks);
}

/* Names the chat tells apart but the caller's normaliser does not are
 * shared names too. */
static void
test_normaliser (void)
{
  RdtNicks *nicks = rdt_nicks_new (normalize, GINT_TO_POINTER (42));
  gchar *uids[] = { user_id ("a", 1), user_id ("b", 2) };
  const gchar *names[] = { "Al ice", "Alice" };
  g_autoptr (GHashTable) out = compute (nicks, uids, names, 2);
  g_autofree gchar *n0 = with_id ("Al ice", uids[0], 9);
  g_autofree gchar *n1 = with_id ("Alice", uids[1], 9);

  g_assert_cmpstr (g_hash_table_lookup (out, uids[0]), ==, n0);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[1]), ==, n1);
  for (guint i = 0; i < G_N_ELEMENTS (uids); i++)
    g_free (uids[i]);
  rdt_nicks_free (nicks);
}

/* Ids ground to share a short id show 16 characters after the letter,
 * ids that share those the whole id; nobody gets another's nick. */
static void
test_longer_ids (void)
{
  RdtNicks *nicks = rdt_nicks_new (normalize, GINT_TO_POINTER (42));
  gchar *uids[] = { user_id ("samesix", 1), user_id ("samesix", 2),
                    user_id ("samethirteen", 3), user_id ("samethirteen", 4),
                    user_id ("other", 5) };
  const gchar *names[] = { "Eve", "Eve", "Eve", "Eve", NULL };
  g_autoptr (GHashTable) out = compute (nicks, uids, names, 5);
  g_autofree gchar *n0 = with_id ("Eve", uids[0], 17);
  g_autofree gchar *n1 = with_id ("Eve", uids[1], 17);
  g_autofree gchar *n2 = with_id ("Eve", uids[2], RDT_ID_LENGTH);
  g_autofree gchar *n3 = with_id ("Eve", uids[3], RDT_ID_LENGTH);

  g_assert_cmpstr (g_hash_table_lookup (out, uids[0]), ==, n0);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[1]), ==, n1);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[2]), ==, n2);
  g_assert_cmpstr (g_hash_table_lookup (out, uids[3]), ==, n3);
  g_assert_cmpuint (strlen (g_hash_table_lookup (out, uids[4])), ==, 9);
  for (guint i = 0; i < G_N_ELEMENTS (uids); i++)
    g_free (uids[i]);
  rdt_nicks_free (nicks);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nicks/names", test_names);
  g_test_add_func ("/nicks/normaliser", test_normaliser);
  g_test_add_func ("/nicks/longer-ids", test_longer_ids);
  return g_test_run ();
}
