/* Test helper: creates suspended BITS download jobs (TITLE URL LOCAL ...) through the BITS service and prints their
 * ids. */
#define COBJMACROS
#include <windows.h>

#include <bits.h>
#include <stdio.h>

int wmain(int argc, wchar_t **argv);

/* Never resumed: the jobs stay suspended and transfer nothing. */
int wmain(int argc, wchar_t **argv)
{
    IBackgroundCopyManager *mgr = NULL;
    if (argc < 4 || (argc - 1) % 3 != 0) {
        fprintf(stderr, "usage: bits_job_make TITLE URL LOCAL [TITLE URL LOCAL]...\n");
        return 2;
    }
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    if (SUCCEEDED(hr))
        hr = CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_CONNECT, RPC_C_IMP_LEVEL_IMPERSONATE, NULL,
                                  EOAC_NONE, NULL);
    if (SUCCEEDED(hr))
        hr = CoCreateInstance(&CLSID_BackgroundCopyManager, NULL, CLSCTX_LOCAL_SERVER, &IID_IBackgroundCopyManager,
                              (void **)&mgr);
    if (FAILED(hr)) {
        fprintf(stderr, "bits_job_make: the BITS service: 0x%08lx\n", (unsigned long)hr);
        return 3;
    }
    int status = 0;
    for (int i = 1; i + 2 < argc; i += 3) {
        GUID id;
        IBackgroundCopyJob *job = NULL;
        wchar_t text[40];
        hr = IBackgroundCopyManager_CreateJob(mgr, argv[i], BG_JOB_TYPE_DOWNLOAD, &id, &job);
        if (SUCCEEDED(hr))
            hr = IBackgroundCopyJob_AddFile(job, argv[i + 1], argv[i + 2]);
        if (FAILED(hr) || StringFromGUID2(&id, text, 40) == 0) {
            fprintf(stderr, "bits_job_make: job %d: 0x%08lx\n", (i + 2) / 3, (unsigned long)hr);
            status = 3;
        } else {
            printf("%ls\n", text);
        }
        if (job)
            IBackgroundCopyJob_Release(job);
    }
    IBackgroundCopyManager_Release(mgr);
    CoUninitialize();
    return status;
}
