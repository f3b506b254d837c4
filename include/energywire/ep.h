/*
 * energywire EP codec: the Energy Protocol of the EnergyNet (TLS 1.3 over
 * TCP 56540, CBOR messages).
 *
 * Sans-I/O and allocation-free: the frame encoder and decoder, an
 * incremental receiver with resynchronisation, every value type and
 * composite, the six messages, and text/JSON formatting.  Byte layouts and
 * every receiver policy follow our implementer's guide
 * /work/shared/protocols/ep.md (sections cited as "ep.md §N"); the choices
 * this codec makes are listed in docs/ep-codec.md.  CBOR is encoded with
 * libcbor's non-allocating encoders and decoded with its streaming decoder.
 *
 * Everything here writes into caller-supplied memory.  Views (`ew_bytes` in
 * results) point into the caller's input or into the receiver's buffer and
 * stay valid as long as that memory does, unless a function says otherwise.
 */
#ifndef ENERGYWIRE_EP_H
#define ENERGYWIRE_EP_H

#include <energywire/ew.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants (ep.md §2)                                                      */
/* ------------------------------------------------------------------------ */

#define EW_EP_PORT 56540
/* Every frame starts with these 5 bytes: array(3) with a 4-byte length. */
#define EW_EP_MAGIC_LEN 5
/* Default payload cap (ep.md §2.4 point 3, §10.3 U15). */
#define EW_EP_PAYLOAD_MAX_DEFAULT 65536u
/* Fixed part of a frame with a null header: magic, F6, 1A + 4 bytes. */
#define EW_EP_FRAME_OVERHEAD 11
/* Smallest receiver buffer (a frame with an empty payload plus slack). */
#define EW_EP_RX_BUF_MIN 32

/* Message types (ep.md §2.2). */
#define EW_EP_MSG_PING 0xFFFFFFFFu
#define EW_EP_MSG_SESSION 0xBABA5E55u
#define EW_EP_MSG_SOFT_DISCONNECT 0xBABADEADu
#define EW_EP_MSG_SUPPLY 0xDCDCF00Du
#define EW_EP_MSG_DEMAND 0xDCDCFEEDu
#define EW_EP_MSG_STORAGE 0xDCDCBA77u

/* Returns "Ping", "SessionParameters", ..., or NULL for other types. */
EW_API const char *ew_ep_msg_name(uint32_t type);

/* Value type IDs (ep.md §3.2, §3.3). */
typedef enum ew_ep_vtype {
    EW_EP_VT_TEXT = 0x00,
    EW_EP_VT_FLAG = 0x01,
    EW_EP_VT_AMOUNT = 0x02,
    EW_EP_VT_TIMESTAMP = 0x03,
    EW_EP_VT_BINARY = 0x04,
    EW_EP_VT_CURRENCY = 0x05,
    EW_EP_VT_DURATION = 0x06,
    EW_EP_VT_VOLTAGE = 0x10,
    EW_EP_VT_CURRENT = 0x11,
    EW_EP_VT_POWER = 0x12,
    EW_EP_VT_ENERGY = 0x13,
    EW_EP_VT_PERCENTAGE = 0x14,
    EW_EP_VT_RESISTANCE = 0x15,
    EW_EP_VT_BOUNDS = 0x20,
    EW_EP_VT_PRICE_FORECAST = 0x30,
    EW_EP_VT_SOURCE_MIX = 0x40,
    EW_EP_VT_ENERGY_MIX = 0x41,
    EW_EP_VT_ISOLATION = 0x50
} ew_ep_vtype;

/* Bounds carry their element type: EW_EP_VT_BOUNDS_OF(EW_EP_VT_VOLTAGE). */
#define EW_EP_VT_BOUNDS_OF(t) (EW_EP_VT_BOUNDS | ((t) << 8))

/* Returns "Voltage", "Bounds", ... for a value type ID (low 8 bits), or NULL. */
EW_API const char *ew_ep_vtype_name(int vtype);
/* Returns 1 for the numeric types (Amount, Duration, Voltage..Resistance). */
EW_API int ew_ep_vtype_is_numeric(int vtype);
/* SI unit of a numeric type ("V", "A", "W", "Wh", "%", "Ω", "ms") or "". */
EW_API const char *ew_ep_vtype_unit(int vtype);

