/* UTF-8 and UTF-16: the project's one decoder, encoder and converters between them. */
#include "bg_utf.h"

#include <stdlib.h>
#include <string.h>

size_t bg_utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t v;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        v = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        v = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        v = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

size_t bg_utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static wchar_t *utf16_from_utf8(const char *s, int strict)
{
    if (!s)
        return NULL;
    /* At most one code unit per byte, or two for a 4-byte sequence: len + 1 always suffices. */
    size_t len = strlen(s);
    wchar_t *w = malloc((len + 1) * sizeof *w);
    if (!w)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = BG_UTF_REPLACEMENT;
        size_t n = bg_utf8_decode(p, &cp);
        if (n == 0) {
            if (strict) {
                free(w);
                return NULL;
            }
            cp = BG_UTF_REPLACEMENT;
            n = 1;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            w[o++] = (wchar_t)(0xD800 + (cp >> 10));
            w[o++] = (wchar_t)(0xDC00 + (cp & 0x3FF));
        } else {
            w[o++] = (wchar_t)cp;
        }
        p += n;
    }
    w[o] = 0;
    return w;
}

wchar_t *bg_utf16_from_utf8(const char *s)
{
    return utf16_from_utf8(s, 0);
}

wchar_t *bg_utf16_from_utf8_strict(const char *s)
{
    return utf16_from_utf8(s, 1);
}

char *bg_utf8_from_utf16(const wchar_t *w)
{
    if (!w)
        return NULL;
    size_t len = 0;
    while (w[len])
        len++;
    /* A code unit gives at most 3 bytes (a surrogate pair, two units, gives 4). */
    char *s = malloc(len * 3 + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = (uint16_t)w[i];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < len && (uint16_t)w[i + 1] >= 0xDC00 &&
            (uint16_t)w[i + 1] <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint16_t)w[i + 1] - 0xDC00);
            i++;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = BG_UTF_REPLACEMENT;
        }
        o += bg_utf8_put(s + o, cp);
    }
    s[o] = '\0';
    return s;
}
