/* Unit tests of common/bg_text.c: copies, strict decimal numbers, civil dates. */
#include "check.h"

#include "bg_text.h"

static void test_dup(void)
{
    char *s = bg_text_dup("abc");
    CHECK_STR_EQ(s, "abc");
    free(s);
    s = bg_text_dup("");
    CHECK_STR_EQ(s, "");
    free(s);
    CHECK(bg_text_dup(NULL) == NULL);
}

static void test_parse_u64(void)
{
    uint64_t v = 7;
    CHECK_INT_EQ(bg_text_parse_u64("0", 10, &v), 1);
    CHECK_INT_EQ(v, 0);
    CHECK_INT_EQ(bg_text_parse_u64(" \t42 ", 100, &v), 1);
    CHECK_INT_EQ(v, 42);
    CHECK_INT_EQ(bg_text_parse_u64("4294967295", UINT32_MAX, &v), 1);
    CHECK(v == UINT32_MAX);
    CHECK_INT_EQ(bg_text_parse_u64("18446744073709551615", UINT64_MAX, &v), 1);
    CHECK(v == UINT64_MAX);
    v = 7;
    /* Past the maximum, signs, other characters, nothing at all: refused, *out untouched. */
    static const char *const bad[] = {"4294967296", "-1", "+1", "1x", "x1", "1 2", "", " ", "0x10", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STR_EQ_CTX(bad[i], bg_text_parse_u64(bad[i], UINT32_MAX, &v) ? "accepted" : "refused", "refused");
    CHECK_INT_EQ(bg_text_parse_u64("18446744073709551616", UINT64_MAX, &v), 0);
    CHECK_INT_EQ(bg_text_parse_u64("11", 10, &v), 0);
    CHECK_INT_EQ(bg_text_parse_u64("5", 0, &v), 0);
    CHECK_INT_EQ(v, 7);
}

static void test_days_from_civil(void)
{
    CHECK_INT_EQ(bg_days_from_civil(1970, 1, 1), 0);
    CHECK_INT_EQ(bg_days_from_civil(1969, 12, 31), -1);
    CHECK_INT_EQ(bg_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT_EQ(bg_days_from_civil(2024, 2, 29), 19782);
    CHECK_INT_EQ(bg_days_from_civil(2026, 12, 7), 20794);
    CHECK_INT_EQ(bg_days_from_civil(1600, 1, 1), -135140);
}

int main(void)
{
    CHECK_RUN(test_dup);
    CHECK_RUN(test_parse_u64);
    CHECK_RUN(test_days_from_civil);
    return CHECK_DONE();
}
