/* SPDX-License-Identifier: Apache-2.0 */
/* export.c - vigilctl export-prefixes: vigil's number table as a SIP proxy's prefix table.
 *
 * A proxy that enforces vigil's block keys must judge the dialled number the way vigil does:
 * abroad or not (numbering.home_cc), high-risk, premium, emergency. Rather than copy those
 * rules by hand, it loads this export of vigil's own table (the built-in data/numbering.tsv
 * or numbering.file, with the numbering.* keys over it), classified by vigil_numplan itself.
 *
 * Rows are (key, classes). Keys: "+" and E.164 digits; the same prefixes of the home country
 * in national form ("0" and the digits after the country code), so the proxy needs no
 * country code of its own; emergency short codes as dialled. Longest prefix wins, and every
 * row carries everything that applies to numbers under it (the flags of its shorter listed
 * prefixes too), so one lookup answers. Classes, comma-separated: intl (not the home
 * country), high_risk, premium, domestic (home country, no flag), and emergency=<code> on
 * emergency rows (the code repeated, so the proxy can require an exact match: 1125 is not
 * 112).
 *
 * Threading: single-threaded. Ownership: everything is freed before return. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/event.h"
#include "vigil/numplan.h"
#include "vigilctl.h"

#define CLASSES_MAX 64

enum export_format { FORMAT_TEXT, FORMAT_MTREE };

struct export_ctx {
    const struct vigil_numplan *np;
    FILE *out;
    enum export_format format;
    const char *home; /* home country code digits */
    size_t rows;
};

void export_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl export-prefixes [--format text|kamailio-mtree] [--output FILE]\n"
            "                                [--config FILE] [--set KEY=VALUE]...\n"
            "\n"
            "Writes vigil's number table (the built-in data/numbering.tsv or numbering.file,\n"
            "with the numbering.* keys of --config and --set over it) as a SIP proxy's prefix\n"
            "table, so the proxy judges a dialled number as vigil does. One row per prefix:\n"
            "E.164 (\"+881\"), the home country's prefixes also in national form (\"0900\"), and\n"
            "the emergency short codes as dialled (\"112\"); the longest matching prefix decides.\n"
            "Its classes, comma-separated: intl (outside numbering.home_cc), high_risk,\n"
            "premium, domestic (home country, no flag), emergency=CODE (only that exact number).\n"
            "\n"
            "Formats:\n"
            "  text             \"KEY<TAB>CLASSES\" lines after a '#' header (default)\n"
            "  kamailio-mtree   a db_text table for Kamailio's mtree module (columns tprefix,\n"
            "                   tvalue); name the file after the table, e.g. vigil_prefixes\n"
            "\n"
            "Flags:\n"
            "  -f, --format F        text or kamailio-mtree\n"
            "  -o, --output FILE     write FILE (through a temporary file and a rename, so a\n"
            "                        proxy never reads half a table); default stdout\n"
            "  -c, --config FILE     configuration file (numbering.*)\n"
            "  -s, --set KEY=VALUE   override one configuration key (repeatable)\n"
            "  -h, --help            this text\n"
            "\n"
            "Run it again whenever the number table or numbering.* changes, then reload the\n"
            "proxy's table (Kamailio: kamcmd mtree.reload vigil).\n"
            "Exit status: 0 written; 1 a bad number table or an unwritable FILE; 2 a bad flag.\n");
}

/* The classes of numbers under key (E.164 form) into buf. */
static void classes_of(const struct export_ctx *x, const char *key, char *buf, size_t n)
{
    struct vigil_numclass c;
    vigil_numplan_classify(x->np, key, &c);
    /* Only the home country and what lies under it is domestic: a prefix shorter than a
     * country code ("+3") holds other countries, and the home country's own row (always
     * written) is longer, so it wins for home numbers. */
    size_t hl = strlen(x->home);
    bool home = strncmp(key + 1, x->home, hl) == 0 && strlen(key + 1) >= hl;
    snprintf(buf, n, "%s%s%s", home ? "domestic" : "intl", c.high_risk ? ",high_risk" : "",
             c.premium ? ",premium" : "");
    if (home && (c.high_risk || c.premium))
        memmove(buf, buf + strlen("domestic,"), strlen(buf + strlen("domestic,")) + 1);
}

static void put_row(struct export_ctx *x, const char *key, const char *classes)
{
    if (x->format == FORMAT_MTREE)
        fprintf(x->out, "%s:%s\n", key, classes); /* no ':' or '\\' in either to escape */
    else
        fprintf(x->out, "%s\t%s\n", key, classes);
    x->rows++;
}

