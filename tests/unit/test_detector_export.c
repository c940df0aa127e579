/* Tests of the export reader: every export shape, positions of bad events, and the memory bound on a 50 MB stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"
#include "export.h"
#include "fixture.h"

/* One outcome of export_reader_next followed (for slices) by event_xml_parse. */
typedef struct step {
    bg_error reader; /* What export_reader_next returns. */
    bg_error parse;  /* For BG_ERR_OK slices: what event_xml_parse returns. */
    uint64_t record; /* For parsed events: the EventRecordID; 0 to skip the check. */
    uint64_t line;   /* Position reported by the reader; 0 to skip the check. */
} step;

#define END                         \
    {                               \
        BG_ERR_EOF, BG_ERR_OK, 0, 0 \
    }

typedef struct shape_case {
    const char *file;
    step steps[8];
} shape_case;

static const shape_case shape_cases[] = {
    {"exports/wevtutil.xml",
     {{BG_ERR_OK, BG_ERR_OK, 101, 1},
      {BG_ERR_OK, BG_ERR_OK, 102, 1},
      {BG_ERR_OK, BG_ERR_OK, 103, 1},
      {BG_ERR_OK, BG_ERR_OK, 104, 1},
      END}},
    {"exports/events-wrapped.xml",
     {{BG_ERR_OK, BG_ERR_OK, 201, 3}, {BG_ERR_OK, BG_ERR_OK, 202, 4}, {BG_ERR_OK, BG_ERR_OK, 203, 5}, END}},
    {"exports/pretty-crlf-bom.xml",
     {{BG_ERR_OK, BG_ERR_OK, 301, 3}, {BG_ERR_OK, BG_ERR_OK, 302, 33}, {BG_ERR_OK, BG_ERR_OK, 303, 63}, END}},
    {"exports/xml11-python-evtx.xml",
     {{BG_ERR_OK, BG_ERR_OK, 401, 4}, {BG_ERR_OK, BG_ERR_OK, 402, 28}, {BG_ERR_OK, BG_ERR_OK, 403, 52}, END}},
    {"exports/banner-evtxexport.xml", {{BG_ERR_OK, BG_ERR_OK, 501, 3}, {BG_ERR_OK, BG_ERR_OK, 502, 27}, END}},
    {"exports/truncated-last.xml",
     {{BG_ERR_OK, BG_ERR_OK, 601, 1}, {BG_ERR_OK, BG_ERR_OK, 602, 24}, {BG_ERR_XML_MALFORMED, BG_ERR_OK, 0, 47}, END}},
    {"exports/malformed-middle.xml",
     {{BG_ERR_OK, BG_ERR_OK, 701, 1}, {BG_ERR_OK, BG_ERR_XML_MALFORMED, 0, 24}, {BG_ERR_OK, BG_ERR_OK, 703, 47}, END}},
    {"exports/oversized.xml",
     {{BG_ERR_OK, BG_ERR_OK, 801, 1}, {BG_ERR_TOO_LARGE, BG_ERR_OK, 0, 2}, {BG_ERR_OK, BG_ERR_OK, 803, 3}, END}},
    /* Entities declared outside the event are never part of its slice: the reference is undefined. */
    {"exports/billion-laughs.xml", {{BG_ERR_OK, BG_ERR_XML_MALFORMED, 0, 15}, {BG_ERR_OK, BG_ERR_OK, 902, 38}, END}},
    {"exports/xxe.xml", {{BG_ERR_OK, BG_ERR_XML_MALFORMED, 0, 5}, {BG_ERR_OK, BG_ERR_OK, 1002, 28}, END}},
    {"exports/comments-cdata.xml",
     {{BG_ERR_OK, BG_ERR_OK, 1101, 3}, {BG_ERR_OK, BG_ERR_OK, 1102, 27}, {BG_ERR_OK, BG_ERR_OK, 1103, 51}, END}},
    {"exports/utf16le-bom.xml", {{BG_ERR_OK, BG_ERR_OK, 1201, 2}, {BG_ERR_OK, BG_ERR_OK, 1202, 25}, END}},
};

