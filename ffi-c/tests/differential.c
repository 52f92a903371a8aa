/*
 * The C half of the differential test: runs differential.script through the C API over a
 * storage directory and prints one line per op. tests/differential.rs runs the same script
 * through the Rust core and compares the transcripts and the directories byte for byte.
 *
 *     differential SCRIPT STORAGE_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static ts_server *server = NULL;
static const char *dir;
static uint64_t now = 0;

static void start(void) {
    ts_node_id id;
    memset(id.bytes, 0x42, sizeof id.bytes);
    CHECK_OK(ts_server_new_fs(dir, strlen(dir), true, &id, NULL, now, &server));
}

static uint8_t byte_of(const char *tok) {
    CHECK(tok != NULL);
    long v = strtol(tok, NULL, 10);
    CHECK(v >= 0 && v <= 255);
    return (uint8_t)v;
}

static uint64_t num(const char *tok) {
    CHECK(tok != NULL);
    return strtoull(tok, NULL, 10);
}

static const char *word(const char *tok) {
    CHECK(tok != NULL);
    return tok;
}

/* "B" is 16 bytes of value B; "B*N" is N bytes of value B (1 to 32). */
static ts_storage_index si_of(const char *tok) {
    CHECK(tok != NULL);
    uint8_t bytes[TS_STORAGE_INDEX_MAX_LEN];
    size_t len = 16;
    const char *star = strchr(tok, '*');
    if (star != NULL) {
        len = (size_t)num(star + 1);
        CHECK(len >= 1 && len <= sizeof bytes);
    }
    memset(bytes, byte_of(tok), len);
    ts_storage_index si;
    CHECK_OK(ts_storage_index_from_bytes(bytes, len, &si));
    return si;
}

static ts_secret secret_of(const char *tok) {
    ts_secret s;
    memset(s.bytes, byte_of(tok), sizeof s.bytes);
    return s;
}

static void print_set(const char *name, const ts_share_set *set) {
    printf(" %s=", name);
    bool first = true;
    for (uint32_t n = 0; n < 256; n++) {
        if (ts_share_set_contains(set, n)) {
            printf(first ? "%" PRIu32 : ",%" PRIu32, n);
            first = false;
        }
    }
}

static void print_hex(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
}

static void print_reads(ts_read_results *reads) {
    size_t shares;
    CHECK_OK(ts_read_results_len(reads, &shares));
    printf(" reads=");
    for (size_t i = 0; i < shares; i++) {
        uint32_t shnum;
        size_t count;
        CHECK_OK(ts_read_results_share(reads, i, &shnum, &count));
        printf("%s%" PRIu32 ":", i ? ";" : "", shnum);
        for (size_t j = 0; j < count; j++) {
            const uint8_t *data;
            size_t len;
            CHECK_OK(ts_read_results_data(reads, i, j, &data, &len));
            if (j) {
                printf("/");
            }
            print_hex(data, len);
        }
    }
}

