/* SPDX-License-Identifier: Apache-2.0 */
/* test_config.c - the configuration: defaults, the file format, every error message, set(),
 * lists, the key table, and that vigil.conf.example matches the key tables.
 *
 * vigil.conf.example is generated from the key tables by this test: after adding or changing
 * a key, run `VIGIL_REGEN_CONF_EXAMPLE=1 build/bin/test_config` and commit the file. The
 * source tree is found from __FILE__, or from VIGIL_SOURCE_DIR when set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/detector.h"
#include "vigil/status.h"

#define EXAMPLE_NAME "vigil.conf.example"

/* --- helpers ----------------------------------------------------------------------------- */

/* Writes content to a new temporary file; returns its path (free it, unlink it). */
static char *write_temp(const char *content)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(512);
    assert_non_null(path);
    snprintf(path, 512, "%s/vigil_test_config_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* Loads content into a fresh config; returns the status, errstr copied to err. */
static int load_string(const char *content, char *path_out, size_t path_len, char *err,
                       size_t errlen)
{
    char *path = write_temp(content);
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    int rc = vigil_config_load_file(cfg, path);
    snprintf(err, errlen, "%s", vigil_config_errstr(cfg));
    if (path_out)
        snprintf(path_out, path_len, "%s", path);
    vigil_config_destroy(cfg);
    remove_temp(path);
    return rc;
}

/* The file content must fail with VIGIL_ERR_CONFIG and "<path>:<line>: <msg>". */
static void expect_error(const char *content, unsigned line, const char *msg)
{
    char path[512], err[1024], want[1024];
    int rc = load_string(content, path, sizeof path, err, sizeof err);
    snprintf(want, sizeof want, "%s:%u: %s", path, line, msg);
    if (rc != VIGIL_ERR_CONFIG || strcmp(err, want) != 0)
        fail_msg("content:\n%s\nrc %d, errstr\n  '%s'\nwanted\n  '%s'", content, rc, err, want);
}

/* set() must fail with VIGIL_ERR_CONFIG and exactly this errstr. */
static void expect_set_error(const char *key, const char *value, const char *want)
{
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, key, value, "--set"), VIGIL_ERR_CONFIG);
    assert_string_equal(vigil_config_errstr(cfg), want);
    vigil_config_destroy(cfg);
}

static bool list_equal(const char *const *list, size_t n, const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++)
        if (i >= n || strcmp(list[i], want[i]) != 0)
            return false;
    return i == n && list[n] == NULL;
}

/* Every known key, in foreach_key order. */
struct keyset {
    const struct vigil_config_key *k[1024];
    size_t n;
};

static void collect_key(const struct vigil_config_key *k, void *arg)
{
    struct keyset *ks = arg;
    assert_true(ks->n < sizeof ks->k / sizeof ks->k[0]);
    ks->k[ks->n++] = k;
}

static const struct vigil_config_key *first_key_of_type(enum vigil_cfg_type t)
{
    static struct keyset ks;
    ks.n = 0;
    vigil_config_foreach_key(collect_key, &ks);
    for (size_t i = 0; i < ks.n; i++)
        if (ks.k[i]->type == t)
            return ks.k[i];
    return NULL;
}

static const struct vigil_config_key *first_key_named(const char *name)
{
    static struct keyset ks;
    ks.n = 0;
    vigil_config_foreach_key(collect_key, &ks);
    for (size_t i = 0; i < ks.n; i++)
        if (strcmp(ks.k[i]->name, name) == 0)
            return ks.k[i];
    return NULL;
}

/* --- defaults ---------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_string_equal(vigil_config_errstr(cfg), "");

    assert_string_equal(vigil_config_str(cfg, "kafka.events_topic"), "vigil.events");
    assert_string_equal(vigil_config_str(cfg, "kafka.orders_topic"), "vigil.orders");
    assert_string_equal(vigil_config_str(cfg, "kafka.alerts_topic"), "vigil.alerts");
    assert_string_equal(vigil_config_str(cfg, "kafka.dlq_topic"), "vigil.dlq");
    assert_int_equal(vigil_config_int(cfg, "kafka.session_timeout_ms"), 45000);
    assert_int_equal(vigil_config_int(cfg, "kafka.heartbeat_interval_ms"), 3000);
    assert_string_equal(vigil_config_str(cfg, "kafka.auto_offset_reset"), "earliest");
    assert_int_equal(vigil_config_int(cfg, "kafka.commit_interval_ms"), 1000);

    assert_string_equal(vigil_config_str(cfg, "redis.prefix"), "vigil:");
    assert_int_equal(vigil_config_int(cfg, "redis.timeout_ms"), 2000);
    assert_int_equal(vigil_config_int(cfg, "redis.counter_ttl_s"), 172800);
    assert_int_equal(vigil_config_int(cfg, "redis.block_ttl_s"), 2592000);

    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 0);
    assert_int_equal(vigil_config_int(cfg, "vigild.ring_capacity"), 1024);
    assert_int_equal(vigil_config_int(cfg, "vigild.flush_interval_ms"), 50);
    assert_int_equal(vigil_config_int(cfg, "vigild.disorder_ms"), 60000);

    assert_string_equal(vigil_config_str(cfg, "numbering.home_cc"), "31");
    /* The number table itself is data/numbering.tsv (test_numplan); the keys extend it. */
    assert_string_equal(vigil_config_str(cfg, "numbering.file"), "");
    size_t n;
    const char *const *l = vigil_config_list(cfg, "numbering.high_risk_prefixes", &n);
    assert_int_equal(n, 0);
    assert_null(l[0]);
    l = vigil_config_list(cfg, "numbering.premium_prefixes", &n);
    assert_int_equal(n, 0);
    l = vigil_config_list(cfg, "numbering.rates", &n);
    assert_int_equal(n, 0);
    assert_string_equal(vigil_config_str(cfg, "numbering.default_rate"), "0.10");
    l = vigil_config_list(cfg, "numbering.emergency", &n);
    assert_int_equal(n, 0);

    l = vigil_config_list(cfg, "orders.allowlist", &n);
    assert_non_null(l);
    assert_int_equal(n, 0);
    assert_null(l[0]);
    l = vigil_config_list(cfg, "orders.exempt", &n);
    assert_true(list_equal(l, n, (const char *[]){"112", NULL}));
    assert_int_equal(vigil_config_int(cfg, "alerts.cooldown_s"), 900);

    /* n may be NULL when only the words matter. */
    assert_non_null(vigil_config_list(cfg, "numbering.emergency", NULL));
    vigil_config_destroy(cfg);
    vigil_config_destroy(NULL);
}

