/* Normalization of the text forms events carry: job GUIDs and timestamps. */
#include <stddef.h>
#include <string.h>

#include "event.h"

/* Lower-case hex digit for each byte that is a hex digit, 0 otherwise: one load per character. */
static const char hex_lower[256] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6', ['7'] = '7',
    ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
};

int event_guid_normalize(const char *text, char out[BG_GUID_TEXT_SIZE])
{
    if (text == NULL)
        return -1;
    size_t n = strlen(text);
    const char *p = text;
    if (n == 38 && p[0] == '{' && p[37] == '}') {
        p++;
        n = 36;
    }
    if (n != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-')
        return -1;
    /* Runs every event (job ids are the correlation key), hence the table instead of branches. */
    for (size_t i = 0; i < 36; i++) {
        char c = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex_lower[(unsigned char)p[i]];
        if (c == 0)
            return -1;
        out[i] = c;
    }
    out[36] = '\0';
    return 0;
}

/* Reads exactly n digits; -1 when they are not all digits. */
static int read_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int event_time_normalize(const char *text, char out[BG_TIME_TEXT_SIZE])
{
    if (text == NULL)
        return -1;
    const char *s = text;
    /* YYYY-MM-DD?hh:mm:ss is 19 characters; check the separators before reading digits. */
    if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    int year = read_digits(s, 4), mon = read_digits(s + 5, 2), day = read_digits(s + 8, 2);
    int hour = read_digits(s + 11, 2), min = read_digits(s + 14, 2), sec = read_digits(s + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || min < 0 || min > 59 ||
        sec < 0 || sec > 60)
        return -1;
    char frac[8] = "0000000";
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (p[nd] >= '0' && p[nd] <= '9')
            nd++;
        /* 0 to 9 digits: a lone '.' is tolerated; beyond 7 digits (evtxexport writes 9) is truncated. */
        if (nd > 9)
            return -1;
        memcpy(frac, p, (size_t)(nd < 7 ? nd : 7));
        p += nd;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (strcmp(p, "+00:00") == 0 || strcmp(p, "-00:00") == 0)
        p += 6;
    if (*p != '\0')
        return -1;
    memcpy(out, s, 10);
    out[10] = 'T';
    memcpy(out + 11, s + 11, 8);
    out[19] = '.';
    memcpy(out + 20, frac, 7);
    out[27] = 'Z';
    out[28] = '\0';
    return 0;
}
