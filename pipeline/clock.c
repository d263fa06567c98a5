/* SPDX-License-Identifier: Apache-2.0 */
/* clock.c - the monotonic clock in milliseconds (clock.h). */
#include "clock.h"

#include <time.h>

int64_t vigil_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
