/* The BITS service's COM interface (IBackgroundCopyManager) as a jobs_client: list, cancel, create a suspended job. */
#ifndef BG_WIN_BITS_H
#define BG_WIN_BITS_H

#include <stddef.h>

#include "jobs.h"

/* Initializes COM on this thread and connects to the BITS service; NULL with the reason in why (the
 * HRESULT and what to check) when it cannot be reached. destroy() releases it and uninitializes COM. */
jobs_client *win_bits_client_new(char *why, size_t why_len);

#endif
