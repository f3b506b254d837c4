/*
 * Text and JSON printers for RSCP value trees.  They write into a caller
 * buffer through ew_sb, which keeps counting past the end so that callers
 * learn the size needed.
 */
#include "common/fmt.h"
#include "rscp/rscp_int.h"

/* Values that must not be shown unless asked for: login passwords and key
 * material (RSCP_AUTHENTICATION_PASSWORD, SERVER_PASSWD, ..._PASSPHRASE). */
static int is_secret(const ew_rscp_tag_info *t) {
    if (!t)
        return 0;
    return strstr(t->name, "PASSW") != NULL || strstr(t->name, "PASSPHRASE") != NULL;
}

static void put_unit(ew_sb *sb, const ew_rscp_tag_info *t) {
    if (t && t->unit[0]) {
        ew_sb_putc(sb, ' ');
        ew_sb_puts(sb, t->unit);
    }
}

/*
 * Writes an integer or floating-point value; returns 0 for other types.
 * |json|: NaN and infinities become null, as JSON has neither.
 */
static int put_number(ew_sb *sb, const ew_rscp_value *v, int json) {
    int64_t i;
    uint64_t u;
    double f;
    switch (v->type) {
    case EW_RSCP_TYPE_UINT64:
        ew_rscp_value_get_u64(v, &u);
        ew_sb_printf(sb, "%llu", (unsigned long long)u);
        return 1;
    case EW_RSCP_TYPE_CHAR8:
    case EW_RSCP_TYPE_UCHAR8:
    case EW_RSCP_TYPE_INT16:
    case EW_RSCP_TYPE_UINT16:
    case EW_RSCP_TYPE_INT32:
    case EW_RSCP_TYPE_UINT32:
    case EW_RSCP_TYPE_INT64:
        ew_rscp_value_get_i64(v, &i);
        ew_sb_printf(sb, "%lld", (long long)i);
        return 1;
    case EW_RSCP_TYPE_FLOAT32:
    case EW_RSCP_TYPE_DOUBLE64:
        ew_rscp_value_get_double(v, &f);
        if (json && (f != f || f - f != 0))
            ew_sb_puts(sb, "null");
        else if (v->type == EW_RSCP_TYPE_FLOAT32)
            ew_sb_float(sb, (float)f);
        else
            ew_sb_double(sb, f);
        return 1;
    default:
        return 0;
    }
}

/* A secret is masked whatever type it arrives with. */
static int masked(const ew_rscp_value *v, const ew_rscp_tag_info *t, unsigned flags) {
    return is_secret(t) && !(flags & EW_RSCP_PRINT_SECRETS) && v->type != EW_RSCP_TYPE_NONE &&
           v->type != EW_RSCP_TYPE_CONTAINER;
}

static void format_value(ew_sb *sb, const ew_rscp_value *v, unsigned flags) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(v->tag);
    if (masked(v, t, flags)) {
        ew_sb_puts(sb, "\"********\"");
        return;
    }
    if (v->flags & EW_RSCP_VF_RAW) {
        ew_sb_puts(sb, "raw ");
        ew_sb_hex(sb, v->data, v->len);
        const char *tn = ew_rscp_type_name(v->type);
        if (tn)
            ew_sb_printf(sb, " (%s with %u bytes)", tn, v->len);
        else
            ew_sb_printf(sb, " (unknown type 0x%02x, %u bytes)", v->type, v->len);
        return;
    }
    if (put_number(sb, v, 0)) {
        put_unit(sb, t);
        return;
    }
    switch (v->type) {
    case EW_RSCP_TYPE_NONE:
        ew_sb_puts(sb, "none");
        return;
    case EW_RSCP_TYPE_BOOL:
        ew_sb_puts(sb, v->data[0] ? "true" : "false");
        return;
    case EW_RSCP_TYPE_CSTRING:
        ew_sb_putc(sb, '"');
        ew_sb_json_escape(sb, v->data, v->len);
        ew_sb_putc(sb, '"');
        return;
    case EW_RSCP_TYPE_BITFIELD:
    case EW_RSCP_TYPE_BYTEARRAY:
        ew_sb_hex(sb, v->data, v->len);
        ew_sb_printf(sb, " (%u bytes)", v->len);
        return;
    case EW_RSCP_TYPE_TIMESTAMP: {
        ew_rscp_timestamp ts;
        ew_rscp_value_get_timestamp(v, &ts);
        ew_sb_iso8601(sb, ts.seconds, ts.nanoseconds);
        return;
    }
    case EW_RSCP_TYPE_ERROR: {
        uint32_t code;
        ew_rscp_value_get_error(v, &code);
        const char *name = ew_rscp_error_name(code);
        ew_sb_printf(sb, "error %lu %s", (unsigned long)code, name ? name : "(unknown code)");
        return;
    }
    case EW_RSCP_TYPE_CONTAINER:
        ew_sb_printf(sb, "(container, %u bytes)", v->len);
        return;
    default:
        return; /* unreachable: unknown types are raw */
    }
}

