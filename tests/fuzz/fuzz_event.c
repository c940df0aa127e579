/* libFuzzer target: arbitrary bytes through the hardened event parser and the GUID/time normalizers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One event reused across inputs, as the scanner does: any state left behind by a bad input
     * would show up on the next one. */
    static event ev;
    static int ready;
    if (!ready) {
        event_init(&ev);
        ready = 1;
    }
    char err[256];
    bg_error rc = event_xml_parse(&ev, (const char *)data, size, err, sizeof err);
    if (rc == BG_ERR_OK) {
        /* Touch every string the parser handed out (ASan checks they are valid and terminated). */
        size_t total = strlen(ev.provider) + strlen(ev.computer) + strlen(ev.channel) + strlen(ev.user_sid);
        for (size_t i = 0; i < ev.field_count; i++) {
            total += strlen(ev.fields[i].name) + strlen(ev.fields[i].value);
            if (event_field_get(&ev, ev.fields[i].name) == NULL)
                abort();
        }
        (void)total;
        (void)event_is_bits(&ev);
    } else if (err[0] == '\0' || ev.field_count != 0) {
        abort(); /* Errors always explain themselves and leave the event empty. */
    }

    /* The normalizers take NUL-terminated text. */
    char *text = malloc(size + 1);
    if (text != NULL) {
        memcpy(text, data, size);
        text[size] = '\0';
        char guid[37], when[32];
        if (event_guid_normalize(text, guid) == 0 && strlen(guid) != 36)
            abort();
        if (event_time_normalize(text, when) == 0 && strlen(when) != 28)
            abort();
        free(text);
    }
    return 0;
}
