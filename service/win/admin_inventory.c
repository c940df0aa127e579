/* setup's inventory: the BITS jobs that exist at install time, flagged ones stored once in the service's database. */
#include <windows.h>

#include <stdio.h>
#include <time.h>

#include "admin.h"
#include "config.h"
#include "jobs_cmd.h"
#include "store.h"
#include "win_bits.h"
#include "win_config.h"

void admin_inventory_store(void)
{
    const char *what = "inventory of existing BITS jobs";
    char why[512] = "", errbuf[1024] = "", detail[160];
    service_config cfg;
    store *db = NULL;
    jobs_client *client = NULL;
    int cfg_ready = 0;
    /* Never fatal: the MSI must not roll back because BITS is disabled or a job cannot be read. */
    if (service_config_init(&cfg, NULL, NULL) != BG_ERR_OK) {
        admin_step_print(what, "skipped", "out of memory");
        goto cleanup;
    }
    cfg_ready = 1;
    if (win_config_load(&cfg) != BG_ERR_OK) {
        admin_step_print(what, "skipped", "the configuration (database path) cannot be read");
        goto cleanup;
    }
    client = win_bits_client_new(why, sizeof why);
    if (!client) {
        admin_step_print(what, "skipped", why);
        goto cleanup;
    }
    bg_error e = store_open(&db, cfg.engine.db_path, NULL, errbuf, sizeof errbuf);
    if (e != BG_ERR_OK) {
        admin_step_print(what, "skipped", errbuf[0] ? errbuf : bg_error_str(e));
        goto cleanup;
    }
    jobs_cmd_options o = {0};
    o.all_users = 1;
    o.allow = cfg.engine.allow;
    o.db = db;
    o.now_unix = (int64_t)time(NULL);
    o.command = "setup";
    size_t flagged = 0, stored = 0;
    jobs_outcome r = jobs_cmd_list(client, &o, NULL, stderr, &flagged, &stored);
    if (r == JOBS_OUTCOME_ERROR) {
        admin_step_print(what, "skipped", "see the message above");
        goto cleanup;
    }
    snprintf(detail, sizeof detail, "%zu flagged job%s, %zu new detection%s stored (source inventory)", flagged,
             flagged == 1 ? "" : "s", stored, stored == 1 ? "" : "s");
    admin_step_print(what, "ok", detail);
cleanup:
    store_close(db);
    if (client)
        client->ops->destroy(client);
    if (cfg_ready)
        service_config_clear(&cfg);
}
