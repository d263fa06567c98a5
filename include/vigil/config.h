/* SPDX-License-Identifier: Apache-2.0 */
/* config.h - vigil's configuration: one file of `[section]` headers and `key = value`
 * lines, validated on load against a table of known keys.
 *
 * File format (documented for operators in the README):
 *     # comment
 *     [toll_fraud]
 *     concurrent_high_risk = 8        -> key "toll_fraud.concurrent_high_risk"
 *     high_risk_prefixes = +53 +881   -> lists are separated by spaces or commas
 * A key outside any section is taken as written ("workers = 4" -> key "workers").
 *
 * Threading: load and set are single-threaded (start-up); after that the object is
 * read-only and any thread may call the getters.
 * Ownership: strings returned by getters belong to the config and live until destroy. */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum vigil_cfg_type {
    VIGIL_CFG_INT = 1,  /* decimal integer within [min, max] */
    VIGIL_CFG_STR = 2,  /* any non-empty string */
    VIGIL_CFG_BOOL = 3, /* true/false/yes/no/on/off/1/0 */
    VIGIL_CFG_LIST = 4, /* space- or comma-separated words, possibly empty */
};

/* One known key. Detectors publish theirs through struct vigil_detector_ops.keys; the
 * core keys (kafka.*, redis.*, vigild.*, numbering.*) are in config.c. */
struct vigil_config_key {
    const char *name; /* "section.key" */
    enum vigil_cfg_type type;
    const char *def; /* default, as it would be written in the file */
    int64_t min, max; /* VIGIL_CFG_INT only */
    const char *doc;  /* one line for --help and the README */
};

struct vigil_config;

/* Creates a configuration holding the defaults of every core key and every registered
 * detector's keys. NULL on allocation failure. */
struct vigil_config *vigil_config_create(void);
void vigil_config_destroy(struct vigil_config *cfg); /* accepts NULL */

/* Reads a file over the defaults. Returns 0, or VIGIL_ERR_CONFIG / VIGIL_ERR_IO with
 * vigil_config_errstr() naming the file, line and key ("vigil.conf:12: unknown key
 * 'toll_fraud.concurent'"). */
int vigil_config_load_file(struct vigil_config *cfg, const char *path);

/* Sets one key ("toll_fraud.concurrent_high_risk", "8") as if read from `origin`
 * (e.g. "--set"). Same validation and errors as load. */
int vigil_config_set(struct vigil_config *cfg, const char *key, const char *value,
                     const char *origin);

/* Typed getters. The key must be a known key of that type; asking for an unknown key is a
 * programming error and aborts (it cannot depend on input). */
int64_t vigil_config_int(const struct vigil_config *cfg, const char *key);
const char *vigil_config_str(const struct vigil_config *cfg, const char *key);
int vigil_config_bool(const struct vigil_config *cfg, const char *key);
/* A list's words: *n set to the count; the array lives until destroy. */
const char *const *vigil_config_list(const struct vigil_config *cfg, const char *key, size_t *n);

/* The last error as one line, "" when none. */
const char *vigil_config_errstr(const struct vigil_config *cfg);

/* Every known key (core first, then detectors in registry order), for --help and docs.
 * Calls fn once per key. */
void vigil_config_foreach_key(void (*fn)(const struct vigil_config_key *k, void *arg), void *arg);

#endif
