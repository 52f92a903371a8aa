/* mem_store: see mem_store.h. */
#include "mem_store.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The bytes of one share, shared by the store's entry and the open handles. */
typedef struct mem_file {
    size_t refs;
    uint8_t *data;
    size_t len;
    size_t cap;
} mem_file;

typedef struct mem_entry {
    ts_storage_index si;
    uint32_t shnum;
    bool incoming;
    mem_file *file;
    uint8_t *record; /* the upload record of an incoming share, or NULL */
    size_t record_len;
} mem_entry;

typedef struct mem_advisory {
    char *name;
    size_t name_len;
    uint8_t *body;
    size_t body_len;
} mem_advisory;

struct mem_store {
    mem_entry *entries;
    size_t n_entries;
    size_t cap_entries;
    mem_advisory *advisories;
    size_t n_advisories;
    bool capacity_known;
    uint64_t capacity;
    size_t open_handles;
};

mem_store *mem_store_new(void) {
    return calloc(1, sizeof(mem_store));
}

static void file_unref(mem_file *f) {
    if (f != NULL && --f->refs == 0) {
        free(f->data);
        free(f);
    }
}

void mem_store_free(mem_store *s) {
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n_entries; i++) {
        file_unref(s->entries[i].file);
        free(s->entries[i].record);
    }
    for (size_t i = 0; i < s->n_advisories; i++) {
        free(s->advisories[i].name);
        free(s->advisories[i].body);
    }
    free(s->entries);
    free(s->advisories);
    free(s);
}

void mem_store_set_capacity(mem_store *s, uint64_t capacity) {
    s->capacity_known = true;
    s->capacity = capacity;
}

size_t mem_store_open_handles(const mem_store *s) {
    return s->open_handles;
}

size_t mem_store_published(const mem_store *s) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_entries; i++) {
        n += !s->entries[i].incoming;
    }
    return n;
}

size_t mem_store_advisories(const mem_store *s) {
    return s->n_advisories;
}

/* Storage indexes are equal when their lengths and their first `len` bytes are (the
 * library hands out zeros past the length, but compare only what is used). */
static bool same_si(const ts_storage_index *a, const ts_storage_index *b) {
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static mem_entry *find(mem_store *s, const ts_storage_index *si, uint32_t shnum, bool incoming) {
    for (size_t i = 0; i < s->n_entries; i++) {
        mem_entry *e = &s->entries[i];
        if (e->incoming == incoming && e->shnum == shnum && same_si(&e->si, si)) {
            return e;
        }
    }
    return NULL;
}

static void drop_entry(mem_store *s, mem_entry *e) {
    file_unref(e->file);
    free(e->record);
    *e = s->entries[--s->n_entries];
}

/* Gives out a handle on an entry's file. */
static void *take(mem_store *s, mem_entry *e) {
    e->file->refs++;
    s->open_handles++;
    return e->file;
}

static int cb_open(void *ud, const ts_storage_index *si, uint32_t shnum, void **out_share) {
    mem_store *s = ud;
    mem_entry *e = find(s, si, shnum, false);
    if (e == NULL) {
        return TS_CB_NOT_FOUND;
    }
    *out_share = take(s, e);
    return TS_CB_OK;
}

static int cb_open_incoming(void *ud, const ts_storage_index *si, uint32_t shnum, void **out_share) {
    mem_store *s = ud;
    mem_entry *e = find(s, si, shnum, true);
    if (e == NULL) {
        return TS_CB_NOT_FOUND;
    }
    *out_share = take(s, e);
    return TS_CB_OK;
}

static int list_kind(mem_store *s, const ts_storage_index *si, bool incoming, ts_share_set *out) {
    ts_share_set set = {{0, 0, 0, 0}};
    for (size_t i = 0; i < s->n_entries; i++) {
        mem_entry *e = &s->entries[i];
        if (e->incoming == incoming && same_si(&e->si, si)) {
            set.bits[e->shnum / 64] |= UINT64_C(1) << (e->shnum % 64);
        }
    }
    *out = set;
    return TS_CB_OK;
}

static int cb_list(void *ud, const ts_storage_index *si, ts_share_set *out) {
    return list_kind(ud, si, false, out);
}

static int cb_list_incoming(void *ud, const ts_storage_index *si, ts_share_set *out) {
    return list_kind(ud, si, true, out);
}

static int cb_create_incoming(void *ud, const ts_storage_index *si, uint32_t shnum, void **out_share) {
    mem_store *s = ud;
    if (find(s, si, shnum, false) != NULL || find(s, si, shnum, true) != NULL) {
        return TS_CB_EXISTS;
    }
    if (s->n_entries == s->cap_entries) {
        size_t cap = s->cap_entries ? 2 * s->cap_entries : 16;
        mem_entry *grown = realloc(s->entries, cap * sizeof *grown);
        if (grown == NULL) {
            return TS_CB_ERROR;
        }
        s->entries = grown;
        s->cap_entries = cap;
    }
    mem_file *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return TS_CB_ERROR;
    }
    f->refs = 1;
    mem_entry *e = &s->entries[s->n_entries++];
    memset(e, 0, sizeof *e);
    e->si = *si;
    e->shnum = shnum;
    e->incoming = true;
    e->file = f;
    *out_share = take(s, e);
    return TS_CB_OK;
}

