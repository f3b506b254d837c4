/*
 * RCT simulator core: plant model and request handler (sans-I/O).
 *
 * Device behaviour follows rct.md: answers are RESPONSE frames (LONG_RESPONSE
 * for timeseries and event tables, §8); unknown ids, plant frames, answers
 * and frames with a wrong CRC get no reply (§1 "a device that does not like
 * a request may stay silent", §12); READ_PERIODICALLY is answered once, at
 * once (§3.3).  Unlike rctclient's simulator (§12, Q15) several frames in one
 * segment are all answered.
 */
#include <energywire/rct_sim.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIM_OUT_CAP 8192
#define WRITE_MAX 256

/* The objects the plant model drives (data/rct_oids.csv). */
#define OID_SOC 0x959930BFu
#define OID_PV_A 0xB5317B78u
#define OID_PV_B 0xAA9AA253u
#define OID_GRID 0x91617C58u
#define OID_LOAD 0x1AC87AA0u
#define OID_BAT 0x400F015Bu
#define OID_SOC_TARGET 0x8B9FF008u

typedef struct sim_write {
    uint32_t id;
    uint16_t len;
    uint8_t data[WRITE_MAX];
} sim_write;

struct ew_rct_sim_peer {
    ew_rct_sim *sim;
    ew_rct_sim_peer *next;
    ew_rct_rx rx;
    uint8_t *rxbuf;
    uint8_t *out;
    size_t out_off, out_len, last_start;
    unsigned long requests;
};

struct ew_rct_sim {
    ew_mem mem;
    ew_rct_sim_opts o;
    int64_t t;
    double soc, pv_w, load_w, grid_w, bat_w;
    sim_write *writes;
    unsigned nwrites;
    ew_rct_sim_peer *peers;
};

static void *std_malloc(size_t n, void *user) {
    (void)user;
    return malloc(n);
}

static void *std_realloc(void *p, size_t n, void *user) {
    (void)user;
    return realloc(p, n);
}

static void std_free(void *p, void *user) {
    (void)user;
    free(p);
}

/* splitmix64: the model's only source of "randomness", keyed by the seed. */
static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static double unit_noise(uint64_t seed, uint64_t key) {
    return (double)(mix(seed ^ mix(key)) >> 11) / 9007199254740992.0;
}

void ew_rct_sim_opts_init(ew_rct_sim_opts *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->start_time = 1782000000;
    o->pv_peak_w = 8000;
    o->battery_wh = 10000;
    o->battery_max_w = 5000;
    o->load_base_w = 350;
    o->soc_start = 0.5;
    o->max_writes = 64;
}

/* ---- plant model ------------------------------------------------------------- */

/* PV by time of day (UTC taken as local time, rct.md §8.1), a half sine from
 * 06:00 to 18:00 with a cloud factor per quarter hour. */
static double pv_at(const ew_rct_sim *s, int64_t t) {
    double h = (double)(((t % 86400) + 86400) % 86400) / 3600.0;
    if (h <= 6.0 || h >= 18.0)
        return 0.0;
    double sun = sin(3.14159265358979323846 * (h - 6.0) / 12.0);
    double cloud = 0.6 + 0.4 * unit_noise(s->o.seed, (uint64_t)(t / 900) * 2u);
    return s->o.pv_peak_w * sun * cloud;
}

static double load_at(const ew_rct_sim *s, int64_t t) {
    double h = (double)(((t % 86400) + 86400) % 86400) / 3600.0;
    double w = s->o.load_base_w + 300.0 * unit_noise(s->o.seed, (uint64_t)(t / 300) * 2u + 1u);
    if (h >= 18.0 && h < 22.0)
        w += 800.0;
    return w;
}

/* Computes the flows at time |t| from the current state of charge. */
static void flows(ew_rct_sim *s, int64_t t) {
    s->pv_w = pv_at(s, t);
    s->load_w = load_at(s, t);
    double bat = s->load_w - s->pv_w; /* > 0: the battery should discharge */
    if (bat > s->o.battery_max_w)
        bat = s->o.battery_max_w;
    if (bat < -s->o.battery_max_w)
        bat = -s->o.battery_max_w;
    if ((bat > 0 && s->soc <= 0.05) || (bat < 0 && s->soc >= 1.0))
        bat = 0;
    s->bat_w = bat;
    s->grid_w = s->load_w - s->pv_w - s->bat_w;
}

