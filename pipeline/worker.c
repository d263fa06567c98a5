/* SPDX-License-Identifier: Apache-2.0 */
/* worker.c - one worker thread: parse, detect, publish (see worker.h).
 *
 * Flagged accounts (vigil/flagged.h): the worker remembers, per account, the latest numbers
 * the account sends from. When the emit layer issues an order that flags the account, it
 * hands those numbers to the publisher (VIGIL_MSG_FLAG), which adds them to Redis, from where
 * every instance's flagged sync thread loads them into its set; while the order stands, a new
 * number of the account is handed over as soon as it shows up. The numbers travel with the
 * account's checkpoint when it holds anything else.
 *
 * Threading: everything in struct vigil_worker except the rings, `stop`, `abort` and
 * `stats` is touched by the worker thread alone. */
#include "worker.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/acct_rec.h"
#include "vigil/acct_table.h"
#include "log.h"
#include "msg.h"
#include "offsets.h"
#include "ring.h"
#include "stream_clock.h"
#include "vigil/bytes.h"
#include "vigil/config.h"
#include "clock.h"
#include "counter_batch.h"
#include "dedupe.h"
#include "engine.h"
#include "vigil/detector.h"
#include "vigil/flagged.h"
#include "jbuf.h"
#include "vigil/privacy.h"
#include "vigil/status.h"

#define BATCH_MAX 256        /* events between two progress reports */
#define OUT_RING_CAP 256
#define PARTITIONS_TOUCHED_MAX 64
#define IDLE_TICK_MS 200     /* an idle worker follows the stream's clock this often */
#define IDLE_REPORT_MS 50    /* a drained worker reports progress within this */
/* Longest sleep on a full out ring between two looks: every release rings the space bell,
 * so this only bounds the cost of a wake-up that never comes (there is none to lose). */
#define SPACE_WAIT_MS 100


struct touched {
    int32_t partition;
    int64_t next_offset;
};

/* Every account whose state this worker holds: where its checkpoint goes, and whether it
 * changed since the last one. */
struct wk_acct {
    uint64_t seen;     /* touch_seq when last touched: the eviction order */
    /* The latest numbers it sends from (vigil_flagged_note), and the wall-clock ms until
     * which an order flags it (0: none seen by this worker). */
    uint64_t numbers[VIGIL_FLAGGED_NUMBERS];
    int64_t flagged_until;
    /* Events of its partition were lost (an offset reset past data the broker no longer
     * held) while it had state: until this event time its open calls may have ended unseen,
     * so timers alert for it but do not order. */
    int64_t uncertain_until;
    int32_t partition; /* its events' partition (events are keyed by account) */
    bool changed;      /* listed in vigil_worker.changed */
};

/* An event id as the dedupe remembers it, on its way into the partition's checkpoint. */
struct seen_rec {
    uint64_t hash;
    int32_t partition;
};
#define SEEN_PAIR 16 /* bytes of one (hash, time) pair in VIGIL_MSG_SEEN / VIGIL_IN_SEEN */

/* A checkpointed state: "VS", version, then per holder (a detector, or the emit layer as
 * STATE_EMIT) its index byte, a 32-bit length and its bytes; the whole packed by pack(). */
#define STATE_MAGIC0 'V'
#define STATE_MAGIC1 'S'
#define STATE_VERSION 1
#define STATE_EMIT 0xff
/* The section of the worker's own wk_acct numbers and flagged_until, saved only with others. */
#define STATE_NUMBERS "numbers"

struct vigil_worker {
    struct vigil_worker_env env;
    struct vigil_ring *in, *out;
    /* Rung by every commit to the in ring, and by stop, abort and reconfigure: an idle
     * worker sleeps on it instead of polling its ring. */
    struct vigil_bell bell;
    /* Rung by every release from the out ring (the publisher took a message) and by abort: a
     * worker whose out ring is full sleeps on it. */
    struct vigil_bell space;
    bool out_unrung; /* messages committed to the out ring since the last out_notify() */
    pthread_t thread;
    bool started;
    atomic_bool stop;  /* drain the in ring, then exit */
    atomic_bool abort; /* give up waiting on a full out ring */

    /* Worker-thread-only state. */
    size_t n_det;
    uint64_t refused; /* checkpoint sections not loaded (load_holders), for its log lines */
    const struct vigil_detector_ops **ops;
    void **states;
    struct vigil_recs *recs; /* the states' account records (acct_rec.h) */
    struct vigil_emit *emit;
    struct vigil_dedupe *dedupe; /* NULL when vigild.dedupe_window_ms is 0 */
    /* The detection loop (engine.h; borrows dedupe), and the partition of the event it runs. */
    struct vigil_engine eng;
    int32_t cur_partition;
    /* Ids of new events since the last checkpoint, which carries them (VIGIL_MSG_SEEN). */
    struct seen_rec *seen;
    size_t n_seen, cap_seen;
    int64_t dedupe_window_ms;
    bool dedupe_full_logged;
    struct vigil_parse_opts popts;
    int64_t stream_seen;  /* the worker's clock: never goes back */
    int64_t *part_ts;     /* [VIGIL_MAX_PARTITIONS]: each partition's clock (pclock[p].ts) */
    struct vigil_pclock *pclock; /* [VIGIL_MAX_PARTITIONS]: stream_clock.h */
    /* Per partition: the latest gap of its clock (event time), inside which timers do not
     * order; and whether lost events were reported and the jump that follows is theirs. */
    int64_t *gap_from, *gap_to;
    bool *loss_reported;
    /* Per partition: the time of its first event when that was more than a gap ahead of the
     * process's clock (0: not suspect). While its clock is provisional and not corrected
     * below this, it neither leads nor holds the worker (sync_stream_clock). */
    int64_t *suspect_ts;
    int64_t gap_ms;
    int confirm_accounts;
    int64_t last_idle_tick_ms;
    int64_t disorder_ms;
    int64_t tick_interval_ms;
    int64_t block_ttl_ms; /* how long an order stands, so how long it flags the account */
    int64_t last_tick_ms; /* monotonic ms of the last tick_and_report */
    bool caught_up;       /* at the last sync_stream_clock: every partition caught up, ring empty */
    struct touched touched[PARTITIONS_TOUCHED_MAX];
    size_t n_touched;
    /* The latest counters of the accounts the detectors reported since the last progress
     * report, handed to the publisher packed right before it (send_counters): one out-ring
     * message per few dozen accounts and report, not one per account, detector and tick. */
    struct vigil_cnt_batch *counters;
    uint64_t counters_dropped; /* accounts whose counters could not travel (logged) */

    /* Checkpoints (vigild.checkpoint). */
    bool checkpoint;
    int64_t checkpoint_interval_ms, last_checkpoint_ms;
    struct vigil_acct_table *accts; /* struct wk_acct */
    struct vigil_idx_list changed;  /* entries of accts changed since the last checkpoint */
    uint64_t touch_seq;
    size_t max_accounts;
    int64_t last_evict_log_ms;
    int64_t sweep_hour; /* worker-clock hour of the last sweep of accounts holding nothing */
    struct vigil_bytes raw, packed, loading; /* scratch; loading: a state arriving in chunks */
    int64_t *resume;    /* [VIGIL_MAX_PARTITIONS]: events below this offset are in the state */
    bool state_too_big_logged;
    int64_t local_accounts, local_evicted, local_skipped;
    int64_t local_events, local_dead, local_orders, local_alerts, local_repeats;
    int64_t local_gaps, local_lost, local_ahead, local_held;

    /* A configuration handed over by vigil_worker_reconfigure (NULL: none pending), taken at
     * a batch boundary; the generation of the last one applied. */
    _Atomic(const struct vigil_worker_conf *) next_conf;
    _Atomic uint64_t applied_gen;

    /* Published with relaxed stores for the status log; nothing depends on their order. */
    _Atomic uint64_t st_events, st_dead, st_orders, st_alerts, st_repeats;
    _Atomic uint64_t st_accounts, st_evicted, st_skipped;
    _Atomic uint64_t st_gaps, st_lost, st_ahead, st_held;
};

static struct wk_acct *touch(struct vigil_worker *w, const char *account, int32_t partition);
static void worker_accept(void *ctx, const struct vigil_event *ev, uint64_t id_hash);
static int worker_account(void *ctx, const struct vigil_event *ev, struct vigil_engine_acct *out);
static void worker_flag(void *ctx, const char *account, uint64_t number, int64_t until_ms);
static void worker_failed(void *ctx, const char *detector, const struct vigil_event *ev, int rc);

/* Out-ring commits are quiet: the publisher's bell rings once per batch of events or tick
 * (out_notify), not once per message, which woke the publisher (and switched a core over to
 * it) for every counter message. Rung before this thread waits for anything, so the
 * publisher never sleeps on messages it has. */
static void out_commit(struct vigil_worker *w)
{
    vigil_ring_commit_quiet(w->out);
    w->out_unrung = true;
}

static void out_notify(struct vigil_worker *w)
{
    if (w->out_unrung) {
        vigil_ring_notify(w->out);
        w->out_unrung = false;
    }
}

/* Takes a slot in the out ring, sleeping on the space bell while the sink is behind
 * (backpressure). NULL once the daemon aborted a shutdown that could not drain: from then on
 * always, so that nothing (above all no progress, which would let the offsets pass it) follows
 * a message that was dropped. */