/* Every detector's defaults are valid (create would abort otherwise) and readable. */
static void test_detector_defaults(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    for (size_t d = 0; d < vigil_detector_count(); d++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(d);
        for (const struct vigil_config_key *k = ops->keys; k && k->name; k++) {
            size_t nl = strlen(ops->name);
            /* A detector's keys live in its own section. */
            if (strncmp(k->name, ops->name, nl) != 0 || k->name[nl] != '.')
                fail_msg("detector '%s' declares key '%s' outside [%s]", ops->name, k->name,
                         ops->name);
            assert_non_null(k->doc);
            switch (k->type) {
            case VIGIL_CFG_INT: {
                int64_t v = vigil_config_int(cfg, k->name);
                assert_true(v >= k->min && v <= k->max);
                break;
            }
            case VIGIL_CFG_STR:
                assert_true(*vigil_config_str(cfg, k->name) != '\0');
                break;
            case VIGIL_CFG_BOOL: {
                int b = vigil_config_bool(cfg, k->name);
                assert_true(b == 0 || b == 1);
                break;
            }
            case VIGIL_CFG_LIST: {
                size_t n;
                assert_non_null(vigil_config_list(cfg, k->name, &n));
                break;
            }
            default:
                fail_msg("key '%s' has unknown type %d", k->name, (int)k->type);
            }
        }
    }
    vigil_config_destroy(cfg);
}

/* --- the file format --------------------------------------------------------------------- */

static void test_load_file(void **state)
{
    (void)state;
    char *path = write_temp("# vigil.conf for a test\n"
                            "; a semicolon comment\n"
                            "\n"
                            "   \t\n"
                            "vigild.flush_interval_ms = 20\n" /* no section: taken as written */
                            "[kafka]\n"
                            "events_topic = my.events   # trailing comment\n"
                            "orders_topic=\"quoted # not a comment\"\n"
                            "alerts_topic = \"with \\\"escapes\\\" and \\\\ \"  ; trailing\n"
                            "  session_timeout_ms\t=\t60000  \r\n"
                            "dlq_topic = a#b;c\n" /* '#' and ';' not after a space: text */
                            "[ vigild ]   # a comment after a section\n"
                            "workers=4\n"
                            "ring_capacity = 4096\n"
                            "[numbering]\n"
                            "high_risk_prefixes = +53, +881,+882\t +883\n"
                            "rates = \"+31:0.01, +881:12\"\n"
                            "home_cc = +32\n"
                            "[redis]\n"
                            "prefix = \"  spaced  \"\n"
                            "[orders]\n"
                            "allowlist =\n"
                            "exempt = 911 +31201234567\n"
                            "[alerts]\n"
                            "cooldown_s = 0 # no cool-down\n");
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    int rc = vigil_config_load_file(cfg, path);
    if (rc)
        fail_msg("load failed: %s", vigil_config_errstr(cfg));
    assert_string_equal(vigil_config_errstr(cfg), "");

    assert_int_equal(vigil_config_int(cfg, "vigild.flush_interval_ms"), 20);
    assert_string_equal(vigil_config_str(cfg, "kafka.events_topic"), "my.events");
    assert_string_equal(vigil_config_str(cfg, "kafka.orders_topic"), "quoted # not a comment");
    assert_string_equal(vigil_config_str(cfg, "kafka.alerts_topic"), "with \"escapes\" and \\ ");
    assert_int_equal(vigil_config_int(cfg, "kafka.session_timeout_ms"), 60000);
    assert_string_equal(vigil_config_str(cfg, "kafka.dlq_topic"), "a#b;c");
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 4);
    assert_int_equal(vigil_config_int(cfg, "vigild.ring_capacity"), 4096);
    size_t n;
    const char *const *l = vigil_config_list(cfg, "numbering.high_risk_prefixes", &n);
    assert_true(list_equal(l, n, (const char *[]){"+53", "+881", "+882", "+883", NULL}));
    l = vigil_config_list(cfg, "numbering.rates", &n);
    assert_true(list_equal(l, n, (const char *[]){"+31:0.01", "+881:12", NULL}));
    assert_string_equal(vigil_config_str(cfg, "numbering.home_cc"), "+32");
    assert_string_equal(vigil_config_str(cfg, "redis.prefix"), "  spaced  ");
    l = vigil_config_list(cfg, "orders.allowlist", &n);
    assert_int_equal(n, 0);
    l = vigil_config_list(cfg, "orders.exempt", &n);
    assert_true(list_equal(l, n, (const char *[]){"911", "+31201234567", "112", NULL}));
    assert_int_equal(vigil_config_int(cfg, "alerts.cooldown_s"), 0);
    /* Untouched keys keep their defaults. */
    assert_string_equal(vigil_config_str(cfg, "kafka.auto_offset_reset"), "earliest");
    assert_int_equal(vigil_config_int(cfg, "redis.timeout_ms"), 2000);

    /* A second file applies over the first; the same key in another file is no duplicate. */
    char *path2 = write_temp("[vigild]\nworkers = 2\n");
    assert_int_equal(vigil_config_load_file(cfg, path2), 0);
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 2);
    assert_int_equal(vigil_config_int(cfg, "vigild.ring_capacity"), 4096);

    /* An empty file changes nothing. */
    char *path3 = write_temp("");
    assert_int_equal(vigil_config_load_file(cfg, path3), 0);
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 2);

    /* No newline at the end of the last line. */
    char *path4 = write_temp("[vigild]\nworkers = 3");
    assert_int_equal(vigil_config_load_file(cfg, path4), 0);
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 3);

    vigil_config_destroy(cfg);
    remove_temp(path);
    remove_temp(path2);
    remove_temp(path3);
    remove_temp(path4);
}

