/* Tests of export_events_read: the single-document pass gives exactly what slicing and per-event parsing give. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "check.h"
#include "event.h"
#include "export.h"
#include "fixture.h"

/* Everything a reader hands over, as text: one line per event (every value) or per skipped event
 * (error, reason, position). Two ways of reading agree when their transcripts are equal. */
typedef struct transcript {
    char *text;
    size_t len, cap;
    uint64_t parsed, skipped;
    uint64_t stop_after; /* Return BG_ERR_NOMEM from the callback after this many calls; 0 never. */
} transcript;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void
transcript_add(transcript *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[4096];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t add = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (t->len + add + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + add + 1)
            cap *= 2;
        char *p = realloc(t->text, cap);
        if (p == NULL)
            return;
        t->text = p;
        t->cap = cap;
    }
    memcpy(t->text + t->len, line, add);
    t->len += add;
    t->text[t->len] = '\0';
}

static bg_error transcript_event(void *ctx, const event *ev, const export_skip *skip)
{
    transcript *t = ctx;
    if (skip != NULL) {
        CHECK(ev == NULL);
        t->skipped++;
        transcript_add(t, "skip %s line %" PRIu64 " byte %" PRIu64 ": %s\n", bg_error_name(skip->err), skip->line,
                       skip->offset, skip->why);
    } else {
        t->parsed++;
        transcript_add(t, "event %u v%u l%u r%" PRIu64 " t=%s p=%s c=%s ch=%s u=%s", ev->event_id, ev->version,
                       ev->level, ev->record_id, ev->time_created, ev->provider, ev->computer, ev->channel,
                       ev->user_sid);
        for (size_t i = 0; i < ev->field_count; i++)
            transcript_add(t, " [%s=%.3000s]", ev->fields[i].name, ev->fields[i].value);
        transcript_add(t, "\n");
    }
    if (t->stop_after != 0 && t->parsed + t->skipped >= t->stop_after)
        return BG_ERR_NOMEM;
    return BG_ERR_OK;
}

/* Reads fp (from its start) one way; returns export_events_read's result. */
static bg_error read_one_way(FILE *fp, int per_event_only, size_t chunk, transcript *t, export_events_stats *stats)
{
    event ev;
    event_init(&ev);
    rewind(fp);
    memset(t, 0, sizeof *t);
    export_events_config cfg = {per_event_only, chunk};
    bg_error rc = export_events_read(fp, "test", &ev, &cfg, transcript_event, t, stats);
    event_free(&ev);
    if (t->text == NULL)
        transcript_add(t, "%s", "");
    return rc;
}

/* Chunk sizes the single-document pass is tried with: the default and splits in awkward places. */
static const size_t chunk_sizes[] = {0, 1, 3, 17, 4096};

/* expect_streamed values: every event of the input, or no check. */
#define STREAMED_ALL (UINT64_MAX - 1)
#define STREAMED_ANY UINT64_MAX

/*
 * Reads fp per event and with the single-document pass at every chunk size; every transcript must
 * match the per-event one. expect_streamed is how many events the pass must hand over itself, so a
 * test also proves the fast path was taken, or left where it should be.
 */
