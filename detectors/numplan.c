/* SPDX-License-Identifier: Apache-2.0 */
/* numplan.c - number intelligence: country code, number type, high-risk and premium flags
 * and rate of a normalised number, by longest prefix over one digit trie.
 *
 * What is built in (facts, shared/reference/numbering.md) and what is operator data:
 * - built in: the ITU country-code lengths (1, 7: one digit; the 2-digit codes in
 *   two_digit_cc[]; every other code three digits), the Dutch number types (+316 mobile,
 *   +3166 pager, +31800 toll free, +31900/906/909 premium, +3184/87 personal, +3185/88/91
 *   VoIP/company, +3197 M2M, any other +31 fixed) and the non-geographic codes (+881/882/
 *   883/870 satellite and international networks, +979 IPRS premium, +800 toll free, +808
 *   shared cost). Geographic numbers of other countries keep VIGIL_NUM_UNKNOWN: we know
 *   their country, not whether they are fixed or mobile.
 * - configuration (config.c holds the defaults): numbering.home_cc, high_risk_prefixes,
 *   premium_prefixes, rates, default_rate, emergency.
 * The `premium` flag comes from numbering.premium_prefixes alone, so an operator who drops
 * a range from the list drops it from premium handling even though its type stays PREMIUM.
 * Emergency numbers are matched exactly and only as short codes as dialled ("112"): "+31112"
 * is an ordinary Dutch number, not an emergency call. An emergency call's rate is 0; other
 * short codes get numbering.default_rate (the rate table holds E.164 prefixes only).
 *
 * Threading: built once, then read-only; classify may run on any number of threads.
 * Ownership: the caller of vigil_numplan_create destroys. */
#include "vigil/numplan.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/event.h"

#define SHORT_MIN 3 /* digits of a short code, as vigil_number_normalize keeps them */
#define SHORT_MAX 6

enum {
    NP_HIGH_RISK = 1,
    NP_PREMIUM = 2,
    NP_HAS_RATE = 4,
};

/* One trie node per digit prefix (without the '+'). Node 0 is the root, so a child index of
 * 0 means "no child". */
struct np_node {
    int32_t child[10];
    uint8_t type;  /* enum vigil_numtype of numbers under this prefix, 0 = inherit */
    uint8_t flags; /* NP_* set at exactly this prefix */
    double rate;   /* EUR per minute, when NP_HAS_RATE */
};

struct vigil_numplan {
    struct np_node *nodes;
    size_t n_nodes, cap_nodes;
    char home_cc[4];
    double default_rate;
    char (*emergency)[SHORT_MAX + 1];
    size_t n_emergency;
};

/* ITU-T E.164 country codes of two digits; every code starting 1 or 7 has one digit and
 * every other assigned code three. */
static const unsigned char two_digit_cc[100] = {
    [20] = 1, [27] = 1, [30] = 1, [31] = 1, [32] = 1, [33] = 1, [34] = 1, [36] = 1, [39] = 1,
    [40] = 1, [41] = 1, [43] = 1, [44] = 1, [45] = 1, [46] = 1, [47] = 1, [48] = 1, [49] = 1,
    [51] = 1, [52] = 1, [53] = 1, [54] = 1, [55] = 1, [56] = 1, [57] = 1, [58] = 1, [60] = 1,
    [61] = 1, [62] = 1, [63] = 1, [64] = 1, [65] = 1, [66] = 1, [81] = 1, [82] = 1, [84] = 1,
    [86] = 1, [90] = 1, [91] = 1, [92] = 1, [93] = 1, [94] = 1, [95] = 1, [98] = 1,
};

/* Digits of the country code at the start of `d` (digits only), or 0 if `d` is too short. */
static size_t cc_len(const char *d, size_t n)
{
    if (n < 1)
        return 0;
    if (d[0] == '1' || d[0] == '7')
        return 1;
    if (n < 2)
        return 0;
    if (two_digit_cc[(d[0] - '0') * 10 + (d[1] - '0')])
        return 2;
    return n >= 3 ? 3 : 0;
}

/* Built-in types by prefix (digits after '+'). */
static const struct {
    const char *prefix;
    enum vigil_numtype type;
} builtin_types[] = {
    {"31", VIGIL_NUM_FIXED},        {"316", VIGIL_NUM_MOBILE},      {"3166", VIGIL_NUM_PAGER},
    {"31800", VIGIL_NUM_TOLL_FREE}, {"31900", VIGIL_NUM_PREMIUM},   {"31906", VIGIL_NUM_PREMIUM},
    {"31909", VIGIL_NUM_PREMIUM},   {"3184", VIGIL_NUM_PERSONAL},   {"3187", VIGIL_NUM_PERSONAL},
    {"3185", VIGIL_NUM_VOIP},       {"3188", VIGIL_NUM_VOIP},       {"3191", VIGIL_NUM_VOIP},
    {"3197", VIGIL_NUM_M2M},        {"881", VIGIL_NUM_SATELLITE},   {"882", VIGIL_NUM_SATELLITE},
    {"883", VIGIL_NUM_SATELLITE},   {"870", VIGIL_NUM_SATELLITE},   {"979", VIGIL_NUM_PREMIUM},
    {"800", VIGIL_NUM_TOLL_FREE},   {"808", VIGIL_NUM_SHARED_COST},
};

