/*
 * EP values (ep.md §3): value-type maps `{type_id: data}`, the numeric
 * types in every CBOR number form, and the composites Bounds, PriceForecast,
 * SourceMix, EnergyMix and Isolation.
 */
#include <math.h>
#include <string.h>

#include "ep/ep_int.h"

static const char *const vt_names[0x16] = {
    [0x00] = "Text",      [0x01] = "Flag",     [0x02] = "Amount",   [0x03] = "Timestamp",
    [0x04] = "Binary",    [0x05] = "Currency", [0x06] = "Duration", [0x10] = "Voltage",
    [0x11] = "Current",   [0x12] = "Power",    [0x13] = "Energy",   [0x14] = "Percentage",
    [0x15] = "Resistance"};

const char *ew_ep_vtype_name(int vtype) {
    int t = vtype & 0xFF;
    if (t < 0x16)
        return vt_names[t];
    switch (t) {
    case EW_EP_VT_BOUNDS:
        return "Bounds";
    case EW_EP_VT_PRICE_FORECAST:
        return "PriceForecast";
    case EW_EP_VT_SOURCE_MIX:
        return "SourceMix";
    case EW_EP_VT_ENERGY_MIX:
        return "EnergyMix";
    case EW_EP_VT_ISOLATION:
        return "Isolation";
    default:
        return NULL;
    }
}

int ew_ep_vtype_is_numeric(int vtype) {
    return vtype == EW_EP_VT_AMOUNT || vtype == EW_EP_VT_DURATION ||
           (vtype >= EW_EP_VT_VOLTAGE && vtype <= EW_EP_VT_RESISTANCE);
}

const char *ew_ep_vtype_unit(int vtype) {
    switch (vtype) {
    case EW_EP_VT_DURATION:
        return "ms";
    case EW_EP_VT_VOLTAGE:
        return "V";
    case EW_EP_VT_CURRENT:
        return "A";
    case EW_EP_VT_POWER:
        return "W";
    case EW_EP_VT_ENERGY:
        return "Wh";
    case EW_EP_VT_PERCENTAGE:
        return "%";
    case EW_EP_VT_RESISTANCE:
        return "\xce\xa9"; /* Ω */
    default:
        return "";
    }
}

const char *ew_ep_source_name(uint64_t id) {
    static const char *const names[] = {"Unknown", "Wind", "Solar", "Hydro",     "Nuclear",
                                        "Gas",     "Oil",  "Coal",  "LocalWind", "LocalSolar"};
    return id < 10 ? names[id] : NULL;
}

const char *ew_ep_isolation_state_name(uint64_t state) {
    static const char *const names[] = {"Unknown", "Ok", "Warning", "Fault"};
    return state < 4 ? names[state] : NULL;
}

ew_ep_number ew_ep_num(double v) {
    ew_ep_number n;
    memset(&n, 0, sizeof n);
    n.value = v;
    return n;
}

