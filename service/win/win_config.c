/* Reads the service configuration from the registry (settings key, overridden value by value by the policy key). */
#include <windows.h>

#include "win_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "win_access.h"
#include "win_service.h"
#include "win_util.h"

/* A registry value larger than this is a mistake, not a configuration: reported and ignored. */
#define WIN_CONFIG_VALUE_MAX (1024u * 1024u)

typedef struct reg_value {
    DWORD type;
    BYTE *data; /* Heap, with two extra zero bytes so string data is always terminated. */
    DWORD size;
} reg_value;

/* Reads one value; 1 when found, 0 when absent, -1 on error (too large, out of memory). */
static int reg_value_read(HKEY key, const wchar_t *name, reg_value *out)
{
    memset(out, 0, sizeof *out);
    if (!key)
        return 0;
    if (!win_access_check(win_open_access(WIN_OPEN_REG_CONFIG), WIN_CALL_REG_QUERY_VALUE))
        return -1;
    for (int attempt = 0; attempt < 4; attempt++) {
        DWORD size = 0, type = 0;
        LSTATUS rc = RegQueryValueExW(key, name, NULL, &type, NULL, &size);
        if (rc == ERROR_FILE_NOT_FOUND)
            return 0;
        if (rc != ERROR_SUCCESS || size > WIN_CONFIG_VALUE_MAX)
            return -1;
        BYTE *data = calloc(1, (size_t)size + 2 * sizeof(wchar_t));
        if (!data)
            return -1;
        DWORD got = size;
        rc = RegQueryValueExW(key, name, NULL, &type, data, &got);
        if (rc == ERROR_MORE_DATA) {
            /* Changed between the two calls: read again. */
            free(data);
            continue;
        }
        if (rc != ERROR_SUCCESS) {
            free(data);
            return rc == ERROR_FILE_NOT_FOUND ? 0 : -1;
        }
        out->type = type;
        out->data = data;
        out->size = got;
        return 1;
    }
    return -1;
}

/* REG_MULTI_SZ: the strings joined with '\n' (the portable parser splits on it). */
static wchar_t *reg_multi_join(const reg_value *v)
{
    size_t n = v->size / sizeof(wchar_t);
    wchar_t *w = malloc((n + 1) * sizeof *w);
    if (!w)
        return NULL;
    memcpy(w, v->data, n * sizeof *w);
    w[n] = L'\0';
    /* Trim the list's terminating NULs, then turn the separators into new lines. */
    while (n > 0 && w[n - 1] == L'\0')
        n--;
    for (size_t i = 0; i < n; i++) {
        if (w[i] == L'\0')
            w[i] = L'\n';
    }
    w[n] = L'\0';
    return w;
}

static wchar_t *reg_expand(const wchar_t *s)
{
    DWORD n = ExpandEnvironmentStringsW(s, NULL, 0);
    if (n == 0)
        return NULL;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (w && ExpandEnvironmentStringsW(s, w, n) == 0) {
        free(w);
        w = NULL;
    }
    return w;
}

static bg_error config_value_apply(service_config *cfg, config_value_id id, const reg_value *v)
{
    if (v->type == REG_DWORD && v->size == sizeof(DWORD)) {
        DWORD d;
        memcpy(&d, v->data, sizeof d);
        return service_config_dword_apply(cfg, id, (uint32_t)d);
    }
    wchar_t *w = NULL;
    if (v->type == REG_SZ) {
        w = (wchar_t *)v->data; /* Terminated by the extra zero bytes. */
    } else if (v->type == REG_EXPAND_SZ) {
        w = reg_expand((const wchar_t *)v->data);
    } else if (v->type == REG_MULTI_SZ) {
        w = reg_multi_join(v);
    } else {
        return service_config_invalid(cfg, id, "", "unsupported registry value type");
    }
    if (!w)
        return BG_ERR_NOMEM;
    char *u = bg_utf8_from_utf16(w);
    if (w != (wchar_t *)v->data)
        free(w);
    if (!u)
        return BG_ERR_NOMEM;
    bg_error rc = service_config_text_apply(cfg, id, u);
    free(u);
    return rc;
}

char *win_config_default_db_path(void)
{
    wchar_t path[MAX_PATH + 64];
    if (!win_data_folder(path, MAX_PATH))
        return NULL;
    size_t n = wcslen(path);
    _snwprintf(path + n, sizeof path / sizeof path[0] - n, L"\\%ls", WIN_DATABASE_NAME);
    path[sizeof path / sizeof path[0] - 1] = L'\0';
    return bg_utf8_from_utf16(path);
}

