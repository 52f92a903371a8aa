/*
 * memory_example: a Tahoe storage server over a share store written in C (mem_store.c,
 * which keeps shares in memory), through the C API's callbacks.
 *
 *     memory_example
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem_store.h"
#include "tahoe_shares.h"

static void check(ts_result r, const char *what) {
    if (r == TS_OK) {
        return;
    }
    /* The full message of this thread's last failure (cut to the buffer if longer). */
    char msg[512];
    if (ts_last_error_message(msg, sizeof msg, NULL) != TS_OK) {
        strcpy(msg, "?");
    }
    fprintf(stderr, "%s failed: %s (%u)\n", what, msg, (unsigned)r);
    exit(1);
}

int main(void) {
    uint64_t now = 1800000000;
    ts_node_id nodeid;
    memset(nodeid.bytes, 0x22, sizeof nodeid.bytes);

    mem_store *store = mem_store_new();
    if (store == NULL) {
        return 1;
    }
    mem_store_set_capacity(store, 1 << 20);
    ts_store_callbacks callbacks = mem_store_callbacks();
    ts_config config;
    check(ts_config_default(&config), "config_default");
    config.reserved_space = 1024;

    ts_server *server = NULL;
    check(ts_server_new_callback(&callbacks, store, &nodeid, &config, now, &server), "ts_server_new_callback");

    /* Upload three shares of one file, out of order. */
    ts_allocate_request req;
    memset(&req, 0, sizeof req);
    /* A storage index is a length and the bytes; every Tahoe protocol uses 16. */
    uint8_t si_bytes[16];
    memset(si_bytes, 0x33, sizeof si_bytes);
    check(ts_storage_index_from_bytes(si_bytes, sizeof si_bytes, &req.storage_index), "storage_index_from_bytes");
    memset(req.renew_secret.bytes, 0x44, 32);
    memset(req.cancel_secret.bytes, 0x55, 32);
    for (uint32_t i = 0; i < 3; i++) {
        check(ts_share_set_insert(&req.share_numbers, i), "share_set_insert");
    }
    req.allocated_size = 10;
    req.renew_leases = true;
    req.upload_secret = (const uint8_t *)"s3cret";
    req.upload_secret_len = 6;
    ts_allocation granted;
    check(ts_server_allocate_buckets(server, &req, now, &granted), "allocate_buckets");

    for (uint32_t i = 0; i < 3; i++) {
        bool complete;
        uint64_t size;
        check(ts_server_write(server, &req.storage_index, i, req.upload_secret, req.upload_secret_len, 5,
                              (const uint8_t *)"world", 5, now, &complete),
              "write");
        ts_range missing[4];
        size_t n_missing;
        check(ts_server_required_ranges(server, &req.storage_index, i, req.upload_secret, req.upload_secret_len,
                                        missing, 4, &n_missing),
              "required_ranges");
        printf("share %" PRIu32 ": %zu range(s) missing, first [%" PRIu64 ", %" PRIu64 ")\n", i, n_missing,
               missing[0].start, missing[0].end);
        check(ts_server_write(server, &req.storage_index, i, req.upload_secret, req.upload_secret_len, 0,
                              (const uint8_t *)"hello", 5, now, &complete),
              "write");
        check(ts_server_close(server, &req.storage_index, i, req.upload_secret, req.upload_secret_len, &size),
              "close");
    }

    /* Read every share through readers. */
    ts_reader *readers[8];
    size_t n_readers;
    check(ts_server_get_buckets(server, &req.storage_index, readers, 8, &n_readers), "get_buckets");
    for (size_t i = 0; i < n_readers; i++) {
        char buf[16];
        size_t n;
        check(ts_reader_read(readers[i], 0, (uint8_t *)buf, sizeof buf, &n), "reader_read");
        printf("reader %zu: %.*s\n", i, (int)n, buf);
        ts_reader_free(readers[i]);
    }

    bool known;
    uint64_t space;
    check(ts_server_available_space(server, &known, &space), "available_space");
    printf("available space: %" PRIu64 " bytes; %zu shares in memory\n", space, mem_store_published(store));

    ts_server_free(server);
    mem_store_free(store);
    return 0;
}
