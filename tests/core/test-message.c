/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-message.c - the Message wire model against spec Appendix A, and
 * strict parsing of hostile input. */
#include <string.h>

#include <json-glib/json-glib.h>

#include "crypto.h"
#include "encoding.h"
#include "error.h"
#include "id.h"
#include "message.h"

#define SPACE   "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define OWNER_U "UIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c"
#define MEMBER  "UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define OWNER_SEED  "0101010101010101010101010101010101010101010101010101010101010101"
#define MEMBER_SEED "0202020202020202020202020202020202020202020202020202020202020202"
#define TOPIC_KEY_GENERAL "8048099e1e74c825626ef3920d96bfda20b358227c4f1b009c52df605d40f46d"

#define MSG1_DATA "AAECAwQFBgcICQoLF5aTK/MyJhzCRZIu4SRr0pK6vzVQdfXjcuw0XA=="
#define MSG1_HASH "MByJymiUz5vS4ehWc_R-dWTHZlPMOk0iJDtY_CeD5pHe"
#define MSG1_RAW  "301c89ca6894cf9bd2e1e85673f47e7564c76653cc3a4d22243b58fc2783e691de"
#define MSG1_SIG  "l3YZStUjYhQukP+/hhDjzkzApHODq+mVFNK3+DhSAmplFVFDN4XEPsTCFQzBlqIAwmevS3B2w8qd7a82ODboAQ=="
#define MSG2_DATA "c2Vjb25k"
#define MSG2_HASH "MP9RDeAr5yR6WZsX0ALOeDAD6_gLl8KRjYYSqcfC80mt"
#define MSG2_SIG  "huduiuS7xhSNP74+y56rX6tclid103bKstgGbwsPaSCwxvRsrnR5ZKBLV0v4vQhfdsdujVd/STdr/fuylSymAw=="
#define STATE_PATH "auth/users/UIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
#define STATE_DATA "eyJ1c2VyX2lkIjogIlVJRTVkdzZvZlJkZlZxTlVac05NZnN6TGpZcVJ0TzQzb2wzMkQxdVB5Yk9VIn0="
#define STATE_HASH "MEoLCDUkndB61rUP0xaHHZ0gWTUiWbH9QAedJr8CYb-B"
#define STATE_SIG  "sEQD+DS2zdxBescWRXAPwOlLzhbc3sDb+J3VD+out6/v/0urQQycWB1VLanVXxX3lxKbJYKErqHnaDijV9y6CQ=="

static RdtSigningKey *
key_from_hex (const gchar *hex)
{
  guint8 seed[32];

  g_assert_true (rdt_hex_decode (hex, seed, sizeof seed, NULL));
  return rdt_signing_key_new_from_seed (seed);
}

/* msg1 as the server would send it, as a mutable JSON object. */
static JsonObject *
msg1_object (void)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "message_hash", MSG1_HASH);
  json_object_set_string_member (o, "topic_id", "general");
  json_object_set_string_member (o, "type", "chat.text");
  json_object_set_null_member (o, "prev_hash");
  json_object_set_string_member (o, "data", MSG1_DATA);
  json_object_set_string_member (o, "sender", MEMBER);
  json_object_set_string_member (o, "signature", MSG1_SIG);
  json_object_set_int_member (o, "server_timestamp", 1700000000000);
  return o;
}

static gchar *
object_to_string (JsonObject *o)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_node_set_object (node, o);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

static gchar *
msg1_json (void)
{
  JsonObject *o = msg1_object ();
  gchar *s = object_to_string (o);

  json_object_unref (o);
  return s;
}

static void
assert_msg1 (const RdtMessage *m)
{
  g_assert_cmpstr (m->message_hash, ==, MSG1_HASH);
  g_assert_cmpstr (m->topic_id, ==, "general");
  g_assert_cmpstr (m->type, ==, "chat.text");
  g_assert_null (m->prev_hash);
  g_assert_cmpstr (m->data, ==, MSG1_DATA);
  g_assert_cmpstr (m->sender, ==, MEMBER);
  g_assert_cmpstr (m->signature, ==, MSG1_SIG);
  g_assert_cmpint (m->server_timestamp, ==, 1700000000000);
}

/* ---- Appendix A ---- */

static void
test_msg1_vector (void)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  g_autofree gchar *raw_hex = NULL;
  g_autofree gchar *hash = NULL;
  g_autofree gchar *json = msg1_json ();
  g_autoptr(RdtMessage) parsed = NULL;
  g_autoptr(RdtMessage) signed_msg = NULL;
  g_autoptr(RdtSigningKey) member = key_from_hex (MEMBER_SEED);
  g_autoptr(GError) error = NULL;

  rdt_message_compute_id (SPACE, "general", "chat.text", NULL, MSG1_DATA,
                          MEMBER, raw);
  raw_hex = rdt_hex_encode (raw, sizeof raw);
  g_assert_cmpstr (raw_hex, ==, MSG1_RAW);
  hash = rdt_message_compute_hash (SPACE, "general", "chat.text", NULL,
                                   MSG1_DATA, MEMBER);
  g_assert_cmpstr (hash, ==, MSG1_HASH);
  /* "" hashes as "null" too. */
  g_free (hash);
  hash = rdt_message_compute_hash (SPACE, "general", "chat.text", "",
                                   MSG1_DATA, MEMBER);
  g_assert_cmpstr (hash, ==, MSG1_HASH);

  parsed = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  assert_msg1 (parsed);
  g_assert_true (rdt_message_verify (parsed, SPACE, "general", &error));
  g_assert_no_error (error);

  /* Deterministic Ed25519: signing again gives the vector byte for byte. */
  signed_msg = rdt_message_new_signed (SPACE, "general", "chat.text", NULL,
                                       MSG1_DATA, MEMBER, member);
  g_assert_cmpstr (signed_msg->message_hash, ==, MSG1_HASH);
  g_assert_cmpstr (signed_msg->signature, ==, MSG1_SIG);
  g_assert_null (signed_msg->prev_hash);
  g_assert_cmpint (signed_msg->server_timestamp, ==, -1);
}

