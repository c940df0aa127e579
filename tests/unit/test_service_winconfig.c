/* Windows test of the registry configuration reader (service/win/win_config.c) on keys of its own under HKCU. */
#ifndef _WIN32

#include <stdio.h>

int main(void)
{
    fprintf(stderr, "skipped: the registry configuration exists only on Windows\n");
    return 77; /* CHECK_SKIP_CODE; check.h is not included here, its counters would be unused. */
}

#else

#include "check.h"

#include <windows.h>

#include <wchar.h>

#include "store.h"
#include "win_config.h"

/* HKCU\Software\bitsguard-test-PID\{settings,policy}: never the service's own keys under HKLM, which
 * other tests sharing the Wine prefix read. */
static wchar_t g_root[96];
static HKEY g_settings, g_policy;

typedef struct report_log {
    int count;
    char last[256];
} report_log;

static void report_record(void *ctx, const char *name, const char *value, const char *why)
{
    report_log *log = ctx;
    log->count++;
    snprintf(log->last, sizeof log->last, "%s: %s (\"%s\")", name, why, value);
}

static HKEY key_create(const wchar_t *leaf)
{
    wchar_t path[160];
    HKEY key = NULL;
    _snwprintf(path, sizeof path / sizeof path[0], L"%ls\\%ls", g_root, leaf);
    path[sizeof path / sizeof path[0] - 1] = L'\0';
    if (RegCreateKeyExW(HKEY_CURRENT_USER, path, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL) != ERROR_SUCCESS)
        return NULL;
    return key;
}

static void keys_reset(void)
{
    if (g_settings)
        RegCloseKey(g_settings);
    if (g_policy)
        RegCloseKey(g_policy);
    RegDeleteTreeW(HKEY_CURRENT_USER, g_root);
    g_settings = key_create(L"settings");
    g_policy = key_create(L"policy");
    CHECK(g_settings != NULL && g_policy != NULL);
}

static void string_set(HKEY key, const wchar_t *name, const wchar_t *value)
{
    CHECK(RegSetValueExW(key, name, 0, REG_SZ, (const BYTE *)value, (DWORD)((wcslen(value) + 1) * sizeof *value)) ==
          ERROR_SUCCESS);
}

/* Loads from the test keys into a fresh configuration that logs its reports. */
static bg_error load(service_config *cfg, report_log *log)
{
    memset(log, 0, sizeof *log);
    if (service_config_init(cfg, report_record, log) != BG_ERR_OK)
        return BG_ERR_NOMEM;
    return win_config_load_keys(cfg, g_settings, g_policy);
}

/* DatabasePath: the policy key's wins over the settings key's, which wins over the default. */
static void test_database_path(void)
{
    service_config cfg;
    report_log log;
    keys_reset();
    CHECK_INT_EQ(load(&cfg, &log), BG_ERR_OK);
    CHECK(cfg.db_path && strstr(cfg.db_path, "\\" STORE_FOLDER_NAME "\\" STORE_DATABASE_NAME) != NULL);
    service_config_clear(&cfg);
    string_set(g_settings, L"DatabasePath", L"C:\\data\\settings.db");
    CHECK_INT_EQ(load(&cfg, &log), BG_ERR_OK);
    CHECK_STR_EQ(cfg.db_path, "C:\\data\\settings.db");
    service_config_clear(&cfg);
    string_set(g_policy, L"DatabasePath", L"C:\\data\\policy.db");
    CHECK_INT_EQ(load(&cfg, &log), BG_ERR_OK);
    CHECK_STR_EQ(cfg.db_path, "C:\\data\\policy.db");
    CHECK_INT_EQ(log.count, 0);
    service_config_clear(&cfg);
}

