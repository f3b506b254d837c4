/*
 * Internal helpers of the E3/DC layer: field tables that drive the request
 * builders, the answer parsers and the writers, answer lookup, and the
 * JSON/text emitter.
 */
#ifndef EW_E3DC_INT_H
#define EW_E3DC_INT_H

#include <energywire/e3dc.h>
#include <energywire/rscp_tags.h>

#include "common/fmt.h"

#include <stddef.h>
#include <string.h>

/* ---- field tables ------------------------------------------------------- */

/* How a field is stored (inferred from the struct member's C type). */
enum {
    EW_E3DC_K_GROUP, /* a container whose children are further entries */
    EW_E3DC_K_I64,   /* int64_t */
    EW_E3DC_K_F64,   /* double */
    EW_E3DC_K_BOOL,  /* int, 0 or 1 */
    EW_E3DC_K_STR,   /* char[size], NUL terminated */
    EW_E3DC_K_TS     /* ew_rscp_timestamp */
};

/* Field flags. */
#define EW_E3DC_F_NEG 0x01u  /* store the negated value (EMS_POWER_ADD, rscp.md §9.1) */
#define EW_E3DC_F_X100 0x02u /* store value x 100 (a fraction shown in %) */
#define EW_E3DC_F_OPT 0x04u  /* top-level answer that may be missing */
#define EW_E3DC_F_VAL 0x08u  /* number, or a container holding PVI_VALUE (rscp.md §9.4) */

typedef struct ew_e3dc_field {
    uint32_t req;    /* request tag sent as None, 0 when not requested on its own */
    uint32_t tag;    /* answer tag, 0 for derived fields */
    uint32_t parent; /* answer tag of the enclosing group entry, 0 = none */
    uint16_t off;    /* member offset */
    uint16_t size;   /* member size */
    uint8_t kind;
    uint8_t flags;
    const char *name; /* member name = JSON key */
    const char *unit;
    const char *miss; /* "missing <TAG>" */
    const char *bad;  /* "unexpected type of <TAG>" */
} ew_e3dc_field;

#define EW_E3DC_KIND_OF(x)                                                                         \
    _Generic((x), int64_t: EW_E3DC_K_I64, double: EW_E3DC_K_F64, int: EW_E3DC_K_BOOL,           \
             ew_rscp_timestamp: EW_E3DC_K_TS, char *: EW_E3DC_K_STR)

/* A field answered by TAG (and requested by REQ, a full tag constant or 0). */
#define EW_E3DC_FLD(REQ, TAG, PARENT, FLAGS, ST, M, UNIT)                                          \
    {                                                                                              \
        (REQ), EW_RSCP_TAG_##TAG, (PARENT), (uint16_t)offsetof(ST, M),                             \
            (uint16_t)sizeof(((ST *)0)->M), (uint8_t)EW_E3DC_KIND_OF(((ST *)0)->M), (FLAGS), #M,   \
            UNIT, "missing " #TAG, "unexpected type of " #TAG                                      \
    }

/* A group: container TAG whose children are entries with parent = TAG. */
#define EW_E3DC_GRP(REQ, TAG)                                                                      \
    {                                                                                              \
        (REQ), EW_RSCP_TAG_##TAG, 0, 0, 0, EW_E3DC_K_GROUP, 0, NULL, "", "missing " #TAG,          \
            "unexpected type of " #TAG                                                             \
    }

/* A field the parser fills itself (no answer tag; REQ may still be sent);
 * the writers use it like any other. */
#define EW_E3DC_REQ_DRV(REQ, ST, M, UNIT)                                                          \
    {                                                                                              \
        (REQ), 0, 0, (uint16_t)offsetof(ST, M), (uint16_t)sizeof(((ST *)0)->M),                    \
            (uint8_t)EW_E3DC_KIND_OF(((ST *)0)->M), 0, #M, UNIT, NULL, NULL                        \
    }
#define EW_E3DC_DRV(ST, M, UNIT) EW_E3DC_REQ_DRV(0, ST, M, UNIT)

/* A presence bit without a member of its own (request-only marker). */
#define EW_E3DC_MARK(REQ)                                                                          \
    { (REQ), 0, 0, 0, 0, EW_E3DC_K_GROUP, 0, NULL, "", NULL, NULL }

#define EW_E3DC_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- lookup and storing (common.c) ------------------------------------- */

static inline int ew_e3dc_fail(ew_diag *d, int code, size_t offset, const char *what) {
    if (d) {
        d->code = code;
        d->offset = offset;
        d->what = what;
    }
    return code;
}

