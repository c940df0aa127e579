/* `bitsguard run`: the service's engine in the foreground until Ctrl+C, with the same database and alerts. */
#include <windows.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opt.h"
#include "config.h"
#include "engine.h"
#include "messages.h"
#include "win_config.h"
#include "win_eventlog.h"
#include "win_evt_source.h"
#include "win_health.h"
#include "win_service.h"

/* The source the console handler stops; set before the handler is installed, cleared after removal. */
static event_source *volatile run_src;

/* Runs on a thread Windows creates for the console event: only signals, as the service handler does. */
static BOOL WINAPI run_console_handler(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT: {
        event_source *src = run_src;
        if (src)
            src->ops->stop(src);
        return TRUE;
    }
    default:
        return FALSE;
    }
}

int win_run_main(int argc, char **argv)
{
    const char *db = NULL, *channel = NULL;
    int parsed = CLI_EXIT_OK;
    const cli_opt opts[] = {
        {"db", CLI_OPT_STRING, &db, NULL, "PATH", "the database (default: the configured one)"},
        {"channel", CLI_OPT_STRING, &channel, NULL, "NAME", "the channel to read (default: Bits-Client/Operational)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "run",
        NULL,
        "Runs the service's reader in this console until Ctrl+C: reads the Bits-Client channel after\n"
        "the bookmark stored in the database, stores detections and raises the same Event Log alerts\n"
        "as the service (source bitsguard), and prints one line per alert here.\n"
        "The configuration comes from the registry (HKLM\\SOFTWARE\\bitsguard and its policy key);\n"
        "--db and --channel override the database path and the channel.\n"
        "Do not run it against the database of a running service.",
        opts,
        NULL,
    };
    if (cli_opt_parse(&spec, argc, argv, &parsed) < 0)
        return parsed;

    int status = CLI_EXIT_ERROR;
    int cfg_ready = 0;
    service_config cfg;
    event_source *src = NULL;
    win_eventlog *log = win_eventlog_open(1);
    if (!log) {
        cli_error("run", "out of memory");
        return CLI_EXIT_ERROR;
    }
    bg_error rc = service_config_init(&cfg, win_eventlog_config_invalid, log);
    if (rc != BG_ERR_OK)
        goto cleanup;
    cfg_ready = 1;
    /* Command-line overrides first: win_config_load keeps a db path that is already set... */
    if (db && (rc = service_config_db_path_set(&cfg, db)) != BG_ERR_OK)
        goto cleanup;
    rc = win_config_load(&cfg);
    if (rc != BG_ERR_OK)
        goto cleanup;
    /* ...but a DatabasePath value in the registry replaces it, so apply --db again: it wins. */
    if (db && (rc = service_config_db_path_set(&cfg, db)) != BG_ERR_OK)
        goto cleanup;
    if (channel && (rc = service_config_channel_set(&cfg, channel)) != BG_ERR_OK)
        goto cleanup;
    cfg.engine.health_sample = win_health_sample; /* `bitsguard status` shows this process's health. */

    char err[256] = "";
    src = win_evt_source_new(err, sizeof err);
    if (!src) {
        cli_error("run", "cannot create the event source: %s", err[0] ? err : "unknown error");
        rc = BG_ERR_SOURCE;
        goto cleanup;
    }
    run_src = src;
    if (!SetConsoleCtrlHandler(run_console_handler, TRUE)) {
        cli_error("run", "cannot install the Ctrl+C handler");
        rc = BG_ERR_PLATFORM;
        goto cleanup;
    }
    cli_error("run", "reading %s into %s (allowlist entries: %u); Ctrl+C stops", cfg.engine.channel, cfg.engine.db_path,
              (unsigned)cfg.allow_count);

    engine_alert_sink sink;
    win_eventlog_sink(log, &sink);
    engine_stats stats;
    memset(&stats, 0, sizeof stats);
    rc = engine_run(&cfg.engine, src, &sink, &stats);
    SetConsoleCtrlHandler(run_console_handler, FALSE);
    fprintf(stderr,
            "bitsguard run: stopped (%s): events %" PRIu64 ", malformed %" PRIu64 ", batches %" PRIu64
            ", detections %" PRIu64 ", resubscribes %" PRIu64 ", gaps %" PRIu64 ", safety-net wakeups %lu\n",
            bg_error_name(rc), stats.events, stats.malformed, stats.batches, stats.detections, stats.resubscribes,
            stats.gaps, win_evt_source_safety_wakeups(src));

cleanup:
    run_src = NULL;
    if (rc == BG_ERR_OK || rc == BG_ERR_STOPPED)
        status = CLI_EXIT_OK;
    else
        cli_error("run", "%s", bg_error_str(rc));
    if (src)
        src->ops->destroy(src);
    if (cfg_ready)
        service_config_clear(&cfg);
    win_eventlog_close(log);
    return status;
}
