/* SPDX-License-Identifier: Apache-2.0 */
/* itest_terms.c - the rules that serve the providers' terms (credit limit, interim invoice,
 * resale) through `vigilctl replay`: each caught in time, each leave-alone case left alone.
 *
 * One JSON-lines file holds weeks of traffic of a handful of accounts, sorted by time as a
 * stream brings it, with three filler accounts texting every ten minutes so the replay's clock
 * moves in steps a live stream would make. The credit limits come from a file in the format
 * billing writes to Redis (`--credit`); the consumer profile from `--set`. The run's orders
 * and alerts are then checked account by account. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define D0 1793577600000LL /* Monday 2026-11-02 00:00 UTC */
#define DAYS 31
#define CUBA "+5372345678"  /* high-risk */
#define SAT "+881612345678" /* satellite: EUR 10 a minute in the rate table */
#define MOBILE "+31612345678"
#define SPAIN "+34912345678"

/* ---- the event file ---------------------------------------------------------------------- */

static struct harness_evfile file;
static unsigned next_id;

#define add(at, ...) harness_evfile_add(&file, (at), __VA_ARGS__)

static void call_start(const char *acc, const char *cid, int64_t ts, const char *to)
{
    unsigned id = next_id++;
    add(ts,
        "{\"v\":1,\"type\":\"call_start\",\"id\":\"e%u\",\"ts\":%lld,\"account\":\"%s\","
        "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\"}",
        id, (long long)ts, acc, cid, to);
}

/* A call_end; cost NULL: the rate table's estimate. */
static void call_end(const char *acc, const char *cid, int64_t ts, const char *to, int secs,
                     const char *cost)
{
    unsigned id = next_id++;
    char c[40] = "";
    if (cost)
        snprintf(c, sizeof c, ",\"cost\":%s", cost);
    add(ts,
        "{\"v\":1,\"type\":\"call_end\",\"id\":\"e%u\",\"ts\":%lld,\"account\":\"%s\","
        "\"call_id\":\"%s\",\"from\":\"+31201234567\",\"to\":\"%s\",\"dir\":\"out\","
        "\"duration\":%d%s}",
        id, (long long)ts, acc, cid, to, secs, c);
}

/* A whole outbound call of secs seconds ending at end, with the exporter's cost (NULL: none). */
static void call(const char *acc, int64_t end, const char *to, int secs, const char *cost)
{
    char cid[32];
    snprintf(cid, sizeof cid, "c%u", next_id);
    call_start(acc, cid, end - secs * 1000LL, to);
    call_end(acc, cid, end, to, secs, cost);
}

static void sms(const char *acc, int64_t ts, const char *to)
{
    unsigned id = next_id++;
    add(ts,
        "{\"v\":1,\"type\":\"sms\",\"id\":\"e%u\",\"ts\":%lld,\"account\":\"%s\","
        "\"from\":\"+31687654321\",\"to\":\"%s\"}",
        id, (long long)ts, acc, to);
}

/* The k-th of many distinct Dutch mobile numbers, far apart (never a scanned range). */
static const char *distinct_number(unsigned k, char *buf, size_t n)
{
    snprintf(buf, n, "+316%08u", (k * 7919u + 104729u) % 100000000u);
    return buf;
}

/* ---- the run's output -------------------------------------------------------------------- */

struct rec {
    bool order;
    char account[64], rule[64], what[32]; /* what: action or severity */
    long long event_ts;
};

static struct rec *recs;
static size_t n_recs;

static size_t count(const char *account, bool order, const char *rule, const char *what)
{
    size_t n = 0;
    for (size_t i = 0; i < n_recs; i++) {
        const struct rec *r = &recs[i];
        n += r->order == order && strcmp(r->account, account) == 0 &&
             (!rule || strcmp(r->rule, rule) == 0) && (!what || strcmp(r->what, what) == 0);
    }
    return n;
}

static const struct rec *find(const char *account, bool order, const char *rule)
{
    for (size_t i = 0; i < n_recs; i++) {
        if (recs[i].order == order && strcmp(recs[i].account, account) == 0 &&
            strcmp(recs[i].rule, rule) == 0)
            return &recs[i];
    }
    return NULL;
}