ew_ep_number ew_ep_num_int(int64_t v) {
    ew_ep_number n;
    memset(&n, 0, sizeof n);
    n.value = (double)v;
    n.ival = v;
    n.is_int = 1;
    n.encoding = v < 0 ? EW_EP_NUM_NINT : EW_EP_NUM_UINT;
    return n;
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct dctx {
    const uint8_t *p; /* start of the buffer given to the public call */
    size_t len;
    size_t base; /* offset of p[0] in the caller's coordinates */
    unsigned *warn;
    ew_diag *d;
} dctx;

static int fail(const dctx *c, int rc, size_t at, const char *what) {
    return ew_ep_fail(c->d, rc == EW_ERR_NEED_MORE ? EW_ERR_TRUNCATED : rc, c->base + at, what);
}

/* Reads a token at |*at|; advances on success. */
static inline int tok(const dctx *c, size_t *at, ew_ep_tok *t) {
    int n = ew_ep_tok_next(c->p + *at, c->len - *at, t);
    if (n < 0)
        return fail(c, n, *at,
                    n == EW_ERR_NEED_MORE ? "data ends inside an item" : "malformed CBOR");
    *at += (size_t)n;
    return n;
}

static int skip(const dctx *c, size_t *at) {
    size_t err_at = 0;
    int n = ew_ep_skip_item(c->p + *at, c->len - *at, &err_at);
    if (n < 0)
        return fail(c, n, *at + err_at,
                    n == EW_ERR_NEED_MORE ? "data ends inside an item"
                    : n == EW_ERR_DEPTH   ? "items nested too deeply"
                                          : "malformed CBOR");
    *at += (size_t)n;
    return n;
}

/* ep.md §3.2: every integer width and every float width; no booleans,
 * tags, NaN or infinities. */
static int number_from_tok(const dctx *c, size_t at, const ew_ep_tok *t, ew_ep_number *n) {
    memset(n, 0, sizeof *n);
    n->width = t->width;
    switch (t->kind) {
    case EW_EP_TK_UINT:
        n->encoding = EW_EP_NUM_UINT;
        n->value = (double)t->u;
        if (t->u <= (uint64_t)INT64_MAX) {
            n->is_int = 1;
            n->ival = (int64_t)t->u;
        }
        return 0;
    case EW_EP_TK_NINT:
        n->encoding = EW_EP_NUM_NINT;
        n->value = -1.0 - (double)t->u;
        if (t->u <= (uint64_t)INT64_MAX) {
            n->is_int = 1;
            n->ival = -1 - (int64_t)t->u;
        }
        return 0;
    case EW_EP_TK_FLOAT:
        n->encoding = t->width == 2   ? EW_EP_NUM_HALF
                      : t->width == 4 ? EW_EP_NUM_SINGLE
                                      : EW_EP_NUM_DOUBLE;
        if (isnan(t->f) || isinf(t->f))
            return fail(c, EW_ERR_RANGE, at, "non-finite number (NaN or infinity)");
        n->value = t->f;
        return 0;
    default:
        return fail(c, EW_ERR_BAD_FIELD, at, "expected a CBOR number");
    }
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static int is_digits(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int rfc3339(const uint8_t *s, size_t n) {
    if (n < 20 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) || s[7] != '-' ||
        !is_digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !is_digits(s + 11, 2) ||
        s[13] != ':' || !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
        return 0;
    size_t i = 19;
    if (s[i] == '.') {
        size_t j = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return 0;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    return n - i == 6 && (s[i] == '+' || s[i] == '-') && is_digits(s + i + 1, 2) &&
           s[i + 3] == ':' && is_digits(s + i + 4, 2);
}

static int decode_at(const dctx *c, int vtype, size_t *at, ew_ep_value *v, int depth);

/* The common number heads (integers, finite floats) at |p| into |*n|, as
 * number_from_tok() would set it.  Returns the bytes read, or 0 for
 * anything else (other items, non-finite floats, too few bytes): the
 * caller then takes the general path, which reports the error. */
static inline size_t num_fast(const uint8_t *p, size_t left, ew_ep_number *n) {
    if (left == 0)
        return 0;
    uint8_t h = p[0];
    ew_ep_number r;
    memset(&r, 0, sizeof r);
    if (h < 0x3C && (h & 0x1F) < 0x1C) {
        size_t hl = 1;
        uint64_t u = h & 0x1Fu;
        if (u >= 24) {
            hl = 1 + ((size_t)1 << (u - 24));
            if (left < hl)
                return 0;
            u = 0;
            for (size_t i = 1; i < hl; i++)
                u = u << 8 | p[i];
        }
        r.width = (uint8_t)(hl - 1);
        if (h < 0x20) {
            r.encoding = EW_EP_NUM_UINT;
            r.value = (double)u;
            if (u <= (uint64_t)INT64_MAX) {
                r.is_int = 1;
                r.ival = (int64_t)u;
            }
        } else {
            r.encoding = EW_EP_NUM_NINT;
            r.value = -1.0 - (double)u;
            if (u <= (uint64_t)INT64_MAX) {
                r.is_int = 1;
                r.ival = -1 - (int64_t)u;
            }
        }
        *n = r;
        return hl;
    }
    if (h < 0xF9 || h > 0xFB)
        return 0;
    ew_ep_tok t;
    int k = ew_ep_tok_simple(p, left, &t);
    if (k <= 0 || isnan(t.f) || isinf(t.f))
        return 0;
    r.width = t.width;
    r.encoding = h == 0xF9 ? EW_EP_NUM_HALF : h == 0xFA ? EW_EP_NUM_SINGLE : EW_EP_NUM_DOUBLE;
    r.value = t.f;
    *n = r;
    return (size_t)k;
}

/* A value map of the text type |vtype| (Text, Timestamp, Currency) at
 * |*at|: the one-entry map with a one-byte key and a short definite text
 * string is read here, the rest by decode_at(). */
static int decode_text(const dctx *c, int vtype, size_t *at, ew_ep_value *v, int depth) {
    size_t start = *at, left = c->len - start;
    const uint8_t *p = c->p + start;
    if (left >= 3 && p[0] == 0xA1 && p[1] == vtype && p[2] >= 0x60 && p[2] < 0x78 &&
        (size_t)(p[2] - 0x60) <= left - 3 && ew_ep_utf8_valid(p + 3, (size_t)(p[2] - 0x60))) {
        size_t n = (size_t)(p[2] - 0x60);
        v->vtype = vtype;
        v->bytes.ptr = p + 3;
        v->bytes.len = n;
        if (vtype == EW_EP_VT_TIMESTAMP && !rfc3339(p + 3, n) && c->warn)
            *c->warn |= EW_EP_WARN_TIMESTAMP;
        *at = start + 3 + n;
        return 0;
    }
    return decode_at(c, vtype, at, v, depth);
}

/* A value map of the numeric type |vtype| at |*at| into |*n|: the usual
 * one-entry map with a one-byte key and a number head is read here, the
 * rest as decode_at() reads it (with the same results and errors). */
static int decode_num(const dctx *c, int vtype, size_t *at, ew_ep_number *n, int depth) {
    size_t start = *at;
    size_t k;
    if (c->len - start >= 3 && c->p[start] == 0xA1 && c->p[start + 1] == vtype &&
        (k = num_fast(c->p + start + 2, c->len - start - 2, n)) != 0) {
        *at = start + 2 + k;
        return 0;
    }
    ew_ep_value sub;
    int rc = decode_at(c, vtype, at, &sub, depth);
    if (rc < 0)
        return rc;
    *n = sub.num;
    return 0;
}

/* The data part of a value of type |vtype| (low byte) at |*at|. */
static int decode_data(const dctx *c, int vtype, size_t *at, ew_ep_value *v, int depth) {
    size_t start = *at;
    if (ew_ep_vtype_is_numeric(vtype)) {
        size_t k = num_fast(c->p + start, c->len - start, &v->num);
        if (k) {
            *at = start + k;
            return 0;
        }
    }
    ew_ep_tok t;
    int rc = tok(c, at, &t);
    if (rc < 0)
        return rc;
    int base = vtype & 0xFF;
    switch (base) {
    case EW_EP_VT_TEXT:
    case EW_EP_VT_TIMESTAMP:
    case EW_EP_VT_CURRENCY:
        if (t.kind != EW_EP_TK_TEXT)
            return fail(c, EW_ERR_BAD_FIELD, start, "expected a definite-length text string");
        if (!ew_ep_utf8_valid(t.ptr, t.len))
            return fail(c, EW_ERR_BAD_FIELD, start, "text string is not valid UTF-8");
        v->bytes.ptr = t.ptr;
        v->bytes.len = t.len;
        /* ep.md §10.3 U16: any text is kept, non-RFC 3339 with a warning. */
        if (base == EW_EP_VT_TIMESTAMP && !rfc3339(t.ptr, t.len) && c->warn)
            *c->warn |= EW_EP_WARN_TIMESTAMP;
        return 0;
    case EW_EP_VT_BINARY:
        if (t.kind != EW_EP_TK_BYTES)
            return fail(c, EW_ERR_BAD_FIELD, start, "expected a definite-length byte string");
        v->bytes.ptr = t.ptr;
        v->bytes.len = t.len;
        return 0;
    case EW_EP_VT_FLAG:
        /* ep.md §3.2: F4/F5 only, not 0/1 (vector keneth-flag-int). */
        if (t.kind != EW_EP_TK_BOOL)
            return fail(c, EW_ERR_BAD_FIELD, start, "Flag needs true or false");
        v->flag = (int)t.u;
        return 0;
    case EW_EP_VT_AMOUNT:
    case EW_EP_VT_DURATION:
    case EW_EP_VT_VOLTAGE:
    case EW_EP_VT_CURRENT:
    case EW_EP_VT_POWER:
    case EW_EP_VT_ENERGY:
    case EW_EP_VT_PERCENTAGE:
    case EW_EP_VT_RESISTANCE:
        return number_from_tok(c, start, &t, &v->num);
    default:
        break;
    }
    if (depth >= 4)
        return fail(c, EW_ERR_DEPTH, start, "composite values nested too deeply");
    if (t.kind != EW_EP_TK_ARRAY)
        return fail(c, EW_ERR_BAD_FIELD, start, "composite value needs a definite-length array");
    ew_ep_value sub;
    switch (base) {
    case EW_EP_VT_BOUNDS: {
        /* ep.md §3.3.1: exactly two values of the same numeric type. */
        int elem = (vtype >> 8) & 0xFF;
        if (t.u != 2)
            return fail(c, EW_ERR_BAD_FIELD, start, "Bounds must be an array of two values");
        if (!ew_ep_vtype_is_numeric(elem))
            return fail(c, EW_ERR_INVAL, start, "Bounds element type is not numeric");
        v->bounds.vtype = elem;
        if ((rc = decode_num(c, elem, at, &v->bounds.min, depth + 1)) < 0 ||
            (rc = decode_num(c, elem, at, &v->bounds.max, depth + 1)) < 0)
            return rc;
        if (v->bounds.min.value > v->bounds.max.value && c->warn)
            *c->warn |= EW_EP_WARN_BOUNDS_ORDER; /* U19 */
        return 0;
    }
    case EW_EP_VT_PRICE_FORECAST:
        /* ep.md §3.3.2: entries [{0x03: ts}, {0x02: amount}, {0x05: cur}]. */
        for (uint64_t i = 0; i < t.u; i++) {
            size_t e = *at;
            ew_ep_tok a;
            if ((rc = tok(c, at, &a)) < 0)
                return rc;
            if (a.kind != EW_EP_TK_ARRAY || a.u != 3)
                return fail(c, EW_ERR_BAD_FIELD, e, "price entry must be an array of three");
            if ((rc = decode_text(c, EW_EP_VT_TIMESTAMP, at, &sub, depth + 1)) < 0 ||
                (rc = decode_num(c, EW_EP_VT_AMOUNT, at, &sub.num, depth + 1)) < 0 ||
                (rc = decode_text(c, EW_EP_VT_CURRENCY, at, &sub, depth + 1)) < 0)
                return rc;
        }
        v->prices.count = (size_t)t.u;
        v->prices.items = NULL;
        v->prices.raw.ptr = c->p + start;
        v->prices.raw.len = *at - start;
        return 0;
    case EW_EP_VT_SOURCE_MIX:
    case EW_EP_VT_ENERGY_MIX: {
        /* ep.md §3.3.3: an array of one-entry maps {source: {0x14: pct}};
         * unknown and duplicate IDs are kept with a warning, the total is
         * checked against 100 with a tolerance (U20). */
        int inner = base == EW_EP_VT_SOURCE_MIX ? EW_EP_VT_PERCENTAGE : EW_EP_VT_ENERGY;
        uint64_t seen = 0;
        double sum = 0;
        for (uint64_t i = 0; i < t.u; i++) {
            size_t e = *at;
            ew_ep_tok m, k;
            if ((rc = tok(c, at, &m)) < 0)
                return rc;
            if (m.kind != EW_EP_TK_MAP || m.u != 1)
                return fail(c, EW_ERR_BAD_FIELD, e, "mix entry must be a one-entry map");
            size_t ka = *at;
            if ((rc = tok(c, at, &k)) < 0)
                return rc;
            if (k.kind != EW_EP_TK_UINT)
                return fail(c, EW_ERR_BAD_FIELD, ka, "source ID must be an unsigned integer");
            if ((rc = decode_num(c, inner, at, &sub.num, depth + 1)) < 0)
                return rc;
            if (c->warn) {
                if (k.u > 9)
                    *c->warn |= EW_EP_WARN_UNKNOWN_SOURCE;
                else if (seen & (1u << k.u))
                    *c->warn |= EW_EP_WARN_DUP_SOURCE;
                else
                    seen |= 1u << k.u;
            }
            sum += sub.num.value;
        }
        if (base == EW_EP_VT_SOURCE_MIX && fabs(sum - 100.0) > 1e-6 && c->warn)
            *c->warn |= EW_EP_WARN_MIX_SUM;
        v->mix.count = (size_t)t.u;
        v->mix.items = NULL;
        v->mix.raw.ptr = c->p + start;
        v->mix.raw.len = *at - start;
        return 0;
    }
    case EW_EP_VT_ISOLATION: {
        /* ep.md §3.3.5: [state, {0x15: negative}, {0x15: positive}]; a null
         * or missing resistance is "not measured" with a warning (U21). */
        if (t.u < 1 || t.u > 3)
            return fail(c, EW_ERR_BAD_FIELD, start, "Isolation must be an array of 1 to 3");
        ew_ep_tok s;
        size_t sa = *at;
        if ((rc = tok(c, at, &s)) < 0)
            return rc;
        if (s.kind != EW_EP_TK_UINT)
            return fail(c, EW_ERR_BAD_FIELD, sa, "isolation state must be an unsigned integer");
        memset(&v->iso, 0, sizeof v->iso);
        v->iso.state = s.u;
        if (s.u > 3 && c->warn)
            *c->warn |= EW_EP_WARN_ISOLATION_STATE;
        for (uint64_t i = 1; i < 3; i++) {
            if (i >= t.u) {
                if (c->warn)
                    *c->warn |= EW_EP_WARN_ISOLATION_NULL;
                break;
            }
            if (*at < c->len && c->p[*at] == 0xF6) {
                (*at)++;
                if (c->warn)
                    *c->warn |= EW_EP_WARN_ISOLATION_NULL;
                continue;
            }
            if ((rc = decode_num(c, EW_EP_VT_RESISTANCE, at, &sub.num, depth + 1)) < 0)
                return rc;
            if (i == 1) {
                v->iso.has_negative = 1;
                v->iso.negative_ohms = sub.num;
            } else {
                v->iso.has_positive = 1;
                v->iso.positive_ohms = sub.num;
            }
        }
        return 0;
    }
    default:
        return fail(c, EW_ERR_INVAL, start, "unknown value type");
    }
}

/* A value-type map at |*at| (ep.md §3.1): the expected key is required,
 * extra keys are skipped with a warning, a repeated key is invalid. */
static int decode_at(const dctx *c, int vtype, size_t *at, ew_ep_value *v, int depth) {
    size_t start = *at;
    int want = vtype & 0xFF, found = 0;
    /* The usual form, a one-entry map whose key is the type ID in a
     * one-byte head (IDs below 24) or in 18 xx: straight to the data, as
     * the loop below would go. */
    if (c->len - start >= 3 && c->p[start] == 0xA1) {
        size_t kl = 0;
        if (want < 24 && c->p[start + 1] == want)
            kl = 1;
        else if (want >= 24 && c->p[start + 1] == 0x18 && c->p[start + 2] == want)
            kl = 2;
        if (kl) {
            v->vtype = vtype;
            *at = start + 1 + kl;
            return decode_data(c, vtype, at, v, depth);
        }
    }
    ew_ep_tok t;
    int rc = tok(c, at, &t);
    if (rc < 0)
        return rc;
    if (t.kind != EW_EP_TK_MAP && t.kind != EW_EP_TK_MAP_INDEF)
        return fail(c, EW_ERR_BAD_FIELD, start, "value-type map expected");
    v->vtype = vtype;
    for (uint64_t i = 0; t.kind == EW_EP_TK_MAP_INDEF || i < t.u; i++) {
        size_t ka = *at;
        ew_ep_tok k;
        if ((rc = tok(c, at, &k)) < 0)
            return rc;
        if (k.kind == EW_EP_TK_BREAK && t.kind == EW_EP_TK_MAP_INDEF)
            break;
        if (k.kind == EW_EP_TK_UINT && k.u == (uint64_t)want) {
            if (found)
                return fail(c, EW_ERR_BAD_FIELD, ka, "value-type key repeated");
            found = 1;
            if ((rc = decode_data(c, vtype, at, v, depth)) < 0)
                return rc;
            continue;
        }
        if (k.kind == EW_EP_TK_BREAK)
            return fail(c, EW_ERR_PROTO, ka, "break outside an indefinite container");
        /* The key was a single head; multi-item keys (arrays, maps) are
         * skipped whole. */
        if (k.kind != EW_EP_TK_UINT && k.kind != EW_EP_TK_NINT && k.kind != EW_EP_TK_TEXT &&
            k.kind != EW_EP_TK_BYTES) {
            *at = ka;
            if ((rc = skip(c, at)) < 0)
                return rc;
        }
        if ((rc = skip(c, at)) < 0)
            return rc;
        if (c->warn)
            *c->warn |= EW_EP_WARN_EXTRA_KEY;
    }
    if (!found)
        return fail(c, EW_ERR_BAD_FIELD, start, "value-type key missing");
    return 0;
}

int ew_ep_value_decode_at(int vtype, const uint8_t *p, size_t len, size_t base, ew_ep_value *v,
                          unsigned *warnings, ew_diag *d) {
    dctx c = {p, len, base, warnings, d};
    size_t at = 0;
    int rc = decode_at(&c, vtype, &at, v, 0);
    return rc < 0 ? rc : (int)at;
}

int ew_ep_value_decode(int vtype, const uint8_t *p, size_t len, ew_ep_value *v, unsigned *warnings,
                       ew_diag *d) {
    if (!p || !v || len > (size_t)INT32_MAX)
        return ew_ep_fail(d, EW_ERR_INVAL, 0, "NULL argument or input too long");
    memset(v, 0, sizeof *v);
    return ew_ep_value_decode_at(vtype, p, len, 0, v, warnings, d);
}

/* ---- iterators (over data the decoder validated) ------------------------- */

static void iter_init(ew_ep_iter *it, ew_bytes raw, size_t count) {
    it->p = raw.ptr;
    it->end = raw.ptr ? raw.ptr + raw.len : NULL;
    it->left = 0;
    ew_ep_tok t;
    int n = raw.ptr ? ew_ep_tok_next(raw.ptr, raw.len, &t) : -1;
    if (n > 0 && t.kind == EW_EP_TK_ARRAY) {
        it->p += n;
        it->left = count < t.u ? count : (size_t)t.u;
    }
}

void ew_ep_prices_iter(ew_ep_iter *it, const ew_ep_prices *pr) {
    iter_init(it, pr->raw, pr->count);
}

void ew_ep_mix_iter(ew_ep_iter *it, const ew_ep_mix *mx) {
    iter_init(it, mx->raw, mx->count);
}

int ew_ep_prices_next(ew_ep_iter *it, ew_ep_price *out) {
    if (!it->left)
        return 0;
    dctx c = {it->p, (size_t)(it->end - it->p), 0, NULL, NULL};
    size_t at = 0;
    ew_ep_tok t;
    ew_ep_value v;
    if (tok(&c, &at, &t) < 0 || decode_at(&c, EW_EP_VT_TIMESTAMP, &at, &v, 1) < 0)
        return it->left = 0, 0;
    out->timestamp = v.bytes;
    if (decode_at(&c, EW_EP_VT_AMOUNT, &at, &v, 1) < 0)
        return it->left = 0, 0;
    out->amount = v.num;
    if (decode_at(&c, EW_EP_VT_CURRENCY, &at, &v, 1) < 0)
        return it->left = 0, 0;
    out->currency = v.bytes;
    it->p += at;
    it->left--;
    return 1;
}

int ew_ep_mix_next(ew_ep_iter *it, ew_ep_mix_entry *out) {
    if (!it->left)
        return 0;
    dctx c = {it->p, (size_t)(it->end - it->p), 0, NULL, NULL};
    size_t at = 0;
    ew_ep_tok m, k;
    ew_ep_value v;
    if (tok(&c, &at, &m) < 0 || tok(&c, &at, &k) < 0 || at >= c.len)
        return it->left = 0, 0;
    /* The inner key says Percentage or Energy; read it back as such. */
    int inner = c.p[at + 1] == EW_EP_VT_ENERGY ? EW_EP_VT_ENERGY : EW_EP_VT_PERCENTAGE;
    if (decode_at(&c, inner, &at, &v, 1) < 0)
        return it->left = 0, 0;
    out->source = k.u;
    out->amount = v.num;
    it->p += at;
    it->left--;
    return 1;
}

/* ---- encoding ------------------------------------------------------------ */

static void w_num_map(ew_ep_w *w, int vtype, const ew_ep_number *n) {
    ew_ep_w_map(w, 1);
    ew_ep_w_uint(w, (uint64_t)vtype);
    ew_ep_w_number(w, n);
}

static void w_text_map(ew_ep_w *w, int vtype, ew_bytes b) {
    ew_ep_w_map(w, 1);
    ew_ep_w_uint(w, (uint64_t)vtype);
    ew_ep_w_text(w, b.ptr, b.len);
}

void ew_ep_value_write(ew_ep_w *w, const ew_ep_value *v) {
    int base = v->vtype & 0xFF;
    ew_ep_w_map(w, 1);
    ew_ep_w_uint(w, (uint64_t)base);
    switch (base) {
    case EW_EP_VT_TEXT:
    case EW_EP_VT_TIMESTAMP:
    case EW_EP_VT_CURRENCY:
        ew_ep_w_text(w, v->bytes.ptr, v->bytes.len);
        break;
    case EW_EP_VT_BINARY:
        ew_ep_w_bytes(w, v->bytes.ptr, v->bytes.len);
        break;
    case EW_EP_VT_FLAG:
        ew_ep_w_bool(w, v->flag);
        break;
    case EW_EP_VT_BOUNDS: {
        int elem = v->bounds.vtype ? v->bounds.vtype : (v->vtype >> 8) & 0xFF;
        ew_ep_w_array(w, 2);
        w_num_map(w, elem, &v->bounds.min);
        w_num_map(w, elem, &v->bounds.max);
        break;
    }
    case EW_EP_VT_PRICE_FORECAST:
        if (!v->prices.items) {
            ew_ep_w_raw(w, v->prices.raw.ptr, v->prices.raw.len);
            break;
        }
        ew_ep_w_array(w, v->prices.count);
        for (size_t i = 0; i < v->prices.count; i++) {
            const ew_ep_price *e = &v->prices.items[i];
            ew_ep_w_array(w, 3);
            w_text_map(w, EW_EP_VT_TIMESTAMP, e->timestamp);
            w_num_map(w, EW_EP_VT_AMOUNT, &e->amount);
            w_text_map(w, EW_EP_VT_CURRENCY, e->currency);
        }
        break;
    case EW_EP_VT_SOURCE_MIX:
    case EW_EP_VT_ENERGY_MIX: {
        int inner = base == EW_EP_VT_SOURCE_MIX ? EW_EP_VT_PERCENTAGE : EW_EP_VT_ENERGY;
        if (!v->mix.items) {
            ew_ep_w_raw(w, v->mix.raw.ptr, v->mix.raw.len);
            break;
        }
        ew_ep_w_array(w, v->mix.count);
        for (size_t i = 0; i < v->mix.count; i++) {
            ew_ep_w_map(w, 1);
            ew_ep_w_uint(w, v->mix.items[i].source);
            w_num_map(w, inner, &v->mix.items[i].amount);
        }
        break;
    }
    case EW_EP_VT_ISOLATION: {
        const ew_ep_isolation *iso = &v->iso;
        size_t n = iso->has_positive ? 3 : iso->has_negative ? 2 : 1;
        ew_ep_w_array(w, n);
        ew_ep_w_uint(w, iso->state);
        if (n >= 2) {
            if (iso->has_negative)
                w_num_map(w, EW_EP_VT_RESISTANCE, &iso->negative_ohms);
            else
                ew_ep_w_null(w);
        }
        if (n == 3)
            w_num_map(w, EW_EP_VT_RESISTANCE, &iso->positive_ohms);
        break;
    }
    default:
        if (ew_ep_vtype_is_numeric(base))
            ew_ep_w_number(w, &v->num);
        else if (!w->err)
            w->err = EW_ERR_INVAL;
        break;
    }
}

int ew_ep_value_encode(const ew_ep_value *v, uint8_t *out, size_t cap, size_t *written) {
    if (!v || !written || (!out && cap))
        return EW_ERR_INVAL;
    ew_ep_w w = {out, cap, 0, 0};
    ew_ep_value_write(&w, v);
    return ew_ep_w_done(&w, written);
}
