/* SPDX-License-Identifier: Apache-2.0 */
/* test_detectors_contract.c - what every registered detector owes the pipeline, checked
 * through the vtable only: a unique name that vigil_detector_find returns, well-formed
 * config keys under its own section, and init -> on_event -> on_tick -> destroy on events
 * of every kind parsed from the wire format, with destroy(NULL) a no-op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detector_fixture.h"

#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/emit.h"
#include "vigil/event.h"
#include "vigil/numplan.h"

#define T0 1795402746539LL

/* Every wire event type and direction, the spec's examples among them. */
static const char *const events[] = {
    "{\"v\":1,\"type\":\"call_start\",\"id\":\"e-7f3a\",\"ts\":1795402746539,"
    "\"account\":\"acc-1042\",\"call_id\":\"c-9\",\"from\":\"+31201234567\","
    "\"to\":\"+5351234567\",\"dir\":\"out\",\"device\":\"pbx-1042/trunk1\","
    "\"src_ip\":\"203.0.113.5\"}",
    "{\"v\":1,\"type\":\"call_end\",\"id\":\"e-7f3b\",\"ts\":1795402912539,"
    "\"account\":\"acc-1042\",\"call_id\":\"c-9\",\"from\":\"+31201234567\","
    "\"to\":\"+5351234567\",\"dir\":\"out\",\"duration\":166}",
    "{\"v\":1,\"type\":\"sms\",\"id\":\"e-7f3c\",\"ts\":1795402746600,\"account\":\"acc-1042\","
    "\"from\":\"+31612345678\",\"to\":\"0687654321\",\"segments\":1,"
    "\"body_hash\":\"9f86d081884c7d65\"}",
    "{\"v\":1,\"type\":\"call_start\",\"id\":\"e-in\",\"ts\":1795402750000,"
    "\"account\":\"acc-1042\",\"call_id\":\"c-in\",\"from\":\"+4930123456\","
    "\"to\":\"+319001234567\",\"dir\":\"in\",\"country\":\"NL\"}",
    "{\"v\":1,\"type\":\"call_end\",\"id\":\"e-lost\",\"ts\":1795402760000,"
    "\"account\":\"acc-1042\",\"call_id\":\"c-lost\",\"from\":\"+31201234567\","
    "\"to\":\"112\",\"dir\":\"out\",\"duration\":0,\"answered\":false,\"cost\":0}",
};

static size_t n_writes;

static int count_write(void *ctx, const struct vigil_out_record *rec)
{
    (void)ctx;
    assert_non_null(rec->account);
    assert_non_null(rec->detector);
    assert_non_null(vigil_detector_find(rec->detector));
    n_writes++;
    return 0;
}

struct keyset {
    const char *names[512];
    size_t n;
};

static void collect_key(const struct vigil_config_key *k, void *arg)
{
    struct keyset *ks = arg;
    if (ks->n < 512)
        ks->names[ks->n++] = k->name;
}

static bool known_key(const struct keyset *ks, const char *name)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->names[i], name) == 0)
            return true;
    }
    return false;
}

static void test_registry(void **unused)
{
    (void)unused;
    size_t n = vigil_detector_count();
    assert_true(n >= 1);
    assert_null(vigil_detector_get(n));
    assert_null(vigil_detector_find("no_such_detector"));
    assert_null(vigil_detector_find(""));
    assert_null(vigil_detector_find(NULL));
    assert_non_null(vigil_detector_find("toll_fraud"));
    for (size_t i = 0; i < n; i++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(i);
        assert_non_null(ops);
        assert_non_null(ops->name);
        assert_true(strlen(ops->name) > 0);
        assert_ptr_equal(vigil_detector_find(ops->name), ops);
        assert_non_null(ops->init);
        assert_non_null(ops->on_event);
        assert_non_null(ops->on_tick);
        assert_non_null(ops->destroy);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(vigil_detector_get(j)->name, ops->name);
    }
}

/* Keys are "<detector>.<key>", typed, with a default and a doc line, and the configuration
 * knows every one of them. */
