/* The SQLite detection database: open, migrate, move corrupt files aside, exactly-once batch commit. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_version.h"
#include "ipaddr.h"
#include "store_internal.h"

/* Rows deleted per retention transaction: small enough that a batch never waits long behind it. */
#define RETENTION_CHUNK 500
/* Backoff of a locked database: 2, 4, 8 ... ms, capped so a released lock is noticed quickly. */
#define BUSY_FIRST_MS   2
#define BUSY_CAP_MS     100
#define BUSY_DEFAULT_MS 10000

/* Version 1: the base tables. Kept verbatim forever: migrations start from what older programs wrote. */
static const char schema_v1[] =
    "CREATE TABLE detections("
    " id INTEGER PRIMARY KEY,"
    " event_id INTEGER NOT NULL, record_id INTEGER NOT NULL, time TEXT NOT NULL,"
    " computer TEXT NOT NULL, job_id TEXT NOT NULL, job_title TEXT, job_owner TEXT, url TEXT NOT NULL,"
    " ip TEXT, verdict TEXT, kind TEXT, range TEXT, local_name TEXT, allowed INTEGER NOT NULL DEFAULT 0,"
    " process_id INTEGER, process_path TEXT, notify_program TEXT, notify_parameters TEXT,"
    " events_seen INTEGER NOT NULL DEFAULT 0, first_seen TEXT, last_seen TEXT, last_record_id INTEGER,"
    " transfer_hr INTEGER, bytes_total INTEGER, bytes_transferred INTEGER, state INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(computer, job_id, url));"
    "CREATE TABLE bookmarks(channel TEXT PRIMARY KEY, bookmark TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE TABLE gaps(id INTEGER PRIMARY KEY, time TEXT NOT NULL, channel TEXT, reason TEXT);"
    "CREATE TABLE errors(id INTEGER PRIMARY KEY, time TEXT NOT NULL, where_ TEXT, code INTEGER,"
    " code_name TEXT, detail TEXT);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);";

/* Version 2: the address as 16 comparable bytes (CIDR filters become range scans), the admins'
 * indexes, and a readable view. The ip_bytes of existing rows are filled in C (migrate_v2). */
static const char schema_v2[] =
    "ALTER TABLE detections ADD COLUMN ip_bytes BLOB;"
    "CREATE INDEX detections_last_seen ON detections(last_seen);"
    "CREATE INDEX detections_time ON detections(time);"
    "CREATE INDEX detections_ip ON detections(ip_bytes);"
    "CREATE INDEX detections_job ON detections(job_id);"
    "CREATE INDEX detections_computer ON detections(computer, last_seen);"
    "CREATE INDEX gaps_time ON gaps(time);"
    "CREATE INDEX errors_time ON errors(time);"
    "CREATE VIEW detections_readable AS SELECT id, last_seen, first_seen, computer, job_id, job_title,"
    " job_owner, url, ip, verdict, kind, range, allowed,"
    " CASE state WHEN 0 THEN 'active' WHEN 1 THEN 'completed' WHEN 2 THEN 'cancelled' ELSE state END AS state,"
    " rtrim((CASE WHEN events_seen & 1 THEN '3,' ELSE '' END) || (CASE WHEN events_seen & 2 THEN '4,' ELSE '' END)"
    " || (CASE WHEN events_seen & 4 THEN '5,' ELSE '' END) || (CASE WHEN events_seen & 8 THEN '6,' ELSE '' END)"
    " || (CASE WHEN events_seen & 16 THEN '59,' ELSE '' END) || (CASE WHEN events_seen & 32 THEN '60,' ELSE '' END)"
    " || (CASE WHEN events_seen & 64 THEN '61,' ELSE '' END)"
    " || (CASE WHEN events_seen & 128 THEN '16403,' ELSE '' END), ',') AS events,"
    " process_id, process_path, notify_program, notify_parameters, transfer_hr, bytes_total,"
    " bytes_transferred, event_id, record_id, time FROM detections;";

/* Version 3: which reading of the remote name reached its IP, and the IPv4 address a NAT64 or 6to4
 * address carries (text and 16 comparable bytes, so `query --ip` on the IPv4 finds the IPv6 rows).
 * The view gains both at its end. Existing rows get embedded_ipv4 from their ip in C (migrate_v3). */
static const char schema_v3[] =
    "ALTER TABLE detections ADD COLUMN reading TEXT;"
    "ALTER TABLE detections ADD COLUMN embedded_ipv4 TEXT;"
    "ALTER TABLE detections ADD COLUMN embedded_ip_bytes BLOB;"
    "CREATE INDEX detections_embedded_ip ON detections(embedded_ip_bytes);"
    "DROP VIEW detections_readable;"
    "CREATE VIEW detections_readable AS SELECT id, last_seen, first_seen, computer, job_id, job_title,"
    " job_owner, url, ip, verdict, kind, range, allowed,"
    " CASE state WHEN 0 THEN 'active' WHEN 1 THEN 'completed' WHEN 2 THEN 'cancelled' ELSE state END AS state,"
    " rtrim((CASE WHEN events_seen & 1 THEN '3,' ELSE '' END) || (CASE WHEN events_seen & 2 THEN '4,' ELSE '' END)"
    " || (CASE WHEN events_seen & 4 THEN '5,' ELSE '' END) || (CASE WHEN events_seen & 8 THEN '6,' ELSE '' END)"
    " || (CASE WHEN events_seen & 16 THEN '59,' ELSE '' END) || (CASE WHEN events_seen & 32 THEN '60,' ELSE '' END)"
    " || (CASE WHEN events_seen & 64 THEN '61,' ELSE '' END)"
    " || (CASE WHEN events_seen & 128 THEN '16403,' ELSE '' END), ',') AS events,"
    " process_id, process_path, notify_program, notify_parameters, transfer_hr, bytes_total,"
    " bytes_transferred, event_id, record_id, time, reading, embedded_ipv4 FROM detections;";

/* Version 4: where a detection came from (the Bits-Client events, or the BITS service's job list read
 * by `jobs --db` and `setup`), the audit of jobs cancelled with `jobs --cancel`, and the self-tests
 * (`bitsguard selftest`) the service recognizes by their nonce. */
static const char schema_v4[] =
    "ALTER TABLE detections ADD COLUMN source TEXT NOT NULL DEFAULT 'events';"
    "CREATE TABLE job_actions(id INTEGER PRIMARY KEY, time TEXT NOT NULL, action TEXT NOT NULL,"
    " job_id TEXT NOT NULL, who TEXT, computer TEXT, what TEXT);"
    "CREATE INDEX job_actions_time ON job_actions(time);"
    "CREATE TABLE selftests(nonce TEXT PRIMARY KEY, created_at TEXT NOT NULL, job_id TEXT,"
    " stored_at TEXT, alerted_at TEXT, detection_job_id TEXT);";

/* Version 5: whether the detection is known only from records recovered from an .evtx log's free space
 * (scan of a file through libevtx); appended to the view. */
static const char schema_v5[] =
    "ALTER TABLE detections ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;"
    "DROP VIEW detections_readable;"
    "CREATE VIEW detections_readable AS SELECT id, last_seen, first_seen, computer, job_id, job_title,"
    " job_owner, url, ip, verdict, kind, range, allowed,"
    " CASE state WHEN 0 THEN 'active' WHEN 1 THEN 'completed' WHEN 2 THEN 'cancelled' ELSE state END AS state,"
    " rtrim((CASE WHEN events_seen & 1 THEN '3,' ELSE '' END) || (CASE WHEN events_seen & 2 THEN '4,' ELSE '' END)"
    " || (CASE WHEN events_seen & 4 THEN '5,' ELSE '' END) || (CASE WHEN events_seen & 8 THEN '6,' ELSE '' END)"
    " || (CASE WHEN events_seen & 16 THEN '59,' ELSE '' END) || (CASE WHEN events_seen & 32 THEN '60,' ELSE '' END)"
    " || (CASE WHEN events_seen & 64 THEN '61,' ELSE '' END)"
    " || (CASE WHEN events_seen & 128 THEN '16403,' ELSE '' END), ',') AS events,"
    " process_id, process_path, notify_program, notify_parameters, transfer_hr, bytes_total,"
    " bytes_transferred, event_id, record_id, time, reading, embedded_ipv4, recovered FROM detections;";

/* Version 6: the findings (detector/finding.h: a notify command, credentials sent to a direct IP, the
 * channel cleared), one row per natural identity (computer, kind, job_key, item_key; finding_job_key and
 * finding_item_key say what the keys hold), so events read again update their row instead of adding one. */
