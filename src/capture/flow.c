/*
 * The capture decoder: flow table, per-direction TCP reassembly, protocol
 * detection and dispatch to the protocol decoders.
 *
 * Reassembly: each direction keeps the sequence number of the next
 * in-order byte and its 64-bit stream offset (sequence numbers wrap; the
 * signed 32-bit difference places a segment).  In-order payload goes
 * straight from the packet to the protocol decoder without a copy; only
 * segments that arrive ahead of a hole are copied and held, sorted and
 * without overlaps (the first copy of a byte wins; later copies count as
 * retransmissions), up to max_ooo_bytes per direction.  When that limit is
 * reached, at FIN/RST and at the end of the capture, the hole is declared
 * a gap: a GAP record, and the decoder resumes where its protocol allows.
 *
 * Flows are found through a hash table keyed on both endpoints (either
 * order) and kept on a list by last activity, so that a full table evicts
 * the flow idle the longest.
 */
#include "capture/cap_int.h"
#include "capture/tls13.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_FLOWS 4096
#define DEFAULT_MAX_OOO (1u << 20)

const char *ew_cap_proto_name(ew_cap_proto p) {
    switch (p) {
    case EW_CAP_PROTO_RSCP:
        return "rscp";
    case EW_CAP_PROTO_RCT:
        return "rct";
    case EW_CAP_PROTO_EP:
        return "ep";
    default:
        return "none";
    }
}

static int ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return *a == *b;
}

int ew_cap_proto_parse(const char *name) {
    if (!name)
        return -1;
    if (ieq(name, "rscp"))
        return EW_CAP_PROTO_RSCP;
    if (ieq(name, "rct"))
        return EW_CAP_PROTO_RCT;
    if (ieq(name, "ep"))
        return EW_CAP_PROTO_EP;
    return -1;
}

void ew_cap_opts_init(ew_cap_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_flows = DEFAULT_MAX_FLOWS;
    o->max_ooo_bytes = DEFAULT_MAX_OOO;
}

static void set_detail(char *detail, size_t cap, const char *text) {
    if (detail && cap)
        snprintf(detail, cap, "%s", text);
}

int ew_cap_new(ew_cap **out, const ew_cap_opts *o, char *detail, size_t detail_cap) {
    if (!out || !o) {
        set_detail(detail, detail_cap, "no options");
        return EW_ERR_INVAL;
    }
    *out = NULL;
    if (o->n_ports > EW_CAP_MAX_PORT_MAP) {
        set_detail(detail, detail_cap, "too many port assignments");
        return EW_ERR_INVAL;
    }
    size_t klen = o->rscp_key ? strlen(o->rscp_key) : 0;
    if (o->rscp_key && (klen == 0 || klen > EW_RSCP_KEY_LEN)) {
        set_detail(detail, detail_cap, "the RSCP key must be 1 to 32 bytes");
        return EW_ERR_INVAL;
    }
    ew_cap *c = calloc(1, sizeof *c);
    if (!c) {
        set_detail(detail, detail_cap, "out of memory");
        return EW_ERR_NOMEM;
    }
    c->o = *o;
    if (!c->o.max_flows)
        c->o.max_flows = DEFAULT_MAX_FLOWS;
    if (!c->o.max_ooo_bytes)
        c->o.max_ooo_bytes = DEFAULT_MAX_OOO;
    /* The caller's strings need not outlive this call. */
    c->o.rscp_key = NULL;
    c->o.keylog = NULL;
    c->o.keylog_len = 0;
    if (o->rscp_key) {
        uint8_t k[EW_RSCP_KEY_LEN];
        ew_rscp_key_derive(o->rscp_key, klen, k);
        ew_rscp_cipher_init(&c->cipher, k, EW_RSCP_CIPHER_AUTO);
        OPENSSL_cleanse(k, sizeof k);
        c->have_key = 1;
    }
    if (o->keylog) {
        char why[128] = "";
        int rc = ew_tls13_keylog_parse(&c->keylog, o->keylog, o->keylog_len, why, sizeof why);
        if (rc != EW_OK) {
            char msg[200];
            snprintf(msg, sizeof msg, "key log: %s", why[0] ? why : ew_strerror(rc));
            set_detail(detail, detail_cap, msg);
            ew_cap_del(c);
            return rc == EW_ERR_NOMEM ? EW_ERR_NOMEM : EW_ERR_INVAL;
        }
    }
    size_t ts = 64;
    while (ts < c->o.max_flows * 2 && ts < ((size_t)1 << 20))
        ts <<= 1;
    c->table = calloc(ts, sizeof *c->table);
    if (!c->table) {
        ew_cap_del(c);
        set_detail(detail, detail_cap, "out of memory");
        return EW_ERR_NOMEM;
    }
    c->table_size = ts;
    c->next_id = 1;
    *out = c;
    return EW_OK;
}

