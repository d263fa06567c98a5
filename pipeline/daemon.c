/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.c - wiring and lifecycle of vigild (see daemon.h). */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert_delivery.h"
#include "ckpt_keys.h"
#include "credit_sync.h"
#include "flagged_sync.h"
#include "http.h"
#include "kafka_in.h"
#include "kafka_out.h"
#include "log.h"
#include "metrics.h"
#include "offsets.h"
#include "publisher.h"
#include "redis_sink.h"
#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/credit.h"
#include "vigil/flagged.h"
#include "vigil/numplan.h"
#include "vigil/privacy.h"
#include "vigil/profile.h"
#include "vigil/status.h"
#include "worker.h"

#define STATUS_EVERY_MS 10000
#define RELOAD_CHECK_MS 200 /* how soon a SIGHUP is acted on */
/* The contract gives 10 s; keep 3 s for a Redis reply still in flight at the deadline
 * (redis.timeout_ms) and for leaving the group. */
#define SHUTDOWN_BUDGET_MS 7000

/* What a reload replaced: the configuration, number plan and profiles in force before it
 * (still referenced by other threads and by strings cached from them, so kept until
 * shutdown), and the worker conf handed out with it, which points to its successors. */
struct retired {
    struct vigil_config *cfg;
    struct vigil_numplan *numplan;
    struct vigil_profiles *profiles;
    struct vigil_worker_conf conf;
    struct retired *next;
};

struct daemon {
    /* In force: the configuration, number plan and profiles of the last good reload (or of
     * start-up). Restart-only keys keep their start-up values in every one of them. */
    struct vigil_config *cfg;
    struct vigil_numplan *numplan;
    struct vigil_profiles *profiles;
    struct retired *retired;   /* older ones, newest first */
    uint64_t generation;       /* of cfg: 0 at start-up, one more per good reload */
    bool reload_pending;       /* some worker has not applied `generation` yet */
    char reload_msg[768];      /* logged once every worker has */
    _Atomic int64_t stream_ts;
    struct vigil_redis *redis;
    struct vigil_redis *ckpt_redis; /* the publisher's checkpoint transactions */
    struct vigil_redis *load_redis; /* the consumer thread's checkpoint loads */
    /* Flagged accounts' numbers: the sync thread fills it from Redis, the workers' detectors
     * read it; created before and destroyed after both. */
    struct vigil_flagged *flagged;
    struct vigil_flagged_sync *flagged_sync;
    struct vigil_credit *credit; /* limits set by billing (credit_sync.h) */
    struct vigil_credit_sync *credit_sync;
    struct vigil_kafka_out *kout;
    struct vigil_worker **workers;
    size_t n_workers;
    struct vigil_publisher *pub;
    struct vigil_kafka_in *kin;
    struct vigil_offsets offsets;
    struct vigil_ckpt_keys ckpt_keys; /* the group's checkpoint keys */
    struct vigil_metrics *metrics;         /* created first, destroyed last */
    struct vigil_alert_delivery *delivery; /* NULL: no receiver configured */
    struct vigil_http *http;               /* NULL: no --http / http.listen */
};

static void start_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "vigild: error: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* The configuration of --config FILE with every --set over it: at start-up and for each
 * reload. NULL with one line in err saying what is wrong. */
static struct vigil_config *build_config(const struct vigil_daemon_opts *o, char *err,
                                         size_t errlen)
{
    struct vigil_config *cfg = vigil_config_create();
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o->config_path && vigil_config_load_file(cfg, o->config_path) != 0) {
        snprintf(err, errlen, "%s", vigil_config_errstr(cfg));
        goto fail;
    }
    for (size_t i = 0; i < o->n_sets; i++) {
        char key[256];
        const char *eq = strchr(o->sets[i], '=');
        if (!eq || eq == o->sets[i] || (size_t)(eq - o->sets[i]) >= sizeof key) {
            snprintf(err, errlen, "--set '%s': expected KEY=VALUE", o->sets[i]);
            goto fail;
        }
        memcpy(key, o->sets[i], (size_t)(eq - o->sets[i]));
        key[eq - o->sets[i]] = '\0';
        if (vigil_config_set(cfg, key, eq + 1, "--set") != 0) {
            snprintf(err, errlen, "%s", vigil_config_errstr(cfg));
            goto fail;
        }
    }
    if (vigil_config_check_levels(cfg) != 0) {
        snprintf(err, errlen, "%s", vigil_config_errstr(cfg));
        goto fail;
    }
    return cfg;