void ew_rct_sim_step(ew_rct_sim *s, int64_t t) {
    if (!s)
        return;
    while (s->t < t) {
        int64_t dt = t - s->t > 60 ? 60 : t - s->t;
        flows(s, s->t);
        s->soc -= s->bat_w * (double)dt / 3600.0 / s->o.battery_wh;
        if (s->soc < 0)
            s->soc = 0;
        if (s->soc > 1)
            s->soc = 1;
        s->t += dt;
    }
    flows(s, s->t);
}

void ew_rct_sim_get_state(const ew_rct_sim *s, ew_rct_sim_state *st) {
    if (!s || !st)
        return;
    st->time = s->t;
    st->soc = s->soc;
    st->pv_w = s->pv_w;
    st->load_w = s->load_w;
    st->grid_w = s->grid_w;
    st->battery_w = s->bat_w;
}

int ew_rct_sim_new(ew_rct_sim **sp, const ew_rct_sim_opts *o, const ew_mem *mem) {
    ew_rct_sim_opts def;
    if (!sp)
        return EW_ERR_INVAL;
    *sp = NULL;
    if (!o) {
        ew_rct_sim_opts_init(&def);
        o = &def;
    }
    if (!(o->battery_wh > 0) || o->soc_start < 0 || o->soc_start > 1 || o->pv_peak_w < 0 ||
        o->battery_max_w < 0 || o->max_writes > 65536)
        return EW_ERR_INVAL;
    ew_mem m = {std_malloc, std_realloc, std_free, NULL};
    if (mem && mem->malloc_fn && mem->free_fn)
        m = *mem;
    ew_rct_sim *s = m.malloc_fn(sizeof *s, m.user);
    if (!s)
        return EW_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->mem = m;
    s->o = *o;
    s->t = o->start_time;
    s->soc = o->soc_start;
    if (o->max_writes) {
        s->writes = m.malloc_fn(o->max_writes * sizeof *s->writes, m.user);
        if (!s->writes) {
            m.free_fn(s, m.user);
            return EW_ERR_NOMEM;
        }
    }
    flows(s, s->t);
    *sp = s;
    return EW_OK;
}

void ew_rct_sim_del(ew_rct_sim *s) {
    if (!s)
        return;
    while (s->peers)
        ew_rct_sim_peer_del(s->peers);
    if (s->writes)
        s->mem.free_fn(s->writes, s->mem.user);
    s->mem.free_fn(s, s->mem.user);
}

/* ---- values ------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t fbits(double v) {
    float f = (float)v;
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static int is_model_oid(uint32_t id) {
    return id == OID_SOC || id == OID_PV_A || id == OID_PV_B || id == OID_GRID || id == OID_LOAD ||
           id == OID_BAT;
}

static double model_value(const ew_rct_sim *s, uint32_t id) {
    switch (id) {
    case OID_SOC:
        return s->soc;
    case OID_PV_A:
        return s->pv_w * 0.6;
    case OID_PV_B:
        return s->pv_w * 0.4;
    case OID_GRID:
        return s->grid_w;
    case OID_LOAD:
        return s->load_w;
    default:
        return s->bat_w;
    }
}

/* A plausible float for an object from its unit (rct.md §16 registry). */
static double float_for(const ew_rct_sim *s, const ew_rct_object *ob) {
    double r = unit_noise(s->o.seed, ob->id);
    const char *u = ob->unit;
    if (ob->id == OID_SOC_TARGET)
        return 0.97;
    if (!strcmp(u, "W"))
        return 50.0 + 500.0 * r;
    if (!strcmp(u, "V"))
        return 225.0 + 10.0 * r;
    if (!strcmp(u, "Hz"))
        return 49.98 + 0.04 * r;
    if (!strcmp(u, "A"))
        return 10.0 * r;
    if (!strcmp(u, "%"))
        return r; /* fractions, as battery.soc */
    if (!strcmp(u, "°C"))
        return 20.0 + 15.0 * r;
    if (!strcmp(u, "Wh"))
        return 1.0e6 * r;
    return 100.0 * r;
}

