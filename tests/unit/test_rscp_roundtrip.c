/*
 * Randomized round trip: value trees of every type (random nesting up to
 * depth 8, random lengths) -> builder in frame mode (CRC on and off) ->
 * encryptor -> streaming decryptor fed in random chunks -> frame decoder ->
 * iterator, comparing every value with the generated model.
 */
#include "testutil.h"

#include <energywire/rscp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTREES 3000
#define PER_CONNECTION 100
#define MAX_NEST 8

/* ---- the model ------------------------------------------------------------ */

typedef struct node {
    uint32_t tag;
    uint8_t type;
    int raw;    /* expected EW_RSCP_VF_RAW */
    int how;    /* which adder was used (see add_node) */
    int64_t i;  /* signed integer types, Bool */
    uint64_t u; /* UInt64 */
    double f;   /* Float32 (as float), Double64 */
    ew_rscp_timestamp ts;
    uint32_t code;  /* Error */
    uint8_t *bytes; /* expected value bytes (every type) */
    size_t len;
    struct node *kids;
    size_t nkids;
} node;

enum { HOW_TYPED, HOW_RAW, HOW_INT };

typedef struct gen {
    uint64_t seed;
    size_t budget; /* value bytes left for this tree */
    size_t nodes;
    int deep;           /* this tree favours containers */
    unsigned max_depth; /* deepest value generated so far */
} gen;

static uint64_t rnd(gen *g) {
    return tu_rand(&g->seed);
}
static size_t rnd_below(gen *g, size_t n) {
    return n ? (size_t)(rnd(g) % n) : 0;
}

