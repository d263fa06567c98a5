/* SPDX-License-Identifier: Apache-2.0 */
/* registry.c - the table of registered detectors (detector_list.h), its lookups, and the
 * configuration of this build: the core keys and every registered detector's (the core's
 * config.c knows only the parts it is given, so it never depends on the detectors).
 *
 * Threading: the table is constant; any thread may call these at any time. */
#include <string.h>

#include "vigil/config.h"
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

/* Every registered detector as a part of the configuration. */
static size_t config_parts(struct vigil_config_part *out)
{
    size_t n = vigil_detector_count();
    for (size_t i = 0; i < n; i++)
        out[i] = (struct vigil_config_part){
            .name = registry[i]->name, .keys = registry[i]->keys, .rules = registry[i]->rules};
    return n;
}

struct vigil_config *vigil_config_create(void)
{
    struct vigil_config_part parts[sizeof registry / sizeof registry[0]];
    return vigil_config_create_with(parts, config_parts(parts));
}

void vigil_config_foreach_key(void (*fn)(const struct vigil_config_key *k, void *arg), void *arg)
{
    struct vigil_config_part parts[sizeof registry / sizeof registry[0]];
    vigil_config_foreach_key_of(parts, config_parts(parts), fn, arg);
}
