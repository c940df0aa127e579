/* bitsguard status: database path, size, schema, detection counts, service health, bookmarks, gaps and errors. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_text.h"
#include "cli.h"
#include "cli_opt.h"
#include "output.h"
#include "store.h"

/* How many of the latest gaps and errors are shown. */
#define STATUS_LAST 5
/* How many computers the text lists (silent longest first); JSON lists them all. */
#define STATUS_COMPUTERS 20
/* A computer whose newest event is older than this is flagged silent (--silent-hours). */
#define STATUS_SILENT_HOURS_DEFAULT 24u
#define STATUS_SILENT_HOURS_MAX     87600u

typedef struct status_ctx {
    int json;
    int first;
    int64_t now;
    int64_t silent_seconds;
    int64_t shown;
} status_ctx;

/* Seconds since an updated_at text, -1 when it does not parse. */
static int64_t age_of(const char *t, int64_t now)
{
    int64_t then;
    return t && store_time_unix(t, &then) == 0 ? now - then : -1;
}

static int bookmark_print(void *arg, const char *const *cols, int n)
{
    status_ctx *c = arg;
    if (n < 3)
        return 1;
    int64_t age = age_of(cols[2], c->now);
    if (c->json) {
        fputs(c->first ? "" : ",", stdout);
        fputs("{\"channel\":", stdout);
        output_json_string(stdout, cols[0]);
        fputs(",\"updated_at\":", stdout);
        output_json_string(stdout, cols[2]);
        fprintf(stdout, ",\"age_seconds\":%" PRId64 "}", age);
    } else {
        fputs("  ", stdout);
        output_terminal_text(stdout, cols[0], 60);
        fputs("  updated ", stdout);
        output_terminal_text(stdout, cols[2], 24);
        fprintf(stdout, " (%" PRId64 " s ago)\n", age);
    }
    c->first = 0;
    return 0;
}

/* An age in seconds as "42 min", "5 h" or "12 d". */
static void age_print(int64_t age)
{
    if (age < 0)
        fputs("?", stdout);
    else if (age < 2 * 3600)
        fprintf(stdout, "%" PRId64 " min", age / 60);
    else if (age < 48 * 3600)
        fprintf(stdout, "%" PRId64 " h", age / 3600);
    else
        fprintf(stdout, "%" PRId64 " d", age / 86400);
}

/* One row of the computers table: a computer that stopped sending events stands out as silent. */
static int computer_print(void *arg, const store_computer *r)
{
    status_ctx *c = arg;
    int64_t age = age_of(r->last_event, c->now);
    /* A computer's own logs read locally cannot stop forwarding: only forwarded rows go silent. */
    int silent = store_computer_forwarded(r->channel) && (age < 0 || age > c->silent_seconds);
    if (c->json) {
        fputs(c->first ? "{\"computer\":" : ",{\"computer\":", stdout);
        output_json_string(stdout, r->computer);
        fputs(",\"channel\":", stdout);
        output_json_string(stdout, r->channel);
        fprintf(stdout, ",\"events\":%" PRId64 ",\"detections\":%" PRId64 ",\"first_event\":", r->events,
                r->detections);
        output_json_string(stdout, r->first_event);
        fputs(",\"last_event\":", stdout);
        output_json_string(stdout, r->last_event);
        fprintf(stdout, ",\"last_event_age_seconds\":%" PRId64 ",\"silent\":%s}", age, silent ? "true" : "false");
    } else {
        fputs("  ", stdout);
        output_terminal_text(stdout, r->computer[0] ? r->computer : "(none)", 64);
        fputs(" on ", stdout);
        output_terminal_text(stdout, r->channel, 64);
        fprintf(stdout, ": events read %" PRId64 ", detections %" PRId64 ", last event ", r->events, r->detections);
        output_terminal_text(stdout, r->last_event ? r->last_event : "(none)", 32);
        if (r->last_event) {
            fputs(" (", stdout);
            age_print(age);
            fputs(" ago)", stdout);
        }
        fputs(silent ? "  SILENT\n" : "\n", stdout);
    }
    c->first = 0;
    c->shown++;
    return 0;
}

