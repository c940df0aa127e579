/* Administration without the MSI: install, uninstall, start, stop, setup and teardown of the bitsguard service. */
#include <windows.h>

#include <aclapi.h>
#include <bcrypt.h>
#include <lm.h>
#include <sddl.h>
#include <winevt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "bg_error.h"
#include "cli.h"
#include "win_service.h"
#include "win_util.h"

#define EVENTLOG_SOURCE_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" WIN_SERVICE_NAME
/* The channel the service reads; its access SDDL gets one read entry for the service SID. */
#define BITS_CHANNEL L"Microsoft-Windows-Bits-Client/Operational"
/* BUILTIN\Event Log Readers: older builds added the service SID to it; teardown removes that. */
#define EVENT_LOG_READERS_SID L"S-1-5-32-573"
/* How long start/stop wait for the service to reach the requested state. */
#define ADMIN_WAIT_MS 30000u
/* Modify access for the service SID on its data folder: read, write, execute and delete, not
 * WRITE_DAC or WRITE_OWNER, so the service cannot widen its own folder's ACL. */
#define DATA_FOLDER_SERVICE_MASK L"0x1301bf"

/* One step's outcome, printed as the step runs so an installer log shows how far it went. */
static void step_print(const char *what, const char *status, const char *detail)
{
    printf("  %-34s %s%s%s\n", what, status, detail && detail[0] ? ": " : "", detail ? detail : "");
    fflush(stdout);
}

static void step_failed(const char *what, DWORD err)
{
    char text[200];
    step_print(what, "FAILED", win_error_text(err, text, sizeof text));
}

static SC_HANDLE scm_open(DWORD access)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, access);
    if (!scm) {
        char text[200];
        fprintf(stderr, "bitsguard: cannot open the Service Control Manager: %s%s\n",
                win_error_text(GetLastError(), text, sizeof text),
                GetLastError() == ERROR_ACCESS_DENIED ? " (run as Administrator)" : "");
    }
    return scm;
}

static SC_HANDLE service_open(SC_HANDLE scm, DWORD access)
{
    SC_HANDLE svc = OpenServiceW(scm, WIN_SERVICE_NAME, access);
    if (!svc) {
        char text[200];
        DWORD err = GetLastError();
        fprintf(stderr, "bitsguard: cannot open the service: %s%s\n", win_error_text(err, text, sizeof text),
                err == ERROR_SERVICE_DOES_NOT_EXIST ? " (run 'bitsguard install' first)" : "");
    }
    return svc;
}

/*
 * The service SID (NT SERVICE\bitsguard) as SDDL text. LookupAccountNameW answers on Windows; where it
 * cannot (Wine), the SID is computed as Windows does: S-1-5-80 followed by the SHA-1 of the upper-case
 * service name in UTF-16LE, read as five little-endian 32-bit sub-authorities.
 */
static int service_sid_string(wchar_t *out, size_t len)
{
    BYTE sid_buf[SECURITY_MAX_SID_SIZE];
    DWORD sid_len = sizeof sid_buf;
    wchar_t domain[64];
    DWORD domain_len = sizeof domain / sizeof domain[0];
    SID_NAME_USE use;
    if (LookupAccountNameW(NULL, L"NT SERVICE\\" WIN_SERVICE_NAME, sid_buf, &sid_len, domain, &domain_len, &use)) {
        wchar_t *text = NULL;
        if (ConvertSidToStringSidW((PSID)sid_buf, &text)) {
            _snwprintf(out, len, L"%ls", text);
            out[len - 1] = L'\0';
            LocalFree(text);
            return 1;
        }
    }
    wchar_t upper[64];
    _snwprintf(upper, sizeof upper / sizeof upper[0], L"%ls", WIN_SERVICE_NAME);
    upper[63] = L'\0';
    CharUpperW(upper);
    BYTE digest[20];
    BCRYPT_ALG_HANDLE alg = NULL;
    BCRYPT_HASH_HANDLE hash = NULL;
    int ok = BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA1_ALGORITHM, NULL, 0) >= 0 &&
             BCryptCreateHash(alg, &hash, NULL, 0, NULL, 0, 0) >= 0 &&
             BCryptHashData(hash, (PUCHAR)upper, (ULONG)(wcslen(upper) * sizeof(wchar_t)), 0) >= 0 &&
             BCryptFinishHash(hash, digest, sizeof digest, 0) >= 0;
    if (hash)
        BCryptDestroyHash(hash);
    if (alg)
        BCryptCloseAlgorithmProvider(alg, 0);
    if (!ok)
        return 0;
    unsigned long sub[5];
    for (int i = 0; i < 5; i++)
        sub[i] = (unsigned long)digest[4 * i] | (unsigned long)digest[4 * i + 1] << 8 |
                 (unsigned long)digest[4 * i + 2] << 16 | (unsigned long)digest[4 * i + 3] << 24;
    _snwprintf(out, len, L"S-1-5-80-%lu-%lu-%lu-%lu-%lu", sub[0], sub[1], sub[2], sub[3], sub[4]);
    out[len - 1] = L'\0';
    return 1;
}

/* Wine's ntdll exports wine_get_version; Windows' never does. Used only to downgrade the failures
 * Wine is known to produce (file ACLs are not stored) into warnings, never to change behaviour. */
static int running_on_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* Compares two DACLs ACE by ACE (type, flags without INHERITED_ACE, mask, SID). 1 when equal. */
static int dacl_equal(PACL a, PACL b, char *why, size_t len)
{
    ACL_SIZE_INFORMATION ia, ib;
    if (!a || !b || !GetAclInformation(a, &ia, sizeof ia, AclSizeInformation) ||
        !GetAclInformation(b, &ib, sizeof ib, AclSizeInformation)) {
        snprintf(why, len, "no DACL read back");
        return 0;
    }
    if (ia.AceCount != ib.AceCount) {
        snprintf(why, len, "%lu entries read back, %lu expected", (unsigned long)ib.AceCount,
                 (unsigned long)ia.AceCount);
        return 0;
    }
    for (DWORD i = 0; i < ia.AceCount; i++) {
        ACCESS_ALLOWED_ACE *x = NULL, *y = NULL;
        if (!GetAce(a, i, (void **)&x) || !GetAce(b, i, (void **)&y)) {
            snprintf(why, len, "entry %lu unreadable", (unsigned long)i);
            return 0;
        }
        if (x->Header.AceType != ACCESS_ALLOWED_ACE_TYPE || y->Header.AceType != ACCESS_ALLOWED_ACE_TYPE ||
            (x->Header.AceFlags & ~INHERITED_ACE) != (y->Header.AceFlags & ~INHERITED_ACE) || x->Mask != y->Mask ||
            !EqualSid((PSID)&x->SidStart, (PSID)&y->SidStart)) {
            snprintf(why, len,
                     "entry %lu differs (type %u flags 0x%x mask 0x%lx, expected type %u flags 0x%x mask 0x%lx)",
                     (unsigned long)i, y->Header.AceType, y->Header.AceFlags, (unsigned long)y->Mask, x->Header.AceType,
                     x->Header.AceFlags, (unsigned long)x->Mask);
            return 0;
        }
    }
    return 1;
}

