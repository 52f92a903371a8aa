/*
 * The C driver of the differential scripts: runs a server script (the JSON format of
 * docs/differential-scripts.md) through the C API over a storage directory and prints one
 * JSON result per op, one per line, exactly as the Rust driver (tests/drivers) prints them.
 * tests/drivers/tests/c_differential.rs compares the two on ffi-c/tests/differential.json;
 * tests/python/test_c_driver.py compares this driver with Tahoe-LAFS 1.20.
 *
 *     differential SCRIPT.json STORAGE_DIR
 *
 * A script this driver cannot read, or an op it does not know, exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- a small JSON reader (the scripts are trusted test input) ------------------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jv {
    jtype type;
    bool boolean;
    bool negative;
    uint64_t num;
    char *str; /* J_STR: NUL-terminated (the scripts hold ASCII) */
    size_t n;  /* J_ARR, J_OBJ: number of items */
    struct jv *items;
    char **keys; /* J_OBJ */
} jv;

static void die(const char *what) {
    fprintf(stderr, "differential: %s\n", what);
    exit(2);
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
        p++;
    }
    return p;
}

static const char *parse_value(const char *p, jv *out);

static const char *parse_string(const char *p, char **out) {
    if (*p != '"') {
        die("a string was expected");
    }
    p++;
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    CHECK(s != NULL);
    while (*p != '"') {
        char c = *p++;
        if (c == '\0') {
            die("unterminated string");
        }
        if (c == '\\') {
            c = *p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '"': case '\\': case '/': break;
            default: die("unsupported string escape");
            }
        }
        if (len + 2 > cap) {
            cap *= 2;
            s = realloc(s, cap);
            CHECK(s != NULL);
        }
        s[len++] = c;
    }
    s[len] = '\0';
    *out = s;
    return p + 1;
}

/* Parses the items of an array or object after its opening bracket. */
static const char *parse_items(const char *p, jv *out, bool object) {
    size_t cap = 0;
    out->n = 0;
    p = skip_ws(p);
    if (*p == (object ? '}' : ']')) {
        return p + 1;
    }
    for (;;) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            out->items = realloc(out->items, cap * sizeof *out->items);
            CHECK(out->items != NULL);
            if (object) {
                out->keys = realloc(out->keys, cap * sizeof *out->keys);
                CHECK(out->keys != NULL);
            }
        }
        p = skip_ws(p);
        if (object) {
            p = skip_ws(parse_string(p, &out->keys[out->n]));
            if (*p++ != ':') {
                die("':' expected");
            }
        }
        p = skip_ws(parse_value(p, &out->items[out->n]));
        out->n++;
        if (*p == ',') {
            p++;
        } else if (*p == (object ? '}' : ']')) {
            return p + 1;
        } else {
            die("',' or a closing bracket expected");
        }
    }
}

static const char *parse_value(const char *p, jv *out) {
    memset(out, 0, sizeof *out);
    p = skip_ws(p);
    if (*p == '{' || *p == '[') {
        out->type = *p == '{' ? J_OBJ : J_ARR;
        return parse_items(p + 1, out, *p == '{');
    }
    if (*p == '"') {
        out->type = J_STR;
        return parse_string(p, &out->str);
    }
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
        out->type = J_BOOL;
        out->boolean = *p == 't';
        return p + (out->boolean ? 4 : 5);
    }
    if (strncmp(p, "null", 4) == 0) {
        out->type = J_NULL;
        return p + 4;
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        out->type = J_NUM;
        out->negative = *p == '-';
        char *end;
        out->num = strtoull(out->negative ? p + 1 : p, &end, 10);
        if (*end == '.' || *end == 'e' || *end == 'E') {
            die("only integers are supported");
        }
        return end;
    }
    die("a JSON value was expected");
    return p;
}

static void free_value(jv *v) {
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        free_value(&v->items[i]);
        if (v->keys != NULL) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
}

/* The member `key` of an object, or NULL. */
static const jv *get(const jv *obj, const char *key) {
    if (obj == NULL || obj->type != J_OBJ) {
        return NULL;
    }
    for (size_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->keys[i], key) == 0) {
            return &obj->items[i];
        }
    }
    return NULL;
}