/* Energy source IDs of SourceMix and EnergyMix (ep.md §3.3.3); "Unknown" is
 * 0x00.  Returns the name, or NULL above 0x09. */
EW_API const char *ew_ep_source_name(uint64_t id);
/* Isolation states (ep.md §3.3.5): "Unknown", "Ok", "Warning", "Fault", or NULL. */
EW_API const char *ew_ep_isolation_state_name(uint64_t state);

/* Warnings: accepted input that ep.md says to log (bit set, data used). */
#define EW_EP_WARN_EMPTY_HEADER 0x0001u    /* A0 header instead of F6 (§2.2) */
#define EW_EP_WARN_TYPE_FORM 0x0002u       /* message type not in 1A form (§2.2) */
#define EW_EP_WARN_PAYLOAD_NULL 0x0004u    /* null payload element (§4.1, E4) */
#define EW_EP_WARN_NULL_CONTENT 0x0008u    /* payload holds CBOR null (§4.3) */
#define EW_EP_WARN_UNKNOWN_TYPE 0x0010u    /* message type not defined (§4) */
#define EW_EP_WARN_UNKNOWN_FIELD 0x0020u   /* field ID not defined (§4) */
#define EW_EP_WARN_EXTRA_KEY 0x0040u       /* value map with extra keys (§3.1) */
#define EW_EP_WARN_TIMESTAMP 0x0080u       /* timestamp is not RFC 3339 (U16) */
#define EW_EP_WARN_UNKNOWN_SOURCE 0x0100u  /* source ID above 0x09 (§3.3.3) */
#define EW_EP_WARN_DUP_SOURCE 0x0200u      /* source ID twice (§3.3.3) */
#define EW_EP_WARN_MIX_SUM 0x0400u         /* SourceMix total not 100 (U20) */
#define EW_EP_WARN_BOUNDS_ORDER 0x0800u    /* min > max (U19) */
#define EW_EP_WARN_ISOLATION_NULL 0x1000u  /* resistance null or missing (U21) */
#define EW_EP_WARN_NO_IDENTITY 0x2000u     /* SessionParameters without identity (§4.2) */
#define EW_EP_WARN_ISOLATION_STATE 0x4000u /* isolation state above 3 */

/* ------------------------------------------------------------------------ */
/* Frames (ep.md §2)                                                         */
/* ------------------------------------------------------------------------ */

/* A decoded frame.  Views point into the decoder's input (or the
 * receiver's buffer) and live as long as that memory. */
typedef struct ew_ep_frame {
    uint32_t type;
    /* 1 when the header element is a map; |headers| is then the whole raw
     * CBOR map (walk it with ew_ep_header_next()), else it is empty. */
    uint8_t has_headers;
    /* 1 when the payload element is CBOR null (the spec's Ping example,
     * ep.md §2.2): |payload| is empty and means "a payload holding null". */
    uint8_t payload_null;
    ew_bytes headers;
    size_t header_count;
    ew_bytes payload;  /* the byte string's content */
    unsigned warnings; /* EW_EP_WARN_* (frame level) */
    size_t frame_len;  /* bytes from the magic to the payload's end */
    ew_bytes raw;      /* the whole frame (frame_len bytes) */
    /* Receiver only: bytes dropped since the previous outcome, including the
     * first byte of a failed candidate frame (ep.md §2.4 point 4). */
    size_t skipped;
} ew_ep_frame;

/*
 * Decodes one frame at the start of |p| (|len| bytes) with progressive
 * validation (ep.md §2.4 point 2): magic `9A 00 00 00 03`, header null or a
 * map with unsigned-integer keys (values are skipped, never interpreted),
 * message type an unsigned integer <= 0xFFFFFFFF, payload a definite byte
 * string of at most |max_payload| bytes (0 means EW_EP_PAYLOAD_MAX_DEFAULT)
 * or null.  Bytes after the frame are not looked at.
 *
 * Returns the frame length (bytes consumed), or one of: `EW_ERR_NEED_MORE`
 * (|p| is a valid prefix), `EW_ERR_BAD_MAGIC` (not `9A 00 00 00 03`; `83`
 * too), `EW_ERR_BAD_FIELD` (header not null/map, header key not a uint,
 * type not a uint, payload not a byte string: tagged, indefinite, text),
 * `EW_ERR_RANGE` (type above 32 bits), `EW_ERR_TOO_BIG` (payload length
 * above the cap), `EW_ERR_DEPTH` (header values nested deeper than 16),
 * `EW_ERR_PROTO` (malformed CBOR), `EW_ERR_INVAL`.  |d->offset| is the
 * offset of the offending item's first byte.
 */
