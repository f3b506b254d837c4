/*
 * energywire RSCP codec: E3/DC Remote Storage Control Protocol.
 *
 * Sans-I/O and allocation-free: values (TLV), frames, CRC32, the
 * Rijndael-256-CBC cipher with per-direction IV chains, a streaming
 * decryptor, the tag registry, text/JSON printing and the path/filter query
 * language.  Byte layouts follow docs/protocols/rscp.md (sections cited as
 * "rscp.md §N").
 *
 * Everything here writes into caller-supplied memory.  Views (`const uint8_t
 * *` and `ew_bytes` in results) point into the caller's input or into the
 * object that produced them and stay valid as long as that memory does, unless
 * a function says otherwise.
 */
#ifndef ENERGYWIRE_RSCP_H
#define ENERGYWIRE_RSCP_H

#include <energywire/ew.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants (rscp.md §2, §3)                                                */
/* ------------------------------------------------------------------------ */

#define EW_RSCP_PORT 5033
#define EW_RSCP_FARM_PORT 5034
#define EW_RSCP_MAGIC0 0xE3
#define EW_RSCP_MAGIC1 0xDC
#define EW_RSCP_VERSION 1
#define EW_RSCP_CTRL_VERSION_MASK 0x0F00u
#define EW_RSCP_CTRL_CRC 0x1000u
#define EW_RSCP_HEADER_LEN 18
#define EW_RSCP_CRC_LEN 4
#define EW_RSCP_TLV_HEADER_LEN 7
/* Largest frame: 18-byte header + 65535 data bytes + CRC (rscp.md §2.1). */
#define EW_RSCP_FRAME_MAX 65557
/* Cipher block and key size: Rijndael with a 256-bit block (rscp.md §5). */
#define EW_RSCP_BLOCK 32
#define EW_RSCP_KEY_LEN 32
/* Largest encrypted frame: EW_RSCP_FRAME_MAX rounded up to a whole block. */
#define EW_RSCP_CIPHERTEXT_MAX 65568

/* Default and hard upper limit for container nesting when decoding. */
#define EW_RSCP_DEFAULT_MAX_DEPTH 16
#define EW_RSCP_MAX_DEPTH_LIMIT 64

/* Data type ids (rscp.md §3.2). */
typedef enum ew_rscp_type {
    EW_RSCP_TYPE_NONE = 0x00,
    EW_RSCP_TYPE_BOOL = 0x01,
    EW_RSCP_TYPE_CHAR8 = 0x02,
    EW_RSCP_TYPE_UCHAR8 = 0x03,
    EW_RSCP_TYPE_INT16 = 0x04,
    EW_RSCP_TYPE_UINT16 = 0x05,
    EW_RSCP_TYPE_INT32 = 0x06,
    EW_RSCP_TYPE_UINT32 = 0x07,
    EW_RSCP_TYPE_INT64 = 0x08,
    EW_RSCP_TYPE_UINT64 = 0x09,
    EW_RSCP_TYPE_FLOAT32 = 0x0A,
    EW_RSCP_TYPE_DOUBLE64 = 0x0B,
    EW_RSCP_TYPE_BITFIELD = 0x0C,
    EW_RSCP_TYPE_CSTRING = 0x0D,
    EW_RSCP_TYPE_CONTAINER = 0x0E,
    EW_RSCP_TYPE_TIMESTAMP = 0x0F,
    EW_RSCP_TYPE_BYTEARRAY = 0x10,
    EW_RSCP_TYPE_ERROR = 0xFF
} ew_rscp_type;

/* Device error codes carried by Error values (rscp.md §6). */
#define EW_RSCP_ERR_NOT_HANDLED 1u
#define EW_RSCP_ERR_ACCESS_DENIED 2u
#define EW_RSCP_ERR_FORMAT 3u
#define EW_RSCP_ERR_AGAIN 4u
#define EW_RSCP_ERR_OUT_OF_BOUNDS 5u
#define EW_RSCP_ERR_NOT_AVAILABLE 6u
#define EW_RSCP_ERR_UNKNOWN_TAG 7u
#define EW_RSCP_ERR_ALREADY_IN_USE 8u
#define EW_RSCP_ERR_INVALID_TIME 0xFFFFFFFFu

/* Frequently used tags (the full set is in <energywire/rscp_tags.h>). */
#define EW_RSCP_TAG_REQ_AUTHENTICATION 0x00000001u
#define EW_RSCP_TAG_AUTHENTICATION_USER 0x00000002u
#define EW_RSCP_TAG_AUTHENTICATION_PASSWORD 0x00000003u
#define EW_RSCP_TAG_AUTHENTICATION 0x00800001u
/* Bit 23 marks most answers (rscp.md §4.1); never derive child tags with it. */
#define EW_RSCP_TAG_RESPONSE_BIT 0x00800000u

typedef struct ew_rscp_timestamp {
    int64_t seconds;
    uint32_t nanoseconds;
} ew_rscp_timestamp;

/* Returns the name of type id |type| as in the tag table ("UInt32"), or NULL. */
EW_API const char *ew_rscp_type_name(int type);

/*
 * Parses a type name ("UInt32", case-insensitive; "" gives -1) and returns
 * its id, or `EW_ERR_NOT_FOUND`.
 */
EW_API int ew_rscp_type_from_name(const char *name, size_t len);

/* Returns the value size of a fixed-size type, or -1 for variable sizes. */
EW_API int ew_rscp_type_fixed_size(int type);

/* Returns "RSCP_ERR_NOT_AVAILABLE" etc. for a device error code, or NULL. */
EW_API const char *ew_rscp_error_name(uint32_t code);

