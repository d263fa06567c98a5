/* SPDX-License-Identifier: Apache-2.0 */
/* itest_sip.c - enforcement at the SIP proxy, end to end with real processes: vigil-broker,
 * redis-server, vigild, Kamailio running packaging/kamailio/vigil-enforce.cfg with the prefix
 * table of `vigilctl export-prefixes`, and sipp as the caller.
 *
 * A toll-fraud burst through vigild blocks two accounts' international calls; the proxy must
 * then answer their INVITEs to +881 with 403, let 112 and domestic calls through, let
 * another account call +881, and let them call +881 again once lifted: one by `vigilctl
 * lift`, the other by a lift produced straight onto the orders topic (vigild clears the
 * block key). Last, with Redis stopped, the proxy fails open.
 *
 * The proxy runs in its test mode (VIGIL_TEST_ANSWER: allowed INVITEs are answered 200 by
 * Kamailio itself; VIGIL_ACCOUNT_FROM_HEADER: the account comes from X-Vigil-Account, which
 * the sipp scenarios set). sipp's exit status says whether its one call got the response
 * its scenario expects (tests/integration/sip/invite_ok.xml: 200, invite_refused.xml: 403).
 * VIGIL_SOURCE_DIR names the source tree (set by CMake). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* Monday 2026-11-02 10:00 Amsterdam: office hours, so the daytime thresholds apply. */
#define T0 1793610000000LL

struct env {
    struct harness_redis redis;
    struct harness_broker broker;
    struct harness_producer *prod;
    struct harness_proc kam;
    int sip_port;
    char src[PATH_MAX];
};

static struct env E;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *find_prog(const char *name)
{
    static char buf[2][PATH_MAX];
    static int k;
    const char *dirs[] = {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *b = buf[k++ % 2];
        snprintf(b, PATH_MAX, "%s/%s", dirs[i], name);
        if (access(b, X_OK) == 0)
            return b;
    }
    return NULL;
}

/* Runs argv to completion (60 s at most). Returns its exit status, -1 if it did not end. */
static int run(const char *const argv[], const char *name)
{
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_FILE, .name = name};
    if (harness_proc_start(&p, argv, &o) != 0)
        return -1;
    int status = -1;
    if (!harness_proc_wait(&p, 60000, &status)) {
        harness_proc_kill9(&p);
        return -1;
    }
    if (status != 0) {
        char *out = harness_read_file(p.out_path, NULL);
        fprintf(stderr, "%s exited %d; stdout tail:\n%s\n", name, status,
                out ? out + (strlen(out) > 1500 ? strlen(out) - 1500 : 0) : "(none)");
        free(out);
        harness_proc_dump_stderr(&p, 20);
    }
    return status;
}

/* One call through the proxy: account dials number. expect_ok: the scenario that wants 200,
 * else the one that wants 403. Returns sipp's exit status (0: the expected response). */
static int sip_call(const char *account, const char *number, bool expect_ok)
{
    char scenario[PATH_MAX + 64], remote[64], lport[16];
    snprintf(scenario, sizeof scenario, "%s/tests/integration/sip/invite_%s.xml", E.src,
             expect_ok ? "ok" : "refused");
    snprintf(remote, sizeof remote, "127.0.0.1:%d", E.sip_port);
    snprintf(lport, sizeof lport, "%d", harness_free_port());
    const char *argv[] = {find_prog("sipp"), remote, "-sf", scenario, "-s", number,
                          "-key", "account", account, "-m", "1", "-i", "127.0.0.1", "-p", lport,
                          "-timeout", "15s", "-timeout_error", "-nostdin", NULL};
    return run(argv, "sipp");
}

static int setup(void **state)
{
    memset(&E, 0, sizeof E);
    const char *src = getenv("VIGIL_SOURCE_DIR");
    snprintf(E.src, sizeof E.src, "%s", src ? src : ".");
    if (!find_prog("kamailio") || !find_prog("sipp")) {
        fprintf(stderr, "itest_sip needs kamailio, kamailio-redis-modules and sip-tester "
                        "(scripts/install-deps.sh)\n");
        return -1;
    }
    return harness_stack_start(&E.redis, 0, &E.broker, NULL, &E.prod);
}

static int teardown(void **state)
{
    return harness_stack_stop(state, &E.redis, &E.broker, &E.prod);
}

static void call_start(const char *account, int i, int64_t ts, const char *to)
{
    harness_call_start(E.prod, account, i, ts, to, "pbx/trunk1");
}