static void test_load_is_all_or_nothing(void **state)
{
    (void)state;
    char *path = write_temp("[vigild]\nworkers = 7\n[kafka]\nevents_topic = changed\n"
                            "session_timeout_ms = 1\n");
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_load_file(cfg, path), VIGIL_ERR_CONFIG);
    /* Nothing of the bad file was applied, not even its good lines. */
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 0);
    assert_string_equal(vigil_config_str(cfg, "kafka.events_topic"), "vigil.events");
    assert_true(strstr(vigil_config_errstr(cfg), ":5: ") != NULL);

    /* A later success clears the error. */
    assert_int_equal(vigil_config_set(cfg, "vigild.workers", "1", "--set"), 0);
    assert_string_equal(vigil_config_errstr(cfg), "");
    vigil_config_destroy(cfg);
    remove_temp(path);
}

static void test_errors(void **state)
{
    (void)state;
    /* unknown key, with and without a suggestion */
    expect_error("# x\n[kafka]\nevents_topc = a\n", 3,
                 "unknown key 'kafka.events_topc', did you mean 'kafka.events_topic'?");
    expect_error("[kafka]\nevnets_topic = a\n", 2,
                 "unknown key 'kafka.evnets_topic', did you mean 'kafka.events_topic'?");
    expect_error("[vigild]\nworker = 2\n", 2,
                 "unknown key 'vigild.worker', did you mean 'vigild.workers'?");
    expect_error("workers = 4\n", 1, "unknown key 'workers', did you mean 'vigild.workers'?");
    expect_error("[kafka]\ndisorder_ms = 4\n", 2,
                 "unknown key 'kafka.disorder_ms', did you mean 'vigild.disorder_ms'?");
    expect_error("[kafka]\ncompletely_unknown = 1\n", 2, "unknown key 'kafka.completely_unknown'");
    expect_error("[nosuchsection]\nx = 1\n", 2, "unknown key 'nosuchsection.x'");
    /* The same through a detector's section, when that detector and key are registered. */
    if (vigil_detector_find("toll_fraud") && first_key_named("toll_fraud.concurrent_high_risk"))
        expect_error("[toll_fraud]\nconcurent_high_risk = 3\n", 2,
                     "unknown key 'toll_fraud.concurent_high_risk', did you mean "
                     "'toll_fraud.concurrent_high_risk'?");

    /* bad integers and ranges */
    expect_error("[vigild]\nworkers = four\n", 2,
                 "bad value 'four' for 'vigild.workers': not an integer");
    expect_error("[vigild]\nworkers = 4x\n", 2,
                 "bad value '4x' for 'vigild.workers': not an integer");
    expect_error("[vigild]\nworkers = 0x10\n", 2,
                 "bad value '0x10' for 'vigild.workers': not an integer");
    expect_error("[vigild]\nworkers = 4.5\n", 2,
                 "bad value '4.5' for 'vigild.workers': not an integer");
    expect_error("[vigild]\nworkers =\n", 2, "bad value '' for 'vigild.workers': not an integer");
    expect_error("[vigild]\nworkers = 65\n", 2,
                 "bad value '65' for 'vigild.workers': out of range 0..64");
    expect_error("[vigild]\nworkers = -1\n", 2,
                 "bad value '-1' for 'vigild.workers': out of range 0..64");
    expect_error("[vigild]\nworkers = 99999999999999999999999\n", 2,
                 "bad value '99999999999999999999999' for 'vigild.workers': out of range 0..64");
    expect_error("[kafka]\nsession_timeout_ms = 999\n", 2,
                 "bad value '999' for 'kafka.session_timeout_ms': out of range 1000..3600000");

    /* malformed lines and sections */
    expect_error("[kafka]\njust some words\n", 2,
                 "malformed line (expected 'key = value' or '[section]')");
    expect_error("\n\n= value\n", 3, "malformed line: missing key before '='");
    expect_error("[kafka]\nevents topic = x\n", 2, "bad key name 'events topic'");
    expect_error("[kafka\nevents_topic = x\n", 1,
                 "unterminated section header '[kafka' (missing ']')");
    expect_error("[kafka] x\n", 1, "unexpected text after section header '[kafka]'");
    expect_error("[ ]\n", 1, "empty section name");
    expect_error("[my section]\n", 1, "bad section name 'my section'");

    /* quotes */
    expect_error("[kafka]\nevents_topic = \"abc\n", 2,
                 "unterminated quoted value for 'kafka.events_topic'");
    expect_error("[kafka]\nevents_topic = \"abc\" def\n", 2,
                 "unexpected text after the quoted value of 'kafka.events_topic'");

    /* duplicate key in one file, also when written differently */
    expect_error("[kafka]\ndlq_topic = a\n\n[redis]\n[kafka]\ndlq_topic = b\n", 6,
                 "duplicate key 'kafka.dlq_topic' (first set on line 2)");
    expect_error("[kafka]\ndlq_topic = a\n[x]\nkafka.dlq_topic = b\n", 4,
                 "unknown key 'x.kafka.dlq_topic', did you mean 'kafka.dlq_topic'?");
    expect_error("kafka.dlq_topic = a\n[kafka]\ndlq_topic = b\n", 3,
                 "duplicate key 'kafka.dlq_topic' (first set on line 1)");

    /* empty strings */
    expect_error("[kafka]\ndlq_topic =\n", 2, "empty value for 'kafka.dlq_topic'");
    expect_error("[kafka]\ndlq_topic = \"\"\n", 2, "empty value for 'kafka.dlq_topic'");
    expect_error("[kafka]\ndlq_topic = # only a comment\n", 2, "empty value for 'kafka.dlq_topic'");

    /* key-specific checks */
    expect_error("[vigild]\nring_capacity = 1000\n", 2,
                 "bad value '1000' for 'vigild.ring_capacity': not a power of two");
    expect_error("[kafka]\nauto_offset_reset = sometimes\n", 2,
                 "bad value 'sometimes' for 'kafka.auto_offset_reset': not one of earliest, "
                 "latest, error");
    expect_error("[numbering]\nhome_cc = 0031\n", 2,
                 "bad value '0031' for 'numbering.home_cc': not a country calling code "
                 "(1 to 3 digits)");
    expect_error("[numbering]\nhigh_risk_prefixes = +53 881\n", 2,
                 "bad entry '881' in 'numbering.high_risk_prefixes': not a prefix ('+' and "
                 "digits, e.g. +881)");
    expect_error("[numbering]\npremium_prefixes = +3190x\n", 2,
                 "bad entry '+3190x' in 'numbering.premium_prefixes': not a prefix ('+' and "
                 "digits, e.g. +881)");
    expect_error("[numbering]\nrates = +31:0.02 +881=10\n", 2,
                 "bad entry '+881=10' in 'numbering.rates': not PREFIX:EUR_PER_MIN (e.g. "
                 "+881:10.00)");
    expect_error("[numbering]\nrates = +881:-1\n", 2,
                 "bad entry '+881:-1' in 'numbering.rates': not PREFIX:EUR_PER_MIN (e.g. "
                 "+881:10.00)");
    expect_error("[numbering]\nrates = 881:1\n", 2,
                 "bad entry '881:1' in 'numbering.rates': not PREFIX:EUR_PER_MIN (e.g. "
                 "+881:10.00)");
    expect_error("[numbering]\ndefault_rate = ten\n", 2,
                 "bad value 'ten' for 'numbering.default_rate': not an amount in EUR (e.g. 0.10)");
    expect_error("[numbering]\nemergency = 112 +911\n", 2,
                 "bad entry '+911' in 'numbering.emergency': not a short code (3 to 6 digits, "
                 "e.g. 112)");
    expect_error("[orders]\nexempt = 112 abc\n", 2,
                 "bad entry 'abc' in 'orders.exempt': not a number (digits, optionally after "
                 "'+')");
    expect_error("[orders]\nallowlist = acct-1 bad/acct\n", 2,
                 "bad entry 'bad/acct' in 'orders.allowlist': not an account id (1 to 64 of "
                 "A-Z a-z 0-9 . _ : -)");

    /* a NUL byte cannot be part of a config line */
    char path[512], err[1024];
    char *p = write_temp("x");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite("[kafka]\nev\0 = 1\n", 1, 16, f);
    fclose(f);
    struct vigil_config *cfg = vigil_config_create();
    assert_int_equal(vigil_config_load_file(cfg, p), VIGIL_ERR_CONFIG);
    snprintf(path, sizeof path, "%s:2: NUL byte in line", p);
    assert_string_equal(vigil_config_errstr(cfg), path);
    vigil_config_destroy(cfg);
    remove_temp(p);
    (void)err;
}

