/* Internal to kernels/: what the CPU (and the OS) can run. */
#ifndef MVQ_CPU_H
#define MVQ_CPU_H

#include <stdbool.h>

typedef struct mvq_cpu_features {
    bool avx2, fma, f16c;                            /* x86, OS saves YMM */
    bool avx512f, avx512bw, avx512vl, avx512vnni;    /* x86, OS saves ZMM */
    bool avx512bf16;                                 /* vdpbf16ps, vcvtne2ps2bf16 */
    bool neon, neon_dotprod;                         /* aarch64 */
} mvq_cpu_features;

/* Detected once; never NULL. */
const mvq_cpu_features *mvq_cpu(void);

#endif
