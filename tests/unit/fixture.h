/* Opening the test fixtures (tests/fixtures) by their relative path, on every platform. */
#ifndef BG_FIXTURE_H
#define BG_FIXTURE_H

#include <stdio.h>

/* BG_FIXTURE_DIR comes from tests/CMakeLists.txt (a Z: path under Wine). Says which file is missing. */
static inline FILE *fixture_open(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", BG_FIXTURE_DIR, rel);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        fprintf(stderr, "cannot open %s\n", path);
    return fp;
}

#endif
