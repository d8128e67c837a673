/* SPDX-License-Identifier: GPL-2.0-or-later */
/* message.c - the reeeductio Message wire model (spec section 4).
 *
 * Everything parsed here comes from the server and is treated as hostile:
 * each field is checked for presence, JSON type, id syntax and base64
 * flavour, and every error names the field so that a log line tells what
 * the server got wrong. Hashing follows spec 4.1 exactly (the data string
 * is hashed as sent), signing 4.2 (the 33 raw id bytes), verification 5.2.
 */
#include "config.h"
#include "message.h"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include <sodium.h>

#include "encoding.h"
#include "error.h"
#include "id.h"

/* A Message object is one level deep and a list two; anything nested much
 * deeper is not a reeeductio answer. json-glib 1.6 parses recursively with
 * no depth limit, so a hostile "[[[[..." could exhaust the stack: refuse
 * such input before handing it to the parser. */
#define MAX_JSON_DEPTH 32

#define MAX_TIMESTAMP G_GINT64_CONSTANT (9007199254740991)

/* ------------------------------------------------------------------ */
/* Reference counting */

RdtMessage *
rdt_message_new (void)
{
  RdtMessage *msg = g_new0 (RdtMessage, 1);

  msg->ref_count = 1;
  msg->server_timestamp = -1;
  return msg;
}

RdtMessage *
rdt_message_ref (RdtMessage *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);
  g_atomic_int_inc (&msg->ref_count);
  return msg;
}

void
rdt_message_unref (RdtMessage *msg)
{
  if (msg == NULL)
    return;
  if (!g_atomic_int_dec_and_test (&msg->ref_count))
    return;
  g_free (msg->message_hash);
  g_free (msg->topic_id);
  g_free (msg->type);
  g_free (msg->prev_hash);
  g_free (msg->data);
  g_free (msg->sender);
  g_free (msg->signature);
  g_free (msg);
}

RdtMessage *
rdt_message_copy (const RdtMessage *msg)
{
  RdtMessage *copy;

  g_return_val_if_fail (msg != NULL, NULL);
  copy = rdt_message_new ();
  copy->message_hash = g_strdup (msg->message_hash);
  copy->topic_id = g_strdup (msg->topic_id);
  copy->type = g_strdup (msg->type);
  copy->prev_hash = g_strdup (msg->prev_hash);
  copy->data = g_strdup (msg->data);
  copy->sender = g_strdup (msg->sender);
  copy->signature = g_strdup (msg->signature);
  copy->server_timestamp = msg->server_timestamp;
  return copy;
}

/* ------------------------------------------------------------------ */
/* Signatures checked ahead */

/* A list page's signatures are checked while the page is still being
 * parsed (see below); rdt_message_verify() then only has to tie the hash
 * to the content. A message carries a keyed SipHash of the exact
 * message_hash, sender and signature strings whose signature was found
 * valid: if any of them is changed afterwards, or the message is built
 * any other way, the seal does not match and everything is verified as
 * usual. The key is random per process. */
static guint64
signature_seal (const RdtMessage *msg)
{
  static guint8 key[crypto_shorthash_KEYBYTES];
  static gsize key_set = 0;
  gchar buf[512];
  gsize a, b, c;
  guint64 seal;

  if (g_once_init_enter (&key_set))
    {
      randombytes_buf (key, sizeof key);
      g_once_init_leave (&key_set, 1);
    }
  if (msg->message_hash == NULL || msg->sender == NULL ||
      msg->signature == NULL)
    return 0;
  a = strlen (msg->message_hash);
  b = strlen (msg->sender);
  c = strlen (msg->signature);
  if (a + b + c + 2 > sizeof buf)
    return 0;
  memcpy (buf, msg->message_hash, a + 1);
  memcpy (buf + a + 1, msg->sender, b + 1);
  memcpy (buf + a + b + 2, msg->signature, c);
  crypto_shorthash ((guint8 *) &seal, (const guint8 *) buf, a + b + c + 2,
                    key);
  return seal != 0 ? seal : 1;
}