static void
test_msg2_vector (void)
{
  g_autoptr(RdtSigningKey) member = key_from_hex (MEMBER_SEED);
  g_autoptr(RdtMessage) m = NULL;
  g_autoptr(RdtMessage) parsed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *json = NULL;
  JsonObject *o;

  m = rdt_message_new_signed (SPACE, "general", "chat.text", MSG1_HASH,
                              MSG2_DATA, MEMBER, member);
  g_assert_cmpstr (m->message_hash, ==, MSG2_HASH);
  g_assert_cmpstr (m->signature, ==, MSG2_SIG);

  o = msg1_object ();
  json_object_set_string_member (o, "message_hash", MSG2_HASH);
  json_object_set_string_member (o, "prev_hash", MSG1_HASH);
  json_object_set_string_member (o, "data", MSG2_DATA);
  json_object_set_string_member (o, "signature", MSG2_SIG);
  json = object_to_string (o);
  json_object_unref (o);
  parsed = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (parsed->prev_hash, ==, MSG1_HASH);
  g_assert_true (rdt_message_verify (parsed, SPACE, "general", &error));
  g_assert_no_error (error);
}

static void
test_state_vector (void)
{
  g_autoptr(RdtSigningKey) owner = key_from_hex (OWNER_SEED);
  g_autoptr(RdtMessage) m = NULL;
  g_autoptr(RdtMessage) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *json = NULL;
  g_autofree gchar *owner_id = rdt_signing_key_get_id (owner, RDT_ID_USER);

  g_assert_cmpstr (owner_id, ==, OWNER_U);
  m = rdt_message_new_signed (SPACE, "state", STATE_PATH, NULL, STATE_DATA,
                              OWNER_U, owner);
  g_assert_cmpstr (m->message_hash, ==, STATE_HASH);
  g_assert_cmpstr (m->signature, ==, STATE_SIG);
  m->server_timestamp = 5;

  json = rdt_message_to_json_string (m);
  back = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->type, ==, STATE_PATH);
  g_assert_true (rdt_message_verify (back, SPACE, "state", &error));
  g_assert_no_error (error);
}

/* The owner may authenticate with the S id itself (spec 6.2). */
static void
test_space_sender (void)
{
  g_autoptr(RdtSigningKey) owner = key_from_hex (OWNER_SEED);
  g_autoptr(RdtMessage) m = NULL;
  g_autoptr(RdtMessage) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *json = NULL;

  m = rdt_message_new_signed (SPACE, "general", "chat.text", NULL, "", SPACE,
                              owner);
  m->server_timestamp = 0;
  json = rdt_message_to_json_string (m);
  back = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->data, ==, "");
  g_assert_cmpint (back->server_timestamp, ==, 0);
  g_assert_true (rdt_message_verify (back, SPACE, "general", &error));
  g_assert_no_error (error);
}

/* Tools sign with their T id. */
static void
test_tool_sender (void)
{
  g_autoptr(RdtSigningKey) member = key_from_hex (MEMBER_SEED);
  g_autofree gchar *tool = rdt_signing_key_get_id (member, RDT_ID_TOOL);
  g_autoptr(RdtMessage) m = NULL;
  g_autoptr(RdtMessage) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *json = NULL;

  m = rdt_message_new_signed (SPACE, "general", "event.join", MSG1_HASH,
                              MSG2_DATA, tool, member);
  m->server_timestamp = 7;
  json = rdt_message_to_json_string (m);
  back = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->sender, ==, tool);
  g_assert_cmpstr (back->prev_hash, ==, MSG1_HASH);
  g_assert_true (rdt_message_verify (back, SPACE, "general", &error));
  g_assert_no_error (error);
}

/* Every single-byte corruption of a valid message either parses (into
 * something that then fails or passes verification) or fails with a
 * GError; never a crash, never a half-filled message. */
static void
test_corruptions (void)
{
  g_autofree gchar *json = msg1_json ();
  static const gchar subst[] = { '"', '{', '}', '[', ']', ',', ':', '\\', '0',
                                 'A', '-', '=', ' ', (gchar) 0xff, (gchar) 0xc3 };
  gsize len = strlen (json);
  gsize i, j;
  guint parsed = 0, failed = 0;

  for (i = 0; i < len; i++)
    for (j = 0; j < G_N_ELEMENTS (subst); j++)
      {
        g_autofree gchar *copy = g_strdup (json);
        g_autoptr(GError) error = NULL;
        g_autoptr(RdtMessage) m = NULL;

        if (copy[i] == subst[j])
          continue;
        copy[i] = subst[j];
        m = rdt_message_parse (copy, len, &error);
        if (m != NULL)
          {
            g_assert_no_error (error);
            g_assert_nonnull (m->message_hash);
            g_assert_nonnull (m->signature);
            g_assert_nonnull (m->data);
            g_assert_nonnull (m->sender);
            parsed++;
          }
        else
          {
            g_assert_nonnull (error);
            g_assert_true (error->domain == RDT_ERROR);
            failed++;
          }
      }
  g_assert_cmpuint (failed, >, 0);
  g_test_message ("%u corruptions parsed, %u refused", parsed, failed);
}

