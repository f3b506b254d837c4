/*
 * Text and JSON views of a decoded EP message, for `ep monitor`.  JSON uses
 * the shape of the vectors' `message` member (tests/vectors/ep/README.md):
 * spec field names, integers for integer encodings, {"hex": ..} for Binary.
 */
#include <string.h>

#include "common/fmt.h"
#include "ep/ep_int.h"

typedef struct fctx {
    ew_sb *sb;
    int json;
    int pretty;
} fctx;

static void num(fctx *c, const ew_ep_number *n) {
    if (n->is_int)
        ew_sb_printf(c->sb, "%lld", (long long)n->ival);
    else
        ew_sb_double(c->sb, n->value);
}

static void str(fctx *c, ew_bytes b) {
    /* Text uses the JSON escaping too: it keeps control bytes out of a
     * terminal. */
    ew_sb_putc(c->sb, '"');
    ew_sb_json_escape(c->sb, b.ptr, b.len);
    ew_sb_putc(c->sb, '"');
}

static void key(fctx *c, const char *k, int first) {
    if (!first)
        ew_sb_puts(c->sb, c->json ? "," : ", ");
    if (c->json)
        ew_sb_printf(c->sb, "\"%s\":", k);
    else
        ew_sb_printf(c->sb, "%s=", k);
}

static void unit(fctx *c, int vtype) {
    const char *u = ew_ep_vtype_unit(vtype);
    if (!c->json && *u)
        ew_sb_printf(c->sb, " %s", u);
}

static void value(fctx *c, const ew_ep_field *fd, const ew_ep_msg *m) {
    const void *src = (const char *)m + fd->off;
    ew_sb *sb = c->sb;
    switch (fd->kind) {
    case EW_EP_K_NUM: {
        ew_ep_number n;
        memcpy(&n, src, sizeof n);
        num(c, &n);
        unit(c, fd->vtype);
        break;
    }
    case EW_EP_K_TEXT: {
        ew_bytes b;
        memcpy(&b, src, sizeof b);
        str(c, b);
        break;
    }
    case EW_EP_K_FLAG: {
        int f;
        memcpy(&f, src, sizeof f);
        ew_sb_puts(sb, f ? "true" : "false");
        break;
    }
    case EW_EP_K_BOUNDS: {
        ew_ep_bounds b;
        memcpy(&b, src, sizeof b);
        if (c->json) {
            ew_sb_puts(sb, "{\"min\":");
            num(c, &b.min);
            ew_sb_puts(sb, ",\"max\":");
            num(c, &b.max);
            ew_sb_putc(sb, '}');
        } else {
            num(c, &b.min);
            ew_sb_puts(sb, "..");
            num(c, &b.max);
            unit(c, b.vtype);
        }
        break;
    }
    case EW_EP_K_PRICES: {
        ew_ep_prices pr;
        ew_ep_iter it;
        ew_ep_price e;
        memcpy(&pr, src, sizeof pr);
        ew_ep_prices_iter(&it, &pr);
        ew_sb_putc(sb, '[');
        for (int first = 1; ew_ep_prices_next(&it, &e); first = 0) {
            if (!first)
                ew_sb_puts(sb, c->json ? "," : ", ");
            if (c->json) {
                ew_sb_puts(sb, "{\"timestamp\":");
                str(c, e.timestamp);
                ew_sb_puts(sb, ",\"amount\":");
                num(c, &e.amount);
                ew_sb_puts(sb, ",\"currency\":");
                str(c, e.currency);
                ew_sb_putc(sb, '}');
            } else {
                str(c, e.timestamp);
                ew_sb_putc(sb, ' ');
                num(c, &e.amount);
                ew_sb_putc(sb, ' ');
                str(c, e.currency);
            }
        }
        ew_sb_putc(sb, ']');
        break;
    }
    case EW_EP_K_MIX: {
        ew_ep_mix mx;
        ew_ep_iter it;
        ew_ep_mix_entry e;
        memcpy(&mx, src, sizeof mx);
        int pct = fd->vtype == EW_EP_VT_SOURCE_MIX;
        ew_ep_mix_iter(&it, &mx);
        ew_sb_putc(sb, '[');
        for (int first = 1; ew_ep_mix_next(&it, &e); first = 0) {
            const char *nm = ew_ep_source_name(e.source);
            if (!first)
                ew_sb_puts(sb, c->json ? "," : ", ");
            if (c->json) {
                ew_sb_printf(sb, "{\"source\":%llu,\"source_name\":", (unsigned long long)e.source);
                if (nm)
                    ew_sb_printf(sb, "\"%s\"", nm);
                else
                    ew_sb_puts(sb, "null");
                ew_sb_puts(sb, pct ? ",\"percent\":" : ",\"wh\":");
                num(c, &e.amount);
                ew_sb_putc(sb, '}');
            } else {
                if (nm)
                    ew_sb_puts(sb, nm);
                else
                    ew_sb_printf(sb, "source-0x%llx", (unsigned long long)e.source);
                ew_sb_putc(sb, ' ');
                num(c, &e.amount);
                ew_sb_puts(sb, pct ? " %" : " Wh");
            }
        }
        ew_sb_putc(sb, ']');
        break;
    }
    default: {
        ew_ep_isolation iso;
        memcpy(&iso, src, sizeof iso);
        const char *nm = ew_ep_isolation_state_name(iso.state);
        if (c->json) {
            ew_sb_printf(sb, "{\"state\":%llu,\"state_name\":", (unsigned long long)iso.state);
            if (nm)
                ew_sb_printf(sb, "\"%s\"", nm);
            else
                ew_sb_puts(sb, "null");
            ew_sb_puts(sb, ",\"negative_ohms\":");
            if (iso.has_negative)
                num(c, &iso.negative_ohms);
            else
                ew_sb_puts(sb, "null");
            ew_sb_puts(sb, ",\"positive_ohms\":");
            if (iso.has_positive)
                num(c, &iso.positive_ohms);
            else
                ew_sb_puts(sb, "null");
            ew_sb_putc(sb, '}');
        } else {
            if (nm)
                ew_sb_puts(sb, nm);
            else
                ew_sb_printf(sb, "state-%llu", (unsigned long long)iso.state);
            ew_sb_puts(sb, " negative=");
            if (iso.has_negative)
                num(c, &iso.negative_ohms);
            else
                ew_sb_puts(sb, "-");
            ew_sb_puts(sb, " positive=");
            if (iso.has_positive)
                num(c, &iso.positive_ohms);
            else
                ew_sb_puts(sb, "-");
            unit(c, EW_EP_VT_RESISTANCE);
        }
        break;
    }
    }
}

