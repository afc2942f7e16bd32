/* Statistics for the quantization job: loaded from --stats or --imatrix,
 * found in the cache from an earlier run with the same inputs, or computed
 * (generating the calibration text when there is none) and cached. */
#include "config.h"
#include "quant/calib/calib_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

/* Bumped when the statistics or their file change meaning. */
#define STATS_FORMAT_VERSION 1

void mvq_calib_request_default(mvq_calib_request *r)
{
    memset(r, 0, sizeof *r);
    mvq_selfgen_default(&r->self);
}

/* In slices, each dropped from memory after use (the digest is that of one
 * update): the key of a model's statistics must not map the whole model. */
static void hash_weight(XXH3_state_t *s, const mvq_gguf *g, const mvq_weight *w)
{
    if (!w->data)
        return;
    const char *name = w->name ? w->name : "";
    const int64_t shape[3] = {(int64_t)w->type, w->n_in, w->n_out};
    XXH3_64bits_update(s, name, strlen(name) + 1);
    XXH3_64bits_update(s, shape, sizeof shape);
    const char *p = w->data;
    const size_t slice = (size_t)64 << 20;
    for (size_t left = mvq_row_size(w->type, w->n_in) * (size_t)w->n_out, n; left > 0; p += n, left -= n) {
        n = left < slice ? left : slice;
        XXH3_64bits_update(s, p, n);
        if (g)
            mvq_gguf_drop_pages(g, p, n);
    }
}

uint64_t mvq_model_data_hash(const mvq_model *m)
{
    XXH3_state_t *s = XXH3_createState();
    if (!s)
        return 0;
    XXH3_64bits_reset(s);
    hash_weight(s, m->gguf, &m->token_embd);
    hash_weight(s, m->gguf, &m->output_norm);
    if (!m->output_tied)
        hash_weight(s, m->gguf, &m->output);
    hash_weight(s, m->gguf, &m->rope_freqs);
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        const mvq_layer *L = &m->layers[il];
        hash_weight(s, m->gguf, &L->attn_norm);
        hash_weight(s, m->gguf, &L->ffn_norm);
        for (int i = 0; i < MVQ_LINEAR_COUNT; i++) {
            hash_weight(s, m->gguf, &L->linear[i]);
            hash_weight(s, m->gguf, &L->bias[i]);
        }
    }
    uint64_t h = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    return h;
}

mvq_status mvq_calib_cache_dir(char *buf, size_t size, mvq_error *err)
{
    const char *own = getenv("MVQ_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (own && *own)
        n = snprintf(buf, size, "%s", own);
    else if (xdg && *xdg)
        n = snprintf(buf, size, "%s/mvquant", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.cache/mvquant", home);
    else
        return mvq_error_set(err, MVQ_ERR_ARG, "statistics cache: none of MVQ_CACHE_DIR, XDG_CACHE_HOME, HOME is set");
    if (n < 0 || (size_t)n >= size)
        return mvq_error_set(err, MVQ_ERR_ARG, "statistics cache: the folder's name is too long");
    return MVQ_OK;
}

/* mkdir -p */
static bool make_dirs(const char *path)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return false;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return false;
            *p = '/';
        }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST;
}

int32_t mvq_calib_model_bos(const mvq_model *m)
{
    int64_t id;
    if (m->gguf && mvq_gguf_get_i64(m->gguf, "tokenizer.ggml.bos_token_id", &id) && id >= 0 &&
        id < m->hp.n_vocab)
        return (int32_t)id;
    return -1;
}

static uint64_t request_key(const mvq_model *m, const mvq_calib_request *r, int64_t n_ctx, int32_t bos,
                            const mvq_selfgen_params *self)
{
    XXH3_state_t *s = XXH3_createState();
    if (!s)
        return 0;
    XXH3_64bits_reset(s);
    const int64_t head[4] = {STATS_FORMAT_VERSION, (int64_t)mvq_model_data_hash(m), n_ctx, bos};
    XXH3_64bits_update(s, head, sizeof head);
    if (r->pre_rope) /* only then: the keys of the cache's existing files stay valid */
        XXH3_64bits_update(s, "pre_rope", 8);
    if (r->tokens) {
        XXH3_64bits_update(s, "text", 4);
        XXH3_64bits_update(s, r->tokens, (size_t)r->n_tokens * sizeof *r->tokens);
    } else {
        const int64_t ints[4] = {self->n_tokens, self->seq_len, (int64_t)self->seed, self->bos};
        const double reals[2] = {self->temperature, self->top_p};
        XXH3_64bits_update(s, "self", 4);
        XXH3_64bits_update(s, ints, sizeof ints);
        XXH3_64bits_update(s, reals, sizeof reals);
    }
    uint64_t k = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    return k;
}

typedef struct progress_relay {
    const mvq_calib_request *r;
    const char *phase;
} progress_relay;