static const char schema_v6[] =
    "CREATE TABLE findings("
    " id INTEGER PRIMARY KEY, kind TEXT NOT NULL, computer TEXT NOT NULL, job_key TEXT NOT NULL,"
    " item_key TEXT NOT NULL, event_id INTEGER NOT NULL, record_id INTEGER NOT NULL, time TEXT NOT NULL,"
    " job_id TEXT, job_title TEXT, job_owner TEXT, process_id INTEGER, process_path TEXT, notify_program TEXT,"
    " notify_parameters TEXT, notify_failures INTEGER NOT NULL DEFAULT 0, notify_error INTEGER, server TEXT,"
    " url TEXT, auth_scheme TEXT, user TEXT, credentials TEXT, ip TEXT, verdict TEXT, range TEXT, reading TEXT,"
    " embedded_ipv4 TEXT, ip_bytes BLOB, channel TEXT, state INTEGER, first_seen TEXT, last_seen TEXT,"
    " last_record_id INTEGER, source TEXT NOT NULL DEFAULT 'events', recovered INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(computer, kind, job_key, item_key));"
    "CREATE INDEX findings_last_seen ON findings(last_seen);"
    "CREATE INDEX findings_computer ON findings(computer, last_seen);";

/* Version 7: collector mode. Per channel and computer, the events read, the new detections and the
 * earliest and latest event time, updated in each batch's transaction, so `status` shows a computer
 * that stopped forwarding. */
static const char schema_v7[] =
    "CREATE TABLE computers(channel TEXT NOT NULL, computer TEXT NOT NULL, events INTEGER NOT NULL DEFAULT 0,"
    " detections INTEGER NOT NULL DEFAULT 0, first_event TEXT, last_event TEXT, updated_at TEXT NOT NULL,"
    " PRIMARY KEY(channel, computer));"
    "CREATE INDEX computers_last_event ON computers(last_event);";
/* Version 8: acknowledgements (`bitsguard ack`: who acknowledged which detections, when) and
 * detections_v1, the versioned view external readers (osquery, Velociraptor, SIEM exports) are given:
 * its columns never change (docs/fleet.md); a change is a new view, detections_v2, beside it. */
static const char schema_v8[] =
    "ALTER TABLE detections ADD COLUMN ack_id INTEGER;"
    "CREATE TABLE acknowledgements(id INTEGER PRIMARY KEY, time TEXT NOT NULL, who TEXT, how TEXT NOT NULL,"
    " first_id INTEGER, last_id INTEGER, count INTEGER NOT NULL, note TEXT);"
    "CREATE VIEW detections_v1 AS SELECT d.id AS id, d.first_seen AS first_seen, d.last_seen AS last_seen,"
    " d.time AS event_time, d.computer AS computer, d.job_id AS job_id, d.job_title AS job_title,"
    " d.job_owner AS job_owner, d.url AS url, d.ip AS ip, d.embedded_ipv4 AS embedded_ipv4,"
    " d.verdict AS verdict, d.kind AS kind, d.range AS range, d.reading AS reading, d.allowed AS allowed,"
    " CASE d.state WHEN 0 THEN 'active' WHEN 1 THEN 'completed' WHEN 2 THEN 'cancelled' ELSE 'unknown' END AS state,"
    " rtrim((CASE WHEN d.events_seen & 1 THEN '3,' ELSE '' END) || (CASE WHEN d.events_seen & 2 THEN '4,' ELSE '' END)"
    " || (CASE WHEN d.events_seen & 4 THEN '5,' ELSE '' END) || (CASE WHEN d.events_seen & 8 THEN '6,' ELSE '' END)"
    " || (CASE WHEN d.events_seen & 16 THEN '59,' ELSE '' END) || (CASE WHEN d.events_seen & 32 THEN '60,' ELSE '' END)"
    " || (CASE WHEN d.events_seen & 64 THEN '61,' ELSE '' END)"
    " || (CASE WHEN d.events_seen & 128 THEN '16403,' ELSE '' END), ',') AS events,"
    " d.event_id AS event_id, d.record_id AS record_id, d.process_id AS process_id,"
    " d.process_path AS process_path, d.notify_program AS notify_program,"
    " d.notify_parameters AS notify_parameters, d.transfer_hr AS transfer_hr, d.bytes_total AS bytes_total,"
    " d.bytes_transferred AS bytes_transferred, d.local_name AS local_name, d.source AS source,"
    " d.recovered AS recovered, CASE WHEN d.ack_id IS NULL THEN 0 ELSE 1 END AS acknowledged,"
    " a.time AS acknowledged_at, a.who AS acknowledged_by"
    " FROM detections AS d LEFT JOIN acknowledgements AS a ON a.id = d.ack_id;";

/* v9: the alerts a batch owes, written in the batch's own transaction and deleted once each is written to
 * the Event Log, so a crash between a commit and its alerts loses none: the service writes what is left
 * at its next start (engine.c), per channel. A crash between an alert and its delete writes that one
 * alert twice: at least once, never lost. */
static const char schema_v9[] = "CREATE TABLE alert_outbox(kind TEXT NOT NULL, row_id INTEGER NOT NULL,"
                                " channel TEXT NOT NULL, PRIMARY KEY(kind, row_id)) WITHOUT ROWID;";

/* Numbered parameters ?1..?31 are shared by the insert and the merge so one bind serves both; ?32 (the
 * source) is the insert's alone. */
#define DETECTION_COLUMNS                                                                                   \
    "event_id, record_id, time, computer, job_id, job_title, job_owner, url, ip, verdict, kind, range,"     \
    " local_name, allowed, process_id, process_path, notify_program, notify_parameters, events_seen,"       \
    " first_seen, last_seen, last_record_id, transfer_hr, bytes_total, bytes_transferred, state, ip_bytes," \
    " reading, embedded_ipv4, embedded_ip_bytes, recovered"

/* The merge of a detection into its existing row. It is idempotent and does not depend on the order
 * in which batches arrive: sets are OR-ed, first/last seen are MIN/MAX, the state only moves forward,
 * and context from the newer of the two (by last_record_id) wins where it is known. */
#define NEWER        "(?22 >= COALESCE(last_record_id, 0))"
#define PICK(col, n) col " = CASE WHEN " NEWER " THEN COALESCE(?" #n ", " col ") ELSE COALESCE(" col ", ?" #n ") END"
/* clang-format off */
static const char merge_sql[] =
    "UPDATE detections SET "
    "event_id = CASE WHEN ?2 < record_id THEN ?1 ELSE event_id END,"
    "time = CASE WHEN ?2 < record_id THEN ?3 ELSE time END,"
    "record_id = MIN(record_id, ?2),"
    PICK("job_title", 6) "," PICK("job_owner", 7) "," PICK("ip", 9) "," PICK("verdict", 10) ","
    PICK("kind", 11) "," PICK("range", 12) "," PICK("local_name", 13) ","
    "allowed = CASE WHEN " NEWER " THEN ?14 ELSE allowed END,"
    PICK("process_id", 15) "," PICK("process_path", 16) "," PICK("notify_program", 17) ","
    PICK("notify_parameters", 18) ","
    "events_seen = events_seen | ?19,"
    "first_seen = CASE WHEN ?20 IS NULL THEN first_seen WHEN first_seen IS NULL THEN ?20"
    " ELSE MIN(first_seen, ?20) END,"
    "last_seen = CASE WHEN ?21 IS NULL THEN last_seen WHEN last_seen IS NULL THEN ?21"
    " ELSE MAX(last_seen, ?21) END,"
    PICK("transfer_hr", 23) "," PICK("bytes_total", 24) "," PICK("bytes_transferred", 25) ","
    "state = MAX(state, ?26)," PICK("ip_bytes", 27) "," PICK("reading", 28) "," PICK("embedded_ipv4", 29) ","
    PICK("embedded_ip_bytes", 30) ","
    /* Seen once in a record still in a log, a detection is no longer known only from recovered ones. */
    "recovered = MIN(recovered, ?31),"
    "last_record_id = MAX(COALESCE(last_record_id, 0), ?22) "
    "WHERE computer = ?4 AND job_id = ?5 AND url = ?8";
/* clang-format on */

/* The findings' columns; ?1..?33 are shared by the insert and the merge, ?34 (the source) is the insert's. */
#define FINDING_COLUMNS                                                                                          \
    "kind, computer, job_key, item_key, event_id, record_id, time, job_id, job_title, job_owner, process_id,"    \
    " process_path, notify_program, notify_parameters, notify_failures, notify_error, server, url, auth_scheme," \
    " user, credentials, ip, verdict, range, reading, embedded_ipv4, ip_bytes, channel, state, first_seen,"      \
    " last_seen, last_record_id, recovered"

/* A finding merged into its row, with the same rules as a detection: the oldest raising event, context
 * from the newer state (by last_record_id) where known, failures and state that only grow. */