/* 1 when name is a file the store creates in the data folder: a database ("*.db", bitsguard.db by
 * default, another name through DatabasePath), its SQLite sidecars (-wal, -shm, -journal) and the
 * copies a corrupt database is moved aside to ("*.db.corrupt-STAMP[-N]" and their sidecars). Setup
 * re-secures and --remove-data deletes these names only, never anything else found there. */
static int store_file_name(const wchar_t *name)
{
    size_t n = wcslen(name);
    static const wchar_t *const tails[] = {L".db", L".db-wal", L".db-shm", L".db-journal"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        size_t t = wcslen(tails[i]);
        if (n > t && _wcsicmp(name + n - t, tails[i]) == 0)
            return 1;
    }
    const wchar_t *c = wcsstr(name, L".db.corrupt-");
    return c != NULL && c > name;
}

/* The final path of an open handle ("\\?\C:\..."), resolved by the system; 0 on failure. */
static int handle_final_path(HANDLE h, wchar_t *out, DWORD len)
{
    DWORD n = GetFinalPathNameByHandleW(h, out, len, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    return n > 0 && n < len;
}

/* Opens path itself, never what a final reparse point names (backup semantics: folders too, and
 * with SeBackupPrivilege/SeRestorePrivilege enabled the read and security rights are granted whatever
 * the current DACL says). FILE_READ_ATTRIBUTES always: the link checks read the handle's attributes. */
static HANDLE path_open_nofollow(const wchar_t *path, DWORD access)
{
    return CreateFileW(path, access | FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                       NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
}

/*
 * Why the object opened as h (from path, whose final path must be `expected`) is not a plain file or
 * folder of its own: NULL when it is. Three checks, because each system shows links differently:
 * Windows marks a junction or symbolic link FILE_ATTRIBUTE_REPARSE_POINT on the handle opened with
 * FILE_FLAG_OPEN_REPARSE_POINT; Wine (a Unix symlink in the prefix) marks a folder link only in the
 * path's attributes and a file link nowhere, but the handle's final path names the target. A hard
 * link (more than one name) shares its ACL with a file elsewhere, so it is refused too.
 */
static const char *handle_link_reason(HANDLE h, const wchar_t *path, const wchar_t *expected, int want_dir)
{
    DWORD a = GetFileAttributesW(path);
    BY_HANDLE_FILE_INFORMATION fi;
    wchar_t final[MAX_PATH + 8];
    if (!GetFileInformationByHandle(h, &fi))
        return "cannot read its attributes";
    if ((a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT)) ||
        (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))
        return "it is a reparse point (junction or symbolic link)";
    if (!handle_final_path(h, final, sizeof final / sizeof final[0]))
        return "cannot resolve its final path";
    if (_wcsicmp(final, expected) != 0)
        return "it resolves to another path (a link)";
    if (want_dir != !!(fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
        return want_dir ? "it is not a folder" : "it is a folder";
    if (!want_dir && fi.nNumberOfLinks > 1)
        return "it has more than one name (hard link)";
    return NULL;
}

/* Enables a privilege in this process's token (an administrator holds both used here, disabled).
 * Failure is not reported: the operation that needs it then fails with its own error. */
static void privilege_enable(const wchar_t *name)
{
    HANDLE token = NULL;
    TOKEN_PRIVILEGES tp = {1, {{{0, 0}, SE_PRIVILEGE_ENABLED}}};
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token) &&
        LookupPrivilegeValueW(NULL, name, &tp.Privileges[0].Luid))
        AdjustTokenPrivileges(token, FALSE, &tp, sizeof tp, NULL, NULL);
    if (token)
        CloseHandle(token);
}

/* Prints a refusal naming the object, the reason and what the administrator should do. */
static void link_refused(const char *what, const wchar_t *path, const char *reason, const char *hint)
{
    char *u = win_utf8_from_utf16(path);
    char detail[700];
    snprintf(detail, sizeof detail, "%s: %s; refusing (%s)", u ? u : "(path)", reason, hint);
    step_print(what, "FAILED", detail);
    free(u);
}

/*
 * The store's files already in the folder (an earlier install, or planted before it): owner set to
 * Administrators and the DACL reset to inherit only, so they get the folder's entries and nothing of
 * their own. Links are refused, so the ACL of a file elsewhere is never touched. 1 when all went well.
 */
static int data_files_secure(const wchar_t *folder, const wchar_t *folder_final, PSID admins, int wine)
{
    const char *what = "data files ACL";
    wchar_t pattern[MAX_PATH + 4], path[2 * MAX_PATH], expected[2 * MAX_PATH + 8];
    _snwprintf(pattern, sizeof pattern / sizeof pattern[0], L"%ls\\*", folder);
    pattern[sizeof pattern / sizeof pattern[0] - 1] = L'\0';
    ACL empty;
    if (!InitializeAcl(&empty, sizeof empty, ACL_REVISION)) {
        step_failed(what, GetLastError());
        return 0;
    }
    WIN32_FIND_DATAW fd;
    HANDLE find = FindFirstFileW(pattern, &fd);
    if (find == INVALID_HANDLE_VALUE) {
        step_print(what, "ok", "no files");
        return 1;
    }
    int ok = 1, count = 0;
    do {
        if (!store_file_name(fd.cFileName))
            continue;
        _snwprintf(path, sizeof path / sizeof path[0], L"%ls\\%ls", folder, fd.cFileName);
        path[sizeof path / sizeof path[0] - 1] = L'\0';
        _snwprintf(expected, sizeof expected / sizeof expected[0], L"%ls\\%ls", folder_final, fd.cFileName);
        expected[sizeof expected / sizeof expected[0] - 1] = L'\0';
        HANDLE h = path_open_nofollow(path, READ_CONTROL | WRITE_DAC | WRITE_OWNER);
        if (h == INVALID_HANDLE_VALUE) {
            ok = 0;
            step_failed(what, GetLastError());
            continue;
        }
        const char *reason = handle_link_reason(h, path, expected, 0);
        if (reason) {
            ok = 0;
            link_refused(what, path, reason, "remove it, then run setup again");
        } else {
            DWORD rc = SetSecurityInfo(h, SE_FILE_OBJECT,
                                       OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
                                           UNPROTECTED_DACL_SECURITY_INFORMATION,
                                       admins, NULL, &empty, NULL);
            if (rc != ERROR_SUCCESS && !wine) {
                ok = 0;
                step_failed(what, rc);
            }
            count++;
        }
        CloseHandle(h);
    } while (FindNextFileW(find, &fd));
    FindClose(find);
    if (ok) {
        char detail[96];
        snprintf(detail, sizeof detail, "%d file(s) reset to the folder's entries, owner Administrators%s", count,
                 wine && count ? " (not enforced under Wine)" : "");
        step_print(what, "ok", detail);
    }
    return ok;
}

/*
 * %ProgramData%\bitsguard owned by Administrators with a protected DACL: SYSTEM and Administrators full
 * control, the service SID modify, nobody else (ProgramData's inherited Users read/create entries are
 * cut off). Users may create folders in ProgramData, so the folder may be an attacker's: a junction or
 * symbolic link is refused (our DACL would land on its target); the owner is taken (an owner can always
 * rewrite the DACL); the store's files already inside are reset. Owner and DACL are read back and
 * compared ACE by ACE, because a silently ignored ACL would leave the database readable by users.
 */
static int data_folder_secure(void)
{
    const char *what = "data folder ACL";
    int ok = 0, wine = running_on_wine();
    wchar_t folder[MAX_PATH], parent[MAX_PATH], sid[96], sddl[256];
    wchar_t parent_final[MAX_PATH + 8], expected[MAX_PATH + 32];
    PSECURITY_DESCRIPTOR want = NULL, got = NULL;
    PSID admins = NULL;
    HANDLE h = INVALID_HANDLE_VALUE, ph = INVALID_HANDLE_VALUE;
    if (!win_data_folder(folder, MAX_PATH)) {
        step_print(what, "FAILED", "%ProgramData% is not set");
        return 0;
    }
    if (!service_sid_string(sid, sizeof sid / sizeof sid[0])) {
        step_print(what, "FAILED", "cannot determine the service SID");
        return 0;
    }
    _snwprintf(sddl, sizeof sddl / sizeof sddl[0], L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;%ls;;;%ls)",
               DATA_FOLDER_SERVICE_MASK, sid);
    sddl[sizeof sddl / sizeof sddl[0] - 1] = L'\0';
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &want, NULL) ||
        !ConvertStringSidToSidW(L"BA", &admins)) {
        step_failed(what, GetLastError());
        goto cleanup;
    }
    /* Taking ownership of a folder someone else created, and opening it (and the files in it) for
     * READ_CONTROL, WRITE_DAC and WRITE_OWNER whatever its DACL says, need these; an elevated
     * administrator holds them, disabled. Enabled in this short-lived admin process only. */
    privilege_enable(L"SeTakeOwnershipPrivilege");
    privilege_enable(L"SeRestorePrivilege");
    privilege_enable(L"SeBackupPrivilege");
    SECURITY_ATTRIBUTES sa = {sizeof sa, want, FALSE};
    if (!CreateDirectoryW(folder, &sa) && GetLastError() != ERROR_ALREADY_EXISTS) {
        step_failed("create data folder", GetLastError());
        goto cleanup;
    }
    /* The folder must be exactly <final path of ProgramData>\bitsguard, not reached through a link. */
    memcpy(parent, folder, sizeof parent);
    wchar_t *slash = wcsrchr(parent, L'\\');
    if (slash)
        *slash = L'\0';
    ph = path_open_nofollow(parent, 0);
    if (!slash || ph == INVALID_HANDLE_VALUE || !handle_final_path(ph, parent_final, MAX_PATH + 8)) {
        step_failed(what, GetLastError());
        goto cleanup;
    }
    _snwprintf(expected, sizeof expected / sizeof expected[0], L"%ls\\%ls", parent_final, slash + 1);
    expected[sizeof expected / sizeof expected[0] - 1] = L'\0';
    h = path_open_nofollow(folder, READ_CONTROL | WRITE_DAC | WRITE_OWNER);
    if (h == INVALID_HANDLE_VALUE) {
        step_failed(what, GetLastError());
        goto cleanup;
    }
    const char *reason = handle_link_reason(h, folder, expected, 1);
    if (reason) {
        link_refused(what, folder, reason, "remove it, then run setup again");
        goto cleanup;
    }
    BOOL present = FALSE, defaulted = FALSE;
    PACL want_dacl = NULL;
    GetSecurityDescriptorDacl(want, &present, &want_dacl, &defaulted);
    /* Applied even to a new folder: CreateDirectory's attributes do not strip what an existing one had.
     * On the handle, so the object checked above is the object changed. */
    DWORD rc = SetSecurityInfo(
        h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
        admins, NULL, want_dacl, NULL);
    if (rc != ERROR_SUCCESS) {
        step_failed(what, rc);
        goto cleanup;
    }
    PACL got_dacl = NULL;
    PSID got_owner = NULL;
    rc = GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &got_owner, NULL,
                         &got_dacl, NULL, &got);
    if (rc != ERROR_SUCCESS) {
        step_failed("read back data folder ACL", rc);
        goto cleanup;
    }
    SECURITY_DESCRIPTOR_CONTROL control = 0;
    DWORD revision = 0;
    char why[200] = "";
    int owner_ok = got_owner && EqualSid(got_owner, admins);
    int protected_ok = GetSecurityDescriptorControl(got, &control, &revision) && (control & SE_DACL_PROTECTED);
    if (!owner_ok)
        snprintf(why, sizeof why, "the owner is not BUILTIN\\Administrators");
    else if (!protected_ok)
        snprintf(why, sizeof why, "the DACL is not protected (inherits from ProgramData)");
    if (!owner_ok || !protected_ok || !dacl_equal(want_dacl, got_dacl, why, sizeof why)) {
        /* Show what is there, so the log says how it differs. */
        wchar_t *text = NULL;
        char *u = NULL;
        if (ConvertSecurityDescriptorToStringSecurityDescriptorW(
                got, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &text, NULL))
            u = win_utf8_from_utf16(text);
        char detail[600];
        snprintf(detail, sizeof detail, "read back: %s; found %s%s", why, u ? u : "(unreadable)",
                 wine ? " (Wine does not store file ACLs: not enforced here)" : "");
        step_print(what, wine ? "warning" : "FAILED", detail);
        free(u);
        if (text)
            LocalFree(text);
        /* Only under Wine, which keeps no ACLs on files, is this not fatal: on Windows an ACL that
         * did not stick means the database would be readable by users, so setup must fail. */
        if (!wine)
            goto cleanup;
    } else {
        char *u = win_utf8_from_utf16(sddl);
        step_print(what, "ok", u ? u : "");
        free(u);
    }
    /* expected is the folder's final path: the files inside must resolve right under it. */
    ok = data_files_secure(folder, expected, admins, wine);
