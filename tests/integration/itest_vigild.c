/* SPDX-License-Identifier: Apache-2.0 */
/* itest_vigild.c - vigild end to end: real vigil-broker, real redis-server, real vigild.
 *
 * Events go in through a real Kafka producer; orders, alerts and dead letters are read back
 * from their topics, block state and counters from Redis, committed offsets from the group
 * coordinator. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* Monday 2026-11-02 10:00 Amsterdam: office hours, so the daytime thresholds apply (at night
 * and at weekends concurrency already blocks at 5). */
#define T0 1793610000000LL

struct env {
    struct harness_redis redis;
    struct harness_broker broker;
    struct harness_producer *prod;
};

static struct env E;

static int setup(void **state)
{
    memset(&E, 0, sizeof E);
    return harness_stack_start(&E.redis, 0, &E.broker, NULL, &E.prod);
}

static int teardown(void **state)
{
    return harness_stack_stop(state, &E.redis, &E.broker, &E.prod);
}

static void send_event(const char *account, const char *json)
{
    harness_send_event(E.prod, account, json);
}

static void call_start(const char *account, int i, int64_t ts, const char *to)
{
    harness_call_start(E.prod, account, i, ts, to, "pbx/trunk1");
}

static void call_end(const char *account, int i, int64_t ts, const char *to, int duration)
{
    harness_call_end(E.prod, account, i, ts, to, duration);
}

/* A hacked PBX: n parallel calls to Cuba and satellite numbers, 5 s apart. Returns the ts of
 * the 8th call (the one that completes the pattern). */
static int64_t toll_burst(const char *account, int n, int64_t t0)
{
    static const char *dest[] = {"+5351234567", "+8816123456", "+5352345678", "+252612345678"};
    int64_t eighth = 0;
    for (int i = 0; i < n; i++) {
        int64_t ts = t0 + i * 5000;
        call_start(account, i, ts, dest[i % 4]);
        if (i == 7)
            eighth = ts;
    }
    return eighth;
}

/* Ordinary traffic: domestic calls that start and end, never overlapping much. */
static void background(const char *account, int n, int64_t t0)
{
    for (int i = 0; i < n; i++) {
        call_start(account, 100 + i, t0 + i * 60000, "+31207654321");
        call_end(account, 100 + i, t0 + i * 60000 + 45000, "+31207654321", 45);
    }
}

