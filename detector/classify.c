/* Classification of BITS remote names: host extraction (WHATWG URL rules, UNC, local paths) and verdicts. */
#include "classify.h"

#include <string.h>

#include "idna.h"
#include "ipaddr.h"
#include "wildcard_dns.h"

/*
 * Design notes.
 * - One pass over the scheme and the authority only: the path and query are never scanned, so an IP
 *   in a query string cannot influence the verdict, and long URLs cost no more than short ones. The
 *   other readings (http_readings) run only when WHATWG's reaches no public IP, and only those whose
 *   trigger is present ('\\' or '?' or '#' ending the authority, a wide port, an invalid host); the
 *   "authority" reading alone reads on to the first '/', which a URL without a path may put in its
 *   query ("http://u?@IP" is IP to a reader that ends the authority there).
 * - No allocation: the host is streamed through a small state machine (host_scan) that lower-cases,
 *   percent-decodes, checks forbidden code points, copies a bounded display copy, and parses the
 *   labels as WHATWG IPv4 numbers at the same time, so hosts of any length are classified whole.
 * - Numbers saturate at 2^32, so a 1000-digit part is an overflow (invalid), never a wrap-around.
 */

static int char_is_trim(unsigned char c)
{
    return c <= 0x20 || c == 0x7F;
}

static int char_is_sep(char c)
{
    return c == '/' || c == '\\';
}

static int char_is_tabnl(char c)
{
    return c == '\t' || c == '\n' || c == '\r';
}

static int char_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Character classes, generated once by a script so the hot loops need one load per byte:
 * CC_PLAIN: ASCII allowed in a domain label (not forbidden, not '.'); CC_UPPER: 'A'..'Z';
 * CC_AUTH: bytes that matter while scanning an authority (/ \\ ? # @ [ ] :). */
enum { CC_PLAIN = 1, CC_UPPER = 2, CC_AUTH = 4 };
static const unsigned char char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 4, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 0, 1, 0, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The WHATWG "forbidden domain code points" (forbidden host code points, C0 controls, % and DEL). */
static int char_is_forbidden(unsigned char c)
{
    if (c < 0x20 || c == 0x7F)
        return 1;
    switch (c) {
    case ' ':
    case '#':
    case '%':
    case '/':
    case ':':
    case '<':
    case '>':
    case '?':
    case '@':
    case '[':
    case '\\':
    case ']':
    case '^':
    case '|':
        return 1;
    default:
        return 0;
    }
}

/* Streaming host analysis state; see the design notes above. */
typedef struct host_scan {
    char *out;             /* Display copy (the result's host). */
    size_t cap;            /* Its size including the NUL. */
    size_t n;              /* Bytes in out. */
    int truncated;         /* Display copy was cut. */
    size_t len;            /* Decoded host length. */
    int bad;               /* A forbidden code point was seen. */
    int nonascii;          /* A byte >= 0x80 was seen (an IDNA host). */
    unsigned utf8_need;    /* UTF-8 continuation bytes still expected, */
    unsigned char utf8_lo; /* and the bounds of the next one (overlongs, surrogates, > U+10FFFF). */
    unsigned char utf8_hi;
    unsigned labels;       /* Labels ended by a dot so far. */
    int prev_numeric;      /* The last label ended by a dot "ends in a number". */
    int parts_ok;          /* Every label ended so far parsed as an IPv4 number. */
    uint64_t parts[4];     /* Their values (saturated at 2^32), first four only. */
    size_t lab_len;        /* Current label: length, */
    int lab_digits;        /* only ASCII digits, */
    int lab_num_ok;        /* valid IPv4 number so far, */
    int lab_state;         /* 0 start, 1 after a leading 0, 2 in digits, */
    unsigned lab_radix;    /* radix, */
    uint64_t lab_value;    /* value. */
    unsigned char seq[4];  /* A UTF-8 sequence gathered for the IDNA table (see host_scan_byte), */
    unsigned nseq;         /* its bytes so far */
    unsigned seq_len;      /* and its length from the lead byte. */
    unsigned idna_sources; /* Bits 1 << idna_source of the IDNA mappings applied. */
} host_scan;

#define NUMBER_SATURATED ((uint64_t)1 << 32)

static void host_scan_init(host_scan *hs, char *out, size_t cap)
{
    memset(hs, 0, sizeof *hs);
    hs->out = out;
    hs->cap = cap;
    hs->parts_ok = 1;
    hs->lab_digits = 1;
    hs->lab_num_ok = 1;
}

static void host_scan_label_char(host_scan *hs, unsigned char c)
{
    hs->lab_len++;
    if (c < '0' || c > '9')
        hs->lab_digits = 0;
    if (!hs->lab_num_ok)
        return;
    if (hs->lab_state == 0) {
        if (c == '0') {
            /* "0" alone is 0; "0x..." is hex; "0..." is octal (the WHATWG IPv4 number parser). */
            hs->lab_state = 1;
            hs->lab_radix = 8;
            return;
        }
        hs->lab_radix = 10;
        hs->lab_state = 2;
    } else if (hs->lab_state == 1) {
        hs->lab_state = 2;
        if (c == 'x') {
            hs->lab_radix = 16;
            return;
        }
    }
    int d = ipaddr_hex_value((char)c);
    if (d < 0 || (unsigned)d >= hs->lab_radix) {
        hs->lab_num_ok = 0;
        return;
    }
    hs->lab_value = hs->lab_value * hs->lab_radix + (unsigned)d;
    if (hs->lab_value > NUMBER_SATURATED)
        hs->lab_value = NUMBER_SATURATED;
}

/* Ends the current label: returns whether it "ends in a number" and records it as an IPv4 part. */
static int host_scan_label_end(host_scan *hs)
{
    int numeric = hs->lab_len > 0 && (hs->lab_digits || hs->lab_num_ok);
    int ok = hs->lab_len > 0 && hs->lab_num_ok;
    if (hs->labels < 4)
        hs->parts[hs->labels] = hs->lab_value;
    if (!ok)
        hs->parts_ok = 0;
    if (hs->labels < 5)
        hs->labels++; /* Saturated: five or more labels can never be an IPv4 address. */
    hs->lab_len = 0;
    hs->lab_digits = 1;
    hs->lab_num_ok = 1;
    hs->lab_state = 0;
    hs->lab_value = 0;
    return numeric;
}

/*
 * WHATWG decodes the percent-decoded host as UTF-8 and IDNA rejects the U+FFFD that invalid bytes
 * become, so a host with invalid UTF-8 is invalid. Same rules as RFC 3629's table.
 */
static void host_scan_utf8(host_scan *hs, unsigned char c)
{
    if (hs->utf8_need) {
        if (c < hs->utf8_lo || c > hs->utf8_hi) {
            hs->bad = 1;
            hs->utf8_need = 0;
            return;
        }
        hs->utf8_need--;
        hs->utf8_lo = 0x80;
        hs->utf8_hi = 0xBF;
        return;
    }
    hs->utf8_lo = 0x80;
    hs->utf8_hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        hs->utf8_need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        hs->utf8_need = 2;
        if (c == 0xE0)
            hs->utf8_lo = 0xA0;
        else if (c == 0xED)
            hs->utf8_hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        hs->utf8_need = 3;
        if (c == 0xF0)
            hs->utf8_lo = 0x90;
        else if (c == 0xF4)
            hs->utf8_hi = 0x8F;
    } else {
        hs->bad = 1;
    }
}

