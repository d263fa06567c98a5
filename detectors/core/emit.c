/* SPDX-License-Identifier: Apache-2.0 */
/* emit.c - the action discipline between detectors and sinks (see vigil/emit.h).
 *
 * Threading: one struct vigil_emit per worker thread; nothing here is shared.
 * Ownership: the emit object owns its tables; records handed to the sink are on our stack.
 *
 * Both "while it stands" (orders) and "cool-down" (alerts) are judged on event time, so a
 * replay of the same stream makes the same decisions as the live run did. */
#include "vigil/emit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/acct_table.h"
#include "vigil/bytes.h"
#include "vigil/config.h"
#include "jbuf.h"
#include "vigil/numplan.h"
#include "vigil/status.h"

#define OUT_JSON_MAX 4096
#define EXEMPT_MAX 16
#define EXEMPT_LEN 32 /* "+" and up to 20 digits, with room */

/* What the discipline remembers of one account, for as long as it matters: its standing
 * orders (key (account, action, detector) -> stands until) and its alerts in cool-down (key
 * (account, rule, severity) -> quiet until), in event time. Kept per account so a checkpoint
 * can save and load one account's marks (vigil_emit_save). Only accounts with findings have a
 * record; records whose marks have all expired are dropped by a sweep. */
#define MARKS_MAX 16

struct mark {
    uint64_t key; /* key_hash(); 0: none */
    int64_t until;
};

struct acct_marks {
    struct mark m[MARKS_MAX];
    uint16_t standing; /* bit i: m[i] is a standing order (kept before cool-downs when full) */
    uint8_t n;
};

struct vigil_emit {
    struct vigil_sink sink;
    int64_t (*now_ms)(void *);
    void *clock_ctx;
    int64_t cooldown_ms;
    int64_t standing_ms;
    const char *const *allowlist;
    size_t n_allowlist;
    const char *exempt[EXEMPT_MAX];
    size_t n_exempt;
    char exempt_buf[EXEMPT_MAX][EXEMPT_LEN]; /* exempt[] of vigil_emit_set_exempt */
    struct vigil_acct_table *marks; /* struct acct_marks per account with findings */
    size_t sweep_at;                /* sweep expired records when this many are held */
    int64_t latest;                 /* latest event time a finding came with */
    /* Report-only: orders.mode = report (every rule), or orders.report_rules. */
    bool report_all;
    const char *const *report_rules;
    size_t n_report_rules;
    bool interim_on_critical;       /* credit.interim_on_critical */
    vigil_emit_hold_fn hold;        /* may hold an order back (vigil_emit_set_hold) */
    void *hold_ctx;
    struct vigil_emit_stats stats;
};

static int64_t real_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The mark of `key` in the account's record, or NULL. */
static struct mark *mark_find(struct acct_marks *a, uint64_t key)
{
    for (uint8_t i = 0; a && i < a->n; i++) {
        if (a->m[i].key == key)
            return &a->m[i];
    }
    return NULL;
}

static int64_t marks_get(const struct vigil_emit *out, const char *account, uint64_t key)
{
    struct mark *m = mark_find(vigil_acct_table_find(out->marks, account), key);
    return m ? m->until : INT64_MIN;
}

/* Drops the marks that have expired at `now`, keeping the others in order. */
static void marks_prune(struct acct_marks *a, int64_t now)
{
    uint8_t k = 0;
    uint16_t standing = 0;
    for (uint8_t i = 0; i < a->n; i++) {
        if (a->m[i].until <= now)
            continue;
        standing |= (uint16_t)(((a->standing >> i) & 1u) << k);
        a->m[k++] = a->m[i];
    }
    a->n = k;
    a->standing = standing;
}

/* Removes the records whose marks have all expired at out->latest. Walks down so the entry
 * moved into a hole has been looked at already. */
static void marks_sweep(struct vigil_emit *out)
{
    for (size_t i = vigil_acct_table_count(out->marks); i-- > 0;) {
        struct acct_marks *a = vigil_acct_table_at(out->marks, i, NULL);
        marks_prune(a, out->latest);
        if (a->n == 0)
            vigil_acct_table_remove_at(out->marks, i);
    }
    size_t held = vigil_acct_table_count(out->marks);
    out->sweep_at = held * 2 > 256 ? held * 2 : 256;
}

