/* wevtapi.dll test double: the Evt* contract the service uses, fed from XML files in a folder beside the DLL. */
/*
 * Why: Wine's wevtapi is a stub (EvtSubscribe returns NULL, EvtRender/EvtCreateBookmark abort the process),
 * so the production bitsguard.exe cannot run its event code under Wine. This DLL, placed next to the exe,
 * is loaded instead of Wine's and follows Microsoft's documented contract for the functions below.
 * See tests/wevtapi/README.md for the feed folder, control files and every deliberate simplification.
 *
 * Event source: every `*.xml` file of the folder `feed` beside this DLL. Each `<Event ...>...</Event>`
 * element found by a bounded text scan is one event of the channel Microsoft-Windows-Bits-Client/Operational.
 * Files are taken in name order when first seen; files that appear later are appended (live events) by a
 * watcher thread that waits on a directory change notification, with a 500 ms rescan as a fallback because
 * Wine sometimes misses a rename (without it, 1 of 25 contract-test runs lost the live file's signal).
 * Record ids: an event's own <EventRecordID> when it is larger than the previous id, else previous + 1, so
 * ids are strictly increasing; the rendered XML carries the id that was handed out.
 *
 * Memory: per feed file a small record (path, first/last id); events are re-read from their file when a
 * result set reaches that file (holding that one file's text and offsets meanwhile), so memory does not
 * grow with the number of events handed out, only with the number of files.
 * Feed files must be complete when they appear (write name.tmp, then rename to name.xml) and never change.
 */
#include <windows.h>
#include <winevt.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#define DOUBLE_CHANNEL     L"Microsoft-Windows-Bits-Client/Operational"
#define DOUBLE_FILE_MAX    (256u * 1024u * 1024u) /* A feed file larger than this is skipped. */
#define DOUBLE_EVENT_MAX   (16u * 1024u * 1024u)  /* An event larger than this is skipped. */
#define DOUBLE_ACCESS_MAX  2048                   /* Characters of a channel's access SDDL. */
#define DOUBLE_ACCESS_FILE L"channel-access.sddl"
/* Windows' default channel access (documented for the System log, seen on Operational channels in WEF
 * guides): it lets SU (every service's token) read. feed\channel-hardened selects the hardened variant
 * without SU, so the installer's "append our ACE" path stays testable. */
#define DOUBLE_ACCESS_DEFAULT                                                                                         \
    L"O:BAG:SYD:(A;;0xf0007;;;SY)(A;;0x7;;;BA)(A;;0x3;;;BO)(A;;0x5;;;SO)(A;;0x1;;;IU)(A;;0x3;;;SU)(A;;0x1;;;S-1-5-3)" \
    L"(A;;0x2;;;S-1-5-33)(A;;0x1;;;S-1-5-32-573)"
#define DOUBLE_ACCESS_HARDENED \
    L"O:BAG:SYD:(A;;0xf0007;;;SY)(A;;0x7;;;BA)(A;;0x3;;;BO)(A;;0x5;;;SO)(A;;0x1;;;IU)(A;;0x1;;;S-1-5-32-573)"
/* The log's creation time (FILETIME) while feed\log-created.txt does not say otherwise: 2026-01-01. */
#define DOUBLE_LOG_CREATED 134116992000000000ull
#define DOUBLE_CHANNEL_MAX 256 /* Characters of a bookmark's channel name. */
#define DOUBLE_CONTROL_MAX 64  /* Bytes read from a control file. */
#define DOUBLE_POLL_MS     100 /* Only when change notifications are unavailable. */
#define DOUBLE_FALLBACK_MS 500 /* Rescan period when notifications are missed. */

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved);
DWORD WINAPI wevtdouble_unimplemented(void);

/* ---------- feed: the list of files and the events they hold ---------- */

typedef struct feed_file {
    wchar_t *path;
    uint64_t prev_id;  /* Last id before this file: ids are recomputed from it when the file is re-read. */
    uint64_t first_id; /* Valid when count > 0. */
    uint64_t last_id;
    size_t count;
} feed_file;

typedef struct feed {
    feed_file *files;
    size_t nfiles, cap;
    uint64_t last_id;
} feed;

/* One event as found in a scanned file buffer. */
typedef struct scan_event {
    size_t off, len;
    uint64_t id;
    size_t id_off, id_len; /* Digits of <EventRecordID> inside the event, id_len 0 when absent. */
    size_t sys_close;      /* Offset of </System> when there is no <EventRecordID>, 0 when neither. */
} scan_event;

typedef struct scan_result {
    char *buf;
    size_t len;
    scan_event *evs;
    size_t n;
} scan_result;

/* ---------- handles ---------- */

enum obj_kind { OBJ_EVENT = 0x45564e54, OBJ_BOOKMARK, OBJ_SUBSCRIPTION, OBJ_QUERY, OBJ_CHANNEL_CONFIG, OBJ_LOG };

typedef struct obj {
    enum obj_kind kind;
    struct obj *prev, *next; /* Registry of live handles: a handle is valid only while listed. */
} obj;

typedef struct event_obj {
    obj h;
    uint64_t id;
    int chan;     /* Index in g_chans of the channel it was read from. */
    wchar_t *xml; /* UTF-16, NUL-terminated. */
    size_t chars; /* Without the NUL. */
} event_obj;

typedef struct bookmark_obj {
    obj h;
    int has_position;
    uint64_t id;
    wchar_t channel[DOUBLE_CHANNEL_MAX + 1];
} bookmark_obj;

/* A position in a feed: the next event to hand out is the first with id > after_id from file_idx on. */
typedef struct cursor {
    feed *f;
    size_t file_idx, ev_idx;
    uint64_t after_id;
    size_t loaded_idx; /* Index of the file whose scan is in `scan`, SIZE_MAX when none. */
    scan_result scan;
} cursor;

typedef struct result_obj {
    obj h;
    cursor cur;
    /* Subscriptions only. */
    HANDLE signal; /* Duplicate of the caller's event (pull model), NULL in the push model. */
    EVT_SUBSCRIBE_CALLBACK callback;
    void *context;
    HANDLE wake, stop, thread; /* Push model delivery thread. */
    DWORD thread_id;
    DWORD dead;     /* Non-zero: the subscription is broken (outage); every EvtNext fails with it. */
    int silent;     /* Broken by an Event Log restart: nobody signals it any more (as on Windows). */
    int error_sent; /* Push model: the error was reported to the callback. */
    feed own;       /* EvtQuery on a file: a private feed of that one file. */
    int chan;       /* Index in g_chans of the channel read (0 for a file query). */
    struct result_obj *next_sub;
} result_obj;

/* ---------- global state, all under g_lock ---------- */

static CRITICAL_SECTION g_lock;
static HMODULE g_module;
static wchar_t g_feed_dir[MAX_PATH];
/*
 * The channels the double serves, each from its own folder: Microsoft-Windows-Bits-Client/Operational from
 * the feed folder itself (as always), the others from a sub-folder of it named like the channel
 * (feed\ForwardedEvents, feed\System). Record ids are per channel, as in separate logs.
 */
typedef struct chan_feed {
    const wchar_t *name;
    const wchar_t *sub; /* Sub-folder of feed, NULL for the feed folder. */
    feed f;
} chan_feed;
static chan_feed g_chans[] = {
    {DOUBLE_CHANNEL, NULL, {0}},
    {L"ForwardedEvents", L"ForwardedEvents", {0}},
    {L"System", L"System", {0}},
};
#define DOUBLE_CHANS           ((int)(sizeof g_chans / sizeof g_chans[0]))
#define DOUBLE_CHANNELS_SERVED DOUBLE_CHANS
static obj g_handles = {OBJ_EVENT, &g_handles, &g_handles};
static result_obj *g_subs;
static HANDLE g_watcher;

/* ---------- small helpers ---------- */

static void registry_add(obj *o, enum obj_kind kind)
{
    o->kind = kind;
    o->next = g_handles.next;
    o->prev = &g_handles;
    g_handles.next->prev = o;
    g_handles.next = o;
}

static void registry_remove(obj *o)
{
    o->prev->next = o->next;
    o->next->prev = o->prev;
    o->next = o->prev = NULL;
}

/* Returns the live object behind handle h when it is of the wanted kind (0: any kind), else NULL. */
static obj *registry_find(EVT_HANDLE h, enum obj_kind kind)
{
    for (obj *o = g_handles.next; o != &g_handles; o = o->next) {
        if ((EVT_HANDLE)o == h)
            return (kind == 0 || o->kind == kind) ? o : NULL;
    }
    return NULL;
}

