/*
 * The RCT object registry: lookups over the tables that tools/gen_rct_oids.c
 * generates from data/rct_oids.csv (rct.md §16).
 */
#include <string.h>

#include "rct/rct_int.h"

size_t ew_rct_object_count(void) {
    return ew_rct_objects_gen_count;
}

const ew_rct_object *ew_rct_object_at(size_t i) {
    return i < ew_rct_objects_gen_count ? &ew_rct_objects_gen[i] : NULL;
}

const ew_rct_object *ew_rct_object_by_id(uint32_t id) {
    size_t lo = 0, hi = ew_rct_objects_gen_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t m = ew_rct_objects_gen[mid].id;
        if (m == id)
            return &ew_rct_objects_gen[mid];
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int fold(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Compares |n| bytes of |a| with the NUL-terminated |b|, case folded. */
static int fold_cmp_n(const char *a, size_t n, const char *b) {
    size_t i = 0;
    for (; i < n && b[i]; i++) {
        int x = fold((unsigned char)a[i]), y = fold((unsigned char)b[i]);
        if (x != y)
            return x - y;
    }
    if (i < n)
        return 1;
    return b[i] ? -1 : 0;
}

const ew_rct_object *ew_rct_object_by_name(const char *name, size_t len) {
    if (!name)
        return NULL;
    /* Names are unique with case folded (the generator checks), so one
     * binary search over the folded order finds the only candidate. */
    size_t lo = 0, hi = ew_rct_objects_gen_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ew_rct_object *o = &ew_rct_objects_gen[ew_rct_name_index_gen[mid]];
        int c = fold_cmp_n(name, len, o->name);
        if (c == 0)
            return o;
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int ew_rct_oid_parse(const char *text, size_t len, uint32_t *id) {
    if (!text || !id || !len)
        return EW_ERR_NOT_FOUND;
    const ew_rct_object *o = ew_rct_object_by_name(text, len);
    if (o) {
        *id = o->id;
        return EW_OK;
    }
    uint64_t v = 0;
    size_t i = 0;
    unsigned base = 10;
    if (len > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        i = 2;
    }
    for (; i < len; i++) {
        int c = (unsigned char)text[i], dv;
        if (c >= '0' && c <= '9')
            dv = c - '0';
        else if (base == 16 && fold(c) >= 'a' && fold(c) <= 'f')
            dv = fold(c) - 'a' + 10;
        else
            return EW_ERR_NOT_FOUND;
        v = v * base + (unsigned)dv;
        if (v > UINT32_MAX)
            return EW_ERR_NOT_FOUND;
    }
    *id = (uint32_t)v;
    return EW_OK;
}

int ew_rct_glob_match(const char *pattern, size_t plen, const char *name) {
    /* Iterative glob with single-star backtracking: linear for the patterns
     * a CLI sees.  '[' is literal because object names contain indexes
     * ("battery.cells[0]"). */
    size_t p = 0, n = 0, star_p = (size_t)-1, star_n = 0;
    size_t nlen = strlen(name);
    while (n < nlen) {
        if (p < plen && pattern[p] == '*') {
            star_p = p++;
            star_n = n;
        } else if (p < plen && (pattern[p] == '?' ||
                                fold((unsigned char)pattern[p]) == fold((unsigned char)name[n]))) {
            p++;
            n++;
        } else if (star_p != (size_t)-1) {
            p = star_p + 1;
            n = ++star_n;
        } else {
            return 0;
        }
    }
    while (p < plen && pattern[p] == '*')
        p++;
    return p == plen;
}

size_t ew_rct_object_select(const char *group, const char *pattern, const ew_rct_object **out,
                            size_t cap) {
    size_t count = 0, plen = pattern ? strlen(pattern) : 0;
    size_t glen = group ? strlen(group) : 0;
    for (size_t i = 0; i < ew_rct_objects_gen_count; i++) {
        const ew_rct_object *o = &ew_rct_objects_gen[ew_rct_name_index_gen[i]];
        if (group && fold_cmp_n(group, glen, o->group) != 0)
            continue;
        if (plen && !ew_rct_glob_match(pattern, plen, o->name))
            continue;
        if (out && count < cap)
            out[count] = o;
        count++;
    }
    return count;
}

int ew_rct_type_for(uint32_t id, unsigned cmd) {
    const ew_rct_object *o = ew_rct_object_by_id(id);
    if (!o)
        return EW_RCT_TYPE_UNKNOWN;
    return (ew_rct_cmd_flags(cmd) & EW_RCT_CMDF_RESPONSE) ? o->response_type : o->request_type;
}
