/*
 * A callback store that runs out of space: a callback returning TS_CB_NO_SPACE (its
 * filesystem's ENOSPC or EDQUOT) reaches the caller as TS_NO_SPACE, Tahoe's NoSpace, not
 * as a failure of the storage (TS_IO). The upload it interrupts is released with its
 * reservation, an allocation leaves nothing behind, a corruption advisory that cannot be
 * stored is answered TS_ADVISE_NO_SPACE, and everything works again once there is room.
 *
 *     no_space
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "mem_store.h"

static const uint64_t NOW = 1800000000;

/* The memory store's own callbacks, which the wrappers below call when there is room. */
static ts_store_callbacks inner;
/* Whether the "disk" is full. */
static bool full;

static int full_create_incoming(void *userdata, const ts_storage_index *si, uint32_t shnum,
                                void **out_share) {
    return full ? TS_CB_NO_SPACE : inner.create_incoming(userdata, si, shnum, out_share);
}

static int full_write_at(void *userdata, void *share, uint64_t offset, const uint8_t *data,
                         size_t len, size_t *out_n) {
    return full ? TS_CB_NO_SPACE : inner.share_write_at(userdata, share, offset, data, len, out_n);
}

static int full_write_advisory(void *userdata, const char *name, size_t name_len,
                               const uint8_t *body, size_t body_len) {
    return full ? TS_CB_NO_SPACE : inner.write_advisory(userdata, name, name_len, body, body_len);
}

static void check_last_error_is_no_space(void) {
    CHECK(ts_last_error_code() == TS_NO_SPACE);
    char msg[512];
    size_t needed = 0;
    CHECK_OK(ts_last_error_message(msg, sizeof msg, &needed));
    CHECK(strstr(msg, "no space") != NULL);
}

static void request(ts_allocate_request *req, uint8_t si_byte) {
    memset(req, 0, sizeof *req);
    req->storage_index = filled_si(si_byte);
    CHECK_OK(ts_share_set_insert(&req->share_numbers, 0));
    req->allocated_size = 4;
    req->upload_secret = (const uint8_t *)"secret";
    req->upload_secret_len = 6;
}

int main(void) {
    mem_store *store = mem_store_new();
    CHECK(store != NULL);
    mem_store_set_capacity(store, UINT64_C(1) << 30);
    inner = mem_store_callbacks();
    ts_store_callbacks cb = inner;
    cb.create_incoming = full_create_incoming;
    cb.share_write_at = full_write_at;
    cb.write_advisory = full_write_advisory;
    ts_node_id id = {{0}};
    ts_server *server = NULL;
    CHECK_OK(ts_server_new_callback(&cb, store, &id, NULL, NOW, &server));

    /* An upload write on a full disk: TS_NO_SPACE, and the upload and its space go. */
    ts_allocate_request req;
    request(&req, 0x51);
    ts_allocation a;
    CHECK_OK(ts_server_allocate_buckets(server, &req, NOW, &a));
    uint64_t reserved = 0;
    CHECK_OK(ts_server_allocated_size(server, &reserved));
    CHECK(reserved == 4);
    full = true;
    bool complete = false;
    ts_last_error_clear();
    CHECK_RESULT(ts_server_write(server, &req.storage_index, 0, req.upload_secret,
                                 req.upload_secret_len, 0, (const uint8_t *)"data", 4, NOW,
                                 &complete),
                 TS_NO_SPACE);
    check_last_error_is_no_space();
    bool in_progress = true;
    CHECK_OK(ts_server_upload_in_progress(server, &req.storage_index, 0, &in_progress));
    CHECK(!in_progress);
    CHECK_OK(ts_server_allocated_size(server, &reserved));
    CHECK(reserved == 0);

    /* An allocation on a full disk: TS_NO_SPACE, and no upload is left. */
    ts_allocate_request second;
    request(&second, 0x52);
    CHECK_RESULT(ts_server_allocate_buckets(server, &second, NOW, &a), TS_NO_SPACE);
    check_last_error_is_no_space();
    CHECK_OK(ts_server_upload_in_progress(server, &second.storage_index, 0, &in_progress));
    CHECK(!in_progress);

    /* Room again: the same upload goes through. */
    full = false;
    CHECK_OK(ts_server_allocate_buckets(server, &req, NOW, &a));
    CHECK_OK(ts_server_write(server, &req.storage_index, 0, req.upload_secret,
                             req.upload_secret_len, 0, (const uint8_t *)"data", 4, NOW, &complete));
    CHECK(complete);
    uint64_t size = 0;
    CHECK_OK(ts_server_close(server, &req.storage_index, 0, req.upload_secret,
                             req.upload_secret_len, &size));
    CHECK(mem_store_published(store) == 1);

    /* A corruption advisory that cannot be stored is dropped as "no space", not an error. */
    full = true;
    ts_advise_outcome outcome = TS_ADVISE_RECORDED;
    CHECK_OK(ts_server_advise_corrupt_share(server, "immutable", 9, &req.storage_index, 0, "bad", 3,
                                            NOW, &outcome));
    CHECK(outcome == TS_ADVISE_NO_SPACE);
    CHECK(mem_store_advisories(store) == 0);
    full = false;
    CHECK_OK(ts_server_advise_corrupt_share(server, "immutable", 9, &req.storage_index, 0, "bad", 3,
                                            NOW, &outcome));
    CHECK(outcome == TS_ADVISE_RECORDED);
    CHECK(mem_store_advisories(store) == 1);

    ts_server_free(server);
    CHECK(mem_store_open_handles(store) == 0);
    mem_store_free(store);
    printf("no_space: ok\n");
    return 0;
}
