/* SPDX-License-Identifier: Apache-2.0 */
/* ckpt_keys.c - checkpoint key names per consumer group (see ckpt_keys.h). */
#include "ckpt_keys.h"

#include <stdio.h>

int vigil_ckpt_keys_init(struct vigil_ckpt_keys *k, const char *prefix, const char *group,
                         const char *topic)
{
    prefix = prefix ? prefix : "";
    int a = snprintf(k->ckpt, sizeof k->ckpt, "%sckpt:%s:%s", prefix, group, topic);
    int b = snprintf(k->state, sizeof k->state, "%sstate:%s:%s:", prefix, group, topic);
    int c = snprintf(k->seen, sizeof k->seen, "%sseen:%s:%s:", prefix, group, topic);
    return a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof k->ckpt ||
                   (size_t)b >= sizeof k->state || (size_t)c >= sizeof k->seen
               ? -1
               : 0;
}

int vigil_ckpt_state_key(const struct vigil_ckpt_keys *k, int32_t partition, char *buf,
                         size_t n)
{
    int len = snprintf(buf, n, "%s%d", k->state, (int)partition);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

int vigil_ckpt_seen_key(const struct vigil_ckpt_keys *k, int32_t partition, char *buf,
                        size_t n)
{
    int len = snprintf(buf, n, "%s%d", k->seen, (int)partition);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}
