/* SPDX-License-Identifier: Apache-2.0 */
/* itest_broker.c - integration test of vigil-broker and of the test harness itself
 *
 * Starts real vigil-broker and redis-server processes on loopback: the bootstrap line,
 * the topics and their partition counts, a produce/consume round trip, committed offsets,
 * the control channel, signals and exit codes, and the harness's Redis helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"

/* Topic names in the cluster's full metadata (which never auto-creates anything), as one
 * sorted-by-broker "name:partitions " string: lets a test check "these and only these". */
static int list_topics(const char *bootstrap, char *buf, size_t n, int *count)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md;
    size_t used = 0;

    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_destroy(rk);
        return -1;
    }
    buf[0] = '\0';
    *count = md->topic_cnt;
    for (int i = 0; i < md->topic_cnt; i++) {
        int w = snprintf(buf + used, n - used, "%s:%d ", md->topics[i].topic,
                         md->topics[i].partition_cnt);

        if (w > 0 && (size_t)w < n - used)
            used += (size_t)w;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return 0;
}

static int count_char(const char *s, char c)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == c;
    return n;
}

static void test_bootstrap_first_line(void **state)
{
    struct harness_broker b;
    const char *bs = harness_broker_start(&b, NULL);

    HARNESS_ASSERT(bs != NULL);
    /* Default: 3 brokers, all on loopback. */
    assert_int_equal(count_char(bs, ','), 2);
    for (const char *p = bs; p != NULL; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        assert_memory_equal(p, "127.0.0.1:", 10);
    }
    assert_int_equal(harness_broker_stop(&b), 0);
}

static void test_default_topics(void **state)
{
    struct harness_broker b;
    char topics[1024];
    int count = 0;

    HARNESS_ASSERT(harness_broker_start(&b, NULL) != NULL);
    assert_int_equal(list_topics(b.bootstrap, topics, sizeof(topics), &count), 0);
    assert_int_equal(count, 4);
    assert_int_equal(harness_topic_partitions(b.bootstrap, "vigil.events"), 8);
    assert_int_equal(harness_topic_partitions(b.bootstrap, "vigil.orders"), 1);
    assert_int_equal(harness_topic_partitions(b.bootstrap, "vigil.alerts"), 1);
    assert_int_equal(harness_topic_partitions(b.bootstrap, "vigil.dlq"), 1);
    /* Asking for a missing topic must not create it. */
    assert_int_equal(harness_topic_partitions(b.bootstrap, "no.such.topic"), -1);
    assert_int_equal(list_topics(b.bootstrap, topics, sizeof(topics), &count), 0);
    assert_int_equal(count, 4);
    assert_int_equal(harness_broker_stop(&b), 0);
}

