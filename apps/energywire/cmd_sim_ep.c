/*
 * energywire sim ep: a simulated EnergyNet peer (charger, vehicle or home
 * battery) on an EP node (docs/cli-sim.md "sim ep").
 *
 * The device is the sans-I/O model <energywire/ep_sim.h>; this file feeds it
 * the peer's messages and the model clock (start + elapsed monotonic time x
 * --speed), publishes what it says on every session through the node, and
 * sets the "energy transfer active" flag (ep.md §5.5) on the session of the
 * peer it is transferring with, so the 200 ms liveness rule applies there.
 */
#include "cli.h"
#include "ep_cli.h"

#include <energywire/ep_sim.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sim_app {
    ep_run run;
    ep_cli_conn cc;
    ew_ep_sim sim;
    double speed;
    uint64_t t0;
    int published[3];
    int transfer;
    ew_ep_node_session *peer; /* the session whose parameters the model uses */
    uint64_t last_status;
} sim_app;

static const uint32_t kinds[3] = {EW_EP_MSG_SUPPLY, EW_EP_MSG_DEMAND, EW_EP_MSG_STORAGE};

static void sim_ep_usage(FILE *out) {
    fputs("usage: energywire sim ep --role charger|vehicle|battery\n"
          "                         [--listen [ADDR[:PORT]] | --connect HOST[:PORT]]\n"
          "                         [--speed X] [--soc PCT] [--soc-target PCT]\n"
          "                         [--capacity WH] [--power W] [--current-max A]\n"
          "                         [--voltage V] [--seconds N] [connection options]\n"
          "\n"
          "Runs a simulated EP peer.  By default it listens on 127.0.0.1:56540 (port 0\n"
          "picks a free port); the first line on standard output is then \"listening on\n"
          "HOST:PORT\".  With --connect it dials the peer and reconnects after a loss.\n"
          "charger: publishes Supply and delivers what the peer's Demand asks for, up to\n"
          "its limits.  vehicle: publishes Demand and Storage, limited to the peer's\n"
          "Supply; its state of charge rises while charging.  battery: Storage plus\n"
          "Supply above its switch-over state of charge (--soc-target) and Demand below.\n"
          "--speed X runs the model clock X times faster than real time (default 1).\n"
          "Output: session start and end, transfer start and stop; --verbose adds every\n"
          "received message and a state line each second.  --seconds N (or --duration)\n"
          "stops after N seconds, as do SIGINT and SIGTERM, with SoftDisconnect.\n"
          "\n",
          out);
    ep_cli_common_usage(out);
}

static uint64_t model_now(sim_app *a) {
    return (uint64_t)((double)(uv_now(&a->run.loop) - a->t0) * a->speed);
}

static void print_state(sim_app *a, const char *event) {
    ew_ep_sim_state st;
    char p[32], soc[32], e[32];
    ew_ep_sim_get_state(&a->sim, &st);
    snprintf(p, sizeof p, "%.0f", st.power_w);
    snprintf(soc, sizeof soc, "%.2f", st.soc_pct);
    snprintf(e, sizeof e, "%.1f", st.energy_wh);
    const char *peer = a->peer ? ew_ep_session_peer_name(a->peer) : "";
    if (a->sim.o.role == EW_EP_SIM_CHARGER)
        ep_cli_print_event(&a->cc, event, peer, "power_w", p, "energy_wh", e, NULL);
    else
        ep_cli_print_event(&a->cc, event, peer, "power_w", p, "soc_pct", soc, "energy_wh", e, NULL);
}

