/*
 * RSCP frames: decoding the frames of frames_plain.json and auth.json (whole,
 * byte by byte and split at every point through an accumulate-and-decode
 * loop), rebuilding them with the builder in frame mode and the request
 * helpers, the authentication answer, CRC32, and every kind of bad input.
 */
#include "testutil.h"

#include <energywire/rscp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static uint8_t *copy_of(const uint8_t *p, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Checks the next values of |it| against the vector messages |msgs|. */
static void check_level(ew_rscp_iter *it, const json_t *msgs) {
    size_t i;
    const json_t *node;
    json_array_foreach(msgs, i, node) {
        ew_rscp_value v;
        ew_diag d = {0};
        assert_int_equal(ew_rscp_iter_next(it, &v, &d), 1);
        int type = tu_node_type(node);
        const json_t *val = json_object_get(node, "value");
        assert_int_equal(v.tag, tu_node_tag(node));
        assert_int_equal(v.type, type);
        assert_int_equal(v.flags, 0);
        int64_t iv;
        double dv;
        ew_bytes by;
        ew_rscp_timestamp ts;
        uint32_t code;
        switch (type) {
        case EW_RSCP_TYPE_NONE:
            assert_int_equal(v.len, 0);
            break;
        case EW_RSCP_TYPE_BOOL:
        case EW_RSCP_TYPE_CHAR8:
        case EW_RSCP_TYPE_UCHAR8:
        case EW_RSCP_TYPE_INT16:
        case EW_RSCP_TYPE_UINT16:
        case EW_RSCP_TYPE_INT32:
        case EW_RSCP_TYPE_UINT32:
        case EW_RSCP_TYPE_INT64:
        case EW_RSCP_TYPE_UINT64:
            assert_int_equal(ew_rscp_value_get_i64(&v, &iv), EW_OK);
            if (json_is_boolean(val))
                assert_true(iv == json_is_true(val));
            else
                assert_true(iv == json_integer_value(val));
            break;
        case EW_RSCP_TYPE_FLOAT32:
        case EW_RSCP_TYPE_DOUBLE64:
            assert_int_equal(ew_rscp_value_get_double(&v, &dv), EW_OK);
            assert_true(dv == json_number_value(val));
            break;
        case EW_RSCP_TYPE_CSTRING:
            assert_int_equal(ew_rscp_value_get_bytes(&v, &by), EW_OK);
            assert_int_equal(by.len, json_string_length(val));
            assert_memory_equal(by.ptr, json_string_value(val), by.len);
            break;
        case EW_RSCP_TYPE_TIMESTAMP:
            assert_int_equal(ew_rscp_value_get_timestamp(&v, &ts), EW_OK);
            assert_true(ts.seconds == tu_int(val, "seconds"));
            assert_int_equal(ts.nanoseconds, tu_int(val, "nanoseconds"));
            break;
        case EW_RSCP_TYPE_ERROR:
            assert_int_equal(ew_rscp_value_get_error(&v, &code), EW_OK);
            assert_int_equal(code, json_integer_value(val));
            break;
        case EW_RSCP_TYPE_CONTAINER: {
            ew_rscp_iter child;
            assert_int_equal(ew_rscp_iter_enter(it, &v, &child, &d), EW_OK);
            check_level(&child, val);
            ew_rscp_value end;
            assert_int_equal(ew_rscp_iter_next(&child, &end, &d), 0);
            break;
        }
        default:
            fail_msg("type %d not expected", type);
        }
    }
}

/* ---- accumulate-and-decode driver -------------------------------------- */

typedef struct frame_ctx {
    size_t nframes;
    size_t lens[64];
    unsigned flags;
} frame_ctx;

static void log_frame(tu_log *log, const ew_rscp_frame *f, int rc) {
    char *data = tu_hex(f->data, f->data_len);
    tu_logf(log,
            "frame len=%d ctrl=%04x crc?%d ts=%" PRId64 ".%09" PRIu32 " data=%s crc=%08" PRIx32 ";",
            rc, f->ctrl, f->has_crc, f->ts.seconds, f->ts.nanoseconds, data,
            f->has_crc ? f->crc : 0u);
    free(data);
}

/* Appends each chunk to an accumulator and decodes as many frames as the
 * accumulated bytes hold.  Each decode sees an exactly sized copy of the
 * pending bytes (so ASan catches over-reads).  Until a frame is complete the
 * decoder must say EW_ERR_NEED_MORE, with frame_len known once the header is
 * in. */
static char *frame_run(void *vctx, const uint8_t *in, size_t len, const size_t *chunks,
                       size_t nchunks) {
    const frame_ctx *ctx = vctx;
    uint8_t *acc = malloc(len ? len : 1);
    assert_non_null(acc);
    size_t have = 0, pos = 0, k = 0;
    tu_log log = {0};
    for (size_t c = 0; c < nchunks; c++) {
        memcpy(acc + have, in + have, chunks[c]);
        have += chunks[c];
        while (pos < have) {
            size_t avail = have - pos;
            uint8_t *win = copy_of(acc + pos, avail);
            ew_rscp_frame f;
            ew_diag d = {0};
            int rc = ew_rscp_frame_decode(win, avail, &f, ctx->flags, &d);
            assert_true(k < ctx->nframes);
            if (rc == EW_ERR_NEED_MORE) {
                assert_true(avail < ctx->lens[k]);
                assert_int_equal(f.frame_len, avail < EW_RSCP_HEADER_LEN ? 0 : ctx->lens[k]);
                free(win);
                break;
            }
            if (rc < 0)
                fail_msg("frame %zu: %s at %zu (%s)", k, ew_errname(rc), d.offset, d.what);
            assert_int_equal(rc, ctx->lens[k]);
            assert_int_equal(f.frame_len, ctx->lens[k]);
            assert_ptr_equal(f.data, win + EW_RSCP_HEADER_LEN);
            log_frame(&log, &f, rc);
            free(win);
            pos += (size_t)rc;
            k++;
        }
    }
    assert_int_equal(k, ctx->nframes);
    assert_int_equal(pos, len);
    free(acc);
    return tu_log_take(&log);
}

