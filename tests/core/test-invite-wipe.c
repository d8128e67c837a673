/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-invite-wipe.c - the invitation parser (src/core/invite.c) leaves no
 * copy of a key in freed memory, on success and on every parse error.
 *
 * This program replaces free() (glibc: the real one is __libc_free) and
 * looks into every block freed while a check runs for the base64url text
 * of a key. json-glib keeps its own copy of each string value, which the
 * parser must wipe before it is freed; json-glib's scanner also frees
 * token copies of its own, out of our reach, so the check is "no more
 * unwiped copies than a bare json-glib parse that wipes its values"
 * (that residue is a known limit: see src/core/invite.c). Under
 * AddressSanitizer, which owns malloc, the checks are skipped. */
#define _GNU_SOURCE
#include <malloc.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "invite.h"

#if defined(__SANITIZE_ADDRESS__)
#define WATCH_FREE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WATCH_FREE 0
#endif
#endif
#if !defined(WATCH_FREE) && defined(__GLIBC__)
#define WATCH_FREE 1
#elif !defined(WATCH_FREE)
#define WATCH_FREE 0
#endif

static gchar needle[64];       /* static: never freed itself */
static gsize needle_len;
static volatile guint hits;

#if WATCH_FREE
extern void __libc_free (void *p);

void
free (void *p)
{
  if (p != NULL && needle_len > 0)
    {
      gsize n = malloc_usable_size (p);

      if (n >= needle_len && memmem (p, n, needle, needle_len) != NULL)
        hits++;
    }
  __libc_free (p);
}
#endif

static const gchar *SERVER = "https://chat.example.org";

typedef struct {
  guint8 root[32], tool[32];
  gchar *space;
  gchar *root64, *tool64;
} Keys;

static void
keys_init (Keys *k)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();

  rdt_random_bytes (k->root, 32);
  rdt_random_bytes (k->tool, 32);
  k->space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  k->root64 = rdt_base64url_encode (k->root, 32);
  k->tool64 = rdt_base64url_encode (k->tool, 32);
}

static void
keys_clear (Keys *k)
{
  g_free (k->space);
  g_free (k->root64);
  g_free (k->tool64);
}

/* rdt-invite:1: + base64url of the given JSON text */
static gchar *
invitation (const gchar *json)
{
  g_autofree gchar *b = rdt_base64url_encode ((const guint8 *) json,
                                              strlen (json));

  return g_strconcat (RDT_INVITE_PREFIX, b, NULL);
}

static void
watch (const gchar *text)
{
  g_assert_cmpuint (strlen (text), <, sizeof needle);
  strcpy (needle, text);
  needle_len = strlen (text);
  hits = 0;
}

static guint
unwatch (void)
{
  needle_len = 0;
  memset (needle, 0, sizeof needle);
  return hits;
}

/* How many copies of `key` json-glib itself frees unwiped while parsing
 * `json`, even when the caller wipes every string value before freeing
 * the parser: its scanner's token buffers, which no API reaches. The
 * invitation parser must not free more than these. */
static guint
json_glib_copies (const gchar *json, const gchar *key)
{
  JsonParser *parser = json_parser_new ();
  JsonNode *root;

  watch (key);
  if (json_parser_load_from_data (parser, json, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL &&
      JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *o = json_node_get_object (root);
      g_autoptr (GList) members = json_object_get_members (o);

      for (GList *l = members; l; l = l->next)
        {
          JsonNode *n = json_object_get_member (o, l->data);

          if (JSON_NODE_HOLDS_VALUE (n) &&
              json_node_get_value_type (n) == G_TYPE_STRING)
            {
              gchar *v = (gchar *) json_node_get_string (n);
              memset (v, 0, strlen (v));
            }
        }
    }
  g_object_unref (parser);
  return unwatch ();
}

/* Parses the invitation for json while watching for `key` in freed
 * memory; returns whether the parse succeeded. */
static gboolean
parse_watching (const gchar *json, const gchar *key, GError **error)
{
  g_autofree gchar *text = invitation (json);
  guint baseline = json_glib_copies (json, key), n;
  RdtInvite *inv;

  watch (key);
  inv = rdt_invite_parse (text, error);
  rdt_invite_free (inv);
  n = unwatch ();
  g_test_message ("%u unwiped copies freed (json-glib's scanner: %u)", n,
                  baseline);
  g_assert_cmpuint (n, <=, baseline);
  return inv != NULL;
}

static void
skip_unless_watching (void)
{
  if (!WATCH_FREE)
    g_test_skip ("free() cannot be watched in this build (sanitizer)");
}

static const gchar four[] =
  "{\"server\":\"%s\",\"space\":\"%s\",\"root\":\"%s\",\"tool\":\"%s\"}";
static const gchar five[] =
  "{\"server\":\"%s\",\"space\":\"%s\",\"root\":\"%s\",\"tool\":\"%s\",\"x\":\"y\"}";

static void
test_success (void)
{
  Keys k;
  g_autofree gchar *text = NULL, *json = NULL;
  g_autoptr (GError) error = NULL;

  skip_unless_watching ();
  if (!WATCH_FREE)
    return;
  keys_init (&k);
  watch (k.tool64);
  text = rdt_invite_encode (SERVER, k.space, k.root, k.tool, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unwatch (), ==, 0);
  json = g_strdup_printf (four, SERVER, k.space, k.root64, k.tool64);
  g_assert_true (parse_watching (json, k.tool64, &error));
  g_assert_no_error (error);
  g_assert_true (parse_watching (json, k.root64, &error));
  g_assert_no_error (error);
  keys_clear (&k);
}

/* Errors after the JSON is parsed: the keys are in the parser's nodes. */
static void
test_errors (void)
{
  Keys k;

  skip_unless_watching ();
  if (!WATCH_FREE)
    return;
  keys_init (&k);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree gchar *json = NULL;
      g_autoptr (GError) error = NULL;

      if (i == 0)        /* an unexpected field */
        json = g_strdup_printf (five, SERVER, k.space, k.root64, k.tool64);
      else if (i == 1)   /* not a space id */
        json = g_strdup_printf (four, SERVER, "Sxyz", k.root64, k.tool64);
      else if (i == 2)   /* not an http(s) URL */
        json = g_strdup_printf (four, "ftp://x", k.space, k.root64, k.tool64);
      else               /* the root decodes, the tool key is too short */
        json = g_strdup_printf (four, SERVER, k.space, k.tool64, "AAAA");
      g_assert_false (parse_watching (json, k.tool64, &error));
      g_assert_nonnull (error);
      g_test_message ("case %u: %s", i, error->message);
      if (i < 3)
        {
          g_clear_error (&error);
          g_assert_false (parse_watching (json, k.root64, &error));
        }
    }
  keys_clear (&k);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rdt_crypto_init ();
  g_test_add_func ("/invite-wipe/success", test_success);
  g_test_add_func ("/invite-wipe/errors", test_errors);
  return g_test_run ();
}
