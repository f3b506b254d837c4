/*
 * libFuzzer target: the EP message and value layer, as a round trip.
 *
 * Input byte 0 picks the message type (low 3 bits: Ping, SessionParameters,
 * SoftDisconnect, Supply, Demand, Storage, an unknown type) and whether the
 * payload element is null (bit 3); the rest is the payload.  For a payload
 * that decodes: encode, decode, encode again; the two encodings must be
 * identical and both decodes must format to the same text.  The rest is also
 * decoded as every value type (decode, encode, decode, encode: stable), and
 * the tokenizer's inline fast path is checked against libcbor's streaming
 * decoder (ew_ep_tok_slow) on every byte offset of the input.
 */
#include <energywire/ep.h>

#include "ep/ep_int.h"
#include "fuzz_util.h"

static const uint32_t types[8] = {EW_EP_MSG_PING,   EW_EP_MSG_SESSION, EW_EP_MSG_SOFT_DISCONNECT,
                                  EW_EP_MSG_SUPPLY, EW_EP_MSG_DEMAND,  EW_EP_MSG_STORAGE,
                                  0x01000000u,      EW_EP_MSG_SUPPLY};
static const int vtypes[] = {EW_EP_VT_TEXT,           EW_EP_VT_FLAG,
                             EW_EP_VT_AMOUNT,         EW_EP_VT_TIMESTAMP,
                             EW_EP_VT_BINARY,         EW_EP_VT_CURRENCY,
                             EW_EP_VT_DURATION,       EW_EP_VT_VOLTAGE,
                             EW_EP_VT_CURRENT,        EW_EP_VT_POWER,
                             EW_EP_VT_ENERGY,         EW_EP_VT_PERCENTAGE,
                             EW_EP_VT_RESISTANCE,     EW_EP_VT_BOUNDS_OF(EW_EP_VT_VOLTAGE),
                             EW_EP_VT_PRICE_FORECAST, EW_EP_VT_SOURCE_MIX,
                             EW_EP_VT_ENERGY_MIX,     EW_EP_VT_ISOLATION};

static uint8_t enc1[1 << 17], enc2[1 << 17];
static char t1[1 << 16], t2[1 << 16];

static void check_tokens(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ew_ep_tok a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        int ra = ew_ep_tok_next(p + i, n - i, &a);
        int rb = ew_ep_tok_slow(p + i, n - i, &b);
        FUZZ_CHECK(ra == rb);
        if (ra > 0) {
            FUZZ_CHECK(a.kind == b.kind && a.u == b.u && a.width == b.width);
            FUZZ_CHECK(a.len == b.len && a.ptr == b.ptr);
        }
    }
}

static void msg_roundtrip(uint32_t type, const uint8_t *p, size_t n, int null_el) {
    ew_ep_msg m, m2, m3;
    if (ew_ep_msg_decode(type, p, n, null_el, &m, NULL) != EW_OK)
        return;
    size_t w1 = 0, w2 = 0;
    int rc = ew_ep_msg_encode(&m, enc1, sizeof enc1, &w1);
    if (rc == EW_ERR_NOBUF)
        return;
    FUZZ_CHECK(rc == EW_OK);
    FUZZ_CHECK(ew_ep_msg_decode(type, enc1, w1, 0, &m2, NULL) == EW_OK);
    FUZZ_CHECK(ew_ep_msg_encode(&m2, enc2, sizeof enc2, &w2) == EW_OK);
    FUZZ_CHECK(w1 == w2 && memcmp(enc1, enc2, w1) == 0);
    FUZZ_CHECK(ew_ep_msg_decode(type, enc2, w2, 0, &m3, NULL) == EW_OK);
    m2.warnings = m3.warnings = 0;
    int a = ew_ep_msg_format(&m2, EW_EP_FMT_JSON, t1, sizeof t1);
    int b = ew_ep_msg_format(&m3, EW_EP_FMT_JSON, t2, sizeof t2);
    FUZZ_CHECK(a == b && ((size_t)a >= sizeof t1 || strcmp(t1, t2) == 0));
    if ((size_t)a < sizeof t1)
        FUZZ_CHECK(fuzz_json_valid(t1, (size_t)a));
    ew_ep_msg_format(&m, 0, t1, sizeof t1);
    /* The framed form decodes back to the same payload. */
    size_t fw = 0;
    if (ew_ep_msg_encode_frame(&m, enc2, sizeof enc2, &fw) == EW_OK) {
        ew_ep_frame f;
        FUZZ_CHECK(ew_ep_frame_decode(enc2, fw, sizeof enc2, &f, NULL) == (int)fw);
        FUZZ_CHECK(f.type == type && f.payload.len == w1 && memcmp(f.payload.ptr, enc1, w1) == 0);
    }
}

static void value_roundtrip(int vt, const uint8_t *p, size_t n) {
    ew_ep_value v, v2;
    if (ew_ep_value_decode(vt, p, n, &v, NULL, NULL) < 0)
        return;
    size_t w1 = 0, w2 = 0;
    int rc = ew_ep_value_encode(&v, enc1, sizeof enc1, &w1);
    if (rc == EW_ERR_NOBUF)
        return;
    FUZZ_CHECK(rc == EW_OK);
    FUZZ_CHECK(ew_ep_value_decode(vt, enc1, w1, &v2, NULL, NULL) == (int)w1);
    FUZZ_CHECK(ew_ep_value_encode(&v2, enc2, sizeof enc2, &w2) == EW_OK);
    FUZZ_CHECK(w1 == w2 && memcmp(enc1, enc2, w1) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    msg_roundtrip(types[data[0] & 7], p, n, (data[0] >> 3) & 1);
    for (size_t i = 0; i < sizeof vtypes / sizeof vtypes[0]; i++)
        value_roundtrip(vtypes[i], p, n);
    check_tokens(p, n);
    return 0;
}
