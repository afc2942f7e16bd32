/* CPU feature detection: CPUID + XGETBV on x86 (the OS must save the wide
 * registers, not only the CPU support them), getauxval(AT_HWCAP) on aarch64. */
#include "config.h"
#include "kernels/cpu.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static void detect(mvq_cpu_features *f)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    bool osxsave = c & (1u << 27), avx = c & (1u << 28);
    f->fma = c & (1u << 12);
    f->f16c = c & (1u << 29);
    if (!osxsave || !avx)
        return;
    unsigned long long xcr0 = read_xcr0();
    bool os_ymm = (xcr0 & 0x6) == 0x6;     /* XMM and YMM state */
    bool os_zmm = (xcr0 & 0xe6) == 0xe6;   /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (!os_ymm || !__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return;
    f->avx2 = b & (1u << 5);
    if (!os_zmm)
        return;
    f->avx512f = b & (1u << 16);
    f->avx512bw = b & (1u << 30);
    f->avx512vl = b & (1u << 31);
    f->avx512vnni = c & (1u << 11);
    if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) /* a: the highest subleaf */
        f->avx512bf16 = a & (1u << 5);
}
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

static void detect(mvq_cpu_features *f)
{
    unsigned long hw = getauxval(AT_HWCAP);
    f->neon = hw & HWCAP_ASIMD;
    f->neon_dotprod = hw & HWCAP_ASIMDDP;
}
#else
static void detect(mvq_cpu_features *f)
{
    (void)f;
}
#endif

static mvq_cpu_features features;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect_once(void)
{
    detect(&features);
}

const mvq_cpu_features *mvq_cpu(void)
{
    pthread_once(&once, detect_once);
    return &features;
}
