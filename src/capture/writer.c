/*
 * Writing synthetic captures: TCP conversations with real sequence numbers
 * (the client's initial sequence number sits just below the 32-bit wrap so
 * that every longer conversation crosses it), Ethernet or raw framing,
 * IPv4 (with header checksum) or IPv6, and a SYN carrying an MSS option, in
 * pcap (microseconds) or pcapng (one interface, microsecond resolution).
 * TCP checksums are left 0.
 */
#include "capture/cap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

typedef struct wflow {
    int v6;
    uint8_t caddr[16], daddr[16];
    uint16_t cport, dport;
    uint32_t seq[2]; /* next sequence number per direction */
} wflow;

struct ew_cap_writer {
    ew_cap_writer_opts o;
    uint8_t *buf;
    size_t len, cap;
    wflow *flows;
    size_t nflows, flowcap;
    uint8_t pkt[65600];
};

static int grow(ew_cap_writer *w, size_t need) {
    if (w->len + need <= w->cap)
        return EW_OK;
    size_t nc = w->cap ? w->cap : 4096;
    while (nc < w->len + need)
        nc *= 2;
    uint8_t *nb = realloc(w->buf, nc);
    if (!nb)
        return EW_ERR_NOMEM;
    w->buf = nb;
    w->cap = nc;
    return EW_OK;
}

static void le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void be32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

int ew_cap_writer_new(ew_cap_writer **out, const ew_cap_writer_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    ew_cap_writer_opts def = {0, EW_CAP_LINK_ETHERNET};
    if (!o)
        o = &def;
    int lt = o->linktype ? o->linktype : EW_CAP_LINK_ETHERNET;
    if (lt != EW_CAP_LINK_ETHERNET && lt != EW_CAP_LINK_RAW)
        return EW_ERR_INVAL;
    ew_cap_writer *w = calloc(1, sizeof *w);
    if (!w)
        return EW_ERR_NOMEM;
    w->o = *o;
    w->o.linktype = lt;
    uint8_t *h;
    if (!o->pcapng) {
        if (grow(w, 24)) {
            ew_cap_writer_del(w);
            return EW_ERR_NOMEM;
        }
        h = w->buf;
        le32(h, 0xA1B2C3D4u);
        le16(h + 4, 2);
        le16(h + 6, 4);
        le32(h + 8, 0);
        le32(h + 12, 0);
        le32(h + 16, 262144);
        le32(h + 20, (uint32_t)lt);
        w->len = 24;
    } else {
        if (grow(w, 48)) {
            ew_cap_writer_del(w);
            return EW_ERR_NOMEM;
        }
        h = w->buf;
        /* Section header block, no options. */
        le32(h, 0x0A0D0D0Au);
        le32(h + 4, 28);
        le32(h + 8, 0x1A2B3C4Du);
        le16(h + 12, 1);
        le16(h + 14, 0);
        le32(h + 16, 0xFFFFFFFFu);
        le32(h + 20, 0xFFFFFFFFu);
        le32(h + 24, 28);
        /* Interface description block: default resolution (microseconds). */
        h += 28;
        le32(h, 1);
        le32(h + 4, 20);
        le16(h + 8, (uint16_t)lt);
        le16(h + 10, 0);
        le32(h + 12, 262144);
        le32(h + 16, 20);
        w->len = 48;
    }
    *out = w;
    return EW_OK;
}

void ew_cap_writer_del(ew_cap_writer *w) {
    if (!w)
        return;
    free(w->buf);
    free(w->flows);
    free(w);
}

ew_bytes ew_cap_writer_data(const ew_cap_writer *w) {
    ew_bytes b = {w ? w->buf : NULL, w ? w->len : 0};
    return b;
}

/* "a.b.c.d:port" or "[v6]:port". */
static int parse_ep(const char *s, int *v6, uint8_t addr[16], uint16_t *port) {
    char host[64];
    const char *colon;
    memset(addr, 0, 16);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host)
            return EW_ERR_SYNTAX;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = 0;
        colon = end + 1;
        *v6 = 1;
        if (inet_pton(AF_INET6, host, addr) != 1)
            return EW_ERR_SYNTAX;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            return EW_ERR_SYNTAX;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
        *v6 = 0;
        if (inet_pton(AF_INET, host, addr) != 1)
            return EW_ERR_SYNTAX;
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || p == 0 || p > 65535)
        return EW_ERR_SYNTAX;
    *port = (uint16_t)p;
    return EW_OK;
}

