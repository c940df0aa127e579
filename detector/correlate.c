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
    size_t det_count;
    size_t allowed_count; /* Of det_count, allow-listed. */
    detection *dets[CORRELATE_MAX_DETECTIONS_PER_JOB + CORRELATE_MAX_ALLOWED_PER_JOB];
} job;

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
    if (!event_is_bits(ev))
        return BG_ERR_OK;
    c->stats.bits_events++;
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
    free(c->buckets);
    free(c);
}

void correlate_stats_get(const correlator *c, correlate_stats *out)
{
    *out = c->stats;
}
