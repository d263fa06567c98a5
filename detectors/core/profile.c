/* SPDX-License-Identifier: Apache-2.0 */
/* profile.c - account profiles, per-profile thresholds and Amsterdam local time (see
 * vigil/profile.h).
 *
 * Threading: read-only after create.
 * Ownership: the creator destroys. */
#include "vigil/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/acct_table.h"
#include "vigil/config.h"

struct vigil_profiles {
    struct vigil_acct_table *accounts; /* account -> profile (one byte) */
};

struct vigil_profiles *vigil_profiles_create(const struct vigil_config *cfg)
{
    struct vigil_profiles *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    pr->accounts = vigil_acct_table_create(sizeof(unsigned char), 64);
    if (!pr->accounts)
        goto fail;
    for (int p = 1; p < VIGIL_PROFILE_COUNT; p++) {
        char key[64];
        size_t n = 0;
        snprintf(key, sizeof key, "profiles.%s", vigil_profile_name((enum vigil_profile)p));
        const char *const *acc = vigil_config_list(cfg, key, &n);
        for (size_t i = 0; i < n; i++) {
            /* An account listed in two profiles keeps the later one; config order decides. */
            unsigned char *v = vigil_acct_table_get(pr->accounts, acc[i], NULL);
            if (!v)
                goto fail;
            *v = (unsigned char)p;
        }
    }
    return pr;
fail:
    vigil_profiles_destroy(pr);
    return NULL;
}

void vigil_profiles_destroy(struct vigil_profiles *pr)
{
    if (!pr)
        return;
    vigil_acct_table_destroy(pr->accounts);
    free(pr);
}

enum vigil_profile vigil_profiles_lookup(const struct vigil_profiles *pr, const char *account)
{
    if (!pr)
        return VIGIL_PROFILE_DEFAULT;
    const unsigned char *v = vigil_acct_table_find(pr->accounts, account);
    return v ? (enum vigil_profile)*v : VIGIL_PROFILE_DEFAULT;
}

void vigil_profile_ints(const struct vigil_config *cfg, const char *key,
                        int64_t out[VIGIL_PROFILE_COUNT])
{
    for (int p = 0; p < VIGIL_PROFILE_COUNT; p++)
        out[p] = vigil_config_int_for(
            cfg, key,
            p == VIGIL_PROFILE_DEFAULT ? NULL : vigil_profile_name((enum vigil_profile)p));
}

/* Howard Hinnant's algorithm. */
int64_t vigil_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The UTC second at which the last Sunday of month m of year y starts, plus 01:00 UTC: the
 * moment Europe switches to and from summer time. */
static int64_t eu_switch(int64_t y, int m)
{
    int64_t last = vigil_days_from_civil(y, m, 31);
    int64_t wday = ((last + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
    return (last - wday) * 86400 + 3600;
}

void vigil_local_time(int64_t ts_ms, struct vigil_local_time *out)
{
    int64_t t = vigil_floor_div(ts_ms, 1000);
    int64_t days = vigil_floor_div(t, 86400);
    /* Year of the UTC date, for the switch dates of that year. */
    int64_t z = days + 719468;
    int64_t era = vigil_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t year = yoe + era * 400 + (mp >= 10);
    /* CET is UTC+1; CEST (UTC+2) from the last Sunday of March to that of October. */
    int64_t offset = (t >= eu_switch(year, 3) && t < eu_switch(year, 10)) ? 7200 : 3600;
    int64_t local_ms = ts_ms + offset * 1000;
    int64_t ldays = vigil_floor_div(local_ms, 86400000);
    int64_t ms = local_ms - ldays * 86400000;
    out->wday = (int)(((ldays + 4) % 7 + 7) % 7);
    out->hour = (int)(ms / 3600000);
    out->minute = (int)(ms % 3600000 / 60000);
    out->day = ldays;
    out->ms_of_day = ms;
    out->offset_ms = offset * 1000;
}

bool vigil_off_hours(int64_t ts_ms)
{
    struct vigil_local_time lt;
    vigil_local_time(ts_ms, &lt);
    if (lt.wday == 0 || lt.wday == 6)
        return true;
    return lt.hour < 7 || lt.hour >= 22;
}
