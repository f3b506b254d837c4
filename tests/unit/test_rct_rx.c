/*
 * RCT incremental receiver: every case of tests/vectors/rct/receive_frame.json
 * (single[] step by step; stream[] whole, byte by byte and split at every
 * point with identical outcome logs), plus bad inputs.
 *
 * Where our receiver differs from rctclient on purpose (rct.md §11), the
 * expectation is adjusted here and the section is cited.
 */
#include <stdlib.h>
#include <string.h>

#include <energywire/rct.h>

#include "testutil.h"

static uint8_t rbuf[EW_RCT_FRAME_MAX];

/* ---- single[] ----------------------------------------------------------- */

static int map_error(const char *type) {
    if (strcmp(type, "FrameCRCMismatch") == 0)
        return EW_ERR_CRC;
    if (strcmp(type, "InvalidCommand") == 0)
        return EW_ERR_BAD_FIELD;
    if (strcmp(type, "FrameLengthExceeded") == 0)
        return EW_ERR_OVERRUN;
    fail_msg("unknown error type %s", type);
    return 0;
}

static void test_single(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/receive_frame.json");
    json_t *cases = json_object_get(root, "single"), *c;
    size_t i, ncases = 0;
    json_array_foreach(cases, i, c) {
        const char *name = tu_str(c, "name");
        int ignore = json_is_true(json_object_get(c, "ignore_crc_mismatch"));
        json_t *steps = json_object_get(c, "steps"), *st;
        json_t *fin = json_object_get(c, "final");
        ew_rct_rx rx;
        ew_rct_frame f;
        ew_diag d = {0};
        size_t k;
        int last_rc = EW_ERR_NEED_MORE;
        uint64_t total = 0;
        assert_int_equal(ew_rct_rx_init(&rx, rbuf, sizeof rbuf), EW_OK);
        json_array_foreach(steps, k, st) {
            size_t n, used = 99;
            uint8_t *chunk = tu_unhex(tu_str(st, "chunk_hex"), &n);
            int rc = ew_rct_rx_feed(&rx, chunk, n, &used, &f, &d);
            json_t *err = json_object_get(st, "error");
            int want_rc;
            size_t want_used;
            if (err) {
                want_rc = map_error(tu_str(err, "type"));
                want_used = (size_t)tu_int(err, "consumed_bytes");
                if (want_rc == EW_ERR_OVERRUN)
                    /* rct.md §4: we refuse L < 4 (< 8 plant) as soon as the
                     * header is complete; rctclient one byte later. */
                    want_used--;
            } else {
                want_used = (size_t)tu_int(st, "returned");
                int last = k + 1 == json_array_size(steps);
                want_rc = last && json_is_true(json_object_get(fin, "complete"))
                              ? (json_is_true(json_object_get(fin, "crc_ok")) ? EW_OK : EW_ERR_CRC)
                              : EW_ERR_NEED_MORE;
                (void)ignore; /* with ignore_crc_mismatch rctclient completes the frame;
                                 we report EW_ERR_CRC with the frame filled in */
            }
            if (strcmp(name, "length field 3: CRC overlaps the id") == 0) {
                /* rct.md §11 Q6: L = 3 is refused at the header (7 bytes). */
                want_rc = EW_ERR_OVERRUN;
                want_used = 7;
            } else if (strncmp(name, "command 0xff is accepted", 24) == 0) {
                /* rct.md §11 Q5: 0xFF is not a command. */
                want_rc = EW_ERR_BAD_FIELD;
                want_used = 2;
            }
            if (rc != want_rc || used != want_used)
                fail_msg("%s step %zu: rc %s used %zu, want %s used %zu", name, k, ew_errname(rc),
                         used, ew_errname(want_rc), want_used);
            total += used;
            last_rc = rc;
            if (err && want_rc == EW_ERR_BAD_FIELD && strncmp(name, "command 0xff", 12) != 0)
                assert_int_equal(f.command, (uint8_t)tu_int(err, "command"));
            if (rc == EW_ERR_CRC && err) {
                assert_int_equal(f.crc, (uint16_t)tu_int(err, "received_crc"));
                assert_int_equal(f.crc_calc, (uint16_t)tu_int(err, "calculated_crc"));
            }
            if (rc != EW_ERR_NEED_MORE && rc != EW_OK) {
                assert_int_equal(d.code, rc);
                assert_true(d.offset == total - 1);
            }
            free(chunk);
            if (rc != EW_ERR_NEED_MORE && rc != EW_OK)
                break;
        }
        if (last_rc == EW_OK || last_rc == EW_ERR_CRC) {
            /* The frame as rctclient reports it (rct.md §11 Q14: data and id
             * are filled in on a CRC mismatch too). */
            char *data = tu_hex(f.payload.ptr, f.payload.len);
            assert_string_equal(data, tu_str(fin, "data_hex"));
            free(data);
            assert_int_equal(f.command, (uint8_t)tu_int(json_object_get(fin, "command"), "value"));
            assert_int_equal(f.id, (uint32_t)tu_int(fin, "id"));
            assert_int_equal(f.address, (uint32_t)tu_int(fin, "address"));
            assert_int_equal(f.frame_len, (size_t)tu_int(fin, "frame_length"));
            assert_int_equal(f.crc_ok, json_is_true(json_object_get(fin, "crc_ok")));
            /* rct.md §11 Q7: we report standard/plant from the command. */
            assert_int_equal(f.plant, (f.command & 0x40) != 0);
            assert_int_equal(total, (uint64_t)tu_int(fin, "consumed_bytes_total"));
        } else if (last_rc == EW_ERR_NEED_MORE) {
            ew_rct_frame h;
            int have = ew_rct_rx_header(&rx, &h);
            assert_int_equal(total, (uint64_t)tu_int(fin, "consumed_bytes_total"));
            assert_int_equal(have ? h.frame_len : 0, (size_t)tu_int(fin, "frame_length"));
            if (have) {
                assert_int_equal(h.id, (uint32_t)tu_int(fin, "id"));
                assert_int_equal(h.address, (uint32_t)tu_int(fin, "address"));
            }
        }
        ncases++;
    }
    assert_true(ncases >= 40);
    json_decref(root);
}

