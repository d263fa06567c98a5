/* SPDX-License-Identifier: Apache-2.0 */
/* config.c - the configuration: the core keys, the file parser, validation and getters.
 *
 * Threading: create, load_file and set run on one thread at start-up; after that the
 * object is read-only and any thread may call the getters at once.
 * Ownership: the config owns every string and list it returns; they live until destroy.
 *
 * The known keys are the core table below plus each registered detector's keys. Every
 * value is parsed and validated when it is set (defaults included, at create), so the
 * getters never fail on input: only a wrong key name or type, a programming error, aborts.
 * A file is applied all or nothing: every line is validated first, and the configuration
 * changes only if the whole file is good. A value replaced by load or set is kept (retired)
 * until destroy, so a string or list handed out earlier stays valid as config.h promises.
 * Start-up code only: lookups are linear, nothing here is on the per-event path.
 */
#include "vigil/config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "vigil/event.h"
#include "vigil/status.h"

#define ERRSTR_MAX 512
#define NAME_MAX_LEN 128 /* "section.key" */

/* A value as parsed for its key's type. */
struct cfg_value {
    char *text;         /* as written (trimmed, unquoted); owned */
    int64_t i;          /* VIGIL_CFG_INT */
    int b;              /* VIGIL_CFG_BOOL: 0 or 1 */
    const char **words; /* VIGIL_CFG_LIST: n words then NULL; owned array */
    char *wordbuf;      /* VIGIL_CFG_LIST: storage the words point into; owned */
    size_t n;
};

/* Extra validation a key needs beyond its type. Returns 0, or -1 with a message in msg.
 * May amend the value (orders.exempt adds 112). */
typedef int (*cfg_check_fn)(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                            char *msg, size_t len);

struct core_key {
    struct vigil_config_key key;
    cfg_check_fn check; /* NULL: the type says it all */
};

struct entry {
    const struct vigil_config_key *key;
    cfg_check_fn check;
    struct cfg_value val;
    bool variant;  /* "key@profile": a per-profile override of a detector INT key */
    bool explicit; /* set by a file or set(), not the default */
    bool declared; /* a "key@profile" whose default its detector declared: in force unless set */
};

/* A librdkafka.* key: any name under that prefix, its value passed to librdkafka as is. */
struct passthru {
    char *name; /* "librdkafka.security.protocol"; owned */
    struct cfg_value val; /* text only */
};

struct vigil_config {
    struct entry *entries;
    size_t n;
    struct cfg_value *retired; /* replaced values, freed at destroy */
    size_t n_retired, cap_retired;
    char errstr[ERRSTR_MAX];
    /* Per-profile override keys ("toll_fraud.spend_1h_eur@callcenter"), made at create for
     * every detector INT key and profile its detector did not declare; their names live in
     * variant_names. */
    struct vigil_config_key *variant_keys;
    char *variant_names;
    struct passthru *pt; /* librdkafka.* keys, in the order first set */
    size_t n_pt, cap_pt;
    /* The parts whose keys and rules it knows besides the core's (the detectors); owned copy. */
    struct vigil_config_part *parts;
    size_t n_parts;
};

static const char *const profile_names[VIGIL_PROFILE_COUNT] = {
    "default", "consumer", "business", "callcenter", "service_popular",
};

const char *vigil_profile_name(enum vigil_profile p)
{
    return p >= 0 && p < VIGIL_PROFILE_COUNT ? profile_names[p] : "default";
}

/* --- checks for core keys ---------------------------------------------------------------- */

static bool all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strspn(s, "0123456789");
    return s[n] == '\0' && n >= min && n <= max;
}

/* A table prefix as the number plan takes it: '+' and 1..VIGIL_NUMBER_MAX digits. */
static bool is_e164_prefix(const char *s)
{
    return s[0] == '+' && all_digits(s + 1, 1, VIGIL_NUMBER_MAX);
}

/* A non-negative decimal amount: "0.10", "10", "2.5". */
static bool parse_amount(const char *s, double *out)
{
    if (!*s || strspn(s, "0123456789.") != strlen(s))
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno || !isfinite(d) || d < 0)
        return false;
    *out = d;
    return true;
}

static int check_pow2(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                      char *msg, size_t len)
{
    if (v->i > 0 && (v->i & (v->i - 1)) == 0)
        return 0;
    snprintf(msg, len, "bad value '%s' for '%s': not a power of two", v->text, name);
    return -1;
}

static int check_offset_reset(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                              char *msg, size_t len)
{
    /* librdkafka's auto.offset.reset values, aliases included. */
    static const char *const ok[] = {"earliest", "smallest", "beginning", "latest",
                                     "largest",  "end",      "error"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(v->text, ok[i]) == 0)
            return 0;
    snprintf(msg, len, "bad value '%s' for '%s': not one of earliest, latest, error", v->text,
             name);
    return -1;
}

static int check_assignor(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                          char *msg, size_t len)
{
    static const char *const ok[] = {"range", "roundrobin", "cooperative-sticky"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(v->text, ok[i]) == 0)
            return 0;
    snprintf(msg, len,
             "bad value '%s' for '%s': not one of range, roundrobin, cooperative-sticky",
             v->text, name);
    return -1;
}

static int check_cc(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                    char *msg, size_t len)
{
    const char *cc = v->text[0] == '+' ? v->text + 1 : v->text;
    if (all_digits(cc, 1, 3) && cc[0] != '0')
        return 0;
    snprintf(msg, len, "bad value '%s' for '%s': not a country calling code (1 to 3 digits)",
             v->text, name);
    return -1;
}

static int check_prefixes(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                          char *msg, size_t len)
{
    for (size_t i = 0; i < v->n; i++) {
        if (!is_e164_prefix(v->words[i])) {
            snprintf(msg, len, "bad entry '%s' in '%s': not a prefix ('+' and digits, e.g. +881)",
                     v->words[i], name);
            return -1;
        }
    }
    return 0;
}

static int check_numbers(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                         char *msg, size_t len)
{
    for (size_t i = 0; i < v->n; i++) {
        const char *w = v->words[i];
        if (!all_digits(w[0] == '+' ? w + 1 : w, 1, VIGIL_NUMBER_MAX)) {
            snprintf(msg, len,
                     "bad entry '%s' in '%s': not a number (digits, optionally after '+')", w,
                     name);
            return -1;
        }
    }
    return 0;
}

static int check_short_codes(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                             char *msg, size_t len)
{
    /* Short codes as dialled, the form the number plan matches them in. */
    for (size_t i = 0; i < v->n; i++) {
        if (!all_digits(v->words[i], 3, 6) || v->words[i][0] == '0') {
            snprintf(msg, len, "bad entry '%s' in '%s': not a short code (3 to 6 digits, e.g. 112)",
                     v->words[i], name);
            return -1;
        }
    }
    return 0;
}

static int check_exempt(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                        char *msg, size_t len)
{
    if (check_numbers(cfg, name, v, msg, len))
        return -1;
    /* 112 stays reachable whatever the operator wrote (terms.md): add it if missing. The
     * words array always has a spare slot for this (see split_words). */
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->words[i], "112") == 0)
            return 0;
    v->words[v->n++] = "112";
    v->words[v->n] = NULL;
    return 0;
}

