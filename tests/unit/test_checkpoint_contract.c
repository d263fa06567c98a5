/* SPDX-License-Identifier: Apache-2.0 */
/* test_checkpoint_contract.c - what every registered detector's checkpoints owe vigild
 * (detector.h), checked through the vtable only: generated traffic is fed to two fixtures;
 * halfway, one of them saves every account, its detector state is replaced by a fresh one
 * and the saved bytes are loaded into it; from then on both must write the same orders and
 * alerts, to the byte, and end with the same counters. On the way, bytes a detector must
 * refuse (truncated, extended, another version, garbage) are offered to the fresh state: a
 * refused load changes nothing (the account saves the same bytes as before). save appends
 * after what its buffer holds, the same bytes each time, and nothing for an account the
 * detector does not hold. The per-detector tests keep the scenarios (which rule fires on
 * which side of a restart, timers re-armed, load over held state, forget). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detector_fixture.h"

#include "vigil/credit.h"
#include "vigil/detector.h"
#include "vigil/status.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define T0 1795392000000LL /* a UTC midnight */
#define N_ACCTS 10
#define N_EVENTS 4000
#define MAX_RECS 20000
#define OPEN_MAX 24

/* Profiles for some accounts, so that profile-bound rules (resale: consumer only) see them;
 * credit limits for all of them. */
static const char *const sets[] = {"profiles.consumer", "acc-0 acc-1 acc-2", NULL};

struct gen {
    uint64_t x;
    int64_t ts;
    int n;
    struct {
        char call_id[24];
        int64_t start;
        int dir_in, kind;
    } open[N_ACCTS][OPEN_MAX];
    int n_open[N_ACCTS];
};

static uint32_t rnd(struct gen *g, uint32_t n)
{
    g->x = g->x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(g->x >> 33) % n;
}

/* The destination of call kind k: 0 high-risk (Cuba), 1 satellite, 2 domestic landline,
 * 3 premium rate, 4 mobile. */
static void callee(struct gen *g, int k, char *to, size_t n)
{
    static const char *const prefix[] = {"+53512", "+8821600", "+3120", "+31900", "+316"};
    snprintf(to, n, "%s%06u", prefix[k], rnd(g, k == 3 ? 20 : 1000000));
}

/* The next event of the stream, fed to every fixture in fx[0..nfx); a tick every 5 minutes
 * of event time, at the newest time minus a minute of allowed disorder. */
static void gen_step(struct gen *g, struct fx **fx, int nfx)
{
    int64_t before = g->ts;
    g->ts += 1000 + rnd(g, 4000);
    int a = (int)rnd(g, N_ACCTS);
    char acc[16], id[32], to[32], from[32], extra[160];
    snprintf(acc, sizeof acc, "acc-%d", a);
    snprintf(id, sizeof id, "e-%d", g->n++);
    uint32_t what = rnd(g, 100);
    if (what < 40 && g->n_open[a] < OPEN_MAX) {
        /* A call starts: outbound to anything, or inbound to the account's premium line. */
        int in = rnd(g, 5) == 0, k = (int)rnd(g, 5);
        int slot = g->n_open[a]++;
        snprintf(g->open[a][slot].call_id, sizeof g->open[a][slot].call_id, "c-%d", g->n);
        g->open[a][slot].start = g->ts;
        g->open[a][slot].dir_in = in;
        g->open[a][slot].kind = k;
        if (in) {
            snprintf(from, sizeof from, "+4930%06u", rnd(g, 50));
            snprintf(to, sizeof to, "+3190012345%02d", a);
        } else {
            snprintf(from, sizeof from, "+3120%07d", a);
            callee(g, k, to, sizeof to);
        }
        snprintf(extra, sizeof extra, ",\"device\":\"dev-%d-%u\",\"country\":\"%s\"", a, rnd(g, 4),
                 rnd(g, 3) ? "NL" : "DE");
        for (int i = 0; i < nfx; i++)
            fx_feed_call(fx[i], "call_start", in ? "in" : "out", acc, id, g->open[a][slot].call_id,
                         g->ts, from, to, extra);
    } else if (what < 75 && g->n_open[a] > 0) {
        /* The end of one of its open calls, or a repeated start of it (ignored). */
        int slot = (int)rnd(g, (uint32_t)g->n_open[a]);
        bool repeat = rnd(g, 20) == 0;
        int64_t dur = (g->ts - g->open[a][slot].start) / 1000;
        if (g->open[a][slot].dir_in) {
            snprintf(from, sizeof from, "+4930%06u", rnd(g, 50));
            snprintf(to, sizeof to, "+3190012345%02d", a);
        } else {
            snprintf(from, sizeof from, "+3120%07d", a);
            callee(g, g->open[a][slot].kind, to, sizeof to);
        }
        snprintf(extra, sizeof extra, ",\"duration\":%lld,\"answered\":%s",
                 repeat ? 0LL : (long long)dur, rnd(g, 8) ? "true" : "false");
        for (int i = 0; i < nfx; i++)
            fx_feed_call(fx[i], repeat ? "call_start" : "call_end",
                         g->open[a][slot].dir_in ? "in" : "out", acc, id, g->open[a][slot].call_id,
                         g->ts, from, to, repeat ? "" : extra);
        if (!repeat)
            g->open[a][slot] = g->open[a][--g->n_open[a]];
    } else {
        /* SMS, often the same text to many numbers: one, or a burst of ten. */
        int burst = rnd(g, 2) ? 10 : 1;
        unsigned body = rnd(g, 3), to_n = rnd(g, 100000);
        for (int k = 0; k < burst; k++) {
            for (int i = 0; i < nfx; i++)
                fx_feed(fx[i], acc,
                        "{\"v\":1,\"type\":\"sms\",\"id\":\"%s-%d\",\"ts\":%lld,"
                        "\"account\":\"%s\",\"from\":\"+316%08d\",\"to\":\"+316%08u\","
                        "\"segments\":%d,\"body_hash\":\"b%u\"}",
                        id, k, (long long)(g->ts + k * 100), acc, a, to_n + (unsigned)k, 1 + k % 2,
                        body);
        }
        g->ts += burst * 100;
    }
    if (g->ts / (5 * MIN) != before / (5 * MIN)) {
        for (int i = 0; i < nfx; i++)
            fx_tick(fx[i], g->ts - MIN);
    }
}

