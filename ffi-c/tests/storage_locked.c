/*
 * The storage-directory lock through the C API: a second server opened on a directory
 * another server is using fails at once with TS_STORAGE_LOCKED, changes nothing, and
 * leaves a message in the last error; once the first is freed, the directory opens again.
 * A read-only server (ts_server_new_fs_read_only) opens beside the writer, reads what it
 * published, refuses every change with TS_READ_ONLY and leaves the upload in progress
 * alone.
 *
 *     storage_locked SCRATCH_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

static const uint64_t NOW = 1800000000;

int main(int argc, char **argv) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/locked", scratch_arg(argc, argv));
    ts_node_id id = {{0}};
    ts_server *first = NULL, *second = NULL;
    CHECK_OK(ts_server_new_fs(dir, strlen(dir), false, &id, NULL, NOW, &first));

    /* An upload in progress in the first server survives the refused second one. */
    uint8_t bytes[16];
    memset(bytes, 0x4c, sizeof bytes);
    ts_allocate_request req;
    memset(&req, 0, sizeof req);
    CHECK_OK(ts_storage_index_from_bytes(bytes, sizeof bytes, &req.storage_index));
    CHECK_OK(ts_share_set_insert(&req.share_numbers, 0));
    req.allocated_size = 4;
    req.upload_secret = (const uint8_t *)"secret";
    req.upload_secret_len = 6;
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(first, &req, NOW, &a));

    ts_last_error_clear();
    CHECK_RESULT(ts_server_new_fs(dir, strlen(dir), false, &id, NULL, NOW, &second), TS_STORAGE_LOCKED);
    CHECK(second == NULL && ts_last_error_code() == TS_STORAGE_LOCKED);
    char msg[1024];
    size_t needed = 0;
    CHECK_OK(ts_last_error_message(msg, sizeof msg, &needed));
    CHECK(needed > 1 && needed <= sizeof msg);

    bool complete = false;
    CHECK_OK(ts_server_write(first, &req.storage_index, 0, req.upload_secret, req.upload_secret_len, 0,
                             (const uint8_t *)"data", 4, NOW, &complete));
    CHECK(complete);
    uint64_t size;
    CHECK_OK(ts_server_close(first, &req.storage_index, 0, req.upload_secret, req.upload_secret_len, &size));

    /* A read-only server beside the writer: reads, refuses changes, removes nothing. */
    ts_server *reader = NULL;
    CHECK_OK(ts_server_new_fs_read_only(dir, strlen(dir), &id, NULL, NOW, &reader));
    uint8_t buf[16];
    size_t n = 0;
    CHECK_OK(ts_server_read_share(reader, &req.storage_index, 0, 0, buf, sizeof buf, &n));
    CHECK(n == 4 && memcmp(buf, "data", 4) == 0);
    ts_allocate_request other = req;
    memset(bytes, 0x4d, sizeof bytes);
    CHECK_OK(ts_storage_index_from_bytes(bytes, sizeof bytes, &other.storage_index));
    CHECK_RESULT(ts_server_allocate_buckets(reader, &other, NOW, &a), TS_READ_ONLY);
    CHECK_OK(ts_server_allocate_buckets(first, &other, NOW, &a)); /* in progress in the writer */
    ts_server_free(reader);
    CHECK_OK(ts_server_new_fs_read_only(dir, strlen(dir), &id, NULL, NOW, &reader));
    ts_server_free(reader);
    CHECK_OK(ts_server_write(first, &other.storage_index, 0, other.upload_secret, other.upload_secret_len, 0,
                             (const uint8_t *)"more", 4, NOW, &complete));
    CHECK(complete);

    /* Freeing the first server releases the lock. */
    ts_server_free(first);
    CHECK_OK(ts_server_new_fs(dir, strlen(dir), false, &id, NULL, NOW, &second));
    ts_share_set held;
    CHECK_OK(ts_server_shares(second, &req.storage_index, &held));
    CHECK(ts_share_set_count(&held) == 1);
    ts_server_free(second);
    printf("storage_locked: all checks passed\n");
    return 0;
}
