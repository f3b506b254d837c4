/* Internals shared by the EP codec files: a pull tokenizer on top of
 * libcbor's streaming decoder, a counting writer on top of libcbor's
 * non-allocating encoders, and small helpers. */
#ifndef EW_EP_INT_H
#define EW_EP_INT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <energywire/ep.h>

/* CBOR item kinds as the tokenizer reports them. */
enum {
    EW_EP_TK_UINT = 1,
    EW_EP_TK_NINT,  /* value -1 - u */
    EW_EP_TK_BYTES, /* definite byte string: ptr, len */
    EW_EP_TK_TEXT,  /* definite text string: ptr, len */
    EW_EP_TK_BYTES_INDEF,
    EW_EP_TK_TEXT_INDEF,
    EW_EP_TK_ARRAY, /* u = count */
    EW_EP_TK_ARRAY_INDEF,
    EW_EP_TK_MAP, /* u = pairs */
    EW_EP_TK_MAP_INDEF,
    EW_EP_TK_TAG,
    EW_EP_TK_FLOAT, /* f; width 2, 4, 8 */
    EW_EP_TK_BOOL,  /* u = 0/1 */
    EW_EP_TK_NULL,
    EW_EP_TK_UNDEF,
    EW_EP_TK_BREAK
};

typedef struct ew_ep_tok {
    int kind;
    uint8_t width; /* argument bytes: 0, 1, 2, 4, 8 */
    uint64_t u;
    double f;
    const uint8_t *ptr;
    size_t len;
} ew_ep_tok;

/* Reads one item head (whole string for definite strings) at |p|.  Returns
 * bytes read (> 0), EW_ERR_NEED_MORE when |len| ends inside it, or
 * EW_ERR_PROTO for malformed CBOR.  ew_ep_tok_slow() is the libcbor
 * (cbor_stream_decode) path; the inline part only takes one-byte heads. */
int ew_ep_tok_slow(const uint8_t *p, size_t len, ew_ep_tok *t);

/* binary16 to double, RFC 8949 Appendix D, with exact constant scaling
 * instead of ldexp (2^-24 and 2^(e-25) are exact doubles). */
static inline double ew_ep_half_to_double(uint16_t h) {
    int e = (h >> 10) & 0x1F;
    int m = h & 0x3FF;
    double v;
    if (e == 0) {
        v = m * (1.0 / 16777216.0);
    } else if (e != 31) {
        uint64_t bits = (uint64_t)(e - 15 + 1023) << 52 | (uint64_t)m << 42;
        memcpy(&v, &bits, sizeof v);
    } else {
        v = m == 0 ? INFINITY : NAN;
    }
    return (h & 0x8000) ? -v : v;
}

/* Major type 7 heads that libcbor's streaming decoder reports through a
 * callback: false, true, null, undefined, half, single and double floats
 * and break (RFC 8949 §3.3), with the same kind, argument and width
 * ew_ep_tok_slow() gives them.  Returns 0 for the rest (simple values
 * 0..19 and F8, the reserved 1C..1E): those go to libcbor. */
static inline int ew_ep_tok_simple(const uint8_t *p, size_t len, ew_ep_tok *t) {
    uint8_t h = p[0];
    t->u = 0;
    t->ptr = NULL;
    t->len = 0;
    t->width = 0;
    switch (h) {
    case 0xF4:
    case 0xF5:
        t->kind = EW_EP_TK_BOOL;
        t->u = h & 1u;
        return 1;
    case 0xF6:
        t->kind = EW_EP_TK_NULL;
        return 1;
    case 0xF7:
        t->kind = EW_EP_TK_UNDEF;
        return 1;
    case 0xF9:
        if (len < 3)
            return EW_ERR_NEED_MORE;
        t->kind = EW_EP_TK_FLOAT;
        t->width = 2;
        t->f = ew_ep_half_to_double((uint16_t)(p[1] << 8 | p[2]));
        return 3;
    case 0xFA: {
        if (len < 5)
            return EW_ERR_NEED_MORE;
        uint32_t b = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        float f;
        memcpy(&f, &b, sizeof f);
        t->kind = EW_EP_TK_FLOAT;
        t->width = 4;
        t->f = f;
        return 5;
    }
    case 0xFB: {
        if (len < 9)
            return EW_ERR_NEED_MORE;
        uint64_t b = 0;
        for (int i = 1; i < 9; i++)
            b = b << 8 | p[i];
        double f;
        memcpy(&f, &b, sizeof f);
        t->kind = EW_EP_TK_FLOAT;
        t->width = 8;
        t->f = f;
        return 9;
    }
    case 0xFF:
        t->kind = EW_EP_TK_BREAK;
        t->width = 128; /* 1 << (31 - 24), as ew_ep_tok_slow() computes it */
        return 1;
    default:
        return 0;
    }
}

