/* Unit tests of the service configuration parsing (service/engine/config.c): names, validation, allowlist text. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

typedef struct report_log {
    int count;
    char last_name[64];
    char last_value[128];
    char last_why[256];
} report_log;

static void report_record(void *ctx, const char *name, const char *value, const char *why)
{
    report_log *log = ctx;
    log->count++;
    snprintf(log->last_name, sizeof log->last_name, "%s", name ? name : "(null)");
    snprintf(log->last_value, sizeof log->last_value, "%s", value ? value : "(null)");
    snprintf(log->last_why, sizeof log->last_why, "%s", why ? why : "(null)");
    CHECK(why != NULL && why[0] != '\0');
}

static void test_value_names(void)
{
    CHECK_STR_EQ(config_value_name(CONFIG_VALUE_ALLOWLIST), "Allowlist");
    CHECK_STR_EQ(config_value_name(CONFIG_VALUE_BACKFILL), "Backfill");
    CHECK_STR_EQ(config_value_name(CONFIG_VALUE_RETENTION_DAYS), "RetentionDays");
    CHECK_STR_EQ(config_value_name(CONFIG_VALUE_RETENTION_ROWS), "RetentionRows");
    CHECK_STR_EQ(config_value_name(CONFIG_VALUE_ALERT_PRIVATE), "AlertPrivateRanges");
    CHECK_STR_EQ(config_value_name(CONFIG_VALUE_DATABASE_PATH), "DatabasePath");
    CHECK_STR_EQ(config_value_name(CONFIG_VALUE_CHANNELS), "Channels");
    CHECK_INT_EQ(config_value_type_of(CONFIG_VALUE_CHANNELS), CONFIG_TYPE_multi);
    CHECK(config_value_name(CONFIG_VALUE_COUNT) == NULL);
    CHECK_INT_EQ(config_value_lookup("allowlist"), CONFIG_VALUE_ALLOWLIST);
    CHECK_INT_EQ(config_value_lookup("DATABASEPATH"), CONFIG_VALUE_DATABASE_PATH);
    CHECK_INT_EQ(config_value_lookup("Allowlists"), CONFIG_VALUE_COUNT);
    CHECK_INT_EQ(config_value_lookup(NULL), CONFIG_VALUE_COUNT);
    CHECK_INT_EQ(config_value_type_of(CONFIG_VALUE_ALLOWLIST), CONFIG_TYPE_multi);
    CHECK_INT_EQ(config_value_type_of(CONFIG_VALUE_RETENTION_ROWS), CONFIG_TYPE_dword);
    CHECK_INT_EQ(config_value_type_of(CONFIG_VALUE_DATABASE_PATH), CONFIG_TYPE_string);
}

static void test_defaults(void)
{
    service_config cfg;
    report_log log = {0};
    CHECK_INT_EQ(service_config_init(&cfg, report_record, &log), BG_ERR_OK);
    CHECK_INT_EQ(cfg.engine.backfill, 1);
    CHECK_INT_EQ(cfg.engine.report_private, 0);
    CHECK_INT_EQ(cfg.engine.retention_days, 0);
    CHECK_INT_EQ(cfg.engine.retention_rows, 0);
    CHECK_STR_EQ(cfg.engine.channel, ENGINE_CHANNEL_BITS);
    CHECK(cfg.engine.db_path == NULL);
    CHECK(cfg.engine.allow == cfg.allow && cfg.allow != NULL);
    CHECK_INT_EQ(log.count, 0);
    service_config_clear(&cfg);
}

/* A flat table: value, text, expected result, and the engine field afterwards (or -1 when unchanged). */
static void test_dword_values(void)
{
    static const struct {
        config_value_id id;
        const char *text;
        bg_error expect;
        int64_t after;
    } cases[] = {
        {CONFIG_VALUE_BACKFILL, "0", BG_ERR_OK, 0},
        {CONFIG_VALUE_BACKFILL, " 1 ", BG_ERR_OK, 1},
        {CONFIG_VALUE_BACKFILL, "2", BG_ERR_CONFIG, 1},
        {CONFIG_VALUE_BACKFILL, "yes", BG_ERR_CONFIG, 1},
        {CONFIG_VALUE_BACKFILL, "", BG_ERR_CONFIG, 1},
        {CONFIG_VALUE_BACKFILL, "-0", BG_ERR_CONFIG, 1},
        {CONFIG_VALUE_ALERT_PRIVATE, "1", BG_ERR_OK, 1},
        {CONFIG_VALUE_ALERT_PRIVATE, "0x1", BG_ERR_CONFIG, 0},
        {CONFIG_VALUE_RETENTION_DAYS, "90", BG_ERR_OK, 90},
        {CONFIG_VALUE_RETENTION_DAYS, "36500", BG_ERR_OK, 36500},
        {CONFIG_VALUE_RETENTION_DAYS, "36501", BG_ERR_CONFIG, 0},
        {CONFIG_VALUE_RETENTION_DAYS, "4294967296", BG_ERR_CONFIG, 0},
        {CONFIG_VALUE_RETENTION_DAYS, "12abc", BG_ERR_CONFIG, 0},
        {CONFIG_VALUE_RETENTION_ROWS, "100000", BG_ERR_OK, 100000},
        {CONFIG_VALUE_RETENTION_ROWS, "2000000001", BG_ERR_CONFIG, 0},
        {CONFIG_VALUE_RETENTION_ROWS, "+5", BG_ERR_CONFIG, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        service_config cfg;
        report_log log = {0};
        CHECK_INT_EQ(service_config_init(&cfg, report_record, &log), BG_ERR_OK);
        /* Start from a non-default so "unchanged" is visible: backfill 1, private 0, retention 0. */
        bg_error err = service_config_text_apply(&cfg, cases[i].id, cases[i].text);
        char ctx[64];
        snprintf(ctx, sizeof ctx, "case %u '%s'", (unsigned)i, cases[i].text);
        CHECK_STR_EQ_CTX(ctx, bg_error_name(err), bg_error_name(cases[i].expect));
        int64_t got = -1;
        switch (cases[i].id) {
        case CONFIG_VALUE_BACKFILL:
            got = cfg.engine.backfill;
            break;
        case CONFIG_VALUE_ALERT_PRIVATE:
            got = cfg.engine.report_private;
            break;
        case CONFIG_VALUE_RETENTION_DAYS:
            got = cfg.engine.retention_days;
            break;
        case CONFIG_VALUE_RETENTION_ROWS:
            got = cfg.engine.retention_rows;
            break;
        default:
            break;
        }
        CHECK_INT_EQ(got, cases[i].after);
        CHECK_INT_EQ(log.count, cases[i].expect == BG_ERR_OK ? 0 : 1);
        CHECK_INT_EQ(cfg.invalid, cases[i].expect == BG_ERR_OK ? 0u : 1u);
        if (cases[i].expect != BG_ERR_OK)
            CHECK_STR_EQ(log.last_name, config_value_name(cases[i].id));
        service_config_clear(&cfg);
    }
}

static void test_dword_typed(void)
{
    service_config cfg;
    report_log log = {0};
    CHECK_INT_EQ(service_config_init(&cfg, report_record, &log), BG_ERR_OK);
    CHECK_INT_EQ(service_config_dword_apply(&cfg, CONFIG_VALUE_BACKFILL, 0), BG_ERR_OK);
    CHECK_INT_EQ(cfg.engine.backfill, 0);
    CHECK_INT_EQ(service_config_dword_apply(&cfg, CONFIG_VALUE_ALERT_PRIVATE, 7), BG_ERR_CONFIG);
    CHECK_INT_EQ(cfg.engine.report_private, 0);
    CHECK_STR_EQ(log.last_value, "7");
    /* A DWORD where a string is expected is reported, never fatal. */
    CHECK_INT_EQ(service_config_dword_apply(&cfg, CONFIG_VALUE_DATABASE_PATH, 1), BG_ERR_CONFIG);
    CHECK(cfg.db_path == NULL);
    CHECK_INT_EQ(service_config_dword_apply(&cfg, CONFIG_VALUE_COUNT, 1), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(log.count, 2);
    service_config_clear(&cfg);
}

static void test_database_path(void)
{
    static const struct {
        const char *text;
        bg_error expect;
    } cases[] = {
        {"C:\\ProgramData\\bitsguard\\bitsguard.db", BG_ERR_OK},
        {"d:/data/bg.db", BG_ERR_OK},
        {"\\\\?\\C:\\ProgramData\\bg.db", BG_ERR_OK}, /* The long form of a local path. */
        /* Network shares: LocalService is anonymous there and SQLite's WAL does not work on them. */
        {"\\\\server\\share\\bg.db", BG_ERR_CONFIG},
        {"//server/share/bg.db", BG_ERR_CONFIG},
        {"\\\\?\\UNC\\server\\share\\bg.db", BG_ERR_CONFIG},
        {"\\\\.\\pipe\\bg", BG_ERR_CONFIG},
        {"bitsguard.db", BG_ERR_CONFIG},
        {"C:bitsguard.db", BG_ERR_CONFIG},
        {"\\bitsguard.db", BG_ERR_CONFIG},
        {"", BG_ERR_CONFIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        service_config cfg;
        report_log log = {0};
        CHECK_INT_EQ(service_config_init(&cfg, report_record, &log), BG_ERR_OK);
        CHECK_INT_EQ(service_config_db_path_set(&cfg, "C:\\default.db"), BG_ERR_OK);
        bg_error err = service_config_text_apply(&cfg, CONFIG_VALUE_DATABASE_PATH, cases[i].text);
        CHECK_STR_EQ_CTX(cases[i].text, bg_error_name(err), bg_error_name(cases[i].expect));
        CHECK_STR_EQ_CTX(cases[i].text, cfg.engine.db_path,
                         cases[i].expect == BG_ERR_OK ? cases[i].text : "C:\\default.db");
        if (cases[i].expect != BG_ERR_OK && cases[i].text[0] == '\\' && cases[i].text[1] == '\\' &&
            cases[i].text[2] == 's')
            CHECK(log.count == 1 && strstr(log.last_why, "LocalService") != NULL);
        service_config_clear(&cfg);
    }
}

/* Builds a classify_result for an IP literal so allowlist matching can be checked end to end. */
static int allowed(const service_config *cfg, const char *url)
{
    classify_result r;
    classify_name(url, strlen(url), &r);
    return allowlist_result_match(cfg->engine.allow, &r);
}

static void test_allowlist(void)
{
    service_config cfg;
    report_log log = {0};
    CHECK_INT_EQ(service_config_init(&cfg, report_record, &log), BG_ERR_OK);
    CHECK(!allowed(&cfg, "http://198.51.100.7/x.exe"));

    /* REG_MULTI_SZ, joined by the reader with new lines. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, "198.51.100.0/24\nupdates.example.com"),
                 BG_ERR_OK);
    CHECK_INT_EQ(cfg.allow_count, 2);
    CHECK(allowed(&cfg, "http://198.51.100.7/x.exe"));
    CHECK(!allowed(&cfg, "http://203.0.113.9/x.exe"));
    CHECK(cfg.engine.allow == cfg.allow);

    /* REG_SZ as wixl writes it: ';' and ',' separators, blanks around entries. Replaces the list. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, " 203.0.113.9 ; 2001:db8::/32, ,"), BG_ERR_OK);
    CHECK_INT_EQ(cfg.allow_count, 2);
    CHECK(!allowed(&cfg, "http://198.51.100.7/x.exe"));
    CHECK(allowed(&cfg, "http://203.0.113.9/x.exe"));
    CHECK(allowed(&cfg, "http://[2001:db8::5]/x.exe"));
    CHECK_INT_EQ(log.count, 0);

    /* A bad entry is reported and skipped; the good ones still apply. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, "10.0.0.0/99;192.0.2.1"), BG_ERR_CONFIG);
    CHECK_INT_EQ(log.count, 1);
    CHECK_STR_EQ(log.last_name, "Allowlist");
    CHECK_STR_EQ(log.last_value, "10.0.0.0/99");
    CHECK_INT_EQ(cfg.allow_count, 1);
    CHECK(allowed(&cfg, "http://192.0.2.1/a"));

    /* Empty text clears the list. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, ""), BG_ERR_OK);
    CHECK_INT_EQ(cfg.allow_count, 0);
    CHECK(!allowed(&cfg, "http://192.0.2.1/a"));
    service_config_clear(&cfg);
}

static void test_allowlist_limits(void)
{
    service_config cfg;
    report_log log = {0};
    CHECK_INT_EQ(service_config_init(&cfg, report_record, &log), BG_ERR_OK);
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, "192.0.2.1"), BG_ERR_OK);
    /* An over-long entry is reported without being copied whole. */
    char longentry[600];
    memset(longentry, 'a', sizeof longentry - 1);
    longentry[sizeof longentry - 1] = '\0';
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, longentry), BG_ERR_CONFIG);
    CHECK_INT_EQ(log.count, 1);
    CHECK_INT_EQ(cfg.allow_count, 0);
    /* Text over the whole-value limit is ignored as a whole: the previous list stays. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, "192.0.2.1"), BG_ERR_OK);
    size_t n = CONFIG_ALLOWLIST_TEXT_MAX + 2;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (big) {
        memset(big, ';', n - 1);
        big[n - 1] = '\0';
        CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, big), BG_ERR_CONFIG);
        CHECK_INT_EQ(cfg.allow_count, 1);
        CHECK(allowed(&cfg, "http://192.0.2.1/a"));
        free(big);
    }
    CHECK_INT_EQ(cfg.invalid, 2u);
    service_config_clear(&cfg);
}

static void test_overrides(void)
{
    service_config cfg;
    CHECK_INT_EQ(service_config_init(&cfg, NULL, NULL), BG_ERR_OK);
    const char *one[1] = {"Test/Channel"};
    char why[128] = "";
    CHECK_INT_EQ(service_config_channels_set(&cfg, one, 1, why, sizeof why), BG_ERR_OK);
    CHECK_STR_EQ(cfg.engine.channel, "Test/Channel");
    const char *empty[1] = {""};
    CHECK_INT_EQ(service_config_channels_set(&cfg, empty, 1, why, sizeof why), BG_ERR_CONFIG);
    CHECK_STR_EQ(cfg.engine.channel, "Test/Channel");
    /* Relative paths are fine on the command line (run --db), unlike in the registry. */
    CHECK_INT_EQ(service_config_db_path_set(&cfg, "rel.db"), BG_ERR_OK);
    CHECK_STR_EQ(cfg.engine.db_path, "rel.db");
    /* Without a report callback an invalid value is still counted. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_BACKFILL, "x"), BG_ERR_CONFIG);
    CHECK_INT_EQ(cfg.invalid, 1u);
    service_config_clear(&cfg);
}

/* Each ignored value is kept as "Name: why (value)" for the engine to record, up to a bound. */
static void test_warnings_kept(void)
{
    service_config cfg;
    CHECK_INT_EQ(service_config_init(&cfg, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(cfg.engine.config_warning_count, 0);
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_BACKFILL, "7"), BG_ERR_CONFIG);
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_ALLOWLIST, "192.0.2.1;bad_host!"), BG_ERR_CONFIG);
    CHECK_INT_EQ(cfg.engine.config_warning_count, 2);
    CHECK(cfg.engine.config_warnings != NULL);
    if (cfg.engine.config_warnings && cfg.engine.config_warning_count == 2) {
        CHECK_STR_EQ(cfg.engine.config_warnings[0], "Backfill: must be 0 or 1 (\"7\")");
        CHECK(strncmp(cfg.engine.config_warnings[1], "Allowlist: ", 11) == 0);
        CHECK(strstr(cfg.engine.config_warnings[1], "bad_host!") != NULL);
    }
    for (unsigned i = 0; i < CONFIG_WARNINGS_MAX + 5; i++)
        CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_RETENTION_DAYS, "x"), BG_ERR_CONFIG);
    CHECK_INT_EQ(cfg.engine.config_warning_count, CONFIG_WARNINGS_MAX);
    CHECK_INT_EQ(cfg.invalid, CONFIG_WARNINGS_MAX + 7);
    service_config_clear(&cfg);
    CHECK(cfg.warnings == NULL && cfg.engine.config_warning_count == 0);
}

