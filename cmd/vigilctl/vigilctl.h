/* SPDX-License-Identifier: Apache-2.0 */
/* vigilctl.h - what vigilctl's source files share: exit statuses, messages, configuration
 * and Redis helpers (defined in main.c), and the subcommands of held.c and export.c.
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

struct vigil_config;
struct vigil_redis;

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define MAX_SETS 256
#define KEY_MAX 512 /* a Redis key: prefix + kind + account + detector */
#define DEFAULT_REDIS "127.0.0.1:6379"

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

int64_t wall_ms(void);
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
int cfg_load(const struct cfg_opts *o, struct vigil_config **out);

/* Creates and connects (an exit status; *out on 0). */
int redis_open(const char *addr, const struct vigil_config *cfg, struct vigil_redis **out);
/* A reply of vigil_redis_command() of `type` or nil; NULL after one line on stderr. */
redisReply *redis_expect(struct vigil_redis *r, void *reply, int type, const char *what);
/* key[KEY_MAX] = prefix kind account; EXIT_FAIL (after a line) when it does not fit. */
int make_key(char *key, const char *prefix, const char *kind, const char *account);

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

/* main.c: replays an events file (JSON lines, "-" for stdin) through the detectors with cfg,
 * writing one JSON line per order, alert and dead letter to out. An exit status. */
int replay_file(const struct vigil_config *cfg, const char *path, bool counters, FILE *out);

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
