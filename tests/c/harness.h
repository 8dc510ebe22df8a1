/* Shared helpers of the C tests of libdrfgate: checks that report where they failed, hex
 * decoding for the case files the Rust side writes, and a request builder. */
#ifndef DRFGATE_TEST_HARNESS_H
#define DRFGATE_TEST_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drfgate.h"

static int harness_failures = 0;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            harness_failures++;                                                            \
        }                                                                                  \
    } while (0)

#define CHECK_RESULT(call, expected)                                                       \
    do {                                                                                   \
        drfgate_result got_ = (call);                                                      \
        if (got_ != (expected)) {                                                          \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %u\n  last error: %s\n", \
                    __FILE__, __LINE__, #call, (unsigned)got_,                             \
                    drfgate_result_text(got_), (unsigned)(expected), last_error());        \
            harness_failures++;                                                            \
        }                                                                                  \
    } while (0)

static inline void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* The calling thread's last drfgate error, in a per-thread buffer. */
static inline const char *last_error(void) {
    static __thread char buf[1024];
    size_t n = 0;
    if (drfgate_last_error_message(buf, sizeof buf, &n) != DRFGATE_RESULT_OK) {
        return "(drfgate_last_error_message failed)";
    }
    return buf;
}

static inline drfgate_bytes bytes_of(const char *text) {
    drfgate_bytes b;
    b.data = (const uint8_t *)text;
    b.len = text ? strlen(text) : 0;
    return b;
}

static inline int str_is(drfgate_str s, const char *expected) {
    return s.len == strlen(expected) && memcmp(s.data, expected, s.len) == 0;
}

static inline int bytes_are(drfgate_bytes b, const char *expected) {
    return b.len == strlen(expected) && memcmp(b.data, expected, b.len) == 0;
}

/* Reads a whole file; NUL-terminated for convenience, length in *len. */
static inline char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open %s", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* Decodes a hex token in place; "-" means absent (returns 0 and sets *present = 0). */
static inline size_t unhex(char *token, int *present) {
    if (strcmp(token, "-") == 0) {
        *present = 0;
        return 0;
    }
    *present = 1;
    if (strcmp(token, "~") == 0) { /* present but empty */
        token[0] = 0;
        return 0;
    }
    size_t n = strlen(token) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(token + 2 * i, "%2x", &v) != 1) die("bad hex: %s", token);
        token[i] = (char)v;
    }
    token[n] = 0;
    return n;
}

static inline void print_hex(FILE *out, const void *data, size_t len) {
    const unsigned char *p = data;
    if (len == 0) fputs("~", out); /* present but empty */
    for (size_t i = 0; i < len; i++) fprintf(out, "%02x", p[i]);
}

/* Resident set size in KiB, from /proc/self/statm. */
static inline long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident * 4;
}

static inline drfgate_gate *gate_from_path_or_die(const char *path) {
    drfgate_gate *gate = NULL;
    drfgate_result r = drfgate_gate_new_from_path(path, &gate);
    if (r != DRFGATE_RESULT_OK) die("drfgate_gate_new_from_path(%s): %s: %s", path, drfgate_result_text(r), last_error());
    return gate;
}

static inline int harness_exit(const char *name) {
    if (harness_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, harness_failures);
        return 1;
    }
    fprintf(stderr, "%s: ok\n", name);
    return 0;
}

#endif
