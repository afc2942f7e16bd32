/* Where statistics come from besides a text: the model's own text
 * (KV-cache decoding, sampling) and llama.cpp importance matrices. */
#include "tests/calib_testlib.h"
#include "tests/synth_model.h"
#include "quant/model/decode_internal.h"

#include <math.h>
#include <string.h>

/* Decoding one token at a time gives the logits of a prefill of the same
 * tokens: alone, and as sequence 1 of a batch of 3 (beside two others). */
static void expect_decoder_matches_prefill(const mvq_model *m, const int32_t *tokens, int64_t n)
{
    mvq_error err;
    const int64_t V = m->output.n_out;
    float *want = malloc((size_t)(n * V) * sizeof *want), *got = malloc((size_t)(3 * V) * sizeof *got);
    mvq_forward *f = mvq_forward_create(m, n, NULL, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(f, tokens, n, 0, want, &err), MVQ_OK, "%s", err.msg);
    mvq_decoder *d = mvq_decoder_create(m, n, 3, NULL, &err);
    cr_assert_not_null(d, "%s", err.msg);
    for (int nb = 1; nb <= 3; nb += 2) {
        const int mine = nb == 1 ? 0 : 1;
        for (int64_t t = 0; t < n; t++) {
            const int32_t feed[3] = {tokens[(t + 5) % n], tokens[t], tokens[n - 1 - t]};
            cr_assert_eq(mvq_decoder_step(d, nb == 1 ? feed + 1 : feed, nb, got, &err), MVQ_OK, "%s", err.msg);
            double worst = 0, scale = 0;
            for (int64_t v = 0; v < V; v++) {
                worst = fmax(worst, fabs(got[mine * V + v] - want[t * V + v]));
                scale = fmax(scale, fabs(want[t * V + v]));
            }
            cr_expect(worst <= 2e-4 * scale + 1e-5, "batch %d, position %lld: logits differ by %g (scale %g)", nb,
                      (long long)t, worst, scale);
        }
        cr_expect_neq(mvq_decoder_step(d, tokens, 1, got, &err), MVQ_OK, "past the cache");
        mvq_decoder_reset(d); /* starts over */
    }
    cr_expect_neq(mvq_decoder_step(d, tokens, 4, got, &err), MVQ_OK, "more sequences than the batch");
    mvq_decoder_free(d);
    mvq_forward_free(f);
    free(want);
    free(got);
}

Test(selfgen, decoder_matches_the_forward_pass_on_the_fixtures)
{
    const char *names[2] = {"stories260K", "tinyrope-3M"};
    for (int i = 0; i < 2; i++) {
        mvq_model *m = fixture_model(names[i]);
        int64_t n;
        int32_t *tokens = fixture_calib_tokens(m, 48, &n);
        expect_decoder_matches_prefill(m, tokens, n);
        free(tokens);
        mvq_model_free(m);
    }
}

Test(selfgen, decoder_matches_with_biases_neox_and_rope_factors)
{
    const synth_shape shape = {.dim = 64, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 16, .n_rot = 16,
                               .ff = 96, .vocab = 40, .arch = MVQ_ARCH_QWEN2, .biases = true, .tied = true,
                               .rope_freqs = true};
    synth_model sm;
    synth_build(&sm, &shape, 11);
    int32_t tokens[20];
    uint64_t rng = 3;
    for (int i = 0; i < 20; i++)
        tokens[i] = (int32_t)(synth_next(&rng) % 40);
    expect_decoder_matches_prefill(&sm.m, tokens, 20);
    synth_free(&sm);
}

