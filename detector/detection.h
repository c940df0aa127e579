/* A detection: one BITS job fetching one remote name from a direct, globally reachable IP, with its context. */
#ifndef BG_DETECTION_H
#define BG_DETECTION_H

#include <stdint.h>
#include <stdio.h>

#include "classify.h"

/* Bits of detection.events_seen, one per Bits-Client event id that touched the job. */
enum {
    SEEN_3 = 1u << 0,
    SEEN_4 = 1u << 1,
    SEEN_5 = 1u << 2,
    SEEN_6 = 1u << 3,
    SEEN_59 = 1u << 4,
    SEEN_60 = 1u << 5,
    SEEN_61 = 1u << 6,
    SEEN_16403 = 1u << 7,
};

typedef enum detection_state {
    JOB_STATE_ACTIVE = 0, /* No completion or cancellation seen yet. */
    JOB_STATE_COMPLETED,  /* Event 4. */
    JOB_STATE_CANCELLED,  /* Event 5. */
} detection_state;

/*
 * All strings are heap copies owned by the detection (free with detection_clear); NULL means unknown.
 * The identity of a detection is (computer, job_id, url): replaying the same events yields the same key.
 */
typedef struct detection {
    /* The event that created the detection. */
    unsigned event_id;  /* 16403, 59, 60 or 61. */
    uint64_t record_id; /* Its EventRecordID. */
    char time[32];      /* Its TimeCreated, normalized. */
    char *computer;
    char job_id[37]; /* Normalized GUID (lower-case, no braces), "" if the event had none. */
    char *job_title;
    char *job_owner;
    char *url;           /* RemoteName or url, verbatim. */
    char *local_name;    /* 16403 LocalName, NULL otherwise. */
    classify_result cls; /* Verdict, normalized IP, kind, range. */
    int allowed;         /* 1 when the allowlist matched: stored, but no alert. */
    /* Context gathered from the job's other events. */
    int64_t process_id;   /* -1 when unknown. */
    char *process_path;   /* From event 3 v2+. */
    char *notify_program; /* From event 6. */
    char *notify_parameters;
    uint32_t events_seen; /* SEEN_* bits. */
    char first_seen[32];  /* Earliest and latest TimeCreated of the job's events. */
    char last_seen[32];
    uint64_t last_record_id;
    int64_t transfer_hr; /* Status from 60/61, INT64_MIN when none. */
    int64_t bytes_total; /* -1 when unknown. */
    int64_t bytes_transferred;
    detection_state state;
} detection;

void detection_init(detection *d);
void detection_clear(detection *d);
/* Deep copy; BG_ERR_NOMEM leaves dst cleared. */
bg_error detection_copy(detection *dst, const detection *src) BG_WARN_UNUSED;

/* Writes the detection as one JSON object (no newline). Field names are a stable interface shared by
 * `scan --json` and `query --format json`; unknown values are null. */
void detection_json_write(FILE *fp, const detection *d);

/* "completed", "cancelled" or "active". */
const char *detection_state_name(detection_state s);

#endif
