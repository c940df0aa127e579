/* Windows test of the wevtapi.dll test double's contract (runs under Wine): subscriptions, render, bookmarks, faults.
 */
/*
 * Run without arguments it copies itself and the wevtapi.dll beside it into a fresh temporary folder and runs
 * that copy with --child, so each run has its own feed folder (the double reads `feed` beside the DLL).
 * The program links against mingw's libwevtapi.a like the service does: the DLL found at run time is the
 * double beside the exe, which the first test verifies from the loaded module's path.
 */
#include <windows.h>
#include <winevt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "check.h"

#define CHANNEL L"Microsoft-Windows-Bits-Client/Operational"

int main(int argc, char **argv);

static wchar_t g_dir[MAX_PATH];  /* Folder of this exe (the child's temporary folder). */
static wchar_t g_feed[MAX_PATH]; /* g_dir\feed */

/* ---------- helpers ---------- */

static void path_join(wchar_t *out, const wchar_t *dir, const wchar_t *name)
{
    _snwprintf(out, MAX_PATH, L"%ls\\%ls", dir, name);
    out[MAX_PATH - 1] = L'\0';
}

static int file_write(const wchar_t *path, const char *text, size_t len)
{
    DWORD put = 0;
    HANDLE fh = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (fh == INVALID_HANDLE_VALUE)
        return 0;
    int ok = WriteFile(fh, text, (DWORD)len, &put, NULL) && put == (DWORD)len;
    CloseHandle(fh);
    return ok;
}

/* Writes a feed file the documented way: name.tmp first, then renamed to name.xml. */
static int feed_write(const wchar_t *stem, const char *text)
{
    wchar_t name[MAX_PATH], tmp[MAX_PATH], xml[MAX_PATH];
    _snwprintf(name, MAX_PATH, L"%ls.tmp", stem);
    path_join(tmp, g_feed, name);
    _snwprintf(name, MAX_PATH, L"%ls.xml", stem);
    path_join(xml, g_feed, name);
    return file_write(tmp, text, strlen(text)) && MoveFileExW(tmp, xml, MOVEFILE_REPLACE_EXISTING);
}

static int control_write(const wchar_t *name, const char *text)
{
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, name);
    return file_write(path, text, strlen(text));
}

static int control_exists(const wchar_t *name)
{
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, name);
    return GetFileAttributesW(path) != INVALID_FILE_ATTRIBUTES;
}

/* Appends one BITS event 16403 to buf; record_id 0 leaves <EventRecordID> out. */
static void event_append(char *buf, size_t cap, unsigned record_id, const char *url)
{
    size_t used = strlen(buf);
    char rid[64] = "";
    if (record_id)
        snprintf(rid, sizeof rid, "<EventRecordID>%u</EventRecordID>", record_id);
    snprintf(buf + used, cap - used,
             "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
             "<Provider Name='Microsoft-Windows-Bits-Client'/><EventID>16403</EventID>%s"
             "<Channel>Microsoft-Windows-Bits-Client/Operational</Channel></System><EventData>"
             "<Data Name='jobId'>{9A25D168-24E6-4C66-AC78-5ED0E6007F1A}</Data>"
             "<Data Name='RemoteName'>%s</Data></EventData></Event>\r\n",
             rid, url);
}

