/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h - what vigild counts for /metrics beyond the workers' and the publisher's own
 * statistics: labelled counters of its outputs (orders by action and rule, alerts by severity
 * and rule, dead letters by reason, orders held by cause), the consumer's view (messages
 * read, group membership, lag per partition), and heartbeats of the loops.
 *
 * Labelled counters are a small fixed table with one writer, the publisher thread, which
 * sees every order, alert and dead letter (vigil_metrics_output). A row's labels are written
 * before the row is published (release on the row count) and never change, its value is a
 * relaxed atomic: the HTTP thread reads them without a lock, the event path never sees them.
 *
 * Threading: vigil_metrics_output: the publisher thread only. The consumer fields: the
 * consumer thread writes, anyone reads. vigil_metrics_foreach: any thread.
 * Ownership: the daemon creates it before and destroys it after every thread that uses it. */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "offsets.h"

enum vigil_metric_family {
    VIGIL_METRIC_ORDERS = 0,  /* labels: action, rule */
    VIGIL_METRIC_ALERTS = 1,  /* labels: severity, rule */
    VIGIL_METRIC_DEAD = 2,    /* labels: reason */
    VIGIL_METRIC_HELD = 3,    /* labels: cause (brake, gap, report) */
    VIGIL_METRIC_FAMILIES = 4,
};

#define VIGIL_METRICS_ROWS 512
#define VIGIL_METRIC_LABEL_MAX 64

struct vigil_metric_row {
    enum vigil_metric_family family;
    char l1[VIGIL_METRIC_LABEL_MAX];
    char l2[VIGIL_METRIC_LABEL_MAX];
    _Atomic uint64_t value;
};

struct vigil_metrics {
    struct vigil_metric_row rows[VIGIL_METRICS_ROWS];
    _Atomic uint32_t n_rows;      /* rows [0, n) are complete (release by the writer) */
    _Atomic uint64_t rows_full;   /* outputs not counted by label: the table was full */

    /* The consumer thread's view. */
    _Atomic uint64_t read;        /* messages of the events topic handed to workers */
    atomic_bool in_group;         /* an assignment (possibly empty) is in force */
    _Atomic int32_t assigned;     /* partitions held */
    _Atomic int64_t lag[VIGIL_MAX_PARTITIONS]; /* -1: not assigned or unknown */
    _Atomic uint64_t lifts;       /* operator lifts seen on the orders topic */

    /* Heartbeats (CLOCK_MONOTONIC ms) of the loops: /healthz. */
    _Atomic int64_t consumer_beat_ms;
};

/* NULL on no memory. */
struct vigil_metrics *vigil_metrics_create(void);
void vigil_metrics_destroy(struct vigil_metrics *m); /* accepts NULL */

enum vigil_metrics_output {
    VIGIL_METRICS_ORDER = 1, /* an order produced to the orders topic */
    VIGIL_METRICS_ALERT = 2, /* an alert produced (its "held"/"would_order" count as held) */
    VIGIL_METRICS_DEAD = 3,  /* a dead letter */
};

/* Counts one output from its JSON and logs one line for people per order, held order and
 * report-only order (account, action, rule, order id, reason). Publisher thread only.
 * Accepts m == NULL (logs only). */
void vigil_metrics_output(struct vigil_metrics *m, enum vigil_metrics_output kind,
                          const char *json, size_t len);

/* Calls fn for every labelled row of `family` (relaxed value, any thread). */
void vigil_metrics_foreach(const struct vigil_metrics *m, enum vigil_metric_family family,
                           void (*fn)(const char *l1, const char *l2, uint64_t v, void *arg),
                           void *arg);

/* Relaxed increment by the only writer of c. */
static inline void vigil_metrics_bump(_Atomic uint64_t *c, uint64_t by)
{
    /* Relaxed: a statistic with a single writer; readers want any recent value. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

/* The value of a top-level "name" field of JSON vigil wrote itself: a string without
 * escapes (ids, accounts, actions, rules) or a number, copied raw; "" when absent. A
 * sentence with escapes is copied with them. */
void vigil_json_field(const char *json, size_t len, const char *name, char *out, size_t n);

#endif
