/*
 * RSCP cipher (rscp.md §5): key derivation, Rijndael-256-CBC against the
 * vectors produced with pye3dc/py3rijndael and cross-checked with E3/DC's
 * C++ example and BouncyCastle, the IV chain across frames, padding on seal,
 * and agreement of the portable and AES-NI implementations on random input.
 * Every vector runs with both implementations; AES-NI is skipped (with a
 * message) only on a CPU or build without it.
 */
#include "testutil.h"

#include <energywire/rscp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ew_rscp_cipher_impl impls[] = {EW_RSCP_CIPHER_PORTABLE, EW_RSCP_CIPHER_AESNI};
#define NIMPLS (sizeof impls / sizeof impls[0])

static int skip_noted;

/*
 * Sets |c| up for |impl|.  Returns 0 when this machine (or build) cannot run
 * AES-NI, after checking that init refuses it and saying so once.
 */
static int setup(ew_rscp_cipher *c, const uint8_t key[32], ew_rscp_cipher_impl impl) {
    if (impl == EW_RSCP_CIPHER_AESNI && !ew_rscp_cipher_aesni_available()) {
        assert_int_equal(ew_rscp_cipher_init(c, key, impl), EW_ERR_INVAL);
        if (!skip_noted++)
            print_message("AES-NI not available here: only the portable implementation is "
                          "tested\n");
        return 0;
    }
    assert_int_equal(ew_rscp_cipher_init(c, key, impl), EW_OK);
    assert_int_equal(ew_rscp_cipher_impl_of(c), impl);
    return 1;
}

/* Asserts that |n| bytes at |got| equal the hex string |want|. */
static void assert_hex(const uint8_t *got, size_t n, const char *want, const char *what) {
    char *h = tu_hex(got, n);
    if (strcmp(h, want) != 0)
        fail_msg("%s:\n got  %s\n want %s", what, h, want);
    free(h);
}

static void derive_str(const char *s, uint8_t key[32]) {
    ew_rscp_key_derive(s, strlen(s), key);
}

/* ---- key derivation (rscp.md §5.2) ------------------------------------- */

static void test_key_derive(void **state) {
    (void)state;
    uint8_t k[32];
    assert_int_equal(ew_rscp_key_derive("testkey", 7, k), 7);
    assert_hex(k, 32, "746573746b6579ffffffffffffffffffffffffffffffffffffffffffffffffff",
               "testkey");

    memset(k, 0, sizeof k);
    assert_int_equal(ew_rscp_key_derive(NULL, 0, k), 0);
    assert_hex(k, 32, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "empty");

    const char *k32 = "0123456789abcdef0123456789abcdef";
    assert_int_equal(ew_rscp_key_derive(k32, 32, k), 32);
    assert_memory_equal(k, k32, 32);

    /* Longer than 32: truncated as E3/DC's example does; the return value
     * tells the caller that bytes were dropped. */
    json_t *root = tu_load_json("rscp/crypto_rijndael256_cbc.json");
    const json_t *lk = json_object_get(root, "long_key");
    const char *ks = tu_str(lk, "key_string");
    assert_int_equal(ew_rscp_key_derive(ks, strlen(ks), k), 32);
    assert_true(strlen(ks) > 32);
    assert_hex(k, 32, tu_str(lk, "derived_key_hex_if_truncated"), "long key");

    /* Every case's key string (including non-ASCII UTF-8). */
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *s = tu_str(c, "key_string");
        assert_int_equal(ew_rscp_key_derive(s, strlen(s), k), strlen(s));
        assert_hex(k, 32, tu_str(c, "derived_key_hex"), tu_str(c, "id"));
    }
    json_decref(root);
}

/* ---- implementation selection ------------------------------------------ */

