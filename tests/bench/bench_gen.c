/* Benchmark input generator: a seeded synthetic Bits-Client log with a truth file of every job's remote name. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Usage: bench_gen SEED EVENTS OUT.xml TRUTH.tsv
 * OUT.xml holds the events in an <Events> root (an export shape bitsguard reads, and one a plain SAX
 * parse accepts). Per job: the Windows 11 chain 3 -> 16403 -> 59 -> 60 -> 4, or for 30% of jobs the
 * Windows 10 chain 3 -> 59 -> 60 -> 4 (no 16403). About 1% of jobs fetch from a public IP written in one
 * of the notations below; the rest use domains (some are traps for substring rules) and private ranges.
 * TRUTH.tsv: job_id, windows version, category, expected verdict (public-ip or other), url.
 */

typedef struct rng {
    uint64_t s;
} rng;

/* splitmix64: tiny, seedable, identical on every platform. */
static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static unsigned rng_below(rng *r, unsigned n)
{
    return (unsigned)(rng_next(r) % n);
}

/* Public-IP notations: what the detector must see through. */
static const char *const public_forms[] = {
    "http://45.33.32.156/%s",                       /* dotted quad */
    "https://45.33.32.156:8443/%s",                 /* port */
    "http://0x2d.0x21.0x20.0x9c/%s",                /* hex parts */
    "http://0055.0041.0040.0234/%s",                /* octal parts */
    "http://757276828/%s",                          /* one 32-bit number */
    "http://0x2d21209c/%s",                         /* one hex number */
    "http://045.033.032.156/%s",                    /* zero-padded (octal!) — 37.27.26.156, still public */
    "http://[2600:1f18:24e6:a400::5]/%s",           /* IPv6 */
    "http://[::ffff:45.33.32.156]/%s",              /* IPv4-mapped IPv6 */
    "http://user:pw@45.33.32.156/%s",               /* userinfo */
    "\\\\45.33.32.156\\share\\%s",                  /* UNC */
    "file://45.33.32.156/share/%s",                 /* file:// SMB */
    "http://45.33.32.156/%s?next=http://10.0.0.1/", /* ://10. in the query suppresses the public rule */
    "http://8.8.4.4/7-zip/%s",                      /* public with a 7- path */
    /* Wildcard DNS: the name resolves to the IP written in it. */
    "http://payload-45-33-32-156.nip.io/%s", "https://cdn.45.33.32.156.sslip.io/%s", "http://app-2d21209c.nip.io/%s",
    "http://www.2600-1f18-24e6-a400--5.sslip.io/%s",
    /* Differential readers: WHATWG says domain or invalid, another reader on the way reaches the IP. */
    "http://update.microsoft.com\\@45.33.32.156/%s",                /* RFC 3986: '\' in userinfo */
    "http://update.microsoft.com?@45.33.32.156/%s",                 /* authority up to the first '/' */
    "https://[2600:1f18:24e6:a400::5]:443@update.microsoft.com/%s", /* bracketed literal, then :port@host */
    "http://update@45.33.32.156:65536/%s",                          /* 16-bit port */
    "http://update@45.33.32.156%20.example/%s",                     /* inet_aton stops at the space */
    "\\\\?\\GLOBALROOT\\Device\\Mup\\;LanmanRedirector\\45.33.32.156\\share\\%s", /* redirector device */
    "file://45.33.32.156@SSL/DavWWWRoot/%s",                                      /* WebDAV */
    "http://\xe2\x91\xa3\xe2\x91\xa4.33.32.156/%s",                               /* circled digits (UTS 46) */
};
static const char *const public_names[] = {
    "dotted",
    "port",
    "hex",
    "octal",
    "decimal",
    "hex-number",
    "zero-padded",
    "ipv6",
    "mapped",
    "userinfo",
    "unc",
    "file-smb",
    "query-10",
    "dotted-7zip",
    "wildcard-nip",
    "wildcard-sslip",
    "wildcard-hex",
    "wildcard-ipv6",
    "reader-rfc3986",
    "reader-authority",
    "reader-bracket",
    "reader-port16",
    "reader-inet-aton",
    "reader-unc-device",
    "reader-webdav",
    "reader-unicode",
};

