/* Tests of the event XML parser: every Bits-Client schema fixture, GUID and time forms, hostile inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "check.h"
#include "event.h"
#include "fixture.h"

/* Reads a fixture file into a malloc'd buffer; NULL (and a failed check) when it cannot. */
static char *fixture_read(const char *rel, size_t *len)
{
    FILE *fp = fixture_open(rel);
    CHECK(fp != NULL);
    if (fp == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose(fp);
    *len = n;
    return buf;
}

/* Counts anything libxml2 would print by itself: the parser must route every error to its own handler. */
static int libxml_global_messages;

static void count_generic(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
    libxml_global_messages++;
}

static void count_structured(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    (void)err;
    libxml_global_messages++;
}

typedef struct schema_case {
    const char *file;
    unsigned event_id, version, level;
    uint64_t record_id;
    const char *time;
    const char *computer;
    const char *user_sid;
    size_t field_count;
    const char *first_name, *first_value;
    const char *check_name, *check_value; /* One more field worth checking (escapes, empties, GUIDs). */
} schema_case;

static const schema_case schema_cases[] = {
    {"events/3_v0.xml", 3, 0, 4, 3815, "2019-05-12T18:02:05.2151977Z", "IEWIN7", "S-1-5-18", 3, "string", "backdoor",
     "string3", ""},
    {"events/3_v1.xml", 3, 1, 4, 1201, "2020-07-14T09:15:42.1234567Z", "WS-FIN-0231", "S-1-5-19", 3, "jobTitle",
     "Font Download", "jobId", "{6f2a1c84-93d1-4b7e-a0c2-5e8d3f1b7a90}"},
    {"events/3_v2.xml", 3, 2, 4, 2442, "2021-03-15T14:48:24.3012345Z", "MSEDGEWIN10",
     "S-1-5-21-3623811015-3361044348-30300820-1013", 5, "jobTitle", "Chrome Component Updater", "processPath",
     "C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe"},
    {"events/3_v3.xml", 3, 3, 4, 432, "2023-11-06T01:45:20.9930450Z", "WinDev2310Eval", "S-1-5-18", 6, "jobTitle",
     "Chrome Component Updater", "ClientProcessStartKey", "3659174697241209"},
    {"events/4_v0.xml", 4, 0, 4, 3820, "2019-05-12T18:04:50.1526970Z", "IEWIN7", "S-1-5-18", 5, "User",
     "IEWIN7\\IEUser", "fileCount", "1"},
    {"events/4_v1.xml", 4, 1, 4, 2460, "2021-03-15T14:48:31.0007781Z", "MSEDGEWIN10",
     "S-1-5-21-3623811015-3361044348-30300820-1013", 7, "User", "MSEDGEWIN10\\IEUser", "bytesTransferred", "4783536"},
    {"events/5_v0.xml", 5, 0, 4, 3822, "2019-05-12T18:10:11.5000000Z", "IEWIN7", "S-1-5-18", 5, "User",
     "IEWIN7\\IEUser", "jobId", "b35c4a1d-4425-45be-92d1-b67183ae222f"},
    {"events/5_v1.xml", 5, 1, 4, 915, "2022-01-20T08:00:01.2500000Z", "WS-FIN-0231",
     "S-1-5-21-3623811015-3361044348-30300820-1013", 7, "User", "CORP\\j.doe", "ClientProcessStartKey",
     "8444249301319681"},
    {"events/6_v0.xml", 6, 0, 4, 3816, "2019-05-12T18:03:27.8394470Z", "IEWIN7", "S-1-5-18", 4, "jobId",
     "{B35C4A1D-4425-45BE-92D1-B67183AE222F}", "parameters",
     "/c \"C:\\Users\\Public\\run.bat\" & echo done > C:\\Users\\Public\\ok.txt"},
    {"events/59_v0.xml", 59, 0, 4, 1500, "2018-09-04T11:22:33.0000000Z", "WS-FIN-0231", "S-1-5-18", 9, "transferId",
     "{1C8E5F42-7A6D-4B0E-9F31-2D4C6B8A0E17}", "url",
     "http://updates.example.com/agent/setup.exe?ver=4.2&channel=stable&arch=x64"},
    {"events/59_v1.xml", 59, 1, 4, 2443, "2021-03-15T14:48:24.6758912Z", "MSEDGEWIN10",
     "S-1-5-21-3623811015-3361044348-30300820-1013", 10, "transferId", "{7D3F9A21-5C84-4E2B-B6A0-1F9E8C7D5B43}", "peer",
     ""},
    {"events/60_v0.xml", 60, 0, 4, 1501, "2018-09-04T11:22:35.1000000Z", "WS-FIN-0231", "S-1-5-18", 11, "transferId",
     "{1C8E5F42-7A6D-4B0E-9F31-2D4C6B8A0E17}", "hr", "0"},
    {"events/60_v1.xml", 60, 1, 4, 2444, "2021-03-15T14:48:30.9851234Z", "MSEDGEWIN10",
     "S-1-5-21-3623811015-3361044348-30300820-1013", 17, "transferId", "{7D3F9A21-5C84-4E2B-B6A0-1F9E8C7D5B43}",
     "ignoreBandwidthLimitsOnLan", "False"},
    {"events/61_v0.xml", 61, 0, 3, 777, "2020-02-02T02:02:02.0202020Z", "WS-FIN-0231", "S-1-5-20", 11, "transferId",
     "{0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0}", "hr", "-2145844844"},
    {"events/16403_v0.xml", 16403, 0, 4, 433, "2023-11-06T01:45:21.0240780Z", "WinDev2310Eval",
     "S-1-5-21-3623811015-3361044348-30300820-1013", 9, "User", "WINDEV2310EVAL\\User", "RemoteName",
     "http://edgedl.me.gvt1.com/edgedl/release2/chrome_component/adr7vqhdzfgvb6t2xzgazgz4hqpa_2024.3.1.1/"
     "jflookgnkcckhobaglndicnbbgbonegd_2024.3.1.1_all_ad2bm5yn5xfdfgbdqqvgrvpgyq.crx3"},
};

static void test_schemas(void)
{
    event ev;
    event_init(&ev);
    for (size_t i = 0; i < sizeof schema_cases / sizeof schema_cases[0]; i++) {
        const schema_case *c = &schema_cases[i];
        size_t len = 0;
        char *xml = fixture_read(c->file, &len);
        if (xml == NULL)
            continue;
        char err[256] = "";
        bg_error rc = event_xml_parse(&ev, xml, len, err, sizeof err);
        CHECK_STR_EQ_CTX(c->file, bg_error_name(rc), "OK");
        if (rc != BG_ERR_OK)
            fprintf(stderr, "%s: %s\n", c->file, err);
        CHECK(event_is_bits(&ev));
        CHECK_STR_EQ_CTX(c->file, ev.provider, EVENT_PROVIDER_BITS);
        CHECK_STR_EQ_CTX(c->file, ev.channel, "Microsoft-Windows-Bits-Client/Operational");
        CHECK_INT_EQ(ev.event_id, c->event_id);
        CHECK_INT_EQ(ev.version, c->version);
        CHECK_INT_EQ(ev.level, c->level);
        CHECK_INT_EQ(ev.record_id, c->record_id);
        CHECK_STR_EQ_CTX(c->file, ev.time_created, c->time);
        CHECK_STR_EQ_CTX(c->file, ev.computer, c->computer);
        CHECK_STR_EQ_CTX(c->file, ev.user_sid, c->user_sid);
        CHECK_INT_EQ(ev.field_count, c->field_count);
        if (ev.field_count > 0) {
            CHECK_STR_EQ_CTX(c->file, ev.fields[0].name, c->first_name);
            CHECK_STR_EQ_CTX(c->file, ev.fields[0].value, c->first_value);
        }
        CHECK_STR_EQ_CTX(c->file, event_field_get(&ev, c->check_name), c->check_value);
        CHECK(event_field_get(&ev, "noSuchField") == NULL);
        free(xml);
    }
    event_free(&ev);
}

static bg_error parse_str(event *ev, const char *xml, char *err, size_t errlen)
{
    return event_xml_parse(ev, xml, strlen(xml), err, errlen);
}

#define NS_ATTR "xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\""

/* Forms seen in real exports: no namespace, single quotes, a prefix, Qualifiers, XML 1.1 declaration. */
static void test_forms(void)
{
    event ev;
    event_init(&ev);
    char err[256];

    CHECK_INT_EQ(parse_str(&ev,
                           "<Event><System><Provider Name='Microsoft-Windows-Bits-Client'/>"
                           "<EventID Qualifiers=''>59</EventID><TimeCreated SystemTime='2019-05-12 18:02:05'/>"
                           "</System><EventData><Data Name='url'>http://a/?x=1&amp;y=&lt;2&gt;</Data>"
                           "<Data Name='peer'/><Data>unnamed</Data><Data Name='e'></Data></EventData></Event>",
                           err, sizeof err),
                 BG_ERR_OK);
    CHECK_INT_EQ(ev.event_id, 59);
    CHECK_INT_EQ(ev.version, 0);
    CHECK_INT_EQ(ev.record_id, 0);
    CHECK_STR_EQ(ev.time_created, "2019-05-12T18:02:05.0000000Z");
    CHECK_STR_EQ(ev.computer, "");
    CHECK_STR_EQ(ev.user_sid, "");
    CHECK_INT_EQ(ev.field_count, 4);
    CHECK_STR_EQ(event_field_get(&ev, "url"), "http://a/?x=1&y=<2>");
    CHECK_STR_EQ(event_field_get(&ev, "peer"), "");
    CHECK_STR_EQ(event_field_get(&ev, ""), "unnamed");
    CHECK_STR_EQ(event_field_get(&ev, "e"), "");

    /* An XML 1.1 declaration (python-evtx) and a BOM are accepted; numbers may carry blanks. */
    CHECK_INT_EQ(parse_str(&ev,
                           "\xEF\xBB\xBF<?xml version=\"1.1\" encoding=\"utf-8\" standalone=\"yes\" ?>\n<Event " NS_ATTR
                           "><System><Provider Name=\"Microsoft-Windows-Bits-Client\"></Provider>\n"
                           "<EventID Qualifiers=\"\"> 4 </EventID><EventRecordID>\n18446744073709551615\n"
                           "</EventRecordID></System><EventData><Data Name=\"x\"><![CDATA[<raw> & ]]>tail</Data>"
                           "</EventData></Event>",
                           err, sizeof err),
                 BG_ERR_OK);
    CHECK_INT_EQ(ev.event_id, 4);
    CHECK(ev.record_id == UINT64_MAX);
    CHECK_STR_EQ(event_field_get(&ev, "x"), "<raw> & tail");

    /* The input is always read as UTF-8: a declaration naming another encoding does not switch it. */
    CHECK_INT_EQ(parse_str(&ev,
                           "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Event><System><EventID>3</EventID>"
                           "</System></Event>",
                           err, sizeof err),
                 BG_ERR_OK);
    CHECK_INT_EQ(ev.event_id, 3);

    /* UserData (other providers): the leaf values become fields named after their elements. */
    CHECK_INT_EQ(parse_str(&ev,
                           "<Event " NS_ATTR "><System><Provider Name=\"Microsoft-Windows-Other\"/><EventID>7</EventID>"
                           "</System><UserData><Thing xmlns=\"urn:x\"><A>1</A><B>two</B></Thing></UserData></Event>",
                           err, sizeof err),
                 BG_ERR_OK);
    CHECK(!event_is_bits(&ev));
    CHECK_STR_EQ(ev.provider, "Microsoft-Windows-Other");
    CHECK_STR_EQ(event_field_get(&ev, "B"), "two");

    /* A provider name that only resembles Bits-Client is not Bits-Client. */
    CHECK_INT_EQ(parse_str(&ev,
                           "<Event><System><Provider Name=\"microsoft-windows-bits-client\"/><EventID>3</EventID>"
                           "</System></Event>",
                           err, sizeof err),
                 BG_ERR_OK);
    CHECK(!event_is_bits(&ev));

    /* More Data elements than EVENT_MAX_FIELDS: the extra ones are dropped, nothing overflows. */
    char many[8192];
    size_t n = (size_t)snprintf(many, sizeof many, "<Event><System><EventID>1</EventID></System><EventData>");
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "<Data Name=\"f%d\">v%d</Data>", i, i);
    snprintf(many + n, sizeof many - n, "</EventData></Event>");
    CHECK_INT_EQ(parse_str(&ev, many, err, sizeof err), BG_ERR_OK);
    CHECK_INT_EQ(ev.field_count, EVENT_MAX_FIELDS);
    CHECK_STR_EQ(event_field_get(&ev, "f31"), "v31");
    CHECK(event_field_get(&ev, "f32") == NULL);
    event_free(&ev);
}

