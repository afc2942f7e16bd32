/* Forward-pass throughput: tokens/s of one causal prefill of n_ctx tokens
 * (next-token logits for every token, as perplexity and KLD need them), on
 * 1..--threads threads, for the two fixture models (F32 and llama.cpp's
 * Q4_K_M files) and a synthetic model of dim 2048, 4 layers, in F32, F16,
 * BF16, Q8_0 and Q4_K; every figure against the F32 file of the same model,
 * thread count and run.  The synthetic files are written to a temporary
 * folder before any timing and deleted afterwards. */
#include "config.h"
#include "bench/bench.h"

#include <mvquant/model.h>
#include <mvquant/quantize.h>
#include <mvquant/synth.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_VARIANTS 5

/* The synthetic model: TinyLlama's layer shapes (32 heads of 64, 4 KV
 * heads, FFN 5632 = 22 x 256, so every row fits the K-quants) and its
 * vocabulary size, with 4 layers. */
#define SYNTH_DIM 2048
#define SYNTH_LAYERS 4
#define SYNTH_HEADS 32
#define SYNTH_KV_HEADS 4
#define SYNTH_FF 5632
#define SYNTH_VOCAB 32000
#define SYNTH_CTX 512
/* --quick: one layer and a shorter prefill */
#define SYNTH_LAYERS_QUICK 1
#define SYNTH_CTX_QUICK 128

typedef struct fwd_variant {
    const char *name; /* "f32", "q4_k_m", ... */
    char path[PATH_MAX];
} fwd_variant;

/* One model in several files, F32 first (the reference). */
typedef struct fwd_set {
    char name[64]; /* the case, e.g. "tinyrope-3M ctx512" */
    int64_t n_ctx;
    int n_variants;
    fwd_variant v[MAX_VARIANTS];
} fwd_set;

typedef struct fwd_case {
    mvq_forward *f;
    const int32_t *tokens;
    int64_t n_tokens;
    float *logits;
} fwd_case;

static void run_forward(void *p)
{
    fwd_case *c = p;
    mvq_error err;
    if (mvq_forward_run(c->f, c->tokens, c->n_tokens, 0, c->logits, &err) != MVQ_OK) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        exit(2);
    }
}

static bool set_wanted(bench_ctx *ctx, const fwd_set *s)
{
    for (int i = 0; i < s->n_variants; i++)
        if (bench_wants(ctx, "forward", s->name, s->v[i].name))
            return true;
    return false;
}

/* BOS, then a fixed pseudo-random sequence of the model's tokens. */
static int32_t *make_tokens(int64_t n, int64_t n_vocab)
{
    int32_t *t = bench_alloc(sizeof *t * (size_t)n);
    uint64_t s = 0x2545f4914f6cdd1dull;
    t[0] = 1;
    for (int64_t i = 1; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t[i] = (int32_t)(3 + (s >> 33) % (uint64_t)(n_vocab - 3));
    }
    return t;
}

/* Tokens/s of one prefill of s->n_ctx tokens with model m on pool. */
static double tokens_per_s(bench_ctx *ctx, const mvq_model *m, const fwd_set *s, mvq_pool *pool,
                           double *ms_per_pass)
{
    mvq_error err;
    mvq_forward *f = mvq_forward_create(m, s->n_ctx, pool, &err);
    if (!f) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        exit(2);
    }
    fwd_case c = { .f = f, .tokens = make_tokens(s->n_ctx, m->hp.n_vocab), .n_tokens = s->n_ctx,
                   .logits = bench_alloc(sizeof(float) * (size_t)(s->n_ctx * m->hp.n_vocab)) };
    bench_timing t = mvq_pool_size(pool) == 1 ? bench_time_cpu(ctx, run_forward, &c)
                                              : bench_time(ctx, run_forward, &c);
    mvq_forward_free(f);
    free((void *)c.tokens);
    free(c.logits);
    *ms_per_pass = t.seconds * 1e3;
    return (double)s->n_ctx / t.seconds;
}

