/* bitsguard scan: reads exported Bits-Client event XML and prints (and optionally stores) detections. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_os.h"
#include "classify.h"
#include "cli.h"
#include "cli_opt.h"
#include "correlate.h"
#include "engine.h"
#include "event.h"
#include "evtx.h"
#include "export.h"
#include "finding.h"
#include "output.h"
#include "store.h"

/* Detections stored per transaction: the service's batch size. */
#define SCAN_STORE_BATCH ENGINE_BATCH_MAX

typedef struct scan_ctx {
    int json;
    int show_allowed;
    uint64_t reported;    /* Detections printed. */
    uint64_t findings;    /* Findings printed (notify command, credentials to a direct IP, channel cleared). */
    uint64_t alerting;    /* Of all detections, those not allow-listed. */
    uint64_t malformed;   /* Events skipped. */
    uint64_t over_cap;    /* The correlator's count of detections dropped past the per-job cap, so far. */
    uint64_t many_fields; /* Events with more than EVENT_MAX_FIELDS fields (key fields kept, others dropped). */
    store *db;            /* NULL unless --db. */
    store_tally *tally;   /* With --db: the events read per computer (the computers table). */
    uint64_t untallied;   /* Events of computers past the tally's bound (counted nowhere, reported). */
    detection pending[SCAN_STORE_BATCH];
    size_t pending_count;
    finding pending_findings[SCAN_STORE_BATCH];
    size_t pending_finding_count;
    bg_error store_err; /* First store failure; later batches are not attempted. */
    char errbuf[512];
} scan_ctx;

/* The live channels given with --channel (read after the files). */
typedef struct scan_channels {
    const char *name[16];
    int count;
} scan_channels;

static int scan_channel_add(void *dest, const char *value, char *why, size_t why_len)
{
    scan_channels *ch = dest;
    if (!cli_platform_has_channels) {
        snprintf(why, why_len, "reads the Windows Event Log and works only on Windows");
        return CLI_EXIT_USAGE;
    }
    if (ch->count == (int)(sizeof ch->name / sizeof ch->name[0])) {
        snprintf(why, why_len, "at most %zu channels", sizeof ch->name / sizeof ch->name[0]);
        return CLI_EXIT_USAGE;
    }
    ch->name[ch->count++] = value;
    return CLI_EXIT_OK;
}

static void scan_text_write(FILE *fp, const detection *d)
{
    /* Every value here comes from the event log, i.e. from the attacker: print it terminal-safe. */
    output_terminal_text(fp, d->time[0] ? d->time : "-", 0);
    fputc(' ', fp);
    fputs(classify_verdict_name(d->cls.verdict), fp);
    fputc(' ', fp);
    fputs(d->cls.ip, fp);
    fputs(d->allowed ? " (allowed) " : " ", fp);
    if (d->recovered)
        fputs("(recovered) ", fp);
    output_terminal_text(fp, d->url, 200);
    fputs(" job=", fp);
    fputs(d->job_id[0] ? d->job_id : "-", fp);
    fputs(" title=", fp);
    output_terminal_text(fp, d->job_title ? d->job_title : "-", 60);
    fputs(" process=", fp);
    output_terminal_text(fp, d->process_path ? d->process_path : "-", 100);
    if (d->process_id >= 0)
        fprintf(fp, "(%" PRId64 ")", d->process_id);
    fputs(" computer=", fp);
    output_terminal_text(fp, d->computer, 60);
    const char *reading = classify_reading_name(d->cls.reading);
    fputs(" reading=", fp);
    fputs(reading ? reading : "-", fp);
    fputc('\n', fp);
}