static void le(uint8_t *p, uint64_t v, int n) {
    for (int k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static uint8_t *alloc_bytes(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* An integer with interesting values more often than uniform bits give. */
static uint64_t rnd_bits(gen *g) {
    switch (rnd_below(g, 6)) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX;
    case 2:
        return (uint64_t)1 << rnd_below(g, 64);
    case 3:
        return rnd_below(g, 300);
    default:
        return rnd(g);
    }
}

static uint32_t rnd_tag(gen *g) {
    size_t n = ew_rscp_tag_count();
    if (n && rnd_below(g, 4) != 0)
        return ew_rscp_tag_at(rnd_below(g, n))->id;
    return (uint32_t)rnd(g);
}

static size_t rnd_len(gen *g) {
    size_t max = rnd_below(g, 10) == 0 ? 1500 : 40;
    size_t n = rnd_below(g, max + 1);
    return n > g->budget ? g->budget : n;
}

static void fill_random(gen *g, uint8_t *p, size_t n) {
    int zeros = rnd_below(g, 4) == 0; /* often end in zero bytes */
    for (size_t k = 0; k < n; k++)
        p[k] = zeros && k >= n / 2 ? 0 : (uint8_t)rnd(g);
}

static void gen_node(gen *g, node *nd, unsigned depth);

/* A scalar of a known fixed-size type. */
static void gen_scalar(gen *g, node *nd, uint8_t type) {
    uint64_t bits = rnd_bits(g);
    int size = ew_rscp_type_fixed_size(type);
    nd->len = (size_t)size;
    nd->bytes = alloc_bytes(nd->len);
    switch (type) {
    case EW_RSCP_TYPE_NONE:
        break;
    case EW_RSCP_TYPE_BOOL:
        nd->i = (int64_t)(bits & 1);
        break;
    case EW_RSCP_TYPE_CHAR8:
        nd->i = (int8_t)bits;
        break;
    case EW_RSCP_TYPE_UCHAR8:
        nd->i = (uint8_t)bits;
        break;
    case EW_RSCP_TYPE_INT16:
        nd->i = (int16_t)bits;
        break;
    case EW_RSCP_TYPE_UINT16:
        nd->i = (uint16_t)bits;
        break;
    case EW_RSCP_TYPE_INT32:
        nd->i = (int32_t)bits;
        break;
    case EW_RSCP_TYPE_UINT32:
        nd->i = (uint32_t)bits;
        break;
    case EW_RSCP_TYPE_INT64:
        nd->i = (int64_t)bits;
        break;
    case EW_RSCP_TYPE_UINT64:
        nd->u = bits;
        break;
    case EW_RSCP_TYPE_FLOAT32: {
        static const float specials[] = {0.0f, -0.0f, 1.0f, 58.75f, 1e-40f, 3.4e38f};
        float fv;
        size_t pick = rnd_below(g, 10);
        if (pick < 6)
            fv = specials[pick];
        else if (pick == 6)
            fv = INFINITY;
        else if (pick == 7)
            fv = NAN;
        else
            fv = (float)((double)(int32_t)bits / 1024.0);
        nd->f = fv;
        uint32_t fb;
        memcpy(&fb, &fv, 4);
        le(nd->bytes, fb, 4);
        return;
    }
    case EW_RSCP_TYPE_DOUBLE64: {
        double dv;
        size_t pick = rnd_below(g, 8);
        if (pick == 0)
            dv = NAN;
        else if (pick == 1)
            dv = -INFINITY;
        else if (pick == 2)
            dv = -0.0;
        else
            dv = (double)(int64_t)bits / 3.0;
        nd->f = dv;
        uint64_t db;
        memcpy(&db, &dv, 8);
        le(nd->bytes, db, 8);
        return;
    }
    case EW_RSCP_TYPE_TIMESTAMP:
        nd->ts.seconds = (int64_t)bits;
        nd->ts.nanoseconds = (uint32_t)rnd(g) % 1000000000u;
        le(nd->bytes, (uint64_t)nd->ts.seconds, 8);
        le(nd->bytes + 8, nd->ts.nanoseconds, 4);
        return;
    case EW_RSCP_TYPE_ERROR:
        nd->code = (uint32_t)bits;
        le(nd->bytes, nd->code, 4);
        return;
    default:
        fail_msg("not a scalar type %d", type);
    }
    if (type == EW_RSCP_TYPE_UINT64)
        le(nd->bytes, nd->u, size);
    else if (size)
        le(nd->bytes, (uint64_t)nd->i, size);
}

static void gen_node(gen *g, node *nd, unsigned depth) {
    memset(nd, 0, sizeof *nd);
    g->nodes++;
    nd->tag = rnd_tag(g);
    if (depth > g->max_depth)
        g->max_depth = depth;
    size_t pick = rnd_below(g, 24);
    if (g->deep && rnd_below(g, 2) == 0)
        pick = 0;
    if (depth < MAX_NEST && pick < 4 && g->budget > 7 && g->nodes < 120) {
        nd->type = EW_RSCP_TYPE_CONTAINER;
        size_t n = g->deep ? 1 + rnd_below(g, 2) : rnd_below(g, depth < 2 ? 6 : 4);
        nd->kids = calloc(n ? n : 1, sizeof *nd->kids);
        assert_non_null(nd->kids);
        for (size_t k = 0; k < n && g->budget > 7 && g->nodes < 120; k++) {
            g->budget -= 7;
            gen_node(g, &nd->kids[nd->nkids++], depth + 1);
        }
        return;
    }
    if (pick < 4)
        pick = 4 + rnd_below(g, 20);
    if (pick < 21) {
        /* Every known type except Container, typed adder. */
        static const uint8_t types[] = {
            EW_RSCP_TYPE_NONE,      EW_RSCP_TYPE_BOOL,    EW_RSCP_TYPE_CHAR8,
            EW_RSCP_TYPE_UCHAR8,    EW_RSCP_TYPE_INT16,   EW_RSCP_TYPE_UINT16,
            EW_RSCP_TYPE_INT32,     EW_RSCP_TYPE_UINT32,  EW_RSCP_TYPE_INT64,
            EW_RSCP_TYPE_UINT64,    EW_RSCP_TYPE_FLOAT32, EW_RSCP_TYPE_DOUBLE64,
            EW_RSCP_TYPE_BITFIELD,  EW_RSCP_TYPE_CSTRING, EW_RSCP_TYPE_TIMESTAMP,
            EW_RSCP_TYPE_BYTEARRAY, EW_RSCP_TYPE_ERROR};
        nd->type = types[rnd_below(g, sizeof types)];
        nd->how = HOW_TYPED;
        int size = ew_rscp_type_fixed_size(nd->type);
        if (nd->type == EW_RSCP_TYPE_BITFIELD || nd->type == EW_RSCP_TYPE_CSTRING ||
            nd->type == EW_RSCP_TYPE_BYTEARRAY) {
            nd->len = rnd_len(g);
            nd->bytes = alloc_bytes(nd->len);
            fill_random(g, nd->bytes, nd->len);
        } else if ((size_t)size > g->budget) {
            nd->type = EW_RSCP_TYPE_NONE;
            nd->bytes = alloc_bytes(0);
        } else {
            gen_scalar(g, nd, nd->type);
        }
        g->budget -= nd->len;
        return;
    }
    if (pick == 21) {
        /* An integer through ew_rscp_builder_add_int on an unknown tag:
         * Int32 when it fits, else Int64. */
        nd->how = HOW_INT;
        nd->tag = 0x7F000000u | (uint32_t)rnd_below(g, 0x10000);
        assert_null(ew_rscp_tag_by_id(nd->tag));
        nd->i = (int64_t)rnd_bits(g);
        int fits = nd->i >= INT32_MIN && nd->i <= INT32_MAX;
        nd->type = fits ? EW_RSCP_TYPE_INT32 : EW_RSCP_TYPE_INT64;
        nd->len = fits ? 4 : 8;
        if (nd->len > g->budget) {
            nd->i = 1;
            nd->type = EW_RSCP_TYPE_INT32;
            nd->len = 4;
        }
        nd->bytes = alloc_bytes(nd->len);
        le(nd->bytes, (uint64_t)nd->i, (int)nd->len);
        g->budget -= nd->len < g->budget ? nd->len : g->budget;
        return;
    }
    /* Raw values: an unknown type id, a fixed-size type with the wrong
     * length, or the 1-byte Error form (not raw). */
    nd->how = HOW_RAW;
    size_t kind = rnd_below(g, 3);
    if (kind == 0) {
        do
            nd->type = (uint8_t)rnd(g);
        while (ew_rscp_type_name(nd->type) != NULL);
        nd->raw = 1;
        nd->len = rnd_len(g);
    } else if (kind == 1) {
        static const uint8_t fixed[] = {EW_RSCP_TYPE_NONE,     EW_RSCP_TYPE_BOOL,
                                        EW_RSCP_TYPE_INT16,    EW_RSCP_TYPE_UINT32,
                                        EW_RSCP_TYPE_INT64,    EW_RSCP_TYPE_FLOAT32,
                                        EW_RSCP_TYPE_DOUBLE64, EW_RSCP_TYPE_TIMESTAMP};
        nd->type = fixed[rnd_below(g, sizeof fixed)];
        nd->raw = 1;
        size_t want = (size_t)ew_rscp_type_fixed_size(nd->type);
        do
            nd->len = rnd_below(g, 14);
        while (nd->len == want);
        if (nd->len > g->budget) {
            nd->type = 0x77; /* unknown, still raw */
            nd->len = 0;
        }
    } else {
        nd->type = EW_RSCP_TYPE_ERROR;
        nd->len = g->budget ? 1 : 0;
        nd->raw = nd->len == 0;
    }
    nd->bytes = alloc_bytes(nd->len);
    fill_random(g, nd->bytes, nd->len);
    if (nd->type == EW_RSCP_TYPE_ERROR && nd->len == 1)
        nd->code = nd->bytes[0];
    g->budget -= nd->len;
}

static void free_node(node *nd) {
    for (size_t k = 0; k < nd->nkids; k++)
        free_node(&nd->kids[k]);
    free(nd->kids);
    free(nd->bytes);
}

static size_t count_nodes(const node *nd) {
    size_t n = 1;
    for (size_t k = 0; k < nd->nkids; k++)
        n += count_nodes(&nd->kids[k]);
    return n;
}

/* ---- builder ---------------------------------------------------------------- */

static void add_node(ew_rscp_builder *b, const node *nd) {
    int rc = EW_OK;
    if (nd->how == HOW_RAW) {
        rc = ew_rscp_builder_add_raw(b, nd->tag, nd->type, nd->bytes, nd->len);
    } else if (nd->how == HOW_INT) {
        rc = ew_rscp_builder_add_int(b, nd->tag, nd->i);
    } else {
        switch (nd->type) {
        case EW_RSCP_TYPE_NONE:
            rc = ew_rscp_builder_add_none(b, nd->tag);
            break;
        case EW_RSCP_TYPE_BOOL:
            rc = ew_rscp_builder_add_bool(b, nd->tag, (int)nd->i);
            break;
        case EW_RSCP_TYPE_CHAR8:
            rc = ew_rscp_builder_add_char8(b, nd->tag, (int8_t)nd->i);
            break;
        case EW_RSCP_TYPE_UCHAR8:
            rc = ew_rscp_builder_add_uchar8(b, nd->tag, (uint8_t)nd->i);
            break;
        case EW_RSCP_TYPE_INT16:
            rc = ew_rscp_builder_add_int16(b, nd->tag, (int16_t)nd->i);
            break;
        case EW_RSCP_TYPE_UINT16:
            rc = ew_rscp_builder_add_uint16(b, nd->tag, (uint16_t)nd->i);
            break;
        case EW_RSCP_TYPE_INT32:
            rc = ew_rscp_builder_add_int32(b, nd->tag, (int32_t)nd->i);
            break;
        case EW_RSCP_TYPE_UINT32:
            rc = ew_rscp_builder_add_uint32(b, nd->tag, (uint32_t)nd->i);
            break;
        case EW_RSCP_TYPE_INT64:
            rc = ew_rscp_builder_add_int64(b, nd->tag, nd->i);
            break;
        case EW_RSCP_TYPE_UINT64:
            rc = ew_rscp_builder_add_uint64(b, nd->tag, nd->u);
            break;
        case EW_RSCP_TYPE_FLOAT32:
            rc = ew_rscp_builder_add_float32(b, nd->tag, (float)nd->f);
            break;
        case EW_RSCP_TYPE_DOUBLE64:
            rc = ew_rscp_builder_add_double64(b, nd->tag, nd->f);
            break;
        case EW_RSCP_TYPE_BITFIELD:
            rc = ew_rscp_builder_add_bitfield(b, nd->tag, nd->bytes, nd->len);
            break;
        case EW_RSCP_TYPE_CSTRING:
            rc = ew_rscp_builder_add_cstring(b, nd->tag, (const char *)nd->bytes, nd->len);
            break;
        case EW_RSCP_TYPE_BYTEARRAY:
            rc = ew_rscp_builder_add_bytes(b, nd->tag, nd->bytes, nd->len);
            break;
        case EW_RSCP_TYPE_TIMESTAMP:
            rc = ew_rscp_builder_add_timestamp(b, nd->tag, nd->ts);
            break;
        case EW_RSCP_TYPE_ERROR:
            rc = ew_rscp_builder_add_error(b, nd->tag, nd->code);
            break;
        case EW_RSCP_TYPE_CONTAINER:
            assert_int_equal(ew_rscp_builder_open(b, nd->tag), EW_OK);
            for (size_t k = 0; k < nd->nkids; k++)
                add_node(b, &nd->kids[k]);
            rc = ew_rscp_builder_close(b);
            break;
        default:
            fail_msg("type %d", nd->type);
        }
    }
    assert_int_equal(rc, EW_OK);
}

/* ---- comparison --------------------------------------------------------------- */

static void check_node(const ew_rscp_iter *parent, const ew_rscp_value *v, const node *nd,
                       unsigned depth);

static void check_level(ew_rscp_iter *it, const node *nodes, size_t n, unsigned depth) {
    for (size_t k = 0; k < n; k++) {
        ew_rscp_value v;
        ew_diag d = {0};
        int rc = ew_rscp_iter_next(it, &v, &d);
        if (rc != 1)
            fail_msg("value %zu at depth %u: %d (%s at %zu)", k, depth, rc, ew_errname(rc),
                     d.offset);
        check_node(it, &v, &nodes[k], depth);
    }
    ew_rscp_value end;
    assert_int_equal(ew_rscp_iter_next(it, &end, NULL), 0);
}

static void check_node(const ew_rscp_iter *parent, const ew_rscp_value *v, const node *nd,
                       unsigned depth) {
    assert_int_equal(v->tag, nd->tag);
    assert_int_equal(v->type, nd->type);
    assert_int_equal(v->depth, depth);
    assert_int_equal(v->flags, nd->raw ? EW_RSCP_VF_RAW : 0);
    int64_t i;
    uint64_t u;
    double f;
    ew_rscp_timestamp ts;
    uint32_t code;
    if (nd->type == EW_RSCP_TYPE_CONTAINER && !nd->raw) {
        ew_rscp_iter child;
        assert_int_equal(ew_rscp_iter_enter(parent, v, &child, NULL), EW_OK);
        check_level(&child, nd->kids, nd->nkids, depth + 1);
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        return;
    }
    /* The value bytes, for every type. */
    ew_bytes by;
    assert_int_equal(ew_rscp_value_get_bytes(v, &by), EW_OK);
    assert_int_equal(by.len, nd->len);
    if (nd->len)
        assert_memory_equal(by.ptr, nd->bytes, nd->len);
    if (nd->raw) {
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_ERR_INVAL);
        assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_ERR_INVAL);
        assert_int_equal(ew_rscp_value_get_error(v, &code), EW_ERR_INVAL);
        return;
    }
    switch (nd->type) {
    case EW_RSCP_TYPE_BOOL:
    case EW_RSCP_TYPE_CHAR8:
    case EW_RSCP_TYPE_UCHAR8:
    case EW_RSCP_TYPE_INT16:
    case EW_RSCP_TYPE_UINT16:
    case EW_RSCP_TYPE_INT32:
    case EW_RSCP_TYPE_UINT32:
    case EW_RSCP_TYPE_INT64:
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
        assert_true(i == nd->i);
        if (nd->i < 0)
            assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_RANGE);
        else {
            assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_OK);
            assert_true(u == (uint64_t)nd->i);
        }
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
        assert_true(f == (double)nd->i);
        break;
    case EW_RSCP_TYPE_UINT64:
        assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_OK);
        assert_true(u == nd->u);
        assert_int_equal(ew_rscp_value_get_i64(v, &i),
                         nd->u > (uint64_t)INT64_MAX ? EW_ERR_RANGE : EW_OK);
        break;
    case EW_RSCP_TYPE_FLOAT32:
    case EW_RSCP_TYPE_DOUBLE64:
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
        if (isnan(nd->f))
            assert_true(isnan(f));
        else
            assert_true(f == nd->f && signbit(f) == signbit(nd->f));
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        break;
    case EW_RSCP_TYPE_TIMESTAMP:
        assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_OK);
        assert_true(ts.seconds == nd->ts.seconds);
        assert_int_equal(ts.nanoseconds, nd->ts.nanoseconds);
        break;
    case EW_RSCP_TYPE_ERROR:
        assert_int_equal(ew_rscp_value_get_error(v, &code), EW_OK);
        assert_int_equal(code, nd->code);
        break;
    default: /* None, Bitfield, CString, ByteArray: bytes only */
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        break;
    }
}