EW_API int ew_ep_frame_decode(const uint8_t *p, size_t len, size_t max_payload, ew_ep_frame *f,
                              ew_diag *d);

/*
 * Writes one frame: the magic, |headers| (|hlen| bytes of raw CBOR, which
 * must be one map; NULL or 0 writes F6 as ep.md §2.2 recommends), the type
 * as `1A` + 4 bytes, and |payload| (|plen| bytes, may be NULL when 0) as a
 * byte string with the shortest length head.  On success |*written| is the
 * frame length.  Returns `EW_OK`, or one of: `EW_ERR_NOBUF` (|*written| =
 * size needed), `EW_ERR_INVAL`.
 *
 * Example (SoftDisconnect, messages §4.3.1):
 *
 *     uint8_t buf[64]; size_t n;
 *     ew_ep_frame_encode(buf, sizeof buf, EW_EP_MSG_SOFT_DISCONNECT, NULL, 0,
 *                        payload, 15, &n);   // 9a 00 00 00 03 f6 1a ba ba de ad 4f ...
 */
EW_API int ew_ep_frame_encode(uint8_t *out, size_t cap, uint32_t type, const uint8_t *headers,
                              size_t hlen, const uint8_t *payload, size_t plen, size_t *written);

/* Header iterator over ew_ep_frame.headers (raw values, ep.md §2.2 U14). */
typedef struct ew_ep_hdr_iter {
    const uint8_t *p;
    const uint8_t *end;
    size_t left; /* entries left; SIZE_MAX for an indefinite map */
} ew_ep_hdr_iter;

/* Prepares |it| for |f|'s headers (none when the header was null). */
EW_API void ew_ep_header_iter_init(ew_ep_hdr_iter *it, const ew_ep_frame *f);
/* Next entry: |*key| and |*value| (the raw CBOR item).  Returns 1, or 0 at
 * the end. */
EW_API int ew_ep_header_next(ew_ep_hdr_iter *it, uint64_t *key, ew_bytes *value);

/* ------------------------------------------------------------------------ */
/* Incremental receiver (ep.md §2.4)                                         */
/* ------------------------------------------------------------------------ */

/* The receiver: a struct the caller owns.  Fields are private. */
typedef struct ew_ep_rx {
    uint8_t *buf;
    size_t cap;
    size_t off; /* start of unprocessed bytes in buf */
    size_t len; /* unprocessed bytes (a partial frame or magic) */
    size_t max_payload;
    size_t skipped;       /* since the previous outcome */
    uint64_t skipped_all; /* since init */
    uint64_t pos;         /* bytes consumed since init: the stream offset */
} ew_ep_rx;

/*
 * Prepares |rx| to receive frames into |buf| (|cap| bytes, owned by the
 * caller).  A frame longer than |cap| or a payload above |max_payload| (0:
 * EW_EP_PAYLOAD_MAX_DEFAULT) is refused as `EW_ERR_TOO_BIG`.  Returns
 * `EW_OK`, or `EW_ERR_NOBUF` (|cap| < EW_EP_RX_BUF_MIN), `EW_ERR_INVAL`.
 */
EW_API int ew_ep_rx_init(ew_ep_rx *rx, uint8_t *buf, size_t cap, size_t max_payload);

/* Drops buffered bytes; counters keep counting. */
EW_API void ew_ep_rx_reset(ew_ep_rx *rx);

/* Bytes held back (a partial frame or magic) and bytes skipped since init. */
EW_API size_t ew_ep_rx_pending(const ew_ep_rx *rx);
EW_API uint64_t ew_ep_rx_skipped_total(const ew_ep_rx *rx);