/* Non-public names: domains (including traps) and private or special ranges. */
static const char *const other_forms[] = {
    "http://edgedl.me.gvt1.com/edgedl/release2/chrome_component/acwcdm4bj7lx4xbm2ireywxlhvca_4.10.2710.0/%s",
    "http://r5---sn-5hnedn7l.gvt1.com/edgedl/release2/update2/%s?cms_redirect=yes&mip=213.127.64.248&mm=28",
    "https://download.windowsupdate.com/c/msdownload/update/software/defu/2023/11/%s",
    "http://1drv.ms/u/s!AqB3/%s",
    "https://360.cn/download/%s",
    "http://10.20.30.40/deploy/%s",
    "http://192.168.1.10/%s",
    "http://100.64.1.1/%s",
    "http://198.18.0.5/%s",
    "http://[fd00::1]/%s",
    "\\\\fileserver\\share\\%s",
    "http://tools.127.0.0.1.nip.io/%s",
    "http://dev.lvh.me/%s",
};
static const char *const other_names[] = {
    "domain",
    "domain-ip-in-query",
    "domain",
    "domain-digit",
    "domain-digit",
    "private-10",
    "private-192",
    "cgnat-100.64",
    "benchmark-198.18",
    "ula-ipv6",
    "unc-domain",
    "wildcard-loopback",
    "wildcard-loopback",
};

/* Writes tmpl with its one "%s" replaced by file (templates are data, not format strings). */
static void template_expand(char *out, size_t n, const char *tmpl, const char *file)
{
    const char *mark = strstr(tmpl, "%s");
    size_t head = mark ? (size_t)(mark - tmpl) : strlen(tmpl);
    snprintf(out, n, "%.*s%s%s", (int)head, tmpl, mark ? file : "", mark ? mark + 2 : "");
}

static unsigned count_of_public(void)
{
    return sizeof public_forms / sizeof public_forms[0];
}

_Static_assert(sizeof public_forms / sizeof public_forms[0] == sizeof public_names / sizeof public_names[0],
               "one category name per public form");
_Static_assert(sizeof other_forms / sizeof other_forms[0] == sizeof other_names / sizeof other_names[0],
               "one category name per other form");

static void system_write(FILE *fp, unsigned id, unsigned version, unsigned level, uint64_t record, uint64_t t,
                         const char *computer, const char *sid)
{
    unsigned sec = (unsigned)(t % 60), min = (unsigned)(t / 60 % 60), hour = (unsigned)(t / 3600 % 24);
    unsigned day = (unsigned)(t / 86400 % 28) + 1;
    fprintf(fp,
            "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>"
            "<Provider Name=\"Microsoft-Windows-Bits-Client\" Guid=\"{EF1CC15B-46C1-414E-BB95-E76B077BD51E}\"/>"
            "<EventID>%u</EventID><Version>%u</Version><Level>%u</Level><Task>0</Task><Opcode>0</Opcode>"
            "<Keywords>0x4000000000000000</Keywords>"
            "<TimeCreated SystemTime=\"2024-02-%02uT%02u:%02u:%02u.%07uZ\"/><EventRecordID>%" PRIu64 "</EventRecordID>"
            "<Correlation/><Execution ProcessID=\"1204\" ThreadID=\"5120\"/>"
            "<Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>%s</Computer>"
            "<Security UserID=\"%s\"/></System><EventData>",
            id, version, level, day, hour, min, sec, (unsigned)(record % 10000000), record, computer, sid);
}

static void data_write(FILE *fp, const char *name, const char *value)
{
    fprintf(fp, "<Data Name=\"%s\">", name);
    /* Escape what XML requires; the URLs here contain & and nothing else special. */
    for (const char *p = value; *p; p++) {
        if (*p == '&')
            fputs("&amp;", fp);
        else if (*p == '<')
            fputs("&lt;", fp);
        else
            fputc(*p, fp);
    }
    fputs("</Data>", fp);
}

