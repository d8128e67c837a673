/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-keygen - fresh keys for trying the plugin (scripts/try-it.sh, the UI
 * tests). Prints secrets on stdout on purpose: that is its whole job, so
 * redirect it into a file with mode 600 or a shell variable, never a log.
 *
 *   rdt-keygen key    prints "<S id> <U id> <seed hex>": a new Ed25519
 *                     key. As a space key, the S id is the space, the U id
 *                     its owner (admin) user, the seed the account password.
 *   rdt-keygen root   prints 64 hex characters: a new symmetric root
 *                     (spec 2), the space's shared secret.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "id.h"

static void
print_hex (const guint8 *b, gsize n)
{
  for (gsize i = 0; i < n; i++)
    printf ("%02x", b[i]);
}

static int
usage (const char *argv0)
{
  fprintf (stderr, "usage: %s key|root\n"
           "  key   print \"<S id> <U id> <seed hex>\" of a new Ed25519 key\n"
           "  root  print a new 32-byte symmetric root as hex\n", argv0);
  return 2;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    return usage (argv[0]);
  if (!rdt_crypto_init ())
    {
      fprintf (stderr, "rdt-keygen: libsodium failed to initialise\n");
      return 1;
    }

  if (strcmp (argv[1], "key") == 0)
    {
      g_autoptr (RdtSigningKey) key = rdt_signing_key_generate ();
      g_autofree gchar *space = rdt_signing_key_get_id (key, RDT_ID_SPACE);
      g_autofree gchar *user = rdt_signing_key_get_id (key, RDT_ID_USER);
      guint8 *seed = rdt_secret_alloc (RDT_SEED_LENGTH);

      rdt_signing_key_copy_seed (key, seed);
      printf ("%s %s ", space, user);
      print_hex (seed, RDT_SEED_LENGTH);
      printf ("\n");
      rdt_secret_free (seed);
    }
  else if (strcmp (argv[1], "root") == 0)
    {
      guint8 *root = rdt_secret_alloc (RDT_KEY_LENGTH);

      rdt_random_bytes (root, RDT_KEY_LENGTH);
      print_hex (root, RDT_KEY_LENGTH);
      printf ("\n");
      rdt_secret_free (root);
    }
  else
    return usage (argv[0]);

  return fflush (stdout) == 0 && !ferror (stdout) ? 0 : 1;
}
