/* SPDX-License-Identifier: Apache-2.0 */
/* number.c - normalisation of calling numbers to E.164 ("+31201234567") or short codes.
 *
 * Threading: pure; any thread may call at any time.
 *
 * Rules (events.md "Numbers"), after dropping the separators ' ', '-', '.', '(', ')':
 *   "+" digits       E.164 as given
 *   "00" digits      international prefix: "+" and the digits after "00"
 *   "0" digits       national: "+" default_cc and the digits after the '0', which must be
 *                    at least NATIONAL_MIN
 *   digits           a short code (112, 911, 116000, 14020, 1844): 3..6 digits not starting
 *                    with '0', kept as digits without '+'
 * In the first three forms the country code may not start with '0' and the result holds
 * E164_MIN..E164_MAX digits. Anything else ('+' after a digit, '*', '#', letters, an empty
 * string) is invalid. */
#include <stdbool.h>
#include <string.h>

#include "vigil/event.h"
#include "vigil/status.h"

/* E.164 allows 15 digits and real numbers have at least 7; we accept 3..17 so that short
 * international service numbers and exporters padding a digit or two still count, while
 * staying far below VIGIL_NUMBER_MAX. Detectors care about the prefix, not the length. */
#define E164_MIN 3
#define E164_MAX 17
/* "0" plus fewer national digits than this is a typo or a short code with a stray '0'. */
#define NATIONAL_MIN 6
#define SHORT_MIN 3
#define SHORT_MAX 6
#define CC_MAX 3 /* country calling codes have 1..3 digits */

static bool is_separator(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

/* Writes "+" cc digits (cc may be empty) into out. The caller has checked the lengths. */
static void put_e164(char *out, const char *cc, size_t cc_len, const char *digits, size_t n)
{
    out[0] = '+';
    memcpy(out + 1, cc, cc_len);
    memcpy(out + 1 + cc_len, digits, n);
    out[1 + cc_len + n] = '\0';
}

/* An international number of `total` digits starting at `first` (the country code). */
static bool e164_ok(const char *first, size_t total)
{
    return total >= E164_MIN && total <= E164_MAX && first[0] != '0';
}

int vigil_number_normalize(const char *in, size_t len, const char *default_cc, char *out)
{
    /* One more than the longest digit string any rule accepts, so "too long" is seen
     * without ever writing past this buffer. */
    char d[E164_MAX + 3];
    size_t n = 0;
    bool plus = false;

    if (out == NULL)
        return VIGIL_ERR_INVALID;
    out[0] = '\0';
    if (in == NULL)
        return VIGIL_ERR_INVALID;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (is_separator(c))
            continue;
        if (c == '+') {
            /* Only before every digit, and only once. */
            if (plus || n > 0)
                return VIGIL_ERR_INVALID;
            plus = true;
            continue;
        }
        if (c < '0' || c > '9')
            return VIGIL_ERR_INVALID;
        if (n == sizeof d)
            return VIGIL_ERR_INVALID;
        d[n++] = c;
    }
    if (n == 0)
        return VIGIL_ERR_INVALID;

    if (plus) {
        if (!e164_ok(d, n))
            return VIGIL_ERR_INVALID;
        put_e164(out, "", 0, d, n);
        return 0;
    }
    if (n >= 2 && d[0] == '0' && d[1] == '0') {
        if (!e164_ok(d + 2, n - 2))
            return VIGIL_ERR_INVALID;
        put_e164(out, "", 0, d + 2, n - 2);
        return 0;
    }
    if (d[0] == '0') {
        const char *cc = default_cc != NULL ? default_cc : "31";
        size_t cc_len = strnlen(cc, CC_MAX + 1);
        if (cc_len == 0 || cc_len > CC_MAX || cc[0] == '0')
            return VIGIL_ERR_INVALID;
        for (size_t i = 0; i < cc_len; i++) {
            if (cc[i] < '0' || cc[i] > '9')
                return VIGIL_ERR_INVALID;
        }
        if (n - 1 < NATIONAL_MIN || !e164_ok(cc, cc_len + n - 1))
            return VIGIL_ERR_INVALID;
        put_e164(out, cc, cc_len, d + 1, n - 1);
        return 0;
    }
    if (n >= SHORT_MIN && n <= SHORT_MAX) {
        memcpy(out, d, n);
        out[n] = '\0';
        return 0;
    }
    return VIGIL_ERR_INVALID;
}