static const jv *need(const jv *obj, const char *key, jtype type) {
    const jv *v = get(obj, key);
    if (v == NULL || v->type != type) {
        fprintf(stderr, "differential: field %s is missing or of the wrong type\n", key);
        exit(2);
    }
    return v;
}

static uint64_t uint_of(const jv *v) {
    if (v->type != J_NUM || v->negative) {
        die("an unsigned integer was expected");
    }
    return v->num;
}

static uint64_t field_uint(const jv *obj, const char *key) {
    return uint_of(need(obj, key, J_NUM));
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    die("bad hex digit");
    return 0;
}

/* The bytes of a hex string, malloc'd (at least 1 byte, so never NULL); *len their number. */
static uint8_t *hex_of(const jv *v, size_t *len) {
    if (v->type != J_STR || strlen(v->str) % 2 != 0) {
        die("a hex string was expected");
    }
    size_t n = strlen(v->str) / 2;
    uint8_t *b = malloc(n ? n : 1);
    CHECK(b != NULL);
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(hex_digit(v->str[2 * i]) << 4 | hex_digit(v->str[2 * i + 1]));
    }
    *len = n;
    return b;
}

static void fixed_hex(const jv *obj, const char *key, uint8_t *out, size_t size) {
    size_t len;
    uint8_t *b = hex_of(need(obj, key, J_STR), &len);
    if (len != size) {
        fprintf(stderr, "differential: %s must be %zu bytes\n", key, size);
        exit(2);
    }
    memcpy(out, b, size);
    free(b);
}

static ts_secret secret_field(const jv *op, const char *key) {
    ts_secret s;
    fixed_hex(op, key, s.bytes, sizeof s.bytes);
    return s;
}

static ts_storage_index storage_index_of(const jv *v) {
    size_t len;
    uint8_t *b = hex_of(v, &len);
    ts_storage_index si;
    CHECK_OK(ts_storage_index_from_bytes(b, len, &si));
    free(b);
    return si;
}

/* ---- output: results are built in growable strings ------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CHECK(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        CHECK(b->s != NULL);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void put_hex(sbuf *b, const uint8_t *p, size_t n) {
    put(b, "\"");
    for (size_t i = 0; i < n; i++) {
        put(b, "%02x", p[i]);
    }
    put(b, "\"");
}

static void put_string(sbuf *b, const char *s) {
    put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            put(b, "\\%c", c);
        } else if (c < 0x20) {
            put(b, "\\u%04x", c);
        } else {
            put(b, "%c", c);
        }
    }
    put(b, "\"");
}

static void put_set(sbuf *b, const ts_share_set *set) {
    put(b, "[");
    bool first = true;
    for (uint32_t n = 0; n < 256; n++) {
        if (ts_share_set_contains(set, n)) {
            put(b, first ? "%" PRIu32 : ",%" PRIu32, n);
            first = false;
        }
    }
    put(b, "]");
}

static void put_reads(sbuf *b, ts_read_results *reads) {
    size_t shares;
    CHECK_OK(ts_read_results_len(reads, &shares));
    put(b, "{");
    for (size_t i = 0; i < shares; i++) {
        uint32_t shnum;
        size_t count;
        CHECK_OK(ts_read_results_share(reads, i, &shnum, &count));
        put(b, "%s\"%" PRIu32 "\":[", i ? "," : "", shnum);
        for (size_t j = 0; j < count; j++) {
            const uint8_t *data;
            size_t len;
            CHECK_OK(ts_read_results_data(reads, i, j, &data, &len));
            if (j) {
                put(b, ",");
            }
            put_hex(b, data, len);
        }
        put(b, "]");
    }
    put(b, "}");
}

/* The error kinds of the format, by result code (the Rust driver derives them alike). */
static const char *error_kind(ts_result r) {
    switch (r) {
    case TS_UNKNOWN_IMMUTABLE_VERSION: return "unknown_immutable_container";
    case TS_UNKNOWN_MUTABLE_MAGIC: return "unknown_mutable_container";
    case TS_DATA_TOO_LARGE: return "data_too_large";
    case TS_CONFLICTING_WRITE: return "conflicting_write";
    case TS_BAD_WRITE_ENABLER: return "bad_write_enabler";
    case TS_NO_SPACE: return "no_space";
    case TS_NO_SUCH_LEASE: return "no_such_lease";
    case TS_NO_SUCH_SHARE: return "no_such_share";
    case TS_NO_SUCH_UPLOAD: case TS_BAD_UPLOAD_SECRET: return "no_such_upload";
    case TS_UNSUPPORTED_OPERATOR: return "unsupported_operator";
    case TS_INVALID_ARGUMENT: return "invalid_argument";
    case TS_LIMIT_UPLOADS: case TS_LIMIT_RANGES_PER_UPLOAD: case TS_LIMIT_ADVISORY_SIZE:
        return "limit_reached";
    case TS_ALREADY_EXISTS: return "already_exists";
    case TS_CORRUPT: return "corrupt";
    default: return NULL;
    }
}

