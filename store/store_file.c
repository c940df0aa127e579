/* File-system calls of the store with UTF-8 paths on every platform (SQLite takes UTF-8 names, so must we). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef _WIN32
#include <direct.h>
#include <wchar.h>
#endif

#include "store_internal.h"

#ifdef _WIN32
/* UTF-8 to UTF-16 by hand: portable code has no MultiByteToWideChar. Invalid bytes become U+FFFD,
 * which names no existing file, so a bad path fails instead of reaching another file. */
static wchar_t *wide_from_utf8(const char *s)
{
    size_t len = strlen(s);
    wchar_t *w = malloc((len + 1) * 2 * sizeof *w);
    if (!w)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = 0xFFFD;
        size_t n = 1;
        if (p[0] < 0x80) {
            cp = p[0];
        } else if (p[0] >= 0xC2 && p[0] <= 0xDF && (p[1] & 0xC0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
            n = 2;
        } else if (p[0] >= 0xE0 && p[0] <= 0xEF && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
            n = 3;
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
                cp = 0xFFFD;
        } else if (p[0] >= 0xF0 && p[0] <= 0xF4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
                   (p[3] & 0xC0) == 0x80) {
            cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 |
                 (p[3] & 0x3F);
            n = 4;
            if (cp < 0x10000 || cp > 0x10FFFF)
                cp = 0xFFFD;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            w[o++] = (wchar_t)(0xD800 + (cp >> 10));
            w[o++] = (wchar_t)(0xDC00 + (cp & 0x3FF));
        } else {
            w[o++] = (wchar_t)cp;
        }
        p += n;
    }
    w[o] = 0;
    return w;
}

/* UTF-16 to UTF-8 (unpaired surrogates become U+FFFD). */
static char *utf8_from_wide(const wchar_t *w)
{
    size_t len = wcslen(w);
    char *s = malloc(len * 3 + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = (uint16_t)w[i];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < len && (uint16_t)w[i + 1] >= 0xDC00 &&
            (uint16_t)w[i + 1] <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint16_t)w[i + 1] - 0xDC00);
            i++;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        if (cp < 0x80) {
            s[o++] = (char)cp;
        } else if (cp < 0x800) {
            s[o++] = (char)(0xC0 | cp >> 6);
            s[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s[o++] = (char)(0xE0 | cp >> 12);
            s[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            s[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            s[o++] = (char)(0xF0 | cp >> 18);
            s[o++] = (char)(0x80 | (cp >> 12 & 0x3F));
            s[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            s[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    s[o] = '\0';
    return s;
}
#endif

FILE *store_file_open(const char *path, const char *mode)
{
#ifdef _WIN32
    wchar_t *wp = wide_from_utf8(path), *wm = wide_from_utf8(mode);
    FILE *fp = wp && wm ? _wfopen(wp, wm) : NULL;
    int saved = errno;
    free(wp);
    free(wm);
    errno = saved;
    return fp;
#else
    return fopen(path, mode);
#endif
}

int store_file_exists(const char *path)
{
    FILE *fp = store_file_open(path, "rb");
    if (!fp)
        return errno != ENOENT && errno != ENOTDIR ? -1 : 0;
    fclose(fp);
    return 1;
}

int store_file_rename(const char *from, const char *to)
{
#ifdef _WIN32
    wchar_t *wf = wide_from_utf8(from), *wt = wide_from_utf8(to);
    int rc = wf && wt ? _wrename(wf, wt) : -1;
    free(wf);
    free(wt);
    return rc;
#else
    return rename(from, to);
#endif
}

int store_file_remove(const char *path)
{
#ifdef _WIN32
    wchar_t *w = wide_from_utf8(path);
    int rc = w ? _wremove(w) : -1;
    free(w);
    return rc;
#else
    return remove(path);
#endif
}

int store_folder_make(const char *path)
{
#ifdef _WIN32
    wchar_t *w = wide_from_utf8(path);
    struct _stat sb;
    int rc = !w ? -1 : _wstat(w, &sb) == 0 ? 0 : _wmkdir(w);
    free(w);
#else
    struct stat sb;
    int rc = stat(path, &sb) == 0 ? 0 : mkdir(path, 0700);
#endif
    return (rc == 0 || errno == EEXIST) ? 0 : -1;
}

char *store_env_get(const char *name)
{
#ifdef _WIN32
    wchar_t *wn = wide_from_utf8(name);
    const wchar_t *wv = wn ? _wgetenv(wn) : NULL;
    char *v = wv ? utf8_from_wide(wv) : NULL;
    free(wn);
    return v;
#else
    const char *v = getenv(name);
    if (!v)
        return NULL;
    size_t n = strlen(v) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, v, n);
    return copy;
#endif
}