static void test_bool_values(void **state)
{
    (void)state;
    const struct vigil_config_key *k = first_key_of_type(VIGIL_CFG_BOOL);
    if (!k) {
        printf("    (no boolean key registered: boolean parsing not exercised)\n");
        return;
    }
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes", "On"};
    static const char *const no[] = {"false", "no", "off", "0", "FALSE", "No", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        assert_int_equal(vigil_config_set(cfg, k->name, yes[i], "--set"), 0);
        assert_int_equal(vigil_config_bool(cfg, k->name), 1);
        assert_int_equal(vigil_config_set(cfg, k->name, no[i], "--set"), 0);
        assert_int_equal(vigil_config_bool(cfg, k->name), 0);
    }
    vigil_config_destroy(cfg);

    /* The bad-bool message, from a file with a line number. */
    const char *dot = strchr(k->name, '.');
    assert_non_null(dot);
    char content[512], want[512];
    snprintf(content, sizeof content, "\n[%.*s]\n%s = maybe\n", (int)(dot - k->name), k->name,
             dot + 1);
    snprintf(want, sizeof want,
             "bad value 'maybe' for '%s': not a boolean (true/false, yes/no, on/off, 1/0)",
             k->name);
    expect_error(content, 3, want);
}

static void test_file_not_found(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_load_file(cfg, "/nonexistent/vigil.conf"), VIGIL_ERR_IO);
    assert_string_equal(vigil_config_errstr(cfg),
                        "cannot open '/nonexistent/vigil.conf': No such file or directory");
    vigil_config_destroy(cfg);
    assert_string_equal(vigil_config_errstr(NULL), "");
}

/* --- set() ------------------------------------------------------------------------------- */

static void test_set(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    char *path = write_temp("[vigild]\nworkers = 4\n");
    assert_int_equal(vigil_config_load_file(cfg, path), 0);
    /* set() overrides the file, and a later set overrides an earlier one. */
    assert_int_equal(vigil_config_set(cfg, "vigild.workers", "8", "--set"), 0);
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 8);
    assert_int_equal(vigil_config_set(cfg, "vigild.workers", " 16 ", "--set"), 0);
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 16);
    assert_int_equal(vigil_config_set(cfg, "kafka.events_topic", "t1", NULL), 0);
    assert_string_equal(vigil_config_str(cfg, "kafka.events_topic"), "t1");

    /* Strings and lists handed out earlier stay valid until destroy. */
    const char *old = vigil_config_str(cfg, "kafka.events_topic");
    size_t n;
    assert_int_equal(vigil_config_set(cfg, "numbering.emergency", "112,911", "--set"), 0);
    const char *const *oldl = vigil_config_list(cfg, "numbering.emergency", &n);
    assert_int_equal(vigil_config_set(cfg, "kafka.events_topic", "t2", "--set"), 0);
    assert_int_equal(vigil_config_set(cfg, "numbering.emergency", "112,911,999", "--set"), 0);
    assert_string_equal(old, "t1");
    assert_string_equal(oldl[1], "911");
    const char *const *l = vigil_config_list(cfg, "numbering.emergency", &n);
    assert_true(list_equal(l, n, (const char *[]){"112", "911", "999", NULL}));

    /* A failed set changes nothing. */
    assert_int_equal(vigil_config_set(cfg, "vigild.workers", "100", "--set"), VIGIL_ERR_CONFIG);
    assert_int_equal(vigil_config_int(cfg, "vigild.workers"), 16);
    vigil_config_destroy(cfg);
    remove_temp(path);

    expect_set_error("vigild.workers", "x",
                     "--set: bad value 'x' for 'vigild.workers': not an "
                     "integer");
    expect_set_error("vigild.wrokers", "1",
                     "--set: unknown key 'vigild.wrokers', did you mean 'vigild.workers'?");
    expect_set_error("kafka.dlq_topic", "  ", "--set: empty value for 'kafka.dlq_topic'");
    expect_set_error("vigild.ring_capacity", "3000",
                     "--set: bad value '3000' for 'vigild.ring_capacity': not a power of two");
    expect_set_error("vigild.workers", NULL, "--set: missing value");
}

