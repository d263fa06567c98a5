/* SPDX-License-Identifier: Apache-2.0 */
/* test_engine.c - the detection loop vigild's workers and vigilctl replay share: repeats
 * dropped before anything sees them, the owner's hooks and every detector in their order,
 * a flagged account's new number flagged at once, ticks, `behind` and resweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dedupe.h"
#include "engine.h"
#include "vigil/detector.h"
#include "vigil/event.h"
#include "vigil/flagged.h"
#include "vigil/status.h"

#define T0 1793610000000LL
#define HOUR 3600000LL

/* What the hooks and the two recording detectors saw, in order. */
struct seen {
    char log[512];
    uint64_t numbers[VIGIL_FLAGGED_NUMBERS];
    int64_t flagged_until, now_ms;
    uint64_t flagged_number, id_hash;
    int fails;
    int64_t last_wm;
};

static void put(struct seen *s, const char *what)
{
    strncat(s->log, what, sizeof s->log - strlen(s->log) - 1);
    strncat(s->log, " ", sizeof s->log - strlen(s->log) - 1);
}

static int rec_a_event(void *st, const struct vigil_event *ev, struct vigil_emit *out)
{
    put(st, "A");
    return 0;
}

static int rec_b_event(void *st, const struct vigil_event *ev, struct vigil_emit *out)
{
    put(st, "B");
    return VIGIL_ERR_NOMEM; /* reported through `failed`; the loop goes on */
}

static int rec_tick(void *st, int64_t wm, struct vigil_emit *out)
{
    ((struct seen *)st)->last_wm = wm;
    put(st, "tick");
    return 0;
}

static void rec_resweep(void *st)
{
    put(st, "resweep");
}

static const struct vigil_detector_ops rec_a = {.name = "rec_a", .on_event = rec_a_event,
                                                .on_tick = rec_tick, .resweep = rec_resweep};
static const struct vigil_detector_ops rec_b = {.name = "rec_b", .on_event = rec_b_event,
                                                .on_tick = rec_tick};

static void h_accept(void *ctx, const struct vigil_event *ev, uint64_t id_hash)
{
    struct seen *s = ctx;
    s->id_hash = id_hash;
    put(s, "accept");
}

static int h_account(void *ctx, const struct vigil_event *ev, struct vigil_engine_acct *out)
{
    struct seen *s = ctx;
    put(s, "account");
    out->numbers = s->numbers;
    out->flagged_until = s->flagged_until;
    out->now_ms = s->now_ms;
    return 0;
}

static void h_flag(void *ctx, const char *account, uint64_t number, int64_t until_ms)
{
    struct seen *s = ctx;
    s->flagged_number = number;
    put(s, "flag");
}

static void h_failed(void *ctx, const char *detector, const struct vigil_event *ev, int rc)
{
    struct seen *s = ctx;
    assert_string_equal(detector, "rec_b");
    assert_int_equal(rc, VIGIL_ERR_NOMEM);
    s->fails++;
}

static struct vigil_event outbound(const char *id, const char *from, int64_t ts)
{
    struct vigil_event ev = {.type = VIGIL_EV_CALL_START, .dir = VIGIL_DIR_OUT, .ts_ms = ts};
    snprintf(ev.id, sizeof ev.id, "%s", id);
    snprintf(ev.account, sizeof ev.account, "acc-1");
    snprintf(ev.call_id, sizeof ev.call_id, "c-%s", id);
    snprintf(ev.from, sizeof ev.from, "%s", from);
    snprintf(ev.to, sizeof ev.to, "+31201234567");
    return ev;
}