static void start_vigild(struct harness_proc *p, const char *group)
{
    const char *argv[] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap, "--redis",
                          E.redis.addr, "--group", group, "--workers", "2",
                          /* these tests count block orders: no interim invoices beside them */
                          "--set", "credit.interim_on_critical=0",
                          "--set", "kafka.session_timeout_ms=6000",
                          "--set", "kafka.heartbeat_interval_ms=500", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

static void test_burst_gives_one_order(void **state)
{
    background("acc-normal", 10, T0);
    int64_t eighth = toll_burst("acc-fraud", 12, T0 + 60000);
    background("acc-normal2", 10, T0 + 30000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);

    struct harness_proc vd;
    start_vigild(&vd, "g-burst");
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-fraud", 30000));

    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(E.broker.bootstrap, "vigil.orders", 3000, 2, &orders);
    HARNESS_ASSERT(n == 1);
    const char *o = orders[0].value;
    char buf[256];
    long long v;
    assert_string_equal(orders[0].key, "acc-fraud");
    assert_int_equal(harness_json_int(o, "v", &v), 0);
    assert_int_equal(v, 1);
    assert_true(harness_json_str(o, "action", buf, sizeof buf) > 0);
    assert_string_equal(buf, "block_international");
    assert_true(harness_json_str(o, "detector", buf, sizeof buf) > 0);
    assert_string_equal(buf, "toll_fraud");
    assert_true(harness_json_str(o, "rule", buf, sizeof buf) > 0);
    assert_string_equal(buf, "toll_fraud.concurrent_high_risk");
    assert_true(harness_json_str(o, "severity", buf, sizeof buf) > 0);
    assert_string_equal(buf, "critical");
    assert_true(harness_json_array_has(o, "exempt", "112"));
    assert_int_equal(harness_json_int(o, "event_ts", &v), 0);
    assert_int_equal(v, eighth);
    char order_id[64];
    assert_true(harness_json_str(o, "order_id", order_id, sizeof order_id) > 0);

    /* The block is in Redis where a SIP proxy can ask for it, with a TTL. */
    long long exists = 0;
    assert_int_equal(harness_redis_int(&E.redis, &exists, "HEXISTS vigil:block:acc-fraud %s",
                                       "block_international"),
                     0);
    assert_int_equal(exists, 1);
    assert_true(harness_redis_ttl(&E.redis, "vigil:block:acc-fraud") > 0);
    assert_false(harness_redis_exists(&E.redis, "vigil:block:acc-normal"));

    /* Every order comes with a critical alert naming it. */
    struct harness_msg *alerts = NULL;
    ssize_t na = harness_consume_all(E.broker.bootstrap, "vigil.alerts", 3000, 0, &alerts);
    int critical_with_order = 0;
    for (ssize_t i = 0; i < na; i++) {
        if (harness_json_has(alerts[i].value, "\"severity\":\"critical\"") &&
            harness_json_has(alerts[i].value, order_id))
            critical_with_order++;
        assert_string_equal(alerts[i].key, "acc-fraud");
    }
    assert_int_equal(critical_with_order, 1);

    /* Counters of the detector's window, with a TTL. */
    HARNESS_ASSERT(harness_redis_wait_field(&E.redis, "vigil:cnt:acc-normal",
                                            "toll_fraud:updated_ms", 5000));
    assert_true(harness_redis_ttl(&E.redis, "vigil:cnt:acc-normal") > 0);

    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    harness_msgs_free(orders, (size_t)n);
    harness_msgs_free(alerts, (size_t)na);
}

struct bad {
    const char *key;
    const char *value;
    const char *reason;
};

static void test_bad_input_goes_to_dlq_and_processing_goes_on(void **state)
{
    static const struct bad bad[] = {
        {"acc-x", "this is not json", "json_syntax"},
        {"acc-x", "[1,2,3]", "not_object"},
        {"acc-x",
         "{\"v\":1,\"type\":\"call_start\",\"id\":\"b1\",\"ts\":1795402746539,\"account\":"
         "\"acc-x\",\"from\":\"+31201234567\",\"to\":\"+5351234567\",\"dir\":\"out\"}",
         "missing_field:call_id"},
        {"acc-x",
         "{\"v\":1,\"type\":\"sms\",\"id\":\"b2\",\"ts\":1795402746539,\"account\":\"acc-x\","
         "\"from\":\"+31612345678\",\"to\":\"call me\"}",
         "bad_number:to"},
        {"acc-other",
         "{\"v\":1,\"type\":\"sms\",\"id\":\"b3\",\"ts\":1795402746539,\"account\":\"acc-x\","
         "\"from\":\"+31612345678\",\"to\":\"+31687654321\"}",
         "key_mismatch"},
        {"acc-x",
         "{\"v\":2,\"type\":\"sms\",\"id\":\"b4\",\"ts\":1795402746539,\"account\":\"acc-x\","
         "\"from\":\"+31612345678\",\"to\":\"+31687654321\"}",
         "bad_version"},
        {"acc-x", "{\"v\":1,\"type\":\"fax\",\"id\":\"b5\",\"ts\":1795402746539,\"account\":"
                  "\"acc-x\",\"from\":\"+31612345678\",\"to\":\"+31687654321\"}",
         "bad_type"},
    };
    size_t nbad = sizeof bad / sizeof bad[0];
    for (size_t i = 0; i < nbad; i++)
        send_event(bad[i].key, bad[i].value);
    /* Too large, and not UTF-8 at all. */
    char *big = malloc(5000);
    memset(big, ' ', 5000);
    big[0] = '{';
    big[4999] = '}';
    assert_int_equal(harness_producer_send(E.prod, "vigil.events", -1, "acc-x", big, 5000), 0);
    free(big);
    const char binary[] = "\xff\xfe{\"v\":1}";
    assert_int_equal(harness_producer_send(E.prod, "vigil.events", -1, "acc-x", binary,
                                           sizeof binary - 1),
                     0);
    /* After all that, a real attack must still be caught. */
    toll_burst("acc-after", 9, T0 + 120000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);

    struct harness_proc vd;
    start_vigild(&vd, "g-dlq");
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-after", 30000));

    struct harness_msg *dl = NULL;
    ssize_t n = harness_consume_all(E.broker.bootstrap, "vigil.dlq", 3000, nbad + 3, &dl);
    HARNESS_ASSERT(n == (ssize_t)nbad + 2);
    for (size_t i = 0; i < nbad; i++) {
        bool found = false;
        for (ssize_t j = 0; j < n && !found; j++) {
            char reason[64];
            if (harness_json_str(dl[j].value, "reason", reason, sizeof reason) > 0 &&
                strcmp(reason, bad[i].reason) == 0)
                found = true;
        }
        if (!found)
            fail_msg("no dead letter with reason %s", bad[i].reason);
    }
    bool too_large = false, b64 = false;
    for (ssize_t j = 0; j < n; j++) {
        char reason[64], topic[64];
        long long part, off;
        assert_true(harness_json_str(dl[j].value, "reason", reason, sizeof reason) > 0);
        assert_true(harness_json_str(dl[j].value, "topic", topic, sizeof topic) > 0);
        assert_string_equal(topic, "vigil.events");
        assert_int_equal(harness_json_int(dl[j].value, "partition", &part), 0);
        assert_int_equal(harness_json_int(dl[j].value, "offset", &off), 0);
        if (strcmp(reason, "too_large") == 0) {
            too_large = true;
            char payload[5000];
            assert_int_equal(harness_json_str(dl[j].value, "payload", payload, sizeof payload),
                             4096);
        }
        if (harness_json_has(dl[j].value, "\"payload_b64\":\"//57InYiOjF9\""))
            b64 = true;
    }
    assert_true(too_large);
    assert_true(b64);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    harness_msgs_free(dl, (size_t)n);
}

static void test_sigterm_commits_and_restart_rereads_nothing(void **state)
{
    int64_t t = T0 + 3600000;
    background("acc-quiet", 20, t);
    toll_burst("acc-restart", 10, t);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);

    struct harness_proc vd;
    start_vigild(&vd, "g-restart");
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-restart", 30000));
    harness_sleep_ms(500);
    int64_t t_stop = harness_now_ms();
    int status = harness_proc_stop(&vd, 10000);
    assert_int_equal(status, 0);
    assert_true(harness_now_ms() - t_stop < 10000);

    /* Every message of the topic is committed: the group's offsets add up to all of it. */
    int parts = harness_topic_partitions(E.broker.bootstrap, "vigil.events");
    assert_true(parts > 0 && parts <= 64);
    int64_t committed[64];
    assert_int_equal(harness_committed_offsets(E.broker.bootstrap, "g-restart", "vigil.events",
                                               committed, parts),
                     0);
    struct harness_msg *all = NULL;
    ssize_t total = harness_consume_all(E.broker.bootstrap, "vigil.events", 2000, 0, &all);
    int64_t end[64] = {0};
    for (ssize_t i = 0; i < total; i++)
        end[all[i].partition] = all[i].offset + 1;
    for (int p = 0; p < parts; p++)
        assert_int_equal(committed[p] < 0 ? 0 : committed[p], end[p]);
    harness_msgs_free(all, (size_t)total);

    /* A restarted vigild in the same group reads nothing again: no second order. */
    struct harness_msg *orders = NULL;
    ssize_t before = harness_consume_all(E.broker.bootstrap, "vigil.orders", 2000, 0, &orders);
    harness_msgs_free(orders, (size_t)(before > 0 ? before : 0));
    struct harness_proc vd2;
    start_vigild(&vd2, "g-restart");
    harness_sleep_ms(8000); /* group join (~3 s) and then some */
    assert_int_equal(harness_proc_stop(&vd2, 10000), 0);
    ssize_t after = harness_consume_all(E.broker.bootstrap, "vigil.orders", 2000, 0, &orders);
    assert_int_equal(after, before);
    harness_msgs_free(orders, (size_t)(after > 0 ? after : 0));
    char *log = harness_read_file(vd2.err_path, NULL);
    assert_non_null(log);
    assert_true(harness_json_has(log, "status: 0 read"));
    free(log);
}

