/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-frame.c - one WebSocket text frame from a hostile server (spec 7).
 * Input: the frame's bytes as the stream receives them.
 * Properties: no crash; exactly one of message / error / control-frame
 * (NULL without error); a parsed message survives to_json and re-parses to
 * the same hash; oversize frames are always refused. */
#include <string.h>
#include <glib.h>
#include "stream.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GError *error = NULL;
  RdtMessage *msg = rdt_stream_parse_frame ((const gchar *) data, size,
                                            &error);

  if (size > RDT_STREAM_MAX_FRAME)
    g_assert_nonnull (error);
  if (msg != NULL)
    {
      g_assert_null (error);
      g_autofree gchar *json = rdt_message_to_json_string (msg);
      g_autoptr (RdtMessage) again = rdt_message_parse (json, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (again->message_hash, ==, msg->message_hash);
      g_assert_cmpstr (again->data, ==, msg->data);
      rdt_message_unref (msg);
    }
  g_clear_error (&error);
  return 0;
}