static void test_shapes(void)
{
    event ev;
    event_init(&ev);
    for (size_t i = 0; i < sizeof shape_cases / sizeof shape_cases[0]; i++) {
        const shape_case *c = &shape_cases[i];
        FILE *fp = fixture_open(c->file);
        CHECK(fp != NULL);
        if (fp == NULL)
            continue;
        export_reader *rd = export_reader_open(fp, c->file);
        CHECK(rd != NULL);
        CHECK_STR_EQ(export_reader_name(rd), c->file);
        for (size_t k = 0; rd != NULL && k < sizeof c->steps / sizeof c->steps[0]; k++) {
            const step *s = &c->steps[k];
            const char *xml = NULL;
            size_t len = 0;
            char ctx[128];
            snprintf(ctx, sizeof ctx, "%s step %u", c->file, (unsigned)k);
            bg_error rc = export_reader_next(rd, &xml, &len);
            CHECK_STR_EQ_CTX(ctx, bg_error_name(rc), bg_error_name(s->reader));
            /* Skipped events say why; returned ones have no reason. */
            CHECK((rc == BG_ERR_OK || rc == BG_ERR_EOF) == (export_reader_error(rd)[0] == '\0'));
            if (s->line != 0 && export_reader_line(rd) != s->line)
                CHECK_FAIL_AT("[%s] line %" PRIu64 ", expected %" PRIu64, ctx, export_reader_line(rd), s->line);
            if (rc == BG_ERR_OK) {
                CHECK(len > 0 && xml != NULL && xml[0] == '<');
                /* The slice is exactly one element: it starts at <Event and ends with its '>'. */
                CHECK(len >= 8 && xml[len - 1] == '>');
                char err[256] = "";
                bg_error prc = event_xml_parse(&ev, xml, len, err, sizeof err);
                CHECK_STR_EQ_CTX(ctx, bg_error_name(prc), bg_error_name(s->parse));
                if (prc == BG_ERR_OK && s->record != 0) {
                    CHECK_INT_EQ(ev.record_id, s->record);
                    CHECK(event_is_bits(&ev));
                }
                if (prc == BG_ERR_XML_MALFORMED)
                    CHECK(strstr(err, "line") != NULL);
            }
            if (rc == BG_ERR_EOF)
                break;
        }
        /* The end stays the end. */
        const char *xml;
        size_t len;
        CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_EOF);
        export_reader_close(rd);
        fclose(fp);
    }
    event_free(&ev);
}

/* The byte offset of each event's '<' matches where "<Event" stands in the file. */
static void test_offsets(void)
{
    FILE *fp = fixture_open("exports/pretty-crlf-bom.xml");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    char file[8192];
    size_t flen = fread(file, 1, sizeof file - 1, fp);
    file[flen] = '\0';
    rewind(fp);
    export_reader *rd = export_reader_open(fp, "x");
    const char *xml;
    size_t len;
    const char *search = file;
    int n = 0;
    while (export_reader_next(rd, &xml, &len) == BG_ERR_OK) {
        const char *at = strstr(search, "<Event ");
        CHECK(at != NULL);
        if (at == NULL)
            break;
        CHECK_INT_EQ(export_reader_offset(rd), at - file);
        CHECK(memcmp(xml, at, len) == 0);
        search = at + 1;
        n++;
    }
    CHECK_INT_EQ(n, 3);
    /* The BOM is three bytes before the declaration: the first event is not at offset 0. */
    CHECK((unsigned char)file[0] == 0xEF);
    export_reader_close(rd);
    fclose(fp);
}

