# K-quant reference kernels: dequantize and quantize (scale search shared).
libmvq_core_la_SOURCES += \
	kernels/kquants.h \
	kernels/kquants_init.c \
	kernels/kquant_search.h \
	kernels/kquant_search_impl.h \
	kernels/kquant_rows.h \
	kernels/kquant_search.c \
	kernels/kquant_dequant.c \
	kernels/kquant_q2k.c \
	kernels/kquant_q4k.c \
	kernels/kquant_q6k.c
