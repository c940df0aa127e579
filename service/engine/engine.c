/* The portable reader engine: bookmark resume, batch commit with the bookmark, alerts after commit, resubscribe. */
#include "engine.h"
#include "jobs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_os.h"
#include "correlate.h"
#include "event.h"
#include "store.h"

#define ENGINE_STORE_BUSY_DEFAULT_MS 1000
/* Retention runs at start, then every this many committed batches or this many seconds, whichever
 * comes first, and always between batches so pruning never holds back a commit. */
#define ENGINE_RETENTION_BATCHES 256u
#define ENGINE_RETENTION_SECONDS 3600
/* At start, the open (not completed or cancelled) detections restored into the correlator, newest
 * first, so a job's later events enrich its stored detection across a restart. Matches the
 * correlator's default job bound. */
#define ENGINE_RESTORE_MAX 4096
/* Health samples: at most one per this many seconds while events flow (a meta upsert each). */
#define ENGINE_HEALTH_SECONDS_DEFAULT 5u

/* The detections derived from the events fetched since the last successful commit: the batch in hand.
 * One entry per (computer, job_id, url), holding the latest state the correlator emitted. */
typedef struct engine_batch {
    detection *dets;
    size_t n;
    size_t cap;
    int oom; /* A copy failed during emit: the batch is incomplete and must not be committed. */
} engine_batch;

/* The findings the correlator reported (new or changed) since the last commit: one entry per natural
 * identity (finding_job_key, finding_item_key), holding its latest state. Stored with the batch; alerted
 * when the store reports its row new. */
typedef struct engine_findings {
    finding *items;
    size_t n;
    size_t cap;
} engine_findings;

typedef struct engine {
    const engine_config *cfg;
    event_source *src;
    const engine_alert_sink *alerts;
    engine_stats *stats;
    uint32_t backoff_min;
    uint32_t backoff_max;
    store *st;
    correlator *cor;
    event ev;
    engine_batch batch;
    /* The events of the batch in hand per computer (the computers table, updated with the batch).
     * Cleared at each subscribe: events fetched but not committed are read again after it. */
    store_tally *tally;
    engine_findings findings;
    char *bookmark; /* Bookmark after the last fetched event: committed together with batch. */
    int in_hand;    /* Events were fetched since the last commit (even if they made no detection). */
    /* Malformed events of the batch in hand: one error row per batch, written after its commit, so a
     * flood of hostile events costs one row per batch rather than one transaction per event. */
    unsigned malformed;
    bg_error malformed_code;
    char malformed_first[200];
    /* Detections (not allow-listed) dropped past the per-job cap since the last commit: recorded and
     * alerted once per batch, like malformed events. over_cap_seen is the correlator's count so far. */
    uint64_t over_cap;
    uint64_t over_cap_seen;
    char over_cap_first[200];
    int subscribed;
    char *rejected;  /* A stored bookmark the source rejected: do not record the same gap twice. */
    int log_cleared; /* The source saw the log cleared while subscribed: resubscribe from the oldest record. */
    /* When the reader found the channel disabled (UTC text), "" while it is enabled: the streak's tamper
     * alert is raised once, and the gap is recorded when the channel is enabled again. */
    char disabled_since[BG_TIME_TEXT_SIZE];
    uint64_t disabled_streak; /* The current streak's number in the database (its finding's record_id),
                               * so two streaks starting within the same second are still two findings. */
    uint32_t source_backoff;
    bg_error reported;      /* The error last reported in the current streak of failures (OK: none yet). */
    char reported_why[240]; /* The source's description of it: a new one is reported too. */
    uint64_t rng;
    unsigned batches_since_retention;
    int64_t retention_last;
    int64_t health_last;  /* When the last health sample was recorded (0: never). */
    int64_t summary_last; /* When the summary was last published (0: never). */
    int summary_dirty;    /* A batch was committed since then. */
    /* The newest TimeCreated of the events read since the last commit, and of those committed. */
    char event_time_pending[BG_TIME_TEXT_SIZE];
    char event_time_committed[BG_TIME_TEXT_SIZE];
} engine;

static void engine_alert_error(engine *e, bg_error code, const char *where, const char *detail)
{
    if (e->alerts && e->alerts->error)
        e->alerts->error(e->alerts->ctx, code, detail);
    if (e->st) {
        /* Best effort: the error table is diagnostics, a failure to write it changes nothing. */
        bg_error rc = store_error_record(e->st, where, code, detail);
        (void)rc;
    }
}

static void engine_alert_state(engine *e, const char *what)
{
    if (e->alerts && e->alerts->state)
        e->alerts->state(e->alerts->ctx, what);
}

/* xorshift64: jitter only needs to decorrelate restarts of many machines, not be unpredictable. */
static uint32_t engine_random(engine *e)
{
    uint64_t x = e->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    e->rng = x;
    return (uint32_t)(x >> 32);
}

/*
 * The next backoff delay of a streak whose state is *base (0 starts a streak): the base doubles from
 * backoff_min up to backoff_max, and the delay is the base minus up to a quarter of it, so it never
 * exceeds the cap and successive retries of many hosts spread out.
 */
static uint32_t engine_backoff_next(engine *e, uint32_t *base)
{
    uint32_t b = *base;
    if (b < e->backoff_min)
        b = e->backoff_min;
    if (b > e->backoff_max)
        b = e->backoff_max;
    uint32_t quarter = b / 4;
    uint32_t delay = b - (quarter ? engine_random(e) % (quarter + 1) : 0);
    *base = b > e->backoff_max / 2 ? e->backoff_max : b * 2;
    return delay;
}

