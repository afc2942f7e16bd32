/* Building blocks of the forward pass: RMSNorm, RoPE, SwiGLU, attention.
 * Loops are written in axpy form (independent outputs in the inner loop)
 * so the compiler vectorizes them without reassociating sums. */
#include "config.h"
#include "quant/model/model_internal.h"

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

/* Four floats: SSE2 or NEON registers through GCC/Clang vector extensions,
 * so the attention loops are vectorized on every target without intrinsics. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store4(float *p, v4f v)
{
    memcpy(p, &v, sizeof v);
}

static inline v4f splat4(float x)
{
    return (v4f){x, x, x, x};
}

/* mask ? a : b, lane by lane (mask lanes all ones or all zeros) */
static inline v4f select4(v4i mask, v4f a, v4f b)
{
    return (v4f)(((v4i)a & mask) | ((v4i)b & ~mask));
}

/* exp(x) to about 2 ulp: x = n ln2 + r, |r| <= ln2/2, exp(r) by its
 * degree-6 minimax polynomial (Cephes' expf coefficients), 2^n built in the
 * exponent bits.  Below -87 the result is 0 (also for -inf); x is clamped
 * at 88 (exp(88) = 1.65e38). */
static inline v4f exp4(v4f x)
{
    const v4i tiny = x < splat4(-87.0f);
    x = select4(tiny, splat4(-87.0f), x);
    x = select4(x > splat4(88.0f), splat4(88.0f), x);
    v4f fx = x * splat4(1.44269504088896341f) + splat4(0.5f);
    v4i n = __builtin_convertvector(fx, v4i);
    v4f nf = __builtin_convertvector(n, v4f);
    const v4i too_big = nf > fx; /* truncation rounded a negative value up */
    n += too_big;
    nf = __builtin_convertvector(n, v4f);
    v4f r = x - nf * splat4(0.693359375f) - nf * splat4(-2.12194440e-4f);
    v4f p = splat4(1.9875691500e-4f);
    p = p * r + splat4(1.3981999507e-3f);
    p = p * r + splat4(8.3334519073e-3f);
    p = p * r + splat4(4.1665795894e-2f);
    p = p * r + splat4(1.6666665459e-1f);
    p = p * r + splat4(5.0000001201e-1f);
    p = p * r * r + r + splat4(1.0f);
    v4f scale = (v4f)((n + 127) << 23);
    v4f y = p * scale;
    return select4(tiny, splat4(0.0f), y);
}

void mvq_swiglu(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v4f g = load4(gate + i);
        store4(gate + i, g / (splat4(1.0f) + exp4(-g)) * load4(up + i));
    }
    for (; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* K of each KV head transposed to [head_dim x kt_stride], so that the
 * scores of one query over all keys are axpys over key blocks; the padding
 * past n_tokens is zero. */
static void transpose_keys(void *arg, int ith, int nth)
{
    const mvq_attention_args *a = arg;
    const int64_t T = a->n_tokens, hd = a->head_dim, kv_dim = a->n_head_kv * hd;
    const int64_t stride = mvq_attention_kt_stride(T);
    for (int64_t c = ith; c < kv_dim; c += nth) {
        float *dst = a->kt + c * stride;
        for (int64_t j = 0; j < T; j++)
            dst[j] = a->k[j * kv_dim + c];
        for (int64_t j = T; j < stride; j++)
            dst[j] = 0.0f;
    }
}

/* s[0..n4) = q . K[j] * scale for the keys of one KV head (n4 a multiple of
 * 4); four blocks of keys at a time keep four independent sums in flight. */
static void scores(const float *q, const float *kt, int64_t stride, int64_t hd, float scale, int64_t n4, float *s)
{
    int64_t j = 0;
    for (; j + 16 <= n4; j += 16) {
        v4f a0 = splat4(0.0f), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t d = 0; d < hd; d++) {
            const v4f qd = splat4(q[d]);
            const float *k = kt + d * stride + j;
            a0 += qd * load4(k);
            a1 += qd * load4(k + 4);
            a2 += qd * load4(k + 8);
            a3 += qd * load4(k + 12);
        }
        store4(s + j, a0 * splat4(scale));
        store4(s + j + 4, a1 * splat4(scale));
        store4(s + j + 8, a2 * splat4(scale));
        store4(s + j + 12, a3 * splat4(scale));
    }
    for (; j < n4; j += 4) {
        v4f acc = splat4(0.0f);
        for (int64_t d = 0; d < hd; d++)
            acc += splat4(q[d]) * load4(kt + d * stride + j);
        store4(s + j, acc * splat4(scale));
    }
}

/* s[j] = exp(s[j] - max) over the first n_keys (the rest of the block of 4
 * becomes 0); returns the sum. */
