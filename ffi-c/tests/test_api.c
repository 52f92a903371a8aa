/*
 * The whole C API, used as intended, over a storage directory and over the C memory
 * store: uploads, readers, leases, mutable slots, queries, advisories, expiry, resumed
 * uploads, readers outliving their server, and several threads sharing one server.
 *
 *     test_api SCRATCH_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "mem_store.h"

static const uint64_t NOW = 1800000000;
static const char *SECRET = "upload secret";
static char scratch[512];

static ts_node_id node(uint8_t b) {
    ts_node_id id;
    memset(id.bytes, b, sizeof id.bytes);
    return id;
}

/* A directory under the scratch directory, for one server. */
static const char *dir_for(const char *name) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    return path;
}

static ts_allocate_request request(ts_storage_index si, uint64_t size, uint32_t first, uint32_t count) {
    ts_allocate_request req;
    memset(&req, 0, sizeof req);
    req.storage_index = si;
    req.renew_secret = filled_secret(0x10);
    req.cancel_secret = filled_secret(0x20);
    for (uint32_t i = first; i < first + count; i++) {
        CHECK_OK(ts_share_set_insert(&req.share_numbers, i));
    }
    req.allocated_size = size;
    req.renew_leases = true;
    req.upload_secret = (const uint8_t *)SECRET;
    req.upload_secret_len = strlen(SECRET);
    return req;
}

static ts_result write_share(ts_server *s, ts_storage_index si, uint32_t n, uint64_t off, const char *data,
                             bool *complete) {
    return ts_server_write(s, &si, n, (const uint8_t *)SECRET, strlen(SECRET), off, (const uint8_t *)data,
                           strlen(data), NOW, complete);
}

static ts_result close_share(ts_server *s, ts_storage_index si, uint32_t n) {
    uint64_t size;
    return ts_server_close(s, &si, n, (const uint8_t *)SECRET, strlen(SECRET), &size);
}

/* --- visitors ---------------------------------------------------------------------- */

typedef struct lease_count {
    size_t immutable, mutable_;
    uint32_t last_expiry;
} lease_count;

static bool count_lease(void *ud, uint32_t shnum, ts_share_kind kind, const ts_lease *lease) {
    lease_count *c = ud;
    (void)shnum;
    if (kind == TS_SHARE_MUTABLE) {
        c->mutable_++;
        CHECK(lease->has_nodeid);
    } else {
        c->immutable++;
        CHECK(!lease->has_nodeid);
    }
    CHECK(lease->hashed_secrets);
    c->last_expiry = lease->expiration_time;
    return true;
}

static bool count_upload(void *ud, const ts_upload_info *u) {
    size_t *n = ud;
    CHECK(u->allocated_size > 0);
    (*n)++;
    return true;
}

static void on_expired(void *ud, const ts_storage_index *si, uint32_t shnum) {
    size_t *n = ud;
    (void)si;
    (void)shnum;
    (*n)++;
}

/* --- the scenario, run over each kind of store ------------------------------------- */

