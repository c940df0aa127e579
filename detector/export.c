/* Streaming reader that slices <Event> elements out of an export of any shape with a fixed-size buffer. */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "bg_os.h"
#include "bg_utf.h"
#include "event.h"

/*
 * The reader does not parse XML: it only finds where each element named Event (any prefix) starts
 * and where its matching end tag is, skipping comments, CDATA sections, processing instructions
 * (including XML declarations), DOCTYPEs and quoted attribute values, in which '<' and '>' mean
 * nothing. Everything outside events (banner lines, an <Events> root, whitespace) is ignored. The
 * scanner is a byte-level state machine that can stop at any byte and resume after a refill, so an
 * oversized event can be skipped without holding it.
 *
 * Speed: in well-formed XML a '<' outside comments, CDATA and processing instructions always starts
 * markup (it cannot appear in text or attribute values), so the scanner jumps from '<' to '<' with
 * memchr and reads only the tag name; only an Event start tag is followed to its '>' (quote-aware,
 * to see whether it is self-closing). Malformed input costs nothing extra: the parser reports it.
 * Lines are counted lazily, only up to each event's start.
 *
 * Events never nest, so a new <Event start tag inside an open event means the open one was cut
 * short (a truncated write followed by more events): it is reported malformed and scanning goes on
 * with the new one instead of swallowing the rest of the file.
 */

enum scan_state {
    S_TEXT,       /* Character data between tags. */
    S_LT,         /* After '<'. */
    S_NAME,       /* Start tag name. */
    S_ATTRS,      /* Inside a start tag after its name. */
    S_QUOTE,      /* Inside a quoted attribute value. */
    S_ENDNAME,    /* End tag name. */
    S_ENDTAIL,    /* After an end tag's name, before '>'. */
    S_BANG,       /* After "<!". */
    S_BANG_DASH,  /* After "<!-". */
    S_COMMENT,    /* Inside "<!-- ... -->". */
    S_CDATA_OPEN, /* Matching "<![CDATA[". */
    S_CDATA,      /* Inside a CDATA section. */
    S_PI,         /* Inside "<? ... ?>". */
    S_DECL,       /* Inside "<!DOCTYPE ...>" or another declaration, tracking [ ] of an internal subset. */
    S_DECL_QUOTE  /* Quoted literal inside a declaration. */
};

#define NAME_MAX_LEN 64
/* EVENT_MAX_BYTES as text for the skip message. */
#define EXPORT_MAX_TEXT "1048576"
_Static_assert(EVENT_MAX_BYTES == 1048576u, "EXPORT_MAX_TEXT must spell EVENT_MAX_BYTES");
#define BUF_CAP (EVENT_MAX_BYTES + EXPORT_READ_CHUNK + 16u)

enum scan_result { SCAN_MORE = 0, SCAN_EVENT, SCAN_CUT };

enum text_encoding { ENC_UTF8 = 0, ENC_UTF16LE, ENC_UTF16BE };

struct export_reader {
    FILE *fp;
    char *name;
    char *buf;       /* BUF_CAP bytes. */
    size_t len;      /* Bytes held. */
    size_t pos;      /* Scan position. */
    uint64_t base;   /* Stream offset of buf[0]. */
    size_t line_pos; /* Newlines before this index are counted in line. */
    uint64_t line;   /* Line number at line_pos. */
    size_t peak;
    int eof;
    int io_error;
    int started; /* Encoding detection done. */
    enum text_encoding enc;
    unsigned char raw[EXPORT_READ_CHUNK]; /* UTF-16 input before conversion. */
    size_t raw_len;
    unsigned pending_high; /* A high surrogate waiting for its low half, 0 when none. */

    enum scan_state state;
    char quote;
    int counter; /* Dashes, brackets, '?' or matched characters, depending on the state. */
    char tag_name[NAME_MAX_LEN];
    size_t tag_name_len;
    int tag_name_overflow;
    int tag_is_event;
    int last_slash; /* The last non-space character of the start tag was '/'. */
    size_t tag_start;
    uint64_t tag_line;

    int in_event;
    int skipping; /* The open event is over the size limit: it is scanned but not kept. */
    int depth;
    size_t ev_start;
    uint64_t ev_line, ev_offset;

    uint64_t last_line, last_offset;
    const char *why; /* Reason for the last skipped event, "" otherwise. */
};

