/* SPDX-License-Identifier: Apache-2.0 */
/* output.c - vigil-sim: where events go (stdout, a file, a Kafka topic), how each is
 * written, and the ground truth.
 *
 * Threading: single-threaded, like the whole program. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jbuf.h"
#include "kafka_conf.h"
#include "sim.h"
#include "vigil/config.h"

/* ---- output ---- */

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct sink *k = opaque;
    (void)rk;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->delivered++;
        return;
    }
    if (k->failed++ == 0)
        snprintf(k->err, sizeof k->err, "%s", rd_kafka_err2str(m->err));
}

/* The configuration --config and --set describe (NULL after one line on stderr). */
static struct vigil_config *load_config(const struct options *o)
{
    struct vigil_config *cfg = vigil_config_create();
    if (cfg == NULL) {
        fprintf(stderr, "vigil-sim: out of memory\n");
        return NULL;
    }
    if (o->config != NULL && vigil_config_load_file(cfg, o->config) != 0)
        goto fail;
    for (int i = 0; i < o->nsets; i++) {
        char key[256];
        const char *eq = strchr(o->sets[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - o->sets[i]), o->sets[i]);
        if (vigil_config_set(cfg, key, eq + 1, "--set") != 0)
            goto fail;
    }
    return cfg;
fail:
    fprintf(stderr, "vigil-sim: %s\n", vigil_config_errstr(cfg));
    vigil_config_destroy(cfg);
    return NULL;
}

int sink_open_kafka(struct sink *k, const struct options *o)
{
    char errstr[512];
    const char *const defaults[] = {
        "client.id",
        "vigil-sim",
        "linger.ms",
        "20",
        "batch.num.messages",
        "10000",
        "queue.buffering.max.messages",
        "200000",
        "message.timeout.ms",
        "30000",
        NULL,
    };
    /* Idempotence keeps each partition in produce order across retries. */
    const char *const owned[] = {"bootstrap.servers", o->brokers, "enable.idempotence", "true",
                                 NULL};
    struct vigil_config *cfg = load_config(o);
    if (cfg == NULL)
        return -1;
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(cfg, defaults, owned, errstr, sizeof errstr);
    vigil_config_destroy(cfg);
    if (conf == NULL) {
        fprintf(stderr, "vigil-sim: kafka: %s\n", errstr);
        return -1;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (k->rk == NULL) {
        fprintf(stderr, "vigil-sim: kafka: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    /* Fail fast with one line when the brokers cannot be reached at all. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->rk, 0, NULL, &md, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "vigil-sim: kafka: cannot reach brokers %s: %s\n", o->brokers,
                rd_kafka_err2str(err));
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    k->topic = o->topic;
    k->name = o->topic;
    return 0;
}

void sink_progress(struct sink *k, bool final)
{
    int64_t now = now_ns();
    if (!k->progress || (!final && now - k->t_progress_ns < 1000000000LL))
        return;
    k->t_progress_ns = now;
    fprintf(stderr, "vigil-sim: %" PRIu64 "/%" PRIu64 " events (%d%%)\n", k->sent, k->total,
            k->total ? (int)(k->sent * 100 / k->total) : 100);
}

static int sink_write(struct sink *k, const char *key, const char *val, size_t len)
{
    if (k->kind == SINK_FILE) {
        if (fwrite(val, 1, len, k->f) != len || fputc('\n', k->f) == EOF) {
            fprintf(stderr, "vigil-sim: writing %s: %s\n", k->name, strerror(errno));
            return -1;
        }
    } else if (k->kind == SINK_KAFKA) {
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                k->rk, RD_KAFKA_V_TOPIC(k->topic), RD_KAFKA_V_KEY(key, strlen(key)),
                RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "vigil-sim: kafka: produce to %s: %s\n", k->topic,
                        rd_kafka_err2str(err));
                return -1;
            }
            rd_kafka_poll(k->rk, 50); /* queue full: let deliveries drain */
        }
        if ((k->sent & 1023) == 0)
            rd_kafka_poll(k->rk, 0);
        if (k->failed > 0) {
            fprintf(stderr, "vigil-sim: kafka: delivery failed: %s\n", k->err);
            return -1;
        }
    }
    k->sent++;
    if (k->kind == SINK_COUNT)
        return 0;
    if (k->rate > 0) {
        int64_t due = k->t_begin_ns + (int64_t)((double)k->sent * 1e9 / k->rate);
        int64_t wait = due - now_ns();
        if (wait > 0) {
            struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
            nanosleep(&ts, NULL);
        }
    }
    if ((k->sent & 255) == 0)
        sink_progress(k, false);
    return 0;
}

