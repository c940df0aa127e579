/* Messages and names for the bitsguard error enum. */
#include "bg_error.h"

const char *bg_error_str(bg_error err)
{
    switch (err) {
#define BG_ERROR_STR(name, value, text) \
    case BG_ERR_##name:                 \
        return text;
        BG_ERROR_MAP(BG_ERROR_STR)
#undef BG_ERROR_STR
    }
    return "unknown error";
}

const char *bg_error_name(bg_error err)
{
    switch (err) {
#define BG_ERROR_NAME(name, value, text) \
    case BG_ERR_##name:                  \
        return #name;
        BG_ERROR_MAP(BG_ERROR_NAME)
#undef BG_ERROR_NAME
    }
    return "UNKNOWN";
}
