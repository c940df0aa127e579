/* The BITS service's COM interface (IBackgroundCopyManager) as a jobs_client: the thin adapter under `jobs` and
 * `selftest`. */
#define COBJMACROS
#include "win_bits.h"

#include <windows.h>
/* bits.h before bits1_5.h: the latter declares IBackgroundCopyJob2 on top of the former's interfaces. */
#include <bits.h>
#include <bits1_5.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_os.h"
#include "bg_utf.h"

/* CLSID_BackgroundCopyManager and the IIDs come from mingw-w64's libbits.a (data only, no DLL). */

typedef struct win_bits {
    jobs_client base;
    IBackgroundCopyManager *mgr;
    int com_ready; /* CoInitializeEx succeeded: CoUninitialize at destroy. */
} win_bits;

static void hr_why(char *why, size_t n, const char *what, HRESULT hr, const char *hint)
{
    snprintf(why, n, "%s failed with 0x%08lx%s%s", what, (unsigned long)hr, hint ? ": " : "", hint ? hint : "");
}

/* A COM string (CoTaskMemAlloc'ed UTF-16) into *dst as UTF-8, freeing the COM string. */
static bg_error com_text_take(char **dst, LPWSTR w)
{
    bg_error rc = BG_ERR_OK;
    if (w) {
        char *u = bg_utf8_from_utf16(w);
        if (!u)
            rc = BG_ERR_NOMEM;
        else {
            free(*dst);
            *dst = u;
        }
        CoTaskMemFree(w);
    }
    return rc;
}

/* FILETIME to "YYYY-MM-DDTHH:MM:SSZ"; "" for zero (BITS leaves times it does not know at zero). */
static void filetime_text(const FILETIME *ft, char *buf, size_t n)
{
    SYSTEMTIME st;
    buf[0] = '\0';
    if ((ft->dwLowDateTime == 0 && ft->dwHighDateTime == 0) || !FileTimeToSystemTime(ft, &st))
        return;
    snprintf(buf, n, "%04u-%02u-%02uT%02u:%02u:%02uZ", st.wYear, st.wMonth, st.wDay, st.wHour, st.wMinute, st.wSecond);
}

/* GetOwner gives a SID string; an admin reads DOMAIN\user, so it is looked up (the SID stays when it fails). */
static bg_error owner_set(char **dst, LPWSTR sid_text)
{
    PSID sid = NULL;
    wchar_t name[256], domain[256], both[520];
    DWORD nn = 256, dn = 256;
    SID_NAME_USE use;
    if (sid_text && ConvertStringSidToSidW(sid_text, &sid) &&
        LookupAccountSidW(NULL, sid, name, &nn, domain, &dn, &use)) {
        _snwprintf(both, sizeof both / sizeof both[0], L"%ls%ls%ls", domain, domain[0] ? L"\\" : L"", name);
        both[sizeof both / sizeof both[0] - 1] = L'\0';
        LocalFree(sid);
        CoTaskMemFree(sid_text);
        char *u = bg_utf8_from_utf16(both);
        if (!u)
            return BG_ERR_NOMEM;
        free(*dst);
        *dst = u;
        return BG_ERR_OK;
    }
    if (sid)
        LocalFree(sid);
    return com_text_take(dst, sid_text);
}