fail:
    vigil_config_destroy(cfg);
    return NULL;
}

static int load_config(struct daemon *d, const struct vigil_daemon_opts *o)
{
    char err[600];
    d->cfg = build_config(o, err, sizeof err);
    if (!d->cfg) {
        start_error("%s%s", err, "");
        return -1;
    }
    return 0;
}

static int start(struct daemon *d, const struct vigil_daemon_opts *o)
{
    char err[512];
    if (load_config(d, o) != 0)
        return -1;
    /* Before the first thread starts (log.h). */
    if (strcmp(vigil_config_str(d->cfg, "log.format"), "json") == 0)
        vigil_log_set_format(VIGIL_LOG_JSON);
    d->numplan = vigil_numplan_create(d->cfg, err, sizeof err);
    if (!d->numplan) {
        start_error("%s%s", err, "");
        return -1;
    }
    d->profiles = vigil_profiles_create(d->cfg);
    if (!d->profiles) {
        start_error("%s%s", "out of memory", "");
        return -1;
    }
    /* Pseudonymisation is decided here, before any thread that emits exists, and stays so
     * until the process ends (a new key takes a restart: README, "Personal data"). */
    if (vigil_config_int(d->cfg, "privacy.pseudonymise") == 1) {
        uint8_t key[VIGIL_PRIVACY_KEY_LEN];
        if (vigil_privacy_read_key(vigil_config_str(d->cfg, "privacy.key_file"), key, err,
                                   sizeof err) != 0) {
            start_error("%s%s", err, "");
            return -1;
        }
        vigil_privacy_set_key(key);
        memset(key, 0, sizeof key);
        vigil_log(VIGIL_LOG_INFO, "phone numbers are pseudonymised (privacy.pseudonymise = 1)");
    } else {
        vigil_privacy_clear();
    }
    const char *pwfile = vigil_config_str(d->cfg, "redis.password_file");
    int tmo = (int)vigil_config_int(d->cfg, "redis.timeout_ms");
    d->redis = vigil_redis_create(o->redis, pwfile, tmo, err, sizeof err);
    if (!d->redis) {
        start_error("%s%s", err, "");
        return -1;
    }
    /* Unreachable Redis at start-up is a configuration problem: say so and stop, rather
     * than consume with nowhere to put the state. */
    if (vigil_redis_connect(d->redis) != 0) {
        start_error("%s%s", vigil_redis_errstr(d->redis), "");
        return -1;
    }
    if (vigil_config_int(d->cfg, "vigild.checkpoint") != 0) {
        d->ckpt_redis = vigil_redis_create(o->redis, pwfile, tmo, err, sizeof err);
        d->load_redis = vigil_redis_create(o->redis, pwfile, tmo, err, sizeof err);
        if (!d->ckpt_redis || !d->load_redis || vigil_redis_connect(d->ckpt_redis) != 0 ||
            vigil_redis_connect(d->load_redis) != 0) {
            start_error("checkpoint connection to Redis: %s%s",
                        d->load_redis ? vigil_redis_errstr(d->load_redis) : "out of memory", "");
            return -1;
        }
    }
    d->flagged = vigil_flagged_create(VIGIL_FLAGGED_DEFAULT_MAX);
    if (!d->flagged) {
        start_error("%s%s", "out of memory", "");
        return -1;
    }
    d->flagged_sync = vigil_flagged_sync_create(d->flagged, o->redis, pwfile, tmo,
                                                vigil_config_str(d->cfg, "redis.prefix"), err,
                                                sizeof err);
    /* Started now: its first read is done before the first event, as a rule. */
    if (!d->flagged_sync || vigil_flagged_sync_start(d->flagged_sync) != 0) {
        start_error("flagged numbers: %s%s", d->flagged_sync ? "cannot start a thread" : err, "");
        return -1;
    }
    d->credit = vigil_credit_create(VIGIL_CREDIT_DEFAULT_MAX);
    if (d->credit)
        d->credit_sync = vigil_credit_sync_create(d->credit, o->redis, pwfile, tmo,
                                                  vigil_config_str(d->cfg, "redis.prefix"), err,
                                                  sizeof err);
    if (!d->credit_sync || vigil_credit_sync_start(d->credit_sync) != 0) {
        start_error("credit limits: %s%s", d->credit_sync ? "cannot start a thread" : err, "");
        return -1;
    }
    d->kout = vigil_kafka_out_create(o->brokers, d->cfg, NULL, err, sizeof err);
    if (!d->kout) {
        start_error("Kafka producer: %s%s", err, "");
        return -1;
    }

    int64_t n = o->workers > 0 ? o->workers : vigil_config_int(d->cfg, "vigild.workers");
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? cores : 1;
    }
    d->n_workers = (size_t)n;
    d->workers = calloc(d->n_workers, sizeof *d->workers);
    if (!d->workers) {
        start_error("%s%s", "out of memory", "");
        return -1;
    }
    const char *events_topic = vigil_config_str(d->cfg, "kafka.events_topic");
    if (vigil_ckpt_keys_init(&d->ckpt_keys, vigil_config_str(d->cfg, "redis.prefix"), o->group,
                             events_topic) != 0) {
        start_error("redis.prefix, --group and kafka.events_topic are too long for a Redis "
                    "key%s%s", "", "");
        return -1;
    }
    vigil_offsets_init(&d->offsets);
    for (size_t i = 0; i < d->n_workers; i++) {
        struct vigil_worker_env env = {.cfg = d->cfg, .numplan = d->numplan,
                                       .profiles = d->profiles, .events_topic = events_topic,
                                       .index = (int)i, .n_workers = (int)d->n_workers,
                                       .parts = &d->offsets, .stream_ts = &d->stream_ts,
                                       .flagged = d->flagged, .credit = d->credit};
        d->workers[i] = vigil_worker_create(&env);
        if (!d->workers[i]) {
            start_error("cannot create worker %s%s", "(see above)", "");
            return -1;
        }
    }
    d->metrics = vigil_metrics_create();
    if (!d->metrics) {
        start_error("%s%s", "out of memory", "");
        return -1;
    }
    d->delivery = vigil_alert_delivery_create(d->cfg, err, sizeof err);
    if (!d->delivery && err[0]) {
        start_error("alert delivery: %s%s", err, "");
        return -1;
    }
    struct vigil_publisher_env penv = {.cfg = d->cfg, .workers = d->workers,
                                       .n_workers = d->n_workers, .kout = d->kout,
                                       .redis = d->redis, .ckpt = d->ckpt_redis,
                                       .ckpt_keys = &d->ckpt_keys, .offsets = &d->offsets,
                                       .metrics = d->metrics, .delivery = d->delivery};
    d->pub = vigil_publisher_create(&penv);
    if (!d->pub) {
        start_error("%s%s", "out of memory", "");
        return -1;
    }
    struct vigil_kafka_in_opts kopts = {
        .brokers = o->brokers,
        .group = o->group,
        .topic = events_topic,
        .orders_topic = vigil_config_str(d->cfg, "kafka.orders_topic"),
        .auto_offset_reset = vigil_config_str(d->cfg, "kafka.auto_offset_reset"),
        .assignor = vigil_config_str(d->cfg, "kafka.assignor"),
        .session_timeout_ms = (int)vigil_config_int(d->cfg, "kafka.session_timeout_ms"),
        .heartbeat_interval_ms = (int)vigil_config_int(d->cfg, "kafka.heartbeat_interval_ms"),
        .fetch_wait_max_ms = (int)vigil_config_int(d->cfg, "kafka.fetch_wait_max_ms"),
        .commit_interval_ms = (int)vigil_config_int(d->cfg, "kafka.commit_interval_ms"),
        .workers = d->workers,
        .n_workers = d->n_workers,
        .offsets = &d->offsets,
        .redis = d->load_redis,
        .ckpt_keys = &d->ckpt_keys,
        .cfg = d->cfg,
        .dedupe_window_ms = vigil_config_int(d->cfg, "vigild.dedupe_window_ms"),
        .metrics = d->metrics,
        .delivery = d->delivery,
    };
    d->kin = vigil_kafka_in_create(&kopts, err, sizeof err);
    if (!d->kin) {
        start_error("Kafka consumer: %s%s", err, "");
        return -1;
    }
    for (size_t i = 0; i < d->n_workers; i++) {
        if (vigil_worker_start(d->workers[i]) != 0) {
            start_error("%s%s", "cannot start worker threads", "");
            return -1;
        }
    }
    if (vigil_publisher_start(d->pub) != 0) {
        start_error("%s%s", "cannot start the publisher thread", "");
        return -1;
    }
    if (d->delivery && vigil_alert_delivery_start(d->delivery) != 0) {
        start_error("%s%s", "cannot start the alert delivery thread", "");
        return -1;
    }
    const char *listen = o->http ? o->http : vigil_config_str(d->cfg, "http.listen");
    if (listen && listen[0]) {
        struct vigil_http_env henv = {
            .listen = listen, .metrics = d->metrics, .workers = d->workers,
            .n_workers = d->n_workers, .pub = d->pub, .delivery = d->delivery,
            .kout = d->kout, .stream_ts = &d->stream_ts, .events_topic = events_topic,
            .group = o->group, .redis_addr = o->redis, .redis_password_file = pwfile,
            .redis_timeout_ms = tmo};
        d->http = vigil_http_create(&henv, err, sizeof err);
        if (!d->http) {
            start_error("--http: %s%s", err, "");
            return -1;
        }
    }
    vigil_log_info("consuming %s as group '%s' from %s with %zu workers; Redis %s",
                   events_topic, o->group, o->brokers, d->n_workers, vigil_redis_where(d->redis));
    return 0;
}

