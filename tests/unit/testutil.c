#include "testutil.h"

#include <energywire/rscp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *tu_load_json(const char *relpath) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", EW_VECTOR_DIR, relpath);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("cannot load %s: %s (line %d)", path, err.text, err.line);
    return j;
}

const char *tu_str(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("vector member '%s' missing or not a string", key);
    return json_string_value(v);
}

long long tu_int(const json_t *obj, const char *key) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("vector member '%s' missing or not an integer", key);
    return json_integer_value(v);
}

uint8_t *tu_unhex(const char *hex, size_t *len) {
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    int rc = ew_hex_decode(hex, n, out, n / 2 + 1);
    if (rc < 0)
        fail_msg("bad hex in vector: %.40s", hex);
    *len = (size_t)rc;
    return out;
}

char *tu_hex(const uint8_t *p, size_t len) {
    char *s = malloc(len * 2 + 1);
    assert_non_null(s);
    assert_int_equal(ew_hex_encode(p, len, s, len * 2 + 1), (int)(len * 2));
    return s;
}

char *tu_check_splits(void *ctx, const uint8_t *in, size_t len, tu_run_fn run) {
    size_t whole[1] = {len};
    char *ref = run(ctx, in, len, whole, len ? 1 : 0);
    assert_non_null(ref);

    size_t *ones = malloc((len ? len : 1) * sizeof *ones);
    assert_non_null(ones);
    for (size_t i = 0; i < len; i++)
        ones[i] = 1;
    char *got = run(ctx, in, len, ones, len);
    if (strcmp(ref, got) != 0)
        fail_msg("byte-by-byte feeding differs:\nwhole: %s\nbytes: %s", ref, got);
    free(got);
    free(ones);

    for (size_t k = 1; k < len; k++) {
        size_t two[2] = {k, len - k};
        got = run(ctx, in, len, two, 2);
        if (strcmp(ref, got) != 0)
            fail_msg("split at %zu differs:\nwhole: %s\nsplit: %s", k, ref, got);
        free(got);
    }
    return ref;
}

void tu_logf(tu_log *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (l->len + (size_t)n + 1 > l->cap) {
        size_t cap = (l->cap ? l->cap * 2 : 256);
        while (cap < l->len + (size_t)n + 1)
            cap *= 2;
        l->s = realloc(l->s, cap);
        assert_non_null(l->s);
        l->cap = cap;
    }
    vsnprintf(l->s + l->len, l->cap - l->len, fmt, ap2);
    va_end(ap2);
    l->len += (size_t)n;
}

char *tu_log_take(tu_log *l) {
    if (!l->s)
        tu_logf(l, "%s", "");
    char *s = l->s;
    l->s = NULL;
    l->len = l->cap = 0;
    return s;
}

uint64_t tu_rand(uint64_t *state) {
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint32_t tu_hex32(const char *s) {
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 16);
    assert_true(end && *end == '\0');
    return (uint32_t)v;
}

uint32_t tu_node_tag(const json_t *node) {
    const json_t *h = json_object_get(node, "tag_hex");
    if (json_is_string(h))
        return tu_hex32(json_string_value(h));
    const char *name = tu_str(node, "tag");
    const ew_rscp_tag_info *t = ew_rscp_tag_by_name(name, strlen(name));
    if (!t)
        fail_msg("tag %s not in the registry", name);
    return t->id;
}

int tu_node_type(const json_t *node) {
    const char *name = tu_str(node, "type");
    int type = ew_rscp_type_from_name(name, strlen(name));
    if (type < 0)
        fail_msg("unknown type name %s", name);
    return type;
}

