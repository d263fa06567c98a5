/* SPDX-License-Identifier: Apache-2.0 */
/* vigil-sim - seeded, reproducible call and SMS traffic generator (wire format v1)
 *
 * Background accounts (consumers, businesses, call centres) make calls and send SMS with a
 * diurnal rhythm in Amsterdam local time; named abuse and heavy-but-legitimate scenarios are
 * injected at chosen event times; malformed messages can be mixed in for dead-letter demos.
 * Events go to stdout (JSON lines), a file, or a Kafka topic keyed by account; the ground
 * truth (which account abuses, which rule should fire, when the pattern completes) goes to
 * a JSON-lines file.
 *
 * Event time is simulated: a binary heap holds every pending item (call_ends due later,
 * SMS of a burst, each account's next activity, each call-centre line's next call) ordered
 * by (ts, insertion sequence), so events leave in event-time order and the same flags give
 * byte-identical output. Randomness is splitmix64 only: one stream per account and one per
 * scenario, seeded from --seed and the account id, so a scenario never shifts background
 * traffic. Events due after the end of the window are not written (calls stay open).
 *
 * The generator runs twice: a counting pass that fills the ground truth (events' indexes
 * and ids) and knows the total for progress lines, then the writing pass. Both see the
 * same flags, hence the same events.
 *
 * Background traffic is shaped to stay clear of every rule in shared/spec/detection.md at
 * default thresholds: no high-risk destinations at all, at most two 0900 calls per account,
 * one device at a time per consumer and at most two per business, SMS far below the bulk
 * limits, call centres only to NL/BE/DE/FR/GB, no call longer than 90 minutes.
 *
 * Source: main.c (flags, setup), world.c (random numbers, local time, number ranges, the
 * heap, building events), background.c, scenarios.c (the generators), output.c.
 *
 * Threading: single-threaded (librdkafka runs its own threads behind the producer).
 * Ownership: main creates and destroys the simulation and the sink; nothing crosses. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "sim.h"
#include "version.h"
#include "vigil/profile.h"

/* ---- setup ---- */

static int find_account(const struct sim *s, const char *id)
{
    for (int i = 0; i < s->nacc; i++)
        if (strcmp(s->acc[i].id, id) == 0)
            return i;
    return -1;
}

static void sim_destroy(struct sim *s)
{
    if (s == NULL)
        return;
    free(s->acc);
    free(s->inv);
    free(s->heap);
    free(s);
}

static struct sim *sim_create(const struct options *o)
{
    struct sim *s = calloc(1, sizeof *s);
    char id[VIGIL_ACCOUNT_MAX + 1];
    int counters[SCEN_DEFS] = {0};
    uint64_t h = VIGIL_FNV_OFFSET;

    if (s == NULL)
        return NULL;
    s->opt = o;
    s->end_ts = o->start_ms + (int64_t)o->duration_min * MIN_MS;
    s->last_ts = INT64_MIN;
    /* The run hash goes into every id: runs with other flags never reuse an event id. */
    h = vigil_fnv1a(h, &o->seed, sizeof o->seed);
    h = vigil_fnv1a(h, &o->start_ms, sizeof o->start_ms);
    h = vigil_fnv1a(h, &o->duration_min, sizeof o->duration_min);
    h = vigil_fnv1a(h, &o->accounts, sizeof o->accounts);
    h = vigil_fnv1a(h, &o->invalid, sizeof o->invalid);
    for (int i = 0; i < o->nscen; i++) {
        h = vigil_fnv1a(h, scen_defs[o->scen[i].def].name, strlen(scen_defs[o->scen[i].def].name));
        h = vigil_fnv1a(h, &o->scen[i].minute, sizeof o->scen[i].minute);
        h = vigil_fnv1a(h, o->scen[i].account, strlen(o->scen[i].account));
    }
    snprintf(s->tag, sizeof s->tag, "%08" PRIx32, (uint32_t)(h ^ (h >> 32)));

    s->acc = calloc((size_t)o->accounts + (size_t)o->nscen + 1, sizeof *s->acc);
    s->inv = calloc((size_t)o->invalid + 1, sizeof *s->inv);
    if (s->acc == NULL || s->inv == NULL)
        goto fail;