#define FNEWER        "(?32 >= COALESCE(last_record_id, 0))"
#define FPICK(col, n) col " = CASE WHEN " FNEWER " THEN COALESCE(?" #n ", " col ") ELSE COALESCE(" col ", ?" #n ") END"
/* clang-format off */
static const char finding_merge_sql[] =
    "UPDATE findings SET "
    "event_id = CASE WHEN ?6 < record_id THEN ?5 ELSE event_id END,"
    "time = CASE WHEN ?6 < record_id THEN ?7 ELSE time END,"
    "record_id = MIN(record_id, ?6),"
    FPICK("job_id", 8) "," FPICK("job_title", 9) "," FPICK("job_owner", 10) "," FPICK("process_id", 11) ","
    FPICK("process_path", 12) "," FPICK("notify_program", 13) "," FPICK("notify_parameters", 14) ","
    "notify_failures = MAX(notify_failures, ?15)," FPICK("notify_error", 16) "," FPICK("server", 17) ","
    FPICK("url", 18) "," FPICK("auth_scheme", 19) "," FPICK("user", 20) "," FPICK("credentials", 21) ","
    FPICK("ip", 22) "," FPICK("verdict", 23) "," FPICK("range", 24) "," FPICK("reading", 25) ","
    FPICK("embedded_ipv4", 26) "," FPICK("ip_bytes", 27) "," FPICK("channel", 28) ","
    "state = CASE WHEN ?29 IS NULL THEN state ELSE MAX(COALESCE(state, 0), ?29) END,"
    "first_seen = CASE WHEN ?30 IS NULL THEN first_seen WHEN first_seen IS NULL THEN ?30"
    " ELSE MIN(first_seen, ?30) END,"
    "last_seen = CASE WHEN ?31 IS NULL THEN last_seen WHEN last_seen IS NULL THEN ?31"
    " ELSE MAX(last_seen, ?31) END,"
    "recovered = MIN(recovered, ?33),"
    "last_record_id = MAX(COALESCE(last_record_id, 0), ?32) "
    "WHERE computer = ?2 AND kind = ?1 AND job_key = ?3 AND item_key = ?4";
/* clang-format on */

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_INSERT] =
        "INSERT INTO detections(" DETECTION_COLUMNS ", source) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
        " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31,"
        " ?32)"
        " ON CONFLICT(computer, job_id, url) DO NOTHING",
    [STMT_MERGE] = merge_sql,
    [STMT_FINDING_INSERT] =
        "INSERT INTO findings(" FINDING_COLUMNS ", source) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33,"
        " 'events') ON CONFLICT(computer, kind, job_key, item_key) DO NOTHING",
    [STMT_FINDING_MERGE] = finding_merge_sql,
    [STMT_BOOKMARK_SET] = "INSERT INTO bookmarks(channel, bookmark, updated_at) VALUES(?1, ?2, ?3)"
                          " ON CONFLICT(channel) DO UPDATE SET bookmark = excluded.bookmark,"
                          " updated_at = excluded.updated_at",
    [STMT_BOOKMARK_GET] = "SELECT bookmark FROM bookmarks WHERE channel = ?1",
    [STMT_GAP_ADD] = "INSERT INTO gaps(time, channel, reason) VALUES(?1, ?2, ?3)",
    [STMT_ERROR_ADD] = "INSERT INTO errors(time, where_, code, code_name, detail) VALUES(?1, ?2, ?3, ?4, ?5)",
    [STMT_OUTBOX_ADD] = "INSERT OR IGNORE INTO alert_outbox(kind, row_id, channel) VALUES(?1, ?2, ?3)",
    [STMT_OUTBOX_DONE] = "DELETE FROM alert_outbox WHERE kind = ?1 AND row_id = ?2",
};

sqlite3 *store_db_handle(store *s)
{
    return s->db;
}

bg_error store_sqlite_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return BG_ERR_OK;
    case SQLITE_NOMEM:
        return BG_ERR_NOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return BG_ERR_DB_BUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return BG_ERR_DB_CORRUPT;
    case SQLITE_FULL:
        return BG_ERR_DB_FULL;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return BG_ERR_DB_READONLY;
    case SQLITE_CANTOPEN:
        return BG_ERR_DB_OPEN;
    case SQLITE_IOERR:
        return BG_ERR_IO;
    case SQLITE_TOOBIG:
    case SQLITE_INTERRUPT: /* Only ever the work bound's progress handler (store_guard.c). */
        return BG_ERR_TOO_LARGE;
    default:
        return BG_ERR_DB;
    }
}

#if defined(__GNUC__) || defined(__clang__)
#define STORE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define STORE_PRINTF(f, a)
#endif
static void err_set(char *errbuf, size_t errlen, const char *fmt, ...) STORE_PRINTF(3, 4);

/* Writes a formatted message into the caller's errbuf (which may be NULL). */
static void err_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* Appends text to errbuf when it fits. */
static void err_append(char *errbuf, size_t errlen, const char *text)
{
    if (!errbuf || !errlen)
        return;
    size_t len = strlen(errbuf);
    if (len + 1 < errlen)
        snprintf(errbuf + len, errlen - len, "%s", text);
}

static void now_text(char *buf, size_t n)
{
    store_time_format((int64_t)time(NULL), buf, n);
}

/*
 * The busy handler: capped exponential backoff, giving up once the operation's budget is spent.
 * SQLite calls it for every statement that meets a lock (BEGIN IMMEDIATE, COMMIT, reads during a
 * checkpoint); count restarts at 0 for each new wait, so the budget is reset by the callers instead.
 */
static int busy_wait(void *arg, int count)
{
    store *s = arg;
    if (s->busy_slept_ms >= s->busy_budget_ms)
        return 0;
    int ms = BUSY_FIRST_MS << (count < 6 ? count : 6);
    if (ms > BUSY_CAP_MS)
        ms = BUSY_CAP_MS;
    if (ms > s->busy_budget_ms - s->busy_slept_ms)
        ms = s->busy_budget_ms - s->busy_slept_ms;
    sqlite3_sleep(ms);
    s->busy_slept_ms += ms;
    return 1;
}

static sqlite3_stmt *stmt_get(store *s, int which)
{
    if (!s->stmt[which]) {
        /* Persistent: these statements live as long as the connection. */
        if (sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[which], NULL) !=
            SQLITE_OK)
            return NULL;
    }
    return s->stmt[which];
}

/* Runs a statement without result rows; returns the SQLite code. */
static int stmt_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int exec_simple(store *s, int which)
{
    sqlite3_stmt *st = stmt_get(s, which);
    if (!st)
        return sqlite3_errcode(s->db) ? sqlite3_errcode(s->db) : SQLITE_ERROR;
    return stmt_step_done(st);
}

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (!v || !*v)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int detection_bind(sqlite3_stmt *st, const detection *d)
{
    int rc = SQLITE_OK;
    uint8_t ipb[16];
    rc |= sqlite3_bind_int64(st, 1, d->event_id);
    rc |= sqlite3_bind_int64(st, 2, (sqlite3_int64)d->record_id);
    rc |= sqlite3_bind_text(st, 3, d->time, -1, SQLITE_STATIC);
    /* Key columns are never NULL: a NULL would make every replay a new row (NULLs are distinct). */
    rc |= sqlite3_bind_text(st, 4, d->computer ? d->computer : "", -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 5, d->job_id, -1, SQLITE_STATIC);
    rc |= bind_text_or_null(st, 6, d->job_title);
    rc |= bind_text_or_null(st, 7, d->job_owner);
    rc |= sqlite3_bind_text(st, 8, d->url ? d->url : "", -1, SQLITE_STATIC);
    rc |= bind_text_or_null(st, 9, d->cls.ip);
    rc |= sqlite3_bind_text(st, 10, classify_verdict_name(d->cls.verdict), -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 11, classify_kind_name(d->cls.kind), -1, SQLITE_STATIC);
    rc |= bind_text_or_null(st, 12, d->cls.range);
    rc |= bind_text_or_null(st, 13, d->local_name);
    rc |= sqlite3_bind_int(st, 14, d->allowed ? 1 : 0);
    rc |= d->process_id >= 0 ? sqlite3_bind_int64(st, 15, d->process_id) : sqlite3_bind_null(st, 15);
    rc |= bind_text_or_null(st, 16, d->process_path);
    rc |= bind_text_or_null(st, 17, d->notify_program);
    rc |= bind_text_or_null(st, 18, d->notify_parameters);
    rc |= sqlite3_bind_int64(st, 19, d->events_seen);
    rc |= bind_text_or_null(st, 20, d->first_seen[0] ? d->first_seen : d->time);
    rc |= bind_text_or_null(st, 21, d->last_seen[0] ? d->last_seen : d->time);
    rc |= sqlite3_bind_int64(st, 22, (sqlite3_int64)(d->last_record_id ? d->last_record_id : d->record_id));
    rc |= d->transfer_hr != INT64_MIN ? sqlite3_bind_int64(st, 23, d->transfer_hr) : sqlite3_bind_null(st, 23);
    rc |= d->bytes_total >= 0 ? sqlite3_bind_int64(st, 24, d->bytes_total) : sqlite3_bind_null(st, 24);
    rc |= d->bytes_transferred >= 0 ? sqlite3_bind_int64(st, 25, d->bytes_transferred) : sqlite3_bind_null(st, 25);
    rc |= sqlite3_bind_int(st, 26, (int)d->state);
    if (store_ip_bytes(d->cls.ip, ipb) == 0)
        rc |= sqlite3_bind_blob(st, 27, ipb, 16, SQLITE_TRANSIENT);
    else
        rc |= sqlite3_bind_null(st, 27);
    const char *reading = classify_reading_name(d->cls.reading);
    rc |= reading ? sqlite3_bind_text(st, 28, reading, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 28);
    rc |= bind_text_or_null(st, 29, d->cls.embedded_ipv4);
    if (store_ip_bytes(d->cls.embedded_ipv4, ipb) == 0)
        rc |= sqlite3_bind_blob(st, 30, ipb, 16, SQLITE_TRANSIENT);
    else
        rc |= sqlite3_bind_null(st, 30);
    rc |= sqlite3_bind_int(st, 31, d->recovered ? 1 : 0);
    /* Only the insert names the source: a merge keeps the row's first source. */
    if (sqlite3_bind_parameter_count(st) >= 32)
        rc |= sqlite3_bind_text(st, 32, detection_source_name(d->source), -1, SQLITE_STATIC);
    return rc;
}

