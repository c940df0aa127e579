/* Read access to the Bits-Client channel for the service SID alone: granted by setup, removed by teardown. */
#include <windows.h>

#include <lm.h>
#include <sddl.h>
#include <winevt.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "admin.h"
#include "win_service.h"
#include "win_util.h"

/* The channel the service reads; its access SDDL gets one read entry for the service SID. */
#define BITS_CHANNEL L"Microsoft-Windows-Bits-Client/Operational"
/* BUILTIN\Event Log Readers: older builds added the service SID to it; teardown removes that. */
#define EVENT_LOG_READERS_SID L"S-1-5-32-573"

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
        admin_step_print("leave Event Log Readers", "ok", "membership of an older install removed");
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
void admin_channel_access_grant(int add)
{
    const char *what = add ? "Bits-Client channel read access" : "remove channel read access";
    wchar_t sid_text[96], ace[128], sddl[4096], next[4096];
    char text[200];
    PSID member_sid = NULL, su_sid = NULL;
    EVT_HANDLE cfg = NULL;
    if (!admin_service_sid(sid_text, sizeof sid_text / sizeof sid_text[0]) ||
        !ConvertStringSidToSidW(sid_text, &member_sid) || !ConvertStringSidToSidW(L"SU", &su_sid)) {
        admin_step_print(what, "warning", "cannot build the SIDs");
        goto cleanup;
    }
    if (!add)
        event_log_readers_leave(member_sid);
    _snwprintf(ace, sizeof ace / sizeof ace[0], L"(A;;0x1;;;%ls)", sid_text);
    ace[sizeof ace / sizeof ace[0] - 1] = L'\0';
    cfg = EvtOpenChannelConfig(NULL, BITS_CHANNEL, 0);
    if (!cfg || !channel_sddl_get(cfg, sddl, sizeof sddl / sizeof sddl[0])) {
        admin_step_print(what, "warning", win_error_text(GetLastError(), text, sizeof text));
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
            admin_step_print(what, "ok", "already readable by services (SU) or by the service SID");
            goto cleanup;
        }
        /* The DACL part ends where the SACL ("S:") starts, or at the end. ACE strings hold no "S:". */
        wchar_t *d = wcsstr(sddl, L"D:");
        wchar_t *s = d ? wcsstr(d, L"S:") : NULL;
        size_t at = s ? (size_t)(s - sddl) : wcslen(sddl), n = wcslen(sddl), an = wcslen(ace);
        if (!d || n + an + 1 > sizeof next / sizeof next[0]) {
            admin_step_print(what, "warning", "unexpected channel access string");
            goto cleanup;
        }
        memcpy(next, sddl, at * sizeof(wchar_t));
        memcpy(next + at, ace, an * sizeof(wchar_t));
        memcpy(next + at + an, sddl + at, (n - at + 1) * sizeof(wchar_t));
    } else {
        if (!ours) {
            admin_step_print(what, "ok", "no entry of ours");
            goto cleanup;
        }
        size_t at = (size_t)(ours - sddl), an = wcslen(ace), n = wcslen(sddl);
        memcpy(next, sddl, at * sizeof(wchar_t));
        memcpy(next + at, sddl + at + an, (n - at - an + 1) * sizeof(wchar_t));
    }
    if (!channel_sddl_set(cfg, next)) {
        admin_step_print(what, "warning", win_error_text(GetLastError(), text, sizeof text));
        goto cleanup;
    }
    char *u = bg_utf8_from_utf16(ace);
    admin_step_print(what, "ok", u ? u : NULL);
    free(u);
cleanup:
    if (cfg)
        EvtClose(cfg);
    if (su_sid)
        LocalFree(su_sid);
    if (member_sid)
        LocalFree(member_sid);
}