    /* Background: ~72% consumers, the rest businesses, one or two call centres. */
    for (int i = 0; i < o->accounts; i++) {
        struct rng r;
        snprintf(id, sizeof id, "acc-%05d", i + 1);
        rng_seed(&r, o->seed, id, 0x70726f66ULL);
        enum profile p = rng_unit(&r) < 0.72 ? PROF_CONSUMER : PROF_BUSINESS;
        if ((o->accounts >= 10 && i == 6) || (o->accounts >= 100 && i == o->accounts / 2 + 2))
            p = PROF_CALLCENTER;
        account_init(&s->acc[i], id, p, o->seed);
        s->acc[i].background = true;
    }
    s->nacc = o->accounts;
    for (int i = 0; i < s->nacc; i++) {
        struct account *a = &s->acc[i];
        if (a->prof == PROF_CALLCENTER) {
            for (int line = 0; line < a->cc_lines; line++)
                push_line(s, i, line, -1, o->start_ms + rng_range(&a->rng, 0, 120000));
        } else {
            schedule_activity(s, i, o->start_ms);
        }
    }

    for (int i = 0; i < o->nscen; i++) {
        const struct scen_spec *sp = &o->scen[i];
        const struct scen_def *d = &scen_defs[sp->def];
        struct scen *sc = &s->scen[i];
        if (sp->account[0] != '\0')
            snprintf(id, sizeof id, "%s", sp->account);
        else
            snprintf(id, sizeof id, "%s-%d", d->acc_prefix, ++counters[sp->def]);
        sc->acc = find_account(s, id);
        if (sc->acc < 0) {
            sc->acc = s->nacc++;
            account_init(&s->acc[sc->acc], id, d->prof, o->seed);
        }
        sc->def = d;
        sc->minute = sp->minute;
        sc->rule = d->rule;
        sc->complete_ts = -1;
        sc->first_ts = sc->last_ts = -1;
        rng_seed(&sc->rng, o->seed, id, 0x7363656eULL ^ ((uint64_t)i << 32) ^ (uint64_t)sp->minute);
        sc->t0 = o->start_ms + (int64_t)sp->minute * MIN_MS + rng_range(&sc->rng, 0, 999);
        d->plan(s, sc);
    }
    s->nscen = o->nscen;