/* Builds "<feed dir>\name" into out (MAX_PATH characters); 0 when it does not fit. */
static int feed_path(const wchar_t *name, wchar_t *out)
{
    size_t dl = wcslen(g_feed_dir), nl = wcslen(name);
    if (dl + 1 + nl + 1 > MAX_PATH)
        return 0;
    memcpy(out, g_feed_dir, dl * sizeof(wchar_t));
    out[dl] = L'\\';
    memcpy(out + dl + 1, name, (nl + 1) * sizeof(wchar_t));
    return 1;
}

/* Reads a whole file (up to max bytes) into a NUL-terminated heap buffer. */
static int file_read_all(const wchar_t *path, size_t max, char **out, size_t *out_len)
{
    int ok = 0;
    char *buf = NULL;
    LARGE_INTEGER size;
    DWORD got = 0;
    HANDLE fh = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                            OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (fh == INVALID_HANDLE_VALUE)
        return 0;
    if (!GetFileSizeEx(fh, &size) || size.QuadPart < 0 || (uint64_t)size.QuadPart > max)
        goto cleanup;
    buf = malloc((size_t)size.QuadPart + 1);
    if (!buf)
        goto cleanup;
    if (size.QuadPart > 0 && (!ReadFile(fh, buf, (DWORD)size.QuadPart, &got, NULL) || got != (DWORD)size.QuadPart))
        goto cleanup;
    buf[size.QuadPart] = '\0';
    *out = buf;
    *out_len = (size_t)size.QuadPart;
    buf = NULL;
    ok = 1;
cleanup:
    free(buf);
    CloseHandle(fh);
    return ok;
}

/* Reads a small control file of the feed folder: 1 and its number in *value (0 if none), 0 if absent. */
static int control_read(const wchar_t *name, unsigned long *value)
{
    wchar_t path[MAX_PATH];
    char *text = NULL;
    size_t len = 0;
    *value = 0;
    if (!feed_path(name, path) || GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES)
        return 0;
    if (file_read_all(path, 4096, &text, &len)) {
        *value = strtoul(text, NULL, 10);
        free(text);
    }
    return 1;
}

static void control_write(const wchar_t *name, unsigned long value)
{
    wchar_t path[MAX_PATH];
    char text[DOUBLE_CONTROL_MAX];
    DWORD put = 0;
    if (!feed_path(name, path))
        return;
    int n = snprintf(text, sizeof text, "%lu\n", value);
    HANDLE fh = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (fh == INVALID_HANDLE_VALUE)
        return;
    WriteFile(fh, text, (DWORD)n, &put, NULL);
    CloseHandle(fh);
}

static void control_delete(const wchar_t *name)
{
    wchar_t path[MAX_PATH];
    if (feed_path(name, path))
        DeleteFileW(path);
}

/* Appends to feed\trace.txt when that file exists (tests create it to see what was handed out). */
static void trace_append(const char *text, size_t len)
{
    wchar_t path[MAX_PATH];
    DWORD put = 0;
    if (len == 0 || !feed_path(L"trace.txt", path))
        return;
    HANDLE fh = CreateFileW(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                            OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (fh == INVALID_HANDLE_VALUE)
        return;
    WriteFile(fh, text, (DWORD)len, &put, NULL);
    CloseHandle(fh);
}

/* Appends "fault NAME CODE" to feed\trace.txt: every control file that fires says so. */
static void trace_fault(const char *name, unsigned long code)
{
    char line[96];
    int n = snprintf(line, sizeof line, "fault %s %lu\n", name, code);
    if (n > 0 && (size_t)n < sizeof line)
        trace_append(line, (size_t)n);
}

/*
 * feed\eventlog-restart: the Event Log service restarted. Every live subscription dies silently (no
 * signal; its next EvtNext fails with RPC_S_SERVER_UNAVAILABLE); subscriptions made afterwards work. The
 * file is deleted once applied. Called with the lock held by the watcher, EvtSubscribe and EvtNext, so it
 * takes effect at the very next call.
 */
static void eventlog_restart_apply(void)
{
    unsigned long dummy = 0;
    if (!control_read(L"eventlog-restart", &dummy))
        return;
    for (result_obj *s = g_subs; s; s = s->next_sub) {
        s->dead = RPC_S_SERVER_UNAVAILABLE;
        s->silent = 1;
    }
    control_delete(L"eventlog-restart");
    trace_fault("eventlog-restart", RPC_S_SERVER_UNAVAILABLE);
}

/* ---------- bounded text scanning ---------- */

static const char *mem_find(const char *hay, size_t hay_len, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0 || hay_len < nl)
        return NULL;
    for (size_t i = 0; i + nl <= hay_len; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, nl) == 0)
            return hay + i;
    }
    return NULL;
}

static int is_name_end(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '>' || c == '/';
}

