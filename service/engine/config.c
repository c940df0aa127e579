/* Portable parsing and validation of the service's configuration values (the registry reading is in win_config.c). */
#include "config.h"

#include "bg_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct config_value_def {
    const char *name;
    config_value_type type;
} config_value_def;

static const config_value_def config_values[CONFIG_VALUE_COUNT] = {
#define CONFIG_VALUE_DEF(sym, name, type) [CONFIG_VALUE_##sym] = {name, CONFIG_TYPE_##type},
    CONFIG_VALUE_MAP(CONFIG_VALUE_DEF)
#undef CONFIG_VALUE_DEF
};

const char *config_value_name(config_value_id id)
{
    if ((unsigned)id >= CONFIG_VALUE_COUNT)
        return NULL;
    return config_values[id].name;
}

config_value_type config_value_type_of(config_value_id id)
{
    if ((unsigned)id >= CONFIG_VALUE_COUNT)
        return CONFIG_TYPE_string;
    return config_values[id].type;
}

/* ASCII case-insensitive comparison: registry value names are case-insensitive. */
static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

config_value_id config_value_lookup(const char *name)
{
    for (unsigned i = 0; name && i < CONFIG_VALUE_COUNT; i++) {
        if (ascii_casecmp(name, config_values[i].name) == 0)
            return (config_value_id)i;
    }
    return CONFIG_VALUE_COUNT;
}

static void config_engine_sync(service_config *cfg)
{
    cfg->engine.db_path = cfg->db_path;
    cfg->engine.channel = cfg->channel_count ? cfg->channels[0] : ENGINE_CHANNEL_BITS;
    cfg->engine.allow = cfg->allow;
}

bg_error service_config_init(service_config *cfg, config_report_fn report, void *report_ctx)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->report = report;
    cfg->report_ctx = report_ctx;
    cfg->engine.backfill = 1;
    cfg->engine.report_private = 0;
    cfg->engine.retention_days = 0;
    cfg->engine.retention_rows = 0;
    cfg->engine.backoff_min_ms = ENGINE_BACKOFF_MIN_DEFAULT_MS;
    cfg->engine.backoff_max_ms = ENGINE_BACKOFF_MAX_DEFAULT_MS;
    cfg->allow = allowlist_new();
    if (!cfg->allow)
        return BG_ERR_NOMEM;
    config_engine_sync(cfg);
    return BG_ERR_OK;
}

void service_config_clear(service_config *cfg)
{
    for (size_t i = 0; i < cfg->warning_count; i++)
        free(cfg->warnings[i]);
    free(cfg->warnings);
    allowlist_free(cfg->allow);
    free(cfg->db_path);
    for (size_t i = 0; i < cfg->channel_count; i++)
        free(cfg->channels[i]);
    memset(cfg, 0, sizeof *cfg);
}

/* Keeps "Name: why ("value")" for the engine to record; out of memory only loses the copy. */
static void config_warning_keep(service_config *cfg, const char *name, const char *shown, const char *why)
{
    if (cfg->warning_count >= CONFIG_WARNINGS_MAX)
        return;
    char text[256];
    snprintf(text, sizeof text, "%s: %s (\"%.80s\")", name ? name : "?", why ? why : "invalid", shown);
    size_t n = strlen(text) + 1;
    char **grown = realloc(cfg->warnings, (cfg->warning_count + 1) * sizeof *grown);
    if (!grown)
        return;
    cfg->warnings = grown;
    cfg->engine.config_warnings = (const char *const *)cfg->warnings; /* realloc may have moved it. */
    char *copy = malloc(n);
    if (!copy)
        return;
    memcpy(copy, text, n);
    cfg->warnings[cfg->warning_count++] = copy;
    cfg->engine.config_warning_count = cfg->warning_count;
}

bg_error service_config_invalid(service_config *cfg, config_value_id id, const char *text, const char *why)
{
    cfg->invalid++;
    /* Cut on purpose: an event string that long would hide the reason. */
    char shown[128];
    snprintf(shown, sizeof shown, "%.*s", (int)(sizeof shown - 1), text ? text : "");
    if (cfg->report)
        cfg->report(cfg->report_ctx, config_value_name(id), shown, why);
    config_warning_keep(cfg, config_value_name(id), shown, why);
    return BG_ERR_CONFIG;
}

/* A database path from the registry must be absolute: a service's working directory is System32. */
static int config_is_slash(char c)
{
    return c == '\\' || c == '/';
}

