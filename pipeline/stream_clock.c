/* SPDX-License-Identifier: Apache-2.0 */
/* stream_clock.c - one partition's event-time clock (see stream_clock.h). */
#include "stream_clock.h"

#include <string.h>

#include "jbuf.h"

uint64_t vigil_pclock_acct(const char *account)
{
    uint64_t h = vigil_fnv1a(VIGIL_FNV_OFFSET, account, strlen(account));
    return h ? h : 1;
}

void vigil_pclock_restore(struct vigil_pclock *c, int64_t ts)
{
    if (ts > c->ts)
        c->ts = ts;
    c->provisional = false;
    c->n_cand = 0;
}

/* Candidates that ordinary traffic has caught up with are no longer ahead. */
static void drop_reached(struct vigil_pclock *c, int64_t limit)
{
    uint8_t k = 0;
    for (uint8_t i = 0; i < c->n_cand; i++) {
        if (c->cand_ts[i] <= limit)
            continue;
        c->cand_acct[k] = c->cand_acct[i];
        c->cand_ts[k++] = c->cand_ts[i];
    }
    c->n_cand = k;
}

/* An account with an event within range while claims wait: `confirm` of them (other than
 * the claimants) show the stream as a whole did not move, and the claims are dropped. */
static void note_since(struct vigil_pclock *c, uint64_t acct, int confirm)
{
    if (c->n_cand == 0)
        return;
    for (uint8_t i = 0; i < c->n_cand; i++) {
        if (c->cand_acct[i] == acct)
            return;
    }
    for (uint8_t i = 0; i < c->n_since; i++) {
        if (c->since[i] == acct)
            return;
    }
    c->since[c->n_since++] = acct;
    if (c->n_since >= confirm || c->n_since == VIGIL_PCLOCK_CONFIRM_MAX) {
        c->n_cand = 0;
        c->n_since = 0;
    }
}

/* While provisional: notes a distinct account; enough of them establish the clock. */
static void note_seen(struct vigil_pclock *c, uint64_t acct, int confirm)
{
    for (uint8_t i = 0; i < c->n_seen; i++) {
        if (c->seen[i] == acct)
            return;
    }
    c->seen[c->n_seen++] = acct;
    if (c->n_seen >= confirm)
        c->provisional = false;
}

bool vigil_pclock_note(struct vigil_pclock *c, int64_t gap_ms, int confirm, uint64_t acct,
                       int64_t ts, struct vigil_pclock_jump *jump)
{
    if (confirm < 1)
        confirm = 1;
    if (confirm > VIGIL_PCLOCK_CONFIRM_MAX)
        confirm = VIGIL_PCLOCK_CONFIRM_MAX;
    if (c->ts == 0) {
        c->ts = ts;
        c->provisional = confirm > 1;
        c->n_seen = 0;
        c->n_cand = 0;
        if (c->provisional)
            note_seen(c, acct, confirm);
        return false;
    }
    if (c->provisional) {
        bool known = false;
        for (uint8_t i = 0; i < c->n_seen; i++)
            known = known || c->seen[i] == acct;
        /* A new account far behind the first one: the first was ahead; start again here.
         * Its own account stays on the list (it is one of the accounts seen). */
        if (!known && ts < c->ts - gap_ms) {
            c->ts = ts;
            c->n_cand = 0;
        }
        note_seen(c, acct, confirm);
    }
    if (ts - c->ts <= gap_ms) {
        if (ts > c->ts) {
            c->ts = ts;
            drop_reached(c, c->ts + gap_ms);
        }
        note_since(c, acct, confirm);
        return false;
    }
    /* Ahead by more than a gap: it waits for other accounts to confirm. */
    c->ahead++;
    uint8_t i = 0;
    while (i < c->n_cand && c->cand_acct[i] != acct)
        i++;
    if (i == c->n_cand) {
        if (c->n_cand == VIGIL_PCLOCK_CONFIRM_MAX)
            return false; /* full of other claims: confirm <= CONFIRM_MAX decides below */
        if (c->n_cand == 0)
            c->n_since = 0; /* a fresh round of claims */
        c->cand_acct[i] = acct;
        c->cand_ts[i] = ts;
        c->n_cand++;
    } else if (ts < c->cand_ts[i]) {
        c->cand_ts[i] = ts;
    }
    /* A provisional clock has seen fewer accounts than `confirm`: all of them confirm (one
     * account alone moves its own partition; it leads no other, see the header). */
    int need = c->provisional && c->n_seen < confirm ? (c->n_seen > 0 ? c->n_seen : 1) : confirm;
    if (c->n_cand < need)
        return false;
    int64_t to = c->cand_ts[0];
    for (uint8_t k = 1; k < c->n_cand; k++) {
        if (c->cand_ts[k] < to)
            to = c->cand_ts[k];
    }
    jump->from = c->ts;
    jump->to = to;
    c->ts = to;
    c->n_cand = 0;
    return true;
}