/* Every variant of the set on 1..max threads; F32 is always measured (the
 * reference), reported only when the filter wants it. */
static bool bench_set(bench_ctx *ctx, const fwd_set *s)
{
    if (!set_wanted(ctx, s))
        return false;
    mvq_model *models[MAX_VARIANTS] = { 0 };
    for (int i = 0; i < s->n_variants; i++) {
        mvq_error err;
        if (!(models[i] = mvq_model_open(s->v[i].path, &err))) {
            bench_note(ctx, "forward %s/%s skipped: %s", s->name, s->v[i].name, err.msg);
            if (i == 0)
                return false;
        }
    }
    for (int n = 1; n <= bench_max_threads(ctx); n++) {
        mvq_pool *pool = mvq_pool_create(n);
        double ref = 0;
        for (int i = 0; i < s->n_variants; i++) {
            if (!models[i] || (i > 0 && !bench_wants(ctx, "forward", s->name, s->v[i].name)))
                continue;
            double ms;
            double v = tokens_per_s(ctx, models[i], s, pool, &ms);
            if (i == 0)
                ref = v;
            if (bench_wants(ctx, "forward", s->name, s->v[i].name))
                bench_report(ctx, &(bench_row){ .group = "forward", .name = s->name,
                                                .variant = s->v[i].name, .threads = n, .value = v,
                                                .unit = "tok/s", .ref = ref, .ref_name = "f32",
                                                .extra = ms, .extra_unit = "ms/pass" });
        }
        mvq_pool_free(pool);
    }
    for (int i = 0; i < s->n_variants; i++)
        mvq_model_free(models[i]);
    return true;
}

/* ---- the fixtures ---- */

static bool bench_fixtures(bench_ctx *ctx)
{
    bool ran = false;
    static const char *const models[] = { "stories260K", "tinyrope-3M" };
    static const int64_t ctxs[] = { 256, 512 };
    const char *dir = getenv("MVQ_FIXTURES");
    if (!dir || !*dir)
        dir = "../shared/fixtures";
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        for (int c = 0; c < (bench_quick(ctx) ? 1 : 2); c++) {
            fwd_set s = { .n_ctx = ctxs[c], .n_variants = 2 };
            snprintf(s.name, sizeof s.name, "%s ctx%lld", models[m], (long long)ctxs[c]);
            s.v[0].name = "f32";
            s.v[1].name = "q4_k_m";
            snprintf(s.v[0].path, sizeof s.v[0].path, "%s/models/%s.gguf", dir, models[m]);
            snprintf(s.v[1].path, sizeof s.v[1].path, "%s/models/%s-Q4_K_M.gguf", dir, models[m]);
            if (!set_wanted(ctx, &s))
                continue;
            if (access(s.v[0].path, R_OK) != 0) {
                bench_note(ctx, "forward %s skipped: %s absent (set MVQ_FIXTURES or ./configure "
                           "--with-fixtures)", s.name, s.v[0].path);
                continue;
            }
            ran |= bench_set(ctx, &s);
        }
    }
    return ran;
}

/* ---- the synthetic model ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool quantize_plain(const char *in_path, const char *out_path, mvq_type type, mvq_pool *pool,
                           mvq_error *err)
{
    mvq_gguf *in = mvq_gguf_open(in_path, err);
    if (!in)
        return false;
    mvq_quantize_opts o = { .plan = { .ftype = MVQ_FTYPE_GUESSED, .base = type, .output_type = -1,
                                      .token_embd_type = -1 },
                            .pool = pool };
    mvq_quantize_report rep = { 0 };
    mvq_status st = mvq_quantize_file(in, out_path, &o, &rep, err);
    mvq_quantize_report_free(&rep);
    mvq_gguf_close(in);
    return st == MVQ_OK;
}

/* Writes the five files of s (F32, F16 and BF16 written, Q8_0 and Q4_K
 * quantized from the F32 one). */
