/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c - labelled output counters and the log line per order (see metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct vigil_metrics *vigil_metrics_create(void)
{
    struct vigil_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    for (size_t i = 0; i < VIGIL_MAX_PARTITIONS; i++)
        atomic_init(&m->lag[i], -1);
    return m;
}

void vigil_metrics_destroy(struct vigil_metrics *m)
{
    free(m);
}

void vigil_json_field(const char *json, size_t len, const char *name, char *out, size_t n)
{
    char pat[64];
    int pl = snprintf(pat, sizeof pat, "\"%s\":", name);
    out[0] = '\0';
    if (pl <= 0 || (size_t)pl >= sizeof pat)
        return;
    /* Top level only: skip matches inside nested objects (evidence) by tracking depth. */
    int depth = 0;
    bool in_str = false;
    const char *end = json + len;
    for (const char *c = json; c < end; c++) {
        if (in_str) {
            if (*c == '\\')
                c++;
            else if (*c == '"')
                in_str = false;
            continue;
        }
        if (*c == '{' || *c == '[') {
            depth++;
            continue;
        }
        if (*c == '}' || *c == ']') {
            depth--;
            continue;
        }
        if (*c != '"')
            continue;
        if (depth == 1 && (size_t)(end - c) >= (size_t)pl && memcmp(c, pat, (size_t)pl) == 0) {
            const char *v = c + pl;
            bool quoted = v < end && *v == '"';
            if (quoted)
                v++;
            size_t k = 0;
            while (v < end && k + 1 < n) {
                if (quoted && *v == '\\' && v + 1 < end) {
                    out[k++] = v[1] == 'n' ? ' ' : v[1];
                    v += 2;
                    continue;
                }
                if (quoted ? *v == '"' : (*v == ',' || *v == '}'))
                    break;
                out[k++] = *v++;
            }
            out[k] = '\0';
            return;
        }
        in_str = true;
    }
}

/* The row of (family, l1, l2), added when new. Publisher thread only. */
static struct vigil_metric_row *row(struct vigil_metrics *m, enum vigil_metric_family f,
                                    const char *l1, const char *l2)
{
    /* Relaxed: this thread is the only writer of n_rows. */
    uint32_t n = atomic_load_explicit(&m->n_rows, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        struct vigil_metric_row *r = &m->rows[i];
        if (r->family == f && strcmp(r->l1, l1) == 0 && strcmp(r->l2, l2) == 0)
            return r;
    }
    if (n == VIGIL_METRICS_ROWS) {
        vigil_metrics_bump(&m->rows_full, 1);
        return NULL;
    }
    struct vigil_metric_row *r = &m->rows[n];
    r->family = f;
    snprintf(r->l1, sizeof r->l1, "%s", l1);
    snprintf(r->l2, sizeof r->l2, "%s", l2);
    atomic_store_explicit(&r->value, 0, memory_order_relaxed);
    /* Release: a reader that sees the new count sees the row's labels complete. */
    atomic_store_explicit(&m->n_rows, n + 1, memory_order_release);
    return r;
}

static void count(struct vigil_metrics *m, enum vigil_metric_family f, const char *l1,
                  const char *l2)
{
    struct vigil_metric_row *r = m ? row(m, f, l1, l2) : NULL;
    if (r)
        vigil_metrics_bump(&r->value, 1);
}

void vigil_metrics_output(struct vigil_metrics *m, enum vigil_metrics_output kind,
                          const char *json, size_t len)
{
    char rule[VIGIL_METRIC_LABEL_MAX], a[VIGIL_METRIC_LABEL_MAX], account[160], id[80];
    char reason[400], ets[32], when[80];
    vigil_json_field(json, len, "event_ts", ets, sizeof ets);
    when[0] = '\0';
    if (ets[0]) {
        char iso[40];
        int64_t ms = strtoll(ets, NULL, 10);
        vigil_log_iso(ms, iso, sizeof iso);
        snprintf(when, sizeof when, ", event time %s (%lld)", iso, (long long)ms);
    }
    switch (kind) {
    case VIGIL_METRICS_ORDER:
        vigil_json_field(json, len, "rule", rule, sizeof rule);
        vigil_json_field(json, len, "action", a, sizeof a);
        count(m, VIGIL_METRIC_ORDERS, a, rule);
        vigil_json_field(json, len, "account", account, sizeof account);
        vigil_json_field(json, len, "order_id", id, sizeof id);
        vigil_json_field(json, len, "reason", reason, sizeof reason);
        vigil_log_info("order %s issued: account %s, action %s, rule %s%s: %s", id, account, a,
                       rule, when, reason);
        break;
    case VIGIL_METRICS_ALERT: {
        char held[32], would[32];
        vigil_json_field(json, len, "rule", rule, sizeof rule);
        vigil_json_field(json, len, "severity", a, sizeof a);
        count(m, VIGIL_METRIC_ALERTS, a, rule);
        vigil_json_field(json, len, "held", held, sizeof held);
        vigil_json_field(json, len, "would_order", would, sizeof would);
        if (!held[0] && !would[0])
            break;
        count(m, VIGIL_METRIC_HELD, held[0] ? held : "report", "");
        /* The brake logs its own holds (publisher.c); gaps and report-only are logged here. */
        if (strcmp(held, "brake") == 0)
            break;
        vigil_json_field(json, len, "account", account, sizeof account);
        vigil_json_field(json, len, "order_id", id, sizeof id);
        vigil_json_field(json, len, "action", a, sizeof a);
        vigil_json_field(json, len, "reason", reason, sizeof reason);
        if (held[0])
            vigil_log_warn("order %s held (%s): account %s, action %s, rule %s%s: %s", id, held,
                           account, a, rule, when, reason);
        else
            vigil_log_info("order %s not issued (report-only): account %s, would order %s, "
                           "rule %s%s: %s", id, account, would, rule, when, reason);
        break;
    }
    case VIGIL_METRICS_DEAD:
        vigil_json_field(json, len, "reason", reason, sizeof reason);
        count(m, VIGIL_METRIC_DEAD, reason, "");
        break;
    }
}

void vigil_metrics_foreach(const struct vigil_metrics *m, enum vigil_metric_family family,
                           void (*fn)(const char *l1, const char *l2, uint64_t v, void *arg),
                           void *arg)
{
    /* Acquire: pairs with the release in row(); rows below n are complete. */
    uint32_t n = atomic_load_explicit(&m->n_rows, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
        const struct vigil_metric_row *r = &m->rows[i];
        if (r->family == family)
            fn(r->l1, r->l2, atomic_load_explicit(&r->value, memory_order_relaxed), arg);
    }
}