static bg_error engine_backoff_sleep(engine *e, uint32_t *base)
{
    return e->src->ops->sleep_ms(e->src, engine_backoff_next(e, base));
}

static int engine_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static void engine_batch_clear(engine_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        detection_clear(&b->dets[i]);
    b->n = 0;
    b->oom = 0;
}

static void engine_batch_free(engine_batch *b)
{
    engine_batch_clear(b);
    free(b->dets);
    b->dets = NULL;
    b->cap = 0;
}

/* Correlator callback: keeps the latest state of each detection key changed by the batch. */
static void engine_emit(void *ctx, const detection *d, correlate_change change)
{
    (void)change;
    engine *e = ctx;
    engine_batch *b = &e->batch;
    if (b->oom)
        return;
    for (size_t i = 0; i < b->n; i++) {
        detection *old = &b->dets[i];
        if (strcmp(old->job_id, d->job_id) == 0 && engine_str_eq(old->url, d->url) &&
            engine_str_eq(old->computer, d->computer)) {
            detection_clear(old);
            if (detection_copy(old, d) != BG_ERR_OK) {
                /* The slot is empty now: drop it so the array stays consistent, and fail the batch. */
                b->dets[i] = b->dets[b->n - 1];
                b->n--;
                b->oom = 1;
            }
            return;
        }
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        detection *grown = realloc(b->dets, cap * sizeof *grown);
        if (!grown) {
            b->oom = 1;
            return;
        }
        b->dets = grown;
        b->cap = cap;
    }
    if (detection_copy(&b->dets[b->n], d) != BG_ERR_OK) {
        b->oom = 1;
        return;
    }
    b->n++;
}

/*
 * A self-test's detection (`bitsguard selftest`): its title carries a nonce that an administrator
 * registered in the database. Only then is it alerted as a self-test (1 returned); a job merely titled
 * like one, whose nonce nobody registered, is alerted as the detection it is. Called after the commit.
 */
static int engine_selftest_alert(engine *e, const detection *d)
{
    char nonce[33];
    int pending = 0;
    if (jobs_selftest_nonce(d->job_title, nonce) != 0)
        return 0;
    int64_t now = (int64_t)time(NULL);
    if (store_selftest_claim(e->st, nonce, d->job_id, now, &pending) != BG_ERR_OK || !pending)
        return 0;
    if (e->alerts && e->alerts->selftest)
        e->alerts->selftest(e->alerts->ctx, d, nonce);
    bg_error rc = store_selftest_alerted(e->st, nonce, now);
    (void)rc; /* The alert is written; selftest then reports that the service did not record it. */
    return 1;
}

/* An alert the sink could not deliver: recorded in the errors table (not through the sink, which just
 * failed), so `bitsguard status` shows it. The detection itself is stored either way. */
static void engine_alert_lost(engine *e, const char *what, const detection *d)
{
    char detail[400];
    if (d)
        snprintf(detail, sizeof detail, "the %s alert could not be written (record %" PRIu64 ", %.300s)", what,
                 d->record_id, d->url ? d->url : "-");
    else
        snprintf(detail, sizeof detail, "the %s alert could not be written", what);
    bg_error rc = store_error_record(e->st, "engine.alert", BG_ERR_PLATFORM, detail);
    (void)rc; /* Best effort, like every error row. */
}

static int engine_finding_same(const finding *a, const finding *b)
{
    char ka[FINDING_ITEM_KEY_SIZE], kb[FINDING_ITEM_KEY_SIZE];
    return a->kind == b->kind && engine_str_eq(a->computer, b->computer) &&
           strcmp(finding_job_key(a), finding_job_key(b)) == 0 &&
           strcmp(finding_item_key(a, ka), finding_item_key(b, kb)) == 0;
}

/* Correlator callback for findings: keeps the latest state of each finding until its batch commits. A
 * copy that fails fails the batch (as for detections): nothing of it is committed, the events are read
 * again. */
static void engine_finding_emit(void *ctx, const finding *f, correlate_change change)
{
    (void)change; /* New or changed alike: the store tells which rows are new. */
    engine *e = ctx;
    engine_findings *fs = &e->findings;
    if (e->batch.oom)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        if (!engine_finding_same(&fs->items[i], f))
            continue;
        finding_clear(&fs->items[i]);
        if (finding_copy(&fs->items[i], f) != BG_ERR_OK) {
            fs->items[i] = fs->items[fs->n - 1];
            fs->n--;
            e->batch.oom = 1;
        }
        return;
    }
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        finding *grown = realloc(fs->items, cap * sizeof *grown);
        if (!grown) {
            e->batch.oom = 1;
            return;
        }
        fs->items = grown;
        fs->cap = cap;
    }
    if (finding_copy(&fs->items[fs->n], f) != BG_ERR_OK) {
        e->batch.oom = 1;
        return;
    }
    fs->n++;
}

static void engine_findings_clear(engine_findings *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        finding_clear(&fs->items[i]);
    fs->n = 0;
}

/* An alert the sink could not deliver, for a finding: recorded like engine_alert_lost. */
static void engine_finding_alert_lost(engine *e, const finding *f)
{
    char detail[400];
    snprintf(detail, sizeof detail, "the %s alert could not be written (record %" PRIu64 ", job %.40s)",
             finding_kind_name(f->kind), f->record_id, f->job_id[0] ? f->job_id : "-");
    bg_error rc = store_error_record(e->st, "engine.alert", BG_ERR_PLATFORM, detail);
    (void)rc; /* Best effort, like every error row. */
}

/* The alert of a row is written (or recorded as lost): its outbox row goes. A failure here only means the
 * next start writes the alert again; it is recorded, never fatal. */
