/* SPDX-License-Identifier: Apache-2.0 */
/* itest_reload.c - SIGHUP reloads vigild's config file: a lower threshold takes effect for
 * the events after the reload while the windows keep the events before it; a broken file is
 * refused with one log line and changes nothing; no event is lost; SIGTERM still stops it
 * cleanly. Real vigil-broker, redis-server and vigild. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>

#include "harness.h"

#define T0 1793610000000LL /* as itest_vigild: a Monday afternoon in Amsterdam */

static struct harness_redis redis;
static struct harness_broker broker;
static struct harness_producer *prod;
static int sent;

static int setup(void **state)
{
    (void)state;
    sent = 0;
    return harness_stack_start(&redis, 0, &broker, NULL, &prod);
}

static int teardown(void **state)
{
    return harness_stack_stop(state, &redis, &broker, &prod);
}

/* Writes text to path as an operator's editor would: a new file renamed over the old. */
static void write_config(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* SMS number i of account (one sending number, one recipient: only bulk_sms.rate counts). */
static void sms(const char *account, int i, int64_t ts)
{
    char json[512];
    int n = snprintf(json, sizeof json,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s-m%d\",\"ts\":%lld,"
                     "\"account\":\"%s\",\"from\":\"+31612345678\",\"to\":\"+31687654321\"}",
                     account, i, (long long)ts, account);
    assert_int_equal(harness_producer_send(prod, "vigil.events", -1, account, json, (size_t)n),
                     0);
    sent++;
}

/* How many times needle occurs in the child's stderr. */
static int log_count(const struct harness_proc *p, const char *needle)
{
    char *text = harness_read_file(p->err_path, NULL);
    int n = 0;
    for (const char *at = text; at && (at = strstr(at, needle)) != NULL; at += strlen(needle))
        n++;
    free(text);
    return n;
}

/* Waits (30 s at most) until needle occurs `count` times in the child's stderr. */
static void wait_log(const struct harness_proc *p, const char *needle, int count)
{
    for (int tries = 0; tries < 300 && log_count(p, needle) < count; tries++)
        harness_sleep_ms(100);
    HARNESS_ASSERT(log_count(p, needle) == count);
}

/* Waits (60 s at most) until the group has committed every event sent so far. */
static void wait_committed(const char *group)
{
    assert_int_equal(harness_producer_flush(prod, 10000), 0);
    int64_t done = 0;
    for (int tries = 0; tries < 600 && (done = harness_committed_sum(broker.bootstrap, group,
                                                                     "vigil.events")) < sent;
         tries++)
        harness_sleep_ms(100);
    HARNESS_ASSERT(done == sent);
}

/* The orders so far (n + 1 asked for, so exactly n means no more arrived within 2 s). */
static ssize_t orders(struct harness_msg **out, size_t n)
{
    ssize_t got = harness_consume_all(broker.bootstrap, "vigil.orders", 2000, n + 1, out);
    return got < 0 ? 0 : got;
}

static long long sms_counter(const char *account)
{
    char key[128];
    long long v = -1;
    snprintf(key, sizeof key, "vigil:cnt:%s", account);
    if (harness_redis_int(&redis, &v, "HGET %s bulk_sms:sms_15m", key) != 0)
        return -1;
    return v;
}

static void test_sighup_reloads_thresholds_and_keeps_state(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    assert_int_equal(harness_mkdir("reload", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/vigil.conf", dir);
    write_config(path, "# block at 40 SMS in 15 minutes\n[bulk_sms]\nsms_15m = 40\n");

    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-reload", "--workers", "2", "--config", path,
                          "--set", "kafka.session_timeout_ms=6000",
                          "--set", "kafka.heartbeat_interval_ms=500", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);

    /* 25 SMS in 4 minutes: below 40 (and below the 30 to come). */
    for (int i = 0; i < 25; i++)
        sms("acc-bulk", i, T0 + i * 10000LL);
    wait_committed("g-reload");
    struct harness_msg *msgs = NULL;
    HARNESS_ASSERT(orders(&msgs, 0) == 0);
    harness_msgs_free(msgs, 0);

    /* The operator lowers the level to 30 and, by mistake, edits a restart-only key. */
    write_config(path, "[bulk_sms]\nsms_15m = 30\n[kafka]\ndlq_topic = vigil.dlq.other\n");
    assert_int_equal(harness_proc_signal(&vd, SIGHUP), 0);
    wait_log(&vd, "reloaded ", 1);
    HARNESS_ASSERT(log_count(&vd, "bulk_sms.sms_15m") == 1);
    HARNESS_ASSERT(log_count(&vd, "kafka.dlq_topic needs a restart; keeping the running value") ==
                   1);
    HARNESS_ASSERT(harness_proc_running(&vd));

    /* Five more: the 30th SMS of the window, counted with the 25 from before the reload,
     * reaches the new level, and the order is dated at that SMS. */
    int64_t thirtieth = 0;
    for (int i = 25; i < 30; i++)
        sms("acc-bulk", i, thirtieth = T0 + i * 10000LL);
    wait_committed("g-reload");
    ssize_t n = orders(&msgs, 1);
    if (n != 1)
        for (ssize_t j = 0; j < n; j++)
            fprintf(stderr, "order: %s\n", msgs[j].value);
    HARNESS_ASSERT(n == 1);
    long long ets = 0;
    char rule[64] = "";
    harness_json_str(msgs[0].value, "rule", rule, sizeof rule);
    assert_string_equal(rule, "bulk_sms.rate");
    assert_true(harness_json_has(msgs[0].value, "\"account\":\"acc-bulk\""));
    assert_int_equal(harness_json_int(msgs[0].value, "event_ts", &ets), 0);
    assert_int_equal(ets, thirtieth);
    harness_msgs_free(msgs, (size_t)n);

    /* Broken files: one line says why, nothing of them applies (their sms_15m = 5 would
     * order acc-bulk2 at its 5th SMS), the running level of 30 stays. */
    write_config(path, "[bulk_sms]\nsms_15m = 5\nsms_15mm = 5\n");
    assert_int_equal(harness_proc_signal(&vd, SIGHUP), 0);
    wait_log(&vd, "reload refused: ", 1);
    HARNESS_ASSERT(log_count(&vd, "vigil.conf:3: unknown key 'bulk_sms.sms_15mm'") == 1);
    HARNESS_ASSERT(log_count(&vd, "keeping the running configuration") == 1);
    HARNESS_ASSERT(log_count(&vd, "reloaded ") == 1);
    HARNESS_ASSERT(harness_proc_running(&vd));

    /* A good file naming a number table with a bad row: refused the same way. */
    char table[PATH_MAX + 32], text[2 * PATH_MAX];
    snprintf(table, sizeof table, "%s/numbering.tsv", dir);
    write_config(table, "# vigil-numbering 1\n+31\tfixed\t-\t0.02\n+316\tprem\t-\t0.05\n");
    snprintf(text, sizeof text, "[bulk_sms]\nsms_15m = 5\n[numbering]\nfile = %s\n", table);
    write_config(path, text);
    assert_int_equal(harness_proc_signal(&vd, SIGHUP), 0);
    wait_log(&vd, "reload refused: ", 2);
    HARNESS_ASSERT(log_count(&vd, "numbering.tsv:3: bad type 'prem'") == 1);
    HARNESS_ASSERT(log_count(&vd, "reloaded ") == 1);

    for (int i = 0; i < 29; i++)
        sms("acc-bulk2", i, T0 + 360000LL + i * 5000LL);
    wait_committed("g-reload");
    HARNESS_ASSERT(orders(&msgs, 1) == 1); /* acc-bulk's only */
    harness_msgs_free(msgs, 1);
    sms("acc-bulk2", 29, T0 + 360000LL + 29 * 5000LL);
    wait_committed("g-reload");
    n = orders(&msgs, 2);
    HARNESS_ASSERT(n == 2);
    bool bulk2 = false;
    for (ssize_t j = 0; j < n; j++)
        bulk2 = bulk2 || harness_json_has(msgs[j].value, "\"account\":\"acc-bulk2\"");
    assert_true(bulk2);
    harness_msgs_free(msgs, (size_t)n);

    /* Another good reload, after the order: the standing order and the rule's state are
     * carried over too, so 30 more SMS of acc-bulk (enough for an order on their own, had its
     * state started afresh) do not order it a second time. The restart-only
     * key is back at its running value: no line about it this time. */
    write_config(path, "[bulk_sms]\nsms_15m = 30\n[alerts]\ncooldown_s = 600\n");
    assert_int_equal(harness_proc_signal(&vd, SIGHUP), 0);
    wait_log(&vd, "reloaded ", 2);
    HARNESS_ASSERT(log_count(&vd, "1 key changed (alerts.cooldown_s)") == 1);
    HARNESS_ASSERT(log_count(&vd, "needs a restart") == 1);
    for (int i = 30; i < 60; i++)
        sms("acc-bulk", i, T0 + i * 10000LL);
    wait_committed("g-reload");
    n = orders(&msgs, 2);
    HARNESS_ASSERT(n == 2);
    harness_msgs_free(msgs, (size_t)n);

    /* Every event counted: the counters hold all of each account's SMS. */
    long long c1 = -1, c2 = -1;
    for (int tries = 0; tries < 100 && (c1 != 60 || c2 != 30); tries++) {
        c1 = sms_counter("acc-bulk");
        c2 = sms_counter("acc-bulk2");
        if (c1 != 60 || c2 != 30)
            harness_sleep_ms(100);
    }
    assert_int_equal(c1, 60);
    assert_int_equal(c2, 30);

    /* SIGTERM is as it always was. */
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    HARNESS_ASSERT(log_count(&vd, "stopped cleanly") == 1);
}

/* Without --config there is nothing to re-read: vigild says so and carries on. */
static void test_sighup_without_config_file(void **state)
{
    (void)state;
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-reload-none", "--workers", "1", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    wait_log(&vd, "consuming ", 1);
    assert_int_equal(harness_proc_signal(&vd, SIGHUP), 0);
    wait_log(&vd, "nothing to reload", 1);
    HARNESS_ASSERT(harness_proc_running(&vd));
    sms("acc-quiet", 0, T0);
    wait_committed("g-reload-none");
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sighup_reloads_thresholds_and_keeps_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sighup_without_config_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