/* Per computer (collector mode): counts, the last event seen, and which computers went silent. */
static bg_error computers_print(store *s, status_ctx *c)
{
    char before[BG_TIME_TEXT_SIZE];
    int64_t total = 0, silent = 0;
    store_time_format(c->now - c->silent_seconds, before, sizeof before);
    bg_error e = store_computers_count(s, before, &total, &silent);
    if (e != BG_ERR_OK)
        return e;
    if (c->json)
        fprintf(stdout,
                ",\"silent_hours\":%" PRId64 ",\"computers_total\":%" PRId64 ",\"computers_silent\":%" PRId64
                ",\"computers\":[",
                c->silent_seconds / 3600, total, silent);
    else
        fprintf(stdout, "computers:        %" PRId64 " (%" PRId64 " silent for more than %" PRId64 " h)\n", total,
                silent, c->silent_seconds / 3600);
    c->first = 1;
    c->shown = 0;
    e = store_computers_run(s, NULL, c->json ? 0 : STATUS_COMPUTERS, computer_print, c);
    if (c->json)
        fputs("]", stdout);
    else if (e == BG_ERR_OK && total > c->shown)
        fprintf(stdout, "  (%" PRId64 " more; bitsguard query --computer NAME shows one)\n", total - c->shown);
    return e;
}

/* A gap (time, channel, reason) or an error (time, where, code_name, detail). */
static int record_print(void *arg, const char *const *cols, int n)
{
    static const char *const gap_keys[] = {"time", "channel", "reason"};
    static const char *const err_keys[] = {"time", "where", "code", "detail"};
    status_ctx *c = arg;
    const char *const *keys = n == 4 ? err_keys : gap_keys;
    if (c->json) {
        fputs(c->first ? "{" : ",{", stdout);
        for (int i = 0; i < n; i++) {
            fprintf(stdout, "%s\"%s\":", i ? "," : "", keys[i]);
            output_json_string(stdout, cols[i]);
        }
        fputc('}', stdout);
    } else {
        fputs("  ", stdout);
        for (int i = 0; i < n; i++) {
            output_terminal_text(stdout, cols[i], i == 0 ? 20 : i == n - 1 ? 60 : 24);
            fputs(i == n - 1 ? "\n" : "  ", stdout);
        }
    }
    c->first = 0;
    return 0;
}

/* An unacknowledged detection (id, last_seen, computer, ip, url), newest first. */
static int unacked_print(void *arg, const char *const *cols, int n)
{
    static const char *const keys[] = {"id", "last_seen", "computer", "ip", "url"};
    status_ctx *c = arg;
    if (n < 5)
        return 1;
    if (c->json) {
        /* The id is a number, as in detections_v1: a reader passes it to `bitsguard ack` as it is. */
        fprintf(stdout, "%s{\"id\":%s", c->first ? "" : ",", cols[0] ? cols[0] : "null");
        for (int i = 1; i < n; i++) {
            fprintf(stdout, ",\"%s\":", keys[i]);
            output_json_string(stdout, cols[i]);
        }
        fputc('}', stdout);
    } else {
        fputs("  #", stdout);
        output_terminal_text(stdout, cols[0], 20);
        for (int i = 1; i < n; i++) {
            fputs("  ", stdout);
            output_terminal_text(stdout, cols[i] ? cols[i] : "-", i == n - 1 ? 60 : 40);
        }
        fputc('\n', stdout);
    }
    c->first = 0;
    return 0;
}

/* Bytes as "28.8 MB" (decimal megabytes, as Task Manager's details and `ps` users read them). */
static void megabytes_print(int64_t bytes)
{
    if (bytes < 0) {
        fputs("unknown", stdout); /* Never sampled, or a crafted row (the store reads negatives as -1). */
        return;
    }
    fprintf(stdout, "%" PRId64 ".%" PRId64 " MB", bytes / 1000000, (bytes % 1000000) / 100000);
}

