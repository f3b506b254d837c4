/*
 * CBOR plumbing for the EP codec: a pull tokenizer over libcbor's streaming
 * decoder (cbor_stream_decode with callbacks, no cbor_item_t), and a
 * counting writer over libcbor's non-allocating encoders.  Nothing here
 * allocates; the callback table is a constant.
 */
#include <math.h>
#include <string.h>

#include <cbor.h>

#include "ep/ep_int.h"

/* ---- tokenizer ----------------------------------------------------------- */

static void cb_u8(void *c, uint8_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_UINT;
    t->u = v;
}
static void cb_u16(void *c, uint16_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_UINT;
    t->u = v;
}
static void cb_u32(void *c, uint32_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_UINT;
    t->u = v;
}
static void cb_u64(void *c, uint64_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_UINT;
    t->u = v;
}
static void cb_n8(void *c, uint8_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_NINT;
    t->u = v;
}
static void cb_n16(void *c, uint16_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_NINT;
    t->u = v;
}
static void cb_n32(void *c, uint32_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_NINT;
    t->u = v;
}
static void cb_n64(void *c, uint64_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_NINT;
    t->u = v;
}
static void cb_bstart(void *c) {
    ((ew_ep_tok *)c)->kind = EW_EP_TK_BYTES_INDEF;
}
static void cb_bytes(void *c, cbor_data p, size_t n) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_BYTES;
    t->ptr = p;
    t->len = n;
    t->u = n;
}
static void cb_text(void *c, cbor_data p, size_t n) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_TEXT;
    t->ptr = p;
    t->len = n;
    t->u = n;
}
static void cb_tstart(void *c) {
    ((ew_ep_tok *)c)->kind = EW_EP_TK_TEXT_INDEF;
}
static void cb_aindef(void *c) {
    ((ew_ep_tok *)c)->kind = EW_EP_TK_ARRAY_INDEF;
}
static void cb_array(void *c, size_t n) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_ARRAY;
    t->u = n;
}
static void cb_mindef(void *c) {
    ((ew_ep_tok *)c)->kind = EW_EP_TK_MAP_INDEF;
}
static void cb_map(void *c, size_t n) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_MAP;
    t->u = n;
}
static void cb_tag(void *c, uint64_t v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_TAG;
    t->u = v;
}
static void cb_f2(void *c, float v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_FLOAT;
    t->f = v;
}
static void cb_f4(void *c, float v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_FLOAT;
    t->f = v;
}
static void cb_f8(void *c, double v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_FLOAT;
    t->f = v;
}
static void cb_undef(void *c) {
    ((ew_ep_tok *)c)->kind = EW_EP_TK_UNDEF;
}
static void cb_null(void *c) {
    ((ew_ep_tok *)c)->kind = EW_EP_TK_NULL;
}
static void cb_bool(void *c, bool v) {
    ew_ep_tok *t = c;
    t->kind = EW_EP_TK_BOOL;
    t->u = v;
}
static void cb_break(void *c) {
    ((ew_ep_tok *)c)->kind = EW_EP_TK_BREAK;
}

static const struct cbor_callbacks tok_callbacks = {
    .uint8 = cb_u8,
    .uint16 = cb_u16,
    .uint32 = cb_u32,
    .uint64 = cb_u64,
    .negint64 = cb_n64,
    .negint32 = cb_n32,
    .negint16 = cb_n16,
    .negint8 = cb_n8,
    .byte_string_start = cb_bstart,
    .byte_string = cb_bytes,
    .string = cb_text,
    .string_start = cb_tstart,
    .indef_array_start = cb_aindef,
    .array_start = cb_array,
    .indef_map_start = cb_mindef,
    .map_start = cb_map,
    .tag = cb_tag,
    .float2 = cb_f2,
    .float4 = cb_f4,
    .float8 = cb_f8,
    .undefined = cb_undef,
    .null = cb_null,
    .boolean = cb_bool,
    .indef_break = cb_break,
};

