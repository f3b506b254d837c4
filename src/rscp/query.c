/*
 * Path and filter queries over RSCP values, the language of rscp_lib's
 * RscpValue.get_tag_by_path ("TAG_PVI_DATA(TAG_PVI_INDEX==0)/TAG_PVI_DC_POWER"),
 * extended with the operators, literal kinds and conjunctions of the grammar
 * in <energywire/rscp.h>.
 *
 * Compiling resolves every tag once, so running never touches the registry.
 * Running walks the value tree with the zero-copy iterator and an explicit
 * stack of at most EW_RSCP_QUERY_MAX_STEPS iterators: no recursion, no
 * allocation, and container nesting is bounded by the iterator's max_depth.
 *
 * Semantics (documented here because rscp_lib is the only precedent):
 *  - A condition holds when the candidate container has at least one child
 *    with the condition's tag whose value satisfies it.  rscp_lib does the
 *    same (it scans all children for a matching one).  A missing child, a
 *    non-container candidate, or a child whose type cannot be compared with
 *    the literal makes the condition false, for every operator including !=.
 *  - Integer literals compare exactly with Bool, Char8, UChar8 and every
 *    integer type (UInt64 values above INT64_MAX included), and as double with
 *    Float32/Double64.  Real literals compare as double with every numeric
 *    type; against a Float32 value the literal is first rounded to float, so
 *    that "BAT_RSOC==0.1" matches the 0.1f a device sends.
 *  - String literals compare only with CString values: byte equality, and
 *    memcmp order (a prefix sorts first) for < <= > >=.
 *  - true/false compare with Bool and integer values (non-zero is true;
 *    false < true).
 *  - Every value that matches the last step is reported, in document order
 *    (rscp_lib stops at the first container a step matches, even when the
 *    next step finds nothing inside it; ew_rscp_query_first() instead returns
 *    the first complete match).
 *
 * Lexical details the grammar leaves open: ASCII whitespace may surround
 * every token; true/false are case-insensitive like tag names; strings know
 * the escapes \" and \\ and hold at most EW_RSCP_QUERY_MAX_STRING - 1 bytes so
 * that cond.s stays NUL terminated; an integer outside int64_t is
 * EW_ERR_SYNTAX ("integer literal out of range").  Reals are converted
 * without strtod (locale-dependent): exactly for up to 15-16 significant
 * digits and moderate exponents, within one unit in the last place beyond.
 */
#include "rscp/rscp_int.h"

#include <float.h>
#include <limits.h>

/* ------------------------------------------------------------------------ */
/* Compiling                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct parser {
    const char *s;
    size_t len;
    size_t pos;
    ew_diag *d;
} parser;

static int at_end(const parser *p) {
    return p->pos >= p->len;
}

static int peek(const parser *p) {
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int peek2(const parser *p) {
    return p->pos + 1 < p->len ? (unsigned char)p->s[p->pos + 1] : -1;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

static int is_word(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_';
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int word_is(const char *w, size_t n, const char *lit) {
    size_t i = 0;
    for (; i < n && lit[i]; i++)
        if (lower((unsigned char)w[i]) != lit[i])
            return 0;
    return i == n && lit[i] == '\0';
}

/*
 * TAG := a name with or without TAG_ (any case), or "0x" + 1..8 hex digits.
 * A hex id need not be in the registry: unknown tags are legal on the wire.
 */