/* ---- the test ------------------------------------------------------------- */

typedef struct tree {
    node *top;
    size_t ntop;
    size_t nvalues;
    int with_crc;
    ew_rscp_timestamp ts;
    uint8_t *frame;
    size_t frame_len;
} tree;

static void make_tree(gen *g, tree *t) {
    memset(t, 0, sizeof *t);
    g->budget = rnd_below(g, 8) == 0 ? 20000 : 1500;
    g->nodes = 0;
    g->deep = rnd_below(g, 6) == 0;
    size_t n = rnd_below(g, 12);
    t->top = calloc(n ? n : 1, sizeof *t->top);
    assert_non_null(t->top);
    for (size_t k = 0; k < n && g->budget > 7; k++) {
        g->budget -= 7;
        gen_node(g, &t->top[t->ntop++], 0);
    }
    for (size_t k = 0; k < t->ntop; k++)
        t->nvalues += count_nodes(&t->top[k]);
    t->with_crc = (int)(rnd(g) & 1);
    t->ts.seconds = (int64_t)rnd(g);
    t->ts.nanoseconds = (uint32_t)rnd(g);

    /* Measure, refuse a random smaller buffer, then build exactly. */
    ew_rscp_builder b;
    size_t need = 0;
    ew_rscp_builder_init_frame(&b, NULL, 0);
    for (size_t k = 0; k < t->ntop; k++)
        add_node(&b, &t->top[k]);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, t->ts, t->with_crc, &need), EW_ERR_NOBUF);
    assert_true(need <= EW_RSCP_FRAME_MAX);
    size_t cap = rnd_below(g, need);
    uint8_t *small = alloc_bytes(cap);
    ew_rscp_builder_init_frame(&b, small, cap);
    for (size_t k = 0; k < t->ntop; k++)
        add_node(&b, &t->top[k]);
    size_t w = 0;
    assert_int_equal(ew_rscp_builder_finish_frame(&b, t->ts, t->with_crc, &w), EW_ERR_NOBUF);
    assert_int_equal(w, need);
    free(small);
    t->frame = alloc_bytes(need);
    ew_rscp_builder_init_frame(&b, t->frame, need);
    for (size_t k = 0; k < t->ntop; k++)
        add_node(&b, &t->top[k]);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, t->ts, t->with_crc, &w), EW_OK);
    assert_int_equal(w, need);
    t->frame_len = need;
}

