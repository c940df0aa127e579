/* Tests of the .evtx reader (libevtx): signature, real logs equal to their evtxexport rendering, the per-record time
 * bound. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"
#include "evtx.h"
#include "export.h"
#include "test_db.h"

static const struct {
    const char *log;
    uint64_t events;
} known_logs[] = {
    {"bits_openvpn", 1537},
    {"windows_bits_4_59_60_lolbas_desktopimgdownldr", 5},
    {"persist_bitsadmin_Microsoft-Windows-Bits-Client-Operational", 6},
};

/* Every value event_xml_parse fills, as one line: two events are the same when their lines are. */
static char *event_line(const event *ev)
{
    size_t cap = 512;
    for (size_t i = 0; i < ev->field_count; i++)
        cap += strlen(ev->fields[i].name) + strlen(ev->fields[i].value) + 4;
    cap += strlen(ev->provider) + strlen(ev->computer) + strlen(ev->channel) + strlen(ev->user_sid);
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    int n = snprintf(s, cap, "%s|%u|%u|%u|%llu|%s|%s|%s|%s|%d", ev->provider, ev->event_id, ev->version, ev->level,
                     (unsigned long long)ev->record_id, ev->time_created, ev->computer, ev->channel, ev->user_sid,
                     ev->recovered);
    for (size_t i = 0; i < ev->field_count; i++)
        n += snprintf(s + n, cap - (size_t)n, "|%s=%s", ev->fields[i].name, ev->fields[i].value);
    return s;
}

typedef struct collected {
    char **line;
    size_t count, cap;
    uint64_t skipped;
    /* For the time-bound tests: a fake processor clock. */
    int slow_event; /* The 1-based event during whose hand-over the clock starts to jump (0: never). */
    int fn_busy;    /* ... or the event whose callback itself takes 10 s (not the record's time). */
} collected;

static clock_t fake_ticks, fake_step;
static clock_t fake_clock(void)
{
    fake_ticks += fake_step;
    return fake_ticks;
}

static bg_error collect(void *ctx, const event *ev, const export_skip *skip)
{
    collected *c = ctx;
    if (skip != NULL) {
        c->skipped++;
        return BG_ERR_OK;
    }
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        char **grown = realloc(c->line, c->cap * sizeof *grown);
        if (grown == NULL)
            return BG_ERR_NOMEM;
        c->line = grown;
    }
    c->line[c->count++] = event_line(ev);
    if ((int)c->count == c->slow_event)
        fake_step = 10 * CLOCKS_PER_SEC; /* From now on, every clock reading is 10 s later. */
    if ((int)c->count == c->fn_busy)
        fake_ticks += 10 * CLOCKS_PER_SEC;
    return BG_ERR_OK;
}

static void collected_free(collected *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->line[i]);
    free(c->line);
    memset(c, 0, sizeof *c);
}

static void test_signature(void)
{
    CHECK(evtx_signature_match((const unsigned char *)"ElfFile\0rest", 12));
    CHECK(!evtx_signature_match((const unsigned char *)"ElfFile\0", 7));
    CHECK(!evtx_signature_match((const unsigned char *)"ElfFileX", 8));
    CHECK(!evtx_signature_match((const unsigned char *)"<Event ", 7));
}

/* Bytes with the signature and nothing else of the format: refused with a reason, nothing handed over. */
static void test_not_evtx(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bg_test_evtx_garbage_%d.evtx", test_tmp_dir(), rand());
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    fwrite("ElfFile\0garbage", 1, 15, fp);
    fclose(fp);
    fp = fopen(path, "rb");
    event ev;
    event_init(&ev);
    collected c = {0};
    evtx_stats st;
    CHECK_INT_EQ(evtx_events_read(fp, path, &ev, NULL, collect, &c, &st), BG_ERR_IO);
    CHECK_INT_EQ(c.count, 0);
    CHECK(strstr(st.why, "libevtx cannot open it") != NULL);
    fclose(fp);
    remove(path);
    event_free(&ev);
    collected_free(&c);
}

