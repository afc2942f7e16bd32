# Type traits, CPU detection, dispatch and the portable reference kernels.
libmvq_core_la_SOURCES += \
	kernels/kernel_impl.h \
	kernels/act_rows.h \
	kernels/cpu.h \
	kernels/cpu.c \
	kernels/types.c \
	kernels/dispatch.c \
	kernels/ref_table.c
# The scalar reference kernels (the specification every SIMD kernel is tested against).
libmvq_core_la_SOURCES += \
	kernels/ref.h \
	kernels/ref_unpack.c \
	kernels/ref_float.c \
	kernels/ref_dequant_legacy.c \
	kernels/ref_quant_q8.c \
	kernels/search_eval.h \
	kernels/search_eval_ref.c \
	kernels/search_eval_simd.h \
	kernels/search_lanes_simd.h \
	kernels/search_lanes_affine_simd.h \
	kernels/ref_search.c \
	kernels/ref_quant_legacy.c \
	kernels/ref_dot.c \
	kernels/ref_dot_k.c \
	kernels/iq4xs.h \
	kernels/ref_iq4xs.c \
	kernels/ref_quant_iq4xs.c \
	kernels/ref_tq2_0.c \
	kernels/ref_gemm_half.c \
	kernels/ref_int8.c \
	kernels/int8.c
