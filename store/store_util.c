/* Store helpers without SQL: UTC time text, time bounds, IP and CIDR parsing, default database path, file check. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_text.h"
#include "ipaddr.h"
#include "store_internal.h"

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0000-01-01T00:00:00Z, the earliest time with a four-digit year. */
#define STORE_TIME_MIN_UNIX (-62167219200LL)

void store_time_format(int64_t unix_s, char *buf, size_t n)
{
    int64_t days = unix_s / 86400, secs = unix_s % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
}

/* Reads exactly width digits at *p into *out; advances *p. */
static int digits_read(const char **p, int width, int *out)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += width;
    *out = v;
    return 0;
}

/* Parses an ISO 8601 UTC time; *prec_len receives the length of its normalized prefix (date, minute
 * or second precision, without fraction or Z) so a bound can cover the text's precision. */
static int iso_parse(const char *text, int64_t *unix_out, char *norm, size_t normlen)
{
    const char *p = text;
    int y, mo, d, h = 0, mi = 0, s = 0;
    int have_time = 0, have_sec = 0;
    if (digits_read(&p, 4, &y) || *p++ != '-' || digits_read(&p, 2, &mo) || *p++ != '-' || digits_read(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits_read(&p, 2, &h) || *p++ != ':' || digits_read(&p, 2, &mi))
            return -1;
        have_time = 1;
        if (*p == ':') {
            p++;
            if (digits_read(&p, 2, &s))
                return -1;
            have_sec = 1;
            if (*p == '.') {
                /* A fraction is accepted but bounds are kept at whole seconds. */
                p++;
                if (!isdigit((unsigned char)*p))
                    return -1;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    if (*p != '\0')
        return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 60)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    *unix_out = bg_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (norm) {
        /* Every field is already in range; the modulos let the compiler see that the text fits (gcc
         * -O3 checks snprintf bounds from the types alone). */
        unsigned uy = (unsigned)y % 10000u, umo = (unsigned)mo % 100u, ud = (unsigned)d % 100u;
        unsigned uh = (unsigned)h % 100u, umi = (unsigned)mi % 100u, us = (unsigned)s % 100u;
        if (!have_time)
            snprintf(norm, normlen, "%04u-%02u-%02u", uy, umo, ud);
        else if (!have_sec)
            snprintf(norm, normlen, "%04u-%02u-%02uT%02u:%02u", uy, umo, ud, uh, umi);
        else
            snprintf(norm, normlen, "%04u-%02u-%02uT%02u:%02u:%02u", uy, umo, ud, uh, umi, us);
    }
    return 0;
}

int store_time_unix(const char *text, int64_t *out)
{
    return text ? iso_parse(text, out, NULL, 0) : -1;
}

bg_error store_time_bound_parse(const char *text, int64_t now_unix, int is_until, char *out, size_t n)
{
    if (!text || !*text || n < 32)
        return BG_ERR_INVALID_ARG;
    /* A relative age: digits then one unit. */
    const char *p = text;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
        if (v > INT64_MAX / 100000)
            return BG_ERR_INVALID_ARG;
        v = v * 10 + (*p - '0');
        p++;
    }
    if (p != text && p[0] && !p[1] && !(p - text == 4 && p[0] == '-')) {
        int64_t unit;
        switch (p[0]) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        default:
            return BG_ERR_INVALID_ARG;
        }
        /* An age reaching before 0000-01-01 has no four-digit year to compare with (and v * unit could
         * overflow): refused, as any other bound that cannot be written. */
        if (now_unix < STORE_TIME_MIN_UNIX || v > (now_unix - STORE_TIME_MIN_UNIX) / unit)
            return BG_ERR_INVALID_ARG;
        /* Stored times carry a fraction, so the bare second sorts before every time in that second. */
        char t[BG_TIME_TEXT_SIZE];
        store_time_format(now_unix - v * unit, t, sizeof t);
        t[strlen(t) - 1] = '\0';
        snprintf(out, n, "%s%s", t, is_until ? "~" : "");
        return BG_ERR_OK;
    }
    int64_t unused;
    char norm[BG_TIME_TEXT_SIZE];
    if (iso_parse(text, &unused, norm, sizeof norm) != 0)
        return BG_ERR_INVALID_ARG;
    /* '~' sorts after every character of a stored time, so "2023-11-06~" covers the whole day. */
    snprintf(out, n, "%s%s", norm, is_until ? "~" : "");
    return BG_ERR_OK;
}

/* Parses len bytes of an address with the detector's strict parsers (dotted quads without leading
 * zeros, RFC 4291 IPv6 text); *is_v4 tells which form it had. Returns 0 on success. */
