/* Security helpers of the administration commands: the service SID, DACL comparison, link-safe opens, privileges. */
#include <windows.h>

#include <bcrypt.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "admin.h"
#include "win_service.h"
#include "win_util.h"

/*
 * The service SID (NT SERVICE\bitsguard) as SDDL text. LookupAccountNameW answers on Windows; where it
 * cannot (Wine), the SID is computed as Windows does: S-1-5-80 followed by the SHA-1 of the upper-case
 * service name in UTF-16LE, read as five little-endian 32-bit sub-authorities.
 */
int admin_service_sid(wchar_t *out, size_t len)
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
int admin_on_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* Compares two DACLs ACE by ACE (type, flags without INHERITED_ACE, mask, SID). 1 when equal. */
int admin_dacl_equal(PACL a, PACL b, char *why, size_t len)
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

/* The final path of an open handle ("\\?\C:\..."), resolved by the system; 0 on failure. */
int admin_handle_final_path(HANDLE h, wchar_t *out, DWORD len)
{
    DWORD n = GetFinalPathNameByHandleW(h, out, len, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    return n > 0 && n < len;
}

/* Opens path itself, never what a final reparse point names (backup semantics: folders too, and
 * with SeBackupPrivilege/SeRestorePrivilege enabled the read and security rights are granted whatever
 * the current DACL says). FILE_READ_ATTRIBUTES always: the link checks read the handle's attributes. */
HANDLE admin_path_open_nofollow(const wchar_t *path, DWORD access)
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
const char *admin_handle_link_reason(HANDLE h, const wchar_t *path, const wchar_t *expected, int want_dir)
{
    DWORD a = GetFileAttributesW(path);
    BY_HANDLE_FILE_INFORMATION fi;
    wchar_t final[MAX_PATH + 8];
    if (!GetFileInformationByHandle(h, &fi))
        return "cannot read its attributes";
    if ((a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT)) ||
        (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))
        return "it is a reparse point (junction or symbolic link)";
    if (!admin_handle_final_path(h, final, sizeof final / sizeof final[0]))
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
void admin_privilege_enable(const wchar_t *name)
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
void admin_link_refused(const char *what, const wchar_t *path, const char *reason, const char *hint)
{
    char *u = bg_utf8_from_utf16(path);
    char detail[700];
    snprintf(detail, sizeof detail, "%s: %s; refusing (%s)", u ? u : "(path)", reason, hint);
    admin_step_print(what, "FAILED", detail);
    free(u);
}