/* ---- serialisation ---- */

static void
test_serialise (void)
{
  g_autoptr(RdtSigningKey) member = key_from_hex (MEMBER_SEED);
  g_autoptr(RdtMessage) m = NULL;
  g_autoptr(RdtMessage) m2 = NULL;
  g_autoptr(RdtMessage) copy = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree gchar *json = NULL;
  g_autofree gchar *body = NULL;
  g_autofree gchar *body2 = NULL;
  static const gchar *order[] = { "message_hash", "topic_id", "type",
    "prev_hash", "data", "sender", "signature", "server_timestamp" };
  const gchar *p;
  gsize i;

  m = rdt_message_new_signed (SPACE, "general", "chat.text", NULL, MSG1_DATA,
                              MEMBER, member);
  m->server_timestamp = 1700000000000;
  json = rdt_message_to_json_string (m);
  /* all eight keys, in order, prev_hash as JSON null */
  p = json;
  for (i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_autofree gchar *key = g_strdup_printf ("\"%s\"", order[i]);
      const gchar *at = strstr (p, key);

      g_assert_nonnull (at);
      p = at + strlen (key);
    }
  g_assert_nonnull (strstr (json, "\"prev_hash\":null"));

  node = rdt_message_to_json (m);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  g_assert_cmpuint (json_object_get_size (json_node_get_object (node)), ==, 8);

  body = rdt_message_to_post_body (m);
  g_assert_cmpstr (body, ==,
                   "{\"type\":\"chat.text\",\"prev_hash\":null,\"data\":\""
                   MSG1_DATA "\",\"message_hash\":\"" MSG1_HASH
                   "\",\"signature\":\"" MSG1_SIG "\"}");

  m2 = rdt_message_new_signed (SPACE, "general", "chat.text", MSG1_HASH,
                               MSG2_DATA, MEMBER, member);
  body2 = rdt_message_to_post_body (m2);
  g_assert_nonnull (strstr (body2, "\"prev_hash\":\"" MSG1_HASH "\""));

  /* an empty message serialises (nulls), it does not crash */
  {
    g_autoptr(RdtMessage) empty = rdt_message_new ();
    g_autofree gchar *ej = rdt_message_to_json_string (empty);
    g_autoptr(GError) e = NULL;

    g_assert_nonnull (strstr (ej, "\"data\":null"));
    g_assert_nonnull (strstr (ej, "\"server_timestamp\":-1"));
    g_assert_null (rdt_message_parse (ej, -1, &e));
    g_assert_error (e, RDT_ERROR, RDT_ERROR_MALFORMED);
  }

  copy = rdt_message_copy (m);
  g_assert_true (copy != m);
  g_assert_cmpstr (copy->signature, ==, m->signature);
  g_assert_cmpint (copy->server_timestamp, ==, m->server_timestamp);
  g_assert_true (rdt_message_ref (copy) == copy);
  rdt_message_unref (copy);
}

/* ---- strict parsing, negative cases ---- */

static void
expect_parse_error (const gchar *json, gint code, const gchar *needle)
{
  g_autoptr(GError) error = NULL;
  RdtMessage *m = rdt_message_parse (json, -1, &error);

  g_assert_null (m);
  g_assert_error (error, RDT_ERROR, code);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    g_error ("error '%s' does not mention '%s'", error->message, needle);
}

static const gchar *fields[] = { "message_hash", "topic_id", "type",
  "prev_hash", "data", "sender", "signature", "server_timestamp" };

static void
test_missing_fields (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonObject *o = msg1_object ();
      g_autofree gchar *json = NULL;
      g_autofree gchar *needle = g_strdup_printf ("'%s' is missing", fields[i]);

      json_object_remove_member (o, fields[i]);
      json = object_to_string (o);
      json_object_unref (o);
      expect_parse_error (json, RDT_ERROR_MALFORMED, needle);
    }
}

typedef enum { V_NULL, V_INT, V_DOUBLE, V_BOOL, V_ARRAY, V_OBJECT, V_STRING } VKind;

static void
set_kind (JsonObject *o, const gchar *field, VKind kind)
{
  switch (kind)
    {
    case V_NULL:
      json_object_set_null_member (o, field);
      break;
    case V_INT:
      json_object_set_int_member (o, field, 42);
      break;
    case V_DOUBLE:
      json_object_set_double_member (o, field, 1.5);
      break;
    case V_BOOL:
      json_object_set_boolean_member (o, field, TRUE);
      break;
    case V_ARRAY:
      json_object_set_array_member (o, field, json_array_new ());
      break;
    case V_OBJECT:
      json_object_set_object_member (o, field, json_object_new ());
      break;
    case V_STRING:
      json_object_set_string_member (o, field, "1700000000000");
      break;
    }
}

