/* Tokenizer: llama.cpp's ids on the stories260K fixture, round trips, byte
 * fallback, special cases and errors (Criterion). */
#include <criterion/criterion.h>
#include <mvquant/gguf.h>
#include <mvquant/tokenizer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fixtures.h"

static mvq_gguf *g;
static mvq_tokenizer *tok;

static void open_stories(void)
{
    char path[4096];
    if (!mvq_fixture("models/stories260K.gguf", path, sizeof path))
        cr_skip_test("fixture models/stories260K.gguf absent (set MVQ_FIXTURES)");
    mvq_error e;
    g = mvq_gguf_open(path, &e);
    cr_assert_not_null(g, "%s", e.msg);
    tok = mvq_tokenizer_from_gguf(g, &e);
    cr_assert_not_null(tok, "%s", e.msg);
    mvq_gguf_close(g); /* the tokenizer keeps its own copy */
    g = NULL;
}

static void close_stories(void)
{
    mvq_tokenizer_free(tok);
    tok = NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void assert_round_trip(const char *text, size_t len)
{
    mvq_error e;
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(tok, text, len, true, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    char *back;
    size_t back_len;
    cr_assert_eq(mvq_detokenize(tok, ids, n, &back, &back_len, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(back_len, len);
    cr_assert(memcmp(back, text, len) == 0, "round trip differs");
    cr_assert_eq(back[back_len], '\0');
    free(back);
    free(ids);
}

TestSuite(tokenizer, .init = open_stories, .fini = close_stories);

Test(tokenizer, vocabulary_facts)
{
    cr_assert_eq(mvq_tokenizer_n_vocab(tok), 512);
    cr_assert_eq(mvq_tokenizer_bos(tok), 1);
    cr_assert_eq(mvq_tokenizer_eos(tok), 2);
    cr_assert_eq(mvq_tokenizer_unk(tok), 0);
    cr_assert(mvq_tokenizer_wants_bos(tok));
    cr_assert_not(mvq_tokenizer_wants_eos(tok));
    cr_assert_str_eq(mvq_tokenizer_model(tok), "llama");
    cr_assert_str_eq(mvq_token_text(tok, 1), "<s>");
    cr_assert_str_eq(mvq_token_text(tok, 403), "\xe2\x96\x81Once");
    cr_assert_eq(mvq_token_get_type(tok, 1), MVQ_TOKEN_CONTROL);
    cr_assert_eq(mvq_token_get_type(tok, 3 + 'A'), MVQ_TOKEN_BYTE);
    cr_assert_str_eq(mvq_token_text(tok, 3 + 'A'), "<0x41>");
    cr_assert_eq(mvq_token_id(tok, "<0x41>", 6), 3 + 'A');
    cr_assert_eq(mvq_token_id(tok, "no such token", 13), -1);
    cr_assert_null(mvq_token_text(tok, 512));
    cr_assert_null(mvq_token_text(tok, -1));
}

Test(tokenizer, sentence_matches_llama_cpp)
{
    static const int32_t want[] = {1, 403, 407, 261, 378, 432, 317, 394, 261, 370, 352, 266, 268, 388, 426};
    const char *s = "Once upon a time, Lily saw a big red ball.";
    mvq_error e;
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(tok, s, strlen(s), true, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 15);
    for (int i = 0; i < 15; i++)
        cr_assert_eq(ids[i], want[i], "token %d: %d, llama.cpp gives %d", i, ids[i], want[i]);
    free(ids);
    /* without BOS: the same minus the first */
    cr_assert_eq(mvq_tokenize(tok, s, strlen(s), false, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 14);
    cr_assert_eq(ids[0], 403);
    free(ids);
}

Test(tokenizer, eval_file_matches_llama_cpp_count)
{
    char path[4096];
    if (!mvq_fixture("text/tinystories-eval.txt", path, sizeof path))
        cr_skip_test("fixture text/tinystories-eval.txt absent");
    size_t len;
    char *text = read_file(path, &len);
    cr_assert_eq(len, 199920);
    mvq_error e;
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(tok, text, len, true, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 97820, "%lld tokens, llama.cpp gives 97820", (long long)n);
    cr_assert_eq(ids[0], 1);
    free(ids);
    assert_round_trip(text, len);
    free(text);
}

Test(tokenizer, byte_fallback_on_utf8)
{
    const char *s = "caf\xc3\xa9 \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82!";
    mvq_error e;
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(tok, s, strlen(s), false, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    /* the 4-byte emoji is not in the vocabulary: four byte tokens in a row */
    static const int32_t emoji[] = {3 + 0xf0, 3 + 0x9f, 3 + 0x99, 3 + 0x82};
    bool found = false;
    for (int64_t i = 0; i + 4 <= n && !found; i++)
        found = memcmp(&ids[i], emoji, sizeof emoji) == 0;
    cr_assert(found, "no <0xF0><0x9F><0x99><0x82> in the tokens");
    for (int64_t i = 0; i < n; i++)
        cr_assert(ids[i] >= 0 && ids[i] < 512);
    free(ids);
    assert_round_trip(s, strlen(s));
    /* invalid UTF-8 and NUL bytes survive too (as in llama.cpp, a truncated
     * UTF-8 lead byte right before a space would swallow part of its U+2581) */
    static const char raw[] = {'a', '\0', 'b', '\xff', '\xc3', '\x80', 'z', ' ', '\x80'};
    assert_round_trip(raw, sizeof raw);
}

Test(tokenizer, empty_text)
{
    mvq_error e;
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(tok, "", 0, true, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_assert_eq(ids[0], 1);
    free(ids);
    cr_assert_eq(mvq_tokenize(tok, NULL, 0, false, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 0);
    free(ids);
    char *text;
    size_t len;
    cr_assert_eq(mvq_detokenize(tok, NULL, 0, &text, &len, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(text, "");
    free(text);
}

Test(tokenizer, spaces_and_leading_space)
{
    assert_round_trip(" leading", 8);
    assert_round_trip("two  spaces\n\nand lines\t", 23);
    /* the prefix space: "a" alone is "▁a" */
    mvq_error e;
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(tok, "a", 1, false, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(mvq_token_text(tok, ids[0]), "\xe2\x96\x81" "a");
    free(ids);
}

Test(tokenizer, detokenize_rejects_bad_ids)
{
    int32_t ids[] = {1, 512};
    char *text;
    size_t len;
    mvq_error e;
    cr_assert_eq(mvq_detokenize(tok, ids, 2, &text, &len, &e), MVQ_ERR_ARG);
    cr_assert(strstr(e.msg, "512") != NULL, "%s", e.msg);
}

/* A tiny GGUF with only tokenizer metadata (types may be NULL), written
 * through the writer. */
static mvq_gguf *write_vocab(const char *path, const char *model, const char *const *tokens,
                             const int32_t *types, uint64_t n)
{
    mvq_error e;
    mvq_gguf_writer *w = mvq_gguf_writer_open(path, NULL, &e);
    cr_assert_not_null(w, "%s", e.msg);
    if (model)
        cr_assert_eq(mvq_gguf_writer_add_str(w, "tokenizer.ggml.model", model, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(mvq_gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", tokens, n, &e), MVQ_OK, "%s", e.msg);
    if (types)
        cr_assert_eq(mvq_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", MVQ_GGUF_INT32, types, n, &e),
                     MVQ_OK, "%s", e.msg);
    cr_assert_eq(mvq_gguf_writer_finish(w, &e), MVQ_OK, "%s", e.msg);
    mvq_gguf *f = mvq_gguf_open(path, &e);
    cr_assert_not_null(f, "%s", e.msg);
    return f;
}

static mvq_gguf *write_vocab_file(const char *path, const char *model)
{
    static const char *const tokens[] = {"<unk>", "<s>", "</s>", "a"};
    return write_vocab(path, model, tokens, NULL, 4);
}

Test(tokenizer_errors, unsupported_and_missing_models)
{
    char dir[] = "/tmp/mvq-tok-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/v.gguf", dir);
    mvq_error e;

    mvq_gguf *f = write_vocab_file(path, "gpt2");
    cr_assert_null(mvq_tokenizer_from_gguf(f, &e));
    cr_assert_eq(e.status, MVQ_ERR_UNSUPPORTED);
    cr_assert(strstr(e.msg, "'gpt2'") && strstr(e.msg, "v.gguf"), "%s", e.msg);
    mvq_gguf_close(f);

    f = write_vocab_file(path, NULL);
    cr_assert_null(mvq_tokenizer_from_gguf(f, &e));
    cr_assert_eq(e.status, MVQ_ERR_FORMAT);
    cr_assert(strstr(e.msg, "tokenizer.ggml.model"), "%s", e.msg);
    mvq_gguf_close(f);

    /* no scores, no types, no byte tokens: still works, unknown bytes map to <unk> */
    f = write_vocab_file(path, "llama");
    mvq_tokenizer *t = mvq_tokenizer_from_gguf(f, &e);
    cr_assert_not_null(t, "%s", e.msg);
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(t, "a", 1, true, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 5); /* <s>, then the three bytes of U+2581 as <unk>, then "a" */
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], 0);
    cr_assert_eq(ids[4], 3);
    free(ids);
    mvq_tokenizer_free(t);
    mvq_gguf_close(f);
    remove(path);
    rmdir(dir);
}

/* USER_DEFINED tokens are cut out of the text first; the space prefix comes
 * back after each, as in llama.cpp. */
Test(tokenizer_errors, user_defined_tokens_split_the_text)
{
    char dir[] = "/tmp/mvq-tok-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/u.gguf", dir);
    static const char *const tokens[] = {"<unk>", "<s>", "</s>", "a", "\xe2\x96\x81" "a", "<|x|>"};
    static const int32_t types[] = {2, 3, 3, 1, 1, 4};
    mvq_gguf *f = write_vocab(path, "llama", tokens, types, 6);
    mvq_error e;
    mvq_tokenizer *t = mvq_tokenizer_from_gguf(f, &e);
    cr_assert_not_null(t, "%s", e.msg);
    int32_t *ids;
    int64_t n;
    cr_assert_eq(mvq_tokenize(t, "a<|x|>a<|x|>", 12, false, &ids, &n, &e), MVQ_OK, "%s", e.msg);
    cr_assert_eq(n, 4);
    cr_assert(ids[0] == 4 && ids[1] == 5 && ids[2] == 4 && ids[3] == 5);
    char *text;
    size_t len;
    cr_assert_eq(mvq_detokenize(t, ids, n, &text, &len, &e), MVQ_OK, "%s", e.msg);
    cr_assert_str_eq(text, "a<|x|> a<|x|>");
    free(text);
    free(ids);
    mvq_tokenizer_free(t);
    mvq_gguf_close(f);
    remove(path);
    rmdir(dir);
}
