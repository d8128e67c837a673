/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rdt-bench - performance figures for the reeeductio core, printed beside
 * their targets (see bench/README.md). Not a test: it never fails on timing.
 *
 *   rdt-bench [backlog|memory|all] [-n MESSAGES] [-r REPEATS]
 *
 * backlog: a chained topic of N messages (default 10,000) signed with a fixed
 *   key is generated (not timed) and serialised as the server sends it: list
 *   answers of 1000 messages, newest first. Timed: rdt_message_list_parse
 *   (which checks the Ed25519 signatures of a large page on the other cores
 *   while json-glib builds the tree) +
 *   RdtChain (hash + verification + linking; the newest page through
 *   rdt_chain_ingest_page, older pages through rdt_chain_ingest_older, the
 *   way a back-fill goes) + rdt_payload_decrypt of every message. Compared
 *   with bare crypto_sign_verify_detached over the same 33-byte ids and
 *   signatures. A per-stage breakdown follows (each stage timed alone).
 * memory: VmRSS growth of one chain holding N messages fed the same way.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

#include "crypto.h"
#include "encoding.h"
#include "id.h"
#include "message.h"
#include "chain.h"
#include "state.h"

#define PAGE 1000
#define TOPIC "general"

typedef struct {
  gchar *space_id;
  gchar *sender;
  guint8 topic_key[RDT_KEY_LENGTH];
  GPtrArray *messages;    /* oldest first */
  GPtrArray *pages;       /* gchar* list answers, newest page first */
} Fixture;

static gdouble
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static glong
rss_kb (void)
{
  g_autofree gchar *status = NULL;
  const gchar *p;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  p = strstr (status, "VmRSS:");
  return p ? strtol (p + 6, NULL, 10) : -1;
}

static void
fixture_init (Fixture *f, guint n)
{
  guint8 seed[RDT_SEED_LENGTH], root[RDT_KEY_LENGTH];
  g_autoptr(RdtSigningKey) space_key = NULL;
  g_autoptr(RdtSigningKey) member_key = NULL;
  g_autoptr(RdtSpaceKeys) keys = NULL;
  const gchar *prev = NULL;
  guint i;

  memset (seed, 0x11, sizeof seed);
  space_key = rdt_signing_key_new_from_seed (seed);
  memset (seed, 0x22, sizeof seed);
  member_key = rdt_signing_key_new_from_seed (seed);
  memset (root, 0x33, sizeof root);
  f->space_id = rdt_signing_key_get_id (space_key, RDT_ID_SPACE);
  f->sender = rdt_signing_key_get_id (member_key, RDT_ID_USER);
  keys = rdt_space_keys_new (root, f->space_id);
  rdt_space_keys_topic_key (keys, TOPIC, f->topic_key);

  f->messages = g_ptr_array_new_with_free_func (
      (GDestroyNotify) rdt_message_unref);
  for (i = 0; i < n; i++)
    {
      /* A typical short chat line, ~90 bytes of plaintext. */
      g_autofree gchar *text = g_strdup_printf (
          "{\"body\":\"message %u of the backlog benchmark, a typical short chat line\"}",
          i);
      g_autofree gchar *data = rdt_payload_encrypt (
          f->topic_key, (const guint8 *) text, strlen (text));
      RdtMessage *m = rdt_message_new_signed (f->space_id, TOPIC, "chat.text",
                                              prev, data, f->sender,
                                              member_key);

      m->server_timestamp = 1700000000000 + i;
      g_ptr_array_add (f->messages, m);
      prev = m->message_hash;
    }

  /* The server's list answers: newest first, 1000 per page. */
  f->pages = g_ptr_array_new_with_free_func (g_free);
  for (gint hi = (gint) n - 1; hi >= 0; hi -= PAGE)
    {
      gint lo = MAX (0, hi - PAGE + 1);
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root_node = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "messages");
      json_builder_begin_array (b);
      for (gint j = hi; j >= lo; j--)
        json_builder_add_value (b,
            rdt_message_to_json (g_ptr_array_index (f->messages, j)));
      json_builder_end_array (b);
      json_builder_set_member_name (b, "has_more");
      json_builder_add_boolean_value (b, lo > 0);
      json_builder_end_object (b);
      root_node = json_builder_get_root (b);
      json_generator_set_root (gen, root_node);
      g_ptr_array_add (f->pages, json_generator_to_data (gen, NULL));
    }
}