static void test_ring_capacity_power_of_two(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    for (int64_t v = 16; v <= 1048576; v *= 2) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        assert_int_equal(vigil_config_set(cfg, "vigild.ring_capacity", buf, "t"), 0);
        assert_int_equal(vigil_config_int(cfg, "vigild.ring_capacity"), v);
        snprintf(buf, sizeof buf, "%lld", (long long)v + 1);
        assert_int_equal(vigil_config_set(cfg, "vigild.ring_capacity", buf, "t"), VIGIL_ERR_CONFIG);
        if (v < 1048576)
            assert_non_null(strstr(vigil_config_errstr(cfg), "not a power of two"));
    }
    assert_int_equal(vigil_config_set(cfg, "vigild.ring_capacity", "8", "t"), VIGIL_ERR_CONFIG);
    assert_string_equal(vigil_config_errstr(cfg),
                        "t: bad value '8' for 'vigild.ring_capacity': out of range 16..1048576");
    assert_int_equal(vigil_config_set(cfg, "vigild.ring_capacity", "2097152", "t"),
                     VIGIL_ERR_CONFIG);
    assert_int_equal(vigil_config_int(cfg, "vigild.ring_capacity"), 1048576);
    vigil_config_destroy(cfg);
}

/* --- lists ------------------------------------------------------------------------------- */

static void test_lists(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    size_t n;
    const char *const *l;

    assert_int_equal(vigil_config_set(cfg, "orders.allowlist", "a,b c\t d,,  ,e", "t"), 0);
    l = vigil_config_list(cfg, "orders.allowlist", &n);
    assert_true(list_equal(l, n, (const char *[]){"a", "b", "c", "d", "e", NULL}));

    assert_int_equal(vigil_config_set(cfg, "orders.allowlist", " , ,", "t"), 0);
    l = vigil_config_list(cfg, "orders.allowlist", &n);
    assert_int_equal(n, 0);
    assert_null(l[0]);

    assert_int_equal(vigil_config_set(cfg, "orders.allowlist", "one", "t"), 0);
    l = vigil_config_list(cfg, "orders.allowlist", &n);
    assert_true(list_equal(l, n, (const char *[]){"one", NULL}));

    /* 112 is always exempt: added when missing, not doubled when present. */
    assert_int_equal(vigil_config_set(cfg, "orders.exempt", "", "t"), 0);
    l = vigil_config_list(cfg, "orders.exempt", &n);
    assert_true(list_equal(l, n, (const char *[]){"112", NULL}));
    assert_int_equal(vigil_config_set(cfg, "orders.exempt", "911", "t"), 0);
    l = vigil_config_list(cfg, "orders.exempt", &n);
    assert_true(list_equal(l, n, (const char *[]){"911", "112", NULL}));
    assert_int_equal(vigil_config_set(cfg, "orders.exempt", "911,112,113", "t"), 0);
    l = vigil_config_list(cfg, "orders.exempt", &n);
    assert_true(list_equal(l, n, (const char *[]){"911", "112", "113", NULL}));
    assert_int_equal(vigil_config_set(cfg, "orders.exempt", "1,2,3,4,5,6,7,8", "t"), 0);
    l = vigil_config_list(cfg, "orders.exempt", &n);
    assert_int_equal(n, 9);
    assert_string_equal(l[8], "112");
    assert_null(l[9]);
    vigil_config_destroy(cfg);
}

/* --- the key table ----------------------------------------------------------------------- */

static const char *const core_names[] = {
    "kafka.events_topic",
    "kafka.orders_topic",
    "kafka.alerts_topic",
    "kafka.dlq_topic",
    "kafka.session_timeout_ms",
    "kafka.heartbeat_interval_ms",
    "kafka.fetch_wait_max_ms",
    "kafka.auto_offset_reset",
    "kafka.assignor",
    "kafka.commit_interval_ms",
    "redis.prefix",
    "redis.timeout_ms",
    "redis.password_file",
    "privacy.pseudonymise",
    "privacy.key_file",
    "redis.counter_ttl_s",
    "redis.block_ttl_s",
    "vigild.workers",
    "vigild.ring_capacity",
    "vigild.hold_commands",
    "vigild.flush_interval_ms",
    "vigild.publish_interval_ms",
    "vigild.tick_interval_ms",
    "vigild.dedupe_window_ms",
    "vigild.dedupe_max_ids",
    "vigild.checkpoint",
    "vigild.checkpoint_interval_ms",
    "vigild.max_accounts",
    "vigild.disorder_ms",
    "vigild.gap_ms",
    "vigild.clock_confirm_accounts",
    "numbering.home_cc",
    "numbering.file",
    "numbering.high_risk_prefixes",
    "numbering.premium_prefixes",
    "numbering.rates",
    "numbering.default_rate",
    "numbering.emergency",
    "orders.allowlist",
    "orders.exempt",
    "orders.mode",
    "orders.report_rules",
    "orders.max_per_minute",
    "profiles.consumer",
    "profiles.business",
    "profiles.callcenter",
    "profiles.service_popular",
    "alerts.cooldown_s",
    "alerts.alertmanager_url",
    "alerts.webhook_url",
    "alerts.delivery_backlog",
    "http.listen",
    "log.format",
};
#define N_CORE_NAMES (sizeof core_names / sizeof core_names[0])