static void host_scan_ascii(host_scan *hs, unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        c = (unsigned char)(c + ('a' - 'A'));
    hs->len++;
    if (hs->n + 1 < hs->cap)
        hs->out[hs->n++] = (char)c;
    else
        hs->truncated = 1;
    if (c >= 0x80) {
        hs->nonascii = 1;
        host_scan_utf8(hs, c);
    } else {
        if (hs->utf8_need)
            hs->bad = 1; /* A truncated UTF-8 sequence. */
        if (char_is_forbidden(c))
            hs->bad = 1;
    }
    if (c == '.')
        hs->prev_numeric = host_scan_label_end(hs);
    else
        host_scan_label_char(hs, c);
}

/* Passes a gathered sequence on unmapped: host_scan_ascii checks its UTF-8 and marks the host non-ASCII. */
static void host_scan_flush(host_scan *hs)
{
    for (unsigned k = 0; k < hs->nseq; k++)
        host_scan_ascii(hs, hs->seq[k]);
    hs->nseq = 0;
}

/*
 * One decoded host byte. WHATWG maps a non-ASCII host through UTS 46 before it looks for an IPv4
 * address, so fullwidth, mathematical, circled, superscript or segmented digits, ideographic full
 * stops and ignored code points (soft hyphen, zero-width space, word joiner, BOM) can spell one. A
 * complete, minimal UTF-8 sequence that the IDNA table (idna.h) maps to ASCII is replaced by that
 * ASCII, noting which reading's mapping it was; any other sequence is passed on as it is and keeps
 * the host a domain (or makes it invalid when it is not UTF-8).
 */
static void host_scan_byte(host_scan *hs, unsigned char c)
{
    if (hs->nseq == 0) {
        if (c >= 0xC2 && c <= 0xF4) {
            hs->seq[0] = c;
            hs->nseq = 1;
            hs->seq_len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            return;
        }
        host_scan_ascii(hs, c);
        return;
    }
    if ((c & 0xC0) != 0x80) {
        host_scan_flush(hs); /* A truncated sequence; c starts afresh. */
        host_scan_byte(hs, c);
        return;
    }
    hs->seq[hs->nseq++] = c;
    if (hs->nseq < hs->seq_len)
        return;
    static const uint32_t lead_mask[5] = {0, 0, 0x1F, 0x0F, 0x07};
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t cp = hs->seq[0] & lead_mask[hs->seq_len];
    for (unsigned k = 1; k < hs->seq_len; k++)
        cp = cp << 6 | (hs->seq[k] & 0x3Fu);
    const char *text;
    size_t len;
    idna_source source;
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8: never mapped. */
    if (cp >= min_cp[hs->seq_len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF) &&
        idna_ascii_map(cp, &text, &len, &source)) {
        hs->nseq = 0;
        hs->idna_sources |= 1u << source;
        for (size_t k = 0; k < len; k++)
            host_scan_ascii(hs, (unsigned char)text[k]);
        return;
    }
    host_scan_flush(hs);
}

