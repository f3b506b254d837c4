/*
 * Rijndael-256 with AES-NI (x86-64; built with -maes -mssse3 -msse4.1).
 *
 * AES-NI implements the AES round on a 128-bit state: AESENC does ShiftRows,
 * SubBytes, MixColumns and AddRoundKey.  Rijndael-256 has the same SubBytes,
 * MixColumns (per 4-byte column) and AddRoundKey, so a 256-bit state held as
 * two halves (columns 0-3 and 4-7) can use AESENC on each half.  Only
 * ShiftRows differs: Rijndael-256 moves row r left by 0, 1, 3, 4 columns over
 * all 8 columns, AES by 0, 1, 2, 3 columns within each half.  So before each
 * AESENC the bytes are permuted such that AES's ShiftRows applied to the
 * permuted halves yields Rijndael-256's ShiftRows of the real state:
 *
 *   1. exchange the bytes at the positions set in the blend mask between the
 *      halves (a PBLENDVB each way); these are exactly the bytes that must
 *      cross from one half to the other,
 *   2. PSHUFB both halves with the shuffle mask (one mask serves both).
 *
 * SubBytes commutes with any byte permutation, so doing the permutation
 * ahead of AESENC is exact.  Decryption uses the equivalent inverse cipher:
 * AESDEC (InvShiftRows, InvSubBytes, InvMixColumns, AddRoundKey) with
 * InvMixColumns applied to round keys 1..13 (AESIMC), and the permutation
 * (a second blend/shuffle pair) that turns AES's InvShiftRows into
 * Rijndael-256's.
 * The masks were derived by solving, position by position, "AES ShiftRows
 * of the permuted half = Rijndael-256 ShiftRows of the state" and checked
 * against a reference implementation and the test vectors.
 *
 * Key schedule layout in c->ks (as bytes): encryption round keys 0..14 at
 * bytes 0..479, decryption round keys in the order they are used (14, then
 * InvMixColumns'd 13..1, then 0) at bytes 512..991, the four permutation
 * masks at bytes 1024..1087.
 */
#include "rscp_int.h"

#include <cpuid.h>
#include <immintrin.h>

#define R256_ROUNDS 14
#define DEC_OFFSET 64   /* in uint64_t units: byte 512 */
#define MASK_OFFSET 128 /* in uint64_t units: byte 1024 */

int ew_r256_aesni_cpu_ok(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    /* CPUID.1:ECX bit 25 AES, bit 9 SSSE3 (PSHUFB), bit 19 SSE4.1 (PBLENDVB). */
    const unsigned need = (1u << 25) | (1u << 9) | (1u << 19);
    return (c & need) == need;
}

/*
 * SubWord through AESENCLAST with a zero key: with the word in all four
 * columns, ShiftRows changes nothing and the result is SubBytes of the word.
 * This keeps key setup free of table lookups.
 */
static inline __m128i load(const uint8_t *p) {
    return _mm_loadu_si128((const __m128i *)p);
}
static inline void store(uint8_t *p, __m128i x) {
    _mm_storeu_si128((__m128i *)p, x);
}

/*
 * The permutation masks, bytes 0..15 in order.  They are copied into the key
 * schedule and loaded from there instead of being used as constants: with the
 * values in view, clang turns PBLENDVB + PSHUFB into PSHUFB + PSHUFB + POR,
 * which measured about 8 % slower on the serial encryption chain here.
 */
static const uint8_t perm_masks[4][16] = {
    /* encryption: blend, shuffle */
    {0, 255, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 255},
    {0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3},
    /* decryption: blend, shuffle */
    {0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 255, 255, 255},
    {0, 1, 14, 15, 4, 5, 2, 3, 8, 9, 6, 7, 12, 13, 10, 11},
};

/* Mask |i| of perm_masks as stored in |c|'s schedule. */
static inline __m128i mask(const ew_rscp_cipher *c, unsigned i) {
    return load((const uint8_t *)(c->ks + MASK_OFFSET) + 16 * i);
}

void ew_r256_aesni_setkey(ew_rscp_cipher *c, const uint8_t key[32]) {
    uint32_t w[8 * (R256_ROUNDS + 1)];
    ew_r256_expand_key(key, w);
    uint8_t *enc = (uint8_t *)c->ks;
    uint8_t *dec = (uint8_t *)(c->ks + DEC_OFFSET);
    for (unsigned i = 0; i < 8 * (R256_ROUNDS + 1); i++)
        ew_wr32(enc + 4 * i, w[i]);
    for (unsigned r = 0; r <= R256_ROUNDS; r++) {
        const uint8_t *src = enc + 32 * (R256_ROUNDS - r);
        __m128i lo = load(src), hi = load(src + 16);
        if (r != 0 && r != R256_ROUNDS) {
            lo = _mm_aesimc_si128(lo);
            hi = _mm_aesimc_si128(hi);
        }
        store(dec + 32 * r, lo);
        store(dec + 32 * r + 16, hi);
    }
    memcpy(c->ks + MASK_OFFSET, perm_masks, sizeof perm_masks);
    volatile uint32_t *vw = w;
    for (unsigned i = 0; i < 8 * (R256_ROUNDS + 1); i++)
        vw[i] = 0;
}

