/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nicks.h - every member's chat nick, unique: the display name alone
 * ("Alice"), with the short id added when the name is shared or looks like
 * an id ("Alice (UAbCdEfGh)"), more of the id (16 characters, then all of
 * it) while even that is someone else's, the short id for a member
 * without a name. No nick is given twice, neither as the chat compares
 * names (g_utf8_collate) nor under the caller's normaliser (libpurple's
 * purple_normalize(), passed in so that this stays libpurple-free). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The caller's idea of "the same nick": text normalised, valid until the
 * next call. */
typedef const gchar *(*RdtNicksNormalize) (const gchar *text,
                                           gpointer user_data);

typedef struct _RdtNicks RdtNicks;

RdtNicks   *rdt_nicks_new (RdtNicksNormalize normalize, gpointer user_data);
void        rdt_nicks_free (RdtNicks *nicks);
/* Recomputes the nicks of n members: uids[i] has the display name
 * names[i], or NULL. Returns uid -> nick (a new table the caller owns);
 * what is claimed is kept for rdt_nicks_claimed_by_other(). */
GHashTable *rdt_nicks_compute (RdtNicks *nicks, const gchar *const *uids,
                               const gchar *const *names, guint n);
/* Whether a member other than uid has text, or something equal to it, as
 * nick or short id in the last computation. */
gboolean    rdt_nicks_claimed_by_other (RdtNicks *nicks, const gchar *text,
                                        const gchar *uid);

G_END_DECLS