static int cb_publish(void *ud, const ts_storage_index *si, uint32_t shnum) {
    mem_store *s = ud;
    mem_entry *e = find(s, si, shnum, true);
    if (e == NULL) {
        return TS_CB_NOT_FOUND;
    }
    if (find(s, si, shnum, false) != NULL) {
        return TS_CB_EXISTS;
    }
    e->incoming = false;
    free(e->record);
    e->record = NULL;
    e->record_len = 0;
    return TS_CB_OK;
}

static int cb_abort(void *ud, const ts_storage_index *si, uint32_t shnum) {
    mem_store *s = ud;
    mem_entry *e = find(s, si, shnum, true);
    if (e == NULL) {
        return TS_CB_NOT_FOUND;
    }
    drop_entry(s, e);
    return TS_CB_OK;
}

static int cb_remove(void *ud, const ts_storage_index *si, uint32_t shnum) {
    mem_store *s = ud;
    mem_entry *e = find(s, si, shnum, false);
    if (e == NULL) {
        return TS_CB_NOT_FOUND;
    }
    drop_entry(s, e);
    return TS_CB_OK;
}

static int cb_put_record(void *ud, const ts_storage_index *si, uint32_t shnum, const uint8_t *record,
                         size_t record_len) {
    mem_store *s = ud;
    mem_entry *e = find(s, si, shnum, true);
    if (e == NULL) {
        return TS_CB_NOT_FOUND;
    }
    uint8_t *copy = malloc(record_len ? record_len : 1);
    if (copy == NULL) {
        return TS_CB_ERROR;
    }
    if (record_len) {
        memcpy(copy, record, record_len);
    }
    free(e->record);
    e->record = copy;
    e->record_len = record_len;
    return TS_CB_OK;
}

static int cb_get_record(void *ud, const ts_storage_index *si, uint32_t shnum, uint8_t *buf, size_t buf_len,
                         size_t *out_len) {
    mem_store *s = ud;
    mem_entry *e = find(s, si, shnum, true);
    if (e == NULL || e->record == NULL) {
        return TS_CB_NOT_FOUND;
    }
    *out_len = e->record_len;
    if (e->record_len > buf_len) {
        return TS_CB_BUFFER_TOO_SMALL;
    }
    if (e->record_len) {
        memcpy(buf, e->record, e->record_len);
    }
    return TS_CB_OK;
}

static int cb_available_space(void *ud, uint64_t *out_bytes) {
    mem_store *s = ud;
    if (!s->capacity_known) {
        return TS_CB_NOT_FOUND;
    }
    uint64_t used = 0;
    for (size_t i = 0; i < s->n_entries; i++) {
        used += s->entries[i].file->len;
    }
    *out_bytes = used < s->capacity ? s->capacity - used : 0;
    return TS_CB_OK;
}

static int cb_write_advisory(void *ud, const char *name, size_t name_len, const uint8_t *body, size_t body_len) {
    mem_store *s = ud;
    for (size_t i = 0; i < s->n_advisories; i++) {
        mem_advisory *a = &s->advisories[i];
        if (a->name_len == name_len && memcmp(a->name, name, name_len) == 0) {
            return TS_CB_EXISTS;
        }
    }
    mem_advisory *grown = realloc(s->advisories, (s->n_advisories + 1) * sizeof *grown);
    if (grown == NULL) {
        return TS_CB_ERROR;
    }
    s->advisories = grown;
    mem_advisory a = {malloc(name_len + 1), name_len, malloc(body_len + 1), body_len};
    if (a.name == NULL || a.body == NULL) {
        free(a.name);
        free(a.body);
        return TS_CB_ERROR;
    }
    memcpy(a.name, name, name_len);
    a.name[name_len] = '\0';
    if (body_len) {
        memcpy(a.body, body, body_len);
    }
    s->advisories[s->n_advisories++] = a;
    return TS_CB_OK;
}