static struct vigil_out_msg *out_slot(struct vigil_worker *w)
{
    for (;;) {
        if (atomic_load_explicit(&w->abort, memory_order_relaxed))
            return NULL;
        struct vigil_out_msg *m = vigil_ring_reserve(w->out);
        if (m)
            return m;
        /* The bell's contract: announce, look again, then sleep; a release or an abort after
         * the prepare wakes the wait. Relaxed on abort: it guards no data. */
        out_notify(w);
        uint32_t token = vigil_bell_prepare(&w->space);
        if (vigil_ring_reserve(w->out) || atomic_load_explicit(&w->abort, memory_order_relaxed)) {
            vigil_bell_cancel(&w->space);
            if (atomic_load_explicit(&w->abort, memory_order_relaxed))
                return NULL;
            continue;
        }
        vigil_bell_wait(&w->space, token, SPACE_WAIT_MS);
    }
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Hands numbers of `account` to the publisher: flagged until until_ms. */
static void send_flag(struct vigil_worker *w, const char *account, const uint64_t *numbers,
                      size_t n, int64_t until_ms)
{
    struct vigil_out_msg *m = out_slot(w);
    if (!m)
        return;
    m->kind = VIGIL_MSG_FLAG;
    copy_str(m->account, sizeof m->account, account);
    m->detector[0] = '\0';
    m->n_counters = 0;
    m->data_len = 0;
    m->until_ms = until_ms;
    m->n_numbers = 0;
    for (size_t i = 0; i < n && i < VIGIL_FLAGGED_NUMBERS; i++) {
        if (numbers[i] != 0)
            m->numbers[m->n_numbers++] = numbers[i];
    }
    out_commit(w);
}

/* Every worker forgets a lifted order; one of them (worker 0) has the publisher clear the
 * lifted action from the account's block key: action, and in data the lifted order's id
 * ("" when the lift names none). */
static void send_lift(struct vigil_worker *w, const char *account, const char *action,
                      const char *lifted_id)
{
    struct vigil_out_msg *m = out_slot(w);
    if (!m)
        return;
    m->kind = VIGIL_MSG_LIFT;
    copy_str(m->account, sizeof m->account, account);
    copy_str(m->action, sizeof m->action, action);
    m->detector[0] = '\0';
    m->n_counters = 0;
    m->n_numbers = 0;
    copy_str(m->data, sizeof m->data, lifted_id);
    m->data_len = (uint32_t)strlen(m->data);
    out_commit(w);
}

/* An order that flags the account was issued: its numbers are flagged while it stands. */
static void flag_account(struct vigil_worker *w, const char *account)
{
    struct wk_acct *a = vigil_acct_table_find(w->accts, account);
    if (!a)
        return; /* no event of it here: no number known */
    int64_t until = vigil_wall_ms() + w->block_ttl_ms;
    if (until > a->flagged_until)
        a->flagged_until = until;
    if (a->numbers[0] != 0)
        send_flag(w, account, a->numbers, VIGIL_FLAGGED_NUMBERS, a->flagged_until);
}

/* Counters wait in the worker's batch for the next progress report (send_counters). */
static int keep_counters(struct vigil_worker *w, const struct vigil_out_record *rec)
{
    int rc = vigil_cnt_batch_put_values(w->counters, rec->account,
                                        rec->detector ? rec->detector : "", rec->counters,
                                        rec->n_counters, rec->ttl_s, vigil_wall_ms());
    if (rc != 0)
        vigil_log_error("worker %d: cannot keep counters for account %s: %s", w->env.index,
                        rec->account, vigil_status_str(rc));
    return 0; /* the account's next counters carry on; detection does not stop for it */
}

/* The emit layer's sink: orders and alerts become out-ring messages; counters are kept. */
static int worker_sink_write(void *ctx, const struct vigil_out_record *rec)
{
    struct vigil_worker *w = ctx;
    /* What the discipline or a detector reported changed the account's state (a timer fired,
     * a window moved): checkpoint it. */
    touch(w, rec->account, -1);
    if (rec->kind == VIGIL_OUT_COUNTERS)
        return keep_counters(w, rec);
    struct vigil_out_msg *m = out_slot(w);
    if (!m)
        return VIGIL_ERR_TIMEOUT;
    copy_str(m->account, sizeof m->account, rec->account);
    copy_str(m->detector, sizeof m->detector, rec->detector ? rec->detector : "");
    m->n_counters = 0;
    m->data_len = 0;
    m->kind = rec->kind == VIGIL_OUT_ORDER ? VIGIL_MSG_ORDER : VIGIL_MSG_ALERT;
    copy_str(m->action, sizeof m->action, vigil_action_str(rec->action));
    if (rec->json_len > sizeof m->data)
        return VIGIL_ERR_INVALID; /* emit.c bounds its JSON well below this */
    memcpy(m->data, rec->json, rec->json_len);
    m->data_len = (uint32_t)rec->json_len;
    if (rec->kind == VIGIL_OUT_ORDER)
        w->local_orders++;
    else
        w->local_alerts++;
    out_commit(w);
    /* After the order: the publisher produces it before it writes the numbers. */
    if (rec->kind == VIGIL_OUT_ORDER && vigil_flagged_action(rec->action))
        flag_account(w, rec->account);
    return 0;
}

/* Hands the kept counters to the publisher, many accounts per message. Called right before
 * progress is reported: the offsets behind the progress are committed only after the
 * publisher has written every counter taken before it (README "Delivery guarantees"). */
static void send_counters(struct vigil_worker *w)
{
    size_t dropped = 0;
    while (vigil_cnt_batch_dirty(w->counters) > 0) {
        struct vigil_out_msg *m = out_slot(w);
        if (!m)
            return; /* aborted: nothing more leaves this worker */
        size_t len = vigil_cnt_batch_pack(w->counters, m->data, sizeof m->data, &dropped);
        if (len == 0)
            break; /* only accounts too large to travel were left (dropped) */
        m->kind = VIGIL_MSG_COUNTERS;
        m->account[0] = '\0';
        m->detector[0] = '\0';
        m->n_counters = 0;
        m->data_len = (uint32_t)len;
        out_commit(w);
    }
    if (dropped > 0 && w->counters_dropped == 0)
        vigil_log_error("worker %d: %zu accounts' counters too large to hand over; dropped "
                        "(logged once)", w->env.index, dropped);
    w->counters_dropped += dropped;
}

/* The emit layer's hold (vigil/emit.h): a timer that came due inside a gap of its
 * partition's stream, or for an account whose events may have been lost, alerts but does not
 * order: the order would rest on the gap alone (an end that was never seen). Findings made at
 * an event are judged on what was seen and always go out. */
static const char *worker_hold(void *ctx, const struct vigil_finding *f)
{
    struct vigil_worker *w = ctx;
    if (!w->eng.in_tick)
        return NULL;
    const struct wk_acct *a = vigil_acct_table_find(w->accts, f->account);
    if (!a)
        return NULL;
    int32_t p = a->partition;
    bool in_gap = p >= 0 && p < VIGIL_MAX_PARTITIONS && w->gap_to[p] != 0 &&
                  f->event_ts_ms > w->gap_from[p] - w->disorder_ms &&
                  f->event_ts_ms <= w->gap_to[p];
    if (!in_gap && a->uncertain_until <= f->event_ts_ms)
        return NULL;
    w->local_held++;
    vigil_log_warn("worker %d: %s order for %s (%s) held: it came due inside a gap of "
                   "partition %d's stream; alert only", w->env.index,
                   vigil_action_str(f->action), f->account, f->rule, (int)p);
    return "gap";
}

/* The emit layer of this worker, wired to its sink. Everything an emit object needs after
 * create is set here, and only here: vigil_worker_create and a reload both call it. */
static struct vigil_emit *make_emit(struct vigil_worker *w, const struct vigil_config *cfg,
                                    const struct vigil_numplan *np)
{
    struct vigil_emit *e = vigil_emit_create(
        cfg, (struct vigil_sink){.ctx = w, .write = worker_sink_write}, NULL, NULL);
    if (e) {
        vigil_emit_set_hold(e, worker_hold, w);
        if (np)
            vigil_emit_set_exempt(e, np);
    }
    return e;
}

/* The keys the worker itself caches that a reload may change (the README lists them as
 * reloadable). The others are read once in vigil_worker_create: a reload keeps them. */
static void read_keys(struct vigil_worker *w, const struct vigil_config *cfg)
{
    w->popts.default_cc = vigil_config_str(cfg, "numbering.home_cc");
    w->disorder_ms = vigil_config_int(cfg, "vigild.disorder_ms");
    w->tick_interval_ms = vigil_config_int(cfg, "vigild.tick_interval_ms");
    w->max_accounts = (size_t)vigil_config_int(cfg, "vigild.max_accounts");
    w->checkpoint_interval_ms = vigil_config_int(cfg, "vigild.checkpoint_interval_ms");
    w->gap_ms = vigil_config_int(cfg, "vigild.gap_ms");
    w->confirm_accounts = (int)vigil_config_int(cfg, "vigild.clock_confirm_accounts");
}

struct vigil_worker *vigil_worker_create(const struct vigil_worker_env *env)
{
    struct vigil_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->env = *env;
    int64_t cap = vigil_config_int(env->cfg, "vigild.ring_capacity");
    w->in = vigil_ring_create((size_t)cap, sizeof(struct vigil_in_msg));
    w->out = vigil_ring_create(OUT_RING_CAP, sizeof(struct vigil_out_msg));
    w->part_ts = calloc(VIGIL_MAX_PARTITIONS, sizeof *w->part_ts);
    w->pclock = calloc(VIGIL_MAX_PARTITIONS, sizeof *w->pclock);
    w->gap_from = calloc(VIGIL_MAX_PARTITIONS, sizeof *w->gap_from);
    w->gap_to = calloc(VIGIL_MAX_PARTITIONS, sizeof *w->gap_to);
    w->loss_reported = calloc(VIGIL_MAX_PARTITIONS, sizeof *w->loss_reported);
    w->suspect_ts = calloc(VIGIL_MAX_PARTITIONS, sizeof *w->suspect_ts);
    if (!w->in || !w->out || !w->part_ts || !w->pclock || !w->gap_from || !w->gap_to ||
        !w->loss_reported || !w->suspect_ts)
        goto fail;
    vigil_bell_init(&w->bell);
    vigil_ring_set_bell(w->in, &w->bell);
    vigil_bell_init(&w->space);
    vigil_ring_set_space_bell(w->out, &w->space);
    w->emit = make_emit(w, env->cfg, env->numplan);
    if (!w->emit)
        goto fail;

