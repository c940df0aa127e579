/* Windows inputs of `bitsguard scan`: UTF-8 file names through _wfopen, and EvtQuery sources by UTF-8 name. */
#include "win_scan.h"

#include <stdlib.h>

#include "win_evt_source.h"
#include "win_util.h"

FILE *win_scan_file_open(const char *utf8_path, const char *mode)
{
    FILE *fp = NULL;
    wchar_t *wpath = win_utf16_from_utf8(utf8_path);
    wchar_t *wmode = win_utf16_from_utf8(mode);
    if (wpath && wmode)
        fp = _wfopen(wpath, wmode);
    free(wpath);
    free(wmode);
    return fp;
}

event_source *win_scan_source_new(const char *utf8_name, int is_file)
{
    wchar_t *wname = win_utf16_from_utf8(utf8_name);
    event_source *src = wname ? win_evt_query_new(wname, is_file) : NULL;
    free(wname);
    return src;
}
