/* Small text helpers every layer shares: copies, strict decimal numbers, civil dates. */
#include "bg_text.h"

#include <stdlib.h>
#include <string.h>

char *bg_text_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

int bg_text_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text < '0' || *text > '9')
        return 0;
    uint64_t v = 0;
    for (; *text >= '0' && *text <= '9'; text++) {
        unsigned digit = (unsigned)(*text - '0');
        if (digit > max || v > (max - digit) / 10)
            return 0;
        v = v * 10 + digit;
    }
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text != '\0')
        return 0;
    *out = v;
    return 1;
}

int64_t bg_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}
