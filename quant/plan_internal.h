/* Internal to quant/: the plan's pieces the job and the plan's own files share. */
#ifndef MVQ_PLAN_INTERNAL_H
#define MVQ_PLAN_INTERNAL_H

#include <mvquant/methods.h>
#include <mvquant/plan.h>

#include "quant/model/model_roles.h"
#include "quant/quant_internal.h"

/* The job's method: the one asked for, else the registry's default. */
static inline const mvq_method *mvq_job_method(const mvq_quantize_opts *o)
{
    return o->method ? o->method : mvq_method_default();
}

/* The massive dimensions the plan found (empty without Q/K statistics). */
const mvq_massive_map *mvq_plan_massive(const mvq_plan *p);

/* Attaches to tensor i the transforms of l that touch it (checking their
 * sizes), setting the reason of a tensor rewritten only for them. */
mvq_status mvq_plan_transforms(const mvq_gguf *in, int64_t i, const mvq_tensor_role *role,
                               const mvq_transform_list *l, mvq_tensor_plan *tp, mvq_error *err);

#endif
