/* Request helpers and the authentication answer (rscp.md §7, §9). */
#include "rscp/rscp_int.h"

int ew_rscp_req_auth(ew_rscp_builder *b, const char *user, const char *password) {
    if (!user || !password) {
        if (!b->err)
            b->err = EW_ERR_INVAL;
        return b->err;
    }
    ew_rscp_builder_open(b, EW_RSCP_TAG_REQ_AUTHENTICATION);
    ew_rscp_builder_add_string(b, EW_RSCP_TAG_AUTHENTICATION_USER, user);
    ew_rscp_builder_add_string(b, EW_RSCP_TAG_AUTHENTICATION_PASSWORD, password);
    return ew_rscp_builder_close(b);
}

int ew_rscp_req_tags(ew_rscp_builder *b, const uint32_t *tags, size_t n) {
    for (size_t i = 0; i < n; i++)
        ew_rscp_builder_add_none(b, tags[i]);
    return b->err;
}

int ew_rscp_req_indexed(ew_rscp_builder *b, uint32_t container, uint32_t index_tag, int64_t index,
                        const uint32_t *tags, size_t n) {
    ew_rscp_builder_open(b, container);
    ew_rscp_builder_add_int(b, index_tag, index);
    ew_rscp_req_tags(b, tags, n);
    return ew_rscp_builder_close(b);
}

int ew_rscp_auth_level(const uint8_t *area, size_t len, ew_diag *d) {
    ew_rscp_iter it;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, area, len, 0);
    int rc = ew_rscp_iter_next(&it, &v, d);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ew_fail(d, EW_ERR_PROTO, 0, "authentication answer is empty");
    if (v.tag != EW_RSCP_TAG_AUTHENTICATION) {
        if (v.type == EW_RSCP_TYPE_ERROR)
            return ew_fail(d, EW_ERR_AUTH, v.offset, "device answered the login with an error");
        return ew_fail(d, EW_ERR_PROTO, v.offset, "first value is not RSCP_AUTHENTICATION");
    }
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_fail(d, EW_ERR_AUTH, v.offset, "device answered the login with an error");
    /* Success is UChar8 > 0; failure comes as Int32 0 although the tag is
     * declared UChar8 (rscp.md §7.2).  Accept any integer type. */
    int64_t level;
    if (ew_rscp_value_get_i64(&v, &level) < 0)
        return ew_fail(d, EW_ERR_PROTO, v.offset, "RSCP_AUTHENTICATION is not an integer");
    if (level <= 0)
        return ew_fail(d, EW_ERR_AUTH, v.offset, "device refused user name or password");
    if (level > 255)
        return ew_fail(d, EW_ERR_PROTO, v.offset, "user level out of range");
    return (int)level;
}
