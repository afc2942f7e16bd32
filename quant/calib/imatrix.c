/* Import of llama.cpp importance matrices (GGUF and legacy .dat) into the
 * mean squares of calibration statistics. */
#include "config.h"
#include "quant/calib/calib_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stores one entry's mean squares (n values) as the statistic feeding name. */
static mvq_status put_entry(mvq_calib *c, const char *path, const char *name, const float *mean, int64_t n,
                            int64_t count, mvq_error *err)
{
    int64_t layer;
    const int in = mvq_calib_tensor_input(name, &layer);
    if (in < 0 || layer < 0 || layer >= (in == MVQ_CALIB_OUTPUT_IN ? 1 : c->hp.n_layer))
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: importance matrix entry %s is not a weight of this model",
                             path, name);
    if (n != c->dim[in])
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: importance matrix entry %s has %lld values, the model's "
                             "tensor %lld inputs (made for another model?)", path, name, (long long)n,
                             (long long)c->dim[in]);
    double *sq = c->sum_sq[in] + layer * n;
    for (int64_t j = 0; j < n; j++)
        sq[j] = (double)mean[j]; /* scaled by the token count at the end */
    if (count > c->n_tokens)
        c->n_tokens = count;
    return MVQ_OK;
}

/* Means were stored in sum_sq: make them sums over n_tokens. */
static void scale_to_sums(mvq_calib *c)
{
    if (c->n_tokens <= 0)
        c->n_tokens = 1;
    for (int in = 0; in < MVQ_CALIB_INPUT_COUNT; in++) {
        const int64_t n = (in == MVQ_CALIB_OUTPUT_IN ? 1 : c->hp.n_layer) * c->dim[in];
        for (int64_t j = 0; j < n; j++)
            c->sum_sq[in][j] *= (double)c->n_tokens;
    }
}

static const char SUFFIX_SUM2[] = ".in_sum2", SUFFIX_COUNTS[] = ".counts";

static mvq_status import_gguf(mvq_calib *c, const char *path, mvq_error *err)
{
    mvq_gguf *g = mvq_gguf_open(path, err);
    if (!g)
        return err ? err->status : MVQ_ERR_IO;
    mvq_status st = MVQ_OK;
    int found = 0;
    float *mean = NULL;
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g) && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        const size_t len = t->name.len, sl = sizeof SUFFIX_SUM2 - 1;
        if (len <= sl || strcmp(t->name.data + len - sl, SUFFIX_SUM2) != 0)
            continue;
        char base[MVQ_GGUF_MAX_NAME + 1], counts_name[MVQ_GGUF_MAX_NAME + 16];
        snprintf(base, sizeof base, "%.*s", (int)(len - sl), t->name.data);
        snprintf(counts_name, sizeof counts_name, "%s%s", base, SUFFIX_COUNTS);
        const mvq_gguf_tensor *ct = mvq_gguf_find_tensor(g, counts_name);
        if (t->type != MVQ_TYPE_F32 || !ct || ct->type != MVQ_TYPE_F32 || ct->ne[0] != 1 || ct->ne[1] != t->ne[1]) {
            st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s has no matching F32 %s", path, t->name.data, counts_name);
            break;
        }
        if (t->ne[1] != 1) {
            st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s holds %lld expert matrices; only dense models are supported",
                               path, t->name.data, (long long)t->ne[1]);
            break;
        }
        float count;
        memcpy(&count, ct->data, sizeof count);
        free(mean);
        if (!(mean = malloc((size_t)t->ne[0] * sizeof *mean))) {
            st = mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        memcpy(mean, t->data, (size_t)t->ne[0] * sizeof *mean);
        for (int64_t j = 0; j < t->ne[0]; j++)
            mean[j] = count > 0 ? mean[j] / count : 0.0f;
        st = put_entry(c, path, base, mean, t->ne[0], (int64_t)count, err);
        found++;
    }
    if (st == MVQ_OK && found == 0)
        st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s: no *.in_sum2 tensors: not a llama.cpp importance matrix", path);
    free(mean);
    mvq_gguf_close(g);
    return st;
}

/* A bounds-checked cursor over the legacy file's bytes. */
typedef struct reader {
    const unsigned char *p, *end;
} reader;

static bool read_i32(reader *r, int32_t *v)
{
    if (r->end - r->p < 4)
        return false;
    memcpy(v, r->p, 4); /* little-endian hosts, as llama.cpp writes it */
    r->p += 4;
    return true;
}

static mvq_status import_legacy(mvq_calib *c, const char *path, const unsigned char *buf, size_t size,
                                mvq_error *err)
{
    reader r = {buf, buf + size};
    int32_t n_entries;
    if (!read_i32(&r, &n_entries) || n_entries < 1)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: not a llama.cpp importance matrix (no entries)", path);
    for (int32_t e = 0; e < n_entries; e++) {
        int32_t len, ncall, nval;
        char name[256];
        if (!read_i32(&r, &len) || len <= 0 || len >= (int32_t)sizeof name || r.end - r.p < len)
            return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: entry %d: bad name length", path, e);
        memcpy(name, r.p, (size_t)len);
        name[len] = '\0';
        r.p += len;
        if (!read_i32(&r, &ncall) || !read_i32(&r, &nval) || nval < 1 || (r.end - r.p) / 4 < nval)
            return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: entry %s: truncated or bad value count", path, name);
        float *mean = malloc((size_t)nval * sizeof *mean);
        if (!mean)
            return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
        memcpy(mean, r.p, (size_t)nval * 4);
        r.p += (size_t)nval * 4;
        for (int32_t j = 0; j < nval; j++) /* stored as mean square times the call count */
            mean[j] = ncall > 0 ? mean[j] / (float)ncall : mean[j];
        mvq_status st = put_entry(c, path, name, mean, nval, ncall, err);
        free(mean);
        if (st != MVQ_OK)
            return st;
    }
    return MVQ_OK; /* the trailer (chunk count, dataset name) is not needed */
}

static mvq_status read_whole(const char *path, unsigned char **buf, size_t *size, mvq_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mvq_error_set(err, MVQ_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *b = malloc(cap);
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    const bool failed = ferror(f);
    fclose(f);
    if (!b)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
    if (failed) {
        free(b);
        return mvq_error_set(err, MVQ_ERR_IO, "%s: read error", path);
    }
    *buf = b;
    *size = n;
    return MVQ_OK;
}

static bool has_gguf_magic(const char *path)
{
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    const bool yes = fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
    fclose(f);
    return yes;
}

static mvq_status import_file(mvq_calib *c, const char *path, mvq_error *err)
{
    if (has_gguf_magic(path))
        return import_gguf(c, path, err);
    unsigned char *buf = NULL;
    size_t size = 0;
    mvq_status st = read_whole(path, &buf, &size, err);
    if (st == MVQ_OK)
        st = import_legacy(c, path, buf, size, err);
    free(buf);
    return st;
}

mvq_calib *mvq_calib_import_imatrix(const char *path, const mvq_hparams *hp, mvq_error *err)
{
    mvq_calib *c = mvq_calib_new(hp, err);
    if (c && import_file(c, path, err) != MVQ_OK) {
        mvq_calib_free(c);
        return NULL;
    }
    if (c)
        scale_to_sums(c);
    return c;
}
