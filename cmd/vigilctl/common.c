/* SPDX-License-Identifier: Apache-2.0 */
/* common.c - what vigilctl's subcommands share: messages and exit statuses, time, validation,
 * reading and writing JSON, configuration, Redis (vigilctl.h).
 *
 * Threading: single-threaded, like the whole program. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "jbuf.h"
#include "json.h"
#include "kafka_conf.h"
#include "redis_sink.h"
#include "vigil/detector.h"
#include "vigilctl.h"

char prog[64] = "vigilctl";

/* ---- messages ------------------------------------------------------------------------ */

int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: error: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see %s --help)\n", prog);
    return EXIT_USAGE;
}

/* After getopt_long returned ':' or '?': one line naming the flag. */
int bad_flag(int c, char **argv)
{
    if (c == ':')
        return usage_error("%s needs a value", argv[optind - 1]);
    if (optopt != 0)
        return usage_error("unknown flag '-%c'", optopt);
    return usage_error("unknown flag '%s'", argv[optind - 1]);
}

int parse_int_flag(const char *flag, const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return usage_error("%s takes a number from %lld to %lld, not '%s'", flag, min, max, s);
    *out = v;
    return 0;
}

/* Bytes for a terminal: control characters (from Redis or a file) become '?'. */
void put_text(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
}

/* ---- time ---------------------------------------------------------------------------- */

/* "2026-11-23T04:01:02Z", or "-" for an unknown time. */
void iso_time(int64_t ms, char *buf, size_t n)
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "-");
}

/* ---- validation ---------------------------------------------------------------------- */

bool account_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > VIGIL_ACCOUNT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
            return false;
    }
    return true;
}

/* An action an order can stand for (so one that can be lifted). */
bool action_liftable(const char *s)
{
    for (int a = VIGIL_ACT_SUSPEND; a < VIGIL_ACT_LIFT; a++) {
        if (strcmp(s, vigil_action_str((enum vigil_action)a)) == 0)
            return true;
    }
    return false;
}

/* ---- reading JSON (orders and alerts from Redis, events from files) ------------------ */

/* JSON whitespace (not strchr: that would also match the NUL byte). */
bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The string value of a line's top-level "account" field, decoded, into key[n]. Returns its
 * length, or -1 when the line is not a JSON object or has no such string. */
int account_of(struct vigil_json *d, const char *line, size_t len, char *key, size_t n)
{
    if (vigil_json_parse(d, line, len) != 0)
        return -1;
    return vigil_json_str(d, vigil_json_find(d, "account"), key, n);
}

void order_info_read(struct order_info *oi, struct vigil_json *d, const char *json, size_t len,
                     const char *id_field)
{
    memset(oi, 0, sizeof *oi);
    if (vigil_json_parse(d, json, len) != 0)
        return;
    oi->parsed = true;
    if (vigil_json_str(d, vigil_json_find(d, id_field), oi->id, sizeof oi->id) < 0)
        oi->id[0] = '\0';
    if (vigil_json_str(d, vigil_json_find(d, "detector"), oi->detector, sizeof oi->detector) < 0)
        oi->detector[0] = '\0';
    if (vigil_json_str(d, vigil_json_find(d, "rule"), oi->rule, sizeof oi->rule) < 0)
        oi->rule[0] = '\0';
    if (vigil_json_str(d, vigil_json_find(d, "severity"), oi->severity, sizeof oi->severity) < 0)
        oi->severity[0] = '\0';
    if (vigil_json_str(d, vigil_json_find(d, "reason"), oi->reason, sizeof oi->reason) < 0)
        oi->reason[0] = '\0';
    if (vigil_json_int(d, vigil_json_find(d, "ts"), &oi->ts_ms) != 0)
        oi->ts_ms = 0;
}

/* ---- writing JSON -------------------------------------------------------------------- */

/* A value that is already JSON text, with the comma before it (jbuf.h has no such call). */
void jbuf_raw(struct vigil_jbuf *b, const char *s, size_t len)
{
    if (b->overflow)
        return;
    size_t need = len + (b->need_comma ? 1 : 0);
    if (need >= b->cap - b->len) {
        b->overflow = true;
        return;
    }
    if (b->need_comma)
        b->buf[b->len++] = ',';
    memcpy(b->buf + b->len, s, len);
    b->len += len;
    b->buf[b->len] = '\0';
    b->need_comma = true;
}

/* `"name":` for a name that is not NUL-terminated (a field read from Redis). */
void jbuf_key_n(struct vigil_jbuf *b, const char *name, size_t len)
{
    vigil_jbuf_str(b, name, len);
    b->need_comma = false; /* no comma between a key and its colon */
    jbuf_raw(b, ":", 1);
    b->need_comma = false; /* nor between the colon and the value */
}

