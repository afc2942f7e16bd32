/* Builds one kernel table per supported instruction set and picks the one
 * in use: the fastest the CPU runs, or the one forced by MVQ_ISA or
 * mvq_isa_force().  Tables are built once and never change afterwards;
 * the only mutable global is the pointer to the table in use. */
#include "config.h"
#include "kernels/cpu.h"
#include "kernels/kernel_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *const isa_names[MVQ_ISA_COUNT] = { "scalar", "avx2", "avx512", "neon" };

/* fastest first */
static const mvq_isa preference[] = { MVQ_ISA_AVX512, MVQ_ISA_AVX2, MVQ_ISA_NEON, MVQ_ISA_SCALAR };

static mvq_kernel_table tables[MVQ_ISA_COUNT];
static bool table_ready[MVQ_ISA_COUNT];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static _Atomic(const mvq_kernel_table *) selected;
static pthread_mutex_t select_lock = PTHREAD_MUTEX_INITIALIZER;

const char *mvq_isa_name(mvq_isa isa)
{
    return (unsigned)isa < MVQ_ISA_COUNT ? isa_names[isa] : "?";
}

int mvq_isa_from_name(const char *name)
{
    for (int i = 0; i < MVQ_ISA_COUNT; i++)
        if (strcasecmp(name, isa_names[i]) == 0)
            return i;
    return -1;
}

bool mvq_isa_compiled(mvq_isa isa)
{
    switch (isa) {
    case MVQ_ISA_SCALAR: return true;
#ifdef MVQ_HAVE_AVX2
    case MVQ_ISA_AVX2: return true;
#endif
#ifdef MVQ_HAVE_AVX512
    case MVQ_ISA_AVX512: return true;
#endif
#ifdef MVQ_HAVE_NEON
    case MVQ_ISA_NEON: return true;
#endif
    default: return false;
    }
}

static bool cpu_runs(mvq_isa isa)
{
    const mvq_cpu_features *f = mvq_cpu();
    switch (isa) {
    case MVQ_ISA_SCALAR: return true;
    case MVQ_ISA_AVX2: return f->avx2 && f->fma && f->f16c;
    case MVQ_ISA_AVX512:
        return cpu_runs(MVQ_ISA_AVX2) && f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni;
    case MVQ_ISA_NEON: return f->neon && f->neon_dotprod; /* built with +dotprod */
    default: return false;
    }
}

bool mvq_isa_supported(mvq_isa isa)
{
    return mvq_isa_compiled(isa) && cpu_runs(isa);
}

/* A GEMM inherited from the base table reproduces the base's vec_dot: once
 * a set overrides that vec_dot, the product must fall back to it per pair. */
static void drop_stale_gemms(const mvq_kernel_table *base, mvq_kernel_table *t)
{
    for (int i = 0; i < MVQ_TYPE_COUNT; i++)
        if (t->vec_dot[i] != base->vec_dot[i] && t->gemm_q[i] == base->gemm_q[i])
            t->gemm_q[i] = NULL;
}

/* Each set starts from the scalar table (and AVX-512 from AVX2's) and
 * overrides what it implements. */
static void build_tables(void)
{
    mvq_kernels_init_scalar(&tables[MVQ_ISA_SCALAR]);
    tables[MVQ_ISA_SCALAR].isa = isa_names[MVQ_ISA_SCALAR];
    table_ready[MVQ_ISA_SCALAR] = true;
#ifdef MVQ_HAVE_AVX2
    if (mvq_isa_supported(MVQ_ISA_AVX2)) {
        tables[MVQ_ISA_AVX2] = tables[MVQ_ISA_SCALAR];
        mvq_kernels_init_avx2(&tables[MVQ_ISA_AVX2]);
        drop_stale_gemms(&tables[MVQ_ISA_SCALAR], &tables[MVQ_ISA_AVX2]);
        tables[MVQ_ISA_AVX2].isa = isa_names[MVQ_ISA_AVX2];
        table_ready[MVQ_ISA_AVX2] = true;
    }
#endif
#ifdef MVQ_HAVE_AVX512
    if (mvq_isa_supported(MVQ_ISA_AVX512)) {
        tables[MVQ_ISA_AVX512] = tables[MVQ_ISA_AVX2];
        mvq_kernels_init_avx512(&tables[MVQ_ISA_AVX512]);
        drop_stale_gemms(&tables[MVQ_ISA_AVX2], &tables[MVQ_ISA_AVX512]);
        tables[MVQ_ISA_AVX512].isa = isa_names[MVQ_ISA_AVX512];
        table_ready[MVQ_ISA_AVX512] = true;
    }
#endif
#ifdef MVQ_HAVE_NEON
    if (mvq_isa_supported(MVQ_ISA_NEON)) {
        tables[MVQ_ISA_NEON] = tables[MVQ_ISA_SCALAR];
        mvq_kernels_init_neon(&tables[MVQ_ISA_NEON]);
        drop_stale_gemms(&tables[MVQ_ISA_SCALAR], &tables[MVQ_ISA_NEON]);
        tables[MVQ_ISA_NEON].isa = isa_names[MVQ_ISA_NEON];
        table_ready[MVQ_ISA_NEON] = true;
    }
#endif
}

