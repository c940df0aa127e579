/* The BITS job inventory: the job model, the client interface the COM adapter implements, flagging, output, storing. */
#ifndef BG_JOBS_H
#define BG_JOBS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bg_error.h"
#include "classify.h"
#include "store.h"
#include "store_format.h"

/* BG_JOB_TYPE and BG_JOB_STATE of bits.h, by value (the COM adapter copies the numbers). */
typedef enum jobs_type { JOBS_TYPE_DOWNLOAD = 0, JOBS_TYPE_UPLOAD, JOBS_TYPE_UPLOAD_REPLY } jobs_type;
typedef enum jobs_state {
    JOBS_STATE_QUEUED = 0,
    JOBS_STATE_CONNECTING,
    JOBS_STATE_TRANSFERRING,
    JOBS_STATE_SUSPENDED,
    JOBS_STATE_ERROR,
    JOBS_STATE_TRANSIENT_ERROR,
    JOBS_STATE_TRANSFERRED,
    JOBS_STATE_ACKNOWLEDGED,
    JOBS_STATE_CANCELLED,
} jobs_state;

/* Why a job is flagged (jobs_job.flags). */
enum {
    JOBS_FLAG_DIRECT_IP = 1u << 0, /* A file's remote name reaches a public IP (not allow-listed). */
    JOBS_FLAG_NOTIFY = 1u << 1,    /* A notify command line is set: BITS runs it when the job ends. */
};

typedef struct jobs_file {
    char *remote_name; /* Heap strings; NULL when the BITS service did not say. */
    char *local_name;
    classify_result cls; /* Filled by jobs_list_classify. */
    int allowed;
    int flagged;
} jobs_file;

typedef struct jobs_job {
    char id[37]; /* Normalized GUID: lower-case, no braces. */
    char *title; /* Heap strings; NULL when unknown (the BITS service may not implement a getter). */
    char *owner; /* DOMAIN\user or a SID string. */
    jobs_type type;
    jobs_state state;
    char created[32]; /* UTC "YYYY-MM-DDTHH:MM:SSZ"; "" when unknown. */
    char modified[32];
    int notify_known; /* 0 when the BITS service cannot report the notify command line. */
    char *notify_program;
    char *notify_parameters;
    jobs_file *files;
    size_t file_count;
    unsigned flags; /* JOBS_FLAG_* (jobs_list_classify). */
} jobs_job;

typedef struct jobs_list {
    jobs_job *jobs;
    size_t count;
    size_t cap;
    char *computer; /* This computer's name (for the detections' identity); NULL when unknown. */
    /* What the BITS service could not report, once per getter ("GetOwner 0x80004001"), for stderr. */
    char missing[256];
} jobs_list;

void jobs_list_init(jobs_list *l);
void jobs_list_clear(jobs_list *l);
/* Appends an empty job (strings NULL, state queued) and returns it; NULL when out of memory. */
jobs_job *jobs_list_add(jobs_list *l);
/* Appends a file with copies of remote and local (either may be NULL); BG_ERR_NOMEM. */
bg_error jobs_job_file_add(jobs_job *j, const char *remote, const char *local) BG_WARN_UNUSED;
/* Sets *dst to a heap copy of src (NULL stays NULL); BG_ERR_NOMEM. */
bg_error jobs_text_set(char **dst, const char *src) BG_WARN_UNUSED;
/* Normalizes "{GUID}" or "GUID" (any case) to 36 lower-case characters; 0, or -1 when not a GUID. */
int jobs_guid_normalize(const char *in, char out[37]);
/* Records that the BITS service did not implement or answer getter (once per name) in l->missing. */
void jobs_list_missing_note(jobs_list *l, const char *getter, long hr);

/* Classifies every file with the detector's classifier and flags files and jobs (allow may be NULL).
 * Returns the number of flagged jobs. Cancelled and acknowledged jobs are listed but never flagged:
 * they can no longer transfer or run anything. */
size_t jobs_list_classify(jobs_list *l, const allowlist *allow);

const char *jobs_type_name(jobs_type t);   /* "download", "upload", "upload-reply" */
const char *jobs_state_name(jobs_state s); /* "queued", ..., "transient-error", "cancelled" */

/* Writes the jobs: a table (one line per job, one per file and notify command below it), JSON lines
 * (one object per job) or CSV (one row per file, the job's columns repeated; CR LF line ends). */
void jobs_list_write(FILE *fp, store_format fmt, const jobs_list *l);
/* One job as a JSON object (no newline): also the `what` of the job_actions audit row. */
void jobs_job_json_write(FILE *fp, const jobs_job *j);

/* Stores each flagged job's files as detections with source "inventory" (one per job and remote name,
 * exactly once: a row that exists is merged, never duplicated). *stored gets the number of new rows. */
bg_error jobs_list_store(store *s, const jobs_list *l, int64_t now_unix, size_t *stored) BG_WARN_UNUSED;

/*
 * The BITS service behind a table of functions (IBackgroundCopyManager on Windows, a scripted fake in
 * the unit tests), so what is done with the jobs stays portable. why receives a reason on failure.
 */
typedef struct jobs_client jobs_client;
typedef struct jobs_client_ops {
    /* Lists the jobs (all users' when all_users and the caller may; *all_users_done says which). */
    bg_error (*list)(jobs_client *c, int all_users, jobs_list *out, int *all_users_done, char *why, size_t why_len);
    /* Cancels job_id (normalized GUID). BG_ERR_INVALID_ARG when there is no such job (why says so). */
    bg_error (*cancel)(jobs_client *c, const char *job_id, char *why, size_t why_len);
    /* Creates a download job titled title with one file, never resumed (it stays suspended and
     * transfers nothing); writes its normalized id. */
    bg_error (*create_suspended)(jobs_client *c, const char *title, const char *remote, const char *local,
                                 char job_id[37], char *why, size_t why_len);
    /* DOMAIN\user of the caller, for the audit of cancellations ("" when unknown). */
    void (*who)(jobs_client *c, char *buf, size_t n);
    void (*destroy)(jobs_client *c);
} jobs_client_ops;

struct jobs_client {
    const jobs_client_ops *ops;
};

/* The self-test: the title prefix the service recognizes (followed by 32 hex digits, the nonce) and the
 * remote name its job gets. 192.88.99.1 is globally reachable space the classifier calls public-ip, not
 * a documentation range, and no one's download server (the deprecated 6to4 relay anycast prefix, RFC
 * 7526); the job is never resumed, so nothing is ever sent to it. */
#define JOBS_SELFTEST_PREFIX "bitsguard selftest "
#define JOBS_SELFTEST_URL    "http://192.88.99.1/bitsguard-selftest/"

/* Copies the nonce of a self-test title into nonce (33 bytes); 0, or -1 when title is not one. */
int jobs_selftest_nonce(const char *title, char nonce[33]);

#endif
