/* GGUF round trip without Criterion, for the cross build under
 * qemu-aarch64: the fixture and a generated file go through the writer and
 * come back byte for byte; a few malformed inputs fail cleanly. */
#include <string.h>

#include "tests/fixtures.h"
#include "tests/gguf_testlib.h"
#include "tests/tap.h"

static bool same_bytes(const char *a_path, const char *b_path)
{
    size_t na, nb;
    unsigned char *a = read_whole_file(a_path, &na), *b = read_whole_file(b_path, &nb);
    bool same = a && b && na == nb && memcmp(a, b, na) == 0;
    free(a);
    free(b);
    return same;
}

static void round_trip(const char *src, const char *dst, const char *what)
{
    mvq_error err;
    mvq_status st = mvq_gguf_copy(src, dst, false, NULL, NULL, &err);
    tap_ok(st == MVQ_OK, "%s: copy through the writer%s%s", what, st ? ": " : "", st ? err.msg : "");
    mvq_gguf *a = mvq_gguf_open(src, &err), *b = mvq_gguf_open(dst, &err);
    const char *diff = a && b ? gguf_compare(a, b) : "cannot open";
    tap_ok(diff == NULL, "%s: same metadata and tensor data%s%s", what, diff ? ": " : "", diff ? diff : "");
    tap_ok(same_bytes(src, dst), "%s: byte-identical", what);
    mvq_gguf_close(a);
    mvq_gguf_close(b);
}

int main(void)
{
    char dir[256], src[512], dst[512], fixture[1024];
    if (!make_temp_dir(dir, sizeof dir)) {
        tap_ok(0, "create a temporary folder");
        return tap_done();
    }

    gbuf b = {0};
    gb_sample_file(&b);
    snprintf(src, sizeof src, "%s/sample.gguf", dir);
    snprintf(dst, sizeof dst, "%s/sample-copy.gguf", dir);
    tap_ok(write_whole_file(src, b.p, b.n), "write the generated sample");
    round_trip(src, dst, "generated file");
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open(dst, &err);
    const mvq_gguf_tensor *t = g ? mvq_gguf_find_tensor(g, "b.weight") : NULL;
    tap_ok(t && t->type == MVQ_TYPE_Q8_0 && t->size == 68 && ((const uint8_t *)t->data)[3] == 22,
           "generated file: q8_0 tensor read back");
    mvq_gguf_close(g);

    size_t bad = 0;
    for (size_t cut = 0; cut < b.n; cut++) {
        g = mvq_gguf_open_memory(b.p, cut, "cut.gguf", &err);
        bad += g == NULL && err.status == MVQ_ERR_FORMAT && !strchr(err.msg, '\n');
        mvq_gguf_close(g);
    }
    tap_ok(bad == b.n, "every truncation of the generated file fails cleanly (%zu of %zu)", bad, b.n);
    gb_free(&b);

    if (mvq_fixture("models/stories260K.gguf", fixture, sizeof fixture)) {
        snprintf(dst, sizeof dst, "%s/stories260K.gguf", dir);
        round_trip(fixture, dst, "stories260K");
        g = mvq_gguf_open(dst, &err);
        tap_ok(g && mvq_gguf_n_tensors(g) == 48 && mvq_gguf_n_kv(g) == 19, "stories260K: 48 tensors, 19 pairs");
        mvq_gguf_close(g);
    } else {
        tap_skip("fixture models/stories260K.gguf not found (configure --with-fixtures=DIR)");
    }
    remove_temp_dir(dir);
    return tap_done();
}
