/* Windows test of the access table (win_access.c): documented rights per call, and every open requests what its calls
 * need. */
#ifndef _WIN32

#include <stdio.h>

int main(void)
{
    fprintf(stderr, "skipped: the access table exists only on Windows\n");
    return 77; /* CHECK_SKIP_CODE; check.h is not included here, its counters would be unused. */
}

#else

#include "check.h"

#include <windows.h>

#include "win_access.h"

/* Every row sits at its own index, names its call and where Microsoft documents the right. */
static void test_table_rows(void)
{
    for (int c = 0; c < WIN_CALL_COUNT; c++) {
        const win_access_rule *r = win_access_rule_get((win_call)c);
        CHECK(r != NULL);
        if (!r)
            continue;
        CHECK_INT_EQ(r->call, c);
        CHECK(r->name && r->name[0]);
        CHECK(r->need != 0);
        CHECK(r->doc && strncmp(r->doc, "https://learn.microsoft.com/", 28) == 0);
    }
    CHECK(win_access_rule_get(WIN_CALL_COUNT) == NULL);
}

/* The rights as Microsoft documents them (Service Security and Access Rights, each function's page). */
static void test_documented_rights(void)
{
    static const struct {
        win_call call;
        DWORD need;
    } doc[] = {
        {WIN_CALL_SCM_OPEN_SERVICE, SC_MANAGER_CONNECT},
        {WIN_CALL_SCM_CREATE_SERVICE, SC_MANAGER_CREATE_SERVICE},
        {WIN_CALL_SVC_QUERY_CONFIG, SERVICE_QUERY_CONFIG},
        {WIN_CALL_SVC_CHANGE_CONFIG, SERVICE_CHANGE_CONFIG},
        {WIN_CALL_SVC_CHANGE_CONFIG2, SERVICE_CHANGE_CONFIG},
        /* ChangeServiceConfig2W: "If the service controller handles the SC_ACTION_RESTART action, hService
         * must have the SERVICE_START access right." Missing it made setup fail and the MSI roll back. */
        {WIN_CALL_SVC_CHANGE_CONFIG2_RESTART, SERVICE_CHANGE_CONFIG | SERVICE_START},
        {WIN_CALL_SVC_QUERY_STATUS, SERVICE_QUERY_STATUS},
        {WIN_CALL_SVC_START, SERVICE_START},
        {WIN_CALL_SVC_CONTROL_STOP, SERVICE_STOP},
        {WIN_CALL_SVC_CONTROL_PARAMCHANGE, SERVICE_PAUSE_CONTINUE},
        {WIN_CALL_SVC_DELETE, DELETE},
        {WIN_CALL_REG_QUERY_VALUE, KEY_QUERY_VALUE},
        {WIN_CALL_REG_SET_VALUE, KEY_SET_VALUE},
        {WIN_CALL_REG_SET_SECURITY, WRITE_DAC},
        {WIN_CALL_FILE_GET_SECURITY, READ_CONTROL},
        {WIN_CALL_FILE_SET_DACL, WRITE_DAC},
        {WIN_CALL_FILE_SET_OWNER, WRITE_OWNER},
        {WIN_CALL_FILE_DELETE_HANDLE, DELETE},
    };
    CHECK_INT_EQ(sizeof doc / sizeof doc[0], WIN_CALL_COUNT);
    for (size_t i = 0; i < sizeof doc / sizeof doc[0]; i++) {
        const win_access_rule *r = win_access_rule_get(doc[i].call);
        CHECK_INT_EQ(r ? r->need : 0, doc[i].need);
    }
}

/* Every open requests every right its calls need, each call passes the check with those rights, and the
 * rights requested are exactly these (least privilege: nothing a call does not need). */
static void test_opens_request_what_calls_need(void)
{
    static const struct {
        win_open open;
        DWORD want;
    } expected[] = {
        {WIN_OPEN_SCM, SC_MANAGER_CONNECT},
        {WIN_OPEN_SCM_INSTALL, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE},
        {WIN_OPEN_SVC_SETUP, SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG | SERVICE_START},
        {WIN_OPEN_SVC_START, SERVICE_START | SERVICE_QUERY_STATUS},
        {WIN_OPEN_SVC_STOP, SERVICE_STOP | SERVICE_QUERY_STATUS},
        {WIN_OPEN_SVC_UNINSTALL, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE},
        {WIN_OPEN_SVC_RELOAD, SERVICE_PAUSE_CONTINUE},
        {WIN_OPEN_SVC_EVENTLOG, SERVICE_QUERY_STATUS},
        {WIN_OPEN_REG_EVENT_SOURCE, KEY_SET_VALUE},
        {WIN_OPEN_REG_CONFIG, KEY_QUERY_VALUE},
        {WIN_OPEN_DATA_FOLDER, READ_CONTROL | WRITE_DAC | WRITE_OWNER},
        {WIN_OPEN_DATA_FILE, READ_CONTROL | WRITE_DAC | WRITE_OWNER},
        {WIN_OPEN_DATA_FILE_DELETE, DELETE},
        {WIN_OPEN_SVC_SELFTEST, SERVICE_QUERY_STATUS},
        /* The service compares before it writes; it cannot create keys, change the DACL or delete. */
        {WIN_OPEN_REG_STATUS, KEY_QUERY_VALUE | KEY_SET_VALUE},
        {WIN_OPEN_REG_STATUS_SETUP, WRITE_DAC},
    };
    CHECK_INT_EQ(sizeof expected / sizeof expected[0], WIN_OPEN_COUNT);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const win_open_profile *p = win_open_profile_get(expected[i].open);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_INT_EQ(p->open, expected[i].open);
        CHECK(p->ncalls > 0);
        DWORD granted = win_open_access(p->open);
        for (size_t k = 0; k < p->ncalls; k++) {
            const win_access_rule *r = win_access_rule_get(p->calls[k]);
            CHECK(r && (granted & r->need) == r->need);
            CHECK(win_access_check(granted, p->calls[k]));
        }
        if (granted != expected[i].want)
            fprintf(stderr, "%s: 0x%lx, expected 0x%lx\n", p->what, (unsigned long)granted,
                    (unsigned long)expected[i].want);
        CHECK_INT_EQ(granted, expected[i].want);
    }
}

/* The check refuses what Windows refuses, with Windows' error: the handle setup used to open. */
static void test_check_refuses(void)
{
    SetLastError(0);
    CHECK(!win_access_check(SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG, WIN_CALL_SVC_CHANGE_CONFIG2_RESTART));
    CHECK_INT_EQ(GetLastError(), ERROR_ACCESS_DENIED);
    CHECK(win_access_check(SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG, WIN_CALL_SVC_CHANGE_CONFIG2));
    CHECK(!win_access_check(SERVICE_QUERY_STATUS, WIN_CALL_SVC_CONTROL_PARAMCHANGE));
    CHECK(!win_access_check(KEY_QUERY_VALUE, WIN_CALL_REG_SET_VALUE));
    CHECK(!win_access_check(SERVICE_ALL_ACCESS, WIN_CALL_COUNT));
}

int main(void)
{
    CHECK_RUN(test_table_rows);
    CHECK_RUN(test_documented_rights);
    CHECK_RUN(test_opens_request_what_calls_need);
    CHECK_RUN(test_check_refuses);
    return CHECK_DONE();
}

#endif
