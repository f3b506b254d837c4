/*
 * EP messages (ep.md §4): payload maps from uint field IDs to value-type
 * maps.  Every field is optional, unknown fields are skipped with a
 * warning, unknown message types are passed through raw, and a payload
 * with trailing bytes or a repeated field ID is invalid (ep.md §2.3, §4).
 */
#include <stddef.h>
#include <string.h>

#include "ep/ep_int.h"

#define F(id, kind, vt, member, name)                                                              \
    { id, EW_EP_##kind, vt, offsetof(ew_ep_msg, u.member), name }

static const ew_ep_field session_fields[] = {
    F(0, K_TEXT, EW_EP_VT_TEXT, session.identity, "identity"),
    F(1, K_TEXT, EW_EP_VT_TEXT, session.type, "type"),
    F(2, K_TEXT, EW_EP_VT_TEXT, session.version, "version"),
    F(3, K_TEXT, EW_EP_VT_TEXT, session.name, "name"),
    F(4, K_TEXT, EW_EP_VT_TEXT, session.tenant, "tenant"),
    F(5, K_TEXT, EW_EP_VT_TEXT, session.provider, "provider"),
    F(6, K_TEXT, EW_EP_VT_TEXT, session.session, "session"),
};
static const ew_ep_field soft_fields[] = {
    F(0, K_FLAG, EW_EP_VT_FLAG, soft_disconnect.reconnect, "reconnect"),
    F(1, K_TEXT, EW_EP_VT_TEXT, soft_disconnect.reason, "reason"),
};
static const ew_ep_field supply_fields[] = {
    F(0, K_BOUNDS, EW_EP_VT_BOUNDS_OF(EW_EP_VT_VOLTAGE), supply.voltage_limit, "voltage-limit"),
    F(1, K_BOUNDS, EW_EP_VT_BOUNDS_OF(EW_EP_VT_CURRENT), supply.current_limit, "current-limit"),
    F(2, K_NUM, EW_EP_VT_POWER, supply.power_limit, "power-limit"),
    F(3, K_MIX, EW_EP_VT_SOURCE_MIX, supply.power_mix, "power-mix"),
    F(4, K_PRICES, EW_EP_VT_PRICE_FORECAST, supply.energy_prices, "energy-prices"),
    F(5, K_NUM, EW_EP_VT_VOLTAGE, supply.voltage, "voltage"),
    F(6, K_NUM, EW_EP_VT_CURRENT, supply.current, "current"),
    F(7, K_ISO, EW_EP_VT_ISOLATION, supply.isolation, "isolation"),
};
/* ep.md §4.5: Demand's limits are scalars, not Bounds. */
static const ew_ep_field demand_fields[] = {
    F(0, K_NUM, EW_EP_VT_VOLTAGE, demand.voltage, "voltage"),
    F(1, K_NUM, EW_EP_VT_CURRENT, demand.current, "current"),
    F(2, K_NUM, EW_EP_VT_VOLTAGE, demand.voltage_limit, "voltage-limit"),
    F(3, K_NUM, EW_EP_VT_CURRENT, demand.current_limit, "current-limit"),
    F(4, K_NUM, EW_EP_VT_POWER, demand.power_limit, "power-limit"),
    F(5, K_NUM, EW_EP_VT_DURATION, demand.duration, "duration"),
};
static const ew_ep_field storage_fields[] = {
    F(0, K_NUM, EW_EP_VT_PERCENTAGE, storage.soc, "soc"),
    F(1, K_NUM, EW_EP_VT_PERCENTAGE, storage.soc_target, "soc-target"),
    F(2, K_NUM, EW_EP_VT_DURATION, storage.soc_target_time, "soc-target-time"),
    F(3, K_NUM, EW_EP_VT_ENERGY, storage.capacity, "capacity"),
    F(4, K_MIX, EW_EP_VT_ENERGY_MIX, storage.energy_mix, "energy-mix"),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const ew_ep_field *ew_ep_msg_fields(uint32_t type, size_t *n) {
    switch (type) {
    case EW_EP_MSG_SESSION:
        *n = N(session_fields);
        return session_fields;
    case EW_EP_MSG_SOFT_DISCONNECT:
        *n = N(soft_fields);
        return soft_fields;
    case EW_EP_MSG_SUPPLY:
        *n = N(supply_fields);
        return supply_fields;
    case EW_EP_MSG_DEMAND:
        *n = N(demand_fields);
        return demand_fields;
    case EW_EP_MSG_STORAGE:
        *n = N(storage_fields);
        return storage_fields;
    default:
        *n = 0;
        return NULL;
    }
}

static void store(ew_ep_msg *m, const ew_ep_field *fd, const ew_ep_value *v) {
    void *dst = (char *)m + fd->off;
    switch (fd->kind) {
    case EW_EP_K_NUM:
        memcpy(dst, &v->num, sizeof v->num);
        break;
    case EW_EP_K_TEXT:
        memcpy(dst, &v->bytes, sizeof v->bytes);
        break;
    case EW_EP_K_FLAG:
        memcpy(dst, &v->flag, sizeof v->flag);
        break;
    case EW_EP_K_BOUNDS:
        memcpy(dst, &v->bounds, sizeof v->bounds);
        break;
    case EW_EP_K_PRICES:
        memcpy(dst, &v->prices, sizeof v->prices);
        break;
    case EW_EP_K_MIX:
        memcpy(dst, &v->mix, sizeof v->mix);
        break;
    default:
        memcpy(dst, &v->iso, sizeof v->iso);
        break;
    }
}

static void load(const ew_ep_msg *m, const ew_ep_field *fd, ew_ep_value *v) {
    const void *src = (const char *)m + fd->off;
    /* Only the member of this kind is set; ew_ep_value_write() reads no
     * other. */
    v->vtype = fd->vtype;
    switch (fd->kind) {
    case EW_EP_K_NUM:
        memcpy(&v->num, src, sizeof v->num);
        break;
    case EW_EP_K_TEXT:
        memcpy(&v->bytes, src, sizeof v->bytes);
        break;
    case EW_EP_K_FLAG:
        memcpy(&v->flag, src, sizeof v->flag);
        break;
    case EW_EP_K_BOUNDS:
        memcpy(&v->bounds, src, sizeof v->bounds);
        break;
    case EW_EP_K_PRICES:
        memcpy(&v->prices, src, sizeof v->prices);
        break;
    case EW_EP_K_MIX:
        memcpy(&v->mix, src, sizeof v->mix);
        break;
    default:
        memcpy(&v->iso, src, sizeof v->iso);
        break;
    }
}

int ew_ep_msg_decode(uint32_t type, const uint8_t *p, size_t len, int payload_null, ew_ep_msg *m,
                     ew_diag *d) {
    if (!m || (!p && len && !payload_null) || len > (size_t)INT32_MAX)
        return ew_ep_fail(d, EW_ERR_INVAL, 0, "NULL argument or input too long");
    memset(m, 0, sizeof *m);
    m->type = type;
    if (!payload_null) {
        m->raw.ptr = p;
        m->raw.len = len;
    }
    size_t nf;
    const ew_ep_field *fields = ew_ep_msg_fields(type, &nf);
    /* ep.md §4.1: Ping's content is ignored (41 F6, 40 and null all fine). */
    if (type == EW_EP_MSG_PING)
        return EW_OK;
    if (!fields) {
        m->warnings |= EW_EP_WARN_UNKNOWN_TYPE; /* §4: passed through raw */
        return EW_OK;
    }
    /* ep.md §4.3, README rule 5: null content means "no fields". */
    if (payload_null || (len == 1 && p[0] == 0xF6)) {
        m->warnings |= EW_EP_WARN_NULL_CONTENT;
        goto done;
    }
    ew_ep_tok t;
    size_t at = 0;
    int n = ew_ep_tok_next(p, len, &t);
    if (n < 0)
        return ew_ep_fail(d, n == EW_ERR_NEED_MORE ? EW_ERR_TRUNCATED : n, 0,
                          n == EW_ERR_NEED_MORE ? "payload ends inside an item" : "malformed CBOR");
    if (t.kind != EW_EP_TK_MAP && t.kind != EW_EP_TK_MAP_INDEF)
        return ew_ep_fail(d, EW_ERR_BAD_FIELD, 0, "payload must be a map (or null)");
    at = (size_t)n;
    for (uint64_t i = 0; t.kind == EW_EP_TK_MAP_INDEF || i < t.u; i++) {
        ew_ep_tok k;
        size_t ka = at;
        n = ew_ep_tok_next(p + at, len - at, &k);
        if (n < 0)
            return ew_ep_fail(d, n == EW_ERR_NEED_MORE ? EW_ERR_TRUNCATED : n, at,
                              n == EW_ERR_NEED_MORE ? "payload ends inside the field map"
                                                    : "malformed CBOR");
        at += (size_t)n;
        if (k.kind == EW_EP_TK_BREAK && t.kind == EW_EP_TK_MAP_INDEF)
            break;
        if (k.kind != EW_EP_TK_UINT)
            return ew_ep_fail(d, EW_ERR_BAD_FIELD, ka, "field key must be an unsigned integer");
        /* The tables list IDs 0, 1, 2, ... in order. */
        const ew_ep_field *fd = k.u < nf && fields[k.u].id == k.u ? &fields[k.u] : NULL;
        if (!fd) {
            /* ep.md §4: unknown field IDs are ignored (entf-ep §2e). */
            size_t err_at = 0;
            n = ew_ep_skip_item(p + at, len - at, &err_at);
            if (n < 0)
                return ew_ep_fail(d, n == EW_ERR_NEED_MORE ? EW_ERR_TRUNCATED : n, at + err_at,
                                  n == EW_ERR_NEED_MORE ? "payload ends inside a field"
                                                        : "malformed CBOR in a field");
            at += (size_t)n;
            m->unknown_fields++;
            m->warnings |= EW_EP_WARN_UNKNOWN_FIELD;
            continue;
        }
        if (m->present & EW_EP_HAS(fd->id))
            return ew_ep_fail(d, EW_ERR_PROTO, ka, "field ID repeated");
        ew_ep_value v; /* the decoder sets the member |fd->kind| reads */
        n = ew_ep_value_decode_at(fd->vtype, p + at, len - at, at, &v, &m->warnings, d);
        if (n < 0)
            return n;
        at += (size_t)n;
        store(m, fd, &v);
        m->present |= EW_EP_HAS(fd->id);
    }
    /* ep.md §2.3: exactly one item in the payload. */
    if (at != len)
        return ew_ep_fail(d, EW_ERR_PROTO, at, "trailing bytes after the payload item");
done:
    if (type == EW_EP_MSG_SESSION && !(m->present & EW_EP_HAS(0)))
        m->warnings |= EW_EP_WARN_NO_IDENTITY; /* §4.2: warn, do not reject */
    return EW_OK;
}

int ew_ep_msg_decode_frame(const ew_ep_frame *f, ew_ep_msg *m, ew_diag *d) {
    if (!f)
        return ew_ep_fail(d, EW_ERR_INVAL, 0, "NULL frame");
    int rc = ew_ep_msg_decode(f->type, f->payload.ptr, f->payload.len, f->payload_null, m, d);
    if (rc == EW_OK)
        m->warnings |= f->warnings;
    return rc;
}

static void msg_write(ew_ep_w *w, const ew_ep_msg *m) {
    size_t nf;
    const ew_ep_field *fields = ew_ep_msg_fields(m->type, &nf);
    if (m->type == EW_EP_MSG_PING) {
        ew_ep_w_null(w); /* ep.md §4.1: send 41 F6 */
        return;
    }
    if (!fields) {
        ew_ep_w_raw(w, m->raw.ptr, m->raw.len);
        return;
    }
    size_t count = 0;
    for (size_t j = 0; j < nf; j++)
        count += (m->present & EW_EP_HAS(fields[j].id)) != 0;
    ew_ep_w_map(w, count);
    for (size_t j = 0; j < nf; j++) {
        if (!(m->present & EW_EP_HAS(fields[j].id)))
            continue;
        ew_ep_value v;
        load(m, &fields[j], &v);
        ew_ep_w_uint(w, fields[j].id);
        ew_ep_value_write(w, &v);
    }
}

int ew_ep_msg_encode(const ew_ep_msg *m, uint8_t *out, size_t cap, size_t *written) {
    if (!m || !written || (!out && cap))
        return EW_ERR_INVAL;
    ew_ep_w w = {out, cap, 0, 0};
    msg_write(&w, m);
    return ew_ep_w_done(&w, written);
}

int ew_ep_msg_encode_frame(const ew_ep_msg *m, uint8_t *out, size_t cap, size_t *written) {
    if (!m || !written || (!out && cap))
        return EW_ERR_INVAL;
    /* One pass: write the payload after room for a 2-byte byte-string head
     * (58 xx, payloads of 24..255 bytes: every core message, ep.md §2.4
     * "sub-kilobyte"), then move it if the real head has another size. */
    static const uint8_t head[EW_EP_MAGIC_LEN] = {0x9A, 0x00, 0x00, 0x00, 0x03};
    ew_ep_w w = {out, cap, 0, 0};
    ew_ep_w_raw(&w, head, sizeof head);
    ew_ep_w_null(&w);
    ew_ep_w_uint32_fixed(&w, m->type);
    size_t at = w.len, guess = 2;
    w.len += guess;
    msg_write(&w, m);
    if (w.err)
        return w.err;
    size_t plen = w.len - at - guess;
    ew_ep_w hw = {NULL, 0, 0, 0};
    ew_ep_w_bytes_head(&hw, plen);
    size_t hl = hw.len, total = at + hl + plen;
    *written = total;
    if (total > cap)
        return EW_ERR_NOBUF;
    if (hl != guess) {
        if (w.len > cap) {
            /* The guess overflowed the buffer but the real frame fits:
             * write again at the right place. */
            ew_ep_w w2 = {out + at + hl, plen, 0, 0};
            msg_write(&w2, m);
        } else {
            memmove(out + at + hl, out + at + guess, plen);
        }
    }
    ew_ep_w hw2 = {out + at, hl, 0, 0};
    ew_ep_w_bytes_head(&hw2, plen);
    return EW_OK;
}
