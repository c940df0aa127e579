/* Safe text output shared by every command: JSON strings, RFC 4180 CSV cells and terminal-safe text. */
#ifndef BG_OUTPUT_H
#define BG_OUTPUT_H

#include <stdio.h>

/* Writes s as a JSON string literal with quotes; NULL writes null. Invalid UTF-8 becomes U+FFFD. */
void output_json_string(FILE *fp, const char *s);

/* Writes s as one RFC 4180 CSV cell. A cell starting with = + - @ (or tab/CR) is prefixed with a
 * single quote so spreadsheets do not evaluate it; NULL writes an empty cell. */
void output_csv_cell(FILE *fp, const char *s);

/*
 * Writes at most width display columns of s for a terminal: control characters (C0, DEL, C1, ESC
 * sequences), bidirectional controls, line/paragraph separators and invalid UTF-8 are replaced by
 * '?', and an elided value ends with "...". Returns the number of columns written. width 0 means
 * no limit.
 */
size_t output_terminal_text(FILE *fp, const char *s, size_t width);

#endif
