/* Job correlation: builds detections from Bits-Client events and enriches them with the job's other events. */
#include "correlate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bg_text.h"

#define CORRELATE_DEFAULT_MAX_JOBS  4096
#define CORRELATE_DEFAULT_MAX_AGE_S (7u * 24u * 3600u)

/*
 * Where an event stands in its log: its EventRecordID, else (exports without one) its time. A fact that
 * several events of a job carry (title, owner, process, notify command, transfer status) keeps the value
 * of the newest of them, and a detection names the oldest event of its url: the same whichever way the
 * log is read (Get-WinEvent and wevtutil /rd:true give newest first).
 */
typedef struct event_order {
    uint64_t record_id;
    char time[BG_TIME_TEXT_SIZE];
} event_order;

/* A job's detection and the order of the 60/61 event its transfer status came from. The detection is the
 * first member, so the pointer to it handed to callers is the pointer to the whole. */
typedef struct tracked {
    detection d;
    event_order transfer;
} tracked;

/*
 * What we remember of one BITS job. Jobs are found by (computer, job id) in a chained hash table and
 * kept in a least-recently-used list so the oldest can be evicted to bound memory on endless streams.
 */
typedef struct job {
    struct job *hash_next;
    struct job *lru_prev, *lru_next; /* lru_prev is more recent. */
    uint64_t hash;
    char *computer;
    char job_id[BG_GUID_TEXT_SIZE];
    char *title;
    char *owner;
    char *process_path;
    int64_t process_id;
    char *notify_program;
    char *notify_parameters;
    event_order names_order;   /* Of the event that gave title and owner. */
    event_order process_order; /* ... process path and id. */
    event_order notify_order;  /* ... the notify command line. */
    uint32_t events_seen;
    detection_state state;
    char first_seen[BG_TIME_TEXT_SIZE];
    char last_seen[BG_TIME_TEXT_SIZE];
    int64_t first_unix; /* first_seen and last_seen in seconds, for age eviction. */
    int64_t last_unix;
    uint64_t last_record_id; /* Greatest record id of the job's events, whichever came first. */
    /* Failures to run the notify command (events 63/64): how many, and the newest one's error. */
    uint32_t notify_failures;
    int64_t notify_error;
    event_order notify_error_order;
    /* The newest time and greatest record id of those failures: the notify finding's last seen, whatever
     * the order the events came in (a failure read first waits in the pending list). */
    event_order failures_last;
    /* A notify command restored from the database: the newest event its stored row had seen. A failure
     * no newer than that (by record id and time) is one the row already counts, read again after the
     * restart (a rejected bookmark reads from the oldest record): not counted twice. */
    event_order restored;
    finding *notify; /* The notify-command finding, once event 6 is in (and findings are wanted). */
    size_t cred_count;
    finding *creds[CORRELATE_MAX_CREDENTIALS_PER_JOB];
    size_t det_count;
    size_t allowed_count; /* Of det_count, allow-listed. */
    detection *dets[CORRELATE_MAX_DETECTIONS_PER_JOB + CORRELATE_MAX_ALLOWED_PER_JOB];
} job;

/* Notify failures (63/64) that named a job by a title no job in the table had. */
typedef struct pending_failure {
    char *computer;
    char *title;
    char *program;
    uint32_t count;
    int64_t error;
    event_order order;
} pending_failure;

struct correlator {
    correlate_config cfg;
    correlate_emit_fn emit;
    void *ctx;
    job **buckets;
    size_t bucket_count; /* A power of two. */
    size_t job_count;
    job *lru_head; /* Most recently touched. */
    job *lru_tail;
    correlate_stats stats;
    pending_failure pending[CORRELATE_MAX_PENDING_FAILURES];
    size_t pending_count;
};

/* ---- small helpers ------------------------------------------------------------------------------ */

static uint64_t hash_bytes(uint64_t h, const char *s)
{
    /* FNV-1a: short keys, no adversarial pressure worth a keyed hash (the table is bounded anyway). */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return h;
}

static uint64_t job_key_hash(const char *computer, const char *job_id)
{
    uint64_t h = hash_bytes(14695981039346656037u, computer);
    h = hash_bytes(h ^ 0x1f, job_id);
    return h;
}

/* Replaces *dst by a copy of src when src is a non-empty string. Returns -1 on allocation failure. */
static int string_set(char **dst, const char *src)
{
    if (!src || !*src)
        return 0;
    if (*dst && strcmp(*dst, src) == 0)
        return 0;
    size_t n = strlen(src) + 1;
    char *copy = malloc(n);
    if (!copy)
        return -1;
    memcpy(copy, src, n);
    free(*dst);
    *dst = copy;
    return 0;
}

/* Parses a decimal unsigned value; -1 when absent or not a number, or when it is the "unknown" UINT64_MAX. */
static int64_t number_parse(const char *text)
{
    if (!text || !*text)
        return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    return v > (uint64_t)INT64_MAX ? -1 : (int64_t)v;
}

/* Seconds since the epoch of a normalized "YYYY-MM-DDThh:mm:ss..." time; 0 when empty. */
static int64_t time_unix(const char *t)
{
    if (strlen(t) < 19)
        return 0;
    int v[6];
    const int offs[6] = {0, 5, 8, 11, 14, 17};
    const int lens[6] = {4, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int k = 0; k < lens[i]; k++) {
            char c = t[offs[i] + k];
            if (c < '0' || c > '9')
                return 0;
            v[i] = v[i] * 10 + (c - '0');
        }
    }
    return bg_days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
}

