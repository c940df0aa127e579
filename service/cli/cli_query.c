/* bitsguard query: lists stored detections (or findings), filtered by time, IP range, job or computer, as a table, JSON
 * or CSV. */
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_os.h"
#include "bg_text.h"
#include "cli.h"
#include "cli_opt.h"
#include "event.h"
#include "output.h"
#include "store.h"
#include "store_format.h"

/* A value the command line gave that is not usable: said, with where to look; the usage error status. */
static int usage_error(const char *msg, const char *arg)
{
    cli_error("query", "%s: %s", msg, arg);
    fputs("Run 'bitsguard query --help' for the options.\n", stderr);
    return CLI_EXIT_USAGE;
}

typedef struct query_ctx {
    store_format fmt;
    int64_t rows;
    int64_t allowed;   /* rows shown that are allow-listed (the table then explains its A column) */
    int64_t recovered; /* rows shown known only from recovered records (findings' R column) */
} query_ctx;

static int row_print(void *arg, const detection *d)
{
    query_ctx *q = arg;
    store_format_row(stdout, q->fmt, d);
    q->rows++;
    q->allowed += d->allowed != 0;
    q->recovered += d->recovered != 0;
    return 0;
}

static int finding_print(void *arg, const finding *f)
{
    query_ctx *q = arg;
    store_format_finding_row(stdout, q->fmt, f);
    q->rows++;
    q->recovered += f->recovered != 0;
    return 0;
}

/* The computers table's rows of the --computer asked for, under the table: what was read from it. */
static int computer_summary_print(void *ctx, const store_computer *r)
{
    (void)ctx;
    fputs("computer ", stdout);
    output_terminal_text(stdout, r->computer, 64);
    fputs(" on ", stdout);
    output_terminal_text(stdout, r->channel, 64);
    fprintf(stdout, ": events read %" PRId64 ", detections %" PRId64 ", first event ", r->events, r->detections);
    output_terminal_text(stdout, r->first_event ? r->first_event : "(none)", 32);
    fputs(", last event ", stdout);
    output_terminal_text(stdout, r->last_event ? r->last_event : "(none)", 32);
    fputc('\n', stdout);
    return 0;
}

