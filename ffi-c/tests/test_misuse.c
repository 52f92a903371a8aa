/*
 * Misuse of the C API: NULL pointers, zero and impossible lengths, buffers too small,
 * freed and foreign handles, double frees, store callbacks that fail or return impossible
 * values, and callbacks that call back into their server. Every case must give a result
 * code, never a crash (the sanitizers and valgrind watch the memory). The last error of each
 * thread: set by every failing call with the full message, kept per thread, never
 * holding a secret.
 *
 *     test_misuse SCRATCH_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "mem_store.h"

static const uint64_t NOW = 1800000000;
static const uint8_t SECRET[] = "secret";
static const size_t SECRET_LEN = 6;
static char scratch[512];

static ts_allocate_request request(ts_storage_index si, uint64_t size) {
    ts_allocate_request req;
    memset(&req, 0, sizeof req);
    req.storage_index = si;
    req.renew_secret = filled_secret(1);
    req.cancel_secret = filled_secret(2);
    CHECK_OK(ts_share_set_insert(&req.share_numbers, 0));
    req.allocated_size = size;
    req.renew_leases = true;
    req.upload_secret = SECRET;
    req.upload_secret_len = SECRET_LEN;
    return req;
}

/* Uploads "abcdef" as share 0 of `si`. */
static void upload(ts_server *s, ts_storage_index si) {
    ts_allocate_request req = request(si, 6);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    bool complete;
    CHECK_OK(ts_server_write(s, &si, 0, SECRET, SECRET_LEN, 0, (const uint8_t *)"abcdef", 6, NOW, &complete));
    uint64_t size;
    CHECK_OK(ts_server_close(s, &si, 0, SECRET, SECRET_LEN, &size));
}

static void result_messages(void) {
    char buf[160];
    size_t n = 0;
    for (unsigned r = 0; r <= TS_STORAGE_LOCKED; r++) {
        CHECK_OK(ts_result_message(r, buf, sizeof buf, &n));
        CHECK(n > 0 && n < 128 && strlen(buf) == n);
    }
    /* Codes are appended, never renumbered. */
    CHECK(TS_ERROR == 29 && TS_STORAGE_LOCKED == 30);
    CHECK_OK(ts_result_message(TS_STORAGE_LOCKED, buf, sizeof buf, &n));
    CHECK(strcmp(buf, "the storage directory is in use by another server") == 0);
    CHECK_OK(ts_result_message(12345, buf, sizeof buf, &n));
    CHECK(strcmp(buf, "unknown result code") == 0);
    /* Asking for the size, then a buffer one byte short: the size needed is reported and
     * the buffer is untouched. */
    size_t needed = 0;
    CHECK_RESULT(ts_result_message(TS_NO_SPACE, NULL, 0, &needed), TS_BUFFER_TOO_SMALL);
    CHECK(needed == strlen("no space") + 1);
    memset(buf, 'x', sizeof buf);
    CHECK_RESULT(ts_result_message(TS_NO_SPACE, buf, needed - 1, &n), TS_BUFFER_TOO_SMALL);
    CHECK(n == needed && buf[0] == 'x');
    CHECK_OK(ts_result_message(TS_NO_SPACE, buf, needed, &n));
    CHECK(strcmp(buf, "no space") == 0);
    CHECK_RESULT(ts_result_message(TS_OK, buf, sizeof buf, NULL), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_result_message(TS_OK, NULL, 5, &n), TS_NULL_PARAMETER);
}

static void share_sets_and_config(void) {
    ts_share_set set = {{0, 0, 0, 0}};
    CHECK_RESULT(ts_share_set_insert(&set, 256), TS_INVALID_ARGUMENT);
    CHECK_RESULT(ts_share_set_insert(NULL, 1), TS_NULL_PARAMETER);
    CHECK_OK(ts_share_set_insert(&set, 255));
    CHECK(ts_share_set_contains(&set, 255) && !ts_share_set_contains(&set, 256));
    CHECK(!ts_share_set_contains(NULL, 1) && ts_share_set_count(NULL) == 0);
    CHECK(set.bits[3] == UINT64_C(1) << 63);
    CHECK_RESULT(ts_config_default(NULL), TS_NULL_PARAMETER);
    /* A misaligned pointer is refused, not dereferenced. */
    uint64_t raw[5];
    ts_share_set *odd = (ts_share_set *)(void *)((char *)raw + 1);
    CHECK_RESULT(ts_share_set_insert(odd, 1), TS_INVALID_ARGUMENT);
}

