/* Synthetic models: shapes, metadata, planted massive values, tokenizer,
 * determinism (Criterion). */
#include <criterion/criterion.h>
#include <math.h>
#include <mvquant/gguf.h>
#include <mvquant/synth.h>
#include <mvquant/tokenizer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static char dir[] = "/tmp/mvq-synth-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(synth, .init = make_dir, .fini = remove_dir);

static mvq_synth_params small_params(void)
{
    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = 64;
    p.n_heads = 4; /* head size 16: 8 pairs, 4 low-frequency ones */
    p.n_kv_heads = 2;
    p.ff = 96;
    p.n_layers = 2;
    p.vocab = 400;
    p.ctx = 128;
    return p;
}

static const char *write_model(const char *name, const mvq_synth_params *p)
{
    static char path[4][128];
    static int k;
    char *out = path[k++ % 4];
    snprintf(out, sizeof path[0], "%s/%s", dir, name);
    mvq_error e;
    cr_assert_eq(mvq_synth_write(out, p, &e), MVQ_OK, "%s", e.msg);
    return out;
}

static mvq_gguf *open_model(const char *name, const mvq_synth_params *p)
{
    mvq_error e;
    mvq_gguf *g = mvq_gguf_open(write_model(name, p), &e);
    cr_assert_not_null(g, "%s", e.msg);
    return g;
}

static uint64_t u64_of(const mvq_gguf *g, const char *key)
{
    uint64_t v = 0;
    cr_assert(mvq_gguf_get_u64(g, key, &v), "%s missing", key);
    return v;
}

static void assert_tensor(const mvq_gguf *g, const char *name, int64_t ne0, int64_t ne1, mvq_type type)
{
    const mvq_gguf_tensor *t = mvq_gguf_find_tensor(g, name);
    cr_assert_not_null(t, "%s missing", name);
    cr_assert_eq(t->ne[0], ne0, "%s ne0", name);
    cr_assert_eq(t->ne[1], ne1, "%s ne1", name);
    cr_assert_eq(t->n_dims, ne1 == 1 ? 1u : 2u, "%s dims", name);
    cr_assert_eq(t->type, (uint32_t)type, "%s type", name);
}

static const int32_t *int32_array(const mvq_gguf *g, const char *key, uint64_t *n)
{
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
    cr_assert_not_null(kv, "%s missing", key);
    cr_assert_eq(kv->type, MVQ_GGUF_ARRAY);
    cr_assert_eq(kv->arr_type, MVQ_GGUF_INT32);
    *n = kv->arr_n;
    return kv->v.arr;
}

Test(synth, reads_back_with_llama_shapes_and_metadata)
{
    mvq_synth_params p = small_params();
    mvq_error e;
    mvq_gguf *g = open_model("m.gguf", &p);
    cr_assert_eq(mvq_gguf_check_loader_rules(g, &e), MVQ_OK, "%s", e.msg);
    const char *arch;
    cr_assert(mvq_gguf_get_str(g, "general.architecture", &arch));
    cr_assert_str_eq(arch, "llama");
    cr_assert_eq(u64_of(g, "llama.embedding_length"), 64);
    cr_assert_eq(u64_of(g, "llama.block_count"), 2);
    cr_assert_eq(u64_of(g, "llama.attention.head_count"), 4);
    cr_assert_eq(u64_of(g, "llama.attention.head_count_kv"), 2);
    cr_assert_eq(u64_of(g, "llama.feed_forward_length"), 96);
    cr_assert_eq(u64_of(g, "llama.context_length"), 128);
    cr_assert_eq(u64_of(g, "llama.rope.dimension_count"), 16);
    cr_assert_eq(u64_of(g, "llama.vocab_size"), 400);
    double v;
    cr_assert(mvq_gguf_get_f64(g, "llama.rope.freq_base", &v) && v == 10000.0);
    cr_assert(mvq_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &v) && fabs(v - 1e-5) < 1e-9);

    cr_assert_eq(mvq_gguf_n_tensors(g), 1 + 9 * 2 + 2);
    static const struct { const char *name; int64_t ne0, ne1; } want[] = {
        {"token_embd.weight", 64, 400},
        {"blk.1.attn_norm.weight", 64, 1},
        {"blk.1.attn_q.weight", 64, 64},
        {"blk.1.attn_k.weight", 64, 32},
        {"blk.1.attn_v.weight", 64, 32},
        {"blk.1.attn_output.weight", 64, 64},
        {"blk.1.ffn_norm.weight", 64, 1},
        {"blk.1.ffn_gate.weight", 64, 96},
        {"blk.1.ffn_up.weight", 64, 96},
        {"blk.1.ffn_down.weight", 96, 64},
        {"output_norm.weight", 64, 1},
        {"output.weight", 64, 400},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_tensor(g, want[i].name, want[i].ne0, want[i].ne1, MVQ_TYPE_F32);
    mvq_gguf_close(g);
}

