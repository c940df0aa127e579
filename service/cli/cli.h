/* Entry points of the bitsguard sub-commands and the exit statuses they share. */
#ifndef BG_CLI_H
#define BG_CLI_H

/* Exit statuses, documented in --help and README. */
enum {
    CLI_EXIT_OK = 0,       /* Success; for scan: no detection. */
    CLI_EXIT_DETECTED = 1, /* scan: at least one detection that is not allow-listed. */
    CLI_EXIT_USAGE = 2,    /* Bad command line. */
    CLI_EXIT_ERROR = 3,    /* Input, database or system error. */
};

int cli_classify_main(int argc, char **argv);
int cli_scan_main(int argc, char **argv);
int cli_query_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);

#endif
