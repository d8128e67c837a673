/* SPDX-License-Identifier: GPL-2.0-or-later */
/* display.h - the line a chat shows for a decrypted payload. Pure: no
 * network, no libpurple; the input is verified but otherwise hostile. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* chat.text (spec 9): a JSON object's string "text", else the bytes as
 * UTF-8 (repaired with U+FFFD). Other types: their "text" member if they
 * have one, else a short placeholder naming the type and, for an
 * attachment, its file name. Never NULL. */
gchar *rdt_display_text (const gchar *type, GBytes *plain);

G_END_DECLS