static void log_status(struct daemon *d)
{
    struct vigil_worker_stats sum = {0};
    for (size_t i = 0; i < d->n_workers; i++) {
        struct vigil_worker_stats st;
        vigil_worker_get_stats(d->workers[i], &st);
        sum.events += st.events;
        sum.dead += st.dead;
        sum.repeats += st.repeats;
        sum.accounts += st.accounts;
        sum.evicted += st.evicted;
        sum.skipped += st.skipped;
        sum.gaps += st.gaps;
        sum.lost += st.lost;
        sum.ahead += st.ahead;
        sum.held += st.held;
    }
    struct vigil_publisher_stats ps;
    vigil_publisher_get_stats(d->pub, &ps);
    vigil_log_info("status: %llu read, %llu valid, %llu repeats dropped, %llu dead letters, "
                   "%llu orders, %llu alerts, %llu durable flushes; %llu accounts in memory, "
                   "%llu evicted, %llu states checkpointed, %llu events skipped as loaded; "
                   "stream: %llu gaps, %llu events lost, %llu events ahead of their clock, "
                   "%llu orders held in gaps, %llu orders held by the brake",
                   vigil_kafka_in_dispatched(d->kin), (unsigned long long)sum.events,
                   (unsigned long long)sum.repeats, (unsigned long long)sum.dead,
                   (unsigned long long)ps.orders, (unsigned long long)ps.alerts,
                   (unsigned long long)ps.flushes, (unsigned long long)sum.accounts,
                   (unsigned long long)sum.evicted, (unsigned long long)ps.states,
                   (unsigned long long)sum.skipped, (unsigned long long)sum.gaps,
                   (unsigned long long)sum.lost, (unsigned long long)sum.ahead,
                   (unsigned long long)sum.held, (unsigned long long)ps.held);
}