static gboolean
decode_signature (const gchar *text, guint8 out[RDT_SIGNATURE_LENGTH],
                  GError **error)
{
  g_autofree guint8 *bytes = NULL;

  /* Canonical base64 (what clients send) decodes without an allocation;
   * any other spelling as the server decodes it. */
  if (rdt_base64_decode_exact (text, out, RDT_SIGNATURE_LENGTH))
    return TRUE;
  bytes = rdt_base64_decode_lenient (text, RDT_SIGNATURE_LENGTH, NULL,
                                     error);
  if (bytes == NULL)
    return FALSE;
  memcpy (out, bytes, RDT_SIGNATURE_LENGTH);
  return TRUE;
}

/* Check the signature over the message id as sent; seal it if valid.
 * Failures are left for rdt_message_verify() to find and explain. */
static void
signature_check_ahead (RdtMessage *msg)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  guint8 pk[RDT_PUBLIC_KEY_LENGTH];
  guint8 sig[RDT_SIGNATURE_LENGTH];

  if (rdt_id_decode (msg->message_hash, NULL, raw, NULL) &&
      rdt_id_get_public_key (msg->sender, pk, NULL) &&
      decode_signature (msg->signature, sig, NULL) &&
      rdt_ed25519_verify (sig, raw, sizeof raw, pk))
    msg->sig_checked = signature_seal (msg);
}

/* ------------------------------------------------------------------ */
/* Strict parsing */

static const gchar *
node_kind (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      return _("an object");
    case JSON_NODE_ARRAY:
      return _("an array");
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
    default:
      break;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return _("a string");
    case G_TYPE_BOOLEAN:
      return _("a boolean");
    case G_TYPE_INT64:
      return _("an integer");
    case G_TYPE_DOUBLE:
      return _("a number");
    default:
      return _("a value");
    }
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING;
}

/* The member name of a field, or an error saying it is missing. */
static JsonNode *
require_member (JsonObject *obj, const gchar *field, GError **error)
{
  JsonNode *node = json_object_get_member (obj, field);

  if (node == NULL)
    g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                 _("message field '%s' is missing"), field);
  return node;
}

static const gchar *
require_string (JsonObject *obj, const gchar *field, GError **error)
{
  JsonNode *node = require_member (obj, field, error);

  if (node == NULL)
    return NULL;
  if (!node_is_string (node))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message field '%s': expected a string, got %s"),
                   field, node_kind (node));
      return NULL;
    }
  return json_node_get_string (node);
}

/* Prefix an error coming from id/encoding with the field name. */
static void
field_error (GError **error, GError *inner, const gchar *field)
{
  g_set_error (error, RDT_ERROR, inner->code, _("message field '%s': %s"),
               field, inner->message);
  g_error_free (inner);
}

static gboolean
check_id_field (const gchar *value, const gchar *field, gboolean want_key,
                GError **error)
{
  GError *inner = NULL;
  RdtIdType type;

  if (!rdt_id_decode (value, &type, NULL, &inner))
    {
      field_error (error, inner, field);
      return FALSE;
    }
  if (want_key)
    {
      /* S is accepted too: the owner may authenticate with the space id
       * itself, which then becomes the sender (spec 6.2). */
      if (type != RDT_ID_USER && type != RDT_ID_TOOL && type != RDT_ID_SPACE)
        {
          g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                       _("message field '%s': expected a user or tool id, "
                         "got a %s id"), field, rdt_id_type_name (type));
          return FALSE;
        }
    }
  else if (type != RDT_ID_MESSAGE)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("message field '%s': expected a message id, got a %s id"),
                   field, rdt_id_type_name (type));
      return FALSE;
    }
  return TRUE;
}

