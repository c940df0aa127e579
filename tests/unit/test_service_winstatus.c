/* Windows test of the Status key writer (win_status.c): values as documented, written only when they change. */
#ifndef _WIN32

#include <stdio.h>

int main(void)
{
    fprintf(stderr, "skipped: the Status registry key exists only on Windows\n");
    return 77; /* CHECK_SKIP_CODE; check.h is not included here, its counters would be unused. */
}

#else

#include "check.h"

#include <windows.h>

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "bg_version.h"
#include "win_status.h"

/* A key of this test's own under HKCU (the service's is under HKLM, which setup creates). */
static wchar_t key_path[128];

static void key_make(void)
{
    _snwprintf(key_path, sizeof key_path / sizeof key_path[0], L"Software\\bitsguard-test-status-%lu",
               (unsigned long)GetCurrentProcessId());
    key_path[sizeof key_path / sizeof key_path[0] - 1] = L'\0';
    HKEY k = NULL;
    CHECK_INT_EQ(RegCreateKeyExW(HKEY_CURRENT_USER, key_path, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &k, NULL),
                 ERROR_SUCCESS);
    if (k)
        RegCloseKey(k);
}

static void key_remove(void)
{
    RegDeleteKeyW(HKEY_CURRENT_USER, key_path);
}

static DWORD dword_get(const wchar_t *name)
{
    DWORD v = 0xDEADBEEF, size = sizeof v;
    RegGetValueW(HKEY_CURRENT_USER, key_path, name, RRF_RT_REG_DWORD, NULL, &v, &size);
    return v;
}

static void text_get(const wchar_t *name, wchar_t *out, DWORD n)
{
    DWORD size = n * sizeof(wchar_t);
    out[0] = L'\0';
    if (RegGetValueW(HKEY_CURRENT_USER, key_path, name, RRF_RT_REG_SZ, NULL, out, &size) != ERROR_SUCCESS)
        out[0] = L'\0';
}

static engine_summary summary_make(void)
{
    engine_summary s;
    memset(&s, 0, sizeof s);
    s.detections = 3;
    s.unacknowledged = 2;
    s.errors = 1;
    snprintf(s.last_detection, sizeof s.last_detection, "%s",
             "2026-12-07T08:00:00.1234567Z 45.33.32.156 http://45.33.32.156/\x1b[2Jx.exe");
    snprintf(s.last_event_time, sizeof s.last_event_time, "%s", "2026-12-07T08:00:01.0000000Z");
    return s;
}

static void test_written_once(void)
{
    key_make();
    DWORD err = 0;
    win_status *st = win_status_open(HKEY_CURRENT_USER, key_path, &err);
    CHECK(st != NULL);
    if (!st) {
        key_remove();
        return;
    }
    engine_summary s = summary_make();
    win_status_publish(st, &s);
    /* Version, LastEventTime, DetectionCount, UnacknowledgedCount, LastDetection, ErrorCount, UpdatedAt. */
    CHECK_INT_EQ(win_status_writes(st), 7);
    CHECK_INT_EQ(dword_get(L"DetectionCount"), 3);
    CHECK_INT_EQ(dword_get(L"UnacknowledgedCount"), 2);
    CHECK_INT_EQ(dword_get(L"ErrorCount"), 1);
    wchar_t text[2048], updated[64];
    text_get(L"Version", text, 2048);
    CHECK(wcscmp(text, L"" BG_VERSION) == 0);
    text_get(L"LastEventTime", text, 2048);
    CHECK(wcscmp(text, L"2026-12-07T08:00:01.0000000Z") == 0);
    /* One line for people: the escape character shown as '?'. */
    text_get(L"LastDetection", text, 2048);
    CHECK(wcscmp(text, L"2026-12-07T08:00:00.1234567Z 45.33.32.156 http://45.33.32.156/?[2Jx.exe") == 0);
    text_get(L"UpdatedAt", updated, 64);
    CHECK(wcslen(updated) == 20 && updated[19] == L'Z');

    /* The same summary again (an idle service's periodic publication): nothing is written. */
    for (int i = 0; i < 3; i++)
        win_status_publish(st, &s);
    CHECK_INT_EQ(win_status_writes(st), 7);

    /* An older event time (another channel's engine) never moves LastEventTime back. */
    snprintf(s.last_event_time, sizeof s.last_event_time, "%s", "2026-12-07T07:00:00.0000000Z");
    win_status_publish(st, &s);
    CHECK_INT_EQ(win_status_writes(st), 7);
    text_get(L"LastEventTime", text, 2048);
    CHECK(wcscmp(text, L"2026-12-07T08:00:01.0000000Z") == 0);

    /* One count changes (an acknowledgement): that value, and UpdatedAt unless it is still the same second. */
    s.unacknowledged = 1;
    win_status_publish(st, &s);
    CHECK(win_status_writes(st) == 8 || win_status_writes(st) == 9);
    CHECK_INT_EQ(dword_get(L"UnacknowledgedCount"), 1);
    CHECK_INT_EQ(dword_get(L"DetectionCount"), 3);

    /* A value someone else changed is put right at the next publication. */
    DWORD wrong = 99;
    RegSetKeyValueW(HKEY_CURRENT_USER, key_path, L"DetectionCount", REG_DWORD, &wrong, sizeof wrong);
    unsigned long before = win_status_writes(st);
    win_status_publish(st, &s);
    CHECK(win_status_writes(st) > before);
    CHECK_INT_EQ(dword_get(L"DetectionCount"), 3);
    win_status_close(st);
    key_remove();
}

/* No key, no writer: the service reports it and goes on (it never creates the key: setup does). */
static void test_missing_key(void)
{
    DWORD err = 0;
    win_status *st = win_status_open(HKEY_CURRENT_USER, L"Software\\bitsguard-test-status-absent", &err);
    CHECK(st == NULL);
    CHECK_INT_EQ(err, ERROR_FILE_NOT_FOUND);
    HKEY k = NULL;
    CHECK(RegOpenKeyExW(HKEY_CURRENT_USER, L"Software\\bitsguard-test-status-absent", 0, KEY_READ, &k) !=
          ERROR_SUCCESS);
    if (k)
        RegCloseKey(k);
    win_status_publish(NULL, NULL); /* Harmless. */
}

int main(void)
{
    CHECK_RUN(test_written_once);
    CHECK_RUN(test_missing_key);
    return CHECK_DONE();
}

#endif