cleanup:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (ph != INVALID_HANDLE_VALUE)
        CloseHandle(ph);
    if (admins)
        LocalFree(admins);
    if (want)
        LocalFree(want);
    if (got)
        LocalFree(got);
    return ok;
}

/* Event Log source bitsguard in the Application log, with this exe as its message file. */
static int event_source_register(void)
{
    const char *what = "event source (Application log)";
    wchar_t exe[MAX_PATH];
    if (!win_module_path(exe, MAX_PATH)) {
        step_failed(what, GetLastError());
        return 0;
    }
    HKEY key = NULL;
    LSTATUS rc = RegCreateKeyExW(HKEY_LOCAL_MACHINE, EVENTLOG_SOURCE_KEY, 0, NULL, 0, KEY_SET_VALUE | KEY_WOW64_64KEY,
                                 NULL, &key, NULL);
    if (rc == ERROR_SUCCESS)
        rc = RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                            (DWORD)((wcslen(exe) + 1) * sizeof(wchar_t)));
    DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    if (rc == ERROR_SUCCESS)
        rc = RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types, sizeof types);
    if (key)
        RegCloseKey(key);
    if (rc != ERROR_SUCCESS) {
        step_failed(what, (DWORD)rc);
        return 0;
    }
    step_print(what, "ok", NULL);
    return 1;
}

