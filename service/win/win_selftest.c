/* bitsguard selftest: a never-resumed BITS job to a public IP, followed through the Event Log, the service's database
 * and its alert. */
#include <windows.h>

#include <bcrypt.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_opt.h"
#include "jobs.h"
#include "store.h"
#include "win_access.h"
#include "win_bits.h"
#include "win_config.h"
#include "win_evt_source.h"
#include "win_service.h"
#include "win_service.h"

/* Exit statuses: one per stage, so a fleet run tells at once where an endpoint failed (README, --help). */
enum {
    SELFTEST_EXIT_SERVICE = 4, /* The bitsguard service is not running. */
    SELFTEST_EXIT_JOB = 5,     /* The BITS job could not be created. */
    SELFTEST_EXIT_EVENT = 6,   /* Windows logged no Bits-Client event for the job. */
    SELFTEST_EXIT_STORED = 7,  /* The service did not store the detection. */
    SELFTEST_EXIT_ALERT = 8,   /* The service did not write the self-test alert. */
    SELFTEST_EXIT_CANCEL = 9,  /* The job could not be cancelled. */
};

static double ms_since(ULONGLONG t0)
{
    return (double)(GetTickCount64() - t0);
}

static int service_running(char *why, size_t n)
{
    int running = 0;
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, win_open_access(WIN_OPEN_SCM));
    SC_HANDLE svc = scm ? OpenServiceW(scm, WIN_SERVICE_NAME, win_open_access(WIN_OPEN_SVC_SELFTEST)) : NULL;
    SERVICE_STATUS_PROCESS st;
    DWORD need = 0;
    if (!svc)
        snprintf(why, n, "the bitsguard service is not installed or not visible (error %lu)", GetLastError());
    else if (!win_access_check(win_open_access(WIN_OPEN_SVC_SELFTEST), WIN_CALL_SVC_QUERY_STATUS) ||
             !QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (LPBYTE)&st, sizeof st, &need))
        snprintf(why, n, "cannot query the bitsguard service (error %lu)", GetLastError());
    else if (st.dwCurrentState != SERVICE_RUNNING)
        snprintf(why, n, "the bitsguard service is not running (state %lu): bitsguard start",
                 (unsigned long)st.dwCurrentState);
    else
        running = 1;
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return running;
}

/* Whether the channel holds an event naming job_id (its GUID, any case, with or without braces). */
static int event_logged(const char *job_id)
{
    int seen = 0;
    event_source *src = win_evt_query_new(L"" ENGINE_CHANNEL_BITS, 0);
    if (!src)
        return 0;
    if (src->ops->subscribe(src, ENGINE_CHANNEL_BITS, NULL, 1) == BG_ERR_OK) {
        while (!seen && src->ops->wait(src) == BG_ERR_OK) {
            const char *xml[ENGINE_BATCH_MAX];
            size_t len[ENGINE_BATCH_MAX], count = 0;
            if (src->ops->next(src, ENGINE_BATCH_MAX, xml, len, &count) != BG_ERR_OK || count == 0)
                continue;
            for (size_t i = 0; i < count && !seen; i++)
                for (size_t k = 0; k + 36 <= len[i] && !seen; k++) /* GUIDs are ASCII: compare case-insensitively. */
                    seen = _strnicmp(xml[i] + k, job_id, 36) == 0;
        }
        src->ops->unsubscribe(src);
    }
    src->ops->destroy(src);
    return seen;
}

typedef struct row_seen {
    int found;
} row_seen;

static int row_found(void *ctx, const detection *d)
{
    (void)d;
    ((row_seen *)ctx)->found = 1;
    return 1;
}

static int stored(store *s, const char *job_id)
{
    store_filter f;
    row_seen r = {0};
    store_filter_init(&f);
    f.job_id = job_id;
    f.include_allowed = 1;
    return store_query_run(s, &f, row_found, &r) == BG_ERR_OK && r.found;
}