/* The log line frame_run must produce for a frame described in a vector
 * ("with_crc"/"without_crc" objects and the easy-rscp frames). */
static void expected_line(tu_log *log, const json_t *fr, int has_crc) {
    const char *ctrl = tu_str(fr, "ctrl_hex");
    uint8_t c[2];
    assert_int_equal(ew_hex_decode(ctrl, strlen(ctrl), c, 2), 2);
    tu_logf(log, "frame len=%lld ctrl=%04x crc?%d ts=%lld.%09lld data=%s crc=%08" PRIx32 ";",
            tu_int(fr, "length"), c[0] | c[1] << 8, has_crc, tu_int(fr, "timestamp_seconds"),
            tu_int(fr, "timestamp_nanoseconds"), tu_str(fr, "data_hex"),
            has_crc ? tu_hex32(tu_str(fr, "crc_value")) : 0u);
}

/* Checks a decoded frame against a vector frame object. */
static void check_frame_fields(const uint8_t *buf, const ew_rscp_frame *f, const json_t *fr,
                               int has_crc) {
    const char *ctrl = tu_str(fr, "ctrl_hex");
    uint8_t c[2];
    assert_int_equal(ew_hex_decode(ctrl, strlen(ctrl), c, 2), 2);
    assert_int_equal(f->ctrl, c[0] | c[1] << 8);
    assert_int_equal(f->has_crc, has_crc);
    assert_true(f->ts.seconds == tu_int(fr, "timestamp_seconds"));
    assert_int_equal(f->ts.nanoseconds, tu_int(fr, "timestamp_nanoseconds"));
    assert_int_equal(f->data_len, tu_int(fr, "data_length"));
    assert_ptr_equal(f->data, buf + EW_RSCP_HEADER_LEN);
    char *data = tu_hex(f->data, f->data_len);
    assert_string_equal(data, tu_str(fr, "data_hex"));
    free(data);
    assert_int_equal(f->frame_len, tu_int(fr, "length"));
    if (has_crc) {
        uint32_t crc = tu_hex32(tu_str(fr, "crc_value"));
        assert_int_equal(f->crc, crc);
        assert_int_equal(ew_rscp_crc32(0, buf, EW_RSCP_HEADER_LEN + f->data_len), crc);
        size_t n;
        uint8_t *crcb = tu_unhex(tu_str(fr, "crc_hex"), &n);
        assert_int_equal(n, 4);
        assert_memory_equal(buf + EW_RSCP_HEADER_LEN + f->data_len, crcb, 4);
        free(crcb);
    }
}

/* Builds a frame from |msgs| for every buffer size 0..len+4: NOBUF with the
 * needed size below |len|, identical bytes from |len| on. */
static void rebuild_frame(const json_t *msgs, ew_rscp_timestamp ts, int with_crc,
                          const uint8_t *want, size_t len) {
    for (size_t cap = 0; cap <= len + 4; cap++) {
        uint8_t *buf = malloc(cap ? cap : 1);
        assert_non_null(buf);
        ew_rscp_builder b;
        ew_rscp_builder_init_frame(&b, cap ? buf : NULL, cap);
        size_t i;
        const json_t *m;
        json_array_foreach(msgs, i, m) tu_build_node(&b, m);
        size_t written = 0;
        int rc = ew_rscp_builder_finish_frame(&b, ts, with_crc, &written);
        assert_int_equal(written, len);
        if (cap < len) {
            assert_int_equal(rc, EW_ERR_NOBUF);
        } else {
            assert_int_equal(rc, EW_OK);
            assert_memory_equal(buf, want, len);
        }
        free(buf);
    }
}

/* ---- frames_plain.json ------------------------------------------------- */

static void test_frames_plain(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_plain.json");
    const json_t *frames = json_object_get(root, "frames");
    assert_int_equal(json_array_size(frames), 14);
    const json_t *tsj = json_object_get(root, "timestamp_used");
    ew_rscp_timestamp ts = {tu_int(tsj, "seconds"), (uint32_t)tu_int(tsj, "nanoseconds")};
    static const char *const variants[2] = {"without_crc", "with_crc"};

    /* Every frame back to back, as one input. */
    uint8_t *all = malloc(65536);
    assert_non_null(all);
    size_t alln = 0;
    frame_ctx all_ctx = {0};
    tu_log all_want = {0};

    size_t idx;
    const json_t *fj;
    json_array_foreach(frames, idx, fj) {
        const json_t *msgs = json_object_get(fj, "messages");
        for (int crc = 0; crc <= 1; crc++) {
            const json_t *fr = json_object_get(fj, variants[crc]);
            assert_non_null(fr);
            size_t n;
            uint8_t *buf = tu_unhex(tu_str(fr, "frame_hex"), &n);
            assert_int_equal(n, tu_int(fr, "length"));

            /* Decode with every flag combination: same result. */
            static const unsigned flag_sets[] = {
                0, EW_RSCP_DECODE_STRICT, EW_RSCP_DECODE_FINAL, EW_RSCP_DECODE_VALIDATE,
                EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_FINAL | EW_RSCP_DECODE_VALIDATE};
            for (size_t fl = 0; fl < sizeof flag_sets / sizeof flag_sets[0]; fl++) {
                ew_rscp_frame f;
                ew_diag d = {0};
                assert_int_equal(ew_rscp_frame_decode(buf, n, &f, flag_sets[fl], &d), (int)n);
                check_frame_fields(buf, &f, fr, crc);
                ew_rscp_iter it;
                ew_rscp_iter_init(&it, f.data, f.data_len, 0);
                check_level(&it, msgs);
                ew_rscp_value v;
                assert_int_equal(ew_rscp_iter_next(&it, &v, &d), 0);
            }
            if (crc)
                assert_int_equal(ew_rscp_crc32(0, buf, n - 4),
                                 tu_hex32(tu_str(fj, "zlib_crc32_of_header_and_data")));

            /* Whole, byte by byte, split everywhere. */
            frame_ctx ctx = {1, {n}, 0};
            tu_log want = {0};
            expected_line(&want, fr, crc);
            char *want_s = tu_log_take(&want);
            char *got = tu_check_splits(&ctx, buf, n, frame_run);
            assert_string_equal(got, want_s);
            print_message("%-24s %-11s %s\n", tu_str(fj, "id"), variants[crc], got);
            free(got);
            free(want_s);

            /* Rebuild from the messages (builder in frame mode). */
            rebuild_frame(msgs, ts, crc, buf, n);
            /* And with ew_rscp_frame_encode around the value area. */
            uint8_t *out = malloc(n);
            assert_non_null(out);
            size_t needed = 0;
            uint16_t dl = (uint16_t)tu_int(fr, "data_length");
            assert_int_equal(ew_rscp_frame_encode(out, n, buf + 18, dl, ts, crc, &needed), (int)n);
            assert_int_equal(needed, n);
            assert_memory_equal(out, buf, n);
            needed = 0;
            assert_int_equal(ew_rscp_frame_encode(out, n - 1, buf + 18, dl, ts, crc, &needed),
                             EW_ERR_NOBUF);
            assert_int_equal(needed, n);
            free(out);

            assert_true(alln + n <= 65536);
            memcpy(all + alln, buf, n);
            alln += n;
            all_ctx.lens[all_ctx.nframes++] = n;
            expected_line(&all_want, fr, crc);
            free(buf);
        }
    }
    char *want_s = tu_log_take(&all_want);
    char *got = tu_check_splits(&all_ctx, all, alln, frame_run);
    assert_string_equal(got, want_s);
    free(got);
    free(want_s);
    free(all);
    json_decref(root);
}