static void test_utf16_values(void)
{
    FILE *fp = fixture_open("exports/utf16le-bom.xml");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    export_reader *rd = export_reader_open(fp, "utf16");
    event ev;
    event_init(&ev);
    const char *xml;
    size_t len;
    char err[256];
    CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_OK);
    CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_OK);
    CHECK_INT_EQ(event_xml_parse(&ev, xml, len, err, sizeof err), BG_ERR_OK);
    /* é, 日本 and an emoji (a surrogate pair in UTF-16) arrive as UTF-8. */
    CHECK_STR_EQ(event_field_get(&ev, "jobTitle"),
                 "job 1202 \xC3\xA9t\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80");
    CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_EOF);
    event_free(&ev);
    export_reader_close(rd);
    fclose(fp);
}

/* The CDATA value holding </Event> and <Event> comes through whole. */
static void test_cdata_value(void)
{
    FILE *fp = fixture_open("exports/comments-cdata.xml");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    export_reader *rd = export_reader_open(fp, "c");
    event ev;
    event_init(&ev);
    const char *xml;
    size_t len;
    char err[256];
    CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_OK);
    CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_OK);
    CHECK_INT_EQ(event_xml_parse(&ev, xml, len, err, sizeof err), BG_ERR_OK);
    CHECK_STR_EQ(event_field_get(&ev, "jobTitle"), "a </Event> <Event>  b");
    event_free(&ev);
    export_reader_close(rd);
    fclose(fp);
}

static void test_mixed_fixture(void)
{
    FILE *fp = fixture_open("exports/mixed-detections.xml");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    export_reader *rd = export_reader_open(fp, "mixed");
    event ev;
    event_init(&ev);
    const char *xml;
    size_t len;
    char err[256];
    int total = 0, bits = 0, other_16403 = 0;
    bg_error rc;
    while ((rc = export_reader_next(rd, &xml, &len)) == BG_ERR_OK) {
        CHECK_INT_EQ(event_xml_parse(&ev, xml, len, err, sizeof err), BG_ERR_OK);
        total++;
        if (event_is_bits(&ev))
            bits++;
        else if (ev.event_id == 16403)
            other_16403++;
    }
    CHECK_INT_EQ(rc, BG_ERR_EOF);
    CHECK_INT_EQ(total, 17);
    CHECK_INT_EQ(bits, 16);
    CHECK_INT_EQ(other_16403, 1);
    event_free(&ev);
    export_reader_close(rd);
    fclose(fp);
}

/* Runs the reader over an in-memory text through a temporary file. */
static FILE *temp_with(const char *text, size_t len)
{
    FILE *fp = tmpfile();
    if (fp == NULL)
        fp = fopen("bg_test_export.tmp", "w+b");
    if (fp == NULL)
        return NULL;
    if (len > 0 && fwrite(text, 1, len, fp) != len) {
        fclose(fp);
        return NULL;
    }
    rewind(fp);
    return fp;
}

typedef struct small_case {
    const char *what;
    const char *text;
    bg_error results[4]; /* Reader results in order, ending with BG_ERR_EOF. */
} small_case;

static const small_case small_cases[] = {
    {"empty", "", {BG_ERR_EOF}},
    {"no events", "evtxexport 20181227\n<Events></Events>\n<EventData/><EventID>3</EventID>", {BG_ERR_EOF}},
    {"prefixed", "<e:Event xmlns:e=\"urn:x\"><e:System/></e:Event>", {BG_ERR_OK, BG_ERR_EOF}},
    {"self-closing", "<Event/><Event />", {BG_ERR_OK, BG_ERR_OK, BG_ERR_EOF}},
    {"cut by a new event",
     "<Event><System><EventID>3</EventID>\n<Event><System/></Event>",
     {BG_ERR_XML_MALFORMED, BG_ERR_OK, BG_ERR_EOF}},
    {"unterminated start tag", "<Event a=\"1\"", {BG_ERR_XML_MALFORMED, BG_ERR_EOF}},
    {"unterminated quote", "<Event a=\"1>", {BG_ERR_XML_MALFORMED, BG_ERR_EOF}},
    {"unterminated comment", "<Event><!-- </Event>", {BG_ERR_XML_MALFORMED, BG_ERR_EOF}},
    {"stray end tags", "</Event></Events><Event></Event>", {BG_ERR_OK, BG_ERR_EOF}},
    {"doctype with internal subset",
     "<!DOCTYPE x [ <!ENTITY a \"<Event>\"> ]><Event></Event>",
     {BG_ERR_OK, BG_ERR_EOF}},
    {"stray less-than", "a < b <<Event></Event>", {BG_ERR_OK, BG_ERR_EOF}},
};