static void test_foreach_key(void **state)
{
    (void)state;
    static struct keyset ks;
    ks.n = 0;
    vigil_config_foreach_key(collect_key, &ks);

    /* Core keys first, in table order. */
    assert_true(ks.n >= N_CORE_NAMES);
    for (size_t i = 0; i < N_CORE_NAMES; i++)
        assert_string_equal(ks.k[i]->name, core_names[i]);
    /* Then every detector's keys, in registry order. */
    size_t i = N_CORE_NAMES;
    for (size_t d = 0; d < vigil_detector_count(); d++) {
        const struct vigil_detector_ops *ops = vigil_detector_get(d);
        for (const struct vigil_config_key *k = ops->keys; k && k->name; k++, i++) {
            assert_true(i < ks.n);
            assert_ptr_equal(ks.k[i], k);
        }
    }
    assert_int_equal(i, ks.n);

    /* Every key is documented, unique, and readable with the getter of its type. */
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    for (size_t a = 0; a < ks.n; a++) {
        const struct vigil_config_key *k = ks.k[a];
        assert_non_null(k->doc);
        assert_true(strlen(k->doc) > 10);
        assert_non_null(strchr(k->name, '.'));
        for (size_t b = a + 1; b < ks.n; b++)
            assert_string_not_equal(k->name, ks.k[b]->name);
        if (k->type == VIGIL_CFG_INT)
            assert_true(k->min <= k->max);
    }
    vigil_config_destroy(cfg);
}

/* Getters abort on a programming error: run them in a child process. */
static void getter_unknown(struct vigil_config *cfg)
{
    vigil_config_int(cfg, "no.such_key");
}

static void getter_wrong_type(struct vigil_config *cfg)
{
    vigil_config_str(cfg, "vigild.workers");
}

static void getter_wrong_type_list(struct vigil_config *cfg)
{
    vigil_config_list(cfg, "kafka.events_topic", NULL);
}

static void expect_abort(void (*fn)(struct vigil_config *), struct vigil_config *cfg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        fn(cfg);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_getters_abort(void **state)
{
    (void)state;
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    expect_abort(getter_unknown, cfg);
    expect_abort(getter_wrong_type, cfg);
    expect_abort(getter_wrong_type_list, cfg);
    vigil_config_destroy(cfg);
}

/* --- librdkafka.* passthrough ------------------------------------------------------------ */

struct collected {
    char text[1024];
    size_t len;
};

static void collect_property(const char *property, const char *value, void *arg)
{
    struct collected *c = arg;
    int n = snprintf(c->text + c->len, sizeof c->text - c->len, "%s=%s;", property, value);
    assert_true(n > 0 && (size_t)n < sizeof c->text - c->len);
    c->len += (size_t)n;
}

static void test_librdkafka_keys(void **state)
{
    (void)state;
    char *path = write_temp("[librdkafka]\n"
                            "security.protocol = SASL_SSL\n"
                            "sasl.password = \"hunter2 # not a comment\"\n"
                            "[kafka]\n"
                            "events_topic = ev\n");
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_load_file(cfg, path), 0);
    remove_temp(path);
    /* --set adds a key and replaces one of the file's; order is the order first set. */
    assert_int_equal(vigil_config_set(cfg, "librdkafka.client.id", "x", "--set"), 0);
    assert_int_equal(vigil_config_set(cfg, "librdkafka.security.protocol", " SSL ", "--set"), 0);
    struct collected c = {0};
    vigil_config_foreach_librdkafka(cfg, collect_property, &c);
    assert_string_equal(c.text, "security.protocol=SSL;sasl.password=hunter2 # not a comment;"
                                "client.id=x;");
    assert_string_equal(vigil_config_str(cfg, "kafka.events_topic"), "ev");

    /* The dump: every key, librdkafka.* last, secrets masked. */
    char *dump = NULL;
    size_t dump_len = 0;
    FILE *mem = open_memstream(&dump, &dump_len);
    assert_non_null(mem);
    vigil_config_dump(cfg, mem);
    fclose(mem);
    assert_non_null(strstr(dump, "kafka.events_topic = ev\n"));
    assert_non_null(strstr(dump, "\nredis.password_file =\n"));
    assert_non_null(strstr(dump, "\nlibrdkafka.security.protocol = SSL\n"));
    assert_non_null(strstr(dump, "\nlibrdkafka.sasl.password = ***\n"));
    assert_non_null(strstr(dump, "\nlibrdkafka.client.id = x\n"));
    assert_null(strstr(dump, "hunter2"));
    /* A per-profile override is shown only where in force (declared here). */
    assert_non_null(strstr(dump, "\nfair_use.devices@business = 10\n"));
    assert_null(strstr(dump, "toll_fraud.concurrent_high_risk@consumer"));
    /* The dump loads back, secrets aside. */
    char *again = write_temp(dump);
    struct vigil_config *cfg2 = vigil_config_create();
    assert_non_null(cfg2);
    if (vigil_config_load_file(cfg2, again) != 0)
        fail_msg("the dump does not load: %s", vigil_config_errstr(cfg2));
    assert_string_equal(vigil_config_str(cfg2, "kafka.events_topic"), "ev");
    vigil_config_destroy(cfg2);
    remove_temp(again);
    free(dump);
    vigil_config_destroy(cfg);

    assert_true(vigil_config_secret("librdkafka.sasl.password"));
    assert_true(vigil_config_secret("ssl.key.password"));
    assert_true(vigil_config_secret("sasl.oauthbearer.client.secret"));
    assert_true(vigil_config_secret("sasl.oauthbearer.config"));
    assert_true(vigil_config_secret("ssl.key.pem"));
    assert_false(vigil_config_secret("sasl.username"));
    assert_false(vigil_config_secret("redis.password_file"));
}

static void test_librdkafka_keys_refused(void **state)
{
    (void)state;
    /* What vigil owns is refused, naming what to use instead; in a file, nothing applies. */
    expect_error("[librdkafka]\nclient.id = a\ngroup.id = g\n", 3,
                 "'librdkafka.group.id': vigil sets group.id itself; use --group");
    expect_error("[librdkafka]\nclient.id = a\nclient.id = b\n", 3,
                 "duplicate key 'librdkafka.client.id' (first set on line 2)");
    expect_error("librdkafka. = 1\n", 1,
                 "'librdkafka.' names no librdkafka property (librdkafka.PROPERTY)");
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    assert_int_equal(vigil_config_set(cfg, "librdkafka.enable.auto.commit", "true", "--set"),
                     VIGIL_ERR_CONFIG);
    assert_non_null(strstr(vigil_config_errstr(cfg), "--set: 'librdkafka.enable.auto.commit': "
                                                     "vigil sets enable.auto.commit itself"));
    assert_int_equal(vigil_config_set(cfg, "librdkafka.partition.assignment.strategy", "range",
                                      "--set"),
                     VIGIL_ERR_CONFIG);
    assert_non_null(strstr(vigil_config_errstr(cfg), "use kafka.assignor"));
    struct collected c = {0};
    vigil_config_foreach_librdkafka(cfg, collect_property, &c);
    assert_int_equal(c.len, 0);
    vigil_config_destroy(cfg);
}

