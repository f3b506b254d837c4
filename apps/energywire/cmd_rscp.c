/* energywire rscp ...: RSCP verbs of the command-line tool. */
#include "cli.h"

#include <energywire/rscp.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rscp_usage(FILE *out) {
    fputs("usage: energywire rscp <verb> [options]\n"
          "verbs that talk to an E3/DC device:\n",
          out);
    cmd_e3dc_usage(out);
    fputs("\n"
          "offline verbs:\n"
          "  decode [options] [HEX...]   decode (and decrypt) captured frames\n"
          "  tags [--json] [PATTERN]     search the tag table\n"
          "\n"
          "decode: decodes RSCP frames given as hex (arguments, or --file).  With an RSCP\n"
          "key the input is the ciphertext of one direction of a connection, from its\n"
          "first byte (IV chain starting at ff..ff) unless --iv is given; without a key\n"
          "it is plain frames.\n"
          "  --key-file FILE  read the RSCP key from the first line of FILE\n"
          "  --key KEY        the RSCP key (visible to other users; prefer E3DC_RSCP_KEY)\n"
          "  --iv HEX         32-byte IV to start the chain from (mid-connection data)\n"
          "  --plain          the input is not encrypted, even if a key is set\n"
          "  --file FILE      read hex from FILE ('-' for standard input)\n"
          "  --json           one JSON object per frame (JSON Lines)\n"
          "  --types          show each value's type\n"
          "  --ids            show each tag's numeric id\n"
          "  --show-secrets   show passwords instead of ********\n"
          "  --strict         refuse frames with reserved control bits set\n"
          "environment: E3DC_RSCP_KEY (the RSCP key)\n"
          "\n"
          "tags: lists tags whose name contains PATTERN (any case) or whose id is PATTERN.\n",
          out);
}

typedef struct decode_opts {
    int json, plain;
    unsigned print_flags, decode_flags;
} decode_opts;

/* Prints text with every line indented by two spaces. */
static void print_indented(const char *text) {
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        printf("  %.*s\n", (int)n, text);
        text += n + (nl ? 1 : 0);
    }
}

/* Prints one frame; returns 0 when its values decoded cleanly. */
static int print_frame(const ew_rscp_frame *f, unsigned index, size_t offset,
                       const decode_opts *o) {
    size_t cap = 65536, need = 0;
    char *out = malloc(cap);
    if (!out) {
        cli_err("out of memory");
        return -1;
    }
    ew_diag d = {0};
    int (*print)(const uint8_t *, size_t, unsigned, unsigned, char *, size_t, size_t *, ew_diag *) =
        o->json ? ew_rscp_print_json : ew_rscp_print_text;
    int rc = print(f->data, f->data_len, 0, o->print_flags, out, cap, &need, &d);
    if (rc == EW_ERR_NOBUF) {
        char *bigger = realloc(out, need);
        if (!bigger) {
            free(out);
            cli_err("out of memory");
            return -1;
        }
        out = bigger;
        rc = print(f->data, f->data_len, 0, o->print_flags, out, need, &need, &d);
    }
    char when[48];
    ew_time_format(f->ts.seconds, f->ts.nanoseconds, when, sizeof when);
    if (o->json) {
        printf("{\"frame\":%u,\"offset\":%zu,\"time\":\"%s\",\"crc\":%s,\"length\":%zu,"
               "\"values\":%s}\n",
               index, offset, when, f->has_crc ? "\"ok\"" : "null", f->frame_len, out);
    } else {
        printf("frame %u at offset %zu: %s, %zu bytes, %s\n", index, offset, when, f->frame_len,
               f->has_crc ? "CRC ok" : "no CRC");
        print_indented(out);
    }
    free(out);
    return rc < 0 ? -1 : 0;
}

static void print_error(unsigned index, const ew_diag *d, const decode_opts *o) {
    char msg[256];
    ew_diag_format(d, msg, sizeof msg);
    if (o->json)
        printf("{\"frame\":%u,\"offset\":%zu,\"error\":\"%s\",\"message\":\"%s\"}\n", index,
               d->offset, ew_errname(d->code), msg);
    else
        printf("frame %u: %s\n", index, msg);
    cli_err("%s", msg);
}

