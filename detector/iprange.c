/* The special-purpose IPv4 and IPv6 ranges (IANA registries plus multicast, reserved and broadcast space). */
#include "ipaddr.h"

#include <string.h>

/*
 * IPv4: sorted, non-overlapping [first, last] ranges that are NOT globally reachable, searched by
 * binary search. Globally reachable holes of the IANA registry (192.0.0.9, 192.0.0.10, 192.31.196/24
 * AS112, 192.52.193/24 AMT, 192.175.48/24 AS112 direct delegation) are simply absent, and so is
 * 192.88.99.0/24: the 6to4 relay anycast prefix is deprecated (RFC 7526) and no registry row says it
 * is not globally reachable, so a download from it goes to whoever announces it on the Internet.
 */
typedef struct v4_range {
    uint32_t first, last;
    const char *name;
} v4_range;

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const v4_range v4_ranges[] = {
    {V4(0, 0, 0, 0), V4(0, 255, 255, 255), "this-network"},
    {V4(10, 0, 0, 0), V4(10, 255, 255, 255), "private-use"},
    {V4(100, 64, 0, 0), V4(100, 127, 255, 255), "shared-address-space"},
    {V4(127, 0, 0, 0), V4(127, 255, 255, 255), "loopback"},
    {V4(169, 254, 0, 0), V4(169, 254, 255, 255), "link-local"},
    {V4(172, 16, 0, 0), V4(172, 31, 255, 255), "private-use"},
    {V4(192, 0, 0, 0), V4(192, 0, 0, 8), "ietf-protocol-assignments"},
    /* 192.0.0.9 (PCP anycast) and 192.0.0.10 (TURN anycast) are globally reachable. */
    {V4(192, 0, 0, 11), V4(192, 0, 0, 255), "ietf-protocol-assignments"},
    {V4(192, 0, 2, 0), V4(192, 0, 2, 255), "documentation"},
    {V4(192, 168, 0, 0), V4(192, 168, 255, 255), "private-use"},
    {V4(198, 18, 0, 0), V4(198, 19, 255, 255), "benchmarking"},
    {V4(198, 51, 100, 0), V4(198, 51, 100, 255), "documentation"},
    {V4(203, 0, 113, 0), V4(203, 0, 113, 255), "documentation"},
    {V4(224, 0, 0, 0), V4(239, 255, 255, 255), "multicast"},
    {V4(240, 0, 0, 0), V4(255, 255, 255, 254), "reserved"},
    {V4(255, 255, 255, 255), V4(255, 255, 255, 255), "limited-broadcast"},
};

const char *iprange_v4_lookup(uint32_t addr)
{
    size_t lo = 0, hi = sizeof v4_ranges / sizeof v4_ranges[0];
    /* Find the last range whose first address is <= addr. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v4_ranges[mid].first <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const v4_range *r = &v4_ranges[lo - 1];
    return addr <= r->last ? r->name : NULL;
}

/*
 * IPv6: prefixes checked in order, the first match wins, so more specific entries come first. name NULL
 * marks a globally reachable exception (or 2000::/3, global unicast). The last entry, ::/0, catches
 * the space outside 2000::/3 that IANA keeps "Reserved by IETF" (nothing there is routed on the
 * Internet), so 1::1 or 4000::1 are not reported as public.
 */
typedef struct v6_range {
    uint8_t prefix[16];
    unsigned len;
    const char *name;
} v6_range;

static const v6_range v6_ranges[] = {
    {{0}, 128, "unspecified"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    /* ::/96 "IPv4-compatible" addresses, deprecated by RFC 4291. */
    {{0}, 96, "ipv4-compatible"},
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, "local-use-translation"},
    {{0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64, "discard-only"},
    /* 100:0:0:1::/64, the dummy IPv6 prefix of RFC 9780. */
    {{0x01, 0x00, 0, 0, 0, 0, 0, 1}, 64, "dummy-prefix"},
    {{0x20, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, NULL}, /* PCP anycast */
    {{0x20, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 128, NULL}, /* TURN anycast */
    {{0x20, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}, 128, NULL}, /* DNS-SD SRP anycast */
    /* Teredo (RFC 4380): the registry leaves its global reachability to the embedded addresses, but a
     * Teredo peer is reached directly over the Internet, so the address is a direct download. */
    {{0x20, 0x01, 0, 0}, 32, NULL},
    {{0x20, 0x01, 0, 3}, 32, NULL},             /* AMT */
    {{0x20, 0x01, 0, 4, 0x01, 0x12}, 48, NULL}, /* AS112-v6 */
    {{0x20, 0x01, 0, 0x20}, 28, NULL},          /* ORCHIDv2 */
    {{0x20, 0x01, 0, 0x30}, 28, NULL},          /* Drone remote ID */
    {{0x20, 0x01, 0, 0}, 23, "ietf-protocol-assignments"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {{0x3f, 0xff, 0}, 20, "documentation"},
    {{0x20}, 3, NULL}, /* Global unicast. */
    {{0x5f, 0x00}, 16, "srv6-sids"},
    {{0xfc}, 7, "unique-local"},
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "site-local"},
    {{0xff}, 8, "multicast"},
    {{0}, 0, "reserved"},
};

const char *iprange_v6_lookup(const uint8_t addr[16])
{
    for (size_t k = 0; k < sizeof v6_ranges / sizeof v6_ranges[0]; k++) {
        if (ipaddr_prefix_match(addr, v6_ranges[k].prefix, v6_ranges[k].len))
            return v6_ranges[k].name;
    }
    return "reserved";
}