/* The slot a new mark takes in a full record: the cool-down that ends first, or when all
 * are standing orders, the order that ends first. */
static uint8_t mark_victim(const struct acct_marks *a)
{
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        for (uint8_t i = 0; i < a->n; i++) {
            bool standing = (a->standing >> i) & 1u;
            if ((pass == 0 && standing) || (best >= 0 && a->m[i].until >= a->m[best].until))
                continue;
            best = i;
        }
    }
    return (uint8_t)best;
}

static int marks_put(struct vigil_emit *out, const char *account, uint64_t key, int64_t until,
                     int64_t now, bool standing)
{
    if (vigil_acct_table_count(out->marks) >= out->sweep_at)
        marks_sweep(out);
    struct acct_marks *a = vigil_acct_table_get(out->marks, account, NULL);
    if (!a)
        return VIGIL_ERR_NOMEM;
    struct mark *m = mark_find(a, key);
    if (!m) {
        marks_prune(a, now);
        uint8_t i = a->n < MARKS_MAX ? a->n++ : mark_victim(a);
        m = &a->m[i];
        m->key = key;
        a->standing = (uint16_t)((a->standing & ~(1u << i)) | ((unsigned)standing << i));
    }
    m->until = until;
    return 0;
}

const char *vigil_action_str(enum vigil_action a)
{
    switch (a) {
    case VIGIL_ACT_SUSPEND: return "suspend";
    case VIGIL_ACT_BLOCK_INTERNATIONAL: return "block_international";
    case VIGIL_ACT_BLOCK_PREMIUM: return "block_premium";
    case VIGIL_ACT_BLOCK_SMS: return "block_sms";
    case VIGIL_ACT_WITHHOLD_PAYOUT: return "withhold_payout";
    case VIGIL_ACT_LIFT: return "lift";
    case VIGIL_ACT_INTERIM_INVOICE: return "interim_invoice";
    case VIGIL_ACT_NONE: break;
    }
    return "none";
}

const char *vigil_severity_str(enum vigil_severity s)
{
    return s == VIGIL_SEV_CRITICAL ? "critical" : "warning";
}

struct vigil_emit *vigil_emit_create(const struct vigil_config *cfg, struct vigil_sink sink,
                                     int64_t (*now_ms)(void *clock_ctx), void *clock_ctx)
{
    struct vigil_emit *out = calloc(1, sizeof *out);
    if (!out)
        return NULL;
    out->sink = sink;
    out->now_ms = now_ms ? now_ms : real_now_ms;
    out->clock_ctx = clock_ctx;
    out->cooldown_ms = vigil_config_int(cfg, "alerts.cooldown_s") * 1000;
    out->standing_ms = vigil_config_int(cfg, "redis.block_ttl_s") * 1000;
    out->allowlist = vigil_config_list(cfg, "orders.allowlist", &out->n_allowlist);
    out->report_all = strcmp(vigil_config_str(cfg, "orders.mode"), "report") == 0;
    out->report_rules = vigil_config_list(cfg, "orders.report_rules", &out->n_report_rules);
    out->interim_on_critical = vigil_config_int(cfg, "credit.interim_on_critical") != 0;

    /* 112 stays reachable whatever the operator configured (terms.md). */
    out->exempt[out->n_exempt++] = "112";
    size_t n = 0;
    const char *const *ex = vigil_config_list(cfg, "orders.exempt", &n);
    for (size_t i = 0; i < n && out->n_exempt < EXEMPT_MAX; i++) {
        if (strcmp(ex[i], "112") != 0)
            out->exempt[out->n_exempt++] = ex[i];
    }

    out->marks = vigil_acct_table_create(sizeof(struct acct_marks), 256);
    if (!out->marks) {
        free(out);
        return NULL;
    }
    out->sweep_at = 256;
    out->latest = INT64_MIN;
    return out;
}

/* Adds number to the exempt list unless it is there or the list is full. */
static void add_exempt(struct vigil_emit *out, const char *number)
{
    for (size_t i = 0; i < out->n_exempt; i++) {
        if (strcmp(out->exempt[i], number) == 0)
            return;
    }
    if (out->n_exempt == EXEMPT_MAX || strlen(number) >= EXEMPT_LEN)
        return;
    char *slot = out->exempt_buf[out->n_exempt];
    snprintf(slot, EXEMPT_LEN, "%s", number);
    out->exempt[out->n_exempt++] = slot;
}

