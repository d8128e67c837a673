/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-id.c - typed ids and topic ids (src/core/id.c), spec sections 1, 9
 * and the ids of Appendix A. */
#include <string.h>

#include "encoding.h"
#include "error.h"
#include "id.h"

/* Appendix A */
#define A_OWNER_PK    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define A_SPACE_ID    "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define A_OWNER_UID   "UIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define A_OWNER_TID   "TIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define A_MEMBER_PK   "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
#define A_MEMBER_UID  "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define A_MSG1_HASH   "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe"
#define A_MSG1_SIGNED "301c89ca6894cf9bd2e1e85673f47e7564c76653cc3a4d22243b58fc2783e691de"
#define A_MSG2_HASH   "MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt"
#define A_STATE_HASH  "MEoLCDUkndB61rUP0xaHHZ0gWTUiWbH9QAedJr8CYb-B"
#define A_BLOB_ID     "BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4"

static void
hex32 (const gchar *hex, guint8 out[32])
{
  g_assert_true (rdt_hex_decode (hex, out, 32, NULL));
}

static void
test_encode_appendix_a (void)
{
  guint8 pk[32], raw[RDT_ID_RAW_LENGTH];
  g_autofree gchar *s = NULL, *u = NULL, *t = NULL, *m = NULL;

  hex32 (A_OWNER_PK, pk);
  s = rdt_id_encode (RDT_ID_SPACE, pk);
  u = rdt_id_encode (RDT_ID_USER, pk);
  t = rdt_id_encode (RDT_ID_TOOL, pk);
  g_assert_cmpstr (s, ==, A_SPACE_ID);
  g_assert_cmpstr (u, ==, A_OWNER_UID);
  g_assert_cmpstr (t, ==, A_OWNER_TID);

  rdt_id_encode_raw (RDT_ID_SPACE, pk, raw);
  g_assert_cmpuint (raw[0], ==, 0x48);
  rdt_id_encode_raw (RDT_ID_USER, pk, raw);
  g_assert_cmpuint (raw[0], ==, 0x50);
  rdt_id_encode_raw (RDT_ID_TOOL, pk, raw);
  g_assert_cmpuint (raw[0], ==, 0x4c);
  g_assert_cmpmem (raw + 1, 32, pk, 32);

  hex32 (A_MEMBER_PK, pk);
  g_free (u);
  u = rdt_id_encode (RDT_ID_USER, pk);
  g_assert_cmpstr (u, ==, A_MEMBER_UID);

  /* msg1 message_hash: M id of the digest = the 33 signed bytes */
  {
    guint8 signed33[RDT_ID_RAW_LENGTH];

    g_assert_true (rdt_hex_decode (A_MSG1_SIGNED, signed33, 33, NULL));
    g_assert_cmpuint (signed33[0], ==, 0x30);
    m = rdt_id_encode (RDT_ID_MESSAGE, signed33 + 1);
    g_assert_cmpstr (m, ==, A_MSG1_HASH);
    rdt_id_encode_raw (RDT_ID_MESSAGE, signed33 + 1, raw);
    g_assert_cmpmem (raw, 33, signed33, 33);
  }
}

