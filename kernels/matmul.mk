# Thread pool and matrix products (quantized weights x f32 activations).
libmvq_core_la_SOURCES += \
	kernels/pool.c \
	kernels/matmul.h \
	kernels/matmul.c \
	kernels/matmul_dequant.c \
	kernels/matmul_half.c \
	kernels/matmul_onednn.c