typedef struct hostile_case {
    const char *what;
    const char *xml;
    bg_error expected;
    const char *err_contains; /* Substring the error text must hold, or NULL. */
} hostile_case;

static const hostile_case hostile_cases[] = {
    {"empty", "", BG_ERR_XML_MALFORMED, NULL},
    {"blank", "  \n ", BG_ERR_XML_MALFORMED, "line"},
    {"not XML", "hello", BG_ERR_XML_MALFORMED, "line 1"},
    {"truncated", "<Event><System><EventID>3</EventID></Sys", BG_ERR_XML_MALFORMED, "line 1"},
    {"mismatched", "<Event><System>\n<EventID>3</EventId></System></Event>", BG_ERR_XML_MALFORMED, "line 2"},
    {"two roots", "<Event><System><EventID>3</EventID></System></Event><Event/>", BG_ERR_XML_MALFORMED, NULL},
    {"other root", "<Events><Event><System><EventID>3</EventID></System></Event></Events>", BG_ERR_NOT_EVENT, "Events"},
    {"other namespace", "<Event xmlns=\"urn:evil\"><System><EventID>3</EventID></System></Event>", BG_ERR_NOT_EVENT,
     NULL},
    {"no EventID", "<Event><System><Provider Name=\"x\"/></System></Event>", BG_ERR_NOT_EVENT, "EventID"},
    {"EventID not a number", "<Event><System><EventID>3x</EventID></System></Event>", BG_ERR_NOT_EVENT, "EventID"},
    {"EventID too large", "<Event><System><EventID>4294967296</EventID></System></Event>", BG_ERR_NOT_EVENT, NULL},
    {"char ref 1 (illegal in XML 1.0)",
     "<Event><System><EventID>3</EventID></System><EventData><Data>&#1;</Data>"
     "</EventData></Event>",
     BG_ERR_XML_MALFORMED, "line 1"},
    {"raw control char",
     "<Event><System><EventID>3</EventID></System><EventData><Data>a\x01z</Data>"
     "</EventData></Event>",
     BG_ERR_XML_MALFORMED, NULL},
    {"invalid UTF-8",
     "<Event><System><EventID>3</EventID></System><EventData><Data>\xC3\x28</Data>"
     "</EventData></Event>",
     BG_ERR_XML_MALFORMED, NULL},
    {"overlong UTF-8",
     "<Event><System><EventID>3</EventID></System><EventData><Data>\xC0\xAF</Data>"
     "</EventData></Event>",
     BG_ERR_XML_MALFORMED, NULL},
    {"undefined entity",
     "<Event><System><EventID>3</EventID></System><EventData><Data>&foo;</Data>"
     "</EventData></Event>",
     BG_ERR_XML_MALFORMED, "foo"},
    {"billion laughs",
     "<?xml version=\"1.0\"?>\n<!DOCTYPE Event [\n <!ENTITY a \"aaaaaaaaaa\">\n <!ENTITY b "
     "\"&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
     " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">\n <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
     " <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;\">\n <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
     " <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;\">\n <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;\">\n]>\n"
     "<Event><System><EventID>3</EventID></System><EventData><Data Name=\"x\">&h;</Data></EventData></Event>",
     BG_ERR_XML_MALFORMED, "DOCTYPE"},
    {"XXE file",
     "<!DOCTYPE Event [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><Event><System><EventID>3</EventID>"
     "</System><EventData><Data Name=\"x\">&xxe;</Data></EventData></Event>",
     BG_ERR_XML_MALFORMED, "DOCTYPE"},
    {"external DTD",
     "<!DOCTYPE Event SYSTEM \"http://127.0.0.1:1/evil.dtd\"><Event><System><EventID>3</EventID>"
     "</System></Event>",
     BG_ERR_XML_MALFORMED, "DOCTYPE"},
    {"parameter entity",
     "<!DOCTYPE Event [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><Event><System>"
     "<EventID>3</EventID></System></Event>",
     BG_ERR_XML_MALFORMED, "DOCTYPE"},
    {"DOCTYPE inside", "<Event><!DOCTYPE x><System><EventID>3</EventID></System></Event>", BG_ERR_XML_MALFORMED, NULL},
};

