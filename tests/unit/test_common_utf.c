/* Unit tests of common/bg_utf.c: the one UTF-8 decoder and encoder, and the UTF-8 <-> UTF-16 converters. */
#include "check.h"

#include "bg_utf.h"

/* Compares a NUL-terminated UTF-16 string with the expected code units (n of them). */
static int units_equal(const wchar_t *w, const unsigned *want, size_t n)
{
    if (!w)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)w[i] != want[i])
            return 0;
    }
    return w[n] == 0;
}

static void test_decode(void)
{
    uint32_t cp = 0;
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"A", &cp), 1);
    CHECK_INT_EQ(cp, 0x41);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xC3\xA9", &cp), 2);
    CHECK_INT_EQ(cp, 0xE9);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xE2\x82\xAC", &cp), 3);
    CHECK_INT_EQ(cp, 0x20AC);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xF0\x9F\x98\x80", &cp), 4);
    CHECK_INT_EQ(cp, 0x1F600);
    /* Overlong, surrogate, above U+10FFFF, stray continuation, cut short by the NUL. */
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xC0\x80", &cp), 0);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xE0\x80\x80", &cp), 0);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xED\xA0\x80", &cp), 0);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xF4\x90\x80\x80", &cp), 0);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\x80", &cp), 0);
    CHECK_INT_EQ(bg_utf8_decode((const unsigned char *)"\xE2\x82", &cp), 0);
}

static void test_put(void)
{
    char out[4];
    CHECK_INT_EQ(bg_utf8_put(out, 0x41), 1);
    CHECK(memcmp(out, "A", 1) == 0);
    CHECK_INT_EQ(bg_utf8_put(out, 0x7FF), 2);
    CHECK(memcmp(out, "\xDF\xBF", 2) == 0);
    CHECK_INT_EQ(bg_utf8_put(out, 0xFFFD), 3);
    CHECK(memcmp(out, "\xEF\xBF\xBD", 3) == 0);
    CHECK_INT_EQ(bg_utf8_put(out, 0x10FFFF), 4);
    CHECK(memcmp(out, "\xF4\x8F\xBF\xBF", 4) == 0);
}

static void test_utf16_from_utf8(void)
{
    static const unsigned mixed[] = {0x61, 0xE9, 0xD83D, 0xDE00, 0x20AC};
    wchar_t *w = bg_utf16_from_utf8("a\xC3\xA9\xF0\x9F\x98\x80\xE2\x82\xAC");
    CHECK(units_equal(w, mixed, 5));
    free(w);
    w = bg_utf16_from_utf8_strict("a\xC3\xA9\xF0\x9F\x98\x80\xE2\x82\xAC");
    CHECK(units_equal(w, mixed, 5));
    free(w);
    /* Invalid bytes: U+FFFD each (a bad path names no existing file), or nothing at all when strict. */
    static const unsigned replaced[] = {0x61, 0xFFFD, 0xFFFD, 0x62};
    w = bg_utf16_from_utf8("a\xFF\xC0"
                           "b");
    CHECK(units_equal(w, replaced, 4));
    free(w);
    CHECK(bg_utf16_from_utf8_strict("a\xFF"
                                    "b") == NULL);
    CHECK(bg_utf16_from_utf8_strict("\xED\xA0\x80") == NULL);
    static const unsigned none[] = {0};
    w = bg_utf16_from_utf8("");
    CHECK(units_equal(w, none, 0));
    free(w);
    CHECK(bg_utf16_from_utf8(NULL) == NULL);
    CHECK(bg_utf16_from_utf8_strict(NULL) == NULL);
}

static void test_utf8_from_utf16(void)
{
    const wchar_t pair[] = {0x61, 0xE9, 0xD83D, 0xDE00, 0x20AC, 0};
    char *s = bg_utf8_from_utf16(pair);
    CHECK_STR_EQ(s, "a\xC3\xA9\xF0\x9F\x98\x80\xE2\x82\xAC");
    free(s);
    /* Unpaired surrogates (a high one before a non-low unit, a lone low one, a high one at the end). */
    const wchar_t unpaired[] = {0xD800, 0x41, 0xDC00, 0xD83D, 0};
    s = bg_utf8_from_utf16(unpaired);
    CHECK_STR_EQ(s, "\xEF\xBF\xBD"
                    "A\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
    CHECK(bg_utf8_from_utf16(NULL) == NULL);
}

/* Every code point survives UTF-8 -> UTF-16 -> UTF-8 unchanged (surrogates are not code points). */
static void test_round_trip(void)
{
    int bad = 0;
    for (uint32_t cp = 1; cp <= 0x10FFFF; cp += (cp < 0x20000 ? 1 : 97)) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char in[5] = {0};
        bg_utf8_put(in, cp);
        wchar_t *w = bg_utf16_from_utf8_strict(in);
        char *out = bg_utf8_from_utf16(w);
        if (!w || !out || strcmp(in, out) != 0)
            bad++;
        free(w);
        free(out);
    }
    CHECK_INT_EQ(bad, 0);
}

int main(void)
{
    CHECK_RUN(test_decode);
    CHECK_RUN(test_put);
    CHECK_RUN(test_utf16_from_utf8);
    CHECK_RUN(test_utf8_from_utf16);
    CHECK_RUN(test_round_trip);
    return CHECK_DONE();
}
