/* Code point classes of the terminal-safe writer: hidden (replaced) and display columns (generated table). */
#ifndef BG_OUTPUT_UNICODE_H
#define BG_OUTPUT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* 1 for a code point a terminal must not receive as is: C0 and C1 controls, DEL, format characters
 * (bidirectional controls, zero-width characters, soft hyphen, BOM, tags...), the line and paragraph
 * separators, the other default-ignorable code points (variation selectors, Hangul fillers...),
 * surrogates and noncharacters. */
int output_unicode_hidden(uint32_t cp);

/* Display columns of a code point that is not hidden: 0 for combining marks, 2 for East Asian wide
 * and fullwidth characters, else 1. */
int output_unicode_columns(uint32_t cp);

#endif