static float softmax_numerators(float *s, int64_t n_keys, int64_t n4)
{
    float mx = s[0];
    for (int64_t j = 1; j < n_keys; j++)
        mx = s[j] > mx ? s[j] : mx;
    for (int64_t j = n_keys; j < n4; j++)
        s[j] = -INFINITY;
    v4f sum = splat4(0.0f);
    for (int64_t j = 0; j < n4; j += 4) {
        v4f e = exp4(load4(s + j) - splat4(mx));
        store4(s + j, e);
        sum += e;
    }
    return sum[0] + sum[1] + sum[2] + sum[3];
}

/* o[0..hd) = sum_j p[j] v[j] / norm; for 8 dims at a time, even and odd
 * keys go to separate sums so that four are in flight. */
static void weighted_values(const float *p, const float *v, int64_t v_stride, int64_t n_keys, int64_t hd,
                            float inv_norm, float *o)
{
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) {
        v4f a0 = splat4(0.0f), a1 = a0, b0 = a0, b1 = a0;
        int64_t j = 0;
        for (; j + 2 <= n_keys; j += 2) {
            const float *v0 = v + j * v_stride + d, *v1 = v0 + v_stride;
            const v4f p0 = splat4(p[j]), p1 = splat4(p[j + 1]);
            a0 += p0 * load4(v0);
            a1 += p0 * load4(v0 + 4);
            b0 += p1 * load4(v1);
            b1 += p1 * load4(v1 + 4);
        }
        if (j < n_keys) {
            const v4f pj = splat4(p[j]);
            a0 += pj * load4(v + j * v_stride + d);
            a1 += pj * load4(v + j * v_stride + d + 4);
        }
        store4(o + d, (a0 + b0) * splat4(inv_norm));
        store4(o + d + 4, (a1 + b1) * splat4(inv_norm));
    }
    for (; d < hd; d++) {
        float acc = 0.0f;
        for (int64_t j = 0; j < n_keys; j++)
            acc += p[j] * v[j * v_stride + d];
        o[d] = acc * inv_norm;
    }
}

static void attend_rows(void *arg, int ith, int nth)
{
    const mvq_attention_args *a = arg;
    const int64_t T = a->n_tokens, hd = a->head_dim, stride = mvq_attention_kt_stride(T);
    const int64_t q_dim = a->n_head * hd, kv_dim = a->n_head_kv * hd;
    const int64_t group = a->n_head / a->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    float *s = a->scores + (int64_t)ith * stride;
    /* rows interleaved over threads: the causal triangle stays balanced */
    for (int64_t r = ith; r < a->n_head * T; r += nth) {
        const int64_t h = r / T, i = r % T, g = h / group, n_keys = i + 1, n4 = (n_keys + 3) & ~(int64_t)3;
        scores(a->q + i * q_dim + h * hd, a->kt + g * hd * stride, stride, hd, scale, n4, s);
        const float sum = softmax_numerators(s, n_keys, n4);
        weighted_values(s, a->v + g * hd, kv_dim, n_keys, hd, 1.0f / sum, a->out + i * q_dim + h * hd);
    }
}

void mvq_attention(mvq_pool *pool, const mvq_attention_args *a)
{
    mvq_pool_run(pool, transpose_keys, (void *)a);
    mvq_pool_run(pool, attend_rows, (void *)a);
}

/* One query per head against n_keys cached positions (the decoder): the
 * softmax in f32 with its sum in double; scores: n_keys floats of scratch. */
void mvq_attention_cached(const float *q, const float *kc, const float *vc, int64_t n_keys, int64_t n_head,
                          int64_t n_head_kv, int64_t hd, float *scores, float *att)
{
    const int64_t kv_dim = n_head_kv * hd, group = n_head / n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int64_t h = 0; h < n_head; h++) {
        const float *qh = q + h * hd;
        const int64_t g = h / group;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n_keys; j++) {
            const float *kj = kc + j * kv_dim + g * hd;
            float s = 0.0f;
            for (int64_t e = 0; e < hd; e++)
                s += qh[e] * scale * kj[e];
            scores[j] = s;
            mx = s > mx ? s : mx;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < n_keys; j++)
            sum += scores[j] = expf(scores[j] - mx);
        float *oh = att + h * hd;
        memset(oh, 0, (size_t)hd * sizeof *oh);
        for (int64_t j = 0; j < n_keys; j++)
            for (int64_t e = 0; e < hd; e++)
                oh[e] += scores[j] * vc[j * kv_dim + g * hd + e];
        const float inv = (float)(1.0 / sum);
        for (int64_t e = 0; e < hd; e++)
            oh[e] *= inv;
    }
}