void tu_build_node(ew_rscp_builder *b, const json_t *node) {
    uint32_t tag = tu_node_tag(node);
    int type = tu_node_type(node);
    const json_t *val = json_object_get(node, "value");
    int rc = EW_OK;
    switch (type) {
    case EW_RSCP_TYPE_NONE:
        rc = ew_rscp_builder_add_none(b, tag);
        break;
    case EW_RSCP_TYPE_BOOL:
        rc = ew_rscp_builder_add_bool(b, tag, json_is_true(val));
        break;
    case EW_RSCP_TYPE_CHAR8:
        rc = ew_rscp_builder_add_char8(b, tag, (int8_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_UCHAR8:
        rc = ew_rscp_builder_add_uchar8(b, tag, (uint8_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_INT16:
        rc = ew_rscp_builder_add_int16(b, tag, (int16_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_UINT16:
        rc = ew_rscp_builder_add_uint16(b, tag, (uint16_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_INT32:
        rc = ew_rscp_builder_add_int32(b, tag, (int32_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_UINT32:
        rc = ew_rscp_builder_add_uint32(b, tag, (uint32_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_INT64:
        rc = ew_rscp_builder_add_int64(b, tag, (int64_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_UINT64:
        rc = ew_rscp_builder_add_uint64(b, tag, (uint64_t)json_integer_value(val));
        break;
    case EW_RSCP_TYPE_FLOAT32:
        rc = ew_rscp_builder_add_float32(b, tag, (float)json_number_value(val));
        break;
    case EW_RSCP_TYPE_DOUBLE64:
        rc = ew_rscp_builder_add_double64(b, tag, json_number_value(val));
        break;
    case EW_RSCP_TYPE_BITFIELD:
    case EW_RSCP_TYPE_BYTEARRAY: {
        size_t n;
        uint8_t *bytes = tu_unhex(json_string_value(val), &n);
        rc = type == EW_RSCP_TYPE_BITFIELD ? ew_rscp_builder_add_bitfield(b, tag, bytes, n)
                                           : ew_rscp_builder_add_bytes(b, tag, bytes, n);
        free(bytes);
        break;
    }
    case EW_RSCP_TYPE_CSTRING:
        rc = ew_rscp_builder_add_cstring(b, tag, json_string_value(val), json_string_length(val));
        break;
    case EW_RSCP_TYPE_CONTAINER: {
        rc = ew_rscp_builder_open(b, tag);
        assert_int_equal(rc, EW_OK);
        size_t i;
        const json_t *child;
        json_array_foreach(val, i, child) tu_build_node(b, child);
        rc = ew_rscp_builder_close(b);
        break;
    }
    case EW_RSCP_TYPE_TIMESTAMP: {
        ew_rscp_timestamp ts = {tu_int(val, "seconds"), (uint32_t)tu_int(val, "nanoseconds")};
        rc = ew_rscp_builder_add_timestamp(b, tag, ts);
        break;
    }
    case EW_RSCP_TYPE_ERROR:
        rc = ew_rscp_builder_add_error(b, tag, (uint32_t)json_integer_value(val));
        break;
    default:
        fail_msg("type %d not handled", type);
    }
    assert_int_equal(rc, EW_OK);
}

static void *fm_malloc(size_t n, void *user) {
    tu_failmem *f = user;
    if (++f->count == f->fail_at)
        return NULL;
    f->live++;
    return malloc(n);
}

static void *fm_realloc(void *p, size_t n, void *user) {
    tu_failmem *f = user;
    if (++f->count == f->fail_at)
        return NULL;
    if (!p)
        f->live++;
    return realloc(p, n);
}

static void fm_free(void *p, void *user) {
    tu_failmem *f = user;
    if (p)
        f->live--;
    free(p);
}

void tu_failmem_init(tu_failmem *f, long fail_at) {
    f->mem.malloc_fn = fm_malloc;
    f->mem.realloc_fn = fm_realloc;
    f->mem.free_fn = fm_free;
    f->mem.user = f;
    f->count = f->live = 0;
    f->fail_at = fail_at;
}

uint8_t *tu_frame_area(const char *id, size_t *len) {
    json_t *root = tu_load_json("rscp/frames_plain.json");
    size_t idx;
    const json_t *f;
    uint8_t *area = NULL;
    json_array_foreach(json_object_get(root, "frames"), idx, f) {
        if (strcmp(tu_str(f, "id"), id) != 0)
            continue;
        size_t n = 0;
        uint8_t *fr = tu_unhex(tu_str(json_object_get(f, "with_crc"), "frame_hex"), &n);
        ew_rscp_frame hdr;
        ew_diag d = {0};
        assert_int_equal(ew_rscp_frame_decode(fr, n, &hdr, EW_RSCP_DECODE_VALIDATE, &d), (int)n);
        area = malloc(hdr.data_len ? hdr.data_len : 1);
        assert_non_null(area);
        memcpy(area, hdr.data, hdr.data_len);
        *len = hdr.data_len;
        free(fr);
    }
    json_decref(root);
    if (!area)
        fail_msg("no frame %s", id);
    return area;
}
