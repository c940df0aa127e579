/* The SQLite detection database: open/migrate, exactly-once batch commit with the bookmark, queries, status. */
#ifndef BG_STORE_H
#define BG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"
#include "bg_text.h"
#include "detection.h"
#include "finding.h"

typedef struct store store;

/*
 * The store's file names, defined here only: the data folder (under the data home, bg_os_data_home), the
 * database in it, the files SQLite keeps beside a database, and the infix of the copies a corrupt
 * database is moved aside to ("<db>.corrupt-YYYYMMDDTHHMMSSZ[-N]", sidecars following it). The
 * installer's data-folder code re-secures and deletes exactly these (store_file_is_ours).
 */
#define STORE_FOLDER_NAME   "bitsguard"
#define STORE_DATABASE_NAME "bitsguard.db"
#define STORE_DATABASE_TAIL ".db"
#define STORE_CORRUPT_INFIX ".corrupt-"
#define STORE_SIDECARS(XX)  XX("-wal") XX("-shm") XX("-journal")

/* 1 when name (a file name without folder, UTF-8) is one the store creates: a database (any name ending
 * in .db: DatabasePath may choose it), a database's sidecar, or a corrupt copy or its sidecar; else 0.
 * Case-insensitive, as Windows file names are. */
int store_file_is_ours(const char *name);

typedef struct store_options {
    int retention_days;     /* Detections whose last_seen is older are pruned; 0 keeps forever. */
    int64_t retention_rows; /* At most this many detections are kept (oldest pruned); 0: no cap. */
    int busy_retry_ms;      /* Total time to retry a locked database before BG_ERR_DB_BUSY; 0: default 10 s. */
} store_options;

/*
 * Opens (creating when absent) and migrates the database at path. A file that is corrupt or not a
 * database is renamed to "<path>.corrupt-YYYYMMDDTHHMMSSZ", a fresh database is created and the event
 * recorded in its errors table (errbuf also tells). Read-only files or folders give BG_ERR_DB_READONLY
 * with the path in errbuf. opt may be NULL for defaults. The whole file is read once by
 * PRAGMA quick_check (about 1.7 s for 500,000 detections, 400 MB, warm cache), so a damaged file is
 * found at start rather than mid-ingestion. One store handle per thread.
 */
bg_error store_open(store **out, const char *path, const store_options *opt, char *errbuf,
                    size_t errlen) BG_WARN_UNUSED;
void store_close(store *s);

/*
 * Commits, in one transaction, the detections derived from a batch of events (insert, or merge into
 * the existing row with the same computer/job_id/url) and, when channel and bookmark are not NULL,
 * the channel's new bookmark. is_new (may be NULL) receives 1 for each detection that did not exist
 * before, so alerts are raised once even when a batch is replayed after a crash. A locked database is
 * retried with capped backoff; on any failure nothing of the batch is kept and the bookmark stays:
 * BG_ERR_DB_BUSY (still locked after busy_retry_ms), BG_ERR_DB_FULL (disk full: retry the same batch
 * later), BG_ERR_DB_CORRUPT (close the store and store_open again: the file is then moved aside).
 */
bg_error store_batch_commit(store *s, const detection *const *dets, size_t n, const char *channel, const char *bookmark,
                            int *is_new) BG_WARN_UNUSED;

/* --- Computers seen (schema 7; store_computers.c): collector mode, one row per channel and computer --- */

/* The channel under which `scan --db` counts the computers of the files it read. */
#define STORE_CHANNEL_SCAN "scan"
/* Computer names are kept to this many bytes (a DNS name's limit), cut at a character boundary. */
#define STORE_COMPUTER_NAME_MAX 255u

/* What a batch (or a scan) read from each computer: events counted, earliest and latest TimeCreated. */
typedef struct store_tally store_tally;
store_tally *store_tally_new(void);
void store_tally_free(store_tally *t);
/* Forgets every computer (after a commit, or before events in hand are read again). */
void store_tally_clear(store_tally *t);
/* Counts one event of computer ("" or NULL when it named none) with its normalized TimeCreated (may be
 * "" or NULL). BG_ERR_NOMEM, or BG_ERR_TOO_LARGE for a new computer past 65,536 in one tally. */
