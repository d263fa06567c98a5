/* SPDX-License-Identifier: Apache-2.0 */
/* vigilctl - the operator tool: show an account's state, list active blocks, lift a block
 * (emitting a `lift` order), replay JSON-lines events through the detectors offline, and
 * produce / tail Kafka topics for demos and tests; orders held by the order brake are
 * listed, released and discarded in held.c.
 *
 * Exit status of every subcommand: 0 done; 1 a runtime failure (Redis or Kafka unreachable,
 * no such block, unreadable file), always one line on stderr; 2 a bad flag or argument.
 *
 * Threading: single-threaded; librdkafka runs its own threads behind its API.
 * Ownership: each subcommand creates and destroys its own clients and buffers. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include "../../detectors/acct_table.h"
#include "kafka_conf.h"
#include "kafka_out.h"
#include "log.h"
#include "redis_sink.h"
#include "stream_clock.h"
#include "version.h"
#include "vigil/config.h"
#include "vigil/dedupe.h"
#include "vigil/detector.h"
#include "vigil/emit.h"
#include "vigil/event.h"
#include "vigil/flagged.h"
#include "vigil/jbuf.h"
#include "vigil/numplan.h"
#include "vigil/profile.h"
#include "vigil/status.h"
#include "vigilctl.h"

#define ID_MAX 160      /* order_id, alert_id as read back from Redis */
#define REASON_MAX 1024 /* --reason and reasons read back from orders */
#define OPERATOR_MAX 128
#define JSON_TOKENS_LIMIT (1 << 20) /* jsmn tokens for one document, at most */
#define PRODUCE_LINE_MAX (1 << 20)  /* lines above this are sent without looking for a key */
#define PROGRESS_EVERY 100000
#define DEFAULT_LIFT_TIMEOUT_MS 15000
#define DEFAULT_PRODUCE_TIMEOUT_MS 30000
#define DEFAULT_TAIL_TIMEOUT_MS 3000

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

int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One document tokenised by jsmn (strict mode). The token array is kept across parses. */
struct jdoc {
    const char *s;
    size_t len;
    jsmntok_t *tok;
    unsigned cap;
    int n;
};

static void jdoc_fini(struct jdoc *d)
{
    free(d->tok);
    d->tok = NULL;
    d->cap = 0;
}

/* 0 when s[0..len) is one JSON object as far as jsmn can tell (it is lenient about a few
 * malformed forms; vigil_event_parse() is the real validator), else -1. */
static int jdoc_parse(struct jdoc *d, const char *s, size_t len)
{
    d->s = s;
    d->len = len;
    d->n = 0;
    for (;;) {
        if (d->cap == 0) {
            /* jsmn counts instead of filling when given no array: always give one. */
            d->tok = malloc(64 * sizeof *d->tok);
            if (!d->tok)
                return -1;
            d->cap = 64;
        }
        jsmn_parser p;
        jsmn_init(&p);
        int n = jsmn_parse(&p, s, len, d->tok, d->cap);
        if (n == JSMN_ERROR_NOMEM) {
            if (d->cap >= JSON_TOKENS_LIMIT)
                return -1;
            jsmntok_t *t = realloc(d->tok, 2 * d->cap * sizeof *t);
            if (!t)
                return -1;
            d->tok = t;
            d->cap *= 2;
            continue;
        }
        if (n < 1 || d->tok[0].type != JSMN_OBJECT || d->tok[0].end < 0)
            return -1;
        for (size_t i = (size_t)d->tok[0].end; i < len; i++) {
            if (!is_ws(s[i]))
                return -1; /* a second value, or garbage, after the object */
        }
        d->n = n;
        return 0;
    }
}

/* The index just past token i and everything nested in it. */
static int jdoc_after(const struct jdoc *d, int i)
{
    int end = d->tok[i].end;
    for (i++; i < d->n && d->tok[i].start < end; i++)
        ;
    return i;
}

/* The value token of the top-level field `name`, or -1. */
static int jdoc_find(const struct jdoc *d, const char *name)
{
    size_t nl = strlen(name);
    int i = 1;
    while (i + 1 < d->n) {
        const jsmntok_t *k = &d->tok[i];
        if (k->type == JSMN_STRING && (size_t)(k->end - k->start) == nl &&
            memcmp(d->s + k->start, name, nl) == 0)
            return i + 1;
        i = jdoc_after(d, i + 1);
    }
    return -1;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decodes the body of a JSON string (no quotes) into out[n], NUL-terminated. Returns the
 * length, or -1 on a bad escape or when it does not fit. */
static int json_unescape(const char *s, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\') {
            if (++i >= len)
                return -1;
            switch (s[i]) {
            case '"':
            case '\\':
            case '/':
                c = s[i];
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u': {
                unsigned cp, lo;
                if (i + 4 >= len || hex4(s + i + 1, &cp) != 0)
                    return -1;
                i += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < len && s[i + 1] == '\\' &&
                    s[i + 2] == 'u' && hex4(s + i + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
                char u[4];
                size_t k;
                if (cp < 0x80) {
                    u[0] = (char)cp;
                    k = 1;
                } else if (cp < 0x800) {
                    u[0] = (char)(0xc0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3f));
                    k = 2;
                } else if (cp < 0x10000) {
                    u[0] = (char)(0xe0 | (cp >> 12));
                    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    u[2] = (char)(0x80 | (cp & 0x3f));
                    k = 3;
                } else {
                    u[0] = (char)(0xf0 | (cp >> 18));
                    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    u[3] = (char)(0x80 | (cp & 0x3f));
                    k = 4;
                }
                if (o + k >= n)
                    return -1;
                memcpy(out + o, u, k);
                o += k;
                continue;
            }
            default:
                return -1;
            }
        }
        if (o + 1 >= n)
            return -1;
        out[o++] = c;
    }
    if (n == 0)
        return -1;
    out[o] = '\0';
    return (int)o;
}

/* The decoded string at token i into out[n]; -1 if it is not a string or does not fit. */
static int jdoc_str(const struct jdoc *d, int i, char *out, size_t n)
{
    if (i < 0 || d->tok[i].type != JSMN_STRING)
        return -1;
    return json_unescape(d->s + d->tok[i].start, (size_t)(d->tok[i].end - d->tok[i].start), out, n);
}

/* The integer at token i; -1 if it is not an integer. */
static int jdoc_int(const struct jdoc *d, int i, int64_t *out)
{
    char tmp[32];
    if (i < 0 || d->tok[i].type != JSMN_PRIMITIVE)
        return -1;
    size_t len = (size_t)(d->tok[i].end - d->tok[i].start);
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, d->s + d->tok[i].start, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* The string value of a line's top-level "account" field, decoded, into key[n]. Returns its
 * length, or -1 when the line is not a JSON object or has no such string. */
static int account_of(struct jdoc *d, const char *line, size_t len, char *key, size_t n)
{
    if (jdoc_parse(d, line, len) != 0)
        return -1;
    return jdoc_str(d, jdoc_find(d, "account"), key, n);
}

int vctl_json_str(const char *json, size_t len, const char *name, char *out, size_t n)
{
    struct jdoc d = {0};
    int rc = jdoc_parse(&d, json, len) == 0 ? jdoc_str(&d, jdoc_find(&d, name), out, n) : -1;
    jdoc_fini(&d);
    return rc;
}

int vctl_json_int(const char *json, size_t len, const char *name, int64_t *out)
{
    struct jdoc d = {0};
    int rc = jdoc_parse(&d, json, len) == 0 ? jdoc_int(&d, jdoc_find(&d, name), out) : -1;
    jdoc_fini(&d);
    return rc;
}

/* What vigilctl shows of a stored order or alert. */
struct order_info {
    bool parsed;     /* the value is a JSON object */
    char id[ID_MAX]; /* order_id or alert_id; "" when absent */
    char detector[64];
    char rule[128];
    char severity[16];
    char reason[REASON_MAX];
    int64_t ts_ms; /* 0 when absent */
};

static void order_info_read(struct order_info *oi, struct jdoc *d, const char *json, size_t len,
                            const char *id_field)
{
    memset(oi, 0, sizeof *oi);
    if (jdoc_parse(d, json, len) != 0)
        return;
    oi->parsed = true;
    if (jdoc_str(d, jdoc_find(d, id_field), oi->id, sizeof oi->id) < 0)
        oi->id[0] = '\0';
    if (jdoc_str(d, jdoc_find(d, "detector"), oi->detector, sizeof oi->detector) < 0)
        oi->detector[0] = '\0';
    if (jdoc_str(d, jdoc_find(d, "rule"), oi->rule, sizeof oi->rule) < 0)
        oi->rule[0] = '\0';
    if (jdoc_str(d, jdoc_find(d, "severity"), oi->severity, sizeof oi->severity) < 0)
        oi->severity[0] = '\0';
    if (jdoc_str(d, jdoc_find(d, "reason"), oi->reason, sizeof oi->reason) < 0)
        oi->reason[0] = '\0';
    if (jdoc_int(d, jdoc_find(d, "ts"), &oi->ts_ms) != 0)
        oi->ts_ms = 0;
}

/* ---- writing JSON -------------------------------------------------------------------- */

/* A value that is already JSON text, with the comma before it (jbuf.h has no such call). */
static void jbuf_raw(struct vigil_jbuf *b, const char *s, size_t len)
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
static void jbuf_key_n(struct vigil_jbuf *b, const char *name, size_t len)
{
    vigil_jbuf_str(b, name, len);
    b->need_comma = false; /* no comma between a key and its colon */
    jbuf_raw(b, ":", 1);
    b->need_comma = false; /* nor between the colon and the value */
}

static void jbuf_str_or_null(struct vigil_jbuf *b, const char *key, const char *s)
{
    vigil_jbuf_key(b, key);
    if (s && *s)
        vigil_jbuf_cstr(b, s);
    else
        jbuf_raw(b, "null", 4);
}

static void jbuf_time(struct vigil_jbuf *b, const char *ms_key, const char *iso_key, int64_t ms)
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
static void jbuf_redis_value(struct vigil_jbuf *b, const char *s, size_t len)
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

int make_key(char *key, const char *prefix, const char *kind, const char *account)
{
    int n = snprintf(key, KEY_MAX, "%s%s%s", prefix, kind, account ? account : "");
    if (n < 0 || n >= KEY_MAX)
        return fail("redis.prefix is too long for a key");
    return 0;
}

/* One field/value of a hash reply, pointing into the reply. */
struct pair {
    const char *k, *v;
    size_t kl, vl;
    int64_t until; /* block_pairs: the action's "<action>:until" (wall ms), 0 if it has none */
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

/* The pairs of an HGETALL reply (nil or empty: none), sorted by field. Returns the count, or
 * (size_t)-1 on allocation failure; *out is freed by the caller. */
static size_t hash_pairs(const redisReply *rep, struct pair **out)
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
static size_t block_pairs(const redisReply *rep, int64_t now, struct pair **out)
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

/* ---- show ---------------------------------------------------------------------------- */

static void show_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: vigilctl show [--redis ADDR] [--config FILE] [--set KEY=VALUE]... [--json]\n"
        "                     ACCOUNT\n"
        "\n"
        "Shows what vigild keeps in Redis for one account: its blocks (action, order id,\n"
        "since when, rule, reason), every detector's current window counters, and the\n"
        "latest alert per detector.\n"
        "\n"
        "  -r, --redis ADDR     Redis as HOST:PORT or redis://[USER:PASSWORD@]HOST:PORT[/DB]\n"
        "                       (default " DEFAULT_REDIS "); without a password in it,\n"
        "                       redis.password_file, then $VIGIL_REDIS_PASSWORD\n"
        "  -c, --config FILE    configuration file (redis.prefix, redis.timeout_ms,\n"
        "                       redis.password_file)\n"
        "  -s, --set KEY=VALUE  override one configuration key (repeatable)\n"
        "  -j, --json           print one JSON object instead of text (below)\n"
        "  -h, --help           this help\n"
        "\n"
        "--json prints, on one line:\n"
        "  {\"account\": A, \"blocked_until_ms\": MS or null,\n"
        "   \"blocks\": [{\"action\", \"order_id\", \"since_ms\", \"since\", \"detector\",\n"
        "               \"rule\", \"reason\", \"order\": {the stored order}}],\n"
        "   \"counters\": {DETECTOR: {NAME: VALUE, ..., \"updated_ms\": MS}},\n"
        "   \"alerts\": [{\"detector\", \"alert_id\", \"severity\", \"rule\", \"ts_ms\", \"ts\",\n"
        "               \"reason\", \"alert\": {the stored alert}}]}\n"
        "A stored value that is not JSON appears as a string under \"order_raw\" or\n"
        "\"alert_raw\"; an unknown field is null.\n"
        "\n"
        "Exit status: 0 shown (also when Redis knows nothing of the account); 1 Redis\n"
        "unreachable or refusing; 2 bad flag.\n");
}

