/* The data folder (%ProgramData%\bitsguard): created and secured by setup, removed by --remove-data. */
#include <windows.h>

#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "admin.h"
#include "store.h"
#include "win_access.h"
#include "win_service.h"
#include "win_util.h"

/* Modify access for the service SID on its data folder: read, write, execute and delete, not
 * WRITE_DAC or WRITE_OWNER, so the service cannot widen its own folder's ACL. */
#define DATA_FOLDER_SERVICE_MASK L"0x1301bf"

/* 1 when name is a file the store creates in the data folder (store_file_is_ours: a database, bitsguard.db
 * by default or another name through DatabasePath, its SQLite sidecars and the copies a corrupt database
 * is moved aside to). Setup re-secures and --remove-data deletes these names only, never anything else. */
static int store_file_name(const wchar_t *name)
{
    char *u = bg_utf8_from_utf16(name);
    int ours = u != NULL && store_file_is_ours(u);
    free(u);
    return ours;
}

/* The store's files and setup's and teardown's step logs: what --remove-data deletes. */
static int data_file_name(const wchar_t *name)
{
    return store_file_name(name) || _wcsicmp(name, L"" ADMIN_LOG_SETUP) == 0 ||
           _wcsicmp(name, L"" ADMIN_LOG_TEARDOWN) == 0;
}

/* Why a store file's DACL, read back after the reset, does not give the service what the folder grants it:
 * NULL when it holds the folder's service-SID entry, inherited. An unprotected, empty DACL set by handle
 * should take the folder's inheritable entries (unconfirmed for the handle-based call); if it did not, the
 * file would keep an empty DACL and LocalService could not open bitsguard.db. */
static const char *data_file_acl_why(HANDLE h, PSID service)
{
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    const char *why = "no inherited entry for the service SID";
    if (!win_access_check(win_open_access(WIN_OPEN_DATA_FILE), WIN_CALL_FILE_GET_SECURITY) ||
        GetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd) != ERROR_SUCCESS)
        return "its DACL cannot be read back";
    const DWORD need = (DWORD)wcstoul(DATA_FOLDER_SERVICE_MASK, NULL, 16);
    for (DWORD i = 0; dacl && i < dacl->AceCount; i++) {
        ACE_HEADER *ace = NULL;
        if (!GetAce(dacl, i, (void **)&ace) || ace->AceType != ACCESS_ALLOWED_ACE_TYPE ||
            !(ace->AceFlags & INHERITED_ACE))
            continue;
        ACCESS_ALLOWED_ACE *allow = (ACCESS_ALLOWED_ACE *)ace;
        if (EqualSid((PSID)&allow->SidStart, service) && (allow->Mask & need) == need) {
            why = NULL;
            break;
        }
    }
    LocalFree(sd);
    return why;
}

/*
 * The store's files already in the folder (an earlier install, or planted before it): owner set to
 * Administrators and the DACL reset to inherit only, so they get the folder's entries and nothing of
 * their own. Links are refused, so the ACL of a file elsewhere is never touched. 1 when all went well.
 */
