/* SPDX-License-Identifier: Apache-2.0 */
/* emit.h - what detectors report (findings, counters) and the action discipline that turns
 * findings into orders and alerts (outputs.md) before they reach a sink.
 *
 * Detectors call vigil_emit_finding() and vigil_emit_counters() only. The emit layer
 * applies the rules that hold for every detector: orders only for critical findings, at most
 * one order per (account, action, detector) while it stands, every order with a critical
 * alert, alert cool-down, the allowlist (alerts, never orders), `112` always exempt, and
 * deterministic order_id / alert_id. It formats the JSON and hands records to a sink:
 * vigild's worker (to Kafka and Redis), vigilctl replay (to stdout), tests.
 *
 * Threading: one struct vigil_emit belongs to one thread (a worker); no locks inside.
 * Ownership: records passed to a sink are valid only during the call; the sink copies. */
#ifndef VIGIL_EMIT_H
#define VIGIL_EMIT_H

#include <stddef.h>
#include <stdint.h>

struct vigil_bytes;
struct vigil_config;

enum vigil_severity {
    VIGIL_SEV_WARNING = 1,
    VIGIL_SEV_CRITICAL = 2,
};

enum vigil_action {
    VIGIL_ACT_NONE = 0, /* alert only */
    VIGIL_ACT_SUSPEND,
    VIGIL_ACT_BLOCK_INTERNATIONAL,
    VIGIL_ACT_BLOCK_PREMIUM,
    VIGIL_ACT_BLOCK_SMS,
    VIGIL_ACT_WITHHOLD_PAYOUT,
    VIGIL_ACT_LIFT,
    /* For billing, not provisioning: invoice the account now. Blocks nothing (no block key,
     * no flagged numbers, not counted by the order brake); one per account and UTC day. */
    VIGIL_ACT_INTERIM_INVOICE,
};

const char *vigil_action_str(enum vigil_action a);       /* "block_international" */
const char *vigil_severity_str(enum vigil_severity s);   /* "critical" */

#define VIGIL_EVIDENCE_MAX 8
#define VIGIL_SAMPLES_MAX 5

/* One number in a finding's evidence: a counter or the threshold it crossed. */
struct vigil_evidence {
    const char *name; /* "open_high_risk_calls", "threshold" */
    double value;
};

/* A rule that tripped. All strings are borrowed for the duration of the call. */
struct vigil_finding {
    const char *detector; /* "toll_fraud" */
    const char *rule;     /* "toll_fraud.concurrent_high_risk" */
    enum vigil_severity severity;
    enum vigil_action action; /* what to order if critical; VIGIL_ACT_NONE for alert only */
    const char *account;
    int64_t event_ts_ms; /* event time of the event (or watermark) that tripped the rule */
    int64_t window_ms;   /* the rule's window: ids hash floor(event_ts_ms / window_ms) */
    const char *reason;  /* one sentence a person understands */
    struct vigil_evidence evidence[VIGIL_EVIDENCE_MAX];
    int n_evidence;
    const char *samples[VIGIL_SAMPLES_MAX]; /* event ids */
    int n_samples;
};

/* One named value of a detector's current window for an account (published to Redis). */
struct vigil_counter {
    const char *name; /* "calls_15m", "open_high_risk" */
    int64_t value;
};

enum vigil_out_kind {
    VIGIL_OUT_ORDER = 1,
    VIGIL_OUT_ALERT = 2,
    VIGIL_OUT_COUNTERS = 3,
};

/* What the emit layer hands to a sink. */
struct vigil_out_record {
    enum vigil_out_kind kind;
    const char *account;
    const char *detector;
    enum vigil_action action;           /* ORDER: the action; else NONE */
    enum vigil_severity severity;       /* ORDER, ALERT */
    const char *id;                     /* ORDER: order_id, ALERT: alert_id */
    const char *json;                   /* ORDER, ALERT: the message value */
    size_t json_len;
    const struct vigil_counter *counters; /* COUNTERS */
    size_t n_counters;
    int64_t ttl_s; /* COUNTERS: how long the values stay meaningful */
};

struct vigil_sink {
    void *ctx;
    /* Returns 0, or a negative status; the emit layer passes the status up. */
    int (*write)(void *ctx, const struct vigil_out_record *rec);
};

