/* SPDX-License-Identifier: GPL-2.0-or-later */
/* relations.h - replies, reactions, edits and deletes (docs/conventions.md,
 * "Replies, reactions, edits and deletes").
 *
 * Four message types in the same topic, encrypted like chat.text, whose
 * plaintext is a small JSON object naming its target by message hash.
 * Because every message is signed, an edit or delete counts only when its
 * signer wrote the target (the space owner may also delete): any client
 * can check that. This module is pure (no network, no libpurple): the
 * conventions (parse, encode) and RdtRelations, the per-topic aggregator
 * that says what a chat shows. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bounds of the conventions. Text: bytes of UTF-8. */
#define RDT_RELATION_MAX_TEXT        16384
#define RDT_RELATION_MAX_QUOTE_CHARS 80
#define RDT_RELATION_MAX_EMOJI_BYTES 32
#define RDT_RELATION_MAX_EMOJI_CHARS 8

#define RDT_RELATION_TYPE_REPLY    "chat.reply"
#define RDT_RELATION_TYPE_REACTION "chat.reaction"
#define RDT_RELATION_TYPE_EDIT     "chat.edit"
#define RDT_RELATION_TYPE_DELETE   "chat.delete"

typedef enum {
  RDT_RELATION_REPLY,
  RDT_RELATION_REACTION,
  RDT_RELATION_EDIT,
  RDT_RELATION_DELETE
} RdtRelationKind;

typedef struct {
  RdtRelationKind kind;
  gchar   *target;   /* M id of the message it refers to */
  gchar   *text;     /* reply, edit: 1..RDT_RELATION_MAX_TEXT bytes */
  gchar   *quote;    /* reply: start of the target's text, or NULL */
  gchar   *emoji;    /* reaction */
  gboolean remove;   /* reaction: take it back */
} RdtRelation;

/* The message type of a kind ("chat.reply"...). */
const gchar *rdt_relation_type_name (RdtRelationKind kind);
/* TRUE and *kind_out for one of the four types. */
gboolean     rdt_relation_type_lookup (const gchar *type,
                                       RdtRelationKind *kind_out);

/* Parse a decrypted payload of message type `type`. A type that is not one
 * of the four returns NULL without an error (an ordinary message: the
 * caller needs no type check first); one of the four with a bad payload
 * returns NULL and an RDT_ERROR saying what is wrong. Unknown members are
 * ignored. */
RdtRelation *rdt_relation_parse (const gchar *type, GBytes *plain,
                                 GError **error);
void         rdt_relation_free (RdtRelation *rel);
RdtRelation *rdt_relation_copy (const RdtRelation *rel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtRelation, rdt_relation_free)

/* An emoji as the conventions allow it: 1..32 bytes of valid UTF-8, at
 * most 8 code points, no control characters. */
gboolean rdt_relation_check_emoji (const gchar *emoji, GError **error);

/* The plaintext (JSON) to encrypt and send with the kind's type, or NULL
 * and an error when a field breaks a bound. target_text (the target's
 * text, may be NULL) gives the reply's quote: its first 80 characters,
 * control characters as spaces. */
gchar *rdt_relation_encode_reply (const gchar *target, const gchar *text,
                                  const gchar *target_text, GError **error);
gchar *rdt_relation_encode_reaction (const gchar *target, const gchar *emoji,
                                     gboolean remove, GError **error);
gchar *rdt_relation_encode_edit (const gchar *target, const gchar *text,
                                 GError **error);
gchar *rdt_relation_encode_delete (const gchar *target, GError **error);

/* ------------------------------------------------------------------ */
/* RdtRelations: one topic's aggregator (relations-fold.c).            */

typedef struct _RdtRelations RdtRelations;

#define RDT_RELATIONS_MAX_MESSAGES  5000  /* remembered per topic */
#define RDT_RELATIONS_MAX_PENDING   1000  /* relations awaiting a target */
#define RDT_RELATIONS_MAX_EMOJIS    64    /* distinct reactions per message */
#define RDT_RELATIONS_KEPT_CHARS    200   /* text kept per message */

/* One verified message, as fed in chain order. */
typedef struct {
  const gchar *hash;          /* M id */
  const gchar *sender;        /* signer id (U, T, or S for the owner) */
  const gchar *type;
  gint64       server_ts;     /* ms, -1 unknown */
  GBytes      *plain;         /* decrypted payload */
  const gchar *text;          /* display text, NULL: rdt_display_text() */
  gboolean     sender_is_owner; /* the space owner: may delete any message */
} RdtRelationsMessage;