/* ---- the server and the ops -------------------------------------------------------------- */

static ts_server *server = NULL;
static const char *dir;
static ts_node_id nodeid;
static ts_config config;

/* Storage index and upload secret of each allocate op, by op index. */
typedef struct {
    bool is_allocate;
    ts_storage_index si;
    uint8_t *secret;
    size_t secret_len;
} alloc_info;
static alloc_info *allocs;

static void start(uint64_t now) {
    ts_server_free(server);
    server = NULL;
    /* Durable (fsync) here, while the Rust driver does not sync: the bytes are the same. */
    CHECK_OK(ts_server_new_fs(dir, strlen(dir), true, &nodeid, &config, now, &server));
}

/* What a write, close or abort uses: allocate op `alloc`'s storage index and secret, or
 * the op's own `upload_secret`. The secret is malloc'd. */
static void upload_of(const jv *op, size_t index, ts_storage_index *si, uint32_t *shnum,
                      uint8_t **secret, size_t *secret_len) {
    uint64_t k = field_uint(op, "alloc");
    if (k >= index || !allocs[k].is_allocate) {
        die("alloc is not the index of an earlier allocate op");
    }
    *si = allocs[k].si;
    *shnum = (uint32_t)field_uint(op, "shnum");
    const jv *own = get(op, "upload_secret");
    if (own != NULL) {
        *secret = hex_of(own, secret_len);
    } else {
        *secret = malloc(allocs[k].secret_len);
        CHECK(*secret != NULL);
        memcpy(*secret, allocs[k].secret, allocs[k].secret_len);
        *secret_len = allocs[k].secret_len;
    }
}

static ts_share_set share_set_of(const jv *list) {
    ts_share_set set;
    memset(&set, 0, sizeof set);
    for (size_t i = 0; i < list->n; i++) {
        CHECK_OK(ts_share_set_insert(&set, (uint32_t)uint_of(&list->items[i])));
    }
    return set;
}

/* A read vector list: [[offset, length], ...], malloc'd (never NULL). */
static ts_read_vector *readv_of(const jv *list) {
    ts_read_vector *rv = malloc((list->n ? list->n : 1) * sizeof *rv);
    CHECK(rv != NULL);
    for (size_t i = 0; i < list->n; i++) {
        const jv *pair = &list->items[i];
        CHECK(pair->type == J_ARR && pair->n == 2);
        rv[i].offset = uint_of(&pair->items[0]);
        rv[i].length = uint_of(&pair->items[1]);
    }
    return rv;
}

