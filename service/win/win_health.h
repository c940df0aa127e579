/* The Windows health sample of the running process (memory and handles) for the engine's status rows. */
#ifndef BG_WIN_HEALTH_H
#define BG_WIN_HEALTH_H

#include "engine.h"

/* engine_health_fn: working set, peak working set, handle count and pid of this process (ctx unused). */
int win_health_sample(void *ctx, engine_health *out);

#endif
