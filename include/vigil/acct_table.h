/* SPDX-License-Identifier: Apache-2.0 */
/* acct_table.h - per-thread hash table from an account id to a fixed-size value slot, the
 * state store every detector keeps its per-account state in.
 *
 * Layout ("compact dict"): a dense array of entries {hash, key, value} in insertion order,
 * and an open-addressing index of {entry number, low 32 hash bits} slots with linear
 * probing. Lookups touch the 8-byte index slots and one entry; iteration walks the dense
 * array; an empty index slot costs 8 bytes, not a whole value. Removal deletes the index
 * slot by backward shift (no tombstones, so probe chains never rot) and moves the last
 * entry into the hole.
 *
 * Hash: 64-bit FNV-1a of the key bytes (vigil_fnv1a) followed by the splitmix64 / murmur3
 * finaliser. FNV-1a alone leaves its low bits, which pick the slot, depending only on the
 * low bits of the input bytes ("acc-1041", "acc-1051" would crowd together); the finaliser
 * spreads every input bit over the whole word. Not seeded: keys are account ids assigned by
 * the provider, not chosen by callers, so flooding one chain is not an attack surface.
 *
 * Growth: the index doubles when it would pass 70% load and the entry array is resized to
 * match, so memory is allocated only on growth (amortised O(1) per insert), never per
 * lookup. Memory per account: 80 bytes of key header + the value rounded up to 16, plus 8
 * bytes of index slot at 35-70% load (about 11-23 bytes).
 *
 * Threading: one table belongs to one thread; no locks, no atomics.
 * Ownership: the table owns keys and values; pointers it returns are borrowed (see the
 * stability rules on each function). */
#ifndef VIGIL_ACCT_TABLE_H
#define VIGIL_ACCT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

#define VIGIL_ACCT_KEY_MAX VIGIL_ACCOUNT_MAX /* bytes of a key, without the NUL */

struct vigil_acct_table;

/* value_size: bytes of each value (0 is allowed: a set). expected: entries to hold without
 * growing (0 for a small default). NULL on allocation failure. */
struct vigil_acct_table *vigil_acct_table_create(size_t value_size, size_t expected);
void vigil_acct_table_destroy(struct vigil_acct_table *t); /* accepts NULL */

size_t vigil_acct_table_count(const struct vigil_acct_table *t);

/* True when `account` is a key the table takes: NUL-terminated, 1..VIGIL_ACCT_KEY_MAX bytes. */
bool vigil_acct_key_ok(const char *account);

/* The value stored for `account` (a NUL-terminated key of 1..VIGIL_ACCT_KEY_MAX bytes), or
 * NULL when absent or the key is empty or too long. */
void *vigil_acct_table_find(const struct vigil_acct_table *t, const char *account);

/* The value for `account`, inserting a zero-filled one when absent; *created (may be NULL)
 * tells which. NULL when the key is empty or too long, or growing failed (the table is then
 * unchanged). May grow the table: every value pointer and key pointer obtained before is
 * invalid after an insert; entry numbers stay valid. */
void *vigil_acct_table_get(struct vigil_acct_table *t, const char *account, bool *created);

/* Removes `account`; false when it was absent. Moves the last entry into the hole: pointers
 * to that entry and the last entry number become invalid. Never allocates. */
bool vigil_acct_table_remove(struct vigil_acct_table *t, const char *account);

/* Entries by number, i in [0, count): the value, and the key in *account when non-NULL.
 * Numbers are dense and stable until the next removal (inserts append), so a detector may
 * remember "entry i changed" between ticks as long as it removes nothing meanwhile.
 *     for (size_t i = 0; i < vigil_acct_table_count(t); i++) v = vigil_acct_table_at(t, i, &k);
 */
void *vigil_acct_table_at(const struct vigil_acct_table *t, size_t i, const char **account);

/* The entry number of a value pointer returned by this table. */
size_t vigil_acct_table_index(const struct vigil_acct_table *t, const void *value);

/* Removes entry i, moving the last entry into it. To remove while iterating, walk down:
 *     for (size_t i = vigil_acct_table_count(t); i-- > 0;)
 *         if (idle(vigil_acct_table_at(t, i, NULL))) vigil_acct_table_remove_at(t, i);
 * (the entry moved into i has already been visited). Never allocates. */
void vigil_acct_table_remove_at(struct vigil_acct_table *t, size_t i);

/* The table's hash of any bytes (see above), for callers that key their own small sets with
 * it, e.g. call ids. */
uint64_t vigil_acct_table_hash(const void *data, size_t len);

/* a / b rounded towards minus infinity (C division truncates towards zero): the window or
 * bucket an event time falls in, also for times before the epoch. b != 0. */
static inline int64_t vigil_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* A growable list of entry numbers: the accounts a detector changed since its last tick.
 * The caller pushes an entry at most once per tick (guarded by a flag of its own), so the
 * list stops growing at the number of accounts; it never shrinks. */
struct vigil_idx_list {
    uint32_t *v;
    size_t n, cap;
};

/* Appends idx. 0, or VIGIL_ERR_NOMEM (the list is unchanged). */
int vigil_idx_list_push(struct vigil_idx_list *l, uint32_t idx);
/* Removes the first `done` entries (those a tick has handled), keeping the rest in order. */
void vigil_idx_list_consume(struct vigil_idx_list *l, size_t done);
/* Entry `hole` of the list's table is about to be removed and its last entry, `last`, moved
 * into the hole (vigil_acct_table_remove_at): drops `hole` from the list and names the moved
 * entry by its new number, keeping the order. O(listed entries); never allocates. */
void vigil_idx_list_renumber(struct vigil_idx_list *l, uint32_t hole, uint32_t last);
/* Frees the storage; the list is empty and usable afterwards. */
void vigil_idx_list_fini(struct vigil_idx_list *l);

#endif