static void engine_outbox_done(engine *e, store_outbox_kind kind, int64_t row_id)
{
    if (row_id <= 0)
        return;
    bg_error rc = store_outbox_done(e->st, kind, row_id);
    if (rc != BG_ERR_OK) {
        bg_error rec = store_error_record(
            e->st, "engine.outbox", rc,
            "an alert written could not be cleared from the outbox; it will be written again at the next start");
        (void)rec; /* Best effort, like every error row. */
    }
}

/* Writes the alert of a stored detection that is not allow-listed (a self-test's own when it is one). */
static void engine_detection_alert(engine *e, int64_t row_id, const detection *d)
{
    if (!engine_selftest_alert(e, d) && e->alerts && e->alerts->detection && !e->alerts->detection(e->alerts->ctx, d))
        engine_alert_lost(e, "detection", d);
    engine_outbox_done(e, STORE_OUTBOX_DETECTION, row_id);
}

static void engine_finding_alert(engine *e, int64_t row_id, const finding *f)
{
    if (e->alerts && e->alerts->finding && !e->alerts->finding(e->alerts->ctx, f))
        engine_finding_alert_lost(e, f);
    engine_outbox_done(e, STORE_OUTBOX_FINDING, row_id);
}

static int engine_outbox_row(void *ctx, int64_t row_id, const detection *d, const finding *f)
{
    engine *e = ctx;
    if (d)
        engine_detection_alert(e, row_id, d);
    else
        engine_finding_alert(e, row_id, f);
    if (e->stats)
        e->stats->alerts_replayed++;
    return 0;
}

/* At start: the alerts this channel still owes, because the process ended between a batch's commit and
 * its alerts (a crash, a kill, a power cut), are written now. */
static void engine_outbox_replay(engine *e)
{
    if (!e->alerts)
        return;
    bg_error rc = store_outbox_run(e->st, e->cfg->channel, engine_outbox_row, e);
    if (rc != BG_ERR_OK)
        engine_alert_error(e, rc, "engine.outbox", "writing the alerts owed since the last stop failed");
}

/* One commit attempt of the batch in hand with its bookmark; alerts follow only a successful commit. */
static bg_error engine_commit(engine *e)
{
    engine_batch *b = &e->batch;
    engine_findings *fs = &e->findings;
    const detection **ptrs = NULL;
    const finding **fptrs = NULL;
    int *is_new = NULL;
    int *finding_new = NULL;
    int64_t *row_ids = NULL;
    int64_t *finding_row_ids = NULL;
    bg_error rc = BG_ERR_OK;

    if (b->n) {
        ptrs = malloc(b->n * sizeof *ptrs);
        is_new = calloc(b->n, sizeof *is_new);
        row_ids = calloc(b->n, sizeof *row_ids);
        if (!ptrs || !is_new || !row_ids) {
            rc = BG_ERR_NOMEM;
            goto cleanup;
        }
        for (size_t i = 0; i < b->n; i++)
            ptrs[i] = &b->dets[i];
    }
    if (fs->n) {
        fptrs = malloc(fs->n * sizeof *fptrs);
        finding_new = calloc(fs->n, sizeof *finding_new);
        finding_row_ids = calloc(fs->n, sizeof *finding_row_ids);
        if (!fptrs || !finding_new || !finding_row_ids) {
            rc = BG_ERR_NOMEM;
            goto cleanup;
        }
        for (size_t i = 0; i < fs->n; i++)
            fptrs[i] = &fs->items[i];
    }
    store_batch sb = {
        .dets = ptrs,
        .n = b->n,
        .is_new = is_new,
        .findings = fptrs,
        .finding_count = fs->n,
        .finding_is_new = finding_new,
        .channel = e->bookmark ? e->cfg->channel : NULL,
        .bookmark = e->bookmark,
        .tally_channel = e->cfg->channel,
        .tally = e->tally,
        /* Alerts owed are noted with the rows: a crash before they are written loses none (engine_outbox_replay). */
        .outbox_channel = e->alerts ? e->cfg->channel : NULL,
        .row_ids = row_ids,
        .finding_row_ids = finding_row_ids,
    };
    rc = store_batch_write(e->st, &sb);
    if (rc != BG_ERR_OK)
        goto cleanup;
    store_tally_clear(e->tally);
    /* Into the main file at once, for readers that copy only it or cannot read the WAL (store.h). */
    bg_error ckpt = store_checkpoint(e->st);
    (void)ckpt; /* Best effort: the batch is committed; the next one checkpoints again. */

    /* Committed: from here on a crash re-reads nothing of this batch. Each alert owed is in the outbox
     * with its row, and leaves it once written: a crash now loses no alert, and repeats at most the one
     * written but not yet cleared (engine_outbox_replay at the next start). */
    uint64_t fresh = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!is_new[i])
            continue;
        fresh++;
        if (!b->dets[i].allowed)
            engine_detection_alert(e, row_ids[i], &b->dets[i]);
    }
    /* Findings likewise: alerted when their row is new, so events read again (a restart, a rejected
     * bookmark) never alert one twice; a later state of a stored finding only updates its row. */
    for (size_t i = 0; i < fs->n; i++) {
        if (finding_new[i])
            engine_finding_alert(e, finding_row_ids[i], &fs->items[i]);
    }
    engine_findings_clear(fs);
    if (e->stats) {
        e->stats->batches++;
        e->stats->detections += fresh;
    }
    engine_batch_clear(b);
    free(e->bookmark);
    e->bookmark = NULL;
    e->in_hand = 0;
    if (strcmp(e->event_time_pending, e->event_time_committed) > 0)
        memcpy(e->event_time_committed, e->event_time_pending, sizeof e->event_time_committed);
    e->summary_dirty = 1;
    if (e->malformed) {
        char detail[320];
        snprintf(detail, sizeof detail, "skipped %u malformed event%s of %s; first: %s", e->malformed,
                 e->malformed == 1 ? "" : "s", e->cfg->channel, e->malformed_first);
        bg_error rec = store_error_record(e->st, "engine.event", e->malformed_code, detail);
        (void)rec; /* Diagnostics only: the batch is committed either way. */
        e->malformed = 0;
    }
    if (e->over_cap) {
        char detail[320];
        snprintf(detail, sizeof detail,
                 "dropped %" PRIu64 " detection%s past the cap of %d per job (not allow-listed); first: %s",
                 e->over_cap, e->over_cap == 1 ? "" : "s", CORRELATE_MAX_DETECTIONS_PER_JOB, e->over_cap_first);
        engine_alert_error(e, BG_ERR_TOO_LARGE, "engine.correlate", detail);
        e->over_cap = 0;
    }

