/* mvquant inspect FILE [--json] [--hash]: header, metadata, tensor table,
 * totals and bits per weight. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#define SHOWN_ARRAY_ELEMENTS 8

static void inspect_usage(void)
{
    printf("Usage: mvquant inspect FILE [--json] [--hash]\n"
           "\n"
           "Shows a GGUF file's header, metadata (long arrays abbreviated in text,\n"
           "complete in JSON), its tensors (name, type, shape, bytes, offset), the\n"
           "totals and the bits per weight.\n"
           "\n"
           "  --json  print JSON on stdout instead of text\n"
           "  --hash  add each tensor's XXH3-64 (reads all tensor data)\n");
}

static const char *type_label(uint32_t type, char *buf, size_t n)
{
    const char *name = type < MVQ_TYPE_COUNT ? mvq_type_name((mvq_type)type) : "?";
    if (strcmp(name, "?") != 0)
        return name;
    snprintf(buf, n, "type%" PRIu32, type);
    return buf;
}

/* ---- text ---- */

static void print_scalar_text(mvq_gguf_vtype t, const void *p)
{
    uint64_t u = 0;
    int64_t i = 0;
    float f;
    double d;
    switch (t) {
    case MVQ_GGUF_UINT8: u = *(const uint8_t *)p; break;
    case MVQ_GGUF_UINT16: memcpy(&u, p, 2); break;
    case MVQ_GGUF_UINT32: memcpy(&u, p, 4); break;
    case MVQ_GGUF_UINT64: memcpy(&u, p, 8); break;
    case MVQ_GGUF_INT8: i = *(const int8_t *)p; break;
    case MVQ_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); i = v; break; }
    case MVQ_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); i = v; break; }
    case MVQ_GGUF_INT64: memcpy(&i, p, 8); break;
    case MVQ_GGUF_FLOAT32: memcpy(&f, p, 4); printf("%.9g", (double)f); return;
    case MVQ_GGUF_FLOAT64: memcpy(&d, p, 8); printf("%.17g", d); return;
    case MVQ_GGUF_BOOL: printf("%s", *(const uint8_t *)p ? "true" : "false"); return;
    default: return;
    }
    if (t == MVQ_GGUF_INT8 || t == MVQ_GGUF_INT16 || t == MVQ_GGUF_INT32 || t == MVQ_GGUF_INT64)
        printf("%" PRId64, i);
    else
        printf("%" PRIu64, u);
}

/* The union's scalar as the packed bytes of its type, so scalars and array
 * elements print the same way. */
static void scalar_bytes(const mvq_gguf_kv *kv, uint8_t out[8])
{
    if (kv->type == MVQ_GGUF_FLOAT32) {
        float f = (float)kv->v.f64;
        memcpy(out, &f, 4);
    } else {
        memcpy(out, &kv->v.u64, 8);
    }
}

static void print_kv_text(const mvq_gguf_kv *kv)
{
    printf("  ");
    cli_print_name(stdout, kv->key.data, (size_t)kv->key.len, 40);
    printf(" ");
    if (kv->type == MVQ_GGUF_STRING) {
        printf("%-16s ", "string");
        cli_write_quoted(stdout, kv->v.str.data, (size_t)kv->v.str.len);
    } else if (kv->type == MVQ_GGUF_ARRAY) {
        char label[40];
        snprintf(label, sizeof label, "[%s x %" PRIu64 "]", mvq_gguf_vtype_name(kv->arr_type), kv->arr_n);
        printf("%-16s ", label);
        size_t esize = mvq_gguf_vtype_size(kv->arr_type);
        uint64_t shown = kv->arr_n < SHOWN_ARRAY_ELEMENTS ? kv->arr_n : SHOWN_ARRAY_ELEMENTS;
        for (uint64_t i = 0; i < shown; i++) {
            if (i)
                printf(", ");
            if (kv->arr_type == MVQ_GGUF_STRING)
                cli_write_quoted(stdout, kv->v.strs[i].data, (size_t)kv->v.strs[i].len);
            else
                print_scalar_text(kv->arr_type, (const uint8_t *)kv->v.arr + i * esize);
        }
        if (shown < kv->arr_n)
            printf(", ... (%" PRIu64 " more)", kv->arr_n - shown);
    } else {
        uint8_t b[8];
        scalar_bytes(kv, b);
        printf("%-16s ", mvq_gguf_vtype_name(kv->type));
        print_scalar_text(kv->type, b);
    }
    printf("\n");
}

static void shape_text(const mvq_gguf_tensor *t, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (uint32_t d = 0; d < t->n_dims && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, "%s%" PRId64, d ? ", " : "", t->ne[d]);
    if (len < n)
        snprintf(buf + len, n - len, "]");
}

