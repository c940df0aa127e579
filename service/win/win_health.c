/* The Windows health sample of the running process: GetProcessMemoryInfo and GetProcessHandleCount. */
#include <windows.h>

#include <psapi.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "win_health.h"

/* NtQuerySystemInformation's extended handle list (class 64), as documented by the Windows SDK's winternl
 * users and implemented by Wine; declared here because mingw's headers do not carry it. */
#define HEALTH_SYSTEM_EXTENDED_HANDLE_INFORMATION 64
#define HEALTH_STATUS_INFO_LENGTH_MISMATCH        ((LONG)0xC0000004L)
#define HEALTH_HANDLE_LIST_MAX                    (64u * 1024u * 1024u)

typedef struct health_handle_entry {
    PVOID object;
    ULONG_PTR pid;
    ULONG_PTR handle;
    ULONG access;
    USHORT backtrace;
    USHORT type;
    ULONG attributes;
    ULONG reserved;
} health_handle_entry;

typedef struct health_handle_list {
    ULONG_PTR count;
    ULONG_PTR reserved;
    health_handle_entry entries[1];
} health_handle_list;

typedef LONG(WINAPI *health_query_fn)(ULONG, PVOID, ULONG, PULONG);

/*
 * This process's handles counted in the system handle list. Only a fallback: Wine's
 * GetProcessHandleCount answers 0 (a stub), which would make a handle leak invisible in the soak test.
 * Returns 0 when the list cannot be read.
 */
static DWORD health_handles_listed(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    health_query_fn query =
        ntdll ? (health_query_fn)(void (*)(void))GetProcAddress(ntdll, "NtQuerySystemInformation") : NULL;
    if (!query)
        return 0;
    ULONG size = 256u * 1024u;
    DWORD count = 0;
    for (;;) {
        health_handle_list *list = malloc(size);
        if (!list)
            return 0;
        ULONG needed = 0;
        LONG st = query(HEALTH_SYSTEM_EXTENDED_HANDLE_INFORMATION, list, size, &needed);
        if (st == HEALTH_STATUS_INFO_LENGTH_MISMATCH && size < HEALTH_HANDLE_LIST_MAX) {
            free(list);
            size = needed > size ? needed + 64u * 1024u : size * 2;
            continue;
        }
        if (st >= 0) {
            ULONG_PTR self = GetCurrentProcessId();
            size_t room = (size - offsetof(health_handle_list, entries)) / sizeof(health_handle_entry);
            ULONG_PTR n = list->count < room ? list->count : room;
            for (ULONG_PTR i = 0; i < n; i++)
                count += list->entries[i].pid == self;
        }
        free(list);
        return count;
    }
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
        handles = health_handles_listed(); /* A live process always has handles: 0 means not implemented. */
    out->pid = GetCurrentProcessId();
    out->rss_bytes = pmc.WorkingSetSize;
    out->peak_rss_bytes = pmc.PeakWorkingSetSize;
    out->handles = handles;
    return 0;
}
