/* SPDX-License-Identifier: Apache-2.0 */
/* credit_file.c - the credit limits a backtest runs with: `vigilctl replay --credit FILE`.
 *
 * vigild follows the limits billing keeps in the Redis hash <prefix>credit; a replay reads
 * the same values from a file instead, so a backtest of the credit detector needs no Redis.
 * One account per line: ACCOUNT LIMIT_EUR PERIOD_START_MS, separated by blanks or tabs (the
 * hash's field, then its value), so `redis-cli --raw HGETALL vigil:credit | paste - -` writes
 * one. Blank lines and lines starting with # are skipped. A line that cannot be read refuses
 * the whole file: a backtest on half the limits would answer another question.
 *
 * Threading: single-threaded. Ownership: the caller destroys the table it gets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "credit_sync.h"
#include "vigil/credit.h"
#include "vigil/event.h"
#include "vigil/status.h"
#include "vigilctl.h"

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One line (NUL-terminated, no newline) into t. 0, or a message in err. */
static int credit_line(struct vigil_credit *t, char *line, char *err, size_t errlen)
{
    char *p = line;
    while (blank(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    char *account = p;
    while (*p != '\0' && !blank(*p))
        p++;
    if (*p == '\0') {
        snprintf(err, errlen, "expected ACCOUNT LIMIT_EUR PERIOD_START_MS");
        return -1;
    }
    *p++ = '\0';
    while (blank(*p))
        p++;
    size_t n = strlen(p);
    while (n > 0 && blank(p[n - 1]))
        p[--n] = '\0';
    if (strlen(account) > VIGIL_ACCOUNT_MAX) {
        snprintf(err, errlen, "the account id is longer than %d bytes", VIGIL_ACCOUNT_MAX);
        return -1;
    }
    long long cents, start;
    if (vigil_credit_parse(p, &cents, &start) != 0) {
        snprintf(err, errlen,
                 "expected ACCOUNT LIMIT_EUR PERIOD_START_MS (a positive amount in EUR and Unix "
                 "milliseconds)");
        return -1;
    }
    int rc = vigil_credit_set(t, vigil_credit_hash(account), cents, start);
    if (rc != 0) {
        snprintf(err, errlen, "%s", rc == VIGIL_ERR_FULL ? "more accounts than the table holds"
                                                         : vigil_status_str(rc));
        return -1;
    }
    return 0;
}

int credit_file_load(const char *path, struct vigil_credit **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return fail("--credit %s: cannot open it: %s", path, strerror(errno));
    struct vigil_credit *t = vigil_credit_create(0);
    if (!t) {
        fclose(f);
        return fail("out of memory");
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned long lineno = 0;
    char err[160];
    int rc = EXIT_OK;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        if (credit_line(t, line, err, sizeof err) != 0) {
            rc = fail("--credit %s:%lu: %s", path, lineno, err);
            break;
        }
    }
    if (rc == EXIT_OK && ferror(f))
        rc = fail("--credit %s: cannot read it: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (rc != EXIT_OK) {
        vigil_credit_destroy(t);
        return rc;
    }
    *out = t;
    return EXIT_OK;
}
