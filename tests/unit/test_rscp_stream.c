/*
 * RSCP streaming decryptor and encryptor: frames_encrypted.json and the
 * 36-message pye3dc session fed whole, byte by byte and split at every point,
 * frames ending in zero bytes, a wrong key, bit flips, truncation, a full
 * working buffer, and random round trips with both cipher implementations.
 */
#include "testutil.h"

#include <energywire/rscp.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The cipher implementations this machine can run. */
static int impls(ew_rscp_cipher_impl out[2]) {
    int n = 0;
    out[n++] = EW_RSCP_CIPHER_PORTABLE;
    if (ew_rscp_cipher_aesni_available())
        out[n++] = EW_RSCP_CIPHER_AESNI;
    return n;
}

static void cipher_for(ew_rscp_cipher *c, const char *key, ew_rscp_cipher_impl impl) {
    uint8_t k[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive(key, strlen(key), k);
    assert_int_equal(ew_rscp_cipher_init(c, k, impl), EW_OK);
    assert_int_equal(ew_rscp_cipher_impl_of(c), impl);
}

/* A growable byte buffer. */
typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void bytes_add(bytes *b, const uint8_t *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void bytes_add_hex(bytes *b, const char *hex) {
    size_t n;
    uint8_t *p = tu_unhex(hex, &n);
    bytes_add(b, p, n);
    free(p);
}

/* Seals a copy of the frame at |frame| and appends the ciphertext. */
static size_t seal_append(ew_rscp_encryptor *e, bytes *ct, const uint8_t *frame, size_t n) {
    size_t padded = (n + 31) / 32 * 32;
    uint8_t *buf = malloc(padded ? padded : 1);
    assert_non_null(buf);
    memcpy(buf, frame, n);
    assert_int_equal(ew_rscp_encryptor_seal(e, buf, n, padded), (int)padded);
    bytes_add(ct, buf, padded);
    free(buf);
    return padded;
}

/* ---- the stream driver --------------------------------------------------- */

typedef struct stream_ctx {
    const ew_rscp_cipher *cipher;
    unsigned flags;
    size_t bufcap; /* working buffer size (0: EW_RSCP_STREAM_BUF_MIN) */
    int no_finish;
} stream_ctx;

/* Takes every frame the stream has; logs frames and per-frame errors.
 * Returns the number of frames (and skipped bad frames) taken, or the
 * sticky error. */
static int drain(ew_rscp_stream *s, tu_log *log) {
    int taken = 0;
    for (;;) {
        ew_rscp_frame f;
        ew_diag d = {0, 0, NULL};
        int rc = ew_rscp_stream_next(s, &f, &d);
        if (rc == 0)
            return taken;
        taken++;
        if (rc == 1) {
            assert_true(f.frame_len >= EW_RSCP_HEADER_LEN);
            assert_int_equal(f.frame_len, EW_RSCP_HEADER_LEN + (size_t)f.data_len +
                                              (f.has_crc ? EW_RSCP_CRC_LEN : 0));
            char *hex = tu_hex(f.data - EW_RSCP_HEADER_LEN, f.frame_len);
            tu_logf(log, "F %s;", hex);
            free(hex);
            continue;
        }
        assert_int_equal(d.code, rc);
        tu_logf(log, "E %s @%zu;", ew_errname(rc), d.offset);
        if (rc == EW_ERR_DECRYPT || rc == EW_ERR_BAD_FIELD) {
            /* Sticky. */
            ew_diag d2 = {0, 0, NULL};
            assert_int_equal(ew_rscp_stream_next(s, &f, &d2), rc);
            assert_int_equal(d2.offset, d.offset);
            assert_int_equal(ew_rscp_stream_feed(s, (const uint8_t *)"x", 1), rc);
            return rc;
        }
    }
}

/* Feeds the ciphertext in the given chunks, taking frames after every feed.
 * The feed must take everything offered unless the working buffer is full
 * of frames not yet taken. */
static char *stream_run(void *vctx, const uint8_t *in, size_t len, const size_t *chunks,
                        size_t nchunks) {
    const stream_ctx *ctx = vctx;
    size_t total = 0;
    for (size_t c = 0; c < nchunks; c++)
        total += chunks[c];
    assert_int_equal(total, len);
    size_t cap = ctx->bufcap ? ctx->bufcap : EW_RSCP_STREAM_BUF_MIN;
    uint8_t *work = malloc(cap);
    assert_non_null(work);
    ew_rscp_stream s;
    assert_int_equal(ew_rscp_stream_init(&s, ctx->cipher, work, cap, ctx->flags), EW_OK);
    tu_log log = {0};
    size_t off = 0;
    int dead = 0;
    for (size_t c = 0; c < nchunks && !dead; c++) {
        size_t left = chunks[c];
        while (left) {
            int rc = ew_rscp_stream_feed(&s, in + off, left);
            if (rc < 0) {
                tu_logf(&log, "feed %s;", ew_errname(rc));
                dead = 1;
                break;
            }
            assert_true((size_t)rc <= left);
            off += (size_t)rc;
            left -= (size_t)rc;
            int taken = drain(&s, &log);
            if (taken < 0) {
                dead = 1;
                break;
            }
            if (left && rc == 0 && taken == 0)
                fail_msg("feed took nothing although every frame was taken");
        }
    }
    if (!dead && !ctx->no_finish) {
        ew_diag d = {0, 0, NULL};
        int rc = ew_rscp_stream_finish(&s, &d);
        if (rc < 0)
            tu_logf(&log, "finish %s @%zu;", ew_errname(rc), d.offset);
        else
            tu_logf(&log, "finish ok;");
    }
    free(work);
    return tu_log_take(&log);
}

/* ---- frames_encrypted.json ------------------------------------------------- */

static void test_encrypted_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_encrypted.json");
    const char *key = tu_str(root, "key_string");
    uint8_t k[EW_RSCP_KEY_LEN];
    assert_int_equal(ew_rscp_key_derive(key, strlen(key), k), strlen(key));
    char *khex = tu_hex(k, sizeof k);
    assert_string_equal(khex, tu_str(root, "derived_key_hex"));
    free(khex);
    static const char *const dirs[] = {"client_to_server", "server_to_client"};
    ew_rscp_cipher_impl which[2];
    int nimpl = impls(which);
    for (int im = 0; im < nimpl; im++) {
        ew_rscp_cipher c;
        cipher_for(&c, key, which[im]);
        for (int dir = 0; dir < 2; dir++) {
            const json_t *list = json_object_get(root, dirs[dir]);
            assert_int_equal(json_array_size(list), 4);
            bytes ct = {0};
            tu_log want = {0};
            ew_rscp_encryptor e;
            ew_rscp_encryptor_init(&e, &c);
            size_t i;
            const json_t *m;
            json_array_foreach(list, i, m) {
                bytes_add_hex(&ct, tu_str(m, "ciphertext_hex"));
                tu_logf(&want, "F %s;", tu_str(m, "plain_frame_hex"));
                /* The encryptor produces the same ciphertext and chain. */
                char *iv = tu_hex(e.iv, 32);
                assert_string_equal(iv, tu_str(m, "iv_before_hex"));
                free(iv);
                size_t n;
                uint8_t *plain = tu_unhex(tu_str(m, "plain_frame_hex"), &n);
                size_t padded = (n + 31) / 32 * 32;
                uint8_t *buf = malloc(padded);
                assert_non_null(buf);
                memcpy(buf, plain, n);
                /* Too small a buffer: NOBUF and the chain is untouched. */
                assert_int_equal(ew_rscp_encryptor_seal(&e, buf, n, padded - 1), EW_ERR_NOBUF);
                iv = tu_hex(e.iv, 32);
                assert_string_equal(iv, tu_str(m, "iv_before_hex"));
                free(iv);
                assert_int_equal(ew_rscp_encryptor_seal(&e, buf, n, padded), (int)padded);
                char *cth = tu_hex(buf, padded);
                assert_string_equal(cth, tu_str(m, "ciphertext_hex"));
                free(cth);
                iv = tu_hex(e.iv, 32);
                assert_string_equal(iv, tu_str(m, "iv_after_hex"));
                free(iv);
                free(buf);
                free(plain);
            }
            tu_logf(&want, "finish ok;");
            char *want_s = tu_log_take(&want);
            stream_ctx ctx = {&c, 0, 0, 0};
            char *got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
            assert_string_equal(got, want_s);
            print_message("%s %s: %s\n", ew_rscp_cipher_impl_name(which[im]), dirs[dir], got);
            /* Strict and validating receivers see the same frames. */
            stream_ctx strict = {&c, EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_VALIDATE, 0, 0};
            size_t whole[1] = {ct.len};
            char *got2 = stream_run(&strict, ct.p, ct.len, whole, 1);
            assert_string_equal(got2, want_s);
            free(got2);
            free(got);
            free(want_s);
            /* The receiving chain ends where the sender's did. */
            uint8_t *work = malloc(EW_RSCP_STREAM_BUF_MIN);
            assert_non_null(work);
            ew_rscp_stream s;
            assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
            assert_int_equal(ew_rscp_stream_feed(&s, ct.p, ct.len), (int)ct.len);
            char *iv = tu_hex(s.iv, 32);
            assert_string_equal(
                iv, tu_str(json_array_get(list, json_array_size(list) - 1), "iv_after_hex"));
            free(iv);
            free(work);
            free(ct.p);
        }
    }
    json_decref(root);
}

/* ---- session_pye3dc_poll.json -------------------------------------------- */

/* Compares a decoded value with pye3dc's [name, type, value] triple. */
static void check_pye3dc(const ew_rscp_iter *parent, const ew_rscp_value *v, const json_t *triple) {
    assert_int_equal(json_array_size(triple), 3);
    const char *name = json_string_value(json_array_get(triple, 0));
    const char *type = json_string_value(json_array_get(triple, 1));
    const json_t *val = json_array_get(triple, 2);
    const ew_rscp_tag_info *t = ew_rscp_tag_by_name(name, strlen(name));
    if (!t)
        fail_msg("pye3dc tag %s is not in the registry", name);
    assert_int_equal(v->tag, t->id);
    assert_int_equal(v->type, ew_rscp_type_from_name(type, strlen(type)));
    int64_t i;
    double f;
    ew_bytes by;
    ew_rscp_timestamp ts;
    switch (v->type) {
    case EW_RSCP_TYPE_NONE:
        assert_true(json_is_null(val));
        assert_int_equal(v->len, 0);
        break;
    case EW_RSCP_TYPE_BOOL:
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
        assert_true(i == json_is_true(val));
        break;
    case EW_RSCP_TYPE_FLOAT32:
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
        assert_true(f == json_number_value(val));
        break;
    case EW_RSCP_TYPE_CSTRING:
        assert_int_equal(ew_rscp_value_get_bytes(v, &by), EW_OK);
        assert_int_equal(by.len, json_string_length(val));
        assert_memory_equal(by.ptr, json_string_value(val), by.len);
        break;
    case EW_RSCP_TYPE_TIMESTAMP:
        /* pye3dc gives seconds + nanoseconds / 1e9 as a float. */
        assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_OK);
        assert_true((double)ts.seconds + ts.nanoseconds / 1e9 == json_number_value(val));
        break;
    case EW_RSCP_TYPE_CONTAINER: {
        ew_rscp_iter child;
        assert_int_equal(ew_rscp_iter_enter(parent, v, &child, NULL), EW_OK);
        size_t k;
        const json_t *ct;
        json_array_foreach(val, k, ct) {
            ew_rscp_value cv;
            assert_int_equal(ew_rscp_iter_next(&child, &cv, NULL), 1);
            check_pye3dc(&child, &cv, ct);
        }
        ew_rscp_value end;
        assert_int_equal(ew_rscp_iter_next(&child, &end, NULL), 0);
        break;
    }
    default:
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
        assert_true(i == json_integer_value(val));
        break;
    }
}

