/* SPDX-License-Identifier: Apache-2.0 */
/* bench_e2e.c - how close does vigild come to a bare Kafka consumer, end to end, on the same
 * machine, topic and messages, in one run?
 *
 * 1. Starts vigil-broker (events topic with --partitions partitions) and a redis-server on a
 *    free loopback port (no persistence), both in a temp dir.
 * 2. Runs `vigil-sim --accounts N --out -` and produces its first --events lines to the
 *    events topic keyed by account (our own producer, so the count is exact), waits for
 *    every delivery, and checks with the partitions' watermarks that the mock broker kept
 *    every message (it keeps only ~5 MiB per partition).
 * 3. (a) bare: a librdkafka high-level consumer in a fresh group that only counts messages
 *    until it has all of them. Wall time, and its CPU (getrusage of this process, which runs
 *    nothing else meanwhile).
 *    (b) vigild --workers W --group bench-<pid>: the time until the group's committed offsets
 *    (rd_kafka_committed every 100 ms, without joining) cover every message, and its CPU
 *    from /proc/<pid>/stat. Redis: commands per event from INFO stats
 *    (total_commands_processed before and after); round trips from vigild's last status
 *    line (durable flushes: each sends the Redis batch in at most one pipelined round trip;
 *    Redis' own total_writes_processed counts socket writes, several per large reply).
 *    vigild runs with kafka.commit_interval_ms=100 (default 1000) so that the commit point
 *    follows processing closely enough to time it; everything else is default.
 * 4. SIGTERM everything, remove the temp dir.
 *
 * Rates: "net" excludes the group join. Bare: from its first message to its last. vigild:
 * from the first observation of a committed offset to the observation that covers all,
 * counting the messages in between (both ends lag processing by the same flush + commit
 * interval, so the lag cancels). "gross" is from process/consumer start, join included.
 * CPU per event: bare from consumer creation to its last message; vigild from its start to
 * the moment its offsets covered everything (join idle time included, a small part).
 *
 * Prints one line:
 *   bench_e2e events=.. partitions=.. workers=.. bare_mev_s=.. vigild_mev_s=.. ratio=..
 *   bare_cpu_s_per_mev=.. vigild_cpu_s_per_mev=.. cpu_ratio=.. join_s=.. ...
 * Asserts nothing about speed. Exits 1 when something could not be started or vigild did
 * not commit everything within --timeout-s.
 * Threading: single-threaded (librdkafka runs its own threads). Children are started with
 * PR_SET_PDEATHSIG so they die with this process (bench_util.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "bench_util.h"

/* ---- options ---------------------------------------------------------------------------- */

struct opts {
    char bin_dir[BENCH_DIR_MAX];
    const char *redis_server;
    long events, accounts, partitions, workers, timeout_s, commit_ms;
    bool keep_tmp;
    const char *sets[16]; /* extra vigild --set KEY=VALUE */
    int n_sets;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_e2e [--events N] [--accounts N] [--partitions N] [--workers N]\n"
            "                 [--commit-interval-ms MS] [--timeout-s S] [--bin-dir DIR]\n"
            "                 [--redis-server PATH] [--set KEY=VALUE]... [--keep-tmp]\n"
            "Runs vigil-broker, redis-server, vigil-sim and vigild on loopback and compares, on\n"
            "the same topic and messages, a bare librdkafka consumer that only counts with\n"
            "vigild (time until its committed offsets cover every message). Prints one line:\n"
            "  bench_e2e events=.. bare_mev_s=.. vigild_mev_s=.. ratio=.. cpu_ratio=.. ...\n"
            "  --events N             messages produced (default 1000000)\n"
            "  --accounts N           vigil-sim background accounts (default 10000)\n"
            "  --partitions N         partitions of vigil.events (default 96; the mock broker\n"
            "                         keeps ~5 MiB per partition: keep events x 260 B /\n"
            "                         partitions well below that)\n"
            "  --workers N            vigild --workers (default 2)\n"
            "  --commit-interval-ms MS  vigild kafka.commit_interval_ms (default 100, so the\n"
            "                         commit point can be timed; vigild's own default is 1000)\n"
            "  --timeout-s S          give up on a phase after S seconds (default 90)\n"
            "  --bin-dir DIR          where vigil-broker, vigil-sim, vigild are (default: the\n"
            "                         directory of this program)\n"
            "  --redis-server PATH    redis-server to run (default: redis-server from PATH)\n"
            "  --set KEY=VALUE        passed on to vigild as --set (repeatable, at most 16), to\n"
            "                         compare settings\n"
            "  --keep-tmp             keep the temp dir with the children's logs\n"
            "Progress goes to stderr. Asserts nothing about speed.\n");
}