static void immutable_uploads(ts_server *s) {
    ts_storage_index si = filled_si(1);
    ts_allocate_request req = request(si, 10, 0, 3);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(ts_share_set_count(&a.allocated) == 3);
    CHECK(ts_share_set_count(&a.already_have) == 0);
    /* An identical request is idempotent. */
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(ts_share_set_count(&a.allocated) == 3);

    bool in_progress = false;
    CHECK_OK(ts_server_upload_in_progress(s, &si, 1, &in_progress));
    CHECK(in_progress);
    uint64_t allocated;
    CHECK_OK(ts_server_allocated_size(s, &allocated));
    CHECK(allocated == 30);
    size_t uploads = 0;
    CHECK_OK(ts_server_uploads(s, count_upload, &uploads));
    CHECK(uploads == 3);

    bool complete = true;
    CHECK_OK(write_share(s, si, 0, 5, "world", &complete));
    CHECK(!complete);
    ts_range ranges[4];
    size_t n = 99;
    CHECK_OK(ts_server_required_ranges(s, &si, 0, (const uint8_t *)SECRET, strlen(SECRET), ranges, 4, &n));
    CHECK(n == 1 && ranges[0].start == 0 && ranges[0].end == 5);
    CHECK_RESULT(write_share(s, si, 0, 3, "XXXX", &complete), TS_CONFLICTING_WRITE);
    CHECK_RESULT(write_share(s, si, 0, 10, "!", &complete), TS_DATA_TOO_LARGE);
    CHECK_OK(write_share(s, si, 0, 0, "hello", &complete));
    CHECK(complete);
    CHECK_OK(close_share(s, si, 0));
    CHECK_RESULT(close_share(s, si, 0), TS_NO_SUCH_UPLOAD);
    CHECK_RESULT(ts_server_abort(s, &si, 1, (const uint8_t *)"wrong", 5), TS_BAD_UPLOAD_SECRET);
    CHECK_OK(ts_server_abort(s, &si, 1, (const uint8_t *)SECRET, strlen(SECRET)));
    CHECK_OK(write_share(s, si, 2, 0, "0123456789", &complete));
    CHECK_OK(close_share(s, si, 2));

    ts_share_set held;
    CHECK_OK(ts_server_shares(s, &si, &held));
    CHECK(ts_share_set_count(&held) == 2 && ts_share_set_contains(&held, 0) && ts_share_set_contains(&held, 2));
    uint64_t len;
    CHECK_OK(ts_server_immutable_share_length(s, &si, 0, &len));
    CHECK(len == 10);
    CHECK_RESULT(ts_server_mutable_share_length(s, &si, 0, &len), TS_UNKNOWN_MUTABLE_MAGIC);
    CHECK_RESULT(ts_server_immutable_share_length(s, &si, 1, &len), TS_NO_SUCH_SHARE);
    ts_share_stat stat;
    CHECK_OK(ts_server_stat_share(s, &si, 0, &stat));
    CHECK(stat.kind == TS_SHARE_IMMUTABLE && stat.data_length == 10 && stat.num_leases == 1);

    /* Reading: one-shot, truncated at the end, and past it. */
    uint8_t buf[32];
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, buf, sizeof buf, &n));
    CHECK(n == 10 && memcmp(buf, "helloworld", 10) == 0);
    CHECK_OK(ts_server_read_share(s, &si, 0, 8, buf, sizeof buf, &n));
    CHECK(n == 2 && memcmp(buf, "ld", 2) == 0);
    CHECK_OK(ts_server_read_share(s, &si, 0, 100, buf, sizeof buf, &n));
    CHECK(n == 0);

    /* Readers. */
    ts_reader *r = NULL;
    CHECK_OK(ts_server_open_bucket(s, &si, 2, &r));
    uint64_t rlen;
    CHECK_OK(ts_reader_length(r, &rlen));
    CHECK(rlen == 10);
    ts_storage_index rsi;
    uint32_t rn;
    CHECK_OK(ts_reader_share(r, &rsi, &rn));
    CHECK(rn == 2 && memcmp(&rsi, &si, sizeof si) == 0);
    CHECK_OK(ts_reader_read(r, 3, buf, 4, &n));
    CHECK(n == 4 && memcmp(buf, "3456", 4) == 0);
    ts_reader_free(r);
    ts_reader *readers[2];
    CHECK_OK(ts_server_get_buckets(s, &si, readers, 2, &n));
    CHECK(n == 2);
    CHECK_OK(ts_reader_share(readers[1], &rsi, &rn));
    CHECK(rn == 2);
    ts_reader_free(readers[0]);
    ts_reader_free(readers[1]);
    CHECK_RESULT(ts_server_open_bucket(s, &si, 1, &r), TS_NO_SUCH_SHARE);
}