/* Checks the arguments, zeroes |out| (|size| bytes) and validates the whole
 * area, so later walks need not handle overruns.  Returns EW_OK or an error. */
int ew_e3dc_begin(const uint8_t *area, size_t len, void *out, size_t size, ew_diag *d);

/* Finds the first top-level value with |tag|: 1 found (|root| is an iterator
 * at depth 0 usable with ew_rscp_iter_enter), 0 not found. */
int ew_e3dc_find(const uint8_t *area, size_t len, uint32_t tag, ew_rscp_iter *root,
                 ew_rscp_value *v);

/* Number of top-level values with |tag|. */
unsigned ew_e3dc_count(const uint8_t *area, size_t len, uint32_t tag);

/*
 * Finds the answer |tag| for device |index| (index child |index_tag|), the
 * rule of ew_e3dc_parse_battery().  Returns EW_OK with |v|, or EW_ERR_PROTO
 * with |miss| in |d|.
 */
int ew_e3dc_find_indexed(const uint8_t *area, size_t len, uint32_t tag, uint32_t index_tag,
                         unsigned index, ew_rscp_iter *root, ew_rscp_value *v, const char *miss,
                         ew_diag *d);

/* Finds the direct child |tag| of container |v|: 1 found (|child| holds the
 * container's iterator, usable with ew_rscp_iter_enter for |out|), 0 not. */
int ew_e3dc_child(const ew_rscp_iter *parent, const ew_rscp_value *v, uint32_t tag,
                  ew_rscp_iter *child, ew_rscp_value *out);

/* Records the Error value |v| in |e|.  EW_ERR_PROTO when it is malformed. */
int ew_e3dc_note_error(ew_e3dc_error *e, const ew_rscp_value *v, int whole, ew_diag *d);

/* Reads |v| as an integer (any integer type, Bool, or an integral float). */
int ew_e3dc_get_int(const ew_rscp_value *v, int64_t *out);

/* Converts |v| per |f| into |obj|.  Returns 1 stored, 0 absent (None value),
 * or EW_ERR_PROTO (|f|->bad). */
int ew_e3dc_store(const ew_e3dc_field *f, const ew_rscp_iter *it, const ew_rscp_value *v, void *obj,
                  ew_diag *d);

/*
 * Handles one value |v| (read through |it|) against the entries of |t| that
 * have no parent: stores it, records an Error, or opens a group.  Returns 1
 * when an entry matched, 0 when none did, or an error.
 */
int ew_e3dc_fields_value(const ew_e3dc_field *t, size_t n, const ew_rscp_iter *it,
                         const ew_rscp_value *v, void *obj, uint64_t *present, ew_e3dc_error *err,
                         ew_diag *d);

/* Walks the children of container |v| with ew_e3dc_fields_value(); children
 * no entry knows are ignored. */
int ew_e3dc_fields_container(const ew_e3dc_field *t, size_t n, const ew_rscp_iter *it,
                             const ew_rscp_value *v, void *obj, uint64_t *present,
                             ew_e3dc_error *err, ew_diag *d);

/* Looks every top-level entry of |t| up among the top-level values of the
 * area; a missing one is EW_ERR_PROTO unless flagged EW_E3DC_F_OPT. */
int ew_e3dc_fields_top(const ew_e3dc_field *t, size_t n, const uint8_t *area, size_t len, void *obj,
                       uint64_t *present, ew_e3dc_error *err, ew_diag *d);

/* Adds a None request for each entry of |t| with a request tag whose bit is
 * set in |mask|, in table order. */
int ew_e3dc_req_fields(ew_rscp_builder *b, const ew_e3dc_field *t, size_t n, uint64_t mask);

/* Copies |n| bytes into |dst| (|cap| > 0), NUL terminated, cut at a UTF-8
 * character boundary when it does not fit. */
void ew_e3dc_copy_str(char *dst, size_t cap, const uint8_t *src, size_t n);

/*
 * Slot for device/item |index| in an array of structs whose first member is
 * `int64_t index` (|stride| bytes each, |*n| in use, |max| in all): the
 * existing one, or a new zeroed one (|*total| counts distinct indexes).
 * NULL when the array is full.
 */
void *ew_e3dc_slot(void *arr, size_t stride, unsigned max, unsigned *n, unsigned *total,
                   int64_t index);

/* Marks the builder failed with |rc| (when it is not already) and returns its
 * error. */
int ew_e3dc_builder_fail(ew_rscp_builder *b, int rc);