static void relay(void *user, int64_t done, int64_t total)
{
    const progress_relay *p = user;
    p->r->progress(p->r->user, p->phase, done, total);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Generates the text when there is none, then runs the calibration pass. */
static mvq_calib *compute(const mvq_model *m, const mvq_calib_request *r, mvq_selfgen_params *self, int64_t n_ctx,
                          int32_t bos, mvq_pool *pool, mvq_error *err)
{
    const int32_t *tokens = r->tokens;
    int64_t n_tokens = r->n_tokens;
    int32_t *own = NULL;
    progress_relay gen = {r, "generate"}, cal = {r, "calibrate"};
    if (!tokens) {
        self->progress = r->progress ? relay : NULL;
        self->user = &gen;
        if (mvq_calib_self_tokens(m, self, pool, &own, &n_tokens, err) != MVQ_OK)
            return NULL;
        tokens = own;
    }
    mvq_calib *c = mvq_calib_new(&m->hp, err);
    mvq_calib_opts opts = {.n_ctx = n_ctx, .bos = bos, .progress = r->progress ? relay : NULL, .user = &cal,
                           .pre_rope = r->pre_rope};
    if (c && mvq_calib_run(c, m, tokens, n_tokens, &opts, pool, err) != MVQ_OK) {
        mvq_calib_free(c);
        c = NULL;
    }
    free(own);
    return c;
}

static mvq_calib *from_cache(const char *path, const mvq_hparams *hp, uint64_t key)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    uint64_t found = 0;
    mvq_calib *c = mvq_calib_load(path, hp, &found, NULL);
    if (c && found != key) { /* a file renamed by hand, or a hash collision of names */
        mvq_calib_free(c);
        c = NULL;
    }
    return c;
}

mvq_calib *mvq_calib_obtain(const mvq_model *m, const mvq_calib_request *r, mvq_pool *pool, mvq_calib_info *info,
                            mvq_error *err)
{
    mvq_calib_info own_info;
    if (!info)
        info = &own_info;
    memset(info, 0, sizeof *info);
    mvq_calib *c = NULL;
    mvq_status st = MVQ_OK;
    uint64_t key = 0;

    if (r->stats_path || r->imatrix_path) {
        info->origin = r->stats_path ? MVQ_CALIB_FROM_STATS : MVQ_CALIB_FROM_IMATRIX;
        c = r->stats_path ? mvq_calib_load(r->stats_path, &m->hp, NULL, err)
                          : mvq_calib_import_imatrix(r->imatrix_path, &m->hp, err);
    } else {
        const int64_t n_ctx = r->n_ctx > 0 ? r->n_ctx : mvq_calib_default_ctx(&m->hp);
        const int32_t bos = mvq_calib_model_bos(m);
        mvq_selfgen_params self = r->self;
        if (!r->tokens) {
            if (r->n_tokens > 0)
                self.n_tokens = r->n_tokens;
            self.seq_len = n_ctx; /* one generated sequence per calibration window */
            self.bos = self.bos >= 0 ? self.bos : bos;
            info->self_generated = true;
        }
        key = request_key(m, r, n_ctx, bos, &self);
        info->key = key;
        char dir[900];
        bool cache = !r->no_cache;
        if (cache && r->cache_dir)
            snprintf(dir, sizeof dir, "%s", r->cache_dir);
        else if (cache && mvq_calib_cache_dir(dir, sizeof dir, NULL) != MVQ_OK)
            cache = false;
        if (cache)
            snprintf(info->cache_path, sizeof info->cache_path, "%s/%016llx.stats.gguf", dir, (unsigned long long)key);
        if (cache && (c = from_cache(info->cache_path, &m->hp, key)) != NULL) {
            info->origin = MVQ_CALIB_FROM_CACHE;
        } else {
            info->origin = MVQ_CALIB_COMPUTED;
            const double t0 = now_seconds();
            c = compute(m, r, &self, n_ctx, bos, pool, err);
            info->seconds = now_seconds() - t0;
            if (c && cache) {
                mvq_error cache_err = {0};
                if (!make_dirs(dir))
                    snprintf(info->note, sizeof info->note, "statistics cache %.120s: cannot create the folder: %.60s", dir,
                             strerror(errno));
                else if (mvq_calib_save(c, info->cache_path, NULL, key, &cache_err) != MVQ_OK)
                    snprintf(info->note, sizeof info->note, "statistics cache: %.200s", cache_err.msg);
                if (info->note[0])
                    info->cache_path[0] = '\0';
            }
        }
    }
    if (!c)
        return NULL;
    if (r->stats_out) {
        /* refuses to overwrite the model */
        const char *inputs[2] = {m->gguf ? mvq_gguf_path(m->gguf) : NULL, NULL};
        st = mvq_calib_save(c, r->stats_out, inputs, key, err);
    }
    if (st != MVQ_OK) {
        mvq_calib_free(c);
        return NULL;
    }
    info->n_tokens = c->n_tokens;
    info->tokens_hash = c->tokens_hash;
    return c;
}
