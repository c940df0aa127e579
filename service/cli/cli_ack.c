/* bitsguard ack: acknowledge detections by id, or all of them up to an id, recording who and when. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_os.h"
#include "cli.h"
#include "cli_opt.h"
#include "store.h"

/* Ids given at once: far more than anyone types; a larger set is --all --up-to's job. */
#define ACK_IDS_MAX 1000
/* The note is an audit text, not a document. */
#define ACK_NOTE_MAX 1000

/* A detection id: a decimal integer from 1 up; 0 on success, -1 otherwise. */
static int ack_id_parse(const char *text, int64_t *out)
{
    char *end = NULL;
    if (!text || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int cli_ack_main(int argc, char **argv)
{
    const char *db_path = NULL, *up_to_text = NULL, *note = NULL;
    int all = 0, status = CLI_EXIT_OK;
    char path_buf[4096], errbuf[4096] = "", who[256] = "";
    int64_t *ids = NULL, up_to = 0;
    store *db = NULL;
    store_ack_result r;

    const cli_opt opts[] = {
        {"db", CLI_OPT_STRING, &db_path, NULL, "PATH", "database file (default: the service's database)"},
        {"all", CLI_OPT_FLAG, &all, NULL, NULL,
         "every detection not acknowledged yet (allow-listed ones aside) up to\n--up-to's id"},
        {"up-to", CLI_OPT_STRING, &up_to_text, NULL, "ID",
         "with --all: the last id you have seen (`query`, `status` or detections_v1),\nso a detection stored "
         "since is not acknowledged unseen"},
        {"note", CLI_OPT_STRING, &note, NULL, "TEXT", "why (recorded with who and when)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "ack",
        "ID...",
        "Acknowledges detections: they no longer count as unacknowledged in `status` (and its --json,\n"
        "which the Intune script reads) nor in the acknowledged column of detections_v1. Who, when, which\n"
        "ids and the note are recorded in the acknowledgements table. Nothing else changes: the rows stay,\n"
        "and `query` still lists them. On Windows only administrators may (the database's folder is\n"
        "writable by administrators and the service only).",
        opts,
        "exit status: 0 acknowledged (or nothing left to), 2 usage error, 3 an unknown id or a database\n"
        "             error (then nothing is acknowledged)\n",
    };
    int n = cli_opt_parse(&spec, argc, argv, &status);
    if (n < 0)
        return status;
    if (all != (up_to_text != NULL)) {
        cli_error("ack", "--all and --up-to ID go together (the id bounds what --all acknowledges)");
        return CLI_EXIT_USAGE;
    }
    if (all && n > 0) {
        cli_error("ack", "give ids or --all --up-to ID, not both");
        return CLI_EXIT_USAGE;
    }
    if (!all && n == 0) {
        cli_error("ack", "which detections? give their ids, or --all --up-to ID");
        return CLI_EXIT_USAGE;
    }
    if (n > ACK_IDS_MAX) {
        cli_error("ack", "at most %d ids at once (use --all --up-to ID)", ACK_IDS_MAX);
        return CLI_EXIT_USAGE;
    }
    if (note && strlen(note) > ACK_NOTE_MAX) {
        cli_error("ack", "--note is longer than %d bytes", ACK_NOTE_MAX);
        return CLI_EXIT_USAGE;
    }
    if (all && ack_id_parse(up_to_text, &up_to) != 0) {
        cli_error("ack", "--up-to wants a detection id (1 or more): %s", up_to_text);
        return CLI_EXIT_USAGE;
    }
    if (n > 0 && !(ids = calloc((size_t)n, sizeof *ids))) {
        cli_error("ack", "out of memory");
        return CLI_EXIT_ERROR;
    }
    for (int i = 0; i < n; i++) {
        if (ack_id_parse(argv[i], &ids[i]) != 0) {
            cli_error("ack", "not a detection id (1 or more): %s", argv[i]);
            status = CLI_EXIT_USAGE;
            goto cleanup;
        }
    }
    db_path = cli_db_path("ack", db_path, path_buf, sizeof path_buf);
    if (!db_path) {
        status = CLI_EXIT_ERROR;
        goto cleanup;
    }
    /* An existing database only: a wrong path must create nothing (store_open would create a file). It is
     * opened for writing as the service opens it, so an older file is migrated and a foreign one refused. */
    if (bg_os_path_kind(db_path) == BG_OS_PATH_ABSENT) {
        cli_error("ack", "%s: no database at this path (give --db PATH, or run the service first)", db_path);
        status = CLI_EXIT_ERROR;
        goto cleanup;
    }
    bg_error e = store_open(&db, db_path, NULL, errbuf, sizeof errbuf);
    if (e != BG_ERR_OK) {
        cli_error("ack", "%s", errbuf[0] ? errbuf : bg_error_str(e));
        status = CLI_EXIT_ERROR;
        goto cleanup;
    }
    bg_os_user_name(who, sizeof who);
    int64_t now = (int64_t)time(NULL);
    e = all ? store_ack_up_to(db, up_to, who, note, now, &r) : store_ack_ids(db, ids, (size_t)n, who, note, now, &r);
    if (e == BG_ERR_INVALID_ARG && r.missing) {
        cli_error("ack", "no detection has id %" PRId64 "; nothing acknowledged", r.missing);
        status = CLI_EXIT_ERROR;
        goto cleanup;
    }
    if (e != BG_ERR_OK) {
        cli_error("ack", "%s: %s", db_path, bg_error_str(e));
        status = CLI_EXIT_ERROR;
        goto cleanup;
    }
    if (r.acknowledged)
        printf("acknowledged %" PRId64 " detection%s (acknowledgement %" PRId64 ", by %s)\n", r.acknowledged,
               r.acknowledged == 1 ? "" : "s", r.ack_id, who[0] ? who : "an unknown user");
    else
        printf("nothing to acknowledge\n");
    if (r.already)
        printf("%" PRId64 " already acknowledged before, left as %s\n", r.already,
               r.already == 1 ? "it was" : "they were");
    if (fflush(stdout) != 0)
        status = CLI_EXIT_ERROR;
cleanup:
    store_close(db);
    free(ids);
    return status;
}