/* Parses decimal digits [p, p+len) into *out without overflow; 0 if not a plain number. */
static int parse_u64(const char *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* Finds the <EventRecordID> digits inside one event; 1 with offset/length relative to ev. */
static int event_record_id(const char *ev, size_t len, uint64_t *id, size_t *off, size_t *dlen)
{
    const char *open = mem_find(ev, len, "<EventRecordID>");
    if (!open)
        return 0;
    const char *digits = open + strlen("<EventRecordID>");
    size_t rest = len - (size_t)(digits - ev);
    const char *close = mem_find(digits, rest, "</EventRecordID>");
    if (!close || !parse_u64(digits, (size_t)(close - digits), id))
        return 0;
    *off = (size_t)(digits - ev);
    *dlen = (size_t)(close - digits);
    return 1;
}

static void scan_free(scan_result *s)
{
    free(s->buf);
    free(s->evs);
    memset(s, 0, sizeof *s);
}

/*
 * Reads one feed file and cuts it into events, assigning ids after prev_id. UTF-16LE files (with a BOM, as
 * PowerShell writes them) are converted to UTF-8 first. A truncated last event ends the scan.
 */
static int scan_file(const wchar_t *path, uint64_t prev_id, scan_result *out)
{
    scan_result s = {0};
    size_t cap = 0;
    if (!file_read_all(path, DOUBLE_FILE_MAX, &s.buf, &s.len))
        return 0;
    if (s.len >= 2 && (unsigned char)s.buf[0] == 0xFF && (unsigned char)s.buf[1] == 0xFE) {
        int wlen = (int)((s.len - 2) / 2);
        const wchar_t *w = (const wchar_t *)(void *)(s.buf + 2);
        int need = wlen ? WideCharToMultiByte(CP_UTF8, 0, w, wlen, NULL, 0, NULL, NULL) : 0;
        char *u = malloc((size_t)need + 1);
        if (!u) {
            scan_free(&s);
            return 0;
        }
        if (need)
            WideCharToMultiByte(CP_UTF8, 0, w, wlen, u, need, NULL, NULL);
        u[need] = '\0';
        free(s.buf);
        s.buf = u;
        s.len = (size_t)need;
    }
    size_t pos = 0;
    uint64_t last = prev_id;
    while (pos < s.len) {
        const char *start = mem_find(s.buf + pos, s.len - pos, "<Event");
        if (!start)
            break;
        size_t so = (size_t)(start - s.buf);
        if (so + 6 >= s.len || !is_name_end(s.buf[so + 6])) {
            pos = so + 6; /* <Events>, <EventData>...: not an event element. */
            continue;
        }
        size_t end;
        const char *gt = memchr(s.buf + so, '>', s.len - so);
        if (!gt)
            break;
        if (gt > s.buf + so && gt[-1] == '/') {
            end = (size_t)(gt - s.buf) + 1; /* <Event/>: an empty (hostile) event. */
        } else {
            size_t search = (size_t)(gt - s.buf);
            end = 0;
            while (search < s.len) {
                const char *close = mem_find(s.buf + search, s.len - search, "</Event");
                if (!close)
                    break;
                size_t co = (size_t)(close - s.buf) + 7;
                while (co < s.len && (s.buf[co] == ' ' || s.buf[co] == '\t' || s.buf[co] == '\r' || s.buf[co] == '\n'))
                    co++;
                if (co < s.len && s.buf[co] == '>') {
                    end = co + 1;
                    break;
                }
                search = co; /* </EventData>...: keep looking. */
            }
            if (!end)
                break; /* Truncated: the rest of the file is not an event. */
        }
        pos = end;
        if (end - so > DOUBLE_EVENT_MAX)
            continue;
        if (s.n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            scan_event *ne = realloc(s.evs, ncap * sizeof *ne);
            if (!ne) {
                scan_free(&s);
                return 0;
            }
            s.evs = ne;
            cap = ncap;
        }
        scan_event *e = &s.evs[s.n++];
        e->off = so;
        e->len = end - so;
        e->id_len = 0;
        e->sys_close = 0;
        uint64_t xml_id = 0;
        size_t id_off = 0, id_len = 0;
        if (event_record_id(s.buf + so, end - so, &xml_id, &id_off, &id_len)) {
            e->id_off = id_off;
            e->id_len = id_len;
        } else {
            const char *sc = mem_find(s.buf + so, end - so, "</System>");
            if (sc)
                e->sys_close = (size_t)(sc - (s.buf + so));
        }
        if (id_len && xml_id > last)
            e->id = xml_id;
        else
            e->id = last + 1;
        last = e->id;
    }
    *out = s;
    return 1;
}

/* ---------- feed maintenance ---------- */

static void feed_free(feed *f)
{
    for (size_t i = 0; i < f->nfiles; i++)
        free(f->files[i].path);
    free(f->files);
    memset(f, 0, sizeof *f);
}

static int feed_has_path(const feed *f, const wchar_t *path)
{
    for (size_t i = 0; i < f->nfiles; i++) {
        if (_wcsicmp(f->files[i].path, path) == 0)
            return 1;
    }
    return 0;
}

/* Whether the feed file was written while feed\channel-disabled existed (not before it was created), by
 * their modification times: the log persists across processes, so what was logged before the channel was
 * disabled stays logged for a process that starts while it is disabled. */
static int feed_written_while_disabled(const wchar_t *path)
{
    wchar_t control[MAX_PATH];
    WIN32_FILE_ATTRIBUTE_DATA a, b;
    if (!feed_path(L"channel-disabled", control) || !GetFileAttributesExW(control, GetFileExInfoStandard, &a) ||
        !GetFileAttributesExW(path, GetFileExInfoStandard, &b))
        return 0;
    return CompareFileTime(&b.ftLastWriteTime, &a.ftLastWriteTime) >= 0;
}

/* Appends one file's events to the feed; 0 if it could not be read (retried on the next refresh). While
 * feed\channel-disabled exists the channel logs nothing, as Windows writes nothing to a disabled channel:
 * a file that appears then is kept as seen but its events are never logged (no record ids, never handed
 * out, not even after the channel is enabled again). */
static int feed_add_file(feed *f, const wchar_t *path)
{
    scan_result s;
    unsigned long dummy = 0;
    if (!scan_file(path, f->last_id, &s))
        return 0;
    if (control_read(L"channel-disabled", &dummy) && s.n > 0 && feed_written_while_disabled(path)) {
        char line[64];
        int n = snprintf(line, sizeof line, "dropped %llu events (channel disabled)\n", (unsigned long long)s.n);
        if (n > 0 && (size_t)n < sizeof line)
            trace_append(line, (size_t)n);
        scan_free(&s); /* Nothing of the file is logged: it is kept with no events. */
    }
    if (f->nfiles == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        feed_file *nf = realloc(f->files, ncap * sizeof *nf);
        if (!nf) {
            scan_free(&s);
            return 0;
        }
        f->files = nf;
        f->cap = ncap;
    }
    feed_file *ff = &f->files[f->nfiles];
    ff->path = _wcsdup(path);
    if (!ff->path) {
        scan_free(&s);
        return 0;
    }
    ff->prev_id = f->last_id;
    ff->count = s.n;
    ff->first_id = s.n ? s.evs[0].id : 0;
    ff->last_id = s.n ? s.evs[s.n - 1].id : f->last_id;
    f->last_id = ff->last_id;
    f->nfiles++;
    scan_free(&s);
    return 1;
}

static int name_cmp(const void *a, const void *b)
{
    return wcscmp(*(wchar_t *const *)a, *(wchar_t *const *)b);
}

/* "<feed dir>[\\sub]\\name" into out (MAX_PATH characters); 0 when it does not fit. */
static int chan_path(const chan_feed *c, const wchar_t *name, wchar_t *out)
{
    wchar_t rel[MAX_PATH];
    if (!c->sub)
        return feed_path(name, out);
    if (wcslen(c->sub) + 1 + wcslen(name) + 1 > MAX_PATH)
        return 0;
    _snwprintf(rel, MAX_PATH, L"%ls\\%ls", c->sub, name);
    rel[MAX_PATH - 1] = L'\0';
    return feed_path(rel, out);
}

/* Loads one channel folder's *.xml files not seen yet, in name order; returns how many of them added events. */
static size_t chan_refresh(chan_feed *c)
{
    wchar_t pattern[MAX_PATH], path[MAX_PATH];
    WIN32_FIND_DATAW fd;
    wchar_t **names = NULL;
    size_t n = 0, cap = 0, added = 0;
    if (!chan_path(c, L"*.xml", pattern))
        return 0;
    HANDLE fh = FindFirstFileW(pattern, &fd);
    if (fh == INVALID_HANDLE_VALUE)
        return 0;
    do {
        if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
            continue;
        size_t nl = wcslen(fd.cFileName);
        /* FindFirstFile's *.xml also matches 8.3 aliases like X~1.XML of name.xmlx: check the suffix. */
        if (nl < 4 || _wcsicmp(fd.cFileName + nl - 4, L".xml") != 0)
            continue;
        if (!chan_path(c, fd.cFileName, path) || feed_has_path(&c->f, path))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            wchar_t **nn = realloc(names, ncap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = ncap;
        }
        names[n] = _wcsdup(fd.cFileName);
        if (names[n])
            n++;
    } while (FindNextFileW(fh, &fd));
    FindClose(fh);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        /* Counted only when it brought events: a file never logged (the channel disabled) wakes nobody. */
        if (chan_path(c, names[i], path) && feed_add_file(&c->f, path) && c->f.files[c->f.nfiles - 1].count > 0)
            added++;
        free(names[i]);
    }
    free(names);
    return added;
}

/* Every channel's new files; returns how many were added in all. */
static size_t feed_refresh(void)
{
    size_t added = 0;
    for (int i = 0; i < DOUBLE_CHANS; i++)
        added += chan_refresh(&g_chans[i]);
    return added;
}

/* ---------- cursors ---------- */

static void cursor_init(cursor *c, feed *f, size_t file_idx, uint64_t after_id)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->file_idx = file_idx;
    c->after_id = after_id;
    c->loaded_idx = SIZE_MAX;
}

static void cursor_free(cursor *c)
{
    scan_free(&c->scan);
    c->loaded_idx = SIZE_MAX;
}

/* The next event at or after the cursor, or NULL (drained for now; new files may extend the feed). */
static const scan_event *cursor_next(cursor *c)
{
    while (c->file_idx < c->f->nfiles) {
        feed_file *ff = &c->f->files[c->file_idx];
        if (c->loaded_idx != c->file_idx) {
            cursor_free(c);
            c->ev_idx = 0;
            if (ff->count == 0 || ff->last_id <= c->after_id || !scan_file(ff->path, ff->prev_id, &c->scan)) {
                c->file_idx++; /* Empty, already passed, or gone (like a cleared log). */
                continue;
            }
            c->loaded_idx = c->file_idx;
        }
        while (c->ev_idx < c->scan.n) {
            const scan_event *e = &c->scan.evs[c->ev_idx++];
            if (e->id > c->after_id) {
                c->after_id = e->id;
                return e;
            }
        }
        cursor_free(c);
        c->file_idx++;
        c->ev_idx = 0;
    }
    return NULL;
}

/* Whether an event with this record id exists in the feed. */
static int feed_has_id(feed *f, uint64_t id)
{
    for (size_t i = 0; i < f->nfiles; i++) {
        feed_file *ff = &f->files[i];
        if (ff->count == 0 || id < ff->first_id || id > ff->last_id)
            continue;
        scan_result s;
        int found = 0;
        if (!scan_file(ff->path, ff->prev_id, &s))
            return 0;
        for (size_t k = 0; k < s.n && !found; k++)
            found = s.evs[k].id == id;
        scan_free(&s);
        return found;
    }
    return 0;
}

/*
 * Makes an event handle from the cursor's current scan: UTF-16 XML with the handed-out record id, which
 * replaces the feed's <EventRecordID> value, or is inserted before </System> when the feed has none (Windows
 * always renders it). An event with neither is rendered as it is.
 */