/* Renders an event's XML with the two-call pattern into a heap string (UTF-16). */
static wchar_t *render_xml(EVT_HANDLE h)
{
    DWORD used = 0, props = 0;
    if (EvtRender(NULL, h, EvtRenderEventXml, 0, NULL, &used, &props) || GetLastError() != ERROR_INSUFFICIENT_BUFFER)
        return NULL;
    wchar_t *buf = malloc(used);
    if (buf && !EvtRender(NULL, h, EvtRenderEventXml, used, buf, &used, &props)) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* The <EventRecordID> of a rendered event, 0 if none. */
static unsigned long long rendered_id(EVT_HANDLE h)
{
    unsigned long long id = 0;
    wchar_t *xml = render_xml(h);
    if (!xml)
        return 0;
    const wchar_t *p = wcsstr(xml, L"<EventRecordID>");
    if (p)
        id = wcstoull(p + 15, NULL, 10);
    free(xml);
    return id;
}

/* How the last drain_ids ended: ERROR_NO_MORE_ITEMS (a query) or ERROR_INVALID_OPERATION (a pull
 * subscription with nothing pending, as on Windows). */
static DWORD g_drain_end;

/* Drains a result set; stores up to cap rendered ids and returns the count (or -error). */
static long drain_ids(EVT_HANDLE rs, DWORD batch, unsigned long long *ids, size_t cap)
{
    EVT_HANDLE events[16];
    long total = 0;
    if (batch > 16)
        batch = 16;
    for (;;) {
        DWORD got = 0;
        if (!EvtNext(rs, batch, events, INFINITE, 0, &got)) {
            DWORD err = GetLastError();
            g_drain_end = err;
            if (got != 0)
                return -1; /* A failure hands out nothing. */
            return err == ERROR_NO_MORE_ITEMS || err == ERROR_INVALID_OPERATION ? total : -(long)err;
        }
        for (DWORD i = 0; i < got; i++) {
            if ((size_t)total < cap)
                ids[total] = rendered_id(events[i]);
            total++;
            EvtClose(events[i]);
        }
    }
}

static wchar_t *render_bookmark(EVT_HANDLE bm)
{
    DWORD used = 0, props = 0;
    if (EvtRender(NULL, bm, EvtRenderBookmark, 0, NULL, &used, &props) || GetLastError() != ERROR_INSUFFICIENT_BUFFER)
        return NULL;
    wchar_t *buf = malloc(used);
    if (buf && !EvtRender(NULL, bm, EvtRenderBookmark, used, buf, &used, &props)) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

static char g_text[64 * 1024];

static void text_append(const char *s)
{
    size_t used = strlen(g_text);
    snprintf(g_text + used, sizeof g_text - used, "%s", s);
}

/* ---------- tests ---------- */

/* The DLL in use must be the double beside the exe, not Wine's builtin stub. */
static void test_double_is_loaded(void)
{
    wchar_t path[MAX_PATH], expect[MAX_PATH];
    HMODULE m = GetModuleHandleW(L"wevtapi.dll");
    CHECK(m != NULL);
    CHECK(m && GetModuleFileNameW(m, path, MAX_PATH) > 0);
    path_join(expect, g_dir, L"wevtapi.dll");
    CHECK(m && _wcsicmp(path, expect) == 0);
    fprintf(stderr, "wevtapi.dll loaded from %ls\n", m ? path : L"(none)");
}

static void test_argument_errors(void)
{
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    EVT_HANDLE h = EvtSubscribe(NULL, sig, L"Application", L"*", NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    CHECK(h == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_EVT_CHANNEL_NOT_FOUND);
    h = EvtSubscribe(NULL, NULL, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    CHECK(h == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    h = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeStartAfterBookmark);
    CHECK(h == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(!EvtClose((EVT_HANDLE)(ULONG_PTR)0x1234));
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    CloseHandle(sig);
}

/* Feed 001: ids 101..105 from the XML; 002: no ids (106..108 assigned); hostile bits that are skipped. */
static void feed_initial(void)
{
    g_text[0] = '\0';
    text_append("<Events>\r\n");
    for (unsigned i = 101; i <= 105; i++)
        event_append(g_text, sizeof g_text, i, "http://203.0.113.7/a.exe");
    text_append("</Events>\r\n");
    CHECK(feed_write(L"001", g_text));
    g_text[0] = '\0';
    for (unsigned i = 0; i < 3; i++)
        event_append(g_text, sizeof g_text, 0, "http://example.com/b.cab?x=1&amp;y=2");
    /* A truncated event at the end of a file is not an event. */
    text_append("<Event xmlns='x'><System><EventID>3</EventID>");
    CHECK(feed_write(L"002", g_text));
}

static void test_oldest_batches(void)
{
    unsigned long long ids[32] = {0};
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    CHECK(sub != NULL);
    CHECK_INT_EQ(WaitForSingleObject(sig, 0), WAIT_OBJECT_0); /* Existing events are signalled at once. */
    EVT_HANDLE ev[3];
    DWORD got = 0;
    CHECK(EvtNext(sub, 3, ev, INFINITE, 0, &got));
    CHECK_INT_EQ(got, 3);
    for (DWORD i = 0; i < got; i++) {
        CHECK_INT_EQ(rendered_id(ev[i]), 101 + i);
        CHECK(EvtClose(ev[i]));
    }
    long n = drain_ids(sub, 3, ids, 32);
    CHECK_INT_EQ(n, 5);
    for (long i = 0; i < n && i < 5; i++)
        CHECK_INT_EQ(ids[i], 104 + i);
    got = 9;
    CHECK(!EvtNext(sub, 3, ev, 0, 0, &got));
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_OPERATION); /* Drained pull subscription: 4317, no handles. */
    CHECK_INT_EQ(got, 0);
    CHECK(EvtClose(sub));
    CHECK(!EvtClose(sub)); /* A closed handle is invalid. */
    CloseHandle(sig);
}

static void test_render_two_call(void)
{
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, NULL, NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    EVT_HANDLE ev = NULL;
    DWORD got = 0, used = 0, props = 7;
    CHECK(EvtNext(sub, 1, &ev, INFINITE, 0, &got) && got == 1);
    CHECK(!EvtRender(NULL, ev, EvtRenderEventXml, 0, NULL, &used, &props));
    CHECK_INT_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK_INT_EQ(props, 0);
    CHECK(used > 2 && used % 2 == 0);
    DWORD need = used;
    wchar_t *buf = malloc(need);
    CHECK(!EvtRender(NULL, ev, EvtRenderEventXml, need - 2, buf, &used, &props)); /* One character short. */
    CHECK_INT_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK_INT_EQ(used, need);
    CHECK(EvtRender(NULL, ev, EvtRenderEventXml, need, buf, &used, &props));
    CHECK_INT_EQ(used, need);
    CHECK_INT_EQ((wcslen(buf) + 1) * 2, need); /* BufferUsed counts bytes with the NUL. */
    CHECK(wcsncmp(buf, L"<Event ", 7) == 0);
    CHECK(wcsstr(buf, L"</Event>") != NULL);
    CHECK(!EvtRender(NULL, ev, EvtRenderBookmark, need, buf, &used, &props)); /* Wrong kind of handle. */
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    free(buf);
    EvtClose(ev);
    EvtClose(sub);
    CloseHandle(sig);
}

static void test_bookmarks(void)
{
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    EVT_HANDLE bm = EvtCreateBookmark(NULL);
    CHECK(bm != NULL);
    wchar_t *text = render_bookmark(bm);
    CHECK(text && wcscmp(text, L"<BookmarkList>\r\n</BookmarkList>") == 0);
    free(text);
    /* Take the third event (103) into the bookmark. */
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    EVT_HANDLE ev[3];
    DWORD got = 0;
    CHECK(EvtNext(sub, 3, ev, INFINITE, 0, &got) && got == 3);
    CHECK(EvtUpdateBookmark(bm, ev[2]));
    for (DWORD i = 0; i < got; i++)
        EvtClose(ev[i]);
    EvtClose(sub);
    text = render_bookmark(bm);
    CHECK(text && wcscmp(text, L"<BookmarkList>\r\n  <Bookmark "
                               L"Channel='" CHANNEL L"' RecordId='103' IsCurrent='true'/>\r\n</BookmarkList>") == 0);
    /* Round trip through the XML, then resume after it: 104.. with nothing repeated. */
    EVT_HANDLE bm2 = text ? EvtCreateBookmark(text) : NULL;
    free(text);
    CHECK(bm2 != NULL);
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm2, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    CHECK(sub != NULL);
    unsigned long long ids[16] = {0};
    long n = drain_ids(sub, 2, ids, 16);
    CHECK_INT_EQ(n, 5);
    for (long i = 0; i < n && i < 5; i++)
        CHECK_INT_EQ(ids[i], 104 + i);
    EvtClose(sub);
    EvtClose(bm2);
    /* Double quotes are accepted too. */
    bm2 = EvtCreateBookmark(L"<BookmarkList><Bookmark Channel=\"" CHANNEL L"\" RecordId=\"107\" IsCurrent=\"true\"/>"
                            L"</BookmarkList>");
    CHECK(bm2 != NULL);
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm2, NULL, NULL, EvtSubscribeStartAfterBookmark);
    n = drain_ids(sub, 8, ids, 16);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(ids[0], 108);
    EvtClose(sub);
    EvtClose(bm2);
    /* Malformed bookmark XML. */
    CHECK(EvtCreateBookmark(L"garbage") == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(EvtCreateBookmark(L"<BookmarkList><Bookmark Channel='x' RecordId='12a'/></BookmarkList>") == NULL);
    EvtClose(bm);
    CloseHandle(sig);
}

static void test_strict_rejection(void)
{
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    unsigned long long ids[16] = {0};
    /* Record 50 is not in the feed (like a log that wrapped): strict fails, non-strict starts after it. */
    EVT_HANDLE bm = EvtCreateBookmark(
        L"<BookmarkList>\r\n  <Bookmark Channel='" CHANNEL L"' RecordId='50' IsCurrent='true'/>\r\n</BookmarkList>");
    CHECK(bm != NULL);
    EVT_HANDLE sub =
        EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    CHECK(sub == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_NOT_FOUND);
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark);
    CHECK(sub != NULL);
    CHECK_INT_EQ(drain_ids(sub, 16, ids, 16), 8);
    CHECK_INT_EQ(ids[0], 101);
    EvtClose(sub);
    EvtClose(bm);
    /* An existing record, rejected through the control file. */
    bm = EvtCreateBookmark(L"<BookmarkList><Bookmark Channel='" CHANNEL L"' RecordId='103'/></BookmarkList>");
    CHECK(control_write(L"reject-bookmark", ""));
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    CHECK(sub == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_NOT_FOUND);
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, L"reject-bookmark");
    CHECK(DeleteFileW(path));
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    CHECK(sub != NULL);
    EvtClose(sub);
    EvtClose(bm);
    CloseHandle(sig);
}

static void test_live_and_faults(void)
{
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    unsigned long long ids[16] = {0};
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    CHECK(sub != NULL);
    CHECK_INT_EQ(drain_ids(sub, 4, ids, 16), 0);
    ResetEvent(sig);
    /* A new file while subscribed: the signal is set and the events come next (ids continue at 109). */
    g_text[0] = '\0';
    event_append(g_text, sizeof g_text, 0, "http://198.51.100.9/c.exe");
    event_append(g_text, sizeof g_text, 5, "http://198.51.100.9/d.exe"); /* Id 5 is not increasing: 110. */
    DWORD t0 = GetTickCount();
    CHECK(feed_write(L"003", g_text));
    CHECK_INT_EQ(WaitForSingleObject(sig, 10000), WAIT_OBJECT_0);
    fprintf(stderr, "live file signalled after %lu ms\n", GetTickCount() - t0);
    /* The signal means "new events": the first drain after it must find both. */
    long n = drain_ids(sub, 4, ids, 16);
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(ids[0], 109);
    CHECK_INT_EQ(ids[1], 110);
    /* fault-next: the next EvtNext fails once with that error, then the subscription goes on. */
    CHECK(control_write(L"fault-next.txt", "15011\n"));
    EVT_HANDLE ev[4];
    DWORD got = 9;
    CHECK(!EvtNext(sub, 4, ev, INFINITE, 0, &got));
    CHECK_INT_EQ(GetLastError(), ERROR_EVT_QUERY_RESULT_STALE);
    CHECK_INT_EQ(got, 0);
    CHECK(!control_exists(L"fault-next.txt"));
    CHECK(!EvtNext(sub, 4, ev, INFINITE, 0, &got));
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_OPERATION);
    /* outage: the live subscription breaks, the next two subscribes fail, the third works. */
    CHECK(control_write(L"outage.txt", "2"));
    CHECK(!EvtNext(sub, 4, ev, INFINITE, 0, &got));
    CHECK_INT_EQ(GetLastError(), RPC_S_SERVER_UNAVAILABLE);
    EvtClose(sub);
    for (int i = 0; i < 2; i++) {
        sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
        CHECK(sub == NULL);
        CHECK_INT_EQ(GetLastError(), RPC_S_SERVER_UNAVAILABLE);
    }
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    CHECK(sub != NULL);
    CHECK(!control_exists(L"outage.txt"));
    EvtClose(sub);
    CloseHandle(sig);
}

static void test_query_file(void)
{
    wchar_t path[MAX_PATH];
    unsigned long long ids[16] = {0};
    g_text[0] = '\0';
    for (unsigned i = 7; i <= 9; i++)
        event_append(g_text, sizeof g_text, i, "\\\\192.0.2.1\\share\\x.exe");
    path_join(path, g_dir, L"export.xml");
    CHECK(file_write(path, g_text, strlen(g_text)));
    EVT_HANDLE q = EvtQuery(NULL, path, L"*", EvtQueryFilePath | EvtQueryForwardDirection);
    CHECK(q != NULL);
    CHECK_INT_EQ(drain_ids(q, 2, ids, 16), 3);
    CHECK_INT_EQ(g_drain_end, ERROR_NO_MORE_ITEMS); /* A query's end is ERROR_NO_MORE_ITEMS. */
    CHECK_INT_EQ(ids[0], 7);
    CHECK_INT_EQ(ids[2], 9);
    EvtClose(q);
    path_join(path, g_dir, L"missing.xml");
    CHECK(EvtQuery(NULL, path, L"*", EvtQueryFilePath) == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_FILE_NOT_FOUND);
    q = EvtQuery(NULL, CHANNEL, L"*", EvtQueryChannelPath | EvtQueryForwardDirection);
    CHECK(q != NULL);
    CHECK_INT_EQ(drain_ids(q, 16, ids, 16), 10);
    EvtClose(q);
    CHECK(EvtQuery(NULL, L"Application", L"*", EvtQueryChannelPath) == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_EVT_CHANNEL_NOT_FOUND);
}

static volatile LONG g_push_count;
static volatile LONG g_push_bad;
static unsigned long long g_push_last;

static DWORD WINAPI push_callback(EVT_SUBSCRIBE_NOTIFY_ACTION action, PVOID ctx, EVT_HANDLE ev)
{
    (void)ctx;
    if (action != EvtSubscribeActionDeliver) {
        InterlockedIncrement(&g_push_bad);
        return 0;
    }
    unsigned long long id = rendered_id(ev);
    if (id <= g_push_last)
        InterlockedIncrement(&g_push_bad);
    g_push_last = id;
    InterlockedIncrement(&g_push_count);
    return 0;
}

static void test_push_model(void)
{
    EVT_HANDLE sub =
        EvtSubscribe(NULL, NULL, CHANNEL, L"*", NULL, NULL, push_callback, EvtSubscribeStartAtOldestRecord);
    CHECK(sub != NULL);
    for (int i = 0; i < 500 && g_push_count < 10; i++)
        Sleep(10);
    CHECK_INT_EQ(g_push_count, 10);
    CHECK_INT_EQ(g_push_bad, 0);
    EVT_HANDLE ev;
    DWORD got;
    CHECK(!EvtNext(sub, 1, &ev, 0, 0, &got)); /* Push subscriptions have no EvtNext. */
    CHECK(EvtClose(sub));
}

static void test_channel_config(void)
{
    EVT_VARIANT v;
    DWORD used = 0;
    CHECK(EvtOpenChannelConfig(NULL, L"NoSuch/Channel", 0) == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_EVT_CHANNEL_NOT_FOUND);
    EVT_HANDLE cfg = EvtOpenChannelConfig(NULL, CHANNEL, 0);
    CHECK(cfg != NULL);
    CHECK(!EvtGetChannelConfigProperty(cfg, EvtChannelConfigEnabled, 0, 0, NULL, &used));
    CHECK_INT_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK_INT_EQ(used, sizeof v);
    memset(&v, 0xff, sizeof v);
    CHECK(EvtGetChannelConfigProperty(cfg, EvtChannelConfigEnabled, 0, sizeof v, &v, &used));
    CHECK_INT_EQ(v.Type, EvtVarTypeBoolean);
    CHECK(v.BooleanVal);
    CHECK(control_write(L"channel-disabled", ""));
    CHECK(EvtGetChannelConfigProperty(cfg, EvtChannelConfigEnabled, 0, sizeof v, &v, &used));
    CHECK(!v.BooleanVal);
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, L"channel-disabled");
    DeleteFileW(path);
    CHECK(EvtClose(cfg));
    /* The access SDDL: two-call get, set kept in the handle, save visible to a new handle. */
    cfg = EvtOpenChannelConfig(NULL, CHANNEL, 0);
    CHECK(cfg != NULL);
    CHECK(!EvtGetChannelConfigProperty(cfg, EvtChannelConfigAccess, 0, 0, NULL, &used));
    CHECK_INT_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK(used > sizeof v);
    BYTE abuf[8192];
    EVT_VARIANT *av = (EVT_VARIANT *)abuf;
    EVT_HANDLE cfg2;
    CHECK(EvtGetChannelConfigProperty(cfg, EvtChannelConfigAccess, 0, sizeof abuf, av, &used));
    CHECK_INT_EQ(av->Type, EvtVarTypeString);
    CHECK(wcsncmp(av->StringVal, L"O:BAG:SYD:(A;;0xf0007;;;SY)", 27) == 0);
    CHECK(wcsstr(av->StringVal, L"(A;;0x3;;;SU)") != NULL); /* Windows' default lets services read. */
    /* The hardened knob: the same default without SU, for the installer's "append our ACE" path. */
    CHECK(control_write(L"channel-hardened", ""));
    cfg2 = EvtOpenChannelConfig(NULL, CHANNEL, 0);
    CHECK(EvtGetChannelConfigProperty(cfg2, EvtChannelConfigAccess, 0, sizeof abuf, av, &used));
    CHECK(wcsncmp(av->StringVal, L"O:BAG:SYD:(A;;0xf0007;;;SY)", 27) == 0);
    CHECK(wcsstr(av->StringVal, L";SU)") == NULL);
    CHECK(EvtClose(cfg2));
    path_join(path, g_feed, L"channel-hardened");
    DeleteFileW(path);
    EVT_VARIANT nv;
    memset(&nv, 0, sizeof nv);
    nv.Type = EvtVarTypeString;
    nv.StringVal = L"not sddl";
    CHECK(!EvtSetChannelConfigProperty(cfg, EvtChannelConfigAccess, 0, &nv));
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    nv.StringVal = L"O:BAG:SYD:(A;;0x1;;;SU)";
    CHECK(EvtSetChannelConfigProperty(cfg, EvtChannelConfigAccess, 0, &nv));
    cfg2 = EvtOpenChannelConfig(NULL, CHANNEL, 0);
    CHECK(EvtGetChannelConfigProperty(cfg2, EvtChannelConfigAccess, 0, sizeof abuf, av, &used));
    CHECK(wcsstr(av->StringVal, L"(A;;0x1;;;SU)") == NULL); /* Not saved yet. */
    CHECK(EvtClose(cfg2));
    CHECK(EvtSaveChannelConfig(cfg, 0));
    cfg2 = EvtOpenChannelConfig(NULL, CHANNEL, 0);
    CHECK(EvtGetChannelConfigProperty(cfg2, EvtChannelConfigAccess, 0, sizeof abuf, av, &used));
    CHECK(wcscmp(av->StringVal, L"O:BAG:SYD:(A;;0x1;;;SU)") == 0);
    CHECK(EvtClose(cfg2));
    CHECK(EvtClose(cfg));
    path_join(path, g_feed, L"channel-access.sddl");
    CHECK(DeleteFileW(path));
    /* A function the double does not provide fails cleanly instead of aborting. */
    CHECK(!EvtClearLog(NULL, CHANNEL, NULL, 0));
    CHECK_INT_EQ(GetLastError(), ERROR_CALL_NOT_IMPLEMENTED);
    wchar_t status[4] = L"x";
    CHECK_INT_EQ(EvtGetExtendedStatus(4, status, &used), ERROR_SUCCESS);
    CHECK(status[0] == L'\0');
}

