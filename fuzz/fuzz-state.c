/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-state.c - the state replay (src/core/state.c) under hostile input.
 *
 * First byte selects the mode:
 *   even: the rest is a GET .../messages answer as the server would send
 *         it; parsed strictly, then ingested (nearly everything fails
 *         verification: this covers parsing and rejection);
 *   odd:  the rest is a program of state writes that the harness signs
 *         properly, so fuzzer-chosen paths and values reach the replay,
 *         the signer checks and the JSON/name parsing. Each record:
 *           signer (0 owner, 1 member, 2 stranger, 3 tool), flags (bit 0:
 *           encrypt the value with the state key), path length, path,
 *           value length (2 bytes), value bytes.
 * Invariants after each input:
 *   - every listed member is a member, the owner is listed first;
 *   - every display name, topic name and capability is valid UTF-8, at
 *     most RDT_STATE_MAX_NAME characters (names), free of control chars;
 *   - a stranger whose entry nobody else wrote (self-signed at most) is
 *     never a member;
 *   - ingesting the same messages again applies nothing new. */
#include <string.h>
#include <glib.h>
#include "chain.h"
#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "message.h"
#include "state.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

typedef struct {
  RdtSigningKey *owner, *member, *stranger, *tool;
  gchar *space;
  RdtSpaceKeys *keys;
} Keys;

static Keys *
keys_get (void)
{
  static Keys k;
  static gboolean done;
  guint8 seed[32], root[32];

  if (done)
    return &k;
  g_assert_true (rdt_crypto_init ());
  memset (seed, 0x01, 32);
  k.owner = rdt_signing_key_new_from_seed (seed);
  memset (seed, 0x02, 32);
  k.member = rdt_signing_key_new_from_seed (seed);
  memset (seed, 0x03, 32);
  k.stranger = rdt_signing_key_new_from_seed (seed);
  memset (seed, 0x04, 32);
  k.tool = rdt_signing_key_new_from_seed (seed);
  memset (root, 0x05, 32);
  k.space = rdt_signing_key_get_id (k.owner, RDT_ID_SPACE);
  k.keys = rdt_space_keys_new (root, k.space);
  done = TRUE;
  return &k;
}

static void
check_text (const gchar *s, gboolean is_name)
{
  g_assert_true (g_utf8_validate (s, -1, NULL));
  if (is_name)
    g_assert_cmpint (g_utf8_strlen (s, -1), <=, RDT_STATE_MAX_NAME);
  for (const gchar *p = s; *p; p = g_utf8_next_char (p))
    g_assert_false (g_unichar_iscntrl (g_utf8_get_char (p)));
}

static void
check_state (Keys *k, RdtState *state, gboolean stranger_added)
{
  g_autoptr (GPtrArray) members = rdt_state_list_members (state);
  g_autoptr (GPtrArray) topics = rdt_state_list_topics (state);
  g_autofree gchar *owner = rdt_signing_key_get_id (k->owner, RDT_ID_USER);
  g_autofree gchar *stranger = rdt_signing_key_get_id (k->stranger, RDT_ID_USER);

  g_assert_cmpuint (members->len, >=, 1);
  g_assert_cmpstr (members->pdata[0], ==, owner);
  if (!stranger_added)
    g_assert_false (rdt_state_is_member (state, stranger));
  for (guint i = 0; i < members->len; i++)
    {
      g_autofree gchar *name = rdt_state_get_display_name (state, members->pdata[i]);
      g_autoptr (GPtrArray) caps = rdt_state_list_capabilities (state, members->pdata[i]);

      g_assert_true (rdt_state_is_member (state, members->pdata[i]));
      if (name)
        check_text (name, TRUE);
      for (guint j = 0; j < caps->len; j++)
        check_text (caps->pdata[j], FALSE);
    }
  for (guint i = 0; i < topics->len; i++)
    {
      g_autofree gchar *name = rdt_state_get_topic_name (state, topics->pdata[i]);

      g_assert_true (rdt_topic_id_validate (topics->pdata[i], NULL));
      if (name)
        check_text (name, TRUE);
    }
}

static const RdtSigningKey *
signer (Keys *k, guint8 b, gchar **id)
{
  switch (b % 4)
    {
    case 0: *id = rdt_signing_key_get_id (k->owner, RDT_ID_USER); return k->owner;
    case 1: *id = rdt_signing_key_get_id (k->member, RDT_ID_USER); return k->member;
    case 2: *id = rdt_signing_key_get_id (k->stranger, RDT_ID_USER); return k->stranger;
    default: *id = rdt_signing_key_get_id (k->tool, RDT_ID_TOOL); return k->tool;
    }
}

static GPtrArray *
program (Keys *k, const guint8 *p, size_t left, gboolean *stranger_added)
{
  g_autofree gchar *stranger = rdt_signing_key_get_id (k->stranger, RDT_ID_USER);
  g_autofree gchar *stranger_path = g_strconcat ("auth/users/", stranger, NULL);
  GPtrArray *msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
  gchar *prev = NULL;
  gint64 ts = 1700000000000;

  while (left >= 5 && msgs->len < 64)
    {
      guint8 who = p[0], flags = p[1];
      gsize plen = p[2], vlen;
      g_autofree gchar *path = NULL, *id = NULL, *value = NULL;
      const RdtSigningKey *key;
      RdtMessage *m;

      p += 3; left -= 3;
      if (plen == 0 || plen > left)
        break;
      path = g_strndup ((const gchar *) p, plen);
      p += plen; left -= plen;
      if (left < 2)
        break;
      vlen = (gsize) p[0] << 8 | p[1];
      p += 2; left -= 2;
      vlen = MIN (vlen, left);
      if (flags & 1)
        value = rdt_payload_encrypt (k->keys->state_key, p, vlen);
      else
        value = rdt_base64_encode (p, vlen);
      p += vlen; left -= vlen;
      if (value == NULL || !g_utf8_validate (path, -1, NULL) || strlen (path) != plen)
        continue;
      key = signer (k, who, &id);
      if (key != k->stranger && g_str_equal (path, stranger_path))
        *stranger_added = TRUE;
      m = rdt_message_new_signed (k->space, "state", path, prev, value, id, key);
      m->server_timestamp = (ts += 1 + (who >> 4));
      g_free (prev);
      prev = g_strdup (m->message_hash);
      g_ptr_array_add (msgs, m);
    }
  g_free (prev);
  return msgs;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  Keys *k = keys_get ();
  g_autoptr (RdtState) state = rdt_state_new (k->space, k->keys->state_key);
  g_autoptr (GPtrArray) msgs = NULL;
  gboolean stranger_added = FALSE;

  if (size < 1)
    return 0;
  if ((data[0] & 1) == 0)
    msgs = rdt_message_list_parse ((const gchar *) data + 1, (gssize) size - 1,
                                   NULL, NULL);
  else
    msgs = program (k, data + 1, size - 1, &stranger_added);
  if (msgs == NULL)
    return 0;
  rdt_state_ingest (state, msgs, NULL);
  check_state (k, state, stranger_added);
  g_assert_cmpuint (rdt_state_ingest (state, msgs, NULL), ==, 0);
  check_state (k, state, stranger_added);
  return 0;
}