export_reader *export_reader_open(FILE *fp, const char *name)
{
    if (fp == NULL)
        return NULL;
    export_reader *rd = calloc(1, sizeof *rd);
    if (rd == NULL)
        return NULL;
    const char *n = name != NULL ? name : "-";
    size_t nl = strlen(n);
    rd->name = malloc(nl + 1);
    rd->buf = malloc(BUF_CAP);
    if (rd->name == NULL || rd->buf == NULL) {
        export_reader_close(rd);
        return NULL;
    }
    memcpy(rd->name, n, nl + 1);
    rd->fp = fp;
    /* The C runtime's text mode would turn CRLF into LF (shifting offsets) and stop at a 0x1A byte,
     * which UTF-16 text contains often (U+041A is 1A 04): the reader needs the bytes as they are. */
    bg_os_stream_binary(fp);
    rd->line = 1;
    rd->state = S_TEXT;
    rd->why = "";
    return rd;
}

void export_reader_close(export_reader *rd)
{
    if (rd == NULL)
        return;
    free(rd->name);
    free(rd->buf);
    free(rd);
}

uint64_t export_reader_line(const export_reader *rd)
{
    return rd != NULL ? rd->last_line : 0;
}

uint64_t export_reader_offset(const export_reader *rd)
{
    return rd != NULL ? rd->last_offset : 0;
}

const char *export_reader_name(const export_reader *rd)
{
    return rd != NULL ? rd->name : "";
}

const char *export_reader_error(const export_reader *rd)
{
    return rd != NULL ? rd->why : "";
}

size_t export_reader_peak_buffer(const export_reader *rd)
{
    return rd != NULL ? rd->peak : 0;
}

/* Converts the whole code units in raw to UTF-8 at out (room for at least 3/2 of raw_len + 4 bytes);
 * keeps an odd trailing byte in raw. Unpaired surrogates become U+FFFD, which the parser accepts. */
static size_t utf16_convert(export_reader *rd, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 1 < rd->raw_len; i += 2) {
        unsigned u = rd->enc == ENC_UTF16LE ? (unsigned)(rd->raw[i] | (rd->raw[i + 1] << 8))
                                            : (unsigned)((rd->raw[i] << 8) | rd->raw[i + 1]);
        if (rd->pending_high != 0) {
            unsigned hi = rd->pending_high;
            rd->pending_high = 0;
            if (u >= 0xDC00 && u <= 0xDFFF) {
                o += bg_utf8_put(out + o, 0x10000 + ((hi - 0xD800) << 10) + (u - 0xDC00));
                continue;
            }
            o += bg_utf8_put(out + o, 0xFFFD);
        }
        if (u >= 0xD800 && u <= 0xDBFF)
            rd->pending_high = u;
        else if (u >= 0xDC00 && u <= 0xDFFF)
            o += bg_utf8_put(out + o, 0xFFFD);
        else
            o += bg_utf8_put(out + o, u);
    }
    if (i < rd->raw_len) {
        rd->raw[0] = rd->raw[i];
        rd->raw_len = 1;
    } else {
        rd->raw_len = 0;
    }
    return o;
}

/* Counts '\n' in p[0..n), eight bytes at a time: lines are counted over the whole input, so this
 * is one of the reader's hot loops. */
