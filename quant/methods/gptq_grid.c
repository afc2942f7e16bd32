/* GPTQ's view of a ggml block type: the grid of each weight (its block's
 * scale and offset) read back from a row the type's quantizer wrote, the
 * nearest level as that quantizer computes it, and new codes written into
 * the row under the same scales. */
#include "config.h"
#include "quant/methods/gptq_internal.h"

#include "kernels/kquant_search.h"
#include "kernels/ref.h"

#include <string.h>

static const kq_format *kquant_format(mvq_type t)
{
    switch (t) {
    case MVQ_TYPE_Q2_K: return &kq_format_q2_K;
    case MVQ_TYPE_Q3_K: return &kq_format_q3_K;
    case MVQ_TYPE_Q4_K: return &kq_format_q4_K;
    case MVQ_TYPE_Q5_K: return &kq_format_q5_K;
    case MVQ_TYPE_Q6_K: return &kq_format_q6_K;
    default: return NULL;
    }
}

bool gptq_grid_init(gptq_grid *g, mvq_type type)
{
    memset(g, 0, sizeof *g);
    g->type = type;
    g->block = 32;
    const kq_format *kf = kquant_format(type);
    if (kf) {
        g->block = MVQ_QK_K;
        g->lo = kf->shape->qmin;
        g->hi = kf->shape->qmax;
        g->kquant = true;
        return true;
    }
    switch (type) {
    case MVQ_TYPE_Q4_0: g->lo = -8, g->hi = 7; return true;
    case MVQ_TYPE_Q4_1: g->lo = 0, g->hi = 15; return true;
    case MVQ_TYPE_Q5_0: g->lo = -16, g->hi = 15; return true;
    case MVQ_TYPE_Q5_1: g->lo = 0, g->hi = 31; return true;
    case MVQ_TYPE_Q8_0: g->lo = -127, g->hi = 127; return true;
    case MVQ_TYPE_TQ2_0: g->block = MVQ_QK_K, g->lo = -1, g->hi = 1; return true;
    case MVQ_TYPE_IQ4_XS: g->block = MVQ_QK_K; /* fall through */
    case MVQ_TYPE_IQ4_NL:
        g->table = true;
        g->lo = 0, g->hi = 15;
        g->table_grid = (mvq_grid){mvq_kvalues_iq4nl, 16, 0, 0, 0.0f, 0};
        mvq_levels_init(&g->levels, &g->table_grid);
        return true;
    default: return false;
    }
}

/* The integer sub-block scales (and mins) of a K-quant super-block. */
static void kquant_scales(mvq_type t, const void *block, kq_superblock *sb)
{
    memset(sb, 0, sizeof *sb);
    switch (t) {
    case MVQ_TYPE_Q2_K: {
        const mvq_block_q2_K *b = block;
        sb->d = mvq_fp16_to_fp32(b->d), sb->dmin = mvq_fp16_to_fp32(b->dmin);
        for (int j = 0; j < 16; j++)
            sb->sc[j] = b->scales[j] & 0xF, sb->m[j] = b->scales[j] >> 4;
        break;
    }
    case MVQ_TYPE_Q3_K: {
        const mvq_block_q3_K *b = block;
        int8_t s[16];
        sb->d = mvq_fp16_to_fp32(b->d);
        mvq_unpack_q3_K_scales(b->scales, s);
        for (int j = 0; j < 16; j++)
            sb->sc[j] = s[j];
        break;
    }
    case MVQ_TYPE_Q4_K:
    case MVQ_TYPE_Q5_K: {
        /* the two share d, dmin and the 12 bytes of scales */
        const mvq_block_q4_K *b4 = block;
        const mvq_block_q5_K *b5 = block;
        const uint8_t *scales = t == MVQ_TYPE_Q4_K ? b4->scales : b5->scales;
        sb->d = mvq_fp16_to_fp32(t == MVQ_TYPE_Q4_K ? b4->d : b5->d);
        sb->dmin = mvq_fp16_to_fp32(t == MVQ_TYPE_Q4_K ? b4->dmin : b5->dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            mvq_get_scale_min_k4(j, scales, &sc, &m);
            sb->sc[j] = sc, sb->m[j] = m;
        }
        break;
    }
    case MVQ_TYPE_Q6_K: {
        const mvq_block_q6_K *b = block;
        sb->d = mvq_fp16_to_fp32(b->d);
        for (int j = 0; j < 16; j++)
            sb->sc[j] = b->scales[j];
        break;
    }
    default: break;
    }
}

static int iq4_xs_scale(const mvq_block_iq4_xs *b, int j)
{
    return (((b->scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b->scales_h >> (2 * j)) & 3) << 4)) - 32;
}

/* Scale and offset of the 32 weights of a legacy block, or IQ4_NL's. */
static void legacy_block(mvq_type t, const void *block, float *scale, float *offset)
{
    const mvq_half *h = block; /* d first, then m for the affine types */
    float d = mvq_fp16_to_fp32(h[0]), m = 0.0f;
    if (t == MVQ_TYPE_Q4_1 || t == MVQ_TYPE_Q5_1)
        m = mvq_fp16_to_fp32(h[1]);
    for (int j = 0; j < 32; j++)
        scale[j] = d, offset[j] = m;
}