typedef struct totals {
    uint64_t elements, bytes;
} totals;

static totals count_totals(const mvq_gguf *g)
{
    totals s = {0, 0};
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        int64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            n *= t->ne[d]; /* the reader checked it does not overflow */
        s.elements += (uint64_t)n;
        s.bytes += t->size;
    }
    return s;
}

static double bits_per_weight(totals s)
{
    return s.elements ? 8.0 * (double)s.bytes / (double)s.elements : 0.0;
}

static void inspect_text(const mvq_gguf *g, bool hash)
{
    printf("file       %s\n", mvq_gguf_path(g));
    printf("version    %" PRIu32 "\n", mvq_gguf_version(g));
    printf("size       %" PRIu64 " bytes\n", mvq_gguf_file_size(g));
    printf("alignment  %" PRIu64 "\n", mvq_gguf_alignment(g));
    printf("data       at offset %" PRIu64 "\n", mvq_gguf_data_offset(g));
    if (mvq_gguf_n_parts(g) > 1) /* size, data offset, tensor offsets: the part's own */
        printf("parts      %" PRId64 " (a split model; sizes and offsets are each part's)\n", mvq_gguf_n_parts(g));
    printf("metadata   %" PRId64 " pairs\n", mvq_gguf_n_kv(g));
    for (int64_t i = 0; i < mvq_gguf_n_kv(g); i++)
        print_kv_text(mvq_gguf_kv_at(g, i));
    printf("tensors    %" PRId64 "\n", mvq_gguf_n_tensors(g));
    printf("  %4s  %-32s %-8s %-22s %12s %12s%s\n", "#", "name", "type", "shape", "bytes", "offset",
           hash ? "  xxh3-64" : "");
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        char shape[96], tbuf[24];
        shape_text(t, shape, sizeof shape);
        printf("  %4" PRId64 "  ", i);
        cli_print_name(stdout, t->name.data, (size_t)t->name.len, 32);
        printf(" %-8s %-22s %12" PRIu64 " %12" PRIu64, type_label(t->type, tbuf, sizeof tbuf), shape, t->size,
               t->offset);
        if (hash) {
            printf("  %016" PRIx64, mvq_gguf_tensor_hash(g, t));
        }
        printf("\n");
        cli_progress("hashing", (uint64_t)i + 1, (uint64_t)mvq_gguf_n_tensors(g));
    }
    cli_progress_done();
    totals s = count_totals(g);
    printf("totals     %" PRIu64 " weights, %" PRIu64 " bytes of tensor data, %.4f bits per weight\n", s.elements,
           s.bytes, bits_per_weight(s));
}

/* ---- JSON ---- */

static void json_scalar(cli_json *j, mvq_gguf_vtype t, const void *p)
{
    uint8_t b[8] = {0};
    memcpy(b, p, mvq_gguf_vtype_size(t));
    uint64_t u;
    int64_t i;
    float f;
    double d;
    memcpy(&u, b, 8);
    switch (t) {
    case MVQ_GGUF_INT8: cli_json_i64(j, (int8_t)b[0]); return;
    case MVQ_GGUF_INT16: { int16_t v; memcpy(&v, b, 2); cli_json_i64(j, v); return; }
    case MVQ_GGUF_INT32: { int32_t v; memcpy(&v, b, 4); cli_json_i64(j, v); return; }
    case MVQ_GGUF_INT64: memcpy(&i, b, 8); cli_json_i64(j, i); return;
    case MVQ_GGUF_FLOAT32: memcpy(&f, b, 4); cli_json_f32(j, f); return;
    case MVQ_GGUF_FLOAT64: memcpy(&d, b, 8); cli_json_f64(j, d); return;
    case MVQ_GGUF_BOOL: cli_json_bool(j, b[0] != 0); return;
    default: cli_json_u64(j, u); return; /* unsigned, zero-extended */
    }
}

