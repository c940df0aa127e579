/* Unit tests of the platform layer (common/bg_os.h): UTF-8 names, folders, regular-file check, 64-bit size and seek. */
#include "check.h"

#include <errno.h>

#include "bg_os.h"
#include "test_db.h"

#ifdef _WIN32
#include <wchar.h>
#else
#include <sys/stat.h>
#endif

/* Opens the file through the system's own naming (not through bg_os), so a name mangled on the way in
 * (the ANSI code page) is caught: 1 when the file exists under exactly this name. */
static int file_exists_natively(const char *dir, const char *leaf_utf8)
{
#ifdef _WIN32
    /* leaf_utf8 is "bg-\xC3\xA9-\xE2\x82\xAC.txt" in these tests: U+00E9 and U+20AC. */
    (void)leaf_utf8;
    wchar_t path[600];
    swprintf(path, sizeof path / sizeof path[0], L"%hs\\bg-\u00e9-\u20ac.txt", dir);
    FILE *fp = _wfopen(path, L"rb");
#else
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, leaf_utf8);
    FILE *fp = fopen(path, "rb");
#endif
    if (fp)
        fclose(fp);
    return fp != NULL;
}

static void test_utf8_names(void)
{
    char dir[512], path[600], moved[600];
    snprintf(dir, sizeof dir, "%s%cbg_test_os_%d", test_tmp_dir(), bg_os_path_sep, rand());
    CHECK_INT_EQ(bg_os_folder_make(dir), 0);
    CHECK_INT_EQ(bg_os_folder_make(dir), 0); /* An existing folder is fine. */
    const char *leaf = "bg-\xC3\xA9-\xE2\x82\xAC.txt";
    snprintf(path, sizeof path, "%s%c%s", dir, bg_os_path_sep, leaf);
    snprintf(moved, sizeof moved, "%s%cmoved.txt", dir, bg_os_path_sep);
    FILE *fp = bg_os_file_open(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        fputs("x", fp);
        CHECK_INT_EQ(bg_os_file_is_regular(fp), 1);
        fclose(fp);
    }
    CHECK_INT_EQ(file_exists_natively(dir, leaf), 1);
    CHECK_INT_EQ(bg_os_file_rename(path, moved), 0);
    CHECK_INT_EQ(file_exists_natively(dir, leaf), 0);
    CHECK(bg_os_file_open(path, "rb") == NULL);
    CHECK_INT_EQ(errno, ENOENT);
    CHECK_INT_EQ(bg_os_file_remove(moved), 0);
    CHECK(bg_os_file_remove(moved) != 0);
    remove(dir);
}

/* Size and seek past 2 GiB (msvcrt's fseek and ftell take a 32-bit long): a sparse file of 3 GiB + 1. */
static void test_size_seek(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s%cbg_test_os_big_%d", test_tmp_dir(), bg_os_path_sep, rand());
    FILE *fp = bg_os_file_open(path, "w+b");
    CHECK(fp != NULL);
    if (!fp)
        return;
    const int64_t far = (int64_t)3 << 30;
    CHECK_INT_EQ(bg_os_file_size(fp), 0);
    CHECK_INT_EQ(bg_os_file_seek(fp, far), 0);
    CHECK_INT_EQ(fputc('x', fp), 'x');
    CHECK_INT_EQ(fflush(fp), 0);
    CHECK(bg_os_file_size(fp) == far + 1);
    CHECK_INT_EQ(bg_os_file_seek(fp, far), 0);
    CHECK_INT_EQ(fgetc(fp), 'x');
    CHECK_INT_EQ(bg_os_file_seek(fp, -1), -1);
    fclose(fp);
    remove(path);
}

static void test_create_private(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s%cbg_test_os_private_%d", test_tmp_dir(), bg_os_path_sep, rand());
    bg_os_file_create_private(path);
#ifndef _WIN32
    /* POSIX: created empty, owner read/write only (SQLite's -wal and -shm copy this mode). */
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_INT_EQ(sb.st_mode & 0777, 0600);
    CHECK_INT_EQ(sb.st_size, 0);
#endif
    remove(path);
}

static void test_data_home(void)
{
    /* Set in every test environment (HOME on POSIX, ProgramData under Wine and Windows). */
    char *home = bg_os_data_home();
    CHECK(home != NULL && home[0] != '\0');
    free(home);
    CHECK(bg_os_env_get("BG_TEST_SURELY_UNSET_VARIABLE") == NULL);
}

typedef struct thread_probe {
    int ran;
    unsigned long long sum;
} thread_probe;

static void thread_probe_main(void *arg)
{
    thread_probe *p = arg;
    for (unsigned i = 1; i <= 1000; i++)
        p->sum += i;
    p->ran = 1;
}

/* Two threads run and join returns only after each function has returned (its writes are visible). */
/* The computer's name: a non-empty UTF-8 string (the channel-disabled finding names the computer with it). */
static void test_computer_name(void)
{
    char *name = bg_os_computer_name();
    CHECK(name != NULL);
    if (name) {
        CHECK(name[0] != '\0');
        CHECK(strlen(name) < 256);
    }
    free(name);
}

static void test_thread(void)
{
    thread_probe a = {0, 0}, b = {0, 0};
    bg_os_thread *ta = bg_os_thread_start(thread_probe_main, &a);
    bg_os_thread *tb = bg_os_thread_start(thread_probe_main, &b);
    CHECK(ta != NULL);
    CHECK(tb != NULL);
    bg_os_thread_join(ta);
    bg_os_thread_join(tb);
    CHECK_INT_EQ(a.ran, 1);
    CHECK_INT_EQ(b.ran, 1);
    CHECK(a.sum == 500500u && b.sum == 500500u);
    bg_os_thread_join(NULL); /* Nothing to wait for: no crash. */
}

int main(void)
{
    CHECK_RUN(test_utf8_names);
    CHECK_RUN(test_size_seek);
    CHECK_RUN(test_create_private);
    CHECK_RUN(test_data_home);
    CHECK_RUN(test_thread);
    CHECK_RUN(test_computer_name);
    return CHECK_DONE();
}