/* The channels a configuration reads, joined with '|' for comparison. */
static void channels_text(const service_config *cfg, char *out, size_t n)
{
    size_t count = 0;
    const char *const *names = service_config_channels(cfg, &count);
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s", i ? "|" : "", names[i]);
    }
}

/* Channels: the default is the Bits-Client channel alone; a list of names replaces it; names only,
 * each once (case-insensitively), at most CONFIG_CHANNELS_MAX; bad entries reported and skipped. */
static void test_channels(void)
{
    service_config cfg;
    report_log log = {0};
    char text[4096];
    CHECK_INT_EQ(service_config_init(&cfg, report_record, &log), BG_ERR_OK);
    channels_text(&cfg, text, sizeof text);
    CHECK_STR_EQ(text, ENGINE_CHANNEL_BITS);

    /* REG_MULTI_SZ joined with '\n', blanks around entries dropped, inside kept. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_CHANNELS,
                                           " ForwardedEvents \n" ENGINE_CHANNEL_BITS "\r\nWindows PowerShell\n\n"),
                 BG_ERR_OK);
    channels_text(&cfg, text, sizeof text);
    CHECK_STR_EQ(text, "ForwardedEvents|" ENGINE_CHANNEL_BITS "|Windows PowerShell");
    CHECK_STR_EQ(cfg.engine.channel, "ForwardedEvents");
    CHECK_INT_EQ(log.count, 0);

    /* wixl's REG_SZ with ';'; a repeat in another case is refused (read once), a path and a query too. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_CHANNELS,
                                           "System;forwardedevents;FORWARDEDEVENTS;C:\\logs\\a.evtx;*[System];"
                                           "Microsoft-Windows-Bits-Client/Operational;/x"),
                 BG_ERR_CONFIG);
    channels_text(&cfg, text, sizeof text);
    CHECK_STR_EQ(text, "System|forwardedevents|" ENGINE_CHANNEL_BITS);
    CHECK_INT_EQ(log.count, 4);
    CHECK_STR_EQ(log.last_name, "Channels");
    CHECK_STR_EQ(log.last_value, "/x");
    CHECK_INT_EQ(cfg.invalid, 4u);

    /* More than the bound: the first CONFIG_CHANNELS_MAX are read, the rest reported. */
    text[0] = '\0';
    for (unsigned i = 0; i < CONFIG_CHANNELS_MAX + 2; i++) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "Channel-%u\n", i);
    }
    log.count = 0;
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_CHANNELS, text), BG_ERR_CONFIG);
    CHECK_INT_EQ(cfg.channel_count, CONFIG_CHANNELS_MAX);
    CHECK_INT_EQ(log.count, 2);
    CHECK(strstr(log.last_why, "more than 16 channels") != NULL);

    /* Nothing valid: the previous channels stay. Too long a name: refused. A number: refused. */
    log.count = 0;
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_CHANNELS, " ;\n"), BG_ERR_CONFIG);
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_CHANNELS, "a<b"), BG_ERR_CONFIG);
    CHECK_INT_EQ(cfg.channel_count, CONFIG_CHANNELS_MAX);
    char longname[CONFIG_CHANNEL_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_CHANNELS, longname), BG_ERR_CONFIG);
    longname[CONFIG_CHANNEL_NAME_MAX] = '\0'; /* Exactly the limit: accepted. */
    CHECK_INT_EQ(service_config_text_apply(&cfg, CONFIG_VALUE_CHANNELS, longname), BG_ERR_OK);
    CHECK_INT_EQ(cfg.channel_count, 1);
    CHECK_INT_EQ(service_config_dword_apply(&cfg, CONFIG_VALUE_CHANNELS, 1), BG_ERR_CONFIG);
    CHECK_INT_EQ(cfg.channel_count, 1);

    /* The command line's list: all or nothing. */
    char why[128] = "";
    const char *dup[2] = {"ForwardedEvents", "forwardedEVENTS"};
    CHECK_INT_EQ(service_config_channels_set(&cfg, dup, 2, why, sizeof why), BG_ERR_CONFIG);
    CHECK(strstr(why, "twice") != NULL);
    const char *path[1] = {"C:\\Windows\\System32\\winevt\\Logs\\System.evtx"};
    CHECK_INT_EQ(service_config_channels_set(&cfg, path, 1, why, sizeof why), BG_ERR_CONFIG);
    CHECK(strstr(why, "not a file path") != NULL);
    CHECK_STR_EQ(cfg.engine.channel, longname);
    const char *two[2] = {"ForwardedEvents", ENGINE_CHANNEL_BITS};
    CHECK_INT_EQ(service_config_channels_set(&cfg, two, 2, why, sizeof why), BG_ERR_OK);
    channels_text(&cfg, text, sizeof text);
    CHECK_STR_EQ(text, "ForwardedEvents|" ENGINE_CHANNEL_BITS);
    service_config_channels_join(&cfg, text, sizeof text);
    CHECK_STR_EQ(text, "ForwardedEvents; " ENGINE_CHANNEL_BITS);
    service_config_channels_join(&cfg, text, 10); /* Cut, still terminated. */
    CHECK_STR_EQ(text, "Forwarded");
    CHECK_INT_EQ(service_config_channels_set(&cfg, two, 0, why, sizeof why), BG_ERR_CONFIG);
    service_config_clear(&cfg);
}

int main(void)
{
    CHECK_RUN(test_warnings_kept);
    CHECK_RUN(test_value_names);
    CHECK_RUN(test_defaults);
    CHECK_RUN(test_dword_values);
    CHECK_RUN(test_dword_typed);
    CHECK_RUN(test_database_path);
    CHECK_RUN(test_allowlist);
    CHECK_RUN(test_allowlist_limits);
    CHECK_RUN(test_overrides);
    CHECK_RUN(test_channels);
    return CHECK_DONE();
}
