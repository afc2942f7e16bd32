/* Fuzzing the GGUF reader and what reads a parsed file: every pair and
 * tensor is walked byte by byte (the sanitizers see any read outside the
 * buffer), lookups find what the walk saw, the loader rules, the hashes,
 * the tokenizer and the quantization plan run on whatever parsed, and it
 * is rewritten through the streaming writer (as `mvquant copy` does, into
 * a temporary file that is then aborted).  Errors must be one line naming
 * the file. */
#include "config.h"
#include "tests/fuzz/fuzz.h"

#include <mvquant/gguf.h>
#include <mvquant/quantize.h>
#include <mvquant/tokenizer.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_NAME "fuzz.gguf"

static void require_line_naming(const mvq_error *err, const char *file)
{
    size_t n = strlen(file);
    FUZZ_REQUIRE(err->status != MVQ_OK, "an error without a status: %s", err->msg);
    FUZZ_REQUIRE(strncmp(err->msg, file, n) == 0 && strncmp(err->msg + n, ": ", 2) == 0,
                 "error does not name the file %s: %s", file, err->msg);
    FUZZ_REQUIRE(!strchr(err->msg, '\n'), "error spans lines: %s", err->msg);
}

static void require_one_line(const mvq_error *err)
{
    require_line_naming(err, FUZZ_NAME);
}

/* Reads n bytes one by one, so a short buffer is caught where it ends. */
static unsigned touch(const void *p, uint64_t n)
{
    const volatile uint8_t *b = p;
    unsigned sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += b[i];
    return sum;
}

static unsigned walk_str(const mvq_gguf_str *s)
{
    FUZZ_REQUIRE(s->data != NULL, "string without data");
    FUZZ_REQUIRE(s->data[s->len] == '\0', "string copy not NUL-terminated");
    return touch(s->data, s->len + 1);
}

static unsigned walk_kv(const mvq_gguf *g, const mvq_gguf_kv *kv)
{
    unsigned sum = walk_str(&kv->key);
    FUZZ_REQUIRE(kv->type < MVQ_GGUF_VTYPE_COUNT, "value type %d", (int)kv->type);
    if (kv->type == MVQ_GGUF_STRING)
        sum += walk_str(&kv->v.str);
    if (kv->type == MVQ_GGUF_ARRAY) {
        FUZZ_REQUIRE(kv->arr_type < MVQ_GGUF_VTYPE_COUNT && kv->arr_type != MVQ_GGUF_ARRAY, "array of %d",
                     (int)kv->arr_type);
        if (kv->arr_type == MVQ_GGUF_STRING)
            for (uint64_t i = 0; i < kv->arr_n; i++)
                sum += walk_str(&kv->v.strs[i]);
        else
            sum += touch(kv->v.arr, kv->arr_n * mvq_gguf_vtype_size(kv->arr_type));
    }
    /* a key with a NUL inside is found by its first part, or not at all */
    if (strlen(kv->key.data) == kv->key.len)
        FUZZ_REQUIRE(mvq_gguf_find_kv(g, kv->key.data) == kv, "key '%s' not found again", kv->key.data);
    uint64_t u;
    int64_t i;
    double f;
    const char *s;
    sum += mvq_gguf_get_u64(g, kv->key.data, &u) + mvq_gguf_get_i64(g, kv->key.data, &i) +
           mvq_gguf_get_f64(g, kv->key.data, &f) + mvq_gguf_get_str(g, kv->key.data, &s);
    return sum;
}

static unsigned walk_tensor(const mvq_gguf *g, const uint8_t *data, size_t size, const mvq_gguf_tensor *t)
{
    unsigned sum = walk_str(&t->name);
    FUZZ_REQUIRE(t->n_dims <= MVQ_GGUF_MAX_DIMS, "%u dims", t->n_dims);
    for (int d = 0; d < MVQ_GGUF_MAX_DIMS; d++)
        FUZZ_REQUIRE(t->ne[d] >= 0, "negative dimension");
    const uint8_t *p = t->data;
    FUZZ_REQUIRE(p >= data && t->size <= size && (size_t)(p - data) <= size - t->size,
                 "tensor '%s' data outside the buffer", t->name.data);
    if (strlen(t->name.data) == t->name.len)
        FUZZ_REQUIRE(mvq_gguf_find_tensor(g, t->name.data) == t, "tensor '%s' not found again", t->name.data);
    return sum + (unsigned)mvq_gguf_tensor_hash(g, t);
}