RdtMessage *
rdt_message_new_from_json (JsonNode *node, GError **error)
{
  g_autoptr(RdtMessage) msg = NULL;
  JsonObject *obj;
  JsonNode *member;
  const gchar *s;
  glong len;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message: expected a JSON object, got %s"),
                   node ? node_kind (node) : _("nothing"));
      return NULL;
    }
  obj = json_node_get_object (node);
  msg = rdt_message_new ();

  /* message_hash */
  if ((s = require_string (obj, "message_hash", error)) == NULL)
    return NULL;
  if (!check_id_field (s, "message_hash", FALSE, error))
    return NULL;
  msg->message_hash = g_strdup (s);

  /* topic_id: any string here; verification compares it with the topic
   * that was asked for. */
  if ((s = require_string (obj, "topic_id", error)) == NULL)
    return NULL;
  msg->topic_id = g_strdup (s);

  if ((s = require_string (obj, "type", error)) == NULL)
    return NULL;
  msg->type = g_strdup (s);

  /* prev_hash: null or an M id. "" is refused: it hashes as "null" but the
   * server never stores it (spec 4.1). */
  if ((member = require_member (obj, "prev_hash", error)) == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_NULL (member))
    msg->prev_hash = NULL;
  else if (node_is_string (member))
    {
      s = json_node_get_string (member);
      if (!check_id_field (s, "prev_hash", FALSE, error))
        return NULL;
      msg->prev_hash = g_strdup (s);
    }
  else
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message field 'prev_hash': expected a string or null, "
                     "got %s"), node_kind (member));
      return NULL;
    }

  /* data: any string of at most RDT_MAX_DATA_CHARS characters. The
   * server never decodes it (spec 4.1, 8.5), so any member can post data
   * that is not base64; the hash covers the string as sent. Refusing it
   * here would make the whole page, and with it the topic, unreadable for
   * everyone; it is decoded, strictly, only when decrypted, and then only
   * that one message fails. */
  if ((s = require_string (obj, "data", error)) == NULL)
    return NULL;
  /* A string has no more characters than bytes: count them only when
   * the bytes are over the limit. */
  if (strlen (s) > RDT_MAX_DATA_CHARS &&
      (len = g_utf8_strlen (s, -1)) > RDT_MAX_DATA_CHARS)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("message field 'data': %ld characters, more than the "
                     "limit of %d"),
                   len, RDT_MAX_DATA_CHARS);
      return NULL;
    }
  msg->data = g_strdup (s);

  if ((s = require_string (obj, "sender", error)) == NULL)
    return NULL;
  if (!check_id_field (s, "sender", TRUE, error))
    return NULL;
  msg->sender = g_strdup (s);

  /* signature: any string; the server decodes it leniently (spec 4.3 step
   * 9) and stores it as sent, and rdt_message_verify() decodes it the same
   * way. A spelling the server would not have accepted fails verification
   * of this message only. The bound is only against absurd answers. */
  if ((s = require_string (obj, "signature", error)) == NULL)
    return NULL;
  if (strlen (s) > RDT_MAX_SIGNATURE_CHARS)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("message field 'signature': more than %d characters"),
                   RDT_MAX_SIGNATURE_CHARS);
      return NULL;
    }
  msg->signature = g_strdup (s);

  /* server_timestamp: a non-negative JSON integer (not 1.0, not "1"). */
  if ((member = require_member (obj, "server_timestamp", error)) == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_INT64)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message field 'server_timestamp': expected an "
                     "integer, got %s"), node_kind (member));
      return NULL;
    }
  msg->server_timestamp = json_node_get_int (member);
  /* Milliseconds; anything past 2^53 is not a time any server produces
   * (and json-glib wraps integers that overflow 64 bits). */
  if (msg->server_timestamp < 0 ||
      msg->server_timestamp > MAX_TIMESTAMP)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message field 'server_timestamp': value %" PRId64
                     " out of range"), msg->server_timestamp);
      return NULL;
    }

  return g_steal_pointer (&msg);
}