static ts_result op_allocate(const jv *op, size_t index, uint64_t now, sbuf *ok) {
    ts_allocate_request req;
    memset(&req, 0, sizeof req);
    req.storage_index = storage_index_of(need(op, "si", J_STR));
    req.renew_secret = secret_field(op, "renew");
    req.cancel_secret = secret_field(op, "cancel");
    req.share_numbers = share_set_of(need(op, "shnums", J_ARR));
    req.allocated_size = field_uint(op, "size");
    req.owner_num = (uint32_t)field_uint(op, "owner");
    req.renew_leases = need(op, "renew_leases", J_BOOL)->boolean;
    alloc_info *a = &allocs[index];
    a->is_allocate = true;
    a->si = req.storage_index;
    const jv *own = get(op, "upload_secret");
    if (own != NULL) {
        a->secret = hex_of(own, &a->secret_len);
    } else {
        /* Foolscap has no upload secret: every allocate is a new request with its own. */
        char text[64];
        int n = snprintf(text, sizeof text, "server_script allocate %zu", index);
        CHECK(n > 0 && (size_t)n < sizeof text);
        a->secret = malloc((size_t)n);
        CHECK(a->secret != NULL);
        memcpy(a->secret, text, (size_t)n);
        a->secret_len = (size_t)n;
    }
    req.upload_secret = a->secret;
    req.upload_secret_len = a->secret_len;
    ts_allocation got;
    ts_result r = ts_server_allocate_buckets(server, &req, now, &got);
    if (r == TS_OK) {
        put(ok, "{\"already_have\":");
        put_set(ok, &got.already_have);
        put(ok, ",\"allocated\":");
        put_set(ok, &got.allocated);
        put(ok, "}");
    }
    return r;
}

static ts_result op_upload(const char *name, const jv *op, size_t index, uint64_t now,
                           sbuf *ok, sbuf *extra) {
    ts_storage_index si;
    uint32_t shnum;
    uint8_t *secret;
    size_t secret_len;
    upload_of(op, index, &si, &shnum, &secret, &secret_len);
    ts_result r;
    if (strcmp(name, "write") == 0) {
        size_t len;
        uint8_t *data = hex_of(need(op, "data", J_STR), &len);
        bool complete;
        r = ts_server_write(server, &si, shnum, secret, secret_len, field_uint(op, "offset"), data,
                            len, now, &complete);
        if (r == TS_OK) {
            put(ok, complete ? "true" : "false");
        }
        free(data);
    } else if (strcmp(name, "close") == 0) {
        uint64_t size;
        r = ts_server_close(server, &si, shnum, secret, secret_len, &size);
        if (r == TS_OK) {
            put(ok, "null");
            put(extra, "{\"size\":%" PRIu64 "}", size);
        }
    } else {
        r = ts_server_abort(server, &si, shnum, secret, secret_len);
        if (r == TS_OK) {
            put(ok, "null");
        }
    }
    free(secret);
    return r;
}

/* get_buckets, and read through it (as both of Tahoe's front ends read). */
static ts_result op_buckets(const jv *op, bool read, sbuf *ok) {
    ts_storage_index si = storage_index_of(need(op, "si", J_STR));
    ts_reader *readers[256];
    size_t n;
    ts_result r = ts_server_get_buckets(server, &si, readers, 256, &n);
    if (r != TS_OK) {
        return r;
    }
    if (!read) {
        put(ok, "{");
    }
    uint32_t wanted = read ? (uint32_t)field_uint(op, "shnum") : 0;
    ts_reader *found = NULL;
    for (size_t i = 0; i < n; i++) {
        ts_storage_index rsi;
        uint32_t shnum;
        uint64_t length;
        CHECK_OK(ts_reader_share(readers[i], &rsi, &shnum));
        CHECK_OK(ts_reader_length(readers[i], &length));
        if (!read) {
            put(ok, "%s\"%" PRIu32 "\":%" PRIu64, i ? "," : "", shnum, length);
        } else if (shnum == wanted) {
            found = readers[i];
        }
    }
    if (!read) {
        put(ok, "}");
    } else if (found == NULL) {
        r = TS_NO_SUCH_SHARE;
    } else {
        size_t length = (size_t)field_uint(op, "length");
        uint8_t *buf = malloc(length ? length : 1);
        CHECK(buf != NULL);
        size_t got;
        r = ts_reader_read(found, field_uint(op, "offset"), buf, length, &got);
        if (r == TS_OK) {
            put_hex(ok, buf, got);
        }
        free(buf);
    }
    for (size_t i = 0; i < n; i++) {
        ts_reader_free(readers[i]);
    }
    return r;
}