static void
fixture_clear (Fixture *f)
{
  g_ptr_array_unref (f->messages);
  g_ptr_array_unref (f->pages);
  g_free (f->space_id);
  g_free (f->sender);
  sodium_memzero (f->topic_key, sizeof f->topic_key);
}

static gboolean
decrypt_all (Fixture *f, GPtrArray *msgs)
{
  for (guint i = 0; i < msgs->len; i++)
    {
      RdtMessage *m = g_ptr_array_index (msgs, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) plain = rdt_payload_decrypt (f->topic_key, m->data,
                                                     &error);
      if (!plain)
        {
          g_printerr ("decrypt failed: %s\n", error->message);
          return FALSE;
        }
    }
  return TRUE;
}

/* The whole pipeline. Returns the chain (caller frees) and the count of
 * messages delivered in *delivered. */
static RdtChain *
pipeline (Fixture *f, guint *delivered)
{
  RdtChain *chain = rdt_chain_new (f->space_id, TOPIC);
  guint total = 0;

  for (guint p = 0; p < f->pages->len; p++)
    {
      const gchar *json = g_ptr_array_index (f->pages, p);
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) msgs = NULL;
      g_autoptr(GPtrArray) out = NULL;
      gboolean has_more;

      msgs = rdt_message_list_parse (json, -1, &has_more, &error);
      if (!msgs)
        g_error ("parse: %s", error->message);
      if (p == 0)
        {
          g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func (
              (GDestroyNotify) rdt_chain_rejection_free);
          rdt_chain_ingest_page (chain, msgs, rejected);
          if (rejected->len)
            g_error ("rejected %u", rejected->len);
          out = rdt_chain_take_ready (chain);
        }
      else
        {
          out = rdt_chain_ingest_older (chain, msgs, &error);
          if (!out)
            g_error ("ingest_older: %s", error->message);
        }
      if (!decrypt_all (f, out))
        g_error ("decrypt");
      total += out->len;
    }
  *delivered = total;
  return chain;
}

static gdouble
best_of (guint repeats, gdouble (*fn) (Fixture *), Fixture *f)
{
  gdouble best = G_MAXDOUBLE;

  for (guint r = 0; r < repeats; r++)
    best = MIN (best, fn (f));
  return best;
}

static gdouble
time_pipeline (Fixture *f)
{
  guint delivered;
  gdouble t0 = now_s ();
  RdtChain *chain = pipeline (f, &delivered);
  gdouble t = now_s () - t0;

  if (delivered != f->messages->len || rdt_chain_get_length (chain) != delivered)
    g_error ("delivered %u of %u", delivered, f->messages->len);
  rdt_chain_free (chain);
  return t;
}

typedef struct {
  guint8 (*ids)[RDT_ID_RAW_LENGTH];
  guint8 (*sigs)[RDT_SIGNATURE_LENGTH];
  const guint8 *pk;
  guint lo, hi, ok;
} VerifySlice;

static gpointer
verify_slice (gpointer data)
{
  VerifySlice *v = data;

  for (guint i = v->lo; i < v->hi; i++)
    v->ok += crypto_sign_verify_detached (v->sigs[i], v->ids[i],
                                          RDT_ID_RAW_LENGTH, v->pk) == 0;
  return NULL;
}

static guint bare_threads = 1;