gboolean
rdt_json_check_text (const gchar *json, gsize len, GError **error)
{
  gboolean in_string = FALSE;
  gboolean escaped = FALSE;
  guint depth = 0;
  gsize i;

  if (!g_utf8_validate_len (json, len, NULL))
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("server answer is not valid UTF-8 JSON"));
      return FALSE;
    }
  for (i = 0; i < len; i++)
    {
      gchar c = json[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > MAX_JSON_DEPTH)
            {
              g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("server answer is nested more than %d levels "
                             "deep"),
                           MAX_JSON_DEPTH);
              return FALSE;
            }
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* A list page's messages have their signatures checked on the other
 * cores while json-glib is still building the page's tree: each message
 * object is converted as soon as it is complete (json-glib's
 * array-element signal) and queued for worker threads, so parsing and the
 * Ed25519 work overlap. Only what is converted here is reused; anything
 * unexpected (a second array, a failed conversion) is left to the
 * sequential pass. Small answers are not worth a thread. */
#define AHEAD_MIN_BYTES   16384
#define AHEAD_MAX_THREADS 8

typedef struct {
  GAsyncQueue *queue;
  GPtrArray   *early;    /* per element of array: RdtMessage or NULL */
  JsonArray   *array;
  gboolean     off;      /* something unexpected: no more early work */
  GThread     *threads[AHEAD_MAX_THREADS];
  guint        n_threads;
} Ahead;

static gpointer
ahead_worker (gpointer data)
{
  GAsyncQueue *queue = data;
  gpointer item;

  /* The queue itself is the stop marker. */
  while ((item = g_async_queue_pop (queue)) != queue)
    {
      signature_check_ahead (item);
      rdt_message_unref (item);
    }
  return NULL;
}

static void
on_array_element (JsonParser *parser, JsonArray *array, gint index,
                  gpointer user_data)
{
  Ahead *a = user_data;
  JsonNode *node = json_array_get_element (array, index);
  RdtMessage *msg = NULL;

  if (a->off)
    return;
  if (a->array == NULL)
    a->array = array;
  if (a->array != array || (guint) index != a->early->len ||
      a->early->len >= RDT_MAX_PAGE_MESSAGES)
    {
      a->off = TRUE;
      return;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    msg = rdt_message_new_from_json (node, NULL);
  g_ptr_array_add (a->early, msg);
  if (msg != NULL)
    g_async_queue_push (a->queue, rdt_message_ref (msg));
}

static void
ahead_start (Ahead *a)
{
  guint n = MIN ((guint) g_get_num_processors (), AHEAD_MAX_THREADS + 1);

  a->queue = g_async_queue_new ();
  a->early = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  /* The parsing thread is busy building the tree: n - 1 workers. */
  for (guint i = 0; i + 1 < n; i++)
    {
      GThread *t = g_thread_try_new ("rdt-verify", ahead_worker, a->queue,
                                     NULL);
      if (t != NULL)
        a->threads[a->n_threads++] = t;
    }
}

/* Help with what is left, stop the workers and wait for them. */
static void
ahead_finish (Ahead *a)
{
  gpointer item;

  while ((item = g_async_queue_try_pop (a->queue)) != NULL)
    {
      signature_check_ahead (item);
      rdt_message_unref (item);
    }
  for (guint i = 0; i < a->n_threads; i++)
    g_async_queue_push (a->queue, a->queue);
  for (guint i = 0; i < a->n_threads; i++)
    g_thread_join (a->threads[i]);
  a->n_threads = 0;
  g_clear_pointer (&a->queue, g_async_queue_unref);
}

static void
ahead_clear (Ahead *a)
{
  g_clear_pointer (&a->early, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Ahead, ahead_clear)

/* Parse text into a root node the caller owns (NULL + error on failure).
 * With ahead, a large list answer has its signatures checked meanwhile. */
static JsonNode *
parse_json (const gchar *json, gssize len, Ahead *ahead, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  GError *inner = NULL;
  JsonNode *root;
  gboolean ok;
  gsize n;

  if (json == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("server answer is empty"));
      return NULL;
    }
  n = len < 0 ? strlen (json) : (gsize) len;
  if (!rdt_json_check_text (json, n, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (ahead != NULL && n >= AHEAD_MIN_BYTES && g_get_num_processors () > 1)
    {
      ahead_start (ahead);
      g_signal_connect (parser, "array-element",
                        G_CALLBACK (on_array_element), ahead);
    }
  ok = json_parser_load_from_data (parser, json, (gssize) n, &inner);
  if (ahead != NULL && ahead->queue != NULL)
    ahead_finish (ahead);
  if (!ok)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("server answer is not valid JSON: %s"), inner->message);
      g_error_free (inner);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("server answer is empty"));
      return NULL;
    }
  return json_node_ref (root);
}