/* Compares two events' places in the log: by record id when both have one, else by time. */
static int event_order_cmp(uint64_t rec_a, const char *time_a, uint64_t rec_b, const char *time_b)
{
    if (rec_a && rec_b)
        return rec_a < rec_b ? -1 : rec_a > rec_b;
    return strcmp(time_a, time_b);
}

/* Whether ev is at least as new as the event recorded in o (always, when o records none). */
static int event_order_newer(const event_order *o, const event *ev)
{
    if (!o->record_id && !o->time[0])
        return 1;
    return event_order_cmp(ev->record_id, ev->time_created, o->record_id, o->time) >= 0;
}

static void event_order_set(event_order *o, const event *ev)
{
    o->record_id = ev->record_id;
    memcpy(o->time, ev->time_created, sizeof o->time);
}

/* ---- the job table ------------------------------------------------------------------------------ */

static void lru_unlink(correlator *c, job *j)
{
    if (j->lru_prev)
        j->lru_prev->lru_next = j->lru_next;
    else
        c->lru_head = j->lru_next;
    if (j->lru_next)
        j->lru_next->lru_prev = j->lru_prev;
    else
        c->lru_tail = j->lru_prev;
    j->lru_prev = j->lru_next = NULL;
}

static void lru_push_front(correlator *c, job *j)
{
    j->lru_prev = NULL;
    j->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = j;
    c->lru_head = j;
    if (!c->lru_tail)
        c->lru_tail = j;
}

static job *job_find(correlator *c, const char *computer, const char *job_id, uint64_t h)
{
    for (job *j = c->buckets[h & (c->bucket_count - 1)]; j; j = j->hash_next) {
        if (j->hash == h && strcmp(j->job_id, job_id) == 0 && strcmp(j->computer, computer) == 0)
            return j;
    }
    return NULL;
}

static void job_destroy(job *j)
{
    for (size_t i = 0; i < j->det_count; i++) {
        detection_clear(j->dets[i]);
        free(j->dets[i]);
    }
    free(j->computer);
    free(j->title);
    free(j->owner);
    free(j->process_path);
    free(j->notify_program);
    free(j->notify_parameters);
    if (j->notify) {
        finding_clear(j->notify);
        free(j->notify);
    }
    for (size_t i = 0; i < j->cred_count; i++) {
        finding_clear(j->creds[i]);
        free(j->creds[i]);
    }
    free(j);
}

/* Emits FINAL for the job's detections and frees it. */
static void job_retire(correlator *c, job *j)
{
    job **pp = &c->buckets[j->hash & (c->bucket_count - 1)];
    while (*pp != j)
        pp = &(*pp)->hash_next;
    *pp = j->hash_next;
    lru_unlink(c, j);
    c->job_count--;
    for (size_t i = 0; i < j->det_count; i++)
        c->emit(c->ctx, j->dets[i], CORRELATE_FINAL);
    if (j->notify)
        c->cfg.finding(c->cfg.finding_ctx, j->notify, CORRELATE_FINAL);
    for (size_t i = 0; i < j->cred_count; i++)
        c->cfg.finding(c->cfg.finding_ctx, j->creds[i], CORRELATE_FINAL);
    job_destroy(j);
}

/* Drops jobs beyond the count bound and jobs idle longer than the age bound (by event time). */
static void jobs_evict(correlator *c, int64_t now_unix)
{
    while (c->lru_tail && c->job_count > c->cfg.max_jobs) {
        c->stats.evicted_jobs++;
        job_retire(c, c->lru_tail);
    }
    /* Idle by event time in either direction: a log read newest first moves back in time. */
    while (c->lru_tail && now_unix > 0 && c->lru_tail->last_unix > 0 &&
           (now_unix - c->lru_tail->last_unix > (int64_t)c->cfg.max_age_s ||
            c->lru_tail->first_unix - now_unix > (int64_t)c->cfg.max_age_s)) {
        c->stats.evicted_jobs++;
        job_retire(c, c->lru_tail);
    }
}

/* Finds or creates the job; NULL on allocation failure. Touching moves it to the LRU front. */
static job *job_touch(correlator *c, const char *computer, const char *job_id)
{
    uint64_t h = job_key_hash(computer, job_id);
    job *j = job_find(c, computer, job_id, h);
    if (j) {
        lru_unlink(c, j);
        lru_push_front(c, j);
        return j;
    }
    j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    if (string_set(&j->computer, computer) != 0 || (!j->computer && !(j->computer = calloc(1, 1)))) {
        free(j);
        return NULL;
    }
    memcpy(j->job_id, job_id, strlen(job_id) + 1);
    j->hash = h;
    j->process_id = -1;
    j->notify_error = INT64_MIN;
    size_t b = h & (c->bucket_count - 1);
    j->hash_next = c->buckets[b];
    c->buckets[b] = j;
    lru_push_front(c, j);
    c->job_count++;
    return j;
}

/* ---- detections --------------------------------------------------------------------------------- */

