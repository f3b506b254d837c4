/*
 * energywire capture decoding (library energywire_capture): past RSCP, RCT
 * and EP traffic from tcpdump/Wireshark captures, decoded with the same
 * codecs the live tools use.
 *
 * Two layers:
 *  - ew_cap: a sans-I/O decoder fed one link-layer packet at a time
 *    (Ethernet, Linux cooked SLL/SLL2, BSD loopback/NULL, raw IP; IPv4 and
 *    IPv6).  It reassembles TCP per flow and direction (out-of-order
 *    segments, retransmissions, overlaps, missing segments reported as gaps,
 *    flows that start mid-stream), detects the protocol by port (5033/5034
 *    RSCP, 8899 RCT, 56540 EP, overridable) confirmed by frame magic, and
 *    decodes: RSCP decrypted with the key, both IV chains followed from the
 *    first segment of the connection; RCT frames with CRC status and
 *    request/response matching; EP frames in plaintext, or TLS 1.3 records
 *    decrypted with an NSS key log.  Results come out as records through a
 *    callback, in capture order.
 *  - ew_cap_read_file(): reads a pcap or pcapng file with libpcap and feeds
 *    the decoder.
 *
 * The decoder allocates (flow table, reassembly buffers) within the limits
 * in its options; it never touches sockets, clocks or stdout.
 */
#ifndef ENERGYWIRE_CAPTURE_H
#define ENERGYWIRE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/ew.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ew_cap_proto {
    EW_CAP_PROTO_NONE = 0, /* not one of ours: the flow is counted, not decoded */
    EW_CAP_PROTO_RSCP = 1,
    EW_CAP_PROTO_RCT = 2,
    EW_CAP_PROTO_EP = 3
} ew_cap_proto;

/* "rscp", "rct", "ep" or "none". */
EW_API const char *ew_cap_proto_name(ew_cap_proto p);
/* Parses "rscp", "rct", "ep" (any case).  Returns the protocol or -1. */
EW_API int ew_cap_proto_parse(const char *name);

/* Directions: the device is the side on the protocol's port (the TCP
 * server); when both or neither are, the side that sent the SYN is the
 * client, and failing that the lower port is the device. */
#define EW_CAP_TO_DEVICE 0   /* client -> device */
#define EW_CAP_FROM_DEVICE 1 /* device -> client */
#define EW_CAP_BOTH (-1)     /* a record about the whole connection (TLS summary) */

/* Link types (the pcap LINKTYPE_* numbers). */
#define EW_CAP_LINK_NULL 0
#define EW_CAP_LINK_ETHERNET 1
#define EW_CAP_LINK_RAW 101
#define EW_CAP_LINK_LOOP 108
#define EW_CAP_LINK_SLL 113
#define EW_CAP_LINK_IPV4 228
#define EW_CAP_LINK_IPV6 229
#define EW_CAP_LINK_SLL2 276

typedef struct ew_cap_flow {
    uint64_t id; /* 1, 2, ... in order of first packet */
    ew_cap_proto proto;
    char client[64]; /* "a.b.c.d:port" or "[v6]:port" */
    char device[64];
    int saw_syn; /* the capture holds the connection's start */
    int tls;     /* EP: TLS records seen */
    /* Per direction (EW_CAP_TO_DEVICE, EW_CAP_FROM_DEVICE). */
    uint64_t bytes[2]; /* stream bytes delivered in order */
    uint64_t frames[2];
    uint64_t gaps[2], gap_bytes[2];
    uint64_t errors[2];
} ew_cap_flow;

typedef enum ew_cap_rec_type {
    /* A flow's first packet, once its protocol is known. */
    EW_CAP_REC_FLOW = 1,
    /* A decoded frame: |frame| is its plaintext bytes (RSCP: the decrypted
     * frame without padding; RCT: the raw frame with escapes removed; EP:
     * the frame from the magic to the payload end). */
    EW_CAP_REC_FRAME = 2,
    /* Missing stream bytes: |gap_bytes| at |stream_off|; decoding resumes
     * at the next frame start: RCT and plaintext EP resynchronise on their
     * start bytes; RSCP realigns on the CBC chain (a frame whose previous
     * ciphertext block arrived and that decrypts to an RSCP header: the
     * frames touching the gap and the one right after it are lost); EP
     * inside TLS stops in that direction (an ERROR says so). */
    EW_CAP_REC_GAP = 3,
    /* Something that could not be decoded: |err|, |detail|.  The codes:
     * EW_ERR_NOT_FOUND  RSCP without a key (once per flow);
     * EW_ERR_DECRYPT    wrong RSCP key or not RSCP (once per direction), a
     *                   decrypted frame header that makes no sense later on
     *                   (the decoder realigns), TLS decryption stopped;
     * EW_ERR_STATE      the capture starts mid-connection (RSCP: the IV chain
     *                   cannot be followed from the start, decoding resumes at
     *                   the first frame that can be realigned; EP: inside TLS);
     * EW_ERR_CRC        a frame's CRC (its FRAME record comes first, ok = 0);
     * EW_ERR_TIMEOUT    an RCT request no response matched (rct_flags
     *                   UNANSWERED, rct_request_ts_us = the request's time);
     * EW_ERR_PROTO      no frame of the protocol in a direction's first 4096
     *                   bytes (not what the port suggests?);
     * EW_ERR_TRUNCATED  a direction ends inside an RSCP frame;
     * others            a broken RCT or EP frame, as the codec reports it. */
    EW_CAP_REC_ERROR = 4,
    /* A TLS handshake summary or state note (|detail|: version, SNI,
     * cipher suite, certificate subject; or why decryption stops). */
    EW_CAP_REC_TLS = 5,
    /* The flow ended (FIN/RST seen or end of capture): counters final. */
    EW_CAP_REC_FLOW_END = 6
} ew_cap_rec_type;

