/* Several channels read at once: one engine_run per channel, each on its own thread with its own source. */
#ifndef BG_ENGINE_GROUP_H
#define BG_ENGINE_GROUP_H

#include <stddef.h>

#include "bg_error.h"
#include "engine.h"

/* One channel of a group: the caller fills channel and src (a source of its own: sources are not
 * shared between threads); engine_group_run fills stats and rc. */
typedef struct engine_group_member {
    const char *channel;
    event_source *src;
    engine_stats stats;
    bg_error rc; /* What engine_run returned for this channel (BG_ERR_OK after a requested stop). */
} engine_group_member;

/*
 * Runs engine_run for each of the n members at once, each on a thread of its own with its own source
 * and its own database connection (SQLite's WAL and the store's busy retry let them commit side by
 * side), sharing cfg (its channel replaced by the member's; the invalid configuration values recorded
 * by the first member only) and alerts, whose callbacks are then called from every member's thread
 * and must be thread-safe. Each channel keeps its own bookmark, resubscribes on its own and backs off
 * on its own: a missing channel, a rejected bookmark or a broken subscription of one channel never
 * stops, delays or rewinds the others.
 *
 * Returns once every member's engine_run has returned: after the caller stopped every source
 * (source_stop, thread-safe), or after one engine ended on its own with an unrecoverable error, which
 * then stops the others so that the process ends and its recovery restarts it. Returns BG_ERR_OK when
 * every member stopped cleanly, else the first member's error (BG_ERR_PLATFORM when a thread could not
 * be created: the members started are stopped and joined first).
 */
bg_error engine_group_run(const engine_config *cfg, engine_group_member *members, size_t n,
                          const engine_alert_sink *alerts) BG_WARN_UNUSED;

#endif