/* At-least-once delivery: every event sent twice counts once. */
static void test_every_event_twice_counts_once(void **state)
{
    for (int copy = 0; copy < 2; copy++) {
        background("acc-twice", 10, T0);
        toll_burst("acc-twice-fraud", 9, T0 + 60000);
    }
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    struct harness_proc vd;
    start_vigild(&vd, "g-twice");
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-twice-fraud", 30000));
    HARNESS_ASSERT(harness_redis_wait_field(&E.redis, "vigil:cnt:acc-twice",
                                            "toll_fraud:calls_out_1h", 10000));
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    long long calls = -1, minutes = -1;
    assert_int_equal(harness_redis_int(&E.redis, &calls, "HGET %s toll_fraud:calls_out_1h",
                                       "vigil:cnt:acc-twice"),
                     0);
    assert_int_equal(harness_redis_int(&E.redis, &minutes, "HGET %s toll_fraud:minutes_out_1h",
                                       "vigil:cnt:acc-twice"),
                     0);
    assert_int_equal(calls, 10);  /* ten calls, each sent twice */
    assert_int_equal(minutes, 7); /* 10 x 45 s, whole minutes */
    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(E.broker.bootstrap, "vigil.orders", 2000, 2, &orders);
    assert_int_equal(n, 1);
    harness_msgs_free(orders, (size_t)n);
    char *log = harness_read_file(vd.err_path, NULL);
    /* The 20 background events and the 9 call starts of the burst, once each. */
    assert_non_null(strstr(log, "29 repeats dropped"));
    free(log);
}