static void test_impl_select(void **state) {
    (void)state;
    uint8_t key[32];
    ew_rscp_cipher c;
    derive_str("my-rscp-key", key);

    assert_string_equal(ew_rscp_cipher_impl_name(EW_RSCP_CIPHER_PORTABLE), "portable");
    assert_string_equal(ew_rscp_cipher_impl_name(EW_RSCP_CIPHER_AESNI), "aesni");
    assert_string_equal(ew_rscp_cipher_impl_name(EW_RSCP_CIPHER_AUTO), "auto");
    assert_null(ew_rscp_cipher_impl_name((ew_rscp_cipher_impl)7));

    const int have = ew_rscp_cipher_aesni_available();
    assert_true(have == 0 || have == 1);
    assert_int_equal(ew_rscp_cipher_init(&c, key, EW_RSCP_CIPHER_AUTO), EW_OK);
    assert_int_equal(ew_rscp_cipher_impl_of(&c),
                     have ? EW_RSCP_CIPHER_AESNI : EW_RSCP_CIPHER_PORTABLE);
    assert_int_equal(ew_rscp_cipher_init(&c, key, EW_RSCP_CIPHER_AESNI),
                     have ? EW_OK : EW_ERR_INVAL);
    assert_int_equal(ew_rscp_cipher_init(&c, key, EW_RSCP_CIPHER_PORTABLE), EW_OK);
    assert_int_equal(ew_rscp_cipher_impl_of(&c), EW_RSCP_CIPHER_PORTABLE);

    assert_int_equal(ew_rscp_cipher_init(&c, key, (ew_rscp_cipher_impl)7), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_cipher_init(NULL, key, EW_RSCP_CIPHER_PORTABLE), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_cipher_init(&c, NULL, EW_RSCP_CIPHER_PORTABLE), EW_ERR_INVAL);
}

/* ---- CBC vectors --------------------------------------------------------- */

/* Runs one "cases" entry through every path of implementation |impl|. */
static void check_case(const json_t *tc, ew_rscp_cipher_impl impl) {
    const char *id = tu_str(tc, "id");
    uint8_t key[32], iv[32];
    ew_rscp_cipher c;
    derive_str(tu_str(tc, "key_string"), key);
    assert_hex(key, 32, tu_str(tc, "derived_key_hex"), id);
    if (!setup(&c, key, impl))
        return;

    size_t ivlen, plen, padlen, ctlen, nextlen;
    uint8_t *iv0 = tu_unhex(tu_str(tc, "iv_hex"), &ivlen);
    uint8_t *pt = tu_unhex(tu_str(tc, "plaintext_hex"), &plen);
    uint8_t *pad = tu_unhex(tu_str(tc, "padded_plaintext_hex"), &padlen);
    uint8_t *ct = tu_unhex(tu_str(tc, "ciphertext_hex"), &ctlen);
    uint8_t *next = tu_unhex(tu_str(tc, "next_iv_hex"), &nextlen);
    assert_int_equal(ivlen, 32);
    assert_int_equal(nextlen, 32);
    assert_int_equal(padlen, ctlen);
    assert_int_equal(padlen, (plen + 31) / 32 * 32);

    uint8_t *buf = malloc(padlen + 32);
    assert_non_null(buf);

    /* Separate buffers. */
    memcpy(iv, iv0, 32);
    assert_int_equal(ew_rscp_cbc_encrypt(&c, iv, pad, buf, padlen), EW_OK);
    assert_memory_equal(buf, ct, ctlen);
    assert_memory_equal(iv, next, 32);
    memcpy(iv, iv0, 32);
    assert_int_equal(ew_rscp_cbc_decrypt(&c, iv, ct, buf, ctlen), EW_OK);
    assert_memory_equal(buf, pad, padlen);
    assert_memory_equal(iv, next, 32);

    /* In place. */
    memcpy(buf, pad, padlen);
    memcpy(iv, iv0, 32);
    assert_int_equal(ew_rscp_cbc_encrypt(&c, iv, buf, buf, padlen), EW_OK);
    assert_memory_equal(buf, ct, ctlen);
    memcpy(iv, iv0, 32);
    assert_int_equal(ew_rscp_cbc_decrypt(&c, iv, buf, buf, ctlen), EW_OK);
    assert_memory_equal(buf, pad, padlen);
    assert_memory_equal(iv, next, 32);

    /* The sending side: zero padding is added by seal. */
    ew_rscp_encryptor e;
    ew_rscp_encryptor_init(&e, &c);
    memcpy(e.iv, iv0, 32);
    memcpy(buf, pt, plen);
    assert_int_equal(ew_rscp_encryptor_seal(&e, buf, plen, padlen + 32), (int)ctlen);
    assert_memory_equal(buf, ct, ctlen);
    assert_memory_equal(e.iv, next, 32);

    free(buf);
    free(iv0);
    free(pt);
    free(pad);
    free(ct);
    free(next);
}

