/* Real Bits-Client logs (../shared, two renderings each): every event is sliced and parsed, and both agree. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "event.h"
#include "export.h"

/* Event counts from the samples' SOURCE.md. */
static const struct {
    const char *log;
    uint64_t events;
} known_logs[] = {
    {"bits_openvpn", 1537},
    {"windows_bits_4_59_60_lolbas_desktopimgdownldr", 5},
    {"persist_bitsadmin_Microsoft-Windows-Bits-Client-Operational", 6},
};

/* What is compared between the two renderings of the same event. */
typedef struct event_digest {
    unsigned event_id, version, level;
    uint64_t record_id;
    char time_seconds[20]; /* "YYYY-MM-DDThh:mm:ss": the renderings round fractions differently. */
    char computer[64];
    size_t field_count;
    char names[EVENT_MAX_FIELDS][40];
    char values[EVENT_MAX_FIELDS][48]; /* Normalized and cut: enough to tell values apart. */
} event_digest;

/* Normalizes a value the way the two tools differ: GUID case and braces, timestamp form, booleans. */
static void value_digest(const char *v, char out[48])
{
    char tmp[37];
    char ts[32];
    if (event_guid_normalize(v, tmp) == 0) {
        snprintf(out, 48, "%s", tmp);
    } else if (event_time_normalize(v, ts) == 0) {
        snprintf(out, 48, "%.19s", ts);
    } else if (strcmp(v, "False") == 0 || strcmp(v, "True") == 0) {
        /* python-evtx writes booleans capitalized, evtxexport in lower case. */
        snprintf(out, 48, "%s", v[0] == 'F' ? "false" : "true");
    } else {
        snprintf(out, 48, "%.47s", v);
    }
}

static void digest_make(const event *ev, event_digest *d)
{
    memset(d, 0, sizeof *d);
    d->event_id = ev->event_id;
    d->version = ev->version;
    d->level = ev->level;
    d->record_id = ev->record_id;
    snprintf(d->time_seconds, sizeof d->time_seconds, "%.19s", ev->time_created);
    snprintf(d->computer, sizeof d->computer, "%.63s", ev->computer);
    d->field_count = ev->field_count;
    for (size_t i = 0; i < ev->field_count; i++) {
        snprintf(d->names[i], sizeof d->names[i], "%.39s", ev->fields[i].name);
        value_digest(ev->fields[i].value, d->values[i]);
    }
}

/* Reads one rendering; returns the digests (malloc'd) and their count, or NULL when the file is absent. */
static event_digest *log_read(const char *path, size_t *count)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    export_reader *rd = export_reader_open(fp, path);
    event ev;
    event_init(&ev);
    size_t cap = 64, n = 0;
    event_digest *all = malloc(cap * sizeof *all);
    const char *xml;
    size_t len;
    char err[256];
    bg_error rc;
    uint64_t bad = 0, not_bits = 0, no_time = 0;
    while (all != NULL && (rc = export_reader_next(rd, &xml, &len)) != BG_ERR_EOF) {
        if (rc != BG_ERR_OK) {
            CHECK_FAIL_AT("%s: reader %s at line %" PRIu64, path, bg_error_name(rc), export_reader_line(rd));
            continue;
        }
        rc = event_xml_parse(&ev, xml, len, err, sizeof err);
        if (rc != BG_ERR_OK) {
            if (bad++ < 3)
                CHECK_FAIL_AT("%s line %" PRIu64 ": %s: %s", path, export_reader_line(rd), bg_error_name(rc), err);
            continue;
        }
        not_bits += !event_is_bits(&ev);
        no_time += ev.time_created[0] == '\0';
        if (n == cap) {
            event_digest *p = realloc(all, cap * 2 * sizeof *all);
            if (p == NULL)
                break;
            all = p;
            cap *= 2;
        }
        digest_make(&ev, &all[n++]);
    }
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(not_bits, 0);
    CHECK_INT_EQ(no_time, 0);
    CHECK(export_reader_peak_buffer(rd) <= EVENT_MAX_BYTES + EXPORT_READ_CHUNK);
    event_free(&ev);
    export_reader_close(rd);
    fclose(fp);
    *count = n;
    return all;
}

static int digest_compare(const char *log, const event_digest *a, const event_digest *b)
{
    int diff = a->event_id != b->event_id || a->version != b->version || a->level != b->level ||
               a->record_id != b->record_id || strcmp(a->time_seconds, b->time_seconds) != 0 ||
               strcmp(a->computer, b->computer) != 0 || a->field_count != b->field_count;
    size_t at = 0;
    for (size_t i = 0; !diff && i < a->field_count; i++) {
        diff = strcmp(a->names[i], b->names[i]) != 0 || strcmp(a->values[i], b->values[i]) != 0;
        at = i;
    }
    if (diff)
        fprintf(stderr, "%s: record %" PRIu64 " differs between renderings (field %s: \"%s\" / \"%s\")\n", log,
                a->record_id, a->names[at], a->values[at], b->values[at]);
    return diff;
}

static void test_known_logs(void)
{
    for (size_t i = 0; i < sizeof known_logs / sizeof known_logs[0]; i++) {
        char p1[600], p2[600];
        snprintf(p1, sizeof p1, "%s/%s.python-evtx.xml", BG_SHARED_SAMPLES, known_logs[i].log);
        snprintf(p2, sizeof p2, "%s/%s.evtxexport.xml", BG_SHARED_SAMPLES, known_logs[i].log);
        size_t n1 = 0, n2 = 0;
        event_digest *d1 = log_read(p1, &n1);
        event_digest *d2 = log_read(p2, &n2);
        CHECK(d1 != NULL && d2 != NULL);
        CHECK_INT_EQ(n1, known_logs[i].events);
        CHECK_INT_EQ(n2, known_logs[i].events);
        size_t differing = 0;
        for (size_t k = 0; d1 != NULL && d2 != NULL && k < n1 && k < n2; k++)
            differing += (size_t)(digest_compare(known_logs[i].log, &d1[k], &d2[k]) != 0);
        CHECK_INT_EQ(differing, 0);
        free(d1);
        free(d2);
    }
}

/* Any other *.xml placed in the samples folder must parse completely too. */
static void test_every_xml(void)
{
    DIR *dir = opendir(BG_SHARED_SAMPLES);
    CHECK(dir != NULL);
    if (dir == NULL)
        return;
    struct dirent *de;
    int files = 0;
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".xml") != 0)
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", BG_SHARED_SAMPLES, de->d_name);
        size_t count = 0;
        event_digest *d = log_read(path, &count);
        CHECK(d != NULL);
        CHECK(count > 0);
        free(d);
        files++;
    }
    closedir(dir);
    CHECK(files >= 6);
}

int main(void)
{
    char probe[600];
    snprintf(probe, sizeof probe, "%s/SOURCE.md", BG_SHARED_SAMPLES);
    FILE *fp = fopen(probe, "rb");
    if (fp == NULL) {
        fprintf(stderr, "skip: %s is absent\n", BG_SHARED_SAMPLES);
        return CHECK_SKIP_CODE;
    }
    fclose(fp);
    CHECK_RUN(test_known_logs);
    CHECK_RUN(test_every_xml);
    return CHECK_DONE();
}
