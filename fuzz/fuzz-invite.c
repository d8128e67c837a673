/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-invite.c - rdt_invite_parse on a pasted string (spec 8.4).
 * Input: the whole buffer is the text the user pasted. Properties: no crash;
 * an accepted invitation re-encodes to a string that parses to the same
 * fields (the format has one canonical JSON spelling from the encoder). */
#include <string.h>
#include <glib.h>
#include "crypto.h"
#include "error.h"
#include "invite.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  GError *error = NULL;
  RdtInvite *inv = rdt_invite_parse (text, &error);

  if (inv == NULL)
    {
      g_assert_nonnull (error);
      g_clear_error (&error);
      return 0;
    }
  g_assert_null (error);
  {
    g_autofree gchar *again = rdt_invite_encode (inv->server_url, inv->space_id,
                                                 inv->root, inv->tool_seed,
                                                 &error);
    RdtInvite *inv2;

    /* Parse accepted it within RDT_INVITE_MAX_LENGTH; the canonical
     * spelling can be longer (escapes), so only TOO_LARGE may fail here. */
    if (again == NULL)
      {
        g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
        g_clear_error (&error);
        rdt_invite_free (inv);
        return 0;
      }
    inv2 = rdt_invite_parse (again, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (inv2->server_url, ==, inv->server_url);
    g_assert_cmpstr (inv2->space_id, ==, inv->space_id);
    g_assert_true (memcmp (inv2->root, inv->root, 32) == 0);
    g_assert_true (memcmp (inv2->tool_seed, inv->tool_seed, 32) == 0);
    rdt_invite_free (inv2);
  }
  rdt_invite_free (inv);
  return 0;
}
