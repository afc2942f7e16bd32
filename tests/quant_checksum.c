/* Checksums of every from_float entry's output over a large deterministic
 * input set (plain TAP, so it also runs under qemu-aarch64).
 *
 * The scalar reference quantizers are the specification: speeding them up
 * must not change one output byte.  This test pins their output to recorded
 * XXH3 hashes, per type, with and without importance weights, over
 *   - random rows of several shapes (model-like, wide dynamic range, tiny
 *     values that need subnormal fp16 scales, huge values near the fp16
 *     limit, and blocks that are constant, zero, sparse or sit on ties),
 *   - the inputs of ggml's goldens (skipped when the fixtures are absent);
 * then checks that every other instruction set the CPU runs gives the same
 * bytes.  `quant_checksum --print [--rows N]` prints the hashes instead
 * (N rows of 512 per shape; the recorded ones are for the default): a
 * change meant to alter a quantizer's output regenerates the record with
 *   MVQ_FIXTURES=../shared/fixtures tests/quant_checksum --print \
 *       > ../tests/quant_checksum.inc
 * and says why in its commit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mvquant.h>
#include <xxhash.h>

#include "tests/golden.h"
#include "tests/rng.h"
#include "tests/tap.h"

#define ROW 512
#define DEFAULT_ROWS 24
#define SHAPES 6

/* ---- inputs ---- */


static float rnd_gauss(void) /* roughly normal: a sum of four uniforms */
{
    return (rnd_unit() + rnd_unit() + rnd_unit() + rnd_unit()) * 0.866f;
}

/* Blocks (of 32) that stress the searches' edge cases. */
static void special_block(float *x, int kind)
{
    const float a = rnd_unit();
    for (int j = 0; j < 32; j++) {
        switch (kind % 8) {
        case 0: x[j] = 0.0f; break;
        case 1: x[j] = a; break;                                    /* constant */
        case 2: x[j] = j == 7 ? a : 0.0f; break;                    /* one value */
        case 3: x[j] = -fabsf(rnd_gauss()); break;                  /* all negative */
        case 4: x[j] = 2.0f + fabsf(rnd_unit()); break;             /* all positive, offset */
        case 5: x[j] = (j % 2) ? a : -a * 0.5f; break;              /* two values */
        case 6: x[j] = (float)((int)(rnd() % 16) - 8) + 0.5f; break; /* ties */
        default: x[j] = rnd_gauss() * (j % 5 == 0 ? 1e3f : 1e-3f); break;
        }
    }
}

/* One row of shape s. */
static void make_row(float *x, int s)
{
    for (int i = 0; i < ROW; i++) {
        const int run = i / 32;
        switch (s) {
        case 0: /* model-like: normal with 1% outliers */
            x[i] = rnd_gauss() * 0.02f * (rnd() % 100 == 0 ? 20.0f : 1.0f);
            break;
        case 1: /* a scale per run over 30 octaves */
            x[i] = rnd_unit() * ldexpf(1.0f, (int)(rnd() % 31) - 20);
            break;
        case 2: /* tiny: fp16 scales go subnormal */
            x[i] = rnd_gauss() * ldexpf(1.0f, -(int)(18 + run % 8));
            break;
        case 3: /* huge: near the fp16 limit */
            x[i] = rnd_unit() * (run % 2 ? 6.0e5f : 3.0e4f);
            break;
        case 4: /* uniform */
            x[i] = rnd_unit();
            break;
        default:
            break;
        }
    }
    if (s == 5)
        for (int b = 0; b < ROW / 32; b++)
            special_block(x + 32 * b, (int)(rnd() % 8));
}

/* Importance weights: positive and skewed, with zero columns, a zero run of
 * 32 and (on some rows) a zero super-block. */
static void make_importance(float *w, int row)
{
    for (int i = 0; i < ROW; i++) {
        const float u = fabsf(rnd_unit());
        w[i] = u * u * u * u * 100.0f + (rnd() % 13 == 0 ? 0.0f : 1e-3f);
        if (rnd() % 29 == 0)
            w[i] = 0.0f;
    }
    memset(w + 64, 0, 32 * sizeof *w);
    if (row % 3 == 2)
        memset(w + 256, 0, 256 * sizeof *w);
}

