/* SPDX-License-Identifier: Apache-2.0 */
/* held.c - vigilctl held, release and discard: the orders the order brake held.
 *
 * vigild's publisher keeps an order the brake held in <prefix>held (field order_id, value the
 * exact order JSON it would have produced). `release` produces that JSON to the orders topic,
 * waits for its delivery report, and only then, in one script, writes the block key as
 * vigild does for an issued order (<prefix>block:<account> fields action and action:until
 * + EXPIRE,
 * <prefix>blocks ZADD + EXPIRE) and removes the held entry, provided it still holds the same
 * JSON: a second release finds nothing held and issues nothing. `discard` removes entries.
 *
 * Threading: single-threaded; librdkafka runs its own threads behind its API.
 * Ownership: each subcommand creates and destroys its own clients and buffers. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "jbuf.h"
#include "json.h"
#include "kafka_out.h"
#include "redis_sink.h"
#include "vigil/config.h"
#include "vigil/event.h"
#include "vigil/status.h"
#include "vigilctl.h"

#define HELD_ID_MAX 160
#define DEFAULT_RELEASE_TIMEOUT_MS 15000

/* One held order as read from Redis; json points into the HGETALL reply. */
struct held_entry {
    char id[HELD_ID_MAX];
    const char *json;
    size_t len;
    bool parsed; /* json is an object with an account and an action */
    char account[VIGIL_ACCOUNT_MAX + 1];
    char action[32];
    char detector[64];
    char rule[128];
    char reason[1024];
    int64_t ts_ms; /* when vigild would have issued it; 0 when unknown */
    bool selected;
};

static int entry_cmp(const void *a, const void *b)
{
    const struct held_entry *x = a, *y = b;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void entry_read(struct held_entry *e, const redisReply *k, const redisReply *v)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%.*s", (int)k->len, k->str);
    e->json = v->str;
    e->len = v->len;
    e->parsed =
        vigil_json_field_str(v->str, v->len, "account", e->account, sizeof e->account) > 0 &&
        vigil_json_field_str(v->str, v->len, "action", e->action, sizeof e->action) > 0;
    if (vigil_json_field_str(v->str, v->len, "detector", e->detector, sizeof e->detector) < 0)
        e->detector[0] = '\0';
    if (vigil_json_field_str(v->str, v->len, "rule", e->rule, sizeof e->rule) < 0)
        e->rule[0] = '\0';
    if (vigil_json_field_str(v->str, v->len, "reason", e->reason, sizeof e->reason) < 0)
        e->reason[0] = '\0';
    if (vigil_json_field_int(v->str, v->len, "ts", &e->ts_ms) != 0)
        e->ts_ms = 0;
}

/* Every held order, oldest first. Returns an exit status; on EXIT_OK *rep holds the reply
 * the entries point into (caller frees both). */
static int held_load(struct vigil_redis *r, const char *held_key, redisReply **rep,
                     struct held_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    *rep = redis_expect(r, vigil_redis_command(r, "HGETALL %s", held_key), REDIS_REPLY_ARRAY,
                        "HGETALL");
    if (!*rep)
        return EXIT_FAIL;
    size_t pairs = (*rep)->type == REDIS_REPLY_ARRAY ? (*rep)->elements / 2 : 0;
    if (pairs == 0)
        return EXIT_OK;
    struct held_entry *e = calloc(pairs, sizeof *e);
    if (!e)
        return fail("out of memory");
    size_t m = 0;
    for (size_t i = 0; i < pairs; i++) {
        const redisReply *k = (*rep)->element[2 * i], *v = (*rep)->element[2 * i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        entry_read(&e[m++], k, v);
    }
    qsort(e, m, sizeof *e, entry_cmp);
    *out = e;
    *n = m;
    return EXIT_OK;
}

/* Marks the entries named on the command line (or all). Unknown ids are reported; returns
 * EXIT_FAIL when one was, after marking the others. */
static int held_select(struct held_entry *e, size_t n, char **ids, int n_ids, bool all)
{
    int rc = EXIT_OK;
    for (size_t i = 0; i < n; i++)
        e[i].selected = all;
    for (int k = 0; k < n_ids; k++) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            if (strcmp(e[i].id, ids[k]) == 0)
                e[i].selected = found = true;
        }
        if (!found)
            rc = fail("no held order %s: released or discarded already, or never held (see "
                      "vigilctl held)",
                      ids[k]);
    }
    return rc;
}