static int check_rates(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                       char *msg, size_t len)
{
    for (size_t i = 0; i < v->n; i++) {
        const char *w = v->words[i];
        const char *colon = strchr(w, ':');
        char prefix[24];
        double rate;
        size_t plen = colon ? (size_t)(colon - w) : 0;
        if (colon && plen < sizeof prefix) {
            memcpy(prefix, w, plen);
            prefix[plen] = '\0';
            if (is_e164_prefix(prefix) && parse_amount(colon + 1, &rate))
                continue;
        }
        snprintf(msg, len, "bad entry '%s' in '%s': not PREFIX:EUR_PER_MIN (e.g. +881:10.00)", w,
                 name);
        return -1;
    }
    return 0;
}

static int check_amount(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                        char *msg, size_t len)
{
    double d;
    if (parse_amount(v->text, &d))
        return 0;
    snprintf(msg, len, "bad value '%s' for '%s': not an amount in EUR (e.g. 0.10)", v->text, name);
    return -1;
}

static int check_accounts(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                          char *msg, size_t len)
{
    /* The account id syntax of the wire format (events.md). */
    static const char idchars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789._:-";
    for (size_t i = 0; i < v->n; i++) {
        size_t n = strlen(v->words[i]);
        if (n > 64 || strspn(v->words[i], idchars) != n) {
            snprintf(msg, len,
                     "bad entry '%s' in '%s': not an account id (1 to 64 of A-Z a-z 0-9 . _ : -)",
                     v->words[i], name);
            return -1;
        }
    }
    return 0;
}

static int check_orders_mode(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                             char *msg, size_t len)
{
    if (strcmp(v->text, "enforce") == 0 || strcmp(v->text, "report") == 0)
        return 0;
    snprintf(msg, len, "bad value '%s' for '%s': not one of enforce, report", v->text, name);
    return -1;
}

static int check_log_format(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                            char *msg, size_t len)
{
    if (strcmp(v->text, "text") == 0 || strcmp(v->text, "json") == 0)
        return 0;
    snprintf(msg, len, "bad value '%s' for '%s': not one of text, json", v->text, name);
    return -1;
}

/* A known detector ("bulk_sms") or one of the rules it reports ("bulk_sms.rate"). */
static bool is_detector_or_rule(const struct vigil_config *cfg, const char *w)
{
    for (size_t d = 0; cfg && d < cfg->n_parts; d++) {
        const struct vigil_config_part *part = &cfg->parts[d];
        if (strcmp(part->name, w) == 0)
            return true;
        for (const char *const *r = part->rules; r && *r; r++)
            if (strcmp(*r, w) == 0)
                return true;
    }
    return false;
}

static int check_report_rules(const struct vigil_config *cfg, const char *name, struct cfg_value *v,
                              char *msg, size_t len)
{
    for (size_t i = 0; i < v->n; i++) {
        if (!is_detector_or_rule(cfg, v->words[i])) {
            snprintf(msg, len,
                     "bad entry '%s' in '%s': not a detector or one of its rules (e.g. bulk_sms, "
                     "toll_fraud.spend_1h)",
                     v->words[i], name);
            return -1;
        }
    }
    return 0;
}

/* --- the core keys ----------------------------------------------------------------------- */

#define STR(name, def, doc)                                                                        \
    {                                                                                              \
        {name, VIGIL_CFG_STR, def, 0, 0, doc}, NULL                                                \
    }
#define STR_CHECK(name, def, check, doc)                                                           \
    {                                                                                              \
        {name, VIGIL_CFG_STR, def, 0, 0, doc}, check                                               \
    }