static inline int ew_ep_tok_next(const uint8_t *p, size_t len, ew_ep_tok *t) {
    /* Fast path for the heads that make up most of an EP message: integers,
     * definite string, array and map heads with a 0-, 1-, 2-, 4- or 8-byte
     * argument (RFC 8949 §3), and (ew_ep_tok_simple) false, true, null,
     * undefined, floats and break.  Everything else (tags, indefinite
     * lengths, other simple values, malformed heads) goes through libcbor's
     * streaming decoder.  The W8 target needs this (docs/ep-codec.md);
     * fuzz/fuzz_ep_msg.c checks that both paths agree. */
    if (len != 0 && p[0] < 0xC0 && (p[0] & 0x1F) < 28) {
        uint8_t h = p[0];
        unsigned major = h >> 5, ai = h & 0x1Fu;
        size_t hl = 1;
        uint64_t u = ai;
        if (ai >= 24) {
            hl = 1 + ((size_t)1 << (ai - 24));
            if (len < hl)
                return EW_ERR_NEED_MORE;
            u = 0;
            for (size_t i = 1; i < hl; i++)
                u = u << 8 | p[i];
        }
        t->width = (uint8_t)(hl - 1);
        t->u = u;
        if (major == 2 || major == 3) {
            if (len - hl < u)
                return EW_ERR_NEED_MORE;
            t->kind = major == 2 ? EW_EP_TK_BYTES : EW_EP_TK_TEXT;
            t->ptr = p + hl;
            t->len = (size_t)u;
            return (int)(hl + t->len);
        }
        static const int8_t kinds[6] = {EW_EP_TK_UINT,  EW_EP_TK_NINT, 0, 0,
                                        EW_EP_TK_ARRAY, EW_EP_TK_MAP};
        t->kind = kinds[major];
        t->ptr = NULL;
        t->len = 0;
        return (int)hl;
    }
    if (len != 0 && p[0] >= 0xF4) {
        int n = ew_ep_tok_simple(p, len, t);
        if (n != 0)
            return n;
    }
    return ew_ep_tok_slow(p, len, t);
}

/* Skips one complete data item (nested up to EW_EP_MAX_DEPTH).  Returns
 * bytes, EW_ERR_NEED_MORE, EW_ERR_PROTO or EW_ERR_DEPTH; |*err_at| gets the
 * offset of the failing head. */
#define EW_EP_MAX_DEPTH 16
int ew_ep_skip_item(const uint8_t *p, size_t len, size_t *err_at);

/* 1 when the |n| bytes are valid UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
int ew_ep_utf8_valid(const uint8_t *s, size_t n);

/* Counting writer: bytes past |cap| are counted but not stored. */
typedef struct ew_ep_w {
    uint8_t *out;
    size_t cap;
    size_t len;
    int err; /* first encoding error (EW_ERR_RANGE), else 0 */
} ew_ep_w;

void ew_ep_w_raw(ew_ep_w *w, const void *p, size_t n);
void ew_ep_w_uint_slow(ew_ep_w *w, uint64_t v);
void ew_ep_w_head_slow(ew_ep_w *w, unsigned major, size_t n);

/* One-byte heads inline (RFC 8949 §3: argument < 24 in the low 5 bits);
 * wider ones through libcbor's encoders. */
static inline void ew_ep_w_head1(ew_ep_w *w, uint8_t b) {
    if (w->len < w->cap)
        w->out[w->len] = b;
    w->len++;
}
static inline void ew_ep_w_uint(ew_ep_w *w, uint64_t v) {
    if (v < 24)
        ew_ep_w_head1(w, (uint8_t)v);
    else
        ew_ep_w_uint_slow(w, v);
}
void ew_ep_w_uint32_fixed(ew_ep_w *w, uint32_t v);
void ew_ep_w_int(ew_ep_w *w, int64_t v);
void ew_ep_w_bytes(ew_ep_w *w, const uint8_t *p, size_t n);
void ew_ep_w_text(ew_ep_w *w, const uint8_t *p, size_t n);
static inline void ew_ep_w_map(ew_ep_w *w, size_t n) {
    if (n < 24)
        ew_ep_w_head1(w, (uint8_t)(0xA0 | n));
    else
        ew_ep_w_head_slow(w, 5, n);
}
static inline void ew_ep_w_array(ew_ep_w *w, size_t n) {
    if (n < 24)
        ew_ep_w_head1(w, (uint8_t)(0x80 | n));
    else
        ew_ep_w_head_slow(w, 4, n);
}
void ew_ep_w_bool(ew_ep_w *w, int v);
void ew_ep_w_null(ew_ep_w *w);
void ew_ep_w_number(ew_ep_w *w, const ew_ep_number *n);
void ew_ep_w_bytes_head(ew_ep_w *w, size_t n);
/* Finishes: sets |*written| and returns EW_OK, EW_ERR_NOBUF or w->err. */
int ew_ep_w_done(const ew_ep_w *w, size_t *written);

/* Value and message layer helpers (value.c). */
int ew_ep_value_decode_at(int vtype, const uint8_t *p, size_t len, size_t base, ew_ep_value *v,
                          unsigned *warnings, ew_diag *d);
void ew_ep_value_write(ew_ep_w *w, const ew_ep_value *v);

/* Message field tables (msg.c): where each field lives in ew_ep_msg. */
enum {
    EW_EP_K_NUM,
    EW_EP_K_TEXT,
    EW_EP_K_FLAG,
    EW_EP_K_BOUNDS,
    EW_EP_K_PRICES,
    EW_EP_K_MIX,
    EW_EP_K_ISO
};
typedef struct ew_ep_field {
    uint8_t id;
    uint8_t kind;
    int vtype;
    size_t off;
    const char *name; /* spec name, as in the vectors */
} ew_ep_field;
/* Field table of a message type; NULL (0 entries) for Ping and unknown types. */
const ew_ep_field *ew_ep_msg_fields(uint32_t type, size_t *n);

static inline int ew_ep_fail(ew_diag *d, int code, size_t offset, const char *what) {
    if (d) {
        d->code = code;
        d->offset = offset;
        d->what = what;
    }
    return code;
}

#endif
