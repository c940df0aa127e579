/* The hardened SAX2 parser of Windows event XML: one event's document, or a well-formed export in one pass. */
#include "event.h"

#include <inttypes.h>
#include <limits.h>
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

struct event_stream;

/* Parse-time state. Strings are kept as arena offsets until the end because the arena may move. */
typedef struct parse_state {
    event *ev;
    xmlParserCtxtPtr ctxt;
    const xmlChar *const *names; /* Interned known_name_text, indexed by enum known_name. */
    struct event_stream *stream; /* NULL when parsing one event's document. */
    int depth;                   /* Current element depth; the root is 1. */
    int event_depth;             /* Depth of the open <Event> element, 0 outside one. */
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
    size_t field_slot;     /* Where the field being captured goes: field_count, or a replaced one. */
    size_t fields_dropped; /* Past EVENT_MAX_FIELDS: see field_slot_pick. */
    bg_error err;          /* First error found by a callback (NOMEM, NOT_EVENT, XML_MALFORMED for DOCTYPE). */
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
static void stream_leave(parse_state *st, const char *why);

static inline int arena_append(parse_state *st, const char *s, size_t n)
{
    event *ev = st->ev;
    /* Everything in the arena is decoded from the event's own bytes and never longer than them, so
     * past EVENT_MAX_BYTES the event is oversized: the single pass stops here, as the text arrives,
     * rather than holding it to the end tag (the slicer then skips the event with a fixed buffer). */
    if (st->stream != NULL && ev->arena_len + n > EVENT_MAX_BYTES) {
        stream_leave(st, "an event that may exceed the size limit");
        return -1;
    }
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

static void stream_root_start(parse_state *st, const xmlChar *localname, const xmlChar *uri);

/* An element outside any event: in one event's document, the root, which must be the Event. */
static void root_start(parse_state *st, const xmlChar *localname, const xmlChar *uri)
{
    const xmlChar *const *nm = st->names;
    if (st->stream != NULL) {
        stream_root_start(st, localname, uri);
        return;
    }
    st->seen_root = 1;
    if (localname != nm[N_EVENT] || (uri != NULL && strcmp((const char *)uri, EVENT_XML_NS) != 0)) {
        st->err = BG_ERR_NOT_EVENT;
        snprintf(st->msg, sizeof st->msg, "root element is <%.64s>%s, not a Windows <Event>", (const char *)localname,
                 localname == nm[N_EVENT] ? " in another namespace" : "");
        xmlStopParser(st->ctxt);
        return;
    }
    st->event_depth = st->depth;
}

/* The EventData names the detector reads (correlate.c, classify of RemoteName/url): past
 * EVENT_MAX_FIELDS one of these still takes the place of a field that is none of them, so that
 * padding an event with dozens of fields cannot hide its URL or job. */
static const char *const key_field_names[] = {
    "RemoteName", "url",        "jobId",   "Id",         "jobTitle",         "name",
    "jobOwner",   "string",     "string2", "LocalName",  "processPath",      "processId",
    "program",    "parameters", "hr",      "bytesTotal", "bytesTransferred",
};

static int field_name_is_key(const char *name)
{
    for (size_t i = 0; i < sizeof key_field_names / sizeof key_field_names[0]; i++)
        if (strcmp(name, key_field_names[i]) == 0)
            return 1;
    return 0;
}

/* Where a new field named by the arena offset fname goes: the next free slot; when all are taken, the
 * last slot holding no key field if this one is a key field not seen yet (the first of a name wins, as
 * event_field_get reads it); otherwise nowhere (EVENT_MAX_FIELDS), and it is counted as dropped. */
static size_t field_slot_pick(parse_state *st, size_t fname)
{
    if (st->field_count < EVENT_MAX_FIELDS)
        return st->field_count;
    st->fields_dropped++;
    const char *name = st->ev->arena + fname;
    if (!field_name_is_key(name))
        return EVENT_MAX_FIELDS;
    for (size_t i = 0; i < st->field_count; i++)
        if (strcmp(st->ev->arena + st->field_name[i], name) == 0)
            return EVENT_MAX_FIELDS;
    for (size_t i = st->field_count; i-- > 0;)
        if (!field_name_is_key(st->ev->arena + st->field_name[i]))
            return i;
    return EVENT_MAX_FIELDS;
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
    /* The nesting limit, checked here rather than left to libxml2: its push parser (the single pass)
     * applies none, and memory would grow with the depth. Outside an event the pass only ever meets
     * a root or two, so anything deeper is left to the slicer, which ignores it with a fixed buffer. */
    int level = st->event_depth != 0 ? st->depth - st->event_depth + 1 : 1;
    if (level > EVENT_MAX_DEPTH || (st->stream != NULL && st->depth > EVENT_MAX_DEPTH)) {
        if (st->stream != NULL) {
            stream_leave(st, "elements nested deeper than the limit");
        } else if (st->err == BG_ERR_OK) {
            st->err = BG_ERR_XML_MALFORMED;
            snprintf(st->msg, sizeof st->msg, "line %d: elements nested deeper than %d levels",
                     ctxt->input != NULL ? ctxt->input->line : 0, EVENT_MAX_DEPTH);
            xmlStopParser(ctxt);
        }
        return;
    }
    if (st->event_depth == 0) {
        root_start(st, localname, uri);
        return;
    }
    if (localname == nm[N_EVENT] && st->stream != NULL) {
        /* The export slicer cuts an event short at a nested <Event> start: leave the single-document
         * path so that the slicer handles this input and the outcome is the same either way. */
        stream_leave(st, "an <Event> element inside an event");
        return;
    }
    /* Depth below the Event element: 1 a section, 2 a System child or EventData/Data, 3 a UserData leaf. */
    int below = st->depth - st->event_depth;
    if (below == 1) {
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

    if (st->section == SEC_SYSTEM && below == 2) {
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
    int is_data = st->section == SEC_EVENTDATA && below == 2 && localname == nm[N_DATA];
    int is_user = st->section == SEC_USERDATA && below == 3;
    if (is_data || is_user) {
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
        size_t slot = field_slot_pick(st, fname);
        if (slot == EVENT_MAX_FIELDS)
            return;
        st->field_slot = slot;
        st->field_name[slot] = fname;
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

static void stream_event_end(parse_state *st);
static void stream_boundary_mark(parse_state *st);

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt->_private;
    (void)localname;
    (void)prefix;
    (void)uri;

    if (st->event_depth == 0) {
        st->depth--;
        if (st->stream != NULL)
            stream_boundary_mark(st);
        return;
    }
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
                st->field_value[st->field_slot] = off;
                if (st->field_slot == st->field_count)
                    st->field_count++;
                break;
            case CAP_NONE:
                break;
            }
        }
        st->capture = CAP_NONE;
    }
    if (st->depth == st->event_depth + 1) {
        st->section = SEC_NONE;
    } else if (st->depth == st->event_depth) {
        st->event_depth = 0;
        if (st->stream != NULL)
            stream_event_end(st);
    }
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
    ev->recovered = 0;
    ev->field_count = 0;
    ev->fields_dropped = 0;
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

/* Forgets the previous event's values: every field absent, no section, nothing captured. */
static void state_event_reset(parse_state *st)
{
    st->provider = st->time = st->computer = st->channel = st->user_sid = ABSENT;
    st->event_id = st->version = st->level = st->record_id = ABSENT;
    st->field_count = 0;
    st->fields_dropped = 0;
    st->section = SEC_NONE;
    st->capture = CAP_NONE;
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
    ev->fields_dropped = st->fields_dropped;
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
    state_event_reset(&st);

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

/*
 * The single-document path. An export that is one well-formed document (an <Events> file, or
 * wevtutil's events back to back once wrapped in an element of our own) is parsed in one streaming
 * SAX pass with the callbacks above, and each event is handed over as its end tag is read. That
 * saves, per event, the export slicer's scan of the bytes and a new document in the parser.
 *
 * The path promises never to differ from slicing and parsing each event on its own: it hands over an
 * event only when that would have parsed to the same values, and anything else (a libxml2 error, a
 * DOCTYPE, an event that the per-event parse would refuse, one over EVENT_MAX_BYTES, an <Event>
 * inside an event, too many names, too large a backlog) makes it stop. The caller then reads the
 * input again with the slicer, skipping the events already handed over, so malformed events are
 * reported exactly as before, with their line and byte.
 */

/* Wraps the input so that events back to back (no root) are one document. The name cannot clash
 * with Event, and an input that closes it early only makes the parse stop. */
#define STREAM_OPEN_TAG  "<bitsguard-export>"
#define STREAM_CLOSE_TAG "</bitsguard-export>"

/* Unparsed bytes the push parser may hold after a chunk: a whole event plus two reads. A longer
 * token (a huge comment or attribute) stops the path, which keeps memory bounded as the slicer does. */
#define STREAM_BACKLOG_MAX (EVENT_MAX_BYTES + 2u * 65536u)

struct event_stream {
    xmlParserCtxtPtr ctxt;
    parse_state st;
    const xmlChar *names[N_COUNT];
    event_stream_fn fn;
    void *fn_ctx;
    bg_error fn_err;    /* What fn returned when it stopped the parse. */
    uint64_t delivered; /* Events handed to fn. */
    /* Parsed bytes at the last point known to be outside any event, and that value when the open
     * event started (its '<' is at or after it). Unsigned, compared by difference: xmlByteConsumed
     * returns a long, 32 bits on Windows, which wraps past 2 GiB; the difference stays right. */
    unsigned long boundary;
    unsigned long event_bound;
    int started; /* The first bytes (byte order mark, XML declaration) were looked at. */
    int left;    /* The path stopped; why says why. */
    char why[256];
};

static void stream_leave(parse_state *st, const char *why)
{
    event_stream *s = st->stream;
    if (!s->left) {
        s->left = 1;
        /* The reason is cut to what always fits after the prefix (an event number has at most 20
         * digits), so the text is bounded by construction and gcc -O3 can prove it. */
        snprintf(s->why, sizeof s->why, "event %" PRIu64 ": %.200s", s->delivered + 1, why);
    }
    if (st->err == BG_ERR_OK)
        st->err = BG_ERR_STOPPED;
    xmlStopParser(st->ctxt);
}

static void stream_boundary_mark(parse_state *st)
{
    st->stream->boundary = (unsigned long)xmlByteConsumed(st->ctxt);
}

static void stream_root_start(parse_state *st, const xmlChar *localname, const xmlChar *uri)
{
    event_stream *s = st->stream;
    if (localname != st->names[N_EVENT]) {
        /* Our wrapper, an <Events> root or any other element between events: not an event. */
        stream_boundary_mark(st);
        return;
    }
    if (uri != NULL && strcmp((const char *)uri, EVENT_XML_NS) != 0) {
        stream_leave(st, "an <Event> element in another namespace");
        return;
    }
    event_clear(st->ev);
    state_event_reset(st);
    s->event_bound = s->boundary;
    st->event_depth = st->depth;
}

static void stream_event_end(parse_state *st)
{
    event_stream *s = st->stream;
    unsigned long end = (unsigned long)xmlByteConsumed(st->ctxt);
    if (!st->ctxt->wellFormed || st->has_fatal || st->err != BG_ERR_OK) {
        stream_leave(st, st->msg[0] ? st->msg : "not well-formed");
        return;
    }
    if (end - s->event_bound > EVENT_MAX_BYTES) {
        stream_leave(st, "an event that may exceed the size limit");
        return;
    }
    if (state_finish(st) != BG_ERR_OK) {
        stream_leave(st, st->msg);
        return;
    }
    bg_error rc = s->fn(s->fn_ctx, st->ev);
    if (rc != BG_ERR_OK) {
        s->fn_err = rc;
        st->err = rc;
        xmlStopParser(st->ctxt);
        return;
    }
    s->delivered++;
    s->boundary = end;
}

event_stream *event_stream_new(event *ev, event_stream_fn fn, void *ctx)
{
    if (ev == NULL || fn == NULL)
        return NULL;
    event_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    xmlSAXHandler sax = sax_handler_template;
    /* The opening wrapper is the first chunk: ASCII, so libxml2 reads the rest as UTF-8 and never
     * guesses another encoding from the file's first bytes. */
    s->ctxt = xmlCreatePushParserCtxt(&sax, NULL, STREAM_OPEN_TAG, (int)strlen(STREAM_OPEN_TAG), NULL);
    if (s->ctxt == NULL) {
        free(s);
        return NULL;
    }
    xmlParserCtxtPtr ctxt = s->ctxt;
    ctxt->userData = ctxt;
    /* Same options as one event's parse. The per-event parse reads every slice as UTF-8, so this
     * path must too: the file's XML declaration is never fed to libxml2 (skipped at the start, an
     * error anywhere else), and IGNORE_ENC would keep an encoding named in one from being obeyed. */
    xmlCtxtUseOptions(ctxt, EVENT_PARSE_OPTIONS | XML_PARSE_IGNORE_ENC);
    for (int i = 0; i < N_COUNT; i++) {
        s->names[i] = ctxt->dict != NULL ? xmlDictLookup(ctxt->dict, (const xmlChar *)known_name_text[i], -1) : NULL;
        if (s->names[i] == NULL) {
            event_stream_free(s);
            return NULL;
        }
    }
    s->st.ev = ev;
    s->st.ctxt = ctxt;
    s->st.names = s->names;
    s->st.stream = s;
    state_event_reset(&s->st);
    s->fn = fn;
    s->fn_ctx = ctx;
    ctxt->_private = &s->st;
    return s;
}

void event_stream_free(event_stream *s)
{
    if (s == NULL)
        return;
    if (s->ctxt != NULL)
        xmlFreeParserCtxt(s->ctxt);
    free(s);
}

uint64_t event_stream_delivered(const event_stream *s)
{
    return s != NULL ? s->delivered : 0;
}

const char *event_stream_why(const event_stream *s)
{
    return s != NULL ? s->why : "";
}

/* Looks at the input's first bytes: a UTF-8 byte order mark and an XML declaration are skipped (our
 * wrapper comes first, and a declaration after it is an error). UTF-16 input is the caller's to keep
 * away (export_events_read leaves it to the slicer, which converts it); here it would only fail to
 * parse. Returns how many bytes to skip, or -1 when the path cannot take this input. */
static long stream_head_skip(event_stream *s, const char *b, size_t len)
{
    size_t i = 0;
    if (len >= 3 && (unsigned char)b[0] == 0xEF && (unsigned char)b[1] == 0xBB && (unsigned char)b[2] == 0xBF)
        i = 3;
    if (len - i >= 6 && memcmp(b + i, "<?xml", 5) == 0 &&
        (b[i + 5] == ' ' || b[i + 5] == '\t' || b[i + 5] == '\r' || b[i + 5] == '\n' || b[i + 5] == '?')) {
        for (size_t j = i + 5; j + 1 < len; j++)
            if (b[j] == '?' && b[j + 1] == '>')
                return (long)(j + 2);
        snprintf(s->why, sizeof s->why, "XML declaration not closed in the first read");
        return -1;
    }
    return (long)i;
}

bg_error event_stream_push(event_stream *s, const char *bytes, size_t len, int last)
{
    if (s == NULL || (bytes == NULL && len > 0) || len > INT_MAX)
        return BG_ERR_INVALID_ARG;
    if (s->left)
        return BG_ERR_STOPPED;
    if (!s->started) {
        s->started = 1;
        long skip = stream_head_skip(s, bytes, len);
        if (skip < 0) {
            s->left = 1;
            return BG_ERR_STOPPED;
        }
        bytes += skip;
        len -= (size_t)skip;
    }
    parse_state *st = &s->st;
    xmlParserCtxtPtr ctxt = s->ctxt;
    if (len > 0 && st->err == BG_ERR_OK)
        (void)xmlParseChunk(ctxt, bytes, (int)len, 0);
    if (last && st->err == BG_ERR_OK && ctxt->wellFormed)
        (void)xmlParseChunk(ctxt, STREAM_CLOSE_TAG, (int)strlen(STREAM_CLOSE_TAG), 1);

    if (s->fn_err != BG_ERR_OK)
        return s->fn_err;
    if (!s->left) {
        if (!ctxt->wellFormed || st->has_fatal || st->err != BG_ERR_OK)
            stream_leave(st, st->msg[0] ? st->msg : "not well-formed");
        else if (ctxt->input != NULL && ctxt->input->end - ctxt->input->cur > (long)STREAM_BACKLOG_MAX)
            stream_leave(st, "a token longer than the read buffer");
        else if (xmlDictSize(ctxt->dict) > EVENT_DICT_MAX_NAMES)
            stream_leave(st, "too many distinct names");
    }
    return s->left ? BG_ERR_STOPPED : BG_ERR_OK;
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