#define INT(name, def, min, max, doc)                                                              \
    {                                                                                              \
        {name, VIGIL_CFG_INT, #def, min, max, doc}, NULL                                           \
    }
#define INT_CHECK(name, def, min, max, check, doc)                                                 \
    {                                                                                              \
        {name, VIGIL_CFG_INT, #def, min, max, doc}, check                                          \
    }
#define LIST(name, def, check, doc)                                                                \
    {                                                                                              \
        {name, VIGIL_CFG_LIST, def, 0, 0, doc}, check                                              \
    }

static const struct core_key core_keys[] = {
    STR("kafka.events_topic", "vigil.events", "Topic the call and SMS events are read from."),
    STR("kafka.orders_topic", "vigil.orders",
        "Topic suspension orders are written to (read by provisioning)."),
    STR("kafka.alerts_topic", "vigil.alerts", "Topic NOC alerts are written to."),
    STR("kafka.dlq_topic", "vigil.dlq", "Topic invalid events are written to (dead letters)."),
    INT("kafka.session_timeout_ms", 45000, 1000, 3600000,
        "Consumer group session timeout: a silent member is dropped after this long."),
    INT("kafka.heartbeat_interval_ms", 3000, 100, 600000,
        "Consumer group heartbeat interval; keep it below a third of session_timeout_ms."),
    INT("kafka.fetch_wait_max_ms", 100, 1, 10000,
        "Longest a fetch waits for new events (librdkafka fetch.wait.max.ms). A real broker "
        "answers as soon as data arrives; the embedded one waits this long, so it bounds the "
        "event-to-order latency of a quiet stream there."),
    STR_CHECK("kafka.auto_offset_reset", "earliest", check_offset_reset,
              "Where a new consumer group starts: earliest, latest or error."),
    STR_CHECK("kafka.assignor", "range", check_assignor,
              "Partition assignment of the consumer group: range, roundrobin (eager: a "
              "rebalance revokes everything, with a commit) or cooperative-sticky."),
    INT("kafka.commit_interval_ms", 1000, 10, 60000,
        "How often offsets are committed, up to the last event whose effects are durable."),

    STR("redis.prefix", "vigil:", "Prefix of every Redis key vigil writes."),
    INT("redis.timeout_ms", 2000, 10, 60000, "Redis connect and command timeout."),
    STR("redis.password_file", "",
        "File whose first line is the Redis password, used when the --redis URL has none "
        "(then $VIGIL_REDIS_PASSWORD); empty: none. The user, for a Redis ACL user, is the "
        "URL's: redis://USER@HOST:PORT."),
    INT("privacy.pseudonymise", 0, 0, 1,
        "1: phone numbers leave vigil (Redis, orders, alerts, dead letters, logs) only as "
        "keyed tokens (pn: and 16 hex digits); needs privacy.key_file. Read at start."),
    STR("privacy.key_file", "",
        "File whose first line is the 32 hex digit key of the number tokens "
        "(privacy.pseudonymise); a new key gives new tokens. Read at start."),
    INT("redis.counter_ttl_s", 172800, 60, 31536000, "Time to live of Redis counter keys."),
    INT("redis.block_ttl_s", 2592000, 60, 31536000,
        "Time to live of a standing block in Redis; an order stands this long."),

    INT("vigild.workers", 0, 0, 64, "Worker threads; 0 = one per core."),
    INT_CHECK("vigild.ring_capacity", 1024, 16, 1048576, check_pow2,
              "Slots in each worker's event ring; a power of two."),
    INT("vigild.hold_commands", 200000, 100, 100000000,
        "Redis commands the publisher keeps while Redis is down or slow; past it, it stops "
        "taking the workers' outputs, their queues fill, and consumption pauses until Redis "
        "is back (backpressure)."),
    INT("vigild.flush_interval_ms", 50, 1, 10000,
        "How often the publisher makes outputs durable (one pipelined Redis round trip, "
        "Kafka delivery reports) and releases their offsets for commit."),
    INT("vigild.publish_interval_ms", 2000, 0, 60000,
        "How often an account's counters go to Redis: every detector's counters of an "
        "account in one command per interval, however many events it had; offsets wait "
        "for the counters before them. 0: with every flush."),
    INT("vigild.tick_interval_ms", 250, 1, 60000,
        "Under load, how often workers run detector timers and publish counters; a worker "
        "whose queue is empty does so at once."),
    INT("vigild.dedupe_window_ms", 3600000, 0, 86400000,
        "An event whose account and id were seen within this much event time is a repeat "
        "(at-least-once delivery) and is not counted again; 0 turns this off."),
    INT("vigild.dedupe_max_ids", 1000000, 1000, 100000000,
        "Event ids each worker remembers per dedupe window (about 16 bytes each); past it, "
        "repeats of newer ids count again."),
    INT("vigild.checkpoint", 1, 0, 1,
        "1: every tick, checkpoint the detector state of the accounts it changed to Redis, "
        "atomically with the offsets it reflects, and load it on partition assignment, so a "
        "restart or a rebalance resumes where the state left off; 0: state starts empty."),
    INT("vigild.checkpoint_interval_ms", 1000, 0, 60000,
        "How often a worker checkpoints the accounts it changed (and reports the offsets "
        "they reflect, so commits follow at this pace); 0: every tick. A crash re-reads at "
        "most this much of the stream."),
    INT("vigild.max_accounts", 1000000, 1000, 1000000000,
        "Accounts a worker keeps in memory; past it, the least recently seen tenth is evicted "
        "(their checkpoint stays in Redis until their partition is next assigned)."),
    INT("vigild.disorder_ms", 60000, 0, 3600000,
        "Allowed event-time disorder: the watermark is the highest event time seen minus this."),
    INT("vigild.gap_ms", 1800000, 60000, 86400000,
        "A partition's clock moves with its events up to this far at a step; an event further "
        "ahead counts for its own account but moves the clock only once events of "
        "vigild.clock_confirm_accounts accounts confirm it, and that jump is reported as a gap "
        "(timers due inside it alert, never order)."),
    INT("vigild.clock_confirm_accounts", 3, 1, 8,
        "How many distinct accounts must claim a time beyond vigild.gap_ms ahead before a "
        "partition's clock jumps there (1: any event moves it, as before)."),

    STR_CHECK("numbering.home_cc", "31", check_cc,
              "Home country calling code: calls to other codes are international."),
    STR("numbering.file", "",
        "Number table file replacing the built-in data/numbering.tsv, in its format (version "
        "line, then PREFIX TYPE FLAGS RATE rows); empty: the built-in table. The keys below "
        "extend whichever table is used."),
    LIST("numbering.high_risk_prefixes", "", check_prefixes,
         "High-risk destinations (IRSF targets, satellite, IPRS) as E.164 prefixes, added to "
         "those the number table flags high_risk."),
    LIST("numbering.premium_prefixes", "", check_prefixes,
         "Premium-rate ranges as E.164 prefixes, added to those the number table flags "
         "premium."),
    LIST("numbering.rates", "", check_rates,
         "Termination cost by prefix as PREFIX:EUR_PER_MIN, over the number table's rates (a "
         "prefix given here replaces its rate there); longest prefix wins; used when an event "
         "has no cost."),
    STR_CHECK("numbering.default_rate", "0.10", check_amount,
              "Cost in EUR per minute of a number no rate prefix matches."),
    LIST("numbering.emergency", "", check_short_codes,
         "Emergency numbers as dialled, added to the number table's (112, 911): never "
         "blocked, never counted as abuse."),

    LIST("orders.allowlist", "", check_accounts,
         "Accounts that get alerts but never orders (account ids)."),
    LIST("orders.exempt", "112", check_exempt,
         "Numbers every order keeps reachable, besides 112 and the number table's emergency "
         "numbers, which are always in; orders list them as a SIP proxy sees them (0... and "
         "00... as +E.164)."),
    STR_CHECK("orders.mode", "enforce", check_orders_mode,
              "enforce: issue orders; report: run every rule but issue no order and write no "
              "block key; each order that would have been issued goes out as its critical "
              "alert with \"would_order\": ACTION."),
    LIST("orders.report_rules", "", check_report_rules,
         "Rules (toll_fraud.spend_1h) or whole detectors (bulk_sms) that are report-only while "
         "the others enforce: their orders go out as alerts with \"would_order\"."),
    INT("orders.max_per_minute", 20, 0, 100000,
        "The order brake: at most this many orders in any minute across all vigild of the "
        "group (counted in Redis); further orders are held for an operator (vigilctl held, "
        "release, discard). 0: no brake."),
    LIST("profiles.consumer", "", check_accounts,
         "Accounts in the consumer profile (detector keys may be overridden per profile with "
         "KEY@consumer)."),
    LIST("profiles.business", "", check_accounts, "Accounts in the business profile."),
    LIST("profiles.callcenter", "", check_accounts, "Accounts in the callcenter profile."),
    LIST("profiles.service_popular", "", check_accounts,
         "Accounts in the service_popular profile: popular paid service numbers."),
    INT("alerts.cooldown_s", 900, 0, 86400,
        "Minimum seconds between two alerts of the same detector for the same account."),
    STR("alerts.alertmanager_url", "",
        "Prometheus Alertmanager to post every alert to (http://HOST:PORT; POST "
        "/api/v2/alerts), re-sent every minute while its order stands and resolved when the "
        "order is lifted or expires; empty: none."),
    STR("alerts.webhook_url", "",
        "URL every alert is POSTed to as the JSON of the alerts topic (http://...); empty: "
        "none."),
    INT("alerts.delivery_backlog", 10000, 10, 1000000,
        "Alerts kept for Alertmanager or the webhook while a receiver is down; past it the "
        "oldest are dropped (counted and logged)."),
    STR("http.listen", "",
        "HOST:PORT of vigild's HTTP endpoints (/metrics, /healthz, /readyz); empty: off. The "
        "--http flag sets it."),
    STR_CHECK("log.format", "text", check_log_format,
              "text: one readable line per message; json: one JSON object per line (ts, "
              "time, level, prog, msg), for log shippers."),
};

#define N_CORE (sizeof core_keys / sizeof core_keys[0])

/* --- small helpers ----------------------------------------------------------------------- */

static void set_err(struct vigil_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct vigil_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->errstr, sizeof cfg->errstr, fmt, ap);
    va_end(ap);
}

static void value_free(struct cfg_value *v)
{
    free(v->text);
    free(v->words);
    free(v->wordbuf);
    memset(v, 0, sizeof *v);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '@';
}

static bool valid_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_name_char(*s))
            return false;
    return true;
}

/* Trims s in place; returns the first non-space character. */
static char *trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

static const char *type_name(enum vigil_cfg_type t)
{
    switch (t) {
    case VIGIL_CFG_INT:
        return "integer";
    case VIGIL_CFG_STR:
        return "string";
    case VIGIL_CFG_BOOL:
        return "boolean";
    case VIGIL_CFG_LIST:
        return "list";
    }
    return "unknown type";
}

