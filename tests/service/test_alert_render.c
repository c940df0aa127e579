/* Windows test of a detection alert's rendered text: '%2F', '%1' and a 40,000-character URL, as Event Viewer would show
 * them. */
/*
 * Usage: test_alert_render BITSGUARD_EXE
 * Renders event 1000 from the message table in bitsguard.exe with FormatMessageW, the insertion strings
 * being exactly what the service hands ReportEventW (win_eventlog_strings_prepare), then applies the second
 * pass the ReportEventW remarks describe ("%n" found in an insertion string is expanded again), and checks
 * that the URL line reads exactly the URL, that no insertion string was spliced into it, that %20 is the
 * exact URL, and that a 40,000-character URL is cut within the event's budget with no split surrogate pair.
 */
#include "check.h"

#include <windows.h>

#include <stdlib.h>
#include <wchar.h>

#include "detection.h"
#include "messages.h"
#include "win_eventlog.h"

static HMODULE g_messages;

/* Event Viewer's rendering: the message with the insertion strings, then "%n" in the result expanded again. */
static wchar_t *render(DWORD id, wchar_t **strings, WORD count)
{
    wchar_t *first = NULL;
    if (!FormatMessageW(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_ARGUMENT_ARRAY,
                        g_messages, id, 0, (LPWSTR)&first, 0, (va_list *)strings)) {
        fprintf(stderr, "FormatMessageW(%lu) failed: %lu\n", (unsigned long)id, GetLastError());
        return NULL;
    }
    size_t cap = wcslen(first) * 4 + 1024, k = 0;
    wchar_t *out = malloc(cap * sizeof *out);
    for (const wchar_t *p = first; out && *p;) {
        if (p[0] == L'%' && p[1] >= L'1' && p[1] <= L'9') {
            unsigned n = 0;
            const wchar_t *q = p + 1;
            while (*q >= L'0' && *q <= L'9' && n < 100)
                n = n * 10 + (unsigned)(*q++ - L'0');
            if (n >= 1 && n <= count) {
                size_t l = wcslen(strings[n - 1]);
                if (k + l + 1 > cap) {
                    cap = (k + l + 1) * 2;
                    wchar_t *g = realloc(out, cap * sizeof *g);
                    if (!g) {
                        free(out);
                        out = NULL;
                        break;
                    }
                    out = g;
                }
                memcpy(out + k, strings[n - 1], l * sizeof *out);
                k += l;
                p = q;
                continue;
            }
        }
        if (k + 2 > cap) {
            cap *= 2;
            wchar_t *g = realloc(out, cap * sizeof *g);
            if (!g) {
                free(out);
                out = NULL;
                break;
            }
            out = g;
        }
        out[k++] = *p++;
    }
    if (out)
        out[k] = L'\0';
    LocalFree(first);
    return out;
}

/* The text as a reader sees it: the invisible WORD JOINERs dropped. */
static void visible(wchar_t *w)
{
    size_t k = 0;
    for (size_t i = 0; w[i]; i++) {
        if (w[i] != 0x2060)
            w[k++] = w[i];
    }
    w[k] = L'\0';
}

static int surrogates_paired(const wchar_t *w)
{
    for (size_t i = 0; w[i]; i++) {
        if (w[i] >= 0xD800 && w[i] <= 0xDBFF) {
            if (!(w[i + 1] >= 0xDC00 && w[i + 1] <= 0xDFFF))
                return 0;
            i++;
        } else if (w[i] >= 0xDC00 && w[i] <= 0xDFFF) {
            return 0;
        }
    }
    return 1;
}

static void detection_fill(detection *d, char *url)
{
    static char title[] = "upd%1ate", computer[] = "WS01";
    memset(d, 0, sizeof *d);
    d->url = url;
    snprintf(d->cls.ip, sizeof d->cls.ip, "203.0.113.9");
    d->cls.verdict = VERDICT_PUBLIC_IP;
    snprintf(d->job_id, sizeof d->job_id, "4f7d0000-0000-4000-8000-000000000001");
    d->job_title = title;
    d->computer = computer;
    d->record_id = 4242;
    d->event_id = 16403;
    d->process_id = -1;
}

