/* Internal to kernels/x86/, SIMDe test build only: the few intrinsics the
 * AVX-512 kernels use that SIMDe 0.7 does not emulate, written lane by lane
 * with the instructions' semantics (conversions round to nearest even, as
 * the default MXCSR).  Slow, and only ever compiled into the test library. */
#ifndef MVQ_SIMDE_SHIMS_H
#define MVQ_SIMDE_SHIMS_H

#include <math.h>
#include <stddef.h>
#include <string.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

typedef simde__mmask16 __mmask16;
typedef simde__mmask64 __mmask64;

#define MVQ_SHIM_LANES(RET, NAME, ARG, STORE, IN_T, LOAD, OUT_T, EXPR)                            \
    static inline RET NAME(ARG a)                                                                \
    {                                                                                            \
        IN_T in[16];                                                                             \
        OUT_T out[16];                                                                           \
        STORE(in, a);                                                                            \
        for (int i = 0; i < 16; i++)                                                             \
            out[i] = (EXPR);                                                                     \
        return LOAD(out);                                                                        \
    }

static inline void mvq_store_ps(float *p, __m512 a) { _mm512_storeu_ps(p, a); }
static inline void mvq_store_si512(int32_t *p, __m512i a) { _mm512_storeu_si512(p, a); }
static inline void mvq_store_m128_i8(int8_t *p, __m128i a) { _mm_storeu_si128((__m128i *)p, a); }
static inline void mvq_store_m256_u16(uint16_t *p, __m256i a) { _mm256_storeu_si256((__m256i *)p, a); }
static inline __m512i mvq_load_si512(const int32_t *p) { return _mm512_loadu_si512(p); }
static inline __m512i mvq_load_si512_u(const uint32_t *p) { return _mm512_loadu_si512(p); }
static inline __m512 mvq_load_ps(const float *p) { return _mm512_loadu_ps(p); }

MVQ_SHIM_LANES(__m512i, mvq_mm512_cvttps_epi32, __m512, mvq_store_ps, float, mvq_load_si512, int32_t, (int32_t)in[i])
MVQ_SHIM_LANES(__m512i, mvq_mm512_cvtps_epi32, __m512, mvq_store_ps, float, mvq_load_si512, int32_t,
               (int32_t)nearbyintf(in[i]))
MVQ_SHIM_LANES(__m512, mvq_mm512_cvtepi32_ps, __m512i, mvq_store_si512, int32_t, mvq_load_ps, float, (float)in[i])
MVQ_SHIM_LANES(__m512i, mvq_mm512_cvtepi8_epi32, __m128i, mvq_store_m128_i8, int8_t, mvq_load_si512, int32_t, in[i])
MVQ_SHIM_LANES(__m512i, mvq_mm512_cvtepu16_epi32, __m256i, mvq_store_m256_u16, uint16_t, mvq_load_si512_u, uint32_t,
               in[i])

static inline __m512 mvq_mm512_cvtph_ps(__m256i h)
{
    uint16_t in[16];
    float out[16];
    _mm256_storeu_si256((__m256i *)in, h);
    for (int i = 0; i < 16; i++)
        out[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(in[i])));
    return _mm512_loadu_ps(out);
}

static inline float mvq_mm512_reduce_add_ps(__m512 a)
{
    float in[16], s = 0.0f;
    _mm512_storeu_ps(in, a);
    for (int i = 0; i < 16; i++)
        s += in[i];
    return s;
}

static inline float mvq_mm512_reduce_max_ps(__m512 a)
{
    float in[16], m;
    _mm512_storeu_ps(in, a);
    m = in[0];
    for (int i = 1; i < 16; i++)
        m = in[i] > m ? in[i] : m;
    return m;
}

static inline int mvq_mm512_reduce_add_epi32(__m512i a)
{
    int32_t in[16];
    int s = 0;
    _mm512_storeu_si512(in, a);
    for (int i = 0; i < 16; i++)
        s += in[i];
    return s;
}
static inline __m512 mvq_mm512_i32gather_ps(__m512i index, const float *base, int scale)
{
    int32_t in[16];
    float out[16];
    _mm512_storeu_si512(in, index);
    for (int i = 0; i < 16; i++)
        memcpy(&out[i], (const char *)base + (ptrdiff_t)in[i] * scale, sizeof(float));
    return _mm512_loadu_ps(out);
}

static inline __m128i mvq_mm512_cvtepi32_epi8(__m512i a)
{
    int32_t in[16];
    int8_t out[16];
    _mm512_storeu_si512(in, a);
    for (int i = 0; i < 16; i++)
        out[i] = (int8_t)in[i]; /* truncation, as vpmovdb */
    return _mm_loadu_si128((const __m128i *)out);
}

#define _mm512_cvtepi32_epi8 mvq_mm512_cvtepi32_epi8
#define _mm512_cvttps_epi32 mvq_mm512_cvttps_epi32
#define _mm512_i32gather_ps mvq_mm512_i32gather_ps
#define _mm512_cvtps_epi32 mvq_mm512_cvtps_epi32
#define _mm512_cvtepi32_ps mvq_mm512_cvtepi32_ps
#define _mm512_cvtepi8_epi32 mvq_mm512_cvtepi8_epi32
#define _mm512_cvtepu16_epi32 mvq_mm512_cvtepu16_epi32
#define _mm512_cvtph_ps mvq_mm512_cvtph_ps
#define _mm512_reduce_add_ps mvq_mm512_reduce_add_ps
#define _mm512_reduce_max_ps mvq_mm512_reduce_max_ps
#define _mm512_reduce_add_epi32 mvq_mm512_reduce_add_epi32

#endif
