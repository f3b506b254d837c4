/*
 * Connection settings for the CLI: KEY=value config files, overridden by
 * environment variables of the same name, overridden by flags (STYLE.md
 * "Apps"; the names are the ones E3/DC users know: E3DC_HOST, E3DC_USER, ...).
 */
#include "config.h"

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int cli_conf_load(cli_conf *c, const char *path) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text)
        return -1;
    int line = 0, rc = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        char *s = trim(l);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            cli_err("%s:%d: expected KEY=value", path, line);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vn = strlen(val);
        if (vn >= 2 && (val[0] == '"' || val[0] == '\'') && val[vn - 1] == val[0]) {
            val[vn - 1] = '\0';
            val++;
        }
        for (char *k = key; *k; k++)
            *k = (char)toupper((unsigned char)*k);
        if (c->n == CLI_CONF_MAX) {
            cli_err("%s:%d: too many settings", path, line);
            rc = -1;
            break;
        }
        c->keys[c->n] = strdup(key);
        c->vals[c->n] = strdup(val);
        if (!c->keys[c->n] || !c->vals[c->n]) {
            cli_err("out of memory");
            rc = -1;
            break;
        }
        c->n++;
    }
    /* The file may hold secrets: wipe the copy. */
    memset(text, 0, len);
    free(text);
    return rc;
}

const char *cli_conf_get(const cli_conf *c, const char *key) {
    const char *e = getenv(key);
    if (e && *e)
        return e;
    /* The last assignment in the file wins, as in a shell. */
    for (size_t i = c->n; i-- > 0;)
        if (strcmp(c->keys[i], key) == 0)
            return c->vals[i];
    return NULL;
}

void cli_conf_free(cli_conf *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        if (c->vals[i]) {
            memset(c->vals[i], 0, strlen(c->vals[i]));
            free(c->vals[i]);
        }
    }
    c->n = 0;
}