/* Feeds raw host bytes; URL hosts (url_mode) skip tab and newline and are percent-decoded. */
static void host_scan_feed(host_scan *hs, const char *s, const char *e, int url_mode)
{
    while (s < e) {
        unsigned char c = (unsigned char)*s++;
        unsigned char cc = char_class[c];
        if ((cc & CC_PLAIN) && !(hs->lab_num_ok | hs->lab_digits | hs->nseq | hs->utf8_need)) {
            /* Fast path: a run of plain characters inside a label already known not to be a number
             * only needs to be lower-cased and copied (the label state cannot change any more). */
            const char *run = s - 1;
            while (s < e && (char_class[(unsigned char)*s] & CC_PLAIN))
                s++;
            size_t n = (size_t)(s - run);
            hs->len += n;
            hs->lab_len += n;
            size_t room = hs->cap - 1 - hs->n;
            if (n > room) {
                n = room;
                hs->truncated = 1;
            }
            char *o = hs->out + hs->n;
            for (size_t k = 0; k < n; k++) {
                unsigned char r = (unsigned char)run[k];
                /* CC_UPPER is 2: shifted left by 4 it is the 0x20 that lower-cases an ASCII letter. */
                o[k] = (char)(r | ((char_class[r] & CC_UPPER) << 4));
            }
            hs->n += n;
            continue;
        }
        if (url_mode) {
            if (char_is_tabnl((char)c))
                continue;
            if (c == '%') {
                const char *q = s;
                int h[2], k = 0;
                while (k < 2 && q < e) {
                    if (char_is_tabnl(*q)) {
                        q++;
                        continue;
                    }
                    h[k] = ipaddr_hex_value(*q++);
                    if (h[k] < 0)
                        break;
                    k++;
                }
                if (k == 2) {
                    c = (unsigned char)(h[0] << 4 | h[1]);
                    s = q;
                }
            }
        }
        host_scan_byte(hs, c);
    }
}

typedef enum host_kind {
    HOST_INVALID,
    HOST_DOMAIN,
    HOST_V4,
} host_kind;

/* Finishes the scan: an invalid host, a domain, or an IPv4 address in v4. */
static host_kind host_scan_finish(host_scan *hs, uint8_t v4[4])
{
    int last_numeric;
    unsigned n;
    host_scan_flush(hs);
    if (hs->utf8_need)
        hs->bad = 1;
    if (hs->cap > 0)
        hs->out[hs->n] = '\0';
    if (hs->bad || hs->len == 0)
        return HOST_INVALID;
    if (hs->lab_len == 0 && hs->labels > 0) {
        /* One trailing dot is dropped. */
        last_numeric = hs->prev_numeric;
        n = hs->labels;
    } else {
        last_numeric = host_scan_label_end(hs);
        n = hs->labels;
    }
    if (!last_numeric)
        return HOST_DOMAIN;
    /* The last label is a number: the host must be an IPv4 address in inet_aton notation. */
    if (n > 4 || !hs->parts_ok)
        return HOST_INVALID;
    for (unsigned k = 0; k + 1 < n; k++) {
        if (hs->parts[k] > 255)
            return HOST_INVALID;
    }
    uint64_t last = hs->parts[n - 1];
    if (last >= ((uint64_t)1 << (8 * (5 - n))))
        return HOST_INVALID;
    uint32_t addr = (uint32_t)last;
    for (unsigned k = 0; k + 1 < n; k++)
        addr += (uint32_t)hs->parts[k] << (8 * (3 - k));
    v4[0] = (uint8_t)(addr >> 24);
    v4[1] = (uint8_t)(addr >> 16);
    v4[2] = (uint8_t)(addr >> 8);
    v4[3] = (uint8_t)addr;
    return HOST_V4;
}

static void result_reset(classify_result *out)
{
    out->verdict = VERDICT_INVALID;
    out->kind = KIND_UNKNOWN;
    out->is_ipv6 = 0;
    out->ip[0] = '\0';
    out->host[0] = '\0';
    out->range = NULL;
    memset(out->addr, 0, sizeof out->addr);
    out->host_truncated = 0;
    out->reading = READING_NONE;
    out->embedded_ipv4[0] = '\0';
}

static void result_set_v4(classify_result *out, const uint8_t v4[4])
{
    uint32_t a = (uint32_t)v4[0] << 24 | (uint32_t)v4[1] << 16 | (uint32_t)v4[2] << 8 | v4[3];
    memset(out->addr, 0, sizeof out->addr);
    memcpy(out->addr, v4, 4);
    out->is_ipv6 = 0;
    ipaddr_v4_format(v4, out->ip, sizeof out->ip);
    out->range = iprange_v4_lookup(a);
    out->verdict = out->range ? VERDICT_PRIVATE_IP : VERDICT_PUBLIC_IP;
}