/* Returns a readable sentence for a device error code (never NULL). */
EW_API const char *ew_rscp_error_text(uint32_t code);

/* ------------------------------------------------------------------------ */
/* Tag registry (generated from data/rscp_tags.csv)                         */
/* ------------------------------------------------------------------------ */

typedef struct ew_rscp_tag_info {
    uint32_t id;
    /* Full name as in data/rscp_tags.csv, e.g. "TAG_EMS_POWER_PV". */
    const char *name;
    /* Declared type id, or -1 when no source gives one. */
    int type;
    /* Namespace name from the high byte, e.g. "EMS". */
    const char *ns;
    /* SI unit of the value ("W", "Wh", "%", "V", "A", "°C", "s"), or "". */
    const char *unit;
} ew_rscp_tag_info;

/* Returns the entry for |id|, or NULL when the tag is not in the table. */
EW_API const ew_rscp_tag_info *ew_rscp_tag_by_id(uint32_t id);

/*
 * Looks a tag up by name: with or without the "TAG_" prefix, in any case
 * ("ems_power_pv", "TAG_EMS_POWER_PV").  A hexadecimal id ("0x01800001") is
 * accepted too and resolves when the id is in the table.  |len| is the
 * length of |name| (no NUL needed).  Returns NULL when nothing matches.
 */
EW_API const ew_rscp_tag_info *ew_rscp_tag_by_name(const char *name, size_t len);

/* Number of tags in the table, and entry |i| in order of id. */
EW_API size_t ew_rscp_tag_count(void);
EW_API const ew_rscp_tag_info *ew_rscp_tag_at(size_t i);

/* Name without the "TAG_" prefix ("EMS_POWER_PV"). */
EW_API const char *ew_rscp_tag_short_name(const ew_rscp_tag_info *t);

/* Namespace name for the high byte of a tag ("BAT"), or NULL if unassigned. */
EW_API const char *ew_rscp_namespace_name(uint8_t ns);

/*
 * Parses a tag given as a name or a number ("EMS_POWER_PV", "0x01800001",
 * "25165825") into |id|.  Unlike ew_rscp_tag_by_name(), a number that is not
 * in the table is accepted (unknown tags are legal on the wire).  Returns
 * `EW_OK` or `EW_ERR_NOT_FOUND`.
 */
EW_API int ew_rscp_tag_parse(const char *text, size_t len, uint32_t *id);

/* ------------------------------------------------------------------------ */
/* Values (TLV) and the zero-copy iterator (rscp.md §3)                      */
/* ------------------------------------------------------------------------ */

/* The value's type id is unknown or its length does not fit the type:
 * |data| holds raw bytes and the typed getters refuse it. */
#define EW_RSCP_VF_RAW 0x01u

typedef struct ew_rscp_value {
    uint32_t tag;
    /* Type id as received (may be an id this library does not know). */
    uint8_t type;
    uint8_t flags;
    /* Length field: number of value bytes at |data|. */
    uint16_t len;
    /* The value bytes, a view into the decoded input. */
    const uint8_t *data;
    /* Offset of this value's 7-byte header from the start of the area the
     * root iterator was initialised with. */
    size_t offset;
    /* Nesting depth: 0 for top-level values. */
    unsigned depth;
} ew_rscp_value;

/*
 * Typed getters.  Each returns `EW_OK`, or `EW_ERR_INVAL` when the value's
 * type cannot be read that way (or is raw), or `EW_ERR_RANGE` when the number
 * does not fit the requested C type.
 *
 * _i64/_u64 accept Bool, Char8, UChar8 and every integer type; _double also
 * accepts Float32 and Double64; _bool accepts Bool and integers (non-zero is
 * true, as every peer decodes it); _error accepts Error values of 4 bytes and
 * the 1-byte form one peer reports (rscp.md §6).
 */
EW_API int ew_rscp_value_get_i64(const ew_rscp_value *v, int64_t *out);
EW_API int ew_rscp_value_get_u64(const ew_rscp_value *v, uint64_t *out);
EW_API int ew_rscp_value_get_double(const ew_rscp_value *v, double *out);
EW_API int ew_rscp_value_get_bool(const ew_rscp_value *v, int *out);
EW_API int ew_rscp_value_get_timestamp(const ew_rscp_value *v, ew_rscp_timestamp *out);
EW_API int ew_rscp_value_get_error(const ew_rscp_value *v, uint32_t *code);
/* The value bytes of any value (for CString, ByteArray, Bitfield and raw
 * values the content; no NUL terminator).  Always `EW_OK`. */
EW_API int ew_rscp_value_get_bytes(const ew_rscp_value *v, ew_bytes *out);

/*
 * Iterator over the TLVs of one level.  Initialise it over a frame's value
 * area (or any TLV sequence), call ew_rscp_iter_next() until it returns 0, and
 * descend into containers with ew_rscp_iter_enter().  Nothing is copied.
 */
typedef struct ew_rscp_iter {
    const uint8_t *base;
    const uint8_t *p;
    const uint8_t *end;
    unsigned depth;
    unsigned max_depth;
} ew_rscp_iter;

/*
 * Prepares |it| to walk the |len| bytes at |area| as top-level values.
 * |max_depth| limits how many container levels ew_rscp_iter_enter() opens
 * (0 gives EW_RSCP_DEFAULT_MAX_DEPTH; values above EW_RSCP_MAX_DEPTH_LIMIT are
 * clamped).
 */
EW_API void ew_rscp_iter_init(ew_rscp_iter *it, const uint8_t *area, size_t len,
                              unsigned max_depth);

