/* SPDX-License-Identifier: Apache-2.0 */
/* itest_noc.c - what the NOC sees of a running vigild: /metrics (checked by promtool and
 * against what the run produced), /healthz and /readyz (Redis stopped and started again),
 * alerts delivered to a real Alertmanager and to a webhook receiver in this test.
 *
 * Real vigil-broker, redis-server, vigild (and prometheus-alertmanager); every wait polls
 * with a generous timeout, nothing asserts on timing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* Monday 2026-11-02 10:00 Amsterdam: office hours. */
#define T0 1793610000000LL
#define WAIT_MS 60000

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

static void send_event(const char *account, const char *json)
{
    harness_send_event(E.prod, account, json);
}

static void call_start(const char *account, int i, int64_t ts, const char *to)
{
    harness_call_start(E.prod, account, i, ts, to, "pbx/trunk1");
}

static void call_end(const char *account, int i, int64_t ts, const char *to, int duration)
{
    harness_call_end(E.prod, account, i, ts, to, duration);
}

/* A hacked PBX: n parallel calls to Cuba and satellite numbers, 5 s apart (the 8th orders). */
static void toll_burst(const char *account, int n, int64_t t0)
{
    static const char *dest[] = {"+5351234567", "+8816123456", "+5352345678", "+252612345678"};
    for (int i = 0; i < n; i++)
        call_start(account, i, t0 + i * 5000, dest[i % 4]);
}

static void background(const char *account, int n, int64_t t0)
{
    for (int i = 0; i < n; i++) {
        call_start(account, 100 + i, t0 + i * 60000, "+31207654321");
        call_end(account, 100 + i, t0 + i * 60000 + 45000, "+31207654321", 45);
    }
}

/* ---- a minimal HTTP client ----------------------------------------------------------------- */

/* GET (or POST with body) http://127.0.0.1:port/path; returns the status (-1: no answer) and
 * the body in *body (malloc'd, caller frees; may be NULL). */
static int http_do(int port, const char *method, const char *path, const char *body,
                   char **out)
{
    if (out)
        *out = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char req[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, blen);
    if (write(fd, req, (size_t)n) != n || (blen && write(fd, body, blen) != (ssize_t)blen)) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
        free(buf);
        return -1;
    }
    char *b = strstr(buf, "\r\n\r\n");
    if (out) {
        *out = strdup(b ? b + 4 : "");
    }
    free(buf);
    return status;
}

static int http_get(int port, const char *path, char **out)
{
    return http_do(port, "GET", path, NULL, out);
}

/* The value of the sample `series` (name with its labels, exactly as exposed), or -1. */
static double metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, series, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    }
    return -1;
}

static char *scrape(int port)
{
    char *body = NULL;
    int st = http_get(port, "/metrics", &body);
    if (st != 200) {
        free(body);
        return NULL;
    }
    return body;
}

static void start_vigild(struct harness_proc *p, const char *group, int http_port,
                         const char *const extra[])
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", http_port);
    const char *argv[40] = {harness_bin("vigild"), "--brokers", E.broker.bootstrap, "--redis",
                            E.redis.addr, "--group", group, "--workers", "2",
                            "--http", listen,
                            "--set", "kafka.session_timeout_ms=6000",
                            "--set", "kafka.heartbeat_interval_ms=500",
                            /* the run's orders by rule: block orders only */
                            "--set", "credit.interim_on_critical=0"};
    size_t k = 17;
    for (size_t i = 0; extra && extra[i] && k < 38; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(p, argv, &o), 0);
}

/* Polls path until it answers `want`; returns the last body (caller frees). */
static char *wait_status(int port, const char *path, int want, int timeout_ms)
{
    int64_t until = harness_now_ms() + timeout_ms;
    char *body = NULL;
    for (;;) {
        free(body);
        int st = http_get(port, path, &body);
        if (st == want || harness_now_ms() > until)
            return st == want ? body : (free(body), NULL);
        harness_sleep_ms(200);
    }
}

/* ---- /metrics, /healthz, /readyz ------------------------------------------------------------ */

