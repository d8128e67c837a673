/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replay.c - run a fuzz target's corpus without libFuzzer.
 *
 * Linked with one target's source into an ordinary program so the seed
 * corpus and every crash reproducer under fuzz/corpus/<target>/ run as a
 * regression test in the normal build (meson suite 'fuzz-replay'), with
 * gcc and without sanitizers if need be. Arguments are files or
 * directories (read non-recursively, in sorted order). A crash is a crash
 * of this process, as under libFuzzer. */
#include <stdio.h>
#include <stdlib.h>
#include <glib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static guint n_run;

static void
run_file (const gchar *path)
{
  gchar *contents = NULL;
  gsize len = 0;
  GError *error = NULL;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      fprintf (stderr, "replay: %s\n", error->message);
      exit (2);
    }
  /* An exact-size copy so that ASan sees reads past the input's end. */
  guint8 *copy = g_memdup2 (contents, len);
  g_free (contents);
  printf ("# %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
  fflush (stdout);
  LLVMFuzzerTestOneInput (copy, len);
  g_free (copy);
  n_run++;
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

int
main (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          run_file (argv[i]);
          continue;
        }
      GError *error = NULL;
      GDir *dir = g_dir_open (argv[i], 0, &error);
      if (dir == NULL)
        {
          fprintf (stderr, "replay: %s\n", error->message);
          return 2;
        }
      GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
      const gchar *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        if (name[0] != '.')
          g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
      g_dir_close (dir);
      g_ptr_array_sort (names, cmp_str);
      for (guint j = 0; j < names->len; j++)
        if (g_file_test (names->pdata[j], G_FILE_TEST_IS_REGULAR))
          run_file (names->pdata[j]);
      g_ptr_array_unref (names);
    }
  if (n_run == 0)
    {
      fprintf (stderr, "replay: no inputs\n");
      return 2;
    }
  printf ("replay: %u inputs ran without a crash\n", n_run);
  return 0;
}
