/* The service's configuration: registry value names (defined only here), defaults, and portable parsing/validation. */
#ifndef BG_SERVICE_CONFIG_H
#define BG_SERVICE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"
#include "engine.h"

/*
 * Registry keys under HKEY_LOCAL_MACHINE. Every value of the policy key (written by Group Policy from
 * the ADMX template) overrides the same value of the settings key, value by value.
 */
#define CONFIG_KEY_SETTINGS "SOFTWARE\\bitsguard"
#define CONFIG_KEY_POLICY   "SOFTWARE\\Policies\\bitsguard"
/* Not configuration: the status summary the service writes for ConfigMgr CMPivot and other registry
 * readers (service/win/win_status.c; docs/fleet.md). */
#define CONFIG_KEY_STATUS "SOFTWARE\\bitsguard\\Status"

/*
 * The value names: the one list the registry reader, the ADMX template and the documentation use.
 * XX(symbol, name, type) with type one of multi (REG_MULTI_SZ, or REG_SZ with ';' or ',' separators),
 * dword (REG_DWORD, or REG_SZ holding a decimal number) or string (REG_SZ or REG_EXPAND_SZ).
 */
#define CONFIG_VALUE_MAP(XX)                                                                                    \
    XX(ALLOWLIST, "Allowlist", multi)              /* CIDRs and host names never alerted on. */                 \
    XX(BACKFILL, "Backfill", dword)                /* 1: first start reads from the oldest record (default). */ \
    XX(RETENTION_DAYS, "RetentionDays", dword)     /* Delete detections older than this; 0 keeps forever. */    \
    XX(RETENTION_ROWS, "RetentionRows", dword)     /* Keep at most this many detections; 0: no cap. */          \
    XX(ALERT_PRIVATE, "AlertPrivateRanges", dword) /* 1: alert on private-range IPs too (event 1001). */        \
    XX(DATABASE_PATH, "DatabasePath", string)      /* Absolute path of the database file. */                    \
    XX(CHANNELS, "Channels", multi)                /* Event channels read, each with its own bookmark. */

typedef enum config_value_id {
#define CONFIG_VALUE_ENUM(sym, name, type) CONFIG_VALUE_##sym,
    CONFIG_VALUE_MAP(CONFIG_VALUE_ENUM)
#undef CONFIG_VALUE_ENUM
        CONFIG_VALUE_COUNT
} config_value_id;

typedef enum config_value_type {
    CONFIG_TYPE_multi,
    CONFIG_TYPE_dword,
    CONFIG_TYPE_string,
} config_value_type;

/* Limits of the numeric values (inclusive); larger values are reported and ignored. */
#define CONFIG_RETENTION_DAYS_MAX 36500u
#define CONFIG_RETENTION_ROWS_MAX 2000000000u
/* Invalid values kept as text for the database (all of them are reported to the callback). */
#define CONFIG_WARNINGS_MAX 32u
/* Paths longer than this (the Windows long-path limit) are rejected. */
#define CONFIG_PATH_MAX 32767u
/* Allowlist text longer than this is rejected as a whole (a registry value of 1 MB is a mistake). */
#define CONFIG_ALLOWLIST_TEXT_MAX (256u * 1024u)
/* Channels: at most this many (each is one reader thread, one subscription and one database
 * connection), each name at most CONFIG_CHANNEL_NAME_MAX bytes (Windows limits channel names to 255
 * characters). Names are compared case-insensitively, as the Event Log compares them, so a name given
 * twice in another case is a duplicate and refused. */
#define CONFIG_CHANNELS_MAX      16u
#define CONFIG_CHANNEL_NAME_MAX  255u
#define CONFIG_CHANNELS_TEXT_MAX (CONFIG_CHANNELS_MAX * (CONFIG_CHANNEL_NAME_MAX + 2u) * 4u)

/* Value name ("Allowlist", ...) and declared type of an id; NULL for an unknown id. */
const char *config_value_name(config_value_id id);
config_value_type config_value_type_of(config_value_id id);
/* Id of a value name (case-insensitive, as the registry is); CONFIG_VALUE_COUNT when unknown. */
config_value_id config_value_lookup(const char *name);

/* Called for every value that is invalid and ignored: name, the offending text, and why. */
typedef void (*config_report_fn)(void *ctx, const char *name, const char *value, const char *why);

