/* IPv4 and IPv6 address text parsing and formatting, and the special-purpose (not globally reachable) ranges. */
#ifndef BG_IPADDR_H
#define BG_IPADDR_H

#include <stddef.h>
#include <stdint.h>

/* Value of a hexadecimal digit (either case), -1 for any other character. */
int ipaddr_hex_value(char c);

/* True when the first plen bits of addr equal those of prefix (both in network byte order). */
int ipaddr_prefix_match(const uint8_t *addr, const uint8_t *prefix, unsigned plen);

/* Parses an IPv6 address as the WHATWG URL standard's IPv6 parser does (no brackets, no zone): hex
 * groups of at most 4 digits, one "::", an optional dotted IPv4 tail of strict decimal parts. Returns 1
 * and fills out on success, 0 otherwise. */
int ipaddr_v6_parse(const char *s, size_t len, uint8_t out[16]);

/* Parses a strict dotted-quad IPv4 address ("192.0.2.7": four decimal parts 0..255 without leading
 * zeros). Used for configuration text, where the exotic inet_aton forms would only hide mistakes.
 * Returns 1 on success, 0 otherwise. */
int ipaddr_v4_parse_dotted(const char *s, size_t len, uint8_t out[4]);

/* Writes "a.b.c.d" into buf (cap >= 16) and returns its length. */
size_t ipaddr_v4_format(const uint8_t addr[4], char *buf, size_t cap);

/* Writes the RFC 5952 text of addr (lower case, no leading zeros, the longest run of two or more zero
 * groups compressed, the first one when runs tie) into buf (cap >= 40) and returns its length. */
size_t ipaddr_v6_format(const uint8_t addr[16], char *buf, size_t cap);

/* Name of the special-purpose IPv4 range holding addr (host byte order value a<<24|b<<16|c<<8|d), or
 * NULL when the address is globally reachable. */
const char *iprange_v4_lookup(uint32_t addr);

/* Name of the special-purpose IPv6 range holding addr, or NULL when it is globally reachable. The
 * ranges that embed an IPv4 address (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) are not in this table:
 * ipaddr_v6_embedded_v4 finds them and the caller classifies the embedded address. */
const char *iprange_v6_lookup(const uint8_t addr[16]);

/* Kinds of IPv6 addresses that carry an IPv4 address. */
typedef enum ipaddr_embed {
    IPADDR_EMBED_NONE = 0,
    IPADDR_EMBED_MAPPED, /* ::ffff:0:0/96, reported as the IPv4 address itself. */
    IPADDR_EMBED_NAT64,  /* 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052). */
    IPADDR_EMBED_6TO4,   /* 2002::/16 (RFC 3056): the IPv4 address follows the prefix. */
} ipaddr_embed;

/* Tells whether addr embeds an IPv4 address and copies it into v4. */
ipaddr_embed ipaddr_v6_embedded_v4(const uint8_t addr[16], uint8_t v4[4]);

#endif
