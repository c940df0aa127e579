/* Unicode IDNA mapping of single code points to ASCII (UTS #46 and IDNA2003), from a build-time table. */
#ifndef BG_IDNA_H
#define BG_IDNA_H

#include <stddef.h>
#include <stdint.h>

/* Which IDNA reading maps a code point (scripts/idna/gen_idna_table.py). */
typedef enum idna_source {
    IDNA_CURRENT = 0, /* UTS #46 of the pinned current Unicode version: what WHATWG's domain-to-ASCII does. */
    IDNA_VERSION = 1, /* Only UTS #46 of the other pinned Unicode version (15.0). */
    IDNA_2003 = 2,    /* Only IDNA2003's nameprep on Unicode 3.2 (older Windows, Internet Explorer). */
} idna_source;

/* When some reading maps the non-ASCII code point cp to ASCII text (empty when it is ignored), points
 * *text at that text (not NUL-terminated), sets *len and returns 1 with the reading in *source;
 * returns 0 for every other code point. No allocation; a binary search of a constant table. */
int idna_ascii_map(uint32_t cp, const char **text, size_t *len, idna_source *source);

#endif