static ts_result op_slot_write(const jv *op, uint64_t now, sbuf *ok) {
    ts_storage_index si = storage_index_of(need(op, "si", J_STR));
    ts_slot_secrets sec;
    sec.write_enabler = secret_field(op, "we");
    sec.renew_secret = secret_field(op, "renew");
    sec.cancel_secret = secret_field(op, "cancel");
    const jv *tw = need(op, "tw", J_ARR);
    ts_slot_write *writes = calloc(tw->n ? tw->n : 1, sizeof *writes);
    CHECK(writes != NULL);
    size_t nbufs = 0;
    uint8_t **bufs = NULL; /* every specimen and data buffer, freed at the end */
    for (size_t i = 0; i < tw->n; i++) {
        const jv *e = &tw->items[i];
        ts_slot_write *w = &writes[i];
        w->share_number = (uint32_t)field_uint(e, "shnum");
        const jv *tests = need(e, "tests", J_ARR), *wv = need(e, "writes", J_ARR);
        bufs = realloc(bufs, (nbufs + tests->n + wv->n + 2) * sizeof *bufs);
        CHECK(bufs != NULL);
        ts_test_vector *t = calloc(tests->n ? tests->n : 1, sizeof *t);
        ts_write_vector *v = calloc(wv->n ? wv->n : 1, sizeof *v);
        CHECK(t != NULL && v != NULL);
        bufs[nbufs++] = (uint8_t *)t;
        bufs[nbufs++] = (uint8_t *)v;
        for (size_t j = 0; j < tests->n; j++) {
            const jv *tv = &tests->items[j];
            CHECK(tv->type == J_ARR && tv->n == 4 && tv->items[2].type == J_STR);
            t[j].offset = uint_of(&tv->items[0]);
            t[j].length = uint_of(&tv->items[1]);
            /* Only "eq" exists; any other name is a number the library refuses. */
            t[j].op = strcmp(tv->items[2].str, "eq") == 0 ? TS_TEST_EQ : UINT32_MAX;
            uint8_t *specimen = hex_of(&tv->items[3], &t[j].specimen_len);
            bufs[nbufs++] = specimen;
            t[j].specimen = specimen;
        }
        for (size_t j = 0; j < wv->n; j++) {
            const jv *pair = &wv->items[j];
            CHECK(pair->type == J_ARR && pair->n == 2);
            v[j].offset = uint_of(&pair->items[0]);
            uint8_t *data = hex_of(&pair->items[1], &v[j].data_len);
            bufs[nbufs++] = data;
            v[j].data = data;
        }
        w->tests = t;
        w->tests_len = tests->n;
        w->writes = v;
        w->writes_len = wv->n;
        const jv *newlen = get(e, "new_length");
        if (newlen != NULL && newlen->type != J_NULL) {
            w->has_new_length = true;
            w->new_length = uint_of(newlen);
        }
    }
    const jv *rvj = need(op, "readv", J_ARR);
    ts_read_vector *rv = readv_of(rvj);
    bool passed;
    ts_read_results *reads = NULL;
    ts_result r = ts_server_slot_testv_and_readv_and_writev(
        server, &si, &sec, writes, tw->n, rv, rvj->n, need(op, "renew_leases", J_BOOL)->boolean,
        now, &passed, &reads);
    if (r == TS_OK) {
        put(ok, "{\"passed\":%s,\"reads\":", passed ? "true" : "false");
        put_reads(ok, reads);
        put(ok, "}");
        ts_read_results_free(reads);
    }
    for (size_t i = 0; i < nbufs; i++) {
        free(bufs[i]);
    }
    free(bufs);
    free(writes);
    free(rv);
    return r;
}

static ts_result op_slot_readv(const jv *op, sbuf *ok) {
    ts_storage_index si = storage_index_of(need(op, "si", J_STR));
    ts_share_set shares = share_set_of(need(op, "shnums", J_ARR));
    const jv *rvj = need(op, "readv", J_ARR);
    ts_read_vector *rv = readv_of(rvj);
    ts_read_results *reads = NULL;
    ts_result r = ts_server_slot_readv(server, &si, &shares, rv, rvj->n, &reads);
    if (r == TS_OK) {
        put_reads(ok, reads);
        ts_read_results_free(reads);
    }
    free(rv);
    return r;
}

