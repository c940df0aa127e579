/* Tests of the allowlist: entry parsing (CIDRs, IPs, host names, "*." suffixes) and matching classified names. */
#include <string.h>

#include "check.h"
#include "classify.h"

typedef struct entry_case {
    const char *text;
    int ok; /* 1: accepted, 0: BG_ERR_INVALID_ARG. */
} entry_case;

static const entry_case entries[] = {
    {"10.1.0.0/16", 1},
    {"192.0.2.7", 1},
    {"192.0.2.7/32", 1},
    {"0.0.0.0/0", 1},
    {"2001:db8::/32", 1},
    {"2001:db8::1", 1},
    {"[2001:db8::1]", 1},
    {"::ffff:10.9.0.0/112", 1},
    {"updates.example.com", 1},
    {"Updates.Example.COM.", 1},
    {"*.example.com", 1},
    {"  padded.example.com  ", 1},
    {"localhost", 1},
    {"10.1.0.1/16", 0},    /* Host bits set. */
    {"2001:db8::1/32", 0}, /* Host bits set. */
    {"10.0.0.0/33", 0},
    {"2001:db8::/129", 0},
    {"10.0.0.0/", 0},
    {"10.0.0.0/1x", 0},
    {"10.0.0.0/0008", 0},
    {"10.1", 0},
    {"0x7f.0.0.1", 0},
    {"010.0.0.1", 0},
    {"256.0.0.1", 0},
    {"1.2.3.4.5", 0},
    {"example.123", 0},
    {"1:::2", 0},
    {"fe80::1%eth0", 0},
    {"", 0},
    {"   ", 0},
    {"*", 0},
    {"*.", 0},
    {"*example.com", 0},
    {"a.*.example.com", 0},
    {"exa mple.com", 0},
    {"a..b", 0},
    {".example.com", 0},
    {"host:80", 0},
    {"http://example.com/", 0},
};