static void set_limits(struct fx *fx)
{
    for (int a = 0; a < N_ACCTS; a++) {
        char acc[16];
        snprintf(acc, sizeof acc, "acc-%d", a);
        assert_int_equal(vigil_credit_set(fx->credit, vigil_credit_hash(acc),
                                          2000LL * (a + 1) * (a + 1) * (a + 1), T0 - 3 * DAY),
                         0);
    }
}

/* Replaces fx's detector state by a fresh one, as a restarted vigild has. */
static void fresh_state(struct fx *fx)
{
    vigil_recs_destroy(fx->recs); /* the old state's records go with it */
    fx->ops->destroy(fx->st);
    fx->st = NULL;
    fx->recs = vigil_recs_create(0);
    assert_non_null(fx->recs);
    struct vigil_detector_env env = {.cfg = fx->cfg,
                                     .numplan = fx->np,
                                     .profiles = fx->pr,
                                     .flagged = fx->flagged,
                                     .credit = fx->credit,
                                     .recs = fx->recs};
    assert_int_equal(fx->ops->init(&fx->st, &env), 0);
}

static void save(struct fx *fx, const char *account, struct vigil_bytes *b)
{
    b->len = 0;
    assert_int_equal(fx->ops->save(fx->st, account, b), 0);
}

/* Offers bad bytes for `account`, which holds what `good` loaded and saves as *held: a
 * refusal must change nothing (the account saves *held again); garbage a detector happens to
 * accept is replaced by good again (and *held taken afresh). */
static void offer(struct fx *fx, const char *account, const unsigned char *p, size_t len,
                  const struct vigil_bytes *good, struct vigil_bytes *held, bool must_refuse,
                  size_t *refused)
{
    int rc = fx->ops->load(fx->st, account, p, len);
    if (must_refuse && rc == 0)
        fail_msg("%s: %zu bytes of %zu loaded for %s", fx->ops->name, len, good->len, account);
    if (rc == 0) {
        assert_int_equal(fx->ops->load(fx->st, account, good->p, good->len), 0);
        save(fx, account, held);
        return;
    }
    assert_int_equal(rc, VIGIL_ERR_INVALID);
    (*refused)++;
    struct vigil_bytes now = {0};
    save(fx, account, &now);
    if (now.len != held->len || memcmp(now.p, held->p, now.len) != 0)
        fail_msg("%s: a refused load of %zu bytes changed %s", fx->ops->name, len, account);
    vigil_bytes_fini(&now);
}

/* Truncated, extended, another version byte, garbage behind the right one. */
static size_t offer_bad_bytes(struct fx *fx, const char *account, const struct vigil_bytes *good,
                              struct gen *g)
{
    size_t refused = 0, n = good->len;
    unsigned char *p = malloc(n + 64);
    assert_non_null(p);
    struct vigil_bytes held = {0};
    save(fx, account, &held);
    assert_true(held.len > 0);
    /* From 1: no bytes at all are what save writes for an account it does not hold, which
     * some detectors load as forget. */
    for (size_t len = 1; len < n; len++) {
        memcpy(p, good->p, len);
        offer(fx, account, p, len, good, &held, true, &refused);
    }
    memcpy(p, good->p, n);
    p[n] = 0;
    offer(fx, account, p, n + 1, good, &held, true, &refused);
    for (int v = 1; v < 256; v += 37) {
        memcpy(p, good->p, n);
        p[0] = (unsigned char)(good->p[0] + v);
        offer(fx, account, p, n, good, &held, true, &refused);
    }
    for (int round = 0; round < 50; round++) {
        size_t len = 1 + rnd(g, (uint32_t)n + 63);
        for (size_t i = 0; i < len; i++)
            p[i] = (unsigned char)rnd(g, 256);
        p[0] = good->p[0];
        offer(fx, account, p, len, good, &held, false, &refused);
    }
    vigil_bytes_fini(&held);
    free(p);
    return refused;
}

