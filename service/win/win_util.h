/* Small Windows helpers shared by the service files: UTF-8/UTF-16 conversion, error text, paths. */
#ifndef BG_WIN_UTIL_H
#define BG_WIN_UTIL_H

#include <stddef.h>
#include <windows.h>

/* Heap conversions (free with free); NULL on failure or for NULL input. Invalid sequences become U+FFFD. */
wchar_t *win_utf16_from_utf8(const char *s);
char *win_utf8_from_utf16(const wchar_t *s);
/* "text (code)" for a Win32 error code, into buf; returns buf. */
const char *win_error_text(DWORD code, char *buf, size_t len);
/* Full path of the running executable; 0 on failure. */
int win_module_path(wchar_t *buf, size_t len);
/* %ProgramData%\bitsguard (no trailing separator); 0 on failure. */
int win_data_folder(wchar_t *buf, size_t len);

#endif
