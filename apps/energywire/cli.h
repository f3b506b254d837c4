/* Shared pieces of the energywire command-line tool. */
#ifndef EW_CLI_H
#define EW_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (STYLE.md "Apps"). */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* device, network or data error */
#define EXIT_USAGE 2 /* bad command line */

/* Prints "energywire: <msg>" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reads a secret, in order of precedence: the value of --NAME given on the
 * command line (|argv_value|, warns that argv is visible to other users),
 * the first line of the file named by --NAME-file (|file|), then the
 * environment variable |env|.  Returns a heap string (caller frees, after
 * wiping) or NULL when none is set; on a read error prints it and returns
 * NULL with *failed = 1.
 */
char *cli_secret(const char *what, const char *argv_value, const char *file, const char *env,
                 int *failed);

/* Wipes and frees a secret. */
void cli_secret_free(char *s);

/* Reads all of |path| ("-" = stdin) into a heap buffer (NUL added). */
char *cli_read_file(const char *path, size_t *len);

/* Decodes hex text into a heap buffer; prints an error and returns NULL on
 * bad hex. */
uint8_t *cli_unhex(const char *text, size_t len, size_t *out_len);

/* Parses a whole decimal number |s| within [lo, hi] into |*out|; returns 0,
 * or -1 for anything else (empty, trailing text, out of range). */
int cli_parse_num(const char *s, double lo, double hi, double *out);

int cmd_rscp(int argc, char **argv);

/* energywire rscp <verb> for the verbs that talk to a device (cmd_e3dc.c). */
int cmd_e3dc_is_verb(const char *verb);
int cmd_e3dc(const char *verb, int argc, char **argv);
void cmd_e3dc_usage(FILE *out);

/* energywire rct <verb> (cmd_rct.c). */
int cmd_rct(int argc, char **argv);

/* energywire sim <proto> (cmd_sim.c) and energywire demo (cmd_demo.c). */
int cmd_sim(int argc, char **argv);
int cmd_sim_rct(int argc, char **argv); /* energywire sim rct (cmd_sim_rct.c) */
int cmd_demo(int argc, char **argv);

/* energywire ep <verb> (cmd_ep.c) and energywire sim ep (cmd_sim_ep.c). */
int cmd_ep(int argc, char **argv);
int cmd_sim_ep(int argc, char **argv);

/* energywire capture FILE (cmd_capture.c). */
int cmd_capture(int argc, char **argv);

#endif
