/* The Windows Event Log (wevtapi) as an engine event source: live pull subscriptions and one-shot queries. */
#ifndef BG_WIN_EVT_SOURCE_H
#define BG_WIN_EVT_SOURCE_H

#include <stddef.h>
#include <wchar.h>

#include "engine.h"

/*
 * A live source for engine_run: EvtSubscribe with a signal event (pull model), drained with EvtNext
 * in batches, each event rendered to UTF-8 XML with the two-call EvtRender. subscribe() starts after
 * the given bookmark with EvtSubscribeStrict (a bookmark whose event is gone gives
 * BG_ERR_SOURCE_BOOKMARK), or at the oldest record, or at future events. stop() may be called from
 * any thread (the service control handler). Returns NULL with a reason in errbuf on failure.
 */
event_source *win_evt_source_new(char *errbuf, size_t errlen);

/*
 * A finite source for `bitsguard scan` on Windows: EvtQuery over an exported log file (is_file = 1,
 * EvtQueryFilePath) or a live channel (is_file = 0, EvtQueryChannelPath), oldest first. Drive it with
 * subscribe (the channel, bookmark and from_oldest arguments are ignored; the query runs then), then
 * wait/next until wait returns BG_ERR_STOPPED, which here means the end of the results (or stop()).
 * Errors opening the file or channel are returned by subscribe: BG_ERR_IO for a missing file,
 * BG_ERR_SOURCE_CHANNEL for a missing channel. Returns NULL when out of memory or handles.
 */
event_source *win_evt_query_new(const wchar_t *path_or_channel, int is_file);

/*
 * Makes a live source subscribe with this structured query (a <QueryList>, UTF-8) instead of every event
 * of the channel: the channel given to subscribe still names the bookmark (in the database) and the log
 * (its creation time, its configuration). BG_ERR_INVALID_ARG for a query source, BG_ERR_NOMEM.
 */
bg_error win_evt_source_filter_set(event_source *src, const char *query) BG_WARN_UNUSED;

/* The Windows error code behind the source's last failure (0 when none), for reports. */
unsigned long win_evt_source_last_error(const event_source *src);

/* How often the safety-net wait (at most 60 s with nothing signalled) woke: the idle cost, 60 per hour. */
unsigned long win_evt_source_safety_wakeups(const event_source *src);

#endif
