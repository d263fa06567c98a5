/* SPDX-License-Identifier: Apache-2.0 */
/* numplan.c - number intelligence: country code, number type, high-risk and premium flags
 * and rate of a normalised number, by longest prefix over one digit trie.
 *
 * Where each fact comes from:
 * - code: the ITU country-code lengths (1, 7: one digit; the 2-digit codes in two_digit_cc[];
 *   every other code three digits). They are the structure of E.164, not data that moves.
 * - the number table: type, high-risk and premium flags and rate per prefix, and the
 *   emergency short codes. The built-in table is data/numbering.tsv (built from
 *   shared/reference/numbering.md), compiled in as text by cmake/embed_text.cmake;
 *   numbering.file replaces it with a file of the same format (see parse_table).
 *   Geographic numbers of other countries keep VIGIL_NUM_UNKNOWN: we know their country,
 *   not whether they are fixed or mobile.
 * - configuration, applied after the table: numbering.home_cc and default_rate, and
 *   high_risk_prefixes, premium_prefixes, rates and emergency, which extend the table (a
 *   flag or an emergency number is added; a rate replaces the table's rate of that prefix).
 *   Removing an entry takes a replacement table.
 * The `premium` flag comes from the flags alone, never from the type, so a table that lists
 * +31900 as premium type without the flag leaves it out of premium handling.
 * Emergency numbers are matched exactly and only as short codes as dialled ("112"): "+31112"
 * is an ordinary Dutch number, not an emergency call. An emergency call's rate is 0; other
 * short codes get numbering.default_rate (rates are by E.164 prefix only).
 *
 * Threading: built once, then read-only; classify may run on any number of threads.
 * Ownership: the caller of vigil_numplan_create destroys. */
#include "vigil/numplan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/event.h"

#define SHORT_MIN 3 /* digits of a short code, as vigil_number_normalize keeps them */
#define SHORT_MAX 6
#define TABLE_MAX_BYTES ((size_t)64 << 20) /* a numbering file beyond this is a mistake */
#define BUILTIN_NAME "built-in data/numbering.tsv"

/* data/numbering.tsv as one string (numbering_data.c, generated at build time). */
extern const char vigil_numbering_builtin[];

enum {
    NP_HIGH_RISK = 1,
    NP_PREMIUM = 2,
    NP_HAS_RATE = 4,
    NP_KEY_RATE = 8, /* the rate came from numbering.rates, where a prefix may appear once */
};

/* One trie node per digit prefix (without the '+'). Node 0 is the root, so a child index of
 * 0 means "no child". */
struct np_node {
    int32_t child[10];
    uint8_t type;  /* enum vigil_numtype of numbers under this prefix, 0 = inherit */
    uint8_t flags; /* NP_* set at exactly this prefix */
    uint32_t line; /* table line of the row for exactly this prefix, 0 = none */
    double rate;   /* EUR per minute, when NP_HAS_RATE */
};

/* An emergency short code as dialled. */
struct np_short {
    char code[SHORT_MAX + 1];
    uint32_t line; /* table line, 0 = from numbering.emergency */
};

struct vigil_numplan {
    struct np_node *nodes;
    size_t n_nodes, cap_nodes;
    char home_cc[4];
    double default_rate;
    struct np_short *emergency;
    size_t n_emergency, cap_emergency;
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

/* A short code as dialled: SHORT_MIN..SHORT_MAX digits, not starting with 0. */
static bool valid_short(const char *s, size_t n)
{
    return n >= SHORT_MIN && n <= SHORT_MAX && all_digits(s, n) && s[0] != '0';
}

/* A non-negative decimal of digits and '.' taking all of s[0..n). */
static bool parse_rate(const char *s, size_t n, double *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf || !(isdigit((unsigned char)s[0]) || s[0] == '.'))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strspn(buf, "0123456789.") != n)
        return false;
    char *end;
    double v = strtod(buf, &end);
    if (*end != '\0' || !isfinite(v) || v < 0)
        return false;
    *out = v;
    return true;
}

static const struct np_short *find_emergency(const struct vigil_numplan *np, const char *code,
                                             size_t n)
{
    for (size_t i = 0; i < np->n_emergency; i++) {
        if (strlen(np->emergency[i].code) == n && memcmp(np->emergency[i].code, code, n) == 0)
            return &np->emergency[i];
    }
    return NULL;
}

