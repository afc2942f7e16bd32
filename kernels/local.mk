# The portable reference kernels, type traits and dispatch.
libmvq_core_la_SOURCES += kernels/kernel_impl.h