static void leases(ts_server *s) {
    ts_storage_index si = filled_si(1);
    ts_secret renew = filled_secret(0x30), cancel = filled_secret(0x40);
    size_t count = 0;
    CHECK_OK(ts_server_add_lease(s, &si, &renew, &cancel, 1, NOW, &count));
    CHECK(count == 2);
    lease_count c = {0, 0, 0};
    CHECK_OK(ts_server_for_each_lease(s, &si, count_lease, &c));
    CHECK(c.immutable == 4 && c.mutable_ == 0);
    CHECK_OK(ts_server_renew_lease(s, &si, &renew, NOW + 100));
    ts_secret unknown = filled_secret(0x99);
    CHECK_RESULT(ts_server_renew_lease(s, &si, &unknown, NOW), TS_NO_SUCH_LEASE);
    uint64_t freed = 1;
    CHECK_OK(ts_server_cancel_lease(s, &si, &cancel, &freed));
    CHECK(freed > 0);
    ts_storage_index empty = filled_si(0x77);
    CHECK_OK(ts_server_add_lease(s, &empty, &renew, &cancel, 1, NOW, &count));
    CHECK(count == 0);
}

static void mutable_slots(ts_server *s) {
    ts_storage_index slot = filled_si(2);
    ts_slot_secrets sec = {filled_secret(0x50), filled_secret(0x51), filled_secret(0x52)};
    ts_test_vector is_empty = {0, 1, TS_TEST_EQ, NULL, 0};
    ts_write_vector wv[2] = {{0, (const uint8_t *)"first ", 6}, {6, (const uint8_t *)"version", 7}};
    ts_slot_write w[2] = {{0, &is_empty, 1, wv, 2, false, 0}, {3, NULL, 0, wv, 1, false, 0}};
    ts_read_vector rv[2] = {{0, 5}, {6, 100}};
    bool passed = false;
    ts_read_results *reads = NULL;
    CHECK_OK(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, w, 2, rv, 2, true, NOW, &passed, &reads));
    CHECK(passed);
    size_t n;
    CHECK_OK(ts_read_results_len(reads, &n));
    CHECK(n == 0); /* no share existed before */
    ts_read_results_free(reads);

    /* A failing test: nothing written, the reads come back. */
    ts_test_vector wrong = {0, 5, TS_TEST_EQ, (const uint8_t *)"other", 5};
    ts_slot_write w2 = {0, &wrong, 1, wv, 1, true, 0};
    CHECK_OK(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, &w2, 1, rv, 2, false, NOW, &passed, &reads));
    CHECK(!passed);
    CHECK_OK(ts_read_results_len(reads, &n));
    CHECK(n == 2);
    uint32_t shnum;
    size_t count;
    const uint8_t *data;
    size_t len;
    CHECK_OK(ts_read_results_share(reads, 1, &shnum, &count));
    CHECK(shnum == 3 && count == 2);
    CHECK_OK(ts_read_results_data(reads, 0, 0, &data, &len));
    CHECK(len == 5 && memcmp(data, "first", 5) == 0);
    CHECK_OK(ts_read_results_data(reads, 0, 1, &data, &len));
    CHECK(len == 7 && memcmp(data, "version", 7) == 0);
    CHECK_OK(ts_read_results_data(reads, 1, 1, &data, &len));
    CHECK(len == 0);
    CHECK_RESULT(ts_read_results_data(reads, 2, 0, &data, &len), TS_INVALID_ARGUMENT);
    CHECK_RESULT(ts_read_results_share(reads, 2, &shnum, &count), TS_INVALID_ARGUMENT);
    ts_read_results_free(reads);

    /* The right test: truncate share 0, delete share 3. */
    ts_test_vector right = {0, 5, TS_TEST_EQ, (const uint8_t *)"first", 5};
    ts_slot_write w3[2] = {{0, &right, 1, NULL, 0, true, 5}, {3, NULL, 0, NULL, 0, true, 0}};
    CHECK_OK(ts_server_slot_testv_and_readv_and_writev(s, &slot, &sec, w3, 2, NULL, 0, false, NOW, &passed, NULL));
    CHECK(passed);
    uint64_t mlen;
    CHECK_OK(ts_server_mutable_share_length(s, &slot, 0, &mlen));
    CHECK(mlen == 5);
    ts_share_set only0 = {{0, 0, 0, 0}};
    CHECK_OK(ts_share_set_insert(&only0, 0));
    CHECK_OK(ts_share_set_insert(&only0, 9));
    CHECK_OK(ts_server_slot_readv(s, &slot, &only0, rv, 1, &reads));
    CHECK_OK(ts_read_results_len(reads, &n));
    CHECK(n == 1);
    ts_read_results_free(reads);

    ts_slot_secrets bad = sec;
    bad.write_enabler = filled_secret(0x66);
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &slot, &bad, w, 1, NULL, 0, false, NOW, &passed, NULL),
                 TS_BAD_WRITE_ENABLER);
    ts_storage_index imm = filled_si(1);
    CHECK_RESULT(ts_server_slot_readv(s, &imm, NULL, rv, 1, &reads), TS_UNKNOWN_MUTABLE_MAGIC);
    lease_count c = {0, 0, 0};
    CHECK_OK(ts_server_for_each_lease(s, &slot, count_lease, &c));
    CHECK(c.mutable_ == 1 && c.immutable == 0);
    ts_share_stat stat;
    CHECK_OK(ts_server_stat_share(s, &slot, 0, &stat));
    CHECK(stat.kind == TS_SHARE_MUTABLE && stat.data_length == 5);
}