bg_error store_tally_add(store_tally *t, const char *computer, const char *time_created) BG_WARN_UNUSED;
size_t store_tally_count(const store_tally *t);
/* t's counts under channel in a transaction of their own (scan --db: STORE_CHANNEL_SCAN). */
bg_error store_tally_commit(store *s, const char *channel, const store_tally *t) BG_WARN_UNUSED;

/* One row of the computers table (texts valid during the callback only; times NULL when unknown). */
typedef struct store_computer {
    const char *channel;
    const char *computer;
    int64_t events;
    int64_t detections;
    const char *first_event; /* Earliest TimeCreated read from it on this channel. */
    const char *last_event;  /* Latest one: a computer that stops forwarding stands out by its age. */
    const char *updated_at;  /* When its counts last changed (UTC, "YYYY-MM-DDTHH:MM:SSZ"). */
} store_computer;
typedef int (*store_computer_fn)(void *ctx, const store_computer *c);

/* 1 when rows of channel come from other computers (ForwardedEvents, a scan), 0 for the channels a service
 * reads about its own computer (the Bits-Client channel, the System log): only the former can go silent. */
int store_computer_forwarded(const char *channel);

/* The rows of computer (NULL: every computer, those silent longest first), at most limit (0: all).
 * A name matches as query --computer does: the whole name without regard to case, or, for a name
 * without a dot, the host part of a DNS name ("ws01" matches "WS01.corp.example"). */
bg_error store_computers_run(store *s, const char *computer, int64_t limit, store_computer_fn fn,
                             void *ctx) BG_WARN_UNUSED;
/* How many computers are known, and how many of them sent no forwarded event (store_computer_forwarded)
 * with a TimeCreated at or after silent_before (text comparable with stored times, e.g. from
 * store_time_format; "" counts none). A computer known from local channels only is never silent. */
bg_error store_computers_count(store *s, const char *silent_before, int64_t *total, int64_t *silent) BG_WARN_UNUSED;

/* A batch with its findings too: what store_batch_write commits in one transaction. */
typedef struct store_batch {
    const detection *const *dets;
    size_t n;
    int *is_new; /* May be NULL; else n flags, 1 for each detection whose row this batch added. */
    /* Findings (finding.h), inserted or merged into the row of the same natural identity (computer, kind,
     * finding_job_key, finding_item_key): failures to run a notify command and the job's outcome update
     * the row, and a finding read again never adds one. */
    const finding *const *findings;
    size_t finding_count;
    int *finding_is_new; /* May be NULL; else finding_count flags, as is_new. */
    const char *channel; /* With bookmark: the channel's new bookmark; both NULL for none. */
    const char *bookmark;
    /* Collector mode (store_computers.c): with tally_channel, tally's events and times (tally may be
     * NULL) are added to each computer's row of the computers table under it, and each detection new
     * to the database is counted to its computer, in the same transaction; so after any crash the
     * counts agree with the detections and the bookmark. */
    const char *tally_channel;
    const store_tally *tally;
    /* The service's alerts (schema v9): with outbox_channel, each new detection that is not allow-listed
     * and each new finding is noted in the alert_outbox table under that channel, in the same
     * transaction; store_outbox_done removes it once its alert is written, and store_outbox_run lists what
     * a crash left. NULL (scan --db) notes nothing. row_ids and finding_row_ids (may be NULL; n and
     * finding_count entries) receive the id of each new row, 0 for the others. */
    const char *outbox_channel;
    int64_t *row_ids;
    int64_t *finding_row_ids;
} store_batch;

typedef enum store_outbox_kind { STORE_OUTBOX_DETECTION, STORE_OUTBOX_FINDING } store_outbox_kind;

/* The alert of that row is written: its outbox row goes, in a transaction of its own. */
bg_error store_outbox_done(store *s, store_outbox_kind kind, int64_t row_id) BG_WARN_UNUSED;

/* Called once per row of the outbox of a channel (detection or finding set, the other NULL; valid only
 * during the call) with its row id; non-zero stops. */
