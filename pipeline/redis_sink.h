/* SPDX-License-Identifier: Apache-2.0 */
/* redis_sink.h - a hiredis connection that sends commands in pipelined batches.
 *
 * Commands are queued with vigil_redis_add*() and sent by vigil_redis_flush(), which writes
 * the whole batch and reads every reply. A batch is kept until it succeeds, so every command
 * queued here must be idempotent (HSET, EXPIRE, ZADD, SET): after a failure the connection is
 * rebuilt, not reused, and the same batch is sent again.
 *
 * Threading: one thread (the sink thread, or a tool's main thread) per object.
 * Ownership: the object owns its connection and batch. */
#ifndef VIGIL_REDIS_SINK_H
#define VIGIL_REDIS_SINK_H

#include <stddef.h>
#include <stdint.h>

struct vigil_redis;

/* `where` is "HOST:PORT" or "redis://[USER:PASSWORD@]HOST:PORT[/DB]" (user and password
 * percent-decoded). The password is the URL's; without one, the first line of
 * `password_file` when that is set (NULL or "": none), else $VIGIL_REDIS_PASSWORD when set.
 * With a password every connection sends AUTH (with the user, for a Redis ACL user; the
 * password alone for requirepass), then SELECT DB. NULL on a malformed address, an
 * unreadable or empty password file, a user without a password, or no memory (one line in
 * err, which never holds the password). Does not connect. */
struct vigil_redis *vigil_redis_create(const char *where, const char *password_file,
                                       int timeout_ms, char *err, size_t errlen);
void vigil_redis_destroy(struct vigil_redis *r); /* accepts NULL */

/* Connects (or reconnects), AUTHs, and SELECTs the DB or PINGs. 0, or VIGIL_ERR_IO with
 * vigil_redis_errstr() (a refused password is named as such, without the password). */
int vigil_redis_connect(struct vigil_redis *r);

/* Queues one command given as argv (binary-safe). 0 or VIGIL_ERR_NOMEM. */
int vigil_redis_add_argv(struct vigil_redis *r, int argc, const char **argv, const size_t *lens);
/* Queues one command in hiredis' printf-like format ("HSET %s %s %b"). */
int vigil_redis_add(struct vigil_redis *r, const char *fmt, ...);

size_t vigil_redis_pending(const struct vigil_redis *r);

/* The decimal digits of v at out (room for 20 bytes; no NUL), without printf: commands on
 * the hot paths are built as argv. Returns the length. Any thread. */
size_t vigil_redis_fmt_int(char *out, int64_t v);

/* Sends the queued commands, one round trip, and reads every reply. 0 when all succeeded
 * (the batch is then empty); VIGIL_ERR_IO when the connection failed (batch kept; next
 * flush reconnects); VIGIL_ERR_INVALID when Redis answered an error reply (batch dropped:
 * resending cannot fix a wrong command; logged by the caller from errstr). */
int vigil_redis_flush(struct vigil_redis *r);

/* While a flush waits for Redis' replies, call hook(arg) between looks at the socket
 * (NULL: none, the flush blocks in its reads): the caller's thread does other work instead
 * of waiting in line. The hook must not queue commands on r nor flush it. The connection's
 * timeout still bounds the wait for each reply. */
void vigil_redis_set_wait_hook(struct vigil_redis *r, void (*hook)(void *arg), void *arg);

/* Runs one command now, outside the batch, and returns hiredis' reply (caller frees with
 * freeReplyObject), or NULL on a connection error. For tools (vigilctl). */
void *vigil_redis_command(struct vigil_redis *r, const char *fmt, ...);

const char *vigil_redis_errstr(const struct vigil_redis *r);
/* For messages: "127.0.0.1:6379", or with a password or DB "redis://alice:***@host:6379/2"
 * (the password is never shown). */
const char *vigil_redis_where(const struct vigil_redis *r);

/* Round trips and commands sent so far (for benchmarks and logs). */
void vigil_redis_get_stats(const struct vigil_redis *r, unsigned long long *round_trips,
                           unsigned long long *commands);

#endif