static void test_hostile(void)
{
    event ev;
    event_init(&ev);
    char err[256];
    for (size_t i = 0; i < sizeof hostile_cases / sizeof hostile_cases[0]; i++) {
        const hostile_case *c = &hostile_cases[i];
        err[0] = '\0';
        bg_error rc = parse_str(&ev, c->xml, err, sizeof err);
        CHECK_STR_EQ_CTX(c->what, bg_error_name(rc), bg_error_name(c->expected));
        CHECK(err[0] != '\0');
        if (c->err_contains != NULL && strstr(err, c->err_contains) == NULL)
            CHECK_STR_EQ_CTX(c->what, err, c->err_contains);
        /* One line, no control characters (libxml2's UTF-8 message has a newline in it). */
        for (const char *q = err; *q != '\0'; q++)
            if ((unsigned char)*q < 0x20)
                CHECK_STR_EQ_CTX(c->what, err, "(a message without control characters)");
        /* Nothing from /etc/passwd may ever reach the message. */
        CHECK(strstr(err, "root:") == NULL);
        /* On error the event is left empty. */
        CHECK_INT_EQ(ev.field_count, 0);
        CHECK_INT_EQ(ev.event_id, 0);
        CHECK_STR_EQ(ev.provider, "");
    }

    /* An embedded NUL is refused (the event would otherwise end there). */
    static const char with_nul[] = "<Event><System><EventID>3</EventID></System></Event>\0<junk";
    CHECK_INT_EQ(event_xml_parse(&ev, with_nul, sizeof with_nul - 1, err, sizeof err), BG_ERR_XML_MALFORMED);
    CHECK(strstr(err, "NUL") != NULL);

    /* NULL input with a length is an argument error, NULL with 0 an empty input. */
    CHECK_INT_EQ(event_xml_parse(&ev, NULL, 5, err, sizeof err), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(event_xml_parse(&ev, NULL, 0, NULL, 0), BG_ERR_XML_MALFORMED);

    /* The context is reused after every kind of failure: a good event still parses fully. */
    CHECK_INT_EQ(parse_str(&ev,
                           "<Event " NS_ATTR "><System><Provider Name=\"Microsoft-Windows-Bits-Client\"/>"
                           "<EventID>60</EventID><EventRecordID>9</EventRecordID></System><EventData>"
                           "<Data Name=\"url\">http://192.0.2.1/</Data></EventData></Event>",
                           err, sizeof err),
                 BG_ERR_OK);
    CHECK_INT_EQ(ev.event_id, 60);
    CHECK_INT_EQ(ev.record_id, 9);
    CHECK_STR_EQ(event_field_get(&ev, "url"), "http://192.0.2.1/");
    event_free(&ev);
}

/* Builds <Event>...<Data Name="big">AAAA...</Data>... with a value of n bytes. */
static char *event_with_value(size_t n, size_t *len)
{
    static const char head[] = "<Event><System><EventID>3</EventID></System><EventData><Data Name=\"big\">";
    static const char tail[] = "</Data></EventData></Event>";
    size_t total = sizeof head - 1 + n + sizeof tail - 1;
    char *x = malloc(total + 1);
    if (x == NULL)
        return NULL;
    memcpy(x, head, sizeof head - 1);
    memset(x + sizeof head - 1, 'A', n);
    memcpy(x + sizeof head - 1 + n, tail, sizeof tail);
    *len = total;
    return x;
}

static void test_sizes(void)
{
    event ev;
    event_init(&ev);
    char err[256];
    size_t len = 0;

    char *x = event_with_value(2u * 1024u * 1024u, &len);
    CHECK(x != NULL);
    if (x != NULL) {
        CHECK_INT_EQ(event_xml_parse(&ev, x, len, err, sizeof err), BG_ERR_TOO_LARGE);
        CHECK(strstr(err, "exceeds") != NULL);
        free(x);
    }
    x = event_with_value(500u * 1024u, &len);
    CHECK(x != NULL);
    if (x != NULL) {
        CHECK_INT_EQ(event_xml_parse(&ev, x, len, err, sizeof err), BG_ERR_OK);
        const char *v = event_field_get(&ev, "big");
        CHECK(v != NULL);
        CHECK_INT_EQ(v != NULL ? strlen(v) : 0, 500u * 1024u);
        free(x);
    }
    /* Exactly at the limit is allowed; one byte over is not. */
    x = event_with_value(EVENT_MAX_BYTES, &len);
    CHECK(x != NULL);
    if (x != NULL) {
        size_t over = len - EVENT_MAX_BYTES; /* Shrink the value so the whole event is the limit. */
        char *y = event_with_value(EVENT_MAX_BYTES - over, &len);
        CHECK_INT_EQ(len, EVENT_MAX_BYTES);
        if (y != NULL) {
            CHECK_INT_EQ(event_xml_parse(&ev, y, len, err, sizeof err), BG_ERR_OK);
            free(y);
        }
        y = event_with_value(EVENT_MAX_BYTES - over + 1, &len);
        if (y != NULL) {
            CHECK_INT_EQ(event_xml_parse(&ev, y, len, err, sizeof err), BG_ERR_TOO_LARGE);
            free(y);
        }
        free(x);
    }

    /* Thousands of distinct element names over many events (the parser's name dictionary is
     * bounded by replacing its context): every event still parses and the names stay right. */
    char doc[256];
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(doc, sizeof doc,
                         "<Event><System><EventID>%d</EventID><X%d a%d=\"1\"/></System><EventData>"
                         "<Data Name=\"k\">v%d</Data></EventData></Event>",
                         i, i, i, i);
        const char *v;
        if (event_xml_parse(&ev, doc, (size_t)n, err, sizeof err) != BG_ERR_OK || ev.event_id != (unsigned)i ||
            (v = event_field_get(&ev, "k")) == NULL || strtol(v + 1, NULL, 10) != i)
            bad++;
    }
    CHECK_INT_EQ(bad, 0);

    /* 10,000 nested elements: the depth limit (EVENT_MAX_DEPTH) refuses it, without a crash. */
    size_t depth = 10000, cap = depth * 7 + 64, n = 0;
    char *deep = malloc(cap);
    CHECK(deep != NULL);
    if (deep != NULL) {
        n += (size_t)snprintf(deep, cap, "<Event>");
        for (size_t i = 0; i < depth; i++) {
            memcpy(deep + n, "<a>", 3);
            n += 3;
        }
        for (size_t i = 0; i < depth; i++) {
            memcpy(deep + n, "</a>", 4);
            n += 4;
        }
        memcpy(deep + n, "</Event>", 8);
        n += 8;
        CHECK_INT_EQ(event_xml_parse(&ev, deep, n, err, sizeof err), BG_ERR_XML_MALFORMED);
        free(deep);
    }
    event_free(&ev);
}