struct show_data {
    const char *account;
    redisReply *blocks; /* HGETALL P block:<account> */
    redisReply *until;  /* ZSCORE P blocks <account> */
    redisReply *alerts; /* HGETALL P alerts:<account> */
    redisReply *cnt;    /* HGETALL P cnt:<account>: "<detector>:<counter>" -> value */
};

static void show_data_fini(struct show_data *sd)
{
    if (sd->blocks)
        freeReplyObject(sd->blocks);
    if (sd->until)
        freeReplyObject(sd->until);
    if (sd->alerts)
        freeReplyObject(sd->alerts);
    if (sd->cnt)
        freeReplyObject(sd->cnt);
}

/* The counters of one detector: a run of the sorted HGETALL pairs whose field starts with
 * "<detector>:". Returns the index after the run; *det_len is the detector name's length
 * (0 for a field with no ':' or an empty name, which no detector writes: skip it). */
static size_t cnt_run(const struct pair *p, size_t n, size_t i, size_t *det_len)
{
    const char *colon = memchr(p[i].k, ':', p[i].kl);
    *det_len = colon ? (size_t)(colon - p[i].k) : 0;
    size_t j = i + 1;
    while (j < n && *det_len > 0 && p[j].kl > *det_len &&
           memcmp(p[j].k, p[i].k, *det_len + 1) == 0)
        j++;
    return j;
}

static int show_fetch(struct vigil_redis *r, const char *prefix, struct show_data *sd)
{
    char key[KEY_MAX];
    if (make_key(key, prefix, "block:", sd->account) != 0)
        return EXIT_FAIL;
    sd->blocks =
        redis_expect(r, vigil_redis_command(r, "HGETALL %s", key), REDIS_REPLY_ARRAY, "HGETALL");
    if (!sd->blocks)
        return EXIT_FAIL;
    if (make_key(key, prefix, "blocks", NULL) != 0)
        return EXIT_FAIL;
    sd->until = redis_expect(r, vigil_redis_command(r, "ZSCORE %s %s", key, sd->account),
                             REDIS_REPLY_STRING, "ZSCORE");
    if (!sd->until)
        return EXIT_FAIL;
    if (make_key(key, prefix, "alerts:", sd->account) != 0)
        return EXIT_FAIL;
    sd->alerts =
        redis_expect(r, vigil_redis_command(r, "HGETALL %s", key), REDIS_REPLY_ARRAY, "HGETALL");
    if (!sd->alerts)
        return EXIT_FAIL;
    if (make_key(key, prefix, "cnt:", sd->account) != 0)
        return EXIT_FAIL;
    sd->cnt =
        redis_expect(r, vigil_redis_command(r, "HGETALL %s", key), REDIS_REPLY_ARRAY, "HGETALL");
    return sd->cnt ? EXIT_OK : EXIT_FAIL;
}

static int64_t show_until_ms(const struct show_data *sd)
{
    if (sd->until->type != REDIS_REPLY_STRING)
        return 0;
    return (int64_t)strtod(sd->until->str, NULL);
}

static void show_print_text(const struct show_data *sd, struct jdoc *d)
{
    char t1[32], t2[32];
    struct pair *p = NULL;
    size_t n;
    struct order_info oi;

    printf("account %s\n", sd->account);
    n = block_pairs(sd->blocks, wall_ms(), &p);
    if (n == (size_t)-1)
        n = 0;
    if (n == 0) {
        printf("blocks: none\n");
    } else {
        iso_time(show_until_ms(sd), t2, sizeof t2);
        printf("blocks: %zu, standing until %s\n", n, t2);
    }
    for (size_t i = 0; i < n; i++) {
        order_info_read(&oi, d, p[i].v, p[i].vl, "order_id");
        iso_time(oi.ts_ms, t1, sizeof t1);
        printf("  ");
        put_text(stdout, p[i].k, p[i].kl);
        printf("%*s  since %s  %s", (int)(p[i].kl < 19 ? 19 - p[i].kl : 0), "", t1,
               oi.id[0] ? oi.id : "(no order_id)");
        if (oi.rule[0])
            printf("  %s", oi.rule);
        if (p[i].until > 0) {
            iso_time(p[i].until, t2, sizeof t2);
            printf("  until %s", t2);
        }
        printf("\n");
        if (!oi.parsed)
            printf("      (the stored order is not JSON)\n");
        else if (oi.reason[0]) {
            printf("      ");
            put_text(stdout, oi.reason, strlen(oi.reason));
            printf("\n");
        }
    }
    free(p);

    n = hash_pairs(sd->cnt, &p);
    if (n == (size_t)-1)
        n = 0;
    bool any = false;
    for (size_t c = 0, end, dl; c < n; c = end) {
        end = cnt_run(p, n, c, &dl);
        if (dl == 0)
            continue;
        if (!any)
            printf("counters:\n");
        any = true;
        int64_t updated = 0;
        size_t width = 0;
        for (size_t i = c; i < end; i++) {
            const char *f = p[i].k + dl + 1;
            size_t fl = p[i].kl - dl - 1;
            if (fl == 10 && memcmp(f, "updated_ms", 10) == 0)
                updated = strtoll(p[i].v, NULL, 10);
            else if (fl > width)
                width = fl;
        }
        iso_time(updated, t1, sizeof t1);
        printf("  ");
        put_text(stdout, p[c].k, dl);
        printf("  updated %s\n", t1);
        for (size_t i = c; i < end; i++) {
            const char *f = p[i].k + dl + 1;
            size_t fl = p[i].kl - dl - 1;
            if (fl == 10 && memcmp(f, "updated_ms", 10) == 0)
                continue;
            printf("      ");
            put_text(stdout, f, fl);
            printf("%*s  ", (int)(width - fl), "");
            put_text(stdout, p[i].v, p[i].vl);
            printf("\n");
        }
    }
    if (!any)
        printf("counters: none\n");
    free(p);

    n = hash_pairs(sd->alerts, &p);
    if (n == (size_t)-1)
        n = 0;
    printf(n ? "alerts:\n" : "alerts: none\n");
    for (size_t i = 0; i < n; i++) {
        order_info_read(&oi, d, p[i].v, p[i].vl, "alert_id");
        iso_time(oi.ts_ms, t1, sizeof t1);
        printf("  ");
        put_text(stdout, p[i].k, p[i].kl);
        printf("  %s  %s  %s  %s\n", oi.severity[0] ? oi.severity : "-", t1,
               oi.id[0] ? oi.id : "(no alert_id)", oi.rule[0] ? oi.rule : "-");
        if (oi.reason[0]) {
            printf("      ");
            put_text(stdout, oi.reason, strlen(oi.reason));
            printf("\n");
        }
    }
    free(p);
}

/* The stored JSON as an object when it parses, else as a string under `<name>_raw`. */
static void jbuf_stored(struct vigil_jbuf *b, struct jdoc *d, const char *name, const char *s,
                        size_t len)
{
    char raw_name[32];
    if (jdoc_parse(d, s, len) == 0) {
        vigil_jbuf_key(b, name);
        jbuf_raw(b, s, len);
        return;
    }
    snprintf(raw_name, sizeof raw_name, "%s_raw", name);
    vigil_jbuf_key(b, raw_name);
    vigil_jbuf_str(b, s, len);
}