/* Channels as REG_MULTI_SZ (one name per string), overridden by the policy key's REG_SZ with ';'. */
static void test_channels(void)
{
    service_config cfg;
    report_log log;
    keys_reset();
    static const wchar_t multi[] = L"ForwardedEvents\0Microsoft-Windows-Bits-Client/Operational\0forwardedevents\0";
    CHECK(RegSetValueExW(g_settings, L"Channels", 0, REG_MULTI_SZ, (const BYTE *)multi, (DWORD)sizeof multi) ==
          ERROR_SUCCESS);
    CHECK_INT_EQ(load(&cfg, &log), BG_ERR_OK);
    CHECK_INT_EQ(cfg.channel_count, 2);
    CHECK_STR_EQ(cfg.channels[0], "ForwardedEvents");
    CHECK_STR_EQ(cfg.channels[1], "Microsoft-Windows-Bits-Client/Operational");
    CHECK_INT_EQ(log.count, 1); /* The repeat in another case. */
    CHECK(strstr(log.last, "Channels: channel given twice") != NULL);
    service_config_clear(&cfg);
    string_set(g_policy, L"Channels", L"System; ForwardedEvents");
    CHECK_INT_EQ(load(&cfg, &log), BG_ERR_OK);
    CHECK_INT_EQ(cfg.channel_count, 2);
    CHECK_STR_EQ(cfg.channels[0], "System");
    CHECK_STR_EQ(cfg.channels[1], "ForwardedEvents");
    service_config_clear(&cfg);
}

/* A value of a type the reader does not take is reported AND kept for the database (status lists it). */
static void test_unsupported_type_recorded(void)
{
    service_config cfg;
    report_log log;
    keys_reset();
    const BYTE raw[4] = {1, 2, 3, 4};
    CHECK(RegSetValueExW(g_settings, L"RetentionDays", 0, REG_BINARY, raw, sizeof raw) == ERROR_SUCCESS);
    CHECK_INT_EQ(load(&cfg, &log), BG_ERR_OK);
    CHECK_INT_EQ(log.count, 1);
    CHECK(strstr(log.last, "RetentionDays: unsupported registry value type") != NULL);
    CHECK_INT_EQ(cfg.invalid, 1);
    CHECK_INT_EQ(cfg.engine.config_warning_count, 1);
    CHECK(cfg.engine.config_warning_count == 1 &&
          strstr(cfg.engine.config_warnings[0], "RetentionDays: unsupported registry value type") != NULL);
    service_config_clear(&cfg);
}

/* A value that cannot be read (over the reader's 1 MB bound) is reported AND kept too. */
static void test_unreadable_recorded(void)
{
    service_config cfg;
    report_log log;
    keys_reset();
    size_t size = 1100u * 1024u;
    BYTE *big = calloc(1, size);
    CHECK(big != NULL);
    if (!big)
        return;
    CHECK(RegSetValueExW(g_policy, L"Allowlist", 0, REG_BINARY, big, (DWORD)size) == ERROR_SUCCESS);
    free(big);
    CHECK_INT_EQ(load(&cfg, &log), BG_ERR_OK);
    CHECK_INT_EQ(log.count, 1);
    CHECK(strstr(log.last, "Allowlist: cannot be read") != NULL);
    CHECK_INT_EQ(cfg.invalid, 1);
    CHECK(cfg.engine.config_warning_count == 1 &&
          strstr(cfg.engine.config_warnings[0], "Allowlist: cannot be read") != NULL);
    service_config_clear(&cfg);
}

int main(void)
{
    _snwprintf(g_root, sizeof g_root / sizeof g_root[0], L"Software\\bitsguard-test-%lu",
               (unsigned long)GetCurrentProcessId());
    CHECK_RUN(test_database_path);
    CHECK_RUN(test_channels);
    CHECK_RUN(test_unsupported_type_recorded);
    CHECK_RUN(test_unreadable_recorded);
    if (g_settings)
        RegCloseKey(g_settings);
    if (g_policy)
        RegCloseKey(g_policy);
    RegDeleteTreeW(HKEY_CURRENT_USER, g_root);
    return CHECK_DONE();
}

#endif