static void test_small(void)
{
    for (size_t i = 0; i < sizeof small_cases / sizeof small_cases[0]; i++) {
        const small_case *c = &small_cases[i];
        FILE *fp = temp_with(c->text, strlen(c->text));
        CHECK(fp != NULL);
        if (fp == NULL)
            continue;
        export_reader *rd = export_reader_open(fp, c->what);
        for (size_t k = 0; k < 4; k++) {
            const char *xml;
            size_t len;
            bg_error rc = export_reader_next(rd, &xml, &len);
            CHECK_STR_EQ_CTX(c->what, bg_error_name(rc), bg_error_name(c->results[k]));
            if (c->results[k] == BG_ERR_EOF || rc == BG_ERR_EOF)
                break;
        }
        export_reader_close(rd);
        fclose(fp);
    }
    /* The position of a cut event is its own start, and the event after it is returned whole. */
    static const char cut[] = "x\n<Event><System>\n<Event><System/></Event>";
    FILE *fp = temp_with(cut, sizeof cut - 1);
    CHECK(fp != NULL);
    if (fp != NULL) {
        export_reader *rd = export_reader_open(fp, "cut");
        const char *xml;
        size_t len;
        CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_XML_MALFORMED);
        CHECK_STR_EQ(export_reader_error(rd), "event not closed before the next <Event> starts");
        CHECK_INT_EQ(export_reader_line(rd), 2);
        CHECK_INT_EQ(export_reader_offset(rd), 2);
        CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_OK);
        CHECK_INT_EQ(export_reader_line(rd), 3);
        CHECK_INT_EQ(export_reader_offset(rd), 18);
        CHECK(len == sizeof cut - 1 - 18 && memcmp(xml, cut + 18, len) == 0);
        export_reader_close(rd);
        fclose(fp);
    }
    CHECK(export_reader_open(NULL, "x") == NULL);

    /* Events under a root that binds their prefix: the slice alone has an unbound prefix, which
     * libxml2 reports as a namespace error only; the event still parses. */
    static const char pfx[] = "<e:Events xmlns:e=\"http://schemas.microsoft.com/win/2004/08/events/event\">"
                              "<e:Event><e:System><e:Provider Name=\"Microsoft-Windows-Bits-Client\"/>"
                              "<e:EventID>3</e:EventID></e:System><e:EventData><e:Data Name=\"a\">b</e:Data>"
                              "</e:EventData></e:Event></e:Events>";
    fp = temp_with(pfx, sizeof pfx - 1);
    CHECK(fp != NULL);
    if (fp != NULL) {
        export_reader *rd = export_reader_open(fp, "pfx");
        const char *xml;
        size_t len;
        char err[256];
        event ev;
        event_init(&ev);
        CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_OK);
        CHECK_INT_EQ(event_xml_parse(&ev, xml, len, err, sizeof err), BG_ERR_OK);
        CHECK_INT_EQ(ev.event_id, 3);
        CHECK(event_is_bits(&ev));
        CHECK_STR_EQ(event_field_get(&ev, "a"), "b");
        CHECK_INT_EQ(export_reader_next(rd, &xml, &len), BG_ERR_EOF);
        event_free(&ev);
        export_reader_close(rd);
        fclose(fp);
    }
}

/* A generated ~50 MB stream with oversized events and events across every chunk boundary: all are
 * returned in order and the buffer never holds more than EVENT_MAX_BYTES + one read chunk. */
