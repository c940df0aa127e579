/* Windows inputs of `bitsguard scan`: UTF-8 file names, .evtx files and live channels (no <windows.h> here). */
#ifndef BG_WIN_SCAN_H
#define BG_WIN_SCAN_H

#include <stdio.h>

#include "engine.h"

/* fopen for a UTF-8 path (the Windows C runtime's fopen takes the ANSI code page). */
FILE *win_scan_file_open(const char *utf8_path, const char *mode);

/* An EvtQuery source over an .evtx file (is_file = 1) or a live channel (is_file = 0); NULL on failure. */
event_source *win_scan_source_new(const char *utf8_name, int is_file);

#endif