typedef int (*store_outbox_fn)(void *ctx, int64_t row_id, const detection *d, const finding *f);

/* The alerts a channel still owes (a crash came between a commit and its alerts), oldest row first. */
bg_error store_outbox_run(store *s, const char *channel, store_outbox_fn fn, void *ctx) BG_WARN_UNUSED;

/* store_batch_commit with findings: the same single transaction, retries and failures. The new-row
 * flags are what the service alerts on: exactly once per detection and per finding. */
bg_error store_batch_write(store *s, const store_batch *b) BG_WARN_UNUSED;
/*
 * Copies the committed pages from the WAL into the database file (a PASSIVE checkpoint), so a reader that
 * copies only the main file (Velociraptor's sqlite() works on a copy) or cannot use the WAL (osquery's
 * automatic tables open it read-only without locks) sees every committed row. PASSIVE never waits for
 * a lock and never blocks a reader: pages a reader's snapshot still needs stay in the WAL until the
 * next call. The service calls it after each committed batch. A lock held elsewhere is not an error.
 */
bg_error store_checkpoint(store *s) BG_WARN_UNUSED;

/* The stored bookmark of a channel (heap string for the caller to free), *out = NULL when none. */
bg_error store_bookmark_get(store *s, const char *channel, char **out) BG_WARN_UNUSED;

/* Records a possible gap in a channel (rejected bookmark, lost events) or an error, with a reason. */
bg_error store_gap_record(store *s, const char *channel, const char *reason) BG_WARN_UNUSED;
bg_error store_error_record(store *s, const char *where, bg_error code, const char *detail) BG_WARN_UNUSED;

/* Prunes by the retention options in small transactions so ingestion is never blocked for long. */
bg_error store_retention_apply(store *s, int64_t now_unix) BG_WARN_UNUSED;

/*
 * Opens an existing database for the admins' commands (query, status): never creates or moves a file.
 * A missing file gives BG_ERR_DB_OPEN naming the path; a corrupt one BG_ERR_DB_CORRUPT. An older schema
 * is migrated when the file is writable; a file this user cannot write is opened read-only.
 */
bg_error store_open_existing(store **out, const char *path, char *errbuf, size_t errlen) BG_WARN_UNUSED;

/*
 * The default database path: %ProgramData%\bitsguard\bitsguard.db on Windows, else
 * $XDG_DATA_HOME/bitsguard/bitsguard.db or ~/.local/share/bitsguard/bitsguard.db. Creates the parent
 * folder (0700 on POSIX) when absent. BG_ERR_CONFIG when no base folder is known, BG_ERR_TOO_LARGE
 * when buf is too small.
 */
bg_error store_path_default(char *buf, size_t n) BG_WARN_UNUSED;
/* The same path without creating anything: for query and status, which must not leave folders behind
 * (on Windows a folder an unprivileged user created in ProgramData would carry that user's ACL). */
bg_error store_path_default_find(char *buf, size_t n) BG_WARN_UNUSED;

/* What store_query_run selects; store_filter_init gives "everything not allow-listed". */
typedef struct store_filter {
    char since[40]; /* last_seen >= since (ISO 8601 text, "" for none); see store_time_bound_parse. */
    char until[40]; /* last_seen <= until ("" for none). */
    int has_ip;     /* Restrict ip to [ip_lo, ip_hi] (16 bytes, IPv4 mapped to ::ffff:0:0/96). */
    uint8_t ip_lo[16];
    uint8_t ip_hi[16];
    const char *job_id;   /* Exact normalized GUID, NULL for any. */
    const char *computer; /* Exact computer name, NULL for any. */
    int64_t limit;        /* At most this many rows, newest first; 0 for all. */
    int include_allowed;  /* 1 also returns allow-listed detections. */
    int active_only;      /* 1 returns only jobs neither completed nor cancelled (for correlate restore). */
} store_filter;

void store_filter_init(store_filter *f);

/*
 * Turns "24h", "7d", "30m", "45s" (before now_unix) or an ISO 8601 UTC time ("2023-11-06",
 * "2023-11-06T01:45", "2023-11-06T01:45:21.024Z") into a bound comparable with stored times. An upper
 * bound (is_until) includes everything within the text's precision. BG_ERR_INVALID_ARG when malformed.
 */