typedef struct guid_case {
    const char *in;
    const char *out; /* NULL: not a GUID. */
} guid_case;

static const guid_case guid_cases[] = {
    {"{9A25D168-24E6-4C66-AC78-5ED0E6007F1A}", "9a25d168-24e6-4c66-ac78-5ed0e6007f1a"},
    {"9A25D168-24E6-4C66-AC78-5ED0E6007F1A", "9a25d168-24e6-4c66-ac78-5ed0e6007f1a"},
    {"{9a25d168-24e6-4c66-ac78-5ed0e6007f1a}", "9a25d168-24e6-4c66-ac78-5ed0e6007f1a"},
    {"9a25D168-24e6-4C66-aC78-5ed0E6007f1A", "9a25d168-24e6-4c66-ac78-5ed0e6007f1a"},
    {"{9A25D168-24E6-4C66-AC78-5ED0E6007F1A", NULL},
    {"9A25D168-24E6-4C66-AC78-5ED0E6007F1A}", NULL},
    {"(9A25D168-24E6-4C66-AC78-5ED0E6007F1A)", NULL},
    {"9A25D16824E64C66AC785ED0E6007F1A", NULL},
    {"9A25D168-24E6-4C66-AC78-5ED0E6007F1G", NULL},
    {"9A25D168-24E6-4C66-AC78-5ED0E6007F1", NULL},
    {" 9A25D168-24E6-4C66-AC78-5ED0E6007F1A", NULL},
    {"9A25D168_24E6-4C66-AC78-5ED0E6007F1A", NULL},
    {"", NULL},
};

