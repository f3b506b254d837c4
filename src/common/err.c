/* Error texts for ew_err codes (STYLE.md "Errors"). */
#include <energywire/ew.h>

#include <stdio.h>

typedef struct err_entry {
    int code;
    const char *name;
    const char *text;
} err_entry;

static const err_entry errors[] = {
    {EW_OK, "EW_OK", "success"},
    {EW_ERR_NEED_MORE, "EW_ERR_NEED_MORE", "more input is needed"},
    {EW_ERR_INVAL, "EW_ERR_INVAL", "invalid argument"},
    {EW_ERR_NOBUF, "EW_ERR_NOBUF", "output buffer too small"},
    {EW_ERR_PROTO, "EW_ERR_PROTO", "protocol violation by the peer"},
    {EW_ERR_CRC, "EW_ERR_CRC", "checksum mismatch"},
    {EW_ERR_DECRYPT, "EW_ERR_DECRYPT", "decryption failed: check the RSCP key (wrong RSCP key?)"},
    {EW_ERR_AUTH, "EW_ERR_AUTH", "authentication failed: check user name and password"},
    {EW_ERR_TIMEOUT, "EW_ERR_TIMEOUT", "timed out"},
    {EW_ERR_STATE, "EW_ERR_STATE", "operation not allowed in the current state"},
    {EW_ERR_CLOSED, "EW_ERR_CLOSED", "connection closed by the peer"},
    {EW_ERR_BAD_MAGIC, "EW_ERR_BAD_MAGIC", "bad frame magic"},
    {EW_ERR_BAD_VERSION, "EW_ERR_BAD_VERSION", "unsupported protocol version"},
    {EW_ERR_OVERRUN, "EW_ERR_OVERRUN", "length field runs past the end of its data"},
    {EW_ERR_DEPTH, "EW_ERR_DEPTH", "containers nested too deeply"},
    {EW_ERR_TOO_BIG, "EW_ERR_TOO_BIG", "too large"},
    {EW_ERR_SYNTAX, "EW_ERR_SYNTAX", "syntax error"},
    {EW_ERR_NOT_FOUND, "EW_ERR_NOT_FOUND", "not found"},
    {EW_ERR_RANGE, "EW_ERR_RANGE", "value out of range for its type"},
    {EW_ERR_BAD_FIELD, "EW_ERR_BAD_FIELD", "reserved or invalid field value"},
    {EW_ERR_TRUNCATED, "EW_ERR_TRUNCATED", "input ends in the middle of a frame"},
    {EW_ERR_NOMEM, "EW_ERR_NOMEM", "out of memory"},
    {EW_ERR_DEAD, "EW_ERR_DEAD", "session failed earlier and can only be deleted"},
};

static const err_entry *find(int rc)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == rc)
            return &errors[i];
    return NULL;
}

const char *ew_strerror(int rc)
{
    const err_entry *e = find(rc);
    return e ? e->text : "unknown error";
}

const char *ew_errname(int rc)
{
    const err_entry *e = find(rc);
    return e ? e->name : "EW_ERR_UNKNOWN";
}

int ew_diag_format(const ew_diag *d, char *buf, size_t cap)
{
    if (d->what && d->what[0])
        return snprintf(buf, cap, "%s at offset %zu: %s", ew_strerror(d->code), d->offset,
                        d->what);
    return snprintf(buf, cap, "%s at offset %zu", ew_strerror(d->code), d->offset);
}