/* Stores the detections and findings in hand in one transaction (the service's batch, without a bookmark). */
static void scan_store_flush(scan_ctx *sc)
{
    if (!sc->db || (sc->pending_count == 0 && sc->pending_finding_count == 0))
        return;
    if (sc->store_err == BG_ERR_OK) {
        const detection *batch[SCAN_STORE_BATCH];
        const finding *findings[SCAN_STORE_BATCH];
        for (size_t i = 0; i < sc->pending_count; i++)
            batch[i] = &sc->pending[i];
        for (size_t i = 0; i < sc->pending_finding_count; i++)
            findings[i] = &sc->pending_findings[i];
        store_batch b = {.dets = batch,
                         .n = sc->pending_count,
                         .findings = findings,
                         .finding_count = sc->pending_finding_count,
                         .tally_channel = STORE_CHANNEL_SCAN};
        bg_error err = store_batch_write(sc->db, &b);
        if (err != BG_ERR_OK) {
            sc->store_err = err;
            cli_error("scan", "storing detections failed: %s", bg_error_str(err));
        }
    }
    for (size_t i = 0; i < sc->pending_count; i++)
        detection_clear(&sc->pending[i]);
    sc->pending_count = 0;
    for (size_t i = 0; i < sc->pending_finding_count; i++)
        finding_clear(&sc->pending_findings[i]);
    sc->pending_finding_count = 0;
}

/* Correlator callback: a detection is printed and stored once, when its job is final. */
static void scan_detection_emit(void *ctx, const detection *d, correlate_change change)
{
    scan_ctx *sc = ctx;
    if (change != CORRELATE_FINAL)
        return;
    if (!d->allowed)
        sc->alerting++;
    if (!d->allowed || sc->show_allowed) {
        if (sc->json) {
            detection_json_write(stdout, d);
            fputc('\n', stdout);
        } else {
            scan_text_write(stdout, d);
        }
        sc->reported++;
    }
    if (sc->db) {
        if (detection_copy(&sc->pending[sc->pending_count], d) != BG_ERR_OK) {
            sc->store_err = BG_ERR_NOMEM;
            return;
        }
        if (++sc->pending_count == SCAN_STORE_BATCH)
            scan_store_flush(sc);
    }
}

/* Correlator callback for findings: printed once, when final. */
static void scan_finding_emit(void *ctx, const finding *f, correlate_change change)
{
    scan_ctx *sc = ctx;
    if (change != CORRELATE_FINAL)
        return;
    sc->findings++;
    if (sc->db) {
        if (finding_copy(&sc->pending_findings[sc->pending_finding_count], f) != BG_ERR_OK) {
            sc->store_err = BG_ERR_NOMEM;
        } else if (++sc->pending_finding_count == SCAN_STORE_BATCH) {
            scan_store_flush(sc);
        }
    }
    if (sc->json) {
        finding_json_write(stdout, f);
        fputc('\n', stdout);
        return;
    }
    /* Attacker-controlled values, printed terminal-safe as detections are. */
    output_terminal_text(stdout, f->time[0] ? f->time : "-", 0);
    fputc(' ', stdout);
    fputs(finding_kind_name(f->kind), stdout);
    if (f->recovered)
        fputs(" (recovered)", stdout);
    switch (f->kind) {
    case FINDING_NOTIFY_COMMAND:
        fputs(" program=", stdout);
        output_terminal_text(stdout, f->program ? f->program : "-", 200);
        fputs(" parameters=", stdout);
        output_terminal_text(stdout, f->parameters ? f->parameters : "-", 200);
        fprintf(stdout, " failures=%" PRIu32, f->notify_failures);
        break;
    case FINDING_CREDENTIALS_DIRECT_IP:
        fprintf(stdout, " %s ip=%s server=", f->accepted ? "accepted" : "rejected", f->cls.ip);
        output_terminal_text(stdout, f->server ? f->server : "-", 100);
        fputs(" url=", stdout);
        output_terminal_text(stdout, f->url ? f->url : "-", 200);
        fputs(" user=", stdout);
        output_terminal_text(stdout, f->user ? f->user : "-", 60);
        break;
    case FINDING_CHANNEL_CLEARED:
    case FINDING_CHANNEL_DISABLED: /* Raised by the service's reader, never by an event; for completeness. */
        fputs(" channel=", stdout);
        output_terminal_text(stdout, f->channel ? f->channel : "-", 100);
        fputs(" by=", stdout);
        output_terminal_text(stdout, f->user && *f->user ? f->user : "-", 60);
        break;
    }
    if (f->kind != FINDING_CHANNEL_CLEARED && f->kind != FINDING_CHANNEL_DISABLED) {
        fputs(" job=", stdout);
        fputs(f->job_id[0] ? f->job_id : "-", stdout);
        fputs(" title=", stdout);
        output_terminal_text(stdout, f->job_title ? f->job_title : "-", 60);
        fputs(" owner=", stdout);
        output_terminal_text(stdout, f->job_owner ? f->job_owner : "-", 60);
        fputs(" process=", stdout);
        output_terminal_text(stdout, f->process_path ? f->process_path : "-", 100);
        if (f->process_id >= 0)
            fprintf(stdout, "(%" PRId64 ")", f->process_id);
    }
    fputs(" computer=", stdout);
    output_terminal_text(stdout, f->computer ? f->computer : "-", 60);
    fputc('\n', stdout);
}

