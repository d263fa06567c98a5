/* SPDX-License-Identifier: Apache-2.0 */
/* itest_kafka_conf.c - librdkafka.* keys reach the Kafka clients of vigild, vigilctl and
 * vigil-sim: a bad property or value stops each at start with librdkafka's own message, a
 * property vigil owns is refused, good ones work, and `vigild --print-config` shows them
 * with secrets masked; a secret never reaches stderr. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define SECRET "hunter2-Kafka-77"
#define SET_SECRET "librdkafka.sasl.password=" SECRET

struct env {
    struct harness_redis redis;
    struct harness_broker broker;
};

static struct env E;

static int setup(void **state)
{
    memset(&E, 0, sizeof E);
    if (!harness_redis_start(&E.redis, 0) || !harness_broker_start(&E.broker, NULL))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    harness_teardown(state);
    harness_broker_stop(&E.broker);
    harness_redis_fini(&E.redis);
    return 0;
}

struct run {
    int status;
    char *out, *err;
};

/* Runs prog with args (NULL-terminated) to its end (60 s at most). */
static struct run run(const char *prog, const char *const args[])
{
    const char *argv[32] = {harness_bin(prog)};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_FILE};
    struct run r = {.status = -1};
    assert_int_equal(harness_proc_start(&p, argv, &o), 0);
    if (!harness_proc_wait(&p, 60000, &r.status)) {
        harness_proc_kill9(&p);
        r.status = -1;
    }
    r.out = harness_read_file(p.out_path, NULL);
    r.err = harness_read_file(p.err_path, NULL);
    assert_non_null(r.out);
    assert_non_null(r.err);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static bool one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl && nl[1] == '\0';
}

static void test_print_config_masks_secrets(void **state)
{
    const char *args[] = {"--print-config", "--redis", "redis://:redis-Pw-5@127.0.0.1:6379",
                          "--set", "librdkafka.client.id=x", "--set", SET_SECRET,
                          "--set", "librdkafka.ssl.key.password=keypw-Secret-3", NULL};
    struct run r = run("vigild", args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\nlibrdkafka.client.id = x\n"));
    assert_non_null(strstr(r.out, "\nlibrdkafka.sasl.password = ***\n"));
    assert_non_null(strstr(r.out, "\nlibrdkafka.ssl.key.password = ***\n"));
    assert_non_null(strstr(r.out, "\nkafka.events_topic = vigil.events\n"));
    assert_non_null(strstr(r.out, "# --redis redis://:***@127.0.0.1:6379\n"));
    assert_null(strstr(r.out, SECRET));
    assert_null(strstr(r.out, "keypw-Secret-3"));
    assert_null(strstr(r.out, "redis-Pw-5"));
    assert_string_equal(r.err, "");
    run_free(&r);
}

/* Good properties reach every client and change nothing else: vigild consumes what
 * vigil-sim produced, and the secret never shows on stderr. */
static void test_good_properties_work_everywhere(void **state)
{
    const char *sim[] = {"--brokers", E.broker.bootstrap, "--accounts", "3", "--duration", "5",
                         "--quiet", "--set", "librdkafka.client.id=sim-x", "--set", SET_SECRET,
                         NULL};
    struct run r = run("vigil-sim", sim);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.err, SECRET));
    run_free(&r);

    const char *argv[] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap, "--redis",
                          E.redis.addr, "--group", "g-kconf", "--workers", "1",
                          "--set", "librdkafka.client.id=vigild-x", "--set", SET_SECRET,
                          "--set", "librdkafka.socket.keepalive.enable=true", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    /* It consumes: the group commits offsets of what vigil-sim wrote. */
    int64_t deadline = harness_now_ms() + 60000;
    int64_t done = 0;
    while (harness_now_ms() < deadline &&
           (done = harness_committed_sum(E.broker.bootstrap, "g-kconf", "vigil.events")) <= 0)
        harness_sleep_ms(200);
    HARNESS_ASSERT(done > 0);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    char *err = harness_read_file(vd.err_path, NULL);
    assert_non_null(err);
    HARNESS_ASSERT(strstr(err, "consuming") != NULL);
    if (strstr(err, SECRET))
        fail_msg("vigild's stderr shows the secret: %s", err);
    free(err);

    const char *tail[] = {"tail", "--brokers", E.broker.bootstrap, "--topic", "vigil.events",
                          "--max", "1", "--set", "librdkafka.client.id=tail-x",
                          "--set", SET_SECRET, NULL};
    r = run("vigilctl", tail);
    assert_int_equal(r.status, 0);
    assert_true(strlen(r.out) > 0);
    assert_null(strstr(r.err, SECRET));
    run_free(&r);
}

static void test_bad_properties_stop_at_start(void **state)
{
    static const char *const bad_sets[][2] = {
        /* --set, what stderr must say */
        {"librdkafka.no.such.property=1",
         "librdkafka.no.such.property: No such configuration property"},
        {"librdkafka.security.protocol=carrier-pigeon",
         "librdkafka.security.protocol: Invalid value"},
    };
    for (size_t i = 0; i < sizeof bad_sets / sizeof bad_sets[0]; i++) {
        const char *vd[] = {"--brokers", E.broker.bootstrap, "--redis", E.redis.addr,
                            "--set", bad_sets[i][0], "--set", SET_SECRET, NULL};
        struct run r = run("vigild", vd);
        assert_int_equal(r.status, 1);
        if (!one_line(r.err) || !strstr(r.err, bad_sets[i][1]))
            fail_msg("vigild: want one line with '%s', got: %s", bad_sets[i][1], r.err);
        assert_null(strstr(r.err, SECRET));
        run_free(&r);

        const char *tail[] = {"tail", "--brokers", E.broker.bootstrap, "--topic",
                              "vigil.events", "--set", bad_sets[i][0], NULL};
        r = run("vigilctl", tail);
        assert_int_equal(r.status, 2);
        if (!one_line(r.err) || !strstr(r.err, bad_sets[i][1]))
            fail_msg("vigilctl tail: want one line with '%s', got: %s", bad_sets[i][1], r.err);
        run_free(&r);

        const char *sim[] = {"--brokers", E.broker.bootstrap, "--accounts", "1", "--duration",
                             "1", "--quiet", "--set", bad_sets[i][0], NULL};
        r = run("vigil-sim", sim);
        assert_int_equal(r.status, 1);
        if (!one_line(r.err) || !strstr(r.err, bad_sets[i][1]))
            fail_msg("vigil-sim: want one line with '%s', got: %s", bad_sets[i][1], r.err);
        run_free(&r);
    }

    /* A property vigil owns is refused by the configuration, naming what to use. */
    const char *owned[] = {"--brokers", E.broker.bootstrap, "--redis", E.redis.addr, "--set",
                           "librdkafka.group.id=other", NULL};
    struct run r = run("vigild", owned);
    assert_int_equal(r.status, 1);
    if (!one_line(r.err) || !strstr(r.err, "vigil sets group.id itself; use --group"))
        fail_msg("vigild: got: %s", r.err);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_config_masks_secrets),
        cmocka_unit_test(test_good_properties_work_everywhere),
        cmocka_unit_test(test_bad_properties_stop_at_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