static void test_cbc_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/crypto_rijndael256_cbc.json");
    size_t i, n = 0;
    const json_t *tc;
    json_array_foreach(json_object_get(root, "cases"), i, tc) {
        for (size_t k = 0; k < NIMPLS; k++)
            check_case(tc, impls[k]);
        n++;
    }
    assert_true(n >= 12);
    json_decref(root);
}

static void test_long_key(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/crypto_rijndael256_cbc.json");
    const json_t *lk = json_object_get(root, "long_key");
    const char *ks = tu_str(lk, "key_string");
    size_t plen, ctlen;
    uint8_t *pt = tu_unhex(tu_str(lk, "plaintext_hex"), &plen);
    uint8_t *ct = tu_unhex(tu_str(lk, "ciphertext_hex_if_truncated"), &ctlen);
    assert_int_equal(ctlen, (plen + 31) / 32 * 32);
    uint8_t key[32];
    assert_int_equal(ew_rscp_key_derive(ks, strlen(ks), key), 32);

    for (size_t k = 0; k < NIMPLS; k++) {
        ew_rscp_cipher c;
        if (!setup(&c, key, impls[k]))
            continue;
        uint8_t *buf = calloc(1, ctlen);
        assert_non_null(buf);
        memcpy(buf, pt, plen);
        ew_rscp_encryptor e;
        ew_rscp_encryptor_init(&e, &c);
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, plen, ctlen), (int)ctlen);
        assert_memory_equal(buf, ct, ctlen);
        assert_memory_equal(e.iv, ct + ctlen - 32, 32);
        uint8_t iv[32];
        memset(iv, 0xFF, 32);
        assert_int_equal(ew_rscp_cbc_decrypt(&c, iv, buf, buf, ctlen), EW_OK);
        assert_memory_equal(buf, pt, plen);
        for (size_t j = plen; j < ctlen; j++)
            assert_int_equal(buf[j], 0);
        free(buf);
    }
    free(pt);
    free(ct);
    json_decref(root);
}

/* ---- IV chain across messages (rscp.md §5.3) ---------------------------- */