void jbuf_str_or_null(struct vigil_jbuf *b, const char *key, const char *s)
{
    vigil_jbuf_key(b, key);
    if (s && *s)
        vigil_jbuf_cstr(b, s);
    else
        jbuf_raw(b, "null", 4);
}

void jbuf_time(struct vigil_jbuf *b, const char *ms_key, const char *iso_key, int64_t ms)
{
    char iso[32];
    vigil_jbuf_key(b, ms_key);
    if (ms > 0)
        vigil_jbuf_int(b, ms);
    else
        jbuf_raw(b, "null", 4);
    iso_time(ms, iso, sizeof iso);
    jbuf_str_or_null(b, iso_key, ms > 0 ? iso : NULL);
}

/* A Redis value that is a whole integer goes out as a number, anything else as a string. */
void jbuf_redis_value(struct vigil_jbuf *b, const char *s, size_t len)
{
    char tmp[32], *end;
    if (len > 0 && len < sizeof tmp) {
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        errno = 0;
        long long v = strtoll(tmp, &end, 10);
        if (errno == 0 && *end == '\0' && !isspace((unsigned char)tmp[0])) {
            vigil_jbuf_int(b, v);
            return;
        }
    }
    vigil_jbuf_str(b, s, len);
}

/* ---- flags ------------------------------------------------------------------------- */

int common_flag(int c, char **argv, struct cfg_opts *co, const char **brokers, const char **redis,
                void (*usage)(FILE *))
{
    switch (c) {
    case 'b':
        if (!brokers)
            break;
        *brokers = optarg;
        return RUN_ON;
    case 'r':
        if (!redis)
            break;
        *redis = optarg;
        return RUN_ON;
    case 'c':
        co->path = optarg;
        return RUN_ON;
    case 's':
        return cfg_add_set(co, optarg) != 0 ? EXIT_USAGE : RUN_ON;
    case 'h':
        usage(stdout);
        return EXIT_OK;
    default:
        break;
    }
    return bad_flag(c, argv);
}

/* ---- printing ------------------------------------------------------------------------ */

void print_block(const struct pair *p, const struct order_info *oi, const char *no_id)
{
    char t[40];
    put_text(stdout, p->k, p->kl);
    iso_time(oi->ts_ms, t, sizeof t);
    printf("%*s  since %s  %s", (int)(p->kl < 19 ? 19 - p->kl : 0), "", t,
           oi->id[0] ? oi->id : no_id);
    if (oi->rule[0])
        printf("  %s", oi->rule);
    if (p->until > 0) {
        iso_time(p->until, t, sizeof t);
        printf("  until %s", t);
    }
    printf("\n");
}

/* ---- configuration ------------------------------------------------------------------- */

int cfg_add_set(struct cfg_opts *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return usage_error("--set '%s': expected KEY=VALUE", kv);
    if (o->n_sets == MAX_SETS)
        return usage_error("more than %d --set flags", MAX_SETS);
    o->sets[o->n_sets++] = kv;
    return 0;
}

/* Defaults, then the file, then the --set flags. Returns an exit status; *out on success. */
int cfg_load(const struct cfg_opts *o, struct vigil_config **out)
{
    struct vigil_config *cfg = vigil_config_create();
    *out = NULL;
    if (!cfg)
        return fail("out of memory");
    if (o->path && vigil_config_load_file(cfg, o->path) != 0) {
        int rc = fail("%s", vigil_config_errstr(cfg));
        vigil_config_destroy(cfg);
        return rc;
    }
    for (size_t i = 0; i < o->n_sets; i++) {
        char key[256];
        const char *kv = o->sets[i], *eq = strchr(kv, '=');
        if ((size_t)(eq - kv) >= sizeof key) {
            vigil_config_destroy(cfg);
            return usage_error("--set '%s': key too long", kv);
        }
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        if (vigil_config_set(cfg, key, eq + 1, "--set") != 0) {
            int rc = usage_error("%s", vigil_config_errstr(cfg));
            vigil_config_destroy(cfg);
            return rc;
        }
    }
    if (vigil_config_check_levels(cfg) != 0) {
        int rc = fail("%s", vigil_config_errstr(cfg));
        vigil_config_destroy(cfg);
        return rc;
    }
    *out = cfg;
    return EXIT_OK;
}

/* ---- Redis --------------------------------------------------------------------------- */

/* Creates and connects. Returns an exit status; *out on success. */
int redis_open(const char *addr, const struct vigil_config *cfg, struct vigil_redis **out)
{
    char err[512];
    *out = NULL;
    struct vigil_redis *r =
        vigil_redis_create(addr, vigil_config_str(cfg, "redis.password_file"),
                           (int)vigil_config_int(cfg, "redis.timeout_ms"), err, sizeof err);
    if (!r)
        return usage_error("--redis: %s", err);
    if (vigil_redis_connect(r) != 0) {
        int rc = fail("%s", vigil_redis_errstr(r));
        vigil_redis_destroy(r);
        return rc;
    }
    *out = r;
    return EXIT_OK;
}