static bg_error job_read(IBackgroundCopyJob *job, jobs_list *l)
{
    jobs_job *j = jobs_list_add(l);
    if (!j)
        return BG_ERR_NOMEM;
    GUID id;
    wchar_t idw[40];
    HRESULT hr = IBackgroundCopyJob_GetId(job, &id);
    if (SUCCEEDED(hr) && StringFromGUID2(&id, idw, 40) > 0) {
        char *u = bg_utf8_from_utf16(idw);
        if (!u || jobs_guid_normalize(u, j->id) != 0)
            snprintf(j->id, sizeof j->id, "?");
        free(u);
    } else {
        jobs_list_missing_note(l, "GetId", hr);
    }
    bg_error rc = BG_ERR_OK;
    LPWSTR w = NULL;
    /* Every getter may be missing (Wine implements few); what is missing is said once, never fatal. */
    if (SUCCEEDED(hr = IBackgroundCopyJob_GetDisplayName(job, &w)))
        rc = com_text_take(&j->title, w);
    else
        jobs_list_missing_note(l, "GetDisplayName", hr);
    w = NULL;
    if (rc == BG_ERR_OK && SUCCEEDED(hr = IBackgroundCopyJob_GetOwner(job, &w)))
        rc = owner_set(&j->owner, w);
    else if (rc == BG_ERR_OK)
        jobs_list_missing_note(l, "GetOwner", hr);
    BG_JOB_TYPE type;
    if (SUCCEEDED(hr = IBackgroundCopyJob_GetType(job, &type)))
        j->type = (jobs_type)type;
    else
        jobs_list_missing_note(l, "GetType", hr);
    BG_JOB_STATE state;
    if (SUCCEEDED(hr = IBackgroundCopyJob_GetState(job, &state)))
        j->state = (jobs_state)state;
    else
        jobs_list_missing_note(l, "GetState", hr);
    BG_JOB_TIMES times;
    if (SUCCEEDED(hr = IBackgroundCopyJob_GetTimes(job, &times))) {
        filetime_text(&times.CreationTime, j->created, sizeof j->created);
        filetime_text(&times.ModificationTime, j->modified, sizeof j->modified);
    } else {
        jobs_list_missing_note(l, "GetTimes", hr);
    }
    IBackgroundCopyJob2 *job2 = NULL;
    if (rc == BG_ERR_OK &&
        SUCCEEDED(hr = IBackgroundCopyJob_QueryInterface(job, &IID_IBackgroundCopyJob2, (void **)&job2))) {
        LPWSTR prog = NULL, params = NULL;
        if (SUCCEEDED(hr = IBackgroundCopyJob2_GetNotifyCmdLine(job2, &prog, &params))) {
            j->notify_known = 1;
            rc = com_text_take(&j->notify_program, prog);
            bg_error rc2 = com_text_take(&j->notify_parameters, params);
            rc = rc != BG_ERR_OK ? rc : rc2;
        } else {
            jobs_list_missing_note(l, "GetNotifyCmdLine", hr);
        }
        IBackgroundCopyJob2_Release(job2);
    } else if (rc == BG_ERR_OK) {
        jobs_list_missing_note(l, "IBackgroundCopyJob2", hr);
    }
    IEnumBackgroundCopyFiles *files = NULL;
    if (rc == BG_ERR_OK && SUCCEEDED(hr = IBackgroundCopyJob_EnumFiles(job, &files))) {
        IBackgroundCopyFile *f = NULL;
        ULONG got = 0;
        while (rc == BG_ERR_OK && IEnumBackgroundCopyFiles_Next(files, 1, &f, &got) == S_OK && got == 1) {
            char *remote = NULL, *local = NULL;
            LPWSTR r = NULL, lw = NULL;
            if (SUCCEEDED(IBackgroundCopyFile_GetRemoteName(f, &r)))
                rc = com_text_take(&remote, r);
            if (rc == BG_ERR_OK && SUCCEEDED(IBackgroundCopyFile_GetLocalName(f, &lw)))
                rc = com_text_take(&local, lw);
            if (rc == BG_ERR_OK)
                rc = jobs_job_file_add(j, remote, local);
            free(remote);
            free(local);
            IBackgroundCopyFile_Release(f);
        }
        IEnumBackgroundCopyFiles_Release(files);
    } else if (rc == BG_ERR_OK) {
        jobs_list_missing_note(l, "EnumFiles", hr);
    }
    return rc;
}

static bg_error computer_set(jobs_list *l)
{
    /* The name the Bits-Client events carry in <Computer>: the fully qualified DNS name. */
    wchar_t name[256];
    DWORD n = 256;
    if (!GetComputerNameExW(ComputerNameDnsFullyQualified, name, &n)) {
        n = 256;
        if (!GetComputerNameW(name, &n))
            return BG_ERR_OK;
    }
    char *u = bg_utf8_from_utf16(name);
    if (!u)
        return BG_ERR_NOMEM;
    free(l->computer);
    l->computer = u;
    return BG_ERR_OK;
}

