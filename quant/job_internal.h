/* Internal to quant/: the job's pieces. */
#ifndef MVQ_JOB_INTERNAL_H
#define MVQ_JOB_INTERNAL_H

#include "quant/plan_internal.h"

/* Room for the largest tensor the job rewrites. */
typedef struct mvq_job_scratch {
    float *rows;       /* its rows as f32 */
    float *importance; /* one row's width */
    void *out;         /* its bytes as written */
    void *layer_state; /* the layer-by-layer method's state (mvq_job_layerwise), else NULL */
} mvq_job_scratch;

/* Rewrites tensor t as the plan says into s->out (tr->bytes of it),
 * filling the report's errors. */
mvq_status mvq_job_tensor(const mvq_gguf_tensor *t, const mvq_tensor_plan *tp, const mvq_quantize_opts *o,
                          mvq_job_scratch *s, mvq_tensor_report *tr, mvq_error *err);

/* The quantized bytes of finished layers, in an unnamed file beside the
 * output (job_spill.c), so they need no memory until they are written. */
typedef struct mvq_job_spill {
    int fd;       /* -1: not open */
    uint64_t end; /* bytes written */
} mvq_job_spill;
mvq_status mvq_job_spill_open(mvq_job_spill *s, const char *dst, mvq_error *err);
mvq_status mvq_job_spill_put(mvq_job_spill *s, const void *data, size_t size, uint64_t *offset, mvq_error *err);
mvq_status mvq_job_spill_get(const mvq_job_spill *s, uint64_t offset, void *data, size_t size, mvq_error *err);
void mvq_job_spill_close(mvq_job_spill *s);

/* What the layer-by-layer pass did: which tensors it quantized and where
 * their bytes are (the spill file; a layer's own bytes stay in memory
 * only while the next layer is computed from them), and the method's
 * state, which the tensors quantized after the pass (the output matrix)
 * still use. */
typedef struct mvq_job_layers {
    int64_t n;
    bool *done;       /* n: quantized by the pass */
    uint64_t *offset; /* n: where in the spill file */
    uint64_t *size;   /* n: how many bytes */
    mvq_job_spill spill;
    void *held[MVQ_LINEAR_COUNT]; /* the last layer's bytes, until spilled */
    int64_t held_index[MVQ_LINEAR_COUNT];
    const mvq_method *method;
    void *state;
} mvq_job_layers;

/* Runs the pass when the job's method quantizes layer by layer and there
 * are calibration tokens (else leaves out empty); sets s->layer_state.
 * dst: the output, beside which the spill file goes. */
mvq_status mvq_job_layerwise(const mvq_gguf *in, const mvq_plan *plan, const mvq_quantize_opts *o,
                             const bool *rewrite, const char *dst, mvq_job_scratch *s, mvq_quantize_report *rep,
                             mvq_job_layers *out, mvq_error *err);
/* Reads tensor i's bytes back (l->done[i]). */
mvq_status mvq_job_layers_read(const mvq_job_layers *l, int64_t i, void *data, size_t size, mvq_error *err);
void mvq_job_layers_free(mvq_job_layers *l);

/* The input's metadata, then what mvquant adds (file type, method, the
 * massive dimensions found), and room for the tensor hashes. */
mvq_status mvq_job_write_metadata(mvq_gguf_writer *w, const mvq_gguf *in, const mvq_quantize_opts *o,
                                  const mvq_massive_map *mm, mvq_error *err);

#endif