/* Fills a fixed-size battery composite (rct.md §9) with plausible data. */
static size_t battery_payload(int type, uint8_t *p) {
    memset(p, 0, EW_RCT_BAT_STATUS_SIZE);
    if (type == EW_RCT_TYPE_BATTERY_MODULE_STATISTICS) {
        static const float v[4] = {3.28f, 3.34f, 21.0f, 27.5f};
        for (int k = 0; k < 4; k++) {
            uint8_t *e = p + 12 * k;
            uint32_t b;
            memcpy(&b, &v[k], 4);
            e[0] = (uint8_t)(k * 5); /* LE cell index */
            for (int j = 0; j < 4; j++)
                e[8 + j] = (uint8_t)(b >> (8 * j));
        }
        return EW_RCT_BAT_STATS_SIZE;
    }
    for (int k = 0; k < EW_RCT_BAT_CELLS; k++) {
        uint8_t *e = p + 4 * k;
        if (type == EW_RCT_TYPE_BATTERY_MODULE_STATUS) {
            unsigned mv = 3300u + (unsigned)k;
            e[0] = 24;
            e[1] = (uint8_t)mv;
            e[2] = (uint8_t)(mv >> 8);
        } else {
            unsigned raw = 256u * 2u + (unsigned)k; /* about 2 mOhm */
            e[0] = (uint8_t)(raw >> 8);
            e[1] = (uint8_t)raw;
        }
    }
    return EW_RCT_BAT_STATUS_SIZE;
}

/* Sample spacing of a timeseries object, from its name (rct.md §8.1). */
static int64_t ts_step(const char *name) {
    if (strstr(name, "minutes"))
        return 300;
    if (strstr(name, "day"))
        return 86400;
    if (strstr(name, "month"))
        return 30 * 86400;
    return 365 * 86400;
}

/* Timeseries answer: T, then up to 24 samples taken before T, oldest first. */
static size_t timeseries_payload(const ew_rct_sim *s, const ew_rct_object *ob, uint32_t t,
                                 uint8_t *p) {
    int64_t step = ts_step(ob->name);
    int soc = strstr(ob->name, "soc") != NULL;
    put32(p, t);
    size_t n = 0;
    int64_t last = t ? ((int64_t)t - 1) / step * step : -1;
    int64_t first = last - 23 * step;
    if (first < 946771199)
        first = last - (last - 946771199) / step * step; /* the series ends in 2000 (§8.1) */
    for (int64_t ts = first; ts <= last && last >= 0; ts += step, n++) {
        double v = soc ? 0.5 + 0.4 * sin((double)ts / 43200.0 * 3.14159265358979323846)
                       : pv_at(s, ts) * (double)step / 3600.0;
        put32(p + 4 + 8 * n, (uint32_t)ts);
        put32(p + 8 + 8 * n, fbits(v));
    }
    return 4 + 8 * n;
}

/* Event table answer: T, then up to 10 entries older than T, newest first.
 * One synthetic event every 2.5 days, its type taken from rct.md §8.2. */
static size_t events_payload(const ew_rct_sim *s, uint32_t t, uint8_t *p) {
    static const uint8_t types[] = {0x5a, 0x4f, 0x76, 0x73, 0x77, 0x64};
    const int64_t period = 216000;
    put32(p, t);
    size_t n = 0;
    for (int64_t k = (int64_t)t / period; k >= 0 && n < 10; k--) {
        uint64_t h = mix(s->o.seed ^ (uint64_t)k);
        int64_t ts = k * period + (int64_t)(h % 3600u);
        if (ts >= (int64_t)t)
            continue;
        uint8_t *e = p + 4 + 20 * n++;
        uint8_t ty = types[h % sizeof types];
        put32(e, ty);
        put32(e + 4, (uint32_t)ts);
        if (ty == 0x73) { /* PRM_CHANGE: oid, old, new */
            put32(e + 8, OID_SOC_TARGET);
            put32(e + 12, fbits(0.9));
            put32(e + 16, fbits(0.97));
        } else if (ty == 0x77) { /* UPDATE: 0, old, new version */
            put32(e + 8, 0);
            put32(e + 12, 0x0500u);
            put32(e + 16, 0x0501u);
        } else {
            put32(e + 8, (uint32_t)(ts + 60 + (int64_t)((h >> 20) % 600u)));
            put32(e + 12, ty == 0x64 ? fbits(58.5) : (uint32_t)((h >> 40) % 16u));
            put32(e + 16, 0);
        }
    }
    return 4 + 20 * n;
}