static void test_keys(void **unused)
{
    (void)unused;
    static struct keyset ks;
    ks.n = 0;
    vigil_config_foreach_key(collect_key, &ks);
    for (size_t i = 0; i < vigil_detector_count(); i++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(i);
        size_t len = strlen(ops->name);
        for (const struct vigil_config_key *k = ops->keys; k && k->name; k++) {
            if (strncmp(k->name, ops->name, len) != 0 || k->name[len] != '.' ||
                k->name[len + 1] == '\0')
                fail_msg("%s: key '%s' is not in section '%s'", ops->name, k->name, ops->name);
            assert_true(k->type >= VIGIL_CFG_INT && k->type <= VIGIL_CFG_LIST);
            assert_non_null(k->def);
            assert_non_null(k->doc);
            assert_true(strlen(k->doc) > 0);
            if (k->type == VIGIL_CFG_INT) {
                long long def = strtoll(k->def, NULL, 10);
                assert_true(k->min <= def && def <= k->max);
            }
            assert_true(known_key(&ks, k->name));
        }
    }
}

/* Rules are "<detector>.<rule>", at least one per detector, each declared once. */
static void test_rules(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < vigil_detector_count(); i++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(i);
        size_t len = strlen(ops->name), n = 0;
        assert_non_null(ops->rules);
        for (const char *const *r = ops->rules; *r; r++, n++) {
            if (strncmp(*r, ops->name, len) != 0 || (*r)[len] != '.' || (*r)[len + 1] == '\0')
                fail_msg("%s: rule '%s' is not '%s.<rule>'", ops->name, *r, ops->name);
            for (const char *const *q = ops->rules; q < r; q++)
                assert_string_not_equal(*q, *r);
        }
        assert_true(n > 0);
    }
}

static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return T0;
}

static void test_lifecycle(void **unused)
{
    (void)unused;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    char err[256];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    assert_non_null(np);
    struct vigil_sink sink = {.ctx = NULL, .write = count_write};
    struct vigil_emit *out = vigil_emit_create(cfg, sink, fixed_clock, NULL);
    assert_non_null(out);
    struct vigil_detector_env env = {.cfg = cfg, .numplan = np};

    struct vigil_event evs[sizeof events / sizeof events[0]];
    struct vigil_parse_opts opts = {.default_cc = "31", .now_ms = 0};
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
        struct vigil_parse_error perr;
        if (vigil_event_parse(events[e], strlen(events[e]), "acc-1042", 8, &opts, &evs[e], &perr) !=
            0)
            fail_msg("event %zu: %s", e, perr.reason);
    }

    for (size_t i = 0; i < vigil_detector_count(); i++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(i);
        ops->destroy(NULL);

        /* Two states of one detector (two workers) are independent. */
        void *a = NULL, *b = NULL;
        assert_int_equal(ops->init(&a, &env), 0);
        assert_non_null(a);
        assert_int_equal(ops->init(&b, &env), 0);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);

        /* A tick before any event, every event (twice: at-least-once delivery), ticks as
         * the watermark moves over the hour and the day. */
        assert_int_equal(ops->on_tick(a, 0, out), 0);
        for (int rep = 0; rep < 2; rep++) {
            for (size_t e = 0; e < sizeof evs / sizeof evs[0]; e++)
                assert_int_equal(ops->on_event(a, &evs[e], out), 0);
        }
        assert_int_equal(ops->on_event(b, &evs[0], out), 0);
        assert_int_equal(ops->on_tick(a, T0 - 60000, out), 0);
        assert_int_equal(ops->on_tick(a, T0 + 3600000, out), 0);
        assert_int_equal(ops->on_tick(a, T0 + 2 * 86400000LL, out), 0);
        assert_int_equal(ops->on_tick(b, T0, out), 0);

        ops->destroy(a);
        ops->destroy(b);
    }
    /* Something was published (counters at least), and only for registered detectors. */
    assert_true(n_writes > 0);

    vigil_emit_destroy(out);
    vigil_numplan_destroy(np);
    vigil_config_destroy(cfg);
}

/* Every detector keeps its per-account state in the account records it is given: it declares
 * at least one slot there; with every detector on one set of records, the events of one
 * account make one record (the engine's lookup, taken by them), which every detector's
 * forget gives back; the owner destroys the records before the states. */