static void test_session(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/session_pye3dc_poll.json");
    const json_t *ex = json_object_get(root, "exchanges");
    assert_int_equal(json_array_size(ex), 36);
    static const char *const dirs[] = {"client_to_server", "server_to_client"};
    ew_rscp_cipher_impl which[2];
    int nimpl = impls(which);
    for (int im = 0; im < nimpl; im++) {
        ew_rscp_cipher c;
        cipher_for(&c, tu_str(root, "key_string"), which[im]);
        for (int dir = 0; dir < 2; dir++) {
            /* Message by message through one stream per direction. */
            uint8_t *work = malloc(EW_RSCP_STREAM_BUF_MIN);
            assert_non_null(work);
            ew_rscp_stream s;
            assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
            ew_rscp_encryptor e;
            ew_rscp_encryptor_init(&e, &c);
            bytes ct = {0};
            tu_log want = {0};
            int count = 0;
            size_t i;
            const json_t *m;
            json_array_foreach(ex, i, m) {
                if (strcmp(tu_str(m, "direction"), dirs[dir]) != 0)
                    continue;
                count++;
                size_t cn, fn;
                uint8_t *cbytes = tu_unhex(tu_str(m, "ciphertext_hex"), &cn);
                uint8_t *fbytes = tu_unhex(tu_str(m, "frame_hex"), &fn);
                assert_int_equal(cn % 32, 0);
                assert_int_equal(cn - fn, tu_int(m, "padding_bytes"));
                assert_int_equal(ew_rscp_stream_feed(&s, cbytes, cn), (int)cn);
                ew_rscp_frame f;
                ew_diag d = {0};
                assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 1);
                assert_int_equal(f.frame_len, fn);
                assert_memory_equal(f.data - EW_RSCP_HEADER_LEN, fbytes, fn);
                ew_rscp_iter it;
                ew_rscp_value v;
                ew_rscp_iter_init(&it, f.data, f.data_len, 0);
                assert_int_equal(ew_rscp_iter_next(&it, &v, &d), 1);
                check_pye3dc(&it, &v, json_object_get(m, "decoded_first_value"));
                assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 0);
                char *iv = tu_hex(s.iv, 32);
                assert_string_equal(iv, tu_str(m, "iv_after_hex"));
                free(iv);
                /* The encryptor reproduces the recorded ciphertext. */
                seal_append(&e, &ct, fbytes, fn);
                assert_memory_equal(ct.p + ct.len - cn, cbytes, cn);
                tu_logf(&want, "F %s;", tu_str(m, "frame_hex"));
                free(cbytes);
                free(fbytes);
            }
            assert_int_equal(count, 18);
            assert_int_equal(ew_rscp_stream_finish(&s, NULL), EW_OK);
            free(work);
            /* The whole direction as one stream, in every chunking. */
            tu_logf(&want, "finish ok;");
            char *want_s = tu_log_take(&want);
            stream_ctx ctx = {&c, 0, 0, 0};
            char *got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
            assert_string_equal(got, want_s);
            free(got);
            free(want_s);
            free(ct.p);
        }
    }
    json_decref(root);
}