Test(selfgen, deterministic_sequences_from_bos)
{
    mvq_model *m = fixture_model("stories260K");
    mvq_selfgen_params p;
    mvq_selfgen_default(&p);
    cr_expect_eq(p.temperature, 1.0);
    cr_expect_eq(p.top_p, 0.95);
    p.n_tokens = 300;
    p.seq_len = 128;
    int32_t *a, *b, *c;
    int64_t na, nb, nc;
    mvq_error err;
    cr_assert_eq(mvq_calib_self_tokens(m, &p, NULL, &a, &na, &err), MVQ_OK, "%s", err.msg);
    mvq_pool *pool = mvq_pool_create(2);
    cr_assert_eq(mvq_calib_self_tokens(m, &p, pool, &b, &nb, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(na, 300);
    cr_assert_eq(nb, 300);
    cr_expect_arr_eq(a, b, 300 * sizeof *a, "same seed, same tokens (threads or not)");
    for (int64_t i = 0; i < na; i++) {
        cr_expect(a[i] >= 0 && a[i] < m->hp.n_vocab);
        if (i % 128 == 0)
            cr_expect_eq(a[i], 1, "BOS opens each sequence");
    }
    int distinct = 0;
    for (int64_t i = 1; i < 128; i++)
        distinct += a[i] != a[i - 1];
    cr_expect_gt(distinct, 64, "text, not one token repeated");
    p.seed++;
    cr_assert_eq(mvq_calib_self_tokens(m, &p, pool, &c, &nc, &err), MVQ_OK, "%s", err.msg);
    cr_expect(memcmp(a, c, 300 * sizeof *a) != 0, "another seed, other text");
    /* it reads as the model's kind of text */
    mvq_tokenizer *tok = mvq_tokenizer_from_gguf(m->gguf, &err);
    cr_assert_not_null(tok, "%s", err.msg);
    char *text;
    size_t len;
    cr_assert_eq(mvq_detokenize(tok, a, 128, &text, &len, &err), MVQ_OK, "%s", err.msg);
    cr_log_info("self-generated: %.200s", text);
    cr_expect_gt(len, 200);
    free(text);
    mvq_tokenizer_free(tok);
    p.top_p = 0;
    cr_expect_neq(mvq_calib_self_tokens(m, &p, pool, &c, &nc, &err), MVQ_OK);
    free(a);
    free(b);
    free(c);
    mvq_pool_free(pool);
    mvq_model_free(m);
}

Test(selfgen, obtain_without_a_text_generates_and_caches)
{
    mvq_model *m = fixture_model("stories260K");
    char *dir = temp_dir("selfcache");
    mvq_calib_request r;
    mvq_calib_request_default(&r);
    r.n_tokens = 256;
    r.n_ctx = 128;
    r.cache_dir = dir;
    mvq_calib_info info;
    mvq_error err;
    mvq_calib *c = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_expect(info.self_generated);
    cr_expect_eq(info.origin, MVQ_CALIB_COMPUTED);
    cr_expect_eq(info.n_tokens, 256);
    cr_expect(mvq_calib_has_norms(c));
    mvq_calib *again = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(again, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_FROM_CACHE);
    cr_expect_eq(again->tokens_hash, c->tokens_hash);
    r.self.seed = 7;
    mvq_calib_free(again);
    again = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_expect_eq(info.origin, MVQ_CALIB_COMPUTED, "another seed is another key");
    cr_expect_neq(again->tokens_hash, c->tokens_hash);
    mvq_calib_free(again);
    mvq_calib_free(c);
    remove_tree(dir);
    mvq_model_free(m);
}

/* ---- llama.cpp importance matrices ---- */

static void write_f32_tensor(mvq_gguf_writer *w, const float *v, int64_t n)
{
    mvq_error err;
    cr_assert_eq(mvq_gguf_writer_write(w, v, (size_t)n * sizeof *v, &err), MVQ_OK, "%s", err.msg);
}

/* blk.1.attn_k (mean square j/8 per column), blk.2.ffn_down (j+1) and output (2), as llama-imatrix writes them. */
static void write_gguf_imatrix(const char *path, int64_t n_embd, int64_t n_ff, int64_t width_of_k)
{
    mvq_error err;
    mvq_gguf_writer *w = mvq_gguf_writer_open(path, NULL, &err);
    cr_assert_not_null(w, "%s", err.msg);
    cr_assert_eq(mvq_gguf_writer_add_str(w, "general.type", "imatrix", &err), MVQ_OK);
    cr_assert_eq(mvq_gguf_writer_add_u32(w, "imatrix.chunk_count", 3, &err), MVQ_OK);
    const struct {
        const char *name;
        int64_t n;
    } e[3] = {{"blk.1.attn_k.weight", width_of_k}, {"blk.2.ffn_down.weight", n_ff}, {"output.weight", n_embd}};
    char name[80];
    for (int i = 0; i < 3; i++) {
        const int64_t ne_sum[2] = {e[i].n, 1}, ne_count[2] = {1, 1};
        snprintf(name, sizeof name, "%s.in_sum2", e[i].name);
        cr_assert_eq(mvq_gguf_writer_add_tensor(w, name, 2, ne_sum, MVQ_TYPE_F32, (uint64_t)e[i].n * 4, &err),
                     MVQ_OK, "%s", err.msg);
        snprintf(name, sizeof name, "%s.counts", e[i].name);
        cr_assert_eq(mvq_gguf_writer_add_tensor(w, name, 2, ne_count, MVQ_TYPE_F32, 4, &err), MVQ_OK, "%s", err.msg);
    }
    const float count = 384.0f;
    float *v = malloc((size_t)(n_ff > n_embd ? n_ff : n_embd) * 4 + 4096);
    for (int i = 0; i < 3; i++) {
        for (int64_t j = 0; j < e[i].n; j++)
            v[j] = count * (i == 0 ? (float)j / 8 : i == 1 ? (float)(j + 1) : 2.0f);
        write_f32_tensor(w, v, e[i].n);
        write_f32_tensor(w, &count, 1);
    }
    free(v);
    cr_assert_eq(mvq_gguf_writer_finish(w, &err), MVQ_OK, "%s", err.msg);
}

static void put_i32(FILE *f, int32_t v)
{
    cr_assert_eq(fwrite(&v, 4, 1, f), 1);
}

/* The legacy format: values are mean squares times ncall. */
static void write_dat_imatrix(const char *path, const char *name, int64_t n, int32_t ncall, bool truncate)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    put_i32(f, 1);
    put_i32(f, (int32_t)strlen(name));
    cr_assert_eq(fwrite(name, strlen(name), 1, f), 1);
    put_i32(f, ncall);
    put_i32(f, (int32_t)n);
    for (int64_t j = 0; j < (truncate ? n / 2 : n); j++) {
        const float v = (float)(j % 7 + 1) * (float)ncall;
        cr_assert_eq(fwrite(&v, 4, 1, f), 1);
    }
    if (!truncate) {
        put_i32(f, 10); /* chunks */
        put_i32(f, 9);
        cr_assert_eq(fwrite("calib.txt", 9, 1, f), 1);
    }
    cr_assert_eq(fclose(f), 0);
}

Test(imatrix, gguf_format_gives_the_mean_squares)
{
    mvq_model *m = fixture_model("stories260K");
    char *dir = temp_dir("imatrix");
    char path[256];
    snprintf(path, sizeof path, "%s/imatrix.gguf", dir);
    write_gguf_imatrix(path, m->hp.n_embd, m->hp.n_ff, m->hp.n_embd);
    mvq_error err;
    mvq_calib *c = mvq_calib_import_imatrix(path, &m->hp, &err);
    cr_assert_not_null(c, "%s", err.msg);
    float imp[256];
    /* attn_q, attn_k and attn_v share their input: one entry serves the three */
    const char *qkv[3] = {"blk.1.attn_q.weight", "blk.1.attn_k.weight", "blk.1.attn_v.weight"};
    for (int i = 0; i < 3; i++) {
        cr_assert(mvq_calib_importance(c, qkv[i], imp, m->hp.n_embd), "%s", qkv[i]);
        for (int64_t j = 0; j < m->hp.n_embd; j++)
            cr_expect_float_eq(imp[j], (float)j / 8, 1e-6, "%s[%lld]", qkv[i], (long long)j);
    }
    cr_assert(mvq_calib_importance(c, "blk.2.ffn_down.weight", imp, m->hp.n_ff));
    for (int64_t j = 0; j < m->hp.n_ff; j++)
        cr_expect_float_eq(imp[j], (float)(j + 1), 1e-5);
    cr_assert(mvq_calib_importance(c, "output.weight", imp, m->hp.n_embd));
    cr_expect_float_eq(imp[5], 2.0f, 1e-6);
    cr_expect(!mvq_calib_has_norms(c), "an importance matrix has no Q/K norms");
    cr_expect_eq(c->n_tokens, 384);
    mvq_calib_free(c);

    /* through the obtaining function, as --imatrix */
    mvq_calib_request r;
    mvq_calib_request_default(&r);
    r.imatrix_path = path;
    mvq_calib_info info;
    c = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_FROM_IMATRIX);
    mvq_calib_free(c);

    /* made for another width: refused, naming the entry */
    write_gguf_imatrix(path, m->hp.n_embd, m->hp.n_ff, m->hp.n_embd + 32);
    cr_expect_null(mvq_calib_import_imatrix(path, &m->hp, &err));
    cr_expect(strstr(err.msg, "blk.1.attn_k.weight") != NULL, "%s", err.msg);
    remove_tree(dir);
    mvq_model_free(m);
}