/* Splits text on spaces, tabs and commas into v->words (one spare slot, then NULL). */
static int split_words(struct cfg_value *v, const char *text)
{
    v->wordbuf = strdup(text);
    if (!v->wordbuf)
        return VIGIL_ERR_NOMEM;
    size_t max = 0;
    for (const char *p = text; *p; p++)
        max++;
    /* At most (len + 1) / 2 words, plus a spare slot for a check to append, plus NULL. */
    v->words = calloc((max + 1) / 2 + 2, sizeof *v->words);
    if (!v->words)
        return VIGIL_ERR_NOMEM;
    v->n = 0;
    char *p = v->wordbuf;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        v->words[v->n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != ',')
            p++;
        if (*p)
            *p++ = '\0';
    }
    v->words[v->n] = NULL;
    return 0;
}

/* Parses text as a value of key k into out (zeroed first). Returns 0; 1 with a message in
 * msg when the value is bad (out stays empty); VIGIL_ERR_NOMEM (a negative status). */
static int parse_value(const struct vigil_config *cfg, const struct vigil_config_key *k,
                       cfg_check_fn check, const char *text, struct cfg_value *out, char *msg,
                       size_t len)
{
    memset(out, 0, sizeof *out);
    out->text = strdup(text);
    if (!out->text)
        return VIGIL_ERR_NOMEM;

    switch (k->type) {
    case VIGIL_CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (end == text || *end || is_space(*text)) {
            snprintf(msg, len, "bad value '%s' for '%s': not an integer", text, k->name);
            goto bad;
        }
        if (errno == ERANGE || v < k->min || v > k->max) {
            snprintf(msg, len, "bad value '%s' for '%s': out of range %" PRId64 "..%" PRId64, text,
                     k->name, k->min, k->max);
            goto bad;
        }
        out->i = v;
        break;
    }
    case VIGIL_CFG_STR:
        /* A string key with an empty default is optional ("" = not set); others need text. */
        if (!*text && k->def && *k->def) {
            snprintf(msg, len, "empty value for '%s'", k->name);
            goto bad;
        }
        break;
    case VIGIL_CFG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        out->b = -1;
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(text, yes[i]) == 0)
                out->b = 1;
            else if (strcasecmp(text, no[i]) == 0)
                out->b = 0;
        }
        if (out->b < 0) {
            snprintf(msg, len,
                     "bad value '%s' for '%s': not a boolean (true/false, yes/no, on/off, 1/0)",
                     text, k->name);
            goto bad;
        }
        break;
    }
    case VIGIL_CFG_LIST:
        if (split_words(out, text)) {
            value_free(out);
            return VIGIL_ERR_NOMEM;
        }
        break;
    default:
        snprintf(msg, len, "key '%s' has an unknown type %d", k->name, (int)k->type);
        goto bad;
    }
    if (check && check(cfg, k->name, out, msg, len))
        goto bad;
    return 0;
bad:
    value_free(out);
    return 1;
}

static struct entry *find_entry(const struct vigil_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->entries[i].key->name, name) == 0)
            return &cfg->entries[i];
    return NULL;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions, the commonest
 * typo), or a number > limit when the lengths alone rule it out. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > limit || la >= NAME_MAX_LEN || lb >= NAME_MAX_LEN)
        return limit + 1;
    size_t rows[3][NAME_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t d = prev[j - 1] + cost;
            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

static const char *key_part(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

/* The known key an unknown name most likely meant, or NULL: the closest within edit
 * distance 2, else the only key with the same name in another section ("workers" written
 * outside [vigild], "timeout_ms" under the wrong section). */
static const char *suggest(const struct vigil_config *cfg, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < cfg->n; i++) {
        size_t d = edit_distance(name, cfg->entries[i].key->name, 2);
        if (d < best_d) {
            best_d = d;
            best = cfg->entries[i].key->name;
        }
    }
    if (best)
        return best;
    const char *part = key_part(name);
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(key_part(cfg->entries[i].key->name), part) == 0) {
            if (best)
                return NULL; /* ambiguous */
            best = cfg->entries[i].key->name;
        }
    }
    return best;
}

/* Keys that were removed, with what to write instead: naming one fails with that spelling
 * rather than a guess. */
static const struct {
    const char *old, *now;
} removed_keys[] = {
    /* The service_popular threshold became a per-profile default of its key (config.h). */
    {"premium.inbound_calls_1h_popular", "premium.inbound_calls_1h@service_popular"},
};

static void unknown_key_msg(const struct vigil_config *cfg, const char *name, char *msg, size_t len)
{
    for (size_t i = 0; i < sizeof removed_keys / sizeof removed_keys[0]; i++) {
        if (strcmp(name, removed_keys[i].old) == 0) {
            snprintf(msg, len, "unknown key '%s' (removed): write '%s' instead", name,
                     removed_keys[i].now);
            return;
        }
    }
    const char *s = suggest(cfg, name);
    if (s)
        snprintf(msg, len, "unknown key '%s', did you mean '%s'?", name, s);
    else
        snprintf(msg, len, "unknown key '%s'", name);
}

/* Makes room for n more retired values, so that a commit cannot fail half-way. */
static int reserve_retired(struct vigil_config *cfg, size_t n)
{
    if (cfg->cap_retired - cfg->n_retired >= n)
        return 0;
    size_t cap = cfg->cap_retired ? cfg->cap_retired : 16;
    while (cap - cfg->n_retired < n)
        cap *= 2;
    struct cfg_value *r = realloc(cfg->retired, cap * sizeof *r);
    if (!r)
        return VIGIL_ERR_NOMEM;
    cfg->retired = r;
    cfg->cap_retired = cap;
    return 0;
}

/* Gives e the value *v (moved); the old value is retired. Room must have been reserved. */
static void replace_value(struct vigil_config *cfg, struct entry *e, struct cfg_value *v)
{
    cfg->retired[cfg->n_retired++] = e->val;
    e->val = *v;
    memset(v, 0, sizeof *v);
}

/* --- librdkafka.* passthrough ------------------------------------------------------------ */

#define PASSTHRU_PREFIX "librdkafka."
#define PASSTHRU_PREFIX_LEN (sizeof PASSTHRU_PREFIX - 1)

/* librdkafka properties vigil sets itself, from its flags and keys or because its guarantees
 * depend on them: `librdkafka.<name>` is refused, naming what to use instead. */
static const struct {
    const char *name, *instead;
} owned_properties[] = {
    {"bootstrap.servers", "--brokers"},
    {"metadata.broker.list", "--brokers"},
    {"group.id", "--group"},
    {"enable.auto.commit", "nothing: vigil commits only offsets whose effects are durable"},
    {"enable.auto.offset.store", "nothing: vigil commits only offsets whose effects are durable"},
    {"auto.offset.reset", "kafka.auto_offset_reset"},
    {"partition.assignment.strategy", "kafka.assignor"},
    {"session.timeout.ms", "kafka.session_timeout_ms"},
    {"heartbeat.interval.ms", "kafka.heartbeat_interval_ms"},
    {"fetch.wait.max.ms", "kafka.fetch_wait_max_ms"},
    {"enable.partition.eof", "nothing: the workers' clocks need end-of-partition events"},
    {"enable.idempotence", "nothing: vigil's producers are always idempotent"},
};

static bool is_passthru(const char *name)
{
    return strncmp(name, PASSTHRU_PREFIX, PASSTHRU_PREFIX_LEN) == 0;
}

