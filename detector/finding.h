/* A finding: BITS abuse other than a direct-IP download (notify-command persistence, credentials sent to a direct IP,
 * the channel cleared or disabled). */
#ifndef BG_FINDING_H
#define BG_FINDING_H

#include <stdint.h>
#include <stdio.h>

#include "bg_text.h"
#include "classify.h"
#include "detection.h"

/* What a finding reports. The numbers are part of the stable interface (never renumbered). */
typedef enum finding_kind {
    FINDING_NOTIFY_COMMAND = 1,    /* Bits-Client 6: a job's notify command line (persistence). */
    FINDING_CREDENTIALS_DIRECT_IP, /* Bits-Client 203/204: job credentials sent to a direct IP. */
    FINDING_CHANNEL_CLEARED,       /* Eventlog 104 in the System log naming the Bits-Client channel. */
    FINDING_CHANNEL_DISABLED,      /* The reader found the channel disabled (tampering): no event raises it. */
} finding_kind;
#define FINDING_KIND_LAST FINDING_CHANNEL_DISABLED

/* The kind whose name (finding_kind_name) is text; 0 when none is. */
finding_kind finding_kind_parse(const char *text);

/* Every string is a heap copy owned by the finding (free with finding_clear); NULL means unknown. */
typedef struct finding {
    finding_kind kind;
    /* The event that raised it. */
    unsigned event_id;
    uint64_t record_id;
    char time[BG_TIME_TEXT_SIZE];
    char *computer;
    char job_id[37]; /* Normalized job GUID, "" when the event named the job by title only (63/64, 203/204). */
    char *job_title;
    char *job_owner;
    int64_t process_id; /* The process that created the job (event 3), -1 when unknown. */
    char *process_path;
    /* FINDING_NOTIFY_COMMAND: the command line, and the failures to run it (events 63 and 64). */
    char *program;
    char *parameters;
    uint32_t notify_failures; /* Events 63/64 attached. */
    int64_t notify_error;     /* The newest one's error code, INT64_MIN when none. */
    /* FINDING_CREDENTIALS_DIRECT_IP: who challenged, for which url, with which scheme and user. */
    char *server;
    char *url;
    char *scheme;
    char *user;          /* Also FINDING_CHANNEL_CLEARED: DOMAIN\user who cleared the log. */
    int accepted;        /* 1: 203 (accepted), 0: 204 (rejected). */
    classify_result cls; /* The direct IP the credentials went to. */
    /* FINDING_CHANNEL_CLEARED: the channel named by event 104; FINDING_CHANNEL_DISABLED: the channel the
     * reader found disabled (event_id 0, record_id the streak's number since the reader started, time
     * when it was found). */
    char *channel;
    detection_state state; /* The job's outcome, for job findings. */
    /* Earliest and latest TimeCreated of the events behind it (its job's, for a job's finding), and the
     * greatest record id among them: a stored row takes a value from the newer of two states. */
    char first_seen[BG_TIME_TEXT_SIZE];
    char last_seen[BG_TIME_TEXT_SIZE];
    uint64_t last_record_id;
    int recovered; /* 1 while every event that raised it came from a record libevtx recovered from an .evtx
                    * log's free space (deleted or overwritten), as for detections. */
} finding;

void finding_init(finding *f);
void finding_clear(finding *f);
/* Deep copy; BG_ERR_NOMEM leaves dst cleared. */
bg_error finding_copy(finding *dst, const finding *src) BG_WARN_UNUSED;

/* "notify-command", "credentials-direct-ip", "channel-cleared", "channel-disabled". */
const char *finding_kind_name(finding_kind k);

/*
 * A finding's natural identity, which the store keeps unique so that reading the same events again (a
 * restart, a rejected bookmark) updates its row instead of adding one: (computer, kind, job key, item
 * key). The job key is the job's GUID, else the title an event named it by, else "". The item key is ""
 * for a notify command (one per job, its newest command line), the url (else the server) credentials
 * went to, and for a cleared channel the channel, the record id and the time of the event (each
 * clearing is its own finding); for a disabled channel likewise, with the streak's number and the time
 * the reader found it disabled (each streak is its own finding). The item key is written to buf when
 * it is not one of f's strings.
 */
#define FINDING_ITEM_KEY_SIZE 640
const char *finding_job_key(const finding *f);
const char *finding_item_key(const finding *f, char buf[FINDING_ITEM_KEY_SIZE]);

/* Writes the finding as one JSON object (no newline); "alert" names its kind, unknown values are null. */
void finding_json_write(FILE *fp, const finding *f);

#endif
