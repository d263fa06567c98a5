/* SPDX-License-Identifier: Apache-2.0 */
/* reveal.c - vigilctl reveal: which candidate number a pseudonymisation token stands for.
 *
 * A token is a keyed hash (include/vigil/privacy.h): it cannot be turned back into its number,
 * only matched against candidates, such as the numbers of the provider's CDRs for the account
 * and period an authority asks about. Every candidate is normalised as vigild does (national
 * numbers in --home-cc, "00" for "+", separators ignored) and hashed with the key; a token
 * whose candidate is among them is printed with it.
 *
 * Threading: single-threaded. Ownership: everything is freed before return. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/event.h"
#include "vigil/privacy.h"
#include "vigilctl.h"

void reveal_usage(FILE *f)
{
    fprintf(f,
            "Usage: vigilctl reveal --key-file FILE --numbers FILE [--home-cc CC] TOKEN...\n"
            "\n"
            "Prints \"TOKEN NUMBER\" for every TOKEN (pn:...) that one of the candidate numbers\n"
            "stands for under the key of privacy.key_file, and \"TOKEN -\" for a token none of\n"
            "them gives. A token cannot be reversed: it is matched against candidates, one\n"
            "number a line in --numbers (\"-\": stdin; E.164, 00, or national in --home-cc,\n"
            "default 31, as numbering.home_cc), e.g. the numbers of the CDRs in question.\n"
            "A range token of toll_fraud.sequential_dialling is the number without its last\n"
            "three digits: give such prefixes as candidates.\n"
            "\n"
            "Exit status: 0 every token revealed; 1 a token not among the candidates, or an\n"
            "unreadable file; 2 bad flag.\n");
}

int cmd_reveal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key-file", required_argument, NULL, 'k'},
        {"numbers", required_argument, NULL, 'n'},
        {"home-cc", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key_file = NULL, *numbers = NULL, *cc = "31";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_file = optarg;
            break;
        case 'n':
            numbers = optarg;
            break;
        case 'c':
            cc = optarg;
            break;
        case 'h':
            reveal_usage(stdout);
            return EXIT_OK;
        default:
            return bad_flag(c, argv);
        }
    }
    if (!key_file || !numbers)
        return usage_error("reveal needs --key-file and --numbers");
    if (optind >= argc)
        return usage_error("reveal needs at least one TOKEN");
    int ntok = argc - optind;
    char **tokens = argv + optind;
    for (int i = 0; i < ntok; i++)
        if (strlen(tokens[i]) != VIGIL_PRIVACY_TOKEN_LEN || strncmp(tokens[i], "pn:", 3) != 0)
            return usage_error("'%s' is not a token (pn: and 16 hex digits)", tokens[i]);

    uint8_t key[VIGIL_PRIVACY_KEY_LEN];
    char err[512];
    if (vigil_privacy_read_key(key_file, key, err, sizeof err) != 0)
        return fail("%s", err);
    FILE *in = strcmp(numbers, "-") == 0 ? stdin : fopen(numbers, "r");
    if (!in)
        return fail("cannot read %s", numbers);
    char **found = calloc((size_t)ntok, sizeof *found);
    if (!found) {
        if (in != stdin)
            fclose(in);
        return fail("out of memory");
    }
    char line[256], norm[VIGIL_NUMBER_MAX + 2], tok[VIGIL_PRIVACY_TOKEN_LEN + 1];
    while (fgets(line, sizeof line, in)) {
        size_t len = strcspn(line, "\r\n");
        if (len == 0 || vigil_number_normalize(line, len, cc, norm) != 0)
            continue;
        vigil_privacy_token_with(key, norm, strlen(norm), tok);
        for (int i = 0; i < ntok; i++)
            if (!found[i] && strcasecmp(tok, tokens[i]) == 0)
                found[i] = strdup(norm);
    }
    if (in != stdin)
        fclose(in);
    memset(key, 0, sizeof key);
    int missing = 0;
    for (int i = 0; i < ntok; i++) {
        printf("%s %s\n", tokens[i], found[i] ? found[i] : "-");
        missing += found[i] == NULL;
        free(found[i]);
    }
    free(found);
    if (missing)
        return fail("%d token(s) not among the candidates", missing);
    return EXIT_OK;
}