cleanup:
    free(ptrs);
    free(is_new);
    free(fptrs);
    free(finding_new);
    free(row_ids);
    free(finding_row_ids);
    return rc;
}

/* Commit failures worth retrying with the same batch: a lock held elsewhere, a full disk, an I/O hiccup. */
static int engine_store_transient(bg_error rc)
{
    return rc == BG_ERR_DB_BUSY || rc == BG_ERR_DB_FULL || rc == BG_ERR_IO;
}

/*
 * Commits the batch in hand, retrying transient store failures with capped backoff. No event is
 * fetched meanwhile, so the bookmark never moves past uncommitted events. BG_ERR_STOPPED leaves the
 * batch in hand for the caller's final attempt.
 */
static bg_error engine_commit_retry(engine *e)
{
    uint32_t base = 0;
    int reported = 0;
    for (;;) {
        bg_error rc = engine_commit(e);
        if (rc == BG_ERR_OK || !engine_store_transient(rc))
            return rc;
        if (!reported) {
            /* Only to the sink: the store cannot take an error row while it is locked or full. */
            if (e->alerts && e->alerts->error)
                e->alerts->error(e->alerts->ctx, rc, "committing detections failed; retrying the same batch");
            reported = 1;
        }
        rc = engine_backoff_sleep(e, &base);
        if (rc != BG_ERR_OK)
            return rc;
    }
}

static void engine_retention_maybe(engine *e, int force)
{
    if (e->cfg->retention_days <= 0 && e->cfg->retention_rows <= 0)
        return;
    int64_t now = (int64_t)time(NULL);
    if (!force && e->batches_since_retention < ENGINE_RETENTION_BATCHES &&
        now - e->retention_last < ENGINE_RETENTION_SECONDS)
        return;
    e->batches_since_retention = 0;
    e->retention_last = now;
    bg_error rc = store_retention_apply(e->st, now);
    if (rc != BG_ERR_OK)
        engine_alert_error(e, rc, "engine.retention", "applying the retention limits failed");
}

/* Records a health sample when one is due (or always when force): piggybacks on batch commits and on
 * the wait returning, so the engine needs no timer and an idle one stays idle. Best effort. */
static void engine_health_maybe(engine *e, int force)
{
    if (!e->cfg->health_sample || !e->st)
        return;
    int64_t now = (int64_t)time(NULL);
    uint32_t every = e->cfg->health_interval_s ? e->cfg->health_interval_s : ENGINE_HEALTH_SECONDS_DEFAULT;
    if (!force && e->health_last && now - e->health_last < (int64_t)every)
        return;
    engine_health h;
    memset(&h, 0, sizeof h);
    if (e->cfg->health_sample(e->cfg->health_ctx, &h) != 0)
        return;
    e->health_last = now;
    store_health sh = {
        .pid = (int64_t)h.pid,
        .rss_bytes = (int64_t)h.rss_bytes,
        .peak_rss_bytes = (int64_t)h.peak_rss_bytes,
        .handles = (int64_t)h.handles,
    };
    bg_error rc = store_health_record(e->st, &sh, now);
    (void)rc; /* Diagnostics only: a locked database just delays the next sample. */
}

/* Publishes the summary for fleet tools when at least min_gap_s seconds passed since the last time (0:
 * always). Like the health sample it piggybacks on commits and on the wait returning, so an idle engine
 * stays idle; the callee writes only what changed, so an unchanged summary costs three counts. */
static void engine_summary_maybe(engine *e, int64_t min_gap_s)
{
    if (!e->cfg->summary_publish || !e->st)
        return;
    int64_t now = (int64_t)time(NULL);
    if (min_gap_s > 0 && e->summary_last && now - e->summary_last < min_gap_s)
        return;
    store_summary ss;
    if (store_summary_get(e->st, &ss) != BG_ERR_OK)
        return; /* A locked database: the next commit or wake publishes. */
    e->summary_last = now;
    e->summary_dirty = 0;
    engine_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.detections = ss.detections;
    sum.unacknowledged = ss.unacknowledged;
    sum.errors = ss.errors;
    if (ss.last_id > 0)
        snprintf(sum.last_detection, sizeof sum.last_detection, "%s %s %s", ss.last_seen,
                 ss.last_ip[0] ? ss.last_ip : "-", ss.last_url);
    memcpy(sum.last_event_time, e->event_time_committed, sizeof sum.last_event_time);
    e->cfg->summary_publish(e->cfg->summary_ctx, &sum);
}