static gdouble
time_bare_verify (Fixture *f)
{
  guint n = f->messages->len;
  guint8 (*ids)[RDT_ID_RAW_LENGTH] = g_malloc ((gsize) n * RDT_ID_RAW_LENGTH);
  guint8 (*sigs)[RDT_SIGNATURE_LENGTH] = g_malloc ((gsize) n * RDT_SIGNATURE_LENGTH);
  guint8 pk[32];
  gdouble t0, t;
  guint ok = 0;

  /* Decoding is set-up, not timed: this is the floor, the crypto alone. */
  rdt_id_get_public_key (f->sender, pk, NULL);
  for (guint i = 0; i < n; i++)
    {
      RdtMessage *m = g_ptr_array_index (f->messages, i);
      gsize len;
      g_autofree guchar *sig = g_base64_decode (m->signature, &len);

      rdt_id_decode (m->message_hash, NULL, ids[i], NULL);
      memcpy (sigs[i], sig, RDT_SIGNATURE_LENGTH);
    }
  t0 = now_s ();
  if (bare_threads == 1)
    for (guint i = 0; i < n; i++)
      ok += crypto_sign_verify_detached (sigs[i], ids[i], RDT_ID_RAW_LENGTH, pk) == 0;
  else
    {
      /* What verifying a page on several cores could reach. */
      VerifySlice v[8];
      GThread *th[8];

      for (guint k = 0; k < bare_threads; k++)
        {
          v[k] = (VerifySlice) { ids, sigs, pk, n * k / bare_threads,
                                 n * (k + 1) / bare_threads, 0 };
          th[k] = g_thread_new ("verify", verify_slice, &v[k]);
        }
      for (guint k = 0; k < bare_threads; k++)
        {
          g_thread_join (th[k]);
          ok += v[k].ok;
        }
    }
  t = now_s () - t0;
  if (ok != n)
    g_error ("bare verify: %u of %u", ok, n);
  g_free (ids);
  g_free (sigs);
  return t;
}

/* ---- stage breakdown, each stage alone ---- */

static GPtrArray *parsed_pages;  /* GPtrArray of GPtrArray */

static gdouble
time_parse (Fixture *f)
{
  gdouble t0 = now_s (), t;

  g_clear_pointer (&parsed_pages, g_ptr_array_unref);
  parsed_pages = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_ptr_array_unref);
  for (guint p = 0; p < f->pages->len; p++)
    g_ptr_array_add (parsed_pages,
        rdt_message_list_parse (g_ptr_array_index (f->pages, p), -1, NULL,
                                NULL));
  t = now_s () - t0;
  return t;
}

static gdouble
time_json_only (Fixture *f)
{
  gdouble t0 = now_s ();

  for (guint p = 0; p < f->pages->len; p++)
    {
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      if (!json_parser_load_from_data (parser, g_ptr_array_index (f->pages, p),
                                       -1, NULL))
        g_error ("json");
    }
  return now_s () - t0;
}

static gdouble
time_b64_only (Fixture *f)
{
  gdouble t0 = now_s ();

  /* A full decode of data and signature into a temporary freed at once
   * (decryption and the signature check each decode one of them). */
  for (guint i = 0; i < f->messages->len; i++)
    {
      RdtMessage *m = g_ptr_array_index (f->messages, i);
      gsize len;

      g_free (rdt_base64_decode (m->data, -1, &len, NULL));
      g_free (rdt_base64_decode (m->signature, -1, &len, NULL));
    }
  return now_s () - t0;
}

static gdouble
time_verify (Fixture *f)
{
  gdouble t0 = now_s ();

  for (guint i = 0; i < f->messages->len; i++)
    if (!rdt_message_verify (g_ptr_array_index (f->messages, i), f->space_id,
                             TOPIC, NULL))
      g_error ("verify");
  return now_s () - t0;
}

static gdouble
time_hash_only (Fixture *f)
{
  gdouble t0 = now_s ();

  for (guint i = 0; i < f->messages->len; i++)
    {
      RdtMessage *m = g_ptr_array_index (f->messages, i);
      guint8 raw[RDT_ID_RAW_LENGTH];

      rdt_message_compute_id (f->space_id, TOPIC, m->type, m->prev_hash,
                              m->data, m->sender, raw);
    }
  return now_s () - t0;
}

