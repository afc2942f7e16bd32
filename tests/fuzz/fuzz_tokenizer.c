/* Fuzzing the tokenizer's input: arbitrary bytes through mvq_tokenize and
 * back through mvq_detokenize, on two fixed tokenizers built once: the
 * fixture model's (stories260K) or, without fixtures, a synthetic model's;
 * and the same vocabulary with a few tokens made USER_DEFINED and no space
 * prefix.  Ids must be in range, and the text must come back byte for
 * byte whenever the tokenizer promises it (valid UTF-8 without U+2581, no
 * BOS, every token one that detokenizes to its text). */
#include "config.h"
#include "tests/fixtures.h"
#include "tests/fuzz/fuzz.h"

#include <mvquant/synth.h>
#include <mvquant/tokenizer.h>
#include <string.h>
#include <unistd.h>

static mvq_tokenizer *tokenizers[2];

static void die(const char *what, const mvq_error *err)
{
    fprintf(stderr, "fuzz_tokenizer: %s: %s\n", what, err->msg);
    abort();
}

/* Writes a small synthetic model (its vocabulary is what matters). */
static void write_synth(const char *path)
{
    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = 16;
    p.n_heads = 2;
    p.n_kv_heads = 1;
    p.ff = 32;
    p.n_layers = 1;
    p.vocab = 600;
    mvq_error err;
    if (mvq_synth_write(path, &p, &err) != MVQ_OK)
        die("synthetic model", &err);
}

/* g's metadata with every 40th token from id 300 on USER_DEFINED (those
 * without U+2581: user-defined texts are matched in the raw text and come
 * back as written) and no space prefix, written to path (no tensors). */
static void write_user_defined(const mvq_gguf *g, const char *path)
{
    static const char *const skip[] = {"tokenizer.ggml.token_type", "tokenizer.ggml.add_space_prefix", NULL};
    const mvq_gguf_kv *tokens = mvq_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const mvq_gguf_kv *types = mvq_gguf_find_kv(g, "tokenizer.ggml.token_type");
    int64_t n = (int64_t)tokens->arr_n;
    int32_t *ty = malloc((size_t)n * sizeof *ty);
    for (int64_t i = 0; i < n; i++) {
        if (types && types->arr_type == MVQ_GGUF_INT32)
            memcpy(&ty[i], (const uint8_t *)types->v.arr + 4 * i, 4);
        else
            ty[i] = MVQ_TOKEN_NORMAL;
        const mvq_gguf_str *text = &tokens->v.strs[i];
        if (i >= 300 && i % 40 == 0 && !memmem(text->data, text->len, "\xe2\x96\x81", 3))
            ty[i] = MVQ_TOKEN_USER_DEFINED;
    }
    mvq_error err;
    mvq_gguf_writer *w = mvq_gguf_writer_open(path, NULL, &err);
    if (!w || mvq_gguf_writer_add_kvs_from(w, g, skip, &err) != MVQ_OK ||
        mvq_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", MVQ_GGUF_INT32, ty, (uint64_t)n, &err) != MVQ_OK ||
        mvq_gguf_writer_add_kv(w, &(mvq_gguf_kv){.key = {31, "tokenizer.ggml.add_space_prefix"},
                                                   .type = MVQ_GGUF_BOOL, .v.u64 = 0}, &err) != MVQ_OK ||
        mvq_gguf_writer_finish(w, &err) != MVQ_OK)
        die("user-defined variant", &err);
    free(ty);
}

static mvq_tokenizer *load(const char *path, mvq_gguf **keep)
{
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open(path, &err);
    mvq_tokenizer *t = g ? mvq_tokenizer_from_gguf(g, &err) : NULL;
    if (!t)
        die(path, &err);
    *keep = g;
    return t;
}

static void init(void)
{
    char fixture[4096], tmp[64], variant[64];
    const char *base = mvq_fixture("models/stories260K.gguf", fixture, sizeof fixture);
    snprintf(tmp, sizeof tmp, "/tmp/mvq-fuzz-tok-%ld.gguf", (long)getpid());
    snprintf(variant, sizeof variant, "/tmp/mvq-fuzz-tok-%ld-ud.gguf", (long)getpid());
    if (!base) {
        write_synth(tmp);
        base = tmp;
    }
    mvq_gguf *g, *g2;
    tokenizers[0] = load(base, &g);
    write_user_defined(g, variant);
    tokenizers[1] = load(variant, &g2);
    mvq_gguf_close(g);
    mvq_gguf_close(g2);
    unlink(tmp);
    unlink(variant);
}

/* Whether s is valid UTF-8 (shortest forms, no surrogates, <= U+10FFFF). */
static bool valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || len > n - i || (len == 2 && c < 0xc2))
            return false;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += len;
    }
    return true;
}

static bool keeps_text(const mvq_tokenizer *t, const int32_t *ids, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        mvq_token_type ty = mvq_token_get_type(t, ids[i]);
        if (ty != MVQ_TOKEN_NORMAL && ty != MVQ_TOKEN_BYTE && ty != MVQ_TOKEN_USER_DEFINED)
            return false;
    }
    return true;
}

/* The tokens on stderr, for a failed round trip. */
static void dump(const mvq_tokenizer *t, const int32_t *ids, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        fprintf(stderr, "  %d type %d '%s'\n", (int)ids[i], (int)mvq_token_get_type(t, ids[i]), mvq_token_text(t, ids[i]));
}

int mvq_fuzz_tokenizer(const uint8_t *data, size_t size)
{
    if (!tokenizers[0])
        init();
    if (size == 0)
        return 0;
    const mvq_tokenizer *t = tokenizers[data[0] & 1];
    bool bos = data[0] & 2;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t *ids = NULL;
    int64_t n = 0;
    mvq_error err;
    FUZZ_REQUIRE(mvq_tokenize(t, text, len, bos, &ids, &n, &err) == MVQ_OK, "tokenize failed: %s", err.msg);
    FUZZ_REQUIRE(n >= 0 && (n == 0 || ids), "%lld tokens", (long long)n);
    for (int64_t i = 0; i < n; i++)
        FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < mvq_tokenizer_n_vocab(t), "token %lld: id %d out of range",
                     (long long)i, (int)ids[i]);
    char *back = NULL;
    size_t back_len = 0;
    FUZZ_REQUIRE(mvq_detokenize(t, ids, n, &back, &back_len, &err) == MVQ_OK, "detokenize failed: %s", err.msg);
    FUZZ_REQUIRE(back && back[back_len] == '\0', "detokenized text not NUL-terminated");
    bool promised = !bos && valid_utf8(data + 1, len) && !memmem(text, len, "\xe2\x96\x81", 3) && keeps_text(t, ids, n);
    if (promised && (back_len != len || memcmp(back, text, len) != 0)) {
        dump(t, ids, n);
        size_t d = 0;
        while (d < len && d < back_len && text[d] == back[d])
            d++;
        fprintf(stderr, "first difference at byte %zu: in '%.20s', back '%.20s'\n", d, text + d, back + d);
    }
    if (promised)
        FUZZ_REQUIRE(back_len == len && memcmp(back, text, len) == 0,
                     "round trip differs: %zu bytes in, %zu bytes back", len, back_len);
    free(back);
    free(ids);
    return 0;
}
