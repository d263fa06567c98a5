/* SPDX-License-Identifier: Apache-2.0 */
/* lift.c - `vigilctl lift`: a lift order to the orders topic, then the block cleared in Redis.
 *
 * Threading: single-threaded, like the whole program. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "jbuf.h"
#include "json.h"
#include "kafka_out.h"
#include "redis_sink.h"
#include "vigil/detector.h"
#include "vigil/status.h"
#include "vigilctl.h"

#define OPERATOR_MAX 128
#define DEFAULT_LIFT_TIMEOUT_MS 15000

/* ---- lift ---------------------------------------------------------------------------- */

void lift_usage(FILE *f)
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
 * written by vigild in between is never orphaned. Returns {1, 0} removed, {1, >0} removed and no
 * block left, or {-1, 0} when the field changed. */
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
    "  if not string.find(f, ':', 1, true) and (not u or tonumber(u) > now) then return {1, 0} "
    "end\n"
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
    struct vigil_json d = {0};
    int rc;

    if (make_key(key, prefix, VIGIL_RKEY_BLOCK, q->account) != 0 ||
        make_key(zkey, prefix, VIGIL_RKEY_BLOCKS, NULL) != 0)
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
    q->now_ms = vigil_wall_ms();

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
    vigil_json_fini(&d);
    vigil_kafka_out_destroy(ko);
    vigil_redis_destroy(r);
    return rc;
}

int cmd_lift(int argc, char **argv)
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
    int c, frc;
    while ((c = getopt_long(argc, argv, ":b:r:c:s:m:o:t:h", longopts, NULL)) != -1) {
        switch (c) {
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
        default:
            if ((frc = common_flag(c, argv, &co, &brokers, &addr, lift_usage)) != RUN_ON)
                return frc;
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