static const char *const warn_names[] = {
    "empty-header",   "type-not-1a",      "payload-null-element", "null-content",
    "unknown-type",   "unknown-field",    "extra-value-key",      "timestamp-not-rfc3339",
    "unknown-source", "duplicate-source", "mix-sum-not-100",      "bounds-min-above-max",
    "isolation-null", "no-identity",      "isolation-state"};

int ew_ep_msg_format(const ew_ep_msg *m, unsigned flags, char *out, size_t cap) {
    ew_sb sb;
    ew_sb_init(&sb, out, cap);
    if (!m)
        return 0;
    fctx c = {&sb, (flags & EW_EP_FMT_JSON) != 0, (flags & EW_EP_FMT_PRETTY) != 0};
    size_t nf;
    const ew_ep_field *fields = ew_ep_msg_fields(m->type, &nf);
    const char *name = ew_ep_msg_name(m->type);
    const char *nl = c.json && c.pretty ? "\n  " : "";
    if (c.json) {
        ew_sb_printf(&sb, "{%s\"name\":\"%s\",%s\"fields\":{", nl, name ? name : "Unknown", nl);
    } else if (name) {
        ew_sb_puts(&sb, name);
    } else {
        ew_sb_printf(&sb, "Unknown(0x%08x)", (unsigned)m->type);
    }
    int first = 1;
    for (size_t j = 0; j < nf; j++) {
        if (!(m->present & EW_EP_HAS(fields[j].id)))
            continue;
        if (!c.json && first)
            ew_sb_putc(&sb, ' ');
        key(&c, fields[j].name, first);
        value(&c, &fields[j], m);
        first = 0;
    }
    if (c.json)
        ew_sb_putc(&sb, '}');
    if (!name) {
        ew_sb_puts(&sb, c.json ? "," : " payload=");
        if (c.json)
            ew_sb_printf(&sb, "%s\"payload_hex\":\"", nl);
        ew_sb_hex(&sb, m->raw.ptr, m->raw.len);
        if (c.json)
            ew_sb_putc(&sb, '"');
    }
    if (m->warnings) {
        ew_sb_puts(&sb, c.json ? "," : " warnings=");
        if (c.json)
            ew_sb_printf(&sb, "%s\"warnings\":[", nl);
        int w1 = 1;
        for (size_t i = 0; i < sizeof warn_names / sizeof warn_names[0]; i++) {
            if (!(m->warnings & (1u << i)))
                continue;
            ew_sb_puts(&sb, w1 ? "" : ",");
            ew_sb_printf(&sb, c.json ? "\"%s\"" : "%s", warn_names[i]);
            w1 = 0;
        }
        if (c.json)
            ew_sb_putc(&sb, ']');
    }
    if (c.json)
        ew_sb_puts(&sb, c.pretty ? "\n}" : "}");
    return sb.len > (size_t)INT32_MAX ? INT32_MAX : (int)sb.len;
}
