/* The platform layer on POSIX systems (common/bg_os.h): paths are bytes, taken as they are. */
#define _POSIX_C_SOURCE 200809L
#include "bg_os.h"
#include "bg_text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char bg_os_path_sep = '/';

FILE *bg_os_file_open(const char *path, const char *mode)
{
    return fopen(path, mode);
}

int bg_os_file_rename(const char *from, const char *to)
{
    return rename(from, to);
}

int bg_os_file_remove(const char *path)
{
    return remove(path);
}

void bg_os_file_create_private(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0)
        close(fd);
}

int bg_os_path_kind(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT || errno == ENOTDIR ? BG_OS_PATH_ABSENT : BG_OS_PATH_ERROR;
    if (S_ISLNK(sb.st_mode))
        return BG_OS_PATH_LINK;
    return S_ISREG(sb.st_mode) ? BG_OS_PATH_REGULAR : BG_OS_PATH_OTHER;
}

int bg_os_file_is_regular(FILE *fp)
{
    struct stat sb;
    return fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode);
}

int64_t bg_os_file_size(FILE *fp)
{
    struct stat sb;
    return fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
}

int bg_os_file_seek(FILE *fp, int64_t offset)
{
    /* long is 64 bits on every POSIX target this builds for (LP64). */
    return offset < 0 || offset > LONG_MAX ? -1 : fseek(fp, (long)offset, SEEK_SET);
}

int bg_os_folder_make(const char *path)
{
    struct stat sb;
    int rc = stat(path, &sb) == 0 ? 0 : mkdir(path, 0700);
    return (rc == 0 || errno == EEXIST) ? 0 : -1;
}

char *bg_os_env_get(const char *name)
{
    return bg_text_dup(getenv(name));
}

char *bg_os_data_home(void)
{
    char *base = bg_os_env_get("XDG_DATA_HOME");
    if (base && base[0] == '/')
        return base;
    free(base);
    base = bg_os_env_get("HOME");
    if (!base || !base[0]) {
        free(base);
        return NULL;
    }
    static const char suffix[] = "/.local/share";
    size_t n = strlen(base);
    char *home = malloc(n + sizeof suffix);
    if (home) {
        memcpy(home, base, n);
        memcpy(home + n, suffix, sizeof suffix);
    }
    free(base);
    return home;
}

void bg_os_stream_binary(FILE *fp)
{
    (void)fp;
}

void bg_os_argv_utf8(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

struct bg_os_thread {
    pthread_t id;
    void (*fn)(void *arg);
    void *arg;
};

static void *bg_os_thread_main(void *p)
{
    bg_os_thread *t = p;
    t->fn(t->arg);
    return NULL;
}

bg_os_thread *bg_os_thread_start(void (*fn)(void *arg), void *arg)
{
    bg_os_thread *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->id, NULL, bg_os_thread_main, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void bg_os_thread_join(bg_os_thread *t)
{
    if (!t)
        return;
    pthread_join(t->id, NULL);
    free(t);
}

void bg_os_user_name(char *buf, size_t n)
{
    if (buf == NULL || n == 0)
        return;
    buf[0] = '\0';
    uid_t uid = geteuid();
    struct passwd pw, *found = NULL;
    char scratch[1024];
    if (getpwuid_r(uid, &pw, scratch, sizeof scratch, &found) == 0 && found != NULL && found->pw_name != NULL)
        snprintf(buf, n, "%s", found->pw_name);
    else
        snprintf(buf, n, "uid %lu", (unsigned long)uid);
}

char *bg_os_computer_name(void)
{
    char name[256];
    if (gethostname(name, sizeof name) != 0)
        return NULL;
    name[sizeof name - 1] = '\0'; /* POSIX leaves a cut name unterminated. */
    size_t n = strlen(name) + 1;
    char *copy = n > 1 ? malloc(n) : NULL;
    if (copy)
        memcpy(copy, name, n);
    return copy;
}