/*
 * Feeds |len| bytes at |in| and stops at the first outcome.  |*consumed|
 * (always set) says how many bytes of |in| were used; feed `in + *consumed`
 * next.  Bytes that cannot start a frame are dropped up to the next magic
 * (ep.md §2.4 point 4) and counted in |f->skipped|.  A candidate frame that
 * fails validation loses only its first byte and scanning resumes there, so
 * a frame that follows inside it is still found; a decoder in sync never
 * scans inside a good frame's payload (point 6).
 *
 * |f| is filled on `EW_OK`; its views point into |in| or into the receiver's
 * buffer and are valid until the next call on |rx| (and while |in| is
 * unchanged).  |d| (optional) gets the stream offset (bytes consumed since
 * init, i.e. counting only the bytes of each |in| that were consumed) of the
 * offending byte.
 *
 * Returns `EW_OK` (a frame), or one of: `EW_ERR_NEED_MORE` (all of |in|
 * consumed, no outcome), the errors of ew_ep_frame_decode() for a failed
 * candidate (the receiver has already resynchronised; |f->skipped| counts
 * the dropped byte), `EW_ERR_TOO_BIG` also for a frame that outgrows the
 * buffer, `EW_ERR_INVAL`.
 *
 * Example:
 *
 *     size_t pos = 0, n;
 *     while (pos < len) {
 *         int rc = ew_ep_rx_feed(&rx, buf + pos, len - pos, &n, &f, NULL);
 *         pos += n;
 *         if (rc == EW_OK && ew_ep_msg_decode_frame(&f, &m, NULL) == EW_OK)
 *             handle(&m);
 *     }
 */
