/* Reader of ggml's golden quantization vectors (see golden.h). */
#include "golden.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

const char *const mvq_golden_names[] = {
    "q4_0", "q4_0-imatrix", "q4_1", "q4_1-imatrix", "q5_0", "q5_0-imatrix", "q5_1",
    "q5_1-imatrix", "q8_0", "q2_K", "q2_K-imatrix", "q3_K", "q3_K-imatrix", "q4_K",
    "q4_K-imatrix", "q5_K", "q5_K-imatrix", "q6_K", "q6_K-imatrix", "iq4_nl", "iq4_nl-imatrix",
    "iq4_xs", "iq4_xs-imatrix", NULL,
};

const char *mvq_golden_path(const char *name, char *buf, size_t size)
{
    char rel[256];
    snprintf(rel, sizeof rel, "golden/ggml/%s.bin", name);
    return mvq_fixture(rel, buf, size);
}

/* A cursor over the file's bytes; fields are little-endian. */
typedef struct {
    const uint8_t *p, *end;
    int bad;
} cursor;

static const uint8_t *take(cursor *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = 1;
        return NULL;
    }
    const uint8_t *r = c->p;
    c->p += n;
    return r;
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint32_t read_u32(cursor *c)
{
    const uint8_t *b = take(c, 4);
    return b ? le32(b) : 0;
}

static void *read_bytes(cursor *c, size_t n)
{
    const uint8_t *b = take(c, n);
    void *r = b ? malloc(n ? n : 1) : NULL;
    if (r)
        memcpy(r, b, n);
    else
        c->bad = 1;
    return r;
}

static float *read_f32s(cursor *c, size_t n)
{
    const uint8_t *b = take(c, 4 * n);
    float *r = b ? malloc(4 * (n ? n : 1)) : NULL;
    if (!r) {
        c->bad = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = le32(b + 4 * i);
        memcpy(&r[i], &u, 4);
    }
    return r;
}

static uint8_t *slurp(const char *path, size_t *size, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len)) &&
            fread(buf, 1, (size_t)len, f) == (size_t)len) {
            *size = (size_t)len;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    if (!buf)
        snprintf(err, err_size, "%s: cannot read", path);
    return buf;
}

int mvq_golden_load(const char *path, mvq_golden *g, char *err, size_t err_size)
{
    memset(g, 0, sizeof *g);
    g->vec_dot_type = MVQ_GOLDEN_NO_DOT;
    size_t size = 0;
    uint8_t *buf = slurp(path, &size, err, err_size);
    if (!buf)
        return -1;
    cursor c = {buf, buf + size, 0};
    const uint32_t magic = read_u32(&c), version = read_u32(&c);
    if (c.bad || magic != 0x4C444C47u || version != 1) {
        snprintf(err, err_size, "%s: not a version 1 golden file", path);
        free(buf);
        return -1;
    }
    g->type = read_u32(&c);
    g->nrows = read_u32(&c);
    g->n_per_row = read_u32(&c);
    g->row_bytes = read_u32(&c);
    const size_t nv = (size_t)g->nrows * g->n_per_row;
    if (!c.bad && (g->nrows == 0 || g->n_per_row == 0 || nv > (1u << 26)))
        c.bad = 1;
    g->input = read_f32s(&c, nv);
    if (read_u32(&c) == 1)
        g->importance = read_f32s(&c, g->n_per_row);
    g->quantized = read_bytes(&c, (size_t)g->nrows * g->row_bytes);
    g->dequantized = read_f32s(&c, nv);
    g->activation = read_f32s(&c, g->n_per_row);
    g->vec_dot_type = read_u32(&c);
    if (!c.bad && g->vec_dot_type != MVQ_GOLDEN_NO_DOT) {
        g->act_bytes = read_u32(&c);
        g->activation_quantized = read_bytes(&c, g->act_bytes);
        g->dot = read_f32s(&c, g->nrows);
    }
    if (!c.bad && c.p != c.end)
        c.bad = 1;
    free(buf);
    if (c.bad) {
        snprintf(err, err_size, "%s: truncated or malformed golden file", path);
        mvq_golden_free(g);
        return -1;
    }
    return 0;
}

void mvq_golden_free(mvq_golden *g)
{
    free(g->input);
    free(g->importance);
    free(g->quantized);
    free(g->dequantized);
    free(g->activation);
    free(g->activation_quantized);
    free(g->dot);
    memset(g, 0, sizeof *g);
}

double mvq_golden_sq_error(const float *x, const float *y, uint32_t nrows, uint32_t n_per_row,
                           const float *importance)
{
    double sum = 0.0;
    for (size_t r = 0; r < nrows; r++)
        for (size_t j = 0; j < n_per_row; j++) {
            const size_t i = r * n_per_row + j;
            const double diff = (double)x[i] - (double)y[i];
            sum += (importance ? (double)importance[j] : 1.0) * diff * diff;
        }
    return sum;
}