/* A loaded configuration. engine points into the other members: valid until service_config_clear. */
typedef struct service_config {
    engine_config engine;
    allowlist *allow; /* Never NULL after init (an empty list allows nothing). */
    char *db_path;    /* Heap; NULL until set (the caller supplies the platform default). */
    /* The channels to read (heap names), channel_count of them; none means ENGINE_CHANNEL_BITS alone.
     * engine.channel is the first. */
    char *channels[CONFIG_CHANNELS_MAX];
    size_t channel_count;
    size_t allow_count; /* Entries accepted into the allowlist. */
    unsigned invalid;   /* Values (or allowlist entries) reported and ignored. */
    /* The first CONFIG_WARNINGS_MAX of them as "ValueName: why (\"value\")" (heap), which
     * engine.config_warnings points to: the engine records them in the database at start. */
    char **warnings;
    size_t warning_count;
    config_report_fn report;
    void *report_ctx;
} service_config;

/* Defaults: backfill on, retention off, private ranges not alerted, empty allowlist. BG_ERR_NOMEM. */
bg_error service_config_init(service_config *cfg, config_report_fn report, void *report_ctx) BG_WARN_UNUSED;
void service_config_clear(service_config *cfg);

/*
 * Applies one value read as text (REG_SZ/REG_EXPAND_SZ already expanded, or REG_MULTI_SZ joined with
 * '\n'). For dword values the text must be a decimal number. Invalid values are reported through the
 * callback, counted and ignored: the previous value stays. Returns BG_ERR_OK, BG_ERR_CONFIG when
 * something was ignored, or BG_ERR_NOMEM.
 */
bg_error service_config_text_apply(service_config *cfg, config_value_id id, const char *text) BG_WARN_UNUSED;
/* Applies one value read as a number (REG_DWORD). Same results as service_config_text_apply. */
bg_error service_config_dword_apply(service_config *cfg, config_value_id id, uint32_t value) BG_WARN_UNUSED;

/*
 * The one way an invalid value is handled, whichever reader found it: reported through the callback
 * (the Event Log's event 103 in the service), counted in cfg->invalid, and kept for the engine to record
 * in the database's errors table (bitsguard status lists them). text is the offending value as shown
 * (cut to a readable length; "" when it cannot be shown), why the reason. Returns BG_ERR_CONFIG.
 */
bg_error service_config_invalid(service_config *cfg, config_value_id id, const char *text, const char *why);

/* Replaces the database path or channel (command-line overrides). BG_ERR_NOMEM or BG_ERR_INVALID_ARG. */
bg_error service_config_db_path_set(service_config *cfg, const char *path) BG_WARN_UNUSED;
/* Why DatabasePath must be local: the text shared by the portable and the platform checks. */
#define CONFIG_DB_PATH_NOT_LOCAL                                                                           \
    "on the network: the service account (LocalService) is anonymous there, and SQLite's write-ahead log " \
    "does not work on network file systems; use a local path"

/* The channels read (channels of cfg, or ENGINE_CHANNEL_BITS alone): *count of them, never 0. */
const char *const *service_config_channels(const service_config *cfg, size_t *count);
/* The same as one text, "A; B" (for messages), cut to fit out[n]. */
void service_config_channels_join(const service_config *cfg, char *out, size_t n);

/*
 * Checks one channel name: 1..CONFIG_CHANNEL_NAME_MAX bytes of letters, digits, space, '-', '_', '.'
 * and '/', not starting or ending with a space or '/'. Only a name: a file path (\, :), a query or
 * XPath (<, *, [, quotes) is refused. Returns 0, or -1 with the reason in why.
 */
int config_channel_name_check(const char *name, char *why, size_t why_len);

/*
 * Replaces the channels (the command line's repeatable --channel): every name must pass
 * config_channel_name_check, appear once (case-insensitively) and there be 1..CONFIG_CHANNELS_MAX of
 * them; otherwise BG_ERR_CONFIG with the reason in why and nothing changes. BG_ERR_NOMEM.
 */
bg_error service_config_channels_set(service_config *cfg, const char *const *names, size_t n, char *why,
                                     size_t why_len) BG_WARN_UNUSED;

#endif