static int parse_tag(parser *p, uint32_t *tag, const char *missing) {
    skip_ws(p);
    size_t start = p->pos;
    while (!at_end(p) && is_word(peek(p)))
        p->pos++;
    size_t n = p->pos - start;
    const char *w = p->s + start;
    if (n == 0)
        return ew_fail(p->d, EW_ERR_SYNTAX, start, missing);
    if (n >= 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
        if (n < 3 || n > 10)
            return ew_fail(p->d, EW_ERR_SYNTAX, start, "hex tag id needs 1 to 8 hex digits");
        uint32_t v = 0;
        for (size_t i = 2; i < n; i++) {
            int h = hex_value((unsigned char)w[i]);
            if (h < 0)
                return ew_fail(p->d, EW_ERR_SYNTAX, start + i, "invalid hex digit in tag id");
            v = (v << 4) | (uint32_t)h;
        }
        *tag = v;
        return EW_OK;
    }
    if (is_digit((unsigned char)w[0]))
        return ew_fail(p->d, EW_ERR_SYNTAX, start, "expected a tag name or 0x hex id");
    const ew_rscp_tag_info *t = ew_rscp_tag_by_name(w, n);
    if (!t)
        return ew_fail(p->d, EW_ERR_NOT_FOUND, start, "unknown tag name");
    *tag = t->id;
    return EW_OK;
}

static int parse_op(parser *p, ew_rscp_query_op *op) {
    static const struct {
        char text[3];
        ew_rscp_query_op op;
    } ops[] = {
        /* Two-character operators first so that "<=" is not read as "<". */
        {"==", EW_RSCP_OP_EQ}, {"!=", EW_RSCP_OP_NE}, {"<=", EW_RSCP_OP_LE},
        {">=", EW_RSCP_OP_GE}, {"<", EW_RSCP_OP_LT},  {">", EW_RSCP_OP_GT},
    };
    skip_ws(p);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = ops[i].text[1] ? 2 : 1;
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, ops[i].text, n) == 0) {
            p->pos += n;
            *op = ops[i].op;
            return EW_OK;
        }
    }
    return ew_fail(p->d, EW_ERR_SYNTAX, p->pos, "expected a comparison operator");
}

/* Exact powers of ten representable in a double (10^22 < 2^53 * 2^22). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * m * 10^e without strtod (which would follow the C locale's decimal point).
 * For m <= 2^53 and |e| <= 22 both operands are exact and the one IEEE
 * operation rounds correctly (Clinger's fast path), which covers every
 * literal a person writes in a filter; beyond that long double arithmetic
 * gives a result within a few units in the last place.
 */
static int scale10(uint64_t m, long e, double *out) {
    if (m == 0) {
        *out = 0.0;
        return EW_OK;
    }
    if (m <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        *out = e >= 0 ? (double)m * pow10_exact[e] : (double)m / pow10_exact[-e];
        return EW_OK;
    }
    long double r = (long double)m, b = 10.0L, f = 1.0L;
    unsigned long k = e >= 0 ? (unsigned long)e : (unsigned long)-e;
    while (k) {
        if (k & 1)
            f *= b;
        b *= b;
        k >>= 1;
    }
    r = e >= 0 ? r * f : r / f;
    /* Check in long double: converting an out-of-range value is undefined. */
    if (r > (long double)DBL_MAX)
        return EW_ERR_RANGE;
    *out = (double)r;
    return EW_OK;
}

