/* SPDX-License-Identifier: Apache-2.0 */
/* harness.h - integration-test harness: real processes, real redis-server, real Kafka
 *
 * Integration tests (tests/integration/itest_*.c) drive vigil as black boxes: they start the programs
 * under test, a real redis-server and the embedded broker (vigil-broker) as child
 * processes on loopback, produce and consume real Kafka messages and read real Redis keys.
 * Nothing here mocks anything.
 *
 * Threading: call everything from the test's main thread. Children are started with
 * PR_SET_PDEATHSIG(SIGKILL), which fires when the *thread* that forked them exits.
 *
 * Cleanup: every child started through this file is recorded. harness_teardown() (use it
 * as a cmocka teardown) SIGKILLs and reaps whatever is still running, so a failed test
 * leaves nothing behind for the next one; an atexit handler does the same at process end
 * and removes the temp dir (kept when VIGIL_KEEP_TMP=1 is set, to read the logs). If the
 * test binary itself is killed, the children die with it (PDEATHSIG).
 *
 * Errors: functions print what went wrong on stderr (with the child's log tail where it
 * helps) and return -1 / NULL / false; tests assert on the return value.
 *
 * Ownership: the structs (harness_proc, harness_redis, harness_broker) are caller-owned and
 * need no zeroing before *_start(). Returned strings are owned by the harness unless the
 * comment says "caller frees".
 */
#ifndef VIGIL_TESTS_HARNESS_H
#define VIGIL_TESTS_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

/* ---- paths, time, ports ------------------------------------------------------------- */

/* "$VIGIL_BIN_DIR/prog", or "build/bin/prog" when VIGIL_BIN_DIR is unset. The string lives
 * until exit. */
const char *harness_bin(const char *prog);

/* The test process's own temp dir ($TMPDIR or /tmp, "vigil-itest-XXXXXX"), created on first
 * use and removed at exit unless VIGIL_KEEP_TMP=1. Every log file of every child is in it.
 * NULL if it cannot be created. */
const char *harness_tmpdir(void);

/* A fresh, empty, uniquely named directory inside harness_tmpdir() ("<prefix>.N"). Writes
 * the path into buf (PATH_MAX is enough); returns 0 or -1. */
int harness_mkdir(const char *prefix, char *buf, size_t n);

/* A TCP port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close), or -1.
 * Another process may take it before you bind it; callers that can retry should. */
int harness_free_port(void);

/* Monotonic milliseconds, and a sleep that survives signals. */
int64_t harness_now_ms(void);
void harness_sleep_ms(int ms);

/* Reads a whole file into a NUL-terminated buffer (caller frees); *len may be NULL. */
char *harness_read_file(const char *path, size_t *len);

/* A JSON-lines events file written in event-time order: lines are added in any order, each
 * at the time it should stand in the stream (usually its own ts; later for an event that
 * arrives late), and written sorted by that time, lines of equal time in the order added. */
struct harness_evline {
    int64_t at;
    size_t seq;
    char text[480];
};
struct harness_evfile {
    struct harness_evline *v;
    size_t n, cap;
};

