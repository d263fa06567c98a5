/* SPDX-License-Identifier: Apache-2.0 */
/* log.h - one-line log messages on stderr: "2026-11-23T04:01:02Z vigild warn: text".
 *
 * Threading: any thread; each message is written with one write(2) so lines never mix. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

enum vigil_log_level {
    VIGIL_LOG_ERROR = 0,
    VIGIL_LOG_WARN = 1,
    VIGIL_LOG_INFO = 2,
    VIGIL_LOG_DEBUG = 3,
};

/* Program name and the most verbose level printed (default "vigil", INFO). Call once at
 * start-up, before threads exist. */
void vigil_log_setup(const char *prog, enum vigil_log_level max_level);

__attribute__((format(printf, 2, 3))) void vigil_log(enum vigil_log_level level,
                                                      const char *fmt, ...);

#define vigil_log_error(...) vigil_log(VIGIL_LOG_ERROR, __VA_ARGS__)
#define vigil_log_warn(...) vigil_log(VIGIL_LOG_WARN, __VA_ARGS__)
#define vigil_log_info(...) vigil_log(VIGIL_LOG_INFO, __VA_ARGS__)
#define vigil_log_debug(...) vigil_log(VIGIL_LOG_DEBUG, __VA_ARGS__)

#endif