static event_obj *event_make(const cursor *c, const scan_event *e)
{
    char ins[64];
    int inslen;
    const char *src = c->scan.buf + e->off;
    size_t cut_from = e->len, cut_to = e->len; /* [cut_from, cut_to) of the event is replaced by ins. */
    if (e->id_len) {
        inslen = snprintf(ins, sizeof ins, "%llu", (unsigned long long)e->id);
        cut_from = e->id_off;
        cut_to = e->id_off + e->id_len;
    } else if (e->sys_close) {
        inslen = snprintf(ins, sizeof ins, "<EventRecordID>%llu</EventRecordID>", (unsigned long long)e->id);
        cut_from = cut_to = e->sys_close;
    } else {
        inslen = 0;
    }
    if (inslen < 0 || (size_t)inslen >= sizeof ins)
        return NULL;
    size_t total = cut_from + (size_t)inslen + (e->len - cut_to);
    char *u8 = malloc(total + 1);
    event_obj *ev = calloc(1, sizeof *ev);
    if (!u8 || !ev)
        goto fail;
    memcpy(u8, src, cut_from);
    memcpy(u8 + cut_from, ins, (size_t)inslen);
    memcpy(u8 + cut_from + (size_t)inslen, src + cut_to, e->len - cut_to);
    u8[total] = '\0';
    int wn = total ? MultiByteToWideChar(CP_UTF8, 0, u8, (int)total, NULL, 0) : 0;
    ev->xml = malloc(((size_t)wn + 1) * sizeof(wchar_t));
    if (!ev->xml)
        goto fail;
    if (wn)
        MultiByteToWideChar(CP_UTF8, 0, u8, (int)total, ev->xml, wn);
    ev->xml[wn] = L'\0';
    ev->chars = (size_t)wn;
    ev->id = e->id;
    free(u8);
    return ev;
fail:
    free(u8);
    if (ev)
        free(ev->xml);
    free(ev);
    return NULL;
}

static void event_free(event_obj *ev)
{
    if (!ev)
        return;
    free(ev->xml);
    free(ev);
}

/* ---------- watcher: picks up new feed files and wakes subscriptions ---------- */

static void subs_wake_all(void)
{
    for (result_obj *s = g_subs; s; s = s->next_sub) {
        if (s->silent)
            continue; /* Dead since an Event Log restart: Windows never signals it again. */
        if (s->signal)
            SetEvent(s->signal);
        if (s->wake)
            SetEvent(s->wake);
    }
}

static DWORD WINAPI watcher_main(LPVOID arg)
{
    (void)arg;
    HANDLE change = INVALID_HANDLE_VALUE;
    for (;;) {
        int notified = 0;
        if (change == INVALID_HANDLE_VALUE)
            change = FindFirstChangeNotificationW(g_feed_dir, TRUE, /* The channels' sub-folders too. */
                                                  FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_LAST_WRITE);
        if (change != INVALID_HANDLE_VALUE) {
            /* Wine's change notifications were seen to miss a rename now and then: the wait has a fallback
             * period, so a missed notification delays an event by at most DOUBLE_FALLBACK_MS. */
            DWORD w = WaitForSingleObject(change, DOUBLE_FALLBACK_MS);
            if (w == WAIT_OBJECT_0) {
                notified = 1;
                if (!FindNextChangeNotification(change)) {
                    FindCloseChangeNotification(change);
                    change = INVALID_HANDLE_VALUE;
                }
            } else if (w != WAIT_TIMEOUT) {
                FindCloseChangeNotification(change);
                change = INVALID_HANDLE_VALUE;
                Sleep(DOUBLE_POLL_MS);
            }
        } else {
            Sleep(DOUBLE_POLL_MS); /* The folder does not exist yet. */
        }
        EnterCriticalSection(&g_lock);
        eventlog_restart_apply();
        size_t added = feed_refresh();
        unsigned long dummy = 0;
        /* Subscribers are woken for new events or a pending fault (outage.txt, fault-next.txt), never for a
         * change that brings neither (such as name.tmp being written), so a signal means "call EvtNext". */
        (void)notified;
        if (added || control_read(L"outage.txt", &dummy) || control_read(L"fault-next.txt", &dummy))
            subs_wake_all();
        LeaveCriticalSection(&g_lock);
    }
    return 0;
}

static void watcher_start(void)
{
    if (g_watcher)
        return;
    g_watcher = CreateThread(NULL, 0, watcher_main, NULL, 0, NULL);
}

/* ---------- push model delivery ---------- */

static DWORD WINAPI push_main(LPVOID arg);

/* ---------- DllMain ---------- */

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        g_module = instance;
        DisableThreadLibraryCalls(instance);
        InitializeCriticalSection(&g_lock);
        DWORD n = GetModuleFileNameW(instance, g_feed_dir, MAX_PATH);
        if (n == 0 || n >= MAX_PATH - 6)
            return FALSE;
        wchar_t *slash = wcsrchr(g_feed_dir, L'\\');
        wchar_t *fslash = wcsrchr(g_feed_dir, L'/');
        if (fslash && (!slash || fslash > slash))
            slash = fslash;
        if (!slash)
            return FALSE;
        memcpy(slash + 1, L"feed", 5 * sizeof(wchar_t));
    }
    /* No cleanup at detach: the process is ending (the double is never unloaded with FreeLibrary). */
    return TRUE;
}

/* ---------- exported API ---------- */

/* The index in g_chans of a channel name (case-insensitive, as Windows compares them), -1 when unknown. */
static int chan_find(const wchar_t *channel)
{
    for (int i = 0; channel && i < DOUBLE_CHANNELS_SERVED; i++) {
        if (_wcsicmp(channel, g_chans[i].name) == 0)
            return i;
    }
    return -1;
}

static int channel_is_ours(const wchar_t *channel)
{
    return chan_find(channel) >= 0;
}

/* The channel a structured query (<QueryList>) reads: its first Path attribute; -1 when none is known. */
static int chan_of_query(const wchar_t *query)
{
    const wchar_t *p = wcsstr(query, L"Path=");
    wchar_t name[DOUBLE_CHANNEL_MAX + 1];
    if (!p || (p[5] != L'\'' && p[5] != L'"'))
        return -1;
    const wchar_t *q = p + 6, *end = wcschr(q, p[5]);
    if (!end || (size_t)(end - q) > DOUBLE_CHANNEL_MAX)
        return -1;
    memcpy(name, q, (size_t)(end - q) * sizeof(wchar_t));
    name[end - q] = L'\0';
    return chan_find(name);
}

static result_obj *result_new(void)
{
    result_obj *r = calloc(1, sizeof *r);
    return r;
}

static void result_free(result_obj *r)
{
    cursor_free(&r->cur);
    feed_free(&r->own);
    if (r->signal)
        CloseHandle(r->signal);
    if (r->wake)
        CloseHandle(r->wake);
    if (r->stop)
        CloseHandle(r->stop);
    if (r->thread)
        CloseHandle(r->thread);
    free(r);
}