/* The flags every subcommand here takes. Returns -1 to go on from optind, or an exit status.
 */
struct held_opts {
    struct cfg_opts co;
    const char *addr, *brokers;
    bool json, all;
    long long timeout_ms;
};

static int held_flags(int argc, char **argv, void (*usage)(FILE *), bool with_kafka, bool with_all,
                      struct held_opts *o)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},
        {"brokers", required_argument, NULL, 'b'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->addr = DEFAULT_REDIS;
    o->timeout_ms = DEFAULT_RELEASE_TIMEOUT_MS;
    int c, frc;
    while ((c = getopt_long(argc, argv, ":r:c:s:jab:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (with_kafka || with_all)
                return usage_error("unknown flag '--json'");
            o->json = true;
            break;
        case 'a':
            if (!with_all)
                return usage_error("unknown flag '--all'");
            o->all = true;
            break;
        case 'b':
            if (!with_kafka)
                return usage_error("unknown flag '--brokers'");
            o->brokers = optarg;
            break;
        case 't':
            if (!with_kafka)
                return usage_error("unknown flag '--timeout-ms'");
            if (parse_int_flag("--timeout-ms", optarg, 100, 600000, &o->timeout_ms) != 0)
                return EXIT_USAGE;
            break;
        default:
            if ((frc = common_flag(c, argv, &o->co, NULL, &o->addr, usage)) != RUN_ON)
                return frc;
        }
    }
    if (with_all && o->all == (optind < argc))
        return usage_error(o->all ? "ORDER_ID and --all exclude each other"
                                  : "expected ORDER_ID... or --all");
    return -1;
}

/* ---- held ---------------------------------------------------------------------------- */

void held_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: vigilctl held [--redis ADDR] [--config FILE] [--set KEY=VALUE]... [--json]\n"
        "\n"
        "Lists the orders the order brake (orders.max_per_minute) held instead of issuing:\n"
        "the hash P held, field order_id, value the order as vigild would have produced\n"
        "it. One line per order, oldest first:\n"
        "  ord-...  acc-1042  block_international  at 2026-11-23T04:01:02Z  RULE\n"
        "Issue them with `vigilctl release`, drop them with `vigilctl discard`.\n"
        "\n"
        "  -r, --redis ADDR     Redis as HOST:PORT or redis://HOST:PORT[/DB]\n"
        "                       (default " DEFAULT_REDIS ")\n"
        "  -c, --config FILE    configuration file (for redis.prefix, redis.timeout_ms)\n"
        "  -s, --set KEY=VALUE  override one configuration key (repeatable)\n"
        "  -j, --json           print one JSON object on one line:\n"
        "                       {\"now_ms\", \"held\": [{\"order_id\", \"account\", \"action\",\n"
        "                       \"detector\", \"rule\", \"reason\", \"ts_ms\", \"ts\",\n"
        "                       \"order\": the held order}]}\n"
        "  -h, --help           this help\n"
        "\n"
        "Exit status: 0 listed (also when there are none); 1 Redis unreachable or refusing;\n"
        "2 bad flag.\n");
}