int ew_ep_tok_slow(const uint8_t *p, size_t len, ew_ep_tok *t) {
    if (len == 0)
        return EW_ERR_NEED_MORE;
    t->kind = 0;
    t->ptr = NULL;
    t->len = 0;
    t->u = 0;
    struct cbor_decoder_result r = cbor_stream_decode(p, len, &tok_callbacks, t);
    if (r.status == CBOR_DECODER_NEDATA)
        return EW_ERR_NEED_MORE;
    if (r.status != CBOR_DECODER_FINISHED || t->kind == 0)
        return EW_ERR_PROTO;
    /* The argument width comes from the head's low 5 bits (RFC 8949 §3). */
    unsigned ai = p[0] & 0x1Fu;
    t->width = ai < 24 ? 0 : (uint8_t)(1u << (ai - 24));
    return (int)r.read;
}

int ew_ep_skip_item(const uint8_t *p, size_t len, size_t *err_at) {
    /* remaining items per open container; SIZE_MAX = indefinite */
    uint64_t stack[EW_EP_MAX_DEPTH + 1];
    int depth = 0;
    size_t at = 0;
    stack[0] = 1;
    for (;;) {
        ew_ep_tok t;
        int n = ew_ep_tok_next(p + at, len - at, &t);
        if (n < 0) {
            *err_at = at;
            return n;
        }
        if (t.kind == EW_EP_TK_BREAK) {
            if (stack[depth] != UINT64_MAX) {
                *err_at = at;
                return EW_ERR_PROTO;
            }
            at += (size_t)n;
            depth--;
            if (depth < 0) { /* cannot happen: depth 0 is never indefinite */
                *err_at = at;
                return EW_ERR_PROTO;
            }
        } else {
            if (depth == 0 && stack[0] == 0) {
                *err_at = at;
                return EW_ERR_PROTO;
            }
            at += (size_t)n;
            if (stack[depth] != UINT64_MAX)
                stack[depth]--;
            uint64_t children = 0;
            int open = 0;
            switch (t.kind) {
            case EW_EP_TK_ARRAY:
                children = t.u, open = t.u > 0;
                break;
            case EW_EP_TK_MAP:
                if (t.u > UINT64_MAX / 2) {
                    *err_at = at - (size_t)n;
                    return EW_ERR_PROTO;
                }
                children = 2 * t.u, open = t.u > 0;
                break;
            case EW_EP_TK_TAG:
                children = 1, open = 1;
                break;
            case EW_EP_TK_ARRAY_INDEF:
            case EW_EP_TK_MAP_INDEF:
            case EW_EP_TK_BYTES_INDEF:
            case EW_EP_TK_TEXT_INDEF:
                children = UINT64_MAX, open = 1;
                break;
            default:
                break;
            }
            if (open) {
                if (depth == EW_EP_MAX_DEPTH) {
                    *err_at = at - (size_t)n;
                    return EW_ERR_DEPTH;
                }
                stack[++depth] = children;
            }
        }
        while (depth > 0 && stack[depth] == 0)
            depth--;
        if (depth == 0 && stack[0] == 0)
            return (int)at;
    }
}

int ew_ep_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    /* ASCII runs eight bytes at a time. */
    while (n - i >= 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (x & 0x8080808080808080ull)
            break;
        i += 8;
    }
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0)
            k = 1, cp = c & 0x1Fu, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            k = 2, cp = c & 0x0Fu, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            k = 3, cp = c & 0x07u, min = 0x10000;
        else
            return 0;
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* ---- writer -------------------------------------------------------------- */

void ew_ep_w_raw(ew_ep_w *w, const void *p, size_t n) {
    if (n && w->len <= w->cap && n <= w->cap - w->len)
        memcpy(w->out + w->len, p, n);
    w->len += n;
}

/* Every libcbor encoder writes at most 9 bytes; encode into a scratch
 * buffer so that a short caller buffer still yields the needed size. */
