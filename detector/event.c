/* The hardened SAX2 parser of one Windows event's XML into struct event, and GUID/time normalization. */
#include "event.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlIO.h>

/*
 * Why SAX and not a DOM: building a tree per event and walking it costs several allocations per node;
 * the SAX2 callbacks below copy only the handful of values we need straight into the event arena,
 * and the parser context (with its name dictionary) is reused from one event to the next.
 *
 * Hardening: the options never include XML_PARSE_NOENT, XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR or
 * XML_PARSE_HUGE; XML_PARSE_NONET is always set; the SAX handler has no entity or DTD callbacks (so no
 * declaration is ever stored) and its internalSubset callback stops the parser as soon as a DOCTYPE
 * is seen, so a document carrying entity declarations is rejected before its internal subset is read.
 * Errors go to a structured handler on the context's own SAX handler, so libxml2 never prints to
 * stderr and no global handler is touched.
 */

#define ABSENT SIZE_MAX

/* Distinct names the reused parser context may remember before it is replaced (see event_xml_parse). */
#define EVENT_DICT_MAX_NAMES 4096

/* Elements whose text content is captured. */
enum capture_target {
    CAP_NONE = 0,
    CAP_EVENT_ID,
    CAP_VERSION,
    CAP_LEVEL,
    CAP_RECORD_ID,
    CAP_CHANNEL,
    CAP_COMPUTER,
    CAP_FIELD,
};

enum section { SEC_NONE = 0, SEC_SYSTEM, SEC_EVENTDATA, SEC_USERDATA, SEC_OTHER };

/* Element and attribute names the callbacks look for. They are interned once in the context's
 * dictionary, which libxml2 keeps across xmlCtxtReset and uses for every name it reports, so a
 * callback compares pointers instead of strings. */
enum known_name {
    N_EVENT,
    N_SYSTEM,
    N_EVENTDATA,
    N_USERDATA,
    N_PROVIDER,
    N_EVENTID,
    N_VERSION,
    N_LEVEL,
    N_TIMECREATED,
    N_EVENTRECORDID,
    N_CHANNEL,
    N_COMPUTER,
    N_SECURITY,
    N_DATA,
    N_NAME,
    N_SYSTEMTIME,
    N_USERID,
    N_COUNT
};

static const char *const known_name_text[N_COUNT] = {
    "Event",         "System",  "EventData", "UserData", "Provider", "EventID", "Version",    "Level",  "TimeCreated",
    "EventRecordID", "Channel", "Computer",  "Security", "Data",     "Name",    "SystemTime", "UserID",
};

/* Parse-time state. Strings are kept as arena offsets until the end because the arena may move. */
typedef struct parse_state {
    event *ev;
    xmlParserCtxtPtr ctxt;
    const xmlChar *const *names; /* Interned known_name_text, indexed by enum known_name. */
    int depth;                   /* Current element depth; the root is 1. */
    int seen_root;               /* 1 once the root element started. */
    enum section section;
    int capture_depth; /* Depth of the element whose text is captured. */
    enum capture_target capture;
    size_t capture_start; /* Arena offset of the captured text. */
    size_t provider, time, computer, channel, user_sid;
    size_t event_id, version, level, record_id;
    size_t field_name[EVENT_MAX_FIELDS];
    size_t field_value[EVENT_MAX_FIELDS];
    size_t field_count;
    bg_error err; /* First error found by a callback (NOMEM, NOT_EVENT, XML_MALFORMED for DOCTYPE). */
    char msg[256];
    int has_fatal; /* A fatal libxml2 error was reported; msg holds its text. */
} parse_state;

static const char empty_string[] = "";

/* Grows the arena to hold at least need bytes. */
static int arena_reserve(event *ev, size_t need)
{
    if (need <= ev->arena_cap)
        return 0;
    size_t cap = ev->arena_cap ? ev->arena_cap : 4096;
    while (cap < need)
        cap *= 2;
    char *p = realloc(ev->arena, cap);
    if (p == NULL)
        return -1;
    ev->arena = p;
    ev->arena_cap = cap;
    return 0;
}

