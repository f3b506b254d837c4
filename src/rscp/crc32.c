/*
 * CRC-32/ISO-HDLC (zlib's crc32) over header and value area (rscp.md §2.3).
 * The CRC covers every frame received, so it sits on the hot path of
 * decoding (benchmark W2).  Two implementations, identical results:
 *   - slice-by-8 over build-time generated tables (any CPU);
 *   - on x86-64 with PCLMULQDQ, carry-less multiplication folding 64 bytes a
 *     step, then a Barrett reduction (the method of Intel's white paper "Fast
 *     CRC Computation for Generic Polynomials Using PCLMULQDQ"), chosen per
 *     call through the compiler's CPU feature cache.  The CRC is no secret,
 *     so the table path's data-dependent loads leak nothing.
 */
#include "rscp/rscp_int.h"

extern const uint32_t ew_crc32_tab[8][256];

/* |state| is the running (inverted) register. */
static uint32_t crc_tables(uint32_t state, const uint8_t *p, size_t len) {
    const uint32_t(*t)[256] = ew_crc32_tab;
    while (len >= 8) {
        uint32_t lo = state ^ ew_rd32(p);
        uint32_t hi = ew_rd32(p + 4);
        state = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^
                t[4][lo >> 24] ^ t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^
                t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        state = (state >> 8) ^ t[0][(state ^ *p++) & 0xFF];
    return state;
}

#if defined(EW_HAVE_AESNI) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define EW_CRC_TARGET __attribute__((target("pclmul,sse4.1")))

/* Folding constants for the reflected polynomial 0x04C11DB7: x^(n) mod P
 * for the fold distances 4x128+32 / 4x128-32 (R1, R2), 128+32 / 128-32 (R3,
 * R4), 64 (R5), and Barrett's mu and P (all bit-reflected, shifted by 1). */
#define CRC_R1 0x154442bd4ull
#define CRC_R2 0x1c6e41596ull
#define CRC_R3 0x1751997d0ull
#define CRC_R4 0x0ccaa009eull
#define CRC_R5 0x163cd6124ull
#define CRC_MU 0x1f7011641ull
#define CRC_P 0x1db710641ull

EW_CRC_TARGET static inline __m128i fold(__m128i x, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* Processes |len| bytes (>= 64, a multiple of 16) and returns the register. */
EW_CRC_TARGET static uint32_t crc_pclmul(uint32_t state, const uint8_t *p, size_t len) {
    const __m128i k12 = _mm_set_epi64x((long long)CRC_R2, (long long)CRC_R1);
    const __m128i k34 = _mm_set_epi64x((long long)CRC_R4, (long long)CRC_R3);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)state));
    p += 64;
    len -= 64;
    while (len >= 64) {
        x1 = fold(x1, k12, _mm_loadu_si128((const __m128i *)p));
        x2 = fold(x2, k12, _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = fold(x3, k12, _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = fold(x4, k12, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    x1 = fold(x1, k34, x2);
    x1 = fold(x1, k34, x3);
    x1 = fold(x1, k34, x4);
    while (len >= 16) {
        x1 = fold(x1, k34, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    /* 128 -> 64 bits. */
    __m128i t = _mm_srli_si128(x1, 8);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, k34, 0x10), t);
    /* 64 -> 32 bits. */
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    const __m128i k5 = _mm_set_epi64x(0, (long long)CRC_R5);
    t = _mm_srli_si128(x1, 4);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00), t);
    /* Barrett reduction to the 32-bit remainder. */
    const __m128i mu_p = _mm_set_epi64x((long long)CRC_MU, (long long)CRC_P);
    t = x1;
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), mu_p, 0x10);
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), mu_p, 0x00);
    x1 = _mm_xor_si128(x1, t);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int have_pclmul(void) {
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#endif

uint32_t ew_rscp_crc32(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t state = ~crc;
#if defined(EW_HAVE_AESNI) && (defined(__GNUC__) || defined(__clang__))
    if (len >= 64 && have_pclmul()) {
        size_t n = len & ~(size_t)15;
        state = crc_pclmul(state, p, n);
        p += n;
        len -= n;
    }
#endif
    return ~crc_tables(state, p, len);
}