/* Runs one op; prints its result code and outputs. */
static void run(char *op) {
    ts_result r = TS_OK;
    if (strcmp(op, "allocate") == 0) {
        ts_allocate_request req;
        memset(&req, 0, sizeof req);
        req.storage_index = si_of(strtok(NULL, " "));
        req.renew_secret = secret_of(strtok(NULL, " "));
        req.cancel_secret = secret_of(strtok(NULL, " "));
        const char *secret = word(strtok(NULL, " "));
        req.upload_secret = (const uint8_t *)secret;
        req.upload_secret_len = strlen(secret);
        req.allocated_size = num(strtok(NULL, " "));
        char *list = strtok(NULL, " ");
        CHECK(list != NULL);
        for (char *n = strtok(list, ","); n != NULL; n = strtok(NULL, ",")) {
            CHECK_OK(ts_share_set_insert(&req.share_numbers, (uint32_t)num(n)));
        }
        req.renew_leases = true;
        ts_allocation a;
        r = ts_server_allocate_buckets(server, &req, now, &a);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            print_set("already", &a.already_have);
            print_set("allocated", &a.allocated);
        }
    } else if (strcmp(op, "write") == 0 || strcmp(op, "close") == 0 || strcmp(op, "abort") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        uint32_t shnum = (uint32_t)num(strtok(NULL, " "));
        const char *secret = word(strtok(NULL, " "));
        if (op[0] == 'w') {
            uint64_t offset = num(strtok(NULL, " "));
            const char *data = word(strtok(NULL, " "));
            bool complete;
            r = ts_server_write(server, &si, shnum, (const uint8_t *)secret, strlen(secret), offset,
                                (const uint8_t *)data, strlen(data), now, &complete);
            printf(" %u", (unsigned)r);
            if (r == TS_OK) {
                printf(" complete=%d", complete);
            }
        } else if (op[0] == 'c') {
            uint64_t size;
            r = ts_server_close(server, &si, shnum, (const uint8_t *)secret, strlen(secret), &size);
            printf(" %u", (unsigned)r);
            if (r == TS_OK) {
                printf(" size=%" PRIu64, size);
            }
        } else {
            r = ts_server_abort(server, &si, shnum, (const uint8_t *)secret, strlen(secret));
            printf(" %u", (unsigned)r);
        }
    } else if (strcmp(op, "read") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        uint32_t shnum = (uint32_t)num(strtok(NULL, " "));
        uint64_t offset = num(strtok(NULL, " "));
        size_t length = (size_t)num(strtok(NULL, " "));
        uint8_t *buf = malloc(length ? length : 1);
        CHECK(buf != NULL);
        size_t n;
        r = ts_server_read_share(server, &si, shnum, offset, buf, length, &n);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            printf(" data=");
            print_hex(buf, n);
        }
        free(buf);
    } else if (strcmp(op, "add_lease") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        ts_secret renew = secret_of(strtok(NULL, " "));
        ts_secret cancel = secret_of(strtok(NULL, " "));
        uint32_t owner = (uint32_t)num(strtok(NULL, " "));
        size_t count;
        r = ts_server_add_lease(server, &si, &renew, &cancel, owner, now, &count);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            printf(" count=%zu", count);
        }
    } else if (strcmp(op, "renew") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        ts_secret renew = secret_of(strtok(NULL, " "));
        r = ts_server_renew_lease(server, &si, &renew, now);
        printf(" %u", (unsigned)r);
    } else if (strcmp(op, "cancel") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        ts_secret cancel = secret_of(strtok(NULL, " "));
        uint64_t freed;
        r = ts_server_cancel_lease(server, &si, &cancel, &freed);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            printf(" freed=%" PRIu64, freed);
        }
    } else if (strcmp(op, "slot") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        ts_slot_secrets sec;
        sec.write_enabler = secret_of(strtok(NULL, " "));
        sec.renew_secret = secret_of(strtok(NULL, " "));
        sec.cancel_secret = secret_of(strtok(NULL, " "));
        ts_slot_write w;
        memset(&w, 0, sizeof w);
        w.share_number = (uint32_t)num(strtok(NULL, " "));
        const char *toff = word(strtok(NULL, " "));
        const char *specimen = word(strtok(NULL, " "));
        const char *woff = word(strtok(NULL, " "));
        const char *data = word(strtok(NULL, " "));
        const char *newlen = word(strtok(NULL, " "));
        ts_test_vector t;
        if (strcmp(specimen, "-") != 0) {
            bool empty = strcmp(specimen, "~") == 0;
            t.offset = num(toff);
            t.length = empty ? 1 : strlen(specimen);
            t.op = TS_TEST_EQ;
            t.specimen = (const uint8_t *)specimen;
            t.specimen_len = empty ? 0 : strlen(specimen);
            w.tests = &t;
            w.tests_len = 1;
        }
        ts_write_vector wv;
        if (strcmp(data, "-") != 0) {
            wv.offset = num(woff);
            wv.data = (const uint8_t *)data;
            wv.data_len = strlen(data);
            w.writes = &wv;
            w.writes_len = 1;
        }
        if (strcmp(newlen, "-") != 0) {
            w.has_new_length = true;
            w.new_length = num(newlen);
        }
        ts_read_vector rv = {0, 64};
        bool passed;
        ts_read_results *reads = NULL;
        r = ts_server_slot_testv_and_readv_and_writev(server, &si, &sec, &w, 1, &rv, 1, true, now, &passed, &reads);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            printf(" passed=%d", passed);
            print_reads(reads);
            ts_read_results_free(reads);
        }
    } else if (strcmp(op, "readv") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        ts_read_vector rv;
        rv.offset = num(strtok(NULL, " "));
        rv.length = num(strtok(NULL, " "));
        ts_read_results *reads = NULL;
        r = ts_server_slot_readv(server, &si, NULL, &rv, 1, &reads);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            print_reads(reads);
            ts_read_results_free(reads);
        }
    } else if (strcmp(op, "advise") == 0) {
        ts_storage_index si = si_of(strtok(NULL, " "));
        uint32_t shnum = (uint32_t)num(strtok(NULL, " "));
        const char *type = word(strtok(NULL, " "));
        const char *reason = word(strtok(NULL, " "));
        ts_advise_outcome outcome;
        r = ts_server_advise_corrupt_share(server, type, strlen(type), &si, shnum, reason, strlen(reason), now,
                                           &outcome);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            printf(" outcome=%u", (unsigned)outcome);
        }
    } else if (strcmp(op, "expire") == 0) {
        size_t count;
        r = ts_server_expire_stale_uploads(server, now, NULL, NULL, &count);
        printf(" %u", (unsigned)r);
        if (r == TS_OK) {
            printf(" count=%zu", count);
        }
    } else if (strcmp(op, "restart") == 0) {
        ts_server_free(server);
        start();
        printf(" 0");
    } else {
        fprintf(stderr, "unknown op %s\n", op);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SCRIPT STORAGE_DIR\n", argv[0]);
        return 2;
    }
    FILE *script = fopen(argv[1], "r");
    CHECK(script != NULL);
    dir = argv[2];
    char line[1024];
    unsigned lineno = 0;
    while (fgets(line, sizeof line, script) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *op = strtok(line, " ");
        if (op == NULL || op[0] == '#') {
            continue;
        }
        if (strcmp(op, "time") == 0) {
            now = num(strtok(NULL, " "));
            continue;
        }
        if (server == NULL) {
            start();
        }
        printf("%u %s", lineno, op);
        run(op);
        printf("\n");
    }
    fclose(script);
    ts_server_free(server);
    return 0;
}
