/* SPDX-License-Identifier: Apache-2.0 */
/* itest_redis_auth.c - vigild and vigilctl against a redis-server that wants a password:
 * requirepass (AUTH PASSWORD) and an ACL user (AUTH USER PASSWORD), the password given in the
 * URL, in VIGIL_REDIS_PASSWORD or in redis.password_file; a wrong or missing one stops the
 * program at start with one line that never holds the secret. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define PASS "req-Secret-71"        /* requirepass: the default user's password */
#define USER "alice"
#define USER_PASS "alice-Secret-42" /* the ACL user's */
#define WRONG "wrong-Secret-99"

struct env {
    struct harness_redis redis;
    struct harness_broker broker;
    char pwfile[512], bad_pwfile[512];
    char set_pwfile[600], set_bad_pwfile[600];
    char url_pass[128], url_user[128], url_user_db[128], url_user_only[128], url_wrong[128],
        url_user_wrong[128];
};

static struct env E;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    static const char *const args[] = {"--requirepass", PASS, NULL};
    memset(&E, 0, sizeof E);
    if (!harness_redis_start_args(&E.redis, 0, args, PASS) ||
        !harness_broker_start(&E.broker, NULL))
        return -1;
    /* The least-privilege user docs/deploying.md recommends: vigild and vigilctl need no
     * more. */
    redisReply *rep = harness_redis_cmd(
        &E.redis,
        "ACL SETUSER %s on >%s resetkeys ~vigil:* resetchannels -@all +@connection +multi +exec "
        "+hset +hdel +hget +hgetall +hkeys +hscan +expire +zadd +zrangebyscore "
        "+zremrangebyscore +zscore +scan +eval",
        USER, USER_PASS);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        return -1;
    freeReplyObject(rep);
    snprintf(E.pwfile, sizeof E.pwfile, "%s/redis-pw", harness_tmpdir());
    write_file(E.pwfile, USER_PASS "\n");
    snprintf(E.bad_pwfile, sizeof E.bad_pwfile, "%s/redis-pw-bad", harness_tmpdir());
    write_file(E.bad_pwfile, WRONG "\n");
    snprintf(E.set_pwfile, sizeof E.set_pwfile, "redis.password_file=%s", E.pwfile);
    snprintf(E.set_bad_pwfile, sizeof E.set_bad_pwfile, "redis.password_file=%s", E.bad_pwfile);
    int port = E.redis.port;
    snprintf(E.url_pass, sizeof E.url_pass, "redis://:%s@127.0.0.1:%d", PASS, port);
    snprintf(E.url_user, sizeof E.url_user, "redis://%s:%s@127.0.0.1:%d", USER, USER_PASS, port);
    snprintf(E.url_user_db, sizeof E.url_user_db, "redis://%s:%s@127.0.0.1:%d/3", USER,
             USER_PASS, port);
    snprintf(E.url_user_only, sizeof E.url_user_only, "redis://%s@127.0.0.1:%d", USER, port);
    snprintf(E.url_wrong, sizeof E.url_wrong, "redis://:%s@127.0.0.1:%d", WRONG, port);
    snprintf(E.url_user_wrong, sizeof E.url_user_wrong, "redis://%s:%s@127.0.0.1:%d", USER,
             WRONG, port);
    return 0;
}

static int teardown(void **state)
{
    harness_teardown(state);
    harness_broker_stop(&E.broker);
    harness_redis_fini(&E.redis);
    return 0;
}

/* No secret of this test in text. */
static void assert_no_secret(const char *what, const char *text)
{
    static const char *const secrets[] = {PASS, USER_PASS, WRONG};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (strstr(text, secrets[i]))
            fail_msg("%s shows a password: %s", what, text);
    }
}

/* Polls the file until it contains needle (timeout_ms at most). */
static bool wait_file_has(const char *path, const char *needle, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    do {
        char *text = harness_read_file(path, NULL);
        bool has = text && strstr(text, needle);
        free(text);
        if (has)
            return true;
        harness_sleep_ms(50);
    } while (harness_now_ms() < deadline);
    return false;
}

static void start_vigild(struct harness_proc *p, const char *redis, const char *set,
                         const char *env_pass, const char *group)
{
    char env_kv[128];
    const char *env[] = {env_kv, NULL};
    snprintf(env_kv, sizeof env_kv, "VIGIL_REDIS_PASSWORD=%s", env_pass ? env_pass : "");
    const char *argv[16] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap, "--redis",
                            redis, "--group", group, "--workers", "1"};
    size_t n = 9;
    if (set) {
        argv[n++] = "--set";
        argv[n++] = set;
    }
    argv[n] = NULL;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL, .env = env};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