/* ---- small helpers ---------------------------------------------------------------------- */

static struct bench_child broker_c = BENCH_CHILD("vigil-broker");
static struct bench_child redis_c = BENCH_CHILD("redis-server");
static struct bench_child sim_c = BENCH_CHILD("vigil-sim");
static struct bench_child vigild_c = BENCH_CHILD("vigild");

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

struct phase_cpu {
    double broker0, idle0, total0;
    double broker_s, idle_share;
};

static void phase_begin(struct phase_cpu *pc, pid_t broker)
{
    pc->broker0 = bench_proc_cpu_s(broker);
    bench_machine_jiffies(&pc->idle0, &pc->total0);
}

static void phase_end(struct phase_cpu *pc, pid_t broker)
{
    double idle, total;
    pc->broker_s = bench_proc_cpu_s(broker) - pc->broker0;
    bench_machine_jiffies(&idle, &total);
    pc->idle_share = total > pc->total0 ? (idle - pc->idle0) / (total - pc->total0) : 0;
}

/* ---- Redis ------------------------------------------------------------------------------ */

/* INFO stats counters; the INFO command itself counts as one command and one write. */
static int redis_stats(int port, long long *commands, long long *writes)
{
    redisContext *rc = redisConnect("127.0.0.1", port);
    if (!rc || rc->err) {
        if (rc)
            redisFree(rc);
        return -1;
    }
    redisReply *r = redisCommand(rc, "INFO stats");
    int ok = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "total_commands_processed:");
        const char *q = strstr(r->str, "total_writes_processed:");
        if (p && q) {
            *commands = atoll(p + strlen("total_commands_processed:"));
            *writes = atoll(q + strlen("total_writes_processed:"));
            ok = 0;
        }
    }
    if (r)
        freeReplyObject(r);
    redisFree(rc);
    return ok;
}