/* Checks a librdkafka.* name (librdkafka itself checks the property and its value when a
 * client is created). Returns 0, or 1 with a message in msg. */
static int check_passthru(const char *name, char *msg, size_t len)
{
    const char *prop = name + PASSTHRU_PREFIX_LEN;
    if (!*prop) {
        snprintf(msg, len, "'%s' names no librdkafka property (librdkafka.PROPERTY)", name);
        return 1;
    }
    for (size_t i = 0; i < sizeof owned_properties / sizeof owned_properties[0]; i++) {
        if (strcmp(prop, owned_properties[i].name) == 0) {
            snprintf(msg, len, "'%s': vigil sets %s itself; use %s", name, prop,
                     owned_properties[i].instead);
            return 1;
        }
    }
    return 0;
}

static struct passthru *find_passthru(const struct vigil_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_pt; i++)
        if (strcmp(cfg->pt[i].name, name) == 0)
            return &cfg->pt[i];
    return NULL;
}

/* Makes room for n more passthrough keys, so that a commit cannot fail half-way. */
static int reserve_passthru(struct vigil_config *cfg, size_t n)
{
    if (cfg->cap_pt - cfg->n_pt >= n)
        return 0;
    size_t cap = cfg->cap_pt ? cfg->cap_pt : 8;
    while (cap - cfg->n_pt < n)
        cap *= 2;
    struct passthru *p = realloc(cfg->pt, cap * sizeof *p);
    if (!p)
        return VIGIL_ERR_NOMEM;
    cfg->pt = p;
    cfg->cap_pt = cap;
    return 0;
}

/* Sets a passthrough key: *name and *v are moved in. Room must have been reserved (one
 * passthrough slot and one retired value). */
static void commit_passthru(struct vigil_config *cfg, char **name, struct cfg_value *v)
{
    struct passthru *p = find_passthru(cfg, *name);
    if (p) {
        free(*name);
        cfg->retired[cfg->n_retired++] = p->val;
    } else {
        p = &cfg->pt[cfg->n_pt++];
        p->name = *name;
    }
    *name = NULL;
    p->val = *v;
    memset(v, 0, sizeof *v);
}

bool vigil_config_secret(const char *name)
{
    static const char *const parts[] = {"password", "secret", "sasl.oauthbearer.config",
                                        "ssl.key.pem", "ssl_key", "sasl.jaas"};
    /* A file's name is not its content (redis.password_file). */
    size_t n = strlen(name);
    if (n >= 5 && strcmp(name + n - 5, "_file") == 0)
        return false;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(name, parts[i]))
            return true;
    return false;
}

void vigil_config_foreach_librdkafka(const struct vigil_config *cfg,
                                     void (*fn)(const char *property, const char *value,
                                                void *arg),
                                     void *arg)
{
    for (size_t i = 0; i < cfg->n_pt; i++)
        fn(cfg->pt[i].name + PASSTHRU_PREFIX_LEN, cfg->pt[i].val.text, arg);
}

/* One "name = value" line of the dump, quoted where the file format needs it. */
static void dump_line(FILE *f, const char *name, const char *value)
{
    if (vigil_config_secret(name) && *value) {
        fprintf(f, "%s = ***\n", name);
        return;
    }
    size_t n = strlen(value);
    if (n == 0) {
        fprintf(f, "%s =\n", name);
        return;
    }
    bool quote = (value[0] == ' ' || value[n - 1] == ' ' || value[0] == '"' ||
                           strchr(value, '#') || strchr(value, ';'));
    if (!quote) {
        fprintf(f, "%s = %s\n", name, value);
        return;
    }
    fprintf(f, "%s = \"", name);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc('\\', f);
        fputc(*c, f);
    }
    fputs("\"\n", f);
}

void vigil_config_dump(const struct vigil_config *cfg, FILE *f)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const struct entry *e = &cfg->entries[i];
        /* A per-profile override is only in force when set or declared. */
        if (e->variant && !e->explicit && !e->declared)
            continue;
        dump_line(f, e->key->name, e->val.text);
    }
    for (size_t i = 0; i < cfg->n_pt; i++)
        dump_line(f, cfg->pt[i].name, cfg->pt[i].val.text);
}

/* --- create / destroy -------------------------------------------------------------------- */

/* Adds a known key with its default. owner names the table for messages. A bad table (bad
 * name, duplicate key, default that fails validation) is a bug in the code: abort. */
static void add_key(struct vigil_config *cfg, const struct vigil_config_key *k, cfg_check_fn check,
                    const char *owner, int *rc)
{
    if (*rc)
        return;
    if (!k->name || !valid_name(k->name) || strlen(k->name) >= NAME_MAX_LEN) {
        fprintf(stderr, "vigil_config_create: %s: bad key name '%s'\n", owner,
                k->name ? k->name : "(null)");
        abort();
    }
    if (find_entry(cfg, k->name)) {
        fprintf(stderr, "vigil_config_create: %s: key '%s' is declared twice\n", owner, k->name);
        abort();
    }
    struct entry *e = &cfg->entries[cfg->n];
    char msg[ERRSTR_MAX];
    int prc = parse_value(cfg, k, check, k->def ? k->def : "", &e->val, msg, sizeof msg);
    if (prc == VIGIL_ERR_NOMEM) {
        *rc = prc;
        return;
    }
    if (prc) {
        fprintf(stderr, "vigil_config_create: %s: bad default: %s\n", owner, msg);
        abort();
    }
    e->key = k;
    e->check = check;
    cfg->n++;
}

/* A `key@profile` entry of a detector table (config.h): `key` is an INT key declared before
 * it in the same table, the entry has its type and range, and the profile is one of
 * profile.h's but `default`. */
static int check_profile_default(const struct vigil_config_key *keys,
                                 const struct vigil_config_key *k, char *msg, size_t len)
{
    const char *at = strchr(k->name, '@');
    int blen = (int)(at - k->name);
    const struct vigil_config_key *base = NULL;
    for (const struct vigil_config_key *b = keys; b < k; b++)
        if ((int)strlen(b->name) == blen && strncmp(b->name, k->name, (size_t)blen) == 0)
            base = b;
    if (!base || base->type != VIGIL_CFG_INT) {
        snprintf(msg, len, "'%s': no INT key '%.*s' before it in the table", k->name, blen,
                 k->name);
        return VIGIL_ERR_CONFIG;
    }
    if (k->type != base->type || k->min != base->min || k->max != base->max) {
        snprintf(msg, len, "'%s': not an integer of the range of '%s' (%" PRId64 "..%" PRId64 ")",
                 k->name, base->name, base->min, base->max);
        return VIGIL_ERR_CONFIG;
    }
    for (int p = VIGIL_PROFILE_DEFAULT + 1; p < VIGIL_PROFILE_COUNT; p++)
        if (strcmp(at + 1, vigil_profile_name((enum vigil_profile)p)) == 0)
            return 0;
    snprintf(msg, len, "'%s': unknown profile '%s'", k->name, at + 1);
    return VIGIL_ERR_CONFIG;
}