static sim_write *find_write(ew_rct_sim *s, uint32_t id) {
    for (unsigned i = 0; i < s->nwrites; i++)
        if (s->writes[i].id == id)
            return &s->writes[i];
    return NULL;
}

/* The current value of a registry object, by its response type. */
static size_t read_payload(ew_rct_sim *s, const ew_rct_object *ob, uint8_t *p) {
    size_t n = 0;
    int type = ob->response_type;
    sim_write *w = find_write(s, ob->id);
    if (w) {
        memcpy(p, w->data, w->len);
        return w->len;
    }
    if (is_model_oid(ob->id)) {
        ew_rct_value_encode_double(EW_RCT_TYPE_FLOAT, model_value(s, ob->id), p, 4, &n);
        return n;
    }
    uint64_t r = mix(s->o.seed ^ ob->id);
    switch (type) {
    case EW_RCT_TYPE_BOOL:
        p[0] = (uint8_t)(r & 1u);
        return 1;
    case EW_RCT_TYPE_UINT8:
    case EW_RCT_TYPE_INT8:
        p[0] = (uint8_t)(r % 100u);
        return 1;
    case EW_RCT_TYPE_ENUM:
        p[0] = (uint8_t)(r % 4u);
        return 1;
    case EW_RCT_TYPE_UINT16:
    case EW_RCT_TYPE_INT16:
        p[0] = 0;
        p[1] = (uint8_t)(r % 200u);
        return 2;
    case EW_RCT_TYPE_UINT32:
    case EW_RCT_TYPE_INT32:
        put32(p, (uint32_t)(r % 100000u));
        return 4;
    case EW_RCT_TYPE_FLOAT:
        put32(p, fbits(float_for(s, ob)));
        return 4;
    case EW_RCT_TYPE_STRING:
        if (ob->sim_data[0]) {
            n = strlen(ob->sim_data);
            memcpy(p, ob->sim_data, n);
            return n;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            memcpy(p, "EW-", 3);
            for (int k = 0; k < 8; k++)
                p[3 + k] = (uint8_t)hex[(ob->id >> (28 - 4 * k)) & 15u];
            return 11;
        }
    case EW_RCT_TYPE_TIMESERIES:
        return timeseries_payload(s, ob, (uint32_t)s->t, p);
    case EW_RCT_TYPE_EVENT_TABLE:
        return events_payload(s, (uint32_t)s->t, p);
    case EW_RCT_TYPE_BATTERY_MODULE_STATUS:
    case EW_RCT_TYPE_BATTERY_MODULE_STATISTICS:
    case EW_RCT_TYPE_BATTERY_MODULE_RESISTANCE:
        return battery_payload(type, p);
    default: /* UNKNOWN: four raw bytes */
        memset(p, 0, 4);
        return 4;
    }
}

/* ---- answers ------------------------------------------------------------------ */

/* A frame with a deliberately wrong CRC (rct.md §15 "valid data with a wrong
 * CRC"): the codec's builder only writes good ones. */
static int encode_bad_crc(uint8_t *out, size_t cap, unsigned cmd, uint32_t id, const uint8_t *pl,
                          size_t len, size_t *written) {
    uint8_t body[8 + 512];
    size_t n = 0, o = 0;
    int lng = (ew_rct_cmd_flags(cmd) & EW_RCT_CMDF_LONG) != 0;
    body[n++] = (uint8_t)cmd;
    if (lng)
        body[n++] = (uint8_t)((len + 4) >> 8);
    body[n++] = (uint8_t)(len + 4);
    put32(body + n, id);
    n += 4;
    memcpy(body + n, pl, len);
    n += len;
    uint16_t crc = (uint16_t)(ew_rct_crc16(body, n) ^ 0x5A5Au);
    body[n++] = (uint8_t)(crc >> 8);
    body[n++] = (uint8_t)crc;
    *written = 0;
    if (cap < 1 + 2 * n)
        return EW_ERR_NOBUF;
    out[o++] = EW_RCT_START;
    for (size_t i = 0; i < n; i++) {
        if (body[i] == EW_RCT_START || body[i] == EW_RCT_ESCAPE)
            out[o++] = EW_RCT_ESCAPE;
        out[o++] = body[i];
    }
    *written = o;
    return EW_OK;
}

