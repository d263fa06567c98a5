/* SPDX-License-Identifier: Apache-2.0 */
/* state_codec.h - the one encoding of a detector's per-account checkpoint: a version byte,
 * then fixed-width integers in little-endian order whatever the host, written with a sticky
 * error and read back with bounds checks and one validator path.
 *
 * Writing: vigil_state_write_begin puts the version byte; the put functions append; an
 * allocation failure sticks in `err` and makes every later put a no-op, so a caller checks
 * once, at vigil_state_write_end, which also takes back what this record appended when it
 * failed (the caller's buffer holds earlier accounts' records).
 * Reading: vigil_state_read_begin checks the version byte; every get and every check
 * (vigil_state_check and the range getters) sets the reader's `bad` on failure, after which
 * gets return 0 and read nothing; vigil_state_read_end refuses a record that went bad or
 * has bytes left over. A loader reads and checks everything into a scratch copy first and
 * changes its state only after read_end returned 0.
 *
 * Threading: plain values owned by one thread.
 * Ownership: the writer appends to the caller's vigil_bytes; the reader borrows the data. */
#ifndef VIGIL_STATE_CODEC_H
#define VIGIL_STATE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/bytes.h"

struct vigil_state_writer {
    struct vigil_bytes *out;
    size_t start; /* out->len at begin: where a failed record is cut back to */
    int err;      /* 0 or the first error (VIGIL_ERR_NOMEM); sticky */
};

void vigil_state_write_begin(struct vigil_state_writer *w, struct vigil_bytes *out,
                             uint8_t version);
void vigil_state_put_u8(struct vigil_state_writer *w, uint8_t v);
void vigil_state_put_u16(struct vigil_state_writer *w, uint16_t v);
void vigil_state_put_u32(struct vigil_state_writer *w, uint32_t v);
void vigil_state_put_u64(struct vigil_state_writer *w, uint64_t v);
void vigil_state_put_i32(struct vigil_state_writer *w, int32_t v);
void vigil_state_put_i64(struct vigil_state_writer *w, int64_t v);
void vigil_state_put_bool(struct vigil_state_writer *w, bool v);
/* An IEEE 754 double as its 64 bits (every platform vigil builds on has them). */
void vigil_state_put_f64(struct vigil_state_writer *w, double v);
/* n raw bytes (text, already-canonical byte arrays). */
void vigil_state_put_raw(struct vigil_state_writer *w, const void *p, size_t n);
/* 0, or the sticky error; on error out is back to its length at begin. */
int vigil_state_write_end(struct vigil_state_writer *w);

/* Starts reading data[0..len) and checks its first byte is `version` (bad otherwise). */
void vigil_state_read_begin(struct vigil_bytes_reader *r, const void *data, size_t len,
                            uint8_t version);
uint8_t vigil_state_get_u8(struct vigil_bytes_reader *r);
uint16_t vigil_state_get_u16(struct vigil_bytes_reader *r);
uint32_t vigil_state_get_u32(struct vigil_bytes_reader *r);
uint64_t vigil_state_get_u64(struct vigil_bytes_reader *r);
int32_t vigil_state_get_i32(struct vigil_bytes_reader *r);
int64_t vigil_state_get_i64(struct vigil_bytes_reader *r);
double vigil_state_get_f64(struct vigil_bytes_reader *r);
/* A byte that must be 0 or 1. */
bool vigil_state_get_bool(struct vigil_bytes_reader *r);
/* An unsigned count that must be at most max (array lengths, indexes): 0 when it is not, so
 * a loop over it never runs past the array even before read_end refuses the record. */
uint32_t vigil_state_get_count(struct vigil_bytes_reader *r, uint32_t max);
/* The same, saved in one byte (vigil_state_put_u8). */
uint8_t vigil_state_get_count8(struct vigil_bytes_reader *r, uint8_t max);
/* A time in ms that must pass vigil_saved_time_ok. */
int64_t vigil_state_get_time(struct vigil_bytes_reader *r);
/* A time that is either vigil_saved_time_ok or exactly `none` (a sentinel such as -1 or
 * INT64_MAX for "not set"). */
int64_t vigil_state_get_time_or(struct vigil_bytes_reader *r, int64_t none);
/* n raw bytes into dst. */
void vigil_state_get_raw(struct vigil_bytes_reader *r, void *dst, size_t n);
/* Little-endian values read in place, for a loader that keeps a checked span of the saved
 * bytes (vigil_bytes_reader.p + pos) and decodes its entries later. */
uint16_t vigil_state_u16_at(const unsigned char *p);
int32_t vigil_state_i32_at(const unsigned char *p);
uint64_t vigil_state_u64_at(const unsigned char *p);
int64_t vigil_state_i64_at(const unsigned char *p);
/* The one way a loader refuses a value: marks the record bad unless ok. */
void vigil_state_check(struct vigil_bytes_reader *r, bool ok);
/* 0 when every read and check passed and all bytes were read; VIGIL_ERR_INVALID else. */
int vigil_state_read_end(const struct vigil_bytes_reader *r);

#endif