/* A hacked PBX (as in itest_vigild): 8 parallel calls to Cuba and satellite numbers. */
static void toll_burst(const char *account, int64_t t0)
{
    static const char *dest[] = {"+5351234567", "+8816123456", "+5352345678", "+252612345678"};
    for (int i = 0; i < 8; i++)
        call_start(account, i, t0 + i * 5000, dest[i % 4]);
}

/* Kamailio with the repo's config on a free loopback UDP port, its prefix table exported
 * from vigil's number table; ready once it answers a call. */
static void start_proxy(void)
{
    char dir[PATH_MAX], table[PATH_MAX + 32], cfg[PATH_MAX + 64], rundir[PATH_MAX + 8];
    char listen[64], redis_def[128], url_def[PATH_MAX + 64], ctl_def[PATH_MAX + 64];
    assert_int_equal(harness_mkdir("kamailio", dir, sizeof dir), 0);
    snprintf(table, sizeof table, "%s/vigil_prefixes", dir);
    const char *exp[] = {harness_bin("vigilctl"), "export-prefixes", "--format",
                         "kamailio-mtree", "--output", table, NULL};
    HARNESS_ASSERT(run(exp, "export-prefixes") == 0);
    char *t = harness_read_file(table, NULL);
    HARNESS_ASSERT(t && strstr(t, "\n+881:intl,high_risk\n") && strstr(t, "\n112:emergency=112\n"));
    free(t);

    /* The export follows the numbering.* keys: a prefix or emergency number added there is in
     * the table, with the flags of its shorter prefixes and national form at home. */
    char text[PATH_MAX + 32];
    snprintf(text, sizeof text, "%s/prefixes.txt", dir);
    const char *exp2[] = {harness_bin("vigilctl"), "export-prefixes", "--set",
                          "numbering.emergency=999", "--set",
                          "numbering.premium_prefixes=+3190012 +8816", "--output", text, NULL};
    HARNESS_ASSERT(run(exp2, "export-prefixes") == 0);
    t = harness_read_file(text, NULL);
    HARNESS_ASSERT(t && strstr(t, "\n999\temergency=999\n") &&
                   strstr(t, "\n+3190012\tpremium\n") && strstr(t, "\n090012\tpremium\n") &&
                   strstr(t, "\n+8816\tintl,high_risk,premium\n") &&
                   strstr(t, "\n0\tdomestic\n"));
    free(t);

    snprintf(cfg, sizeof cfg, "%s/packaging/kamailio/vigil-enforce.cfg", E.src);
    snprintf(rundir, sizeof rundir, "%s/run", dir);
    HARNESS_ASSERT(mkdir(rundir, 0700) == 0);
    E.sip_port = harness_free_port();
    snprintf(listen, sizeof listen, "udp:127.0.0.1:%d", E.sip_port);
    snprintf(redis_def, sizeof redis_def, "VIGIL_REDIS=\"name=vigil;addr=127.0.0.1;port=%d\"",
             E.redis.port);
    snprintf(url_def, sizeof url_def, "VIGIL_PREFIXES_URL=\"text://%s\"", dir);
    snprintf(ctl_def, sizeof ctl_def, "VIGIL_CTL=\"unix:%s/ctl\"", rundir);
    const char *argv[] = {find_prog("kamailio"), "-f", cfg, "-DD", "-E", "-l", listen,
                          "-Y", rundir, "-m", "32", "-M", "8", "-A", "VIGIL_TEST_ANSWER",
                          "-A", "VIGIL_ACCOUNT_FROM_HEADER", "-A", redis_def, "-A", url_def,
                          "-A", ctl_def, NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL, .name = "kamailio"};
    assert_int_equal(harness_proc_start(&E.kam, argv, &o), 0);
    /* Ready: an account without blocks gets its call answered. */
    int64_t deadline = harness_now_ms() + 20000;
    while (sip_call("acc-probe", "0201234567", true) != 0) {
        HARNESS_ASSERT(harness_proc_running(&E.kam));
        HARNESS_ASSERT(harness_now_ms() < deadline);
        harness_sleep_ms(200);
    }
}

static long long hexists(const char *key, const char *field)
{
    long long v = -1;
    assert_int_equal(harness_redis_int(&E.redis, &v, "HEXISTS %s %s", key, field), 0);
    return v;
}

/* Polls until HEXISTS key field is `want` (20 s at most). */
static bool wait_hexists(const char *key, const char *field, long long want)
{
    int64_t deadline = harness_now_ms() + 20000;
    while (harness_now_ms() < deadline) {
        if (hexists(key, field) == want)
            return true;
        harness_sleep_ms(100);
    }
    return false;
}

