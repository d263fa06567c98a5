/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.h - vigild's life: start everything, consume until asked to stop, then drain,
 * flush, commit and leave the group.
 *
 *   consumer (this thread) -> worker rings -> workers -> out rings -> publisher -> Kafka, Redis
 *   Redis <prefix>flagged -> flagged sync thread -> flagged set -> the workers' detectors
 *
 * Threading: vigil_daemon_run() runs on the main thread; `stop` and `reload` may be set
 * from a signal handler. A reload is built on the main thread and handed to the workers
 * through one atomic pointer each (worker.h). */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct vigil_daemon_opts {
    const char *brokers;     /* Kafka bootstrap servers */
    const char *redis;       /* HOST:PORT or redis://HOST:PORT[/DB] */
    const char *group;       /* consumer group id */
    const char *config_path; /* NULL: defaults only */
    const char *const *sets; /* "key=value" overrides applied after the file */
    size_t n_sets;
    int workers;             /* 0: from config (vigild.workers, 0 = number of cores) */
    /* Set (from a SIGHUP handler) to re-read config_path with the same sets; the daemon
     * clears it. NULL: no reloads. */
    atomic_bool *reload;
    bool print_config;       /* print the effective configuration and exit */
    const char *http;        /* --http HOST:PORT over http.listen; NULL: the config's */
};

/* Returns the process exit status: 0 after a clean stop, 1 when vigild could not start (one
 * line on stderr says why), 3 when the shutdown could not make everything durable (the
 * uncommitted events will be processed again). */
int vigil_daemon_run(const struct vigil_daemon_opts *o, atomic_bool *stop);

/* --print-config: the effective configuration (file, then --set) on stdout, one "key = value"
 * line per key with secrets as ***, after comment lines naming the flags (the Redis address
 * with its password masked). Returns the exit status: 0, or 1 after one line on stderr when
 * the configuration or the Redis address is bad. Connects to nothing. */
int vigil_daemon_print_config(const struct vigil_daemon_opts *o);

#endif