void vigil_emit_set_exempt(struct vigil_emit *out, const struct vigil_numplan *np)
{
    /* The list before it is replaced, copied: after an earlier call it points into
     * exempt_buf, which the additions below overwrite. */
    char typed[EXEMPT_MAX][EXEMPT_LEN];
    size_t n_typed = out->n_exempt;
    for (size_t i = 0; i < n_typed; i++)
        snprintf(typed[i], sizeof typed[i], "%s", out->exempt[i]);
    out->n_exempt = 0;
    add_exempt(out, "112");
    for (size_t i = 0; i < vigil_numplan_emergency_count(np); i++)
        add_exempt(out, vigil_numplan_emergency_at(np, i));
    /* orders.exempt holds digits, optionally after '+' (config.c): "00" is the international
     * access code, a single leading 0 the national trunk prefix, anything else (a short code
     * or "+...") is already as the proxy compares it. */
    const char *cc = vigil_numplan_home_cc(np);
    for (size_t i = 0; i < n_typed; i++) {
        const char *t = typed[i];
        char norm[EXEMPT_LEN];
        /* Precisions bound what gcc sees: t holds at most EXEMPT_LEN - 1 bytes, cc 3 digits. */
        if (t[0] == '0' && t[1] == '0')
            snprintf(norm, sizeof norm, "+%.*s", EXEMPT_LEN - 2, t + 2);
        else if (t[0] == '0')
            snprintf(norm, sizeof norm, "+%.3s%.*s", cc, EXEMPT_LEN - 5, t + 1);
        else
            snprintf(norm, sizeof norm, "%.*s", EXEMPT_LEN - 1, t);
        add_exempt(out, norm);
    }
}

void vigil_emit_destroy(struct vigil_emit *out)
{
    if (!out)
        return;
    vigil_acct_table_destroy(out->marks);
    free(out);
}

static bool allowlisted(const struct vigil_emit *out, const char *account)
{
    for (size_t i = 0; i < out->n_allowlist; i++) {
        if (strcmp(out->allowlist[i], account) == 0)
            return true;
    }
    return false;
}

/* Report-only: the whole discipline (orders.mode = report), or the finding's rule or its
 * whole detector named in orders.report_rules. */
static bool report_only(const struct vigil_emit *out, const struct vigil_finding *f)
{
    if (out->report_all)
        return true;
    for (size_t i = 0; i < out->n_report_rules; i++) {
        const char *r = out->report_rules[i];
        if (strcmp(r, f->rule) == 0 || strcmp(r, f->detector) == 0)
            return true;
    }
    return false;
}

/* Hash of NUL-separated strings and one integer; never 0 (0 marks an empty map slot). */
static uint64_t key_hash(const char *a, const char *b, const char *c, int64_t n)
{
    uint64_t h = VIGIL_FNV_OFFSET;
    h = vigil_fnv1a(h, a, strlen(a) + 1);
    h = vigil_fnv1a(h, b, strlen(b) + 1);
    h = vigil_fnv1a(h, c, strlen(c) + 1);
    h = vigil_fnv1a(h, &n, sizeof n);
    return h ? h : 1;
}

/* Deterministic id: same account, action (or severity), rule and window give the same id. */
static void make_id(char *id, size_t n, const char *tag, const struct vigil_finding *f,
                    const char *what)
{
    int64_t window = f->window_ms > 0 ? f->event_ts_ms / f->window_ms : f->event_ts_ms;
    uint64_t h = key_hash(f->account, what, f->rule, window);
    snprintf(id, n, "%s-%016llx", tag, (unsigned long long)h);
}

/* The fields orders and alerts share, in outputs.md order. */
static void put_common(struct vigil_jbuf *b, const struct vigil_emit *out,
                       const struct vigil_finding *f)
{
    vigil_jbuf_key(b, "ts");
    vigil_jbuf_int(b, out->now_ms(out->clock_ctx));
    vigil_jbuf_key(b, "event_ts");
    vigil_jbuf_int(b, f->event_ts_ms);
    vigil_jbuf_key(b, "account");
    vigil_jbuf_cstr(b, f->account);
}

