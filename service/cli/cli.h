/* Entry points of the bitsguard sub-commands and the exit statuses they share. */
#ifndef BG_CLI_H
#define BG_CLI_H

#include <stddef.h>

#include "engine.h"

/* Exit statuses, documented in --help and README. */
enum {
    CLI_EXIT_OK = 0,       /* Success; for scan: no detection. */
    CLI_EXIT_DETECTED = 1, /* scan: at least one detection that is not allow-listed. */
    CLI_EXIT_USAGE = 2,    /* Bad command line. */
    CLI_EXIT_ERROR = 3,    /* Input, database or system error. */
};

/* One sub-command: `bitsguard NAME ARGS...` calls main(argc - 1, argv + 1), argv[0] being NAME. */
typedef struct cli_command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary; /* One line for the command list of --help. */
} cli_command;

/* What the platform adds to the command line: service/win/win_cli.c on Windows (the service and its
 * administration commands, live channels), cli_platform_none.c elsewhere. */
/* The platform's own commands, listed after the portable ones. */
extern const cli_command *const cli_platform_commands;
extern const size_t cli_platform_command_count;
/* 1 where scan can read live event channels (--channel): Windows. */
extern const int cli_platform_has_channels;
/* An event source over a live channel, for scan --channel; NULL with the reason in why when the query
 * cannot be opened or the platform cannot read channels (only Windows can). .evtx files are read by
 * libevtx on every platform (detector/evtx.h), not through the platform. */
event_source *cli_platform_channel_new(const char *name, char *why, size_t why_len);
/* The database query and status read without --db, as UTF-8 heap text (NULL with the reason in why): on
 * Windows the one the service uses (its DatabasePath value, the policy's over the settings', else
 * %ProgramData%\bitsguard\bitsguard.db, computed by the service's own loader); elsewhere the XDG default
 * (store_path_default_find). */
char *cli_platform_db_path(char *why, size_t why_len);

/* The database a command reads: given (its --db) when not NULL, else cli_platform_db_path's answer copied
 * into buf (n bytes). NULL after printing why ("bitsguard CMD: no default database location ..."). */
const char *cli_db_path(const char *cmd, const char *given, char *buf, size_t n);
/* The BITS service's job interface (IBackgroundCopyManager on Windows), for `jobs`; NULL with the reason in
 * why when it cannot be reached or the platform has none. */
typedef struct jobs_client jobs_client;
jobs_client *cli_platform_jobs_client_new(char *why, size_t why_len);

/* The --allow callback of classify and scan (a cli_opt_fn): adds entry to the allowlist allow. */
int cli_allow_add(void *allow, const char *entry, char *why, size_t why_len);

int cli_classify_main(int argc, char **argv);
int cli_scan_main(int argc, char **argv);
int cli_query_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);
int cli_jobs_main(int argc, char **argv);
int cli_ack_main(int argc, char **argv);

#endif
