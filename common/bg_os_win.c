/* The platform layer on Windows (common/bg_os.h): UTF-8 names converted to UTF-16 for the wide C runtime calls. */
#include <windows.h>

#include <direct.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <shellapi.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <wchar.h>

#include "bg_os.h"
#include "bg_utf.h"

const char bg_os_path_sep = '\\';

FILE *bg_os_file_open(const char *path, const char *mode)
{
    wchar_t *wp = bg_utf16_from_utf8(path), *wm = bg_utf16_from_utf8(mode);
    FILE *fp = wp && wm ? _wfopen(wp, wm) : NULL;
    int saved = errno;
    free(wp);
    free(wm);
    errno = saved;
    return fp;
}

int bg_os_file_rename(const char *from, const char *to)
{
    wchar_t *wf = bg_utf16_from_utf8(from), *wt = bg_utf16_from_utf8(to);
    int rc = wf && wt ? _wrename(wf, wt) : -1;
    int saved = errno;
    free(wf);
    free(wt);
    errno = saved;
    return rc;
}

int bg_os_file_remove(const char *path)
{
    wchar_t *w = bg_utf16_from_utf8(path);
    int rc = w ? _wremove(w) : -1;
    int saved = errno;
    free(w);
    errno = saved;
    return rc;
}

void bg_os_file_create_private(const char *path)
{
    (void)path;
}

int bg_os_path_kind(const char *path)
{
    wchar_t *w = bg_utf16_from_utf8(path);
    if (w == NULL) {
        errno = ENOMEM;
        return BG_OS_PATH_ERROR;
    }
    DWORD attr = GetFileAttributesW(w);
    DWORD err = attr == INVALID_FILE_ATTRIBUTES ? GetLastError() : 0;
    free(w);
    if (attr == INVALID_FILE_ATTRIBUTES) {
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
            return BG_OS_PATH_ABSENT;
        errno = EACCES;
        return BG_OS_PATH_ERROR;
    }
    if (attr & FILE_ATTRIBUTE_REPARSE_POINT)
        return BG_OS_PATH_LINK;
    return attr & FILE_ATTRIBUTE_DIRECTORY ? BG_OS_PATH_OTHER : BG_OS_PATH_REGULAR;
}

int bg_os_file_is_regular(FILE *fp)
{
    /* msvcrt's ftell even answers for pipes: the file type is the only sound test. */
    struct _stat64 sb;
    return _fstat64(_fileno(fp), &sb) == 0 && (sb.st_mode & _S_IFMT) == _S_IFREG;
}

int64_t bg_os_file_size(FILE *fp)
{
    struct _stat64 sb;
    return _fstat64(_fileno(fp), &sb) == 0 && (sb.st_mode & _S_IFMT) == _S_IFREG ? (int64_t)sb.st_size : -1;
}

int bg_os_file_seek(FILE *fp, int64_t offset)
{
    return offset < 0 ? -1 : _fseeki64(fp, offset, SEEK_SET);
}

int bg_os_folder_make(const char *path)
{
    wchar_t *w = bg_utf16_from_utf8(path);
    struct _stat sb;
    int rc = !w ? -1 : _wstat(w, &sb) == 0 ? 0 : _wmkdir(w);
    int saved = errno;
    free(w);
    errno = saved;
    return (rc == 0 || errno == EEXIST) ? 0 : -1;
}

char *bg_os_env_get(const char *name)
{
    wchar_t *wn = bg_utf16_from_utf8(name);
    const wchar_t *wv = wn ? _wgetenv(wn) : NULL;
    char *v = bg_utf8_from_utf16(wv);
    free(wn);
    return v;
}

char *bg_os_data_home(void)
{
    char *base = bg_os_env_get("ProgramData");
    if (base && !base[0]) {
        free(base);
        base = NULL;
    }
    return base;
}

void bg_os_stream_binary(FILE *fp)
{
    (void)_setmode(_fileno(fp), _O_BINARY);
}

void bg_os_argv_utf8(int *argc, char ***argv)
{
    int n = 0;
    wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &n);
    char **out = wargv ? calloc((size_t)n + 1, sizeof *out) : NULL;
    int ok = out != NULL;
    for (int i = 0; ok && i < n; i++) {
        out[i] = bg_utf8_from_utf16(wargv[i]);
        ok = out[i] != NULL;
    }
    if (wargv)
        LocalFree(wargv);
    if (!ok) {
        /* Keep the C runtime's argv: right for ASCII, which is what a failure here most likely sees. */
        for (int i = 0; out && i < n; i++)
            free(out[i]);
        free(out);
        return;
    }
    *argc = n;
    *argv = out;
}

struct bg_os_thread {
    HANDLE handle;
    void (*fn)(void *arg);
    void *arg;
};

static DWORD WINAPI bg_os_thread_main(LPVOID p)
{
    bg_os_thread *t = p;
    t->fn(t->arg);
    return 0;
}

bg_os_thread *bg_os_thread_start(void (*fn)(void *arg), void *arg)
{
    bg_os_thread *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    t->handle = CreateThread(NULL, 0, bg_os_thread_main, t, 0, NULL);
    if (!t->handle) {
        free(t);
        return NULL;
    }
    return t;
}

void bg_os_thread_join(bg_os_thread *t)
{
    if (!t)
        return;
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
    free(t);
}

void bg_os_user_name(char *buf, size_t n)
{
    if (buf == NULL || n == 0)
        return;
    buf[0] = '\0';
    HANDLE token = NULL;
    union {
        TOKEN_USER user;
        BYTE raw[256];
    } info;
    DWORD size = 0;
    wchar_t name[256], domain[256], both[520];
    DWORD nn = 256, dn = 256;
    SID_NAME_USE use;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return;
    if (GetTokenInformation(token, TokenUser, &info, sizeof info, &size) &&
        LookupAccountSidW(NULL, info.user.User.Sid, name, &nn, domain, &dn, &use)) {
        _snwprintf(both, sizeof both / sizeof both[0], L"%ls%ls%ls", domain, domain[0] ? L"\\" : L"", name);
        both[sizeof both / sizeof both[0] - 1] = L'\0';
        char *u = bg_utf8_from_utf16(both);
        if (u != NULL)
            snprintf(buf, n, "%s", u);
        free(u);
    }
    CloseHandle(token);
}

char *bg_os_computer_name(void)
{
    wchar_t name[256];
    DWORD len = (DWORD)(sizeof name / sizeof name[0]);
    if (!GetComputerNameExW(ComputerNameDnsFullyQualified, name, &len) || len == 0)
        return NULL;
    return bg_utf8_from_utf16(name);
}
