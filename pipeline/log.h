/* SPDX-License-Identifier: Apache-2.0 */
/* log.h - one-line log messages on stderr: "2026-11-23T04:01:02.123Z vigild warn: text", or
 * with log.format = json one JSON object per line for log shippers:
 *   {"ts":1795402862123,"time":"2026-11-23T04:01:02.123Z","level":"warn","prog":"vigild",
 *    "msg":"text"}
 *
 * Threading: any thread; each message is written with one write(2) so lines never mix. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stddef.h>
#include <stdint.h>

enum vigil_log_level {
    VIGIL_LOG_ERROR = 0,
    VIGIL_LOG_WARN = 1,
    VIGIL_LOG_INFO = 2,
    VIGIL_LOG_DEBUG = 3,
};

/* Program name and the most verbose level printed (default "vigil", INFO). Call once at
 * start-up, before threads exist. */
void vigil_log_setup(const char *prog, enum vigil_log_level max_level);

enum vigil_log_format {
    VIGIL_LOG_TEXT = 0,
    VIGIL_LOG_JSON = 1,
};

/* Text (default) or JSON lines. Call before threads exist (vigild: after its configuration
 * is loaded, before any thread starts). */
void vigil_log_set_format(enum vigil_log_format f);

/* Wall-clock ms as ISO-8601 UTC with milliseconds ("2026-11-23T04:01:02.123Z"), for lines
 * people read next to the epoch ms. Returns the length written (0 on failure). */
size_t vigil_log_iso(int64_t ms, char *buf, size_t n);

__attribute__((format(printf, 2, 3))) void vigil_log(enum vigil_log_level level,
                                                      const char *fmt, ...);

#define vigil_log_error(...) vigil_log(VIGIL_LOG_ERROR, __VA_ARGS__)
#define vigil_log_warn(...) vigil_log(VIGIL_LOG_WARN, __VA_ARGS__)
#define vigil_log_info(...) vigil_log(VIGIL_LOG_INFO, __VA_ARGS__)
#define vigil_log_debug(...) vigil_log(VIGIL_LOG_DEBUG, __VA_ARGS__)

#endif