int ew_cap_writer_flow(ew_cap_writer *w, const char *client, const char *device) {
    if (!w || !client || !device)
        return EW_ERR_INVAL;
    wflow f;
    memset(&f, 0, sizeof f);
    int v6d;
    if (parse_ep(client, &f.v6, f.caddr, &f.cport) || parse_ep(device, &v6d, f.daddr, &f.dport) ||
        v6d != f.v6)
        return EW_ERR_SYNTAX;
    if (w->nflows == w->flowcap) {
        size_t nc = w->flowcap ? w->flowcap * 2 : 8;
        wflow *nf = realloc(w->flows, nc * sizeof *nf);
        if (!nf)
            return EW_ERR_NOMEM;
        w->flows = nf;
        w->flowcap = nc;
    }
    uint32_t id = (uint32_t)w->nflows;
    f.seq[EW_CAP_TO_DEVICE] = 0xFFFFF000u + 0x100u * id;
    f.seq[EW_CAP_FROM_DEVICE] = 0x10000000u * (id % 15 + 1) + 0x1234u;
    w->flows[w->nflows] = f;
    return (int)w->nflows++;
}

static uint16_t ip_csum(const uint8_t *p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)~s;
}

/* Writes one packet of flow |f| in direction |dir|. */
static int put(ew_cap_writer *w, const wflow *f, int dir, uint64_t ts, uint32_t seq, uint8_t flags,
               const uint8_t *data, size_t n) {
    uint8_t *p = w->pkt;
    size_t off = 0;
    const uint8_t *sa = dir == EW_CAP_TO_DEVICE ? f->caddr : f->daddr;
    const uint8_t *da = dir == EW_CAP_TO_DEVICE ? f->daddr : f->caddr;
    uint16_t sp = dir == EW_CAP_TO_DEVICE ? f->cport : f->dport;
    uint16_t dp = dir == EW_CAP_TO_DEVICE ? f->dport : f->cport;
    size_t tcp_len = (flags & EW_CAP_TCP_SYN) ? 24 : 20;
    if (n > 65000)
        return EW_ERR_TOO_BIG;
    if (w->o.linktype == EW_CAP_LINK_ETHERNET) {
        static const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0x01};
        static const uint8_t mac_d[6] = {0x02, 0, 0, 0, 0, 0x02};
        memcpy(p, dir == EW_CAP_TO_DEVICE ? mac_d : mac_c, 6);
        memcpy(p + 6, dir == EW_CAP_TO_DEVICE ? mac_c : mac_d, 6);
        be16(p + 12, f->v6 ? 0x86DD : 0x0800);
        off = 14;
    }
    if (!f->v6) {
        uint8_t *ip = p + off;
        memset(ip, 0, 20);
        ip[0] = 0x45;
        be16(ip + 2, (uint16_t)(20 + tcp_len + n));
        be16(ip + 4, (uint16_t)(seq & 0xFFFF));
        be16(ip + 6, 0x4000); /* DF */
        ip[8] = 64;
        ip[9] = 6;
        memcpy(ip + 12, sa, 4);
        memcpy(ip + 16, da, 4);
        be16(ip + 10, ip_csum(ip, 20));
        off += 20;
    } else {
        uint8_t *ip = p + off;
        memset(ip, 0, 40);
        ip[0] = 0x60;
        be16(ip + 4, (uint16_t)(tcp_len + n));
        ip[6] = 6;
        ip[7] = 64;
        memcpy(ip + 8, sa, 16);
        memcpy(ip + 24, da, 16);
        off += 40;
    }
    uint8_t *t = p + off;
    memset(t, 0, tcp_len);
    be16(t, sp);
    be16(t + 2, dp);
    be32(t + 4, seq);
    if (flags & EW_CAP_TCP_ACK)
        be32(t + 8, f->seq[!dir]);
    t[12] = (uint8_t)((tcp_len / 4) << 4);
    t[13] = flags;
    be16(t + 14, 65535);
    if (tcp_len == 24) {
        t[20] = 2; /* MSS option */
        t[21] = 4;
        be16(t + 22, 1460);
    }
    off += tcp_len;
    if (n)
        memcpy(p + off, data, n);
    off += n;

    uint32_t sec = (uint32_t)(ts / 1000000u), usec = (uint32_t)(ts % 1000000u);
    if (!w->o.pcapng) {
        if (grow(w, 16 + off))
            return EW_ERR_NOMEM;
        uint8_t *h = w->buf + w->len;
        le32(h, sec);
        le32(h + 4, usec);
        le32(h + 8, (uint32_t)off);
        le32(h + 12, (uint32_t)off);
        memcpy(h + 16, p, off);
        w->len += 16 + off;
    } else {
        size_t padded = (off + 3) & ~(size_t)3;
        size_t blen = 32 + padded;
        if (grow(w, blen))
            return EW_ERR_NOMEM;
        uint8_t *h = w->buf + w->len;
        le32(h, 6);
        le32(h + 4, (uint32_t)blen);
        le32(h + 8, 0);
        le32(h + 12, (uint32_t)(ts >> 32));
        le32(h + 16, (uint32_t)ts);
        le32(h + 20, (uint32_t)off);
        le32(h + 24, (uint32_t)off);
        memcpy(h + 28, p, off);
        memset(h + 28 + off, 0, padded - off);
        le32(h + 28 + padded, (uint32_t)blen);
        w->len += blen;
    }
    return EW_OK;
}