static void null_and_lengths(ts_server *s) {
    ts_storage_index si = filled_si(1);
    ts_node_id id = {{0}};
    ts_server *out = NULL;
    const char *dir = scratch;
    /* Creation. */
    CHECK_RESULT(ts_server_new_fs(NULL, 5, true, &id, NULL, NOW, &out), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_new_fs(dir, 0, true, &id, NULL, NOW, &out), TS_INVALID_ARGUMENT);
    CHECK_RESULT(ts_server_new_fs(dir, strlen(dir), true, NULL, NULL, NOW, &out), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_new_fs(dir, strlen(dir), true, &id, NULL, NOW, NULL), TS_NULL_PARAMETER);
    CHECK(out == NULL); /* outputs are written only on success */
    CHECK_RESULT(ts_server_new_callback(NULL, NULL, &id, NULL, NOW, &out), TS_NULL_PARAMETER);
    ts_store_callbacks partial = mem_store_callbacks();
    partial.share_sync = NULL;
    CHECK_RESULT(ts_server_new_callback(&partial, NULL, &id, NULL, NOW, &out), TS_NULL_PARAMETER);
    CHECK(out == NULL);

    /* NULL handles and inputs. */
    ts_share_set set;
    CHECK_RESULT(ts_server_shares(NULL, &si, &set), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_shares(s, NULL, &set), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_shares(s, &si, NULL), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_allocate_buckets(s, NULL, NOW, (ts_allocation *)&set), TS_NULL_PARAMETER);
    ts_allocate_request req = request(filled_si(2), 4);
    ts_allocation a;
    memset(&a, 0x5a, sizeof a);
    req.upload_secret = NULL;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_NULL_PARAMETER);
    req.upload_secret_len = 0; /* an empty secret */
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_INVALID_ARGUMENT);
    CHECK(a.allocated.bits[0] == UINT64_C(0x5a5a5a5a5a5a5a5a)); /* untouched */
    CHECK_RESULT(ts_server_for_each_lease(s, &si, NULL, NULL), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_uploads(s, NULL, NULL), TS_NULL_PARAMETER);

    /* Uploads: zero-length writes, NULL data, impossible lengths, share numbers. */
    req = request(filled_si(2), 4);
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    bool complete = true;
    CHECK_OK(ts_server_write(s, &req.storage_index, 0, SECRET, SECRET_LEN, 0, NULL, 0, NOW, &complete));
    CHECK(!complete);
    CHECK_RESULT(ts_server_write(s, &req.storage_index, 0, SECRET, SECRET_LEN, 0, NULL, 3, NOW, &complete),
                 TS_NULL_PARAMETER);
    CHECK_RESULT(
        ts_server_write(s, &req.storage_index, 0, SECRET, SECRET_LEN, 0, (const uint8_t *)"ab", SIZE_MAX, NOW, &complete),
        TS_INVALID_ARGUMENT);
    CHECK_RESULT(ts_server_write(s, &req.storage_index, 256, SECRET, SECRET_LEN, 0, (const uint8_t *)"ab", 2, NOW,
                                 &complete),
                 TS_INVALID_ARGUMENT);
    CHECK_RESULT(ts_server_write(s, &req.storage_index, 0, SECRET, 0, 0, (const uint8_t *)"ab", 2, NOW, &complete),
                 TS_INVALID_ARGUMENT);
    CHECK_RESULT(ts_server_write(s, &req.storage_index, 0, SECRET, SECRET_LEN, 0, (const uint8_t *)"ab", 2, NOW, NULL),
                 TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_write(s, &req.storage_index, 1, SECRET, SECRET_LEN, 0, (const uint8_t *)"ab", 2, NOW,
                                 &complete),
                 TS_NO_SUCH_UPLOAD);
    /* A NULL output fails the call before anything is done: the write did not happen. */
    size_t n = 77;
    ts_range ranges[1];
    CHECK_OK(ts_server_required_ranges(s, &req.storage_index, 0, SECRET, SECRET_LEN, ranges, 1, &n));
    CHECK(n == 1 && ranges[0].start == 0 && ranges[0].end == 4);

    /* Buffers too small: the count needed is reported, nothing else written. */
    CHECK_OK(ts_server_write(s, &req.storage_index, 0, SECRET, SECRET_LEN, 1, (const uint8_t *)"b", 1, NOW, &complete));
    ranges[0].start = 42;
    CHECK_RESULT(ts_server_required_ranges(s, &req.storage_index, 0, SECRET, SECRET_LEN, ranges, 1, &n),
                 TS_BUFFER_TOO_SMALL);
    CHECK(n == 2 && ranges[0].start == 42);
    CHECK_RESULT(ts_server_required_ranges(s, &req.storage_index, 0, SECRET, SECRET_LEN, NULL, 0, &n),
                 TS_BUFFER_TOO_SMALL);
    CHECK(n == 2);
    CHECK_RESULT(ts_server_required_ranges(s, &req.storage_index, 0, SECRET, SECRET_LEN, NULL, 2, &n),
                 TS_NULL_PARAMETER);

    /* Reads with zero-length and NULL buffers. */
    upload(s, si);
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, NULL, 0, &n));
    CHECK(n == 0);
    CHECK_RESULT(ts_server_read_share(s, &si, 0, 0, NULL, 4, &n), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_read_share(s, &si, 0, 0, (uint8_t *)ranges, 4, NULL), TS_NULL_PARAMETER);
    ts_reader *readers[1] = {NULL};
    upload(s, filled_si(3));
    CHECK_OK(ts_server_get_buckets(s, &si, readers, 1, &n));
    ts_reader_free(readers[0]);
    ts_storage_index unknown = filled_si(9);
    CHECK_OK(ts_server_get_buckets(s, &unknown, NULL, 0, &n));
    CHECK(n == 0);

    /* Mutable: NULL vectors with lengths, unknown operators, repeated share numbers. */
    ts_storage_index slot = filled_si(4);
    ts_slot_secrets sec = {filled_secret(5), filled_secret(6), filled_secret(7)};
    bool passed;
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, NULL, 1, NULL, 0, false, NOW, &passed, NULL),
                 TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &slot, NULL, NULL, 0, NULL, 0, false, NOW, &passed, NULL),
                 TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, NULL, 0, NULL, 0, false, NOW, NULL, NULL),
                 TS_NULL_PARAMETER);
    CHECK_OK(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, NULL, 0, NULL, 0, false, NOW, &passed, NULL));
    CHECK(passed);
    ts_test_vector gt = {0, 1, 7, (const uint8_t *)"a", 1};
    ts_slot_write w = {0, &gt, 1, NULL, 0, false, 0};
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, &w, 1, NULL, 0, false, NOW, &passed, NULL),
                 TS_UNSUPPORTED_OPERATOR);
    ts_write_vector wv = {0, NULL, 5};
    ts_slot_write w_null = {0, NULL, 0, &wv, 1, false, 0};
    CHECK_RESULT(
        ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, &w_null, 1, NULL, 0, false, NOW, &passed, NULL),
        TS_NULL_PARAMETER);
    ts_slot_write twice[2] = {{0, NULL, 0, NULL, 0, false, 0}, {0, NULL, 0, NULL, 0, false, 0}};
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, twice, 2, NULL, 0, false, NOW, &passed, NULL),
                 TS_INVALID_ARGUMENT);
    ts_write_vector huge = {UINT64_MAX - 1, (const uint8_t *)"ab", 2};
    ts_slot_write w_huge = {0, NULL, 0, &huge, 1, false, 0};
    CHECK_RESULT(
        ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, &w_huge, 1, NULL, 0, false, NOW, &passed, NULL),
        TS_DATA_TOO_LARGE);
    ts_read_results *reads = NULL;
    CHECK_RESULT(ts_server_slot_readv(s, &slot, NULL, NULL, 3, &reads), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_server_slot_readv(s, &slot, NULL, NULL, 0, NULL), TS_NULL_PARAMETER);
    CHECK(reads == NULL);
    CHECK_RESULT(ts_server_slot_readv(s, &si, NULL, NULL, 0, &reads), TS_UNKNOWN_MUTABLE_MAGIC);

    /* Advisories with empty text are fine; NULL text with a length is not. */
    ts_advise_outcome outcome;
    CHECK_OK(ts_server_advise_corrupt_share(s, NULL, 0, &si, 0, NULL, 0, NOW, &outcome));
    CHECK_RESULT(ts_server_advise_corrupt_share(s, NULL, 3, &si, 0, NULL, 0, NOW, &outcome), TS_NULL_PARAMETER);
}

