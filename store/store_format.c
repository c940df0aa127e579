/* Printing stored detections and findings: a 100-column table, JSON lines and RFC 4180 CSV, built on common/output.h.
 */
#include "store_format.h"

#include <inttypes.h>
#include <string.h>

#include "output.h"

/* Table columns and widths: LAST SEEN, allow flag, COMPUTER, TITLE, IP, READING, URL; one space between. */
enum { W_TIME = 19, W_FLAG = 1, W_COMPUTER = 12, W_TITLE = 12, W_IP = 15, W_READING = 12 };
#define W_URL (STORE_FORMAT_TABLE_WIDTH - W_TIME - W_FLAG - W_COMPUTER - W_TITLE - W_IP - W_READING - 6)

const char *store_format_state_name(detection_state state)
{
    return detection_state_name(state);
}

void store_format_events_seen(FILE *fp, uint32_t events_seen, const char *sep)
{
    detection_seen_write(fp, events_seen, sep);
}

/* One table cell: safe text elided to width, padded unless it is the last column. */
static void cell(FILE *fp, const char *s, size_t width, int last)
{
    size_t used = output_terminal_text(fp, s, width);
    if (!last) {
        for (; used < width; used++)
            fputc(' ', fp);
        fputc(' ', fp);
    }
}

/* "2023-11-06T01:45:21.0240780Z" shown as "2023-11-06 01:45:21" (UTC, as the header says). */
static void time_cell(FILE *fp, const char *t)
{
    char shown[W_TIME + 1];
    size_t len = strlen(t);
    if (len > W_TIME)
        len = W_TIME;
    memcpy(shown, t, len);
    shown[len] = '\0';
    if (len > 10 && shown[10] == 'T')
        shown[10] = ' ';
    cell(fp, shown, W_TIME, 0);
}

static const char *const field_names[] = {
    "event_id",
    "record_id",
    "time",
    "computer",
    "job_id",
    "job_title",
    "job_owner",
    "url",
    "ip",
    "verdict",
    "kind",
    "range",
    "local_name",
    "process_id",
    "process_path",
    "notify_program",
    "notify_parameters",
    "first_seen",
    "last_seen",
    "events_seen",
    "transfer_hr",
    "bytes_total",
    "bytes_transferred",
    "state",
    "allowed",
    "reading",
    "embedded_ipv4",
    "recovered",
};

/* A CSV header line from a list of column names; RFC 4180 lines end with CRLF. */
static void csv_header_write(FILE *fp, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', fp);
        output_csv_cell(fp, names[i]);
    }
    fputs("\r\n", fp);
}

void store_format_header(FILE *fp, store_format fmt)
{
    if (fmt == STORE_FORMAT_TABLE) {
        cell(fp, "LAST SEEN (UTC)", W_TIME, 0);
        cell(fp, "A", W_FLAG, 0);
        cell(fp, "COMPUTER", W_COMPUTER, 0);
        cell(fp, "JOB TITLE", W_TITLE, 0);
        cell(fp, "IP", W_IP, 0);
        cell(fp, "READING", W_READING, 0);
        cell(fp, "URL", W_URL, 1);
        fputc('\n', fp);
    } else if (fmt == STORE_FORMAT_CSV) {
        csv_header_write(fp, field_names, sizeof field_names / sizeof field_names[0]);
    }
}

/* The same object scan --json writes (detection_json_write), one per line. */
static void row_json(FILE *fp, const detection *d)
{
    detection_json_write(fp, d);
    fputc('\n', fp);
}

static void csv_int(FILE *fp, int64_t v, int known)
{
    fputc(',', fp);
    if (known)
        fprintf(fp, "%" PRId64, v);
}

static void csv_text(FILE *fp, const char *s)
{
    fputc(',', fp);
    output_csv_cell(fp, s);
}