/* A drive-letter path (C:\...), also in the long form \\?\C:\... */
static int config_path_is_absolute(const char *p)
{
    if (config_is_slash(p[0]) && config_is_slash(p[1]) && (p[2] == '?' || p[2] == '.') && config_is_slash(p[3]))
        p += 4;
    return ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':' && config_is_slash(p[2]);
}

/* A network path: \\server\share, //server/share, or the long form \\?\UNC\server\share. */
static int config_path_is_unc(const char *p)
{
    if (!config_is_slash(p[0]) || !config_is_slash(p[1]))
        return 0;
    if ((p[2] == '?' || p[2] == '.') && config_is_slash(p[3]))
        return (p[4] == 'U' || p[4] == 'u') && (p[5] == 'N' || p[5] == 'n') && (p[6] == 'C' || p[6] == 'c') &&
               config_is_slash(p[7]);
    return p[2] != '\0';
}

static int config_is_separator(char c)
{
    return c == ';' || c == ',' || c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '\0';
}

/*
 * Replaces the allowlist with the entries of text. Entries are separated by ';', ',', blanks or new
 * lines (REG_MULTI_SZ is joined with '\n' by the reader; wixl writes multi-strings as REG_SZ). A bad
 * entry is reported and skipped; the good ones still apply, so one typo does not drop the whole list.
 */
static bg_error config_allowlist_apply(service_config *cfg, const char *text)
{
    size_t len = strlen(text);
    if (len > CONFIG_ALLOWLIST_TEXT_MAX)
        return service_config_invalid(cfg, CONFIG_VALUE_ALLOWLIST, text, "allowlist text is too long");
    allowlist *al = allowlist_new();
    if (!al)
        return BG_ERR_NOMEM;
    bg_error result = BG_ERR_OK;
    size_t count = 0;
    const char *p = text;
    while (*p) {
        while (*p && config_is_separator(*p))
            p++;
        const char *start = p;
        while (*p && !config_is_separator(*p))
            p++;
        size_t n = (size_t)(p - start);
        if (n == 0)
            continue;
        char entry[CLASSIFY_HOST_MAX + 8];
        if (n >= sizeof entry) {
            char shown[64];
            snprintf(shown, sizeof shown, "%.*s...", 48, start);
            result = service_config_invalid(cfg, CONFIG_VALUE_ALLOWLIST, shown, "allowlist entry is too long");
            continue;
        }
        memcpy(entry, start, n);
        entry[n] = '\0';
        char why[160] = "";
        bg_error err = allowlist_entry_add(al, entry, why, sizeof why);
        if (err == BG_ERR_NOMEM) {
            allowlist_free(al);
            return err;
        }
        if (err != BG_ERR_OK) {
            result = service_config_invalid(cfg, CONFIG_VALUE_ALLOWLIST, entry,
                                            why[0] ? why : "not a CIDR, IP or host name");
            continue;
        }
        count++;
    }
    allowlist_free(cfg->allow);
    cfg->allow = al;
    cfg->allow_count = count;
    config_engine_sync(cfg);
    return result;
}

int config_channel_name_check(const char *name, char *why, size_t why_len)
{
    size_t n = strlen(name);
    const char *problem = NULL;
    if (n == 0)
        problem = "empty channel name";
    else if (n > CONFIG_CHANNEL_NAME_MAX)
        problem = "channel name is too long";
    else if (name[0] == ' ' || name[0] == '/' || name[n - 1] == ' ' || name[n - 1] == '/')
        problem = "a channel name does not start or end with a space or '/'";
    for (size_t i = 0; !problem && i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != ' ' && c != '-' && c != '_' && c != '.' && c != '/')
            problem = c == '\\' || c == ':' ? "a channel name, not a file path"
                      : c == '<' || c == '*' || c == '[' || c == '\'' || c == '"'
                          ? "a channel name, not a query"
                          : "a channel name holds only letters, digits, spaces and - _ . /";
    }
    if (!problem)
        return 0;
    snprintf(why, why_len, "%s", problem);
    return -1;
}

const char *const *service_config_channels(const service_config *cfg, size_t *count)
{
    static const char *const bits[1] = {ENGINE_CHANNEL_BITS};
    if (cfg->channel_count == 0) {
        *count = 1;
        return bits;
    }
    *count = cfg->channel_count;
    return (const char *const *)cfg->channels;
}