static void test_entries(void)
{
    for (size_t k = 0; k < sizeof entries / sizeof entries[0]; k++) {
        allowlist *al = allowlist_new();
        char err[160] = "unset";
        CHECK(al != NULL);
        if (!al)
            return;
        bg_error rc = allowlist_entry_add(al, entries[k].text, err, sizeof err);
        CHECK_STR_EQ_CTX(entries[k].text, bg_error_name(rc), entries[k].ok ? "OK" : "INVALID_ARG");
        if (entries[k].ok)
            CHECK_STR_EQ_CTX(entries[k].text, err, "");
        else
            CHECK(err[0] != '\0' && strcmp(err, "unset") != 0);
        allowlist_free(al);
    }
    /* A too-long host name and a NULL list. */
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    char err[64];
    CHECK_INT_EQ(allowlist_entry_add(al, longname, err, sizeof err), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(allowlist_entry_add(NULL, "10.0.0.0/8", err, sizeof err), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(allowlist_entry_add(al, "10.0.0.0/8", NULL, 0), BG_ERR_OK);
    allowlist_free(al);
    allowlist_free(NULL);
}

typedef struct match_case {
    const char *name;
    int allowed;
} match_case;

static const char *const list[] = {
    "10.1.0.0/16",         "45.33.32.156",  "2001:db8:1::/48", "::ffff:198.51.100.0/120",
    "updates.example.com", "*.cdn.example", "LocalHost",       "dev-10-9-9-9.nip.io",
    "*.sslip.io",
};

static const match_case matches[] = {
    {"http://10.1.2.3/x", 1},
    {"http://10.1.255.255/x", 1},
    {"http://10.2.0.0/x", 0},
    {"http://10.0.255.255/x", 0},
    {"http://45.33.32.156/x", 1},
    {"http://45.33.32.157/x", 0},
    {"http://0x2d.33.32.156/x", 1},
    {"http://[::ffff:45.33.32.156]/x", 1}, /* A mapped IPv4 matches IPv4 entries. */
    {"http://[::ffff:10.1.0.9]/x", 1},
    {"http://198.51.100.77/x", 1}, /* Matched by the ::ffff:.../120 entry. */
    {"http://198.51.101.1/x", 0},
    {"http://[2001:db8:1::5]/x", 1},
    {"http://[2001:db8:1:ffff:ffff:ffff:ffff:ffff]/x", 1},
    {"http://[2001:db8:2::]/x", 0},
    {"http://[64:ff9b::2d21:209c]/x", 0}, /* NAT64 stays IPv6: only IPv6 entries match it. */
    {"http://updates.example.com/x", 1},
    {"http://UPDATES.Example.com./x", 1},
    {"http://user@updates.example.com:8080/x", 1},
    {"http://evil-updates.example.com/x", 0},
    {"http://updates.example.com.evil.net/x", 0},
    {"http://a.cdn.example/x", 1},
    {"http://a.b.cdn.example/x", 1},
    {"http://cdn.example/x", 0}, /* "*." matches sub-domains only. */
    {"http://xcdn.example/x", 0},
    {"\\\\updates.example.com\\share", 1},
    {"http://localhost/x", 0}, /* localhost is 127.0.0.1, matched by address, not by name. */
    /* Wildcard-DNS names: matched by their IP and by their name. */
    {"http://app-45.33.32.156.nip.io/x", 1},
    {"http://app-45.33.32.157.nip.io/x", 0},
    {"http://dev-10-9-9-9.nip.io/x", 1},
    {"http://x.10.9.9.9.nip.io/x", 0},
    {"http://app.45-33-32-157.sslip.io/x", 1},
    /* A name that only some reader skips is no name at all: "a.example\@IP" matches by IP only. */
    {"http://updates.example.com\\@45.33.32.157/x", 0},
    {"C:\\x", 0},
    {"ftp://updates.example.com/", 0},
    {"http://10.1.2.3.4/", 0},
};

static void test_matches(void)
{
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    if (!al)
        return;
    for (size_t k = 0; k < sizeof list / sizeof list[0]; k++) {
        char err[128];
        CHECK_STR_EQ_CTX(list[k], bg_error_name(allowlist_entry_add(al, list[k], err, sizeof err)), "OK");
    }
    for (size_t k = 0; k < sizeof matches / sizeof matches[0]; k++) {
        classify_result r;
        classify_name(matches[k].name, strlen(matches[k].name), &r);
        CHECK_STR_EQ_CTX(matches[k].name, allowlist_result_match(al, &r) ? "allowed" : "not allowed",
                         matches[k].allowed ? "allowed" : "not allowed");
    }
    /* NULL lists and results allow nothing; an empty list allows nothing. */
    classify_result r;
    classify_name("http://10.1.2.3/", 16, &r);
    CHECK_INT_EQ(allowlist_result_match(NULL, &r), 0);
    CHECK_INT_EQ(allowlist_result_match(al, NULL), 0);
    allowlist *empty = allowlist_new();
    CHECK(empty != NULL);
    CHECK_INT_EQ(allowlist_result_match(empty, &r), 0);
    allowlist_free(empty);
    allowlist_free(al);
}

/* A cut display host must never match a suffix it only appears to have. */
static void test_truncated_host(void)
{
    char name[600];
    size_t n = 0;
    memcpy(name, "http://", 7);
    n = 7;
    memset(name + n, 'a', 240);
    n += 240;
    const char *tail = ".cdn.example.evil.net/x";
    memcpy(name + n, tail, strlen(tail) + 1);
    n += strlen(tail);
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    if (!al)
        return;
    char err[64];
    CHECK_INT_EQ(allowlist_entry_add(al, "*.cdn.example", err, sizeof err), BG_ERR_OK);
    classify_result r;
    classify_name(name, n, &r);
    CHECK_INT_EQ(r.verdict, VERDICT_DOMAIN);
    CHECK_INT_EQ(r.host_truncated, 1);
    CHECK_INT_EQ(allowlist_result_match(al, &r), 0);
    allowlist_free(al);
}

/* Many entries: the list grows and every entry still matches. */
static void test_many(void)
{
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    if (!al)
        return;
    char text[32], err[64];
    for (int k = 0; k < 1000; k++) {
        snprintf(text, sizeof text, "10.%d.%d.0/24", k / 256, k % 256);
        CHECK_INT_EQ(allowlist_entry_add(al, text, err, sizeof err), BG_ERR_OK);
    }
    classify_result r;
    const char *name = "http://10.3.231.9/";
    classify_name(name, strlen(name), &r);
    CHECK_INT_EQ(allowlist_result_match(al, &r), 1);
    name = "http://10.3.232.9/";
    classify_name(name, strlen(name), &r);
    CHECK_INT_EQ(allowlist_result_match(al, &r), 0);
    allowlist_free(al);
}

int main(void)
{
    CHECK_RUN(test_entries);
    CHECK_RUN(test_matches);
    CHECK_RUN(test_truncated_host);
    CHECK_RUN(test_many);
    return CHECK_DONE();
}
