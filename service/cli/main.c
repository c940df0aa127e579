/* The bitsguard command: dispatches to the sub-commands. */
#include <stdio.h>
#include <string.h>

#include "bg_os.h"
#include "bg_version.h"
#include "cli.h"

static const cli_command commands[] = {
    {"classify", cli_classify_main, "classify remote names (URLs, UNC paths) as public-ip, private-ip, ..."},
    {"scan", cli_scan_main, "scan exported Bits-Client event XML for downloads from direct IPs"},
    {"query", cli_query_main, "list stored detections"},
    {"status", cli_status_main, "show the database's state"},
    {"ack", cli_ack_main, "acknowledge detections (by id, or all up to an id), recording who and when"},
    {"jobs", cli_jobs_main, "list the BITS service's jobs, flag direct-IP and notify-command jobs"},
};

static void usage_print(FILE *fp)
{
    fprintf(fp,
            "bitsguard %s: detects BITS transfers from direct IP addresses\n\n"
            "usage: bitsguard COMMAND [OPTIONS]\n\ncommands:\n",
            BG_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    for (size_t i = 0; i < cli_platform_command_count; i++)
        fprintf(fp, "  %-10s %s\n", cli_platform_commands[i].name, cli_platform_commands[i].summary);
    fprintf(fp, "  %-10s %s\n\n", "version", "print the version");
    fprintf(fp, "Run 'bitsguard COMMAND --help' for a command's options.\n"
                "exit status: 0 success (scan: nothing found), 1 scan or jobs found something,\n"
                "             2 usage error, 3 input, database or system error\n");
}

int main(int argc, char **argv)
{
    /* Every command takes UTF-8 (SQLite and libxml2 take UTF-8 file names on Windows too). */
    bg_os_argv_utf8(&argc, &argv);
    if (argc < 2) {
        usage_print(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage_print(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("bitsguard %s\n", BG_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    }
    for (size_t i = 0; i < cli_platform_command_count; i++) {
        if (strcmp(name, cli_platform_commands[i].name) == 0)
            return cli_platform_commands[i].main(argc - 1, argv + 1);
    }
    fprintf(stderr, "bitsguard: unknown command '%s'\n", name);
    usage_print(stderr);
    return CLI_EXIT_USAGE;
}