static gdouble
time_chain (Fixture *f)
{
  /* Parse outside the timer; chain ingestion (which verifies) inside. */
  g_autoptr(GPtrArray) pages = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_ptr_array_unref);
  RdtChain *chain = rdt_chain_new (f->space_id, TOPIC);
  gdouble t0, t;

  for (guint p = 0; p < f->pages->len; p++)
    g_ptr_array_add (pages,
        rdt_message_list_parse (g_ptr_array_index (f->pages, p), -1, NULL,
                                NULL));
  t0 = now_s ();
  for (guint p = 0; p < pages->len; p++)
    {
      g_autoptr(GPtrArray) out = NULL;
      if (p == 0)
        {
          rdt_chain_ingest_page (chain, g_ptr_array_index (pages, p), NULL);
          out = rdt_chain_take_ready (chain);
        }
      else
        out = rdt_chain_ingest_older (chain, g_ptr_array_index (pages, p),
                                      NULL);
      g_assert (out);
    }
  t = now_s () - t0;
  rdt_chain_free (chain);
  return t;
}

static gdouble
time_decrypt (Fixture *f)
{
  gdouble t0 = now_s ();

  decrypt_all (f, f->messages);
  return now_s () - t0;
}

static void
bench_backlog (Fixture *f, guint repeats)
{
  guint n = f->messages->len;
  gdouble t_pipe, t_bare, rate_pipe, rate_bare;
  gdouble t_b64, t_parse, t_json, t_verify, t_hash, t_chain, t_decrypt;

  g_print ("== backlog: %u messages, %u list pages of %u newest-first, best of %u ==\n",
           n, f->pages->len, PAGE, repeats);
  t_pipe = best_of (repeats, time_pipeline, f);
  t_bare = best_of (repeats, time_bare_verify, f);
  rate_pipe = n / t_pipe;
  rate_bare = n / t_bare;
  g_print ("  parse+verify+link+decrypt   %9.0f msg/s  (%.1f ms for %u)\n",
           rate_pipe, t_pipe * 1e3, n);
  g_print ("  bare Ed25519 verify         %9.0f msg/s  (%.1f ms)\n",
           rate_bare, t_bare * 1e3);
  g_print ("  ratio                       %8.1f %%     target >= 80 %%  %s\n",
           100.0 * rate_pipe / rate_bare,
           rate_pipe / rate_bare >= 0.8 ? "MET" : "MISSED");

  bare_threads = MIN (g_get_num_processors (), 8);
  if (bare_threads > 1)
    {
      gdouble t_mt = best_of (repeats, time_bare_verify, f);
      g_print ("  bare Ed25519 verify, %u threads %9.0f msg/s  (%.1f ms; the"
               " physical bound of a client that checks every signature)\n",
               bare_threads, n / t_mt, t_mt * 1e3);
      g_print ("  ratio to %u threads            %8.1f %%     target >= 90 %%  %s\n",
               bare_threads, 100.0 * t_mt / t_pipe,
               t_mt / t_pipe >= 0.9 ? "MET" : "MISSED");
    }
  bare_threads = 1;
  t_parse = best_of (repeats, time_parse, f);
  g_clear_pointer (&parsed_pages, g_ptr_array_unref);
  t_json = best_of (repeats, time_json_only, f);
  t_b64 = best_of (repeats, time_b64_only, f);
  t_verify = best_of (repeats, time_verify, f);
  t_hash = best_of (repeats, time_hash_only, f);
  t_chain = best_of (repeats, time_chain, f);
  t_decrypt = best_of (repeats, time_decrypt, f);
  g_print ("  stages alone (ms for %u; us/msg):\n", n);
  g_print ("    list parse (json-glib + strict checks; Ed25519 of a large\n"
           "      page meanwhile on the other cores)   %7.1f  %6.2f\n",
           t_parse * 1e3, t_parse * 1e6 / n);
  g_print ("      of which json-glib tree alone        %7.1f  %6.2f\n",
           t_json * 1e3, t_json * 1e6 / n);
  g_print ("    base64 decode of data+sig (alone)      %7.1f  %6.2f\n",
           t_b64 * 1e3, t_b64 * 1e6 / n);
  g_print ("    rdt_message_verify (hash + Ed25519)    %7.1f  %6.2f\n",
           t_verify * 1e3, t_verify * 1e6 / n);
  g_print ("      of which message id (SHA-256)        %7.1f  %6.2f\n",
           t_hash * 1e3, t_hash * 1e6 / n);
  g_print ("      bare crypto_sign_verify_detached     %7.1f  %6.2f\n",
           t_bare * 1e3, t_bare * 1e6 / n);
  g_print ("    RdtChain ingest (hash + link; signatures\n"
           "      checked during the parse)            %7.1f  %6.2f\n",
           t_chain * 1e3, t_chain * 1e6 / n);
  g_print ("    rdt_payload_decrypt (%s)         %7.1f  %6.2f\n",
           rdt_aes_get_backend () == RDT_AES_BACKEND_SODIUM ? "sodium" : "nettle",
           t_decrypt * 1e3, t_decrypt * 1e6 / n);
}