/* The interval of the summary when nothing was committed: the health sample's. */
static int64_t engine_summary_idle_s(const engine *e)
{
    return e->cfg->health_interval_s ? e->cfg->health_interval_s : ENGINE_HEALTH_SECONDS_DEFAULT;
}

/* The invalid configuration values of this start, as error rows that `bitsguard status` lists. */
static void engine_config_warnings_record(engine *e)
{
    for (size_t i = 0; i < e->cfg->config_warning_count; i++) {
        const char *w = e->cfg->config_warnings ? e->cfg->config_warnings[i] : NULL;
        if (!w)
            continue;
        bg_error rc = store_error_record(e->st, "config", BG_ERR_CONFIG, w);
        (void)rc; /* Best effort, as for every error row; the Event Log has event 103 too. */
    }
}

typedef struct engine_restore_ctx {
    engine *e;
    bg_error rc;
    uint64_t restored;
} engine_restore_ctx;

static int engine_restore_row(void *ctx, const detection *d)
{
    engine_restore_ctx *r = ctx;
    if (d->state != JOB_STATE_ACTIVE)
        return 0; /* A finished job gets no further events worth merging. */
    r->rc = correlate_detection_restore(r->e->cor, d);
    if (r->rc != BG_ERR_OK)
        return 1;
    r->restored++;
    return 0;
}

static int engine_restore_finding(void *ctx, const finding *f)
{
    engine_restore_ctx *r = ctx;
    r->rc = correlate_finding_restore(r->e->cor, f);
    return r->rc != BG_ERR_OK;
}

/* Re-creates the correlator's state of open jobs from the database. Best effort: without it, later
 * events of a job seen before the restart are only not merged into its row (nothing is lost). */
static void engine_restore(engine *e)
{
    engine_restore_ctx r = {e, BG_ERR_OK, 0};
    store_filter f;
    store_filter_init(&f);
    f.include_allowed = 1;
    f.active_only = 1; /* The limit counts open jobs only, however many finished ones are newer. */
    f.limit = ENGINE_RESTORE_MAX;
    bg_error rc = store_query_run(e->st, &f, engine_restore_row, &r);
    if (rc == BG_ERR_OK)
        rc = r.rc;
    if (rc != BG_ERR_OK)
        engine_alert_error(e, rc, "engine.restore", "restoring open jobs from the database failed");
    /* Notify commands of open jobs too, so that failures to run one (63/64, naming the job by its title)
     * and the job's outcome still update its row after a restart. */
    r.rc = BG_ERR_OK;
    rc = store_finding_query_run(e->st, &f, engine_restore_finding, &r);
    if (rc == BG_ERR_OK)
        rc = r.rc;
    if (rc != BG_ERR_OK)
        engine_alert_error(e, rc, "engine.restore", "restoring open jobs' findings from the database failed");
    correlate_stats cs;
    correlate_stats_get(e->cor, &cs);
    if (cs.over_cap > 0) {
        /* Rows stored past the cap (by an older version or another allowlist): they stay in the
         * database, but later events of those files can no longer enrich them. */
        char detail[200];
        snprintf(detail, sizeof detail,
                 "%" PRIu64 " open detection%s past the cap of %d per job (not allow-listed) not restored; "
                 "later events of those files add no context",
                 cs.over_cap, cs.over_cap == 1 ? "" : "s", CORRELATE_MAX_DETECTIONS_PER_JOB);
        engine_alert_error(e, BG_ERR_TOO_LARGE, "engine.restore", detail);
    }
    e->over_cap_seen = cs.over_cap;
}

/* The value of field a, else of field b, else "-" (the job id and URL are named differently in 16403
 * and in 59/60/61). */
static const char *event_field_either(const event *ev, const char *a, const char *b)
{
    const char *v = event_field_get(ev, a);
    if (v == NULL)
        v = event_field_get(ev, b);
    return v != NULL ? v : "-";
}

/* Parses one event and feeds it to the correlator; malformed events are counted, recorded, skipped. */
static bg_error engine_event_handle(engine *e, const char *xml, size_t len)
{
    char why[160] = "";
    if (e->stats)
        e->stats->events++;
    bg_error rc = len ? event_xml_parse(&e->ev, xml, len, why, sizeof why) : BG_ERR_XML_MALFORMED;
    if (rc == BG_ERR_NOMEM)
        return rc;
    if (rc != BG_ERR_OK) {
        if (e->stats)
            e->stats->malformed++;
        if (e->malformed++ == 0) {
            e->malformed_code = rc;
            snprintf(e->malformed_first, sizeof e->malformed_first, "%s",
                     why[0] ? why : (len ? bg_error_str(rc) : "the source could not render it"));
        }
        return BG_ERR_OK;
    }
    /* Every event read counts for its computer, Bits-Client or not: on ForwardedEvents any event shows
     * that the computer still forwards. */
    rc = store_tally_add(e->tally, e->ev.computer, e->ev.time_created);
    if (rc != BG_ERR_OK)
        return rc; /* Out of memory (a batch never holds 65,536 computers). */
    /* ISO 8601 UTC text of one fixed form: its order is the time's. */
    if (strcmp(e->ev.time_created, e->event_time_pending) > 0)
        memcpy(e->event_time_pending, e->ev.time_created, sizeof e->event_time_pending);
    rc = correlate_event_feed(e->cor, &e->ev);
    if (rc == BG_ERR_OK && e->batch.oom)
        rc = BG_ERR_NOMEM;
    correlate_stats cs;
    correlate_stats_get(e->cor, &cs);
    if (cs.over_cap != e->over_cap_seen) {
        if (e->over_cap == 0)
            snprintf(e->over_cap_first, sizeof e->over_cap_first, "job %.40s on %.60s, %.80s",
                     event_field_either(&e->ev, "jobId", "Id"), e->ev.computer ? e->ev.computer : "-",
                     event_field_either(&e->ev, "RemoteName", "url"));
        e->over_cap += cs.over_cap - e->over_cap_seen;
        e->over_cap_seen = cs.over_cap;
    }
    return rc;
}

