/* Entry points of the bitsguard sub-commands and the exit statuses they share. */
#ifndef BG_CLI_H
#define BG_CLI_H

#include <stddef.h>

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

/* The platform's own commands, listed after the portable ones: service/win/win_commands.c on Windows
 * (the service and its administration), cli_platform_none.c elsewhere. */
extern const cli_command *const cli_platform_commands;
extern const size_t cli_platform_command_count;

int cli_classify_main(int argc, char **argv);
int cli_scan_main(int argc, char **argv);
int cli_query_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);

#endif
