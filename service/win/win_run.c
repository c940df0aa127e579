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
#include "engine_group.h"
#include "messages.h"
#include "win_config.h"
#include "win_eventlog.h"
#include "win_evt_source.h"
#include "win_health.h"
#include "win_service.h"

/* The sources the console handler stops (one per channel); set before the handler is installed,
 * cleared after its removal. */
static event_source *volatile run_srcs[CONFIG_CHANNELS_MAX];
static volatile size_t run_src_count;

/* The --channel values given, in order (validated together by service_config_channels_set). */
typedef struct run_channels {
    const char *names[CONFIG_CHANNELS_MAX];
    size_t count;
} run_channels;

static int run_channel_add(void *dest, const char *value, char *why, size_t why_len)
{
    run_channels *c = dest;
    if (c->count == CONFIG_CHANNELS_MAX) {
        snprintf(why, why_len, "at most %u channels", CONFIG_CHANNELS_MAX);
        return CLI_EXIT_USAGE;
    }
    c->names[c->count++] = value;
    return CLI_EXIT_OK;
}

/* Runs on a thread Windows creates for the console event: only signals, as the service handler does. */
static BOOL WINAPI run_console_handler(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT: {
        for (size_t i = 0; i < run_src_count; i++) {
            event_source *src = run_srcs[i];
            if (src)
                src->ops->stop(src);
        }
        return TRUE;
    }
    default:
        return FALSE;
    }
}

int win_run_main(int argc, char **argv)
{
    const char *db = NULL;
    run_channels channels = {{NULL}, 0};
    int parsed = CLI_EXIT_OK;
    const cli_opt opts[] = {
        {"db", CLI_OPT_STRING, &db, NULL, "PATH", "the database (default: the configured one)"},
        {"channel", CLI_OPT_CALL, &channels, run_channel_add, "NAME",
         "a channel to read, repeatable (default: the configured Channels,\n"
         "else Microsoft-Windows-Bits-Client/Operational)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "run",
        NULL,
        "Runs the service's reader in this console until Ctrl+C: reads each channel (by default the\n"
        "Bits-Client channel) after its bookmark stored in the database, stores detections and raises\n"
        "the same Event Log alerts as the service (source bitsguard), and prints one line per alert here.\n"
        "The configuration comes from the registry (HKLM\\SOFTWARE\\bitsguard and its policy key);\n"
        "--db and --channel override the database path and the channels.\n"
        "Do not run it against the database of a running service.",
        opts,
        NULL,
    };
    if (cli_opt_parse(&spec, argc, argv, &parsed) < 0)
        return parsed;

    int status = CLI_EXIT_ERROR;
    int cfg_ready = 0;
    service_config cfg;
    engine_group_member members[CONFIG_CHANNELS_MAX];
    size_t count = 0;
    memset(members, 0, sizeof members);
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
    if (channels.count) {
        char why[200] = "";
        rc = service_config_channels_set(&cfg, channels.names, channels.count, why, sizeof why);
        if (rc == BG_ERR_CONFIG) {
            cli_error("run", "--channel: %s", why);
            status = CLI_EXIT_USAGE;
            rc = BG_ERR_OK; /* Said already: no second message. */
            goto cleanup;
        }
        if (rc != BG_ERR_OK)
            goto cleanup;
    }
    cfg.engine.health_sample = win_health_sample; /* `bitsguard status` shows this process's health. */

    const char *const *names = service_config_channels(&cfg, &count);
    for (size_t i = 0; i < count; i++) {
        char err[256] = "";
        members[i].channel = names[i];
        members[i].src = win_evt_source_new(err, sizeof err);
        if (!members[i].src) {
            cli_error("run", "cannot create the event source: %s", err[0] ? err : "unknown error");
            rc = BG_ERR_SOURCE;
            goto cleanup;
        }
        run_srcs[i] = members[i].src;
    }
    run_src_count = count;
    if (!SetConsoleCtrlHandler(run_console_handler, TRUE)) {
        cli_error("run", "cannot install the Ctrl+C handler");
        rc = BG_ERR_PLATFORM;
        goto cleanup;
    }
    char list[CONFIG_CHANNELS_MAX * (CONFIG_CHANNEL_NAME_MAX + 2)];
    service_config_channels_join(&cfg, list, sizeof list);
    cli_error("run", "reading %s into %s (allowlist entries: %u); Ctrl+C stops", list, cfg.engine.db_path,
              (unsigned)cfg.allow_count);

    engine_alert_sink sink;
    win_eventlog_sink(log, &sink);
    rc = engine_group_run(&cfg.engine, members, count, &sink);
    SetConsoleCtrlHandler(run_console_handler, FALSE);
    /* One line per channel: the e2e tests read each channel's counts from it. */
    for (size_t i = 0; i < count; i++) {
        const engine_stats *st = &members[i].stats;
        fprintf(stderr,
                "bitsguard run: stopped (%s): events %" PRIu64 ", malformed %" PRIu64 ", batches %" PRIu64
                ", detections %" PRIu64 ", resubscribes %" PRIu64 ", gaps %" PRIu64 ", safety-net wakeups %lu"
                "%s%s\n",
                bg_error_name(members[i].rc), st->events, st->malformed, st->batches, st->detections, st->resubscribes,
                st->gaps, win_evt_source_safety_wakeups(members[i].src), count > 1 ? ", channel " : "",
                count > 1 ? members[i].channel : "");
    }

cleanup:
    run_src_count = 0;
    for (size_t i = 0; i < CONFIG_CHANNELS_MAX; i++)
        run_srcs[i] = NULL;
    if (rc == BG_ERR_OK || rc == BG_ERR_STOPPED) {
        if (status != CLI_EXIT_USAGE)
            status = CLI_EXIT_OK;
    } else {
        cli_error("run", "%s", bg_error_str(rc));
    }
    for (size_t i = 0; i < count; i++) {
        if (members[i].src)
            members[i].src->ops->destroy(members[i].src);
    }
    if (cfg_ready)
        service_config_clear(&cfg);
    win_eventlog_close(log);
    return status;
}