RdtMessage *
rdt_message_parse (const gchar *json, gssize len, GError **error)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_json (json, len, NULL, error);
  if (root == NULL)
    return NULL;
  return rdt_message_new_from_json (root, error);
}

GPtrArray *
rdt_message_list_parse (const gchar *json, gssize len,
                        gboolean *has_more_out, GError **error)
{
  g_auto(Ahead) ahead = { 0 };
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) out = NULL;
  JsonObject *obj;
  JsonNode *member;
  JsonArray *array;
  guint i, n;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_json (json, len, &ahead, error);
  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message list: expected a JSON object, got %s"),
                   node_kind (root));
      return NULL;
    }
  obj = json_node_get_object (root);

  member = json_object_get_member (obj, "messages");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message list field 'messages': %s%s"),
                   member ? _("expected an array, got ") : _("is missing"),
                   member ? node_kind (member) : "");
      return NULL;
    }
  array = json_node_get_array (member);
  n = json_array_get_length (array);
  if (n > RDT_MAX_PAGE_MESSAGES)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("message list: %u messages, more than the limit of %d"),
                   n, RDT_MAX_PAGE_MESSAGES);
      return NULL;
    }

  member = json_object_get_member (obj, "has_more");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                   _("message list field 'has_more': %s%s"),
                   member ? _("expected a boolean, got ") : _("is missing"),
                   member ? node_kind (member) : "");
      return NULL;
    }

  out = g_ptr_array_new_full (n, (GDestroyNotify) rdt_message_unref);
  for (i = 0; i < n; i++)
    {
      GError *inner = NULL;
      RdtMessage *msg;

      if (!ahead.off && ahead.array == array && ahead.early != NULL &&
          i < ahead.early->len && ahead.early->pdata[i] != NULL)
        msg = rdt_message_ref (ahead.early->pdata[i]);
      else
        msg = rdt_message_new_from_json (json_array_get_element (array, i),
                                         &inner);
      if (msg == NULL)
        {
          g_set_error (error, RDT_ERROR, inner->code,
                       _("message list element %u: %s"), i, inner->message);
          g_error_free (inner);
          return NULL;
        }
      g_ptr_array_add (out, msg);
    }

  if (has_more_out)
    *has_more_out = json_node_get_boolean (member);
  return g_steal_pointer (&out);
}

/* ------------------------------------------------------------------ */
/* Serialisation */