/* A UTF-16LE feed file with BOM (as PowerShell writes), hostile pieces around it, and slow rendering. */
static void test_utf16_hostile_slow(void)
{
    static const wchar_t wtext[] = L"\xFEFF<Events><Event/><EventData>not an event</EventData>"
                                   L"<Event xmlns='e'><System><EventID>59</EventID></System><EventData>"
                                   L"<Data Name='url'>http://[2001:db8::1]/\x00e9t\x00e9.exe</Data></EventData></Event>"
                                   L"</Events>";
    wchar_t tmp[MAX_PATH], xml[MAX_PATH];
    unsigned long long ids[8] = {0};
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    path_join(tmp, g_feed, L"004.tmp");
    path_join(xml, g_feed, L"004.xml");
    CHECK(file_write(tmp, (const char *)wtext, sizeof wtext - sizeof(wchar_t)));
    CHECK(MoveFileExW(tmp, xml, 0));
    CHECK_INT_EQ(WaitForSingleObject(sig, 10000), WAIT_OBJECT_0);
    EVT_HANDLE ev[4];
    DWORD got = 0;
    CHECK(EvtNext(sub, 4, ev, INFINITE, 0, &got));
    CHECK_INT_EQ(got, 2);
    if (got == 2) {
        wchar_t *a = render_xml(ev[0]), *b = render_xml(ev[1]);
        CHECK(a && wcscmp(a, L"<Event/>") == 0); /* No <System>: rendered as it is. */
        CHECK(b && wcsstr(b, L"\x00e9t\x00e9.exe") != NULL);
        CHECK(b && wcsstr(b, L"<EventRecordID>112</EventRecordID></System>") != NULL);
        free(a);
        free(b);
        CHECK(control_write(L"slow-render.txt", "300"));
        DWORD t0 = GetTickCount();
        wchar_t *c = render_xml(ev[1]); /* Two calls: at least 600 ms. */
        DWORD took = GetTickCount() - t0;
        CHECK(c != NULL);
        CHECK(took >= 550);
        free(c);
        path_join(tmp, g_feed, L"slow-render.txt");
        DeleteFileW(tmp);
        EvtClose(ev[0]);
        EvtClose(ev[1]);
    }
    CHECK_INT_EQ(drain_ids(sub, 4, ids, 8), 0);
    EvtClose(sub);
    CloseHandle(sig);
}