static void free_tree(tree *t) {
    for (size_t k = 0; k < t->ntop; k++)
        free_node(&t->top[k]);
    free(t->top);
    free(t->frame);
}

/* Checks one frame that came out of the stream against its tree. */
static void check_frame(const ew_rscp_frame *f, const tree *t, size_t idx) {
    assert_int_equal(f->frame_len, t->frame_len);
    assert_int_equal(f->has_crc, t->with_crc);
    assert_true(f->ts.seconds == t->ts.seconds);
    assert_int_equal(f->ts.nanoseconds, t->ts.nanoseconds);
    assert_int_equal(f->data_len, t->frame_len - 18 - (t->with_crc ? 4 : 0));
    /* The frame decoder, on an exact copy, with every check on. */
    uint8_t *copy = alloc_bytes(f->frame_len);
    memcpy(copy, f->data - EW_RSCP_HEADER_LEN, f->frame_len);
    assert_memory_equal(copy, t->frame, t->frame_len);
    ew_rscp_frame g;
    ew_diag d = {0};
    int rc = ew_rscp_frame_decode(
        copy, f->frame_len, &g,
        EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_FINAL | EW_RSCP_DECODE_VALIDATE, &d);
    if (rc < 0)
        fail_msg("tree %zu: %s at %zu (%s)", idx, ew_errname(rc), d.offset, d.what);
    assert_int_equal(rc, (int)f->frame_len);
    assert_int_equal(ew_rscp_validate(g.data, g.data_len, MAX_NEST + 1, &d), (int)t->nvalues);
    /* Every value against the model, through the stream's view. */
    ew_rscp_iter it;
    ew_rscp_iter_init(&it, f->data, f->data_len, MAX_NEST + 1);
    check_level(&it, t->top, t->ntop, 0);
    /* And through the copy. */
    ew_rscp_iter_init(&it, g.data, g.data_len, 0);
    check_level(&it, t->top, t->ntop, 0);
    free(copy);
}