static void test_metrics_agree_with_the_run(void **state)
{
    (void)state;
    toll_burst("acc-fraud", 12, T0 + 60000);
    background("acc-normal", 10, T0 + 30000);
    for (int i = 0; i < 3; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"v\":1,\"type\":\"fax\",\"id\":\"f%d\",\"ts\":%lld,\"account\":\"acc-x\","
                 "\"from\":\"+31612345678\",\"to\":\"+31687654321\"}",
                 i, (long long)T0);
        send_event("acc-x", json);
    }
    send_event("acc-x", "this is not json");
    send_event("acc-x", "nor is this");
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    const int read_want = 12 + 20 + 5;

    int port = harness_free_port();
    struct harness_proc vd;
    start_vigild(&vd, "g-metrics", port, NULL);
    char *ready = wait_status(port, "/readyz", 200, WAIT_MS);
    HARNESS_ASSERT(ready != NULL);
    assert_non_null(strstr(ready, "ready"));
    free(ready);
    char *health = wait_status(port, "/healthz", 200, WAIT_MS);
    HARNESS_ASSERT(health != NULL);
    free(health);
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-fraud", WAIT_MS));

    /* Every output counted: poll until the counters reach what was sent. */
    char *m = NULL;
    int64_t until = harness_now_ms() + WAIT_MS;
    for (;;) {
        free(m);
        m = scrape(port);
        HARNESS_ASSERT(m != NULL);
        if ((metric(m, "vigil_events_read_total") == read_want &&
             metric(m, "vigil_events_dead_lettered_total") == 5 &&
             metric(m, "vigil_orders_total{action=\"block_international\",rule=\"toll_fraud."
                       "concurrent_high_risk\"}") == 1 &&
             metric(m, "vigil_watermark_age_seconds") > 0 &&
             strstr(m, "vigil_consumer_lag_events{")) ||
            harness_now_ms() > until)
            break;
        harness_sleep_ms(250);
    }
    assert_int_equal((int)metric(m, "vigil_events_read_total"), read_want);
    assert_int_equal((int)metric(m, "vigil_events_valid_total"), 32);
    assert_int_equal((int)metric(m, "vigil_events_dead_lettered_total"), 5);
    assert_int_equal((int)metric(m, "vigil_dead_letters_total{reason=\"bad_type\"}"), 3);
    assert_int_equal((int)metric(m, "vigil_dead_letters_total{reason=\"json_syntax\"}"), 2);
    assert_int_equal((int)metric(m, "vigil_events_repeats_dropped_total"), 0);
    assert_int_equal((int)metric(m, "vigil_orders_total{action=\"block_international\","
                                    "rule=\"toll_fraud.concurrent_high_risk\"}"),
                     1);
    assert_int_equal((int)metric(m, "vigil_partitions_assigned"), 8);
    assert_int_equal((int)metric(m, "vigil_redis_up"), 1);
    assert_int_equal((int)metric(m, "vigil_kafka_up"), 1);
    assert_true(metric(m, "vigil_accounts_in_memory") >= 2);
    assert_true(metric(m, "vigil_watermark_age_seconds") > 0);
    assert_true(metric(m, "vigil_process_resident_memory_bytes") > 1e6);
    assert_non_null(strstr(m, "vigil_consumer_lag_events{topic=\"vigil.events\",partition=\""));

    /* Alerts by severity and rule: exactly what is on the alerts topic. */
    struct harness_msg *alerts = NULL;
    ssize_t na = harness_consume_all(E.broker.bootstrap, "vigil.alerts", 3000, 100, &alerts);
    HARNESS_ASSERT(na >= 1);
    int crit = 0, warn = 0;
    for (ssize_t i = 0; i < na; i++) {
        char sev[32], rule[64];
        assert_true(harness_json_str(alerts[i].value, "severity", sev, sizeof sev) > 0);
        assert_true(harness_json_str(alerts[i].value, "rule", rule, sizeof rule) > 0);
        if (strcmp(rule, "toll_fraud.concurrent_high_risk") == 0)
        {
            if (strcmp(sev, "critical") == 0)
                crit++;
            else
                warn++;
        }
    }
    harness_msgs_free(alerts, (size_t)na);
    assert_int_equal(crit, 1);
    assert_int_equal((int)metric(m, "vigil_alerts_total{severity=\"critical\",rule=\"toll_fraud."
                                    "concurrent_high_risk\"}"),
                     crit);
    assert_int_equal((int)metric(m, "vigil_alerts_total{severity=\"warning\",rule=\"toll_fraud."
                                    "concurrent_high_risk\"}"),
                     warn ? warn : -1);

    /* promtool accepts the live scrape. */
    char path[PATH_MAX], cmd[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/metrics.txt", harness_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(m, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("promtool check metrics refused the scrape (%s)", path);
    free(m);

    /* Redis stopped: not ready, with the reason; started again: ready. The process stays
     * healthy throughout. */
    assert_int_equal(harness_redis_stop(&E.redis), 0);
    char *why = wait_status(port, "/readyz", 503, WAIT_MS);
    HARNESS_ASSERT(why != NULL);
    if (!strstr(why, "Redis"))
        fail_msg("/readyz said '%s'", why);
    assert_non_null(strchr(why, '\n'));
    assert_true(strchr(why, '\n')[1] == '\0'); /* one line */
    free(why);
    assert_int_equal(http_get(port, "/healthz", NULL), 200);
    m = scrape(port);
    assert_non_null(m);
    assert_int_equal((int)metric(m, "vigil_redis_up"), 0);
    free(m);
    assert_int_equal(harness_redis_restart(&E.redis), 0);
    ready = wait_status(port, "/readyz", 200, WAIT_MS);
    HARNESS_ASSERT(ready != NULL);
    free(ready);
    assert_int_equal(http_get(port, "/nothing", NULL), 404);

    assert_int_equal(harness_proc_stop(&vd, 15000), 0);

    /* One line per order for people: account, action, rule, order id, event time as
     * ISO-8601 UTC and epoch ms. */
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    const char *line = strstr(log, "issued: account acc-fraud, action block_international, "
                                   "rule toll_fraud.concurrent_high_risk, event time 2026-11-02T");
    if (!line)
        fail_msg("no order line in the log");
    assert_non_null(strstr(log, " vigild info: order ord-"));
    free(log);
}

