/* Job correlation: turns a stream of Bits-Client events into detections enriched by the job's other events. */
#ifndef BG_CORRELATE_H
#define BG_CORRELATE_H

#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "detection.h"
#include "event.h"

typedef enum correlate_change {
    CORRELATE_NEW,    /* First sighting of (computer, job, url). */
    CORRELATE_UPDATE, /* A later event of the job added context. */
    CORRELATE_FINAL,  /* Job completed/cancelled, state evicted, or flushed: no more updates follow. */
} correlate_change;

/* Called for every change; d is only valid during the call. */
typedef void (*correlate_emit_fn)(void *ctx, const detection *d, correlate_change change);

/* A job keeps at most this many detections that are not allow-listed, and as many allow-listed ones
 * in a budget of their own: files from an allow-listed address must not use up the room that a payload
 * URL needs. BITS jobs rarely have more than a few files; past a budget, detections are dropped and
 * counted (correlate_stats.over_cap), never silently. */
#define CORRELATE_MAX_DETECTIONS_PER_JOB 64
#define CORRELATE_MAX_ALLOWED_PER_JOB    64

typedef struct correlate_config {
    const allowlist *allow; /* May be NULL. */
    int report_private;     /* 1: private-ip names are detections too (allowed=0). */
    size_t max_jobs;        /* Bound on remembered jobs; 0 picks the default (4096). */
    uint64_t max_age_s;     /* Jobs idle longer than this (by event time) are evicted; 0: default 7 days. */
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
} correlate_stats;

typedef struct correlator correlator;

correlator *correlate_new(const correlate_config *cfg, correlate_emit_fn emit, void *ctx);
void correlate_free(correlator *c);

/* Feeds one parsed event; non-BITS events are counted and ignored. BG_ERR_NOMEM is the only failure. */
bg_error correlate_event_feed(correlator *c, const event *ev) BG_WARN_UNUSED;

/* Re-creates the state of a detection stored earlier (service restart), so later events of its job
 * enrich it instead of being lost. Emits nothing. */
bg_error correlate_detection_restore(correlator *c, const detection *d) BG_WARN_UNUSED;

/* Emits CORRELATE_FINAL for every open detection and forgets all jobs (end of a scan). */
void correlate_flush(correlator *c);

void correlate_stats_get(const correlator *c, correlate_stats *out);

#endif
