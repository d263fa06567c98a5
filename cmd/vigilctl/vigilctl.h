/* SPDX-License-Identifier: Apache-2.0 */
/* vigilctl.h - what vigilctl's source files share: exit statuses, messages, configuration
 * and Redis helpers, JSON helpers (defined in common.c), and every subcommand's entry point.
 *
 * Threading: single-threaded, like the whole program.
 * Ownership: as each function says; nothing here keeps a pointer it is given. */
#ifndef VIGIL_VIGILCTL_H
#define VIGIL_VIGILCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "clock.h" /* vigil_wall_ms */
#include "redis_keys.h"

struct vigil_config;
struct vigil_credit;
struct vigil_jbuf;
struct vigil_json;
struct vigil_redis;

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define MAX_SETS 256
#define KEY_MAX 512 /* a Redis key: prefix + kind + account + detector */
#define DEFAULT_REDIS "127.0.0.1:6379"
#define ID_MAX 160      /* order_id, alert_id as read back from Redis */
#define REASON_MAX 1024 /* --reason and reasons read back from orders */

/* "vigilctl show": the name every message of the running subcommand starts with. */
extern char prog[64];

/* One line on stderr, "<prog>: error: ...": EXIT_FAIL, or EXIT_USAGE (with a --help hint). */
__attribute__((format(printf, 1, 2))) int fail(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);
/* After getopt_long returned ':' or '?': one line naming the flag; EXIT_USAGE. */
int bad_flag(int c, char **argv);
int parse_int_flag(const char *flag, const char *s, long long min, long long max, long long *out);
/* Bytes for a terminal: control characters become '?'. */
void put_text(FILE *f, const char *s, size_t len);

void iso_time(int64_t ms, char *buf, size_t n); /* "2026-11-23T04:01:02Z", or "-" */

bool account_valid(const char *s);
bool action_liftable(const char *s); /* an action an order can stand for */

/* --config and --set, applied over the defaults by cfg_load (an exit status; *out on 0). */
struct cfg_opts {
    const char *path;
    const char *sets[MAX_SETS];
    size_t n_sets;
};
int cfg_add_set(struct cfg_opts *o, const char *kv);
/* The end of a subcommand's getopt switch, for the flags they share: --config (c) and --set
 * (s) into co, --brokers (b) and --redis (r) into *brokers and *redis when the subcommand
 * takes them (NULL: it does not), --help (h: usage on stdout), and a bad flag. RUN_ON when c
 * was taken; else the exit status to return (EXIT_OK after --help, EXIT_USAGE). */
int common_flag(int c, char **argv, struct cfg_opts *co, const char **brokers, const char **redis,
                void (*usage)(FILE *));
int cfg_load(const struct cfg_opts *o, struct vigil_config **out);

/* A Kafka consumer that only reads (assign, no group membership, no commits), its group.id
 * "vigilctl-<what>-<pid>", reporting the end of each partition when partition_eof; NULL
 * with err filled. */
rd_kafka_t *reader_consumer(const char *brokers, const struct vigil_config *cfg, const char *what,
                            bool partition_eof, char *err, size_t errlen);
/* Creates and connects (an exit status; *out on 0). */
int redis_open(const char *addr, const struct vigil_config *cfg, struct vigil_redis **out);
/* A reply of vigil_redis_command() of `type` or nil; NULL after one line on stderr. */
redisReply *redis_expect(struct vigil_redis *r, void *reply, int type, const char *what);
/* key[KEY_MAX]: the key of that kind (redis_keys.h; counters: cnt:<account>, without a
 * detector); EXIT_FAIL (after a line) when it does not fit. */
int make_key(char *key, const char *prefix, enum vigil_rkey kind, const char *account);

/* ---- common.c: reading and writing JSON, Redis hashes ---- */

bool is_ws(char c); /* JSON whitespace */
/* The string value of a line's top-level "account" field, decoded, into key[n] (d parses the
 * line). Its length, or -1 when the line is not a JSON object or has no such string. */
int account_of(struct vigil_json *d, const char *line, size_t len, char *key, size_t n);

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

void order_info_read(struct order_info *oi, struct vigil_json *d, const char *json, size_t len,
                     const char *id_field);

