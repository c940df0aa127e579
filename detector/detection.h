/* A detection: one BITS job fetching one remote name from a direct, globally reachable IP, with its context. */
#ifndef BG_DETECTION_H
#define BG_DETECTION_H

#include <stdint.h>
#include <stdio.h>

#include "bg_text.h"
#include "classify.h"

/*
 * The Bits-Client events of a job, in the order of its life (the order scan --json, query and the CSV
 * list them), each with its bit in detection.events_seen: XX(event id, bit). The one definition the
 * detector, the correlator, the store's formatter and (checked by test_store_schema) the SQL view
 * detections_readable follow. The bits are stored in databases: never renumber one.
 */
#define DETECTION_EVENT_MAP(XX) XX(3, 0) XX(16403, 7) XX(59, 4) XX(60, 5) XX(61, 6) XX(6, 3) XX(4, 1) XX(5, 2)

/* SEEN_<id>: the bit of event id <id>. */
enum {
#define DETECTION_SEEN_BIT(id, bit) SEEN_##id = 1u << (bit),
    DETECTION_EVENT_MAP(DETECTION_SEEN_BIT)
#undef DETECTION_SEEN_BIT
};

/* The events_seen bit of an event id; 0 for an id that is not in the map. */
uint32_t detection_seen_bit(unsigned event_id);
/* Writes the event ids whose bits are set in mask, in the map's order, separated by sep ("3,16403,59"). */
void detection_seen_write(FILE *fp, uint32_t mask, const char *sep);

typedef enum detection_state {
    JOB_STATE_ACTIVE = 0, /* No completion or cancellation seen yet. */
    JOB_STATE_COMPLETED,  /* Event 4. */
    JOB_STATE_CANCELLED,  /* Event 5. */
} detection_state;

/* Where a detection came from: the Bits-Client events (service, run, scan), or the BITS service's own job
 * list (`bitsguard jobs --db`, `setup`). Stored as the `source` column; events is the zero value. */
typedef enum detection_source {
    DETECTION_SOURCE_EVENTS = 0,
    DETECTION_SOURCE_INVENTORY,
} detection_source;

/*
 * All strings are heap copies owned by the detection (free with detection_clear); NULL means unknown.
 * The identity of a detection is (computer, job_id, url): replaying the same events yields the same key.
 */
typedef struct detection {
    /* The event that created the detection. */
    unsigned event_id;            /* 16403, 59, 60 or 61. */
    uint64_t record_id;           /* Its EventRecordID. */
    char time[BG_TIME_TEXT_SIZE]; /* Its TimeCreated, normalized. */
    char *computer;
    char job_id[BG_GUID_TEXT_SIZE]; /* Normalized GUID (lower-case, no braces), "" if the event had none. */
    char *job_title;
    char *job_owner;
    char *url;           /* RemoteName or url, verbatim. */
    char *local_name;    /* 16403 LocalName, NULL otherwise. */
    classify_result cls; /* Verdict, normalized IP, kind, range. */
    int allowed;         /* 1 when the allowlist matched: stored, but no alert. */
    int recovered;       /* 1 when the creating event came from a record libevtx recovered from an .evtx
                          * log's free space (deleted or overwritten): real, but no longer in the log. */
    /* Context gathered from the job's other events. */
    int64_t process_id;   /* -1 when unknown. */
    char *process_path;   /* From event 3 v2+. */
    char *notify_program; /* From event 6. */
    char *notify_parameters;
    uint32_t events_seen;               /* SEEN_* bits. */
    char first_seen[BG_TIME_TEXT_SIZE]; /* Earliest and latest TimeCreated of the job's events. */
    char last_seen[BG_TIME_TEXT_SIZE];
    uint64_t last_record_id;
    int64_t transfer_hr; /* Status from 60/61, INT64_MIN when none. */
    int64_t bytes_total; /* -1 when unknown. */
    int64_t bytes_transferred;
    detection_state state;
    detection_source source; /* Kept from the first writer when a row is merged. */
} detection;

void detection_init(detection *d);
void detection_clear(detection *d);
/* Deep copy; BG_ERR_NOMEM leaves dst cleared. */
bg_error detection_copy(detection *dst, const detection *src) BG_WARN_UNUSED;

/* Writes the detection as one JSON object (no newline). Field names are a stable interface shared by
 * `scan --json` and `query --format json`; unknown values are null. */
void detection_json_write(FILE *fp, const detection *d);

/* "events" or "inventory" (the stored text); detection_source_parse is its inverse (0 ok, -1 unknown). */
const char *detection_source_name(detection_source s);
int detection_source_parse(const char *text, detection_source *out);

/* "completed", "cancelled" or "active". */
const char *detection_state_name(detection_state s);

#endif
