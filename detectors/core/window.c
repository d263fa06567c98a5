/* SPDX-License-Identifier: Apache-2.0 */
/* window.c - exact sliding windows of event time with bounded memory (window.h).
 *
 * Threading: pure functions on caller-owned memory. */
#include "vigil/window.h"

#include <string.h>

#include "vigil/bytes.h"

void vigil_win_add(int64_t *times, uint16_t cap, uint16_t *n, int64_t t)
{
    if (cap == 0)
        return;
    uint16_t k = *n;
    if (k == cap) {
        if (t < times[0])
            return; /* older than every time kept: not among the latest cap */
        memmove(times, times + 1, (size_t)(k - 1) * sizeof *times);
        k--;
    }
    /* Disorder is small: walk back from the newest end. */
    uint16_t i = k;
    while (i > 0 && times[i - 1] > t) {
        times[i] = times[i - 1];
        i--;
    }
    times[i] = t;
    *n = (uint16_t)(k + 1);
}

uint16_t vigil_win_count(const int64_t *times, uint16_t n, int64_t from, int64_t to)
{
    uint16_t c = 0;
    for (uint16_t i = n; i-- > 0;) {
        if (times[i] < from)
            break; /* sorted: the rest are older still */
        if (times[i] <= to)
            c++;
    }
    return c;
}

bool vigil_win_saturated(const int64_t *times, uint16_t cap, uint16_t n, int64_t from, int64_t to)
{
    return cap > 0 && n == cap && vigil_win_count(times, n, from, to) == cap;
}

uint16_t vigil_win_expire(int64_t *times, uint16_t *n, int64_t before)
{
    uint16_t k = 0;
    while (k < *n && times[k] < before)
        k++;
    if (k > 0) {
        memmove(times, times + k, (size_t)(*n - k) * sizeof *times);
        *n = (uint16_t)(*n - k);
    }
    return *n;
}

bool vigil_win_ok(const int64_t *times, uint16_t cap, uint16_t n)
{
    if (n > cap)
        return false;
    for (uint16_t i = 0; i < n; i++) {
        if (!vigil_saved_time_ok(times[i]) || (i > 0 && times[i] < times[i - 1]))
            return false;
    }
    return true;
}

void vigil_win_tag_note(int64_t *entries, uint16_t cap, uint16_t *n, unsigned tag, int64_t t)
{
    const int64_t mask = (1 << VIGIL_WIN_TAG_BITS) - 1;
    int64_t v = t * (mask + 1) + (int64_t)tag;
    uint16_t oldest = 0;
    for (uint16_t i = 0; i < *n; i++) {
        if ((entries[i] & mask) == (int64_t)tag) {
            if (v > entries[i])
                entries[i] = v;
            return;
        }
        if (entries[i] < entries[oldest])
            oldest = i;
    }
    if (*n < cap)
        entries[(*n)++] = v;
    else if (cap > 0 && v >= entries[oldest])
        entries[oldest] = v;
}

uint16_t vigil_win_tag_count(const int64_t *entries, uint16_t n, int64_t from, int64_t to)
{
    uint16_t c = 0;
    for (uint16_t i = 0; i < n; i++) {
        int64_t t = entries[i] >> VIGIL_WIN_TAG_BITS;
        c += t >= from && t <= to;
    }
    return c;
}

bool vigil_win_tag_ok(const int64_t *entries, uint16_t cap, uint16_t n, unsigned max_tag)
{
    if (n > cap)
        return false;
    for (uint16_t i = 0; i < n; i++) {
        if (entries[i] < 0 || !vigil_saved_time_ok(entries[i] >> VIGIL_WIN_TAG_BITS) ||
            (entries[i] & ((1 << VIGIL_WIN_TAG_BITS) - 1)) > (int64_t)max_tag)
            return false;
    }
    return true;
}

uint64_t vigil_win_span_part(uint64_t amount, int64_t start, int64_t end, int64_t from, int64_t to)
{
    if (end < start)
        end = start;
    if (end < from || start > to)
        return 0;
    if (end == start)
        return amount;
    int64_t lo = start > from ? start : from;
    int64_t hi = end < to ? end : to;
    if (hi <= lo)
        return 0;
    /* 128-bit product: amount x milliseconds can pass 2^64 for long, costly calls. */
    return (uint64_t)((unsigned __int128)amount * (uint64_t)(hi - lo) / (uint64_t)(end - start));
}