static void queries(ts_server *s, ts_node_id id) {
    ts_version_info v;
    CHECK_OK(ts_server_version(s, &v));
    CHECK(v.maximum_mutable_share_size == UINT64_C(69105000000000000));
    CHECK(v.tolerates_immutable_read_overrun && v.fills_holes_with_zero_bytes);
    bool known;
    uint64_t space;
    CHECK_OK(ts_server_available_space(s, &known, &space));
    CHECK(known == v.available_space_known);
    ts_node_id got;
    CHECK_OK(ts_server_nodeid(s, &got));
    CHECK(memcmp(got.bytes, id.bytes, 20) == 0);
    ts_config config;
    CHECK_OK(ts_server_config(s, &config));
    CHECK(config.lease_duration == 31 * 24 * 3600);

    ts_storage_index si = filled_si(1);
    ts_advise_outcome outcome;
    const char *type = "immutable", *reason = "bad block hash";
    CHECK_OK(ts_server_advise_corrupt_share(s, type, strlen(type), &si, 0, reason, strlen(reason), NOW, &outcome));
    CHECK(outcome == TS_ADVISE_RECORDED);
    CHECK_OK(ts_server_advise_corrupt_share(s, type, strlen(type), &si, 0, reason, strlen(reason), NOW, &outcome));
    CHECK(outcome == TS_ADVISE_RECORDED); /* a second one gets a suffixed name */
    CHECK_OK(ts_server_advise_corrupt_share(s, type, strlen(type), &si, 7, reason, strlen(reason), NOW, &outcome));
    CHECK(outcome == TS_ADVISE_NOT_HELD);
    /* No share can have a number above 255: not held, as Tahoe drops such a report. */
    CHECK_OK(ts_server_advise_corrupt_share(s, type, strlen(type), &si, 300, reason, strlen(reason), NOW, &outcome));
    CHECK(outcome == TS_ADVISE_NOT_HELD);
    CHECK_RESULT(ts_server_advise_corrupt_share(s, "\xff", 1, &si, 0, reason, strlen(reason), NOW, &outcome),
                 TS_INVALID_ARGUMENT);
}