static void test_large_stream(void)
{
    FILE *fp = tmpfile();
    if (fp == NULL)
        fp = fopen("bg_test_export_large.tmp", "w+b");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    static const char head[] = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>\r\n  <System>"
                               "<Provider Name='Microsoft-Windows-Bits-Client'/><EventID>59</EventID>"
                               "<EventRecordID>";
    static const char mid[] = "</EventRecordID></System>\r\n  <EventData><Data Name='url'>http://example.com/";
    static const char tail[] = "</Data></EventData>\r\n</Event>\r\n";
    char pad[1500];
    memset(pad, 'p', sizeof pad);
    char *huge = malloc(EVENT_MAX_BYTES + 100);
    CHECK(huge != NULL);
    if (huge == NULL) {
        fclose(fp);
        return;
    }
    memset(huge, 'h', EVENT_MAX_BYTES + 100);
    uint64_t written = 0, events = 0, oversized = 0;
    while (written < 50u * 1024u * 1024u) {
        events++;
        int big = events % 10000 == 5000;
        /* Vary each event's length so event ends fall at every offset within the read chunks. */
        size_t padlen = big ? 0 : (size_t)(events * 7919u % sizeof pad);
        written += (uint64_t)fprintf(fp, "%s%" PRIu64 "%s", head, events, mid);
        written += fwrite(pad, 1, padlen, fp);
        if (big) {
            written += fwrite(huge, 1, EVENT_MAX_BYTES + 100, fp);
            oversized++;
        }
        written += fwrite(tail, 1, sizeof tail - 1, fp);
    }
    free(huge);
    rewind(fp);

    export_reader *rd = export_reader_open(fp, "large");
    event ev;
    event_init(&ev);
    const char *xml;
    size_t len;
    char err[256];
    uint64_t seen = 0, too_large = 0, next_record = 1, order_errors = 0, parse_errors = 0;
    bg_error rc;
    while ((rc = export_reader_next(rd, &xml, &len)) != BG_ERR_EOF) {
        if (rc == BG_ERR_TOO_LARGE) {
            if (too_large == 0)
                CHECK_STR_EQ(export_reader_error(rd), "event larger than 1048576 bytes skipped");
            too_large++;
            next_record++;
            continue;
        }
        if (rc != BG_ERR_OK) {
            CHECK_STR_EQ(bg_error_name(rc), "OK");
            break;
        }
        if (event_xml_parse(&ev, xml, len, err, sizeof err) != BG_ERR_OK) {
            parse_errors++;
            continue;
        }
        if (ev.record_id != next_record)
            order_errors++;
        next_record = ev.record_id + 1;
        seen++;
        /* Lines: every event is four lines long, and the reader counts CRLF lines. */
        if (export_reader_line(rd) != 1 + 4 * (ev.record_id - 1)) {
            if (order_errors++ < 3)
                fprintf(stderr, "record %" PRIu64 " at line %" PRIu64 "\n", ev.record_id, export_reader_line(rd));
        }
    }
    CHECK_INT_EQ(parse_errors, 0);
    CHECK_INT_EQ(order_errors, 0);
    CHECK_INT_EQ(too_large, oversized);
    CHECK(oversized > 0);
    CHECK_INT_EQ(seen + too_large, events);
    size_t peak = export_reader_peak_buffer(rd);
    CHECK(peak <= EVENT_MAX_BYTES + EXPORT_READ_CHUNK);
    CHECK(peak > 0);
    fprintf(stderr, "large stream: %" PRIu64 " bytes, %" PRIu64 " events, peak buffer %" PRIu64 " bytes\n", written,
            events, (uint64_t)peak);
    event_free(&ev);
    export_reader_close(rd);
    fclose(fp);
}

int main(void)
{
    CHECK_RUN(test_shapes);
    CHECK_RUN(test_offsets);
    CHECK_RUN(test_utf16_values);
    CHECK_RUN(test_cdata_value);
    CHECK_RUN(test_mixed_fixture);
    CHECK_RUN(test_small);
    CHECK_RUN(test_large_stream);
    remove("bg_test_export.tmp");
    remove("bg_test_export_large.tmp");
    return CHECK_DONE();
}
