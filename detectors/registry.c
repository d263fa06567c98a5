/* SPDX-License-Identifier: Apache-2.0 */
/* registry.c - the table of registered detectors (detector_list.h) and its lookups.
 *
 * Threading: the table is constant; any thread may call these at any time. */
#include <string.h>

#include "vigil/detector.h"

#define VIGIL_DETECTOR(n) extern const struct vigil_detector_ops vigil_det_##n;
#include "detector_list.h"
#undef VIGIL_DETECTOR

static const struct vigil_detector_ops *const registry[] = {
#define VIGIL_DETECTOR(n) &vigil_det_##n,
#include "detector_list.h"
#undef VIGIL_DETECTOR
};

size_t vigil_detector_count(void)
{
    return sizeof registry / sizeof registry[0];
}

const struct vigil_detector_ops *vigil_detector_get(size_t i)
{
    return i < vigil_detector_count() ? registry[i] : NULL;
}

const struct vigil_detector_ops *vigil_detector_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < vigil_detector_count(); i++) {
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    }
    return NULL;
}