/* A field not filled in yet is written as null rather than crashing. */
static void
add_member (JsonBuilder *b, const gchar *name, const gchar *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

JsonNode *
rdt_message_to_json (const RdtMessage *msg)
{
  g_autoptr(JsonBuilder) b = NULL;

  g_return_val_if_fail (msg != NULL, NULL);

  b = json_builder_new ();
  json_builder_begin_object (b);
  add_member (b, "message_hash", msg->message_hash);
  add_member (b, "topic_id", msg->topic_id);
  add_member (b, "type", msg->type);
  add_member (b, "prev_hash", msg->prev_hash);
  add_member (b, "data", msg->data);
  add_member (b, "sender", msg->sender);
  add_member (b, "signature", msg->signature);
  json_builder_set_member_name (b, "server_timestamp");
  json_builder_add_int_value (b, msg->server_timestamp);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gchar *
node_to_string (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

gchar *
rdt_message_to_json_string (const RdtMessage *msg)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (msg != NULL, NULL);
  node = rdt_message_to_json (msg);
  return node_to_string (node);
}

gchar *
rdt_message_to_post_body (const RdtMessage *msg)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(JsonNode) node = NULL;

  g_return_val_if_fail (msg != NULL, NULL);

  b = json_builder_new ();
  json_builder_begin_object (b);
  add_member (b, "type", msg->type);
  add_member (b, "prev_hash", msg->prev_hash);
  add_member (b, "data", msg->data);
  add_member (b, "message_hash", msg->message_hash);
  add_member (b, "signature", msg->signature);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  return node_to_string (node);
}

/* ------------------------------------------------------------------ */
/* Hashing, signing, verification */

static void
hash_part (crypto_hash_sha256_state *st, const gchar *s, gboolean sep)
{
  if (sep)
    crypto_hash_sha256_update (st, (const guint8 *) "|", 1);
  if (s != NULL)
    crypto_hash_sha256_update (st, (const guint8 *) s, strlen (s));
}

void
rdt_message_compute_id (const gchar *space_id, const gchar *topic_id,
                        const gchar *type, const gchar *prev_hash,
                        const gchar *data, const gchar *sender,
                        guint8 raw_out[RDT_ID_RAW_LENGTH])
{
  crypto_hash_sha256_state st;
  guint8 digest[RDT_SHA256_LENGTH];

  g_return_if_fail (raw_out != NULL);
  rdt_crypto_init ();

  /* space|topic|type|prev-or-"null"|data|sender, streamed so that a
   * 100 KB data string is not copied (spec 4.1). */
  crypto_hash_sha256_init (&st);
  hash_part (&st, space_id, FALSE);
  hash_part (&st, topic_id, TRUE);
  hash_part (&st, type, TRUE);
  hash_part (&st, (prev_hash && *prev_hash) ? prev_hash : "null", TRUE);
  hash_part (&st, data, TRUE);
  hash_part (&st, sender, TRUE);
  crypto_hash_sha256_final (&st, digest);
  rdt_id_encode_raw (RDT_ID_MESSAGE, digest, raw_out);
}

gchar *
rdt_message_compute_hash (const gchar *space_id, const gchar *topic_id,
                          const gchar *type, const gchar *prev_hash,
                          const gchar *data, const gchar *sender)
{
  guint8 raw[RDT_ID_RAW_LENGTH];

  rdt_message_compute_id (space_id, topic_id, type, prev_hash, data, sender,
                          raw);
  return rdt_base64url_encode (raw, RDT_ID_RAW_LENGTH);
}

RdtMessage *
rdt_message_new_signed (const gchar *space_id, const gchar *topic_id,
                        const gchar *type, const gchar *prev_hash,
                        const gchar *data, const gchar *sender,
                        const RdtSigningKey *key)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  guint8 sig[RDT_SIGNATURE_LENGTH];
  RdtMessage *msg;

  g_return_val_if_fail (space_id && topic_id && type && data && sender, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  /* "" is not a valid prev_hash on the wire (spec 4.1): send null. */
  if (prev_hash != NULL && *prev_hash == '\0')
    prev_hash = NULL;

  rdt_message_compute_id (space_id, topic_id, type, prev_hash, data, sender,
                          raw);
  rdt_signing_key_sign (key, raw, sizeof raw, sig);

  msg = rdt_message_new ();
  msg->message_hash = rdt_base64url_encode (raw, sizeof raw);
  msg->topic_id = g_strdup (topic_id);
  msg->type = g_strdup (type);
  msg->prev_hash = g_strdup (prev_hash);
  msg->data = g_strdup (data);
  msg->sender = g_strdup (sender);
  msg->signature = rdt_base64_encode (sig, sizeof sig);
  return msg;
}

gboolean
rdt_message_verify (const RdtMessage *msg, const gchar *space_id,
                    const gchar *topic_id, GError **error)
{
  guint8 raw[RDT_ID_RAW_LENGTH];
  guint8 pk[RDT_PUBLIC_KEY_LENGTH];
  guint8 sig[RDT_SIGNATURE_LENGTH];
  gchar expected[(RDT_ID_RAW_LENGTH + 2) / 3 * 4 + 1];
  GError *inner = NULL;

  g_return_val_if_fail (msg != NULL, FALSE);
  g_return_val_if_fail (space_id != NULL && topic_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!msg->message_hash || !msg->topic_id || !msg->type || !msg->data ||
      !msg->sender || !msg->signature)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("message is incomplete"));
      return FALSE;
    }

  /* The server could file a message of one topic under another; the hash
   * below would catch it too, but say what actually happened. */
  if (strcmp (msg->topic_id, topic_id) != 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH,
                   _("message %s belongs to another topic than '%s'"),
                   msg->message_hash, topic_id);
      return FALSE;
    }

  rdt_message_compute_id (space_id, topic_id, msg->type, msg->prev_hash,
                          msg->data, msg->sender, raw);
  /* On the stack: this runs for every message of every page. */
  rdt_base64url_encode_to (raw, sizeof raw, expected);
  /* By string, as the server compares (spec 1.2). */
  if (strcmp (expected, msg->message_hash) != 0)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_HASH_MISMATCH,
                   _("message %s: hash does not match its contents"),
                   msg->message_hash);
      return FALSE;
    }

  /* The signature over this very id, sender and signature was checked
   * while the page was parsed. */
  if (msg->sig_checked != 0 && msg->sig_checked == signature_seal (msg))
    return TRUE;

  if (!rdt_id_get_public_key (msg->sender, pk, &inner))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_INVALID_ID,
                   _("message %s: sender: %s"), msg->message_hash,
                   inner->message);
      g_error_free (inner);
      return FALSE;
    }

  if (!decode_signature (msg->signature, sig, &inner))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE,
                   _("message %s: signature: %s"), msg->message_hash,
                   inner->message);
      g_error_free (inner);
      return FALSE;
    }

  if (!rdt_ed25519_verify (sig, raw, sizeof raw, pk))
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_BAD_SIGNATURE,
                   _("message %s: signature is not valid for sender %s"),
                   msg->message_hash, msg->sender);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Encrypted payloads */