static wflow *get_flow(ew_cap_writer *w, int f) {
    if (!w || f < 0 || (size_t)f >= w->nflows)
        return NULL;
    return &w->flows[f];
}

int ew_cap_writer_open(ew_cap_writer *w, int fi, uint64_t ts_us) {
    wflow *f = get_flow(w, fi);
    if (!f)
        return EW_ERR_INVAL;
    int rc = put(w, f, EW_CAP_TO_DEVICE, ts_us, f->seq[0], EW_CAP_TCP_SYN, NULL, 0);
    f->seq[0]++;
    if (!rc)
        rc = put(w, f, EW_CAP_FROM_DEVICE, ts_us + 1, f->seq[1], EW_CAP_TCP_SYN | EW_CAP_TCP_ACK,
                 NULL, 0);
    f->seq[1]++;
    if (!rc)
        rc = put(w, f, EW_CAP_TO_DEVICE, ts_us + 2, f->seq[0], EW_CAP_TCP_ACK, NULL, 0);
    return rc;
}

typedef struct wseg {
    size_t start, len;
} wseg;

int ew_cap_writer_send(ew_cap_writer *w, int fi, int dir, uint64_t ts_us, const uint8_t *data,
                       size_t len, size_t mss, unsigned flags) {
    wflow *f = get_flow(w, fi);
    if (!f || (dir != 0 && dir != 1) || (!data && len))
        return EW_ERR_INVAL;
    if (mss == 0)
        mss = 1460;
    if (mss > 65000)
        mss = 65000;
    size_t nseg = (len + mss - 1) / mss;
    wseg *segs = calloc(nseg ? nseg : 1, sizeof *segs);
    if (!segs)
        return EW_ERR_NOMEM;
    for (size_t i = 0; i < nseg; i++) {
        segs[i].start = i * mss;
        segs[i].len = len - i * mss < mss ? len - i * mss : mss;
        if ((flags & EW_CAP_W_OVERLAP) && i > 0) {
            /* Resend the tail of the previous segment with this one. */
            size_t k = segs[i - 1].len / 2 ? segs[i - 1].len / 2 : 1;
            if (segs[i].len + k > 65000)
                k = 65000 - segs[i].len;
            segs[i].start -= k;
            segs[i].len += k;
        }
    }
    if (flags & EW_CAP_W_REORDER)
        for (size_t i = 0; i + 1 < nseg; i += 2) {
            wseg t = segs[i];
            segs[i] = segs[i + 1];
            segs[i + 1] = t;
        }
    uint32_t base = f->seq[dir];
    uint64_t ts = ts_us;
    int rc = EW_OK;
    for (size_t i = 0; i < nseg && rc == EW_OK; i++) {
        if ((flags & EW_CAP_W_DROP) && segs[i].start <= mss && segs[i].start + segs[i].len > mss)
            continue; /* the second segment (the one holding byte mss) */
        int times = (flags & EW_CAP_W_RETRANSMIT) ? 2 : 1;
        for (int k = 0; k < times && rc == EW_OK; k++)
            rc = put(w, f, dir, ts++, base + (uint32_t)segs[i].start,
                     EW_CAP_TCP_ACK | 0x08 /* PSH */, data + segs[i].start, segs[i].len);
    }
    f->seq[dir] = base + (uint32_t)len;
    free(segs);
    return rc;
}

int ew_cap_writer_close(ew_cap_writer *w, int fi, uint64_t ts_us) {
    wflow *f = get_flow(w, fi);
    if (!f)
        return EW_ERR_INVAL;
    int rc =
        put(w, f, EW_CAP_TO_DEVICE, ts_us, f->seq[0], EW_CAP_TCP_FIN | EW_CAP_TCP_ACK, NULL, 0);
    f->seq[0]++;
    if (!rc)
        rc = put(w, f, EW_CAP_FROM_DEVICE, ts_us + 1, f->seq[1], EW_CAP_TCP_FIN | EW_CAP_TCP_ACK,
                 NULL, 0);
    f->seq[1]++;
    if (!rc)
        rc = put(w, f, EW_CAP_TO_DEVICE, ts_us + 2, f->seq[0], EW_CAP_TCP_ACK, NULL, 0);
    return rc;
}