/* ---- zero bytes at the end --------------------------------------------- */

static void test_trailing_zeros(void **state) {
    (void)state;
    ew_rscp_cipher_impl which[2];
    int nimpl = impls(which);
    for (int im = 0; im < nimpl; im++) {
        ew_rscp_cipher c;
        cipher_for(&c, "my-rscp-key", which[im]);
        ew_rscp_encryptor e;
        ew_rscp_encryptor_init(&e, &c);
        bytes ct = {0};
        tu_log want = {0};
        uint8_t frame[256];
        ew_rscp_timestamp ts = {1700000000, 0};
        ew_rscp_builder b;
        size_t n;

        /* (a) No CRC, the last value is Int32 0: ends in four zero bytes. */
        ew_rscp_builder_init_frame(&b, frame, sizeof frame);
        ew_rscp_builder_add_int32(&b, 0x01800001, 4687);
        ew_rscp_builder_add_int32(&b, 0x01800005, 0);
        assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 0, &n), EW_OK);
        assert_int_equal(n, 40);
        assert_memory_equal(frame + n - 4, "\0\0\0\0", 4);
        seal_append(&e, &ct, frame, n);
        char *hex = tu_hex(frame, n);
        tu_logf(&want, "F %s;", hex);
        free(hex);

        /* (b) With CRC whose top byte is 0 (search the nanoseconds). */
        int found = 0;
        for (uint32_t ns = 0; ns < 100000 && !found; ns++) {
            ts.nanoseconds = ns;
            ew_rscp_builder_init_frame(&b, frame, sizeof frame);
            ew_rscp_builder_add_int32(&b, 0x01800001, 4687);
            assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &n), EW_OK);
            found = frame[n - 1] == 0;
        }
        assert_true(found);
        assert_int_equal(n, 33);
        seal_append(&e, &ct, frame, n);
        hex = tu_hex(frame, n);
        tu_logf(&want, "F %s;", hex);
        free(hex);

        /* (c) Exactly 64 bytes (no padding) ending in zero bytes, no CRC:
         * a 39-byte ByteArray of zeros. */
        static const uint8_t zeros[64] = {0};
        ew_rscp_builder_init_frame(&b, frame, sizeof frame);
        ew_rscp_builder_add_bytes(&b, 0x0E042010, zeros, 39);
        assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 0, &n), EW_OK);
        assert_int_equal(n, 64);
        assert_int_equal(seal_append(&e, &ct, frame, n), 64);
        hex = tu_hex(frame, n);
        tu_logf(&want, "F %s;", hex);
        free(hex);

        /* (d) An empty value area: 18 bytes, the length field is 0. */
        ew_rscp_builder_init_frame(&b, frame, sizeof frame);
        assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 0, &n), EW_OK);
        assert_int_equal(n, 18);
        seal_append(&e, &ct, frame, n);
        hex = tu_hex(frame, n);
        tu_logf(&want, "F %s;", hex);
        free(hex);

        /* (e) One byte into a block after zeros: 33 bytes ending in 0x00. */
        ew_rscp_builder_init_frame(&b, frame, sizeof frame);
        ew_rscp_builder_add_bytes(&b, 0x0E042010, zeros, 8);
        assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 0, &n), EW_OK);
        assert_int_equal(n, 33);
        seal_append(&e, &ct, frame, n);
        hex = tu_hex(frame, n);
        tu_logf(&want, "F %s;", hex);
        free(hex);

        tu_logf(&want, "finish ok;");
        char *want_s = tu_log_take(&want);
        stream_ctx ctx = {&c, 0, 0, 0};
        char *got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
        assert_string_equal(got, want_s);
        print_message("%s\n", got);
        free(got);
        free(want_s);
        free(ct.p);
    }
}

