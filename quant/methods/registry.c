/* The registered methods: one line per method file. */
#include "config.h"
#include "quant/methods/methods_internal.h"

#include <stdio.h>
#include <string.h>

static const mvq_method *const registered[] = {
    &mvq_method_rtn, /* the default */
    &mvq_method_gptq,
    &mvq_method_smoothquant,
    &mvq_method_awq,
    NULL,
};

const mvq_method *const *mvq_methods(void)
{
    return registered;
}

const mvq_method *mvq_method_default(void)
{
    return registered[0];
}

const mvq_method *mvq_method_find(const char *name)
{
    for (const mvq_method *const *m = registered; *m; m++)
        if (strcmp((*m)->name, name) == 0)
            return *m;
    return NULL;
}

void mvq_method_list(char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = '\0';
    for (const mvq_method *const *m = registered; *m && used < size; m++) {
        int n = snprintf(buf + used, size - used, "%s%s", m == registered ? "" : ", ", (*m)->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