/* Copies the job's context into one of its detections. Returns -1 on allocation failure. */
static int detection_context_apply(detection *d, const job *j)
{
    if (string_set(&d->job_title, j->title) != 0 || string_set(&d->job_owner, j->owner) != 0 ||
        string_set(&d->process_path, j->process_path) != 0 || string_set(&d->notify_program, j->notify_program) != 0 ||
        string_set(&d->notify_parameters, j->notify_parameters) != 0)
        return -1;
    if (j->process_id >= 0)
        d->process_id = j->process_id;
    d->events_seen |= j->events_seen;
    if (j->state > d->state)
        d->state = j->state;
    if (j->first_seen[0] && (!d->first_seen[0] || strcmp(j->first_seen, d->first_seen) < 0))
        memcpy(d->first_seen, j->first_seen, sizeof d->first_seen);
    if (j->last_seen[0] && strcmp(j->last_seen, d->last_seen) > 0)
        memcpy(d->last_seen, j->last_seen, sizeof d->last_seen);
    return 0;
}

static detection *job_detection_find(job *j, const char *url)
{
    for (size_t i = 0; i < j->det_count; i++) {
        if (strcmp(j->dets[i]->url, url) == 0)
            return j->dets[i];
    }
    return NULL;
}

/* Whether a classified name makes a detection at all (allow-listed ones are detections marked allowed). */
static int verdict_reportable(const correlator *c, const classify_result *cls)
{
    return cls->verdict == VERDICT_PUBLIC_IP || (c->cfg.report_private && cls->verdict == VERDICT_PRIVATE_IP);
}

/* Whether the job has room for one more detection in the budget of its kind; counts it when not. */
static int job_detection_room(correlator *c, const job *j, int allowed)
{
    if (allowed ? j->allowed_count < CORRELATE_MAX_ALLOWED_PER_JOB
                : j->det_count - j->allowed_count < CORRELATE_MAX_DETECTIONS_PER_JOB)
        return 1;
    if (allowed)
        c->stats.over_cap_allowed++;
    else
        c->stats.over_cap++;
    return 0;
}

/* Creates the detection for (job, url) from a 16403 or 59/60/61 event; *created tells whether it is new. */
static bg_error detection_create(correlator *c, job *j, const event *ev, const char *url, const classify_result *cls,
                                 detection **out)
{
    *out = job_detection_find(j, url);
    if (*out)
        return BG_ERR_OK;
    int allowed = allowlist_result_match(c->cfg.allow, cls);
    if (!job_detection_room(c, j, allowed))
        return BG_ERR_OK;
    tracked *t = calloc(1, sizeof *t);
    if (!t)
        return BG_ERR_NOMEM;
    detection *d = &t->d;
    detection_init(d);
    d->event_id = ev->event_id;
    d->record_id = ev->record_id;
    memcpy(d->time, ev->time_created, sizeof d->time);
    memcpy(d->job_id, j->job_id, sizeof d->job_id);
    d->cls = *cls;
    d->allowed = allowed;
    d->recovered = ev->recovered;
    if (string_set(&d->computer, j->computer) != 0 || string_set(&d->url, url) != 0) {
        detection_clear(d);
        free(d);
        return BG_ERR_NOMEM;
    }
    if (!d->computer && !(d->computer = calloc(1, 1))) {
        free(d->url);
        free(d);
        return BG_ERR_NOMEM;
    }
    j->dets[j->det_count++] = d;
    c->stats.detections++;
    if (d->allowed) {
        c->stats.allowed++;
        j->allowed_count++;
    }
    *out = d;
    return BG_ERR_OK;
}

/* ---- findings ----------------------------------------------------------------------------------- */

/* A new finding of the event, or NULL when out of memory. */
static finding *finding_new(finding_kind kind, const event *ev)
{
    finding *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    finding_init(f);
    f->kind = kind;
    f->event_id = ev->event_id;
    f->record_id = ev->record_id;
    memcpy(f->time, ev->time_created, sizeof f->time);
    memcpy(f->first_seen, ev->time_created, sizeof f->first_seen);
    memcpy(f->last_seen, ev->time_created, sizeof f->last_seen);
    f->last_record_id = ev->record_id;
    f->recovered = ev->recovered;
    if (string_set(&f->computer, ev->computer) != 0 || (!f->computer && !(f->computer = calloc(1, 1)))) {
        finding_clear(f);
        free(f);
        return NULL;
    }
    return f;
}

static void finding_free(finding *f)
{
    if (f) {
        finding_clear(f);
        free(f);
    }
}

/* The finding names the oldest event that raised it, as a detection does; seen once in a record still in
 * a log, it is no longer known only from recovered ones. */
static void finding_event_older(finding *f, const event *ev)
{
    if (!ev->recovered)
        f->recovered = 0;
    if (event_order_cmp(ev->record_id, ev->time_created, f->record_id, f->time) < 0) {
        f->event_id = ev->event_id;
        f->record_id = ev->record_id;
        memcpy(f->time, ev->time_created, sizeof f->time);
    }
}