/* RCT frame flags in ew_cap_record.rct_flags. */
/* The CRC does not match. */
#define EW_CAP_RCT_CRC_BAD 0x1u
/* The payload is shorter than the object's type needs, under a valid CRC
 * (rct.md §15, interrupted responses). */
#define EW_CAP_RCT_TRUNCATED 0x2u
/* A request no response matched: set on an ERROR record, emitted at the
 * next request for the same object or at the end of the flow. */
#define EW_CAP_RCT_UNANSWERED 0x4u
/* A response without an earlier request for its object. */
#define EW_CAP_RCT_UNSOLICITED 0x8u

typedef struct ew_cap_record {
    ew_cap_rec_type type;
    const ew_cap_flow *flow;
    int dir;             /* EW_CAP_TO_DEVICE, EW_CAP_FROM_DEVICE or EW_CAP_BOTH */
    uint64_t ts_us;      /* capture time of the packet that completed it */
    uint64_t stream_off; /* offset of its first byte in the direction's stream */
    ew_bytes frame;      /* FRAME: valid during the callback */
    /* FRAME: 1 when the frame decoded cleanly (RSCP: magic, length, CRC;
     * RCT: CRC; EP: always, broken EP frames are ERROR records). */
    int ok;
    /* FRAME, RCT: EW_CAP_RCT_* flags; for a response, the matched request's
     * capture time (0 when none). */
    unsigned rct_flags;
    uint64_t rct_request_ts_us;
    uint64_t gap_bytes; /* GAP */
    int err;            /* ERROR: an ew_err code */
    const char *detail; /* ERROR, TLS: a sentence, valid during the callback */
} ew_cap_record;

typedef struct ew_cap_port_map {
    uint16_t port;
    ew_cap_proto proto;
} ew_cap_port_map;

#define EW_CAP_MAX_PORT_MAP 16

typedef struct ew_cap_opts {
    /* RSCP key (the text set in the device, 1..32 bytes); NULL = none: RSCP
     * flows are reported as encrypted and not decoded. */
    const char *rscp_key;
    /* NSS key log text (SSLKEYLOGFILE format), |keylog_len| bytes; NULL =
     * none: EP over TLS gets a handshake summary only. */
    const char *keylog;
    size_t keylog_len;
    /* Extra or changed port assignments (--proto PORT=NAME), checked before
     * the defaults. */
    ew_cap_port_map ports[EW_CAP_MAX_PORT_MAP];
    size_t n_ports;
    /* Flow filter: 0 = all protocols, else a bit mask (1u << ew_cap_proto). */
    unsigned proto_mask;
    /* Limits: flows tracked at once (default 4096; a new flow beyond it
     * ends the flow idle the longest), bytes held out of order per
     * direction (default 1 MiB; beyond it the hole becomes a gap).  Each
     * decoded direction also allocates a receive buffer of about 64 KiB
     * with its first data. */
    size_t max_flows;
    size_t max_ooo_bytes;
    /* Records (see ew_cap_record).  Called from ew_cap_packet() and
     * ew_cap_finish(). */
    void (*on_record)(void *user, const ew_cap_record *r);
    void *user;
} ew_cap_opts;

EW_API void ew_cap_opts_init(ew_cap_opts *o);

typedef struct ew_cap ew_cap;

/*
 * Creates a decoder.  Returns `EW_OK`, `EW_ERR_INVAL` (a key longer than 32
 * bytes, a key log with no usable line; |detail| says which), or
 * `EW_ERR_NOMEM`.
 */
EW_API int ew_cap_new(ew_cap **c, const ew_cap_opts *o, char *detail, size_t detail_cap);
EW_API void ew_cap_del(ew_cap *c);

/*
 * Feeds one captured packet of link type |linktype| (EW_CAP_LINK_*), at
 * |ts_us|, |caplen| bytes captured of |origlen|.  Packets that are not TCP
 * over IPv4/IPv6, or are cut short, are counted and skipped.  Returns
 * `EW_OK`, `EW_ERR_NOMEM` or `EW_ERR_INVAL` (an unsupported link type;
 * detail in ew_cap_error_detail()).
 */