static int held_print_json(const struct held_entry *e, size_t n)
{
    printf("{\"now_ms\":%lld,\"held\":[", (long long)vigil_wall_ms());
    for (size_t i = 0; i < n; i++) {
        size_t cap = 6 * (strlen(e[i].id) + strlen(e[i].reason) + 256) + 1024;
        char *buf = malloc(cap), ts[32];
        if (!buf)
            return fail("out of memory");
        struct vigil_jbuf b;
        vigil_jbuf_init(&b, buf, cap);
        vigil_jbuf_open(&b, '{');
        vigil_jbuf_key(&b, "order_id");
        vigil_jbuf_cstr(&b, e[i].id);
        vigil_jbuf_key(&b, "account");
        vigil_jbuf_cstr(&b, e[i].account);
        vigil_jbuf_key(&b, "action");
        vigil_jbuf_cstr(&b, e[i].action);
        vigil_jbuf_key(&b, "detector");
        vigil_jbuf_cstr(&b, e[i].detector);
        vigil_jbuf_key(&b, "rule");
        vigil_jbuf_cstr(&b, e[i].rule);
        vigil_jbuf_key(&b, "reason");
        vigil_jbuf_cstr(&b, e[i].reason);
        vigil_jbuf_key(&b, "ts_ms");
        vigil_jbuf_int(&b, e[i].ts_ms);
        iso_time(e[i].ts_ms, ts, sizeof ts);
        vigil_jbuf_key(&b, "ts");
        vigil_jbuf_cstr(&b, ts);
        vigil_jbuf_key(&b, "order");
        bool overflow = b.overflow;
        if (i > 0)
            fputc(',', stdout);
        fwrite(buf, 1, b.len, stdout);
        free(buf);
        if (overflow)
            return fail("held order %s does not fit the output buffer", e[i].id);
        /* The stored order as it is when it is one (vigild wrote it), else as a string. */
        if (e[i].parsed) {
            fwrite(e[i].json, 1, e[i].len, stdout);
        } else {
            char *sb = malloc(6 * e[i].len + 16);
            if (!sb)
                return fail("out of memory");
            vigil_jbuf_init(&b, sb, 6 * e[i].len + 16);
            vigil_jbuf_str(&b, e[i].json, e[i].len);
            fwrite(sb, 1, b.len, stdout);
            free(sb);
        }
        fputc('}', stdout);
    }
    printf("]}\n");
    return EXIT_OK;
}

static void held_print_text(const struct held_entry *e, size_t n)
{
    int wid = 8, wacc = 8;
    for (size_t i = 0; i < n; i++) {
        if ((int)strlen(e[i].id) > wid)
            wid = (int)strlen(e[i].id);
        if ((int)strlen(e[i].account) > wacc)
            wacc = (int)strlen(e[i].account);
    }
    for (size_t i = 0; i < n; i++) {
        char ts[32];
        iso_time(e[i].ts_ms, ts, sizeof ts);
        printf("%-*s  %-*s  %-19s  at %s  ", wid, e[i].id, wacc, e[i].parsed ? e[i].account : "?",
               e[i].parsed ? e[i].action : "?", ts);
        put_text(stdout, e[i].rule[0] ? e[i].rule : "-", strlen(e[i].rule[0] ? e[i].rule : "-"));
        fputc('\n', stdout);
    }
    if (n == 0)
        fprintf(stderr, "%s: no held orders\n", prog);
    else
        fprintf(stderr,
                "%s: %zu held order%s: vigilctl release ORDER_ID|--all, or vigilctl "
                "discard ORDER_ID|--all\n",
                prog, n, n == 1 ? "" : "s");
}