/* Binds a finding to the insert or the merge (the same numbered parameters). */
static int finding_bind(sqlite3_stmt *st, const finding *f)
{
    int rc = SQLITE_OK;
    uint8_t ipb[16];
    char item[FINDING_ITEM_KEY_SIZE];
    int creds = f->kind == FINDING_CREDENTIALS_DIRECT_IP;
    rc |= sqlite3_bind_text(st, 1, finding_kind_name(f->kind), -1, SQLITE_STATIC);
    /* Key columns are never NULL: NULLs are distinct, so a replay would add a row. */
    rc |= sqlite3_bind_text(st, 2, f->computer ? f->computer : "", -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 3, finding_job_key(f), -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 4, finding_item_key(f, item), -1, SQLITE_TRANSIENT);
    rc |= sqlite3_bind_int64(st, 5, f->event_id);
    rc |= sqlite3_bind_int64(st, 6, (sqlite3_int64)f->record_id);
    rc |= sqlite3_bind_text(st, 7, f->time, -1, SQLITE_STATIC);
    rc |= bind_text_or_null(st, 8, f->job_id);
    rc |= bind_text_or_null(st, 9, f->job_title);
    rc |= bind_text_or_null(st, 10, f->job_owner);
    rc |= f->process_id >= 0 ? sqlite3_bind_int64(st, 11, f->process_id) : sqlite3_bind_null(st, 11);
    rc |= bind_text_or_null(st, 12, f->process_path);
    rc |= bind_text_or_null(st, 13, f->program);
    rc |= bind_text_or_null(st, 14, f->parameters);
    rc |= sqlite3_bind_int64(st, 15, f->notify_failures);
    rc |= f->notify_error != INT64_MIN ? sqlite3_bind_int64(st, 16, f->notify_error) : sqlite3_bind_null(st, 16);
    rc |= bind_text_or_null(st, 17, f->server);
    rc |= bind_text_or_null(st, 18, f->url);
    rc |= bind_text_or_null(st, 19, f->scheme);
    rc |= bind_text_or_null(st, 20, f->user);
    rc |= creds ? sqlite3_bind_text(st, 21, f->accepted ? "accepted" : "rejected", -1, SQLITE_STATIC)
                : sqlite3_bind_null(st, 21);
    rc |= bind_text_or_null(st, 22, creds ? f->cls.ip : NULL);
    rc |= creds ? sqlite3_bind_text(st, 23, classify_verdict_name(f->cls.verdict), -1, SQLITE_STATIC)
                : sqlite3_bind_null(st, 23);
    rc |= bind_text_or_null(st, 24, creds ? f->cls.range : NULL);
    rc |= bind_text_or_null(st, 25, creds ? classify_reading_name(f->cls.reading) : NULL);
    rc |= bind_text_or_null(st, 26, creds ? f->cls.embedded_ipv4 : NULL);
    if (creds && store_ip_bytes(f->cls.ip, ipb) == 0)
        rc |= sqlite3_bind_blob(st, 27, ipb, 16, SQLITE_TRANSIENT);
    else
        rc |= sqlite3_bind_null(st, 27);
    rc |= bind_text_or_null(st, 28, f->channel);
    rc |= f->kind == FINDING_NOTIFY_COMMAND ? sqlite3_bind_int(st, 29, (int)f->state) : sqlite3_bind_null(st, 29);
    rc |= bind_text_or_null(st, 30, f->first_seen[0] ? f->first_seen : f->time);
    rc |= bind_text_or_null(st, 31, f->last_seen[0] ? f->last_seen : f->time);
    rc |= sqlite3_bind_int64(st, 32, (sqlite3_int64)(f->last_record_id ? f->last_record_id : f->record_id));
    rc |= sqlite3_bind_int(st, 33, f->recovered ? 1 : 0);
    return rc;
}

static void stmts_finalize(store *s)
{
    for (int i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(s->stmt[i]);
        s->stmt[i] = NULL;
    }
}