/* Runs vigilctl with argv[1..] (argv[0] filled in); its status, stdout and stderr. */
static int run(const char **argv, char **out, char **err)
{
    argv[0] = harness_bin("vigilctl");
    struct harness_proc p;
    struct harness_proc_opts o = {.out = HARNESS_OUT_FILE};
    assert_int_equal(harness_proc_start(&p, argv, &o), 0);
    int status = -1;
    if (!harness_proc_wait(&p, 120000, &status))
        harness_proc_kill9(&p);
    *out = harness_read_file(p.out_path, NULL);
    *err = harness_read_file(p.err_path, NULL);
    assert_non_null(*out);
    assert_non_null(*err);
    return status;
}

static void read_recs(char *out)
{
    for (char *s = out, *e; *s; s = e + 1) {
        e = strchr(s, '\n');
        if (!e)
            break;
        *e = '\0';
        char kind[32];
        if (harness_json_str(s, "kind", kind, sizeof kind) < 0 ||
            (strcmp(kind, "order") != 0 && strcmp(kind, "alert") != 0))
            continue;
        recs = realloc(recs, (n_recs + 1) * sizeof *recs);
        assert_non_null(recs);
        struct rec *r = &recs[n_recs++];
        memset(r, 0, sizeof *r);
        r->order = strcmp(kind, "order") == 0;
        assert_true(harness_json_str(s, "value.account", r->account, sizeof r->account) > 0);
        assert_true(harness_json_str(s, "value.rule", r->rule, sizeof r->rule) > 0);
        assert_true(harness_json_str(s, r->order ? "value.action" : "value.severity", r->what,
                                     sizeof r->what) > 0);
        assert_int_equal(harness_json_int(s, "value.event_ts", &r->event_ts), 0);
    }
}

/* ---- the traffic ------------------------------------------------------------------------- */

/* Moments the tests check against, filled in while the traffic is written. */
static int64_t over_at, over_warn_at, open_pass_at, spike_at, shop_lo, shop_hi, par_at, hack_at;

static void credit_traffic(void)
{
    /* cl-over (limit 200 from D0): EUR 10 calls every 20 minutes on day 1 from 09:00; the 16th
     * reaches 80 %, the 20th the limit. */
    for (int k = 1; k <= 24; k++) {
        int64_t end = D0 + DAY + 9 * HOUR + k * 20 * MIN;
        call("cl-over", end, MOBILE, 120, "10.00");
        if (k == 16)
            over_warn_at = end;
        if (k == 20)
            over_at = end;
    }
    /* cl-open (limit 100 from D0): one satellite call open from day 2 10:00 for 20 minutes,
     * EUR 10 a minute: the limit is passed at 10:10 while the call is still open. */
    call_start("cl-open", "sat-1", D0 + 2 * DAY + 10 * HOUR, SAT);
    call_end("cl-open", "sat-1", D0 + 2 * DAY + 10 * HOUR + 20 * MIN, SAT, 1200, NULL);
    open_pass_at = D0 + 2 * DAY + 10 * HOUR + 10 * MIN;
    /* cl-period (limit 200 from day 5): EUR 150 on day 3 belongs to the previous period; EUR
     * 100 after day 5 stays below the limit. */
    for (int k = 0; k < 5; k++) {
        call("cl-period", D0 + 3 * DAY + 10 * HOUR + k * HOUR, MOBILE, 300, "30.00");
        call("cl-period", D0 + 6 * DAY + 10 * HOUR + k * HOUR, MOBILE, 300, "20.00");
    }
    /* cl-steady (limit 200 from D0): EUR 5 a day for the whole month, 155 in all. */
    for (int d = 0; d < DAYS; d++)
        call("cl-steady", D0 + d * DAY + 11 * HOUR, MOBILE, 600, "5.00");
    /* cl-none (no limit): EUR 40 a day, 1,240 in the month. */
    for (int d = 0; d < DAYS; d++) {
        call("cl-none", D0 + d * DAY + 10 * HOUR, MOBILE, 600, "20.00");
        call("cl-none", D0 + d * DAY + 15 * HOUR, MOBILE, 600, "20.00");
    }
}

