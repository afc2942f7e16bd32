/* Every instruction set's kernel table against the scalar reference (plain
 * TAP, so it also runs under qemu-aarch64).  Table-driven: every table that
 * mvq_kernels_for_isa() gives (plus the SIMDe-emulated AVX-512 table when
 * built) is compared entry by entry, for every entry it overrides, over
 * random inputs and block counts that cover every tail.  Adding an
 * instruction set adds nothing here.
 *
 * What must hold:
 *   from_float  bit-exact (the activation quantizers, with and without
 *               importance weights: the reference's rounding is the format)
 *   to_float    bit-exact (the same float operations per value)
 *   vec_dot     |s - s_ref| <= 1e-5 * sum |x_i * y_i| (only the order of the
 *               float accumulation may differ; integer sums are exact)
 *   every entry returns with the vector registers' upper halves clean
 *               (tests/upper_state.h), where the CPU can tell
 * A table the CPU cannot run is reported as skipped, never as passed. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mvquant.h>

#include "tests/rng.h"
#include "tests/tap.h"
#include "tests/upper_state.h"

#define DOT_REL_BOUND 1e-5

/* ---- inputs ---- */


/* Activations and weights as a model has them: a scale per run of 32 that
 * varies over orders of magnitude, a few outliers, some all-zero runs, and
 * one run whose values sit exactly on rounding ties of the Q8 quantizers
 * (amax 127 gives d = 1: values k + 0.5; Q8_K: max -127 gives scale 1). */
static void random_floats(float *x, int64_t n, int variant)
{
    for (int64_t i = 0; i < n; i++) {
        const int64_t run = i / 32;
        const float scale = ldexpf(1.0f, (int)((run * 7 + variant * 3) % 17) - 8);
        x[i] = rnd_unit() * scale;
        if (rnd() % 97 == 0)
            x[i] *= 30.0f;
    }
    if (n >= 64 && variant % 2 == 0)
        memset(x + 32, 0, 32 * sizeof *x);
    if (n >= 256 && variant % 3 == 1) {
        for (int j = 0; j < 256; j++)
            x[j] = (float)((int)(rnd() % 252) - 126) + 0.5f;
        for (int r = 0; r < 8; r++) /* every run of 32 reaches 127; Q8_K's first max is -127 */
            x[32 * r + (5 * r + 5) % 32] = r % 2 ? 127.0f : -127.0f;
    }
}

/* Where the fp16 (or f32) scale fields of each block are: random bytes there
 * are replaced by finite values of a plausible size. */
typedef struct {
    mvq_type type;
    size_t half_at[2];
    int n_half;
} scale_fields;

static const scale_fields scales_of[] = {
    { MVQ_TYPE_Q4_0, { offsetof(mvq_block_q4_0, d) }, 1 },
    { MVQ_TYPE_Q4_1, { offsetof(mvq_block_q4_1, d), offsetof(mvq_block_q4_1, m) }, 2 },
    { MVQ_TYPE_Q5_0, { offsetof(mvq_block_q5_0, d) }, 1 },
    { MVQ_TYPE_Q5_1, { offsetof(mvq_block_q5_1, d), offsetof(mvq_block_q5_1, m) }, 2 },
    { MVQ_TYPE_Q8_0, { offsetof(mvq_block_q8_0, d) }, 1 },
    { MVQ_TYPE_Q8_1, { offsetof(mvq_block_q8_1, d), offsetof(mvq_block_q8_1, s) }, 2 },
    { MVQ_TYPE_IQ4_NL, { offsetof(mvq_block_iq4_nl, d) }, 1 },
    { MVQ_TYPE_Q2_K, { offsetof(mvq_block_q2_K, d), offsetof(mvq_block_q2_K, dmin) }, 2 },
    { MVQ_TYPE_Q3_K, { offsetof(mvq_block_q3_K, d) }, 1 },
    { MVQ_TYPE_Q4_K, { offsetof(mvq_block_q4_K, d), offsetof(mvq_block_q4_K, dmin) }, 2 },
    { MVQ_TYPE_Q5_K, { offsetof(mvq_block_q5_K, d), offsetof(mvq_block_q5_K, dmin) }, 2 },
    { MVQ_TYPE_Q6_K, { offsetof(mvq_block_q6_K, d) }, 1 },
    { MVQ_TYPE_IQ4_XS, { offsetof(mvq_block_iq4_xs, d) }, 1 },
    { MVQ_TYPE_TQ2_0, { offsetof(mvq_block_tq2_0, d) }, 1 },
};

