/* Printing stored detections: a 100-column table, JSON lines and RFC 4180 CSV, built on common/output.h. */
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
        for (size_t i = 0; i < sizeof field_names / sizeof field_names[0]; i++) {
            if (i)
                fputc(',', fp);
            output_csv_cell(fp, field_names[i]);
        }
        /* RFC 4180 lines end with CRLF. */
        fputs("\r\n", fp);
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
