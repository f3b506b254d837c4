/*
 * RSCP cipher front end (rscp.md §5): key derivation, choice between the
 * portable and the AES-NI Rijndael-256 implementation, CBC with the chain
 * state kept by the caller, and the sending side's pad-and-seal.
 */
#include "rscp_int.h"

#include <limits.h>

size_t ew_rscp_key_derive(const char *key, size_t len, uint8_t out[EW_RSCP_KEY_LEN]) {
    /* rscp.md §5.2: E3/DC's own code truncates long keys to 32 bytes (other
     * clients refuse them); short keys are padded with 0xFF. */
    const size_t n = len < EW_RSCP_KEY_LEN ? len : EW_RSCP_KEY_LEN;
    if (n)
        memcpy(out, key, n);
    memset(out + n, 0xFF, EW_RSCP_KEY_LEN - n);
    return n;
}

int ew_rscp_cipher_aesni_available(void) {
#ifdef EW_HAVE_AESNI
    /* Asked every time rather than cached: the library keeps no mutable
     * statics, and CPUID costs far less than a key expansion. */
    return ew_r256_aesni_cpu_ok();
#else
    return 0;
#endif
}

int ew_rscp_cipher_init(ew_rscp_cipher *c, const uint8_t key[EW_RSCP_KEY_LEN],
                        ew_rscp_cipher_impl impl) {
    if (!c || !key)
        return EW_ERR_INVAL;
    if (impl == EW_RSCP_CIPHER_AUTO)
        impl = ew_rscp_cipher_aesni_available() ? EW_RSCP_CIPHER_AESNI : EW_RSCP_CIPHER_PORTABLE;
    switch (impl) {
    case EW_RSCP_CIPHER_PORTABLE:
        memset(c->ks, 0, sizeof c->ks);
        ew_r256_portable_setkey(c, key);
        break;
    case EW_RSCP_CIPHER_AESNI:
#ifdef EW_HAVE_AESNI
        if (!ew_r256_aesni_cpu_ok())
            return EW_ERR_INVAL;
        memset(c->ks, 0, sizeof c->ks);
        ew_r256_aesni_setkey(c, key);
        break;
#else
        return EW_ERR_INVAL;
#endif
    default:
        return EW_ERR_INVAL;
    }
    c->impl = (int)impl;
    return EW_OK;
}

ew_rscp_cipher_impl ew_rscp_cipher_impl_of(const ew_rscp_cipher *c) {
    return (ew_rscp_cipher_impl)c->impl;
}

const char *ew_rscp_cipher_impl_name(ew_rscp_cipher_impl impl) {
    switch (impl) {
    case EW_RSCP_CIPHER_AUTO:
        return "auto";
    case EW_RSCP_CIPHER_PORTABLE:
        return "portable";
    case EW_RSCP_CIPHER_AESNI:
        return "aesni";
    }
    return NULL;
}

void ew_rscp_block_encrypt(const ew_rscp_cipher *c, const uint8_t in[EW_RSCP_BLOCK],
                           uint8_t out[EW_RSCP_BLOCK]) {
#ifdef EW_HAVE_AESNI
    if (c->impl == EW_RSCP_CIPHER_AESNI) {
        ew_r256_aesni_encrypt(c, in, out);
        return;
    }
#endif
    ew_r256_portable_encrypt(c, in, out);
}

void ew_rscp_block_decrypt(const ew_rscp_cipher *c, const uint8_t in[EW_RSCP_BLOCK],
                           uint8_t out[EW_RSCP_BLOCK]) {
#ifdef EW_HAVE_AESNI
    if (c->impl == EW_RSCP_CIPHER_AESNI) {
        ew_r256_aesni_decrypt(c, in, out);
        return;
    }
#endif
    ew_r256_portable_decrypt(c, in, out);
}

int ew_rscp_cbc_encrypt(const ew_rscp_cipher *c, uint8_t iv[EW_RSCP_BLOCK], const uint8_t *in,
                        uint8_t *out, size_t len) {
    if (!c || !iv || len % EW_RSCP_BLOCK != 0 || (len && (!in || !out)))
        return EW_ERR_INVAL;
    const size_t nblocks = len / EW_RSCP_BLOCK;
#ifdef EW_HAVE_AESNI
    if (c->impl == EW_RSCP_CIPHER_AESNI) {
        ew_r256_aesni_cbc_encrypt(c, iv, in, out, nblocks);
        return EW_OK;
    }
#endif
    /* CBC encryption is serial: each block needs the previous ciphertext.
     * Reading a whole input block before writing its output keeps in == out
     * safe. */
    for (size_t i = 0; i < nblocks; i++) {
        uint8_t x[EW_RSCP_BLOCK];
        for (unsigned j = 0; j < EW_RSCP_BLOCK; j++)
            x[j] = (uint8_t)(in[j] ^ iv[j]);
        ew_r256_portable_encrypt(c, x, iv);
        memcpy(out, iv, EW_RSCP_BLOCK);
        in += EW_RSCP_BLOCK;
        out += EW_RSCP_BLOCK;
    }
    return EW_OK;
}

int ew_rscp_cbc_decrypt(const ew_rscp_cipher *c, uint8_t iv[EW_RSCP_BLOCK], const uint8_t *in,
                        uint8_t *out, size_t len) {
    if (!c || !iv || len % EW_RSCP_BLOCK != 0 || (len && (!in || !out)))
        return EW_ERR_INVAL;
    if (!len)
        return EW_OK;
#ifdef EW_HAVE_AESNI
    if (c->impl == EW_RSCP_CIPHER_AESNI) {
        ew_r256_aesni_cbc_decrypt(c, iv, in, out, len / EW_RSCP_BLOCK);
        return EW_OK;
    }
#endif
    ew_r256_portable_cbc_decrypt(c, iv, in, out, len / EW_RSCP_BLOCK);
    return EW_OK;
}

void ew_rscp_encryptor_init(ew_rscp_encryptor *e, const ew_rscp_cipher *c) {
    /* rscp.md §5.3: every connection starts both chains at 32 x 0xFF. */
    e->cipher = c;
    memset(e->iv, 0xFF, sizeof e->iv);
}

int ew_rscp_encryptor_seal(ew_rscp_encryptor *e, uint8_t *buf, size_t len, size_t cap) {
    /* The result is returned as an int; no RSCP frame comes near this. */
    if (len > (size_t)INT_MAX - (EW_RSCP_BLOCK - 1))
        return EW_ERR_TOO_BIG;
    /* rscp.md §5.4: zero padding to the next multiple of 32, and no extra
     * block when the frame is already aligned (the device rejects one). */
    const size_t padded = (len + EW_RSCP_BLOCK - 1) / EW_RSCP_BLOCK * EW_RSCP_BLOCK;
    if (padded > cap)
        return EW_ERR_NOBUF;
    if (!padded)
        return 0;
    memset(buf + len, 0, padded - len);
    int rc = ew_rscp_cbc_encrypt(e->cipher, e->iv, buf, buf, padded);
    return rc < 0 ? rc : (int)padded;
}
