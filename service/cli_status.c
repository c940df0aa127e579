/* bitsguard status: placeholder until the command lands (returns an error, never pretends to succeed). */
#include <stdio.h>

#include "cli.h"

int cli_status_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "bitsguard status: not built yet\n");
    return CLI_EXIT_ERROR;
}
