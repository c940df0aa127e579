/* One option parser and one error printer for every command: options from a table, usage and --help from it too. */
#include "cli_opt.h"

#include <stdarg.h>
#include <string.h>

#include "cli.h"
#include "output.h"

/* Options and their values are printed in the help from this column on. */
#define CLI_HELP_COLUMN 22
/* The synopsis line wraps before this column (the help fits a 100-column terminal). */
#define CLI_USAGE_WIDTH 100

void cli_error(const char *command, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "bitsguard %s: ", command);
    output_terminal_text(stderr, msg, 0);
    fputc('\n', stderr);
}

/* The usage error: what (a text, then the argument it is about), then where to look. Returns -1 with
 * *exit_status set, for cli_opt_parse. */
static int usage_error(const cli_spec *spec, int *exit_status, const char *what, const char *arg)
{
    cli_error(spec->command, "%s '%s'", what, arg);
    fprintf(stderr, "Run 'bitsguard %s --help' for the options.\n", spec->command);
    *exit_status = CLI_EXIT_USAGE;
    return -1;
}

static const cli_opt *opt_find(const cli_spec *spec, const char *name, size_t len)
{
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

/* Handles one option whose value (NULL for none given) is known; returns 0, or -1 with *exit_status. */
static int opt_apply(const cli_spec *spec, const cli_opt *o, const char *value, int *exit_status)
{
    switch (o->type) {
    case CLI_OPT_FLAG:
        *(int *)o->dest = 1;
        return 0;
    case CLI_OPT_STRING:
        *(const char **)o->dest = value;
        return 0;
    case CLI_OPT_CALL: {
        char why[512] = "";
        int rc = o->call(o->dest, value, why, sizeof why);
        if (rc == CLI_EXIT_OK)
            return 0;
        char msg[700];
        snprintf(msg, sizeof msg, "--%s %s: %s", o->name, value, why[0] ? why : "invalid");
        cli_error(spec->command, "%s", msg);
        if (rc == CLI_EXIT_USAGE)
            fprintf(stderr, "Run 'bitsguard %s --help' for the options.\n", spec->command);
        *exit_status = rc;
        return -1;
    }
    }
    return 0;
}

int cli_opt_parse(const cli_spec *spec, int argc, char **argv, int *exit_status)
{
    int n = 0, options_done = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (!spec->operands)
                return usage_error(spec, exit_status, "unexpected argument", a);
            argv[n++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_usage_print(spec, stdout);
            *exit_status = CLI_EXIT_OK;
            return -1;
        }
        const char *eq = a[1] == '-' ? strchr(a + 2, '=') : NULL;
        const cli_opt *o = a[1] == '-' ? opt_find(spec, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2)) : NULL;
        if (!o)
            return usage_error(spec, exit_status, "unknown option", a);
        const char *value = NULL;
        if (o->type == CLI_OPT_FLAG) {
            if (eq)
                return usage_error(spec, exit_status, "this option takes no value:", a);
        } else {
            value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!value || !*value)
                return usage_error(spec, exit_status, "this option needs a value:", a);
        }
        if (opt_apply(spec, o, value, exit_status) != 0)
            return -1;
    }
    return n;
}

/* Prints text, continuing each of its lines at the help column. */
static void help_text_print(FILE *fp, const char *text)
{
    for (const char *p = text; *p; p++) {
        fputc(*p, fp);
        if (*p == '\n')
            fprintf(fp, "%*s", CLI_HELP_COLUMN, "");
    }
    fputc('\n', fp);
}

/* Prints one synopsis item, wrapping before it when the line would pass CLI_USAGE_WIDTH. */
static void synopsis_item_print(FILE *fp, const char *item, int *col, int indent)
{
    int len = (int)strlen(item);
    if (*col + 1 + len > CLI_USAGE_WIDTH && *col > indent) {
        fprintf(fp, "\n%*s", indent, "");
        *col = indent;
    }
    fprintf(fp, " %s", item);
    *col += 1 + len;
}

void cli_usage_print(const cli_spec *spec, FILE *fp)
{
    int col = fprintf(fp, "usage: bitsguard %s", spec->command), indent = col;
    char item[128];
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        if (o->type == CLI_OPT_FLAG)
            snprintf(item, sizeof item, "[--%s]", o->name);
        else
            snprintf(item, sizeof item, "[--%s %s]%s", o->name, o->arg, o->type == CLI_OPT_CALL ? "..." : "");
        synopsis_item_print(fp, item, &col, indent);
    }
    if (spec->operands)
        synopsis_item_print(fp, spec->operands, &col, indent);
    fputc('\n', fp);
    if (spec->about)
        fprintf(fp, "\n%s\n", spec->about);
    fputs("\noptions:\n", fp);
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        char left[64];
        if (o->type == CLI_OPT_FLAG)
            snprintf(left, sizeof left, "  --%s", o->name);
        else
            snprintf(left, sizeof left, "  --%s %s", o->name, o->arg);
        if (strlen(left) + 1 > CLI_HELP_COLUMN)
            fprintf(fp, "%s\n%*s", left, CLI_HELP_COLUMN, "");
        else
            fprintf(fp, "%-*s", CLI_HELP_COLUMN, left);
        help_text_print(fp, o->help);
    }
    fprintf(fp, "%-*s", CLI_HELP_COLUMN, "  -h, --help");
    help_text_print(fp, "print this help");
    if (spec->epilog)
        fprintf(fp, "\n%s", spec->epilog);
}