int ew_rct_sim_handle(ew_rct_sim *s, const ew_rct_frame *req, unsigned faults, uint8_t *out,
                      size_t cap, size_t *written) {
    uint8_t pl[512];
    size_t n = 0;
    unsigned cmd = EW_RCT_CMD_RESPONSE;
    if (!s || !req || !written || (!out && cap))
        return EW_ERR_INVAL;
    *written = 0;
    unsigned fl = ew_rct_cmd_flags(req->command);
    /* Silence (rct.md §1, §12): broken frames, answers, plant frames (this
     * device is no plant leader), unknown ids. */
    if (!req->crc_ok || !fl || (fl & (EW_RCT_CMDF_RESPONSE | EW_RCT_CMDF_PLANT)))
        return EW_OK;
    const ew_rct_object *ob = ew_rct_object_by_id(req->id);
    if (!ob)
        return EW_OK;
    if (fl & EW_RCT_CMDF_WRITE) {
        const uint8_t *p = req->payload.ptr;
        size_t len = req->payload.len;
        if (ob->response_type == EW_RCT_TYPE_TIMESERIES ||
            ob->response_type == EW_RCT_TYPE_EVENT_TABLE) {
            /* §8: WRITE(oid, INT32 T) asks for the records before T. */
            if (len != 4)
                return EW_OK;
            uint32_t t = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            n = ob->response_type == EW_RCT_TYPE_TIMESERIES ? timeseries_payload(s, ob, t, pl)
                                                            : events_payload(s, t, pl);
            cmd = EW_RCT_CMD_LONG_RESPONSE;
        } else {
            ew_rct_value v;
            /* §15: no bounds checking, but a payload that is not a value
             * of the object's type is not taken: silence (§1). */
            if (ew_rct_value_decode(ob->request_type, p, len, &v, NULL) != EW_OK || len > WRITE_MAX)
                return EW_OK;
            /* Measurements are the model's: a write is answered with the
             * current value and overwritten at once (values are volatile,
             * §10). */
            if (!is_model_oid(ob->id)) {
                sim_write *w = find_write(s, ob->id);
                if (!w && s->nwrites < s->o.max_writes)
                    w = &s->writes[s->nwrites++];
                if (w) {
                    w->id = ob->id;
                    w->len = (uint16_t)len;
                    memcpy(w->data, p, len);
                }
            }
            n = read_payload(s, ob, pl);
        }
    } else {
        n = read_payload(s, ob, pl);
        if (ob->response_type == EW_RCT_TYPE_TIMESERIES ||
            ob->response_type == EW_RCT_TYPE_EVENT_TABLE || n > EW_RCT_SHORT_PAYLOAD_MAX)
            cmd = EW_RCT_CMD_LONG_RESPONSE;
    }
    if (faults & EW_RCT_SIM_FAULT_DROP)
        return EW_OK;
    if (faults & EW_RCT_SIM_FAULT_TRUNCATE)
        n /= 2; /* §15: cut, CRC computed over the cut payload */
    int rc;
    if (faults & EW_RCT_SIM_FAULT_BAD_CRC)
        rc = encode_bad_crc(out, cap, cmd, req->id, pl, n, written);
    else
        rc = ew_rct_frame_encode(out, cap, cmd, 0, req->id, pl, n, written);
    if (rc != EW_OK)
        return rc;
    if (faults & EW_RCT_SIM_FAULT_INTERRUPT)
        *written /= 2; /* cut mid-frame; the rest is never sent */
    return EW_OK;
}

/* ---- peers --------------------------------------------------------------------- */

