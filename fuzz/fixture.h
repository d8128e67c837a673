/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fixture.h - a fixed, deterministic set of signed messages shared by the
 * chain fuzzer and the seed generator: the space and member of spec
 * Appendix A (owner seed 0x01.., member seed 0x02..), topic "general".
 *
 * Pool layout (prev links):
 *   0 <- 1 <- 2 <- 3 <- 4 <- 5      the main run (0 is the topic's first)
 *             1 <- 6 <- 7           a fork off 1
 *   unknown <- 8 <- 9               a run hanging off a hash nobody has
 *   10: same content as 2 but sent by the owner (different hash)
 *   11: a message of another topic ("random") with prev 0's hash
 */
#pragma once

#include <string.h>
#include <glib.h>
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "message.h"

#define FIXTURE_N_POOL 12
#define FIXTURE_TOPIC  "general"

typedef struct {
  gchar      *space_id;
  RdtMessage *pool[FIXTURE_N_POOL];
} Fixture;

static Fixture *
fixture_get (void)
{
  static Fixture f;
  static gboolean done;
  guint8 seed[32];

  if (done)
    return &f;
  g_assert_true (rdt_crypto_init ());
  memset (seed, 0x01, sizeof seed);
  RdtSigningKey *owner = rdt_signing_key_new_from_seed (seed);
  memset (seed, 0x02, sizeof seed);
  RdtSigningKey *member = rdt_signing_key_new_from_seed (seed);
  f.space_id = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  gchar *owner_u = rdt_signing_key_get_id (owner, RDT_ID_USER);
  gchar *member_u = rdt_signing_key_get_id (member, RDT_ID_USER);
  guint8 zero[32] = { 0 };
  gchar *unknown = rdt_id_encode (RDT_ID_MESSAGE, zero);

  static const int prev_of[FIXTURE_N_POOL] = {
    -1, 0, 1, 2, 3, 4, 1, 6, -2, 8, 1, 0 };
  for (int i = 0; i < FIXTURE_N_POOL; i++)
    {
      const gchar *prev = prev_of[i] == -1 ? NULL
                        : prev_of[i] == -2 ? unknown
                        : f.pool[prev_of[i]]->message_hash;
      gchar *plain = g_strdup_printf ("message %d", i == 10 ? 2 : i);
      gchar *data = rdt_base64_encode ((const guint8 *) plain, strlen (plain));
      f.pool[i] = rdt_message_new_signed (f.space_id,
                                          i == 11 ? "random" : FIXTURE_TOPIC,
                                          "chat.text", prev, data,
                                          i == 10 ? owner_u : member_u,
                                          i == 10 ? owner : member);
      g_assert_nonnull (f.pool[i]);
      /* Timestamps increase along each run, as a server would stamp them. */
      f.pool[i]->server_timestamp = 1700000000000 + 1000 * i;
      g_free (plain);
      g_free (data);
    }
  g_free (unknown);
  g_free (owner_u);
  g_free (member_u);
  rdt_signing_key_free (owner);
  rdt_signing_key_free (member);
  done = TRUE;
  return &f;
}