static void state_nomem(parse_state *st)
{
    if (st->err == BG_ERR_OK) {
        st->err = BG_ERR_NOMEM;
        snprintf(st->msg, sizeof st->msg, "out of memory while parsing");
    }
    xmlStopParser(st->ctxt);
}

/* Appends bytes (no terminator) to the arena. */
static inline int arena_append(parse_state *st, const char *s, size_t n)
{
    event *ev = st->ev;
    if (ev->arena_len + n + 1 > ev->arena_cap && arena_reserve(ev, ev->arena_len + n + 1) != 0) {
        state_nomem(st);
        return -1;
    }
    memcpy(ev->arena + ev->arena_len, s, n);
    ev->arena_len += n;
    return 0;
}

/* Appends a NUL-terminated copy of s[0..n) and returns its offset, ABSENT on failure. */
static size_t arena_put(parse_state *st, const char *s, size_t n)
{
    size_t off = st->ev->arena_len;
    if (arena_append(st, s, n) != 0 || arena_append(st, "", 1) != 0)
        return ABSENT;
    return off;
}

/* The value of an unprefixed attribute from SAX2's (localname, prefix, URI, value, end) quintuples;
 * name is an interned pointer. */
static size_t attr_put(parse_state *st, int nb_attributes, const xmlChar **attributes, const xmlChar *name)
{
    for (int i = 0; i < nb_attributes; i++) {
        const xmlChar **a = attributes + 5 * i;
        if (a[0] == name && a[1] == NULL)
            return arena_put(st, (const char *)a[3], (size_t)(a[4] - a[3]));
    }
    return ABSENT;
}

static void capture_begin(parse_state *st, enum capture_target what)
{
    st->capture = what;
    st->capture_depth = st->depth;
    st->capture_start = st->ev->arena_len;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri, int nb_namespaces,
                     const xmlChar **namespaces, int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt->_private;
    const xmlChar *const *nm = st->names;
    (void)prefix;
    (void)nb_namespaces;
    (void)namespaces;
    (void)nb_defaulted;

    st->depth++;
    if (st->depth == 1) {
        st->seen_root = 1;
        if (localname != nm[N_EVENT] || (uri != NULL && strcmp((const char *)uri, EVENT_XML_NS) != 0)) {
            st->err = BG_ERR_NOT_EVENT;
            snprintf(st->msg, sizeof st->msg, "root element is <%.64s>%s, not a Windows <Event>",
                     (const char *)localname, localname == nm[N_EVENT] ? " in another namespace" : "");
            xmlStopParser(ctxt);
        }
        return;
    }
    if (st->depth == 2) {
        if (localname == nm[N_SYSTEM])
            st->section = SEC_SYSTEM;
        else if (localname == nm[N_EVENTDATA])
            st->section = SEC_EVENTDATA;
        else if (localname == nm[N_USERDATA])
            st->section = SEC_USERDATA;
        else
            st->section = SEC_OTHER;
        return;
    }
    /* A child element inside captured text ends nothing; its text is simply not captured. */
    if (st->capture != CAP_NONE)
        return;

    if (st->section == SEC_SYSTEM && st->depth == 3) {
        if (localname == nm[N_PROVIDER])
            st->provider = attr_put(st, nb_attributes, attributes, nm[N_NAME]);
        else if (localname == nm[N_EVENTID])
            capture_begin(st, CAP_EVENT_ID);
        else if (localname == nm[N_VERSION])
            capture_begin(st, CAP_VERSION);
        else if (localname == nm[N_LEVEL])
            capture_begin(st, CAP_LEVEL);
        else if (localname == nm[N_TIMECREATED])
            st->time = attr_put(st, nb_attributes, attributes, nm[N_SYSTEMTIME]);
        else if (localname == nm[N_EVENTRECORDID])
            capture_begin(st, CAP_RECORD_ID);
        else if (localname == nm[N_CHANNEL])
            capture_begin(st, CAP_CHANNEL);
        else if (localname == nm[N_COMPUTER])
            capture_begin(st, CAP_COMPUTER);
        else if (localname == nm[N_SECURITY])
            st->user_sid = attr_put(st, nb_attributes, attributes, nm[N_USERID]);
        return;
    }

    /* EventData/Data (named or not), or the leaf values of UserData/<Something>/<Value>. */
    int is_data = st->section == SEC_EVENTDATA && st->depth == 3 && localname == nm[N_DATA];
    int is_user = st->section == SEC_USERDATA && st->depth == 4;
    if ((is_data || is_user) && st->field_count < EVENT_MAX_FIELDS) {
        size_t fname;
        if (is_data) {
            fname = attr_put(st, nb_attributes, attributes, nm[N_NAME]);
            if (fname == ABSENT && st->err == BG_ERR_OK)
                fname = arena_put(st, "", 0);
        } else {
            fname = arena_put(st, (const char *)localname, strlen((const char *)localname));
        }
        if (st->err != BG_ERR_OK)
            return;
        st->field_name[st->field_count] = fname;
        capture_begin(st, CAP_FIELD);
    }
}

