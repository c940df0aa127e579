/* Job correlation: turns a stream of Bits-Client events into detections enriched by the job's other events. */
#ifndef BG_CORRELATE_H
#define BG_CORRELATE_H

#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "detection.h"
#include "event.h"
#include "finding.h"

typedef enum correlate_change {
    CORRELATE_NEW,    /* First sighting of (computer, job, url). */
    CORRELATE_UPDATE, /* A later event of the job added context. */
    CORRELATE_FINAL,  /* Job completed/cancelled, state evicted, or flushed: no more updates follow. */
} correlate_change;

/* Called for every change; d is only valid during the call. */
typedef void (*correlate_emit_fn)(void *ctx, const detection *d, correlate_change change);

/* The same for findings (finding.h): a job's notify command follows its job's life (NEW, UPDATE as the
 * job's events add context or 63/64 failures, FINAL when the job retires); credentials sent to a direct
 * IP by a job in the table follow it too, those of a job the table does not know and a cleared channel
 * are NEW then FINAL at once. */
typedef void (*correlate_finding_fn)(void *ctx, const finding *f, correlate_change change);

/* Credentials findings kept per job (one per url); more are counted in over_cap and dropped. */
#define CORRELATE_MAX_CREDENTIALS_PER_JOB 8
/* Notify failures (63/64) naming a job by a title no job in the table has yet (a log read newest
 * first), kept until a job takes that title; the oldest is dropped past this. */
#define CORRELATE_MAX_PENDING_FAILURES 32

/* A job keeps at most this many detections that are not allow-listed, and as many allow-listed ones
 * in a budget of their own: files from an allow-listed address must not use up the room that a payload
 * URL needs. BITS jobs rarely have more than a few files; past a budget, detections are dropped and
 * counted (correlate_stats.over_cap), never silently. */
#define CORRELATE_MAX_DETECTIONS_PER_JOB 64
#define CORRELATE_MAX_ALLOWED_PER_JOB    64

typedef struct correlate_config {
    const allowlist *allow;       /* May be NULL. */
    int report_private;           /* 1: private-ip names are detections too (allowed=0). */
    size_t max_jobs;              /* Bound on remembered jobs; 0 picks the default (4096). */
    uint64_t max_age_s;           /* Jobs idle longer than this (by event time) are evicted; 0: default 7 days. */
    correlate_finding_fn finding; /* May be NULL: findings are then not built. */
    void *finding_ctx;
} correlate_config;

typedef struct correlate_stats {
    uint64_t events;       /* Events fed. */
    uint64_t bits_events;  /* Of those, from the Bits-Client provider. */
    uint64_t detections;   /* Distinct detections created. */
    uint64_t allowed;      /* Of those, allow-listed. */
    uint64_t evicted_jobs; /* Jobs dropped to respect the bounds. */
    /* Events (or restored rows) naming a new detection that its job had no room for: dropped, past 64
     * detections in the job that are not allow-listed (over_cap), or 64 allow-listed ones. */
    uint64_t over_cap;
    uint64_t over_cap_allowed;
    uint64_t findings; /* Distinct findings created. */
} correlate_stats;

typedef struct correlator correlator;

correlator *correlate_new(const correlate_config *cfg, correlate_emit_fn emit, void *ctx);
void correlate_free(correlator *c);

/* Feeds one parsed event; events other than Bits-Client's and the Eventlog provider's 104 are counted
 * and ignored. BG_ERR_NOMEM is the only failure. */
bg_error correlate_event_feed(correlator *c, const event *ev) BG_WARN_UNUSED;

/* Re-creates the state of a detection stored earlier (service restart), so later events of its job
 * enrich it instead of being lost. Emits nothing. */
bg_error correlate_detection_restore(correlator *c, const detection *d) BG_WARN_UNUSED;

/* Re-creates a job's notify-command finding stored earlier (service restart), so that later failures to
 * run the command (63/64, which name the job by its title) and the job's outcome update it. Other kinds,
 * and a finding without a job id, are left alone (nothing later joins them). Emits nothing. */
bg_error correlate_finding_restore(correlator *c, const finding *f) BG_WARN_UNUSED;

/* Emits CORRELATE_FINAL for every open detection and forgets all jobs (end of a scan). */
void correlate_flush(correlator *c);

void correlate_stats_get(const correlator *c, correlate_stats *out);

#endif