/* Where the events of one input (an export file or an event source) go: the callback context. */
typedef struct scan_input {
    scan_ctx *sc;
    correlator *corr;
    const char *path;
    uint64_t events;    /* Events parsed from this input. */
    uint64_t recovered; /* Of them, from records libevtx recovered. */
} scan_input;

/* A parsed event goes to the correlator; a skipped one is reported with its position. Only
 * BG_ERR_NOMEM stops the scan. */
static bg_error scan_input_event(void *ctx, const event *ev, const export_skip *skip)
{
    scan_input *fc = ctx;
    if (skip != NULL) {
        fc->sc->malformed++;
        if (skip->line == 0) /* An .evtx record: why names it, offset is its place in the file. */
            cli_error("scan", "%s (byte %" PRIu64 "): %s%s%s", fc->path, skip->offset, skip->why,
                      skip->why[0] ? ": " : "", bg_error_str(skip->err));
        else
            cli_error("scan", "%s:%" PRIu64 " (byte %" PRIu64 "): event skipped: %s%s%s", fc->path, skip->line,
                      skip->offset, bg_error_str(skip->err), skip->why[0] ? ": " : "", skip->why);
        return BG_ERR_OK;
    }
    if (ev->fields_dropped > 0)
        fc->sc->many_fields++;
    if (fc->sc->tally) {
        bg_error trc = store_tally_add(fc->sc->tally, ev->computer, ev->time_created);
        if (trc == BG_ERR_NOMEM)
            return trc;
        if (trc != BG_ERR_OK)
            fc->sc->untallied++;
    }
    fc->events++;
    if (ev->recovered)
        fc->recovered++;
    bg_error rc = correlate_event_feed(fc->corr, ev);
    correlate_stats st;
    correlate_stats_get(fc->corr, &st);
    if (st.over_cap != fc->sc->over_cap) {
        /* Named once per scan (the summary counts them all): a job with this many direct-IP files is
         * itself worth a look, and what was dropped must not go unseen. */
        if (fc->sc->over_cap == 0) {
            const char *job = event_field_get(ev, "jobId");
            if (job == NULL)
                job = event_field_get(ev, "Id"); /* Events 59/60/61. */
            cli_error("scan",
                      "%s: job %.40s has more than %d detections that are not allow-listed; the others are dropped",
                      fc->path, job != NULL ? job : "-", CORRELATE_MAX_DETECTIONS_PER_JOB);
        }
        fc->sc->over_cap = st.over_cap;
    }
    return rc;
}

/*
 * Reads every event of a live channel (--channel, through EvtQuery on Windows):
 * subscribe runs the query, then wait/next until wait reports the end of results as BG_ERR_STOPPED.
 */