static void test_chain(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/crypto_rijndael256_cbc.json");
    const json_t *ch = json_object_get(root, "chain");
    uint8_t key[32];
    derive_str(tu_str(ch, "key_string"), key);
    assert_hex(key, 32, tu_str(ch, "derived_key_hex"), "chain key");
    size_t all_ctlen, all_ptlen;
    uint8_t *all_ct = tu_unhex(tu_str(ch, "concatenated_ciphertext_hex"), &all_ctlen);
    uint8_t *all_pt = tu_unhex(tu_str(ch, "concatenated_padded_plaintext_hex"), &all_ptlen);
    assert_int_equal(all_ctlen, all_ptlen);
    assert_int_equal(all_ctlen % 32, 0);

    for (size_t k = 0; k < NIMPLS; k++) {
        ew_rscp_cipher c;
        if (!setup(&c, key, impls[k]))
            continue;

        /* Message by message through one encryptor. */
        ew_rscp_encryptor e;
        ew_rscp_encryptor_init(&e, &c);
        size_t i, off = 0;
        const json_t *m;
        json_array_foreach(json_object_get(ch, "messages"), i, m) {
            size_t plen, ctlen, ivlen;
            uint8_t *pt = tu_unhex(tu_str(m, "plaintext_hex"), &plen);
            uint8_t *ct = tu_unhex(tu_str(m, "ciphertext_hex"), &ctlen);
            uint8_t *ivb = tu_unhex(tu_str(m, "iv_before_hex"), &ivlen);
            assert_memory_equal(e.iv, ivb, 32);
            uint8_t buf[256];
            assert_true(ctlen <= sizeof buf);
            memcpy(buf, pt, plen);
            assert_int_equal(ew_rscp_encryptor_seal(&e, buf, plen, sizeof buf), (int)ctlen);
            assert_memory_equal(buf, ct, ctlen);
            assert_hex(e.iv, 32, tu_str(m, "iv_after_hex"), "iv_after");
            assert_memory_equal(all_ct + off, ct, ctlen);
            off += ctlen;
            free(pt);
            free(ct);
            free(ivb);
        }
        assert_int_equal(off, all_ctlen);

        /* The whole stream decrypts in one call... */
        uint8_t iv[32];
        uint8_t *buf = malloc(all_ctlen);
        assert_non_null(buf);
        memset(iv, 0xFF, 32);
        assert_int_equal(ew_rscp_cbc_decrypt(&c, iv, all_ct, buf, all_ctlen), EW_OK);
        assert_memory_equal(buf, all_pt, all_ptlen);
        assert_memory_equal(iv, e.iv, 32);

        /* ...and in block-aligned pieces with the IV carried over. */
        static const size_t pieces[] = {64, 32, 64};
        memset(iv, 0xFF, 32);
        memset(buf, 0, all_ctlen);
        off = 0;
        for (size_t p = 0; p <= 3; p++) {
            size_t n = p < 3 ? pieces[p] : all_ctlen - off;
            assert_int_equal(ew_rscp_cbc_decrypt(&c, iv, all_ct + off, buf + off, n), EW_OK);
            off += n;
            assert_memory_equal(iv, all_ct + off - 32, 32);
        }
        assert_memory_equal(buf, all_pt, all_ptlen);

        /* Encrypting the padded concatenation in one call gives the stream. */
        memset(iv, 0xFF, 32);
        assert_int_equal(ew_rscp_cbc_encrypt(&c, iv, all_pt, buf, all_ptlen), EW_OK);
        assert_memory_equal(buf, all_ct, all_ctlen);
        free(buf);
    }
    free(all_ct);
    free(all_pt);
    json_decref(root);
}

/* ---- encrypted frames, both directions ---------------------------------- */

static void check_direction(const ew_rscp_cipher *c, const json_t *frames, const char *dir) {
    ew_rscp_encryptor e;
    ew_rscp_encryptor_init(&e, c);
    uint8_t div[32];
    memset(div, 0xFF, 32);
    size_t i, n = 0;
    const json_t *f;
    json_array_foreach(frames, i, f) {
        size_t flen, padlen, ctlen;
        uint8_t *fr = tu_unhex(tu_str(f, "plain_frame_hex"), &flen);
        uint8_t *pad = tu_unhex(tu_str(f, "padded_plain_hex"), &padlen);
        uint8_t *ct = tu_unhex(tu_str(f, "ciphertext_hex"), &ctlen);
        assert_int_equal(padlen, ctlen);
        assert_hex(e.iv, 32, tu_str(f, "iv_before_hex"), dir);

        uint8_t buf[512];
        assert_true(ctlen <= sizeof buf);
        memset(buf, 0xAA, sizeof buf); /* padding must be written as zeros */
        memcpy(buf, fr, flen);
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, flen, sizeof buf), (int)ctlen);
        assert_memory_equal(buf, ct, ctlen);
        assert_int_equal(buf[ctlen], 0xAA);
        assert_hex(e.iv, 32, tu_str(f, "iv_after_hex"), dir);

        /* The receiving side, block-wise CBC with its own chain. */
        assert_int_equal(ew_rscp_cbc_decrypt(c, div, buf, buf, ctlen), EW_OK);
        assert_memory_equal(buf, pad, padlen);
        assert_memory_equal(div, e.iv, 32);
        free(fr);
        free(pad);
        free(ct);
        n++;
    }
    assert_int_equal(n, 4);
}