int ew_rscp_value_format(const ew_rscp_value *v, unsigned flags, char *out, size_t cap) {
    ew_sb sb;
    ew_sb_init(&sb, out, cap);
    format_value(&sb, v, flags);
    return sb.len > INT32_MAX ? INT32_MAX : (int)sb.len;
}

static void put_tag_name(ew_sb *sb, uint32_t tag) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    if (t)
        ew_sb_puts(sb, ew_rscp_tag_short_name(t));
    else
        ew_sb_printf(sb, "0x%08lx", (unsigned long)tag);
}

static void text_line(ew_sb *sb, const ew_rscp_value *v, unsigned flags) {
    ew_sb_indent(sb, v->depth);
    put_tag_name(sb, v->tag);
    if (flags & EW_RSCP_PRINT_IDS)
        ew_sb_printf(sb, " [0x%08lx]", (unsigned long)v->tag);
    if (v->type == EW_RSCP_TYPE_CONTAINER && !(v->flags & EW_RSCP_VF_RAW)) {
        ew_sb_putc(sb, ':');
        if (v->len == 0)
            ew_sb_puts(sb, " (empty)");
    } else if (v->type != EW_RSCP_TYPE_NONE || (v->flags & EW_RSCP_VF_RAW)) {
        ew_sb_puts(sb, " = ");
        format_value(sb, v, flags);
    }
    if (flags & EW_RSCP_PRINT_TYPES) {
        const char *tn = ew_rscp_type_name(v->type);
        if (tn)
            ew_sb_printf(sb, " (%s)", tn);
        else
            ew_sb_printf(sb, " (type 0x%02x)", v->type);
    }
    ew_sb_putc(sb, '\n');
}

static void json_value(ew_sb *sb, const ew_rscp_value *v, unsigned flags) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(v->tag);
    ew_sb_puts(sb, "{\"tag\":\"");
    put_tag_name(sb, v->tag);
    ew_sb_printf(sb, "\",\"id\":\"0x%08lx\",\"type\":", (unsigned long)v->tag);
    const char *tn = ew_rscp_type_name(v->type);
    if (tn)
        ew_sb_printf(sb, "\"%s\"", tn);
    else
        ew_sb_printf(sb, "\"0x%02x\"", v->type);
    if (masked(v, t, flags)) {
        ew_sb_puts(sb, ",\"value\":\"********\"}");
        return;
    }
    if (v->flags & EW_RSCP_VF_RAW) {
        ew_sb_puts(sb, ",\"raw\":\"");
        ew_sb_hex(sb, v->data, v->len);
        ew_sb_puts(sb, "\"}");
        return;
    }
    ew_sb_puts(sb, ",\"value\":");
    switch (put_number(sb, v, 1) ? -1 : v->type) {
    case -1:
        break; /* a number: put_number() wrote it */
    case EW_RSCP_TYPE_NONE:
        ew_sb_puts(sb, "null");
        break;
    case EW_RSCP_TYPE_BOOL:
        ew_sb_puts(sb, v->data[0] ? "true" : "false");
        break;
    case EW_RSCP_TYPE_CSTRING:
        ew_sb_putc(sb, '"');
        ew_sb_json_escape(sb, v->data, v->len);
        ew_sb_putc(sb, '"');
        break;
    case EW_RSCP_TYPE_BITFIELD:
    case EW_RSCP_TYPE_BYTEARRAY:
        ew_sb_putc(sb, '"');
        ew_sb_hex(sb, v->data, v->len);
        ew_sb_putc(sb, '"');
        break;
    case EW_RSCP_TYPE_TIMESTAMP: {
        ew_rscp_timestamp ts;
        ew_rscp_value_get_timestamp(v, &ts);
        ew_sb_printf(sb, "{\"seconds\":%lld,\"nanoseconds\":%lu},\"iso\":\"", (long long)ts.seconds,
                     (unsigned long)ts.nanoseconds);
        ew_sb_iso8601(sb, ts.seconds, ts.nanoseconds);
        ew_sb_putc(sb, '"');
        break;
    }
    case EW_RSCP_TYPE_ERROR: {
        uint32_t code;
        ew_rscp_value_get_error(v, &code);
        const char *name = ew_rscp_error_name(code);
        ew_sb_printf(sb, "%lu,\"error\":", (unsigned long)code);
        if (name)
            ew_sb_printf(sb, "\"%s\"", name);
        else
            ew_sb_puts(sb, "null");
        break;
    }
    case EW_RSCP_TYPE_CONTAINER:
        ew_sb_putc(sb, '['); /* children follow; closed by the walker */
        return;
    default:
        break;
    }
    if (t && t->unit[0])
        ew_sb_printf(sb, ",\"unit\":\"%s\"", t->unit);
    ew_sb_putc(sb, '}');
}