static void show_build_json(const struct show_data *sd, struct jdoc *d, struct vigil_jbuf *b)
{
    struct pair *p = NULL;
    size_t n;
    struct order_info oi;

    vigil_jbuf_open(b, '{');
    vigil_jbuf_key(b, "account");
    vigil_jbuf_cstr(b, sd->account);
    vigil_jbuf_key(b, "blocked_until_ms");
    if (show_until_ms(sd) > 0)
        vigil_jbuf_int(b, show_until_ms(sd));
    else
        jbuf_raw(b, "null", 4);

    vigil_jbuf_key(b, "blocks");
    vigil_jbuf_open(b, '[');
    n = block_pairs(sd->blocks, wall_ms(), &p);
    for (size_t i = 0; i < n && n != (size_t)-1; i++) {
        order_info_read(&oi, d, p[i].v, p[i].vl, "order_id");
        vigil_jbuf_open(b, '{');
        vigil_jbuf_key(b, "action");
        vigil_jbuf_str(b, p[i].k, p[i].kl);
        jbuf_str_or_null(b, "order_id", oi.id);
        jbuf_time(b, "since_ms", "since", oi.ts_ms);
        vigil_jbuf_key(b, "until_ms");
        if (p[i].until > 0)
            vigil_jbuf_int(b, p[i].until);
        else
            jbuf_raw(b, "null", 4);
        jbuf_str_or_null(b, "detector", oi.detector);
        jbuf_str_or_null(b, "rule", oi.rule);
        jbuf_str_or_null(b, "reason", oi.reason);
        jbuf_stored(b, d, "order", p[i].v, p[i].vl);
        vigil_jbuf_close(b, '}');
    }
    free(p);
    vigil_jbuf_close(b, ']');

    vigil_jbuf_key(b, "counters");
    vigil_jbuf_open(b, '{');
    n = hash_pairs(sd->cnt, &p);
    for (size_t c = 0, end, dl; c < n && n != (size_t)-1; c = end) {
        end = cnt_run(p, n, c, &dl);
        if (dl == 0)
            continue;
        jbuf_key_n(b, p[c].k, dl);
        vigil_jbuf_open(b, '{');
        for (size_t i = c; i < end; i++) {
            jbuf_key_n(b, p[i].k + dl + 1, p[i].kl - dl - 1);
            jbuf_redis_value(b, p[i].v, p[i].vl);
        }
        vigil_jbuf_close(b, '}');
    }
    free(p);
    vigil_jbuf_close(b, '}');

    vigil_jbuf_key(b, "alerts");
    vigil_jbuf_open(b, '[');
    n = hash_pairs(sd->alerts, &p);
    for (size_t i = 0; i < n && n != (size_t)-1; i++) {
        order_info_read(&oi, d, p[i].v, p[i].vl, "alert_id");
        vigil_jbuf_open(b, '{');
        vigil_jbuf_key(b, "detector");
        vigil_jbuf_str(b, p[i].k, p[i].kl);
        jbuf_str_or_null(b, "alert_id", oi.id);
        jbuf_str_or_null(b, "severity", oi.severity);
        jbuf_str_or_null(b, "rule", oi.rule);
        jbuf_time(b, "ts_ms", "ts", oi.ts_ms);
        jbuf_str_or_null(b, "reason", oi.reason);
        jbuf_stored(b, d, "alert", p[i].v, p[i].vl);
        vigil_jbuf_close(b, '}');
    }
    free(p);
    vigil_jbuf_close(b, ']');
    vigil_jbuf_close(b, '}');
}

static int show_print_json(const struct show_data *sd, struct jdoc *d)
{
    /* Grow until it fits: the text is bounded by what Redis gave us. */
    for (size_t cap = 64 * 1024; cap <= ((size_t)1 << 31); cap *= 2) {
        char *buf = malloc(cap);
        if (!buf)
            return fail("out of memory");
        struct vigil_jbuf b;
        vigil_jbuf_init(&b, buf, cap);
        show_build_json(sd, d, &b);
        if (!b.overflow) {
            fwrite(b.buf, 1, b.len, stdout);
            fputc('\n', stdout);
            free(buf);
            return EXIT_OK;
        }
        free(buf);
    }
    return fail("the account's data is too large to print");
}

/* The flags `show` and `blocks` share: --redis, --config, --set, --json, --help. Returns
 * RUN_ON to go on with the arguments from optind, or the exit status to return. */
#define RUN_ON (-1)
static int redis_read_flags(int argc, char **argv, void (*usage)(FILE *), struct cfg_opts *co,
                            const char **addr, bool *json)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, 'r'}, {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},   {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":r:c:s:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            *addr = optarg;
            break;
        case 'c':
            co->path = optarg;
            break;
        case 's':
            if (cfg_add_set(co, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'j':
            *json = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
        }
    }
    return RUN_ON;
}

static int cmd_show(int argc, char **argv)
{
    struct cfg_opts co = {0};
    const char *addr = DEFAULT_REDIS;
    bool json = false;
    int flags = redis_read_flags(argc, argv, show_usage, &co, &addr, &json);
    if (flags != RUN_ON)
        return flags;
    if (argc - optind != 1)
        return usage_error(optind == argc ? "ACCOUNT is required" : "expected one ACCOUNT");
    const char *account = argv[optind];
    if (!account_valid(account))
        return usage_error("'%s' is not an account id (1 to 64 of A-Z a-z 0-9 . _ : -)", account);

    struct vigil_config *cfg = NULL;
    struct vigil_redis *r = NULL;
    struct show_data sd = {.account = account};
    struct jdoc d = {0};
    int rc = cfg_load(&co, &cfg);
    if (rc == EXIT_OK)
        rc = redis_open(addr, cfg, &r);
    if (rc == EXIT_OK)
        rc = show_fetch(r, vigil_config_str(cfg, "redis.prefix"), &sd);
    if (rc == EXIT_OK) {
        if (json)
            rc = show_print_json(&sd, &d);
        else
            show_print_text(&sd, &d);
    }
    jdoc_fini(&d);
    show_data_fini(&sd);
    vigil_redis_destroy(r);
    vigil_config_destroy(cfg);
    return rc;
}

/* ---- blocks -------------------------------------------------------------------------- */

static void blocks_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl blocks [--redis ADDR] [--config FILE] [--set KEY=VALUE]... [--json]\n"
            "\n"
            "Lists the accounts with active blocks (members of P blocks whose score, the time\n"
            "until which their newest block stands, is still ahead), one line per block,\n"
            "ordered by that time, then by action:\n"
            "  acc-1042  block_international  since 2026-11-23T04:01:02Z  ord-...  RULE\n"
            "\n"
            "  -r, --redis ADDR     Redis as HOST:PORT or redis://[USER:PASSWORD@]HOST:PORT[/DB]\n"
            "                       (default " DEFAULT_REDIS "); without a password in it,\n"
            "                       redis.password_file, then $VIGIL_REDIS_PASSWORD\n"
            "  -c, --config FILE    configuration file (redis.prefix, redis.timeout_ms,\n"
            "                       redis.password_file)\n"
            "  -s, --set KEY=VALUE  override one configuration key (repeatable)\n"
            "  -j, --json           print one JSON object on one line:\n"
            "                       {\"now_ms\", \"blocks\": [{\"account\", \"action\",\n"
            "                       \"order_id\", \"since_ms\", \"since\", \"until_ms\",\n"
            "                       \"detector\", \"rule\", \"reason\"}]}\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 listed (also when there are none); 1 Redis unreachable or refusing;\n"
            "2 bad flag.\n");
}

static void blocks_entry_json(struct vigil_jbuf *b, const char *account, const struct pair *p,
                              const struct order_info *oi, int64_t until_ms)
{
    vigil_jbuf_open(b, '{');
    vigil_jbuf_key(b, "account");
    vigil_jbuf_cstr(b, account);
    vigil_jbuf_key(b, "action");
    vigil_jbuf_str(b, p->k, p->kl);
    jbuf_str_or_null(b, "order_id", oi->id);
    jbuf_time(b, "since_ms", "since", oi->ts_ms);
    vigil_jbuf_key(b, "until_ms");
    vigil_jbuf_int(b, until_ms);
    jbuf_str_or_null(b, "detector", oi->detector);
    jbuf_str_or_null(b, "rule", oi->rule);
    jbuf_str_or_null(b, "reason", oi->reason);
    vigil_jbuf_close(b, '}');
}