static void test_order_and_repeats(void **state)
{
    struct seen s = {0};
    struct vigil_dedupe *dd = vigil_dedupe_create(HOUR, 1000);
    assert_non_null(dd);
    struct vigil_engine e;
    vigil_engine_init(&e, dd,
                      &(struct vigil_engine_hooks){.ctx = &s, .accept = h_accept,
                                                   .account = h_account, .flag = h_flag,
                                                   .failed = h_failed});
    const struct vigil_detector_ops *ops[] = {&rec_a, &rec_b};
    void *states[] = {&s, &s};
    struct vigil_engine_dets d = {.n = 2, .ops = ops, .states = states};

    struct vigil_event ev = outbound("e-1", "+31612345678", T0);
    assert_int_equal(vigil_engine_event(&e, &d, &ev, T0), VIGIL_ENGINE_RAN);
    assert_string_equal(s.log, "accept account A B ");
    assert_int_equal(s.id_hash, vigil_dedupe_hash("acc-1", "e-1"));
    assert_int_equal(s.fails, 1);
    /* The account's number is remembered; it is not flagged (no order flags the account). */
    assert_int_equal(s.numbers[0], vigil_flagged_hash("+31612345678"));
    assert_int_equal(s.flagged_number, 0);

    /* A repeat of the id: nothing sees it. */
    s.log[0] = '\0';
    assert_int_equal(vigil_engine_event(&e, &d, &ev, T0 + 1000), VIGIL_ENGINE_REPEAT);
    assert_string_equal(s.log, "");
    vigil_dedupe_destroy(dd);
}

static void test_flagged_account_new_number(void **state)
{
    struct seen s = {.flagged_until = T0 + HOUR, .now_ms = T0};
    struct vigil_engine e;
    vigil_engine_init(&e, NULL,
                      &(struct vigil_engine_hooks){.ctx = &s, .account = h_account,
                                                   .flag = h_flag});
    const struct vigil_detector_ops *ops[] = {&rec_a};
    void *states[] = {&s};
    struct vigil_engine_dets d = {.n = 1, .ops = ops, .states = states};

    struct vigil_event ev = outbound("e-1", "+31612345678", T0);
    assert_int_equal(vigil_engine_event(&e, &d, &ev, T0), VIGIL_ENGINE_RAN);
    /* Flagged before the detectors see the event: an order it trips finds it flagged. */
    assert_string_equal(s.log, "account flag A ");
    assert_int_equal(s.flagged_number, vigil_flagged_hash("+31612345678"));
    /* Without a dedupe, the same id runs again. */
    assert_int_equal(vigil_engine_event(&e, &d, &ev, T0), VIGIL_ENGINE_RAN);

    /* Once the order no longer stands, a new number is not flagged. */
    s.flagged_number = 0;
    s.now_ms = T0 + HOUR;
    ev = outbound("e-2", "+31687654321", T0 + 1);
    assert_int_equal(vigil_engine_event(&e, &d, &ev, T0), VIGIL_ENGINE_RAN);
    assert_int_equal(s.flagged_number, 0);
}

static void test_ticks_behind_resweep(void **state)
{
    struct seen s = {0};
    struct vigil_engine e;
    vigil_engine_init(&e, NULL, NULL);
    const struct vigil_detector_ops *ops[] = {&rec_a, &rec_b};
    void *states[] = {&s, &s};
    struct vigil_engine_dets d = {.n = 2, .ops = ops, .states = states};

    assert_int_equal(e.last_tick_wm, INT64_MIN);
    vigil_engine_tick(&e, &d, T0, false);
    assert_int_equal(e.last_tick_wm, T0);
    assert_int_equal(s.last_wm, T0);
    assert_false(e.in_tick);

    /* An event older than the last tick's watermark: behind, until a resweep. */
    struct vigil_event ev = outbound("e-1", "+31612345678", T0 + 5);
    vigil_engine_event(&e, &d, &ev, T0);
    assert_false(e.behind);
    ev = outbound("e-2", "+31612345678", T0 - 5);
    vigil_engine_event(&e, &d, &ev, T0);
    assert_true(e.behind);
    s.log[0] = '\0';
    vigil_engine_tick(&e, &d, T0, false);
    assert_true(e.behind);
    assert_string_equal(s.log, "tick tick ");
    s.log[0] = '\0';
    vigil_engine_tick(&e, &d, T0, true);
    assert_false(e.behind);
    /* Only detectors that have a resweep are asked; each sweeps before its own tick. */
    assert_string_equal(s.log, "resweep tick tick ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_repeats),
        cmocka_unit_test(test_flagged_account_new_number),
        cmocka_unit_test(test_ticks_behind_resweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