void service_config_channels_join(const service_config *cfg, char *out, size_t n)
{
    size_t count = 0, used = 0;
    const char *const *names = service_config_channels(cfg, &count);
    if (n == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < count && used < n; i++) {
        int w = snprintf(out + used, n - used, "%s%s", i ? "; " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Index of name in names[0..n) compared case-insensitively, as the Event Log compares channel names;
 * n when absent. */
static size_t config_channel_find(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (ascii_casecmp(names[i], name) == 0)
            return i;
    }
    return n;
}

/* Replaces cfg's channels by names[0..n) (already checked), taking them over. */
static void config_channels_replace(service_config *cfg, char **names, size_t n)
{
    for (size_t i = 0; i < cfg->channel_count; i++)
        free(cfg->channels[i]);
    for (size_t i = 0; i < n; i++)
        cfg->channels[i] = names[i];
    cfg->channel_count = n;
    config_engine_sync(cfg);
}

bg_error service_config_channels_set(service_config *cfg, const char *const *names, size_t n, char *why, size_t why_len)
{
    char *copies[CONFIG_CHANNELS_MAX];
    size_t kept = 0;
    bg_error rc = BG_ERR_OK;
    if (n == 0 || n > CONFIG_CHANNELS_MAX) {
        snprintf(why, why_len, "between 1 and %u channels", CONFIG_CHANNELS_MAX);
        return BG_ERR_CONFIG;
    }
    for (size_t i = 0; i < n; i++) {
        char reason[96];
        if (config_channel_name_check(names[i], reason, sizeof reason) != 0) {
            snprintf(why, why_len, "%s: %.80s", reason, names[i]);
            rc = BG_ERR_CONFIG;
            goto cleanup;
        }
        if (config_channel_find(copies, kept, names[i]) != kept) {
            snprintf(why, why_len, "channel given twice: %.80s", names[i]);
            rc = BG_ERR_CONFIG;
            goto cleanup;
        }
        copies[kept] = bg_text_dup(names[i]);
        if (!copies[kept]) {
            rc = BG_ERR_NOMEM;
            goto cleanup;
        }
        kept++;
    }
    config_channels_replace(cfg, copies, kept);
    kept = 0;

cleanup:
    for (size_t i = 0; i < kept; i++)
        free(copies[i]);
    return rc;
}

/*
 * Replaces the channels with the entries of text, one per line (REG_MULTI_SZ joined with '\n') or
 * separated by ';' (wixl writes multi-strings as REG_SZ); blanks around an entry are dropped, blanks
 * inside kept ("Windows PowerShell" is a channel). A bad, repeated or surplus entry is reported and
 * skipped; the good ones apply. With no good entry at all the previous channels stay.
 */
static bg_error config_channels_apply(service_config *cfg, const char *text)
{
    if (strlen(text) > CONFIG_CHANNELS_TEXT_MAX)
        return service_config_invalid(cfg, CONFIG_VALUE_CHANNELS, text, "channel list is too long");
    char *names[CONFIG_CHANNELS_MAX];
    size_t kept = 0;
    bg_error result = BG_ERR_OK;
    const char *p = text;
    while (*p) {
        while (*p && (*p == ';' || *p == '\n' || *p == '\r' || *p == ' ' || *p == '\t'))
            p++;
        const char *start = p;
        while (*p && *p != ';' && *p != '\n' && *p != '\r')
            p++;
        size_t n = (size_t)(p - start);
        while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
            n--;
        if (n == 0)
            continue;
        char entry[CONFIG_CHANNEL_NAME_MAX + 2];
        char why[96];
        if (n > CONFIG_CHANNEL_NAME_MAX) {
            char shown[64];
            snprintf(shown, sizeof shown, "%.*s...", 48, start);
            result = service_config_invalid(cfg, CONFIG_VALUE_CHANNELS, shown, "channel name is too long");
            continue;
        }
        memcpy(entry, start, n);
        entry[n] = '\0';
        if (config_channel_name_check(entry, why, sizeof why) != 0) {
            result = service_config_invalid(cfg, CONFIG_VALUE_CHANNELS, entry, why);
            continue;
        }
        if (config_channel_find(names, kept, entry) != kept) {
            result = service_config_invalid(cfg, CONFIG_VALUE_CHANNELS, entry,
                                            "channel given twice (names are case-insensitive); read once");
            continue;
        }
        if (kept == CONFIG_CHANNELS_MAX) {
            snprintf(why, sizeof why, "more than %u channels; ignored", CONFIG_CHANNELS_MAX);
            result = service_config_invalid(cfg, CONFIG_VALUE_CHANNELS, entry, why);
            continue;
        }
        names[kept] = bg_text_dup(entry);
        if (!names[kept]) {
            for (size_t i = 0; i < kept; i++)
                free(names[i]);
            return BG_ERR_NOMEM;
        }
        kept++;
    }
    if (kept == 0)
        return service_config_invalid(cfg, CONFIG_VALUE_CHANNELS, text, "no valid channel; the previous channels stay");
    config_channels_replace(cfg, names, kept);
    return result;
}

bg_error service_config_dword_apply(service_config *cfg, config_value_id id, uint32_t value)
{
    char text[16];
    snprintf(text, sizeof text, "%lu", (unsigned long)value);
    switch (id) {
    case CONFIG_VALUE_BACKFILL:
    case CONFIG_VALUE_ALERT_PRIVATE:
        if (value > 1)
            return service_config_invalid(cfg, id, text, "must be 0 or 1");
        if (id == CONFIG_VALUE_BACKFILL)
            cfg->engine.backfill = (int)value;
        else
            cfg->engine.report_private = (int)value;
        return BG_ERR_OK;
    case CONFIG_VALUE_RETENTION_DAYS:
        if (value > CONFIG_RETENTION_DAYS_MAX) {
            char why[64];
            snprintf(why, sizeof why, "must be between 0 (keep forever) and %u", CONFIG_RETENTION_DAYS_MAX);
            return service_config_invalid(cfg, id, text, why);
        }
        cfg->engine.retention_days = (int)value;
        return BG_ERR_OK;
    case CONFIG_VALUE_RETENTION_ROWS:
        if (value > CONFIG_RETENTION_ROWS_MAX) {
            char why[64];
            snprintf(why, sizeof why, "must be between 0 (no cap) and %u", CONFIG_RETENTION_ROWS_MAX);
            return service_config_invalid(cfg, id, text, why);
        }
        cfg->engine.retention_rows = (int64_t)value;
        return BG_ERR_OK;
    case CONFIG_VALUE_ALLOWLIST:
    case CONFIG_VALUE_DATABASE_PATH:
    case CONFIG_VALUE_CHANNELS:
        return service_config_invalid(cfg, id, text, "must be a string, not a number");
    case CONFIG_VALUE_COUNT:
        break;
    }
    return BG_ERR_INVALID_ARG;
}

bg_error service_config_text_apply(service_config *cfg, config_value_id id, const char *text)
{
    if (!text)
        text = "";
    switch (config_value_type_of(id)) {
    case CONFIG_TYPE_dword: {
        if ((unsigned)id >= CONFIG_VALUE_COUNT)
            return BG_ERR_INVALID_ARG;
        uint64_t v = 0;
        if (!bg_text_parse_u64(text, UINT32_MAX, &v))
            return service_config_invalid(cfg, id, text, "not a decimal number");
        return service_config_dword_apply(cfg, id, (uint32_t)v);
    }
    case CONFIG_TYPE_multi:
        return id == CONFIG_VALUE_CHANNELS ? config_channels_apply(cfg, text) : config_allowlist_apply(cfg, text);
    case CONFIG_TYPE_string:
        break;
    }
    if (id != CONFIG_VALUE_DATABASE_PATH)
        return BG_ERR_INVALID_ARG;
    if (text[0] == '\0')
        return service_config_invalid(cfg, id, text, "empty path");
    if (strlen(text) > CONFIG_PATH_MAX)
        return service_config_invalid(cfg, id, text, "path is too long");
    if (config_path_is_unc(text))
        return service_config_invalid(cfg, id, text, "a share " CONFIG_DB_PATH_NOT_LOCAL);
    if (!config_path_is_absolute(text))
        return service_config_invalid(cfg, id, text, "must be an absolute local path (C:\\...)");
    return service_config_db_path_set(cfg, text);
}

bg_error service_config_db_path_set(service_config *cfg, const char *path)
{
    if (!path || !path[0])
        return BG_ERR_INVALID_ARG;
    char *copy = bg_text_dup(path);
    if (!copy)
        return BG_ERR_NOMEM;
    free(cfg->db_path);
    cfg->db_path = copy;
    config_engine_sync(cfg);
    return BG_ERR_OK;
}
