/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-message.c - the Message wire model from hostile JSON.
 * Input: first byte 'L' means a list answer, anything else one Message
 * object; the rest is the JSON text.
 * Properties: no crash; anything that parsed survives to_json and re-parses
 * to an equal message; verify never crashes (it should fail except for the
 * seed messages, which carry real signatures). */
#include <string.h>
#include <glib.h>
#include "message.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
assert_equal (const RdtMessage *a, const RdtMessage *b)
{
  g_assert_cmpstr (a->message_hash, ==, b->message_hash);
  g_assert_cmpstr (a->topic_id, ==, b->topic_id);
  g_assert_cmpstr (a->type, ==, b->type);
  g_assert_cmpstr (a->prev_hash, ==, b->prev_hash);
  g_assert_cmpstr (a->data, ==, b->data);
  g_assert_cmpstr (a->sender, ==, b->sender);
  g_assert_cmpstr (a->signature, ==, b->signature);
  g_assert_cmpint (a->server_timestamp, ==, b->server_timestamp);
}

static void
check_message (const RdtMessage *msg, const gchar *space_id)
{
  GError *error = NULL;

  g_autofree gchar *json = rdt_message_to_json_string (msg);
  g_assert_nonnull (json);
  g_autoptr (RdtMessage) again = rdt_message_parse (json, -1, &error);
  g_assert_no_error (error);
  assert_equal (msg, again);

  g_autoptr (RdtMessage) copy = rdt_message_copy (msg);
  assert_equal (msg, copy);

  g_autofree gchar *body = rdt_message_to_post_body (msg);
  g_assert_nonnull (body);

  /* Verify against the topic it claims and against another one. */
  if (rdt_message_verify (msg, space_id, msg->topic_id, &error))
    {
      g_autofree gchar *h = rdt_message_compute_hash (space_id, msg->topic_id,
          msg->type, msg->prev_hash, msg->data, msg->sender);
      g_assert_cmpstr (h, ==, msg->message_hash);
    }
  else
    g_clear_error (&error);
  g_assert_false (rdt_message_verify (msg, space_id, "other-topic", &error)
                  && g_strcmp0 (msg->topic_id, "other-topic") != 0);
  g_clear_error (&error);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  /* The space of Appendix A (owner seed 0x01..), as in the seed corpus. */
  static const gchar *space_id = "SIqI4910CfGV_VLbLTy6XXLKZwm_HZQSG_N0iAG0D29c";
  GError *error = NULL;

  if (size < 1)
    return 0;
  const gchar *json = (const gchar *) data + 1;
  gssize len = size - 1;

  if (data[0] != 'L')
    {
      g_autoptr (RdtMessage) msg = rdt_message_parse (json, len, &error);
      if (msg != NULL)
        check_message (msg, space_id);
      else
        {
          g_assert_nonnull (error);
          g_clear_error (&error);
        }
    }
  else
    {
      gboolean has_more = FALSE;
      GPtrArray *list = rdt_message_list_parse (json, len, &has_more, &error);
      if (list != NULL)
        {
          g_assert_cmpuint (list->len, <=, RDT_MAX_PAGE_MESSAGES);
          for (guint i = 0; i < list->len; i++)
            check_message (g_ptr_array_index (list, i), space_id);
          g_ptr_array_unref (list);
        }
      else
        {
          g_assert_nonnull (error);
          g_clear_error (&error);
        }
    }
  return 0;
}