static bg_error bits_list(jobs_client *c, int all_users, jobs_list *out, int *all_done, char *why, size_t n)
{
    win_bits *b = (win_bits *)c;
    IEnumBackgroundCopyJobs *en = NULL;
    HRESULT hr = E_FAIL;
    *all_done = 0;
    if (all_users) {
        hr = IBackgroundCopyManager_EnumJobs(b->mgr, BG_JOB_ENUM_ALL_USERS, &en);
        *all_done = SUCCEEDED(hr);
    }
    /* Not elevated: BITS refuses all users' jobs with E_ACCESSDENIED; this user's are still listed. */
    if (!all_users || hr == E_ACCESSDENIED)
        hr = IBackgroundCopyManager_EnumJobs(b->mgr, 0, &en);
    if (FAILED(hr)) {
        hr_why(why, n, "IBackgroundCopyManager::EnumJobs", hr, NULL);
        return BG_ERR_PLATFORM;
    }
    bg_error rc = computer_set(out);
    IBackgroundCopyJob *job = NULL;
    ULONG got = 0;
    while (rc == BG_ERR_OK && (hr = IEnumBackgroundCopyJobs_Next(en, 1, &job, &got)) == S_OK && got == 1) {
        rc = job_read(job, out);
        IBackgroundCopyJob_Release(job);
    }
    IEnumBackgroundCopyJobs_Release(en);
    if (rc == BG_ERR_OK && FAILED(hr)) {
        hr_why(why, n, "IEnumBackgroundCopyJobs::Next", hr, NULL);
        rc = BG_ERR_PLATFORM;
    }
    return rc;
}

/* Finds job_id: GetJob, or (where GetJob is not implemented, as in Wine) among all users' jobs. */
static HRESULT job_find(win_bits *b, const char *job_id, IBackgroundCopyJob **out)
{
    char braced[40];
    wchar_t w[40];
    GUID id;
    *out = NULL;
    snprintf(braced, sizeof braced, "{%s}", job_id);
    for (size_t i = 0; i < 39; i++)
        w[i] = (wchar_t)(unsigned char)braced[i];
    w[39] = L'\0';
    HRESULT hr = CLSIDFromString(w, &id);
    if (FAILED(hr))
        return hr;
    hr = IBackgroundCopyManager_GetJob(b->mgr, &id, out);
    if (hr != E_NOTIMPL)
        return hr;
    IEnumBackgroundCopyJobs *en = NULL;
    hr = IBackgroundCopyManager_EnumJobs(b->mgr, BG_JOB_ENUM_ALL_USERS, &en);
    if (hr == E_ACCESSDENIED)
        hr = IBackgroundCopyManager_EnumJobs(b->mgr, 0, &en);
    if (FAILED(hr))
        return hr;
    IBackgroundCopyJob *job = NULL;
    ULONG got = 0;
    hr = (HRESULT)BG_E_NOT_FOUND;
    while (IEnumBackgroundCopyJobs_Next(en, 1, &job, &got) == S_OK && got == 1) {
        GUID jid;
        if (!*out && SUCCEEDED(IBackgroundCopyJob_GetId(job, &jid)) && IsEqualGUID(&jid, &id)) {
            *out = job;
            hr = S_OK;
            continue;
        }
        IBackgroundCopyJob_Release(job);
    }
    IEnumBackgroundCopyJobs_Release(en);
    return hr;
}

static bg_error bits_cancel(jobs_client *c, const char *job_id, char *why, size_t n)
{
    win_bits *b = (win_bits *)c;
    IBackgroundCopyJob *job = NULL;
    HRESULT hr = job_find(b, job_id, &job);
    if (hr == (HRESULT)BG_E_NOT_FOUND) {
        snprintf(why, n, "no BITS job %s", job_id);
        return BG_ERR_INVALID_ARG;
    }
    if (FAILED(hr)) {
        hr_why(why, n, "IBackgroundCopyManager::GetJob", hr,
               hr == E_ACCESSDENIED ? "another user's job needs an elevated administrator" : NULL);
        return BG_ERR_PLATFORM;
    }
    hr = IBackgroundCopyJob_Cancel(job);
    IBackgroundCopyJob_Release(job);
    /* BG_S_UNABLE_TO_DELETE_FILES is a success: the job is cancelled, a temporary file stayed. */
    if (FAILED(hr)) {
        hr_why(why, n, "IBackgroundCopyJob::Cancel", hr,
               hr == (HRESULT)BG_E_INVALID_STATE ? "the job is already cancelled or acknowledged" : NULL);
        return BG_ERR_PLATFORM;
    }
    return BG_ERR_OK;
}

