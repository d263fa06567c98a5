/* SPDX-License-Identifier: Apache-2.0 */
/* replay.c - `vigilctl replay FILE`: a JSON-lines event file through vigild's own detection loop
 * (engine.h) offline, with event time as the clock: the backtest.
 *
 * Threading: single-threaded, like the whole program. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dedupe.h"
#include "engine.h"
#include "jbuf.h"
#include "json.h"
#include "kafka_conf.h"
#include "stream_clock.h"
#include "vigil/acct_rec.h"
#include "vigil/acct_table.h"
#include "vigil/credit.h"
#include "vigil/detector.h"
#include "vigil/flagged.h"
#include "vigil/numplan.h"
#include "vigil/profile.h"
#include "vigil/status.h"
#include "vigilctl.h"

/* ---- replay -------------------------------------------------------------------------- */

void replay_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl replay [--config FILE] [--set KEY=VALUE]... [--credit LIMITS]\n"
            "                       [--counters] FILE\n"
            "\n"
            "Backtest: runs a file of JSON-lines events (wire format v1; FILE or - for stdin)\n"
            "through every registered detector and the order/alert discipline, offline, and\n"
            "prints what vigild would have issued. Each event is validated as if its Kafka key\n"
            "were its own account. Events run in file order through one set of detector states;\n"
            "after each valid event the detectors tick with watermark = highest ts so far minus\n"
            "vigild.disorder_ms, and once more at the end with watermark = highest ts. The\n"
            "clock of the orders' and alerts' `ts` field is event time (the current event's\n"
            "ts), so the same input always gives byte-identical output. Flagged callers\n"
            "(premium.inbound_flagged_callers) are the numbers of accounts that this replay\n"
            "itself has ordered earlier in the input (suspend or block_*), flagged for\n"
            "redis.block_ttl_s of event time; flags of running vigild are not read.\n"
            "Credit limits (credit.limit) are those of --credit LIMITS, one account a line:\n"
            "ACCOUNT LIMIT_EUR PERIOD_START_MS, as billing writes them to the Redis hash\n"
            "vigil:credit (`redis-cli --raw HGETALL vigil:credit | paste - -` writes such a\n"
            "file); without it no account has a limit.\n"
            "\n"
            "Output, one JSON object per line on stdout, in the order produced:\n"
            "  {\"kind\":\"order\",\"value\":ORDER}    ORDER exactly as vigild would produce it\n"
            "  {\"kind\":\"alert\",\"value\":ALERT}    ALERT exactly as vigild would produce it\n"
            "  {\"kind\":\"dead_letter\",\"line\":N,\"reason\":R,\"detail\":D}\n"
            "                                    an invalid line (N counts from 1; R as in\n"
            "                                    the dead-letter topic)\n"
            "  {\"kind\":\"counters\",\"account\":A,\"detector\":D,\"values\":{NAME:N,...}}\n"
            "                                    only with --counters\n"
            "Blank lines are skipped. A summary goes to stderr: lines, valid events, dead\n"
            "letters, orders, alerts.\n"
            "\n"
            "  -c, --config FILE    configuration file (detector thresholds, numbering, ...)\n"
            "  -s, --set KEY=VALUE  override one configuration key, e.g.\n"
            "                       --set toll_fraud.concurrent_high_risk=6 (repeatable)\n"
            "  -l, --credit LIMITS  credit limits and period starts per account (see above)\n"
            "  -C, --counters       also print the counters the detectors publish\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 replayed (dead letters included); 1 unreadable input, bad config,\n"
            "a detector that cannot start, or output that cannot be written; 2 bad flag.\n"
            "\n");
    compare_usage(f);
}

/* What replay remembers of an account for the flagged set, as vigild's worker does. */
struct replay_acct {
    uint64_t numbers[VIGIL_FLAGGED_NUMBERS]; /* the latest numbers it sends from */
    int64_t flagged_until;                   /* event time; 0: not flagged */
};

struct replay {
    FILE *out;
    bool counters;
    int64_t now_ms; /* the emit layer's clock: event time */
    uint64_t orders, alerts;
    char *cbuf; /* for counters lines */
    size_t ccap;
    /* Flagged accounts' numbers: this replay's own orders, its clock event time. */
    struct vigil_flagged *flagged;
    struct vigil_acct_table *accts; /* struct replay_acct */
    int64_t block_ttl_ms;
};