/* feed\trace.txt: one line per subscribe and per event handed out. */
static void test_trace(void)
{
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, L"trace.txt");
    CHECK(control_write(L"trace.txt", ""));
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    EVT_HANDLE bm =
        EvtCreateBookmark(L"<BookmarkList><Bookmark Channel='" CHANNEL L"' RecordId='106'/></BookmarkList>");
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark);
    EVT_HANDLE ev[2];
    DWORD got = 0;
    CHECK(EvtNext(sub, 2, ev, INFINITE, 0, &got) && got == 2);
    for (DWORD i = 0; i < got; i++)
        EvtClose(ev[i]);
    EvtClose(sub);
    EvtClose(bm);
    CloseHandle(sig);
    HANDLE fh = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(fh != INVALID_HANDLE_VALUE);
    if (fh != INVALID_HANDLE_VALUE) {
        char buf[256] = "";
        DWORD n = 0;
        ReadFile(fh, buf, sizeof buf - 1, &n, NULL);
        buf[n] = '\0';
        CloseHandle(fh);
        CHECK_STR_EQ(buf, "subscribe origin 3 strict 0 after 106\nevent 107\nevent 108\n");
    }
    DeleteFileW(path);
}

/* The trace's text (feed\trace.txt) into buf. */
static void trace_read(char *buf, size_t cap)
{
    wchar_t path[MAX_PATH];
    DWORD n = 0;
    buf[0] = '\0';
    path_join(path, g_feed, L"trace.txt");
    HANDLE fh = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
    if (fh == INVALID_HANDLE_VALUE)
        return;
    if (ReadFile(fh, buf, (DWORD)cap - 1, &n, NULL))
        buf[n] = '\0';
    CloseHandle(fh);
}