static void test_json_log_lines(void **state)
{
    (void)state;
    toll_burst("acc-json", 12, T0 + 60000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    const char *extra[] = {"--set", "log.format=json", NULL};
    struct harness_proc vd;
    start_vigild(&vd, "g-json", harness_free_port(), extra);
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-json", WAIT_MS));
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    int lines = 0, orders = 0;
    for (char *l = strtok(log, "\n"); l; l = strtok(NULL, "\n")) {
        size_t n = strlen(l);
        if (n < 2 || l[0] != '{' || l[n - 1] != '}')
            fail_msg("not one JSON object per line: %s", l);
        long long ts;
        char level[16], msg[1024], time[64];
        assert_int_equal(harness_json_int(l, "ts", &ts), 0);
        assert_true(ts > 0);
        assert_true(harness_json_str(l, "time", time, sizeof time) > 0);
        assert_true(harness_json_str(l, "level", level, sizeof level) > 0);
        assert_true(harness_json_str(l, "msg", msg, sizeof msg) > 0);
        orders += strstr(msg, "issued: account acc-json, action block_international") != NULL;
        lines++;
    }
    free(log);
    assert_true(lines > 3);
    assert_int_equal(orders, 1);
}

/* ---- a webhook receiver: a thread that accepts POSTs and keeps their bodies ----------------- */

#define HOOK_MAX 256

struct hook {
    int fd, port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    char *bodies[HOOK_MAX];
    size_t n;
};

static void *hook_main(void *arg)
{
    struct hook *h = arg;
    while (!atomic_load(&h->stop)) {
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        struct timeval tv = {5, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap);
        char *body = NULL;
        long want = -1;
        for (;;) {
            ssize_t r = read(c, buf + len, cap - len - 1);
            if (r <= 0)
                break;
            len += (size_t)r;
            buf[len] = '\0';
            char *eoh = strstr(buf, "\r\n\r\n");
            if (eoh && want < 0) {
                char *cl = strcasestr(buf, "Content-Length:");
                want = cl ? strtol(cl + 15, NULL, 10) : 0;
                body = eoh + 4;
            }
            if (body && (long)(len - (size_t)(body - buf)) >= want)
                break;
            if (len + 1 >= cap)
                break;
        }
        static const char ok[] =
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (body && (long)(len - (size_t)(body - buf)) >= want) {
            pthread_mutex_lock(&h->mu);
            if (h->n < HOOK_MAX)
                h->bodies[h->n++] = strndup(body, (size_t)want);
            pthread_mutex_unlock(&h->mu);
            ssize_t w = write(c, ok, sizeof ok - 1);
            (void)w;
        }
        free(buf);
        close(c);
    }
    return NULL;
}

static void hook_start(struct hook *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(h->fd >= 0);
    int one = 1;
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct timeval tv = {0, 200000}; /* accept wakes up to see stop */
    setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(h->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(h->fd, (struct sockaddr *)&sa, &sl), 0);
    h->port = ntohs(sa.sin_port);
    assert_int_equal(listen(h->fd, 16), 0);
    assert_int_equal(pthread_create(&h->thread, NULL, hook_main, h), 0);
}

static size_t hook_count(struct hook *h)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

static void hook_stop(struct hook *h)
{
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    close(h->fd);
    for (size_t i = 0; i < h->n; i++)
        free(h->bodies[i]);
    pthread_mutex_destroy(&h->mu);
}

/* ---- a real Alertmanager ------------------------------------------------------------------ */

struct am {
    struct harness_proc proc;
    int port;
    char dir[PATH_MAX];
};

static void am_start(struct am *a, int port)
{
    char cfg[PATH_MAX + 32], arg_cfg[PATH_MAX + 64], arg_st[PATH_MAX + 64], arg_listen[64];
    if (port == 0) {
        memset(a, 0, sizeof *a);
        a->port = harness_free_port();
        assert_int_equal(harness_mkdir("alertmanager", a->dir, sizeof a->dir), 0);
    }
    snprintf(cfg, sizeof cfg, "%s/am.yml", a->dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n", f);
    fclose(f);
    snprintf(arg_cfg, sizeof arg_cfg, "--config.file=%s", cfg);
    snprintf(arg_st, sizeof arg_st, "--storage.path=%s/data", a->dir);
    snprintf(arg_listen, sizeof arg_listen, "--web.listen-address=127.0.0.1:%d", a->port);
    const char *argv[] = {"prometheus-alertmanager", arg_cfg, arg_st, arg_listen,
                          "--cluster.listen-address=", "--log.level=warn", NULL};
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL, .name = "alertmanager"};
    assert_int_equal(harness_proc_start(&a->proc, argv, &o), 0);
    int64_t until = harness_now_ms() + WAIT_MS;
    while (http_get(a->port, "/-/ready", NULL) != 200) {
        HARNESS_ASSERT(harness_now_ms() < until);
        harness_sleep_ms(200);
    }
}

/* The active alerts Alertmanager lists (caller frees), or NULL. */
static char *am_alerts(struct am *a)
{
    char *body = NULL;
    if (http_get(a->port, "/api/v2/alerts", &body) != 200) {
        free(body);
        return NULL;
    }
    return body;
}

/* Does the listing hold an alert with these labels? (Alertmanager writes each label as
 * "name":"value" inside the alert's "labels" object.) */
static bool am_has(const char *list, const char *rule, const char *severity, const char *account)
{
    char a[128], r[128], s[64];
    snprintf(a, sizeof a, "\"account\":\"%s\"", account);
    snprintf(r, sizeof r, "\"alertname\":\"%s\"", rule);
    snprintf(s, sizeof s, "\"severity\":\"%s\"", severity);
    /* Split into alerts at each "annotations": every alert object has one. */
    const char *at = list;
    while (at && (at = strstr(at, "\"annotations\"")) != NULL) {
        const char *next = strstr(at + 1, "\"annotations\"");
        size_t n = next ? (size_t)(next - at) : strlen(at);
        char *one = strndup(at, n);
        bool hit = strstr(one, a) && strstr(one, r) && strstr(one, s) &&
                   strstr(one, "\"detector\":\"");
        free(one);
        if (hit)
            return true;
        at = next;
    }
    return false;
}

static bool am_wait(struct am *a, const char *rule, const char *sev, const char *account,
                    bool present, int timeout_ms)
{
    int64_t until = harness_now_ms() + timeout_ms;
    for (;;) {
        char *l = am_alerts(a);
        bool has = l && am_has(l, rule, sev, account);
        free(l);
        if (has == present)
            return true;
        if (harness_now_ms() > until)
            return false;
        harness_sleep_ms(300);
    }
}

static void lift(const char *account, const char *action)
{
    const char *argv[] = {harness_bin("vigilctl"), "lift", "--brokers", E.broker.bootstrap,
                          "--redis", E.redis.addr, account, action, NULL};
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_NULL};
    assert_int_equal(harness_proc_start(&p, argv, &o), 0);
    int status = -1;
    assert_true(harness_proc_wait(&p, 20000, &status));
    assert_int_equal(status, 0);
}