int cmd_held(int argc, char **argv)
{
    struct held_opts o = {0};
    int rc = held_flags(argc, argv, held_usage, false, false, &o);
    if (rc != -1)
        return rc;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    struct vigil_config *cfg = NULL;
    struct vigil_redis *r = NULL;
    redisReply *rep = NULL;
    struct held_entry *e = NULL;
    size_t n = 0;
    char key[KEY_MAX];
    rc = cfg_load(&o.co, &cfg);
    if (rc == EXIT_OK)
        rc = make_key(key, vigil_config_str(cfg, "redis.prefix"), VIGIL_RKEY_HELD, NULL);
    if (rc == EXIT_OK)
        rc = redis_open(o.addr, cfg, &r);
    if (rc == EXIT_OK)
        rc = held_load(r, key, &rep, &e, &n);
    if (rc == EXIT_OK && o.json)
        rc = held_print_json(e, n);
    else if (rc == EXIT_OK)
        held_print_text(e, n);
    free(e);
    if (rep)
        freeReplyObject(rep);
    vigil_redis_destroy(r);
    vigil_config_destroy(cfg);
    return rc;
}

/* ---- release ------------------------------------------------------------------------- */

void release_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl release --brokers LIST [--redis ADDR] [--config FILE]\n"
            "                        [--set KEY=VALUE]... [--timeout-ms N]\n"
            "                        ORDER_ID... | --all\n"
            "\n"
            "Issues orders the order brake held, exactly as vigild would have: produces each\n"
            "held order's JSON unchanged (same order_id) to the orders topic (kafka.orders_topic,\n"
            "key = account), waits for the delivery reports, then writes its block key (field\n"
            "action of P block:ACCOUNT, TTL redis.block_ttl_s; ACCOUNT in P blocks) and removes\n"
            "it from P held, in one step. An order no longer held (released or discarded\n"
            "already) is not issued again.\n"
            "\n"
            "  -b, --brokers LIST    Kafka bootstrap servers (required)\n"
            "  -r, --redis ADDR      Redis as HOST:PORT or redis://HOST:PORT[/DB]\n"
            "                        (default " DEFAULT_REDIS ")\n"
            "  -c, --config FILE     configuration file (redis.prefix, redis.block_ttl_s,\n"
            "                        kafka.orders_topic)\n"
            "  -s, --set KEY=VALUE   override one configuration key (repeatable)\n"
            "  -a, --all             every held order, oldest first\n"
            "  -t, --timeout-ms N    how long to wait for the delivery reports (default %d)\n"
            "  -h, --help            this help\n"
            "\n"
            "Prints one line per released order. Exit status: 0 released (--all: also when\n"
            "none was held); 1 an ORDER_ID not held, Redis or Kafka unreachable, or a delivery\n"
            "not confirmed (then the orders stay held and running the same release again is\n"
            "safe: same order_ids); 2 bad flag.\n",
            DEFAULT_RELEASE_TIMEOUT_MS);
}

/* Writes the block as the publisher does for an issued order and removes the held entry,
 * only if it still holds this order. Returns 1, or 0 when it changed or vanished. */