/* Stops in dependency order; each step may be absent when start() failed half way. */
static int stop_all(struct daemon *d)
{
    int rc = 0;
    int64_t deadline = vigil_mono_ms() + SHUTDOWN_BUDGET_MS;
    vigil_http_destroy(d->http); /* it reads everything below */
    d->http = NULL;
    /* First, inside the budget: a read in flight to an unreachable Redis ends within
     * redis.timeout_ms. */
    if (d->flagged_sync)
        vigil_flagged_sync_stop(d->flagged_sync);
    if (d->credit_sync)
        vigil_credit_sync_stop(d->credit_sync);
    /* Workers get a third of the budget to hand everything to the publisher: one blocked on
     * a full out ring (Redis down and the publisher holding back) is aborted then, and the
     * events it could not hand over stay uncommitted, to be read again after the restart. */
    int64_t workers_by = vigil_mono_ms() + SHUTDOWN_BUDGET_MS / 3;
    size_t aborted = 0;
    for (size_t i = 0; d->workers && i < d->n_workers; i++) {
        if (d->workers[i])
            aborted += (size_t)vigil_worker_drain_and_join(d->workers[i], workers_by);
    }
    if (aborted > 0) {
        vigil_log_warn("%zu worker(s) could not hand over their last results within %d ms and "
                       "were stopped; the events behind them stay uncommitted and will be "
                       "processed again", aborted, SHUTDOWN_BUDGET_MS / 3);
        rc = 3;
    }
    if (d->pub && vigil_publisher_finish(d->pub, deadline) != 0) {
        vigil_log_warn("could not make every output durable before the deadline; the "
                       "events behind them stay uncommitted and will be processed again");
        rc = 3;
    }
    if (d->kin) {
        vigil_kafka_in_commit_sync(d->kin);
        log_status(d);
        vigil_kafka_in_close(d->kin);
    }
    vigil_publisher_destroy(d->pub);
    vigil_alert_delivery_destroy(d->delivery); /* after the publisher and consumer */
    for (size_t i = 0; d->workers && i < d->n_workers; i++)
        vigil_worker_destroy(d->workers[i]);
    free(d->workers);
    vigil_flagged_sync_destroy(d->flagged_sync);
    vigil_flagged_destroy(d->flagged); /* after the workers and the sync thread */
    vigil_credit_sync_destroy(d->credit_sync);
    vigil_credit_destroy(d->credit); /* after the workers and its sync thread */
    vigil_kafka_out_destroy(d->kout);
    vigil_redis_destroy(d->redis);
    vigil_redis_destroy(d->ckpt_redis);
    vigil_redis_destroy(d->load_redis);
    vigil_profiles_destroy(d->profiles);
    vigil_numplan_destroy(d->numplan);
    vigil_metrics_destroy(d->metrics);
    vigil_config_destroy(d->cfg);
    /* After every thread that could still read them is joined. */
    while (d->retired) {
        struct retired *r = d->retired;
        d->retired = r->next;
        vigil_profiles_destroy(r->profiles);
        vigil_numplan_destroy(r->numplan);
        vigil_config_destroy(r->cfg);
        free(r);
    }
    return rc;
}