/* ---- wrong key, lost place --------------------------------------------- */

static bytes vector_ciphertext(const char *dir) {
    json_t *root = tu_load_json("rscp/frames_encrypted.json");
    bytes ct = {0};
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(root, dir), i, m)
        bytes_add_hex(&ct, tu_str(m, "ciphertext_hex"));
    json_decref(root);
    return ct;
}

static void test_wrong_key(void **state) {
    (void)state;
    bytes ct = vector_ciphertext("client_to_server");
    ew_rscp_cipher_impl which[2];
    int nimpl = impls(which);
    for (int im = 0; im < nimpl; im++) {
        ew_rscp_cipher c;
        cipher_for(&c, "my-rscp-key!", which[im]);
        stream_ctx ctx = {&c, 0, 0, 0};
        char *got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
        /* The first frame is refused at stream offset 0, and that is all. */
        assert_string_equal(got, "E EW_ERR_DECRYPT @0;");
        free(got);

        uint8_t *work = malloc(EW_RSCP_STREAM_BUF_MIN);
        assert_non_null(work);
        ew_rscp_stream s;
        assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
        assert_int_equal(ew_rscp_stream_feed(&s, ct.p, 31), 31);
        ew_rscp_frame f;
        ew_diag d = {0};
        assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 0); /* nothing decrypted yet */
        assert_int_equal(ew_rscp_stream_feed(&s, ct.p + 31, 1), 1);
        assert_int_equal(ew_rscp_stream_next(&s, &f, &d), EW_ERR_DECRYPT);
        assert_int_equal(d.code, EW_ERR_DECRYPT);
        assert_int_equal(d.offset, 0);
        assert_non_null(d.what);
        assert_non_null(strstr(d.what, "RSCP key"));
        assert_int_equal(ew_rscp_stream_feed(&s, ct.p + 32, 32), EW_ERR_DECRYPT);
        assert_int_equal(ew_rscp_stream_next(&s, &f, &d), EW_ERR_DECRYPT);
        free(work);
    }
    assert_non_null(strstr(ew_strerror(EW_ERR_DECRYPT), "RSCP key"));
    assert_string_equal(ew_errname(EW_ERR_DECRYPT), "EW_ERR_DECRYPT");

    /* The right key but the first block lost: the stream has lost its place. */
    ew_rscp_cipher c;
    cipher_for(&c, "my-rscp-key", EW_RSCP_CIPHER_PORTABLE);
    stream_ctx ctx = {&c, 0, 0, 0};
    size_t whole[1] = {ct.len - 32};
    char *got = stream_run(&ctx, ct.p + 32, ct.len - 32, whole, 1);
    assert_string_equal(got, "E EW_ERR_DECRYPT @0;");
    free(got);
    /* The second frame's ciphertext alone (its chain starts at the first
     * frame's last block, not at ff..ff): also DECRYPT at 0. */
    whole[0] = ct.len - 96;
    got = stream_run(&ctx, ct.p + 96, ct.len - 96, whole, 1);
    assert_string_equal(got, "E EW_ERR_DECRYPT @0;");
    free(got);
    free(ct.p);
}

