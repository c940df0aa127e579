/* The steps of `bitsguard jobs` (list, flag, store) and `jobs --cancel` over any jobs_client, for the CLI, setup and
 * tests. */
#ifndef BG_JOBS_CMD_H
#define BG_JOBS_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "jobs.h"

/* What a step ended with; the command line maps these to its exit statuses 0, 1 and 3. */
typedef enum jobs_outcome {
    JOBS_OUTCOME_CLEAN = 0,   /* Nothing flagged (list), or cancelled and recorded (cancel). */
    JOBS_OUTCOME_FLAGGED = 1, /* At least one job flagged. */
    JOBS_OUTCOME_ERROR = 3,   /* The BITS service or the database failed (said on err). */
} jobs_outcome;

typedef struct jobs_cmd_options {
    int all_users;
    store_format fmt;
    const allowlist *allow; /* May be NULL. */
    store *db;              /* Flagged jobs are stored here when not NULL. */
    int64_t now_unix;
    const char *command; /* "jobs" or "setup": prefixes the messages on err. */
} jobs_cmd_options;

/* Lists, classifies, prints (to out, unless out is NULL), stores flagged jobs when o->db is set. The
 * number of flagged jobs and of new stored rows go to *flagged and *stored (either may be NULL). */
jobs_outcome jobs_cmd_list(jobs_client *c, const jobs_cmd_options *o, FILE *out, FILE *err, size_t *flagged,
                           size_t *stored);

/* Prints what job_id was (o->fmt), cancels it and records who, when and what in o->db (required:
 * nothing is cancelled when there is no database to record it in). */
jobs_outcome jobs_cmd_cancel(jobs_client *c, const jobs_cmd_options *o, const char *job_id, FILE *out, FILE *err);

#endif
