/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-relation.c - replies, reactions, edits and deletes
 * (src/core/relations.c, relations-fold.c) from a hostile member.
 * Input: first byte: bits 0-1 the type (reply, reaction, edit, delete),
 * bit 2 the relation is signed by the target's author, bit 3 by the owner,
 * bit 4 the target arrives after the relation; the rest is the decrypted
 * payload.
 * Properties: no crash; exactly one of relation / error; an accepted
 * relation keeps every bound, re-encodes and parses to the same fields; the
 * aggregator applies an edit only from the author and a delete only from
 * the author or the owner, and folding a page never shows a deleted
 * message. */
#include <string.h>
#include <glib.h>
#include "error.h"
#include "id.h"
#include "relations.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const gchar *const types[] = {
  "chat.reply", "chat.reaction", "chat.edit", "chat.delete",
};

static void
check_bounds (const RdtRelation *rel)
{
  g_assert_true (rdt_id_is_valid (rel->target, RDT_ID_MESSAGE));
  if (rel->kind == RDT_RELATION_REPLY || rel->kind == RDT_RELATION_EDIT)
    {
      g_assert_nonnull (rel->text);
      g_assert_cmpuint (strlen (rel->text), >, 0);
      g_assert_cmpuint (strlen (rel->text), <=, RDT_RELATION_MAX_TEXT);
      g_assert_true (g_utf8_validate (rel->text, -1, NULL));
    }
  if (rel->quote)
    g_assert_cmpint (g_utf8_strlen (rel->quote, -1), <=,
                     RDT_RELATION_MAX_QUOTE_CHARS);
  if (rel->kind == RDT_RELATION_REACTION)
    g_assert_true (rdt_relation_check_emoji (rel->emoji, NULL));
}

static gchar *
encode (const RdtRelation *rel, GError **error)
{
  switch (rel->kind)
    {
    case RDT_RELATION_REPLY:
      return rdt_relation_encode_reply (rel->target, rel->text, NULL, error);
    case RDT_RELATION_REACTION:
      return rdt_relation_encode_reaction (rel->target, rel->emoji,
                                           rel->remove, error);
    case RDT_RELATION_EDIT:
      return rdt_relation_encode_edit (rel->target, rel->text, error);
    case RDT_RELATION_DELETE:
    default:
      return rdt_relation_encode_delete (rel->target, error);
    }
}

/* Feed the target (by the author) and the relation in either order. */
static void
aggregate (const RdtRelation *rel, GBytes *plain, guint8 flags)
{
  g_autoptr (RdtRelations) rels = rdt_relations_new ();
  g_autoptr (GBytes) text = g_bytes_new_static ("{\"text\":\"hi\"}", 13);
  guint8 key[32];
  g_autofree gchar *author = NULL, *other = NULL, *hash = NULL;
  RdtRelationsMessage page[2] = { { 0 } };
  g_autoptr (GPtrArray) shown = NULL;
  gboolean by_author = flags & 4, by_owner = flags & 8, late = flags & 16;
  RdtRelationResult *res = NULL;

  memset (key, 0xa1, 32);
  author = rdt_id_encode (RDT_ID_USER, key);
  memset (key, 0xb0, 32);
  other = rdt_id_encode (RDT_ID_USER, key);
  memset (key, 0x77, 32);
  hash = rdt_id_encode (RDT_ID_MESSAGE, key);
  if (strcmp (hash, rel->target) == 0)
    return;   /* the relation cannot be its own target */

  page[0].hash = rel->target;
  page[0].sender = author;
  page[0].type = "chat.text";
  page[0].server_ts = 1700000000000;
  page[0].plain = text;
  page[1].hash = hash;
  page[1].sender = by_author ? author : other;
  page[1].type = types[rel->kind];
  page[1].server_ts = 1700000060000;
  page[1].plain = plain;
  page[1].sender_is_owner = by_owner;

  if (late)
    {
      g_autoptr (GPtrArray) released = NULL;
      RdtRelationsMessage swap = page[0];
      page[0] = page[1];
      page[1] = swap;
      rdt_relation_result_free (rdt_relations_add (rels, &page[0], NULL));
      rdt_relation_result_free (rdt_relations_add (rels, &page[1],
                                                   &released));
      if (rel->kind != RDT_RELATION_REPLY)
        {
          g_assert_cmpuint (released->len, ==, 1);
          res = released->pdata[0];
        }
      if (res)
        {
          if (rel->kind == RDT_RELATION_EDIT && !by_author)
            g_assert_cmpint (res->kind, ==, RDT_RELATION_RESULT_REFUSED);
          if (rel->kind == RDT_RELATION_DELETE && !by_author && !by_owner)
            g_assert_cmpint (res->kind, ==, RDT_RELATION_RESULT_REFUSED);
        }
    }
  else
    {
      rdt_relation_result_free (rdt_relations_add (rels, &page[0], NULL));
      res = rdt_relations_add (rels, &page[1], NULL);
      g_assert_cmpint (res->kind, !=, RDT_RELATION_RESULT_PENDING);
      if (rel->kind == RDT_RELATION_EDIT && !by_author)
        g_assert_cmpint (res->kind, ==, RDT_RELATION_RESULT_REFUSED);
      if (rel->kind == RDT_RELATION_DELETE && !by_author && !by_owner)
        g_assert_cmpint (res->kind, ==, RDT_RELATION_RESULT_REFUSED);
      rdt_relation_result_free (res);
    }
  if (rel->kind == RDT_RELATION_EDIT && !by_author)
    g_assert_cmpstr (rdt_relations_get_text (rels, rel->target), ==,
                     "hi");
  g_assert_cmpint (rdt_relations_is_deleted (rels, rel->target), ==,
                   rel->kind == RDT_RELATION_DELETE
                   && (by_author || by_owner));
  g_ptr_array_unref (rdt_relations_get_reactions (rels, rel->target));
  g_free (rdt_relations_resolve_ref (rels, "last", author, NULL, NULL, NULL));

  /* The same two as a backlog page (target first). */
  if (late)
    {
      RdtRelationsMessage swap = page[0];
      page[0] = page[1];
      page[1] = swap;
    }
  shown = rdt_relations_fold_page (NULL, page, 2);
  for (guint i = 0; i < shown->len; i++)
    {
      RdtFoldEntry *e = shown->pdata[i];
      if (e->index == 0)
        g_assert_false (rel->kind == RDT_RELATION_DELETE
                        && (by_author || by_owner));
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (RdtRelation) rel = NULL, again = NULL;
  g_autofree gchar *json = NULL;
  GError *error = NULL;
  const gchar *type;

  if (size < 1)
    return 0;
  type = types[data[0] & 3];
  plain = g_bytes_new (data + 1, size - 1);
  rel = rdt_relation_parse (type, plain, &error);
  if (rel == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == RDT_ERROR);
      g_clear_error (&error);
      return 0;
    }
  g_assert_no_error (error);
  g_assert_cmpint (rel->kind, ==, data[0] & 3);
  check_bounds (rel);

  json = encode (rel, &error);
  if (json == NULL)
    {
      /* Only a text whose escapes outgrow one message. */
      g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
      g_clear_error (&error);
    }
  else
    {
      g_autoptr (GBytes) b = g_bytes_new_static (json, strlen (json));
      again = rdt_relation_parse (type, b, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (again->target, ==, rel->target);
      g_assert_cmpstr (again->text, ==, rel->text);
      g_assert_cmpstr (again->emoji, ==, rel->emoji);
      g_assert_cmpint (again->remove, ==, rel->remove);
    }
  aggregate (rel, plain, data[0]);
  return 0;
}