static void test_topic_flag_replaces_defaults(void **state)
{
    const char *args[] = {"--brokers", "1", "--topic", "foo:3", NULL};
    struct harness_broker b;
    char topics[1024];
    int count = 0;

    HARNESS_ASSERT(harness_broker_start(&b, args) != NULL);
    assert_int_equal(count_char(b.bootstrap, ','), 0);
    assert_int_equal(list_topics(b.bootstrap, topics, sizeof(topics), &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(topics, "foo:3 ");
    assert_int_equal(harness_broker_stop(&b), 0);
}

static void test_repeated_topic_flag(void **state)
{
    const char *args[] = {"--brokers=2", "--topic", "a:2", "--topic=b.c_d-e:5", NULL};
    struct harness_broker b;

    HARNESS_ASSERT(harness_broker_start(&b, args) != NULL);
    assert_int_equal(count_char(b.bootstrap, ','), 1);
    assert_int_equal(harness_topic_partitions(b.bootstrap, "a"), 2);
    assert_int_equal(harness_topic_partitions(b.bootstrap, "b.c_d-e"), 5);
    assert_int_equal(harness_topic_partitions(b.bootstrap, "vigil.events"), -1);
    assert_int_equal(harness_broker_stop(&b), 0);
}

static void test_roundtrip(void **state)
{
    enum { N = 200 };
    struct harness_broker b;
    struct harness_producer *p;
    struct harness_msg *msgs = NULL;
    int32_t part_of_key[10];
    bool seen[N + 1] = {false};
    ssize_t got;

    HARNESS_ASSERT(harness_broker_start(&b, NULL) != NULL);
    p = harness_producer_create(b.bootstrap);
    assert_non_null(p);
    for (int i = 0; i < N; i++) {
        char key[32], val[64];

        snprintf(key, sizeof(key), "acct-%d", i % 10);
        snprintf(val, sizeof(val), "{\"v\":1,\"seq\":%d}", i);
        assert_int_equal(harness_producer_send(p, "vigil.events", -1, key, val, strlen(val)), 0);
    }
    assert_int_equal(harness_producer_flush(p, 10000), 0);
    assert_int_equal(harness_producer_destroy(p), 0);
    /* The one-shot helper, with binary data and a NUL inside. */
    assert_int_equal(harness_produce(b.bootstrap, "vigil.events", "bin", "a\0b", 3), 0);

    /* Ask for one more than written: the extra wait proves there are no extras. */
    got = harness_consume_all(b.bootstrap, "vigil.events", 2000, N + 2, &msgs);
    assert_int_equal(got, N + 1);
    for (int i = 0; i < 10; i++)
        part_of_key[i] = -1;
    for (ssize_t i = 0; i < got; i++) {
        const struct harness_msg *m = &msgs[i];
        long long seq;
        int k;

        assert_true(m->partition >= 0 && m->partition < 8);
        assert_true(m->offset >= 0);
        assert_true(i == 0 || msgs[i - 1].partition < m->partition ||
                    msgs[i - 1].offset < m->offset);
        if (strcmp(m->key, "bin") == 0) {
            assert_int_equal(m->value_len, 3);
            assert_memory_equal(m->value, "a\0b", 3);
            assert_false(seen[N]);
            seen[N] = true;
            continue;
        }
        assert_int_equal(sscanf(m->key, "acct-%d", &k), 1);
        assert_int_equal(harness_json_int(m->value, "seq", &seq), 0);
        assert_true(seq >= 0 && seq < N);
        assert_int_equal(seq % 10, k);
        assert_false(seen[seq]);
        seen[seq] = true;
        /* Same key, same partition: what per-account ordering in vigild relies on. */
        if (part_of_key[k] < 0)
            part_of_key[k] = m->partition;
        assert_int_equal(part_of_key[k], m->partition);
    }
    harness_msgs_free(msgs, (size_t)got);

    /* max_msgs stops early. */
    got = harness_consume_all(b.bootstrap, "vigil.events", 5000, 5, &msgs);
    assert_int_equal(got, 5);
    harness_msgs_free(msgs, (size_t)got);

    /* An empty topic: nothing, after the quiet period. */
    got = harness_consume_all(b.bootstrap, "vigil.dlq", 500, 0, &msgs);
    assert_int_equal(got, 0);
    assert_null(msgs);
    assert_int_equal(harness_broker_stop(&b), 0);
}

static void test_committed_offsets(void **state)
{
    const char *args[] = {"--topic", "t:3", NULL};
    struct harness_broker b;
    char errstr[256];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *offs;
    int64_t out[3] = {0, 0, 0};

    HARNESS_ASSERT(harness_broker_start(&b, args) != NULL);

    /* Nothing committed yet. */
    assert_int_equal(harness_committed_offsets(b.bootstrap, "g1", "t", out, 3), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out[i], RD_KAFKA_OFFSET_INVALID);

    /* Commit 5 and 7 for partitions 0 and 2 as group g1, without joining it. */
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", b.bootstrap, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", "g1", errstr, sizeof(errstr));
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    offs = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(offs, "t", 0)->offset = 5;
    rd_kafka_topic_partition_list_add(offs, "t", 2)->offset = 7;
    assert_int_equal(rd_kafka_commit(rk, offs, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(offs);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    assert_int_equal(harness_committed_offsets(b.bootstrap, "g1", "t", out, 3), 0);
    assert_int_equal(out[0], 5);
    assert_int_equal(out[1], RD_KAFKA_OFFSET_INVALID);
    assert_int_equal(out[2], 7);
    /* Another group sees nothing. */
    assert_int_equal(harness_committed_offsets(b.bootstrap, "g2", "t", out, 3), 0);
    assert_int_equal(out[0], RD_KAFKA_OFFSET_INVALID);
    assert_int_equal(harness_broker_stop(&b), 0);
}

static void test_control_channel(void **state)
{
    const char *args[] = {"--brokers", "2", "--topic", "t:2", NULL};
    struct harness_broker b;
    struct harness_producer *p;
    struct harness_msg *msgs = NULL;
    ssize_t got;

    HARNESS_ASSERT(harness_broker_start(&b, args) != NULL);
    assert_int_equal(harness_broker_cmd(&b, "rtt 1 20"), 0);
    assert_int_equal(harness_broker_cmd(&b, "down 2"), 0);
    assert_int_equal(harness_broker_cmd(&b, "up 2"), 0);
    assert_int_equal(harness_broker_cmd(&b, "leader t 0 1"), 0);
    assert_int_equal(harness_broker_cmd(&b, "leader t 1 1"), 0);
    assert_int_equal(harness_broker_cmd(&b, "topic later:4"), 0);
    assert_int_equal(harness_broker_cmd(&b, "rtt 1 0"), 0);
    assert_int_equal(harness_broker_cmd(&b, "bogus"), -1);
    assert_int_equal(harness_broker_cmd(&b, "down 3"), -1); /* only brokers 1 and 2 */
    assert_int_equal(harness_topic_partitions(b.bootstrap, "later"), 4);

    /* A whole-cluster outage: nothing gets through until the brokers are back. */
    assert_int_equal(harness_broker_cmd(&b, "down all"), 0);
    p = harness_producer_create(b.bootstrap);
    assert_non_null(p);
    assert_int_equal(harness_producer_send(p, "t", 0, "k", "during", 6), 0);
    assert_int_equal(harness_producer_flush(p, 1500), -1);
    assert_int_equal(harness_broker_cmd(&b, "up all"), 0);
    assert_int_equal(harness_producer_flush(p, 8000), 0);
    assert_int_equal(harness_producer_destroy(p), 0);

    /* Still serving after all that. */
    assert_int_equal(harness_produce(b.bootstrap, "t", "k", "v", 1), 0);
    got = harness_consume_all(b.bootstrap, "t", 2000, 3, &msgs);
    assert_int_equal(got, 2);
    assert_int_equal(msgs[0].partition, 0); /* sent to partition 0 explicitly */
    assert_string_equal(msgs[0].value, "during");
    assert_string_equal(msgs[1].value, "v");
    harness_msgs_free(msgs, (size_t)got);
    assert_int_equal(harness_broker_stop(&b), 0);
}

/* Stop signals end the broker with status 0, promptly. */
static void stop_with(int sig)
{
    struct harness_broker b;
    int status = -1;
    int64_t t0;

    HARNESS_ASSERT(harness_broker_start(&b, NULL) != NULL);
    t0 = harness_now_ms();
    assert_int_equal(harness_proc_signal(&b.proc, sig), 0);
    HARNESS_ASSERT(harness_proc_wait(&b.proc, 5000, &status));
    assert_int_equal(status, 0);
    assert_true(harness_now_ms() - t0 < 5000);
    assert_int_equal(harness_broker_stop(&b), 0); /* already gone: just closes pipes */
}

static void test_sigterm_exits_0(void **state)
{
    stop_with(SIGTERM);
}

static void test_sigint_exits_0(void **state)
{
    stop_with(SIGINT);
}

/* Runs vigil-broker with args to completion; returns its status, its stderr in err. */
static int run_broker(const char *const args[], char **out, char **err)
{
    const char *argv[16] = {harness_bin("vigil-broker")};
    struct harness_proc p;
    struct harness_proc_opts opts = {.out = HARNESS_OUT_FILE};
    int status = -1;
    int n = 1;

    for (int i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (harness_proc_start(&p, argv, &opts) != 0)
        return -1;
    if (!harness_proc_wait(&p, 5000, &status)) {
        harness_proc_kill9(&p);
        return -1;
    }
    *out = harness_read_file(p.out_path, NULL);
    *err = harness_read_file(p.err_path, NULL);
    return status;
}

static void test_bad_flags(void **state)
{
    static const char *const cases[][4] = {
        {"--bogus", NULL},
        {"--brokers", "0", NULL},
        {"--brokers", "17", NULL},
        {"--brokers", "3x", NULL},
        {"--brokers", NULL},
        {"--topic", "nopartitions", NULL},
        {"--topic", "bad name:3", NULL},
        {"--topic", "t:0", NULL},
        {"--topic", "t:1", "--topic", "t:2"},
        {"positional", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[5] = {cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL};
        char *out = NULL, *err = NULL;
        int status = run_broker(args, &out, &err);

        if (status != 2)
            fprintf(stderr, "case %zu (%s): status %d\n", i, args[0], status);
        assert_int_equal(status, 2);
        /* One clear line on stderr, nothing on stdout (no bootstrap list to misread). */
        assert_non_null(err);
        assert_true(strlen(err) > 10);
        assert_int_equal(count_char(err, '\n'), 1);
        assert_non_null(strstr(err, "vigil-broker:"));
        assert_non_null(out);
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
}

static void test_help(void **state)
{
    const char *args[] = {"--help", NULL};
    char *out = NULL, *err = NULL;

    assert_int_equal(run_broker(args, &out, &err), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "Usage: vigil-broker"));
    assert_non_null(strstr(out, "--brokers"));
    assert_non_null(strstr(out, "--topic"));
    free(out);
    free(err);
}

static void test_redis_basics(void **state)
{
    struct harness_redis r;
    const char *addr = harness_redis_start(&r, 0);
    redisReply *rep;
    char *s;
    long long ttl, n;

    HARNESS_ASSERT(addr != NULL);
    assert_memory_equal(addr, "127.0.0.1:", 10);

    rep = harness_redis_cmd(&r, "SET %s %s", "vigil:test:k", "hello");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    s = harness_redis_get_str(&r, "vigil:test:k");
    assert_non_null(s);
    assert_string_equal(s, "hello");
    free(s);
    assert_null(harness_redis_get_str(&r, "vigil:test:missing"));
    assert_true(harness_redis_exists(&r, "vigil:test:k"));
    assert_false(harness_redis_exists(&r, "vigil:test:missing"));

    assert_int_equal(harness_redis_ttl(&r, "vigil:test:k"), -1);
    assert_int_equal(harness_redis_ttl(&r, "vigil:test:missing"), -2);
    rep = harness_redis_cmd(&r, "EXPIRE %s %d", "vigil:test:k", 100);
    freeReplyObject(rep);
    ttl = harness_redis_ttl(&r, "vigil:test:k");
    assert_true(ttl > 90 && ttl <= 100);

    assert_int_equal(harness_redis_int(&r, &n, "INCRBY %s %d", "vigil:test:c", 41), 0);
    assert_int_equal(n, 41);
    assert_int_equal(harness_redis_int(&r, &n, "GET %s", "vigil:test:c"), 0);
    assert_int_equal(n, 41);
    assert_true(harness_redis_wait_exists(&r, "vigil:test:c", 100));
    assert_false(harness_redis_wait_exists(&r, "vigil:test:none", 100));

    /* Without persistence a restart forgets everything. */
    assert_int_equal(harness_redis_restart(&r), 0);
    assert_false(harness_redis_exists(&r, "vigil:test:k"));
    harness_redis_fini(&r);
    assert_false(harness_proc_running(&r.proc));
}

static void test_redis_persistence(void **state)
{
    struct harness_redis r;
    const char *addr = harness_redis_start(&r, HARNESS_REDIS_PERSIST);
    char port_before[32];
    char *s;
    long long ttl;

    HARNESS_ASSERT(addr != NULL);
    snprintf(port_before, sizeof(port_before), "%s", addr);
    freeReplyObject(harness_redis_cmd(&r, "SET %s %s EX %d", "vigil:block:{A1}", "suspend", 3600));
    freeReplyObject(harness_redis_cmd(&r, "SET %s %s", "plain", "x"));

    /* Graceful stop and start: same address, data and TTL back. */
    assert_int_equal(harness_redis_restart(&r), 0);
    assert_string_equal(r.addr, port_before);
    s = harness_redis_get_str(&r, "vigil:block:{A1}");
    assert_non_null(s);
    assert_string_equal(s, "suspend");
    free(s);
    ttl = harness_redis_ttl(&r, "vigil:block:{A1}");
    assert_true(ttl > 3500 && ttl <= 3600);

    /* A crash: with appendfsync always, the last write is there too. */
    freeReplyObject(harness_redis_cmd(&r, "SET %s %s", "after", "y"));
    harness_redis_kill(&r);
    assert_false(harness_proc_running(&r.proc));
    assert_null(harness_redis_cmd(&r, "PING")); /* down means down */
    assert_int_equal(harness_redis_restart(&r), 0);
    assert_true(harness_redis_exists(&r, "after"));
    assert_true(harness_redis_exists(&r, "plain"));
    harness_redis_fini(&r);
}

static void test_proc_basics(void **state)
{
    const char *echo_env[] = {"sh", "-c", "echo \"$HARNESS_X\"; printf 'no-newline'", NULL};
    const char *env[] = {"HARNESS_X=from-env", NULL};
    struct harness_proc_opts opts = {.env = env};
    const char *missing[] = {"/nonexistent/program", NULL};
    const char *sleeper[] = {"sleep", "60", NULL};
    const char *cat[] = {"cat", NULL};
    struct harness_proc_opts cat_opts = {.stdin_pipe = true};
    struct harness_proc p;
    char line[64];
    int status;

    assert_int_equal(harness_proc_start(&p, echo_env, &opts), 0);
    assert_int_equal(harness_proc_read_line(&p, line, sizeof(line), 5000), 8);
    assert_string_equal(line, "from-env");
    assert_int_equal(harness_proc_read_line(&p, line, sizeof(line), 5000), 10);
    assert_string_equal(line, "no-newline");
    assert_int_equal(harness_proc_read_line(&p, line, sizeof(line), 1000), -1);
    assert_true(harness_proc_wait(&p, 5000, &status));
    assert_int_equal(status, 0);

    /* exec failure is reported by start itself. */
    assert_int_equal(harness_proc_start(&p, missing, NULL), -1);

    /* Killed by a signal: 128 + N. The teardown would also get it. */
    assert_int_equal(harness_proc_start(&p, sleeper, NULL), 0);
    assert_false(harness_proc_wait(&p, 100, &status));
    assert_true(harness_proc_running(&p));
    harness_proc_kill9(&p);
    assert_true(harness_proc_wait(&p, 0, &status));
    assert_int_equal(status, 128 + SIGKILL);
    assert_int_equal(harness_proc_signal(&p, SIGTERM), -1);

    /* stdin pipe and line reading. */
    assert_int_equal(harness_proc_start(&p, cat, &cat_opts), 0);
    assert_int_equal(harness_proc_write(&p, "one\ntwo\n"), 0);
    assert_int_equal(harness_proc_read_line(&p, line, sizeof(line), 5000), 3);
    assert_string_equal(line, "one");
    assert_int_equal(harness_proc_read_line(&p, line, sizeof(line), 5000), 3);
    assert_string_equal(line, "two");
    harness_proc_close_stdin(&p);
    assert_true(harness_proc_wait(&p, 5000, &status));
    assert_int_equal(status, 0);
    assert_int_equal(harness_proc_stop(&p, 1000), 0);

    /* A child left running is the teardown's job (see the group's teardown). */
    assert_int_equal(harness_proc_start(&p, sleeper, NULL), 0);
    assert_int_equal(harness_teardown(NULL), 0);
    assert_false(harness_proc_running(&p));

    assert_true(harness_free_port() > 0);
    assert_non_null(harness_tmpdir());
}

static void test_json_helpers(void **state)
{
    const char *order =
        "{\"v\":1,\"order_id\":\"o-1\",\"ts\":1700000000123,\"account\":\"A\\\"1\","
        "\"evidence\":{\"account\":\"nested\",\"calls\":12,\"sample\":[\"e1\",\"e2\"]},"
        "\"reason\":\"x, y: {z}\",\"exempt\":[\"112\", \"999\"],\"neg\":-5,\"f\":1.5}";
    char buf[64];
    long long v;
    size_t len;
    const char *raw;

    assert_true(harness_json_has(order, "\"order_id\""));
    assert_int_equal(harness_json_str(order, "order_id", buf, sizeof(buf)), 3);
    assert_string_equal(buf, "o-1");
    assert_int_equal(harness_json_str(order, "account", buf, sizeof(buf)), 3);
    assert_string_equal(buf, "A\"1"); /* the top-level one, unescaped */
    assert_int_equal(harness_json_str(order, "evidence.account", buf, sizeof(buf)), 6);
    assert_string_equal(buf, "nested");
    assert_int_equal(harness_json_str(order, "reason", buf, sizeof(buf)), 9);
    assert_string_equal(buf, "x, y: {z}");
    assert_int_equal(harness_json_str(order, "reason", buf, 4), -1);          /* does not fit */
    assert_int_equal(harness_json_str(order, "v", buf, sizeof(buf)), -1);     /* not a string */
    assert_int_equal(harness_json_str(order, "calls", buf, sizeof(buf)), -1); /* nested */

    assert_int_equal(harness_json_int(order, "ts", &v), 0);
    assert_int_equal(v, 1700000000123LL);
    assert_int_equal(harness_json_int(order, "evidence.calls", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(harness_json_int(order, "neg", &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(harness_json_int(order, "f", &v), -1);
    assert_int_equal(harness_json_int(order, "account", &v), -1);
    assert_int_equal(harness_json_int(order, "missing", &v), -1);

    assert_true(harness_json_array_has(order, "exempt", "112"));
    assert_true(harness_json_array_has(order, "exempt", "999"));
    assert_false(harness_json_array_has(order, "exempt", "11"));
    assert_true(harness_json_array_has(order, "evidence.sample", "e2"));
    assert_false(harness_json_array_has(order, "reason", "x"));

    raw = harness_json_raw(order, "evidence.sample", &len);
    assert_non_null(raw);
    assert_int_equal(len, strlen("[\"e1\",\"e2\"]"));
    assert_null(harness_json_raw("not json", "v", &len));
    assert_null(harness_json_raw("{\"v\":", "v", &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_json_helpers, harness_teardown),
        cmocka_unit_test_teardown(test_proc_basics, harness_teardown),
        cmocka_unit_test_teardown(test_help, harness_teardown),
        cmocka_unit_test_teardown(test_bad_flags, harness_teardown),
        cmocka_unit_test_teardown(test_bootstrap_first_line, harness_teardown),
        cmocka_unit_test_teardown(test_default_topics, harness_teardown),
        cmocka_unit_test_teardown(test_topic_flag_replaces_defaults, harness_teardown),
        cmocka_unit_test_teardown(test_repeated_topic_flag, harness_teardown),
        cmocka_unit_test_teardown(test_roundtrip, harness_teardown),
        cmocka_unit_test_teardown(test_committed_offsets, harness_teardown),
        cmocka_unit_test_teardown(test_control_channel, harness_teardown),
        cmocka_unit_test_teardown(test_sigterm_exits_0, harness_teardown),
        cmocka_unit_test_teardown(test_sigint_exits_0, harness_teardown),
        cmocka_unit_test_teardown(test_redis_basics, harness_teardown),
        cmocka_unit_test_teardown(test_redis_persistence, harness_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, harness_teardown);
}