EVT_HANDLE WINAPI EvtSubscribe(EVT_HANDLE Session, HANDLE SignalEvent, LPCWSTR ChannelPath, LPCWSTR Query,
                               EVT_HANDLE Bookmark, PVOID Context, EVT_SUBSCRIBE_CALLBACK Callback, DWORD Flags)
{
    DWORD err = ERROR_SUCCESS;
    result_obj *r = NULL;
    DWORD origin = Flags & EvtSubscribeOriginMask;
    unsigned long outage = 0;
    EnterCriticalSection(&g_lock);
    if (Session) {
        err = ERROR_NOT_SUPPORTED; /* Remote sessions are not part of the double. */
        goto cleanup;
    }
    if ((SignalEvent == NULL) == (Callback == NULL) || origin == 0 ||
        (Flags & ~(DWORD)(EvtSubscribeOriginMask | EvtSubscribeTolerateQueryErrors | EvtSubscribeStrict)) ||
        ((origin == EvtSubscribeStartAfterBookmark) != (Bookmark != NULL))) {
        err = ERROR_INVALID_PARAMETER;
        goto cleanup;
    }
    /* The query is not evaluated (every event matches). A structured <QueryList> names its channel inside. */
    int chan = -1;
    if (Query && Query[0] == L'<') {
        chan = chan_of_query(Query);
        if (chan < 0) {
            err = ERROR_EVT_CHANNEL_NOT_FOUND;
            goto cleanup;
        }
    } else if ((chan = chan_find(ChannelPath)) < 0) {
        err = ChannelPath ? ERROR_EVT_CHANNEL_NOT_FOUND : ERROR_INVALID_PARAMETER;
        goto cleanup;
    }
    feed *cf = &g_chans[chan].f;
    if (control_read(L"outage.txt", &outage)) {
        if (outage > 0) {
            if (outage == 1)
                control_delete(L"outage.txt");
            else
                control_write(L"outage.txt", outage - 1);
            err = RPC_S_SERVER_UNAVAILABLE; /* The Event Log service is down. */
            goto cleanup;
        }
        control_delete(L"outage.txt");
    }
    eventlog_restart_apply(); /* Before this subscription exists: it is made after the restart. */
    bookmark_obj *bm = NULL;
    if (origin == EvtSubscribeStartAfterBookmark) {
        bm = (bookmark_obj *)registry_find(Bookmark, OBJ_BOOKMARK);
        if (!bm) {
            err = ERROR_INVALID_HANDLE;
            goto cleanup;
        }
    }
    feed_refresh();
    r = result_new();
    if (!r) {
        err = ERROR_OUTOFMEMORY;
        goto cleanup;
    }
    r->chan = chan;
    if (origin == EvtSubscribeToFutureEvents) {
        cursor_init(&r->cur, cf, cf->nfiles, cf->last_id);
    } else if (origin == EvtSubscribeStartAtOldestRecord) {
        cursor_init(&r->cur, cf, 0, 0);
    } else {
        unsigned long dummy = 0, code = 0;
        /* A bookmark of another channel has no position in this one. */
        int usable = bm->has_position && chan_find(bm->channel) == chan;
        int exists = usable && !control_read(L"reject-bookmark", &dummy) && feed_has_id(cf, bm->id);
        if ((Flags & EvtSubscribeStrict) && !exists) {
            err = ERROR_NOT_FOUND; /* Documented for EvtSubscribeStrict when the bookmarked event is gone. */
            goto cleanup;
        }
        /* feed\bookmark-error.txt: Windows also answers a strict subscribe whose record is gone with
         * ERROR_EVT_QUERY_RESULT_STALE or _INVALID_POSITION (Winlogbeat, vector, fluent-bit saw both). */
        if ((Flags & EvtSubscribeStrict) && control_read(L"bookmark-error.txt", &code)) {
            control_delete(L"bookmark-error.txt");
            if (code != 0) {
                trace_fault("bookmark-error", code);
                err = (DWORD)code;
                goto cleanup;
            }
        }
        /* Not strict: start after the bookmarked record, or after the closest one (same thing here). */
        cursor_init(&r->cur, cf, 0, usable ? bm->id : 0);
    }
    if (SignalEvent) {
        if (!DuplicateHandle(GetCurrentProcess(), SignalEvent, GetCurrentProcess(), &r->signal, 0, FALSE,
                             DUPLICATE_SAME_ACCESS)) {
            err = ERROR_INVALID_HANDLE;
            goto cleanup;
        }
    } else {
        r->callback = Callback;
        r->context = Context;
        r->wake = CreateEventW(NULL, FALSE, TRUE, NULL);
        r->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (!r->wake || !r->stop) {
            err = GetLastError();
            goto cleanup;
        }
    }
    registry_add(&r->h, OBJ_SUBSCRIPTION);
    r->next_sub = g_subs;
    g_subs = r;
    if (r->callback) {
        r->thread = CreateThread(NULL, 0, push_main, r, 0, &r->thread_id);
        if (!r->thread) {
            err = GetLastError();
            g_subs = r->next_sub;
            registry_remove(&r->h);
            goto cleanup;
        }
    }
    /* Existing events are available at once: signal like the service does when the result set has events. */
    if (r->signal && r->cur.file_idx < cf->nfiles && cf->last_id > r->cur.after_id)
        SetEvent(r->signal);
    watcher_start();
cleanup:
    if (err != ERROR_SUCCESS && r) {
        result_free(r);
        r = NULL;
    }
    {
        char line[96];
        /* Lines of another channel than Bits-Client name it, so a test can tell the channels apart. */
        int n =
            r ? snprintf(line, sizeof line, "subscribe origin %lu strict %d after %llu%s%ls\n", (unsigned long)origin,
                         (Flags & EvtSubscribeStrict) != 0, (unsigned long long)r->cur.after_id, r->chan ? " " : "",
                         r->chan ? g_chans[r->chan].name : L"")
              : snprintf(line, sizeof line, "subscribe error %lu\n", (unsigned long)err);
        if (n > 0 && (size_t)n < sizeof line)
            trace_append(line, (size_t)n);
    }
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return (EVT_HANDLE)r;
}

EVT_HANDLE WINAPI EvtQuery(EVT_HANDLE Session, LPCWSTR Path, LPCWSTR Query, DWORD Flags)
{
    DWORD err = ERROR_SUCCESS;
    result_obj *r = NULL;
    DWORD kind = Flags & (EvtQueryChannelPath | EvtQueryFilePath);
    (void)Query; /* Not evaluated: every event matches. */
    EnterCriticalSection(&g_lock);
    if (Session) {
        err = ERROR_NOT_SUPPORTED;
        goto cleanup;
    }
    if (kind == (EvtQueryChannelPath | EvtQueryFilePath) || !Path ||
        (Flags & ~(DWORD)(EvtQueryChannelPath | EvtQueryFilePath | EvtQueryForwardDirection | EvtQueryReverseDirection |
                          EvtQueryTolerateQueryErrors))) {
        err = ERROR_INVALID_PARAMETER;
        goto cleanup;
    }
    if (Flags & EvtQueryReverseDirection) {
        err = ERROR_NOT_SUPPORTED; /* The double reads forward only. */
        goto cleanup;
    }
    r = result_new();
    if (!r) {
        err = ERROR_OUTOFMEMORY;
        goto cleanup;
    }
    if (kind == EvtQueryFilePath) {
        size_t pl = wcslen(Path);
        if (GetFileAttributesW(Path) == INVALID_FILE_ATTRIBUTES) {
            err = ERROR_FILE_NOT_FOUND;
            goto cleanup;
        }
        /* Real .evtx files are binary: the double reads only .xml files holding <Event> elements. */
        if (pl < 4 || _wcsicmp(Path + pl - 4, L".xml") != 0) {
            err = ERROR_NOT_SUPPORTED;
            goto cleanup;
        }
        if (!feed_add_file(&r->own, Path)) {
            err = ERROR_READ_FAULT;
            goto cleanup;
        }
        cursor_init(&r->cur, &r->own, 0, 0);
    } else {
        int chan = chan_find(Path);
        if (chan < 0) {
            err = ERROR_EVT_CHANNEL_NOT_FOUND;
            goto cleanup;
        }
        feed_refresh();
        r->chan = chan;
        cursor_init(&r->cur, &g_chans[chan].f, 0, 0);
    }
    registry_add(&r->h, OBJ_QUERY);
cleanup:
    if (err != ERROR_SUCCESS && r) {
        result_free(r);
        r = NULL;
    }
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return (EVT_HANDLE)r;
}

/* Hands out up to max events of r (lock held); returns an error code, ERROR_NO_MORE_ITEMS when drained. */
static DWORD result_next(result_obj *r, DWORD max, EVT_HANDLE *events, DWORD *returned)
{
    unsigned long fault = 0;
    *returned = 0;
    /* Bits-Client result sets only: the service also reads the System log, whose reader must not take
     * a fault a test aims at the Bits-Client reader. */
    if (r->chan == 0 && control_read(L"fault-next.txt", &fault)) {
        control_delete(L"fault-next.txt"); /* Consumed: the fault happens once. */
        if (fault != 0)
            return (DWORD)fault;
    }
    if (r->h.kind == OBJ_SUBSCRIPTION) {
        unsigned long dummy = 0;
        if (!r->dead && control_read(L"outage.txt", &dummy))
            r->dead = RPC_S_SERVER_UNAVAILABLE; /* Like an Event Log restart: this subscription is gone. */
        if (r->dead)
            return r->dead;
    }
    /* feed\max-batch-bytes.txt: the subscription's buffer on the Event Log side holds N bytes of UTF-16 XML;
     * a batch larger than that fails with RPC_S_INVALID_BOUND and hands nothing out (one event alone always
     * passes). The cursor goes back to where it was, so the same events come next. */
    unsigned long batch_cap = 0;
    int capped = control_read(L"max-batch-bytes.txt", &batch_cap);
    size_t saved_file = r->cur.file_idx, saved_ev = r->cur.ev_idx;
    uint64_t saved_after = r->cur.after_id, bytes = 0;
    while (*returned < max) {
        const scan_event *e = cursor_next(&r->cur);
        if (!e)
            break;
        event_obj *ev = event_make(&r->cur, e);
        if (!ev)
            return *returned ? ERROR_SUCCESS : ERROR_OUTOFMEMORY;
        bytes += (uint64_t)ev->chars * sizeof(wchar_t);
        if (capped && *returned > 0 && bytes > batch_cap) {
            event_free(ev);
            for (DWORD i = 0; i < *returned; i++) {
                registry_remove((obj *)events[i]);
                event_free((event_obj *)events[i]);
                events[i] = NULL;
            }
            *returned = 0;
            r->cur.file_idx = saved_file;
            r->cur.ev_idx = saved_ev;
            r->cur.after_id = saved_after;
            trace_fault("max-batch-bytes", RPC_S_INVALID_BOUND);
            return RPC_S_INVALID_BOUND;
        }
        ev->chan = r->chan;
        registry_add(&ev->h, OBJ_EVENT);
        events[(*returned)++] = (EVT_HANDLE)ev;
    }
    if (*returned) {
        /* One "event <record id>" line per handle handed out, written once per batch. */
        /* Another channel's lines name it: "event <record id> ForwardedEvents". */
        char *lines = malloc((size_t)*returned * 64);
        size_t used = 0;
        for (DWORD i = 0; lines && i < *returned; i++) {
            int n = snprintf(lines + used, 64, "event %llu%s%ls\n", (unsigned long long)((event_obj *)events[i])->id,
                             r->chan ? " " : "", r->chan ? g_chans[r->chan].name : L"");
            if (n > 0 && n < 64)
                used += (size_t)n;
        }
        if (lines)
            trace_append(lines, used);
        free(lines);
    }
    return *returned ? ERROR_SUCCESS : ERROR_NO_MORE_ITEMS;
}

