/*
 * Tag registry lookups over the tables generated from data/rscp_tags.csv
 * (rscp.md §4.2) by tools/gen_rscp_tags.c.  No allocation, O(log n).
 */
#include "rscp/rscp_int.h"
#include "rscp/tags_int.h"

static int ascii_upper(int c) {
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int hex_digit(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int has_hex_prefix(const char *s, size_t len) {
    return len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* "0x" followed by 1..8 hex digits and nothing else. */
static int parse_hex32(const char *s, size_t len, uint32_t *out) {
    if (!has_hex_prefix(s, len) || len < 3 || len > 10)
        return -1;
    uint32_t v = 0;
    for (size_t i = 2; i < len; i++) {
        int d = hex_digit((unsigned char)s[i]);
        if (d < 0)
            return -1;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* One or more decimal digits whose value fits in 32 bits. */
static int parse_dec32(const char *s, size_t len, uint32_t *out) {
    if (len == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

const ew_rscp_tag_info *ew_rscp_tag_by_id(uint32_t id) {
    size_t lo = 0, hi = ew_rscp_tags_count_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t m = ew_rscp_tags_[mid].id;
        if (m == id)
            return &ew_rscp_tags_[mid];
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *ew_rscp_tag_short_name(const ew_rscp_tag_info *t) {
    if (!t || !t->name)
        return NULL;
    /* Same rule as the generator's lookup key: a leading "TAG_" in any case,
     * when something follows it. */
    const char *n = t->name;
    if (ascii_upper((unsigned char)n[0]) == 'T' && ascii_upper((unsigned char)n[1]) == 'A' &&
        ascii_upper((unsigned char)n[2]) == 'G' && n[3] == '_' && n[4])
        return n + 4;
    return n;
}

/* Compares the short name of |t| with |key| (|len| bytes) ignoring ASCII
 * case, as strcmp orders the upper-case forms (the generator's order). */
static int cmp_key(const ew_rscp_tag_info *t, const char *key, size_t len) {
    const unsigned char *a = (const unsigned char *)ew_rscp_tag_short_name(t);
    for (size_t i = 0; i < len; i++) {
        if (a[i] == '\0')
            return -1;
        int ca = ascii_upper(a[i]), cb = ascii_upper((unsigned char)key[i]);
        if (ca != cb)
            return ca - cb;
    }
    return a[len] != '\0';
}

const ew_rscp_tag_info *ew_rscp_tag_by_name(const char *name, size_t len) {
    if (!name || len == 0)
        return NULL;
    if (has_hex_prefix(name, len)) {
        uint32_t id;
        return parse_hex32(name, len, &id) == 0 ? ew_rscp_tag_by_id(id) : NULL;
    }
    if (len > 4 && ascii_upper((unsigned char)name[0]) == 'T' &&
        ascii_upper((unsigned char)name[1]) == 'A' && ascii_upper((unsigned char)name[2]) == 'G' &&
        name[3] == '_') {
        name += 4;
        len -= 4;
    }
    /* Lower bound: where two rows share a name the generator put the one the
     * CSV does not mark as doubtful first (see tools/gen_rscp_tags.c). */
    size_t lo = 0, hi = ew_rscp_tags_count_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(&ew_rscp_tags_[ew_rscp_tags_by_name_[mid]], name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ew_rscp_tags_count_) {
        const ew_rscp_tag_info *t = &ew_rscp_tags_[ew_rscp_tags_by_name_[lo]];
        if (cmp_key(t, name, len) == 0)
            return t;
    }
    return NULL;
}

size_t ew_rscp_tag_count(void) {
    return ew_rscp_tags_count_;
}

const ew_rscp_tag_info *ew_rscp_tag_at(size_t i) {
    return i < ew_rscp_tags_count_ ? &ew_rscp_tags_[i] : NULL;
}

int ew_rscp_tag_parse(const char *text, size_t len, uint32_t *id) {
    if (!text || !id)
        return EW_ERR_INVAL;
    uint32_t v;
    /* Numbers first: any 32-bit value is a legal tag on the wire, known or
     * not (STYLE.md "Errors": unknown tags are never errors). */
    if (has_hex_prefix(text, len)) {
        if (parse_hex32(text, len, &v) != 0)
            return EW_ERR_NOT_FOUND;
        *id = v;
        return EW_OK;
    }
    if (parse_dec32(text, len, &v) == 0) {
        *id = v;
        return EW_OK;
    }
    const ew_rscp_tag_info *t = ew_rscp_tag_by_name(text, len);
    if (!t)
        return EW_ERR_NOT_FOUND;
    *id = t->id;
    return EW_OK;
}