static void
bench_memory (Fixture *f)
{
  guint n = f->messages->len, delivered;
  glong before, after, after2;
  RdtChain *chain, *chain2;

  g_print ("== memory: one RdtChain fed %u messages (list pages, back-fill) ==\n", n);
  /* Warm up the allocator and libraries with one full run first, so the
   * growth measured is what a chain keeps, not first-use costs. */
  chain = pipeline (f, &delivered);
  rdt_chain_free (chain);
  malloc_trim (0);
  before = rss_kb ();
  chain = pipeline (f, &delivered);
  malloc_trim (0);
  after = rss_kb ();
  /* A second chain on top: steady-state growth, no reuse of freed pages. */
  chain2 = pipeline (f, &delivered);
  malloc_trim (0);
  after2 = rss_kb ();
  g_print ("  VmRSS growth, first chain of %u   %7.2f MB   target <= 2 MB per 10k  %s\n",
           n, (after - before) / 1024.0,
           (after - before) / 1024.0 * 10000.0 / n <= 2.0 ? "MET" : "MISSED");
  g_print ("  VmRSS growth, second chain        %7.2f MB   (%.0f bytes/message)\n",
           (after2 - after) / 1024.0, (after2 - after) * 1024.0 / n);
  {
    /* Whole messages the chain still holds after delivery: only the head
     * (and parked ones) should be; the rest are compact nodes. */
    guint whole = 0;

    for (guint i = 0; i < n; i++)
      if (rdt_chain_lookup (chain,
              ((RdtMessage *) g_ptr_array_index (f->messages, i))->message_hash))
        whole++;
    g_print ("  whole messages still held by the chain: %u of %u "
             "(rest kept as compact nodes)\n", whole, n);
  }
  rdt_chain_free (chain2);
  rdt_chain_free (chain);
}

/* The space's state with many members: the log replay a login does
 * (verify + link + apply) and the pass that names every member (decrypt
 * and parse each profile), as the purple layer's member list needs. */
