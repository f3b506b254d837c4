/*
 * energywire RCT codec: the serial protocol of RCT Power inverters and
 * batteries (TCP 8899).
 *
 * Sans-I/O and allocation-free: CRC-16, the frame builder (with escaping),
 * an incremental receiver, value encoding and decoding (including the
 * timeseries, event table and battery-module composite types), the object
 * registry generated from data/rct_oids.csv, and text/JSON formatting.  Byte
 * layouts follow docs/protocols/rct.md (sections cited as "rct.md §N"); the
 * choices this codec makes where rctclient or rct.md leave room are listed in
 * docs/rct-codec.md.
 *
 * Everything here writes into caller-supplied memory.  Views (`const uint8_t
 * *` and `ew_bytes` in results) point into the caller's input or into the
 * receiver's buffer and stay valid as long as that memory does, unless a
 * function says otherwise.
 */
#ifndef ENERGYWIRE_RCT_H
#define ENERGYWIRE_RCT_H

#include <energywire/ew.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants (rct.md §2, §3)                                                 */
/* ------------------------------------------------------------------------ */

#define EW_RCT_PORT 8899
#define EW_RCT_START 0x2Bu  /* '+': starts every frame, never escaped */
#define EW_RCT_ESCAPE 0x2Du /* '-': precedes an escaped 0x2B or 0x2D */

/* Command codes (rct.md §3.1).  Bit 6 marks plant frames (with ADDRESS). */
typedef enum ew_rct_cmd {
    EW_RCT_CMD_READ = 0x01,
    EW_RCT_CMD_WRITE = 0x02,
    EW_RCT_CMD_LONG_WRITE = 0x03,
    EW_RCT_CMD_RESPONSE = 0x05,
    EW_RCT_CMD_LONG_RESPONSE = 0x06,
    EW_RCT_CMD_READ_PERIODICALLY = 0x08,
    EW_RCT_CMD_EXTENSION = 0x3C,
    EW_RCT_CMD_PLANT_READ = 0x41,
    EW_RCT_CMD_PLANT_WRITE = 0x42,
    EW_RCT_CMD_PLANT_LONG_WRITE = 0x43,
    EW_RCT_CMD_PLANT_RESPONSE = 0x45,
    EW_RCT_CMD_PLANT_LONG_RESPONSE = 0x46,
    EW_RCT_CMD_PLANT_READ_PERIODICALLY = 0x48
} ew_rct_cmd;

#define EW_RCT_CMD_PLANT_BIT 0x40u

/* Largest unescaped frame: start + command + 2-byte length + 65535 bytes
 * counted by the length + CRC (rct.md §2). */
#define EW_RCT_FRAME_MAX 65541
/* Largest escaped frame: the start token plus every other byte doubled. */
#define EW_RCT_WIRE_MAX (1 + 2 * (EW_RCT_FRAME_MAX - 1))
/* Smallest receiver buffer: the longest header (plant, long: 12) + CRC. */
#define EW_RCT_RX_BUF_MIN 16
/* Payload limits: short frames count at most 255 bytes in LENGTH, long
 * frames 65535; ADDRESS (plant) and ID are counted too (rct.md §4). */
#define EW_RCT_SHORT_PAYLOAD_MAX 251
#define EW_RCT_PLANT_SHORT_PAYLOAD_MAX 247
#define EW_RCT_LONG_PAYLOAD_MAX 65531
#define EW_RCT_PLANT_LONG_PAYLOAD_MAX 65527

/* Returns the command name ("READ", "PLANT_LONG_RESPONSE", "EXTENSION"), or
 * NULL for a byte that is not a command. */
EW_API const char *ew_rct_cmd_name(unsigned cmd);

/*
 * Classifies command byte |cmd| (rct.md §3.1 rules): returns a combination
 * of the EW_RCT_CMDF_* flags below, or 0 when |cmd| is not a frame command
 * (undefined bytes, 0xFF, and EXTENSION, which has no frame layout).
 */