static void handles(ts_server *s) {
    /* Freeing NULL is fine. */
    ts_server_free(NULL);
    ts_reader_free(NULL);
    ts_read_results_free(NULL);

    ts_storage_index si = filled_si(1);
    ts_reader *r = NULL;
    CHECK_OK(ts_server_open_bucket(s, &si, 0, &r));
    uint64_t len;
    /* A handle of another type is refused. */
    CHECK_RESULT(ts_reader_length((const ts_reader *)s, &len), TS_INVALID_HANDLE);
    ts_share_set set;
    CHECK_RESULT(ts_server_shares((const ts_server *)r, &si, &set), TS_INVALID_HANDLE);
    ts_server_free((ts_server *)r); /* ignored: not a server */
    CHECK_OK(ts_reader_length(r, &len));
    ts_reader_free(r);
    /* A freed handle is refused, and a second free is ignored. */
    CHECK_RESULT(ts_reader_length(r, &len), TS_INVALID_HANDLE);
    ts_reader_free(r);

    ts_read_results *reads = NULL;
    ts_read_vector rv = {0, 1};
    ts_storage_index slot = filled_si(4);
    CHECK_OK(ts_server_slot_readv(s, &slot, NULL, &rv, 1, &reads));
    size_t n;
    CHECK_OK(ts_read_results_len(reads, &n));
    ts_read_results_free(reads);
    CHECK_RESULT(ts_read_results_len(reads, &n), TS_INVALID_HANDLE);
    ts_read_results_free(reads);
    CHECK_RESULT(ts_read_results_len(NULL, &n), TS_NULL_PARAMETER);

    /* A stack object is not a handle. */
    int not_a_handle = 0;
    CHECK_RESULT(ts_server_shares((const ts_server *)(void *)&not_a_handle, &si, &set), TS_INVALID_HANDLE);
}

