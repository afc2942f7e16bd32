/* llama-quantize's --include-weights, --exclude-weights, --override-kv and
 * --keep-split for the main job: parsed here, applied through
 * mvq_quantize_opts' hooks. */
#ifndef MVQ_QUANTIZE_LLAMA_H
#define MVQ_QUANTIZE_LLAMA_H

#include <mvquant/quantize.h>

#define LLAMA_MAX_NAMES 64
#define LLAMA_MAX_KV 32

typedef struct llama_kv {
    char key[128];
    mvq_gguf_vtype type; /* UINT32 (int), FLOAT32 (float), BOOL, STRING */
    uint32_t u32;
    float f32;
    bool b;
    const char *str;
} llama_kv;

typedef struct llama_opts {
    const char *include[LLAMA_MAX_NAMES], *exclude[LLAMA_MAX_NAMES];
    int n_include, n_exclude;
    llama_kv kv[LLAMA_MAX_KV];
    int n_kv;
} llama_opts;

/* --include-weights NAME / --exclude-weights NAME: tensors whose name
 * contains NAME get (only they) / do not get importance weights. */
int llama_parse_weights(llama_opts *l, bool include, const char *name);
/* --override-kv KEY=TYPE:VALUE, TYPE one of int, float, bool, str. */
int llama_parse_kv(llama_opts *l, const char *arg);
/* Installs the hooks (q->user = l); after parsing, checks the options agree. */
int llama_install(llama_opts *l, mvq_quantize_opts *q);

/* Checks, before any long work, every file the job will write (each part
 * with keep_split) against every file it reads (in's parts, extra). */
int llama_check_outputs(const mvq_gguf *in, const char *out, bool keep_split, const char *extra);

#endif