/* n values of type t, in buf: for weights random bits with sane scales (any
 * level, Q8_0's -128 included), for activations and the float types what
 * the reference quantizer makes of random floats (Q8 levels within +-127). */
static void random_row(const mvq_kernel_table *ref, mvq_type t, int64_t n, void *buf, float *tmp,
                       int variant, int activation)
{
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    const int64_t nb = n / tr->block_size;
    if (activation || !tr->is_quantized) {
        random_floats(tmp, n, variant);
        ref->from_float[t](tmp, buf, n, NULL);
        return;
    }
    uint8_t *b = buf;
    for (size_t i = 0; i < (size_t)nb * tr->type_size; i++)
        b[i] = (uint8_t)rnd();
    for (size_t k = 0; k < sizeof scales_of / sizeof scales_of[0]; k++) {
        if (scales_of[k].type != t)
            continue;
        for (int64_t i = 0; i < nb; i++)
            for (int h = 0; h < scales_of[k].n_half; h++) {
                const mvq_half v = mvq_fp32_to_fp16(rnd_unit() * ldexpf(1.0f, (int)(rnd() % 12) - 10));
                memcpy(b + i * tr->type_size + scales_of[k].half_at[h], &v, sizeof v);
            }
    }
}

/* ---- the tables under test ---- */

typedef struct {
    char name[48];
    const mvq_kernel_table *t;
    char skip[96]; /* why it cannot run here; empty when it runs */
} table_case;

static table_case cases[16];
static int n_cases;

static void add_case(const char *name, const mvq_kernel_table *t, const char *skip)
{
    table_case *c = &cases[n_cases++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->t = t;
    snprintf(c->skip, sizeof c->skip, "%s", skip ? skip : "");
}

#ifdef MVQ_TEST_SIMDE
#include "kernels/x86/x86_impl.h"
/* The AVX-512 sources built over SIMDe: their logic checked on any CPU. */
static void add_emulated_cases(const mvq_kernel_table *ref)
{
    static mvq_kernel_table emulated;
    emulated = *ref;
    mvq_kernels_init_avx512_simde(&emulated);
    add_case("avx512 (SIMDe emulation)", &emulated, NULL);
}
#else
static void add_emulated_cases(const mvq_kernel_table *ref)
{
    (void)ref;
}
#endif

static void collect_cases(const mvq_kernel_table *ref)
{
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        if (isa == MVQ_ISA_SCALAR || !mvq_isa_compiled((mvq_isa)isa))
            continue;
        char why[96];
        snprintf(why, sizeof why, "this CPU cannot run %s", mvq_isa_name((mvq_isa)isa));
        add_case(mvq_isa_name((mvq_isa)isa), mvq_kernels_for_isa((mvq_isa)isa),
                 mvq_isa_supported((mvq_isa)isa) ? NULL : why);
    }
    add_emulated_cases(ref);
}

/* ---- the checks ---- */

static const int block_counts[] = { 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33 };
static const int64_t plain_lengths[] = { 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 257, 1000 };
enum { VARIANTS = 3 };

/* lengths (in values) to try for type t: block counts, or any n for plain types */
static int lengths_of(mvq_type t, int64_t *out)
{
    const int64_t bs = mvq_type_traits_get(t)->block_size;
    int k = 0;
    if (bs == 1)
        for (size_t i = 0; i < sizeof plain_lengths / sizeof *plain_lengths; i++)
            out[k++] = plain_lengths[i];
    else
        for (size_t i = 0; i < sizeof block_counts / sizeof *block_counts; i++)
            if (bs == 32 || block_counts[i] <= 9) /* super-blocks: up to 9 */
                out[k++] = block_counts[i] * bs;
    return k;
}

typedef struct {
    float *xf, *yf, *tmp, *out_ref, *out;
    void *xq, *yq, *q_ref, *q;
} buffers;

