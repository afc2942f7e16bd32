/* Whether a kernel left the upper halves of the vector registers in use
 * (bits 128..511 of registers 0-15), read from XINUSE: XGETBV with ECX = 1,
 * bits 2 (AVX) and 6 (ZMM_Hi256).  A kernel that returns so, without
 * vzeroupper, makes every SSE instruction after it (all the code built for
 * the baseline ISA) pay a merge with the stale upper halves: measured on
 * Zen 4, the scalar IQ4_XS quantizer ran 6.5x slower after an AVX-512 one.
 * Registers 16-31 (bit 7) do not matter: SSE cannot name them. */
#ifndef MVQ_TEST_UPPER_STATE_H
#define MVQ_TEST_UPPER_STATE_H

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static inline unsigned upper_state_bits(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
    (void)hi;
    return lo & 0x44;
}

/* 1: in use, 0: clean, -1: this CPU cannot tell: no XGETBV with ECX 1, or
 * (the SDM allows it) bits that stay set after a vzeroupper */
static inline int upper_state_dirty(void)
{
    static int known = -2;
    if (known == -2) {
        unsigned a, b, c, d;
        /* XGETBV needs OSXSAVE (leaf 1, ECX bit 27) and vzeroupper AVX (bit
         * 28); ECX = 1 needs leaf 0xD's EAX bit 2 */
        known = __get_cpuid(1, &a, &b, &c, &d) && (c >> 27 & 1) && (c >> 28 & 1) &&
                __get_cpuid_count(0xD, 1, &a, &b, &c, &d) && (a & 4);
        if (known) {
            const unsigned now = upper_state_bits(); /* the caller's kernel's */
            __asm__ volatile("vzeroupper");
            known = upper_state_bits() == 0;
            if (known)
                return now != 0;
        }
    }
    if (!known)
        return -1;
    return upper_state_bits() != 0;
}
#else
static inline int upper_state_dirty(void)
{
    return -1;
}
#endif

/* why: the failure's words for a dirty state after the named call */
#define UPPER_STATE_WHY "returns with the vector registers' upper halves in use (no vzeroupper)"

#endif