/* --- vigil.conf.example ------------------------------------------------------------------ */

static const char *source_dir(void)
{
    static char dir[1024];
    const char *env = getenv("VIGIL_SOURCE_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
        return dir;
    }
    snprintf(dir, sizeof dir, "%s", __FILE__);
    /* .../tests/unit/test_config.c: three components up. */
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash) {
            snprintf(dir, sizeof dir, "../..");
            return dir;
        }
        *slash = '\0';
    }
    return dir;
}

/* Writes `# ` comment lines of text wrapped at 100 columns; '\1' is a space that does not
 * break (inside the type tag). */
static void write_wrapped(FILE *f, const char *text)
{
    const size_t width = 98;
    const char *p = text;
    while (*p) {
        size_t len = strlen(p);
        size_t take = len;
        if (len > width) {
            take = width;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = width;
        }
        fputs("# ", f);
        for (size_t i = 0; i < take; i++)
            fputc(p[i] == '\1' ? ' ' : p[i], f);
        fputc('\n', f);
        p += take;
        while (*p == ' ')
            p++;
    }
}

static bool needs_quotes(const char *v)
{
    size_t n = strlen(v);
    return n > 0 &&
           (v[0] == ' ' || v[n - 1] == ' ' || v[0] == '"' || strchr(v, '#') || strchr(v, ';'));
}

static void write_key(FILE *f, const struct vigil_config_key *k)
{
    char doc[1024];
    switch (k->type) {
    case VIGIL_CFG_INT:
        snprintf(doc, sizeof doc, "%s [integer\1%lld..%lld]", k->doc, (long long)k->min,
                 (long long)k->max);
        break;
    case VIGIL_CFG_STR:
        snprintf(doc, sizeof doc, "%s [string]", k->doc);
        break;
    case VIGIL_CFG_BOOL:
        snprintf(doc, sizeof doc, "%s [boolean]", k->doc);
        break;
    case VIGIL_CFG_LIST:
        snprintf(doc, sizeof doc, "%s [list]", k->doc);
        break;
    default:
        snprintf(doc, sizeof doc, "%s", k->doc);
        break;
    }
    write_wrapped(f, doc);
    const char *dot = strchr(k->name, '.');
    const char *name = dot ? dot + 1 : k->name;
    const char *def = k->def ? k->def : "";
    if (!*def) {
        fprintf(f, "#%s =\n", name);
    } else if (needs_quotes(def)) {
        fprintf(f, "#%s = \"", name);
        for (const char *c = def; *c; c++) {
            if (*c == '"' || *c == '\\')
                fputc('\\', f);
            fputc(*c, f);
        }
        fprintf(f, "\"\n");
    } else {
        /* Long lists stay on one line: the format has no continuation lines. */
        fprintf(f, "#%s = %s\n", name, def);
    }
}

static size_t section_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

