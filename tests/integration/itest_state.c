/* SPDX-License-Identifier: Apache-2.0 */
/* itest_state.c - state that survives: the same simulated stream through vigild once without
 * trouble (the reference) and once with vigild killed (-9) mid-stream, or with a member joining
 * and another killed, must leave the same counters in Redis, catch the attack whose events
 * straddle the crash, and never issue a second order (a distinct order_id) for an abuse
 * already ordered. Real redis-server, vigil-broker and vigild processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define MAX_LINES 40000
#define MAX_KEYS 4096

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;

/* The simulated stream: JSON lines in event-time order, and the account of each. */
static char *stream_text;
static char *lines[MAX_LINES];
static char accounts[MAX_LINES][72];
static size_t n_lines;
static size_t split_at; /* the middle of fraud-toll-1's calls */

/* vigil-sim: background accounts and attacks of every detector, two hours of event time;
 * the crash comes late (in the toll attack at 95 minutes), when most accounts have events in
 * the last hour on both sides of it. */
static void make_stream(void)
{
    char path[4200], cmd[8600];
    snprintf(path, sizeof path, "%s/state-stream.jsonl", harness_tmpdir());
    snprintf(cmd, sizeof cmd,
             "%s --out %s --quiet --seed 11 --accounts 150 --duration 120 "
             "--scenario toll_concurrent@95 --scenario sms_blast@55 --scenario toll_velocity@70 "
             "--scenario premium_out@80 --scenario pumping@30",
             harness_bin("vigil-sim"), path);
    assert_int_equal(system(cmd), 0);
    stream_text = harness_read_file(path, NULL);
    assert_non_null(stream_text);
    size_t toll_seen = 0, toll_total = 0;
    for (char *s = stream_text, *nl; *s && n_lines < MAX_LINES; s = nl + 1) {
        nl = strchr(s, '\n');
        assert_non_null(nl);
        *nl = '\0';
        lines[n_lines] = s;
        assert_true(harness_json_str(s, "account", accounts[n_lines], sizeof accounts[0]) > 0);
        if (strcmp(accounts[n_lines], "fraud-toll-1") == 0)
            toll_total++;
        n_lines++;
    }
    assert_true(toll_total >= 12);
    for (size_t i = 0; i < n_lines; i++) {
        if (strcmp(accounts[i], "fraud-toll-1") == 0 && ++toll_seen == toll_total / 2) {
            split_at = i + 1;
            break;
        }
    }
    assert_true(split_at > 0 && split_at < n_lines);
}

/* Produces lines [from, to) to topic, paced (about 20 k events/s) so vigild is busy with
 * them while they arrive. */
static void produce(const char *topic, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        assert_int_equal(harness_producer_send(prod, topic, -1, accounts[i], lines[i],
                                               strlen(lines[i])),
                         0);
        if ((i - from) % 500 == 499)
            harness_sleep_ms(25);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
}

/* Ends the stream on every partition of topic with one SMS of an account of its own at the
 * stream's last event time. A vigild's clock is the newest event time of the partitions it
 * owns, so without this two members sharing the partitions judge the last hour's windows at
 * other watermarks than the one reference process owning them all, and the counters that
 * slide with the watermark (sms_1h and the like) differ for reasons that are not the crash. */
static void produce_clock_tail(const char *topic)
{
    long long last = 0;
    assert_int_equal(harness_json_int(lines[n_lines - 1], "ts", &last), 0);
    int parts = harness_topic_partitions(broker.bootstrap, topic);
    assert_true(parts > 0);
    for (int p = 0; p < parts; p++) {
        char acc[32], ev[256];
        snprintf(acc, sizeof acc, "clock-%d", p);
        int n = snprintf(ev, sizeof ev,
                         "{\"v\":1,\"type\":\"sms\",\"id\":\"clock-%d\",\"ts\":%lld,"
                         "\"account\":\"%s\",\"from\":\"+31612345678\","
                         "\"to\":\"+31687654321\"}",
                         p, last, acc);
        assert_int_equal(harness_producer_send(prod, topic, p, acc, ev, (size_t)n), 0);
    }
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
}