/* --- reload (SIGHUP) ---------------------------------------------------------------------- */

/* Keys a reload applies: every detector's keys (and their `@profile` forms), the number
 * table, the profiles, the allowlist and exempt numbers, the alert cool-down, and the keys
 * the workers re-read (worker.c, read_keys). Everything else is read once at start-up by a
 * thread or client a reload does not rebuild (topics, Redis, Kafka, the publisher, worker
 * count and rings, dedupe, checkpoints): restart-only, as is any key not listed here. */
static bool reloadable(const char *key)
{
    static const char *const prefixes[] = {"numbering.", "profiles."};
    static const char *const keys[] = {
        "orders.allowlist", "orders.exempt", "alerts.cooldown_s", "vigild.disorder_ms",
        "vigild.tick_interval_ms", "vigild.checkpoint_interval_ms", "vigild.max_accounts",
        "vigild.gap_ms", "vigild.clock_confirm_accounts", "orders.mode", "orders.report_rules",
    };
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    char section[64];
    const char *dot = strchr(key, '.');
    if (!dot || (size_t)(dot - key) >= sizeof section)
        return false;
    memcpy(section, key, (size_t)(dot - key));
    section[dot - key] = '\0';
    return vigil_detector_find(section) != NULL;
}

/* Keys that changed, in one of two kinds; names point into the key tables (static, or the
 * running configuration's). */