/* Copies the job's context into one of its findings. Returns -1 on allocation failure. */
static int finding_context_apply(finding *f, const job *j)
{
    if (string_set(&f->job_title, j->title) != 0 || string_set(&f->job_owner, j->owner) != 0 ||
        string_set(&f->process_path, j->process_path) != 0)
        return -1;
    if (j->process_id >= 0)
        f->process_id = j->process_id;
    if (j->job_id[0])
        memcpy(f->job_id, j->job_id, sizeof f->job_id);
    if (f->kind == FINDING_NOTIFY_COMMAND) {
        if (string_set(&f->program, j->notify_program) != 0 || string_set(&f->parameters, j->notify_parameters) != 0)
            return -1;
        /* A finding restored from the database (correlate_finding_restore) keeps its stored count. */
        if (j->notify_failures > f->notify_failures)
            f->notify_failures = j->notify_failures;
        if (j->notify_error != INT64_MIN)
            f->notify_error = j->notify_error;
        f->state = j->state;
        if (strcmp(j->failures_last.time, f->last_seen) > 0)
            memcpy(f->last_seen, j->failures_last.time, sizeof f->last_seen);
        if (j->failures_last.record_id > f->last_record_id)
            f->last_record_id = j->failures_last.record_id;
    }
    if (j->first_seen[0] && (!f->first_seen[0] || strcmp(j->first_seen, f->first_seen) < 0))
        memcpy(f->first_seen, j->first_seen, sizeof f->first_seen);
    if (j->last_seen[0] && strcmp(j->last_seen, f->last_seen) > 0)
        memcpy(f->last_seen, j->last_seen, sizeof f->last_seen);
    if (j->last_record_id > f->last_record_id)
        f->last_record_id = j->last_record_id;
    return 0;
}

/* An event that touched a finding without going through its job's facts (63/64, 203/204): its time and
 * record still bound what the finding has seen. */
static void finding_seen_apply(finding *f, const event *ev)
{
    if (ev->time_created[0] && (!f->first_seen[0] || strcmp(ev->time_created, f->first_seen) < 0))
        memcpy(f->first_seen, ev->time_created, sizeof f->first_seen);
    if (strcmp(ev->time_created, f->last_seen) > 0)
        memcpy(f->last_seen, ev->time_created, sizeof f->last_seen);
    if (ev->record_id > f->last_record_id)
        f->last_record_id = ev->record_id;
}

/* Gives the job's findings its context and reports them (fresh: the one this event created). */
static bg_error job_findings_emit(correlator *c, job *j, const finding *fresh)
{
    if (!c->cfg.finding)
        return BG_ERR_OK;
    finding *all[1 + CORRELATE_MAX_CREDENTIALS_PER_JOB];
    size_t n = 0;
    if (j->notify)
        all[n++] = j->notify;
    for (size_t i = 0; i < j->cred_count; i++)
        all[n++] = j->creds[i];
    for (size_t i = 0; i < n; i++) {
        if (finding_context_apply(all[i], j) != 0)
            return BG_ERR_NOMEM;
        c->cfg.finding(c->cfg.finding_ctx, all[i], all[i] == fresh ? CORRELATE_NEW : CORRELATE_UPDATE);
    }
    return BG_ERR_OK;
}

/* Reports a finding that belongs to no job in the table: new and final at once, then freed. */
static void finding_emit_alone(correlator *c, finding *f)
{
    c->stats.findings++;
    c->cfg.finding(c->cfg.finding_ctx, f, CORRELATE_NEW);
    c->cfg.finding(c->cfg.finding_ctx, f, CORRELATE_FINAL);
    finding_free(f);
}

/* The most recently touched job of the computer with this title, or NULL. */
static job *job_by_title(correlator *c, const char *computer, const char *title)
{
    for (job *j = c->lru_head; j; j = j->lru_next) {
        if (j->title && strcmp(j->title, title) == 0 && strcmp(j->computer, computer) == 0)
            return j;
    }
    return NULL;
}

/*
 * The job an event names in a field that holds its GUID or its title (63/64 "Job", 203/204 "job"): by
 * GUID it is found or created; by title only a job already in the table is found. *out is NULL when
 * none; BG_ERR_NOMEM is the only failure.
 */
static bg_error job_named(correlator *c, const char *computer, const char *text, job **out)
{
    char id[BG_GUID_TEXT_SIZE];
    *out = NULL;
    if (!text || !*text)
        return BG_ERR_OK;
    if (event_guid_normalize(text, id) == 0) {
        *out = job_touch(c, computer, id);
        return *out ? BG_ERR_OK : BG_ERR_NOMEM;
    }
    job *j = job_by_title(c, computer, text);
    if (j) {
        lru_unlink(c, j);
        lru_push_front(c, j);
    }
    *out = j;
    return BG_ERR_OK;
}

/* Parses an error code: decimal, or hexadecimal after 0x; INT64_MIN when neither. */
static int64_t hr_parse(const char *text)
{
    if (text && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') && text[2]) {
        uint64_t v = 0;
        for (const char *p = text + 2; *p; p++) {
            int d = (*p >= '0' && *p <= '9')   ? *p - '0'
                    : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                    : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                               : -1;
            if (d < 0 || v >> 60)
                return INT64_MIN;
            v = v * 16 + (unsigned)d;
        }
        return v > (uint64_t)INT64_MAX ? INT64_MIN : (int64_t)v;
    }
    int64_t v = number_parse(text);
    return v >= 0 ? v : INT64_MIN;
}