/* Adds one line (printf-style) standing at time `at`; fails the test if it does not fit. */
void harness_evfile_add(struct harness_evfile *f, int64_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sorts the lines and writes them to path; fails the test on error. */
void harness_evfile_write(struct harness_evfile *f, const char *path);

void harness_evfile_free(struct harness_evfile *f);

/* ---- child processes ---------------------------------------------------------------- */

enum harness_out {
    HARNESS_OUT_PIPE = 0, /* stdout into a pipe: read it with harness_proc_read_line() */
    HARNESS_OUT_FILE,     /* stdout into <tmpdir>/<name>.<n>.stdout (proc->out_path) */
    HARNESS_OUT_NULL,     /* stdout to /dev/null */
};

struct harness_proc_opts {
    enum harness_out out;   /* default (0): HARNESS_OUT_PIPE */
    bool stdin_pipe;        /* give the child a stdin pipe (harness_proc_write()); else
                             * its stdin is /dev/null */
    const char *const *env; /* "NAME=VALUE" entries added to (or replacing in) our own
                             * environment, NULL-terminated; NULL for none */
    const char *name;       /* log file base name; default: basename of argv[0] */
};

struct harness_proc {
    pid_t pid;  /* 0 once reaped */
    int out_fd; /* read end of the stdout pipe, or -1 */
    int in_fd;  /* write end of the stdin pipe, or -1 */
    bool exited;
    int exit_status; /* valid when exited: see harness_proc_wait() */
    char name[64];
    char err_path[PATH_MAX]; /* the child's stderr, always a file */
    char out_path[PATH_MAX]; /* the child's stdout with HARNESS_OUT_FILE, else "" */
    char buf[4096];          /* stdout bytes read but not yet returned as lines */
    size_t buf_len;
};

/* Starts argv[0] (looked up in PATH if it has no '/') with argv. stderr goes to
 * p->err_path. opts may be NULL. Returns 0, or -1 if the program could not be started
 * (including exec failure, which is reported synchronously). */
int harness_proc_start(struct harness_proc *p, const char *const argv[],
                       const struct harness_proc_opts *opts);

/* Reads one line of the child's stdout pipe into buf without the newline, waiting up to
 * timeout_ms. Returns the line length, or -1 on timeout, EOF (the child closed stdout or
 * died) or when stdout is not a pipe. A longer line than n-1 is cut. */
int harness_proc_read_line(struct harness_proc *p, char *buf, size_t n, int timeout_ms);

/* Writes s to the child's stdin pipe. Returns 0 or -1. */
int harness_proc_write(struct harness_proc *p, const char *s);

/* Closes our end of the child's stdin (the child sees EOF). */
void harness_proc_close_stdin(struct harness_proc *p);

/* Sends sig. Returns 0, or -1 if the child has already been reaped. */
int harness_proc_signal(struct harness_proc *p, int sig);

/* Waits up to timeout_ms (0: just check) for the child to exit and reaps it. Returns true
 * if it has exited; then *exit_status (may be NULL) is its exit code, or 128+N if signal N
 * killed it (the shell's convention). */
bool harness_proc_wait(struct harness_proc *p, int timeout_ms, int *exit_status);

/* SIGKILL and reap. No-op if already reaped. */
void harness_proc_kill9(struct harness_proc *p);

/* SIGTERM, wait up to timeout_ms, SIGKILL if still running. Returns the exit status as in
 * harness_proc_wait(), or -1 if it had to be killed. Closes the pipes. */
int harness_proc_stop(struct harness_proc *p, int timeout_ms);

/* Whether the child is still running (reaps it if it has just exited). */
bool harness_proc_running(struct harness_proc *p);

/* Prints the last `lines` lines of the child's stderr log to our stderr, headed by name. */
void harness_proc_dump_stderr(const struct harness_proc *p, int lines);

/* The same for every child this test binary has started (running or not), oldest first:
 * the thing to call when an assertion fails. */
void harness_dump_logs(int lines);

/* Asserts inside a cmocka test; on failure first shows the tail of every child's stderr.
 * Include <cmocka.h> before using it. */
#define HARNESS_ASSERT(cond)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            harness_dump_logs(30);                                                                 \
            fail_msg("%s:%d: assertion failed: %s", __FILE__, __LINE__, #cond);                    \
        }                                                                                          \
    } while (0)

/* SIGKILLs and reaps every child still running. Signature of a cmocka teardown; returns 0.
 * Processes stopped earlier by the test are unaffected. */
int harness_teardown(void **state);

/* ---- Redis: a real redis-server on 127.0.0.1 ----------------------------------------- */

enum {
    HARNESS_REDIS_PERSIST = 1 << 0, /* --appendonly yes --appendfsync always: data survives
                                     * harness_redis_stop()/restart() and even kill -9 */
};

struct harness_redis {
    struct harness_proc proc;
    int port;
    unsigned flags;
    char addr[32];      /* "127.0.0.1:PORT" */
    char dir[PATH_MAX]; /* --dir: AOF, logs */
    redisContext *ctx;  /* the harness's own connection; reconnected as needed */
    const char *const *extra_args; /* see harness_redis_start_args() */
    const char *password;
};

/* Starts redis-server on a free loopback port in a fresh dir under harness_tmpdir() and
 * waits (10 s at most) until PING answers PONG. Returns r->addr ("127.0.0.1:PORT") or
 * NULL. */
const char *harness_redis_start(struct harness_redis *r, unsigned flags);

/* The same with extra redis-server arguments (NULL-terminated, at most 16, e.g.
 * {"--requirepass", "pw", NULL}; may be NULL) and the password the harness's own
 * connection AUTHs with (NULL: none). Both must live as long as r (restart uses them). */