/* The protocol decoders (proto_*.c), by ew_cap_proto. */
static const ew_cap_decoder decoders[] = {
    [EW_CAP_PROTO_RSCP] = {ew_cap_rscp_start, ew_cap_rscp_data, ew_cap_rscp_gap, ew_cap_rscp_end,
                           ew_cap_rscp_free},
    [EW_CAP_PROTO_RCT] = {ew_cap_rct_start, ew_cap_rct_data, ew_cap_rct_gap, ew_cap_rct_end,
                          ew_cap_rct_free},
    [EW_CAP_PROTO_EP] = {ew_cap_ep_start, ew_cap_ep_data, ew_cap_ep_gap, ew_cap_ep_end,
                         ew_cap_ep_free},
};

/* NULL for EW_CAP_PROTO_NONE (flows that are counted, not decoded). */
static const ew_cap_decoder *decoder_of(int proto) {
    return proto > EW_CAP_PROTO_NONE && proto <= EW_CAP_PROTO_EP ? &decoders[proto] : NULL;
}

static void flow_free(ew_cap_flowi *f) {
    for (int d = 0; d < 2; d++) {
        for (size_t i = f->dir[d].head; i < f->dir[d].nsegs; i++)
            free(f->dir[d].segs[i].data);
        free(f->dir[d].segs);
    }
    const ew_cap_decoder *dc = decoder_of(f->pub.proto);
    if (dc)
        dc->free(f);
    free(f);
}

void ew_cap_del(ew_cap *c) {
    if (!c)
        return;
    ew_cap_flowi *f = c->lru_head;
    while (f) {
        ew_cap_flowi *n = f->lnext;
        flow_free(f);
        f = n;
    }
    free(c->table);
    if (c->keylog)
        ew_tls13_keylog_del(c->keylog);
    OPENSSL_cleanse(&c->cipher, sizeof c->cipher); /* the key schedule */
    free(c);
}

const char *ew_cap_error_detail(const ew_cap *c) {
    return c ? c->detail : "";
}

void ew_cap_get_stats(const ew_cap *c, ew_cap_stats *st) {
    *st = c->st;
}

/* ---- records -------------------------------------------------------------- */

void ew_cap_emit(ew_cap *c, ew_cap_flowi *f, ew_cap_record *r) {
    r->flow = &f->pub;
    if (!r->ts_us)
        r->ts_us = c->now_ts;
    /* Records about the whole connection (EW_CAP_BOTH) count for the
     * client's direction. */
    int d = r->dir == EW_CAP_FROM_DEVICE ? 1 : 0;
    if (r->type == EW_CAP_REC_FRAME) {
        f->pub.frames[d]++;
        c->st.frames_by_proto[f->pub.proto & 3]++;
    } else if (r->type == EW_CAP_REC_ERROR) {
        f->pub.errors[d]++;
        c->st.errors++;
        if (r->err < 0 && r->err > -64)
            c->st.errors_by_code[-r->err]++;
    }
    if (c->o.on_record)
        c->o.on_record(c->o.user, r);
}

void ew_cap_error(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, int err, const char *detail) {
    ew_cap_record r;
    memset(&r, 0, sizeof r);
    r.type = EW_CAP_REC_ERROR;
    r.dir = dir;
    r.stream_off = off;
    r.err = err;
    r.detail = detail;
    ew_cap_emit(c, f, &r);
}

/* ---- dispatch to the protocol decoders ------------------------------------ */

static void proto_data(ew_cap *c, ew_cap_flowi *f, int d, uint64_t off, const uint8_t *p,
                       size_t n) {
    const ew_cap_decoder *dc = decoder_of(f->pub.proto);
    if (f->decode && dc)
        dc->data(c, f, d, off, p, n);
}

