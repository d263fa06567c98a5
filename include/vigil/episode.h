/* SPDX-License-Identifier: Apache-2.0 */
/* episode.h - once per episode: a rule's warning fires once, its critical once (and a
 * critical counts as the warning too), until the episode ends and re-arms both.
 *
 * A rule keeps the two bits in a byte of its state (and its checkpoint). What reaches a level
 * and when an episode ends differ by rule (>= or >, hysteresis, open calls), so the caller
 * judges those and these helpers keep the bits.
 * Threading: plain values owned by one thread. */
#ifndef VIGIL_EPISODE_H
#define VIGIL_EPISODE_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/emit.h"

enum {
    VIGIL_EPISODE_WARNING = 1,
    VIGIL_EPISODE_CRITICAL = 2,
};

/* A fired byte read back from a checkpoint holds no other bit. */
static inline bool vigil_episode_ok(uint8_t fired)
{
    return fired <= (VIGIL_EPISODE_WARNING | VIGIL_EPISODE_CRITICAL);
}

/* The severity to report now (0: nothing new) when the rule has reached the warning level
 * (warn) or the critical one (crit), marking it in *fired. Never re-arms. */
static inline int vigil_episode_fire(uint8_t *fired, bool warn, bool crit)
{
    if (crit) {
        if (*fired & VIGIL_EPISODE_CRITICAL)
            return 0;
        *fired |= VIGIL_EPISODE_CRITICAL | VIGIL_EPISODE_WARNING;
        return VIGIL_SEV_CRITICAL;
    }
    if (warn && !(*fired & VIGIL_EPISODE_WARNING)) {
        *fired |= VIGIL_EPISODE_WARNING;
        return VIGIL_SEV_WARNING;
    }
    return 0;
}

/* vigil_episode_fire for a rule whose episode lasts while the warning level is reached (crit
 * implies warn): when it is not, the episode is over and both levels re-arm. */
static inline int vigil_episode_level(uint8_t *fired, bool warn, bool crit)
{
    if (!warn) {
        *fired = 0;
        return 0;
    }
    return vigil_episode_fire(fired, warn, crit);
}

#endif