const mvq_kernel_table *mvq_kernels_for_isa(mvq_isa isa)
{
    pthread_once(&tables_once, build_tables);
    return (unsigned)isa < MVQ_ISA_COUNT && table_ready[isa] ? &tables[isa] : NULL;
}

static mvq_status choose(mvq_isa isa, mvq_error *err)
{
    if ((unsigned)isa >= MVQ_ISA_COUNT)
        return mvq_error_set(err, MVQ_ERR_ARG, "unknown instruction set %d", (int)isa);
    if (!mvq_isa_compiled(isa))
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED,
                             "instruction set %s is not compiled into this build of mvquant",
                             isa_names[isa]);
    if (!cpu_runs(isa))
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "this CPU does not support instruction set %s",
                             isa_names[isa]);
    atomic_store(&selected, mvq_kernels_for_isa(isa));
    return MVQ_OK;
}

mvq_status mvq_isa_force(mvq_isa isa, mvq_error *err)
{
    pthread_mutex_lock(&select_lock);
    mvq_status st = choose(isa, err);
    pthread_mutex_unlock(&select_lock);
    return st;
}

mvq_status mvq_isa_init(mvq_error *err)
{
    mvq_status st = MVQ_OK;
    pthread_mutex_lock(&select_lock);
    if (!atomic_load(&selected)) {
        const char *env = getenv("MVQ_ISA");
        if (env && *env) {
            int isa = mvq_isa_from_name(env);
            st = isa < 0 ? mvq_error_set(err, MVQ_ERR_ARG,
                                         "MVQ_ISA=%s: unknown instruction set (scalar, avx2, avx512, neon)", env)
                         : choose((mvq_isa)isa, err);
            if (st == MVQ_OK)
                goto done;
            if (err) /* say where the request came from */
                mvq_error_set(err, st, "MVQ_ISA=%s: %.400s", env, err->msg);
        }
        for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++)
            if (mvq_kernels_for_isa(preference[i])) {
                atomic_store(&selected, mvq_kernels_for_isa(preference[i]));
                break;
            }
    }
done:
    pthread_mutex_unlock(&select_lock);
    return st;
}

const mvq_kernel_table *mvq_kernels(void)
{
    const mvq_kernel_table *t = atomic_load_explicit(&selected, memory_order_acquire);
    if (!t) {
        mvq_isa_init(NULL);
        t = atomic_load(&selected);
    }
    return t;
}

mvq_isa mvq_isa_selected(void)
{
    const mvq_kernel_table *t = mvq_kernels();
    return (mvq_isa)(t - tables);
}

/* Conveniences.  A missing entry is a caller's contract violation (the type
 * has no such kernel): say which and stop, rather than corrupt memory. */
static void missing(const char *what, mvq_type t)
{
    fprintf(stderr, "mvquant: no %s kernel for type %s\n", what, mvq_type_name(t));
    abort();
}

void mvq_dequantize_row(mvq_type t, const void *x, float *y, int64_t n)
{
    mvq_to_float_fn fn = (unsigned)t < MVQ_TYPE_COUNT ? mvq_kernels()->to_float[t] : NULL;
    if (!fn)
        missing("dequantize", t);
    fn(x, y, n);
}

void mvq_quantize_row(mvq_type t, const float *x, void *y, int64_t n, const float *imatrix)
{
    mvq_from_float_fn fn = (unsigned)t < MVQ_TYPE_COUNT ? mvq_kernels()->from_float[t] : NULL;
    if (!fn)
        missing("quantize", t);
    fn(x, y, n, imatrix);
}

void mvq_vec_dot(mvq_type t, int64_t n, float *s, const void *x, const void *y)
{
    mvq_vec_dot_fn fn = (unsigned)t < MVQ_TYPE_COUNT ? mvq_kernels()->vec_dot[t] : NULL;
    if (!fn)
        missing("vec_dot", t);
    fn(n, s, x, y);
}

size_t mvq_quantize_rows(mvq_type t, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                         const float *imatrix)
{
    size_t row = mvq_row_size(t, n_per_row);
    mvq_from_float_fn fn = (unsigned)t < MVQ_TYPE_COUNT ? mvq_kernels()->from_float[t] : NULL;
    if (!row || !fn || nrows < 0)
        return 0;
    for (int64_t r = 0; r < nrows; r++)
        fn(src + r * n_per_row, (char *)dst + (size_t)r * row, n_per_row, imatrix);
    return (size_t)nrows * row;
}
