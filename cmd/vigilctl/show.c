/* SPDX-License-Identifier: Apache-2.0 */
/* show.c - `vigilctl show ACCOUNT`: an account's blocks, counters and latest alerts (Redis).
 *
 * Threading: single-threaded, like the whole program. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "jbuf.h"
#include "json.h"
#include "redis_sink.h"
#include "vigil/detector.h"
#include "vigilctl.h"

/* ---- show ---------------------------------------------------------------------------- */

void show_usage(FILE *f)
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
    if (make_key(key, prefix, VIGIL_RKEY_BLOCK, sd->account) != 0)
        return EXIT_FAIL;
    sd->blocks =
        redis_expect(r, vigil_redis_command(r, "HGETALL %s", key), REDIS_REPLY_ARRAY, "HGETALL");
    if (!sd->blocks)
        return EXIT_FAIL;
    if (make_key(key, prefix, VIGIL_RKEY_BLOCKS, NULL) != 0)
        return EXIT_FAIL;
    sd->until = redis_expect(r, vigil_redis_command(r, "ZSCORE %s %s", key, sd->account),
                             REDIS_REPLY_STRING, "ZSCORE");
    if (!sd->until)
        return EXIT_FAIL;
    if (make_key(key, prefix, VIGIL_RKEY_ALERTS, sd->account) != 0)
        return EXIT_FAIL;
    sd->alerts =
        redis_expect(r, vigil_redis_command(r, "HGETALL %s", key), REDIS_REPLY_ARRAY, "HGETALL");
    if (!sd->alerts)
        return EXIT_FAIL;
    if (make_key(key, prefix, VIGIL_RKEY_COUNTERS, sd->account) != 0)
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

static void show_print_text(const struct show_data *sd, struct vigil_json *d)
{
    char t1[32], t2[32];
    struct pair *p = NULL;
    size_t n;
    struct order_info oi;

    printf("account %s\n", sd->account);
    n = block_pairs(sd->blocks, vigil_wall_ms(), &p);
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
        printf("  ");
        print_block(&p[i], &oi, "(no order_id)");
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
static void jbuf_stored(struct vigil_jbuf *b, struct vigil_json *d, const char *name, const char *s,
                        size_t len)
{
    char raw_name[32];
    if (vigil_json_parse(d, s, len) == 0) {
        vigil_jbuf_key(b, name);
        jbuf_raw(b, s, len);
        return;
    }
    snprintf(raw_name, sizeof raw_name, "%s_raw", name);
    vigil_jbuf_key(b, raw_name);
    vigil_jbuf_str(b, s, len);
}

static void show_build_json(const struct show_data *sd, struct vigil_json *d, struct vigil_jbuf *b)
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
    n = block_pairs(sd->blocks, vigil_wall_ms(), &p);
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

static int show_print_json(const struct show_data *sd, struct vigil_json *d)
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

int cmd_show(int argc, char **argv)
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
    struct vigil_json d = {0};
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
    vigil_json_fini(&d);
    show_data_fini(&sd);
    vigil_redis_destroy(r);
    vigil_config_destroy(cfg);
    return rc;
}
