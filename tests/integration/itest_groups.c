/* SPDX-License-Identifier: Apache-2.0 */
/* itest_groups.c - two consumer groups on one stream and one Redis keep their checkpoints
 * apart: each writes <prefix>ckpt:<group>:<topic> and <prefix>state:<group>:<topic>:<p>;
 * one killed with SIGKILL and restarted loads its own and leaves the other's untouched. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define T0 1793610000000LL /* Monday 2026-11-02 10:00 Amsterdam */
#define N_ACCOUNTS 12

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

/* One SMS from each account, the round-th: N_ACCOUNTS events. */
static void sms_round(int round)
{
    for (int a = 0; a < N_ACCOUNTS; a++) {
        char account[32], json[512];
        snprintf(account, sizeof account, "acc-grp-%02d", a);
        int n = snprintf(json, sizeof json,
                         "{\"v\":1,\"type\":\"sms\",\"id\":\"%s-m%d\",\"ts\":%lld,"
                         "\"account\":\"%s\",\"from\":\"+316120000%02d\",\"to\":\"+3161%07d\"}",
                         account, round, (long long)(T0 + round * 1000), account, a, round);
        assert_int_equal(
            harness_producer_send(E.prod, "vigil.events", -1, account, json, (size_t)n), 0);
    }
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
}

static void start_vigild(struct harness_proc *p, const char *group)
{
    const char *argv[] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap, "--redis",
                          E.redis.addr, "--group", group, "--workers", "2",
                          "--set", "kafka.session_timeout_ms=6000",
                          "--set", "kafka.heartbeat_interval_ms=500", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

/* Waits until group has committed `want` events of vigil.events (60 s at most). */
static void wait_committed(const char *group, int64_t want)
{
    int64_t done = 0;
    int64_t deadline = harness_now_ms() + 60000;
    while ((done = harness_committed_sum(E.broker.bootstrap, group, "vigil.events")) < want &&
           harness_now_ms() < deadline)
        harness_sleep_ms(100);
    if (done != want) {
        harness_dump_logs(20);
        fail_msg("group %s committed %lld events, want %lld", group, (long long)done,
                 (long long)want);
    }
}

/* The sum of the next offsets a group's checkpoint hash holds (-1 when there is none). */
static long long ckpt_sum(const char *group)
{
    redisReply *r = harness_redis_cmd(&E.redis, "HGETALL vigil:ckpt:%s:vigil.events", group);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    long long sum = r->elements ? 0 : -1;
    for (size_t i = 1; i < r->elements; i += 2)
        sum += strtoll(r->element[i]->str, NULL, 10);
    freeReplyObject(r);
    return sum;
}

/* Every checkpoint key of a group and its content, as one text (caller frees). */
static char *snapshot(const char *group)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    redisReply *keys = harness_redis_cmd(&E.redis, "KEYS vigil:*:%s:*", group);
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    /* KEYS has no order: sort by partition through a fixed walk of the names. */
    for (int part = -1; part < 64; part++) {
        for (size_t k = 0; k < keys->elements; k++) {
            const char *name = keys->element[k]->str;
            char want[256];
            if (part < 0)
                snprintf(want, sizeof want, "vigil:ckpt:%s:vigil.events", group);
            else
                snprintf(want, sizeof want, "vigil:state:%s:vigil.events:%d", group, part);
            if (strcmp(name, want) != 0)
                continue;
            redisReply *h = harness_redis_cmd(&E.redis, "HGETALL %s", name);
            assert_non_null(h);
            fprintf(f, "%s:", name);
            for (size_t i = 0; i < h->elements; i++) {
                fputc(' ', f);
                fwrite(h->element[i]->str, 1, h->element[i]->len, f);
            }
            fputc('\n', f);
            freeReplyObject(h);
        }
    }
    freeReplyObject(keys);
    fclose(f);
    return buf;
}

static void test_two_groups_keep_their_checkpoints_apart(void **state)
{
    struct harness_proc a, b;
    sms_round(0);
    sms_round(1);
    start_vigild(&a, "g-main");
    start_vigild(&b, "g-shadow");
    wait_committed("g-main", 2 * N_ACCOUNTS);
    wait_committed("g-shadow", 2 * N_ACCOUNTS);

    /* Each group's checkpoint reaches what it committed, under its own name; nothing is
     * written under the topic alone. */
    int64_t deadline = harness_now_ms() + 30000;
    while ((ckpt_sum("g-main") != 2 * N_ACCOUNTS || ckpt_sum("g-shadow") != 2 * N_ACCOUNTS) &&
           harness_now_ms() < deadline)
        harness_sleep_ms(100);
    assert_int_equal(ckpt_sum("g-main"), 2 * N_ACCOUNTS);
    assert_int_equal(ckpt_sum("g-shadow"), 2 * N_ACCOUNTS);
    assert_false(harness_redis_exists(&E.redis, "vigil:ckpt:vigil.events"));
    long long n = 0;
    assert_int_equal(harness_redis_int(&E.redis, &n, "EVAL %s 0",
                                       "return #redis.call('KEYS', 'vigil:state:vigil.events:*')"),
                     0);
    assert_int_equal(n, 0);

    /* The shadow stops; its keys are what main must never touch. */
    assert_int_equal(harness_proc_stop(&b, 15000), 0);
    char *shadow_before = snapshot("g-shadow");
    assert_non_null(strstr(shadow_before, "vigil:state:g-shadow:vigil.events:"));

    /* Main dies without a word, comes back, loads its own states and goes on. */
    harness_proc_kill9(&a);
    start_vigild(&a, "g-main");
    sms_round(2);
    wait_committed("g-main", 3 * N_ACCOUNTS);
    deadline = harness_now_ms() + 30000;
    while (ckpt_sum("g-main") != 3 * N_ACCOUNTS && harness_now_ms() < deadline)
        harness_sleep_ms(100);
    assert_int_equal(ckpt_sum("g-main"), 3 * N_ACCOUNTS);
    assert_int_equal(harness_proc_stop(&a, 15000), 0);
    char *log = harness_read_file(a.err_path, NULL);
    assert_non_null(log);
    /* Its own checkpoint: every account it had seen, none of the shadow's doubled. */
    char loaded[64];
    snprintf(loaded, sizeof loaded, "loaded %d account states", N_ACCOUNTS);
    if (!strstr(log, loaded))
        fail_msg("main did not load its %d states: %s", N_ACCOUNTS, log);
    free(log);

    char *shadow_after = snapshot("g-shadow");
    assert_string_equal(shadow_after, shadow_before);
    assert_int_equal(ckpt_sum("g-shadow"), 2 * N_ACCOUNTS);
    free(shadow_before);
    free(shadow_after);

    /* The shadow resumes from its own checkpoint and catches up. */
    start_vigild(&b, "g-shadow");
    wait_committed("g-shadow", 3 * N_ACCOUNTS);
    assert_int_equal(harness_proc_stop(&b, 15000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_groups_keep_their_checkpoints_apart, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