static void use_tokenizer(const mvq_gguf *g)
{
    mvq_error err;
    mvq_tokenizer *tok = mvq_tokenizer_from_gguf(g, &err);
    if (!tok) {
        require_one_line(&err);
        return;
    }
    static const char text[] = "Once upon a time, \xe2\x96\x81 <s> \xff\x00 the end.";
    int32_t *ids = NULL;
    int64_t n = 0;
    if (mvq_tokenize(tok, text, sizeof text - 1, true, &ids, &n, &err) == MVQ_OK) {
        for (int64_t i = 0; i < n; i++)
            FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < mvq_tokenizer_n_vocab(tok), "token id %d out of range",
                         (int)ids[i]);
        char *back = NULL;
        size_t len = 0;
        if (mvq_detokenize(tok, ids, n, &back, &len, &err) == MVQ_OK)
            FUZZ_REQUIRE(back[len] == '\0', "detokenized text not NUL-terminated");
        free(back);
    }
    free(ids);
    mvq_tokenizer_free(tok);
}

static void use_plan(const mvq_gguf *g)
{
    const mvq_preset *preset = mvq_preset_find("q4_k_m");
    if (!preset)
        return;
    mvq_plan_params p = {.ftype = preset->ftype, .base = preset->base, .output_type = -1, .token_embd_type = -1};
    mvq_tensor_plan *plan = calloc((size_t)mvq_gguf_n_tensors(g) + 1, sizeof *plan);
    mvq_error err;
    if (plan && mvq_plan_make(g, &p, plan, &err) != MVQ_OK)
        require_one_line(&err);
    free(plan);
}

/* The destination of the rewrites: a folder of this process's own,
 * removed at exit (the writer leaves nothing in it). */
static char rewrite_dir[] = "/tmp/mvq-fuzz-gguf-XXXXXX";

static void remove_rewrite_dir(void)
{
    rmdir(rewrite_dir);
}

static const char *rewrite_path(void)
{
    static char path[64];
    if (!path[0]) {
        FUZZ_REQUIRE(mkdtemp(rewrite_dir) != NULL, "cannot make a temporary folder");
        atexit(remove_rewrite_dir);
        snprintf(path, sizeof path, "%s/out.gguf", rewrite_dir);
    }
    return path;
}

static void use_writer(const mvq_gguf *g)
{
    const char *dst = rewrite_path();
    mvq_error err;
    mvq_gguf_writer *w = mvq_gguf_writer_open(dst, NULL, &err);
    FUZZ_REQUIRE(w != NULL, "writer: %s", err.msg);
    mvq_status st = mvq_gguf_writer_reserve_hashes(w, &err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_set_alignment(w, mvq_gguf_alignment(g), &err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_add_kvs_from(w, g, NULL, &err);
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g) && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        st = mvq_gguf_writer_add_tensor(w, t->name.data, t->n_dims, t->ne, t->type, t->size, &err);
    }
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g) && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        st = mvq_gguf_writer_write(w, t->data, t->size, &err);
    }
    if (st != MVQ_OK)
        require_line_naming(&err, dst);
    mvq_gguf_writer_abort(w);
}

int mvq_fuzz_gguf(const uint8_t *data, size_t size)
{
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open_memory(data, size, FUZZ_NAME, &err);
    if (!g) {
        require_one_line(&err);
        return 0;
    }
    FUZZ_REQUIRE(mvq_gguf_data_offset(g) <= size || mvq_gguf_n_tensors(g) == 0, "data section past the end");
    volatile unsigned sum = 0;
    for (int64_t i = 0; i < mvq_gguf_n_kv(g); i++)
        sum += walk_kv(g, mvq_gguf_kv_at(g, i));
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++)
        sum += walk_tensor(g, data, size, mvq_gguf_tensor_at(g, i));
    FUZZ_REQUIRE(!mvq_gguf_kv_at(g, mvq_gguf_n_kv(g)) && !mvq_gguf_tensor_at(g, -1), "index past the end");
    if (mvq_gguf_check_loader_rules(g, &err) != MVQ_OK)
        require_one_line(&err);
    int64_t n_checked;
    if (mvq_gguf_verify_hashes(g, &n_checked, NULL, NULL, &err) != MVQ_OK)
        require_one_line(&err);
    use_tokenizer(g);
    use_plan(g);
    use_writer(g);
    mvq_gguf_close(g);
    (void)sum;
    return 0;
}