/*
 * An IPv6 literal. The host becomes "[text]" as a URL serializer writes it. Mapped addresses are
 * reported as their IPv4 address; NAT64 (64:ff9b::/96) and 6to4 (2002::/16) stay IPv6 but take the
 * verdict and range of the IPv4 address they carry, since that is where the traffic goes.
 */
static void result_set_v6(classify_result *out, const uint8_t a[16])
{
    char text[CLASSIFY_IP_MAX];
    uint8_t v4[4];
    size_t n = ipaddr_v6_format(a, text, sizeof text);
    out->host[0] = '[';
    memcpy(out->host + 1, text, n);
    out->host[n + 1] = ']';
    out->host[n + 2] = '\0';
    ipaddr_embed embed = ipaddr_v6_embedded_v4(a, v4);
    if (embed == IPADDR_EMBED_MAPPED) {
        result_set_v4(out, v4);
        return;
    }
    memcpy(out->addr, a, 16);
    out->is_ipv6 = 1;
    memcpy(out->ip, text, n + 1);
    if (embed == IPADDR_EMBED_NONE) {
        out->range = iprange_v6_lookup(a);
    } else {
        ipaddr_v4_format(v4, out->embedded_ipv4, sizeof out->embedded_ipv4);
        out->range = iprange_v4_lookup((uint32_t)v4[0] << 24 | (uint32_t)v4[1] << 16 | (uint32_t)v4[2] << 8 | v4[3]);
    }
    out->verdict = out->range ? VERDICT_PRIVATE_IP : VERDICT_PUBLIC_IP;
}

/* Parses IPv6 text with an optional zone ("fe80::1%eth0", or "%25eth0" in URLs per RFC 6874). */
static int v6_text_parse(const char *s, size_t len, int url_mode, uint8_t a[16])
{
    const char *pct = memchr(s, '%', len);
    if (pct) {
        const char *z = pct + 1, *ze = s + len;
        if (url_mode && ze - z > 2 && z[0] == '2' && z[1] == '5')
            z += 2;
        if (z == ze)
            return 0;
        for (const char *q = z; q < ze; q++) {
            char c = *q;
            if (!(char_is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~'))
                return 0;
        }
        len = (size_t)(pct - s);
    }
    return ipaddr_v6_parse(s, len, a);
}

/* A bracketed IPv6 host "[...]": h points at '[', he is the end of the host. */
static int bracket_parse(const char *h, const char *he, int url_mode, uint8_t a[16])
{
    char buf[128];
    size_t n = 0;
    const char *q = h + 1;
    while (he > q && url_mode && char_is_tabnl(he[-1]))
        he--;
    if (he <= q || he[-1] != ']')
        return 0;
    he--;
    for (; q < he; q++) {
        if (url_mode && char_is_tabnl(*q))
            continue;
        if (n >= sizeof buf)
            return 0; /* Longer than any IPv6 text with a sane zone. */
        buf[n++] = *q;
    }
    return v6_text_parse(buf, n, url_mode, a);
}

/* Windows' "2001-db8--1.ipv6-literal.net" names: '-' stands for ':' and 's' for the zone's '%'. */
static int literal_net_parse(const char *host, size_t len, uint8_t a[16])
{
    static const char suffix[] = ".ipv6-literal.net";
    const size_t slen = sizeof suffix - 1;
    char buf[80];
    if (len > 0 && host[len - 1] == '.')
        len--;
    if (len <= slen || memcmp(host + len - slen, suffix, slen) != 0)
        return -1;
    len -= slen;
    if (len >= sizeof buf)
        return 0;
    for (size_t k = 0; k < len; k++) {
        char c = host[k];
        buf[k] = c == '-' ? ':' : c == 's' ? '%' : c;
    }
    return v6_text_parse(buf, len, 0, a);
}

/* The common case "45.33.32.156" (four decimal parts without leading zeros, nothing else) parsed
 * directly; anything else returns 0 and goes through host_scan, which gives the same answer for this
 * form, only slower. */
static int v4_dotted_quick(const char *h, const char *he, uint8_t v4[4])
{
    if (he - h < 7 || he - h > 15)
        return 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (h >= he || *h != '.')
                return 0;
            h++;
        }
        const char *start = h;
        unsigned value = 0;
        while (h < he && *h >= '0' && *h <= '9' && h - start < 3) {
            value = value * 10 + (unsigned)(*h - '0');
            h++;
        }
        if (h == start || value > 255 || (h - start > 1 && *start == '0'))
            return 0;
        v4[part] = (uint8_t)value;
    }
    return h == he;
}

/* The address a wildcard-DNS name resolves to (wildcard_dns.def); the host keeps the name, so an
 * allowlist entry can match either. */
static void wildcard_classify(classify_result *out, size_t n)
{
    uint8_t a[16];
    int family = wildcard_dns_resolve(out->host, n, a);
    if (!family)
        return;
    char name[CLASSIFY_HOST_MAX];
    memcpy(name, out->host, n + 1);
    if (family == 4)
        result_set_v4(out, a);
    else
        result_set_v6(out, a);
    memcpy(out->host, name, n + 1);
    out->reading = READING_WILDCARD_DNS;
}