/* Adds failures to run the job's notify command; the newest one's error code is kept. */
static void job_failures_add(job *j, uint32_t count, int64_t error, const event_order *order)
{
    if (j->restored.record_id && order->record_id <= j->restored.record_id &&
        strcmp(order->time, j->restored.time) <= 0)
        return;
    j->notify_failures += count;
    if (strcmp(order->time, j->failures_last.time) > 0)
        memcpy(j->failures_last.time, order->time, sizeof j->failures_last.time);
    if (order->record_id > j->failures_last.record_id)
        j->failures_last.record_id = order->record_id;
    const event_order *o = &j->notify_error_order;
    if (error != INT64_MIN && ((!o->record_id && !o->time[0]) ||
                               event_order_cmp(order->record_id, order->time, o->record_id, o->time) >= 0)) {
        j->notify_error = error;
        j->notify_error_order = *order;
    }
}

static void pending_remove(correlator *c, size_t i)
{
    pending_failure *p = &c->pending[i];
    free(p->computer);
    free(p->title);
    free(p->program);
    memmove(p, p + 1, (c->pending_count - i - 1) * sizeof *p);
    c->pending_count--;
}

/* Failures that waited for a job with this title (and notify program, when both are known) join it. */
static void pending_match(correlator *c, job *j)
{
    for (size_t i = 0; i < c->pending_count;) {
        pending_failure *p = &c->pending[i];
        if (j->title && strcmp(p->title, j->title) == 0 && strcmp(p->computer, j->computer) == 0 &&
            (!p->program || !j->notify_program || strcmp(p->program, j->notify_program) == 0)) {
            job_failures_add(j, p->count, p->error, &p->order);
            pending_remove(c, i);
        } else {
            i++;
        }
    }
}

/* Keeps a failure naming a title no job has yet; the oldest kept one goes when the list is full. */
static bg_error pending_add(correlator *c, const char *computer, const char *title, const char *program, int64_t error,
                            const event *ev)
{
    if (c->pending_count == CORRELATE_MAX_PENDING_FAILURES)
        pending_remove(c, 0);
    pending_failure *p = &c->pending[c->pending_count];
    memset(p, 0, sizeof *p);
    if (string_set(&p->computer, computer) != 0 || string_set(&p->title, title) != 0 ||
        string_set(&p->program, program) != 0 || (!p->computer && !(p->computer = calloc(1, 1)))) {
        free(p->computer);
        free(p->title);
        free(p->program);
        return BG_ERR_NOMEM;
    }
    p->count = 1;
    p->error = error;
    event_order_set(&p->order, ev);
    c->pending_count++;
    return BG_ERR_OK;
}

/* Events 63/64: the notify program failed (returned an error, or could not be launched). Fields per the
 * provider manifest: Job (%1), Url (%2), Pgm (%3), hr (%4). */
static bg_error notify_failure_feed(correlator *c, const event *ev)
{
    const char *computer = ev->computer ? ev->computer : "";
    const char *name = event_field_get(ev, "Job");
    int64_t error = hr_parse(event_field_get(ev, "hr"));
    job *j = NULL;
    bg_error rc = job_named(c, computer, name, &j);
    if (rc != BG_ERR_OK || !name || !*name)
        return rc;
    if (!j)
        return pending_add(c, computer, name, event_field_get(ev, "Pgm"), error, ev);
    event_order order;
    event_order_set(&order, ev);
    job_failures_add(j, 1, error, &order);
    return job_findings_emit(c, j, NULL);
}

/* Events 203/204: job credentials sent in answer to an authentication challenge. Fields per the provider
 * manifest: version 0 string (server), string2 (job), string3 (url); version 1 server, job, url,
 * scheme, user. A finding when the url, or else the server, is a direct IP by the classifier. */
static bg_error credentials_feed(correlator *c, const event *ev)
{
    const char *server = event_field_get(ev, "server");
    const char *name = event_field_get(ev, "job");
    const char *url = event_field_get(ev, "url");
    if (!server && !name && !url) {
        server = event_field_get(ev, "string");
        name = event_field_get(ev, "string2");
        url = event_field_get(ev, "string3");
    }
    classify_result cls;
    int direct = 0;
    if (url && *url) {
        classify_name(url, strlen(url), &cls);
        direct = verdict_reportable(c, &cls);
    }
    if (!direct && server && *server && strlen(server) < 1024) {
        /* The server alone is a host name: read it as the host of an http URL. */
        char host_url[1100];
        snprintf(host_url, sizeof host_url, "http://%s/", server);
        classify_name(host_url, strlen(host_url), &cls);
        direct = verdict_reportable(c, &cls);
    }
    if (!direct || allowlist_result_match(c->cfg.allow, &cls))
        return BG_ERR_OK;

    const char *computer = ev->computer ? ev->computer : "";
    job *j = NULL;
    bg_error rc = job_named(c, computer, name, &j);
    if (rc != BG_ERR_OK)
        return rc;
    const char *key = url && *url ? url : server;
    finding *f = NULL;
    for (size_t i = 0; j && i < j->cred_count; i++) {
        if (strcmp(j->creds[i]->url ? j->creds[i]->url : "", key) == 0)
            f = j->creds[i];
    }
    int fresh = 0;
    if (!f) {
        if (j && j->cred_count == CORRELATE_MAX_CREDENTIALS_PER_JOB) {
            c->stats.over_cap++;
            return BG_ERR_OK;
        }
        f = finding_new(FINDING_CREDENTIALS_DIRECT_IP, ev);
        if (!f)
            return BG_ERR_NOMEM;
        fresh = 1;
    } else {
        finding_event_older(f, ev);
        finding_seen_apply(f, ev);
    }
    /* Values of the newest 203/204 of this url (accepted or rejected may change on a retry). */
    if (fresh || event_order_cmp(ev->record_id, ev->time_created, f->record_id, f->time) >= 0) {
        f->accepted = ev->event_id == 203;
        f->cls = cls;
        if (string_set(&f->server, server) != 0 || string_set(&f->url, key) != 0 ||
            string_set(&f->scheme, event_field_get(ev, "scheme")) != 0 ||
            string_set(&f->user, event_field_get(ev, "user")) != 0 ||
            (!j && name && event_guid_normalize(name, f->job_id) != 0 && string_set(&f->job_title, name) != 0)) {
            if (fresh)
                finding_free(f);
            return BG_ERR_NOMEM;
        }
    }
    if (!j) {
        finding_emit_alone(c, f);
        return BG_ERR_OK;
    }
    if (fresh) {
        j->creds[j->cred_count++] = f;
        c->stats.findings++;
    }
    return job_findings_emit(c, j, fresh ? f : NULL);
}

