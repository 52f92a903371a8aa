/* What the C tests share: checks (a failed one prints where and exits 1) and the helpers
 * every test writes its values with. The helpers are static inline, so a test that uses
 * only some of them gets no unused-function warning. */
#ifndef TS_CHECK_H
#define TS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tahoe_shares.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_RESULT(expr, want)                                                      \
    do {                                                                              \
        ts_result got_ = (expr);                                                      \
        if (got_ != (want)) {                                                         \
            char msg_[160] = "?";                                                     \
            size_t n_;                                                                \
            (void)ts_result_message(got_, msg_, sizeof msg_, &n_);                    \
            fprintf(stderr, "%s:%d: %s\n  returned %u (%s), expected %s\n", __FILE__, \
                    __LINE__, #expr, (unsigned)got_, msg_, #want);                    \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_OK(expr) CHECK_RESULT(expr, TS_OK)

/* A 16-byte storage index, every byte `b`. */
static inline ts_storage_index filled_si(uint8_t b) {
    uint8_t bytes[16];
    memset(bytes, b, sizeof bytes);
    ts_storage_index si;
    CHECK_OK(ts_storage_index_from_bytes(bytes, sizeof bytes, &si));
    return si;
}

/* A 32-byte secret, every byte `b`. */
static inline ts_secret filled_secret(uint8_t b) {
    ts_secret s;
    memset(s.bytes, b, sizeof s.bytes);
    return s;
}

/* The one argument of a test program, its scratch directory; prints the usage and exits 2
 * when it is not given. */
static inline const char *scratch_arg(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        exit(2);
    }
    return argv[1];
}

#endif /* TS_CHECK_H */
