/* SPDX-License-Identifier: Apache-2.0 */
/* privacy.c - phone number tokens: keyed SipHash-2-4 (see include/vigil/privacy.h).
 *
 * Why SipHash: a keyed pseudo-random function made for short inputs, 20 lines, no
 * allocation (tokens are made on the per-event path), no new library; 64 bits are enough
 * that two numbers of one provider practically never share a token.
 *
 * Threading: the key is written once before threads start, then only read. */
#include "vigil/privacy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/text.h"

static struct {
    bool on;
    uint8_t key[VIGIL_PRIVACY_KEY_LEN];
} g_priv;

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

uint64_t vigil_siphash24(const uint8_t key[VIGIL_PRIVACY_KEY_LEN], const void *in, size_t len)
{
    const uint8_t *p = in;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = le64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)p[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vigil_privacy_read_key(const char *path, uint8_t key[VIGIL_PRIVACY_KEY_LEN], char *err,
                           size_t errlen)
{
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "privacy.pseudonymise = 1 needs privacy.key_file");
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read privacy.key_file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[128];
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(line, "\r\n") : 0;
    int ok = n == 2 * VIGIL_PRIVACY_KEY_LEN;
    for (size_t i = 0; ok && i < VIGIL_PRIVACY_KEY_LEN; i++) {
        int hi = hexval(line[2 * i]), lo = hexval(line[2 * i + 1]);
        if (hi < 0 || lo < 0)
            ok = 0;
        else
            key[i] = (uint8_t)(hi << 4 | lo);
    }
    memset(line, 0, sizeof line);
    if (!ok) {
        snprintf(err, errlen,
                 "privacy.key_file %s: the first line must be 32 hex digits (16 random bytes)",
                 path);
        return -1;
    }
    return 0;
}

void vigil_privacy_set_key(const uint8_t key[VIGIL_PRIVACY_KEY_LEN])
{
    memcpy(g_priv.key, key, VIGIL_PRIVACY_KEY_LEN);
    g_priv.on = true;
}

void vigil_privacy_clear(void)
{
    memset(g_priv.key, 0, sizeof g_priv.key);
    g_priv.on = false;
}

bool vigil_privacy_enabled(void)
{
    return g_priv.on;
}

char *vigil_privacy_token_with(const uint8_t key[VIGIL_PRIVACY_KEY_LEN], const char *number,
                               size_t len, char *buf)
{
    memcpy(buf, "pn:", 3); /* VIGIL_PRIVACY_TOKEN_LEN: "pn:" and 16 hex digits */
    vigil_text_hex64(buf + 3, vigil_siphash24(key, number, len));
    return buf;
}

char *vigil_privacy_token(const char *number, char *buf)
{
    return vigil_privacy_token_with(g_priv.key, number, strlen(number), buf);
}

const char *vigil_privacy_show(const char *number, char *buf)
{
    if (!g_priv.on || number[0] == '\0')
        return number;
    return vigil_privacy_token(number, buf);
}

uint64_t vigil_privacy_hash(const char *s, size_t len)
{
    return vigil_siphash24(g_priv.key, s, len);
}