/* ---- the stream driver -------------------------------------------------- */

static const char *rc_name(int rc) {
    switch (rc) {
    case EW_OK:
        return "frame";
    case EW_ERR_CRC:
        return "crc";
    case EW_ERR_BAD_FIELD:
        return "badcmd";
    case EW_ERR_OVERRUN:
        return "length";
    case EW_ERR_TOO_BIG:
        return "toobig";
    default:
        return ew_errname(rc);
    }
}

/* One line per outcome, keyed by stream offsets (so the log does not depend
 * on how the input was split). */
static void log_outcome(tu_log *l, int rc, uint64_t end, const ew_rct_frame *f) {
    tu_logf(l, "%s end=%llu", rc_name(rc), (unsigned long long)end);
    if (rc == EW_OK || rc == EW_ERR_CRC) {
        char *data = tu_hex(f->payload.ptr, f->payload.len);
        tu_logf(l, " cmd=%02x id=%08x addr=%08x len=%zu data=%s crc_ok=%d", f->command, f->id,
                f->address, f->frame_len, data, f->crc_ok);
        free(data);
    } else if (rc == EW_ERR_BAD_FIELD) {
        tu_logf(l, " cmd=%02x", f->command);
    }
    tu_logf(l, ";\n");
}

typedef struct run_ctx {
    size_t cap;
} run_ctx;

static char *stream_run(void *vctx, const uint8_t *in, size_t len, const size_t *chunks,
                        size_t nchunks) {
    run_ctx *ctx = vctx;
    tu_log l = {0};
    ew_rct_rx rx;
    ew_rct_frame f;
    size_t off = 0;
    (void)len;
    assert_int_equal(ew_rct_rx_init(&rx, rbuf, ctx->cap), EW_OK);
    for (size_t c = 0; c < nchunks; c++) {
        size_t pos = 0, n = chunks[c];
        do {
            size_t used;
            ew_diag d = {0};
            int rc = ew_rct_rx_feed(&rx, in + off + pos, n - pos, &used, &f, &d);
            assert_true(used <= n - pos);
            pos += used;
            if (rc != EW_ERR_NEED_MORE) {
                log_outcome(&l, rc, rx.pos, &f);
                if (rc != EW_OK)
                    assert_int_equal(d.offset, rx.pos - 1);
            } else {
                assert_int_equal(pos, n);
            }
        } while (pos < n);
        off += n;
    }
    ew_rct_frame h;
    if (rx.len) {
        int have = ew_rct_rx_header(&rx, &h);
        tu_logf(&l, "incomplete cmd=%02x header=%d;\n", rx.len >= 2 ? h.command : 0xff, have);
    }
    tu_logf(&l, "end");
    return tu_log_take(&l);
}