const char *vigil_numtype_str(enum vigil_numtype t)
{
    switch (t) {
    case VIGIL_NUM_FIXED:
        return "fixed";
    case VIGIL_NUM_MOBILE:
        return "mobile";
    case VIGIL_NUM_TOLL_FREE:
        return "toll_free";
    case VIGIL_NUM_PREMIUM:
        return "premium";
    case VIGIL_NUM_SHARED_COST:
        return "shared_cost";
    case VIGIL_NUM_PERSONAL:
        return "personal";
    case VIGIL_NUM_VOIP:
        return "voip";
    case VIGIL_NUM_M2M:
        return "m2m";
    case VIGIL_NUM_PAGER:
        return "pager";
    case VIGIL_NUM_SATELLITE:
        return "satellite";
    case VIGIL_NUM_EMERGENCY:
        return "emergency";
    case VIGIL_NUM_SHORT:
        return "short";
    case VIGIL_NUM_UNKNOWN:
        break;
    }
    return "unknown";
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* The node for digit string d[0..n), created on the way. NULL on allocation failure. */
static struct np_node *node_at(struct vigil_numplan *np, const char *d, size_t n)
{
    int32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        int c = d[i] - '0';
        if (np->nodes[cur].child[c] == 0) {
            if (np->n_nodes == np->cap_nodes) {
                size_t cap = np->cap_nodes * 2;
                struct np_node *nodes = realloc(np->nodes, cap * sizeof *nodes);
                if (!nodes)
                    return NULL;
                np->nodes = nodes;
                np->cap_nodes = cap;
            }
            memset(&np->nodes[np->n_nodes], 0, sizeof np->nodes[0]);
            np->nodes[cur].child[c] = (int32_t)np->n_nodes++;
        }
        cur = np->nodes[cur].child[c];
    }
    return &np->nodes[cur];
}

/* A table prefix: '+' and 1..VIGIL_NUMBER_MAX digits. */
static bool valid_prefix(const char *s, size_t n)
{
    return n >= 2 && n <= VIGIL_NUMBER_MAX + 1 && s[0] == '+' && all_digits(s + 1, n - 1);
}

/* A non-negative finite decimal taking all of s[0..n). */
static bool parse_rate(const char *s, size_t n, double *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (*end != '\0' || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

static int bad_entry(char *err, size_t errlen, const char *key, const char *entry, const char *want)
{
    snprintf(err, errlen, "numbering.%s: bad entry '%s' (%s)", key, entry, want);
    return -1;
}

static int load_flag_list(struct vigil_numplan *np, const struct vigil_config *cfg, const char *key,
                          uint8_t flag, char *err, size_t errlen)
{
    char full[64];
    snprintf(full, sizeof full, "numbering.%s", key);
    size_t n = 0;
    const char *const *list = vigil_config_list(cfg, full, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list[i]);
        if (!valid_prefix(list[i], len))
            return bad_entry(err, errlen, key, list[i], "want + and digits, e.g. +881");
        struct np_node *node = node_at(np, list[i] + 1, len - 1);
        if (!node)
            goto nomem;
        node->flags |= flag;
    }
    return 0;

nomem:
    snprintf(err, errlen, "numbering: out of memory");
    return -1;
}

static int load_rates(struct vigil_numplan *np, const struct vigil_config *cfg, char *err,
                      size_t errlen)
{
    size_t n = 0;
    const char *const *list = vigil_config_list(cfg, "numbering.rates", &n);
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(list[i], ':');
        double rate;
        if (!colon || !valid_prefix(list[i], (size_t)(colon - list[i])) ||
            !parse_rate(colon + 1, strlen(colon + 1), &rate))
            return bad_entry(err, errlen, "rates", list[i], "want +PREFIX:EUR_PER_MIN");
        struct np_node *node = node_at(np, list[i] + 1, (size_t)(colon - list[i]) - 1);
        if (!node) {
            snprintf(err, errlen, "numbering: out of memory");
            return -1;
        }
        /* Two rates for one prefix is a typing mistake; say so rather than pick one. */
        if (node->flags & NP_HAS_RATE) {
            snprintf(err, errlen, "numbering.rates: duplicate prefix '%.*s'",
                     (int)(colon - list[i]), list[i]);
            return -1;
        }
        node->flags |= NP_HAS_RATE;
        node->rate = rate;
    }
    return 0;
}

