/* Safe text output: JSON string escaping, CSV cells with formula neutralization, terminal-safe text. */
#include "output.h"

#include <stdint.h>
#include <string.h>

#include "bg_utf.h"
#include "output_unicode.h"

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

/* Leading characters a spreadsheet may skip before it reads a formula: white space (ASCII and
 * Unicode), quotes, and every hidden character (zero-width, BOM, bidirectional controls...). */
static int csv_lead_skippable(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == '"' ||
           cp == 0x00A0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000 || output_unicode_hidden(cp);
}

/* Characters that start a formula: = + - @ and their fullwidth and small forms. */
static int csv_formula_start(uint32_t cp)
{
    return cp == '=' || cp == '+' || cp == '-' || cp == '@' || cp == 0xFF1D || cp == 0xFF0B || cp == 0xFF0D ||
           cp == 0xFF20 || cp == 0xFE66 || cp == 0xFE62 || cp == 0xFE63 || cp == 0xFE6B;
}

/* Whether a spreadsheet could read the cell as a formula: it starts with TAB or CR, or with a formula
 * character once the skippable leading characters are passed over. */
static int csv_formula(const char *s)
{
    if (s[0] == '\t' || s[0] == '\r')
        return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        size_t n = bg_utf8_decode(p, &cp);
        if (n == 0)
            return 0;
        if (!csv_lead_skippable(cp))
            return csv_formula_start(cp);
        p += n;
    }
    return 0;
}

void output_csv_cell(FILE *fp, const char *s)
{
    if (!s)
        return;
    int formula = csv_formula(s);
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        fputc('"', fp);
    if (formula)
        fputc('\'', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        size_t n = bg_utf8_decode(p, &cp);
        if (n == 0) {
            /* Invalid UTF-8 is kept as it is, except bytes 0x80-0x9F: C1 controls to an 8-bit terminal. */
            fputc(*p >= 0x80 && *p <= 0x9F ? '?' : *p, fp);
            p++;
            continue;
        }
        /* Controls other than the line breaks and TAB a cell may hold (ESC, C1 such as CSI) become '?':
         * CSV reaches a console whenever the output is not redirected. */
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7F && cp <= 0x9F))
            fputc('?', fp);
        else if (cp == '"')
            fputs("\"\"", fp);
        else
            fwrite(p, 1, n, fp);
        p += n;
    }
    if (quote)
        fputc('"', fp);
}

/* Consecutive combining marks kept on one base character; more (a "zalgo" pile) are shown as '?'. */
#define TERMINAL_MARKS_MAX 8

/* How the code point at p is shown: *cols columns, and *replaced 1 when it is shown as '?'. marks
 * counts the combining marks on the current base character (SIZE_MAX: no base yet). */
static size_t terminal_unit(const unsigned char *p, size_t *marks, int *replaced, size_t *cols)
{
    uint32_t cp = 0;
    size_t n = bg_utf8_decode(p, &cp);
    *replaced = n == 0 || output_unicode_hidden(cp);
    if (*replaced) {
        *marks = 0; /* The '?' is a base. */
    } else if (output_unicode_columns(cp) != 0) {
        *marks = 0;
    } else if (*marks == SIZE_MAX) {
        /* A mark with no base would land on the previous column (a table's padding). */
        *replaced = 1;
        *marks = 0;
    } else if (*marks >= TERMINAL_MARKS_MAX) {
        *replaced = 1; /* And every further mark on this base. */
    } else {
        ++*marks;
    }
    *cols = *replaced ? 1 : (size_t)output_unicode_columns(cp);
    return n ? n : 1;
}

size_t output_terminal_text(FILE *fp, const char *s, size_t width)
{
    if (!s)
        s = "";
    /* First the columns the safe rendering needs, to know whether to elide. */
    size_t total = 0, marks = SIZE_MAX, cols;
    int replaced;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += terminal_unit(p, &marks, &replaced, &cols);
        total += cols;
    }
    size_t limit = (width && total > width) ? (width > 3 ? width - 3 : 0) : total;
    size_t used = 0;
    marks = SIZE_MAX;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = terminal_unit(p, &marks, &replaced, &cols);
        if (used + cols > limit)
            break;
        if (replaced)
            fputc('?', fp);
        else
            fwrite(p, 1, n, fp);
        used += cols;
        p += n;
    }
    if (limit < total) {
        size_t dots = width > 3 ? 3 : width;
        for (size_t i = 0; i < dots; i++)
            fputc('.', fp);
        used += dots;
    }
    return used;
}