int ew_rct_sim_peer_new(ew_rct_sim *s, ew_rct_sim_peer **pp) {
    if (!s || !pp)
        return EW_ERR_INVAL;
    *pp = NULL;
    ew_rct_sim_peer *p = s->mem.malloc_fn(sizeof *p, s->mem.user);
    if (!p)
        return EW_ERR_NOMEM;
    memset(p, 0, sizeof *p);
    p->sim = s;
    /* Requests are small: a 1 KiB receive buffer refuses oversized frames. */
    p->rxbuf = s->mem.malloc_fn(1024, s->mem.user);
    p->out = s->mem.malloc_fn(SIM_OUT_CAP, s->mem.user);
    if (!p->rxbuf || !p->out) {
        if (p->rxbuf)
            s->mem.free_fn(p->rxbuf, s->mem.user);
        if (p->out)
            s->mem.free_fn(p->out, s->mem.user);
        s->mem.free_fn(p, s->mem.user);
        return EW_ERR_NOMEM;
    }
    ew_rct_rx_init(&p->rx, p->rxbuf, 1024);
    p->next = s->peers;
    s->peers = p;
    *pp = p;
    return EW_OK;
}

void ew_rct_sim_peer_del(ew_rct_sim_peer *p) {
    if (!p)
        return;
    ew_rct_sim *s = p->sim;
    for (ew_rct_sim_peer **pp = &s->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    s->mem.free_fn(p->rxbuf, s->mem.user);
    s->mem.free_fn(p->out, s->mem.user);
    s->mem.free_fn(p, s->mem.user);
}

/* rct.md §15: a request that arrives while the device is still sending
 * another client's answer cuts that answer off mid-frame. */
static void interrupt_others(ew_rct_sim_peer *p) {
    for (ew_rct_sim_peer *q = p->sim->peers; q; q = q->next) {
        if (q == p || q->out_len == q->out_off)
            continue;
        size_t start = q->last_start > q->out_off ? q->last_start : q->out_off;
        size_t cut = start + (q->out_len - start) / 2;
        q->out_len = cut > q->out_off ? cut : q->out_off + 1;
        if (q->out_len > q->last_start)
            q->last_start = q->out_len;
    }
}

size_t ew_rct_sim_peer_recv(ew_rct_sim_peer *p, const uint8_t *in, size_t len, unsigned faults) {
    size_t pos = 0;
    if (!p || !in)
        return 0;
    while (pos < len) {
        /* Room for the largest answer, or stop consuming until sent. */
        if (p->out_off == p->out_len)
            p->out_off = p->out_len = p->last_start = 0;
        if (SIM_OUT_CAP - p->out_len < 1200) {
            if (!p->out_off)
                break;
            memmove(p->out, p->out + p->out_off, p->out_len - p->out_off);
            p->out_len -= p->out_off;
            p->last_start = p->last_start > p->out_off ? p->last_start - p->out_off : 0;
            p->out_off = 0;
            if (SIM_OUT_CAP - p->out_len < 1200)
                break;
        }
        size_t n, w = 0;
        ew_rct_frame f;
        int rc = ew_rct_rx_feed(&p->rx, in + pos, len - pos, &n, &f, NULL);
        pos += n;
        if (rc == EW_ERR_NEED_MORE)
            break;
        if (rc != EW_OK)
            continue; /* §12: a broken frame is discarded, the rest goes on */
        if (p->sim->o.interrupt_on_second_client)
            interrupt_others(p);
        p->requests++;
        if (ew_rct_sim_handle(p->sim, &f, faults, p->out + p->out_len, SIM_OUT_CAP - p->out_len,
                              &w) == EW_OK &&
            w) {
            p->last_start = p->out_len;
            p->out_len += w;
        }
    }
    return pos;
}

size_t ew_rct_sim_peer_send_data(ew_rct_sim_peer *p, const uint8_t **out) {
    if (!p || !out)
        return 0;
    *out = p->out + p->out_off;
    return p->out_len - p->out_off;
}

void ew_rct_sim_peer_send_done(ew_rct_sim_peer *p, size_t n) {
    if (!p)
        return;
    if (n > p->out_len - p->out_off)
        n = p->out_len - p->out_off;
    p->out_off += n;
}

unsigned long ew_rct_sim_peer_requests(const ew_rct_sim_peer *p) {
    return p ? p->requests : 0;
}