#define ENGINE_GAP_REJECTED "the event log rejected the stored bookmark; reading again from the oldest record"
#define ENGINE_GAP_CLEARED                                                                               \
    "log cleared: the event log was cleared or recreated since the stored bookmark; reading again from " \
    "the oldest record"

/* Records a possible gap (database and alert) with its reason. */
static void engine_gap_record(engine *e, const char *reason)
{
    bg_error rec = store_gap_record(e->st, e->cfg->channel, reason);
    if (rec != BG_ERR_OK)
        engine_alert_error(e, rec, "engine.gap", "recording a possible gap failed");
    if (e->alerts && e->alerts->gap && !e->alerts->gap(e->alerts->ctx, e->cfg->channel, reason))
        engine_alert_lost(e, "possible-gap", NULL);
    if (e->stats)
        e->stats->gaps++;
}

/*
 * Subscribes after the stored bookmark. A bookmark the source rejects is recorded as a possible gap
 * (database and alert) and the read restarts from the oldest record: replayed events merge into their
 * existing rows and raise no second alert, which is better than silently skipping to future events.
 */
static bg_error engine_subscribe(engine *e)
{
    char *bm = NULL;
    bg_error rc = store_bookmark_get(e->st, e->cfg->channel, &bm);
    if (rc != BG_ERR_OK)
        goto cleanup;
    int from_oldest = bm ? 0 : (e->cfg->backfill != 0);
    if (e->log_cleared) {
        /* Cleared while subscribed: the gap is recorded; read the new log from its oldest record. */
        e->log_cleared = 0;
        free(e->rejected);
        e->rejected = bm;
        bm = NULL;
        from_oldest = 1;
    }
    if (bm && e->rejected && strcmp(bm, e->rejected) == 0) {
        /* Rejected earlier in this run and nothing committed since: the gap is already recorded. */
        free(bm);
        bm = NULL;
        from_oldest = 1;
    }
    /* What was fetched and not committed is read again from here: count it once. */
    store_tally_clear(e->tally);
    rc = e->src->ops->subscribe(e->src, e->cfg->channel, bm, from_oldest);
    if ((rc == BG_ERR_SOURCE_BOOKMARK || rc == BG_ERR_SOURCE_LOG_CLEARED) && bm) {
        engine_gap_record(e, rc == BG_ERR_SOURCE_LOG_CLEARED ? ENGINE_GAP_CLEARED : ENGINE_GAP_REJECTED);
        free(e->rejected);
        e->rejected = bm;
        bm = NULL;
        rc = e->src->ops->subscribe(e->src, e->cfg->channel, NULL, 1);
    }
    if (rc == BG_ERR_OK)
        e->subscribed = 1;

cleanup:
    free(bm);
    return rc;
}

/* Waits and drains batches until the source fails or stops; each batch is committed before the next. */
static bg_error engine_drain(engine *e)
{
    const char *xml[ENGINE_BATCH_MAX];
    size_t len[ENGINE_BATCH_MAX];
    for (;;) {
        bg_error rc = e->src->ops->wait(e->src);
        if (rc != BG_ERR_OK)
            return rc;
        engine_health_maybe(e, 0);
        engine_summary_maybe(e, engine_summary_idle_s(e)); /* Acknowledgements made meanwhile, too. */
        for (;;) {
            size_t count = 0;
            rc = e->src->ops->next(e->src, ENGINE_BATCH_MAX, xml, len, &count);
            if (rc != BG_ERR_OK)
                return rc;
            if (count == 0) {
                /* Drained: the last batch of a burst is published now, not at the next wake (up to a
                 * minute away), whatever the once-a-second limit held back. */
                if (e->summary_dirty)
                    engine_summary_maybe(e, 0);
                break;
            }
            if (count > ENGINE_BATCH_MAX)
                return BG_ERR_SOURCE; /* A broken source; never read past the arrays. */
            e->in_hand = 1;
            for (size_t i = 0; i < count; i++) {
                rc = engine_event_handle(e, xml[i], len[i]);
                if (rc != BG_ERR_OK)
                    return rc;
            }
            char *bm = NULL;
            rc = e->src->ops->bookmark_render(e->src, &bm);
            if (rc != BG_ERR_OK)
                return rc; /* The batch stays in hand; the events are re-read after resubscribe. */
            if (bm) {
                free(e->bookmark);
                e->bookmark = bm;
            }
            rc = engine_commit_retry(e);
            if (rc != BG_ERR_OK)
                return rc;
            e->source_backoff = 0;
            e->batches_since_retention++;
            engine_retention_maybe(e, 0);
            engine_health_maybe(e, 0);
            engine_summary_maybe(e, 1);
        }
    }
}

/* The channel-disabled finding of the current streak (started at e->disabled_since, seen until now). */
static bg_error engine_disabled_finding(engine *e, finding *f, const char *now)
{
    finding_init(f);
    f->kind = FINDING_CHANNEL_DISABLED;
    f->record_id = e->disabled_streak;
    f->last_record_id = e->disabled_streak;
    snprintf(f->time, sizeof f->time, "%s", e->disabled_since);
    snprintf(f->first_seen, sizeof f->first_seen, "%s", e->disabled_since);
    snprintf(f->last_seen, sizeof f->last_seen, "%s", now);
    size_t n = strlen(e->cfg->channel) + 1;
    /* The engine reads the local computer's channel: it names the computer as its events do. */
    f->computer = bg_os_computer_name();
    if (!f->computer)
        f->computer = calloc(1, 1);
    f->channel = malloc(n);
    if (!f->computer || !f->channel) {
        finding_clear(f);
        return BG_ERR_NOMEM;
    }
    memcpy(f->channel, e->cfg->channel, n);
    return BG_ERR_OK;
}