static void put_finding(struct vigil_jbuf *b, const struct vigil_finding *f,
                        enum vigil_severity sev)
{
    vigil_jbuf_key(b, "detector");
    vigil_jbuf_cstr(b, f->detector);
    vigil_jbuf_key(b, "rule");
    vigil_jbuf_cstr(b, f->rule);
    vigil_jbuf_key(b, "severity");
    vigil_jbuf_cstr(b, vigil_severity_str(sev));
    vigil_jbuf_key(b, "reason");
    vigil_jbuf_cstr(b, f->reason ? f->reason : "");
    vigil_jbuf_key(b, "evidence");
    vigil_jbuf_open(b, '{');
    for (int i = 0; i < f->n_evidence && i < VIGIL_EVIDENCE_MAX; i++) {
        vigil_jbuf_key(b, f->evidence[i].name);
        vigil_jbuf_num(b, f->evidence[i].value);
    }
    vigil_jbuf_key(b, "sample_event_ids");
    vigil_jbuf_open(b, '[');
    for (int i = 0; i < f->n_samples && i < VIGIL_SAMPLES_MAX; i++)
        vigil_jbuf_cstr(b, f->samples[i]);
    vigil_jbuf_close(b, ']');
    vigil_jbuf_close(b, '}');
}

static int write_order(struct vigil_emit *out, const struct vigil_finding *f, const char *id)
{
    char json[OUT_JSON_MAX];
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, json, sizeof json);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "v");
    vigil_jbuf_int(&b, 1);
    vigil_jbuf_key(&b, "order_id");
    vigil_jbuf_cstr(&b, id);
    put_common(&b, out, f);
    vigil_jbuf_key(&b, "action");
    vigil_jbuf_cstr(&b, vigil_action_str(f->action));
    put_finding(&b, f, VIGIL_SEV_CRITICAL);
    vigil_jbuf_key(&b, "exempt");
    vigil_jbuf_open(&b, '[');
    for (size_t i = 0; i < out->n_exempt; i++)
        vigil_jbuf_cstr(&b, out->exempt[i]);
    vigil_jbuf_close(&b, ']');
    vigil_jbuf_close(&b, '}');
    if (b.overflow)
        return VIGIL_ERR_INVALID; /* evidence is bounded: only a detector bug gets here */
    struct vigil_out_record rec = {
        .kind = VIGIL_OUT_ORDER,
        .account = f->account,
        .detector = f->detector,
        .action = f->action,
        .severity = VIGIL_SEV_CRITICAL,
        .id = id,
        .json = json,
        .json_len = b.len,
    };
    return out->sink.write(out->sink.ctx, &rec);
}

static int write_alert(struct vigil_emit *out, const struct vigil_finding *f, const char *order_id,
                       bool allowlist_held, const char *held, bool would_order)
{
    char id[32], json[OUT_JSON_MAX];
    make_id(id, sizeof id, "alr", f, vigil_severity_str(f->severity));
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, json, sizeof json);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "v");
    vigil_jbuf_int(&b, 1);
    vigil_jbuf_key(&b, "alert_id");
    vigil_jbuf_cstr(&b, id);
    put_common(&b, out, f);
    put_finding(&b, f, f->severity);
    /* Extra fields (readers ignore unknown ones) that tell the NOC what was done. */
    if (order_id) {
        vigil_jbuf_key(&b, "order_id");
        vigil_jbuf_cstr(&b, order_id);
        vigil_jbuf_key(&b, "action");
        vigil_jbuf_cstr(&b, vigil_action_str(f->action));
    }
    if (allowlist_held) {
        vigil_jbuf_key(&b, "allowlisted");
        vigil_jbuf_bool(&b, true);
    }
    if (held) {
        vigil_jbuf_key(&b, "held");
        vigil_jbuf_cstr(&b, held);
    }
    if (would_order) {
        vigil_jbuf_key(&b, "would_order");
        vigil_jbuf_cstr(&b, vigil_action_str(f->action));
    }
    vigil_jbuf_close(&b, '}');
    if (b.overflow)
        return VIGIL_ERR_INVALID;
    struct vigil_out_record rec = {
        .kind = VIGIL_OUT_ALERT,
        .account = f->account,
        .detector = f->detector,
        .action = VIGIL_ACT_NONE,
        .severity = f->severity,
        .id = id,
        .json = json,
        .json_len = b.len,
    };
    return out->sink.write(out->sink.ctx, &rec);
}