static void
test_wrong_types (void)
{
  gsize i;
  VKind k;

  for (i = 0; i < G_N_ELEMENTS (fields); i++)
    for (k = V_NULL; k <= V_STRING; k++)
      {
        gboolean is_ts = strcmp (fields[i], "server_timestamp") == 0;
        JsonObject *o;
        g_autofree gchar *json = NULL;
        g_autofree gchar *needle = NULL;

        /* The right types: strings everywhere, null for prev_hash, an
         * integer for server_timestamp. */
        if (k == V_STRING && !is_ts)
          continue;
        if (k == V_NULL && strcmp (fields[i], "prev_hash") == 0)
          continue;
        if (k == V_INT && is_ts)
          continue;

        o = msg1_object ();
        set_kind (o, fields[i], k);
        json = object_to_string (o);
        json_object_unref (o);
        needle = g_strdup_printf ("message field '%s'", fields[i]);
        expect_parse_error (json, RDT_ERROR_MALFORMED, needle);
      }
}

static void
expect_field_error (const gchar *field, const gchar *value, gint code,
                    const gchar *needle)
{
  JsonObject *o = msg1_object ();
  g_autofree gchar *json = NULL;
  g_autofree gchar *prefix = g_strdup_printf ("message field '%s'", field);

  json_object_set_string_member (o, field, value);
  json = object_to_string (o);
  json_object_unref (o);
  expect_parse_error (json, code, needle ? needle : prefix);
}

static void
test_bad_values (void)
{
  g_autofree gchar *big = NULL;
  g_autofree gchar *json = NULL;
  g_autoptr(RdtMessage) ok = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *o;

  /* A signature beyond any plausible spelling is refused at parse time;
   * every other data or signature string is what a member could have
   * posted and is checked per message (test_member_spellings). */
  big = g_strnfill (RDT_MAX_SIGNATURE_CHARS + 1, 'A');
  expect_field_error ("signature", big, RDT_ERROR_TOO_LARGE, NULL);
  g_clear_pointer (&big, g_free);

  /* ids */
  expect_field_error ("message_hash", MEMBER, RDT_ERROR_INVALID_ID, NULL);
  expect_field_error ("message_hash", "MByJymiUz5vS4ehWc", RDT_ERROR_INVALID_ID,
                      NULL);
  expect_field_error ("message_hash",
                      "MByJymiUz5vS4ehWc/R+dWTHZlPMOk0iJDtY/CeD5pHe",
                      RDT_ERROR_INVALID_ID, NULL);
  expect_field_error ("prev_hash", "", RDT_ERROR_INVALID_ID, NULL);
  expect_field_error ("prev_hash", SPACE, RDT_ERROR_INVALID_ID, NULL);
  expect_field_error ("sender", MSG1_HASH, RDT_ERROR_INVALID_ID, NULL);
  expect_field_error ("sender", "BMXcVTVwqYKk519vx8m4tXel5zx1ayp6yBoo8vKQ86U4",
                      RDT_ERROR_INVALID_ID, NULL);
  expect_field_error ("sender", "U", RDT_ERROR_INVALID_ID, NULL);

  /* data size: exactly at the limit parses, one block more does not */
  big = g_strnfill (RDT_MAX_DATA_CHARS, 'A');
  o = msg1_object ();
  json_object_set_string_member (o, "data", big);
  json = object_to_string (o);
  json_object_unref (o);
  ok = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (ok->data), ==, RDT_MAX_DATA_CHARS);
  g_free (big);
  big = g_strnfill (RDT_MAX_DATA_CHARS + 4, 'A');
  expect_field_error ("data", big, RDT_ERROR_TOO_LARGE, NULL);

  /* timestamps */
  o = msg1_object ();
  json_object_set_int_member (o, "server_timestamp", -1);
  g_free (json);
  json = object_to_string (o);
  json_object_unref (o);
  expect_parse_error (json, RDT_ERROR_MALFORMED, "server_timestamp");
  o = msg1_object ();
  json_object_set_int_member (o, "server_timestamp",
                              G_GINT64_CONSTANT (9007199254740992));
  g_free (json);
  json = object_to_string (o);
  json_object_unref (o);
  expect_parse_error (json, RDT_ERROR_MALFORMED, "server_timestamp");
  expect_parse_error ("{\"message_hash\":\"" MSG1_HASH "\",\"topic_id\":"
                      "\"general\",\"type\":\"chat.text\",\"prev_hash\":null,"
                      "\"data\":\"" MSG1_DATA "\",\"sender\":\"" MEMBER "\","
                      "\"signature\":\"" MSG1_SIG "\",\"server_timestamp\":1.0}",
                      RDT_ERROR_MALFORMED, "server_timestamp");
}

static void
test_unknown_fields_ignored (void)
{
  JsonObject *o = msg1_object ();
  g_autofree gchar *json = NULL;
  g_autoptr(RdtMessage) m = NULL;
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (o, "extra", "x");
  json_object_set_object_member (o, "nested", json_object_new ());
  json = object_to_string (o);
  json_object_unref (o);
  m = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  assert_msg1 (m);
}