Test(synth, massive_dims_are_stored_and_planted)
{
    mvq_synth_params p = small_params();
    mvq_gguf *g = open_model("m.gguf", &p);
    uint64_t nd, nc;
    const int32_t *dims = int32_array(g, "mvquant.synth.massive_dims", &nd);
    const int32_t *channels = int32_array(g, "mvquant.synth.massive_channels", &nc);
    cr_assert_eq(nd, 4);
    cr_assert_eq(nc, 2);
    int32_t want_dims[4], want_channels[2];
    mvq_synth_massive(&p, want_dims, want_channels);
    cr_assert(memcmp(dims, want_dims, sizeof want_dims) == 0);
    cr_assert(memcmp(channels, want_channels, sizeof want_channels) == 0);
    for (int i = 0; i < 4; i += 2) {
        cr_assert_eq(dims[i] % 2, 0);
        cr_assert_eq(dims[i + 1], dims[i] + 1, "a RoPE pair is two adjacent dims");
        cr_assert(dims[i] >= 8 && dims[i] < 16, "pair %d is not low-frequency", dims[i] / 2);
    }
    bool massive[16] = {false};
    for (int i = 0; i < 4; i++)
        massive[dims[i]] = true;
    /* every row of attn_q/attn_k: RMS ~ sqrt(1/64) * gain exactly where planted */
    const char *names[] = {"blk.0.attn_q.weight", "blk.1.attn_k.weight"};
    for (int n = 0; n < 2; n++) {
        const mvq_gguf_tensor *t = mvq_gguf_find_tensor(g, names[n]);
        const float *w = t->data;
        for (int64_t r = 0; r < t->ne[1]; r++) {
            double ss = 0;
            for (int64_t c = 0; c < 64; c++)
                ss += (double)w[r * 64 + c] * w[r * 64 + c];
            double rms = sqrt(ss / 64) * 8.0; /* in units of the base RMS, 1/8 */
            if (massive[r % 16])
                cr_assert(rms > 7.5 && rms < 12.5, "%s row %lld: %g", names[n], (long long)r, rms);
            else
                cr_assert(rms > 0.6 && rms < 1.4, "%s row %lld: %g", names[n], (long long)r, rms);
        }
    }
    /* the massive channels of the embedding */
    const float *embd = mvq_gguf_find_tensor(g, "token_embd.weight")->data;
    for (int64_t c = 0; c < 64; c++) {
        double ss = 0;
        for (int64_t r = 0; r < 400; r++)
            ss += (double)embd[r * 64 + c] * embd[r * 64 + c];
        double rms = sqrt(ss / 400);
        bool planted = c == channels[0] || c == channels[1];
        cr_assert(planted ? rms > 15 : rms < 1.5, "channel %lld: %g", (long long)c, rms);
    }
    mvq_gguf_close(g);
}

/* Layer 0 on every token of the vocabulary: per output row of W (one dim of
 * Q or K), the L2 norm over tokens of W . (RMSNorm(embedding) * attn_norm). */
