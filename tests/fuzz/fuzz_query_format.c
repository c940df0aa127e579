/* libFuzzer target: arbitrary bytes split into detection fields, printed by the query command's three formats. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_utf.h"
#include "output_unicode.h"
#include "store_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next field: bytes up to a 0x00 separator (strings cannot hold NUL anyway). */
static char *field_next(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *start = *p;
    const uint8_t *sep = memchr(start, 0, (size_t)(end - start));
    size_t len = sep ? (size_t)(sep - start) : (size_t)(end - start);
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, start, len);
    s[len] = '\0';
    *p = sep ? sep + 1 : end;
    return s;
}

static void fixed_copy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The table must never pass a control byte (other than the line end) or any other hidden code point,
 * nor exceed its width in display columns (wide characters 2, combining marks 0). */
static void table_check(const char *out, size_t len)
{
    size_t cols = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)out[i];
        if (c == '\n') {
            cols = 0;
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = bg_utf8_decode((const unsigned char *)out + i, &cp);
        if (n == 0 || output_unicode_hidden(cp))
            abort(); /* invalid UTF-8, C0, DEL, C1 such as CSI, a format character... */
        cols += (size_t)output_unicode_columns(cp);
        if (cols > STORE_FORMAT_TABLE_WIDTH)
            abort();
        i += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16)
        return 0;
    detection d;
    detection_init(&d);
    /* The first 16 bytes drive the numbers and enums, the rest are text fields. */
    d.event_id = (unsigned)(data[0] | data[1] << 8);
    memcpy(&d.record_id, data + 2, 4);
    d.cls.verdict = (classify_verdict)(data[6] % 7);
    d.cls.kind = (classify_kind)(data[7] % 7);
    d.allowed = data[8] & 1;
    d.state = (detection_state)(data[8] >> 1 & 3);
    d.events_seen = data[9] | (uint32_t)data[10] << 8;
    d.process_id = (int8_t)data[11];
    d.transfer_hr = data[12] == 0 ? INT64_MIN : (int64_t)(int32_t)((uint32_t)data[12] << 24 | data[13]);
    d.bytes_total = (int8_t)data[14];
    d.bytes_transferred = (int8_t)data[15];
    const uint8_t *p = data + 16, *end = data + size;
    char *t = field_next(&p, end);
    fixed_copy(d.time, sizeof d.time, t);
    free(t);
    t = field_next(&p, end);
    fixed_copy(d.last_seen, sizeof d.last_seen, t);
    free(t);
    t = field_next(&p, end);
    fixed_copy(d.job_id, sizeof d.job_id, t);
    free(t);
    t = field_next(&p, end);
    fixed_copy(d.cls.ip, sizeof d.cls.ip, t);
    free(t);
    d.computer = field_next(&p, end);
    d.job_title = field_next(&p, end);
    d.job_owner = field_next(&p, end);
    d.url = field_next(&p, end);
    d.local_name = field_next(&p, end);
    d.process_path = field_next(&p, end);
    d.notify_program = field_next(&p, end);
    d.notify_parameters = field_next(&p, end);
    char *range = field_next(&p, end);
    d.cls.range = range[0] ? range : NULL;

    for (int fmt = STORE_FORMAT_TABLE; fmt <= STORE_FORMAT_CSV; fmt++) {
        char *out = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&out, &len);
        if (!fp)
            abort();
        store_format_header(fp, (store_format)fmt);
        store_format_row(fp, (store_format)fmt, &d);
        fclose(fp);
        if (fmt == STORE_FORMAT_TABLE)
            table_check(out, len);
        if (fmt == STORE_FORMAT_JSON &&
            (len == 0 || out[0] != '{' || out[len - 1] != '\n' || memchr(out, '\n', len) != out + len - 1))
            abort(); /* exactly one line, one object */
        free(out);
    }
    free(range);
    detection_clear(&d);
    return 0;
}