/* ---- bit flips -------------------------------------------------------- */

static void test_bit_flips(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_encrypted.json");
    ew_rscp_cipher c;
    cipher_for(&c, "my-rscp-key",
               ew_rscp_cipher_aesni_available() ? EW_RSCP_CIPHER_AESNI : EW_RSCP_CIPHER_PORTABLE);
    static const char *const dirs[] = {"client_to_server", "server_to_client"};
    int flips = 0;
    for (int dir = 0; dir < 2; dir++) {
        const json_t *list = json_object_get(root, dirs[dir]);
        bytes ct = {0};
        size_t starts[8], plens[8], flens[8];
        char *frames[8];
        size_t nf = 0;
        size_t i;
        const json_t *m;
        json_array_foreach(list, i, m) {
            starts[nf] = ct.len;
            bytes_add_hex(&ct, tu_str(m, "ciphertext_hex"));
            plens[nf] = ct.len - starts[nf];
            frames[nf] = (char *)tu_str(m, "plain_frame_hex");
            flens[nf] = strlen(frames[nf]) / 2;
            nf++;
        }
        for (size_t fi = 0; fi < nf; fi++) {
            size_t nblocks = plens[fi] / 32;
            /* Blocks 1 .. n-2: garbling block k and one bit of block k+1
             * stays inside this frame. */
            for (size_t k = 1; k + 1 < nblocks; k++) {
                for (size_t bit = 0; bit < 256; bit += (dir == 0 ? 1 : 7)) {
                    uint8_t *bad = malloc(ct.len);
                    assert_non_null(bad);
                    memcpy(bad, ct.p, ct.len);
                    bad[starts[fi] + 32 * k + bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    tu_log want = {0};
                    for (size_t j = 0; j < nf; j++) {
                        if (j == fi)
                            /* The CRC is checked at its stream offset. */
                            tu_logf(&want, "E EW_ERR_CRC @%zu;", starts[j] + flens[j] - 4);
                        else
                            tu_logf(&want, "F %s;", frames[j]);
                    }
                    tu_logf(&want, "finish ok;");
                    char *want_s = tu_log_take(&want);
                    stream_ctx ctx = {&c, 0, 0, 0};
                    char *got;
                    if (flips == 0) {
                        got = tu_check_splits(&ctx, bad, ct.len, stream_run);
                        print_message("flip in block %zu of frame %zu: %s\n", k, fi, got);
                    } else {
                        size_t whole[1] = {ct.len};
                        got = stream_run(&ctx, bad, ct.len, whole, 1);
                    }
                    assert_string_equal(got, want_s);
                    free(got);
                    free(want_s);
                    free(bad);
                    flips++;
                }
            }
        }
        free(ct.p);
    }
    assert_true(flips > 500);
    json_decref(root);
}

/* A bad frame under EW_RSCP_DECODE_VALIDATE is skipped, the next one read;
 * reserved bits under EW_RSCP_DECODE_STRICT stop the stream. */
static void test_frame_errors_in_stream(void **state) {
    (void)state;
    ew_rscp_cipher c;
    cipher_for(&c, "my-rscp-key", EW_RSCP_CIPHER_PORTABLE);
    ew_rscp_timestamp ts = {1700000000, 0};
    static const uint8_t overrun[] = {0x00, 0x00, 0x84, 0x03, 0x0e, 0x09, 0x00, 0x01,
                                      0x00, 0x80, 0x03, 0x0a, 0x04, 0x00, 0x00, 0x00};
    static const uint8_t good[] = {0x08, 0x00, 0x80, 0x01, 0x03, 0x01, 0x00, 0x4d};
    uint8_t f1[64], f2[64];
    int n1 = ew_rscp_frame_encode(f1, sizeof f1, overrun, sizeof overrun, ts, 1, NULL);
    int n2 = ew_rscp_frame_encode(f2, sizeof f2, good, sizeof good, ts, 1, NULL);
    assert_true(n1 > 0 && n2 > 0);
    ew_rscp_encryptor e;
    ew_rscp_encryptor_init(&e, &c);
    bytes ct = {0};
    size_t p1 = seal_append(&e, &ct, f1, (size_t)n1);
    seal_append(&e, &ct, f2, (size_t)n2);
    char *h1 = tu_hex(f1, (size_t)n1), *h2 = tu_hex(f2, (size_t)n2);
    char want[512];
    stream_ctx ctx = {&c, EW_RSCP_DECODE_VALIDATE, 0, 0};
    char *got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
    snprintf(want, sizeof want, "E EW_ERR_OVERRUN @%d;F %s;finish ok;", 18 + 7, h2);
    assert_string_equal(got, want);
    free(got);
    ctx.flags = 0;
    got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
    snprintf(want, sizeof want, "F %s;F %s;finish ok;", h1, h2);
    assert_string_equal(got, want);
    free(got);
    free(ct.p);
    (void)p1;

    /* Reserved control bit in the second frame. */
    ew_rscp_encryptor_init(&e, &c);
    ct = (bytes){0};
    p1 = seal_append(&e, &ct, f2, (size_t)n2);
    f2[2] = 0x01;
    wr32(f2 + n2 - 4, ew_rscp_crc32(0, f2, (size_t)n2 - 4));
    seal_append(&e, &ct, f2, (size_t)n2);
    char *h2r = tu_hex(f2, (size_t)n2);
    ctx.flags = EW_RSCP_DECODE_STRICT;
    got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
    snprintf(want, sizeof want, "F %s;E EW_ERR_BAD_FIELD @%zu;", h2, p1 + 2);
    assert_string_equal(got, want);
    free(got);
    ctx.flags = 0;
    got = tu_check_splits(&ctx, ct.p, ct.len, stream_run);
    snprintf(want, sizeof want, "F %s;F %s;finish ok;", h2, h2r);
    assert_string_equal(got, want);
    free(got);
    free(h1);
    free(h2);
    free(h2r);
    free(ct.p);
}

/* ---- finish --------------------------------------------------------------- */

static void test_finish(void **state) {
    (void)state;
    bytes ct = vector_ciphertext("server_to_client");
    ew_rscp_cipher c;
    cipher_for(&c, "my-rscp-key", EW_RSCP_CIPHER_PORTABLE);
    uint8_t *work = malloc(EW_RSCP_STREAM_BUF_MIN);
    assert_non_null(work);
    ew_rscp_stream s;
    ew_rscp_frame f;
    ew_diag d;
    /* Frame 1 is 32 bytes of ciphertext, frame 2 (poll answer) 160. */

    /* Nothing at all. */
    assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
    assert_int_equal(ew_rscp_stream_finish(&s, &d), EW_OK);
    /* A partial block. */
    for (size_t k = 1; k < 32; k++) {
        assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
        assert_int_equal(ew_rscp_stream_feed(&s, ct.p, k), (int)k);
        assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 0);
        d = (ew_diag){0, 9999, NULL};
        assert_int_equal(ew_rscp_stream_finish(&s, &d), EW_ERR_TRUNCATED);
        assert_int_equal(d.code, EW_ERR_TRUNCATED);
        assert_int_equal(d.offset, 0);
    }
    /* One whole frame: fine; plus part of the next. */
    for (size_t k = 0; k < 160; k++) {
        assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
        assert_int_equal(ew_rscp_stream_feed(&s, ct.p, 32 + k), (int)(32 + k));
        assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 1);
        assert_int_equal(f.frame_len, 30);
        assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 0);
        d = (ew_diag){0, 9999, NULL};
        int rc = ew_rscp_stream_finish(&s, &d);
        if (k == 0) {
            assert_int_equal(rc, EW_OK);
            continue;
        }
        assert_int_equal(rc, EW_ERR_TRUNCATED);
        /* Whole blocks of the cut frame: offset of the frame; only part of
         * its first block: offset of that block (also the frame start). */
        assert_int_equal(d.offset, 32);
        assert_non_null(d.what);
    }
    /* Both frames complete and taken. */
    assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
    assert_int_equal(ew_rscp_stream_feed(&s, ct.p, 192), 192);
    assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 1);
    assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 1);
    assert_int_equal(f.frame_len, 137);
    assert_int_equal(ew_rscp_stream_next(&s, &f, &d), 0);
    assert_int_equal(ew_rscp_stream_finish(&s, &d), EW_OK);

    /* init arguments. */
    assert_int_equal(ew_rscp_stream_init(&s, &c, work, EW_RSCP_STREAM_BUF_MIN - 1, 0),
                     EW_ERR_NOBUF);
    assert_int_equal(ew_rscp_stream_init(&s, NULL, work, EW_RSCP_STREAM_BUF_MIN, 0), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_stream_init(&s, &c, NULL, EW_RSCP_STREAM_BUF_MIN, 0), EW_ERR_INVAL);
    free(work);
    free(ct.p);
}