void store_close(store *s)
{
    if (!s)
        return;
    stmts_finalize(s);
    /* sqlite3_close_v2 also checkpoints and removes the WAL when this is the last connection. */
    sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

/* Fills ip_bytes for rows written by version 1, which had only the text. */
static int migrate_v2_ip_bytes(sqlite3 *db)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT id, ip FROM detections WHERE ip IS NOT NULL AND ip_bytes IS NULL", -1, &sel,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE detections SET ip_bytes = ?2 WHERE id = ?1", -1, &upd, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        uint8_t b[16];
        if (store_ip_bytes((const char *)sqlite3_column_text(sel, 1), b) != 0) {
            rc = SQLITE_OK;
            continue;
        }
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_blob(upd, 2, b, 16, SQLITE_TRANSIENT);
        rc = sqlite3_step(upd);
        sqlite3_reset(upd);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

/* Fills embedded_ipv4 (and its bytes) of rows written before version 3 from their NAT64 or 6to4 ip.
 * Their reading stays NULL: which reader found an old row's IP was not recorded. */
static int migrate_v3_embedded(sqlite3 *db)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT id, ip FROM detections WHERE ip LIKE '%:%'", -1, &sel, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE detections SET embedded_ipv4 = ?2, embedded_ip_bytes = ?3 WHERE id = ?1",
                                -1, &upd, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        uint8_t a[16], v4[4], b[16];
        const char *ip = (const char *)sqlite3_column_text(sel, 1);
        char text[16];
        rc = SQLITE_OK;
        if (!ip || !ipaddr_v6_parse(ip, strlen(ip), a))
            continue;
        ipaddr_embed embed = ipaddr_v6_embedded_v4(a, v4);
        if (embed != IPADDR_EMBED_NAT64 && embed != IPADDR_EMBED_6TO4)
            continue;
        ipaddr_v4_format(v4, text, sizeof text);
        if (store_ip_bytes(text, b) != 0)
            continue;
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_text(upd, 2, text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(upd, 3, b, 16, SQLITE_TRANSIENT);
        rc = sqlite3_step(upd);
        sqlite3_reset(upd);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

/* Records when and by which version the file was created, for admins looking at an old file. */
static int meta_created_set(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    char now[BG_TIME_TEXT_SIZE];
    now_text(now, sizeof now);
    int rc = sqlite3_prepare_v2(db,
                                "INSERT OR IGNORE INTO meta(key, value) VALUES('created_at', ?1),"
                                " ('created_by', 'bitsguard ' || ?2)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, BG_VERSION, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    return rc;
}

static int user_version_get(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Copies SQL text with its layout made canonical: outside quotes, a run of white space becomes one
 * space, and none is kept next to ( ) , ; or at either end. Files written by older versions or by
 * hand with other line breaks compare equal; any other difference in the text still counts. out
 * needs strlen(in) + 1 bytes. */
static void schema_sql_normalize(const char *in, char *out)
{
    size_t o = 0;
    char quote = 0;
    for (const char *p = in; *p != '\0'; p++) {
        char c = *p;
        if (quote != 0) {
            out[o++] = c;
            if (c == quote)
                quote = 0;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            while (p[1] == ' ' || p[1] == '\t' || p[1] == '\n' || p[1] == '\r' || p[1] == '\f' || p[1] == '\v')
                p++;
            if (o > 0 && !strchr("(),;", out[o - 1]) && p[1] != '\0' && !strchr("(),;", p[1]))
                out[o++] = ' ';
            continue;
        }
        if (c == '\'' || c == '"' || c == '`')
            quote = c;
        else if (c == '[')
            quote = ']';
        out[o++] = c;
    }
    out[o] = '\0';
}

/* Schema objects read and compared at most: ours are fewer than this. */
#define SCHEMA_ROWS_MAX 64

/* Reads the schema rows of db (type, name, table and SQL text, ordered; ANALYZE's statistics tables
 * aside) into a heap string, fields split by 0x1F. At most max_rows rows
 * are read, so a file with millions of planted objects costs no more than ours. Rows end with 0x1E
 * (SQL text may hold line breaks). */
static int schema_rows_read(sqlite3 *db, int max_rows, char **out, int *rows)
{
    sqlite3_stmt *st = NULL;
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    *rows = 0;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT type, name, tbl_name, sql FROM sqlite_schema"
                                " WHERE name NOT IN ('sqlite_stat1', 'sqlite_stat4') ORDER BY type, name LIMIT ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 1, max_rows);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *f[4];
        size_t need = 5;
        for (int i = 0; i < 4; i++) {
            f[i] = (const char *)sqlite3_column_text(st, i);
            if (f[i] == NULL)
                f[i] = "";
            need += strlen(f[i]);
        }
        char *grown = realloc(text, len + need);
        if (grown == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        text = grown;
        for (int i = 0; i < 4; i++) {
            size_t at = len;
            if (i == 3) {
                schema_sql_normalize(f[i], text + len);
                len += strlen(text + len);
            } else {
                memcpy(text + len, f[i], strlen(f[i]));
                len += strlen(f[i]);
            }
            /* A separator inside a field (never in ours) must not let the rows be cut differently. */
            for (size_t k = at; k < len; k++)
                if (text[k] == 0x1e || text[k] == 0x1f)
                    text[k] = '?';
            text[len++] = i < 3 ? 0x1f : 0x1e;
        }
        text[len] = '\0';
        (*rows)++;
        rc = SQLITE_OK;
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && text == NULL && (text = calloc(1, 1)) == NULL)
        rc = SQLITE_NOMEM;
    if (rc != SQLITE_OK) {
        free(text);
        text = NULL;
    }
    *out = text;
    return rc;
}

/* Whether text holds row (len bytes, its 0x1E separator included) as one of its rows. */
static int schema_text_has_row(const char *text, const char *row, size_t len)
{
    for (const char *p = text; *p != '\0';) {
        const char *end = strchr(p, 0x1e);
        size_t l = end != NULL ? (size_t)(end - p) + 1 : strlen(p);
        if (l == len && memcmp(p, row, len) == 0)
            return 1;
        p += l;
    }
    return 0;
}

/* The first row of a that b does not hold, as "type 'name'" in out; "" when there is none. */
static void schema_row_missing(const char *a, const char *b, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *row = a; *row != '\0';) {
        const char *end = strchr(row, 0x1e);
        size_t len = end != NULL ? (size_t)(end - row) + 1 : strlen(row);
        if (!schema_text_has_row(b, row, len)) {
            /* Type and name are the first two fields; the name is cut to keep the message short. */
            const char *sep = memchr(row, 0x1f, len);
            const char *name = sep != NULL ? sep + 1 : row;
            const char *sep2 = sep != NULL ? memchr(name, 0x1f, len - (size_t)(name - row)) : NULL;
            int type_len = sep != NULL ? (int)(sep - row) : 0;
            int name_len = sep2 != NULL ? (int)(sep2 - name) : 0;
            snprintf(out, n, "%.*s '%.*s'", type_len, row, name_len > 64 ? 64 : name_len, name);
            return;
        }
        row += len;
    }
}

/*
 * Checks that the file's schema objects are exactly those bitsguard writes at this version (0: none
 * at all), comparing the SQL text SQLite keeps in sqlite_schema. The expected rows come from running
 * the migrations' own statements on an empty in-memory database, so they cannot drift from what we
 * write. Anything else (a foreign view or trigger, a missing index, another program's tables) is
 * refused before any of it is used: its SQL never runs.
 */
static bg_error schema_check(store *s, int version, char *errbuf, size_t errlen)
{
    sqlite3 *mem = NULL;
    char *want = NULL, *have = NULL;
    int want_rows = 0, have_rows = 0;
    bg_error e = BG_ERR_OK;
    int rc = sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL);
    static const char *const steps[] = {schema_v1, schema_v2, schema_v3, schema_v4, schema_v5,
                                        schema_v6, schema_v7, schema_v8, schema_v9};
    _Static_assert(sizeof steps / sizeof steps[0] == STORE_SCHEMA_VERSION, "one step per schema version");
    for (int v = 1; rc == SQLITE_OK && v <= version; v++)
        rc = sqlite3_exec(mem, steps[v - 1], NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = schema_rows_read(mem, SCHEMA_ROWS_MAX, &want, &want_rows);
    if (rc != SQLITE_OK) {
        e = store_sqlite_error(rc);
        err_set(errbuf, errlen, "%s: cannot build the expected schema: %s", s->path,
                mem != NULL ? sqlite3_errmsg(mem) : "out of memory");
        goto cleanup;
    }
    rc = schema_rows_read(s->db, want_rows + 1, &have, &have_rows);
    if (rc != SQLITE_OK) {
        e = store_sqlite_error(rc);
        err_set(errbuf, errlen, "%s: cannot read the schema: %s", s->path, sqlite3_errmsg(s->db));
        goto cleanup;
    }
    if (have_rows != want_rows || strcmp(want, have) != 0) {
        char what[96];
        schema_row_missing(have, want, what, sizeof what);
        const char *how = "unexpected";
        if (what[0] == '\0') {
            schema_row_missing(want, have, what, sizeof what);
            how = "missing or altered";
        }
        e = BG_ERR_DB_SCHEMA;
        err_set(errbuf, errlen,
                "%s: not a bitsguard database (schema version %d, %s %s); refused, the file is left as it is", s->path,
                version, how, what);
    }
cleanup:
    free(want);
    free(have);
    sqlite3_close(mem);
    return e;
}

/*
 * Brings the schema to STORE_SCHEMA_VERSION, one version per step, each step in its own transaction
 * with the user_version bump, so an interrupted migration leaves a consistent older version behind.
 */
static bg_error schema_migrate(store *s, char *errbuf, size_t errlen)
{
    int version = 0;
    s->busy_slept_ms = 0;
    int rc = user_version_get(s->db, &version);
    if (rc != SQLITE_OK)
        goto fail;
    if (version > STORE_SCHEMA_VERSION) {
        err_set(errbuf, errlen, "%s: schema version %d is newer than this program; upgrade bitsguard", s->path,
                version);
        return BG_ERR_DB_SCHEMA;
    }
    while (version < STORE_SCHEMA_VERSION) {
        if (s->readonly) {
            err_set(errbuf, errlen,
                    "%s: schema is older than this program and the file is read-only; open it once with write"
                    " access to upgrade it",
                    s->path);
            return BG_ERR_DB_SCHEMA;
        }
        s->busy_slept_ms = 0;
        rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            goto fail;
        /* Another process may have migrated while we waited for the lock. */
        rc = user_version_get(s->db, &version);
        if (rc == SQLITE_OK && version < STORE_SCHEMA_VERSION) {
            int next = version + 1;
            if (next == 1) {
                rc = sqlite3_exec(s->db, schema_v1, NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                    rc = meta_created_set(s->db);
            } else if (next == 2) {
                rc = sqlite3_exec(s->db, schema_v2, NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                    rc = migrate_v2_ip_bytes(s->db);
            } else if (next == 3) {
                rc = sqlite3_exec(s->db, schema_v3, NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                    rc = migrate_v3_embedded(s->db);
            } else if (next == 4) {
                rc = sqlite3_exec(s->db, schema_v4, NULL, NULL, NULL);
            } else if (next == 5) {
                rc = sqlite3_exec(s->db, schema_v5, NULL, NULL, NULL);
            } else if (next == 6) {
                rc = sqlite3_exec(s->db, schema_v6, NULL, NULL, NULL);
            } else if (next == 7) {
                rc = sqlite3_exec(s->db, schema_v7, NULL, NULL, NULL);
            } else if (next == 8) {
                rc = sqlite3_exec(s->db, schema_v8, NULL, NULL, NULL);
            } else if (next == 9) {
                rc = sqlite3_exec(s->db, schema_v9, NULL, NULL, NULL);
            }
            char pragma[48];
            snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", next);
            if (rc == SQLITE_OK)
                rc = sqlite3_exec(s->db, pragma, NULL, NULL, NULL);
            if (rc == SQLITE_OK)
                version = next;
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            /* The message first: ROLLBACK would replace it with "not an error". */
            err_set(errbuf, errlen, "%s: cannot migrate the schema: %s", s->path, sqlite3_errmsg(s->db));
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return store_sqlite_error(rc);
        }
    }
    return BG_ERR_OK;
fail:
    err_set(errbuf, errlen, "%s: cannot migrate the schema: %s", s->path, sqlite3_errmsg(s->db));
    return store_sqlite_error(rc);
}

/* Renames path (and its -wal, -shm, -journal) to "<path>.corrupt-YYYYMMDDTHHMMSSZ[-N]"; the new name in aside. */
static int file_move_aside(const char *path, char *aside, size_t n)
{
    char stamp[BG_TIME_TEXT_SIZE];
    now_text(stamp, sizeof stamp);
    /* "2026-11-30T06:50:22Z" -> "20261130T065022Z" */
    char compact[20];
    size_t j = 0;
    for (size_t i = 0; stamp[i] && j + 1 < sizeof compact; i++)
        if (stamp[i] != '-' && stamp[i] != ':')
            compact[j++] = stamp[i];
    compact[j] = '\0';
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[16] = "";
        if (attempt)
            snprintf(suffix, sizeof suffix, "-%d", attempt);
        int len = snprintf(aside, n, "%s" STORE_CORRUPT_INFIX "%s%s", path, compact, suffix);
        if (len < 0 || (size_t)len >= n)
            return -1;
        if (store_file_exists(aside) != 0)
            continue;
        if (bg_os_file_rename(path, aside) != 0)
            return -1;
#define STORE_SIDECAR_TEXT(s) s,
        static const char *const sidecars[] = {STORE_SIDECARS(STORE_SIDECAR_TEXT)};
#undef STORE_SIDECAR_TEXT
        for (size_t k = 0; k < sizeof sidecars / sizeof sidecars[0]; k++) {
            char from[4096], to[4096];
            int a = snprintf(from, sizeof from, "%s%s", path, sidecars[k]);
            int b = snprintf(to, sizeof to, "%s%s", aside, sidecars[k]);
            /* A stale WAL of the old file must never be applied to the fresh one: move or delete it. */
            if (a > 0 && (size_t)a < sizeof from && b > 0 && (size_t)b < sizeof to && store_file_exists(from) == 1) {
                if (bg_os_file_rename(from, to) != 0)
                    bg_os_file_remove(from);
            }
        }
        return 0;
    }
    return -1;
}

/* Maps a failed open to the project's error: permissions and read-only media become DB_READONLY. */
static bg_error open_error(sqlite3 *db, const char *path, int rc)
{
    int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys == EACCES || sys == EPERM || sys == EROFS)
        return BG_ERR_DB_READONLY;
    if ((rc & 0xff) == SQLITE_CANTOPEN && store_file_exists(path) == 0) {
        /* SQLite retries read-only after a refused create, so its errno tells ENOENT; ask the folder. */
        FILE *fp = bg_os_file_open(path, "ab");
        if (fp) {
            fclose(fp);
            bg_os_file_remove(path);
        } else if (errno == EACCES || errno == EPERM || errno == EROFS) {
            return BG_ERR_DB_READONLY;
        }
    }
    return store_sqlite_error(rc);
}

static const char *open_hint(bg_error e)
{
    switch (e) {
    case BG_ERR_DB_READONLY:
        return " (the file or its folder is read-only for this user)";
    case BG_ERR_DB_OPEN:
        return " (the folder does not exist or is not a folder)";
    default:
        return "";
    }
}

/* Opens the connection and checks the file is a sound database; *sqlite_rc (may be NULL) receives
 * SQLite's code of a failure, to tell a file that is not a database (SQLITE_NOTADB) from a damaged one. */
static bg_error connection_open(store *s, int flags, int check, int *sqlite_rc, char *errbuf, size_t errlen)
{
    /* SQLite would create the file 0644 (the umask permitting), and its -wal and -shm files copy its
     * mode: creating it empty and private first keeps all three private, for detections name users,
     * hosts and paths. */
    if (flags & SQLITE_OPEN_CREATE)
        bg_os_file_create_private(s->path);
    char *literal = store_path_literal(s->path);
    if (literal == NULL)
        return BG_ERR_NOMEM;
    int rc = sqlite3_open_v2(literal, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    free(literal);
    bg_error e = BG_ERR_OK;
    if (rc != SQLITE_OK) {
        e = open_error(s->db, s->path, rc);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    store_connection_harden(s->db);
    sqlite3_busy_handler(s->db, busy_wait, s);
    s->busy_slept_ms = 0;
    s->readonly = sqlite3_db_readonly(s->db, "main") == 1;
    /* Reading the schema is the first access to the file: a non-database fails here (SQLITE_NOTADB). */
    rc = sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc == SQLITE_OK && check) {
        /* A truncated or damaged file can have a sound first page; quick_check reads every page once.
         * It costs a full read of the file at service start, which is the time to find out. */
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW)
                rc = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) {
        e = open_error(s->db, s->path, rc);
        goto fail;
    }
    return BG_ERR_OK;
fail:
    if (sqlite_rc != NULL)
        *sqlite_rc = rc;
    err_set(errbuf, errlen, "%s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
    err_append(errbuf, errlen, open_hint(e));
    sqlite3_close_v2(s->db);
    s->db = NULL;
    return e;
}

/*
 * The durability settings. synchronous=FULL: in WAL mode every COMMIT syncs the WAL, so a batch and its
 * bookmark survive a power loss once store_batch_commit returns; NORMAL could lose the last commits on
 * power loss (not on a process crash) while the event log's bookmark had moved on in memory only --
 * losing nothing matters more than the sync per batch (docs/schema.md has the measured cost).
 */
static int connection_configure(store *s)
{
    s->busy_slept_ms = 0;
    int rc = SQLITE_OK;
    /* The switch to WAL needs the exclusive lock, and SQLite answers SQLITE_BUSY at once, without its
     * busy handler, while another connection holds a shared lock (two first uses of a new file): so
     * the wait is done here, with the busy handler's backoff and budget. */
    for (int count = 0;; count++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW)
                rc = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0 ? SQLITE_OK : SQLITE_BUSY;
        }
        sqlite3_finalize(st);
        if ((rc & 0xff) != SQLITE_BUSY || !busy_wait(s, count))
            break;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", NULL, NULL, NULL);
    return rc;
}

static bg_error store_alloc(store **out, const char *path, const store_options *opt)
{
    store *s = calloc(1, sizeof *s);
    size_t len = strlen(path) + 1;
    if (!s || !(s->path = malloc(len))) {
        free(s);
        return BG_ERR_NOMEM;
    }
    memcpy(s->path, path, len);
    if (opt)
        s->opt = *opt;
    s->busy_budget_ms = s->opt.busy_retry_ms > 0 ? s->opt.busy_retry_ms : BUSY_DEFAULT_MS;
    *out = s;
    return BG_ERR_OK;
}

/*
 * Reads the file's schema version and checks its objects against that version's, before anything is
 * changed: a newer version, a negative one or a foreign schema is refused and the file left as it is.
 * For a read command (exact), only the current version is accepted: read commands never migrate.
 */
static bg_error schema_accept_read(store *s, int exact, int *version, char *errbuf, size_t errlen)
{
    int rc = user_version_get(s->db, version);
    if (rc != SQLITE_OK) {
        err_set(errbuf, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
        return store_sqlite_error(rc);
    }
    if (*version > STORE_SCHEMA_VERSION) {
        err_set(errbuf, errlen, "%s: schema version %d is newer than this program; upgrade bitsguard", s->path,
                *version);
        return BG_ERR_DB_SCHEMA;
    }
    if (*version < 0) {
        err_set(errbuf, errlen, "%s: not a bitsguard database (schema version %d); refused, the file is left as it is",
                s->path, *version);
        return BG_ERR_DB_SCHEMA;
    }
    bg_error e = schema_check(s, *version, errbuf, errlen);
    if (e == BG_ERR_OK && exact && *version != STORE_SCHEMA_VERSION) {
        e = BG_ERR_DB_SCHEMA;
        if (*version == 0)
            err_set(errbuf, errlen, "%s: an empty database: nothing to read", s->path);
        else
            err_set(errbuf, errlen,
                    "%s: schema version %d is older than this program, and query and status never change a file;"
                    " upgrade a copy with: bitsguard scan --db COPY - </dev/null",
                    s->path, *version);
    }
    return e;
}

/* The version and the objects are read in one read transaction: another bitsguard creating the
 * schema of a new file at the same moment is seen either not at all or whole. */
static bg_error schema_accept(store *s, int exact, int *version, char *errbuf, size_t errlen)
{
    s->busy_slept_ms = 0;
    int rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        err_set(errbuf, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
        return store_sqlite_error(rc);
    }
    bg_error e = schema_accept_read(s, exact, version, errbuf, errlen);
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return e;
}

bg_error store_open(store **out, const char *path, const store_options *opt, char *errbuf, size_t errlen)
{
    store *s = NULL;
    char aside[4096] = "";
    bg_error e;
    int version = 0, sqlite_rc = SQLITE_OK;
    *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!path)
        return BG_ERR_INVALID_ARG;
    e = store_path_check(path, 0, errbuf, errlen);
    if (e != BG_ERR_OK)
        return e;
    e = store_alloc(&s, path, opt);
    if (e != BG_ERR_OK)
        return e;
    e = connection_open(s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1, &sqlite_rc, errbuf, errlen);
    if (e == BG_ERR_DB_CORRUPT && (sqlite_rc & 0xff) == SQLITE_NOTADB) {
        /* Not SQLite at all: someone else's file, not ours gone bad. Moving it aside would replace it. */
        err_set(errbuf, errlen,
                "%s: not a database; refused, the file is left as it is (give another --db path, or move it away)",
                path);
        goto cleanup;
    }
    if (e == BG_ERR_DB_CORRUPT) {
        /* A damaged SQLite file at our path: keep it for forensics and start afresh, ingestion must go on. */
        if (file_move_aside(path, aside, sizeof aside) != 0) {
            err_set(errbuf, errlen, "%s: corrupt database could not be moved aside", path);
            goto cleanup;
        }
        e = connection_open(s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0, NULL, errbuf, errlen);
    }
    if (e != BG_ERR_OK)
        goto cleanup;
    if (s->readonly) {
        e = BG_ERR_DB_READONLY;
        err_set(errbuf, errlen, "%s: the database file is read-only for this user", path);
        goto cleanup;
    }
    /* Every check before the first change (the switch to WAL is one). */
    e = schema_accept(s, 0, &version, errbuf, errlen);
    if (e != BG_ERR_OK)
        goto cleanup;
    int rc = connection_configure(s);
    if (rc != SQLITE_OK) {
        e = open_error(s->db, s->path, rc);
        err_set(errbuf, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
        err_append(errbuf, errlen, open_hint(e));
        goto cleanup;
    }
    e = schema_migrate(s, errbuf, errlen);
    if (e != BG_ERR_OK)
        goto cleanup;
    if (aside[0]) {
        char detail[4200];
        snprintf(detail, sizeof detail, "corrupt database moved aside to %s", aside);
        e = store_error_record(s, "store_open", BG_ERR_DB_CORRUPT, detail);
        if (e != BG_ERR_OK)
            goto cleanup;
        err_set(errbuf, errlen, "%s: corrupt database moved aside to %s; started a fresh one", path, aside);
    }
cleanup:
    if (e != BG_ERR_OK) {
        store_close(s);
        s = NULL;
    }
    *out = s;
    return e;
}

bg_error store_open_existing(store **out, const char *path, char *errbuf, size_t errlen)
{
    store *s = NULL;
    bg_error e;
    int version = 0;
    *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!path)
        return BG_ERR_INVALID_ARG;
    e = store_path_check(path, 1, errbuf, errlen);
    if (e != BG_ERR_OK)
        return e;
    e = store_alloc(&s, path, NULL);
    if (e != BG_ERR_OK)
        return e;
    /* Read-only, always: an admin's read never migrates, checkpoints a copied -wal into the file or
     * deletes it, so every byte of a file kept as evidence stays as it was. */
    e = connection_open(s, SQLITE_OPEN_READONLY, 0, NULL, errbuf, errlen);
    if (e != BG_ERR_OK)
        goto cleanup;
    s->readonly = 1;
    e = schema_accept(s, 1, &version, errbuf, errlen);
    if (e != BG_ERR_OK)
        goto cleanup;
    store_work_bound(s);
cleanup:
    if (e != BG_ERR_OK) {
        store_close(s);
        s = NULL;
    }
    *out = s;
    return e;
}

/* Starts a write transaction; SQLite's busy handler (busy_wait) does the capped backoff. */
static int write_begin(store *s)
{
    s->busy_slept_ms = 0;
    return exec_simple(s, STMT_BEGIN);
}

/* Commits, retrying a busy COMMIT (a reader finishing a checkpoint) within the same budget. */
static int write_commit(store *s)
{
    int rc = exec_simple(s, STMT_COMMIT);
    while ((rc & 0xff) == SQLITE_BUSY && s->busy_slept_ms < s->busy_budget_ms)
        rc = exec_simple(s, STMT_COMMIT);
    return rc;
}

static void write_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        exec_simple(s, STMT_ROLLBACK);
}

/* Writes one row (detection or finding) with the insert, else merges it into its existing row; *fresh
 * is 1 when the insert added the row. */
static int row_upsert(store *s, sqlite3_stmt *ins, sqlite3_stmt *mrg, const detection *d, const finding *f, int *fresh)
{
    int rc = d ? detection_bind(ins, d) : finding_bind(ins, f);
    if (rc == SQLITE_OK)
        rc = stmt_step_done(ins);
    if (rc != SQLITE_OK)
        return rc;
    *fresh = sqlite3_changes(s->db) == 1;
    if (*fresh)
        return SQLITE_OK;
    /* The row existed (before this batch, or earlier in it): merge into it. */
    rc = d ? detection_bind(mrg, d) : finding_bind(mrg, f);
    return rc == SQLITE_OK ? stmt_step_done(mrg) : rc;
}

static void batch_flags_clear(const store_batch *b)
{
    if (b->is_new)
        memset(b->is_new, 0, b->n * sizeof *b->is_new);
    if (b->finding_is_new)
        memset(b->finding_is_new, 0, b->finding_count * sizeof *b->finding_is_new);
    if (b->row_ids)
        memset(b->row_ids, 0, b->n * sizeof *b->row_ids);
    if (b->finding_row_ids)
        memset(b->finding_row_ids, 0, b->finding_count * sizeof *b->finding_row_ids);
}

static const char *const outbox_kind_names[] = {
    [STORE_OUTBOX_DETECTION] = "detection", [STORE_OUTBOX_FINDING] = "finding"};

/* The row just inserted owes an alert (when the batch has an outbox channel): noted in the outbox, its id in
 * *row_id (may be NULL). */
static int outbox_add(store *s, store_outbox_kind kind, const store_batch *b, int64_t *row_id)
{
    sqlite3_int64 id = sqlite3_last_insert_rowid(s->db);
    if (row_id)
        *row_id = id;
    if (!b->outbox_channel)
        return SQLITE_OK;
    sqlite3_stmt *st = stmt_get(s, STMT_OUTBOX_ADD);
    if (!st)
        return sqlite3_errcode(s->db);
    sqlite3_bind_text(st, 1, outbox_kind_names[kind], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_text(st, 3, b->outbox_channel, -1, SQLITE_STATIC);
    return stmt_step_done(st);
}

bg_error store_outbox_done(store *s, store_outbox_kind kind, int64_t row_id)
{
    if (!s || row_id <= 0 || (kind != STORE_OUTBOX_DETECTION && kind != STORE_OUTBOX_FINDING))
        return BG_ERR_INVALID_ARG;
    sqlite3_stmt *st = stmt_get(s, STMT_OUTBOX_DONE);
    if (!st)
        return store_sqlite_error(sqlite3_errcode(s->db));
    s->busy_slept_ms = 0;
    sqlite3_bind_text(st, 1, outbox_kind_names[kind], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, row_id);
    /* Its own autocommit write: one alert written, one row gone, so a crash repeats at most this alert.
     * Without the WAL sync of every other commit (synchronous=NORMAL keeps a commit through a killed
     * process, only a power cut can undo it): an undone delete only writes its alert once more, and a
     * sync per alert would slow a burst of alerts to the disk's sync rate. The next commit syncs it. */
    int rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = stmt_step_done(st);
    int back = sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    return store_sqlite_error(rc != SQLITE_OK ? rc : back);
}

bg_error store_batch_write(store *s, const store_batch *b)
{
    if (!s || !b || (b->n && !b->dets) || (b->finding_count && !b->findings))
        return BG_ERR_INVALID_ARG;
    int *fresh_rows = NULL;
    int *is_new = b->is_new;
    if (b->tally_channel && !is_new && b->n) {
        /* The computers' detection counts need to know which rows are new. */
        fresh_rows = calloc(b->n, sizeof *fresh_rows);
        if (!fresh_rows)
            return BG_ERR_NOMEM;
        is_new = fresh_rows;
    }
    batch_flags_clear(b);
    int rc = write_begin(s);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_stmt *ins = stmt_get(s, STMT_INSERT);
    sqlite3_stmt *mrg = stmt_get(s, STMT_MERGE);
    sqlite3_stmt *fins = b->finding_count ? stmt_get(s, STMT_FINDING_INSERT) : NULL;
    sqlite3_stmt *fmrg = b->finding_count ? stmt_get(s, STMT_FINDING_MERGE) : NULL;
    if (!ins || !mrg || (b->finding_count && (!fins || !fmrg))) {
        rc = sqlite3_errcode(s->db);
        goto fail;
    }
    for (size_t i = 0; i < b->n; i++) {
        int fresh = 0;
        rc = row_upsert(s, ins, mrg, b->dets[i], NULL, &fresh);
        if (rc == SQLITE_OK && fresh && !b->dets[i]->allowed)
            rc = outbox_add(s, STORE_OUTBOX_DETECTION, b, b->row_ids ? &b->row_ids[i] : NULL);
        if (rc != SQLITE_OK)
            goto fail;
        if (is_new)
            is_new[i] = fresh;
    }
    for (size_t i = 0; i < b->finding_count; i++) {
        int fresh = 0;
        rc = row_upsert(s, fins, fmrg, NULL, b->findings[i], &fresh);
        if (rc == SQLITE_OK && fresh)
            rc = outbox_add(s, STORE_OUTBOX_FINDING, b, b->finding_row_ids ? &b->finding_row_ids[i] : NULL);
        if (rc != SQLITE_OK)
            goto fail;
        if (b->finding_is_new)
            b->finding_is_new[i] = fresh;
    }
    if (b->channel && b->bookmark) {
        sqlite3_stmt *bm = stmt_get(s, STMT_BOOKMARK_SET);
        char now[BG_TIME_TEXT_SIZE];
        now_text(now, sizeof now);
        if (!bm) {
            rc = sqlite3_errcode(s->db);
            goto fail;
        }
        sqlite3_bind_text(bm, 1, b->channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(bm, 2, b->bookmark, -1, SQLITE_STATIC);
        sqlite3_bind_text(bm, 3, now, -1, SQLITE_TRANSIENT);
        rc = stmt_step_done(bm);
        if (rc != SQLITE_OK)
            goto fail;
    }
    if (b->tally_channel) {
        char now[BG_TIME_TEXT_SIZE];
        now_text(now, sizeof now);
        rc = store_tally_write(s, b->tally_channel, b->tally, b->dets, is_new, b->n, now);
        if (rc != SQLITE_OK)
            goto fail;
    }
    rc = write_commit(s);
    if (rc != SQLITE_OK)
        goto fail;
    free(fresh_rows);
    return BG_ERR_OK;
fail:
    write_rollback(s);
    batch_flags_clear(b);
    free(fresh_rows);
    return store_sqlite_error(rc ? rc : SQLITE_ERROR);
}

bg_error store_batch_commit(store *s, const detection *const *dets, size_t n, const char *channel, const char *bookmark,
                            int *is_new)
{
    store_batch b = {.dets = dets, .n = n, .is_new = is_new, .channel = channel, .bookmark = bookmark};
    return store_batch_write(s, &b);
}

bg_error store_checkpoint(store *s)
{
    if (!s)
        return BG_ERR_INVALID_ARG;
    /* PASSIVE, not FULL/RESTART/TRUNCATE: those wait (through the busy handler, up to the store's budget)
     * for readers to finish, so a reader holding a snapshot (an osquery or Velociraptor query, an admin's
     * sqlite3 shell) would hold back ingestion. PASSIVE copies what no reader needs now; the rest goes
     * at the next batch. SQLITE_BUSY here only means another checkpoint was running. */
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return (rc & 0xff) == SQLITE_BUSY ? BG_ERR_OK : store_sqlite_error(rc);
}

bg_error store_bookmark_get(store *s, const char *channel, char **out)
{
    *out = NULL;
    if (!s || !channel)
        return BG_ERR_INVALID_ARG;
    sqlite3_stmt *st = stmt_get(s, STMT_BOOKMARK_GET);
    if (!st)
        return store_sqlite_error(sqlite3_errcode(s->db));
    s->busy_slept_ms = 0;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    bg_error e = BG_ERR_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        size_t len = v ? strlen(v) + 1 : 0;
        if (v && !(*out = malloc(len)))
            e = BG_ERR_NOMEM;
        else if (v)
            memcpy(*out, v, len);
    } else if (rc != SQLITE_DONE) {
        e = store_sqlite_error(rc);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return e;
}

/* Runs one prepared insert in its own short transaction (autocommit). */
static bg_error record_insert(store *s, int which, const char *a, const char *b, int code, const char *d)
{
    if (!s)
        return BG_ERR_INVALID_ARG;
    sqlite3_stmt *st = stmt_get(s, which);
    if (!st)
        return store_sqlite_error(sqlite3_errcode(s->db));
    char now[BG_TIME_TEXT_SIZE];
    now_text(now, sizeof now);
    s->busy_slept_ms = 0;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
    if (which == STMT_GAP_ADD) {
        sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int(st, 3, code);
        sqlite3_bind_text(st, 4, b, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, d, -1, SQLITE_STATIC);
    }
    return store_sqlite_error(stmt_step_done(st));
}

bg_error store_gap_record(store *s, const char *channel, const char *reason)
{
    return record_insert(s, STMT_GAP_ADD, channel, reason, 0, NULL);
}

bg_error store_error_record(store *s, const char *where, bg_error code, const char *detail)
{
    return record_insert(s, STMT_ERROR_ADD, where, bg_error_name(code), (int)code, detail);
}

bg_error store_health_record(store *s, const store_health *h, int64_t now_unix)
{
    if (!s || !h)
        return BG_ERR_INVALID_ARG;
    char when[BG_TIME_TEXT_SIZE];
    store_time_format(now_unix, when, sizeof when);
    /* Meta rows rather than a table: one current sample, no history, no schema change. One statement,
     * so readers never see a half-updated sample. Prepared per call: it runs every few seconds at most. */
    sqlite3_stmt *st = NULL;
    s->busy_slept_ms = 0;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT OR REPLACE INTO meta(key, value) VALUES('service_pid', ?1),"
                                " ('service_rss_bytes', ?2), ('service_peak_rss_bytes', ?3),"
                                " ('service_handles', ?4), ('service_updated_at', ?5)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, h->pid);
        sqlite3_bind_int64(st, 2, h->rss_bytes);
        sqlite3_bind_int64(st, 3, h->peak_rss_bytes);
        sqlite3_bind_int64(st, 4, h->handles);
        sqlite3_bind_text(st, 5, when, -1, SQLITE_TRANSIENT);
        rc = stmt_step_done(st);
    }
    sqlite3_finalize(st);
    return store_sqlite_error(rc);
}

/* The outbox rows whose detection or finding is gone. Row ids are reused once the highest is deleted
 * (no AUTOINCREMENT), so an outbox row left behind would alert on whatever row takes its id next, even
 * an allow-listed one. The outbox is empty but for a crash's leftovers: this scans a handful of rows. */
static const char outbox_orphans_detections[] = "DELETE FROM alert_outbox WHERE kind = 'detection'"
                                                " AND row_id NOT IN (SELECT id FROM detections)";
static const char outbox_orphans_findings[] = "DELETE FROM alert_outbox WHERE kind = 'finding'"
                                              " AND row_id NOT IN (SELECT id FROM findings)";

/* Deletes by sql (which takes ?1 and ?2 = chunk size) in chunks, one short transaction each; then_sql
 * (may be NULL) runs in each chunk's transaction after it, so what depends on the deleted rows goes with
 * them whatever stops the prune. */
static bg_error prune_chunks(store *s, const char *sql, const char *then_sql, const char *text_arg, int64_t limit_total)
{
    sqlite3_stmt *st = NULL;
    sqlite3_stmt *then = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && then_sql)
        rc = sqlite3_prepare_v2(s->db, then_sql, -1, &then, NULL);
    int64_t done = 0;
    while (rc == SQLITE_OK) {
        int64_t chunk = RETENTION_CHUNK;
        if (limit_total >= 0 && limit_total - done < chunk)
            chunk = limit_total - done;
        if (chunk <= 0)
            break;
        rc = write_begin(s);
        if (rc != SQLITE_OK)
            break;
        if (text_arg)
            sqlite3_bind_text(st, 1, text_arg, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, chunk);
        rc = stmt_step_done(st);
        int changed = sqlite3_changes(s->db);
        if (rc == SQLITE_OK && then)
            rc = stmt_step_done(then);
        if (rc == SQLITE_OK)
            rc = write_commit(s);
        if (rc != SQLITE_OK) {
            write_rollback(s);
            break;
        }
        done += changed;
        if (changed < chunk)
            break;
    }
    sqlite3_finalize(then);
    sqlite3_finalize(st);
    return store_sqlite_error(rc);
}

bg_error store_retention_apply(store *s, int64_t now_unix)
{
    if (!s)
        return BG_ERR_INVALID_ARG;
    bg_error e = BG_ERR_OK;
    if (s->opt.retention_days > 0) {
        char cutoff[BG_TIME_TEXT_SIZE];
        store_time_format(now_unix - (int64_t)s->opt.retention_days * 86400, cutoff, sizeof cutoff);
        /* The bare second (no 'Z') sorts before every stored time within that second. */
        cutoff[strlen(cutoff) - 1] = '\0';
        e = prune_chunks(s,
                         "DELETE FROM detections WHERE id IN (SELECT id FROM detections"
                         " WHERE last_seen < ?1 LIMIT ?2)",
                         outbox_orphans_detections, cutoff, -1);
        /* Findings age out like detections; gaps and errors with the detections they explain. */
        if (e == BG_ERR_OK)
            e = prune_chunks(s,
                             "DELETE FROM findings WHERE id IN (SELECT id FROM findings WHERE last_seen < ?1 LIMIT ?2)",
                             outbox_orphans_findings, cutoff, -1);
        if (e == BG_ERR_OK)
            e = prune_chunks(s, "DELETE FROM gaps WHERE id IN (SELECT id FROM gaps WHERE time < ?1 LIMIT ?2)", NULL,
                             cutoff, -1);
        if (e == BG_ERR_OK)
            e = prune_chunks(s, "DELETE FROM errors WHERE id IN (SELECT id FROM errors WHERE time < ?1 LIMIT ?2)", NULL,
                             cutoff, -1);
    }
    if (e == BG_ERR_OK && s->opt.retention_rows > 0) {
        sqlite3_stmt *st = NULL;
        int64_t count = 0;
        s->busy_slept_ms = 0;
        int rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM detections", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            count = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        e = store_sqlite_error(rc);
        if (e == BG_ERR_OK && count > s->opt.retention_rows)
            e = prune_chunks(s,
                             "DELETE FROM detections WHERE id IN (SELECT id FROM detections"
                             " ORDER BY last_seen, id LIMIT ?2)",
                             outbox_orphans_detections, NULL, count - s->opt.retention_rows);
    }
    return e;
}