static void test_account_records(void **unused)
{
    (void)unused;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "profiles.consumer", "acc-1042", "test"), 0);
    char err[256];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    assert_non_null(np);
    struct vigil_profiles *pr = vigil_profiles_create(cfg);
    assert_non_null(pr);
    struct vigil_sink sink = {.ctx = NULL, .write = count_write};
    struct vigil_emit *out = vigil_emit_create(cfg, sink, fixed_clock, NULL);
    assert_non_null(out);
    struct vigil_recs *recs = vigil_recs_create(0);
    assert_non_null(recs);
    struct vigil_detector_env env = {.cfg = cfg, .numplan = np, .profiles = pr, .recs = recs};
    size_t n = vigil_detector_count();
    void *st[32] = {0};
    assert_true(n <= 32);
    for (size_t i = 0; i < n; i++) {
        size_t before = vigil_recs_slots(recs);
        assert_int_equal(vigil_detector_get(i)->init(&st[i], &env), 0);
        if (vigil_recs_slots(recs) <= before)
            fail_msg("%s declares no slot in the account records", vigil_detector_get(i)->name);
    }
    struct vigil_parse_opts opts = {.default_cc = "31", .now_ms = 0};
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
        struct vigil_event ev;
        struct vigil_parse_error perr;
        if (vigil_event_parse(events[e], strlen(events[e]), "acc-1042", 8, &opts, &ev, &perr) != 0)
            fail_msg("event %zu: %s", e, perr.reason);
        assert_int_equal(vigil_recs_enter(recs, &ev), 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(vigil_detector_get(i)->on_event(st[i], &ev, out), 0);
        vigil_recs_leave(recs);
        assert_int_equal(vigil_recs_count(recs), 1);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vigil_detector_get(i)->on_tick(st[i], T0, out), 0);
    assert_int_equal(vigil_recs_count(recs), 1);
    for (size_t i = 0; i < n; i++)
        vigil_detector_get(i)->forget(st[i], "acc-1042");
    assert_int_equal(vigil_recs_count(recs), 0);
    vigil_recs_destroy(recs);
    for (size_t i = 0; i < n; i++)
        vigil_detector_get(i)->destroy(st[i]);
    vigil_emit_destroy(out);
    vigil_profiles_destroy(pr);
    vigil_numplan_destroy(np);
    vigil_config_destroy(cfg);
}

/* init without what it needs fails cleanly, leaving *state NULL or destroyable. */
static void test_init_needs_env(void **unused)
{
    (void)unused;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    for (size_t i = 0; i < vigil_detector_count(); i++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(i);
        void *st = NULL;
        struct vigil_detector_env env = {.cfg = cfg, .numplan = NULL};
        if (ops->init(&st, &env) == 0)
            assert_non_null(st); /* a detector that needs no number plan */
        ops->destroy(st);
    }
    vigil_config_destroy(cfg);
}

/* Events older than a watermark already reached (a partition's backlog) leave the windows
 * where they put them until a tick moves the watermark; after resweep, a tick at the same
 * watermark expires them. Every detector has resweep; the hourly and shorter windows of the
 * account read 0 three hours on, and some of them did count the events before. */
static void test_resweep_expires_late_windows(void **unused)
{
    (void)unused;
    int64_t wm = T0 + 3 * 3600000LL;
    bool counted = false;
    for (size_t i = 0; i < vigil_detector_count(); i++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(i);
        assert_non_null(ops->resweep);
        struct fx *fx = fx_create(ops->name, NULL, 64, T0);
        fx_feed_json(fx, "acc-ahead",
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"e-ahead\",\"ts\":1795413546539,"
                     "\"account\":\"acc-ahead\",\"from\":\"+31612345678\","
                     "\"to\":\"0687654321\"}");
        fx_tick(fx, wm);
        for (size_t e = 0; e < sizeof events / sizeof events[0]; e++)
            fx_feed_json(fx, "acc-1042", events[e]);
        fx_tick(fx, wm);
        const struct fx_rec *r = fx_last_counters(fx, "acc-1042");
        for (size_t c = 0; r && c < r->n_counters; c++) {
            const char *name = r->counters[c].name;
            if ((strstr(name, "_1h") || strstr(name, "_15m")) && r->counters[c].value != 0)
                counted = true;
        }
        ops->resweep(fx->st);
        fx_tick(fx, wm);
        r = fx_last_counters(fx, "acc-1042");
        for (size_t c = 0; r && c < r->n_counters; c++) {
            const char *name = r->counters[c].name;
            if ((strstr(name, "_1h") || strstr(name, "_15m")) && r->counters[c].value != 0)
                fail_msg("%s: %s = %lld after resweep at +3 h", ops->name, name,
                         (long long)r->counters[c].value);
        }
        fx_destroy(fx);
    }
    assert_true(counted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_account_records),
        cmocka_unit_test(test_init_needs_env),
        cmocka_unit_test(test_resweep_expires_late_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