/* Publishes the model's parameters and the transfer flag. */
static void sync_model(sim_app *a) {
    ew_ep_node *n = a->run.node;
    for (int k = 0; k < 3; k++) {
        ew_ep_msg m;
        if (ew_ep_sim_params(&a->sim, kinds[k], &m)) {
            if (ew_ep_node_set_params(n, &m) != EW_OK)
                cli_warn("sim ep: cannot publish %s", ew_ep_msg_name(kinds[k]));
            a->published[k] = 1;
        } else if (a->published[k]) {
            ew_ep_node_clear_params(n, kinds[k]);
            a->published[k] = 0;
        }
    }
    int on = ew_ep_sim_transfer(&a->sim);
    ew_ep_conn *c = a->peer ? ew_ep_session_conn(a->peer) : NULL;
    if (c) {
        ew_ep_conn_set_transfer(c, on, uv_now(&a->run.loop));
        /* Re-arms the session's timer now (the 200 ms rule starts with the
         * transfer), also when called from the tick timer. */
        ew_ep_session_update(a->peer);
    }
    if (on != a->transfer) {
        a->transfer = on;
        print_state(a, on ? "transfer-start" : "transfer-stop");
    }
}

static void sim_tick(ep_run *r) {
    sim_app *a = r->user;
    ew_ep_sim_step(&a->sim, model_now(a));
    sync_model(a);
    uint64_t now = uv_now(&r->loop);
    if (a->cc.verbose && now - a->last_status >= 1000) {
        a->last_status = now;
        print_state(a, "state");
    }
}

static void sim_event(ep_run *r, const ew_ep_node_event *ev) {
    sim_app *a = r->user;
    if (ev->type == EW_EP_NODE_SESSION && ev->conn.type == EW_EP_EV_MESSAGE) {
        uint32_t t = ev->conn.msg.type;
        if (t == EW_EP_MSG_SUPPLY || t == EW_EP_MSG_DEMAND || t == EW_EP_MSG_STORAGE) {
            if (a->peer && a->peer != ev->session) {
                /* One device on the other end at a time: a second
                 * publishing peer takes over the model. */
                ew_ep_conn *old = ew_ep_session_conn(a->peer);
                if (old) {
                    ew_ep_conn_set_transfer(old, 0, uv_now(&r->loop));
                    ew_ep_session_update(a->peer);
                }
                ew_ep_sim_peer_lost(&a->sim, model_now(a));
            }
            a->peer = ev->session;
            ew_ep_sim_on_msg(&a->sim, &ev->conn.msg, model_now(a));
            sync_model(a);
        }
    } else if (ev->type == EW_EP_NODE_CLOSED && ev->session && ev->session == a->peer) {
        a->peer = NULL;
        ew_ep_sim_peer_lost(&a->sim, model_now(a));
        if (!r->stopping)
            sync_model(a);
        else if (a->transfer) {
            a->transfer = 0;
            print_state(a, "transfer-stop");
        }
    }
}

