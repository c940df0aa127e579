/* The allowlist: CIDRs, exact host names and "*.suffix" patterns matched against classified remote names. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "classify.h"
#include "ipaddr.h"

/* More entries than any sane configuration; bounds memory when a list comes from an untrusted file. */
#define ALLOWLIST_MAX_ENTRIES 100000
/* A DNS name is at most 253 characters without its trailing dot. */
#define ALLOWLIST_NAME_MAX 253

typedef enum entry_type {
    ENTRY_V4,
    ENTRY_V6,
    ENTRY_HOST,   /* Exact host name. */
    ENTRY_SUFFIX, /* "*.example.com", stored as ".example.com". */
} entry_type;

typedef struct allow_entry {
    entry_type type;
    unsigned plen;
    uint8_t addr[16];
    char *name;
    size_t name_len;
} allow_entry;

struct allowlist {
    allow_entry *entries;
    size_t count, cap;
};

allowlist *allowlist_new(void)
{
    return calloc(1, sizeof(allowlist));
}

void allowlist_free(allowlist *al)
{
    if (!al)
        return;
    for (size_t k = 0; k < al->count; k++)
        free(al->entries[k].name);
    free(al->entries);
    free(al);
}

static void error_set(char *errbuf, size_t errlen, const char *msg, const char *text)
{
    if (errbuf && errlen > 0)
        snprintf(errbuf, errlen, "%s: '%.80s'", msg, text);
}

static bg_error entry_append(allowlist *al, const allow_entry *entry)
{
    if (al->count == al->cap) {
        if (al->cap >= ALLOWLIST_MAX_ENTRIES)
            return BG_ERR_TOO_LARGE;
        size_t cap = al->cap ? al->cap * 2 : 16;
        allow_entry *grown = realloc(al->entries, cap * sizeof *grown);
        if (!grown)
            return BG_ERR_NOMEM;
        al->entries = grown;
        al->cap = cap;
    }
    al->entries[al->count++] = *entry;
    return BG_ERR_OK;
}

/* True when the bits of addr after plen are all zero. */
static int host_bits_zero(const uint8_t *addr, unsigned bytes, unsigned plen)
{
    for (unsigned bit = plen; bit < bytes * 8; bit++) {
        if (addr[bit / 8] & (0x80 >> (bit % 8)))
            return 0;
    }
    return 1;
}

/* Parses "addr" or "addr/len" into entry; returns a message on error, NULL on success. */
static const char *cidr_parse(const char *text, size_t len, allow_entry *entry)
{
    const char *slash = memchr(text, '/', len);
    size_t alen = slash ? (size_t)(slash - text) : len;
    const char *a = text;
    long plen = -1;
    if (slash) {
        const char *q = slash + 1, *qe = text + len;
        if (q == qe || qe - q > 3)
            return "invalid prefix length";
        plen = 0;
        for (; q < qe; q++) {
            if (*q < '0' || *q > '9')
                return "invalid prefix length";
            plen = plen * 10 + (*q - '0');
        }
    }
    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
        a++;
        alen -= 2;
    }
    memset(entry->addr, 0, sizeof entry->addr);
    if (memchr(a, ':', alen)) {
        if (!ipaddr_v6_parse(a, alen, entry->addr))
            return "not a valid IPv6 address";
        if (plen > 128)
            return "IPv6 prefix length above 128";
        entry->type = ENTRY_V6;
        entry->plen = plen < 0 ? 128 : (unsigned)plen;
        if (!host_bits_zero(entry->addr, 16, entry->plen))
            return "host bits are set after the prefix length";
        /* ::ffff:a.b.c.d/96+ is an IPv4 range; classified names report mapped addresses as IPv4. */
        uint8_t v4[4];
        if (entry->plen >= 96 && ipaddr_v6_embedded_v4(entry->addr, v4) == IPADDR_EMBED_MAPPED) {
            entry->type = ENTRY_V4;
            entry->plen -= 96;
            memset(entry->addr, 0, sizeof entry->addr);
            memcpy(entry->addr, v4, 4);
        }
        return NULL;
    }
    if (!ipaddr_v4_parse_dotted(a, alen, entry->addr))
        return "not a valid IPv4 address (dotted quad expected)";
    if (plen > 32)
        return "IPv4 prefix length above 32";
    entry->type = ENTRY_V4;
    entry->plen = plen < 0 ? 32 : (unsigned)plen;
    if (!host_bits_zero(entry->addr, 4, entry->plen))
        return "host bits are set after the prefix length";
    return NULL;
}

