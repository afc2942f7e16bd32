# The quantization methods, one file each, and their registry.
libmvq_core_la_SOURCES += \
	quant/methods/registry.c \
	quant/methods/transform.c \
	quant/methods/rtn.c
EXTRA_DIST += quant/methods/methods_internal.h
