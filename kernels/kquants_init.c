/* Registers the K-quant reference quantizers (placeholder until they land). */
#include "config.h"
#include "kernels/kernel_impl.h"

void mvq_kquants_init_ref(mvq_kernel_table *t)
{
    (void)t;
}
