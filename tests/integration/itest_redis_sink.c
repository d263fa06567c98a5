/* SPDX-License-Identifier: Apache-2.0 */
/* itest_redis_sink.c - the publisher's Redis connection against a real redis-server: while a
 * flush waits for replies it runs the caller's wait hook (the publisher takes counters then)
 * and still reads every reply in order; a Redis that stops answering fails the flush after
 * the connection's timeout with the batch kept, and the next flush delivers it. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "harness.h"
#include "redis_sink.h"
#include "vigil/status.h"

#define TIMEOUT_MS 300

struct env {
    struct harness_redis redis;
};

static struct env E;
static int hook_calls;

static void count_hook(void *arg)
{
    (void)arg;
    hook_calls++;
}

static int setup(void **state)
{
    (void)state;
    /* DEBUG SLEEP makes Redis slow to answer on demand. */
    static const char *const args[] = {"--enable-debug-command", "yes", NULL};
    memset(&E, 0, sizeof E);
    return harness_redis_start_args(&E.redis, 0, args, NULL) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_redis_fini(&E.redis);
    return 0;
}

static struct vigil_redis *connect_sink(int timeout_ms)
{
    char err[256];
    struct vigil_redis *r = vigil_redis_create(E.redis.addr, NULL, timeout_ms, err, sizeof err);
    assert_non_null(r);
    vigil_redis_set_wait_hook(r, count_hook, NULL);
    return r;
}

static void assert_value(const char *key, const char *want)
{
    char *got = harness_redis_get_str(&E.redis, key);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* A command that takes Redis 200 ms between two others: the hook runs many times meanwhile
 * (the socket is looked at every millisecond), and every reply is read; without a hook the
 * flush blocks and the hook never runs. */
static void test_hook_runs_while_redis_is_slow(void **state)
{
    (void)state;
    struct vigil_redis *r = connect_sink(2000);
    hook_calls = 0;
    assert_int_equal(vigil_redis_add(r, "SET %s %s", "sink:a", "1"), 0);
    assert_int_equal(vigil_redis_add(r, "DEBUG SLEEP %s", "0.2"), 0);
    assert_int_equal(vigil_redis_add(r, "SET %s %s", "sink:b", "2"), 0);
    int64_t t0 = vigil_mono_ms();
    assert_int_equal(vigil_redis_flush(r), 0);
    assert_true(vigil_mono_ms() - t0 >= 150);
    assert_true(hook_calls >= 10);
    assert_int_equal(vigil_redis_pending(r), 0);
    assert_value("sink:a", "1");
    assert_value("sink:b", "2");

    vigil_redis_set_wait_hook(r, NULL, NULL);
    hook_calls = 0;
    assert_int_equal(vigil_redis_add(r, "DEBUG SLEEP %s", "0.05"), 0);
    assert_int_equal(vigil_redis_add(r, "SET %s %s", "sink:b", "3"), 0);
    assert_int_equal(vigil_redis_flush(r), 0);
    assert_int_equal(hook_calls, 0);
    assert_value("sink:b", "3");
    vigil_redis_destroy(r);
}

/* A Redis that stops answering (SIGSTOP): the flush gives up after the connection's timeout,
 * however often the hook ran, says so, and keeps the batch; once Redis answers again the
 * next flush (on a new connection) delivers it. */
static void test_stalled_redis_times_out_and_batch_is_kept(void **state)
{
    (void)state;
    struct vigil_redis *r = connect_sink(TIMEOUT_MS);
    assert_int_equal(vigil_redis_add(r, "SET %s %s", "sink:c", "1"), 0);
    assert_int_equal(vigil_redis_flush(r), 0); /* connected */

    hook_calls = 0;
    assert_int_equal(kill(E.redis.proc.pid, SIGSTOP), 0);
    assert_int_equal(vigil_redis_add(r, "SET %s %s", "sink:c", "2"), 0);
    int64_t t0 = vigil_mono_ms();
    int rc = vigil_redis_flush(r);
    int64_t took = vigil_mono_ms() - t0;
    assert_int_equal(kill(E.redis.proc.pid, SIGCONT), 0);

    assert_int_equal(rc, VIGIL_ERR_IO);
    assert_true(took >= TIMEOUT_MS - 50);
    assert_true(took < 10 * TIMEOUT_MS);
    assert_true(hook_calls > 0);
    assert_non_null(strstr(vigil_redis_errstr(r), "no reply within the timeout"));
    assert_int_equal(vigil_redis_pending(r), 1);

    assert_int_equal(vigil_redis_flush(r), 0);
    assert_int_equal(vigil_redis_pending(r), 0);
    assert_value("sink:c", "2");
    vigil_redis_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_runs_while_redis_is_slow),
        cmocka_unit_test(test_stalled_redis_times_out_and_batch_is_kept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