static void test_vigild_right_credentials_start(void **state)
{
    struct {
        const char *redis, *set, *env, *shown;
    } cases[] = {
        {E.url_pass, NULL, NULL, "Redis redis://:***@127.0.0.1:"},
        {E.redis.addr, NULL, PASS, "Redis redis://:***@127.0.0.1:"},
        {E.url_user, NULL, NULL, "Redis redis://" USER ":***@127.0.0.1:"},
        {E.url_user_only, E.set_pwfile, NULL, "Redis redis://" USER ":***@127.0.0.1:"},
        /* The URL's password wins over a wrong one in the environment. */
        {E.url_user, NULL, WRONG, "Redis redis://" USER ":***@127.0.0.1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct harness_proc vd;
        char group[32];
        snprintf(group, sizeof group, "g-auth-%zu", i);
        start_vigild(&vd, cases[i].redis, cases[i].set, cases[i].env, group);
        if (!wait_file_has(vd.err_path, "consuming", 60000)) {
            harness_dump_logs(20);
            fail_msg("case %zu: vigild did not start", i);
        }
        assert_int_equal(harness_proc_stop(&vd, 15000), 0);
        char *err = harness_read_file(vd.err_path, NULL);
        assert_non_null(err);
        if (!strstr(err, cases[i].shown))
            fail_msg("case %zu: the start line does not show '%s': %s", i, cases[i].shown, err);
        assert_no_secret("vigild's log", err);
        free(err);
    }
}

/* With DB 3 in the URL, every connection (the publisher's included) AUTHs and SELECTs 3:
 * the checkpoint of an event lands there. */
static void test_vigild_writes_to_the_urls_db(void **state)
{
    struct harness_proc vd;
    start_vigild(&vd, E.url_user_db, NULL, NULL, "g-auth-db");
    const char *ev = "{\"v\":1,\"type\":\"sms\",\"id\":\"db-1\",\"ts\":1793610000000,"
                     "\"account\":\"acc-db\",\"from\":\"+31612345678\",\"to\":\"+31612345679\"}";
    assert_int_equal(harness_produce(E.broker.bootstrap, "vigil.events", "acc-db", ev,
                                     strlen(ev)),
                     0);
    long long n = 0;
    int64_t deadline = harness_now_ms() + 60000;
    redisReply *rep = harness_redis_cmd(&E.redis, "SELECT 3");
    assert_non_null(rep);
    freeReplyObject(rep);
    while (harness_now_ms() < deadline) {
        if (harness_redis_int(&E.redis, &n, "EXISTS vigil:ckpt:g-auth-db:vigil.events") == 0 && n > 0)
            break;
        harness_sleep_ms(100);
    }
    rep = harness_redis_cmd(&E.redis, "SELECT 0");
    assert_non_null(rep);
    freeReplyObject(rep);
    HARNESS_ASSERT(n > 0);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    char *err = harness_read_file(vd.err_path, NULL);
    assert_non_null(err);
    assert_no_secret("vigild's log", err);
    /* No connection was refused on the way (the flagged-numbers thread's included). */
    HARNESS_ASSERT(!strstr(err, "refused") && !strstr(err, "requires a password"));
    free(err);
}

static void test_vigild_wrong_credentials_stop_at_start(void **state)
{
    struct {
        const char *redis, *set, *env, *needle;
    } cases[] = {
        {E.url_wrong, NULL, NULL, "refused the password"},
        {E.redis.addr, NULL, WRONG, "refused the password"},
        {E.url_user_wrong, NULL, NULL, "refused user 'alice'"},
        {E.url_user_only, E.set_bad_pwfile, NULL, "refused user 'alice'"},
        {E.redis.addr, NULL, NULL, "requires a password"},
        {E.url_user_only, NULL, NULL, "user 'alice' has no password"},
        {E.redis.addr, "redis.password_file=/nonexistent/pw", NULL, "/nonexistent/pw"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct harness_proc vd;
        start_vigild(&vd, cases[i].redis, cases[i].set, cases[i].env, "g-auth-bad");
        int status = -1;
        assert_true(harness_proc_wait(&vd, 30000, &status));
        assert_int_equal(status, 1);
        size_t len = 0;
        char *err = harness_read_file(vd.err_path, &len);
        assert_non_null(err);
        /* One line, naming the problem, without the secret. */
        if (!(len > 0 && strchr(err, '\n') == err + len - 1) || !strstr(err, cases[i].needle))
            fail_msg("case %zu: want one line with '%s', got: %s", i, cases[i].needle, err);
        assert_no_secret("vigild's error", err);
        free(err);
    }
}

/* vigilctl blocks with the given credentials: its exit status, stderr checked for secrets. */
static int run_vigilctl(const char *redis, const char *set, const char *env_pass, char **err)
{
    char env_kv[128];
    const char *env[] = {env_kv, NULL};
    snprintf(env_kv, sizeof env_kv, "VIGIL_REDIS_PASSWORD=%s", env_pass ? env_pass : "");
    const char *argv[10] = {harness_bin("vigilctl"), "blocks", "--redis", redis};
    size_t n = 4;
    if (set) {
        argv[n++] = "--set";
        argv[n++] = set;
    }
    argv[n] = NULL;
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL, .env = env};
    assert_int_equal(harness_proc_start(&p, argv, &o), 0);
    int status = -1;
    assert_true(harness_proc_wait(&p, 30000, &status));
    *err = harness_read_file(p.err_path, NULL);
    assert_non_null(*err);
    assert_no_secret("vigilctl's stderr", *err);
    return status;
}

static void test_vigilctl_credentials(void **state)
{
    char *err;
    assert_int_equal(run_vigilctl(E.url_pass, NULL, NULL, &err), 0);
    free(err);
    assert_int_equal(run_vigilctl(E.redis.addr, NULL, PASS, &err), 0);
    free(err);
    assert_int_equal(run_vigilctl(E.url_user_only, E.set_pwfile, NULL, &err), 0);
    free(err);
    assert_int_equal(run_vigilctl(E.url_user, NULL, NULL, &err), 0);
    free(err);

    assert_int_equal(run_vigilctl(E.url_wrong, NULL, NULL, &err), 1);
    assert_non_null(strstr(err, "refused the password"));
    free(err);
    assert_int_equal(run_vigilctl(E.url_user_only, E.set_bad_pwfile, NULL, &err), 1);
    assert_non_null(strstr(err, "refused user 'alice'"));
    free(err);
    assert_int_equal(run_vigilctl(E.redis.addr, NULL, NULL, &err), 1);
    assert_non_null(strstr(err, "requires a password"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vigild_right_credentials_start),
        cmocka_unit_test(test_vigild_writes_to_the_urls_db),
        cmocka_unit_test(test_vigild_wrong_credentials_stop_at_start),
        cmocka_unit_test(test_vigilctl_credentials),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