static void test_roundtrip(void **state) {
    (void)state;
    gen g = {0x524F554E44545249ull, 0, 0, 0, 0};
    ew_rscp_cipher_impl which[2] = {EW_RSCP_CIPHER_PORTABLE, EW_RSCP_CIPHER_PORTABLE};
    int nimpl = ew_rscp_cipher_aesni_available() ? 2 : 1;
    if (nimpl == 2)
        which[1] = EW_RSCP_CIPHER_AESNI;
    uint8_t key[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive("round-trip", 10, key);
    ew_rscp_cipher ciphers[2];
    for (int k = 0; k < nimpl; k++)
        assert_int_equal(ew_rscp_cipher_init(&ciphers[k], key, which[k]), EW_OK);
    uint8_t *work = alloc_bytes(EW_RSCP_STREAM_BUF_MIN);
    size_t total_values = 0, total_bytes = 0, type_seen[256] = {0};
    int crc_seen[2] = {0};

    for (size_t conn = 0; conn < NTREES / PER_CONNECTION; conn++) {
        tree trees[PER_CONNECTION];
        const ew_rscp_cipher *enc = &ciphers[conn % (size_t)nimpl];
        const ew_rscp_cipher *dec = &ciphers[(conn / 2) % (size_t)nimpl];
        ew_rscp_encryptor e;
        ew_rscp_encryptor_init(&e, enc);
        size_t ctcap = 0;
        for (size_t k = 0; k < PER_CONNECTION; k++) {
            make_tree(&g, &trees[k]);
            ctcap += (trees[k].frame_len + 31) / 32 * 32;
            total_values += trees[k].nvalues;
            crc_seen[trees[k].with_crc]++;
        }
        uint8_t *ct = alloc_bytes(ctcap);
        size_t ctlen = 0;
        for (size_t k = 0; k < PER_CONNECTION; k++) {
            memcpy(ct + ctlen, trees[k].frame, trees[k].frame_len);
            int rc = ew_rscp_encryptor_seal(&e, ct + ctlen, trees[k].frame_len, ctcap - ctlen);
            assert_int_equal(rc, (int)((trees[k].frame_len + 31) / 32 * 32));
            ctlen += (size_t)rc;
        }
        assert_int_equal(ctlen, ctcap);
        total_bytes += ctlen;

        ew_rscp_stream s;
        assert_int_equal(ew_rscp_stream_init(&s, dec, work, EW_RSCP_STREAM_BUF_MIN,
                                             EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_VALIDATE),
                         EW_OK);
        size_t maxc = conn % 3 == 0 ? 7 : conn % 3 == 1 ? 300 : 9000;
        size_t off = 0, got = 0;
        while (off < ctlen) {
            size_t chunk = 1 + rnd_below(&g, maxc);
            if (chunk > ctlen - off)
                chunk = ctlen - off;
            int rc = ew_rscp_stream_feed(&s, ct + off, chunk);
            /* Frames are taken after every feed: the buffer never fills. */
            assert_int_equal(rc, (int)chunk);
            off += (size_t)rc;
            ew_rscp_frame f;
            ew_diag d = {0};
            while ((rc = ew_rscp_stream_next(&s, &f, &d)) == 1) {
                assert_true(got < PER_CONNECTION);
                check_frame(&f, &trees[got], conn * PER_CONNECTION + got);
                got++;
            }
            if (rc < 0)
                fail_msg("stream: %s at %zu (%s)", ew_errname(rc), d.offset, d.what);
        }
        assert_int_equal(got, PER_CONNECTION);
        assert_int_equal(ew_rscp_stream_finish(&s, NULL), EW_OK);

        /* Every 10th tree: the JSON printer accepts it and the result parses. */
        for (size_t k = 0; k < PER_CONNECTION; k += 10) {
            const tree *t = &trees[k];
            const uint8_t *area = t->frame + 18;
            size_t alen = t->frame_len - 18 - (t->with_crc ? 4 : 0);
            size_t need = 0;
            char dummy;
            assert_int_equal(
                ew_rscp_print_json(area, alen, MAX_NEST + 1, 0, &dummy, 0, &need, NULL),
                EW_ERR_NOBUF);
            char *text = malloc(need);
            assert_non_null(text);
            size_t w = 0;
            assert_int_equal(ew_rscp_print_json(area, alen, MAX_NEST + 1, 0, text, need, &w, NULL),
                             EW_OK);
            json_error_t err;
            /* UInt64 values above INT64_MAX are valid JSON numbers that
             * jansson reads only as reals. */
            json_t *j = json_loads(text, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
            if (!j)
                fail_msg("tree %zu: JSON does not parse: %s", k, err.text);
            assert_int_equal(json_array_size(j), t->ntop);
            json_decref(j);
            free(text);
        }
        for (size_t k = 0; k < PER_CONNECTION; k++) {
            for (size_t n = 0; n < trees[k].ntop; n++)
                type_seen[trees[k].top[n].type]++;
            free_tree(&trees[k]);
        }
        free(ct);
    }
    free(work);
    /* The generator covered every type at the top level, both frame kinds. */
    for (int t = 0; t <= 0x10; t++)
        if (!type_seen[t])
            fail_msg("type 0x%02x never generated", t);
    assert_int_equal(g.max_depth, MAX_NEST);
    assert_true(type_seen[0xFF] > 0);
    assert_true(crc_seen[0] > 0 && crc_seen[1] > 0);
    print_message("%d trees, %zu values, %zu bytes of ciphertext\n", NTREES, total_values,
                  total_bytes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