static void
test_not_json (void)
{
  g_autofree gchar *json = msg1_json ();
  g_autofree gchar *deep = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(RdtMessage) m = NULL;
  GString *s;
  guint i;

  expect_parse_error ("", RDT_ERROR_MALFORMED, NULL);
  expect_parse_error ("hello", RDT_ERROR_MALFORMED, NULL);
  expect_parse_error ("[]", RDT_ERROR_MALFORMED, "object");
  expect_parse_error ("\"str\"", RDT_ERROR_MALFORMED, "object");
  expect_parse_error ("null", RDT_ERROR_MALFORMED, NULL);
  expect_parse_error ("42", RDT_ERROR_MALFORMED, NULL);
  expect_parse_error ("{\"message_hash\": \"\xff\xfe\"}", RDT_ERROR_MALFORMED,
                      "UTF-8");

  /* an array holding a valid message is still not a message */
  s = g_string_new ("[");
  g_string_append (s, json);
  g_string_append (s, "]");
  expect_parse_error (s->str, RDT_ERROR_MALFORMED, "object");
  g_string_free (s, TRUE);

  /* every truncation of a valid message fails cleanly */
  for (i = 0; i < strlen (json); i += 7)
    {
      g_autoptr(GError) e = NULL;
      RdtMessage *t = rdt_message_parse (json, i, &e);

      g_assert_null (t);
      g_assert_error (e, RDT_ERROR, RDT_ERROR_MALFORMED);
    }
  /* the explicit length is honoured */
  m = rdt_message_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  assert_msg1 (m);

  /* an embedded NUL is not JSON */
  expect_parse_error (NULL, RDT_ERROR_MALFORMED, NULL);
  {
    g_autoptr(GError) e = NULL;
    gchar withnul[] = "{\"a\":\0\"b\"}";
    g_assert_null (rdt_message_parse (withnul, sizeof withnul - 1, &e));
    g_assert_error (e, RDT_ERROR, RDT_ERROR_MALFORMED);
  }

  /* absurd nesting is refused before json-glib recurses into it */
  s = g_string_new (NULL);
  for (i = 0; i < 100000; i++)
    g_string_append_c (s, '[');
  deep = g_string_free (s, FALSE);
  expect_parse_error (deep, RDT_ERROR_MALFORMED, "nested");
  /* brackets inside strings do not count */
  {
    JsonObject *o = msg1_object ();
    g_autofree gchar *brackets = g_strnfill (200, '[');
    g_autofree gchar *j = NULL;
    g_autoptr(RdtMessage) okm = NULL;
    g_autoptr(GError) e = NULL;

    json_object_set_string_member (o, "type", brackets);
    j = object_to_string (o);
    json_object_unref (o);
    okm = rdt_message_parse (j, -1, &e);
    g_assert_no_error (e);
    g_assert_cmpstr (okm->type, ==, brackets);
  }
}

