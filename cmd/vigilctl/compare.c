/* SPDX-License-Identifier: Apache-2.0 */
/* compare.c - vigilctl replay --compare: one events file through two configurations, and
 * what changes between them: orders and alerts gained, lost, or moved in event time; scored
 * against vigil-sim's ground truth when one is given.
 *
 * Each side is an ordinary offline replay (main.c, replay_file) into a temporary file; the
 * records are then matched by (kind, account, rule, action or severity), the i-th of a key in
 * one run with the i-th in the other.
 *
 * Threading: single-threaded. Ownership: everything here is freed before returning. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/credit.h"
#include "vigil/event.h"
#include "json.h"
#include "vigilctl.h"

struct rec {
    bool order; /* else an alert */
    char account[VIGIL_ACCOUNT_MAX + 1];
    char rule[96];
    char what[32]; /* action (orders) or severity (alerts) */
    char id[96];
    int64_t event_ts;
    bool matched;
};

struct run {
    struct rec *r;
    size_t n, cap;
    size_t orders, alerts, dead;
};

void compare_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl replay --compare [--config A] [--against B] [--set KEY=VALUE]...\n"
            "                       [--truth TRUTH] [--credit LIMITS] FILE\n"
            "\n"
            "Replays FILE twice: with configuration A (--config, or the defaults) and with B\n"
            "(--against FILE, or A again) with every --set over it, and prints what B changes:\n"
            "  + order|alert ...   only B has it (gained)\n"
            "  - order|alert ...   only A has it (lost)\n"
            "  ~ order|alert ...   both, at another event time (moved; the shift in seconds)\n"
            "then one summary line. With --truth (vigil-sim --truth), each side is scored:\n"
            "abuse scenarios whose account got an order, and accounts ordered that no scenario\n"
            "names (false positives).\n"
            "Both sides run with the credit limits of --credit LIMITS (as for replay).\n"
            "Exit status: 0 compared (also when nothing changes); 1 unreadable input or bad\n"
            "configuration; 2 bad flag.\n");
}

static int add(struct run *run, const char *line, size_t len)
{
    static const char ord[] = "{\"kind\":\"order\",\"value\":";
    static const char alt[] = "{\"kind\":\"alert\",\"value\":";
    bool order = strncmp(line, ord, sizeof ord - 1) == 0;
    if (!order && strncmp(line, alt, sizeof alt - 1) != 0) {
        run->dead += strstr(line, "\"dead_letter\"") != NULL;
        return 0;
    }
    const char *v = line + sizeof ord - 1;
    size_t vl = len - (sizeof ord - 1) - 1; /* without the closing brace of the wrapper */
    if (run->n == run->cap) {
        size_t cap = run->cap ? run->cap * 2 : 256;
        struct rec *r = realloc(run->r, cap * sizeof *r);
        if (!r)
            return fail("out of memory");
        run->r = r;
        run->cap = cap;
    }
    struct rec *r = &run->r[run->n];
    memset(r, 0, sizeof *r);
    r->order = order;
    if (vigil_json_field_str(v, vl, "account", r->account, sizeof r->account) < 0 ||
        vigil_json_field_str(v, vl, "rule", r->rule, sizeof r->rule) < 0)
        return 0; /* not ours to compare */
    vigil_json_field_str(v, vl, order ? "action" : "severity", r->what, sizeof r->what);
    vigil_json_field_str(v, vl, order ? "order_id" : "alert_id", r->id, sizeof r->id);
    vigil_json_field_int(v, vl, "event_ts", &r->event_ts);
    run->n++;
    if (order)
        run->orders++;
    else
        run->alerts++;
    return 0;
}

/* Replays path with cfg and keeps its orders and alerts. An exit status. */
static int run_side(const struct vigil_config *cfg, const struct vigil_credit *credit,
                    const char *path, struct run *run)
{
    FILE *tmp = tmpfile();
    if (!tmp)
        return fail("cannot create a temporary file");
    int rc = replay_file(cfg, credit, path, false, tmp);
    if (rc != EXIT_OK) {
        fclose(tmp);
        return rc;
    }
    rewind(tmp);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (rc == EXIT_OK && (n = getline(&line, &cap, tmp)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n > 2)
            rc = add(run, line, (size_t)n);
    }
    free(line);
    fclose(tmp);
    return rc;
}

static bool same(const struct rec *a, const struct rec *b)
{
    return a->order == b->order && strcmp(a->account, b->account) == 0 &&
           strcmp(a->rule, b->rule) == 0 && strcmp(a->what, b->what) == 0;
}

static void print_rec(char sign, const struct rec *r, const char *tail)
{
    char when[40];
    iso_time(r->event_ts, when, sizeof when);
    printf("%c %s  %s  %s  %s  event time %s (%lld)  %s%s\n", sign, r->order ? "order" : "alert",
           r->account, r->what, r->rule, when, (long long)r->event_ts, r->id, tail);
}

/* Scenarios of the truth whose account got an order in run, and ordered accounts no scenario
 * names. */
