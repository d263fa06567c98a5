/* SPDX-License-Identifier: Apache-2.0 */
/* acct_rec.h - one record per account for a set of detector states: the per-worker table
 * the detectors keep their per-account state in, looked up once per event.
 *
 * A record is a header (the account id, its hash, which slots are in use and which are
 * dirty) followed by one slot per declared part: each detector declares, at init and before
 * the first record exists, the bytes it keeps per account (vigil_recs_declare) and gets a
 * slot number; the slots are laid out one after the other in that order. A slot is either
 * in use (the detector holds something for the account) or free (all zero). A record lives
 * while at least one of its slots is in use: releasing the last one frees it.
 *
 * One lookup per event: the engine (pipeline/engine.c) enters the event's account before the
 * detectors run (vigil_recs_enter) and leaves it after them; vigil_recs_slot for that same
 * event returns the entered record without hashing again (an account's first event pays a
 * second lookup, to insert it). Called for any other event (a
 * detector driven on its own, as in its unit tests) it looks the account up itself.
 *
 * Pointer stability: records sit in chunks of VIGIL_RECS_CHUNK that are never moved or
 * freed before the table is, so a record's number and the address of every slot in it stay
 * the same from its creation until it is freed (its last slot released or forgotten), however
 * many records are created or freed meanwhile. A freed record's number is reused by a later
 * one. Only the index (account hash -> record number) is rebuilt on growth.
 *
 * Dirty lists: per slot, the records marked since the slot's owner last consumed its list,
 * in marking order, each listed once while its dirty bit is set. Releasing a marked slot
 * takes it off the list (O(listed), as acct_table's renumbering was), so a number reused
 * by a later record is never listed twice.
 *
 * Memory per account: VIGIL_RECS_HDR (96) bytes of header + the declared slots, each
 * rounded up to 8 (a slot is 8-byte aligned: no long double or over-aligned member), plus 8
 * bytes of index slot at 35-70% load, plus one bit per declared slot: which records have it
 * in use, so that walking a slot few accounts use (vigil_recs_next) skips the others 64 at a
 * time. A detector keeps what only some accounts need (large
 * windows, sample ids) behind a pointer in its slot, allocated when the account first needs
 * it and freed when it is quiet again, so that every record stays small.
 *
 * Threading: a table and every pointer into it belong to one thread; no locks, no atomics.
 * Ownership: the owner of a set of detector states creates one table for them, hands it to
 * their init (vigil_detector_env.recs) and destroys it after them. A detector given none
 * creates its own and destroys it. Slot pointers are borrowed. */
#ifndef VIGIL_ACCT_REC_H
#define VIGIL_ACCT_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

#define VIGIL_RECS_SLOTS 32   /* parts one table may declare */
#define VIGIL_RECS_CHUNK 1024 /* records allocated at once */
#define VIGIL_RECS_HDR 96     /* bytes of a record's header */

struct vigil_recs;

/* Releases what a slot points to outside the record (parts allocated on demand) before the
 * slot is zeroed by vigil_recs_forget or vigil_recs_destroy. */
typedef void (*vigil_recs_fini_fn)(void *ctx, void *slot);

/* expected: accounts to hold without growing the index (0: a small default). NULL when out
 * of memory. */
struct vigil_recs *vigil_recs_create(size_t expected);
/* Calls every declared fini on every slot in use, then frees the table. Accepts NULL. */
void vigil_recs_destroy(struct vigil_recs *r);

/* Declares a part of size bytes (> 0, 8-byte aligned) per account; fini (may be NULL) with ctx is
 * called on a slot in use that is forgotten or destroyed. Returns the slot number (>= 0), or
 * VIGIL_ERR_INVALID once a record exists or VIGIL_RECS_SLOTS are declared. */
int vigil_recs_declare(struct vigil_recs *r, size_t size, vigil_recs_fini_fn fini, void *ctx);

/* Slots declared. */
size_t vigil_recs_slots(const struct vigil_recs *r);
/* Declares a slot that holds a pointer to a part (first and only member), whose part
 * vigil_recs_enter prefetches when in use; otherwise as vigil_recs_declare. */
int vigil_recs_declare_part(struct vigil_recs *r, vigil_recs_fini_fn fini, void *ctx);

/* Records currently held. */
size_t vigil_recs_count(const struct vigil_recs *r);
/* Bytes held by the table: chunks, index and dirty lists. */
size_t vigil_recs_bytes(const struct vigil_recs *r);