/* Applies the byte permutation (|blend|, |shuf|) to the halves |*a|, |*b|. */
static inline void permute(__m128i *a, __m128i *b, __m128i blend, __m128i shuf) {
    const __m128i x = _mm_blendv_epi8(*a, *b, blend);
    const __m128i y = _mm_blendv_epi8(*b, *a, blend);
    *a = _mm_shuffle_epi8(x, shuf);
    *b = _mm_shuffle_epi8(y, shuf);
}

/*
 * Rounds 1..13 of encryption on a state that already had round key 0 added,
 * plus the permutation ahead of the last round; the caller does AESENCLAST.
 */
static inline void enc_rounds(const uint8_t *rk, __m128i blend, __m128i shuf, __m128i *a,
                              __m128i *b) {
    __m128i x = *a, y = *b;
    for (unsigned r = 1; r < R256_ROUNDS; r++) {
        permute(&x, &y, blend, shuf);
        x = _mm_aesenc_si128(x, load(rk + 32 * r));
        y = _mm_aesenc_si128(y, load(rk + 32 * r + 16));
    }
    permute(&x, &y, blend, shuf);
    *a = x;
    *b = y;
}

/* Decrypts a state with the decryption schedule |dk| (see setkey). */
static inline void dec_state(const uint8_t *dk, __m128i blend, __m128i shuf, __m128i *a,
                             __m128i *b) {
    __m128i x = _mm_xor_si128(*a, load(dk)), y = _mm_xor_si128(*b, load(dk + 16));
    for (unsigned r = 1; r < R256_ROUNDS; r++) {
        permute(&x, &y, blend, shuf);
        x = _mm_aesdec_si128(x, load(dk + 32 * r));
        y = _mm_aesdec_si128(y, load(dk + 32 * r + 16));
    }
    permute(&x, &y, blend, shuf);
    *a = _mm_aesdeclast_si128(x, load(dk + 32 * R256_ROUNDS));
    *b = _mm_aesdeclast_si128(y, load(dk + 32 * R256_ROUNDS + 16));
}

void ew_r256_aesni_encrypt(const ew_rscp_cipher *c, const uint8_t in[32], uint8_t out[32]) {
    const uint8_t *rk = (const uint8_t *)c->ks;
    __m128i a = _mm_xor_si128(load(in), load(rk)), b = _mm_xor_si128(load(in + 16), load(rk + 16));
    enc_rounds(rk, mask(c, 0), mask(c, 1), &a, &b);
    store(out, _mm_aesenclast_si128(a, load(rk + 32 * R256_ROUNDS)));
    store(out + 16, _mm_aesenclast_si128(b, load(rk + 32 * R256_ROUNDS + 16)));
}

void ew_r256_aesni_decrypt(const ew_rscp_cipher *c, const uint8_t in[32], uint8_t out[32]) {
    __m128i a = load(in), b = load(in + 16);
    dec_state((const uint8_t *)(c->ks + DEC_OFFSET), mask(c, 2), mask(c, 3), &a, &b);
    store(out, a);
    store(out + 16, b);
}

void ew_r256_aesni_cbc_encrypt(const ew_rscp_cipher *c, uint8_t iv[32], const uint8_t *in,
                               uint8_t *out, size_t nblocks) {
    /*
     * Serial by nature: every block waits for the previous ciphertext, so the
     * chain's latency is what counts.  The next block's input is
     * C_i ^ P_i+1 ^ K0 = AESENCLAST(s, K14) ^ T with T = P_i+1 ^ K0, and
     * AESENCLAST ends by adding its key, so using K14 ^ T as the last round
     * key yields it directly; C_i itself (the output, off the chain) is that
     * value ^ T.  After the last block T = K0, which leaves C_n ^ K0.
     */
    if (!nblocks)
        return;
    const uint8_t *rk = (const uint8_t *)c->ks;
    const __m128i blend = mask(c, 0), shuf = mask(c, 1);
    const __m128i k0a = load(rk), k0b = load(rk + 16);
    const __m128i kla = load(rk + 32 * R256_ROUNDS), klb = load(rk + 32 * R256_ROUNDS + 16);
    __m128i a = _mm_xor_si128(_mm_xor_si128(load(iv), load(in)), k0a);
    __m128i b = _mm_xor_si128(_mm_xor_si128(load(iv + 16), load(in + 16)), k0b);
    for (size_t i = 0; i < nblocks; i++, in += 32, out += 32) {
        __m128i ta = k0a, tb = k0b;
        if (i + 1 < nblocks) {
            /* Read before this block's output is stored (in == out). */
            ta = _mm_xor_si128(ta, load(in + 32));
            tb = _mm_xor_si128(tb, load(in + 48));
        }
        enc_rounds(rk, blend, shuf, &a, &b);
        a = _mm_aesenclast_si128(a, _mm_xor_si128(kla, ta));
        b = _mm_aesenclast_si128(b, _mm_xor_si128(klb, tb));
        store(out, _mm_xor_si128(a, ta));
        store(out + 16, _mm_xor_si128(b, tb));
    }
    store(iv, _mm_xor_si128(a, k0a));
    store(iv + 16, _mm_xor_si128(b, k0b));
}