static void proto_gap(ew_cap *c, ew_cap_flowi *f, int d, uint64_t off, uint64_t n) {
    const ew_cap_decoder *dc = decoder_of(f->pub.proto);
    if (dc)
        dc->gap(c, f, d, off, n);
}

/* ---- reassembly ----------------------------------------------------------- */

static void deliver(ew_cap *c, ew_cap_flowi *f, int d, const uint8_t *p, size_t n) {
    ew_cap_dir *dr = &f->dir[d];
    uint64_t off = dr->next_off;
    dr->next_off += n;
    dr->next_seq += (uint32_t)n;
    f->pub.bytes[d] += n;
    proto_data(c, f, d, off, p, n);
}

/* Hands over the held segments that are now in order. */
static void drain(ew_cap *c, ew_cap_flowi *f, int d) {
    ew_cap_dir *dr = &f->dir[d];
    while (dr->head < dr->nsegs && dr->segs[dr->head].off <= dr->next_off) {
        ew_cap_seg s = dr->segs[dr->head++];
        if (dr->head == dr->nsegs)
            dr->head = dr->nsegs = 0;
        dr->held -= s.len;
        uint64_t end = s.off + s.len;
        if (end > dr->next_off) {
            size_t skip = (size_t)(dr->next_off - s.off);
            deliver(c, f, d, s.data + skip, s.len - skip);
        }
        free(s.data);
    }
}

/* Declares the bytes up to stream offset |to| lost. */
static void gap_to(ew_cap *c, ew_cap_flowi *f, int d, uint64_t to) {
    ew_cap_dir *dr = &f->dir[d];
    if (to <= dr->next_off)
        return;
    uint64_t n = to - dr->next_off;
    uint64_t at = dr->next_off;
    dr->next_off = to;
    dr->next_seq += (uint32_t)n;
    f->pub.gaps[d]++;
    f->pub.gap_bytes[d] += n;
    c->st.gaps++;
    c->st.gap_bytes += n;
    if (f->decode) {
        ew_cap_record r;
        memset(&r, 0, sizeof r);
        r.type = EW_CAP_REC_GAP;
        r.dir = d;
        r.stream_off = at;
        r.gap_bytes = n;
        ew_cap_emit(c, f, &r);
        proto_gap(c, f, d, at, n);
    }
}

/* Inserts a copy of |n| bytes at index |*at| (>= head); |*at| follows
 * the array when it is compacted. */
static int seg_insert(ew_cap_dir *dr, size_t *at, uint64_t off, const uint8_t *p, size_t n) {
    if (dr->nsegs == dr->segcap) {
        if (dr->head > dr->segcap / 2) {
            memmove(dr->segs, dr->segs + dr->head, (dr->nsegs - dr->head) * sizeof *dr->segs);
            dr->nsegs -= dr->head;
            *at -= dr->head;
            dr->head = 0;
        } else {
            size_t nc = dr->segcap ? dr->segcap * 2 : 16;
            ew_cap_seg *ns = realloc(dr->segs, nc * sizeof *ns);
            if (!ns)
                return EW_ERR_NOMEM;
            dr->segs = ns;
            dr->segcap = nc;
        }
    }
    uint8_t *data = malloc(n);
    if (!data)
        return EW_ERR_NOMEM;
    memcpy(data, p, n);
    size_t i = *at;
    memmove(dr->segs + i + 1, dr->segs + i, (dr->nsegs - i) * sizeof *dr->segs);
    dr->segs[i].off = off;
    dr->segs[i].len = n;
    dr->segs[i].data = data;
    dr->nsegs++;
    dr->held += n;
    return EW_OK;
}

