/* Reader of ggml's golden quantization files (shared/fixtures/golden/FORMAT.md),
 * for the K-quant tests until a common reader lands. */
#ifndef MVQ_TEST_KQ_GOLDEN_H
#define MVQ_TEST_KQ_GOLDEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kq_golden {
    uint32_t type, nrows, n_per_row, row_bytes;
    const float *input;       /* nrows * n_per_row */
    const float *importance;  /* n_per_row, or NULL */
    const uint8_t *quantized; /* nrows * row_bytes */
    const float *dequantized; /* nrows * n_per_row */
    unsigned char *buf;       /* the whole file */
} kq_golden;

static inline void kq_golden_free(kq_golden *g)
{
    free(g->buf);
    memset(g, 0, sizeof *g);
}

/* 0 on success; -1 when the file is unreadable or malformed. */
static inline int kq_golden_load(const char *path, kq_golden *g)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    g->buf = size > 0 ? malloc((size_t)size) : NULL;
    int ok = g->buf && fread(g->buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok) {
        kq_golden_free(g);
        return -1;
    }
    size_t off = 0, end = (size_t)size;
#define KQ_TAKE(ptr, bytes)                                                                        \
    do {                                                                                           \
        if (off + (bytes) > end) {                                                                 \
            kq_golden_free(g);                                                                     \
            return -1;                                                                             \
        }                                                                                          \
        ptr = (const void *)(g->buf + off);                                                        \
        off += (bytes);                                                                            \
    } while (0)
    uint32_t head[6], has_imp;
    const void *p;
    KQ_TAKE(p, sizeof head);
    memcpy(head, p, sizeof head);
    if (head[0] != 0x4C444C47u || head[1] != 1) {
        kq_golden_free(g);
        return -1;
    }
    g->type = head[2];
    g->nrows = head[3];
    g->n_per_row = head[4];
    g->row_bytes = head[5];
    size_t nval = (size_t)g->nrows * g->n_per_row;
    KQ_TAKE(g->input, nval * sizeof(float));
    KQ_TAKE(p, sizeof has_imp);
    memcpy(&has_imp, p, sizeof has_imp);
    if (has_imp)
        KQ_TAKE(g->importance, g->n_per_row * sizeof(float));
    KQ_TAKE(g->quantized, (size_t)g->nrows * g->row_bytes);
    KQ_TAKE(g->dequantized, nval * sizeof(float));
#undef KQ_TAKE
    return 0;
}

#endif