static bg_error bits_create(jobs_client *c, const char *title, const char *remote, const char *local, char job_id[37],
                            char *why, size_t n)
{
    win_bits *b = (win_bits *)c;
    wchar_t *wt = bg_utf16_from_utf8(title), *wr = bg_utf16_from_utf8(remote), *wl = bg_utf16_from_utf8(local);
    IBackgroundCopyJob *job = NULL;
    bg_error rc = BG_ERR_NOMEM;
    GUID id;
    if (!wt || !wr || !wl)
        goto cleanup;
    /* A new job is suspended until Resume, which is never called: BITS transfers nothing. */
    HRESULT hr = IBackgroundCopyManager_CreateJob(b->mgr, wt, BG_JOB_TYPE_DOWNLOAD, &id, &job);
    if (FAILED(hr)) {
        hr_why(why, n, "IBackgroundCopyManager::CreateJob", hr, NULL);
        rc = BG_ERR_PLATFORM;
        goto cleanup;
    }
    hr = IBackgroundCopyJob_AddFile(job, wr, wl);
    if (FAILED(hr)) {
        hr_why(why, n, "IBackgroundCopyJob::AddFile", hr, NULL);
        IBackgroundCopyJob_Cancel(job);
        rc = BG_ERR_PLATFORM;
        goto cleanup;
    }
    wchar_t idw[40];
    char *u = StringFromGUID2(&id, idw, 40) > 0 ? bg_utf8_from_utf16(idw) : NULL;
    rc = u && jobs_guid_normalize(u, job_id) == 0 ? BG_ERR_OK : BG_ERR_NOMEM;
    free(u);
cleanup:
    if (job)
        IBackgroundCopyJob_Release(job);
    free(wt);
    free(wr);
    free(wl);
    return rc;
}

static void bits_who(jobs_client *c, char *buf, size_t n)
{
    (void)c;
    bg_os_user_name(buf, n); /* The process token's DOMAIN\user, as `ack` records it too. */
}

static void bits_destroy(jobs_client *c)
{
    win_bits *b = (win_bits *)c;
    if (b->mgr)
        IBackgroundCopyManager_Release(b->mgr);
    if (b->com_ready)
        CoUninitialize();
    free(b);
}

static const jobs_client_ops bits_ops = {bits_list, bits_cancel, bits_create, bits_who, bits_destroy};

jobs_client *win_bits_client_new(char *why, size_t why_len)
{
    win_bits *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    b->base.ops = &bits_ops;
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    if (FAILED(hr)) {
        hr_why(why, why_len, "CoInitializeEx", hr, NULL);
        goto fail;
    }
    b->com_ready = 1;
    /* BITS requires the caller to allow impersonation (IMPERSONATE): it acts on the caller's behalf and
     * decides by the caller's token whose jobs it lists. RPC_E_TOO_LATE: the process already chose. */
    hr = CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_CONNECT, RPC_C_IMP_LEVEL_IMPERSONATE, NULL,
                              EOAC_NONE, NULL);
    if (FAILED(hr) && hr != RPC_E_TOO_LATE) {
        hr_why(why, why_len, "CoInitializeSecurity", hr, NULL);
        goto fail;
    }
    hr = CoCreateInstance(&CLSID_BackgroundCopyManager, NULL, CLSCTX_LOCAL_SERVER, &IID_IBackgroundCopyManager,
                          (void **)&b->mgr);
    if (FAILED(hr)) {
        hr_why(why, why_len, "connecting to the BITS service (CoCreateInstance BackgroundCopyManager)", hr,
               "is the BITS service (Background Intelligent Transfer Service) enabled? sc qc BITS");
        goto fail;
    }
    return &b->base;
fail:
    bits_destroy(&b->base);
    return NULL;
}