static void test_frames_encrypted(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_encrypted.json");
    uint8_t key[32];
    derive_str(tu_str(root, "key_string"), key);
    assert_hex(key, 32, tu_str(root, "derived_key_hex"), "frames key");
    for (size_t k = 0; k < NIMPLS; k++) {
        ew_rscp_cipher c;
        if (!setup(&c, key, impls[k]))
            continue;
        check_direction(&c, json_object_get(root, "client_to_server"), "client_to_server");
        check_direction(&c, json_object_get(root, "server_to_client"), "server_to_client");
    }
    json_decref(root);
}

/* ---- single blocks -------------------------------------------------------- */

static void test_block(void **state) {
    (void)state;
    /* k0_32: one block under IV ff..ff, so E(p ^ ff..ff) is the ciphertext. */
    uint8_t key[32], in[32], out[32], want[32];
    derive_str("my-rscp-key", key);
    for (unsigned i = 0; i < 32; i++)
        in[i] = (uint8_t)(i ^ 0xFF);
    static const char ct_hex[] = "88cc29b8708285111ba974b5aeb8031ca83ff1fe90de4b99b84d5453cc80c795";
    for (unsigned i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(ct_hex + 2 * i, "%2x", &v), 1);
        want[i] = (uint8_t)v;
    }
    for (size_t k = 0; k < NIMPLS; k++) {
        ew_rscp_cipher c;
        if (!setup(&c, key, impls[k]))
            continue;
        ew_rscp_block_encrypt(&c, in, out);
        assert_memory_equal(out, want, 32);
        ew_rscp_block_decrypt(&c, out, out);
        assert_memory_equal(out, in, 32);
        memcpy(out, in, 32);
        ew_rscp_block_encrypt(&c, out, out);
        assert_memory_equal(out, want, 32);
    }
}

/* ---- argument checks -------------------------------------------------------- */

static void test_bad_lengths(void **state) {
    (void)state;
    uint8_t key[32], iv[32], in[96], out[96];
    derive_str("my-rscp-key", key);
    memset(in, 0x11, sizeof in);
    static const size_t bad[] = {1, 16, 31, 33, 63, 95};
    for (size_t k = 0; k < NIMPLS; k++) {
        ew_rscp_cipher c;
        if (!setup(&c, key, impls[k]))
            continue;
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            memset(iv, 0x5A, sizeof iv);
            memset(out, 0xAA, sizeof out);
            assert_int_equal(ew_rscp_cbc_encrypt(&c, iv, in, out, bad[j]), EW_ERR_INVAL);
            assert_int_equal(ew_rscp_cbc_decrypt(&c, iv, in, out, bad[j]), EW_ERR_INVAL);
            for (size_t i = 0; i < sizeof out; i++)
                assert_int_equal(out[i], 0xAA);
            for (size_t i = 0; i < sizeof iv; i++)
                assert_int_equal(iv[i], 0x5A);
        }
        /* Zero bytes is a valid, empty operation that keeps the chain. */
        memset(iv, 0x5A, sizeof iv);
        assert_int_equal(ew_rscp_cbc_encrypt(&c, iv, in, out, 0), EW_OK);
        assert_int_equal(ew_rscp_cbc_decrypt(&c, iv, in, out, 0), EW_OK);
        assert_int_equal(out[0], 0xAA);
        assert_int_equal(iv[0], 0x5A);
        assert_int_equal(iv[31], 0x5A);
    }
}

/* ---- seal: padding and buffer size -------------------------------------- */

