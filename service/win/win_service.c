/* The SCM side of bitsguard: `bitsguard service`, ServiceMain, the control handler and the engine worker thread. */
#include <windows.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_version.h"
#include "cli.h"
#include "cli_opt.h"
#include "config.h"
#include "engine.h"
#include "engine_group.h"
#include "messages.h"
#include "win_config.h"
#include "win_eventlog.h"
#include "win_evt_source.h"
#include "win_health.h"
#include "win_status.h"
#include "win_service.h"
#include "win_util.h"

/*
 * The built-in reader of the System log for alert 1004: the Event Log's event 104 (a log was cleared).
 * Clearing the Bits-Client log is how an attacker erases a job's traces, so it is watched whatever
 * Channels says, with its own bookmark (channel "System"). The XPath selects the provider and id only:
 * the cleared channel is in UserData (LogFileCleared/Channel), which Microsoft documents no XPath form
 * for, so the correlator checks it (FINDING_CHANNEL_CLEARED for the Bits-Client channel alone).
 */
#define SVC_CLEARED_CHANNEL "System"
#define SVC_CLEARED_QUERY                                                                         \
    "<QueryList><Query Id=\"0\" Path=\"System\"><Select Path=\"System\">*[System[Provider[@Name=" \
    "'Microsoft-Windows-Eventlog'] and EventID=104]]</Select></Query></QueryList>"
/* The configured channels and the built-in System reader. */
#define SVC_READERS_MAX (CONFIG_CHANNELS_MAX + 1u)

/* Start-up wait hint: loading the configuration and opening the database take well under this. */
#define SVC_START_WAIT_HINT_MS 10000u
/* After this long in STOP_PENDING the service reports STOPPED anyway: SQLite's journal makes an
 * interrupted commit safe, and the SCM would otherwise kill the process with no status at all. */
#define SVC_STOP_GIVE_UP_MS 30000u

/*
 * The service's state. The control handler runs on the dispatcher thread and only signals: it
 * reports STOP_PENDING, sets stop_event and asks the current sources to stop (thread-safe by the
 * engine contract). Everything else happens on the ServiceMain thread.
 */
typedef struct svc_state {
    CRITICAL_SECTION lock; /* Guards status, srcs and stopping (recursive: report is called under it). */
    SERVICE_STATUS_HANDLE handle;
    SERVICE_STATUS status;
    HANDLE stop_event;  /* Manual reset: stop, shutdown or preshutdown was requested. */
    HANDLE param_event; /* Auto reset: PARAMCHANGE, reload the configuration. */
    /* The running engines' sources, one per channel; src_count 0 between runs. */
    event_source *srcs[SVC_READERS_MAX];
    size_t src_count;
    int stopping;
    win_eventlog *log;
    win_status *status_key; /* HKLM\SOFTWARE\bitsguard\Status (CMPivot); NULL when setup did not make it. */
} svc_state;

static svc_state svc;

/* The engines run by the worker thread: one per configured channel (engine_group_run), each with
 * its own source, so one channel's failure or backoff never holds up another. */
typedef struct svc_worker {
    const service_config *cfg;
    engine_group_member members[SVC_READERS_MAX];
    size_t count;
    engine_alert_sink sink;
    bg_error rc;
    HANDLE thread;
} svc_worker;

/* Asks every running engine to stop; called under svc.lock. */
static void svc_sources_stop(void)
{
    for (size_t i = 0; i < svc.src_count; i++)
        svc.srcs[i]->ops->stop(svc.srcs[i]);
}

/* Destroys the worker's sources (after its thread ended, or before it started). */
static void svc_worker_sources_free(svc_worker *w)
{
    for (size_t i = 0; i < w->count; i++) {
        if (w->members[i].src)
            w->members[i].src->ops->destroy(w->members[i].src);
        w->members[i].src = NULL;
    }
}