/* Writes the streak's finding (a row of its own, updated with the time it was last seen disabled);
 * *is_new receives whether the row is new. A store failure is recorded and reported as new, so the
 * tamper alert is never held back by a locked or full database. */
static void engine_disabled_store(engine *e, finding *f, int *is_new)
{
    const finding *one[1] = {f};
    store_batch b = {.findings = one, .finding_count = 1, .finding_is_new = is_new};
    bg_error rc = store_batch_write(e->st, &b);
    if (rc != BG_ERR_OK) {
        *is_new = 1;
        engine_alert_error(e, rc, "engine.tamper", "recording the disabled channel failed");
    }
}

/*
 * The source found the channel disabled (at subscribe, or at the periodic check while subscribed: Windows
 * keeps a subscription to a disabled channel alive and silent). Disabling the Bits-Client channel blinds
 * every reader of it, an attacker's move: the first time in a streak, a channel-disabled finding is
 * stored and alerted (Event Log 1005); retries of the same streak raise nothing more.
 */
static void engine_channel_disabled(engine *e)
{
    if (e->disabled_since[0])
        return;
    char now[BG_TIME_TEXT_SIZE];
    store_time_format((int64_t)time(NULL), now, sizeof now);
    memcpy(e->disabled_since, now, sizeof now);
    /* Numbered after the streaks already stored (of any run): restarts within a second stay apart. */
    store_status ss;
    e->disabled_streak++;
    if (store_status_get(e->st, (int64_t)time(NULL), &ss) == BG_ERR_OK &&
        (uint64_t)ss.findings_by_kind[FINDING_CHANNEL_DISABLED] >= e->disabled_streak)
        e->disabled_streak = (uint64_t)ss.findings_by_kind[FINDING_CHANNEL_DISABLED] + 1;
    finding f;
    if (engine_disabled_finding(e, &f, now) != BG_ERR_OK) {
        engine_alert_error(e, BG_ERR_NOMEM, "engine.tamper", "the disabled channel could not be recorded");
        return;
    }
    int is_new = 0;
    engine_disabled_store(e, &f, &is_new);
    if (is_new && e->alerts && e->alerts->finding && !e->alerts->finding(e->alerts->ctx, &f))
        engine_finding_alert_lost(e, &f);
    finding_clear(&f);
}

/* Subscribed again after a disabled streak: nothing was logged to the channel meanwhile, so the events of
 * that time are lost. The gap is recorded (database and alert) and the streak's finding gets its end. */
static void engine_channel_enabled(engine *e)
{
    if (!e->disabled_since[0])
        return;
    char now[BG_TIME_TEXT_SIZE];
    store_time_format((int64_t)time(NULL), now, sizeof now);
    char reason[200];
    snprintf(reason, sizeof reason,
             "channel disabled: from %s until %s nothing was logged to it; resumed after the stored bookmark",
             e->disabled_since, now);
    engine_gap_record(e, reason);
    finding f;
    if (engine_disabled_finding(e, &f, now) == BG_ERR_OK) {
        int is_new = 0;
        engine_disabled_store(e, &f, &is_new);
        finding_clear(&f);
    }
    e->disabled_since[0] = '\0';
}

/* Errors after which the engine cannot usefully go on: the service ends and its recovery restarts it. */
static int engine_error_fatal(bg_error rc)
{
    switch (rc) {
    case BG_ERR_SOURCE_RETRY:
    case BG_ERR_SOURCE_BOOKMARK:
    case BG_ERR_SOURCE_LOG_CLEARED:
    case BG_ERR_SOURCE_CHANNEL:
    case BG_ERR_SOURCE_DISABLED:
    case BG_ERR_SOURCE:
    case BG_ERR_PLATFORM:
    case BG_ERR_DB_BUSY:
    case BG_ERR_DB_FULL:
    case BG_ERR_IO:
        return 0;
    default:
        return 1;
    }
}

static void engine_unsubscribe(engine *e)
{
    if (e->subscribed) {
        e->src->ops->unsubscribe(e->src);
        e->subscribed = 0;
    }
}

