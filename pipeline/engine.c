/* SPDX-License-Identifier: Apache-2.0 */
/* engine.c - the detection loop shared by vigild's workers and `vigilctl replay`.
 *
 * Threading: one engine per thread (engine.h). */
#include "engine.h"

#include "dedupe.h"
#include "vigil/acct_rec.h"
#include "vigil/detector.h"
#include "vigil/flagged.h"

void vigil_engine_init(struct vigil_engine *e, struct vigil_dedupe *dedupe,
                       const struct vigil_engine_hooks *hooks)
{
    *e = (struct vigil_engine){.dedupe = dedupe, .last_tick_wm = INT64_MIN};
    if (hooks)
        e->hooks = *hooks;
}

int vigil_engine_event(struct vigil_engine *e, const struct vigil_engine_dets *d,
                       const struct vigil_event *ev, int64_t dedupe_now_ms)
{
    uint64_t h = 0;
    if (e->dedupe) {
        h = vigil_dedupe_hash(ev->account, ev->id);
        if (vigil_dedupe_seen_hash(e->dedupe, h, dedupe_now_ms))
            return VIGIL_ENGINE_REPEAT;
    }
    if (ev->ts_ms < e->last_tick_wm)
        e->behind = true;
    if (e->hooks.accept)
        e->hooks.accept(e->hooks.ctx, ev, h);
    /* Before the detectors: an order this event trips flags the number it came from. */
    if (e->hooks.account) {
        struct vigil_engine_acct a = {0};
        int rc = e->hooks.account(e->hooks.ctx, ev, &a);
        if (rc < 0)
            return rc;
        uint64_t n = a.numbers ? vigil_flagged_note(a.numbers, ev) : 0;
        /* A new number of an account an order flags is flagged at once. */
        if (n != 0 && a.flagged_until != 0 && a.now_ms < a.flagged_until)
            e->hooks.flag(e->hooks.ctx, ev->account, n, a.flagged_until);
    }
    /* The one lookup of the event's account: every detector's vigil_recs_slot for ev takes
     * this record. A failure here is left to the detectors, which look again and report it. */
    if (d->recs)
        (void)vigil_recs_enter(d->recs, ev);
    for (size_t i = 0; i < d->n; i++) {
        int rc = d->ops[i]->on_event(d->states[i], ev, d->emit);
        if (rc != 0 && e->hooks.failed)
            e->hooks.failed(e->hooks.ctx, d->ops[i]->name, ev, rc);
    }
    if (d->recs)
        vigil_recs_leave(d->recs);
    return VIGIL_ENGINE_RAN;
}

void vigil_engine_tick(struct vigil_engine *e, const struct vigil_engine_dets *d,
                       int64_t watermark_ms, bool resweep)
{
    if (resweep)
        e->behind = false;
    e->in_tick = true; /* findings now come from timers: the emit layer's hold judges them */
    for (size_t i = 0; i < d->n; i++) {
        if (resweep && d->ops[i]->resweep)
            d->ops[i]->resweep(d->states[i]);
        int rc = d->ops[i]->on_tick(d->states[i], watermark_ms, d->emit);
        if (rc != 0 && e->hooks.failed)
            e->hooks.failed(e->hooks.ctx, d->ops[i]->name, NULL, rc);
    }
    e->in_tick = false;
    e->last_tick_wm = watermark_ms;
}
