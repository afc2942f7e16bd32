/* TQ2_0 reference kernels: ternary weights {-1, 0, +1} times one fp16 scale
 * per 256, 2.06 bits per weight (ggml's format: 64 bytes of 2-bit codes
 * q + 1, then d).  Byte c (0..63) of a block holds, at bits 2l, the code of
 * weight 128 (c / 32) + 32 l + c % 32.
 *
 * The quantizer is ours: ggml rounds x / max|x|, which sends most weights
 * of a non-ternary model to 0.  For a given scale the best codes are the
 * signs of the weights above d / 2, so the best pair (d, codes) is found
 * among the prefixes of the block sorted by |x|: keeping the k largest,
 * d = sum w|x| / sum w over them and the weighted squared error is
 * sum w x^2 - (sum w|x|)^2 / sum w; the k with the smallest error wins.
 * ggml's choice is one of these prefixes with a worse d, so the error is
 * never above ggml's (but for d's rounding to fp16).  The codes are then
 * the nearest at the stored d, which can only lower the error at that d. */
#include "config.h"

#include "kernels/ref.h"


void mvq_unpack_tq2_0(const mvq_block_tq2_0 *b, int8_t q[256])
{
    for (int c = 0; c < 64; c++)
        for (int l = 0; l < 4; l++)
            q[128 * (c / 32) + 32 * l + c % 32] = (int8_t)(((b->qs[c] >> (2 * l)) & 3) - 1);
}

void mvq_dequantize_row_tq2_0_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_tq2_0 *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++, y += MVQ_QK_K) {
        int8_t q[256];
        mvq_unpack_tq2_0(&x[i], q);
        const float d = mvq_fp16_to_fp32(x[i].d);
        for (int j = 0; j < MVQ_QK_K; j++)
            y[j] = (float)q[j] * d;
    }
}

/* Integer sum per block, then d_y * d_x * isum in float, block order. */
void mvq_vec_dot_tq2_0_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_tq2_0 *x = vx;
    const mvq_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        int8_t q[256];
        mvq_unpack_tq2_0(&x[i], q);
        int isum = 0;
        for (int j = 0; j < MVQ_QK_K; j++)
            isum += q[j] * y[i].qs[j];
        sum += (float)isum * (y[i].d * mvq_fp16_to_fp32(x[i].d));
    }
    *s = sum;
}

/* The block's indices by descending |x| (non-finite: 0), ties by index:
 * the order, and so the bytes, is fixed.  A stable LSD radix sort on the
 * magnitudes' bits (monotone for non-negative floats), inverted so that
 * ascending is descending: 256 keys sort far faster than with qsort. */
static void sort_by_magnitude(const float *x, float *a_sorted, int *j_sorted)
{
    uint32_t key[2][MVQ_QK_K];
    uint16_t idx[2][MVQ_QK_K];
    for (int j = 0; j < MVQ_QK_K; j++) {
        const float a = isfinite(x[j]) ? fabsf(x[j]) : 0.0f;
        uint32_t u;
        memcpy(&u, &a, sizeof u);
        key[0][j] = ~u;
        idx[0][j] = (uint16_t)j;
    }
    int cur = 0;
    for (int shift = 0; shift < 32; shift += 8) {
        int count[257] = {0};
        for (int j = 0; j < MVQ_QK_K; j++)
            count[((key[cur][j] >> shift) & 0xFF) + 1]++;
        if (count[((key[cur][0] >> shift) & 0xFF) + 1] == MVQ_QK_K)
            continue; /* one digit for all: the order stands */
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (int j = 0; j < MVQ_QK_K; j++) {
            const int pos = count[(key[cur][j] >> shift) & 0xFF]++;
            key[!cur][pos] = key[cur][j];
            idx[!cur][pos] = idx[cur][j];
        }
        cur = !cur;
    }
    for (int k = 0; k < MVQ_QK_K; k++) {
        const uint32_t u = ~key[cur][k];
        memcpy(&a_sorted[k], &u, sizeof u);
        j_sorted[k] = idx[cur][k];
    }
}

static void quantize_block(const float *x, const float *w, mvq_block_tq2_0 *b)
{
    float a[MVQ_QK_K];
    int order[MVQ_QK_K];
    sort_by_magnitude(x, a, order);
    /* maximise (sum w|x|)^2 / sum w over the prefixes (k = 0 keeps none) */
    double swa = 0, sw = 0, best = 0, best_d = 0;
    for (int k = 1; k <= MVQ_QK_K; k++) {
        const double wk = w ? w[order[k - 1]] : 1.0;
        swa += wk * a[k - 1];
        sw += wk;
        if (sw > 0 && swa * swa / sw > best) {
            best = swa * swa / sw;
            best_d = swa / sw;
        }
    }
    /* codes: nearest at the stored scale, as GPTQ's grid re-rounds them */
    const mvq_half d = mvq_fp32_to_fp16(best_d < 65504.0 ? (float)best_d : 65504.0f);
    const float id = mvq_inverse_scale(mvq_fp16_to_fp32(d));
    memset(b->qs, 0, sizeof b->qs);
    for (int c = 0; c < 64; c++)
        for (int l = 0; l < 4; l++) {
            const float t = x[128 * (c / 32) + 32 * l + c % 32] * id;
            const int q = isfinite(t) ? mvq_nearest_int(t < -1.0f ? -1.0f : t > 1.0f ? 1.0f : t) : 0;
            b->qs[c] |= (uint8_t)((q + 1) << (2 * l));
        }
    b->d = d;
}

/* The importance of a block's columns, or NULL (unweighted) when there is
 * none or it is all zero there. */
static const float *block_weights(const float *imatrix, int64_t i)
{
    if (!imatrix)
        return NULL;
    const float *w = imatrix + MVQ_QK_K * i;
    for (int j = 0; j < MVQ_QK_K; j++)
        if (w[j] > 0.0f)
            return w;
    return NULL;
}

void mvq_quantize_row_tq2_0_ref(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_block_tq2_0 *y = vy;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++)
        quantize_block(x + MVQ_QK_K * i, block_weights(imatrix, i), &y[i]);
}