bg_error store_time_bound_parse(const char *text, int64_t now_unix, int is_until, char *out, size_t n) BG_WARN_UNUSED;

/* Parses "192.0.2.0/24", "2001:db8::/32" or a single address into the inclusive range [lo, hi]. */
bg_error store_cidr_parse(const char *text, uint8_t lo[16], uint8_t hi[16]) BG_WARN_UNUSED;

/* Writes the UTC time of unix seconds as "YYYY-MM-DDTHH:MM:SSZ" (buf needs 21 bytes). */
void store_time_format(int64_t unix_s, char *buf, size_t n);
/* Parses "YYYY-MM-DD[THH:MM[:SS[.fff…]]][Z]" into unix seconds; 0 on success, -1 when malformed. */
int store_time_unix(const char *text, int64_t *out);

/* Called once per selected detection (valid only during the call); non-zero stops the query. */
typedef int (*store_row_fn)(void *ctx, const detection *d);

bg_error store_query_run(store *s, const store_filter *f, store_row_fn fn, void *ctx) BG_WARN_UNUSED;

/* Called once per selected finding (valid only during the call); non-zero stops the query. */
typedef int (*store_finding_fn)(void *ctx, const finding *f);

/* The stored findings that f selects (since/until on last_seen, ip on the address credentials went to,
 * job_id, computer, limit; active_only: notify commands of jobs neither completed nor cancelled), newest
 * first. include_allowed does not apply: an allow-listed address makes no finding. */
bg_error store_finding_query_run(store *s, const store_filter *f, store_finding_fn fn, void *ctx) BG_WARN_UNUSED;

/*
 * The health of the process running the reader (service or `bitsguard run`), sampled by the engine and
 * kept as meta rows (service_pid, service_rss_bytes, service_peak_rss_bytes, service_handles,
 * service_updated_at), so `bitsguard status` shows whether memory or handles grow. -1: not known.
 */
typedef struct store_health {
    int64_t pid;
    int64_t rss_bytes;      /* Resident memory (working set). */
    int64_t peak_rss_bytes; /* Peak resident memory (peak working set). */
    int64_t handles;        /* Open handles (Windows) or file descriptors. */
    char updated_at[40];    /* When sampled ("YYYY-MM-DDTHH:MM:SSZ"); "" when never. */
} store_health;

/* Replaces the stored health sample with h, stamped with now_unix, in one short transaction. */
bg_error store_health_record(store *s, const store_health *h, int64_t now_unix) BG_WARN_UNUSED;

typedef struct store_status {
    int schema_version;
    int64_t size_bytes; /* page_count * page_size of the main file (the WAL is not counted). */
    int64_t detections_total;
    int64_t detections_24h; /* last_seen within 24 h of now_unix. */
    int64_t detections_allowed;
    char newest_event[40]; /* Greatest last_seen, "" when empty. */
    int64_t gaps_total;
    int64_t errors_total;
    /* Stored findings by kind, indexed by finding_kind (index 0 unused), and their total. */
    int64_t findings_by_kind[FINDING_KIND_LAST + 1];
    int64_t findings_total;
    int64_t detections_unacknowledged; /* Not allow-listed and not acknowledged (`bitsguard ack`; schema 8). */
    store_health health;               /* The last health sample; updated_at "" when none was recorded. */
} store_status;

bg_error store_status_get(store *s, int64_t now_unix, store_status *st) BG_WARN_UNUSED;

/* What the service publishes for fleet tools after its batches (the registry's Status key on Windows):
 * a few cheap counts and the newest detection. */
typedef struct store_summary {
    int64_t detections;     /* Stored detections, allow-listed ones aside. */
    int64_t unacknowledged; /* Of those, not acknowledged (`bitsguard ack`). */
    int64_t errors;         /* Rows of the errors table. */
    int64_t last_id;        /* The newest such detection's id (0: none), its last_seen, ip and url. */
    char last_seen[BG_TIME_TEXT_SIZE];
    char last_ip[64];
    char last_url[1024]; /* Cut to fit (a registry value for people, not the evidence). */
} store_summary;

