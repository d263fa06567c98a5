/* SPDX-License-Identifier: Apache-2.0 */
/* redis_keys.c - the names of vigil's Redis keys (redis_keys.h). */
#include "redis_keys.h"

#include <stdio.h>

int vigil_redis_key(char *buf, size_t n, const char *prefix, enum vigil_rkey k, const char *account,
                    const char *detector)
{
    const char *p = prefix ? prefix : "", *a = account ? account : "";
    int len = -1;
    switch (k) {
    case VIGIL_RKEY_BLOCK:
        len = snprintf(buf, n, "%sblock:%s", p, a);
        break;
    case VIGIL_RKEY_BLOCKS:
        len = snprintf(buf, n, "%sblocks", p);
        break;
    case VIGIL_RKEY_COUNTERS:
        len = detector ? snprintf(buf, n, "%scnt:%s:%s", p, a, detector)
                       : snprintf(buf, n, "%scnt:%s", p, a);
        break;
    case VIGIL_RKEY_ALERTS:
        len = snprintf(buf, n, "%salerts:%s", p, a);
        break;
    case VIGIL_RKEY_FLAGGED:
        len = snprintf(buf, n, "%sflagged", p);
        break;
    case VIGIL_RKEY_CREDIT:
        len = snprintf(buf, n, "%scredit", p);
        break;
    case VIGIL_RKEY_BRAKE:
        len = snprintf(buf, n, "%sbrake", p);
        break;
    case VIGIL_RKEY_BRAKE_ENGAGED:
        len = snprintf(buf, n, "%sbrake:engaged", p);
        break;
    case VIGIL_RKEY_HELD:
        len = snprintf(buf, n, "%sheld", p);
        break;
    }
    return len >= 0 && (size_t)len < n ? 0 : -1;
}