#define DAY_MS 86400000LL

/* Until when an order issued at event time t stands: an interim invoice until the end of its
 * UTC day (one per account and day), every other order redis.block_ttl_s. */
static int64_t stands_until(const struct vigil_emit *out, enum vigil_action a, int64_t t)
{
    if (a == VIGIL_ACT_INTERIM_INVOICE)
        return (vigil_floor_div(t, DAY_MS) + 1) * DAY_MS;
    return t + out->standing_ms;
}

static int finding(struct vigil_emit *out, const struct vigil_finding *f);

/* A critical toll_fraud or premium finding also asks billing for an interim invoice
 * (credit.interim_invoice, detectors/credit.c): the discipline issues it like any order of
 * the credit detector, so the one-per-day standing mark covers both of its triggers. */
static int interim_after(struct vigil_emit *out, const struct vigil_finding *f)
{
    if (!out->interim_on_critical || f->severity != VIGIL_SEV_CRITICAL ||
        (strcmp(f->detector, "toll_fraud") != 0 && strcmp(f->detector, "premium") != 0))
        return 0;
    /* A rule on trial in report-only mode asks billing for nothing either. */
    if (report_only(out, f))
        return 0;
    char reason[160];
    snprintf(reason, sizeof reason,
             "A critical %s finding (%s) on the account: invoice in between.", f->detector,
             f->rule);
    struct vigil_finding g = {
        .detector = "credit",
        .rule = "credit.interim_invoice",
        .severity = VIGIL_SEV_CRITICAL,
        .action = VIGIL_ACT_INTERIM_INVOICE,
        .account = f->account,
        .event_ts_ms = f->event_ts_ms,
        .window_ms = DAY_MS,
        .reason = reason,
        .evidence = {{"critical_finding", 1}},
        .n_evidence = 1,
        .n_samples = f->n_samples,
    };
    for (int i = 0; i < f->n_samples && i < VIGIL_SAMPLES_MAX; i++)
        g.samples[i] = f->samples[i];
    return finding(out, &g);
}

int vigil_emit_finding(struct vigil_emit *out, const struct vigil_finding *f)
{
    int rc = finding(out, f);
    return rc ? rc : interim_after(out, f);
}

static int finding(struct vigil_emit *out, const struct vigil_finding *f)
{
    int64_t t = f->event_ts_ms;
    if (t > out->latest)
        out->latest = t;
    bool wants_order = f->severity == VIGIL_SEV_CRITICAL && f->action != VIGIL_ACT_NONE &&
                       f->action != VIGIL_ACT_LIFT;
    bool held = false;
    if (wants_order && allowlisted(out, f->account)) {
        out->stats.allowlisted++;
        wants_order = false;
        held = true;
    }

    char order_id[32];
    bool issue_order = false;
    if (wants_order) {
        uint64_t k = key_hash(f->account, vigil_action_str(f->action), f->detector, 0);
        if (marks_get(out, f->account, k) > t) {
            out->stats.orders_suppressed++;
            /* Today's interim invoice was asked already: nothing new to tell anyone. */
            if (f->action == VIGIL_ACT_INTERIM_INVOICE)
                return 0;
        } else {
            if (marks_put(out, f->account, k, stands_until(out, f->action, t), t, true) != 0)
                return VIGIL_ERR_NOMEM;
            make_id(order_id, sizeof order_id, "ord", f, vigil_action_str(f->action));
            issue_order = true;
        }
    }

    /* Every order comes with its critical alert, cool-down or not; other repeats of the same
     * finding stay quiet until the cool-down has passed in event time. */
    uint64_t ka = key_hash(f->account, f->rule, vigil_severity_str(f->severity), 1);
    if (!issue_order && marks_get(out, f->account, ka) > t) {
        out->stats.alerts_suppressed++;
        return 0;
    }
    if (marks_put(out, f->account, ka, t + out->cooldown_ms, t, false) != 0)
        return VIGIL_ERR_NOMEM;

    /* A report-only or held order stands all the same: the alert names it (order_id and
     * action, so the id is the one it would have had), and it is not asked again while it
     * would have stood, exactly as an issued order suppresses its repeats. */
    bool reported = issue_order && report_only(out, f);
    const char *hold_cause =
        issue_order && !reported && out->hold ? out->hold(out->hold_ctx, f) : NULL;
    int rc;
    if (reported) {
        out->stats.reported++;
    } else if (hold_cause) {
        out->stats.held++;
    } else if (issue_order) {
        rc = write_order(out, f, order_id);
        if (rc != 0)
            return rc;
        out->stats.orders++;
    }
    rc = write_alert(out, f, issue_order ? order_id : NULL, held, hold_cause, reported);
    if (rc != 0)
        return rc;
    out->stats.alerts++;
    return 0;
}

