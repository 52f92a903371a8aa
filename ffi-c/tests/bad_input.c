/*
 * The bad-input catalogue of docs/bad-input.md against the C API: one function
 * row_NN_<input> per row (rows 1-38), each checking its specific ts_result. Row 18 covers
 * the one secret of variable length, the upload secret (the 32-byte secrets are fixed-size
 * structs). Where the library follows Tahoe 1.20 rather than refusing the input, the
 * function checks what it does, and the table says so.
 *
 * At the end it prints "RELIABILITY bad_inputs_c <N>", N the rows run (every check
 * exits on failure, so reaching the end means all passed).
 *
 *     bad_input SCRATCH_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mem_store.h"

static const uint64_t NOW = 1800000000;
static const uint8_t SECRET[] = "upload";
static const size_t SECRET_LEN = 6;
static const uint64_t MAX_MUTABLE = UINT64_C(69105) * 1000 * 1000 * 1000 * 1000;
static char root[512];
static int rows_run = 0;

/* ----- helpers --------------------------------------------------------------------------- */

static ts_slot_secrets slot_secrets(uint8_t we) {
    ts_slot_secrets s;
    s.write_enabler = filled_secret(we);
    s.renew_secret = filled_secret(0x0a);
    s.cancel_secret = filled_secret(0x0b);
    return s;
}

static ts_allocate_request request(ts_storage_index si, uint32_t shnum, uint64_t size) {
    ts_allocate_request req;
    memset(&req, 0, sizeof req);
    req.storage_index = si;
    req.renew_secret = filled_secret(1);
    req.cancel_secret = filled_secret(2);
    CHECK_OK(ts_share_set_insert(&req.share_numbers, shnum));
    req.allocated_size = size;
    req.renew_leases = true;
    req.upload_secret = SECRET;
    req.upload_secret_len = SECRET_LEN;
    return req;
}

/* Starts an upload of share 0 of `si`, 10 bytes. */
static void start_upload(ts_server *s, ts_storage_index si) {
    ts_allocate_request req = request(si, 0, 10);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(ts_share_set_contains(&a.allocated, 0));
}

static ts_result write_share(ts_server *s, ts_storage_index si, uint64_t off, const char *data) {
    bool complete;
    return ts_server_write(s, &si, 0, SECRET, SECRET_LEN, off, (const uint8_t *)data, strlen(data), NOW,
                           &complete);
}

/* Uploads "0123456789" as share 0 of `si`. */
static void upload(ts_server *s, ts_storage_index si) {
    start_upload(s, si);
    CHECK_OK(write_share(s, si, 0, "0123456789"));
    uint64_t size;
    CHECK_OK(ts_server_close(s, &si, 0, SECRET, SECRET_LEN, &size));
}

/* One mutable write of `data` at `off` to share `n` of `si` with write enabler `we`. */
static ts_result slot_write(ts_server *s, ts_storage_index si, uint8_t we, uint32_t n, uint64_t off,
                            const char *data) {
    ts_slot_secrets sec = slot_secrets(we);
    ts_write_vector wv = {off, (const uint8_t *)data, strlen(data)};
    ts_slot_write w;
    memset(&w, 0, sizeof w);
    w.share_number = n;
    w.writes = &wv;
    w.writes_len = 1;
    bool passed = false;
    ts_read_results *reads = NULL;
    ts_result r = ts_server_slot_testv_and_readv_and_writev(s, &si, &sec, &w, 1, NULL, 0, true, NOW, &passed,
                                                            &reads);
    ts_read_results_free(reads);
    return r;
}

/* Reads `len` bytes of mutable share 0 of `si` at `off` into `out`; returns the count. */
static size_t slot_read(ts_server *s, ts_storage_index si, uint64_t off, uint64_t len, uint8_t *out,
                        size_t out_len) {
    ts_read_vector rv = {off, len};
    ts_read_results *reads = NULL;
    CHECK_OK(ts_server_slot_readv(s, &si, NULL, &rv, 1, &reads));
    size_t n = 0;
    CHECK_OK(ts_read_results_len(reads, &n));
    CHECK(n == 1);
    const uint8_t *data = NULL;
    size_t got = 0;
    CHECK_OK(ts_read_results_data(reads, 0, 0, &data, &got));
    CHECK(got <= out_len);
    if (got > 0) {
        memcpy(out, data, got);
    }
    ts_read_results_free(reads);
    return got;
}

static size_t count_ranges(ts_server *s, ts_storage_index si, ts_range *out, size_t cap) {
    size_t n = 0;
    CHECK_OK(ts_server_required_ranges(s, &si, 0, SECRET, SECRET_LEN, out, cap, &n));
    return n;
}

/* Tahoe's base32 of a storage index (lower case, no padding): 26 characters for 16 bytes. */
static void b32(const ts_storage_index *si, char out[56]) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned bits = 0, acc = 0;
    size_t o = 0;
    for (size_t i = 0; i < si->len; i++) {
        acc = (acc << 8) | si->bytes[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    }
    out[o] = '\0';
}

static void mkdirs(const char *path) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(tmp, 0700);
            *p = '/';
        }
    }
    (void)mkdir(tmp, 0700);
}

/* The bucket directory of `si` under `dir` ("shares" or "shares/incoming"). */
static void bucket_dir(const char *storage, const char *dir, ts_storage_index si, char *out, size_t len) {
    char name[56];
    b32(&si, name);
    snprintf(out, len, "%s/%s/%c%c/%s", storage, dir, name[0], name[1], name);
}

static void share_path(const char *storage, ts_storage_index si, const char *file, char *out, size_t len) {
    char dir[600];
    bucket_dir(storage, "shares", si, dir, sizeof dir);
    mkdirs(dir);
    snprintf(out, len, "%s/%s", dir, file);
}