static void test_alerts_reach_alertmanager_and_webhook(void **state)
{
    (void)state;
    struct am am;
    am_start(&am, 0);
    struct hook hook;
    hook_start(&hook);
    char am_url[64], wh_url[64], set_am[96], set_wh[96];
    snprintf(am_url, sizeof am_url, "http://127.0.0.1:%d", am.port);
    snprintf(wh_url, sizeof wh_url, "http://127.0.0.1:%d/hook", hook.port);
    snprintf(set_am, sizeof set_am, "alerts.alertmanager_url=%s", am_url);
    snprintf(set_wh, sizeof set_wh, "alerts.webhook_url=%s", wh_url);
    const char *extra[] = {"--set", set_am, "--set", set_wh, NULL};

    toll_burst("acc-am", 12, T0 + 60000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    int port = harness_free_port();
    struct harness_proc vd;
    start_vigild(&vd, "g-am", port, extra);
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-am", WAIT_MS));
    HARNESS_ASSERT(am_wait(&am, "toll_fraud.concurrent_high_risk", "critical", "acc-am", true,
                           WAIT_MS));
    char *l = am_alerts(&am);
    assert_non_null(l);
    assert_non_null(strstr(l, "\"detector\":\"toll_fraud\""));
    assert_non_null(strstr(l, "\"order_id\":\"ord-"));
    assert_non_null(strstr(l, "\"reason\":"));
    assert_non_null(strstr(l, "\"evidence\":"));
    free(l);

    /* Lifted: resolved at Alertmanager (no longer listed as active). */
    lift("acc-am", "block_international");
    HARNESS_ASSERT(am_wait(&am, "toll_fraud.concurrent_high_risk", "critical", "acc-am", false,
                           WAIT_MS));

    /* Alertmanager down for 10 s: detection goes on, and every alert of that time arrives
     * once it is back. */
    assert_int_equal(harness_proc_stop(&am.proc, 10000), 0);
    int64_t down_at = harness_now_ms();
    toll_burst("acc-am2", 12, T0 + 600000);
    toll_burst("acc-am3", 12, T0 + 600000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-am2", WAIT_MS));
    HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, "vigil:block:acc-am3", WAIT_MS));
    /* Detection did not wait for Alertmanager: both orders are out while it is down. */
    assert_true(harness_now_ms() - down_at < 60000);
    int64_t wait = 10000 - (harness_now_ms() - down_at);
    if (wait > 0)
        harness_sleep_ms((int)wait);
    am_start(&am, am.port);
    HARNESS_ASSERT(am_wait(&am, "toll_fraud.concurrent_high_risk", "critical", "acc-am2", true,
                           WAIT_MS));
    HARNESS_ASSERT(am_wait(&am, "toll_fraud.concurrent_high_risk", "critical", "acc-am3", true,
                           WAIT_MS));

    /* The webhook got every alert exactly as on the alerts topic, in the topic's order. */
    struct harness_msg *alerts = NULL;
    ssize_t na = harness_consume_all(E.broker.bootstrap, "vigil.alerts", 3000, 100, &alerts);
    HARNESS_ASSERT(na >= 3);
    int64_t until = harness_now_ms() + WAIT_MS;
    while (hook_count(&hook) < (size_t)na && harness_now_ms() < until)
        harness_sleep_ms(200);
    assert_int_equal(hook_count(&hook), (size_t)na);
    for (ssize_t i = 0; i < na; i++) {
        bool found = false;
        pthread_mutex_lock(&hook.mu);
        for (size_t j = 0; j < hook.n && !found; j++)
            found = strcmp(hook.bodies[j], alerts[i].value) == 0;
        pthread_mutex_unlock(&hook.mu);
        if (!found)
            fail_msg("alert not delivered to the webhook as on the topic: %.300s",
                     alerts[i].value);
    }
    harness_msgs_free(alerts, (size_t)na);

    char *m = scrape(port);
    assert_non_null(m);
    assert_true(metric(m, "vigil_alert_deliveries_total{receiver=\"alertmanager\"}") >= 3);
    assert_true(metric(m, "vigil_alert_delivery_failures_total{receiver=\"alertmanager\"}") >= 1);
    assert_int_equal((int)metric(m, "vigil_alert_delivery_dropped_total{receiver=\"webhook\"}"),
                     0);
    free(m);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    harness_proc_stop(&am.proc, 10000);
    hook_stop(&hook);
}