static int data_files_secure(const wchar_t *folder, const wchar_t *folder_final, PSID admins, PSID service, int wine)
{
    const char *what = "data files ACL";
    int unverified = 0;
    wchar_t pattern[MAX_PATH + 4], path[2 * MAX_PATH], expected[2 * MAX_PATH + 8];
    _snwprintf(pattern, sizeof pattern / sizeof pattern[0], L"%ls\\*", folder);
    pattern[sizeof pattern / sizeof pattern[0] - 1] = L'\0';
    ACL empty;
    if (!InitializeAcl(&empty, sizeof empty, ACL_REVISION)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    WIN32_FIND_DATAW fd;
    HANDLE find = FindFirstFileW(pattern, &fd);
    if (find == INVALID_HANDLE_VALUE) {
        admin_step_print(what, "ok", "no files");
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
        HANDLE h = admin_path_open_nofollow(path, win_open_access(WIN_OPEN_DATA_FILE));
        if (h == INVALID_HANDLE_VALUE) {
            ok = 0;
            admin_step_failed(what, GetLastError());
            continue;
        }
        const char *reason = admin_handle_link_reason(h, path, expected, 0);
        if (reason) {
            ok = 0;
            admin_link_refused(what, path, reason, "remove it, then run setup again");
        } else {
            DWORD granted = win_open_access(WIN_OPEN_DATA_FILE);
            DWORD rc = !win_access_check(granted, WIN_CALL_FILE_SET_OWNER) ||
                               !win_access_check(granted, WIN_CALL_FILE_SET_DACL)
                           ? ERROR_ACCESS_DENIED
                           : SetSecurityInfo(h, SE_FILE_OBJECT,
                                             OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
                                                 UNPROTECTED_DACL_SECURITY_INFORMATION,
                                             admins, NULL, &empty, NULL);
            if (rc != ERROR_SUCCESS && !wine) {
                ok = 0;
                admin_step_failed(what, rc);
            } else if (rc == ERROR_SUCCESS) {
                /* Read back, as for the folder: the reset must have left the service its inherited entry. */
                const char *why = data_file_acl_why(h, service);
                if (why && wine) {
                    unverified++; /* Wine stores no file ACLs. */
                } else if (why) {
                    char *u = bg_utf8_from_utf16(path);
                    char detail[600];
                    snprintf(detail, sizeof detail, "%s: read back: %s", u ? u : "(path)", why);
                    free(u);
                    admin_step_print(what, "FAILED", detail);
                    ok = 0;
                }
            }
            count++;
        }
        CloseHandle(h);
    } while (FindNextFileW(find, &fd));
    FindClose(find);
    if (ok) {
        char detail[96];
        snprintf(detail, sizeof detail, "%d file(s) reset to the folder's entries, owner Administrators%s", count,
                 wine && count ? " (not enforced under Wine)"
                 : unverified  ? " (not read back)"
                               : ", read back");
        admin_step_print(what, "ok", detail);
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
int admin_data_folder_secure(void)
{
    const DWORD granted = win_open_access(WIN_OPEN_DATA_FOLDER);
    const char *what = "data folder ACL";
    int ok = 0, wine = admin_on_wine();
    wchar_t folder[MAX_PATH], parent[MAX_PATH], sid[96], sddl[256];
    wchar_t parent_final[MAX_PATH + 8], expected[MAX_PATH + 32];
    PSECURITY_DESCRIPTOR want = NULL, got = NULL;
    PSID admins = NULL, service = NULL;
    HANDLE h = INVALID_HANDLE_VALUE, ph = INVALID_HANDLE_VALUE;
    if (!win_data_folder(folder, MAX_PATH)) {
        admin_step_print(what, "FAILED", "%ProgramData% is not set");
        return 0;
    }
    if (!admin_service_sid(sid, sizeof sid / sizeof sid[0])) {
        admin_step_print(what, "FAILED", "cannot determine the service SID");
        return 0;
    }
    _snwprintf(sddl, sizeof sddl / sizeof sddl[0], L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;%ls;;;%ls)",
               DATA_FOLDER_SERVICE_MASK, sid);
    sddl[sizeof sddl / sizeof sddl[0] - 1] = L'\0';
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &want, NULL) ||
        !ConvertStringSidToSidW(L"BA", &admins) || !ConvertStringSidToSidW(sid, &service)) {
        admin_step_failed(what, GetLastError());
        goto cleanup;
    }
    /* Taking ownership of a folder someone else created, and opening it (and the files in it) for
     * READ_CONTROL, WRITE_DAC and WRITE_OWNER whatever its DACL says, need these; an elevated
     * administrator holds them, disabled. Enabled in this short-lived admin process only. */
    admin_privilege_enable(L"SeTakeOwnershipPrivilege");
    admin_privilege_enable(L"SeRestorePrivilege");
    admin_privilege_enable(L"SeBackupPrivilege");
    SECURITY_ATTRIBUTES sa = {sizeof sa, want, FALSE};
    if (!CreateDirectoryW(folder, &sa) && GetLastError() != ERROR_ALREADY_EXISTS) {
        admin_step_failed("create data folder", GetLastError());
        goto cleanup;
    }
    /* The folder must be exactly <final path of ProgramData>\bitsguard, not reached through a link. */
    memcpy(parent, folder, sizeof parent);
    wchar_t *slash = wcsrchr(parent, L'\\');
    if (slash)
        *slash = L'\0';
    ph = admin_path_open_nofollow(parent, 0);
    if (!slash || ph == INVALID_HANDLE_VALUE || !admin_handle_final_path(ph, parent_final, MAX_PATH + 8)) {
        admin_step_failed(what, GetLastError());
        goto cleanup;
    }
    _snwprintf(expected, sizeof expected / sizeof expected[0], L"%ls\\%ls", parent_final, slash + 1);
    expected[sizeof expected / sizeof expected[0] - 1] = L'\0';
    h = admin_path_open_nofollow(folder, granted);
    if (h == INVALID_HANDLE_VALUE) {
        admin_step_failed(what, GetLastError());
        goto cleanup;
    }
    const char *reason = admin_handle_link_reason(h, folder, expected, 1);
    if (reason) {
        admin_link_refused(what, folder, reason, "remove it, then run setup again");
        goto cleanup;
    }
    BOOL present = FALSE, defaulted = FALSE;
    PACL want_dacl = NULL;
    GetSecurityDescriptorDacl(want, &present, &want_dacl, &defaulted);
    /* Applied even to a new folder: CreateDirectory's attributes do not strip what an existing one had.
     * On the handle, so the object checked above is the object changed. */
    DWORD rc = !win_access_check(granted, WIN_CALL_FILE_SET_OWNER) || !win_access_check(granted, WIN_CALL_FILE_SET_DACL)
                   ? ERROR_ACCESS_DENIED
                   : SetSecurityInfo(h, SE_FILE_OBJECT,
                                     OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
                                         PROTECTED_DACL_SECURITY_INFORMATION,
                                     admins, NULL, want_dacl, NULL);
    if (rc != ERROR_SUCCESS) {
        admin_step_failed(what, rc);
        goto cleanup;
    }
    PACL got_dacl = NULL;
    PSID got_owner = NULL;
    rc = !win_access_check(granted, WIN_CALL_FILE_GET_SECURITY)
             ? ERROR_ACCESS_DENIED
             : GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &got_owner,
                               NULL, &got_dacl, NULL, &got);
    if (rc != ERROR_SUCCESS) {
        admin_step_failed("read back data folder ACL", rc);
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
    if (!owner_ok || !protected_ok || !admin_dacl_equal(want_dacl, got_dacl, why, sizeof why)) {
        /* Show what is there, so the log says how it differs. */
        wchar_t *text = NULL;
        char *u = NULL;
        if (ConvertSecurityDescriptorToStringSecurityDescriptorW(
                got, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &text, NULL))
            u = bg_utf8_from_utf16(text);
        char detail[600];
        snprintf(detail, sizeof detail, "read back: %s; found %s%s", why, u ? u : "(unreadable)",
                 wine ? " (Wine does not store file ACLs: not enforced here)" : "");
        admin_step_print(what, wine ? "warning" : "FAILED", detail);
        free(u);
        if (text)
            LocalFree(text);
        /* Only under Wine, which keeps no ACLs on files, is this not fatal: on Windows an ACL that
         * did not stick means the database would be readable by users, so setup must fail. */
        if (!wine)
            goto cleanup;
    } else {
        char *u = bg_utf8_from_utf16(sddl);
        admin_step_print(what, "ok", u ? u : "");
        free(u);
    }
    /* expected is the folder's final path: the files inside must resolve right under it. */
    ok = data_files_secure(folder, expected, admins, service, wine);
cleanup:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (ph != INVALID_HANDLE_VALUE)
        CloseHandle(ph);
    if (admins)
        LocalFree(admins);
    if (service)
        LocalFree(service);
    if (want)
        LocalFree(want);
    if (got)
        LocalFree(got);
    return ok;
}