/*
 * Reads the next value into |v|.  Returns 1 when a value was read, 0 at the
 * end of this level, or one of: `EW_ERR_OVERRUN` (a header or value runs past
 * the end of the level; |d| says where).  After an error the iterator stays
 * at the bad value.
 */
EW_API int ew_rscp_iter_next(ew_rscp_iter *it, ew_rscp_value *v, ew_diag *d);

/*
 * Opens container |v| (read from |parent|) as the iterator |child|.  Returns
 * `EW_OK`, or one of: `EW_ERR_INVAL` (|v| is not a container), `EW_ERR_DEPTH`
 * (the nesting limit is reached).
 */
EW_API int ew_rscp_iter_enter(const ew_rscp_iter *parent, const ew_rscp_value *v,
                              ew_rscp_iter *child, ew_diag *d);

/*
 * Walks the whole tree in |area| and checks every length.  Returns the number
 * of values (all levels), or one of: `EW_ERR_OVERRUN` (a length runs past its
 * parent or the area), `EW_ERR_DEPTH` (containers nested deeper than
 * |max_depth|, 0 = default).  Unknown tags and type ids are fine.
 */
EW_API int ew_rscp_validate(const uint8_t *area, size_t len, unsigned max_depth, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Builder: writes TLVs (optionally inside a frame) into a caller buffer    */
/* ------------------------------------------------------------------------ */

#define EW_RSCP_BUILDER_MAX_DEPTH 32

/*
 * The builder never writes past |cap|: once the buffer is full it keeps
 * counting, so that _finish() can report the size that is needed.  The first
 * error is sticky and returned by every later call.
 */
typedef struct ew_rscp_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;   /* bytes produced so far, including any that did not fit */
    size_t start; /* where the value area starts (18 in frame mode) */
    int err;
    unsigned depth;
    size_t open[EW_RSCP_BUILDER_MAX_DEPTH];
    int frame;
} ew_rscp_builder;

/* Starts a bare TLV sequence in |buf| (|cap| bytes; |buf| may be NULL with
 * |cap| 0 to measure). */
EW_API void ew_rscp_builder_init(ew_rscp_builder *b, uint8_t *buf, size_t cap);

/* Starts a frame: reserves the 18-byte header, values follow. */
EW_API void ew_rscp_builder_init_frame(ew_rscp_builder *b, uint8_t *buf, size_t cap);

/*
 * Adds one value of type |type| with the |len| bytes at |data| copied as they
 * are (any type id, including unknown ones).  Returns `EW_OK` or the sticky
 * error: `EW_ERR_TOO_BIG` (value longer than 65535 bytes), `EW_ERR_INVAL`.
 * Running out of buffer is not an error here; _finish() reports it.
 */
EW_API int ew_rscp_builder_add_raw(ew_rscp_builder *b, uint32_t tag, uint8_t type, const void *data,
                                   size_t len);

/* Typed adders; each writes exactly the size rscp.md §3.2 gives the type. */
EW_API int ew_rscp_builder_add_none(ew_rscp_builder *b, uint32_t tag);
EW_API int ew_rscp_builder_add_bool(ew_rscp_builder *b, uint32_t tag, int v);
EW_API int ew_rscp_builder_add_char8(ew_rscp_builder *b, uint32_t tag, int8_t v);
EW_API int ew_rscp_builder_add_uchar8(ew_rscp_builder *b, uint32_t tag, uint8_t v);
EW_API int ew_rscp_builder_add_int16(ew_rscp_builder *b, uint32_t tag, int16_t v);
EW_API int ew_rscp_builder_add_uint16(ew_rscp_builder *b, uint32_t tag, uint16_t v);
EW_API int ew_rscp_builder_add_int32(ew_rscp_builder *b, uint32_t tag, int32_t v);
EW_API int ew_rscp_builder_add_uint32(ew_rscp_builder *b, uint32_t tag, uint32_t v);
EW_API int ew_rscp_builder_add_int64(ew_rscp_builder *b, uint32_t tag, int64_t v);
EW_API int ew_rscp_builder_add_uint64(ew_rscp_builder *b, uint32_t tag, uint64_t v);
EW_API int ew_rscp_builder_add_float32(ew_rscp_builder *b, uint32_t tag, float v);
EW_API int ew_rscp_builder_add_double64(ew_rscp_builder *b, uint32_t tag, double v);
EW_API int ew_rscp_builder_add_timestamp(ew_rscp_builder *b, uint32_t tag, ew_rscp_timestamp ts);
/* CString of |len| bytes (no NUL is written); ew_rscp_builder_add_string()
 * takes a NUL-terminated string. */
EW_API int ew_rscp_builder_add_cstring(ew_rscp_builder *b, uint32_t tag, const char *s, size_t len);
EW_API int ew_rscp_builder_add_string(ew_rscp_builder *b, uint32_t tag, const char *s);
EW_API int ew_rscp_builder_add_bytes(ew_rscp_builder *b, uint32_t tag, const void *data,
                                     size_t len);
EW_API int ew_rscp_builder_add_bitfield(ew_rscp_builder *b, uint32_t tag, const void *data,
                                        size_t len);
EW_API int ew_rscp_builder_add_error(ew_rscp_builder *b, uint32_t tag, uint32_t code);

/*
 * Adds an integer in the type the registry declares for |tag| (e.g. BAT_INDEX
 * as UInt16; Float32/Double64 tags get the number converted).  Tags the
 * registry does not know, or knows without a type, get Int32 when |v| fits,
 * else Int64.  Returns `EW_ERR_RANGE` when |v| does not fit the declared
 * type, `EW_ERR_INVAL` when the tag is declared with a non-numeric type.
 */
