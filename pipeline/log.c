/* SPDX-License-Identifier: Apache-2.0 */
/* log.c - one-line log messages on stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static const char *log_prog = "vigil";
static enum vigil_log_level log_max = VIGIL_LOG_INFO;
static enum vigil_log_format log_format = VIGIL_LOG_TEXT;

void vigil_log_setup(const char *prog, enum vigil_log_level max_level)
{
    log_prog = prog;
    log_max = max_level;
}

void vigil_log_set_format(enum vigil_log_format f)
{
    log_format = f;
}

size_t vigil_log_iso(int64_t ms, char *buf, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (n == 0 || !gmtime_r(&s, &tm))
        return 0;
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    if (k == 0)
        return 0;
    int m = snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000 + 1000) % 1000);
    return m < 0 || (size_t)m >= n - k ? k : k + (size_t)m;
}

/* msg as the body of a JSON string: quotes, backslashes and control bytes escaped. */
static size_t json_escape(const char *msg, char *out, size_t n)
{
    size_t k = 0;
    for (const unsigned char *c = (const unsigned char *)msg; *c && k + 7 < n; c++) {
        if (*c == '"' || *c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)*c;
        } else if (*c < 0x20) {
            k += (size_t)snprintf(out + k, n - k, "\\u%04x", *c);
        } else {
            out[k++] = (char)*c;
        }
    }
    out[k] = '\0';
    return k;
}

void vigil_log(enum vigil_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > log_max)
        return;
    char msg[1024], line[2600];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0)
        msg[0] = '\0';
    int64_t now = vigil_wall_ms();
    char iso[40];
    vigil_log_iso(now, iso, sizeof iso);
    size_t n;
    if (log_format == VIGIL_LOG_JSON) {
        char esc[2200];
        json_escape(msg, esc, sizeof esc);
        int k = snprintf(line, sizeof line,
                         "{\"ts\":%lld,\"time\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\","
                         "\"msg\":\"%s\"}",
                         (long long)now, iso, names[level], log_prog, esc);
        n = k < 0 ? 0 : (size_t)k;
        if (n > sizeof line - 2) { /* cut: still one object per line */
            n = sizeof line - 4;
            memcpy(line + n, "\"}", 2);
            n += 2;
        }
    } else {
        int k = snprintf(line, sizeof line, "%s %s %s: %s", iso, log_prog, names[level], msg);
        n = k < 0 ? 0 : (size_t)k;
        if (n > sizeof line - 2)
            n = sizeof line - 2;
    }
    line[n++] = '\n';
    /* One write per line: concurrent threads' lines never interleave mid-line. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
