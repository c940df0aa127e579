/* One option parser and one error printer for every command: options from a table, usage and --help from it too. */
#ifndef BG_CLI_OPT_H
#define BG_CLI_OPT_H

#include <stddef.h>
#include <stdio.h>

#include "bg_error.h"

typedef enum cli_opt_type {
    CLI_OPT_FLAG,   /* --name: *(int *)dest = 1. */
    CLI_OPT_STRING, /* --name VALUE or --name=VALUE: *(const char **)dest = VALUE (the last one given). */
    CLI_OPT_CALL,   /* The same forms, each VALUE handed to call (repeatable: --allow A --allow B). */
} cli_opt_type;

/* What a CLI_OPT_CALL callback returns: CLI_EXIT_OK (0), or the exit status to stop with (then why says
 * what is wrong with the value; the parser prints it). */
typedef int (*cli_opt_fn)(void *dest, const char *value, char *why, size_t why_len);

typedef struct cli_opt {
    const char *name; /* Without the dashes: "db" matches --db VALUE and --db=VALUE. */
    cli_opt_type type;
    void *dest;
    cli_opt_fn call;  /* CLI_OPT_CALL only. */
    const char *arg;  /* The value's name in the help ("PATH"); NULL for a flag. */
    const char *help; /* The help text; a '\n' continues it on the next line, aligned. */
} cli_opt;

/* A command's command line. The synopsis line of the usage is generated from the options. */
typedef struct cli_spec {
    const char *command;  /* "scan" */
    const char *operands; /* After the options in the synopsis ("FILE...|-"); NULL: the command takes none. */
    const char *about;    /* What the command does, printed after the synopsis. */
    const cli_opt *opts;  /* Ends with an entry whose name is NULL; -h and --help are always there. */
    const char *epilog;   /* After the options (output format, exit statuses); may be NULL. */
} cli_spec;

/*
 * Parses argv[1..argc) (argv[0] is the command's name): options anywhere before "--", each operand
 * (a lone "-" included) moved in order to argv[0..n). Returns n, or -1 when the command must end
 * with *exit_status: CLI_EXIT_OK after --help (printed to stdout), CLI_EXIT_USAGE after a usage error
 * (an unknown option, a missing value, an operand the command does not take: said on stderr with a
 * pointer to --help), or what a callback returned.
 */
int cli_opt_parse(const cli_spec *spec, int argc, char **argv, int *exit_status);

/* The usage (synopsis, about, options, epilog) as --help prints it. */
void cli_usage_print(const cli_spec *spec, FILE *fp);

/* "bitsguard COMMAND: message" on stderr, made terminal-safe (a value from the command line or a file
 * may hold escape sequences), with a newline. */
void cli_error(const char *command, const char *fmt, ...) BG_PRINTF(2, 3);

#endif