/* ---- auth.json --------------------------------------------------------- */

static void test_auth(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/auth.json");
    ew_rscp_timestamp ts = {1700000000, 0};
    ew_diag d = {0};
    ew_rscp_frame f;

    /* The request, from the helper. */
    size_t n;
    uint8_t *want = tu_unhex(tu_str(root, "request_frame_hex"), &n);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    ew_rscp_builder b;
    ew_rscp_builder_init_frame(&b, buf, n);
    assert_int_equal(ew_rscp_req_auth(&b, tu_str(root, "user"), tu_str(root, "password")), EW_OK);
    size_t w = 0;
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &w), EW_OK);
    assert_int_equal(w, n);
    assert_memory_equal(buf, want, n);
    free(buf);
    free(want);

    /* Success: level 10. */
    want = tu_unhex(tu_str(root, "response_ok_frame_hex"), &n);
    assert_int_equal(ew_rscp_frame_decode(want, n, &f, EW_RSCP_DECODE_VALIDATE, &d), (int)n);
    assert_int_equal(ew_rscp_auth_level(f.data, f.data_len, &d), 10);
    free(want);
    /* Failure: Int32 0. */
    want = tu_unhex(tu_str(root, "response_fail_frame_hex"), &n);
    assert_int_equal(ew_rscp_frame_decode(want, n, &f, EW_RSCP_DECODE_VALIDATE, &d), (int)n);
    assert_int_equal(f.data[4], EW_RSCP_TYPE_INT32);
    d.code = 0;
    d.offset = 99;
    assert_int_equal(ew_rscp_auth_level(f.data, f.data_len, &d), EW_ERR_AUTH);
    assert_int_equal(d.code, EW_ERR_AUTH);
    assert_int_equal(d.offset, 0);
    free(want);

    /* The frames published in easy-rscp's documentation. */
    const json_t *pub =
        json_object_get(json_object_get(root, "published_frames_easy_rscp_docs"), "frames");
    assert_int_equal(json_array_size(pub), 5);
    size_t idx;
    const json_t *fr;
    json_array_foreach(pub, idx, fr) {
        const char *id = tu_str(fr, "id");
        want = tu_unhex(tu_str(fr, "frame_hex"), &n);
        assert_int_equal(n, 18 + tu_int(fr, "data_length") + 4);
        assert_string_equal(tu_str(fr, "crc_check_zlib"), "ok");
        assert_int_equal(ew_rscp_frame_decode(want, n, &f,
                                              EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_VALIDATE |
                                                  EW_RSCP_DECODE_FINAL,
                                              &d),
                         (int)n);
        /* has "length" only implicitly: check_frame_fields wants it. */
        json_t *copy = json_deep_copy(fr);
        json_object_set_new(copy, "length", json_integer((json_int_t)n));
        check_frame_fields(want, &f, copy, 1);

        frame_ctx ctx = {1, {n}, 0};
        tu_log wl = {0};
        expected_line(&wl, copy, 1);
        char *want_s = tu_log_take(&wl);
        char *got = tu_check_splits(&ctx, want, n, frame_run);
        assert_string_equal(got, want_s);
        free(got);
        free(want_s);
        json_decref(copy);

        ew_rscp_timestamp fts = {tu_int(fr, "timestamp_seconds"),
                                 (uint32_t)tu_int(fr, "timestamp_nanoseconds")};
        uint8_t *out = malloc(n);
        assert_non_null(out);
        if (strcmp(id, "auth_request_TEST_123") == 0) {
            ew_rscp_builder_init_frame(&b, out, n);
            assert_int_equal(ew_rscp_req_auth(&b, "TEST", "123"), EW_OK);
            assert_int_equal(ew_rscp_builder_finish_frame(&b, fts, 1, &w), EW_OK);
            assert_int_equal(w, n);
            assert_memory_equal(out, want, n);
        } else if (strcmp(id, "auth_response_ok_level10") == 0) {
            assert_int_equal(ew_rscp_auth_level(f.data, f.data_len, &d), 10);
        } else if (strcmp(id, "auth_response_failed_int32") == 0) {
            assert_int_equal(ew_rscp_auth_level(f.data, f.data_len, &d), EW_ERR_AUTH);
            assert_int_equal(d.code, EW_ERR_AUTH);
        } else if (strcmp(id, "poll_pv_bat_request") == 0) {
            static const uint32_t tags[] = {0x01000001, 0x01000002};
            ew_rscp_builder_init_frame(&b, out, n);
            assert_int_equal(ew_rscp_req_tags(&b, tags, 2), EW_OK);
            assert_int_equal(ew_rscp_builder_finish_frame(&b, fts, 1, &w), EW_OK);
            assert_int_equal(w, n);
            assert_memory_equal(out, want, n);
        } else if (strcmp(id, "poll_pv_bat_response") == 0) {
            ew_rscp_iter it;
            ew_rscp_value v;
            int64_t iv;
            ew_rscp_iter_init(&it, f.data, f.data_len, 0);
            assert_int_equal(ew_rscp_iter_next(&it, &v, &d), 1);
            assert_int_equal(v.tag, 0x01800001);
            assert_int_equal(ew_rscp_value_get_i64(&v, &iv), EW_OK);
            assert_true(iv == 4687);
            assert_int_equal(ew_rscp_iter_next(&it, &v, &d), 1);
            assert_int_equal(v.tag, 0x01800002);
            assert_int_equal(ew_rscp_value_get_i64(&v, &iv), EW_OK);
            assert_true(iv == 2139);
            assert_int_equal(ew_rscp_iter_next(&it, &v, &d), 0);
            /* Not an authentication answer. */
            assert_int_equal(ew_rscp_auth_level(f.data, f.data_len, &d), EW_ERR_PROTO);
        } else {
            fail_msg("unexpected published frame %s", id);
        }
        free(out);
        free(want);
    }
    json_decref(root);
}

