# Type traits, CPU detection, dispatch and the portable reference kernels.
libmvq_core_la_SOURCES += \
	kernels/kernel_impl.h \
	kernels/cpu.h \
	kernels/cpu.c \
	kernels/types.c \
	kernels/dispatch.c \
	kernels/ref_table.c