/* 1 when the security descriptor in sddl grants read (0x1) to the SID given: an allow ACE of the DACL
 * whose mask holds 0x1. Used with SU (service logon users, in every service's token) and the service
 * SID, the two entries that let this service and few others read the channel. */
static int sddl_grants_read(const wchar_t *sddl, PSID who)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL;
    ACL_SIZE_INFORMATION info;
    int found = 0;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL))
        return 0;
    if (GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) && present && dacl &&
        GetAclInformation(dacl, &info, sizeof info, AclSizeInformation)) {
        for (DWORD i = 0; i < info.AceCount && !found; i++) {
            ACCESS_ALLOWED_ACE *ace = NULL;
            if (GetAce(dacl, i, (void **)&ace) && ace->Header.AceType == ACCESS_ALLOWED_ACE_TYPE &&
                !(ace->Header.AceFlags & INHERIT_ONLY_ACE) && (ace->Mask & 0x1) && EqualSid((PSID)&ace->SidStart, who))
                found = 1;
        }
    }
    LocalFree(sd);
    return found;
}

/* The channel's access SDDL, read into out (len characters); 0 with the last error set on failure. */
static int channel_sddl_get(EVT_HANDLE cfg, wchar_t *out, size_t len)
{
    BYTE buf[8192];
    EVT_VARIANT *v = (EVT_VARIANT *)buf;
    DWORD used = 0;
    if (!EvtGetChannelConfigProperty(cfg, EvtChannelConfigAccess, 0, sizeof buf, v, &used))
        return 0;
    if (v->Type != EvtVarTypeString || !v->StringVal || wcslen(v->StringVal) + 1 > len) {
        SetLastError(ERROR_INVALID_DATA);
        return 0;
    }
    memcpy(out, v->StringVal, (wcslen(v->StringVal) + 1) * sizeof(wchar_t));
    return 1;
}

/* Writes sddl as the channel's access and saves the configuration; 0 with the last error set. */
static int channel_sddl_set(EVT_HANDLE cfg, const wchar_t *sddl)
{
    EVT_VARIANT v;
    memset(&v, 0, sizeof v);
    v.Type = EvtVarTypeString;
    v.StringVal = sddl;
    return EvtSetChannelConfigProperty(cfg, EvtChannelConfigAccess, 0, &v) && EvtSaveChannelConfig(cfg, 0);
}

/*
 * Hosts installed by an older build made the service SID a member of BUILTIN\Event Log Readers, which
 * reads every channel that group may read (much more than Bits-Client). Removes that membership; no
 * output when it was not a member.
 */
static void event_log_readers_leave(PSID member_sid)
{
    PSID group_sid = NULL;
    wchar_t name[128], domain[128];
    DWORD name_len = sizeof name / sizeof name[0], domain_len = sizeof domain / sizeof domain[0];
    SID_NAME_USE use;
    /* The group's name is localised: look it up from its well-known SID. */
    if (!ConvertStringSidToSidW(EVENT_LOG_READERS_SID, &group_sid) ||
        !LookupAccountSidW(NULL, group_sid, name, &name_len, domain, &domain_len, &use))
        goto cleanup;
    LOCALGROUP_MEMBERS_INFO_0 member = {member_sid};
    NET_API_STATUS rc = NetLocalGroupDelMembers(NULL, name, 0, (LPBYTE)&member, 1);
    if (rc == NERR_Success)
        step_print("leave Event Log Readers", "ok", "membership of an older install removed");
cleanup:
    if (group_sid)
        LocalFree(group_sid);
}

/*
 * Read access to the Bits-Client channel for this service only: (A;;0x1;;;<service SID>) appended to
 * the channel's own access SDDL (least privilege: not Event Log Readers, which also reads Security).
 * Nothing is added when the channel already lets SU (every service) or the service SID read. Teardown
 * (add = 0) removes exactly that entry and an older build's Event Log Readers membership. Takes effect
 * at the service's next start. Never fatal: where the channel cannot be configured (Wine's wevtapi
 * stub), a warning says so and an administrator can add the entry with `wevtutil sl ... /ca:`.
 */