/* An order that flags the account: its numbers are flagged while it stands. */
static void replay_flag(struct replay *rp, const char *account)
{
    struct replay_acct *a = vigil_acct_table_find(rp->accts, account);
    if (!a)
        return;
    a->flagged_until = rp->now_ms + rp->block_ttl_ms;
    for (int i = 0; i < VIGIL_FLAGGED_NUMBERS && a->numbers[i] != 0; i++) {
        if (vigil_flagged_add(rp->flagged, a->numbers[i], a->flagged_until) != 0)
            fprintf(stderr, "%s: warning: the flagged numbers set is full\n", prog);
    }
}

static int64_t replay_clock(void *ctx)
{
    return ((const struct replay *)ctx)->now_ms;
}

static int replay_counters(struct replay *rp, const struct vigil_out_record *rec)
{
    size_t need = 6 * (strlen(rec->account) + strlen(rec->detector ? rec->detector : "")) + 256;
    for (size_t i = 0; i < rec->n_counters; i++)
        need += 6 * strlen(rec->counters[i].name) + 32;
    if (need > rp->ccap) {
        char *nb = realloc(rp->cbuf, need);
        if (!nb)
            return VIGIL_ERR_NOMEM;
        rp->cbuf = nb;
        rp->ccap = need;
    }
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, rp->cbuf, rp->ccap);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "kind");
    vigil_jbuf_cstr(&b, "counters");
    vigil_jbuf_key(&b, "account");
    vigil_jbuf_cstr(&b, rec->account);
    vigil_jbuf_key(&b, "detector");
    vigil_jbuf_cstr(&b, rec->detector ? rec->detector : "");
    vigil_jbuf_key(&b, "values");
    vigil_jbuf_open(&b, '{');
    for (size_t i = 0; i < rec->n_counters; i++) {
        vigil_jbuf_key(&b, rec->counters[i].name);
        vigil_jbuf_int(&b, rec->counters[i].value);
    }
    vigil_jbuf_close(&b, '}');
    vigil_jbuf_close(&b, '}');
    if (b.overflow)
        return VIGIL_ERR_INVALID;
    fwrite(b.buf, 1, b.len, rp->out);
    fputc('\n', rp->out);
    return 0;
}

/* The emit layer's sink: everything becomes one line on stdout. */
static int replay_write(void *ctx, const struct vigil_out_record *rec)
{
    struct replay *rp = ctx;
    int rc = 0;
    switch (rec->kind) {
    case VIGIL_OUT_ORDER:
    case VIGIL_OUT_ALERT:
        fputs(rec->kind == VIGIL_OUT_ORDER ? "{\"kind\":\"order\",\"value\":"
                                           : "{\"kind\":\"alert\",\"value\":",
              rp->out);
        fwrite(rec->json, 1, rec->json_len, rp->out);
        fputs("}\n", rp->out);
        if (rec->kind == VIGIL_OUT_ORDER)
            rp->orders++;
        else
            rp->alerts++;
        if (rec->kind == VIGIL_OUT_ORDER && vigil_flagged_action(rec->action))
            replay_flag(rp, rec->account);
        break;
    case VIGIL_OUT_COUNTERS:
        if (rp->counters)
            rc = replay_counters(rp, rec);
        break;
    }
    if (rc == 0 && ferror(rp->out))
        rc = VIGIL_ERR_IO;
    return rc;
}

static void replay_dead_letter(FILE *out, uint64_t line, const struct vigil_parse_error *err)
{
    char buf[1024];
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, buf, sizeof buf);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "kind");
    vigil_jbuf_cstr(&b, "dead_letter");
    vigil_jbuf_key(&b, "line");
    vigil_jbuf_int(&b, (int64_t)line);
    vigil_jbuf_key(&b, "reason");
    vigil_jbuf_cstr(&b, err->reason);
    vigil_jbuf_key(&b, "detail");
    vigil_jbuf_cstr(&b, err->detail);
    vigil_jbuf_close(&b, '}');
    fwrite(b.buf, 1, b.len, out);
    fputc('\n', out);
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_ws(s[i]))
            return false;
    }
    return true;
}

