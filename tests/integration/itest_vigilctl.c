/* SPDX-License-Identifier: Apache-2.0 */
/* itest_vigilctl.c - integration test of vigilctl: replay (determinism, dead letters),
 * show / blocks / lift against a real redis-server, lift / produce / tail against a real
 * vigil-broker.
 *
 * vigilctl runs as a child process; Redis state is written by the test in the layout vigild
 * uses (outputs.md, publisher.c): P block:<account> HASH action -> order JSON, P blocks ZSET
 * account -> until ms, P cnt:<account> HASH "<detector>:<counter>" -> value, P
 * alerts:<account> HASH. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

/* Monday 2026-11-02 10:00 Amsterdam: office hours, so the daytime thresholds apply. */
#define BASE_TS 1793610000000LL
#define ACC "acc-1042"

/* ---- helpers --------------------------------------------------------------------------- */

struct run {
    int status; /* exit status, -1 if it did not finish */
    char *out, *err;
};

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Runs vigilctl with args (NULL-terminated) and, when stdin_text is not NULL, that text on
 * its stdin. Waits up to 60 s. */
static struct run run_ctl_in(const char *const args[], const char *stdin_text)
{
    const char *argv[40] = {harness_bin("vigilctl")};
    struct harness_proc p;
    struct harness_proc_opts opts = {.out = HARNESS_OUT_FILE, .stdin_pipe = stdin_text != NULL};
    struct run r = {.status = -1};
    int n = 1;