static void test_percent_in_url(void)
{
    char url[] = "http://203.0.113.9/a%2Fb%1c%%2d.exe";
    detection d;
    detection_fill(&d, url);
    win_detection_text t;
    const char *s[WIN_DETECTION_STRINGS];
    wchar_t *w[WIN_DETECTION_STRINGS] = {0};
    win_eventlog_detection_strings(&d, &t, s);
    CHECK(win_eventlog_strings_prepare(s, WIN_DETECTION_STRINGS, WIN_DETECTION_STRINGS - 1, w));
    wchar_t *text = render(MSG_DETECTION, w, WIN_DETECTION_STRINGS);
    CHECK(text != NULL);
    if (text) {
        visible(text);
        fprintf(stderr, "rendered:\n%ls\n", text);
        CHECK(wcsstr(text, L"URL: http://203.0.113.9/a%2Fb%1c%%2d.exe\r\n") != NULL);
        CHECK(wcsstr(text, L"\"upd%1ate\"") != NULL);
        CHECK(wcsstr(text, L"203.0.113.9F") == NULL); /* %2 (the IP) not spliced in. */
    }
    CHECK(w[19] && wcscmp(w[19], L"http://203.0.113.9/a%2Fb%1c%%2d.exe") == 0); /* %20: exact. */
    free(text);
    for (int i = 0; i < WIN_DETECTION_STRINGS; i++)
        free(w[i]);
}

static void test_long_url(void)
{
    /* 40,000 characters: "http://203.0.113.9/" then 4-byte UTF-8 characters (surrogate pairs in UTF-16)
     * and '%2F', so any cut point may fall inside a pair. */
    size_t want = 40000;
    char *url = malloc(want * 4 + 64);
    CHECK(url != NULL);
    if (!url)
        return;
    size_t n = (size_t)snprintf(url, want * 4 + 64, "http://203.0.113.9/");
    for (size_t chars = n; chars < want; chars += 5) {
        memcpy(url + n, "\xF0\x9F\x98\x80%2F", 7); /* U+1F600 (2 UTF-16 units) + "%2F" */
        n += 7;
    }
    url[n] = '\0';
    detection d;
    detection_fill(&d, url);
    win_detection_text t;
    const char *s[WIN_DETECTION_STRINGS];
    wchar_t *w[WIN_DETECTION_STRINGS] = {0};
    win_eventlog_detection_strings(&d, &t, s);
    CHECK(win_eventlog_strings_prepare(s, WIN_DETECTION_STRINGS, WIN_DETECTION_STRINGS - 1, w));
    size_t total = 0;
    for (int i = 0; i < WIN_DETECTION_STRINGS; i++) {
        CHECK(w[i] != NULL);
        if (!w[i])
            continue;
        total += wcslen(w[i]);
        CHECK(wcslen(w[i]) <= 31839);
        CHECK(surrogates_paired(w[i]));
    }
    fprintf(stderr, "40,000-character URL: %zu characters in all, URL cut to %zu\n", total, w[0] ? wcslen(w[0]) : 0);
    CHECK(total <= WIN_EVENTLOG_TOTAL_MAX);
    CHECK(w[0] && w[0][wcslen(w[0]) - 1] == 0x2026);  /* Cut, and marked. */
    CHECK(w[1] && wcscmp(w[1], L"203.0.113.9") == 0); /* The short strings are whole. */
    wchar_t *text = render(MSG_DETECTION, w, WIN_DETECTION_STRINGS);
    CHECK(text != NULL);
    if (text) {
        CHECK(surrogates_paired(text));
        CHECK(wcsstr(text, L"IP: 203.0.113.9 (public-ip") != NULL);
    }
    free(text);
    for (int i = 0; i < WIN_DETECTION_STRINGS; i++)
        free(w[i]);
    free(url);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_alert_render BITSGUARD_EXE\n");
        return 2;
    }
    g_messages = LoadLibraryExA(argv[1], NULL, LOAD_LIBRARY_AS_DATAFILE);
    if (!g_messages) {
        fprintf(stderr, "cannot load %s: %lu\n", argv[1], GetLastError());
        return 1;
    }
    CHECK_RUN(test_percent_in_url);
    CHECK_RUN(test_long_url);
    FreeLibrary(g_messages);
    return CHECK_DONE();
}
