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

/* The reading of a remote name that reached the reported IP. A name is read as the WHATWG URL standard
 * does, and also as other readers on the path of a BITS download read it (WinHTTP, the SMB and WebDAV
 * redirectors, inet_aton, older IDNA, wildcard DNS); the first reading that reaches a globally reachable
 * IP wins, else the first that reaches any IP. */
typedef enum classify_reading {
    READING_NONE = 0,        /* The verdict is not an IP. */
    READING_WHATWG,          /* The WHATWG URL standard alone (http, https and file URLs). */
    READING_UNC,             /* A UNC path as the Windows redirector reads it. */
    READING_UNC_DEVICE,      /* An NT device path naming the redirector (\Device\Mup, LanmanRedirector). */
    READING_WEBDAV,          /* PathCreateFromUrl / DavGetUNCFromHTTPPath forms: file://host@SSL/, \\http://host/. */
    READING_RFC3986,         /* RFC 3986: '\' is a userinfo character, the authority is split at its last '@'. */
    READING_AUTHORITY,       /* The authority runs to the first '/' ('?' and '#' do not end it), or it starts
                              * with a bracketed literal followed by ":port@host". */
    READING_PORT16,          /* An over-long or out-of-range port (WinHTTP keeps 16 bits) does not stop the host. */
    READING_INET_ATON,       /* The host is cut where inet_aton stops (space, form feed, vertical tab) or at DEL. */
    READING_UNICODE_VERSION, /* UTS 46 of another pinned Unicode version maps the host to an IP. */
    READING_IDNA2003,        /* IDNA2003 (nameprep on Unicode 3.2, as older Windows and IE map) gives an IP. */
    READING_WILDCARD_DNS,    /* A public wildcard-DNS service resolves the name to the IP written in it. */
} classify_reading;

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
    classify_reading reading;     /* Which reading reached the IP; READING_NONE for other verdicts. */
    char embedded_ipv4[16];       /* The IPv4 address a NAT64 or 6to4 address carries, else "". */
} classify_result;

/*
 * Classifies a remote name of len bytes (no NUL needed). Never fails: unparsable names get
 * VERDICT_INVALID. No allocation, no global state: safe to call from several threads.
 *
 * Rules, beyond the WHATWG URL standard's host parsing for http, https and file:
 * - kind: http/https from the scheme (kept even when the host is invalid); file:// with a host, UNC
 *   (\\host, //host, \\?\UNC\host, \\.\UNC\host, \??\UNC\host, \\?\GLOBALROOT\Device\Mup\host,
 *   \Device\Mup\host, \Device\LanmanRedirector\host, file:////host, file://localhost//host) is smb;
 *   drive paths, device paths, rooted paths, file:///C:/ and file://localhost/ are local; other
 *   schemes are invalid/unknown.
 * - Readings: when WHATWG's reading does not reach a public IP, the name is read again as the other
 *   readers of classify_reading do, and the best result (public IP, then private IP, else WHATWG's)
 *   is reported with its reading. Whole results are swapped: host, ip and reading always agree.
 * - Wildcard DNS (wildcard_dns.def): the verdict of the address written in the name; host keeps the
 *   name.
 * - UNC hosts: not percent-decoded; "host@SSL@443" (WebDAV) keeps the part before '@'; a bracketed or
 *   bare IPv6 address and Windows' "2001-db8--1.ipv6-literal.net" names ('-' for ':', 's' for '%')
 *   are IPv6 literals (in URLs too, since Windows' resolver answers them itself).
 * - "localhost" (optionally with a trailing dot) is private-ip 127.0.0.1 "loopback", except that a
 *   file://localhost/ URL is local as WHATWG defines it.
 * - Non-ASCII hosts go through the IDNA table (idna.h, generated from the pinned UTS 46 data): code
 *   points mapped to ASCII or ignored (fullwidth, mathematical, circled, superscript, segmented digits,
 *   ideographic full stops, soft hyphen, zero-width space, BOM) are replaced before the IPv4 check, as
 *   WHATWG's domain-to-ASCII does; mappings only another pinned Unicode version or IDNA2003 makes give
 *   the readings unicode-version and idna2003. Other non-ASCII hosts are domains.
 * - IPv6: ::ffff:0:0/96 is reported as its IPv4 address (is_ipv6 0). 64:ff9b::/96 (NAT64) and
 *   2002::/16 (6to4) are reported as IPv6 with the IPv4 address they embed in embedded_ipv4, and take
 *   its verdict and range name, since that is where the traffic goes. Teredo (2001::/32) and
 *   192.88.99.0/24 are public. Space outside 2000::/3 that IANA keeps reserved
 *   is private-ip "reserved"; ::/96 (deprecated IPv4-compatible) is "ipv4-compatible".
 * - host is the WHATWG serialization: dotted quad for IPv4, "[...]" for IPv6 (without the zone);
 *   for an invalid host it is whatever was decoded, for display only.
 * Range names: this-network, private-use, shared-address-space, loopback, link-local,
 * ietf-protocol-assignments, documentation, benchmarking, multicast, reserved,
 * limited-broadcast, unspecified, ipv4-compatible, local-use-translation, discard-only,
 * dummy-prefix, srv6-sids, unique-local, site-local.
 */
void classify_name(const char *name, size_t len, classify_result *out);

const char *classify_verdict_name(classify_verdict v); /* "public-ip", "private-ip", ... */
const char *classify_kind_name(classify_kind k);       /* "http", "https", "smb", "local", "unknown" */
/* "whatwg", "unc", "unc-device", "webdav", "rfc3986", "authority", "port16", "inet_aton",
 * "unicode-version", "idna2003", "wildcard-dns"; NULL for READING_NONE. */
const char *classify_reading_name(classify_reading r);

/* An allowlist of CIDRs (IPv4 and IPv6) and host names (exact, case-insensitive; "*.example.com"
 * matches sub-domains, not example.com itself). A NULL allowlist allows nothing. IP verdicts match by
 * address (an ::ffff:a.b.c.d/96+ entry is an IPv4 entry; NAT64 and 6to4 addresses match only IPv6
 * entries), and wildcard-DNS names by their name too; domain verdicts match by host. Not thread-safe while entries are
 * added; matching is read-only. */
typedef struct allowlist allowlist;

allowlist *allowlist_new(void);
void allowlist_free(allowlist *al);
/* Adds "10.1.0.0/16", "2001:db8::/32", "192.0.2.7", "updates.example.com" or "*.example.com".
 * BG_ERR_INVALID_ARG for text that is none of these (errbuf says why): host bits set after the
 * prefix, IPv4 other than a plain dotted quad (no leading zeros), empty labels, characters other than
 * letters, digits, '-', '_'. BG_ERR_NOMEM, or BG_ERR_TOO_LARGE past 100,000 entries. */
bg_error allowlist_entry_add(allowlist *al, const char *text, char *errbuf, size_t errlen) BG_WARN_UNUSED;
/* True when the classified name is allow-listed (by IP range or by host name). */
int allowlist_result_match(const allowlist *al, const classify_result *res);

#endif
