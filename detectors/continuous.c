/* SPDX-License-Identifier: Apache-2.0 */
/* continuous.c - placeholder: registered so its config keys and tests can be added in this file
 * alone; it detects nothing yet. */
#include <stdlib.h>

#include "vigil/detector.h"
#include "vigil/status.h"

static int init(void **state, const struct vigil_detector_env *env)
{
    (void)env;
    *state = calloc(1, sizeof(int));
    return *state ? 0 : VIGIL_ERR_NOMEM;
}

static int on_event(void *state, const struct vigil_event *ev, struct vigil_emit *out)
{
    return 0;
}

static int on_tick(void *state, int64_t watermark_ms, struct vigil_emit *out)
{
    return 0;
}

static void destroy(void *state)
{
    free(state);
}

const struct vigil_detector_ops vigil_det_continuous = {
    .name = "continuous",
    .keys = NULL,
    .init = init,
    .on_event = on_event,
    .on_tick = on_tick,
    .destroy = destroy,
};