typedef enum {
  RDT_RELATION_RESULT_MESSAGE,   /* not a relation: an ordinary message */
  RDT_RELATION_RESULT_APPLIED,   /* relation to a known target, applied */
  RDT_RELATION_RESULT_UNKNOWN_TARGET, /* reply to a message not seen:
                                       * show "(earlier message)" */
  RDT_RELATION_RESULT_PENDING,   /* reaction/edit/delete held until its
                                  * target arrives */
  RDT_RELATION_RESULT_REFUSED,   /* edit/delete by someone else: "X tried
                                  * to edit a message by Y", not applied */
  RDT_RELATION_RESULT_INVALID,   /* bad payload or target: see `error` */
  RDT_RELATION_RESULT_DUPLICATE  /* this hash was fed already: ignored */
} RdtRelationResultKind;

typedef struct {
  RdtRelationResultKind kind;
  RdtRelation *relation;      /* NULL for MESSAGE, DUPLICATE, INVALID */
  gchar   *hash;              /* the message fed */
  gchar   *sender;
  gint64   server_ts;
  /* The target when known (APPLIED, REFUSED), else NULL / -1: */
  gchar   *target_sender;
  gint64   target_ts;
  gchar   *target_text;       /* its text then (kept start, may be cut) */
  gboolean changed;           /* APPLIED: anything changed (a reaction
                               * already there, a second delete: FALSE) */
  GError  *error;             /* INVALID: why */
} RdtRelationResult;

void rdt_relation_result_free (RdtRelationResult *res);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtRelationResult, rdt_relation_result_free)

typedef struct {
  gchar   *emoji;
  guint    count;
  GStrv    members;           /* sorted sender ids */
} RdtReaction;

void rdt_reaction_free (RdtReaction *r);

RdtRelations *rdt_relations_new (void);
void          rdt_relations_free (RdtRelations *rels);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdtRelations, rdt_relations_free)
/* For tests: smaller bounds (0 keeps the default). */
void          rdt_relations_set_limits (RdtRelations *rels, guint max_messages,
                                        guint max_pending);

/* Feed one verified message in chain order. Returns what it is; released
 * (may be NULL) gets the results (RdtRelationResult, owned) of held
 * relations that this message, their target, now lets apply or refuse,
 * in the order they came. */
RdtRelationResult *rdt_relations_add (RdtRelations *rels,
                                      const RdtRelationsMessage *msg,
                                      GPtrArray **released);

/* Whether a message is remembered: FALSE means "(earlier message)". */
gboolean     rdt_relations_knows (RdtRelations *rels, const gchar *hash);
/* A remembered message's sender, server time, text after the author's
 * edits (its first RDT_RELATIONS_KEPT_CHARS characters), NULL if unknown. */
const gchar *rdt_relations_get_sender (RdtRelations *rels, const gchar *hash);
gint64       rdt_relations_get_ts (RdtRelations *rels, const gchar *hash);
const gchar *rdt_relations_get_text (RdtRelations *rels, const gchar *hash);
gboolean     rdt_relations_is_edited (RdtRelations *rels, const gchar *hash);
gboolean     rdt_relations_is_deleted (RdtRelations *rels, const gchar *hash);
/* Reactions on a message (RdtReaction, owned): most members first, then
 * by emoji; empty when none or unknown. */
GPtrArray   *rdt_relations_get_reactions (RdtRelations *rels,
                                          const gchar *hash);
guint        rdt_relations_count_pending (RdtRelations *rels);

/* What a person types to name a message: "last", "last-mine" (own_id's
 * last message), or the time the chat shows in front of the line,
 * "hh:mm:ss" or "hh:mm" of the server time in tz (NULL: local). Only messages that are
 * shown count (not reactions, edits, deletes, deleted messages). Returns
 * the message hash, or NULL and an error: none, or several (their hashes
 * in *candidates, may be NULL, and listed in the error message as time,
 * sender and first words). */
gchar *rdt_relations_resolve_ref (RdtRelations *rels, const gchar *ref,
                                  const gchar *own_id, GTimeZone *tz,
                                  GPtrArray **candidates, GError **error);

/* Backlog folding: one page of messages in chain order, fed to rels (a
 * temporary aggregator when NULL), with edits, deletes and reactions whose
 * target is in the page applied before display. */
typedef struct {
  guint    index;             /* into the page */
  RdtRelationResult *result;  /* what rdt_relations_add said */
  gchar   *text;              /* text to show: the author's last edit for
                               * a message; the relation's own text (reply,
                               * edit) or NULL (reaction, delete) */
  gboolean edited;            /* show "(edited)" */
  GPtrArray *reactions;       /* RdtReaction at the page's end, or NULL */
  GPtrArray *released;        /* held relations this one released, or NULL */
} RdtFoldEntry;

void rdt_fold_entry_free (RdtFoldEntry *e);

/* The entries to show, in page order (RdtFoldEntry, owned). Hidden:
 * deleted messages and the deletes, edits and reactions that were applied
 * to a message of the page. Shown: everything else, a relation whose
 * target is elsewhere or that was refused with its result. */
GPtrArray *rdt_relations_fold_page (RdtRelations *rels,
                                    const RdtRelationsMessage *page,
                                    guint n_page);

G_END_DECLS