static void expiry(ts_server *s) {
    ts_storage_index si = filled_si(3);
    ts_allocate_request req = request(si, 4, 0, 2);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    bool complete;
    CHECK_OK(write_share(s, si, 0, 0, "ab", &complete));
    size_t expired = 0, count = 99;
    CHECK_OK(ts_server_expire_stale_uploads(s, NOW + 60, on_expired, &expired, &count));
    CHECK(count == 0 && expired == 0);
    CHECK_OK(ts_server_expire_stale_uploads(s, NOW + 1800, on_expired, &expired, &count));
    CHECK(count == 2 && expired == 2);
    CHECK_OK(ts_server_expire_stale_uploads(s, NOW + 9999, NULL, NULL, &count));
    CHECK(count == 0);
    CHECK_RESULT(write_share(s, si, 0, 2, "cd", &complete), TS_NO_SUCH_UPLOAD);
}

/* Storage indexes of 1 to 32 bytes keep their length everywhere: the uploads in progress,
 * the expiry callback, readers. */
static bool upload_is_short(void *ud, const ts_upload_info *u) {
    const ts_storage_index *want = ud;
    CHECK(memcmp(&u->storage_index, want, sizeof *want) == 0);
    return true;
}

static void expired_is_short(void *ud, const ts_storage_index *si, uint32_t shnum) {
    const ts_storage_index *want = ud;
    CHECK(memcmp(si, want, sizeof *want) == 0 && shnum == 1);
}

static void short_storage_indexes(ts_server *s) {
    ts_storage_index si;
    CHECK_OK(ts_storage_index_from_bytes((const uint8_t *)"si1", 3, &si));
    ts_allocate_request req = request(si, 4, 0, 2);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(ts_share_set_count(&a.allocated) == 2);
    CHECK_OK(ts_server_uploads(s, upload_is_short, &si));
    bool complete;
    CHECK_OK(write_share(s, si, 0, 0, "tiny", &complete));
    CHECK(complete);
    CHECK_OK(close_share(s, si, 0));
    size_t count = 0;
    CHECK_OK(ts_server_expire_stale_uploads(s, NOW + 3600, expired_is_short, &si, &count));
    CHECK(count == 1);
    ts_reader *r = NULL;
    CHECK_OK(ts_server_open_bucket(s, &si, 0, &r));
    ts_storage_index back;
    uint32_t n;
    CHECK_OK(ts_reader_share(r, &back, &n));
    CHECK(back.len == 3 && memcmp(&back, &si, sizeof si) == 0);
    ts_reader_free(r);
    /* The same bytes padded to 16 are another storage index. */
    uint8_t padded_bytes[16] = {'s', 'i', '1'};
    ts_storage_index padded;
    CHECK_OK(ts_storage_index_from_bytes(padded_bytes, sizeof padded_bytes, &padded));
    ts_share_set held;
    CHECK_OK(ts_server_shares(s, &padded, &held));
    CHECK(ts_share_set_count(&held) == 0);
    CHECK_OK(ts_server_shares(s, &si, &held));
    CHECK(ts_share_set_count(&held) == 1);
}

static void scenario(ts_server *s, ts_node_id id) {
    immutable_uploads(s);
    leases(s);
    mutable_slots(s);
    queries(s, id);
    expiry(s);
    short_storage_indexes(s);
}

/* --- resumed uploads ------------------------------------------------------------------ */

typedef ts_result (*open_fn)(void *ctx, const ts_config *config, ts_server **out);

static ts_result open_fs(void *ctx, const ts_config *config, ts_server **out) {
    const char *dir = ctx;
    ts_node_id id = node(5);
    return ts_server_new_fs(dir, strlen(dir), false, &id, config, NOW, out);
}

static ts_result open_mem(void *ctx, const ts_config *config, ts_server **out) {
    ts_store_callbacks cb = mem_store_callbacks();
    ts_node_id id = node(5);
    return ts_server_new_callback(&cb, ctx, &id, config, NOW, out);
}

