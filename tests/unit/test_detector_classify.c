/* Tests of the remote-name classifier: a flat table of name -> verdict, IP, kind, range, plus long names. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "classify.h"
#include "ipaddr.h"

typedef struct classify_case {
    const char *name;
    const char *verdict;
    const char *ip; /* NULL: no IP. */
    const char *kind;
    const char *range;   /* NULL: no range. */
    const char *reading; /* NULL: "whatwg" for URLs, "unc" for paths (IP verdicts), none otherwise. */
} classify_case;

#define PUB(n, ip, kind)                     \
    {                                        \
        n, "public-ip", ip, kind, NULL, NULL \
    }
#define PRIV(n, ip, kind, range)               \
    {                                          \
        n, "private-ip", ip, kind, range, NULL \
    }
/* An IP reached by the named reading. */
#define PUBR(n, ip, kind, reading)              \
    {                                           \
        n, "public-ip", ip, kind, NULL, reading \
    }
#define PRIVR(n, ip, kind, range, reading)        \
    {                                             \
        n, "private-ip", ip, kind, range, reading \
    }
#define DOM(n, kind)                        \
    {                                       \
        n, "domain", NULL, kind, NULL, NULL \
    }
#define LOCAL(n)                              \
    {                                         \
        n, "local", NULL, "local", NULL, NULL \
    }
#define BAD(n, kind)                         \
    {                                        \
        n, "invalid", NULL, kind, NULL, NULL \
    }