static void end_write(FILE *fp)
{
    fputs("</EventData></Event>\n", fp);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fputs("usage: bench_gen SEED EVENTS OUT.xml TRUTH.tsv\n", stderr);
        return 2;
    }
    rng r = {strtoull(argv[1], NULL, 10)};
    uint64_t target = strtoull(argv[2], NULL, 10);
    FILE *out = fopen(argv[3], "wb");
    FILE *truth = fopen(argv[4], "wb");
    if (!out || !truth) {
        perror("bench_gen");
        return 3;
    }
    static char outbuf[1 << 16];
    setvbuf(out, outbuf, _IOFBF, sizeof outbuf);
    fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Events>\n", out);

    uint64_t record = 1000, t = 0, events = 0, jobs = 0;
    char job_id[40], url[1024], file[96], computer[32], pid[16];
    while (events < target) {
        int win10 = rng_below(&r, 10) < 3;
        int public_job = rng_below(&r, 100) == 0;
        uint64_t a = rng_next(&r), b = rng_next(&r);
        snprintf(job_id, sizeof job_id, "{%08X-%04X-%04X-%04X-%012" PRIX64 "}", (unsigned)(a >> 32),
                 (unsigned)(a >> 16 & 0xFFFF), (unsigned)(a & 0x0FFF) | 0x4000, (unsigned)(b >> 48 & 0x3FFF) | 0x8000,
                 b & 0xFFFFFFFFFFFFu);
        snprintf(file, sizeof file, "payload_%" PRIu64 "_%08x.exe", jobs, (unsigned)(b >> 8));
        const char *category;
        if (public_job) {
            unsigned k = rng_below(&r, count_of_public());
            template_expand(url, sizeof url, public_forms[k], file);
            category = public_names[k];
        } else {
            unsigned k = rng_below(&r, sizeof other_forms / sizeof other_forms[0]);
            template_expand(url, sizeof url, other_forms[k], file);
            category = other_names[k];
        }
        snprintf(computer, sizeof computer, "WKS-%04u", rng_below(&r, 5000));
        snprintf(pid, sizeof pid, "%u", 1000 + rng_below(&r, 60000));
        fprintf(truth, "%s\t%s\t%s\t%s\t%s\n", job_id, win10 ? "win10" : "win11", category,
                public_job ? "public-ip" : "other", url);

        const char *title = public_job ? "System Update" : "Chrome Component Updater";
        system_write(out, 3, win10 ? 2 : 3, 4, record++, t++, computer, "S-1-5-18");
        data_write(out, "jobTitle", title);
        data_write(out, "jobId", job_id);
        data_write(out, "jobOwner", "NT AUTHORITY\\SYSTEM");
        data_write(out, "processPath",
                   public_job ? "C:\\Windows\\System32\\bitsadmin.exe"
                              : "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe");
        data_write(out, "processId", pid);
        if (!win10)
            data_write(out, "ClientProcessStartKey", "3659174697241209");
        end_write(out);
        events++;
        if (!win10) {
            system_write(out, 16403, 0, 4, record++, t++, computer, "S-1-5-21-1992711665-1655669231-58201500-1000");
            data_write(out, "User", "WKS\\User");
            data_write(out, "jobTitle", title);
            data_write(out, "jobId", job_id);
            data_write(out, "jobOwner", "NT AUTHORITY\\SYSTEM");
            data_write(out, "fileCount", "1");
            data_write(out, "RemoteName", url);
            data_write(out, "LocalName", "C:\\Windows\\Temp\\BITS\\download.tmp");
            data_write(out, "processId", pid);
            data_write(out, "ClientProcessStartKey", "3659174697241209");
            end_write(out);
            events++;
        }
        for (unsigned id = 59; id <= 60; id++) {
            system_write(out, id, 1, 4, record++, t++, computer, "S-1-5-18");
            data_write(out, "transferId", "{2515F08C-3969-4086-B4EC-6E8ECA6B722E}");
            data_write(out, "name", title);
            data_write(out, "Id", job_id);
            data_write(out, "url", url);
            data_write(out, "peer", "");
            if (id == 60)
                data_write(out, "hr", "0");
            data_write(out, "fileTime", "2023-11-06 01:45:21");
            data_write(out, "fileLength", "302592");
            data_write(out, "bytesTotal", "302592");
            data_write(out, "bytesTransferred", id == 60 ? "302592" : "0");
            if (id == 60)
                data_write(out, "proxy", "");
            data_write(out, "bytesTransferredFromPeer", "0");
            end_write(out);
            events++;
        }
        system_write(out, 4, 1, 4, record++, t++, computer, "S-1-5-18");
        data_write(out, "User", "NT AUTHORITY\\SYSTEM");
        data_write(out, "jobTitle", title);
        data_write(out, "jobId", job_id);
        data_write(out, "jobOwner", "NT AUTHORITY\\SYSTEM");
        data_write(out, "fileCount", "1");
        data_write(out, "bytesTransferred", "302592");
        data_write(out, "bytesTransferredFromPeer", "0");
        end_write(out);
        events++;
        jobs++;
    }
    fputs("</Events>\n", out);
    int failed = ferror(out) || fclose(out) != 0 || ferror(truth) || fclose(truth) != 0;
    fprintf(stderr, "bench_gen: %" PRIu64 " events, %" PRIu64 " jobs\n", events, jobs);
    return failed ? 3 : 0;
}