const char *harness_redis_start_args(struct harness_redis *r, unsigned flags,
                                     const char *const extra_args[], const char *password);

/* Graceful stop (SIGTERM: Redis flushes its AOF). Returns 0 if it exited 0. Keeps port
 * and dir for harness_redis_restart(). */
int harness_redis_stop(struct harness_redis *r);

/* SIGKILL: a crash. Only HARNESS_REDIS_PERSIST data already fsynced survives. */
void harness_redis_kill(struct harness_redis *r);

/* Starts it again on the same port with the same dir (stopping it first if it is still
 * running) and waits for PONG. With HARNESS_REDIS_PERSIST the data is back. Returns 0/-1. */
int harness_redis_restart(struct harness_redis *r);

/* Stops redis (if running), closes the connection. The dir stays until the temp dir goes. */
void harness_redis_fini(struct harness_redis *r);

/* Runs one command (hiredis format: "SET %s %b", ...). Returns the reply (caller frees with
 * freeReplyObject()) or NULL if Redis could not be reached; a Redis error comes back as a
 * REDIS_REPLY_ERROR reply. */
redisReply *harness_redis_cmd(struct harness_redis *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* GET key as a string (caller frees), NULL if missing or on error. */
char *harness_redis_get_str(struct harness_redis *r, const char *key);

/* EXISTS key. */
bool harness_redis_exists(struct harness_redis *r, const char *key);

/* TTL key in seconds: -2 missing, -1 no TTL, -3 on error. */
long long harness_redis_ttl(struct harness_redis *r, const char *key);

/* An integer reply of a command (e.g. "HGET h f" of a number, "SCARD s", "DBSIZE"), with
 * nil counted as 0 and a numeric bulk string parsed. Returns 0 and sets *out, or -1. */
int harness_redis_int(struct harness_redis *r, long long *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Polls every 50 ms until key exists, up to timeout_ms. */
bool harness_redis_wait_exists(struct harness_redis *r, const char *key, int timeout_ms);

/* HEXISTS key field. */
bool harness_redis_field_exists(struct harness_redis *r, const char *key, const char *field);

/* Polls every 50 ms until the hash key has field, up to timeout_ms (counters: vigild
 * publishes an account's counters every vigild.publish_interval_ms). */
bool harness_redis_wait_field(struct harness_redis *r, const char *key, const char *field,
                              int timeout_ms);

/* ---- the embedded broker (vigil-broker) --------------------------------------------- */

struct harness_broker {
    struct harness_proc proc;
    char bootstrap[512]; /* "127.0.0.1:PORT,..." */
};

/* Runs vigil-broker --control with extra_args (NULL-terminated, may be NULL, e.g.
 * {"--brokers", "1", "--topic", "t:2", NULL}) and reads the bootstrap list from its first
 * stdout line (15 s at most). Returns b->bootstrap or NULL. */
const char *harness_broker_start(struct harness_broker *b, const char *const extra_args[]);

/* Sends one control command (see vigil-broker --help: "down 2", "up 2", "rtt 1 200",
 * "leader T P ID", "topic T:P", "topic-error T ERR", "errors APIKEY ERR CNT") and waits for
 * its reply. Returns 0 on "ok", -1 otherwise (the reply is printed). */
int harness_broker_cmd(struct harness_broker *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* SIGTERM and wait (10 s). Returns the exit status (0 expected), or -1 if it had to be
 * killed. */
int harness_broker_stop(struct harness_broker *b);

/* ---- Kafka clients ------------------------------------------------------------------ */

/* One message read back from a topic. key and value are NUL-terminated copies (the NUL is
 * not counted in the lengths); key is NULL for a message without a key. */
struct harness_msg {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;
};

/* Frees n messages and the array. NULL is a no-op. */
void harness_msgs_free(struct harness_msg *msgs, size_t n);

struct harness_producer;

/* An acks=all, idempotent producer with a 10 s delivery timeout. NULL on failure. */
struct harness_producer *harness_producer_create(const char *bootstrap);

/* Queues one message; partition -1 lets the key choose (librdkafka's default
 * partitioner, the same as vigil-sim and real producers use). key may be NULL. Returns 0
 * or -1 if it could not even be queued. */
int harness_producer_send(struct harness_producer *p, const char *topic, int32_t partition,
                          const char *key, const void *value, size_t len);

/* One event on vigil.events, keyed (and so partitioned) by its account; fails the running
 * test when it cannot be queued. */
void harness_send_event(struct harness_producer *p, const char *account, const char *json);

/* The outbound calls the live tests send: from +31201234567, event ids "<account>-s<i>" and
 * "<account>-e<i>", call id "<account>-c<i>"; device is left out when NULL. */
void harness_call_start(struct harness_producer *p, const char *account, int i, int64_t ts,
                        const char *to, const char *device);
void harness_call_end(struct harness_producer *p, const char *account, int i, int64_t ts,
                      const char *to, int duration);

/* Waits until every queued message is delivered or failed (up to timeout_ms). Returns 0
 * if all were delivered since the last flush, -1 otherwise (each failure is printed). */
int harness_producer_flush(struct harness_producer *p, int timeout_ms);

/* Flushes (10 s) and destroys. NULL is a no-op. Returns the flush result. */
int harness_producer_destroy(struct harness_producer *p);

/* What most integration tests run on: a redis-server (harness_redis_start's flags), a
 * vigil-broker (harness_broker_start's extra_args) and a producer to it. A cmocka setup's
 * result: 0, or -1 when one did not start. */
int harness_stack_start(struct harness_redis *r, unsigned redis_flags, struct harness_broker *b,
                        const char *const broker_args[], struct harness_producer **prod);

/* Undoes harness_stack_start after harness_teardown(state) (children killed): the producer
 * (*prod set to NULL), the broker and Redis. A cmocka teardown's result: 0. */
int harness_stack_stop(void **state, struct harness_redis *r, struct harness_broker *b,
                       struct harness_producer **prod);

/* One message, produced and flushed: harness_producer_create/send/destroy. */
int harness_produce(const char *bootstrap, const char *topic, const char *key, const void *value,
                    size_t len);

/* Reads topic from the beginning of every partition, without a consumer group (manual
 * assignment, nothing committed), sorted by (partition, offset). Stops when max_msgs
 * messages have arrived (max_msgs 0: no limit) or when timeout_ms passes without a new
 * message. *out gets the array (caller frees with harness_msgs_free(); NULL if none).
 * Returns the count, or -1 if the topic did not exist within timeout_ms.
 *
 * To check that exactly N messages were written, ask for N + 1 and expect N: the call
 * then waits timeout_ms of silence after the N-th. */
ssize_t harness_consume_all(const char *bootstrap, const char *topic, int timeout_ms,
                            size_t max_msgs, struct harness_msg **out);

/* Number of partitions of topic, or -1 if it does not exist (never auto-creates it). */
int harness_topic_partitions(const char *bootstrap, const char *topic);

/* The offsets that consumer group `group` has committed for partitions 0..n-1 of topic:
 * out[i] is the next offset the group would read, or -1001 (RD_KAFKA_OFFSET_INVALID) if
 * it has committed none. Does not join the group. Returns 0 or -1. */
int harness_committed_offsets(const char *bootstrap, const char *group, const char *topic,
                              int64_t out[], int n);

/* The committed offsets of group over every partition of topic, summed (a partition with none
 * counts 0): with offsets starting at 0, how many of the topic's events the group has done.
 * -1 if the topic does not exist, has more than 1024 partitions, or the fetch fails. */
int64_t harness_committed_sum(const char *bootstrap, const char *group, const char *topic);

/* ---- flat JSON checks (orders, alerts, dead letters) --------------------------------- */

/* A key path is a field name, or dotted names into nested objects ("evidence.calls").
 * Only objects are descended; these are lookups for test assertions, not a validator. */

/* strstr(json, needle) != NULL: for quick "contains" checks. */
bool harness_json_has(const char *json, const char *needle);

/* The string at path, unescaped (\uXXXX kept as is) into buf. Returns its length, or -1 if
 * the path is missing, not a string, or does not fit in n. */
int harness_json_str(const char *json, const char *path, char *buf, size_t n);

/* The integer at path. Returns 0 and sets *out, or -1 if missing or not an integer. */
int harness_json_int(const char *json, const char *path, long long *out);

/* Whether the array at path contains the string s (e.g. "exempt", "112"). */
bool harness_json_array_has(const char *json, const char *path, const char *s);

/* The raw text of the value at path (a string with its quotes, an object with its braces)
 * and its length; NULL if missing. Points into json. */
const char *harness_json_raw(const char *json, const char *path, size_t *len);

#endif
