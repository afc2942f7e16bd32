/* Lists of cross-tensor transforms that methods' preparation returns. */
#include "config.h"
#include <mvquant/methods.h>

#include <math.h>
#include <stdlib.h>

mvq_transform *mvq_transform_add(mvq_transform_list *l, int64_t layer, mvq_calib_input input, int64_t n)
{
    float *scale = malloc(sizeof *scale * (size_t)(n > 0 ? n : 1));
    mvq_transform *items = scale ? realloc(l->items, sizeof *items * (size_t)(l->n + 1)) : NULL;
    if (!items) {
        free(scale);
        return NULL;
    }
    for (int64_t j = 0; j < n; j++)
        scale[j] = 1.0f;
    l->items = items;
    mvq_transform *t = &items[l->n++];
    *t = (mvq_transform){ .layer = layer, .input = input, .n = n, .scale = scale };
    return t;
}

mvq_clip *mvq_clip_add(mvq_transform_list *l, int64_t layer, mvq_linear linear, int64_t n_out, int64_t n_in,
                       int64_t group)
{
    if (group <= 0 || n_out <= 0 || n_in <= 0)
        return NULL;
    const int64_t n_groups = (n_in + group - 1) / group;
    float *max = malloc(sizeof *max * (size_t)(n_out * n_groups));
    mvq_clip *clips = max ? realloc(l->clips, sizeof *clips * (size_t)(l->n_clips + 1)) : NULL;
    if (!clips) {
        free(max);
        return NULL;
    }
    for (int64_t i = 0; i < n_out * n_groups; i++)
        max[i] = INFINITY;
    l->clips = clips;
    mvq_clip *c = &clips[l->n_clips++];
    *c = (mvq_clip){ .layer = layer, .linear = linear, .n_out = n_out, .n_in = n_in, .group = group,
                     .n_groups = n_groups, .max = max };
    return c;
}

void mvq_transform_list_free(mvq_transform_list *l)
{
    if (!l)
        return;
    for (int64_t i = 0; i < l->n; i++)
        free(l->items[i].scale);
    for (int64_t i = 0; i < l->n_clips; i++)
        free(l->clips[i].max);
    free(l->items);
    free(l->clips);
    *l = (mvq_transform_list){ 0 };
}