    w->n_det = vigil_detector_count();
    w->ops = calloc(w->n_det ? w->n_det : 1, sizeof *w->ops);
    w->states = calloc(w->n_det ? w->n_det : 1, sizeof *w->states);
    w->recs = vigil_recs_create(1024);
    if (!w->ops || !w->states || !w->recs)
        goto fail;
    struct vigil_detector_env denv = {.cfg = env->cfg, .numplan = env->numplan,
                                      .profiles = env->profiles, .flagged = env->flagged,
                                      .credit = env->credit, .recs = w->recs};
    for (size_t i = 0; i < w->n_det; i++) {
        w->ops[i] = vigil_detector_get(i);
        int rc = w->ops[i]->init(&w->states[i], &denv);
        if (rc != 0) {
            vigil_log_error("detector %s: init failed: %s", w->ops[i]->name,
                            vigil_status_str(rc));
            goto fail;
        }
    }
    read_keys(w, env->cfg);
    w->block_ttl_ms = vigil_config_int(env->cfg, "redis.block_ttl_s") * 1000;
    int64_t dedupe_ms = vigil_config_int(env->cfg, "vigild.dedupe_window_ms");
    w->dedupe_window_ms = dedupe_ms;
    if (dedupe_ms > 0) {
        w->dedupe = vigil_dedupe_create(
            dedupe_ms, (size_t)vigil_config_int(env->cfg, "vigild.dedupe_max_ids"));
        if (!w->dedupe)
            goto fail;
    }
    vigil_engine_init(&w->eng, w->dedupe,
                      &(struct vigil_engine_hooks){.ctx = w, .accept = worker_accept,
                                                   .account = worker_account,
                                                   .flag = worker_flag,
                                                   .failed = worker_failed});
    w->checkpoint = vigil_config_int(env->cfg, "vigild.checkpoint") != 0;
    w->accts = vigil_acct_table_create(sizeof(struct wk_acct), 1024);
    w->resume = calloc(VIGIL_MAX_PARTITIONS, sizeof *w->resume);
    /* Its key prefix and TTL renewals are never used: this batch is only packed. */
    w->counters = vigil_cnt_batch_create("", vigil_config_int(env->cfg, "redis.counter_ttl_s"), 1);
    if (!w->accts || !w->resume || !w->counters)
        goto fail;
    w->sweep_hour = INT64_MIN;
    return w;

fail:
    vigil_worker_destroy(w);
    return NULL;
}

void vigil_worker_destroy(struct vigil_worker *w)
{
    if (!w)
        return;
    if (w->started) {
        vigil_worker_abort(w);
        vigil_worker_drain_and_join(w, vigil_mono_ms());
    }
    vigil_recs_destroy(w->recs); /* before the states: its fini calls reach into them */
    for (size_t i = 0; w->states && i < w->n_det; i++) {
        if (w->ops[i])
            w->ops[i]->destroy(w->states[i]);
    }
    free(w->states);
    free(w->ops);
    free(w->part_ts);
    free(w->pclock);
    free(w->gap_from);
    free(w->gap_to);
    free(w->loss_reported);
    free(w->suspect_ts);
    free(w->seen);
    free(w->resume);
    vigil_acct_table_destroy(w->accts);
    vigil_cnt_batch_destroy(w->counters);
    vigil_idx_list_fini(&w->changed);
    vigil_bytes_fini(&w->raw);
    vigil_bytes_fini(&w->packed);
    vigil_bytes_fini(&w->loading);
    vigil_emit_destroy(w->emit);
    vigil_dedupe_destroy(w->dedupe);
    vigil_ring_destroy(w->out);
    vigil_ring_destroy(w->in);
    free(w);
}

struct vigil_ring *vigil_worker_in(struct vigil_worker *w)
{
    return w->in;
}

struct vigil_ring *vigil_worker_out(struct vigil_worker *w)
{
    return w->out;
}

/* A run of number characters at in[i] ('+' or a digit, then digits and " -.()"), trimmed to
 * its last digit: its length and number of digits. */
static size_t number_run(const char *in, size_t len, size_t i, int *digits)
{
    size_t j = i, end = i;
    *digits = 0;
    if (in[j] == '+')
        j++;
    for (; j < len && (strchr("0123456789 -.()", in[j]) != NULL && in[j] != '\0'); j++) {
        if (in[j] >= '0' && in[j] <= '9') {
            (*digits)++;
            end = j + 1;
        }
    }
    return end - i;
}

/* privacy.pseudonymise: the payload with every run of 6 or more digits (with its '+' and
 * separators) replaced by its token, the token of the number it reads as when it reads as
 * one, so a dead letter's numbers match the tokens of the alerts. Timestamps and other long
 * digit runs become tokens too: the original is on the events topic at partition/offset.
 * Returns the length written to out (at most cap). */
static size_t redact_numbers(const char *in, size_t len, const char *cc, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int digits = 0;
        size_t run = 0;
        bool starts = (in[i] == '+' || (in[i] >= '0' && in[i] <= '9')) &&
                      (i == 0 || !((in[i - 1] >= '0' && in[i - 1] <= '9')));
        if (starts)
            run = number_run(in, len, i, &digits);
        if (digits >= 6) {
            char norm[VIGIL_NUMBER_MAX + 2], tok[VIGIL_PRIVACY_TOKEN_LEN + 1];
            if (vigil_number_normalize(in + i, run, cc, norm) == 0)
                vigil_privacy_token(norm, tok);
            else
                snprintf(tok, sizeof tok, "pn:%016llx",
                         (unsigned long long)vigil_privacy_hash(in + i, run));
            if (o + VIGIL_PRIVACY_TOKEN_LEN > cap)
                break;
            memcpy(out + o, tok, VIGIL_PRIVACY_TOKEN_LEN);
            o += VIGIL_PRIVACY_TOKEN_LEN;
            i += run;
            continue;
        }
        if (o + 1 > cap)
            break;
        out[o++] = in[i++];
    }
    return o;
}

static void send_dead_letter(struct vigil_worker *w, const struct vigil_in_msg *in,
                             const char *reason, const char *detail)
{
    struct vigil_out_msg *m = out_slot(w);
    if (!m)
        return;
    m->kind = VIGIL_MSG_DLQ;
    m->n_counters = 0;
    m->detector[0] = '\0';
    /* The key goes back out as it came (cut to what we kept), so the dead letter sits with
     * its account's other messages. */
    size_t klen = in->has_key ? in->key_len : 0;
    if (klen > VIGIL_ACCOUNT_MAX + 1)
        klen = VIGIL_ACCOUNT_MAX + 1;
    memcpy(m->account, in->key, klen);
    m->account[klen] = '\0';

    size_t plen = in->value_len < VIGIL_EVENT_MAX_BYTES ? in->value_len : VIGIL_EVENT_MAX_BYTES;
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, m->data, sizeof m->data);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "v");
    vigil_jbuf_int(&b, 1);
    vigil_jbuf_key(&b, "reason");
    vigil_jbuf_cstr(&b, reason);
    vigil_jbuf_key(&b, "detail");
    vigil_jbuf_cstr(&b, detail);
    vigil_jbuf_key(&b, "topic");
    vigil_jbuf_cstr(&b, w->env.events_topic);
    vigil_jbuf_key(&b, "partition");
    vigil_jbuf_int(&b, in->partition);
    vigil_jbuf_key(&b, "offset");
    vigil_jbuf_int(&b, in->offset);
    if (in->has_key && vigil_utf8_valid(in->key, klen)) {
        vigil_jbuf_key(&b, "key");
        vigil_jbuf_str(&b, in->key, klen);
    }
    vigil_jbuf_key(&b, "size");
    vigil_jbuf_int(&b, in->value_len);
    /* A payload that is not UTF-8 cannot be a JSON string: it travels as base64. A payload
     * cut at 4096 bytes may end inside a character; cut it back to the last whole one. */
    size_t ulen = plen;
    if (plen < in->value_len) {
        size_t k = plen; /* step back over continuation bytes to the last lead byte */
        while (k > 0 && plen - k < 3 && ((unsigned char)in->value[k - 1] & 0xc0) == 0x80)
            k--;
        if (k > 0 && (unsigned char)in->value[k - 1] >= 0xc0 &&
            !vigil_utf8_valid(in->value + k - 1, plen - k + 1))
            ulen = k - 1;
    }
    if (vigil_privacy_enabled()) {
        /* Pseudonymised: never the payload as it came, only its redacted form, and nothing
         * of a payload that is not UTF-8 (its numbers cannot be found reliably). */
        if (vigil_utf8_valid(in->value, ulen)) {
            char red[VIGIL_EVENT_MAX_BYTES * 2];
            size_t rlen = redact_numbers(in->value, ulen, w->popts.default_cc, red, sizeof red);
            vigil_jbuf_key(&b, "payload_redacted");
            vigil_jbuf_str(&b, red, rlen);
        }
    } else if (vigil_utf8_valid(in->value, ulen)) {
        vigil_jbuf_key(&b, "payload");
        vigil_jbuf_str(&b, in->value, ulen);
    } else {
        vigil_jbuf_key(&b, "payload_b64");
        vigil_jbuf_base64(&b, in->value, plen);
    }
    vigil_jbuf_close(&b, '}');
    m->data_len = (uint32_t)b.len;
    out_commit(w);
    w->local_dead++;
}

/* "2 h 13 min" */
static void fmt_span(char *buf, size_t n, int64_t ms)
{
    int64_t min = ms / 60000;
    if (min >= 48 * 60)
        snprintf(buf, n, "%lld days %lld h", (long long)(min / 1440), (long long)(min % 1440 / 60));
    else if (min >= 60)
        snprintf(buf, n, "%lld h %lld min", (long long)(min / 60), (long long)(min % 60));
    else
        snprintf(buf, n, "%lld min %lld s", (long long)min, (long long)(ms / 1000 % 60));
}

