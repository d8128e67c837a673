/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-payload.c - rdt_payload_decrypt with a fixed key. Even first byte:
 * the rest is the `data` string as the server sends it. Odd first byte: the
 * rest is raw nonce||ct||tag, base64-encoded here so the fuzzer reaches the
 * GCM code. Bit 1: also an encrypt/decrypt round trip of the rest. Bit 2:
 * the nettle AES backend instead of libsodium. Property: no crash, and what
 * we encrypt decrypts to itself. */
#include <string.h>
#include <glib.h>
#include "encoding.h"
#include "crypto.h"
#include "message.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const guint8 key[RDT_KEY_LENGTH] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
  0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static gboolean init;
  if (!init)
    {
      g_assert_true (rdt_crypto_init ());
      init = TRUE;
    }
  if (size < 1)
    return 0;
  GError *error = NULL;
  g_autofree gchar *text = NULL;
  /* Bit 2 picks the nettle fallback, else libsodium (if the CPU has it). */
  rdt_aes_set_backend ((data[0] & 4) ? RDT_AES_BACKEND_NETTLE
                                     : RDT_AES_BACKEND_AUTO);
  if (data[0] & 1)
    text = rdt_base64_encode (data + 1, size - 1);
  else
    text = g_strndup ((const gchar *) data + 1, size - 1);

  GBytes *pt = rdt_payload_decrypt (key, text, &error);
  if (pt != NULL)
    g_bytes_unref (pt);
  else
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
    }

  /* Round trip: whatever we encrypt decrypts to itself. */
  if ((data[0] & 2) && size - 1 <= RDT_MAX_PLAINTEXT)
    {
      g_autofree gchar *ct = rdt_payload_encrypt (key, data + 1, size - 1);
      g_assert_nonnull (ct);
      GBytes *back = rdt_payload_decrypt (key, ct, &error);
      g_assert_no_error (error);
      gsize n;
      const guint8 *p = g_bytes_get_data (back, &n);
      g_assert_cmpuint (n, ==, size - 1);
      g_assert_true (n == 0 || memcmp (p, data + 1, n) == 0);
      g_bytes_unref (back);
    }
  return 0;
}