/* More than EVENT_MAX_FIELDS fields: padding before RemoteName cannot push it out; the others past the
 * limit are dropped and counted; a second RemoteName does not replace the first. */
static void test_many_fields(void)
{
    event ev;
    event_init(&ev);
    char err[256];
    static char doc[8192];
    size_t n = (size_t)snprintf(doc, sizeof doc,
                                "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
                                "<Provider Name='Microsoft-Windows-Bits-Client'/><EventID>16403</EventID></System>"
                                "<EventData>");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(doc + n, sizeof doc - n, "<Data Name='pad%d'>x</Data>", i);
    n += (size_t)snprintf(doc + n, sizeof doc - n,
                          "<Data Name='RemoteName'>http://45.33.32.156/p.exe</Data><Data Name='jobId'>"
                          "{9A25D168-24E6-4C66-AC78-5ED0E6007F1A}</Data><Data Name='RemoteName'>http://1.1.1.1/</Data>"
                          "<Data Name='pad40'>x</Data></EventData></Event>");
    CHECK_INT_EQ(event_xml_parse(&ev, doc, n, err, sizeof err), BG_ERR_OK);
    CHECK_INT_EQ(ev.field_count, EVENT_MAX_FIELDS);
    const char *url = event_field_get(&ev, "RemoteName");
    CHECK(url != NULL);
    if (url != NULL)
        CHECK_STR_EQ(url, "http://45.33.32.156/p.exe");
    CHECK(event_field_get(&ev, "jobId") != NULL);
    CHECK(event_field_get(&ev, "pad0") != NULL);
    /* 44 fields, 32 kept: the 8 pads past the limit, the second RemoteName, pad40, and the two pads
     * that made room for RemoteName and jobId. */
    CHECK_INT_EQ(ev.fields_dropped, 12);
    event_free(&ev);
}