/* The engine's per-event pair. enter: looks ev's account up and makes its record (or that it
 * has none: nothing is created here) the current one for ev until leave; the first
 * vigil_recs_slot for ev then creates it, so an account no detector takes costs one lookup
 * and nothing else, and a new account two (this one and the insert). 0, or VIGIL_ERR_INVALID
 * for an account that is not a valid key (nothing is entered; vigil_recs_slot then fails the
 * same way on its own). leave: frees the current record if no slot is in use in it any more. */
int vigil_recs_enter(struct vigil_recs *r, const struct vigil_event *ev);
void vigil_recs_leave(struct vigil_recs *r);

/* The slot `slot` of ev's account's record, taking it into use: the current record when ev
 * is the event entered, else looked up or created. *fresh (may be NULL) is true when the slot
 * was not in use before (it is all zero). NULL when out of memory or the account is no
 * valid key. */
void *vigil_recs_slot(struct vigil_recs *r, int slot, const struct vigil_event *ev, bool *fresh);
/* The same for an account id (a checkpoint load). */
void *vigil_recs_slot_of(struct vigil_recs *r, int slot, const char *account, bool *fresh);
/* ev's account's slot if in use, else NULL; never creates, and costs no lookup when ev is
 * the event entered. */
void *vigil_recs_peek(const struct vigil_recs *r, int slot, const struct vigil_event *ev);
/* The slot of `account` if in use, else NULL; never creates. */
void *vigil_recs_find(const struct vigil_recs *r, int slot, const char *account);

/* The account id of the record holding slot pointer s. */
const char *vigil_recs_account(const struct vigil_recs *r, int slot, const void *s);
/* The record number of the record holding slot pointer s (the order vigil_recs_next walks):
 * a detector that visits only some records sorts them by it to visit them in that order. */
size_t vigil_recs_number(const struct vigil_recs *r, int slot, const void *s);

/* Slot `other` of the record holding slot pointer s (of `slot`, in use): sibling takes it
 * into use (*fresh as for vigil_recs_slot; never fails: the record is there), sibling_find
 * returns it only if in use, else NULL. No lookup: one detector's slots reach each other. */
void *vigil_recs_sibling(struct vigil_recs *r, int slot, const void *s, int other, bool *fresh);
void *vigil_recs_sibling_find(const struct vigil_recs *r, int slot, const void *s, int other);

/* The slot holds nothing any more: it is zeroed and leaves use (its fini is NOT called: the
 * detector frees its parts first), and its record is freed if no other slot is in use. */
void vigil_recs_release(struct vigil_recs *r, int slot, void *s);
/* Drops `account`'s slot if in use: fini, then release. */
void vigil_recs_forget(struct vigil_recs *r, int slot, const char *account);

/* Slots in use, by record number. Start with *it = 0; returns NULL at the end. The slot
 * returned may be released before the next call.
 *     for (size_t it = 0; (s = vigil_recs_next(r, slot, &it));) ... */
void *vigil_recs_next(const struct vigil_recs *r, int slot, size_t *it);

/* Marks s dirty for its slot's list (once until consumed). 0, or VIGIL_ERR_NOMEM (not
 * marked). */
int vigil_recs_mark(struct vigil_recs *r, int slot, void *s);
/* True when s is marked and not yet consumed. */
bool vigil_recs_marked(const struct vigil_recs *r, int slot, const void *s);
/* Entries listed, and entry i's slot (NULL only past the end). */
size_t vigil_recs_dirty_count(const struct vigil_recs *r, int slot);
void *vigil_recs_dirty_at(const struct vigil_recs *r, int slot, size_t i);
/* The first `done` entries are handled: their dirty bits are cleared and they leave the
 * list; the rest stay listed, in order. */
void vigil_recs_dirty_consume(struct vigil_recs *r, int slot, size_t done);

/* A pool of fixed-size blocks for the parts a slot points to: blocks come from chunks of
 * about 64 KB and freed ones are reused first, so the parts of one detector lie together in
 * the order they were made (a sweep in record order walks them nearly in address order, as
 * it walked a detector's own dense table) and cost no allocator header each. Chunks are kept
 * until the pool is destroyed: an account that goes quiet gives its block back to the pool,
 * not to the system.
 * Threading: one pool belongs to one thread. Ownership: the creator destroys it, after the
 * records whose slots point into it. */
struct vigil_pool;

/* size: bytes per block (> 0). NULL when out of memory. */
struct vigil_pool *vigil_pool_create(size_t size);
void vigil_pool_destroy(struct vigil_pool *p); /* accepts NULL */
/* A zeroed block, or NULL when out of memory. */
void *vigil_pool_alloc(struct vigil_pool *p);
/* Gives block b (from this pool; NULL is ignored) back. */
void vigil_pool_free(struct vigil_pool *p, void *b);

#endif