/* Other channels have feeds of their own (feed\ForwardedEvents, feed\System): record ids, bookmarks and
 * trace lines per channel; a bookmark of one channel has no position in another; a structured query
 * names its channel in Path; a channel the double does not serve is not found. */
static void test_channels(void)
{
    wchar_t dir[MAX_PATH], tmp[MAX_PATH], xml[MAX_PATH];
    path_join(dir, g_feed, L"ForwardedEvents");
    CHECK(CreateDirectoryW(dir, NULL) || GetLastError() == ERROR_ALREADY_EXISTS);
    char text[4096] = "";
    for (unsigned i = 0; i < 3; i++)
        event_append(text, sizeof text, 0, "http://45.33.32.156/fwd");
    path_join(tmp, dir, L"001.tmp");
    path_join(xml, dir, L"001.xml");
    CHECK(file_write(tmp, text, strlen(text)) && MoveFileExW(tmp, xml, MOVEFILE_REPLACE_EXISTING));
    CHECK(control_write(L"trace.txt", ""));
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    EVT_HANDLE sub =
        EvtSubscribe(NULL, sig, L"forwardedevents", L"*", NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    CHECK(sub != NULL);
    CHECK_INT_EQ(WaitForSingleObject(sig, 0), WAIT_OBJECT_0); /* Events are there at once. */
    EVT_HANDLE ev[4];
    DWORD got = 0;
    CHECK(EvtNext(sub, 4, ev, INFINITE, 0, &got) && got == 3);
    EVT_HANDLE bm = EvtCreateBookmark(NULL);
    if (got == 3) {
        CHECK_INT_EQ(rendered_id(ev[0]), 1); /* Its own numbering, not the Bits-Client log's. */
        CHECK_INT_EQ(rendered_id(ev[2]), 3);
        CHECK(EvtUpdateBookmark(bm, ev[1]));
    }
    for (DWORD i = 0; i < got; i++)
        EvtClose(ev[i]);
    EvtClose(sub);
    wchar_t *bmtext = render_bookmark(bm);
    CHECK(bmtext && wcscmp(bmtext, L"<BookmarkList>\r\n  <Bookmark Channel='ForwardedEvents' RecordId='2' "
                                   L"IsCurrent='true'/>\r\n</BookmarkList>") == 0);
    free(bmtext);
    /* After the bookmark on its channel: event 3 only. On the Bits-Client channel: not found (strict). */
    sub = EvtSubscribe(NULL, sig, L"ForwardedEvents", L"*", bm, NULL, NULL,
                       EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    unsigned long long ids[8] = {0};
    CHECK_INT_EQ(drain_ids(sub, 8, ids, 8), 1);
    CHECK_INT_EQ(ids[0], 3);
    EvtClose(sub);
    CHECK(EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict) ==
          NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_NOT_FOUND);
    EvtClose(bm);
    /* A structured query reads the channel of its Path; the System log is served (empty here). */
    sub = EvtSubscribe(NULL, sig, NULL,
                       L"<QueryList><Query Id='0' Path='ForwardedEvents'><Select Path='ForwardedEvents'>*</Select>"
                       L"</Query></QueryList>",
                       NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    CHECK(sub != NULL);
    CHECK_INT_EQ(drain_ids(sub, 8, ids, 8), 3);
    EvtClose(sub);
    sub = EvtSubscribe(NULL, sig, L"System", L"*", NULL, NULL, NULL, EvtSubscribeStartAtOldestRecord);
    CHECK(sub != NULL);
    CHECK_INT_EQ(drain_ids(sub, 8, ids, 8), 0);
    EvtClose(sub);
    CHECK(EvtSubscribe(NULL, sig, NULL, L"<QueryList><Query Id='0' Path='Application'/></QueryList>", NULL, NULL, NULL,
                       EvtSubscribeStartAtOldestRecord) == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_EVT_CHANNEL_NOT_FOUND);
    CloseHandle(sig);
    char trace[1024];
    trace_read(trace, sizeof trace);
    CHECK(strstr(trace, "subscribe origin 2 strict 0 after 0 ForwardedEvents\nevent 1 ForwardedEvents\n"
                        "event 2 ForwardedEvents\nevent 3 ForwardedEvents\n") != NULL);
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, L"trace.txt");
    DeleteFileW(path);
}

/* The answers Windows gives where mature readers lost events: 4317 on an empty pull subscription,
 * STALE/INVALID_POSITION for a strict bookmark, a silent Event Log restart, RPC_S_INVALID_BOUND for a
 * batch too large, and the log's creation time. Each fault appends "fault NAME CODE" to the trace. */
static void test_windows_faults(void)
{
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    unsigned long long ids[32] = {0};
    char trace[4096];
    EVT_HANDLE ev[16];
    DWORD got = 9;
    CHECK(control_write(L"trace.txt", ""));
    /* 4317 with zero handles at once on a fresh future-events subscription. */
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    CHECK(sub != NULL);
    CHECK(!EvtNext(sub, 4, ev, 1000, 0, &got));
    CHECK_INT_EQ(GetLastError(), ERROR_INVALID_OPERATION);
    CHECK_INT_EQ(got, 0);
    CHECK(control_write(L"idle-next.txt", "259")); /* The lenient answer on request. */
    CHECK(!EvtNext(sub, 4, ev, 1000, 0, &got));
    CHECK_INT_EQ(GetLastError(), ERROR_NO_MORE_ITEMS);
    wchar_t idle[MAX_PATH];
    path_join(idle, g_feed, L"idle-next.txt");
    CHECK(DeleteFileW(idle));
    EvtClose(sub);

    /* bookmark-error.txt: the next strict subscribe after a bookmark fails with its code, once. */
    EVT_HANDLE bm =
        EvtCreateBookmark(L"<BookmarkList><Bookmark Channel='" CHANNEL L"' RecordId='103'/></BookmarkList>");
    static const DWORD codes[] = {ERROR_EVT_QUERY_RESULT_STALE, ERROR_EVT_QUERY_RESULT_INVALID_POSITION,
                                  ERROR_NOT_FOUND};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char text[16];
        snprintf(text, sizeof text, "%lu\n", (unsigned long)codes[i]);
        CHECK(control_write(L"bookmark-error.txt", text));
        sub =
            EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
        CHECK(sub == NULL);
        CHECK_INT_EQ(GetLastError(), codes[i]);
        CHECK(!control_exists(L"bookmark-error.txt"));
    }
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    CHECK(sub != NULL); /* Consumed: the same bookmark works again. */
    EvtClose(sub);
    trace_read(trace, sizeof trace);
    CHECK(strstr(trace, "fault bookmark-error 15011\nsubscribe error 15011\n") != NULL);
    CHECK(strstr(trace, "fault bookmark-error 15012\n") != NULL);
    CHECK(strstr(trace, "fault bookmark-error 1168\n") != NULL);

    /* eventlog-restart: the live subscription dies silently, later ones work. */
    EVT_HANDLE old = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    CHECK(old != NULL);
    ResetEvent(sig);
    CHECK(control_write(L"eventlog-restart", ""));
    for (int i = 0; i < 50 && control_exists(L"eventlog-restart"); i++)
        Sleep(100); /* The watcher applies it within its 500 ms rescan. */
    CHECK(!control_exists(L"eventlog-restart"));
    g_text[0] = '\0';
    event_append(g_text, sizeof g_text, 0, "http://198.51.100.20/r.exe");
    CHECK(feed_write(L"005", g_text));
    CHECK_INT_EQ(WaitForSingleObject(sig, 1500), WAIT_TIMEOUT); /* No signal for the dead one. */
    CHECK(!EvtNext(old, 4, ev, 1000, 0, &got));
    CHECK_INT_EQ(GetLastError(), RPC_S_SERVER_UNAVAILABLE);
    CHECK_INT_EQ(got, 0);
    CHECK(!EvtNext(old, 4, ev, 1000, 0, &got)); /* For good. */
    CHECK_INT_EQ(GetLastError(), RPC_S_SERVER_UNAVAILABLE);
    EvtClose(old);
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    CHECK(sub != NULL);
    long n = drain_ids(sub, 16, ids, 32);
    CHECK(n >= 8); /* 104 .. the record of 005. */
    CHECK_INT_EQ(g_drain_end, ERROR_INVALID_OPERATION);
    EvtClose(sub);
    /* Applied at the next call too, without waiting for the watcher. */
    old = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    CHECK(control_write(L"eventlog-restart", ""));
    CHECK(!EvtNext(old, 4, ev, 1000, 0, &got));
    CHECK_INT_EQ(GetLastError(), RPC_S_SERVER_UNAVAILABLE);
    EvtClose(old);
    trace_read(trace, sizeof trace);
    CHECK(strstr(trace, "fault eventlog-restart 1722\n") != NULL);

    /* max-batch-bytes.txt: a batch over N bytes of UTF-16 XML fails with 1734 and hands out nothing; one
     * event alone passes; the same events come next. An event here is well over 400 bytes. */
    CHECK(control_write(L"max-batch-bytes.txt", "400"));
    sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", bm, NULL, NULL, EvtSubscribeStartAfterBookmark | EvtSubscribeStrict);
    got = 9;
    CHECK(!EvtNext(sub, 4, ev, 1000, 0, &got));
    CHECK_INT_EQ(GetLastError(), RPC_S_INVALID_BOUND);
    CHECK_INT_EQ(got, 0);
    CHECK(EvtNext(sub, 1, ev, 1000, 0, &got));
    CHECK_INT_EQ(got, 1);
    if (got == 1) {
        CHECK_INT_EQ(rendered_id(ev[0]), 104); /* Nothing was consumed by the failed call. */
        EvtClose(ev[0]);
    }
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, L"max-batch-bytes.txt");
    CHECK(DeleteFileW(path));
    CHECK(EvtNext(sub, 4, ev, 1000, 0, &got));
    CHECK_INT_EQ(got, 4);
    for (DWORD i = 0; i < got && i < 4; i++) {
        CHECK_INT_EQ(rendered_id(ev[i]), 105 + i);
        EvtClose(ev[i]);
    }
    EvtClose(sub);
    trace_read(trace, sizeof trace);
    CHECK(strstr(trace, "fault max-batch-bytes 1734\n") != NULL);
    EvtClose(bm);

    /* The log's creation time: a default, or feed\log-created.txt (a test's "cleared log"). */
    EVT_VARIANT v;
    DWORD used = 0;
    EVT_HANDLE log = EvtOpenLog(NULL, CHANNEL, EvtOpenChannelPath);
    CHECK(log != NULL);
    CHECK(!EvtGetLogInfo(log, EvtLogCreationTime, 0, NULL, &used));
    CHECK_INT_EQ(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK(EvtGetLogInfo(log, EvtLogCreationTime, sizeof v, &v, &used));
    CHECK_INT_EQ(v.Type, EvtVarTypeFileTime);
    unsigned long long first = v.FileTimeVal;
    CHECK(first != 0);
    CHECK(control_write(L"log-created.txt", "134200000000000000\n"));
    CHECK(EvtGetLogInfo(log, EvtLogCreationTime, sizeof v, &v, &used));
    CHECK(v.FileTimeVal == 134200000000000000ull);
    path_join(path, g_feed, L"log-created.txt");
    DeleteFileW(path);
    CHECK(!EvtGetLogInfo(log, EvtLogNumberOfLogRecords, sizeof v, &v, &used));
    CHECK_INT_EQ(GetLastError(), ERROR_NOT_SUPPORTED);
    CHECK(EvtClose(log));
    CHECK(EvtOpenLog(NULL, L"Application", EvtOpenChannelPath) == NULL);
    CHECK_INT_EQ(GetLastError(), ERROR_EVT_CHANNEL_NOT_FOUND);
    path_join(path, g_feed, L"trace.txt");
    DeleteFileW(path);
    CloseHandle(sig);
}