static const char release_script[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end\n"
    "redis.call('HSET', KEYS[2], ARGV[3], ARGV[2], ARGV[3] .. ':until', ARGV[5])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
    "redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[3], ARGV[6])\n"
    "redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "return 1\n";

static int release_run(const struct held_opts *o, const struct vigil_config *cfg, char **ids,
                       int n_ids)
{
    const char *prefix = vigil_config_str(cfg, "redis.prefix");
    const char *topic = vigil_config_str(cfg, "kafka.orders_topic");
    int64_t ttl_s = vigil_config_int(cfg, "redis.block_ttl_s");
    char held_key[KEY_MAX], block_key[KEY_MAX], blocks_key[KEY_MAX], err[512];
    struct vigil_redis *r = NULL;
    struct vigil_kafka_out *ko = NULL;
    redisReply *rep = NULL;
    struct held_entry *e = NULL;
    size_t n = 0, sent = 0;
    if (make_key(held_key, prefix, VIGIL_RKEY_HELD, NULL) != 0 ||
        make_key(blocks_key, prefix, VIGIL_RKEY_BLOCKS, NULL) != 0)
        return EXIT_FAIL;
    int rc = redis_open(o->addr, cfg, &r);
    if (rc == EXIT_OK)
        rc = held_load(r, held_key, &rep, &e, &n);
    if (rc != EXIT_OK)
        goto out;
    rc = held_select(e, n, ids, n_ids, o->all);
    for (size_t i = 0; i < n; i++) {
        if (e[i].selected &&
            (!e[i].parsed || !account_valid(e[i].account) || !action_liftable(e[i].action))) {
            rc = fail("held order %s is not an order vigild wrote (no valid account and "
                      "action); left held: discard it",
                      e[i].id);
            e[i].selected = false;
        }
    }

    /* Kafka first, as vigild does: a block key never appears before its order. */
    static const char *const extra[] = {"client.id", "vigilctl", "log_level", "2", NULL};
    for (size_t i = 0; i < n; i++) {
        if (!e[i].selected)
            continue;
        if (!ko && !(ko = vigil_kafka_out_create(o->brokers, cfg, extra, err, sizeof err))) {
            rc = usage_error("--brokers: %s", err);
            goto out;
        }
        int krc;
        while ((krc = vigil_kafka_out_produce(ko, topic, e[i].account, strlen(e[i].account),
                                              e[i].json, e[i].len)) == VIGIL_ERR_FULL)
            vigil_kafka_out_flush(ko, 100);
        if (krc != 0) {
            rc = fail("cannot produce held order %s to %s: %s; nothing was released", e[i].id,
                      topic, vigil_status_str(krc));
            goto out;
        }
        sent++;
    }
    if (sent == 0) {
        if (o->all && rc == EXIT_OK)
            fprintf(stderr, "%s: no held orders\n", prog);
        goto out;
    }
    int krc = vigil_kafka_out_flush(ko, (int)o->timeout_ms);
    if (krc != 0) {
        const char *why =
            krc == VIGIL_ERR_TIMEOUT ? "no delivery report" : vigil_kafka_out_errstr(ko);
        rc = fail("held orders not confirmed delivered to %s at %s within %lld ms (%s); they "
                  "stay held; running the same release again is safe (same order_ids)",
                  topic, o->brokers, o->timeout_ms, why[0] ? why : vigil_status_str(krc));
        goto out;
    }

    int64_t until = vigil_wall_ms() + ttl_s * 1000;
    for (size_t i = 0; i < n; i++) {
        if (!e[i].selected)
            continue;
        if (make_key(block_key, prefix, VIGIL_RKEY_BLOCK, e[i].account) != 0) {
            rc = EXIT_FAIL;
            continue;
        }
        redisReply *res = redis_expect(
            r,
            vigil_redis_command(r, "EVAL %s 3 %s %s %s %s %b %s %s %lld %lld", release_script,
                                held_key, block_key, blocks_key, e[i].id, e[i].json, e[i].len,
                                e[i].action, e[i].account, (long long)until, (long long)ttl_s),
            REDIS_REPLY_INTEGER, "EVAL");
        if (!res) {
            fprintf(stderr,
                    "%s: held order %s was delivered to %s; run the same release again to "
                    "write its block key (same order_id)\n",
                    prog, e[i].id, topic);
            rc = EXIT_FAIL;
            continue;
        }
        if (res->type == REDIS_REPLY_INTEGER && res->integer == 1) {
            printf("released %s: %s of %s (rule %s) delivered to %s, block key written\n", e[i].id,
                   e[i].action, e[i].account, e[i].rule[0] ? e[i].rule : "-", topic);
        } else {
            rc = fail("held order %s was delivered to %s, but it was released or discarded "
                      "meanwhile by someone else; its block key was left as it is",
                      e[i].id, topic);
        }
        freeReplyObject(res);
    }

out:
    vigil_kafka_out_destroy(ko);
    free(e);
    if (rep)
        freeReplyObject(rep);
    vigil_redis_destroy(r);
    return rc;
}

int cmd_release(int argc, char **argv)
{
    struct held_opts o = {0};
    int rc = held_flags(argc, argv, release_usage, true, true, &o);
    if (rc != -1)
        return rc;
    if (!o.brokers || !*o.brokers)
        return usage_error("--brokers is required");
    struct vigil_config *cfg = NULL;
    rc = cfg_load(&o.co, &cfg);
    if (rc == EXIT_OK)
        rc = release_run(&o, cfg, argv + optind, argc - optind);
    vigil_config_destroy(cfg);
    return rc;
}

/* ---- discard ------------------------------------------------------------------------- */

void discard_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl discard [--redis ADDR] [--config FILE] [--set KEY=VALUE]...\n"
            "                        ORDER_ID... | --all\n"
            "\n"
            "Drops orders the order brake held, without issuing them: removes them from P held.\n"
            "Nothing goes to Kafka and no block key is written. The finding stays in the NOC's\n"
            "alerts (its critical alert said \"held\":\"brake\").\n"
            "\n"
            "  -r, --redis ADDR     Redis as HOST:PORT or redis://HOST:PORT[/DB]\n"
            "                       (default " DEFAULT_REDIS ")\n"
            "  -c, --config FILE    configuration file (for redis.prefix, redis.timeout_ms)\n"
            "  -s, --set KEY=VALUE  override one configuration key (repeatable)\n"
            "  -a, --all            every held order\n"
            "  -h, --help           this help\n"
            "\n"
            "Prints one line per discarded order. Exit status: 0 discarded (--all: also when\n"
            "none was held); 1 an ORDER_ID not held, or Redis unreachable; 2 bad flag.\n");
}

