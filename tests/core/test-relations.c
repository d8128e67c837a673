/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-relations.c - replies, reactions, edits and deletes
 * (src/core/relations.c, relations-fold.c): the conventions under
 * round trips, bounds and hostile JSON; the aggregator's rules (edits and
 * deletes only by the author, deletes also by the owner, reactions as
 * sets, relations held until their target arrives); backlog folding;
 * what a typed reference names. */
#include <string.h>

#include <glib.h>

#include "display.h"
#include "error.h"
#include "id.h"
#include "relations.h"

static gchar *
mid (guint8 seed)
{
  guint8 data[32];

  memset (data, seed, sizeof data);
  return rdt_id_encode (RDT_ID_MESSAGE, data);
}

static gchar *
uid (guint8 seed)
{
  guint8 data[32];

  memset (data, seed, sizeof data);
  return rdt_id_encode (RDT_ID_USER, data);
}

static RdtRelation *
parse_str (const gchar *type, const gchar *json, GError **error)
{
  g_autoptr (GBytes) b = g_bytes_new (json, strlen (json));
  return rdt_relation_parse (type, b, error);
}

static void
test_round_trip (void)
{
  g_autofree gchar *t = mid (1);
  g_autofree gchar *reply = NULL, *react = NULL, *unreact = NULL;
  g_autofree gchar *edit = NULL, *del = NULL;
  g_autoptr (RdtRelation) r = NULL;
  GError *error = NULL;

  reply = rdt_relation_encode_reply (t, "me too", "first\nline", &error);
  g_assert_no_error (error);
  r = parse_str ("chat.reply", reply, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_REPLY);
  g_assert_cmpstr (r->target, ==, t);
  g_assert_cmpstr (r->text, ==, "me too");
  g_assert_cmpstr (r->quote, ==, "first line");   /* control chars: spaces */
  g_clear_pointer (&r, rdt_relation_free);

  react = rdt_relation_encode_reaction (t, "\xf0\x9f\x91\x8d", FALSE, &error);
  g_assert_no_error (error);
  r = parse_str ("chat.reaction", react, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_REACTION);
  g_assert_cmpstr (r->emoji, ==, "\xf0\x9f\x91\x8d");
  g_assert_false (r->remove);
  g_clear_pointer (&r, rdt_relation_free);

  unreact = rdt_relation_encode_reaction (t, "+1", TRUE, &error);
  r = parse_str ("chat.reaction", unreact, &error);
  g_assert_no_error (error);
  g_assert_true (r->remove);
  g_clear_pointer (&r, rdt_relation_free);

  edit = rdt_relation_encode_edit (t, "fixed", &error);
  r = parse_str ("chat.edit", edit, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_EDIT);
  g_assert_cmpstr (r->text, ==, "fixed");
  g_assert_null (r->quote);
  g_clear_pointer (&r, rdt_relation_free);

  del = rdt_relation_encode_delete (t, &error);
  r = parse_str ("chat.delete", del, &error);
  g_assert_no_error (error);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_DELETE);
  g_assert_cmpstr (r->target, ==, t);
  g_clear_pointer (&r, rdt_relation_free);

  /* Not one of the four: an ordinary message, no error. */
  g_assert_null (parse_str ("chat.text", reply, &error));
  g_assert_no_error (error);

  /* Plain clients show a reply's and an edit's "text" member. */
  {
    g_autoptr (GBytes) b = g_bytes_new (reply, strlen (reply));
    g_autofree gchar *shown = rdt_display_text ("chat.reply", b);
    g_assert_cmpstr (shown, ==, "me too");
  }
}