EW_API int ew_rscp_builder_add_int(ew_rscp_builder *b, uint32_t tag, int64_t v);

/* Opens a container; values added until _close() become its children. */
EW_API int ew_rscp_builder_open(ew_rscp_builder *b, uint32_t tag);
/* Closes the innermost container.  `EW_ERR_TOO_BIG` if it exceeds 65535
 * bytes, `EW_ERR_STATE` if none is open. */
EW_API int ew_rscp_builder_close(ew_rscp_builder *b);

/*
 * Ends a bare TLV sequence.  |*written| receives the length.  Returns `EW_OK`,
 * or one of: `EW_ERR_NOBUF` (|*written| = the size needed), `EW_ERR_STATE`
 * (a container is still open), or an earlier sticky error.
 */
EW_API int ew_rscp_builder_finish(ew_rscp_builder *b, size_t *written);

/*
 * Ends a frame started with ew_rscp_builder_init_frame(): fills in the header
 * (|ts| as the creation time, CRC flag per |with_crc|) and appends the CRC.
 * Errors as ew_rscp_builder_finish(), plus `EW_ERR_TOO_BIG` when the value
 * area exceeds 65535 bytes.
 */
EW_API int ew_rscp_builder_finish_frame(ew_rscp_builder *b, ew_rscp_timestamp ts, int with_crc,
                                        size_t *written);

/* ------------------------------------------------------------------------ */
/* Frames (rscp.md §2)                                                       */
/* ------------------------------------------------------------------------ */

typedef struct ew_rscp_frame {
    uint16_t ctrl;
    int has_crc;
    ew_rscp_timestamp ts;
    /* The value area: |data_len| bytes, a view into the input. */
    const uint8_t *data;
    uint16_t data_len;
    /* CRC as received (when |has_crc|). */
    uint32_t crc;
    /* Whole frame length: 18 + data_len (+ 4).  Also set on
     * EW_ERR_NEED_MORE once the header is complete. */
    size_t frame_len;
} ew_rscp_frame;

/* Decode flags. */
/* Reject reserved control bits (a tolerant receiver ignores them). */
#define EW_RSCP_DECODE_STRICT 0x01u
/* The input is all there is: an incomplete frame is EW_ERR_TRUNCATED. */
#define EW_RSCP_DECODE_FINAL 0x02u
/* Also walk the value area (default depth limit) and report overruns. */
#define EW_RSCP_DECODE_VALIDATE 0x04u

/*
 * Decodes one frame from the start of |buf|.  Returns the frame length (the
 * number of bytes consumed), or one of: `EW_ERR_NEED_MORE` (incomplete;
 * f->frame_len says how many bytes the frame needs once the header is in),
 * `EW_ERR_BAD_MAGIC` (offset 0), `EW_ERR_BAD_VERSION` (offset 2),
 * `EW_ERR_BAD_FIELD` (reserved bits with EW_RSCP_DECODE_STRICT), `EW_ERR_CRC`
 * (offset of the CRC), `EW_ERR_TRUNCATED` (with EW_RSCP_DECODE_FINAL),
 * `EW_ERR_OVERRUN`/`EW_ERR_DEPTH` (with EW_RSCP_DECODE_VALIDATE).
 */
EW_API int ew_rscp_frame_decode(const uint8_t *buf, size_t len, ew_rscp_frame *f, unsigned flags,
                                ew_diag *d);

/*
 * Writes a whole frame around the |data_len| value bytes at |data| into |out|.
 * |out| and |data| must not overlap.  Returns the frame length, or
 * `EW_ERR_NOBUF` (|*needed| set when not NULL) or `EW_ERR_TOO_BIG`.
 */
EW_API int ew_rscp_frame_encode(uint8_t *out, size_t cap, const uint8_t *data, size_t data_len,
                                ew_rscp_timestamp ts, int with_crc, size_t *needed);