/* Flushes and closes; returns 0, or -1 when events were lost. */
int sink_close(struct sink *k)
{
    int rc = 0;
    if (k->kind == SINK_FILE && k->f != NULL) {
        if (fflush(k->f) != 0 || ferror(k->f)) {
            fprintf(stderr, "vigil-sim: writing %s: %s\n", k->name, strerror(errno));
            rc = -1;
        }
        if (k->f != stdout && fclose(k->f) != 0)
            rc = -1;
        k->f = NULL;
    } else if (k->kind == SINK_KAFKA && k->rk != NULL) {
        rd_kafka_flush(k->rk, 60000);
        int left = rd_kafka_outq_len(k->rk);
        if (left > 0) {
            fprintf(stderr, "vigil-sim: kafka: %d events not delivered after 60 s\n", left);
            rc = -1;
        }
        if (k->failed > 0) {
            fprintf(stderr, "vigil-sim: kafka: %" PRIu64 " events failed: %s\n", k->failed, k->err);
            rc = -1;
        }
        rd_kafka_destroy(k->rk);
        k->rk = NULL;
    }
    return rc;
}

/* ---- writing events ---- */

static const char *acc_id(const struct sim *s, int acc)
{
    return acc >= 0 ? s->acc[acc].id : "acc-invalid";
}

static size_t format_invalid(struct sim *s, const struct item *it, const char *id, char *buf,
                             size_t cap)
{
    const char *acc = acc_id(s, it->acc);
    const char *from = it->acc >= 0 ? s->acc[it->acc].mobile : "+31612345678";
    long long ts = (long long)it->ts;
    unsigned long long h = (unsigned long long)it->hash;
    int n = 0;

    switch (s->inv[it->aux].kind) {
    case INV_NOT_JSON: /* cut off mid-value, as a broken exporter would */
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"+3161",
                     id, ts, acc, from);
        break;
    case INV_NO_CALL_ID:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"call_start\",\"id\":\"%s\",\"ts\":%lld,\"account\":"
                     "\"%s\",\"from\":\"%s\",\"to\":\"+31201234567\",\"dir\":\"out\"}",
                     id, ts, acc, from);
        break;
    case INV_BAD_NUMBER:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"abc\",\"segments\":1,\"body_hash\":\"%016llx\"}",
                     id, ts, acc, from, h);
        break;
    case INV_TS_STRING:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"sms\",\"id\":\"%s\",\"ts\":\"%lld\",\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"+31687654321\",\"segments\":1,"
                     "\"body_hash\":\"%016llx\"}",
                     id, ts, acc, from, h);
        break;
    default:
        n = snprintf(buf, cap,
                     "{\"v\":1,\"type\":\"mms\",\"id\":\"%s\",\"ts\":%lld,\"account\":\"%s\","
                     "\"from\":\"%s\",\"to\":\"+31687654321\"}",
                     id, ts, acc, from);
        break;
    }
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static size_t format_event(struct sim *s, const struct item *it, const char *id, char *buf,
                           size_t cap)
{
    static const char *const types[] = {"call_start", "call_end", "sms"};
    const struct account *a = &s->acc[it->acc];
    struct vigil_jbuf b;
    char tmp[VIGIL_DEVICE_MAX + 1];

    vigil_jbuf_init(&b, buf, cap);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "v");
    vigil_jbuf_int(&b, 1);
    vigil_jbuf_key(&b, "type");
    vigil_jbuf_cstr(&b, types[it->kind]);
    vigil_jbuf_key(&b, "id");
    vigil_jbuf_cstr(&b, id);
    vigil_jbuf_key(&b, "ts");
    vigil_jbuf_int(&b, it->ts);
    vigil_jbuf_key(&b, "account");
    vigil_jbuf_cstr(&b, a->id);
    if (it->kind != IT_SMS) {
        snprintf(tmp, sizeof tmp, "c-%s-%" PRIu64, s->tag, it->call_no);
        vigil_jbuf_key(&b, "call_id");
        vigil_jbuf_cstr(&b, tmp);
    }
    vigil_jbuf_key(&b, "from");
    vigil_jbuf_cstr(&b, it->from);
    vigil_jbuf_key(&b, "to");
    vigil_jbuf_cstr(&b, it->to);
    if (it->kind == IT_SMS) {
        snprintf(tmp, sizeof tmp, "%016" PRIx64, it->hash);
        vigil_jbuf_key(&b, "segments");
        vigil_jbuf_int(&b, it->segments);
        vigil_jbuf_key(&b, "body_hash");
        vigil_jbuf_cstr(&b, tmp);
    } else {
        vigil_jbuf_key(&b, "dir");
        vigil_jbuf_cstr(&b, it->in ? "in" : "out");
        if (it->dev >= 0) {
            uint32_t ip = it->ip ? it->ip : a->ip;
            snprintf(tmp, sizeof tmp, "%s/%s", a->id, device_name(a, it->dev));
            vigil_jbuf_key(&b, "device");
            vigil_jbuf_cstr(&b, tmp);
            snprintf(tmp, sizeof tmp, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                     ip & 255);
            vigil_jbuf_key(&b, "src_ip");
            vigil_jbuf_cstr(&b, tmp);
        }
        if (it->kind == IT_CALL_END) {
            vigil_jbuf_key(&b, "duration");
            vigil_jbuf_int(&b, it->duration);
            if (!it->answered) {
                vigil_jbuf_key(&b, "answered");
                vigil_jbuf_bool(&b, false);
            }
        }
    }
    vigil_jbuf_close(&b, '}');
    return b.overflow ? 0 : b.len;
}