static void test_stream(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/receive_frame.json");
    json_t *cases = json_object_get(root, "stream"), *c;
    size_t i;
    run_ctx ctx = {sizeof rbuf};
    json_array_foreach(cases, i, c) {
        size_t n;
        uint8_t *in = tu_unhex(tu_str(c, "input_hex"), &n);
        tu_log w = {0};
        json_t *events = json_object_get(c, "events"), *e;
        size_t k;
        json_array_foreach(events, k, e) {
            uint64_t off = (uint64_t)tu_int(e, "offset");
            json_t *err = json_object_get(e, "error");
            json_t *fr = json_object_get(e, "frame");
            json_t *inc = json_object_get(e, "incomplete");
            if (err) {
                int rc = map_error(tu_str(err, "type"));
                ew_rct_frame f = {0};
                json_t *stt = json_object_get(e, "state");
                if (rc == EW_ERR_CRC) {
                    size_t dl;
                    uint8_t *data = tu_unhex(tu_str(stt, "data_hex"), &dl);
                    f.command = (uint8_t)tu_int(json_object_get(stt, "command"), "value");
                    f.id = (uint32_t)tu_int(stt, "id");
                    f.address = (uint32_t)tu_int(stt, "address");
                    f.frame_len = (size_t)tu_int(stt, "frame_length");
                    f.payload.ptr = data;
                    f.payload.len = dl;
                    log_outcome(&w, rc, off + (uint64_t)tu_int(err, "consumed_bytes"), &f);
                    free(data);
                } else {
                    f.command = (uint8_t)tu_int(err, "command");
                    log_outcome(&w, rc, off + (uint64_t)tu_int(err, "consumed_bytes"), &f);
                }
            } else if (fr) {
                size_t dl;
                uint8_t *data = tu_unhex(tu_str(fr, "data_hex"), &dl);
                ew_rct_frame f = {0};
                f.command = (uint8_t)tu_int(json_object_get(fr, "command"), "value");
                f.id = (uint32_t)tu_int(fr, "id");
                f.address = (uint32_t)tu_int(fr, "address");
                f.frame_len = (size_t)tu_int(fr, "frame_length");
                f.crc_ok = json_is_true(json_object_get(fr, "crc_ok"));
                f.payload.ptr = data;
                f.payload.len = dl;
                log_outcome(&w, f.crc_ok ? EW_OK : EW_ERR_CRC,
                            off + (uint64_t)tu_int(e, "returned"), &f);
                free(data);
            } else {
                assert_non_null(inc);
                long long cmd = tu_int(json_object_get(inc, "command"), "value");
                tu_logf(&w, "incomplete cmd=%02llx header=%d;\n", cmd,
                        tu_int(inc, "frame_length") != 0);
            }
        }
        tu_logf(&w, "end");
        char *want = tu_log_take(&w);
        char *got = tu_check_splits(&ctx, in, n, stream_run);
        if (strcmp(got, want) != 0)
            fail_msg("%s:\ngot:\n%s\nwant:\n%s", tu_str(c, "name"), got, want);
        free(got);
        free(want);
        free(in);
    }
    json_decref(root);
}

/* Every single[] input (chunks joined) as a stream, split everywhere. */
static void test_single_inputs_split(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/receive_frame.json");
    json_t *cases = json_object_get(root, "single"), *c;
    size_t i;
    run_ctx ctx = {sizeof rbuf};
    json_array_foreach(cases, i, c) {
        json_t *chunks = json_object_get(c, "chunks_hex"), *ch;
        size_t k;
        char *hex = calloc(1, 1);
        json_array_foreach(chunks, k, ch) {
            const char *s = json_string_value(ch);
            hex = realloc(hex, strlen(hex) + strlen(s) + 1);
            strcat(hex, s);
        }
        size_t n;
        uint8_t *in = tu_unhex(hex, &n);
        char *got = tu_check_splits(&ctx, in, n, stream_run);
        free(got);
        free(in);
        free(hex);
    }
    json_decref(root);
}

/* ---- bad inputs --------------------------------------------------------- */