bg_error win_config_load_keys(service_config *cfg, HKEY settings, HKEY policy)
{
    bg_error result = BG_ERR_OK;
    if (!cfg->db_path) {
        char *def = win_config_default_db_path();
        if (!def)
            return BG_ERR_PLATFORM;
        result = service_config_db_path_set(cfg, def);
        free(def);
        if (result != BG_ERR_OK)
            return result;
    }
    for (unsigned i = 0; i < CONFIG_VALUE_COUNT; i++) {
        config_value_id id = (config_value_id)i;
        wchar_t *name = bg_utf16_from_utf8(config_value_name(id));
        if (!name)
            return BG_ERR_NOMEM;
        reg_value v;
        /* Group Policy wins value by value: the settings key only fills what policy leaves unset. */
        int found = reg_value_read(policy, name, &v);
        if (found == 0)
            found = reg_value_read(settings, name, &v);
        free(name);
        if (found < 0) {
            (void)service_config_invalid(cfg, id, "", "cannot be read (too large or no access)");
            continue;
        }
        if (found == 0)
            continue;
        bg_error rc = config_value_apply(cfg, id, &v);
        free(v.data);
        if (rc == BG_ERR_NOMEM)
            return rc;
    }
    return BG_ERR_OK;
}

/* Whether a drive-letter path (also \\?\X:\...) is on a mapped network drive. */
static int win_config_path_remote(const char *path)
{
    if ((path[0] == '\\' || path[0] == '/') && (path[1] == '\\' || path[1] == '/') && path[2] == '?')
        path += 4;
    if (!path[0] || path[1] != ':')
        return 0;
    wchar_t root[4] = {(wchar_t)(unsigned char)path[0], L':', L'\\', L'\0'};
    return GetDriveTypeW(root) == DRIVE_REMOTE;
}

/* A DatabasePath on a mapped network drive is a share as much as \\server\share (refused by the portable
 * check), but only Windows knows which drives are remote: refused here, and the path before it kept (the
 * one given on the command line, else the default). */
static bg_error win_config_db_path_local(service_config *cfg, const char *before)
{
    if (!cfg->db_path || !win_config_path_remote(cfg->db_path))
        return BG_ERR_OK;
    bg_error refused = service_config_invalid(cfg, CONFIG_VALUE_DATABASE_PATH, cfg->db_path,
                                              "a network drive " CONFIG_DB_PATH_NOT_LOCAL);
    (void)refused; /* Reported; the path before it stays. */
    if (before)
        return service_config_db_path_set(cfg, before);
    char *def = win_config_default_db_path();
    if (!def)
        return BG_ERR_PLATFORM;
    bg_error rc = service_config_db_path_set(cfg, def);
    free(def);
    return rc;
}

bg_error win_config_load(service_config *cfg)
{
    HKEY settings = NULL, policy = NULL;
    char *before = NULL;
    if (cfg->db_path) {
        size_t n = strlen(cfg->db_path) + 1;
        before = malloc(n);
        if (!before)
            return BG_ERR_NOMEM;
        memcpy(before, cfg->db_path, n);
    }
    const REGSAM access = win_open_access(WIN_OPEN_REG_CONFIG) | KEY_WOW64_64KEY; /* Values are only read. */
    /* Absent keys are normal (defaults apply): only the open handles matter. */
    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"" CONFIG_KEY_SETTINGS, 0, access, &settings) != ERROR_SUCCESS)
        settings = NULL;
    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"" CONFIG_KEY_POLICY, 0, access, &policy) != ERROR_SUCCESS)
        policy = NULL;
    bg_error result = win_config_load_keys(cfg, settings, policy);
    if (result == BG_ERR_OK)
        result = win_config_db_path_local(cfg, before);
    free(before);
    if (settings)
        RegCloseKey(settings);
    if (policy)
        RegCloseKey(policy);
    return result;
}

char *win_config_db_path(char *why, size_t why_len)
{
    service_config cfg;
    char *path = NULL;
    bg_error rc = service_config_init(&cfg, NULL, NULL);
    if (rc == BG_ERR_OK)
        rc = win_config_load(&cfg);
    if (rc == BG_ERR_OK) {
        path = cfg.db_path;
        cfg.db_path = NULL; /* Taken over: service_config_clear must not free it. */
    } else {
        snprintf(why, why_len, "%s", bg_error_str(rc));
    }
    service_config_clear(&cfg);
    return path;
}