/* Classifies the host [h, he) into out (verdict, ip, host, range, reading); the caller sets the kind.
 * reading names the reader that produced [h, he); a more specific one found here (wildcard DNS) wins. */
static void host_classify(const char *h, const char *he, int url_mode, classify_reading reading, classify_result *out)
{
    uint8_t a[16];
    if (h < he && *h == '[') {
        if (bracket_parse(h, he, url_mode, a))
            result_set_v6(out, a);
        goto done;
    }
    if (v4_dotted_quick(h, he, a)) {
        result_set_v4(out, a);
        memcpy(out->host, out->ip, strlen(out->ip) + 1);
        goto done;
    }
    host_scan hs;
    host_scan_init(&hs, out->host, sizeof out->host);
    host_scan_feed(&hs, h, he, url_mode);
    host_kind hk = host_scan_finish(&hs, a);
    if (hk == HOST_INVALID) {
        out->host_truncated = hs.truncated;
        goto done;
    }
    if (hk == HOST_V4) {
        result_set_v4(out, a);
        memcpy(out->host, out->ip, strlen(out->ip) + 1);
        /* Mapped by an IDNA table other than the current one: say which reader reaches the IP. */
        if (hs.idna_sources & (1u << IDNA_2003))
            out->reading = READING_IDNA2003;
        else if (hs.idna_sources & (1u << IDNA_VERSION))
            out->reading = READING_UNICODE_VERSION;
        goto done;
    }
    out->verdict = VERDICT_DOMAIN;
    out->host_truncated = hs.truncated;
    if (hs.truncated || hs.nonascii)
        goto done;
    /* "localhost" never leaves the machine: Windows answers it without DNS. */
    if ((hs.n == 9 || hs.n == 10) && (strcmp(out->host, "localhost") == 0 || strcmp(out->host, "localhost.") == 0)) {
        static const uint8_t loop[4] = {127, 0, 0, 1};
        result_set_v4(out, loop);
        goto done;
    }
    int lit = literal_net_parse(out->host, hs.n, a);
    if (lit == 1) {
        result_set_v6(out, a);
    } else if (lit == 0) {
        out->verdict = VERDICT_INVALID;
    } else {
        wildcard_classify(out, hs.n);
    }
done:
    if (out->verdict == VERDICT_PUBLIC_IP || out->verdict == VERDICT_PRIVATE_IP) {
        if (out->reading == READING_NONE)
            out->reading = reading;
    } else {
        out->reading = READING_NONE;
    }
}

/* A public IP beats a private one, which beats no IP: if any reading reaches an IP, it is that IP. */
static int verdict_rank(classify_verdict v)
{
    return v == VERDICT_PUBLIC_IP ? 2 : v == VERDICT_PRIVATE_IP ? 1 : 0;
}

/* Classifies the host [h, he) as another reader sees it and keeps that result when it ranks higher.
 * Returns 1 once out is a public IP (no reading can do better). */
static int reading_offer(const char *h, const char *he, int url_mode, classify_reading reading, classify_result *out)
{
    classify_result alt;
    result_reset(&alt);
    alt.kind = out->kind;
    host_classify(h, he, url_mode, reading, &alt);
    if (verdict_rank(alt.verdict) > verdict_rank(out->verdict))
        *out = alt;
    return out->verdict == VERDICT_PUBLIC_IP;
}

/* True for "C:" or "C|" (a Windows drive letter as WHATWG file URLs know it). */
static int is_drive(const char *s, const char *e)
{
    return e - s == 2 && char_is_alpha(s[0]) && (s[1] == ':' || s[1] == '|');
}

/* An authority as one reader splits it: it ends at '/' and at the stop characters asked for; the host
 * follows the last '@' and ends at the first ':' outside brackets (the bracket state restarts with the
 * host, as in WHATWG). The port is PORT_OK when empty or digits up to 65535, PORT_WIDE when digits
 * only but more (an over-long or out-of-range port), PORT_BAD otherwise. */
enum { PORT_OK = 0, PORT_WIDE, PORT_BAD };
enum { AUTH_STOP_BACKSLASH = 1, AUTH_STOP_QUERY = 2 };
typedef struct authority {
    const char *end;
    const char *host, *host_end;
    int port;
} authority;

