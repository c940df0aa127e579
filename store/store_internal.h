/* Internals of the store shared by its source files and its tests: the handle, statement cache, helpers. */
#ifndef BG_STORE_INTERNAL_H
#define BG_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "bg_os.h"
#include "store.h"

/* The schema version this program writes; store_open migrates older files up to it. */
#define STORE_SCHEMA_VERSION 9

/* Prepared statements, prepared once per connection on first use and reset after each use. */
enum {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_INSERT,
    STMT_MERGE,
    STMT_FINDING_INSERT,
    STMT_FINDING_MERGE,
    STMT_BOOKMARK_SET,
    STMT_BOOKMARK_GET,
    STMT_GAP_ADD,
    STMT_ERROR_ADD,
    STMT_OUTBOX_ADD,
    STMT_OUTBOX_DONE,
    STMT_COUNT
};

struct store {
    sqlite3 *db;
    char *path;
    store_options opt;
    int readonly; /* Opened by store_open_existing on a file this user cannot write. */
    sqlite3_stmt *stmt[STMT_COUNT];
    int busy_budget_ms; /* Total backoff allowed for one operation. */
    int busy_slept_ms;  /* Backoff spent so far in the current operation. */
    int64_t work_max;   /* Read connections: progress-handler periods allowed per call or row (store_guard.c). */
    int64_t work_done;
};

/* The raw connection, for tests that inject faults (max_page_count, a second lock holder). */
sqlite3 *store_db_handle(store *s);

/* store_guard.c: the checks and settings applied before a database is trusted. */
/* The path must be a regular file or absent (must_exist: present), and its -wal, -shm, -journal
 * regular files or absent: links, folders, FIFOs and devices are refused with a message naming them. */
bg_error store_path_check(const char *path, int must_exist, char *errbuf, size_t errlen);
/* The path as SQLite must be given it to open that very file (heap copy; NULL when out of memory). */
char *store_path_literal(const char *path);
/* SQLITE_DBCONFIG_DEFENSIVE, trusted_schema off, no extension loading, and tight sqlite3_limit values. */
void store_connection_harden(sqlite3 *db);
/* Installs the progress handler that ends a statement after an amount of work bounded by the file's
 * size; store_work_reset starts a new allowance (each call, each row returned). */
void store_work_bound(store *s);
void store_work_reset(store *s);

/* SQL that is true when column col names the computer in parameter p as query --computer means it:
 * the whole name without regard to case, or p without a dot naming the host part of a DNS name. */
#define STORE_COMPUTER_MATCH(col, p)                                                                           \
    "(" col " = " p " COLLATE NOCASE OR (instr(" p ", '.') = 0 AND substr(" col ", 1, length(" p ") + 1) = " p \
    " || '.' COLLATE NOCASE))"

/* SQL that is true for a channel whose rows come from other computers (store_computer_forwarded). */
#define STORE_COMPUTER_FORWARDED(col) \
    "(" col " <> 'Microsoft-Windows-Bits-Client/Operational' COLLATE NOCASE AND " col " <> 'System' COLLATE NOCASE)"

/* store_computers.c: writes t's counts under channel and counts the new detections (is_new[i] of
 * dets[0..n)) to their computers, inside the caller's transaction. Returns an SQLite code. */
int store_tally_write(store *s, const char *channel, const store_tally *t, const detection *const *dets,
                      const int *is_new, size_t n, const char *now);

/* Maps an SQLite result code (extended codes allowed) to the project's error enum. */
bg_error store_sqlite_error(int rc);

/* 16 address bytes (IPv4 mapped to ::ffff:a.b.c.d) of a normalized IP text; 0 on success, -1 otherwise. */
int store_ip_bytes(const char *text, uint8_t out[16]);

/* Whether the file at the UTF-8 path exists: 1 exists, 0 absent (ENOENT/ENOTDIR), -1 other error (errno
 * set). The store's other file calls are the platform layer's (bg_os.h): SQLite names files in UTF-8. */
int store_file_exists(const char *path);

#endif
