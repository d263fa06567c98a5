/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_out.h - the idempotent producer for orders, alerts and dead letters.
 *
 * Every message is tracked until its delivery report, under a sequence number (1, 2, ... in
 * produce order): vigil_kafka_out_status() tells, without waiting, whether every message up to
 * a number was delivered (the reports are served by vigil_kafka_out_poll), and
 * vigil_kafka_out_flush() waits for all of them. A message whose delivery failed is
 * produced again (the idempotent producer keeps order and drops broker-side duplicates);
 * if even that cannot be queued, the producer is marked broken and flush fails from then on,
 * so the offsets of the events behind it are never committed.
 *
 * Threading: produce, poll and flush from one thread (the sink thread). */
#ifndef VIGIL_KAFKA_OUT_H
#define VIGIL_KAFKA_OUT_H

#include <stddef.h>
#include <stdint.h>

struct vigil_kafka_out;

struct vigil_config;

/* NULL with a message in err on bad settings (librdkafka's own, kafka_conf.h). `defaults` is
 * a NULL-terminated list of "name", "value" librdkafka properties over vigil's producer
 * defaults (may be NULL); cfg's librdkafka.* keys come over both (cfg may be NULL); the
 * brokers and idempotence are always vigil's. */
struct vigil_kafka_out *vigil_kafka_out_create(const char *brokers, const struct vigil_config *cfg,
                                               const char *const *defaults, char *err,
                                               size_t errlen);
void vigil_kafka_out_destroy(struct vigil_kafka_out *ko); /* accepts NULL; flushes up to 5 s */

/* Queues a copy of the message under the next sequence number. 0, or VIGIL_ERR_FULL when
 * librdkafka's queue is full (poll and retry), VIGIL_ERR_IO, or VIGIL_ERR_NOMEM. */
int vigil_kafka_out_produce(struct vigil_kafka_out *ko, const char *topic, const char *key,
                            size_t key_len, const void *value, size_t len);

/* The sequence number of the last message queued (0: none yet). */
uint64_t vigil_kafka_out_produced(const struct vigil_kafka_out *ko);

/* 0 when every message up to sequence number seq was delivered (as far as the reports served
 * so far tell); VIGIL_ERR_TIMEOUT while some are in flight; VIGIL_ERR_IO when the producer is
 * broken (see errstr). Does not wait. */
int vigil_kafka_out_status(const struct vigil_kafka_out *ko, uint64_t seq);

/* Serves delivery reports without waiting. */
void vigil_kafka_out_poll(struct vigil_kafka_out *ko);

/* Waits up to timeout_ms for every queued message to be delivered. 0 when all were;
 * VIGIL_ERR_TIMEOUT when some are still in flight; VIGIL_ERR_IO when the producer is broken
 * (see errstr). */
int vigil_kafka_out_flush(struct vigil_kafka_out *ko, int timeout_ms);

const char *vigil_kafka_out_errstr(const struct vigil_kafka_out *ko);

/* Asks a broker for cluster metadata: 0 when one answered within timeout_ms, else -1. Any
 * thread (for /readyz); it does not disturb produces. */
int vigil_kafka_out_probe(struct vigil_kafka_out *ko, int timeout_ms);

#endif