/* ---------- parent: a private copy of exe + DLL per run ---------- */

static void tree_remove(const wchar_t *dir)
{
    wchar_t pattern[MAX_PATH], path[MAX_PATH];
    WIN32_FIND_DATAW fd;
    path_join(pattern, dir, L"*");
    HANDLE fh = FindFirstFileW(pattern, &fd);
    if (fh != INVALID_HANDLE_VALUE) {
        do {
            if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
                continue;
            path_join(path, dir, fd.cFileName);
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
                tree_remove(path);
            else
                DeleteFileW(path);
        } while (FindNextFileW(fh, &fd));
        FindClose(fh);
    }
    RemoveDirectoryW(dir);
}

static int run_parent(void)
{
    wchar_t self[MAX_PATH], dir[MAX_PATH], tmp[MAX_PATH], work[MAX_PATH], src[MAX_PATH], dst[MAX_PATH];
    wchar_t cmd[3 * MAX_PATH];
    DWORD code = 1;
    GetModuleFileNameW(NULL, self, MAX_PATH);
    _snwprintf(dir, MAX_PATH, L"%ls", self);
    *wcsrchr(dir, L'\\') = L'\0';
    GetTempPathW(MAX_PATH, tmp);
    _snwprintf(work, MAX_PATH, L"%lswevtdouble-%lu-%lu", tmp, GetCurrentProcessId(), GetTickCount());
    work[MAX_PATH - 1] = L'\0';
    if (!CreateDirectoryW(work, NULL)) {
        fprintf(stderr, "cannot create %ls\n", work);
        return 1;
    }
    path_join(dst, work, L"test_wevtapi_double.exe");
    path_join(src, dir, L"wevtapi.dll");
    wchar_t dlldst[MAX_PATH];
    path_join(dlldst, work, L"wevtapi.dll");
    if (!CopyFileW(self, dst, FALSE) || !CopyFileW(src, dlldst, FALSE)) {
        fprintf(stderr, "cannot copy the test and %ls into %ls\n", src, work);
        tree_remove(work);
        return 1;
    }
    _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" --child", dst);
    cmd[sizeof cmd / sizeof cmd[0] - 1] = L'\0';
    STARTUPINFOW si = {.cb = sizeof si};
    PROCESS_INFORMATION pi;
    if (CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, work, &si, &pi)) {
        WaitForSingleObject(pi.hProcess, INFINITE);
        GetExitCodeProcess(pi.hProcess, &code);
        CloseHandle(pi.hThread);
        CloseHandle(pi.hProcess);
    } else {
        fprintf(stderr, "cannot start %ls: %lu\n", cmd, GetLastError());
    }
    tree_remove(work);
    return (int)code;
}