/* A receiver that never answers: detection goes on, and past alerts.delivery_backlog the
 * oldest alerts are dropped, counted and logged. */
static void test_backlog_bound_drops_are_counted(void **state)
{
    (void)state;
    char set_wh[96];
    snprintf(set_wh, sizeof set_wh, "alerts.webhook_url=http://127.0.0.1:%d/down",
             harness_free_port()); /* nothing listens there */
    const char *extra[] = {"--set", set_wh, "--set", "alerts.delivery_backlog=10", NULL};
    static const char *const acc[8] = {"acc-drop0", "acc-drop1", "acc-drop2", "acc-drop3",
                                       "acc-drop4", "acc-drop5", "acc-drop6", "acc-drop7"};
    for (int i = 0; i < 8; i++)
        toll_burst(acc[i], 12, T0 + 60000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    int port = harness_free_port();
    struct harness_proc vd;
    start_vigild(&vd, "g-drop", port, extra);
    for (int i = 0; i < 8; i++) {
        char key[64];
        snprintf(key, sizeof key, "vigil:block:acc-drop%d", i);
        HARNESS_ASSERT(harness_redis_wait_exists(&E.redis, key, WAIT_MS));
    }
    struct harness_msg *alerts = NULL;
    ssize_t na = harness_consume_all(E.broker.bootstrap, "vigil.alerts", 3000, 100, &alerts);
    harness_msgs_free(alerts, na > 0 ? (size_t)na : 0);
    HARNESS_ASSERT(na >= 16); /* a warning and a critical alert per account */
    char *m = NULL;
    int64_t until = harness_now_ms() + WAIT_MS;
    for (;;) {
        free(m);
        m = scrape(port);
        HARNESS_ASSERT(m != NULL);
        if (metric(m, "vigil_alert_delivery_dropped_total{receiver=\"webhook\"}") == na - 10 ||
            harness_now_ms() > until)
            break;
        harness_sleep_ms(250);
    }
    assert_int_equal((int)metric(m, "vigil_alert_delivery_dropped_total{receiver=\"webhook\"}"),
                     (int)na - 10);
    assert_int_equal((int)metric(m, "vigil_alert_delivery_backlog{receiver=\"webhook\"}"), 10);
    assert_true(metric(m, "vigil_alert_delivery_failures_total{receiver=\"webhook\"}") >= 1);
    assert_int_equal((int)metric(m, "vigil_alert_deliveries_total{receiver=\"webhook\"}"), 0);
    free(m);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
    char *log = harness_read_file(vd.err_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "alerts wait for the webhook; dropping the oldest"));
    free(log);
}

