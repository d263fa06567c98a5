/* SPDX-License-Identifier: Apache-2.0 */
/* clock.h - the process's monotonic clock in milliseconds, for timeouts, intervals and
 * backoff (never for event time, which is stream_clock.h's).
 *
 * Threading: any thread. */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t vigil_mono_ms(void);

#endif