gchar *
rdt_payload_encrypt (const guint8 key[RDT_KEY_LENGTH],
                     const guint8 *plaintext, gsize len)
{
  g_autoptr(GBytes) blob = NULL;
  const guint8 *p;
  gsize n = 0;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL || len == 0, NULL);

  /* Documented in message.h: too large to ever be accepted by the server,
   * so refuse here rather than build a message that gets a 422. */
  if (len > RDT_MAX_PLAINTEXT)
    return NULL;

  blob = rdt_aes_gcm_encrypt (key, plaintext, len, NULL);
  if (blob == NULL)
    return NULL;
  p = g_bytes_get_data (blob, &n);
  return rdt_base64_encode (p, n);
}

GBytes *
rdt_payload_decrypt (const guint8 key[RDT_KEY_LENGTH], const gchar *data,
                     GError **error)
{
  g_autofree guint8 *blob = NULL;
  GError *inner = NULL;
  gsize len = 0;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (data == NULL)
    {
      g_set_error_literal (error, RDT_ERROR, RDT_ERROR_MALFORMED,
                           _("encrypted payload is missing"));
      return NULL;
    }
  if (strlen (data) > RDT_MAX_DATA_CHARS)
    {
      g_set_error (error, RDT_ERROR, RDT_ERROR_TOO_LARGE,
                   _("encrypted payload is longer than %d characters"),
                   RDT_MAX_DATA_CHARS);
      return NULL;
    }
  blob = rdt_base64_decode (data, -1, &len, &inner);
  if (blob == NULL)
    {
      g_set_error (error, RDT_ERROR, inner->code, _("encrypted payload: %s"),
                   inner->message);
      g_error_free (inner);
      return NULL;
    }
  return rdt_aes_gcm_decrypt (key, blob, len, error);
}