/* jbuf.h calls vigilctl's JSON output needs beyond its own: a value that is JSON text
 * already; a key that is not NUL-terminated; a string or null; a time as ms and ISO fields;
 * a Redis value as a number when it is a whole integer. */
void jbuf_raw(struct vigil_jbuf *b, const char *s, size_t len);
void jbuf_key_n(struct vigil_jbuf *b, const char *name, size_t len);
void jbuf_str_or_null(struct vigil_jbuf *b, const char *key, const char *s);
void jbuf_time(struct vigil_jbuf *b, const char *ms_key, const char *iso_key, int64_t ms);
void jbuf_redis_value(struct vigil_jbuf *b, const char *s, size_t len);

/* s with the glob characters of SCAN MATCH escaped, into out[n]; -1 when it does not fit. */
int glob_escape(const char *s, char *out, size_t n);
/* One field/value of a hash reply, pointing into the reply. */
struct pair {
    const char *k, *v;
    size_t kl, vl;
    int64_t until; /* block_pairs: the action's "<action>:until" (wall ms), 0 if it has none */
};

/* The pairs of an HGETALL reply, sorted by field; the standing blocks of a block hash (see
 * common.c). The count, or (size_t)-1 on allocation failure; *out freed by the caller. */
size_t hash_pairs(const redisReply *rep, struct pair **out);
size_t block_pairs(const redisReply *rep, int64_t now, struct pair **out);
int str_cmp(const void *a, const void *b); /* qsort of char * */
/* One standing block on stdout (show, blocks): action, since, order id (no_id when it has
 * none), rule and until, then a newline. */
void print_block(const struct pair *p, const struct order_info *oi, const char *no_id);

/* The flags `show` and `blocks` share: --redis, --config, --set, --json, --help. Returns
 * RUN_ON to go on with the arguments from optind, or the exit status to return. */
#define RUN_ON (-1)
int redis_read_flags(int argc, char **argv, void (*usage)(FILE *), struct cfg_opts *co,
                     const char **addr, bool *json);

/* ---- the subcommands, each in its own file ---- */

void show_usage(FILE *f); /* show.c */
int cmd_show(int argc, char **argv);
void blocks_usage(FILE *f); /* blocks.c */
int cmd_blocks(int argc, char **argv);
void lift_usage(FILE *f); /* lift.c */
int cmd_lift(int argc, char **argv);
void replay_usage(FILE *f); /* replay.c */
int cmd_replay(int argc, char **argv);
void produce_usage(FILE *f); /* produce.c */
int cmd_produce(int argc, char **argv);
void tail_usage(FILE *f); /* tail.c */
int cmd_tail(int argc, char **argv);

/* held.c: orders held by the order brake. */
void held_usage(FILE *f);
int cmd_held(int argc, char **argv);
void release_usage(FILE *f);
int cmd_release(int argc, char **argv);
void discard_usage(FILE *f);
int cmd_discard(int argc, char **argv);

/* export.c: the number table as a SIP proxy's prefix table. */
void export_usage(FILE *f);
int cmd_export(int argc, char **argv);

/* reveal.c: which candidate number a pseudonymisation token stands for. */
void reveal_usage(FILE *f);
int cmd_reveal(int argc, char **argv);

/* replay.c: replays an events file (JSON lines, "-" for stdin) through the detectors with cfg
 * and the credit limits in credit (NULL: no account has one), writing one JSON line per order,
 * alert and dead letter to out. An exit status. */
int replay_file(const struct vigil_config *cfg, const struct vigil_credit *credit,
                const char *path, bool counters, FILE *out);

/* credit_file.c: the credit limits of `replay --credit FILE` (ACCOUNT LIMIT_EUR
 * PERIOD_START_MS per line) into a new table in *out. An exit status (one error line
 * printed). */
int credit_file_load(const char *path, struct vigil_credit **out);

/* tail.c: `vigilctl tail --follow`: orders, alerts and dead letters as they come. */
void tail_follow_usage(FILE *f);
int cmd_tail_follow(int argc, char **argv);

/* compare.c: `vigilctl replay --compare`: one input through two configurations. */
void compare_usage(FILE *f);
int cmd_replay_compare(int argc, char **argv);

/* evidence.c: `vigilctl evidence ORDER_ID`: the evidence file on one order. */
void evidence_usage(FILE *f);
int cmd_evidence(int argc, char **argv);

#endif