static void resume(open_fn open, void *ctx) {
    ts_config config;
    CHECK_OK(ts_config_default(&config));
    config.resume_uploads = true;
    ts_server *s = NULL;
    CHECK_OK(open(ctx, &config, &s));
    ts_storage_index si = filled_si(4);
    ts_allocate_request req = request(si, 8, 5, 1);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    bool complete;
    CHECK_OK(write_share(s, si, 5, 0, "1234", &complete));
    ts_server_free(s);

    /* A new server resumes the upload from its record. */
    CHECK_OK(open(ctx, &config, &s));
    bool in_progress = false;
    CHECK_OK(ts_server_upload_in_progress(s, &si, 5, &in_progress));
    CHECK(in_progress);
    CHECK_RESULT(write_share(s, si, 5, 0, "9999", &complete), TS_CONFLICTING_WRITE);
    CHECK_OK(write_share(s, si, 5, 4, "5678", &complete));
    CHECK(complete);
    CHECK_OK(close_share(s, si, 5));
    uint8_t buf[8];
    size_t n;
    CHECK_OK(ts_server_read_share(s, &si, 5, 0, buf, sizeof buf, &n));
    CHECK(n == 8 && memcmp(buf, "12345678", 8) == 0);
    ts_server_free(s);

    /* Without resume_uploads, a new server discards what is incoming. */
    config.resume_uploads = false;
    CHECK_OK(open(ctx, &config, &s));
    ts_allocate_request req2 = request(filled_si(6), 8, 0, 1);
    CHECK_OK(ts_server_allocate_buckets(s, &req2, NOW, &a));
    ts_server_free(s);
    CHECK_OK(open(ctx, &config, &s));
    CHECK_OK(ts_server_upload_in_progress(s, &req2.storage_index, 0, &in_progress));
    CHECK(!in_progress);
    CHECK_OK(ts_server_allocate_buckets(s, &req2, NOW, &a));
    CHECK(ts_share_set_count(&a.allocated) == 1);
    ts_server_free(s);
}

/* --- readers outlive their server ----------------------------------------------------- */

static void reader_outlives_server(void) {
    mem_store *store = mem_store_new();
    CHECK(store != NULL);
    ts_server *s = NULL;
    CHECK_OK(open_mem(store, NULL, &s));
    ts_storage_index si = filled_si(8);
    ts_allocate_request req = request(si, 3, 0, 1);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    bool complete;
    CHECK_OK(write_share(s, si, 0, 0, "abc", &complete));
    CHECK_OK(close_share(s, si, 0));
    ts_reader *r = NULL;
    CHECK_OK(ts_server_open_bucket(s, &si, 0, &r));
    /* A reader holds no open share: it opens the share for each read. */
    CHECK(mem_store_open_handles(store) == 0);
    ts_server_free(s);
    uint8_t buf[8];
    size_t n;
    CHECK_OK(ts_reader_read(r, 0, buf, sizeof buf, &n));
    CHECK(n == 3 && memcmp(buf, "abc", 3) == 0);
    CHECK(mem_store_open_handles(store) == 0);
    ts_reader_free(r);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
}

/* --- a reader of a deleted share fails, as Tahoe's does ------------------------------- */

static void reader_of_deleted_share(void) {
    mem_store *store = mem_store_new();
    CHECK(store != NULL);
    ts_server *s = NULL;
    CHECK_OK(open_mem(store, NULL, &s));
    ts_storage_index si = filled_si(9);
    ts_allocate_request req = request(si, 3, 0, 1);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    bool complete;
    CHECK_OK(write_share(s, si, 0, 0, "abc", &complete));
    CHECK_OK(close_share(s, si, 0));
    ts_reader *r = NULL;
    CHECK_OK(ts_server_open_bucket(s, &si, 0, &r));
    /* Cancel the only lease: the share is deleted, and the reader no longer reads it. */
    uint64_t freed;
    ts_secret cancel = filled_secret(0x20);
    CHECK_OK(ts_server_cancel_lease(s, &si, &cancel, &freed));
    CHECK(mem_store_published(store) == 0);
    uint8_t buf[8];
    size_t n = 99;
    CHECK_RESULT(ts_reader_read(r, 0, buf, sizeof buf, &n), TS_NO_SUCH_SHARE);
    CHECK(n == 99);
    /* Its length is the one seen at opening; a read past it looks at nothing. */
    uint64_t len = 0;
    CHECK_OK(ts_reader_length(r, &len));
    CHECK(len == 3);
    CHECK_OK(ts_reader_read(r, 3, buf, sizeof buf, &n));
    CHECK(n == 0);
    ts_reader_free(r);
    ts_server_free(s);
    mem_store_free(store);
}

