/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_conf.c - defaults, librdkafka.* keys, then vigil's own properties (kafka_conf.h). */
#include "kafka_conf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vigil/config.h"

static int set_list(rd_kafka_conf_t *conf, const char *const *kv, char *err, size_t errlen)
{
    for (const char *const *p = kv; p && *p; p += 2) {
        if (rd_kafka_conf_set(conf, p[0], p[1], err, errlen) != RD_KAFKA_CONF_OK)
            return -1;
    }
    return 0;
}

struct apply {
    rd_kafka_conf_t *conf;
    char *err;
    size_t errlen;
    bool failed;
};

static void apply_one(const char *property, const char *value, void *arg)
{
    struct apply *a = arg;
    char why[512];
    if (a->failed)
        return;
    if (rd_kafka_conf_set(a->conf, property, value, why, sizeof why) == RD_KAFKA_CONF_OK)
        return;
    a->failed = true;
    /* librdkafka's message may quote the value ("Invalid value \"x\" for ..."): not a
     * secret's. */
    if (vigil_config_secret(property) && *value && strstr(why, value))
        snprintf(a->err, a->errlen, "librdkafka.%s: invalid value (not shown: a secret)",
                 property);
    else
        snprintf(a->err, a->errlen, "librdkafka.%s: %s", property, why);
}

rd_kafka_conf_t *vigil_kafka_conf_create(const struct vigil_config *cfg,
                                         const char *const *defaults, const char *const *owned,
                                         char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (set_list(conf, defaults, err, errlen) != 0)
        goto fail;
    if (cfg) {
        struct apply a = {.conf = conf, .err = err, .errlen = errlen};
        vigil_config_foreach_librdkafka(cfg, apply_one, &a);
        if (a.failed)
            goto fail;
    }
    if (set_list(conf, owned, err, errlen) != 0)
        goto fail;
    return conf;

fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
