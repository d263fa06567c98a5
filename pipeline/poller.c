/* SPDX-License-Identifier: Apache-2.0 */
/* poller.c - a thread calling one refresh function until stopped (see poller.h). */
#include "poller.h"

#include <time.h>

#include "publisher.h"
#include "vigil/status.h"

#define STOP_CHECK_MS 50 /* how often the sleeping thread looks at `stop` */

void vigil_poller_init(struct vigil_poller *p, int64_t (*refresh)(void *ctx), void *ctx)
{
    p->refresh = refresh;
    p->ctx = ctx;
    p->started = false;
    atomic_init(&p->stop, false);
}

static void *poller_main(void *arg)
{
    struct vigil_poller *p = arg;
    int64_t next = 0;
    /* Relaxed: `stop` guards no data; pthread_join orders everything else. */
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        int64_t now = vigil_mono_ms();
        if (now >= next)
            next = now + p->refresh(p->ctx);
        struct timespec ts = {0, STOP_CHECK_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int vigil_poller_start(struct vigil_poller *p)
{
    if (pthread_create(&p->thread, NULL, poller_main, p) != 0)
        return VIGIL_ERR_NOMEM;
    p->started = true;
    return 0;
}

void vigil_poller_stop(struct vigil_poller *p)
{
    if (!p->started)
        return;
    atomic_store_explicit(&p->stop, true, memory_order_relaxed);
    pthread_join(p->thread, NULL);
    p->started = false;
}