static bg_error scan_source(scan_ctx *sc, correlator *corr, event *ev, event_source *src, const char *name)
{
    uint64_t index = 0;
    scan_input fc = {sc, corr, name, 0, 0};
    bg_error err = src->ops->subscribe(src, name, NULL, 1);
    if (err != BG_ERR_OK) {
        cli_error("scan", "%s: %s", name, bg_error_str(err));
        return err == BG_ERR_NOMEM ? err : BG_ERR_IO;
    }
    while ((err = src->ops->wait(src)) == BG_ERR_OK) {
        for (;;) {
            const char *xml[ENGINE_BATCH_MAX];
            size_t len[ENGINE_BATCH_MAX], count = 0;
            err = src->ops->next(src, ENGINE_BATCH_MAX, xml, len, &count);
            if (err != BG_ERR_OK || count == 0)
                break;
            for (size_t i = 0; i < count; i++, index++) {
                char why[256] = "";
                bg_error perr = event_xml_parse(ev, xml[i], len[i], why, sizeof why);
                export_skip sk = {perr, why, index + 1, 0};
                if (scan_input_event(&fc, perr == BG_ERR_OK ? ev : NULL, perr == BG_ERR_OK ? NULL : &sk) != BG_ERR_OK)
                    return BG_ERR_NOMEM;
            }
        }
        if (err != BG_ERR_OK)
            break;
    }
    src->ops->unsubscribe(src);
    if (err == BG_ERR_STOPPED)
        return BG_ERR_OK;
    cli_error("scan", "%s: reading stopped after %" PRIu64 " events: %s", name, index, bg_error_str(err));
    return BG_ERR_IO;
}

/* An .evtx log through libevtx: its records, then the recovered ones, each reported like an export's
 * events; then one line saying how many records were read and skipped. */
static bg_error scan_evtx(scan_input *fc, FILE *fp, event *ev)
{
    evtx_stats st;
    bg_error rc = evtx_events_read(fp, fc->path, ev, NULL, scan_input_event, fc, &st);
    if (rc == BG_ERR_IO) {
        cli_error("scan", "%s: %s", fc->path, st.why);
        return rc;
    }
    if (rc != BG_ERR_OK)
        return rc;
    char recovered[160] = "";
    if (st.recovered > 0)
        snprintf(recovered, sizeof recovered,
                 "; %" PRIu64 " of %" PRIu64 " recovered-record candidates in free space read, marked recovered",
                 st.recovered_read, st.recovered);
    char chunks[96] = "";
    if (st.chunks_unreadable > 0)
        snprintf(chunks, sizeof chunks, ", %u of its %u chunks missing or unreadable", st.chunks_unreadable, st.chunks);
    if (st.skipped > 0 || st.corrupted || st.chunks_unreadable > 0)
        fprintf(stderr, "bitsguard scan: %s: %s .evtx log: %" PRIu64 " records read, %" PRIu64 " skipped%s%s (%s)\n",
                fc->path, st.corrupted ? "corrupted" : "damaged", st.read, st.skipped, chunks, recovered,
                st.why[0] ? st.why : "libevtx gave no reason");
    else
        fprintf(stderr, "bitsguard scan: %s: %" PRIu64 " records read%s\n", fc->path, st.read, recovered);
    return BG_ERR_OK;
}

/* Reads one input (an .evtx log, told by its signature, or an event export) and feeds its events;
 * returns BG_ERR_IO / BG_ERR_NOMEM on failures that stop the file. A file that yields no event at all is
 * an error: a scan must never end clean because nothing was read. */
static bg_error scan_file(scan_ctx *sc, correlator *corr, event *ev, const char *path)
{
    FILE *fp = NULL;
    bg_error result = BG_ERR_OK;
    int is_stdin = strcmp(path, "-") == 0;
    scan_input fc = {sc, corr, path, 0, 0};

    fp = is_stdin ? stdin : bg_os_file_open(path, "rb");
    if (!fp) {
        cli_error("scan", "%s: %s", path, strerror(errno));
        result = BG_ERR_IO;
        goto cleanup;
    }
    /* Only a regular file can be peeked at and read again from its start; stdin is always XML. */
    unsigned char head[EVTX_SIGNATURE_LEN];
    size_t got = 0;
    if (!is_stdin && bg_os_file_is_regular(fp)) {
        got = fread(head, 1, sizeof head, fp);
        if (bg_os_file_seek(fp, 0) != 0) {
            cli_error("scan", "%s: cannot read it again from its start", path);
            result = BG_ERR_IO;
            goto cleanup;
        }
    }
    if (evtx_signature_match(head, got)) {
        result = scan_evtx(&fc, fp, ev);
    } else {
        result = export_events_read(fp, is_stdin ? "-" : path, ev, NULL, scan_input_event, &fc, NULL);
        if (result == BG_ERR_IO)
            cli_error("scan", "%s: %s", path, bg_error_str(result));
    }
    if (result == BG_ERR_OK && fc.events == 0) {
        cli_error("scan", "%s: no event could be read from it", path);
        result = BG_ERR_IO;
    }

cleanup:
    if (fp && !is_stdin)
        fclose(fp);
    return result;
}