#define KEYS_MAX 1024
struct changed_keys {
    bool restart; /* collect restart-only keys (else reloadable ones) */
    size_t n;
    const char *name[KEYS_MAX];
};

static void note_changed(const char *key, void *arg)
{
    struct changed_keys *k = arg;
    if (reloadable(key) != k->restart && k->n < KEYS_MAX)
        k->name[k->n++] = key;
}

/* "a, b, c" into buf, cut with "..." when it does not fit. */
static void join_names(const struct changed_keys *k, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k->n; i++) {
        int m = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", k->name[i]);
        if (m < 0 || (size_t)m >= len - at - 5) {
            snprintf(buf + at, len - at, "%s...", i ? ", " : "");
            return;
        }
        at += (size_t)m;
    }
}

/* Re-reads the configuration file with the same --set over it. A bad one is refused with
 * one line and nothing changes; restart-only keys keep their running values (one line names
 * them); the rest goes to every worker, which applies it at its next batch boundary. */
static void reload(struct daemon *d, const struct vigil_daemon_opts *o)
{
    if (!o->config_path) {
        vigil_log_info("SIGHUP: vigild was started without --config, so there is nothing to "
                       "reload");
        return;
    }
    char err[600];
    struct vigil_config *cfg = build_config(o, err, sizeof err);
    struct vigil_numplan *numplan = NULL;
    struct vigil_profiles *profiles = NULL;
    struct retired *r = NULL;
    struct changed_keys *restart = calloc(1, sizeof *restart);
    struct changed_keys *changed = calloc(1, sizeof *changed);
    if (!restart || !changed) {
        snprintf(err, sizeof err, "out of memory");
        goto refuse;
    }
    if (!cfg)
        goto refuse;
    restart->restart = true;
    vigil_config_diff(d->cfg, cfg, note_changed, restart);
    /* Restart-only keys get their running values back, so the new configuration says what
     * is in force, and nothing built from it (the emit layer reads redis.block_ttl_s) uses a
     * value the rest of the process does not. */
    for (size_t i = 0; i < restart->n; i++) {
        if (vigil_config_set(cfg, restart->name[i], vigil_config_text(d->cfg, restart->name[i]),
                             "running") != 0) {
            snprintf(err, sizeof err, "%s", vigil_config_errstr(cfg));
            goto refuse;
        }
    }
    numplan = vigil_numplan_create(cfg, err, sizeof err);
    if (!numplan)
        goto refuse;
    profiles = vigil_profiles_create(cfg);
    r = calloc(1, sizeof *r);
    if (!profiles || !r) {
        snprintf(err, sizeof err, "out of memory");
        goto refuse;
    }
    vigil_config_diff(d->cfg, cfg, note_changed, changed);
    char names[512];
    if (restart->n > 0) {
        join_names(restart, names, sizeof names);
        vigil_log_warn("reload: %s %s a restart; keeping the running value%s", names,
                       restart->n == 1 ? "needs" : "need", restart->n == 1 ? "" : "s");
    }

    /* The running objects retire (kept until shutdown); the new ones are in force. */
    r->cfg = d->cfg;
    r->numplan = d->numplan;
    r->profiles = d->profiles;
    r->next = d->retired;
    d->retired = r;
    d->cfg = cfg;
    d->numplan = numplan;
    d->profiles = profiles;
    r->conf = (struct vigil_worker_conf){.cfg = cfg, .numplan = numplan, .profiles = profiles,
                                         .generation = ++d->generation};
    for (size_t i = 0; i < d->n_workers; i++)
        vigil_worker_reconfigure(d->workers[i], &r->conf);
    join_names(changed, names, sizeof names);
    if (changed->n == 0)
        snprintf(d->reload_msg, sizeof d->reload_msg,
                 "reloaded %s: no key changed (number table read again)", o->config_path);
    else
        snprintf(d->reload_msg, sizeof d->reload_msg, "reloaded %s: %zu key%s changed (%s)",
                 o->config_path, changed->n, changed->n == 1 ? "" : "s", names);
    d->reload_pending = true;
    free(restart);
    free(changed);
    return;
refuse:
    vigil_log_error("reload refused: %s; keeping the running configuration", err);
    free(restart);
    free(changed);
    free(r);
    vigil_profiles_destroy(profiles);
    vigil_numplan_destroy(numplan);
    vigil_config_destroy(cfg);
}

