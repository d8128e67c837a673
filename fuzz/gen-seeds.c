/* SPDX-License-Identifier: GPL-2.0-or-later */
/* gen-seeds.c - write the seed corpus under fuzz/corpus/ (usage:
 * fuzz-gen-seeds <corpus-dir>). Deterministic: the messages are the
 * Appendix A vectors plus the fixture pool of fixture.h. Run by hand
 * (fuzz/run.sh --seeds); the output is committed. */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "fixture.h"

static const gchar *root;

static void
put (const gchar *target, const gchar *name, const void *data, gsize len)
{
  g_autofree gchar *dir = g_build_filename (root, target, NULL);
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  GError *error = NULL;

  g_mkdir_with_parents (dir, 0755);
  if (!g_file_set_contents (path, data, len, &error))
    g_error ("%s", error->message);
}

static void
put_str (const gchar *target, const gchar *name, const gchar *prefix,
         const gchar *text)
{
  g_autofree gchar *s = g_strconcat (prefix, text, NULL);
  put (target, name, s, strlen (s));
}

/* Appendix A msg1 and msg2, verbatim. */
static const gchar *msg1 =
  "{\"message_hash\":\"MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe\","
  "\"topic_id\":\"general\",\"type\":\"chat.text\",\"prev_hash\":null,"
  "\"data\":\"AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==\","
  "\"sender\":\"UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU\","
  "\"signature\":\"l3YZStUjYhQukP+/hhDjzkzApHODq+mVFNK3+DhSAmplFVFDN4XEPsTCFQzBlqIAwmevS3B2w8qd7a82ODboAQ==\","
  "\"server_timestamp\":1700000000000}";
static const gchar *msg2 =
  "{\"message_hash\":\"MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt\","
  "\"topic_id\":\"general\",\"type\":\"chat.text\","
  "\"prev_hash\":\"MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe\","
  "\"data\":\"c2Vjb25k\","
  "\"sender\":\"UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU\","
  "\"signature\":\"huduiuS7xhSNP74+y56rX6tclid103bKstgGbwsPaSCwxvRsrnR5ZKBLV0v4vQhfdsdujVd/STdr/fuylSymAw==\","
  "\"server_timestamp\":1700000001000}";

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s <corpus-dir>\n", argv[0]);
      return 2;
    }
  root = argv[1];
  Fixture *f = fixture_get ();

  /* fuzz-id: selector '0' id, '1' topic, '2' key32, '3' base64,
   * '4' base64url, '5' hex. */
  put_str ("id", "id-space", "0", "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c");
  put_str ("id", "id-user", "0", "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU");
  put_str ("id", "id-tool", "0", "TIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c");
  put_str ("id", "id-message", "0", "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe");
  put_str ("id", "id-blob", "0", "BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4");
  put_str ("id", "topic-general", "1", "general");
  put_str ("id", "topic-long", "1", "a-b_c-0123456789012345678901234567890123456789012345678901234567z");
  put_str ("id", "key32-hex", "2", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  put_str ("id", "base64", "3", "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==");
  put_str ("id", "base64url", "4", "IqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c");
  put_str ("id", "hex", "5", "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");

  /* fuzz-payload: 'd' data string, 'a' raw blob, 'c' raw blob + round trip,
   * 'e' / 'g' the same as 'a' / 'c' with the nettle backend.
   * With the fixed key 00..1f of the harness; msg1's data is under
   * topic_key('general') so it exercises the tag failure path. */
  put_str ("payload", "msg1-data", "d", "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA==");
  {
    guint8 k[32];
    for (int i = 0; i < 32; i++)
      k[i] = i;
    g_autofree gchar *ct = rdt_payload_encrypt (k, (const guint8 *) "hello, world", 12);
    put_str ("payload", "own-data", "d", ct);
    gsize n;
    g_autofree guint8 *raw = rdt_base64_decode (ct, -1, &n, NULL);
    g_autofree guint8 *buf = g_malloc (n + 1);
    buf[0] = 'a';
    memcpy (buf + 1, raw, n);
    put ("payload", "own-raw", buf, n + 1);
    buf[0] = 'c';
    put ("payload", "roundtrip", buf, n + 1);
    buf[0] = 'e';
    put ("payload", "own-raw-nettle", buf, n + 1);
    buf[0] = 'g';
    put ("payload", "roundtrip-nettle", buf, n + 1);
    put_str ("payload", "short", "d", "AAECAwQFBgcICQoL");
  }

  /* fuzz-message: 'S' one object, 'L' a list answer. */
  put_str ("message", "appendix-a-msg1", "S", msg1);
  put_str ("message", "appendix-a-msg2", "S", msg2);
  {
    g_autofree gchar *list = g_strdup_printf (
        "{\"messages\":[%s,%s],\"has_more\":false}", msg2, msg1);
    put_str ("message", "appendix-a-list", "L", list);
    put_str ("message", "empty-list", "L", "{\"messages\":[],\"has_more\":true}");
    GString *pool = g_string_new ("{\"messages\":[");
    for (int i = 0; i < FIXTURE_N_POOL; i++)
      {
        g_autofree gchar *j = rdt_message_to_json_string (f->pool[i]);
        g_autofree gchar *name = g_strdup_printf ("pool-%02d", i);
        put_str ("message", name, "S", j);
        if (i > 0)
          g_string_append_c (pool, ',');
        g_string_append (pool, j);
      }
    g_string_append (pool, "],\"has_more\":false}");
    put_str ("message", "pool-list", "L", pool->str);
    g_string_free (pool, TRUE);
  }

  /* fuzz-chain: programs over the pool (see fuzz-chain.c for the ops:
   * 0 ingest i, 1 ingest mutated (i, field, pos, xor), 2 page (n, items),
   * 3 older page, 4 take_ready, 5 pin). */
  {
    static const guint8 in_order[] = {
      0, 0, 0, 1, 0, 2, 4, 0, 3, 0, 4, 0, 5, 4, 0, 6, 0, 7, 4 };
    static const guint8 reversed[] = {
      0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 0, 0, 4 };
    static const guint8 page_newest_first[] = {
      2, 4, 5, 4, 3, 2, 4, 3, 3, 1, 0, 4 };
    static const guint8 page_then_older[] = {
      5, 5, 2, 3, 5, 4, 3, 4, 3, 4, 2, 1, 0, 4 };
    static const guint8 duplicates_and_forks[] = {
      2, 6, 0, 1, 1, 6, 7, 2, 0, 2, 0, 2, 4, 0, 10, 0, 11, 0, 8, 0, 9, 4 };
    static const guint8 mutated[] = {
      0, 0, 1, 1, 4, 3, 1, 1, 1, 6, 10, 7, 1, 2, 7, 0, 9, 0, 1, 4,
      2, 3, 0x81, 2, 3, 5, 1, 3, 4 };
    put ("chain", "in-order", in_order, sizeof in_order);
    put ("chain", "reversed", reversed, sizeof reversed);
    put ("chain", "page-newest-first", page_newest_first, sizeof page_newest_first);
    put ("chain", "page-then-older", page_then_older, sizeof page_then_older);
    put ("chain", "duplicates-and-forks", duplicates_and_forks, sizeof duplicates_and_forks);
    put ("chain", "mutated", mutated, sizeof mutated);
  }
  return 0;
}