    for (int i = 0; args[i] != NULL && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (harness_proc_start(&p, argv, &opts) != 0)
        return r;
    if (stdin_text != NULL) {
        harness_proc_write(&p, stdin_text);
        harness_proc_close_stdin(&p);
    }
    if (!harness_proc_wait(&p, 60000, &r.status)) {
        harness_proc_kill9(&p);
        r.status = -1;
    }
    r.out = harness_read_file(p.out_path, NULL);
    r.err = harness_read_file(p.err_path, NULL);
    if (r.out == NULL)
        r.out = strdup("");
    if (r.err == NULL)
        r.err = strdup("");
    return r;
}

static struct run run_ctl(const char *const args[])
{
    return run_ctl_in(args, NULL);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* The n-th line (from 0) of s, copied into buf without its newline; NULL if none. */
static const char *nth_line(const char *s, int n, char *buf, size_t cap)
{
    for (int i = 0; i < n; i++) {
        s = strchr(s, '\n');
        if (s == NULL)
            return NULL;
        s++;
    }
    if (*s == '\0')
        return NULL;
    const char *e = strchr(s, '\n');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int count_substr(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* Eight outbound calls from ACC to unrelated Cuban numbers (+53, high risk; not one range,
 * which would be a scan), one second apart, all left open; `bad` inserts invalid lines after
 * the 4th call. */
static void sample_events(char *buf, size_t cap, bool bad)
{
    buf[0] = '\0';
    for (int i = 0; i < 8; i++) {
        append(buf, cap,
               "{\"v\":1,\"type\":\"call_start\",\"id\":\"e-%d\",\"ts\":%lld,\"account\":\"" ACC
               "\",\"call_id\":\"c-%d\",\"from\":\"+31201234567\",\"to\":\"+535%d234567\","
               "\"dir\":\"out\",\"device\":\"pbx-1042/trunk1\"}\n",
               i, BASE_TS + i * 1000LL, i, i);
        if (bad && i == 3) {
            append(buf, cap, "this is not json\n");
            append(buf, cap,
                   "{\"v\":1,\"type\":\"call_start\",\"id\":\"e-x\",\"ts\":%lld,\"account\":\"" ACC
                   "\",\"from\":\"+31201234567\",\"to\":\"+5351234599\",\"dir\":\"out\"}\n",
                   BASE_TS + 3500LL);
            append(buf, cap, "\n"); /* blank: skipped, not a dead letter */
        }
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void sample_file(char *path, size_t cap, const char *name, bool bad)
{
    static char text[16384];
    char dir[PATH_MAX];
    assert_int_equal(harness_mkdir("replay", dir, sizeof dir), 0);
    int n = snprintf(path, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
    sample_events(text, sizeof text, bad);
    write_file(path, text);
}

/* The "value" object of a replay line {"kind":K,"value":{...}}, copied into buf. */
static const char *replay_value(const char *line, char *buf, size_t cap)
{
    size_t len;
    const char *v = harness_json_raw(line, "value", &len);
    if (v == NULL || len >= cap)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

/* ---- help and flags -------------------------------------------------------------------- */

static void test_help_and_flags(void **state)
{
    static const char *const cmds[] = {"show", "blocks", "lift", "replay", "produce", "tail",
                                       "evidence"};
    const char *help[] = {"--help", NULL};
    struct run r = run_ctl(help);

    assert_int_equal(r.status, 0);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        assert_non_null(strstr(r.out, cmds[i]));
    run_free(&r);

    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *args[] = {cmds[i], "--help", NULL};
        char want[128];
        r = run_ctl(args);
        assert_int_equal(r.status, 0);
        snprintf(want, sizeof want, "Usage: vigilctl %s", cmds[i]);
        assert_non_null(strstr(r.out, want));
        run_free(&r);

        /* A bad flag: exit 2, exactly one line on stderr, nothing on stdout. */
        const char *bad[] = {cmds[i], "--no-such-flag", NULL};
        r = run_ctl(bad);
        assert_int_equal(r.status, 2);
        assert_int_equal(count_lines(r.err), 1);
        assert_non_null(strstr(r.err, "--no-such-flag"));
        assert_string_equal(r.out, "");
        run_free(&r);
    }

    static const char *const usage_cases[][6] = {
        {NULL},                                 /* no command */
        {"frobnicate", NULL},                   /* unknown command */
        {"show", NULL},                         /* missing ACCOUNT */
        {"show", "not an account", NULL},       /* bad ACCOUNT */
        {"show", "--redis", NULL},              /* flag without value */
        {"lift", "--brokers", "x", ACC, NULL},  /* missing ACTION */
        {"lift", ACC, "suspend", NULL},         /* missing --brokers */
        {"lift", "--brokers", "x", ACC, "fly"}, /* unknown action */
        {"replay", "--set", "nokeyvalue", "f"}, /* --set without '=' */
        {"tail", "--brokers", "x", NULL},       /* missing --topic */
    };
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        const char *args[7] = {0};
        for (int k = 0; k < 6 && usage_cases[i][k] != NULL; k++)
            args[k] = usage_cases[i][k];
        r = run_ctl(args);
        if (r.status != 2)
            fail_msg("case %zu: exit %d, stderr: %s", i, r.status, r.err);
        assert_true(count_lines(r.err) >= 1);
        run_free(&r);
    }
}

/* ---- replay ---------------------------------------------------------------------------- */

static void test_replay_one_order_deterministic(void **state)
{
    char path[PATH_MAX], line[8192], value[8192], oid[64], aid[64], s[128];
    long long n;
    /* The warning level (an alert alone at 5 open calls) and the interim invoice beside a
     * critical toll-fraud finding are switched off so that exactly the order and its critical
     * alert come out. */
    const char *args[] = {"replay", "--set", "toll_fraud.concurrent_high_risk_warning=0",
                          "--set", "credit.interim_on_critical=0", path, NULL};

    sample_file(path, sizeof path, "calls.jsonl", false);
    struct run a = run_ctl(args);
    if (a.status != 0)
        fail_msg("replay exited %d: %s", a.status, a.err);
    assert_int_equal(count_lines(a.out), 2);

    /* Line 1: the order. */
    assert_non_null(nth_line(a.out, 0, line, sizeof line));
    assert_int_equal(harness_json_str(line, "kind", s, sizeof s), 5);
    assert_string_equal(s, "order");
    assert_non_null(replay_value(line, value, sizeof value));
    assert_true(harness_json_str(value, "order_id", oid, sizeof oid) > 0);
    assert_true(harness_json_str(value, "account", s, sizeof s) > 0);
    assert_string_equal(s, ACC);
    assert_true(harness_json_str(value, "action", s, sizeof s) > 0);
    assert_string_equal(s, "block_international");
    assert_true(harness_json_str(value, "rule", s, sizeof s) > 0);
    assert_string_equal(s, "toll_fraud.concurrent_high_risk");
    assert_true(harness_json_str(value, "severity", s, sizeof s) > 0);
    assert_string_equal(s, "critical");
    assert_true(harness_json_array_has(value, "exempt", "112"));
    /* Tripped by the 8th call; the clock is event time, so ts is that call's ts too. */
    assert_int_equal(harness_json_int(value, "event_ts", &n), 0);
    assert_int_equal(n, BASE_TS + 7000);
    assert_int_equal(harness_json_int(value, "ts", &n), 0);
    assert_int_equal(n, BASE_TS + 7000);

    /* Line 2: its critical alert. */
    assert_non_null(nth_line(a.out, 1, line, sizeof line));
    assert_true(harness_json_str(line, "kind", s, sizeof s) > 0);
    assert_string_equal(s, "alert");
    assert_non_null(replay_value(line, value, sizeof value));
    assert_true(harness_json_str(value, "alert_id", aid, sizeof aid) > 0);
    assert_true(harness_json_str(value, "severity", s, sizeof s) > 0);
    assert_string_equal(s, "critical");
    assert_true(harness_json_str(value, "order_id", s, sizeof s) > 0);
    assert_string_equal(s, oid);

    /* The summary on stderr. */
    assert_non_null(strstr(a.err, "8 lines, 8 valid events, 0 repeats dropped, 0 dead letters, "
                                  "1 orders, 1 alerts"));

    /* Same input, same bytes: again from the file, and from stdin. */
    struct run b = run_ctl(args);
    assert_int_equal(b.status, 0);
    assert_string_equal(a.out, b.out);
    static char text[16384];
    sample_events(text, sizeof text, false);
    const char *args_stdin[] = {"replay", "--set", "toll_fraud.concurrent_high_risk_warning=0",
                                "--set", "credit.interim_on_critical=0", "-", NULL};
    struct run c = run_ctl_in(args_stdin, text);
    assert_int_equal(c.status, 0);
    assert_string_equal(a.out, c.out);
    run_free(&a);
    run_free(&b);
    run_free(&c);

    /* --counters adds counters lines and changes nothing else. */
    const char *args_cnt[] = {
        "replay", "--counters", "--set", "toll_fraud.concurrent_high_risk_warning=0",
        "--set", "credit.interim_on_critical=0", path, NULL};
    struct run d = run_ctl(args_cnt);
    assert_int_equal(d.status, 0);
    assert_int_equal(count_substr(d.out, "{\"kind\":\"order\""), 1);
    assert_int_equal(count_substr(d.out, "{\"kind\":\"alert\""), 1);
    assert_true(count_substr(d.out, "{\"kind\":\"counters\"") >= 1);
    assert_non_null(strstr(d.out, "\"detector\":\"toll_fraud\""));
    assert_non_null(strstr(d.out, "\"open_high_risk\":8"));
    run_free(&d);
}

static void test_replay_dead_letters_continue(void **state)
{
    char path[PATH_MAX], line[8192], s[128];
    long long n;
    const char *args[] = {"replay", "--set", "toll_fraud.concurrent_high_risk_warning=0",
                          "--set", "credit.interim_on_critical=0", path, NULL};

    sample_file(path, sizeof path, "mixed.jsonl", true);
    struct run r = run_ctl(args);
    if (r.status != 0)
        fail_msg("replay exited %d: %s", r.status, r.err);

    /* Lines 5 (not JSON) and 6 (no call_id) are dead letters, in file order, first. */
    assert_non_null(nth_line(r.out, 0, line, sizeof line));
    assert_true(harness_json_str(line, "kind", s, sizeof s) > 0);
    assert_string_equal(s, "dead_letter");
    assert_int_equal(harness_json_int(line, "line", &n), 0);
    assert_int_equal(n, 5);
    assert_true(harness_json_str(line, "reason", s, sizeof s) > 0);
    assert_string_equal(s, "json_syntax");
    assert_true(harness_json_str(line, "detail", s, sizeof s) > 0);

    assert_non_null(nth_line(r.out, 1, line, sizeof line));
    assert_int_equal(harness_json_int(line, "line", &n), 0);
    assert_int_equal(n, 6);
    assert_true(harness_json_str(line, "reason", s, sizeof s) > 0);
    assert_string_equal(s, "missing_field:call_id");
    assert_int_equal(count_substr(r.out, "\"kind\":\"dead_letter\""), 2);

    /* It went on: the 8 valid calls still trip the rule, after the dead letters. */
    assert_int_equal(count_lines(r.out), 4);
    assert_non_null(nth_line(r.out, 2, line, sizeof line));
    assert_true(starts_with(line, "{\"kind\":\"order\","));
    assert_non_null(nth_line(r.out, 3, line, sizeof line));
    assert_true(starts_with(line, "{\"kind\":\"alert\","));
    assert_non_null(strstr(r.err, "11 lines, 8 valid events, 0 repeats dropped, 2 dead letters, "
                                  "1 orders, 1 alerts"));
    run_free(&r);
}

/* ---- Redis: show, blocks ---------------------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define ORDER_INTL                                                                                 \
    "{\"v\":1,\"order_id\":\"ord-00000000000a1042\",\"ts\":%lld,\"event_ts\":%lld,"                \
    "\"account\":\"" ACC "\",\"action\":\"block_international\",\"detector\":\"toll_fraud\","      \
    "\"rule\":\"toll_fraud.concurrent_high_risk\",\"severity\":\"critical\",\"reason\":\"8 "       \
    "simultaneous outbound calls to high-risk destinations\",\"evidence\":{\"open_high_risk_"      \
    "calls\":8,\"threshold\":8,\"sample_event_ids\":[\"e-7\"]},\"exempt\":[\"112\"]}"
#define ORDER_SMS                                                                                  \
    "{\"v\":1,\"order_id\":\"ord-00000000000b1042\",\"ts\":%lld,\"event_ts\":%lld,"                \
    "\"account\":\"" ACC "\",\"action\":\"block_sms\",\"detector\":\"bulk_sms\","                  \
    "\"rule\":\"bulk_sms.burst\",\"severity\":\"critical\",\"reason\":\"SMS burst\","              \
    "\"evidence\":{},\"exempt\":[\"112\"]}"
#define ALERT_TF                                                                                   \
    "{\"v\":1,\"alert_id\":\"alr-00000000000c1042\",\"ts\":%lld,\"event_ts\":%lld,"                \
    "\"account\":\"" ACC "\",\"detector\":\"toll_fraud\",\"rule\":\"toll_fraud.concurrent_"        \
    "high_risk\",\"severity\":\"critical\",\"reason\":\"8 simultaneous calls\",\"evidence\":{}}"

static void redis_ok(struct harness_redis *r, redisReply *rep)
{
    (void)r;
    assert_non_null(rep);
    if (rep->type == REDIS_REPLY_ERROR)
        fail_msg("redis: %s", rep->str);
    freeReplyObject(rep);
}

/* ACC with two blocks (since `since`), counters, an alert; acc-old whose block has expired;
 * and a counters key of account "acc-1042:x" that must not show up under ACC. */
static void seed_redis(struct harness_redis *r, long long since)
{
    char order[2048];
    long long until = since + 3600 * 1000LL;

    snprintf(order, sizeof order, ORDER_INTL, since, since - 5000);
    redis_ok(r,
             harness_redis_cmd(r, "HSET vigil:block:%s %s %s", ACC, "block_international", order));
    redis_ok(r, harness_redis_cmd(r, "HSET vigil:block:%s block_international:until %lld", ACC,
                                  until));
    snprintf(order, sizeof order, ORDER_SMS, since, since - 5000);
    redis_ok(r, harness_redis_cmd(r, "HSET vigil:block:%s %s %s", ACC, "block_sms", order));
    /* An older action whose own until has passed, under a key a newer order renewed. */
    redis_ok(r, harness_redis_cmd(r, "HSET vigil:block:%s block_premium %s "
                                     "block_premium:until %lld",
                                  ACC, "{\"order_id\":\"ord-premium\",\"ts\":1}", since - 1000));
    redis_ok(r, harness_redis_cmd(r, "ZADD vigil:blocks %lld %s", until, ACC));
    redis_ok(r, harness_redis_cmd(r, "HSET vigil:block:acc-old suspend %s",
                                  "{\"order_id\":\"ord-old\",\"ts\":1}"));
    redis_ok(r, harness_redis_cmd(r, "ZADD vigil:blocks %lld acc-old", since - 1000));
    redis_ok(r, harness_redis_cmd(r,
                                  "HSET vigil:cnt:%s toll_fraud:open_high_risk 8 "
                                  "toll_fraud:calls_out_1h 12 toll_fraud:updated_ms %lld "
                                  "bulk_sms:sms_15m 250 bulk_sms:updated_ms %lld",
                                  ACC, since, since));
    /* Another account whose name starts with ACC's, and a field no detector writes. */
    redis_ok(r, harness_redis_cmd(r, "HSET vigil:cnt:%s:x toll_fraud:open_high_risk 99", ACC));
    redis_ok(r, harness_redis_cmd(r, "HSET vigil:cnt:%s stray 77", ACC));
    snprintf(order, sizeof order, ALERT_TF, since, since - 5000);
    redis_ok(r, harness_redis_cmd(r, "HSET vigil:alerts:%s toll_fraud %s", ACC, order));
}

static void test_show_and_blocks(void **state)
{
    struct harness_redis r;
    const char *addr = harness_redis_start(&r, 0);
    char line[4096], s[256];
    long long n, since = (long long)wall_ms();

    HARNESS_ASSERT(addr != NULL);
    seed_redis(&r, since);

    /* blocks: one line per standing block, ACC's two; acc-old has expired. */
    const char *blocks[] = {"blocks", "--redis", addr, NULL};
    struct run b = run_ctl(blocks);
    if (b.status != 0)
        fail_msg("blocks exited %d: %s", b.status, b.err);
    assert_int_equal(count_lines(b.out), 2);
    assert_non_null(nth_line(b.out, 0, line, sizeof line));
    assert_true(starts_with(line, ACC "  block_international  since "));
    assert_non_null(strstr(line, "ord-00000000000a1042"));
    assert_non_null(nth_line(b.out, 1, line, sizeof line));
    assert_non_null(strstr(line, "block_sms"));
    assert_non_null(strstr(line, "ord-00000000000b1042"));
    assert_null(strstr(b.out, "acc-old"));
    assert_null(strstr(b.out, "block_premium")); /* its until has passed */
    assert_null(strstr(b.out, ":until"));
    assert_non_null(nth_line(b.out, 0, line, sizeof line));
    assert_non_null(strstr(line, "  until "));
    run_free(&b);

    const char *blocks_json[] = {"blocks", "--json", "--redis", addr, NULL};
    b = run_ctl(blocks_json);
    assert_int_equal(b.status, 0);
    assert_int_equal(count_lines(b.out), 1);
    assert_int_equal(count_substr(b.out, "\"account\":\"" ACC "\""), 2);
    assert_non_null(strstr(b.out, "\"order_id\":\"ord-00000000000a1042\""));
    assert_non_null(strstr(b.out, "\"rule\":\"toll_fraud.concurrent_high_risk\""));
    assert_null(strstr(b.out, "acc-old"));
    assert_int_equal(harness_json_int(b.out, "now_ms", &n), 0);
    run_free(&b);

    /* show, text. */
    const char *show[] = {"show", "--redis", addr, ACC, NULL};
    struct run sh = run_ctl(show);
    if (sh.status != 0)
        fail_msg("show exited %d: %s", sh.status, sh.err);
    assert_non_null(strstr(sh.out, "block_international"));
    assert_non_null(strstr(sh.out, "ord-00000000000a1042"));
    assert_non_null(strstr(sh.out, "open_high_risk"));
    assert_non_null(strstr(sh.out, "sms_15m"));
    assert_non_null(strstr(sh.out, "alr-00000000000c1042"));
    /* Every detector's counters under its name, from the one hash; acc-1042:x's, and a field
     * of no detector, left out. */
    assert_int_equal(count_substr(sh.out, "\n  toll_fraud  updated "), 1);
    assert_int_equal(count_substr(sh.out, "\n  bulk_sms  updated "), 1);
    assert_null(strstr(sh.out, "stray"));
    assert_null(strstr(sh.out, " 99\n"));
    assert_null(strstr(sh.out, "block_premium"));
    run_free(&sh);

    /* show --json: one object. */
    const char *show_json[] = {"show", "--json", "--redis", addr, ACC, NULL};
    sh = run_ctl(show_json);
    assert_int_equal(sh.status, 0);
    assert_int_equal(count_lines(sh.out), 1);
    assert_true(harness_json_str(sh.out, "account", s, sizeof s) > 0);
    assert_string_equal(s, ACC);
    assert_int_equal(harness_json_int(sh.out, "counters.toll_fraud.open_high_risk", &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(harness_json_int(sh.out, "counters.toll_fraud.calls_out_1h", &n), 0);
    assert_int_equal(n, 12);
    assert_int_equal(harness_json_int(sh.out, "counters.bulk_sms.sms_15m", &n), 0);
    assert_int_equal(n, 250);
    assert_int_equal(harness_json_int(sh.out, "counters.bulk_sms.updated_ms", &n), 0);
    assert_int_equal(n, since);
    assert_int_equal(harness_json_int(sh.out, "blocked_until_ms", &n), 0);
    assert_int_equal(n, since + 3600 * 1000LL);
    assert_non_null(strstr(sh.out, "\"order_id\":\"ord-00000000000a1042\""));
    assert_non_null(strstr(sh.out, "\"alert_id\":\"alr-00000000000c1042\""));
    assert_null(strstr(sh.out, "ord-premium"));
    char until_s[64];
    snprintf(until_s, sizeof until_s, "\"until_ms\":%lld", since + 3600 * 1000LL);
    assert_non_null(strstr(sh.out, until_s));
    assert_null(strstr(sh.out, "stray"));
    run_free(&sh);

    /* An account Redis knows nothing about: shown as empty, exit 0. */
    const char *nobody[] = {"show", "--json", "--redis", addr, "acc-nobody", NULL};
    sh = run_ctl(nobody);
    assert_int_equal(sh.status, 0);
    assert_non_null(strstr(sh.out, "\"blocks\":[]"));
    run_free(&sh);

    /* Redis gone: one line, exit 1. */
    assert_int_equal(harness_redis_stop(&r), 0);
    sh = run_ctl(show);
    assert_int_equal(sh.status, 1);
    assert_int_equal(count_lines(sh.err), 1);
    assert_non_null(strstr(sh.err, addr));
    run_free(&sh);
    b = run_ctl(blocks);
    assert_int_equal(b.status, 1);
    assert_int_equal(count_lines(b.err), 1);
    run_free(&b);
    harness_redis_fini(&r);
}

/* ---- lift, produce, tail (real broker) ---------------------------------------------------- */

static void test_lift(void **state)
{
    struct harness_redis r;
    struct harness_broker k;
    const char *addr = harness_redis_start(&r, 0);
    const char *bs;
    char s[256];
    long long n;

    HARNESS_ASSERT(addr != NULL);
    const char *const broker_args[] = {"--brokers", "1", NULL};
    bs = harness_broker_start(&k, broker_args);
    HARNESS_ASSERT(bs != NULL);
    seed_redis(&r, (long long)wall_ms());

    const char *lift[] = {"lift",
                          "--brokers",
                          bs,
                          "--redis",
                          addr,
                          "--reason",
                          "customer confirmed the traffic",
                          "--operator",
                          "alice",
                          ACC,
                          "block_international",
                          NULL};
    struct run l = run_ctl(lift);
    if (l.status != 0)
        fail_msg("lift exited %d: %s", l.status, l.err);
    assert_non_null(strstr(l.out, "block_international"));
    run_free(&l);

    /* Redis: the field is gone, the other block stays, so does the index entry. */
    assert_int_equal(harness_redis_int(&r, &n, "HEXISTS vigil:block:%s block_international", ACC),
                     0);
    assert_int_equal(n, 0);
    assert_int_equal(harness_redis_int(&r, &n, "HEXISTS vigil:block:%s block_sms", ACC), 0);
    assert_int_equal(n, 1);
    assert_int_equal(harness_redis_int(&r, &n, "ZCOUNT vigil:blocks -inf +inf"), 0);
    assert_int_equal(n, 2);

    /* vigilctl tail shows the lift order. */
    const char *tail[] = {"tail",         "--brokers", bs,      "--topic", "vigil.orders",
                          "--timeout-ms", "3000",      "--max", "1",       NULL};
    struct run t = run_ctl(tail);
    if (t.status != 0)
        fail_msg("tail exited %d: %s", t.status, t.err);
    assert_int_equal(count_lines(t.out), 1);
    const char *o = t.out;
    assert_true(harness_json_str(o, "action", s, sizeof s) > 0);
    assert_string_equal(s, "lift");
    assert_true(harness_json_str(o, "lifts", s, sizeof s) > 0);
    assert_string_equal(s, "block_international");
    assert_true(harness_json_str(o, "account", s, sizeof s) > 0);
    assert_string_equal(s, ACC);
    assert_true(harness_json_str(o, "evidence.lifted_order_id", s, sizeof s) > 0);
    assert_string_equal(s, "ord-00000000000a1042");
    assert_true(harness_json_str(o, "detector", s, sizeof s) > 0);
    assert_string_equal(s, "toll_fraud");
    assert_true(harness_json_str(o, "rule", s, sizeof s) > 0);
    assert_string_equal(s, "operator.lift");
    assert_true(harness_json_str(o, "severity", s, sizeof s) > 0);
    assert_string_equal(s, "critical");
    assert_true(harness_json_str(o, "reason", s, sizeof s) > 0);
    assert_string_equal(s, "customer confirmed the traffic");
    assert_true(harness_json_str(o, "order_id", s, sizeof s) > 0);
    assert_memory_equal(s, "ord-", 4);
    assert_true(harness_json_array_has(o, "exempt", "112"));
    run_free(&t);

    /* Keyed by the account. */
    struct harness_msg *msgs = NULL;
    ssize_t got = harness_consume_all(bs, "vigil.orders", 2000, 2, &msgs);
    assert_int_equal(got, 1);
    assert_non_null(msgs[0].key);
    assert_string_equal(msgs[0].key, ACC);
    harness_msgs_free(msgs, (size_t)got);

    /* No such block any more: refused, exit 1, nothing produced. */
    l = run_ctl(lift);
    assert_int_equal(l.status, 1);
    assert_int_equal(count_lines(l.err), 1);
    assert_non_null(strstr(l.err, "no block_international block"));
    run_free(&l);
    got = harness_consume_all(bs, "vigil.orders", 2000, 2, &msgs);
    assert_int_equal(got, 1);
    harness_msgs_free(msgs, (size_t)got);

    /* Lifting the last block also takes the account out of the index. */
    const char *lift_sms[] = {"lift", "--brokers", bs, "--redis", addr, ACC, "block_sms", NULL};
    l = run_ctl(lift_sms);
    assert_int_equal(l.status, 0);
    run_free(&l);
    assert_false(harness_redis_exists(&r, "vigil:block:" ACC));
    assert_int_equal(harness_redis_int(&r, &n, "ZSCORE vigil:blocks %s", ACC), 0);
    assert_int_equal(n, 0); /* nil */
    got = harness_consume_all(bs, "vigil.orders", 2000, 3, &msgs);
    assert_int_equal(got, 2);
    assert_non_null(strstr(msgs[1].value, "\"lifts\":\"block_sms\""));
    assert_non_null(strstr(msgs[1].value, "\"detector\":\"bulk_sms\""));
    harness_msgs_free(msgs, (size_t)got);

    assert_int_equal(harness_broker_stop(&k), 0);
    harness_redis_fini(&r);
}

static void test_lift_undeliverable_leaves_redis(void **state)
{
    struct harness_redis r;
    const char *addr = harness_redis_start(&r, 0);
    char nowhere[64];
    long long n;

    HARNESS_ASSERT(addr != NULL);
    seed_redis(&r, (long long)wall_ms());
    /* A port nobody listens on: the lift cannot be delivered. */
    snprintf(nowhere, sizeof nowhere, "127.0.0.1:%d", harness_free_port());
    const char *lift[] = {
        "lift", "--brokers",           nowhere, "--redis", addr, "--timeout-ms", "1000",
        ACC,    "block_international", NULL};
    struct run l = run_ctl(lift);
    assert_int_equal(l.status, 1);
    assert_int_equal(count_lines(l.err), 1);
    assert_non_null(strstr(l.err, "not confirmed delivered"));
    run_free(&l);
    assert_int_equal(harness_redis_int(&r, &n, "HEXISTS vigil:block:%s block_international", ACC),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(harness_redis_int(&r, &n, "HLEN vigil:block:%s", ACC), 0);
    assert_int_equal(n, 5); /* two standing actions, an expired one, and their untils */
    harness_redis_fini(&r);
}

static void test_produce_and_tail(void **state)
{
    struct harness_broker k;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    const char *const broker_args[] = {"--brokers", "1", "--topic", "t.samples:4", NULL};
    const char *bs = harness_broker_start(&k, broker_args);

    HARNESS_ASSERT(bs != NULL);
    assert_int_equal(harness_mkdir("produce", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/in.jsonl", dir);
    write_file(path, "{\"v\":1,\"account\":\"acc-1\",\"n\":1}\n"
                     "{\"v\":1, \"account\" : \"acc-2\", \"n\":2}\n"
                     "\n"
                     "not json at all\n"
                     "{\"v\":1,\"account\":\"acc-1\",\"n\":3}\n");
    const char *produce[] = {"produce", "--brokers", bs, "--topic", "t.samples", path, NULL};
    struct run p = run_ctl(produce);
    if (p.status != 0)
        fail_msg("produce exited %d: %s", p.status, p.err);
    assert_string_equal(p.out, "produced 4 messages to t.samples\n");
    run_free(&p);

    struct harness_msg *msgs = NULL;
    ssize_t got = harness_consume_all(bs, "t.samples", 2000, 5, &msgs);
    assert_int_equal(got, 4);
    int acc1 = 0, acc2 = 0, nokey = 0;
    for (ssize_t i = 0; i < got; i++) {
        if (msgs[i].key == NULL) {
            nokey++;
            assert_string_equal(msgs[i].value, "not json at all");
        } else if (strcmp(msgs[i].key, "acc-1") == 0) {
            acc1++;
        } else if (strcmp(msgs[i].key, "acc-2") == 0) {
            acc2++;
        }
    }
    assert_int_equal(acc1, 2);
    assert_int_equal(acc2, 1);
    assert_int_equal(nokey, 1);
    harness_msgs_free(msgs, (size_t)got);

    /* tail: every message once, then stops after the silence. */
    const char *tail[] = {"tail",      "--brokers",    bs,     "--topic",
                          "t.samples", "--timeout-ms", "1500", NULL};
    struct run t = run_ctl(tail);
    assert_int_equal(t.status, 0);
    assert_int_equal(count_lines(t.out), 4);
    assert_int_equal(count_substr(t.out, "\"account\":\"acc-1\""), 2);
    assert_non_null(strstr(t.out, "not json at all\n"));
    run_free(&t);

    /* A topic that does not exist: exit 1, one line. */
    const char *tail_missing[] = {"tail",          "--brokers",    bs,    "--topic",
                                  "no.such.topic", "--timeout-ms", "500", NULL};
    t = run_ctl(tail_missing);
    assert_int_equal(t.status, 1);
    assert_int_equal(count_lines(t.err), 1);
    run_free(&t);

    assert_int_equal(harness_broker_stop(&k), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_help_and_flags, harness_teardown),
        cmocka_unit_test_teardown(test_replay_one_order_deterministic, harness_teardown),
        cmocka_unit_test_teardown(test_replay_dead_letters_continue, harness_teardown),
        cmocka_unit_test_teardown(test_show_and_blocks, harness_teardown),
        cmocka_unit_test_teardown(test_lift, harness_teardown),
        cmocka_unit_test_teardown(test_lift_undeliverable_leaves_redis, harness_teardown),
        cmocka_unit_test_teardown(test_produce_and_tail, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, harness_teardown);
}