static void row_csv(FILE *fp, const detection *d)
{
    fprintf(fp, "%u,%" PRIu64, d->event_id, d->record_id);
    csv_text(fp, d->time);
    csv_text(fp, d->computer);
    csv_text(fp, d->job_id);
    csv_text(fp, d->job_title);
    csv_text(fp, d->job_owner);
    csv_text(fp, d->url);
    csv_text(fp, d->cls.ip);
    csv_text(fp, classify_verdict_name(d->cls.verdict));
    csv_text(fp, classify_kind_name(d->cls.kind));
    csv_text(fp, d->cls.range);
    csv_text(fp, d->local_name);
    csv_int(fp, d->process_id, d->process_id >= 0);
    csv_text(fp, d->process_path);
    csv_text(fp, d->notify_program);
    csv_text(fp, d->notify_parameters);
    csv_text(fp, d->first_seen);
    csv_text(fp, d->last_seen);
    /* The ids joined by ';' so the cell needs no quoting. */
    fputc(',', fp);
    store_format_events_seen(fp, d->events_seen, ";");
    csv_int(fp, d->transfer_hr, d->transfer_hr != INT64_MIN);
    csv_int(fp, d->bytes_total, d->bytes_total >= 0);
    csv_int(fp, d->bytes_transferred, d->bytes_transferred >= 0);
    csv_text(fp, store_format_state_name(d->state));
    fputs(d->allowed ? ",1" : ",0", fp);
    /* Added in schema 3: appended so that readers of the older columns by position still work. */
    csv_text(fp, classify_reading_name(d->cls.reading));
    csv_text(fp, d->cls.embedded_ipv4);
    fputs(d->recovered ? ",1" : ",0", fp); /* Schema 5, appended likewise. */
    fputs("\r\n", fp);
}

static void row_table(FILE *fp, const detection *d)
{
    time_cell(fp, d->last_seen[0] ? d->last_seen : d->time);
    /* A: allow-listed; R: known only from records recovered from an .evtx log's free space (both: A). */
    cell(fp, d->allowed ? "A" : d->recovered ? "R" : "", W_FLAG, 0);
    cell(fp, d->computer, W_COMPUTER, 0);
    cell(fp, d->job_title, W_TITLE, 0);
    cell(fp, d->cls.ip, W_IP, 0);
    cell(fp, classify_reading_name(d->cls.reading), W_READING, 0);
    cell(fp, d->url, W_URL, 1);
    fputc('\n', fp);
}

void store_format_row(FILE *fp, store_format fmt, const detection *d)
{
    switch (fmt) {
    case STORE_FORMAT_JSON:
        row_json(fp, d);
        break;
    case STORE_FORMAT_CSV:
        row_csv(fp, d);
        break;
    default:
        row_table(fp, d);
        break;
    }
}

/* ---- findings --------------------------------------------------------------------------------- */

/* Finding table columns: LAST SEEN, recovered flag, COMPUTER, ALERT, JOB TITLE, WHAT; one space between. */
enum { FW_ALERT = 21 };
#define FW_WHAT (STORE_FORMAT_TABLE_WIDTH - W_TIME - W_FLAG - W_COMPUTER - FW_ALERT - W_TITLE - 5)

static const char *const finding_field_names[] = {
    "alert",
    "event_id",
    "record_id",
    "time",
    "computer",
    "job_id",
    "job_title",
    "job_owner",
    "process_id",
    "process_path",
    "notify_program",
    "notify_parameters",
    "notify_failures",
    "notify_error",
    "server",
    "url",
    "ip",
    "verdict",
    "reading",
    "auth_scheme",
    "user",
    "credentials",
    "channel",
    "state",
    "first_seen",
    "last_seen",
    "recovered",
};

void store_format_finding_header(FILE *fp, store_format fmt)
{
    if (fmt == STORE_FORMAT_TABLE) {
        cell(fp, "LAST SEEN (UTC)", W_TIME, 0);
        cell(fp, "R", W_FLAG, 0);
        cell(fp, "COMPUTER", W_COMPUTER, 0);
        cell(fp, "ALERT", FW_ALERT, 0);
        cell(fp, "JOB TITLE", W_TITLE, 0);
        cell(fp, "WHAT", FW_WHAT, 1);
        fputc('\n', fp);
    } else if (fmt == STORE_FORMAT_CSV) {
        csv_header_write(fp, finding_field_names, sizeof finding_field_names / sizeof finding_field_names[0]);
    }
}