static void ways_compare(const char *what, FILE *fp, uint64_t expect_streamed, uint64_t expect_events)
{
    transcript base, t;
    export_events_stats st;
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    CHECK_INT_EQ(read_one_way(fp, 1, 0, &base, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.streamed, 0);
    CHECK_INT_EQ(st.per_event, base.parsed + base.skipped);
    if (expect_events != UINT64_MAX)
        CHECK_INT_EQ(base.parsed + base.skipped, expect_events);
    /* Tiny reads of a multi-megabyte input add nothing over small ones but minutes under valgrind. */
    if (fseek(fp, 0, SEEK_END) != 0)
        CHECK_FAIL_AT("[%s] cannot seek", what);
    long size = ftell(fp);
    for (size_t i = 0; i < sizeof chunk_sizes / sizeof chunk_sizes[0]; i++) {
        if (size > 256 * 1024 && chunk_sizes[i] != 0 && chunk_sizes[i] < 64)
            continue;
        CHECK_INT_EQ(read_one_way(fp, 0, chunk_sizes[i], &t, &st), BG_ERR_OK);
        if (strcmp(t.text, base.text) != 0) {
            CHECK_FAIL_AT("[%s, chunk %zu] transcripts differ (pass stopped: \"%s\")\n--- per event:\n%.2000s\n--- "
                          "single pass:\n%.2000s",
                          what, chunk_sizes[i], st.why, base.text, t.text);
        }
        check_count++;
        CHECK_INT_EQ(st.streamed + st.per_event, base.parsed + base.skipped);
        uint64_t want = expect_streamed == STREAMED_ALL ? base.parsed + base.skipped : expect_streamed;
        if (expect_streamed != STREAMED_ANY && st.streamed != want)
            CHECK_FAIL_AT("[%s, chunk %zu] %" PRIu64 " events from the single pass, expected %" PRIu64 " (why: %s)",
                          what, chunk_sizes[i], st.streamed, want, st.why);
        /* Events left to the slicer come with the reason the pass stopped. */
        CHECK(st.per_event == 0 || st.why[0] != '\0');
        free(t.text);
    }
    free(base.text);
}

/* Every export fixture: how many events the single pass hands over before it stops, of how many. */
static const struct {
    const char *file;
    uint64_t streamed, events;
} fixture_cases[] = {
    {"exports/wevtutil.xml", 4, 4},          /* No root: wrapped, all in one pass. */
    {"exports/events-wrapped.xml", 3, 3},    /* <Events> root with the event namespace. */
    {"exports/pretty-crlf-bom.xml", 3, 3},   /* BOM, declaration, CRLF. */
    {"exports/xml11-python-evtx.xml", 3, 3}, /* XML 1.1 declaration. */
    {"exports/banner-evtxexport.xml", 2, 2}, /* A banner line before the first event. */
    /* Comments and CDATA between and inside events; a comment with "--" in it (an XML error the slicer
     * passes over) stops the pass after the first event. */
    {"exports/comments-cdata.xml", 1, 3},
    {"exports/mixed-detections.xml", STREAMED_ALL, UINT64_MAX},
    {"exports/truncated-last.xml", 2, 3},   /* Stops at the end: the last event is cut. */
    {"exports/malformed-middle.xml", 1, 3}, /* Stops at the broken event, the slicer goes on. */
    {"exports/oversized.xml", 1, 3},        /* Stops at the event over the size limit. */
    {"exports/billion-laughs.xml", 0, 2},   /* A DOCTYPE: never parsed by this pass. */
    {"exports/xxe.xml", 0, 2},
    {"exports/utf16le-bom.xml", 0, 2}, /* UTF-16 is left to the slicer, which converts it. */
};

static void test_fixtures(void)
{
    for (size_t i = 0; i < sizeof fixture_cases / sizeof fixture_cases[0]; i++) {
        FILE *fp = fixture_open(fixture_cases[i].file);
        ways_compare(fixture_cases[i].file, fp, fixture_cases[i].streamed, fixture_cases[i].events);
        if (fp != NULL)
            fclose(fp);
    }
}

static const char ns_attr[] = "xmlns='" EVENT_XML_NS "'";

/* One Bits-Client 16403 event with this record id and URL (the URL is inserted as is). */
static void event_write(FILE *fp, unsigned record, const char *url, const char *root_attrs)
{
    fprintf(fp,
            "<Event %s><System><Provider Name='Microsoft-Windows-Bits-Client'/><EventID>16403</EventID>"
            "<Version>0</Version><Level>4</Level><TimeCreated SystemTime='2024-05-01T10:00:%02u.1234567Z'/>"
            "<EventRecordID>%u</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel>"
            "<Computer>pc.example.com</Computer><Security UserID='S-1-5-18'/></System><EventData>"
            "<Data Name='jobTitle'>job %u</Data><Data Name='jobId'>{7A1C9E50-3B2D-4E8F-9A6B-1C2D3E4F5A%02u}</Data>"
            "<Data Name='RemoteName'>%s</Data></EventData></Event>\n",
            root_attrs, record % 60, record, record, record % 100, url);
}

/* A temporary file holding text (as bytes, no newline translation). */
static FILE *temp_with(const char *text)
{
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (fp != NULL) {
        fwrite(text, 1, strlen(text), fp);
        fflush(fp);
    }
    return fp;
}

/* Crafted documents the single pass must either read like the slicer or leave to it. */
static void test_crafted(void)
{
    static const struct {
        const char *what, *head, *tail;
        uint64_t streamed;
    } docs[] = {
        {"Events root, default namespace", "<Events xmlns='" EVENT_XML_NS "'>", "</Events>", 3},
        /* The slicer's cut has no namespace at all (accepted); in the document it is another: stop. */
        {"Events root, another default namespace", "<Events xmlns='urn:other'>", "</Events>", 0},
        {"prefixed event namespace", "<e:Events xmlns:e='" EVENT_XML_NS "'>", "</e:Events>", 3},
        {"declaration naming Latin-1 over UTF-8 bytes", "<?xml version='1.0' encoding='ISO-8859-1'?><Events>",
         "</Events>", 3},
        {"wrapper name closed early", "</bitsguard-export><bitsguard-export>", "", 0},
        {"wrapper name at the end", "", "</bitsguard-export>", 3},
        {"second document after the first", "<?xml version='1.0'?>", "<?xml version='1.0'?>\n", 3},
        {"junk markup after the events", "", "<<<>>>", 3},
        {"entity reference between events", "<Events>&nbsp;", "</Events>", 0},
        {"stylesheet PI and comments", "<?xml-stylesheet href='x'?><!-- a --><Events><!-- b -->", "</Events>", 3},
        {"declaration after leading space", "  <?xml version='1.0'?>", "", 0},
        {"unclosed root", "<Events>", "", 3},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        FILE *fp = tmpfile();
        CHECK(fp != NULL);
        if (fp == NULL)
            continue;
        fputs(docs[i].head, fp);
        event_write(fp, 1, "http://45.33.32.156/a.exe", "");
        event_write(fp, 2, "http://caf\xc3\xa9.example/b", "");
        event_write(fp, 3, "\\\\10.0.0.1\\share\\c.exe", "");
        fputs(docs[i].tail, fp);
        fflush(fp);
        ways_compare(docs[i].what, fp, docs[i].streamed, 3);
        fclose(fp);
    }
}

/* Events the per-event parse refuses or cuts: the pass stops right before them, nothing differs. */
static void test_refused_events(void)
{
    static const struct {
        const char *what, *event_text;
    } bad[] = {
        {"nested Event", "<Event><System><EventID>1</EventID></System><EventData><Event/></EventData></Event>"},
        {"no EventID", "<Event><System><Provider Name='x'/></System></Event>"},
        {"EventID not a number", "<Event><System><EventID>x</EventID></System></Event>"},
        {"empty Event", "<Event/>"},
        {"Event in another namespace", "<Event xmlns='urn:x'><System><EventID>1</EventID></System></Event>"},
        {"undefined entity", "<Event><System><EventID>&x;</EventID></System></Event>"},
        {"bad UTF-8", "<Event><System><EventID>1</EventID><Computer>\xff\xfe</Computer></System></Event>"},
        {"duplicate attribute", "<Event a='1' a='2'><System><EventID>1</EventID></System></Event>"},
        {"CDATA value", "<Event><System><EventID><![CDATA[7]]></EventID></System></Event>"},
        {"undeclared prefix", "<Event><System><EventID>1</EventID></System><x:Data>v</x:Data></Event>"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *fp = tmpfile();
        CHECK(fp != NULL);
        if (fp == NULL)
            continue;
        event_write(fp, 1, "http://1.1.1.1/", ns_attr);
        event_write(fp, 2, "http://2.2.2.2/", "");
        fputs(bad[i].event_text, fp);
        fputc('\n', fp);
        event_write(fp, 4, "http://4.4.4.4/", "");
        fflush(fp);
        /* The last two are well-formed for libxml2 and parse alike; the others stop the pass at event 3. */
        uint64_t streamed = i >= 8 ? 4 : 2;
        /* The slicer cuts the event holding a nested <Event> in two (both skipped). */
        ways_compare(bad[i].what, fp, streamed, i == 0 ? 5 : 4);
        fclose(fp);
    }
}

/* The size limit: an event just under it is read in one pass; one over it stops the pass and is
 * skipped by the slicer as too large; a huge comment between events stops the pass too. */
static void test_size_limits(void)
{
    /* Twice the limit: a comment that long is more than the pass lets the parser hold. */
    size_t big = 2 * EVENT_MAX_BYTES;
    char *pad = malloc(big + 1);
    CHECK(pad != NULL);
    if (pad == NULL)
        return;
    for (int over = 0; over < 2; over++) {
        /* The event's markup without the padding is well under 1 KiB; aim 1 KiB below or above. */
        size_t n = over ? EVENT_MAX_BYTES : EVENT_MAX_BYTES - 1024;
        memset(pad, 'a', n);
        memcpy(pad, "http://8.8.8.8/", 15);
        pad[n] = '\0';
        FILE *fp = tmpfile();
        CHECK(fp != NULL);
        if (fp == NULL)
            continue;
        event_write(fp, 1, "http://1.1.1.1/", "");
        event_write(fp, 2, pad, "");
        event_write(fp, 3, "http://3.3.3.3/", "");
        fflush(fp);
        ways_compare(over ? "event over the limit" : "event under the limit", fp, over ? 1 : 3, 3);
        fclose(fp);
    }
    memset(pad, 'x', big);
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (fp != NULL) {
        event_write(fp, 1, "http://1.1.1.1/", "");
        fputs("<!-- ", fp);
        fwrite(pad + 2, 1, big - 2, fp);
        fputs("x -->\n", fp);
        event_write(fp, 2, "http://2.2.2.2/", "");
        fflush(fp);
        ways_compare("huge comment between events", fp, 1, 2);
        /* That one must have stopped for the backlog, the bound on what the parser holds. */
        transcript t;
        export_events_stats st;
        CHECK_INT_EQ(read_one_way(fp, 0, 0, &t, &st), BG_ERR_OK);
        CHECK(strstr(st.why, "longer than the read buffer") != NULL);
        free(t.text);
        fclose(fp);
    }
    free(pad);
}

/* Nesting: the per-event parse refuses an event nested deeper than EVENT_MAX_DEPTH levels; the single
 * pass must refuse the same events (and stop before them), at the limit and just past it, inside the
 * event and around it, so that a file and a pipe give the same verdict. */
static void test_depth_limit(void)
{
    static const struct {
        const char *what;
        unsigned inner; /* Levels below the Event element, inside EventData. */
        unsigned outer; /* Elements wrapped around the events. */
    } cases[] = {
        {"event nested to the limit", EVENT_MAX_DEPTH - 2, 0},
        {"event nested one past the limit", EVENT_MAX_DEPTH - 1, 0},
        {"event nested two past the limit", EVENT_MAX_DEPTH, 0},
        {"event nested 10,000 levels", 10000, 0},
        {"events inside 300 elements", 0, 300},
        {"events inside 300 elements, nested to the limit", EVENT_MAX_DEPTH - 2, 300},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp = tmpfile();
        CHECK(fp != NULL);
        if (fp == NULL)
            continue;
        for (unsigned k = 0; k < cases[i].outer; k++)
            fputs("<a>", fp);
        event_write(fp, 1, "http://1.1.1.1/", "");
        /* Event (1), EventData (2), then inner levels of <x>. */
        fputs("<Event><System><EventID>16403</EventID></System><EventData>", fp);
        for (unsigned k = 0; k < cases[i].inner; k++)
            fputs("<x>", fp);
        for (unsigned k = 0; k < cases[i].inner; k++)
            fputs("</x>", fp);
        fputs("<Data Name='RemoteName'>http://2.2.2.2/</Data></EventData></Event>\n", fp);
        event_write(fp, 3, "http://3.3.3.3/", "");
        for (unsigned k = 0; k < cases[i].outer; k++)
            fputs("</a>", fp);
        fflush(fp);
        ways_compare(cases[i].what, fp, STREAMED_ANY, 3);
        /* Which side of the limit the event falls on, by the per-event verdict. */
        transcript t;
        export_events_stats st;
        CHECK_INT_EQ(read_one_way(fp, 1, 0, &t, &st), BG_ERR_OK);
        int refused = 2 + cases[i].inner > EVENT_MAX_DEPTH;
        if (t.skipped != (uint64_t)refused)
            CHECK_FAIL_AT("[%s] %" PRIu64 " events skipped per event, expected %d", cases[i].what, t.skipped, refused);
        free(t.text);
        fclose(fp);
    }
}

/* Names are interned for good in a parser's dictionary: an input that invents thousands stops the
 * pass (the per-event parse replaces its parser instead), so memory stays bounded either way. */
static void test_many_names(void)
{
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    fputs("<Events>", fp);
    for (unsigned rec = 1; rec <= 6; rec++) {
        char extra[64];
        event_write(fp, rec, "http://1.2.3.4/", "");
        /* 2,000 new names between events, each batch different: past the bound after three. */
        for (unsigned i = 0; i < 2000; i++) {
            snprintf(extra, sizeof extra, "<name%u_%u/>", rec, i);
            fputs(extra, fp);
        }
    }
    fputs("</Events>", fp);
    fflush(fp);
    ways_compare("thousands of distinct names", fp, STREAMED_ANY, 6);
    transcript t;
    export_events_stats st;
    CHECK_INT_EQ(read_one_way(fp, 0, 0, &t, &st), BG_ERR_OK);
    CHECK(strstr(st.why, "too many distinct names") != NULL);
    CHECK(st.streamed >= 2 && st.streamed < 6);
    free(t.text);
    fclose(fp);
}

/* The callback's error stops the reading in both ways, after the same number of calls. */
static void test_callback_stop(void)
{
    FILE *fp = fixture_open("exports/malformed-middle.xml");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    for (int per_event = 0; per_event < 2; per_event++) {
        for (uint64_t stop = 1; stop <= 3; stop++) {
            event ev;
            event_init(&ev);
            transcript t;
            memset(&t, 0, sizeof t);
            t.stop_after = stop;
            rewind(fp);
            export_events_config cfg = {per_event, 0};
            CHECK_INT_EQ(export_events_read(fp, "x", &ev, &cfg, transcript_event, &t, NULL), BG_ERR_NOMEM);
            CHECK_INT_EQ(t.parsed + t.skipped, stop);
            event_free(&ev);
            free(t.text);
        }
    }
    fclose(fp);
}

static void test_empty_and_args(void)
{
    FILE *fp = temp_with("");
    ways_compare("empty file", fp, 0, 0);
    if (fp != NULL)
        fclose(fp);
    fp = temp_with("just some text, no events\n");
    ways_compare("no events", fp, 0, 0);
    event ev;
    event_init(&ev);
    CHECK_INT_EQ(export_events_read(NULL, "x", &ev, NULL, transcript_event, NULL, NULL), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(export_events_read(fp, "x", &ev, NULL, NULL, NULL, NULL), BG_ERR_INVALID_ARG);
    event_free(&ev);
    if (fp != NULL)
        fclose(fp);
}

#ifndef _WIN32
/* A pipe cannot be read twice: it is sliced event by event, and says so. */
static void test_pipe(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    FILE *w = fdopen(fds[1], "wb");
    FILE *r = fdopen(fds[0], "rb");
    CHECK(w != NULL && r != NULL);
    if (w == NULL || r == NULL)
        return;
    event_write(w, 1, "http://1.1.1.1/", "");
    event_write(w, 2, "http://2.2.2.2/", "");
    fclose(w);
    event ev;
    event_init(&ev);
    transcript t;
    memset(&t, 0, sizeof t);
    export_events_stats st;
    CHECK_INT_EQ(export_events_read(r, "-", &ev, NULL, transcript_event, &t, &st), BG_ERR_OK);
    CHECK_INT_EQ(t.parsed, 2);
    CHECK_INT_EQ(st.streamed, 0);
    CHECK_INT_EQ(st.per_event, 2);
    CHECK(strstr(st.why, "not a regular file") != NULL);
    event_free(&ev);
    free(t.text);
    fclose(r);
}
#endif

/* The real logs in ../shared, both renderings, when present. */
static void test_real_logs(void)
{
    static const char *const logs[] = {
        "bits_openvpn.python-evtx.xml",
        "bits_openvpn.evtxexport.xml",
        "windows_bits_4_59_60_lolbas_desktopimgdownldr.python-evtx.xml",
        "windows_bits_4_59_60_lolbas_desktopimgdownldr.evtxexport.xml",
        "persist_bitsadmin_Microsoft-Windows-Bits-Client-Operational.python-evtx.xml",
        "persist_bitsadmin_Microsoft-Windows-Bits-Client-Operational.evtxexport.xml",
    };
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", BG_SHARED_SAMPLES, logs[i]);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            fprintf(stderr, "note: %s absent, not compared\n", path);
            continue;
        }
        /* Real exports are clean documents: all of it in one pass. */
        ways_compare(logs[i], fp, STREAMED_ALL, UINT64_MAX);
        fclose(fp);
    }
}

int main(void)
{
    CHECK_RUN(test_fixtures);
    CHECK_RUN(test_crafted);
    CHECK_RUN(test_refused_events);
    CHECK_RUN(test_size_limits);
    CHECK_RUN(test_depth_limit);
    CHECK_RUN(test_many_names);
    CHECK_RUN(test_callback_stop);
    CHECK_RUN(test_empty_and_args);
#ifndef _WIN32
    CHECK_RUN(test_pipe);
#endif
    CHECK_RUN(test_real_logs);
    return CHECK_DONE();
}