/* Parses a trimmed unsigned decimal; -1 when the text is not one. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (*s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (*s != '\0')
        return -1;
    *out = v;
    return 0;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt->_private;
    (void)localname;
    (void)prefix;
    (void)uri;

    if (st->capture != CAP_NONE && st->depth == st->capture_depth) {
        size_t off = st->capture_start;
        if (arena_append(st, "", 1) == 0) {
            switch (st->capture) {
            case CAP_EVENT_ID:
                st->event_id = off;
                break;
            case CAP_VERSION:
                st->version = off;
                break;
            case CAP_LEVEL:
                st->level = off;
                break;
            case CAP_RECORD_ID:
                st->record_id = off;
                break;
            case CAP_CHANNEL:
                st->channel = off;
                break;
            case CAP_COMPUTER:
                st->computer = off;
                break;
            case CAP_FIELD:
                st->field_value[st->field_count++] = off;
                break;
            case CAP_NONE:
                break;
            }
        }
        st->capture = CAP_NONE;
    }
    if (st->depth == 2)
        st->section = SEC_NONE;
    st->depth--;
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt->_private;
    if (st->capture != CAP_NONE && st->depth == st->capture_depth && len > 0)
        (void)arena_append(st, (const char *)ch, (size_t)len);
}

/* Called when a DOCTYPE is read, before its internal subset: no event ever has one, and refusing it
 * here means no entity declaration (billion laughs, external entities) is even looked at. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt->_private;
    (void)external_id;
    (void)system_id;
    if (st->err == BG_ERR_OK) {
        st->err = BG_ERR_XML_MALFORMED;
        snprintf(st->msg, sizeof st->msg,
                 "line %d: DOCTYPE <!DOCTYPE %.64s> refused: events never declare a DTD or entities",
                 ctxt->input != NULL ? ctxt->input->line : 0, name != NULL ? (const char *)name : "");
    }
    xmlStopParser(ctxt);
}

/* Structured error handler: keeps the first fatal error's text, prints nothing. */
static void on_error(void *ctx, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt != NULL ? ctxt->_private : NULL;
    if (st == NULL || e == NULL || e->level != XML_ERR_FATAL || st->has_fatal)
        return;
    st->has_fatal = 1;
    const char *m = e->message != NULL ? e->message : "unknown libxml2 error";
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r' || m[n - 1] == ' '))
        n--;
    if (n > 160)
        n = 160;
    snprintf(st->msg, sizeof st->msg, "line %d, column %d: %.*s", e->line, e->int2, (int)n, m);
}

static const xmlSAXHandler sax_handler_template = {
    .internalSubset = on_doctype,
    .characters = on_text,
    .cdataBlock = on_text,
    .initialized = XML_SAX2_MAGIC,
    .startElementNs = on_start,
    .endElementNs = on_end,
    .serror = on_error,
};

