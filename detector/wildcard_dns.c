/* Wildcard-DNS names: the services of wildcard_dns.def and the address forms written in their names. */
#include "wildcard_dns.h"

#include <string.h>

#include "ipaddr.h"

enum {
    V4_DOTTED = 1 << 0,
    V4_DASHED = 1 << 1,
    V4_HEX = 1 << 2,
    V6_DASHED = 1 << 3,
    V6_GROUPS = 1 << 4,
    V6_NIBBLES = 1 << 5,
    LOOPBACK = 1 << 6,
};

typedef struct wildcard_service {
    const char *suffix;
    size_t len;
    unsigned forms;
} wildcard_service;

#define WILDCARD_DNS(suffix, forms, source) {suffix, sizeof suffix - 1, forms},
static const wildcard_service services[] = {
#include "wildcard_dns.def"
};
#undef WILDCARD_DNS

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "a.b.c.d" or "a-b-c-d" (each separator allowed by forms) at the end of [s, e), after the start, '.' or
 * '-'. Parts are 1-3 decimal digits up to 255, as the services' own patterns take them. */
static int v4_tail_parse(const char *s, const char *e, unsigned forms, uint8_t v4[4])
{
    const char *q = e;
    for (int part = 3; part >= 0; part--) {
        const char *end = q;
        unsigned value = 0, scale = 1;
        while (q > s && is_digit(q[-1]) && end - q < 3) {
            q--;
            value += (unsigned)(*q - '0') * scale;
            scale *= 10;
        }
        if (q == end || value > 255 || (q > s && is_digit(q[-1])))
            return 0;
        v4[part] = (uint8_t)value;
        if (part == 0)
            break;
        if (q == s)
            return 0;
        char sep = q[-1];
        if (!((sep == '.' && (forms & V4_DOTTED)) || (sep == '-' && (forms & V4_DASHED))))
            return 0;
        q--;
    }
    return q == s || q[-1] == '.' || q[-1] == '-';
}

/* Eight hex digits ending [s, e), after the start of the last label or a '-'. */
static int v4_hex_parse(const char *s, const char *e, uint8_t v4[4])
{
    if (e - s < 8)
        return 0;
    const char *q = e - 8;
    if (q > s && q[-1] != '.' && q[-1] != '-')
        return 0;
    uint32_t v = 0;
    for (int k = 0; k < 8; k++) {
        int d = ipaddr_hex_value(q[k]);
        if (d < 0)
            return 0;
        v = v << 4 | (uint32_t)d;
    }
    v4[0] = (uint8_t)(v >> 24);
    v4[1] = (uint8_t)(v >> 16);
    v4[2] = (uint8_t)(v >> 8);
    v4[3] = (uint8_t)v;
    return 1;
}

/* The last label of [s, e) with '-' read as ':'. */
static int v6_dashed_parse(const char *s, const char *e, uint8_t a[16])
{
    const char *q = e;
    while (q > s && q[-1] != '.')
        q--;
    char buf[48];
    size_t n = (size_t)(e - q);
    if (n == 0 || n >= sizeof buf)
        return 0;
    for (size_t k = 0; k < n; k++)
        buf[k] = q[k] == '-' ? ':' : q[k];
    return ipaddr_v6_parse(buf, n, a);
}

/* The last count labels of [s, e), each of 1..maxdigits hex digits, as 16-bit groups (maxdigits 4) or
 * nibbles (maxdigits 1), most significant first. */
static int v6_labels_parse(const char *s, const char *e, int count, int maxdigits, uint8_t a[16])
{
    const char *q = e;
    unsigned bits = maxdigits == 4 ? 16 : 4;
    memset(a, 0, 16);
    for (int k = count - 1; k >= 0; k--) {
        const char *end = q;
        unsigned value = 0, shift = 0;
        while (q > s && q[-1] != '.' && end - q < maxdigits) {
            int d = ipaddr_hex_value(q[-1]);
            if (d < 0)
                return 0;
            value |= (unsigned)d << shift;
            shift += 4;
            q--;
        }
        if (q == end || (q > s && q[-1] != '.'))
            return 0;
        unsigned bit = (unsigned)k * bits;
        for (unsigned b = 0; b < bits; b += 4) {
            unsigned nib = (value >> (bits - 4 - b)) & 0xF;
            unsigned pos = bit + b;
            a[pos / 8] |= (uint8_t)(pos % 8 ? nib : nib << 4);
        }
        if (k > 0) {
            if (q == s)
                return 0;
            q--;
        }
    }
    return 1;
}

int wildcard_dns_resolve(const char *host, size_t len, uint8_t addr[16])
{
    if (len > 0 && host[len - 1] == '.')
        len--;
    /* The suffix is the last two labels: find the second dot from the end. */
    size_t dots = 0, start = len;
    while (start > 0) {
        if (host[start - 1] == '.' && ++dots == 2)
            break;
        start--;
    }
    size_t slen = len - start;
    const wildcard_service *sv = NULL;
    for (size_t k = 0; k < sizeof services / sizeof services[0]; k++) {
        if (services[k].len == slen && memcmp(services[k].suffix, host + start, slen) == 0) {
            sv = &services[k];
            break;
        }
    }
    if (!sv)
        return 0;
    memset(addr, 0, 16);
    if (sv->forms & LOOPBACK) {
        addr[0] = 127;
        addr[3] = 1;
        return 4;
    }
    if (start == 0)
        return 0;                                /* The service's own name. */
    const char *s = host, *e = host + start - 1; /* The text before ".suffix". */
    if ((sv->forms & (V4_DOTTED | V4_DASHED)) && v4_tail_parse(s, e, sv->forms, addr))
        return 4;
    if ((sv->forms & V4_HEX) && v4_hex_parse(s, e, addr))
        return 4;
    if ((sv->forms & V6_DASHED) && v6_dashed_parse(s, e, addr))
        return 6;
    /* Nibbles first: their last eight labels would also read as eight short groups. */
    if ((sv->forms & V6_NIBBLES) && v6_labels_parse(s, e, 32, 1, addr))
        return 6;
    if ((sv->forms & V6_GROUPS) && v6_labels_parse(s, e, 8, 4, addr))
        return 6;
    return 0;
}
