/*
 * mem_store: a share store kept in memory, written in C, for ts_server_new_callback().
 *
 *     mem_store *store = mem_store_new();
 *     ts_store_callbacks cb = mem_store_callbacks();
 *     ts_server *server;
 *     ts_server_new_callback(&cb, store, &nodeid, NULL, now, &server);
 *     ...
 *     ts_server_free(server);   (and every reader opened from it)
 *     mem_store_free(store);
 *
 * The store is not thread-safe by itself and needs no locking: the library calls the
 * callbacks of one server one at a time.
 */
#ifndef MEM_STORE_H
#define MEM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tahoe_shares.h"

typedef struct mem_store mem_store;

/* A new, empty store of unknown capacity, or NULL when out of memory. */
mem_store *mem_store_new(void);

/* Frees the store and everything in it (NULL is ignored). Free the servers using it first. */
void mem_store_free(mem_store *store);

/* The callback table to pass to ts_server_new_callback() with the store as userdata. */
ts_store_callbacks mem_store_callbacks(void);

/* Sets the capacity in bytes that available_space reports free space from. */
void mem_store_set_capacity(mem_store *store, uint64_t capacity);

/* Share handles given out and not yet closed (0 once every server and reader is freed). */
size_t mem_store_open_handles(const mem_store *store);

/* Published shares held. */
size_t mem_store_published(const mem_store *store);

/* Corruption advisories stored. */
size_t mem_store_advisories(const mem_store *store);

#endif /* MEM_STORE_H */
