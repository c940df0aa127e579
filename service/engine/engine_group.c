/* Several channels read at once: one engine_run per channel on its own thread; one fatal end stops the rest. */
#include "engine_group.h"

#include <stdlib.h>
#include <string.h>

#include "bg_os.h"
#include "event.h"

typedef struct engine_group engine_group;

/* One member's thread: its engine's configuration and where the group is. */
typedef struct engine_group_slot {
    engine_group *group;
    engine_group_member *member;
    engine_config cfg;
    bg_os_thread *thread;
} engine_group_slot;

struct engine_group {
    engine_group_member *members;
    size_t n;
    const engine_alert_sink *alerts;
};

/* Makes every member's engine return (their sources' stop is thread-safe, and idempotent). */
static void engine_group_stop_all(engine_group *g)
{
    for (size_t i = 0; i < g->n; i++)
        g->members[i].src->ops->stop(g->members[i].src);
}

static void engine_group_thread(void *arg)
{
    engine_group_slot *slot = arg;
    engine_group_member *m = slot->member;
    m->rc = engine_run(&slot->cfg, m->src, slot->group->alerts, &m->stats);
    /* engine_run returns by itself only on an unrecoverable error (source failures are retried):
     * end the others too, so the service stops and its recovery actions restart it whole. */
    if (m->rc != BG_ERR_OK)
        engine_group_stop_all(slot->group);
}

bg_error engine_group_run(const engine_config *cfg, engine_group_member *members, size_t n,
                          const engine_alert_sink *alerts)
{
    if (!cfg || !members || n == 0)
        return BG_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (!members[i].channel || !members[i].src || !members[i].src->ops)
            return BG_ERR_INVALID_ARG;
    }
    engine_group g = {members, n, alerts};
    bg_error rc = BG_ERR_OK;
    size_t started = 0;
    engine_group_slot *slots = calloc(n, sizeof *slots);
    if (!slots)
        return BG_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        members[i].rc = BG_ERR_OK;
        memset(&members[i].stats, 0, sizeof members[i].stats);
        slots[i].group = &g;
        slots[i].member = &members[i];
        slots[i].cfg = *cfg;
        slots[i].cfg.channel = members[i].channel;
        if (i > 0) {
            /* Recorded once per start, not once per channel. */
            slots[i].cfg.config_warnings = NULL;
            slots[i].cfg.config_warning_count = 0;
        }
    }
    {
        /* libxml2's one-time initialisation on this thread, before the readers parse side by side. */
        event ev;
        event_init(&ev);
        event_free(&ev);
    }
    for (; started < n; started++) {
        slots[started].thread = bg_os_thread_start(engine_group_thread, &slots[started]);
        if (!slots[started].thread) {
            rc = BG_ERR_PLATFORM;
            engine_group_stop_all(&g);
            break;
        }
    }
    for (size_t i = 0; i < started; i++)
        bg_os_thread_join(slots[i].thread);
    for (size_t i = 0; rc == BG_ERR_OK && i < started; i++)
        rc = members[i].rc;
    free(slots);
    return rc;
}