BOOL WINAPI EvtNext(EVT_HANDLE ResultSet, DWORD EventsSize, EVT_HANDLE *Events, DWORD Timeout, DWORD Flags,
                    PDWORD Returned)
{
    DWORD err, got = 0;
    (void)Timeout; /* Never blocks: results are either there or not (ERROR_NO_MORE_ITEMS). */
    EnterCriticalSection(&g_lock);
    result_obj *r = (result_obj *)registry_find(ResultSet, 0);
    if (!r || (r->h.kind != OBJ_SUBSCRIPTION && r->h.kind != OBJ_QUERY)) {
        err = ERROR_INVALID_HANDLE;
    } else if (!Events || !Returned || EventsSize == 0 || Flags != 0) {
        err = ERROR_INVALID_PARAMETER;
    } else if (r->callback) {
        err = ERROR_INVALID_OPERATION; /* Push subscriptions deliver through their callback. */
    } else {
        eventlog_restart_apply();
        err = result_next(r, EventsSize, Events, &got);
        /* A pull subscription with nothing pending answers ERROR_INVALID_OPERATION with zero handles, as
         * Windows was seen to (Datadog agent, beats, OpenTelemetry, pywin32 PR 1648, vector #26117);
         * a query at its end answers ERROR_NO_MORE_ITEMS. feed\idle-next.txt names another code (259:
         * ERROR_NO_MORE_ITEMS, the documented end of results), so a test can isolate other behaviour. */
        unsigned long idle = 0;
        if (err == ERROR_NO_MORE_ITEMS && r->h.kind == OBJ_SUBSCRIPTION)
            err = control_read(L"idle-next.txt", &idle) && idle ? (DWORD)idle : ERROR_INVALID_OPERATION;
    }
    if (Returned)
        *Returned = got;
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return err == ERROR_SUCCESS;
}

static DWORD WINAPI push_main(LPVOID arg)
{
    result_obj *r = arg;
    HANDLE waits[2] = {r->stop, r->wake};
    for (;;) {
        if (WaitForMultipleObjects(2, waits, FALSE, INFINITE) != WAIT_OBJECT_0 + 1)
            break;
        for (;;) {
            EVT_HANDLE h = NULL;
            DWORD got = 0, err;
            if (WaitForSingleObject(r->stop, 0) == WAIT_OBJECT_0)
                return 0;
            EnterCriticalSection(&g_lock);
            err = r->error_sent ? ERROR_NO_MORE_ITEMS : result_next(r, 1, &h, &got);
            if (err != ERROR_SUCCESS && err != ERROR_NO_MORE_ITEMS)
                r->error_sent = 1;
            LeaveCriticalSection(&g_lock);
            if (err == ERROR_NO_MORE_ITEMS)
                break;
            if (err != ERROR_SUCCESS) {
                r->callback(EvtSubscribeActionError, r->context, (EVT_HANDLE)(ULONG_PTR)err);
                break;
            }
            /* The handle is valid only during the callback; the caller must not close it. */
            r->callback(EvtSubscribeActionDeliver, r->context, h);
            EnterCriticalSection(&g_lock);
            event_obj *ev = (event_obj *)registry_find(h, OBJ_EVENT);
            if (ev) {
                registry_remove(&ev->h);
                event_free(ev);
            }
            LeaveCriticalSection(&g_lock);
        }
    }
    return 0;
}