Test(imatrix, legacy_dat_format)
{
    mvq_model *m = fixture_model("stories260K");
    char *dir = temp_dir("imatrix");
    char path[256];
    snprintf(path, sizeof path, "%s/imatrix.dat", dir);
    write_dat_imatrix(path, "blk.3.ffn_gate.weight", m->hp.n_embd, 10, false);
    mvq_error err;
    mvq_calib *c = mvq_calib_import_imatrix(path, &m->hp, &err);
    cr_assert_not_null(c, "%s", err.msg);
    float imp[64];
    cr_assert(mvq_calib_importance(c, "blk.3.ffn_up.weight", imp, m->hp.n_embd));
    for (int64_t j = 0; j < m->hp.n_embd; j++)
        cr_expect_float_eq(imp[j], (float)(j % 7 + 1), 1e-6, "[%lld]", (long long)j);
    cr_expect(!mvq_calib_importance(c, "blk.3.attn_q.weight", imp, m->hp.n_embd), "no entry, no importance");
    mvq_calib_free(c);

    write_dat_imatrix(path, "blk.3.ffn_gate.weight", m->hp.n_embd, 10, true);
    cr_expect_null(mvq_calib_import_imatrix(path, &m->hp, &err));
    cr_expect(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    write_dat_imatrix(path, "blk.9.ffn_gate.weight", m->hp.n_embd, 10, false);
    cr_expect_null(mvq_calib_import_imatrix(path, &m->hp, &err));
    cr_expect(strstr(err.msg, "blk.9.ffn_gate.weight") != NULL, "%s", err.msg);
    cr_expect_null(mvq_calib_import_imatrix("/nonexistent/imatrix.dat", &m->hp, &err));
    cr_expect_eq(err.status, MVQ_ERR_IO);
    remove_tree(dir);
    mvq_model_free(m);
}

/* FNV-1a over the token ids: pins the text without storing it. */
static uint64_t tokens_fnv(const int32_t *t, int64_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++)
            h = (h ^ (((uint32_t)t[i] >> (8 * b)) & 0xffu)) * 0x100000001b3ull;
    return h;
}

