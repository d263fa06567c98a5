/* SPDX-License-Identifier: Apache-2.0 */
/* blocks.c - `vigilctl blocks`: the accounts with active blocks (Redis).
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

/* ---- blocks -------------------------------------------------------------------------- */

void blocks_usage(FILE *f)
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
    char key[KEY_MAX], zkey[KEY_MAX];
    int64_t now = vigil_wall_ms();
    if (make_key(zkey, prefix, VIGIL_RKEY_BLOCKS, NULL) != 0)
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

    struct vigil_json d = {0};
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
        if (make_key(key, prefix, VIGIL_RKEY_BLOCK, account) != 0) {
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
                printf("%-*s  ", width, account);
                print_block(&p[k], &oi, "-");
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
    vigil_json_fini(&d);
    freeReplyObject(z);
    return rc;
}

int cmd_blocks(int argc, char **argv)
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
