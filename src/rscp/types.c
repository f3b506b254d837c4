/*
 * RSCP data types, device error codes and namespace names: the fixed tables
 * of rscp.md §3.2, §6 and §4.3.
 */
#include "rscp/rscp_int.h"

/* rscp.md §3.2: id, the name the tag table uses, and the value size (-1 when
 * the length field alone decides). */
typedef struct type_entry {
    const char *name;
    int size;
} type_entry;

static const type_entry types[0x11] = {
    {"None", 0},
    {"Bool", 1},
    {"Char8", 1},
    {"UChar8", 1},
    {"Int16", 2},
    {"UInt16", 2},
    {"Int32", 4},
    {"UInt32", 4},
    {"Int64", 8},
    {"UInt64", 8},
    {"Float32", 4},
    {"Double64", 8},
    /* Bitfield: peers disagree on the size (1, 2 or n bytes); rscp.md §3.2
     * says to treat it as n raw bytes. */
    {"Bitfield", -1},
    {"CString", -1},
    {"Container", -1},
    {"Timestamp", 12},
    {"ByteArray", -1},
};

/* Error (0xFF) carries a uint32 code (rscp.md §3.2, §6); the 1-byte form
 * rscp-lib reports is tolerated by the getters, not here. */
static const type_entry type_error = {"Error", 4};

static const type_entry *type_entry_of(int type) {
    if (type >= 0 && type < (int)(sizeof types / sizeof types[0]))
        return &types[type];
    if (type == EW_RSCP_TYPE_ERROR)
        return &type_error;
    return NULL;
}

const char *ew_rscp_type_name(int type) {
    const type_entry *e = type_entry_of(type);
    return e ? e->name : NULL;
}

static int ascii_upper(int c) {
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int name_equals(const char *name, size_t len, const char *want) {
    size_t i = 0;
    for (; i < len && want[i]; i++)
        if (ascii_upper((unsigned char)name[i]) != ascii_upper((unsigned char)want[i]))
            return 0;
    return i == len && want[i] == '\0';
}

int ew_rscp_type_from_name(const char *name, size_t len) {
    /* The tag table leaves the type empty when no source gives one. */
    if (len == 0)
        return -1;
    if (!name)
        return EW_ERR_NOT_FOUND;
    for (int t = 0; t < (int)(sizeof types / sizeof types[0]); t++)
        if (name_equals(name, len, types[t].name))
            return t;
    if (name_equals(name, len, type_error.name))
        return EW_RSCP_TYPE_ERROR;
    return EW_ERR_NOT_FOUND;
}

int ew_rscp_type_fixed_size(int type) {
    const type_entry *e = type_entry_of(type);
    return e ? e->size : -1;
}

/*
 * Device error codes (rscp.md §6).  Codes 1..8 carry the names of E3/DC's
 * example enum.  0xFFFFFFFF has no official name: pye3dc and go-rscp saw it
 * for history requests with an invalid start time or span (rscp.md §6,
 * §9.6); it is named after EW_RSCP_ERR_INVALID_TIME in rscp.h.
 */
typedef struct error_entry {
    uint32_t code;
    const char *name;
    const char *text;
} error_entry;

static const error_entry errors[] = {
    {EW_RSCP_ERR_NOT_HANDLED, "RSCP_ERR_NOT_HANDLED", "The device did not handle the request."},
    {EW_RSCP_ERR_ACCESS_DENIED, "RSCP_ERR_ACCESS_DENIED",
     "Access denied: not authenticated, or the user level is too low."},
    {EW_RSCP_ERR_FORMAT, "RSCP_ERR_FORMAT", "The request was malformed."},
    {EW_RSCP_ERR_AGAIN, "RSCP_ERR_AGAIN", "The device is busy; try again later."},
    {EW_RSCP_ERR_OUT_OF_BOUNDS, "RSCP_ERR_OUT_OF_BOUNDS", "An index or value is out of range."},
    {EW_RSCP_ERR_NOT_AVAILABLE, "RSCP_ERR_NOT_AVAILABLE",
     "The data or device is not available (for example, no battery with that index)."},
    {EW_RSCP_ERR_UNKNOWN_TAG, "RSCP_ERR_UNKNOWN_TAG", "The device does not know the tag."},
    {EW_RSCP_ERR_ALREADY_IN_USE, "RSCP_ERR_ALREADY_IN_USE", "The resource is already in use."},
    {EW_RSCP_ERR_INVALID_TIME, "RSCP_ERR_INVALID_TIME",
     "Invalid time or span in a history request (undocumented code 0xFFFFFFFF)."},
};

static const error_entry *error_entry_of(uint32_t code) {
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code)
            return &errors[i];
    return NULL;
}