/* The contract for one detector: see the file comment. */
static void check_detector(const struct vigil_detector_ops *ops)
{
    struct fx *ref = fx_create(ops->name, sets, MAX_RECS, T0 + 40 * DAY);
    struct fx *run = fx_create(ops->name, sets, MAX_RECS, T0 + 40 * DAY);
    set_limits(ref);
    set_limits(run);
    struct fx *both[] = {ref, run};
    struct gen g = {.x = 42, .ts = T0 + 22 * HOUR}; /* the restart before midnight */
    for (int i = 0; i < N_EVENTS / 2; i++)
        gen_step(&g, both, 2);

    /* Restart: every account saved, a fresh state, every account loaded back. */
    struct vigil_bytes saved[N_ACCTS] = {{0}};
    char acc[N_ACCTS][16];
    size_t n_saved = 0, bytes = 0;
    for (int a = 0; a < N_ACCTS; a++) {
        snprintf(acc[a], sizeof acc[a], "acc-%d", a);
        save(run, acc[a], &saved[a]);
    }
    /* save appends after what out holds, changes nothing (twice: the same bytes twice), and
     * appends nothing for an account the detector does not hold. */
    struct vigil_bytes two = {0};
    assert_int_equal(vigil_bytes_put(&two, "xyz", 3), 0);
    for (int a = 0; a < N_ACCTS; a++) {
        two.len = 3;
        assert_int_equal(ops->save(run->st, acc[a], &two), 0);
        assert_int_equal(ops->save(run->st, acc[a], &two), 0);
        assert_int_equal(two.len, 3 + 2 * saved[a].len);
        assert_memory_equal(two.p, "xyz", 3);
        if (saved[a].len) {
            assert_memory_equal(two.p + 3, saved[a].p, saved[a].len);
            assert_memory_equal(two.p + 3 + saved[a].len, saved[a].p, saved[a].len);
        }
    }
    two.len = 3;
    assert_int_equal(ops->save(run->st, "acc-never-seen", &two), 0);
    assert_int_equal(ops->save(run->st, "", &two), 0);
    assert_int_equal(two.len, 3);
    vigil_bytes_fini(&two);
    fresh_state(run);
    size_t refused = 0;
    struct gen junk = {.x = 7}; /* its own numbers: the traffic after does not depend on them */
    for (int a = 0; a < N_ACCTS; a++) {
        if (saved[a].len == 0)
            continue;
        n_saved++;
        bytes += saved[a].len;
        /* No account is named "": its bytes are refused there. */
        assert_int_equal(ops->load(run->st, "", saved[a].p, saved[a].len), VIGIL_ERR_INVALID);
        assert_int_equal(ops->load(run->st, acc[a], saved[a].p, saved[a].len), 0);
        refused += offer_bad_bytes(run, acc[a], &saved[a], &junk);
    }
    assert_true(n_saved > 0);

    size_t ref_from = ref->cap.n, run_from = run->cap.n;
    for (int i = N_EVENTS / 2; i < N_EVENTS; i++)
        gen_step(&g, both, 2);
    fx_tick(ref, g.ts + DAY);
    fx_tick(run, g.ts + DAY);
    size_t same = fx_assert_same_findings(run, run_from, ref, ref_from);

    /* The counters each account ends with. */
    size_t counters = 0;
    for (size_t i = 0; i < ref->cap.n; i++) {
        const struct fx_rec *r = &ref->cap.recs[i];
        for (size_t k = 0; r->kind == VIGIL_OUT_COUNTERS && k < r->n_counters; k++) {
            const char *name = r->counters[k].name;
            int64_t want = fx_latest(ref, r->account, name), got = fx_latest(run, r->account, name);
            if (want != got)
                fail_msg("%s: counter %s of %s is %lld after the restart, %lld without", ops->name,
                         name, r->account, (long long)got, (long long)want);
            counters++;
        }
    }
    size_t findings = 0;
    for (size_t i = 0; fx_next_finding(ref, &i);)
        findings++;
    fprintf(stderr,
            "%s: %zu accounts saved (%zu bytes), %zu bad loads refused; %zu findings in all, "
            "%zu after the restart the same; %zu counter values compared\n",
            ops->name, n_saved, bytes, refused, findings, same, counters);
    if (same == 0) /* the traffic makes every detector report after the restart too */
        fail_msg("%s: nothing reported after the restart", ops->name);
    for (int a = 0; a < N_ACCTS; a++)
        vigil_bytes_fini(&saved[a]);
    fx_destroy(ref);
    fx_destroy(run);
}

static void test_every_detector_restarts_the_same(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < vigil_detector_count(); i++)
        check_detector(vigil_detector_get(i));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_detector_restarts_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
