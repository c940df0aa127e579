/* Hostile text through the shared output printers: every code point for the terminal, JSON and CSV edge cases. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "output.h"

/* What the terminal must never receive, written out here independently of common/output.c. */
static int expect_replaced(uint32_t cp)
{
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
        return 1; /* C0 (ESC, BEL, CR, LF, TAB...), DEL, C1 (CSI U+009B, OSC U+009D...) */
    if (cp == 0x061C || cp == 0x200E || cp == 0x200F)
        return 1; /* Arabic letter mark, left-to-right and right-to-left marks */
    if (cp >= 0x202A && cp <= 0x202E)
        return 1; /* LRE, RLE, PDF, LRO, RLO: embeddings and overrides */
    if (cp >= 0x2066 && cp <= 0x2069)
        return 1; /* LRI, RLI, FSI, PDI: isolates */
    if (cp == 0x2028 || cp == 0x2029)
        return 1; /* line and paragraph separators */
    return 0;
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

/* Every Unicode scalar value through output_terminal_text: exactly the listed ones become '?', every
 * other one is written unchanged and counts one column. */
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
        unsigned char s[5];
        s[utf8_encode(cp, s)] = '\0';
        if (output_terminal_text(fp, (const char *)s, 0) != 1)
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
        int ok;
        if (expect_replaced(cp)) {
            ok = out[at] == '?';
            at += 1;
            replaced++;
        } else {
            ok = at + n <= len && memcmp(out + at, s, n) == 0;
            at += n;
        }
        if (!ok && wrong++ == 0)
            first_wrong = cp;
    }
    if (wrong)
        fprintf(stderr, "first code point printed wrongly: U+%04lX\n", (unsigned long)first_wrong);
    CHECK_INT_EQ(wrong, 0);
    CHECK_INT_EQ(at, len);
    CHECK_INT_EQ(replaced, 31 + 1 + 32 + 3 + 5 + 4 + 2);
    free(out);
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
        CHECK_INT_EQ(output_terminal_text(fp, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\x1b\x1b\x1b", 5), 5);
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

/* CSV: every formula trigger neutralized, quoting per RFC 4180, plain text untouched. */
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
