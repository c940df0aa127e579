/* Reads the service configuration from the registry (settings key, overridden value by value by the policy key). */
#ifndef BG_WIN_CONFIG_H
#define BG_WIN_CONFIG_H

#include <windows.h>

#include "config.h"

/*
 * Fills cfg (already initialised with service_config_init and its report callback) from
 * HKLM\SOFTWARE\bitsguard and HKLM\SOFTWARE\Policies\bitsguard. Missing keys and values keep the
 * defaults; invalid ones are reported and ignored. The database path defaults to
 * %ProgramData%\bitsguard\bitsguard.db. Returns BG_ERR_OK (also when values were ignored: see
 * cfg->invalid), BG_ERR_NOMEM, or BG_ERR_PLATFORM when no database path can be determined.
 */
bg_error win_config_load(service_config *cfg) BG_WARN_UNUSED;
/* The same from the two keys given (either may be NULL: absent), for the tests' keys of their own. */
bg_error win_config_load_keys(service_config *cfg, HKEY settings, HKEY policy) BG_WARN_UNUSED;

/* The database path the service uses, as the service computes it (win_config_load: DatabasePath, the
 * policy key's over the settings key's, else the default), for query and status without --db: UTF-8 heap
 * text, or NULL with the reason in why. */
char *win_config_db_path(char *why, size_t why_len);

/* The default database path (%ProgramData%\bitsguard\bitsguard.db) as UTF-8 heap text; NULL on failure. */
char *win_config_default_db_path(void);

#endif