static uint64_t count_newlines(const char *p, size_t n)
{
    /* memchr runs at vector speed and exports have few newlines per event (one in wevtutil output,
     * some twenty when pretty-printed), so hopping between them beats counting every byte. */
    uint64_t c = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

/* The encoding an input's first two bytes show: a UTF-16 byte order mark (skipped: *skip = 2), or '<'
 * beside a NUL; UTF-8 otherwise (a UTF-8 byte order mark is left to the scanner, which passes it by). */
static enum text_encoding encoding_detect(const char *b, size_t len, size_t *skip)
{
    *skip = 0;
    if (len < 2)
        return ENC_UTF8;
    unsigned char b0 = (unsigned char)b[0], b1 = (unsigned char)b[1];
    if ((b0 == 0xFF && b1 == 0xFE) || (b0 == 0xFE && b1 == 0xFF))
        *skip = 2;
    if ((b0 == 0xFF && b1 == 0xFE) || (b0 == '<' && b1 == 0))
        return ENC_UTF16LE;
    if ((b0 == 0xFE && b1 == 0xFF) || (b0 == 0 && b1 == '<'))
        return ENC_UTF16BE;
    return ENC_UTF8;
}

int export_encoding_is_utf16(const char *bytes, size_t len)
{
    size_t skip;
    return bytes != NULL && encoding_detect(bytes, len, &skip) != ENC_UTF8;
}

/* Drops bytes no longer needed, then reads more. Sets eof / io_error. */
static void reader_refill(export_reader *rd)
{
    /* An open event that already fills the limit is skipped from here on: its bytes are let go. */
    if (rd->in_event && !rd->skipping && rd->len - rd->ev_start > EVENT_MAX_BYTES)
        rd->skipping = 1;

    size_t keep = rd->pos;
    if (rd->in_event && !rd->skipping)
        keep = rd->ev_start;
    if ((rd->state == S_LT || (rd->state == S_NAME && !rd->tag_name_overflow)) && rd->tag_start < keep)
        keep = rd->tag_start; /* May still become an event start. */
    if (keep > rd->line_pos) {
        rd->line += count_newlines(rd->buf + rd->line_pos, keep - rd->line_pos);
        rd->line_pos = keep;
    }
    if (keep > 0) {
        rd->line_pos -= keep;
        memmove(rd->buf, rd->buf + keep, rd->len - keep);
        rd->len -= keep;
        rd->pos -= keep;
        rd->base += keep;
        rd->tag_start = rd->tag_start >= keep ? rd->tag_start - keep : 0;
        rd->ev_start = rd->ev_start >= keep ? rd->ev_start - keep : 0;
    }

    size_t room = BUF_CAP - rd->len;
    if (room > EXPORT_READ_CHUNK)
        room = EXPORT_READ_CHUNK;
    size_t got;
    if (rd->enc == ENC_UTF8) {
        got = fread(rd->buf + rd->len, 1, room, rd->fp);
        /* Encoding detection wants the first two bytes together (a pipe may deliver one). */
        while (!rd->started && got == 1 && rd->len == 0) {
            size_t more = fread(rd->buf + 1, 1, room - 1, rd->fp);
            if (more == 0)
                break;
            got += more;
        }
    } else {
        /* Each 2-byte unit gives at most 3 UTF-8 bytes (a 4-byte pair gives 4): read 2/3 of the room. */
        size_t want = (room - 8) / 3 * 2;
        if (want > sizeof rd->raw - rd->raw_len)
            want = sizeof rd->raw - rd->raw_len;
        size_t r = fread(rd->raw + rd->raw_len, 1, want, rd->fp);
        rd->raw_len += r;
        got = utf16_convert(rd, rd->buf + rd->len);
        if (r == 0 && got == 0 && rd->pending_high != 0) {
            got = bg_utf8_put(rd->buf + rd->len, 0xFFFD);
            rd->pending_high = 0;
        }
        if (r > 0 && got == 0) {
            /* Only half a code unit or a high surrogate arrived; not the end yet. */
            return;
        }
    }
    if (got == 0) {
        if (ferror(rd->fp))
            rd->io_error = 1;
        rd->eof = 1;
        return;
    }
    rd->len += got;
    if (rd->len > rd->peak)
        rd->peak = rd->len;

    if (!rd->started && rd->len >= 2) {
        rd->started = 1;
        size_t skip = 0;
        enum text_encoding enc = encoding_detect(rd->buf, rd->len, &skip);
        if (enc != ENC_UTF8) {
            /* Re-run what was read through the converter. Only happens on the first read. */
            rd->enc = enc;
            rd->raw_len = rd->len - skip;
            memcpy(rd->raw, rd->buf + skip, rd->raw_len);
            rd->len = utf16_convert(rd, rd->buf);
            if (rd->len > rd->peak)
                rd->peak = rd->len;
        }
    }
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Characters that end a tag name (loosely: anything else counts as a name character). */
static const unsigned char name_end_table[256] = {
    [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1, ['>'] = 1, ['/'] = 1, ['<'] = 1, ['='] = 1, ['"'] = 1, ['\''] = 1,
};

static inline int ends_name(unsigned char c)
{
    return name_end_table[c];
}

/* True when a tag name's local part is exactly "Event" (any prefix). */
static inline int name_is_event(const char *n, size_t len)
{
    if (len < 5)
        return 0;
    const char *t = n + len - 5;
    if (t[0] != 'E' || t[1] != 'v' || t[2] != 'e' || t[3] != 'n' || t[4] != 't')
        return 0;
    return len == 5 || t[-1] == ':';
}

/* The same test on the name collected by the slow path. */
static int tag_is_event_name(const export_reader *rd)
{
    return !rd->tag_name_overflow && name_is_event(rd->tag_name, rd->tag_name_len);
}

static void name_push(export_reader *rd, char c)
{
    if (rd->tag_name_len < NAME_MAX_LEN)
        rd->tag_name[rd->tag_name_len++] = c;
    else
        rd->tag_name_overflow = 1;
}

static void event_begin(export_reader *rd)
{
    if (rd->tag_start > rd->line_pos) {
        rd->line += count_newlines(rd->buf + rd->line_pos, rd->tag_start - rd->line_pos);
        rd->line_pos = rd->tag_start;
    }
    rd->tag_line = rd->line;
    rd->in_event = 1;
    rd->skipping = 0;
    rd->depth = 0;
    rd->ev_start = rd->tag_start;
    rd->ev_line = rd->tag_line;
    rd->ev_offset = rd->base + rd->tag_start;
}

/* Scans buffered bytes from pos; stops at the end of an event (SCAN_EVENT, pos just after it), at a
 * new event start inside an open one (SCAN_CUT), or when the buffer is used up (SCAN_MORE). */
static enum scan_result reader_scan(export_reader *rd)
{
    const char *b = rd->buf;
    size_t pos = rd->pos, end = rd->len;
    enum scan_result res = SCAN_MORE;

    while (pos < end && res == SCAN_MORE) {
        if (rd->state == S_TEXT) {
            const char *lt = memchr(b + pos, '<', end - pos);
            if (lt == NULL) {
                pos = end;
                break;
            }
            pos = (size_t)(lt - b);
            /* Fast path for the common case, a tag that is not an Event start or end tag whose name
             * is wholly buffered: skip its name and go on looking for the next '<'. */
            if (end - pos > NAME_MAX_LEN + 2) {
                size_t name = pos + 1 + (b[pos + 1] == '/');
                unsigned char first = (unsigned char)b[name];
                if (first != '!' && first != '?' && !ends_name(first)) {
                    size_t j = name + 1;
                    while (j < end && !ends_name((unsigned char)b[j]))
                        j++;
                    int closing = name != pos + 1;
                    if (!name_is_event(b + name, j - name) || (closing && !rd->in_event)) {
                        pos = j;
                        continue;
                    }
                }
            }
            rd->tag_start = pos;
            rd->state = S_LT;
            pos++;
            continue;
        }
        if (rd->state == S_QUOTE) {
            const char *q = memchr(b + pos, rd->quote, end - pos);
            if (q == NULL) {
                pos = end;
                break;
            }
            pos = (size_t)(q - b) + 1;
            rd->state = S_ATTRS;
            continue;
        }
        if (rd->state == S_NAME || rd->state == S_ENDNAME) {
            /* Tight loop over the name; names are short. */
            while (pos < end && !ends_name((unsigned char)b[pos]))
                name_push(rd, b[pos++]);
            if (pos == end)
                break;
        }
        unsigned char c = (unsigned char)b[pos];
        int consume = 1;
        switch (rd->state) {
        case S_LT:
            if (c == '!') {
                rd->state = S_BANG;
            } else if (c == '?') {
                rd->state = S_PI;
                rd->counter = 0;
            } else if (c == '/') {
                rd->state = S_ENDNAME;
                rd->tag_name_len = 0;
                rd->tag_name_overflow = 0;
            } else if (!ends_name(c)) {
                rd->state = S_NAME;
                rd->tag_name_len = 0;
                rd->tag_name_overflow = 0;
                name_push(rd, (char)c);
            } else {
                rd->state = S_TEXT; /* A stray '<': not markup. */
                consume = 0;
            }
            break;
        case S_NAME:
            if (!ends_name(c)) {
                name_push(rd, (char)c);
                break;
            }
            consume = 0;
            rd->tag_is_event = tag_is_event_name(rd);
            if (!rd->tag_is_event) {
                rd->state = S_TEXT; /* Other start tags need no more reading (see top). */
                break;
            }
            rd->state = S_ATTRS;
            rd->last_slash = 0;
            if (rd->in_event) {
                res = SCAN_CUT; /* Caller reports the open event, then begins this one. */
                break;
            }
            event_begin(rd);
            break;
        case S_ATTRS:
            if (c == '"' || c == '\'') {
                rd->quote = (char)c;
                rd->state = S_QUOTE;
                rd->last_slash = 0;
            } else if (c == '/') {
                rd->last_slash = 1;
            } else if (c == '>') {
                rd->state = S_TEXT;
                if (rd->tag_is_event && rd->in_event) {
                    if (!rd->last_slash)
                        rd->depth++;
                    else if (rd->depth == 0)
                        res = SCAN_EVENT; /* <Event/>: empty, the parser will say so. */
                }
            } else if (c == '<') {
                rd->state = S_TEXT; /* An unterminated tag: resume at this new markup. */
                consume = 0;
            } else if (!is_space(c)) {
                rd->last_slash = 0;
            }
            break;
        case S_ENDNAME:
        case S_ENDTAIL:
            if (rd->state == S_ENDNAME && !(rd->in_event && tag_is_event_name(rd))) {
                rd->state = S_TEXT; /* Only </Event> matters. */
                consume = 0;
            } else if (c == '>') {
                rd->state = S_TEXT;
                if (--rd->depth <= 0)
                    res = SCAN_EVENT;
            } else if (c == '<') {
                rd->state = S_TEXT;
                consume = 0;
            } else {
                rd->state = S_ENDTAIL;
            }
            break;
        case S_BANG:
            if (c == '-') {
                rd->state = S_BANG_DASH;
            } else if (c == '[') {
                rd->state = S_CDATA_OPEN;
                rd->counter = 0;
            } else {
                rd->state = S_DECL;
                rd->counter = 0;
                consume = 0;
            }
            break;
        case S_BANG_DASH:
            rd->counter = 0;
            if (c == '-') {
                rd->state = S_COMMENT;
            } else {
                rd->state = S_DECL;
                consume = 0;
            }
            break;
        case S_COMMENT:
            if (c == '-')
                rd->counter++;
            else if (c == '>' && rd->counter >= 2)
                rd->state = S_TEXT;
            else
                rd->counter = 0;
            break;
        case S_CDATA_OPEN:
            if (c == (unsigned char)"CDATA["[rd->counter]) {
                if (++rd->counter == 6) {
                    rd->state = S_CDATA;
                    rd->counter = 0;
                }
            } else {
                rd->state = S_DECL;
                rd->counter = 0;
                consume = 0;
            }
            break;
        case S_CDATA:
            if (c == ']')
                rd->counter++;
            else if (c == '>' && rd->counter >= 2)
                rd->state = S_TEXT;
            else
                rd->counter = 0;
            break;
        case S_PI:
            if (c == '>' && rd->counter)
                rd->state = S_TEXT;
            else
                rd->counter = c == '?';
            break;
        case S_DECL:
            if (c == '"' || c == '\'') {
                rd->quote = (char)c;
                rd->state = S_DECL_QUOTE;
            } else if (c == '[') {
                rd->counter++;
            } else if (c == ']') {
                rd->counter--;
            } else if (c == '>' && rd->counter <= 0) {
                rd->state = S_TEXT;
            }
            break;
        case S_DECL_QUOTE:
            if (c == (unsigned char)rd->quote)
                rd->state = S_DECL;
            break;
        case S_TEXT:
        case S_QUOTE:
            break;
        }
        if (consume && res != SCAN_CUT)
            pos++;
    }
    rd->pos = pos;
    return res;
}

bg_error export_reader_next(export_reader *rd, const char **xml, size_t *len)
{
    if (rd == NULL || xml == NULL || len == NULL)
        return BG_ERR_INVALID_ARG;
    *xml = NULL;
    *len = 0;
    rd->why = "";
    for (;;) {
        if (rd->pos >= rd->len) {
            if (rd->eof) {
                if (rd->in_event) {
                    /* The input ended inside an event: truncated. */
                    rd->in_event = 0;
                    rd->last_line = rd->ev_line;
                    rd->last_offset = rd->ev_offset;
                    rd->why = "event truncated by the end of the input";
                    return BG_ERR_XML_MALFORMED;
                }
                if (rd->io_error) {
                    rd->io_error = 0; /* Reported once; later calls see the end. */
                    rd->why = "read error";
                    return BG_ERR_IO;
                }
                return BG_ERR_EOF;
            }
            reader_refill(rd);
            continue;
        }
        enum scan_result res = reader_scan(rd);
        if (res == SCAN_MORE)
            continue;
        rd->last_line = rd->ev_line;
        rd->last_offset = rd->ev_offset;
        if (res == SCAN_CUT) {
            /* The open event never closed before this new <Event: report it, keep the new one. */
            event_begin(rd);
            rd->why = "event not closed before the next <Event> starts";
            return BG_ERR_XML_MALFORMED;
        }
        rd->in_event = 0;
        size_t size = rd->pos - rd->ev_start;
        if (rd->skipping || size > EVENT_MAX_BYTES) {
            rd->skipping = 0;
            rd->why = "event larger than " EXPORT_MAX_TEXT " bytes skipped";
            return BG_ERR_TOO_LARGE;
        }
        *xml = rd->buf + rd->ev_start;
        *len = size;
        return BG_ERR_OK;
    }
}