/* ASCII case-insensitive equality (channel names). */
static int text_equal_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* The Eventlog provider's event 104 in the System log: a log was cleared. UserData/LogFileCleared holds
 * SubjectUserName, SubjectDomainName, Channel and BackupPath; a finding when it names our channel. */
static bg_error channel_cleared_feed(correlator *c, const event *ev)
{
    const char *channel = event_field_get(ev, "Channel");
    if (!channel || !text_equal_nocase(channel, EVENT_CHANNEL_BITS))
        return BG_ERR_OK;
    finding *f = finding_new(FINDING_CHANNEL_CLEARED, ev);
    if (!f)
        return BG_ERR_NOMEM;
    const char *domain = event_field_get(ev, "SubjectDomainName");
    const char *user = event_field_get(ev, "SubjectUserName");
    char who[512];
    snprintf(who, sizeof who, "%s%s%s", domain && *domain ? domain : "", domain && *domain ? "\\" : "",
             user ? user : "");
    if (string_set(&f->channel, channel) != 0 || string_set(&f->user, who) != 0) {
        finding_free(f);
        return BG_ERR_NOMEM;
    }
    finding_emit_alone(c, f);
    return BG_ERR_OK;
}

/* ---- event handling ----------------------------------------------------------------------------- */

/* Job id of an event: jobId (3 v1+, 4, 5, 6, 16403) or Id (59/60/61). "" when absent or not a GUID. */
static void event_job_id(const event *ev, char out[BG_GUID_TEXT_SIZE])
{
    const char *text = event_field_get(ev, "jobId");
    if (!text)
        text = event_field_get(ev, "Id");
    if (!text || event_guid_normalize(text, out) != 0)
        out[0] = '\0';
}

static bg_error job_facts_update(job *j, const event *ev, int64_t ev_unix)
{
    const char *title = event_field_get(ev, "jobTitle");
    if (!title)
        title = event_field_get(ev, "name");
    if (!title && ev->event_id == 3)
        title = event_field_get(ev, "string"); /* Version 0 of event 3: string = title, string2 = owner. */
    const char *owner = event_field_get(ev, "jobOwner");
    if (!owner && ev->event_id == 3)
        owner = event_field_get(ev, "string2");
    if ((title && *title) || (owner && *owner)) {
        /* A value already known from a newer event stays; one this event alone has fills a gap. */
        int newer = event_order_newer(&j->names_order, ev);
        if ((newer || !j->title) && string_set(&j->title, title) != 0)
            return BG_ERR_NOMEM;
        if ((newer || !j->owner) && string_set(&j->owner, owner) != 0)
            return BG_ERR_NOMEM;
        if (newer)
            event_order_set(&j->names_order, ev);
    }
    if (ev->event_id == 3 || ev->event_id == 16403) {
        const char *path = ev->event_id == 3 ? event_field_get(ev, "processPath") : NULL;
        int64_t pid = number_parse(event_field_get(ev, "processId"));
        int newer = event_order_newer(&j->process_order, ev);
        if ((newer || !j->process_path) && string_set(&j->process_path, path) != 0)
            return BG_ERR_NOMEM;
        if (pid >= 0 && (newer || j->process_id < 0))
            j->process_id = pid;
        if (newer && ((path && *path) || pid >= 0))
            event_order_set(&j->process_order, ev);
    }
    if (ev->event_id == 6 && event_order_newer(&j->notify_order, ev)) {
        /* The command line set last is the one BITS runs. */
        if (string_set(&j->notify_program, event_field_get(ev, "program")) != 0 ||
            string_set(&j->notify_parameters, event_field_get(ev, "parameters")) != 0)
            return BG_ERR_NOMEM;
        event_order_set(&j->notify_order, ev);
    }
    if (ev->event_id == 4)
        j->state = JOB_STATE_COMPLETED;
    else if (ev->event_id == 5)
        j->state = JOB_STATE_CANCELLED;
    j->events_seen |= detection_seen_bit(ev->event_id);
    if (ev->record_id > j->last_record_id)
        j->last_record_id = ev->record_id;
    if (ev->time_created[0]) {
        if (!j->first_seen[0] || strcmp(ev->time_created, j->first_seen) < 0) {
            memcpy(j->first_seen, ev->time_created, sizeof j->first_seen);
            j->first_unix = ev_unix;
        }
        if (strcmp(ev->time_created, j->last_seen) > 0) {
            memcpy(j->last_seen, ev->time_created, sizeof j->last_seen);
            j->last_unix = ev_unix;
        }
    }
    return BG_ERR_OK;
}