/* The last health sample of the service (or `bitsguard run`): memory and handles should stay flat. */
static void health_print(const status_ctx *c, const store_health *h)
{
    int known = h->updated_at[0] != '\0';
    int64_t age = known ? age_of(h->updated_at, c->now) : -1;
    if (c->json) {
        if (!known) {
            fputs(",\"service\":null", stdout);
            return;
        }
        fprintf(stdout,
                ",\"service\":{\"pid\":%" PRId64 ",\"rss_bytes\":%" PRId64 ",\"peak_rss_bytes\":%" PRId64
                ",\"handles\":%" PRId64 ",\"updated_at\":",
                h->pid, h->rss_bytes, h->peak_rss_bytes, h->handles);
        output_json_string(stdout, h->updated_at);
        fprintf(stdout, ",\"age_seconds\":%" PRId64 "}", age);
        return;
    }
    fputs("service:          ", stdout);
    if (!known) {
        fputs("(no health sample yet)\n", stdout);
        return;
    }
    fprintf(stdout, "pid %" PRId64 ", ", h->pid);
    megabytes_print(h->rss_bytes);
    fputs(" resident (peak ", stdout);
    megabytes_print(h->peak_rss_bytes);
    fprintf(stdout, "), %" PRId64 " handles, sampled %" PRId64 " s ago\n", h->handles, age);
}

static bg_error lists_print(store *s, status_ctx *c, const store_status *st)
{
    char last[32];
    snprintf(last, sizeof last, " (the last %d)", STATUS_LAST);
    bg_error e;
    if (c->json) {
        fputs(",\"bookmarks\":[", stdout);
    } else {
        fputs("bookmarks:\n", stdout);
    }
    c->first = 1;
    e = store_list_run(s, STORE_LIST_BOOKMARKS, 0, bookmark_print, c);
    if (e != BG_ERR_OK)
        return e;
    if (!c->json && c->first)
        fputs("  (none yet)\n", stdout);
    if (c->json)
        fputs("]", stdout);
    e = computers_print(s, c);
    if (e != BG_ERR_OK)
        return e;
    if (c->json)
        fprintf(stdout, ",\"gaps_total\":%" PRId64 ",\"gaps_last\":[", st->gaps_total);
    else
        fprintf(stdout, "gaps:             %" PRId64 "%s\n", st->gaps_total, st->gaps_total > STATUS_LAST ? last : "");
    c->first = 1;
    e = store_list_run(s, STORE_LIST_GAPS, STATUS_LAST, record_print, c);
    if (e != BG_ERR_OK)
        return e;
    if (c->json)
        fprintf(stdout, "],\"errors_total\":%" PRId64 ",\"errors_last\":[", st->errors_total);
    else
        fprintf(stdout, "errors:           %" PRId64 "%s\n", st->errors_total,
                st->errors_total > STATUS_LAST ? last : "");
    c->first = 1;
    e = store_list_run(s, STORE_LIST_ERRORS, STATUS_LAST, record_print, c);
    if (e != BG_ERR_OK)
        return e;
    if (c->json)
        fprintf(stdout, "],\"detections_unacknowledged\":%" PRId64 ",\"unacknowledged_last\":[",
                st->detections_unacknowledged);
    else
        fprintf(stdout, "unacknowledged:   %" PRId64 "%s\n", st->detections_unacknowledged,
                st->detections_unacknowledged > STATUS_LAST ? last : "");
    c->first = 1;
    e = store_list_run(s, STORE_LIST_UNACKED, STATUS_LAST, unacked_print, c);
    if (c->json)
        fputs("]", stdout);
    return e;
}