/* Index of the first held segment that ends after |off|. */
static size_t seg_find(const ew_cap_dir *dr, uint64_t off) {
    size_t lo = dr->head, hi = dr->nsegs;
    if (lo == hi || dr->segs[hi - 1].off + dr->segs[hi - 1].len <= off)
        return hi; /* the usual case: after everything held */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dr->segs[mid].off + dr->segs[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Holds |n| bytes at stream offset |off| (> next_off), keeping the bytes
 * already held where they overlap. */
static int hold(ew_cap *c, ew_cap_flowi *f, int d, uint64_t off, const uint8_t *p, size_t n) {
    ew_cap_dir *dr = &f->dir[d];
    uint64_t end = off + n, cur = off;
    size_t i = seg_find(dr, off);
    int dup = 0;
    while (cur < end) {
        while (i < dr->nsegs && dr->segs[i].off + dr->segs[i].len <= cur)
            i++;
        uint64_t stop = end;
        if (i < dr->nsegs) {
            if (dr->segs[i].off <= cur) {
                /* Covered already: the first copy wins. */
                cur = dr->segs[i].off + dr->segs[i].len;
                dup = 1;
                continue;
            }
            if (dr->segs[i].off < stop)
                stop = dr->segs[i].off;
        }
        int rc = seg_insert(dr, &i, cur, p + (cur - off), (size_t)(stop - cur));
        if (rc)
            return rc;
        i++;
        cur = stop;
    }
    if (dup)
        c->st.retransmitted++;
    return EW_OK;
}

static int segment(ew_cap *c, ew_cap_flowi *f, int d, uint32_t seq, const uint8_t *p, size_t n) {
    ew_cap_dir *dr = &f->dir[d];
    int64_t rel = (int32_t)(seq - dr->next_seq);
    if (n == 0 || !f->decode)
        return EW_OK; /* flows not decoded are only counted */
    if (rel < 0) {
        uint64_t skip = (uint64_t)(-rel);
        c->st.retransmitted++;
        if (skip >= n)
            return EW_OK;
        p += skip;
        n -= (size_t)skip;
        rel = 0;
    }
    if (rel == 0) {
        deliver(c, f, d, p, n);
        drain(c, f, d);
        return EW_OK;
    }
    uint64_t off = dr->next_off + (uint64_t)rel;
    c->st.out_of_order++;
    /* Over the limit: the first hole becomes a gap until the data fits. */
    while (dr->held + n > c->o.max_ooo_bytes && dr->head < dr->nsegs) {
        gap_to(c, f, d, dr->segs[dr->head].off);
        drain(c, f, d);
    }
    if (off <= dr->next_off) {
        if (off + n <= dr->next_off)
            return EW_OK;
        size_t skip = (size_t)(dr->next_off - off);
        deliver(c, f, d, p + skip, n - skip);
        drain(c, f, d);
        return EW_OK;
    }
    if (dr->held + n > c->o.max_ooo_bytes) {
        gap_to(c, f, d, off);
        deliver(c, f, d, p, n);
        drain(c, f, d);
        return EW_OK;
    }
    return hold(c, f, d, off, p, n);
}

/* Hands over everything held, declaring every hole (and missing bytes
 * before a FIN) a gap. */
static void flush_dir(ew_cap *c, ew_cap_flowi *f, int d) {
    ew_cap_dir *dr = &f->dir[d];
    while (dr->head < dr->nsegs) {
        gap_to(c, f, d, dr->segs[dr->head].off);
        drain(c, f, d);
    }
    if (dr->fin && dr->fin_off > dr->next_off)
        gap_to(c, f, d, dr->fin_off);
}

/* ---- the flow table -------------------------------------------------------- */

static uint32_t hash_ep(const uint8_t *a, uint16_t port) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    h = (h ^ (port & 0xFF)) * 16777619u;
    h = (h ^ (port >> 8)) * 16777619u;
    return h;
}

static uint32_t flow_hash(const ew_cap_pkt *k) {
    uint32_t a = hash_ep(k->src, k->sport), b = hash_ep(k->dst, k->dport);
    uint32_t h = a + b; /* either order */
    h ^= h >> 15;
    h *= 0x2c1b3c6dU;
    h ^= h >> 12;
    return h;
}

/* Returns the flow and the direction of |k| in it, or NULL. */
static ew_cap_flowi *flow_find(ew_cap *c, const ew_cap_pkt *k, uint32_t h, int *dir) {
    for (ew_cap_flowi *f = c->table[h & (c->table_size - 1)]; f; f = f->hnext) {
        if (f->hash != h || f->v6 != k->v6)
            continue;
        if (f->cport == k->sport && f->dport == k->dport && !memcmp(f->caddr, k->src, 16) &&
            !memcmp(f->daddr, k->dst, 16)) {
            *dir = EW_CAP_TO_DEVICE;
            return f;
        }
        if (f->cport == k->dport && f->dport == k->sport && !memcmp(f->caddr, k->dst, 16) &&
            !memcmp(f->daddr, k->src, 16)) {
            *dir = EW_CAP_FROM_DEVICE;
            return f;
        }
    }
    return NULL;
}

static void lru_unlink(ew_cap *c, ew_cap_flowi *f) {
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        c->lru_head = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    else
        c->lru_tail = f->lprev;
    f->lprev = f->lnext = NULL;
}

static void lru_append(ew_cap *c, ew_cap_flowi *f) {
    f->lprev = c->lru_tail;
    f->lnext = NULL;
    if (c->lru_tail)
        c->lru_tail->lnext = f;
    else
        c->lru_head = f;
    c->lru_tail = f;
}

/* Ends flow |f|: flushes reassembly, lets the decoder finish, FLOW_END,
 * and frees it. */
static void flow_end(ew_cap *c, ew_cap_flowi *f) {
    flush_dir(c, f, 0);
    flush_dir(c, f, 1);
    if (f->decode) {
        const ew_cap_decoder *dc = decoder_of(f->pub.proto);
        if (dc)
            dc->end(c, f);
        ew_cap_record r;
        memset(&r, 0, sizeof r);
        r.type = EW_CAP_REC_FLOW_END;
        ew_cap_emit(c, f, &r);
    }
    ew_cap_flowi **pp = &c->table[f->hash & (c->table_size - 1)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    lru_unlink(c, f);
    c->nflows--;
    flow_free(f);
}

static int port_proto(const ew_cap *c, uint16_t port) {
    for (size_t i = 0; i < c->o.n_ports; i++)
        if (c->o.ports[i].port == port)
            return (int)c->o.ports[i].proto;
    switch (port) {
    case 5033:
    case 5034:
        return EW_CAP_PROTO_RSCP;
    case 8899:
        return EW_CAP_PROTO_RCT;
    case 56540:
        return EW_CAP_PROTO_EP;
    default:
        return -1;
    }
}

static ew_cap_flowi *flow_new(ew_cap *c, const ew_cap_pkt *k, uint32_t h, int *dir) {
    if (c->nflows >= c->o.max_flows && c->lru_head)
        flow_end(c, c->lru_head);
    ew_cap_flowi *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    int ps = port_proto(c, k->sport), pd = port_proto(c, k->dport);
    int src_is_device;
    if (pd >= 0 && ps < 0)
        src_is_device = 0;
    else if (ps >= 0 && pd < 0)
        src_is_device = 1;
    else if ((k->flags & (EW_CAP_TCP_SYN | EW_CAP_TCP_ACK)) == EW_CAP_TCP_SYN)
        src_is_device = 0;
    else if ((k->flags & (EW_CAP_TCP_SYN | EW_CAP_TCP_ACK)) == (EW_CAP_TCP_SYN | EW_CAP_TCP_ACK))
        src_is_device = 1;
    else
        src_is_device = k->sport < k->dport;
    int proto = src_is_device ? ps : pd;
    if (proto < 0)
        proto = EW_CAP_PROTO_NONE;
    f->v6 = k->v6;
    if (src_is_device) {
        memcpy(f->daddr, k->src, 16);
        memcpy(f->caddr, k->dst, 16);
        f->dport = k->sport;
        f->cport = k->dport;
        *dir = EW_CAP_FROM_DEVICE;
    } else {
        memcpy(f->caddr, k->src, 16);
        memcpy(f->daddr, k->dst, 16);
        f->cport = k->sport;
        f->dport = k->dport;
        *dir = EW_CAP_TO_DEVICE;
    }
    f->hash = h;
    f->pub.saw_syn = (k->flags & EW_CAP_TCP_SYN) != 0;
    f->pub.id = c->next_id++;
    f->pub.proto = (ew_cap_proto)proto;
    ew_cap_addr_format(f->v6, f->caddr, f->cport, f->pub.client, sizeof f->pub.client);
    ew_cap_addr_format(f->v6, f->daddr, f->dport, f->pub.device, sizeof f->pub.device);
    f->decode =
        proto != EW_CAP_PROTO_NONE && (!c->o.proto_mask || (c->o.proto_mask & (1u << proto)));
    if (f->decode) {
        const ew_cap_decoder *dc = decoder_of(proto);
        int rc = dc ? dc->start(c, f) : EW_OK;
        if (rc != EW_OK) {
            free(f);
            return NULL;
        }
    }
    size_t slot = h & (c->table_size - 1);
    f->hnext = c->table[slot];
    c->table[slot] = f;
    lru_append(c, f);
    c->nflows++;
    c->st.flows++;
    c->st.flows_by_proto[proto]++;
    return f;
}

static int dir_done(const ew_cap_dir *dr) {
    return dr->fin && dr->next_off >= dr->fin_off && dr->head == dr->nsegs;
}

int ew_cap_packet(ew_cap *c, int linktype, uint64_t ts_us, const uint8_t *data, size_t caplen,
                  size_t origlen) {
    (void)origlen;
    if (c->nomem)
        return EW_ERR_NOMEM;
    c->st.packets++;
    c->st.bytes += caplen;
    c->now_ts = ts_us;
    ew_cap_pkt k;
    int rc = ew_cap_parse(linktype, data, caplen, &k);
    if (rc == EW_ERR_INVAL) {
        c->st.skipped++;
        snprintf(c->detail, sizeof c->detail, "link type %d is not decoded", linktype);
        return EW_ERR_INVAL;
    }
    if (rc != 1) {
        c->st.skipped++;
        return EW_OK;
    }
    uint32_t h = flow_hash(&k);
    int d;
    ew_cap_flowi *f = flow_find(c, &k, h, &d);
    int syn = (k.flags & EW_CAP_TCP_SYN) != 0;
    if (f && syn && !(k.flags & EW_CAP_TCP_ACK) && d == EW_CAP_TO_DEVICE && f->dir[d].init &&
        !(f->dir[d].saw_syn && f->dir[d].syn_seq == k.seq)) {
        /* A new connection on the same addresses and ports (a repeated SYN
         * of this one is not). */
        flow_end(c, f);
        f = NULL;
    }
    if (!f) {
        if (!syn && k.len == 0)
            return EW_OK; /* an ACK or FIN of a flow already ended or unseen */
        f = flow_new(c, &k, h, &d);
        if (!f) {
            c->nomem = 1;
            snprintf(c->detail, sizeof c->detail, "out of memory");
            return EW_ERR_NOMEM;
        }
        if (f->decode) {
            ew_cap_record r;
            memset(&r, 0, sizeof r);
            r.type = EW_CAP_REC_FLOW;
            r.dir = d;
            ew_cap_emit(c, f, &r);
        }
    } else if (f != c->lru_tail) {
        lru_unlink(c, f);
        lru_append(c, f);
    }
    ew_cap_dir *dr = &f->dir[d];
    uint32_t seq = k.seq;
    if (syn) {
        f->pub.saw_syn = 1;
        if (!dr->saw_syn) {
            dr->saw_syn = 1;
            dr->syn_seq = k.seq;
        }
        seq++;
        if (!dr->init) {
            dr->init = 1;
            dr->syn = 1;
            dr->next_seq = seq;
        }
    } else if (!dr->init) {
        dr->init = 1;
        dr->next_seq = seq;
    }
    ew_cap_dir *od = &f->dir[!d];
    if (!syn && (k.flags & EW_CAP_TCP_ACK) && !od->init && dr->syn && dr->next_off == 0) {
        /* The other side's SYN is missing from the capture, but this side
         * acknowledges it before sending anything: its stream starts at
         * the acknowledged number, so it is followed from the start. */
        od->init = 1;
        od->syn = 1;
        od->next_seq = k.ack;
    }
    if (k.flags & EW_CAP_TCP_RST) {
        /* Data on a RST is not delivered by TCP either. */
        flow_end(c, f);
        return EW_OK;
    }
    if (k.flags & EW_CAP_TCP_FIN) {
        int64_t rel = (int32_t)(seq + (uint32_t)k.len - dr->next_seq);
        int64_t at = (int64_t)dr->next_off + rel;
        if (!dr->fin && at >= 0) {
            dr->fin = 1;
            dr->fin_off = (uint64_t)at;
        }
    }
    rc = segment(c, f, d, seq, k.payload, k.len);
    if (rc == EW_ERR_NOMEM || c->nomem) {
        rc = EW_ERR_NOMEM;
        c->nomem = 1;
        snprintf(c->detail, sizeof c->detail, "out of memory");
        return rc;
    }
    if (dir_done(&f->dir[0]) && dir_done(&f->dir[1]))
        flow_end(c, f);
    return EW_OK;
}

void ew_cap_finish(ew_cap *c) {
    while (c->lru_head)
        flow_end(c, c->lru_head);
}
