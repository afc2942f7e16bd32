/* The pin: RTN outputs of both fixture models at q4_k_m, q8_0, q4_0 and
 * q3_k_m, massive values ignored and protected, must stay byte-identical
 * (XXH3-64 below) while the job, the plan and the methods are reshaped.
 *
 * The calibration statistics are committed (tests/pin/<model>.stats.gguf):
 * the forward pass's float sums differ between CPUs and oneDNN builds, the
 * quantizers do not, so loading them pins the job alone, everywhere, and
 * skips a calibration per run.
 *
 * To regenerate (only when an output is meant to change):
 *   MVQ_PIN_RECORD=1 make check TESTS=tests/test_pin
 * calibrates as tests/test_gates.c does, rewrites the statistics files and
 * prints the new table into tests/test_pin.log. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "tests/fixtures.h"
#include "tests/gates_testlib.h"

typedef struct pin {
    const char *model, *preset;
    bool protect;
    uint64_t hash;
} pin;

static const pin pins[] = {
    { "stories260K", "q4_k_m", false, 0xca8cd765a9a2491bull },
    { "stories260K", "q4_k_m", true, 0x9168873165c27484ull },
    { "stories260K", "q8_0", false, 0xbc18fd234df137dcull },
    { "stories260K", "q8_0", true, 0xc20573fdbc79be42ull },
    { "stories260K", "q4_0", false, 0xa439c246c0e5d5aeull },
    { "stories260K", "q4_0", true, 0x4429ca6480c1509dull },
    { "stories260K", "q3_k_m", false, 0xb31e64fab32237d5ull },
    { "stories260K", "q3_k_m", true, 0xa9ef6b3f16a68551ull },
    { "tinyrope-3M", "q4_k_m", false, 0xf26f33f62a3f0666ull },
    { "tinyrope-3M", "q4_k_m", true, 0xb7304593728370d2ull },
    { "tinyrope-3M", "q8_0", false, 0x2734034dcfb9230aull },
    { "tinyrope-3M", "q8_0", true, 0x0a348082a2abe807ull },
    { "tinyrope-3M", "q4_0", false, 0xa2f326b8054e6ec6ull },
    { "tinyrope-3M", "q4_0", true, 0xfd7587ad32be22b4ull },
    { "tinyrope-3M", "q3_k_m", false, 0xbc4535415c55e527ull },
    { "tinyrope-3M", "q3_k_m", true, 0x49d4d896b23827dfull },
};

static void hash_bytes(XXH3_state_t *s, const void *p, size_t n)
{
    XXH3_64bits_update(s, p, n);
}

static void hash_kv(XXH3_state_t *s, const mvq_gguf_kv *kv)
{
    hash_bytes(s, kv->key.data, kv->key.len);
    hash_bytes(s, &kv->type, sizeof kv->type);
    if (kv->type == MVQ_GGUF_STRING) {
        hash_bytes(s, kv->v.str.data, kv->v.str.len);
    } else if (kv->type != MVQ_GGUF_ARRAY) {
        hash_bytes(s, &kv->v, sizeof kv->v.u64);
    } else if (kv->arr_type == MVQ_GGUF_STRING) {
        for (uint64_t i = 0; i < kv->arr_n; i++)
            hash_bytes(s, kv->v.strs[i].data, kv->v.strs[i].len);
    } else {
        hash_bytes(s, kv->v.arr, mvq_gguf_vtype_size(kv->arr_type) * kv->arr_n);
    }
}

/* Everything of the file but the writer's version string: metadata, tensor
 * infos and data (a new release must not move the pins). */
static uint64_t output_hash(const char *path)
{
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open(path, &err);
    cr_assert_not_null(g, "%s", err.msg);
    XXH3_state_t *s = XXH3_createState();
    XXH3_64bits_reset(s);
    for (int64_t i = 0; i < mvq_gguf_n_kv(g); i++)
        if (strcmp(mvq_gguf_kv_at(g, i)->key.data, "mvquant.version") != 0)
            hash_kv(s, mvq_gguf_kv_at(g, i));
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        hash_bytes(s, t->name.data, t->name.len);
        hash_bytes(s, &t->type, sizeof t->type);
        hash_bytes(s, t->ne, sizeof t->ne);
        hash_bytes(s, &t->offset, sizeof t->offset);
        hash_bytes(s, t->data, t->size);
    }
    uint64_t h = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    mvq_gguf_close(g);
    return h;
}

static uint64_t quantize_pinned(mvq_gguf *in, const mvq_calib *calib, const pin *p, mvq_pool *pool)
{
    char out[] = "/tmp/mvq-pin-XXXXXX.gguf";
    int fd = mkstemps(out, 5);
    cr_assert(fd >= 0);
    close(fd);
    mvq_quantize_opts o = gates_opts(p->preset, p->protect, calib, pool);
    mvq_quantize_report rep;
    mvq_error err;
    cr_assert_eq(mvq_quantize_file(in, out, &o, &rep, &err), MVQ_OK, "%s", err.msg);
    mvq_quantize_report_free(&rep);
    uint64_t h = output_hash(out);
    unlink(out);
    return h;
}

static void check_model(const char *name)
{
    char model[4096], rel[256], stats[4096];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    if (!mvq_fixture(rel, model, sizeof model))
        cr_skip_test("fixtures absent (%s): configure --with-fixtures=DIR", rel);
    const char *srcdir = getenv("MVQ_SRCDIR");
    snprintf(stats, sizeof stats, "%s/tests/pin/%s.stats.gguf", srcdir ? srcdir : ".", name);
    bool record = getenv("MVQ_PIN_RECORD") && *getenv("MVQ_PIN_RECORD");

    mvq_error err;
    mvq_gguf *in = mvq_gguf_open(model, &err);
    cr_assert_not_null(in, "%s", err.msg);
    mvq_model *m = mvq_model_from_gguf(in, &err);
    cr_assert_not_null(m, "%s", err.msg);
    mvq_pool *pool = mvq_pool_create(2);
    if (record) {
        char text[4096];
        cr_assert(mvq_fixture("text/tinystories-calib.txt", text, sizeof text), "calibration text absent");
        mvq_calib_free(gates_calibrate(m, text, stats, pool));
    }
    uint64_t key;
    mvq_calib *calib = mvq_calib_load(stats, &m->hp, &key, &err);
    cr_assert_not_null(calib, "%s", err.msg);

    int checked = 0;
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        const pin *p = &pins[i];
        if (strcmp(p->model, name) != 0)
            continue;
        uint64_t h = quantize_pinned(in, calib, p, pool);
        if (record)
            fprintf(stderr, "    { \"%s\", \"%s\", %s, 0x%016llxull },\n", p->model, p->preset, p->protect ? "true" : "false",
                   (unsigned long long)h);
        else
            cr_expect_eq(h, p->hash, "%s %s %s: XXH3-64 %016llx, pinned %016llx", name, p->preset,
                         p->protect ? "protect" : "ignore", (unsigned long long)h, (unsigned long long)p->hash);
        checked++;
    }
    cr_assert_eq(checked, 8);
    mvq_calib_free(calib);
    mvq_pool_free(pool);
    mvq_model_free(m);
    mvq_gguf_close(in);
}

Test(pin, stories260K, .timeout = 600)
{
    check_model("stories260K");
}

Test(pin, tinyrope_3M, .timeout = 600)
{
    check_model("tinyrope-3M");
}