/* Appends a valid short code. -1 on allocation failure. */
static int add_emergency(struct vigil_numplan *np, const char *code, size_t n, uint32_t line)
{
    if (np->n_emergency == np->cap_emergency) {
        size_t cap = np->cap_emergency ? np->cap_emergency * 2 : 8;
        struct np_short *e = realloc(np->emergency, cap * sizeof *e);
        if (!e)
            return -1;
        np->emergency = e;
        np->cap_emergency = cap;
    }
    struct np_short *e = &np->emergency[np->n_emergency++];
    memcpy(e->code, code, n);
    e->code[n] = '\0';
    e->line = line;
    return 0;
}

/* --- the number table --------------------------------------------------------------------
 *
 * Text, line 1 "# vigil-numbering <VIGIL_NUMBERING_VERSION> [free text]", then one row per
 * prefix: "prefix type flags rate", fields separated by blanks, '#' to the end of a line a
 * comment, blank lines ignored. data/numbering.tsv documents the fields. A table is read
 * whole or not at all: the first bad line fails create with "<name>:<line>: <problem>". */

/* A table being read, for its messages. */
struct np_reader {
    struct vigil_numplan *np;
    const char *name; /* the file's path, or BUILTIN_NAME */
    uint32_t line;
    char *err;
    size_t errlen;
};

/* One field of a row: s[0..n), not NUL-terminated. */
struct np_field {
    const char *s;
    size_t n;
};

