/* libFuzzer target: classifies arbitrary bytes, checks the result's invariants, matches it against an allowlist. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static allowlist *fuzz_allowlist;

/* An allowlist of every entry kind, built once. */
static allowlist *allowlist_get(void)
{
    static const char *const entries[] = {
        "10.0.0.0/8",          "45.33.32.0/24", "2001:db8::/32", "::ffff:192.0.2.0/120",
        "updates.example.com", "*.example.net", "localhost"};
    if (fuzz_allowlist)
        return fuzz_allowlist;
    fuzz_allowlist = allowlist_new();
    if (!fuzz_allowlist)
        abort();
    for (size_t k = 0; k < sizeof entries / sizeof entries[0]; k++) {
        char err[128];
        if (allowlist_entry_add(fuzz_allowlist, entries[k], err, sizeof err) != BG_ERR_OK)
            abort();
    }
    return fuzz_allowlist;
}

/* Fails loudly: libFuzzer records the input that broke an invariant. */
static void invariant(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    classify_result r;
    /* Exactly size bytes, no NUL after them: the classifier must honour the length. */
    char *name = malloc(size ? size : 1);
    if (!name)
        return 0;
    if (size)
        memcpy(name, data, size);
    classify_name(name, size, &r);

    invariant(r.verdict >= VERDICT_INVALID && r.verdict <= VERDICT_LOCAL, "verdict in range");
    invariant(r.kind >= KIND_UNKNOWN && r.kind <= KIND_LOCAL, "kind in range");
    int is_ip = r.verdict == VERDICT_PUBLIC_IP || r.verdict == VERDICT_PRIVATE_IP;
    invariant(memchr(r.ip, '\0', sizeof r.ip) != NULL, "ip is terminated");
    invariant(memchr(r.host, '\0', sizeof r.host) != NULL, "host is terminated");
    invariant(is_ip == (r.ip[0] != '\0'), "ip non-empty iff the verdict is an IP");
    invariant((r.verdict == VERDICT_PRIVATE_IP) == (r.range != NULL), "range iff private-ip");
    invariant(r.kind != KIND_UNKNOWN || r.verdict == VERDICT_INVALID, "unknown kind only when invalid");
    invariant((r.verdict == VERDICT_LOCAL) == (r.kind == KIND_LOCAL), "local verdict iff local kind");
    invariant(strcmp(classify_verdict_name(r.verdict), "invalid") != 0 || r.verdict == VERDICT_INVALID, "verdict name");
    invariant(r.reading >= READING_NONE && r.reading <= READING_WILDCARD_DNS, "reading in range");
    invariant(is_ip == (r.reading != READING_NONE), "a reading iff the verdict is an IP");
    invariant(memchr(r.embedded_ipv4, '\0', sizeof r.embedded_ipv4) != NULL, "embedded_ipv4 is terminated");
    invariant(r.embedded_ipv4[0] == '\0' || (is_ip && r.is_ipv6), "an embedded IPv4 only in an IPv6 address");
    if (is_ip) {
        invariant(strlen(r.ip) < CLASSIFY_IP_MAX, "ip fits");
        invariant(r.is_ipv6 == (strchr(r.ip, ':') != NULL), "is_ipv6 matches the text");
        if (!r.is_ipv6) {
            char text[CLASSIFY_IP_MAX];
            snprintf(text, sizeof text, "%u.%u.%u.%u", r.addr[0], r.addr[1], r.addr[2], r.addr[3]);
            invariant(strcmp(text, r.ip) == 0, "ip text matches addr");
        }
        /* The normalized IP is a fixed point: classifying it again gives the same address and verdict. */
        char again[CLASSIFY_IP_MAX + 16];
        snprintf(again, sizeof again, r.is_ipv6 ? "http://[%s]/" : "http://%s/", r.ip);
        classify_result r2;
        classify_name(again, strlen(again), &r2);
        invariant(r2.verdict == r.verdict, "normalized IP keeps its verdict");
        invariant(strcmp(r2.ip, r.ip) == 0, "normalized IP is stable");
        invariant(memcmp(r2.addr, r.addr, sizeof r.addr) == 0, "normalized IP keeps its bytes");
    }

    /* The host as an allowlist entry (it may be rejected) and the result against a fixed list. */
    allowlist *al = allowlist_get();
    (void)allowlist_result_match(al, &r);
    allowlist *own = allowlist_new();
    if (own) {
        char err[128];
        if (allowlist_entry_add(own, r.host, err, sizeof err) == BG_ERR_OK && r.verdict == VERDICT_DOMAIN &&
            !r.host_truncated)
            invariant(allowlist_result_match(own, &r), "a domain matches its own host entry");
        allowlist_free(own);
    }
    free(name);
    return 0;
}