size_t vigil_emit_format_system_alert(const struct vigil_finding *f, const char *id,
                                      int64_t now_ms, const char *extra_key,
                                      const char *extra_val, char *buf, size_t cap)
{
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, buf, cap);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "v");
    vigil_jbuf_int(&b, 1);
    vigil_jbuf_key(&b, "alert_id");
    vigil_jbuf_cstr(&b, id);
    vigil_jbuf_key(&b, "ts");
    vigil_jbuf_int(&b, now_ms);
    vigil_jbuf_key(&b, "event_ts");
    vigil_jbuf_int(&b, f->event_ts_ms);
    vigil_jbuf_key(&b, "account");
    vigil_jbuf_cstr(&b, f->account);
    put_finding(&b, f, f->severity);
    if (extra_key) {
        vigil_jbuf_key(&b, extra_key);
        vigil_jbuf_cstr(&b, extra_val);
    }
    vigil_jbuf_close(&b, '}');
    return b.overflow ? 0 : b.len;
}

void vigil_emit_set_hold(struct vigil_emit *out, vigil_emit_hold_fn fn, void *ctx)
{
    out->hold = fn;
    out->hold_ctx = ctx;
}

int vigil_emit_counters(struct vigil_emit *out, const char *account, const char *detector,
                        const struct vigil_counter *c, size_t n, int64_t ttl_s)
{
    struct vigil_out_record rec = {
        .kind = VIGIL_OUT_COUNTERS,
        .account = account,
        .detector = detector,
        .counters = c,
        .n_counters = n,
        .ttl_s = ttl_s,
    };
    return out->sink.write(out->sink.ctx, &rec);
}

void vigil_emit_forget_order(struct vigil_emit *out, const char *account, const char *action,
                             const char *detector)
{
    uint64_t k = key_hash(account, action, detector, 0);
    struct mark *m = mark_find(vigil_acct_table_find(out->marks, account), k);
    if (m)
        m->until = INT64_MIN; /* expired: the next prune drops it */
}

/* Saved marks: version, count, standing bits, then count x (key, until). */
#define MARKS_VERSION 1

int vigil_emit_save(const struct vigil_emit *out, const char *account, struct vigil_bytes *b)
{
    struct acct_marks *a = vigil_acct_table_find(out->marks, account);
    if (!a || a->n == 0)
        return 0;
    uint8_t head[2] = {MARKS_VERSION, a->n};
    int rc = vigil_bytes_put(b, head, sizeof head);
    rc = rc ? rc : vigil_bytes_put(b, &a->standing, sizeof a->standing);
    rc = rc ? rc : vigil_bytes_put(b, a->m, a->n * sizeof a->m[0]);
    return rc;
}

int vigil_emit_load(struct vigil_emit *out, const char *account, const void *data, size_t len)
{
    struct vigil_bytes_reader r = {.p = data, .len = len};
    uint8_t head[2];
    struct acct_marks in = {0};
    vigil_bytes_get(&r, head, sizeof head);
    if (r.bad || head[0] != MARKS_VERSION || head[1] == 0 || head[1] > MARKS_MAX)
        return VIGIL_ERR_INVALID;
    in.n = head[1];
    vigil_bytes_get(&r, &in.standing, sizeof in.standing);
    vigil_bytes_get(&r, in.m, in.n * sizeof in.m[0]);
    if (r.bad || r.pos != len)
        return VIGIL_ERR_INVALID;
    struct acct_marks *a = vigil_acct_table_get(out->marks, account, NULL);
    if (!a)
        return VIGIL_ERR_NOMEM;
    *a = in;
    return 0;
}

void vigil_emit_forget(struct vigil_emit *out, const char *account)
{
    vigil_acct_table_remove(out->marks, account);
}

void vigil_emit_get_stats(const struct vigil_emit *out, struct vigil_emit_stats *st)
{
    *st = out->stats;
}