EW_API int ew_cap_packet(ew_cap *c, int linktype, uint64_t ts_us, const uint8_t *data,
                         size_t caplen, size_t origlen);

/* End of capture: flushes what reassembly still holds (reporting holes as
 * gaps) and emits FLOW_END for every open flow. */
EW_API void ew_cap_finish(ew_cap *c);

EW_API const char *ew_cap_error_detail(const ew_cap *c);

typedef struct ew_cap_stats {
    uint64_t packets, bytes;    /* link-layer packets and captured bytes */
    uint64_t skipped;           /* not TCP/IP, cut short, other link types */
    uint64_t flows;             /* flows seen */
    uint64_t flows_by_proto[4]; /* index ew_cap_proto */
    uint64_t frames_by_proto[4];
    uint64_t gaps, gap_bytes;
    uint64_t retransmitted, out_of_order;
    /* Errors by kind: index = -err for the ew_err codes above -64
     * (EW_ERR_NEED_MORE .. EW_ERR_TRUNCATED); |errors| is the total. */
    uint64_t errors;
    uint64_t errors_by_code[64];
} ew_cap_stats;

EW_API void ew_cap_get_stats(const ew_cap *c, ew_cap_stats *st);

/*
 * Reads the pcap or pcapng file |path| ("-" = standard input) with libpcap
 * and feeds every packet to |c|, then calls ew_cap_finish().  |progress|
 * (may be NULL) is called now and then with bytes read and the file size (0
 * when unknown).  A file cut short is an error (`EW_ERR_TRUNCATED`, detail
 * names the packet) after every complete packet before it was decoded.
 * Returns `EW_OK`, `EW_ERR_TRUNCATED`, `EW_ERR_NOT_FOUND` (no such file),
 * `EW_ERR_PROTO` (not a capture file), `EW_ERR_INVAL` (a link type we do not
 * decode), `EW_ERR_NOMEM`.
 */
EW_API int ew_cap_read_file(ew_cap *c, const char *path,
                            void (*progress)(void *user, uint64_t done, uint64_t total),
                            void *user);

/* The same from memory (|len| bytes of a pcap or pcapng file). */
EW_API int ew_cap_read_mem(ew_cap *c, const uint8_t *data, size_t len);

/* ---- writing captures (for tests, benchmarks and recording) ------------- */

/*
 * Writes a synthetic capture of TCP conversations: link-layer framing
 * (Ethernet, or none for EW_CAP_LINK_RAW), IPv4 or IPv6 headers, TCP headers
 * with real sequence numbers, the handshake, segmentation into |mss|-sized
 * segments and FIN, into pcap or pcapng.  The writer grows its own buffer.
 * The client's initial sequence number of flow n is 0xFFFFF000 + 0x100 n,
 * so conversations longer than a few KiB cross the 32-bit wrap.  IPv4
 * header checksums are set, TCP checksums are 0.
 */
typedef struct ew_cap_writer ew_cap_writer;

typedef struct ew_cap_writer_opts {
    int pcapng;   /* 0 = pcap (microseconds), 1 = pcapng */
    int linktype; /* EW_CAP_LINK_ETHERNET (default) or EW_CAP_LINK_RAW */
} ew_cap_writer_opts;

EW_API int ew_cap_writer_new(ew_cap_writer **w, const ew_cap_writer_opts *o);
EW_API void ew_cap_writer_del(ew_cap_writer *w);

/* A TCP conversation between |client| and |device| ("1.2.3.4:5678",
 * "[::1]:5033"): returns its id (>= 0) or a negative ew_err. */
EW_API int ew_cap_writer_flow(ew_cap_writer *w, const char *client, const char *device);

/* Writes the SYN, SYN-ACK, ACK of flow |f| at |ts_us|. */
EW_API int ew_cap_writer_open(ew_cap_writer *w, int f, uint64_t ts_us);

/* Writes |len| bytes sent in direction |dir| as segments of at most |mss|
 * bytes (0 = 1460), the first at |ts_us| and each next one 1 us later.
 * |flags| may ask for faults: EW_CAP_W_REORDER swaps neighbouring segments,
 * EW_CAP_W_RETRANSMIT sends every segment twice, EW_CAP_W_OVERLAP resends
 * half of each segment's predecessor with it, EW_CAP_W_DROP leaves out the
 * second segment (the one holding byte |mss|: a gap). */
#define EW_CAP_W_REORDER 0x1u
#define EW_CAP_W_RETRANSMIT 0x2u
#define EW_CAP_W_OVERLAP 0x4u
#define EW_CAP_W_DROP 0x8u
EW_API int ew_cap_writer_send(ew_cap_writer *w, int f, int dir, uint64_t ts_us, const uint8_t *data,
                              size_t len, size_t mss, unsigned flags);

/* Writes FIN both ways for flow |f|. */
EW_API int ew_cap_writer_close(ew_cap_writer *w, int f, uint64_t ts_us);

/* The capture file so far (valid until the next call). */
EW_API ew_bytes ew_cap_writer_data(const ew_cap_writer *w);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_CAPTURE_H */