/* ---- full working buffer ---------------------------------------------- */

static void test_buffer_full(void **state) {
    (void)state;
    ew_rscp_cipher c;
    cipher_for(&c, "my-rscp-key",
               ew_rscp_cipher_aesni_available() ? EW_RSCP_CIPHER_AESNI : EW_RSCP_CIPHER_PORTABLE);
    /* 1000 poll answers (137 bytes, 160 of ciphertext each). */
    json_t *root = tu_load_json("rscp/frames_plain.json");
    size_t n;
    uint8_t *frame = NULL;
    size_t idx;
    const json_t *fj;
    json_array_foreach(json_object_get(root, "frames"), idx, fj) {
        if (strcmp(tu_str(fj, "id"), "poll_response_10_tags") == 0)
            frame = tu_unhex(tu_str(json_object_get(fj, "with_crc"), "frame_hex"), &n);
    }
    json_decref(root);
    assert_non_null(frame);
    assert_int_equal(n, 137);
    ew_rscp_encryptor e;
    ew_rscp_encryptor_init(&e, &c);
    bytes ct = {0};
    const size_t nframes = 1000;
    for (size_t k = 0; k < nframes; k++)
        seal_append(&e, &ct, frame, n);
    assert_int_equal(ct.len, nframes * 160);

    static const size_t caps[] = {EW_RSCP_STREAM_BUF_MIN, EW_RSCP_STREAM_BUF_MIN + 17,
                                  2 * EW_RSCP_STREAM_BUF_MIN};
    for (size_t ci = 0; ci < 3; ci++) {
        uint8_t *work = malloc(caps[ci]);
        assert_non_null(work);
        ew_rscp_stream s;
        assert_int_equal(ew_rscp_stream_init(&s, &c, work, caps[ci], 0), EW_OK);
        size_t usable = caps[ci] - caps[ci] % 32;
        size_t off = 0, got = 0, short_feeds = 0;
        while (off < ct.len) {
            /* Feed without taking frames until the stream refuses. */
            size_t offered = ct.len - off < 7001 ? ct.len - off : 7001;
            size_t pending_before = (size_t)(s.len - s.pos) + s.part_len;
            int rc = ew_rscp_stream_feed(&s, ct.p + off, offered);
            assert_true(rc >= 0);
            off += (size_t)rc;
            if ((size_t)rc < offered) {
                /* Only because the buffer is full: less than a block of room
                 * is left for the unread frames. */
                short_feeds++;
                assert_true(s.len + 32 > usable);
                assert_int_equal(s.part_len, 31);
                assert_true(pending_before + (size_t)rc >= usable);
                /* Offering more changes nothing until frames are taken. */
                assert_int_equal(ew_rscp_stream_feed(&s, ct.p + off, 1), 0);
                ew_rscp_frame f;
                ew_diag d = {0};
                int r;
                while ((r = ew_rscp_stream_next(&s, &f, &d)) == 1) {
                    assert_int_equal(f.frame_len, n);
                    assert_memory_equal(f.data - EW_RSCP_HEADER_LEN, frame, n);
                    got++;
                }
                assert_int_equal(r, 0);
            }
        }
        ew_rscp_frame f;
        ew_diag d = {0};
        int r;
        while ((r = ew_rscp_stream_next(&s, &f, &d)) == 1) {
            assert_memory_equal(f.data - EW_RSCP_HEADER_LEN, frame, n);
            got++;
        }
        assert_int_equal(r, 0);
        assert_int_equal(got, nframes);
        assert_true(short_feeds >= ct.len / usable - 1);
        assert_int_equal(ew_rscp_stream_finish(&s, &d), EW_OK);
        free(work);
    }
    free(frame);
    free(ct.p);

    /* Two largest frames back to back fit one at a time in the minimum
     * buffer. */
    uint8_t *big = malloc(EW_RSCP_CIPHERTEXT_MAX);
    assert_non_null(big);
    uint8_t *val = malloc(65528);
    assert_non_null(val);
    uint64_t seed = 7;
    for (size_t k = 0; k < 65528; k++)
        val[k] = (uint8_t)tu_rand(&seed);
    ew_rscp_builder b;
    ew_rscp_builder_init_frame(&b, big, EW_RSCP_CIPHERTEXT_MAX);
    ew_rscp_builder_add_bytes(&b, 0x0E042010, val, 65528);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, (ew_rscp_timestamp){1, 2}, 1, &n), EW_OK);
    assert_int_equal(n, EW_RSCP_FRAME_MAX);
    uint8_t *plain = malloc(n);
    assert_non_null(plain);
    memcpy(plain, big, n);
    ew_rscp_encryptor_init(&e, &c);
    ct = (bytes){0};
    assert_int_equal(seal_append(&e, &ct, plain, n), EW_RSCP_CIPHERTEXT_MAX);
    assert_int_equal(seal_append(&e, &ct, plain, n), EW_RSCP_CIPHERTEXT_MAX);
    char *plain_hex = tu_hex(plain, n);
    tu_log want = {0};
    tu_logf(&want, "F %s;F %s;finish ok;", plain_hex, plain_hex);
    char *want_s = tu_log_take(&want);
    stream_ctx ctx = {&c, 0, 0, 0};
    size_t whole[1] = {ct.len};
    char *got_s = stream_run(&ctx, ct.p, ct.len, whole, 1);
    assert_string_equal(got_s, want_s);
    free(got_s);
    size_t nch = ct.len / 1000 + 1;
    size_t *chunks = malloc(nch * sizeof *chunks);
    assert_non_null(chunks);
    for (size_t k = 0; k < nch; k++)
        chunks[k] = k + 1 < nch ? 1000 : ct.len - 1000 * (nch - 1);
    got_s = stream_run(&ctx, ct.p, ct.len, chunks, nch);
    assert_string_equal(got_s, want_s);
    free(got_s);
    free(chunks);
    free(want_s);
    free(plain_hex);
    free(plain);
    free(val);
    free(big);
    free(ct.p);
}