void gptq_grid_read(const gptq_grid *g, const void *row, int64_t n, float *scale, float *offset)
{
    const size_t bytes = mvq_row_size(g->type, g->block);
    for (int64_t b = 0; b < n / g->block; b++) {
        const char *block = (const char *)row + (size_t)b * bytes;
        float *s = scale + b * g->block, *o = offset + b * g->block;
        if (g->kquant) {
            kq_superblock sb;
            const int len = kquant_format(g->type)->shape->sub_len;
            kquant_scales(g->type, block, &sb);
            for (int j = 0; j < MVQ_QK_K / len; j++) {
                const float dl = sb.d * (float)sb.sc[j], ml = sb.dmin * (float)sb.m[j];
                for (int l = 0; l < len; l++)
                    s[j * len + l] = dl, o[j * len + l] = -ml;
            }
        } else if (g->type == MVQ_TYPE_TQ2_0) {
            const float d = mvq_fp16_to_fp32(((const mvq_block_tq2_0 *)block)->d);
            for (int j = 0; j < MVQ_QK_K; j++)
                s[j] = d, o[j] = 0.0f;
        } else if (g->type == MVQ_TYPE_IQ4_XS) {
            const mvq_block_iq4_xs *x = (const mvq_block_iq4_xs *)block;
            const float d = mvq_fp16_to_fp32(x->d);
            for (int j = 0; j < 8; j++)
                for (int l = 0; l < 32; l++)
                    s[32 * j + l] = d * (float)iq4_xs_scale(x, j), o[32 * j + l] = 0.0f;
        } else {
            legacy_block(g->type, block, s, o);
        }
    }
}

uint8_t gptq_grid_round(const gptq_grid *g, float scale, float offset, float x, float *value)
{
    if (g->table) { /* ref_search.c's assign_codes */
        const int c = mvq_table_code(&g->levels, x * mvq_inverse_scale(scale));
        *value = scale * g->levels.level[c];
        return (uint8_t)c;
    }
    const float lo = (float)g->lo, hi = (float)g->hi;
    if (g->kquant) { /* kq_sub_quantize, offset = -ml */
        const float inv = scale != 0 ? 1.f / scale : 0.f;
        const float q = kq_round(kq_clampf((x - offset) * inv, lo, hi));
        *value = scale * q + offset;
        return (uint8_t)((int)q - g->lo);
    }
    const float t = (x - offset) * mvq_inverse_scale(scale); /* assign_codes */
    const int q = mvq_nearest_int(t < lo ? lo : t > hi ? hi : t);
    *value = (float)q * scale + offset;
    return (uint8_t)(q - g->lo);
}

static void nibbles(const uint8_t *codes, uint8_t *qs, int half)
{
    for (int j = 0; j < half; j++)
        qs[j] = (uint8_t)((codes[j] & 0xF) | ((codes[j + half] & 0xF) << 4));
}

static void fifth_bits(const uint8_t codes[32], uint8_t qh[4])
{
    uint32_t bits = 0;
    for (int j = 0; j < 32; j++)
        bits |= (uint32_t)((codes[j] >> 4) & 1) << j;
    for (int b = 0; b < 4; b++)
        qh[b] = (uint8_t)(bits >> (8 * b));
}

static void write_block(const gptq_grid *g, void *block, const uint8_t *codes)
{
    const kq_format *kf = kquant_format(g->type);
    if (kf) {
        kq_superblock sb;
        kquant_scales(g->type, block, &sb);
        for (int e = 0; e < MVQ_QK_K; e++)
            sb.q[e] = (int8_t)(codes[e] + g->lo);
        kf->store(&sb, block);
        return;
    }
    switch (g->type) {
    case MVQ_TYPE_Q4_0: nibbles(codes, ((mvq_block_q4_0 *)block)->qs, 16); break;
    case MVQ_TYPE_IQ4_NL: nibbles(codes, ((mvq_block_iq4_nl *)block)->qs, 16); break;
    case MVQ_TYPE_Q4_1: nibbles(codes, ((mvq_block_q4_1 *)block)->qs, 16); break;
    case MVQ_TYPE_Q5_0:
        nibbles(codes, ((mvq_block_q5_0 *)block)->qs, 16);
        fifth_bits(codes, ((mvq_block_q5_0 *)block)->qh);
        break;
    case MVQ_TYPE_Q5_1:
        nibbles(codes, ((mvq_block_q5_1 *)block)->qs, 16);
        fifth_bits(codes, ((mvq_block_q5_1 *)block)->qh);
        break;
    case MVQ_TYPE_Q8_0:
        for (int j = 0; j < 32; j++)
            ((mvq_block_q8_0 *)block)->qs[j] = (int8_t)(codes[j] + g->lo);
        break;
    case MVQ_TYPE_TQ2_0: { /* codes are the levels + 1, as TQ2_0 stores them */
        uint8_t *qs = ((mvq_block_tq2_0 *)block)->qs;
        memset(qs, 0, MVQ_QK_K / 4);
        for (int c = 0; c < MVQ_QK_K / 4; c++)
            for (int l = 0; l < 4; l++)
                qs[c] |= (uint8_t)((codes[128 * (c / 32) + 32 * l + c % 32] & 3) << (2 * l));
        break;
    }
    case MVQ_TYPE_IQ4_XS:
        for (int j = 0; j < 8; j++)
            nibbles(codes + 32 * j, ((mvq_block_iq4_xs *)block)->qs + 16 * j, 16);
        break;
    default: break;
    }
}

void gptq_grid_write(const gptq_grid *g, void *row, int64_t n, const uint8_t *codes)
{
    const size_t bytes = mvq_row_size(g->type, g->block);
    for (int64_t b = 0; b < n / g->block; b++)
        write_block(g, (char *)row + (size_t)b * bytes, codes + b * g->block);
}
