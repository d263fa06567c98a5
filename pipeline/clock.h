/* SPDX-License-Identifier: Apache-2.0 */
/* clock.h - the process's clocks in milliseconds: the monotonic one for timeouts, intervals
 * and backoff, the wall clock for what is written out (log lines, alert and order times,
 * expiry instants). Neither is event time, which is stream_clock.h's.
 *
 * Threading: any thread. */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t vigil_mono_ms(void);

/* CLOCK_REALTIME in milliseconds since the epoch. */
int64_t vigil_wall_ms(void);

/* Sleeps ms milliseconds (returns early on a signal); ms <= 0 returns at once. */
void vigil_sleep_ms(int64_t ms);

#endif