/* Rules for ew_e3dc_result.ok (see ew_e3dc_parse_single). */
enum { EW_E3DC_OK_NOT_ERROR, EW_E3DC_OK_TRUE, EW_E3DC_OK_ONE };

/*
 * Decodes a single-value answer |tag| (the first at top level) into |out|:
 * an Error is a refusal; otherwise |value| is the integer value (when it has
 * one) and |ok| follows |rule|.  Missing: EW_ERR_PROTO with |miss|.
 */
int ew_e3dc_parse_single(const uint8_t *area, size_t len, uint32_t tag, const char *miss, int rule,
                         ew_e3dc_result *out, ew_diag *d);

/* ---- writers (emit.c) --------------------------------------------------- */

#define EW_E3DC_EM_DEPTH 12

typedef struct ew_e3dc_em {
    ew_sb sb;
    int json;
    unsigned flags;
    unsigned depth;
    int first[EW_E3DC_EM_DEPTH];
    unsigned item[EW_E3DC_EM_DEPTH];
    int array[EW_E3DC_EM_DEPTH];
} ew_e3dc_em;

void ew_e3dc_em_init(ew_e3dc_em *e, int json, unsigned flags, char *out, size_t cap);
int ew_e3dc_em_finish(ew_e3dc_em *e, size_t cap, size_t *written);
/* Opens an object (|array| 0) or an array under |key| (NULL inside arrays). */
void ew_e3dc_em_open(ew_e3dc_em *e, const char *key, int array);
void ew_e3dc_em_close(ew_e3dc_em *e);
void ew_e3dc_em_i64(ew_e3dc_em *e, const char *key, int64_t v, const char *unit);
void ew_e3dc_em_f64(ew_e3dc_em *e, const char *key, double v, const char *unit);
void ew_e3dc_em_bool(ew_e3dc_em *e, const char *key, int v);
void ew_e3dc_em_str(ew_e3dc_em *e, const char *key, const char *s);
void ew_e3dc_em_ts(ew_e3dc_em *e, const char *key, ew_rscp_timestamp ts);
void ew_e3dc_em_null(ew_e3dc_em *e, const char *key);
void ew_e3dc_em_floats(ew_e3dc_em *e, const char *key, const float *a, unsigned n,
                       const char *unit);
/* Every entry of |t| (groups skipped): the value when its bit is in
 * |present|, else null (JSON) or nothing (text). */
void ew_e3dc_em_fields(ew_e3dc_em *e, const ew_e3dc_field *t, size_t n, const void *obj,
                       uint64_t present);
void ew_e3dc_em_error(ew_e3dc_em *e, const ew_e3dc_error *err);

/* ---- tables shared between the parsers and the writers ----------------- */

extern const ew_e3dc_field ew_e3dc_poll_fields[EW_E3DC_POLL_NFIELDS];
extern const ew_e3dc_field ew_e3dc_status_fields[EW_E3DC_STATUS_NFIELDS];
extern const ew_e3dc_field ew_e3dc_sysinfo_fields[EW_E3DC_SYSINFO_NFIELDS];
extern const ew_e3dc_field ew_e3dc_sysdyn_fields[EW_E3DC_SYSDYN_NFIELDS];
extern const ew_e3dc_field ew_e3dc_switch_fields[EW_E3DC_SWITCH_NFIELDS];
extern const ew_e3dc_field ew_e3dc_hist_fields[EW_E3DC_HIST_NFIELDS];
extern const ew_e3dc_field ew_e3dc_ps_fields[EW_E3DC_PS_NFIELDS];
extern const ew_e3dc_field ew_e3dc_mc_fields[EW_E3DC_MC_NFIELDS];
extern const ew_e3dc_field ew_e3dc_bat_fields[EW_E3DC_BAT_NFIELDS];
extern const ew_e3dc_field ew_e3dc_dcb_fields[EW_E3DC_DCB_NFIELDS];
extern const ew_e3dc_field ew_e3dc_pvi_fields[EW_E3DC_PVI_NFIELDS];
extern const ew_e3dc_field ew_e3dc_trk_fields[EW_E3DC_TRK_NFIELDS];
extern const ew_e3dc_field ew_e3dc_ph_fields[EW_E3DC_PH_NFIELDS];
extern const ew_e3dc_field ew_e3dc_pm_fields[EW_E3DC_PM_NFIELDS];
extern const ew_e3dc_field ew_e3dc_wb_fields[EW_E3DC_WB_NFIELDS];

#endif
