/* Helpers for the GGUF tests (Criterion and plain): a raw byte builder for
 * crafting valid and malformed files, file and temporary-folder helpers. */
#ifndef MVQ_GGUF_TESTLIB_H
#define MVQ_GGUF_TESTLIB_H

#include <mvquant/gguf.h>
#include <mvquant/kernels.h>
#include <stddef.h>

/* A growing byte buffer; functions append little-endian values. */
typedef struct gbuf {
    unsigned char *p;
    size_t n, cap;
} gbuf;

void gb_bytes(gbuf *b, const void *p, size_t n);
void gb_u8(gbuf *b, uint8_t v);
void gb_u32(gbuf *b, uint32_t v);
void gb_u64(gbuf *b, uint64_t v);
void gb_str(gbuf *b, const char *s);
void gb_zeros(gbuf *b, size_t n);
void gb_pad(gbuf *b, size_t alignment);
void gb_free(gbuf *b);
/* magic, version, counts */
void gb_header(gbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
void gb_kv_u32(gbuf *b, const char *key, uint32_t v);
void gb_kv_str(gbuf *b, const char *key, const char *v);
/* name, n_dims, ne[0..n_dims), type, offset */
void gb_info(gbuf *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type, uint64_t offset);

/* A valid small file: 3 metadata pairs (one string array), 3 tensors
 * (f32 [8,2], q8_0 [32,2], f16 [16]) with data bytes i*7+tensor. */
void gb_sample_file(gbuf *b);

/* Whole file into memory (malloc'd); NULL on failure. */
unsigned char *read_whole_file(const char *path, size_t *size);
bool write_whole_file(const char *path, const void *p, size_t n);
/* A fresh folder under $TMPDIR or /tmp; false on failure. */
bool make_temp_dir(char *buf, size_t size);
/* Number of entries in dir besides . and .., -1 on error. */
int count_dir_entries(const char *dir);
/* Removes the files in dir, then dir. */
void remove_temp_dir(const char *dir);

/* Compares two open files' metadata (keys, types, values in order) and
 * tensors (names, shapes, types, data bytes); NULL when equal, else a
 * static description of the first difference. */
const char *gguf_compare(const mvq_gguf *a, const mvq_gguf *b);

#endif