static void layer0_norms(const mvq_gguf *g, const char *weight, int64_t dim, int64_t vocab, double *norm)
{
    const float *embd = mvq_gguf_find_tensor(g, "token_embd.weight")->data;
    const float *gamma = mvq_gguf_find_tensor(g, "blk.0.attn_norm.weight")->data;
    const mvq_gguf_tensor *w = mvq_gguf_find_tensor(g, weight);
    const float *wd = w->data;
    double *x = malloc((size_t)dim * sizeof *x);
    for (int64_t r = 0; r < w->ne[1]; r++)
        norm[r] = 0;
    for (int64_t tok = 0; tok < vocab; tok++) {
        double ss = 0;
        for (int64_t i = 0; i < dim; i++)
            ss += (double)embd[tok * dim + i] * embd[tok * dim + i];
        double inv = 1.0 / sqrt(ss / (double)dim + 1e-5);
        for (int64_t i = 0; i < dim; i++)
            x[i] = embd[tok * dim + i] * inv * gamma[i];
        for (int64_t r = 0; r < w->ne[1]; r++) {
            double y = 0;
            for (int64_t i = 0; i < dim; i++)
                y += wd[r * dim + i] * x[i];
            norm[r] += y * y;
        }
    }
    for (int64_t r = 0; r < w->ne[1]; r++)
        norm[r] = sqrt(norm[r]);
    free(x);
}

Test(synth, planted_qk_dims_stand_out_and_no_others)
{
    mvq_synth_params p;
    mvq_synth_default(&p); /* dim 256, head size 64, 2 massive pairs at gain 10 */
    p.n_layers = 1;
    mvq_gguf *g = open_model("d.gguf", &p);
    int32_t dims[4], channels[2];
    mvq_synth_massive(&p, dims, channels);
    bool massive[64] = {false};
    for (int i = 0; i < 4; i++)
        massive[dims[i]] = true;
    const char *names[] = {"blk.0.attn_q.weight", "blk.0.attn_k.weight"};
    double norm[256], lowest_planted = 1e30, highest_other = 0;
    for (int n = 0; n < 2; n++) {
        int64_t heads = n == 0 ? 4 : 2;
        layer0_norms(g, names[n], 256, 512, norm);
        for (int64_t h = 0; h < heads; h++) {
            double mean = 0;
            for (int d = 0; d < 64; d++)
                mean += norm[h * 64 + d] / 64;
            for (int d = 0; d < 64; d++) {
                double ratio = norm[h * 64 + d] / mean;
                if (massive[d])
                    lowest_planted = fmin(lowest_planted, ratio);
                else
                    highest_other = fmax(highest_other, ratio);
            }
        }
    }
    cr_log_info("layer 0 Q/K: planted dims >= %.2f x head mean, others <= %.2f x", lowest_planted, highest_other);
    cr_assert_gt(lowest_planted, 5.0, "a planted dim reaches only %.2f x its head's mean", lowest_planted);
    cr_assert_lt(highest_other, 2.0, "an unplanted dim reaches %.2f x its head's mean", highest_other);
    mvq_gguf_close(g);
}

