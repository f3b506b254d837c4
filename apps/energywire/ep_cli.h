/*
 * Pieces shared by `energywire ep` (cmd_ep.c) and `energywire sim ep`
 * (cmd_sim_ep.c): the common connection options, the EP node set-up
 * (certificates, trust, identity, SSLKEYLOGFILE), message printing as text
 * or JSON Lines, the JSON message reader of `ep send --file`, and a runner
 * that owns the libuv loop, the node, Ctrl-C and the stop conditions.
 * See docs/cli-ep.md.
 */
#ifndef EW_EP_CLI_H
#define EW_EP_CLI_H

#include <energywire/io_ep.h>

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

/* Exit codes beyond cli.h's (docs/cli-ep.md "Exit codes"). */
#define EP_EXIT_UNREACHABLE 3 /* TCP connect refused, unreachable, not resolvable */
#define EP_EXIT_TLS 4         /* TLS refused: version, untrusted or missing certificate */
#define EP_EXIT_IDENTITY 5    /* SessionParameters do not match the certificate (ep.md §5.4) */
#define EP_EXIT_TIMEOUT 6     /* connect, TLS or EP handshake timed out (ep.md §5.3) */

#define EP_CLI_MAX_PINS 16

/* The common connection options. */
typedef struct ep_cli_conn {
    const char *cert, *key, *ca;
    uint8_t pins[EP_CLI_MAX_PINS * 32];
    size_t n_pins;
    const char *identity, *tenant, *provider, *device_type, *name;
    unsigned rate_hz;      /* 0: the session's default (10 Hz) */
    uint32_t liveness_ms;  /* 0: the session's default (200 ms) */
    uint32_t handshake_ms; /* 0: defaults (5000 ms) */
    int no_identity_check;
    int json;
    int verbose;
    unsigned long count; /* 0: no limit */
    double duration_s;   /* 0: no limit */
    /* Filled by ep_cli_node_opts(): own certificate subject fields. */
    char cn[256], o[256], ou[256];
    FILE *keylog;
} ep_cli_conn;

void ep_cli_conn_init(ep_cli_conn *c);

/*
 * Parses the common option at argv[*i] (moving *i past its value).
 * Returns 1 when it was one, 0 when it is not a common option, -1 after
 * printing a usage error ("ep monitor: --rate needs 1..100").
 */
int ep_cli_parse_common(ep_cli_conn *c, const char *prog, int argc, char **argv, int *i);

/* Help text for the common options. */
void ep_cli_common_usage(FILE *out);

/*
 * Splits "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" into |host| (brackets
 * removed) and |port| (|defport| when absent; "0" allowed when |allow_zero|).
 * Returns 0 or -1.
 */
int ep_cli_hostport(const char *s, uint16_t defport, int allow_zero, char *host, size_t cap,
                    uint16_t *port);

/*
 * Fills |o| (after ew_ep_node_opts_init()) from |c|: certificate, key,
 * trust, identity (default: the certificate CN; tenant O and provider OU
 * likewise), |device_type| unless --device-type, rate, liveness, identity
 * check.  Opens SSLKEYLOGFILE when set (with a warning on stderr).  Returns
 * EXIT_OK, or EXIT_USAGE / EXIT_FAIL after printing the reason.
 */
int ep_cli_node_opts(ep_cli_conn *c, const char *prog, const char *device_type, ew_ep_node_opts *o);

/* Closes the key-log file. */
void ep_cli_conn_free(ep_cli_conn *c);

/* Prints one message line: text or (with --json) a JSON object with time,
 * event "message", peer, peer_identity, direction ("rx"/"tx"), type, name
 * and fields. */
void ep_cli_print_msg(const ep_cli_conn *c, const char *peer, const char *peer_id, const char *dir,
                      const ew_ep_msg *m);

/* Prints a session line (|event|: "session-start", "session-end",
 * "soft-disconnect", ...) with "key", "value" pairs (NULL-terminated). */
void ep_cli_print_event(const ep_cli_conn *c, const char *event, const char *peer, ...);

/*
 * Reads parameter messages from a JSON file ("-": stdin): one object or a
 * sequence of objects (JSON Lines as `ep monitor --json` prints them, or an
 * array).  Each object has "name" (SupplyParameters, DemandParameters,
 * StorageParameters; or "type" as "0xdcdcf00d") and "fields".  Objects
 * with an "event" other than "message" are skipped.  |cb| is called for
 * each message; the message's views are valid during the call.  Returns
 * the number of messages, or -1 after printing the error.
 */
int ep_cli_read_msgs(const char *path, void (*cb)(void *user, const ew_ep_msg *m), void *user);

/* ---- runner ------------------------------------------------------------- */

typedef struct ep_run ep_run;
struct ep_run {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer, finish_timer, tick;
    uv_check_t check;
    ew_ep_node *node;
    ew_ep_dialer *dialer; /* when dialing */
    ep_cli_conn *cc;
    const char *prog;
    int dialing;
    int ever_active;
    int stopping;
    int exit_code;
    uint64_t stop_at;
    unsigned long rx_msgs;
    int count_rx;   /* --count counts received messages */
    int print_msgs; /* print received messages */
    int persist;    /* failures before the first session only warn: keep dialing */
    /* Hooks (optional). */
    void (*on_event)(ep_run *r, const ew_ep_node_event *ev);
    void (*on_tick)(ep_run *r);
    unsigned tick_ms;
    void (*on_check)(ep_run *r);
    void *user;
    struct sess_info *sessions; /* private */
};

/*
 * Creates the loop and the node with |o| (its on_event/log are set here),
 * then listens on or dials |host|:|port|.  Returns EXIT_OK or an exit code
 * after printing the error.
 */
int ep_run_start(ep_run *r, ew_ep_node_opts *o, int dial, const char *host, uint16_t port);

/* Runs until stopped; returns the exit code.  Frees everything. */
int ep_run_loop(ep_run *r);

/* Ends every session with SoftDisconnect(reconnect=false, |reason|) and
 * stops with exit code |code| (the first call wins). */
void ep_run_stop(ep_run *r, int code, const char *reason);

/* Exit code for a failed session or dial (EP_EXIT_*, or EXIT_FAIL). */
int ep_cli_exit_code(int err, int close_reason);

#endif
