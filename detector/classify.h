/* Classification of a BITS remote name (URL, UNC path or local path) into a verdict, the IP and its range. */
#ifndef BG_CLASSIFY_H
#define BG_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"

typedef enum classify_verdict {
    VERDICT_INVALID = 0,
    VERDICT_PUBLIC_IP,
    VERDICT_PRIVATE_IP,
    VERDICT_DOMAIN,
    VERDICT_LOCAL,
} classify_verdict;

typedef enum classify_kind {
    KIND_UNKNOWN = 0, /* Only with VERDICT_INVALID. */
    KIND_HTTP,
    KIND_HTTPS,
    KIND_SMB,
    KIND_LOCAL,
} classify_kind;

/* Longest normalized IPv6 text ("ffff:...:ffff" is 39) plus a NUL. */
#define CLASSIFY_IP_MAX 46
/* Host names longer than this cannot be DNS names; kept for display truncated. */
#define CLASSIFY_HOST_MAX 256

typedef struct classify_result {
    classify_verdict verdict;
    classify_kind kind;
    int is_ipv6;                  /* 1 when ip holds an IPv6 address (mapped IPv4 counts as IPv4). */
    char ip[CLASSIFY_IP_MAX];     /* Normalized IP text, "" when the host is not an IP. */
    char host[CLASSIFY_HOST_MAX]; /* Lower-case, percent-decoded host, "" for local paths. */
    const char *range;            /* Name of the special-purpose range for private-ip, else NULL. */
    uint8_t addr[16];             /* Address bytes: IPv4 in addr[0..3], IPv6 in all 16. */
    int host_truncated;           /* 1 when host was cut to fit; classification used the whole host. */
} classify_result;

/* Classifies a remote name. Never fails: unparsable names get VERDICT_INVALID. */
void classify_name(const char *name, size_t len, classify_result *out);

const char *classify_verdict_name(classify_verdict v); /* "public-ip", "private-ip", ... */
const char *classify_kind_name(classify_kind k);       /* "http", "https", "smb", "local", "unknown" */

/* An allowlist of CIDRs (IPv4 and IPv6) and host names (exact, case-insensitive; "*.example.com"
 * matches sub-domains). A NULL allowlist allows nothing. */
typedef struct allowlist allowlist;

allowlist *allowlist_new(void);
void allowlist_free(allowlist *al);
/* Adds "10.1.0.0/16", "2001:db8::/32", "192.0.2.7", "updates.example.com" or "*.example.com".
 * BG_ERR_INVALID_ARG for text that is none of these (errbuf says why). */
bg_error allowlist_entry_add(allowlist *al, const char *text, char *errbuf, size_t errlen) BG_WARN_UNUSED;
/* True when the classified name is allow-listed (by IP range or by host name). */
int allowlist_result_match(const allowlist *al, const classify_result *res);

#endif