static void svc_status_report(DWORD state, DWORD exit_code, DWORD service_code, DWORD wait_hint)
{
    EnterCriticalSection(&svc.lock);
    SERVICE_STATUS *st = &svc.status;
    st->dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    st->dwCurrentState = state;
    st->dwWin32ExitCode = exit_code;
    st->dwServiceSpecificExitCode = service_code;
    st->dwWaitHint = wait_hint;
    /* Controls are accepted only while running: during start and stop the handler has nothing to do. */
    st->dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                                            SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
                                                      : 0;
    if (state == SERVICE_RUNNING || state == SERVICE_STOPPED)
        st->dwCheckPoint = 0;
    else
        st->dwCheckPoint++;
    if (svc.handle)
        SetServiceStatus(svc.handle, st);
    LeaveCriticalSection(&svc.lock);
}

static DWORD WINAPI svc_control_handler(DWORD control, DWORD event_type, LPVOID event_data, LPVOID context)
{
    (void)event_type;
    (void)event_data;
    (void)context;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
        EnterCriticalSection(&svc.lock);
        if (!svc.stopping) {
            svc.stopping = 1;
            /* STOP_PENDING first, then the signal: reporting after could race with the main thread's
             * STOPPED and make the SCM report error 1053 to whoever asked for the stop. */
            svc_status_report(SERVICE_STOP_PENDING, NO_ERROR, 0, WIN_STOP_WAIT_HINT_MS);
            SetEvent(svc.stop_event);
            svc_sources_stop();
        }
        LeaveCriticalSection(&svc.lock);
        return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
        SetEvent(svc.param_event);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

static DWORD WINAPI svc_worker_main(LPVOID arg)
{
    svc_worker *w = arg;
    w->rc = engine_group_run(&w->cfg->engine, w->members, w->count, &w->sink);
    return 0;
}

/* Loads the configuration from the registry and reports it (event 102 and the invalid values, 103). */
static bg_error svc_config_load(service_config *cfg, const char *why)
{
    bg_error rc = service_config_init(cfg, win_eventlog_config_invalid, svc.log);
    if (rc == BG_ERR_OK)
        rc = win_config_load(cfg);
    if (rc != BG_ERR_OK) {
        const char *s[2] = {bg_error_name(rc), "loading the configuration failed"};
        win_eventlog_report(svc.log, EVENTLOG_ERROR_TYPE, MSG_ERROR, s, 2);
        service_config_clear(cfg);
        return rc;
    }
    /* The service's memory and handles, recorded in the database for `bitsguard status`. */
    cfg->engine.health_sample = win_health_sample;
    /* The summary under the Status key, for ConfigMgr CMPivot: written only when a value changes. */
    cfg->engine.summary_publish = svc.status_key ? win_status_publish : NULL;
    cfg->engine.summary_ctx = svc.status_key;
    char allow[16], backfill[8], days[16], rows[24], priv[8], invalid[16];
    snprintf(allow, sizeof allow, "%u", (unsigned)cfg->allow_count);
    snprintf(backfill, sizeof backfill, "%d", cfg->engine.backfill);
    snprintf(days, sizeof days, "%d", cfg->engine.retention_days);
    snprintf(rows, sizeof rows, "%" PRId64, cfg->engine.retention_rows);
    snprintf(priv, sizeof priv, "%d", cfg->engine.report_private);
    snprintf(invalid, sizeof invalid, "%u", cfg->invalid);
    const char *s[8] = {why, allow, backfill, days, rows, priv, cfg->engine.db_path, invalid};
    win_eventlog_report(svc.log, EVENTLOG_INFORMATION_TYPE, MSG_CONFIG_LOADED, s, 8);
    return BG_ERR_OK;
}

/* Creates one source per channel and starts the engines on a worker thread. */
static bg_error svc_worker_start(svc_worker *w, const service_config *cfg)
{
    char err[256] = "";
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    win_eventlog_sink(svc.log, &w->sink);
    size_t count = 0;
    const char *const *channels = service_config_channels(cfg, &count);
    int system_read = 0;
    for (size_t i = 0; i < count; i++)
        system_read |= _stricmp(channels[i], SVC_CLEARED_CHANNEL) == 0;
    /* The System log read whole (configured) already feeds its event 104 to the correlator. */
    size_t readers = count + (system_read ? 0 : 1);
    for (; w->count < readers; w->count++) {
        int cleared = w->count == count;
        w->members[w->count].channel = cleared ? SVC_CLEARED_CHANNEL : channels[w->count];
        w->members[w->count].src = win_evt_source_new(err, sizeof err);
        bg_error frc = BG_ERR_OK;
        if (w->members[w->count].src && cleared)
            frc = win_evt_source_filter_set(w->members[w->count].src, SVC_CLEARED_QUERY);
        if (!w->members[w->count].src || frc != BG_ERR_OK) {
            const char *s[2] = {bg_error_name(BG_ERR_SOURCE), err[0] ? err : "cannot create the event source"};
            win_eventlog_report(svc.log, EVENTLOG_ERROR_TYPE, MSG_ERROR, s, 2);
            w->count++;
            svc_worker_sources_free(w);
            return BG_ERR_SOURCE;
        }
    }
    EnterCriticalSection(&svc.lock);
    int stopping = svc.stopping;
    if (!stopping) {
        for (size_t i = 0; i < w->count; i++)
            svc.srcs[i] = w->members[i].src;
        svc.src_count = w->count;
    }
    LeaveCriticalSection(&svc.lock);
    if (stopping) {
        /* A stop arrived while the sources were being created: do not start at all. */
        svc_worker_sources_free(w);
        return BG_ERR_STOPPED;
    }
    w->thread = CreateThread(NULL, 0, svc_worker_main, w, 0, NULL);
    if (!w->thread) {
        char text[160];
        const char *s[2] = {bg_error_name(BG_ERR_PLATFORM), win_error_text(GetLastError(), text, sizeof text)};
        win_eventlog_report(svc.log, EVENTLOG_ERROR_TYPE, MSG_ERROR, s, 2);
        EnterCriticalSection(&svc.lock);
        svc.src_count = 0;
        LeaveCriticalSection(&svc.lock);
        svc_worker_sources_free(w);
        return BG_ERR_PLATFORM;
    }
    return BG_ERR_OK;
}

/* Waits for the worker after a stop request, bumping the checkpoint so the SCM sees progress. */
static void svc_worker_join(svc_worker *w, int report_progress, engine_stats *total)
{
    if (w->thread) {
        DWORD waited = 0;
        while (WaitForSingleObject(w->thread, 1000) == WAIT_TIMEOUT) {
            waited += 1000;
            if (report_progress)
                svc_status_report(SERVICE_STOP_PENDING, NO_ERROR, 0, WIN_STOP_WAIT_HINT_MS);
            if (waited >= SVC_STOP_GIVE_UP_MS)
                break;
        }
        if (waited >= SVC_STOP_GIVE_UP_MS) {
            const char *s[2] = {bg_error_name(BG_ERR_STOPPED), "the reader did not stop in time"};
            win_eventlog_report(svc.log, EVENTLOG_ERROR_TYPE, MSG_ERROR, s, 2);
            /* The threads still use the sources: leak them rather than free them under them. */
            CloseHandle(w->thread);
            w->thread = NULL;
            w->count = 0;
            return;
        }
        CloseHandle(w->thread);
        w->thread = NULL;
    }
    EnterCriticalSection(&svc.lock);
    svc.src_count = 0;
    LeaveCriticalSection(&svc.lock);
    svc_worker_sources_free(w);
    for (size_t i = 0; i < w->count; i++) {
        const engine_stats *st = &w->members[i].stats;
        total->events += st->events;
        total->malformed += st->malformed;
        total->batches += st->batches;
        total->detections += st->detections;
        total->resubscribes += st->resubscribes;
        total->gaps += st->gaps;
    }
    w->count = 0;
}

/*
 * Waits, for as long as it takes, until the stopped worker has ended (returns 1) or the service is asked
 * to stop (returns 0; the stop path then joins it within its time limit). A reload has no SCM deadline,
 * and giving up would start a second worker on the same database while the first still runs.
 */
static int svc_worker_ended(const svc_worker *w)
{
    if (!w->thread)
        return 1;
    HANDLE handles[2] = {w->thread, svc.stop_event};
    return WaitForMultipleObjects(2, handles, FALSE, INFINITE) == WAIT_OBJECT_0;
}

/*
 * PARAMCHANGE: load the new configuration, stop the engine (it commits the batch in hand and its
 * bookmark), and start it again with the new configuration once the old engine has ended. The bookmark
 * makes this lossless; an invalid new configuration is reported and the service keeps running with the
 * old one.
 */
static void svc_reload(svc_worker *w, service_config *cfg, engine_stats *total)
{
    service_config next;
    if (svc_config_load(&next, "reloaded on PARAMCHANGE") != BG_ERR_OK)
        return;
    EnterCriticalSection(&svc.lock);
    svc_sources_stop();
    LeaveCriticalSection(&svc.lock);
    if (!svc_worker_ended(w)) {
        /* A stop request came first: the old worker still uses cfg, and the stop path takes over. */
        service_config_clear(&next);
        return;
    }
    svc_worker_join(w, 0, total);
    service_config_clear(cfg);
    *cfg = next;
    /* cfg moved: the engine pointers of the copy still point into the same heap members. */
    bg_error rc = svc_worker_start(w, cfg);
    if (rc != BG_ERR_OK && rc != BG_ERR_STOPPED) {
        /* Nothing runs now: stop the service so the recovery actions restart it. */
        EnterCriticalSection(&svc.lock);
        svc.stopping = 1;
        SetEvent(svc.stop_event);
        LeaveCriticalSection(&svc.lock);
        w->rc = rc;
    }
}

static void WINAPI svc_service_main(DWORD argc, LPWSTR *argv)
{
    (void)argc;
    (void)argv;
    service_config cfg;
    int cfg_loaded = 0;
    svc_worker worker;
    memset(&worker, 0, sizeof worker);
    engine_stats total;
    memset(&total, 0, sizeof total);
    bg_error rc = BG_ERR_OK;

    svc.handle = RegisterServiceCtrlHandlerExW(WIN_SERVICE_NAME, svc_control_handler, NULL);
    if (!svc.handle)
        return;
    svc_status_report(SERVICE_START_PENDING, NO_ERROR, 0, SVC_START_WAIT_HINT_MS);
    svc.log = win_eventlog_open(0);
    svc.stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    svc.param_event = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!svc.log || !svc.stop_event || !svc.param_event) {
        rc = BG_ERR_PLATFORM;
        goto cleanup;
    }
    {
        DWORD err = 0;
        svc.status_key = win_status_open(HKEY_LOCAL_MACHINE, L"" CONFIG_KEY_STATUS, &err);
        if (!svc.status_key) {
            /* Not fatal: detection goes on; only the summary for registry readers is missing. */
            char text[160], detail[320];
            snprintf(detail, sizeof detail,
                     "the Status registry key HKLM\\%s cannot be opened for writing (%s); run"
                     " bitsguard setup",
                     CONFIG_KEY_STATUS, win_error_text(err, text, sizeof text));
            const char *s[2] = {bg_error_name(BG_ERR_PLATFORM), detail};
            win_eventlog_report(svc.log, EVENTLOG_ERROR_TYPE, MSG_ERROR, s, 2);
        }
    }

    rc = svc_config_load(&cfg, "service start");
    if (rc != BG_ERR_OK)
        goto cleanup;
    cfg_loaded = 1;
    svc_status_report(SERVICE_START_PENDING, NO_ERROR, 0, SVC_START_WAIT_HINT_MS);

    rc = svc_worker_start(&worker, &cfg);
    if (rc != BG_ERR_OK)
        goto cleanup;
    svc_status_report(SERVICE_RUNNING, NO_ERROR, 0, 0);
    {
        char channels[CONFIG_CHANNELS_MAX * (CONFIG_CHANNEL_NAME_MAX + 2)];
        service_config_channels_join(&cfg, channels, sizeof channels);
        const char *s[3] = {BG_VERSION, cfg.engine.db_path, channels};
        win_eventlog_report(svc.log, EVENTLOG_INFORMATION_TYPE, MSG_SERVICE_STARTED, s, 3);
    }

    for (;;) {
        /* Stop first: when several are signalled, the lowest index wins. Infinite wait: idle is free. */
        HANDLE handles[3] = {svc.stop_event, svc.param_event, worker.thread};
        DWORD n = worker.thread ? 3 : 2;
        DWORD which = WaitForMultipleObjects(n, handles, FALSE, INFINITE);
        if (which == WAIT_OBJECT_0)
            break;
        if (which == WAIT_OBJECT_0 + 1) {
            svc_reload(&worker, &cfg, &total);
            continue;
        }
        if (which == WAIT_OBJECT_0 + 2) {
            /* The engine returned on its own: an unrecoverable error (it retries the recoverable ones). */
            rc = worker.rc != BG_ERR_OK ? worker.rc : BG_ERR_SOURCE;
            break;
        }
        rc = BG_ERR_PLATFORM;
        break;
    }

cleanup:
    EnterCriticalSection(&svc.lock);
    svc.stopping = 1;
    LeaveCriticalSection(&svc.lock);
    if (svc.status.dwCurrentState != SERVICE_STOP_PENDING)
        svc_status_report(SERVICE_STOP_PENDING, NO_ERROR, 0, WIN_STOP_WAIT_HINT_MS);
    EnterCriticalSection(&svc.lock);
    svc_sources_stop();
    LeaveCriticalSection(&svc.lock);
    svc_worker_join(&worker, 1, &total);
    if (rc == BG_ERR_OK && worker.rc != BG_ERR_OK && worker.rc != BG_ERR_STOPPED)
        rc = worker.rc;
    if (svc.log) {
        char how[64], ev[24], det[24], res[24], gaps[24];
        snprintf(how, sizeof how, "%s", rc == BG_ERR_OK ? "stop requested" : bg_error_name(rc));
        snprintf(ev, sizeof ev, "%" PRIu64, total.events);
        snprintf(det, sizeof det, "%" PRIu64, total.detections);
        snprintf(res, sizeof res, "%" PRIu64, total.resubscribes);
        snprintf(gaps, sizeof gaps, "%" PRIu64, total.gaps);
        const char *s[5] = {how, ev, det, res, gaps};
        win_eventlog_report(svc.log, rc == BG_ERR_OK ? EVENTLOG_INFORMATION_TYPE : EVENTLOG_ERROR_TYPE,
                            MSG_SERVICE_STOPPED, s, 5);
    }
    if (cfg_loaded)
        service_config_clear(&cfg);
    win_eventlog_close(svc.log);
    svc.log = NULL;
    win_status_close(svc.status_key);
    svc.status_key = NULL;
    /* A non-zero exit code makes the SCM run the recovery actions (with the non-crash failure flag). */
    if (rc == BG_ERR_OK)
        svc_status_report(SERVICE_STOPPED, NO_ERROR, 0, 0);
    else
        svc_status_report(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, (DWORD)rc, 0);
}

int win_service_main(int argc, char **argv)
{
    int parsed = CLI_EXIT_OK;
    const cli_spec spec = {"service", NULL, "The service's entry point: started by the Service Control Manager only.",
                           NULL, NULL};
    if (cli_opt_parse(&spec, argc, argv, &parsed) < 0)
        return parsed;
    InitializeCriticalSection(&svc.lock);
    SERVICE_TABLE_ENTRYW table[] = {
        {(LPWSTR)WIN_SERVICE_NAME, svc_service_main},
        {NULL, NULL},
    };
    if (!StartServiceCtrlDispatcherW(table)) {
        DWORD err = GetLastError();
        if (err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
            fprintf(stderr, "bitsguard service: this command is for the Service Control Manager only.\n"
                            "  to run the detector in this console: bitsguard run\n"
                            "  to start the installed service:      bitsguard start\n");
            return CLI_EXIT_USAGE;
        }
        char text[160];
        cli_error("service", "StartServiceCtrlDispatcher failed: %s", win_error_text(err, text, sizeof text));
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}
