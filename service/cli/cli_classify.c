/* bitsguard classify: classifies remote names from the command line or standard input, as text or JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "cli.h"
#include "output.h"

/* A line from standard input longer than this is refused: BITS itself stops at 2,200 characters. */
#define CLASSIFY_LINE_MAX (1024 * 1024)

static void usage_print(FILE *fp)
{
    fputs("usage: bitsguard classify [--json] [--allow CIDR|HOST]... NAME...\n"
          "       bitsguard classify [--json] [--allow CIDR|HOST]... -   (names one per line on stdin)\n"
          "\n"
          "Classifies BITS remote names (http/https URLs, UNC paths, file:// URLs, local paths) as\n"
          "public-ip, private-ip, domain, local or invalid.\n"
          "\n"
          "options:\n"
          "  --json          one JSON object per line: url, verdict, ip, kind, range, reading, embedded_ipv4,\n"
          "                  host, allowed\n"
          "  --allow ENTRY   allow-list a CIDR (10.0.0.0/8, 2001:db8::/32), an IP, a host name or\n"
          "                  *.example.com (sub-domains); repeatable; shown as \"allowed\" in JSON\n"
          "  -h, --help      print this help\n"
          "\n"
          "text output: verdict<TAB>ip or -<TAB>kind<TAB>range or -<TAB>reading or -<TAB>name\n"
          "exit status: 0 success, 2 usage error, 3 input or output error\n",
          fp);
}

static void result_print(const char *name, const allowlist *al, int json)
{
    classify_result r;
    classify_name(name, strlen(name), &r);
    const char *verdict = classify_verdict_name(r.verdict);
    const char *kind = classify_kind_name(r.kind);
    if (json) {
        fputs("{\"url\":", stdout);
        output_json_string(stdout, name);
        fputs(",\"verdict\":", stdout);
        output_json_string(stdout, verdict);
        fputs(",\"ip\":", stdout);
        output_json_string(stdout, r.ip[0] ? r.ip : NULL);
        fputs(",\"kind\":", stdout);
        output_json_string(stdout, kind);
        fputs(",\"range\":", stdout);
        output_json_string(stdout, r.range);
        fputs(",\"reading\":", stdout);
        output_json_string(stdout, classify_reading_name(r.reading));
        fputs(",\"embedded_ipv4\":", stdout);
        output_json_string(stdout, r.embedded_ipv4[0] ? r.embedded_ipv4 : NULL);
        fputs(",\"host\":", stdout);
        output_json_string(stdout, r.host);
        fputs(allowlist_result_match(al, &r) ? ",\"allowed\":true}\n" : ",\"allowed\":false}\n", stdout);
        return;
    }
    const char *reading = classify_reading_name(r.reading);
    printf("%s\t%s\t%s\t%s\t%s\t", verdict, r.ip[0] ? r.ip : "-", kind, r.range ? r.range : "-",
           reading ? reading : "-");
    output_terminal_text(stdout, name, 0);
    fputc('\n', stdout);
}

/* Reads names one per line (LF or CRLF, a leading UTF-8 BOM ignored); empty lines are skipped. */
static int stdin_classify(const allowlist *al, int json)
{
    int status = CLI_EXIT_OK;
    size_t cap = 4096, len = 0;
    int first = 1, too_long = 0;
    char *line = malloc(cap);
    if (!line) {
        fprintf(stderr, "bitsguard classify: out of memory\n");
        return CLI_EXIT_ERROR;
    }
    for (;;) {
        int c = getchar();
        if (c != EOF && c != '\n') {
            if (too_long)
                continue;
            if (len + 1 >= cap) {
                if (cap >= CLASSIFY_LINE_MAX) {
                    too_long = 1;
                    continue;
                }
                char *grown = realloc(line, cap * 2);
                if (!grown) {
                    fprintf(stderr, "bitsguard classify: out of memory\n");
                    status = CLI_EXIT_ERROR;
                    goto cleanup;
                }
                line = grown;
                cap *= 2;
            }
            line[len++] = (char)c;
            continue;
        }
        if (c == EOF && len == 0 && !too_long)
            break;
        line[len] = '\0';
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        char *name = line;
        if (first && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
            name += 3;
        first = 0;
        if (too_long) {
            fprintf(stderr, "bitsguard classify: skipped a line longer than %d bytes\n", CLASSIFY_LINE_MAX);
            status = CLI_EXIT_ERROR;
        } else if (name[0] != '\0') {
            result_print(name, al, json);
        }
        len = 0;
        too_long = 0;
        if (c == EOF)
            break;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "bitsguard classify: error reading standard input\n");
        status = CLI_EXIT_ERROR;
    }
cleanup:
    free(line);
    return status;
}

int cli_classify_main(int argc, char **argv)
{
    int status = CLI_EXIT_OK, json = 0, names = 0, options_done = 0;
    allowlist *al = allowlist_new();
    if (!al) {
        fprintf(stderr, "bitsguard classify: out of memory\n");
        return CLI_EXIT_ERROR;
    }
    /* First pass: options, so that --allow after a name still applies to every name. */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            names++;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage_print(stdout);
            goto cleanup;
        } else if (strcmp(arg, "--json") == 0) {
            json = 1;
        } else if (strcmp(arg, "--allow") == 0 || strncmp(arg, "--allow=", 8) == 0) {
            const char *entry = arg[7] == '=' ? arg + 8 : NULL;
            if (!entry) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "bitsguard classify: --allow needs a CIDR, IP or host name\n");
                    status = CLI_EXIT_USAGE;
                    goto cleanup;
                }
                entry = argv[++i];
            }
            char err[160];
            bg_error rc = allowlist_entry_add(al, entry, err, sizeof err);
            if (rc != BG_ERR_OK) {
                fprintf(stderr, "bitsguard classify: --allow: %s\n", err[0] ? err : bg_error_str(rc));
                status = rc == BG_ERR_INVALID_ARG ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
                goto cleanup;
            }
        } else {
            fprintf(stderr, "bitsguard classify: unknown option '");
            output_terminal_text(stderr, arg, 60);
            fprintf(stderr, "'\nRun 'bitsguard classify --help' for the options.\n");
            status = CLI_EXIT_USAGE;
            goto cleanup;
        }
    }
    if (names == 0) {
        fprintf(stderr, "bitsguard classify: no name to classify (give names, or - for standard input)\n");
        usage_print(stderr);
        status = CLI_EXIT_USAGE;
        goto cleanup;
    }
    options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && arg[0] == '-' && strcmp(arg, "-") != 0) {
            if (strcmp(arg, "--") == 0)
                options_done = 1;
            else if (strcmp(arg, "--allow") == 0)
                i++;
            continue;
        }
        if (strcmp(arg, "-") == 0 && !options_done) {
            int rc = stdin_classify(al, json);
            if (rc != CLI_EXIT_OK)
                status = rc;
        } else {
            result_print(arg, al, json);
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "bitsguard classify: error writing the output\n");
        status = CLI_EXIT_ERROR;
    }
cleanup:
    allowlist_free(al);
    return status;
}