static void stage_print(const char *stage, int ok, double ms)
{
    if (ok)
        printf("  %-16s ok    %8.0f ms\n", stage, ms);
    else
        printf("  %-16s FAILED after %.0f ms\n", stage, ms);
}

int win_selftest_main(int argc, char **argv)
{
    const char *db_path = NULL, *timeout_text = NULL;
    int status = CLI_EXIT_ERROR, job_made = 0;
    char *found_path = NULL;
    char why[512] = "", errbuf[1024] = "", nonce[33], title[64], url[128], local[MAX_PATH * 3], job_id[37] = "";
    store *db = NULL;
    jobs_client *client = NULL;
    const cli_opt opts[] = {
        {"db", CLI_OPT_STRING, &db_path, NULL, "PATH", "the service's database (default: its configured one)"},
        {"timeout", CLI_OPT_STRING, &timeout_text, NULL, "SECONDS", "how long each stage may take (default 60)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const cli_spec spec = {
        "selftest",
        NULL,
        "Proves on this endpoint that a BITS job from a direct public IP is seen, stored and alerted: creates a\n"
        "job (never resumed: nothing is downloaded) from " JOBS_SELFTEST_URL "..., titled with a\n"
        "random nonce, waits for the Bits-Client event, the service's stored detection and its self-test\n"
        "alert (event 1100), cancels the job and prints each stage's latency. Run as an administrator.",
        opts,
        "exit status: 0 passed, 2 usage error, 3 database or system error, and per failed stage:\n"
        "  4 service not running (bitsguard start; sc query bitsguard)\n"
        "  5 BITS job not created (BITS service disabled? sc qc BITS; policy blocking BITS jobs)\n"
        "  6 no Bits-Client event for the job (wevtutil gl Microsoft-Windows-Bits-Client/Operational:\n"
        "    enabled: true)\n"
        "  7 not stored by the service (bitsguard status; Application log event 300; the channel's access\n"
        "    for the service: wevtutil gl ... channelAccess, bitsguard setup)\n"
        "  8 self-test alert not written (the event source: bitsguard setup; Application log)\n"
        "  9 the job could not be cancelled (bitsguard jobs; bitsadmin /cancel)\n",
    };
    if (cli_opt_parse(&spec, argc, argv, &status) < 0)
        return status;
    int timeout_ms = 60000;
    if (timeout_text) {
        char *end = NULL;
        long t = strtol(timeout_text, &end, 10);
        if (!end || *end || t < 1 || t > 3600) {
            cli_error("selftest", "--timeout wants seconds from 1 to 3600: %s", timeout_text);
            return CLI_EXIT_USAGE;
        }
        timeout_ms = (int)t * 1000;
    }
    setvbuf(stdout, NULL, _IONBF, 0); /* Each stage is printed as it happens (the harness reads the job id). */

    if (!service_running(why, sizeof why)) {
        cli_error("selftest", "stage service: %s", why);
        return SELFTEST_EXIT_SERVICE;
    }
    if (!db_path) {
        found_path = win_config_db_path(why, sizeof why);
        if (!found_path) {
            cli_error("selftest", "cannot tell the service's database (%s); give --db PATH", why);
            goto cleanup;
        }
        db_path = found_path;
    }
    /* The service's database must exist (checked read-only, so a wrong path creates nothing); the
     * self-test then writes its nonce into it. */
    bg_error e = store_open_existing(&db, db_path, errbuf, sizeof errbuf);
    store_close(db);
    db = NULL;
    if (e == BG_ERR_OK)
        e = store_open(&db, db_path, NULL, errbuf, sizeof errbuf);
    if (e != BG_ERR_OK) {
        cli_error("selftest", "%s", errbuf[0] ? errbuf : bg_error_str(e));
        goto cleanup;
    }
    unsigned char raw[16];
    if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, raw, sizeof raw, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        cli_error("selftest", "no random nonce (BCryptGenRandom failed)");
        goto cleanup;
    }
    for (size_t i = 0; i < 16; i++)
        snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
    snprintf(title, sizeof title, JOBS_SELFTEST_PREFIX "%s", nonce);
    snprintf(url, sizeof url, JOBS_SELFTEST_URL "%s.bin", nonce);
    char tmp[MAX_PATH * 3];
    DWORD tn = GetTempPathA(MAX_PATH, tmp);
    snprintf(local, sizeof local, "%sbitsguard-selftest-%s.bin", tn > 0 && tn < MAX_PATH ? tmp : "C:\\Windows\\Temp\\",
             nonce);
    /* Registered before the job exists: the service recognizes only nonces a database writer registered. */
    e = store_selftest_begin(db, nonce, (int64_t)time(NULL));
    if (e != BG_ERR_OK) {
        cli_error("selftest", "%s: cannot register the self-test (%s): run as an administrator", db_path,
                  bg_error_str(e));
        goto cleanup;
    }
    printf("bitsguard selftest %s\n", nonce);

    printf("  %-16s result  ms since the job's creation began (cancel: its own time)\n", "stage");
    ULONGLONG t0 = GetTickCount64();
    client = win_bits_client_new(why, sizeof why);
    if (client)
        e = client->ops->create_suspended(client, title, url, local, job_id, why, sizeof why);
    if (!client || e != BG_ERR_OK) {
        stage_print("job created", 0, ms_since(t0));
        cli_error("selftest", "stage job: %s", why);
        status = SELFTEST_EXIT_JOB;
        goto cleanup;
    }
    job_made = 1;
    stage_print("job created", 1, ms_since(t0));
    printf("  job {%s} %s\n", job_id, url);
    if (store_selftest_job_set(db, nonce, job_id) != BG_ERR_OK)
        cli_error("selftest", "could not record the job id in the database (the self-test goes on)");

    /* Each stage is polled (every 100 ms) until it is reached or the time-out passes. */
    static const char *const names[] = {"event logged", "stored", "alert written"};
    static const int fails[] = {SELFTEST_EXIT_EVENT, SELFTEST_EXIT_STORED, SELFTEST_EXIT_ALERT};
    static const char *const hints[] = {
        "Windows logged no Bits-Client event for the job: is Microsoft-Windows-Bits-Client/Operational enabled?",
        "the service did not store it: bitsguard status; Application log event 300; can the service read the channel"
        " (bitsguard setup)?",
        "the service stored it but wrote no self-test alert: is the event source registered (bitsguard setup)?",
    };
    status = CLI_EXIT_OK;
    for (int stage = 0; stage < 3 && status == CLI_EXIT_OK; stage++) {
        int reached = 0;
        ULONGLONG start = GetTickCount64();
        while (!reached) {
            if (stage == 0)
                reached = event_logged(job_id) || stored(db, job_id); /* stored implies logged */
            else if (stage == 1)
                reached = stored(db, job_id);
            else {
                store_selftest st;
                reached = store_selftest_get(db, nonce, &st) == BG_ERR_OK && st.alerted_at[0];
            }
            if (reached || GetTickCount64() - start > (ULONGLONG)timeout_ms)
                break;
            Sleep(stage == 0 ? 500 : 100); /* stage 0 reads the channel: less often */
        }
        stage_print(names[stage], reached, ms_since(t0));
        if (!reached) {
            cli_error("selftest", "stage %s: %s", names[stage], hints[stage]);
            status = fails[stage];
        }
    }

cleanup:
    if (job_made) {
        ULONGLONG tc = GetTickCount64();
        e = client->ops->cancel(client, job_id, why, sizeof why);
        stage_print("job cancelled", e == BG_ERR_OK, (double)(GetTickCount64() - tc));
        if (e != BG_ERR_OK) {
            cli_error("selftest", "stage cancel: %s; cancel it: bitsguard jobs --cancel %s", why, job_id);
            if (status == CLI_EXIT_OK)
                status = SELFTEST_EXIT_CANCEL;
        }
    }
    if (status == CLI_EXIT_OK)
        printf("selftest passed\n");
    if (client)
        client->ops->destroy(client);
    store_close(db);
    free(found_path);
    return status;
}