int cli_status_main(int argc, char **argv)
{
    const char *db_path = NULL;
    char path_buf[4096];
    char errbuf[4096];
    status_ctx c = {0, 1, (int64_t)time(NULL), (int64_t)STATUS_SILENT_HOURS_DEFAULT * 3600, 0};
    const char *silent_hours = NULL;
    store *s = NULL;
    store_status st;
    int status = CLI_EXIT_OK;

    const cli_opt opts[] = {
        {"db", CLI_OPT_STRING, &db_path, NULL, "PATH", "database file (default: the service's database)"},
        {"json", CLI_OPT_FLAG, &c.json, NULL, NULL, "one JSON object instead of text"},
        {"silent-hours", CLI_OPT_STRING, &silent_hours, NULL, "N",
         "flag a computer whose newest event is older than N hours (default 24)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "status",
        NULL,
        "Shows the database path and size, schema version, detections (total and last 24 h), the newest\n"
        "event, the service's last health sample (process id, resident memory, handles), each channel's\n"
        "bookmark and its age, each computer's events read, detections and last event (collector mode:\n"
        "a computer that stopped forwarding is flagged SILENT), the recorded gaps and errors, and the\n"
        "detections not acknowledged yet (`bitsguard ack`; the last few of each).",
        opts,
        "exit status: 0 success, 2 usage error, 3 database error\n",
    };
    if (cli_opt_parse(&spec, argc, argv, &status) < 0)
        return status;
    if (silent_hours) {
        uint64_t h = 0;
        if (!bg_text_parse_u64(silent_hours, STATUS_SILENT_HOURS_MAX, &h) || h == 0) {
            cli_error("status", "--silent-hours wants a number of hours from 1 to %u: %s", STATUS_SILENT_HOURS_MAX,
                      silent_hours);
            return CLI_EXIT_USAGE;
        }
        c.silent_seconds = (int64_t)h * 3600;
    }
    db_path = cli_db_path("status", db_path, path_buf, sizeof path_buf);
    if (!db_path)
        return CLI_EXIT_ERROR;
    bg_error e = store_open_existing(&s, db_path, errbuf, sizeof errbuf);
    if (e != BG_ERR_OK) {
        cli_error("status", "%s", errbuf[0] ? errbuf : bg_error_str(e));
        return CLI_EXIT_ERROR;
    }
    e = store_status_get(s, c.now, &st);
    if (e != BG_ERR_OK)
        goto cleanup;
    if (c.json) {
        fputs("{\"database\":", stdout);
        output_json_string(stdout, db_path);
        fprintf(stdout,
                ",\"size_bytes\":%" PRId64 ",\"schema_version\":%d,\"detections_total\":%" PRId64
                ",\"detections_24h\":%" PRId64 ",\"detections_allowed\":%" PRId64 ",\"newest_event\":",
                st.size_bytes, st.schema_version, st.detections_total, st.detections_24h, st.detections_allowed);
        output_json_string(stdout, st.newest_event[0] ? st.newest_event : NULL);
        fprintf(stdout, ",\"findings_total\":%" PRId64 ",\"findings\":{", st.findings_total);
        for (int k = 1; k <= FINDING_KIND_LAST; k++)
            fprintf(stdout, "%s\"%s\":%" PRId64, k > 1 ? "," : "", finding_kind_name((finding_kind)k),
                    st.findings_by_kind[k]);
        fputc('}', stdout);
        health_print(&c, &st.health);
    } else {
        fputs("database:         ", stdout);
        output_terminal_text(stdout, db_path, 0);
        fprintf(stdout, " (%" PRId64 " bytes)\n", st.size_bytes);
        fprintf(stdout, "schema version:   %d\n", st.schema_version);
        fprintf(stdout, "detections:       %" PRId64 " total, %" PRId64 " in the last 24 h, %" PRId64 " allow-listed\n",
                st.detections_total, st.detections_24h, st.detections_allowed);
        fprintf(stdout, "findings:         %" PRId64 " total", st.findings_total);
        for (int k = 1; k <= FINDING_KIND_LAST; k++)
            fprintf(stdout, "%s%" PRId64 " %s", k > 1 ? ", " : ": ", st.findings_by_kind[k],
                    finding_kind_name((finding_kind)k));
        fputc('\n', stdout);
        fputs("newest event:     ", stdout);
        output_terminal_text(stdout, st.newest_event[0] ? st.newest_event : "(none)", 40);
        fputc('\n', stdout);
        health_print(&c, &st.health);
    }
    e = lists_print(s, &c, &st);
    if (c.json)
        fputs("}\n", stdout);
cleanup:
    if (e != BG_ERR_OK) {
        cli_error("status", "%s: %s", db_path, bg_error_str(e));
        status = CLI_EXIT_ERROR;
    }
    if (fflush(stdout) != 0 && status == CLI_EXIT_OK)
        status = CLI_EXIT_ERROR;
    store_close(s);
    return status;
}
