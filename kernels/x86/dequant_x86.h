/* Internal to kernels/x86/: dequantization (to_float) of every format, shared
 * by dequant_avx2.c and dequant_avx512.c.  The includer first defines
 *   put16(float *y, __m128i q, float d, float m, enum dq_op op)
 * storing 16 signed bytes q as floats q*d, q*d + m or q*d - m; the code here
 * unpacks blocks into bytes with 256-bit integer operations.  Bit-exact with
 * the scalar reference: per value the same float operations (int to float,
 * one multiply, then one add or subtract), never fused. */
#ifndef MVQ_DEQUANT_X86_H
#define MVQ_DEQUANT_X86_H

MVQ_INLINE void put32(float *y, __m256i q, float d, float m, enum dq_op op)
{
    put16(y, _mm256_castsi256_si128(q), d, m, op);
    put16(y + 16, _mm256_extracti128_si256(q, 1), d, m, op);
}

static void dequantize_row_q4_0(const void *vx, float *y, int64_t n)
{
    const mvq_block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK4_0; i++)
        put32(y + 32 * i, _mm256_sub_epi8(nibbles_to_bytes_32(x[i].qs), _mm256_set1_epi8(8)),
              half_to_float(x[i].d), 0.0f, DQ_MUL);
}

static void dequantize_row_q4_1(const void *vx, float *y, int64_t n)
{
    const mvq_block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK4_1; i++)
        put32(y + 32 * i, nibbles_to_bytes_32(x[i].qs), half_to_float(x[i].d), half_to_float(x[i].m), DQ_MUL_ADD);
}

static void dequantize_row_q5_0(const void *vx, float *y, int64_t n)
{
    const mvq_block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK5_0; i++)
        put32(y + 32 * i, _mm256_sub_epi8(q5_bytes_32(x[i].qs, x[i].qh), _mm256_set1_epi8(16)),
              half_to_float(x[i].d), 0.0f, DQ_MUL);
}

static void dequantize_row_q5_1(const void *vx, float *y, int64_t n)
{
    const mvq_block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK5_1; i++)
        put32(y + 32 * i, q5_bytes_32(x[i].qs, x[i].qh), half_to_float(x[i].d), half_to_float(x[i].m), DQ_MUL_ADD);
}

static void dequantize_row_q8_0(const void *vx, float *y, int64_t n)
{
    const mvq_block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK8_0; i++)
        put32(y + 32 * i, _mm256_loadu_si256((const __m256i *)x[i].qs), half_to_float(x[i].d), 0.0f, DQ_MUL);
}

static void dequantize_row_iq4_nl(const void *vx, float *y, int64_t n)
{
    const mvq_block_iq4_nl *x = vx;
    const __m256i levels = iq4nl_levels_256();
    for (int64_t i = 0; i < n / MVQ_QK4_NL; i++)
        put32(y + 32 * i, _mm256_shuffle_epi8(levels, nibbles_to_bytes_32(x[i].qs)), half_to_float(x[i].d), 0.0f, DQ_MUL);
}

static void dequantize_row_f16(const void *vx, float *y, int64_t n)
{
    const mvq_half *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        y[i] = half_to_float(x[i]);
}

static void dequantize_row_bf16(const void *vx, float *y, int64_t n)
{
    const mvq_bf16 *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_slli_epi32(w, 16));
    }
    for (; i < n; i++) {
        const uint32_t w = (uint32_t)x[i] << 16;
        memcpy(y + i, &w, 4);
    }
}

static inline __m128i lo128(__m256i v)
{
    return _mm256_castsi256_si128(v);
}

static inline __m128i hi128(__m256i v)
{
    return _mm256_extracti128_si256(v, 1);
}

static void dequantize_row_q2_K(const void *vx, float *y, int64_t n)
{
    const mvq_block_q2_K *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++, y += MVQ_QK_K) {
        const float d = half_to_float(x[i].d), dmin = half_to_float(x[i].dmin);
        for (int g = 0; g < 8; g++) {
            const __m256i u = crumb_256(load_256(x[i].qs + 32 * (g / 4)), g % 4);
            for (int k = 0; k < 2; k++) {
                const uint8_t sc = x[i].scales[2 * g + k];
                put16(y + 32 * g + 16 * k, k ? hi128(u) : lo128(u), d * (sc & 0xF), dmin * (sc >> 4), DQ_MUL_SUB);
            }
        }
    }
}

static void dequantize_row_q3_K(const void *vx, float *y, int64_t n)
{
    const mvq_block_q3_K *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++, y += MVQ_QK_K) {
        int8_t sc[16];
        _mm_storeu_si128((__m128i *)sc, q3_K_scales(x[i].scales));
        const float d = half_to_float(x[i].d);
        const __m256i hm = load_256(x[i].hmask);
        for (int g = 0; g < 8; g++) {
            /* q - 4 where the high bit is clear */
            const __m256i u = _mm256_or_si256(crumb_256(load_256(x[i].qs + 32 * (g / 4)), g % 4), bit_to_256(hm, g, 2));
            const __m256i q = _mm256_sub_epi8(u, _mm256_set1_epi8(4));
            put16(y + 32 * g, lo128(q), d * sc[2 * g], 0.0f, DQ_MUL);
            put16(y + 32 * g + 16, hi128(q), d * sc[2 * g + 1], 0.0f, DQ_MUL);
        }
    }
}

