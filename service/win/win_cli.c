/* What Windows adds to the command line: the service, run and administration commands; live channels. */
#include <stdio.h>
#include <stdlib.h>

#include "bg_utf.h"
#include "cli.h"
#include "win_config.h"
#include "win_bits.h"
#include "win_evt_source.h"
#include "win_service.h"

static const cli_command win_commands[] = {
    {"run", win_run_main, "run the service's reader in this console until Ctrl+C"},
    {"install", win_install_main, "create the Windows service and apply setup (administrators)"},
    {"uninstall", win_uninstall_main, "stop and delete the service (keeps the database)"},
    {"start", win_start_main, "start the service and wait until it runs"},
    {"stop", win_stop_main, "stop the service and wait until it has stopped"},
    {"reload", win_reload_main, "make the running service reload its registry configuration"},
    {"setup", win_setup_main, "apply ACLs, recovery and event source to the installed service"},
    {"teardown", win_teardown_main, "undo setup (used by the MSI on uninstall)"},
    {"selftest", win_selftest_main, "prove on this endpoint that a direct-IP BITS job is stored and alerted"},
    {"service", win_service_main, "entry point for the Service Control Manager only"},
};

const cli_command *const cli_platform_commands = win_commands;
const size_t cli_platform_command_count = sizeof win_commands / sizeof win_commands[0];
const int cli_platform_has_channels = 1;

char *cli_platform_db_path(char *why, size_t why_len)
{
    return win_config_db_path(why, why_len);
}

event_source *cli_platform_channel_new(const char *name, char *why, size_t why_len)
{
    /* .evtx files are not read here: EvtQuery on a file needs the Event Log service, returns nothing
     * for a damaged log and knows no recovered records, so scan reads them with libevtx everywhere. */
    wchar_t *wname = bg_utf16_from_utf8(name);
    event_source *src = wname ? win_evt_query_new(wname, 0) : NULL;
    free(wname);
    if (!src)
        snprintf(why, why_len, "cannot open the event query");
    return src;
}

jobs_client *cli_platform_jobs_client_new(char *why, size_t why_len)
{
    return win_bits_client_new(why, why_len);
}
