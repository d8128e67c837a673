/* SPDX-License-Identifier: GPL-2.0-or-later */
/* transcript.h - chat entries in chain order. Text lines and attachments are
 * written as the session delivers them, except that every chat holds its
 * entries until the space's names are read (members.c, bounded), so that
 * lines come from names, not ids; and an inline image holds
 * the entries after it in its chat until it is downloaded and verified, so
 * that it shows in its place, not after later messages. The wait is
 * bounded (RDT_TRANSCRIPT_WAIT_MS): then a placeholder takes its place and
 * the image follows when it comes. */
#pragma once

#include "conn.h"

G_BEGIN_DECLS

#define RDT_TRANSCRIPT_WAIT_MS 4000

/* Write an entry (purple_conv_chat_write: html, from who, at mtime; who
 * NULL: an entry of no one's, e.g. a system line of a verified event) to the
 * chat of topic_id: now, or after the images held before it. img_id: the
 * image store id html shows (kept until written), or 0. */
void    rdt_transcript_write (RdtConn *rc, const gchar *topic_id,
                           const gchar *who, const gchar *html,
                           PurpleMessageFlags flags, time_t mtime,
                           gint img_id);
/* rdt_transcript_write of a line from the member sender (own: ours), under
 * the nick the sender has when it is written. */
void    rdt_transcript_write_from (RdtConn *rc, const gchar *topic_id,
                                   const gchar *sender, gboolean own,
                                   const gchar *html, PurpleMessageFlags flags,
                                   time_t mtime);
/* rdt_transcript_write of a line of no one's about the member subject:
 * text with its one "%s" replaced by the subject's nick when it is
 * written, then escaped. */
void    rdt_transcript_write_about (RdtConn *rc, const gchar *topic_id,
                                    const gchar *subject, const gchar *text,
                                    PurpleMessageFlags flags, time_t mtime);
/* Markers in the text of a mention (control characters, never in a
 * shown text: the caller replaces them in what it puts in). */
#define RDT_TRANSCRIPT_SUBJECT "\001"
#define RDT_TRANSCRIPT_ACTOR   "\002"
/* An entry (from sender, own: ours; sender NULL: no one's) whose plain
 * text names two members by their nicks when it is written:
 * RDT_TRANSCRIPT_ACTOR becomes actor's, RDT_TRANSCRIPT_SUBJECT subject's
 * (either may be NULL); then escaped, newlines as line breaks. */
void    rdt_transcript_write_mention (RdtConn *rc, const gchar *topic_id,
                                      const gchar *sender, gboolean own,
                                      const gchar *actor, const gchar *subject,
                                      const gchar *text,
                                      PurpleMessageFlags flags, time_t mtime);
/* The names are read (members.c): the entries held for them go out. */
void    rdt_transcript_names_ready (RdtConn *rc);
/* Hold the place of an entry whose content comes later; placeholder is
 * written there if it does not come in time. Returns its ticket. */
guint64 rdt_transcript_hold (RdtConn *rc, const gchar *topic_id,
                          const gchar *who, PurpleMessageFlags flags,
                          time_t mtime, const gchar *placeholder);
/* The content of a held entry: written in its place, or, once its
 * placeholder went out, as an entry of its own (same sender and time).
 * Unknown tickets (the chat was left) are ignored. */
void    rdt_transcript_fill (RdtConn *rc, guint64 ticket, const gchar *html,
                          PurpleMessageFlags extra_flags, gint img_id);
/* The chat was left: what it held is dropped. */
void    rdt_transcript_forget_topic (RdtConn *rc, const gchar *topic_id);
/* Whether the UI shows images within chat entries: Pidgin does, Finch and
 * BitlBee do not. RDT_INLINE_IMAGES=1 or 0 in the environment overrides
 * the guess (tests, other UIs); asked once per connection, at login. */
gboolean rdt_transcript_ui_shows_images (void);
/* The account closes. */
void    rdt_transcript_free (RdtConn *rc);

G_END_DECLS