int vigil_config_check_keys(const struct vigil_config_key *keys, char *msg, size_t len)
{
    for (const struct vigil_config_key *k = keys; k && k->name; k++) {
        if (!valid_name(k->name) || strlen(k->name) >= NAME_MAX_LEN) {
            snprintf(msg, len, "bad key name '%s'", k->name);
            return VIGIL_ERR_CONFIG;
        }
        for (const struct vigil_config_key *o = keys; o < k; o++) {
            if (strcmp(o->name, k->name) == 0) {
                snprintf(msg, len, "key '%s' is declared twice", k->name);
                return VIGIL_ERR_CONFIG;
            }
        }
        if (strchr(k->name, '@') && check_profile_default(keys, k, msg, len))
            return VIGIL_ERR_CONFIG;
        /* The default as the file would give it, so a bad one is caught here, not in use. */
        struct cfg_value v;
        char why[ERRSTR_MAX];
        int rc = parse_value(NULL, k, NULL, k->def ? k->def : "", &v, why, sizeof why);
        if (rc == VIGIL_ERR_NOMEM)
            return rc;
        if (rc) {
            snprintf(msg, len, "bad default: %s", why);
            return VIGIL_ERR_CONFIG;
        }
        value_free(&v);
    }
    return 0;
}

/* Adds "key@profile" for every detector INT key and every profile but the default: same
 * type, range and default as the key, used only when set explicitly. A `key@profile` its
 * detector declared is already there (create), with its own default in force. */
static int add_variants(struct vigil_config *cfg, size_t n_int)
{
    size_t nvar = n_int * (VIGIL_PROFILE_COUNT - 1);
    if (nvar == 0)
        return 0;
    cfg->variant_keys = calloc(nvar, sizeof *cfg->variant_keys);
    cfg->variant_names = calloc(nvar, NAME_MAX_LEN);
    if (!cfg->variant_keys || !cfg->variant_names)
        return VIGIL_ERR_NOMEM;
    size_t v = 0, nbase = cfg->n;
    for (size_t i = 0; i < nbase; i++) {
        const struct entry *base = &cfg->entries[i];
        if (base->key->type != VIGIL_CFG_INT || base->check || i < N_CORE || base->variant)
            continue;
        for (int p = 1; p < VIGIL_PROFILE_COUNT; p++, v++) {
            char *name = cfg->variant_names + v * NAME_MAX_LEN;
            int n = snprintf(name, NAME_MAX_LEN, "%s@%s", base->key->name,
                             vigil_profile_name((enum vigil_profile)p));
            if (n < 0 || n >= NAME_MAX_LEN)
                continue; /* too long a name to override; the base key still works */
            if (find_entry(cfg, name))
                continue; /* declared by the detector */
            cfg->variant_keys[v] = *base->key;
            cfg->variant_keys[v].name = name;
            cfg->variant_keys[v].doc = "Per-profile override.";
            int rc = 0;
            add_key(cfg, &cfg->variant_keys[v], NULL, "profile overrides", &rc);
            if (rc)
                return rc;
            cfg->entries[cfg->n - 1].variant = true;
        }
    }
    return 0;
}

struct vigil_config *vigil_config_create_with(const struct vigil_config_part *parts, size_t n)
{
    size_t total = N_CORE, n_int = 0;
    for (size_t d = 0; d < n; d++) {
        char msg[ERRSTR_MAX];
        int rc = vigil_config_check_keys(parts[d].keys, msg, sizeof msg);
        if (rc == VIGIL_ERR_NOMEM)
            return NULL;
        if (rc) {
            fprintf(stderr, "vigil_config_create: %s: %s\n", parts[d].name, msg);
            abort();
        }
        for (const struct vigil_config_key *k = parts[d].keys; k && k->name; k++) {
            total++;
            n_int += k->type == VIGIL_CFG_INT && !strchr(k->name, '@');
        }
    }
    total += n_int * (VIGIL_PROFILE_COUNT - 1);

    struct vigil_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->entries = calloc(total ? total : 1, sizeof *cfg->entries);
    cfg->parts = calloc(n ? n : 1, sizeof *cfg->parts);
    if (!cfg->entries || !cfg->parts)
        goto fail;
    if (n)
        memcpy(cfg->parts, parts, n * sizeof *parts);
    cfg->n_parts = n;

    int rc = 0;
    for (size_t i = 0; i < N_CORE; i++)
        add_key(cfg, &core_keys[i].key, core_keys[i].check, "config.c", &rc);
    for (size_t d = 0; d < n; d++) {
        for (const struct vigil_config_key *k = parts[d].keys; k && k->name; k++) {
            add_key(cfg, k, NULL, parts[d].name, &rc);
            if (!rc && strchr(k->name, '@')) /* a per-profile default (config.h) */
                cfg->entries[cfg->n - 1].variant = cfg->entries[cfg->n - 1].declared = true;
        }
    }
    if (rc || add_variants(cfg, n_int) != 0)
        goto fail;
    return cfg;
fail:
    vigil_config_destroy(cfg);
    return NULL;
}

void vigil_config_destroy(struct vigil_config *cfg)
{
    if (!cfg)
        return;
    if (cfg->entries)
        for (size_t i = 0; i < cfg->n; i++)
            value_free(&cfg->entries[i].val);
    free(cfg->entries);
    for (size_t i = 0; i < cfg->n_retired; i++)
        value_free(&cfg->retired[i]);
    free(cfg->retired);
    free(cfg->variant_keys);
    free(cfg->variant_names);
    for (size_t i = 0; i < cfg->n_pt; i++) {
        free(cfg->pt[i].name);
        value_free(&cfg->pt[i].val);
    }
    free(cfg->pt);
    free(cfg->parts);
    free(cfg);
}

/* --- loading ----------------------------------------------------------------------------- */

/* A validated assignment waiting for the whole file to be good. */
struct pending {
    struct entry *e;  /* NULL for a librdkafka.* key */
    char *pt_name;    /* the librdkafka.* key's name; owned */
    struct cfg_value val;
    unsigned line;
};

struct pending_list {
    struct pending *v;
    size_t n, cap;
};

static void pending_free(struct pending_list *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        value_free(&pl->v[i].val);
        free(pl->v[i].pt_name);
    }
    free(pl->v);
}

/* Moves every pending value into its entry. Room for the retired values is reserved. */
static void pending_commit(struct vigil_config *cfg, struct pending_list *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        if (pl->v[i].e)
            pl->v[i].e->explicit = true;
    for (size_t i = 0; i < pl->n; i++) {
        if (pl->v[i].e)
            replace_value(cfg, pl->v[i].e, &pl->v[i].val);
        else
            commit_passthru(cfg, &pl->v[i].pt_name, &pl->v[i].val);
    }
    pl->n = 0;
}

