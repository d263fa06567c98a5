/* SPDX-License-Identifier: Apache-2.0 */
/* itest_evidence.c - vigilctl evidence end to end: real vigil-broker, redis-server and vigild
 * order a toll-fraud burst among other accounts' traffic; the evidence file on that order
 * holds exactly the account's events of the rule's window, the order, its critical alert and
 * the thresholds; an order id that is not on the orders topic exits 1 with one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

#define FRAUD "acc-ev-fraud"

struct env {
    struct harness_redis redis;
    struct harness_broker broker;
    struct harness_producer *prod;
};

static struct env E;

static int setup(void **state)
{
    (void)state;
    memset(&E, 0, sizeof E);
    return harness_stack_start(&E.redis, 0, &E.broker, NULL, &E.prod);
}

static int teardown(void **state)
{
    return harness_stack_stop(state, &E.redis, &E.broker, &E.prod);
}

static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void call_start(const char *account, int i, int64_t ts, const char *to)
{
    harness_call_start(E.prod, account, i, ts, to, NULL);
}

static void call_end(const char *account, int i, int64_t ts, const char *to, int duration)
{
    harness_call_end(E.prod, account, i, ts, to, duration);
}

static void domestic_call(const char *account, int i, int64_t ts)
{
    call_start(account, i, ts, "+31207654321");
    call_end(account, i, ts + 45000, "+31207654321", 45);
}

struct run {
    int status;
    char *out, *err;
};

static struct run run_ctl(const char *const args[])
{
    const char *argv[40] = {harness_bin("vigilctl")};
    struct harness_proc p;
    struct harness_proc_opts opts = {.out = HARNESS_OUT_FILE};
    struct run r = {.status = -1};
    int n = 1;
    for (int i = 0; args[i] != NULL && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    assert_int_equal(harness_proc_start(&p, argv, &opts), 0);
    if (!harness_proc_wait(&p, 120000, &r.status)) {
        harness_proc_kill9(&p);
        r.status = -1;
    }
    r.out = harness_read_file(p.out_path, NULL);
    r.err = harness_read_file(p.err_path, NULL);
    if (!r.out)
        r.out = strdup("");
    if (!r.err)
        r.err = strdup("");
    return r;
}

static int count_substr(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static bool has_id(const char *file, const char *account, char kind, int i)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"id\":\"%s-%c%d\"", account, kind, i);
    return strstr(file, needle) != NULL;
}

static void test_evidence_file_of_a_toll_fraud_order(void **state)
{
    (void)state;
    /* Live-like times: Kafka's message timestamps (when the producer wrote them) are now, as
     * for a real exporter, so the window is found by offsets_for_times. */
    int64_t t0 = epoch_ms() - 60000;
    static const char *dest[] = {"+5351234567", "+8816123456", "+5352345678", "+252612345678"};
    static const char *const bg[] = {"acc-ev-bg1", "acc-ev-bg2", "acc-ev-bg3", "acc-ev-bg4",
                                     "acc-ev-bg5"};

    /* The fraud account: a call three hours before (outside the window), a domestic call 20
     * minutes before (inside), the burst of 12 parallel high-risk calls (inside) and a call
     * ten minutes after (outside). Other accounts call throughout. */
    domestic_call(FRAUD, 200, t0 - 3 * 3600000LL);
    for (size_t a = 0; a < sizeof bg / sizeof bg[0]; a++)
        for (int i = 0; i < 8; i++)
            domestic_call(bg[a], 100 + i, t0 - 25 * 60000LL + i * 4 * 60000LL);
    domestic_call(FRAUD, 201, t0 - 20 * 60000LL);
    for (int i = 0; i < 12; i++)
        call_start(FRAUD, i, t0 + i * 5000, dest[i % 4]);
    domestic_call(FRAUD, 202, t0 + 10 * 60000LL);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);

    struct harness_proc vd;
    const char *argv[] = {harness_bin("vigild"),
                          "--brokers",
                          E.broker.bootstrap,
                          "--redis",
                          E.redis.addr,
                          "--group",
                          "g-evidence",
                          "--workers",
                          "2",
                          NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:" FRAUD, 60000));

    /* The block_international order of the burst. */
    struct harness_msg *orders = NULL;
    ssize_t n = harness_consume_all(E.broker.bootstrap, "vigil.orders", 3000, 0, &orders);
    char order_id[64] = "", buf[128];
    for (ssize_t i = 0; i < n; i++)
        if (harness_json_str(orders[i].value, "action", buf, sizeof buf) > 0 &&
            strcmp(buf, "block_international") == 0)
            assert_true(harness_json_str(orders[i].value, "order_id", order_id, sizeof order_id) >
                        0);
    harness_msgs_free(orders, (size_t)n);
    assert_true(order_id[0] != '\0');
    /* Its critical alert is on the topic before vigilctl reads it. */
    for (int tries = 0; tries < 60; tries++) {
        struct harness_msg *al = NULL;
        ssize_t na = harness_consume_all(E.broker.bootstrap, "vigil.alerts", 1000, 0, &al);
        bool found = false;
        for (ssize_t i = 0; i < na; i++)
            found = found || harness_json_has(al[i].value, order_id);
        harness_msgs_free(al, na > 0 ? (size_t)na : 0);
        if (found)
            break;
        harness_sleep_ms(500);
    }
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);

    char dir[4096], path[4200];
    assert_int_equal(harness_mkdir("evidence", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/evidence.json", dir);
    const char *args[] = {"evidence", "--brokers", E.broker.bootstrap, "--output", path,
                          order_id,   NULL};
    struct run r = run_ctl(args);
    if (r.status != 0)
        fail_msg("vigilctl evidence: exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, order_id));
    if (!strstr(r.out, "14 events"))
        fail_msg("vigilctl evidence printed: %s", r.out);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *file = harness_read_file(path, NULL);
    assert_non_null(file);

    /* Exactly the account's events of the window: the early call and the whole burst. */
    assert_true(has_id(file, FRAUD, 's', 201));
    assert_true(has_id(file, FRAUD, 'e', 201));
    for (int i = 0; i < 12; i++)
        assert_true(has_id(file, FRAUD, 's', i));
    assert_false(has_id(file, FRAUD, 's', 200));
    assert_false(has_id(file, FRAUD, 'e', 200));
    assert_false(has_id(file, FRAUD, 's', 202));
    assert_false(has_id(file, FRAUD, 'e', 202));
    assert_null(strstr(file, "acc-ev-bg"));
    assert_int_equal(count_substr(file, "\"type\":\"call_"), 14);
    long long v;
    assert_int_equal(harness_json_int(file, "event_count", &v), 0);
    assert_int_equal(v, 14);
    assert_true(harness_json_has(file, "\"complete\":true"));

    /* The order, its critical alert, the thresholds in force. */
    assert_true(harness_json_str(file, "order.order_id", buf, sizeof buf) > 0);
    assert_string_equal(buf, order_id);
    assert_true(harness_json_str(file, "order.account", buf, sizeof buf) > 0);
    assert_string_equal(buf, FRAUD);
    assert_true(harness_json_str(file, "rule", buf, sizeof buf) > 0);
    assert_string_equal(buf, "toll_fraud.concurrent_high_risk");
    size_t alen = 0;
    const char *alerts = harness_json_raw(file, "alerts", &alen);
    assert_non_null(alerts);
    char *acopy = strndup(alerts, alen);
    assert_non_null(strstr(acopy, "\"severity\":\"critical\""));
    assert_non_null(strstr(acopy, order_id));
    free(acopy);
    assert_true(harness_json_has(file, "\"toll_fraud.concurrent_high_risk\":\"8\""));
    assert_true(harness_json_has(file, "\"toll_fraud.concurrent_high_risk_offhours\":\"5\""));
    free(file);
    free(r.out);
    free(r.err);

    /* An order id that is not on the orders topic: exit 1, one line, no file. */
    snprintf(path, sizeof path, "%s/none.json", dir);
    const char *bad[] = {"evidence", "--brokers", E.broker.bootstrap,
                         "--output", path,        "ord-0000000000000000",
                         NULL};
    r = run_ctl(bad);
    assert_int_equal(r.status, 1);
    assert_int_equal(count_substr(r.err, "\n"), 1);
    assert_non_null(strstr(r.err, "ord-0000000000000000"));
    assert_int_not_equal(stat(path, &st), 0);
    free(r.out);
    free(r.err);

    /* A usage error: exit 2. */
    const char *usage[] = {"evidence", "--brokers", E.broker.bootstrap, NULL};
    r = run_ctl(usage);
    assert_int_equal(r.status, 2);
    free(r.out);
    free(r.err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_evidence_file_of_a_toll_fraud_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, harness_teardown);
}