static const classify_case cases[] = {
    /* Plain URLs, case-insensitive schemes, surrounding whitespace and control characters. */
    DOM("http://edgedl.me.gvt1.com/edgedl/release2/chrome_component/acwcdm4bj7lx4xbm2ireywxlhvca_4.10.2710.0/"
        "oimompecagnajdejgnnjijobebaeigek_4.10.2710.0_win64_adsurwm4gclupf32xdrpgdnapira.crx3",
        "http"),
    PUB("http://45.33.32.156/x.exe", "45.33.32.156", "http"),
    PUB("https://45.33.32.156/x.exe", "45.33.32.156", "https"),
    PUB("HTTP://45.33.32.156/", "45.33.32.156", "http"),
    DOM("HtTpS://Example.COM/", "https"),
    PUB("  http://45.33.32.156/x  \r\n", "45.33.32.156", "http"),
    PUB("\t\x01http://8.8.8.8/\x7f", "8.8.8.8", "http"),
    PUB("http://8.8.8.8", "8.8.8.8", "http"),
    PUB("http://8.8.8.8?x=1", "8.8.8.8", "http"),
    PUB("http://8.8.8.8#frag", "8.8.8.8", "http"),
    PUB("http://8.8.8.8\\path", "8.8.8.8", "http"),
    PUB("http:\\\\8.8.8.8\\x", "8.8.8.8", "http"),
    PUB("http:8.8.8.8/x", "8.8.8.8", "http"),
    PUB("http:///8.8.8.8/x", "8.8.8.8", "http"),
    PUB("ht\ttp://8.8.8.8/", "8.8.8.8", "http"),
    PUB("http://8.8.\n8.8/", "8.8.8.8", "http"),
    /* Userinfo up to the last '@' is dropped; '@' after the authority is path. */
    PUB("http://user@45.33.32.156/", "45.33.32.156", "http"),
    PUB("http://user:pass@45.33.32.156:8080/", "45.33.32.156", "http"),
    PUB("http://a@b@45.33.32.156/", "45.33.32.156", "http"),
    PUB("http://10.0.0.1@45.33.32.156/", "45.33.32.156", "http"),
    DOM("http://45.33.32.156@example.com/", "http"),
    DOM("http://example.com/@45.33.32.156", "http"),
    /* Authority up to the first '/': '?' and '#' before it do not end the authority for every reader. */
    PUBR("http://example.com?@45.33.32.156", "45.33.32.156", "http", "authority"),
    PUBR("http://u#@45.33.32.156/", "45.33.32.156", "http", "authority"),
    PUBR("http://u?@45.33.32.156/x", "45.33.32.156", "http", "authority"),
    PRIVR("https://u?x=1@10.1.2.3/", "10.1.2.3", "https", "private-use", "authority"),
    DOM("http://example.com?x=1/@45.33.32.156", "http"),
    DOM("http://example.com#a@b.example/", "http"),
    /* A bracketed literal followed by ":port@host": a reader that takes the literal reaches it. */
    PUBR("http://[2606:4700::1]:80@example.com/", "2606:4700::1", "http", "authority"),
    PUB("http://[::1]:80@45.33.32.156/", "45.33.32.156", "http"),
    PRIVR("http://[::1]:80@example.com/", "::1", "http", "loopback", "authority"),
    /* RFC 3986-lenient: '\' is a userinfo character and the authority is split at its last '@'; the
     * WHATWG reading (where '\' ends the authority) of "IP\@host" stays IP. */
    PUBR("http://a.example\\@45.33.32.156/", "45.33.32.156", "http", "rfc3986"),
    PUBR("https://a.example\\x@45.33.32.156:443/y", "45.33.32.156", "https", "rfc3986"),
    PUBR("http://10.0.0.1\\@45.33.32.156/", "45.33.32.156", "http", "rfc3986"),
    PRIVR("http://a.example\\@10.0.0.1/", "10.0.0.1", "http", "private-use", "rfc3986"),
    PUB("http://45.33.32.156\\@a.example/", "45.33.32.156", "http"),
    DOM("http://a.example\\@b.example/", "http"),
    BAD("http://user@/", "http"),
    BAD("http://@/", "http"),
    /* Ports. */
    PUB("http://45.33.32.156:80/", "45.33.32.156", "http"),
    PUB("http://45.33.32.156:/", "45.33.32.156", "http"),
    PUB("http://45.33.32.156:65535/", "45.33.32.156", "http"),
    /* An out-of-range or over-long port (WinHTTP stores 16 bits) does not stop the host. */
    PUBR("http://45.33.32.156:65536/", "45.33.32.156", "http", "port16"),
    PUBR("http://45.33.32.156:99999999999999999999999/", "45.33.32.156", "http", "port16"),
    PRIVR("https://10.0.0.1:70000/", "10.0.0.1", "https", "private-use", "port16"),
    PUBR("http://a.example\\@45.33.32.156:65536/", "45.33.32.156", "http", "rfc3986"),
    DOM("http://example.com:65536/", "http"),
    BAD("http://45.33.32.156:8o/", "http"),
    BAD("http://1:::2/", "http"),
    BAD("http://:80/", "http"),
    BAD("http://45.33.32.156:80:90/", "http"),
    /* Not remote names BITS accepts. */
    BAD("", "unknown"),
    BAD("   \t ", "unknown"),
    BAD("http://", "http"),
    BAD("http:///", "http"),
    BAD("https://?x", "https"),
    BAD("example.com/x.exe", "unknown"),
    BAD("45.33.32.156/x.exe", "unknown"),
    BAD("ftp://45.33.32.156/x", "unknown"),
    BAD("javascript:alert(1)", "unknown"),
    BAD("mailto:a@45.33.32.156", "unknown"),
    BAD("httpx://45.33.32.156/", "unknown"),
    BAD("1http://45.33.32.156/", "unknown"),
    BAD("ht tp://45.33.32.156/", "unknown"),
    /* IPv4 in any inet_aton notation (Sigma misses hex, octal, zero-padded and integer forms). */
    PUB("http://0x2d.0x21.0x20.0x9c/", "45.33.32.156", "http"),
    PUB("http://0X2D.33.32.156/", "45.33.32.156", "http"),
    PUB("http://055.041.040.0234/", "45.33.32.156", "http"),
    PUB("http://010.0.0.1/", "8.0.0.1", "http"),
    PUB("http://045.033.032.0156/", "37.27.26.110", "http"),
    PUB("http://00000045.33.32.156/", "37.33.32.156", "http"),
    PUB("http://757145756/", "45.33.32.156", "http"),
    PUB("http://0x2d21209c/", "45.33.32.156", "http"),
    PUB("http://0x2D21209C/", "45.33.32.156", "http"),
    PUB("http://45.2171036/", "45.33.32.156", "http"),
    PUB("http://45.33.8348/", "45.33.32.156", "http"),
    PUB("http://45.0x21.0x209c/", "45.33.32.156", "http"),
    PUB("http://1.16777215/", "1.255.255.255", "http"),
    PRIV("http://0x.0x.0x.0x/", "0.0.0.0", "http", "this-network"),
    PRIV("http://0x/", "0.0.0.0", "http", "this-network"),
    PRIV("http://0/", "0.0.0.0", "http", "this-network"),
    PRIV("http://127.1/", "127.0.0.1", "http", "loopback"),
    PRIV("http://0177.0.0.1/", "127.0.0.1", "http", "loopback"),
    PRIV("http://2130706433/", "127.0.0.1", "http", "loopback"),
    PRIV("http://0x7f000001/", "127.0.0.1", "http", "loopback"),
    PRIV("http://0x7f.1/", "127.0.0.1", "http", "loopback"),
    PRIV("http://3232235777/", "192.168.1.1", "http", "private-use"),
    PRIV("http://4294967295/", "255.255.255.255", "http", "limited-broadcast"),
    PUB("http://45.33.32.156./", "45.33.32.156", "http"),
    /* WHATWG: with two trailing dots the last label is empty, so the host does not end in a number. */
    DOM("http://45.33.32.156../", "http"),
    BAD("http://.45.33.32.156/", "http"),
    BAD("http://45..33.32/", "http"),
    BAD("http://1.2.3.4.5/", "http"),
    BAD("http://256.1.1.1/", "http"),
    BAD("http://1.2.3.256/", "http"),
    BAD("http://1.2.65536/", "http"),
    BAD("http://1.16777216/", "http"),
    BAD("http://4294967296/", "http"),
    BAD("http://99999999999999999999999999999999.1/", "http"),
    BAD("http://0x1g.1.1.1/", "http"),
    BAD("http://08.1.1.1/", "http"),
    BAD("http://1.2.3.09/", "http"),
    BAD("http://0x100.1.1.1/", "http"),
    BAD("http://00x1.1.1.1/", "http"),
    BAD("http://-1.2.3.4/", "http"),
    BAD("http://example.123/", "http"),
    BAD("http://example.0x10/", "http"),
    BAD("http://example.09/", "http"),
    BAD("http://example.123./", "http"),
    DOM("http://example.0x1g/", "http"),
    BAD("http://foo.0x/", "http"),
    DOM("http://0x.com/", "http"),
    DOM("http://0x7f.1.example/", "http"),
    BAD("http://0x7f.1.example.1/", "http"),
    DOM("http://123.example/", "http"),
    DOM("http://1.2.3.4a/", "http"),
    /* Domains starting with a digit are domains (Sigma fires on them). */
    DOM("http://1drv.ms/x", "http"),
    DOM("http://360.cn/setup.exe", "http"),
    DOM("https://7-zip.org/a/7z2301-x64.exe", "https"),
    DOM("http://3.example.com/", "http"),
    /* A special-range prefix in the query or fragment must not suppress the verdict (Sigma does). */
    PUB("http://45.33.32.156/x?u=http://10.0.0.1/", "45.33.32.156", "http"),
    PUB("http://45.33.32.156/x?m=://7-zip", "45.33.32.156", "http"),
    PUB("http://45.33.32.156/x#://192.168.1.1/", "45.33.32.156", "http"),
    PUB("http://45.33.32.156/a/://127.0.0.1/b", "45.33.32.156", "http"),
    /* An IP only in the query string is a domain (Sigma fires on it). */
    DOM("http://r5---sn-5hnedn7l.gvt1.com/edgedl/release2/update2/ALmnr7lDhOvozdF08iOk7Ks_1.3.36.72/"
        "GoogleUpdateSetup.exe?cms_redirect=yes&mh=pH&mip=213.127.64.248&mm=28&mn=sn-5hnedn7l&ms=nvh",
        "http"),
    DOM("http://example.com/redirect?to=http://45.33.32.156/", "http"),
    /* Percent-decoding happens before the IPv4 check; forbidden code points make the host invalid. */
    PRIV("http://%31%32%37.0.0.1/", "127.0.0.1", "http", "loopback"),
    PUB("http://45%2e33%2E32%2e156/", "45.33.32.156", "http"),
    PUB("http://%34%35.33.32.156/", "45.33.32.156", "http"),
    PUB("http://%30x2d.33.32.156/", "45.33.32.156", "http"),
    DOM("http://exa%6Dple.com/", "http"),
    BAD("http://exa%2Fmple.com/", "http"),
    BAD("http://exa%25mple.com/", "http"),
    BAD("http://exa%zzmple.com/", "http"),
    BAD("http://exa%2mple.com/", "http"),
    /* Where inet_aton stops (space, form feed, vertical tab, NUL once decoded) and DEL: the address
     * before them. */
    PUBR("http://45.33.32.156%00/", "45.33.32.156", "http", "inet_aton"),
    PUBR("http://45.33.32.156 x/", "45.33.32.156", "http", "inet_aton"),
    PUBR("http://45.33.32.156\fevil.example/", "45.33.32.156", "http", "inet_aton"),
    PUBR("http://45.33.32.156\vx/", "45.33.32.156", "http", "inet_aton"),
    PUBR("http://45.33.32.156\x7f.evil.example/", "45.33.32.156", "http", "inet_aton"),
    PUBR("http://45.33.32.156%20x/", "45.33.32.156", "http", "inet_aton"),
    PUBR("http://0x2d.33.32.156%7fx/", "45.33.32.156", "http", "inet_aton"),
    PRIVR("http://127.1 x/", "127.0.0.1", "http", "loopback", "inet_aton"),
    BAD("http:// 45.33.32.156/", "http"),
    BAD("http://a<b.com/", "http"),
    BAD("http://a>b.com/", "http"),
    BAD("http://a^b.com/", "http"),
    BAD("http://a|b.com/", "http"),
    BAD("http://a b.com/", "http"),
    BAD("http://a%20b.com/", "http"),
    BAD("http://a\x01"
        "b.com/",
        "http"),
    /* Bracket misuse. */
    BAD("http://[::1]x/", "http"),
    BAD("http://[::1/", "http"),
    BAD("http://::1]/", "http"),
    BAD("http://a[b]/", "http"),
    BAD("http://[45.33.32.156]/", "http"),
    BAD("http://[]/", "http"),
    BAD("http://[[::1]]/", "http"),
    /* IPv6 literals (Sigma misses them) and RFC 5952 normalization. */
    PUB("http://[2606:4700:4700::1111]/", "2606:4700:4700::1111", "http"),
    PUB("http://[2606:4700:4700:0:0:0:0:1111]/", "2606:4700:4700::1111", "http"),
    PUB("http://[2606:4700:4700:0000:0000:0000:0000:1111]/", "2606:4700:4700::1111", "http"),
    PUB("http://[2606:4700:4700:0000:0000:0000:0000:1111]:443/x", "2606:4700:4700::1111", "http"),
    PUB("https://[2A00:1450:4001:82B::200E]/", "2a00:1450:4001:82b::200e", "https"),
    PUB("http://[2a00:0:0:1:0:0:0:1]/", "2a00:0:0:1::1", "http"),
    PUB("http://[2a00:0:0:1:1:0:0:1]/", "2a00::1:1:0:0:1", "http"),
    PUB("http://[2a00:1:0:1:1:1:1:1]/", "2a00:1:0:1:1:1:1:1", "http"),
    PUB("http://[2a00:1:2:3:4:5:6:0]/", "2a00:1:2:3:4:5:6:0", "http"),
    PUB("http://[2a00:1:2:3:4:5:0:0]/", "2a00:1:2:3:4:5::", "http"),
    PUB("http://[2a00::]/", "2a00::", "http"),
    PUB("https://user@[2606:4700::1]:443/", "2606:4700::1", "https"),
    PRIV("http://[2001:DB8::1]/", "2001:db8::1", "http", "documentation"),
    PRIV("http://[2001:0db8:0000:0000:0001:0000:0000:0001]/", "2001:db8::1:0:0:1", "http", "documentation"),
    PRIV("http://[2001:db8:0:0:1:0:0:0]/", "2001:db8:0:0:1::", "http", "documentation"),
    PRIV("http://[::]/", "::", "http", "unspecified"),
    PRIV("http://[::1]/", "::1", "http", "loopback"),
    PRIV("http://[0:0:0:0:0:0:0:1]/", "::1", "http", "loopback"),
    PRIV("http://[fe80::1%25eth0]/", "fe80::1", "http", "link-local"),
    PRIV("http://[fe80::1%eth0]/", "fe80::1", "http", "link-local"),
    PRIV("http://[fe80::1%2511]:80/", "fe80::1", "http", "link-local"),
    BAD("http://[fe80::1%]/", "http"),
    BAD("http://[fe80::1%25e/th]/", "http"),
    BAD("http://[fe80::1%e th]/", "http"),
    /* IPv4-in-IPv6 forms: mapped is reported as the IPv4, NAT64 and 6to4 by the embedded IPv4. */
    PUB("http://[::ffff:45.33.32.156]/", "45.33.32.156", "http"),
    PUB("http://[::FFFF:2d21:209c]/", "45.33.32.156", "http"),
    PRIV("http://[::ffff:10.0.0.1]/", "10.0.0.1", "http", "private-use"),
    PRIV("http://[::ffff:127.0.0.1]:8080/", "127.0.0.1", "http", "loopback"),
    PRIV("http://[::45.33.32.156]/", "::2d21:209c", "http", "ipv4-compatible"),
    PRIV("http://[::1.2.3.4]/", "::102:304", "http", "ipv4-compatible"),
    PRIV("http://[1::2:3.4.5.6]/", "1::2:304:506", "http", "reserved"),
    PUB("http://[64:ff9b::45.33.32.156]/", "64:ff9b::2d21:209c", "http"),
    PRIV("http://[64:ff9b::10.0.0.1]/", "64:ff9b::a00:1", "http", "private-use"),
    PRIV("http://[64:ff9b:1::1]/", "64:ff9b:1::1", "http", "local-use-translation"),
    PUB("http://[2002:2d21:209c::1]/", "2002:2d21:209c::1", "http"),
    PRIV("http://[2002:c0a8:0101::1]/", "2002:c0a8:101::1", "http", "private-use"),
    PRIV("http://[2002:7f00:1::]/", "2002:7f00:1::", "http", "loopback"),
    /* Bad IPv6. */
    BAD("http://[1:::2]/", "http"),
    BAD("http://[1:2:3:4:5:6:7:8:9]/", "http"),
    BAD("http://[1:2:3:4:5:6:7]/", "http"),
    BAD("http://[1::2::3]/", "http"),
    BAD("http://[12345::1]/", "http"),
    BAD("http://[::ffff:1.2.3]/", "http"),
    BAD("http://[::ffff:1.2.3.4.5]/", "http"),
    BAD("http://[::ffff:01.2.3.4]/", "http"),
    BAD("http://[::ffff:256.2.3.4]/", "http"),
    BAD("http://[::ffff:0x1.2.3.4]/", "http"),
    BAD("http://[1:2:3:4:5:6:7:1.2.3.4]/", "http"),
    BAD("http://[:1]/", "http"),
    BAD("http://[1:]/", "http"),
    BAD("http://[::g]/", "http"),
    BAD("http://[2606:4700::1]x/", "http"),
    BAD("http://[1:2:3:4:5:6:7:8::]/", "http"),
    /* UNC and file:// SMB names (Sigma misses them). */
    PUB("\\\\45.33.32.156\\share\\x.exe", "45.33.32.156", "smb"),
    PRIV("\\\\10.0.0.5\\c$\\x", "10.0.0.5", "smb", "private-use"),
    PRIV("\\\\127.0.0.1\\c$", "127.0.0.1", "smb", "loopback"),
    PRIV("\\\\localhost\\share", "127.0.0.1", "smb", "loopback"),
    PRIV("\\\\LOCALHOST\\share", "127.0.0.1", "smb", "loopback"),
    DOM("\\\\fileserver\\share\\setup.msi", "smb"),
    DOM("\\\\FileServer.corp.example.com\\share", "smb"),
    PUB("//45.33.32.156/share/x", "45.33.32.156", "smb"),
    PUB("/\\45.33.32.156\\share", "45.33.32.156", "smb"),
    PUB("\\\\?\\UNC\\45.33.32.156\\share\\x", "45.33.32.156", "smb"),
    PRIV("\\\\?\\unc\\10.1.1.1\\share", "10.1.1.1", "smb", "private-use"),
    PUB("\\\\.\\UNC\\45.33.32.156\\share", "45.33.32.156", "smb"),
    PUB("\\??\\UNC\\45.33.32.156\\share", "45.33.32.156", "smb"),
    PUB("\\\\0x2d.33.32.156\\share", "45.33.32.156", "smb"),
    PUBR("\\\\?\\GLOBALROOT\\Device\\Mup\\45.33.32.156\\share", "45.33.32.156", "smb", "unc-device"),
    PUBR("\\Device\\Mup\\45.33.32.156\\share", "45.33.32.156", "smb", "unc-device"),
    /* The redirector names the server after it; ';' components (";LanmanRedirector", a mapped drive's
     * ";Z:0...") come first. */
    PUBR("\\\\?\\GLOBALROOT\\Device\\Mup\\;LanmanRedirector\\45.33.32.156\\share\\x.exe", "45.33.32.156", "smb",
         "unc-device"),
    PUBR("\\\\?\\GLOBALROOT\\Device\\LanmanRedirector\\45.33.32.156\\share", "45.33.32.156", "smb", "unc-device"),
    PUBR("\\Device\\LanmanRedirector\\;Z:00000000000a1b2c\\45.33.32.156\\share", "45.33.32.156", "smb", "unc-device"),
    PUBR("\\\\?\\GLOBALROOT\\Device\\WebDavRedirector\\45.33.32.156\\DavWWWRoot\\x", "45.33.32.156", "smb",
         "unc-device"),
    PRIVR("\\\\.\\GLOBALROOT\\Device\\Mup\\;LanmanRedirector\\;Y:0000\\10.0.0.9\\s", "10.0.0.9", "smb", "private-use",
          "unc-device"),
    DOM("\\\\?\\GLOBALROOT\\Device\\LanmanRedirector\\fileserver\\share", "smb"),
    /* WebDAV forms that PathCreateFromUrl and DavGetUNCFromHTTPPath accept. */
    PUBR("file://45.33.32.156@SSL/DavWWWRoot/x.exe", "45.33.32.156", "smb", "webdav"),
    PUBR("file://45.33.32.156@SSL@443/DavWWWRoot/x.exe", "45.33.32.156", "smb", "webdav"),
    PUBR("\\\\http://45.33.32.156/x.exe", "45.33.32.156", "smb", "webdav"),
    PUBR("\\\\HTTPS://0x2d.33.32.156:8443/dav/x.exe", "45.33.32.156", "smb", "webdav"),
    PUBR("//http:\\\\45.33.32.156\\x", "45.33.32.156", "smb", "webdav"),
    DOM("\\\\http://example.com/x", "smb"),
    /* file://localhost//IP/share: WHATWG gives file:////IP/share, the UNC path \\IP\share. */
    PUB("file://localhost//45.33.32.156/share", "45.33.32.156", "smb"),
    PUB("file://LOCALHOST\\\\45.33.32.156\\share", "45.33.32.156", "smb"),
    LOCAL("file:///45.33.32.156/share"),
    LOCAL("file://localhost/45.33.32.156/share"),
    LOCAL("Z:\\45.33.32.156\\share"),
    PUB("//?/unc/45.33.32.156/share", "45.33.32.156", "smb"),
    LOCAL("\\\\?\\GLOBALROOT\\Device\\HarddiskVolume1\\x"),
    LOCAL("\\Device\\HarddiskVolume1\\x"),
    BAD("\\\\?\\UNC\\", "smb"),
    BAD("\\\\?\\", "unknown"),
    PUB("\\\\757145756\\share", "45.33.32.156", "smb"),
    PUB("\\\\[2606:4700::1]\\share", "2606:4700::1", "smb"),
    PUB("\\\\2606:4700::1\\share", "2606:4700::1", "smb"),
    PUB("\\\\2606-4700--1.ipv6-literal.net\\share", "2606:4700::1", "smb"),
    PUB("\\\\2606-4700--1.IPV6-LITERAL.NET\\share", "2606:4700::1", "smb"),
    PRIV("\\\\2001-db8--1.ipv6-literal.net\\share", "2001:db8::1", "smb", "documentation"),
    PRIV("\\\\fe80--1seth0.ipv6-literal.net\\share", "fe80::1", "smb", "link-local"),
    PUB("http://2606-4700--1.ipv6-literal.net/x", "2606:4700::1", "http"),
    BAD("\\\\zz.ipv6-literal.net\\share", "smb"),
    DOM("\\\\ipv6-literal.net\\share", "smb"),
    PUBR("\\\\45.33.32.156@SSL@443\\DavWWWRoot\\x", "45.33.32.156", "smb", "webdav"),
    PUBR("\\\\45.33.32.156@8080\\x", "45.33.32.156", "smb", "webdav"),
    BAD("\\\\\\share", "smb"),
    BAD("\\\\", "smb"),
    BAD("\\\\a b\\x", "smb"),
    BAD("\\\\1.2.3.4.5\\x", "smb"),
    BAD("\\\\host:445\\x", "smb"),
    PUB("file://45.33.32.156/share/x", "45.33.32.156", "smb"),
    DOM("file://fileserver/share/x", "smb"),
    PRIV("FILE://10.0.0.1/s", "10.0.0.1", "smb", "private-use"),
    PUB("file:////45.33.32.156/share", "45.33.32.156", "smb"),
    PUB("file:\\\\45.33.32.156\\share", "45.33.32.156", "smb"),
    PUB("file://%34%35.33.32.156/share", "45.33.32.156", "smb"),
    PUB("file://[2606:4700::1]/share", "2606:4700::1", "smb"),
    PUBR("file://45.33.32.156:445/share", "45.33.32.156", "smb", "port16"),
    PUBR("file://user@45.33.32.156/share", "45.33.32.156", "smb", "rfc3986"),
    BAD("file://45.33.32.156:44x/share", "smb"),
    /* Local paths. */
    LOCAL("file:///C:/Windows/x.exe"),
    LOCAL("file://localhost/C:/x"),
    LOCAL("file://LOCALHOST/C:/x"),
    LOCAL("file://C:/x"),
    LOCAL("file://C|/x"),
    LOCAL("file:/C:/x"),
    LOCAL("file:C:/x"),
    LOCAL("file:///home/x"),
    LOCAL("C:\\Users\\x\\a.exe"),
    LOCAL("c:/x"),
    LOCAL("Z:\\share\\x"),
    LOCAL("\\\\?\\C:\\x"),
    LOCAL("\\\\.\\C:\\x"),
    LOCAL("\\\\.\\pipe\\x"),
    LOCAL("\\\\?\\Volume{12345678-1234-1234-1234-123456789abc}\\x"),
    LOCAL("\\??\\C:\\x"),
    LOCAL("\\Windows\\x"),
    /* Wildcard DNS (wildcard_dns.def): the verdict of the IP written in the name. */
    PUBR("http://payload-93-184-215-14.nip.io/x.exe", "93.184.215.14", "http", "wildcard-dns"),
    PRIVR("http://127.0.0.1.nip.io/", "127.0.0.1", "http", "loopback", "wildcard-dns"),
    PRIVR("http://anything.lvh.me/", "127.0.0.1", "http", "loopback", "wildcard-dns"),
    PRIVR("http://LVH.ME./", "127.0.0.1", "http", "loopback", "wildcard-dns"),
    PRIVR("https://a.b.localtest.me/", "127.0.0.1", "https", "loopback", "wildcard-dns"),
    PRIVR("http://x.vcap.me/", "127.0.0.1", "http", "loopback", "wildcard-dns"),
    PRIVR("http://x.lacolhost.com/", "127.0.0.1", "http", "loopback", "wildcard-dns"),
    PUBR("http://45.33.32.156.nip.io/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://app.45.33.32.156.nip.io/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://app-45.33.32.156.nip.io/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://45-33-32-156.nip.io/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://2d21209c.nip.io/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://app-2D21209C.NIP.IO/", "45.33.32.156", "http", "wildcard-dns"),
    PRIVR("http://c0a80101.nip.io/", "192.168.1.1", "http", "private-use", "wildcard-dns"),
    PUBR("http://u:p@45.33.32.156.nip.io.:8080/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("https://45-33-32-156.sslip.io/", "45.33.32.156", "https", "wildcard-dns"),
    PUBR("https://www.2606-4700--1111.sslip.io/", "2606:4700::1111", "https", "wildcard-dns"),
    PRIVR("http://--1.sslip.io/", "::1", "http", "loopback", "wildcard-dns"),
    PUBR("http://www.45.33.32.156.xip.io/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://www-45-33-32-156.traefik.me/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://2d21209c.traefik.me/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://45.33.32.156.local-ip.sh/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://45-33-32-156.local-ip.sh/", "45.33.32.156", "http", "wildcard-dns"),
    PUBR("http://2606-4700--1111.ip6.name/", "2606:4700::1111", "http", "wildcard-dns"),
    PUBR("http://x.2606.4700.0.0.0.0.0.1111.ip6.name/", "2606:4700::1111", "http", "wildcard-dns"),
    PUBR("http://2.6.0.6.4.7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.1.1.1.ip6.name/", "2606:4700::1111", "http",
         "wildcard-dns"),
    PUBR("\\\\45.33.32.156.nip.io@SSL\\DavWWWRoot\\x", "45.33.32.156", "smb", "wildcard-dns"),
    PUBR("file://45-33-32-156.sslip.io/share/x", "45.33.32.156", "smb", "wildcard-dns"),
    PUBR("http://a.example\\@45.33.32.156.nip.io/", "45.33.32.156", "http", "wildcard-dns"),
    DOM("http://nip.io/", "http"),
    DOM("http://sslip.io/", "http"),
    DOM("http://example.nip.io/", "http"),
    DOM("http://1.2.3.nip.io/", "http"),
    DOM("http://256.1.1.1.nip.io/", "http"),
    DOM("http://1234.33.32.156.nip.io/", "http"),
    DOM("http://45.33.32.156x.nip.io/", "http"),
    DOM("http://2d21209.nip.io/", "http"),
    DOM("http://x2d21209c.nip.io/", "http"),
    DOM("http://45.33.32.156.example.io/", "http"),
    DOM("http://45-33-32-156.notnip.io/", "http"),
    DOM("http://45.33.32.156.nip.io.example.com/", "http"),
    DOM("http://2d21209c.local-ip.sh/", "http"),
    DOM("http://zz--1.sslip.io/", "http"),
    DOM("http://1.2.3.4.5.6.7.ip6.name/", "http"),
    /* localhost is loopback; IDNA hosts are domains. */
    PRIV("http://localhost/x", "127.0.0.1", "http", "loopback"),
    PRIV("http://LocalHost./x", "127.0.0.1", "http", "loopback"),
    DOM("http://localhost.example.com/", "http"),
    DOM("http://b\xc3\xbc"
        "cher.example/",
        "http"),
    DOM("http://xn--bcher-kva.example/", "http"),
    DOM("http://%C3%BC.example/", "http"),
    DOM("http://\xef\xbd\x85xample.com/", "http"),
    BAD("http://\xef\xbc/", "http"),
    BAD("http://a\xe3\x80/", "http"),
    BAD("http://a\xe3\x80.com/", "http"),
    BAD("http://%FF.example/", "http"),
    BAD("http://%C0%AE.example/", "http"),
    BAD("http://%ED%A0%80.example/", "http"),
    BAD("http://%F4%90%80%80.example/", "http"),
    DOM("http://%F0%9F%98%80.example/", "http"),
    DOM("http://\xe3\x80\x83.com/", "http"),
    /* Fullwidth digits and ideographic full stops map to ASCII under UTS 46, as browsers do. */
    PUB("http://\xef\xbc\x94\xef\xbc\x95.33.32.156/", "45.33.32.156", "http"),
    PRIV("http://127\xe3\x80\x82\x30\xef\xbd\xa1\x30\xef\xbc\x8e\x31/", "127.0.0.1", "http", "loopback"),
    PUB("http://%EF%BC%94%EF%BC%95.33.32.156/", "45.33.32.156", "http"),
    BAD("http://example.\xef\xbc\x91/", "http"),
    BAD("http://a\xef\xbc\x8f"
        "b/",
        "http"),
    /* UTS 46 as WHATWG's domain-to-ASCII applies it (the current pinned table; Node's URL gives the same
     * address for each "whatwg" line), and IDNA2003 where UTS 46 refuses. */
    PUB("http://\xe2\x91\xa3\xe2\x91\xa4.33.32.156/", "45.33.32.156", "http"),         /* circled digits */
    PUB("http://\xf0\x9d\x9f\x92\xf0\x9d\x9f\x93.33.32.156/", "45.33.32.156", "http"), /* mathematical bold digits */
    PUB("http://\xf0\x9f\xaf\xb4\xf0\x9f\xaf\xb5.33.32.156/", "45.33.32.156", "http"), /* segmented digits */
    PUB("http://\xe2\x81\xb4\xe2\x81\xb5.33.32.156/", "45.33.32.156", "http"),         /* superscript digits */
    PUB("http://4\xc2\xad"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* soft hyphen (ignored) */
    PUB("http://4\xe2\x80\x8b"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* zero-width space (ignored) */
    PUB("http://4\xe2\x81\xa0"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* word joiner (ignored) */
    PUB("http://\xef\xbb\xbf"
        "45.33.32.156/",
        "45.33.32.156", "http"), /* BOM (ignored) */
    PUB("http://4\xcd\x8f"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* combining grapheme joiner (ignored) */
    PUB("http://4\xef\xb8\x8f"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* variation selector (ignored) */
    PUB("http://4\xf3\xa0\x84\x80"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* variation selector supplement (ignored) */
    PUB("http://4\xe1\xa0\x8b"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* Mongolian free variation selector (ignored) */
    PUB("http://4\xf0\x9b\xb2\xa0"
        "5.33.32.156/",
        "45.33.32.156", "http"), /* shorthand format letter overlap (ignored) */
    PUB("http://45\xef\xbc\x8e"
        "33\xef\xbc\x8e"
        "32\xef\xbc\x8e"
        "156/",
        "45.33.32.156", "http"),                                     /* fullwidth full stops */
    PUB("http://45.33.32.156\xe3\x80\x82/", "45.33.32.156", "http"), /* ideographic full stop as the trailing dot */
    PUB("http://\xef\xbc\x90\xef\xbd\x98\xef\xbc\x92\xef\xbd\x84.33.32.156/", "45.33.32.156",
        "http"), /* fullwidth hex */
    PUB("http://\xf0\x9d\x9f\x8e\xf0\x9d\x90\xb1\xf0\x9d\x9f\x90\xf0\x9d\x90\x9d.33.32.156/", "45.33.32.156",
        "http"),                                                                                 /* mathematical hex */
    PRIV("http://1\xe2\x81\xb0.0.0.1/", "10.0.0.1", "http", "private-use"),                      /* superscript zero */
    PRIV("http://\xe2\x91\xa0\xe2\x91\xa1\xe2\x91\xa6.0.0.1/", "127.0.0.1", "http", "loopback"), /* circled */
    PRIV("http://\xe2\x91\xa9.0.0.1/", "10.0.0.1", "http", "private-use"),                       /* circled ten */
    PUB("http://\xc2\xb9\xc2\xb2\xc2\xb3.1.1.1/", "123.1.1.1", "http"),  /* Latin-1 superscripts */
    PUB("http://45%C2%AD.33.32.156/", "45.33.32.156", "http"),           /* percent-encoded soft hyphen */
    PUB("http://%E2%91%A3%E2%91%A4.33.32.156/", "45.33.32.156", "http"), /* percent-encoded circled digits */
    PUB("http://45.33\xe3\x85\xa4.32.156/", "45.33.32.156",
        "http"), /* U+3164: ignored since Unicode 16, disallowed in 15 (Node 20) */
    PUBR("http://4\xe2\x92\x8c"
         "33.32.156/",
         "45.33.32.156", "http", "idna2003"), /* U+248C DIGIT FIVE FULL STOP: '5.' in IDNA2003, disallowed in UTS 46 */
    PUBR("http://\xe2\x92\x88\xe2\x92\x89/", "1.0.0.2", "http", "idna2003"), /* digit full stops */
    PUBR("http://4\xe2\x80\x8c"
         "5.33.32.156/",
         "45.33.32.156", "http", "idna2003"), /* ZWNJ: removed by IDNA2003, CheckJoiners fails in UTS 46 */
    PUBR("http://4\xe2\x80\x8d"
         "5.33.32.156/",
         "45.33.32.156", "http", "idna2003"), /* ZWJ */
    PUBR("http://45\xe2\x80\xa4"
         "33.32.156/",
         "45.33.32.156", "http", "idna2003"), /* one dot leader */
    PUBR("http://45\xef\xb9\x92"
         "33.32.156/",
         "45.33.32.156", "http", "idna2003"),                  /* small full stop */
    BAD("http://\xe2\x91\xb4\xe2\x91\xb5.33.32.156/", "http"), /* parenthesized digits map to '(4)(5)': no address */
    DOM("http://\xe2\x91\xb4.\xe2\x91\xb5.\xe2\x91\xb6.\xe2\x91\xb7/",
        "http"), /* parenthesized digits only: a domain */
    PUBR("http://"
         "\xef\xbc\x94\xef\xbc\x95-\xef\xbc\x93\xef\xbc\x93-\xef\xbc\x93\xef\xbc\x92-"
         "\xef\xbc\x91\xef\xbc\x95\xef\xbc\x96.nip.io/",
         "45.33.32.156", "http", "wildcard-dns"),     /* fullwidth wildcard-DNS name */
    DOM("http://\xf0\x9d\x9f\x92x.example/", "http"), /* mapped but not an address */
    /* Every special IPv4 range: one below, first, last, one above (and the global holes). */
    PRIV("http://0.0.0.0/", "0.0.0.0", "http", "this-network"),
    PRIV("http://0.255.255.255/", "0.255.255.255", "http", "this-network"),
    PUB("http://1.0.0.0/", "1.0.0.0", "http"),
    PUB("http://9.255.255.255/", "9.255.255.255", "http"),
    PRIV("http://10.0.0.0/", "10.0.0.0", "http", "private-use"),
    PRIV("http://10.255.255.255/", "10.255.255.255", "http", "private-use"),
    PUB("http://11.0.0.0/", "11.0.0.0", "http"),
    PUB("http://100.63.255.255/", "100.63.255.255", "http"),
    PRIV("http://100.64.0.0/", "100.64.0.0", "http", "shared-address-space"),
    PRIV("http://100.127.255.255/", "100.127.255.255", "http", "shared-address-space"),
    PUB("http://100.128.0.0/", "100.128.0.0", "http"),
    PUB("http://126.255.255.255/", "126.255.255.255", "http"),
    PRIV("http://127.0.0.0/", "127.0.0.0", "http", "loopback"),
    PRIV("http://127.255.255.255/", "127.255.255.255", "http", "loopback"),
    PUB("http://128.0.0.0/", "128.0.0.0", "http"),
    PUB("http://169.253.255.255/", "169.253.255.255", "http"),
    PRIV("http://169.254.0.0/", "169.254.0.0", "http", "link-local"),
    PRIV("http://169.254.255.255/", "169.254.255.255", "http", "link-local"),
    PUB("http://169.255.0.0/", "169.255.0.0", "http"),
    PUB("http://172.15.255.255/", "172.15.255.255", "http"),
    PRIV("http://172.16.0.0/", "172.16.0.0", "http", "private-use"),
    PRIV("http://172.31.255.255/", "172.31.255.255", "http", "private-use"),
    PUB("http://172.32.0.0/", "172.32.0.0", "http"),
    PUB("http://191.255.255.255/", "191.255.255.255", "http"),
    PRIV("http://192.0.0.0/", "192.0.0.0", "http", "ietf-protocol-assignments"),
    PRIV("http://192.0.0.8/", "192.0.0.8", "http", "ietf-protocol-assignments"),
    PUB("http://192.0.0.9/", "192.0.0.9", "http"),
    PUB("http://192.0.0.10/", "192.0.0.10", "http"),
    PRIV("http://192.0.0.11/", "192.0.0.11", "http", "ietf-protocol-assignments"),
    PRIV("http://192.0.0.255/", "192.0.0.255", "http", "ietf-protocol-assignments"),
    PUB("http://192.0.1.0/", "192.0.1.0", "http"),
    PUB("http://192.0.1.255/", "192.0.1.255", "http"),
    PRIV("http://192.0.2.0/", "192.0.2.0", "http", "documentation"),
    PRIV("http://192.0.2.255/", "192.0.2.255", "http", "documentation"),
    PUB("http://192.0.3.0/", "192.0.3.0", "http"),
    PUB("http://192.31.196.1/", "192.31.196.1", "http"),
    PUB("http://192.52.193.1/", "192.52.193.1", "http"),
    PUB("http://192.88.98.255/", "192.88.98.255", "http"),
    /* 192.88.99.0/24: deprecated 6to4 relay anycast, and no registry row says not globally reachable. */
    PUB("http://192.88.99.0/", "192.88.99.0", "http"),
    PUB("http://192.88.99.255/", "192.88.99.255", "http"),
    PUB("http://192.88.100.0/", "192.88.100.0", "http"),
    PUB("http://192.167.255.255/", "192.167.255.255", "http"),
    PRIV("http://192.168.0.0/", "192.168.0.0", "http", "private-use"),
    PRIV("http://192.168.255.255/", "192.168.255.255", "http", "private-use"),
    PUB("http://192.169.0.0/", "192.169.0.0", "http"),
    PUB("http://192.175.48.1/", "192.175.48.1", "http"),
    PUB("http://198.17.255.255/", "198.17.255.255", "http"),
    PRIV("http://198.18.0.0/", "198.18.0.0", "http", "benchmarking"),
    PRIV("http://198.19.255.255/", "198.19.255.255", "http", "benchmarking"),
    PUB("http://198.20.0.0/", "198.20.0.0", "http"),
    PUB("http://198.51.99.255/", "198.51.99.255", "http"),
    PRIV("http://198.51.100.0/", "198.51.100.0", "http", "documentation"),
    PRIV("http://198.51.100.255/", "198.51.100.255", "http", "documentation"),
    PUB("http://198.51.101.0/", "198.51.101.0", "http"),
    PUB("http://203.0.112.255/", "203.0.112.255", "http"),
    PRIV("http://203.0.113.0/", "203.0.113.0", "http", "documentation"),
    PRIV("http://203.0.113.255/", "203.0.113.255", "http", "documentation"),
    PUB("http://203.0.114.0/", "203.0.114.0", "http"),
    PUB("http://223.255.255.255/", "223.255.255.255", "http"),
    PRIV("http://224.0.0.0/", "224.0.0.0", "http", "multicast"),
    PRIV("http://239.255.255.255/", "239.255.255.255", "http", "multicast"),
    PRIV("http://240.0.0.0/", "240.0.0.0", "http", "reserved"),
    PRIV("http://255.255.255.254/", "255.255.255.254", "http", "reserved"),
    PRIV("http://255.255.255.255/", "255.255.255.255", "http", "limited-broadcast"),
    /* Every special IPv6 range and global exception: boundaries where the neighbour differs. */
    PRIV("http://[::2]/", "::2", "http", "ipv4-compatible"),
    PRIV("http://[::ffff:ffff]/", "::ffff:ffff", "http", "ipv4-compatible"),
    PRIV("http://[0:0:0:0:0:1::]/", "::1:0:0", "http", "reserved"),
    PRIV("http://[64:ff9b::]/", "64:ff9b::", "http", "this-network"),
    PRIV("http://[64:ff9b::ffff:ffff]/", "64:ff9b::ffff:ffff", "http", "limited-broadcast"),
    PRIV("http://[64:ff9b::1:0:0]/", "64:ff9b::1:0:0", "http", "reserved"),
    PRIV("http://[64:ff9b:0:ffff:ffff:ffff:ffff:ffff]/", "64:ff9b:0:ffff:ffff:ffff:ffff:ffff", "http", "reserved"),
    PRIV("http://[64:ff9b:1::]/", "64:ff9b:1::", "http", "local-use-translation"),
    PRIV("http://[64:ff9b:1:ffff:ffff:ffff:ffff:ffff]/", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "http",
         "local-use-translation"),
    PRIV("http://[64:ff9b:2::]/", "64:ff9b:2::", "http", "reserved"),
    PRIV("http://[100::]/", "100::", "http", "discard-only"),
    PRIV("http://[100::ffff:ffff:ffff:ffff]/", "100::ffff:ffff:ffff:ffff", "http", "discard-only"),
    PRIV("http://[100:0:0:1::]/", "100:0:0:1::", "http", "dummy-prefix"),
    PRIV("http://[100:0:0:2::]/", "100:0:0:2::", "http", "reserved"),
    PRIV("http://[1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "reserved"),
    PUB("http://[2000::]/", "2000::", "http"),
    PUB("http://[2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    /* Teredo 2001::/32: the peer is reached directly. */
    PUB("http://[2001::]/", "2001::", "http"),
    PUB("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "http"),
    PUB("http://[2001:0:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    PRIV("http://[2001:1::]/", "2001:1::", "http", "ietf-protocol-assignments"),
    PUB("http://[2001:1::1]/", "2001:1::1", "http"),
    PUB("http://[2001:1::2]/", "2001:1::2", "http"),
    PUB("http://[2001:1::3]/", "2001:1::3", "http"),
    PRIV("http://[2001:1::4]/", "2001:1::4", "http", "ietf-protocol-assignments"),
    PRIV("http://[2001:2:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:2:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "ietf-protocol-assignments"),
    PUB("http://[2001:3::]/", "2001:3::", "http"),
    PUB("http://[2001:3:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    PRIV("http://[2001:4::]/", "2001:4::", "http", "ietf-protocol-assignments"),
    PRIV("http://[2001:4:111:ffff:ffff:ffff:ffff:ffff]/", "2001:4:111:ffff:ffff:ffff:ffff:ffff", "http",
         "ietf-protocol-assignments"),
    PUB("http://[2001:4:112::]/", "2001:4:112::", "http"),
    PUB("http://[2001:4:112:ffff:ffff:ffff:ffff:ffff]/", "2001:4:112:ffff:ffff:ffff:ffff:ffff", "http"),
    PRIV("http://[2001:4:113::]/", "2001:4:113::", "http", "ietf-protocol-assignments"),
    PRIV("http://[2001:1f:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "ietf-protocol-assignments"),
    PUB("http://[2001:20::]/", "2001:20::", "http"),
    PUB("http://[2001:2f:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    PUB("http://[2001:30::]/", "2001:30::", "http"),
    PUB("http://[2001:3f:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    PRIV("http://[2001:40::]/", "2001:40::", "http", "ietf-protocol-assignments"),
    PRIV("http://[2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "ietf-protocol-assignments"),
    PUB("http://[2001:200::]/", "2001:200::", "http"),
    PUB("http://[2001:db7:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    PRIV("http://[2001:db8::]/", "2001:db8::", "http", "documentation"),
    PRIV("http://[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]/", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "documentation"),
    PUB("http://[2001:db9::]/", "2001:db9::", "http"),
    PUB("http://[3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    PRIV("http://[3fff::]/", "3fff::", "http", "documentation"),
    PRIV("http://[3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff]/", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "documentation"),
    PUB("http://[3fff:1000::]/", "3fff:1000::", "http"),
    PUB("http://[3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http"),
    PRIV("http://[4000::]/", "4000::", "http", "reserved"),
    PRIV("http://[5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "reserved"),
    PRIV("http://[5f00::]/", "5f00::", "http", "srv6-sids"),
    PRIV("http://[5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "srv6-sids"),
    PRIV("http://[5f01::]/", "5f01::", "http", "reserved"),
    PRIV("http://[fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "reserved"),
    PRIV("http://[fc00::]/", "fc00::", "http", "unique-local"),
    PRIV("http://[fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "unique-local"),
    PRIV("http://[fe00::]/", "fe00::", "http", "reserved"),
    PRIV("http://[fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "reserved"),
    PRIV("http://[fe80::]/", "fe80::", "http", "link-local"),
    PRIV("http://[febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "link-local"),
    PRIV("http://[fec0::]/", "fec0::", "http", "site-local"),
    PRIV("http://[feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "site-local"),
    PRIV("http://[ff00::]/", "ff00::", "http", "multicast"),
    PRIV("http://[ff02::1]/", "ff02::1", "http", "multicast"),
    PRIV("http://[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "http",
         "multicast"),
    PRIV("http://[2002::]/", "2002::", "http", "this-network"),
    PRIV("http://[2002:ffff:ffff::]/", "2002:ffff:ffff::", "http", "limited-broadcast"),
    PUB("http://[2002:0100::]/", "2002:100::", "http"),
    PRIV("http://[2002:a00::]/", "2002:a00::", "http", "private-use"),
    PUB("http://[2003::]/", "2003::", "http"),
    PRIV("http://[::ffff:0.0.0.0]/", "0.0.0.0", "http", "this-network"),
    PUB("http://[::ffff:1.0.0.0]/", "1.0.0.0", "http"),
};

static void test_table(void)
{
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t k = 0; k < n; k++) {
        const classify_case *c = &cases[k];
        classify_result r;
        classify_name(c->name, strlen(c->name), &r);
        CHECK_STR_EQ_CTX(c->name, classify_verdict_name(r.verdict), c->verdict);
        CHECK_STR_EQ_CTX(c->name, r.ip[0] ? r.ip : NULL, c->ip);
        CHECK_STR_EQ_CTX(c->name, classify_kind_name(r.kind), c->kind);
        CHECK_STR_EQ_CTX(c->name, r.range, c->range);
        /* The invariants every caller relies on. */
        int is_ip = r.verdict == VERDICT_PUBLIC_IP || r.verdict == VERDICT_PRIVATE_IP;
        const char *reading = c->reading;
        if (!reading && is_ip) {
            const char *q = c->name;
            while (*q && (unsigned char)*q <= 0x20)
                q++;
            reading = strchr("hHfF", *q) ? "whatwg" : "unc";
        }
        CHECK_STR_EQ_CTX(c->name, classify_reading_name(r.reading), reading);
        CHECK(is_ip == (r.ip[0] != '\0'));
        CHECK((r.verdict == VERDICT_PRIVATE_IP) == (r.range != NULL));
        CHECK(r.kind != KIND_UNKNOWN || r.verdict == VERDICT_INVALID);
    }
    fprintf(stderr, "%u table cases\n", (unsigned)n);
    CHECK(n >= 150);
}

/* The result's host, address bytes and IPv6 flag. */
static void test_result_fields(void)
{
    classify_result r;
    const char *name = "http://User:Pw@EXA%6dple.COM.:8080/path?q";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.host, "example.com.");
    CHECK_INT_EQ(r.is_ipv6, 0);
    CHECK_INT_EQ(r.host_truncated, 0);

    name = "http://0x2d.33.8348/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.host, "45.33.32.156");
    CHECK_INT_EQ(r.addr[0], 45);
    CHECK_INT_EQ(r.addr[3], 156);
    CHECK_INT_EQ(r.is_ipv6, 0);

    name = "http://[2606:4700::1]/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.host, "[2606:4700::1]");
    CHECK_INT_EQ(r.is_ipv6, 1);
    CHECK_INT_EQ(r.addr[0], 0x26);
    CHECK_INT_EQ(r.addr[15], 1);

    name = "http://[::ffff:45.33.32.156]/";
    classify_name(name, strlen(name), &r);
    CHECK_INT_EQ(r.is_ipv6, 0);
    CHECK_INT_EQ(r.addr[0], 45);
    CHECK_INT_EQ(r.addr[4], 0);

    /* NAT64 and 6to4 are reported as the IPv6 literal with the IPv4 address they carry beside it. */
    name = "http://[64:ff9b::45.33.32.156]/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.ip, "64:ff9b::2d21:209c");
    CHECK_STR_EQ(r.embedded_ipv4, "45.33.32.156");
    CHECK_INT_EQ(r.verdict, VERDICT_PUBLIC_IP);
    name = "http://[2002:c0a8:0101::1]/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.embedded_ipv4, "192.168.1.1");
    CHECK_INT_EQ(r.verdict, VERDICT_PRIVATE_IP);
    name = "http://[2606:4700::1]/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.embedded_ipv4, "");
    name = "http://[::ffff:45.33.32.156]/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.embedded_ipv4, "");

    /* A wildcard-DNS name keeps its name as the host, beside the IP it resolves to. */
    name = "https://Payload-93-184-215-14.NIP.io/x";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.host, "payload-93-184-215-14.nip.io");
    CHECK_STR_EQ(r.ip, "93.184.215.14");
    CHECK_STR_EQ(classify_reading_name(r.reading), "wildcard-dns");
    name = "http://x.2606-4700--1.sslip.io/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.host, "x.2606-4700--1.sslip.io");
    CHECK_INT_EQ(r.is_ipv6, 1);

    /* Another reading's result replaces WHATWG's whole: host and IP agree. */
    name = "http://a.example\\@45.33.32.156/";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.host, "45.33.32.156");

    name = "C:\\x";
    classify_name(name, strlen(name), &r);
    CHECK_STR_EQ(r.host, "");
    CHECK_INT_EQ(r.reading, READING_NONE);

    /* The length argument is honoured: the name need not be NUL-terminated. */
    name = "http://45.33.32.156/x";
    classify_name(name, 14, &r); /* "http://45.33.3" */
    CHECK_STR_EQ(r.ip, "45.33.0.3");
    classify_name(NULL, 0, &r);
    CHECK_INT_EQ(r.verdict, VERDICT_INVALID);
}

/* Builds prefix + count * fill + suffix in a heap buffer. */
static char *long_name(const char *prefix, const char *fill, size_t count, const char *suffix, size_t *len)
{
    size_t pl = strlen(prefix), fl = strlen(fill), sl = strlen(suffix);
    char *s = malloc(pl + fl * count + sl + 1);
    if (!s)
        return NULL;
    memcpy(s, prefix, pl);
    for (size_t k = 0; k < count; k++)
        memcpy(s + pl + k * fl, fill, fl);
    memcpy(s + pl + fl * count, suffix, sl + 1);
    *len = pl + fl * count + sl;
    return s;
}

typedef struct long_case {
    const char *prefix, *fill;
    size_t count;
    const char *suffix, *verdict, *ip;
} long_case;

/* 100 KB names: no overflow, no wrap-around, the whole host is classified, the display copy is cut. */
static void test_long_names(void)
{
    static const long_case longs[] = {
        {"http://", "a", 100000, ".com/", "domain", NULL},
        {"http://45.33.32.156/", "x", 100000, "", "public-ip", "45.33.32.156"},
        {"http://45.33.32.156/?", "://10.", 20000, "", "public-ip", "45.33.32.156"},
        {"http://", "0", 1000, "177.0.0.1/", "private-ip", "127.0.0.1"},
        {"http://", "9", 1000, ".0.0.1/", "invalid", NULL},
        {"http://1.", "9", 1000, "/", "invalid", NULL},
        {"http://0x", "f", 1000, "/", "invalid", NULL},
        {"http://0x", "0", 1000, "2d21209c/", "public-ip", "45.33.32.156"},
        {"http://", "a.", 60000, "1/", "invalid", NULL},
        {"http://", "a", 300, "/", "domain", NULL},
        {"http://", "a", 300, ".45/", "invalid", NULL},
        {"http://user", "@", 50000, "45.33.32.156/", "public-ip", "45.33.32.156"},
        {"\\\\", "a", 100000, "\\share", "domain", NULL},
        {"\\\\", "1.", 50000, "\\share", "invalid", NULL},
        {"http://[", "1:", 50000, "]/", "invalid", NULL},
        {"http://45.33.32.156:", "8", 100000, "/", "public-ip", "45.33.32.156"},
        {"http://45.33.32.156:", "x", 100000, "/", "invalid", NULL},
        {"http://a.example\\", "@", 50000, "45.33.32.156/", "public-ip", "45.33.32.156"},
        {"http://u", "?", 100000, "@45.33.32.156/", "public-ip", "45.33.32.156"},
        {"http://45.33.32.156", " ", 100000, "/", "public-ip", "45.33.32.156"},
        {"http://x.", "1.", 60000, "45.33.32.156.nip.io/", "domain", NULL}, /* No DNS name is that long. */
        {"http://", "%41", 30000, "/", "domain", NULL},
        {"http://45.33.32.156", ".", 100000, "/", "domain", NULL},
        {"http://1", ".1", 100000, "/", "invalid", NULL},
        {" ", " ", 100000, "http://45.33.32.156/", "public-ip", "45.33.32.156"},
    };
    for (size_t k = 0; k < sizeof longs / sizeof longs[0]; k++) {
        size_t len = 0;
        char *name = long_name(longs[k].prefix, longs[k].fill, longs[k].count, longs[k].suffix, &len);
        CHECK(name != NULL);
        if (!name)
            continue;
        classify_result r;
        classify_name(name, len, &r);
        char ctx[96];
        snprintf(ctx, sizeof ctx, "%s + %s * %u + %s", longs[k].prefix, longs[k].fill, (unsigned)longs[k].count,
                 longs[k].suffix);
        CHECK_STR_EQ_CTX(ctx, classify_verdict_name(r.verdict), longs[k].verdict);
        CHECK_STR_EQ_CTX(ctx, r.ip[0] ? r.ip : NULL, longs[k].ip);
        CHECK(strlen(r.host) < CLASSIFY_HOST_MAX);
        free(name);
    }
    /* A cut display host says so. */
    size_t len = 0;
    char *name = long_name("http://", "b", 1000, ".example.com/", &len);
    CHECK(name != NULL);
    if (name) {
        classify_result r;
        classify_name(name, len, &r);
        CHECK_INT_EQ(r.verdict, VERDICT_DOMAIN);
        CHECK_INT_EQ(r.host_truncated, 1);
        CHECK_INT_EQ(strlen(r.host), CLASSIFY_HOST_MAX - 1);
        free(name);
    }
}

/* The address helpers on their own: parse/format round trips and rejections. */
static void test_ipaddr(void)
{
    uint8_t a[16];
    char buf[CLASSIFY_IP_MAX];
    CHECK(ipaddr_v4_parse_dotted("192.0.2.7", 9, a));
    ipaddr_v4_format(a, buf, sizeof buf);
    CHECK_STR_EQ(buf, "192.0.2.7");
    CHECK(!ipaddr_v4_parse_dotted("192.0.2", 7, a));
    CHECK(!ipaddr_v4_parse_dotted("192.0.2.256", 11, a));
    CHECK(!ipaddr_v4_parse_dotted("192.0.2.0007", 12, a));
    CHECK(!ipaddr_v4_parse_dotted("192.0.2.7.", 10, a));
    CHECK(ipaddr_v6_parse("1:2:3:4:5:6:7:8", 15, a));
    ipaddr_v6_format(a, buf, sizeof buf);
    CHECK_STR_EQ(buf, "1:2:3:4:5:6:7:8");
    CHECK(ipaddr_v6_parse("1:0:0:2:0:0:0:3", 15, a));
    ipaddr_v6_format(a, buf, sizeof buf);
    CHECK_STR_EQ(buf, "1:0:0:2::3");
    CHECK(ipaddr_v6_parse("0:0:1:0:0:2:0:0", 15, a));
    ipaddr_v6_format(a, buf, sizeof buf);
    CHECK_STR_EQ(buf, "::1:0:0:2:0:0");
    CHECK(!ipaddr_v6_parse("", 0, a));
    CHECK(!ipaddr_v6_parse(":", 1, a));
    CHECK(!ipaddr_v6_parse(":::", 3, a));
    CHECK(ipaddr_v6_parse("::", 2, a));
    CHECK(ipaddr_v6_parse("1::", 3, a));
    /* A small buffer is cut, never overrun. */
    memset(a, 0xff, sizeof a);
    char small[8];
    CHECK_INT_EQ(ipaddr_v6_format(a, small, sizeof small), 7);
    CHECK_STR_EQ(small, "ffff:ff");
}

int main(void)
{
    CHECK_RUN(test_table);
    CHECK_RUN(test_result_fields);
    CHECK_RUN(test_long_names);
    CHECK_RUN(test_ipaddr);
    return CHECK_DONE();
}