static int emit(struct sim *s, struct sink *k, const struct item *it)
{
    char buf[EVENT_BUF], id[48];
    size_t len;

    snprintf(id, sizeof id, "e-%s-%" PRIu64, s->tag, s->st.written);
    if (it->kind == IT_INVALID) {
        struct invalid *inv = &s->inv[it->aux];
        len = format_invalid(s, it, id, buf, sizeof buf);
        inv->index = s->st.written;
        snprintf(inv->id, sizeof inv->id, "%s", id);
        s->st.invalid++;
    } else {
        len = format_event(s, it, id, buf, sizeof buf);
        s->st.start += it->kind == IT_CALL_START;
        s->st.end += it->kind == IT_CALL_END;
        s->st.sms += it->kind == IT_SMS;
    }
    if (len == 0) {
        fprintf(stderr, "vigil-sim: internal error: event %s does not fit\n", id);
        return -1;
    }
    if (it->scen >= 0) {
        struct scen *sc = &s->scen[it->scen];
        if (sc->events++ == 0)
            sc->first_ts = it->ts;
        sc->last_ts = it->ts;
    }
    s->st.written++;
    return sink_write(k, acc_id(s, it->acc), buf, len);
}

/* Runs the simulation to the end of the window; returns 0 or -1 when the sink failed. */
int sim_run(struct sim *s, struct sink *k)
{
    struct item it;

    while (s->hlen > 0) {
        pop(s, &it);
        if (it.ts >= s->end_ts) {
            s->st.cut += it.kind <= IT_INVALID;
            continue;
        }
        /* The heap only ever receives items at or after the one being handled. */
        if (it.ts < s->last_ts) {
            fprintf(stderr, "vigil-sim: internal error: time went back at %" PRId64 "\n", it.ts);
            return -1;
        }
        s->last_ts = it.ts;
        if (it.kind == IT_GEN_ACT)
            gen_activity(s, &it);
        else if (it.kind == IT_GEN_LINE)
            gen_line(s, &it);
        else if (emit(s, k, &it) != 0)
            return -1;
        if (s->oom) {
            fprintf(stderr, "vigil-sim: out of memory\n");
            return -1;
        }
    }
    return 0;
}

/* ---- ground truth ---- */

