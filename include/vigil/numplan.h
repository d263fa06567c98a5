/* SPDX-License-Identifier: Apache-2.0 */
/* numplan.h - number intelligence: longest-prefix classification of normalised numbers
 * (country, type, high-risk flag, rate in EUR per minute).
 *
 * The number table (type, flags and rate per prefix, emergency short codes) is
 * data/numbering.tsv, built from shared/reference/numbering.md and compiled in; the
 * numbering.file key replaces it with a file of the same format and the other `numbering.*`
 * keys extend it (fraud ranges move every year: the tables are operator data).
 * Threading: built once at start-up, then read-only; any thread may classify at once.
 * Ownership: the caller of create destroys. */
#ifndef VIGIL_NUMPLAN_H
#define VIGIL_NUMPLAN_H

#include <stdbool.h>
#include <stddef.h>

struct vigil_config;

/* The format version a number table names on its first line ("# vigil-numbering 1"). */
#define VIGIL_NUMBERING_VERSION 1

enum vigil_numtype {
    VIGIL_NUM_UNKNOWN = 0,
    VIGIL_NUM_FIXED,       /* geographic */
    VIGIL_NUM_MOBILE,
    VIGIL_NUM_TOLL_FREE,   /* 0800, +800 */
    VIGIL_NUM_PREMIUM,     /* 0900/0906/0909, +979 IPRS */
    VIGIL_NUM_SHARED_COST, /* +808 */
    VIGIL_NUM_PERSONAL,    /* 084/087 */
    VIGIL_NUM_VOIP,        /* 085/091, 088 company numbers */
    VIGIL_NUM_M2M,         /* 097 */
    VIGIL_NUM_PAGER,       /* 066 */
    VIGIL_NUM_SATELLITE,   /* +881, +882, +883, +870 international networks */
    VIGIL_NUM_EMERGENCY,   /* 112, 911 */
    VIGIL_NUM_SHORT,       /* other short codes: 116xxx, 113, 14xxx, 18xy */
};

struct vigil_numclass {
    enum vigil_numtype type;
    char cc[4];         /* country calling code digits ("31", "53", "881"); "" for short */
    bool international; /* cc differs from numbering.home_cc */
    bool high_risk;     /* on the high-risk list (IRSF destinations, satellite, IPRS) */
    bool premium;       /* premium rate */
    bool emergency;     /* 112 / 911: never blocked */
    double rate_eur_min; /* estimated termination cost, EUR per minute */
};

struct vigil_numplan;

/* Builds the tables: the table of numbering.file (the built-in one when empty), then cfg's
 * other numbering.* keys over it. NULL with a message in err[errlen] on a bad table
 * ("<file>:<line>: <problem>"), an unreadable file, a bad key entry or allocation failure. */
struct vigil_numplan *vigil_numplan_create(const struct vigil_config *cfg, char *err,
                                           size_t errlen);
void vigil_numplan_destroy(struct vigil_numplan *np); /* accepts NULL */

/* Classifies a number normalised by vigil_number_normalize(). Never fails: an unknown
 * number is VIGIL_NUM_UNKNOWN with the default rate. */
void vigil_numplan_classify(const struct vigil_numplan *np, const char *number,
                            struct vigil_numclass *out);

const char *vigil_numtype_str(enum vigil_numtype t);

/* What the table holds, for exporting it to other systems (vigilctl export-prefixes): the
 * home country calling code (digits, "31"), the emergency short codes as dialled, and every
 * listed prefix ("+" and digits) in ascending order. Strings are np's: valid while np lives. */
const char *vigil_numplan_home_cc(const struct vigil_numplan *np);
size_t vigil_numplan_emergency_count(const struct vigil_numplan *np);
const char *vigil_numplan_emergency_at(const struct vigil_numplan *np, size_t i);
/* Calls fn(ctx, prefix) for each prefix the table or the numbering.* keys list (a type, a
 * flag or a rate set at exactly that prefix), in ascending digit order; stops at and returns
 * the first non-zero return of fn, else 0. */
int vigil_numplan_each_prefix(const struct vigil_numplan *np,
                              int (*fn)(void *ctx, const char *prefix), void *ctx);

#endif