EW_API int ew_ep_rx_feed(ew_ep_rx *rx, const uint8_t *in, size_t len, size_t *consumed,
                         ew_ep_frame *f, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Values (ep.md §3)                                                         */
/* ------------------------------------------------------------------------ */

/* How a number was encoded on the wire (ep.md §3.2). */
typedef enum ew_ep_numenc {
    EW_EP_NUM_UINT = 1,   /* major 0 */
    EW_EP_NUM_NINT = 2,   /* major 1 */
    EW_EP_NUM_HALF = 3,   /* F9 */
    EW_EP_NUM_SINGLE = 4, /* FA */
    EW_EP_NUM_DOUBLE = 5  /* FB */
} ew_ep_numenc;

/*
 * A numeric value.  |value| always holds it (integers above 2^53 rounded,
 * ep.md §3.2).  |is_int| says the wire value is an integer that fits
 * |ival|; the encoder then writes |ival| exactly.  |encoding| and |width|
 * (head argument bytes: 0, 1, 2, 4, 8) describe the wire form; encoders
 * ignore them.
 */
typedef struct ew_ep_number {
    double value;
    int64_t ival;
    uint8_t is_int;
    uint8_t encoding;
    uint8_t width;
} ew_ep_number;

/* Sets |n| from a double / an integer (for encoding). */
EW_API ew_ep_number ew_ep_num(double v);
EW_API ew_ep_number ew_ep_num_int(int64_t v);

/* Bounds (ep.md §3.3.1): both ends of one numeric type. */
typedef struct ew_ep_bounds {
    int vtype; /* element type, e.g. EW_EP_VT_VOLTAGE */
    ew_ep_number min, max;
} ew_ep_bounds;

/* One price forecast entry (ep.md §3.3.2). */
typedef struct ew_ep_price {
    ew_bytes timestamp; /* text, kept as received (U16) */
    ew_ep_number amount;
    ew_bytes currency;
} ew_ep_price;

/*
 * A price forecast.  Decoded: |raw| is the CBOR array (validated), |count|
 * its entries and |items| NULL; walk it with ew_ep_prices_next().  To
 * encode, set |items| and |count| (|raw| is used when |items| is NULL).
 */
typedef struct ew_ep_prices {
    size_t count;
    const ew_ep_price *items;
    ew_bytes raw;
} ew_ep_prices;

/* One source mix / energy mix entry (ep.md §3.3.3, §3.3.4). */
typedef struct ew_ep_mix_entry {
    uint64_t source;     /* 0x00..0x09 known; others kept with a warning */
    ew_ep_number amount; /* percent (SourceMix) or Wh (EnergyMix) */
} ew_ep_mix_entry;

/* A source or energy mix; decoded and encoded like ew_ep_prices. */
typedef struct ew_ep_mix {
    size_t count;
    const ew_ep_mix_entry *items;
    ew_bytes raw;
} ew_ep_mix;

/* Isolation (ep.md §3.3.5): bare state, then negative and positive pole. */
typedef struct ew_ep_isolation {
    uint64_t state;
    uint8_t has_negative, has_positive; /* 0 when null or missing (U21) */
    ew_ep_number negative_ohms, positive_ohms;
} ew_ep_isolation;

/* A decoded value of any type; |vtype| says which member holds it. */
typedef struct ew_ep_value {
    int vtype;
    ew_ep_number num; /* numeric types */
    int flag;         /* Flag */
    ew_bytes bytes;   /* Text, Timestamp, Currency, Binary */
    ew_ep_bounds bounds;
    ew_ep_prices prices;
    ew_ep_mix mix; /* SourceMix, EnergyMix */
    ew_ep_isolation iso;
} ew_ep_value;

/*
 * Decodes one value-type map `{vtype: data}` of the expected type |vtype|
 * (for Bounds, EW_EP_VT_BOUNDS_OF(element type)) at the start of |p|.  Extra
 * keys are skipped with EW_EP_WARN_EXTRA_KEY (ep.md §3.1); numeric types
 * take every CBOR number form and refuse NaN and infinities (§3.2).
 * |*warnings| (optional) gets EW_EP_WARN_* bits or-ed in.
 *
 * Returns bytes consumed, or one of: `EW_ERR_TRUNCATED` (|p| ends inside the
 * value), `EW_ERR_BAD_FIELD` (not a map, expected key missing, wrong CBOR
 * kind, invalid UTF-8, array of the wrong length, duplicate key),
 * `EW_ERR_RANGE` (NaN or infinity), `EW_ERR_DEPTH`, `EW_ERR_PROTO` (malformed
 * CBOR), `EW_ERR_INVAL`.  |d->offset| is relative to |p|.
 */
EW_API int ew_ep_value_decode(int vtype, const uint8_t *p, size_t len, ew_ep_value *v,
                              unsigned *warnings, ew_diag *d);

/*
 * Writes |v| as a value-type map.  Numbers: integers as CBOR integers,
 * other values as the shortest float that holds them exactly (half, single,
 * double; ep.md §3.2 "Sending numbers"); -0.0 stays a float.  Returns
 * `EW_OK`, `EW_ERR_NOBUF` (|*written| = size needed), `EW_ERR_RANGE` (NaN
 * or infinity), `EW_ERR_INVAL`.
 */
EW_API int ew_ep_value_encode(const ew_ep_value *v, uint8_t *out, size_t cap, size_t *written);

/* Walk a decoded price forecast / mix (entries validated by the decoder). */
typedef struct ew_ep_iter {
    const uint8_t *p;
    const uint8_t *end;
    size_t left;
} ew_ep_iter;
EW_API void ew_ep_prices_iter(ew_ep_iter *it, const ew_ep_prices *pr);
EW_API int ew_ep_prices_next(ew_ep_iter *it, ew_ep_price *out);
EW_API void ew_ep_mix_iter(ew_ep_iter *it, const ew_ep_mix *mx);
EW_API int ew_ep_mix_next(ew_ep_iter *it, ew_ep_mix_entry *out);

/* ------------------------------------------------------------------------ */
/* Messages (ep.md §4)                                                       */
/* ------------------------------------------------------------------------ */

/* Presence bit of field ID |id| in a message's |present| mask. */
#define EW_EP_HAS(id) (1u << (id))

typedef struct ew_ep_session {
    ew_bytes identity, type, version, name, tenant, provider, session; /* IDs 0..6 */
} ew_ep_session;

typedef struct ew_ep_soft_disconnect {
    int reconnect;   /* 0x00 */
    ew_bytes reason; /* 0x01 */
} ew_ep_soft_disconnect;

typedef struct ew_ep_supply {
    ew_ep_bounds voltage_limit; /* 0x00 Bounds(Voltage) */
    ew_ep_bounds current_limit; /* 0x01 Bounds(Current) */
    ew_ep_number power_limit;   /* 0x02 Power */
    ew_ep_mix power_mix;        /* 0x03 SourceMix */
    ew_ep_prices energy_prices; /* 0x04 PriceForecast */
    ew_ep_number voltage;       /* 0x05 */
    ew_ep_number current;       /* 0x06 */
    ew_ep_isolation isolation;  /* 0x07 */
} ew_ep_supply;

typedef struct ew_ep_demand {
    ew_ep_number voltage, current;             /* 0x00, 0x01 (negative = reverse) */
    ew_ep_number voltage_limit, current_limit; /* 0x02, 0x03: scalars (§4.5) */
    ew_ep_number power_limit;                  /* 0x04 */
    ew_ep_number duration;                     /* 0x05, ms */
} ew_ep_demand;

typedef struct ew_ep_storage {
    ew_ep_number soc, soc_target; /* 0x00, 0x01, % */
    ew_ep_number soc_target_time; /* 0x02, ms */
    ew_ep_number capacity;        /* 0x03, Wh */
    ew_ep_mix energy_mix;         /* 0x04 */
} ew_ep_storage;

/*
 * A message.  |type| selects the member; other types are unknown messages
 * whose payload is only in |raw| (ep.md §4: skipped, never fatal).
 * |present| has EW_EP_HAS(id) for each field received (every field is
 * optional, §4).  |raw| is the payload view.
 */
typedef struct ew_ep_msg {
    uint32_t type;
    unsigned present;
    unsigned warnings;     /* EW_EP_WARN_* from the payload */
    size_t unknown_fields; /* fields skipped (§4 "Unknown field IDs are ignored") */
    ew_bytes raw;
    union {
        ew_ep_session session;
        ew_ep_soft_disconnect soft_disconnect;
        ew_ep_supply supply;
        ew_ep_demand demand;
        ew_ep_storage storage;
    } u;
} ew_ep_msg;

/*
 * Decodes the payload |p| (|len| bytes) of a message of |type|.
 * |payload_null| is 1 for a null payload element (then |p| is ignored).
 * Ping ignores its content (§4.1).  A payload holding CBOR null means "no
 * fields" (§4.3).  Otherwise the payload must be one map from uint field
 * IDs to value maps and nothing after it (§2.3).  Unknown message types
 * decode as raw with EW_EP_WARN_UNKNOWN_TYPE.
 *
 * Returns `EW_OK`, or one of the errors of ew_ep_value_decode() for a bad
 * field, `EW_ERR_PROTO` (trailing bytes, duplicate field ID, malformed CBOR),
 * `EW_ERR_BAD_FIELD` (payload not a map or null, field key not a uint),
 * `EW_ERR_TRUNCATED`.  The whole message is then to be discarded
 * (reject-message).  |d->offset| is relative to the payload.
 */
EW_API int ew_ep_msg_decode(uint32_t type, const uint8_t *p, size_t len, int payload_null,
                            ew_ep_msg *m, ew_diag *d);
/* The same for a decoded frame; frame warnings are or-ed into m->warnings. */
EW_API int ew_ep_msg_decode_frame(const ew_ep_frame *f, ew_ep_msg *m, ew_diag *d);

/*
 * Writes the payload of |m| (fields in |present|, ascending ID order; Ping
 * writes CBOR null, ep.md §4.1; unknown types copy |raw|).  Returns `EW_OK`,
 * `EW_ERR_NOBUF` (|*written| = size needed), `EW_ERR_RANGE`, `EW_ERR_INVAL`.
 */
EW_API int ew_ep_msg_encode(const ew_ep_msg *m, uint8_t *out, size_t cap, size_t *written);
/* Writes |m| as a whole frame with a null header. */
EW_API int ew_ep_msg_encode_frame(const ew_ep_msg *m, uint8_t *out, size_t cap, size_t *written);

/* ------------------------------------------------------------------------ */
/* Formatting                                                                */
/* ------------------------------------------------------------------------ */

#define EW_EP_FMT_JSON 0x01u   /* JSON instead of text */
#define EW_EP_FMT_PRETTY 0x02u /* JSON: indented */

/*
 * Formats |m| into |out| (NUL-terminated when |cap| > 0).  JSON follows the
 * vectors' `message` shape: {"name":..,"fields":{"voltage-limit":{"min":..,
 * "max":..},..}} with spec field names, integers for integer encodings,
 * {"hex":..} for Binary, and "payload_hex" for unknown types.  Text is one
 * line: "SupplyParameters voltage-limit=234.5..249 V power-limit=50000 W ...".
 * Returns the full length as snprintf does.
 */
EW_API int ew_ep_msg_format(const ew_ep_msg *m, unsigned flags, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_EP_H */