static int cmp_invalid(const void *a, const void *b)
{
    const struct invalid *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Writes the ground truth after a run; sorts s->inv, so the run must be over. */
int write_truth(struct sim *s, const char *path)
{
    FILE *f = fopen(path, "w");
    char buf[1024];
    struct vigil_jbuf b;

    if (f == NULL) {
        fprintf(stderr, "vigil-sim: --truth %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < s->nscen; i++) {
        const struct scen *sc = &s->scen[i];
        const struct scen_def *d = sc->def;
        vigil_jbuf_init(&b, buf, sizeof buf);
        vigil_jbuf_open(&b, '{');
        vigil_jbuf_key(&b, "scenario");
        vigil_jbuf_cstr(&b, d->name);
        vigil_jbuf_key(&b, "account");
        vigil_jbuf_cstr(&b, s->acc[sc->acc].id);
        vigil_jbuf_key(&b, "profile");
        vigil_jbuf_cstr(&b, prof_names[s->acc[sc->acc].prof]);
        vigil_jbuf_key(&b, "minute");
        vigil_jbuf_int(&b, sc->minute);
        vigil_jbuf_key(&b, "start_ts");
        vigil_jbuf_int(&b, sc->first_ts >= 0 ? sc->first_ts : sc->t0);
        vigil_jbuf_key(&b, "complete_ts");
        if (sc->complete_ts >= 0)
            vigil_jbuf_int(&b, sc->complete_ts);
        else
            vigil_jbuf_num(&b, NAN); /* null */
        vigil_jbuf_key(&b, "expect");
        if (d->detector != NULL) {
            vigil_jbuf_open(&b, '{');
            vigil_jbuf_key(&b, "detector");
            vigil_jbuf_cstr(&b, d->detector);
            vigil_jbuf_key(&b, "rule");
            vigil_jbuf_cstr(&b, sc->rule);
            vigil_jbuf_key(&b, "action");
            vigil_jbuf_cstr(&b, d->action);
            if (d->also) {
                vigil_jbuf_key(&b, "also");
                vigil_jbuf_cstr(&b, d->also);
            }
            vigil_jbuf_close(&b, '}');
            vigil_jbuf_key(&b, "deadline_ms");
            vigil_jbuf_int(&b, d->deadline_ms);
        } else {
            vigil_jbuf_num(&b, NAN);
            vigil_jbuf_key(&b, "deadline_ms");
            vigil_jbuf_num(&b, NAN);
        }
        if (sc->credit_limit_eur > 0) {
            /* For whoever plays billing: HSET <prefix>credit ACCOUNT "LIMIT START". */
            vigil_jbuf_key(&b, "billing");
            vigil_jbuf_open(&b, '{');
            vigil_jbuf_key(&b, "credit_limit_eur");
            vigil_jbuf_num(&b, sc->credit_limit_eur);
            vigil_jbuf_key(&b, "period_start_ms");
            vigil_jbuf_int(&b, sc->period_start_ms);
            vigil_jbuf_close(&b, '}');
        }
        /* False when the window ends before the pattern completes (e.g. baby_monitor
         * needs --duration past minute + 8 h). */
        vigil_jbuf_key(&b, "in_window");
        vigil_jbuf_bool(&b, sc->complete_ts < 0 || sc->complete_ts < s->end_ts);
        vigil_jbuf_key(&b, "events");
        vigil_jbuf_int(&b, (int64_t)sc->events);
        vigil_jbuf_key(&b, "last_ts");
        if (sc->events > 0)
            vigil_jbuf_int(&b, sc->last_ts);
        else
            vigil_jbuf_num(&b, NAN);
        vigil_jbuf_close(&b, '}');
        fprintf(f, "%s\n", buf);
    }
    /* Invalid events in output order. */
    qsort(s->inv, (size_t)s->opt->invalid, sizeof *s->inv, cmp_invalid);
    for (int i = 0; i < s->opt->invalid; i++) {
        const struct invalid *inv = &s->inv[i];
        vigil_jbuf_init(&b, buf, sizeof buf);
        vigil_jbuf_open(&b, '{');
        vigil_jbuf_key(&b, "invalid");
        vigil_jbuf_cstr(&b, inv_names[inv->kind]);
        vigil_jbuf_key(&b, "reason");
        vigil_jbuf_cstr(&b, inv_reasons[inv->kind]);
        vigil_jbuf_key(&b, "account");
        vigil_jbuf_cstr(&b, acc_id(s, inv->acc));
        vigil_jbuf_key(&b, "id");
        vigil_jbuf_cstr(&b, inv->id);
        vigil_jbuf_key(&b, "ts");
        vigil_jbuf_int(&b, inv->ts);
        vigil_jbuf_key(&b, "index");
        vigil_jbuf_int(&b, (int64_t)inv->index);
        vigil_jbuf_close(&b, '}');
        fprintf(f, "%s\n", buf);
    }
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "vigil-sim: --truth %s: %s\n", path, strerror(errno));
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}