static int score(const char *truth, const struct run *run, const char *side)
{
    FILE *f = fopen(truth, "r");
    if (!f)
        return fail("--truth %s: cannot open it", truth);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t scenarios = 0, caught = 0, fp = 0;
    char (*accts)[VIGIL_ACCOUNT_MAX + 1] = NULL;
    size_t na = 0, acap = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        char acc[VIGIL_ACCOUNT_MAX + 1];
        if (vigil_json_field_str(line, (size_t)n, "account", acc, sizeof acc) < 0)
            continue;
        if (na == acap) {
            acap = acap ? acap * 2 : 64;
            void *p = realloc(accts, acap * sizeof *accts);
            if (!p)
                break;
            accts = p;
        }
        memcpy(accts[na++], acc, sizeof acc);
        if (!strstr(line, "\"action\"")) /* a scenario that expects no order */
            continue;
        scenarios++;
        for (size_t i = 0; i < run->n; i++)
            if (run->r[i].order && strcmp(run->r[i].account, acc) == 0) {
                caught++;
                break;
            }
    }
    for (size_t i = 0; i < run->n; i++) {
        if (!run->r[i].order)
            continue;
        bool known = false, seen = false;
        for (size_t k = 0; k < na && !known; k++)
            known = strcmp(accts[k], run->r[i].account) == 0;
        for (size_t j = 0; j < i && !seen; j++) /* count each account once */
            seen = run->r[j].order && strcmp(run->r[j].account, run->r[i].account) == 0;
        fp += !known && !seen;
    }
    printf("truth %s: %zu of %zu abuse scenarios ordered, %zu account(s) ordered that no "
           "scenario names\n", side, caught, scenarios, fp);
    free(line);
    free(accts);
    fclose(f);
    return EXIT_OK;
}

int cmd_replay_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"compare", no_argument, NULL, 'C'},
        {"config", required_argument, NULL, 'c'},
        {"against", required_argument, NULL, 'a'},
        {"set", required_argument, NULL, 's'},
        {"truth", required_argument, NULL, 't'},
        {"credit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cfg_opts a = {0}, b = {0};
    const char *truth = NULL, *credit_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:a:s:t:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'C':
            break;
        case 'c':
            a.path = optarg;
            break;
        case 'a':
            b.path = optarg;
            break;
        case 's':
            if (cfg_add_set(&b, optarg) != 0)
                return EXIT_USAGE;
            break;
        case 't':
            truth = optarg;
            break;
        case 'l':
            credit_path = optarg;
            break;
        case 'h':
            compare_usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
        }
    }
    if (argc - optind != 1)
        return usage_error("expected one events FILE");
    const char *path = argv[optind];
    if (strcmp(path, "-") == 0)
        return usage_error("--compare reads its input twice: give a file, not stdin");
    if (!b.path)
        b.path = a.path;
    struct vigil_config *ca = NULL, *cb = NULL;
    struct vigil_credit *credit = NULL;
    struct run ra = {0}, rb = {0};
    int rc = cfg_load(&a, &ca);
    rc = rc ? rc : cfg_load(&b, &cb);
    rc = rc || !credit_path ? rc : credit_file_load(credit_path, &credit);
    rc = rc ? rc : run_side(ca, credit, path, &ra);
    rc = rc ? rc : run_side(cb, credit, path, &rb);
    if (rc != EXIT_OK)
        goto out;
    printf("# A: %s; B: %s", a.path ? a.path : "defaults", b.path ? b.path : "defaults");
    for (size_t i = 0; i < b.n_sets; i++)
        printf("%s%s", i ? ", " : " with ", b.sets[i]);
    printf("\n");
    size_t gained = 0, lost = 0, moved = 0;
    for (size_t i = 0; i < ra.n; i++) {
        struct rec *x = &ra.r[i];
        struct rec *y = NULL;
        for (size_t j = 0; j < rb.n && !y; j++)
            if (!rb.r[j].matched && same(x, &rb.r[j]))
                y = &rb.r[j];
        if (!y) {
            print_rec('-', x, "  (only in A)");
            lost++;
            continue;
        }
        x->matched = y->matched = true;
        if (x->event_ts != y->event_ts) {
            char tail[96];
            snprintf(tail, sizeof tail, "  (A at %lld: %+.1f s)", (long long)x->event_ts,
                     (double)(y->event_ts - x->event_ts) / 1000.0);
            print_rec('~', y, tail);
            moved++;
        }
    }
    for (size_t j = 0; j < rb.n; j++) {
        if (!rb.r[j].matched) {
            print_rec('+', &rb.r[j], "  (only in B)");
            gained++;
        }
    }
    printf("A: %zu orders, %zu alerts; B: %zu orders, %zu alerts; %zu gained, %zu lost, "
           "%zu moved\n", ra.orders, ra.alerts, rb.orders, rb.alerts, gained, lost, moved);
    if (truth) {
        rc = score(truth, &ra, "A");
        rc = rc ? rc : score(truth, &rb, "B");
    }
    if (fflush(stdout) != 0)
        rc = fail("cannot write the output");
out:
    free(ra.r);
    free(rb.r);
    vigil_credit_destroy(credit);
    vigil_config_destroy(ca);
    vigil_config_destroy(cb);
    return rc;
}