/* Byte order: the common prefix, then the shorter first. */
static int compare_si(const void *a, const void *b) {
    const ts_storage_index *x = a, *y = b;
    int c = memcmp(x->bytes, y->bytes, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (int)x->len - (int)y->len;
}

static int cb_for_each_storage_index(void *ud, ts_visit_storage_index_fn visit, void *ctx) {
    mem_store *s = ud;
    if (s->n_entries == 0) {
        return TS_CB_OK;
    }
    ts_storage_index *sis = malloc(s->n_entries * sizeof *sis);
    if (sis == NULL) {
        return TS_CB_ERROR;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n_entries; i++) {
        if (!s->entries[i].incoming) {
            sis[n++] = s->entries[i].si;
        }
    }
    qsort(sis, n, sizeof *sis, compare_si);
    for (size_t i = 0; i < n; i++) {
        if ((i == 0 || compare_si(&sis[i - 1], &sis[i]) != 0) && !visit(ctx, &sis[i])) {
            break;
        }
    }
    free(sis);
    return TS_CB_OK;
}

static int cb_for_each_incoming(void *ud, ts_visit_incoming_fn visit, void *ctx) {
    mem_store *s = ud;
    for (size_t i = 0; i < s->n_entries; i++) {
        mem_entry *e = &s->entries[i];
        if (e->incoming && !visit(ctx, &e->si, e->shnum)) {
            break;
        }
    }
    return TS_CB_OK;
}

static int cb_share_len(void *ud, void *share, uint64_t *out_len) {
    (void)ud;
    *out_len = ((mem_file *)share)->len;
    return TS_CB_OK;
}

static int cb_share_read_at(void *ud, void *share, uint64_t offset, uint8_t *buf, size_t len, size_t *out_n) {
    (void)ud;
    mem_file *f = share;
    if (offset > f->len || len > f->len - offset) {
        return TS_CB_ERROR; /* past the end */
    }
    memcpy(buf, f->data + offset, len);
    *out_n = len;
    return TS_CB_OK;
}

static int resize(mem_file *f, size_t len) {
    if (len > f->cap) {
        size_t cap = f->cap ? f->cap : 64;
        while (cap < len) {
            cap *= 2;
        }
        uint8_t *grown = realloc(f->data, cap);
        if (grown == NULL) {
            return TS_CB_ERROR;
        }
        f->data = grown;
        f->cap = cap;
    }
    if (len > f->len) {
        memset(f->data + f->len, 0, len - f->len);
    }
    f->len = len;
    return TS_CB_OK;
}

static int cb_share_write_at(void *ud, void *share, uint64_t offset, const uint8_t *data, size_t len,
                             size_t *out_n) {
    (void)ud;
    mem_file *f = share;
    if (offset > SIZE_MAX / 2 || len > SIZE_MAX / 2) {
        return TS_CB_ERROR;
    }
    size_t end = (size_t)offset + len;
    if (end > f->len && resize(f, end) != TS_CB_OK) {
        return TS_CB_ERROR;
    }
    memcpy(f->data + offset, data, len);
    *out_n = len;
    return TS_CB_OK;
}

static int cb_share_set_len(void *ud, void *share, uint64_t len) {
    (void)ud;
    if (len > SIZE_MAX / 2) {
        return TS_CB_ERROR;
    }
    return resize(share, (size_t)len);
}

static int cb_share_sync(void *ud, void *share) {
    (void)ud;
    (void)share;
    return TS_CB_OK;
}

static void cb_share_close(void *ud, void *share) {
    mem_store *s = ud;
    s->open_handles--;
    file_unref(share);
}

ts_store_callbacks mem_store_callbacks(void) {
    ts_store_callbacks cb = {
        .open = cb_open,
        .list = cb_list,
        .create_incoming = cb_create_incoming,
        .open_incoming = cb_open_incoming,
        .list_incoming = cb_list_incoming,
        .publish = cb_publish,
        .abort = cb_abort,
        .remove = cb_remove,
        .put_upload_record = cb_put_record,
        .get_upload_record = cb_get_record,
        .available_space = cb_available_space,
        .write_advisory = cb_write_advisory,
        .for_each_storage_index = cb_for_each_storage_index,
        .for_each_incoming = cb_for_each_incoming,
        .share_len = cb_share_len,
        .share_read_at = cb_share_read_at,
        .share_write_at = cb_share_write_at,
        .share_set_len = cb_share_set_len,
        .share_sync = cb_share_sync,
        .share_close = cb_share_close,
    };
    return cb;
}