BOOL WINAPI EvtClose(EVT_HANDLE Object)
{
    HANDLE join = NULL;
    EnterCriticalSection(&g_lock);
    obj *o = registry_find(Object, 0);
    if (!o) {
        LeaveCriticalSection(&g_lock);
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    registry_remove(o);
    if (o->kind == OBJ_SUBSCRIPTION) {
        result_obj *r = (result_obj *)o;
        for (result_obj **p = &g_subs; *p; p = &(*p)->next_sub) {
            if (*p == r) {
                *p = r->next_sub;
                break;
            }
        }
        if (r->thread) {
            SetEvent(r->stop);
            if (r->thread_id != GetCurrentThreadId())
                join = r->thread;
        }
    }
    LeaveCriticalSection(&g_lock);
    /* Like the real service, closing a push subscription waits for a callback in progress. */
    if (join)
        WaitForSingleObject(join, INFINITE);
    switch (o->kind) {
    case OBJ_EVENT:
        event_free((event_obj *)o);
        break;
    case OBJ_BOOKMARK:
    case OBJ_CHANNEL_CONFIG:
    case OBJ_LOG:
        free(o);
        break;
    case OBJ_SUBSCRIPTION:
    case OBJ_QUERY:
        if (!join && ((result_obj *)o)->thread) {
            /* Closed from inside its own callback: the thread exits when the callback returns; leak the
             * small object rather than free memory the thread still uses. */
            break;
        }
        EnterCriticalSection(&g_lock);
        result_free((result_obj *)o);
        LeaveCriticalSection(&g_lock);
        break;
    }
    SetLastError(ERROR_SUCCESS);
    return TRUE;
}

/* Finds attribute name='v' or name="v" inside [p, end); copies the value (bounded) and returns 1. */
static int attr_get(const wchar_t *p, const wchar_t *end, const wchar_t *name, wchar_t *out, size_t cap)
{
    size_t nl = wcslen(name);
    for (const wchar_t *q = p; q + nl < end; q++) {
        if (wcsncmp(q, name, nl) != 0 || (q > p && !iswspace(q[-1])))
            continue;
        const wchar_t *v = q + nl;
        while (v < end && iswspace(*v))
            v++;
        if (v >= end || *v != L'=')
            continue;
        v++;
        while (v < end && iswspace(*v))
            v++;
        if (v >= end || (*v != L'\'' && *v != L'"'))
            return 0;
        wchar_t quote = *v++;
        const wchar_t *ve = v;
        while (ve < end && *ve != quote)
            ve++;
        if (ve >= end || (size_t)(ve - v) >= cap)
            return 0;
        memcpy(out, v, (size_t)(ve - v) * sizeof(wchar_t));
        out[ve - v] = L'\0';
        return 1;
    }
    return 0;
}

/* Parses <BookmarkList><Bookmark Channel='..' RecordId='N' IsCurrent='true'/></BookmarkList>. */
static int bookmark_parse(const wchar_t *xml, bookmark_obj *bm)
{
    const wchar_t *list = wcsstr(xml, L"<BookmarkList");
    if (!list)
        return 0;
    /* An empty list (<BookmarkList/>) is a valid bookmark without a position. */
    if (wcsncmp(list, L"<BookmarkList/>", 15) == 0)
        return 1;
    if (!wcsstr(list, L"</BookmarkList>"))
        return 0;
    const wchar_t *p = list + wcslen(L"<BookmarkList");
    while ((p = wcsstr(p, L"<Bookmark")) != NULL) {
        const wchar_t *after = p + wcslen(L"<Bookmark");
        if (*after == L'L') { /* A nested <BookmarkList: malformed. */
            return 0;
        }
        const wchar_t *end = wcschr(after, L'>');
        if (!end)
            return 0;
        wchar_t channel[DOUBLE_CHANNEL_MAX + 1], idtext[32];
        if (!attr_get(after, end, L"Channel", channel, DOUBLE_CHANNEL_MAX + 1) ||
            !attr_get(after, end, L"RecordId", idtext, 32))
            return 0;
        char digits[32];
        size_t dl = wcslen(idtext);
        for (size_t i = 0; i <= dl; i++)
            digits[i] = (idtext[i] >= L'0' && idtext[i] <= L'9') ? (char)idtext[i] : (idtext[i] ? 'x' : '\0');
        uint64_t id;
        if (!parse_u64(digits, dl, &id))
            return 0;
        /* A multi-channel bookmark: keep the first of a channel served here, else the first one. */
        if (!bm->has_position || (channel_is_ours(channel) && !channel_is_ours(bm->channel))) {
            bm->has_position = 1;
            bm->id = id;
            memcpy(bm->channel, channel, sizeof channel);
        }
        p = end;
    }
    return 1;
}

EVT_HANDLE WINAPI EvtCreateBookmark(LPCWSTR BookmarkXml)
{
    bookmark_obj *bm = calloc(1, sizeof *bm);
    if (!bm) {
        SetLastError(ERROR_OUTOFMEMORY);
        return NULL;
    }
    if (BookmarkXml && !bookmark_parse(BookmarkXml, bm)) {
        free(bm);
        /* The code for malformed bookmark XML is not documented; the double answers invalid parameter. */
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    EnterCriticalSection(&g_lock);
    registry_add(&bm->h, OBJ_BOOKMARK);
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return (EVT_HANDLE)bm;
}

BOOL WINAPI EvtUpdateBookmark(EVT_HANDLE Bookmark, EVT_HANDLE Event)
{
    EnterCriticalSection(&g_lock);
    bookmark_obj *bm = (bookmark_obj *)registry_find(Bookmark, OBJ_BOOKMARK);
    event_obj *ev = (event_obj *)registry_find(Event, OBJ_EVENT);
    if (!bm || !ev) {
        LeaveCriticalSection(&g_lock);
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    bm->has_position = 1;
    bm->id = ev->id;
    _snwprintf(bm->channel, DOUBLE_CHANNEL_MAX + 1, L"%ls", g_chans[ev->chan].name);
    bm->channel[DOUBLE_CHANNEL_MAX] = L'\0';
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return TRUE;
}

BOOL WINAPI EvtRender(EVT_HANDLE Context, EVT_HANDLE Fragment, DWORD Flags, DWORD BufferSize, PVOID Buffer,
                      PDWORD BufferUsed, PDWORD PropertyCount)
{
    DWORD err = ERROR_SUCCESS;
    unsigned long slow = 0;
    wchar_t bmtext[DOUBLE_CHANNEL_MAX + 128];
    const wchar_t *text = NULL;
    size_t chars = 0;
    if (control_read(L"slow-render.txt", &slow) && slow > 0)
        Sleep(slow > 60000 ? 60000 : (DWORD)slow); /* Outside the lock: only this caller is slowed. */
    EnterCriticalSection(&g_lock);
    if (PropertyCount)
        *PropertyCount = 0;
    if (!BufferUsed || (Buffer == NULL && BufferSize != 0)) {
        err = ERROR_INVALID_PARAMETER;
        goto cleanup;
    }
    if (Flags == EvtRenderEventValues) {
        err = ERROR_NOT_SUPPORTED; /* Render contexts (EVT_VARIANT values) are not part of the double. */
        goto cleanup;
    }
    if (Context != NULL || (Flags != EvtRenderEventXml && Flags != EvtRenderBookmark)) {
        err = ERROR_INVALID_PARAMETER;
        goto cleanup;
    }
    if (Flags == EvtRenderEventXml) {
        event_obj *ev = (event_obj *)registry_find(Fragment, OBJ_EVENT);
        if (!ev) {
            err = ERROR_INVALID_HANDLE;
            goto cleanup;
        }
        text = ev->xml;
        chars = ev->chars;
    } else {
        bookmark_obj *bm = (bookmark_obj *)registry_find(Fragment, OBJ_BOOKMARK);
        if (!bm) {
            err = ERROR_INVALID_HANDLE;
            goto cleanup;
        }
        int n;
        /* The layout Windows renders: one <Bookmark> per channel, IsCurrent on the current one. */
        if (bm->has_position)
            n = _snwprintf(bmtext, sizeof bmtext / sizeof bmtext[0],
                           L"<BookmarkList>\r\n  <Bookmark Channel='%ls' RecordId='%llu' IsCurrent='true'/>\r\n"
                           L"</BookmarkList>",
                           bm->channel, (unsigned long long)bm->id);
        else
            n = _snwprintf(bmtext, sizeof bmtext / sizeof bmtext[0], L"<BookmarkList>\r\n</BookmarkList>");
        if (n < 0) {
            err = ERROR_INVALID_DATA;
            goto cleanup;
        }
        text = bmtext;
        chars = (size_t)n;
    }
    if ((chars + 1) * sizeof(wchar_t) > MAXDWORD) {
        err = ERROR_INVALID_DATA;
        goto cleanup;
    }
    DWORD need = (DWORD)((chars + 1) * sizeof(wchar_t)); /* Bytes, with the terminating NUL. */
    *BufferUsed = need;
    if (BufferSize < need) {
        err = ERROR_INSUFFICIENT_BUFFER;
        goto cleanup;
    }
    memcpy(Buffer, text, need);
cleanup:
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return err == ERROR_SUCCESS;
}

DWORD WINAPI EvtGetExtendedStatus(DWORD BufferSize, LPWSTR Buffer, PDWORD BufferUsed)
{
    /* The double has no extended status: an empty string (1 character with its NUL). */
    if (BufferUsed)
        *BufferUsed = 1;
    if (BufferSize < 1 || !Buffer)
        return ERROR_INSUFFICIENT_BUFFER;
    Buffer[0] = L'\0';
    return ERROR_SUCCESS;
}

BOOL WINAPI EvtCancel(EVT_HANDLE Object)
{
    /* Nothing in the double blocks, so there is nothing to cancel. */
    EnterCriticalSection(&g_lock);
    int ok = Object == NULL || registry_find(Object, 0) != NULL;
    LeaveCriticalSection(&g_lock);
    SetLastError(ok ? ERROR_SUCCESS : ERROR_INVALID_HANDLE);
    return ok;
}

/* A channel configuration handle: the access SDDL as last read or set through this handle. */
typedef struct channel_cfg {
    obj h;
    wchar_t access[DOUBLE_ACCESS_MAX];
} channel_cfg;

/* The channel's access SDDL: feed\channel-access.sddl (UTF-8, written by EvtSaveChannelConfig, so a
 * test and a later process see it), else Windows' default channel access (with SU), or the hardened one
 * without SU while feed\channel-hardened exists. */
static void channel_access_load(wchar_t *out, size_t len)
{
    wchar_t path[MAX_PATH];
    char *text = NULL;
    size_t n = 0;
    if (feed_path(DOUBLE_ACCESS_FILE, path) && file_read_all(path, 16384, &text, &n) && n > 0 &&
        MultiByteToWideChar(CP_UTF8, 0, text, -1, out, (int)len) > 0) {
        free(text);
        return;
    }
    free(text);
    unsigned long dummy = 0;
    _snwprintf(out, len, L"%ls",
               control_read(L"channel-hardened", &dummy) ? DOUBLE_ACCESS_HARDENED : DOUBLE_ACCESS_DEFAULT);
    out[len - 1] = L'\0';
}

EVT_HANDLE WINAPI EvtOpenChannelConfig(EVT_HANDLE Session, LPCWSTR ChannelPath, DWORD Flags)
{
    if (Session || Flags != 0 || !ChannelPath) {
        SetLastError(Session ? ERROR_NOT_SUPPORTED : ERROR_INVALID_PARAMETER);
        return NULL;
    }
    if (!channel_is_ours(ChannelPath)) {
        SetLastError(ERROR_EVT_CHANNEL_NOT_FOUND);
        return NULL;
    }
    channel_cfg *c = calloc(1, sizeof *c);
    if (!c) {
        SetLastError(ERROR_OUTOFMEMORY);
        return NULL;
    }
    EnterCriticalSection(&g_lock);
    channel_access_load(c->access, DOUBLE_ACCESS_MAX);
    registry_add(&c->h, OBJ_CHANNEL_CONFIG);
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return (EVT_HANDLE)c;
}

/* EvtChannelConfigEnabled: TRUE, or FALSE while feed\channel-disabled exists. EvtChannelConfigAccess:
 * the SDDL string, stored after the variant in the caller's buffer (as the real function does). */
BOOL WINAPI EvtGetChannelConfigProperty(EVT_HANDLE ChannelConfig, EVT_CHANNEL_CONFIG_PROPERTY_ID PropertyId,
                                        DWORD Flags, DWORD PropertyValueBufferSize, PEVT_VARIANT PropertyValueBuffer,
                                        PDWORD PropertyValueBufferUsed)
{
    DWORD err = ERROR_SUCCESS;
    unsigned long dummy = 0;
    EnterCriticalSection(&g_lock);
    channel_cfg *c = (channel_cfg *)registry_find(ChannelConfig, OBJ_CHANNEL_CONFIG);
    if (!c) {
        err = ERROR_INVALID_HANDLE;
    } else if (Flags != 0 || !PropertyValueBufferUsed) {
        err = ERROR_INVALID_PARAMETER;
    } else if (PropertyId == EvtChannelConfigAccess) {
        size_t bytes = (wcslen(c->access) + 1) * sizeof(wchar_t);
        *PropertyValueBufferUsed = (DWORD)(sizeof(EVT_VARIANT) + bytes);
        if (PropertyValueBufferSize < *PropertyValueBufferUsed || !PropertyValueBuffer) {
            err = ERROR_INSUFFICIENT_BUFFER;
        } else {
            memset(PropertyValueBuffer, 0, sizeof *PropertyValueBuffer);
            wchar_t *text = (wchar_t *)(PropertyValueBuffer + 1);
            memcpy(text, c->access, bytes);
            PropertyValueBuffer->Type = EvtVarTypeString;
            PropertyValueBuffer->StringVal = text;
        }
    } else if (PropertyId != EvtChannelConfigEnabled) {
        err = ERROR_NOT_SUPPORTED;
    } else {
        *PropertyValueBufferUsed = (DWORD)sizeof(EVT_VARIANT);
        if (PropertyValueBufferSize < sizeof(EVT_VARIANT) || !PropertyValueBuffer) {
            err = ERROR_INSUFFICIENT_BUFFER;
        } else {
            memset(PropertyValueBuffer, 0, sizeof *PropertyValueBuffer);
            PropertyValueBuffer->Type = EvtVarTypeBoolean;
            PropertyValueBuffer->Count = 0;
            PropertyValueBuffer->BooleanVal = !control_read(L"channel-disabled", &dummy);
        }
    }
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return err == ERROR_SUCCESS;
}

/* Only EvtChannelConfigAccess, a non-empty string starting "O:", "G:" or "D:": kept in the handle
 * until EvtSaveChannelConfig, as on Windows. */
BOOL WINAPI EvtSetChannelConfigProperty(EVT_HANDLE ChannelConfig, EVT_CHANNEL_CONFIG_PROPERTY_ID PropertyId,
                                        DWORD Flags, PEVT_VARIANT PropertyValue)
{
    DWORD err = ERROR_SUCCESS;
    EnterCriticalSection(&g_lock);
    channel_cfg *c = (channel_cfg *)registry_find(ChannelConfig, OBJ_CHANNEL_CONFIG);
    if (!c) {
        err = ERROR_INVALID_HANDLE;
    } else if (Flags != 0 || !PropertyValue) {
        err = ERROR_INVALID_PARAMETER;
    } else if (PropertyId != EvtChannelConfigAccess) {
        err = ERROR_NOT_SUPPORTED;
    } else if (PropertyValue->Type != EvtVarTypeString || !PropertyValue->StringVal ||
               wcslen(PropertyValue->StringVal) + 1 > DOUBLE_ACCESS_MAX ||
               (wcsncmp(PropertyValue->StringVal, L"O:", 2) != 0 && wcsncmp(PropertyValue->StringVal, L"G:", 2) != 0 &&
                wcsncmp(PropertyValue->StringVal, L"D:", 2) != 0)) {
        err = ERROR_INVALID_PARAMETER;
    } else {
        memcpy(c->access, PropertyValue->StringVal, (wcslen(PropertyValue->StringVal) + 1) * sizeof(wchar_t));
    }
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return err == ERROR_SUCCESS;
}

/* Writes the handle's access SDDL to feed\channel-access.sddl (UTF-8, replaced atomically). */
BOOL WINAPI EvtSaveChannelConfig(EVT_HANDLE ChannelConfig, DWORD Flags)
{
    DWORD err = ERROR_SUCCESS;
    char text[4 * DOUBLE_ACCESS_MAX];
    wchar_t path[MAX_PATH], tmp[MAX_PATH];
    EnterCriticalSection(&g_lock);
    channel_cfg *c = (channel_cfg *)registry_find(ChannelConfig, OBJ_CHANNEL_CONFIG);
    int n = c ? WideCharToMultiByte(CP_UTF8, 0, c->access, -1, text, (int)sizeof text, NULL, NULL) : 0;
    if (!c) {
        err = ERROR_INVALID_HANDLE;
    } else if (Flags != 0) {
        err = ERROR_INVALID_PARAMETER;
    } else if (n <= 0 || !feed_path(DOUBLE_ACCESS_FILE, path) || !feed_path(DOUBLE_ACCESS_FILE L".tmp", tmp)) {
        err = ERROR_INVALID_DATA;
    } else {
        HANDLE fh = CreateFileW(tmp, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
        DWORD wrote = 0;
        if (fh == INVALID_HANDLE_VALUE) {
            err = GetLastError();
        } else {
            BOOL w = WriteFile(fh, text, (DWORD)(n - 1), &wrote, NULL);
            err = w && wrote == (DWORD)(n - 1) ? ERROR_SUCCESS : GetLastError();
            CloseHandle(fh);
            if (err == ERROR_SUCCESS && !MoveFileExW(tmp, path, MOVEFILE_REPLACE_EXISTING))
                err = GetLastError();
        }
    }
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return err == ERROR_SUCCESS;
}

/* Every other wevtapi export: fails cleanly (0 / FALSE / NULL) with ERROR_CALL_NOT_IMPLEMENTED. On x64
 * the caller cleans the stack, so one parameterless function can stand for any signature. */
DWORD WINAPI wevtdouble_unimplemented(void)
{
    SetLastError(ERROR_CALL_NOT_IMPLEMENTED);
    return 0;
}

/* A log handle (EvtOpenLog on the BITS channel): only its creation time is provided. */
typedef struct log_obj {
    obj h;
} log_obj;

EVT_HANDLE WINAPI EvtOpenLog(EVT_HANDLE Session, LPCWSTR Path, DWORD Flags)
{
    if (Session || !Path || (Flags != EvtOpenChannelPath && Flags != EvtOpenFilePath)) {
        SetLastError(Session ? ERROR_NOT_SUPPORTED : ERROR_INVALID_PARAMETER);
        return NULL;
    }
    if (Flags == EvtOpenFilePath) {
        SetLastError(ERROR_NOT_SUPPORTED); /* Log files are not part of the double. */
        return NULL;
    }
    if (!channel_is_ours(Path)) {
        SetLastError(ERROR_EVT_CHANNEL_NOT_FOUND);
        return NULL;
    }
    log_obj *l = calloc(1, sizeof *l);
    if (!l) {
        SetLastError(ERROR_OUTOFMEMORY);
        return NULL;
    }
    EnterCriticalSection(&g_lock);
    registry_add(&l->h, OBJ_LOG);
    LeaveCriticalSection(&g_lock);
    SetLastError(ERROR_SUCCESS);
    return (EVT_HANDLE)l;
}

/* EvtLogCreationTime only (EvtVarTypeFileTime): feed\log-created.txt holds it as a decimal FILETIME (a
 * test "clears" the log by writing a new value), else DOUBLE_LOG_CREATED. Other properties:
 * ERROR_NOT_SUPPORTED. */
BOOL WINAPI EvtGetLogInfo(EVT_HANDLE Log, EVT_LOG_PROPERTY_ID PropertyId, DWORD PropertyValueBufferSize,
                          PEVT_VARIANT PropertyValueBuffer, PDWORD PropertyValueBufferUsed)
{
    DWORD err = ERROR_SUCCESS;
    unsigned long long created = DOUBLE_LOG_CREATED;
    EnterCriticalSection(&g_lock);
    if (!registry_find(Log, OBJ_LOG)) {
        err = ERROR_INVALID_HANDLE;
    } else if (!PropertyValueBufferUsed) {
        err = ERROR_INVALID_PARAMETER;
    } else if (PropertyId != EvtLogCreationTime) {
        err = ERROR_NOT_SUPPORTED;
    } else {
        wchar_t path[MAX_PATH];
        char *text = NULL;
        size_t len = 0;
        if (feed_path(L"log-created.txt", path) && file_read_all(path, 4096, &text, &len)) {
            unsigned long long v = strtoull(text, NULL, 10);
            if (v)
                created = v;
            free(text);
        }
        *PropertyValueBufferUsed = (DWORD)sizeof(EVT_VARIANT);
        if (PropertyValueBufferSize < sizeof(EVT_VARIANT) || !PropertyValueBuffer) {
            err = ERROR_INSUFFICIENT_BUFFER;
        } else {
            memset(PropertyValueBuffer, 0, sizeof *PropertyValueBuffer);
            PropertyValueBuffer->Type = EvtVarTypeFileTime;
            PropertyValueBuffer->FileTimeVal = created;
        }
    }
    LeaveCriticalSection(&g_lock);
    SetLastError(err);
    return err == ERROR_SUCCESS;
}