struct replay_run {
    const struct vigil_config *cfg;
    size_t n_det;
    const struct vigil_detector_ops **ops;
    void **states;
    struct vigil_recs *recs; /* the states' account records */
    struct vigil_emit *emit;
    struct vigil_dedupe *dedupe; /* as vigild: repeats of an event id count once */
    /* vigild's own detection loop (engine.h): dedupe, notes, detectors, timers. */
    struct vigil_engine eng;
    struct replay rp;
    uint64_t lines, valid, dead, repeats;
    bool failed;
    /* The input is one stream with one clock, as one partition is in vigild (stream_clock.h):
     * an event far ahead counts for its account but does not move it; timers that come due
     * inside a confirmed jump alert but do not order. */
    struct vigil_pclock clock;
    int64_t gap_ms, disorder_ms, gap_from, gap_to;
    int confirm;
    uint64_t gaps;
};

/* The emit layer's hold, as vigild's worker_hold(): timers due inside a gap do not order. */
static const char *replay_hold(void *ctx, const struct vigil_finding *f)
{
    const struct replay_run *rr = ctx;
    if (rr->eng.in_tick && rr->gap_to != 0 && f->event_ts_ms > rr->gap_from - rr->disorder_ms &&
        f->event_ts_ms <= rr->gap_to)
        return "gap";
    return NULL;
}

/* The engine's accept hook: a valid event that is no repeat moves the stream's clock, the
 * emit layer's and the flagged set's. */
static void replay_accept(void *ctx, const struct vigil_event *ev, uint64_t id_hash)
{
    struct replay_run *rr = ctx;
    rr->valid++;
    struct vigil_pclock_jump jump;
    if (vigil_pclock_note(&rr->clock, rr->gap_ms, rr->confirm, vigil_pclock_acct(ev->account),
                          ev->ts_ms, &jump)) {
        rr->gap_from = jump.from;
        rr->gap_to = jump.to;
        rr->gaps++;
    }
    rr->rp.now_ms = ev->ts_ms;
    vigil_flagged_advance(rr->rp.flagged, ev->ts_ms);
}

/* The engine's account hook: the numbers the account sends from, judged by event time. */
static int replay_account(void *ctx, const struct vigil_event *ev, struct vigil_engine_acct *out)
{
    struct replay_run *rr = ctx;
    struct replay_acct *a = vigil_acct_table_get(rr->rp.accts, ev->account, NULL);
    if (!a)
        return VIGIL_ERR_NOMEM;
    out->numbers = a->numbers;
    out->flagged_until = a->flagged_until;
    out->now_ms = ev->ts_ms;
    return 0;
}

static void replay_flag_number(void *ctx, const char *account, uint64_t number, int64_t until_ms)
{
    struct replay_run *rr = ctx;
    if (vigil_flagged_add(rr->rp.flagged, number, until_ms) != 0)
        fprintf(stderr, "%s: warning: the flagged numbers set is full\n", prog);
}

/* A detector failed: reported, and the replay goes on (like vigild), unless the output
 * itself failed. */
static void replay_failed(void *ctx, const char *detector, const struct vigil_event *ev, int rc)
{
    struct replay_run *rr = ctx;
    if (rc == VIGIL_ERR_IO)
        rr->failed = true;
    else if (ev)
        fprintf(stderr,
                "%s: warning: detector %s failed on line %" PRIu64 " (event %s): "
                "%s\n",
                prog, detector, rr->lines, ev->id, vigil_status_str(rc));
    else
        fprintf(stderr, "%s: warning: detector %s: on_tick failed: %s\n", prog, detector,
                vigil_status_str(rc));
}

