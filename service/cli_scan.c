/* bitsguard scan: placeholder until the command lands (returns an error, never pretends to succeed). */
#include <stdio.h>

#include "cli.h"

int cli_scan_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "bitsguard scan: not built yet\n");
    return CLI_EXIT_ERROR;
}
