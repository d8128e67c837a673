/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-readmarker.c - rdt_read_marker_decode (src/core/readstate.c) with a
 * fixed key, for topic "general". First byte 'j': the rest is the
 * plaintext JSON, sealed here so the fuzzer reaches the JSON checks; else
 * the rest is the stored value as the server sends it. Property: no
 * crash, an error exactly when NULL, and what decodes is a valid marker
 * of that topic that encodes and decodes to itself. */
#include <string.h>
#include <glib.h>
#include "crypto.h"
#include "error.h"
#include "id.h"
#include "message.h"
#include "readstate.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const guint8 key[RDT_KEY_LENGTH] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
  0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static gboolean init;
  g_autofree gchar *value = NULL, *again = NULL;
  g_autoptr (RdtReadMarker) m = NULL, back = NULL;
  GError *error = NULL;

  if (!init)
    {
      g_assert_true (rdt_crypto_init ());
      init = TRUE;
    }
  if (size < 1)
    return 0;
  if (data[0] == 'j')
    value = rdt_payload_encrypt (key, data + 1, size - 1);
  else
    value = g_strndup ((const gchar *) data + 1, size - 1);
  if (value == NULL)
    return 0;

  m = rdt_read_marker_decode (key, "general", value, &error);
  if (m == NULL)
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
      return 0;
    }
  g_assert_null (error);
  g_assert_cmpstr (m->topic_id, ==, "general");
  g_assert_true (rdt_id_is_valid (m->message_hash, RDT_ID_MESSAGE));
  g_assert_cmpint (m->timestamp, >, 0);
  again = rdt_read_marker_encode (key, m);
  g_assert_nonnull (again);
  back = rdt_read_marker_decode (key, "general", again, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->message_hash, ==, m->message_hash);
  g_assert_cmpint (back->timestamp, ==, m->timestamp);
  return 0;
}