static char *run_whole(const char *hex, size_t cap) {
    size_t n;
    uint8_t *in = tu_unhex(hex, &n);
    run_ctx ctx = {cap};
    char *got = tu_check_splits(&ctx, in, n, stream_run);
    free(in);
    return got;
}

static void test_bad_inputs(void **state) {
    (void)state;
    char *got;
    /* Escape token as the last byte: remembered, whatever the split. */
    got = run_whole("2b0508db2d", sizeof rbuf);
    assert_string_equal(got, "incomplete cmd=05 header=0;\nend");
    free(got);
    got = run_whole("2b01042d", sizeof rbuf);
    assert_string_equal(got, "incomplete cmd=01 header=0;\nend");
    free(got);
    /* Unknown commands, each followed by a good READ. */
    got = run_whole("2b042b0104959930bf0d65", sizeof rbuf);
    assert_string_equal(got, "badcmd end=2 cmd=04;\nframe end=11 cmd=01 id=959930bf addr=00000000 "
                             "len=9 data= crc_ok=1;\nend");
    free(got);
    got = run_whole("2bff2b0104959930bf0d65", sizeof rbuf);
    assert_string_equal(got, "badcmd end=2 cmd=ff;\nframe end=11 cmd=01 id=959930bf addr=00000000 "
                             "len=9 data= crc_ok=1;\nend");
    free(got);
    /* Length below the minimum: refused at the header (rct.md §4). */
    got = run_whole("2b0103959930bf2b0104959930bf0d65", sizeof rbuf);
    assert_string_equal(got, "length end=7;\nframe end=16 cmd=01 id=959930bf addr=00000000 "
                             "len=9 data= crc_ok=1;\nend");
    free(got);
    got = run_whole("2b4607000000000000000000", sizeof rbuf);
    /* 0x46 is long: L = 0x0700 is fine, the frame is just incomplete. */
    assert_string_equal(got, "incomplete cmd=46 header=1;\nend");
    free(got);
    got = run_whole("2b460007000000000000000000", sizeof rbuf);
    assert_string_equal(got, "length end=12;\nend");
    free(got);
    /* Length too large for the receive buffer (16 bytes): refused after the
     * header, the rest is skipped as garbage, the next frame is found. */
    got = run_whole("2b0600109599 30bf 0102030405060708090a0b0c 0000"
                    "2b0104959930bf0d65",
                    EW_RCT_RX_BUF_MIN);
    assert_string_equal(got, "toobig end=8;\nframe end=31 cmd=01 id=959930bf addr=00000000 "
                             "len=9 data= crc_ok=1;\nend");
    free(got);
    /* Odd-length CRC input (BOOL RESPONSE: 7 bytes) is zero-padded. */
    {
        uint8_t out[32];
        size_t n;
        static const uint8_t one = 1;
        assert_int_equal(
            ew_rct_frame_encode(out, sizeof out, EW_RCT_CMD_RESPONSE, 0, 0x959930BFu, &one, 1, &n),
            EW_OK);
        static const uint8_t body[] = {0x05, 0x05, 0x95, 0x99, 0x30, 0xbf, 0x01, 0x00};
        uint16_t crc = ew_rct_crc16(body, 8); /* explicit pad == implicit pad */
        assert_int_equal(ew_rct_crc16(body, 7), crc);
        ew_rct_rx rx;
        ew_rct_frame f;
        size_t used;
        assert_int_equal(ew_rct_rx_init(&rx, rbuf, sizeof rbuf), EW_OK);
        assert_int_equal(ew_rct_rx_feed(&rx, out, n, &used, &f, NULL), EW_OK);
        assert_int_equal(f.crc, crc);
        /* The same frame with the CRC of the unpadded 7 bytes (what plain
         * CCITT-FALSE gives) is a mismatch. */
        static const uint8_t plain[] = {0x05, 0x05, 0x95, 0x99, 0x30, 0xbf, 0x01};
        uint16_t nopad = 0xFFFF;
        for (size_t k = 0; k < sizeof plain; k++) {
            nopad ^= (uint16_t)(plain[k] << 8);
            for (int bit = 0; bit < 8; bit++)
                nopad =
                    (nopad & 0x8000) ? (uint16_t)((nopad << 1) ^ 0x1021) : (uint16_t)(nopad << 1);
        }
        assert_int_not_equal(nopad, crc);
        uint8_t bad[16] = {
            0x2b, 0x05, 0x05, 0x95, 0x99, 0x30, 0xbf, 0x01, (uint8_t)(nopad >> 8), (uint8_t)nopad};
        assert_int_equal(ew_rct_rx_feed(&rx, bad, 10, &used, &f, NULL), EW_ERR_CRC);
    }
    /* Garbage before the start token, escape tokens included. */
    got = run_whole("2d2d002d0a2b0104959930bf0d65", sizeof rbuf);
    assert_string_equal(got, "frame end=14 cmd=01 id=959930bf addr=00000000 len=9 data= "
                             "crc_ok=1;\nend");
    free(got);
    /* Only garbage. */
    got = run_whole("000102032d2d", sizeof rbuf);
    assert_string_equal(got, "end");
    free(got);
}