/* True when the last label of name (without a trailing dot) is all digits: such text is an address. */
static int last_label_numeric(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '.')
        len--;
    size_t k = len;
    while (k > 0 && s[k - 1] != '.')
        k--;
    if (k == len)
        return 0;
    for (size_t i = k; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

/* Validates a host name or "*.suffix" and stores it lower-cased without a trailing dot. */
static const char *name_parse(const char *text, size_t len, allow_entry *entry)
{
    entry->type = ENTRY_HOST;
    if (len >= 2 && text[0] == '*' && text[1] == '.') {
        entry->type = ENTRY_SUFFIX;
        text++; /* Keep the dot: ".example.com" matches only whole labels. */
        len--;
    }
    if (len > 0 && text[len - 1] == '.')
        len--;
    size_t start = entry->type == ENTRY_SUFFIX ? 1 : 0;
    if (len <= start)
        return "empty host name";
    if (len - start > ALLOWLIST_NAME_MAX)
        return "host name longer than 253 characters";
    size_t label = 0;
    for (size_t k = start; k < len; k++) {
        char c = text[k];
        if (c == '.') {
            if (label == 0)
                return "empty label in host name";
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return "host name may only hold letters, digits, '-', '_' and dots (and a leading \"*.\")";
        label++;
    }
    if (label == 0)
        return "empty label in host name";
    entry->name = malloc(len + 1);
    if (!entry->name)
        return "out of memory";
    for (size_t k = 0; k < len; k++) {
        char c = text[k];
        entry->name[k] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    entry->name[len] = '\0';
    entry->name_len = len;
    return NULL;
}

bg_error allowlist_entry_add(allowlist *al, const char *text, char *errbuf, size_t errlen)
{
    allow_entry entry;
    const char *msg = NULL;
    bg_error err = BG_ERR_INVALID_ARG;
    memset(&entry, 0, sizeof entry);
    if (errbuf && errlen > 0)
        errbuf[0] = '\0';
    if (!al || !text) {
        error_set(errbuf, errlen, "no allowlist or entry", "");
        goto cleanup;
    }
    const char *s = text;
    size_t len = strlen(text);
    while (len > 0 && (unsigned char)*s <= 0x20) {
        s++;
        len--;
    }
    while (len > 0 && (unsigned char)s[len - 1] <= 0x20)
        len--;
    if (len == 0) {
        error_set(errbuf, errlen, "empty allowlist entry", text);
        goto cleanup;
    }
    if (memchr(s, '/', len) || memchr(s, ':', len) || last_label_numeric(s, len))
        msg = cidr_parse(s, len, &entry);
    else
        msg = name_parse(s, len, &entry);
    if (msg) {
        error_set(errbuf, errlen, msg, text);
        err = strcmp(msg, "out of memory") == 0 ? BG_ERR_NOMEM : BG_ERR_INVALID_ARG;
        goto cleanup;
    }
    err = entry_append(al, &entry);
    if (err != BG_ERR_OK) {
        error_set(errbuf, errlen, bg_error_str(err), text);
        goto cleanup;
    }
    entry.name = NULL; /* Owned by the list now. */
cleanup:
    free(entry.name);
    return err;
}

/* True when the result's host name matches a host or suffix entry. */
static int name_match(const allowlist *al, const classify_result *res)
{
    if (res->host_truncated)
        return 0; /* A cut host could end in an allowed suffix it does not really have. */
    const char *nul = memchr(res->host, '\0', sizeof res->host);
    size_t hlen = nul ? (size_t)(nul - res->host) : 0;
    if (hlen > 0 && res->host[hlen - 1] == '.')
        hlen--;
    if (hlen == 0)
        return 0;
    for (size_t k = 0; k < al->count; k++) {
        const allow_entry *en = &al->entries[k];
        if (en->type == ENTRY_HOST) {
            if (en->name_len == hlen && memcmp(en->name, res->host, hlen) == 0)
                return 1;
        } else if (en->type == ENTRY_SUFFIX) {
            if (hlen > en->name_len && memcmp(res->host + hlen - en->name_len, en->name, en->name_len) == 0)
                return 1;
        }
    }
    return 0;
}

int allowlist_result_match(const allowlist *al, const classify_result *res)
{
    if (!al || !res)
        return 0;
    if (res->verdict == VERDICT_PUBLIC_IP || res->verdict == VERDICT_PRIVATE_IP) {
        entry_type want = res->is_ipv6 ? ENTRY_V6 : ENTRY_V4;
        for (size_t k = 0; k < al->count; k++) {
            const allow_entry *en = &al->entries[k];
            if (en->type == want && ipaddr_prefix_match(res->addr, en->addr, en->plen))
                return 1;
        }
        /* A wildcard-DNS name is resolved by its name, so a name entry allows it too. */
        return res->reading == READING_WILDCARD_DNS && name_match(al, res);
    }
    return res->verdict == VERDICT_DOMAIN && name_match(al, res);
}