static uint64_t selfgen_hash(const mvq_model *m, int64_t n_tokens, int64_t seq_len)
{
    mvq_selfgen_params p;
    mvq_selfgen_default(&p);
    p.n_tokens = n_tokens;
    p.seq_len = seq_len;
    int32_t *t;
    int64_t n;
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(2);
    cr_assert_eq(mvq_calib_self_tokens(m, &p, pool, &t, &n, &err), MVQ_OK, "%s", err.msg);
    uint64_t h = tokens_fnv(t, n);
    free(t);
    mvq_pool_free(pool);
    return h;
}

/* The self-generated text (the default seed) is part of the output: a
 * change to the decoder's arithmetic would change every calibrated file.
 * Hashes recorded from main before the layer code was shared. */
Test(selfgen, default_text_is_pinned)
{
    const struct { const char *name; int64_t n, len; uint64_t want; } cases[] = {
        {"stories260K", 4096, 256, 0xa920d5735ce0fbfdull},
        {"tinyrope-3M", 512, 128, 0xb865ce74b32a6591ull},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mvq_model *m = fixture_model(cases[i].name);
        uint64_t h = selfgen_hash(m, cases[i].n, cases[i].len);
        cr_expect_eq(h, cases[i].want, "%s: self-generated tokens hash to 0x%016llx", cases[i].name,
                     (unsigned long long)h);
        mvq_model_free(m);
    }
    /* biases, NEOX RoPE, frequency factors, one sequence of three at a time */
    const synth_shape shape = {.dim = 64, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 16, .n_rot = 16,
                               .ff = 96, .vocab = 40, .arch = MVQ_ARCH_QWEN2, .biases = true, .tied = true,
                               .rope_freqs = true};
    synth_model sm;
    synth_build(&sm, &shape, 11);
    uint64_t h = selfgen_hash(&sm.m, 3 * 20 - 5, 20);
    cr_expect_eq(h, 0xe66dcb6cf61e2eb0ull, "synthetic qwen2: self-generated tokens hash to 0x%016llx", (unsigned long long)h);
    synth_free(&sm);
}

