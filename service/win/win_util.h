/* Small Windows helpers shared by the service files: error text, paths (UTF-8/UTF-16: common/bg_utf.h). */
#ifndef BG_WIN_UTIL_H
#define BG_WIN_UTIL_H

#include <stddef.h>
#include <windows.h>

#include "bg_utf.h"

/* "text (code)" for a Win32 error code, into buf; returns buf. */
const char *win_error_text(DWORD code, char *buf, size_t len);
/* Full path of the running executable; 0 on failure. */
int win_module_path(wchar_t *buf, size_t len);
/* %ProgramData%\bitsguard (no trailing separator); 0 on failure. */
int win_data_folder(wchar_t *buf, size_t len);

#endif