const char *ew_rscp_error_name(uint32_t code) {
    const error_entry *e = error_entry_of(code);
    return e ? e->name : NULL;
}

const char *ew_rscp_error_text(uint32_t code) {
    const error_entry *e = error_entry_of(code);
    return e ? e->text : "Unknown device error code.";
}

/*
 * Namespace names by the tag's high byte (rscp.md §4.3, from E3DC.RSCP's
 * TagGroup enums; RD and SMGW from rscp-lib's tag names).  They match the
 * namespace column of data/rscp_tags.csv; FMS (0x07) has no known tags.
 * Bytes not listed are unassigned (NULL).
 */
static const char *const ns_names[256] = {
    [0x00] = "RSCP",
    [0x01] = "EMS",
    [0x02] = "PVI",
    [0x03] = "BAT",
    [0x04] = "DCDC",
    [0x05] = "PM",
    [0x06] = "DB",
    [0x07] = "FMS",
    [0x08] = "SRV",
    [0x09] = "HA",
    [0x0A] = "INFO",
    [0x0B] = "EP",
    [0x0C] = "SYS",
    [0x0D] = "UM",
    [0x0E] = "WB",
    [0x0F] = "PTDB",
    [0x10] = "LED",
    [0x11] = "DIAG",
    [0x12] = "SGR",
    [0x13] = "MBS",
    [0x14] = "EH",
    [0x15] = "UPNPC",
    [0x16] = "KNX",
    [0x17] = "EMSHB",
    [0x18] = "MYPV",
    [0x19] = "GPIO",
    [0x1A] = "FARM",
    [0x1B] = "SE",
    [0x1C] = "QPI",
    [0x1D] = "GAPP",
    [0x1E] = "EMSPR",
    [0x1F] = "IOBOX",
    [0x20] = "WBD",
    [0x21] = "REFU",
    [0x22] = "OVP",
    [0x23] = "NETWORK",
    [0x24] = "WBAUTH",
    [0x25] = "PLAY",
    [0x26] = "GDI",
    [0x27] = "SCM",
    [0x28] = "EEBUS",
    [0x29] = "SDSA",
    [0x2A] = "ETH",
    [0x2B] = "LCT",
    [0x2C] = "HG_OCPP_WB_CFG_LC",
    [0x2D] = "OCPP_WB_LC",
    [0x2E] = "WB_BADGE_MGT_LC",
    [0x2F] = "LC_USR_MGT_LC",
    [0x30] = "DASHBOARD_LC",
    [0x31] = "RD",
    [0x32] = "SMGW",
    [0xF0] = "UMRC",
    [0xF4] = "LOG",
    [0xF5] = "DCL",
    [0xF6] = "CL",
    [0xF7] = "DBRC",
    [0xF8] = "SERVER",
    [0xF9] = "SYS_CMD",
    [0xFA] = "DB_SERVICE",
    [0xFB] = "DB_RECOVERY",
    [0xFC] = "GROUP_CTRL",
    [0xFD] = "ADMIN",
    [0xFE] = "FINAL_CHECK",
};

const char *ew_rscp_namespace_name(uint8_t ns) {
    return ns_names[ns];
}