static int discard_run(const struct held_opts *o, const struct vigil_config *cfg, char **ids,
                       int n_ids)
{
    char held_key[KEY_MAX];
    struct vigil_redis *r = NULL;
    redisReply *rep = NULL;
    struct held_entry *e = NULL;
    size_t n = 0, done = 0;
    if (make_key(held_key, vigil_config_str(cfg, "redis.prefix"), VIGIL_RKEY_HELD, NULL) != 0)
        return EXIT_FAIL;
    int rc = redis_open(o->addr, cfg, &r);
    if (rc == EXIT_OK)
        rc = held_load(r, held_key, &rep, &e, &n);
    if (rc != EXIT_OK)
        goto out;
    rc = held_select(e, n, ids, n_ids, o->all);
    for (size_t i = 0; i < n; i++) {
        if (!e[i].selected)
            continue;
        redisReply *res = redis_expect(r, vigil_redis_command(r, "HDEL %s %s", held_key, e[i].id),
                                       REDIS_REPLY_INTEGER, "HDEL");
        if (!res) {
            rc = EXIT_FAIL;
            break;
        }
        if (res->type == REDIS_REPLY_INTEGER && res->integer == 1) {
            printf("discarded %s: %s of %s (rule %s), not issued\n", e[i].id,
                   e[i].parsed ? e[i].action : "?", e[i].parsed ? e[i].account : "?",
                   e[i].rule[0] ? e[i].rule : "-");
            done++;
        } else {
            rc = fail("held order %s was released or discarded meanwhile by someone else", e[i].id);
        }
        freeReplyObject(res);
    }
    if (o->all && done == 0 && rc == EXIT_OK)
        fprintf(stderr, "%s: no held orders\n", prog);
out:
    free(e);
    if (rep)
        freeReplyObject(rep);
    vigil_redis_destroy(r);
    return rc;
}

int cmd_discard(int argc, char **argv)
{
    struct held_opts o = {0};
    int rc = held_flags(argc, argv, discard_usage, false, true, &o);
    if (rc != -1)
        return rc;
    struct vigil_config *cfg = NULL;
    rc = cfg_load(&o.co, &cfg);
    if (rc == EXIT_OK)
        rc = discard_run(&o, cfg, argv + optind, argc - optind);
    vigil_config_destroy(cfg);
    return rc;
}
