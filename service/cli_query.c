/* bitsguard query: placeholder until the command lands (returns an error, never pretends to succeed). */
#include <stdio.h>

#include "cli.h"

int cli_query_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "bitsguard query: not built yet\n");
    return CLI_EXIT_ERROR;
}
