/*
 * energywire: common definitions shared by every protocol module.
 *
 * Error codes, byte views, the allocator hook and the diagnostic record that
 * decoders fill in when they reject input.  This header includes only
 * <stdint.h> and <stddef.h>.
 */
#ifndef ENERGYWIRE_EW_H
#define ENERGYWIRE_EW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EW_API __declspec(dllexport)
#elif defined(__GNUC__)
#define EW_API __attribute__((visibility("default")))
#else
#define EW_API
#endif

#define EW_VERSION_MAJOR 0
#define EW_VERSION_MINOR 1
#define EW_VERSION_PATCH 0
#define EW_VERSION_STRING "0.1.0"

/*
 * Result codes.  `EW_OK` is zero, every error is negative.  Functions that
 * return a count (bytes consumed, bytes written) return it as a non-negative
 * int and an `ew_err` otherwise.
 *
 * Codes below `EW_ERR_FATAL` mean that a session is dead: only its `_del`
 * function may be called afterwards.
 */
typedef enum ew_err {
    EW_OK = 0,
    /* Not a failure: the input ends before a complete unit; feed more. */
    EW_ERR_NEED_MORE = -1,
    /* An argument is invalid (NULL where a pointer is required, bad name). */
    EW_ERR_INVAL = -2,
    /* The caller's buffer is too small; the needed size is reported. */
    EW_ERR_NOBUF = -3,
    /* The peer violated the protocol in a way no more specific code covers. */
    EW_ERR_PROTO = -4,
    /* A checksum (RSCP CRC32, RCT CRC16) does not match. */
    EW_ERR_CRC = -5,
    /* Decrypted data makes no sense: the RSCP key is almost certainly wrong. */
    EW_ERR_DECRYPT = -6,
    /* The device refused the user name or password. */
    EW_ERR_AUTH = -7,
    /* A request or the connection timed out. */
    EW_ERR_TIMEOUT = -8,
    /* The call is not allowed in the object's current state. */
    EW_ERR_STATE = -9,
    /* The peer closed the connection. */
    EW_ERR_CLOSED = -10,
    /* A frame does not start with the protocol's magic bytes. */
    EW_ERR_BAD_MAGIC = -11,
    /* A frame announces a protocol version this library does not speak. */
    EW_ERR_BAD_VERSION = -12,
    /* A length field points beyond the data that holds it. */
    EW_ERR_OVERRUN = -13,
    /* Containers are nested deeper than the configured limit. */
    EW_ERR_DEPTH = -14,
    /* A frame or value is larger than the protocol (or a configured limit) allows. */
    EW_ERR_TOO_BIG = -15,
    /* Text (a query, a value, a hex string) does not follow its syntax. */
    EW_ERR_SYNTAX = -16,
    /* A name or path does not resolve to anything. */
    EW_ERR_NOT_FOUND = -17,
    /* A number does not fit the value type it is meant for. */
    EW_ERR_RANGE = -18,
    /* Reserved bits are set or a field has a value the protocol forbids. */
    EW_ERR_BAD_FIELD = -19,
    /* The data ended in the middle of a unit and no more will come. */
    EW_ERR_TRUNCATED = -20,

    EW_ERR_FATAL = -900,
    /* Memory allocation failed. */
    EW_ERR_NOMEM = -901,
    /* A session hit an earlier fatal error; only `_del` is allowed. */
    EW_ERR_DEAD = -902
} ew_err;

/*
 * Returns a short English text for |rc| (never NULL; unknown codes give
 * "unknown error").  The string is static.
 */
EW_API const char *ew_strerror(int rc);

/*
 * Returns the symbolic name of |rc|, e.g. "EW_ERR_CRC" (static, never NULL).
 */
EW_API const char *ew_errname(int rc);

/* A view of bytes owned by someone else; see the function that returns it. */
typedef struct ew_bytes {
    const uint8_t *ptr;
    size_t len;
} ew_bytes;

/*
 * Optional allocator for objects that allocate (sessions, never codecs).
 * A NULL `ew_mem *` means malloc/realloc/free.
 */
typedef struct ew_mem {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *ptr, size_t size, void *user);
    void (*free_fn)(void *ptr, void *user);
    void *user;
} ew_mem;

/*
 * What a decoder found wrong.  Decoders take an optional `ew_diag *` and,
 * when they return an error, set |code| to the same code, |offset| to the
 * byte offset (from the start of the input they were given) where the problem
 * was found, and |what| to a static, human-readable sentence fragment such as
 * "container length runs past its parent".
 */
typedef struct ew_diag {
    int code;
    size_t offset;
    const char *what;
} ew_diag;

/*
 * Formats |d| as "error text at offset N: what" into |buf| (always
 * NUL-terminated when |cap| > 0).  Returns the length the full text needs,
 * excluding the NUL, like snprintf.
 */
EW_API int ew_diag_format(const ew_diag *d, char *buf, size_t cap);

/*
 * Decodes the hexadecimal text |hex| (|len| characters; ASCII whitespace and
 * ':' separators are skipped, both cases accepted) into |out|.
 *
 * Returns the number of bytes written, or one of: `EW_ERR_SYNTAX` (a character
 * that is not a hex digit, or an odd number of digits), `EW_ERR_NOBUF` (|cap|
 * too small; nothing useful was written).
 */
EW_API int ew_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap);

/*
 * Writes |len| bytes of |in| as lower-case hex plus a NUL into |out|, which
 * must hold 2 * |len| + 1 bytes.  Returns 2 * |len|, or `EW_ERR_NOBUF`.
 */
EW_API int ew_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/*
 * Formats a UTC time as ISO 8601 ("2023-11-14T22:13:20Z", with a fraction
 * only when |nanoseconds| is non-zero: "...:20.123Z") into |out| (NUL
 * terminated when |cap| > 0).  No clock or time zone database is used.
 * Returns the full length as snprintf does.
 */
EW_API int ew_time_format(int64_t seconds, uint32_t nanoseconds, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_EW_H */
