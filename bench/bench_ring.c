/* SPDX-License-Identifier: Apache-2.0 */
/* bench_ring.c - how many elements per second one SPSC ring carries between two threads.
 *
 * Prints one line: bench_ring cap=1024 elem=256 events=10000000 mev_s=9.1
 * The producer pushes sequence-numbered elements (push, a copy in), the consumer pops them
 * (a copy out) and checks the order, both waiting with vigil_backoff when the ring is full
 * or empty. Asserts nothing about speed; exits 1 if an element arrives out of order.
 * Threading: one producer thread, one consumer thread (the main thread), started together.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring.h"

struct bench {
    struct vigil_ring *ring;
    size_t elem;
    uint64_t n;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_ring [--cap N] [--elem BYTES] [--n EVENTS]\n"
               "  --cap N       ring capacity, a power of two >= 2 (default 1024)\n"
               "  --elem BYTES  element size, >= 8 (default 256: about one event)\n"
               "  --n EVENTS    elements to send (default 10000000)\n"
               "Prints: bench_ring cap=.. elem=.. events=.. mev_s=..\n");
}

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || *s == '-') {
        fprintf(stderr, "bench_ring: %s wants a positive integer, got '%s'\n", flag, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *producer_main(void *arg)
{
    struct bench *b = arg;
    /* The element lives on this thread's stack: no malloc, like a worker's event. */
    unsigned char elem[1 << 16];
    memset(elem, 0xab, b->elem);
    struct vigil_backoff bo;
    vigil_backoff_init(&bo, 100);
    for (uint64_t seq = 0; seq < b->n; seq++) {
        memcpy(elem, &seq, sizeof seq);
        while (vigil_ring_push(b->ring, elem) != 0)
            vigil_backoff_wait(&bo);
        vigil_backoff_reset(&bo);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    uint64_t cap = 1024, elem = 256, n = 10000000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t *dst;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--cap")) {
            dst = &cap;
        } else if (!strcmp(a, "--elem")) {
            dst = &elem;
        } else if (!strcmp(a, "--n")) {
            dst = &n;
        } else {
            fprintf(stderr, "bench_ring: unknown flag '%s'\n", a);
            usage(stderr);
            return 2;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (parse_u64(a, val, dst))
            return 2;
    }
    if (elem < 8 || elem > 1 << 16 || n == 0) {
        fprintf(stderr, "bench_ring: --elem must be 8..65536 and --n > 0\n");
        return 2;
    }

    struct bench b = {.elem = (size_t)elem, .n = n};
    b.ring = vigil_ring_create((size_t)cap, (size_t)elem);
    if (!b.ring) {
        fprintf(stderr,
                "bench_ring: cannot create a ring of %" PRIu64 " x %" PRIu64
                " bytes (capacity must be a power of two >= 2)\n",
                cap, elem);
        return 2;
    }

    unsigned char out[1 << 16];
    struct vigil_backoff bo;
    vigil_backoff_init(&bo, 100);
    double t0 = now_s();
    pthread_t prod;
    if (pthread_create(&prod, NULL, producer_main, &b) != 0) {
        fprintf(stderr, "bench_ring: pthread_create failed\n");
        vigil_ring_destroy(b.ring);
        return 1;
    }
    int bad = 0;
    for (uint64_t seq = 0; seq < n; seq++) {
        while (vigil_ring_pop(b.ring, out) != 0)
            vigil_backoff_wait(&bo);
        vigil_backoff_reset(&bo);
        uint64_t got;
        memcpy(&got, out, sizeof got);
        if (got != seq && !bad++)
            fprintf(stderr, "bench_ring: expected element %" PRIu64 ", got %" PRIu64 "\n", seq,
                    got);
    }
    double dt = now_s() - t0;
    pthread_join(prod, NULL);
    vigil_ring_destroy(b.ring);

    printf("bench_ring cap=%" PRIu64 " elem=%" PRIu64 " events=%" PRIu64 " mev_s=%.1f\n", cap, elem,
           n, (double)n / dt / 1e6);
    return bad ? 1 : 0;
}