int cmd_sim_ep(int argc, char **argv) {
    sim_app *a = calloc(1, sizeof *a);
    if (!a)
        return EXIT_FAIL;
    ep_cli_conn_init(&a->cc);
    const char *prog = "sim ep", *listen_at = NULL, *connect_to = NULL;
    int role = 0, rc = EXIT_OK;
    double speed = 1, soc = -1, target = -1, cap = -1, power = -1, imax = -1, volts = -1;
    for (int i = 1; i < argc && rc == EXIT_OK; i++) {
        const char *o = argv[i];
        int k = ep_cli_parse_common(&a->cc, prog, argc, argv, &i);
        if (k < 0) {
            rc = EXIT_USAGE;
            break;
        }
        if (k > 0)
            continue;
        double *num = NULL, lo = 0, hi = 0;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            sim_ep_usage(stdout);
            free(a);
            return EXIT_OK;
        } else if (!strcmp(o, "--role") && i + 1 < argc) {
            role = ew_ep_sim_role_parse(argv[++i]);
            if (!role) {
                cli_err("sim ep: --role must be charger, vehicle or battery, not '%s'", argv[i]);
                rc = EXIT_USAGE;
            }
        } else if (!strcmp(o, "--listen")) {
            listen_at = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "127.0.0.1";
        } else if (!strcmp(o, "--connect") && i + 1 < argc) {
            connect_to = argv[++i];
        } else if (!strcmp(o, "--seconds") && i + 1 < argc) {
            num = &a->cc.duration_s, lo = 0.001, hi = 86400.0 * 365;
        } else if (!strcmp(o, "--speed")) {
            num = &speed, lo = 0.001, hi = 1e6;
        } else if (!strcmp(o, "--soc")) {
            num = &soc, lo = 0, hi = 100;
        } else if (!strcmp(o, "--soc-target")) {
            num = &target, lo = 0, hi = 100;
        } else if (!strcmp(o, "--capacity")) {
            num = &cap, lo = 1, hi = 1e9;
        } else if (!strcmp(o, "--power")) {
            num = &power, lo = 1, hi = 1e9;
        } else if (!strcmp(o, "--current-max")) {
            num = &imax, lo = 0.1, hi = 1e6;
        } else if (!strcmp(o, "--voltage")) {
            num = &volts, lo = 1, hi = 1e5;
        } else {
            cli_err("sim ep: unknown option or missing value '%s'", o);
            sim_ep_usage(stderr);
            rc = EXIT_USAGE;
        }
        if (num) {
            if (i + 1 >= argc || cli_parse_num(argv[i + 1], lo, hi, num) < 0) {
                cli_err("sim ep: %s needs a number from %g to %g", o, lo, hi);
                rc = EXIT_USAGE;
            }
            i++;
        }
    }
    if (rc == EXIT_OK && !role) {
        cli_err("sim ep: --role charger|vehicle|battery is required");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && listen_at && connect_to) {
        cli_err("sim ep: --listen or --connect, not both");
        rc = EXIT_USAGE;
    }
    char host[256];
    uint16_t port = EW_EP_PORT;
    int dial = connect_to != NULL;
    if (rc == EXIT_OK) {
        const char *where = dial ? connect_to : listen_at ? listen_at : "127.0.0.1";
        if (ep_cli_hostport(where, EW_EP_PORT, !dial, host, sizeof host, &port) < 0) {
            cli_err("sim ep: '%s' is not HOST[:PORT]", where);
            rc = EXIT_USAGE;
        }
    }
    ew_ep_sim_opts so;
    if (rc == EXIT_OK) {
        ew_ep_sim_opts_init(&so, (ew_ep_sim_role)role);
        if (soc >= 0)
            so.soc_pct = soc;
        if (target >= 0)
            so.soc_target_pct = target;
        if (cap > 0)
            so.capacity_wh = cap;
        if (power > 0)
            so.power_max_w = power;
        if (imax > 0)
            so.current_max_a = imax;
        if (volts > 0)
            so.voltage_v = volts;
        /* One second of silence in real time, whatever the speed. */
        so.peer_stale_ms = (uint64_t)(1000 * speed);
        if (ew_ep_sim_init(&a->sim, &so, 0) != EW_OK) {
            cli_err("sim ep: the model options do not fit together (see --help)");
            rc = EXIT_USAGE;
        }
    }
    ew_ep_node_opts o;
    ew_ep_node_opts_init(&o);
    if (rc == EXIT_OK)
        rc = ep_cli_node_opts(&a->cc, prog, ew_ep_sim_role_name(role), &o);
    if (rc != EXIT_OK) {
        ep_cli_conn_free(&a->cc);
        free(a);
        return rc;
    }
    if (!a->cc.name)
        o.conn.name = role == EW_EP_SIM_CHARGER   ? "energywire simulated charger"
                      : role == EW_EP_SIM_VEHICLE ? "energywire simulated vehicle"
                                                  : "energywire simulated battery";
    signal(SIGPIPE, SIG_IGN);
    a->speed = speed;
    ep_run *r = &a->run;
    r->cc = &a->cc;
    r->prog = prog;
    r->user = a;
    r->print_msgs = a->cc.verbose;
    r->count_rx = 1;
    r->persist = 1;
    r->on_event = sim_event;
    r->on_tick = sim_tick;
    r->tick_ms = 100;
    rc = ep_run_start(r, &o, dial, host, port);
    if (rc == EXIT_OK) {
        a->t0 = uv_now(&r->loop);
        sync_model(a);
        if (!dial) {
            printf(strchr(host, ':') ? "listening on [%s]:%u\n" : "listening on %s:%u\n", host,
                   (unsigned)ew_ep_node_port(r->node));
            fflush(stdout);
        }
        rc = ep_run_loop(r);
    }
    ep_cli_conn_free(&a->cc);
    free(a);
    return rc;
}
