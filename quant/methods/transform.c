/* Lists of cross-tensor transforms that methods' preparation returns. */
#include "config.h"
#include <mvquant/methods.h>

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

void mvq_transform_list_free(mvq_transform_list *l)
{
    if (!l)
        return;
    for (int64_t i = 0; i < l->n; i++)
        free(l->items[i].scale);
    free(l->items);
    l->n = 0;
    l->items = NULL;
}