/* ---- random round trips --------------------------------------------------- */

static void test_random_roundtrip(void **state) {
    (void)state;
    ew_rscp_cipher_impl which[2];
    int nimpl = impls(which);
    uint64_t seed = 0x5EED0001;
    for (int enc_im = 0; enc_im < nimpl; enc_im++)
        for (int dec_im = 0; dec_im < nimpl; dec_im++) {
            ew_rscp_cipher ce, cd;
            cipher_for(&ce, "round-trip key", which[enc_im]);
            cipher_for(&cd, "round-trip key", which[dec_im]);
            ew_rscp_encryptor e;
            ew_rscp_encryptor_init(&e, &ce);
            bytes ct = {0};
            const size_t nframes = 400;
            uint8_t **frames = calloc(nframes, sizeof *frames);
            size_t *lens = calloc(nframes, sizeof *lens);
            assert_non_null(frames);
            assert_non_null(lens);
            for (size_t k = 0; k < nframes; k++) {
                /* Random value area (often ending in zeros), random CRC flag. */
                size_t dl = (size_t)(tu_rand(&seed) % (k % 50 == 25 ? 9000 : 300));
                uint8_t *data = malloc(dl ? dl : 1);
                assert_non_null(data);
                for (size_t i = 0; i < dl; i++)
                    data[i] = (uint8_t)tu_rand(&seed);
                if (dl && tu_rand(&seed) % 3 == 0)
                    memset(data + dl / 2, 0, dl - dl / 2);
                int crc = (int)(tu_rand(&seed) & 1);
                ew_rscp_timestamp ts = {(int64_t)(tu_rand(&seed) >> 1) - INT64_MAX / 2,
                                        (uint32_t)(tu_rand(&seed) % 1000000000u)};
                size_t need = 0;
                ew_rscp_frame_encode(NULL, 0, data, dl, ts, crc, &need);
                frames[k] = malloc(need);
                assert_non_null(frames[k]);
                assert_int_equal(ew_rscp_frame_encode(frames[k], need, data, dl, ts, crc, NULL),
                                 (int)need);
                lens[k] = need;
                seal_append(&e, &ct, frames[k], need);
                free(data);
            }
            /* Decrypt in random chunks (1 byte .. 5000 bytes). */
            for (int pass = 0; pass < 3; pass++) {
                uint8_t *work = malloc(EW_RSCP_STREAM_BUF_MIN);
                assert_non_null(work);
                ew_rscp_stream s;
                assert_int_equal(ew_rscp_stream_init(&s, &cd, work, EW_RSCP_STREAM_BUF_MIN,
                                                     EW_RSCP_DECODE_STRICT),
                                 EW_OK);
                size_t off = 0, k = 0;
                while (off < ct.len) {
                    size_t maxc = pass == 0 ? 40 : pass == 1 ? 700 : 5000;
                    size_t chunk = 1 + (size_t)(tu_rand(&seed) % maxc);
                    if (chunk > ct.len - off)
                        chunk = ct.len - off;
                    int rc = ew_rscp_stream_feed(&s, ct.p + off, chunk);
                    assert_int_equal(rc, (int)chunk);
                    off += chunk;
                    ew_rscp_frame f;
                    ew_diag d = {0};
                    while ((rc = ew_rscp_stream_next(&s, &f, &d)) == 1) {
                        assert_true(k < nframes);
                        assert_int_equal(f.frame_len, lens[k]);
                        assert_memory_equal(f.data - EW_RSCP_HEADER_LEN, frames[k], lens[k]);
                        k++;
                    }
                    assert_int_equal(rc, 0);
                }
                assert_int_equal(k, nframes);
                assert_int_equal(ew_rscp_stream_finish(&s, NULL), EW_OK);
                assert_memory_equal(s.iv, e.iv, 32);
                free(work);
            }
            /* A prefix of the stream in every chunking, for the first frames. */
            size_t sub = 0, subframes = 0;
            tu_log want = {0};
            while (subframes < nframes && sub + (lens[subframes] + 31) / 32 * 32 <= 1200) {
                char *h = tu_hex(frames[subframes], lens[subframes]);
                tu_logf(&want, "F %s;", h);
                free(h);
                sub += (lens[subframes] + 31) / 32 * 32;
                subframes++;
            }
            assert_true(subframes >= 3);
            tu_logf(&want, "finish ok;");
            char *want_s = tu_log_take(&want);
            stream_ctx ctx = {&cd, 0, 0, 0};
            char *got = tu_check_splits(&ctx, ct.p, sub, stream_run);
            assert_string_equal(got, want_s);
            free(got);
            free(want_s);
            print_message("%s -> %s: %zu frames, %zu bytes, %zu checked in every split\n",
                          ew_rscp_cipher_impl_name(which[enc_im]),
                          ew_rscp_cipher_impl_name(which[dec_im]), nframes, ct.len, subframes);
            for (size_t k = 0; k < nframes; k++)
                free(frames[k]);
            free(frames);
            free(lens);
            free(ct.p);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encrypted_vectors),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_trailing_zeros),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_frame_errors_in_stream),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_buffer_full),
        cmocka_unit_test(test_random_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