/* ---- vigilctl tail --follow and replay --compare ------------------------------------------- */

static void test_tail_follow_shows_a_new_order(void **state)
{
    (void)state;
    struct harness_proc vd;
    start_vigild(&vd, "g-tail", harness_free_port(), NULL);
    const char *argv[] = {harness_bin("vigilctl"), "tail", "--follow", "--brokers",
                          E.broker.bootstrap, "--account", "acc-tail", NULL};
    struct harness_proc t;
    assert_int_equal(harness_proc_start(&t, argv, NULL), 0);
    char line[2048];
    HARNESS_ASSERT(harness_proc_read_line(&t, line, sizeof line, WAIT_MS) > 0);
    assert_true(line[0] == '#'); /* following from the end now */

    toll_burst("acc-other", 12, T0 + 60000);
    toll_burst("acc-tail", 12, T0 + 60000);
    assert_int_equal(harness_producer_flush(E.prod, 10000), 0);
    bool order = false, alert = false;
    int64_t until = harness_now_ms() + WAIT_MS;
    while (!(order && alert) && harness_now_ms() < until) {
        if (harness_proc_read_line(&t, line, sizeof line, 1000) <= 0)
            continue;
        if (strstr(line, "acc-other"))
            fail_msg("--account acc-tail printed: %s", line);
        if (strstr(line, " ORDER  acc-tail  block_international  "
                         "toll_fraud.concurrent_high_risk  ord-"))
            order = true;
        if (strstr(line, " ALERT  acc-tail  critical  toll_fraud.concurrent_high_risk") &&
            strstr(line, "[order ord-"))
            alert = true;
    }
    HARNESS_ASSERT(order && alert);
    assert_int_equal(harness_proc_signal(&t, SIGTERM), 0);
    int status = -1;
    assert_true(harness_proc_wait(&t, 20000, &status));
    assert_int_equal(status, 0);
    assert_int_equal(harness_proc_stop(&vd, 15000), 0);
}