/* ---- the input set: rows, each with its importance ---- */

typedef struct {
    int nrows;
    float *x, *w;
} input_set;

static void random_set(input_set *in, int rows_per_shape)
{
    in->nrows = rows_per_shape * SHAPES;
    in->x = malloc(sizeof(float) * ROW * (size_t)in->nrows);
    in->w = malloc(sizeof(float) * ROW * (size_t)in->nrows);
    rng_state = 0x243F6A8885A308D3ULL;
    for (int r = 0; r < in->nrows; r++) {
        make_row(in->x + (size_t)r * ROW, r % SHAPES);
        make_importance(in->w + (size_t)r * ROW, r);
    }
}

/* The goldens' inputs (16 rows of 512 each) with their importance, or
 * synthetic importance when the file has none.  0 rows when absent. */
static void golden_set(input_set *in)
{
    in->nrows = 0;
    in->x = in->w = NULL;
    rng_state = 0x13198A2E03707344ULL;
    for (int f = 0; mvq_golden_names[f]; f++) {
        char path[4096], err[256];
        mvq_golden g;
        if (!mvq_golden_path(mvq_golden_names[f], path, sizeof path) ||
            mvq_golden_load(path, &g, err, sizeof err) != 0)
            continue;
        if (g.n_per_row == ROW) {
            const size_t at = (size_t)in->nrows * ROW;
            in->nrows += (int)g.nrows;
            in->x = realloc(in->x, sizeof(float) * ROW * (size_t)in->nrows);
            in->w = realloc(in->w, sizeof(float) * ROW * (size_t)in->nrows);
            memcpy(in->x + at, g.input, sizeof(float) * ROW * g.nrows);
            for (uint32_t r = 0; r < g.nrows; r++)
                if (g.importance)
                    memcpy(in->w + at + r * ROW, g.importance, sizeof(float) * ROW);
                else
                    make_importance(in->w + at + r * ROW, (int)r);
        }
        mvq_golden_free(&g);
    }
}

/* ---- hashing ---- */

