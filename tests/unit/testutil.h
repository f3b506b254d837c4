/* Helpers shared by the unit tests: vector loading, hex, and the
 * whole / byte-by-byte / split-at-every-point feeding driver. */
#ifndef EW_TESTUTIL_H
#define EW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <energywire/ew.h>
#include <jansson.h>

/* Loads tests/vectors/<relpath> (fails the test when missing or invalid). */
json_t *tu_load_json(const char *relpath);
/* Object member as a string / integer; fails the test when absent. */
const char *tu_str(const json_t *obj, const char *key);
long long tu_int(const json_t *obj, const char *key);
/* Hex text to a new heap buffer (free with free()); fails on bad hex. */
uint8_t *tu_unhex(const char *hex, size_t *len);
/* Bytes to a new heap hex string. */
char *tu_hex(const uint8_t *p, size_t len);

/*
 * Feeding driver.  |run| decodes |len| bytes of |in| delivered as the
 * |nchunks| chunks whose lengths are in |chunks| and returns a heap string
 * describing everything it saw (an event log).  tu_check_splits() calls it
 * with the whole input, one byte at a time, and split in two at every point,
 * and asserts that every log equals the first.  Returns the whole-input log
 * (caller frees).
 */
typedef char *(*tu_run_fn)(void *ctx, const uint8_t *in, size_t len, const size_t *chunks,
                           size_t nchunks);
char *tu_check_splits(void *ctx, const uint8_t *in, size_t len, tu_run_fn run);

/* A growable string for logs. */
typedef struct tu_log {
    char *s;
    size_t len, cap;
} tu_log;
void tu_logf(tu_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *tu_log_take(tu_log *l);

/* Vector nodes ({"tag" or "tag_hex", "type", "value"} as in
 * the files in tests/vectors/rscp): a hex number ("0x01800001"), the node's tag and
 * type id, and the node added to |b| with the typed adder for its type
 * (containers recursively).  Each fails the test on bad input. */
struct ew_rscp_builder;
uint32_t tu_hex32(const char *s);
uint32_t tu_node_tag(const json_t *node);
int tu_node_type(const json_t *node);
void tu_build_node(struct ew_rscp_builder *b, const json_t *node);

/* Heap copy of the value area of frame |id| (with CRC) of
 * tests/vectors/rscp/frames_plain.json; fails the test when absent. */
uint8_t *tu_frame_area(const char *id, size_t *len);

/* Failmalloc: an ew_mem whose allocation number |fail_at| (1-based,
 * counting malloc and realloc) fails; |live| counts blocks not yet freed. */
typedef struct tu_failmem {
    ew_mem mem;
    long count, fail_at, live;
} tu_failmem;
void tu_failmem_init(tu_failmem *f, long fail_at);

/* Deterministic PRNG for randomized tests (xorshift64*). */
uint64_t tu_rand(uint64_t *state);

#endif
