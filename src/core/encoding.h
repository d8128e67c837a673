/* SPDX-License-Identifier: GPL-2.0-or-later */
/* encoding.h - strict base64 / base64url / hex on top of GLib.
 *
 * GLib's decoder silently skips characters outside the alphabet, and the
 * reeeductio server is just as lenient; we are not: every byte from the
 * server is validated here before g_base64_decode() sees it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Standard alphabet, '=' padded (message data, signatures, challenges). */
gchar  *rdt_base64_encode (const guint8 *data, gsize len);
/* Strict: standard alphabet only, length a multiple of 4, correct padding.
 * expected_len >= 0 additionally requires that many decoded bytes.
 * Returns newly allocated bytes (g_free) and their length in *out_len. */
guint8 *rdt_base64_decode (const gchar *text, gssize expected_len,
                           gsize *out_len, GError **error);

/* Lenient, exactly as the server decodes a message signature (spec 4.3
 * step 9, Python's b64decode): characters outside the standard alphabet
 * are dropped, decoding stops at the padding that completes a quantum,
 * unused bits are ignored; a dangling quantum or a non-ASCII character is
 * an error. Only for values that nothing hashes and whose bytes are then
 * verified (a signature): a member can post any such spelling, and the
 * server stores it as sent. */
guint8 *rdt_base64_decode_lenient (const gchar *text, gssize expected_len,
                                   gsize *out_len, GError **error);
/* Canonical strict base64 of exactly out_len bytes into out, without an
 * allocation (hot paths: a signature per verified message). FALSE, with
 * out untouched, for anything else; callers fall back to the decoders
 * above, which also say why. */
gboolean rdt_base64_decode_exact (const gchar *text, guint8 *out,
                                  gsize out_len);

/* URL-safe alphabet, no padding (typed ids). */
gchar  *rdt_base64url_encode (const guint8 *data, gsize len);
/* The same into out (at least (len + 2) / 3 * 4 + 1 bytes), NUL ended;
 * returns the length written. */
gsize   rdt_base64url_encode_to (const guint8 *data, gsize len, gchar *out);
guint8 *rdt_base64url_decode (const gchar *text, gssize expected_len,
                              gsize *out_len, GError **error);

/* Lowercase hex. */
gchar   *rdt_hex_encode (const guint8 *data, gsize len);
gboolean rdt_hex_decode (const gchar *text, guint8 *out, gsize out_len,
                         GError **error);

G_END_DECLS
