/* SPDX-License-Identifier: Apache-2.0 */
/* kafka_out.c - idempotent producer with checked delivery reports (see kafka_out.h). */
#include "kafka_out.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"
#include "log.h"
#include "vigil/status.h"

struct vigil_kafka_out {
    rd_kafka_t *rk;
    bool broken; /* a message could not be delivered nor queued again */
    unsigned long redelivered;
    /* Every message carries a sequence number (1, 2, ...) as its opaque. Every message below
     * `low` is delivered; done[s % cap] marks a delivered s in [low, low + cap). */
    uint64_t produced, low;
    unsigned char *done;
    size_t cap; /* a power of two */
    char errstr[512];
};

/* Notes s delivered and moves `low` past every delivered number. */
static void mark_delivered(struct vigil_kafka_out *ko, uint64_t s)
{
    if (s < ko->low || s - ko->low >= ko->cap)
        return; /* not one of ours */
    ko->done[s & (ko->cap - 1)] = 1;
    while (ko->low <= ko->produced && ko->done[ko->low & (ko->cap - 1)]) {
        ko->done[ko->low & (ko->cap - 1)] = 0;
        ko->low++;
    }
}

/* Room for sequence number produced + 1 in the window. 0 or VIGIL_ERR_NOMEM. */
static int make_room(struct vigil_kafka_out *ko)
{
    if (ko->produced + 1 - ko->low < ko->cap)
        return 0;
    size_t nc = ko->cap * 2;
    unsigned char *nd = calloc(nc, 1);
    if (!nd)
        return VIGIL_ERR_NOMEM;
    for (uint64_t s = ko->low; s <= ko->produced; s++)
        nd[s & (nc - 1)] = ko->done[s & (ko->cap - 1)];
    free(ko->done);
    ko->done = nd;
    ko->cap = nc;
    return 0;
}

/* Runs inside rd_kafka_poll/flush on the sink thread. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct vigil_kafka_out *ko = opaque;
    if (!m->err) {
        mark_delivered(ko, (uint64_t)(uintptr_t)m->_private);
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    vigil_log_warn("delivery to %s failed (%s); producing it again", topic,
                   rd_kafka_err2str(m->err));
    /* The payload is still ours during the callback: queue a copy, under the same sequence
     * number, which stays outstanding until that copy is delivered. */
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, m->key_len),
        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(m->_private), RD_KAFKA_V_END);
    if (err) {
        ko->broken = true;
        snprintf(ko->errstr, sizeof ko->errstr, "message to %s lost: %s", topic,
                 rd_kafka_err2str(err));
    }
    ko->redelivered++;
}

struct vigil_kafka_out *vigil_kafka_out_create(const char *brokers, const struct vigil_config *cfg,
                                               const char *const *defaults, char *err,
                                               size_t errlen)
{
    struct vigil_kafka_out *ko = calloc(1, sizeof *ko);
    if (!ko) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* Idempotence gives ordered, duplicate-free retries inside librdkafka; linger keeps
     * batches small so an order reaches its topic within milliseconds. */
    const char *base[] = {"linger.ms", "5", "client.id", "vigil-producer",
                          "message.timeout.ms", "30000", NULL};
    const char *owned[] = {"bootstrap.servers", brokers, "enable.idempotence", "true", NULL};
    /* The caller's defaults after ours, so that theirs win: one list. */
    const char *all[32];
    size_t n = 0;
    for (const char *const *p = base; *p; p++)
        all[n++] = *p;
    for (const char *const *p = defaults; p && p[0] && n + 2 < 32; p += 2) {
        all[n++] = p[0];
        all[n++] = p[1];
    }
    all[n] = NULL;
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(cfg, all, owned, err, errlen);
    if (!conf) {
        free(ko);
        return NULL;
    }
    ko->low = 1;
    ko->cap = 4096;
    ko->done = calloc(ko->cap, 1);
    if (!ko->done) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, ko);
    ko->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!ko->rk)
        goto fail; /* rd_kafka_new frees conf only on success */
    return ko;

fail:
    rd_kafka_conf_destroy(conf);
    free(ko->done);
    free(ko);
    return NULL;
}

void vigil_kafka_out_destroy(struct vigil_kafka_out *ko)
{
    if (!ko)
        return;
    if (ko->rk) {
        rd_kafka_flush(ko->rk, 5000);
        rd_kafka_destroy(ko->rk);
    }
    free(ko->done);
    free(ko);
}

int vigil_kafka_out_produce(struct vigil_kafka_out *ko, const char *topic, const char *key,
                            size_t key_len, const void *value, size_t len)
{
    if (make_room(ko) != 0)
        return VIGIL_ERR_NOMEM;
    uint64_t seq = ko->produced + 1;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        ko->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key_len ? key : NULL, key_len),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return VIGIL_ERR_FULL;
    if (err) {
        snprintf(ko->errstr, sizeof ko->errstr, "cannot produce to %s: %s", topic,
                 rd_kafka_err2str(err));
        return VIGIL_ERR_IO;
    }
    ko->produced = seq;
    return 0;
}

uint64_t vigil_kafka_out_produced(const struct vigil_kafka_out *ko)
{
    return ko->produced;
}

int vigil_kafka_out_status(const struct vigil_kafka_out *ko, uint64_t seq)
{
    if (ko->broken)
        return VIGIL_ERR_IO;
    return ko->low > seq ? 0 : VIGIL_ERR_TIMEOUT;
}

void vigil_kafka_out_poll(struct vigil_kafka_out *ko)
{
    rd_kafka_poll(ko->rk, 0);
}

int vigil_kafka_out_flush(struct vigil_kafka_out *ko, int timeout_ms)
{
    rd_kafka_flush(ko->rk, timeout_ms);
    /* Delivery callbacks that re-produced ran inside flush; what they queued counts too. */
    if (ko->broken)
        return VIGIL_ERR_IO;
    return rd_kafka_outq_len(ko->rk) == 0 ? 0 : VIGIL_ERR_TIMEOUT;
}

const char *vigil_kafka_out_errstr(const struct vigil_kafka_out *ko)
{
    return ko->errstr;
}

int vigil_kafka_out_probe(struct vigil_kafka_out *ko, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    /* Cluster metadata only (no topic): one request to any broker; thread-safe. */
    rd_kafka_resp_err_t e = rd_kafka_metadata(ko->rk, 0, NULL, &md, timeout_ms);
    if (md)
        rd_kafka_metadata_destroy(md);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}