static void interim_traffic(void)
{
    /* ii-spike: EUR 10 a day for ten days, then EUR 10 calls hourly on day 10: the day passes
     * 5 x its usual 10 (and the EUR 50 minimum) during the 6th call (open calls accrue at the
     * rate table's rate: within its first second). */
    for (int d = 0; d < 10; d++)
        call("ii-spike", D0 + d * DAY + 10 * HOUR, MOBILE, 300, "10.00");
    for (int k = 1; k <= 8; k++) {
        int64_t end = D0 + 10 * DAY + 8 * HOUR + k * HOUR;
        call("ii-spike", end, MOBILE, 300, "10.00");
        if (k == 6)
            spike_at = end - 300 * 1000;
    }
    /* ii-small: the same history, then a day of EUR 45: above 5 x usual, under the minimum. */
    for (int d = 0; d < 10; d++)
        call("ii-small", D0 + d * DAY + 10 * HOUR, MOBILE, 300, "10.00");
    for (int k = 1; k <= 3; k++)
        call("ii-small", D0 + 10 * DAY + 8 * HOUR + k * HOUR, MOBILE, 300, "15.00");
    /* ii-new: three days of EUR 10, then EUR 200 in a day: too little history to judge. */
    for (int d = 0; d < 3; d++)
        call("ii-new", D0 + d * DAY + 10 * HOUR, MOBILE, 300, "10.00");
    for (int k = 0; k < 10; k++)
        call("ii-new", D0 + 3 * DAY + 8 * HOUR + k * HOUR, MOBILE, 300, "20.00");
    /* ii-hack: eight parallel calls to Cuba at 02:00 on day 12 (a hacked PBX): toll fraud
     * orders block_international, and an interim invoice comes with it; a second burst at
     * 21:00 the same UTC day adds no second block while the first stands, and no second
     * invoice that day. */
    for (int night = 0; night < 2; night++) {
        for (int k = 0; k < 8; k++) {
            char cid[32];
            snprintf(cid, sizeof cid, "hack-%d-%d", night, k);
            int64_t start = D0 + 12 * DAY + (night ? 21 : 2) * HOUR + k * 1000;
            call_start("ii-hack", cid, start, CUBA);
            call_end("ii-hack", cid, start + 10 * MIN, CUBA, 600, NULL);
            if (night == 0 && k == 4) /* 03:00 in Amsterdam: the night level, 5 */
                hack_at = start;
        }
    }
}

static void resale_traffic(void)
{
    char num[24];
    /* rs-shop (consumer): a call shop, 120 distinct numbers on day 14, one every 5 minutes
     * from 08:00: about the 100th warns (an alert-only count, estimated: resale.c). */
    for (unsigned k = 1; k <= 120; k++) {
        int64_t end = D0 + 14 * DAY + 8 * HOUR + k * 5 * MIN;
        call("rs-shop", end, distinct_number(k, num, sizeof num), 90, NULL);
        if (k == 97)
            shop_lo = end - 90 * 1000; /* counted from the call's start */
        if (k == 103)
            shop_hi = end;
    }
    /* rs-home (consumer): a busy household, 40 distinct numbers a day for a week, calls and
     * texts. */
    for (int d = 15; d < 22; d++) {
        for (unsigned k = 0; k < 40; k++) {
            int64_t t = D0 + d * DAY + 8 * HOUR + k * 15 * MIN;
            distinct_number(1000 + (unsigned)d * 50 + k, num, sizeof num);
            if (k % 2)
                sms("rs-home", t, num);
            else
                call("rs-home", t + 2 * MIN, num, 120, NULL);
        }
    }
    /* rs-biz (business, not consumer): 150 distinct numbers on day 16 is its trade. */
    for (unsigned k = 0; k < 150; k++)
        call("rs-biz", D0 + 16 * DAY + 8 * HOUR + k * 4 * MIN,
             distinct_number(5000 + k, num, sizeof num), 60, NULL);
    /* rs-par (consumer): six outbound calls open at once on day 18: the 6th warns. */
    for (int k = 0; k < 6; k++) {
        char cid[32];
        snprintf(cid, sizeof cid, "par-%d", k);
        int64_t start = D0 + 18 * DAY + 20 * HOUR + k * MIN;
        call_start("rs-par", cid, start, distinct_number(8000 + (unsigned)k, num, sizeof num));
        call_end("rs-par", cid, start + 30 * MIN, num, 1800, NULL);
        if (k == 5)
            par_at = start;
    }
    /* rs-family (consumer): two long calls to family in Spain at once, every evening. */
    for (int d = 15; d < 29; d++) {
        char cid[32];
        for (int k = 0; k < 2; k++) {
            snprintf(cid, sizeof cid, "fam-%d-%d", d, k);
            int64_t start = D0 + d * DAY + 19 * HOUR + k * 5 * MIN;
            call_start("rs-family", cid, start, SPAIN);
            call_end("rs-family", cid, start + 2 * HOUR, SPAIN, 7200, NULL);
        }
    }
}