static int blocks_list(struct vigil_redis *r, const char *prefix, bool json)
{
    char key[KEY_MAX], zkey[KEY_MAX], since[32];
    int64_t now = wall_ms();
    if (make_key(zkey, prefix, "blocks", NULL) != 0)
        return EXIT_FAIL;
    redisReply *z = redis_expect(
        r, vigil_redis_command(r, "ZRANGEBYSCORE %s %lld +inf WITHSCORES", zkey, (long long)now),
        REDIS_REPLY_ARRAY, "ZRANGEBYSCORE");
    if (!z)
        return EXIT_FAIL;
    int width = 8;
    for (size_t i = 0; i + 1 < z->elements; i += 2) {
        if (z->element[i]->type == REDIS_REPLY_STRING && (int)z->element[i]->len > width)
            width = (int)z->element[i]->len;
    }
    if (json)
        printf("{\"now_ms\":%lld,\"blocks\":[", (long long)now);

    struct jdoc d = {0};
    struct order_info oi;
    size_t shown = 0;
    int rc = EXIT_OK;
    char *jb = NULL;
    size_t jcap = 0;
    for (size_t i = 0; i + 1 < z->elements && rc == EXIT_OK; i += 2) {
        const redisReply *acc = z->element[i], *score = z->element[i + 1];
        if (acc->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING)
            continue;
        int64_t until = (int64_t)strtod(score->str, NULL);
        char account[VIGIL_ACCOUNT_MAX + 1];
        if (acc->len > VIGIL_ACCOUNT_MAX)
            continue; /* not an account vigild wrote */
        memcpy(account, acc->str, acc->len);
        account[acc->len] = '\0';
        if (make_key(key, prefix, "block:", account) != 0) {
            rc = EXIT_FAIL;
            break;
        }
        redisReply *h = redis_expect(r, vigil_redis_command(r, "HGETALL %s", key),
                                     REDIS_REPLY_ARRAY, "HGETALL");
        if (!h) {
            rc = EXIT_FAIL;
            break;
        }
        struct pair *p = NULL;
        size_t n = block_pairs(h, now, &p);
        if (n == (size_t)-1) {
            rc = fail("out of memory");
            n = 0;
        }
        /* An account whose hash expired or was emptied is a stale index entry: skipped; so
         * is an action whose own until has passed. */
        for (size_t k = 0; k < n; k++) {
            order_info_read(&oi, &d, p[k].v, p[k].vl, "order_id");
            if (json) {
                size_t need = 6 * (acc->len + p[k].kl + strlen(oi.reason) + strlen(oi.rule) +
                                   strlen(oi.id) + strlen(oi.detector)) +
                              1024;
                if (need > jcap) {
                    char *nb = realloc(jb, need);
                    if (!nb) {
                        rc = fail("out of memory");
                        break;
                    }
                    jb = nb;
                    jcap = need;
                }
                struct vigil_jbuf b;
                vigil_jbuf_init(&b, jb, jcap);
                blocks_entry_json(&b, account, &p[k], &oi, p[k].until > 0 ? p[k].until : until);
                if (shown > 0)
                    fputc(',', stdout);
                fwrite(b.buf, 1, b.len, stdout);
            } else {
                iso_time(oi.ts_ms, since, sizeof since);
                printf("%-*s  ", width, account);
                put_text(stdout, p[k].k, p[k].kl);
                printf("%*s  since %s  %s", (int)(p[k].kl < 19 ? 19 - p[k].kl : 0), "", since,
                       oi.id[0] ? oi.id : "-");
                if (oi.rule[0])
                    printf("  %s", oi.rule);
                if (p[k].until > 0) {
                    iso_time(p[k].until, since, sizeof since);
                    printf("  until %s", since);
                }
                printf("\n");
            }
            shown++;
        }
        free(p);
        freeReplyObject(h);
    }
    if (json && rc == EXIT_OK)
        printf("]}\n");
    else if (rc == EXIT_OK && shown == 0)
        fprintf(stderr, "%s: no active blocks\n", prog);
    free(jb);
    jdoc_fini(&d);
    freeReplyObject(z);
    return rc;
}

static int cmd_blocks(int argc, char **argv)
{
    struct cfg_opts co = {0};
    const char *addr = DEFAULT_REDIS;
    bool json = false;
    int flags = redis_read_flags(argc, argv, blocks_usage, &co, &addr, &json);
    if (flags != RUN_ON)
        return flags;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    struct vigil_config *cfg = NULL;
    struct vigil_redis *r = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc == EXIT_OK)
        rc = redis_open(addr, cfg, &r);
    if (rc == EXIT_OK)
        rc = blocks_list(r, vigil_config_str(cfg, "redis.prefix"), json);
    vigil_redis_destroy(r);
    vigil_config_destroy(cfg);
    return rc;
}

/* ---- lift ---------------------------------------------------------------------------- */

static void lift_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl lift --brokers LIST [--redis ADDR] [--config FILE]\n"
            "                     [--set KEY=VALUE]... [--reason TEXT] [--operator NAME]\n"
            "                     [--timeout-ms N]\n"
            "                     ACCOUNT ACTION\n"
            "\n"
            "Lifts one standing block: produces a `lift` order (key ACCOUNT) to the orders topic\n"
            "(kafka.orders_topic), waits for its delivery report, and only then removes ACTION\n"
            "from P block:ACCOUNT in Redis (and ACCOUNT from P blocks when no block is left).\n"
            "ACTION is one of suspend, block_international, block_premium, block_sms,\n"
            "withhold_payout. The lift order is an order (outputs.md) with \"action\":\"lift\",\n"
            "\"lifts\":ACTION, \"rule\":\"operator.lift\", \"severity\":\"critical\", the lifted\n"
            "order's detector, \"evidence\":{\"lifted_order_id\":...}, \"exempt\":[\"112\"] and\n"
            "\"operator\"; its order_id is derived from (ACCOUNT, lift, ACTION, lifted order_id),\n"
            "so lifting the same block twice yields the same order_id.\n"
            "\n"
            "  -b, --brokers LIST    Kafka bootstrap servers (required)\n"
            "  -r, --redis ADDR      Redis as HOST:PORT or redis://[USER:PASSWORD@]HOST:PORT[/DB]\n"
            "                        (default " DEFAULT_REDIS "); without a password in it,\n"
            "                        redis.password_file, then $VIGIL_REDIS_PASSWORD\n"
            "  -c, --config FILE     configuration file (redis.prefix, kafka.orders_topic,\n"
            "                        redis.password_file, librdkafka.*)\n"
            "  -s, --set KEY=VALUE   override one configuration key (repeatable)\n"
            "  -m, --reason TEXT     why, for the provisioning system and the NOC\n"
            "                        (default \"lifted by operator\")\n"
            "  -o, --operator NAME   who lifts it (default: $USER)\n"
            "  -t, --timeout-ms N    how long to wait for the delivery report (default %d)\n"
            "  -h, --help            this help\n"
            "\n"
            "Exit status: 0 lifted; 1 no such block, Redis or Kafka unreachable, or the lift\n"
            "order was not confirmed delivered (then Redis is left unchanged and running the\n"
            "same lift again is safe); 2 bad flag.\n",
            DEFAULT_LIFT_TIMEOUT_MS);
}

/* ord-<16 hex>: FNV-1a of (account, "lift", action, lifted order_id), NUL-separated. */
static void lift_order_id(char *out, size_t n, const char *account, const char *action,
                          const char *lifted_id)
{
    uint64_t h = VIGIL_FNV_OFFSET;
    h = vigil_fnv1a(h, account, strlen(account) + 1);
    h = vigil_fnv1a(h, "lift", 5);
    h = vigil_fnv1a(h, action, strlen(action) + 1);
    h = vigil_fnv1a(h, lifted_id, strlen(lifted_id) + 1);
    snprintf(out, n, "ord-%016llx", (unsigned long long)h);
}

struct lift_req {
    const char *account, *action, *reason, *operator_name;
    const char *lifted_id, *detector;
    int64_t now_ms;
};

static int lift_build(struct vigil_jbuf *b, const struct lift_req *q, char *order_id, size_t n)
{
    lift_order_id(order_id, n, q->account, q->action, q->lifted_id);
    vigil_jbuf_open(b, '{');
    vigil_jbuf_key(b, "v");
    vigil_jbuf_int(b, 1);
    vigil_jbuf_key(b, "order_id");
    vigil_jbuf_cstr(b, order_id);
    vigil_jbuf_key(b, "ts");
    vigil_jbuf_int(b, q->now_ms);
    /* No event tripped a lift: its event time is when the operator issued it. */
    vigil_jbuf_key(b, "event_ts");
    vigil_jbuf_int(b, q->now_ms);
    vigil_jbuf_key(b, "account");
    vigil_jbuf_cstr(b, q->account);
    vigil_jbuf_key(b, "action");
    vigil_jbuf_cstr(b, "lift");
    vigil_jbuf_key(b, "lifts");
    vigil_jbuf_cstr(b, q->action);
    vigil_jbuf_key(b, "detector");
    vigil_jbuf_cstr(b, q->detector);
    vigil_jbuf_key(b, "rule");
    vigil_jbuf_cstr(b, "operator.lift");
    vigil_jbuf_key(b, "severity");
    vigil_jbuf_cstr(b, "critical");
    vigil_jbuf_key(b, "reason");
    vigil_jbuf_cstr(b, q->reason);
    vigil_jbuf_key(b, "evidence");
    vigil_jbuf_open(b, '{');
    vigil_jbuf_key(b, "lifted_order_id");
    vigil_jbuf_cstr(b, q->lifted_id);
    vigil_jbuf_close(b, '}');
    vigil_jbuf_key(b, "operator");
    vigil_jbuf_cstr(b, q->operator_name);
    vigil_jbuf_key(b, "exempt");
    vigil_jbuf_open(b, '[');
    vigil_jbuf_cstr(b, "112");
    vigil_jbuf_close(b, ']');
    vigil_jbuf_close(b, '}');
    return b->overflow ? fail("the lift order does not fit in %zu bytes", b->cap) : EXIT_OK;
}

/* Removes the field and its "<action>:until" only if it still holds the order we lifted
 * (vigild may have replaced it meanwhile; a field already gone was cleared by a vigild that
 * read the lift first), and the key and the account's index entry only when no action is
 * left standing (one whose until has passed goes with the key): atomically, so a block
 * written by vigild in between is never orphaned. Returns {1, 0} removed, {1, >0} removed and no block left, or {-1, 0} when the field changed. */