/* CRC-32/ISO-HDLC as used by RSCP (rscp.md §2.3). Start with crc = 0. */
EW_API uint32_t ew_rscp_crc32(uint32_t crc, const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Cipher: Rijndael-256 in CBC mode (rscp.md §5)                             */
/* ------------------------------------------------------------------------ */

typedef enum ew_rscp_cipher_impl {
    EW_RSCP_CIPHER_AUTO = 0,     /* AES-NI when the CPU has it, else portable */
    EW_RSCP_CIPHER_PORTABLE = 1, /* constant-time portable C */
    EW_RSCP_CIPHER_AESNI = 2     /* x86-64 AES-NI + SSSE3 */
} ew_rscp_cipher_impl;

/* Expanded key schedule.  The layout is private to the implementation. */
typedef struct ew_rscp_cipher {
    uint64_t ks[256];
    int impl;
} ew_rscp_cipher;

/*
 * Derives the 32-byte cipher key from the RSCP key string (rscp.md §5.2):
 * the bytes of |key| (|len| bytes, UTF-8), truncated to 32 as E3/DC's own
 * code does, padded with 0xFF.  Returns the number of key bytes used; a value
 * below |len| means the key was truncated (callers may want to warn).
 */
EW_API size_t ew_rscp_key_derive(const char *key, size_t len, uint8_t out[EW_RSCP_KEY_LEN]);

/* Returns 1 when this CPU can run the AES-NI implementation. */
EW_API int ew_rscp_cipher_aesni_available(void);

/*
 * Expands |key| for |impl|.  Returns `EW_OK`, or `EW_ERR_INVAL` when AES-NI
 * was requested and the CPU (or this build) lacks it.
 */
EW_API int ew_rscp_cipher_init(ew_rscp_cipher *c, const uint8_t key[EW_RSCP_KEY_LEN],
                               ew_rscp_cipher_impl impl);

/* The implementation |c| uses, and its name ("aesni", "portable"). */
EW_API ew_rscp_cipher_impl ew_rscp_cipher_impl_of(const ew_rscp_cipher *c);
EW_API const char *ew_rscp_cipher_impl_name(ew_rscp_cipher_impl impl);

/* One block each way (no chaining); |in| and |out| may be the same. */
EW_API void ew_rscp_block_encrypt(const ew_rscp_cipher *c, const uint8_t in[EW_RSCP_BLOCK],
                                  uint8_t out[EW_RSCP_BLOCK]);
EW_API void ew_rscp_block_decrypt(const ew_rscp_cipher *c, const uint8_t in[EW_RSCP_BLOCK],
                                  uint8_t out[EW_RSCP_BLOCK]);

/*
 * CBC over |len| bytes (a multiple of 32; other lengths return EW_ERR_INVAL
 * and touch nothing).  |iv| is the chain state: read as the IV and updated to
 * the last ciphertext block, so consecutive calls continue one chain.  |in|
 * and |out| may be the same buffer.  Returns `EW_OK`.
 */
EW_API int ew_rscp_cbc_encrypt(const ew_rscp_cipher *c, uint8_t iv[EW_RSCP_BLOCK],
                               const uint8_t *in, uint8_t *out, size_t len);
EW_API int ew_rscp_cbc_decrypt(const ew_rscp_cipher *c, uint8_t iv[EW_RSCP_BLOCK],
                               const uint8_t *in, uint8_t *out, size_t len);

/* ------------------------------------------------------------------------ */
/* One direction of a connection: IV chain + framing                         */
/* ------------------------------------------------------------------------ */

/*
 * Sending side: encrypts whole frames, zero-padded to 32 bytes (rscp.md §5.4),
 * continuing the direction's CBC chain.  The cipher must outlive it.
 */
typedef struct ew_rscp_encryptor {
    const ew_rscp_cipher *cipher;
    uint8_t iv[EW_RSCP_BLOCK];
} ew_rscp_encryptor;

/* Starts a chain at IV = 32 x 0xFF, as every connection does (rscp.md §5.3). */
EW_API void ew_rscp_encryptor_init(ew_rscp_encryptor *e, const ew_rscp_cipher *c);

/*
 * Encrypts the |len|-byte frame at |buf| in place, padding it with zero bytes
 * to the next multiple of 32 (no extra block when already aligned).  |cap| is
 * the size of |buf|.  Returns the ciphertext length, or `EW_ERR_NOBUF` (the
 * chain is untouched).
 */
EW_API int ew_rscp_encryptor_seal(ew_rscp_encryptor *e, uint8_t *buf, size_t len, size_t cap);

/*
 * Receiving side: takes ciphertext in chunks of any size (partial blocks
 * included), decrypts every whole block as it arrives and yields complete
 * frames found by their length field, never by stripping zero bytes (rscp.md
 * §5.5).  Needs a caller buffer of at least EW_RSCP_STREAM_BUF_MIN bytes.
 */
#define EW_RSCP_STREAM_BUF_MIN (EW_RSCP_CIPHERTEXT_MAX + EW_RSCP_BLOCK)

typedef struct ew_rscp_stream {
    const ew_rscp_cipher *cipher;
    uint8_t iv[EW_RSCP_BLOCK];
    uint8_t part[EW_RSCP_BLOCK]; /* ciphertext of an incomplete block */
    size_t part_len;
    uint8_t *buf; /* decrypted bytes not yet handed out */
    size_t cap;
    size_t len;
    size_t pos;        /* start of the next frame in buf */
    uint64_t consumed; /* plaintext bytes already handed out (stream offset of buf[0]) */
    unsigned flags;
    int err;
    ew_diag diag;
} ew_rscp_stream;

/*
 * Prepares |s| to decrypt one direction of a connection with |c| (IV chain
 * starting at 32 x 0xFF).  |buf|/|cap| is working memory (at least
 * EW_RSCP_STREAM_BUF_MIN bytes, else `EW_ERR_NOBUF`).  |flags| are
 * EW_RSCP_DECODE_* flags applied to every frame.  Returns `EW_OK`.
 */
EW_API int ew_rscp_stream_init(ew_rscp_stream *s, const ew_rscp_cipher *c, uint8_t *buf, size_t cap,
                               unsigned flags);

/*
 * Feeds |len| bytes of ciphertext.  Returns the number of bytes taken
 * (fewer than |len| only when the working buffer is full of frames that have
 * not been taken with ew_rscp_stream_next() yet), or the sticky error.
 */
EW_API int ew_rscp_stream_feed(ew_rscp_stream *s, const uint8_t *in, size_t len);

/*
 * Takes the next complete frame.  Returns 1 with |f| filled (its views point
 * into the working buffer and stay valid until the next _feed() or _next()),
 * 0 when more ciphertext is needed, or one of: `EW_ERR_DECRYPT` (sticky:
 * decrypted bytes do not start with the E3 DC magic and version, so the RSCP
 * key is wrong or the stream lost its place), `EW_ERR_BAD_FIELD` (sticky,
 * with EW_RSCP_DECODE_STRICT), `EW_ERR_CRC` and `EW_ERR_OVERRUN`/
 * `EW_ERR_DEPTH` (with EW_RSCP_DECODE_VALIDATE): these three spoil only the
 * frame at hand, which is skipped; the next call goes on with the next frame.
 * |d| gives the stream offset (bytes since the start of the direction).
 */
EW_API int ew_rscp_stream_next(ew_rscp_stream *s, ew_rscp_frame *f, ew_diag *d);

/*
 * Declares the end of the stream.  Returns `EW_OK` when nothing is pending,
 * or `EW_ERR_TRUNCATED` when a frame or block was cut off (the frames already
 * taken are unaffected).
 */
EW_API int ew_rscp_stream_finish(ew_rscp_stream *s, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */
/* ------------------------------------------------------------------------ */

/* Print flags. */
#define EW_RSCP_PRINT_TYPES 0x01u   /* append the type: "(Int32)" */
#define EW_RSCP_PRINT_IDS 0x02u     /* append the tag id: "[0x01800001]" */
#define EW_RSCP_PRINT_SECRETS 0x04u /* show passwords instead of "********" */
#define EW_RSCP_PRINT_PRETTY 0x08u  /* JSON: indent */

/*
 * Formats the value of |v| alone ("4687 W", "\"S10-123\"", "error 6
 * RSCP_ERR_NOT_AVAILABLE", "2023-11-14T22:13:20.123Z") into |out|, NUL
 * terminated.  Containers give "(container, N bytes)".  Returns the length
 * of the full text (excluding NUL) as snprintf does; a result >= |cap| means
 * it was cut.
 */
EW_API int ew_rscp_value_format(const ew_rscp_value *v, unsigned flags, char *out, size_t cap);

/*
 * Prints every value of the TLV area |area| as an indented tree, one value a
 * line: "EMS_POWER_PV = 4687 W".  Unknown tags appear as "0x12345678".
 * |*written| receives the text length (without NUL; the output is NUL
 * terminated).  Returns `EW_OK`, or one of: `EW_ERR_NOBUF` (|*written| = size
 * needed including NUL), `EW_ERR_OVERRUN`, `EW_ERR_DEPTH` (the values before
 * the fault are printed, followed by a line naming the fault).
 */
EW_API int ew_rscp_print_text(const uint8_t *area, size_t len, unsigned max_depth, unsigned flags,
                              char *out, size_t cap, size_t *written, ew_diag *d);

/*
 * Prints the TLV area as a JSON array of objects
 * {"tag":"EMS_POWER_PV","id":"0x01800001","type":"Int32","value":4687,"unit":"W"};
 * containers carry their children as the "value" array.  Same returns as
 * ew_rscp_print_text(); on a fault the JSON is still well formed and ends with
 * an {"error": ...} entry.
 */
EW_API int ew_rscp_print_json(const uint8_t *area, size_t len, unsigned max_depth, unsigned flags,
                              char *out, size_t cap, size_t *written, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Query language (path and filter, as rscp_lib's get_tag_by_path)           */
/* ------------------------------------------------------------------------ */

/*
 * Syntax:
 *   path  := step ("/" step)*
 *   step  := TAG [ "(" cond (("&&" | ",") cond)* ")" ]
 *   cond  := TAG op literal
 *   op    := "==" | "!=" | "<" | "<=" | ">" | ">="
 *   literal := integer (decimal or 0x hex, optional sign) | real
 *            | "quoted string" | true | false
 *   TAG   := a tag name with or without TAG_ (any case), or a hex id
 * Example: "PVI_DATA(PVI_INDEX==0)/PVI_DC_POWER".  A step matches the values
 * of one level with that tag whose children satisfy every condition; the next
 * step looks among the matched containers' children.
 */
#define EW_RSCP_QUERY_MAX_STEPS 16
#define EW_RSCP_QUERY_MAX_CONDS 4
#define EW_RSCP_QUERY_MAX_STRING 64

typedef enum ew_rscp_query_op {
    EW_RSCP_OP_EQ,
    EW_RSCP_OP_NE,
    EW_RSCP_OP_LT,
    EW_RSCP_OP_LE,
    EW_RSCP_OP_GT,
    EW_RSCP_OP_GE
} ew_rscp_query_op;

typedef enum ew_rscp_literal_kind {
    EW_RSCP_LIT_INT,
    EW_RSCP_LIT_REAL,
    EW_RSCP_LIT_STRING,
    EW_RSCP_LIT_BOOL
} ew_rscp_literal_kind;

typedef struct ew_rscp_query_cond {
    uint32_t tag;
    ew_rscp_query_op op;
    ew_rscp_literal_kind kind;
    int64_t i;
    double f;
    size_t slen;
    char s[EW_RSCP_QUERY_MAX_STRING];
} ew_rscp_query_cond;

typedef struct ew_rscp_query_step {
    uint32_t tag;
    unsigned ncond;
    ew_rscp_query_cond cond[EW_RSCP_QUERY_MAX_CONDS];
} ew_rscp_query_step;

typedef struct ew_rscp_query {
    unsigned nsteps;
    ew_rscp_query_step steps[EW_RSCP_QUERY_MAX_STEPS];
} ew_rscp_query;

/*
 * Compiles the |len| characters of |text|.  Returns `EW_OK`, or one of:
 * `EW_ERR_SYNTAX` (|d| gives the character offset and what was expected),
 * `EW_ERR_NOT_FOUND` (a tag name that is not in the registry),
 * `EW_ERR_TOO_BIG` (more steps, conditions or string bytes than the limits).
 */
EW_API int ew_rscp_query_compile(ew_rscp_query *q, const char *text, size_t len, ew_diag *d);

/* Called for each match; return non-zero to stop. */
typedef int (*ew_rscp_query_cb)(void *user, const ew_rscp_value *v);

/*
 * Runs |q| over the TLV area |area|.  Calls |cb| (may be NULL) for every
 * match in document order.  Returns the number of matches, or a decode error
 * (`EW_ERR_OVERRUN`, `EW_ERR_DEPTH`) met while searching.
 */
EW_API int ew_rscp_query_run(const ew_rscp_query *q, const uint8_t *area, size_t len,
                             unsigned max_depth, ew_rscp_query_cb cb, void *user, ew_diag *d);

/* First match into |out|: returns 1 found, 0 not found, or an error. */
EW_API int ew_rscp_query_first(const ew_rscp_query *q, const uint8_t *area, size_t len,
                               unsigned max_depth, ew_rscp_value *out, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Request helpers                                                           */
/* ------------------------------------------------------------------------ */

/* Adds RSCP_REQ_AUTHENTICATION{USER, PASSWORD} (rscp.md §7.1). */
EW_API int ew_rscp_req_auth(ew_rscp_builder *b, const char *user, const char *password);

/* Adds one None-typed request value per tag in |tags| (rscp.md §9.1). */
EW_API int ew_rscp_req_tags(ew_rscp_builder *b, const uint32_t *tags, size_t n);

/*
 * Adds an indexed device request such as BAT_REQ_DATA{BAT_INDEX=0,
 * BAT_REQ_RSOC, ...}: container |container|, index child |index_tag| with
 * |index| in the index tag's declared type, then one None request per tag.
 */
EW_API int ew_rscp_req_indexed(ew_rscp_builder *b, uint32_t container, uint32_t index_tag,
                               int64_t index, const uint32_t *tags, size_t n);

/*
 * Reads the answer to an authentication request (rscp.md §7.2): the first
 * value of |area|.  Returns the user level (> 0), or one of: `EW_ERR_AUTH`
 * (level 0, sent as UChar8 or as the Int32 devices use for failures),
 * `EW_ERR_PROTO` (the first value is not RSCP_AUTHENTICATION), a decode error.
 */
EW_API int ew_rscp_auth_level(const uint8_t *area, size_t len, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Session (sans-I/O): login, IV chains, request queue, timers (rscp.md §7, §8) */
/* ------------------------------------------------------------------------ */

/*
 * One RSCP connection in client or server role.  Feed it received bytes with
 * ew_rscp_conn_recv(), take events with ew_rscp_conn_poll_event(), send what
 * ew_rscp_conn_send_data() returns, and drive its timers with a caller-supplied
 * monotonic clock (milliseconds).  It never touches a socket or a clock.
 */
typedef struct ew_rscp_conn ew_rscp_conn;

typedef enum ew_rscp_role { EW_RSCP_ROLE_CLIENT = 0, EW_RSCP_ROLE_SERVER = 1 } ew_rscp_role;

typedef struct ew_rscp_conn_opts {
    ew_rscp_role role;
    /* The caller's monotonic clock (ms) at creation: timers start here. */
    uint64_t now_ms;
    /* The RSCP key string (copied; only the derived key is kept). */
    const char *rscp_key;
    ew_rscp_cipher_impl cipher_impl;
    /* Client: portal user name and password (copied; wiped on _del). */
    const char *user;
    const char *password;
    /* Client: time allowed for each answer, and for the login answer
     * (default 5000 ms each, as pye3dc uses). */
    uint32_t request_timeout_ms;
    uint32_t login_timeout_ms;
    /* Client: after this long without traffic a keep-alive request
     * (RSCP_REQ_USER_LEVEL) is sent; 0 = never (default). */
    uint32_t keepalive_ms;
    /* Client: requests sent before their answers arrive (default 1: one at a
     * time, as every known peer does, rscp.md §8), and requests that may
     * wait in the queue (default 64). */
    unsigned max_inflight;
    unsigned max_queue;
    /* Server: close the connection after this long without a request
     * (default 0 = never). */
    uint32_t idle_timeout_ms;
    /* Decoding limits: container depth (0 = default) and EW_RSCP_DECODE_*
     * flags applied to received frames. */
    unsigned max_depth;
    unsigned decode_flags;
    /* Optional log callback (level 0 = error .. 3 = debug). */
    void (*log)(void *user, int level, const char *msg);
    void *log_user;
} ew_rscp_conn_opts;

/* Fills |o| with the defaults for |role|. */
EW_API void ew_rscp_conn_opts_init(ew_rscp_conn_opts *o, ew_rscp_role role);

typedef enum ew_rscp_event_type {
    /* Client: the device accepted the login; |level| is the user level. */
    EW_RSCP_EV_AUTHENTICATED = 1,
    /* Client: the answer to request |req_id|: its value area in |data|/|len|.
     * When the first top-level answer is an Error value (the device refused,
     * e.g. RSCP_ERR_ACCESS_DENIED for a too-low user level),
     * |device_error| holds its code and |error_tag| its tag. */
    EW_RSCP_EV_RESPONSE = 2,
    /* Client: request |req_id| got no answer; |err| says why
     * (EW_ERR_TIMEOUT, EW_ERR_CLOSED, EW_ERR_AUTH, EW_ERR_DECRYPT, ...). */
    EW_RSCP_EV_REQUEST_FAILED = 3,
    /* Server: a login attempt (|user|, |password|); answer with
     * ew_rscp_conn_login_result(). */
    EW_RSCP_EV_LOGIN = 4,
    /* Server: request |req_id| with its value area in |data|/|len|; answer
     * with ew_rscp_conn_respond() (answers go out in request order). */
    EW_RSCP_EV_REQUEST = 5,
    /* The connection is finished: |err| says why (EW_OK for an orderly close
     * after ew_rscp_conn_close()); ew_rscp_conn_error_detail() explains. */
    EW_RSCP_EV_CLOSED = 6
} ew_rscp_event_type;

typedef struct ew_rscp_event {
    ew_rscp_event_type type;
    uint32_t req_id;
    int err;
    int level;
    /* Views valid until the next call on the connection. */
    const uint8_t *data;
    size_t len;
    uint32_t device_error;
    uint32_t error_tag;
    ew_bytes user;
    ew_bytes password;
    /* Header time of the frame the event came from. */
    ew_rscp_timestamp ts;
} ew_rscp_event;

/*
 * Creates a connection.  |mem| may be NULL (malloc).  Returns `EW_OK`, or
 * one of: `EW_ERR_INVAL` (no key; a client without user or password),
 * `EW_ERR_NOMEM`.  A client queues its login at once; requests submitted
 * before the login succeeds wait for it.
 */
EW_API int ew_rscp_conn_new(ew_rscp_conn **c, const ew_rscp_conn_opts *o, const ew_mem *mem);

/* Frees |c| and wipes its secrets. */
EW_API void ew_rscp_conn_del(ew_rscp_conn *c);

/*
 * Sets the wall-clock time written into the headers of frames sent from now
 * on (the session never reads a clock).
 */
EW_API void ew_rscp_conn_set_time(ew_rscp_conn *c, ew_rscp_timestamp now);

/*
 * Client: queues a request frame holding the |len| value bytes at |tlvs|
 * (built with ew_rscp_builder_init()).  |*req_id| receives the id its events
 * will carry.  Returns `EW_OK`, or one of: `EW_ERR_NOBUF` (queue full),
 * `EW_ERR_TOO_BIG`, `EW_ERR_STATE` (server role, or the connection is
 * closed), `EW_ERR_NOMEM`.
 */
EW_API int ew_rscp_conn_submit(ew_rscp_conn *c, const uint8_t *tlvs, size_t len, uint64_t now_ms,
                               uint32_t *req_id);

/*
 * Server: answers the login event with user level |level| (1..255
 * accepts, 0 refuses: the client receives RSCP_AUTHENTICATION as Int32 0,
 * rscp.md §7.2).  Returns `EW_OK`, `EW_ERR_INVAL` (level out of range) or
 * `EW_ERR_STATE`.
 */
EW_API int ew_rscp_conn_login_result(ew_rscp_conn *c, int level);

/*
 * Server: answers request |req_id| with the |len| value bytes at |tlvs|.
 * Answers are sent in request order; an answer given early waits for the ones
 * before it.  Returns `EW_OK`, or one of: `EW_ERR_STATE` (unknown id),
 * `EW_ERR_TOO_BIG`, `EW_ERR_NOMEM`.
 */
EW_API int ew_rscp_conn_respond(ew_rscp_conn *c, uint32_t req_id, const uint8_t *tlvs, size_t len);

/*
 * Feeds |len| received bytes.  Returns the number consumed: fewer than |len|
 * when the frames already received must first be taken with
 * ew_rscp_conn_poll_event() (then call again with the rest), 0 once the
 * connection is closed, or `EW_ERR_DEAD` after running out of memory.
 * Problems with the peer's data are reported as events, not return codes.
 */
EW_API int ew_rscp_conn_recv(ew_rscp_conn *c, const uint8_t *in, size_t len, uint64_t now_ms);

/* The peer closed its side.  Frames received before are still delivered;
 * then pending requests fail and a CLOSED event follows (for a client whose
 * login got no answer: EW_ERR_DECRYPT, "wrong RSCP key?", rscp.md §7.3). */
EW_API void ew_rscp_conn_recv_eof(ew_rscp_conn *c, uint64_t now_ms);

/* Takes the next event: 1 = |ev| filled, 0 = none. */
EW_API int ew_rscp_conn_poll_event(ew_rscp_conn *c, ew_rscp_event *ev);

/*
 * Bytes waiting to be sent: sets |*out| and returns their count (0 when
 * nothing is pending).  Each encrypted frame is returned whole in one call
 * when possible, so the caller can send it with one write (rscp.md §11.2).
 * Call ew_rscp_conn_send_done() with the number actually written.
 */
EW_API size_t ew_rscp_conn_send_data(ew_rscp_conn *c, const uint8_t **out);
EW_API void ew_rscp_conn_send_done(ew_rscp_conn *c, size_t n);

/* The next time (ms) ew_rscp_conn_on_timeout() must be called, or
 * UINT64_MAX when no timer runs. */
EW_API uint64_t ew_rscp_conn_next_deadline(const ew_rscp_conn *c);
EW_API void ew_rscp_conn_on_timeout(ew_rscp_conn *c, uint64_t now_ms);

/* Closes in an orderly way: queued requests fail with EW_ERR_CLOSED. */
EW_API void ew_rscp_conn_close(ew_rscp_conn *c);

/* 1 when the caller should close the socket (after sending what is left). */
EW_API int ew_rscp_conn_want_close(const ew_rscp_conn *c);

/* 1 once the login succeeded (client) or was accepted (server). */
EW_API int ew_rscp_conn_authenticated(const ew_rscp_conn *c);

/* The sticky error (EW_OK while healthy) and a sentence explaining it. */
EW_API int ew_rscp_conn_error(const ew_rscp_conn *c);
EW_API const char *ew_rscp_conn_error_detail(const ew_rscp_conn *c);

/* The caller's requests queued or in flight (client; the login and
 * keep-alives are not counted). */
EW_API size_t ew_rscp_conn_pending(const ew_rscp_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_RSCP_H */