static ts_result op_version(sbuf *ok) {
    ts_version_info v;
    ts_result r = ts_server_version(server, &v);
    if (r == TS_OK) {
        put(ok,
            "{\"maximum-mutable-share-size\":%" PRIu64 ",\"available-space-is-zero\":%s,"
            "\"tolerates-immutable-read-overrun\":%s,"
            "\"delete-mutable-shares-with-zero-length-writev\":%s,"
            "\"fills-holes-with-zero-bytes\":%s,\"prevents-read-past-end-of-share-data\":%s}",
            v.maximum_mutable_share_size,
            v.available_space_known && v.available_space == 0 ? "true" : "false",
            v.tolerates_immutable_read_overrun ? "true" : "false",
            v.delete_mutable_shares_with_zero_length_writev ? "true" : "false",
            v.fills_holes_with_zero_bytes ? "true" : "false",
            v.prevents_read_past_end_of_share_data ? "true" : "false");
    }
    return r;
}

/* Runs op `index`; its `ok` value goes to `ok`, what the result carries beside it to `extra`. */
static ts_result run(const jv *op, size_t index, uint64_t now, sbuf *ok, sbuf *extra) {
    const char *name = need(op, "op", J_STR)->str;
    size_t count;
    ts_result r = ts_server_expire_stale_uploads(server, now, NULL, NULL, &count);
    if (r != TS_OK) {
        return r;
    }
    if (strcmp(name, "expire") == 0) {
        /* Tahoe's idle timers fire as its clock reaches `now`: this op is that step alone. */
        put(ok, "null");
        put(extra, "{\"count\":%zu}", count);
        return TS_OK;
    }
    if (strcmp(name, "allocate") == 0) {
        return op_allocate(op, index, now, ok);
    }
    if (strcmp(name, "write") == 0 || strcmp(name, "close") == 0 || strcmp(name, "abort") == 0) {
        return op_upload(name, op, index, now, ok, extra);
    }
    if (strcmp(name, "get_buckets") == 0 || strcmp(name, "read") == 0) {
        return op_buckets(op, name[0] == 'r', ok);
    }
    if (strcmp(name, "slot_testv_and_readv_and_writev") == 0) {
        return op_slot_write(op, now, ok);
    }
    if (strcmp(name, "slot_readv") == 0) {
        return op_slot_readv(op, ok);
    }
    if (strcmp(name, "version") == 0) {
        return op_version(ok);
    }
    if (strcmp(name, "restart") == 0) {
        start(now);
        put(ok, "null");
        return TS_OK;
    }
    ts_storage_index si = storage_index_of(need(op, "si", J_STR));
    if (strcmp(name, "add_lease") == 0) {
        ts_secret renew = secret_field(op, "renew"), cancel = secret_field(op, "cancel");
        /* Foolscap's remote_add_lease passes owner 1. */
        uint32_t owner = get(op, "owner") != NULL ? (uint32_t)field_uint(op, "owner") : 1;
        r = ts_server_add_lease(server, &si, &renew, &cancel, owner, now, &count);
        if (r == TS_OK) {
            put(ok, "null");
            put(extra, "{\"count\":%zu}", count);
        }
    } else if (strcmp(name, "renew_lease") == 0) {
        ts_secret renew = secret_field(op, "renew");
        r = ts_server_renew_lease(server, &si, &renew, now);
        if (r == TS_OK) {
            put(ok, "null");
        }
    } else if (strcmp(name, "cancel_lease") == 0) {
        ts_secret cancel = secret_field(op, "cancel");
        uint64_t freed;
        r = ts_server_cancel_lease(server, &si, &cancel, &freed);
        if (r == TS_OK) {
            put(ok, "null");
            put(extra, "{\"freed\":%" PRIu64 "}", freed);
        }
    } else if (strcmp(name, "shares") == 0) {
        ts_share_set set;
        r = ts_server_shares(server, &si, &set);
        if (r == TS_OK) {
            put_set(ok, &set);
        }
    } else if (strcmp(name, "immutable_share_length") == 0 ||
               strcmp(name, "mutable_share_length") == 0) {
        uint64_t length;
        uint32_t shnum = (uint32_t)field_uint(op, "shnum");
        r = name[0] == 'i' ? ts_server_immutable_share_length(server, &si, shnum, &length)
                           : ts_server_mutable_share_length(server, &si, shnum, &length);
        if (r == TS_OK) {
            put(ok, "%" PRIu64, length);
        }
    } else if (strcmp(name, "advise_corrupt_share") == 0) {
        size_t type_len, reason_len;
        uint8_t *type = hex_of(need(op, "share_type", J_STR), &type_len);
        uint8_t *reason = hex_of(need(op, "reason", J_STR), &reason_len);
        ts_advise_outcome outcome;
        r = ts_server_advise_corrupt_share(server, (const char *)type, type_len, &si,
                                           (uint32_t)field_uint(op, "shnum"), (const char *)reason,
                                           reason_len, now, &outcome);
        if (r == TS_OK) {
            put(ok, "null");
            put(extra, "{\"outcome\":%u}", (unsigned)outcome);
        }
        free(type);
        free(reason);
    } else {
        fprintf(stderr, "differential: unknown op %s\n", name);
        exit(2);
    }
    return r;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        die("cannot open the script");
    }
    size_t cap = 1 << 16, len = 0, n;
    char *text = malloc(cap);
    CHECK(text != NULL);
    while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            text = realloc(text, cap);
            CHECK(text != NULL);
        }
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SCRIPT.json STORAGE_DIR\n", argv[0]);
        return 2;
    }
    char *text = read_file(argv[1]);
    jv script;
    if (*skip_ws(parse_value(text, &script)) != '\0') {
        die("trailing text after the script");
    }
    free(text);
    if (strcmp(need(&script, "kind", J_STR)->str, "server") != 0) {
        die("not a server script");
    }
    dir = argv[2];
    fixed_hex(&script, "nodeid", nodeid.bytes, sizeof nodeid.bytes);
    CHECK_OK(ts_config_default(&config));
    const jv *cfg = get(&script, "config");
    if (cfg != NULL && cfg->type == J_OBJ) {
        const jv *readonly = get(cfg, "readonly"), *reserved = get(cfg, "reserved_space");
        config.readonly = readonly != NULL && readonly->type == J_BOOL && readonly->boolean;
        config.reserved_space = reserved != NULL ? uint_of(reserved) : 0;
    }
    start(field_uint(&script, "start"));
    const jv *ops = need(&script, "ops", J_ARR);
    allocs = calloc(ops->n ? ops->n : 1, sizeof *allocs);
    CHECK(allocs != NULL);
    for (size_t i = 0; i < ops->n; i++) {
        const jv *op = &ops->items[i];
        sbuf ok = {0}, extra = {0};
        ts_result r = run(op, i, field_uint(op, "now"), &ok, &extra);
        if (r == TS_OK) {
            printf("{\"ok\":%s", ok.s);
        } else {
            const char *kind = error_kind(r);
            char msg[1024];
            CHECK_OK(ts_last_error_message(msg, sizeof msg, NULL));
            sbuf text = {0};
            if (kind == NULL) {
                char unexpected[1100];
                snprintf(unexpected, sizeof unexpected, "unexpected: result code %u: %s",
                         (unsigned)r, msg);
                put_string(&text, unexpected);
                printf("{\"error\":%s", text.s);
            } else {
                printf("{\"error\":\"%s\"", kind);
            }
            if (r == TS_BAD_WRITE_ENABLER) {
                /* Tahoe's message names the node that recorded the write enabler. */
                put_string(&text, msg);
                printf(",\"detail\":%s", text.s);
            }
            free(text.s);
            free(extra.s);
            extra = (sbuf){0};
            put(&extra, "{\"code\":%u}", (unsigned)r);
        }
        if (extra.s != NULL) {
            printf(",\"extra\":%s", extra.s);
        }
        printf("}\n");
        free(ok.s);
        free(extra.s);
    }
    for (size_t i = 0; i < ops->n; i++) {
        free(allocs[i].secret);
    }
    free(allocs);
    free_value(&script);
    ts_server_free(server);
    return 0;
}
