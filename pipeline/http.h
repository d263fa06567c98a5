/* SPDX-License-Identifier: Apache-2.0 */
/* http.h - vigild's HTTP endpoints (libmicrohttpd, one thread of its own):
 *   GET /metrics  Prometheus text format (docs/metrics.md)
 *   GET /healthz  200 while the consumer loop turns (it polls at least every 200 ms)
 *   GET /readyz   200 while this member is in its group (holding partitions or idle) and
 *                 Redis and Kafka answer; otherwise 503 with one line saying why
 *
 * Everything it reports is read without a lock: the workers' and publisher's relaxed
 * statistics, the labelled counters of metrics.h, the stream clock. Redis and Kafka are
 * probed from this thread (a PING on a connection of its own, a metadata request on the
 * daemon's producer), at most once a second, each bounded by a 1 s timeout.
 *
 * Threading: create and destroy on the main thread; requests are served on the server's
 * own thread. Ownership: every pointer in the env is borrowed and must outlive the server
 * (the daemon destroys it before the workers, publisher and producer). */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_alert_delivery;
struct vigil_kafka_out;
struct vigil_metrics;
struct vigil_publisher;
struct vigil_worker;

struct vigil_http_env {
    const char *listen; /* HOST:PORT (IPv4 address or name; [v6]:PORT) */
    struct vigil_metrics *metrics;
    struct vigil_worker **workers;
    size_t n_workers;
    struct vigil_publisher *pub;
    struct vigil_alert_delivery *delivery; /* may be NULL */
    struct vigil_kafka_out *kout;
    _Atomic int64_t *stream_ts; /* the stream's event-time clock, ms */
    const char *events_topic, *group;
    const char *redis_addr, *redis_password_file;
    int redis_timeout_ms;
};

struct vigil_http;

/* Listens and serves. NULL with one line in err (bad address, port in use). */
struct vigil_http *vigil_http_create(const struct vigil_http_env *env, char *err,
                                     size_t errlen);
void vigil_http_destroy(struct vigil_http *h); /* accepts NULL; stops serving */

#endif