/* Says "reloaded" once every worker runs the new configuration. */
static void check_reloaded(struct daemon *d)
{
    for (size_t i = 0; i < d->n_workers; i++)
        if (vigil_worker_generation(d->workers[i]) < d->generation)
            return;
    d->reload_pending = false;
    vigil_log_info("%s", d->reload_msg);
}

int vigil_daemon_print_config(const struct vigil_daemon_opts *o)
{
    struct daemon d = {0};
    char err[512];
    int rc = 1;
    if (load_config(&d, o) != 0)
        goto out;
    struct vigil_redis *r = vigil_redis_create(o->redis,
                                               vigil_config_str(d.cfg, "redis.password_file"),
                                               0, err, sizeof err);
    if (!r) {
        start_error("%s%s", err, "");
        goto out;
    }
    printf("# vigild effective configuration (secrets shown as ***)\n"
           "# --brokers %s\n# --redis %s\n# --group %s\n",
           o->brokers ? o->brokers : "(none)", vigil_redis_where(r), o->group);
    vigil_redis_destroy(r);
    vigil_config_dump(d.cfg, stdout);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    vigil_config_destroy(d.cfg);
    return rc;
}

int vigil_daemon_run(const struct vigil_daemon_opts *o, atomic_bool *stop)
{
    struct daemon *d = calloc(1, sizeof *d);
    if (!d) {
        fprintf(stderr, "vigild: error: out of memory\n");
        return 1;
    }
    if (start(d, o) != 0) {
        stop_all(d);
        free(d);
        return 1;
    }
    /* Relaxed: set by the signal handler; it guards no data. */
    int64_t next_status = vigil_mono_ms() + STATUS_EVERY_MS;
    while (!atomic_load_explicit(stop, memory_order_relaxed)) {
        /* Short runs, so a SIGHUP is taken within RELOAD_CHECK_MS. */
        vigil_kafka_in_run(d->kin, stop, RELOAD_CHECK_MS);
        if (atomic_load_explicit(stop, memory_order_relaxed))
            break;
        /* Relaxed, as stop: the flag is all that is passed. */
        if (o->reload && atomic_exchange_explicit(o->reload, false, memory_order_relaxed))
            reload(d, o);
        if (d->reload_pending)
            check_reloaded(d);
        if (vigil_mono_ms() >= next_status) {
            log_status(d);
            next_status = vigil_mono_ms() + STATUS_EVERY_MS;
        }
    }
    vigil_log_info("stopping: draining workers, flushing outputs, committing offsets");
    int rc = stop_all(d);
    free(d);
    if (rc == 0)
        vigil_log_info("stopped cleanly");
    return rc;
}
