/* Benchmark: bitsguard against the public Sigma rule 90f138c1 over one stream, accuracy by category and speed. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "correlate.h"
#include "event.h"
#include "export.h"

/*
 * Usage: bench_compare STREAM.xml TRUTH.tsv
 * Reads the generator's stream once with bitsguard's reader, parser and correlator (the detections),
 * and applies the Sigma rule's substring logic to every 16403 RemoteName (its alerts). Both are then
 * scored against the truth file per category. The remote-name decision alone is timed for both over
 * the 16403 names: classify_name() against the rule's substring tests.
 * Output lines (tab-separated), for the orchestrator:
 *   category <name> <jobs> <truly-public> <sigma-alerts> <bitsguard-detections>
 *   speed sigma <names/s>
 *   speed classify <names/s>
 */

typedef struct truth_job {
    char job_id[37];
    char category[32];
    int is_public;
    int sigma;
    int bitsguard;
} truth_job;

typedef struct bench_state {
    truth_job *jobs;
    size_t job_count;
    char **names; /* 16403 RemoteNames, for the timing loops. */
    size_t name_count, name_cap;
} bench_state;

/* Processor time of this process: comparable across runs on a shared machine, unlike wall time. */
static double now_seconds(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

static int job_cmp(const void *a, const void *b)
{
    return strcmp(((const truth_job *)a)->job_id, ((const truth_job *)b)->job_id);
}

static truth_job *job_lookup(bench_state *st, const char *job_id)
{
    truth_job key;
    snprintf(key.job_id, sizeof key.job_id, "%.36s", job_id); /* A GUID: 36 characters. */
    return bsearch(&key, st->jobs, st->job_count, sizeof key, job_cmp);
}

/* Case-insensitive substring search, as SIEM "contains" modifiers behave. */
static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == needle[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* SigmaHQ 90f138c1: RemoteName contains http(s)://[1-9], minus the private-range and 7-zip filters. */
static int sigma_rule_match(const char *remote)
{
    static const char *const selection[] = {"http://1",  "http://2",  "http://3",  "http://4",  "http://5",
                                            "http://6",  "http://7",  "http://8",  "http://9",  "https://1",
                                            "https://2", "https://3", "https://4", "https://5", "https://6",
                                            "https://7", "https://8", "https://9"};
    static const char *const filters[] = {
        "://10.",     "://192.168.", "://172.16.", "://172.17.", "://172.18.", "://172.19.",  "://172.20.",
        "://172.21.", "://172.22.",  "://172.23.", "://172.24.", "://172.25.", "://172.26.",  "://172.27.",
        "://172.28.", "://172.29.",  "://172.30.", "://172.31.", "://127.",    "://169.254.", "://7-"};
    int selected = 0;
    for (size_t i = 0; i < sizeof selection / sizeof selection[0] && !selected; i++)
        selected = contains_nocase(remote, selection[i]);
    if (!selected)
        return 0;
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        if (contains_nocase(remote, filters[i]))
            return 0;
    }
    return 1;
}

static void detection_seen(void *ctx, const detection *d, correlate_change change)
{
    bench_state *st = ctx;
    if (change != CORRELATE_NEW || d->allowed)
        return;
    char braced[40];
    snprintf(braced, sizeof braced, "%s", d->job_id);
    truth_job *j = job_lookup(st, braced);
    if (j)
        j->bitsguard = 1;
}

static int truth_load(bench_state *st, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t cap = 1024;
    st->jobs = malloc(cap * sizeof *st->jobs);
    static char line[4096];
    while (st->jobs && fgets(line, sizeof line, fp)) {
        if (st->job_count == cap) {
            cap *= 2;
            truth_job *grown = realloc(st->jobs, cap * sizeof *grown);
            if (!grown)
                break;
            st->jobs = grown;
        }
        truth_job *j = &st->jobs[st->job_count];
        memset(j, 0, sizeof *j);
        char *f[5] = {line};
        for (int k = 1; k < 5; k++) {
            f[k] = f[k - 1] ? strchr(f[k - 1], '\t') : NULL;
            if (f[k])
                *f[k]++ = '\0';
        }
        if (!f[4])
            continue;
        char norm[37];
        if (event_guid_normalize(f[0], norm) != 0)
            continue;
        memcpy(j->job_id, norm, sizeof norm);
        snprintf(j->category, sizeof j->category, "%s", f[2]);
        j->is_public = strcmp(f[3], "public-ip") == 0;
        st->job_count++;
    }
    fclose(fp);
    if (!st->jobs)
        return -1;
    qsort(st->jobs, st->job_count, sizeof *st->jobs, job_cmp);
    return 0;
}

static int name_keep(bench_state *st, const char *name)
{
    if (st->name_count == st->name_cap) {
        size_t cap = st->name_cap ? st->name_cap * 2 : 1024;
        char **grown = realloc(st->names, cap * sizeof *grown);
        if (!grown)
            return -1;
        st->names = grown;
        st->name_cap = cap;
    }
    size_t n = strlen(name) + 1;
    st->names[st->name_count] = malloc(n);
    if (!st->names[st->name_count])
        return -1;
    memcpy(st->names[st->name_count++], name, n);
    return 0;
}

/* Times a decision over all kept names, repeated until at least half a second has passed. */
static double names_rate(const bench_state *st, int use_classify, uint64_t *sink)
{
    uint64_t done = 0;
    double t0 = now_seconds(), dt;
    do {
        for (size_t i = 0; i < st->name_count; i++) {
            if (use_classify) {
                classify_result r;
                classify_name(st->names[i], strlen(st->names[i]), &r);
                *sink += (uint64_t)r.verdict;
            } else {
                *sink += (uint64_t)sigma_rule_match(st->names[i]);
            }
        }
        done += st->name_count;
        dt = now_seconds() - t0;
    } while (dt < 0.5 && st->name_count);
    return dt > 0 ? (double)done / dt : 0.0;
}

int main(int argc, char **argv)
{
    bench_state st;
    memset(&st, 0, sizeof st);
    if (argc != 3) {
        fputs("usage: bench_compare STREAM.xml TRUTH.tsv\n", stderr);
        return 2;
    }
    if (truth_load(&st, argv[2]) != 0) {
        perror(argv[2]);
        return 3;
    }
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        perror(argv[1]);
        return 3;
    }
    export_reader *rd = export_reader_open(fp, argv[1]);
    correlator *c = correlate_new(NULL, detection_seen, &st);
    event ev;
    event_init(&ev);
    const char *xml;
    size_t len;
    bg_error err;
    while ((err = export_reader_next(rd, &xml, &len)) != BG_ERR_EOF) {
        if (err != BG_ERR_OK || event_xml_parse(&ev, xml, len, NULL, 0) != BG_ERR_OK)
            continue;
        if (correlate_event_feed(c, &ev) != BG_ERR_OK)
            return 3;
        const char *remote = event_field_get(&ev, "RemoteName");
        if (ev.event_id == 16403 && event_is_bits(&ev) && remote) {
            if (sigma_rule_match(remote)) {
                char norm[37];
                truth_job *j =
                    event_guid_normalize(event_field_get(&ev, "jobId"), norm) == 0 ? job_lookup(&st, norm) : NULL;
                if (j)
                    j->sigma = 1;
            }
            if (name_keep(&st, remote) != 0)
                return 3;
        }
    }
    correlate_flush(c);
    correlate_free(c);
    event_free(&ev);
    export_reader_close(rd);
    fclose(fp);

    /* Per category: jobs, truly public, Sigma alerts, bitsguard detections. */
    char seen[64][32];
    size_t seen_count = 0;
    for (size_t i = 0; i < st.job_count; i++) {
        size_t k = 0;
        while (k < seen_count && strcmp(seen[k], st.jobs[i].category) != 0)
            k++;
        if (k == seen_count && seen_count < 64)
            snprintf(seen[seen_count++], sizeof seen[0], "%s", st.jobs[i].category);
    }
    for (size_t k = 0; k < seen_count; k++) {
        uint64_t jobs = 0, pub = 0, sigma = 0, bg = 0;
        for (size_t i = 0; i < st.job_count; i++) {
            if (strcmp(st.jobs[i].category, seen[k]) != 0)
                continue;
            jobs++;
            pub += (uint64_t)st.jobs[i].is_public;
            sigma += (uint64_t)st.jobs[i].sigma;
            bg += (uint64_t)st.jobs[i].bitsguard;
        }
        printf("category\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", seen[k], jobs, pub, sigma, bg);
    }
    uint64_t sink = 0;
    printf("speed\tsigma\t%.0f\n", names_rate(&st, 0, &sink));
    printf("speed\tclassify\t%.0f\n", names_rate(&st, 1, &sink));
    fprintf(stderr, "bench_compare: %zu jobs, %zu 16403 names (checksum %" PRIu64 ")\n", st.job_count, st.name_count,
            sink);
    for (size_t i = 0; i < st.name_count; i++)
        free(st.names[i]);
    free(st.names);
    free(st.jobs);
    return 0;
}