static int decode_plain(const uint8_t *in, size_t len, const decode_opts *o) {
    size_t off = 0;
    unsigned index = 0;
    int bad = 0;
    while (off < len) {
        ew_rscp_frame f;
        ew_diag d = {0};
        int rc = ew_rscp_frame_decode(in + off, len - off, &f,
                                      o->decode_flags | EW_RSCP_DECODE_FINAL, &d);
        index++;
        if (rc < 0) {
            d.offset += off;
            print_error(index, &d, o);
            bad = 1;
            /* A bad CRC leaves the frame's length trustworthy: go on. */
            if (rc == EW_ERR_CRC && f.frame_len) {
                off += f.frame_len;
                continue;
            }
            break;
        }
        if (print_frame(&f, index, off, o) < 0)
            bad = 1;
        off += (size_t)rc;
    }
    if (index == 0) {
        cli_err("no input: give the frame as hex arguments or with --file");
        return EXIT_USAGE;
    }
    return bad ? EXIT_FAIL : EXIT_OK;
}

static int decode_encrypted(const uint8_t *in, size_t len, const char *key, const uint8_t *iv,
                            const decode_opts *o) {
    uint8_t k[EW_RSCP_KEY_LEN];
    size_t used = ew_rscp_key_derive(key, strlen(key), k);
    if (used < strlen(key))
        cli_warn("the RSCP key is longer than 32 bytes; using its first 32 bytes as E3/DC "
                 "devices do");
    ew_rscp_cipher *c = malloc(sizeof *c);
    uint8_t *buf = malloc(EW_RSCP_STREAM_BUF_MIN);
    if (!c || !buf) {
        free(c);
        free(buf);
        cli_err("out of memory");
        return EXIT_FAIL;
    }
    ew_rscp_cipher_init(c, k, EW_RSCP_CIPHER_AUTO);
    memset(k, 0, sizeof k);
    ew_rscp_stream s;
    ew_rscp_stream_init(&s, c, buf, EW_RSCP_STREAM_BUF_MIN, o->decode_flags);
    if (iv)
        memcpy(s.iv, iv, EW_RSCP_BLOCK);

    unsigned index = 0;
    int bad = 0, dead = 0;
    size_t off = 0;
    while (!dead) {
        if (off < len) {
            int n = ew_rscp_stream_feed(&s, in + off, len - off);
            if (n > 0)
                off += (size_t)n;
        }
        int got = 0;
        for (;;) {
            ew_rscp_frame f;
            ew_diag d = {0};
            uint64_t at = s.consumed + s.pos;
            int rc = ew_rscp_stream_next(&s, &f, &d);
            if (rc == 0)
                break;
            index++;
            got = 1;
            if (rc < 0) {
                print_error(index, &d, o);
                bad = 1;
                if (rc == EW_ERR_DECRYPT || s.err) {
                    dead = 1;
                    break;
                }
                continue;
            }
            if (print_frame(&f, index, (size_t)at, o) < 0)
                bad = 1;
        }
        if (off >= len && !got)
            break;
    }
    if (!dead) {
        ew_diag d = {0};
        if (ew_rscp_stream_finish(&s, &d) < 0) {
            print_error(index + 1, &d, o);
            bad = 1;
        }
    }
    if (index == 0 && !bad) {
        cli_err("no input: give the ciphertext as hex arguments or with --file");
        bad = 2;
    }
    memset(c, 0, sizeof *c);
    free(c);
    free(buf);
    return bad == 2 ? EXIT_USAGE : bad ? EXIT_FAIL : EXIT_OK;
}