bg_error store_summary_get(store *s, store_summary *out) BG_WARN_UNUSED;

typedef enum store_list {
    STORE_LIST_BOOKMARKS, /* channel, bookmark, updated_at */
    STORE_LIST_GAPS,      /* time, channel, reason (newest first) */
    STORE_LIST_ERRORS,    /* time, where, code_name, detail (newest first) */
    STORE_LIST_UNACKED,   /* id, last_seen, computer, ip, url of unacknowledged detections (newest id first) */
} store_list;

/* Called per row of a store_list with its text columns (NULL for SQL NULL; at most STORE_LIST_COLUMNS);
 * non-zero stops. */
#define STORE_LIST_COLUMNS 5
typedef int (*store_text_fn)(void *ctx, const char *const *cols, int ncols);

bg_error store_list_run(store *s, store_list which, int limit, store_text_fn fn, void *ctx) BG_WARN_UNUSED;

/* --- BITS job inventory, cancellations and self-tests (schema 4; store_jobs.c) --- */

/* Records that who (DOMAIN\user) did action ("cancel") to BITS job job_id on computer, with what the job
 * was (what: a JSON object), stamped now_unix, in its own transaction: table job_actions. */
bg_error store_job_action_record(store *s, int64_t now_unix, const char *action, const char *job_id, const char *who,
                                 const char *computer, const char *what) BG_WARN_UNUSED;

/* Registers a self-test nonce (32 hex digits) before its job exists: only a writer of the database (the
 * administrators, the service) can make the service treat a job titled with it as a self-test. */
bg_error store_selftest_begin(store *s, const char *nonce, int64_t now_unix) BG_WARN_UNUSED;
/* Records the job id the self-test created (normalized GUID). */
bg_error store_selftest_job_set(store *s, const char *nonce, const char *job_id) BG_WARN_UNUSED;
/* The service's side: *pending = 1 when nonce was registered and not yet alerted; then stored_at is set
 * to now (first call only) and detection_job_id to job_id. */
bg_error store_selftest_claim(store *s, const char *nonce, const char *job_id, int64_t now_unix,
                              int *pending) BG_WARN_UNUSED;
/* The service wrote the self-test's alert. */
bg_error store_selftest_alerted(store *s, const char *nonce, int64_t now_unix) BG_WARN_UNUSED;

typedef struct store_selftest {
    int found;
    char job_id[40];
    char created_at[40];
    char stored_at[40];  /* "" until the service stored the detection. */
    char alerted_at[40]; /* "" until the service wrote the alert. */
} store_selftest;
bg_error store_selftest_get(store *s, const char *nonce, store_selftest *out) BG_WARN_UNUSED;

/* --- Acknowledgements (schema 8; store_ack.c) --- */

typedef struct store_ack_result {
    int64_t ack_id;       /* The acknowledgements row written; 0 when nothing was acknowledged. */
    int64_t acknowledged; /* Detections this call acknowledged. */
    int64_t already;      /* Of the ids given, those acknowledged before (left as they were). */
    int64_t missing;      /* Of the ids given, the first with no detection (0: none); nothing is written then. */
} store_ack_result;

/* Acknowledges the detections with these ids (allow-listed ones too), recording who, when and the note in
 * acknowledgements, all in one transaction. An id with no detection writes nothing (out->missing names it,
 * BG_ERR_INVALID_ARG); ids already acknowledged keep their first acknowledgement. */
bg_error store_ack_ids(store *s, const int64_t *ids, size_t n, const char *who, const char *note, int64_t now_unix,
                       store_ack_result *out) BG_WARN_UNUSED;
/* Acknowledges every detection that is not allow-listed, not yet acknowledged and has an id <= up_to: the
 * last id the admin has seen, so a detection stored meanwhile is never acknowledged unseen. */
bg_error store_ack_up_to(store *s, int64_t up_to, const char *who, const char *note, int64_t now_unix,
                         store_ack_result *out) BG_WARN_UNUSED;

#endif