/* One E.164 row, and its national form when it is a home-country prefix. */
static void put_e164(struct export_ctx *x, const char *key)
{
    char cls[CLASSES_MAX], national[VIGIL_NUMBER_MAX + 2];
    classes_of(x, key, cls, sizeof cls);
    put_row(x, key, cls);
    size_t hl = strlen(x->home);
    if (strncmp(key + 1, x->home, hl) == 0 && strlen(key + 1) >= hl) {
        snprintf(national, sizeof national, "0%s", key + 1 + hl);
        put_row(x, national, cls);
    }
}

static int each_listed(void *ctx, const char *prefix)
{
    struct export_ctx *x = ctx;
    char home_key[8];
    snprintf(home_key, sizeof home_key, "+%s", x->home);
    if (strcmp(prefix, home_key) != 0) /* written first, with the root */
        put_e164(x, prefix);
    return 0;
}

static int export_write(const struct vigil_config *cfg, FILE *out, enum export_format format)
{
    char err[512], home_key[8];
    struct vigil_numplan *np = vigil_numplan_create(cfg, err, sizeof err);
    if (!np)
        return fail("%s", err);
    struct export_ctx x = {
        .np = np, .out = out, .format = format, .home = vigil_numplan_home_cc(np)};
    const char *file = vigil_config_str(cfg, "numbering.file");
    if (format == FORMAT_MTREE) {
        /* db_text: the column line, then rows. Its comments are not allowed; the provenance
         * is in the documentation and the text format. */
        fprintf(out, "tprefix(string) tvalue(string)\n");
    } else {
        fprintf(out, "# vigil-prefixes 1: vigilctl export-prefixes of %s; home country +%s\n",
                file[0] ? file : "the built-in data/numbering.tsv", x.home);
        fprintf(out, "# key\tclasses (longest prefix wins; emergency=CODE only for CODE "
                     "itself)\n");
    }
    /* Every E.164 number matches the root; the home country's row overrides it. */
    put_row(&x, "+", "intl");
    snprintf(home_key, sizeof home_key, "+%s", x.home);
    put_e164(&x, home_key);
    vigil_numplan_each_prefix(np, each_listed, &x);
    for (size_t i = 0; i < vigil_numplan_emergency_count(np); i++) {
        char cls[CLASSES_MAX];
        const char *code = vigil_numplan_emergency_at(np, i);
        snprintf(cls, sizeof cls, "emergency=%s", code);
        put_row(&x, code, cls);
    }
    vigil_numplan_destroy(np);
    return EXIT_OK;
}

int cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct cfg_opts co = {0};
    enum export_format format = FORMAT_TEXT;
    const char *output = NULL;
    int c, frc;
    while ((c = getopt_long(argc, argv, ":f:o:c:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "text") == 0)
                format = FORMAT_TEXT;
            else if (strcmp(optarg, "kamailio-mtree") == 0)
                format = FORMAT_MTREE;
            else
                return usage_error("--format: '%s' is not text or kamailio-mtree", optarg);
            break;
        case 'o':
            output = optarg;
            break;
        default:
            if ((frc = common_flag(c, argv, &co, NULL, NULL, export_usage)) != RUN_ON)
                return frc;
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    struct vigil_config *cfg = NULL;
    int rc = cfg_load(&co, &cfg);
    if (rc != EXIT_OK)
        return rc;
    if (!output) {
        rc = export_write(cfg, stdout, format);
        if (rc == EXIT_OK && fflush(stdout) != 0)
            rc = fail("cannot write stdout: %s", strerror(errno));
        vigil_config_destroy(cfg);
        return rc;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", output, (long)getpid()) >= sizeof tmp) {
        vigil_config_destroy(cfg);
        return fail("--output: path too long");
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        vigil_config_destroy(cfg);
        return fail("cannot write %s: %s", tmp, strerror(errno));
    }
    rc = export_write(cfg, f, format);
    if (fclose(f) != 0 && rc == EXIT_OK)
        rc = fail("cannot write %s: %s", tmp, strerror(errno));
    if (rc == EXIT_OK && rename(tmp, output) != 0)
        rc = fail("cannot rename %s to %s: %s", tmp, output, strerror(errno));
    if (rc != EXIT_OK)
        unlink(tmp);
    vigil_config_destroy(cfg);
    return rc;
}
