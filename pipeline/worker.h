/* SPDX-License-Identifier: Apache-2.0 */
/* worker.h - a worker thread: parses its events, runs every detector on private state, and
 * hands orders, alerts, dead letters, counters, flagged numbers and progress to the sink
 * through its out ring.
 *
 * Threading: the consumer thread is the only producer of the in ring, the worker the only
 * consumer; the worker is the only producer of the out ring, the sink thread the only
 * consumer. Detector state never leaves the worker thread. A new configuration reaches the
 * worker through one atomic pointer (vigil_worker_reconfigure).
 * Ownership: the daemon creates and destroys workers; the rings belong to the worker. */
#ifndef VIGIL_WORKER_H
#define VIGIL_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_config;
struct vigil_credit;
struct vigil_flagged;
struct vigil_numplan;
struct vigil_offsets;
struct vigil_profiles;
struct vigil_ring;

struct vigil_worker_env {
    const struct vigil_config *cfg;
    const struct vigil_numplan *numplan;
    const struct vigil_profiles *profiles;
    const char *events_topic; /* named in dead letters */
    int index;                /* this worker owns the partitions p with p % n_workers == index */
    int n_workers;
    /* Which partitions are assigned and caught up (written by the consumer thread). */
    const struct vigil_offsets *parts;
    /* The stream's clock, shared by all workers of the process (see worker.c,
     * sync_stream_clock): workers with partitions still delivering raise it; a worker whose
     * partitions are all caught up follows it, so timers of idle accounts still fire while
     * the rest of the stream moves on. */
    _Atomic int64_t *stream_ts;
    /* Flagged accounts' numbers, filled from Redis by the flagged sync thread; the detectors
     * read it (detector.h). NULL: no caller counts as flagged. */
    const struct vigil_flagged *flagged;
    /* Credit limits, filled from Redis by the credit sync thread (vigil/credit.h); NULL: no
     * account has a limit. */
    const struct vigil_credit *credit;
};

struct vigil_worker_stats {
    uint64_t events;     /* valid events processed */
    uint64_t dead;       /* messages sent to the dead-letter topic */
    uint64_t orders, alerts;
    uint64_t repeats; /* events dropped as repeats of an id already seen */
    uint64_t accounts; /* accounts whose state is in memory */
    uint64_t evicted;  /* accounts evicted past vigild.max_accounts */
    uint64_t skipped;  /* events below a loaded checkpoint, not counted again */
    uint64_t gaps;     /* jumps of a partition's clock over a gap (stream_clock.h) */
    uint64_t lost;     /* events lost under the consumer (offset reset past retention) */
    uint64_t ahead;    /* events stamped beyond the gap ahead of their partition's clock */
    uint64_t held;     /* orders held because they came due inside a gap */
};

/* A configuration to switch to (vigil_worker_reconfigure): read-only, and it must outlive
 * the worker (the daemon keeps every one until shutdown: cached strings point into it). */
struct vigil_worker_conf {
    const struct vigil_config *cfg;
    const struct vigil_numplan *numplan;
    const struct vigil_profiles *profiles;
    uint64_t generation; /* > 0, one more per reload */
};

struct vigil_worker;

/* NULL on bad configuration or no memory (logged). */
struct vigil_worker *vigil_worker_create(const struct vigil_worker_env *env);
void vigil_worker_destroy(struct vigil_worker *w); /* accepts NULL; joins if running */

int vigil_worker_start(struct vigil_worker *w);
/* Asks the worker to finish what is in its in ring, publish, and exit; then joins it. If it
 * has not exited by deadline_ms (vigil_mono_ms), it is aborted (a worker blocked on a full out
 * ring gives up what it could not hand over: those events stay uncommitted) and then joined.
 * Returns 0, or 1 when the worker had to be aborted. */
int vigil_worker_drain_and_join(struct vigil_worker *w, int64_t deadline_ms);
/* Makes a worker blocked on a full out ring give up (shutdown deadline passed). */
void vigil_worker_abort(struct vigil_worker *w);

/* Hands c to the worker, which applies it at its next batch boundary: new detector states
 * and emit layer built from it, each account's state carried over (saved and loaded, as a
 * restart from a checkpoint does), its own reloadable keys re-read. Any thread (the daemon's);
 * no lock: one atomic pointer. A second call before the worker took the first replaces it. */
void vigil_worker_reconfigure(struct vigil_worker *w, const struct vigil_worker_conf *c);
/* The generation of the last configuration the worker took (0: the one it was created
 * with); it moves only after the worker has switched, or has logged that it could not (out
 * of memory: it keeps the running one). Any thread. */
uint64_t vigil_worker_generation(struct vigil_worker *w);

struct vigil_ring *vigil_worker_in(struct vigil_worker *w);
struct vigil_ring *vigil_worker_out(struct vigil_worker *w);

/* A snapshot of counters published by the worker (relaxed reads; for logs). */
void vigil_worker_get_stats(struct vigil_worker *w, struct vigil_worker_stats *st);

#endif