/* Parser options: no network, no error printing, and none of NOENT/DTDLOAD/DTDATTR/HUGE (see top). */
#define EVENT_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* What event.parser points to: the reused context and a NUL-terminated copy of the input, because
 * libxml2 2.9 reads memory inputs up to a terminating NUL, not only up to their length (a slice cut
 * from an export buffer is followed by the next event's bytes). */
typedef struct event_parser {
    xmlParserCtxtPtr ctxt;
    xmlDictPtr dict; /* The dictionary the names below were interned in. */
    const xmlChar *names[N_COUNT];
    char *copy;
    size_t copy_cap;
} event_parser;

/* Interns the known names in the context's dictionary (again, should libxml2 ever replace it). */
static int parser_names_intern(event_parser *p)
{
    p->dict = p->ctxt->dict;
    for (int i = 0; i < N_COUNT; i++) {
        p->names[i] = xmlDictLookup(p->dict, (const xmlChar *)known_name_text[i], -1);
        if (p->names[i] == NULL)
            return -1;
    }
    return 0;
}

static event_parser *parser_get(event *ev)
{
    if (ev->parser != NULL)
        return ev->parser;
    event_parser *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->ctxt = xmlNewParserCtxt();
    if (p->ctxt == NULL) {
        free(p);
        return NULL;
    }
    /* The context owns ctxt->sax (freed by xmlFreeParserCtxt); overwrite it with our handler. */
    memcpy(p->ctxt->sax, &sax_handler_template, sizeof(xmlSAXHandler));
    p->ctxt->userData = p->ctxt;
    if (p->ctxt->dict == NULL || parser_names_intern(p) != 0) {
        xmlFreeParserCtxt(p->ctxt);
        free(p);
        return NULL;
    }
    ev->parser = p;
    return p;
}

static void parser_free(event_parser *p)
{
    if (p == NULL)
        return;
    xmlFreeParserCtxt(p->ctxt);
    free(p->copy);
    free(p);
}

/* Copies the input with a NUL after it into the parser's reused buffer. */
static const char *parser_input_copy(event_parser *p, const char *xml, size_t len)
{
    if (len + 1 > p->copy_cap) {
        size_t cap = p->copy_cap ? p->copy_cap : 8192;
        while (cap < len + 1)
            cap *= 2;
        char *c = realloc(p->copy, cap);
        if (c == NULL)
            return NULL;
        p->copy = c;
        p->copy_cap = cap;
    }
    memcpy(p->copy, xml, len);
    p->copy[len] = '\0';
    return p->copy;
}

static void event_clear(event *ev)
{
    ev->provider = empty_string;
    ev->event_id = 0;
    ev->version = 0;
    ev->level = 0;
    ev->record_id = 0;
    ev->time_created[0] = '\0';
    ev->computer = empty_string;
    ev->channel = empty_string;
    ev->user_sid = empty_string;
    ev->field_count = 0;
    ev->arena_len = 0;
}

void event_init(event *ev)
{
    memset(ev, 0, sizeof *ev);
    /* Idempotent; done here so the first parse on any thread finds libxml2 initialised. */
    xmlInitParser();
    event_clear(ev);
}

void event_free(event *ev)
{
    if (ev == NULL)
        return;
    parser_free(ev->parser);
    free(ev->arena);
    memset(ev, 0, sizeof *ev);
    event_clear(ev);
}

/* Writes the one-line reason. libxml2's messages can span lines ("Input is not proper UTF-8...\nBytes:")
 * and quote names from the input, so control characters become spaces: callers print it as is. */
static void set_err(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf == NULL || errlen == 0)
        return;
    snprintf(errbuf, errlen, "%s", msg);
    for (char *p = errbuf; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = ' ';
}

static const char *offset_str(const event *ev, size_t off)
{
    return off == ABSENT ? empty_string : ev->arena + off;
}

/* Turns the offsets gathered during the parse into the event's pointers and numbers. */
static bg_error state_finish(parse_state *st)
{
    event *ev = st->ev;
    uint64_t v;

    if (st->event_id == ABSENT || parse_u64(ev->arena + st->event_id, UINT32_MAX, &v) != 0) {
        snprintf(st->msg, sizeof st->msg, "System/EventID is %s", st->event_id == ABSENT ? "missing" : "not a number");
        return BG_ERR_NOT_EVENT;
    }
    ev->event_id = (unsigned)v;
    /* The other numbers are informative: absent or unreadable ones stay 0 rather than losing the event. */
    if (st->version != ABSENT && parse_u64(ev->arena + st->version, UINT32_MAX, &v) == 0)
        ev->version = (unsigned)v;
    if (st->level != ABSENT && parse_u64(ev->arena + st->level, UINT32_MAX, &v) == 0)
        ev->level = (unsigned)v;
    if (st->record_id != ABSENT && parse_u64(ev->arena + st->record_id, UINT64_MAX, &v) == 0)
        ev->record_id = v;
    if (st->time != ABSENT && event_time_normalize(ev->arena + st->time, ev->time_created) != 0)
        ev->time_created[0] = '\0';
    ev->provider = offset_str(ev, st->provider);
    ev->computer = offset_str(ev, st->computer);
    ev->channel = offset_str(ev, st->channel);
    ev->user_sid = offset_str(ev, st->user_sid);
    for (size_t i = 0; i < st->field_count; i++) {
        ev->fields[i].name = offset_str(ev, st->field_name[i]);
        ev->fields[i].value = offset_str(ev, st->field_value[i]);
    }
    ev->field_count = st->field_count;
    return BG_ERR_OK;
}

bg_error event_xml_parse(event *ev, const char *xml, size_t len, char *errbuf, size_t errlen)
{
    bg_error rc = BG_ERR_OK;
    parse_state st;
    xmlParserCtxtPtr ctxt = NULL;

    if (ev == NULL || (xml == NULL && len > 0)) {
        set_err(errbuf, errlen, "invalid argument");
        return BG_ERR_INVALID_ARG;
    }
    event_clear(ev);
    if (len > EVENT_MAX_BYTES) {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "event of %" PRIu64 " bytes exceeds the limit of %u bytes", (uint64_t)len,
                     (unsigned)EVENT_MAX_BYTES);
        return BG_ERR_TOO_LARGE;
    }
    if (len == 0) {
        set_err(errbuf, errlen, "empty input");
        return BG_ERR_XML_MALFORMED;
    }
    /* The context's dictionary keeps every element and attribute name ever parsed. Real events use
     * a few dozen; hostile input can invent millions, so past a bound the context is replaced and
     * memory stays bounded however long the stream. */
    if (ev->parser != NULL && xmlDictSize(((event_parser *)ev->parser)->ctxt->dict) > EVENT_DICT_MAX_NAMES) {
        parser_free(ev->parser);
        ev->parser = NULL;
    }
    event_parser *parser = parser_get(ev);
    const char *input_text = parser != NULL ? parser_input_copy(parser, xml, len) : NULL;
    /* Decoded text never exceeds the input, so one reservation normally serves the whole parse. */
    if (input_text == NULL || arena_reserve(ev, len + 1024) != 0) {
        set_err(errbuf, errlen, "out of memory");
        return BG_ERR_NOMEM;
    }
    ctxt = parser->ctxt;

    memset(&st, 0, sizeof st);
    st.ev = ev;
    st.ctxt = ctxt;
    st.names = parser->names;
    st.provider = st.time = st.computer = st.channel = st.user_sid = ABSENT;
    st.event_id = st.version = st.level = st.record_id = ABSENT;

    xmlCtxtReset(ctxt);
    if (ctxt->dict != parser->dict && parser_names_intern(parser) != 0) {
        rc = BG_ERR_NOMEM;
        snprintf(st.msg, sizeof st.msg, "out of memory");
        goto cleanup;
    }
    ctxt->_private = &st;
    ctxt->userData = ctxt;
    xmlCtxtUseOptions(ctxt, EVENT_PARSE_OPTIONS);
    /* NUL is never legal in XML, and libxml2 would stop reading at one: refuse it here. */
    const char *nul = memchr(input_text, '\0', len);
    if (nul != NULL) {
        rc = BG_ERR_XML_MALFORMED;
        snprintf(st.msg, sizeof st.msg, "NUL byte at offset %" PRIu64, (uint64_t)(nul - input_text));
        goto cleanup;
    }
    /* An input stream over the terminated copy, read in place: no xmlBuf (libxml2 2.9's grow/shrink of
     * static memory buffers loses its place on some inputs), and, unlike xmlNewStringInputStream, no
     * byte-by-byte strlen of an input whose length we know. */
    xmlParserInputPtr input = xmlNewInputStream(ctxt);
    if (input == NULL) {
        rc = BG_ERR_NOMEM;
        snprintf(st.msg, sizeof st.msg, "out of memory");
        goto cleanup;
    }
    input->base = (const xmlChar *)input_text;
    input->cur = input->base;
    input->length = (int)len;
    input->end = input->base + len;
    if (inputPush(ctxt, input) < 0) {
        rc = BG_ERR_NOMEM;
        snprintf(st.msg, sizeof st.msg, "out of memory");
        goto cleanup;
    }
    (void)xmlParseDocument(ctxt);

    if (st.err != BG_ERR_OK) {
        rc = st.err;
    } else if (!ctxt->wellFormed || st.has_fatal) {
        rc = BG_ERR_XML_MALFORMED;
        if (!st.has_fatal)
            snprintf(st.msg, sizeof st.msg, "not well-formed");
    } else if (!st.seen_root) {
        rc = BG_ERR_XML_MALFORMED;
        snprintf(st.msg, sizeof st.msg, "no root element");
    } else {
        rc = state_finish(&st);
    }

cleanup:
    /* The input stream stays on the context until the next parse resets it: it only points into the
     * parser's own copy buffer, and a second reset per event costs measurable time. */
    if (ctxt != NULL)
        ctxt->_private = NULL;
    if (rc != BG_ERR_OK) {
        event_clear(ev);
        set_err(errbuf, errlen, st.msg[0] != '\0' ? st.msg : bg_error_str(rc));
    }
    return rc;
}