/* "2026-11-02T10:05:00Z" */
static void fmt_iso(char *buf, size_t n, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One NOC alert about the stream itself (no account): a gap in a partition's event time, or
 * events lost under the consumer. Its id is a hash of the partition and where the gap began,
 * so the same gap seen again after a restart keeps its id. */
static void send_stream_alert(struct vigil_worker *w, int32_t p, enum vigil_severity sev,
                              int64_t event_ts, int64_t id_part, const char *reason,
                              const struct vigil_evidence *ev, int n_ev)
{
    struct vigil_out_msg *m = out_slot(w);
    if (!m)
        return;
    uint64_t h = vigil_fnv1a(VIGIL_FNV_OFFSET, w->env.events_topic, strlen(w->env.events_topic));
    h = vigil_fnv1a(h, &p, sizeof p);
    h = vigil_fnv1a(h, &id_part, sizeof id_part);
    char id[32];
    snprintf(id, sizeof id, "alr-%016llx", (unsigned long long)h);
    struct vigil_finding f = {.detector = "vigil", .rule = "vigil.stream_gap",
                              .severity = sev, .account = "", .event_ts_ms = event_ts,
                              .reason = reason, .n_evidence = 0};
    f.evidence[f.n_evidence++] = (struct vigil_evidence){"partition", (double)p};
    for (int i = 0; i < n_ev && f.n_evidence < VIGIL_EVIDENCE_MAX; i++)
        f.evidence[f.n_evidence++] = ev[i];
    m->kind = VIGIL_MSG_ALERT;
    m->account[0] = '\0';
    copy_str(m->detector, sizeof m->detector, "vigil");
    m->action[0] = '\0';
    m->n_counters = 0;
    m->data_len = (uint32_t)vigil_emit_format_system_alert(&f, id, vigil_wall_ms(), "topic",
                                                           w->env.events_topic, m->data,
                                                           sizeof m->data);
    out_commit(w);
    w->local_alerts++;
}

/* A partition's clock jumped over a gap (stream_clock.h): timers due inside it will not
 * order; one alert and one log line say so, unless the gap is that of events already
 * reported lost. */
static void take_gap(struct vigil_worker *w, int32_t p, const struct vigil_pclock_jump *j)
{
    w->gap_from[p] = j->from;
    w->gap_to[p] = j->to;
    w->local_gaps++;
    if (w->loss_reported[p]) {
        w->loss_reported[p] = false;
        return;
    }
    char span[48], from[32], to[32], reason[320];
    fmt_span(span, sizeof span, j->to - j->from);
    fmt_iso(from, sizeof from, j->from);
    fmt_iso(to, sizeof to, j->to);
    snprintf(reason, sizeof reason,
             "Partition %d of %s had no events for %s of event time (%s to %s): the exporter "
             "or the stream stopped, or its clock jumped; open calls whose timers fell inside "
             "the gap get alerts, not orders.",
             (int)p, w->env.events_topic, span, from, to);
    vigil_log_warn("worker %d: partition %d: no events for %s of event time (%s to %s); "
                   "timers due inside the gap alert only", w->env.index, (int)p, span, from, to);
    struct vigil_evidence ev[] = {{"gap_s", (double)((j->to - j->from) / 1000)},
                                  {"from_ts", (double)j->from},
                                  {"to_ts", (double)j->to}};
    send_stream_alert(w, p, VIGIL_SEV_WARNING, j->to, j->from, reason, ev, 3);
}

/* Events of partition p were lost under the consumer: offsets [from, to) are no longer on
 * the broker (value: from, to as int64). Accounts of p it holds state for may have missed
 * their call ends: their timers alert, never order, for the longest a call can stay open. */
static void take_loss(struct vigil_worker *w, const struct vigil_in_msg *in)
{
    int32_t p = in->partition;
    if (p < 0 || p >= VIGIL_MAX_PARTITIONS)
        return;
    int64_t off[2];
    memcpy(off, in->value, sizeof off);
    int64_t clock = w->part_ts[p];
    int64_t until = clock + 24 * 3600000LL + w->disorder_ms;
    size_t n = 0;
    for (size_t i = 0; i < vigil_acct_table_count(w->accts); i++) {
        struct wk_acct *a = vigil_acct_table_at(w->accts, i, NULL);
        if (a->partition == p && clock > 0) {
            a->uncertain_until = until;
            n++;
        }
    }
    w->local_lost += off[1] - off[0];
    w->loss_reported[p] = true;
    char at[32], reason[400];
    fmt_iso(at, sizeof at, clock);
    snprintf(reason, sizeof reason,
             "%lld events of partition %d of %s (offsets %lld to %lld) were lost: the broker no "
             "longer held them when vigil read on (it fell behind the retention); %zu accounts "
             "with state then may have missed call ends, so their open-call timers alert, not "
             "order, until 24 h after %s.",
             (long long)(off[1] - off[0]), (int)p, w->env.events_topic, (long long)off[0],
             (long long)(off[1] - 1), n, clock > 0 ? at : "the loss");
    vigil_log_error("worker %d: partition %d: %lld events lost (offsets %lld to %lld no longer "
                    "on the broker); %zu accounts' open-call timers alert only for 24 h",
                    w->env.index, (int)p, (long long)(off[1] - off[0]), (long long)off[0],
                    (long long)(off[1] - 1), n);
    struct vigil_evidence ev[] = {{"lost_events", (double)(off[1] - off[0])},
                                  {"first_lost_offset", (double)off[0]},
                                  {"last_lost_offset", (double)(off[1] - 1)},
                                  {"accounts_uncertain", (double)n}};
    send_stream_alert(w, p, VIGIL_SEV_CRITICAL, clock, -off[0] - 1, reason, ev, 4);
}

/* Keeps a new event id for the partition's next checkpoint. Without memory it is not kept:
 * a repeat of it after a restart would count again, nothing worse. */
static void note_seen(struct vigil_worker *w, uint64_t hash, int32_t p)
{
    if (w->n_seen == w->cap_seen) {
        size_t cap = w->cap_seen ? w->cap_seen * 2 : 1024;
        struct seen_rec *v = realloc(w->seen, cap * sizeof *v);
        if (!v)
            return;
        w->seen = v;
        w->cap_seen = cap;
    }
    w->seen[w->n_seen++] = (struct seen_rec){hash, p};
}

static int cmp_seen(const void *a, const void *b)
{
    const struct seen_rec *x = a, *y = b;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* Hands the ids noted since the last checkpoint to the publisher, per partition, in the
 * checkpoint's transaction (staged like the states). */
static void send_seen(struct vigil_worker *w)
{
    if (w->n_seen == 0)
        return;
    qsort(w->seen, w->n_seen, sizeof *w->seen, cmp_seen);
    const size_t per_msg = VIGIL_OUT_DATA_MAX / SEEN_PAIR;
    for (size_t i = 0; i < w->n_seen;) {
        struct vigil_out_msg *m = out_slot(w);
        if (!m)
            break;
        int32_t p = w->seen[i].partition;
        m->kind = VIGIL_MSG_SEEN;
        m->partition = p;
        m->n_counters = 0;
        m->account[0] = '\0';
        m->clock_ms = 0;
        size_t k = 0;
        /* Every id of the batch is dated by the partition's clock now, not by its event's
         * own time: one event stamped a day ahead must not score (and so trim away) the
         * real ids of the last windows in Redis. */
        int64_t clock = p >= 0 && p < VIGIL_MAX_PARTITIONS ? w->part_ts[p] : 0;
        m->clock_ms = clock;
        for (; i < w->n_seen && w->seen[i].partition == p && k < per_msg; i++, k++) {
            memcpy(m->data + k * SEEN_PAIR, &w->seen[i].hash, 8);
            memcpy(m->data + k * SEEN_PAIR + 8, &clock, 8);
        }
        m->data_len = (uint32_t)(k * SEEN_PAIR);
        out_commit(w);
    }
    w->n_seen = 0;
}

/* Checkpointed ids of a partition being taken over: repeats of them count once. */
static void take_seen(struct vigil_worker *w, const struct vigil_in_msg *in)
{
    int32_t p = in->partition;
    if (!w->dedupe || p < 0 || p >= VIGIL_MAX_PARTITIONS)
        return;
    int64_t now = w->part_ts[p];
    for (uint32_t k = 0; k + SEEN_PAIR <= in->value_len; k += SEEN_PAIR) {
        uint64_t h;
        int64_t ts;
        memcpy(&h, in->value + k, 8);
        memcpy(&ts, in->value + k + 8, 8);
        if (h != 0)
            vigil_dedupe_seen_hash(w->dedupe, h, now > 0 ? now : ts);
    }
}

static void note_progress(struct vigil_worker *w, int32_t partition, int64_t next_offset)
{
    for (size_t i = 0; i < w->n_touched; i++) {
        if (w->touched[i].partition == partition) {
            w->touched[i].next_offset = next_offset;
            return;
        }
    }
    /* worker_main ends a batch before the table is full, so there is always room. */
    w->touched[w->n_touched++] = (struct touched){partition, next_offset};
}

/* --- checkpoints ---------------------------------------------------------------------- */

/* Notes that the account's state changed. partition >= 0: an event of that partition (adds
 * the account when new); -1: a record the account's state produced (known accounts only).
 * Returns the account's entry (valid until the next insert into w->accts), or NULL. */
static struct wk_acct *touch(struct vigil_worker *w, const char *account, int32_t partition)
{
    if (!account || !account[0])
        return NULL;
    struct wk_acct *a = partition >= 0 ? vigil_acct_table_get(w->accts, account, NULL)
                                       : vigil_acct_table_find(w->accts, account);
    if (!a)
        return NULL; /* a key too long for an account, or no memory: no checkpoint for it */
    if (partition >= 0)
        a->partition = partition;
    a->seen = ++w->touch_seq;
    if (!a->changed &&
        vigil_idx_list_push(&w->changed, (uint32_t)vigil_acct_table_index(w->accts, a)) == 0)
        a->changed = true;
    return a;
}

/* Zero runs become (0, run length up to 255); other bytes stay as they are. Detector states
 * are mostly zeros (empty slots, idle rings). Returns the packed length, or 0 when it does
 * not fit in cap. */
static size_t pack(const unsigned char *src, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (o + 2 > cap)
            return 0;
        if (src[i] != 0) {
            dst[o++] = (char)src[i++];
            continue;
        }
        size_t run = 1;
        while (run < 255 && i + run < n && src[i + run] == 0)
            run++;
        dst[o++] = 0;
        dst[o++] = (char)run;
        i += run;
    }
    return o;
}

/* pack() undone into *out. 0, or VIGIL_ERR_INVALID / VIGIL_ERR_NOMEM. */
static int unpack(const unsigned char *src, size_t n, struct vigil_bytes *out)
{
    static const unsigned char zeros[255];
    out->len = 0;
    for (size_t i = 0; i < n;) {
        int rc;
        if (src[i] != 0) {
            size_t j = i;
            while (j < n && src[j] != 0)
                j++;
            rc = vigil_bytes_put(out, src + i, j - i);
            i = j;
        } else {
            if (i + 1 >= n || src[i + 1] == 0)
                return VIGIL_ERR_INVALID;
            rc = vigil_bytes_put(out, zeros, src[i + 1]);
            i += 2;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The name that opens a holder's section; its 32-bit length and bytes follow. */
static int put_section_name(struct vigil_bytes *b, const char *name)
{
    uint8_t nl = (uint8_t)strlen(name);
    return vigil_bytes_put(b, &nl, 1) || vigil_bytes_put(b, name, nl) ? VIGIL_ERR_NOMEM : 0;
}

/* Appends a section per holder (the detectors' `states`, then `emit`) that holds something
 * for `account`. 0, or a negative status when memory ran out. */
static int save_holders(struct vigil_worker *w, void *const *states, const struct vigil_emit *emit,
                        const char *account, struct vigil_bytes *b)
{
    for (size_t i = 0; i <= w->n_det; i++) {
        const char *name = i < w->n_det ? w->ops[i]->name : "emit";
        size_t mark = b->len;
        uint32_t len = 0;
        if (put_section_name(b, name) != 0 || vigil_bytes_put(b, &len, sizeof len) != 0)
            return VIGIL_ERR_NOMEM;
        size_t body = b->len;
        int rc = i < w->n_det ? w->ops[i]->save(states[i], account, b)
                              : vigil_emit_save(emit, account, b);
        if (rc != 0)
            return rc;
        len = (uint32_t)(b->len - body);
        if (len == 0)
            b->len = mark; /* this holder has nothing: no section */
        else
            memcpy(b->p + body - sizeof len, &len, sizeof len);
    }
    return 0;
}

/* Everything the detectors and the emit layer hold for `account`, into w->raw. False when
 * they hold nothing (or memory ran out: then no checkpoint rather than a partial one). */
static bool save_account(struct vigil_worker *w, const char *account)
{
    static const unsigned char head[3] = {STATE_MAGIC0, STATE_MAGIC1, STATE_VERSION};
    struct vigil_bytes *b = &w->raw;
    b->len = 0;
    if (vigil_bytes_put(b, head, sizeof head) != 0 ||
        save_holders(w, w->states, w->emit, account, b) != 0)
        return false;
    if (b->len == sizeof head)
        return false;
    /* The numbers ride along with a state, never keep an account alone (every account that
     * ever called has some). */
    const struct wk_acct *a = vigil_acct_table_find(w->accts, account);
    if (a && a->numbers[0] != 0) {
        uint32_t len = sizeof a->numbers + sizeof a->flagged_until;
        if (put_section_name(b, STATE_NUMBERS) != 0 || vigil_bytes_put(b, &len, sizeof len) != 0 ||
            vigil_bytes_put(b, a->numbers, sizeof a->numbers) != 0 ||
            vigil_bytes_put(b, &a->flagged_until, sizeof a->flagged_until) != 0)
            return false;
    }
    return true;
}

/* Sends the account's checkpoint (data_len 0: it holds nothing, delete it). */
static void send_state(struct vigil_worker *w, const char *account, int32_t partition,
                       bool held)
{
    struct vigil_out_msg *m = out_slot(w);
    if (!m)
        return;
    m->kind = VIGIL_MSG_STATE;
    m->partition = partition;
    m->n_counters = 0;
    copy_str(m->account, sizeof m->account, account);
    m->data_len = held ? (uint32_t)pack(w->raw.p, w->raw.len, m->data, sizeof m->data) : 0;
    if (held && m->data_len == 0 && !w->state_too_big_logged) {
        /* Deleting is better than leaving an older state behind to be loaded. */
        vigil_log_error("worker %d: state of %s is too large to checkpoint (%zu bytes); it "
                        "will start empty after a restart", w->env.index, account, w->raw.len);
        w->state_too_big_logged = true;
    }
    out_commit(w);
}

/* Drops everything the detectors and the emit layer hold for the account. */
static void forget_account(struct vigil_worker *w, const char *account)
{
    for (size_t i = 0; i < w->n_det; i++)
        w->ops[i]->forget(w->states[i], account);
    vigil_emit_forget(w->emit, account);
}

static int cmp_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x < y) - (x > y);
}

/* Checkpoints every account changed since the last one; an account that now holds nothing
 * is deleted and leaves the table. Walking entry numbers downwards makes removal safe: the
 * entry moved into a hole has a higher number, already done. */
static void checkpoint(struct vigil_worker *w)
{
    if (w->changed.n == 0)
        return;
    qsort(w->changed.v, w->changed.n, sizeof w->changed.v[0], cmp_desc);
    for (size_t k = 0; k < w->changed.n; k++) {
        const char *account;
        struct wk_acct *a = vigil_acct_table_at(w->accts, w->changed.v[k], &account);
        a->changed = false;
        if (!w->checkpoint)
            continue;
        bool held = save_account(w, account);
        send_state(w, account, a->partition, held);
        if (!held)
            vigil_acct_table_remove_at(w->accts, w->changed.v[k]);
    }
    vigil_idx_list_consume(&w->changed, w->changed.n);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Past vigild.max_accounts, evicts the least recently seen tenth. Runs right after a
 * checkpoint: nothing is pending, so every evicted account's state is in Redis. */
static void evict(struct vigil_worker *w)
{
    size_t n = vigil_acct_table_count(w->accts);
    if (n <= w->max_accounts)
        return;
    uint64_t *seen = malloc(n * sizeof *seen);
    if (!seen)
        return;
    for (size_t i = 0; i < n; i++)
        seen[i] = ((struct wk_acct *)vigil_acct_table_at(w->accts, i, NULL))->seen;
    qsort(seen, n, sizeof *seen, cmp_u64);
    uint64_t cutoff = seen[n - w->max_accounts + w->max_accounts / 10];
    free(seen);
    size_t evicted = 0;
    for (size_t i = n; i-- > 0;) {
        const char *account;
        struct wk_acct *a = vigil_acct_table_at(w->accts, i, &account);
        if (a->seen > cutoff || a->changed)
            continue;
        forget_account(w, account);
        vigil_acct_table_remove_at(w->accts, i);
        evicted++;
    }
    w->local_evicted += (int64_t)evicted;
    int64_t now = vigil_mono_ms();
    if (now - w->last_evict_log_ms >= 10000) {
        vigil_log_warn("worker %d: %zu accounts in memory passed vigild.max_accounts (%zu); "
                       "evicted the %zu least recently seen (%lld so far)",
                       w->env.index, n, w->max_accounts, evicted, (long long)w->local_evicted);
        w->last_evict_log_ms = now;
    }
}

/* Once an hour of the worker's clock: accounts whose detectors have let go of everything
 * (idle past their longest window) leave the table, and their checkpoint is deleted. */
static void sweep_idle(struct vigil_worker *w, int64_t clock_ms)
{
    int64_t hour = vigil_floor_div(clock_ms, 3600000);
    if (hour == w->sweep_hour)
        return;
    w->sweep_hour = hour;
    for (size_t i = vigil_acct_table_count(w->accts); i-- > 0;) {
        const char *account;
        struct wk_acct *a = vigil_acct_table_at(w->accts, i, &account);
        if (a->changed || save_account(w, account))
            continue;
        if (w->checkpoint)
            send_state(w, account, a->partition, false);
        vigil_acct_table_remove_at(w->accts, i);
    }
}

/* Rebuilds the changed list after entries were removed outside checkpoint(). */
static void relist_changed(struct vigil_worker *w)
{
    w->changed.n = 0;
    for (size_t i = 0; i < vigil_acct_table_count(w->accts); i++) {
        struct wk_acct *a = vigil_acct_table_at(w->accts, i, NULL);
        if (a->changed && vigil_idx_list_push(&w->changed, (uint32_t)i) != 0)
            a->changed = false; /* no memory: it misses one checkpoint */
    }
}

/* The partition went to another owner (or comes back with the next assignment, state
 * reloaded): its accounts leave this worker, so no timer of theirs fires here. */
static void revoke(struct vigil_worker *w, int32_t partition)
{
    for (size_t i = vigil_acct_table_count(w->accts); i-- > 0;) {
        const char *account;
        struct wk_acct *a = vigil_acct_table_at(w->accts, i, &account);
        if (a->partition != partition)
            continue;
        forget_account(w, account);
        vigil_acct_table_remove_at(w->accts, i);
    }
    relist_changed(w);
    if (partition >= 0 && partition < VIGIL_MAX_PARTITIONS) {
        w->resume[partition] = 0;
        /* Its gap and loss marks belong to this assignment; the clock itself stays (it never
         * goes back, and the next owner's checkpoint restores it). */
        w->gap_from[partition] = w->gap_to[partition] = 0;
        w->loss_reported[partition] = false;
    }
}

/* Applies the sections in r to the holders (the detectors' `states`, `emit`) and the numbers
 * section to numbers and *flagged_until. `what` names the bytes in warnings ("checkpoint"). */
static void load_holders(struct vigil_worker *w, void *const *states, struct vigil_emit *emit,
                         const char *account, const struct vigil_bytes_reader *rd,
                         uint64_t numbers[VIGIL_FLAGGED_NUMBERS], int64_t *flagged_until,
                         const char *what)
{
    struct vigil_bytes_reader r = *rd;
    int rc;
    while (r.pos < r.len) {
        uint8_t nl;
        char name[VIGIL_OUT_NAME_MAX];
        uint32_t len;
        if (!vigil_bytes_get(&r, &nl, 1) || nl >= sizeof name || !vigil_bytes_get(&r, name, nl) ||
            !vigil_bytes_get(&r, &len, sizeof len) || len > r.len - r.pos)
            break;
        name[nl] = '\0';
        const unsigned char *body = r.p + r.pos;
        r.pos += len;
        rc = VIGIL_ERR_INVALID;
        if (strcmp(name, "emit") == 0) {
            rc = vigil_emit_load(emit, account, body, len);
        } else if (strcmp(name, STATE_NUMBERS) == 0) {
            const size_t nlen = VIGIL_FLAGGED_NUMBERS * sizeof numbers[0];
            if (len == nlen + sizeof *flagged_until) {
                memcpy(numbers, body, nlen);
                memcpy(flagged_until, body + nlen, sizeof *flagged_until);
                rc = 0;
            }
        } else {
            for (size_t i = 0; i < w->n_det; i++) {
                if (strcmp(w->ops[i]->name, name) == 0)
                    rc = w->ops[i]->load(states[i], account, body, len);
            }
        }
        /* After an upgrade that changed a detector's format every account's section is
         * refused: the first is logged whole, then one line every 10,000. */
        if (rc != 0 && w->refused++ % 10000 == 0)
            vigil_log_warn("worker %d: %s's %s of %s not loaded (%s: written by another "
                           "version of vigil, or damaged); that part starts empty (%" PRIu64
                           " such parts so far on this worker; logged every 10000)",
                           w->env.index, name, what, account, vigil_status_str(rc), w->refused);
    }
    if (r.bad)
        vigil_log_warn("worker %d: %s of %s is cut short", w->env.index, what, account);
}

/* Applies a checkpointed state to every holder it has a section for. */
static void load_account(struct vigil_worker *w, const char *account, int32_t partition)
{
    int rc = unpack(w->loading.p, w->loading.len, &w->raw);
    struct vigil_bytes_reader r = {.p = w->raw.p, .len = w->raw.len};
    unsigned char head[3];
    if (rc != 0 || !vigil_bytes_get(&r, head, sizeof head) || head[0] != STATE_MAGIC0 ||
        head[1] != STATE_MAGIC1 || head[2] != STATE_VERSION) {
        vigil_log_warn("worker %d: checkpoint of %s is not a state of this version; the "
                       "account starts empty", w->env.index, account);
        return;
    }
    forget_account(w, account);
    uint64_t numbers[VIGIL_FLAGGED_NUMBERS] = {0};
    int64_t flagged_until = 0;
    load_holders(w, w->states, w->emit, account, &r, numbers, &flagged_until, "checkpoint");
    struct wk_acct *a = vigil_acct_table_get(w->accts, account, NULL);
    if (a) {
        a->partition = partition;
        a->seen = ++w->touch_seq;
        memcpy(a->numbers, numbers, sizeof numbers);
        a->flagged_until = flagged_until;
    }
}

/* A chunk of an account's checkpoint; the last one loads it. */
static void take_state(struct vigil_worker *w, const struct vigil_in_msg *in)
{
    if (in->offset == 0)
        w->loading.len = 0;
    if ((size_t)in->offset != w->loading.len ||
        vigil_bytes_put(&w->loading, in->value, in->value_len) != 0) {
        vigil_log_warn("worker %d: checkpoint of %s arrived out of order; the account starts "
                       "empty", w->env.index, in->key);
        w->loading.len = 0;
        return;
    }
    if (w->loading.len == in->total_len)
        load_account(w, in->key, in->partition);
}

/* The partition's checkpoint: events before in->offset are in the states that follow. */
static void take_resume(struct vigil_worker *w, const struct vigil_in_msg *in)
{
    int32_t p = in->partition;
    if (p < 0 || p >= VIGIL_MAX_PARTITIONS)
        return;
    int64_t v[3] = {0, 0, 0}; /* clock, gap from, gap to */
    memcpy(v, in->value, in->value_len < sizeof v ? in->value_len : sizeof v);
    int64_t clock = v[0];
    if (v[2] > w->gap_to[p]) {
        w->gap_from[p] = v[1];
        w->gap_to[p] = v[2];
    }
    w->resume[p] = in->offset;
    vigil_pclock_restore(&w->pclock[p], clock);
    w->part_ts[p] = w->pclock[p].ts;
    /* Restates the checkpoint as progress, so its offset is committed and a revoke finds
     * the partition durable even before any new event; never less than the checkpoint. */
    note_progress(w, p, in->offset);
}

/* --- the detection loop (engine.h) ------------------------------------------------------- */

static struct vigil_engine_dets worker_dets(const struct vigil_worker *w)
{
    return (struct vigil_engine_dets){.n = w->n_det, .ops = w->ops, .states = w->states,
                                      .emit = w->emit, .recs = w->recs};
}

/* The engine's accept hook: an event of partition cur_partition that is no repeat. Its id
 * goes into the partition's checkpoint; the partition's clock moves as stream_clock.h
 * allows (the event counts for its account whatever its time). */
static void worker_accept(void *ctx, const struct vigil_event *ev, uint64_t id_hash)
{
    struct vigil_worker *w = ctx;
    int32_t p = w->cur_partition;
    bool in_range = p >= 0 && p < VIGIL_MAX_PARTITIONS;
    /* Scored by the partition's clock (after this event moved it), not the event's own
     * time: one event a day ahead would otherwise trim every real id from Redis. */
    if (id_hash != 0 && w->checkpoint && in_range)
        note_seen(w, id_hash, p);
    if (w->dedupe && !w->dedupe_full_logged && vigil_dedupe_full(w->dedupe)) {
        vigil_log_warn("worker %d: more event ids in one dedupe window than "
                       "vigild.dedupe_max_ids; repeats of newer ids may count twice",
                       w->env.index);
        w->dedupe_full_logged = true;
    }
    if (in_range) {
        struct vigil_pclock_jump jump;
        uint64_t ahead = w->pclock[p].ahead;
        if (w->pclock[p].ts == 0) {
            /* A fresh partition's first event far ahead of the process's clock: suspect. */
            int64_t shared = atomic_load_explicit(w->env.stream_ts, memory_order_relaxed);
            w->suspect_ts[p] = shared > 0 && ev->ts_ms > shared + w->gap_ms ? ev->ts_ms : 0;
        }
        if (vigil_pclock_note(&w->pclock[p], w->gap_ms, w->confirm_accounts,
                              vigil_pclock_acct(ev->account), ev->ts_ms, &jump))
            take_gap(w, p, &jump);
        else if (w->pclock[p].ts > w->part_ts[p])
            w->loss_reported[p] = false; /* the stream went on without a jump after the loss */
        w->local_ahead += (int64_t)(w->pclock[p].ahead - ahead);
        w->part_ts[p] = w->pclock[p].ts;
    }
    w->local_events++;
}

/* The engine's account hook: the account's entry (touched: its state changed), judged by
 * the wall clock, as the orders that flag it are. A full table keeps no numbers. */
static int worker_account(void *ctx, const struct vigil_event *ev, struct vigil_engine_acct *out)
{
    struct vigil_worker *w = ctx;
    struct wk_acct *a = touch(w, ev->account, w->cur_partition);
    if (a) {
        out->numbers = a->numbers;
        out->flagged_until = a->flagged_until;
        out->now_ms = a->flagged_until != 0 ? vigil_wall_ms() : 0;
    }
    return 0;
}

static void worker_flag(void *ctx, const char *account, uint64_t number, int64_t until_ms)
{
    send_flag(ctx, account, &number, 1, until_ms);
}

static void worker_failed(void *ctx, const char *detector, const struct vigil_event *ev, int rc)
{
    const struct vigil_worker *w = ctx;
    if (rc == VIGIL_ERR_TIMEOUT)
        return; /* the out ring was given up on (shutdown deadline): nothing to add */
    if (ev)
        vigil_log_warn("worker %d: detector %s failed on event %s: %s", w->env.index, detector,
                       ev->id, vigil_status_str(rc));
    else
        vigil_log_warn("worker %d: detector %s failed at a tick: %s", w->env.index, detector,
                       vigil_status_str(rc));
}

static void process(struct vigil_worker *w, const struct vigil_in_msg *in)
{
    switch (in->kind) {
    case VIGIL_IN_STATE:
        take_state(w, in);
        return;
    case VIGIL_IN_RESUME:
        take_resume(w, in);
        return;
    case VIGIL_IN_REVOKE:
        revoke(w, in->partition);
        return;
    case VIGIL_IN_LOSS:
        take_loss(w, in);
        return;
    case VIGIL_IN_SEEN:
        take_seen(w, in);
        return;
    case VIGIL_IN_EVENT:
    case VIGIL_IN_LIFT:
        break;
    }
    if (in->kind == VIGIL_IN_LIFT) {
        /* Not an event of ours: no progress, just forget the standing order. */
        const char *action = in->value;
        const char *detector = in->value + strlen(in->value) + 1;
        const char *lifted_id = detector + strlen(detector) + 1;
        vigil_emit_forget_order(w->emit, in->key, action, detector);
        touch(w, in->key, -1);
        if (w->env.index == 0)
            send_lift(w, in->key, action, lifted_id);
        return;
    }
    if (in->partition >= 0 && in->partition < VIGIL_MAX_PARTITIONS &&
        in->offset < w->resume[in->partition]) {
        w->local_skipped++; /* already in the loaded state */
        return;
    }
    note_progress(w, in->partition, in->offset + 1);
    if (in->value_len > VIGIL_EVENT_MAX_BYTES) {
        char detail[96];
        snprintf(detail, sizeof detail, "message value is %u bytes; at most %d are allowed",
                 in->value_len, VIGIL_EVENT_MAX_BYTES);
        send_dead_letter(w, in, "too_large", detail);
        return;
    }
    struct vigil_event ev;
    struct vigil_parse_error err;
    w->popts.now_ms = vigil_wall_ms();
    if (vigil_event_parse(in->value, in->value_len, in->has_key ? in->key : NULL, in->key_len,
                          &w->popts, &ev, &err) != 0) {
        send_dead_letter(w, in, err.reason, err.detail);
        return;
    }
    bool in_range = in->partition >= 0 && in->partition < VIGIL_MAX_PARTITIONS;
    /* The partition's clock moves the dedupe's generations, not the event's own time: one
     * event stamped a day ahead must not make it forget every id. */
    int64_t now = in_range && w->part_ts[in->partition] > 0 ? w->part_ts[in->partition]
                  : w->stream_seen > 0                         ? w->stream_seen
                                                               : ev.ts_ms;
    w->cur_partition = in->partition;
    struct vigil_engine_dets dets = worker_dets(w);
    if (vigil_engine_event(&w->eng, &dets, &ev, now) == VIGIL_ENGINE_REPEAT)
        w->local_repeats++;
}

/* Runs the detectors' timers and counter publication, then reports progress: the sink must
 * see every effect of an event before the progress that lets its offset be committed. */
/* The worker's event-time clock, which never goes back:
 * - while some of its assigned partitions are not caught up (not at end-of-partition), the
 *   lowest newest-event-time among them, so a partition still working through a backlog
 *   never has its events judged by the time another partition has reached; it holds still
 *   while one of them has delivered nothing yet;
 * - once all its partitions are caught up and its ring is empty, the process-wide clock
 *   (raised by the workers that are still receiving), so timers of idle accounts fire as the
 *   rest of the stream moves on. */
static int64_t sync_stream_clock(struct vigil_worker *w)
{
    int64_t own = INT64_MAX, own_eof = INT64_MAX, newest = 0;
    bool caught_up = true, hold = false, hold_eof = false;
    /* Relaxed throughout: the clock is a monotonic hint for timers and carries no data;
     * the CAS loop below only keeps the maximum when workers race. */
    int64_t shared = atomic_load_explicit(w->env.stream_ts, memory_order_relaxed);
    for (int p = w->env.index; p < VIGIL_MAX_PARTITIONS; p += w->env.n_workers) {
        unsigned st = vigil_part_get(w->env.parts, p);
        int64_t ts = w->part_ts[p];
        /* A provisional clock (too few accounts yet to be sure of it, stream_clock.h) whose
         * first event was more than a gap ahead of the process's clock (an exporter with a
         * wrong clock on a fresh partition) neither leads nor holds, until more accounts
         * establish it or one far behind corrects it. One that started in step with the
         * stream counts as any other, however far its own events then take it. */
        bool implausible = w->pclock[p].provisional && w->suspect_ts[p] != 0 &&
                           ts >= w->suspect_ts[p];
        if (!implausible && ts > newest)
            newest = ts;
        if (!(st & VIGIL_PART_ASSIGNED))
            continue;
        if (implausible) {
            if (!(st & VIGIL_PART_EOF))
                caught_up = false;
            continue;
        }
        if (st & VIGIL_PART_EOF) {
            /* Fully dispatched, but maybe not yet processed: it holds the clock until the
             * ring is empty (decided below). */
            if (ts == 0)
                hold_eof = true;
            else if (ts < own_eof)
                own_eof = ts;
            continue;
        }
        caught_up = false;
        if (ts == 0)
            hold = true;
        else if (ts < own)
            own = ts;
    }
    /* Read after the partition states (acquire): a partition seen at EOF has all its
     * messages visible in the ring by now. */
    bool ring_empty = vigil_ring_peek(w->in) == NULL;
    if (!ring_empty) {
        hold = hold || hold_eof;
        if (own_eof < own)
            own = own_eof;
    }
    int64_t clock = w->stream_seen;
    w->caught_up = caught_up && ring_empty;
    if (caught_up && ring_empty)
        clock = newest > shared ? newest : shared;
    else if (!hold && own != INT64_MAX)
        clock = own;
    while (clock > shared &&
           !atomic_compare_exchange_weak_explicit(w->env.stream_ts, &shared, clock,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    if (clock > w->stream_seen)
        w->stream_seen = clock;
    return w->stream_seen;
}

/* Runs every detector's on_tick at the watermark of stream_ts. With `resweep`, first has them
 * forget how far they had swept (detector.h), for events that came in behind it. */
static void run_ticks(struct vigil_worker *w, int64_t stream_ts, bool resweep)
{
    int64_t wm = stream_ts > 0 ? stream_ts - w->disorder_ms : INT64_MIN;
    struct vigil_engine_dets dets = worker_dets(w);
    vigil_engine_tick(&w->eng, &dets, wm, resweep);
}

static void tick_and_report(struct vigil_worker *w, bool final)
{
    int64_t now = vigil_mono_ms();
    w->last_tick_ms = now;
    int64_t clock = sync_stream_clock(w);
    /* The last tick: whatever this process was sent is processed. */
    run_ticks(w, clock, final && w->eng.behind);
    /* With checkpoints, progress is reported only with one (every checkpoint_interval_ms):
     * an offset may never run ahead of the state saved with it. A busy account is then saved
     * once per interval instead of once per tick. Eviction waits for a checkpoint (an evicted
     * account's state must be in Redis), so once the accounts held pass vigild.max_accounts
     * by half, the checkpoint comes at this tick: how far memory overshoots the cap must not
     * depend on how many new accounts a worker gets through in one interval. */
    bool over_cap = vigil_acct_table_count(w->accts) > w->max_accounts + w->max_accounts / 2;
    if (w->checkpoint && !final && !over_cap && w->n_touched < PARTITIONS_TOUCHED_MAX &&
        now - w->last_checkpoint_ms < w->checkpoint_interval_ms)
        goto stats;
    w->last_checkpoint_ms = now;
    /* Counters, states, then the progress they reflect, then the end of the group: the
     * publisher writes a group's states and offsets in one transaction, after the counters
     * before them are in Redis. */
    send_counters(w);
    checkpoint(w);
    send_seen(w);
    sweep_idle(w, clock);
    for (size_t i = 0; i < w->n_touched; i++) {
        struct vigil_out_msg *m = out_slot(w);
        if (!m)
            break;
        int32_t p = w->touched[i].partition;
        m->kind = VIGIL_MSG_PROGRESS;
        m->partition = p;
        m->offset = w->touched[i].next_offset;
        bool in_range = p >= 0 && p < VIGIL_MAX_PARTITIONS;
        m->clock_ms = in_range ? w->part_ts[p] : 0;
        /* The gap travels with the clock: a new owner whose clock starts at its end must
         * still hold the timers that come due inside it. */
        m->gap_from_ms = in_range ? w->gap_from[p] : 0;
        m->gap_to_ms = in_range ? w->gap_to[p] : 0;
        m->data_len = 0;
        m->n_counters = 0;
        out_commit(w);
    }
    w->n_touched = 0;
    if (w->checkpoint) {
        struct vigil_out_msg *m = out_slot(w);
        if (m) {
            m->kind = VIGIL_MSG_TICK_END;
            m->data_len = 0;
            m->n_counters = 0;
            out_commit(w);
        }
    }
    evict(w);
stats:
    w->local_accounts = (int64_t)vigil_acct_table_count(w->accts);
    /* Relaxed: statistics for logs only. */
    atomic_store_explicit(&w->st_events, (uint64_t)w->local_events, memory_order_relaxed);
    atomic_store_explicit(&w->st_dead, (uint64_t)w->local_dead, memory_order_relaxed);
    atomic_store_explicit(&w->st_orders, (uint64_t)w->local_orders, memory_order_relaxed);
    atomic_store_explicit(&w->st_alerts, (uint64_t)w->local_alerts, memory_order_relaxed);
    atomic_store_explicit(&w->st_repeats, (uint64_t)w->local_repeats, memory_order_relaxed);
    atomic_store_explicit(&w->st_accounts, (uint64_t)w->local_accounts, memory_order_relaxed);
    atomic_store_explicit(&w->st_evicted, (uint64_t)w->local_evicted, memory_order_relaxed);
    atomic_store_explicit(&w->st_skipped, (uint64_t)w->local_skipped, memory_order_relaxed);
    atomic_store_explicit(&w->st_gaps, (uint64_t)w->local_gaps, memory_order_relaxed);
    atomic_store_explicit(&w->st_lost, (uint64_t)w->local_lost, memory_order_relaxed);
    atomic_store_explicit(&w->st_ahead, (uint64_t)w->local_ahead, memory_order_relaxed);
    atomic_store_explicit(&w->st_held, (uint64_t)w->local_held, memory_order_relaxed);
}

/* --- reload ---------------------------------------------------------------------------- */

static void destroy_states(struct vigil_worker *w, void **states, struct vigil_recs *recs)
{
    vigil_recs_destroy(recs); /* before the states: its fini calls reach into them */
    for (size_t i = 0; states && i < w->n_det; i++)
        w->ops[i]->destroy(states[i]);
    free(states);
}

/* Switches the detectors and the emit layer to configuration c without losing state: new
 * ones are made from c, and every account this worker holds is saved out of the old ones and
 * loaded into the new, as a restart from a checkpoint would (detectors cache their levels
 * at init, so this is how a new level reaches them); the account's profile is looked up
 * again on load. Out of memory: the worker keeps the running configuration (logged). */
static void apply_conf(struct vigil_worker *w, const struct vigil_worker_conf *c)
{
    void **states = calloc(w->n_det ? w->n_det : 1, sizeof *states);
    struct vigil_emit *emit = make_emit(w, c->cfg, c->numplan);
    struct vigil_recs *recs = vigil_recs_create(vigil_recs_count(w->recs));
    struct vigil_detector_env denv = {.cfg = c->cfg, .numplan = c->numplan,
                                      .profiles = c->profiles, .flagged = w->env.flagged,
                                      .credit = w->env.credit, .recs = recs};
    int rc = states && emit && recs ? 0 : VIGIL_ERR_NOMEM;
    const char *failed = "";
    for (size_t i = 0; rc == 0 && i < w->n_det; i++) {
        rc = w->ops[i]->init(&states[i], &denv);
        if (rc != 0)
            failed = w->ops[i]->name;
    }
    if (rc != 0) {
        vigil_log_error("worker %d: cannot apply the new configuration (%s%s%s); it keeps the "
                        "running one", w->env.index, failed, failed[0] ? ": " : "",
                        vigil_status_str(rc));
        destroy_states(w, states, recs);
        vigil_emit_destroy(emit);
        return;
    }
    uint64_t no_numbers[VIGIL_FLAGGED_NUMBERS];
    int64_t no_until;
    for (size_t k = 0; k < vigil_acct_table_count(w->accts); k++) {
        const char *account;
        vigil_acct_table_at(w->accts, k, &account);
        w->raw.len = 0;
        if (save_holders(w, w->states, w->emit, account, &w->raw) != 0) {
            vigil_log_warn("worker %d: out of memory moving %s to the new configuration; "
                           "the account starts empty", w->env.index, account);
            continue;
        }
        if (w->raw.len == 0)
            continue; /* holds nothing */
        struct vigil_bytes_reader r = {.p = w->raw.p, .len = w->raw.len};
        load_holders(w, states, emit, account, &r, no_numbers, &no_until,
                     "state under the new configuration");
        /* Gone from the old holders at once: the two never hold every account together. */
        forget_account(w, account);
    }
    destroy_states(w, w->states, w->recs);
    vigil_emit_destroy(w->emit);
    w->states = states;
    w->recs = recs;
    w->emit = emit;
    w->env.cfg = c->cfg;
    w->env.numplan = c->numplan;
    w->env.profiles = c->profiles;
    read_keys(w, c->cfg);
}

void vigil_worker_reconfigure(struct vigil_worker *w, const struct vigil_worker_conf *c)
{
    /* Release: the worker's acquire exchange sees c and everything it points to as built. */
    atomic_store_explicit(&w->next_conf, c, memory_order_release);
    vigil_bell_ring(&w->bell);
}

uint64_t vigil_worker_generation(struct vigil_worker *w)
{
    /* Relaxed: a number for the daemon's log; it publishes no data. */
    return atomic_load_explicit(&w->applied_gen, memory_order_relaxed);
}

/* At a batch boundary: a configuration handed over since the last one is applied now, so no
 * event is processed half under the old one. */
static void take_conf(struct vigil_worker *w)
{
    /* Relaxed peek first: the exchange (a write) only when something is pending. */
    if (!atomic_load_explicit(&w->next_conf, memory_order_relaxed))
        return;
    /* Acquire: pairs with the release store in vigil_worker_reconfigure. */
    const struct vigil_worker_conf *c =
        atomic_exchange_explicit(&w->next_conf, NULL, memory_order_acquire);
    if (!c)
        return;
    apply_conf(w, c);
    atomic_store_explicit(&w->applied_gen, c->generation, memory_order_relaxed);
}

/* Sleeps until the in ring has something, stop, abort or a configuration is handed over, or
 * until the next idle tick or progress report is due. */
static void idle_wait(struct vigil_worker *w)
{
    int64_t now = vigil_mono_ms();
    int64_t wait = IDLE_TICK_MS - (now - w->last_idle_tick_ms);
    if (w->n_touched > 0 && IDLE_REPORT_MS - (now - w->last_tick_ms) < wait)
        wait = IDLE_REPORT_MS - (now - w->last_tick_ms);
    if (wait < 1)
        wait = 1;
    out_notify(w);
    uint32_t token = vigil_bell_prepare(&w->bell);
    /* Re-checked after prepare (the bell's contract): anything that arrived since the loop
     * looked is seen here, anything later rings. Acquire on stop as in the loop; relaxed on
     * abort and next_conf, which the loop re-reads properly. */
    if (vigil_ring_peek(w->in) || atomic_load_explicit(&w->stop, memory_order_acquire) ||
        atomic_load_explicit(&w->abort, memory_order_relaxed) ||
        atomic_load_explicit(&w->next_conf, memory_order_relaxed))
        vigil_bell_cancel(&w->bell);
    else
        vigil_bell_wait(&w->bell, token, wait);
}

static void *worker_main(void *arg)
{
    struct vigil_worker *w = arg;
    for (;;) {
        size_t n = 0;
        struct vigil_in_msg *in;
        out_notify(w); /* what the last round committed */
        take_conf(w);
        /* A batch ends before it could touch more partitions than progress can track. */
        while (n < BATCH_MAX && w->n_touched < PARTITIONS_TOUCHED_MAX &&
               (in = vigil_ring_peek(w->in)) != NULL) {
            process(w, in);
            vigil_ring_release(w->in);
            n++;
        }
        if (n > 0) {
            /* Under load, timers and counters run every tick_interval_ms rather than after
             * every batch: counters are published once per changed account per tick, so
             * ticking per batch made Redis work grow with events instead of accounts. The
             * progress markers wait for the tick (they must follow the counters). */
            if (w->n_touched == PARTITIONS_TOUCHED_MAX ||
                vigil_mono_ms() - w->last_tick_ms >= w->tick_interval_ms)
                tick_and_report(w, false);
            continue;
        }
        /* The ring is drained: report soon, so an idle worker adds at most IDLE_REPORT_MS to
         * the commit point (orders and alerts left at their event already). Not at once: a
         * worker faster than the consumer drains its ring after nearly every batch. */
        if (w->n_touched > 0 && vigil_mono_ms() - w->last_tick_ms >= IDLE_REPORT_MS) {
            tick_and_report(w, false);
            continue;
        }
        /* Acquire pairs with the daemon's release store: everything the consumer pushed
         * before asking us to stop is visible to the peek below. */
        if (atomic_load_explicit(&w->stop, memory_order_acquire) && !vigil_ring_peek(w->in))
            break;
        if (atomic_load_explicit(&w->abort, memory_order_relaxed))
            break;
        /* Idle: follow the stream's clock so open-call timers still fire. */
        int64_t now = vigil_mono_ms();
        if (now - w->last_idle_tick_ms >= IDLE_TICK_MS) {
            w->last_idle_tick_ms = now;
            int64_t stream = sync_stream_clock(w);
            if (stream > 0 && stream - w->disorder_ms > w->eng.last_tick_wm)
                run_ticks(w, stream, false);
            else if (stream > 0 && w->eng.behind && w->caught_up)
                /* The watermark stands still, so no tick will move the windows past events
                 * that came in behind it; they came from a backlog that is now read to its
                 * end (not before: until then its accounts' windows follow their own
                 * events, so what they catch is judged as it happened). */
                run_ticks(w, stream, true);
        }
        /* Idle: what the idle ticks reported (or a batch left) goes now, there is nothing
         * to coalesce it with; it need not wait for progress, only never come after it. */
        send_counters(w);
        idle_wait(w);
    }
    tick_and_report(w, true);
    out_notify(w);
    return NULL;
}

int vigil_worker_start(struct vigil_worker *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return VIGIL_ERR_NOMEM;
    w->started = true;
    return 0;
}

int vigil_worker_drain_and_join(struct vigil_worker *w, int64_t deadline_ms)
{
    if (!w->started)
        return 0;
    /* Release: pairs with the worker's acquire load of `stop`. */
    atomic_store_explicit(&w->stop, true, memory_order_release);
    vigil_bell_ring(&w->bell);
    int64_t left = deadline_ms - vigil_mono_ms();
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    left = left > 0 ? left : 0;
    at.tv_sec += (time_t)(left / 1000);
    at.tv_nsec += (long)(left % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    int aborted = 0;
    if (pthread_timedjoin_np(w->thread, NULL, &at) != 0) {
        vigil_worker_abort(w);
        pthread_join(w->thread, NULL);
        aborted = 1;
    }
    w->started = false;
    return aborted;
}

void vigil_worker_abort(struct vigil_worker *w)
{
    atomic_store_explicit(&w->abort, true, memory_order_relaxed);
    vigil_bell_ring(&w->bell);
    vigil_bell_ring(&w->space);
}

void vigil_worker_get_stats(struct vigil_worker *w, struct vigil_worker_stats *st)
{
    st->events = atomic_load_explicit(&w->st_events, memory_order_relaxed);
    st->dead = atomic_load_explicit(&w->st_dead, memory_order_relaxed);
    st->orders = atomic_load_explicit(&w->st_orders, memory_order_relaxed);
    st->alerts = atomic_load_explicit(&w->st_alerts, memory_order_relaxed);
    st->repeats = atomic_load_explicit(&w->st_repeats, memory_order_relaxed);
    st->accounts = atomic_load_explicit(&w->st_accounts, memory_order_relaxed);
    st->evicted = atomic_load_explicit(&w->st_evicted, memory_order_relaxed);
    st->skipped = atomic_load_explicit(&w->st_skipped, memory_order_relaxed);
    st->gaps = atomic_load_explicit(&w->st_gaps, memory_order_relaxed);
    st->lost = atomic_load_explicit(&w->st_lost, memory_order_relaxed);
    st->ahead = atomic_load_explicit(&w->st_ahead, memory_order_relaxed);
    st->held = atomic_load_explicit(&w->st_held, memory_order_relaxed);
}