static int table_error(struct np_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int table_error(struct np_reader *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s:%u: %s", r->name, (unsigned)r->line, msg);
    return -1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool field_is(struct np_field f, const char *word)
{
    return f.n == strlen(word) && memcmp(f.s, word, f.n) == 0;
}

/* Splits s[0..e) into at most max fields; returns how many there were, max + 1 if more. */
static size_t split_fields(const char *s, const char *e, struct np_field *f, size_t max)
{
    size_t n = 0;
    for (;;) {
        while (s < e && is_blank(*s))
            s++;
        if (s == e)
            return n;
        if (n == max)
            return max + 1;
        const char *w = s;
        while (s < e && !is_blank(*s))
            s++;
        f[n++] = (struct np_field){w, (size_t)(s - w)};
    }
}

/* Line 1: "# vigil-numbering 1", maybe followed by free text (a date, a source). */
static int parse_version(struct np_reader *r, const char *s, const char *e)
{
    while (s < e && is_blank(*s))
        s++;
    struct np_field f[2];
    size_t n = s < e && *s == '#' ? split_fields(s + 1, e, f, 2) : 0;
    if (n < 1 || !field_is(f[0], "vigil-numbering"))
        return table_error(r, "not a vigil numbering table: line 1 must be '# vigil-numbering %d'",
                           VIGIL_NUMBERING_VERSION);
    if (n < 2)
        return table_error(r, "no format version after 'vigil-numbering' (want %d)",
                           VIGIL_NUMBERING_VERSION);
    char want[16];
    snprintf(want, sizeof want, "%d", VIGIL_NUMBERING_VERSION);
    if (!field_is(f[1], want))
        return table_error(r,
                           "format version '%.*s' is not supported (this vigil reads version %d)",
                           (int)f[1].n, f[1].s, VIGIL_NUMBERING_VERSION);
    return 0;
}

static int parse_type(struct np_reader *r, struct np_field f, enum vigil_numtype *out)
{
    *out = VIGIL_NUM_UNKNOWN;
    if (field_is(f, "-"))
        return 0;
    for (int t = VIGIL_NUM_FIXED; t <= VIGIL_NUM_EMERGENCY; t++) {
        if (field_is(f, vigil_numtype_str((enum vigil_numtype)t))) {
            *out = (enum vigil_numtype)t;
            return 0;
        }
    }
    return table_error(r,
                       "bad type '%.*s' (want fixed, mobile, toll_free, premium, shared_cost, "
                       "personal, voip, m2m, pager, satellite, emergency or -)",
                       (int)f.n, f.s);
}

static int parse_flags(struct np_reader *r, struct np_field f, uint8_t *out)
{
    *out = 0;
    if (field_is(f, "-"))
        return 0;
    const char *s = f.s, *e = f.s + f.n;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(e - s));
        struct np_field w = {s, (size_t)((comma ? comma : e) - s)};
        if (field_is(w, "high_risk"))
            *out |= NP_HIGH_RISK;
        else if (field_is(w, "premium"))
            *out |= NP_PREMIUM;
        else
            return table_error(r,
                               "bad flags '%.*s' (want high_risk, premium, both joined by a "
                               "comma, or -)",
                               (int)f.n, f.s);
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

/* An emergency short code row: "112 emergency - -". */
static int parse_short_row(struct np_reader *r, const struct np_field *f, enum vigil_numtype type)
{
    if (type != VIGIL_NUM_EMERGENCY || !field_is(f[2], "-") || !field_is(f[3], "-"))
        return table_error(r,
                           "short code '%.*s': only emergency numbers are listed as short codes "
                           "(want type emergency, flags - and rate -)",
                           (int)f[0].n, f[0].s);
    const struct np_short *dup = find_emergency(r->np, f[0].s, f[0].n);
    if (dup)
        return table_error(r, "duplicate prefix '%.*s' (first on line %u)", (int)f[0].n, f[0].s,
                           (unsigned)dup->line);
    if (add_emergency(r->np, f[0].s, f[0].n, r->line) != 0)
        return table_error(r, "out of memory");
    return 0;
}

static int parse_row(struct np_reader *r, const char *s, const char *e)
{
    const char *hash = memchr(s, '#', (size_t)(e - s));
    struct np_field f[4];
    size_t n = split_fields(s, hash ? hash : e, f, 4);
    if (n == 0)
        return 0;
    if (n != 4)
        return table_error(r, "%s fields, want 4: prefix type flags rate (notes go after '#')",
                           n < 4 ? "too few" : "too many");

    enum vigil_numtype type;
    bool is_e164 = valid_prefix(f[0].s, f[0].n);
    if (!is_e164 && !valid_short(f[0].s, f[0].n))
        return table_error(r,
                           "bad prefix '%.*s' (want '+' and up to %d digits, e.g. +881, or an "
                           "emergency short code, e.g. 112)",
                           (int)f[0].n, f[0].s, VIGIL_NUMBER_MAX);
    if (parse_type(r, f[1], &type) != 0)
        return -1;
    if (!is_e164)
        return parse_short_row(r, f, type);
    if (type == VIGIL_NUM_EMERGENCY)
        return table_error(r, "type emergency is for short codes as dialled (e.g. 112), not '%.*s'",
                           (int)f[0].n, f[0].s);
    uint8_t flags;
    if (parse_flags(r, f[2], &flags) != 0)
        return -1;
    double rate = 0.0;
    if (!field_is(f[3], "-") && !parse_rate(f[3].s, f[3].n, &rate))
        return table_error(r, "bad rate '%.*s' (want EUR per minute, e.g. 0.80, or -)", (int)f[3].n,
                           f[3].s);

    struct np_node *node = node_at(r->np, f[0].s + 1, f[0].n - 1);
    if (!node)
        return table_error(r, "out of memory");
    if (node->line)
        return table_error(r, "duplicate prefix '%.*s' (first on line %u)", (int)f[0].n, f[0].s,
                           (unsigned)node->line);
    node->line = r->line;
    node->type = (uint8_t)type;
    node->flags |= flags;
    if (!field_is(f[3], "-")) {
        node->flags |= NP_HAS_RATE;
        node->rate = rate;
    }
    return 0;
}

static int parse_table(struct np_reader *r, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    r->line = 0;
    /* At least one line, so that an empty table fails on its missing version line. */
    do {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        r->line++;
        int rc = r->line == 1 ? parse_version(r, p, eol) : parse_row(r, p, eol);
        if (rc != 0)
            return rc;
        p = nl ? nl + 1 : end;
    } while (p < end);
    return 0;
}

/* The whole of the file at path, NUL-terminated, in a buffer the caller frees; its length
 * in *len. NULL with a message in err. */
static char *read_table_file(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "numbering.file: cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - n < 2) {
            if (cap >= TABLE_MAX_BYTES) {
                snprintf(err, errlen, "numbering.file: '%s' is larger than %zu MiB", path,
                         TABLE_MAX_BYTES >> 20);
                goto fail;
            }
            size_t ncap = cap ? cap * 2 : 16384;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                snprintf(err, errlen, "numbering.file: '%s': out of memory", path);
                goto fail;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "numbering.file: cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;

fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* Reads the table: numbering.file when set, else the built-in one. */
static int load_table(struct vigil_numplan *np, const struct vigil_config *cfg, char *err,
                      size_t errlen)
{
    struct np_reader r = {.np = np, .name = BUILTIN_NAME, .err = err, .errlen = errlen};
    const char *path = vigil_config_str(cfg, "numbering.file");
    if (path[0] == '\0')
        return parse_table(&r, vigil_numbering_builtin, strlen(vigil_numbering_builtin));

    size_t len;
    char *text = read_table_file(path, &len, err, errlen);
    if (!text)
        return -1;
    r.name = path;
    int rc;
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        r.line = 1;
        for (const char *c = text; c < nul; c++)
            r.line += *c == '\n';
        rc = table_error(&r, "NUL byte in line");
    } else {
        rc = parse_table(&r, text, len);
    }
    free(text);
    return rc;
}

/* --- the numbering.* keys, applied over the table ----------------------------------------- */

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
        /* Overriding the table's rate is the point; two rates for one prefix in the key is a
         * typing mistake: say so rather than pick one. */
        if (node->flags & NP_KEY_RATE) {
            snprintf(err, errlen, "numbering.rates: duplicate prefix '%.*s'",
                     (int)(colon - list[i]), list[i]);
            return -1;
        }
        node->flags |= NP_HAS_RATE | NP_KEY_RATE;
        node->rate = rate;
    }
    return 0;
}

