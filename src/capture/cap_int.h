/*
 * Internals of energywire_capture: parsed packets, flows, per-direction
 * reassembly and the protocol decoders they feed.
 */
#ifndef EW_CAPTURE_CAP_INT_H
#define EW_CAPTURE_CAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/capture.h>
#include <energywire/rscp.h>

/* ---- packets (packet.c) ------------------------------------------------- */

#define EW_CAP_TCP_FIN 0x01u
#define EW_CAP_TCP_SYN 0x02u
#define EW_CAP_TCP_RST 0x04u
#define EW_CAP_TCP_ACK 0x10u

typedef struct ew_cap_pkt {
    int v6;
    uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    const uint8_t *payload;
    size_t len;
} ew_cap_pkt;

/* Parses link, IP and TCP headers.  Returns 1 (a TCP segment whose payload
 * is all captured), 0 (something else, a fragment or a packet cut short) or
 * EW_ERR_INVAL (a link type not decoded). */
int ew_cap_parse(int linktype, const uint8_t *p, size_t caplen, ew_cap_pkt *out);

/* "a.b.c.d:port" or "[v6]:port". */
void ew_cap_addr_format(int v6, const uint8_t *addr, uint16_t port, char *out, size_t cap);

/* ---- flows (flow.c) ----------------------------------------------------- */

/* Out-of-order data held for one direction, sorted, never overlapping. */
typedef struct ew_cap_seg {
    uint64_t off;
    size_t len;
    uint8_t *data;
} ew_cap_seg;

typedef struct ew_cap_dir {
    int init;    /* next_seq is known */
    int syn;     /* ... from the SYN: offset 0 is the connection's start */
    int saw_syn; /* a SYN of this direction was seen, at syn_seq */
    uint32_t syn_seq;
    uint32_t next_seq; /* sequence number of the next in-order byte */
    uint64_t next_off; /* its stream offset */
    int fin;           /* FIN seen at fin_off */
    uint64_t fin_off;
    ew_cap_seg *segs; /* held: segs[head .. nsegs) */
    size_t head, nsegs, segcap;
    size_t held; /* bytes in segs */
} ew_cap_dir;

typedef struct ew_cap_flowi ew_cap_flowi;

struct ew_cap_flowi {
    ew_cap_flow pub;
    /* Key: the client and device endpoints. */
    int v6;
    uint8_t caddr[16], daddr[16];
    uint16_t cport, dport;
    uint32_t hash;
    ew_cap_flowi *hnext;         /* hash chain */
    ew_cap_flowi *lprev, *lnext; /* least recently active first */
    int decode;                  /* decoded (protocol known and selected) */
    ew_cap_dir dir[2];
    void *ps; /* protocol state */
};

struct ew_cap {
    ew_cap_opts o;
    ew_rscp_cipher cipher;
    int have_key;
    struct ew_tls13_keylog *keylog;
    ew_cap_flowi **table;
    size_t table_size; /* power of two */
    size_t nflows;
    ew_cap_flowi *lru_head, *lru_tail;
    uint64_t next_id;
    uint64_t now_ts;
    ew_cap_stats st;
    int nomem;
    char detail[400];
};

/* Emits |r| (flow, ts filled in here) and counts frames and errors. */
void ew_cap_emit(ew_cap *c, ew_cap_flowi *f, ew_cap_record *r);
void ew_cap_error(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, int err, const char *detail);

/* ---- protocol decoders (proto_*.c) --------------------------------------- */
/* _start allocates the state (returns EW_OK or EW_ERR_NOMEM); _data gets
 * in-order bytes of |dir| starting at stream offset |off|; _gap says |len|
 * bytes were lost at |off|; _end flushes at flow end; _free releases. */
int ew_cap_rscp_start(ew_cap *c, ew_cap_flowi *f);
void ew_cap_rscp_data(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, const uint8_t *p,
                      size_t len);
void ew_cap_rscp_gap(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, uint64_t len);
void ew_cap_rscp_end(ew_cap *c, ew_cap_flowi *f);
void ew_cap_rscp_free(ew_cap_flowi *f);

int ew_cap_rct_start(ew_cap *c, ew_cap_flowi *f);
void ew_cap_rct_data(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, const uint8_t *p,
                     size_t len);
void ew_cap_rct_gap(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, uint64_t len);
void ew_cap_rct_end(ew_cap *c, ew_cap_flowi *f);
void ew_cap_rct_free(ew_cap_flowi *f);

int ew_cap_ep_start(ew_cap *c, ew_cap_flowi *f);
void ew_cap_ep_data(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, const uint8_t *p,
                    size_t len);
void ew_cap_ep_gap(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, uint64_t len);
void ew_cap_ep_end(ew_cap *c, ew_cap_flowi *f);
void ew_cap_ep_free(ew_cap_flowi *f);

/* The five entry points of one protocol decoder (flow.c dispatches). */
typedef struct ew_cap_decoder {
    int (*start)(ew_cap *c, ew_cap_flowi *f);
    void (*data)(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, const uint8_t *p, size_t len);
    void (*gap)(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, uint64_t len);
    void (*end)(ew_cap *c, ew_cap_flowi *f);
    void (*free)(ew_cap_flowi *f);
} ew_cap_decoder;

#endif