static int ip_parse(const char *s, size_t len, uint8_t out[16], int *is_v4)
{
    uint8_t v4[4];
    if (ipaddr_v4_parse_dotted(s, len, v4)) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, v4, 4);
        *is_v4 = 1;
        return 0;
    }
    *is_v4 = 0;
    return ipaddr_v6_parse(s, len, out) ? 0 : -1;
}

int store_ip_bytes(const char *text, uint8_t out[16])
{
    int is_v4;
    if (!text || !*text)
        return -1;
    size_t len = strlen(text);
    /* Tolerate the bracketed form of URLs. */
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
        return ip_parse(text + 1, len - 2, out, &is_v4);
    return ip_parse(text, len, out, &is_v4);
}

bg_error store_cidr_parse(const char *text, uint8_t lo[16], uint8_t hi[16])
{
    if (!text)
        return BG_ERR_INVALID_ARG;
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    int is_v4;
    if (alen == 0 || ip_parse(text, alen, lo, &is_v4) != 0)
        return BG_ERR_INVALID_ARG;
    int prefix = is_v4 ? 32 : 128;
    if (slash) {
        const char *p = slash + 1;
        if (!isdigit((unsigned char)*p) || strlen(p) > 3)
            return BG_ERR_INVALID_ARG;
        int v = 0;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p))
                return BG_ERR_INVALID_ARG;
            v = v * 10 + (*p - '0');
        }
        if (v > prefix)
            return BG_ERR_INVALID_ARG;
        prefix = v;
    }
    /* IPv4 prefixes apply after the 96 bits of the mapped form. */
    int bits = is_v4 ? 96 + prefix : prefix;
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        lo[i] = (uint8_t)(lo[i] & mask);
        hi[i] = (uint8_t)(lo[i] | (uint8_t)~mask);
    }
    return BG_ERR_OK;
}

static bg_error path_default(char *buf, size_t n, int create)
{
    const char sep = bg_os_path_sep;
    bg_error e = BG_ERR_OK;
    char *base = bg_os_data_home();
    if (!base || !*base) {
        e = BG_ERR_CONFIG;
        goto cleanup;
    }
    int len = snprintf(buf, n, "%s%c" STORE_FOLDER_NAME "%c" STORE_DATABASE_NAME, base, sep, sep);
    if (len < 0 || (size_t)len >= n) {
        e = BG_ERR_TOO_LARGE;
        goto cleanup;
    }
    if (!create)
        goto cleanup;
    /* Create each missing folder on the way (XDG: missing folders are created 0700). */
    char *last = strrchr(buf, sep);
    for (char *p = strchr(buf + 1, sep); p && p <= last; p = strchr(p + 1, sep)) {
        if (p[-1] == ':' || p[-1] == sep)
            continue; /* "C:" or a doubled separator */
        *p = '\0';
        int rc = bg_os_folder_make(buf);
        *p = sep;
        if (rc != 0) {
            e = BG_ERR_IO;
            goto cleanup;
        }
    }
cleanup:
    free(base);
    return e;
}

bg_error store_path_default(char *buf, size_t n)
{
    return path_default(buf, n, 1);
}

bg_error store_path_default_find(char *buf, size_t n)
{
    return path_default(buf, n, 0);
}

int store_file_exists(const char *path)
{
    FILE *fp = bg_os_file_open(path, "rb");
    if (!fp)
        return errno != ENOENT && errno != ENOTDIR ? -1 : 0;
    fclose(fp);
    return 1;
}

/* 1 when the first strlen(want) bytes of s are want, ignoring ASCII case. */
static int text_starts_with_nocase(const char *s, const char *want)
{
    for (; *want; s++, want++) {
        if (tolower((unsigned char)*s) != tolower((unsigned char)*want))
            return 0;
    }
    return 1;
}

int store_file_is_ours(const char *name)
{
#define STORE_SIDECAR_TAIL(s) STORE_DATABASE_TAIL s,
    static const char *const tails[] = {STORE_DATABASE_TAIL, STORE_SIDECARS(STORE_SIDECAR_TAIL)};
#undef STORE_SIDECAR_TAIL
    static const char copy[] = STORE_DATABASE_TAIL STORE_CORRUPT_INFIX;
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        size_t t = strlen(tails[i]);
        if (n > t && text_starts_with_nocase(name + n - t, tails[i]))
            return 1;
    }
    /* A corrupt copy "<name>.db.corrupt-STAMP[-N]", or one of its sidecars. */
    for (size_t i = 1; i + sizeof copy - 1 <= n; i++) {
        if (text_starts_with_nocase(name + i, copy))
            return 1;
    }
    return 0;
}
