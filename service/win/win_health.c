/* The Windows health sample of the running process: GetProcessMemoryInfo and GetProcessHandleCount. */
#include <windows.h>

#include <psapi.h>
#include <string.h>

#include "win_health.h"

/* Handle values are multiples of 4 (the low two bits are tag bits), handed out from the lowest free slot. */
#define HEALTH_HANDLE_STEP 4u
/* The scan ends after this many invalid values in a row past the last valid one: room for the hole a
 * burst of handles leaves when it is closed while a later one lives on (test_service_winhealth.c). */
#define HEALTH_PROBE_GAP 1024u
/* And never looks past this value, whatever it finds (1,048,576 handles). */
#define HEALTH_PROBE_MAX ((ULONG_PTR)HEALTH_HANDLE_STEP << 20)

/*
 * This process's handles, counted by asking each handle value in turn whether it is open. Only a
 * fallback: Wine's GetProcessHandleCount answers 0 (a stub), which would make a handle leak invisible in
 * the soak test. Not the system handle list (NtQuerySystemInformation's class 64), which this used to
 * read: Wine 8.0's server walks every process's handle table for it, and a table still empty (a process
 * being created, such as each `sc query` a script runs) has its last index at -1, which the server's
 * unsigned loop reads as 4,294,967,295 and runs off its heap: the wineserver crash the Wine tests saw
 * several times a run, just after the service started reading (tests/wevtapi/README.md). Asking about
 * one handle of our own touches no other process. About 1,100 calls for a service's ~45 handles, at
 * most once every 5 s and only where the real count is missing.
 */
static DWORD health_handles_probed(void)
{
    DWORD count = 0;
    unsigned misses = 0;
    for (ULONG_PTR value = HEALTH_HANDLE_STEP; value <= HEALTH_PROBE_MAX && misses < HEALTH_PROBE_GAP;
         value += HEALTH_HANDLE_STEP) {
        DWORD flags;
        if (GetHandleInformation((HANDLE)value, &flags)) {
            count++;
            misses = 0;
        } else {
            misses++;
        }
    }
    return count;
}

int win_health_sample(void *ctx, engine_health *out)
{
    (void)ctx;
    HANDLE self = GetCurrentProcess();
    PROCESS_MEMORY_COUNTERS pmc;
    DWORD handles = 0;
    memset(&pmc, 0, sizeof pmc);
    pmc.cb = sizeof pmc;
    /* With _WIN32_WINNT >= Windows 7 psapi.h maps this to K32GetProcessMemoryInfo in kernel32: no psapi.dll. */
    if (!GetProcessMemoryInfo(self, &pmc, sizeof pmc))
        return -1;
    if (!GetProcessHandleCount(self, &handles))
        return -1;
    if (handles == 0)
        handles = health_handles_probed(); /* A live process always has handles: 0 means not implemented. */
    out->pid = GetCurrentProcessId();
    out->rss_bytes = pmc.WorkingSetSize;
    out->peak_rss_bytes = pmc.PeakWorkingSetSize;
    out->handles = handles;
    return 0;
}
