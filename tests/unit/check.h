/* A tiny assertion header for the unit tests: prints both values on failure, never compiled out. */
#ifndef BG_CHECK_H
#define BG_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unused in a test whose body is compiled out on this platform, hence the attribute. */
#if defined(__GNUC__) || defined(__clang__)
#define CHECK_MAYBE_UNUSED __attribute__((unused))
#else
#define CHECK_MAYBE_UNUSED
#endif
static int check_failures CHECK_MAYBE_UNUSED;
static int check_count CHECK_MAYBE_UNUSED;

#define CHECK_FAIL_AT(fmt, ...) \
    (check_failures++, fprintf(stderr, "%s:%d: FAIL: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__))

/* A boolean condition. */
#define CHECK(cond)                     \
    do {                                \
        check_count++;                  \
        if (!(cond))                    \
            CHECK_FAIL_AT("%s", #cond); \
    } while (0)

/* Two integers (compared as intmax_t). */
#define CHECK_INT_EQ(actual, expected)                                                              \
    do {                                                                                            \
        intmax_t check_a_ = (intmax_t)(actual), check_e_ = (intmax_t)(expected);                    \
        check_count++;                                                                              \
        if (check_a_ != check_e_)                                                                   \
            CHECK_FAIL_AT("%s == %jd, expected %s == %jd", #actual, check_a_, #expected, check_e_); \
    } while (0)

/* Two strings; NULL is printed as (null) and equals only NULL. */
#define CHECK_STR_EQ(actual, expected)                                                                 \
    do {                                                                                               \
        const char *check_a_ = (actual), *check_e_ = (expected);                                       \
        check_count++;                                                                                 \
        if ((check_a_ == NULL) != (check_e_ == NULL) || (check_a_ && strcmp(check_a_, check_e_) != 0)) \
            CHECK_FAIL_AT("%s == \"%s\", expected \"%s\"", #actual, check_a_ ? check_a_ : "(null)",    \
                          check_e_ ? check_e_ : "(null)");                                             \
    } while (0)

/* Same as CHECK_STR_EQ with a context string printed on failure (for table-driven tests). */
#define CHECK_STR_EQ_CTX(ctx, actual, expected)                                                                 \
    do {                                                                                                        \
        const char *check_a_ = (actual), *check_e_ = (expected);                                                \
        check_count++;                                                                                          \
        if ((check_a_ == NULL) != (check_e_ == NULL) || (check_a_ && strcmp(check_a_, check_e_) != 0))          \
            CHECK_FAIL_AT("[%s] %s == \"%s\", expected \"%s\"", (ctx), #actual, check_a_ ? check_a_ : "(null)", \
                          check_e_ ? check_e_ : "(null)");                                                      \
    } while (0)

/* Runs one test function and reports its name. */
#define CHECK_RUN(fn)                                                                       \
    do {                                                                                    \
        int check_before_ = check_failures;                                                 \
        fn();                                                                               \
        fprintf(stderr, "%s %s\n", check_failures == check_before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

/* Ends main: prints the plain summary line and returns non-zero on any failure or when nothing ran. */
#define CHECK_DONE()                                                         \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures), \
     (check_failures == 0 && check_count > 0) ? 0 : 1)

/* A test that cannot run here (e.g. ../shared absent) exits with this code; ctest marks it skipped. */
#define CHECK_SKIP_CODE 77

#endif
