/* Internal helpers shared by the energywire_io files. */
#ifndef EW_IO_INT_H
#define EW_IO_INT_H

#include <energywire/io.h>

#include <uv.h>

/* The wall clock as an RSCP header time (CLOCK_REALTIME). */
ew_rscp_timestamp ew_io_wall_time(void);

/* A seed from the clocks, for jitter when the caller gave none. */
uint64_t ew_io_clock_seed(const void *salt);

/* splitmix64: small, fast, good enough for backoff jitter. */
uint64_t ew_io_rand(uint64_t *state);

/* Formats like snprintf and passes the line to |log| (when set). */
void ew_io_logf(void (*log)(void *, int, const char *), void *user, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Longest host name accepted (DNS allows 253 characters). */
#define EW_IO_HOST_MAX 253
/* Room for "[host]:port". */
#define EW_IO_HOSTPORT_LEN (EW_IO_HOST_MAX + 10)
/* Room for a detail sentence. */
#define EW_IO_DETAIL_LEN 640

/* snprintf for messages, where cutting a long text short is acceptable. */
void ew_io_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "host:port", or "[v6]:port" when |host| contains a ':'. */
void ew_io_hostport(char *out, size_t cap, const char *host, unsigned port);

/* Formats the address in |sa| as "a.b.c.d:port" or "[v6]:port". */
void ew_io_sockaddr_name(const struct sockaddr *sa, char *out, size_t cap);

/* Duplicates |s| with malloc (NULL stays NULL; *ok is cleared on failure). */
char *ew_io_strdup(const char *s, int *ok);

/* Wipes and frees a string holding a secret. */
void ew_io_free_secret(char *s);

#endif