static void
bench_state (guint n_members, guint repeats)
{
  g_autoptr (RdtSigningKey) owner = rdt_signing_key_generate ();
  g_autofree gchar *space = rdt_signing_key_get_id (owner, RDT_ID_SPACE);
  g_autofree gchar *ouid = rdt_signing_key_get_id (owner, RDT_ID_USER);
  g_autoptr (GPtrArray) log = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_message_unref);
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) rdt_signing_key_free);
  guint8 root[32];
  RdtSpaceKeys *sk;
  RdtState *scratch;
  gchar *prev = NULL;
  gdouble best_ingest = 1e9, best_names = 1e9, t0, t;
  guint named = 0;

  rdt_random_bytes (root, 32);
  sk = rdt_space_keys_new (root, space);
  scratch = rdt_state_new (space, sk->state_key);
  /* per member: the entry (by the owner) and a profile (by the member) */
  for (guint i = 0; i < n_members; i++)
    {
      RdtSigningKey *k = rdt_signing_key_generate ();
      g_autofree gchar *uid = rdt_signing_key_get_id (k, RDT_ID_USER);
      g_autofree gchar *path = g_strconcat ("auth/users/", uid, NULL);
      g_autofree gchar *ppath = g_strconcat ("profiles/", uid, NULL);
      g_autofree gchar *entry = rdt_state_encode_user_entry (uid);
      g_autofree gchar *name = g_strdup_printf ("Member %u", i);
      g_autofree gchar *profile = rdt_state_encode_profile (scratch, name, NULL);
      RdtMessage *m;

      m = rdt_message_new_signed (space, "state", path, prev, entry, ouid, owner);
      m->server_timestamp = 1700000000000 + 2 * i;
      g_free (prev);
      prev = g_strdup (m->message_hash);
      g_ptr_array_add (log, m);
      m = rdt_message_new_signed (space, "state", ppath, prev, profile, uid, k);
      m->server_timestamp = 1700000000001 + 2 * i;
      g_free (prev);
      prev = g_strdup (m->message_hash);
      g_ptr_array_add (log, m);
      g_ptr_array_add (keys, k);
    }
  g_free (prev);
  rdt_state_free (scratch);

  for (guint r = 0; r < repeats; r++)
    {
      RdtState *state = rdt_state_new (space, sk->state_key);
      g_autoptr (GPtrArray) members = NULL;

      t0 = now_s ();
      rdt_state_ingest (state, log, NULL);
      t = now_s () - t0;
      best_ingest = MIN (best_ingest, t);
      t0 = now_s ();
      members = rdt_state_list_members (state);
      named = 0;
      for (guint i = 0; i < members->len; i++)
        {
          gchar *name = rdt_state_get_display_name (state, members->pdata[i]);

          named += name != NULL;
          g_free (name);
        }
      t = now_s () - t0;
      best_names = MIN (best_names, t);
      rdt_state_free (state);
    }
  rdt_space_keys_free (sk);
  g_print ("== state: %u members with profiles (%u state messages), best of %u ==\n",
           n_members, log->len, repeats);
  g_print ("  replay (verify + link + apply)   %7.1f ms  (%.1f us/message)\n",
           best_ingest * 1e3, best_ingest * 1e6 / log->len);
  g_print ("  list + name every member         %7.1f ms  (%u named)\n",
           best_names * 1e3, named);
}

int
main (int argc, char **argv)
{
  gint n = 10000, repeats = 3;
  gchar **rest = NULL;
  GOptionEntry entries[] = {
    { "messages", 'n', 0, G_OPTION_ARG_INT, &n, "Messages in the topic (10000)", "N" },
    { "repeats", 'r', 0, G_OPTION_ARG_INT, &repeats, "Timed repeats, best kept (3)", "R" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, "[backlog|memory|state|all]" },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("[backlog|memory|state|all]");
  g_autoptr(GError) error = NULL;
  const gchar *what;
  Fixture f = { 0 };
  gdouble t0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  what = rest && rest[0] ? rest[0] : "all";
  if (!g_str_equal (what, "backlog") && !g_str_equal (what, "memory")
      && !g_str_equal (what, "state") && !g_str_equal (what, "all"))
    {
      g_printerr ("unknown benchmark %s (backlog, memory, state, all)\n", what);
      return 2;
    }
  if (n < 1 || repeats < 1 || !rdt_crypto_init ())
    return 2;

  if (g_str_equal (what, "state"))
    {
      bench_state (5000, (guint) repeats);
      g_strfreev (rest);
      return 0;
    }
  t0 = now_s ();
  fixture_init (&f, n);
  g_print ("(fixture: %u messages generated and signed in %.1f s, not timed)\n",
           n, now_s () - t0);
  if (g_str_equal (what, "memory") || g_str_equal (what, "all"))
    bench_memory (&f);
  if (g_str_equal (what, "backlog") || g_str_equal (what, "all"))
    bench_backlog (&f, repeats);
  if (g_str_equal (what, "all"))
    bench_state (5000, (guint) repeats);
  fixture_clear (&f);
  g_strfreev (rest);
  return 0;
}
