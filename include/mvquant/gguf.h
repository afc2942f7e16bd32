/* mvquant: GGUF v3 reader (v2 read too) and streaming writer.
 *
 * The reader memory-maps the file and checks every count, length, size and
 * offset before use.  The writer streams: header, metadata and tensor infos
 * first, then each tensor's data in order, into a temporary file beside the
 * destination that is renamed into place only when complete. */
#ifndef MVQUANT_GGUF_H
#define MVQUANT_GGUF_H

#include <mvquant/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MVQ_GGUF_MAGIC 0x46554747u /* "GGUF" */
#define MVQ_GGUF_DEFAULT_ALIGNMENT 32
#define MVQ_GGUF_MAX_DIMS 4
#define MVQ_GGUF_MAX_NAME 63 /* llama.cpp's limit on tensor names */

typedef enum mvq_gguf_vtype {
    MVQ_GGUF_UINT8 = 0,
    MVQ_GGUF_INT8 = 1,
    MVQ_GGUF_UINT16 = 2,
    MVQ_GGUF_INT16 = 3,
    MVQ_GGUF_UINT32 = 4,
    MVQ_GGUF_INT32 = 5,
    MVQ_GGUF_FLOAT32 = 6,
    MVQ_GGUF_BOOL = 7,
    MVQ_GGUF_STRING = 8,
    MVQ_GGUF_ARRAY = 9,
    MVQ_GGUF_UINT64 = 10,
    MVQ_GGUF_INT64 = 11,
    MVQ_GGUF_FLOAT64 = 12,
    MVQ_GGUF_VTYPE_COUNT = 13
} mvq_gguf_vtype;

/* A string as stored: not NUL-terminated in the file; the reader's copies
 * are NUL-terminated for convenience (len excludes the NUL). */
typedef struct mvq_gguf_str {
    uint64_t len;
    const char *data;
} mvq_gguf_str;

/* One metadata pair.  Scalars are in the union; arrays point at their
 * elements (arr: packed little-endian scalars of arr_type, strs: strings). */
typedef struct mvq_gguf_kv {
    mvq_gguf_str key;
    mvq_gguf_vtype type;
    mvq_gguf_vtype arr_type; /* when type == ARRAY */
    uint64_t arr_n;          /* when type == ARRAY */
    union {
        uint64_t u64; /* UINT8..UINT64, BOOL (0/1) */
        int64_t i64;  /* INT8..INT64 */
        double f64;   /* FLOAT32, FLOAT64 */
        mvq_gguf_str str;
        const void *arr;          /* scalar arrays */
        const mvq_gguf_str *strs; /* string arrays */
    } v;
} mvq_gguf_kv;

typedef struct mvq_gguf_tensor {
    mvq_gguf_str name;
    uint32_t n_dims;
    int64_t ne[MVQ_GGUF_MAX_DIMS]; /* ne[0] = input columns; unused dims are 1 */
    uint32_t type;                 /* ggml type id; may be one mvquant does not know */
    uint64_t offset;               /* relative to the start of the data section */
    uint64_t size;                 /* bytes of data */
    const void *data;              /* into the mapping */
} mvq_gguf_tensor;

/* ---- reader ---- */
typedef struct mvq_gguf mvq_gguf;

/* Opens and validates path (read only, memory-mapped); a split set through
 * its first part (below). */
MVQ_API mvq_gguf *mvq_gguf_open(const char *path, mvq_error *err);
/* The same over a caller's buffer (tests, fuzzing); the buffer must outlive the handle. */
MVQ_API mvq_gguf *mvq_gguf_open_memory(const void *buf, size_t size, const char *name, mvq_error *err);
MVQ_API void mvq_gguf_close(mvq_gguf *g);

MVQ_API const char *mvq_gguf_path(const mvq_gguf *g);
MVQ_API uint32_t mvq_gguf_version(const mvq_gguf *g);
MVQ_API uint64_t mvq_gguf_alignment(const mvq_gguf *g);
MVQ_API uint64_t mvq_gguf_data_offset(const mvq_gguf *g); /* file offset of the data section */
MVQ_API uint64_t mvq_gguf_file_size(const mvq_gguf *g);