    /* Malformed messages, spread over the window, each kind in turn. */
    for (int i = 0; i < o->invalid; i++) {
        struct rng r;
        struct item it = {0};
        rng_seed(&r, o->seed, "invalid", (uint64_t)i);
        s->inv[i].kind = i % INV_N;
        s->inv[i].acc = s->nacc > 0 ? (int)rng_below(&r, (uint64_t)s->nacc) : -1;
        s->inv[i].ts = o->start_ms + (int64_t)rng_below(&r, (uint64_t)(s->end_ts - o->start_ms));
        it.kind = IT_INVALID;
        it.ts = s->inv[i].ts;
        it.acc = s->inv[i].acc;
        it.aux = i;
        it.scen = -1;
        it.hash = rng_next(&r);
        push(s, &it);
    }
    if (s->oom)
        goto fail;
    return s;
fail:
    sim_destroy(s);
    return NULL;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: vigil-sim [OPTIONS]\n"
            "Generate seeded, reproducible call and SMS events (wire format v1) with background\n"
            "traffic and injected scenarios, in event-time order. Same flags, same bytes.\n"
            "\n"
            "Output:\n"
            "  --out PATH             write JSON lines to PATH, '-' for stdout (default)\n"
            "  --brokers LIST         produce to Kafka instead (bootstrap servers), keyed by\n"
            "                         account; progress on stderr about every second\n"
            "  --topic NAME           Kafka topic (default vigil.events)\n"
            "  --rate EV_PER_S        pace writing to this many events per second (default: as\n"
            "                         fast as possible)\n"
            "  --truth FILE           write the ground truth as JSON lines: one per scenario\n"
            "                         (expected detector/rule/action, complete_ts, deadline_ms;\n"
            "                         expect null for legitimate traffic), one per invalid\n"
            "                         event (its expected dead-letter reason and index)\n"
            "  --quiet                no progress and no summary on stderr\n"
            "  --config FILE          vigil configuration file, for its librdkafka.* keys\n"
            "                         (security.protocol, sasl.*, ssl.*: see the README)\n"
            "  --set KEY=VALUE        one configuration key, e.g.\n"
            "                         --set librdkafka.security.protocol=SASL_SSL (repeatable)\n"
            "\n"
            "Traffic:\n"
            "  --start MS|ISO         event time of the start, Unix ms or YYYY-MM-DDTHH:MM:SSZ\n"
            "                         (default %lld = 2026-11-02T08:00:00Z, Monday 09:00\n"
            "                         Amsterdam)\n"
            "  --duration MIN         minutes of event time (default 120, max %d); events due\n"
            "                         later are not written (calls stay open)\n"
            "  --accounts N           background accounts acc-00001.. (default 200, max %d):\n"
            "                         ~72%% consumer, business, 1-2 callcenter\n"
            "  --seed N               random seed (default 1)\n"
            "  --scenario NAME@MINUTE[:ACCOUNT]\n"
            "                         inject a scenario MINUTE minutes after --start\n"
            "                         (repeatable, up to %d). ACCOUNT defaults to a new account\n"
            "                         such as fraud-toll-1; naming a background account\n"
            "                         (acc-00042) injects into its traffic\n"
            "  --invalid N            mix in N malformed messages (not JSON, missing call_id,\n"
            "                         to:\"abc\", ts as a string, unknown type), in turn\n"
            "  -h, --help             show this help and exit\n"
            "      --version          print the version and the commit it was built from\n"
            "\n"
            "Scenarios:\n",
            (long long)DEFAULT_START_MS, MAX_DURATION_MIN, MAX_ACCOUNTS, MAX_SCENARIOS);
    for (size_t i = 0; i < SCEN_DEFS; i++)
        fprintf(out, "  %-16s %s\n", scen_defs[i].name, scen_defs[i].doc);
    fprintf(out, "\nExit status: 0 done, 1 output or Kafka failure, 2 bad usage.\n");
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    int64_t v;
    if (parse_i64(s, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* Unix milliseconds, or YYYY-MM-DDTHH:MM[:SS]Z. */
static int parse_start(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec = 0, n = 0;

    if (parse_i64(s, VIGIL_TS_MIN_MS, 253402300799999LL, out) == 0)
        return 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 &&
        sscanf(s, "%4d-%2d-%2dT%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &n) != 5)
        return -1;
    if (s[n] != '\0' || y < 2000 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 59 || h < 0 || mi < 0 || sec < 0)
        return -1;
    *out = ((vigil_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * MIN_MS + sec * SEC_MS;
    return 0;
}

static bool valid_account(const char *s, size_t n)
{
    if (n == 0 || n > VIGIL_ACCOUNT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* "NAME@MINUTE[:ACCOUNT]"; on failure *why says what was wrong. */
static int parse_scenario(const char *arg, struct scen_spec *sp, const char **why)
{
    const char *at = strchr(arg, '@');
    char num[16];

    *why = "expected NAME@MINUTE[:ACCOUNT]";
    if (at == NULL)
        return -1;
    sp->def = -1;
    for (size_t i = 0; i < SCEN_DEFS; i++)
        if (strlen(scen_defs[i].name) == (size_t)(at - arg) &&
            strncmp(scen_defs[i].name, arg, (size_t)(at - arg)) == 0)
            sp->def = (int)i;
    if (sp->def < 0) {
        *why = "unknown scenario name (see --help)";
        return -1;
    }
    const char *colon = strchr(at + 1, ':');
    size_t nlen = colon ? (size_t)(colon - at - 1) : strlen(at + 1);
    if (nlen == 0 || nlen >= sizeof num)
        return -1;
    memcpy(num, at + 1, nlen);
    num[nlen] = '\0';
    if (parse_int(num, 0, MAX_DURATION_MIN, &sp->minute) != 0) {
        *why = "MINUTE must be a whole number of minutes from 0";
        return -1;
    }
    sp->account[0] = '\0';
    if (colon != NULL) {
        if (!valid_account(colon + 1, strlen(colon + 1))) {
            *why = "ACCOUNT must be 1..64 characters of [A-Za-z0-9._:-]";
            return -1;
        }
        snprintf(sp->account, sizeof sp->account, "%s", colon + 1);
    }
    return 0;
}

static const char *const value_flags[] = {
    "--out",  "--brokers",  "--topic",   "--truth", "--start",  "--duration", "--accounts",
    "--seed", "--scenario", "--invalid", "--rate",  "--config", "--set"};

/* Returns 0, 1 for --help, 2 for --version, or -1 after one line on stderr. */
static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->out = "-";
    o->topic = "vigil.events";
    o->start_ms = DEFAULT_START_MS;
    o->duration_min = 120;
    o->accounts = 200;
    o->seed = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL, *eq, *why;
        char flag[32];
        bool takes_value = false;
        int64_t v;

        if (strncmp(a, "--", 2) == 0 && (eq = strchr(a, '=')) != NULL &&
            (size_t)(eq - a) < sizeof flag) {
            memcpy(flag, a, (size_t)(eq - a));
            flag[eq - a] = '\0';
            a = flag;
            val = eq + 1;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--version") == 0 && val == NULL)
            return 2;
        if (strcmp(a, "--quiet") == 0 && val == NULL) {
            o->quiet = true;
            continue;
        }
        for (size_t f = 0; f < NR(value_flags); f++)
            takes_value |= strcmp(a, value_flags[f]) == 0;
        if (!takes_value) {
            fprintf(stderr, "vigil-sim: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vigil-sim: option '%s' needs a value (see --help)\n", a);
                return -1;
            }
            val = argv[++i];
        }

        if (strcmp(a, "--out") == 0) {
            if (*val == '\0') {
                fprintf(stderr, "vigil-sim: --out: expected a path or '-'\n");
                return -1;
            }
            o->out = val;
            o->out_set = true;
        } else if (strcmp(a, "--brokers") == 0) {
            if (*val == '\0') {
                fprintf(stderr, "vigil-sim: --brokers: expected HOST:PORT[,HOST:PORT...]\n");
                return -1;
            }
            o->brokers = val;
        } else if (strcmp(a, "--topic") == 0) {
            if (*val == '\0' || strlen(val) > 249) {
                fprintf(stderr, "vigil-sim: --topic: expected a topic name\n");
                return -1;
            }
            o->topic = val;
        } else if (strcmp(a, "--truth") == 0) {
            o->truth = val;
        } else if (strcmp(a, "--start") == 0) {
            if (parse_start(val, &o->start_ms) != 0) {
                fprintf(stderr,
                        "vigil-sim: --start '%s': expected Unix milliseconds after 2000 "
                        "or YYYY-MM-DDTHH:MM:SSZ\n",
                        val);
                return -1;
            }
        } else if (strcmp(a, "--duration") == 0) {
            if (parse_int(val, 1, MAX_DURATION_MIN, &o->duration_min) != 0) {
                fprintf(stderr, "vigil-sim: --duration '%s': expected minutes, 1 to %d\n", val,
                        MAX_DURATION_MIN);
                return -1;
            }
        } else if (strcmp(a, "--accounts") == 0) {
            if (parse_int(val, 0, MAX_ACCOUNTS, &o->accounts) != 0) {
                fprintf(stderr, "vigil-sim: --accounts '%s': expected 0 to %d\n", val,
                        MAX_ACCOUNTS);
                return -1;
            }
        } else if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (*val == '\0' || *val == '-' || *end != '\0' || errno != 0) {
                fprintf(stderr, "vigil-sim: --seed '%s': expected a non-negative integer\n", val);
                return -1;
            }
            o->seed = s;
        } else if (strcmp(a, "--scenario") == 0) {
            if (o->nscen == MAX_SCENARIOS) {
                fprintf(stderr, "vigil-sim: --scenario: at most %d scenarios\n", MAX_SCENARIOS);
                return -1;
            }
            if (parse_scenario(val, &o->scen[o->nscen], &why) != 0) {
                fprintf(stderr, "vigil-sim: --scenario '%s': %s\n", val, why);
                return -1;
            }
            o->nscen++;
        } else if (strcmp(a, "--config") == 0) {
            o->config = val;
        } else if (strcmp(a, "--set") == 0) {
            if (o->nsets == MAX_SETS || strchr(val, '=') == NULL || *val == '=') {
                fprintf(stderr, "vigil-sim: --set '%s': expected KEY=VALUE (at most %d)\n", val,
                        MAX_SETS);
                return -1;
            }
            o->sets[o->nsets++] = val;
        } else if (strcmp(a, "--invalid") == 0) {
            if (parse_i64(val, 0, MAX_INVALID, &v) != 0) {
                fprintf(stderr, "vigil-sim: --invalid '%s': expected 0 to %d\n", val, MAX_INVALID);
                return -1;
            }
            o->invalid = (int)v;
        } else if (strcmp(a, "--rate") == 0) {
            char *end;
            errno = 0;
            o->rate = strtod(val, &end);
            if (*val == '\0' || *end != '\0' || errno != 0 || !(o->rate > 0) || o->rate > 1e9) {
                fprintf(stderr, "vigil-sim: --rate '%s': expected events per second > 0\n", val);
                return -1;
            }
        }
    }
    if (o->brokers != NULL && o->out_set) {
        fprintf(stderr, "vigil-sim: --out and --brokers exclude each other\n");
        return -1;
    }
    for (int i = 0; i < o->nscen; i++) {
        if (o->scen[i].minute >= o->duration_min) {
            fprintf(stderr, "vigil-sim: --scenario %s@%d: minute is past --duration %d\n",
                    scen_defs[o->scen[i].def].name, o->scen[i].minute, o->duration_min);
            return -1;
        }
    }
    return 0;
}

static void summary(const struct sim *s, const struct sink *k)
{
    const struct stats *st = &s->st;
    fprintf(stderr,
            "vigil-sim: %" PRIu64 " events written to %s: call_start %" PRIu64 ", call_end %" PRIu64
            ", sms %" PRIu64 ", invalid %" PRIu64 "\n",
            st->written, k->kind == SINK_KAFKA ? k->topic : k->name, st->start, st->end, st->sms,
            st->invalid);
    fprintf(stderr,
            "vigil-sim: %d accounts (%d background), seed %" PRIu64 ", %d min from %" PRId64
            "; %" PRIu64 " events due after the window not written\n",
            s->nacc, s->opt->accounts, s->opt->seed, s->opt->duration_min, s->opt->start_ms,
            st->cut);
    for (int i = 0; i < s->nscen; i++) {
        const struct scen *sc = &s->scen[i];
        fprintf(stderr, "vigil-sim: scenario %s@%d %s: %" PRIu64 " events", sc->def->name,
                sc->minute, s->acc[sc->acc].id, sc->events);
        if (sc->complete_ts >= 0)
            fprintf(stderr, ", completes at %" PRId64 " (+%" PRId64 " s)%s", sc->complete_ts,
                    (int64_t)((sc->complete_ts - sc->t0) / SEC_MS),
                    sc->complete_ts < s->end_ts ? "" : " AFTER the window");
        else
            fprintf(stderr, ", legitimate");
        fputc('\n', stderr);
    }
}

int main(int argc, char **argv)
{
    struct options o;
    struct sink count = {.kind = SINK_COUNT, .name = "nowhere"};
    struct sink out = {.kind = SINK_FILE};
    struct sim *s;
    int rc = parse_args(argc, argv, &o);

    if (rc != 0) {
        if (rc == 1)
            usage(stdout);
        if (rc == 2)
            vigil_print_version("vigil-sim");
        return rc > 0 ? 0 : EXIT_USAGE;
    }

    /* Pass 1: count, and learn what the ground truth needs (indexes, ids, end times). */
    s = sim_create(&o);
    if (s == NULL || sim_run(s, &count) != 0) {
        fprintf(stderr, "vigil-sim: out of memory\n");
        sim_destroy(s);
        return 1;
    }
    if (o.truth != NULL && write_truth(s, o.truth) != 0) {
        sim_destroy(s);
        return 1;
    }
    sim_destroy(s);

    /* Pass 2: the same run, written. */
    if (o.brokers != NULL) {
        out.kind = SINK_KAFKA;
        if (sink_open_kafka(&out, &o) != 0)
            return 1;
    } else if (strcmp(o.out, "-") == 0) {
        out.f = stdout;
        out.name = "stdout";
    } else {
        out.f = fopen(o.out, "w");
        out.name = o.out;
        if (out.f == NULL) {
            fprintf(stderr, "vigil-sim: --out %s: %s\n", o.out, strerror(errno));
            return 1;
        }
    }
    if (out.f != NULL)
        setvbuf(out.f, NULL, _IOFBF, 1 << 20);
    out.total = count.sent;
    out.rate = o.rate;
    out.progress = !o.quiet && count.sent > PROGRESS_MIN;
    out.t_begin_ns = out.t_progress_ns = now_ns();

    s = sim_create(&o);
    if (s == NULL) {
        fprintf(stderr, "vigil-sim: out of memory\n");
        sink_close(&out);
        return 1;
    }
    rc = sim_run(s, &out);
    if (sink_close(&out) != 0)
        rc = -1;
    if (rc == 0 && out.total > PROGRESS_MIN && out.t_progress_ns != out.t_begin_ns)
        sink_progress(&out, true);
    if (!o.quiet)
        summary(s, &out);
    sim_destroy(s);
    return rc == 0 ? 0 : 1;
}
