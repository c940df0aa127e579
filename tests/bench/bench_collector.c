/* Benchmark of collector mode: forwarded events (many computers, RenderingInfo) per second through the engine. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "store.h"

/* bench_collector [DIR [EVENTS [COMPUTERS]]]: EVENTS forwarded events (default 200,000) from COMPUTERS
 * endpoints (default 1,000), interleaved as a collector receives them, each job 3 events (created, file
 * added, completed), one job in 100 from a direct public IP; through engine_run with a source that hands
 * them out from memory (batches of 64, as wevtapi does), into a fresh database in DIR. Prints events per
 * second and what was stored. Figures only: nothing here passes or fails on speed. */

static double now_seconds(void)
{
#ifdef _WIN32
    return (double)clock() / CLOCKS_PER_SEC; /* Wall time in the Windows C runtime. */
#else
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

typedef struct mem_source {
    event_source base;
    char **xml;
    size_t *len;
    size_t n;
    size_t pos;
    size_t last;
    int stopped;
} mem_source;

static bg_error mem_subscribe(event_source *src, const char *channel, const char *bookmark, int from_oldest)
{
    mem_source *m = (mem_source *)src;
    (void)channel;
    const char *p = bookmark ? strstr(bookmark, "RecordId='") : NULL;
    m->pos = p ? (size_t)strtoull(p + 10, NULL, 10) : (from_oldest ? 0 : m->n);
    m->last = 0;
    return BG_ERR_OK;
}

static bg_error mem_wait(event_source *src)
{
    mem_source *m = (mem_source *)src;
    return m->stopped || m->pos >= m->n ? BG_ERR_STOPPED : BG_ERR_OK; /* Drained: the run ends. */
}

static bg_error mem_next(event_source *src, size_t max, const char **xml, size_t *len, size_t *count)
{
    mem_source *m = (mem_source *)src;
    size_t k = m->n - m->pos < max ? m->n - m->pos : max;
    for (size_t i = 0; i < k; i++) {
        xml[i] = m->xml[m->pos + i];
        len[i] = m->len[m->pos + i];
    }
    m->pos += k;
    if (k)
        m->last = m->pos;
    *count = k;
    return BG_ERR_OK;
}

static bg_error mem_bookmark(event_source *src, char **out)
{
    mem_source *m = (mem_source *)src;
    *out = NULL;
    if (!m->last)
        return BG_ERR_OK;
    char buf[160];
    snprintf(buf, sizeof buf,
             "<BookmarkList><Bookmark Channel='ForwardedEvents' RecordId='%zu' IsCurrent='true'/></BookmarkList>",
             m->last);
    *out = malloc(strlen(buf) + 1);
    if (!*out)
        return BG_ERR_NOMEM;
    memcpy(*out, buf, strlen(buf) + 1);
    return BG_ERR_OK;
}

static void mem_unsubscribe(event_source *src)
{
    (void)src;
}

static void mem_stop(event_source *src)
{
    ((mem_source *)src)->stopped = 1;
}

static bg_error mem_sleep(event_source *src, uint32_t ms)
{
    (void)ms;
    return ((mem_source *)src)->stopped ? BG_ERR_STOPPED : BG_ERR_OK;
}

static void mem_destroy(event_source *src)
{
    (void)src;
}

static const event_source_ops mem_ops = {mem_subscribe, mem_wait,  mem_next,    mem_bookmark, mem_unsubscribe,
                                         mem_stop,      mem_sleep, mem_destroy, NULL};

/* Event i: job i / 3 of computer (i / 3) % computers... interleaved so consecutive events come from
 * different computers, as a collector's ForwardedEvents holds them. */
static char *event_make(size_t i, unsigned computers, size_t *len)
{
    size_t job = i / 3;
    unsigned step = (unsigned)(i % 3);
    unsigned pc = (unsigned)(job % computers);
    static const unsigned ids[3] = {3, 16403, 4}, versions[3] = {2, 0, 1};
    char data[1024], url[128];
    if (job % 100 == 0)
        snprintf(url, sizeof url, "http://45.33.%u.%u/payload%zu.exe", (unsigned)(job / 250 % 250),
                 (unsigned)(job % 250), job);
    else
        snprintf(url, sizeof url, "http://msedge.b.tlu.dl.delivery.mp.microsoft.com/filestreamingservice/files/%zu",
                 job);
    if (step == 0)
        snprintf(data, sizeof data,
                 "<Data Name='jobTitle'>Microsoft Edge Update</Data><Data "
                 "Name='jobId'>{%08zX-24E6-4C66-AC78-5ED0E6007F1A}</Data>"
                 "<Data Name='jobOwner'>NT AUTHORITY\\SYSTEM</Data><Data Name='processPath'>C:\\Program Files (x86)"
                 "\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe</Data><Data Name='processId'>4242</Data>",
                 job);
    else if (step == 1)
        snprintf(
            data, sizeof data,
            "<Data Name='User'>NT AUTHORITY\\SYSTEM</Data><Data Name='jobTitle'>Microsoft Edge Update</Data>"
            "<Data Name='jobId'>{%08zX-24E6-4C66-AC78-5ED0E6007F1A}</Data><Data Name='jobOwner'>NT AUTHORITY\\SYSTEM"
            "</Data><Data Name='fileCount'>1</Data><Data Name='RemoteName'>%s</Data><Data Name='LocalName'>"
            "C:\\Windows\\Temp\\x.cab</Data><Data Name='processId'>4242</Data>",
            job, url);
    else
        snprintf(
            data, sizeof data,
            "<Data Name='User'>NT AUTHORITY\\SYSTEM</Data><Data Name='jobTitle'>Microsoft Edge Update</Data>"
            "<Data Name='jobId'>{%08zX-24E6-4C66-AC78-5ED0E6007F1A}</Data><Data Name='jobOwner'>NT AUTHORITY\\SYSTEM"
            "</Data><Data Name='fileCount'>1</Data><Data Name='bytesTransferred'>1048576</Data>"
            "<Data Name='bytesTransferredFromPeer'>0</Data>",
            job);
    char buf[3072];
    int n =
        snprintf(buf, sizeof buf,
                 "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
                 "<Provider Name='Microsoft-Windows-Bits-Client' Guid='{EF1CC15B-46C1-414E-BB95-E76B077BD51E}'/>"
                 "<EventID>%u</EventID><Version>%u</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode>"
                 "<Keywords>0x4000000000000000</Keywords><TimeCreated SystemTime='2026-11-30T%02u:%02u:%02u.%07uZ'/>"
                 "<EventRecordID>%zu</EventRecordID><Correlation/><Execution ProcessID='1120' ThreadID='4432'/>"
                 "<Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WKS-%05u.corp.example.com"
                 "</Computer><Security UserID='S-1-5-18'/></System><EventData>%s</EventData>"
                 "<RenderingInfo Culture='en-US'><Message>BITS event</Message><Level>Information</Level><Task></Task>"
                 "<Opcode>Info</Opcode><Channel>Microsoft-Windows-Bits-Client/Operational</Channel>"
                 "<Provider>Microsoft-Windows-Bits-Client</Provider><Keywords></Keywords></RenderingInfo></Event>",
                 ids[step], versions[step], (unsigned)(i / 3600 % 24), (unsigned)(i / 60 % 60), (unsigned)(i % 60),
                 (unsigned)(i % 10000000), i + 1, pc, data);
    char *copy = malloc((size_t)n + 1);
    if (copy)
        memcpy(copy, buf, (size_t)n + 1);
    *len = (size_t)n;
    return copy;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    size_t events = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 200000;
    unsigned computers = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1000;
    if (events == 0 || computers == 0)
        return 2;
    mem_source m;
    memset(&m, 0, sizeof m);
    m.base.ops = &mem_ops;
    m.n = events;
    m.xml = calloc(events, sizeof *m.xml);
    m.len = calloc(events, sizeof *m.len);
    if (!m.xml || !m.len)
        return 3;
    size_t bytes = 0;
    for (size_t i = 0; i < events; i++) {
        m.xml[i] = event_make(i, computers, &m.len[i]);
        if (!m.xml[i])
            return 3;
        bytes += m.len[i];
    }
    char db[1024];
    snprintf(db, sizeof db, "%s/bench-collector.db", dir);
    const char *sidecars[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s%s", db, sidecars[i]);
        remove(p);
    }
    engine_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.db_path = db;
    cfg.channel = "ForwardedEvents";
    cfg.backfill = 1;
    engine_stats st;
    memset(&st, 0, sizeof st);
    double t0 = now_seconds();
    bg_error rc = engine_run(&cfg, &m.base, NULL, &st);
    double dt = now_seconds() - t0;
    if (rc != BG_ERR_OK) {
        fprintf(stderr, "engine_run: %s\n", bg_error_str(rc));
        return 1;
    }
    store *s = NULL;
    char err[256];
    int64_t total = 0, silent = 0;
    if (store_open_existing(&s, db, err, sizeof err) == BG_ERR_OK) {
        if (store_computers_count(s, "", &total, &silent) != BG_ERR_OK)
            total = -1;
        store_close(s);
    }
    printf("collector: %zu forwarded events (%.1f MB of XML) from %u computers: %.0f events/s through engine_run"
           " (%.2f s), %" PRIu64 " batches, %" PRIu64 " detections, %" PRId64 " computer rows\n",
           events, (double)bytes / 1e6, computers, (double)st.events / dt, dt, st.batches, st.detections, total);
    for (size_t i = 0; i < events; i++)
        free(m.xml[i]);
    free(m.xml);
    free(m.len);
    for (int i = 0; i < 3; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s%s", db, sidecars[i]);
        remove(p);
    }
    return st.events == events && (uint64_t)total == computers ? 0 : 1;
}