static const char lift_script[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if cur and cur ~= ARGV[3] then return {-1, 0} end\n"
    "redis.call('HDEL', KEYS[1], ARGV[1], ARGV[1] .. ':until')\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local v = {}\n"
    "for i = 1, #h, 2 do v[h[i]] = h[i + 1] end\n"
    "for f, _ in pairs(v) do\n"
    "  local u = v[f .. ':until']\n"
    "  if not string.find(f, ':', 1, true) and (not u or tonumber(u) > now) then return {1, 0} end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return {1, redis.call('ZREM', KEYS[2], ARGV[2]) + 1}\n";

static int lift_run(const char *brokers, const char *addr, const struct vigil_config *cfg,
                    struct lift_req *q, int timeout_ms)
{
    const char *prefix = vigil_config_str(cfg, "redis.prefix");
    const char *topic = vigil_config_str(cfg, "kafka.orders_topic");
    char key[KEY_MAX], zkey[KEY_MAX], order_id[64], lifted_id[ID_MAX], detector[64];
    char json[8192], err[512];
    struct vigil_redis *r = NULL;
    struct vigil_kafka_out *ko = NULL;
    redisReply *cur = NULL, *res = NULL;
    struct jdoc d = {0};
    int rc;

    if (make_key(key, prefix, "block:", q->account) != 0 ||
        make_key(zkey, prefix, "blocks", NULL) != 0)
        return EXIT_FAIL;
    rc = redis_open(addr, cfg, &r);
    if (rc != EXIT_OK)
        return rc;
    cur = redis_expect(r, vigil_redis_command(r, "HGET %s %s", key, q->action), REDIS_REPLY_STRING,
                       "HGET");
    if (!cur) {
        rc = EXIT_FAIL;
        goto out;
    }
    if (cur->type == REDIS_REPLY_NIL) {
        redisReply *keys =
            redis_expect(r, vigil_redis_command(r, "HKEYS %s", key), REDIS_REPLY_ARRAY, "HKEYS");
        if (!keys) {
            rc = EXIT_FAIL;
            goto out;
        }
        char have[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < keys->elements && used < sizeof have - 1; i++) {
            if (memchr(keys->element[i]->str, ':', keys->element[i]->len))
                continue; /* an action's until, not an action */
            int w = snprintf(have + used, sizeof have - used, "%s%.*s", used ? ", " : "",
                             (int)keys->element[i]->len, keys->element[i]->str);
            used += w > 0 ? (size_t)w : 0;
        }
        freeReplyObject(keys);
        if (have[0])
            rc = fail("account %s has no %s block, nothing to lift (its blocks: %s)", q->account,
                      q->action, have);
        else
            rc = fail("account %s has no %s block, nothing to lift (it has no blocks)", q->account,
                      q->action);
        goto out;
    }

    /* The lifted order names the order_id and detector; a value that is not an order still
     * gets lifted (an operator must be able to clear it), with what we can tell. */
    struct order_info oi;
    order_info_read(&oi, &d, cur->str, cur->len, "order_id");
    snprintf(lifted_id, sizeof lifted_id, "%s", oi.id);
    snprintf(detector, sizeof detector, "%s", oi.detector[0] ? oi.detector : "unknown");
    if (!oi.parsed || !oi.id[0])
        fprintf(stderr,
                "%s: warning: the stored %s order of %s has no order_id; lifting it "
                "anyway\n",
                prog, q->action, q->account);
    q->lifted_id = lifted_id;
    q->detector = detector;
    q->now_ms = wall_ms();

    struct vigil_jbuf b;
    vigil_jbuf_init(&b, json, sizeof json);
    rc = lift_build(&b, q, order_id, sizeof order_id);
    if (rc != EXIT_OK)
        goto out;

    /* Kafka first: Redis changes only once the provisioning system will see the lift. */
    static const char *const extra[] = {"client.id", "vigilctl", "log_level", "2", NULL};
    ko = vigil_kafka_out_create(brokers, cfg, extra, err, sizeof err);
    if (!ko) {
        rc = usage_error("Kafka: %s", err);
        goto out;
    }
    int krc = vigil_kafka_out_produce(ko, topic, q->account, strlen(q->account), b.buf, b.len);
    if (krc == 0)
        krc = vigil_kafka_out_flush(ko, timeout_ms);
    if (krc != 0) {
        const char *why = krc == VIGIL_ERR_TIMEOUT ? "no delivery report" : "";
        if (krc != VIGIL_ERR_TIMEOUT && vigil_kafka_out_errstr(ko)[0])
            why = vigil_kafka_out_errstr(ko);
        rc = fail("lift order %s was not confirmed delivered to %s at %s within %d ms (%s); "
                  "Redis left unchanged; running the same lift again is safe (same order_id)",
                  order_id, topic, brokers, timeout_ms, why[0] ? why : vigil_status_str(krc));
        goto out;
    }

    res = redis_expect(r,
                       vigil_redis_command(r, "EVAL %s 2 %s %s %s %s %b", lift_script, key, zkey,
                                           q->action, q->account, cur->str, cur->len),
                       REDIS_REPLY_ARRAY, "EVAL");
    if (!res) {
        fprintf(stderr,
                "%s: the lift order %s was delivered; run the same lift again to clear "
                "Redis (same order_id)\n",
                prog, order_id);
        rc = EXIT_FAIL;
        goto out;
    }
    if (res->type != REDIS_REPLY_ARRAY || res->elements != 2 ||
        res->element[0]->type != REDIS_REPLY_INTEGER) {
        rc = fail("unexpected reply to EVAL from Redis at %s", vigil_redis_where(r));
        goto out;
    }
    if (res->element[0]->integer < 0) {
        rc = fail("lift order %s was delivered, but the %s block of %s changed meanwhile (a new "
                  "order?); Redis left as it is: check with 'vigilctl show %s'",
                  order_id, q->action, q->account, q->account);
        goto out;
    }
    printf("lifted %s of %s (order %s): lift order %s delivered to %s%s\n", q->action, q->account,
           lifted_id[0] ? lifted_id : "-", order_id, topic,
           res->element[1]->integer > 0 ? "; no blocks left" : "");
    rc = EXIT_OK;

out:
    if (res)
        freeReplyObject(res);
    if (cur)
        freeReplyObject(cur);
    jdoc_fini(&d);
    vigil_kafka_out_destroy(ko);
    vigil_redis_destroy(r);
    return rc;
}

static int cmd_lift(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"redis", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"reason", required_argument, NULL, 'm'},
        {"operator", required_argument, NULL, 'o'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    const char *brokers = NULL, *addr = DEFAULT_REDIS;
    struct lift_req q = {.reason = "lifted by operator"};
    long long timeout = DEFAULT_LIFT_TIMEOUT_MS;
    int c;
    while ((c = getopt_long(argc, argv, ":b:r:c:s:m:o:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'r':
            addr = optarg;
            break;
        case 'c':
            co.path = optarg;
            break;
        case 's':
            if (cfg_add_set(&co, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'm':
            q.reason = optarg;
            break;
        case 'o':
            q.operator_name = optarg;
            break;
        case 't':
            if (parse_int_flag("--timeout-ms", optarg, 100, 600000, &timeout) != 0)
                return EXIT_USAGE;
            break;
        case 'h':
            lift_usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
        }
    }
    if (!brokers || !*brokers)
        return usage_error("--brokers is required");
    if (argc - optind != 2)
        return usage_error("expected ACCOUNT ACTION");
    q.account = argv[optind];
    q.action = argv[optind + 1];
    if (!account_valid(q.account))
        return usage_error("'%s' is not an account id (1 to 64 of A-Z a-z 0-9 . _ : -)", q.account);
    if (!action_liftable(q.action))
        return usage_error("'%s' is not an action that can be lifted (suspend, "
                           "block_international, block_premium, block_sms, withhold_payout)",
                           q.action);
    if (!q.operator_name) {
        const char *u = getenv("USER");
        q.operator_name = u && *u ? u : "unknown";
    }
    if (!*q.reason || strlen(q.reason) > REASON_MAX ||
        !vigil_utf8_valid(q.reason, strlen(q.reason)))
        return usage_error("--reason takes 1 to %d bytes of UTF-8 text", REASON_MAX);
    if (strlen(q.operator_name) > OPERATOR_MAX ||
        !vigil_utf8_valid(q.operator_name, strlen(q.operator_name)))
        return usage_error("--operator takes at most %d bytes of UTF-8 text", OPERATOR_MAX);

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc == EXIT_OK)
        rc = lift_run(brokers, addr, cfg, &q, (int)timeout);
    vigil_config_destroy(cfg);
    return rc;
}

/* ---- replay -------------------------------------------------------------------------- */

static void replay_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl replay [--config FILE] [--set KEY=VALUE]... [--counters] FILE\n"
            "\n"
            "Backtest: runs a file of JSON-lines events (wire format v1; FILE or - for stdin)\n"
            "through every registered detector and the order/alert discipline, offline, and\n"
            "prints what vigild would have issued. Each event is validated as if its Kafka key\n"
            "were its own account. Events run in file order through one set of detector states;\n"
            "after each valid event the detectors tick with watermark = highest ts so far minus\n"
            "vigild.disorder_ms, and once more at the end with watermark = highest ts. The\n"
            "clock of the orders' and alerts' `ts` field is event time (the current event's\n"
            "ts), so the same input always gives byte-identical output. Flagged callers\n"
            "(premium.inbound_flagged_callers) are the numbers of accounts that this replay\n"
            "itself has ordered earlier in the input (suspend or block_*), flagged for\n"
            "redis.block_ttl_s of event time; flags of running vigild are not read.\n"
            "\n"
            "Output, one JSON object per line on stdout, in the order produced:\n"
            "  {\"kind\":\"order\",\"value\":ORDER}    ORDER exactly as vigild would produce it\n"
            "  {\"kind\":\"alert\",\"value\":ALERT}    ALERT exactly as vigild would produce it\n"
            "  {\"kind\":\"dead_letter\",\"line\":N,\"reason\":R,\"detail\":D}\n"
            "                                    an invalid line (N counts from 1; R as in\n"
            "                                    the dead-letter topic)\n"
            "  {\"kind\":\"counters\",\"account\":A,\"detector\":D,\"values\":{NAME:N,...}}\n"
            "                                    only with --counters\n"
            "Blank lines are skipped. A summary goes to stderr: lines, valid events, dead\n"
            "letters, orders, alerts.\n"
            "\n"
            "  -c, --config FILE    configuration file (detector thresholds, numbering, ...)\n"
            "  -s, --set KEY=VALUE  override one configuration key, e.g.\n"
            "                       --set toll_fraud.concurrent_high_risk=6 (repeatable)\n"
            "  -C, --counters       also print the counters the detectors publish\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 replayed (dead letters included); 1 unreadable input, bad config,\n"
            "a detector that cannot start, or output that cannot be written; 2 bad flag.\n"
            "\n");
    compare_usage(f);
}

/* What replay remembers of an account for the flagged set, as vigild's worker does. */
struct replay_acct {
    uint64_t numbers[VIGIL_FLAGGED_NUMBERS]; /* the latest numbers it sends from */
    int64_t flagged_until;                   /* event time; 0: not flagged */
};

struct replay {
    FILE *out;
    bool counters;
    int64_t now_ms; /* the emit layer's clock: event time */
    uint64_t orders, alerts;
    char *cbuf; /* for counters lines */
    size_t ccap;
    /* Flagged accounts' numbers: this replay's own orders, its clock event time. */
    struct vigil_flagged *flagged;
    struct vigil_acct_table *accts; /* struct replay_acct */
    int64_t block_ttl_ms;
};

/* An order that flags the account: its numbers are flagged while it stands. */
static void replay_flag(struct replay *rp, const char *account)
{
    struct replay_acct *a = vigil_acct_table_find(rp->accts, account);
    if (!a)
        return;
    a->flagged_until = rp->now_ms + rp->block_ttl_ms;
    for (int i = 0; i < VIGIL_FLAGGED_NUMBERS && a->numbers[i] != 0; i++) {
        if (vigil_flagged_add(rp->flagged, a->numbers[i], a->flagged_until) != 0)
            fprintf(stderr, "%s: warning: the flagged numbers set is full\n", prog);
    }
}

/* Before the detectors see ev: the set's clock, and the number ev shows its account sending
 * from (flagged at once while the account is). */
static int replay_note(struct replay *rp, const struct vigil_event *ev)
{
    vigil_flagged_advance(rp->flagged, ev->ts_ms);
    struct replay_acct *a = vigil_acct_table_get(rp->accts, ev->account, NULL);
    if (!a)
        return VIGIL_ERR_NOMEM;
    uint64_t h = vigil_flagged_note(a->numbers, ev);
    if (h != 0 && a->flagged_until > ev->ts_ms &&
        vigil_flagged_add(rp->flagged, h, a->flagged_until) != 0)
        fprintf(stderr, "%s: warning: the flagged numbers set is full\n", prog);
    return 0;
}

static int64_t replay_clock(void *ctx)
{
    return ((const struct replay *)ctx)->now_ms;
}

static int replay_counters(struct replay *rp, const struct vigil_out_record *rec)
{
    size_t need = 6 * (strlen(rec->account) + strlen(rec->detector ? rec->detector : "")) + 256;
    for (size_t i = 0; i < rec->n_counters; i++)
        need += 6 * strlen(rec->counters[i].name) + 32;
    if (need > rp->ccap) {
        char *nb = realloc(rp->cbuf, need);
        if (!nb)
            return VIGIL_ERR_NOMEM;
        rp->cbuf = nb;
        rp->ccap = need;
    }
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, rp->cbuf, rp->ccap);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "kind");
    vigil_jbuf_cstr(&b, "counters");
    vigil_jbuf_key(&b, "account");
    vigil_jbuf_cstr(&b, rec->account);
    vigil_jbuf_key(&b, "detector");
    vigil_jbuf_cstr(&b, rec->detector ? rec->detector : "");
    vigil_jbuf_key(&b, "values");
    vigil_jbuf_open(&b, '{');
    for (size_t i = 0; i < rec->n_counters; i++) {
        vigil_jbuf_key(&b, rec->counters[i].name);
        vigil_jbuf_int(&b, rec->counters[i].value);
    }
    vigil_jbuf_close(&b, '}');
    vigil_jbuf_close(&b, '}');
    if (b.overflow)
        return VIGIL_ERR_INVALID;
    fwrite(b.buf, 1, b.len, rp->out);
    fputc('\n', rp->out);
    return 0;
}

