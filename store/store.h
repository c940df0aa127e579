/* The SQLite detection database: open/migrate, exactly-once batch commit with the bookmark, queries, status. */
#ifndef BG_STORE_H
#define BG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"
#include "detection.h"

typedef struct store store;

typedef struct store_options {
    int retention_days;     /* Detections whose last_seen is older are pruned; 0 keeps forever. */
    int64_t retention_rows; /* At most this many detections are kept (oldest pruned); 0: no cap. */
    int busy_retry_ms;      /* Total time to retry a locked database before BG_ERR_DB_BUSY; 0: default 10 s. */
} store_options;

/*
 * Opens (creating when absent) and migrates the database at path. A file that is corrupt or not a
 * database is renamed to "<path>.corrupt-YYYYMMDDTHHMMSSZ", a fresh database is created and the event
 * recorded in its errors table (errbuf also tells). Read-only files or folders give BG_ERR_DB_READONLY
 * with the path in errbuf. opt may be NULL for defaults.
 */
bg_error store_open(store **out, const char *path, const store_options *opt, char *errbuf, size_t errlen) BG_WARN_UNUSED;
void store_close(store *s);

/*
 * Commits, in one transaction, the detections derived from a batch of events (insert, or merge into
 * the existing row with the same computer/job_id/url) and, when channel and bookmark are not NULL,
 * the channel's new bookmark. is_new (may be NULL) receives 1 for each detection that did not exist
 * before, so alerts are raised once even when a batch is replayed after a crash. A locked database is
 * retried with capped backoff; on any failure nothing of the batch is kept and the bookmark stays.
 */
bg_error store_batch_commit(store *s, const detection *const *dets, size_t n, const char *channel,
                            const char *bookmark, int *is_new) BG_WARN_UNUSED;

/* The stored bookmark of a channel (heap string for the caller to free), *out = NULL when none. */
bg_error store_bookmark_get(store *s, const char *channel, char **out) BG_WARN_UNUSED;

/* Records a possible gap in a channel (rejected bookmark, lost events) or an error, with a reason. */
bg_error store_gap_record(store *s, const char *channel, const char *reason) BG_WARN_UNUSED;
bg_error store_error_record(store *s, const char *where, bg_error code, const char *detail) BG_WARN_UNUSED;

/* Prunes by the retention options in small transactions so ingestion is never blocked for long. */
bg_error store_retention_apply(store *s, int64_t now_unix) BG_WARN_UNUSED;

#endif
