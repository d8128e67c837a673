/* SPDX-License-Identifier: GPL-2.0-or-later */
/* error.h - the core's GError domain.
 *
 * Every failure in the core (bad ids, bad keys, malformed server JSON,
 * verification failures) is reported as a GError in RDT_ERROR with a message
 * that can be shown to the user as is.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RDT_ERROR (rdt_error_quark ())
GQuark rdt_error_quark (void);

typedef enum {
  RDT_ERROR_INVALID_ID,      /* typed id (S/U/T/M/B) or topic id is malformed */
  RDT_ERROR_INVALID_KEY,     /* key material has the wrong length or encoding */
  RDT_ERROR_BAD_BASE64,      /* a base64 field is not valid base64 of the right flavour */
  RDT_ERROR_DECRYPT,         /* AES-GCM: truncated blob or authentication tag mismatch */
  RDT_ERROR_MALFORMED,       /* JSON wire data: not JSON, missing field, wrong type */
  RDT_ERROR_HASH_MISMATCH,   /* message_hash does not match the recomputed hash */
  RDT_ERROR_BAD_SIGNATURE,   /* Ed25519 signature does not verify */
  RDT_ERROR_CHAIN,           /* prev_hash links broken, history rewritten */
  RDT_ERROR_TOO_LARGE,       /* over a protocol or configured size limit */
  RDT_ERROR_FAILED           /* anything else */
} RdtErrorCode;

G_END_DECLS
