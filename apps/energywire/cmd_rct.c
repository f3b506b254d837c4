/*
 * energywire rct ...: RCT Power verbs that need no device: searching the
 * object registry and decoding captured frames (the client verbs come with
 * the RCT session and simulator).
 */
#include "cli.h"

#include <energywire/rct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rct_usage(FILE *out) {
    fputs("usage: energywire rct list [--group GROUP] [--json] [PATTERN]\n"
          "       energywire rct decode [--json] [--file FILE] [HEX...]\n"
          "\n"
          "list: objects of the RCT registry (895) whose name matches the glob\n"
          "  PATTERN ('battery.*', '*soc*'; any case), with id, types, unit and\n"
          "  description.\n"
          "decode: frames captured off the wire (TCP 8899), as hex: every frame with\n"
          "  command, object name, decoded value and CRC status; bytes between frames\n"
          "  are counted as skipped.\n",
          out);
}

static int cmd_list(int argc, char **argv) {
    const char *group = NULL, *pattern = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--group") && i + 1 < argc)
            group = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            cli_err("rct list: unknown option '%s'", argv[i]);
            return EXIT_USAGE;
        } else
            pattern = argv[i];
    }
    size_t n = ew_rct_object_select(group, pattern, NULL, 0);
    const ew_rct_object **objs = calloc(n ? n : 1, sizeof *objs);
    if (!objs)
        return EXIT_FAIL;
    ew_rct_object_select(group, pattern, objs, n);
    if (json)
        putchar('[');
    for (size_t i = 0; i < n; i++) {
        const ew_rct_object *o = objs[i];
        const char *rq = ew_rct_type_name(o->request_type);
        const char *rs = ew_rct_type_name(o->response_type);
        if (json) {
            /* Registry texts are plain ASCII without quotes or backslashes
             * (tools/gen_rct_oids.c checks); units may hold UTF-8 (°C). */
            printf("%s{\"id\":\"0x%08lX\",\"name\":\"%s\",\"group\":\"%s\",\"type\":\"%s\","
                   "\"response_type\":\"%s\",\"unit\":\"%s\",\"description\":\"%s\"}",
                   i ? "," : "", (unsigned long)o->id, o->name, o->group, rq ? rq : "",
                   rs ? rs : "", o->unit, o->description);
        } else {
            printf("0x%08lX  %-44s %-14s %-6s %s\n", (unsigned long)o->id, o->name, rq ? rq : "?",
                   o->unit, o->description);
        }
    }
    if (json)
        puts("]");
    free(objs);
    if (!n && !json)
        fprintf(stderr, "no object matches\n");
    return n ? EXIT_OK : EXIT_FAIL;
}

static int cmd_decode(int argc, char **argv) {
    int json = 0;
    const char *file = NULL;
    char *hex = NULL;
    size_t hex_len = 0;
    int rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            cli_err("rct decode: unknown option '%s'", argv[i]);
            goto out;
        } else {
            size_t n = strlen(argv[i]);
            char *more = realloc(hex, hex_len + n + 2);
            if (!more)
                goto out;
            hex = more;
            memcpy(hex + hex_len, argv[i], n);
            hex[hex_len + n] = ' ';
            hex_len += n + 1;
        }
    }
    if (file) {
        free(hex);
        hex = cli_read_file(file, &hex_len);
        if (!hex) {
            rc = EXIT_FAIL;
            goto out;
        }
    }
    if (!hex) {
        cli_err("rct decode: give frames as hex arguments or with --file");
        goto out;
    }
    size_t len;
    uint8_t *in = cli_unhex(hex, hex_len, &len);
    if (!in)
        goto out;
    uint8_t *buf = malloc(EW_RCT_FRAME_MAX);
    char *text = malloc(1 << 16);
    ew_rct_rx rx;
    if (!buf || !text || ew_rct_rx_init(&rx, buf, EW_RCT_FRAME_MAX) != EW_OK) {
        free(buf);
        free(text);
        free(in);
        rc = EXIT_FAIL;
        goto out;
    }
    size_t pos = 0;
    unsigned frames = 0, bad = 0;
    while (pos < len) {
        size_t used;
        ew_rct_frame f;
        ew_diag d = {0};
        int r = ew_rct_rx_feed(&rx, in + pos, len - pos, &used, &f, &d);
        pos += used;
        if (r == EW_ERR_NEED_MORE)
            break;
        frames++;
        const char *cmd = ew_rct_cmd_name(f.command);
        if (r != EW_OK && r != EW_ERR_CRC) {
            bad++;
            if (json)
                printf("{\"frame\":%u,\"offset\":%zu,\"error\":\"%s\"}\n", frames, d.offset,
                       ew_errname(r));
            else
                printf("frame %u: %s at offset %zu%s%s\n", frames, ew_strerror(r), d.offset,
                       d.what ? ": " : "", d.what ? d.what : "");
            continue;
        }
        const ew_rct_object *o = ew_rct_object_by_id(f.id);
        int type = ew_rct_type_for(f.id, f.command);
        int reads = f.payload.len == 0;
        ew_diag vd = {0};
        int fr = reads ? 0
                       : ew_rct_value_format(type, f.payload.ptr, f.payload.len,
                                             json ? EW_RCT_FMT_JSON : 0, text, 1 << 16, &vd);
        if (r == EW_ERR_CRC)
            bad++;
        if (json) {
            printf("{\"frame\":%u,\"command\":\"%s\",\"id\":\"0x%08lX\",\"name\":%s%s%s,"
                   "\"crc\":\"%s\",\"skipped\":%zu",
                   frames, cmd ? cmd : "?", (unsigned long)f.id, o ? "\"" : "",
                   o ? o->name : "null", o ? "\"" : "", r == EW_OK ? "ok" : "mismatch", f.skipped);
            if (!reads)
                printf(",\"value\":%s%s", fr < 0 ? "" : text,
                       fr < 0 ? "null,\"value_error\":\"payload does not fit its type\"" : "");
            puts("}");
        } else {
            printf("frame %u: %s %s (0x%08lX)%s", frames, cmd ? cmd : "?",
                   o ? o->name : "unknown object", (unsigned long)f.id,
                   r == EW_OK ? "" : " CRC MISMATCH");
            if (!reads)
                printf(" = %s%s%s", text, o && o->unit[0] ? " " : "", o ? o->unit : "");
            if (fr < 0)
                printf(" (payload does not fit %s)", ew_rct_type_name(type));
            if (f.skipped)
                printf(" [%zu bytes skipped before]", f.skipped);
            putchar('\n');
        }
    }
    /* The receiver holds the start of a frame that never ended. */
    if (rx.len > 0) {
        cli_err("input ends inside a frame");
        bad++;
    }
    else if (!frames)
        cli_err("no RCT frame found in the input");
    free(buf);
    free(text);
    free(in);
    rc = frames && !bad ? EXIT_OK : EXIT_FAIL;
out:
    free(hex);
    return rc;
}

int cmd_rct(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        rct_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode"))
        return cmd_decode(argc - 1, argv + 1);
    cli_err("unknown rct verb '%s' (see energywire rct --help)", argv[1]);
    return EXIT_USAGE;
}
