/*
 * Link, IP and TCP header parsing for capture decoding.
 *
 * Link types: Ethernet (any number of 802.1Q / 802.1ad tags), Linux cooked
 * SLL and SLL2, BSD loopback NULL (host byte order) and LOOP (network byte
 * order), raw IPv4/IPv6.  IPv4 options are skipped by IHL; IPv6 extension
 * headers (hop-by-hop, routing, destination options) are walked; fragments
 * of either version are skipped (the caller counts them), since RSCP, RCT
 * and EP run over TCP, whose segments are not fragmented in practice.
 * Lengths come from the IP header so Ethernet padding is ignored; a segment
 * whose payload was not captured in full is skipped and its bytes become a
 * gap in reassembly.
 */
#include "capture/cap_int.h"

#include <stdio.h>
#include <string.h>

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_IPV6 0x86DDu
#define ETHERTYPE_VLAN 0x8100u
#define ETHERTYPE_QINQ 0x88A8u
#define ETHERTYPE_QINQ_OLD 0x9100u

static uint16_t rd16(const uint8_t *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int parse_tcp(const uint8_t *p, size_t len, ew_cap_pkt *out) {
    if (len < 20)
        return 0;
    size_t off = (size_t)(p[12] >> 4) * 4;
    if (off < 20 || off > len)
        return 0;
    out->sport = rd16(p);
    out->dport = rd16(p + 2);
    out->seq = rd32(p + 4);
    out->ack = rd32(p + 8);
    out->flags = p[13];
    out->payload = p + off;
    out->len = len - off;
    return 1;
}

/* |caplen| bytes of an IPv4 packet. */
static int parse_ipv4(const uint8_t *p, size_t caplen, ew_cap_pkt *out) {
    if (caplen < 20 || (p[0] >> 4) != 4)
        return 0;
    size_t ihl = (size_t)(p[0] & 0x0F) * 4;
    size_t total = rd16(p + 2);
    if (ihl < 20 || total < ihl)
        return 0;
    if (total > caplen)
        return 0; /* cut short */
    uint16_t frag = rd16(p + 6);
    if ((frag & 0x2000u) || (frag & 0x1FFFu))
        return 0; /* a fragment */
    if (p[9] != 6)
        return 0;
    out->v6 = 0;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    return parse_tcp(p + ihl, total - ihl, out);
}

static int parse_ipv6(const uint8_t *p, size_t caplen, ew_cap_pkt *out) {
    if (caplen < 40 || (p[0] >> 4) != 6)
        return 0;
    size_t plen = rd16(p + 4);
    if (40 + plen > caplen)
        return 0; /* cut short (or a jumbogram, which TCP here never uses) */
    unsigned next = p[6];
    const uint8_t *q = p + 40;
    size_t left = plen;
    for (;;) {
        if (next == 6)
            break;
        if (next == 0 || next == 43 || next == 60) {
            /* hop-by-hop, routing, destination options: (len + 1) * 8 */
            if (left < 8)
                return 0;
            size_t hl = ((size_t)q[1] + 1) * 8;
            if (hl > left)
                return 0;
            next = q[0];
            q += hl;
            left -= hl;
        } else {
            return 0; /* fragment (44), no next header (59), ESP, others */
        }
    }
    out->v6 = 1;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    return parse_tcp(q, left, out);
}

static int parse_ip(const uint8_t *p, size_t len, ew_cap_pkt *out) {
    if (len < 1)
        return 0;
    if ((p[0] >> 4) == 4)
        return parse_ipv4(p, len, out);
    if ((p[0] >> 4) == 6)
        return parse_ipv6(p, len, out);
    return 0;
}

static int parse_ethertype(unsigned type, const uint8_t *p, size_t len, ew_cap_pkt *out) {
    if (type == ETHERTYPE_IPV4)
        return parse_ipv4(p, len, out);
    if (type == ETHERTYPE_IPV6)
        return parse_ipv6(p, len, out);
    return 0;
}

/* BSD address family values for IPv6: 24 (NetBSD, OpenBSD), 28 (FreeBSD),
 * 30 (macOS); IPv4 is 2 everywhere. */
static int af_is_ipv4(uint32_t af) {
    return af == 2;
}
static int af_is_ipv6(uint32_t af) {
    return af == 24 || af == 28 || af == 30 || af == 10;
}

int ew_cap_parse(int linktype, const uint8_t *p, size_t caplen, ew_cap_pkt *out) {
    switch (linktype) {
    case EW_CAP_LINK_ETHERNET: {
        if (caplen < 14)
            return 0;
        size_t off = 12;
        unsigned type = rd16(p + off);
        off += 2;
        while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) {
            if (caplen < off + 4)
                return 0;
            type = rd16(p + off + 2);
            off += 4;
        }
        return parse_ethertype(type, p + off, caplen - off, out);
    }
    case EW_CAP_LINK_SLL:
        if (caplen < 16)
            return 0;
        return parse_ethertype(rd16(p + 14), p + 16, caplen - 16, out);
    case EW_CAP_LINK_SLL2:
        if (caplen < 20)
            return 0;
        return parse_ethertype(rd16(p), p + 20, caplen - 20, out);
    case EW_CAP_LINK_NULL:
    case EW_CAP_LINK_LOOP: {
        if (caplen < 4)
            return 0;
        /* NULL is in the writer's byte order, LOOP in network order; accept
         * both orders for either. */
        uint32_t be = rd32(p);
        uint32_t le = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
        if (af_is_ipv4(be) || af_is_ipv4(le))
            return parse_ipv4(p + 4, caplen - 4, out);
        if (af_is_ipv6(be) || af_is_ipv6(le))
            return parse_ipv6(p + 4, caplen - 4, out);
        return 0;
    }
    case EW_CAP_LINK_RAW:
        return parse_ip(p, caplen, out);
    case EW_CAP_LINK_IPV4:
        return parse_ipv4(p, caplen, out);
    case EW_CAP_LINK_IPV6:
        return parse_ipv6(p, caplen, out);
    default:
        return EW_ERR_INVAL;
    }
}

void ew_cap_addr_format(int v6, const uint8_t *a, uint16_t port, char *out, size_t cap) {
    if (!v6) {
        snprintf(out, cap, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
        return;
    }
    /* RFC 5952: lower case, the longest run (>= 2) of zero groups as "::". */
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = rd16(a + 2 * i);
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] == 0) {
            int j = i;
            while (j < 8 && g[j] == 0)
                j++;
            if (j - i > best_len && j - i >= 2) {
                best = i;
                best_len = j - i;
            }
            i = j;
        } else {
            i++;
        }
    }
    char buf[48];
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "::");
            i += best_len - 1;
            continue;
        }
        if (n && buf[n - 1] != ':')
            buf[n++] = ':';
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%x", g[i]);
    }
    buf[n] = 0;
    snprintf(out, cap, "[%s]:%u", buf, port);
}