static uint64_t hash_type(const mvq_kernel_table *t, mvq_type type, const input_set *in,
                          int with_importance, uint8_t *buf)
{
    const size_t row_bytes = mvq_row_size(type, ROW);
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    for (int r = 0; r < in->nrows; r++) {
        const size_t at = (size_t)r * ROW;
        t->from_float[type](in->x + at, buf, ROW, with_importance ? in->w + at : NULL);
        XXH3_64bits_update(st, buf, row_bytes);
    }
    const uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

/* Types whose from_float takes rows of ROW values. */
static int quantizable(const mvq_kernel_table *t, int type)
{
    const mvq_type_traits *tr = mvq_type_traits_get((mvq_type)type);
    return t->from_float[type] && tr && ROW % tr->block_size == 0;
}

/* The recorded hashes of the scalar reference: random set without and with
 * importance, goldens without and with. */
typedef struct {
    const char *type;
    uint64_t h[4];
} recorded;

static const recorded expected[] = {
#include "tests/quant_checksum.inc"
    { NULL, { 0 } },
};

static const recorded *expected_of(const char *name)
{
    for (const recorded *e = expected; e->type; e++)
        if (strcmp(e->type, name) == 0)
            return e;
    return NULL;
}

static void print_hashes(const mvq_kernel_table *ref, input_set sets[2], uint8_t *buf)
{
    for (int type = 0; type < MVQ_TYPE_COUNT; type++) {
        if (!quantizable(ref, type))
            continue;
        printf("    { \"%s\", {", mvq_type_name((mvq_type)type));
        for (int k = 0; k < 4; k++)
            printf(" 0x%016llxULL%s", (unsigned long long)hash_type(ref, (mvq_type)type, &sets[k / 2], k % 2, buf),
                   k < 3 ? "," : "");
        printf(" } },\n");
    }
}

static void check_reference(const mvq_kernel_table *ref, input_set sets[2], uint8_t *buf)
{
    static const char *const what[4] = { "random rows", "random rows with importance", "goldens' inputs",
                                         "goldens' inputs with importance" };
    for (int type = 0; type < MVQ_TYPE_COUNT; type++) {
        if (!quantizable(ref, type))
            continue;
        const char *name = mvq_type_name((mvq_type)type);
        const recorded *e = expected_of(name);
        for (int k = 0; k < 4; k++) {
            if (sets[k / 2].nrows == 0) {
                tap_skip("scalar %s on %s: golden fixtures absent", name, what[k]);
                continue;
            }
            const uint64_t h = hash_type(ref, (mvq_type)type, &sets[k / 2], k % 2, buf);
            tap_ok(e && e->h[k] == h, "scalar %s on %s: hash %016llx as recorded", name, what[k],
                   (unsigned long long)h);
        }
    }
}

/* Table t (named name) gives the reference's bytes for every type it
 * overrides. */
static void check_table(const char *name, const mvq_kernel_table *t, const mvq_kernel_table *ref,
                        input_set sets[2], uint8_t *buf)
{
    for (int type = 0; type < MVQ_TYPE_COUNT; type++) {
        if (!quantizable(ref, type) || t->from_float[type] == ref->from_float[type])
            continue;
        int same = 1;
        for (int k = 0; k < 4; k++)
            same &= hash_type(t, (mvq_type)type, &sets[k / 2], k % 2, buf) ==
                    hash_type(ref, (mvq_type)type, &sets[k / 2], k % 2, buf);
        tap_ok(same, "%s %s from_float gives the reference's bytes on all inputs", name,
               mvq_type_name((mvq_type)type));
    }
}

#ifdef MVQ_TEST_SIMDE
#include "kernels/x86/x86_impl.h"
/* The AVX-512 sources built over SIMDe: their logic checked on any CPU. */
static void check_emulated(const mvq_kernel_table *ref, input_set sets[2], uint8_t *buf)
{
    static mvq_kernel_table emulated;
    emulated = *ref;
    mvq_kernels_init_avx512_simde(&emulated);
    check_table("avx512 (SIMDe emulation)", &emulated, ref, sets, buf);
}
#else
static void check_emulated(const mvq_kernel_table *ref, input_set sets[2], uint8_t *buf)
{
    (void)ref, (void)sets, (void)buf;
}
#endif

/* Every other table the CPU runs (and the emulated one, when built). */
static void check_other_isas(const mvq_kernel_table *ref, input_set sets[2], uint8_t *buf)
{
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        if (isa == MVQ_ISA_SCALAR || !mvq_isa_compiled((mvq_isa)isa))
            continue;
        if (!mvq_isa_supported((mvq_isa)isa)) {
            tap_skip("%s: this CPU cannot run it", mvq_isa_name((mvq_isa)isa));
            continue;
        }
        check_table(mvq_isa_name((mvq_isa)isa), mvq_kernels_for_isa((mvq_isa)isa), ref, sets, buf);
    }
    check_emulated(ref, sets, buf);
}

int main(int argc, char **argv)
{
    int print = 0, rows = DEFAULT_ROWS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--print") == 0)
            print = 1;
        else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            rows = atoi(argv[++i]);
    }
    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    input_set sets[2];
    random_set(&sets[0], rows > 0 ? rows : DEFAULT_ROWS);
    golden_set(&sets[1]);
    uint8_t *buf = malloc(mvq_row_size(MVQ_TYPE_F32, ROW));
    if (print) {
        print_hashes(ref, sets, buf);
    } else {
        check_reference(ref, sets, buf);
        check_other_isas(ref, sets, buf);
    }
    free(buf);
    for (int s = 0; s < 2; s++)
        free(sets[s].x), free(sets[s].w);
    return print ? 0 : tap_done();
}