int cli_query_main(int argc, char **argv)
{
    const char *db_path = NULL, *since = NULL, *until = NULL, *ip = NULL, *job = NULL, *computer = NULL;
    const char *limit = NULL, *format = NULL;
    char job_norm[BG_GUID_TEXT_SIZE];
    char path_buf[4096];
    char errbuf[4096];
    store *s = NULL;
    store_filter f;
    query_ctx q = {STORE_FORMAT_TABLE, 0, 0, 0};
    int status = CLI_EXIT_OK;
    int findings = 0;
    store_filter_init(&f);

    const cli_opt opts[] = {
        {"db", CLI_OPT_STRING, &db_path, NULL, "PATH", "database file (default: the service's database)"},
        {"since", CLI_OPT_STRING, &since, NULL, "WHEN",
         "only detections last seen at or after WHEN: 30m, 24h, 7d, 2w or an\nISO 8601 UTC time such as "
         "2023-11-06 or 2023-11-06T01:45:21Z"},
        {"until", CLI_OPT_STRING, &until, NULL, "WHEN",
         "only detections last seen at or before WHEN (inclusive at its\nprecision)"},
        {"ip", CLI_OPT_STRING, &ip, NULL, "CIDR", "only this address or range: 192.0.2.7, 192.0.2.0/24, 2001:db8::/32"},
        {"job", CLI_OPT_STRING, &job, NULL, "GUID", "only this BITS job"},
        {"computer", CLI_OPT_STRING, &computer, NULL, "NAME",
         "only this computer: its name in any case, or its host name alone\n(ws01 for WS01.corp.example); "
         "the table ends with what was read\nfrom it (events, detections, first and last event)"},
        {"limit", CLI_OPT_STRING, &limit, NULL, "N", "at most N detections (0: all, the default)"},
        {"format", CLI_OPT_STRING, &format, NULL, "FORMAT",
         "table (default; fits 100 columns), json (one object per line) or csv"},
        {"all", CLI_OPT_FLAG, &f.include_allowed, NULL, NULL,
         "also list allow-listed detections (marked A in the table)"},
        {"findings", CLI_OPT_FLAG, &findings, NULL, NULL,
         "list the findings instead (notify commands, credentials sent to a direct\nIP, the channel cleared); "
         "the same filters apply (--ip: where credentials\nwent), --all has no effect"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "query",
        NULL,
        "Lists the detections (or with --findings the findings) stored by the service or by 'scan --db',\n"
        "newest first.",
        opts,
        "exit status: 0 success (also when nothing matches), 2 usage error, 3 database error\n",
    };
    if (cli_opt_parse(&spec, argc, argv, &status) < 0)
        return status;

    int64_t now = (int64_t)time(NULL);
    if (since && store_time_bound_parse(since, now, 0, f.since, sizeof f.since) != BG_ERR_OK)
        return usage_error("--since wants 30m, 24h, 7d, 2w or an ISO 8601 UTC time", since);
    if (until && store_time_bound_parse(until, now, 1, f.until, sizeof f.until) != BG_ERR_OK)
        return usage_error("--until wants 30m, 24h, 7d, 2w or an ISO 8601 UTC time", until);
    if (ip) {
        if (store_cidr_parse(ip, f.ip_lo, f.ip_hi) != BG_ERR_OK)
            return usage_error("--ip wants an address or CIDR such as 192.0.2.0/24", ip);
        f.has_ip = 1;
    }
    if (job) {
        if (event_guid_normalize(job, job_norm) != 0)
            return usage_error("--job wants a GUID such as 0b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10", job);
        f.job_id = job_norm;
    }
    f.computer = computer;
    if (limit) {
        uint64_t n = 0;
        if (!bg_text_parse_u64(limit, INT64_MAX, &n))
            return usage_error("--limit wants a number >= 0", limit);
        f.limit = (int64_t)n;
    }
    if (format) {
        if (strcmp(format, "table") == 0)
            q.fmt = STORE_FORMAT_TABLE;
        else if (strcmp(format, "json") == 0)
            q.fmt = STORE_FORMAT_JSON;
        else if (strcmp(format, "csv") == 0)
            q.fmt = STORE_FORMAT_CSV;
        else
            return usage_error("--format wants table, json or csv", format);
    }
    db_path = cli_db_path("query", db_path, path_buf, sizeof path_buf);
    if (!db_path)
        return CLI_EXIT_ERROR;

    bg_error e = store_open_existing(&s, db_path, errbuf, sizeof errbuf);
    if (e != BG_ERR_OK) {
        cli_error("query", "%s", errbuf[0] ? errbuf : bg_error_str(e));
        return CLI_EXIT_ERROR;
    }
    /* RFC 4180 lines end in CR LF, which the formatter writes itself; a Windows text-mode stdout would
     * turn them into CR CR LF (a blank record to CSV readers), so CSV goes out in binary mode. */
    if (q.fmt == STORE_FORMAT_CSV) {
        fflush(stdout);
        bg_os_stream_binary(stdout);
    }
    if (findings) {
        store_format_finding_header(stdout, q.fmt);
        e = store_finding_query_run(s, &f, finding_print, &q);
    } else {
        store_format_header(stdout, q.fmt);
        e = store_query_run(s, &f, row_print, &q);
    }
    if (e != BG_ERR_OK) {
        cli_error("query", "%s: %s", db_path, bg_error_str(e));
        status = CLI_EXIT_ERROR;
    } else if (q.fmt == STORE_FORMAT_TABLE && q.rows == 0) {
        fputs(findings ? "(no findings match)\n" : "(no detections match)\n", stdout);
    } else if (q.fmt == STORE_FORMAT_TABLE && q.allowed) {
        fputs("A: allow-listed (stored, no alert)\n", stdout);
    } else if (q.fmt == STORE_FORMAT_TABLE && findings && q.recovered) {
        fputs("R: known only from records recovered from an .evtx log's free space\n", stdout);
    }
    if (e == BG_ERR_OK && q.fmt == STORE_FORMAT_TABLE && computer) {
        e = store_computers_run(s, computer, 0, computer_summary_print, NULL);
        if (e != BG_ERR_OK) {
            cli_error("query", "%s: %s", db_path, bg_error_str(e));
            status = CLI_EXIT_ERROR;
        }
    }
    if (fflush(stdout) != 0 && status == CLI_EXIT_OK) {
        cli_error("query", "cannot write the output");
        status = CLI_EXIT_ERROR;
    }
    store_close(s);
    return status;
}