static void test_seal(void **state) {
    (void)state;
    uint8_t key[32], buf[128], ref[128], iv[32];
    derive_str("my-rscp-key", key);
    for (size_t k = 0; k < NIMPLS; k++) {
        ew_rscp_cipher c;
        if (!setup(&c, key, impls[k]))
            continue;
        ew_rscp_encryptor e;
        ew_rscp_encryptor_init(&e, &c);
        for (unsigned i = 0; i < 32; i++)
            assert_int_equal(e.iv[i], 0xFF);
        assert_ptr_equal(e.cipher, &c);

        /* Aligned: no extra block, the byte after the frame is untouched. */
        for (unsigned i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)(i < 64 ? i : 0xAA);
        memcpy(ref, buf, 64);
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, 64, sizeof buf), 64);
        assert_int_equal(buf[64], 0xAA);
        memset(iv, 0xFF, 32);
        assert_int_equal(ew_rscp_cbc_encrypt(&c, iv, ref, ref, 64), EW_OK);
        assert_memory_equal(buf, ref, 64);
        assert_memory_equal(e.iv, buf + 32, 32);

        /* 33 bytes: padded with 31 zeros to 64, continuing the chain. */
        uint8_t chain[32];
        memcpy(chain, e.iv, 32);
        memset(buf, 0xAA, sizeof buf);
        memset(buf, 0x42, 33);
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, 33, 64), 64);
        assert_int_equal(buf[64], 0xAA);
        assert_memory_equal(e.iv, buf + 32, 32);
        assert_int_equal(ew_rscp_cbc_decrypt(&c, chain, buf, buf, 64), EW_OK);
        for (unsigned i = 0; i < 64; i++)
            assert_int_equal(buf[i], i < 33 ? 0x42 : 0x00);

        /* Too small: EW_ERR_NOBUF, and neither buffer nor chain changes. */
        memcpy(chain, e.iv, 32);
        memset(buf, 0x42, sizeof buf);
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, 33, 63), EW_ERR_NOBUF);
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, 1, 31), EW_ERR_NOBUF);
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, 64, 63), EW_ERR_NOBUF);
        assert_memory_equal(e.iv, chain, 32);
        for (unsigned i = 0; i < sizeof buf; i++)
            assert_int_equal(buf[i], 0x42);

        /* Empty frame: nothing to send, chain kept. */
        assert_int_equal(ew_rscp_encryptor_seal(&e, buf, 0, 0), 0);
        assert_memory_equal(e.iv, chain, 32);
    }
}

/* ---- portable vs AES-NI on random input ---------------------------------- */

static void fill(uint64_t *rng, uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(tu_rand(rng) >> 56);
}