/* An SMS of `account` at ts, to partition p of vigil.events. */
static void sms_to(int32_t p, const char *account, int i, int64_t ts)
{
    char json[512];
    int n = snprintf(json, sizeof json,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s-m%d\",\"ts\":%lld,"
                     "\"account\":\"%s\",\"from\":\"+31612345678\",\"to\":\"+3161%07d\"}",
                     account, i, (long long)ts, account, i);
    assert_int_equal(harness_producer_send(E.prod, "vigil.events", p, account, json, (size_t)n), 0);
}

/* Waits until group has committed `want` events of vigil.events (30 s at most). */
static void wait_committed(const char *group, int64_t want)
{
    int64_t done = 0;
    for (int tries = 0; tries < 300 && (done = harness_committed_sum(E.broker.bootstrap, group,
                                                                     "vigil.events")) < want;
         tries++)
        harness_sleep_ms(100);
    assert_int_equal(done, want);
}

/* A partition that delivers its events hours of event time after another one has (a backlog
 * handed over by a rebalance, or an exporter that fell behind): its accounts' windows are
 * counted as the events say, and once vigild has caught up they expire at the watermark the
 * other partition set, although that watermark does not move again. */
static void test_backlog_partition_expires_at_the_watermark(void **state)
{
    (void)state;
    const char *argv[] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap, "--redis",
                          E.redis.addr, "--group", "g-backlog", "--workers", "1", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    for (int i = 0; i <= 18; i++) /* three hours, one SMS every ten minutes */
        sms_to(0, "acc-ahead", i, T0 + i * 600000LL);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    wait_committed("g-backlog", 19);
    harness_sleep_ms(1000); /* idle ticks at the watermark: three hours in, less a minute */
    for (int i = 0; i < 3; i++)
        sms_to(1, "acc-behind", i, T0 + 600000LL + i * 60000LL);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    wait_committed("g-backlog", 22);
    const char *key = "vigil:cnt:acc-behind";
    HARNESS_ASSERT(harness_redis_wait_field(&E.redis, key, "bulk_sms:sms_1h", 10000));
    long long sms = -1;
    for (int tries = 0; tries < 150; tries++) {
        assert_int_equal(harness_redis_int(&E.redis, &sms, "HGET %s bulk_sms:sms_1h", key), 0);
        if (sms == 0)
            break;
        harness_sleep_ms(100);
    }
    assert_int_equal(sms, 0); /* not left at 3: the hour is long over at the watermark */
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
}

