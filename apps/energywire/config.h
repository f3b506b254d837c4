#ifndef EW_CLI_CONFIG_H
#define EW_CLI_CONFIG_H

#include <stddef.h>

#define CLI_CONF_MAX 128

/* Settings from a KEY=value file (keys upper-cased). */
typedef struct cli_conf {
    size_t n;
    char *keys[CLI_CONF_MAX];
    char *vals[CLI_CONF_MAX];
} cli_conf;

/* Reads |path|: one KEY=value a line, '#' or ';' comments, optional quotes.
 * Returns 0, or -1 after printing what is wrong (file:line). */
int cli_conf_load(cli_conf *c, const char *path);

/* The value of |key|: the environment variable of that name when set,
 * else the file's, else NULL. */
const char *cli_conf_get(const cli_conf *c, const char *key);

/* Frees the settings, wiping the values. */
void cli_conf_free(cli_conf *c);

#endif
