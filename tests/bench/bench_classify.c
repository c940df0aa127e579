/* Standalone benchmark of classify_name: prints names per second for typical BITS remote names. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "classify.h"

static const char *const names[] = {
    "http://edgedl.me.gvt1.com/edgedl/release2/chrome_component/acwcdm4bj7lx4xbm2ireywxlhvca_4.10.2710.0/"
    "oimompecagnajdejgnnjijobebaeigek_4.10.2710.0_win64_adsurwm4gclupf32xdrpgdnapira.crx3",
    "http://45.33.32.156/x.exe",
    "http://r5---sn-5hnedn7l.gvt1.com/edgedl/release2/update2/ALmnr7lDhOvozdF08iOk7Ks_1.3.36.72/"
    "GoogleUpdateSetup.exe?cms_redirect=yes&mh=pH&mip=213.127.64.248&mm=28&mn=sn-5hnedn7l",
    "https://download.windowsupdate.com/c/msdownload/update/software/defu/2023/11/am_delta.exe",
    "http://10.1.2.3/payload.bin",
    "\\\\fileserver\\share\\setup.msi",
};

/* Processor time: portable C (mingw lacks timespec_get) and what a one-core throughput figure needs. */
static double now_seconds(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

int main(void)
{
    enum { N = sizeof names / sizeof names[0] };
    size_t lens[N];
    for (size_t k = 0; k < N; k++)
        lens[k] = strlen(names[k]);
    classify_result res;
    unsigned long long sink = 0;
    const unsigned long long rounds = 2000000;
    for (size_t k = 0; k < N; k++) {
        double start = now_seconds();
        for (unsigned long long i = 0; i < rounds; i++) {
            classify_name(names[k], lens[k], &res);
            sink += (unsigned)res.verdict;
        }
        double secs = now_seconds() - start;
        printf("%12.0f names/s  %-10s %.60s\n", (double)rounds / secs, classify_verdict_name(res.verdict), names[k]);
    }
    double start = now_seconds();
    for (unsigned long long i = 0; i < rounds; i++) {
        classify_name(names[i % N], lens[i % N], &res);
        sink += (unsigned)res.verdict;
    }
    printf("%12.0f names/s  mixed (checksum %llu)\n", (double)rounds / (now_seconds() - start), sink);
    return 0;
}