static int replay_stream(struct replay_run *rr, FILE *in, const char *name)
{
    struct vigil_parse_opts popts = {.default_cc = vigil_config_str(rr->cfg, "numbering.home_cc")};
    struct vigil_engine_dets dets = {
        .n = rr->n_det, .ops = rr->ops, .states = rr->states, .emit = rr->emit,
        .recs = rr->recs};
    struct vigil_json d = {0};
    struct vigil_event ev;
    struct vigil_parse_error perr;
    char key[4 * VIGIL_ACCOUNT_MAX + 1];
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = EXIT_OK;

    while (!rr->failed && (got = getline(&line, &cap, in)) != -1) {
        size_t n = (size_t)got;
        rr->lines++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (blank_line(line, n))
            continue;
        /* The key is the line's own account, so a valid event never fails key_mismatch;
         * when there is none, the parser names the real problem (it checks the key last). */
        int klen = n <= VIGIL_EVENT_MAX_BYTES ? account_of(&d, line, n, key, sizeof key) : -1;
        popts.now_ms = vigil_wall_ms();
        if (vigil_event_parse(line, n, klen >= 0 ? key : NULL, klen >= 0 ? (size_t)klen : 0, &popts,
                              &ev, &perr) != 0) {
            rr->dead++;
            replay_dead_letter(rr->rp.out, rr->lines, &perr);
            continue;
        }
        /* As in vigild: the stream's clock moves the dedupe's generations, not the event's
         * own time. */
        int erc =
            vigil_engine_event(&rr->eng, &dets, &ev, rr->clock.ts > 0 ? rr->clock.ts : ev.ts_ms);
        if (erc == VIGIL_ENGINE_REPEAT) {
            rr->repeats++;
            continue;
        }
        if (erc < 0) {
            rc = fail("out of memory");
            break;
        }
        vigil_engine_tick(&rr->eng, &dets, rr->clock.ts - rr->disorder_ms, false);
    }
    if (!rr->failed && ferror(in))
        rc = fail("cannot read %s: %s", name, strerror(errno));
    /* The end of the file closes every window up to the last event, as more traffic would;
     * like vigild's last tick once every partition is read, it first sweeps again when
     * events came in behind the clock. */
    if (rc == EXIT_OK && !rr->failed && rr->valid > 0) {
        rr->rp.now_ms = rr->clock.ts;
        vigil_engine_tick(&rr->eng, &dets, rr->clock.ts, rr->eng.behind);
    }
    if (rc == EXIT_OK && (rr->failed || fflush(rr->rp.out) != 0 || ferror(rr->rp.out)))
        rc = fail("cannot write the output: %s", strerror(errno ? errno : EIO));
    free(line);
    vigil_json_fini(&d);
    return rc;
}

