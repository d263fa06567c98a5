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

#include "vigil/config.h"
#include "vigil/jbuf.h"
#include "vigil/status.h"

#define OUT_JSON_MAX 4096
#define EXEMPT_MAX 16

/* A map from a 64-bit key hash to an event time; open addressing, linear probing. Key 0
 * marks an empty slot (a real hash of 0 is remapped to 1). Entries whose time is in the past
 * are dropped when the table would otherwise grow, so the table holds only what still
 * matters (standing orders, alerts in cool-down). */
struct until_map {
    uint64_t *keys;
    int64_t *until;
    size_t cap, count;
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
    struct until_map standing; /* (account, action, detector) -> order stands until */
    struct until_map cooldown; /* (account, rule, severity) -> alerts quiet until */
    struct vigil_emit_stats stats;
};

static int64_t real_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int map_init(struct until_map *m, size_t cap)
{
    m->keys = calloc(cap, sizeof *m->keys);
    m->until = calloc(cap, sizeof *m->until);
    m->cap = cap;
    m->count = 0;
    if (!m->keys || !m->until) {
        free(m->keys);
        free(m->until);
        return VIGIL_ERR_NOMEM;
    }
    return 0;
}

static void map_fini(struct until_map *m)
{
    free(m->keys);
    free(m->until);
}

static size_t map_slot(const struct until_map *m, uint64_t key)
{
    size_t i = (size_t)(key ^ (key >> 29)) & (m->cap - 1);
    while (m->keys[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* Rebuilds into new_cap slots keeping only entries still in force at `now`. */
static int map_rebuild(struct until_map *m, size_t new_cap, int64_t now)
{
    struct until_map n;
    if (map_init(&n, new_cap) != 0)
        return VIGIL_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0 || m->until[i] <= now)
            continue;
        size_t j = map_slot(&n, m->keys[i]);
        n.keys[j] = m->keys[i];
        n.until[j] = m->until[i];
        n.count++;
    }
    map_fini(m);
    *m = n;
    return 0;
}

static int64_t map_get(const struct until_map *m, uint64_t key)
{
    size_t i = map_slot(m, key);
    return m->keys[i] == key ? m->until[i] : INT64_MIN;
}

static int map_put(struct until_map *m, uint64_t key, int64_t until, int64_t now)
{
    if ((m->count + 1) * 10 > m->cap * 7) {
        /* First try dropping what has expired; grow only if the table stays busy. */
        size_t cap = m->cap;
        if (map_rebuild(m, cap, now) != 0)
            return VIGIL_ERR_NOMEM;
        if ((m->count + 1) * 10 > cap * 5 && map_rebuild(m, cap * 2, now) != 0)
            return VIGIL_ERR_NOMEM;
    }
    size_t i = map_slot(m, key);
    if (m->keys[i] == 0)
        m->count++;
    m->keys[i] = key;
    m->until[i] = until;
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

    /* 112 stays reachable whatever the operator configured (terms.md). */
    out->exempt[out->n_exempt++] = "112";
    size_t n = 0;
    const char *const *ex = vigil_config_list(cfg, "orders.exempt", &n);
    for (size_t i = 0; i < n && out->n_exempt < EXEMPT_MAX; i++) {
        if (strcmp(ex[i], "112") != 0)
            out->exempt[out->n_exempt++] = ex[i];
    }

    if (map_init(&out->standing, 256) != 0)
        goto fail;
    if (map_init(&out->cooldown, 256) != 0)
        goto fail_standing;
    return out;

fail_standing:
    map_fini(&out->standing);
fail:
    free(out);
    return NULL;
}

void vigil_emit_destroy(struct vigil_emit *out)
{
    if (!out)
        return;
    map_fini(&out->cooldown);
    map_fini(&out->standing);
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

static int write_alert(struct vigil_emit *out, const struct vigil_finding *f,
                       const char *order_id, bool allowlist_held)
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

int vigil_emit_finding(struct vigil_emit *out, const struct vigil_finding *f)
{
    int64_t t = f->event_ts_ms;
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
        if (map_get(&out->standing, k) > t) {
            out->stats.orders_suppressed++;
        } else {
            if (map_put(&out->standing, k, t + out->standing_ms, t) != 0)
                return VIGIL_ERR_NOMEM;
            make_id(order_id, sizeof order_id, "ord", f, vigil_action_str(f->action));
            issue_order = true;
        }
    }

    /* Every order comes with its critical alert, cool-down or not; other repeats of the same
     * finding stay quiet until the cool-down has passed in event time. */
    uint64_t ka = key_hash(f->account, f->rule, vigil_severity_str(f->severity), 1);
    if (!issue_order && map_get(&out->cooldown, ka) > t) {
        out->stats.alerts_suppressed++;
        return 0;
    }
    if (map_put(&out->cooldown, ka, t + out->cooldown_ms, t) != 0)
        return VIGIL_ERR_NOMEM;

    int rc;
    if (issue_order) {
        rc = write_order(out, f, order_id);
        if (rc != 0)
            return rc;
        out->stats.orders++;
    }
    rc = write_alert(out, f, issue_order ? order_id : NULL, held);
    if (rc != 0)
        return rc;
    out->stats.alerts++;
    return 0;
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
    size_t i = map_slot(&out->standing, k);
    /* Keep the slot (probing chains stay intact) but let it stand until the beginning of
     * time; the next rebuild drops it. */
    if (out->standing.keys[i] == k)
        out->standing.until[i] = INT64_MIN;
}

void vigil_emit_get_stats(const struct vigil_emit *out, struct vigil_emit_stats *st)
{
    *st = out->stats;
}