/* One decryption round (AESDEC, or AESDECLAST when |last|) on one state. */
static inline void dec_round(__m128i *a, __m128i *b, __m128i ka, __m128i kb, __m128i blend,
                             __m128i shuf, int last) {
    permute(a, b, blend, shuf);
    *a = last ? _mm_aesdeclast_si128(*a, ka) : _mm_aesdec_si128(*a, ka);
    *b = last ? _mm_aesdeclast_si128(*b, kb) : _mm_aesdec_si128(*b, kb);
}

void ew_r256_aesni_cbc_decrypt(const ew_rscp_cipher *c, uint8_t iv[32], const uint8_t *in,
                               uint8_t *out, size_t nblocks) {
    const uint8_t *dk = (const uint8_t *)(c->ks + DEC_OFFSET);
    const __m128i blend = mask(c, 2), shuf = mask(c, 3);
    __m128i pa = load(iv), pb = load(iv + 16);
    /*
     * Blocks are independent when decrypting, so four are interleaved to keep
     * the AES units busy during each AESDEC's latency.  Written out with named
     * variables (not arrays) so that the eight halves stay in registers even
     * when the compiler does not unroll loops.
     */
    for (; nblocks >= 4; nblocks -= 4, in += 128, out += 128) {
        __m128i ka = load(dk), kb = load(dk + 16);
        __m128i a0 = _mm_xor_si128(load(in), ka), b0 = _mm_xor_si128(load(in + 16), kb);
        __m128i a1 = _mm_xor_si128(load(in + 32), ka), b1 = _mm_xor_si128(load(in + 48), kb);
        __m128i a2 = _mm_xor_si128(load(in + 64), ka), b2 = _mm_xor_si128(load(in + 80), kb);
        __m128i a3 = _mm_xor_si128(load(in + 96), ka), b3 = _mm_xor_si128(load(in + 112), kb);
        for (unsigned r = 1; r <= R256_ROUNDS; r++) {
            const int last = r == R256_ROUNDS;
            ka = load(dk + 32 * r);
            kb = load(dk + 32 * r + 16);
            dec_round(&a0, &b0, ka, kb, blend, shuf, last);
            dec_round(&a1, &b1, ka, kb, blend, shuf, last);
            dec_round(&a2, &b2, ka, kb, blend, shuf, last);
            dec_round(&a3, &b3, ka, kb, blend, shuf, last);
        }
        /* The ciphertext is read again for the chaining XOR, from the last
         * block down, so that with in == out nothing is read after it has
         * been overwritten. */
        const __m128i na = load(in + 96), nb = load(in + 112);
        store(out + 112, _mm_xor_si128(b3, load(in + 80)));
        store(out + 96, _mm_xor_si128(a3, load(in + 64)));
        store(out + 80, _mm_xor_si128(b2, load(in + 48)));
        store(out + 64, _mm_xor_si128(a2, load(in + 32)));
        store(out + 48, _mm_xor_si128(b1, load(in + 16)));
        store(out + 32, _mm_xor_si128(a1, load(in)));
        store(out + 16, _mm_xor_si128(b0, pb));
        store(out, _mm_xor_si128(a0, pa));
        pa = na;
        pb = nb;
    }
    for (; nblocks; nblocks--, in += 32, out += 32) {
        const __m128i ca = load(in), cb = load(in + 16);
        __m128i a = ca, b = cb;
        dec_state(dk, blend, shuf, &a, &b);
        store(out, _mm_xor_si128(a, pa));
        store(out + 16, _mm_xor_si128(b, pb));
        pa = ca;
        pb = cb;
    }
    store(iv, pa);
    store(iv + 16, pb);
}