/* --- threads ---------------------------------------------------------------------------- */

enum { THREADS = 4, UPLOADS_PER_THREAD = 20 };

typedef struct worker {
    ts_server *server;
    uint8_t id;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (uint8_t i = 0; i < UPLOADS_PER_THREAD; i++) {
        ts_storage_index si = filled_si(0);
        si.bytes[0] = 0x80 | w->id;
        si.bytes[1] = i;
        ts_allocate_request req = request(si, 6, 0, 2);
        ts_allocation a;
        CHECK_OK(ts_server_allocate_buckets(w->server, &req, NOW, &a));
        CHECK(ts_share_set_count(&a.allocated) == 2);
        for (uint32_t n = 0; n < 2; n++) {
            bool complete;
            CHECK_OK(write_share(w->server, si, n, 0, "thread", &complete));
            CHECK(complete);
            CHECK_OK(close_share(w->server, si, n));
        }
        uint8_t buf[8];
        size_t got;
        CHECK_OK(ts_server_read_share(w->server, &si, 1, 0, buf, sizeof buf, &got));
        CHECK(got == 6 && memcmp(buf, "thread", 6) == 0);
    }
    return NULL;
}

static void threads(ts_server *s) {
    pthread_t t[THREADS];
    worker w[THREADS];
    for (uint8_t i = 0; i < THREADS; i++) {
        w[i].server = s;
        w[i].id = i;
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
    }
    for (uint8_t i = 0; i < THREADS; i++) {
        ts_storage_index si = filled_si(0);
        si.bytes[0] = 0x80 | i;
        si.bytes[1] = UPLOADS_PER_THREAD - 1;
        ts_share_set held;
        CHECK_OK(ts_server_shares(s, &si, &held));
        CHECK(ts_share_set_count(&held) == 2);
    }
}

int main(int argc, char **argv) {
    snprintf(scratch, sizeof scratch, "%s", scratch_arg(argc, argv));
    CHECK(ts_library_version() != NULL && strlen(ts_library_version()) > 0);

    /* Over a storage directory. */
    ts_node_id id = node(1);
    const char *dir = dir_for("fs");
    ts_server *fs = NULL;
    CHECK_OK(ts_server_new_fs(dir, strlen(dir), true, &id, NULL, NOW, &fs));
    scenario(fs, id);
    threads(fs);
    ts_server_free(fs);
    struct stat st;
    CHECK(stat(dir_for("fs/corruption-advisories"), &st) == 0);

    /* Over the memory store written in C. */
    mem_store *store = mem_store_new();
    CHECK(store != NULL);
    mem_store_set_capacity(store, UINT64_C(1) << 30);
    ts_store_callbacks cb = mem_store_callbacks();
    ts_server *mem = NULL;
    CHECK_OK(ts_server_new_callback(&cb, store, &id, NULL, NOW, &mem));
    scenario(mem, id);
    threads(mem);
    ts_server_free(mem);
    CHECK(mem_store_open_handles(store) == 0);
    CHECK(mem_store_advisories(store) == 2);
    mem_store_free(store);

    /* Uploads that survive a restart, over both stores. */
    const char *rdir = dir_for("resume");
    resume(open_fs, (void *)rdir);
    store = mem_store_new();
    CHECK(store != NULL);
    resume(open_mem, store);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);

    reader_outlives_server();
    reader_of_deleted_share();
    printf("test_api: all checks passed\n");
    return 0;
}