static int check_from_float(const table_case *c, const mvq_kernel_table *ref, mvq_type t, buffers *b,
                            char *why, size_t wn)
{
    int64_t lens[32];
    const int nl = lengths_of(t, lens);
    for (int li = 0; li < nl; li++)
        for (int v = 0; v < VARIANTS; v++) {
            const int64_t n = lens[li];
            const size_t bytes = mvq_row_size(t, n);
            random_floats(b->xf, n, v);
            for (int64_t i = 0; i < n; i++)
                b->yf[i] = 0.01f + fabsf(rnd_unit()); /* importance weights */
            for (int with_imatrix = 0; with_imatrix < 2; with_imatrix++) {
                const float *imatrix = with_imatrix ? b->yf : NULL;
                ref->from_float[t](b->xf, b->q_ref, n, imatrix);
                c->t->from_float[t](b->xf, b->q, n, imatrix);
                if (upper_state_dirty() == 1) {
                    snprintf(why, wn, "n=%lld variant %d%s: %s", (long long)n, v,
                             imatrix ? " with importance" : "", UPPER_STATE_WHY);
                    return 0;
                }
                if (memcmp(b->q_ref, b->q, bytes) != 0) {
                    size_t at = 0;
                    while (((uint8_t *)b->q_ref)[at] == ((uint8_t *)b->q)[at])
                        at++;
                    snprintf(why, wn, "n=%lld variant %d%s: first differing byte %zu", (long long)n, v,
                             imatrix ? " with importance" : "", at);
                    return 0;
                }
            }
        }
    return 1;
}

static int check_to_float(const table_case *c, const mvq_kernel_table *ref, mvq_type t, buffers *b,
                          char *why, size_t wn)
{
    int64_t lens[32];
    const int nl = lengths_of(t, lens);
    for (int li = 0; li < nl; li++)
        for (int v = 0; v < VARIANTS; v++) {
            const int64_t n = lens[li];
            random_row(ref, t, n, b->xq, b->tmp, v, 0);
            ref->to_float[t](b->xq, b->out_ref, n);
            c->t->to_float[t](b->xq, b->out, n);
            if (upper_state_dirty() == 1) {
                snprintf(why, wn, "n=%lld variant %d: %s", (long long)n, v, UPPER_STATE_WHY);
                return 0;
            }
            for (int64_t i = 0; i < n; i++)
                if (memcmp(&b->out_ref[i], &b->out[i], sizeof(float)) != 0) {
                    snprintf(why, wn, "n=%lld variant %d: value %lld is %.9g, reference %.9g", (long long)n,
                             v, (long long)i, b->out[i], b->out_ref[i]);
                    return 0;
                }
        }
    return 1;
}

/* sum |x_i y_i| from both rows dequantized (by the reference where it can) */
static double abs_terms(const table_case *c, const mvq_kernel_table *ref, mvq_type tx, mvq_type ty,
                        int64_t n, buffers *b)
{
    mvq_to_float_fn fx = ref->to_float[tx] ? ref->to_float[tx] : c->t->to_float[tx];
    mvq_to_float_fn fy = ref->to_float[ty] ? ref->to_float[ty] : c->t->to_float[ty];
    if (!fx || !fy)
        return NAN;
    fx(b->xq, b->out_ref, n);
    fy(b->yq, b->out, n);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)b->out_ref[i] * (double)b->out[i]);
    return s;
}

static int check_vec_dot(const table_case *c, const mvq_kernel_table *ref, mvq_type t, buffers *b,
                         char *why, size_t wn)
{
    const mvq_type ty = mvq_type_traits_get(t)->vec_dot_type;
    int64_t lens[32];
    const int nl = lengths_of(t, lens);
    for (int li = 0; li < nl; li++)
        for (int v = 0; v < VARIANTS; v++) {
            const int64_t n = lens[li];
            random_row(ref, t, n, b->xq, b->tmp, v, 0);
            random_row(ref, ty, n, b->yq, b->tmp, v + 1, 1);
            float s_ref = 0.0f, s = 0.0f;
            ref->vec_dot[t](n, &s_ref, b->xq, b->yq);
            c->t->vec_dot[t](n, &s, b->xq, b->yq);
            if (upper_state_dirty() == 1) {
                snprintf(why, wn, "n=%lld variant %d: %s", (long long)n, v, UPPER_STATE_WHY);
                return 0;
            }
            const double terms = abs_terms(c, ref, t, ty, n, b);
            const double bound = DOT_REL_BOUND * (isnan(terms) ? fabs((double)s_ref) : terms) + 1e-30;
            if (!(fabs((double)s - (double)s_ref) <= bound)) {
                snprintf(why, wn, "n=%lld variant %d: %.9g, reference %.9g (bound %.3g)", (long long)n, v,
                         s, s_ref, bound);
                return 0;
            }
        }
    return 1;
}

/* The W8A8 dot: every length to 300 (each tail of 32-, 64- and 128-wide
 * loops) and a few long ones, random bytes and the extremes (-128, 127),
 * integers equal to the reference's. */