MVQ_API int64_t mvq_gguf_n_kv(const mvq_gguf *g);
MVQ_API const mvq_gguf_kv *mvq_gguf_kv_at(const mvq_gguf *g, int64_t i);
MVQ_API const mvq_gguf_kv *mvq_gguf_find_kv(const mvq_gguf *g, const char *key); /* NULL if absent */

/* Typed lookups: return false when absent or of another type
 * (integer getters accept any integer type whose value fits). */
MVQ_API bool mvq_gguf_get_u64(const mvq_gguf *g, const char *key, uint64_t *out);
MVQ_API bool mvq_gguf_get_i64(const mvq_gguf *g, const char *key, int64_t *out);
MVQ_API bool mvq_gguf_get_f64(const mvq_gguf *g, const char *key, double *out);
MVQ_API bool mvq_gguf_get_str(const mvq_gguf *g, const char *key, const char **out);

MVQ_API int64_t mvq_gguf_n_tensors(const mvq_gguf *g);
MVQ_API const mvq_gguf_tensor *mvq_gguf_tensor_at(const mvq_gguf *g, int64_t i);
MVQ_API const mvq_gguf_tensor *mvq_gguf_find_tensor(const mvq_gguf *g, const char *name);

/* ---- split sets (llama.cpp's gguf-split) ----
 * A model split into PREFIX-00001-of-0000N.gguf .. PREFIX-0000N-of-0000N.gguf
 * opens through its first part: mvq_gguf_open then checks every part
 * (split.no, split.count, split.tensors.count, no tensor twice) and shows
 * the set as one file: the first part's metadata, all parts' tensors in
 * part order.  Opening another part is an error naming the first. */
#define MVQ_GGUF_KEY_SPLIT_NO "split.no"                /* u16: the part, from 0 */
#define MVQ_GGUF_KEY_SPLIT_COUNT "split.count"          /* u16: parts in the set */
#define MVQ_GGUF_KEY_SPLIT_TENSORS "split.tensors.count" /* i32: tensors in the set */
/* 1 for a plain file. */
MVQ_API int64_t mvq_gguf_n_parts(const mvq_gguf *g);
/* Part k as a file of its own (for a plain file, part 0 is g); NULL out of range. */
MVQ_API const mvq_gguf *mvq_gguf_part(const mvq_gguf *g, int64_t k);
/* The part that holds tensor i (0 for a plain file). */
MVQ_API int64_t mvq_gguf_tensor_part(const mvq_gguf *g, int64_t i);
/* PREFIX-%05d-of-%05d.gguf for part (from 0) of n_parts, as snprintf. */
MVQ_API int mvq_gguf_split_path(char *buf, size_t size, const char *prefix, int64_t part, int64_t n_parts);
/* split.no, split.count or split.tensors.count: keys a merged file drops. */
MVQ_API bool mvq_gguf_is_split_key(const char *key);

/* Drops the mapped pages of [p, p + n) from this process's resident memory
 * (they stay in the page cache and fault back in on the next access), so
 * one pass over a model larger than memory keeps little resident.  Call
 * after using a slice of tensor data; a no-op for memory buffers and for
 * ranges outside the mapping. */
MVQ_API void mvq_gguf_drop_pages(const mvq_gguf *g, const void *p, size_t n);

MVQ_API const char *mvq_gguf_vtype_name(mvq_gguf_vtype t);
MVQ_API size_t mvq_gguf_vtype_size(mvq_gguf_vtype t); /* 0 for STRING, ARRAY */

/* Checks llama.cpp's loader rules on an open file: offsets are the running
 * sum of padded sizes in file order, names <= 63 bytes and unique, ne[0]
 * divisible by the block size.  (The reader enforces what it must to be
 * safe; this adds what llama.cpp requires.) */
MVQ_API mvq_status mvq_gguf_check_loader_rules(const mvq_gguf *g, mvq_error *err);

