/* SPDX-License-Identifier: Apache-2.0 */
/* profile.h - account profiles, per-profile thresholds, and Amsterdam office hours.
 *
 * An account's profile comes from the `profiles.<name>` config lists (accounts not listed are
 * in the `default` profile). Any detector INT key can be overridden for one profile by the
 * same key with `@<profile>` appended, e.g. in the file
 *     [toll_fraud]
 *     spend_1h_eur = 100
 *     spend_1h_eur@callcenter = 400
 * or `--set toll_fraud.spend_1h_eur@callcenter=400`. A detector may also ship a default for
 * one profile (`fair_use.devices@business = 10` in its key table, config.h); the operator's
 * `key@profile` replaces it the same way. Detectors read a key for every profile once at init
 * with vigil_profile_ints() and index the result by the account's profile.
 *
 * Threading: built once at start-up, read-only afterwards; any thread may look up.
 * Ownership: the creator destroys. */
#ifndef VIGIL_PROFILE_H
#define VIGIL_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/config.h" /* enum vigil_profile, vigil_profile_name */

struct vigil_profiles;

/* NULL on allocation failure. */
struct vigil_profiles *vigil_profiles_create(const struct vigil_config *cfg);
void vigil_profiles_destroy(struct vigil_profiles *pr); /* accepts NULL */

/* The account's profile; VIGIL_PROFILE_DEFAULT when not listed or when pr is NULL. */
enum vigil_profile vigil_profiles_lookup(const struct vigil_profiles *pr, const char *account);

/* The value of INT key `key` for every profile: out[p] is `key@<profile>` when set or
 * declared with a default, else `key`. */
void vigil_profile_ints(const struct vigil_config *cfg, const char *key,
                        int64_t out[VIGIL_PROFILE_COUNT]);

/* Europe/Amsterdam local time of an event (CET/CEST with the EU switch rules). */
struct vigil_local_time {
    int wday; /* 0 = Sunday .. 6 = Saturday */
    int hour; /* 0..23 */
    int minute;
    int64_t day;       /* local days since 1970-01-01 */
    int64_t ms_of_day; /* milliseconds since local midnight: 0 .. 86,399,999 */
    int64_t offset_ms; /* local time minus UTC: 3,600,000 (CET) or 7,200,000 (CEST) */
};
void vigil_local_time(int64_t ts_ms, struct vigil_local_time *out);
/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31). */
int64_t vigil_days_from_civil(int64_t y, int m, int d);

/* Nobody watches: Saturday, Sunday, or before 07:00 or from 22:00 local time on a weekday.
 * Detectors use lower thresholds then. */
bool vigil_off_hours(int64_t ts_ms);

#endif
