/* bitsguard jobs: the BITS service's own job list (every file classified, suspicious jobs flagged), storing and
 * cancelling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_os.h"
#include "cli.h"
#include "cli_opt.h"
#include "jobs_cmd.h"
#include "store.h"

int cli_jobs_main(int argc, char **argv)
{
    const char *db_path = NULL, *format = NULL, *cancel = NULL;
    int all_users = 0, status = CLI_EXIT_OK;
    char why[512] = "", path_buf[4096], errbuf[4096] = "";
    jobs_client *client = NULL;
    store *db = NULL;
    allowlist *al = allowlist_new();
    if (!al) {
        cli_error("jobs", "out of memory");
        return CLI_EXIT_ERROR;
    }
    const cli_opt opts[] = {
        {"all-users", CLI_OPT_FLAG, &all_users, NULL, NULL,
         "every user's jobs (needs an elevated administrator; otherwise this\nuser's, said on stderr)"},
        {"format", CLI_OPT_STRING, &format, NULL, "FORMAT",
         "table (default), json (one object per job) or csv (one row per file)"},
        {"db", CLI_OPT_STRING, &db_path, NULL, "PATH",
         "store flagged jobs as detections with source \"inventory\" (once); with\n--cancel: where the "
         "cancellation is recorded (default: the service's)"},
        {"allow", CLI_OPT_CALL, al, cli_allow_add, "CIDR|HOST",
         "allow-list a CIDR, an IP or a host name (not flagged)"},
        {"cancel", CLI_OPT_STRING, &cancel, NULL, "JOB_ID",
         "print what the job was, cancel it and record who, when and what in the\ndatabase"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "jobs",
        NULL,
        "Lists the BITS jobs the BITS service holds now (IBackgroundCopyManager::EnumJobs), with every\n"
        "file's remote name classified as scan does. A job is flagged (!) when a file comes from a direct\n"
        "public IP or a notify command line is set (BITS runs it when the job ends).",
        opts,
        "exit status: 0 nothing flagged (--cancel: cancelled and recorded), 1 a job is flagged,\n"
        "             2 usage error, 3 BITS service or database error\n",
    };
    jobs_cmd_options o = {0};
    o.command = "jobs";
    o.allow = al;
    if (cli_opt_parse(&spec, argc, argv, &status) < 0)
        goto cleanup;
    o.all_users = all_users || cancel != NULL; /* An administrator cancels whoever's job it is. */
    o.now_unix = (int64_t)time(NULL);
    o.fmt = STORE_FORMAT_TABLE;
    if (format && strcmp(format, "json") == 0)
        o.fmt = STORE_FORMAT_JSON;
    else if (format && strcmp(format, "csv") == 0)
        o.fmt = STORE_FORMAT_CSV;
    else if (format && strcmp(format, "table") != 0) {
        cli_error("jobs", "--format wants table, json or csv: %s", format);
        status = CLI_EXIT_USAGE;
        goto cleanup;
    }
    client = cli_platform_jobs_client_new(why, sizeof why);
    if (!client) {
        cli_error("jobs", "%s", why);
        status = CLI_EXIT_ERROR;
        goto cleanup;
    }
    if (cancel && !db_path) {
        /* The service's own database (its DatabasePath, as query and status find it). */
        db_path = cli_db_path("jobs", NULL, path_buf, sizeof path_buf);
        if (!db_path) {
            status = CLI_EXIT_ERROR;
            goto cleanup;
        }
    }
    if (db_path) {
        /* --db creates the file as scan --db does; --cancel's default must be the service's existing one
         * (checked read-only first, so a wrong path creates nothing), opened for writing the audit row. */
        bg_error e = BG_ERR_OK;
        if (cancel && db_path == path_buf) {
            e = store_open_existing(&db, db_path, errbuf, sizeof errbuf);
            store_close(db);
            db = NULL;
        }
        if (e == BG_ERR_OK)
            e = store_open(&db, db_path, NULL, errbuf, sizeof errbuf);
        if (e != BG_ERR_OK) {
            cli_error("jobs", "%s", errbuf[0] ? errbuf : bg_error_str(e));
            status = CLI_EXIT_ERROR;
            goto cleanup;
        }
    }
    o.db = db;
    if (o.fmt == STORE_FORMAT_CSV) {
        fflush(stdout);
        bg_os_stream_binary(stdout);
    }
    status = (int)(cancel ? jobs_cmd_cancel(client, &o, cancel, stdout, stderr)
                          : jobs_cmd_list(client, &o, stdout, stderr, NULL, NULL));
    if (fflush(stdout) != 0 && status != CLI_EXIT_ERROR) {
        cli_error("jobs", "cannot write the output");
        status = CLI_EXIT_ERROR;
    }
cleanup:
    if (client)
        client->ops->destroy(client);
    store_close(db);
    allowlist_free(al);
    return status;
}