Test(synth, vocabulary_tokenizes_and_round_trips)
{
    mvq_synth_params p = small_params();
    mvq_error e;
    mvq_gguf *g = open_model("m.gguf", &p);
    mvq_tokenizer *t = mvq_tokenizer_from_gguf(g, &e);
    cr_assert_not_null(t, "%s", e.msg);
    cr_assert_eq(mvq_tokenizer_n_vocab(t), 400);
    cr_assert_str_eq(mvq_token_text(t, 0), "<unk>");
    cr_assert_str_eq(mvq_token_text(t, 1), "<s>");
    cr_assert_str_eq(mvq_token_text(t, 2), "</s>");
    cr_assert_str_eq(mvq_token_text(t, 3), "<0x00>");
    cr_assert_str_eq(mvq_token_text(t, 258), "<0xFF>");
    cr_assert_eq(mvq_token_get_type(t, 100), MVQ_TOKEN_BYTE);
    cr_assert_str_eq(mvq_token_text(t, 259), "\xe2\x96\x81");
    const char *s = "the tea ate a hat. Tokens: caf\xc3\xa9!";
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(t, s, strlen(s), true, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(ids[0], 1);
    cr_assert_lt(n, (int64_t)strlen(s), "merges should shorten %s to fewer than its bytes", s);
    char *back;
    size_t len;
    cr_assert_eq(mvq_detokenize(t, ids, n, &back, &len, &e), MVQ_OK, "%s", e.msg);
    cr_assert_str_eq(back, s);
    free(back);
    free(ids);
    mvq_tokenizer_free(t);
    mvq_gguf_close(g);
}

static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        XXH3_64bits_update(st, buf, n);
    fclose(f);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

Test(synth, same_seed_same_bytes)
{
    mvq_synth_params p = small_params();
    uint64_t a = file_hash(write_model("a.gguf", &p));
    uint64_t b = file_hash(write_model("b.gguf", &p));
    cr_assert_eq(a, b);
    p.seed = 43;
    uint64_t c = file_hash(write_model("c.gguf", &p));
    cr_assert_neq(a, c);
}

/* a 16-bit value of type t rounded from x, back in f32 */
static float rounded(mvq_type t, float x)
{
    return t == MVQ_TYPE_F16 ? mvq_fp16_to_fp32(mvq_fp32_to_fp16(x)) : mvq_bf16_to_fp32(mvq_fp32_to_bf16(x));
}

static float stored(mvq_type t, const void *data, int64_t k)
{
    if (t == MVQ_TYPE_F32)
        return ((const float *)data)[k];
    uint16_t v = ((const uint16_t *)data)[k];
    return t == MVQ_TYPE_F16 ? mvq_fp16_to_fp32(v) : mvq_bf16_to_fp32(v);
}

/* the 16-bit file of type t holds the f32 file's weights, rounded; file_type is llama.cpp's */
static void half_holds_the_rounded_f32_weights(mvq_type t, const char *name, uint64_t file_type)
{
    mvq_synth_params p = small_params();
    const char *p32 = write_model("f32.gguf", &p);
    p.type = t;
    const char *p16 = write_model(name, &p);
    mvq_error e;
    mvq_gguf *a = mvq_gguf_open(p32, &e), *b = mvq_gguf_open(p16, &e);
    cr_assert(a && b, "%s", e.msg);
    cr_assert_eq(mvq_gguf_n_tensors(a), mvq_gguf_n_tensors(b));
    assert_tensor(b, "blk.0.attn_q.weight", 64, 64, t);
    assert_tensor(b, "blk.0.attn_norm.weight", 64, 1, MVQ_TYPE_F32);
    uint64_t ft;
    cr_assert(mvq_gguf_get_u64(b, "general.file_type", &ft) && ft == file_type);
    for (int64_t i = 0; i < mvq_gguf_n_tensors(a); i++) {
        const mvq_gguf_tensor *ta = mvq_gguf_tensor_at(a, i), *tb = mvq_gguf_tensor_at(b, i);
        cr_assert_str_eq(ta->name.data, tb->name.data);
        int64_t n = ta->ne[0] * ta->ne[1];
        const float *x = ta->data;
        for (int64_t k = 0; k < n; k++) {
            float want = tb->type == MVQ_TYPE_F32 ? x[k] : rounded(t, x[k]);
            cr_assert_eq(stored((mvq_type)tb->type, tb->data, k), want, "%s[%lld]", ta->name.data, (long long)k);
        }
    }
    mvq_gguf_close(a);
    mvq_gguf_close(b);
}

Test(synth, f16_holds_the_rounded_f32_weights) { half_holds_the_rounded_f32_weights(MVQ_TYPE_F16, "f16.gguf", 1); }
Test(synth, bf16_holds_the_rounded_f32_weights) { half_holds_the_rounded_f32_weights(MVQ_TYPE_BF16, "bf16.gguf", 32); }

Test(synth, rejects_bad_shapes)
{
    mvq_error e;
    mvq_synth_params p = small_params();
    p.n_heads = 5;
    cr_assert_eq(mvq_synth_check(&p, &e), MVQ_ERR_ARG);
    p = small_params();
    p.n_kv_heads = 3;
    cr_assert_eq(mvq_synth_check(&p, &e), MVQ_ERR_ARG);
    p = small_params();
    p.vocab = 258;
    cr_assert_eq(mvq_synth_check(&p, &e), MVQ_ERR_ARG);
    p = small_params();
    p.n_massive_pairs = 5; /* head size 16 has 4 low-frequency pairs */
    cr_assert_eq(mvq_synth_check(&p, &e), MVQ_ERR_ARG);
    p = small_params();
    p.type = MVQ_TYPE_Q8_0;
    cr_assert_eq(mvq_synth_check(&p, &e), MVQ_ERR_ARG);
    char path[128];
    snprintf(path, sizeof path, "%s/bad.gguf", dir);
    cr_assert_eq(mvq_synth_write(path, &p, &e), MVQ_ERR_ARG);
    cr_assert_eq(access(path, F_OK), -1, "nothing written for bad parameters");
}