/* The emit layer's sink: everything becomes one line on stdout. */
static int replay_write(void *ctx, const struct vigil_out_record *rec)
{
    struct replay *rp = ctx;
    int rc = 0;
    switch (rec->kind) {
    case VIGIL_OUT_ORDER:
    case VIGIL_OUT_ALERT:
        fputs(rec->kind == VIGIL_OUT_ORDER ? "{\"kind\":\"order\",\"value\":"
                                           : "{\"kind\":\"alert\",\"value\":",
              rp->out);
        fwrite(rec->json, 1, rec->json_len, rp->out);
        fputs("}\n", rp->out);
        if (rec->kind == VIGIL_OUT_ORDER)
            rp->orders++;
        else
            rp->alerts++;
        if (rec->kind == VIGIL_OUT_ORDER && vigil_flagged_action(rec->action))
            replay_flag(rp, rec->account);
        break;
    case VIGIL_OUT_COUNTERS:
        if (rp->counters)
            rc = replay_counters(rp, rec);
        break;
    }
    if (rc == 0 && ferror(rp->out))
        rc = VIGIL_ERR_IO;
    return rc;
}

static void replay_dead_letter(FILE *out, uint64_t line, const struct vigil_parse_error *err)
{
    char buf[1024];
    struct vigil_jbuf b;
    vigil_jbuf_init(&b, buf, sizeof buf);
    vigil_jbuf_open(&b, '{');
    vigil_jbuf_key(&b, "kind");
    vigil_jbuf_cstr(&b, "dead_letter");
    vigil_jbuf_key(&b, "line");
    vigil_jbuf_int(&b, (int64_t)line);
    vigil_jbuf_key(&b, "reason");
    vigil_jbuf_cstr(&b, err->reason);
    vigil_jbuf_key(&b, "detail");
    vigil_jbuf_cstr(&b, err->detail);
    vigil_jbuf_close(&b, '}');
    fwrite(b.buf, 1, b.len, out);
    fputc('\n', out);
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_ws(s[i]))
            return false;
    }
    return true;
}

struct replay_run {
    const struct vigil_config *cfg;
    size_t n_det;
    const struct vigil_detector_ops **ops;
    void **states;
    struct vigil_emit *emit;
    struct vigil_dedupe *dedupe; /* as vigild: repeats of an event id count once */
    struct replay rp;
    uint64_t lines, valid, dead, repeats;
    bool failed;
    /* The input is one stream with one clock, as one partition is in vigild (stream_clock.h):
     * an event far ahead counts for its account but does not move it; timers that come due
     * inside a confirmed jump alert but do not order. */
    struct vigil_pclock clock;
    int64_t gap_ms, disorder_ms, gap_from, gap_to;
    int confirm;
    bool in_tick;
    uint64_t gaps;
};

/* The emit layer's hold, as vigild's worker_hold(): timers due inside a gap do not order. */
static const char *replay_hold(void *ctx, const struct vigil_finding *f)
{
    const struct replay_run *rr = ctx;
    if (rr->in_tick && rr->gap_to != 0 && f->event_ts_ms > rr->gap_from - rr->disorder_ms &&
        f->event_ts_ms <= rr->gap_to)
        return "gap";
    return NULL;
}

/* Runs every detector's on_tick; a failure there is reported and the replay goes on (like
 * vigild), unless the output itself failed. */
static void replay_tick(struct replay_run *rr, int64_t watermark)
{
    rr->in_tick = true;
    for (size_t i = 0; i < rr->n_det; i++) {
        int rc = rr->ops[i]->on_tick(rr->states[i], watermark, rr->emit);
        if (rc == VIGIL_ERR_IO)
            rr->failed = true;
        else if (rc != 0)
            fprintf(stderr, "%s: warning: detector %s: on_tick failed: %s\n", prog,
                    rr->ops[i]->name, vigil_status_str(rc));
    }
    rr->in_tick = false;
}

static int replay_stream(struct replay_run *rr, FILE *in, const char *name)
{
    struct vigil_parse_opts popts = {.default_cc = vigil_config_str(rr->cfg, "numbering.home_cc")};
    int64_t disorder = vigil_config_int(rr->cfg, "vigild.disorder_ms");
    int64_t max_ts = 0;
    struct jdoc d = {0};
    struct vigil_event ev;
    struct vigil_parse_error perr;
    char key[4 * VIGIL_ACCOUNT_MAX + 1];
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = EXIT_OK;

    while (!rr->failed && (got = getline(&line, &cap, in)) != -1) {
        size_t n = (size_t)got;
        rr->lines++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (blank_line(line, n))
            continue;
        /* The key is the line's own account, so a valid event never fails key_mismatch;
         * when there is none, the parser names the real problem (it checks the key last). */
        int klen = n <= VIGIL_EVENT_MAX_BYTES ? account_of(&d, line, n, key, sizeof key) : -1;
        popts.now_ms = wall_ms();
        if (vigil_event_parse(line, n, klen >= 0 ? key : NULL, klen >= 0 ? (size_t)klen : 0, &popts,
                              &ev, &perr) != 0) {
            rr->dead++;
            replay_dead_letter(rr->rp.out, rr->lines, &perr);
            continue;
        }
        /* As in vigild: the stream's clock moves the dedupe's generations, not the event's
         * own time. */
        if (rr->dedupe &&
            vigil_dedupe_seen_hash(rr->dedupe, vigil_dedupe_hash(ev.account, ev.id),
                                   rr->clock.ts > 0 ? rr->clock.ts : ev.ts_ms)) {
            rr->repeats++;
            continue;
        }
        rr->valid++;
        struct vigil_pclock_jump jump;
        if (vigil_pclock_note(&rr->clock, rr->gap_ms, rr->confirm, vigil_pclock_acct(ev.account),
                              ev.ts_ms, &jump)) {
            rr->gap_from = jump.from;
            rr->gap_to = jump.to;
            rr->gaps++;
        }
        max_ts = rr->clock.ts;
        rr->rp.now_ms = ev.ts_ms;
        if (replay_note(&rr->rp, &ev) != 0) {
            rc = fail("out of memory");
            break;
        }
        for (size_t i = 0; i < rr->n_det; i++) {
            int drc = rr->ops[i]->on_event(rr->states[i], &ev, rr->emit);
            if (drc == VIGIL_ERR_IO)
                rr->failed = true;
            else if (drc != 0)
                fprintf(stderr,
                        "%s: warning: detector %s failed on line %" PRIu64 " (event %s): "
                        "%s\n",
                        prog, rr->ops[i]->name, rr->lines, ev.id, vigil_status_str(drc));
        }
        replay_tick(rr, max_ts - disorder);
    }
    if (!rr->failed && ferror(in))
        rc = fail("cannot read %s: %s", name, strerror(errno));
    /* The end of the file closes every window up to the last event, as more traffic would. */
    if (rc == EXIT_OK && !rr->failed && rr->valid > 0) {
        rr->rp.now_ms = max_ts;
        replay_tick(rr, max_ts);
    }
    if (rc == EXIT_OK && (rr->failed || fflush(rr->rp.out) != 0 || ferror(rr->rp.out)))
        rc = fail("cannot write the output: %s", strerror(errno ? errno : EIO));
    free(line);
    jdoc_fini(&d);
    return rc;
}