int cli_scan_main(int argc, char **argv)
{
    scan_ctx sc;
    allowlist *allow = NULL;
    correlator *corr = NULL;
    event ev;
    const char *db_path = NULL;
    int report_private = 0;
    int status = CLI_EXIT_ERROR;
    int io_failed = 0;
    scan_channels channels = {{NULL}, 0};

    memset(&sc, 0, sizeof sc);
    event_init(&ev);
    allow = allowlist_new();
    if (!allow) {
        cli_error("scan", "out of memory");
        goto cleanup;
    }
    const cli_opt opts[] = {
        {"json", CLI_OPT_FLAG, &sc.json, NULL, NULL, "one JSON object per detection"},
        {"all", CLI_OPT_FLAG, &sc.show_allowed, NULL, NULL, "also print allow-listed detections (marked allowed)"},
        {"allow", CLI_OPT_CALL, allow, cli_allow_add, "CIDR|HOST",
         "allow-list a CIDR (10.0.0.0/8, 2001:db8::/32), an IP or a host name\n(*.example.com for sub-domains)"},
        {"report-private", CLI_OPT_FLAG, &report_private, NULL, NULL, "also report private and special-range IPs"},
        {"db", CLI_OPT_STRING, &db_path, NULL, "PATH",
         "also store the detections in this database (bitsguard query reads it)"},
        {"channel", CLI_OPT_CALL, &channels, scan_channel_add, "NAME",
         "(Windows) read a live event log channel, e.g.\nMicrosoft-Windows-Bits-Client/Operational"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "scan",
        "FILE...|-",
        "Reads Microsoft-Windows-Bits-Client/Operational events from .evtx logs (told by their signature,\n"
        "read with libevtx on every platform, recovered records included) or exported as XML (wevtutil qe\n"
        "/f:xml, Get-WinEvent ToXml, <Events> files, python-evtx or evtxexport output; '-' is stdin, XML only)\n"
        "and prints one line per BITS job fetching a file from a direct, globally reachable IP address, and\n"
        "per other abuse: a notify command line (persistence), job credentials sent to a direct IP, the\n"
        "channel cleared (event 104 of a System export or log given beside it).",
        opts,
        "A summary goes to stderr. Malformed events and unreadable .evtx records are reported with their\n"
        "position and skipped; a damaged .evtx log is reported with the records read and skipped; a file\n"
        "that yields no event at all is an input error.\n"
        "exit status: 0 nothing found, 1 detections found, 2 usage error, 3 input or database error\n",
    };
    int files = cli_opt_parse(&spec, argc, argv, &status);
    if (files < 0)
        goto cleanup;
    if (files == 0 && channels.count == 0) {
        cli_error("scan", "no input file (use - for stdin; see bitsguard scan --help)");
        status = CLI_EXIT_USAGE;
        goto cleanup;
    }
    if (db_path && store_open(&sc.db, db_path, NULL, sc.errbuf, sizeof sc.errbuf) != BG_ERR_OK) {
        cli_error("scan", "%s", sc.errbuf);
        goto cleanup;
    }
    if (sc.db && sc.errbuf[0] != '\0') /* Opened, with something to say (a damaged file moved aside). */
        cli_error("scan", "%s", sc.errbuf);
    if (sc.db && !(sc.tally = store_tally_new())) {
        cli_error("scan", "out of memory");
        goto cleanup;
    }

    correlate_config cfg = {
        .allow = allow, .report_private = report_private, .finding = scan_finding_emit, .finding_ctx = &sc};
    corr = correlate_new(&cfg, scan_detection_emit, &sc);
    if (!corr) {
        cli_error("scan", "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < files + channels.count; i++) {
        /* Channels (--channel) come after the files. */
        const char *name = i < files ? argv[i] : channels.name[i - files];
        bg_error err;
        if (i >= files) {
            char why[200] = "";
            event_source *src = cli_platform_channel_new(name, why, sizeof why);
            if (!src) {
                cli_error("scan", "%s: %s", name, why);
                err = BG_ERR_IO;
            } else {
                err = scan_source(&sc, corr, &ev, src, name);
                src->ops->destroy(src);
            }
        } else {
            err = scan_file(&sc, corr, &ev, name);
        }
        if (err == BG_ERR_NOMEM) {
            cli_error("scan", "out of memory");
            goto cleanup;
        }
        if (err != BG_ERR_OK)
            io_failed = 1;
    }
    correlate_flush(corr);
    scan_store_flush(&sc);
    if (sc.db && sc.store_err == BG_ERR_OK) {
        bg_error terr = store_tally_commit(sc.db, STORE_CHANNEL_SCAN, sc.tally);
        if (terr != BG_ERR_OK) {
            sc.store_err = terr;
            cli_error("scan", "storing the per-computer counts failed: %s", bg_error_str(terr));
        }
    }
    if (sc.untallied > 0)
        cli_error("scan", "%" PRIu64 " events of computers past the first %lu were not counted per computer",
                  sc.untallied, (unsigned long)store_tally_count(sc.tally));
    /* An incident responder's `scan ... > out.json` on a full disk must not end as "detections found"
     * with nothing written: a failed write is an error (exit 3), as classify, jobs and query treat it. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("scan", "error writing the output: the detections printed are incomplete");
        io_failed = 1;
    }

    correlate_stats st;
    correlate_stats_get(corr, &st);
    fprintf(stderr,
            "bitsguard scan: %" PRIu64 " events read, %" PRIu64 " BITS events, %" PRIu64 " detections (%" PRIu64
            " allow-listed), %" PRIu64 " other findings, %" PRIu64 " malformed events skipped\n",
            st.events + sc.malformed, st.bits_events, st.detections, st.allowed, sc.findings, sc.malformed);
    if (sc.many_fields > 0)
        cli_error("scan",
                  "%" PRIu64 " events had more than %d fields: the ones bitsguard reads were kept, others dropped",
                  sc.many_fields, EVENT_MAX_FIELDS);
    if (st.over_cap + st.over_cap_allowed > 0) {
        char detail[200];
        snprintf(detail, sizeof detail,
                 "dropped %" PRIu64 " detections past the cap of %d per job (not allow-listed) and %" PRIu64
                 " allow-listed ones past theirs",
                 st.over_cap, CORRELATE_MAX_DETECTIONS_PER_JOB, st.over_cap_allowed);
        cli_error("scan", "%s", detail);
        if (sc.db && st.over_cap > 0 &&
            store_error_record(sc.db, "scan.correlate", BG_ERR_TOO_LARGE, detail) != BG_ERR_OK)
            cli_error("scan", "recording the dropped detections in the errors table failed");
    }
    if (io_failed || sc.store_err != BG_ERR_OK)
        status = CLI_EXIT_ERROR;
    else
        status = sc.alerting || sc.findings || st.over_cap > 0 ? CLI_EXIT_DETECTED : CLI_EXIT_OK;

cleanup:
    correlate_free(corr);
    for (size_t i = 0; i < sc.pending_count; i++)
        detection_clear(&sc.pending[i]);
    store_close(sc.db);
    store_tally_free(sc.tally);
    allowlist_free(allow);
    event_free(&ev);
    return status;
}
