/* Hex text <-> bytes, used by the CLI, tests and printers. */
#include <energywire/ew.h>

static int nibble(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ew_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap) {
    size_t n = 0;
    int hi = -1;
    for (size_t i = 0; i < len; i++) {
        char c = hex[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':')
            continue;
        int v = nibble(c);
        if (v < 0)
            return EW_ERR_SYNTAX;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap)
            return EW_ERR_NOBUF;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0)
        return EW_ERR_SYNTAX;
    return (int)n;
}

int ew_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap) {
    static const char digits[] = "0123456789abcdef";
    if (cap < len * 2 + 1)
        return EW_ERR_NOBUF;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[len * 2] = '\0';
    return (int)(len * 2);
}