static void channel_access_grant(int add)
{
    const char *what = add ? "Bits-Client channel read access" : "remove channel read access";
    wchar_t sid_text[96], ace[128], sddl[4096], next[4096];
    char text[200];
    PSID member_sid = NULL, su_sid = NULL;
    EVT_HANDLE cfg = NULL;
    if (!service_sid_string(sid_text, sizeof sid_text / sizeof sid_text[0]) ||
        !ConvertStringSidToSidW(sid_text, &member_sid) || !ConvertStringSidToSidW(L"SU", &su_sid)) {
        step_print(what, "warning", "cannot build the SIDs");
        goto cleanup;
    }
    if (!add)
        event_log_readers_leave(member_sid);
    _snwprintf(ace, sizeof ace / sizeof ace[0], L"(A;;0x1;;;%ls)", sid_text);
    ace[sizeof ace / sizeof ace[0] - 1] = L'\0';
    cfg = EvtOpenChannelConfig(NULL, BITS_CHANNEL, 0);
    if (!cfg || !channel_sddl_get(cfg, sddl, sizeof sddl / sizeof sddl[0])) {
        step_print(what, "warning", win_error_text(GetLastError(), text, sizeof text));
        goto cleanup;
    }
    /* Where our entry is (added by setup), as text: it is removed exactly as it was written. */
    wchar_t *ours = NULL;
    for (wchar_t *p = sddl; *p; p++) {
        if (_wcsnicmp(p, ace, wcslen(ace)) == 0) {
            ours = p;
            break;
        }
    }
    if (add) {
        if (sddl_grants_read(sddl, su_sid) || sddl_grants_read(sddl, member_sid)) {
            step_print(what, "ok", "already readable by services (SU) or by the service SID");
            goto cleanup;
        }
        /* The DACL part ends where the SACL ("S:") starts, or at the end. ACE strings hold no "S:". */
        wchar_t *d = wcsstr(sddl, L"D:");
        wchar_t *s = d ? wcsstr(d, L"S:") : NULL;
        size_t at = s ? (size_t)(s - sddl) : wcslen(sddl), n = wcslen(sddl), an = wcslen(ace);
        if (!d || n + an + 1 > sizeof next / sizeof next[0]) {
            step_print(what, "warning", "unexpected channel access string");
            goto cleanup;
        }
        memcpy(next, sddl, at * sizeof(wchar_t));
        memcpy(next + at, ace, an * sizeof(wchar_t));
        memcpy(next + at + an, sddl + at, (n - at + 1) * sizeof(wchar_t));
    } else {
        if (!ours) {
            step_print(what, "ok", "no entry of ours");
            goto cleanup;
        }
        size_t at = (size_t)(ours - sddl), an = wcslen(ace), n = wcslen(sddl);
        memcpy(next, sddl, at * sizeof(wchar_t));
        memcpy(next + at, sddl + at + an, (n - at - an + 1) * sizeof(wchar_t));
    }
    if (!channel_sddl_set(cfg, next)) {
        step_print(what, "warning", win_error_text(GetLastError(), text, sizeof text));
        goto cleanup;
    }
    char *u = win_utf8_from_utf16(ace);
    step_print(what, "ok", u ? u : NULL);
    free(u);
cleanup:
    if (cfg)
        EvtClose(cfg);
    if (su_sid)
        LocalFree(su_sid);
    if (member_sid)
        LocalFree(member_sid);
}

/* ERROR_INVALID_LEVEL from ChangeServiceConfig2W: the system does not know this setting (Wine answers
 * 124 for the SID type, required privileges and delayed start). Reported, not fatal: on Windows 10
 * and later every level used here exists. Returns 1 when the last error was that. */
static int config2_unsupported(const char *what)
{
    if (GetLastError() != ERROR_INVALID_LEVEL)
        return 0;
    step_print(what, "warning", "not supported by this system (error 124), skipped");
    return 1;
}

/* Quotes the service's image path when it is not: Wine's msiexec writes "C:\Program Files\...\bitsguard.exe
 * service" unquoted, which lets C:\Program.exe run as the service (CWE-428). Idempotent. */
static int image_path_quote(SC_HANDLE svc)
{
    const char *what = "quoted image path";
    BYTE qbuf[8192];
    QUERY_SERVICE_CONFIGW *qc = (QUERY_SERVICE_CONFIGW *)qbuf;
    DWORD need = 0;
    if (!QueryServiceConfigW(svc, qc, sizeof qbuf, &need)) {
        step_failed(what, GetLastError());
        return 0;
    }
    if (qc->lpBinaryPathName && qc->lpBinaryPathName[0] == L'"') {
        step_print(what, "ok", "already quoted");
        return 1;
    }
    wchar_t exe[MAX_PATH], path[MAX_PATH + 16];
    if (!win_module_path(exe, MAX_PATH)) {
        step_failed(what, GetLastError());
        return 0;
    }
    int n = _snwprintf(path, sizeof path / sizeof path[0], L"\"%ls\" service", exe);
    if (n < 0 || (size_t)n >= sizeof path / sizeof path[0] ||
        !ChangeServiceConfigW(svc, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, path, NULL, NULL, NULL,
                              NULL, NULL, NULL)) {
        step_failed(what, GetLastError());
        return 0;
    }
    step_print(what, "ok", "was unquoted, fixed");
    return 1;
}

/* What the MSI (wixl) cannot express, applied to an existing service. Returns 1 when nothing failed. */
static int service_setup(SC_HANDLE svc)
{
    int ok = image_path_quote(svc);

    SERVICE_DESCRIPTIONW desc = {(LPWSTR)WIN_SERVICE_DESCRIPTION};
    if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &desc))
        step_print("description", "ok", NULL);
    else
        ok = 0, step_failed("description", GetLastError());

    /* An unrestricted service SID: the folder and channel ACLs can name this service alone. */
    SERVICE_SID_INFO sid_info = {SERVICE_SID_TYPE_UNRESTRICTED};
    if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_SERVICE_SID_INFO, &sid_info))
        step_print("service SID type", "ok", "unrestricted");
    else if (!config2_unsupported("service SID type"))
        ok = 0, step_failed("service SID type", GetLastError());

    /* Only bypass-traverse-checking: reading a channel, writing its own folder and reporting events
     * need no privilege. Everything else LocalService holds is removed from the process token. */
    SERVICE_REQUIRED_PRIVILEGES_INFOW privs = {(LPWSTR)L"SeChangeNotifyPrivilege\0"};
    if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO, &privs))
        step_print("required privileges", "ok", "SeChangeNotifyPrivilege");
    else if (!config2_unsupported("required privileges"))
        ok = 0, step_failed("required privileges", GetLastError());

    /* Restart after 5 s, 10 s, then 60 s; the failure count resets after a day without failure. */
    SC_ACTION actions[3] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, NULL, 3, actions};
    if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
        step_print("recovery actions", "ok", "restart after 5 s, 10 s, 60 s; reset after 1 day");
    else
        ok = 0, step_failed("recovery actions", GetLastError());
    /* Also when the service stops itself with an error exit code, not only on a crash. */
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag))
        step_print("recovery on error exit", "ok", NULL);
    else
        step_print("recovery on error exit", "warning", "not supported here");

    SERVICE_PRESHUTDOWN_INFO pre = {WIN_PRESHUTDOWN_TIMEOUT_MS};
    if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_PRESHUTDOWN_INFO, &pre))
        step_print("preshutdown time-out", "ok", "10 s");
    else
        ok = 0, step_failed("preshutdown time-out", GetLastError());

    /* Delayed auto-start only makes sense for auto-start services. Wine answers 124: not fatal. */
    BYTE qbuf[8192];
    QUERY_SERVICE_CONFIGW *qc = (QUERY_SERVICE_CONFIGW *)qbuf;
    DWORD need = 0;
    if (QueryServiceConfigW(svc, qc, sizeof qbuf, &need) && qc->dwStartType == SERVICE_AUTO_START) {
        SERVICE_DELAYED_AUTO_START_INFO delayed = {TRUE};
        if (ChangeServiceConfig2W(svc, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed))
            step_print("delayed auto-start", "ok", NULL);
        else if (!config2_unsupported("delayed auto-start"))
            ok = 0, step_failed("delayed auto-start", GetLastError());
    } else {
        step_print("delayed auto-start", "skipped", "the service is not auto-start");
    }

    if (!data_folder_secure())
        ok = 0;
    if (!event_source_register())
        ok = 0;
    channel_access_grant(1);
    return ok;
}

