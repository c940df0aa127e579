/* Hostile text through the shared output printers: every code point for the terminal, JSON and CSV edge cases. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "output.h"

/* What the terminal must never receive, written out here from the Unicode 14 property lists, independently
 * of common/output_unicode.c (which scripts/gen-unicode-width.py generates from Python's database). */
static int expect_replaced(uint32_t cp)
{
    static const uint32_t ranges[][2] = {
        {0x0000, 0x001F},   {0x007F, 0x009F}, /* C0 (ESC, BEL, CR, LF, TAB...), DEL, C1 (CSI, OSC...) */
        {0x00AD, 0x00AD},                     /* soft hyphen */
        {0x034F, 0x034F},                     /* combining grapheme joiner */
        {0x0600, 0x0605},   {0x06DD, 0x06DD},   {0x070F, 0x070F},
        {0x0890, 0x0891},   {0x08E2, 0x08E2},   {0x061C, 0x061C}, /* Arabic letter mark */
        {0x115F, 0x1160},   {0x3164, 0x3164},   {0xFFA0, 0xFFA0}, /* Hangul fillers */
        {0x17B4, 0x17B5},                                         /* Khmer inherent vowels */
        {0x180B, 0x180F}, /* Mongolian variation selectors and vowel separator */
        {0x200B, 0x200F}, /* zero width space, non-joiner, joiner, LRM, RLM */
        {0x2028, 0x2029}, /* line and paragraph separators */
        {0x202A, 0x202E}, /* embeddings and overrides */
        {0x2060, 0x2064}, /* word joiner, invisible operators */
        {0x2066, 0x206F}, /* isolates, deprecated format characters */
        {0xFDD0, 0xFDEF}, /* noncharacters */
        {0xFE00, 0xFE0F}, /* variation selectors */
        {0xFEFF, 0xFEFF}, /* byte order mark, zero width no-break space */
        {0xFFF0, 0xFFFB}, /* reserved default-ignorables, interlinear annotation */
        {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x13438}, /* Kaithi, Egyptian format controls */
        {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, /* shorthand format controls, musical format controls */
        {0xE0000, 0xE0FFF},                     /* tags and variation selectors supplement */
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return 1;
    return (cp & 0xFFFE) == 0xFFFE; /* the last two code points of every plane */
}

static size_t utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads back everything written to a tmpfile (binary: no CR LF translation on Windows). */
static char *file_slurp(FILE *fp, size_t *len)
{
    long n = ftell(fp);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    *len = 0;
    if (buf) {
        rewind(fp);
        *len = fread(buf, 1, (size_t)n, fp);
        buf[*len] = '\0';
    }
    fclose(fp);
    return buf;
}

typedef void (*printer)(FILE *fp, const char *s);

static void print_terminal(FILE *fp, const char *s)
{
    output_terminal_text(fp, s, 0);
}

static char *render(printer p, const char *s)
{
    FILE *fp = tmpfile();
    if (!fp)
        return NULL;
    p(fp, s);
    size_t len;
    return file_slurp(fp, &len);
}

/* Every Unicode scalar value through output_terminal_text, after a base letter (so that a combining
 * mark has one): exactly the listed ones become '?', every other one is written unchanged; a letter,
 * a mark and a wide character take the columns they show in. */
static void test_terminal_every_code_point(void)
{
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return;
    size_t bad_cols = 0;
    for (uint32_t cp = 1; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        unsigned char s[6] = "a";
        s[1 + utf8_encode(cp, s + 1)] = '\0';
        size_t cols = output_terminal_text(fp, (const char *)s, 0);
        if (cols < 1 || cols > 3 || (expect_replaced(cp) && cols != 2))
            bad_cols++;
    }
    CHECK_INT_EQ(bad_cols, 0);
    size_t len = 0;
    char *out = file_slurp(fp, &len);
    CHECK(out != NULL);
    if (!out)
        return;
    size_t at = 0, wrong = 0, replaced = 0;
    uint32_t first_wrong = 0;
    for (uint32_t cp = 1; cp <= 0x10FFFF && at < len; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        unsigned char s[5];
        size_t n = utf8_encode(cp, s);
        int ok = out[at++] == 'a';
        if (expect_replaced(cp)) {
            ok = ok && out[at] == '?';
            at += 1;
            replaced++;
        } else {
            ok = ok && at + n <= len && memcmp(out + at, s, n) == 0;
            at += n;
        }
        if (!ok && wrong++ == 0)
            first_wrong = cp;
    }
    if (wrong)
        fprintf(stderr, "first code point printed wrongly: U+%04lX\n", (unsigned long)first_wrong);
    CHECK_INT_EQ(wrong, 0);
    CHECK_INT_EQ(at, len);
    CHECK(replaced > 4000); /* tags and the supplement alone are 4,096 */
    free(out);
    /* Columns: letters 1, combining marks 0, East Asian wide and fullwidth 2. */
    static const struct {
        const char *s;
        size_t cols;
    } widths[] = {
        {"ab", 2},
        {"e\xcc\x81", 1},                /* e + U+0301 */
        {"\xe6\x97\xa5\xe6\x9c\xac", 4}, /* two ideographs */
        {"\xef\xbc\xa1", 2},             /* fullwidth A */
        {"\xf0\x9f\x98\x80", 2},         /* emoji U+1F600 */
        {"\xea\xb0\x80", 2},             /* Hangul syllable */
        {"\xcc\x81", 1},                 /* a mark with no base: '?' */
    };
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        fp = tmpfile();
        CHECK(fp != NULL);
        if (!fp)
            continue;
        CHECK_INT_EQ(output_terminal_text(fp, widths[i].s, 0), widths[i].cols);
        fclose(fp);
    }
}

/* Escape sequences, overrides and broken UTF-8 in realistic values. */
static void test_terminal_strings(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\x1b[31mred\x1b[0m", "?[31mred?[0m"},
        {"\x1b]0;pwned\x07title", "?]0;pwned?title"},
        {"\xc2\x9b"
         "2J",
         "?2J"},
        {"C:\\x\\\xe2\x80\xaegpj.exe", "C:\\x\\?gpj.exe"},
        {"a\xe2\x81\xa6"
         "b\xe2\x81\xa9",
         "a?b?"},
        {"line\xe2\x80\xa8next", "line?next"},
        {"\xff\xfe", "??"},
        {"\xe2\x80", "??"},
        {"\xc0\xaf", "??"},
        {"\xed\xa0\x80", "???"},
        {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xd8\xa7\xd9\x84",
         "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xd8\xa7\xd9\x84"},
        /* Invisible characters that would make one name pass for another. */
        {"DC01\xe2\x80\x8b", "DC01?"}, /* zero width space */
        {"DC\xc2\xad"
         "01",
         "DC?01"}, /* soft hyphen */
        {"\xef\xbb\xbf"
         "DC01\xe2\x81\xa0",
         "?DC01?"},                                         /* BOM, word joiner */
        {"DC01\xf3\xa0\x81\x81\xf3\xa0\x81\xbf", "DC01??"}, /* tag characters */
        {"a\xe2\x80\x8d"
         "b",
         "a?b"}, /* zero width joiner */
        /* A pile of combining marks: eight kept on their letter, the rest shown. */
        {"e\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81",
         "e\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81\xcc\x81??"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = render(print_terminal, cases[i].in);
        CHECK_STR_EQ_CTX(cases[i].out, out, cases[i].out);
        free(out);
    }
    /* NULL prints as empty; elision keeps width columns and never splits a sequence. */
    char *out = render(print_terminal, NULL);
    CHECK_STR_EQ(out, "");
    free(out);
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (fp) {
        /* Wide characters count two columns: 9 in all, 7 allowed: one ideograph (2) and "...". */
        CHECK_INT_EQ(output_terminal_text(fp, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\x1b\x1b\x1b", 7), 7);
        size_t len;
        out = file_slurp(fp, &len);
        CHECK_STR_EQ(out, "\xe6\x97\xa5\xe6\x9c\xac...");
        free(out);
    }
}

/* JSON: control and C1 characters escaped, invalid UTF-8 replaced, the rest kept; always one valid line. */
static void test_json_strings(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\x1b[2J", "\"\\u001b[2J\""},
        {"\xc2\x9b", "\"\\u009b\""},
        {"a\"b\\c\n\r\t", "\"a\\\"b\\\\c\\n\\r\\t\""},
        {"\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\""},
        {"\xff"
         "a\xc0\xaf",
         "\"\\ufffda\\ufffd\\ufffd\""},
        {"\xe2\x80\xae", "\"\xe2\x80\xae\""},
        {"'); DROP TABLE detections;--", "\"'); DROP TABLE detections;--\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = render(output_json_string, cases[i].in);
        CHECK_STR_EQ_CTX(cases[i].out, out, cases[i].out);
        free(out);
    }
    char *out = render(output_json_string, NULL);
    CHECK_STR_EQ(out, "null");
    free(out);
}

/* CSV: every formula trigger neutralized (also behind leading spaces and invisible characters, and in
 * fullwidth), escape-starting controls replaced, quoting per RFC 4180, plain text untouched. */
static void test_csv_cells(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"=HYPERLINK(\"http://evil/\")", "\"'=HYPERLINK(\"\"http://evil/\"\")\""},
        {"+cmd|' /C calc'!A0", "\"'+cmd|' /C calc'!A0\""},
        {"-2+3", "\"'-2+3\""},
        {"@SUM(1)", "\"'@SUM(1)\""},
        {"\t=1", "\"'\t=1\""},
        {"\r=1", "\"'\r=1\""},
        {"a,b", "\"a,b\""},
        {"two\nlines", "\"two\nlines\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"plain text", "plain text"},
        {"", ""},
        /* Formula characters behind what a spreadsheet may skip, and their fullwidth forms. */
        {" =1+1", "\"' =1+1\""},
        {"\xc2\xa0=1+1", "\"'\xc2\xa0=1+1\""},               /* NBSP */
        {"\xe2\x80\x8b=1+1", "\"'\xe2\x80\x8b=1+1\""},       /* zero width space */
        {"\xef\xbb\xbf@SUM(1)", "\"'\xef\xbb\xbf@SUM(1)\""}, /* BOM */
        {"\n=1+1", "\"'\n=1+1\""},
        {"\"=1+1", "\"'\"\"=1+1\""},
        {"\xef\xbc\x9d"
         "1+1",
         "\"'\xef\xbc\x9d"
         "1+1\""}, /* fullwidth = */
        {"\xef\xbc\x8b"
         "1",
         "\"'\xef\xbc\x8b"
         "1\""}, /* fullwidth + */
        {"\xef\xbc\xa0"
         "A1",
         "\"'\xef\xbc\xa0"
         "A1\""}, /* fullwidth @ */
        {"  plain", "  plain"},
        /* Controls that start escape sequences never reach the file. */
        {"\x1b[2J", "?[2J"},
        {"\xc2\x9b"
         "2J\xc2\x9d"
         "0;x",
         "?2J?0;x"}, /* C1 CSI and OSC */
        {"\x9b"
         "2J\xff",
         "?2J\xff"}, /* raw C1 byte; other invalid bytes kept */
        {"tab\tok", "tab\tok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = render(output_csv_cell, cases[i].in);
        CHECK_STR_EQ_CTX(cases[i].in, out, cases[i].out);
        free(out);
    }
}

int main(void)
{
    CHECK_RUN(test_terminal_every_code_point);
    CHECK_RUN(test_terminal_strings);
    CHECK_RUN(test_json_strings);
    CHECK_RUN(test_csv_cells);
    return CHECK_DONE();
}
