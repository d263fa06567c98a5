/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_conf.h - the librdkafka configuration of every Kafka client of every program.
 *
 * Three layers, later ones winning: vigil's defaults for the client (client.id, linger.ms,
 * ...: an operator may change them), then every `librdkafka.<property>` key of the config
 * (config.h), then what vigil must own for the client (bootstrap.servers, group.id,
 * enable.auto.commit, ...; the config refuses librdkafka.* keys for those).
 *
 * Threading: any thread; the config is read-only. */
#ifndef VIGIL_KAFKA_CONF_H
#define VIGIL_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

struct vigil_config;

/* A new configuration (caller destroys it, or hands it to rd_kafka_new). `defaults` and
 * `owned` are NULL-terminated "name", "value" lists (either may be NULL); cfg may be NULL
 * (no librdkafka.* keys). NULL with librdkafka's own message in err when a property or value
 * is refused: "librdkafka.foo: No such configuration property: \"foo\"" (a secret's value
 * never appears in it). */
rd_kafka_conf_t *vigil_kafka_conf_create(const struct vigil_config *cfg,
                                         const char *const *defaults, const char *const *owned,
                                         char *err, size_t errlen);

#endif