#define EW_RCT_CMDF_VALID 0x01u      /* a frame command */
#define EW_RCT_CMDF_PLANT 0x02u      /* carries a 4-byte ADDRESS */
#define EW_RCT_CMDF_LONG 0x04u       /* 2-byte LENGTH */
#define EW_RCT_CMDF_WRITE 0x08u      /* WRITE, LONG_WRITE and plant variants */
#define EW_RCT_CMDF_RESPONSE 0x10u   /* RESPONSE, LONG_RESPONSE and plant variants */
#define EW_RCT_CMDF_NO_PAYLOAD 0x20u /* READ, READ_PERIODICALLY and plant variants */
EW_API unsigned ew_rct_cmd_flags(unsigned cmd);

/* ------------------------------------------------------------------------ */
/* CRC-16 (rct.md §6.1)                                                      */
/* ------------------------------------------------------------------------ */

/*
 * CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, not reflected) of
 * the |len| bytes at |data|, with the protocol's padding rule: an odd-length
 * input is extended by one 0x00 byte first.  ew_rct_crc16("123456789", 9)
 * is 0x044B.
 */
EW_API uint16_t ew_rct_crc16(const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Frame builder (rct.md §2-§5)                                              */
/* ------------------------------------------------------------------------ */

/*
 * Writes one escaped frame into |out| (|cap| bytes): start token, COMMAND,
 * LENGTH (2 bytes for the LONG commands, plant ones included), ADDRESS (plant
 * commands only, taken from the command's 0x40 bit), ID, payload, CRC; every
 * byte after the start token, the CRC included, is escaped (rct.md §5.1).
 *
 * |address| is ignored by standard commands.  The read-type commands (READ,
 * READ_PERIODICALLY and their plant variants) carry no payload: |payload| is
 * ignored and LENGTH is 4 (8 for plant) (rct.md §11 Q1, Q2).  EXTENSION
 * (0x3C) writes the three bytes `2b 3c <arg>` with |payload| holding exactly
 * the one argument byte and no length or CRC (rct.md §3.2); |address| and
 * |id| are ignored.  |payload| may be NULL when |len| is 0.
 *
 * On success |*written| is the frame length.  Returns `EW_OK`, or one of:
 * `EW_ERR_NOBUF` (|*written| = the size needed), `EW_ERR_TOO_BIG` (the
 * payload does not fit the command's LENGTH field: use the LONG command),
 * `EW_ERR_BAD_FIELD` (|cmd| is not a command), `EW_ERR_INVAL` (NULL
 * pointers, or an EXTENSION argument that is not one byte).
 *
 * Example:
 *
 *     uint8_t buf[32];
 *     size_t n;
 *     ew_rct_frame_encode(buf, sizeof buf, EW_RCT_CMD_READ, 0, 0x959930BFu,
 *                         NULL, 0, &n);    // 2b 01 04 95 99 30 bf 0d 65
 */
EW_API int ew_rct_frame_encode(uint8_t *out, size_t cap, unsigned cmd, uint32_t address,
                               uint32_t id, const uint8_t *payload, size_t len, size_t *written);

/* ------------------------------------------------------------------------ */
/* Incremental receiver (rct.md §5.2, §5.3, §6.2)                            */
/* ------------------------------------------------------------------------ */

/* A received frame (or, with an error, as much of it as was read). */
typedef struct ew_rct_frame {
    uint8_t command;
    uint8_t plant;    /* 1 when the command has the plant bit */
    uint8_t is_long;  /* 1 when LENGTH has 2 bytes */
    uint8_t crc_ok;   /* 1 when the received CRC matched */
    uint32_t address; /* plant frames; 0 otherwise */
    uint32_t id;
    uint16_t length;   /* the LENGTH field */
    uint16_t crc;      /* CRC as received */
    uint16_t crc_calc; /* CRC computed over the unescaped body */
    /* The payload: a view into the receiver's buffer, valid until the next
     * call on the receiver. */
    ew_bytes payload;
    /* Unescaped frame length from the start token to the CRC (0 until the
     * header is complete). */
    size_t frame_len;
    /* Bytes skipped before this frame's start token, counted since the
     * previous outcome. */
    size_t skipped;
} ew_rct_frame;

/* The receiver: a struct the caller owns.  Fields are private. */
typedef struct ew_rct_rx {
    uint8_t *buf; /* unescaped frame, start token at buf[0] */
    size_t cap;
    size_t len;   /* unescaped bytes stored; 0 while hunting for 0x2B */
    size_t hdr;   /* header length (7, 8, 11, 12); 0 before the command */
    size_t total; /* frame length; 0 until the header is complete */
    size_t skipped;
    uint64_t pos; /* bytes fed since init: the stream offset */
    int esc;
} ew_rct_rx;

/*
 * Prepares |rx| to receive frames into |buf| (|cap| bytes, owned by the
 * caller, used until the receiver is abandoned).  Frames whose unescaped
 * length exceeds |cap| are refused with `EW_ERR_TOO_BIG`;
 * `EW_RCT_FRAME_MAX` bytes take any frame.  Returns `EW_OK`, or one of:
 * `EW_ERR_NOBUF` (|cap| < EW_RCT_RX_BUF_MIN), `EW_ERR_INVAL` (NULL).
 */
EW_API int ew_rct_rx_init(ew_rct_rx *rx, uint8_t *buf, size_t cap);

/* Drops any partial frame; the receiver hunts for a start token again.  The
 * stream offset keeps counting. */
EW_API void ew_rct_rx_reset(ew_rct_rx *rx);

/*
 * Feeds |len| bytes at |in|.  The receiver stops after the first outcome
 * other than "need more"; |*consumed| (always set) says how many bytes of
 * |in| it used, up to and including the byte that decided the outcome.  Feed
 * the rest, `in + *consumed`, in the next call: two frames in one chunk come
 * out one per call.  Bytes before a start token are skipped and counted in
 * |*consumed| (and in |f->skipped|).  After every outcome other than
 * `EW_ERR_NEED_MORE` the receiver hunts for the next start token by itself;
 * no reset is needed.
 *
 * Like rctclient (rct.md §5.2), an unescaped 0x2B inside a frame is data
 * (no resynchronisation) and 0x2D before an ordinary byte yields that byte.
 * An escape token as the last byte of a chunk is remembered.
 *
 * |f| receives the frame on `EW_OK` and `EW_ERR_CRC`, the header fields read
 * so far on the other errors; its payload view points into the receiver's
 * buffer and is valid until the next call on |rx|.  |d| (optional) gets the
 * stream offset (bytes fed since init) of the deciding byte.
 *
 * Returns `EW_OK` (a frame is complete and its CRC matches), or one of:
 * `EW_ERR_NEED_MORE` (all of |in| consumed, no outcome yet), `EW_ERR_CRC`
 * (a complete frame whose CRC differs: |f| holds it with crc_ok = 0; rct.md
 * §15 says such data is for debugging only), `EW_ERR_BAD_FIELD` (the byte
 * after the start token is not a frame command, EXTENSION and 0xFF included;
 * consumed through that byte; |f->command| holds it), `EW_ERR_OVERRUN` (the
 * LENGTH field is below 4, or 8 for plant frames, so the frame would end
 * inside its own header: rctclient's FrameLengthExceeded, detected as soon as
 * the header is in), `EW_ERR_TOO_BIG` (the frame is longer than the buffer
 * given to ew_rct_rx_init(); consumed through the header, the rest of the
 * frame is then skipped as garbage), `EW_ERR_INVAL` (NULL pointers).
 *
 * Example (rct.md §6.5):
 *
 *     size_t pos = 0, n;
 *     while (pos < len) {
 *         int rc = ew_rct_rx_feed(&rx, buf + pos, len - pos, &n, &f, NULL);
 *         pos += n;
 *         if (rc == EW_OK)
 *             handle(&f);
 *         else if (rc != EW_ERR_NEED_MORE)
 *             note_broken_frame(rc);
 *     }
 */
EW_API int ew_rct_rx_feed(ew_rct_rx *rx, const uint8_t *in, size_t len, size_t *consumed,
                          ew_rct_frame *f, ew_diag *d);

/*
 * Fills |f| with the header of the frame being received (command, address,
 * id, length, frame_len) so that a caller can abandon an implausible frame
 * early with ew_rct_rx_reset() (rct.md §5.3).  Returns 1 when the header is
 * complete, else 0.
 */
EW_API int ew_rct_rx_header(const ew_rct_rx *rx, ew_rct_frame *f);

/* ------------------------------------------------------------------------ */
/* Data types and values (rct.md §7-§9)                                      */
/* ------------------------------------------------------------------------ */

/* rctclient's DataType codes, as the registry names them (rct.md §7). */
typedef enum ew_rct_type {
    EW_RCT_TYPE_UNKNOWN = 0,
    EW_RCT_TYPE_BOOL = 1,
    EW_RCT_TYPE_UINT8 = 2,
    EW_RCT_TYPE_INT8 = 3,
    EW_RCT_TYPE_UINT16 = 4,
    EW_RCT_TYPE_INT16 = 5,
    EW_RCT_TYPE_UINT32 = 6,
    EW_RCT_TYPE_INT32 = 7,
    EW_RCT_TYPE_ENUM = 8,
    EW_RCT_TYPE_FLOAT = 9,
    EW_RCT_TYPE_STRING = 10,
    EW_RCT_TYPE_TIMESERIES = 20,
    EW_RCT_TYPE_EVENT_TABLE = 21,
    EW_RCT_TYPE_BATTERY_MODULE_STATUS = 22,
    EW_RCT_TYPE_BATTERY_MODULE_STATISTICS = 23,
    EW_RCT_TYPE_BATTERY_MODULE_RESISTANCE = 24
} ew_rct_type;

/* Returns the type's name as in data/rct_oids.csv ("FLOAT"), or NULL. */
EW_API const char *ew_rct_type_name(int type);

/* Parses a type name (case-insensitive, |len| bytes); returns the type or
 * `EW_ERR_NOT_FOUND`. */
EW_API int ew_rct_type_from_name(const char *name, size_t len);

/* Returns the wire size of a fixed-size type, or -1 for variable sizes
 * (STRING, TIMESERIES, EVENT_TABLE, UNKNOWN) and unknown type codes. */
EW_API int ew_rct_type_fixed_size(int type);

/* Sizes of the composite types (rct.md §8, §9). */
#define EW_RCT_TS_POINT_SIZE 8
#define EW_RCT_EVENT_SIZE 20
#define EW_RCT_BAT_CELLS 24
#define EW_RCT_BAT_STATUS_SIZE 96
#define EW_RCT_BAT_STATS_SIZE 48
#define EW_RCT_BAT_RESIST_SIZE 96

/*
 * A decoded value.  Which members are meaningful depends on |type|:
 *   BOOL                 |i| is 0 or 1 (any non-zero byte is true)
 *   UINT8..INT32, ENUM   |i| holds the number (UINT32 up to 4294967295)
 *   FLOAT                |f| (widened to double) and |bits| (the raw binary32)
 *   STRING               |bytes|: the bytes before the first NUL (raw; the
 *                        device's character set is not known, rct.md §18 Q11)
 *   TIMESERIES,
 *   EVENT_TABLE          |ts| the echoed query time, |count| points/entries;
 *                        walk them with ew_rct_ts_init()/ew_rct_events_init()
 *   BATTERY_MODULE_*     the length is checked; use ew_rct_bat_*_decode()
 *   UNKNOWN              nothing but |raw|
 * |raw| is always the whole payload (a view into the decoder's input).
 */
typedef struct ew_rct_value {
    int type;
    int64_t i;
    double f;
    uint32_t bits;
    ew_bytes bytes;
    uint32_t ts;
    size_t count;
    ew_bytes raw;
} ew_rct_value;

/*
 * Decodes the |len| payload bytes at |p| as type |type| into |v|.  Fixed-size
 * types need exactly their size (rct.md §7: devices send short payloads with
 * a valid CRC, §15).  Type codes this library does not know decode as
 * UNKNOWN (raw bytes), never as an error.
 *
 * Returns `EW_OK`, or one of: `EW_ERR_TRUNCATED` (the payload is shorter than
 * the type needs, or a timeseries/event table ends inside a point or entry;
 * |d->offset| is where the incomplete part starts), `EW_ERR_TOO_BIG` (longer
 * than a fixed-size type; offset = the type's size), `EW_ERR_INVAL` (NULL).
 */
EW_API int ew_rct_value_decode(int type, const uint8_t *p, size_t len, ew_rct_value *v, ew_diag *d);

/*
 * Encoders.  Each writes the payload into |out| (|cap| bytes) and sets
 * |*written|; `EW_ERR_NOBUF` sets it to the size needed.
 *
 * ew_rct_value_encode_int(): BOOL (non-zero gives 01), UINT8/ENUM (0..255),
 * UINT16 (0..65535), UINT32 (0..4294967295), INT8/16/32 (their signed
 * ranges), FLOAT (the number converted).  Unsigned types also take negative
 * numbers down to the signed minimum and store them in two's complement, as
 * rctclient does (-1 gives ff); unlike rctclient they take the upper half of
 * the range too (rct.md §11 Q8).  Returns `EW_OK`, or `EW_ERR_RANGE` (the
 * number does not fit), `EW_ERR_INVAL` (a type that does not hold numbers,
 * or one rctclient cannot encode: TIMESERIES, EVENT_TABLE, BATTERY_*,
 * UNKNOWN), `EW_ERR_NOBUF`.
 */
EW_API int ew_rct_value_encode_int(int type, int64_t v, uint8_t *out, size_t cap, size_t *written);

/*
 * FLOAT: |v| rounded to binary32 (NaN gives 7fc00000, infinities pass).  A
 * finite |v| that rounds to infinity is `EW_ERR_RANGE` (as rctclient's
 * OverflowError).  Integer types take |v| when it is integral and in range.
 */
EW_API int ew_rct_value_encode_double(int type, double v, uint8_t *out, size_t cap,
                                      size_t *written);

/* STRING: the |len| bytes at |s| verbatim, no terminator added (rct.md §7). */
EW_API int ew_rct_value_encode_string(const void *s, size_t len, uint8_t *out, size_t cap,
                                      size_t *written);

/*
 * Re-encodes a decoded value: scalars from their fields, STRING from
 * |bytes|, composite and UNKNOWN values from |raw|.  Decode, encode, decode
 * gives the same value.  Returns as the encoders above.
 */
EW_API int ew_rct_value_encode(const ew_rct_value *v, uint8_t *out, size_t cap, size_t *written);

/* ---- timeseries (rct.md §8.1): zero-copy iterator ---------------------- */

typedef struct ew_rct_ts_point {
    uint32_t timestamp;
    float value;
} ew_rct_ts_point;

typedef struct ew_rct_ts_iter {
    const uint8_t *p;
    const uint8_t *end;
    uint32_t query_ts; /* the echoed query time T */
    size_t count;      /* number of points */
} ew_rct_ts_iter;

/*
 * Checks that the |len| bytes at |p| are T followed by whole 8-byte points
 * and prepares |it| to walk them in wire order (duplicates are kept,
 * rct.md §11 Q11).  Returns `EW_OK`, or `EW_ERR_TRUNCATED` (shorter than 4,
 * or the last point is cut; offset = start of the cut point).
 */
EW_API int ew_rct_ts_init(ew_rct_ts_iter *it, const uint8_t *p, size_t len, ew_diag *d);

/* Reads the next point.  Returns 1, or 0 after the last one. */
EW_API int ew_rct_ts_next(ew_rct_ts_iter *it, ew_rct_ts_point *pt);

/* ---- event table (rct.md §8.2): zero-copy iterator --------------------- */

typedef struct ew_rct_event {
    uint32_t type; /* entry type; only the low byte has been seen in use */
    uint32_t timestamp;
    uint32_t element2;
    uint32_t element3;
    uint32_t element4;
} ew_rct_event;

typedef struct ew_rct_event_iter {
    const uint8_t *p;
    const uint8_t *end;
    uint32_t query_ts; /* the echoed T (rctclient reports a different one, Q10) */
    size_t count;
} ew_rct_event_iter;

/* As ew_rct_ts_init() for 20-byte entries.  Entry types above 255 are
 * reported as they are, not refused. */
EW_API int ew_rct_events_init(ew_rct_event_iter *it, const uint8_t *p, size_t len, ew_diag *d);
EW_API int ew_rct_events_next(ew_rct_event_iter *it, ew_rct_event *ev);

/* Returns the name of a known event type (rct.md §8.2 table: "NO_GRID"), or
 * NULL. */
EW_API const char *ew_rct_event_type_name(uint32_t type);

/* ---- battery module composite types (rct.md §9) ------------------------ */

typedef struct ew_rct_bat_cell {
    uint8_t temperature_c;
    uint16_t voltage_mv; /* little-endian on the wire */
    uint8_t status;
} ew_rct_bat_cell;

typedef struct ew_rct_bat_extreme {
    uint32_t cell;
    uint32_t timestamp; /* 0 = none */
    float value;        /* V for u_min/u_max, °C for t_min/t_max */
} ew_rct_bat_extreme;

typedef struct ew_rct_bat_stats {
    ew_rct_bat_extreme u_min, u_max, t_min, t_max;
} ew_rct_bat_stats;

/*
 * BATTERY_MODULE_STATUS: 24 cells of (u8 temperature, u16 LE mV, u8 status).
 * BATTERY_MODULE_STATISTICS: 4 x (u32 LE cell, u32 LE time, f32 LE value).
 * BATTERY_MODULE_RESISTANCE: 24 x (u16 BE raw, 2 padding bytes);
 * milliohms = raw / 256.
 * Each returns `EW_OK`, `EW_ERR_TRUNCATED` or `EW_ERR_TOO_BIG` (wrong
 * length, offset as ew_rct_value_decode()), or `EW_ERR_INVAL`.
 */
EW_API int ew_rct_bat_status_decode(const uint8_t *p, size_t len,
                                    ew_rct_bat_cell cells[EW_RCT_BAT_CELLS], ew_diag *d);
EW_API int ew_rct_bat_stats_decode(const uint8_t *p, size_t len, ew_rct_bat_stats *out, ew_diag *d);
EW_API int ew_rct_bat_resist_decode(const uint8_t *p, size_t len, uint16_t raw[EW_RCT_BAT_CELLS],
                                    ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Object registry (generated from data/rct_oids.csv, rct.md §16)           */
/* ------------------------------------------------------------------------ */

typedef struct ew_rct_object {
    uint32_t id;
    const char *name;        /* "battery.soc" */
    const char *group;       /* ObjectGroup name: "BATTERY" */
    int request_type;        /* ew_rct_type */
    int response_type;       /* differs only for TIMESERIES and EVENT_TABLE */
    const char *unit;        /* "%", "°C", or "" */
    const char *description; /* or "" */
    const char *sim_data;    /* explicit simulator value, or "" */
} ew_rct_object;

/* Number of objects (895) and entry |i| in order of id (NULL past the end). */
EW_API size_t ew_rct_object_count(void);
EW_API const ew_rct_object *ew_rct_object_at(size_t i);

/* Returns the object with |id|, or NULL (binary search). */
EW_API const ew_rct_object *ew_rct_object_by_id(uint32_t id);

/*
 * Returns the object named |name| (|len| bytes, no NUL needed), or NULL.
 * The exact spelling wins; otherwise the match ignores ASCII case (names are
 * unique either way).  Binary search.
 */
EW_API const ew_rct_object *ew_rct_object_by_name(const char *name, size_t len);

/*
 * Parses an object given as a name or a number ("battery.soc", "0x959930BF",
 * "2509844671") into |id|.  A number need not be in the registry (unknown
 * ids are legal on the wire).  Returns `EW_OK` or `EW_ERR_NOT_FOUND`.
 */
EW_API int ew_rct_oid_parse(const char *text, size_t len, uint32_t *id);

/*
 * Matches |name| against the glob |pattern| ('*' any run, '?' one
 * character, everything else literal, including '[' and ']'; ASCII case is
 * ignored).  Returns 1 on a match.
 */
EW_API int ew_rct_glob_match(const char *pattern, size_t plen, const char *name);

/*
 * Lists objects in order of name: those in |group| (case-insensitive; NULL
 * for all) whose name matches |pattern| (NULL or "" for all; see
 * ew_rct_glob_match(): "battery.*", "*soc*").  Stores up to |cap| pointers in
 * |out| (may be NULL with |cap| 0) and returns the number of matches, which
 * may exceed |cap|.
 */
EW_API size_t ew_rct_object_select(const char *group, const char *pattern,
                                   const ew_rct_object **out, size_t cap);

/*
 * Returns the type to decode a payload of object |id| carried by command
 * |cmd| with: the response type for (PLANT_)(LONG_)RESPONSE, the request
 * type otherwise (rct.md §14 step 5).  Unknown ids give EW_RCT_TYPE_UNKNOWN,
 * which decodes as raw bytes.
 */
EW_API int ew_rct_type_for(uint32_t id, unsigned cmd);

/* ------------------------------------------------------------------------ */
/* Formatting                                                                */
/* ------------------------------------------------------------------------ */

#define EW_RCT_FMT_JSON 0x01u   /* JSON instead of text */
#define EW_RCT_FMT_PRETTY 0x02u /* JSON: indent; text: one point/entry a line */

/*
 * Formats the |len| payload bytes at |p|, decoded as |type|, into |out|
 * (NUL-terminated when |cap| > 0).  Floats print as the shortest text that
 * reads back as the same value widened to double (what rctclient prints:
 * "0.8478931188583374", "1.0", "1e-45" is "1.401298464324817e-45").
 *
 * Text: "true", "42", "0.5", the string bytes (non-printable and non-UTF-8
 * bytes as \xNN), "0x<hex>" for UNKNOWN; timeseries "T=<iso>; <iso>=<value>,
 * ..."; event table "T=<iso>; 0x<type> <iso> 0x<e2> 0x<e3> 0x<e4>, ..."; the
 * battery types as compact JSON.  JSON: true, numbers, strings, and objects
 * for the composite types ({"query_time":..,"points":[{"time":..,
 * "value":..}]}, {"query_time":..,"entries":[...]}, {"cells":[...]}).
 *
 * Returns the full text length as snprintf does (a result >= |cap| means it
 * was cut), or a decoding error of ew_rct_value_decode() (then |out| holds
 * the payload as "0x<hex>", JSON: a string).
 */
EW_API int ew_rct_value_format(int type, const uint8_t *p, size_t len, unsigned flags, char *out,
                               size_t cap, ew_diag *d);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_RCT_H */
