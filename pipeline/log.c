/* SPDX-License-Identifier: Apache-2.0 */
/* log.c - one-line log messages on stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "vigil";
static enum vigil_log_level log_max = VIGIL_LOG_INFO;

void vigil_log_setup(const char *prog, enum vigil_log_level max_level)
{
    log_prog = prog;
    log_max = max_level;
}

void vigil_log(enum vigil_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > log_max)
        return;
    char line[1024];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, "%s %s: ", log_prog, names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : n + (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    /* One write per line: concurrent threads' lines never interleave mid-line. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