static void json_fault(ew_sb *sb, const ew_diag *d) {
    ew_sb_printf(sb, "{\"error\":\"%s\",\"offset\":%zu,\"what\":\"", ew_errname(d->code),
                 d->offset);
    if (d->what)
        ew_sb_json_escape(sb, (const uint8_t *)d->what, strlen(d->what));
    ew_sb_puts(sb, "\"}");
}

static void pretty_break(ew_sb *sb, unsigned flags, unsigned depth) {
    if (flags & EW_RSCP_PRINT_PRETTY) {
        ew_sb_putc(sb, '\n');
        ew_sb_indent(sb, depth);
    }
}

/* Walks the tree once, printing as text or JSON. */
static int walk(const uint8_t *area, size_t len, unsigned max_depth, unsigned flags, int json,
                char *out, size_t cap, size_t *written, ew_diag *d) {
    ew_sb sb;
    ew_sb_init(&sb, out, cap);
    ew_rscp_iter stack[EW_RSCP_MAX_DEPTH_LIMIT + 1];
    unsigned top = 0;
    int first = 1; /* JSON: no comma before the first item of a level */
    int rc = EW_OK;
    ew_diag local;
    if (!d)
        d = &local;
    ew_rscp_iter_init(&stack[0], area, len, max_depth);
    if (json)
        ew_sb_putc(&sb, '[');
    for (;;) {
        ew_rscp_value v;
        int n = ew_rscp_iter_next(&stack[top], &v, d);
        if (n == 0) {
            if (json && top > 0) {
                pretty_break(&sb, flags, top);
                ew_sb_puts(&sb, "]}");
            }
            if (top == 0)
                break;
            top--;
            first = 0;
            continue;
        }
        if (n > 0 && v.type == EW_RSCP_TYPE_CONTAINER)
            n = ew_rscp_iter_enter(&stack[top], &v, &stack[top + 1], d) < 0 ? d->code : 1;
        if (json) {
            if (!first)
                ew_sb_putc(&sb, ',');
            pretty_break(&sb, flags, top + 1);
        }
        if (n < 0) {
            /* Print what was decoded, then the fault, and close every level
             * so the output stays readable (and valid JSON). */
            rc = n;
            if (json) {
                json_fault(&sb, d);
                while (top-- > 0)
                    ew_sb_puts(&sb, "]}");
                break;
            }
            ew_sb_indent(&sb, stack[top].depth);
            char msg[200];
            ew_diag_format(d, msg, sizeof msg);
            ew_sb_printf(&sb, "!! %s\n", msg);
            break;
        }
        if (json)
            json_value(&sb, &v, flags);
        else
            text_line(&sb, &v, flags);
        first = 0;
        if (v.type == EW_RSCP_TYPE_CONTAINER) {
            top++;
            first = 1;
        }
    }
    if (json) {
        pretty_break(&sb, flags, 0);
        ew_sb_putc(&sb, ']');
    }
    if (written)
        *written = sb.len;
    if (rc == EW_OK && sb.len + 1 > cap) {
        if (written)
            *written = sb.len + 1;
        return EW_ERR_NOBUF;
    }
    return rc;
}

int ew_rscp_print_text(const uint8_t *area, size_t len, unsigned max_depth, unsigned flags,
                       char *out, size_t cap, size_t *written, ew_diag *d) {
    return walk(area, len, max_depth, flags, 0, out, cap, written, d);
}

int ew_rscp_print_json(const uint8_t *area, size_t len, unsigned max_depth, unsigned flags,
                       char *out, size_t cap, size_t *written, ew_diag *d) {
    return walk(area, len, max_depth, flags, 1, out, cap, written, d);
}
