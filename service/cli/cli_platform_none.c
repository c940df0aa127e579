/* The command line on platforms without commands or event sources of their own (Windows: service/win/win_cli.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_text.h"
#include "cli.h"
#include "store.h"

const cli_command *const cli_platform_commands = NULL;
const size_t cli_platform_command_count = 0;
const int cli_platform_has_channels = 0;

char *cli_platform_db_path(char *why, size_t why_len)
{
    char path[4096];
    bg_error rc = store_path_default_find(path, sizeof path);
    if (rc != BG_ERR_OK) {
        snprintf(why, why_len, "%s", bg_error_str(rc));
        return NULL;
    }
    char *copy = bg_text_dup(path);
    if (!copy)
        snprintf(why, why_len, "%s", bg_error_str(BG_ERR_NOMEM));
    return copy;
}

event_source *cli_platform_channel_new(const char *name, char *why, size_t why_len)
{
    (void)name;
    snprintf(why, why_len, "channels can be read only on Windows");
    return NULL;
}

jobs_client *cli_platform_jobs_client_new(char *why, size_t why_len)
{
    snprintf(why, why_len, "BITS jobs can be listed only on Windows (the BITS service's COM interface)");
    return NULL;
}
