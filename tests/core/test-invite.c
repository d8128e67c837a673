/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-invite.c - the invitation string (src/core/invite.c, spec 8.4). */
#include <string.h>

#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "invite.h"

#define SPACE_ID "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define USER_ID  "UIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"

/* Wraps arbitrary JSON text the way an invitation would be. */
static gchar *
wrap (const gchar *json)
{
  g_autofree gchar *b = rdt_base64url_encode ((const guint8 *) json, strlen (json));
  return g_strconcat (RDT_INVITE_PREFIX, b, NULL);
}

static void
test_roundtrip (void)
{
  guint8 root[32], seed[32];
  g_autoptr(GError) error = NULL;
  g_autofree gchar *text = NULL, *padded = NULL;
  g_autoptr(RdtInvite) inv = NULL, inv2 = NULL;

  rdt_random_bytes (root, 32);
  rdt_random_bytes (seed, 32);
  text = rdt_invite_encode ("https://chat.example.org:8443/api", SPACE_ID,
                            root, seed, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (text, RDT_INVITE_PREFIX));
  /* one pasteable token: no whitespace anywhere */
  g_assert_null (strpbrk (text, " \t\r\n"));

  inv = rdt_invite_parse (text, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (inv->server_url, ==, "https://chat.example.org:8443/api");
  g_assert_cmpstr (inv->space_id, ==, SPACE_ID);
  g_assert_cmpmem (inv->root, 32, root, 32);
  g_assert_cmpmem (inv->tool_seed, 32, seed, 32);

  /* pasted with surrounding whitespace (mail clients, terminals) */
  padded = g_strdup_printf ("  \n%s\r\n ", text);
  inv2 = rdt_invite_parse (padded, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (inv2->tool_seed, 32, seed, 32);
}

static void
test_encode_rejects (void)
{
  guint8 k[32] = { 0 };
  GError *error = NULL;

  g_assert_null (rdt_invite_encode ("ftp://x.org", SPACE_ID, k, k, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_null (rdt_invite_encode ("http://x.org", USER_ID, k, k, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID);
  g_clear_error (&error);
}

static void
expect_fail (const gchar *text, gint code)
{
  GError *error = NULL;
  RdtInvite *inv = rdt_invite_parse (text, &error);

  if (inv != NULL)
    g_error ("accepted hostile invitation: %s", text);
  g_assert_error (error, RDT_ERROR, code);
  g_assert_nonnull (error->message);
  g_clear_error (&error);
}

static void
test_parse_hostile (void)
{
  guint8 k[32] = { 1 };
  g_autofree gchar *kb = rdt_base64url_encode (k, 32);
  g_autofree gchar *kshort = rdt_base64url_encode (k, 31);
  g_autofree gchar *good = NULL, *huge = NULL;
  gchar *t;
  const gchar *bad_json[] = {
    "[]", "\"x\"", "{}", "null",
    "{\"server\":\"http://a\",\"space\":\"" SPACE_ID "\",\"root\":\"x\"}",
  };

  expect_fail ("", RDT_ERROR_MALFORMED);
  expect_fail ("hello", RDT_ERROR_MALFORMED);
  expect_fail (RDT_INVITE_PREFIX, RDT_ERROR_MALFORMED);
  expect_fail (RDT_INVITE_PREFIX "!!!!", RDT_ERROR_MALFORMED);
  expect_fail ("rdt-invite:2:e30", RDT_ERROR_MALFORMED);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_json); i++)
    {
      t = wrap (bad_json[i]);
      expect_fail (t, RDT_ERROR_MALFORMED);
      g_free (t);
    }

#define OBJ(srv, sp, r, tl) \
  g_strdup_printf ("{\"server\":%s,\"space\":%s,\"root\":%s,\"tool\":%s}", srv, sp, r, tl)
  {
    g_autofree gchar *q = g_strdup_printf ("\"%s\"", kb);
    g_autofree gchar *qs = g_strdup_printf ("\"%s\"", kshort);
    struct { gchar *json; gint code; } cases[] = {
      { OBJ ("\"javascript:alert(1)\"", "\"" SPACE_ID "\"", q, q), RDT_ERROR_MALFORMED },
      { OBJ ("\"http://u:p@h.org\"", "\"" SPACE_ID "\"", q, q), RDT_ERROR_MALFORMED },
      { OBJ ("\"http://h.org/?a=b\"", "\"" SPACE_ID "\"", q, q), RDT_ERROR_MALFORMED },
      { OBJ ("1", "\"" SPACE_ID "\"", q, q), RDT_ERROR_MALFORMED },
      { OBJ ("\"http://h.org\"", "\"" USER_ID "\"", q, q), RDT_ERROR_INVALID_ID },
      { OBJ ("\"http://h.org\"", "\"" SPACE_ID "\"", qs, q), RDT_ERROR_INVALID_KEY },
      { OBJ ("\"http://h.org\"", "\"" SPACE_ID "\"", q, "\"AAAA\""), RDT_ERROR_INVALID_KEY },
      { OBJ ("\"http://h.org\"", "\"" SPACE_ID "\"", q, "null"), RDT_ERROR_MALFORMED },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        t = wrap (cases[i].json);
        expect_fail (t, cases[i].code);
        g_free (t);
        g_free (cases[i].json);
      }

    /* a fifth, unknown field is refused */
    {
      g_autofree gchar *j = g_strdup_printf (
          "{\"server\":\"http://h.org\",\"space\":\"" SPACE_ID "\",\"root\":%s,"
          "\"tool\":%s,\"x\":1}", q, q);
      t = wrap (j);
      expect_fail (t, RDT_ERROR_MALFORMED);
      g_free (t);
    }
    /* the valid object parses (the cases above differ from it in one field) */
    {
      g_autofree gchar *j = OBJ ("\"http://h.org\"", "\"" SPACE_ID "\"", q, q);
      g_autoptr(GError) error = NULL;
      g_autoptr(RdtInvite) inv = NULL;
      good = wrap (j);
      inv = rdt_invite_parse (good, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (inv->root, 32, k, 32);
    }
  }

  /* embedded NUL in the decoded JSON */
  {
    static const guint8 nul[] = "{\"a\":1}\0{}";
    g_autofree gchar *b = rdt_base64url_encode (nul, sizeof nul - 1);
    t = g_strconcat (RDT_INVITE_PREFIX, b, NULL);
    expect_fail (t, RDT_ERROR_MALFORMED);
    g_free (t);
  }

  /* a valid invitation with one character dropped is damaged, not accepted */
  t = g_strndup (good, strlen (good) - 1);
  {
    GError *error = NULL;
    RdtInvite *inv = rdt_invite_parse (t, &error);
    g_assert_null (inv);
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
  g_free (t);

  /* over-long input is refused before decoding */
  huge = g_strnfill (RDT_INVITE_MAX_LENGTH * 4, 'A');
  memcpy (huge, RDT_INVITE_PREFIX, strlen (RDT_INVITE_PREFIX));
  expect_fail (huge, RDT_ERROR_TOO_LARGE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (rdt_crypto_init ());
  g_test_add_func ("/invite/roundtrip", test_roundtrip);
  g_test_add_func ("/invite/encode-rejects", test_encode_rejects);
  g_test_add_func ("/invite/parse-hostile", test_parse_hostile);
  return g_test_run ();
}
