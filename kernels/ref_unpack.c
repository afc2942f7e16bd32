/* Bit layouts of ggml's blocks: packed bytes to integer levels, and the
 * packed 6-bit scales of the K-quants.  Shared by the reference dequantizers,
 * dot products and quantizers. */
#include "config.h"

#include "kernels/ref.h"

const int8_t mvq_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

void mvq_set_scale_min_k4(const uint8_t sc[8], const uint8_t m[8], uint8_t q[12])
{
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        q[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
    }
}

void mvq_unpack_q3_K_scales(const uint8_t packed[12], int8_t scales[16])
{
    for (int j = 0; j < 16; j++) {
        int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
        int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        scales[j] = (int8_t)((low | (high << 4)) - 32);
    }
}

void mvq_pack_q3_K_scales(const int8_t scales[16], uint8_t packed[12])
{
    memset(packed, 0, 12);
    for (int j = 0; j < 16; j++) {
        int l = scales[j] + 32;
        if (j < 8)
            packed[j] |= (uint8_t)(l & 0xF);
        else
            packed[j - 8] |= (uint8_t)((l & 0xF) << 4);
        packed[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
}

/* Low nibbles hold weights 0..15, high nibbles 16..31. */
static void unpack_nibbles(const uint8_t qs[16], int8_t q[32], int offset)
{
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0xF) + offset);
        q[j + 16] = (int8_t)((qs[j] >> 4) + offset);
    }
}

/* The fifth bit of weight j is bit j of the little-endian 32-bit qh. */
static void add_fifth_bits(const uint8_t qh[4], int8_t q[32], int offset)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
                 (uint32_t)qh[3] << 24;
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)(q[j] + (int)((h >> j) & 1) * 16 + offset);
}

void mvq_unpack_q4_0(const mvq_block_q4_0 *b, int8_t q[32])
{
    unpack_nibbles(b->qs, q, -8);
}

void mvq_unpack_q4_1(const mvq_block_q4_1 *b, int8_t q[32])
{
    unpack_nibbles(b->qs, q, 0);
}

void mvq_unpack_q5_0(const mvq_block_q5_0 *b, int8_t q[32])
{
    unpack_nibbles(b->qs, q, 0);
    add_fifth_bits(b->qh, q, -16);
}

void mvq_unpack_q5_1(const mvq_block_q5_1 *b, int8_t q[32])
{
    unpack_nibbles(b->qs, q, 0);
    add_fifth_bits(b->qh, q, 0);
}

void mvq_unpack_q8_0(const mvq_block_q8_0 *b, int8_t q[32])
{
    memcpy(q, b->qs, 32);
}

void mvq_unpack_iq4_nl(const mvq_block_iq4_nl *b, int8_t q[32])
{
    for (int j = 0; j < 16; j++) {
        q[j] = mvq_kvalues_iq4nl[b->qs[j] & 0xF];
        q[j + 16] = mvq_kvalues_iq4nl[b->qs[j] >> 4];
    }
}

/* Q2_K / Q3_K low bits: weight 128h + 32s + l is bits 2s..2s+1 of qs[32h + l]. */
static int two_bits(const uint8_t *qs, int w)
{
    int h = w / 128, s = (w % 128) / 32, l = w % 32;
    return (qs[32 * h + l] >> (2 * s)) & 3;
}

void mvq_unpack_q2_K(const mvq_block_q2_K *b, int8_t q[256])
{
    for (int w = 0; w < 256; w++)
        q[w] = (int8_t)two_bits(b->qs, w);
}

/* Q3_K high bit of weight 128h + 32s + l: bit 4h + s of hmask[l]; a clear
 * bit subtracts 4. */
void mvq_unpack_q3_K(const mvq_block_q3_K *b, int8_t q[256])
{
    for (int w = 0; w < 256; w++) {
        int h = w / 128, s = (w % 128) / 32, l = w % 32;
        int high = (b->hmask[l] >> (4 * h + s)) & 1;
        q[w] = (int8_t)(two_bits(b->qs, w) - (high ? 0 : 4));
    }
}

/* Q4_K / Q5_K: weight 64c + l is the low nibble of qs[32c + l], weight
 * 64c + 32 + l its high nibble; Q5_K's fifth bit is bit 2c (low) or 2c+1
 * (high) of qh[l]. */
void mvq_unpack_q4_K(const mvq_block_q4_K *b, int8_t q[256])
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(b->qs[32 * c + l] & 0xF);
            q[64 * c + 32 + l] = (int8_t)(b->qs[32 * c + l] >> 4);
        }
}

void mvq_unpack_q5_K(const mvq_block_q5_K *b, int8_t q[256])
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = b->qs[32 * c + l] & 0xF, hi = b->qs[32 * c + l] >> 4;
            q[64 * c + l] = (int8_t)(lo + ((b->qh[l] >> (2 * c)) & 1) * 16);
            q[64 * c + 32 + l] = (int8_t)(hi + ((b->qh[l] >> (2 * c + 1)) & 1) * 16);
        }
}

/* Q6_K: per half h (128 weights), ql[64h..] and qh[32h..]; weight
 * 128h + 32s + l takes its low nibble from ql[64h + l + 32(s&1)] (low
 * nibble for s < 2, high for s >= 2) and bits 2s..2s+1 of qh[32h + l]. */
void mvq_unpack_q6_K(const mvq_block_q6_K *b, int8_t q[256])
{
    for (int w = 0; w < 256; w++) {
        int h = w / 128, s = (w % 128) / 32, l = w % 32;
        int byte = b->ql[64 * h + l + 32 * (s & 1)];
        int low = s < 2 ? byte & 0xF : byte >> 4;
        int high = (b->qh[32 * h + l] >> (2 * s)) & 3;
        q[w] = (int8_t)((low | (high << 4)) - 32);
    }
}
