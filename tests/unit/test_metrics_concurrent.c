/* SPDX-License-Identifier: Apache-2.0 */
/* test_metrics_concurrent.c - the labelled output counters of metrics.h: counted from the
 * outputs' JSON, and read by another thread while the publisher's thread writes them (run
 * under ThreadSanitizer in CI: label "concurrency"). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

#define ROUNDS 20000
#define RULES 40

struct sum {
    uint64_t total;
    size_t rows;
    bool bad;
};

static void add_row(const char *l1, const char *l2, uint64_t v, void *arg)
{
    struct sum *s = arg;
    s->total += v;
    s->rows++;
    /* A published row's labels are complete and never change. */
    if (strcmp(l1, "warning") != 0 || strncmp(l2, "rule.r", 6) != 0)
        s->bad = true;
}

static void alert_json(char *buf, size_t n, int i)
{
    snprintf(buf, n,
             "{\"v\":1,\"alert_id\":\"alr-1\",\"account\":\"acc-%d\",\"detector\":\"rule\","
             "\"rule\":\"rule.r%d\",\"severity\":\"warning\",\"reason\":\"a \\\"quoted\\\" "
             "reason\",\"evidence\":{\"rule\":\"not.this.one\",\"n\":3}}",
             i, i % RULES);
}

static void *writer(void *arg)
{
    struct vigil_metrics *m = arg;
    char json[512];
    for (int i = 0; i < ROUNDS; i++) {
        alert_json(json, sizeof json, i);
        vigil_metrics_output(m, VIGIL_METRICS_ALERT, json, strlen(json));
    }
    return NULL;
}

static void test_reader_sees_consistent_rows_while_written(void **state)
{
    (void)state;
    struct vigil_metrics *m = vigil_metrics_create();
    assert_non_null(m);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, m), 0);
    uint64_t last = 0;
    for (int k = 0; k < 2000; k++) {
        struct sum s = {0};
        vigil_metrics_foreach(m, VIGIL_METRIC_ALERTS, add_row, &s);
        assert_false(s.bad);
        assert_true(s.rows <= RULES);
        assert_true(s.total >= last); /* counters only grow */
        last = s.total;
    }
    pthread_join(t, NULL);
    struct sum s = {0};
    vigil_metrics_foreach(m, VIGIL_METRIC_ALERTS, add_row, &s);
    assert_int_equal(s.rows, RULES);
    assert_int_equal(s.total, ROUNDS);
    vigil_metrics_destroy(m);
}

static void test_fields_and_families(void **state)
{
    (void)state;
    struct vigil_metrics *m = vigil_metrics_create();
    assert_non_null(m);
    static const char dead[] = "{\"v\":1,\"reason\":\"missing_field:call_id\",\"detail\":\"x\"}";
    vigil_metrics_output(m, VIGIL_METRICS_DEAD, dead, sizeof dead - 1);
    vigil_metrics_output(m, VIGIL_METRICS_DEAD, dead, sizeof dead - 1);
    static const char held[] = "{\"rule\":\"a.b\",\"severity\":\"critical\",\"account\":\"x\","
                               "\"order_id\":\"ord-1\",\"action\":\"suspend\",\"reason\":\"r\","
                               "\"held\":\"brake\"}";
    vigil_metrics_output(m, VIGIL_METRICS_ALERT, held, sizeof held - 1);
    struct sum s = {0};
    vigil_metrics_foreach(m, VIGIL_METRIC_ALERTS, add_row, &s);
    assert_int_equal(s.total, 1);
    assert_int_equal(m->rows[0].family, VIGIL_METRIC_DEAD);
    assert_string_equal(m->rows[0].l1, "missing_field:call_id");
    assert_int_equal(atomic_load(&m->rows[0].value), 2);
    assert_string_equal(m->rows[2].l1, "brake");
    assert_int_equal(m->rows[2].family, VIGIL_METRIC_HELD);

    /* Top-level fields only, escapes decoded. */
    char out[64];
    char json[512];
    alert_json(json, sizeof json, 7);
    vigil_json_field(json, strlen(json), "rule", out, sizeof out);
    assert_string_equal(out, "rule.r7");
    vigil_json_field(json, strlen(json), "reason", out, sizeof out);
    assert_string_equal(out, "a \"quoted\" reason");
    vigil_json_field(json, strlen(json), "n", out, sizeof out);
    assert_string_equal(out, "");
    vigil_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_sees_consistent_rows_while_written),
        cmocka_unit_test(test_fields_and_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
