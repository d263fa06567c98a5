/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.c - wiring and lifecycle of vigild (see daemon.h). */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_keys.h"
#include "flagged_sync.h"
#include "kafka_in.h"
#include "kafka_out.h"
#include "log.h"
#include "offsets.h"
#include "publisher.h"
#include "redis_sink.h"
#include "vigil/config.h"
#include "vigil/flagged.h"
#include "vigil/numplan.h"
#include "vigil/profile.h"
#include "vigil/status.h"
#include "worker.h"

#define STATUS_EVERY_MS 10000
#define SHUTDOWN_BUDGET_MS 8000 /* the contract gives 10 s; keep 2 s for leaving the group */

struct daemon {
    struct vigil_config *cfg;
    struct vigil_numplan *numplan;
    struct vigil_profiles *profiles;
    _Atomic int64_t stream_ts;
    struct vigil_redis *redis;
    struct vigil_redis *ckpt_redis; /* the publisher's checkpoint transactions */
    struct vigil_redis *load_redis; /* the consumer thread's checkpoint loads */
    /* Flagged accounts' numbers: the sync thread fills it from Redis, the workers' detectors
     * read it; created before and destroyed after both. */
    struct vigil_flagged *flagged;
    struct vigil_flagged_sync *flagged_sync;
    struct vigil_kafka_out *kout;
    struct vigil_worker **workers;
    size_t n_workers;
    struct vigil_publisher *pub;
    struct vigil_kafka_in *kin;
    struct vigil_offsets offsets;
    struct vigil_ckpt_keys ckpt_keys; /* the group's checkpoint keys */
};

static void start_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "vigild: error: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

static int load_config(struct daemon *d, const struct vigil_daemon_opts *o)
{
    d->cfg = vigil_config_create();
    if (!d->cfg) {
        start_error("%s%s", "out of memory", "");
        return -1;
    }
    if (o->config_path && vigil_config_load_file(d->cfg, o->config_path) != 0) {
        start_error("%s%s", vigil_config_errstr(d->cfg), "");
        return -1;
    }
    for (size_t i = 0; i < o->n_sets; i++) {
        char key[256];
        const char *eq = strchr(o->sets[i], '=');
        if (!eq || eq == o->sets[i] || (size_t)(eq - o->sets[i]) >= sizeof key) {
            start_error("--set '%s': expected KEY=VALUE%s", o->sets[i], "");
            return -1;
        }
        memcpy(key, o->sets[i], (size_t)(eq - o->sets[i]));
        key[eq - o->sets[i]] = '\0';
        if (vigil_config_set(d->cfg, key, eq + 1, "--set") != 0) {
            start_error("%s%s", vigil_config_errstr(d->cfg), "");
            return -1;
        }
    }
    return 0;
}

static int start(struct daemon *d, const struct vigil_daemon_opts *o)
{
    char err[512];
    if (load_config(d, o) != 0)
        return -1;
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
                                       .flagged = d->flagged};
        d->workers[i] = vigil_worker_create(&env);
        if (!d->workers[i]) {
            start_error("cannot create worker %s%s", "(see above)", "");
            return -1;
        }
    }
    struct vigil_publisher_env penv = {.cfg = d->cfg, .workers = d->workers,
                                       .n_workers = d->n_workers, .kout = d->kout,
                                       .redis = d->redis, .ckpt = d->ckpt_redis,
                                       .ckpt_keys = &d->ckpt_keys, .offsets = &d->offsets};
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
    }
    struct vigil_publisher_stats ps;
    vigil_publisher_get_stats(d->pub, &ps);
    vigil_log_info("status: %llu read, %llu valid, %llu repeats dropped, %llu dead letters, "
                   "%llu orders, %llu alerts, %llu durable flushes; %llu accounts in memory, "
                   "%llu evicted, %llu states checkpointed, %llu events skipped as loaded",
                   vigil_kafka_in_dispatched(d->kin), (unsigned long long)sum.events,
                   (unsigned long long)sum.repeats, (unsigned long long)sum.dead,
                   (unsigned long long)ps.orders, (unsigned long long)ps.alerts,
                   (unsigned long long)ps.flushes, (unsigned long long)sum.accounts,
                   (unsigned long long)sum.evicted, (unsigned long long)ps.states,
                   (unsigned long long)sum.skipped);
}

/* Stops in dependency order; each step may be absent when start() failed half way. */
static int stop_all(struct daemon *d)
{
    int rc = 0;
    int64_t deadline = vigil_mono_ms() + SHUTDOWN_BUDGET_MS;
    /* First, inside the budget: a read in flight to an unreachable Redis ends within
     * redis.timeout_ms. */
    if (d->flagged_sync)
        vigil_flagged_sync_stop(d->flagged_sync);
    for (size_t i = 0; d->workers && i < d->n_workers; i++) {
        if (d->workers[i])
            vigil_worker_drain_and_join(d->workers[i]);
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
    for (size_t i = 0; d->workers && i < d->n_workers; i++)
        vigil_worker_destroy(d->workers[i]);
    free(d->workers);
    vigil_flagged_sync_destroy(d->flagged_sync);
    vigil_flagged_destroy(d->flagged); /* after the workers and the sync thread */
    vigil_kafka_out_destroy(d->kout);
    vigil_redis_destroy(d->redis);
    vigil_redis_destroy(d->ckpt_redis);
    vigil_redis_destroy(d->load_redis);
    vigil_profiles_destroy(d->profiles);
    vigil_numplan_destroy(d->numplan);
    vigil_config_destroy(d->cfg);
    return rc;
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
    while (!atomic_load_explicit(stop, memory_order_relaxed)) {
        vigil_kafka_in_run(d->kin, stop, STATUS_EVERY_MS);
        if (!atomic_load_explicit(stop, memory_order_relaxed))
            log_status(d);
    }
    vigil_log_info("stopping: draining workers, flushing outputs, committing offsets");
    int rc = stop_all(d);
    free(d);
    if (rc == 0)
        vigil_log_info("stopped cleanly");
    return rc;
}
