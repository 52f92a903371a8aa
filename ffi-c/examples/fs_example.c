/*
 * fs_example: a Tahoe storage server over a storage directory, through the C API.
 *
 *     fs_example STORAGE_DIR
 *
 * Uploads an immutable share, reads it back, writes and reads a mutable slot, and lists
 * the leases and the version record. The directory ends up in Tahoe 1.20's own layout
 * (shares/<prefix>/<storage index>/<share number>): a Tahoe node could serve it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tahoe_shares.h"

/* Prints the message of a failed call and exits. */
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

static bool print_lease(void *userdata, uint32_t share_number, ts_share_kind kind, const ts_lease *lease) {
    (void)userdata;
    printf("  share %" PRIu32 " (%s): lease owner %" PRIu32 ", expires at %" PRIu32 "\n", share_number,
           kind == TS_SHARE_MUTABLE ? "mutable" : "immutable", lease->owner_num, lease->expiration_time);
    return true;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s STORAGE_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    uint64_t now = 1800000000; /* the library has no clock: pass the time */
    ts_node_id nodeid;
    memset(nodeid.bytes, 0x11, sizeof nodeid.bytes);

    printf("libtahoe_shares %s\n", ts_library_version());
    ts_server *server = NULL;
    check(ts_server_new_fs(dir, strlen(dir), true, &nodeid, NULL, now, &server), "ts_server_new_fs");

    /* An immutable upload: allocate share 0, write it, close it. */
    ts_allocate_request req;
    memset(&req, 0, sizeof req);
    uint8_t si_bytes[16];
    memset(si_bytes, 0xaa, sizeof si_bytes);
    check(ts_storage_index_from_bytes(si_bytes, sizeof si_bytes, &req.storage_index), "storage_index_from_bytes");
    memset(req.renew_secret.bytes, 0x01, 32);
    memset(req.cancel_secret.bytes, 0x02, 32);
    check(ts_share_set_insert(&req.share_numbers, 0), "ts_share_set_insert");
    const char *secret = "per-upload secret";
    const char *data = "hello, tahoe";
    req.allocated_size = strlen(data);
    req.renew_leases = true;
    req.upload_secret = (const uint8_t *)secret;
    req.upload_secret_len = strlen(secret);
    ts_allocation granted;
    check(ts_server_allocate_buckets(server, &req, now, &granted), "allocate_buckets");
    printf("allocated %" PRIu32 " share(s)\n", ts_share_set_count(&granted.allocated));

    bool complete = false;
    check(ts_server_write(server, &req.storage_index, 0, req.upload_secret, req.upload_secret_len, 0,
                          (const uint8_t *)data, strlen(data), now, &complete),
          "write");
    uint64_t size;
    check(ts_server_close(server, &req.storage_index, 0, req.upload_secret, req.upload_secret_len, &size), "close");
    printf("published share 0: complete=%d, container of %" PRIu64 " bytes\n", complete, size);

    char buf[64];
    size_t n;
    check(ts_server_read_share(server, &req.storage_index, 0, 0, (uint8_t *)buf, sizeof buf, &n), "read_share");
    printf("read back: %.*s\n", (int)n, buf);

    /* A mutable slot: create share 0 with a test that it is empty, then read it. */
    ts_storage_index slot;
    memset(si_bytes, 0xbb, sizeof si_bytes);
    check(ts_storage_index_from_bytes(si_bytes, sizeof si_bytes, &slot), "storage_index_from_bytes");
    ts_slot_secrets secrets;
    memset(secrets.write_enabler.bytes, 0x03, 32);
    memset(secrets.renew_secret.bytes, 0x04, 32);
    memset(secrets.cancel_secret.bytes, 0x05, 32);
    const char *v1 = "version 1";
    ts_test_vector empty = {0, 1, TS_TEST_EQ, NULL, 0};
    ts_write_vector wv = {0, (const uint8_t *)v1, strlen(v1)};
    ts_slot_write w = {0, &empty, 1, &wv, 1, false, 0};
    bool passed = false;
    check(ts_server_slot_testv_and_readv_and_writev(server, &slot, &secrets, &w, 1, NULL, 0, true, now, &passed,
                                                    NULL),
          "slot_testv_and_readv_and_writev");
    printf("mutable write applied: %d\n", passed);

    ts_read_vector rv = {0, 100};
    ts_read_results *reads = NULL;
    check(ts_server_slot_readv(server, &slot, NULL, &rv, 1, &reads), "slot_readv");
    size_t shares;
    check(ts_read_results_len(reads, &shares), "read_results_len");
    for (size_t i = 0; i < shares; i++) {
        uint32_t shnum;
        size_t count;
        const uint8_t *bytes;
        size_t len;
        check(ts_read_results_share(reads, i, &shnum, &count), "read_results_share");
        check(ts_read_results_data(reads, i, 0, &bytes, &len), "read_results_data");
        printf("slot share %" PRIu32 ": %.*s\n", shnum, (int)len, (const char *)bytes);
    }
    ts_read_results_free(reads);

    printf("leases:\n");
    check(ts_server_for_each_lease(server, &req.storage_index, print_lease, NULL), "for_each_lease");
    check(ts_server_for_each_lease(server, &slot, print_lease, NULL), "for_each_lease");

    ts_version_info version;
    check(ts_server_version(server, &version), "version");
    printf("maximum mutable share size: %" PRIu64 "\n", version.maximum_mutable_share_size);

    ts_server_free(server);
    return 0;
}