static bg_error engine_loop(engine *e)
{
    int resubscribing = 0;
    for (;;) {
        bg_error rc = engine_subscribe(e);
        if (rc == BG_ERR_OK) {
            e->reported = BG_ERR_OK;
            e->reported_why[0] = '\0';
            if (resubscribing && e->stats)
                e->stats->resubscribes++;
            engine_alert_state(e, "subscribed");
            engine_channel_enabled(e);
            rc = engine_drain(e);
        }
        if (rc == BG_ERR_STOPPED)
            return rc;
        engine_unsubscribe(e);
        if (rc == BG_ERR_SOURCE_LOG_CLEARED) {
            /* Cleared while we read it: what it held and we had not read yet is gone. Record that, then
             * read the new log from its oldest record (at once: this is not a failure to back off from). */
            engine_gap_record(e, ENGINE_GAP_CLEARED);
            e->log_cleared = 1;
            resubscribing = 1;
            continue;
        }
        if (engine_error_fatal(rc)) {
            engine_alert_error(e, rc, "engine", "the event reader cannot continue");
            return rc;
        }
        if (rc == BG_ERR_SOURCE_DISABLED) {
            /* Tampering, not a failure: its own alert once per streak (not event 300), then the same
             * backoff as any source failure until the channel is enabled again. */
            engine_channel_disabled(e);
            resubscribing = 1;
            rc = engine_backoff_sleep(e, &e->source_backoff);
            if (rc != BG_ERR_OK)
                return rc;
            continue;
        }
        char why[sizeof e->reported_why] = "";
        if (e->src->ops->describe)
            e->src->ops->describe(e->src, why, sizeof why);
        if (rc != e->reported || strcmp(why, e->reported_why) != 0) {
            /* Once per kind of failure in a streak, so a disabled channel retried every minute does not
             * flood the Event Log, while a streak that changes cause (the Event Log restarts, then the
             * channel turns out disabled) reports each cause. */
            char detail[200 + sizeof why];
            snprintf(detail, sizeof detail, "reading %s failed (%s%s%s); resubscribing after the stored bookmark",
                     e->cfg->channel, bg_error_name(rc), why[0] ? ": " : "", why);
            engine_alert_error(e, rc, "engine.source", detail);
            e->reported = rc;
            memcpy(e->reported_why, why, sizeof why);
        }
        resubscribing = 1;
        rc = engine_backoff_sleep(e, &e->source_backoff);
        if (rc != BG_ERR_OK)
            return rc;
    }
}

bg_error engine_run(const engine_config *cfg, event_source *src, const engine_alert_sink *alerts, engine_stats *stats)
{
    if (!cfg || !cfg->db_path || !cfg->channel || !src || !src->ops)
        return BG_ERR_INVALID_ARG;
    engine e;
    memset(&e, 0, sizeof e);
    e.cfg = cfg;
    e.src = src;
    e.alerts = alerts;
    e.stats = stats;
    e.backoff_min = cfg->backoff_min_ms ? cfg->backoff_min_ms : ENGINE_BACKOFF_MIN_DEFAULT_MS;
    e.backoff_max = cfg->backoff_max_ms ? cfg->backoff_max_ms : ENGINE_BACKOFF_MAX_DEFAULT_MS;
    if (e.backoff_max < e.backoff_min)
        e.backoff_max = e.backoff_min;
    e.rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)&e ^ 0x9e3779b97f4a7c15u;
    if (!e.rng)
        e.rng = 1;
    event_init(&e.ev);
    int started = 0;
    bg_error rc;

    store_options opt = {
        .retention_days = cfg->retention_days,
        .retention_rows = cfg->retention_rows,
        .busy_retry_ms = cfg->store_busy_ms > 0 ? cfg->store_busy_ms : ENGINE_STORE_BUSY_DEFAULT_MS,
    };
    char errbuf[256] = "";
    uint32_t open_backoff = 0;
    int busy_reported = 0;
    for (;;) {
        rc = store_open(&e.st, cfg->db_path, &opt, errbuf, sizeof errbuf);
        if (rc != BG_ERR_DB_BUSY)
            break;
        /* Another connection holds the file: one of the other channels' readers creating or migrating
         * it at the same start, or an administrator's sqlite3 shell. Wait for it with backoff (a stop
         * still ends the wait) instead of ending the service. Reported once. */
        if (!busy_reported && alerts && alerts->error)
            alerts->error(alerts->ctx, rc, errbuf[0] ? errbuf : cfg->db_path);
        busy_reported = 1;
        rc = engine_backoff_sleep(&e, &open_backoff);
        if (rc != BG_ERR_OK) {
            if (rc == BG_ERR_STOPPED)
                rc = BG_ERR_OK;
            goto cleanup;
        }
    }
    if (rc != BG_ERR_OK) {
        if (alerts && alerts->error)
            alerts->error(alerts->ctx, rc, errbuf[0] ? errbuf : cfg->db_path);
        goto cleanup;
    }
    correlate_config ccfg = {
        .allow = cfg->allow, .report_private = cfg->report_private, .finding = engine_finding_emit, .finding_ctx = &e};
    e.cor = correlate_new(&ccfg, engine_emit, &e);
    e.tally = store_tally_new();
    if (!e.cor || !e.tally) {
        rc = BG_ERR_NOMEM;
        goto cleanup;
    }
    started = 1;
    engine_alert_state(&e, "started");
    engine_config_warnings_record(&e);
    engine_health_maybe(&e, 1);
    engine_outbox_replay(&e); /* Before retention, which may prune the rows they name. */
    engine_retention_maybe(&e, 1);
    engine_restore(&e);
    engine_summary_maybe(&e, 0);

    rc = engine_loop(&e);
    if (rc == BG_ERR_STOPPED) {
        /* Stop with fetched events: one last commit attempt. If it fails the bookmark has not moved,
         * so the events are read again after restart: still exactly once. */
        if (e.in_hand && !e.batch.oom) {
            bg_error crc = engine_commit(&e);
            if (crc != BG_ERR_OK)
                engine_alert_error(&e, crc, "engine.stop", "the batch in hand could not be committed at stop");
        }
        rc = BG_ERR_OK;
    }
    if (started) {
        engine_health_maybe(&e, 1); /* The last word: what the process held when it stopped. */
        engine_summary_maybe(&e, 0);
    }

cleanup:
    engine_unsubscribe(&e);
    if (started)
        engine_alert_state(&e, "stopped");
    if (e.cor)
        correlate_free(e.cor);
    store_tally_free(e.tally);
    engine_batch_free(&e.batch);
    engine_findings_clear(&e.findings);
    free(e.findings.items);
    event_free(&e.ev);
    free(e.bookmark);
    free(e.rejected);
    if (e.st)
        store_close(e.st);
    return rc;
}
