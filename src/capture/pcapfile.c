/*
 * Reading pcap and pcapng files with libpcap (file or memory, through
 * fmemopen) and feeding every packet to an ew_cap decoder.  Timestamps are
 * read at microsecond precision whatever the file holds.
 */
/* libpcap's headers use the BSD u_int/u_char types. */
#define _DEFAULT_SOURCE 1

#include "capture/cap_int.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* DLT_* value from libpcap -> LINKTYPE_* number, or -1. */
static int link_of_dlt(int dlt) {
    switch (dlt) {
    case DLT_NULL:
        return EW_CAP_LINK_NULL;
    case DLT_EN10MB:
        return EW_CAP_LINK_ETHERNET;
    case DLT_RAW:
    case 101:
        return EW_CAP_LINK_RAW;
    case DLT_LOOP:
        return EW_CAP_LINK_LOOP;
    case DLT_LINUX_SLL:
        return EW_CAP_LINK_SLL;
    case DLT_LINUX_SLL2:
        return EW_CAP_LINK_SLL2;
    case DLT_IPV4:
        return EW_CAP_LINK_IPV4;
    case DLT_IPV6:
        return EW_CAP_LINK_IPV6;
    default:
        return -1;
    }
}

/* Runs the packets of an open file through |c|; closes |fp|. */
static int run(ew_cap *c, FILE *fp, uint64_t total,
               void (*progress)(void *user, uint64_t done, uint64_t total), void *user) {
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!p) {
        fclose(fp);
        /* A file cut inside its header is truncated; an empty file, or one
         * too short to tell its format, is not a capture file. */
        int rc = strstr(err, "truncated") && (total == 0 || total >= 4) ? EW_ERR_TRUNCATED
                                                                        : EW_ERR_PROTO;
        snprintf(c->detail, sizeof c->detail, "%s: %.200s",
                 rc == EW_ERR_TRUNCATED ? "capture file cut short in its header"
                                        : "not a pcap or pcapng file",
                 err);
        return rc;
    }
    int dlt = pcap_datalink(p);
    int lt = link_of_dlt(dlt);
    if (lt < 0) {
        const char *name = pcap_datalink_val_to_name(dlt);
        snprintf(c->detail, sizeof c->detail, "link type %s (%d) is not decoded",
                 name ? name : "unknown", dlt);
        pcap_close(p);
        return EW_ERR_INVAL;
    }
    int rc = EW_OK;
    uint64_t n = 0;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int r = pcap_next_ex(p, &h, &data);
        if (r == -2)
            break;
        if (r == PCAP_ERROR) {
            const char *msg = pcap_geterr(p);
            if (msg && strstr(msg, "truncated")) {
                rc = EW_ERR_TRUNCATED;
                snprintf(c->detail, sizeof c->detail,
                         "capture file cut short in packet %llu: %.200s",
                         (unsigned long long)(n + 1), msg);
            } else {
                rc = EW_ERR_PROTO;
                snprintf(c->detail, sizeof c->detail, "bad capture file at packet %llu: %.200s",
                         (unsigned long long)(n + 1), msg ? msg : "read error");
            }
            break;
        }
        if (r != 1)
            continue;
        n++;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        int prc = ew_cap_packet(c, lt, ts, data, h->caplen, h->len);
        if (prc == EW_ERR_NOMEM) {
            rc = prc;
            break;
        }
        if (progress && (n & 4095) == 0) {
            long pos = ftell(pcap_file(p));
            progress(user, pos > 0 ? (uint64_t)pos : 0, total);
        }
    }
    if (progress && rc == EW_OK)
        progress(user, total, total);
    pcap_close(p);
    if (rc != EW_ERR_NOMEM)
        ew_cap_finish(c);
    return rc;
}

int ew_cap_read_file(ew_cap *c, const char *path,
                     void (*progress)(void *user, uint64_t done, uint64_t total), void *user) {
    if (!c || !path)
        return EW_ERR_INVAL;
    FILE *fp;
    uint64_t total = 0;
    if (!strcmp(path, "-")) {
        fp = stdin; /* size unknown: 0 */
    } else {
        fp = fopen(path, "rb");
        if (!fp) {
            int e = errno;
            snprintf(c->detail, sizeof c->detail, "%.200s: %.100s", path, strerror(e));
            return e == ENOENT ? EW_ERR_NOT_FOUND : EW_ERR_INVAL;
        }
        struct stat sb;
        if (fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode)) {
            total = (uint64_t)sb.st_size;
            if (total == 0) {
                fclose(fp);
                snprintf(c->detail, sizeof c->detail, "not a pcap or pcapng file: %s is empty",
                         path);
                return EW_ERR_PROTO;
            }
        }
    }
    return run(c, fp, total, progress, user);
}

int ew_cap_read_mem(ew_cap *c, const uint8_t *data, size_t len) {
    if (!c || (!data && len))
        return EW_ERR_INVAL;
    if (len == 0) {
        snprintf(c->detail, sizeof c->detail, "not a pcap or pcapng file: empty");
        return EW_ERR_PROTO;
    }
    FILE *fp = fmemopen((void *)(uintptr_t)data, len, "rb");
    if (!fp) {
        snprintf(c->detail, sizeof c->detail, "out of memory");
        return EW_ERR_NOMEM;
    }
    return run(c, fp, len, NULL, NULL);
}