/* An operator lifts the block; when the abuse resumes, vigild orders again. */
static void test_lift_then_resumed_abuse_orders_again(void **state)
{
    toll_burst("acc-lift", 9, T0);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    struct harness_proc vd;
    start_vigild(&vd, "g-lift");
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-lift", 30000));

    const char *lift[] = {harness_bin("vigilctl"), "lift", "--brokers", E.broker.bootstrap,
                          "--redis", E.redis.addr, "acc-lift", "block_international", NULL};
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&p, lift, &o), 0);
    int status = -1;
    assert_true(harness_proc_wait(&p, 20000, &status));
    assert_int_equal(status, 0);
    assert_false(harness_redis_exists(&E.redis, "vigil:block:acc-lift"));
    harness_sleep_ms(2000); /* vigild reads the lift from the orders topic */

    /* The first attack's calls end; later a second one starts. */
    static const char *dest[] = {"+5351234567", "+8816123456", "+5352345678", "+252612345678"};
    for (int i = 0; i < 9; i++)
        call_end("acc-lift", i, T0 + 600000 + i, dest[i % 4], 600);
    for (int i = 0; i < 9; i++)
        call_start("acc-lift", 50 + i, T0 + 1200000 + i * 5000, dest[i % 4]);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-lift", 30000));

    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(E.broker.bootstrap, "vigil.orders", 3000, 4, &orders);
    for (ssize_t i = 0; n != 3 && i < n; i++)
        fprintf(stderr, "order: %.300s\n", orders[i].value);
    HARNESS_ASSERT(n == 3); /* order, lift, order */
    char first[64], lifted[64], second[64], action[32];
    assert_true(harness_json_str(orders[0].value, "order_id", first, sizeof first) > 0);
    assert_true(harness_json_str(orders[1].value, "action", action, sizeof action) > 0);
    if (strcmp(action, "lift") != 0)
        for (ssize_t i = 0; i < n; i++)
            fprintf(stderr, "order: %.300s\n", orders[i].value);
    assert_string_equal(action, "lift");
    assert_true(harness_json_str(orders[1].value, "lifts", lifted, sizeof lifted) > 0);
    assert_string_equal(lifted, "block_international");
    assert_true(harness_json_str(orders[2].value, "order_id", second, sizeof second) > 0);
    assert_true(harness_json_str(orders[2].value, "action", action, sizeof action) > 0);
    assert_string_equal(action, "block_international");
    assert_string_not_equal(first, second);
    harness_msgs_free(orders, (size_t)n);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(strstr(log, "operator lifted block_international"));
    free(log);
}

static void test_start_failures_are_one_clear_line(void **state)
{
    /* A number table with a bad row: vigild names the file and the line, and stops. */
    char table[512], table_set[600], table_line[600];
    snprintf(table, sizeof table, "%s/numbering-bad.tsv", harness_tmpdir());
    FILE *f = fopen(table, "w");
    assert_non_null(f);
    fputs("# vigil-numbering 1\n+31\tfixed\t-\t0.02\n+316\tprem\t-\t0.05\n", f);
    assert_int_equal(fclose(f), 0);
    snprintf(table_set, sizeof table_set, "numbering.file=%s", table);
    snprintf(table_line, sizeof table_line, "%s:3: bad type 'prem'", table);
    struct {
        const char *args[12];
        int want;
        const char *needle;
    } cases[] = {
        {{"--brokers", E.broker.bootstrap, "--redis", "127.0.0.1:1", NULL}, 1, "Redis"},
        {{"--brokers", E.broker.bootstrap, "--bogus", NULL}, 2, "--bogus"},
        {{"--redis", E.redis.addr, NULL}, 2, "--brokers"},
        {{"--brokers", E.broker.bootstrap, "--redis", E.redis.addr, "--set",
          "toll_fraud.no_such_key=1", NULL},
         1, "no_such_key"},
        {{"--brokers", E.broker.bootstrap, "--redis", E.redis.addr, "--config",
          "/nonexistent/vigil.conf", NULL},
         1, "/nonexistent/vigil.conf"},
        {{"--brokers", E.broker.bootstrap, "--redis", E.redis.addr, "--set", table_set, NULL},
         1, table_line},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[16] = {harness_bin("vigild")};
        size_t k = 1;
        for (size_t j = 0; cases[i].args[j]; j++)
            argv[k++] = cases[i].args[j];
        argv[k] = NULL;
        struct harness_proc p;
        struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
        assert_int_equal(harness_proc_start(&p, argv, &o), 0);
        int status = -1;
        assert_true(harness_proc_wait(&p, 10000, &status));
        assert_int_equal(status, cases[i].want);
        size_t len = 0;
        char *err = harness_read_file(p.err_path, &len);
        assert_non_null(err);
        /* One line, and it names the problem. */
        assert_true(len > 0 && strchr(err, '\n') == err + len - 1);
        if (!strstr(err, cases[i].needle))
            fail_msg("stderr '%s' does not mention '%s'", err, cases[i].needle);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_gives_one_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_goes_to_dlq_and_processing_goes_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_commits_and_restart_rereads_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_event_twice_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_partition_expires_at_the_watermark, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lift_then_resumed_abuse_orders_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_start_failures_are_one_clear_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
