/* SPDX-License-Identifier: Apache-2.0 */
/* redis_keys.c - the names of vigil's Redis keys (redis_keys.h). Built by copying, not with
 * printf: the publisher names a key for every order and alert. */
#include "redis_keys.h"

#include <stdbool.h>
#include <string.h>

/* a, b, c (NULL: "") and ":" before c when sep, into buf[n]. 0, or -1 when it does not fit
 * (buf then holds ""). */
static int cat(char *buf, size_t n, const char *a, const char *b, const char *c, bool sep)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0, ls = c && sep ? 1 : 0;
    if (la + lb + ls + lc >= n) {
        if (n > 0)
            buf[0] = '\0';
        return -1;
    }
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb);
    if (ls)
        buf[la + lb] = ':';
    if (lc)
        memcpy(buf + la + lb + ls, c, lc);
    buf[la + lb + ls + lc] = '\0';
    return 0;
}

int vigil_redis_key(char *buf, size_t n, const char *prefix, enum vigil_rkey k, const char *account,
                    const char *detector)
{
    const char *p = prefix ? prefix : "", *a = account ? account : "";
    switch (k) {
    case VIGIL_RKEY_BLOCK:
        return cat(buf, n, p, "block:", a, false);
    case VIGIL_RKEY_BLOCKS:
        return cat(buf, n, p, "blocks", NULL, false);
    case VIGIL_RKEY_COUNTERS: {
        char tail[512];
        if (cat(tail, sizeof tail, "cnt:", a, detector, true) != 0)
            return cat(buf, 0, "", "", NULL, false);
        return cat(buf, n, p, tail, NULL, false);
    }
    case VIGIL_RKEY_ALERTS:
        return cat(buf, n, p, "alerts:", a, false);
    case VIGIL_RKEY_FLAGGED:
        return cat(buf, n, p, "flagged", NULL, false);
    case VIGIL_RKEY_CREDIT:
        return cat(buf, n, p, "credit", NULL, false);
    case VIGIL_RKEY_BRAKE:
        return cat(buf, n, p, "brake", NULL, false);
    case VIGIL_RKEY_BRAKE_ENGAGED:
        return cat(buf, n, p, "brake:engaged", NULL, false);
    case VIGIL_RKEY_HELD:
        return cat(buf, n, p, "held", NULL, false);
    }
    return -1;
}