static void test_skipped_and_args(void **state) {
    (void)state;
    ew_rct_rx rx;
    ew_rct_frame f;
    size_t used;
    static const uint8_t in[] = {0x00, 0x11, 0x2b, 0x01, 0x04, 0x95, 0x99, 0x30, 0xbf, 0x0d, 0x65};
    assert_int_equal(ew_rct_rx_init(&rx, rbuf, EW_RCT_RX_BUF_MIN - 1), EW_ERR_NOBUF);
    assert_int_equal(ew_rct_rx_init(NULL, rbuf, sizeof rbuf), EW_ERR_INVAL);
    assert_int_equal(ew_rct_rx_init(&rx, rbuf, sizeof rbuf), EW_OK);
    assert_int_equal(ew_rct_rx_feed(&rx, in, 1, &used, &f, NULL), EW_ERR_NEED_MORE);
    assert_int_equal(ew_rct_rx_feed(&rx, in + 1, sizeof in - 1, &used, &f, NULL), EW_OK);
    assert_int_equal(f.skipped, 2);
    assert_int_equal(ew_rct_rx_feed(&rx, NULL, 0, &used, &f, NULL), EW_ERR_NEED_MORE);
    assert_int_equal(used, 0);
    assert_int_equal(ew_rct_rx_feed(&rx, NULL, 1, &used, &f, NULL), EW_ERR_INVAL);
    /* Abandoning a frame early from its header (rct.md §5.3). */
    assert_int_equal(ew_rct_rx_feed(&rx, in + 2, 7, &used, &f, NULL), EW_ERR_NEED_MORE);
    ew_rct_frame h;
    assert_int_equal(ew_rct_rx_header(&rx, &h), 1);
    assert_int_equal(h.id, 0x959930BFu);
    assert_int_equal(h.frame_len, 9);
    ew_rct_rx_reset(&rx);
    assert_int_equal(ew_rct_rx_header(&rx, &h), 0);
}

/* Random bytes with frames mixed in: the log never depends on the split. */
static void test_random_split_invariance(void **state) {
    (void)state;
    uint64_t seed = 0x5eed;
    run_ctx ctx = {64};
    for (int round = 0; round < 40; round++) {
        uint8_t in[160];
        size_t n = 0;
        while (n < sizeof in - 40) {
            unsigned r = (unsigned)tu_rand(&seed);
            if (r % 3 == 0) {
                uint8_t pl[16];
                size_t w, pn = r % 12;
                for (size_t k = 0; k < pn; k++)
                    pl[k] = (uint8_t)(tu_rand(&seed) % 4 ? tu_rand(&seed) : 0x2b + 2 * (r & 1));
                static const unsigned cmds[] = {0x01, 0x02, 0x03, 0x05, 0x06, 0x41,
                                                0x42, 0x43, 0x45, 0x46, 0x48, 0x08};
                assert_int_equal(ew_rct_frame_encode(in + n, sizeof in - n, cmds[r % 12], r,
                                                     (uint32_t)tu_rand(&seed), pl, pn, &w),
                                 EW_OK);
                if (r % 7 == 0)
                    in[n + w - 1] ^= 1; /* CRC damage */
                n += w;
            } else {
                static const uint8_t junk[] = {0x2b, 0x2d, 0x00, 0x04, 0x01, 0x06};
                in[n++] = junk[r % sizeof junk];
            }
        }
        char *got = tu_check_splits(&ctx, in, n, stream_run);
        free(got);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_single_inputs_split),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_skipped_and_args),
        cmocka_unit_test(test_random_split_invariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