int replay_file(const struct vigil_config *cfg, const char *path, bool counters, FILE *out)
{
    struct replay_run rr = {.cfg = cfg, .rp = {.out = out, .counters = counters}};
    struct vigil_numplan *np = NULL;
    struct vigil_profiles *profiles = NULL;
    FILE *in = NULL;
    char err[512];
    int rc = EXIT_FAIL;

    bool is_stdin = strcmp(path, "-") == 0;
    in = is_stdin ? stdin : fopen(path, "r");
    if (!in)
        return fail("cannot open %s: %s", path, strerror(errno));
    np = vigil_numplan_create(cfg, err, sizeof err);
    if (!np) {
        fail("%s", err);
        goto out;
    }
    rr.gap_ms = vigil_config_int(cfg, "vigild.gap_ms");
    rr.disorder_ms = vigil_config_int(cfg, "vigild.disorder_ms");
    rr.confirm = (int)vigil_config_int(cfg, "vigild.clock_confirm_accounts");
    rr.emit = vigil_emit_create(cfg, (struct vigil_sink){.ctx = &rr.rp, .write = replay_write},
                                replay_clock, &rr.rp);
    if (rr.emit)
        vigil_emit_set_exempt(rr.emit, np);
    rr.n_det = vigil_detector_count();
    rr.ops = calloc(rr.n_det ? rr.n_det : 1, sizeof *rr.ops);
    rr.states = calloc(rr.n_det ? rr.n_det : 1, sizeof *rr.states);
    if (!rr.emit || !rr.ops || !rr.states) {
        fail("out of memory");
        goto out;
    }
    vigil_emit_set_hold(rr.emit, replay_hold, &rr);
    profiles = vigil_profiles_create(cfg);
    rr.rp.flagged = vigil_flagged_create(VIGIL_FLAGGED_DEFAULT_MAX);
    rr.rp.accts = vigil_acct_table_create(sizeof(struct replay_acct), 1024);
    rr.rp.block_ttl_ms = vigil_config_int(cfg, "redis.block_ttl_s") * 1000;
    int64_t dedupe_ms = vigil_config_int(cfg, "vigild.dedupe_window_ms");
    if (dedupe_ms > 0)
        rr.dedupe = vigil_dedupe_create(dedupe_ms,
                                        (size_t)vigil_config_int(cfg, "vigild.dedupe_max_ids"));
    if (!profiles || !rr.rp.flagged || !rr.rp.accts || (dedupe_ms > 0 && !rr.dedupe)) {
        fail("out of memory");
        goto out;
    }
    struct vigil_detector_env env = {.cfg = cfg, .numplan = np, .profiles = profiles,
                                     .flagged = rr.rp.flagged};
    for (size_t i = 0; i < rr.n_det; i++) {
        rr.ops[i] = vigil_detector_get(i);
        int drc = rr.ops[i]->init(&rr.states[i], &env);
        if (drc != 0) {
            rr.ops[i] = NULL;
            fail("detector %s cannot start: %s", vigil_detector_get(i)->name,
                 vigil_status_str(drc));
            goto out;
        }
    }

    rc = replay_stream(&rr, in, is_stdin ? "stdin" : path);
    if (rc != EXIT_OK)
        goto out; /* the one error line says it all */
    struct vigil_emit_stats st;
    vigil_emit_get_stats(rr.emit, &st);
    fprintf(stderr,
            "%s: %" PRIu64 " lines, %" PRIu64 " valid events, %" PRIu64 " repeats dropped, %" PRIu64
            " dead letters, %" PRIu64 " orders, %" PRIu64 " alerts (suppressed: %" PRIu64
            " repeat orders, %" PRIu64 " alerts in cool-down; %" PRIu64
            " orders held by the allowlist); clock: %" PRIu64 " gaps, %" PRIu64
            " events ahead of it, %" PRIu64 " orders held in gaps\n",
            prog, rr.lines, rr.valid, rr.repeats, rr.dead, rr.rp.orders, rr.rp.alerts,
            (uint64_t)st.orders_suppressed, (uint64_t)st.alerts_suppressed,
            (uint64_t)st.allowlisted, rr.gaps, rr.clock.ahead, (uint64_t)st.held);
    if (st.reported > 0)
        fprintf(stderr,
                "%s: %" PRIu64 " orders not issued (report-only): alerts with would_order\n", prog,
                (uint64_t)st.reported);

out:
    for (size_t i = 0; rr.states && i < rr.n_det; i++) {
        if (rr.ops[i])
            rr.ops[i]->destroy(rr.states[i]);
    }
    free(rr.states);
    free(rr.ops);
    vigil_emit_destroy(rr.emit);
    vigil_dedupe_destroy(rr.dedupe);
    vigil_profiles_destroy(profiles);
    vigil_numplan_destroy(np);
    vigil_flagged_destroy(rr.rp.flagged);
    vigil_acct_table_destroy(rr.rp.accts);
    free(rr.rp.cbuf);
    if (!is_stdin)
        fclose(in);
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"counters", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    bool counters = false;
    int c;
    for (int i = 1; i < argc; i++) /* compare.c: two configurations over one input */
        if (strcmp(argv[i], "--compare") == 0)
            return cmd_replay_compare(argc, argv);
    while ((c = getopt_long(argc, argv, ":c:s:Ch", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            co.path = optarg;
            break;
        case 's':
            if (cfg_add_set(&co, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'C':
            counters = true;
            break;
        case 'h':
            replay_usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
        }
    }
    if (argc - optind != 1)
        return usage_error(optind == argc ? "FILE is required (- for stdin)" : "expected one FILE");

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc == EXIT_OK)
        rc = replay_file(cfg, argv[optind], counters, stdout);
    vigil_config_destroy(cfg);
    return rc;
}

/* ---- produce ------------------------------------------------------------------------- */

static void produce_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl produce --brokers LIST [--topic T] [--config FILE]\n"
            "                        [--set KEY=VALUE]... [--timeout-ms N] FILE\n"
            "\n"
            "Sends each non-empty line of FILE (or - for stdin) as one Kafka message, keyed by\n"
            "the line's top-level \"account\" string (no key when there is none), waits for every\n"
            "delivery report, and prints \"produced N messages to T\". Progress goes to stderr\n"
            "every %d lines.\n"
            "\n"
            "  -b, --brokers LIST   Kafka bootstrap servers (required)\n"
            "  -t, --topic T        topic (default: kafka.events_topic, vigil.events)\n"
            "  -c, --config FILE    configuration file (kafka.events_topic, librdkafka.*)\n"
            "  -s, --set KEY=VALUE  override one configuration key (repeatable)\n"
            "  -w, --timeout-ms N   how long to wait for the last delivery reports (default %d)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 every message delivered; 1 unreadable input or a message not\n"
            "confirmed delivered; 2 bad flag.\n",
            PROGRESS_EVERY, DEFAULT_PRODUCE_TIMEOUT_MS);
}

static int produce_stream(struct vigil_kafka_out *ko, FILE *in, const char *name, const char *topic,
                          const char *brokers, int timeout_ms)
{
    struct jdoc d = {0};
    char key[4 * VIGIL_ACCOUNT_MAX + 1];
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint64_t lineno = 0, sent = 0;
    int rc = EXIT_OK;

    while (rc == EXIT_OK && (got = getline(&line, &cap, in)) != -1) {
        size_t n = (size_t)got;
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n == 0)
            continue;
        int klen = n <= PRODUCE_LINE_MAX ? account_of(&d, line, n, key, sizeof key) : -1;
        for (;;) {
            int krc = vigil_kafka_out_produce(ko, topic, klen > 0 ? key : NULL,
                                              klen > 0 ? (size_t)klen : 0, line, n);
            if (krc == VIGIL_ERR_FULL) {
                /* librdkafka's queue is full: serve delivery reports and try again. */
                vigil_kafka_out_flush(ko, 100);
                continue;
            }
            if (krc != 0)
                rc = fail("line %" PRIu64 ": %s", lineno, vigil_kafka_out_errstr(ko));
            break;
        }
        if (rc != EXIT_OK)
            break;
        sent++;
        if (sent % PROGRESS_EVERY == 0) {
            fprintf(stderr, "%s: %" PRIu64 " messages queued\n", prog, sent);
            vigil_kafka_out_poll(ko);
        }
    }
    if (rc == EXIT_OK && ferror(in))
        rc = fail("cannot read %s: %s", name, strerror(errno));
    if (rc == EXIT_OK) {
        int krc = vigil_kafka_out_flush(ko, timeout_ms);
        if (krc != 0)
            rc = fail("not every one of the %" PRIu64 " messages was confirmed delivered to %s "
                      "at %s within %d ms (%s)",
                      sent, topic, brokers, timeout_ms,
                      krc == VIGIL_ERR_TIMEOUT ? "no delivery report" : vigil_kafka_out_errstr(ko));
    }
    if (rc == EXIT_OK)
        printf("produced %" PRIu64 " messages to %s\n", sent, topic);
    free(line);
    jdoc_fini(&d);
    return rc;
}