static int cmd_decode(int argc, char **argv) {
    decode_opts o = {0};
    const char *key_arg = NULL, *key_file = NULL, *file = NULL, *iv_hex = NULL;
    char *hex = NULL;
    size_t hex_len = 0;
    int rc = EXIT_USAGE;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "--key") == 0)
            dst = &key_arg;
        else if (strcmp(a, "--key-file") == 0)
            dst = &key_file;
        else if (strcmp(a, "--file") == 0)
            dst = &file;
        else if (strcmp(a, "--iv") == 0)
            dst = &iv_hex;
        if (dst) {
            if (i + 1 >= argc) {
                cli_err("%s needs a value", a);
                goto out;
            }
            *dst = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (strcmp(a, "--plain") == 0) {
            o.plain = 1;
        } else if (strcmp(a, "--types") == 0) {
            o.print_flags |= EW_RSCP_PRINT_TYPES;
        } else if (strcmp(a, "--ids") == 0) {
            o.print_flags |= EW_RSCP_PRINT_IDS;
        } else if (strcmp(a, "--show-secrets") == 0) {
            o.print_flags |= EW_RSCP_PRINT_SECRETS;
        } else if (strcmp(a, "--strict") == 0) {
            o.decode_flags |= EW_RSCP_DECODE_STRICT;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            rscp_usage(stdout);
            rc = EXIT_OK;
            goto out;
        } else if (a[0] == '-' && a[1] == '-') {
            cli_err("unknown option '%s' (see energywire rscp --help)", a);
            goto out;
        } else {
            size_t n = strlen(a);
            char *more = realloc(hex, hex_len + n + 2);
            if (!more) {
                cli_err("out of memory");
                rc = EXIT_FAIL;
                goto out;
            }
            hex = more;
            memcpy(hex + hex_len, a, n);
            hex[hex_len + n] = ' ';
            hex_len += n + 1;
        }
    }
    if (file) {
        if (hex) {
            cli_err("give the input either as arguments or with --file, not both");
            goto out;
        }
        hex = cli_read_file(file, &hex_len);
        if (!hex) {
            rc = EXIT_FAIL;
            goto out;
        }
    }
    size_t len = 0;
    uint8_t *in = hex ? cli_unhex(hex, hex_len, &len) : NULL;
    if (hex && !in)
        goto out;
    uint8_t iv[EW_RSCP_BLOCK];
    if (iv_hex && ew_hex_decode(iv_hex, strlen(iv_hex), iv, sizeof iv) != EW_RSCP_BLOCK) {
        cli_err("--iv needs exactly 32 bytes of hex");
        free(in);
        goto out;
    }
    int failed = 0;
    char *key =
        o.plain ? NULL : cli_secret("RSCP key", key_arg, key_file, "E3DC_RSCP_KEY", &failed);
    if (failed) {
        free(in);
        rc = EXIT_FAIL;
        goto out;
    }
    if (key)
        rc = decode_encrypted(in, len, key, iv_hex ? iv : NULL, &o);
    else
        rc = decode_plain(in, len, &o);
    cli_secret_free(key);
    free(in);
out:
    free(hex);
    return rc;
}

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

static int cmd_tags(int argc, char **argv) {
    int json = 0;
    const char *pattern = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--help") == 0) {
            rscp_usage(stdout);
            return EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            cli_err("unknown option '%s'", argv[i]);
            return EXIT_USAGE;
        } else
            pattern = argv[i];
    }
    uint32_t id = 0;
    int by_id = (pattern[0] >= '0' && pattern[0] <= '9') &&
                ew_rscp_tag_parse(pattern, strlen(pattern), &id) == EW_OK;
    size_t shown = 0;
    if (json)
        putchar('[');
    for (size_t i = 0; i < ew_rscp_tag_count(); i++) {
        const ew_rscp_tag_info *t = ew_rscp_tag_at(i);
        if (by_id ? t->id != id : !contains_ci(t->name, pattern))
            continue;
        const char *type = t->type >= 0 ? ew_rscp_type_name(t->type) : "";
        if (json)
            printf("%s{\"id\":\"0x%08lx\",\"name\":\"%s\",\"type\":\"%s\",\"namespace\":\"%s\","
                   "\"unit\":\"%s\"}",
                   shown ? "," : "", (unsigned long)t->id, ew_rscp_tag_short_name(t), type, t->ns,
                   t->unit);
        else
            printf("0x%08lx  %-48s %-10s %-6s %s\n", (unsigned long)t->id,
                   ew_rscp_tag_short_name(t), type, t->ns, t->unit);
        shown++;
    }
    if (json)
        puts("]");
    if (!shown && !json)
        fprintf(stderr, "no tag matches '%s'\n", pattern);
    return shown ? EXIT_OK : EXIT_FAIL;
}

int cmd_rscp(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        rscp_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (strcmp(argv[1], "decode") == 0)
        return cmd_decode(argc - 1, argv + 1);
    if (strcmp(argv[1], "tags") == 0)
        return cmd_tags(argc - 1, argv + 1);
    if (cmd_e3dc_is_verb(argv[1]))
        return cmd_e3dc(argv[1], argc - 2, argv + 2);
    cli_err("unknown rscp verb '%s' (see energywire rscp --help)", argv[1]);
    return EXIT_USAGE;
}
