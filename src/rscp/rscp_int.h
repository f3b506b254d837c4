/* Internal helpers shared by the RSCP codec files. */
#ifndef EW_RSCP_INT_H
#define EW_RSCP_INT_H

#include <energywire/rscp.h>
#include <string.h>

static inline uint16_t ew_rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ew_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t ew_rd64(const uint8_t *p) {
    return (uint64_t)ew_rd32(p) | ((uint64_t)ew_rd32(p + 4) << 32);
}
static inline void ew_wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void ew_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void ew_wr64(uint8_t *p, uint64_t v) {
    ew_wr32(p, (uint32_t)v);
    ew_wr32(p + 4, (uint32_t)(v >> 32));
}

/* Sets *d (when given) and returns |code|. */
static inline int ew_fail(ew_diag *d, int code, size_t offset, const char *what) {
    if (d) {
        d->code = code;
        d->offset = offset;
        d->what = what;
    }
    return code;
}

/* Checks the frame header at |p| (at least 18 bytes): magic, version and,
 * when |strict|, reserved bits.  Returns EW_OK or the error (with |d|). */
int ew_rscp_header_check(const uint8_t *p, unsigned flags, size_t base, ew_diag *d);

/* Writes the 18-byte header in front of the |data_len| value bytes at
 * p + 18 and, when |with_crc|, the CRC after them. */
void ew_rscp_frame_seal(uint8_t *p, size_t data_len, ew_rscp_timestamp ts, int with_crc);

/* Rijndael-256 key expansion (Nk = Nb = 8) into 120 column words, shared by
 * both implementations (rijndael256.c). */
void ew_r256_expand_key(const uint8_t key[32], uint32_t w[120]);

/* Portable and AES-NI block functions (rijndael256.c, rijndael256_aesni.c). */
void ew_r256_portable_setkey(ew_rscp_cipher *c, const uint8_t key[32]);
void ew_r256_portable_encrypt(const ew_rscp_cipher *c, const uint8_t in[32], uint8_t out[32]);
void ew_r256_portable_decrypt(const ew_rscp_cipher *c, const uint8_t in[32], uint8_t out[32]);
/* CBC decryption of |nblocks| blocks; may process several blocks at once. */
void ew_r256_portable_cbc_decrypt(const ew_rscp_cipher *c, uint8_t iv[32], const uint8_t *in,
                                  uint8_t *out, size_t nblocks);
#ifdef EW_HAVE_AESNI
int ew_r256_aesni_cpu_ok(void);
void ew_r256_aesni_setkey(ew_rscp_cipher *c, const uint8_t key[32]);
void ew_r256_aesni_encrypt(const ew_rscp_cipher *c, const uint8_t in[32], uint8_t out[32]);
void ew_r256_aesni_decrypt(const ew_rscp_cipher *c, const uint8_t in[32], uint8_t out[32]);
void ew_r256_aesni_cbc_encrypt(const ew_rscp_cipher *c, uint8_t iv[32], const uint8_t *in,
                               uint8_t *out, size_t nblocks);
void ew_r256_aesni_cbc_decrypt(const ew_rscp_cipher *c, uint8_t iv[32], const uint8_t *in,
                               uint8_t *out, size_t nblocks);
#endif

#endif