static void finding_row_csv(FILE *fp, const finding *f)
{
    int creds = f->kind == FINDING_CREDENTIALS_DIRECT_IP;
    output_csv_cell(fp, finding_kind_name(f->kind));
    fprintf(fp, ",%u,%" PRIu64, f->event_id, f->record_id);
    csv_text(fp, f->time);
    csv_text(fp, f->computer);
    csv_text(fp, f->job_id);
    csv_text(fp, f->job_title);
    csv_text(fp, f->job_owner);
    csv_int(fp, f->process_id, f->process_id >= 0);
    csv_text(fp, f->process_path);
    csv_text(fp, f->program);
    csv_text(fp, f->parameters);
    csv_int(fp, f->notify_failures, 1);
    csv_int(fp, f->notify_error, f->notify_error != INT64_MIN);
    csv_text(fp, f->server);
    csv_text(fp, f->url);
    csv_text(fp, creds ? f->cls.ip : NULL);
    csv_text(fp, creds ? classify_verdict_name(f->cls.verdict) : NULL);
    csv_text(fp, creds ? classify_reading_name(f->cls.reading) : NULL);
    csv_text(fp, f->scheme);
    csv_text(fp, f->user);
    csv_text(fp, creds ? (f->accepted ? "accepted" : "rejected") : NULL);
    csv_text(fp, f->channel);
    csv_text(fp, f->kind == FINDING_NOTIFY_COMMAND ? store_format_state_name(f->state) : NULL);
    csv_text(fp, f->first_seen);
    csv_text(fp, f->last_seen);
    fputs(f->recovered ? ",1" : ",0", fp);
    fputs("\r\n", fp);
}

/* The WHAT cell: the command line, where the credentials went, or which channel was cleared and by whom.
 * Each part goes through the terminal-safe writer; the cell's width bounds their sum. */
static void finding_what_cell(FILE *fp, const finding *f)
{
    size_t left = FW_WHAT;
    const char *parts[4] = {NULL, NULL, NULL, NULL};
    switch (f->kind) {
    case FINDING_NOTIFY_COMMAND:
        parts[0] = f->program;
        parts[1] = f->parameters;
        break;
    case FINDING_CREDENTIALS_DIRECT_IP:
        parts[0] = f->cls.ip;
        parts[1] = f->accepted ? "accepted" : "rejected";
        parts[2] = f->user;
        parts[3] = f->url;
        break;
    case FINDING_CHANNEL_CLEARED:
        parts[0] = f->channel;
        parts[1] = "by";
        parts[2] = f->user;
        break;
    case FINDING_CHANNEL_DISABLED:
        parts[0] = f->channel;
        parts[1] = "disabled";
        break;
    }
    for (size_t i = 0; i < 4 && left > 1; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        if (left < FW_WHAT) {
            fputc(' ', fp);
            left--;
        }
        left -= output_terminal_text(fp, parts[i], left);
    }
}

static void finding_row_table(FILE *fp, const finding *f)
{
    time_cell(fp, f->last_seen[0] ? f->last_seen : f->time);
    /* R: known only from records recovered from an .evtx log's free space. */
    cell(fp, f->recovered ? "R" : "", W_FLAG, 0);
    cell(fp, f->computer, W_COMPUTER, 0);
    cell(fp, finding_kind_name(f->kind), FW_ALERT, 0);
    cell(fp, f->job_title, W_TITLE, 0);
    finding_what_cell(fp, f);
    fputc('\n', fp);
}

void store_format_finding_row(FILE *fp, store_format fmt, const finding *f)
{
    switch (fmt) {
    case STORE_FORMAT_JSON:
        finding_json_write(fp, f);
        fputc('\n', fp);
        break;
    case STORE_FORMAT_CSV:
        finding_row_csv(fp, f);
        break;
    default:
        finding_row_table(fp, f);
        break;
    }
}
