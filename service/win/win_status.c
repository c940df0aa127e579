/* The status summary under HKLM\SOFTWARE\bitsguard\Status: compared value by value, written only when it changed. */
#include "win_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "bg_utf.h"
#include "bg_version.h"
#include "store.h"
#include "win_access.h"

/* The longest REG_SZ value read back for comparison (LastDetection holds a URL cut at 1,023 bytes). */
#define STATUS_TEXT_MAX 2048

struct win_status {
    HKEY key;
    DWORD granted;
    CRITICAL_SECTION lock;
    unsigned long writes;
};

#define STATUS_NAME(sym, name) static const wchar_t status_##sym[] = L"" name;
WIN_STATUS_VALUES(STATUS_NAME)
#undef STATUS_NAME

win_status *win_status_open(HKEY root, const wchar_t *subkey, DWORD *err)
{
    win_status *st = calloc(1, sizeof *st);
    if (!st) {
        *err = ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    st->granted = win_open_access(WIN_OPEN_REG_STATUS);
    /* Opened, never created: the service account may not create keys under SOFTWARE\bitsguard, and a
     * key it made would carry its own ACL instead of the one setup gives (Users read, service write). */
    LSTATUS rc = RegOpenKeyExW(root, subkey, 0, win_open_access(WIN_OPEN_REG_STATUS) | KEY_WOW64_64KEY, &st->key);
    if (rc != ERROR_SUCCESS) {
        *err = (DWORD)rc;
        free(st);
        return NULL;
    }
    InitializeCriticalSection(&st->lock);
    *err = ERROR_SUCCESS;
    return st;
}

void win_status_close(win_status *st)
{
    if (!st)
        return;
    RegCloseKey(st->key);
    DeleteCriticalSection(&st->lock);
    free(st);
}

unsigned long win_status_writes(const win_status *st)
{
    return st ? st->writes : 0;
}

/* The REG_SZ value name into out (n characters); 0 when absent, of another type or too long. */
static int status_text_get(win_status *st, const wchar_t *name, wchar_t *out, DWORD n)
{
    DWORD type = 0, size = (n - 1) * sizeof(wchar_t);
    if (!win_access_check(st->granted, WIN_CALL_REG_QUERY_VALUE))
        return 0;
    if (RegQueryValueExW(st->key, name, NULL, &type, (BYTE *)out, &size) != ERROR_SUCCESS || type != REG_SZ)
        return 0;
    out[size / sizeof(wchar_t)] = L'\0'; /* Not necessarily terminated as stored. */
    return 1;
}

/* Writes text (UTF-8) as REG_SZ unless the key holds it already (or, with only_later, something later
 * in text order: ISO 8601 times). 1 when it wrote. */
static int status_text_put(win_status *st, const wchar_t *name, const char *text, int only_later)
{
    wchar_t have[STATUS_TEXT_MAX];
    wchar_t *want = bg_utf16_from_utf8(text);
    int wrote = 0;
    if (!want)
        return 0;
    /* One line for people: control characters (a URL may hold any) shown as '?'. */
    for (wchar_t *p = want; *p; p++)
        if (*p < 0x20 || (*p >= 0x7f && *p < 0xa0))
            *p = L'?';
    if (wcslen(want) >= STATUS_TEXT_MAX)
        want[STATUS_TEXT_MAX - 1] = L'\0';
    int known = status_text_get(st, name, have, STATUS_TEXT_MAX);
    if (known && (only_later ? wcscmp(have, want) >= 0 : wcscmp(have, want) == 0))
        goto cleanup;
    if (win_access_check(st->granted, WIN_CALL_REG_SET_VALUE) &&
        RegSetValueExW(st->key, name, 0, REG_SZ, (const BYTE *)want, (DWORD)((wcslen(want) + 1) * sizeof(wchar_t))) ==
            ERROR_SUCCESS) {
        st->writes++;
        wrote = 1;
    }
cleanup:
    free(want);
    return wrote;
}

/* Writes v (capped) as REG_DWORD unless the key holds it already; 1 when it wrote. */
static int status_count_put(win_status *st, const wchar_t *name, int64_t v)
{
    DWORD want = v < 0 ? 0 : v > 0xFFFFFFFF ? 0xFFFFFFFFu : (DWORD)v;
    DWORD have = 0, type = 0, size = sizeof have;
    if (win_access_check(st->granted, WIN_CALL_REG_QUERY_VALUE) &&
        RegQueryValueExW(st->key, name, NULL, &type, (BYTE *)&have, &size) == ERROR_SUCCESS && type == REG_DWORD &&
        size == sizeof have && have == want)
        return 0;
    if (!win_access_check(st->granted, WIN_CALL_REG_SET_VALUE) ||
        RegSetValueExW(st->key, name, 0, REG_DWORD, (const BYTE *)&want, sizeof want) != ERROR_SUCCESS)
        return 0;
    st->writes++;
    return 1;
}

void win_status_publish(void *ctx, const engine_summary *s)
{
    win_status *st = ctx;
    if (!st || !s)
        return;
    EnterCriticalSection(&st->lock);
    int changed = 0;
    changed |= status_text_put(st, status_VERSION, BG_VERSION, 0);
    if (s->last_event_time[0])
        changed |= status_text_put(st, status_LAST_EVENT_TIME, s->last_event_time, 1);
    changed |= status_count_put(st, status_DETECTION_COUNT, s->detections);
    changed |= status_count_put(st, status_UNACKNOWLEDGED_COUNT, s->unacknowledged);
    changed |= status_text_put(st, status_LAST_DETECTION, s->last_detection, 0);
    changed |= status_count_put(st, status_ERROR_COUNT, s->errors);
    if (changed) {
        char now[BG_TIME_TEXT_SIZE];
        store_time_format((int64_t)time(NULL), now, sizeof now);
        status_text_put(st, status_UPDATED_AT, now, 0);
    }
    LeaveCriticalSection(&st->lock);
}
