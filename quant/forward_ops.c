/* Building blocks of the forward pass: RMSNorm, RoPE, SwiGLU, attention.
 * Loops are written in axpy form (independent outputs in the inner loop)
 * so the compiler vectorizes them without reassociating sums. */
#include "config.h"
#include "quant/model_internal.h"

#include <math.h>
#include <string.h>

void mvq_rmsnorm_rows(const float *x, float *y, const float *w, int64_t n_rows, int64_t dim, float eps)
{
    for (int64_t t = 0; t < n_rows; t++) {
        const float *xr = x + t * dim;
        float *yr = y + t * dim;
        double sum = 0.0; /* as ggml: the mean square accumulates in double */
        for (int64_t i = 0; i < dim; i++)
            sum += (double)xr[i] * xr[i];
        const float scale = 1.0f / sqrtf((float)(sum / (double)dim) + eps);
        for (int64_t i = 0; i < dim; i++)
            yr[i] = xr[i] * scale * w[i];
    }
}

void mvq_rope_tables(int64_t n_pos, int64_t n_rot, double base, const float *freq_factors, float *cos_t,
                     float *sin_t)
{
    const int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        double inv_freq = pow(base, -2.0 * (double)i / (double)n_rot);
        if (freq_factors)
            inv_freq /= freq_factors[i];
        for (int64_t p = 0; p < n_pos; p++) {
            const double theta = (double)p * inv_freq;
            cos_t[p * half + i] = (float)cos(theta);
            sin_t[p * half + i] = (float)sin(theta);
        }
    }
}

void mvq_rope_apply(float *x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                    mvq_rope_style style, const float *cos_t, const float *sin_t)
{
    const int64_t half = n_rot / 2;
    /* element pair i of a head: (lo, hi) offsets */
    const int64_t stride = style == MVQ_ROPE_NEOX ? 1 : 2;
    const int64_t partner = style == MVQ_ROPE_NEOX ? half : 1;
    for (int64_t t = 0; t < n_tokens; t++) {
        const float *c = cos_t + t * half, *s = sin_t + t * half;
        for (int64_t h = 0; h < n_heads; h++) {
            float *xh = x + (t * n_heads + h) * head_dim;
            for (int64_t i = 0; i < half; i++) {
                float *a = xh + i * stride, *b = a + partner;
                const float x0 = *a, x1 = *b;
                *a = x0 * c[i] - x1 * s[i];
                *b = x0 * s[i] + x1 * c[i];
            }
        }
    }
}

void mvq_swiglu(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* K of each KV head transposed to [head_dim x n_tokens], so that the scores
 * of one query over all keys are an axpy per head dimension. */
static void transpose_keys(void *arg, int ith, int nth)
{
    const mvq_attention_args *a = arg;
    const int64_t T = a->n_tokens, hd = a->head_dim, kv_dim = a->n_head_kv * hd;
    for (int64_t c = ith; c < kv_dim; c += nth) {
        float *dst = a->kt + c * T;
        for (int64_t j = 0; j < T; j++)
            dst[j] = a->k[j * kv_dim + c];
    }
}

static void attend_rows(void *arg, int ith, int nth)
{
    const mvq_attention_args *a = arg;
    const int64_t T = a->n_tokens, hd = a->head_dim;
    const int64_t q_dim = a->n_head * hd, kv_dim = a->n_head_kv * hd;
    const int64_t group = a->n_head / a->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    float *s = a->scores + (int64_t)ith * T;
    /* rows interleaved over threads: the causal triangle stays balanced */
    for (int64_t r = ith; r < a->n_head * T; r += nth) {
        const int64_t h = r / T, i = r % T, g = h / group, n_keys = i + 1;
        const float *qi = a->q + i * q_dim + h * hd;
        const float *kt = a->kt + g * hd * T;
        memset(s, 0, (size_t)n_keys * sizeof *s);
        for (int64_t d = 0; d < hd; d++) {
            const float qd = qi[d] * scale;
            const float *kd = kt + d * T;
            for (int64_t j = 0; j < n_keys; j++)
                s[j] += qd * kd[j];
        }
        float mx = s[0];
        for (int64_t j = 1; j < n_keys; j++)
            mx = s[j] > mx ? s[j] : mx;
        double sum = 0.0;
        for (int64_t j = 0; j < n_keys; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        float *oi = a->out + i * q_dim + h * hd;
        memset(oi, 0, (size_t)hd * sizeof *oi);
        for (int64_t j = 0; j < n_keys; j++) {
            const float p = s[j];
            const float *vj = a->v + j * kv_dim + g * hd;
            for (int64_t d = 0; d < hd; d++)
                oi[d] += p * vj[d];
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t d = 0; d < hd; d++)
            oi[d] *= inv;
    }
}

void mvq_attention(mvq_pool *pool, const mvq_attention_args *a)
{
    mvq_pool_run(pool, transpose_keys, (void *)a);
    mvq_pool_run(pool, attend_rows, (void *)a);
}