static void test_proxy_enforces_blocks(void **state)
{
    start_proxy();

    struct harness_proc vd;
    const char *vargv[] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap, "--redis",
                           E.redis.addr, "--group", "g-sip", "--workers", "2", NULL};
    struct harness_proc_opts vo = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&vd, vargv, &vo), 0);
    toll_burst("acc-fraud", T0);
    toll_burst("acc-fraud2", T0 + 1000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    HARNESS_ASSERT(wait_hexists("vigil:block:acc-fraud", "block_international", 1));
    HARNESS_ASSERT(wait_hexists("vigil:block:acc-fraud2", "block_international", 1));

    /* The action's own expiry, and the order's exempt list: 112 and the table's other
     * emergency number, as the proxy sees them. */
    long long until = 0;
    assert_int_equal(harness_redis_int(&E.redis, &until, "HGET vigil:block:acc-fraud %s",
                                       "block_international:until"),
                     0);
    HARNESS_ASSERT(until > wall_ms() + 29LL * 86400 * 1000);
    redisReply *o = harness_redis_cmd(&E.redis, "HGET vigil:block:acc-fraud block_international");
    HARNESS_ASSERT(o && o->type == REDIS_REPLY_STRING);
    HARNESS_ASSERT(strstr(o->str, "\"exempt\":[\"112\",\"911\"]") != NULL);
    freeReplyObject(o);

    /* Blocked: international refused, emergency and domestic through; others unaffected. */
    HARNESS_ASSERT(sip_call("acc-fraud", "+8816123456", false) == 0);
    HARNESS_ASSERT(sip_call("acc-fraud", "00881612345", false) == 0);
    HARNESS_ASSERT(sip_call("acc-fraud", "112", true) == 0);
    HARNESS_ASSERT(sip_call("acc-fraud", "911", true) == 0);
    HARNESS_ASSERT(sip_call("acc-fraud", "0201234567", true) == 0);
    HARNESS_ASSERT(sip_call("acc-other", "+8816123456", true) == 0);
    HARNESS_ASSERT(sip_call("acc-fraud2", "+8816123456", false) == 0);

    /* vigilctl lift: the operator's way. */
    const char *lift[] = {harness_bin("vigilctl"), "lift", "--brokers", E.broker.bootstrap,
                          "--redis", E.redis.addr, "acc-fraud", "block_international", NULL};
    HARNESS_ASSERT(run(lift, "vigilctl-lift") == 0);
    HARNESS_ASSERT(sip_call("acc-fraud", "+8816123456", true) == 0);

    /* A lift produced straight onto the orders topic (provisioning, the NOC): vigild reads it
     * and clears the block key itself. */
    char json[512];
    snprintf(json, sizeof json,
             "{\"v\":1,\"order_id\":\"ord-noc-1\",\"ts\":%lld,\"event_ts\":%lld,"
             "\"account\":\"acc-fraud2\",\"action\":\"lift\",\"lifts\":\"block_international\","
             "\"detector\":\"toll_fraud\",\"rule\":\"operator.lift\",\"severity\":\"critical\","
             "\"reason\":\"customer called, PBX secured\",\"evidence\":{},\"operator\":\"noc\","
             "\"exempt\":[\"112\"]}",
             (long long)wall_ms(), (long long)wall_ms());
    assert_int_equal(harness_produce(E.broker.bootstrap, "vigil.orders", "acc-fraud2", json,
                                     strlen(json)),
                     0);
    HARNESS_ASSERT(wait_hexists("vigil:block:acc-fraud2", "block_international", 0));
    assert_int_equal(hexists("vigil:block:acc-fraud2", "block_international:until"), 0);
    long long rank = 0;
    assert_int_equal(harness_redis_int(&E.redis, &rank, "ZSCORE vigil:blocks acc-fraud2"), 0);
    assert_int_equal(rank, 0);
    HARNESS_ASSERT(sip_call("acc-fraud2", "+8816123456", true) == 0);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);

    /* Redis unreachable: the shipped default fails open (the call goes through, logged). */
    long long one = 0;
    assert_int_equal(harness_redis_int(&E.redis, &one, "HSET vigil:block:acc-s suspend {} "
                                                       "suspend:until %lld",
                                       (long long)(wall_ms() + 600000)),
                     0);
    HARNESS_ASSERT(sip_call("acc-s", "0201234567", false) == 0);
    assert_int_equal(harness_redis_stop(&E.redis), 0);
    HARNESS_ASSERT(sip_call("acc-s", "0201234567", true) == 0);
    HARNESS_ASSERT(harness_proc_running(&E.kam));
    harness_proc_stop(&E.kam, 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_proxy_enforces_blocks, harness_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