/*
 * Deletes the store's files from the data folder (the databases, their -wal/-shm/-journal and the
 * corrupt copies moved aside), then the folder if nothing else is left. Runs with administrator
 * rights, so it never goes through a link: a folder that is a junction or symbolic link is refused,
 * and inside it a link (or a hard link, a folder, a file bitsguard does not make) is left alone and
 * named. Deletion is through a handle checked first, so the object checked is the object deleted.
 * Prints the outcome; returns 1 when the folder is gone (or was never there).
 */
int admin_data_folder_remove(void)
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
    ph = admin_path_open_nofollow(parent, 0);
    if (!slash || ph == INVALID_HANDLE_VALUE || !admin_handle_final_path(ph, parent_final, MAX_PATH + 8))
        goto cleanup;
    _snwprintf(expected, sizeof expected / sizeof expected[0], L"%ls\\%ls", parent_final, slash + 1);
    expected[sizeof expected / sizeof expected[0] - 1] = L'\0';
    /* Only for the link check (the helper adds FILE_READ_ATTRIBUTES); the listing goes by path. */
    h = admin_path_open_nofollow(folder, 0);
    if (h == INVALID_HANDLE_VALUE)
        goto cleanup;
    const char *reason = admin_handle_link_reason(h, folder, expected, 1);
    if (reason) {
        admin_link_refused(what, folder, reason, "remove the link by hand");
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
            if (!data_file_name(fd.cFileName) || (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
                /* Not ours: kept, and the folder with it. */
                char *u = bg_utf8_from_utf16(file);
                admin_step_print(what, "kept", u ? u : "(name)");
                free(u);
                ok = 0;
                continue;
            }
            _snwprintf(file_expected, sizeof file_expected / sizeof file_expected[0], L"%ls\\%ls", expected,
                       fd.cFileName);
            file_expected[sizeof file_expected / sizeof file_expected[0] - 1] = L'\0';
            HANDLE fh = admin_path_open_nofollow(file, win_open_access(WIN_OPEN_DATA_FILE_DELETE));
            if (fh == INVALID_HANDLE_VALUE) {
                ok = 0;
                continue;
            }
            const char *why = admin_handle_link_reason(fh, file, file_expected, 0);
            FILE_DISPOSITION_INFO del = {TRUE};
            if (why) {
                admin_link_refused(what, file, why, "delete the link by hand; its target is left alone");
                ok = 0;
            } else if (!win_access_check(win_open_access(WIN_OPEN_DATA_FILE_DELETE), WIN_CALL_FILE_DELETE_HANDLE) ||
                       !SetFileInformationByHandle(fh, FileDispositionInfo, &del, sizeof del)) {
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
        admin_step_print(what, "ok", NULL);
    else if (!refused)
        admin_step_failed(what, GetLastError());
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (ph != INVALID_HANDLE_VALUE)
        CloseHandle(ph);
    return ok;
}
