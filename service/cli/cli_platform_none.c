/* Platforms without commands of their own (Windows registers its commands in service/win/win_commands.c). */
#include "cli.h"

const cli_command *const cli_platform_commands = NULL;
const size_t cli_platform_command_count = 0;