MVQ_INLINE void dequantize_q45_K(const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, float d,
                                 float dmin, float *y)
{
    const __m256i hb = qh ? load_256(qh) : _mm256_setzero_si256();
    uint8_t sm[16]; /* scales, then mins */
    _mm_storeu_si128((__m128i *)sm, k4_scales_mins(packed));
    for (int g = 0; g < 8; g++) {
        const __m256i q = _mm256_srl_epi16(load_256(qs + 32 * (g / 2)), _mm_cvtsi32_si128(4 * (g % 2)));
        __m256i u = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
        if (qh) {
            u = _mm256_or_si256(u, bit_to_256(hb, g, 4));
        }
        const float d1 = d * sm[g], m1 = dmin * sm[8 + g];
        put16(y + 32 * g, lo128(u), d1, m1, DQ_MUL_SUB);
        put16(y + 32 * g + 16, hi128(u), d1, m1, DQ_MUL_SUB);
    }
}

static void dequantize_row_q4_K(const void *vx, float *y, int64_t n)
{
    const mvq_block_q4_K *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++)
        dequantize_q45_K(x[i].scales, x[i].qs, NULL, half_to_float(x[i].d), half_to_float(x[i].dmin), y + i * MVQ_QK_K);
}

static void dequantize_row_q5_K(const void *vx, float *y, int64_t n)
{
    const mvq_block_q5_K *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++)
        dequantize_q45_K(x[i].scales, x[i].qs, x[i].qh, half_to_float(x[i].d), half_to_float(x[i].dmin), y + i * MVQ_QK_K);
}

static void dequantize_row_q6_K(const void *vx, float *y, int64_t n)
{
    const mvq_block_q6_K *x = vx;
    const __m256i off = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / MVQ_QK_K; i++, y += MVQ_QK_K) {
        const float d = half_to_float(x[i].d);
        for (int h = 0; h < 2; h++) {
            __m256i u[4];
            q6_K_bytes(&x[i], h, u);
            for (int j = 0; j < 4; j++) {
                const int g = 4 * h + j;
                const __m256i q = _mm256_sub_epi8(u[j], off);
                put16(y + 32 * g, lo128(q), d * x[i].scales[2 * g], 0.0f, DQ_MUL);
                put16(y + 32 * g + 16, hi128(q), d * x[i].scales[2 * g + 1], 0.0f, DQ_MUL);
            }
        }
    }
}

/* IQ4_XS: sub-block j's levels at scale d * l_j */
static void dequantize_row_iq4_xs(const void *vx, float *y, int64_t n)
{
    const mvq_block_iq4_xs *x = vx;
    const __m256i levels = iq4nl_levels_256();
    for (int64_t i = 0; i < n / MVQ_QK_K; i++, y += MVQ_QK_K) {
        const float d = half_to_float(x[i].d);
        for (int j = 0; j < 8; j++)
            put32(y + 32 * j, _mm256_shuffle_epi8(levels, nibbles_to_bytes_32(x[i].qs + 16 * j)),
                  d * (float)mvq_iq4_xs_scale(&x[i], j), 0.0f, DQ_MUL);
    }
}

static void fill_dequant(mvq_kernel_table *t)
{
    t->to_float[MVQ_TYPE_F16] = dequantize_row_f16;
    t->to_float[MVQ_TYPE_BF16] = dequantize_row_bf16;
    t->to_float[MVQ_TYPE_Q4_0] = dequantize_row_q4_0;
    t->to_float[MVQ_TYPE_Q4_1] = dequantize_row_q4_1;
    t->to_float[MVQ_TYPE_Q5_0] = dequantize_row_q5_0;
    t->to_float[MVQ_TYPE_Q5_1] = dequantize_row_q5_1;
    t->to_float[MVQ_TYPE_Q8_0] = dequantize_row_q8_0;
    t->to_float[MVQ_TYPE_IQ4_NL] = dequantize_row_iq4_nl;
    t->to_float[MVQ_TYPE_Q2_K] = dequantize_row_q2_K;
    t->to_float[MVQ_TYPE_Q3_K] = dequantize_row_q3_K;
    t->to_float[MVQ_TYPE_Q4_K] = dequantize_row_q4_K;
    t->to_float[MVQ_TYPE_Q5_K] = dequantize_row_q5_K;
    t->to_float[MVQ_TYPE_Q6_K] = dequantize_row_q6_K;
    t->to_float[MVQ_TYPE_IQ4_XS] = dequantize_row_iq4_xs;
}

#endif