static void test_guid(void)
{
    for (size_t i = 0; i < sizeof guid_cases / sizeof guid_cases[0]; i++) {
        char out[37] = "unchanged";
        int rc = event_guid_normalize(guid_cases[i].in, out);
        if (guid_cases[i].out != NULL) {
            CHECK_INT_EQ(rc, 0);
            CHECK_STR_EQ_CTX(guid_cases[i].in, out, guid_cases[i].out);
        } else {
            CHECK_INT_EQ(rc, -1);
        }
    }
    char out[37];
    CHECK_INT_EQ(event_guid_normalize(NULL, out), -1);
}

static const guid_case time_cases[] = {
    {"2023-11-06T01:45:21.0240780Z", "2023-11-06T01:45:21.0240780Z"},
    {"2019-05-12 18:02:05.215199", "2019-05-12T18:02:05.2151990Z"},
    {"2019-05-12T18:02:05.215197700Z", "2019-05-12T18:02:05.2151977Z"},
    {"2019-05-12T18:02:05Z", "2019-05-12T18:02:05.0000000Z"},
    {"2019-05-12T18:02:05", "2019-05-12T18:02:05.0000000Z"},
    {"2019-05-12T18:02:05.5", "2019-05-12T18:02:05.5000000Z"},
    {"2019-05-12T18:02:05.", "2019-05-12T18:02:05.0000000Z"},
    {"2019-05-12t18:02:05.1z", "2019-05-12T18:02:05.1000000Z"},
    {"2019-05-12T18:02:05.123+00:00", "2019-05-12T18:02:05.1230000Z"},
    {"2016-12-31T23:59:60Z", "2016-12-31T23:59:60.0000000Z"},
    {"2019-05-12T18:02:05.1234567890Z", NULL},
    {"2019-05-12T18:02:05+02:00", NULL},
    {"2019-13-12T18:02:05Z", NULL},
    {"2019-05-32T18:02:05Z", NULL},
    {"2019-05-12T24:00:00Z", NULL},
    {"2019-05-12T18:60:05Z", NULL},
    {"2019-05-12X18:02:05Z", NULL},
    {"2019-5-12T18:02:05Z", NULL},
    {"2019-05-12T18:02:05ZZ", NULL},
    {"2019-05-12", NULL},
    {"", NULL},
};