/* channel-disabled: the subscription stays alive but silent (Windows logs nothing to a disabled channel),
 * the configuration says disabled, and what was written meanwhile is never handed out, also after the
 * channel is enabled again; events written after that flow as before. */
static void test_channel_disabled(void)
{
    HANDLE sig = CreateEventW(NULL, TRUE, FALSE, NULL);
    unsigned long long ids[16] = {0};
    EVT_HANDLE sub = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    CHECK(sub != NULL);
    CHECK_INT_EQ(drain_ids(sub, 4, ids, 16), 0);
    ResetEvent(sig);
    CHECK(control_write(L"channel-disabled", ""));
    EVT_HANDLE cfg = EvtOpenChannelConfig(NULL, CHANNEL, 0);
    EVT_VARIANT v;
    DWORD used = 0;
    CHECK(cfg != NULL);
    CHECK(EvtGetChannelConfigProperty(cfg, EvtChannelConfigEnabled, 0, sizeof v, &v, &used));
    CHECK(v.Type == EvtVarTypeBoolean && !v.BooleanVal);
    g_text[0] = '\0';
    event_append(g_text, sizeof g_text, 0, "http://198.51.100.30/lost.exe");
    CHECK(feed_write(L"007", g_text));
    CHECK_INT_EQ(WaitForSingleObject(sig, 2000), WAIT_TIMEOUT); /* Nothing logged: no signal. */
    CHECK_INT_EQ(drain_ids(sub, 4, ids, 16), 0);
    CHECK_INT_EQ(g_drain_end, ERROR_INVALID_OPERATION);
    /* A subscription made while disabled succeeds and is just as silent. */
    EVT_HANDLE sub2 = EvtSubscribe(NULL, sig, CHANNEL, L"*", NULL, NULL, NULL, EvtSubscribeToFutureEvents);
    CHECK(sub2 != NULL);
    CHECK_INT_EQ(drain_ids(sub2, 4, ids, 16), 0);
    EvtClose(sub2);
    wchar_t path[MAX_PATH];
    path_join(path, g_feed, L"channel-disabled");
    CHECK(DeleteFileW(path));
    CHECK(EvtGetChannelConfigProperty(cfg, EvtChannelConfigEnabled, 0, sizeof v, &v, &used));
    CHECK(v.BooleanVal);
    EvtClose(cfg);
    g_text[0] = '\0';
    event_append(g_text, sizeof g_text, 0, "http://198.51.100.31/later.exe");
    CHECK(feed_write(L"008", g_text));
    CHECK_INT_EQ(WaitForSingleObject(sig, 10000), WAIT_OBJECT_0);
    memset(ids, 0, sizeof ids);
    CHECK_INT_EQ(drain_ids(sub, 4, ids, 16), 1); /* 008's event only: 007's was never logged. */
    EvtClose(sub);
    /* Read from the oldest record, the lost event is not there either. */
    EVT_HANDLE q = EvtQuery(NULL, CHANNEL, L"*", EvtQueryChannelPath | EvtQueryForwardDirection);
    CHECK(q != NULL);
    unsigned long long all[64] = {0};
    long n = drain_ids(q, 16, all, 64);
    CHECK(n > 1);
    CHECK(n > 0 && n <= 64 && all[n - 1] == ids[0]);
    CHECK(n > 1 && n <= 64 && all[n - 2] + 1 == ids[0]); /* No record id was given to the lost event. */
    EvtClose(q);
    CloseHandle(sig);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--child") != 0)
        return run_parent();
    GetModuleFileNameW(NULL, g_dir, MAX_PATH);
    *wcsrchr(g_dir, L'\\') = L'\0';
    path_join(g_feed, g_dir, L"feed");
    CreateDirectoryW(g_feed, NULL);
    CHECK_RUN(test_double_is_loaded);
    CHECK_RUN(test_argument_errors);
    feed_initial();
    CHECK_RUN(test_oldest_batches);
    CHECK_RUN(test_render_two_call);
    CHECK_RUN(test_bookmarks);
    CHECK_RUN(test_strict_rejection);
    CHECK_RUN(test_live_and_faults);
    CHECK_RUN(test_query_file);
    CHECK_RUN(test_push_model);
    CHECK_RUN(test_channel_config);
    CHECK_RUN(test_utf16_hostile_slow);
    CHECK_RUN(test_trace);
    CHECK_RUN(test_windows_faults);
    CHECK_RUN(test_channels);
    CHECK_RUN(test_channel_disabled);
    return CHECK_DONE();
}