static void
test_decode (void)
{
  static const struct {
    const gchar *id;
    RdtIdType type;
    guint8 header;
    const gchar *name;
  } ids[] = {
    { A_SPACE_ID, RDT_ID_SPACE, 0x48, "space" },
    { A_OWNER_UID, RDT_ID_USER, 0x50, "user" },
    { A_OWNER_TID, RDT_ID_TOOL, 0x4c, "tool" },
    { A_MEMBER_UID, RDT_ID_USER, 0x50, "user" },
    { A_MSG1_HASH, RDT_ID_MESSAGE, 0x30, "message" },
    { A_MSG2_HASH, RDT_ID_MESSAGE, 0x30, "message" },
    { A_STATE_HASH, RDT_ID_MESSAGE, 0x30, "message" },
    { A_BLOB_ID, RDT_ID_BLOB, 0x04, "blob" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(GError) error = NULL;
      guint8 raw[RDT_ID_RAW_LENGTH], data[32];
      RdtIdType type = 0;
      g_autofree gchar *again = NULL;

      g_assert_true (rdt_id_decode (ids[i].id, &type, raw, &error));
      g_assert_no_error (error);
      g_assert_cmpint (type, ==, ids[i].type);
      g_assert_cmpuint (raw[0], ==, ids[i].header);
      g_assert_cmpstr (rdt_id_type_name (type), ==, ids[i].name);
      g_assert_true (rdt_id_decode (ids[i].id, NULL, NULL, &error));

      g_assert_true (rdt_id_decode_typed (ids[i].id, ids[i].type, data,
                                          &error));
      g_assert_no_error (error);
      g_assert_cmpmem (data, 32, raw + 1, 32);
      g_assert_true (rdt_id_is_valid (ids[i].id, ids[i].type));

      again = rdt_id_encode (type, data);
      g_assert_cmpstr (again, ==, ids[i].id);
    }

  {
    guint8 raw[RDT_ID_RAW_LENGTH];

    /* The M id decodes to exactly the 33 bytes that get signed (4.2). */
    g_assert_true (rdt_id_decode (A_MSG1_HASH, NULL, raw, NULL));
    {
      g_autofree gchar *hex = rdt_hex_encode (raw, sizeof raw);
      g_assert_cmpstr (hex, ==, A_MSG1_SIGNED);
    }
  }
}

static void
test_public_key (void)
{
  g_autoptr(GError) error = NULL;
  guint8 pk[32], expect[32];

  hex32 (A_OWNER_PK, expect);
  g_assert_true (rdt_id_get_public_key (A_SPACE_ID, pk, &error));
  g_assert_cmpmem (pk, 32, expect, 32);
  g_assert_true (rdt_id_get_public_key (A_OWNER_UID, pk, &error));
  g_assert_cmpmem (pk, 32, expect, 32);
  g_assert_true (rdt_id_get_public_key (A_OWNER_TID, pk, &error));
  g_assert_cmpmem (pk, 32, expect, 32);
  hex32 (A_MEMBER_PK, expect);
  g_assert_true (rdt_id_get_public_key (A_MEMBER_UID, pk, &error));
  g_assert_cmpmem (pk, 32, expect, 32);
  g_assert_no_error (error);

  g_assert_false (rdt_id_get_public_key (A_MSG1_HASH, pk, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
  g_assert_nonnull (strstr (error->message, "message"));
  g_clear_error (&error);
  g_assert_false (rdt_id_get_public_key (A_BLOB_ID, pk, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
  g_clear_error (&error);
  g_assert_false (rdt_id_get_public_key ("nope", pk, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
}

static void
test_versions (void)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  guint v;

  /* The server accepts versions 1-3; so do we (but never emit them). */
  g_assert_true (rdt_id_decode (A_MEMBER_UID, NULL, raw, NULL));
  for (v = 0; v < 4; v++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree gchar *id = NULL;
      g_autofree gchar *canon = NULL;
      RdtIdType type = 0;
      guint8 data[32];

      raw[0] = (guint8) ((RDT_ID_USER << 2) | v);
      id = rdt_base64url_encode (raw, sizeof raw);
      g_assert_cmpuint (strlen (id), ==, 44);
      g_assert_true (rdt_id_decode (id, &type, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (type, ==, RDT_ID_USER);
      g_assert_true (rdt_id_decode_typed (id, RDT_ID_USER, data, &error));
      canon = rdt_id_encode (RDT_ID_USER, data);
      g_assert_cmpstr (canon, ==, A_MEMBER_UID);
      g_assert_cmpint (id[1] == A_MEMBER_UID[1], ==, v == 0);
    }
}

static void
assert_invalid (const gchar *id, const gchar *part)
{
  g_autoptr(GError) error = NULL;
  RdtIdType type = 77;

  g_assert_false (rdt_id_decode (id, &type, NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
  g_assert_cmpint (type, ==, 77);
  if (part)
    g_assert_nonnull (strstr (error->message, part));
  g_test_message ("%s -> %s", id ? id : "(null)", error->message);
  g_assert_false (rdt_id_is_valid (id, RDT_ID_USER));
}

static void
test_invalid (void)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  g_autofree gchar *plus = g_strdup (A_OWNER_UID);
  g_autofree gchar *slash = g_strdup (A_OWNER_UID);
  g_autofree gchar *eq = g_strdup (A_OWNER_UID);
  g_autofree gchar *space = g_strdup (A_OWNER_UID);
  guint t;

  assert_invalid (NULL, "empty");
  assert_invalid ("", "empty");
  /* lengths 43 and 45 */
  {
    g_autofree gchar *s43 = g_strndup (A_OWNER_UID, 43);
    g_autofree gchar *s45 = g_strconcat (A_OWNER_UID, "A", NULL);

    assert_invalid (s43, "44 characters, got 43");
    assert_invalid (s45, "44 characters, got 45");
  }
  /* standard-alphabet characters and padding are not URL-safe base64 */
  plus[10] = '+';
  assert_invalid (plus, "URL-safe alphabet");
  slash[20] = '/';
  assert_invalid (slash, "URL-safe alphabet");
  eq[43] = '=';
  assert_invalid (eq, "padding");
  space[5] = ' ';
  assert_invalid (space, "URL-safe alphabet");

  /* unknown type bytes: every type6 outside {1, 12, 18, 19, 20} */
  g_assert_true (rdt_id_decode (A_OWNER_UID, NULL, raw, NULL));
  for (t = 0; t < 64; t++)
    {
      g_autofree gchar *id = NULL;

      if (t == 1 || t == 12 || t == 18 || t == 19 || t == 20)
        continue;
      raw[0] = (guint8) (t << 2);
      id = rdt_base64url_encode (raw, sizeof raw);
      g_assert_cmpuint (strlen (id), ==, 44);
      if (t == 0 || t == 63)
        assert_invalid (id, "unknown identifier type");
      else
        g_assert_false (rdt_id_decode (id, NULL, NULL, NULL));
    }
}

static void
test_wrong_type (void)
{
  g_autoptr(GError) error = NULL;
  guint8 data[32] = { 0 };

  /* M id where a U id is expected */
  g_assert_false (rdt_id_decode_typed (A_MSG1_HASH, RDT_ID_USER, data,
                                       &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
  g_assert_cmpstr (error->message, ==,
                   "Invalid identifier: expected a user id, got a message id");
  g_clear_error (&error);
  g_assert_false (rdt_id_is_valid (A_MSG1_HASH, RDT_ID_USER));

  /* S where U expected: same key, still the wrong type */
  g_assert_false (rdt_id_decode_typed (A_SPACE_ID, RDT_ID_USER, NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
  g_clear_error (&error);
  g_assert_false (rdt_id_is_valid (A_OWNER_TID, RDT_ID_USER));
  g_assert_false (rdt_id_is_valid (A_BLOB_ID, RDT_ID_MESSAGE));
  g_assert_true (rdt_id_is_valid (A_BLOB_ID, RDT_ID_BLOB));
}

static void
test_short_and_convert (void)
{
  g_autofree gchar *sh = rdt_id_short (A_MEMBER_UID);
  g_autofree gchar *sh2 = rdt_id_short ("Uab");
  g_autofree gchar *sh3 = rdt_id_short (NULL);
  g_autofree gchar *u = rdt_id_convert (A_SPACE_ID, RDT_ID_USER);
  g_autofree gchar *t = rdt_id_convert (A_OWNER_UID, RDT_ID_TOOL);
  g_autofree gchar *s = rdt_id_convert (A_OWNER_TID, RDT_ID_SPACE);
  g_autofree gchar *same = rdt_id_convert (A_OWNER_UID, RDT_ID_USER);

  g_assert_cmpstr (sh, ==, "UIE5dw6of");
  g_assert_cmpstr (sh2, ==, "Uab");
  g_assert_cmpstr (sh3, ==, "");
  g_assert_cmpstr (u, ==, A_OWNER_UID);
  g_assert_cmpstr (t, ==, A_OWNER_TID);
  g_assert_cmpstr (s, ==, A_SPACE_ID);
  g_assert_cmpstr (same, ==, A_OWNER_UID);

  g_assert_null (rdt_id_convert (A_MSG1_HASH, RDT_ID_USER));
  g_assert_null (rdt_id_convert (A_BLOB_ID, RDT_ID_SPACE));
  g_assert_null (rdt_id_convert (A_OWNER_UID, RDT_ID_MESSAGE));
  g_assert_null (rdt_id_convert (A_OWNER_UID, RDT_ID_BLOB));
  g_assert_null (rdt_id_convert ("garbage", RDT_ID_USER));
  g_assert_null (rdt_id_convert (NULL, RDT_ID_USER));

  g_assert_cmpstr (rdt_id_type_name (RDT_ID_TOOL), ==, "tool");
  g_assert_cmpstr (rdt_id_type_name ((RdtIdType) 5), ==, "unknown");
}

static void
test_topic_ids (void)
{
  static const gchar *good[] = {
    "general", "ab", "a1", "00", "a-b", "a_b", "my-topic_2", "state",
  };
  static const gchar *bad[] = {
    "", "a", "General", "gEneral", "-ab", "ab-", "_ab", "ab_", "a b",
    "a.b", "a/b", "caf\xc3\xa9", "ab\n", "a\tb",
  };
  gsize i;
  g_autofree gchar *max = g_strnfill (64, 'x');
  g_autofree gchar *over = g_strnfill (65, 'x');

  for (i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (rdt_topic_id_validate (good[i], &error));
      g_assert_no_error (error);
    }
  g_assert_true (rdt_topic_id_validate (max, NULL));

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (rdt_topic_id_validate (bad[i], &error));
      g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
      g_assert_true (g_str_has_prefix (error->message,
                                       "Invalid topic_id format. Must be "
                                       "2-64 characters"));
    }
  g_assert_false (rdt_topic_id_validate (over, NULL));
  g_assert_false (rdt_topic_id_validate (NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/id/encode/appendix-a", test_encode_appendix_a);
  g_test_add_func ("/id/decode/appendix-a", test_decode);
  g_test_add_func ("/id/public-key", test_public_key);
  g_test_add_func ("/id/versions", test_versions);
  g_test_add_func ("/id/invalid", test_invalid);
  g_test_add_func ("/id/wrong-type", test_wrong_type);
  g_test_add_func ("/id/short-and-convert", test_short_and_convert);
  g_test_add_func ("/id/topic", test_topic_ids);

  return g_test_run ();
}