static int load_emergency(struct vigil_numplan *np, const struct vigil_config *cfg, char *err,
                          size_t errlen)
{
    size_t n = 0;
    const char *const *list = vigil_config_list(cfg, "numbering.emergency", &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(list[i]);
        if (!valid_short(list[i], len))
            return bad_entry(err, errlen, "emergency", list[i],
                             "short codes as dialled only: 3 to 6 digits, e.g. 112");
        if (!find_emergency(np, list[i], len) && add_emergency(np, list[i], len, 0) != 0) {
            snprintf(err, errlen, "numbering: out of memory");
            return -1;
        }
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

    /* The table first, then the keys over it: they add to it and override its rates. */
    if (load_scalars(np, cfg, err, errlen) != 0 || load_table(np, cfg, err, errlen) != 0 ||
        load_emergency(np, cfg, err, errlen) != 0 ||
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
        if (strcmp(np->emergency[i].code, number) == 0) {
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

const char *vigil_numplan_home_cc(const struct vigil_numplan *np)
{
    return np->home_cc;
}

size_t vigil_numplan_emergency_count(const struct vigil_numplan *np)
{
    return np->n_emergency;
}

const char *vigil_numplan_emergency_at(const struct vigil_numplan *np, size_t i)
{
    return i < np->n_emergency ? np->emergency[i].code : NULL;
}

/* Depth first over the trie, digits in order; buf holds '+' and the digits down to cur. */
static int each_prefix(const struct vigil_numplan *np, int32_t cur, char *buf, size_t depth,
                       int (*fn)(void *ctx, const char *prefix), void *ctx)
{
    const struct np_node *node = &np->nodes[cur];
    if (cur != 0 && (node->type || node->flags)) {
        buf[depth + 1] = '\0';
        int rc = fn(ctx, buf);
        if (rc != 0)
            return rc;
    }
    if (depth >= VIGIL_NUMBER_MAX)
        return 0;
    for (int c = 0; c < 10; c++) {
        if (node->child[c] == 0)
            continue;
        buf[depth + 1] = (char)('0' + c);
        int rc = each_prefix(np, node->child[c], buf, depth + 1, fn, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int vigil_numplan_each_prefix(const struct vigil_numplan *np,
                              int (*fn)(void *ctx, const char *prefix), void *ctx)
{
    char buf[VIGIL_NUMBER_MAX + 2] = "+";
    return each_prefix(np, 0, buf, 0, fn, ctx);
}
