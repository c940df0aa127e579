/* UTF-8 and UTF-16: the project's one decoder, encoder and converters between them (portable C). */
#ifndef BG_UTF_H
#define BG_UTF_H

#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

/* The code point U+FFFD, which stands for what cannot be decoded. */
#define BG_UTF_REPLACEMENT 0xFFFDu

/* Length (1..4) of the valid UTF-8 sequence at s, *cp its code point; 0 when it is invalid (overlong,
 * surrogate, above U+10FFFF or cut short: a NUL byte ends it, so s may be a C string). */
size_t bg_utf8_decode(const unsigned char *s, uint32_t *cp);
/* Writes cp (at most U+10FFFF, no surrogate) as UTF-8 at out (room for 4 bytes); returns the byte count. */
size_t bg_utf8_put(char *out, uint32_t cp);

/* UTF-8 to NUL-terminated UTF-16 code units (a wchar_t each: Windows' WCHAR), on the heap (free with
 * free). Invalid bytes become U+FFFD, which names no existing file, so a bad path fails instead of
 * reaching another file. NULL for NULL input or no memory. */
wchar_t *bg_utf16_from_utf8(const char *s);
/* The same, but NULL when s holds an invalid sequence (a channel or query text must be what was given). */
wchar_t *bg_utf16_from_utf8_strict(const char *s);
/* NUL-terminated UTF-16 code units to UTF-8 on the heap; unpaired surrogates become U+FFFD. NULL for
 * NULL input or no memory. */
char *bg_utf8_from_utf16(const wchar_t *w);

#endif