static void authority_split(const char *p, const char *e, unsigned stops, authority *au)
{
    const char *ae = p, *at = NULL, *colon = NULL;
    int in_brackets = 0;
    for (; ae < e; ae++) {
        char c = *ae;
        if (!(char_class[(unsigned char)c] & CC_AUTH))
            continue;
        if (c == '/' || (c == '\\' && (stops & AUTH_STOP_BACKSLASH)) ||
            ((c == '?' || c == '#') && (stops & AUTH_STOP_QUERY)))
            break;
        if (c == '@') {
            at = ae;
            colon = NULL;
            in_brackets = 0;
        } else if (c == '[') {
            in_brackets = 1;
        } else if (c == ']') {
            in_brackets = 0;
        } else if (c == ':' && !in_brackets && !colon) {
            colon = ae;
        }
    }
    au->end = ae;
    au->host = at ? at + 1 : p;
    au->host_end = colon ? colon : ae;
    au->port = PORT_OK;
    uint32_t port = 0;
    for (const char *q = colon ? colon + 1 : ae; q < ae; q++) {
        if (char_is_tabnl(*q))
            continue;
        if (*q < '0' || *q > '9') {
            au->port = PORT_BAD;
            break;
        }
        if (port <= 65535)
            port = port * 10 + (uint32_t)(*q - '0');
        if (port > 65535)
            au->port = PORT_WIDE;
    }
}

/* Where inet_aton stops reading an address: the first space, form feed or vertical tab, or DEL, raw or
 * percent-encoded (NUL, tab, CR and LF too when encoded; raw tab, CR and LF are removed before parsing).
 * NULL if none. */
static const char *aton_stop_find(const char *h, const char *he)
{
    for (const char *q = h; q < he; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == ' ' || c == '\f' || c == '\v' || c == 0x7F)
            return q;
        if (c == '%' && he - q >= 3) {
            int hi = ipaddr_hex_value(q[1]), lo = ipaddr_hex_value(q[2]);
            int v = hi * 16 + lo;
            if (hi >= 0 && lo >= 0 && (v == 0 || v == 0x20 || (v >= 0x09 && v <= 0x0D) || v == 0x7F))
                return q;
        }
    }
    return NULL;
}

/* The host of a UNC path starting at p (after "\\"): up to the next separator; WebDAV's "host@SSL@443"
 * form keeps the part before the first '@'. */
static void unc_host_classify(const char *p, const char *e, classify_reading reading, classify_result *out)
{
    const char *he = p;
    while (he < e && !char_is_sep(*he))
        he++;
    if (is_drive(p, he)) {
        out->kind = KIND_LOCAL;
        out->verdict = VERDICT_LOCAL;
        return;
    }
    const char *at = memchr(p, '@', (size_t)(he - p));
    if (at) {
        he = at;
        reading = READING_WEBDAV;
    }
    out->kind = KIND_SMB;
    if (p == he)
        return;
    if (*p != '[' && memchr(p, ':', (size_t)(he - p))) {
        /* A bare IPv6 address as a UNC host. */
        uint8_t a[16];
        if (v6_text_parse(p, (size_t)(he - p), 0, a)) {
            result_set_v6(out, a);
            out->reading = reading;
        }
        return;
    }
    host_classify(p, he, 0, reading, out);
}

/* When [p, e) starts with pattern (lower case, '\\' matching either separator), returns the end of
 * the match, else NULL. */
static const char *ci_prefix(const char *p, const char *e, const char *pattern)
{
    for (; *pattern; pattern++, p++) {
        if (p >= e)
            return NULL;
        char c = *p;
        if (*pattern == '\\') {
            if (!char_is_sep(c))
                return NULL;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + ('a' - 'A'));
        if (c != *pattern)
            return NULL;
    }
    return p;
}

/*
 * After "\Device\": the NT names of the redirectors behind UNC paths. "Mup\host\share" is the UNC
 * provider router; "LanmanRedirector\host\share" (SMB) and "WebDavRedirector\host\share" name one
 * redirector; components starting with ';' (";LanmanRedirector", the ";Z:0000...0" of a mapped drive)
 * come before the server and are skipped. Returns 0 when [p, e) names no redirector.
 */
static int redirector_classify(const char *p, const char *e, classify_result *out)
{
    static const char *const redirectors[] = {"mup\\", "lanmanredirector\\", "webdavredirector\\"};
    const char *q = NULL;
    for (size_t k = 0; k < sizeof redirectors / sizeof redirectors[0] && !q; k++)
        q = ci_prefix(p, e, redirectors[k]);
    if (!q)
        return 0;
    while (q < e && *q == ';') {
        while (q < e && !char_is_sep(*q))
            q++;
        if (q < e)
            q++;
    }
    unc_host_classify(q, e, READING_UNC_DEVICE, out);
    return 1;
}

/* After "\\?\", "\\.\" or "\??\": "UNC\host\share" and the redirector devices are SMB, anything else
 * (C:\, Volume{...}, pipes, other devices) is local. */
static void device_path_classify(const char *p, const char *e, classify_result *out)
{
    const char *host = ci_prefix(p, e, "unc\\");
    if (host) {
        unc_host_classify(host, e, READING_UNC, out);
        return;
    }
    const char *dev = ci_prefix(p, e, "globalroot\\device\\");
    if (dev && redirector_classify(dev, e, out))
        return;
    if (p == e)
        return;
    out->kind = KIND_LOCAL;
    out->verdict = VERDICT_LOCAL;
}

/* "\\http://host/path": the WebDAV redirector's form of an HTTP URL (DavGetUNCFromHTTPPath accepts
 * it), read from its authority as a URL host, port ignored. */