static int check_i8_dot(const table_case *c, const mvq_kernel_table *ref, char *why, size_t wn)
{
    enum { MAX = 4200 };
    static int8_t x[MAX], w[MAX];
    static const int64_t longs[] = { 511, 512, 513, 1000, 1024, 4095, 4096, 4100 };
    for (int v = 0; v < 3; v++) {
        for (int64_t i = 0; i < MAX; i++) {
            const uint32_t r = rnd();
            x[i] = v == 1 ? (int8_t)-128 : (int8_t)(r & 0xff);
            w[i] = v == 1 ? (int8_t)(i % 2 ? 127 : -128) : (int8_t)(r >> 8);
        }
        for (int64_t k = 0; k < 300 + (int64_t)(sizeof longs / sizeof *longs); k++) {
            const int64_t n = k < 300 ? k : longs[k - 300];
            int32_t sum = 0;
            for (int64_t i = 0; i < n; i++)
                sum += w[i];
            const int32_t want = ref->i8_dot(n, x, w, sum), got = c->t->i8_dot(n, x, w, sum);
            if (upper_state_dirty() == 1) {
                snprintf(why, wn, "n=%lld variant %d: %s", (long long)n, v, UPPER_STATE_WHY);
                return 0;
            }
            if (want != got) {
                snprintf(why, wn, "n=%lld variant %d: %d, reference %d", (long long)n, v, got, want);
                return 0;
            }
        }
    }
    return 1;
}

typedef void (*any_fn)(void);

/* entry kind (0 from_float, 1 to_float, 2 vec_dot) of type t */
static any_fn entry(const mvq_kernel_table *tab, int kind, int t)
{
    switch (kind) {
    case 0: return (any_fn)tab->from_float[t];
    case 1: return (any_fn)tab->to_float[t];
    default: return (any_fn)tab->vec_dot[t];
    }
}

typedef int (*check_fn)(const table_case *, const mvq_kernel_table *, mvq_type, buffers *, char *, size_t);

static void check_table(const table_case *c, const mvq_kernel_table *ref, buffers *b)
{
    static const struct {
        const char *what;
        check_fn check;
    } kinds[] = { { "from_float", check_from_float }, { "to_float", check_to_float }, { "vec_dot", check_vec_dot } };
    int overridden = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int t = 0; t < MVQ_TYPE_COUNT; t++) {
            const any_fn mine = entry(c->t, (int)k, t), theirs = entry(ref, (int)k, t);
            if (!mine || mine == theirs)
                continue; /* not overridden: it is the reference itself */
            overridden++;
            const char *tn = mvq_type_name((mvq_type)t);
            if (!theirs || (kinds[k].check == check_vec_dot &&
                               !ref->from_float[mvq_type_traits_get((mvq_type)t)->vec_dot_type])) {
                tap_skip("%s %s %s: the scalar reference has no such kernel to compare with", c->name,
                         kinds[k].what, tn);
                continue;
            }
            char why[200] = "";
            const int ok = kinds[k].check(c, ref, (mvq_type)t, b, why, sizeof why);
            tap_ok(ok, "%s %s %s matches the reference%s%s", c->name, kinds[k].what, tn, ok ? "" : ": ",
                   why);
        }
    if (c->t->i8_dot && c->t->i8_dot != ref->i8_dot) {
        overridden++;
        char why[200] = "";
        const int ok = check_i8_dot(c, ref, why, sizeof why);
        tap_ok(ok, "%s i8_dot matches the reference%s%s", c->name, ok ? "" : ": ", why);
    }
    tap_ok(overridden > 0, "%s overrides %d reference entries", c->name, overridden);
}

int main(void)
{
    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    enum { MAX_N = 33 * 256 };
    buffers b = {
        .xf = malloc(MAX_N * sizeof(float)),
        .yf = malloc(MAX_N * sizeof(float)),
        .tmp = malloc(MAX_N * sizeof(float)),
        .out_ref = malloc(MAX_N * sizeof(float)),
        .out = malloc(MAX_N * sizeof(float)),
        .xq = malloc(MAX_N * sizeof(float)),
        .yq = malloc(MAX_N * sizeof(float)),
        .q_ref = malloc(MAX_N * sizeof(float)),
        .q = malloc(MAX_N * sizeof(float)),
    };
    collect_cases(ref);
    if (n_cases == 0)
        tap_skip("no instruction set besides the scalar reference is built for this machine");
    for (int i = 0; i < n_cases; i++) {
        if (cases[i].skip[0]) {
            tap_skip("%s: %s", cases[i].name, cases[i].skip);
            continue;
        }
        check_table(&cases[i], ref, &b);
    }
    free(b.xf), free(b.yf), free(b.tmp), free(b.out_ref), free(b.out);
    free(b.xq), free(b.yq), free(b.q_ref), free(b.q);
    return tap_done();
}