/* ---- hashes ---- */
/* XXH3-64 of a tensor's data bytes.  With g (the file t belongs to, may be
 * NULL), the data is read in slices dropped from memory after use. */
MVQ_API uint64_t mvq_gguf_tensor_hash(const mvq_gguf *g, const mvq_gguf_tensor *t);
/* Called for each tensor whose data does not match its recorded hash. */
typedef void (*mvq_gguf_hash_mismatch_fn)(void *ctx, const mvq_gguf_tensor *t, uint64_t recorded,
                                          uint64_t actual);
/* Recomputes the hashes recorded under MVQ_GGUF_KEY_TENSOR_HASHES.  Sets
 * *n_checked (0 when the file records none, which is not an error).
 * Returns MVQ_ERR_FORMAT when any differs (message: how many, the first
 * name) or the recorded array is not one UINT64 per tensor. */
MVQ_API mvq_status mvq_gguf_verify_hashes(const mvq_gguf *g, int64_t *n_checked,
                                          mvq_gguf_hash_mismatch_fn on_mismatch, void *ctx, mvq_error *err);

/* ---- writer ---- */
typedef struct mvq_gguf_writer mvq_gguf_writer;

/* Checks now what mvq_gguf_writer_open would refuse (dst a directory,
 * not a regular file, one of the inputs, or in a folder that is missing
 * or not writable) by creating and removing a temporary file beside it:
 * for callers that want to fail before long work. */
MVQ_API mvq_status mvq_gguf_output_check(const char *dst, const char *const *inputs, mvq_error *err);

/* Creates a temporary file in dst's folder.  Refuses when dst is the same
 * file as any of the inputs (NULL-terminated list, may be NULL), also
 * through links. */
MVQ_API mvq_gguf_writer *mvq_gguf_writer_open(const char *dst, const char *const *inputs,
                                              mvq_error *err);
MVQ_API mvq_status mvq_gguf_writer_set_alignment(mvq_gguf_writer *w, uint64_t alignment, mvq_error *err);

/* Metadata, in the order given.  A key set twice is an error. */
MVQ_API mvq_status mvq_gguf_writer_add_kv(mvq_gguf_writer *w, const mvq_gguf_kv *kv, mvq_error *err);
MVQ_API mvq_status mvq_gguf_writer_add_u32(mvq_gguf_writer *w, const char *key, uint32_t v, mvq_error *err);
MVQ_API mvq_status mvq_gguf_writer_add_u64(mvq_gguf_writer *w, const char *key, uint64_t v, mvq_error *err);
MVQ_API mvq_status mvq_gguf_writer_add_f32(mvq_gguf_writer *w, const char *key, float v, mvq_error *err);
MVQ_API mvq_status mvq_gguf_writer_add_str(mvq_gguf_writer *w, const char *key, const char *v, mvq_error *err);
MVQ_API mvq_status mvq_gguf_writer_add_arr(mvq_gguf_writer *w, const char *key, mvq_gguf_vtype arr_type,
                                           const void *elems, uint64_t n, mvq_error *err);
MVQ_API mvq_status mvq_gguf_writer_add_str_arr(mvq_gguf_writer *w, const char *key, const char *const *strs,
                                               uint64_t n, mvq_error *err);

/* Tensor infos, in file order; size is the data size in bytes (needed for
 * types mvquant does not know; checked against the shape for known ones). */
MVQ_API mvq_status mvq_gguf_writer_add_tensor(mvq_gguf_writer *w, const char *name, uint32_t n_dims,
                                              const int64_t *ne, uint32_t type, uint64_t size,
                                              mvq_error *err);

/* Data of the next tensor in order; may be called several times per tensor
 * (a tensor is complete when its size has been written).  The first call
 * writes the header, metadata and infos. */
MVQ_API mvq_status mvq_gguf_writer_write(mvq_gguf_writer *w, const void *data, size_t size, mvq_error *err);