static void webdav_url_classify(const char *p, const char *e, classify_result *out)
{
    authority au;
    out->kind = KIND_SMB;
    authority_split(p, e, AUTH_STOP_BACKSLASH | AUTH_STOP_QUERY, &au);
    host_classify(au.host, au.host_end, 1, READING_WEBDAV, out);
}

static void unc_classify(const char *p, const char *e, classify_result *out)
{
    if (e - p >= 2 && (p[0] == '?' || p[0] == '.') && char_is_sep(p[1])) {
        device_path_classify(p + 2, e, out);
        return;
    }
    const char *url = ci_prefix(p, e, "http:\\\\");
    if (!url)
        url = ci_prefix(p, e, "https:\\\\");
    if (url) {
        webdav_url_classify(url, e, out);
        return;
    }
    unc_host_classify(p, e, READING_UNC, out);
}

/* The readings of an http(s) URL other than WHATWG's, tried while none reached a public IP. w is the
 * WHATWG split of the authority starting at p. */
static void http_readings(const char *p, const char *e, const authority *w, classify_result *out)
{
    if (w->port == PORT_WIDE) {
        /* WinHTTP keeps the port in a 16-bit INTERNET_PORT: a bad port does not stop the host. out is
         * still untouched, so the host's own verdict (domain, invalid) replaces "invalid". */
        host_classify(w->host, w->host_end, 1, READING_PORT16, out);
        if (out->verdict == VERDICT_PUBLIC_IP)
            return;
    }
    char stop = w->end < e ? *w->end : '/';
    if (stop == '\\') {
        /* RFC 3986 readers take '\' as a userinfo character: "http://a.example\@IP/". */
        authority r;
        authority_split(p, e, AUTH_STOP_QUERY, &r);
        if (reading_offer(r.host, r.host_end, 1, READING_RFC3986, out))
            return;
    }
    if (stop != '/') {
        /* Readers that end the authority at the first '/' only: "http://u?@IP/", "http://u#@IP/". */
        authority r;
        authority_split(p, e, 0, &r);
        if (reading_offer(r.host, r.host_end, 1, READING_AUTHORITY, out))
            return;
    }
    if (p < e && *p == '[' && w->host != p) {
        /* "http://[IPv6]:port@host/": a reader that takes a leading bracketed literal as the host. */
        const char *rb = memchr(p, ']', (size_t)(w->end - p));
        if (rb && reading_offer(p, rb + 1, 1, READING_AUTHORITY, out))
            return;
    }
    if (out->verdict == VERDICT_INVALID) {
        const char *cut = aton_stop_find(w->host, w->host_end);
        if (cut && cut > w->host)
            reading_offer(w->host, cut, 1, READING_INET_ATON, out);
    }
}

/* http and https: the authority after any run of slashes and backslashes (WHATWG "special authority
 * ignore slashes" state), userinfo up to the last '@' dropped, a numeric port checked and dropped;
 * then the other readings unless WHATWG's already reached a public IP. */
static void http_classify(const char *p, const char *e, classify_kind kind, classify_result *out)
{
    out->kind = kind;
    while (p < e && (char_is_sep(*p) || char_is_tabnl(*p)))
        p++;
    authority w;
    authority_split(p, e, AUTH_STOP_BACKSLASH | AUTH_STOP_QUERY, &w);
    if (w.port == PORT_OK)
        host_classify(w.host, w.host_end, 1, READING_WHATWG, out);
    if (out->verdict != VERDICT_PUBLIC_IP)
        http_readings(p, e, &w, out);
}

/* The readings of a file URL host [h, he) that WHATWG refuses or calls a domain: "file://IP@SSL/..."
 * is WebDAV to IP (PathCreateFromUrl gives \\IP@SSL\...), "file://user@IP/" is IP to an RFC 3986
 * reader, "file://IP:445/" is IP to a reader that ignores the port. */
static void file_readings(const char *h, const char *he, classify_result *out)
{
    const char *at = memchr(h, '@', (size_t)(he - h));
    if (at && reading_offer(h, at, 1, READING_WEBDAV, out))
        return;
    authority au;
    authority_split(h, he, 0, &au);
    if (au.host != h)
        reading_offer(au.host, au.host_end, 1, READING_RFC3986, out);
    else if (au.host_end != he && au.port != PORT_BAD)
        reading_offer(au.host, au.host_end, 1, READING_PORT16, out); /* WHATWG file URLs take no port. */
}