static int setup_run(void)
{
    int status = CLI_EXIT_ERROR;
    SC_HANDLE scm = scm_open(SC_MANAGER_CONNECT);
    SC_HANDLE svc = scm ? service_open(scm, SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG) : NULL;
    if (svc) {
        printf("bitsguard setup:\n");
        status = service_setup(svc) ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        printf("bitsguard setup: %s\n", status == CLI_EXIT_OK ? "done" : "FAILED (see above)");
    }
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

static int teardown_run(void)
{
    printf("bitsguard teardown:\n");
    LSTATUS rc = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, EVENTLOG_SOURCE_KEY, KEY_WOW64_64KEY, 0);
    int ok = rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND;
    if (ok)
        step_print("remove event source", "ok", rc == ERROR_FILE_NOT_FOUND ? "was not registered" : NULL);
    else
        step_failed("remove event source", (DWORD)rc);
    channel_access_grant(0);
    printf("bitsguard teardown: %s (the data folder is kept)\n", ok ? "done" : "FAILED");
    return ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int args_none(const char *cmd, int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bitsguard %s\n", usage);
            return -1;
        }
        fprintf(stderr, "bitsguard %s: unexpected argument '%s'\nusage: bitsguard %s\n", cmd, argv[i], usage);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int win_setup_main(int argc, char **argv)
{
    int rc = args_none("setup", argc, argv,
                       "setup\n  Applies to the installed service what the MSI cannot: description, service SID,\n"
                       "  privileges, recovery, delayed start, preshutdown, data folder ACL, event source,\n"
                       "  read access to the Bits-Client channel.");
    return rc ? (rc < 0 ? CLI_EXIT_OK : rc) : setup_run();
}

static int data_folder_remove(void);

int win_teardown_main(int argc, char **argv)
{
    int remove_data = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--remove-data") == 0) {
            remove_data = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bitsguard teardown [--remove-data]\n  Undoes setup; --remove-data also deletes the data "
                   "folder (the MSI passes it when REMOVE_DATA=1).\n");
            return CLI_EXIT_OK;
        } else {
            fprintf(stderr, "bitsguard teardown: unexpected argument '%s'\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    int status = teardown_run();
    if (remove_data) {
        if (!data_folder_remove())
            status = CLI_EXIT_ERROR;
    }
    return status;
}

/*
 * An existing service (an earlier install, or one created by someone else under our name) is kept
 * only with our account and image path: anything else is changed to NT AUTHORITY\LocalService and
 * the quoted path of this exe, and what changed is reported. Returns 1 when it is (now) ours.
 */
static int service_config_verify(SC_HANDLE svc, const wchar_t *cmd)
{
    const char *what = "existing service account/path";
    static const wchar_t account[] = L"NT AUTHORITY\\LocalService";
    BYTE qbuf[8192];
    QUERY_SERVICE_CONFIGW *qc = (QUERY_SERVICE_CONFIGW *)qbuf;
    DWORD need = 0;
    if (!QueryServiceConfigW(svc, qc, sizeof qbuf, &need)) {
        step_failed(what, GetLastError());
        return 0;
    }
    const wchar_t *name = qc->lpServiceStartName ? qc->lpServiceStartName : L"";
    const wchar_t *path = qc->lpBinaryPathName ? qc->lpBinaryPathName : L"";
    /* "NT AUTHORITY\LOCAL SERVICE" is the same account under its display spelling. */
    int account_ok = _wcsicmp(name, account) == 0 || _wcsicmp(name, L"NT AUTHORITY\\LOCAL SERVICE") == 0;
    int path_ok = _wcsicmp(path, cmd) == 0;
    if (account_ok && path_ok) {
        step_print(what, "ok", "LocalService, this executable");
        return 1;
    }
    char *was_name = win_utf8_from_utf16(name), *was_path = win_utf8_from_utf16(path);
    char detail[1200];
    snprintf(detail, sizeof detail, "%s%s%s%s%s%s", account_ok ? "" : "account was ", account_ok ? "" : was_name,
             !account_ok && !path_ok ? "; " : "", path_ok ? "" : "image path was ", path_ok ? "" : was_path, ", fixed");
    free(was_name);
    free(was_path);
    if (!ChangeServiceConfigW(svc, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, path_ok ? NULL : cmd, NULL,
                              NULL, NULL, account_ok ? NULL : account, account_ok ? NULL : L"", NULL)) {
        step_failed(what, GetLastError());
        return 0;
    }
    step_print(what, "ok", detail);
    return 1;
}

int win_install_main(int argc, char **argv)
{
    DWORD start_type = SERVICE_AUTO_START;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--start") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "auto") == 0)
                start_type = SERVICE_AUTO_START;
            else if (strcmp(argv[i], "demand") == 0)
                start_type = SERVICE_DEMAND_START;
            else {
                fprintf(stderr, "bitsguard install: --start takes auto or demand\n");
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bitsguard install [--start auto|demand]\n"
                   "  Creates the service (LocalService, auto-start by default) running this executable,\n"
                   "  then applies setup. Start it with 'bitsguard start'.\n");
            return CLI_EXIT_OK;
        }
        fprintf(stderr, "bitsguard install: unexpected argument '%s'\n", argv[i]);
        return CLI_EXIT_USAGE;
    }
    wchar_t exe[MAX_PATH], cmd[MAX_PATH + 16];
    if (!win_module_path(exe, MAX_PATH)) {
        fprintf(stderr, "bitsguard install: cannot find this executable's path\n");
        return CLI_EXIT_ERROR;
    }
    /* Quoted: an unquoted path with spaces lets C:\Program.exe run as the service (CWE-428). */
    _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" service", exe);
    cmd[sizeof cmd / sizeof cmd[0] - 1] = L'\0';

    SC_HANDLE scm = scm_open(SC_MANAGER_CREATE_SERVICE | SC_MANAGER_CONNECT);
    if (!scm)
        return CLI_EXIT_ERROR;
    printf("bitsguard install:\n");
    SC_HANDLE svc = CreateServiceW(scm, WIN_SERVICE_NAME, WIN_SERVICE_DISPLAY_NAME,
                                   SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG, SERVICE_WIN32_OWN_PROCESS, start_type,
                                   SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, L"NT AUTHORITY\\LocalService", NULL);
    int status = CLI_EXIT_ERROR;
    if (!svc && GetLastError() == ERROR_SERVICE_EXISTS) {
        step_print("create service", "exists", "checking its account and path; applying setup");
        svc = OpenServiceW(scm, WIN_SERVICE_NAME, SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG);
        if (svc && !service_config_verify(svc, cmd))
            goto cleanup;
    } else if (svc) {
        char *u = win_utf8_from_utf16(cmd);
        step_print("create service", "ok", u);
        free(u);
    }
    if (!svc) {
        step_failed("create service", GetLastError());
        goto cleanup;
    }
    status = service_setup(svc) ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    printf("bitsguard install: %s\n", status == CLI_EXIT_OK ? "done; start it with 'bitsguard start'" : "FAILED");