/* Stores the integer literal -mag or mag, which must fit in int64_t. */
static int set_integer(parser *p, ew_rscp_query_cond *c, size_t start, int neg, uint64_t mag) {
    if (mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return ew_fail(p->d, EW_ERR_SYNTAX, start, "integer literal out of range");
    if (neg)
        c->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else
        c->i = (int64_t)mag;
    c->kind = EW_RSCP_LIT_INT;
    c->f = (double)c->i;
    return EW_OK;
}

/* A number must not run into a name or a second decimal point ("12ab", "1.2.3"). */
static int number_ends(parser *p, size_t start) {
    if (is_word(peek(p)) || peek(p) == '.')
        return ew_fail(p->d, EW_ERR_SYNTAX, start, "invalid number");
    return EW_OK;
}

/* integer (decimal or 0x hex, optional sign) | real, at p->pos. */
static int parse_number(parser *p, ew_rscp_query_cond *c) {
    size_t start = p->pos;
    int neg = 0;
    if (peek(p) == '+' || peek(p) == '-') {
        neg = peek(p) == '-';
        p->pos++;
    }

    if (peek(p) == '0' && (peek2(p) == 'x' || peek2(p) == 'X')) {
        p->pos += 2;
        uint64_t mag = 0;
        size_t digits = 0;
        int h;
        while ((h = hex_value(peek(p))) >= 0) {
            if (mag > (UINT64_MAX >> 4))
                return ew_fail(p->d, EW_ERR_SYNTAX, start, "integer literal out of range");
            mag = (mag << 4) | (uint64_t)h;
            p->pos++;
            digits++;
        }
        if (digits == 0)
            return ew_fail(p->d, EW_ERR_SYNTAX, start, "expected hex digits after 0x");
        int rc = number_ends(p, start);
        return rc != EW_OK ? rc : set_integer(p, c, start, neg, mag);
    }

    /* Decimal.  |mag| is the exact integer value (while it fits); for reals
     * up to 19 significant digits go to |m| (they fit in uint64_t) and the
     * rest only move the decimal exponent. */
    uint64_t mag = 0, m = 0;
    int sig = 0, overflow = 0, is_real = 0;
    long exp10 = 0;
    size_t digits = 0;
    while (is_digit(peek(p))) {
        int dgt = peek(p) - '0';
        if (mag > (UINT64_MAX - (uint64_t)dgt) / 10)
            overflow = 1;
        else
            mag = mag * 10 + (uint64_t)dgt;
        if (sig == 19) {
            exp10++;
        } else if (m || dgt) {
            m = m * 10 + (uint64_t)dgt;
            sig++;
        }
        p->pos++;
        digits++;
    }
    if (peek(p) == '.') {
        is_real = 1;
        p->pos++;
        while (is_digit(peek(p))) {
            int dgt = peek(p) - '0';
            if (sig < 19) {
                if (m || dgt) {
                    m = m * 10 + (uint64_t)dgt;
                    sig++;
                }
                exp10--;
            }
            p->pos++;
            digits++;
        }
    }
    if (digits == 0)
        return ew_fail(p->d, EW_ERR_SYNTAX, start, "invalid number");
    if (peek(p) == 'e' || peek(p) == 'E') {
        is_real = 1;
        p->pos++;
        int eneg = 0;
        if (peek(p) == '+' || peek(p) == '-') {
            eneg = peek(p) == '-';
            p->pos++;
        }
        if (!is_digit(peek(p)))
            return ew_fail(p->d, EW_ERR_SYNTAX, start, "invalid number: exponent has no digits");
        long e = 0;
        while (is_digit(peek(p))) {
            if (e < 100000) /* beyond this every double is 0 or inf anyway */
                e = e * 10 + (peek(p) - '0');
            p->pos++;
        }
        exp10 += eneg ? -e : e;
    }
    int rc = number_ends(p, start);
    if (rc != EW_OK)
        return rc;
    if (!is_real) {
        if (overflow)
            return ew_fail(p->d, EW_ERR_SYNTAX, start, "integer literal out of range");
        return set_integer(p, c, start, neg, mag);
    }
    double f;
    if (scale10(m, exp10, &f) != EW_OK)
        return ew_fail(p->d, EW_ERR_SYNTAX, start, "real literal out of range");
    c->kind = EW_RSCP_LIT_REAL;
    c->f = neg ? -f : f;
    c->i = 0;
    return EW_OK;
}

/* "quoted string" with \" and \\ escapes; at most MAX_STRING - 1 bytes so
 * that cond->s is always NUL terminated. */
static int parse_string(parser *p, ew_rscp_query_cond *c) {
    size_t start = p->pos;
    p->pos++; /* opening quote */
    size_t n = 0;
    for (;;) {
        if (at_end(p))
            return ew_fail(p->d, EW_ERR_SYNTAX, start, "unterminated string literal");
        int ch = peek(p);
        if (ch == '"') {
            p->pos++;
            break;
        }
        if (ch == '\\') {
            int e = peek2(p);
            if (e != '"' && e != '\\')
                return ew_fail(p->d, EW_ERR_SYNTAX, p->pos,
                               "unknown escape in string literal (only \\\" and \\\\)");
            p->pos++;
            ch = e;
        }
        if (n + 1 >= EW_RSCP_QUERY_MAX_STRING)
            return ew_fail(p->d, EW_ERR_TOO_BIG, start, "string literal too long");
        c->s[n++] = (char)ch;
        p->pos++;
    }
    c->s[n] = '\0';
    c->slen = n;
    c->kind = EW_RSCP_LIT_STRING;
    return EW_OK;
}

static int parse_literal(parser *p, ew_rscp_query_cond *c) {
    static const char *const expected = "expected a literal: number, \"string\", true or false";
    skip_ws(p);
    int ch = peek(p);
    if (ch == '"')
        return parse_string(p, c);
    if (is_digit(ch) || ch == '+' || ch == '-' || ch == '.')
        return parse_number(p, c);
    if (ch >= 0 && is_word(ch)) {
        size_t start = p->pos;
        while (!at_end(p) && is_word(peek(p)))
            p->pos++;
        const char *w = p->s + start;
        size_t n = p->pos - start;
        if (word_is(w, n, "true") || word_is(w, n, "false")) {
            c->kind = EW_RSCP_LIT_BOOL;
            c->i = word_is(w, n, "true");
            c->f = (double)c->i;
            return EW_OK;
        }
        return ew_fail(p->d, EW_ERR_SYNTAX, start, expected);
    }
    return ew_fail(p->d, EW_ERR_SYNTAX, p->pos, expected);
}

/* "(" cond (("&&" | ",") cond)* ")" with p->pos just after "(". */
static int parse_conditions(parser *p, ew_rscp_query_step *st) {
    for (;;) {
        skip_ws(p);
        if (st->ncond == EW_RSCP_QUERY_MAX_CONDS)
            return ew_fail(p->d, EW_ERR_TOO_BIG, p->pos, "too many conditions in one step");
        ew_rscp_query_cond *c = &st->cond[st->ncond];
        int rc = parse_tag(p, &c->tag, "expected a tag name in condition");
        if (rc == EW_OK)
            rc = parse_op(p, &c->op);
        if (rc == EW_OK)
            rc = parse_literal(p, c);
        if (rc != EW_OK)
            return rc;
        st->ncond++;
        skip_ws(p);
        if (peek(p) == ')') {
            p->pos++;
            return EW_OK;
        }
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == '&' && peek2(p) == '&') {
            p->pos += 2;
            continue;
        }
        return ew_fail(p->d, EW_ERR_SYNTAX, p->pos, "expected ')' after condition");
    }
}

