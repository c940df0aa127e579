/* Small text helpers every layer shares: copies, strict decimal numbers, civil dates, and the text sizes. */
#ifndef BG_TEXT_H
#define BG_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* A GUID as text, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (36 characters), and its NUL. */
#define BG_GUID_TEXT_SIZE 37
/* An event time as the project keeps it, ISO 8601 UTC "YYYY-MM-DDThh:mm:ss.fffffffZ" (at most 28
 * characters), and its NUL, with room to spare. */
#define BG_TIME_TEXT_SIZE 32

/* A heap copy of s (free with free); NULL for NULL or no memory. */
char *bg_text_dup(const char *s);

/* Strict unsigned decimal: digits only (blanks around them allowed), no sign, no overflow past max.
 * 1 with *out set, or 0 and *out untouched. */
int bg_text_parse_u64(const char *text, uint64_t max, uint64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm: exact for every
 * date, and independent of the C runtime's gmtime, which differs between glibc and Windows). */
int64_t bg_days_from_civil(int64_t y, int64_t m, int64_t d);

#endif