static int cmd_produce(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"timeout-ms", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    const char *brokers = NULL, *topic = NULL;
    long long timeout = DEFAULT_PRODUCE_TIMEOUT_MS;
    int c;
    while ((c = getopt_long(argc, argv, ":b:t:c:s:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'c':
            co.path = optarg;
            break;
        case 's':
            if (cfg_add_set(&co, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'w':
            if (parse_int_flag("--timeout-ms", optarg, 100, 3600000, &timeout) != 0)
                return EXIT_USAGE;
            break;
        case 'h':
            produce_usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
        }
    }
    if (!brokers || !*brokers)
        return usage_error("--brokers is required");
    if (topic && !*topic)
        return usage_error("--topic needs a name");
    if (argc - optind != 1)
        return usage_error(optind == argc ? "FILE is required (- for stdin)" : "expected one FILE");

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc != EXIT_OK)
        return rc;
    if (!topic)
        topic = vigil_config_str(cfg, "kafka.events_topic");
    const char *path = argv[optind];
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *in = is_stdin ? stdin : fopen(path, "r");
    if (!in) {
        rc = fail("cannot open %s: %s", path, strerror(errno));
        vigil_config_destroy(cfg);
        return rc;
    }
    char err[512];
    static const char *const extra[] = {"client.id", "vigilctl", "log_level", "2", NULL};
    struct vigil_kafka_out *ko = vigil_kafka_out_create(brokers, cfg, extra, err, sizeof err);
    if (!ko)
        rc = usage_error("Kafka: %s", err);
    else
        rc = produce_stream(ko, in, is_stdin ? "stdin" : path, topic, brokers, (int)timeout);
    vigil_kafka_out_destroy(ko);
    if (!is_stdin)
        fclose(in);
    vigil_config_destroy(cfg);
    return rc;
}

/* ---- tail ---------------------------------------------------------------------------- */

static void tail_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl tail --brokers LIST --topic T [--timeout-ms N] [--max N] [--keys]\n"
            "                     [--config FILE] [--set KEY=VALUE]...\n"
            "\n"
            "Prints the messages of topic T from the beginning of every partition, one value\n"
            "per line, as they arrive (partitions interleave), until --max messages have been\n"
            "printed or --timeout-ms passes without a new one. Joins no consumer group and\n"
            "commits nothing.\n"
            "\n"
            "  -b, --brokers LIST   Kafka bootstrap servers (required)\n"
            "  -t, --topic T        topic to read (required)\n"
            "  -w, --timeout-ms N   stop after N ms of silence (default %d); also how long\n"
            "                       to wait for the topic to exist\n"
            "  -n, --max N          stop after N messages (default 0: no limit)\n"
            "  -k, --keys           print KEY<TAB>VALUE (an empty KEY for none)\n"
            "  -c, --config FILE    configuration file (its librdkafka.* keys)\n"
            "  -s, --set KEY=VALUE  override one configuration key, e.g.\n"
            "                       --set librdkafka.security.protocol=SASL_SSL (repeatable)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 done; 1 Kafka unreachable or no such topic; 2 bad flag.\n"
            "\n",
            DEFAULT_TAIL_TIMEOUT_MS);
    tail_follow_usage(f);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Partitions of topic from the full metadata (which never auto-creates a topic): >0, 0 when
 * the topic is not there, or -1 (Kafka unreachable; *why filled). */
static int tail_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms,
                           rd_kafka_resp_err_t *why)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        *why = err;
        return -1;
    }
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0 &&
            md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return n;
}

static rd_kafka_t *tail_consumer(const char *brokers, const struct vigil_config *cfg, char *err,
                                  size_t errlen)
{
    char group[64];
    /* librdkafka 2.0 refuses assign() without a group.id; nothing joins or commits. */
    snprintf(group, sizeof group, "vigilctl-tail-%ld", (long)getpid());
    const char *const defaults[] = {"allow.auto.create.topics", "false", "client.id", "vigilctl",
                                    "log_level", "2", NULL};
    const char *const owned[] = {"bootstrap.servers", brokers, "group.id", group,
                                 "enable.auto.commit", "false", "enable.auto.offset.store",
                                 "false", NULL};
    rd_kafka_conf_t *conf = vigil_kafka_conf_create(cfg, defaults, owned, err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!rk)
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees conf only on success */
    return rk;
}

static int tail_run(rd_kafka_t *rk, const char *brokers, const char *topic, int timeout_ms,
                    long long max, bool keys)
{
    int64_t deadline = mono_ms() + timeout_ms;
    rd_kafka_resp_err_t why = RD_KAFKA_RESP_ERR_NO_ERROR;
    int np;
    /* The topic may be about to appear (a producer creates it): wait up to the timeout. */
    for (;;) {
        int64_t left = deadline - mono_ms();
        np = tail_partitions(rk, topic, (int)(left < 100 ? 100 : left > 2000 ? 2000 : left), &why);
        if (np > 0 || mono_ms() >= deadline)
            break;
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (np < 0)
        return fail("cannot reach Kafka at %s: %s", brokers, rd_kafka_err2str(why));
    if (np == 0)
        return fail("topic %s does not exist at %s", topic, brokers);

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return fail("cannot read %s: %s", topic, rd_kafka_err2str(err));

    long long shown = 0;
    int64_t last_news = mono_ms();
    while (max == 0 || shown < max) {
        if (mono_ms() - last_news >= timeout_ms)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (keys) {
                if (m->key)
                    fwrite(m->key, 1, m->key_len, stdout);
                fputc('\t', stdout);
            }
            if (m->payload)
                fwrite(m->payload, 1, m->len, stdout);
            fputc('\n', stdout);
            /* Line by line: a demo or a script watching a pipe sees each message at once. */
            fflush(stdout);
            shown++;
            last_news = mono_ms();
        } else if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                   m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            int rc = fail("cannot read %s: %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return rc;
        }
        /* Other errors (partition EOF, a broker reconnecting) are transient: keep waiting. */
        rd_kafka_message_destroy(m);
    }
    if (ferror(stdout))
        return fail("cannot write the output: %s", strerror(errno));
    return EXIT_OK;
}

static int cmd_tail(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"timeout-ms", required_argument, NULL, 'w'},
        {"max", required_argument, NULL, 'n'},
        {"keys", no_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    for (int i = 1; i < argc; i++) /* tail.c: orders, alerts and dead letters from the end */
        if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0)
            return cmd_tail_follow(argc, argv);
    struct cfg_opts co = {0};
    const char *brokers = NULL, *topic = NULL;
    long long timeout = DEFAULT_TAIL_TIMEOUT_MS, max = 0;
    bool keys = false;
    int c;
    while ((c = getopt_long(argc, argv, ":b:t:w:n:kc:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            co.path = optarg;
            break;
        case 's':
            if (cfg_add_set(&co, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'w':
            if (parse_int_flag("--timeout-ms", optarg, 1, 3600000, &timeout) != 0)
                return EXIT_USAGE;
            break;
        case 'n':
            if (parse_int_flag("--max", optarg, 0, LLONG_MAX, &max) != 0)
                return EXIT_USAGE;
            break;
        case 'k':
            keys = true;
            break;
        case 'h':
            tail_usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
        }
    }
    if (!brokers || !*brokers)
        return usage_error("--brokers is required");
    if (!topic || !*topic)
        return usage_error("--topic is required");
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc != EXIT_OK)
        return rc;
    char err[512];
    rd_kafka_t *rk = tail_consumer(brokers, cfg, err, sizeof err);
    vigil_config_destroy(cfg);
    if (!rk)
        return usage_error("Kafka: %s", err);
    rc = tail_run(rk, brokers, topic, (int)timeout, max, keys);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- main ---------------------------------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
    const char *summary;
};

static const struct command commands[] = {
    {"show", cmd_show, show_usage, "an account's blocks, counters and latest alerts (Redis)"},
    {"blocks", cmd_blocks, blocks_usage, "list the accounts with active blocks (Redis)"},
    {"lift", cmd_lift, lift_usage, "lift a block: emit a lift order, then clear it in Redis"},
    {"replay", cmd_replay, replay_usage,
     "run a JSON-lines event file through the detectors offline (backtest)"},
    {"produce", cmd_produce, produce_usage, "send a JSON-lines file to a Kafka topic"},
    {"tail", cmd_tail, tail_usage,
     "print a Kafka topic's messages; --follow: orders, alerts, dead letters as they come"},
    {"held", cmd_held, held_usage, "list the orders the order brake held (Redis)"},
    {"release", cmd_release, release_usage,
     "issue held orders: to the orders topic and their block keys, as vigild would have"},
    {"discard", cmd_discard, discard_usage, "drop held orders without issuing them"},
    {"export-prefixes", cmd_export, export_usage,
     "write the number table as a SIP proxy's prefix table (intl, premium, emergency)"},
    {"evidence", cmd_evidence, evidence_usage,
     "one JSON file on an order for the authorities: order, alerts, thresholds, events"},
    {"reveal", cmd_reveal, reveal_usage,
     "which of candidate numbers a pseudonymisation token (pn:...) stands for"},
};

static void main_usage(FILE *f)
{
    fprintf(f, "Usage: vigilctl COMMAND [FLAGS] [ARGS]\n"
               "\n"
               "The vigil operator tool.\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-15s  %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "`vigilctl COMMAND --help` (or `vigilctl help COMMAND`) describes each one;\n"
               "`vigilctl --version` prints the version and the commit it was built from.\n"
               "Exit status: 0 done; 1 a runtime failure (one line on stderr says why);\n"
               "2 bad flag or argument.\n");
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        main_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        vigil_print_version("vigilctl");
        return EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc == 2) {
            main_usage(stdout);
            return EXIT_OK;
        }
        const struct command *cmd = find_command(argv[2]);
        if (!cmd)
            return usage_error("unknown command '%s'", argv[2]);
        cmd->usage(stdout);
        return EXIT_OK;
    }
    const struct command *cmd = find_command(name);
    if (!cmd)
        return usage_error(name[0] == '-' ? "unknown flag '%s'" : "unknown command '%s'", name);
    snprintf(prog, sizeof prog, "vigilctl %s", cmd->name);
    vigil_log_setup(prog, VIGIL_LOG_WARN);
    opterr = 0;
    optind = 1;
    int rc = cmd->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = fail("cannot write the output: %s", strerror(errno));
    return rc;
}