/* Checks a reply of vigil_redis_command(): NULL (after one line on stderr) when Redis failed,
 * answered an error, or answered with neither `type` nor nil. `what` names the command. */
redisReply *redis_expect(struct vigil_redis *r, void *reply, int type, const char *what)
{
    redisReply *rep = reply;
    if (!rep) {
        fail("%s", vigil_redis_errstr(r));
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        fail("Redis at %s refused %s: %s", vigil_redis_where(r), what, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    if (rep->type != type && rep->type != REDIS_REPLY_NIL) {
        fail("unexpected reply type %d to %s from Redis at %s", rep->type, what,
             vigil_redis_where(r));
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

int make_key(char *key, const char *prefix, enum vigil_rkey kind, const char *account)
{
    if (vigil_redis_key(key, KEY_MAX, prefix, kind, account, NULL) != 0)
        return fail("redis.prefix is too long for a key");
    return 0;
}

/* s with the glob characters of SCAN MATCH escaped, into out[n]. */
int glob_escape(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s; s++) {
        if (strchr("*?[]\\", *s)) {
            if (o + 1 >= n)
                return -1;
            out[o++] = '\\';
        }
        if (o + 1 >= n)
            return -1;
        out[o++] = *s;
    }
    out[o] = '\0';
    return 0;
}

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

/* The pairs of an HGETALL reply (nil or empty: none), sorted by field. Returns the count, or
 * (size_t)-1 on allocation failure; *out is freed by the caller. */
size_t hash_pairs(const redisReply *rep, struct pair **out)
{
    *out = NULL;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 2)
        return 0;
    size_t n = rep->elements / 2;
    struct pair *p = calloc(n, sizeof *p);
    if (!p)
        return (size_t)-1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = rep->element[2 * i], *v = rep->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        p[m++] = (struct pair){k->str, v->str, k->len, v->len, 0};
    }
    qsort(p, m, sizeof *p, pair_cmp);
    *out = p;
    return m;
}

/* The standing blocks of a block hash (HGETALL reply): the action fields, each with the
 * wall-clock ms of its "<action>:until" field, without those fields and without actions
 * whose until is at or before now (an older action under a key a newer order renewed). An
 * action without an until field (written before vigil kept one) stands while its key
 * lives. Returns the count, or (size_t)-1 on allocation failure; *out freed by the caller. */
size_t block_pairs(const redisReply *rep, int64_t now, struct pair **out)
{
    struct pair *p = NULL;
    size_t n = hash_pairs(rep, &p);
    if (n == (size_t)-1 || n == 0) {
        *out = p;
        return n;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (memchr(p[i].k, ':', p[i].kl))
            continue;
        int64_t until = 0;
        for (size_t j = 0; j < n; j++) {
            if (p[j].kl == p[i].kl + 6 && memcmp(p[j].k, p[i].k, p[i].kl) == 0 &&
                memcmp(p[j].k + p[i].kl, ":until", 6) == 0)
                until = strtoll(p[j].v, NULL, 10);
        }
        if (until != 0 && until <= now)
            continue;
        struct pair keep = p[i];
        keep.until = until;
        p[m++] = keep;
    }
    *out = p;
    return m;
}

int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- flags of the Redis readers ------------------------------------------------------- */

int redis_read_flags(int argc, char **argv, void (*usage)(FILE *), struct cfg_opts *co,
                     const char **addr, bool *json)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, 'r'}, {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int c, frc;
    while ((c = getopt_long(argc, argv, ":r:c:s:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            *addr = optarg;
            break;
        case 'j':
            *json = true;
            break;
        default:
            if ((frc = common_flag(c, argv, co, NULL, NULL, usage)) != RUN_ON)
                return frc;
        }
    }
    return RUN_ON;
}

/* ---- Kafka readers ---------------------------------------------------------------------- */

rd_kafka_t *reader_consumer(const char *brokers, const struct vigil_config *cfg, const char *what,
                            bool partition_eof, char *err, size_t errlen)
{
    char group[64];
    /* librdkafka refuses assign() without a group.id; nothing joins or commits. */
    snprintf(group, sizeof group, "vigilctl-%s-%ld", what, (long)getpid());
    const char *const defaults[] = {
        "allow.auto.create.topics", "false", "client.id", "vigilctl", "log_level", "2", NULL};
    /* The end-of-partition events go last, so without them the list ends one pair early. */
    const char *const owned[] = {"bootstrap.servers",
                                 brokers,
                                 "group.id",
                                 group,
                                 "enable.auto.commit",
                                 "false",
                                 "enable.auto.offset.store",
                                 "false",
                                 partition_eof ? "enable.partition.eof" : NULL,
                                 "true",
                                 NULL};
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(cfg, defaults, owned, err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!rk)
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees conf only on success */
    return rk;
}