/* Three accounts texting every ten minutes all month: the stream's clock never jumps. */
static void filler(void)
{
    for (int64_t t = D0; t < D0 + DAYS * DAY; t += 10 * MIN) {
        for (int k = 0; k < 3; k++) {
            char acc[16];
            snprintf(acc, sizeof acc, "fill-%d", k);
            sms(acc, t + k * 1000, MOBILE);
        }
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* ---- the tests --------------------------------------------------------------------------- */

static void test_terms_rules_through_replay(void **state)
{
    (void)state;
    credit_traffic();
    interim_traffic();
    resale_traffic();
    filler();

    char dir[PATH_MAX], events[PATH_MAX + 32], limits[PATH_MAX + 32];
    assert_int_equal(harness_mkdir("terms", dir, sizeof dir), 0);
    snprintf(events, sizeof events, "%s/events.jsonl", dir);
    harness_evfile_write(&file, events);
    harness_evfile_free(&file);
    /* As `redis-cli --raw HGETALL vigil:credit | paste - -` writes it, with a comment. */
    snprintf(limits, sizeof limits, "%s/limits.tsv", dir);
    char text[512];
    snprintf(text, sizeof text,
             "# billing's limits\n"
             "cl-over\t200 %lld\n"
             "cl-open\t100 %lld\n"
             "\n"
             "cl-period\t200 %lld\n"
             "cl-steady\t200.00 %lld\n",
             D0, D0, D0 + 5 * DAY, D0);
    write_file(limits, text);

    const char *argv[] = {NULL, "replay", "--credit", limits, "--set",
                          "profiles.consumer=rs-shop rs-home rs-par rs-family", events, NULL};
    char *out, *err;
    int status = run(argv, &out, &err);
    if (status != 0)
        fail_msg("replay exited %d: %s", status, err);
    read_recs(out);

    /* credit.limit: warning at 80 %, suspend at the call that reaches the limit. */
    const struct rec *r = find("cl-over", true, "credit.limit");
    assert_non_null(r);
    assert_string_equal(r->what, "suspend");
    assert_int_equal(r->event_ts, over_at);
    assert_int_equal(count("cl-over", true, "credit.limit", NULL), 1);
    r = find("cl-over", false, "credit.limit");
    assert_non_null(r);
    assert_string_equal(r->what, "warning");
    assert_int_equal(r->event_ts, over_warn_at);
    /* An open call: ordered within 2 minutes of the moment it passed the limit. */
    r = find("cl-open", true, "credit.limit");
    assert_non_null(r);
    assert_true(r->event_ts >= open_pass_at && r->event_ts <= open_pass_at + 2 * MIN);
    /* Left alone: spend of an earlier period, steady spend below the limit, no limit. */
    assert_int_equal(count("cl-period", true, NULL, NULL), 0);
    assert_int_equal(count("cl-steady", true, NULL, NULL), 0);
    assert_int_equal(count("cl-steady", false, "credit.limit", NULL), 0);
    assert_int_equal(count("cl-none", true, NULL, NULL), 0);
    assert_int_equal(count("cl-none", false, NULL, NULL), 0);

    /* credit.interim_invoice: the unusual day, as the call that made it so began. */
    r = find("ii-spike", true, "credit.interim_invoice");
    assert_non_null(r);
    assert_string_equal(r->what, "interim_invoice");
    assert_true(r->event_ts > spike_at && r->event_ts <= spike_at + 2000);
    assert_int_equal(count("ii-spike", true, NULL, NULL), 1);
    assert_int_equal(count("ii-small", true, NULL, NULL), 0);
    assert_int_equal(count("ii-new", true, NULL, NULL), 0);
    /* ... and with a critical toll-fraud finding: one invoice next to the block. */
    r = find("ii-hack", true, "toll_fraud.concurrent_high_risk");
    assert_non_null(r);
    assert_int_equal(r->event_ts, hack_at);
    r = find("ii-hack", true, "credit.interim_invoice");
    assert_non_null(r);
    assert_int_equal(r->event_ts, hack_at);
    assert_int_equal(count("ii-hack", true, "credit.interim_invoice", NULL), 1);
    assert_int_equal(count("ii-hack", true, "toll_fraud.concurrent_high_risk", NULL), 1);

    /* Resale: warnings only, for consumer accounts only. */
    r = find("rs-shop", false, "resale.distinct_numbers");
    assert_non_null(r);
    assert_string_equal(r->what, "warning");
    if (r->event_ts < shop_lo || r->event_ts > shop_hi)
        fail_msg("resale warning at %lld, want %lld..%lld", r->event_ts, (long long)shop_lo, (long long)shop_hi);
    assert_int_equal(count("rs-shop", false, "resale.distinct_numbers", NULL), 1);
    r = find("rs-par", false, "resale.parallel_calls");
    assert_non_null(r);
    assert_int_equal(r->event_ts, par_at);
    assert_int_equal(count("rs-shop", true, NULL, NULL), 0);
    assert_int_equal(count("rs-par", true, NULL, NULL), 0);
    assert_int_equal(count("rs-home", false, NULL, NULL), 0);
    assert_int_equal(count("rs-family", false, NULL, NULL), 0);
    assert_int_equal(count("rs-biz", false, "resale.distinct_numbers", NULL), 0);
    assert_int_equal(count("rs-biz", true, NULL, NULL), 0);
    free(out);
    free(err);
}

/* A limits file with a line billing could not have meant is refused whole, in one line that
 * names the line; nothing is replayed. */
static void test_bad_limits_file_refused(void **state)
{
    (void)state;
    char dir[PATH_MAX], events[PATH_MAX + 32], limits[PATH_MAX + 32];
    assert_int_equal(harness_mkdir("terms-bad", dir, sizeof dir), 0);
    snprintf(events, sizeof events, "%s/events.jsonl", dir);
    snprintf(limits, sizeof limits, "%s/limits.tsv", dir);
    write_file(events, "{\"v\":1,\"type\":\"sms\",\"id\":\"x\",\"ts\":1793577600000,"
                       "\"account\":\"a\",\"from\":\"+31687654321\",\"to\":\"+31612345678\"}\n");
    write_file(limits, "acc-1 500 1793577600000\nacc-2 -5 1793577600000\n");
    const char *argv[] = {NULL, "replay", "--credit", limits, events, NULL};
    char *out, *err;
    assert_int_equal(run(argv, &out, &err), 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "limits.tsv:2:"));
    assert_null(strchr(strchr(err, '\n') + 1, '\n')); /* one line */
    free(out);
    free(err);

    const char *argv2[] = {NULL, "replay", "--credit", "/nonexistent/limits.tsv", events, NULL};
    assert_int_equal(run(argv2, &out, &err), 1);
    assert_non_null(strstr(err, "/nonexistent/limits.tsv"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_rules_through_replay),
        cmocka_unit_test(test_bad_limits_file_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
