/* SPDX-License-Identifier: Apache-2.0 */
/* vigilctl - the operator tool: show an account's state, list active blocks, lift a block
 * (emitting a `lift` order), replay JSON-lines events through the detectors offline, and
 * produce / tail Kafka topics for demos and tests; orders held by the order brake are
 * listed, released and discarded. This file holds the command table and dispatch; each
 * subcommand lives in a file of its own (show.c, blocks.c, lift.c, replay.c, produce.c,
 * compare.c, tail.c, held.c, export.c, evidence.c, reveal.c), what they share in common.c.
 *
 * Exit status of every subcommand: 0 done; 1 a runtime failure (Redis or Kafka unreachable,
 * no such block, unreadable file), always one line on stderr; 2 a bad flag or argument.
 *
 * Threading: single-threaded; librdkafka runs its own threads behind its API.
 * Ownership: each subcommand creates and destroys its own clients and buffers. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "version.h"
#include "vigil/detector.h"
#include "vigilctl.h"

/* ---- main ---------------------------------------------------------------------------- */

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *f);
    const char *summary;
};

static const struct command commands[] = {
    {"show", cmd_show, show_usage, "an account's blocks, counters and latest alerts (Redis)"},
    {"blocks", cmd_blocks, blocks_usage, "list the accounts with active blocks (Redis)"},
    {"lift", cmd_lift, lift_usage, "lift a block: emit a lift order, then clear it in Redis"},
    {"replay", cmd_replay, replay_usage,
     "run a JSON-lines event file through the detectors offline (backtest)"},
    {"produce", cmd_produce, produce_usage, "send a JSON-lines file to a Kafka topic"},
    {"tail", cmd_tail, tail_usage,
     "print a Kafka topic's messages; --follow: orders, alerts, dead letters as they come"},
    {"held", cmd_held, held_usage, "list the orders the order brake held (Redis)"},
    {"release", cmd_release, release_usage,
     "issue held orders: to the orders topic and their block keys, as vigild would have"},
    {"discard", cmd_discard, discard_usage, "drop held orders without issuing them"},
    {"export-prefixes", cmd_export, export_usage,
     "write the number table as a SIP proxy's prefix table (intl, premium, emergency)"},
    {"evidence", cmd_evidence, evidence_usage,
     "one JSON file on an order for the authorities: order, alerts, thresholds, events"},
    {"reveal", cmd_reveal, reveal_usage,
     "which of candidate numbers a pseudonymisation token (pn:...) stands for"},
};

static void main_usage(FILE *f)
{
    fprintf(f, "Usage: vigilctl COMMAND [FLAGS] [ARGS]\n"
               "\n"
               "The vigil operator tool.\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-15s  %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "`vigilctl COMMAND --help` (or `vigilctl help COMMAND`) describes each one;\n"
               "`vigilctl --version` prints the version and the commit it was built from.\n"
               "Exit status: 0 done; 1 a runtime failure (one line on stderr says why);\n"
               "2 bad flag or argument.\n");
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        main_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        vigil_print_version("vigilctl");
        return EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc == 2) {
            main_usage(stdout);
            return EXIT_OK;
        }
        const struct command *cmd = find_command(argv[2]);
        if (!cmd)
            return usage_error("unknown command '%s'", argv[2]);
        cmd->usage(stdout);
        return EXIT_OK;
    }
    const struct command *cmd = find_command(name);
    if (!cmd)
        return usage_error(name[0] == '-' ? "unknown flag '%s'" : "unknown command '%s'", name);
    snprintf(prog, sizeof prog, "vigilctl %s", cmd->name);
    vigil_log_setup(prog, VIGIL_LOG_WARN);
    opterr = 0;
    optind = 1;
    int rc = cmd->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = fail("cannot write the output: %s", strerror(errno));
    return rc;
}
