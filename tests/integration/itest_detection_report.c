/* SPDX-License-Identifier: Apache-2.0 */
/* itest_detection_report.c - the detection report: every vigil-sim scenario through the
 * real vigild (embedded broker, real Redis), judged against vigil-sim's ground truth.
 *
 * Fails on a missed scenario (no order with the expected action, or later than its
 * deadline in event time), on a false order (any account that is not an injected abuse:
 * background traffic and legitimate heavy users), on a duplicate order, and on a malformed
 * message whose dead letter is missing or has another reason. Prints the report as a
 * markdown table (the README's "Detection quality" section is this output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* Ten hours of event time so the baby monitor reaches its 8 h mark. */
static const char *const sim_args[] = {
    "--accounts", "200", "--duration", "600", "--seed", "3", "--invalid", "4",
    "--scenario", "toll_concurrent@60", "--scenario", "toll_velocity@90",
    "--scenario", "toll_scan@120", "--scenario", "sms_blast@150",
    "--scenario", "baby_monitor@30", "--scenario", "premium_out@180",
    "--scenario", "pumping@210", "--scenario", "callcenter_busy@0",
    "--scenario", "family_abroad@240", "--scenario", "business_intl@60",
    "--scenario", "credit_limit@20", "--scenario", "interim_invoice@300", NULL};

static struct harness_redis redis;
static struct harness_broker broker;

static int setup(void **state)
{
    if (!harness_redis_start(&redis, 0) || !harness_broker_start(&broker, NULL))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    harness_teardown(state);
    harness_broker_stop(&broker);
    harness_redis_fini(&redis);
    return 0;
}

static void run_sim(const char *truth_path)
{
    const char *argv[64] = {harness_bin("vigil-sim"), "--brokers", broker.bootstrap, "--truth",
                            truth_path, "--quiet"};
    size_t k = 6;
    for (size_t i = 0; sim_args[i]; i++)
        argv[k++] = sim_args[i];
    argv[k] = NULL;
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&p, argv, &o), 0);
    int status = -1;
    HARNESS_ASSERT(harness_proc_wait(&p, 120000, &status));
    HARNESS_ASSERT(status == 0);
}

/* Waits until group `group` has committed every message of the events topic. Orders,
 * alerts and dead letters are durable before their events' offsets are committed, so they
 * are all on their topics by then. */
static void wait_all_committed(const char *group, int timeout_ms)
{
    struct harness_msg *all = NULL;
    ssize_t total = harness_consume_all(broker.bootstrap, "vigil.events", 3000, 0, &all);
    HARNESS_ASSERT(total > 0);
    int64_t end[64] = {0};
    int parts = harness_topic_partitions(broker.bootstrap, "vigil.events");
    HARNESS_ASSERT(parts > 0 && parts <= 64);
    for (ssize_t i = 0; i < total; i++)
        end[all[i].partition] = all[i].offset + 1;
    harness_msgs_free(all, (size_t)total);
    int64_t until = harness_now_ms() + timeout_ms;
    for (;;) {
        int64_t committed[64];
        bool done = harness_committed_offsets(broker.bootstrap, group, "vigil.events",
                                              committed, parts) == 0;
        for (int p = 0; done && p < parts; p++)
            done = (committed[p] < 0 ? 0 : committed[p]) >= end[p];
        if (done)
            return;
        HARNESS_ASSERT(harness_now_ms() < until);
        harness_sleep_ms(200);
    }
}