/* Records each tensor's XXH3-64 (of its data bytes, file order) in the
 * metadata as a UINT64 array under MVQ_GGUF_KEY_TENSOR_HASHES, appended
 * after the other pairs; the hashes are computed while the data streams
 * and patched in place before the rename.  Call before the first write. */
#define MVQ_GGUF_KEY_TENSOR_HASHES "mvquant.tensor_hashes"
MVQ_API mvq_status mvq_gguf_writer_reserve_hashes(mvq_gguf_writer *w, mvq_error *err);

/* Adds every metadata pair of g, in its order, except the keys in skip
 * (NULL-terminated, may be NULL) and, when hashes are reserved, g's own
 * hash array.  general.alignment is carried like any other pair. */
MVQ_API mvq_status mvq_gguf_writer_add_kvs_from(mvq_gguf_writer *w, const mvq_gguf *g,
                                                const char *const *skip, mvq_error *err);

/* Flushes, fsyncs and renames into place; frees w in every case. */
MVQ_API mvq_status mvq_gguf_writer_finish(mvq_gguf_writer *w, mvq_error *err);
/* Removes the temporary file; frees w. */
MVQ_API void mvq_gguf_writer_abort(mvq_gguf_writer *w);
/* Removes every writer's temporary file; async-signal-safe (for SIGINT/SIGTERM handlers). */
MVQ_API void mvq_gguf_writer_cleanup_on_signal(void);

/* Any file (a figure, a report) written the way the writer writes: a
 * temporary file beside path, fsynced and renamed into place, removed by
 * mvq_gguf_writer_cleanup_on_signal; path may not be one of inputs
 * (NULL-terminated, may be NULL). */
MVQ_API mvq_status mvq_write_file(const char *path, const void *data, size_t size, const char *const *inputs,
                                  mvq_error *err);

/* ---- writing a split set ----
 * n_parts writers: without as_parts one, to dst; with as_parts, dst is the
 * prefix of parts named as llama.cpp names them (mvq_gguf_split_path).  Each part is a
 * complete GGUF file (the first carries the model's metadata); every part
 * stays a temporary file until mvq_gguf_writers_finish renames them all. */
MVQ_API mvq_status mvq_gguf_writers_open(mvq_gguf_writer **w, int64_t n_parts, const char *dst, bool as_parts,
                                         const char *const *inputs, mvq_error *err);
/* split.no, split.count and split.tensors.count in every part. */
MVQ_API mvq_status mvq_gguf_writers_add_split_keys(mvq_gguf_writer **w, int64_t n_parts, int64_t n_tensors,
                                                   mvq_error *err);
/* Finishes every part; after a failure, removes the parts not yet renamed.  Frees all. */
MVQ_API mvq_status mvq_gguf_writers_finish(mvq_gguf_writer **w, int64_t n_parts, mvq_error *err);
MVQ_API void mvq_gguf_writers_abort(mvq_gguf_writer **w, int64_t n_parts);

/* ---- whole-file copy ---- */
/* Rewrites src to dst through the writer: same metadata (in order) and
 * tensor data, offsets laid out by llama.cpp's rules.  With hashes, records
 * each tensor's XXH3-64 (replacing any recorded in src).  progress, when
 * not NULL, is called after each slice of data with bytes done and total.
 * A split set comes out merged into one file, without its split keys. */
typedef void (*mvq_progress_fn)(void *ctx, uint64_t done, uint64_t total);
MVQ_API mvq_status mvq_gguf_copy(const char *src, const char *dst, bool hashes, mvq_progress_fn progress,
                                 void *ctx, mvq_error *err);
/* The same into a split set as llama.cpp's gguf-split --split-max-tensors
 * writes it: parts of at most max_tensors tensors, named from prefix
 * (mvq_gguf_split_path); a set of one part when everything fits.  (A set
 * given to mvq_gguf_copy comes out merged into one file.) */
MVQ_API mvq_status mvq_gguf_split_copy(const char *src, const char *prefix, int64_t max_tensors, bool hashes,
                                       mvq_progress_fn progress, void *ctx, mvq_error *err);

#ifdef __cplusplus
}
#endif
#endif
