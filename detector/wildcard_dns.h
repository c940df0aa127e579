/* Names under public wildcard-DNS services (nip.io, sslip.io, ...) and the IP address each resolves to. */
#ifndef BG_WILDCARD_DNS_H
#define BG_WILDCARD_DNS_H

#include <stddef.h>
#include <stdint.h>

/* When host (lower-case ASCII, len bytes, a trailing dot allowed) is a name that a service listed in
 * wildcard_dns.def resolves to the address written in it, writes that address and returns 4 (IPv4 in
 * addr[0..3]) or 6 (IPv6 in addr); returns 0 for any other name. No allocation. */
int wildcard_dns_resolve(const char *host, size_t len, uint8_t addr[16]);

#endif