static void test_scenarios_caught_and_nothing_else(void **state)
{
    char truth_path[4200];
    snprintf(truth_path, sizeof truth_path, "%s/truth.jsonl", harness_tmpdir());
    run_sim(truth_path);

    /* Billing's part: the credit limits the truth names, in vigil:credit before vigild
     * starts (it reads them at once and every 2 s). */
    char *billing = harness_read_file(truth_path, NULL);
    assert_non_null(billing);
    for (char *line = strtok(billing, "\n"); line; line = strtok(NULL, "\n")) {
        char account[80];
        long long start = 0;
        size_t len = 0;
        const char *limit = harness_json_raw(line, "billing.credit_limit_eur", &len);
        if (!limit || harness_json_int(line, "billing.period_start_ms", &start) != 0 ||
            harness_json_str(line, "account", account, sizeof account) <= 0)
            continue;
        char value[64]; /* "LIMIT_EUR PERIOD_START_MS": one argument */
        snprintf(value, sizeof value, "%.*s %lld", (int)len, limit, start);
        redisReply *r = harness_redis_cmd(&redis, "HSET vigil:credit %s %s", account, value);
        HARNESS_ASSERT(r != NULL && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
    }
    free(billing);

    /* Interim invoices on critical toll_fraud and premium findings, as the truth expects. */
    const char *argv[] = {harness_bin("vigild"), "--brokers", broker.bootstrap, "--redis",
                          redis.addr, "--group", "g-report", "--workers", "2",
                          "--set", "credit.interim_on_critical=1", NULL};
    struct harness_proc vd;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    wait_all_committed("g-report", 90000);

    struct harness_msg *orders = NULL, *dead = NULL;
    ssize_t n_orders = harness_consume_all(broker.bootstrap, "vigil.orders", 2000, 0, &orders);
    ssize_t n_dead = harness_consume_all(broker.bootstrap, "vigil.dlq", 2000, 0, &dead);
    assert_true(n_orders >= 0 && n_dead >= 0);
    bool *claimed = calloc((size_t)n_orders + 1, sizeof *claimed);
    assert_non_null(claimed);

    char *truth = harness_read_file(truth_path, NULL);
    assert_non_null(truth);
    int missed = 0, false_orders = 0, duplicates = 0, bad_dead = 0, scenarios = 0;
    printf("\n| scenario | account | expected | caught by | delay (event time) | deadline |\n"
           "|---|---|---|---|---|---|\n");
    for (char *line = strtok(truth, "\n"); line; line = strtok(NULL, "\n")) {
        char scen[64], account[80], want[40], also[40] = "", reason[80];
        if (harness_json_str(line, "invalid", scen, sizeof scen) > 0) {
            /* A malformed message: its dead letter must carry the expected reason. */
            assert_true(harness_json_str(line, "reason", reason, sizeof reason) > 0);
            bool found = false;
            for (ssize_t j = 0; j < n_dead && !found; j++) {
                char got[80];
                found = harness_json_str(dead[j].value, "reason", got, sizeof got) > 0 &&
                        strcmp(got, reason) == 0;
            }
            if (!found) {
                bad_dead++;
                printf("| invalid %s | | dead letter `%s` | **none** | | |\n", scen, reason);
            }
            continue;
        }
        assert_true(harness_json_str(line, "scenario", scen, sizeof scen) > 0);
        assert_true(harness_json_str(line, "account", account, sizeof account) > 0);
        scenarios++;
        bool legit = harness_json_str(line, "expect.action", want, sizeof want) < 0;
        if (!legit)
            harness_json_str(line, "expect.also", also, sizeof also);
        int also_found = 0;
        long long complete = 0, deadline = 0;
        if (!legit) {
            assert_int_equal(harness_json_int(line, "complete_ts", &complete), 0);
            assert_int_equal(harness_json_int(line, "deadline_ms", &deadline), 0);
        }
        int found = 0;
        long long delay = 0;
        char rule[80] = "";
        for (ssize_t j = 0; j < n_orders; j++) {
            char acc[80], action[40];
            harness_json_str(orders[j].value, "account", acc, sizeof acc);
            harness_json_str(orders[j].value, "action", action, sizeof action);
            if (strcmp(acc, account) != 0)
                continue;
            claimed[j] = true;
            if (!legit && also[0] && strcmp(action, also) == 0) {
                if (also_found++ > 0)
                    duplicates++;
                continue;
            }
            if (legit || strcmp(action, want) != 0) {
                false_orders++;
                printf("| %s | %s | no order | **false order** %s | | |\n", scen, account,
                       action);
                continue;
            }
            if (found++ == 0) {
                long long ets;
                harness_json_int(orders[j].value, "event_ts", &ets);
                harness_json_str(orders[j].value, "rule", rule, sizeof rule);
                delay = ets - complete;
            } else {
                duplicates++;
            }
        }
        if (legit) {
            if (!found)
                printf("| %s | %s | no order | none | | |\n", scen, account);
            continue;
        }
        bool in_time = found && delay <= deadline;
        if (!in_time)
            missed++;
        if (also[0] && also_found == 0)
            missed++; /* the companion order is expected too */
        printf("| %s | %s | `%s`%s%s%s | %s%s%s | %.1f s | %lld s |\n", scen, account, want,
               also[0] ? " + `" : "", also, also[0] ? "`" : "", found ? rule : "**missed**",
               found && !in_time ? " (**late**)" : "",
               also[0] && also_found == 0 ? " (**no** companion)" : "", (double)delay / 1000.0,
               deadline / 1000);
    }
    /* Orders for accounts the truth does not name: background accounts flagged. */
    for (ssize_t j = 0; j < n_orders; j++) {
        if (claimed[j])
            continue;
        false_orders++;
        printf("| background | | no order | **false order**: %.200s | | |\n", orders[j].value);
    }
    printf("\n%d scenarios, %d missed, %d false orders, %d duplicate orders, %d dead letters "
           "missing\n",
           scenarios, missed, false_orders, duplicates, bad_dead);
    fflush(stdout);

    free(truth);
    free(claimed);
    harness_msgs_free(orders, (size_t)n_orders);
    harness_msgs_free(dead, (size_t)n_dead);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);
    assert_true(scenarios >= 10);
    assert_int_equal(missed, 0);
    assert_int_equal(false_orders, 0);
    assert_int_equal(duplicates, 0);
    assert_int_equal(bad_dead, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scenarios_caught_and_nothing_else, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
