/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nicks.c - every member's unique chat nick (see nicks.h). */
#include "config.h"

#include <string.h>

#include "id.h"
#include "nicks.h"

struct _RdtNicks {
  RdtNicksNormalize normalize;
  gpointer user_data;
  GHashTable *claims;        /* see keys_of() */
};

static GHashTable *
claims_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

RdtNicks *
rdt_nicks_new (RdtNicksNormalize normalize, gpointer user_data)
{
  RdtNicks *nicks = g_new0 (RdtNicks, 1);

  g_return_val_if_fail (normalize != NULL, NULL);
  nicks->normalize = normalize;
  nicks->user_data = user_data;
  nicks->claims = claims_new ();
  return nicks;
}

void
rdt_nicks_free (RdtNicks *nicks)
{
  if (nicks == NULL)
    return;
  g_hash_table_destroy (nicks->claims);
  g_free (nicks);
}

/* libpurple tells chat users apart with g_utf8_collate() (its user table
 * hashes g_utf8_collate_key()), and takes a line for ours when
 * purple_normalize() of its sender equals the chat's nick. Two nicks that
 * either calls equal are one person to libpurple, so the nicks made here
 * are unique under both. A "claims" table maps both keys of every nick and
 * every short id to the member id that has it, or to "" when several do. */
static void
keys_of (RdtNicks *nicks, const gchar *text, gchar *out[2])
{
  g_autofree gchar *collated = g_utf8_collate_key (text, -1);

  out[0] = g_strconcat ("c", collated, NULL);
  out[1] = g_strconcat ("n", nicks->normalize (text, nicks->user_data), NULL);
}

static void
claim (RdtNicks *nicks, GHashTable *claims, const gchar *text,
       const gchar *uid)
{
  gchar *k[2];

  keys_of (nicks, text, k);
  for (guint i = 0; i < 2; i++)
    {
      const gchar *owner = g_hash_table_lookup (claims, k[i]);

      if (owner == NULL)
        g_hash_table_insert (claims, k[i], g_strdup (uid));
      else if (!g_str_equal (owner, uid))
        g_hash_table_insert (claims, k[i], g_strdup (""));  /* frees k[i] */
      else
        g_free (k[i]);
    }
}

/* Someone else than uid has text (or something libpurple calls equal). */
static gboolean
claimed_by_other (RdtNicks *nicks, GHashTable *claims, const gchar *text,
                  const gchar *uid)
{
  gchar *k[2];
  gboolean other = FALSE;

  keys_of (nicks, text, k);
  for (guint i = 0; i < 2; i++)
    {
      const gchar *owner = g_hash_table_lookup (claims, k[i]);

      if (owner != NULL && !g_str_equal (owner, uid))
        other = TRUE;
      g_free (k[i]);
    }
  return other;
}

gboolean
rdt_nicks_claimed_by_other (RdtNicks *nicks, const gchar *text,
                            const gchar *uid)
{
  return claimed_by_other (nicks, nicks->claims, text, uid);
}

/* Names are counted as a reader compares them: a name typed composed or
 * decomposed ("Zoë"), in fullwidth or in another case is the same name. */
static gchar *
name_fold_key (const gchar *name)
{
  g_autofree gchar *nfkc = g_utf8_normalize (name, -1, G_NORMALIZE_ALL_COMPOSE);
  g_autofree gchar *folded = g_utf8_casefold (nfkc ? nfkc : name, -1);
  gchar *key = g_utf8_normalize (folded, -1, G_NORMALIZE_ALL_COMPOSE);

  return key ? key : g_steal_pointer (&folded);
}

static gboolean
is_id_char (gchar c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_';
}

/* A name that could pass for a member id, or that carries one, is never
 * shown alone: "Alice (UMd-0hPSC)" is what the real Alice is shown as
 * when her name is shared, so nobody else may be shown as that. Checked
 * on the compatibility form, so fullwidth letters do not get around it. */