struct vigil_emit;

/* Creates the discipline for one thread. `now_ms` gives the wall clock for the `ts` field
 * (NULL: the real clock; vigilctl replay passes event time for determinism). Reads
 * `orders.*` and `alerts.*` keys from cfg. NULL on allocation failure.
 *
 * Report-only (`orders.mode = report`, or a rule or whole detector named in
 * `orders.report_rules`): every rule runs, but an order the discipline would issue for such
 * a rule reaches the sink only as its critical alert, carrying `"would_order": action`
 * besides the order_id and action it would have had; no order record, so no block key and
 * no flag. The would-be order stands like an issued one (its repeats are suppressed). */
struct vigil_emit *vigil_emit_create(const struct vigil_config *cfg, struct vigil_sink sink,
                                     int64_t (*now_ms)(void *clock_ctx), void *clock_ctx);
void vigil_emit_destroy(struct vigil_emit *out); /* accepts NULL */

struct vigil_numplan;

/* The `exempt` list of every order: 112, the emergency numbers of np's number table, then
 * orders.exempt, each normalised as a SIP proxy sees the dialled number (short codes as
 * dialled, national and 00-numbers as "+" and E.164 digits with np's home country code),
 * without repeats. Copied: np may go before out. Without this call: 112 and orders.exempt as
 * typed. Same thread as the rest of the object. */
void vigil_emit_set_exempt(struct vigil_emit *out, const struct vigil_numplan *np);

/* A hold on orders: called when the discipline is about to issue an order for f. NULL lets
 * the order go out; a cause ("gap", "report") holds it: no order record reaches the sink,
 * the order still stands (the same finding will not order again while it would have stood)
 * and its critical alert carries `"held": cause` with the order_id and action it would have
 * had, so releasing it later issues exactly that order. */
typedef const char *(*vigil_emit_hold_fn)(void *ctx, const struct vigil_finding *f);

/* Installs (or with fn NULL removes) the hold. Same thread as the rest of the object. */
void vigil_emit_set_hold(struct vigil_emit *out, vigil_emit_hold_fn fn, void *ctx);

/* Reports a finding. Returns 0 (also when cool-down or a standing order suppressed it), or
 * the sink's negative status. */
int vigil_emit_finding(struct vigil_emit *out, const struct vigil_finding *f);

/* Publishes the current window values of one detector for one account. */
int vigil_emit_counters(struct vigil_emit *out, const char *account, const char *detector,
                        const struct vigil_counter *c, size_t n, int64_t ttl_s);

/* An operator lifted the order (account, action, detector): it no longer stands, so the next
 * critical finding of that detector orders again. `action` as in vigil_action_str(). */
void vigil_emit_forget_order(struct vigil_emit *out, const char *account, const char *action,
                             const char *detector);

/* Checkpoints: what the discipline remembers of one account (its standing orders and its
 * alerts in cool-down), out and back in; see the detector interface's save/load/forget.
 * save appends nothing when nothing is remembered; load returns VIGIL_ERR_INVALID (nothing
 * changed) for bytes that are not a saved state. */
int vigil_emit_save(const struct vigil_emit *out, const char *account, struct vigil_bytes *b);
int vigil_emit_load(struct vigil_emit *out, const char *account, const void *data, size_t len);
void vigil_emit_forget(struct vigil_emit *out, const char *account);

/* Formats an alert about vigil itself (the stream, the order brake) that no detector makes and
 * the discipline does not filter: the alert record for f (f->account may be "", f->detector is
 * "vigil"), with alert_id `id`, `ts` now_ms, and one extra string field when extra_key is not
 * NULL. Returns the length written to buf, or 0 when it does not fit in cap. */
size_t vigil_emit_format_system_alert(const struct vigil_finding *f, const char *id,
                                      int64_t now_ms, const char *extra_key,
                                      const char *extra_val, char *buf, size_t cap);

/* Counts of what the discipline did, for logs and tests. */
struct vigil_emit_stats {
    uint64_t orders, alerts, orders_suppressed, alerts_suppressed, allowlisted, held;
    uint64_t reported; /* orders not issued in report-only mode (alerts with would_order) */
};
void vigil_emit_get_stats(const struct vigil_emit *out, struct vigil_emit_stats *st);

#endif