static void json_kv(cli_json *j, const mvq_gguf_kv *kv)
{
    cli_json_begin_object(j);
    cli_json_key(j, "key");
    cli_json_strn(j, kv->key.data, (size_t)kv->key.len);
    cli_json_key(j, "type");
    cli_json_str(j, mvq_gguf_vtype_name(kv->type));
    if (kv->type == MVQ_GGUF_ARRAY) {
        cli_json_key(j, "element_type");
        cli_json_str(j, mvq_gguf_vtype_name(kv->arr_type));
        cli_json_key(j, "count");
        cli_json_u64(j, kv->arr_n);
    }
    cli_json_key(j, "value");
    if (kv->type == MVQ_GGUF_STRING) {
        cli_json_strn(j, kv->v.str.data, (size_t)kv->v.str.len);
    } else if (kv->type == MVQ_GGUF_ARRAY) {
        size_t esize = mvq_gguf_vtype_size(kv->arr_type);
        cli_json_begin_array(j);
        for (uint64_t i = 0; i < kv->arr_n; i++) {
            if (kv->arr_type == MVQ_GGUF_STRING)
                cli_json_strn(j, kv->v.strs[i].data, (size_t)kv->v.strs[i].len);
            else
                json_scalar(j, kv->arr_type, (const uint8_t *)kv->v.arr + i * esize);
        }
        cli_json_end_array(j);
    } else {
        uint8_t b[8];
        scalar_bytes(kv, b);
        json_scalar(j, kv->type, b);
    }
    cli_json_end_object(j);
}

static void json_tensor(cli_json *j, const mvq_gguf *g, const mvq_gguf_tensor *t, bool hash)
{
    char tbuf[24];
    cli_json_begin_object(j);
    cli_json_key(j, "name");
    cli_json_strn(j, t->name.data, (size_t)t->name.len);
    cli_json_key(j, "type");
    cli_json_str(j, type_label(t->type, tbuf, sizeof tbuf));
    cli_json_key(j, "type_id");
    cli_json_u64(j, t->type);
    cli_json_key(j, "shape");
    cli_json_begin_array(j);
    for (uint32_t d = 0; d < t->n_dims; d++)
        cli_json_i64(j, t->ne[d]);
    cli_json_end_array(j);
    cli_json_key(j, "bytes");
    cli_json_u64(j, t->size);
    cli_json_key(j, "offset");
    cli_json_u64(j, t->offset);
    if (hash) {
        char hex[20];
        snprintf(hex, sizeof hex, "%016" PRIx64, mvq_gguf_tensor_hash(g, t));
        cli_json_key(j, "xxh3_64");
        cli_json_str(j, hex);
    }
    cli_json_end_object(j);
}

static void inspect_json(const mvq_gguf *g, bool hash)
{
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_begin_object(&j);
    cli_json_key(&j, "file");
    cli_json_str(&j, mvq_gguf_path(g));
    cli_json_key(&j, "version");
    cli_json_u64(&j, mvq_gguf_version(g));
    cli_json_key(&j, "file_size");
    cli_json_u64(&j, mvq_gguf_file_size(g));
    cli_json_key(&j, "alignment");
    cli_json_u64(&j, mvq_gguf_alignment(g));
    cli_json_key(&j, "data_offset");
    cli_json_u64(&j, mvq_gguf_data_offset(g));
    if (mvq_gguf_n_parts(g) > 1) {
        cli_json_key(&j, "parts");
        cli_json_begin_array(&j);
        for (int64_t k = 0; k < mvq_gguf_n_parts(g); k++)
            cli_json_str(&j, mvq_gguf_path(mvq_gguf_part(g, k)));
        cli_json_end_array(&j);
    }
    cli_json_key(&j, "metadata");
    cli_json_begin_array(&j);
    for (int64_t i = 0; i < mvq_gguf_n_kv(g); i++)
        json_kv(&j, mvq_gguf_kv_at(g, i));
    cli_json_end_array(&j);
    cli_json_key(&j, "tensors");
    cli_json_begin_array(&j);
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++)
        json_tensor(&j, g, mvq_gguf_tensor_at(g, i), hash);
    cli_json_end_array(&j);
    totals s = count_totals(g);
    cli_json_key(&j, "totals");
    cli_json_begin_object(&j);
    cli_json_key(&j, "tensors");
    cli_json_i64(&j, mvq_gguf_n_tensors(g));
    cli_json_key(&j, "weights");
    cli_json_u64(&j, s.elements);
    cli_json_key(&j, "bytes");
    cli_json_u64(&j, s.bytes);
    cli_json_key(&j, "bits_per_weight");
    cli_json_f64(&j, bits_per_weight(s));
    cli_json_end_object(&j);
    cli_json_end_object(&j);
    cli_json_finish(&j);
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"hash", no_argument, NULL, 'H'}, {"help", no_argument, NULL, 'h'}, {0}};
    bool json = false, hash = false;
    int c;
    while ((c = cli_getopt("inspect", argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'H': hash = true; break;
        case 'h': inspect_usage(); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (argc - cli_optind != 1)
        return cli_usage_error("inspect", "expected one FILE, got %d", argc - cli_optind);
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open(argv[cli_optind], &err);
    if (!g)
        return cli_fail(&err);
    if (json)
        inspect_json(g, hash);
    else
        inspect_text(g, hash);
    mvq_gguf_close(g);
    return CLI_EXIT_OK;
}
