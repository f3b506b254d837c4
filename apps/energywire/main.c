/* energywire: one command-line tool for RSCP, RCT Power and EnergyNet EP. */
#include "cli.h"

#include <energywire/ew.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out) {
    fputs("usage: energywire <command> [arguments]\n"
          "\n"
          "commands:\n"
          "  rscp <verb>   E3/DC devices: poll, info, battery, pvi, pm, wallbox, switches,\n"
          "                settings, power, history, get, set, raw, ...; decode captured\n"
          "                frames; search the tag table\n"
          "  rct <verb>    RCT Power: list the object registry, decode captured frames\n"
          "  ep <verb>     EnergyNet EP over TLS 1.3: listen, connect, send, monitor, certs\n"
          "  capture FILE  decode RSCP, RCT and EP traffic in a pcap/pcapng capture\n"
          "  sim <proto>   run a simulated device: rscp (E3/DC), rct (RCT Power inverter),\n"
          "                ep (EnergyNet charger, vehicle or home battery)\n"
          "  demo          live power-flow view of a simulated E3/DC device\n"
          "  version       print the version\n"
          "  help          show this text\n"
          "\n"
          "Run 'energywire <command> --help' for the verbs.\n"
          "Documentation: docs/cli-rscp.md, docs/cli-rct.md, docs/cli-ep.md, docs/cli-capture.md,\n"
          "docs/cli-sim.md, docs/cli-demo.md\n",
          out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    /* A peer that resets the connection must give an error message, not kill
     * the process: libuv writes with write(2), which raises SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    const char *cmd = argv[1];
    if (strcmp(cmd, "rscp") == 0)
        return cmd_rscp(argc - 1, argv + 1);
    if (strcmp(cmd, "rct") == 0)
        return cmd_rct(argc - 1, argv + 1);
    if (strcmp(cmd, "ep") == 0)
        return cmd_ep(argc - 1, argv + 1);
    if (strcmp(cmd, "capture") == 0)
        return cmd_capture(argc - 1, argv + 1);
    if (strcmp(cmd, "sim") == 0)
        return cmd_sim(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("energywire %s\n", EW_VERSION_STRING);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    cli_err("unknown command '%s'", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