int replay_file(const struct vigil_config *cfg, const struct vigil_credit *credit,
                const char *path, bool counters, FILE *out)
{
    struct replay_run rr = {.cfg = cfg, .rp = {.out = out, .counters = counters}};
    struct vigil_numplan *np = NULL;
    struct vigil_profiles *profiles = NULL;
    FILE *in = NULL;
    char err[512];
    int rc = EXIT_FAIL;

    bool is_stdin = strcmp(path, "-") == 0;
    in = is_stdin ? stdin : fopen(path, "r");
    if (!in)
        return fail("cannot open %s: %s", path, strerror(errno));
    np = vigil_numplan_create(cfg, err, sizeof err);
    if (!np) {
        fail("%s", err);
        goto out;
    }
    rr.gap_ms = vigil_config_int(cfg, "vigild.gap_ms");
    rr.disorder_ms = vigil_config_int(cfg, "vigild.disorder_ms");
    rr.confirm = (int)vigil_config_int(cfg, "vigild.clock_confirm_accounts");
    rr.emit = vigil_emit_create(cfg, (struct vigil_sink){.ctx = &rr.rp, .write = replay_write},
                                replay_clock, &rr.rp);
    if (rr.emit)
        vigil_emit_set_exempt(rr.emit, np);
    rr.n_det = vigil_detector_count();
    rr.ops = calloc(rr.n_det ? rr.n_det : 1, sizeof *rr.ops);
    rr.states = calloc(rr.n_det ? rr.n_det : 1, sizeof *rr.states);
    rr.recs = vigil_recs_create(1024);
    if (!rr.emit || !rr.ops || !rr.states || !rr.recs) {
        fail("out of memory");
        goto out;
    }
    vigil_emit_set_hold(rr.emit, replay_hold, &rr);
    profiles = vigil_profiles_create(cfg);
    rr.rp.flagged = vigil_flagged_create(VIGIL_FLAGGED_DEFAULT_MAX);
    rr.rp.accts = vigil_acct_table_create(sizeof(struct replay_acct), 1024);
    rr.rp.block_ttl_ms = vigil_config_int(cfg, "redis.block_ttl_s") * 1000;
    int64_t dedupe_ms = vigil_config_int(cfg, "vigild.dedupe_window_ms");
    if (dedupe_ms > 0)
        rr.dedupe =
            vigil_dedupe_create(dedupe_ms, (size_t)vigil_config_int(cfg, "vigild.dedupe_max_ids"));
    if (!profiles || !rr.rp.flagged || !rr.rp.accts || (dedupe_ms > 0 && !rr.dedupe)) {
        fail("out of memory");
        goto out;
    }
    vigil_engine_init(&rr.eng, rr.dedupe,
                      &(struct vigil_engine_hooks){.ctx = &rr,
                                                   .accept = replay_accept,
                                                   .account = replay_account,
                                                   .flag = replay_flag_number,
                                                   .failed = replay_failed});
    struct vigil_detector_env env = {
        .cfg = cfg, .numplan = np, .profiles = profiles, .flagged = rr.rp.flagged,
        .credit = credit, .recs = rr.recs};
    for (size_t i = 0; i < rr.n_det; i++) {
        rr.ops[i] = vigil_detector_get(i);
        int drc = rr.ops[i]->init(&rr.states[i], &env);
        if (drc != 0) {
            rr.ops[i] = NULL;
            fail("detector %s cannot start: %s", vigil_detector_get(i)->name,
                 vigil_status_str(drc));
            goto out;
        }
    }

    rc = replay_stream(&rr, in, is_stdin ? "stdin" : path);
    if (rc != EXIT_OK)
        goto out; /* the one error line says it all */
    struct vigil_emit_stats st;
    vigil_emit_get_stats(rr.emit, &st);
    fprintf(stderr,
            "%s: %" PRIu64 " lines, %" PRIu64 " valid events, %" PRIu64 " repeats dropped, %" PRIu64
            " dead letters, %" PRIu64 " orders, %" PRIu64 " alerts (suppressed: %" PRIu64
            " repeat orders, %" PRIu64 " alerts in cool-down; %" PRIu64
            " orders held by the allowlist); clock: %" PRIu64 " gaps, %" PRIu64
            " events ahead of it, %" PRIu64 " orders held in gaps\n",
            prog, rr.lines, rr.valid, rr.repeats, rr.dead, rr.rp.orders, rr.rp.alerts,
            (uint64_t)st.orders_suppressed, (uint64_t)st.alerts_suppressed,
            (uint64_t)st.allowlisted, rr.gaps, rr.clock.ahead, (uint64_t)st.held);
    if (st.reported > 0)
        fprintf(stderr,
                "%s: %" PRIu64 " orders not issued (report-only): alerts with would_order\n", prog,
                (uint64_t)st.reported);

out:
    vigil_recs_destroy(rr.recs); /* before the states: its fini calls reach into them */
    for (size_t i = 0; rr.states && i < rr.n_det; i++) {
        if (rr.ops[i])
            rr.ops[i]->destroy(rr.states[i]);
    }
    free(rr.states);
    free(rr.ops);
    vigil_emit_destroy(rr.emit);
    vigil_dedupe_destroy(rr.dedupe);
    vigil_profiles_destroy(profiles);
    vigil_numplan_destroy(np);
    vigil_flagged_destroy(rr.rp.flagged);
    vigil_acct_table_destroy(rr.rp.accts);
    free(rr.rp.cbuf);
    if (!is_stdin)
        fclose(in);
    return rc;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"counters", no_argument, NULL, 'C'},
        {"credit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    const char *credit_path = NULL;
    bool counters = false;
    int c, frc;
    for (int i = 1; i < argc; i++) /* compare.c: two configurations over one input */
        if (strcmp(argv[i], "--compare") == 0)
            return cmd_replay_compare(argc, argv);
    while ((c = getopt_long(argc, argv, ":c:s:l:Ch", longopts, NULL)) != -1) {
        switch (c) {
        case 'C':
            counters = true;
            break;
        case 'l':
            credit_path = optarg;
            break;
        default:
            if ((frc = common_flag(c, argv, &co, NULL, NULL, replay_usage)) != RUN_ON)
                return frc;
        }
    }
    if (argc - optind != 1)
        return usage_error(optind == argc ? "FILE is required (- for stdin)" : "expected one FILE");

    struct vigil_config *cfg = NULL;
    struct vigil_credit *credit = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc == EXIT_OK && credit_path)
        rc = credit_file_load(credit_path, &credit);
    if (rc == EXIT_OK)
        rc = replay_file(cfg, credit, argv[optind], counters, stdout);
    vigil_credit_destroy(credit);
    vigil_config_destroy(cfg);
    return rc;
}