static void
test_from_json_node (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) arr = json_node_new (JSON_NODE_ARRAY);
  g_autoptr(JsonNode) obj = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(RdtMessage) m = NULL;
  JsonObject *o = msg1_object ();

  json_node_take_array (arr, json_array_new ());
  g_assert_null (rdt_message_new_from_json (arr, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_null (rdt_message_new_from_json (NULL, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_MALFORMED);
  g_clear_error (&error);

  json_node_take_object (obj, o);
  m = rdt_message_new_from_json (obj, &error);
  g_assert_no_error (error);
  assert_msg1 (m);
}

/* ---- list answers ---- */

static void
test_list_parse (void)
{
  g_autofree gchar *m1 = msg1_json ();
  g_autofree gchar *json = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_more = FALSE;
  GString *s;
  guint i;

  json = g_strdup_printf ("{\"messages\":[%s,%s],\"has_more\":true,\"x\":1}",
                          m1, m1);
  list = rdt_message_list_parse (json, -1, &has_more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_true (has_more);
  assert_msg1 (list->pdata[1]);
  g_clear_pointer (&list, g_ptr_array_unref);

  list = rdt_message_list_parse ("{\"messages\":[],\"has_more\":false}", -1,
                                 &has_more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_false (has_more);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* has_more_out may be NULL */
  list = rdt_message_list_parse ("{\"messages\":[],\"has_more\":true}", -1,
                                 NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&list, g_ptr_array_unref);

  {
    static const gchar *bad[] = {
      "{\"messages\":[]}",
      "{\"has_more\":false}",
      "{\"messages\":{},\"has_more\":false}",
      "{\"messages\":[],\"has_more\":\"no\"}",
      "{\"messages\":[],\"has_more\":0}",
      "{\"messages\":[1],\"has_more\":false}",
      "{\"messages\":[null],\"has_more\":false}",
      "{\"messages\":null,\"has_more\":false}",
      "[]",
      "{\"messages\":[",
      "",
    };
    for (i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GError) e = NULL;

        g_assert_null (rdt_message_list_parse (bad[i], -1, NULL, &e));
        g_assert_error (e, RDT_ERROR, RDT_ERROR_MALFORMED);
      }
  }

  /* one bad element fails the whole answer, naming the element */
  {
    JsonObject *o = msg1_object ();
    g_autofree gchar *badm = NULL;
    g_autofree gchar *j = NULL;
    g_autoptr(GError) e = NULL;

    json_object_remove_member (o, "signature");
    badm = object_to_string (o);
    json_object_unref (o);
    j = g_strdup_printf ("{\"messages\":[%s,%s],\"has_more\":false}", m1, badm);
    g_assert_null (rdt_message_list_parse (j, -1, NULL, &e));
    g_assert_error (e, RDT_ERROR, RDT_ERROR_MALFORMED);
    g_assert_nonnull (strstr (e->message, "element 1"));
    g_assert_nonnull (strstr (e->message, "'signature'"));
  }

  /* more messages than any page may hold */
  s = g_string_new ("{\"has_more\":false,\"messages\":[");
  for (i = 0; i <= RDT_MAX_PAGE_MESSAGES; i++)
    g_string_append (s, i ? ",{}" : "{}");
  g_string_append (s, "]}");
  {
    g_autoptr(GError) e = NULL;

    g_assert_null (rdt_message_list_parse (s->str, s->len, NULL, &e));
    g_assert_error (e, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  }
  g_string_free (s, TRUE);
}

/* ---- verification failures ---- */

static RdtMessage *
msg1 (void)
{
  g_autofree gchar *json = msg1_json ();
  RdtMessage *m = rdt_message_parse (json, -1, NULL);

  g_assert_nonnull (m);
  return m;
}

static void
expect_verify_error (RdtMessage *m, const gchar *space, const gchar *topic,
                     gint code)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (rdt_message_verify (m, space, topic, &error));
  g_assert_error (error, RDT_ERROR, code);
  rdt_message_unref (m);
}

static void
test_verify_failures (void)
{
  g_autoptr(RdtSigningKey) owner = key_from_hex (OWNER_SEED);
  RdtMessage *m;
  guint8 sig[64];
  g_autofree guint8 *raw = NULL;

  /* tampered data */
  m = msg1 ();
  g_free (m->data);
  m->data = g_strdup (MSG2_DATA);
  expect_verify_error (m, SPACE, "general", RDT_ERROR_HASH_MISMATCH);

  /* wrong topic: asked for another topic than the message's */
  expect_verify_error (msg1 (), SPACE, "random", RDT_ERROR_HASH_MISMATCH);
  /* ... and the server relabelling topic_id to match does not help */
  m = msg1 ();
  g_free (m->topic_id);
  m->topic_id = g_strdup ("random");
  expect_verify_error (m, SPACE, "random", RDT_ERROR_HASH_MISMATCH);

  /* wrong space */
  expect_verify_error (msg1 (), "SIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU",
                       "general", RDT_ERROR_HASH_MISMATCH);

  /* flipped signature byte */
  m = msg1 ();
  raw = rdt_base64_decode (m->signature, 64, NULL, NULL);
  memcpy (sig, raw, 64);
  sig[10] ^= 0x01;
  g_free (m->signature);
  m->signature = rdt_base64_encode (sig, 64);
  expect_verify_error (m, SPACE, "general", RDT_ERROR_BAD_SIGNATURE);

  /* sender swapped for another valid U id */
  m = msg1 ();
  g_free (m->sender);
  m->sender = g_strdup (OWNER_U);
  expect_verify_error (m, SPACE, "general", RDT_ERROR_HASH_MISMATCH);

  /* ... with the hash recomputed (as a forging server could): the member's
   * signature does not verify under the owner's key */
  m = msg1 ();
  g_free (m->sender);
  m->sender = g_strdup (OWNER_U);
  g_free (m->message_hash);
  m->message_hash = rdt_message_compute_hash (SPACE, "general", "chat.text",
                                              NULL, MSG1_DATA, OWNER_U);
  expect_verify_error (m, SPACE, "general", RDT_ERROR_BAD_SIGNATURE);

  /* prev_hash altered */
  m = msg1 ();
  m->prev_hash = g_strdup (MSG2_HASH);
  expect_verify_error (m, SPACE, "general", RDT_ERROR_HASH_MISMATCH);

  /* type altered */
  m = msg1 ();
  g_free (m->type);
  m->type = g_strdup ("chat.image");
  expect_verify_error (m, SPACE, "general", RDT_ERROR_HASH_MISMATCH);

  /* a valid signature by the wrong key over the right bytes */
  m = msg1 ();
  {
    guint8 id[RDT_ID_RAW_LENGTH];

    rdt_message_compute_id (SPACE, "general", "chat.text", NULL, MSG1_DATA,
                            MEMBER, id);
    rdt_signing_key_sign (owner, id, sizeof id, sig);
    g_free (m->signature);
    m->signature = rdt_base64_encode (sig, 64);
  }
  expect_verify_error (m, SPACE, "general", RDT_ERROR_BAD_SIGNATURE);

  /* a signature that is not base64 of 64 bytes (built by hand) */
  m = msg1 ();
  g_free (m->signature);
  m->signature = g_strdup ("AAAA");
  expect_verify_error (m, SPACE, "general", RDT_ERROR_BAD_SIGNATURE);

  /* incomplete message */
  m = msg1 ();
  g_clear_pointer (&m->sender, g_free);
  expect_verify_error (m, SPACE, "general", RDT_ERROR_MALFORMED);
}

/* ---- payloads ---- */

static void
test_payload (void)
{
  guint8 key[32];
  g_autoptr(GBytes) pt = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *data = NULL;
  g_autofree guint8 *big = NULL;
  gchar *tampered;
  gsize len = 0;
  const gchar *p;

  g_assert_true (rdt_hex_decode (TOPIC_KEY_GENERAL, key, 32, NULL));

  pt = rdt_payload_decrypt (key, MSG1_DATA, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (pt, &len);
  g_assert_cmpmem (p, len, "hello, world", 12);
  g_clear_pointer (&pt, g_bytes_unref);

  data = rdt_payload_encrypt (key, (const guint8 *) "hi there", 8);
  g_assert_nonnull (data);
  g_assert_cmpuint (strlen (data), ==, 4 * ((8 + 28 + 2) / 3));
  pt = rdt_payload_decrypt (key, data, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (pt, &len);
  g_assert_cmpmem (p, len, "hi there", 8);
  g_clear_pointer (&pt, g_bytes_unref);

  /* empty plaintext round-trips */
  g_free (data);
  data = rdt_payload_encrypt (key, NULL, 0);
  pt = rdt_payload_decrypt (key, data, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (pt), ==, 0);
  g_clear_pointer (&pt, g_bytes_unref);

  /* the largest plaintext fits the data limit exactly; one more byte is
   * refused */
  big = g_malloc0 (RDT_MAX_PLAINTEXT + 1);
  g_free (data);
  data = rdt_payload_encrypt (key, big, RDT_MAX_PLAINTEXT);
  g_assert_nonnull (data);
  g_assert_cmpuint (strlen (data), <=, RDT_MAX_DATA_CHARS);
  g_assert_null (rdt_payload_encrypt (key, big, RDT_MAX_PLAINTEXT + 1));

  /* negative */
  g_assert_null (rdt_payload_decrypt (key, "c2Vjb25", &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_clear_error (&error);
  g_assert_null (rdt_payload_decrypt (key, MSG2_DATA, &error)); /* too short */
  g_assert_error (error, RDT_ERROR, RDT_ERROR_DECRYPT);
  g_clear_error (&error);
  tampered = g_strdup (MSG1_DATA);
  tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
  g_assert_null (rdt_payload_decrypt (key, tampered, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_DECRYPT);
  g_clear_error (&error);
  g_free (tampered);
  key[0] ^= 1;
  g_assert_null (rdt_payload_decrypt (key, MSG1_DATA, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_DECRYPT);
  g_clear_error (&error);
  {
    g_autofree gchar *huge = g_strnfill (RDT_MAX_DATA_CHARS + 4, 'A');

    g_assert_null (rdt_payload_decrypt (key, huge, &error));
    g_assert_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE);
  }
}

/* msg1's JSON with the signature (and data) spelled as given. */
static RdtMessage *
msg1_spelled (const gchar *field, const gchar *value)
{
  JsonObject *o = msg1_object ();
  g_autofree gchar *json = NULL;
  g_autoptr(GError) error = NULL;
  RdtMessage *m;

  json_object_set_string_member (o, field, value);
  json = object_to_string (o);
  json_object_unref (o);
  m = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  return m;
}

static void
expect_verified (RdtMessage *m)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (rdt_message_verify (m, SPACE, "general", &error));
  g_assert_no_error (error);
  rdt_message_unref (m);
}

/* What a member can post and the real server stores as sent: any data
 * string (never decoded by the server) and any spelling of the signature
 * that Python's lenient decoder turns into the right 64 bytes. Each such
 * message parses (a page holding one stays readable) and is judged on
 * its own: verified if the bytes are right, one failed message if not. */
static void
test_member_spellings (void)
{
  g_autoptr(RdtSigningKey) member = key_from_hex (MEMBER_SEED);
  guint8 key[32], zero[65] = { 0 };
  g_autofree gchar *sig63 = rdt_base64_encode (zero, 63);
  g_autofree gchar *urlsafe = g_strdup (MSG1_SIG);
  g_autofree gchar *spaced = NULL, *tail = NULL, *padless = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autofree gchar *page = NULL;
  RdtMessage *m;
  gboolean has_more;

  /* the signature with junk the server drops, or data after the padding
   * that ends its decoding: the same 64 bytes, verified */
  spaced = g_strdup_printf ("%.20s !*\n%s", MSG1_SIG, MSG1_SIG + 20);
  expect_verified (msg1_spelled ("signature", spaced));
  tail = g_strconcat (MSG1_SIG, "AAAA", NULL);
  expect_verified (msg1_spelled ("signature", tail));
  /* without its padding Python fails ("Incorrect padding"): not verified */
  padless = g_strndup (MSG1_SIG, strlen (MSG1_SIG) - 2);
  expect_verify_error (msg1_spelled ("signature", padless), SPACE, "general",
                       RDT_ERROR_BAD_SIGNATURE);
  /* URL-safe: Python drops '-' and '_', the bytes are wrong (spec 0) */
  g_strdelimit (urlsafe, "+", '-');
  g_strdelimit (urlsafe, "/", '_');
  expect_verify_error (msg1_spelled ("signature", urlsafe), SPACE, "general",
                       RDT_ERROR_BAD_SIGNATURE);
  expect_verify_error (msg1_spelled ("signature", sig63), SPACE, "general",
                       RDT_ERROR_BAD_SIGNATURE);
  expect_verify_error (msg1_spelled ("signature", "not base64!"), SPACE,
                       "general", RDT_ERROR_BAD_SIGNATURE);
  expect_verify_error (msg1_spelled ("signature", ""), SPACE, "general",
                       RDT_ERROR_BAD_SIGNATURE);
  expect_verify_error (msg1_spelled ("signature", "l3YZStUj\u00e9"), SPACE,
                       "general", RDT_ERROR_BAD_SIGNATURE);

  /* data that is not base64, signed by its member: verified, and only its
   * decryption fails */
  m = rdt_message_new_signed (SPACE, "general", "chat.text", NULL,
                              "not base64 at all \u00e9", MEMBER, member);
  g_assert_nonnull (m);
  g_assert_true (rdt_message_verify (m, SPACE, "general", &error));
  g_assert_no_error (error);
  g_assert_true (rdt_hex_decode (TOPIC_KEY_GENERAL, key, 32, NULL));
  g_assert_null (rdt_payload_decrypt (key, m->data, &error));
  g_assert_error (error, RDT_ERROR, RDT_ERROR_BAD_BASE64);
  g_clear_error (&error);

  /* ... and a page holding it next to a normal message parses whole */
  m->server_timestamp = 1700000000001;
  {
    g_autofree gchar *odd = rdt_message_to_json_string (m);
    g_autofree gchar *normal = msg1_json ();

    page = g_strdup_printf ("{\"messages\":[%s,%s],\"has_more\":false}",
                            normal, odd);
  }
  rdt_message_unref (m);
  list = rdt_message_list_parse (page, -1, &has_more, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((RdtMessage *) list->pdata[1])->data, ==,
                   "not base64 at all \u00e9");
}

/* A large list page has its signatures checked while it is parsed (on the
 * other cores). What is sealed then must verify exactly as before: a
 * forged signature fails, a lenient spelling passes, and a message changed
 * after parsing is verified again from scratch. */
static void
test_list_checked_ahead (void)
{
  g_autoptr(RdtSigningKey) key = key_from_hex (MEMBER_SEED);
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *json = NULL;
  g_autofree gchar *orig = NULL;
  const gchar *prev = NULL;
  RdtMessage *m;
  guint i, sealed = 0;

  for (i = 0; i < 200; i++)
    {
      g_autofree gchar *data = g_strdup_printf ("bWVzc2FnZSAl%04u", i);

      m = rdt_message_new_signed (SPACE, "general", "chat.text", prev, data,
                                  MEMBER, key);
      m->server_timestamp = 1700000000000 + i;
      g_ptr_array_add (made, m);
      prev = m->message_hash;
    }
  m = made->pdata[5];   /* a real signature, of another message */
  g_free (m->signature);
  m->signature = g_strdup (((RdtMessage *) made->pdata[6])->signature);
  m = made->pdata[7];   /* a spelling only the lenient decoder takes */
  orig = m->signature;
  m->signature = g_strconcat ("!", orig, NULL);
  g_clear_pointer (&orig, g_free);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (i = 0; i < made->len; i++)
    json_builder_add_value (b, rdt_message_to_json (made->pdata[i]));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "has_more");
  json_builder_add_boolean_value (b, FALSE);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json = json_generator_to_data (gen, NULL);
  g_assert_cmpuint (strlen (json), >, 16384);

  list = rdt_message_list_parse (json, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 200);
  for (i = 0; i < list->len; i++)
    {
      m = list->pdata[i];
      sealed += m->sig_checked != 0;
      if (i == 5)
        {
          g_assert_cmpuint (m->sig_checked, ==, 0);
          expect_verify_error (rdt_message_ref (m), SPACE, "general",
                               RDT_ERROR_BAD_SIGNATURE);
        }
      else
        g_assert_true (rdt_message_verify (m, SPACE, "general", NULL));
    }
  /* Checked ahead when there is a second core to do it. */
  if (g_get_num_processors () > 1)
    g_assert_cmpuint (sealed, ==, 199);

  /* Changed after parsing: the seal no longer matches. */
  m = list->pdata[0];
  orig = m->signature;
  m->signature = g_strdup (((RdtMessage *) list->pdata[1])->signature);
  expect_verify_error (rdt_message_ref (m), SPACE, "general",
                       RDT_ERROR_BAD_SIGNATURE);
  g_free (m->signature);
  m->signature = g_steal_pointer (&orig);
  g_assert_true (rdt_message_verify (m, SPACE, "general", NULL));
  /* A copy is built another way: not sealed, verified in full. */
  m = rdt_message_copy (list->pdata[3]);
  g_assert_cmpuint (m->sig_checked, ==, 0);
  g_assert_true (rdt_message_verify (m, SPACE, "general", NULL));
  rdt_message_unref (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_true (rdt_crypto_init ());

  g_test_add_func ("/message/vector/msg1", test_msg1_vector);
  g_test_add_func ("/message/vector/msg2", test_msg2_vector);
  g_test_add_func ("/message/vector/state", test_state_vector);
  g_test_add_func ("/message/space-sender", test_space_sender);
  g_test_add_func ("/message/tool-sender", test_tool_sender);
  g_test_add_func ("/message/serialise", test_serialise);
  g_test_add_func ("/message/parse/corruptions", test_corruptions);
  g_test_add_func ("/message/parse/missing-fields", test_missing_fields);
  g_test_add_func ("/message/parse/wrong-types", test_wrong_types);
  g_test_add_func ("/message/parse/bad-values", test_bad_values);
  g_test_add_func ("/message/parse/unknown-fields", test_unknown_fields_ignored);
  g_test_add_func ("/message/parse/not-json", test_not_json);
  g_test_add_func ("/message/parse/from-node", test_from_json_node);
  g_test_add_func ("/message/list", test_list_parse);
  g_test_add_func ("/message/list/checked-ahead", test_list_checked_ahead);
  g_test_add_func ("/message/verify/failures", test_verify_failures);
  g_test_add_func ("/message/verify/member-spellings", test_member_spellings);
  g_test_add_func ("/message/payload", test_payload);
  return g_test_run ();
}
