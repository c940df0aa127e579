/* Helpers shared by the store tests: temporary database paths, removal with the WAL files, string copies. */
#ifndef BG_TEST_DB_H
#define BG_TEST_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The temporary folder: TMPDIR, else TEMP on Windows, else /tmp. */
static inline const char *test_tmp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
#ifdef _WIN32
    if (!tmp)
        tmp = getenv("TEMP");
#endif
    return tmp ? tmp : "/tmp";
}

/* A fresh database path for one test of one suite; any file left there by an earlier run is removed. */
static inline void test_db_path_make(char *out, size_t n, const char *suite, const char *name)
{
    snprintf(out, n, "%s/bg_test_store_%s_%s_%d.db", test_tmp_dir(), suite, name, rand());
    remove(out);
}

/* Removes a database and its -wal and -shm companions. */
static inline void test_db_remove(const char *path)
{
    char p[600];
    remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    remove(p);
}

static inline char *test_text_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

#endif
