/* The portable reader engine: event-source and alert-sink interfaces, configuration, and the reader loop. */
#ifndef BG_ENGINE_H
#define BG_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"
#include "bg_text.h"
#include "classify.h"
#include "detection.h"
#include "finding.h"

#define ENGINE_CHANNEL_BITS "Microsoft-Windows-Bits-Client/Operational"
#define ENGINE_BATCH_MAX    64
/* Resubscribe backoff when engine_config leaves it 0: the first delay, doubling up to the cap. */
#define ENGINE_BACKOFF_MIN_DEFAULT_MS 500u
#define ENGINE_BACKOFF_MAX_DEFAULT_MS 60000u

/*
 * An event source (wevtapi on Windows, a scripted fake in tests, the wevtapi test double under Wine)
 * behind a table of function pointers, as SQLite does for its OS layer. Errors are bg_error codes:
 *   BG_ERR_SOURCE_RETRY    the subscription is broken (stale query, Event Log restarted, RPC down):
 *                          the engine closes it and resubscribes after the stored bookmark;
 *   BG_ERR_SOURCE_BOOKMARK subscribe rejected the bookmark: the engine records a possible gap and
 *                          resubscribes from the oldest record;
 *   BG_ERR_SOURCE_LOG_CLEARED the log was cleared (or recreated) since the bookmark was taken, from
 *                          subscribe or later from wait/next: the same, with reason "log cleared"
 *                          (clearing the Bits-Client log is an attacker's move);
 *   BG_ERR_SOURCE_CHANNEL  the channel is missing: reported, retried with backoff;
 *   BG_ERR_SOURCE_DISABLED the channel is disabled, from subscribe, or later from wait/next (Windows keeps
 *                          a subscription to a disabled channel alive and silent, so the source asks the
 *                          channel's configuration at its periodic wake): tampering, alerted once per
 *                          streak as a channel-disabled finding (stored), retried with backoff; when a
 *                          subscribe succeeds again the engine records a gap for the disabled time and
 *                          resumes after the bookmark;
 *   BG_ERR_STOPPED         stop was requested (source_stop from another thread).
 */
typedef struct event_source event_source;

typedef struct event_source_ops {
    /* Subscribes to channel after the bookmark (XML text as bookmark_render gave it), or when bookmark
     * is NULL from the oldest record (from_oldest=1) or from future events only (from_oldest=0). */
    bg_error (*subscribe)(event_source *src, const char *channel, const char *bookmark, int from_oldest);
    /* Blocks until events may be available or stop is requested (BG_ERR_STOPPED). It may also return
     * BG_ERR_OK with nothing available: the Windows source wakes at least every 60 s with nothing
     * signalled, because nothing signals a subscription whose Event Log service restarted; the engine's
     * next call is then its probe. Otherwise waits are on handles, so an idle service costs next to
     * nothing (60 wakeups an hour). */
    bg_error (*wait)(event_source *src);
    /* Fetches up to max events; *count = 0 means drained (go back to wait). Each event's UTF-8 XML is
     * valid until the next call of next (or unsubscribe). The source remembers the last event handed
     * out. On any error *count is 0: nothing was handed out. An event the source cannot render may be
     * handed out as an empty string (len 0) so the bookmark can still move past it. */
    bg_error (*next)(event_source *src, size_t max, const char **xml, size_t *len, size_t *count);
    /* Returns the bookmark XML positioned at the last event handed out by next (heap string, caller
     * frees); NULL with BG_ERR_OK when nothing was handed out since subscribe. */
    bg_error (*bookmark_render)(event_source *src, char **out);
    /* Closes the subscription (the source itself stays usable for another subscribe). */
    void (*unsubscribe)(event_source *src);
    /* Thread-safe: makes wait (and the engine's backoff sleeps) return BG_ERR_STOPPED promptly. */
    void (*stop)(event_source *src);
    /* Sleeps up to ms milliseconds unless stopped first (then BG_ERR_STOPPED). Used for backoff. */
    bg_error (*sleep_ms)(event_source *src, uint32_t ms);
    void (*destroy)(event_source *src);
    /* Optional (NULL: nothing to add): what an operator can act on about the last failure, written into
     * buf, "" when nothing; on Windows the Win32 code with its FormatMessage text, and a hint for access
     * denied. Appended to the engine's error report (Event Log event 300 and the errors table). */
    void (*describe)(event_source *src, char *buf, size_t len);
} event_source_ops;

struct event_source {
    const event_source_ops *ops;
};

/* Where alerts go: the Event Log on Windows, a recorder in tests. Any member may be NULL. All are called
 * on the thread running engine_run.
 *   detection: only after the batch that produced it committed, only for rows the store reports as new
 *              and not allow-listed; never again for a replayed batch or a later enrichment;
 *   finding:   the same for findings (their rows are in the findings table);
 *   gap:       a rejected bookmark (also recorded in the database);
 *   error:     once per cause in a streak of failures (source, store commit), plus fatal errors;
 *   state:     "started" (database open), "subscribed" (after every successful subscribe),
 *              "stopped" (engine_run returns, after "started"). */