static void start_with(struct harness_proc *p, const char *group, const char *prefix,
                       const char *ns, const char *extra)
{
    char topic[64], orders[64], alerts[64], dlq[64], pfx[64];
    snprintf(topic, sizeof topic, "kafka.events_topic=%s.events", ns);
    snprintf(orders, sizeof orders, "kafka.orders_topic=%s.orders", ns);
    snprintf(alerts, sizeof alerts, "kafka.alerts_topic=%s.alerts", ns);
    snprintf(dlq, sizeof dlq, "kafka.dlq_topic=%s.dlq", ns);
    snprintf(pfx, sizeof pfx, "redis.prefix=%s", prefix);
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", group, "--workers", "2",
                          "--set", "kafka.session_timeout_ms=6000",
                          "--set", "kafka.heartbeat_interval_ms=500",
                          "--set", topic, "--set", orders, "--set", alerts, "--set", dlq,
                          "--set", pfx, "--set", extra ? extra : "vigild.checkpoint=1", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

static void start(struct harness_proc *p, const char *group, const char *prefix, const char *ns)
{
    start_with(p, group, prefix, ns, NULL);
}

/* Produces the first part of the stream to a vigild that has joined and is working: a third
 * of it, then (once some is committed) the rest up to the split, after which the caller
 * kills it while it still has the tail of that part in hand. */
static void produce_first_part(const char *group, const char *topic)
{
    /* The first third committed in full before the rest (commits follow the counter
     * publish, every few seconds), so the crash after it falls between a commit that covers
     * real windows and the events after it: what a restart without checkpoints loses. */
    int64_t third = (int64_t)(split_at / 3);
    produce(topic, 0, split_at / 3);
    for (int tries = 0;
         tries < 300 && harness_committed_sum(broker.bootstrap, group, topic) < third; tries++)
        harness_sleep_ms(100);
    assert_true(harness_committed_sum(broker.bootstrap, group, topic) >= third);
    produce(topic, split_at / 3, split_at);
}

/* Waits until group has committed every one of `want` events of topic. */
static void wait_committed(const char *group, const char *topic, int64_t want)
{
    int64_t sum = 0;
    for (int tries = 0; tries < 600; tries++) {
        sum = harness_committed_sum(broker.bootstrap, group, topic);
        if (sum == want)
            return;
        harness_sleep_ms(100);
    }
    fail_msg("group %s committed %lld of %lld events of %s", group, (long long)sum,
             (long long)want, topic);
}

/* Produces the rest of the stream from line `from`, the clock tail after it, and waits until
 * group has committed all of it. */
static void finish_stream(const char *group, const char *topic, size_t from)
{
    produce(topic, from, n_lines);
    produce_clock_tail(topic);
    wait_committed(group, topic,
                   (int64_t)n_lines + harness_topic_partitions(broker.bootstrap, topic));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Counters that sample a gauge at tick time rather than count events: when a tick happens
 * (every few hundred ms of wall time, or when a worker's queue runs dry) decides which value
 * was published last, so two runs differ there with or without a crash. Everything else is a
 * function of the events and must be equal. */
static bool sampled_at_tick(const char *field)
{
    static const char *const gauges[] = {
        "longest_open_min", "connected_min_24h", /* continuous: minutes up to the watermark */
        "devices_open",                          /* fair_use: first published at two */
        "sms_15m", "segments_15m", "recipients_15m", /* bulk_sms: slides with the watermark */
        "high_risk_calls_15m",                       /* toll_fraud: likewise */
        /* premium: the hour up to the later of the account's last event and the watermark,
         * so an account loaded from a checkpoint and published again at the next tick (at a
         * later watermark than its last publish in the reference run) may count fewer */
        "premium_calls_1h", "premium_minutes_1h", "inbound_calls_1h", "inbound_callers_1h",
        "updated_ms",                                /* a wall clock */
    };
    const char *colon = strchr(field, ':'); /* "<detector>:<counter>" */
    if (colon)
        field = colon + 1;
    for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++) {
        if (strcmp(field, gauges[i]) == 0)
            return true;
    }
    return false;
}

/* Every counter hash under prefix, as "key field=value ..." lines with the prefix cut, the
 * fields in name order (one hash holds every detector's, in the order they were first
 * written) and those sampled at tick time left out (hashes with nothing else are skipped),
 * sorted. */
static size_t counters(const char *prefix, char **out)
{
    redisReply *keys = harness_redis_cmd(&redis, "KEYS %scnt:*", prefix);
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    size_t n = 0;
    assert_true(keys->elements > 0 && keys->elements <= MAX_KEYS);
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *h = harness_redis_cmd(&redis, "HGETALL %s", keys->element[i]->str);
        assert_non_null(h);
        size_t cap = 256 + 64 * h->elements, len = 0;
        char *line = malloc(cap);
        assert_non_null(line);
        len += (size_t)snprintf(line, cap, "%s", keys->element[i]->str + strlen(prefix));
        size_t head = len;
        const char **names = calloc(h->elements / 2 + 1, sizeof *names);
        assert_non_null(names);
        size_t nf = 0;
        for (size_t j = 0; j + 1 < h->elements; j += 2)
            names[nf++] = h->element[j]->str;
        qsort(names, nf, sizeof *names, cmp_str);
        for (size_t k = 0; k < nf; k++) {
            if (sampled_at_tick(names[k]))
                continue;
            for (size_t j = 0; j + 1 < h->elements; j += 2) {
                if (h->element[j]->str == names[k])
                    len += (size_t)snprintf(line + len, cap - len, " %s=%s", names[k],
                                            h->element[j + 1]->str);
            }
        }
        free(names);
        freeReplyObject(h);
        if (len == head) {
            free(line);
            continue;
        }
        out[n++] = line;
    }
    freeReplyObject(keys);
    qsort(out, n, sizeof *out, cmp_str);
    return n;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

/* How many counter hashes under prefix differ from the reference run's (shown on stderr
 * when `show`, the first ten). */
static size_t counter_diffs(const char *prefix, bool show)
{
    static char *ref[MAX_KEYS], *got[MAX_KEYS];
    size_t nr = counters("ref:", ref), ng = counters(prefix, got);
    assert_true(nr >= 100); /* the comparison covers the background accounts */
    size_t diffs = 0;
    for (size_t i = 0, j = 0; i < nr || j < ng;) {
        int c = i == nr ? 1 : j == ng ? -1 : strcmp(ref[i], got[j]);
        if (c == 0) {
            i++, j++;
            continue;
        }
        if (show && diffs < 10)
            fprintf(stderr, "%s %s\n", c < 0 ? "reference only:" : "after crash only:",
                    c < 0 ? ref[i] : got[j]);
        diffs++;
        if (c < 0)
            i++;
        else
            j++;
    }
    free_lines(ref, nr);
    free_lines(got, ng);
    return diffs;
}

static void assert_counters_equal(const char *prefix)
{
    HARNESS_ASSERT(counter_diffs(prefix, true) == 0);
}

/* Orders of topic: (account, action, detector) -> order_id, one id each; returns how many
 * distinct (account, action, detector) there are and fails on a second id for one. */
struct order_key {
    char what[192];
    char id[64];
};

static size_t orders(const char *topic, struct order_key *keys, size_t max)
{
    struct harness_msg *m = NULL;
    ssize_t n = harness_consume_all(broker.bootstrap, topic, 3000, 0, &m);
    assert_true(n > 0);
    size_t k = 0;
    for (ssize_t i = 0; i < n; i++) {
        char acc[72], action[32], det[32], id[64], what[192];
        assert_true(harness_json_str(m[i].value, "account", acc, sizeof acc) > 0);
        assert_true(harness_json_str(m[i].value, "action", action, sizeof action) > 0);
        assert_true(harness_json_str(m[i].value, "detector", det, sizeof det) > 0);
        assert_true(harness_json_str(m[i].value, "order_id", id, sizeof id) > 0);
        snprintf(what, sizeof what, "%s %s %s", acc, action, det);
        size_t j = 0;
        while (j < k && strcmp(keys[j].what, what) != 0)
            j++;
        if (j < k) {
            if (strcmp(keys[j].id, id) != 0)
                fail_msg("second order for %s: %s after %s", what, id, keys[j].id);
            continue; /* the same order again (at-least-once): same id */
        }
        assert_true(k < max);
        snprintf(keys[k].what, sizeof keys[k].what, "%s", what);
        snprintf(keys[k].id, sizeof keys[k].id, "%s", id);
        k++;
    }
    harness_msgs_free(m, (size_t)n);
    return k;
}

/* Same abuse ordered as in the reference, once each, the straddling attack included. */
static void assert_orders_match(const char *ns)
{
    static struct order_key ref[256], got[256];
    char topic[64];
    size_t nr = orders("ref.orders", ref, 256);
    snprintf(topic, sizeof topic, "%s.orders", ns);
    size_t ng = orders(topic, got, 256);
    bool toll = false;
    for (size_t i = 0; i < nr; i++) {
        size_t j = 0;
        while (j < ng && strcmp(ref[i].what, got[j].what) != 0)
            j++;
        if (j == ng)
            fail_msg("the reference ordered %s, the crashed run did not", ref[i].what);
        toll = toll || strncmp(ref[i].what, "fraud-toll-1 ", 13) == 0;
    }
    assert_true(toll);
    assert_int_equal(ng, nr);
}

/* The reference: the whole stream, one vigild, no trouble. */
static void run_reference(void)
{
    static bool done;
    if (done)
        return;
    struct harness_proc ref;
    start(&ref, "g-ref", "ref:", "ref");
    finish_stream("g-ref", "ref.events", 0);
    assert_int_equal(harness_proc_stop(&ref, 10000), 0);
    done = true;
}

static void test_kill9_mid_stream(void **state)
{
    (void)state;
    run_reference();
    struct harness_proc a;
    start(&a, "g-crash", "crash:", "crash");
    /* vigild is busy with the first part when it dies; the second part (the rest of the
     * toll attack among it) comes after the restart. */
    produce_first_part("g-crash", "crash.events");
    harness_proc_kill9(&a);
    start(&a, "g-crash", "crash:", "crash");
    finish_stream("g-crash", "crash.events", split_at);
    assert_int_equal(harness_proc_stop(&a, 10000), 0);

    char *log = harness_read_file(a.err_path, NULL);
    assert_non_null(log);
    HARNESS_ASSERT(strstr(log, "loaded ") != NULL);
    free(log);
    assert_counters_equal("crash:");
    assert_orders_match("crash");
}

/* The control: the same crash without checkpoints loses the windows of the first part, so
 * the counters differ (the comparison above can fail) and the straddling attack goes
 * unseen or is ordered again. */
static void test_kill9_without_checkpoints_differs(void **state)
{
    (void)state;
    run_reference();
    struct harness_proc a;
    start_with(&a, "g-nock", "nock:", "nock", "vigild.checkpoint=0");
    produce_first_part("g-nock", "nock.events");
    harness_proc_kill9(&a);
    start_with(&a, "g-nock", "nock:", "nock", "vigild.checkpoint=0");
    finish_stream("g-nock", "nock.events", split_at);
    assert_int_equal(harness_proc_stop(&a, 10000), 0);
    size_t diffs = counter_diffs("nock:", false);
    fprintf(stderr, "without checkpoints: %zu counter hashes differ from the reference\n", diffs);
    HARNESS_ASSERT(diffs > 0);
}

/* Two members, a third joins, then one is killed: partitions move twice mid-stream. */
static void test_join_then_kill(void **state)
{
    (void)state;
    run_reference();
    struct harness_proc a, b, c;
    start(&a, "g-move", "move:", "move");
    start(&b, "g-move", "move:", "move");
    produce("move.events", 0, n_lines / 3);
    start(&c, "g-move", "move:", "move");
    produce("move.events", n_lines / 3, split_at > n_lines / 3 ? split_at : 2 * n_lines / 3);
    harness_proc_kill9(&a);
    finish_stream("g-move", "move.events", split_at > n_lines / 3 ? split_at : 2 * n_lines / 3);
    assert_int_equal(harness_proc_stop(&b, 10000), 0);
    assert_int_equal(harness_proc_stop(&c, 10000), 0);
    assert_counters_equal("move:");
    assert_orders_match("move");
}

/* kill -9 once everything is committed, a restart, and the exporter sends the whole stream
 * again (at-least-once delivery: the same ids at new offsets): the repeats are recognised
 * from the ids that travelled with the checkpoint, so every counter is as after one
 * delivery and no order is issued twice. Without them the second delivery counts again. */
static void test_kill9_then_redelivered(void **state)
{
    (void)state;
    run_reference();
    struct harness_proc a;
    start(&a, "g-again", "again:", "again");
    finish_stream("g-again", "again.events", 0);
    harness_proc_kill9(&a);
    start(&a, "g-again", "again:", "again");
    produce("again.events", 0, n_lines);
    produce_clock_tail("again.events");
    wait_committed("g-again", "again.events",
                   2 * ((int64_t)n_lines + harness_topic_partitions(broker.bootstrap,
                                                                    "again.events")));
    assert_int_equal(harness_proc_stop(&a, 10000), 0);
    char *log = harness_read_file(a.err_path, NULL);
    assert_non_null(log);
    HARNESS_ASSERT(strstr(log, "recent event ids") != NULL);
    free(log);
    assert_counters_equal("again:");
    assert_orders_match("again");
}

static int setup(void **state)
{
    (void)state;
    const char *topics[] = {"--topic", "ref.events:4", "--topic", "crash.events:4",
                            "--topic", "move.events:4", "--topic", "nock.events:4",
                            "--topic", "nock.orders:1", "--topic", "ref.orders:1",
                            "--topic", "crash.orders:1", "--topic", "move.orders:1",
                            "--topic", "again.events:4", "--topic", "again.orders:1", NULL};
    if (harness_stack_start(&redis, 0, &broker, topics, &prod) != 0)
        return -1;
    make_stream();
    return 0;
}

static int teardown(void **state)
{
    free(stream_text);
    return harness_stack_stop(state, &redis, &broker, &prod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_mid_stream),
        cmocka_unit_test(test_kill9_without_checkpoints_differs),
        cmocka_unit_test(test_join_then_kill),
        cmocka_unit_test(test_kill9_then_redelivered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