static void test_time(void)
{
    for (size_t i = 0; i < sizeof time_cases / sizeof time_cases[0]; i++) {
        char out[32] = "unchanged";
        int rc = event_time_normalize(time_cases[i].in, out);
        if (time_cases[i].out != NULL) {
            CHECK_INT_EQ(rc, 0);
            CHECK_STR_EQ_CTX(time_cases[i].in, out, time_cases[i].out);
        } else {
            if (rc != -1)
                CHECK_STR_EQ_CTX(time_cases[i].in, out, "(rejected)");
            CHECK_INT_EQ(rc, -1);
        }
    }
    char out[32];
    CHECK_INT_EQ(event_time_normalize(NULL, out), -1);
}

int main(void)
{
    /* Anything libxml2 prints by itself would go through these global handlers. */
    xmlSetGenericErrorFunc(NULL, count_generic);
    xmlSetStructuredErrorFunc(NULL, count_structured);

    CHECK_RUN(test_schemas);
    CHECK_RUN(test_forms);
    CHECK_RUN(test_hostile);
    CHECK_RUN(test_sizes);
    CHECK_RUN(test_many_fields);
    CHECK_RUN(test_guid);
    CHECK_RUN(test_time);

    CHECK_INT_EQ(libxml_global_messages, 0);
    return CHECK_DONE();
}