#define W_ENC(w, call)                                                                             \
    do {                                                                                           \
        if ((w)->len <= (w)->cap && (w)->cap - (w)->len >= 9) {                                    \
            unsigned char *tmp_ = (w)->out + (w)->len;                                             \
            (w)->len += (call);                                                                    \
        } else {                                                                                   \
            unsigned char tmp_[9];                                                                 \
            size_t n_ = (call);                                                                    \
            ew_ep_w_raw((w), tmp_, n_);                                                            \
        }                                                                                          \
    } while (0)

void ew_ep_w_uint_slow(ew_ep_w *w, uint64_t v) {
    W_ENC(w, cbor_encode_uint(v, tmp_, 9));
}

void ew_ep_w_head_slow(ew_ep_w *w, unsigned major, size_t n) {
    if (major == 4)
        W_ENC(w, cbor_encode_array_start(n, tmp_, 9));
    else
        W_ENC(w, cbor_encode_map_start(n, tmp_, 9));
}

void ew_ep_w_uint32_fixed(ew_ep_w *w, uint32_t v) {
    W_ENC(w, cbor_encode_uint32(v, tmp_, 9));
}

void ew_ep_w_int(ew_ep_w *w, int64_t v) {
    if (v >= 0 && v < 24)
        ew_ep_w_head1(w, (uint8_t)v);
    else if (v >= 0)
        W_ENC(w, cbor_encode_uint((uint64_t)v, tmp_, 9));
    else
        W_ENC(w, cbor_encode_negint((uint64_t)(-(v + 1)), tmp_, 9));
}

void ew_ep_w_bytes(ew_ep_w *w, const uint8_t *p, size_t n) {
    W_ENC(w, cbor_encode_bytestring_start(n, tmp_, 9));
    ew_ep_w_raw(w, p, n);
}

void ew_ep_w_bytes_head(ew_ep_w *w, size_t n) {
    W_ENC(w, cbor_encode_bytestring_start(n, tmp_, 9));
}

void ew_ep_w_text(ew_ep_w *w, const uint8_t *p, size_t n) {
    if (n < 24)
        ew_ep_w_head1(w, (uint8_t)(0x60 | n));
    else
        W_ENC(w, cbor_encode_string_start(n, tmp_, 9));
    ew_ep_w_raw(w, p, n);
}

void ew_ep_w_bool(ew_ep_w *w, int v) {
    W_ENC(w, cbor_encode_bool(v != 0, tmp_, 9));
}

void ew_ep_w_null(ew_ep_w *w) {
    W_ENC(w, cbor_encode_null(tmp_, 9));
}

/*
 * Shortest exact form (ep.md §3.2 "Sending numbers"): integers as CBOR
 * integers; other values as half, single or double, whichever is the first
 * to hold the value exactly.  libcbor 0.8's cbor_encode_half truncates and
 * mishandles subnormals and out-of-range values (ep.md §3.2), so its output
 * is decoded again and used only when it gives back the same double.
 */
void ew_ep_w_number(ew_ep_w *w, const ew_ep_number *n) {
    if (n->is_int) {
        ew_ep_w_int(w, n->ival);
        return;
    }
    double v = n->value;
    if (isnan(v) || isinf(v)) {
        if (!w->err)
            w->err = EW_ERR_RANGE;
        return;
    }
    /* Integral values within int64 go out as integers; -0.0 keeps its sign
     * as a float. */
    if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 && (double)(int64_t)v == v &&
        !(v == 0 && signbit(v))) {
        ew_ep_w_int(w, (int64_t)v);
        return;
    }
    float f = (float)v;
    if ((double)f == v) {
        unsigned char tmp[9];
        size_t k = cbor_encode_half(f, tmp, sizeof tmp);
        if (k == 3 && ew_ep_half_to_double((uint16_t)(tmp[1] << 8 | tmp[2])) == v) {
            ew_ep_w_raw(w, tmp, k);
            return;
        }
        W_ENC(w, cbor_encode_single(f, tmp_, 9));
        return;
    }
    W_ENC(w, cbor_encode_double(v, tmp_, 9));
}

int ew_ep_w_done(const ew_ep_w *w, size_t *written) {
    if (w->err)
        return w->err;
    *written = w->len;
    return w->len > w->cap ? EW_ERR_NOBUF : EW_OK;
}
