/* SPDX-License-Identifier: Apache-2.0 */
/* itest_privacy.c - privacy.pseudonymise = 1 end to end: real vigil-broker, redis-server and
 * vigild over traffic with a toll-fraud burst, a range scan, an SMS blast, traffic pumping to
 * a premium number and malformed messages; then no number the run used may appear in any
 * Redis key or value, on the orders, alerts or dead-letter topics, in /metrics or in vigild's
 * log, and a number has one token across alerts, which vigilctl reveal finds among
 * candidates. Also:
 * pseudonymisation without a key file stops vigild at start with one clear line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "harness.h"
#include "vigil/privacy.h"

/* Monday 2026-11-02 10:00 Amsterdam: office hours. */
#define T0 1793610000000LL
#define KEY_HEX "8f14e45fceea167a5a36dedd4bea2543"

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

/* Every number the run sends, in the forms to look for: as sent, E.164, digits only. */
#define FORMS_MAX 512
static char *forms[FORMS_MAX];
static size_t n_forms;

static void forbid(const char *s)
{
    for (size_t i = 0; i < n_forms; i++)
        if (strcmp(forms[i], s) == 0)
            return;
    assert_true(n_forms < FORMS_MAX);
    forms[n_forms++] = strdup(s);
}

/* The numbers as sent, for the control. */
static char *raws[FORMS_MAX];
static size_t n_raws;

/* raw as sent and its E.164 form; both also digits only. */
static void forbid_number(const char *raw, const char *e164)
{
    assert_true(n_raws < FORMS_MAX);
    raws[n_raws++] = strdup(raw);
    char d[64];
    const char *both[] = {raw, e164};
    for (int k = 0; k < 2; k++) {
        forbid(both[k]);
        size_t n = 0;
        for (const char *p = both[k]; *p && n < sizeof d - 1; p++)
            if (*p >= '0' && *p <= '9')
                d[n++] = *p;
        d[n] = '\0';
        forbid(d);
    }
}

static void send_event(const char *account, const char *json)
{
    harness_send_event(E.prod, account, json);
}

static void call(const char *type, const char *account, const char *id, int64_t ts,
                 const char *from, const char *to, const char *dir, const char *extra)
{
    char json[640];
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"%s\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
             "\"call_id\":\"c-%s\",\"from\":\"%s\",\"to\":\"%s\",\"dir\":\"%s\"%s}",
             type, id, (long long)ts, account, id, from, to, dir, extra);
    send_event(account, json);
}

/* Finds which forbidden form occurs in buf[0..len), or NULL. */
static const char *leak_in(const char *buf, size_t len)
{
    for (size_t i = 0; i < n_forms; i++)
        if (memmem(buf, len, forms[i], strlen(forms[i])) != NULL)
            return forms[i];
    return NULL;
}

static int leaks;

static void check(const char *where, const char *what, const char *buf, size_t len)
{
    const char *f = leak_in(buf, len);
    if (f) {
        print_error("number '%s' in the clear in %s %s: %.*s\n", f, where, what,
                    (int)(len > 300 ? 300 : len), buf);
        leaks++;
    }
}

static void check_reply(const char *key, const redisReply *r)
{
    if (r == NULL)
        return;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        check("Redis value of", key, r->str, r->len);
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            check_reply(key, r->element[i]);
}

static size_t scan_redis(void)
{
    redisReply *keys = harness_redis_cmd(&E.redis, "KEYS *");
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        check("Redis key", "", k, keys->element[i]->len);
        redisReply *t = harness_redis_cmd(&E.redis, "TYPE %s", k);
        assert_non_null(t);
        redisReply *v = NULL;
        if (strcmp(t->str, "string") == 0)
            v = harness_redis_cmd(&E.redis, "GET %s", k);
        else if (strcmp(t->str, "hash") == 0)
            v = harness_redis_cmd(&E.redis, "HGETALL %s", k);
        else if (strcmp(t->str, "zset") == 0)
            v = harness_redis_cmd(&E.redis, "ZRANGE %s 0 -1 WITHSCORES", k);
        else if (strcmp(t->str, "set") == 0)
            v = harness_redis_cmd(&E.redis, "SMEMBERS %s", k);
        else if (strcmp(t->str, "list") == 0)
            v = harness_redis_cmd(&E.redis, "LRANGE %s 0 -1", k);
        else
            fail_msg("key %s of type %s not scanned", k, t->str);
        check_reply(k, v);
        freeReplyObject(v);
        freeReplyObject(t);
    }
    size_t n = keys->elements;
    freeReplyObject(keys);
    return n;
}

