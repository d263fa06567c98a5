/* SPDX-License-Identifier: Apache-2.0 */
/* event_parse_ref.h - the previous event parser, kept as a reference (event_parse_ref.c). */
#ifndef VIGIL_EVENT_PARSE_REF_H
#define VIGIL_EVENT_PARSE_REF_H

#include "vigil/event.h"

/* vigil_event_parse() as it was before the one-pass scanner; same contract. */
int vigil_event_parse_ref(const char *buf, size_t len, const char *key, size_t key_len,
                          const struct vigil_parse_opts *opts, struct vigil_event *ev,
                          struct vigil_parse_error *err);

#endif