/* --- the last error ------------------------------------------------------------------ */

/* The calling thread's last error message (main thread only: one static buffer). */
static const char *last_message(void) {
    static char buf[1024];
    size_t needed = 0;
    CHECK_OK(ts_last_error_message(buf, sizeof buf, &needed));
    CHECK(needed == strlen(buf) + 1 && needed <= sizeof buf);
    return buf;
}

/* Whether `msg` shows none of the 32 bytes of a secret made of byte `b`: neither raw nor
 * in hex. */
static bool shows_no_secret(const char *msg, uint8_t b) {
    char raw[9], lower[17], upper[17];
    memset(raw, (char)b, 8);
    raw[8] = '\0';
    for (int i = 0; i < 8; i++) {
        snprintf(lower + 2 * i, 3, "%02x", b);
        snprintf(upper + 2 * i, 3, "%02X", b);
    }
    return strstr(msg, raw) == NULL && strstr(msg, lower) == NULL && strstr(msg, upper) == NULL;
}

static void last_error(ts_server *s) {
    char buf[256];
    size_t needed = 0;
    ts_storage_index si = filled_si(0x61);
    ts_share_set set;
    uint64_t len;

    /* Nothing recorded: TS_OK and an empty message. */
    ts_last_error_clear();
    CHECK(ts_last_error_code() == TS_OK);
    memset(buf, 'x', sizeof buf);
    CHECK_OK(ts_last_error_message(buf, sizeof buf, &needed));
    CHECK(buf[0] == '\0' && needed == 1);

    /* A failure records its code and message; a later success leaves them. */
    CHECK_RESULT(ts_server_shares(s, &si, NULL), TS_NULL_PARAMETER);
    CHECK(ts_last_error_code() == TS_NULL_PARAMETER);
    CHECK(strcmp(last_message(), "a required pointer argument was NULL") == 0);
    CHECK_OK(ts_server_shares(s, &si, &set));
    CHECK(ts_last_error_code() == TS_NULL_PARAMETER);
    CHECK(strcmp(last_message(), "a required pointer argument was NULL") == 0);

    /* The full text: which argument and why, not only the code's sentence. */
    CHECK_RESULT(ts_server_immutable_share_length(s, &si, 300, &len), TS_INVALID_ARGUMENT);
    CHECK(strcmp(last_message(), "share number 300 is not 0 to 255") == 0);
    ts_allocate_request req = request(si, 4);
    req.upload_secret_len = 0;
    ts_allocation a;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_INVALID_ARGUMENT);
    CHECK(strcmp(last_message(), "the upload secret is empty") == 0);
    ts_range ranges[1];
    size_t n = 0;
    req = request(si, 4);
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK_RESULT(ts_server_required_ranges(s, &si, 0, SECRET, SECRET_LEN, ranges, 0, &n), TS_BUFFER_TOO_SMALL);
    CHECK(ts_last_error_code() == TS_BUFFER_TOO_SMALL && strstr(last_message(), "1 needed") != NULL);
    CHECK_OK(ts_server_abort(s, &si, 0, SECRET, SECRET_LEN));
    CHECK_RESULT(ts_server_immutable_share_length(s, &si, 7, &len), TS_NO_SUCH_SHARE);
    CHECK(strcmp(last_message(), "no such share") == 0);

    /* Cut to the buffer as by snprintf, NUL-terminated; `needed` tells the whole size. */
    const char *full = "no such share";
    CHECK_OK(ts_last_error_message(NULL, 0, &needed));
    CHECK(needed == strlen(full) + 1);
    memset(buf, 'x', sizeof buf);
    CHECK_OK(ts_last_error_message(buf, 5, &needed));
    CHECK(memcmp(buf, "no s", 4) == 0 && buf[4] == '\0' && buf[5] == 'x' && needed == strlen(full) + 1);
    CHECK_OK(ts_last_error_message(buf, 1, NULL));
    CHECK(buf[0] == '\0');
    CHECK_OK(ts_last_error_message(buf, needed, NULL));
    CHECK(strcmp(buf, full) == 0);
    /* Asking never replaces it, even when the asking fails. */
    CHECK_RESULT(ts_last_error_message(NULL, 5, &needed), TS_NULL_PARAMETER);
    CHECK_RESULT(ts_result_message(TS_IO, NULL, 0, &needed), TS_BUFFER_TOO_SMALL);
    CHECK(ts_last_error_code() == TS_NO_SUCH_SHARE && strcmp(last_message(), full) == 0);

    /* An I/O error carries the operating system's text. */
    char file[600], below[700];
    snprintf(file, sizeof file, "%s/a-file", scratch);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL && fclose(f) == 0);
    snprintf(below, sizeof below, "%s/storage", file);
    ts_node_id id = {{0}};
    ts_server *out = NULL;
    CHECK_RESULT(ts_server_new_fs(below, strlen(below), false, &id, NULL, NOW, &out), TS_IO);
    CHECK(out == NULL && ts_last_error_code() == TS_IO);
    CHECK(strstr(last_message(), strerror(ENOTDIR)) != NULL);

    /* No secret in any message: wrong write enabler, renew and cancel secrets, upload
     * secret. */
    ts_storage_index slot = filled_si(0x62);
    ts_slot_secrets sec = {filled_secret('w'), filled_secret('r'), filled_secret('c')};
    ts_write_vector wv = {0, (const uint8_t *)"data", 4};
    ts_slot_write w = {0, NULL, 0, &wv, 1, false, 0};
    bool passed;
    CHECK_OK(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, &w, 1, NULL, 0, true, NOW, &passed, NULL));
    CHECK(passed);
    ts_slot_secrets wrong = {filled_secret('W'), filled_secret('R'), filled_secret('C')};
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &slot, &wrong, &w, 1, NULL, 0, true, NOW, &passed, NULL),
                 TS_BAD_WRITE_ENABLER);
    CHECK(strlen(last_message()) > 0);
    CHECK(shows_no_secret(last_message(), 'W') && shows_no_secret(last_message(), 'w'));
    ts_secret renew = filled_secret('R'), cancel = filled_secret('C');
    CHECK_RESULT(ts_server_renew_lease(s, &slot, &renew, NOW), TS_NO_SUCH_LEASE);
    CHECK(shows_no_secret(last_message(), 'R') && shows_no_secret(last_message(), 'r'));
    CHECK_RESULT(ts_server_cancel_lease(s, &slot, &cancel, &len), TS_NO_SUCH_LEASE);
    CHECK(shows_no_secret(last_message(), 'C') && shows_no_secret(last_message(), 'c'));
    static const uint8_t TOKEN[] = "hunter2-upload-token";
    req = request(si, 4);
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    bool complete;
    CHECK_RESULT(ts_server_write(s, &si, 0, TOKEN, sizeof TOKEN - 1, 0, (const uint8_t *)"ab", 2, NOW, &complete),
                 TS_BAD_UPLOAD_SECRET);
    CHECK(strlen(last_message()) > 0 && strstr(last_message(), "hunter2") == NULL);
    CHECK_OK(ts_server_abort(s, &si, 0, SECRET, SECRET_LEN));

    ts_last_error_clear();
    CHECK(ts_last_error_code() == TS_OK && strcmp(last_message(), "") == 0);
}