static void test_random_cross(void **state) {
    (void)state;
    enum { MAXB = 41 };
    uint64_t rng = 0x5EED0C1FE5ull;
    uint8_t key[32], iv0[32], ivp[32], iva[32];
    uint8_t *pt = malloc(MAXB * 32), *cp = malloc(MAXB * 32), *ca = malloc(MAXB * 32);
    uint8_t *dp = malloc(MAXB * 32);
    assert_true(pt && cp && ca && dp);
    const int have = ew_rscp_cipher_aesni_available();
    if (!have && !skip_noted++)
        print_message("AES-NI not available here: only the portable implementation is "
                      "tested\n");

    for (int iter = 0; iter < 300; iter++) {
        ew_rscp_cipher p, a;
        fill(&rng, key, 32);
        fill(&rng, iv0, 32);
        /* Lengths cover the 4-way (AES-NI) and 2-way (portable) batches and
         * every remainder. */
        const size_t nb = iter < MAXB ? (size_t)iter : (size_t)(tu_rand(&rng) % (MAXB + 1));
        const size_t len = nb * 32;
        fill(&rng, pt, len);
        assert_int_equal(ew_rscp_cipher_init(&p, key, EW_RSCP_CIPHER_PORTABLE), EW_OK);

        memcpy(ivp, iv0, 32);
        assert_int_equal(ew_rscp_cbc_encrypt(&p, ivp, pt, cp, len), EW_OK);
        if (nb)
            assert_memory_equal(ivp, cp + len - 32, 32);
        else
            assert_memory_equal(ivp, iv0, 32);

        memcpy(ivp, iv0, 32);
        assert_int_equal(ew_rscp_cbc_decrypt(&p, ivp, cp, dp, len), EW_OK);
        assert_memory_equal(dp, pt, len);

        if (!have)
            continue;
        assert_int_equal(ew_rscp_cipher_init(&a, key, EW_RSCP_CIPHER_AESNI), EW_OK);
        memcpy(iva, iv0, 32);
        assert_int_equal(ew_rscp_cbc_encrypt(&a, iva, pt, ca, len), EW_OK);
        assert_memory_equal(ca, cp, len);
        assert_memory_equal(iva, ivp, 32);

        /* Decrypt random ciphertext (not only our own) both ways, in place
         * for AES-NI, and compare. */
        fill(&rng, cp, len);
        memcpy(ca, cp, len);
        memcpy(ivp, iv0, 32);
        memcpy(iva, iv0, 32);
        assert_int_equal(ew_rscp_cbc_decrypt(&p, ivp, cp, dp, len), EW_OK);
        assert_int_equal(ew_rscp_cbc_decrypt(&a, iva, ca, ca, len), EW_OK);
        assert_memory_equal(ca, dp, len);
        assert_memory_equal(iva, ivp, 32);

        /* Single blocks. */
        if (nb) {
            uint8_t x[32], y[32];
            ew_rscp_block_encrypt(&p, pt, x);
            ew_rscp_block_encrypt(&a, pt, y);
            assert_memory_equal(x, y, 32);
            ew_rscp_block_decrypt(&p, pt, x);
            ew_rscp_block_decrypt(&a, pt, y);
            assert_memory_equal(x, y, 32);
        }
    }
    free(pt);
    free(cp);
    free(ca);
    free(dp);
}

/* In-place equals out-of-place for every batch remainder, both directions. */
static void test_in_place(void **state) {
    (void)state;
    uint64_t rng = 42;
    uint8_t key[32], iv0[32], iv1[32], iv2[32], pt[11 * 32], a[11 * 32], b[11 * 32];
    fill(&rng, key, 32);
    fill(&rng, iv0, 32);
    fill(&rng, pt, sizeof pt);
    for (size_t k = 0; k < NIMPLS; k++) {
        ew_rscp_cipher c;
        if (!setup(&c, key, impls[k]))
            continue;
        for (size_t nb = 1; nb <= 11; nb++) {
            memcpy(iv1, iv0, 32);
            memcpy(iv2, iv0, 32);
            memcpy(b, pt, nb * 32);
            assert_int_equal(ew_rscp_cbc_encrypt(&c, iv1, pt, a, nb * 32), EW_OK);
            assert_int_equal(ew_rscp_cbc_encrypt(&c, iv2, b, b, nb * 32), EW_OK);
            assert_memory_equal(a, b, nb * 32);
            assert_memory_equal(iv1, iv2, 32);

            memcpy(iv1, iv0, 32);
            memcpy(iv2, iv0, 32);
            assert_int_equal(ew_rscp_cbc_decrypt(&c, iv1, a, a, nb * 32), EW_OK);
            assert_memory_equal(a, pt, nb * 32);
            assert_int_equal(ew_rscp_cbc_decrypt(&c, iv2, b, b, nb * 32), EW_OK);
            assert_memory_equal(b, pt, nb * 32);
            assert_memory_equal(iv1, iv2, 32);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_derive),  cmocka_unit_test(test_impl_select),
        cmocka_unit_test(test_cbc_vectors), cmocka_unit_test(test_long_key),
        cmocka_unit_test(test_chain),       cmocka_unit_test(test_frames_encrypted),
        cmocka_unit_test(test_block),       cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_seal),        cmocka_unit_test(test_random_cross),
        cmocka_unit_test(test_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