typedef struct engine_alert_sink {
    void *ctx;
    /* detection and gap return 0 when the alert could not be delivered (the Event Log refused it): the
     * engine then records that in the errors table, so no alert is lost silently. */
    int (*detection)(void *ctx, const detection *d);
    int (*gap)(void *ctx, const char *channel, const char *reason);
    void (*error)(void *ctx, bg_error code, const char *detail);
    void (*state)(void *ctx, const char *what); /* "started", "stopped", "subscribed", ... */
    /* A new detection of a `bitsguard selftest` job: titled JOBS_SELFTEST_PREFIX + a nonce an
     * administrator registered in the database (selftests table) and not yet alerted. It replaces the
     * detection alert; after it returns the self-test is marked alerted. */
    void (*selftest)(void *ctx, const detection *d, const char *nonce);
    /* A notify command, credentials sent to a direct IP, the channel cleared (finding.h), or the
     * channel found disabled by the engine itself (channel-disabled, once per streak): like
     * detection, only after the batch that produced it committed and only when the store reports its
     * row (table findings) new, so events read again (a restart, a rejected bookmark read from the
     * oldest record) never alert it twice; later events (63/64 failures, the job's outcome) update the
     * row without a new alert. The state given is the finding's at the commit. Returns 0 when the alert
     * could not be delivered (recorded in the errors table). */
    int (*finding)(void *ctx, const finding *f);
} engine_alert_sink;

/* A sample of the running process's health: what `bitsguard status` shows to prove memory and handles
 * stay flat. Taken by the platform (GetProcessMemoryInfo, GetProcessHandleCount on Windows), so the
 * engine stays portable. */
typedef struct engine_health {
    uint64_t pid;
    uint64_t rss_bytes;      /* Resident memory (working set). */
    uint64_t peak_rss_bytes; /* Peak resident memory (peak working set). */
    uint64_t handles;        /* Open handles (Windows) or file descriptors. */
} engine_health;

/* Fills *out and returns 0, or returns non-zero when no sample could be taken (nothing is recorded). */
typedef int (*engine_health_fn)(void *ctx, engine_health *out);

/* The state the engine publishes for fleet tools (the registry's Status key on Windows): counts read from
 * the database, the newest detection, and the newest event time this engine committed. */
typedef struct engine_summary {
    int64_t detections;     /* Stored detections, allow-listed ones aside. */
    int64_t unacknowledged; /* Of those, not acknowledged (`bitsguard ack`). */
    int64_t errors;         /* Rows of the errors table. */
    /* The newest detection: "LAST_SEEN IP URL" (the URL cut at 1,023 bytes), "" when none. */
    char last_detection[1200];
    /* The newest TimeCreated of the events this engine committed since it started ("" before the first):
     * with several channels, each engine reports its own. */
    char last_event_time[BG_TIME_TEXT_SIZE];
} engine_summary;

/* Called on the engine's thread (with several channels: on each engine's thread at once) with the
 * current summary; the callee compares and writes only what changed. */
typedef void (*engine_summary_fn)(void *ctx, const engine_summary *s);

typedef struct engine_config {
    const char *db_path;     /* Database file. */
    const char *channel;     /* ENGINE_CHANNEL_BITS unless testing. */
    int backfill;            /* First start without a bookmark: 1 reads from the oldest record. */
    int report_private;      /* Alert on private-range IPs too. */
    const allowlist *allow;  /* May be NULL. */
    int retention_days;      /* 0 keeps forever. */
    int64_t retention_rows;  /* 0 means no cap. */
    uint32_t backoff_min_ms; /* Resubscribe backoff: first delay (0: ENGINE_BACKOFF_MIN_DEFAULT_MS) ... */
    uint32_t backoff_max_ms; /* ... doubling with jitter up to this cap (0: ENGINE_BACKOFF_MAX_DEFAULT_MS). */
    int store_busy_ms;       /* Store's own retry of a locked database per commit attempt; 0: 1000 ms.
                              * Kept short so a stop is honoured within seconds: the engine retries
                              * the same commit itself with backoff that a stop interrupts. */
    /* Optional: the process's health, recorded in the database at start, after a committed batch or
     * when the wait for events returns (at most once per health_interval_s, default 5 s: no timers,
     * an idle engine keeps its last sample) and at stop. */
    engine_health_fn health_sample;
    void *health_ctx;
    uint32_t health_interval_s;
    /* Optional: the summary for fleet tools, published at start, after a committed batch (at most once
     * a second), when the source has drained after a batch (always: the end of a burst is never held
     * back), when the wait for events returns (at most once per health_interval_s) and at stop. Each
     * publication reads a few counts from the database; the callee writes only what changed. */
    engine_summary_fn summary_publish;
    void *summary_ctx;
    /* Invalid configuration values ("ValueName: why"), recorded as errors (where "config", BG_ERR_CONFIG)
     * once per engine_run, so `bitsguard status` shows them next to the Event Log's event 103. */
    const char *const *config_warnings;
    size_t config_warning_count;
} engine_config;

typedef struct engine_stats {
    uint64_t events;          /* Events read from the source. */
    uint64_t malformed;       /* Events that failed to parse (recorded, skipped). */
    uint64_t batches;         /* Committed batches. */
    uint64_t detections;      /* New detections committed. */
    uint64_t resubscribes;    /* Subscriptions re-established after a failure. */
    uint64_t gaps;            /* Possible gaps recorded. */
    uint64_t alerts_replayed; /* Alerts owed at start (a crash between a commit and its alerts), written then. */
} engine_stats;

/*
 * Runs the reader loop until the source reports BG_ERR_STOPPED (then BG_ERR_OK is returned after one
 * last attempt to commit the batch in hand; if that fails the bookmark has not moved and the events are
 * read again at the next start) or an unrecoverable error (database that cannot be opened or written
 * for reasons other than a lock or a full disk, out of memory). Opens the database, restores the open
 * jobs (their detections and notify-command findings) into the correlator, resumes after the stored
 * bookmark, commits detections, findings and bookmark per batch in one transaction, raises alerts after
 * commit (each noted in the database's alert outbox with its row, so alerts a crash left unwritten are
 * written at the next start: at least once, never lost). Source failures never end the loop: they are reported
 * and retried with backoff. stats may be NULL.
 */
bg_error engine_run(const engine_config *cfg, event_source *src, const engine_alert_sink *alerts,
                    engine_stats *stats) BG_WARN_UNUSED;

#endif