/* The end of an unquoted value: the first '#' or ';' at its start or after whitespace. */
static void cut_comment(char *v)
{
    for (char *p = v; *p; p++) {
        if ((*p == '#' || *p == ';') && (p == v || is_space(p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

/* True when only whitespace or a comment is left in s. */
static bool only_comment(const char *s)
{
    while (is_space(*s))
        s++;
    return *s == '\0' || *s == '#' || *s == ';';
}

/* Parses one line. Returns 0, 1 with a message in msg, or VIGIL_ERR_NOMEM. */
static int parse_line(struct vigil_config *cfg, char *line, unsigned lineno, char *section,
                      size_t section_len, struct pending_list *pl, char *msg, size_t len)
{
    char *s = line;
    while (is_space(*s))
        s++;
    if (*s == '\0' || *s == '#' || *s == ';')
        return 0;

    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close) {
            snprintf(msg, len, "unterminated section header '%s' (missing ']')", trim(s));
            return 1;
        }
        *close = '\0';
        if (!only_comment(close + 1)) {
            snprintf(msg, len, "unexpected text after section header '[%s]'", trim(s + 1));
            return 1;
        }
        char *name = trim(s + 1);
        if (!*name) {
            snprintf(msg, len, "empty section name");
            return 1;
        }
        if (!valid_name(name) || strlen(name) >= section_len) {
            snprintf(msg, len, "bad section name '%s'", name);
            return 1;
        }
        strcpy(section, name);
        return 0;
    }

    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(msg, len, "malformed line (expected 'key = value' or '[section]')");
        return 1;
    }
    *eq = '\0';
    char *key = trim(s);
    if (!*key) {
        snprintf(msg, len, "malformed line: missing key before '='");
        return 1;
    }
    if (!valid_name(key)) {
        snprintf(msg, len, "bad key name '%s'", key);
        return 1;
    }
    char name[NAME_MAX_LEN * 2 + 2];
    if (*section)
        snprintf(name, sizeof name, "%s.%s", section, key);
    else
        snprintf(name, sizeof name, "%s", key);

    char *val = eq + 1;
    while (is_space(*val))
        val++;
    if (*val == '"') {
        /* Quoted: everything up to the closing quote, with \" and \\ as escapes. */
        char *w = val, *r = val + 1;
        for (; *r && *r != '"'; r++) {
            if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
                r++;
            *w++ = *r;
        }
        if (*r != '"') {
            snprintf(msg, len, "unterminated quoted value for '%s'", name);
            return 1;
        }
        if (!only_comment(r + 1)) {
            snprintf(msg, len, "unexpected text after the quoted value of '%s'", name);
            return 1;
        }
        *w = '\0';
    } else {
        cut_comment(val);
        val = trim(val);
    }

    struct entry *e = NULL;
    bool pt = is_passthru(name);
    if (pt && check_passthru(name, msg, len))
        return 1;
    if (!pt && !(e = find_entry(cfg, name))) {
        unknown_key_msg(cfg, name, msg, len);
        return 1;
    }
    for (size_t i = 0; i < pl->n; i++) {
        if (pt ? pl->v[i].pt_name && strcmp(pl->v[i].pt_name, name) == 0 : pl->v[i].e == e) {
            snprintf(msg, len, "duplicate key '%s' (first set on line %u)", name, pl->v[i].line);
            return 1;
        }
    }
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 16;
        struct pending *v = realloc(pl->v, cap * sizeof *v);
        if (!v)
            return VIGIL_ERR_NOMEM;
        pl->v = v;
        pl->cap = cap;
    }
    struct pending *p = &pl->v[pl->n];
    memset(p, 0, sizeof *p);
    if (pt) {
        p->pt_name = strdup(name);
        p->val.text = strdup(val);
        if (!p->pt_name || !p->val.text) {
            free(p->pt_name);
            free(p->val.text);
            memset(p, 0, sizeof *p);
            return VIGIL_ERR_NOMEM;
        }
        p->line = lineno;
        pl->n++;
        return 0;
    }
    int rc = parse_value(cfg, e->key, e->check, val, &p->val, msg, len);
    if (rc)
        return rc;
    p->e = e;
    p->line = lineno;
    pl->n++;
    return 0;
}

int vigil_config_load_file(struct vigil_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        set_err(cfg, "cannot open '%s': %s", path, strerror(errno));
        return VIGIL_ERR_IO;
    }
    struct pending_list pl = {0};
    char section[NAME_MAX_LEN] = "";
    char msg[ERRSTR_MAX];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) != -1) {
        lineno++;
        if ((size_t)n != strlen(line)) {
            set_err(cfg, "%s:%u: NUL byte in line", path, lineno);
            rc = VIGIL_ERR_CONFIG;
            goto out;
        }
        rc = parse_line(cfg, line, lineno, section, sizeof section, &pl, msg, sizeof msg);
        if (rc == VIGIL_ERR_NOMEM) {
            set_err(cfg, "%s:%u: out of memory", path, lineno);
            goto out;
        }
        if (rc) {
            set_err(cfg, "%s:%u: %s", path, lineno, msg);
            rc = VIGIL_ERR_CONFIG;
            goto out;
        }
    }
    if (ferror(f)) {
        set_err(cfg, "cannot read '%s': %s", path, strerror(errno));
        rc = VIGIL_ERR_IO;
        goto out;
    }
    if (reserve_retired(cfg, pl.n) || reserve_passthru(cfg, pl.n)) {
        set_err(cfg, "%s: out of memory", path);
        rc = VIGIL_ERR_NOMEM;
        goto out;
    }
    pending_commit(cfg, &pl);
    cfg->errstr[0] = '\0';
out:
    pending_free(&pl);
    free(line);
    fclose(f);
    return rc;
}

int vigil_config_set(struct vigil_config *cfg, const char *key, const char *value,
                     const char *origin)
{
    if (!origin)
        origin = "set";
    if (!key || !value) {
        set_err(cfg, "%s: missing %s", origin, key ? "value" : "key");
        return VIGIL_ERR_CONFIG;
    }
    char *copy = strdup(value);
    if (!copy) {
        set_err(cfg, "%s: out of memory", origin);
        return VIGIL_ERR_NOMEM;
    }
    char msg[ERRSTR_MAX];
    int rc;
    struct entry *e = find_entry(cfg, key);
    if (is_passthru(key)) {
        rc = check_passthru(key, msg, sizeof msg);
        char *name = rc ? NULL : strdup(key);
        struct cfg_value v = {.text = rc ? NULL : strdup(trim(copy))};
        if (!rc && (!name || !v.text || reserve_retired(cfg, 1) || reserve_passthru(cfg, 1)))
            rc = VIGIL_ERR_NOMEM;
        if (!rc)
            commit_passthru(cfg, &name, &v);
        free(name);
        value_free(&v);
    } else if (!e) {
        unknown_key_msg(cfg, key, msg, sizeof msg);
        rc = 1;
    } else if ((rc = reserve_retired(cfg, 1)) == 0) {
        struct cfg_value v;
        rc = parse_value(cfg, e->key, e->check, trim(copy), &v, msg, sizeof msg);
        if (rc == 0) {
            replace_value(cfg, e, &v);
            e->explicit = true;
        }
    }
    free(copy);
    if (rc == VIGIL_ERR_NOMEM) {
        set_err(cfg, "%s: out of memory", origin);
        return rc;
    }
    if (rc) {
        set_err(cfg, "%s: %s", origin, msg);
        return VIGIL_ERR_CONFIG;
    }
    cfg->errstr[0] = '\0';
    return 0;
}

/* --- getters ----------------------------------------------------------------------------- */

static const struct entry *get_entry(const struct vigil_config *cfg, const char *key,
                                     enum vigil_cfg_type type, const char *fn)
{
    const struct entry *e = cfg && key ? find_entry(cfg, key) : NULL;
    if (!e) {
        fprintf(stderr, "%s: unknown config key '%s' (a programming error)\n", fn,
                key ? key : "(null)");
        abort();
    }
    if (e->key->type != type) {
        fprintf(stderr, "%s: config key '%s' is a %s, not a %s (a programming error)\n", fn, key,
                type_name(e->key->type), type_name(type));
        abort();
    }
    return e;
}