/* file: URLs as the WHATWG "file host" state reads them; a host other than localhost means SMB. */
static void file_classify(const char *p, const char *e, classify_result *out)
{
    int seps = 0;
    while (p < e && (char_is_sep(*p) || char_is_tabnl(*p))) {
        if (char_is_sep(*p))
            seps++;
        p++;
    }
    if (seps >= 4) {
        /* file:////server/share: an empty host and a path starting with two separators, which Windows
         * opens as the UNC path \\server\share. */
        unc_host_classify(p, e, READING_WHATWG, out);
        return;
    }
    out->kind = KIND_LOCAL;
    out->verdict = VERDICT_LOCAL;
    if (seps != 2)
        return;
    const char *he = p;
    while (he < e && *he != '/' && *he != '\\' && *he != '?' && *he != '#')
        he++;
    if (he == p || is_drive(p, he))
        return;
    out->verdict = VERDICT_INVALID;
    out->kind = KIND_SMB;
    host_classify(p, he, 1, READING_WHATWG, out);
    if (out->verdict == VERDICT_PRIVATE_IP && strcmp(out->host, "localhost") == 0) {
        /* WHATWG turns file://localhost/ into an empty host: a local path, unless the path starts with
         * two separators: "file://localhost//server/share" is serialized file:////server/share, which
         * Windows opens as \\server\share. */
        result_reset(out);
        int more = 0;
        while (he < e && (char_is_sep(*he) || char_is_tabnl(*he))) {
            if (char_is_sep(*he))
                more++;
            he++;
        }
        if (more >= 2) {
            unc_host_classify(he, e, READING_WHATWG, out);
            return;
        }
        out->kind = KIND_LOCAL;
        out->verdict = VERDICT_LOCAL;
        return;
    }
    if (out->verdict != VERDICT_PUBLIC_IP)
        file_readings(p, he, out);
}

void classify_name(const char *name, size_t len, classify_result *out)
{
    result_reset(out);
    if (!name)
        return;
    const char *s = name, *e = name + len;
    while (s < e && char_is_trim((unsigned char)*s))
        s++;
    while (e > s && char_is_trim((unsigned char)e[-1]))
        e--;
    if (s == e)
        return;
    if (e - s >= 2 && char_is_sep(s[0]) && char_is_sep(s[1])) {
        unc_classify(s + 2, e, out);
        return;
    }
    if (e - s >= 4 && s[0] == '\\' && s[1] == '?' && s[2] == '?' && s[3] == '\\') {
        device_path_classify(s + 4, e, out); /* An NT object path, \??\C:\ or \??\UNC\host\share. */
        return;
    }
    const char *dev = ci_prefix(s, e, "\\device\\");
    if (dev && redirector_classify(dev, e, out))
        return; /* The NT path of a UNC name: \Device\Mup\host\share, \Device\LanmanRedirector\... */
    if (char_is_sep(s[0]) || (e - s >= 2 && char_is_alpha(s[0]) && s[1] == ':')) {
        /* A rooted path or a drive letter path. */
        out->kind = KIND_LOCAL;
        out->verdict = VERDICT_LOCAL;
        return;
    }
    /* A scheme: ASCII alpha, then alphanumerics, '+', '-', '.', up to ':'. */
    char scheme[8];
    size_t sl = 0;
    const char *p = s;
    if (!char_is_alpha(*p))
        return;
    for (; p < e; p++) {
        char c = *p;
        if (char_is_tabnl(c))
            continue;
        if (c == ':')
            break;
        if (!(char_is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
            return;
        if (sl < sizeof scheme)
            scheme[sl] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        sl++;
    }
    if (p == e)
        return; /* No scheme and not a path: "host/path" is not a remote name BITS accepts. */
    p++;
    if (sl == 4 && memcmp(scheme, "http", 4) == 0) {
        http_classify(p, e, KIND_HTTP, out);
    } else if (sl == 5 && memcmp(scheme, "https", 5) == 0) {
        http_classify(p, e, KIND_HTTPS, out);
    } else if (sl == 4 && memcmp(scheme, "file", 4) == 0) {
        file_classify(p, e, out);
    } else if (sl == 1) {
        /* A drive letter interrupted by tab or newline. */
        out->kind = KIND_LOCAL;
        out->verdict = VERDICT_LOCAL;
    }
}

const char *classify_verdict_name(classify_verdict v)
{
    switch (v) {
    case VERDICT_PUBLIC_IP:
        return "public-ip";
    case VERDICT_PRIVATE_IP:
        return "private-ip";
    case VERDICT_DOMAIN:
        return "domain";
    case VERDICT_LOCAL:
        return "local";
    case VERDICT_INVALID:
    default:
        return "invalid";
    }
}

const char *classify_kind_name(classify_kind k)
{
    switch (k) {
    case KIND_HTTP:
        return "http";
    case KIND_HTTPS:
        return "https";
    case KIND_SMB:
        return "smb";
    case KIND_LOCAL:
        return "local";
    case KIND_UNKNOWN:
    default:
        return "unknown";
    }
}

const char *classify_reading_name(classify_reading r)
{
    switch (r) {
    case READING_WHATWG:
        return "whatwg";
    case READING_UNC:
        return "unc";
    case READING_UNC_DEVICE:
        return "unc-device";
    case READING_WEBDAV:
        return "webdav";
    case READING_RFC3986:
        return "rfc3986";
    case READING_AUTHORITY:
        return "authority";
    case READING_PORT16:
        return "port16";
    case READING_INET_ATON:
        return "inet_aton";
    case READING_UNICODE_VERSION:
        return "unicode-version";
    case READING_IDNA2003:
        return "idna2003";
    case READING_WILDCARD_DNS:
        return "wildcard-dns";
    case READING_NONE:
    default:
        return NULL;
    }
}
