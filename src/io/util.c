/*
 * Small helpers of the I/O layer: error texts for the EW_IO_ERR_* codes,
 * clocks (the I/O layer is the one place that may read them, DESIGN.md
 * "Layers"), jitter, logging and address formatting.
 */
#include "io/io_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *ew_io_strerror(int rc) {
    switch (rc) {
    case EW_IO_ERR_UNREACHABLE:
        return "device unreachable (connection refused, no route, or unknown host)";
    case EW_IO_ERR_SOCKET:
        return "local socket operation failed";
    default:
        return ew_strerror(rc);
    }
}

const char *ew_io_errname(int rc) {
    switch (rc) {
    case EW_IO_ERR_UNREACHABLE:
        return "EW_IO_ERR_UNREACHABLE";
    case EW_IO_ERR_SOCKET:
        return "EW_IO_ERR_SOCKET";
    default:
        return ew_errname(rc);
    }
}

ew_rscp_timestamp ew_io_wall_time(void) {
    struct timespec ts;
    ew_rscp_timestamp t = {0, 0};
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        t.seconds = (int64_t)ts.tv_sec;
        t.nanoseconds = (uint32_t)ts.tv_nsec;
    }
    return t;
}

uint64_t ew_io_clock_seed(const void *salt) {
    struct timespec a = {0, 0}, b = {0, 0};
    clock_gettime(CLOCK_REALTIME, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t s = (uint64_t)a.tv_sec * 1000000007u ^ (uint64_t)a.tv_nsec;
    s ^= ((uint64_t)b.tv_nsec << 32) ^ (uint64_t)b.tv_sec ^ (uint64_t)(uintptr_t)salt;
    return s ? s : 0x9E3779B97F4A7C15u;
}

uint64_t ew_io_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

void ew_io_logf(void (*log)(void *, int, const char *), void *user, int level, const char *fmt,
                ...) {
    if (!log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(user, level, line);
}

void ew_io_fmt(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

void ew_io_hostport(char *out, size_t cap, const char *host, unsigned port) {
    if (strchr(host, ':'))
        snprintf(out, cap, "[%s]:%u", host, port);
    else
        snprintf(out, cap, "%s:%u", host, port);
}

void ew_io_sockaddr_name(const struct sockaddr *sa, char *out, size_t cap) {
    char ip[64] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
    }
    ew_io_hostport(out, cap, ip, port);
}

char *ew_io_strdup(const char *s, int *ok) {
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, s, n);
    return d;
}

void ew_io_free_secret(char *s) {
    if (!s)
        return;
    /* volatile keeps the wipe from being optimised away before free(). */
    volatile char *v = s;
    while (*v)
        *v++ = 0;
    free(s);
}
