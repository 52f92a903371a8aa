/* Minimal test macros for the C tests: a failed check prints where and exits 1. */
#ifndef TS_CHECK_H
#define TS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

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

#endif /* TS_CHECK_H */