static ssize_t scan_topic(const char *topic, struct harness_msg **msgs)
{
    ssize_t n = harness_consume_all(E.broker.bootstrap, topic, 3000, 0, msgs);
    for (ssize_t i = 0; i < n; i++) {
        if ((*msgs)[i].key)
            check(topic, "key", (*msgs)[i].key, (*msgs)[i].key_len);
        check(topic, "message", (*msgs)[i].value, (*msgs)[i].value_len);
    }
    return n;
}

/* GET http://127.0.0.1:port/metrics: the whole answer (malloc'd), or NULL. */
static char *scrape_metrics(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t r;
    while (len < cap - 1 && (r = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    return buf;
}

static void write_key(char *path, size_t n)
{
    char dir[PATH_MAX - 32];
    assert_int_equal(harness_mkdir("privacy", dir, sizeof dir), 0);
    snprintf(path, n, "%s/number.key", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(KEY_HEX "\n", f);
    fclose(f);
}

static void token_of(const char *e164, char *tok)
{
    uint8_t key[VIGIL_PRIVACY_KEY_LEN];
    char err[200];
    char path[PATH_MAX];
    write_key(path, sizeof path);
    assert_int_equal(vigil_privacy_read_key(path, key, err, sizeof err), 0);
    vigil_privacy_token_with(key, e164, strlen(e164), tok);
}

static void test_no_number_leaves_in_the_clear(void **state)
{
    (void)state;
    char id[64], num[64], e164[64];
    /* A hacked PBX: 12 parallel calls to Cuba and satellite numbers. */
    static const char *dest[] = {"+5351234567", "+8816123456", "+5352345678", "+252612345678"};
    forbid_number("020-1234567", "+31201234567");
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "tf-%d", i);
        call("call_start", "acc-tf", id, T0 + i * 5000, "020-1234567", dest[i % 4], "out", "");
        forbid_number(dest[i % 4], dest[i % 4]);
    }
    /* A range scan: 12 unanswered attempts in +53 5987 65xx. */
    forbid_number("0031 30 7654321", "+31307654321");
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "sq-%d", i);
        snprintf(num, sizeof num, "00535987650%02d", i);
        snprintf(e164, sizeof e164, "+535987650%02d", i);
        call("call_end", "acc-scan", id, T0 + i * 3000, "0031 30 7654321", num, "out",
             ",\"duration\":0,\"answered\":false");
        forbid_number(num, e164);
    }
    /* An SMS blast from one number (sent in national form) to 120 recipients. */
    forbid_number("06 1234 5678", "+31612345678");
    for (int i = 0; i < 120; i++) {
        char json[512];
        snprintf(num, sizeof num, "+316200%05d", 17 * i + 3);
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"sms\",\"id\":\"sms-%d\",\"ts\":%lld,\"account\":\"acc-sms\","
                 "\"from\":\"06 1234 5678\",\"to\":\"%s\",\"body_hash\":\"4e07408562bedb8b\"}",
                 i, (long long)(T0 + i * 2000), num);
        send_event("acc-sms", json);
        forbid_number(num, num);
    }
    /* Traffic pumping: 110 short inbound calls from 40 callers to a 0900 number. */
    forbid_number("0900-1234567", "+319001234567");
    for (int i = 0; i < 110; i++) {
        snprintf(id, sizeof id, "pm-%d", i);
        snprintf(num, sizeof num, "+3165%07d", 7331 * (i % 40) + 11);
        call("call_end", "acc-prem", id, T0 + i * 10000, num, "0900-1234567", "in",
             ",\"duration\":20");
        forbid_number(num, num);
    }
    /* Malformed messages with numbers in them: dead letters. */
    forbid_number("+31 6 5555 1234", "+31655551234");
    forbid_number("06-55551235", "+31655551235");
    forbid_number("+31655551236", "+31655551236");
    send_event("acc-bad", "{\"v\":1,\"type\":\"sms\",\"id\":\"bad-1\",\"ts\":1793610000000,"
                          "\"account\":\"acc-bad\",\"from\":\"+31 6 5555 1234\","
                          "\"to\":\"06-55551235\",\"segments\":0}");
    send_event("acc-bad", "{\"v\":1,\"type\":\"sms\",\"from\":\"+31655551236\" oops");
    send_event("acc-bad", "{\"v\":1,\"type\":\"sms\",\"id\":\"bad-3\",\"ts\":1793610000000,"
                          "\"account\":\"acc-bad\",\"from\":31655551236,\"to\":\"+31655551234\"}");
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);

    char key_path[PATH_MAX], set_key[PATH_MAX + 32], http[32];
    int port = harness_free_port();
    snprintf(http, sizeof http, "127.0.0.1:%d", port);
    write_key(key_path, sizeof key_path);
    snprintf(set_key, sizeof set_key, "privacy.key_file=%s", key_path);
    const char *argv[] = {harness_bin("vigild"),
                          "--brokers",
                          E.broker.bootstrap,
                          "--redis",
                          E.redis.addr,
                          "--group",
                          "g-privacy",
                          "--workers",
                          "2",
                          "--verbose",
                          "--http",
                          http,
                          "--set",
                          "privacy.pseudonymise=1",
                          "--set",
                          set_key,
                          "--set",
                          "vigild.checkpoint_interval_ms=200",
                          NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    struct harness_proc vd;
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-tf", 30000));
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-sms", 30000));
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-scan", 30000));
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:alerts:acc-prem", 30000));
    /* Every event read and committed: the checkpoints hold the states. */
    for (int i = 0; i < 600 && harness_committed_sum(E.broker.bootstrap, "g-privacy",
                                                     "vigil.events") < 12 + 12 + 120 + 110 + 3;
         i++)
        harness_sleep_ms(50);
    HARNESS_ASSERT(harness_committed_sum(E.broker.bootstrap, "g-privacy", "vigil.events") ==
                   12 + 12 + 120 + 110 + 3);
    /* The metrics, while it runs. */
    char *metrics = scrape_metrics(port);
    assert_non_null(metrics);
    assert_non_null(strstr(metrics, "vigil_"));
    check("/metrics", "", metrics, strlen(metrics));
    free(metrics);
    assert_int_equal(harness_proc_stop(&vd, 10000), 0);

    /* The control: the events topic (the provider's, not scanned for leaks) holds every
     * number in a form the scan looks for, so a scan that finds none means something. */
    struct harness_msg *events = NULL;
    ssize_t ne = harness_consume_all(E.broker.bootstrap, "vigil.events", 3000, 0, &events);
    assert_int_equal(ne, 12 + 12 + 120 + 110 + 3);
    for (size_t f = 0; f < n_raws; f++) {
        bool seen = false;
        for (ssize_t i = 0; i < ne && !seen; i++)
            seen = memmem(events[i].value, events[i].value_len, raws[f], strlen(raws[f]));
        if (!seen)
            fail_msg("'%s' not in the events: the scan would not see it", raws[f]);
    }
    harness_msgs_free(events, (size_t)ne);

    /* Redis: every key, every value. */
    size_t nkeys = scan_redis();
    assert_true(nkeys > 5);
    HARNESS_ASSERT(harness_redis_exists(&E.redis, "vigil:flagged"));

    /* The outputs: orders, alerts, dead letters. */
    struct harness_msg *orders = NULL, *alerts = NULL, *dl = NULL;
    ssize_t no = scan_topic("vigil.orders", &orders);
    ssize_t na = scan_topic("vigil.alerts", &alerts);
    ssize_t nd = scan_topic("vigil.dlq", &dl);
    assert_true(no >= 4);
    assert_true(na >= 4);
    assert_int_equal(nd, 3);
    for (ssize_t i = 0; i < nd; i++) {
        assert_false(harness_json_has(dl[i].value, "\"payload\""));
        assert_true(harness_json_has(dl[i].value, "\"payload_redacted\""));
    }

    /* The log. */
    size_t loglen = 0;
    char *log = harness_read_file(vd.err_path, &loglen);
    assert_non_null(log);
    check("vigild's log", "", log, loglen);
    assert_non_null(strstr(log, "pseudonymised"));
    free(log);
    if (leaks)
        harness_dump_logs(20);
    assert_int_equal(leaks, 0);

    /* One token per number: the SMS sender's in each of its alerts, the service number's in
     * the pumping alerts and the same as in the dead letter's redacted payload for a
     * number seen there. */
    char sender[VIGIL_PRIVACY_TOKEN_LEN + 1], service[VIGIL_PRIVACY_TOKEN_LEN + 1];
    char dlnum[VIGIL_PRIVACY_TOKEN_LEN + 1];
    token_of("+31612345678", sender);
    token_of("+319001234567", service);
    token_of("+31655551235", dlnum);
    int sms_alerts = 0, prem_alerts = 0;
    for (ssize_t i = 0; i < na; i++) {
        char reason[512];
        if (harness_json_str(alerts[i].value, "reason", reason, sizeof reason) <= 0)
            continue;
        if (strcmp(alerts[i].key, "acc-sms") == 0 &&
            harness_json_has(alerts[i].value, "\"detector\":\"bulk_sms\"")) {
            assert_non_null(strstr(reason, sender));
            sms_alerts++;
        }
        if (strcmp(alerts[i].key, "acc-prem") == 0 &&
            harness_json_has(alerts[i].value, "\"rule\":\"premium.inbound_pumping\"")) {
            if (strstr(reason, service) == NULL)
                fail_msg("want %s in: %s", service, reason);
            prem_alerts++;
        }
    }
    assert_true(sms_alerts >= 2);
    assert_true(prem_alerts >= 1);
    bool dl_token = false;
    for (ssize_t i = 0; i < nd; i++)
        dl_token = dl_token || strstr(dl[i].value, dlnum) != NULL;
    assert_true(dl_token);
    /* vigilctl reveal: the sender's token among candidates, given as a CDR would. */
    char cand[PATH_MAX + 16];
    snprintf(cand, sizeof cand, "%s.candidates", key_path);
    FILE *cf = fopen(cand, "w");
    assert_non_null(cf);
    fputs("+31201234567\n06 1234 5678\n0900-1234567\n", cf);
    fclose(cf);
    const char *rv[] = {harness_bin("vigilctl"),
                        "reveal",
                        "--key-file",
                        key_path,
                        "--numbers",
                        cand,
                        sender,
                        service,
                        NULL};
    struct harness_proc rp;
    assert_int_equal(harness_proc_start(&rp, rv, NULL), 0);
    char line[256], want[256];
    snprintf(want, sizeof want, "%s +31612345678", sender);
    assert_true(harness_proc_read_line(&rp, line, sizeof line, 20000) > 0);
    assert_string_equal(line, want);
    snprintf(want, sizeof want, "%s +319001234567", service);
    assert_true(harness_proc_read_line(&rp, line, sizeof line, 20000) > 0);
    assert_string_equal(line, want);
    int st = -1;
    HARNESS_ASSERT(harness_proc_wait(&rp, 20000, &st));
    assert_int_equal(st, 0);

    harness_msgs_free(orders, (size_t)no);
    harness_msgs_free(alerts, (size_t)na);
    harness_msgs_free(dl, (size_t)nd);
    for (size_t i = 0; i < n_forms; i++)
        free(forms[i]);
    n_forms = 0;
    for (size_t i = 0; i < n_raws; i++)
        free(raws[i]);
    n_raws = 0;
}

static void test_key_file_required(void **state)
{
    (void)state;
    const char *argv[] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap,       "--redis",
                          E.redis.addr,          "--set",     "privacy.pseudonymise=1", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    struct harness_proc vd;
    assert_int_equal(harness_proc_start(&vd, argv, &o), 0);
    int status = -1;
    HARNESS_ASSERT(harness_proc_wait(&vd, 20000, &status));
    assert_int_equal(status, 1);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "privacy.key_file"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_number_leaves_in_the_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_required, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