static void put_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(len == 0 || fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* Puts `len` bytes as share 0 of `si` in the filesystem store. */
static void put_share(ts_storage_index si, const uint8_t *data, size_t len) {
    char path[700];
    share_path(root, si, "0", path, sizeof path);
    put_file(path, data, len);
}

static size_t get_share(ts_storage_index si, uint8_t *out, size_t cap) {
    char path[700];
    share_path(root, si, "0", path, sizeof path);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    size_t n = fread(out, 1, cap, f);
    CHECK(n < cap); /* all of it */
    CHECK(fclose(f) == 0);
    return n;
}

static void put_be32(uint8_t *at, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        at[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static void put_be64(uint8_t *at, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        at[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t get_be64(const uint8_t *at) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | at[i];
    }
    return v;
}

/* The filesystem server the container rows use, and two templates it wrote. */
static ts_server *fs;
static uint8_t imm[256], mut[2048], mut_extra[2048];
static size_t imm_len, mut_len, mut_extra_len;

/* A mutable share (b"some data") with 1 + 4 + extra leases, as the server writes it. */
static size_t make_mutable(ts_storage_index si, unsigned extra, uint8_t *out, size_t cap) {
    CHECK_OK(slot_write(fs, si, 6, 0, 0, "some data"));
    for (unsigned i = 0; i < 4 + extra; i++) {
        ts_secret renew = filled_secret((uint8_t)(100 + i));
        ts_secret cancel = filled_secret(2);
        size_t count = 0;
        CHECK_OK(ts_server_add_lease(fs, &si, &renew, &cancel, 1, NOW, &count));
        CHECK(count == 1);
    }
    return get_share(si, out, cap);
}

static void templates(void) {
    ts_node_id id = {{7}};
    CHECK_OK(ts_server_new_fs(root, strlen(root), false, &id, NULL, NOW, &fs));
    upload(fs, filled_si(0xA0));
    imm_len = get_share(filled_si(0xA0), imm, sizeof imm);
    mut_len = make_mutable(filled_si(0xB0), 0, mut, sizeof mut);
    mut_extra_len = make_mutable(filled_si(0xB1), 2, mut_extra, sizeof mut_extra);
}

static ts_result imm_length(ts_storage_index si) {
    uint64_t len = 0;
    return ts_server_immutable_share_length(fs, &si, 0, &len);
}

static ts_result mut_length(ts_storage_index si) {
    uint64_t len = 0;
    return ts_server_mutable_share_length(fs, &si, 0, &len);
}

static ts_server *mem_server(mem_store *store) {
    ts_node_id id = {{7}};
    ts_server *s = NULL;
    ts_store_callbacks cb = mem_store_callbacks();
    CHECK_OK(ts_server_new_callback(&cb, store, &id, NULL, NOW, &s));
    return s;
}

#define ROW(n) (rows_run++, (void)(n))

/* ----- containers (filesystem store) --------------------------------------------------- */

static void row_01_empty_or_short_immutable(void) {
    ROW(1);
    put_share(filled_si(1), NULL, 0);
    CHECK_RESULT(imm_length(filled_si(1)), TS_CORRUPT);
    put_share(filled_si(1), (const uint8_t *)"\0\0\0\2\0", 5);
    CHECK_RESULT(imm_length(filled_si(1)), TS_CORRUPT);
    uint8_t buf[8];
    size_t n = 99;
    ts_storage_index si = filled_si(1);
    CHECK_RESULT(ts_server_read_share(fs, &si, 0, 0, buf, sizeof buf, &n), TS_CORRUPT);
    CHECK(n == 99); /* outputs only on success */
}

static void row_02_unknown_immutable_version(void) {
    ROW(2);
    const uint32_t versions[] = {0, 3, UINT32_MAX};
    for (size_t i = 0; i < 3; i++) {
        uint8_t b[12] = {0};
        put_be32(b, versions[i]);
        put_share(filled_si(2), b, sizeof b);
        CHECK_RESULT(imm_length(filled_si(2)), TS_UNKNOWN_IMMUTABLE_VERSION);
    }
}

static void row_03_lease_count_exceeding_the_file(void) {
    ROW(3);
    uint8_t b[12 + 10 + 72] = {0};
    put_be32(b, 2);
    put_be32(b + 8, 3);
    put_share(filled_si(3), b, sizeof b);
    CHECK_RESULT(imm_length(filled_si(3)), TS_CORRUPT);
}

static void row_04_lease_count_u32_max(void) {
    ROW(4);
    uint8_t b[12 + 10 + 72] = {0};
    put_be32(b, 2);
    put_be32(b + 8, UINT32_MAX);
    put_share(filled_si(4), b, sizeof b);
    CHECK_RESULT(imm_length(filled_si(4)), TS_CORRUPT);
}

static void row_05_partial_trailing_lease(void) {
    ROW(5);
    /* The immutable template: 10 data bytes and one lease; cut 5 bytes off the lease and
     * 10 more, so that the count exceeds what is left. */
    put_share(filled_si(5), imm, 12 + 72 - 5);
    CHECK_RESULT(imm_length(filled_si(5)), TS_CORRUPT);
    put_share(filled_si(5), mut_extra, mut_extra_len - 5);
    CHECK_RESULT(mut_length(filled_si(5)), TS_CORRUPT);
}

static void row_06_legacy_length_field_disagreeing(void) {
    ROW(6);
    uint8_t b[12 + 100];
    memset(b, 'd', sizeof b);
    put_be32(b, 1);
    put_be32(b + 4, 1000);
    put_be32(b + 8, 0);
    put_share(filled_si(6), b, sizeof b);
    uint64_t len = 0;
    ts_storage_index si = filled_si(6);
    CHECK_OK(ts_server_immutable_share_length(fs, &si, 0, &len));
    CHECK(len == 100);
}

static void row_07_wrong_mutable_magic(void) {
    ROW(7);
    uint8_t b[2048];
    memcpy(b, mut, mut_len);
    b[3] ^= 0x20;
    put_share(filled_si(7), b, mut_len);
    CHECK_RESULT(mut_length(filled_si(7)), TS_UNKNOWN_MUTABLE_MAGIC);
}

static void row_08_mutable_shorter_than_its_header(void) {
    ROW(8);
    const size_t cuts[] = {60, 120, 467};
    for (size_t i = 0; i < 3; i++) {
        put_share(filled_si(8), mut, cuts[i]);
        CHECK_RESULT(mut_length(filled_si(8)), TS_CORRUPT);
    }
}

static void row_09_data_length_beyond_the_container(void) {
    ROW(9);
    uint8_t b[2048];
    memcpy(b, mut, mut_len);
    put_be64(b + 84, MAX_MUTABLE + 1);
    put_share(filled_si(9), b, mut_len);
    CHECK_RESULT(mut_length(filled_si(9)), TS_CORRUPT);
}

static void row_10_extra_lease_offset_overlapping_data(void) {
    ROW(10);
    uint8_t b[2048];
    memcpy(b, mut, mut_len);
    put_be64(b + 92, 468 + 2);
    put_share(filled_si(10), b, mut_len);
    CHECK_RESULT(mut_length(filled_si(10)), TS_CORRUPT);
}

static void row_11_extra_lease_offset_beyond_eof(void) {
    ROW(11);
    uint8_t b[2048];
    memcpy(b, mut, mut_len);
    put_be64(b + 92, UINT64_C(1) << 40);
    put_share(filled_si(11), b, mut_len);
    CHECK_RESULT(mut_length(filled_si(11)), TS_CORRUPT);
}

static void row_12_extra_lease_count_u32_max(void) {
    ROW(12);
    uint8_t b[2048];
    memcpy(b, mut_extra, mut_extra_len);
    uint64_t elo = get_be64(b + 92);
    CHECK(elo + 4 <= mut_extra_len);
    put_be32(b + elo, UINT32_MAX);
    put_share(filled_si(12), b, mut_extra_len);
    CHECK_RESULT(mut_length(filled_si(12)), TS_CORRUPT);
}

static bool count_lease(void *ud, uint32_t shnum, ts_share_kind kind, const ts_lease *lease) {
    (void)shnum;
    (void)kind;
    (void)lease;
    (*(size_t *)ud)++;
    return true;
}

static void row_13_lease_slot_of_owner_zero(void) {
    ROW(13);
    ts_storage_index si = filled_si(13);
    size_t n = 0;
    put_share(si, mut, mut_len);
    CHECK_OK(ts_server_for_each_lease(fs, &si, count_lease, &n));
    CHECK(n == 5);
    uint8_t b[2048];
    memcpy(b, mut, mut_len);
    put_be32(b + 100, 0);
    put_share(si, b, mut_len);
    n = 0;
    CHECK_OK(ts_server_for_each_lease(fs, &si, count_lease, &n));
    CHECK(n == 4);
}

static void row_14_odd_share_file_names(void) {
    ROW(14);
    ts_storage_index si = filled_si(14);
    put_share(si, imm, imm_len);
    const char *junk[] = {"007", "07", "4.tmp", "-1", "256", "abc", "+1"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        char path[700];
        share_path(root, si, junk[i], path, sizeof path);
        put_file(path, (const uint8_t *)"junk", 4);
    }
    ts_share_set set;
    CHECK_OK(ts_server_shares(fs, &si, &set));
    CHECK(ts_share_set_count(&set) == 1 && ts_share_set_contains(&set, 0));
    uint64_t len;
    CHECK_RESULT(ts_server_immutable_share_length(fs, &si, 7, &len), TS_NO_SUCH_SHARE);
}

static void row_15_symlink_or_directory_as_a_share(void) {
    ROW(15);
    ts_storage_index si = filled_si(15);
    put_share(si, imm, imm_len);
    char target[700], link[700], dir[700];
    share_path(root, si, "0", target, sizeof target);
    share_path(root, si, "5", link, sizeof link);
    share_path(root, si, "6", dir, sizeof dir);
    CHECK(symlink(target, link) == 0);
    CHECK(mkdir(dir, 0700) == 0);
    ts_share_set set;
    CHECK_OK(ts_server_shares(fs, &si, &set));
    CHECK(ts_share_set_count(&set) == 1);
    uint64_t len;
    CHECK_RESULT(ts_server_immutable_share_length(fs, &si, 5, &len), TS_NOT_A_SHARE);
    CHECK_RESULT(ts_server_immutable_share_length(fs, &si, 6, &len), TS_NOT_A_SHARE);
    uint8_t buf[4];
    size_t n;
    CHECK_RESULT(ts_server_read_share(fs, &si, 5, 0, buf, sizeof buf, &n), TS_NOT_A_SHARE);
}

static void row_16_stale_incoming_share_at_startup(void) {
    ROW(16);
    char storage[600], dir[700], path[800];
    snprintf(storage, sizeof storage, "%s-stale", root);
    ts_storage_index si = filled_si(16);
    bucket_dir(storage, "shares/incoming", si, dir, sizeof dir);
    mkdirs(dir);
    snprintf(path, sizeof path, "%s/2", dir);
    put_file(path, imm, imm_len);
    ts_node_id id = {{7}};
    ts_server *s = NULL;
    CHECK_OK(ts_server_new_fs(storage, strlen(storage), false, &id, NULL, NOW, &s));
    CHECK(access(path, F_OK) != 0 && errno == ENOENT);
    ts_share_set set;
    CHECK_OK(ts_server_shares(s, &si, &set));
    CHECK(ts_share_set_count(&set) == 0);
    bool in_progress = true;
    CHECK_OK(ts_server_upload_in_progress(s, &si, 2, &in_progress));
    CHECK(!in_progress);
    ts_server_free(s);
}

/* The full message of this thread's last failure. */
static const char *last_message(void) {
    static char buf[512];
    CHECK_OK(ts_last_error_message(buf, sizeof buf, NULL));
    return buf;
}

static void row_17_storage_index_of_a_bad_length(void) {
    ROW(17);
    uint8_t bytes[TS_STORAGE_INDEX_MAX_LEN + 1];
    memset(bytes, 0x17, sizeof bytes);
    ts_storage_index si;
    memset(&si, 0x5a, sizeof si);
    /* 0 and 33 bytes are refused, nothing written, and the message says what is accepted. */
    CHECK_RESULT(ts_storage_index_from_bytes(bytes, 0, &si), TS_INVALID_ARGUMENT);
    CHECK(strcmp(last_message(), "a storage index is 1 to 32 bytes, not 0") == 0);
    CHECK_RESULT(ts_storage_index_from_bytes(bytes, 33, &si), TS_INVALID_ARGUMENT);
    CHECK(strcmp(last_message(), "a storage index is 1 to 32 bytes, not 33") == 0);
    CHECK(si.len == 0x5a);
    /* A struct with such a length is refused by every function taking one. */
    ts_share_set set;
    const uint8_t bad_lens[] = {0, 33, 255};
    for (size_t i = 0; i < sizeof bad_lens; i++) {
        si = filled_si(17);
        si.len = bad_lens[i];
        CHECK_RESULT(ts_server_shares(fs, &si, &set), TS_INVALID_ARGUMENT);
        CHECK(strstr(last_message(), "a storage index is 1 to 32 bytes") != NULL);
        ts_allocate_request req = request(si, 0, 10);
        ts_allocation a;
        CHECK_RESULT(ts_server_allocate_buckets(fs, &req, NOW, &a), TS_INVALID_ARGUMENT);
        CHECK(strstr(last_message(), "a storage index is 1 to 32 bytes") != NULL);
    }
    uint64_t allocated = 1;
    CHECK_OK(ts_server_allocated_size(fs, &allocated));
    CHECK(allocated == 0);
    /* 1, 3 and 32 bytes are accepted with their real length: "si1" is not "si1" padded
     * with zeros, and its bucket is Tahoe's base32 of the three bytes (shares/on/onutc). */
    ts_storage_index si1, padded, one, full;
    CHECK_OK(ts_storage_index_from_bytes((const uint8_t *)"si1", 3, &si1));
    uint8_t zeros[16] = {'s', 'i', '1'};
    CHECK_OK(ts_storage_index_from_bytes(zeros, sizeof zeros, &padded));
    CHECK_OK(ts_storage_index_from_bytes(bytes, 1, &one));
    CHECK_OK(ts_storage_index_from_bytes(bytes, 32, &full));
    CHECK(si1.len == 3 && padded.len == 16 && one.len == 1 && full.len == 32);
    CHECK(si1.bytes[3] == 0 && si1.bytes[31] == 0);
    upload(fs, si1);
    upload(fs, one);
    upload(fs, full);
    char path[800];
    snprintf(path, sizeof path, "%s/shares/on/onutc/0", root);
    CHECK(access(path, F_OK) == 0);
    CHECK_OK(ts_server_shares(fs, &padded, &set));
    CHECK(ts_share_set_count(&set) == 0);
    const ts_storage_index *held[] = {&si1, &one, &full};
    for (size_t i = 0; i < 3; i++) {
        CHECK_OK(ts_server_shares(fs, held[i], &set));
        CHECK(ts_share_set_count(&set) == 1);
        ts_reader *r = NULL;
        CHECK_OK(ts_server_open_bucket(fs, held[i], 0, &r));
        ts_storage_index back;
        uint32_t n;
        CHECK_OK(ts_reader_share(r, &back, &n));
        CHECK(memcmp(&back, held[i], sizeof back) == 0 && n == 0);
        ts_reader_free(r);
    }
}

/* ----- arguments and the server (memory store) ------------------------------------------ */

static void row_18_secret_of_a_bad_length(void) {
    ROW(18);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_allocate_request req = request(filled_si(18), 0, 10);
    req.upload_secret_len = 0;
    ts_allocation a;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_INVALID_ARGUMENT);
    req.upload_secret = NULL;
    req.upload_secret_len = 4;
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_NULL_PARAMETER);
    uint64_t allocated = 1;
    CHECK_OK(ts_server_allocated_size(s, &allocated));
    CHECK(allocated == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_19_share_number_above_255(void) {
    ROW(19);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(19);
    ts_share_set set = {{0, 0, 0, 0}};
    CHECK_RESULT(ts_share_set_insert(&set, 256), TS_INVALID_ARGUMENT);
    CHECK_RESULT(ts_share_set_insert(&set, UINT32_MAX), TS_INVALID_ARGUMENT);
    CHECK(ts_share_set_count(&set) == 0);
    uint64_t len;
    CHECK_RESULT(ts_server_immutable_share_length(s, &si, 256, &len), TS_INVALID_ARGUMENT);
    bool complete;
    CHECK_RESULT(ts_server_write(s, &si, 1000, SECRET, SECRET_LEN, 0, (const uint8_t *)"x", 1, NOW, &complete),
                 TS_INVALID_ARGUMENT);
    CHECK_RESULT(slot_write(s, si, 6, 256, 0, "x"), TS_INVALID_ARGUMENT);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_20_too_many_or_duplicate_share_numbers(void) {
    ROW(20);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(20);
    /* A share set is 256 bits: inserting twice leaves one. */
    ts_share_set set = {{0, 0, 0, 0}};
    CHECK_OK(ts_share_set_insert(&set, 4));
    CHECK_OK(ts_share_set_insert(&set, 4));
    CHECK(ts_share_set_count(&set) == 1);
    /* A mutable write listing a share twice is refused, and writes nothing. */
    ts_slot_secrets sec = slot_secrets(6);
    ts_write_vector wv = {0, (const uint8_t *)"a", 1};
    ts_slot_write w[2];
    memset(w, 0, sizeof w);
    w[0].share_number = w[1].share_number = 1;
    w[0].writes = w[1].writes = &wv;
    w[0].writes_len = w[1].writes_len = 1;
    bool passed = false;
    ts_read_results *reads = NULL;
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &si, &sec, w, 2, NULL, 0, true, NOW, &passed, &reads),
                 TS_INVALID_ARGUMENT);
    CHECK(reads == NULL);
    ts_share_set held;
    CHECK_OK(ts_server_shares(s, &si, &held));
    CHECK(ts_share_set_count(&held) == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_21_oversized_allocation(void) {
    ROW(21);
    mem_store *store = mem_store_new();
    mem_store_set_capacity(store, 1000);
    ts_server *s = mem_server(store);
    ts_allocate_request req = request(filled_si(21), 0, 1001);
    CHECK_OK(ts_share_set_insert(&req.share_numbers, 1));
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(ts_share_set_count(&a.allocated) == 0 && ts_share_set_count(&a.already_have) == 0);
    uint64_t allocated = 1;
    CHECK_OK(ts_server_allocated_size(s, &allocated));
    CHECK(allocated == 0);
    req.allocated_size = 600; /* 600 + 600 > 1000: only the first fits */
    CHECK_OK(ts_server_allocate_buckets(s, &req, NOW, &a));
    CHECK(ts_share_set_count(&a.allocated) == 1 && ts_share_set_contains(&a.allocated, 0));
    ts_server_free(s);
    mem_store_free(store);
}

static void row_22_immutable_write_past_the_allocation(void) {
    ROW(22);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(22);
    start_upload(s, si);
    CHECK_RESULT(write_share(s, si, 5, "123456"), TS_DATA_TOO_LARGE);
    ts_range r[4];
    CHECK(count_ranges(s, si, r, 4) == 1 && r[0].start == 0 && r[0].end == 10);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_23_offset_plus_length_overflowing(void) {
    ROW(23);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(23);
    start_upload(s, si);
    CHECK_RESULT(write_share(s, si, UINT64_MAX, "xy"), TS_DATA_TOO_LARGE);
    ts_range r[4];
    CHECK(count_ranges(s, si, r, 4) == 1 && r[0].end == 10);
    ts_storage_index slot = filled_si(0x23);
    CHECK_RESULT(slot_write(s, slot, 6, 0, UINT64_MAX - 1, "xyz"), TS_DATA_TOO_LARGE);
    ts_share_set held;
    CHECK_OK(ts_server_shares(s, &slot, &held));
    CHECK(ts_share_set_count(&held) == 0);
    /* Reads whose end overflows are truncated. */
    CHECK_OK(slot_write(s, slot, 6, 0, 0, "abc"));
    uint8_t buf[8];
    CHECK(slot_read(s, slot, 1, UINT64_MAX, buf, sizeof buf) == 2 && memcmp(buf, "bc", 2) == 0);
    CHECK(slot_read(s, slot, UINT64_MAX, UINT64_MAX, buf, sizeof buf) == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_24_conflicting_immutable_write(void) {
    ROW(24);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(24);
    start_upload(s, si);
    CHECK_OK(write_share(s, si, 0, "abcd"));
    CHECK_RESULT(write_share(s, si, 2, "cXef"), TS_CONFLICTING_WRITE);
    ts_range r[4];
    CHECK(count_ranges(s, si, r, 4) == 1 && r[0].start == 4 && r[0].end == 10);
    CHECK_OK(write_share(s, si, 2, "cdef")); /* an identical rewrite is fine */
    ts_server_free(s);
    mem_store_free(store);
}

static void row_25_write_after_close_or_abort(void) {
    ROW(25);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(25);
    upload(s, si);
    CHECK_RESULT(write_share(s, si, 0, "X"), TS_NO_SUCH_UPLOAD);
    uint64_t size;
    CHECK_RESULT(ts_server_close(s, &si, 0, SECRET, SECRET_LEN, &size), TS_NO_SUCH_UPLOAD);
    uint8_t buf[16];
    size_t n = 0;
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, buf, sizeof buf, &n));
    CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0);
    ts_storage_index si2 = filled_si(0x25);
    start_upload(s, si2);
    CHECK_OK(ts_server_abort(s, &si2, 0, SECRET, SECRET_LEN));
    CHECK_RESULT(write_share(s, si2, 0, "X"), TS_NO_SUCH_UPLOAD);
    CHECK_RESULT(ts_server_abort(s, &si2, 0, SECRET, SECRET_LEN), TS_NO_SUCH_UPLOAD);
    CHECK(mem_store_published(store) == 1);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_26_close_with_holes(void) {
    ROW(26);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(26);
    start_upload(s, si);
    CHECK_OK(write_share(s, si, 2, "ab"));
    ts_range r[4];
    CHECK(count_ranges(s, si, r, 4) == 2);
    uint64_t size;
    CHECK_OK(ts_server_close(s, &si, 0, SECRET, SECRET_LEN, &size));
    uint8_t buf[16];
    size_t n = 0;
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, buf, sizeof buf, &n));
    CHECK(n == 10 && memcmp(buf, "\0\0ab\0\0\0\0\0\0", 10) == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_27_reads_past_the_end(void) {
    ROW(27);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(27);
    upload(s, si);
    uint8_t buf[64];
    size_t n = 99;
    CHECK_OK(ts_server_read_share(s, &si, 0, UINT64_C(1) << 62, buf, sizeof buf, &n));
    CHECK(n == 0);
    CHECK_OK(ts_server_read_share(s, &si, 0, 5, buf, sizeof buf, &n));
    CHECK(n == 5 && memcmp(buf, "56789", 5) == 0);
    CHECK_OK(ts_server_read_share(s, &si, 0, UINT64_MAX, buf, sizeof buf, &n));
    CHECK(n == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_28_test_operator_other_than_eq(void) {
    ROW(28);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(28);
    ts_slot_secrets sec = slot_secrets(6);
    const uint32_t ops[] = {1, 2, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        ts_test_vector tv = {0, 1, ops[i], (const uint8_t *)"", 0};
        ts_write_vector wv = {0, (const uint8_t *)"x", 1};
        ts_slot_write w;
        memset(&w, 0, sizeof w);
        w.tests = &tv;
        w.tests_len = 1;
        w.writes = &wv;
        w.writes_len = 1;
        bool passed = false;
        ts_read_results *reads = NULL;
        CHECK_RESULT(
            ts_server_slot_testv_and_readv_and_writev(s, &si, &sec, &w, 1, NULL, 0, true, NOW, &passed, &reads),
            TS_UNSUPPORTED_OPERATOR);
    }
    ts_share_set held;
    CHECK_OK(ts_server_shares(s, &si, &held));
    CHECK(ts_share_set_count(&held) == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_29_many_test_or_read_vectors(void) {
    ROW(29);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(29);
    ts_slot_secrets sec = slot_secrets(6);
    ts_write_vector wv[40];
    ts_test_vector tv[31];
    ts_read_vector rv[31];
    for (unsigned i = 0; i < 40; i++) {
        wv[i] = (ts_write_vector){i, (const uint8_t *)"z", 1};
    }
    for (unsigned i = 0; i < 31; i++) {
        tv[i] = (ts_test_vector){i, 1, TS_TEST_EQ, (const uint8_t *)"z", 1};
        rv[i] = (ts_read_vector){i, 1};
    }
    ts_slot_write w;
    memset(&w, 0, sizeof w);
    w.writes = wv;
    w.writes_len = 40;
    bool passed = false;
    ts_read_results *reads = NULL;
    CHECK_OK(ts_server_slot_testv_and_readv_and_writev(s, &si, &sec, &w, 1, NULL, 0, false, NOW, &passed, &reads));
    CHECK(passed);
    ts_read_results_free(reads);
    memset(&w, 0, sizeof w);
    w.tests = tv;
    w.tests_len = 31;
    reads = NULL;
    CHECK_OK(ts_server_slot_testv_and_readv_and_writev(s, &si, &sec, &w, 1, rv, 31, false, NOW, &passed, &reads));
    CHECK(passed);
    uint32_t shnum;
    size_t nreads = 0;
    CHECK_OK(ts_read_results_share(reads, 0, &shnum, &nreads));
    CHECK(nreads == 31);
    ts_read_results_free(reads);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_30_mutable_write_past_the_maximum(void) {
    ROW(30);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(30);
    CHECK_OK(slot_write(s, si, 6, 0, 0, "some data"));
    ts_slot_secrets sec = slot_secrets(6);
    ts_write_vector wv[2] = {{0, (const uint8_t *)"ok", 2}, {MAX_MUTABLE, (const uint8_t *)"x", 1}};
    ts_slot_write w;
    memset(&w, 0, sizeof w);
    w.writes = wv;
    w.writes_len = 2;
    bool passed = false;
    ts_read_results *reads = NULL;
    CHECK_RESULT(ts_server_slot_testv_and_readv_and_writev(s, &si, &sec, &w, 1, NULL, 0, true, NOW, &passed, &reads),
                 TS_DATA_TOO_LARGE);
    uint8_t buf[16];
    CHECK(slot_read(s, si, 0, 100, buf, sizeof buf) == 9 && memcmp(buf, "some data", 9) == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_31_wrong_write_enabler(void) {
    ROW(31);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(31);
    CHECK_OK(slot_write(s, si, 6, 0, 0, "abc"));
    CHECK_RESULT(slot_write(s, si, 9, 0, 0, "XYZ"), TS_BAD_WRITE_ENABLER);
    uint8_t buf[8];
    CHECK(slot_read(s, si, 0, 10, buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_32_unknown_renew_or_cancel_secret(void) {
    ROW(32);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(32);
    upload(s, si);
    ts_secret unknown = filled_secret(0x77);
    CHECK_RESULT(ts_server_renew_lease(s, &si, &unknown, NOW + 100), TS_NO_SUCH_LEASE);
    uint64_t freed = 99;
    CHECK_RESULT(ts_server_cancel_lease(s, &si, &unknown, &freed), TS_NO_SUCH_LEASE);
    CHECK(freed == 99);
    ts_storage_index none = filled_si(0x32);
    ts_secret renew = filled_secret(1);
    CHECK_RESULT(ts_server_renew_lease(s, &none, &renew, NOW), TS_NO_SUCH_LEASE);
    size_t n = 0;
    CHECK_OK(ts_server_for_each_lease(s, &si, count_lease, &n));
    CHECK(n == 1);
    ts_server_free(s);
    mem_store_free(store);
}

static void row_33_wrong_upload_secret(void) {
    ROW(33);
    mem_store *store = mem_store_new();
    ts_server *s = mem_server(store);
    ts_storage_index si = filled_si(33);
    start_upload(s, si);
    CHECK_OK(write_share(s, si, 0, "ab"));
    const uint8_t wrong[] = "not upload";
    bool complete;
    CHECK_RESULT(ts_server_write(s, &si, 0, wrong, 10, 2, (const uint8_t *)"cd", 2, NOW, &complete),
                 TS_BAD_UPLOAD_SECRET);
    uint64_t size;
    CHECK_RESULT(ts_server_close(s, &si, 0, wrong, 10, &size), TS_BAD_UPLOAD_SECRET);
    CHECK_RESULT(ts_server_abort(s, &si, 0, wrong, 10), TS_BAD_UPLOAD_SECRET);
    ts_range r[4];
    size_t n;
    CHECK_RESULT(ts_server_required_ranges(s, &si, 0, wrong, 10, r, 4, &n), TS_BAD_UPLOAD_SECRET);
    bool in_progress = false;
    CHECK_OK(ts_server_upload_in_progress(s, &si, 0, &in_progress));
    CHECK(in_progress);
    CHECK(count_ranges(s, si, r, 4) == 1 && r[0].start == 2);
    CHECK(mem_store_published(store) == 0);
    ts_server_free(s);
    mem_store_free(store);
}

/* ----- rows 34-38: store callbacks that fail or lie ------------------------------------ */

typedef enum fault {
    NONE,
    READ_NOTHING,   /* out_n = 0 before the end: EOF */
    READ_SHORT,     /* at most 3 bytes a call: the library must call again */
    READ_TOO_LONG,  /* out_n > len */
    READ_FAILS,     /* an error status */
    WRITE_NOTHING,  /* out_n = 0 */
    WRITE_SHORT,    /* at most 3 bytes a call */
    WRITE_TOO_LONG, /* out_n > len */
    WRITE_ENOSPC,   /* a write growing a share past 100 bytes fails with ENOSPC */
    SYNC_FAILS,
} fault;

static fault active = NONE;
static ts_store_callbacks base;

static int f_read_at(void *ud, void *share, uint64_t off, uint8_t *buf, size_t len, size_t *out_n) {
    switch (active) {
    case READ_NOTHING:
        *out_n = 0;
        return TS_CB_OK;
    case READ_SHORT:
        return base.share_read_at(ud, share, off, buf, len > 3 ? 3 : len, out_n);
    case READ_TOO_LONG:
        *out_n = len + 1;
        return TS_CB_OK;
    case READ_FAILS:
        return EIO;
    default:
        return base.share_read_at(ud, share, off, buf, len, out_n);
    }
}

static int f_write_at(void *ud, void *share, uint64_t off, const uint8_t *data, size_t len, size_t *out_n) {
    switch (active) {
    case WRITE_NOTHING:
        *out_n = 0;
        return TS_CB_OK;
    case WRITE_SHORT:
        return base.share_write_at(ud, share, off, data, len > 3 ? 3 : len, out_n);
    case WRITE_TOO_LONG:
        *out_n = len + 1;
        return TS_CB_OK;
    case WRITE_ENOSPC:
        if (off + len > 100) {
            return ENOSPC;
        }
        return base.share_write_at(ud, share, off, data, len, out_n);
    default:
        return base.share_write_at(ud, share, off, data, len, out_n);
    }
}

static int f_set_len(void *ud, void *share, uint64_t len) {
    if (active == WRITE_ENOSPC && len > 100) {
        return ENOSPC;
    }
    return base.share_set_len(ud, share, len);
}

static int f_sync(void *ud, void *share) {
    if (active == SYNC_FAILS) {
        return EIO;
    }
    return base.share_sync(ud, share);
}

static ts_server *faulty_server(mem_store *store) {
    base = mem_store_callbacks();
    ts_store_callbacks cb = base;
    cb.share_read_at = f_read_at;
    cb.share_write_at = f_write_at;
    cb.share_set_len = f_set_len;
    cb.share_sync = f_sync;
    ts_node_id id = {{7}};
    ts_server *s = NULL;
    CHECK_OK(ts_server_new_callback(&cb, store, &id, NULL, NOW, &s));
    return s;
}

static void row_34_backend_short_read(void) {
    ROW(34);
    mem_store *store = mem_store_new();
    ts_server *s = faulty_server(store);
    ts_storage_index si = filled_si(34);
    upload(s, si);
    uint8_t buf[16];
    memset(buf, 0xee, sizeof buf);
    size_t n = 99;
    active = READ_NOTHING;
    CHECK_RESULT(ts_server_read_share(s, &si, 0, 0, buf, 10, &n), TS_IO);
    CHECK(n == 99 && buf[0] == 0xee); /* never zero-filled, no output */
    /* Short counts are fine: the library asks again for the rest. */
    active = READ_SHORT;
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, buf, 10, &n));
    CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0);
    active = NONE;
    ts_server_free(s);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
}

static void row_35_backend_partial_write(void) {
    ROW(35);
    mem_store *store = mem_store_new();
    ts_server *s = faulty_server(store);
    ts_storage_index si = filled_si(35);
    start_upload(s, si);
    active = WRITE_NOTHING;
    CHECK_RESULT(write_share(s, si, 0, "0123456789"), TS_IO);
    active = WRITE_TOO_LONG;
    CHECK_RESULT(write_share(s, si, 0, "0123456789"), TS_IO);
    ts_range r[4];
    CHECK(count_ranges(s, si, r, 4) == 1 && r[0].start == 0 && r[0].end == 10);
    active = WRITE_SHORT;
    CHECK_OK(write_share(s, si, 0, "0123456789"));
    active = NONE;
    uint64_t size;
    CHECK_OK(ts_server_close(s, &si, 0, SECRET, SECRET_LEN, &size));
    uint8_t buf[16];
    size_t n = 0;
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, buf, sizeof buf, &n));
    CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0);
    ts_server_free(s);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
}

static void row_36_backend_sync_error(void) {
    ROW(36);
    mem_store *store = mem_store_new();
    ts_server *s = faulty_server(store);
    ts_storage_index si = filled_si(36);
    start_upload(s, si);
    CHECK_OK(write_share(s, si, 0, "0123456789"));
    active = SYNC_FAILS;
    uint64_t size = 99;
    CHECK_RESULT(ts_server_close(s, &si, 0, SECRET, SECRET_LEN, &size), TS_IO);
    CHECK(size == 99 && mem_store_published(store) == 0);
    /* A sync that succeeds now must not acknowledge what the failed one lost. */
    active = NONE;
    CHECK_RESULT(ts_server_close(s, &si, 0, SECRET, SECRET_LEN, &size), TS_POISONED);
    CHECK_RESULT(write_share(s, si, 0, "0"), TS_POISONED);
    CHECK(mem_store_published(store) == 0);
    CHECK_OK(ts_server_abort(s, &si, 0, SECRET, SECRET_LEN));
    ts_server_free(s);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
}

static void row_37_enospc_during_upload(void) {
    ROW(37);
    mem_store *store = mem_store_new();
    ts_server *s = faulty_server(store);
    ts_storage_index si = filled_si(37);
    active = WRITE_ENOSPC;
    ts_allocate_request req = request(si, 0, 500);
    ts_allocation a;
    memset(&a, 0x5a, sizeof a);
    CHECK_RESULT(ts_server_allocate_buckets(s, &req, NOW, &a), TS_IO);
    CHECK(a.allocated.bits[0] == UINT64_C(0x5a5a5a5a5a5a5a5a));
    active = NONE;
    /* The partial incoming share is gone, and its space with it. */
    ts_share_set incoming = {{0, 0, 0, 0}};
    CHECK(base.list_incoming(store, &si, &incoming) == TS_CB_OK);
    CHECK(ts_share_set_count(&incoming) == 0);
    bool in_progress = true;
    CHECK_OK(ts_server_upload_in_progress(s, &si, 0, &in_progress));
    CHECK(!in_progress);
    uint64_t allocated = 1;
    CHECK_OK(ts_server_allocated_size(s, &allocated));
    CHECK(allocated == 0);
    ts_server_free(s);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
}

static void row_38_misbehaving_device_or_callbacks(void) {
    ROW(38);
    mem_store *store = mem_store_new();
    ts_server *s = faulty_server(store);
    ts_storage_index si = filled_si(38);
    upload(s, si);
    uint8_t buf[16];
    size_t n = 99;
    active = READ_TOO_LONG; /* a length > the buffer: never copied, never trusted */
    CHECK_RESULT(ts_server_read_share(s, &si, 0, 0, buf, 10, &n), TS_IO);
    active = READ_FAILS;
    CHECK_RESULT(ts_server_read_share(s, &si, 0, 0, buf, 10, &n), TS_IO);
    ts_reader *r = NULL;
    CHECK_RESULT(ts_server_open_bucket(s, &si, 0, &r), TS_IO);
    CHECK(r == NULL && n == 99);
    active = NONE;
    CHECK_OK(ts_server_read_share(s, &si, 0, 0, buf, 10, &n));
    CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0);
    ts_server_free(s);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
}

int main(int argc, char **argv) {
    snprintf(root, sizeof root, "%s/bad_input", scratch_arg(argc, argv));
    templates();
    row_01_empty_or_short_immutable();
    row_02_unknown_immutable_version();
    row_03_lease_count_exceeding_the_file();
    row_04_lease_count_u32_max();
    row_05_partial_trailing_lease();
    row_06_legacy_length_field_disagreeing();
    row_07_wrong_mutable_magic();
    row_08_mutable_shorter_than_its_header();
    row_09_data_length_beyond_the_container();
    row_10_extra_lease_offset_overlapping_data();
    row_11_extra_lease_offset_beyond_eof();
    row_12_extra_lease_count_u32_max();
    row_13_lease_slot_of_owner_zero();
    row_14_odd_share_file_names();
    row_15_symlink_or_directory_as_a_share();
    row_16_stale_incoming_share_at_startup();
    row_17_storage_index_of_a_bad_length();
    ts_server_free(fs);
    row_18_secret_of_a_bad_length();
    row_19_share_number_above_255();
    row_20_too_many_or_duplicate_share_numbers();
    row_21_oversized_allocation();
    row_22_immutable_write_past_the_allocation();
    row_23_offset_plus_length_overflowing();
    row_24_conflicting_immutable_write();
    row_25_write_after_close_or_abort();
    row_26_close_with_holes();
    row_27_reads_past_the_end();
    row_28_test_operator_other_than_eq();
    row_29_many_test_or_read_vectors();
    row_30_mutable_write_past_the_maximum();
    row_31_wrong_write_enabler();
    row_32_unknown_renew_or_cancel_secret();
    row_33_wrong_upload_secret();
    row_34_backend_short_read();
    row_35_backend_partial_write();
    row_36_backend_sync_error();
    row_37_enospc_during_upload();
    row_38_misbehaving_device_or_callbacks();
    CHECK(rows_run == 38);
    printf("RELIABILITY bad_inputs_c %d\n", rows_run);
    return 0;
}
