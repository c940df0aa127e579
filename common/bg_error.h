/* The one error enum of bitsguard, its names and messages, generated from a single X-macro table. */
#ifndef BG_ERROR_H
#define BG_ERROR_H

/* Codes are never renumbered: they appear in the database's error table and in exit paths. */
#define BG_ERROR_MAP(XX)                                                        \
    XX(OK, 0, "success")                                                        \
    XX(NOMEM, 1, "out of memory")                                               \
    XX(INVALID_ARG, 2, "invalid argument")                                      \
    XX(IO, 3, "input/output error")                                             \
    XX(TOO_LARGE, 4, "input exceeds the size limit")                            \
    XX(XML_MALFORMED, 5, "malformed XML")                                       \
    XX(NOT_EVENT, 6, "XML is not a Windows event")                              \
    XX(NOT_BITS, 7, "event is not from Microsoft-Windows-Bits-Client")          \
    XX(EOF, 8, "end of input")                                                  \
    XX(USAGE, 9, "usage error")                                                 \
    XX(DB_OPEN, 10, "cannot open the database")                                 \
    XX(DB_BUSY, 11, "database is locked by another connection")                 \
    XX(DB_CORRUPT, 12, "database file is corrupt or not a database")            \
    XX(DB_FULL, 13, "database or disk is full")                                 \
    XX(DB_READONLY, 14, "database or its folder is read-only")                  \
    XX(DB, 15, "database error")                                                \
    XX(DB_SCHEMA, 16, "database schema is newer than this program")             \
    XX(SOURCE_RETRY, 17, "event source failed; resubscribe after the bookmark") \
    XX(SOURCE_BOOKMARK, 18, "event source rejected the bookmark")               \
    XX(SOURCE_CHANNEL, 19, "event channel is missing")                          \
    XX(SOURCE, 20, "event source error")                                        \
    XX(STOPPED, 21, "stop requested")                                           \
    XX(CONFIG, 22, "invalid configuration value")                               \
    XX(PLATFORM, 23, "operating system call failed")                            \
    XX(SOURCE_LOG_CLEARED, 24, "the event log was cleared since the bookmark")  \
    XX(SOURCE_DISABLED, 25, "the event channel is disabled: nothing is logged to it")

typedef enum bg_error {
#define BG_ERROR_ENUM(name, value, text) BG_ERR_##name = value,
    BG_ERROR_MAP(BG_ERROR_ENUM)
#undef BG_ERROR_ENUM
} bg_error;

/* Human-readable message for an error code; never NULL. */
const char *bg_error_str(bg_error err);
/* Stable symbolic name such as "DB_BUSY"; never NULL. */
const char *bg_error_name(bg_error err);

/* BG_PRINTF(f, a): argument f is a printf format whose arguments start at a (checked by the compiler). */
#if defined(__GNUC__) || defined(__clang__)
#define BG_WARN_UNUSED  __attribute__((warn_unused_result))
#define BG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BG_WARN_UNUSED
#define BG_PRINTF(f, a)
#endif

#endif