int ew_rscp_query_compile(ew_rscp_query *q, const char *text, size_t len, ew_diag *d) {
    if (!q || (!text && len))
        return ew_fail(d, EW_ERR_INVAL, 0, "NULL query or text");
    memset(q, 0, sizeof *q);
    parser p = {text, len, 0, d};
    skip_ws(&p);
    if (at_end(&p))
        return ew_fail(d, EW_ERR_SYNTAX, p.pos, "empty query");
    for (;;) {
        skip_ws(&p);
        if (at_end(&p) || peek(&p) == '/')
            return ew_fail(d, EW_ERR_SYNTAX, p.pos, "empty path step");
        if (q->nsteps == EW_RSCP_QUERY_MAX_STEPS)
            return ew_fail(d, EW_ERR_TOO_BIG, p.pos, "too many path steps");
        ew_rscp_query_step *st = &q->steps[q->nsteps];
        int rc = parse_tag(&p, &st->tag, "expected a tag name");
        if (rc != EW_OK)
            return rc;
        skip_ws(&p);
        int had_conds = 0;
        if (peek(&p) == '(') {
            p.pos++;
            if ((rc = parse_conditions(&p, st)) != EW_OK)
                return rc;
            had_conds = 1;
            skip_ws(&p);
        }
        q->nsteps++;
        if (at_end(&p))
            return EW_OK;
        if (peek(&p) != '/')
            return ew_fail(d, EW_ERR_SYNTAX, p.pos,
                           had_conds ? "expected '/' or end of query"
                                     : "expected '/', '(' or end of query");
        p.pos++;
    }
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */
/* ------------------------------------------------------------------------ */

static int is_container(const ew_rscp_value *v) {
    return v->type == EW_RSCP_TYPE_CONTAINER && !(v->flags & EW_RSCP_VF_RAW);
}

/* |c| is <0, 0 or >0 as value <, ==, > literal. */
static int op_holds(int c, ew_rscp_query_op op) {
    switch (op) {
    case EW_RSCP_OP_EQ:
        return c == 0;
    case EW_RSCP_OP_NE:
        return c != 0;
    case EW_RSCP_OP_LT:
        return c < 0;
    case EW_RSCP_OP_LE:
        return c <= 0;
    case EW_RSCP_OP_GT:
        return c > 0;
    case EW_RSCP_OP_GE:
        return c >= 0;
    }
    return 0;
}

/* IEEE comparisons: with a NaN only != holds. */
static int op_holds_double(double a, double b, ew_rscp_query_op op) {
    switch (op) {
    case EW_RSCP_OP_EQ:
        return a == b;
    case EW_RSCP_OP_NE:
        return a != b;
    case EW_RSCP_OP_LT:
        return a < b;
    case EW_RSCP_OP_LE:
        return a <= b;
    case EW_RSCP_OP_GT:
        return a > b;
    case EW_RSCP_OP_GE:
        return a >= b;
    }
    return 0;
}

/* The literal as the value's precision sees it (see the top comment). */
static double real_for(const ew_rscp_value *v, double lit) {
    if (v->type == EW_RSCP_TYPE_FLOAT32 && lit >= -FLT_MAX && lit <= FLT_MAX)
        return (double)(float)lit;
    return lit;
}

static int cond_holds(const ew_rscp_value *v, const ew_rscp_query_cond *c) {
    int64_t vi;
    uint64_t vu;
    double vd;
    int vb, rc;

    switch (c->kind) {
    case EW_RSCP_LIT_INT:
        rc = ew_rscp_value_get_i64(v, &vi);
        if (rc == EW_OK)
            return op_holds(vi < c->i ? -1 : vi > c->i, c->op);
        /* Only a UInt64 above INT64_MAX fails this way: larger than any literal. */
        if (rc == EW_ERR_RANGE && ew_rscp_value_get_u64(v, &vu) == EW_OK)
            return op_holds(1, c->op);
        if (ew_rscp_value_get_double(v, &vd) == EW_OK)
            return op_holds_double(vd, (double)c->i, c->op);
        return 0;
    case EW_RSCP_LIT_REAL:
        if (ew_rscp_value_get_double(v, &vd) == EW_OK)
            return op_holds_double(vd, real_for(v, c->f), c->op);
        return 0;
    case EW_RSCP_LIT_STRING: {
        ew_bytes b;
        if (v->type != EW_RSCP_TYPE_CSTRING || (v->flags & EW_RSCP_VF_RAW) ||
            ew_rscp_value_get_bytes(v, &b) != EW_OK)
            return 0;
        size_t n = b.len < c->slen ? b.len : c->slen;
        int m = n ? memcmp(b.ptr, c->s, n) : 0;
        if (m == 0)
            m = b.len < c->slen ? -1 : b.len > c->slen;
        return op_holds(m, c->op);
    }
    case EW_RSCP_LIT_BOOL:
        if (ew_rscp_value_get_bool(v, &vb) != EW_OK)
            return 0;
        return op_holds((vb != 0) - (c->i != 0), c->op);
    }
    return 0;
}

/*
 * Returns 1 when every condition of |st| holds for the children of |v| (read
 * from |parent|), 0 when one does not, or a decode error.
 */
static int step_matches(const ew_rscp_iter *parent, const ew_rscp_value *v,
                        const ew_rscp_query_step *st, ew_diag *d) {
    if (st->ncond == 0)
        return 1;
    if (!is_container(v))
        return 0; /* no children: every condition is about an absent child */
    ew_rscp_iter it;
    int rc = ew_rscp_iter_enter(parent, v, &it, d);
    if (rc < 0)
        return rc;
    unsigned all = (1u << st->ncond) - 1, held = 0;
    ew_rscp_value child;
    while (held != all && (rc = ew_rscp_iter_next(&it, &child, d)) == 1) {
        for (unsigned i = 0; i < st->ncond; i++)
            if (!(held & (1u << i)) && child.tag == st->cond[i].tag &&
                cond_holds(&child, &st->cond[i]))
                held |= 1u << i;
    }
    if (rc < 0)
        return rc;
    return held == all;
}

/* Rejects hand-made queries that would index past the fixed arrays. */
static int query_ok(const ew_rscp_query *q) {
    if (!q || q->nsteps > EW_RSCP_QUERY_MAX_STEPS)
        return 0;
    for (unsigned k = 0; k < q->nsteps; k++) {
        if (q->steps[k].ncond > EW_RSCP_QUERY_MAX_CONDS)
            return 0;
        for (unsigned i = 0; i < q->steps[k].ncond; i++)
            if (q->steps[k].cond[i].slen > EW_RSCP_QUERY_MAX_STRING)
                return 0;
    }
    return 1;
}

int ew_rscp_query_run(const ew_rscp_query *q, const uint8_t *area, size_t len, unsigned max_depth,
                      ew_rscp_query_cb cb, void *user, ew_diag *d) {
    if (!query_ok(q) || (!area && len))
        return ew_fail(d, EW_ERR_INVAL, 0, "invalid query or NULL area");
    /* Nothing to find; this also keeps a NULL area out of the iterator's
     * pointer arithmetic. */
    if (q->nsteps == 0 || len == 0)
        return 0;

    /* stack[k] walks the children of a value matched by step k - 1 (stack[0]
     * the top level) and looks for values matching step k. */
    ew_rscp_iter stack[EW_RSCP_QUERY_MAX_STEPS];
    unsigned k = 0;
    int count = 0;
    ew_rscp_iter_init(&stack[0], area, len, max_depth);
    for (;;) {
        ew_rscp_value v;
        int rc = ew_rscp_iter_next(&stack[k], &v, d);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (k == 0)
                return count;
            k--;
            continue;
        }
        const ew_rscp_query_step *st = &q->steps[k];
        if (v.tag != st->tag)
            continue;
        rc = step_matches(&stack[k], &v, st, d);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        if (k + 1 == q->nsteps) {
            count++;
            /* |v| lives on this stack frame: valid during the call only. */
            if ((cb && cb(user, &v)) || count == INT_MAX)
                return count;
            continue;
        }
        if (!is_container(&v))
            continue;
        rc = ew_rscp_iter_enter(&stack[k], &v, &stack[k + 1], d);
        if (rc < 0)
            return rc;
        k++;
    }
}

static int take_first(void *user, const ew_rscp_value *v) {
    *(ew_rscp_value *)user = *v;
    return 1;
}

int ew_rscp_query_first(const ew_rscp_query *q, const uint8_t *area, size_t len, unsigned max_depth,
                        ew_rscp_value *out, ew_diag *d) {
    if (!out)
        return ew_fail(d, EW_ERR_INVAL, 0, "NULL output value");
    int rc = ew_rscp_query_run(q, area, len, max_depth, take_first, out, d);
    return rc < 0 ? rc : rc > 0;
}