cleanup:
    if (svc)
        CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return status;
}

/* Polls the state until it is `want` or the bound passes (admin commands only; the service never polls). */
static int service_wait_state(SC_HANDLE svc, DWORD want, SERVICE_STATUS_PROCESS *st, DWORD *elapsed_ms)
{
    ULONGLONG start = GetTickCount64();
    for (;;) {
        DWORD need = 0;
        if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (LPBYTE)st, sizeof *st, &need))
            return 0;
        *elapsed_ms = (DWORD)(GetTickCount64() - start);
        if (st->dwCurrentState == want)
            return 1;
        if (want == SERVICE_RUNNING && st->dwCurrentState == SERVICE_STOPPED)
            return 0;
        if (*elapsed_ms >= ADMIN_WAIT_MS)
            return 0;
        Sleep(100);
    }
}

static void exit_code_print(const SERVICE_STATUS_PROCESS *st)
{
    if (st->dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
        fprintf(stderr, "bitsguard: the service exited with bitsguard error %lu (%s)\n",
                (unsigned long)st->dwServiceSpecificExitCode, bg_error_name((bg_error)st->dwServiceSpecificExitCode));
    else if (st->dwWin32ExitCode != NO_ERROR) {
        char text[200];
        fprintf(stderr, "bitsguard: the service exited with %s\n",
                win_error_text(st->dwWin32ExitCode, text, sizeof text));
    }
}

/* Stops the service if it runs. Returns 1 when it is stopped (or was not running). */
static int service_stop(SC_HANDLE svc)
{
    SERVICE_STATUS_PROCESS st;
    DWORD elapsed = 0, need = 0;
    if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (LPBYTE)&st, sizeof st, &need)) {
        step_failed("stop service", GetLastError());
        return 0;
    }
    if (st.dwCurrentState == SERVICE_STOPPED) {
        step_print("stop service", "ok", "was not running");
        return 1;
    }
    SERVICE_STATUS ss;
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &ss) && GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
        step_failed("stop service", GetLastError());
        return 0;
    }
    if (!service_wait_state(svc, SERVICE_STOPPED, &st, &elapsed)) {
        step_print("stop service", "FAILED", "still not stopped after 30 s");
        return 0;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "stopped in %lu ms", (unsigned long)elapsed);
    step_print("stop service", "ok", detail);
    exit_code_print(&st);
    return 1;
}

