/* The database a command reads when it is given no --db: the platform's answer, or a clear error. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_opt.h"

const char *cli_db_path(const char *cmd, const char *given, char *buf, size_t n)
{
    if (given)
        return given;
    char why[200] = "";
    char *found = cli_platform_db_path(why, sizeof why);
    if (!found) {
        cli_error(cmd, "no default database location (%s); give --db PATH", why);
        return NULL;
    }
    int len = snprintf(buf, n, "%s", found);
    free(found);
    if (len < 0 || (size_t)len >= n) {
        cli_error(cmd, "the default database path is too long; give --db PATH");
        return NULL;
    }
    return buf;
}