static bool write_synth(const fwd_set *s, int64_t n_layers, mvq_pool *pool, mvq_error *err)
{
    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = SYNTH_DIM;
    p.n_layers = n_layers;
    p.n_heads = SYNTH_HEADS;
    p.n_kv_heads = SYNTH_KV_HEADS;
    p.ff = SYNTH_FF;
    p.vocab = SYNTH_VOCAB;
    p.ctx = SYNTH_CTX;
    if (mvq_synth_write(s->v[0].path, &p, err) != MVQ_OK)
        return false;
    p.type = MVQ_TYPE_F16;
    if (mvq_synth_write(s->v[1].path, &p, err) != MVQ_OK)
        return false;
    p.type = MVQ_TYPE_BF16;
    return mvq_synth_write(s->v[2].path, &p, err) == MVQ_OK &&
           quantize_plain(s->v[0].path, s->v[3].path, MVQ_TYPE_Q8_0, pool, err) &&
           quantize_plain(s->v[0].path, s->v[4].path, MVQ_TYPE_Q4_K, pool, err);
}

static bool bench_synth(bench_ctx *ctx)
{
    static const char *const variants[] = { "f32", "f16", "bf16", "q8_0", "q4_K" };
    enum { N_SYNTH = sizeof variants / sizeof variants[0] };
    bool quick = bench_quick(ctx);
    int64_t n_layers = quick ? SYNTH_LAYERS_QUICK : SYNTH_LAYERS;
    fwd_set s = { .n_ctx = quick ? SYNTH_CTX_QUICK : SYNTH_CTX, .n_variants = N_SYNTH };
    snprintf(s.name, sizeof s.name, "synth-%dx%lld ctx%lld", SYNTH_DIM, (long long)n_layers,
             (long long)s.n_ctx);
    for (int i = 0; i < N_SYNTH; i++)
        s.v[i].name = variants[i];
    if (!set_wanted(ctx, &s))
        return false;

    const char *tmp = getenv("TMPDIR");
    char dir[1024]; /* short enough for the file names below */
    snprintf(dir, sizeof dir, "%s/mvq_bench_forward.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        bench_note(ctx, "forward %s skipped: cannot create a folder %s", s.name, dir);
        return false;
    }
    for (int i = 0; i < N_SYNTH; i++)
        snprintf(s.v[i].path, sizeof s.v[i].path, "%s/%s.gguf", dir, variants[i]);

    mvq_error err;
    mvq_pool *pool = mvq_pool_create(bench_max_threads(ctx));
    double t0 = now_s();
    bool ok = write_synth(&s, n_layers, pool, &err);
    double gen_s = now_s() - t0;
    mvq_pool_free(pool);
    bool ran = false;
    if (ok) {
        bench_note(ctx, "forward %s: synthetic llama, %d heads (%d KV) of %d, FFN %d, vocabulary "
                   "%d; written and quantized (plain RTN, every matrix) in %.1f s, untimed",
                   s.name, SYNTH_HEADS, SYNTH_KV_HEADS, SYNTH_DIM / SYNTH_HEADS, SYNTH_FF,
                   SYNTH_VOCAB, gen_s);
        ran = bench_set(ctx, &s);
    } else {
        bench_note(ctx, "forward %s skipped: %s", s.name, err.msg);
    }
    for (int i = 0; i < N_SYNTH; i++)
        unlink(s.v[i].path);
    rmdir(dir);
    return ran;
}

void bench_forward(bench_ctx *ctx)
{
    bool fixtures = bench_fixtures(ctx);
    bool synth = bench_synth(ctx);
    if (fixtures || synth)
        bench_note(ctx, "forward: one causal prefill of ctxN tokens (BOS + fixed pseudo-random "
                   "tokens), logits for every token; default numerics (activations quantized to "
                   "the weight type's dot type, as llama.cpp); vs ref: against the F32 file of the "
                   "same model and thread count");
}
