/* SPDX-License-Identifier: Apache-2.0 */
/* privacy.h - pseudonymisation of phone numbers (privacy.pseudonymise = 1).
 *
 * With a key loaded, every phone number that leaves vigil (alert and order reasons, detector
 * state in Redis, dead letters) is replaced by a token: "pn:" and 16 hex digits of
 * SipHash-2-4 (128-bit key from privacy.key_file) over the normalised number. The same
 * number and key always give the same token; without the key a token cannot be turned back
 * into its number, and with it only by trying candidates (vigilctl reveal).
 *
 * Threading: vigil_privacy_set_key and vigil_privacy_clear are called once at start-up,
 * before any thread that emits exists; every other function may then run on any thread. */
#ifndef VIGIL_PRIVACY_H
#define VIGIL_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_PRIVACY_KEY_LEN 16
#define VIGIL_PRIVACY_TOKEN_LEN 19 /* "pn:" + 16 hex digits, without the NUL */

/* Reads the key file: its first line is 32 hex digits (16 bytes). Returns 0, or -1 with a
 * one-line reason in err (a file's name, never its content). */
int vigil_privacy_read_key(const char *path, uint8_t key[VIGIL_PRIVACY_KEY_LEN], char *err,
                           size_t errlen);

/* Turns pseudonymisation on with this key (process-wide), or off. */
void vigil_privacy_set_key(const uint8_t key[VIGIL_PRIVACY_KEY_LEN]);
void vigil_privacy_clear(void);
bool vigil_privacy_enabled(void);

/* buf (VIGIL_PRIVACY_TOKEN_LEN + 1 bytes) gets the token of number under key. Returns buf. */
char *vigil_privacy_token_with(const uint8_t key[VIGIL_PRIVACY_KEY_LEN], const char *number,
                               size_t len, char *buf);

/* The token of number under the process-wide key (pseudonymisation must be on). */
char *vigil_privacy_token(const char *number, char *buf);

/* What may be shown of number outside vigil: its token when pseudonymisation is on, else the
 * number itself (then the return value is number, not buf). */
const char *vigil_privacy_show(const char *number, char *buf);

/* SipHash-2-4 of s under the process-wide key (pseudonymisation must be on): for hashes of
 * numbers that are kept, such as the flagged set. */
uint64_t vigil_privacy_hash(const char *s, size_t len);

/* SipHash-2-4 of in under a 16-byte key (exported for the reference test vectors). */
uint64_t vigil_siphash24(const uint8_t key[VIGIL_PRIVACY_KEY_LEN], const void *in, size_t len);

#endif