int64_t vigil_config_int(const struct vigil_config *cfg, const char *key)
{
    return get_entry(cfg, key, VIGIL_CFG_INT, __func__)->val.i;
}

int64_t vigil_config_int_for(const struct vigil_config *cfg, const char *key, const char *variant)
{
    const struct entry *base = get_entry(cfg, key, VIGIL_CFG_INT, __func__);
    char name[NAME_MAX_LEN];
    if (variant && snprintf(name, sizeof name, "%s@%s", key, variant) < (int)sizeof name) {
        const struct entry *e = find_entry(cfg, name);
        if (e && (e->explicit || e->declared))
            return e->val.i;
    }
    return base->val.i;
}

const char *vigil_config_str(const struct vigil_config *cfg, const char *key)
{
    return get_entry(cfg, key, VIGIL_CFG_STR, __func__)->val.text;
}

int vigil_config_bool(const struct vigil_config *cfg, const char *key)
{
    return get_entry(cfg, key, VIGIL_CFG_BOOL, __func__)->val.b;
}

const char *const *vigil_config_list(const struct vigil_config *cfg, const char *key, size_t *n)
{
    const struct entry *e = get_entry(cfg, key, VIGIL_CFG_LIST, __func__);
    if (n)
        *n = e->val.n;
    return e->val.words;
}

const char *vigil_config_errstr(const struct vigil_config *cfg)
{
    return cfg ? cfg->errstr : "";
}

void vigil_config_foreach_key_of(const struct vigil_config_part *parts, size_t n,
                                 void (*fn)(const struct vigil_config_key *k, void *arg), void *arg)
{
    for (size_t i = 0; i < N_CORE; i++)
        fn(&core_keys[i].key, arg);
    for (size_t d = 0; d < n; d++) {
        for (const struct vigil_config_key *k = parts[d].keys; k && k->name; k++)
            fn(k, arg);
    }
}

/* --- warning levels below critical levels ------------------------------------------------- */

/* Detectors name a rule's warning level after its critical level: `K_warning` for `K`. */
static const struct vigil_config_key *crit_of(const struct vigil_config_key *keys,
                                              const struct vigil_config_key *warn)
{
    static const char sfx[] = "_warning";
    size_t n = strlen(warn->name), sl = sizeof sfx - 1;
    if (warn->type != VIGIL_CFG_INT || n <= sl || strcmp(warn->name + n - sl, sfx) != 0)
        return NULL;
    for (const struct vigil_config_key *k = keys; k->name; k++)
        if (k->type == VIGIL_CFG_INT && strlen(k->name) == n - sl &&
            strncmp(k->name, warn->name, n - sl) == 0)
            return k;
    return NULL;
}

/* Whether the value int_for(key, variant) gives was written by the operator (file or set()). */
static bool level_explicit(const struct vigil_config *cfg, const char *key, const char *variant)
{
    char name[NAME_MAX_LEN];
    if (variant && snprintf(name, sizeof name, "%s@%s", key, variant) < (int)sizeof name) {
        const struct entry *e = find_entry(cfg, name);
        if (e && (e->explicit || e->declared))
            return e->explicit;
    }
    const struct entry *b = find_entry(cfg, key);
    return b && b->explicit;
}

int vigil_config_check_levels(struct vigil_config *cfg)
{
    /* The default profile, then every profile named by a profiles.* key. */
    const char *variants[16] = {NULL};
    size_t nv = 1;
    for (size_t i = 0; i < N_CORE && nv < 16; i++)
        if (strncmp(core_keys[i].key.name, "profiles.", 9) == 0)
            variants[nv++] = core_keys[i].key.name + 9;
    for (size_t d = 0; d < cfg->n_parts; d++) {
        const struct vigil_config_key *keys = cfg->parts[d].keys;
        for (const struct vigil_config_key *w = keys; w && w->name; w++) {
            const struct vigil_config_key *c = crit_of(keys, w);
            if (!c)
                continue;
            for (size_t v = 0; v < nv; v++) {
                int64_t wl = vigil_config_int_for(cfg, w->name, variants[v]);
                int64_t cl = vigil_config_int_for(cfg, c->name, variants[v]);
                /* 0 switches a level off; only two live levels can be out of order. A
                 * default warning level above a lowered critical one is not the operator's
                 * statement (the order simply comes first); one they wrote is a mistake. */
                if (wl > 0 && cl > 0 && wl > cl && level_explicit(cfg, w->name, variants[v])) {
                    set_err(cfg, "%s%s%s = %lld is above its critical level %s%s%s = %lld: a "
                            "warning must come before the order",
                            w->name, variants[v] ? "@" : "", variants[v] ? variants[v] : "",
                            (long long)wl, c->name, variants[v] ? "@" : "",
                            variants[v] ? variants[v] : "", (long long)cl);
                    return VIGIL_ERR_CONFIG;
                }
            }
        }
    }
    return 0;
}

/* --- comparing two configurations -------------------------------------------------------- */

/* The value an INT entry gives its getters: a `key@profile` that is neither set nor declared
 * stands for its base key's value. */
static int64_t effective_int(const struct vigil_config *cfg, const struct entry *e)
{
    if (!e->variant || e->explicit || e->declared)
        return e->val.i;
    const char *at = strchr(e->key->name, '@');
    char base[NAME_MAX_LEN];
    size_t n = (size_t)(at - e->key->name);
    memcpy(base, e->key->name, n);
    base[n] = '\0';
    const struct entry *b = find_entry(cfg, base);
    return b ? b->val.i : e->val.i;
}

static bool same_value(const struct vigil_config *a, const struct entry *x,
                       const struct vigil_config *b, const struct entry *y)
{
    switch (x->key->type) {
    case VIGIL_CFG_INT:
        return effective_int(a, x) == effective_int(b, y);
    case VIGIL_CFG_BOOL:
        return x->val.b == y->val.b;
    case VIGIL_CFG_STR:
        return strcmp(x->val.text, y->val.text) == 0;
    case VIGIL_CFG_LIST:
        if (x->val.n != y->val.n)
            return false;
        for (size_t i = 0; i < x->val.n; i++)
            if (strcmp(x->val.words[i], y->val.words[i]) != 0)
                return false;
        return true;
    }
    return false;
}

size_t vigil_config_diff(const struct vigil_config *a, const struct vigil_config *b,
                         void (*fn)(const char *key, void *arg), void *arg)
{
    size_t changed = 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct entry *x = &a->entries[i];
        /* Both were made by create from the same tables, so entry i names the same key in
         * both; looked up anyway, in case that ever stops being true. */
        const struct entry *y = i < b->n && b->entries[i].key == x->key
                                    ? &b->entries[i]
                                    : find_entry(b, x->key->name);
        if (y && same_value(a, x, b, y))
            continue;
        /* A `key@profile` set in neither follows its base key, which is reported itself. */
        if (y && x->variant && !x->explicit && !x->declared && !y->explicit && !y->declared)
            continue;
        changed++;
        if (fn)
            fn(x->key->name, arg);
    }
    return changed;
}

const char *vigil_config_text(const struct vigil_config *cfg, const char *key)
{
    const struct entry *e = cfg && key ? find_entry(cfg, key) : NULL;
    if (!e) {
        fprintf(stderr, "%s: unknown config key '%s' (a programming error)\n", __func__,
                key ? key : "(null)");
        abort();
    }
    return e->val.text;
}
