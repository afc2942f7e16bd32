/* The K-quant reference quantizers' scale search: the search of
 * kquant_search_impl.h over portable loops.  Each loop keeps KQ_LANES
 * partial sums, added in a fixed order at the end, so that compilers
 * vectorize them without reassociating float sums (and SIMD versions
 * reproduce them). */
#include "config.h"
#include "kernels/kquant_search.h"
#include "kernels/ref.h"

#define KQ_LANES 8

float kq_fp16_round(float f)
{
    return mvq_round_fp16(f);
}

static inline float kq_round_fp16(float f)
{
    return mvq_round_fp16(f);
}

static float lane_sum(const float a[KQ_LANES])
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static inline void kq_affine_sums(int n, int qmax, const float *x, const float *w, float iscale,
                                  float lo, float *sq, float *sqq, float *sxq)
{
    float a[KQ_LANES] = {0}, b[KQ_LANES] = {0}, c[KQ_LANES] = {0};
    const float top = (float)qmax;
    for (int i = 0; i < n; i += KQ_LANES) {
        for (int l = 0; l < KQ_LANES; ++l) {
            float q = kq_round(kq_clampf(iscale * (x[i + l] - lo), 0.f, top));
            float wq = w[i + l] * q;
            a[l] += wq;
            b[l] += wq * q;
            c[l] += wq * x[i + l];
        }
    }
    *sq = lane_sum(a);
    *sqq = lane_sum(b);
    *sxq = lane_sum(c);
}

/* Exact weighted error of a sub-block at dl = d*sc, ml = dmin*m, with each
 * quant the nearest level, as the dequantizer computes it. */
static inline float kq_sub_error(int n, const float *x, const float *w, float dl, float ml, float lo,
                             float hi)
{
    const float inv = dl != 0 ? 1.f / dl : 0.f;
    float acc[KQ_LANES] = {0};
    for (int i = 0; i < n; i += KQ_LANES) {
        for (int l = 0; l < KQ_LANES; ++l) {
            float q = kq_round(kq_clampf((x[i + l] + ml) * inv, lo, hi));
            float diff = dl * q - ml - x[i + l];
            acc[l] += w[i + l] * diff * diff;
        }
    }
    return lane_sum(acc);
}

/* Quants of a sub-block at dl, ml into q; sums[0..3] = weighted sums of
 * q, q*q, q*x and the squared error. */
static inline void kq_sub_quantize(int n, const float *restrict x, const float *restrict w, float dl, float ml,
                         float lo, float hi, float *restrict q, float sums[4])
{
    const float inv = dl != 0 ? 1.f / dl : 0.f;
    float a[KQ_LANES] = {0}, b[KQ_LANES] = {0}, c[KQ_LANES] = {0}, e[KQ_LANES] = {0};
    for (int i = 0; i < n; i += KQ_LANES) {
        for (int l = 0; l < KQ_LANES; ++l) {
            float v = kq_round(kq_clampf((x[i + l] + ml) * inv, lo, hi));
            float diff = dl * v - ml - x[i + l];
            float wq = w[i + l] * v;
            q[i + l] = v;
            a[l] += wq;
            b[l] += wq * v;
            c[l] += wq * x[i + l];
            e[l] += w[i + l] * diff * diff;
        }
    }
    sums[0] = lane_sum(a);
    sums[1] = lane_sum(b);
    sums[2] = lane_sum(c);
    sums[3] = lane_sum(e);
}

static inline void kq_sym_sums(int n, float qmin, float qmax, const float *x, const float *w,
                               float iscale, float *sqq, float *sxq)
{
    float a[KQ_LANES] = {0}, b[KQ_LANES] = {0};
    for (int i = 0; i < n; i += KQ_LANES) {
        for (int l = 0; l < KQ_LANES; ++l) {
            float q = kq_round(kq_clampf(iscale * x[i + l], qmin, qmax));
            float wq = w[i + l] * q;
            a[l] += wq * q;
            b[l] += wq * x[i + l];
        }
    }
    *sqq = lane_sum(a);
    *sxq = lane_sum(b);
}

#include "kernels/kquant_search_impl.h"

void kq_quantize_row(const kq_shape *sh, const float *x, void *y, size_t block_bytes, int64_t n,
                     const float *imatrix, kq_store_fn store)
{
    quantize_row_impl(sh, x, y, block_bytes, n, imatrix, store);
}