static int load_scalars(struct vigil_numplan *np, const struct vigil_config *cfg, char *err,
                        size_t errlen)
{
    const char *cc = vigil_config_str(cfg, "numbering.home_cc");
    if (cc[0] == '+')
        cc++;
    size_t n = strlen(cc);
    if (n == 0 || n > 3 || !all_digits(cc, n) || cc_len(cc, n) != n) {
        snprintf(err, errlen, "numbering.home_cc: '%s' is not a country calling code", cc);
        return -1;
    }
    memcpy(np->home_cc, cc, n + 1);

    const char *rate = vigil_config_str(cfg, "numbering.default_rate");
    if (!parse_rate(rate, strlen(rate), &np->default_rate)) {
        snprintf(err, errlen, "numbering.default_rate: bad value '%s' (want EUR per minute)", rate);
        return -1;
    }

    size_t ne = 0;
    const char *const *list = vigil_config_list(cfg, "numbering.emergency", &ne);
    np->emergency = calloc(ne ? ne : 1, sizeof *np->emergency);
    if (!np->emergency) {
        snprintf(err, errlen, "numbering: out of memory");
        return -1;
    }
    for (size_t i = 0; i < ne; i++) {
        size_t len = strlen(list[i]);
        if (len < SHORT_MIN || len > SHORT_MAX || !all_digits(list[i], len) || list[i][0] == '0')
            return bad_entry(err, errlen, "emergency", list[i],
                             "short codes as dialled only: 3 to 6 digits, e.g. 112");
        memcpy(np->emergency[np->n_emergency++], list[i], len + 1);
    }
    return 0;
}

struct vigil_numplan *vigil_numplan_create(const struct vigil_config *cfg, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!cfg) {
        snprintf(err, errlen, "numbering: no configuration");
        return NULL;
    }
    struct vigil_numplan *np = calloc(1, sizeof *np);
    if (!np)
        goto nomem;
    np->cap_nodes = 256;
    np->nodes = calloc(np->cap_nodes, sizeof *np->nodes);
    if (!np->nodes)
        goto nomem;
    np->n_nodes = 1; /* the root */

    for (size_t i = 0; i < sizeof builtin_types / sizeof builtin_types[0]; i++) {
        struct np_node *node =
            node_at(np, builtin_types[i].prefix, strlen(builtin_types[i].prefix));
        if (!node)
            goto nomem;
        node->type = (uint8_t)builtin_types[i].type;
    }
    if (load_scalars(np, cfg, err, errlen) != 0 ||
        load_flag_list(np, cfg, "high_risk_prefixes", NP_HIGH_RISK, err, errlen) != 0 ||
        load_flag_list(np, cfg, "premium_prefixes", NP_PREMIUM, err, errlen) != 0 ||
        load_rates(np, cfg, err, errlen) != 0)
        goto fail;
    return np;

nomem:
    snprintf(err, errlen, "numbering: out of memory");
fail:
    vigil_numplan_destroy(np);
    return NULL;
}

void vigil_numplan_destroy(struct vigil_numplan *np)
{
    if (!np)
        return;
    free(np->emergency);
    free(np->nodes);
    free(np);
}

static void classify_short(const struct vigil_numplan *np, const char *number,
                           struct vigil_numclass *out)
{
    for (size_t i = 0; i < np->n_emergency; i++) {
        if (strcmp(np->emergency[i], number) == 0) {
            out->type = VIGIL_NUM_EMERGENCY;
            out->emergency = true;
            out->rate_eur_min = 0.0;
            return;
        }
    }
    out->type = VIGIL_NUM_SHORT;
}

void vigil_numplan_classify(const struct vigil_numplan *np, const char *number,
                            struct vigil_numclass *out)
{
    memset(out, 0, sizeof *out);
    out->type = VIGIL_NUM_UNKNOWN;
    out->rate_eur_min = np->default_rate;
    if (!number || number[0] == '\0')
        return;
    if (number[0] != '+') {
        size_t n = strlen(number);
        if (n >= SHORT_MIN && n <= SHORT_MAX && all_digits(number, n))
            classify_short(np, number, out);
        return;
    }

    const char *d = number + 1;
    size_t n = 0;
    while (n < VIGIL_NUMBER_MAX && isdigit((unsigned char)d[n]))
        n++;
    size_t ccn = cc_len(d, n);
    if (ccn == 0)
        return;
    memcpy(out->cc, d, ccn);
    out->cc[ccn] = '\0';
    out->international = strcmp(out->cc, np->home_cc) != 0;

    /* One walk down the trie: every flag set on the way applies (a number under a listed
     * prefix is listed); type and rate come from the deepest prefix that sets them. */
    int32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        cur = np->nodes[cur].child[d[i] - '0'];
        if (cur == 0)
            break;
        const struct np_node *node = &np->nodes[cur];
        if (node->type)
            out->type = (enum vigil_numtype)node->type;
        if (node->flags & NP_HIGH_RISK)
            out->high_risk = true;
        if (node->flags & NP_PREMIUM)
            out->premium = true;
        if (node->flags & NP_HAS_RATE)
            out->rate_eur_min = node->rate;
    }
}
