/* Safe text output: JSON string escaping, CSV cells with formula neutralization, terminal-safe text. */
#include "output.h"

#include <stdint.h>
#include <string.h>

#include "bg_utf.h"

void output_json_string(FILE *fp, const char *s)
{
    if (!s) {
        fputs("null", fp);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', fp);
    while (*p) {
        uint32_t cp;
        size_t n = bg_utf8_decode(p, &cp);
        if (n == 0) {
            fputs("\\ufffd", fp);
            p++;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            fputc('\\', fp);
            fputc((int)cp, fp);
        } else if (cp == '\n') {
            fputs("\\n", fp);
        } else if (cp == '\r') {
            fputs("\\r", fp);
        } else if (cp == '\t') {
            fputs("\\t", fp);
        } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x2028 || cp == 0x2029) {
            /* Escaping DEL, C1 and the JS line separators keeps the output safe to paste anywhere. */
            fprintf(fp, "\\u%04x", (unsigned)cp);
        } else {
            fwrite(p, 1, n, fp);
        }
        p += n;
    }
    fputc('"', fp);
}

void output_csv_cell(FILE *fp, const char *s)
{
    if (!s)
        return;
    int formula = (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r');
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        fputc('"', fp);
    if (formula)
        fputc('\'', fp);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', fp);
        fputc(*p, fp);
    }
    if (quote)
        fputc('"', fp);
}

/*
 * Characters a terminal must not receive from an attacker: C0, DEL and C1 controls (ESC and CSI start
 * escape sequences), and the Unicode format characters that reorder or break the line as displayed:
 * bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E/F, U+202A-E, U+2066-9) and
 * the line and paragraph separators (U+2028/9). An override in a job title or process path could
 * otherwise make "C:\x\<RLO>gpj.exe" read as "C:\x\exe.jpg" in the analyst's console.
 */
static int terminal_unsafe(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t output_terminal_text(FILE *fp, const char *s, size_t width)
{
    if (!s)
        s = "";
    /* First count the columns the safe rendering needs, to know whether to elide. */
    size_t total = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        size_t n = bg_utf8_decode(p, &cp);
        p += n ? n : 1;
        total++;
    }
    size_t limit = (width && total > width) ? (width > 3 ? width - 3 : 0) : total;
    size_t cols = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && cols < limit; cols++) {
        uint32_t cp;
        size_t n = bg_utf8_decode(p, &cp);
        if (n == 0 || terminal_unsafe(cp)) {
            fputc('?', fp);
            p += n ? n : 1;
        } else {
            fwrite(p, 1, n, fp);
            p += n;
        }
    }
    if (limit < total) {
        size_t dots = width > 3 ? 3 : width;
        for (size_t i = 0; i < dots; i++)
            fputc('.', fp);
        cols += dots;
    }
    return cols;
}