static int read_evtx(const char *path, const evtx_config *cfg, collected *c, evtx_stats *st)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return -1;
    event ev;
    event_init(&ev);
    bg_error rc = evtx_events_read(fp, path, &ev, cfg, collect, c, st);
    fclose(fp);
    event_free(&ev);
    return rc == BG_ERR_OK ? 0 : -1;
}

static int read_xml(const char *path, collected *c)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return -1;
    event ev;
    event_init(&ev);
    bg_error rc = export_events_read(fp, path, &ev, NULL, collect, c, NULL);
    fclose(fp);
    event_free(&ev);
    return rc == BG_ERR_OK ? 0 : -1;
}

/* Each real log read through our libbfio handle gives, event by event and value by value, what
 * evtxexport (the same library's own tool) rendered, with no record skipped. */
static void test_real_logs(void)
{
    for (size_t i = 0; i < sizeof known_logs / sizeof known_logs[0]; i++) {
        char p_evtx[600], p_xml[600];
        snprintf(p_evtx, sizeof p_evtx, "%s/%s.evtx", BG_SHARED_SAMPLES, known_logs[i].log);
        snprintf(p_xml, sizeof p_xml, "%s/%s.evtxexport.xml", BG_SHARED_SAMPLES, known_logs[i].log);
        collected a = {0}, b = {0};
        evtx_stats st;
        CHECK_INT_EQ(read_evtx(p_evtx, NULL, &a, &st), 0);
        CHECK_INT_EQ(read_xml(p_xml, &b), 0);
        CHECK_INT_EQ(a.count, known_logs[i].events);
        CHECK_INT_EQ(b.count, known_logs[i].events);
        CHECK_INT_EQ(a.skipped, 0);
        CHECK_INT_EQ(st.records, known_logs[i].events);
        CHECK_INT_EQ(st.read, known_logs[i].events);
        CHECK_INT_EQ(st.announced, known_logs[i].events);
        CHECK_INT_EQ(st.skipped, 0);
        CHECK_INT_EQ(st.recovered_read, 0);
        CHECK_INT_EQ(st.corrupted, 0);
        for (size_t k = 0; k < a.count && k < b.count; k++)
            CHECK_STR_EQ_CTX(known_logs[i].log, a.line[k], b.line[k]);
        collected_free(&a);
        collected_free(&b);
    }
}

/* A record whose reading takes over the bound ends the file: the records after it are skipped and
 * counted, the reason names it. The time the callback takes is not the record's. */
static void test_time_bound(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/windows_bits_4_59_60_lolbas_desktopimgdownldr.evtx", BG_SHARED_SAMPLES);
    evtx_config cfg = {.record_max_ms = 2000, .clock_fn = fake_clock};
    collected c = {0};
    evtx_stats st;
    fake_ticks = 0;
    fake_step = 0;
    c.slow_event = 2;
    CHECK_INT_EQ(read_evtx(path, &cfg, &c, &st), 0);
    CHECK_INT_EQ(c.count, 2);
    CHECK_INT_EQ(st.read, 2);
    CHECK_INT_EQ(st.skipped, 3);
    CHECK(strstr(st.why, "record 2 took more than 2.0 s") != NULL);
    collected_free(&c);

    fake_ticks = 0;
    fake_step = 0;
    c.fn_busy = 2;
    CHECK_INT_EQ(read_evtx(path, &cfg, &c, &st), 0);
    CHECK_INT_EQ(c.count, 5);
    CHECK_INT_EQ(st.skipped, 0);
    collected_free(&c);
}

int main(void)
{
    CHECK_RUN(test_signature);
    CHECK_RUN(test_not_evtx);
    char probe[600];
    snprintf(probe, sizeof probe, "%s/SOURCE.md", BG_SHARED_SAMPLES);
    FILE *fp = fopen(probe, "rb");
    if (fp == NULL) {
        fprintf(stderr, "skip: %s is absent (real-log tests)\n", BG_SHARED_SAMPLES);
        return CHECK_DONE();
    }
    fclose(fp);
    CHECK_RUN(test_real_logs);
    CHECK_RUN(test_time_bound);
    return CHECK_DONE();
}