typedef struct attn_in_rows {
    float rows[20][64];
    int64_t seen;
    bool decoding, positions_ok;
} attn_in_rows;

static void keep_attn_in(void *user, const mvq_observation *o)
{
    attn_in_rows *r = user;
    if (o->layer != 0)
        return;
    for (int64_t t = 0; t < o->n_tokens; t++)
        memcpy(r->rows[o->decoding ? o->pos : o->pos + t], o->data + t * o->dim, (size_t)o->dim * sizeof(float));
    r->decoding = o->decoding;
    r->positions_ok &= o->decoding ? o->n_tokens == 1 && o->pos == r->seen : o->pos == 0;
    r->seen++;
}

/* The decoder runs the same layer code, taps included: its observations
 * are the forward pass's rows, one position at a time. */
Test(selfgen, decoder_taps_see_the_forward_rows)
{
    const synth_shape shape = {.dim = 64, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 16, .n_rot = 16,
                               .ff = 96, .vocab = 40, .arch = MVQ_ARCH_QWEN2, .biases = true};
    synth_model sm;
    synth_build(&sm, &shape, 12);
    int32_t tokens[20];
    uint64_t rng = 5;
    for (int i = 0; i < 20; i++)
        tokens[i] = (int32_t)(synth_next(&rng) % 40);
    mvq_error err;
    attn_in_rows *fw = calloc(1, sizeof *fw), *dec = calloc(1, sizeof *dec);
    fw->positions_ok = dec->positions_ok = true;
    mvq_forward *f = mvq_forward_create(&sm.m, 20, NULL, &err);
    const mvq_observer of = {.taps = MVQ_TAP_BIT(MVQ_TAP_ATTN_IN), .kind = MVQ_OBSERVER_READ, .fn = keep_attn_in, .user = fw};
    cr_assert_eq(mvq_forward_add_observer(f, &of, NULL, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(f, tokens, 20, 20, NULL, &err), MVQ_OK, "%s", err.msg);
    mvq_decoder *d = mvq_decoder_create(&sm.m, 20, 1, NULL, &err);
    const mvq_observer od = {.taps = MVQ_TAP_BIT(MVQ_TAP_ATTN_IN), .kind = MVQ_OBSERVER_READ, .fn = keep_attn_in, .user = dec};
    cr_assert_eq(mvq_decoder_add_observer(d, &od, NULL, &err), MVQ_OK, "%s", err.msg);
    for (int t = 0; t < 20; t++)
        cr_assert_eq(mvq_decoder_step(d, tokens + t, 1, NULL, &err), MVQ_OK, "%s", err.msg);
    cr_expect_eq(fw->seen, 1);
    cr_expect_eq(dec->seen, 20, "one observation per step");
    cr_expect(!fw->decoding && dec->decoding);
    cr_expect(fw->positions_ok && dec->positions_ok, "positions as documented");
    /* layer 0's input is the normed embedding: the same bits either way */
    cr_expect_eq(memcmp(fw->rows, dec->rows, sizeof fw->rows), 0);
    mvq_decoder_free(d);
    mvq_forward_free(f);
    free(fw);
    free(dec);
    synth_free(&sm);
}