/* The whole example file, generated from the key tables. */
static void write_example(FILE *f)
{
    static struct keyset ks;
    ks.n = 0;
    vigil_config_foreach_key(collect_key, &ks);

    fprintf(f, "# vigil.conf.example - every configuration key of vigil, with its default.\n"
               "#\n"
               "# Copy to vigil.conf, uncomment and change what you need, and start vigild with\n"
               "# `--config vigil.conf`. Format: `[section]` headers, then `key = value` lines;\n"
               "# `#` or `;` starts a comment (a whole line, or after whitespace in a value);\n"
               "# values may be double-quoted (\\\" and \\\\ inside quotes); lists are "
               "separated by\n"
               "# spaces or commas. Unknown keys, bad values and duplicate keys are errors.\n"
               "#\n"
               "# Generated from the key tables (detectors/core/config.c and each detector) by\n"
               "#   VIGIL_REGEN_CONF_EXAMPLE=1 build/bin/test_config\n"
               "# test_config fails when this file and the tables disagree.\n");

    bool done[1024] = {false};
    for (size_t i = 0; i < ks.n; i++) {
        if (done[i])
            continue;
        size_t sl = section_len(ks.k[i]->name);
        fprintf(f, "\n[%.*s]\n", (int)sl, ks.k[i]->name);
        /* All keys of this section, wherever they are in the table. */
        bool first = true;
        for (size_t j = i; j < ks.n; j++) {
            if (done[j] || section_len(ks.k[j]->name) != sl ||
                strncmp(ks.k[j]->name, ks.k[i]->name, sl) != 0)
                continue;
            if (!first)
                fputc('\n', f);
            first = false;
            write_key(f, ks.k[j]);
            done[j] = true;
        }
    }
    /* The passthrough section has no key table: a fixed example. */
    fputs("\n[librdkafka]\n", f);
    write_wrapped(f, "Any librdkafka property as `property = value` (or --set "
                     "librdkafka.PROPERTY=VALUE), passed as is to every Kafka client of every "
                     "program: vigild's consumer, producer and lift reader, vigilctl, vigil-sim. "
                     "librdkafka checks names and values at start. Properties vigil sets itself "
                     "(bootstrap.servers, group.id, enable.auto.commit, enable.idempotence, ...) "
                     "are refused, naming the flag or key to use instead (README, "
                     "\"Connecting to secured Kafka\"). Secrets are shown as *** by vigild "
                     "--print-config.");
    fputs("#security.protocol = SASL_SSL\n"
          "#sasl.mechanisms = SCRAM-SHA-512\n"
          "#sasl.username = vigil\n"
          "#sasl.password = CHANGE-ME\n"
          "#ssl.ca.location = /etc/ssl/certs/ca-certificates.crt\n",
          f);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void test_conf_example(void **state)
{
    (void)state;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", source_dir(), EXAMPLE_NAME);

    char *want = NULL;
    size_t want_len = 0;
    FILE *mem = open_memstream(&want, &want_len);
    assert_non_null(mem);
    write_example(mem);
    fclose(mem);

    const char *regen = getenv("VIGIL_REGEN_CONF_EXAMPLE");
    if (regen && *regen && strcmp(regen, "0") != 0) {
        FILE *f = fopen(path, "w");
        if (!f)
            fail_msg("cannot write %s", path);
        fwrite(want, 1, want_len, f);
        fclose(f);
        printf("    wrote %s\n", path);
    }

    size_t have_len = 0;
    char *have = read_all(path, &have_len);
    if (!have)
        fail_msg("cannot read %s (set VIGIL_SOURCE_DIR?)", path);

    /* Every known key appears, as "#key = default" under its section. */
    static struct keyset ks;
    ks.n = 0;
    vigil_config_foreach_key(collect_key, &ks);
    for (size_t i = 0; i < ks.n; i++) {
        const char *name = ks.k[i]->name;
        size_t sl = section_len(name);
        char header[256], line[256];
        snprintf(header, sizeof header, "\n[%.*s]\n", (int)sl, name);
        snprintf(line, sizeof line, "\n#%s =", name + sl + 1);
        const char *sec = strstr(have, header);
        if (!sec)
            fail_msg("%s: no section [%.*s]; regenerate it: VIGIL_REGEN_CONF_EXAMPLE=1 "
                     "test_config",
                     path, (int)sl, name);
        size_t off = (size_t)(sec - have) + strlen(header);
        const char *next = strstr(have + off, "\n[");
        const char *at = strstr(have + off - 1, line);
        if (!at || (next && at > next))
            fail_msg("%s: key '%s' missing; regenerate it: VIGIL_REGEN_CONF_EXAMPLE=1 "
                     "test_config",
                     path, name);
    }

    /* And the file is exactly what the tables generate (docs and defaults in sync). */
    if (have_len != want_len || memcmp(have, want, want_len) != 0)
        fail_msg("%s is out of date with the key tables; regenerate it: "
                 "VIGIL_REGEN_CONF_EXAMPLE=1 test_config",
                 path);

    /* Loading it succeeds, as is and with every key uncommented (the defaults as written
     * parse; that they equal the tables' defaults the comparison above made sure). */
    struct vigil_config *cfg = vigil_config_create();
    assert_non_null(cfg);
    if (vigil_config_load_file(cfg, path) != 0)
        fail_msg("%s", vigil_config_errstr(cfg));

    char *uncommented = malloc(have_len + 1);
    assert_non_null(uncommented);
    size_t o = 0;
    for (const char *p = have; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p + 1) : strlen(p);
        if (p[0] == '#' && n > 1 && p[1] != ' ' && p[1] != '\n') {
            p++;
            n--;
        }
        memcpy(uncommented + o, p, n);
        o += n;
        p += n;
    }
    uncommented[o] = '\0';
    char *tmp = write_temp(uncommented);
    if (vigil_config_load_file(cfg, tmp) != 0)
        fail_msg("%s uncommented: %s", path, vigil_config_errstr(cfg));
    remove_temp(tmp);
    free(uncommented);
    vigil_config_destroy(cfg);
    free(have);
    free(want);
}

struct diff_seen {
    char names[8][128];
    size_t n;
};

static void note_diff(const char *key, void *arg)
{
    struct diff_seen *d = arg;
    if (d->n < 8)
        snprintf(d->names[d->n++], sizeof d->names[0], "%s", key);
}

/* What a reload compares: the keys whose values differ as the getters see them, and each
 * key's text, which set() takes to give the other configuration the same value. */
static void test_diff_and_text(void **state)
{
    (void)state;
    struct vigil_config *a = vigil_config_create(), *b = vigil_config_create();
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(vigil_config_diff(a, b, NULL, NULL), 0);

    /* Written but equal to the default, or a list with other separators: no change. */
    assert_int_equal(vigil_config_set(b, "vigild.workers", "0", "--set"), 0);
    assert_int_equal(vigil_config_set(a, "orders.allowlist", "acc-1 acc-2", "--set"), 0);
    assert_int_equal(vigil_config_set(b, "orders.allowlist", "acc-1,acc-2", "--set"), 0);
    assert_int_equal(vigil_config_diff(a, b, NULL, NULL), 0);

    /* A per-profile key set to its base key's value changes nothing either. */
    assert_int_equal(vigil_config_set(b, "toll_fraud.spend_1h_eur@consumer",
                                      vigil_config_text(a, "toll_fraud.spend_1h_eur"), "--set"),
                     0);
    assert_int_equal(vigil_config_diff(a, b, NULL, NULL), 0);

    assert_int_equal(vigil_config_set(b, "kafka.events_topic", "other", "--set"), 0);
    assert_int_equal(vigil_config_set(b, "toll_fraud.concurrent_high_risk", "6", "--set"), 0);
    assert_int_equal(vigil_config_set(b, "orders.allowlist", "acc-1", "--set"), 0);
    struct diff_seen d = {0};
    assert_int_equal(vigil_config_diff(a, b, note_diff, &d), 3);
    assert_int_equal(d.n, 3);
    assert_string_equal(d.names[0], "kafka.events_topic");
    assert_string_equal(d.names[1], "orders.allowlist");
    assert_string_equal(d.names[2], "toll_fraud.concurrent_high_risk");

    /* Copying a value back by its text. */
    assert_string_equal(vigil_config_text(b, "orders.allowlist"), "acc-1");
    assert_int_equal(vigil_config_set(b, "kafka.events_topic",
                                      vigil_config_text(a, "kafka.events_topic"), "running"),
                     0);
    assert_int_equal(vigil_config_diff(a, b, NULL, NULL), 2);
    vigil_config_destroy(a);
    vigil_config_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_detector_defaults),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_is_all_or_nothing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bool_values),
        cmocka_unit_test(test_file_not_found),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_ring_capacity_power_of_two),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_foreach_key),
        cmocka_unit_test(test_getters_abort),
        cmocka_unit_test(test_conf_example),
        cmocka_unit_test(test_diff_and_text),
        cmocka_unit_test(test_librdkafka_keys),
        cmocka_unit_test(test_librdkafka_keys_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
