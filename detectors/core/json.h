/* SPDX-License-Identifier: Apache-2.0 */
/* json.h - reading JSON documents (orders and alerts read back from Redis or Kafka, event
 * lines of a file): one object tokenised, its top-level fields found by name, strings
 * decoded (escapes, \u with surrogate pairs, as UTF-8) and integers read. Events on the hot
 * path have their own validating parser (vigil/event.h); this one is for tools.
 *
 * Threading: a struct vigil_json belongs to its caller; nothing is shared.
 * Ownership: the token array is the struct's until vigil_json_fini; the document's text is
 * the caller's and must outlive the lookups. */
#ifndef VIGIL_JSON_H
#define VIGIL_JSON_H

#include <stddef.h>
#include <stdint.h>

/* One document. Zero-initialise; the token array is kept across parses. */
struct vigil_json {
    const char *s;
    size_t len;
    void *tok; /* jsmn's tokens */
    unsigned cap;
    int n;
};

void vigil_json_fini(struct vigil_json *d);
/* 0 when s[0..len) is one JSON object as far as jsmn can tell (it is lenient about a few
 * malformed forms; vigil_event_parse() is the real validator), else -1. */
int vigil_json_parse(struct vigil_json *d, const char *s, size_t len);
/* The value token of the top-level field `name`, or -1. */
int vigil_json_find(const struct vigil_json *d, const char *name);
/* The decoded string at token i into out[n] (its length); -1 if i < 0, it is not a string or
 * does not fit. */
int vigil_json_str(const struct vigil_json *d, int i, char *out, size_t n);
/* The integer at token i; -1 if i < 0 or it is not an integer. */
int vigil_json_int(const struct vigil_json *d, int i, int64_t *out);
/* Decodes the body of a JSON string (no quotes) into out[n], NUL-terminated. Returns the
 * length, or -1 on a bad escape or when it does not fit. */
int vigil_json_unescape(const char *s, size_t len, char *out, size_t n);

/* One top-level field of a document parsed for that lookup alone: the decoded string into
 * out[n] (its length; "" and -1 when json is not an object, or the field is missing, of
 * another type or too long), or the integer (-1 likewise). */
int vigil_json_field_str(const char *json, size_t len, const char *name, char *out, size_t n);
int vigil_json_field_int(const char *json, size_t len, const char *name, int64_t *out);

#endif