static void
test_bounds (void)
{
  g_autofree gchar *t = mid (1);
  g_autofree gchar *max = g_strnfill (RDT_RELATION_MAX_TEXT, 'a');
  g_autofree gchar *over = g_strnfill (RDT_RELATION_MAX_TEXT + 1, 'a');
  g_autofree gchar *ok = NULL, *bad = NULL, *json = NULL, *quote = NULL;
  g_autoptr (RdtRelation) r = NULL;
  GError *error = NULL;

  ok = rdt_relation_encode_edit (t, max, &error);
  g_assert_no_error (error);
  r = parse_str ("chat.edit", ok, &error);
  g_assert_no_error (error);
  g_clear_pointer (&r, rdt_relation_free);

  g_assert_null (rdt_relation_encode_edit (t, over, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  g_clear_error (&error);
  json = g_strdup_printf ("{\"target\":\"%s\",\"text\":\"%s\"}", t, over);
  g_assert_null (parse_str ("chat.edit", json, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (rdt_relation_encode_reply (t, "", NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
  g_clear_error (&error);

  /* Emoji: 8 code points (a family with joiners is 7), 32 bytes. */
  g_assert_true (rdt_relation_check_emoji ("\xf0\x9f\x91\xa8\xe2\x80\x8d"
                                           "\xf0\x9f\x91\xa9\xe2\x80\x8d"
                                           "\xf0\x9f\x91\xa7", NULL));
  g_assert_true (rdt_relation_check_emoji ("12345678", NULL));
  g_assert_false (rdt_relation_check_emoji ("123456789", NULL));
  g_assert_false (rdt_relation_check_emoji ("", NULL));
  g_assert_false (rdt_relation_check_emoji ("a\nb", NULL));
  g_assert_false (rdt_relation_check_emoji ("\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"
                                            "\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"
                                            "\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"
                                            "\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"
                                            "x", NULL));   /* 33 bytes */
  g_assert_null (rdt_relation_encode_reaction (t, "a\tb", FALSE, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
  g_clear_error (&error);

  /* The quote: the target's first 80 characters, the last one "…". */
  bad = rdt_relation_encode_reply (t, "yes", over, &error);
  g_assert_no_error (error);
  r = parse_str ("chat.reply", bad, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_utf8_strlen (r->quote, -1), ==, 80);
  g_assert_true (g_str_has_suffix (r->quote, "\xe2\x80\xa6"));
  g_clear_pointer (&r, rdt_relation_free);
  quote = g_strnfill (81, 'q');
  g_free (json);
  json = g_strdup_printf ("{\"target\":\"%s\",\"text\":\"x\",\"quote\":\"%s\"}",
                          t, quote);
  g_assert_null (parse_str ("chat.reply", json, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* The whole payload: a text of control characters is 6 bytes each once
   * escaped, more than one message holds. */
  {
    g_autofree gchar *ctl = g_strnfill (RDT_RELATION_MAX_TEXT, '\x01');
    g_assert_null (rdt_relation_encode_edit (t, ctl, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }
}

static void
test_hostile (void)
{
  g_autofree gchar *t = mid (1);
  g_autofree gchar *user = uid (1);
  g_autofree gchar *huge = g_strnfill (200000, 'x');
  const gchar *bad_members[] = {
    "{\"target\":42,\"text\":\"x\"}",
    "{\"target\":null,\"text\":\"x\"}",
    "{\"text\":\"x\"}",
    "{\"target\":\"TARGET\"}",
    "{\"target\":\"TARGET\",\"text\":17}",
    "{\"target\":\"TARGET\",\"text\":[\"x\"]}",
    "{\"target\":\"TARGET\",\"text\":\"\"}",
    "{\"target\":\"TARGET\",\"text\":\"x\",\"quote\":{}}",
  };
  const gchar *not_objects[] = {
    "", "[]", "\"text\"", "42", "null", "{", "{\"target\":", "not json",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
  };
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad_members); i++)
    {
      g_autoptr (GString) json = g_string_new (bad_members[i]);
      g_string_replace (json, "TARGET", t, 0);
      g_assert_null (parse_str ("chat.reply", json->str, &error));
      g_assert_nonnull (error);
      g_assert_true (error->domain == RDT_ERROR);
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (not_objects); i++)
    {
      g_assert_null (parse_str ("chat.delete", not_objects[i], &error));
      g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
      g_clear_error (&error);
    }
  /* Wrong types in a reaction. */
  {
    g_autofree gchar *a = g_strdup_printf (
      "{\"target\":\"%s\",\"emoji\":\"x\",\"remove\":\"yes\"}", t);
    g_autofree gchar *b = g_strdup_printf (
      "{\"target\":\"%s\",\"emoji\":1}", t);
    g_autofree gchar *c = g_strdup_printf ("{\"target\":\"%s\"}", t);
    g_autofree gchar *d = g_strdup_printf (
      "{\"target\":\"%s\",\"emoji\":\"x\",\"extra\":[1,2,{}],\"remove\":false}",
      t);
    g_autoptr (RdtRelation) ok = NULL;

    g_assert_null (parse_str ("chat.reaction", a, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
    g_clear_error (&error);
    g_assert_null (parse_str ("chat.reaction", b, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
    g_clear_error (&error);
    g_assert_null (parse_str ("chat.reaction", c, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
    g_clear_error (&error);
    /* Unknown members are ignored. */
    ok = parse_str ("chat.reaction", d, &error);
    g_assert_no_error (error);
    g_assert_false (ok->remove);
  }
  /* Bad target ids: a user id, garbage, a cut id. */
  {
    g_autofree gchar *a = g_strdup_printf ("{\"target\":\"%s\"}", user);
    g_autofree gchar *cut = g_strndup (t, 43);
    g_autofree gchar *b = g_strdup_printf ("{\"target\":\"%s\"}", cut);

    g_assert_null (parse_str ("chat.delete", a, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
    g_clear_error (&error);
    g_assert_null (parse_str ("chat.delete", b, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
    g_clear_error (&error);
    g_assert_null (parse_str ("chat.delete", "{\"target\":\"M!!\"}", &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
    g_clear_error (&error);
    g_assert_null (rdt_relation_encode_delete ("Mnope", &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
    g_clear_error (&error);
  }
  /* Huge and not UTF-8. */
  g_assert_null (parse_str ("chat.edit", huge, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  g_clear_error (&error);
  {
    g_autofree gchar *json = g_strdup_printf (
      "{\"target\":\"%s\",\"text\":\"a\xff\xfe\"}", t);
    g_assert_null (parse_str ("chat.edit", json, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
    g_clear_error (&error);
  }
  g_assert_null (rdt_relation_parse ("chat.edit", NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
  g_clear_error (&error);
}

/* ---- the aggregator ---- */

typedef struct {
  gchar *alice, *bob, *carol;   /* carol owns the space */
  RdtRelations *rels;
  GPtrArray *keep;              /* strings and bytes of the messages fed */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->alice = uid (0xa1);
  f->bob = uid (0xb0);
  f->carol = uid (0xc0);
  f->rels = rdt_relations_new ();
  f->keep = g_ptr_array_new_with_free_func (g_free);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->alice);
  g_free (f->bob);
  g_free (f->carol);
  rdt_relations_free (f->rels);
  g_ptr_array_unref (f->keep);
}

/* A message with hash mid(seed) at minute `minute` of 2026-01-01 UTC. */
static RdtRelationsMessage
msg (Fixture *f, guint8 seed, const gchar *sender, const gchar *type,
     gchar *json, gint minute)
{
  RdtRelationsMessage m = { 0 };
  gchar *hash = mid (seed);

  g_ptr_array_add (f->keep, hash);
  g_ptr_array_add (f->keep, json);
  m.hash = hash;
  m.sender = sender;
  m.type = type;
  m.server_ts = (G_GINT64_CONSTANT (1767225600) + minute * 60) * 1000;
  m.plain = g_bytes_new_static (json, strlen (json));
  m.sender_is_owner = sender == f->carol;
  return m;
}

static RdtRelationResult *
add (Fixture *f, RdtRelationsMessage m, GPtrArray **released)
{
  RdtRelationResult *res = rdt_relations_add (f->rels, &m, released);
  g_bytes_unref (m.plain);
  return res;
}

static RdtRelationResult *
add_text (Fixture *f, guint8 seed, const gchar *sender, const gchar *text,
          gint minute)
{
  return add (f, msg (f, seed, sender, "chat.text", g_strdup (text), minute),
              NULL);
}

static gchar *
enc_edit (guint8 target, const gchar *text)
{
  g_autofree gchar *t = mid (target);
  return rdt_relation_encode_edit (t, text, NULL);
}

static gchar *
enc_delete (guint8 target)
{
  g_autofree gchar *t = mid (target);
  return rdt_relation_encode_delete (t, NULL);
}

static gchar *
enc_react (guint8 target, const gchar *emoji, gboolean remove)
{
  g_autofree gchar *t = mid (target);
  return rdt_relation_encode_reaction (t, emoji, remove, NULL);
}

static void
test_edit (Fixture *f, gconstpointer data)
{
  g_autoptr (RdtRelationResult) r1 = add_text (f, 1, f->alice, "helo", 0);
  g_autoptr (RdtRelationResult) r2 = NULL, r3 = NULL, r4 = NULL;
  g_autofree gchar *m1 = mid (1);

  g_assert_cmpint (r1->kind, ==, RDT_RELATION_RESULT_MESSAGE);
  r2 = add (f, msg (f, 2, f->alice, "chat.edit", enc_edit (1, "hello"), 1),
            NULL);
  g_assert_cmpint (r2->kind, ==, RDT_RELATION_RESULT_APPLIED);
  g_assert_true (r2->changed);
  g_assert_cmpstr (r2->target_sender, ==, f->alice);
  g_assert_cmpstr (r2->target_text, ==, "helo");
  g_assert_cmpstr (rdt_relations_get_text (f->rels, m1), ==, "hello");
  g_assert_true (rdt_relations_is_edited (f->rels, m1));

  /* Bob, even the owner, cannot edit Alice's message. */
  r3 = add (f, msg (f, 3, f->bob, "chat.edit", enc_edit (1, "pwned"), 2), NULL);
  g_assert_cmpint (r3->kind, ==, RDT_RELATION_RESULT_REFUSED);
  g_assert_cmpstr (r3->sender, ==, f->bob);
  g_assert_cmpstr (r3->target_sender, ==, f->alice);
  r4 = add (f, msg (f, 4, f->carol, "chat.edit", enc_edit (1, "owned"), 3),
            NULL);
  g_assert_cmpint (r4->kind, ==, RDT_RELATION_RESULT_REFUSED);
  g_assert_cmpstr (rdt_relations_get_text (f->rels, m1), ==, "hello");

  /* The author's last edit wins. */
  g_clear_pointer (&r2, rdt_relation_result_free);
  r2 = add (f, msg (f, 5, f->alice, "chat.edit", enc_edit (1, "hello!"), 4),
            NULL);
  g_assert_cmpint (r2->kind, ==, RDT_RELATION_RESULT_APPLIED);
  g_assert_cmpstr (rdt_relations_get_text (f->rels, m1), ==, "hello!");

  /* The same message again is ignored. */
  g_clear_pointer (&r2, rdt_relation_result_free);
  r2 = add (f, msg (f, 2, f->alice, "chat.edit", enc_edit (1, "hello"), 1),
            NULL);
  g_assert_cmpint (r2->kind, ==, RDT_RELATION_RESULT_DUPLICATE);
  g_assert_cmpstr (rdt_relations_get_text (f->rels, m1), ==, "hello!");
}

static void
test_delete (Fixture *f, gconstpointer data)
{
  g_autofree gchar *m1 = mid (1), *m2 = mid (2);
  g_autoptr (RdtRelationResult) r = NULL;

  rdt_relation_result_free (add_text (f, 1, f->alice, "one", 0));
  rdt_relation_result_free (add_text (f, 2, f->alice, "two", 1));

  r = add (f, msg (f, 3, f->bob, "chat.delete", enc_delete (1), 2), NULL);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_RESULT_REFUSED);
  g_assert_cmpstr (r->target_sender, ==, f->alice);
  g_assert_false (rdt_relations_is_deleted (f->rels, m1));
  g_clear_pointer (&r, rdt_relation_result_free);

  r = add (f, msg (f, 4, f->carol, "chat.delete", enc_delete (1), 3), NULL);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_RESULT_APPLIED);
  g_assert_true (r->changed);
  g_assert_true (rdt_relations_is_deleted (f->rels, m1));
  g_assert_null (rdt_relations_get_text (f->rels, m1));   /* text gone */
  g_clear_pointer (&r, rdt_relation_result_free);

  r = add (f, msg (f, 5, f->alice, "chat.delete", enc_delete (2), 4), NULL);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_RESULT_APPLIED);
  g_assert_true (rdt_relations_is_deleted (f->rels, m2));
  g_clear_pointer (&r, rdt_relation_result_free);

  /* Deleting twice changes nothing; an edit of a deleted message neither. */
  r = add (f, msg (f, 6, f->alice, "chat.delete", enc_delete (2), 5), NULL);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_RESULT_APPLIED);
  g_assert_false (r->changed);
  g_clear_pointer (&r, rdt_relation_result_free);
  r = add (f, msg (f, 7, f->alice, "chat.edit", enc_edit (2, "back"), 6), NULL);
  g_assert_false (r->changed);
  g_assert_null (rdt_relations_get_text (f->rels, m2));
  g_clear_pointer (&r, rdt_relation_result_free);

  /* A relation to a relation is not applied. */
  {
    g_autofree gchar *m6 = mid (6);
    g_autofree gchar *json = rdt_relation_encode_reaction (m6, "x", FALSE,
                                                           NULL);
    r = add (f, msg (f, 8, f->alice, "chat.reaction", g_strdup (json), 7),
             NULL);
    g_assert_cmpint (r->kind, ==, RDT_RELATION_RESULT_INVALID);
    g_assert_nonnull (r->error);
  }
}

static void
test_reactions (Fixture *f, gconstpointer data)
{
  g_autofree gchar *m1 = mid (1);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (RdtRelationResult) r = NULL;
  RdtReaction *top;

  rdt_relation_result_free (add_text (f, 1, f->alice, "cake?", 0));
  rdt_relation_result_free (add (f, msg (f, 2, f->bob, "chat.reaction",
                                         enc_react (1, "+1", FALSE), 1), NULL));
  r = add (f, msg (f, 3, f->bob, "chat.reaction", enc_react (1, "+1", FALSE),
                   2), NULL);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_RESULT_APPLIED);
  g_assert_false (r->changed);   /* the same member twice counts once */
  rdt_relation_result_free (add (f, msg (f, 4, f->carol, "chat.reaction",
                                         enc_react (1, "+1", FALSE), 3), NULL));
  rdt_relation_result_free (add (f, msg (f, 5, f->alice, "chat.reaction",
                                         enc_react (1, "yum", FALSE), 4), NULL));

  list = rdt_relations_get_reactions (f->rels, m1);
  g_assert_cmpuint (list->len, ==, 2);
  top = list->pdata[0];
  g_assert_cmpstr (top->emoji, ==, "+1");
  g_assert_cmpuint (top->count, ==, 2);
  g_assert_cmpuint (g_strv_length (top->members), ==, 2);
  g_assert_true (strcmp (top->members[0], top->members[1]) < 0);
  g_assert_true (g_strv_contains ((const gchar *const *) top->members, f->bob));
  g_assert_cmpstr (((RdtReaction *) list->pdata[1])->emoji, ==, "yum");
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Unreact: Bob's +1 goes, Alice's "yum" goes and so does its entry;
   * taking back what was never there changes nothing. */
  g_clear_pointer (&r, rdt_relation_result_free);
  r = add (f, msg (f, 6, f->bob, "chat.reaction", enc_react (1, "+1", TRUE), 5),
           NULL);
  g_assert_true (r->changed);
  g_clear_pointer (&r, rdt_relation_result_free);
  r = add (f, msg (f, 7, f->bob, "chat.reaction", enc_react (1, "+1", TRUE), 6),
           NULL);
  g_assert_false (r->changed);
  rdt_relation_result_free (add (f, msg (f, 8, f->alice, "chat.reaction",
                                         enc_react (1, "yum", TRUE), 7), NULL));
  list = rdt_relations_get_reactions (f->rels, m1);
  g_assert_cmpuint (list->len, ==, 1);
  top = list->pdata[0];
  g_assert_cmpuint (top->count, ==, 1);
  g_assert_cmpstr (top->members[0], ==, f->carol);
}

static void
test_target_later (Fixture *f, gconstpointer data)
{
  g_autofree gchar *m1 = mid (1);
  g_autoptr (RdtRelationResult) r = NULL, e = NULL, d = NULL, t = NULL;
  g_autoptr (RdtRelationResult) reply = NULL;
  g_autoptr (GPtrArray) released = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autofree gchar *reply_json = rdt_relation_encode_reply (m1, "indeed",
                                                            NULL, NULL);

  r = add (f, msg (f, 2, f->bob, "chat.reaction", enc_react (1, "+1", FALSE),
                   1), NULL);
  g_assert_cmpint (r->kind, ==, RDT_RELATION_RESULT_PENDING);
  e = add (f, msg (f, 3, f->alice, "chat.edit", enc_edit (1, "v2"), 2), NULL);
  g_assert_cmpint (e->kind, ==, RDT_RELATION_RESULT_PENDING);
  d = add (f, msg (f, 4, f->bob, "chat.delete", enc_delete (1), 3), NULL);
  g_assert_cmpint (d->kind, ==, RDT_RELATION_RESULT_PENDING);
  reply = add (f, msg (f, 5, f->bob, "chat.reply", g_strdup (reply_json), 4),
               NULL);
  g_assert_cmpint (reply->kind, ==, RDT_RELATION_RESULT_UNKNOWN_TARGET);
  g_assert_false (rdt_relations_knows (f->rels, m1));
  g_assert_cmpuint (rdt_relations_count_pending (f->rels), ==, 3);

  t = add (f, msg (f, 1, f->alice, "chat.text", g_strdup ("v1"), 0),
           &released);
  g_assert_cmpint (t->kind, ==, RDT_RELATION_RESULT_MESSAGE);
  g_assert_cmpuint (released->len, ==, 3);
  g_assert_cmpint (((RdtRelationResult *) released->pdata[0])->kind, ==,
                   RDT_RELATION_RESULT_APPLIED);
  g_assert_cmpint (((RdtRelationResult *) released->pdata[1])->kind, ==,
                   RDT_RELATION_RESULT_APPLIED);
  g_assert_cmpint (((RdtRelationResult *) released->pdata[2])->kind, ==,
                   RDT_RELATION_RESULT_REFUSED);
  g_assert_cmpstr (((RdtRelationResult *) released->pdata[2])->target_sender,
                   ==, f->alice);
  g_assert_cmpuint (rdt_relations_count_pending (f->rels), ==, 0);
  g_assert_cmpstr (rdt_relations_get_text (f->rels, m1), ==, "v2");
  g_assert_false (rdt_relations_is_deleted (f->rels, m1));
  list = rdt_relations_get_reactions (f->rels, m1);
  g_assert_cmpuint (list->len, ==, 1);

  /* A released relation fed again is a duplicate, not a second edit. */
  g_clear_pointer (&e, rdt_relation_result_free);
  e = add (f, msg (f, 3, f->alice, "chat.edit", enc_edit (1, "v2"), 2), NULL);
  g_assert_cmpint (e->kind, ==, RDT_RELATION_RESULT_DUPLICATE);
}

static void
test_limits (Fixture *f, gconstpointer data)
{
  g_autofree gchar *m1 = mid (1), *m4 = mid (4);
  g_autoptr (GPtrArray) released = NULL;

  rdt_relations_set_limits (f->rels, 3, 2);
  for (guint8 i = 1; i <= 4; i++)
    rdt_relation_result_free (add_text (f, i, f->alice, "x", i));
  g_assert_false (rdt_relations_knows (f->rels, m1));   /* oldest forgotten */
  g_assert_true (rdt_relations_knows (f->rels, m4));

  /* Three held, two kept: the oldest (a reaction to 10) is dropped. */
  rdt_relation_result_free (add (f, msg (f, 20, f->bob, "chat.reaction",
                                         enc_react (10, "a", FALSE), 5), NULL));
  rdt_relation_result_free (add (f, msg (f, 21, f->bob, "chat.reaction",
                                         enc_react (11, "b", FALSE), 6), NULL));
  rdt_relation_result_free (add (f, msg (f, 22, f->bob, "chat.reaction",
                                         enc_react (11, "c", FALSE), 7), NULL));
  g_assert_cmpuint (rdt_relations_count_pending (f->rels), ==, 2);
  rdt_relation_result_free (add (f, msg (f, 10, f->alice, "chat.text",
                                         g_strdup ("ten"), 8), &released));
  g_assert_cmpuint (released->len, ==, 0);
  g_clear_pointer (&released, g_ptr_array_unref);
  rdt_relation_result_free (add (f, msg (f, 11, f->alice, "chat.text",
                                         g_strdup ("eleven"), 9), &released));
  g_assert_cmpuint (released->len, ==, 2);
}

static void
test_fold (Fixture *f, gconstpointer data)
{
  g_autofree gchar *m1 = mid (1), *m2 = mid (2);
  g_autofree gchar *long_text = g_strnfill (1000, 'L');
  g_autoptr (GPtrArray) shown = NULL;
  RdtRelationsMessage page[9];
  RdtFoldEntry *e;

  page[0] = msg (f, 1, f->alice, "chat.text", g_strdup ("helo"), 0);
  page[1] = msg (f, 2, f->bob, "chat.text", g_strdup ("secret"), 1);
  page[2] = msg (f, 3, f->alice, "chat.edit", enc_edit (1, long_text), 2);
  page[3] = msg (f, 4, f->bob, "chat.delete", enc_delete (2), 3);
  page[4] = msg (f, 5, f->bob, "chat.reaction", enc_react (1, "+1", FALSE), 4);
  page[5] = msg (f, 6, f->bob, "chat.edit", enc_edit (1, "forged"), 5);
  page[6] = msg (f, 7, f->bob, "chat.reply",
                 rdt_relation_encode_reply (m1, "nice", "helo", NULL), 6);
  page[7] = msg (f, 8, f->alice, "chat.reaction",
                 enc_react (99, "?", FALSE), 7);   /* target elsewhere */
  page[8] = msg (f, 9, f->alice, "chat.text", g_strdup ("bye"), 8);

  shown = rdt_relations_fold_page (NULL, page, G_N_ELEMENTS (page));
  for (guint i = 0; i < G_N_ELEMENTS (page); i++)
    g_bytes_unref (page[i].plain);

  /* Shown: 1 (edited, long text whole, reaction), 6 (refused edit),
   * 7 (reply), 8 (pending reaction), 9. Hidden: 2 (deleted), 3, 4, 5. */
  g_assert_cmpuint (shown->len, ==, 5);
  e = shown->pdata[0];
  g_assert_cmpuint (e->index, ==, 0);
  g_assert_cmpstr (e->text, ==, long_text);
  g_assert_true (e->edited);
  g_assert_nonnull (e->reactions);
  g_assert_cmpuint (e->reactions->len, ==, 1);
  e = shown->pdata[1];
  g_assert_cmpuint (e->index, ==, 5);
  g_assert_cmpint (e->result->kind, ==, RDT_RELATION_RESULT_REFUSED);
  e = shown->pdata[2];
  g_assert_cmpuint (e->index, ==, 6);
  g_assert_cmpint (e->result->kind, ==, RDT_RELATION_RESULT_APPLIED);
  g_assert_cmpstr (e->text, ==, "nice");
  g_assert_false (e->edited);
  e = shown->pdata[3];
  g_assert_cmpuint (e->index, ==, 7);
  g_assert_cmpint (e->result->kind, ==, RDT_RELATION_RESULT_PENDING);
  g_assert_null (e->text);
  e = shown->pdata[4];
  g_assert_cmpuint (e->index, ==, 8);
  g_assert_cmpstr (e->text, ==, "bye");
  g_assert_false (e->edited);
  g_assert_null (e->reactions);
  (void) m2;
}

static void
test_refs (Fixture *f, gconstpointer data)
{
  g_autoptr (GTimeZone) tz = g_time_zone_new_offset (3600);   /* UTC+1 */
  g_autoptr (GPtrArray) cands = NULL;
  g_autofree gchar *m1 = mid (1), *m2 = mid (2), *m3 = mid (3), *m4 = mid (4);
  GError *error = NULL;
  gchar *h;
  RdtRelationsMessage m;

  /* Empty: nothing to refer to. */
  g_assert_null (rdt_relations_resolve_ref (f->rels, "last", f->alice, tz,
                                            NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_FAILED);
  g_clear_error (&error);

  /* 01:00:00 Alice, 01:00:30 Bob (second 30), 01:01:00 Bob, then Bob
   * reacts (not a message one can name). */
  rdt_relation_result_free (add_text (f, 1, f->alice, "one two three", 0));
  m = msg (f, 2, f->bob, "chat.text", g_strdup ("second words"), 0);
  m.server_ts += 30000;
  rdt_relation_result_free (add (f, m, NULL));
  rdt_relation_result_free (add_text (f, 3, f->bob, "third", 1));
  rdt_relation_result_free (add (f, msg (f, 4, f->bob, "chat.reaction",
                                         enc_react (1, "+1", FALSE), 2), NULL));

  h = rdt_relations_resolve_ref (f->rels, "last", f->alice, tz, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h, ==, m3);
  g_free (h);
  h = rdt_relations_resolve_ref (f->rels, " last-mine ", f->alice, tz, NULL,
                                 &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h, ==, m1);
  g_free (h);
  h = rdt_relations_resolve_ref (f->rels, "01:01", f->alice, tz, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h, ==, m3);
  g_free (h);
  h = rdt_relations_resolve_ref (f->rels, "01:00:30", f->alice, tz, NULL,
                                 &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h, ==, m2);
  g_free (h);

  /* Ambiguous: both candidates, in chain order, named in the error. */
  g_assert_null (rdt_relations_resolve_ref (f->rels, "01:00", f->alice, tz,
                                            &cands, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_FAILED);
  g_assert_nonnull (cands);
  g_assert_cmpuint (cands->len, ==, 2);
  g_assert_cmpstr (cands->pdata[0], ==, m1);
  g_assert_cmpstr (cands->pdata[1], ==, m2);
  g_assert_nonnull (strstr (error->message, "01:00:00"));
  g_assert_nonnull (strstr (error->message, "01:00:30"));
  g_assert_nonnull (strstr (error->message, "second words"));
  g_clear_error (&error);

  /* None, malformed; and a deleted message no longer counts. */
  g_assert_null (rdt_relations_resolve_ref (f->rels, "00:00", f->alice, tz,
                                            NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (rdt_relations_resolve_ref (f->rels, "25:00", f->alice, tz,
                                            NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (rdt_relations_resolve_ref (f->rels, "1:00", f->alice, tz,
                                            NULL, &error));
  g_clear_error (&error);
  rdt_relation_result_free (add (f, msg (f, 5, f->alice, "chat.delete",
                                         enc_delete (1), 3), NULL));
  h = rdt_relations_resolve_ref (f->rels, "01:00", f->alice, tz, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h, ==, m2);
  g_free (h);
  g_assert_null (rdt_relations_resolve_ref (f->rels, "last-mine", f->alice, tz,
                                            NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_FAILED);
  g_clear_error (&error);
  (void) m4;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relations/round-trip", test_round_trip);
  g_test_add_func ("/relations/bounds", test_bounds);
  g_test_add_func ("/relations/hostile", test_hostile);
#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/relations/edit", test_edit);
  ADD ("/relations/delete", test_delete);
  ADD ("/relations/reactions", test_reactions);
  ADD ("/relations/target-later", test_target_later);
  ADD ("/relations/limits", test_limits);
  ADD ("/relations/fold", test_fold);
  ADD ("/relations/refs", test_refs);
#undef ADD
  return g_test_run ();
}
