# The quantization methods, one file each, and their registry.
libmvq_core_la_SOURCES += \
	quant/methods/registry.c \
	quant/methods/transform.c \
	quant/methods/rtn.c \
	quant/methods/scales.c \
	quant/methods/smoothquant.c \
	quant/methods/awq.c \
	quant/methods/awq_clip.c \
	quant/methods/gptq.c \
	quant/methods/gptq_factor.c \
	quant/methods/gptq_grid.c \
	quant/methods/gptq_hessian.c \
	quant/methods/gptq_solve.c
EXTRA_DIST += quant/methods/methods_internal.h quant/methods/gptq_internal.h quant/methods/scales_internal.h quant/methods/awq_internal.h
