/* IPv4 and IPv6 address text parsing (WHATWG IPv6 parser, strict dotted quad) and RFC 5952 formatting. */
#include "ipaddr.h"

#include <string.h>

int ipaddr_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ipaddr_prefix_match(const uint8_t *addr, const uint8_t *prefix, unsigned plen)
{
    unsigned full = plen / 8, rest = plen % 8;
    if (memcmp(addr, prefix, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (addr[full] & mask) == (prefix[full] & mask);
}

/*
 * The WHATWG URL standard's IPv6 parser, step by step, so that the detector accepts exactly the forms a
 * browser-like URL parser accepts. i indexes s; reading past len gives the "EOF" code point (0).
 */
int ipaddr_v6_parse(const char *s, size_t len, uint8_t out[16])
{
    unsigned pieces[8] = {0};
    int piece = 0, compress = -1;
    size_t i = 0;
#define V6C(k) ((k) < len ? s[k] : '\0')
    if (len == 0)
        return 0;
    if (V6C(i) == ':') {
        if (V6C(i + 1) != ':')
            return 0;
        i += 2;
        piece++;
        compress = piece;
    }
    while (i < len) {
        if (piece == 8)
            return 0;
        if (V6C(i) == ':') {
            if (compress != -1)
                return 0;
            i++;
            piece++;
            compress = piece;
            continue;
        }
        unsigned value = 0;
        int length = 0;
        while (length < 4 && i < len && ipaddr_hex_value(s[i]) >= 0) {
            value = value * 16 + (unsigned)ipaddr_hex_value(s[i]);
            i++;
            length++;
        }
        if (V6C(i) == '.') {
            /* An IPv4 tail: rewind over the digits just read and parse them as decimal parts. */
            if (length == 0)
                return 0;
            i -= (size_t)length;
            if (piece > 6)
                return 0;
            int seen = 0;
            while (i < len) {
                int v4piece = -1;
                if (seen > 0) {
                    if (s[i] == '.' && seen < 4)
                        i++;
                    else
                        return 0;
                }
                if (i >= len || s[i] < '0' || s[i] > '9')
                    return 0;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    int digit = s[i] - '0';
                    if (v4piece == -1)
                        v4piece = digit;
                    else if (v4piece == 0)
                        return 0; /* Leading zeros are not allowed here. */
                    else
                        v4piece = v4piece * 10 + digit;
                    if (v4piece > 255)
                        return 0;
                    i++;
                }
                pieces[piece] = pieces[piece] * 0x100 + (unsigned)v4piece;
                seen++;
                if (seen == 2 || seen == 4)
                    piece++;
            }
            if (seen != 4)
                return 0;
            break;
        } else if (V6C(i) == ':') {
            i++;
            if (i >= len)
                return 0;
        } else if (i < len) {
            return 0;
        }
        pieces[piece] = value;
        piece++;
    }
#undef V6C
    if (compress != -1) {
        int swaps = piece - compress;
        piece = 7;
        while (piece != 0 && swaps > 0) {
            unsigned tmp = pieces[piece];
            pieces[piece] = pieces[compress + swaps - 1];
            pieces[compress + swaps - 1] = tmp;
            piece--;
            swaps--;
        }
    } else if (piece != 8) {
        return 0;
    }
    for (int k = 0; k < 8; k++) {
        out[2 * k] = (uint8_t)(pieces[k] >> 8);
        out[2 * k + 1] = (uint8_t)(pieces[k] & 0xFF);
    }
    return 1;
}

int ipaddr_v4_parse_dotted(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return 0;
            i++;
        }
        unsigned value = 0;
        int digits = 0;
        size_t first = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
            value = value * 10 + (unsigned)(s[i] - '0');
            digits++;
            i++;
        }
        /* "010" is 8 to inet_aton and 10 to a reader: refuse the ambiguity. */
        if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && s[first] == '0'))
            return 0;
        out[part] = (uint8_t)value;
    }
    return i == len;
}

size_t ipaddr_v4_format(const uint8_t addr[4], char *buf, size_t cap)
{
    char tmp[16];
    size_t n = 0;
    for (int k = 0; k < 4; k++) {
        unsigned v = addr[k];
        if (k > 0)
            tmp[n++] = '.';
        if (v >= 100)
            tmp[n++] = (char)('0' + v / 100);
        if (v >= 10)
            tmp[n++] = (char)('0' + v / 10 % 10);
        tmp[n++] = (char)('0' + v % 10);
    }
    if (cap == 0)
        return 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

size_t ipaddr_v6_format(const uint8_t addr[16], char *buf, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    unsigned groups[8];
    int best = -1, best_len = 0;
    for (int k = 0; k < 8; k++)
        groups[k] = (unsigned)addr[2 * k] << 8 | addr[2 * k + 1];
    /* RFC 5952 4.2: compress the longest run of zero groups, the first on a tie, never a single one. */
    for (int k = 0; k < 8;) {
        if (groups[k] != 0) {
            k++;
            continue;
        }
        int start = k;
        while (k < 8 && groups[k] == 0)
            k++;
        if (k - start > best_len) {
            best = start;
            best_len = k - start;
        }
    }
    if (best_len < 2)
        best = -1;
    char tmp[48];
    size_t n = 0;
    for (int k = 0; k < 8; k++) {
        if (k == best) {
            tmp[n++] = ':';
            tmp[n++] = ':';
            k += best_len - 1;
            continue;
        }
        if (k > 0 && k != best + best_len)
            tmp[n++] = ':';
        unsigned g = groups[k];
        int started = 0;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned nib = (g >> shift) & 0xF;
            if (nib != 0 || started || shift == 0) {
                tmp[n++] = digits[nib];
                started = 1;
            }
        }
    }
    if (cap == 0)
        return 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

ipaddr_embed ipaddr_v6_embedded_v4(const uint8_t addr[16], uint8_t v4[4])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(addr, mapped, 12) == 0) {
        memcpy(v4, addr + 12, 4);
        return IPADDR_EMBED_MAPPED;
    }
    if (memcmp(addr, nat64, 12) == 0) {
        memcpy(v4, addr + 12, 4);
        return IPADDR_EMBED_NAT64;
    }
    if (addr[0] == 0x20 && addr[1] == 0x02) {
        memcpy(v4, addr + 2, 4);
        return IPADDR_EMBED_6TO4;
    }
    return IPADDR_EMBED_NONE;
}