/* vigil-sim's JSON lines, the first `events` of them, to the events topic keyed by account. */
static int produce_events(const struct opts *o, const char *bootstrap, double *seconds)
{
    long minutes = (long)(1.5 * (double)o->events /
                          ((double)o->accounts * BENCH_SIM_RATE_PER_ACCOUNT_MIN)) + 60;
    if (minutes > 43200)
        minutes = 43200;
    if (bench_start_sim(&sim_c, o->bin_dir, o->accounts, minutes, NULL) != 0)
        return -1;
    FILE *in = fdopen(sim_c.out_fd, "r");
    if (!in)
        return -1;
    sim_c.out_fd = -1; /* owned by `in` now */

    struct bench_produce_state ps = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    const char *props[] = {"bootstrap.servers", bootstrap, "client.id", "bench-producer",
                           "linger.ms", "20", "queue.buffering.max.messages", "500000", NULL};
    for (const char *const *p = props; *p; p += 2)
        rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(conf, bench_on_delivery);
    rd_kafka_conf_set_opaque(conf, &ps);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        bench_say("producer: %s", err);
        rd_kafka_conf_destroy(conf);
        fclose(in);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    long sent = 0;
    double t0 = bench_now_s(), last = t0;
    ssize_t len;
    while (sent < o->events && !bench_stop && (len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        const char *a;
        size_t a_len;
        if (bench_event_account(line, &a, &a_len) != 0)
            continue;
        for (;;) {
            rd_kafka_resp_err_t r =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(BENCH_EVENTS_TOPIC),
                                  RD_KAFKA_V_KEY(a, a_len),
                                  RD_KAFKA_V_VALUE(line, (size_t)len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (r == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                bench_say("produce: %s", rd_kafka_err2str(r));
                goto fail;
            }
            rd_kafka_poll(rk, 10);
        }
        sent++;
        rd_kafka_poll(rk, 0);
        if (bench_now_s() - last > 2.0) {
            bench_say("produced %ld/%ld", sent, o->events);
            last = bench_now_s();
        }
    }
    fclose(in);
    in = NULL;
    bench_child_stop(&sim_c, 5000); /* it may still be writing events we do not need */
    if (sent < o->events) {
        bench_say("vigil-sim gave only %ld events; raise --accounts", sent);
        goto fail;
    }
    while (rd_kafka_outq_len(rk) > 0 && !bench_stop && bench_now_s() - t0 < o->timeout_s)
        rd_kafka_poll(rk, 100);
    *seconds = bench_now_s() - t0;
    free(line);
    rd_kafka_destroy(rk);
    if (ps.delivered != o->events) {
        bench_say("only %ld of %ld messages were delivered", ps.delivered, o->events);
        return -1;
    }
    return 0;
fail:
    if (in)
        fclose(in);
    free(line);
    rd_kafka_destroy(rk);
    return -1;
}

/* Checks that the broker still holds every message (offsets 0..), via the watermarks. */
static int check_retention(const struct opts *o, const char *bootstrap)
{
    const char *props[] = {"bootstrap.servers", bootstrap, "group.id", "bench-watermarks", NULL};
    rd_kafka_t *rk = bench_kafka_new(RD_KAFKA_CONSUMER, props);
    if (!rk)
        return -1;
    long total = 0, dropped = 0, max_part = 0;
    int rc = 0;
    for (int32_t p = 0; p < o->partitions; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, BENCH_EVENTS_TOPIC, p, &lo, &hi, 10000);
        if (e) {
            bench_say("watermarks of partition %d: %s", p, rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        total += (long)(hi - lo);
        dropped += (long)lo;
        if (hi - lo > max_part)
            max_part = (long)(hi - lo);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc == 0 && (dropped > 0 || total != o->events)) {
        bench_say("the broker holds %ld of %ld messages (%ld dropped by its ~5 MiB per partition "
                  "retention): use more --partitions or fewer --events",
                  total, o->events, dropped);
        return -1;
    }
    if (rc == 0)
        bench_say("broker holds all %ld messages (largest partition %ld)", total, max_part);
    return rc;
}

struct bare_result {
    double join_s, net_s, gross_s, cpu_s;
    struct phase_cpu pc; /* from the first message to the last */
};

static int run_bare(const struct opts *o, const char *bootstrap, struct bare_result *res)
{
    char group[64];
    snprintf(group, sizeof group, "bench-bare-%d", (int)getpid());
    double cpu0 = self_cpu_s(), t0 = bench_now_s();
    const char *props[] = {"bootstrap.servers", bootstrap, "group.id", group,
                           "client.id", "bench-bare", "auto.offset.reset", "earliest",
                           "enable.auto.commit", "false", NULL};
    rd_kafka_t *rk = bench_kafka_new(RD_KAFKA_CONSUMER, props);
    if (!rk)
        return -1;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, BENCH_EVENTS_TOPIC, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        bench_say("subscribe: %s", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return -1;
    }
    long n = 0;
    double t_first = 0, t_last = 0, last_progress = bench_now_s(), last_report = t0;
    while (n < o->events && !bench_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        double t = bench_now_s();
        if (!m) {
            if (t - last_progress > o->timeout_s) {
                bench_say("bare consumer: no message for %ld s after %ld", o->timeout_s, n);
                break;
            }
            continue;
        }
        if (!m->err) {
            if (n++ == 0) {
                t_first = t;
                phase_begin(&res->pc, broker_c.pid);
            }
            t_last = t;
            last_progress = t;
        }
        rd_kafka_message_destroy(m);
        if (t - last_report > 2.0) {
            bench_say("bare consumer: %ld/%ld", n, o->events);
            last_report = t;
        }
    }
    double cpu1 = self_cpu_s();
    phase_end(&res->pc, broker_c.pid);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (n < o->events)
        return -1;
    res->join_s = t_first - t0;
    res->net_s = t_last - t_first;
    res->gross_s = t_last - t0;
    res->cpu_s = cpu1 - cpu0;
    return 0;
}

struct vigild_result {
    double join_s, net_s, gross_s, cpu_s, cpu_total_s;
    long net_events; /* events committed between the first commit seen and the last */
    long long redis_cmds, redis_writes;
    double redis_cpu_s;
    /* From vigild's last status line (at shutdown): each durable flush is at most one
     * pipelined Redis round trip. -1 when the line was not found. */
    long long flushes, orders, alerts, dead;
    int exit_status;
    struct phase_cpu pc; /* from the first commit seen to the last */
};

/* Sum of the committed offsets over all partitions (an unset one counts 0), or -1. */
static long committed_sum(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (rd_kafka_committed(rk, parts, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    long sum = 0;
    for (int i = 0; i < parts->cnt; i++) {
        if (parts->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && parts->elems[i].offset > 0)
            sum += (long)parts->elems[i].offset;
    }
    return sum;
}

static int run_vigild(const struct opts *o, const char *bootstrap, int redis_port,
                      struct vigild_result *res)
{
    char group[64], commit[64];
    snprintf(group, sizeof group, "bench-%d", (int)getpid());
    snprintf(commit, sizeof commit, "kafka.commit_interval_ms=%ld", o->commit_ms);

    const char *props[] = {"bootstrap.servers", bootstrap, "group.id", group,
                           "client.id", "bench-offsets", NULL};
    rd_kafka_t *rk = bench_kafka_new(RD_KAFKA_CONSUMER, props);
    if (!rk)
        return -1;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)o->partitions);
    for (int32_t p = 0; p < o->partitions; p++)
        rd_kafka_topic_partition_list_add(parts, BENCH_EVENTS_TOPIC, p);

    long long cmds0 = 0, writes0 = 0, cmds1 = 0, writes1 = 0;
    if (redis_stats(redis_port, &cmds0, &writes0) != 0) {
        bench_say("cannot read Redis INFO stats");
        goto fail;
    }
    double redis_cpu0 = bench_proc_cpu_s(redis_c.pid);
    const char *sets[1 + 16] = {commit};
    int n_sets = 1;
    for (int i = 0; i < o->n_sets; i++)
        sets[n_sets++] = o->sets[i];
    double t0 = bench_now_s();
    if (bench_start_vigild(&vigild_c, o->bin_dir, bootstrap, redis_port, group, o->workers, sets,
                           n_sets) != 0)
        goto fail;
    bench_say("vigild started, pid %d", (int)vigild_c.pid);
    double t_first = 0, t_done = 0, cpu_done = 0, last_report = t0;
    long c_first = 0, c = 0;
    while (!bench_stop) {
        bench_sleep_ms(100);
        if (bench_child_reap(&vigild_c, false)) {
            bench_say("vigild exited early with status %d", vigild_c.status);
            bench_child_dump_log(&vigild_c, 20);
            goto fail;
        }
        c = committed_sum(rk, parts);
        double t = bench_now_s();
        if (c > 0 && t_first == 0) {
            t_first = t;
            c_first = c;
            phase_begin(&res->pc, broker_c.pid);
        }
        if (c >= o->events) {
            t_done = t;
            cpu_done = bench_proc_cpu_s(vigild_c.pid);
            phase_end(&res->pc, broker_c.pid);
            break;
        }
        if (t - t0 > o->timeout_s) {
            bench_say("vigild committed %ld of %ld messages in %ld s: giving up", c, o->events,
                      o->timeout_s);
            bench_child_dump_log(&vigild_c, 20);
            goto fail;
        }
        if (t - last_report > 2.0) {
            bench_say("vigild: committed %ld/%ld", c < 0 ? 0 : c, o->events);
            last_report = t;
        }
    }
    if (bench_stop)
        goto fail;
    if (redis_stats(redis_port, &cmds1, &writes1) != 0) {
        bench_say("cannot read Redis INFO stats");
        goto fail;
    }
    res->redis_cpu_s = bench_proc_cpu_s(redis_c.pid) - redis_cpu0;
    /* Our first INFO is counted in the second one's totals (one command, one write). */
    res->redis_cmds = cmds1 - cmds0 - 1;
    res->redis_writes = writes1 - writes0 - 1;
    res->join_s = t_first - t0;
    res->gross_s = t_done - t0;
    res->net_s = t_done - t_first;
    res->net_events = o->events - c_first;
    res->cpu_s = cpu_done;
    res->exit_status = bench_child_stop(&vigild_c, 15000);
    res->cpu_total_s = (double)vigild_c.ru.ru_utime.tv_sec + vigild_c.ru.ru_utime.tv_usec * 1e-6 +
                       (double)vigild_c.ru.ru_stime.tv_sec + vigild_c.ru.ru_stime.tv_usec * 1e-6;
    struct bench_vigild_status vs;
    bench_vigild_status(vigild_c.log, &vs);
    res->flushes = vs.flushes;
    res->orders = vs.orders;
    res->alerts = vs.alerts;
    res->dead = vs.dead;
    if (res->exit_status != 0) {
        bench_say("vigild exited with status %d after SIGTERM", res->exit_status);
        bench_child_dump_log(&vigild_c, 20);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
fail:
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return -1;
}

/* ---- main ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct opts o = {.redis_server = "redis-server", .events = 1000000, .accounts = 10000,
                     .partitions = 96, .workers = 2, .timeout_s = 90, .commit_ms = 100};
    bench_init("bench_e2e");
    bench_self_dir(o.bin_dir, sizeof o.bin_dir);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *dst = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--keep-tmp")) {
            o.keep_tmp = true;
            continue;
        } else if (!strcmp(a, "--bin-dir") && v) {
            snprintf(o.bin_dir, sizeof o.bin_dir, "%s", v);
            i++;
            continue;
        } else if (!strcmp(a, "--set") && v) {
            if (o.n_sets == (int)(sizeof o.sets / sizeof o.sets[0])) {
                bench_say("at most %zu --set flags", sizeof o.sets / sizeof o.sets[0]);
                return 2;
            }
            o.sets[o.n_sets++] = v;
            i++;
            continue;
        } else if (!strcmp(a, "--redis-server") && v) {
            o.redis_server = v;
            i++;
            continue;
        } else if (!strcmp(a, "--events")) {
            dst = &o.events;
        } else if (!strcmp(a, "--accounts")) {
            dst = &o.accounts;
        } else if (!strcmp(a, "--partitions")) {
            dst = &o.partitions;
        } else if (!strcmp(a, "--workers")) {
            dst = &o.workers;
        } else if (!strcmp(a, "--timeout-s")) {
            dst = &o.timeout_s;
        } else if (!strcmp(a, "--commit-interval-ms")) {
            dst = &o.commit_ms;
        } else {
            bench_say("unknown flag or missing value: '%s'", a);
            usage(stderr);
            return 2;
        }
        if (bench_parse_long(a, v, dst))
            return 2;
        i++;
    }
    if (o.partitions > BENCH_MAX_PARTS || o.workers > 64 || o.accounts > 100000) {
        bench_say("--partitions at most %d, --workers at most 64, --accounts at most 100000",
                  BENCH_MAX_PARTS);
        return 2;
    }
    if ((double)o.events * 260.0 / (double)o.partitions > 4.0 * 1048576)
        bench_say("warning: ~%.1f MiB per partition is close to the mock broker's ~5 MiB retention",
                  (double)o.events * 260.0 / (double)o.partitions / 1048576.0);

    if (bench_tmp_create() != 0)
        return 1;

    int rc = 1;
    char bootstrap[1024];
    struct bare_result bare = {0};
    struct vigild_result vd = {0};
    int redis_port = -1;
    double produce_s = 0;

    if (bench_start_broker(&broker_c, o.bin_dir, o.partitions, bootstrap, sizeof bootstrap) != 0)
        goto out;
    if (bench_start_redis(&redis_c, o.redis_server, &redis_port) != 0)
        goto out;
    bench_say("broker %s, redis 127.0.0.1:%d, temp dir %s", bootstrap, redis_port,
              bench_tmp_dir());

    bench_say("producing %ld events from vigil-sim (%ld accounts) to %ld partitions", o.events,
              o.accounts, o.partitions);
    if (produce_events(&o, bootstrap, &produce_s) != 0)
        goto out;
    bench_say("produced in %.1f s", produce_s);
    if (check_retention(&o, bootstrap) != 0)
        goto out;

    bench_say("bare consumer");
    if (run_bare(&o, bootstrap, &bare) != 0)
        goto out;
    bench_say("bare consumer: join %.2f s, %ld messages in %.2f s, cpu %.2f s; meanwhile broker "
              "cpu %.2f s, machine idle %.0f%%",
              bare.join_s, o.events, bare.net_s, bare.cpu_s, bare.pc.broker_s,
              100 * bare.pc.idle_share);

    bench_say("vigild --workers %ld", o.workers);
    if (run_vigild(&o, bootstrap, redis_port, &vd) != 0)
        goto out;
    bench_say("vigild: first commit after %.2f s, then %ld messages in %.2f s, cpu %.2f s at the "
              "last commit, %.2f s in all; redis %lld commands, %lld socket writes, cpu %.2f s; "
              "exit %d; %lld durable flushes, %lld orders, %lld alerts, %lld dead letters; "
              "meanwhile broker cpu %.2f s, machine idle %.0f%%",
              vd.join_s, vd.net_events, vd.net_s, vd.cpu_s, vd.cpu_total_s, vd.redis_cmds,
              vd.redis_writes, vd.redis_cpu_s, vd.exit_status, vd.flushes, vd.orders, vd.alerts,
              vd.dead, vd.pc.broker_s, 100 * vd.pc.idle_share);

    double n = (double)o.events;
    double bare_mev = (n - 1) / bare.net_s / 1e6;
    double vd_mev = (double)vd.net_events / vd.net_s / 1e6;
    double bare_gross = n / bare.gross_s / 1e6, vd_gross = n / vd.gross_s / 1e6;
    double bare_cpu = bare.cpu_s / n * 1e6, vd_cpu = vd.cpu_s / n * 1e6;
    printf("bench_e2e events=%ld partitions=%ld workers=%ld bare_mev_s=%.3f vigild_mev_s=%.3f"
           " ratio=%.2f bare_cpu_s_per_mev=%.2f vigild_cpu_s_per_mev=%.2f cpu_ratio=%.2f"
           " bare_join_s=%.2f vigild_join_s=%.2f bare_gross_mev_s=%.3f vigild_gross_mev_s=%.3f"
           " gross_ratio=%.2f redis_cmds_per_1k=%.1f redis_rtt_per_100=%.3f"
           " redis_cpu_s_per_mev=%.2f orders=%lld alerts=%lld dead=%lld\n",
           o.events, o.partitions, o.workers, bare_mev, vd_mev, vd_mev / bare_mev, bare_cpu,
           vd_cpu, vd_cpu / bare_cpu, bare.join_s, vd.join_s, bare_gross, vd_gross,
           vd_gross / bare_gross, (double)vd.redis_cmds * 1000.0 / n,
           vd.flushes >= 0 ? (double)vd.flushes * 100.0 / n : -1.0, vd.redis_cpu_s / n * 1e6,
           vd.orders, vd.alerts, vd.dead);
    fflush(stdout);
    rc = vd.exit_status == 0 ? 0 : 1;
out:
    if (bench_stop)
        bench_say("interrupted");
    bench_cleanup(o.keep_tmp);
    return rc;
}