int event_is_bits(const event *ev)
{
    return ev != NULL && ev->provider != NULL && strcmp(ev->provider, EVENT_PROVIDER_BITS) == 0;
}

const char *event_field_get(const event *ev, const char *name)
{
    if (ev == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < ev->field_count; i++)
        if (strcmp(ev->fields[i].name, name) == 0)
            return ev->fields[i].value;
    return NULL;
}

/* Lower-case hex digit for each byte that is a hex digit, 0 otherwise: one load per character. */
static const char hex_lower[256] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6', ['7'] = '7',
    ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
};

int event_guid_normalize(const char *text, char out[37])
{
    if (text == NULL)
        return -1;
    size_t n = strlen(text);
    const char *p = text;
    if (n == 38 && p[0] == '{' && p[37] == '}') {
        p++;
        n = 36;
    }
    if (n != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-')
        return -1;
    /* Runs every event (job ids are the correlation key), hence the table instead of branches. */
    for (size_t i = 0; i < 36; i++) {
        char c = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex_lower[(unsigned char)p[i]];
        if (c == 0)
            return -1;
        out[i] = c;
    }
    out[36] = '\0';
    return 0;
}

/* Reads exactly n digits; -1 when they are not all digits. */
static int read_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int event_time_normalize(const char *text, char out[32])
{
    if (text == NULL)
        return -1;
    const char *s = text;
    /* YYYY-MM-DD?hh:mm:ss is 19 characters; check the separators before reading digits. */
    if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    int year = read_digits(s, 4), mon = read_digits(s + 5, 2), day = read_digits(s + 8, 2);
    int hour = read_digits(s + 11, 2), min = read_digits(s + 14, 2), sec = read_digits(s + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || min < 0 || min > 59 ||
        sec < 0 || sec > 60)
        return -1;
    char frac[8] = "0000000";
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (p[nd] >= '0' && p[nd] <= '9')
            nd++;
        /* 0 to 9 digits: a lone '.' is tolerated; beyond 7 digits (evtxexport writes 9) is truncated. */
        if (nd > 9)
            return -1;
        memcpy(frac, p, (size_t)(nd < 7 ? nd : 7));
        p += nd;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (strcmp(p, "+00:00") == 0 || strcmp(p, "-00:00") == 0)
        p += 6;
    if (*p != '\0')
        return -1;
    memcpy(out, s, 10);
    out[10] = 'T';
    memcpy(out + 11, s + 11, 8);
    out[19] = '.';
    memcpy(out + 20, frac, 7);
    out[27] = 'Z';
    out[28] = '\0';
    return 0;
}