static void test_auth_level_cases(void **state) {
    (void)state;
    ew_diag d = {0};
    /* UChar8 levels. */
    static const uint8_t l20[] = {0x01, 0x00, 0x80, 0x00, 0x03, 0x01, 0x00, 20};
    assert_int_equal(ew_rscp_auth_level(l20, sizeof l20, &d), 20);
    static const uint8_t l0[] = {0x01, 0x00, 0x80, 0x00, 0x03, 0x01, 0x00, 0};
    assert_int_equal(ew_rscp_auth_level(l0, sizeof l0, &d), EW_ERR_AUTH);
    /* An Int32 level that is not 0 is accepted. */
    static const uint8_t i10[] = {0x01, 0x00, 0x80, 0x00, 0x06, 0x04, 0x00, 10, 0, 0, 0};
    assert_int_equal(ew_rscp_auth_level(i10, sizeof i10, &d), 10);
    /* Negative and out-of-range levels. */
    static const uint8_t ineg[] = {0x01, 0x00, 0x80, 0x00, 0x06, 0x04,
                                   0x00, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(ew_rscp_auth_level(ineg, sizeof ineg, &d), EW_ERR_AUTH);
    static const uint8_t i300[] = {0x01, 0x00, 0x80, 0x00, 0x06, 0x04, 0x00, 0x2c, 0x01, 0, 0};
    assert_int_equal(ew_rscp_auth_level(i300, sizeof i300, &d), EW_ERR_PROTO);
    /* Empty answer, another tag, a non-integer. */
    assert_int_equal(ew_rscp_auth_level(l20, 0, &d), EW_ERR_PROTO);
    static const uint8_t other[] = {0x01, 0x00, 0x80, 0x01, 0x06, 0x04, 0x00, 1, 0, 0, 0};
    assert_int_equal(ew_rscp_auth_level(other, sizeof other, &d), EW_ERR_PROTO);
    assert_int_equal(d.code, EW_ERR_PROTO);
    assert_int_equal(d.offset, 0);
    static const uint8_t str[] = {0x01, 0x00, 0x80, 0x00, 0x0d, 0x01, 0x00, '1'};
    assert_int_equal(ew_rscp_auth_level(str, sizeof str, &d), EW_ERR_PROTO);
    /* An Error value under another tag (here the request tag). */
    static const uint8_t err_req[] = {0x01, 0x00, 0x00, 0x00, 0xff, 0x04, 0x00, 2, 0, 0, 0};
    assert_int_equal(ew_rscp_auth_level(err_req, sizeof err_req, &d), EW_ERR_AUTH);
    assert_int_equal(d.code, EW_ERR_AUTH);
    /* A cut value: the decode error. */
    assert_int_equal(ew_rscp_auth_level(l20, sizeof l20 - 1, &d), EW_ERR_OVERRUN);
    assert_int_equal(d.offset, 0);
}

/*
 * Devices put an error "as the top-level answer in place of the normal
 * response value, with the response tag and type Error" (rscp.md §6), so a
 * refused login can arrive as RSCP_AUTHENTICATION (0x00800001) typed Error,
 * e.g. code 2 RSCP_ERR_ACCESS_DENIED.  That is a failed authentication
 * (EW_ERR_AUTH), just like an Error under any other tag already is.
 */
static void test_auth_level_error_answer(void **state) {
    (void)state;
    static const uint8_t err[] = {0x01, 0x00, 0x80, 0x00, 0xff, 0x04, 0x00, 2, 0, 0, 0};
    ew_diag d = {0, 99, NULL};
    assert_int_equal(ew_rscp_auth_level(err, sizeof err, &d), EW_ERR_AUTH);
    assert_int_equal(d.code, EW_ERR_AUTH);
    assert_int_equal(d.offset, 0);
}

/* ---- bad input --------------------------------------------------------- */

/* A valid frame with CRC: the poll answer of frames_plain.json. */
static uint8_t *poll_answer(size_t *n) {
    return tu_unhex("e3dc001100f15365000000000000000073000f00800a0f0c0000f153650000000000000000"
                    "080080010301004d010080010604004f120000050080010604000000000002008001060400"
                    "5b08000003008001060400640200000400800106040070f8ffff1f00800106040000000000"
                    "070080010a040000006b42060080010a04000000c8425a568d4e",
                    n);
}

static void test_bad_magic_version(void **state) {
    (void)state;
    size_t n;
    uint8_t *good = poll_answer(&n);
    ew_rscp_frame f;
    ew_diag d;

    for (int pos = 0; pos < 2; pos++)
        for (int val = 0; val < 256; val++) {
            if (val == good[pos])
                continue;
            uint8_t *buf = copy_of(good, n);
            buf[pos] = (uint8_t)val;
            /* Whole frame and every prefix that reaches the bad byte. */
            for (size_t len = (size_t)pos + 1; len <= n; len += (len < 20 ? 1 : 37)) {
                uint8_t *pre = copy_of(buf, len);
                d = (ew_diag){0, 99, NULL};
                assert_int_equal(ew_rscp_frame_decode(pre, len, &f, 0, &d), EW_ERR_BAD_MAGIC);
                assert_int_equal(d.code, EW_ERR_BAD_MAGIC);
                assert_int_equal(d.offset, 0);
                assert_int_equal(ew_rscp_frame_decode(pre, len, &f, EW_RSCP_DECODE_FINAL, &d),
                                 EW_ERR_BAD_MAGIC);
                free(pre);
            }
            free(buf);
        }
    /* "E3" alone: not yet wrong. */
    assert_int_equal(ew_rscp_frame_decode(good, 1, &f, 0, &d), EW_ERR_NEED_MORE);
    assert_int_equal(ew_rscp_frame_decode(good, 0, &f, 0, &d), EW_ERR_NEED_MORE);

    /* Every version other than 1 (low nibble of byte 3), with and without
     * the CRC bit. */
    for (int ver = 0; ver < 16; ver++)
        for (int crcbit = 0; crcbit <= 1; crcbit++) {
            uint8_t *buf = copy_of(good, n);
            buf[3] = (uint8_t)(ver | (crcbit ? 0x10 : 0));
            int rc = ew_rscp_frame_decode(buf, n, &f, 0, &d);
            if (ver == 1) {
                assert_true(rc > 0);
            } else {
                assert_int_equal(rc, EW_ERR_BAD_VERSION);
                assert_int_equal(d.code, EW_ERR_BAD_VERSION);
                assert_int_equal(d.offset, 2);
                assert_int_equal(ew_rscp_frame_decode(buf, n, &f, EW_RSCP_DECODE_STRICT, &d),
                                 EW_ERR_BAD_VERSION);
                assert_int_equal(d.offset, 2);
            }
            free(buf);
        }
    free(good);
}

static void test_reserved_bits(void **state) {
    (void)state;
    size_t n;
    uint8_t *good = poll_answer(&n);
    ew_rscp_frame f;
    ew_diag d;
    size_t at = n - 4;
    for (int bit = 0; bit < 16; bit++) {
        uint16_t mask = (uint16_t)(1u << bit);
        if (mask & (EW_RSCP_CTRL_VERSION_MASK | EW_RSCP_CTRL_CRC))
            continue;
        uint8_t *buf = copy_of(good, n);
        uint16_t ctrl = (uint16_t)(0x1100 | mask);
        buf[2] = (uint8_t)ctrl;
        buf[3] = (uint8_t)(ctrl >> 8);
        wr32(buf + at, ew_rscp_crc32(0, buf, at));
        /* Tolerant by default: the bit is reported, the frame decodes. */
        assert_int_equal(ew_rscp_frame_decode(buf, n, &f, 0, &d), (int)n);
        assert_int_equal(f.ctrl, ctrl);
        assert_int_equal(f.has_crc, 1);
        assert_int_equal(f.data_len, n - 22);
        /* Strict: refused at the control field. */
        d = (ew_diag){0, 99, NULL};
        assert_int_equal(ew_rscp_frame_decode(buf, n, &f, EW_RSCP_DECODE_STRICT, &d),
                         EW_ERR_BAD_FIELD);
        assert_int_equal(d.code, EW_ERR_BAD_FIELD);
        assert_int_equal(d.offset, 2);
        free(buf);
    }
    free(good);
}

/* Flips every bit of a frame with CRC and checks which error each flip gives. */
static void flip_every_bit(const uint8_t *good, size_t n) {
    ew_rscp_frame f;
    ew_diag d;
    size_t L = (size_t)(good[16] | good[17] << 8);
    assert_int_equal(n, 18 + L + 4);
    int counts[4] = {0};
    for (size_t bit = 0; bit < n * 8; bit++) {
        uint8_t *buf = copy_of(good, n);
        size_t byte = bit / 8;
        buf[byte] ^= (uint8_t)(1u << (bit % 8));
        d = (ew_diag){0, 9999, NULL};
        int rc = ew_rscp_frame_decode(buf, n, &f, 0, &d);
        ew_diag d2 = {0, 9999, NULL};
        int rc_final = ew_rscp_frame_decode(buf, n, &f, EW_RSCP_DECODE_FINAL, &d2);
        if (byte < 2) {
            assert_int_equal(rc, EW_ERR_BAD_MAGIC);
            assert_int_equal(d.offset, 0);
            counts[0]++;
        } else if (byte == 3 && (bit % 8) < 4) {
            assert_int_equal(rc, EW_ERR_BAD_VERSION);
            assert_int_equal(d.offset, 2);
            counts[1]++;
        } else if (byte == 3 && (bit % 8) == 4) {
            /* The CRC flag: the frame now ends before the CRC bytes and
             * carries no CRC, so nothing is left to detect the flip. */
            assert_int_equal(rc, (int)(n - 4));
            assert_int_equal(f.has_crc, 0);
            assert_int_equal(f.data_len, L);
            assert_int_equal(rc_final, (int)(n - 4));
        } else if (byte == 16 || byte == 17) {
            size_t L2 = (size_t)(buf[16] | buf[17] << 8);
            if (18 + L2 + 4 > n) {
                assert_int_equal(rc, EW_ERR_NEED_MORE);
                assert_int_equal(f.frame_len, 18 + L2 + 4);
                assert_int_equal(rc_final, EW_ERR_TRUNCATED);
                assert_int_equal(d2.offset, n);
                counts[2]++;
            } else {
                assert_int_equal(rc, EW_ERR_CRC);
                assert_int_equal(d.offset, 18 + L2);
                counts[3]++;
            }
        } else {
            assert_int_equal(rc, EW_ERR_CRC);
            assert_int_equal(d.code, EW_ERR_CRC);
            assert_int_equal(d.offset, 18 + L);
            assert_int_equal(rc_final, EW_ERR_CRC);
            counts[3]++;
        }
        free(buf);
    }
    assert_int_equal(counts[0], 16);
    assert_int_equal(counts[1], 4);
    assert_true(counts[2] >= 1);
    assert_true(counts[3] >= (int)(n * 8 - 40));
}

static void test_crc_bit_flips(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_plain.json");
    size_t idx;
    const json_t *fj;
    int frames = 0;
    json_array_foreach(json_object_get(root, "frames"), idx, fj) {
        size_t n;
        uint8_t *buf = tu_unhex(tu_str(json_object_get(fj, "with_crc"), "frame_hex"), &n);
        flip_every_bit(buf, n);
        free(buf);
        frames++;
    }
    json_decref(root);
    root = tu_load_json("rscp/auth.json");
    json_array_foreach(
        json_object_get(json_object_get(root, "published_frames_easy_rscp_docs"), "frames"), idx,
        fj) {
        size_t n;
        uint8_t *buf = tu_unhex(tu_str(fj, "frame_hex"), &n);
        flip_every_bit(buf, n);
        free(buf);
        frames++;
    }
    json_decref(root);
    assert_int_equal(frames, 19);
}

static void test_truncated(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_plain.json");
    size_t idx;
    const json_t *fj;
    static const char *const variants[2] = {"without_crc", "with_crc"};
    json_array_foreach(json_object_get(root, "frames"), idx, fj) {
        for (int crc = 0; crc <= 1; crc++) {
            size_t n;
            uint8_t *buf = tu_unhex(tu_str(json_object_get(fj, variants[crc]), "frame_hex"), &n);
            for (size_t len = 0; len < n; len++) {
                uint8_t *pre = copy_of(buf, len);
                ew_rscp_frame f;
                ew_diag d = {0, 9999, NULL};
                assert_int_equal(ew_rscp_frame_decode(pre, len, &f, EW_RSCP_DECODE_FINAL, &d),
                                 EW_ERR_TRUNCATED);
                assert_int_equal(d.code, EW_ERR_TRUNCATED);
                assert_int_equal(d.offset, len);
                assert_non_null(d.what);
                assert_int_equal(f.frame_len, len < 18 ? 0 : n);
                assert_int_equal(ew_rscp_frame_decode(pre, len, &f, 0, &d), EW_ERR_NEED_MORE);
                assert_int_equal(f.frame_len, len < 18 ? 0 : n);
                free(pre);
            }
            /* Extra bytes after the frame are not consumed. */
            uint8_t *longer = malloc(n + 5);
            assert_non_null(longer);
            memcpy(longer, buf, n);
            memset(longer + n, 0xE3, 5);
            ew_rscp_frame f;
            assert_int_equal(ew_rscp_frame_decode(longer, n + 5, &f, EW_RSCP_DECODE_FINAL, NULL),
                             (int)n);
            free(longer);
            free(buf);
        }
    }
    json_decref(root);
}

/* Wraps |data| into a frame with CRC (exactly sized buffer). */
static uint8_t *make_frame(const uint8_t *data, size_t len, int with_crc, size_t *n) {
    ew_rscp_timestamp ts = {1700000000, 0};
    size_t need = 0;
    assert_int_equal(ew_rscp_frame_encode(NULL, 0, data, len, ts, with_crc, &need), EW_ERR_NOBUF);
    uint8_t *out = malloc(need);
    assert_non_null(out);
    assert_int_equal(ew_rscp_frame_encode(out, need, data, len, ts, with_crc, NULL), (int)need);
    *n = need;
    return out;
}

static void test_validate_flag(void **state) {
    (void)state;
    /* BAT_DATA{ Float32 header claiming 4 bytes with 2 inside the container },
     * then a sibling. */
    static const uint8_t overrun[] = {
        0x00, 0x00, 0x84, 0x03, 0x0e, 0x09, 0x00,             /* container, 9 bytes */
        0x01, 0x00, 0x80, 0x03, 0x0a, 0x04, 0x00, 0x00, 0x00, /* Float32, 2 of 4 */
        0x0d, 0x00, 0x80, 0x03, 0x03, 0x01, 0x00, 0x01};      /* UChar8 sibling */
    for (int crc = 0; crc <= 1; crc++) {
        size_t n;
        uint8_t *fr = make_frame(overrun, sizeof overrun, crc, &n);
        ew_rscp_frame f;
        ew_diag d = {0, 9999, NULL};
        assert_int_equal(ew_rscp_frame_decode(fr, n, &f, 0, &d), (int)n);
        assert_int_equal(ew_rscp_frame_decode(fr, n, &f, EW_RSCP_DECODE_VALIDATE, &d),
                         EW_ERR_OVERRUN);
        assert_int_equal(d.code, EW_ERR_OVERRUN);
        assert_int_equal(d.offset, 18 + 7);
        assert_non_null(d.what);
        free(fr);
    }
    /* Top-level value cut at the end of the area: offset of that value. */
    static const uint8_t cut[] = {0x08, 0x00, 0x80, 0x01, 0x03, 0x01, 0x00, 0x4d, 0x01,
                                  0x00, 0x80, 0x01, 0x06, 0x04, 0x00, 0x4f, 0x12};
    size_t n;
    uint8_t *fr = make_frame(cut, sizeof cut, 1, &n);
    ew_rscp_frame f;
    ew_diag d = {0, 9999, NULL};
    assert_int_equal(ew_rscp_frame_decode(fr, n, &f, EW_RSCP_DECODE_VALIDATE, &d), EW_ERR_OVERRUN);
    assert_int_equal(d.offset, 18 + 8);
    free(fr);
    /* 17 nested containers exceed the default depth of 16. */
    uint8_t nest[17 * 7];
    for (int i = 0; i < 17; i++) {
        size_t inner = 7 * (size_t)(16 - i);
        wr32(nest + 7 * i, 0x03840000);
        nest[7 * i + 4] = EW_RSCP_TYPE_CONTAINER;
        nest[7 * i + 5] = (uint8_t)inner;
        nest[7 * i + 6] = (uint8_t)(inner >> 8);
    }
    fr = make_frame(nest, sizeof nest, 1, &n);
    assert_int_equal(ew_rscp_frame_decode(fr, n, &f, 0, &d), (int)n);
    assert_int_equal(ew_rscp_frame_decode(fr, n, &f, EW_RSCP_DECODE_VALIDATE, &d), EW_ERR_DEPTH);
    assert_int_equal(d.code, EW_ERR_DEPTH);
    assert_int_equal(d.offset, 18 + 16 * 7);
    free(fr);
    fr = make_frame(nest + 7, sizeof nest - 7, 1, &n);
    assert_int_equal(ew_rscp_frame_decode(fr, n, &f, EW_RSCP_DECODE_VALIDATE, &d), (int)n);
    free(fr);
    /* An empty value area is a valid frame. */
    fr = make_frame(NULL, 0, 1, &n);
    assert_int_equal(n, 22);
    assert_int_equal(
        ew_rscp_frame_decode(fr, n, &f, EW_RSCP_DECODE_VALIDATE | EW_RSCP_DECODE_STRICT, &d), 22);
    assert_int_equal(f.data_len, 0);
    free(fr);
}

static void test_frame_encode_limits(void **state) {
    (void)state;
    ew_rscp_timestamp ts = {-62135596800, 999999999}; /* year 1, negative seconds */
    uint8_t out[64];
    size_t need = 0;
    static const uint8_t data[] = {0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
    assert_int_equal(ew_rscp_frame_encode(out, sizeof out, data, sizeof data, ts, 1, &need), 29);
    assert_int_equal(need, 29);
    ew_rscp_frame f;
    assert_int_equal(ew_rscp_frame_decode(out, 29, &f, EW_RSCP_DECODE_STRICT, NULL), 29);
    assert_true(f.ts.seconds == -62135596800);
    assert_int_equal(f.ts.nanoseconds, 999999999);
    assert_int_equal(f.ctrl, 0x1100);
    assert_int_equal(ew_rscp_frame_encode(out, sizeof out, data, sizeof data, ts, 0, &need), 25);
    assert_int_equal(ew_rscp_frame_decode(out, 25, &f, EW_RSCP_DECODE_STRICT, NULL), 25);
    assert_int_equal(f.ctrl, 0x0100);
    assert_int_equal(f.has_crc, 0);
    assert_int_equal(ew_rscp_frame_encode(out, 24, data, sizeof data, ts, 0, &need), EW_ERR_NOBUF);
    assert_int_equal(need, 25);
    uint8_t *big = calloc(1, 65536);
    assert_non_null(big);
    assert_int_equal(ew_rscp_frame_encode(NULL, 0, big, 65536, ts, 1, &need), EW_ERR_TOO_BIG);
    need = 0;
    assert_int_equal(ew_rscp_frame_encode(NULL, 0, big, 65535, ts, 1, &need), EW_ERR_NOBUF);
    assert_int_equal(need, EW_RSCP_FRAME_MAX);
    free(big);
}

/* ---- CRC32 --------------------------------------------------------------- */

static uint32_t crc_bitwise(const uint8_t *p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void test_crc32(void **state) {
    (void)state;
    static const char check[] = "123456789";
    assert_int_equal(ew_rscp_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(ew_rscp_crc32(0, "", 0), 0);
    /* Incremental: any split gives the same CRC. */
    for (size_t k = 0; k <= 9; k++)
        assert_int_equal(ew_rscp_crc32(ew_rscp_crc32(0, check, k), check + k, 9 - k), 0xCBF43926u);
    /* Against a bitwise reference for every length and alignment. */
    uint8_t buf[300];
    uint64_t seed = 42;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)tu_rand(&seed);
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= sizeof buf; len++)
            assert_int_equal(ew_rscp_crc32(0, buf + off, len), crc_bitwise(buf + off, len));
    /* The vector frames' CRCs were checked in test_frames_plain; one more
     * known value from rscp.md §2.1 (auth response, level 10). */
    static const uint8_t auth_ok[] = {0xe3, 0xdc, 0x00, 0x11, 0x00, 0xf1, 0x53, 0x65, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
                                      0x01, 0x00, 0x80, 0x00, 0x03, 0x01, 0x00, 0x0a};
    assert_int_equal(ew_rscp_crc32(0, auth_ok, sizeof auth_ok), 0xDF8C395Du);
}

/* ---- request helpers ----------------------------------------------------- */

/* Finds frame |id| of frames_plain.json and returns its with-CRC bytes. */
static uint8_t *plain_frame(const json_t *root, const char *id, size_t *n, const json_t **fj) {
    size_t idx;
    const json_t *f;
    json_array_foreach(json_object_get(root, "frames"), idx, f) {
        if (strcmp(tu_str(f, "id"), id) == 0) {
            if (fj)
                *fj = f;
            return tu_unhex(tu_str(json_object_get(f, "with_crc"), "frame_hex"), n);
        }
    }
    fail_msg("no frame %s", id);
    return NULL;
}

static void finish_and_compare(ew_rscp_builder *b, const uint8_t *want, size_t n) {
    ew_rscp_timestamp ts = {1700000000, 0};
    size_t w = 0;
    assert_int_equal(ew_rscp_builder_finish_frame(b, ts, 1, &w), EW_OK);
    assert_int_equal(w, n);
    assert_memory_equal(b->buf, want, n);
}

static void test_requests(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_plain.json");
    size_t n;
    const json_t *fj;
    ew_rscp_builder b;
    uint8_t *out;

    /* RSCP_REQ_AUTHENTICATION. */
    uint8_t *want = plain_frame(root, "auth_request", &n, NULL);
    out = malloc(n);
    assert_non_null(out);
    ew_rscp_builder_init_frame(&b, out, n);
    assert_int_equal(ew_rscp_req_auth(&b, "user@example.com", "secret-portal-password"), EW_OK);
    finish_and_compare(&b, want, n);
    /* Too small: NOBUF with the size. */
    ew_rscp_builder_init_frame(&b, out, n - 1);
    assert_int_equal(ew_rscp_req_auth(&b, "user@example.com", "secret-portal-password"), EW_OK);
    size_t w = 0;
    assert_int_equal(ew_rscp_builder_finish_frame(&b, (ew_rscp_timestamp){1700000000, 0}, 1, &w),
                     EW_ERR_NOBUF);
    assert_int_equal(w, n);
    /* NULL user or password. */
    ew_rscp_builder_init_frame(&b, out, n);
    assert_int_equal(ew_rscp_req_auth(&b, NULL, "x"), EW_ERR_INVAL);
    ew_rscp_builder_init_frame(&b, out, n);
    assert_int_equal(ew_rscp_req_auth(&b, "x", NULL), EW_ERR_INVAL);
    free(out);
    free(want);

    /* Ten None requests in one frame, and one. */
    static const char *const poll_ids[] = {"poll_request_10_tags", "poll_request_single"};
    for (int k = 0; k < 2; k++) {
        want = plain_frame(root, poll_ids[k], &n, &fj);
        uint32_t tags[16];
        size_t nt = 0;
        size_t idx;
        const json_t *m;
        json_array_foreach(json_object_get(fj, "messages"), idx, m) tags[nt++] = tu_node_tag(m);
        assert_int_equal(nt, k == 0 ? 10 : 1);
        out = malloc(n);
        assert_non_null(out);
        ew_rscp_builder_init_frame(&b, out, n);
        assert_int_equal(ew_rscp_req_tags(&b, tags, nt), EW_OK);
        finish_and_compare(&b, want, n);
        free(out);
        free(want);
    }

    /* BAT_REQ_DATA{BAT_INDEX=0, BAT_REQ_RSOC, BAT_REQ_DEVICE_STATE,
     * BAT_REQ_DCB_COUNT, BAT_REQ_DCB_INFO=0}: the helper writes the index
     * and None requests; the vector's last child is a UInt16 parameter, so
     * the full frame is built with the helper's parts, and the helper's own
     * output is compared with the vector minus that child. */
    static const uint32_t bat_tags[] = {0x03000001, 0x03060000, 0x0300000D};
    want = plain_frame(root, "bat_request_nested", &n, NULL);
    out = malloc(n);
    assert_non_null(out);
    ew_rscp_builder_init_frame(&b, out, n);
    assert_int_equal(ew_rscp_builder_open(&b, 0x03040000), EW_OK);
    assert_int_equal(ew_rscp_builder_add_int(&b, 0x03040001, 0), EW_OK);
    assert_int_equal(ew_rscp_req_tags(&b, bat_tags, 3), EW_OK);
    assert_int_equal(ew_rscp_builder_add_int(&b, 0x03000042, 0), EW_OK);
    assert_int_equal(ew_rscp_builder_close(&b), EW_OK);
    finish_and_compare(&b, want, n);
    /* The vector without the 9-byte DCB_INFO child. */
    assert_int_equal(want[18 + 5], 0x27);
    assert_int_equal(want[16], 0x2e);
    size_t n2 = n - 9;
    uint8_t *want2 = malloc(n2);
    assert_non_null(want2);
    memcpy(want2, want, 18 + 7 + 0x27 - 9);
    want2[16] = (uint8_t)(want[16] - 9);
    want2[18 + 5] = (uint8_t)(want[18 + 5] - 9);
    wr32(want2 + n2 - 4, ew_rscp_crc32(0, want2, n2 - 4));
    ew_rscp_builder_init_frame(&b, out, n);
    assert_int_equal(ew_rscp_req_indexed(&b, 0x03040000, 0x03040001, 0, bat_tags, 3), EW_OK);
    finish_and_compare(&b, want2, n2);
    /* Out-of-range index for the UInt16 BAT_INDEX. */
    ew_rscp_builder_init_frame(&b, out, n);
    assert_int_equal(ew_rscp_req_indexed(&b, 0x03040000, 0x03040001, 70000, bat_tags, 3),
                     EW_ERR_RANGE);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, (ew_rscp_timestamp){0, 0}, 1, &w),
                     EW_ERR_RANGE);
    free(want2);
    free(out);
    free(want);

    /* Parameter containers built with ew_rscp_builder_add_int, which picks
     * each tag's declared type. */
    want = plain_frame(root, "set_power_manual", &n, NULL);
    out = malloc(n);
    assert_non_null(out);
    ew_rscp_builder_init_frame(&b, out, n);
    ew_rscp_builder_open(&b, 0x01000030);
    ew_rscp_builder_add_int(&b, 0x01000031, 3);
    ew_rscp_builder_add_int(&b, 0x01000032, 2000);
    assert_int_equal(ew_rscp_builder_close(&b), EW_OK);
    finish_and_compare(&b, want, n);
    free(out);
    free(want);
    want = plain_frame(root, "set_power_settings", &n, NULL);
    out = malloc(n);
    assert_non_null(out);
    ew_rscp_builder_init_frame(&b, out, n);
    ew_rscp_builder_open(&b, 0x0100008C);
    ew_rscp_builder_add_int(&b, 0x01000100, 1);
    ew_rscp_builder_add_int(&b, 0x01000102, 3000);
    ew_rscp_builder_add_int(&b, 0x01000101, 3000);
    ew_rscp_builder_add_int(&b, 0x01000103, 65);
    assert_int_equal(ew_rscp_builder_close(&b), EW_OK);
    finish_and_compare(&b, want, n);
    free(out);
    free(want);
    want = plain_frame(root, "ha_switch_on", &n, NULL);
    out = malloc(n);
    assert_non_null(out);
    ew_rscp_builder_init_frame(&b, out, n);
    ew_rscp_builder_open(&b, 0x09000040);
    ew_rscp_builder_add_int(&b, 0x09800003, 1);
    ew_rscp_builder_add_string(&b, 0x09000041, "on");
    assert_int_equal(ew_rscp_builder_close(&b), EW_OK);
    finish_and_compare(&b, want, n);
    free(out);
    free(want);
    json_decref(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_plain),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_auth_level_cases),
        cmocka_unit_test(test_auth_level_error_answer),
        cmocka_unit_test(test_bad_magic_version),
        cmocka_unit_test(test_reserved_bits),
        cmocka_unit_test(test_crc_bit_flips),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_validate_flag),
        cmocka_unit_test(test_frame_encode_limits),
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
