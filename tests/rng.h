/* The tests' deterministic random numbers (xorshift64), shared by the
 * plain TAP tests that compare kernels over random inputs. */
#ifndef MVQ_TEST_RNG_H
#define MVQ_TEST_RNG_H

#include <stdint.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static inline uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static inline float rnd_unit(void) /* in [-1, 1) */
{
    return (float)((int32_t)(rnd() & 0xFFFFFF) - 0x800000) / (float)0x800000;
}

#endif