static void test_replay_compare_shows_the_order_a_lower_threshold_adds(void **state)
{
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/six-calls.jsonl", harness_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char *dest[] = {"+5351234567", "+8816123456", "+5352345678"};
    for (int i = 0; i < 6; i++) /* six parallel high-risk calls: a warning by default */
        fprintf(f,
                "{\"v\":1,\"type\":\"call_start\",\"id\":\"cmp-s%d\",\"ts\":%lld,\"account\":"
                "\"acc-cmp\",\"call_id\":\"cmp-c%d\",\"from\":\"+31201234567\",\"to\":\"%s\","
                "\"dir\":\"out\",\"device\":\"pbx/trunk1\"}\n",
                i, (long long)(T0 + 60000 + i * 5000), i, dest[i % 3]);
    fclose(f);
    /* B: the lower level, without the interim invoice a critical finding also asks for. */
    const char *argv[] = {harness_bin("vigilctl"), "replay", "--compare", "--set",
                          "toll_fraud.concurrent_high_risk=6", "--set",
                          "credit.interim_on_critical=0", path, NULL};
    struct harness_proc p;
    assert_int_equal(harness_proc_start(&p, argv, NULL), 0);
    char line[2048];
    bool gained = false, summary = false;
    while (harness_proc_read_line(&p, line, sizeof line, WAIT_MS) >= 0) {
        if (strncmp(line, "+ order  acc-cmp  block_international  "
                          "toll_fraud.concurrent_high_risk  event time 2026-11-02T",
                    94) == 0 &&
            strstr(line, "(only in B)"))
            gained = true;
        if (strstr(line, "A: 0 orders") && strstr(line, "B: 1 orders") &&
            strstr(line, "2 gained, 0 lost"))
            summary = true;
    }
    int status = -1;
    assert_true(harness_proc_wait(&p, 20000, &status));
    assert_int_equal(status, 0);
    assert_true(gained);
    assert_true(summary);

    /* Scored against a ground truth in vigil-sim's format: the lower threshold catches the
     * one abuse scenario, the default does not; the legitimate account is ordered by neither. */
    char truth[PATH_MAX + 16];
    snprintf(truth, sizeof truth, "%s.truth", path);
    f = fopen(truth, "w");
    assert_non_null(f);
    fprintf(f, "{\"scenario\":\"toll_concurrent\",\"account\":\"acc-cmp\","
               "\"action\":\"block_international\"}\n"
               "{\"scenario\":\"callcenter_busy\",\"account\":\"acc-legit\"}\n");
    fclose(f);
    const char *argv2[] = {harness_bin("vigilctl"), "replay", "--compare", "--set",
                           "toll_fraud.concurrent_high_risk=6", "--set",
                           "credit.interim_on_critical=0", "--truth", truth, path, NULL};
    assert_int_equal(harness_proc_start(&p, argv2, NULL), 0);
    bool score_a = false, score_b = false;
    while (harness_proc_read_line(&p, line, sizeof line, WAIT_MS) >= 0) {
        score_a = score_a || strstr(line, "truth A: 0 of 1 abuse scenarios ordered, 0 acc");
        score_b = score_b || strstr(line, "truth B: 1 of 1 abuse scenarios ordered, 0 acc");
    }
    assert_true(harness_proc_wait(&p, 20000, &status));
    assert_int_equal(status, 0);
    assert_true(score_a);
    assert_true(score_b);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_agree_with_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_log_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_follow_shows_a_new_order, setup, teardown),
        cmocka_unit_test(test_replay_compare_shows_the_order_a_lower_threshold_adds),
        cmocka_unit_test_setup_teardown(test_alerts_reach_alertmanager_and_webhook, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backlog_bound_drops_are_counted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