static gboolean
looks_like_id (const gchar *name)
{
  g_autofree gchar *nfkc = g_utf8_normalize (name, -1, G_NORMALIZE_ALL_COMPOSE);
  const gchar *p = nfkc ? nfkc : name;
  RdtIdType t;
  guint8 raw[RDT_ID_RAW_LENGTH];

  if (strlen (p) == 9 && (p[0] == 'U' || p[0] == 'T' || p[0] == 'S'))
    return TRUE;
  if (rdt_id_decode (p, &t, raw, NULL))
    return TRUE;
  /* any word of id characters that starts like a short id: U + 8 */
  while (*p)
    {
      const gchar *word = p;

      while (is_id_char (*p))
        p++;
      if (p - word >= 9 && *word == 'U')
        return TRUE;
      if (p == word)
        p++;
    }
  return FALSE;
}

/* How much of its id a nick shows: the short id, and more only when even
 * that is not unique (ids ground to share a short id). */
static const guint id_shown[] = { 9, 17, RDT_ID_LENGTH };

typedef struct {
  const gchar *uid;
  const gchar *name;    /* cleaned display name, or NULL */
  gint level;           /* -1: the name alone, else id_shown[level] added */
  gchar *nick;
} Slot;

static void
slot_update (Slot *s)
{
  g_autofree gchar *id = g_strndup (s->uid, id_shown[MAX (s->level, 0)]);

  g_free (s->nick);
  if (s->name == NULL)
    s->nick = g_steal_pointer (&id);
  else if (s->level < 0)
    s->nick = g_strdup (s->name);
  else
    s->nick = g_strdup_printf ("%s (%s)", s->name, id);
}

/* Makes every nick unique, under libpurple's equalities, against every
 * other nick and every member's short id (what /whois also takes): a
 * member whose nick someone else has shows more of its id, up to all of
 * it. Returns the claims of the final nicks. */
static GHashTable *
make_unique (RdtNicks *nicks, Slot *slots, guint n)
{
  GHashTable *claims = NULL;
  gboolean bumped;

  do
    {
      bumped = FALSE;
      g_clear_pointer (&claims, g_hash_table_destroy);
      claims = claims_new ();
      for (guint i = 0; i < n; i++)
        {
          g_autofree gchar *shortid = rdt_id_short (slots[i].uid);

          claim (nicks, claims, slots[i].nick, slots[i].uid);
          claim (nicks, claims, shortid, slots[i].uid);
        }
      for (guint i = 0; i < n; i++)
        if (slots[i].level + 1 < (gint) G_N_ELEMENTS (id_shown) &&
            claimed_by_other (nicks, claims, slots[i].nick, slots[i].uid))
          {
            slots[i].level++;
            slot_update (&slots[i]);
            bumped = TRUE;
          }
    }
  while (bumped);
  for (guint i = 0; i < n; i++)
    if (claimed_by_other (nicks, claims, slots[i].nick, slots[i].uid))
      g_info ("nick %s is not unique", slots[i].nick);
  return claims;
}

GHashTable *
rdt_nicks_compute (RdtNicks *nicks, const gchar *const *uids,
                   const gchar *const *names, guint n)
{
  g_autoptr (GPtrArray) folded = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTable *out;
  Slot *slots;

  for (guint i = 0; i < n; i++)
    {
      gchar *key = names[i] ? name_fold_key (names[i]) : NULL;

      g_ptr_array_add (folded, key);
      if (key != NULL)
        g_hash_table_insert (counts, key, GUINT_TO_POINTER (
            GPOINTER_TO_UINT (g_hash_table_lookup (counts, key)) + 1));
    }
  slots = g_new0 (Slot, n);
  for (guint i = 0; i < n; i++)
    {
      const gchar *name = names[i];

      slots[i].uid = uids[i];
      slots[i].name = name;
      slots[i].level = name != NULL && !looks_like_id (name) &&
                       GPOINTER_TO_UINT (g_hash_table_lookup (
                           counts, folded->pdata[i])) == 1 ? -1 : 0;
      slot_update (&slots[i]);
    }
  g_hash_table_destroy (nicks->claims);
  nicks->claims = make_unique (nicks, slots, n);

  out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < n; i++)
    g_hash_table_insert (out, g_strdup (slots[i].uid), slots[i].nick);
  g_free (slots);
  return out;
}
