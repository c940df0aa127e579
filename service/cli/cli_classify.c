/* bitsguard classify: classifies remote names from the command line or standard input, as text or JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "cli.h"
#include "cli_opt.h"
#include "output.h"

/* A line from standard input longer than this is refused: BITS itself stops at 2,200 characters. */
#define CLASSIFY_LINE_MAX (1024 * 1024)

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
        cli_error("classify", "out of memory");
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
                    cli_error("classify", "out of memory");
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
            cli_error("classify", "skipped a line longer than %d bytes", CLASSIFY_LINE_MAX);
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
        cli_error("classify", "error reading standard input");
        status = CLI_EXIT_ERROR;
    }
cleanup:
    free(line);
    return status;
}

int cli_allow_add(void *allow, const char *entry, char *why, size_t why_len)
{
    bg_error rc = allowlist_entry_add(allow, entry, why, why_len);
    if (rc == BG_ERR_OK)
        return CLI_EXIT_OK;
    if (!why[0])
        snprintf(why, why_len, "%s", bg_error_str(rc));
    return rc == BG_ERR_INVALID_ARG ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
}

int cli_classify_main(int argc, char **argv)
{
    int status = CLI_EXIT_OK, json = 0;
    allowlist *al = allowlist_new();
    if (!al) {
        cli_error("classify", "out of memory");
        return CLI_EXIT_ERROR;
    }
    const cli_opt opts[] = {
        {"json", CLI_OPT_FLAG, &json, NULL, NULL,
         "one JSON object per line: url, verdict, ip, kind, range, reading,\nembedded_ipv4, host, allowed"},
        {"allow", CLI_OPT_CALL, al, cli_allow_add, "CIDR|HOST",
         "allow-list a CIDR (10.0.0.0/8, 2001:db8::/32), an IP, a host name or\n*.example.com (sub-domains); "
         "shown as \"allowed\" in JSON"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "classify",
        "NAME...|-",
        "Classifies BITS remote names (http/https URLs, UNC paths, file:// URLs, local paths) as\n"
        "public-ip, private-ip, domain, local or invalid; with -, names one per line on standard input.",
        opts,
        "text output: verdict<TAB>ip or -<TAB>kind<TAB>range or -<TAB>reading or -<TAB>name\n"
        "exit status: 0 success, 2 usage error, 3 input or output error\n",
    };
    /* Every option is read before the first name is classified: --allow after a name applies to it too. */
    int names = cli_opt_parse(&spec, argc, argv, &status);
    if (names < 0)
        goto cleanup;
    if (names == 0) {
        cli_error("classify", "no name to classify (give names, or - for standard input)");
        cli_usage_print(&spec, stderr);
        status = CLI_EXIT_USAGE;
        goto cleanup;
    }
    for (int i = 0; i < names; i++) {
        if (strcmp(argv[i], "-") == 0) {
            int rc = stdin_classify(al, json);
            if (rc != CLI_EXIT_OK)
                status = rc;
        } else {
            result_print(argv[i], al, json);
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("classify", "error writing the output");
        status = CLI_EXIT_ERROR;
    }
cleanup:
    allowlist_free(al);
    return status;
}