/* Two threads fail differently, wait for each other, then each reads its own last error
 * (and the main thread's is untouched). */
typedef struct thread_case {
    ts_server *server;
    pthread_barrier_t *both_failed;
    uint32_t share_number;
    bool clean_at_start;
    bool sees_own;
} thread_case;

static void *fail_then_read(void *arg) {
    thread_case *c = arg;
    ts_storage_index si = filled_si(1);
    uint64_t len;
    char buf[128] = "?";
    c->clean_at_start = ts_last_error_code() == TS_OK;
    ts_result r = ts_server_immutable_share_length(c->server, &si, c->share_number, &len);
    pthread_barrier_wait(c->both_failed);
    char want[64];
    snprintf(want, sizeof want, "share number %u is not 0 to 255", (unsigned)c->share_number);
    c->sees_own = r == TS_INVALID_ARGUMENT && ts_last_error_code() == TS_INVALID_ARGUMENT &&
                  ts_last_error_message(buf, sizeof buf, NULL) == TS_OK && strcmp(buf, want) == 0;
    return NULL;
}

static void last_error_threads(ts_server *s) {
    uint64_t len;
    ts_storage_index si = filled_si(1);
    CHECK_RESULT(ts_server_immutable_share_length(s, &si, 299, &len), TS_INVALID_ARGUMENT);
    pthread_barrier_t barrier;
    CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
    thread_case cases[2] = {{s, &barrier, 301, false, false}, {s, &barrier, 302, false, false}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        CHECK(pthread_create(&t[i], NULL, fail_then_read, &cases[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK(cases[i].clean_at_start && cases[i].sees_own);
    }
    CHECK(pthread_barrier_destroy(&barrier) == 0);
    CHECK(strcmp(last_message(), "share number 299 is not 0 to 255") == 0);
}

/* --- failing and lying store callbacks ----------------------------------------------- */

typedef enum fault {
    NONE,
    READ_FAILS,
    READ_TOO_LONG,
    READ_NOTHING,
    WRITE_TOO_LONG,
    WRITE_NOTHING,
    LEN_IMPOSSIBLE,
    LIST_GARBAGE,
    SPACE_FAILS,
    RECORD_TOO_LONG,
    RECORD_SMALL_LIE,
    VISIT_NULL,
    VISIT_BAD_SHNUM,
    VISIT_BAD_SI_LEN,
    CREATE_EXISTS,
    SYNC_FAILS,
} fault;

static fault active = NONE;
static ts_store_callbacks base;
static ts_server *reentry_target = NULL;
static ts_result reentry_result = TS_OK;
static ts_storage_index last_created; /* what create_incoming was last given */

static int f_read_at(void *ud, void *share, uint64_t off, uint8_t *buf, size_t len, size_t *out_n) {
    switch (active) {
    case READ_FAILS:
        return 5; /* EIO */
    case READ_TOO_LONG:
        *out_n = len + 1;
        return TS_CB_OK;
    case READ_NOTHING:
        *out_n = 0;
        return TS_CB_OK;
    default:
        return base.share_read_at(ud, share, off, buf, len, out_n);
    }
}

static int f_write_at(void *ud, void *share, uint64_t off, const uint8_t *data, size_t len, size_t *out_n) {
    if (active == WRITE_TOO_LONG) {
        *out_n = len + 1;
        return TS_CB_OK;
    }
    if (active == WRITE_NOTHING) {
        *out_n = 0;
        return TS_CB_OK;
    }
    /* Write in pieces of at most 7 bytes: the library must call again for the rest. */
    return base.share_write_at(ud, share, off, data, len > 7 ? 7 : len, out_n);
}

static int f_len(void *ud, void *share, uint64_t *out_len) {
    if (active == LEN_IMPOSSIBLE) {
        *out_len = UINT64_MAX;
        return TS_CB_OK;
    }
    return base.share_len(ud, share, out_len);
}

static int f_list(void *ud, const ts_storage_index *si, ts_share_set *out) {
    if (reentry_target != NULL) {
        ts_share_set set;
        reentry_result = ts_server_shares(reentry_target, si, &set);
    }
    if (active == LIST_GARBAGE) {
        return 0x7fff;
    }
    return base.list(ud, si, out);
}

static int f_space(void *ud, uint64_t *out) {
    if (active == SPACE_FAILS) {
        return -1;
    }
    return base.available_space(ud, out);
}

static int f_get_record(void *ud, const ts_storage_index *si, uint32_t n, uint8_t *buf, size_t buf_len,
                        size_t *out_len) {
    if (active == RECORD_TOO_LONG) {
        *out_len = buf_len + 10;
        return TS_CB_OK;
    }
    if (active == RECORD_SMALL_LIE) {
        *out_len = 1;
        return TS_CB_BUFFER_TOO_SMALL;
    }
    return base.get_upload_record(ud, si, n, buf, buf_len, out_len);
}

static int f_for_each_incoming(void *ud, ts_visit_incoming_fn visit, void *ctx) {
    if (active == VISIT_NULL) {
        visit(ctx, NULL, 0);
        return TS_CB_OK;
    }
    if (active == VISIT_BAD_SHNUM) {
        ts_storage_index si = filled_si(1);
        visit(ctx, &si, 300);
        return TS_CB_OK;
    }
    if (active == VISIT_BAD_SI_LEN) {
        ts_storage_index si = filled_si(1);
        si.len = 0;
        visit(ctx, &si, 0);
        return TS_CB_OK;
    }
    return base.for_each_incoming(ud, visit, ctx);
}

static int f_create_incoming(void *ud, const ts_storage_index *si, uint32_t n, void **out) {
    last_created = *si;
    if (active == CREATE_EXISTS) {
        return TS_CB_EXISTS;
    }
    return base.create_incoming(ud, si, n, out);
}

static int f_sync(void *ud, void *share) {
    if (active == SYNC_FAILS) {
        return 28; /* ENOSPC */
    }
    return base.share_sync(ud, share);
}

static bool reenter_visit(void *ud, uint32_t shnum, ts_share_kind kind, const ts_lease *lease) {
    (void)shnum;
    (void)kind;
    (void)lease;
    ts_share_set set;
    ts_storage_index si = filled_si(1);
    reentry_result = ts_server_shares(ud, &si, &set);
    ts_server_free(ud); /* ignored from inside a callback */
    return false;
}

static void callbacks(void) {
    base = mem_store_callbacks();
    ts_store_callbacks cb = base;
    cb.share_read_at = f_read_at;
    cb.share_write_at = f_write_at;
    cb.share_len = f_len;
    cb.list = f_list;
    cb.available_space = f_space;
    cb.get_upload_record = f_get_record;
    cb.for_each_incoming = f_for_each_incoming;
    cb.create_incoming = f_create_incoming;
    cb.share_sync = f_sync;

    mem_store *store = mem_store_new();
    CHECK(store != NULL);
    mem_store_set_capacity(store, 1 << 20);
    ts_node_id id = {{0}};
    ts_config config;
    CHECK_OK(ts_config_default(&config));
    config.resume_uploads = true;
    ts_server *s = NULL;
    CHECK_OK(ts_server_new_callback(&cb, store, &id, &config, NOW, &s));
    ts_storage_index si = filled_si(1);
    upload(s, si); /* written 7 bytes at a time */

    uint8_t buf[16];
    size_t n = 0;
    const struct {
        fault f;
        ts_result want;
    } read_faults[] = {{READ_FAILS, TS_IO}, {READ_TOO_LONG, TS_IO}, {READ_NOTHING, TS_IO}, {LEN_IMPOSSIBLE, TS_IO},
                       {LIST_GARBAGE, TS_OK}};
    for (size_t i = 0; i < sizeof read_faults / sizeof read_faults[0]; i++) {
        active = read_faults[i].f;
        CHECK_RESULT(ts_server_read_share(s, &si, 0, 0, buf, sizeof buf, &n), read_faults[i].want);
    }
    /* The last error names the callback and its status. */
    active = READ_FAILS;
    CHECK_RESULT(ts_server_read_share(s, &si, 0, 0, buf, sizeof buf, &n), TS_IO);
    CHECK(strstr(last_message(), "store callback share_read_at failed with status 5") != NULL);
    active = LIST_GARBAGE;
    ts_share_set set;
    CHECK_RESULT(ts_server_shares(s, &si, &set), TS_IO);
    CHECK(strstr(last_message(), "store callback list failed with status 32767") != NULL);
    active = NONE;
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, buf, sizeof buf, &n));
    CHECK(n == 6 && memcmp(buf, "abcdef", 6) == 0);

    /* Writes that lie about their progress. */
    ts_storage_index si2 = filled_si(2);
    ts_allocate_request req = request(si2, 6);
    ts_allocation a;
    active = SPACE_FAILS;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_IO);
    active = CREATE_EXISTS;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_ALREADY_EXISTS);
    active = WRITE_TOO_LONG;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_IO);
    active = WRITE_NOTHING;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_IO);
    active = NONE;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(ts_share_set_count(&a.allocated) == 1);
    bool complete;
    active = SYNC_FAILS; /* with resume_uploads, a write syncs */
    CHECK_RESULT(ts_server_write(s, &si2, 0, SECRET, SECRET_LEN, 0, (const uint8_t *)"xyz", 3, NOW, &complete),
                 TS_IO);
    CHECK(strstr(last_message(), "store callback share_sync failed with status 28") != NULL);
    active = NONE;
    CHECK_RESULT(ts_server_write(s, &si2, 0, SECRET, SECRET_LEN, 0, (const uint8_t *)"xyz", 3, NOW, &complete),
                 TS_POISONED);
    CHECK_OK(ts_server_abort(s, &si2, 0, SECRET, SECRET_LEN));

    /* A full store: a new lease does not fit, and that is TS_NO_SPACE with its message. */
    mem_store_set_capacity(store, 0);
    ts_secret renew = filled_secret('N'), cancel = filled_secret('n');
    size_t count = 99;
    CHECK_RESULT(ts_server_add_lease(s, &si, &renew, &cancel, 0, NOW, &count), TS_NO_SPACE);
    CHECK(count == 99 && ts_last_error_code() == TS_NO_SPACE && strcmp(last_message(), "no space") == 0);
    mem_store_set_capacity(store, 1 << 20);

    /* Store callbacks get a storage index's real length, zeros past it. */
    ts_storage_index short_si;
    CHECK_OK(ts_storage_index_from_bytes((const uint8_t *)"si1", 3, &short_si));
    req = request(short_si, 6);
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(last_created.len == 3 && memcmp(last_created.bytes, "si1", 3) == 0);
    for (size_t i = 3; i < sizeof last_created.bytes; i++) {
        CHECK(last_created.bytes[i] == 0);
    }
    CHECK_OK(ts_server_abort(s, &short_si, 0, SECRET, SECRET_LEN));

    /* Re-entrant calls from callbacks are refused, and do not deadlock. */
    CHECK_OK(ts_server_for_each_lease(s, &si, reenter_visit, s));
    CHECK(reentry_result == TS_REENTRANT_CALL);
    reentry_target = s;
    reentry_result = TS_OK;
    CHECK_OK(ts_server_shares(s, &si, &set));
    CHECK(reentry_result == TS_REENTRANT_CALL);
    reentry_target = NULL;

    /* An upload left incoming, then restarts with lying record and visitor callbacks. */
    ts_storage_index si3 = filled_si(3);
    req = request(si3, 6);
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK_OK(ts_server_write(s, &si3, 0, SECRET, SECRET_LEN, 0, (const uint8_t *)"abc", 3, NOW, &complete));
    ts_server_free(s);
    const fault restart_faults[] = {RECORD_TOO_LONG, VISIT_NULL, VISIT_BAD_SHNUM, VISIT_BAD_SI_LEN};
    for (size_t i = 0; i < sizeof restart_faults / sizeof restart_faults[0]; i++) {
        active = restart_faults[i];
        s = NULL;
        CHECK_RESULT(ts_server_new_callback(&cb, store, &id, &config, NOW, &s), TS_IO);
        CHECK(s == NULL);
    }
    /* A visitor given a storage index of a bad length says what is accepted. */
    CHECK(strstr(last_message(), "storage index of 0 bytes (1 to 32 accepted)") != NULL);
    /* A record too big for the library's buffer is not trusted: the upload is discarded. */
    active = RECORD_SMALL_LIE;
    CHECK_RESULT(ts_server_new_callback(&cb, store, &id, &config, NOW, &s), TS_IO);
    active = NONE;
    CHECK_OK(ts_server_new_callback(&cb, store, &id, &config, NOW, &s));
    bool in_progress = false;
    CHECK_OK(ts_server_upload_in_progress(s, &si3, 0, &in_progress));
    CHECK(in_progress);
    ts_server_free(s);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
}

int main(int argc, char **argv) {
    snprintf(scratch, sizeof scratch, "%s/misuse", scratch_arg(argc, argv));
    result_messages();
    share_sets_and_config();

    ts_node_id id = {{0}};
    ts_server *s = NULL;
    CHECK_OK(ts_server_new_fs(scratch, strlen(scratch), false, &id, NULL, NOW, &s));
    null_and_lengths(s);
    handles(s);
    last_error(s);
    last_error_threads(s);
    ts_server_free(s);
    /* Double free of a server: ignored. */
    ts_server_free(s);
    ts_share_set set;
    ts_storage_index si = filled_si(1);
    CHECK_RESULT(ts_server_shares(s, &si, &set), TS_INVALID_HANDLE);

    callbacks();
    printf("test_misuse: all checks passed\n");
    return 0;
}
