/* SPDX-License-Identifier: Apache-2.0 */
/* poller.h - a thread that calls one refresh function again and again until stopped: what
 * the flagged-numbers and credit-limits sync threads share.
 *
 * Threading: refresh runs on the poller's thread only; start and stop are called by the
 * owner's thread (start-up and shutdown).
 * Ownership: caller-allocated; vigil_poller_init before start; stop joins the thread. */
#ifndef VIGIL_POLLER_H
#define VIGIL_POLLER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vigil_poller {
    /* Does one round of work; returns how many ms to wait before the next. */
    int64_t (*refresh)(void *ctx);
    void *ctx;
    pthread_t thread;
    bool started;
    atomic_bool stop;
};

void vigil_poller_init(struct vigil_poller *p, int64_t (*refresh)(void *ctx), void *ctx);
/* Starts the thread; its first refresh runs at once. 0 or VIGIL_ERR_NOMEM. */
int vigil_poller_start(struct vigil_poller *p);
/* Asks the thread to stop and joins it (within one check interval after a refresh returns);
 * a no-op when it is not running. */
void vigil_poller_stop(struct vigil_poller *p);

#endif
