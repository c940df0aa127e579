/* One parsed Windows event: System fields and EventData values, and the hardened libxml2 parser that fills it. */
#ifndef BG_EVENT_H
#define BG_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"
#include "bg_text.h"

/* Events larger than this are rejected before parsing (BITS caps URLs at 2,200 characters;
 * a real event is a few KiB, so 1 MiB leaves room for hostile-but-legal values). */
#define EVENT_MAX_BYTES (1024u * 1024u)
/* Elements nested deeper than this (the Event element is level 1) make the event malformed, in the
 * per-event parse and in the single-document pass alike (libxml2's own default limit, stated once). */
#define EVENT_MAX_DEPTH 256
/* EventData carries at most 17 values in any Bits-Client schema; past this, extra ones are dropped and
 * counted, except the ones the detector reads, which take the place of others. */
#define EVENT_MAX_FIELDS 32

#define EVENT_PROVIDER_BITS "Microsoft-Windows-Bits-Client"
/* The channel it writes to, and the provider of the System log's event 104 (a log was cleared). */
#define EVENT_CHANNEL_BITS      "Microsoft-Windows-Bits-Client/Operational"
#define EVENT_PROVIDER_EVENTLOG "Microsoft-Windows-Eventlog"

typedef struct event_field {
    const char *name;  /* Data Name= attribute, "" when absent; points into the event arena. */
    const char *value; /* Text content with XML escapes decoded, "" for <Data/>. */
} event_field;

typedef struct event {
    const char *provider;                 /* Provider Name=, "" when absent. */
    unsigned event_id;                    /* EventID text. */
    unsigned version;                     /* Version, 0 when absent. */
    unsigned level;                       /* Level, 0 when absent. */
    uint64_t record_id;                   /* EventRecordID, 0 when absent. */
    char time_created[BG_TIME_TEXT_SIZE]; /* Normalized ISO 8601 UTC "YYYY-MM-DDThh:mm:ss.fffffffZ", "" if absent. */
    const char *computer;                 /* "" when absent. */
    const char *channel;                  /* "" when absent. */
    const char *user_sid;                 /* Security UserID=, "" when absent. */
    int recovered; /* 1 for a record libevtx recovered from a log's free space (set by evtx_events_read). */
    size_t field_count;
    event_field fields[EVENT_MAX_FIELDS];
    /* Fields past EVENT_MAX_FIELDS that were not kept. The fields the detector reads (RemoteName, url,
     * jobId...) are kept wherever they appear, in place of others. */
    size_t fields_dropped;
    /* Storage for every string above; owned by the event, reused across parses. */
    char *arena;
    size_t arena_len;
    size_t arena_cap;
    /* The libxml2 parser context, created by the first parse and reused by later ones (opaque;
     * owned by the event, released by event_free). One event is used by one thread at a time. */
    void *parser;
} event;

/* Prepares an empty event; call once before the first parse. */
void event_init(event *ev);
/* Releases the arena. The event may be initialised again afterwards. */
void event_free(event *ev);

/*
 * Parses one event's UTF-8 XML (EvtRender output or one element cut from an export).
 * No entity expansion, no DTD loading, no network access; input over EVENT_MAX_BYTES gives
 * BG_ERR_TOO_LARGE, broken XML BG_ERR_XML_MALFORMED, a root other than Event BG_ERR_NOT_EVENT.
 * On any error the event is left empty and a one-line reason is written to errbuf (if given).
 * Events from providers other than Bits-Client still parse (BG_ERR_OK); use event_is_bits().
 */
bg_error event_xml_parse(event *ev, const char *xml, size_t len, char *errbuf, size_t errlen) BG_WARN_UNUSED;

/* True when the event comes from the Microsoft-Windows-Bits-Client provider. */
int event_is_bits(const event *ev);

/* The value of the EventData field with this name (case-sensitive), or NULL when absent. */
const char *event_field_get(const event *ev, const char *name);

/*
 * The single-document path: one streaming parse of a whole export that is one well-formed UTF-8
 * document (an <Events> file, or events back to back, which are wrapped in a root of our own), handing
 * each event to fn as its end tag is read. It hands over only events that event_xml_parse would parse
 * to the same values from the export slicer's cut; at anything else it stops (see event.c) and the
 * caller reads the rest with the slicer. export_events_read (export.h) does all that; use it.
 */
typedef struct event_stream event_stream;
/* Gets each parsed event (valid during the call). A return other than BG_ERR_OK stops the parse and
 * is returned by event_stream_push. */
typedef bg_error (*event_stream_fn)(void *ctx, const event *ev);

/* A parser that fills ev for each event; NULL when out of memory. */
event_stream *event_stream_new(event *ev, event_stream_fn fn, void *ctx);
void event_stream_free(event_stream *s);
/*
 * Feeds the input's next bytes, from its very first one (last = 1 with the final bytes, or alone).
 * BG_ERR_OK: go on (after last: the whole input was parsed and every event handed over).
 * BG_ERR_STOPPED: the path stopped; the event_stream_delivered() events handed over are final, the
 * rest must be read another way; event_stream_why() says why. Otherwise: what fn returned.
 */
bg_error event_stream_push(event_stream *s, const char *bytes, size_t len, int last);
/* Events handed to fn so far. */
uint64_t event_stream_delivered(const event_stream *s);
/* Why the path stopped ("event N: reason"), "" while it goes on. */
const char *event_stream_why(const event_stream *s);

/*
 * Normalizes a job GUID for comparison: braces dropped, lower-case, 36 characters.
 * Returns 0 and writes out (37 bytes) on success, -1 when the text is not a GUID.
 */
int event_guid_normalize(const char *text, char out[BG_GUID_TEXT_SIZE]);

/*
 * Normalizes a timestamp to "YYYY-MM-DDThh:mm:ss.fffffffZ". Accepts ISO 8601 with 'T' or a space,
 * 0 to 9 fraction digits, optional 'Z' (python-evtx writes "2019-05-12 18:02:05.215199").
 * Returns 0 on success, -1 when the text is not a timestamp.
 */
int event_time_normalize(const char *text, char out[BG_TIME_TEXT_SIZE]);

/* The namespace of Windows event XML; event_xml_parse accepts it or no namespace on the root. */
#define EVENT_XML_NS "http://schemas.microsoft.com/win/2004/08/events/event"

#endif