/* Applies transfer facts of 60/61 (status and bytes) to the detection for that url, unless a newer
 * 60/61 of it gave them already (a transfer stopped, retried and stopped again logs several). */
static void transfer_facts_apply(detection *d, const event *ev)
{
    tracked *t = (tracked *)d;
    if (!event_order_newer(&t->transfer, ev))
        return;
    event_order_set(&t->transfer, ev);
    const char *hr = event_field_get(ev, "hr");
    int64_t v = number_parse(hr);
    if (v >= 0)
        d->transfer_hr = v;
    int64_t total = number_parse(event_field_get(ev, "bytesTotal"));
    int64_t done = number_parse(event_field_get(ev, "bytesTransferred"));
    if (total >= 0)
        d->bytes_total = total;
    if (done >= 0)
        d->bytes_transferred = done;
}

bg_error correlate_event_feed(correlator *c, const event *ev)
{
    c->stats.events++;
    if (c->cfg.finding && ev->event_id == 104 && strcmp(ev->provider, EVENT_PROVIDER_EVENTLOG) == 0)
        return channel_cleared_feed(c, ev);
    if (!event_is_bits(ev))
        return BG_ERR_OK;
    c->stats.bits_events++;
    if (c->cfg.finding && (ev->event_id == 63 || ev->event_id == 64))
        return notify_failure_feed(c, ev);
    if (c->cfg.finding && (ev->event_id == 203 || ev->event_id == 204))
        return credentials_feed(c, ev);
    if (!detection_seen_bit(ev->event_id))
        return BG_ERR_OK;

    char job_id[BG_GUID_TEXT_SIZE];
    event_job_id(ev, job_id);
    const char *computer = ev->computer ? ev->computer : "";
    int64_t now = ev->time_created[0] ? time_unix(ev->time_created) : 0;

    /* A version-0 event 3 has no job id: nothing can join it, so it is counted and not remembered. */
    if (!job_id[0] && ev->event_id == 3)
        return BG_ERR_OK;

    job *j = job_touch(c, computer, job_id);
    if (!j)
        return BG_ERR_NOMEM;
    if (job_facts_update(j, ev, now) != BG_ERR_OK)
        return BG_ERR_NOMEM;
    if (c->pending_count)
        pending_match(c, j);
    finding *fresh = NULL;
    if (c->cfg.finding && ev->event_id == 6) {
        /* A notify command line is persistence whatever the job downloads: its own finding. */
        if (!j->notify) {
            fresh = j->notify = finding_new(FINDING_NOTIFY_COMMAND, ev);
            if (!fresh)
                return BG_ERR_NOMEM;
            c->stats.findings++;
        } else {
            finding_event_older(j->notify, ev);
        }
    }

    detection *touched = NULL;
    int created = 0;
    const char *url = NULL;
    if (ev->event_id == 16403)
        url = event_field_get(ev, "RemoteName");
    else if (ev->event_id == 59 || ev->event_id == 60 || ev->event_id == 61)
        url = event_field_get(ev, "url");
    if (url && *url) {
        touched = job_detection_find(j, url);
        if (!touched) {
            classify_result cls;
            classify_name(url, strlen(url), &cls);
            if (verdict_reportable(c, &cls)) {
                bg_error err = detection_create(c, j, ev, url, &cls, &touched);
                if (err != BG_ERR_OK)
                    return err;
                created = touched != NULL;
            }
        }
        /* Seen once in a record still in a log, the detection is no longer known only from recovered ones. */
        if (touched && !ev->recovered)
            touched->recovered = 0;
        if (touched && !created &&
            event_order_cmp(ev->record_id, ev->time_created, touched->record_id, touched->time) < 0) {
            /* An older event of the url (read newest first): the detection names the oldest. */
            touched->event_id = ev->event_id;
            touched->record_id = ev->record_id;
            memcpy(touched->time, ev->time_created, sizeof touched->time);
        }
        if (touched && ev->event_id == 16403 && string_set(&touched->local_name, event_field_get(ev, "LocalName")) != 0)
            return BG_ERR_NOMEM;
        if (touched && (ev->event_id == 60 || ev->event_id == 61))
            transfer_facts_apply(touched, ev);
    }

    /* Every detection of the job takes the job's context; report what changed. */
    for (size_t i = 0; i < j->det_count; i++) {
        detection *d = j->dets[i];
        if (detection_context_apply(d, j) != 0)
            return BG_ERR_NOMEM;
        if (j->last_record_id > d->last_record_id)
            d->last_record_id = j->last_record_id;
        c->emit(c->ctx, d, (d == touched && created) ? CORRELATE_NEW : CORRELATE_UPDATE);
    }
    if (job_findings_emit(c, j, fresh) != BG_ERR_OK)
        return BG_ERR_NOMEM;

    if (j->state != JOB_STATE_ACTIVE && (j->events_seen & SEEN_3)) {
        /* The job's first event (3, creation) and its last (4 or 5) are both in: read forwards or
         * backwards, nothing more of it follows, so its detections are final. A job that ended
         * without its creation in view stays until the bounds or the flush retire it: read newest
         * first, its 4 or 5 comes before everything else of it. */
        job_retire(c, j);
    }
    jobs_evict(c, now);
    return BG_ERR_OK;
}