int win_stop_main(int argc, char **argv)
{
    int rc = args_none("stop", argc, argv, "stop\n  Stops the service and waits until it has stopped.");
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    SC_HANDLE scm = scm_open(SC_MANAGER_CONNECT);
    SC_HANDLE svc = scm ? service_open(scm, SERVICE_STOP | SERVICE_QUERY_STATUS) : NULL;
    int status = svc && service_stop(svc) ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

int win_start_main(int argc, char **argv)
{
    int rc = args_none("start", argc, argv, "start\n  Starts the service and waits until it runs.");
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    int status = CLI_EXIT_ERROR;
    SC_HANDLE scm = scm_open(SC_MANAGER_CONNECT);
    SC_HANDLE svc = scm ? service_open(scm, SERVICE_START | SERVICE_QUERY_STATUS) : NULL;
    if (!svc)
        goto cleanup;
    if (!StartServiceW(svc, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING) {
        step_failed("start service", GetLastError());
        goto cleanup;
    }
    SERVICE_STATUS_PROCESS st;
    DWORD elapsed = 0;
    if (!service_wait_state(svc, SERVICE_RUNNING, &st, &elapsed)) {
        step_print("start service", "FAILED",
                   st.dwCurrentState == SERVICE_STOPPED ? "it stopped" : "not running after 30 s");
        exit_code_print(&st);
        goto cleanup;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "running (pid %lu) after %lu ms", (unsigned long)st.dwProcessId,
             (unsigned long)elapsed);
    step_print("start service", "ok", detail);
    status = CLI_EXIT_OK;
cleanup:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

/*
 * Deletes the store's files from the data folder (the databases, their -wal/-shm/-journal and the
 * corrupt copies moved aside), then the folder if nothing else is left. Runs with administrator
 * rights, so it never goes through a link: a folder that is a junction or symbolic link is refused,
 * and inside it a link (or a hard link, a folder, a file bitsguard does not make) is left alone and
 * named. Deletion is through a handle checked first, so the object checked is the object deleted.
 * Prints the outcome; returns 1 when the folder is gone (or was never there).
 */
static int data_folder_remove(void)
{
    const char *what = "remove data folder";
    int refused = 0;
    wchar_t folder[MAX_PATH], parent[MAX_PATH], pattern[MAX_PATH + 4], file[2 * MAX_PATH];
    wchar_t parent_final[MAX_PATH + 8], expected[MAX_PATH + 32], file_expected[2 * MAX_PATH + 40];
    HANDLE h = INVALID_HANDLE_VALUE, ph = INVALID_HANDLE_VALUE;
    int ok = 0;
    if (!win_data_folder(folder, MAX_PATH))
        return 0;
    DWORD attr = GetFileAttributesW(folder);
    if (attr == INVALID_FILE_ATTRIBUTES &&
        (GetLastError() == ERROR_FILE_NOT_FOUND || GetLastError() == ERROR_PATH_NOT_FOUND))
        return 1;
    memcpy(parent, folder, sizeof parent);
    wchar_t *slash = wcsrchr(parent, L'\\');
    if (slash)
        *slash = L'\0';
    ph = path_open_nofollow(parent, 0);
    if (!slash || ph == INVALID_HANDLE_VALUE || !handle_final_path(ph, parent_final, MAX_PATH + 8))
        goto cleanup;
    _snwprintf(expected, sizeof expected / sizeof expected[0], L"%ls\\%ls", parent_final, slash + 1);
    expected[sizeof expected / sizeof expected[0] - 1] = L'\0';
    h = path_open_nofollow(folder, FILE_LIST_DIRECTORY | SYNCHRONIZE);
    if (h == INVALID_HANDLE_VALUE)
        goto cleanup;
    const char *reason = handle_link_reason(h, folder, expected, 1);
    if (reason) {
        link_refused(what, folder, reason, "remove the link by hand");
        refused = 1;
        goto cleanup;
    }
    _snwprintf(pattern, sizeof pattern / sizeof pattern[0], L"%ls\\*", folder);
    pattern[sizeof pattern / sizeof pattern[0] - 1] = L'\0';
    WIN32_FIND_DATAW fd;
    HANDLE find = FindFirstFileW(pattern, &fd);
    ok = 1;
    if (find != INVALID_HANDLE_VALUE) {
        do {
            if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
                continue;
            _snwprintf(file, sizeof file / sizeof file[0], L"%ls\\%ls", folder, fd.cFileName);
            file[sizeof file / sizeof file[0] - 1] = L'\0';
            if (!store_file_name(fd.cFileName) || (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
                /* Not ours: kept, and the folder with it. */
                char *u = win_utf8_from_utf16(file);
                step_print(what, "kept", u ? u : "(name)");
                free(u);
                ok = 0;
                continue;
            }
            _snwprintf(file_expected, sizeof file_expected / sizeof file_expected[0], L"%ls\\%ls", expected,
                       fd.cFileName);
            file_expected[sizeof file_expected / sizeof file_expected[0] - 1] = L'\0';
            HANDLE fh = path_open_nofollow(file, DELETE | FILE_READ_ATTRIBUTES);
            if (fh == INVALID_HANDLE_VALUE) {
                ok = 0;
                continue;
            }
            const char *why = handle_link_reason(fh, file, file_expected, 0);
            FILE_DISPOSITION_INFO del = {TRUE};
            if (why) {
                link_refused(what, file, why, "delete the link by hand; its target is left alone");
                ok = 0;
            } else if (!SetFileInformationByHandle(fh, FileDispositionInfo, &del, sizeof del)) {
                ok = 0;
            }
            CloseHandle(fh);
        } while (FindNextFileW(find, &fd));
        FindClose(find);
    }
    CloseHandle(h);
    h = INVALID_HANDLE_VALUE;
    if (!ok) {
        SetLastError(ERROR_DIR_NOT_EMPTY);
        goto cleanup;
    }
    if (!RemoveDirectoryW(folder) && GetLastError() != ERROR_FILE_NOT_FOUND && GetLastError() != ERROR_PATH_NOT_FOUND)
        ok = 0;
cleanup:
    if (ok)
        step_print(what, "ok", NULL);
    else if (!refused)
        step_failed(what, GetLastError());
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (ph != INVALID_HANDLE_VALUE)
        CloseHandle(ph);
    return ok;
}

int win_uninstall_main(int argc, char **argv)
{
    int remove_data = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--remove-data") == 0) {
            remove_data = 1;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bitsguard uninstall [--remove-data]\n"
                   "  Stops and deletes the service and undoes setup. The database in %%ProgramData%%\\bitsguard\n"
                   "  is kept unless --remove-data is given.\n");
            return CLI_EXIT_OK;
        }
        fprintf(stderr, "bitsguard uninstall: unexpected argument '%s'\n", argv[i]);
        return CLI_EXIT_USAGE;
    }
    int status = CLI_EXIT_ERROR;
    SC_HANDLE svc = NULL;
    SC_HANDLE scm = scm_open(SC_MANAGER_CONNECT);
    if (!scm)
        goto cleanup;
    printf("bitsguard uninstall:\n");
    /* A service that is already gone is not an error: teardown and --remove-data still apply, so
     * uninstall can be repeated (or finish what an interrupted run left). */
    int stopped = 1;
    SC_HANDLE svc_handle = OpenServiceW(scm, WIN_SERVICE_NAME, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
    if (svc_handle) {
        svc = svc_handle;
        /* Deleted even when it does not stop (hung, or crashed while the SCM still shows it running):
         * the SCM then removes it as soon as it stops, and the admin is told. */
        stopped = service_stop(svc);
        if (!DeleteService(svc) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE) {
            step_failed("delete service", GetLastError());
            goto cleanup;
        }
        step_print("delete service", "ok", stopped ? NULL : "marked for deletion; removed when it stops");
    } else if (GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST) {
        step_print("delete service", "ok", "was not installed");
    } else {
        step_failed("open service", GetLastError());
        goto cleanup;
    }
    status = teardown_run();
    if (!stopped)
        status = CLI_EXIT_ERROR;
    if (remove_data) {
        if (!data_folder_remove())
            status = CLI_EXIT_ERROR;
    }
cleanup:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

int win_reload_main(int argc, char **argv)
{
    int rc = args_none("reload", argc, argv,
                       "reload\n  Asks the running service to reload its configuration from the registry\n"
                       "  (SERVICE_CONTROL_PARAMCHANGE, as 'sc control bitsguard paramchange').");
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    int status = CLI_EXIT_ERROR;
    SC_HANDLE scm = scm_open(SC_MANAGER_CONNECT);
    /* PARAMCHANGE needs the pause/continue right. */
    SC_HANDLE svc = scm ? service_open(scm, SERVICE_PAUSE_CONTINUE | SERVICE_QUERY_STATUS) : NULL;
    SERVICE_STATUS ss;
    if (svc && ControlService(svc, SERVICE_CONTROL_PARAMCHANGE, &ss)) {
        step_print("reload configuration", "ok", "requested");
        status = CLI_EXIT_OK;
    } else if (svc) {
        step_failed("reload configuration", GetLastError());
    }
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}