bg_error correlate_detection_restore(correlator *c, const detection *d)
{
    job *j = job_touch(c, d->computer ? d->computer : "", d->job_id);
    if (!j)
        return BG_ERR_NOMEM;
    if (!d->url || job_detection_find(j, d->url) || !job_detection_room(c, j, d->allowed != 0))
        return BG_ERR_OK;
    tracked *t = calloc(1, sizeof *t);
    if (!t)
        return BG_ERR_NOMEM;
    detection *copy = &t->d;
    if (detection_copy(copy, d) != BG_ERR_OK) {
        free(t);
        return BG_ERR_NOMEM;
    }
    if (string_set(&j->title, d->job_title) != 0 || string_set(&j->owner, d->job_owner) != 0 ||
        string_set(&j->process_path, d->process_path) != 0) {
        detection_clear(copy);
        free(copy);
        return BG_ERR_NOMEM;
    }
    if (d->process_id >= 0)
        j->process_id = d->process_id;
    j->events_seen |= d->events_seen;
    memcpy(j->first_seen, d->first_seen, sizeof j->first_seen);
    memcpy(j->last_seen, d->last_seen, sizeof j->last_seen);
    if (d->last_record_id > j->last_record_id)
        j->last_record_id = d->last_record_id;
    j->first_unix = time_unix(j->first_seen);
    j->last_unix = time_unix(j->last_seen);
    j->dets[j->det_count++] = copy;
    if (copy->allowed)
        j->allowed_count++;
    jobs_evict(c, 0);
    return BG_ERR_OK;
}

bg_error correlate_finding_restore(correlator *c, const finding *f)
{
    if (!c->cfg.finding || f->kind != FINDING_NOTIFY_COMMAND || !f->job_id[0])
        return BG_ERR_OK;
    job *j = job_touch(c, f->computer ? f->computer : "", f->job_id);
    if (!j)
        return BG_ERR_NOMEM;
    if (j->notify)
        return BG_ERR_OK;
    finding *copy = malloc(sizeof *copy);
    if (!copy)
        return BG_ERR_NOMEM;
    if (finding_copy(copy, f) != BG_ERR_OK) {
        free(copy);
        return BG_ERR_NOMEM;
    }
    if (string_set(&j->title, f->job_title) != 0 || string_set(&j->owner, f->job_owner) != 0 ||
        string_set(&j->process_path, f->process_path) != 0 || string_set(&j->notify_program, f->program) != 0 ||
        string_set(&j->notify_parameters, f->parameters) != 0) {
        finding_free(copy);
        return BG_ERR_NOMEM;
    }
    if (f->process_id >= 0)
        j->process_id = f->process_id;
    if (f->notify_failures > j->notify_failures)
        j->notify_failures = f->notify_failures;
    if (f->notify_error != INT64_MIN && j->notify_error == INT64_MIN)
        j->notify_error = f->notify_error;
    if (f->first_seen[0] && (!j->first_seen[0] || strcmp(f->first_seen, j->first_seen) < 0))
        memcpy(j->first_seen, f->first_seen, sizeof j->first_seen);
    if (strcmp(f->last_seen, j->last_seen) > 0)
        memcpy(j->last_seen, f->last_seen, sizeof j->last_seen);
    if (f->last_record_id > j->last_record_id)
        j->last_record_id = f->last_record_id;
    j->first_unix = time_unix(j->first_seen);
    j->last_unix = time_unix(j->last_seen);
    j->restored.record_id = f->last_record_id;
    memcpy(j->restored.time, f->last_seen, sizeof j->restored.time);
    j->notify = copy;
    jobs_evict(c, 0);
    return BG_ERR_OK;
}

/* ---- life cycle --------------------------------------------------------------------------------- */

correlator *correlate_new(const correlate_config *cfg, correlate_emit_fn emit, void *ctx)
{
    correlator *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (cfg)
        c->cfg = *cfg;
    if (!c->cfg.max_jobs)
        c->cfg.max_jobs = CORRELATE_DEFAULT_MAX_JOBS;
    if (!c->cfg.max_age_s)
        c->cfg.max_age_s = CORRELATE_DEFAULT_MAX_AGE_S;
    c->emit = emit;
    c->ctx = ctx;
    c->bucket_count = 64;
    while (c->bucket_count < c->cfg.max_jobs * 2 && c->bucket_count < ((size_t)1 << 24))
        c->bucket_count <<= 1;
    c->buckets = calloc(c->bucket_count, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    return c;
}

void correlate_flush(correlator *c)
{
    /* Oldest first, so a scan prints detections in the order their jobs started. */
    while (c->lru_tail)
        job_retire(c, c->lru_tail);
}

void correlate_free(correlator *c)
{
    if (!c)
        return;
    for (job *j = c->lru_head, *next; j; j = next) {
        next = j->lru_next;
        job_destroy(j);
    }
    while (c->pending_count)
        pending_remove(c, c->pending_count - 1);
    free(c->buckets);
    free(c);
}

void correlate_stats_get(const correlator *c, correlate_stats *out)
{
    *out = c->stats;
}
